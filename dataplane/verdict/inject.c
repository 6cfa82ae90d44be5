/*
 * Verdict packets. One builder writes L2, L3 and TCP in order into the
 * caller's buffer; the actions only choose flags, numbers and payload.
 * Checksums come from the one implementation in checksum.h.
 */
#include "inject.h"

#include <stddef.h>
#include <string.h>

#include "../checksum.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

#define ETH_ADDRS_LEN  12u   /* destination + source MAC */
#define ETH_HDR_LEN    14u
#define VLAN_TAG_LEN   4u
#define IPV4_HDR_LEN   20u
#define IPV6_HDR_LEN   40u
#define TCP_HDR_LEN    20u
#define IPPROTO_TCP_   6
#define IPV4_DF        0x4000

static inline void wr_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr_be32(uint8_t *p, uint32_t v)
{
	wr_be16(p, (uint16_t)(v >> 16));
	wr_be16(p + 2, (uint16_t)v);
}

/* The checksum field's value for a sum that covers every other byte. */
static inline uint16_t csum_field(uint64_t sum)
{
	return (uint16_t)~ztg_checksum_fold(sum);
}

/* P must be what the decoder accepted as TCP; anything else is refused, not guessed at. */
static bool packet_usable(const struct ztg_packet *pkt)
{
	if (pkt->ip_version != 4 && pkt->ip_version != 6)
		return false;
	if (pkt->l4_proto != IPPROTO_TCP_ || pkt->l4_offset == 0)
		return false;
	if (pkt->vlan_count > ZTG_DECODE_MAX_VLANS)
		return false;
	if (pkt->l3_offset != ETH_HDR_LEN + VLAN_TAG_LEN * pkt->vlan_count)
		return false;
	return pkt->frame_len >= pkt->l3_offset;
}

/*
 * Ethernet header and VLAN tags of P, MACs swapped toward the sender. The
 * header is copied to a local first so out may alias frame.
 */
static void write_l2(const uint8_t *frame, uint32_t l2_len, enum ztg_inject_toward toward,
		     uint8_t *out)
{
	uint8_t hdr[ETH_HDR_LEN + VLAN_TAG_LEN * ZTG_DECODE_MAX_VLANS];

	memcpy(hdr, frame, l2_len);
	if (toward == ZTG_INJECT_TO_SENDER) {
		memcpy(out, hdr + 6, 6);
		memcpy(out + 6, hdr, 6);
	} else {
		memcpy(out, hdr, ETH_ADDRS_LEN);
	}
	/* Tags (TPID, PCP/DEI/VID) and the innermost EtherType, as P had them. */
	memcpy(out + ETH_ADDRS_LEN, hdr + ETH_ADDRS_LEN, l2_len - ETH_ADDRS_LEN);
}

/* IPv4 header with its checksum; returns the pseudo-header sum for TCP. */
static uint64_t write_ipv4(uint8_t *ip, const uint8_t *src, const uint8_t *dst, uint32_t tcp_len)
{
	ip[0] = 0x45;
	ip[1] = 0;
	wr_be16(ip + 2, (uint16_t)(IPV4_HDR_LEN + tcp_len));
	/* ID 0 is what RFC 6864 allows for atomic (DF, unfragmented) datagrams. */
	wr_be16(ip + 4, 0);
	wr_be16(ip + 6, IPV4_DF);
	ip[8] = ZTG_INJECT_TTL;
	ip[9] = IPPROTO_TCP_;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	ztg_checksum_set_ipv4_header(ip, IPV4_HDR_LEN);
	return ztg_checksum_add(0, ip + 12, 8) + IPPROTO_TCP_ + tcp_len;
}

/* IPv6 header; returns the pseudo-header sum for TCP (RFC 8200 8.1). */
static uint64_t write_ipv6(uint8_t *ip, const uint8_t *src, const uint8_t *dst, uint32_t tcp_len)
{
	wr_be32(ip, 0x60000000u);    /* version 6, traffic class 0, flow label 0 */
	wr_be16(ip + 4, (uint16_t)tcp_len);
	ip[6] = IPPROTO_TCP_;
	ip[7] = ZTG_INJECT_TTL;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	return ztg_checksum_add(0, ip + 8, 32) + IPPROTO_TCP_ + tcp_len;
}

uint16_t ztg_inject_build_tcp(const uint8_t *frame, const struct ztg_packet *pkt,
			      enum ztg_inject_toward toward, uint8_t tcp_flags, uint32_t seq,
			      uint32_t ack, uint16_t window, const uint8_t *payload,
			      uint16_t payload_len, uint8_t *out, uint16_t out_cap)
{
	bool back = toward == ZTG_INJECT_TO_SENDER;
	const uint8_t *src, *dst;
	uint32_t l2_len, ip_len, tcp_len, total;
	uint64_t sum;
	uint16_t sport, dport;
	uint8_t *ip, *th;

	if (unlikely(frame == NULL || pkt == NULL || out == NULL || !packet_usable(pkt)))
		return 0;
	if (unlikely(toward != ZTG_INJECT_TO_SENDER && toward != ZTG_INJECT_TO_RECEIVER))
		return 0;
	if (unlikely(payload == NULL && payload_len != 0))
		return 0;
	l2_len = pkt->l3_offset;
	ip_len = pkt->ip_version == 4 ? IPV4_HDR_LEN : IPV6_HDR_LEN;
	tcp_len = TCP_HDR_LEN + payload_len;
	total = l2_len + ip_len + tcp_len;
	if (unlikely(total > out_cap || total > UINT16_MAX))
		return 0;

	src = back ? pkt->dst_addr : pkt->src_addr;
	dst = back ? pkt->src_addr : pkt->dst_addr;
	sport = back ? pkt->dst_port : pkt->src_port;
	dport = back ? pkt->src_port : pkt->dst_port;

	write_l2(frame, l2_len, toward, out);
	ip = out + l2_len;
	th = ip + ip_len;
	/* memmove: the payload may sit in frame, which out may be. */
	if (payload_len)
		memmove(th + TCP_HDR_LEN, payload, payload_len);
	sum = pkt->ip_version == 4 ? write_ipv4(ip, src, dst, tcp_len) :
				     write_ipv6(ip, src, dst, tcp_len);

	wr_be16(th, sport);
	wr_be16(th + 2, dport);
	wr_be32(th + 4, seq);
	wr_be32(th + 8, ack);
	th[12] = (TCP_HDR_LEN / 4) << 4;
	th[13] = tcp_flags;
	wr_be16(th + 14, window);
	wr_be16(th + 16, 0);
	wr_be16(th + 18, 0);         /* urgent pointer */
	wr_be16(th + 16, csum_field(ztg_checksum_add(sum, th, tcp_len)));
	return (uint16_t)total;
}

void ztg_inject_seq_from_packet(const struct ztg_packet *pkt, struct ztg_inject_seq *seq)
{
	uint32_t len = pkt->payload_len;

	if (pkt->tcp_flags & ZTG_TCP_SYN)
		len++;
	if (pkt->tcp_flags & ZTG_TCP_FIN)
		len++;
	seq->sender_next = pkt->tcp_seq;
	seq->sender_end = pkt->tcp_seq + len;
	seq->receiver_known = (pkt->tcp_flags & ZTG_TCP_ACK) != 0;
	seq->receiver_next = seq->receiver_known ? pkt->tcp_ack : 0;
}

uint16_t ztg_inject_reset(const uint8_t *frame, const struct ztg_packet *pkt,
			  const struct ztg_inject_seq *seq, enum ztg_inject_toward toward,
			  uint8_t *out, uint16_t out_cap)
{
	if (unlikely(seq == NULL))
		return 0;
	if (toward == ZTG_INJECT_TO_SENDER)
		return ztg_inject_build_tcp(frame, pkt, toward, ZTG_TCP_RST | ZTG_TCP_ACK,
					    seq->receiver_known ? seq->receiver_next : 0,
					    seq->sender_end, 0, NULL, 0, out, out_cap);
	if (seq->receiver_known)
		return ztg_inject_build_tcp(frame, pkt, toward, ZTG_TCP_RST | ZTG_TCP_ACK,
					    seq->sender_next, seq->receiver_next, 0, NULL, 0,
					    out, out_cap);
	return ztg_inject_build_tcp(frame, pkt, toward, ZTG_TCP_RST, seq->sender_next, 0, 0,
				    NULL, 0, out, out_cap);
}

/* ------------------------------------------------------------ denial body */

struct out_buf {
	char *p;
	uint32_t len;
	uint32_t cap;
	bool overflow;
};

static void out_put(struct out_buf *o, const char *s, uint32_t n)
{
	if (unlikely(o->overflow || n > o->cap - o->len)) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct out_buf *o, const char *s)
{
	out_put(o, s, (uint32_t)strlen(s));
}

/*
 * JSON string contents for s, at most ZTG_INJECT_FIELD_MAX bytes, cut only
 * between escapes. Returns the escaped length; esc must hold the maximum.
 */
static uint32_t json_escape(const char *s, char esc[ZTG_INJECT_FIELD_MAX])
{
	static const char hex[] = "0123456789abcdef";
	uint32_t n = 0;

	if (s == NULL)
		return 0;
	for (; *s; s++) {
		uint8_t c = (uint8_t)*s;
		char e[6];
		uint32_t elen;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			elen = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			/* Bytes, not characters: non-ASCII input stays ASCII and valid. */
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 0x0f];
			elen = 6;
		} else {
			e[0] = (char)c;
			elen = 1;
		}
		if (elen > ZTG_INJECT_FIELD_MAX - n)
			break;
		memcpy(esc + n, e, elen);
		n += elen;
	}
	return n;
}

/*
 * Three answers: 403 when the request may not do what it asks, 401 (RFC 9110
 * 15.5.2, RFC 6750 3) when it did not prove who sends it, so a client
 * fetches a fresh token instead of giving up, and 429 (RFC 6585 4) when it
 * came too often, with Retry-After (RFC 9110 10.2.3) so a client backs off
 * for as long as the limit needs instead of retrying at once.
 */
#define HEAD_403      "HTTP/1.1 403 Forbidden\r\n"
#define HEAD_401      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"ztgate\", error=\"invalid_token\"\r\n"
#define HEAD_429      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: "
#define HEAD_COMMON   "Content-Type: application/json\r\nContent-Length: "
#define CRLF          "\r\n"
#define BODY_403      "{\"error\":\"forbidden\",\"reason\":\""
#define BODY_401      "{\"error\":\"unauthorized\",\"reason\":\""
#define BODY_429      "{\"error\":\"too_many_requests\",\"reason\":\""
#define BODY_MIDDLE   "\",\"request_id\":\""
#define BODY_SUFFIX   "\"}"
#define HEAD_SUFFIX   "\r\nConnection: close\r\n\r\n"
#define SLEN(s)       (sizeof(s) - 1)
#define MAX_(a, b)    ((a) > (b) ? (a) : (b))
#define U32_DIGITS    10u     /* 4294967295 */
/* The longest status line and extra header, and the longest body start, of the three. */
#define HEAD_MAX      MAX_(MAX_(SLEN(HEAD_403), SLEN(HEAD_401)), SLEN(HEAD_429) + U32_DIGITS + SLEN(CRLF))
#define BODY_PREFIX_MAX MAX_(MAX_(SLEN(BODY_403), SLEN(BODY_401)), SLEN(BODY_429))
#define BODY_MAX      (BODY_PREFIX_MAX + SLEN(BODY_MIDDLE) + SLEN(BODY_SUFFIX) + 2 * ZTG_INJECT_FIELD_MAX)

/* Content-Length has three digits at most; the bound in the header must hold. */
_Static_assert(BODY_MAX < 1000, "denial body length must fit three digits");
_Static_assert(HEAD_MAX + SLEN(HEAD_COMMON) + 3 + SLEN(HEAD_SUFFIX) + BODY_MAX <= ZTG_INJECT_DENIAL_MAX,
	       "ZTG_INJECT_DENIAL_MAX too small for the largest denial");
_Static_assert(ZTG_INJECT_DENIAL_MAX < 536, "a denial must fit the minimum MSS");

/* v in decimal, no leading zeros. */
static void out_u32(struct out_buf *o, uint32_t v)
{
	char d[U32_DIGITS];
	uint32_t n = U32_DIGITS;

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_put(o, d + n, U32_DIGITS - n);
}

uint16_t ztg_inject_format_denial(enum ztg_inject_denial denial, const char *reason, const char *request_id,
				  uint32_t retry_after, char *out, uint16_t out_cap)
{
	char reason_esc[ZTG_INJECT_FIELD_MAX], id_esc[ZTG_INJECT_FIELD_MAX];
	const char *body_prefix;
	uint32_t reason_len, id_len, body_len;
	struct out_buf o = { .p = out, .cap = out_cap };

	if (unlikely(out == NULL))
		return 0;
	switch (denial) {
	case ZTG_INJECT_UNAUTHORIZED:
		out_str(&o, HEAD_401);
		body_prefix = BODY_401;
		break;
	case ZTG_INJECT_TOO_MANY_REQUESTS:
		out_str(&o, HEAD_429);
		/* delay-seconds; 0 would invite the immediate retry the limit just refused. */
		out_u32(&o, retry_after > 0 ? retry_after : 1);
		out_str(&o, CRLF);
		body_prefix = BODY_429;
		break;
	default:
		out_str(&o, HEAD_403);
		body_prefix = BODY_403;
		break;
	}
	reason_len = json_escape(reason, reason_esc);
	id_len = json_escape(request_id, id_esc);
	body_len = (uint32_t)(strlen(body_prefix) + SLEN(BODY_MIDDLE) + SLEN(BODY_SUFFIX)) + reason_len + id_len;

	out_str(&o, HEAD_COMMON);
	out_u32(&o, body_len);
	out_str(&o, HEAD_SUFFIX);
	out_str(&o, body_prefix);
	out_put(&o, reason_esc, reason_len);
	out_str(&o, BODY_MIDDLE);
	out_put(&o, id_esc, id_len);
	out_str(&o, BODY_SUFFIX);
	return o.overflow ? 0 : (uint16_t)o.len;
}

uint16_t ztg_inject_deny(const uint8_t *frame, const struct ztg_packet *pkt,
			 const struct ztg_inject_seq *seq, enum ztg_inject_denial denial, const char *reason,
			 const char *request_id, uint32_t retry_after, uint8_t *out, uint16_t out_cap)
{
	char response[ZTG_INJECT_DENIAL_MAX];
	uint16_t len;

	if (unlikely(seq == NULL || !seq->receiver_known))
		return 0;
	len = ztg_inject_format_denial(denial, reason, request_id, retry_after, response, sizeof(response));
	if (unlikely(len == 0))
		return 0;
	return ztg_inject_build_tcp(frame, pkt, ZTG_INJECT_TO_SENDER,
				    ZTG_TCP_PSH | ZTG_TCP_ACK | ZTG_TCP_FIN, seq->receiver_next,
				    seq->sender_end, ZTG_INJECT_DENY_WINDOW,
				    (const uint8_t *)response, len, out, out_cap);
}
