/*
 * Unit tests for verdict packets and the denial answers (403, 401, 429).
 *
 * Each case builds a TCP packet P (IPv4 or IPv6, untagged or QinQ), decodes
 * it, forges the reset or deny packets from it, and then checks every forged
 * frame three ways: ztg_decode_packet() must accept it (copied into a heap
 * block of exactly its length, so a sanitizer sees any over-read) with the
 * right addresses, ports, flags and numbers; the IPv4 header and TCP
 * checksums are recomputed here with a separate implementation; and the L2
 * header must be P's, MACs swapped when the packet goes back to P's sender.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "decode/decode.h"
#include "verdict/inject.h"

#define FRAME_MAX 2048

static const uint8_t MAC_CLIENT[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t MAC_SERVER[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

static const char REQUEST[] = "GET /admin HTTP/1.1\r\nHost: example.test\r\n\r\n";

struct tcp_spec {
	int ip_version;
	bool qinq;
	const char *src;
	const char *dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const char *payload;
};

struct pkt_frame {
	uint8_t b[FRAME_MAX];
	uint16_t len;
	struct ztg_packet pkt;
};

/* ------------------------------------------------------- independent sums */

/* Sum of 16-bit big-endian words, byte by byte, no folding tricks shared with inject.c. */
static uint64_t sum16(const uint8_t *p, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += (i % 2 == 0) ? (uint64_t)p[i] * 256u : p[i];
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s > 0xffff)
		s = (s >> 16) + (s & 0xffff);
	return (uint16_t)s;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* A valid header or segment sums (checksum included) to 0xffff. */
static void assert_checksums(const uint8_t *f, const struct ztg_packet *pkt)
{
	const uint8_t *ip = f + pkt->l3_offset;
	const uint8_t *tcp = f + pkt->l4_offset;
	size_t tcp_len = pkt->l3_offset + pkt->l3_len - pkt->l4_offset;
	uint64_t s;

	if (pkt->ip_version == 4) {
		assert_int_equal(fold(sum16(ip, 20)), 0xffff);
		s = sum16(ip + 12, 8) + 6 + tcp_len;
	} else {
		s = sum16(ip + 8, 32) + 6 + tcp_len;
	}
	s += sum16(tcp, tcp_len);
	assert_int_equal(fold(s), 0xffff);
}

/* ----------------------------------------------------------------- frames */

static void put(uint8_t *b, size_t *len, const void *p, size_t n)
{
	assert_true(*len + n <= FRAME_MAX);
	memcpy(b + *len, p, n);
	*len += n;
}

static void put16(uint8_t *b, size_t *len, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(b, len, x, 2);
}

static void put32(uint8_t *b, size_t *len, uint32_t v)
{
	put16(b, len, (uint16_t)(v >> 16));
	put16(b, len, (uint16_t)v);
}

/*
 * P as a client's stack would send it, IPv6 with a destination-options
 * header so the forged packet (which has none) differs in layout.
 */
static void build_p(const struct tcp_spec *s, struct pkt_frame *pf)
{
	uint8_t *b = pf->b;
	size_t len = 0, ip, tcp, end;
	size_t plen = s->payload ? strlen(s->payload) : 0;
	uint8_t a[16];

	memset(pf, 0, sizeof(*pf));
	put(b, &len, MAC_SERVER, 6);
	put(b, &len, MAC_CLIENT, 6);
	if (s->qinq) {
		put16(b, &len, 0x88a8);
		put16(b, &len, 0xa064);        /* PCP 5, VID 100 */
		put16(b, &len, 0x8100);
		put16(b, &len, 0x0ffe);        /* VID 4094 */
	}
	put16(b, &len, s->ip_version == 4 ? 0x0800 : 0x86dd);
	ip = len;
	if (s->ip_version == 4) {
		put32(b, &len, 0x45000000);    /* total length filled below */
		put32(b, &len, 0xbeef4000);
		put32(b, &len, 0x37060000);    /* TTL 55, TCP, checksum below */
		assert_int_equal(inet_pton(AF_INET, s->src, a), 1);
		put(b, &len, a, 4);
		assert_int_equal(inet_pton(AF_INET, s->dst, a), 1);
		put(b, &len, a, 4);
	} else {
		static const uint8_t dstopts[8] = { 6, 0, 1, 4, 0, 0, 0, 0 };

		put32(b, &len, 0x6012345a);
		put32(b, &len, 0x00003c37);    /* payload length below, dest options, hop 55 */
		assert_int_equal(inet_pton(AF_INET6, s->src, a), 1);
		put(b, &len, a, 16);
		assert_int_equal(inet_pton(AF_INET6, s->dst, a), 1);
		put(b, &len, a, 16);
		put(b, &len, dstopts, sizeof(dstopts));
	}
	tcp = len;
	put16(b, &len, s->sport);
	put16(b, &len, s->dport);
	put32(b, &len, s->seq);
	put32(b, &len, s->ack);
	put16(b, &len, (uint16_t)(0x6000 | s->flags));  /* 24-byte header: one option */
	put16(b, &len, 501);
	put32(b, &len, 0);
	put32(b, &len, 0x01010101);                     /* NOPs */
	put(b, &len, s->payload, plen);
	end = len;
	if (s->ip_version == 4) {
		uint16_t c;

		b[ip + 2] = (uint8_t)((end - ip) >> 8);
		b[ip + 3] = (uint8_t)(end - ip);
		c = (uint16_t)~fold(sum16(b + ip, 20));
		b[ip + 10] = (uint8_t)(c >> 8);
		b[ip + 11] = (uint8_t)c;
	} else {
		b[ip + 4] = (uint8_t)((end - ip - 40) >> 8);
		b[ip + 5] = (uint8_t)(end - ip - 40);
	}
	/* Ethernet minimum: padding the decoder must ignore. */
	while (len < 60)
		b[len++] = 0xee;
	pf->len = (uint16_t)len;
	assert_int_equal(ztg_decode_packet(pf->b, pf->len, 0, &pf->pkt), ZTG_DROP_NONE);
	assert_int_equal(pf->pkt.l4_offset, tcp);
}

struct expect {
	bool back;               /* toward P's sender */
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t window;
	const char *payload;     /* NULL: none */
};

/* Decode a forged frame from an exact-size copy and check it against P and e. */
static void check_forged(const struct pkt_frame *p, const uint8_t *f, uint16_t len,
			 const struct expect *e)
{
	const struct ztg_packet *o = &p->pkt;
	size_t plen = e->payload ? strlen(e->payload) : 0;
	uint8_t *copy = malloc(len);
	struct ztg_packet d;
	size_t ip_hdr = o->ip_version == 4 ? 20 : 40;

	assert_non_null(copy);
	memcpy(copy, f, len);
	assert_int_equal(len, o->l3_offset + ip_hdr + 20 + plen);
	assert_int_equal(ztg_decode_packet(copy, len, 0, &d), ZTG_DROP_NONE);
	assert_int_equal(d.kind, ZTG_PACKET_IP);
	assert_int_equal(d.ip_version, o->ip_version);
	assert_int_equal(d.l4_proto, 6);
	assert_int_equal(d.flags & ~ZTG_PACKET_F_VLAN, 0);     /* no options, no ext headers */
	assert_int_equal(d.vlan_count, o->vlan_count);
	for (unsigned int i = 0; i < d.vlan_count; i++)
		assert_int_equal(d.vlan_ids[i], o->vlan_ids[i]);
	assert_int_equal(d.ttl, 64);
	assert_int_equal(d.l3_len, len - o->l3_offset);
	assert_int_equal(d.payload_offset, d.l4_offset + 20);
	assert_memory_equal(d.src_addr, e->back ? o->dst_addr : o->src_addr, 16);
	assert_memory_equal(d.dst_addr, e->back ? o->src_addr : o->dst_addr, 16);
	assert_int_equal(d.src_port, e->back ? o->dst_port : o->src_port);
	assert_int_equal(d.dst_port, e->back ? o->src_port : o->dst_port);
	assert_int_equal(d.tcp_flags, e->flags);
	assert_int_equal(d.tcp_seq, e->seq);
	assert_int_equal(d.tcp_ack, e->ack);
	assert_int_equal(d.tcp_window, e->window);
	assert_int_equal(d.payload_len, plen);
	if (plen)
		assert_memory_equal(copy + d.payload_offset, e->payload, plen);
	assert_int_equal(get16(copy + d.l4_offset + 18), 0);   /* urgent pointer */

	/* L2: MACs (swapped going back), then tags and EtherType byte for byte. */
	assert_memory_equal(copy, e->back ? MAC_CLIENT : MAC_SERVER, 6);
	assert_memory_equal(copy + 6, e->back ? MAC_SERVER : MAC_CLIENT, 6);
	assert_memory_equal(copy + 12, p->b + 12, o->l3_offset - 12);

	if (o->ip_version == 4) {
		const uint8_t *ip = copy + d.l3_offset;

		assert_int_equal(ip[0], 0x45);
		assert_int_equal(get16(ip + 6), 0x4000);          /* DF, not a fragment */
	} else {
		assert_int_equal(get32(copy + d.l3_offset), 0x60000000u);
	}
	assert_checksums(copy, &d);
	free(copy);
}

static const struct tcp_spec SPEC4 = {
	.ip_version = 4, .src = "192.0.2.10", .dst = "198.51.100.20",
	.sport = 43210, .dport = 80, .seq = 0xfffffff0u, .ack = 0x11223344u,
	.flags = ZTG_TCP_PSH | ZTG_TCP_ACK, .payload = REQUEST,
};

static const struct tcp_spec SPEC6 = {
	.ip_version = 6, .qinq = true, .src = "2001:db8::10", .dst = "2001:db8:1::20",
	.sport = 51000, .dport = 8080, .seq = 1000, .ack = 0xfffffffeu,
	.flags = ZTG_TCP_PSH | ZTG_TCP_ACK, .payload = REQUEST,
};

/* ------------------------------------------------------------------ tests */

static void check_reset_pair(const struct tcp_spec *s)
{
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	uint16_t len;
	uint32_t end = s->seq + (uint32_t)strlen(s->payload);   /* wraps for SPEC4 */

	build_p(s, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	assert_int_equal(sq.sender_next, s->seq);
	assert_int_equal(sq.sender_end, end);
	assert_true(sq.receiver_known);
	assert_int_equal(sq.receiver_next, s->ack);

	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = true,
		.flags = ZTG_TCP_RST | ZTG_TCP_ACK, .seq = s->ack, .ack = end });

	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_RECEIVER, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = false,
		.flags = ZTG_TCP_RST | ZTG_TCP_ACK, .seq = s->seq, .ack = s->ack });
}

static void test_reset_ipv4(void **state)
{
	(void)state;
	check_reset_pair(&SPEC4);
}

static void test_reset_ipv6_qinq(void **state)
{
	(void)state;
	check_reset_pair(&SPEC6);
}

static void test_reset_ipv4_qinq_and_ipv6_untagged(void **state)
{
	struct tcp_spec s4 = SPEC4, s6 = SPEC6;

	(void)state;
	s4.qinq = true;
	s6.qinq = false;
	check_reset_pair(&s4);
	check_reset_pair(&s6);
}

/* The flow's view of the receiver overrides P.ack. */
static void test_reset_flow_knowledge(void **state)
{
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	uint16_t len;

	(void)state;
	build_p(&SPEC4, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	sq.receiver_next = SPEC4.ack + 1460;
	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = true,
		.flags = ZTG_TCP_RST | ZTG_TCP_ACK, .seq = SPEC4.ack + 1460, .ack = sq.sender_end });
}

/* A SYN: the receiver's numbers are unknown; RFC 9293's answer to a segment without ACK. */
static void test_reset_syn(void **state)
{
	struct tcp_spec s = SPEC6;
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	uint16_t len;

	(void)state;
	s.flags = ZTG_TCP_SYN;
	s.ack = 0;
	s.payload = NULL;
	build_p(&s, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	assert_false(sq.receiver_known);
	assert_int_equal(sq.sender_end, s.seq + 1);

	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = true,
		.flags = ZTG_TCP_RST | ZTG_TCP_ACK, .seq = 0, .ack = s.seq + 1 });
	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_RECEIVER, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = false,
		.flags = ZTG_TCP_RST, .seq = s.seq, .ack = 0 });
	/* No data can go to a client whose server never answered. */
	assert_int_equal(ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_FORBIDDEN, "x", "y", 0, out, sizeof(out)), 0);
}

/* FIN counts in the sequence space: acknowledging P means acknowledging its FIN. */
static void test_seq_fin(void **state)
{
	struct tcp_spec s = SPEC4;
	struct pkt_frame p;
	struct ztg_inject_seq sq;

	(void)state;
	s.flags = ZTG_TCP_FIN | ZTG_TCP_ACK;
	build_p(&s, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	assert_int_equal(sq.sender_end, s.seq + (uint32_t)strlen(REQUEST) + 1);
}

static void check_deny(const struct tcp_spec *s)
{
	static const char expected[] =
		"HTTP/1.1 403 Forbidden\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: 78\r\n"
		"Connection: close\r\n"
		"\r\n"
		"{\"error\":\"forbidden\",\"reason\":\"http_bad_host\",\"request_id\":\"0123456789abcdef\"}";
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	uint16_t len;

	build_p(s, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	len = ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_FORBIDDEN, "http_bad_host", "0123456789abcdef", 0, out,
			      sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = true,
		.flags = ZTG_TCP_PSH | ZTG_TCP_ACK | ZTG_TCP_FIN, .seq = s->ack,
		.ack = s->seq + (uint32_t)strlen(s->payload), .window = ZTG_INJECT_DENY_WINDOW,
		.payload = expected });

	/* The server side of a deny is the receiver's RST. */
	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_RECEIVER, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = false,
		.flags = ZTG_TCP_RST | ZTG_TCP_ACK, .seq = s->seq, .ack = s->ack });
}

static void test_deny_ipv4(void **state)
{
	(void)state;
	check_deny(&SPEC4);
}

static void test_deny_ipv6_qinq(void **state)
{
	(void)state;
	check_deny(&SPEC6);
}

/* Exactly the frame's length fits; one byte less gives 0 and writes nothing past the cap. */
static void test_out_too_small(void **state)
{
	const struct tcp_spec *specs[] = { &SPEC4, &SPEC6 };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct pkt_frame p;
		struct ztg_inject_seq sq;
		uint8_t out[ZTG_INJECT_FRAME_MAX + 1];
		uint16_t rst, deny;

		build_p(specs[i], &p);
		ztg_inject_seq_from_packet(&p.pkt, &sq);
		rst = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, out, sizeof(out));
		deny = ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_FORBIDDEN, "r", "id", 0, out, sizeof(out));
		assert_true(rst > 0 && deny > rst && deny <= ZTG_INJECT_FRAME_MAX);

		memset(out, 0xa5, sizeof(out));
		assert_int_equal(ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, out,
						  (uint16_t)(rst - 1)), 0);
		assert_int_equal(ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_FORBIDDEN, "r", "id", 0, out,
						 (uint16_t)(deny - 1)), 0);
		for (size_t k = 0; k < sizeof(out); k++)
			assert_int_equal(out[k], 0xa5);
		assert_int_equal(ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, out, rst),
				 rst);
		assert_int_equal(out[rst], 0xa5);
		assert_int_equal(ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_FORBIDDEN, "r", "id", 0, out, deny), deny);
		assert_int_equal(out[deny], 0xa5);
	}
}

/* P's own buffer reused for the answer: the L2 header is read before it is overwritten. */
static void test_in_place(void **state)
{
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	struct pkt_frame orig;
	uint16_t len;

	(void)state;
	build_p(&SPEC6, &p);
	orig = p;
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	len = ztg_inject_reset(p.b, &p.pkt, &sq, ZTG_INJECT_TO_SENDER, p.b, sizeof(p.b));
	check_forged(&orig, p.b, len, &(struct expect){ .back = true,
		.flags = ZTG_TCP_RST | ZTG_TCP_ACK, .seq = SPEC6.ack, .ack = sq.sender_end });
}

/* Only decoded TCP over IP qualifies. */
static void test_not_tcp(void **state)
{
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	struct pkt_frame p;
	struct ztg_packet bad;

	(void)state;
	build_p(&SPEC4, &p);
	bad = p.pkt;
	bad.l4_proto = 17;
	assert_int_equal(ztg_inject_build_tcp(p.b, &bad, ZTG_INJECT_TO_SENDER, ZTG_TCP_RST, 1, 0,
					      0, NULL, 0, out, sizeof(out)), 0);
	bad = p.pkt;
	bad.l4_offset = 0;                 /* a non-first fragment */
	assert_int_equal(ztg_inject_build_tcp(p.b, &bad, ZTG_INJECT_TO_SENDER, ZTG_TCP_RST, 1, 0,
					      0, NULL, 0, out, sizeof(out)), 0);
	bad = p.pkt;
	bad.ip_version = 0;
	bad.kind = ZTG_PACKET_NON_IP;
	assert_int_equal(ztg_inject_build_tcp(p.b, &bad, ZTG_INJECT_TO_SENDER, ZTG_TCP_RST, 1, 0,
					      0, NULL, 0, out, sizeof(out)), 0);
	bad = p.pkt;
	bad.l3_offset = 18;                /* says one VLAN tag, has none */
	assert_int_equal(ztg_inject_build_tcp(p.b, &bad, ZTG_INJECT_TO_SENDER, ZTG_TCP_RST, 1, 0,
					      0, NULL, 0, out, sizeof(out)), 0);
	assert_int_equal(ztg_inject_build_tcp(p.b, &p.pkt, ZTG_INJECT_TO_SENDER, ZTG_TCP_ACK, 1, 0,
					      0, NULL, 5, out, sizeof(out)), 0);
	assert_int_equal(ztg_inject_build_tcp(p.b, &p.pkt, (enum ztg_inject_toward)7, ZTG_TCP_RST,
					      1, 0, 0, NULL, 0, out, sizeof(out)), 0);
}

/* Odd payload lengths exercise the checksum's zero-padded tail. */
static void test_build_odd_payload(void **state)
{
	static const char data[] = "abcde";
	struct pkt_frame p;
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	uint16_t len;

	(void)state;
	build_p(&SPEC6, &p);
	len = ztg_inject_build_tcp(p.b, &p.pkt, ZTG_INJECT_TO_RECEIVER, ZTG_TCP_ACK | ZTG_TCP_PSH,
				   7, 9, 1234, (const uint8_t *)data, 5, out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = false,
		.flags = ZTG_TCP_ACK | ZTG_TCP_PSH, .seq = 7, .ack = 9, .window = 1234,
		.payload = data });
}

/* ------------------------------------------------------------------- 403 */

static const char *body_of(const char *resp, uint16_t len, size_t *body_len)
{
	const char *sep = strstr(resp, "\r\n\r\n");
	const char *cl = strstr(resp, "Content-Length: ");

	assert_non_null(sep);
	assert_non_null(cl);
	assert_true(cl < sep);
	*body_len = (size_t)(resp + len - (sep + 4));
	assert_int_equal(strtoul(cl + 16, NULL, 10), *body_len);
	return sep + 4;
}

static void test_403_escaping(void **state)
{
	char out[ZTG_INJECT_DENIAL_MAX + 1];
	const char *body;
	size_t blen;
	uint16_t len;

	(void)state;
	len = ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, "a\"b\\c\n\x01\x7f\xc3\xa9", "id\t1", 0, out,
				       ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0);
	out[len] = '\0';
	body = body_of(out, len, &blen);
	assert_string_equal(body, "{\"error\":\"forbidden\",\"reason\":\"a\\\"b\\\\c\\u000a\\u0001"
				  "\\u007f\\u00c3\\u00a9\",\"request_id\":\"id\\u00091\"}");

	len = ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, NULL, NULL, 0, out, ZTG_INJECT_DENIAL_MAX);
	out[len] = '\0';
	body = body_of(out, len, &blen);
	assert_string_equal(body, "{\"error\":\"forbidden\",\"reason\":\"\",\"request_id\":\"\"}");
	assert_non_null(strstr(out, "Content-Length: 49\r\n"));
}

/* Bad credentials: a 401 that tells a bearer client to get a new token (RFC 6750 3), body alike. */
static void test_401(void **state)
{
	char out[ZTG_INJECT_DENIAL_MAX + 1], plain[ZTG_INJECT_FIELD_MAX + 1];
	const char *body;
	size_t blen;
	uint16_t len;

	(void)state;
	len = ztg_inject_format_denial(ZTG_INJECT_UNAUTHORIZED, "expired", "ztg-0001", 0, out, ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0);
	out[len] = '\0';
	assert_memory_equal(out, "HTTP/1.1 401 Unauthorized\r\n", 27);
	assert_non_null(strstr(out, "\r\nWWW-Authenticate: Bearer realm=\"ztgate\", error=\"invalid_token\"\r\n"));
	body = body_of(out, len, &blen);
	assert_string_equal(body, "{\"error\":\"unauthorized\",\"reason\":\"expired\",\"request_id\":\"ztg-0001\"}");
	assert_non_null(strstr(out, "Content-Length: 67\r\n"));
	assert_int_equal(blen, 67);
	/* The longest 401 still fits the bound, and one byte less is refused. */
	memset(plain, 'x', ZTG_INJECT_FIELD_MAX);
	plain[ZTG_INJECT_FIELD_MAX] = '\0';
	len = ztg_inject_format_denial(ZTG_INJECT_UNAUTHORIZED, plain, plain, 0, out, ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0 && len <= ZTG_INJECT_DENIAL_MAX);
	assert_int_equal(ztg_inject_format_denial(ZTG_INJECT_UNAUTHORIZED, plain, plain, 0, out, (uint16_t)(len - 1)), 0);
}

/* Long values are cut at the field bound, between escapes, and the whole still fits. */
static void test_403_bounds(void **state)
{
	char quotes[200], ctl[200], plain[200];
	char out[ZTG_INJECT_DENIAL_MAX + 1];
	const char *body, *r;
	size_t blen;
	uint16_t len, need;

	(void)state;
	memset(quotes, '"', sizeof(quotes) - 1);
	quotes[sizeof(quotes) - 1] = '\0';
	memset(ctl, '\x1f', sizeof(ctl) - 1);
	ctl[sizeof(ctl) - 1] = '\0';
	memset(plain, 'x', sizeof(plain) - 1);
	plain[sizeof(plain) - 1] = '\0';

	len = ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, quotes, ctl, 0, out, ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0 && len <= ZTG_INJECT_DENIAL_MAX);
	out[len] = '\0';
	body = body_of(out, len, &blen);
	r = body + strlen("{\"error\":\"forbidden\",\"reason\":\"");
	/* 32 escaped quotes (64 bytes), then the closing quote. */
	for (int i = 0; i < 32; i++)
		assert_memory_equal(r + 2 * i, "\\\"", 2);
	assert_memory_equal(r + 64, "\",\"request_id\":\"", 16);
	/* 10 six-byte escapes (60 bytes): the 11th would pass 64. */
	r += 64 + 16;
	for (int i = 0; i < 10; i++)
		assert_memory_equal(r + 6 * i, "\\u001f", 6);
	assert_string_equal(r + 60, "\"}");

	len = ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, plain, plain, 0, out, ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0 && len <= ZTG_INJECT_DENIAL_MAX);
	out[len] = '\0';
	body_of(out, len, &blen);
	assert_int_equal(blen, 49 + 2 * ZTG_INJECT_FIELD_MAX);

	/* Exact capacity works; one less is refused. */
	need = len;
	assert_int_equal(ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, plain, plain, 0, out, need), need);
	assert_int_equal(ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, plain, plain, 0, out, (uint16_t)(need - 1)), 0);
}

/* ------------------------------------------------------------------- 429 */

/* Over a rate limit: the whole frame decoded back, status line, Retry-After and body as sent. */
static void check_deny_429(const struct tcp_spec *s)
{
	static const char expected[] =
		"HTTP/1.1 429 Too Many Requests\r\n"
		"Retry-After: 30\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: 83\r\n"
		"Connection: close\r\n"
		"\r\n"
		"{\"error\":\"too_many_requests\",\"reason\":\"rate_limit\",\"request_id\":\"0123456789abcdef\"}";
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	uint8_t out[ZTG_INJECT_FRAME_MAX];
	uint16_t len;

	build_p(s, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	len = ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_TOO_MANY_REQUESTS, "rate_limit", "0123456789abcdef", 30,
			      out, sizeof(out));
	check_forged(&p, out, len, &(struct expect){ .back = true,
		.flags = ZTG_TCP_PSH | ZTG_TCP_ACK | ZTG_TCP_FIN, .seq = s->ack,
		.ack = s->seq + (uint32_t)strlen(s->payload), .window = ZTG_INJECT_DENY_WINDOW,
		.payload = expected });
}

static void test_deny_429_ipv4(void **state)
{
	(void)state;
	check_deny_429(&SPEC4);
}

static void test_deny_429_ipv6_qinq(void **state)
{
	(void)state;
	check_deny_429(&SPEC6);
}

/* The Retry-After line of a formatted 429, NUL-terminated in line. */
static void retry_after_line(uint32_t retry_after, char *line, size_t cap)
{
	char out[ZTG_INJECT_DENIAL_MAX + 1];
	const char *start, *end;
	size_t blen;
	uint16_t len;

	len = ztg_inject_format_denial(ZTG_INJECT_TOO_MANY_REQUESTS, "r", "i", retry_after, out, ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0);
	out[len] = '\0';
	assert_memory_equal(out, "HTTP/1.1 429 Too Many Requests\r\n", 32);
	start = out + 32;
	end = strstr(start, "\r\n");
	assert_non_null(end);
	assert_true((size_t)(end - start) < cap);
	memcpy(line, start, (size_t)(end - start));
	line[end - start] = '\0';
	assert_string_equal(body_of(out, len, &blen),
			    "{\"error\":\"too_many_requests\",\"reason\":\"r\",\"request_id\":\"i\"}");
}

/* Whole seconds, at least 1: "Retry-After: 0" would invite the retry the limit just refused. */
static void test_429_retry_after(void **state)
{
	char line[64], out[ZTG_INJECT_DENIAL_MAX + 1];
	uint16_t len;

	(void)state;
	retry_after_line(0, line, sizeof(line));
	assert_string_equal(line, "Retry-After: 1");
	retry_after_line(1, line, sizeof(line));
	assert_string_equal(line, "Retry-After: 1");
	retry_after_line(10, line, sizeof(line));
	assert_string_equal(line, "Retry-After: 10");
	retry_after_line(3600, line, sizeof(line));
	assert_string_equal(line, "Retry-After: 3600");
	retry_after_line(UINT32_MAX, line, sizeof(line));
	assert_string_equal(line, "Retry-After: 4294967295");

	/* Only a 429 carries it. */
	len = ztg_inject_format_denial(ZTG_INJECT_FORBIDDEN, "r", "i", 30, out, ZTG_INJECT_DENIAL_MAX);
	out[len] = '\0';
	assert_null(strstr(out, "Retry-After"));
	len = ztg_inject_format_denial(ZTG_INJECT_UNAUTHORIZED, "r", "i", 30, out, ZTG_INJECT_DENIAL_MAX);
	out[len] = '\0';
	assert_null(strstr(out, "Retry-After"));
}

/* The longest 429 (ten-digit Retry-After, both fields at their cut) fits the bounds; one byte less is refused. */
static void test_429_bounds(void **state)
{
	char plain[200], out[ZTG_INJECT_DENIAL_MAX + 1], expected[ZTG_INJECT_DENIAL_MAX + 1];
	uint8_t frame[ZTG_INJECT_FRAME_MAX];
	struct pkt_frame p;
	struct ztg_inject_seq sq;
	size_t blen;
	uint16_t len, flen;

	(void)state;
	memset(plain, 'x', sizeof(plain) - 1);
	plain[sizeof(plain) - 1] = '\0';
	len = ztg_inject_format_denial(ZTG_INJECT_TOO_MANY_REQUESTS, plain, plain, UINT32_MAX, out,
				       ZTG_INJECT_DENIAL_MAX);
	assert_true(len > 0 && len <= ZTG_INJECT_DENIAL_MAX);
	out[len] = '\0';
	body_of(out, len, &blen);
	assert_int_equal(blen, 57 + 2 * ZTG_INJECT_FIELD_MAX);
	assert_int_equal(ztg_inject_format_denial(ZTG_INJECT_TOO_MANY_REQUESTS, plain, plain, UINT32_MAX, out, len),
			 len);
	assert_int_equal(ztg_inject_format_denial(ZTG_INJECT_TOO_MANY_REQUESTS, plain, plain, UINT32_MAX, out,
						  (uint16_t)(len - 1)), 0);

	/* The largest header stack carries it within the frame cap. */
	memcpy(expected, out, len);
	expected[len] = '\0';
	build_p(&SPEC6, &p);
	ztg_inject_seq_from_packet(&p.pkt, &sq);
	flen = ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_TOO_MANY_REQUESTS, plain, plain, UINT32_MAX, frame,
			       sizeof(frame));
	assert_true(flen > 0 && flen <= ZTG_INJECT_FRAME_MAX);
	check_forged(&p, frame, flen, &(struct expect){ .back = true,
		.flags = ZTG_TCP_PSH | ZTG_TCP_ACK | ZTG_TCP_FIN, .seq = SPEC6.ack,
		.ack = SPEC6.seq + (uint32_t)strlen(SPEC6.payload), .window = ZTG_INJECT_DENY_WINDOW,
		.payload = expected });
	assert_int_equal(ztg_inject_deny(p.b, &p.pkt, &sq, ZTG_INJECT_TOO_MANY_REQUESTS, plain, plain, UINT32_MAX,
					 frame, (uint16_t)(flen - 1)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_ipv4),
		cmocka_unit_test(test_reset_ipv6_qinq),
		cmocka_unit_test(test_reset_ipv4_qinq_and_ipv6_untagged),
		cmocka_unit_test(test_reset_flow_knowledge),
		cmocka_unit_test(test_reset_syn),
		cmocka_unit_test(test_seq_fin),
		cmocka_unit_test(test_deny_ipv4),
		cmocka_unit_test(test_deny_ipv6_qinq),
		cmocka_unit_test(test_out_too_small),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_not_tcp),
		cmocka_unit_test(test_build_odd_payload),
		cmocka_unit_test(test_403_escaping),
		cmocka_unit_test(test_403_bounds),
		cmocka_unit_test(test_401),
		cmocka_unit_test(test_deny_429_ipv4),
		cmocka_unit_test(test_deny_429_ipv6_qinq),
		cmocka_unit_test(test_429_retry_after),
		cmocka_unit_test(test_429_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
