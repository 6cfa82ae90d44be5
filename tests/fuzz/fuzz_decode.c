/*
 * Fuzz target for the L2-L4 decoder (and, on the TCP packets it accepts, the
 * verdict packets built from them).
 *
 * The input is one Ethernet frame. Each input is decoded twice, trusting and
 * not trusting the IPv4 header checksum (random bytes almost never carry a
 * valid one, so the trusting pass is what reaches L4). Checked:
 *  - the two passes agree unless the checksum was the reason;
 *  - on success, every invariant decode.h promises: offsets ordered and
 *    inside the frame, lengths bounded by the IP length, IPv4 addresses
 *    zero-extended, the fields match the header bytes they came from;
 *  - on failure, the reason is a named one;
 *  - for TCP: the RSTs and the 403 that inject.c forges from the packet
 *    decode again, with valid checksums, and carry the right ports and
 *    numbers.
 * libFuzzer hands the input in a block of exactly `size` bytes, so ASan
 * reports any read past the frame.
 */
#include <stdbool.h>
#include <string.h>

#include "decode/decode.h"
#include "verdict/inject.h"

#include "fuzz_check.h"

#define ETH_HDR_LEN 14u

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

static void check_invariants(const uint8_t *frame, size_t size, const struct ztg_packet *pkt)
{
	uint32_t len = size > UINT16_MAX ? UINT16_MAX : (uint32_t)size;
	uint32_t l3 = pkt->l3_offset, l3_end = l3 + pkt->l3_len;
	uint32_t pay_end = (uint32_t)pkt->payload_offset + pkt->payload_len;
	static const uint8_t zero[12];

	FUZZ_CHECK(pkt->frame_len == len);
	FUZZ_CHECK(pkt->vlan_count <= ZTG_DECODE_MAX_VLANS);
	FUZZ_CHECK(l3 == ETH_HDR_LEN + 4u * pkt->vlan_count);
	FUZZ_CHECK(!!(pkt->flags & ZTG_PACKET_F_VLAN) == (pkt->vlan_count != 0));
	for (unsigned int i = 0; i < pkt->vlan_count; i++)
		FUZZ_CHECK(pkt->vlan_ids[i] == (be16(frame + ETH_HDR_LEN + 4 * i) & 0x0fff));
	FUZZ_CHECK(pkt->ethertype == be16(frame + l3 - 2));

	/* l3 <= l4 <= payload <= payload end <= l3 + l3_len <= frame_len */
	FUZZ_CHECK(l3 <= len);
	FUZZ_CHECK(l3_end <= len);
	FUZZ_CHECK(pkt->payload_offset >= l3);
	if (pkt->l4_offset != 0) {
		FUZZ_CHECK(pkt->l4_offset >= l3);
		FUZZ_CHECK(pkt->l4_offset <= pkt->payload_offset);
	}
	FUZZ_CHECK(pay_end <= l3_end);
	if (pkt->flags & ZTG_PACKET_F_MORE_FRAGMENTS)
		FUZZ_CHECK(pkt->flags & ZTG_PACKET_F_FRAGMENT);

	FUZZ_CHECK(pkt->kind == ZTG_PACKET_IP || pkt->kind == ZTG_PACKET_NON_IP);
	FUZZ_CHECK(pkt->ip_version == 0 || pkt->ip_version == 4 || pkt->ip_version == 6);
	if (pkt->ip_version == 0)
		FUZZ_CHECK(pkt->kind == ZTG_PACKET_NON_IP);
	if (pkt->ip_version == 4) {
		FUZZ_CHECK(pkt->ethertype == 0x0800 && frame[l3] >> 4 == 4);
		FUZZ_CHECK(memcmp(pkt->src_addr + 4, zero, 12) == 0);
		FUZZ_CHECK(memcmp(pkt->dst_addr + 4, zero, 12) == 0);
		FUZZ_CHECK(memcmp(pkt->src_addr, frame + l3 + 12, 4) == 0);
		FUZZ_CHECK(pkt->ttl == frame[l3 + 8]);
		FUZZ_CHECK(pkt->l3_len == be16(frame + l3 + 2));
	} else if (pkt->ip_version == 6) {
		FUZZ_CHECK(pkt->ethertype == 0x86dd && frame[l3] >> 4 == 6);
		FUZZ_CHECK(memcmp(pkt->src_addr, frame + l3 + 8, 16) == 0);
		FUZZ_CHECK(memcmp(pkt->dst_addr, frame + l3 + 24, 16) == 0);
		FUZZ_CHECK(pkt->l3_len == 40u + be16(frame + l3 + 4));
	}

	if (pkt->ip_version != 0 && pkt->l4_offset != 0) {
		const uint8_t *l4 = frame + pkt->l4_offset;
		uint32_t l4_hdr = (uint32_t)(pkt->payload_offset - pkt->l4_offset);

		if (pkt->l4_proto == 6) {
			FUZZ_CHECK(l4_hdr == (l4[12] >> 4) * 4u && l4_hdr >= 20);
			FUZZ_CHECK(pay_end == l3_end);
			FUZZ_CHECK(pkt->src_port == be16(l4) && pkt->dst_port == be16(l4 + 2));
			FUZZ_CHECK(pkt->src_port != 0 && pkt->dst_port != 0);
			FUZZ_CHECK(pkt->tcp_seq == be32(l4 + 4) && pkt->tcp_ack == be32(l4 + 8));
			FUZZ_CHECK(pkt->tcp_flags == l4[13]);
			FUZZ_CHECK(pkt->tcp_window == be16(l4 + 14));
		} else if (pkt->l4_proto == 17) {
			FUZZ_CHECK(l4_hdr == 8);
			FUZZ_CHECK(pkt->dst_port == be16(l4 + 2) && pkt->dst_port != 0);
		}
	}
}

/* A forged frame must decode, checksums verified, as the packet asked for. */
static void check_forged(const uint8_t *out, uint16_t len, const struct ztg_packet *p,
			 bool back, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct ztg_packet d;
	enum ztg_drop_reason r;

	FUZZ_CHECK(len != 0);
	r = ztg_decode_packet(out, len, 0, &d);
	/* Going back, P's destination becomes a source: a multicast one is a martian. */
	if (back && (r == ZTG_DROP_IPV4_BAD_ADDRESS || r == ZTG_DROP_IPV6_BAD_ADDRESS))
		return;
	FUZZ_CHECK(r == ZTG_DROP_NONE);
	FUZZ_CHECK(d.ip_version == p->ip_version && d.l4_proto == 6);
	FUZZ_CHECK(d.vlan_count == p->vlan_count && d.l3_offset == p->l3_offset);
	FUZZ_CHECK(d.src_port == (back ? p->dst_port : p->src_port));
	FUZZ_CHECK(d.dst_port == (back ? p->src_port : p->dst_port));
	FUZZ_CHECK(memcmp(d.src_addr, back ? p->dst_addr : p->src_addr, 16) == 0);
	FUZZ_CHECK(d.tcp_flags == flags && d.tcp_seq == seq && d.tcp_ack == ack);
	FUZZ_CHECK(d.frame_len == len);
}

static void check_inject(const uint8_t *frame, const struct ztg_packet *pkt)
{
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	struct ztg_inject_seq sq;
	uint16_t len;

	ztg_inject_seq_from_packet(pkt, &sq);
	len = ztg_inject_reset(frame, pkt, &sq, ZTG_INJECT_TO_SENDER, out, sizeof(out));
	check_forged(out, len, pkt, true, ZTG_TCP_RST | ZTG_TCP_ACK,
		     sq.receiver_known ? sq.receiver_next : 0, sq.sender_end);
	len = ztg_inject_reset(frame, pkt, &sq, ZTG_INJECT_TO_RECEIVER, out, sizeof(out));
	check_forged(out, len, pkt, false,
		     sq.receiver_known ? ZTG_TCP_RST | ZTG_TCP_ACK : ZTG_TCP_RST, sq.sender_next,
		     sq.receiver_known ? sq.receiver_next : 0);
	len = ztg_inject_deny(frame, pkt, &sq, ZTG_INJECT_FORBIDDEN, "fuzz", "0", 0, out, sizeof(out));
	if (sq.receiver_known)
		check_forged(out, len, pkt, true, ZTG_TCP_PSH | ZTG_TCP_ACK | ZTG_TCP_FIN,
			     sq.receiver_next, sq.sender_end);
	else
		FUZZ_CHECK(len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ztg_packet strict, trusting;
	enum ztg_drop_reason r_strict, r_trusting;

	r_strict = ztg_decode_packet(data, (uint32_t)size, 0, &strict);
	r_trusting = ztg_decode_packet(data, (uint32_t)size, ZTG_DECODE_IPV4_CKSUM_VERIFIED,
				       &trusting);
	FUZZ_CHECK((unsigned int)r_strict < ZTG_DROP_REASON_COUNT);
	FUZZ_CHECK((unsigned int)r_trusting < ZTG_DROP_REASON_COUNT);
	FUZZ_CHECK(r_trusting != ZTG_DROP_IPV4_BAD_CHECKSUM);
	if (r_strict != ZTG_DROP_IPV4_BAD_CHECKSUM) {
		FUZZ_CHECK(r_strict == r_trusting);
		if (r_strict == ZTG_DROP_NONE)
			FUZZ_CHECK(memcmp(&strict, &trusting, sizeof(strict)) == 0);
	}
	if (r_trusting != ZTG_DROP_NONE)
		return 0;

	check_invariants(data, size, &trusting);
	if (trusting.ip_version != 0 && trusting.l4_proto == 6 && trusting.l4_offset != 0)
		check_inject(data, &trusting);
	return 0;
}
