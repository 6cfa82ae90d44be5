/*
 * L2-L4 decoder. One function per layer; each checks its own header against
 * the bytes that remain and hands the next layer an offset and a length it
 * has already bounded, so no layer reads past what the one below proved.
 *
 * Lengths are carried in uint32_t even though the packet stores uint16_t:
 * sums like offset + length must not wrap before they are compared.
 */
#include "decode.h"

#include <stdbool.h>
#include <string.h>

#include "../checksum.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

#define ETH_HDR_LEN        14u
#define VLAN_TAG_LEN       4u
#define ARP_MIN_LEN        28u  /* Ethernet/IPv4 ARP */
#define IPV4_HDR_LEN       20u
#define IPV6_HDR_LEN       40u
#define IPV6_EXT_MIN_LEN   8u   /* every extension header is at least 8 bytes */
#define IPV6_FRAG_HDR_LEN  8u
#define TCP_HDR_LEN        20u
#define UDP_HDR_LEN        8u
#define ICMP_HDR_LEN       8u
#define IP_MAX_DATAGRAM    65535u

#define ETHERTYPE_IPV4     0x0800
#define ETHERTYPE_ARP      0x0806
#define ETHERTYPE_VLAN     0x8100
#define ETHERTYPE_QINQ     0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_IPV6     0x86dd

#define IPPROTO_HOPOPTS_   0
#define IPPROTO_ICMP_      1
#define IPPROTO_TCP_       6
#define IPPROTO_UDP_       17
#define IPPROTO_ROUTING_   43
#define IPPROTO_FRAGMENT_  44
#define IPPROTO_AH_        51
#define IPPROTO_ICMPV6_    58
#define IPPROTO_NONE_      59
#define IPPROTO_DSTOPTS_   60
#define IPPROTO_MOBILITY_  135

#define IPV4_MF            0x2000
#define IPV4_OFFSET_MASK   0x1fff
#define IPV6_FRAG_M        0x0001
#define IPV6_FRAG_OFF_MASK 0xfff8

#define ICMP_ECHO_REPLY    0
#define ICMP_ECHO_REQUEST  8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY  129
#define ICMPV6_MLD_QUERY   130
#define ICMPV6_ND_REDIRECT 137
#define ICMPV6_MLD2_REPORT 143

static inline uint16_t rd_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static inline uint32_t rd_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline bool is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
}

/* Whatever has no parsed L4 (non-first fragment, ESP, GRE, ...) is opaque payload. */
static inline void set_opaque_payload(struct ztg_packet *pkt, uint32_t off, uint32_t len)
{
	pkt->l4_offset = 0;
	pkt->payload_offset = (uint16_t)off;
	pkt->payload_len = (uint16_t)len;
}

static inline bool is_first_fragment(const struct ztg_packet *pkt)
{
	return (pkt->flags & ZTG_PACKET_F_FRAGMENT) && pkt->fragment_offset == 0;
}

static enum ztg_drop_reason decode_l2(const uint8_t *frame, uint32_t len, struct ztg_packet *pkt)
{
	uint32_t off = ETH_HDR_LEN;
	uint16_t type;

	if (unlikely(len < ETH_HDR_LEN))
		return ZTG_DROP_ETH_TRUNCATED;
	type = rd_be16(frame + 12);
	while (is_vlan_tpid(type)) {
		if (unlikely(pkt->vlan_count == ZTG_DECODE_MAX_VLANS))
			return ZTG_DROP_VLAN_TOO_MANY_TAGS;
		if (unlikely(len - off < VLAN_TAG_LEN))
			return ZTG_DROP_VLAN_TRUNCATED;
		pkt->vlan_ids[pkt->vlan_count++] = rd_be16(frame + off) & 0x0fff;
		type = rd_be16(frame + off + 2);
		off += VLAN_TAG_LEN;
	}
	if (pkt->vlan_count)
		pkt->flags |= ZTG_PACKET_F_VLAN;
	pkt->ethertype = type;
	pkt->l3_offset = (uint16_t)off;
	return ZTG_DROP_NONE;
}

/*
 * ARP's true length depends on its address sizes; a packet whose own sizes
 * run past the frame is as truncated as one shorter than the Ethernet/IPv4
 * form, so both count under the same reason.
 */
static enum ztg_drop_reason decode_arp(const uint8_t *frame, uint32_t len, struct ztg_packet *pkt)
{
	uint32_t avail = len - pkt->l3_offset;
	const uint8_t *arp = frame + pkt->l3_offset;
	uint32_t arp_len;

	if (unlikely(avail < ARP_MIN_LEN))
		return ZTG_DROP_ARP_TRUNCATED;
	arp_len = 8u + 2u * ((uint32_t)arp[4] + arp[5]);
	if (unlikely(arp_len > avail))
		return ZTG_DROP_ARP_TRUNCATED;
	pkt->kind = ZTG_PACKET_NON_IP;
	pkt->l3_len = (uint16_t)arp_len;
	pkt->payload_offset = pkt->l3_offset;
	return ZTG_DROP_NONE;
}

/* Unknown EtherTypes carry no length of their own: the rest of the frame is L3. */
static enum ztg_drop_reason decode_other_l2(uint32_t len, struct ztg_packet *pkt)
{
	pkt->kind = ZTG_PACKET_NON_IP;
	pkt->l3_len = (uint16_t)(len - pkt->l3_offset);
	pkt->payload_offset = pkt->l3_offset;
	return ZTG_DROP_NONE;
}

static inline bool tcp_flags_valid(uint8_t f)
{
	if (unlikely(!(f & (ZTG_TCP_SYN | ZTG_TCP_ACK | ZTG_TCP_RST | ZTG_TCP_FIN))))
		return false;
	if (unlikely((f & ZTG_TCP_SYN) && (f & (ZTG_TCP_FIN | ZTG_TCP_RST))))
		return false;
	if (unlikely(!(f & ZTG_TCP_ACK) && (f & (ZTG_TCP_FIN | ZTG_TCP_PSH | ZTG_TCP_URG))))
		return false;
	return true;
}

static enum ztg_drop_reason decode_tcp(const uint8_t *frame, uint32_t off, uint32_t seg_len,
				       struct ztg_packet *pkt)
{
	const uint8_t *th = frame + off;
	uint32_t doff;

	if (unlikely(seg_len < TCP_HDR_LEN))
		return ZTG_DROP_TCP_TRUNCATED;
	doff = (uint32_t)(th[12] >> 4) * 4u;
	if (unlikely(doff < TCP_HDR_LEN))
		return ZTG_DROP_TCP_BAD_DATA_OFFSET;
	/* Options split across fragments hide the real header (RFC 1858): a fragment problem. */
	if (unlikely(doff > seg_len))
		return is_first_fragment(pkt) ? ZTG_DROP_IP_BAD_FRAGMENT : ZTG_DROP_TCP_BAD_DATA_OFFSET;
	if (unlikely(!tcp_flags_valid(th[13])))
		return ZTG_DROP_TCP_BAD_FLAGS;
	pkt->src_port = rd_be16(th);
	pkt->dst_port = rd_be16(th + 2);
	if (unlikely(pkt->src_port == 0 || pkt->dst_port == 0))
		return ZTG_DROP_TCP_BAD_PORT;
	pkt->tcp_seq = rd_be32(th + 4);
	pkt->tcp_ack = rd_be32(th + 8);
	pkt->tcp_flags = th[13];
	pkt->tcp_window = rd_be16(th + 14);
	pkt->l4_offset = (uint16_t)off;
	pkt->payload_offset = (uint16_t)(off + doff);
	pkt->payload_len = (uint16_t)(seg_len - doff);
	return ZTG_DROP_NONE;
}

static enum ztg_drop_reason decode_udp(const uint8_t *frame, uint32_t off, uint32_t seg_len,
				       struct ztg_packet *pkt)
{
	const uint8_t *uh = frame + off;
	uint32_t ulen;

	if (unlikely(seg_len < UDP_HDR_LEN))
		return ZTG_DROP_UDP_TRUNCATED;
	ulen = rd_be16(uh + 4);
	if (unlikely(ulen < UDP_HDR_LEN))
		return ZTG_DROP_UDP_BAD_LENGTH;
	/* A first fragment holds only part of the datagram its length describes. */
	if (unlikely(ulen > seg_len && !is_first_fragment(pkt)))
		return ZTG_DROP_UDP_BAD_LENGTH;
	pkt->src_port = rd_be16(uh);
	pkt->dst_port = rd_be16(uh + 2);
	/*
	 * RFC 768 makes the source port optional (zero when the sender expects
	 * no reply), so one-way senders legitimately use it. Port 0 is reserved
	 * as a destination: nothing listens there, and it shows up only in scans
	 * and fingerprinting.
	 */
	if (unlikely(pkt->dst_port == 0))
		return ZTG_DROP_UDP_BAD_PORT;
	pkt->l4_offset = (uint16_t)off;
	pkt->payload_offset = (uint16_t)(off + UDP_HDR_LEN);
	/* Bytes past the UDP length inside the IP payload are not UDP data. */
	pkt->payload_len = (uint16_t)((ulen < seg_len ? ulen : seg_len) - UDP_HDR_LEN);
	return ZTG_DROP_NONE;
}

/* Shared tail of ICMP and ICMPv6: both have an 8-byte header, echo id at byte 4. */
static void fill_icmp(const uint8_t *ih, uint32_t off, uint32_t seg_len, bool echo,
		      struct ztg_packet *pkt)
{
	pkt->icmp_type = ih[0];
	pkt->icmp_code = ih[1];
	/* The echo identifier is what tells concurrent pings apart, as ports do. */
	if (echo)
		pkt->src_port = pkt->dst_port = rd_be16(ih + 4);
	pkt->l4_offset = (uint16_t)off;
	pkt->payload_offset = (uint16_t)(off + ICMP_HDR_LEN);
	pkt->payload_len = (uint16_t)(seg_len - ICMP_HDR_LEN);
}

static enum ztg_drop_reason decode_icmp(const uint8_t *frame, uint32_t off, uint32_t seg_len,
					struct ztg_packet *pkt)
{
	const uint8_t *ih = frame + off;

	if (unlikely(seg_len < ICMP_HDR_LEN))
		return ZTG_DROP_ICMP_TRUNCATED;
	fill_icmp(ih, off, seg_len, ih[0] == ICMP_ECHO_REQUEST || ih[0] == ICMP_ECHO_REPLY, pkt);
	return ZTG_DROP_NONE;
}

static enum ztg_drop_reason decode_icmpv6(const uint8_t *frame, uint32_t off, uint32_t seg_len,
					  struct ztg_packet *pkt)
{
	const uint8_t *ih = frame + off;
	uint8_t type;

	if (unlikely(seg_len < ICMP_HDR_LEN))
		return ZTG_DROP_ICMPV6_TRUNCATED;
	type = ih[0];
	fill_icmp(ih, off, seg_len, type == ICMPV6_ECHO_REQUEST || type == ICMPV6_ECHO_REPLY, pkt);
	/* ND is IPv6's ARP and MLD its IGMP: link control, not flows to track. */
	if ((type >= ICMPV6_MLD_QUERY && type <= ICMPV6_ND_REDIRECT) || type == ICMPV6_MLD2_REPORT)
		pkt->kind = ZTG_PACKET_NON_IP;
	return ZTG_DROP_NONE;
}

static inline uint32_t l4_min_len(const struct ztg_packet *pkt)
{
	switch (pkt->l4_proto) {
	case IPPROTO_TCP_:
		return TCP_HDR_LEN;
	case IPPROTO_UDP_:
		return UDP_HDR_LEN;
	case IPPROTO_ICMP_:
		return pkt->ip_version == 4 ? ICMP_HDR_LEN : 0;
	case IPPROTO_ICMPV6_:
		return pkt->ip_version == 6 ? ICMP_HDR_LEN : 0;
	default:
		return 0;
	}
}

/*
 * Upper layer at frame[off..off+seg_len), seg_len bounded by the IP length.
 * Only the first fragment carries an L4 header; the rest is opaque until the
 * stream layer reassembles it.
 */
static enum ztg_drop_reason decode_upper(const uint8_t *frame, uint32_t off, uint32_t seg_len,
					 struct ztg_packet *pkt)
{
	if (unlikely(pkt->flags & ZTG_PACKET_F_FRAGMENT)) {
		if (pkt->fragment_offset != 0) {
			set_opaque_payload(pkt, off, seg_len);
			return ZTG_DROP_NONE;
		}
		/* A first piece too short for the L4 header hides the ports (RFC 1858). */
		if (unlikely(seg_len < l4_min_len(pkt)))
			return ZTG_DROP_IP_BAD_FRAGMENT;
	}
	switch (pkt->l4_proto) {
	case IPPROTO_TCP_:
		return decode_tcp(frame, off, seg_len, pkt);
	case IPPROTO_UDP_:
		return decode_udp(frame, off, seg_len, pkt);
	case IPPROTO_ICMP_:
		if (pkt->ip_version == 4)
			return decode_icmp(frame, off, seg_len, pkt);
		break;
	case IPPROTO_ICMPV6_:
		if (pkt->ip_version == 6)
			return decode_icmpv6(frame, off, seg_len, pkt);
		break;
	default:
		break;
	}
	set_opaque_payload(pkt, off, seg_len);
	return ZTG_DROP_NONE;
}

/*
 * Record a real fragment. data_len is what follows the fragment header (the
 * IPv4 header or the IPv6 fragment header) in this piece.
 */
static enum ztg_drop_reason note_fragment(struct ztg_packet *pkt, uint32_t offset, bool more,
					  uint32_t id, uint32_t data_len)
{
	pkt->flags |= ZTG_PACKET_F_FRAGMENT | (more ? ZTG_PACKET_F_MORE_FRAGMENTS : 0);
	pkt->fragment_id = id;
	pkt->fragment_offset = (uint16_t)offset;
	/* An empty piece moves no data and only occupies a reassembly slot. */
	if (unlikely(data_len == 0))
		return ZTG_DROP_IP_BAD_FRAGMENT;
	/* Reassembly past 64 KiB is the ping of death. */
	if (unlikely(offset + data_len > IP_MAX_DATAGRAM))
		return ZTG_DROP_IP_BAD_FRAGMENT;
	/*
	 * Offsets count 8-byte units, so a piece with more to follow that is not
	 * a multiple of 8 leaves a gap or overlap (RFC 791, RFC 8200 4.5).
	 */
	if (unlikely(more && (data_len & 7u)))
		return ZTG_DROP_IP_BAD_FRAGMENT;
	return ZTG_DROP_NONE;
}

static inline bool ipv4_checksum_ok(const uint8_t *ip, uint32_t ihl)
{
	return ztg_checksum_fold(ztg_checksum_add(0, ip, ihl)) == 0xffff;
}

static enum ztg_drop_reason ipv4_options_check(const uint8_t *opt, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		uint32_t olen;

		if (opt[i] == 0)        /* End of Option List: the rest is padding */
			break;
		if (opt[i] == 1) {      /* No Operation */
			i++;
			continue;
		}
		if (unlikely(n - i < 2))
			return ZTG_DROP_IPV4_BAD_OPTIONS;
		olen = opt[i + 1];
		if (unlikely(olen < 2 || olen > n - i))
			return ZTG_DROP_IPV4_BAD_OPTIONS;
		i += olen;
	}
	return ZTG_DROP_NONE;
}

/* 0.0.0.0 -> 255.255.255.255 stays legal: it is how DHCP discovers. */
static inline bool ipv4_addresses_ok(const uint8_t *src, const uint8_t *dst)
{
	if (unlikely((src[0] & 0xf0) == 0xe0))
		return false;
	if (unlikely(src[0] == 0xff && src[1] == 0xff && src[2] == 0xff && src[3] == 0xff))
		return false;
	if (unlikely(src[0] == 127 || dst[0] == 127))
		return false;
	return true;
}

/*
 * Sources no host may use (multicast, loopback, IPv4-mapped) and loopback as
 * a destination: never legitimate on a wire, and mapped addresses are a
 * known way to make a filter and a dual-stack server disagree on who talks.
 * The unspecified source (::) stays legal: duplicate address detection uses it.
 */
static inline bool ipv6_addresses_ok(const uint8_t *src, const uint8_t *dst)
{
	static const uint8_t loopback[16] = {[15] = 1};
	static const uint8_t mapped_prefix[12] = {[10] = 0xff, [11] = 0xff};

	if (unlikely(src[0] == 0xff))
		return false;
	if (unlikely(memcmp(src, loopback, 16) == 0 || memcmp(dst, loopback, 16) == 0))
		return false;
	if (unlikely(memcmp(src, mapped_prefix, 12) == 0))
		return false;
	return true;
}

static enum ztg_drop_reason decode_ipv4(const uint8_t *frame, uint32_t len,
					unsigned int decode_flags, struct ztg_packet *pkt)
{
	uint32_t l3 = pkt->l3_offset;
	uint32_t avail = len - l3;
	const uint8_t *ip = frame + l3;
	uint32_t ihl, total, frag_field, frag_off;
	enum ztg_drop_reason r;

	if (unlikely(avail < IPV4_HDR_LEN))
		return ZTG_DROP_IPV4_TRUNCATED;
	if (unlikely((ip[0] >> 4) != 4))
		return ZTG_DROP_IPV4_BAD_VERSION;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4u;
	if (unlikely(ihl < IPV4_HDR_LEN))
		return ZTG_DROP_IPV4_BAD_IHL;
	if (unlikely(ihl > avail))
		return ZTG_DROP_IPV4_TRUNCATED;
	total = rd_be16(ip + 2);
	if (unlikely(total < ihl || total > avail))
		return ZTG_DROP_IPV4_BAD_TOTAL_LENGTH;
	if (!(decode_flags & ZTG_DECODE_IPV4_CKSUM_VERIFIED) && unlikely(!ipv4_checksum_ok(ip, ihl)))
		return ZTG_DROP_IPV4_BAD_CHECKSUM;
	if (unlikely(ihl > IPV4_HDR_LEN)) {
		r = ipv4_options_check(ip + IPV4_HDR_LEN, ihl - IPV4_HDR_LEN);
		if (unlikely(r != ZTG_DROP_NONE))
			return r;
		pkt->flags |= ZTG_PACKET_F_IPV4_OPTIONS;
	}
	if (unlikely(!ipv4_addresses_ok(ip + 12, ip + 16)))
		return ZTG_DROP_IPV4_BAD_ADDRESS;

	pkt->ip_version = 4;
	pkt->ttl = ip[8];
	pkt->l4_proto = ip[9];
	pkt->l3_len = (uint16_t)total;
	memcpy(pkt->src_addr, ip + 12, 4);
	memcpy(pkt->dst_addr, ip + 16, 4);

	frag_field = rd_be16(ip + 6);
	frag_off = (frag_field & IPV4_OFFSET_MASK) * 8u;
	if (unlikely(frag_field & (IPV4_MF | IPV4_OFFSET_MASK))) {
		r = note_fragment(pkt, frag_off, frag_field & IPV4_MF, rd_be16(ip + 4), total - ihl);
		if (unlikely(r != ZTG_DROP_NONE))
			return r;
	}
	return decode_upper(frame, l3 + ihl, total - ihl, pkt);
}

static inline uint32_t ipv6_ext_len(uint8_t nh, const uint8_t *h)
{
	if (nh == IPPROTO_FRAGMENT_)
		return IPV6_FRAG_HDR_LEN;
	if (nh == IPPROTO_AH_)
		return ((uint32_t)h[1] + 2u) * 4u;
	return ((uint32_t)h[1] + 1u) * 8u;
}

/*
 * Fragment header at h, data_len bytes after it. Sets *stop when the bytes
 * that follow are the middle of a datagram rather than more headers.
 */
static enum ztg_drop_reason ipv6_fragment(const uint8_t *h, uint32_t data_len,
					  struct ztg_packet *pkt, bool *stop)
{
	uint16_t field = rd_be16(h + 2);
	uint32_t offset = field & IPV6_FRAG_OFF_MASK;
	bool more = field & IPV6_FRAG_M;

	/* Atomic fragments (RFC 6946) are whole datagrams. */
	if (offset == 0 && !more)
		return ZTG_DROP_NONE;
	*stop = offset != 0;
	return note_fragment(pkt, offset, more, rd_be32(h + 4), data_len);
}

/*
 * Walk extension headers in ip[*pos_io..end). On success *nh_io is the
 * upper-layer protocol (or ESP, No Next Header, anything unparsed) and
 * *pos_io where it starts.
 */
static enum ztg_drop_reason ipv6_walk_ext(const uint8_t *ip, uint32_t end, uint8_t *nh_io,
					  uint32_t *pos_io, struct ztg_packet *pkt)
{
	uint32_t pos = *pos_io;
	uint8_t nh = *nh_io;
	bool seen_frag = false, stop = false;
	unsigned int count;

	for (count = 0; !stop; count++) {
		const uint8_t *h = ip + pos;
		uint32_t hlen;

		switch (nh) {
		case IPPROTO_HOPOPTS_:
			if (unlikely(count != 0))
				return ZTG_DROP_IPV6_BAD_EXT_HEADER;
			break;
		case IPPROTO_ROUTING_:
		case IPPROTO_FRAGMENT_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_:
		case IPPROTO_MOBILITY_:
			break;
		default:
			goto done;
		}
		if (unlikely(count == ZTG_DECODE_MAX_IPV6_EXT_HEADERS))
			return ZTG_DROP_IPV6_TOO_MANY_EXT_HEADERS;
		if (unlikely(end - pos < IPV6_EXT_MIN_LEN))
			return ZTG_DROP_IPV6_BAD_EXT_HEADER;
		hlen = ipv6_ext_len(nh, h);
		if (unlikely(hlen > end - pos))
			return ZTG_DROP_IPV6_BAD_EXT_HEADER;
		/* RH0 turns any host on the path into a traffic amplifier (RFC 5095). */
		if (unlikely(nh == IPPROTO_ROUTING_ && h[2] == 0))
			return ZTG_DROP_IPV6_BAD_EXT_HEADER;
		if (nh == IPPROTO_FRAGMENT_) {
			enum ztg_drop_reason r;

			/* Two fragment headers would give one piece two positions. */
			if (unlikely(seen_frag))
				return ZTG_DROP_IPV6_BAD_EXT_HEADER;
			seen_frag = true;
			r = ipv6_fragment(h, end - pos - hlen, pkt, &stop);
			if (unlikely(r != ZTG_DROP_NONE))
				return r;
		}
		pkt->flags |= ZTG_PACKET_F_IPV6_EXT;
		nh = h[0];
		pos += hlen;
	}
done:
	*nh_io = nh;
	*pos_io = pos;
	return ZTG_DROP_NONE;
}

static enum ztg_drop_reason decode_ipv6(const uint8_t *frame, uint32_t len, struct ztg_packet *pkt)
{
	uint32_t l3 = pkt->l3_offset;
	uint32_t avail = len - l3;
	const uint8_t *ip = frame + l3;
	uint32_t plen, end, pos = IPV6_HDR_LEN;
	uint8_t nh;
	enum ztg_drop_reason r;

	if (unlikely(avail < IPV6_HDR_LEN))
		return ZTG_DROP_IPV6_TRUNCATED;
	if (unlikely((ip[0] >> 4) != 6))
		return ZTG_DROP_IPV6_BAD_VERSION;
	plen = rd_be16(ip + 4);
	nh = ip[6];
	/*
	 * Zero announces a jumbogram, which we refuse. It is only harmless with
	 * No Next Header, whose empty payload may be followed by link padding.
	 */
	if (unlikely(plen > avail - IPV6_HDR_LEN || (plen == 0 && nh != IPPROTO_NONE_)))
		return ZTG_DROP_IPV6_BAD_PAYLOAD_LENGTH;

	if (unlikely(!ipv6_addresses_ok(ip + 8, ip + 24)))
		return ZTG_DROP_IPV6_BAD_ADDRESS;

	pkt->ip_version = 6;
	pkt->ttl = ip[7];
	pkt->l3_len = (uint16_t)(IPV6_HDR_LEN + plen);
	memcpy(pkt->src_addr, ip + 8, 16);
	memcpy(pkt->dst_addr, ip + 24, 16);

	end = IPV6_HDR_LEN + plen;
	r = ipv6_walk_ext(ip, end, &nh, &pos, pkt);
	if (unlikely(r != ZTG_DROP_NONE))
		return r;
	pkt->l4_proto = nh;
	return decode_upper(frame, l3 + pos, end - pos, pkt);
}

enum ztg_drop_reason ztg_decode_packet(const uint8_t *frame, uint32_t frame_len,
				       unsigned int decode_flags, struct ztg_packet *pkt)
{
	/*
	 * Offsets are 16-bit and no link we serve carries frames near 64 KiB, so
	 * bytes past that are never looked at; IP lengths that point beyond them
	 * fail the ordinary length checks.
	 */
	uint32_t len = frame_len > UINT16_MAX ? UINT16_MAX : frame_len;
	enum ztg_drop_reason r;

	memset(pkt, 0, sizeof(*pkt));
	pkt->frame_len = (uint16_t)len;
	r = decode_l2(frame, len, pkt);
	if (unlikely(r != ZTG_DROP_NONE))
		return r;
	switch (pkt->ethertype) {
	case ETHERTYPE_IPV4:
		return decode_ipv4(frame, len, decode_flags, pkt);
	case ETHERTYPE_IPV6:
		return decode_ipv6(frame, len, pkt);
	case ETHERTYPE_ARP:
		return decode_arp(frame, len, pkt);
	default:
		return decode_other_l2(len, pkt);
	}
}
