/*
 * Unit tests for the L2-L4 decoder.
 *
 * Frames are built layer by layer with the small builders below, then
 * finish() fills lengths and checksums the way a real stack would. Every
 * decode goes through decode_exact(), which copies the frame into a heap
 * block of exactly frame_len bytes, so ASan or valgrind flags any read past
 * the end, and which checks the header's invariants on every success.
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

#define FRAME_MAX 2048
#define MIN_FRAME 60  /* Ethernet minimum without FCS */
#define PAD_BYTE  0xee

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t l3;          /* IP header, 0 when none */
	size_t l4;          /* upper-layer header, 0 when none */
	int ip_version;
	uint8_t l4_proto;
	size_t ip_end;      /* end of the IP datagram once finish() ran */
};

/* ---------------------------------------------------------------- builders */

static void put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->len + n <= FRAME_MAX);
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void set16(struct frame *f, size_t off, uint16_t v)
{
	f->b[off] = (uint8_t)(v >> 8);
	f->b[off + 1] = (uint8_t)v;
}

static void zeros(struct frame *f, size_t n)
{
	assert_true(f->len + n <= FRAME_MAX);
	memset(f->b + f->len, 0, n);
	f->len += n;
}

/* Payload bytes are a recognisable ramp, never the padding byte. */
static void data(struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(f, (uint8_t)(i % 200));
}

static void frame_init(struct frame *f)
{
	memset(f, 0, sizeof(*f));
}

static void eth_vlan(struct frame *f, size_t ntags, const uint16_t *tpid, const uint16_t *vid,
		     uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };

	frame_init(f);
	put(f, macs, sizeof(macs));
	for (size_t i = 0; i < ntags; i++) {
		put16(f, tpid[i]);
		put16(f, vid[i]);
	}
	put16(f, type);
}

static void eth(struct frame *f, uint16_t type)
{
	eth_vlan(f, 0, NULL, NULL, type);
}

static void addr4(const char *s, uint8_t out[4])
{
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void addr6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* IPv4 header with options (optlen a multiple of 4); lengths filled by finish(). */
static void ipv4_opts(struct frame *f, uint8_t proto, const char *src, const char *dst,
		      const uint8_t *opts, size_t optlen)
{
	uint8_t a[4];

	assert_true(optlen % 4 == 0 && optlen <= 40);
	f->l3 = f->len;
	f->ip_version = 4;
	f->l4_proto = proto;
	put8(f, (uint8_t)(0x40 | (5 + optlen / 4)));
	put8(f, 0);            /* DSCP/ECN */
	put16(f, 0);           /* total length */
	put16(f, 0x1234);      /* identification */
	put16(f, 0x4000);      /* DF */
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);           /* checksum */
	addr4(src, a);
	put(f, a, 4);
	addr4(dst, a);
	put(f, a, 4);
	if (optlen)
		put(f, opts, optlen);
}

static void ipv4(struct frame *f, uint8_t proto, const char *src, const char *dst)
{
	ipv4_opts(f, proto, src, dst, NULL, 0);
}

static void ipv6(struct frame *f, uint8_t nh, const char *src, const char *dst)
{
	uint8_t a[16];

	f->l3 = f->len;
	f->ip_version = 6;
	f->l4_proto = nh;
	put32(f, 0x60000000);
	put16(f, 0);           /* payload length */
	put8(f, nh);
	put8(f, 64);
	addr6(src, a);
	put(f, a, 16);
	addr6(dst, a);
	put(f, a, 16);
}

/*
 * Extension header of total_len bytes. Routing headers are type 4 (segment
 * routing) with no segments left; AH uses its own length unit.
 */
static void ipv6_ext(struct frame *f, uint8_t type, uint8_t nh, size_t total_len)
{
	size_t start = f->len;

	f->l4_proto = nh;
	put8(f, nh);
	if (type == 51) {
		assert_true(total_len % 4 == 0 && total_len >= 8);
		put8(f, (uint8_t)(total_len / 4 - 2));
	} else {
		assert_true(total_len % 8 == 0 && total_len >= 8);
		put8(f, (uint8_t)(total_len / 8 - 1));
	}
	if (type == 43) {
		put8(f, 4);    /* routing type */
		put8(f, 0);    /* segments left */
	}
	/* Options area: PadN so hop-by-hop and destination options stay valid. */
	if (type == 0 || type == 60) {
		put8(f, 1);
		put8(f, (uint8_t)(total_len - 4));
	}
	zeros(f, total_len - (f->len - start));
}

static void ipv6_frag(struct frame *f, uint8_t nh, uint16_t offset, int more, uint32_t id)
{
	f->l4_proto = nh;
	put8(f, nh);
	put8(f, 0);
	put16(f, (uint16_t)(offset | (more ? 1 : 0)));
	put32(f, id);
}

static void tcp_opts(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags,
		     uint32_t seq, uint32_t ack, size_t optlen)
{
	assert_true(optlen % 4 == 0 && optlen <= 40);
	f->l4 = f->len;
	put16(f, sport);
	put16(f, dport);
	put32(f, seq);
	put32(f, ack);
	put8(f, (uint8_t)((5 + optlen / 4) << 4));
	put8(f, flags);
	put16(f, 29200);       /* window */
	put16(f, 0);           /* checksum */
	put16(f, 0);           /* urgent pointer */
	for (size_t i = 0; i < optlen; i++)
		put8(f, 1);    /* NOP */
}

static void tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
		uint32_t ack)
{
	tcp_opts(f, sport, dport, flags, seq, ack, 0);
}

static void udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	f->l4 = f->len;
	put16(f, sport);
	put16(f, dport);
	put16(f, 0);           /* length */
	put16(f, 0);           /* checksum */
}

/* ICMP and ICMPv6 share the layout we build: type, code, checksum, id, sequence. */
static void icmp(struct frame *f, uint8_t type, uint8_t code, uint16_t id)
{
	f->l4 = f->len;
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put16(f, id);
	put16(f, 1);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void ipv4_fix_cksum(struct frame *f)
{
	size_t ihl = (size_t)(f->b[f->l3] & 0x0f) * 4;

	set16(f, f->l3 + 10, 0);
	set16(f, f->l3 + 10, csum_fold(csum_add(0, f->b + f->l3, ihl)));
}

static void l4_fix_cksum(struct frame *f)
{
	size_t l4_len = f->ip_end - f->l4;
	size_t ck_off;
	uint32_t sum = 0;

	switch (f->l4_proto) {
	case 6:
		ck_off = 16;
		break;
	case 17:
		ck_off = 6;
		break;
	case 1:
	case 58:
		ck_off = 2;
		break;
	default:
		return;
	}
	if (l4_len < ck_off + 2)
		return;
	set16(f, f->l4 + ck_off, 0);
	if (f->ip_version == 4) {
		sum = csum_add(sum, f->b + f->l3 + 12, 8);
	} else {
		sum = csum_add(sum, f->b + f->l3 + 8, 32);
		sum += (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
	}
	if (f->l4_proto != 1) {  /* ICMPv4 has no pseudo-header */
		if (f->ip_version == 4)
			sum += f->l4_proto + (uint32_t)l4_len;
		else
			sum += f->l4_proto;
	} else {
		sum = 0;
	}
	sum = csum_add(sum, f->b + f->l4, l4_len);
	set16(f, f->l4 + ck_off, csum_fold(sum));
}

/* Fill IP and UDP lengths and every checksum, as a sending stack would. */
static void finish(struct frame *f)
{
	f->ip_end = f->len;
	if (f->ip_version == 4)
		set16(f, f->l3 + 2, (uint16_t)(f->len - f->l3));
	else if (f->ip_version == 6)
		set16(f, f->l3 + 4, (uint16_t)(f->len - f->l3 - 40));
	if (f->l4 && f->l4_proto == 17)
		set16(f, f->l4 + 4, (uint16_t)(f->len - f->l4));
	if (f->l4)
		l4_fix_cksum(f);
	if (f->ip_version == 4)
		ipv4_fix_cksum(f);
}

static void pad_to(struct frame *f, size_t n)
{
	while (f->len < n)
		put8(f, PAD_BYTE);
}

/* IPv4 fragment fields, set after finish() since they change no length. */
static void ipv4_set_frag(struct frame *f, uint16_t offset_bytes, int more, uint16_t id)
{
	assert_true(offset_bytes % 8 == 0);
	set16(f, f->l3 + 4, id);
	set16(f, f->l3 + 6, (uint16_t)(offset_bytes / 8 | (more ? 0x2000 : 0)));
	ipv4_fix_cksum(f);
}

/* ----------------------------------------------------------------- checking */

static void assert_invariants(const struct ztg_packet *p, size_t frame_len)
{
	size_t len = frame_len > UINT16_MAX ? UINT16_MAX : frame_len;
	size_t ip_end = (size_t)p->l3_offset + p->l3_len;

	assert_int_equal(p->frame_len, len);
	assert_true(p->vlan_count <= ZTG_DECODE_MAX_VLANS);
	assert_true(ip_end <= len);
	assert_true(p->l3_offset <= p->payload_offset);
	assert_true((size_t)p->payload_offset + p->payload_len <= ip_end);
	if (p->l4_offset != 0) {
		assert_true(p->l3_offset <= p->l4_offset);
		assert_true(p->l4_offset <= p->payload_offset);
	}
	if (p->ip_version == 4) {
		static const uint8_t zero[12];

		assert_memory_equal(p->src_addr + 4, zero, 12);
		assert_memory_equal(p->dst_addr + 4, zero, 12);
	}
	if (p->ip_version == 0)
		assert_int_equal(p->kind, ZTG_PACKET_NON_IP);
}

/* Decode from an exact-size heap copy so that any overread is caught. */
static enum ztg_drop_reason decode_buf(const uint8_t *buf, size_t len, unsigned int flags,
				       struct ztg_packet *p)
{
	uint8_t *copy = len ? malloc(len) : NULL;
	enum ztg_drop_reason r;

	if (len)
		assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	r = ztg_decode_packet(copy, (uint32_t)len, flags, p);
	free(copy);
	if (r == ZTG_DROP_NONE)
		assert_invariants(p, len);
	return r;
}

static enum ztg_drop_reason decode_flags(const struct frame *f, unsigned int flags,
					 struct ztg_packet *p)
{
	return decode_buf(f->b, f->len, flags, p);
}

static enum ztg_drop_reason decode(const struct frame *f, struct ztg_packet *p)
{
	return decode_flags(f, 0, p);
}

#define assert_reason(f, expected)                                             \
	do {                                                                   \
		struct ztg_packet p_;                                          \
		enum ztg_drop_reason r_ = decode((f), &p_);                    \
		if (r_ != (expected))                                          \
			fail_msg("got %s, expected %s", ztg_drop_reason_name(r_), \
				 ztg_drop_reason_name(expected));              \
	} while (0)

static void assert_addr4(const uint8_t *got, const char *s)
{
	uint8_t a[4];

	addr4(s, a);
	assert_memory_equal(got, a, 4);
}

static void assert_addr6(const uint8_t *got, const char *s)
{
	uint8_t a[16];

	addr6(s, a);
	assert_memory_equal(got, a, 16);
}

/* Common frames. */
static void tcp4_frame(struct frame *f, uint8_t flags, size_t payload)
{
	eth(f, 0x0800);
	ipv4(f, 6, "10.0.0.1", "10.0.0.2");
	tcp(f, 40000, 443, flags, 1000, 2000);
	data(f, payload);
	finish(f);
}

static void udp4_frame(struct frame *f, uint16_t sport, uint16_t dport, size_t payload)
{
	eth(f, 0x0800);
	ipv4(f, 17, "10.0.0.1", "10.0.0.2");
	udp(f, sport, dport);
	data(f, payload);
	finish(f);
}

static void tcp6_frame(struct frame *f, uint8_t flags, size_t payload)
{
	eth(f, 0x86dd);
	ipv6(f, 6, "2001:db8::1", "2001:db8::2");
	tcp(f, 40000, 443, flags, 1000, 2000);
	data(f, payload);
	finish(f);
}

#define ACK ZTG_TCP_ACK
#define PSH_ACK (ZTG_TCP_PSH | ZTG_TCP_ACK)

/* ------------------------------------------------------------ good: layer 2 */

static void test_arp_is_non_ip(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0806);
	put16(&f, 1);          /* Ethernet */
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 1);          /* request */
	zeros(&f, 20);
	pad_to(&f, MIN_FRAME);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_NON_IP);
	assert_int_equal(p.ethertype, 0x0806);
	assert_int_equal(p.ip_version, 0);
	assert_int_equal(p.l3_offset, 14);
	assert_int_equal(p.l3_len, 28);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_len, 0);
}

static void test_lldp_and_8023_are_non_ip(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x88cc);
	data(&f, 30);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_NON_IP);
	assert_int_equal(p.ethertype, 0x88cc);

	/* An 802.3 length field (< 0x600) is just another non-IP EtherType value. */
	eth(&f, 46);
	data(&f, 46);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_NON_IP);

	/* Bare header, nothing after it. */
	eth(&f, 0x88cc);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l3_len, 0);
}

static void test_qinq_vlan_ids(void **state)
{
	static const uint16_t tpid[2] = { 0x88a8, 0x8100 };
	static const uint16_t vid[2] = { 0xe064, 0x00c8 }; /* PCP 7 DEI 0 VID 100; VID 200 */
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth_vlan(&f, 2, tpid, vid, 0x0800);
	ipv4(&f, 17, "192.0.2.1", "192.0.2.2");
	udp(&f, 5353, 53);
	data(&f, 4);
	finish(&f);
	pad_to(&f, MIN_FRAME);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.vlan_count, 2);
	assert_int_equal(p.vlan_ids[0], 100);
	assert_int_equal(p.vlan_ids[1], 200);
	assert_true(p.flags & ZTG_PACKET_F_VLAN);
	assert_int_equal(p.ethertype, 0x0800);
	assert_int_equal(p.l3_offset, 22);
	assert_int_equal(p.l4_offset, 42);
	assert_int_equal(p.payload_offset, 50);
	assert_int_equal(p.payload_len, 4);
	assert_int_equal(p.src_port, 5353);
	assert_int_equal(p.dst_port, 53);
}

static void test_single_vlan_9100(void **state)
{
	static const uint16_t tpid[1] = { 0x9100 };
	static const uint16_t vid[1] = { 0x0fff };
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth_vlan(&f, 1, tpid, vid, 0x0806);
	zeros(&f, 28);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.vlan_count, 1);
	assert_int_equal(p.vlan_ids[0], 0xfff);
	assert_int_equal(p.kind, ZTG_PACKET_NON_IP);
	assert_int_equal(p.l3_offset, 18);
}

/* ---------------------------------------------------------- good: IPv4 / L4 */

static void test_tcp4_with_link_padding(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	tcp4_frame(&f, PSH_ACK, 2);
	assert_int_equal(f.len, 56);
	pad_to(&f, MIN_FRAME);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_IP);
	assert_int_equal(p.ip_version, 4);
	assert_int_equal(p.ethertype, 0x0800);
	assert_int_equal(p.vlan_count, 0);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.frame_len, 60);
	assert_int_equal(p.l3_offset, 14);
	assert_int_equal(p.l3_len, 42);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 54);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.l4_proto, 6);
	assert_int_equal(p.ttl, 64);
	assert_addr4(p.src_addr, "10.0.0.1");
	assert_addr4(p.dst_addr, "10.0.0.2");
	assert_int_equal(p.src_port, 40000);
	assert_int_equal(p.dst_port, 443);
	assert_int_equal(p.tcp_flags, PSH_ACK);
	assert_int_equal(p.tcp_seq, 1000);
	assert_int_equal(p.tcp_ack, 2000);
	assert_int_equal(p.tcp_window, 29200);
	assert_int_equal(p.fragment_id, 0);
	assert_int_equal(p.fragment_offset, 0);
}

static void test_tcp4_options_and_syn(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 6, "10.0.0.1", "10.0.0.2");
	tcp_opts(&f, 40000, 80, ZTG_TCP_SYN | ZTG_TCP_ECE | ZTG_TCP_CWR, 0xfffffff0u, 0, 20);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 74);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.tcp_seq, 0xfffffff0u);
	assert_int_equal(p.tcp_flags, ZTG_TCP_SYN | ZTG_TCP_ECE | ZTG_TCP_CWR);
}

static void test_tcp_valid_flag_sets(void **state)
{
	static const uint8_t ok[] = {
		ZTG_TCP_SYN, ZTG_TCP_SYN | ZTG_TCP_ACK, ZTG_TCP_ACK, ZTG_TCP_RST,
		ZTG_TCP_RST | ZTG_TCP_ACK, ZTG_TCP_FIN | ZTG_TCP_ACK, PSH_ACK,
		ZTG_TCP_URG | PSH_ACK, ZTG_TCP_FIN | PSH_ACK,
	};
	struct frame f;

	(void)state;
	for (size_t i = 0; i < sizeof(ok); i++) {
		tcp4_frame(&f, ok[i], 0);
		assert_reason(&f, ZTG_DROP_NONE);
	}
}

static void test_ipv4_options_valid(void **state)
{
	/* NOP, NOP, timestamp (type 68, len 8), EOL, padding */
	static const uint8_t opts[12] = { 1, 1, 68, 8, 5, 0, 0, 0, 0, 0, 0, 0 };
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	ipv4_opts(&f, 6, "10.0.0.1", "10.0.0.2", opts, sizeof(opts));
	tcp(&f, 1234, 80, ACK, 1, 1);
	data(&f, 10);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_true(p.flags & ZTG_PACKET_F_IPV4_OPTIONS);
	assert_int_equal(p.l4_offset, 14 + 32);
	assert_int_equal(p.payload_offset, 14 + 32 + 20);
	assert_int_equal(p.payload_len, 10);
	assert_int_equal(p.l3_len, 32 + 20 + 10);
}

static void test_ipv4_options_fill_header(void **state)
{
	/* Router alert (type 148, len 4) then an option reaching the header's last byte. */
	static const uint8_t opts[8] = { 148, 4, 0, 0, 7, 4, 0, 0 };
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	ipv4_opts(&f, 17, "10.0.0.1", "10.0.0.2", opts, sizeof(opts));
	udp(&f, 1, 2);
	finish(&f);
	assert_reason(&f, ZTG_DROP_NONE);
}

static void test_udp4_good_and_src_port_zero(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	udp4_frame(&f, 0, 514, 100);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l4_proto, 17);
	assert_int_equal(p.src_port, 0);
	assert_int_equal(p.dst_port, 514);
	assert_int_equal(p.payload_offset, 42);
	assert_int_equal(p.payload_len, 100);
}

static void test_udp_length_shorter_than_ip_payload(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	udp4_frame(&f, 1000, 2000, 20);
	set16(&f, f.l4 + 4, 8 + 5);  /* UDP says 5 bytes, IP carries 20 */
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.l3_len, 20 + 8 + 20);
}

static void test_dhcp_discover_is_legal(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 17, "0.0.0.0", "255.255.255.255");
	udp(&f, 68, 67);
	data(&f, 240);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_addr4(p.src_addr, "0.0.0.0");
	assert_addr4(p.dst_addr, "255.255.255.255");
}

static void test_multicast_destination_is_legal(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 17, "10.0.0.1", "239.1.2.3");
	udp(&f, 5000, 5000);
	finish(&f);
	assert_reason(&f, ZTG_DROP_NONE);
}

static void test_icmp4_echo_and_unreachable(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 1, "10.0.0.1", "10.0.0.2");
	icmp(&f, 8, 0, 0x4242);
	data(&f, 56);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_IP);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.src_port, 0x4242);
	assert_int_equal(p.dst_port, 0x4242);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.payload_offset, 42);
	assert_int_equal(p.payload_len, 56);

	eth(&f, 0x0800);
	ipv4(&f, 1, "10.0.0.1", "10.0.0.2");
	icmp(&f, 0, 0, 7);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.src_port, 7);

	eth(&f, 0x0800);
	ipv4(&f, 1, "10.0.0.1", "10.0.0.2");
	icmp(&f, 3, 3, 0x9999);
	data(&f, 28);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 3);
	assert_int_equal(p.src_port, 0);
	assert_int_equal(p.dst_port, 0);
}

static void test_gre_is_opaque_ip(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 47, "10.0.0.1", "10.0.0.2");
	data(&f, 24);
	finish(&f);
	pad_to(&f, 80);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_IP);
	assert_int_equal(p.l4_proto, 47);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_offset, 34);
	assert_int_equal(p.payload_len, 24);
	assert_int_equal(p.src_port, 0);
	assert_int_equal(p.dst_port, 0);
}

static void test_ipv4_checksum_offloaded(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	f.b[f.l3 + 10] ^= 0xff;
	assert_int_equal(decode(&f, &p), ZTG_DROP_IPV4_BAD_CHECKSUM);
	assert_int_equal(decode_flags(&f, ZTG_DECODE_IPV4_CKSUM_VERIFIED, &p), ZTG_DROP_NONE);
}

/* -------------------------------------------------------- good: fragments v4 */

static void test_ipv4_first_fragment(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 17, "10.0.0.1", "10.0.0.2");
	udp(&f, 4000, 53);
	data(&f, 1472);
	finish(&f);
	set16(&f, f.l4 + 4, 3000);     /* the whole datagram is longer */
	/* Keep 24 bytes of IP payload: UDP header + 16 data bytes. */
	set16(&f, f.l3 + 2, 20 + 24);
	f.len = f.l3 + 20 + 24;
	ipv4_set_frag(&f, 0, 1, 0xbeef);
	pad_to(&f, MIN_FRAME);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_FRAGMENT | ZTG_PACKET_F_MORE_FRAGMENTS);
	assert_int_equal(p.fragment_id, 0xbeef);
	assert_int_equal(p.fragment_offset, 0);
	assert_int_equal(p.l4_offset, 34);
	assert_int_equal(p.src_port, 4000);
	assert_int_equal(p.dst_port, 53);
	assert_int_equal(p.payload_offset, 42);
	assert_int_equal(p.payload_len, 16);
}

static void test_ipv4_non_first_fragments(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	/* Middle piece: MF set, offset 1480. */
	udp4_frame(&f, 4000, 53, 32);
	ipv4_set_frag(&f, 1480, 1, 77);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_FRAGMENT | ZTG_PACKET_F_MORE_FRAGMENTS);
	assert_int_equal(p.fragment_offset, 1480);
	assert_int_equal(p.fragment_id, 77);
	assert_int_equal(p.l4_proto, 17);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_offset, 34);
	assert_int_equal(p.payload_len, 40);
	assert_int_equal(p.src_port, 0);
	assert_int_equal(p.dst_port, 0);

	/* Last piece: MF clear, odd length is fine, and padding stays out. */
	udp4_frame(&f, 4000, 53, 1);
	ipv4_set_frag(&f, 2960, 0, 77);
	pad_to(&f, MIN_FRAME);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_FRAGMENT);
	assert_int_equal(p.fragment_offset, 2960);
	assert_int_equal(p.payload_len, 9);
	assert_int_equal(p.l4_offset, 0);

	/* A non-first TCP piece with fewer bytes than a TCP header is fine. */
	tcp4_frame(&f, ACK, 0);
	set16(&f, f.l3 + 2, 20 + 3);
	f.len = f.l3 + 23;
	ipv4_set_frag(&f, 8, 0, 5);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.payload_len, 3);
}

static void test_ipv4_fragment_ends_at_65535(void **state)
{
	struct frame f;

	(void)state;
	udp4_frame(&f, 1, 2, 7);       /* 15 bytes of IP payload */
	ipv4_set_frag(&f, 65520, 0, 1);
	assert_reason(&f, ZTG_DROP_NONE);
}

/* ------------------------------------------------------------- good: IPv6 */

static void test_tcp6_with_padding(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	tcp6_frame(&f, PSH_ACK, 5);
	pad_to(&f, 100);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.ip_version, 6);
	assert_int_equal(p.ethertype, 0x86dd);
	assert_int_equal(p.l3_offset, 14);
	assert_int_equal(p.l3_len, 40 + 20 + 5);
	assert_int_equal(p.l4_offset, 54);
	assert_int_equal(p.payload_offset, 74);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.ttl, 64);
	assert_addr6(p.src_addr, "2001:db8::1");
	assert_addr6(p.dst_addr, "2001:db8::2");
	assert_int_equal(p.src_port, 40000);
	assert_int_equal(p.dst_port, 443);
}

static void test_ipv6_ext_chain(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 0, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 0, 60, 8);        /* hop-by-hop */
	ipv6_ext(&f, 60, 43, 16);      /* destination options */
	ipv6_ext(&f, 43, 51, 24);      /* routing type 4 */
	ipv6_ext(&f, 51, 135, 24);     /* AH */
	ipv6_ext(&f, 135, 17, 8);      /* mobility */
	udp(&f, 3000, 4000);
	data(&f, 12);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_IPV6_EXT);
	assert_int_equal(p.l4_proto, 17);
	assert_int_equal(p.l4_offset, 54 + 8 + 16 + 24 + 24 + 8);
	assert_int_equal(p.payload_offset, p.l4_offset + 8);
	assert_int_equal(p.payload_len, 12);
	assert_int_equal(p.src_port, 3000);
}

static void test_ipv6_max_ext_headers(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	for (int i = 0; i < ZTG_DECODE_MAX_IPV6_EXT_HEADERS; i++)
		ipv6_ext(&f, 60, i + 1 < ZTG_DECODE_MAX_IPV6_EXT_HEADERS ? 60 : 6, 8);
	tcp(&f, 1, 2, ACK, 0, 0);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l4_offset, 54 + 8 * ZTG_DECODE_MAX_IPV6_EXT_HEADERS);
}

static void test_ipv6_esp_and_no_next_header(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 60, 50, 8);
	data(&f, 32);                  /* SPI, sequence, ciphertext */
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l4_proto, 50);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_offset, 62);
	assert_int_equal(p.payload_len, 32);
	assert_true(p.flags & ZTG_PACKET_F_IPV6_EXT);

	/* Empty payload with No Next Header, padded to the minimum frame. */
	eth(&f, 0x86dd);
	ipv6(&f, 59, "2001:db8::1", "2001:db8::2");
	finish(&f);
	pad_to(&f, MIN_FRAME);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l4_proto, 59);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.l3_len, 40);
	assert_int_equal(p.payload_len, 0);
}

static void test_ipv6_first_fragment(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 6, 0, 1, 0xdeadbeef);
	tcp(&f, 5555, 80, PSH_ACK, 1, 1);
	data(&f, 12);                  /* 20 + 12 = 32, a multiple of 8 */
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_FRAGMENT | ZTG_PACKET_F_MORE_FRAGMENTS |
					  ZTG_PACKET_F_IPV6_EXT);
	assert_int_equal(p.fragment_id, 0xdeadbeef);
	assert_int_equal(p.fragment_offset, 0);
	assert_int_equal(p.l4_proto, 6);
	assert_int_equal(p.l4_offset, 62);
	assert_int_equal(p.src_port, 5555);
	assert_int_equal(p.payload_len, 12);
}

static void test_ipv6_non_first_fragment(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 60, 44, 8);
	ipv6_frag(&f, 60, 1232, 0, 99);
	/*
	 * The next header names a destination options header, but these bytes
	 * are the middle of the datagram: as a header they would overrun.
	 */
	put8(&f, 0);
	put8(&f, 0xff);
	data(&f, 9);
	finish(&f);
	pad_to(&f, 120);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_FRAGMENT | ZTG_PACKET_F_IPV6_EXT);
	assert_int_equal(p.fragment_offset, 1232);
	assert_int_equal(p.fragment_id, 99);
	assert_int_equal(p.l4_proto, 60);
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.payload_offset, 14 + 40 + 8 + 8);
	assert_int_equal(p.payload_len, 11);
	assert_int_equal(p.src_port, 0);
}

static void test_ipv6_atomic_fragment(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 17, 0, 0, 1);
	udp(&f, 1, 53);
	data(&f, 3);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.flags, ZTG_PACKET_F_IPV6_EXT);
	assert_int_equal(p.l4_offset, 62);
	assert_int_equal(p.dst_port, 53);
	assert_int_equal(p.payload_len, 3);
}

static void test_icmpv6_nd_and_mld_are_non_ip(void **state)
{
	static const uint8_t link_control[] = { 130, 131, 132, 133, 134, 135, 136, 137, 143 };
	struct frame f;
	struct ztg_packet p;

	(void)state;
	for (size_t i = 0; i < sizeof(link_control); i++) {
		eth(&f, 0x86dd);
		ipv6(&f, 58, "fe80::1", "ff02::1:ff00:2");
		icmp(&f, link_control[i], 0, 0);
		data(&f, 16);
		finish(&f);
		assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
		assert_int_equal(p.kind, ZTG_PACKET_NON_IP);
		assert_int_equal(p.ip_version, 6);
		assert_int_equal(p.icmp_type, link_control[i]);
		assert_int_equal(p.l4_offset, 54);
		assert_int_equal(p.payload_offset, 62);
		assert_int_equal(p.payload_len, 16);
		assert_int_equal(p.src_port, 0);
	}
	/* MLD behind hop-by-hop router alert, as it is really sent. */
	eth(&f, 0x86dd);
	ipv6(&f, 0, "fe80::1", "ff02::16");
	ipv6_ext(&f, 0, 58, 8);
	icmp(&f, 143, 0, 0);
	data(&f, 20);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_NON_IP);
	assert_int_equal(p.l4_offset, 62);
}

static void test_icmpv6_echo_and_error(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 58, "2001:db8::1", "2001:db8::2");
	icmp(&f, 128, 0, 0x1111);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_IP);
	assert_int_equal(p.src_port, 0x1111);
	assert_int_equal(p.dst_port, 0x1111);

	eth(&f, 0x86dd);
	ipv6(&f, 58, "2001:db8::1", "2001:db8::2");
	icmp(&f, 1, 4, 0x1111);        /* destination unreachable */
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.kind, ZTG_PACKET_IP);
	assert_int_equal(p.src_port, 0);
}

/* ------------------------------------------------------------ bad: layer 2 */

static void test_eth_truncated(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x0800);
	f.len = 13;
	assert_reason(&f, ZTG_DROP_ETH_TRUNCATED);
	assert_int_equal(ztg_decode_packet(NULL, 0, 0, &p), ZTG_DROP_ETH_TRUNCATED);
}

static void test_vlan_truncated(void **state)
{
	static const uint16_t tpid[2] = { 0x88a8, 0x8100 };
	static const uint16_t vid[2] = { 1, 2 };
	struct frame f;

	(void)state;
	eth_vlan(&f, 2, tpid, vid, 0x0800);
	for (size_t len = 14; len < 22; len++) {
		f.len = len;
		assert_reason(&f, ZTG_DROP_VLAN_TRUNCATED);
	}
}

static void test_vlan_too_many_tags(void **state)
{
	static const uint16_t tpid[3] = { 0x88a8, 0x8100, 0x8100 };
	static const uint16_t vid[3] = { 1, 2, 3 };
	struct frame f;

	(void)state;
	eth_vlan(&f, 3, tpid, vid, 0x0800);
	ipv4(&f, 17, "10.0.0.1", "10.0.0.2");
	udp(&f, 1, 2);
	finish(&f);
	assert_reason(&f, ZTG_DROP_VLAN_TOO_MANY_TAGS);
}

static void test_arp_truncated(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x0806);
	put16(&f, 1);
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 1);
	zeros(&f, 19);                 /* 27 bytes of ARP */
	assert_reason(&f, ZTG_DROP_ARP_TRUNCATED);

	/* Long enough for Ethernet/IPv4, but its own sizes say 8 + 2 * (16 + 16). */
	eth(&f, 0x0806);
	put16(&f, 1);
	put16(&f, 0x0800);
	put8(&f, 16);
	put8(&f, 16);
	put16(&f, 1);
	zeros(&f, 40);
	assert_reason(&f, ZTG_DROP_ARP_TRUNCATED);

	/* Tiny address sizes do not excuse a frame shorter than Ethernet/IPv4 ARP. */
	eth(&f, 0x0806);
	zeros(&f, 27);
	assert_reason(&f, ZTG_DROP_ARP_TRUNCATED);
}

/* -------------------------------------------------------------- bad: IPv4 */

static void test_ipv4_truncated(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	f.len = 14 + 19;
	assert_reason(&f, ZTG_DROP_IPV4_TRUNCATED);

	/* IHL 15 (60 bytes) in a frame holding 40 bytes of IP. */
	tcp4_frame(&f, ACK, 0);
	f.b[f.l3] = 0x4f;
	assert_reason(&f, ZTG_DROP_IPV4_TRUNCATED);
}

static void test_ipv4_bad_version(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	f.b[f.l3] = 0x65;
	ipv4_fix_cksum(&f);
	assert_reason(&f, ZTG_DROP_IPV4_BAD_VERSION);
}

static void test_ipv4_bad_ihl(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	f.b[f.l3] = 0x44;
	assert_reason(&f, ZTG_DROP_IPV4_BAD_IHL);
	f.b[f.l3] = 0x40;
	assert_reason(&f, ZTG_DROP_IPV4_BAD_IHL);
}

static void test_ipv4_bad_total_length(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	set16(&f, f.l3 + 2, 19);
	ipv4_fix_cksum(&f);
	assert_reason(&f, ZTG_DROP_IPV4_BAD_TOTAL_LENGTH);

	tcp4_frame(&f, ACK, 4);
	set16(&f, f.l3 + 2, (uint16_t)(f.len - f.l3 + 1));
	ipv4_fix_cksum(&f);
	assert_reason(&f, ZTG_DROP_IPV4_BAD_TOTAL_LENGTH);

	/* Total length must not reach into the padding of a short frame either. */
	tcp4_frame(&f, ACK, 0);
	pad_to(&f, MIN_FRAME);
	set16(&f, f.l3 + 2, (uint16_t)(f.len - f.l3 + 1));
	ipv4_fix_cksum(&f);
	assert_reason(&f, ZTG_DROP_IPV4_BAD_TOTAL_LENGTH);
}

static void test_ipv4_bad_checksum(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	f.b[f.l3 + 8] = 63;            /* TTL changed without updating the checksum */
	assert_reason(&f, ZTG_DROP_IPV4_BAD_CHECKSUM);
}

static void ipv4_with_options(struct frame *f, const uint8_t *opts, size_t optlen)
{
	eth(f, 0x0800);
	ipv4_opts(f, 6, "10.0.0.1", "10.0.0.2", opts, optlen);
	tcp(f, 1, 2, ACK, 0, 0);
	finish(f);
}

static void test_ipv4_bad_options(void **state)
{
	static const uint8_t len_one[4] = { 1, 68, 1, 0 };
	static const uint8_t len_zero[4] = { 7, 0, 0, 0 };
	static const uint8_t overrun[8] = { 1, 1, 68, 8, 0, 0, 0, 0 };
	static const uint8_t no_len_byte[4] = { 1, 1, 1, 68 };
	struct frame f;

	(void)state;
	ipv4_with_options(&f, len_one, sizeof(len_one));
	assert_reason(&f, ZTG_DROP_IPV4_BAD_OPTIONS);
	ipv4_with_options(&f, len_zero, sizeof(len_zero));
	assert_reason(&f, ZTG_DROP_IPV4_BAD_OPTIONS);
	ipv4_with_options(&f, overrun, sizeof(overrun));
	assert_reason(&f, ZTG_DROP_IPV4_BAD_OPTIONS);
	ipv4_with_options(&f, no_len_byte, sizeof(no_len_byte));
	assert_reason(&f, ZTG_DROP_IPV4_BAD_OPTIONS);

	/* Same with the frame ending at the header: the length byte is not there to read. */
	eth(&f, 0x0800);
	ipv4_opts(&f, 253, "10.0.0.1", "10.0.0.2", no_len_byte, sizeof(no_len_byte));
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV4_BAD_OPTIONS);
}

static void test_ipv4_bad_addresses(void **state)
{
	static const char *const bad[][2] = {
		{ "224.0.0.1", "10.0.0.2" },
		{ "239.255.255.255", "10.0.0.2" },
		{ "255.255.255.255", "10.0.0.2" },
		{ "127.0.0.1", "10.0.0.2" },
		{ "10.0.0.1", "127.0.0.1" },
		{ "10.0.0.1", "127.255.255.254" },
	};
	struct frame f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eth(&f, 0x0800);
		ipv4(&f, 17, bad[i][0], bad[i][1]);
		udp(&f, 1, 2);
		finish(&f);
		assert_reason(&f, ZTG_DROP_IPV4_BAD_ADDRESS);
	}
}

static void test_ipv6_bad_addresses(void **state)
{
	static const char *const bad[][2] = {
		{ "ff02::1", "2001:db8::2" },
		{ "::1", "2001:db8::2" },
		{ "2001:db8::1", "::1" },
		{ "::ffff:10.0.0.1", "2001:db8::2" },
	};
	struct frame f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eth(&f, 0x86dd);
		ipv6(&f, 17, bad[i][0], bad[i][1]);
		udp(&f, 1, 2);
		finish(&f);
		assert_reason(&f, ZTG_DROP_IPV6_BAD_ADDRESS);
	}
}

static void test_ipv6_unspecified_source_is_legal(void **state)
{
	struct frame f;
	struct ztg_packet pkt;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 17, "::", "ff02::1:ff00:2");
	udp(&f, 1, 2);
	finish(&f);
	assert_int_equal(decode(&f, &pkt), ZTG_DROP_NONE);
}

/* ---------------------------------------------------------- bad: fragments */

static void test_ipv4_fragment_past_65535(void **state)
{
	struct frame f;

	(void)state;
	udp4_frame(&f, 1, 2, 8);       /* 16 bytes of IP payload */
	ipv4_set_frag(&f, 65520, 0, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);
}

static void test_ipv4_first_fragment_too_short(void **state)
{
	struct frame f;

	(void)state;
	/* TCP: 16 bytes of a 20-byte header. */
	tcp4_frame(&f, ACK, 0);
	set16(&f, f.l3 + 2, 20 + 16);
	f.len = f.l3 + 36;
	ipv4_set_frag(&f, 0, 1, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);

	/* TCP: base header present but its options continue in the next piece. */
	eth(&f, 0x0800);
	ipv4(&f, 6, "10.0.0.1", "10.0.0.2");
	tcp_opts(&f, 1, 2, ACK, 0, 0, 20);
	finish(&f);
	set16(&f, f.l3 + 2, 20 + 24);
	f.len = f.l3 + 44;
	ipv4_set_frag(&f, 0, 1, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);

	/* UDP and ICMP would need 8 bytes; the piece has 0 (still a multiple of 8). */
	udp4_frame(&f, 1, 2, 0);
	set16(&f, f.l3 + 2, 20);
	f.len = f.l3 + 20;
	ipv4_set_frag(&f, 0, 1, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);

	eth(&f, 0x0800);
	ipv4(&f, 1, "10.0.0.1", "10.0.0.2");
	icmp(&f, 8, 0, 1);
	finish(&f);
	set16(&f, f.l3 + 2, 20);
	f.len = f.l3 + 20;
	ipv4_set_frag(&f, 0, 1, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);
}

static void test_fragment_empty_piece(void **state)
{
	struct frame f;

	(void)state;
	/* A later IPv4 piece with no data: it would only take a reassembly slot. */
	udp4_frame(&f, 1, 2, 0);
	set16(&f, f.l3 + 2, 20);
	f.len = f.l3 + 20;
	ipv4_set_frag(&f, 64, 0, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);

	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 17, 64, 1, 1);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);
}

static void test_fragment_not_multiple_of_8(void **state)
{
	struct frame f;

	(void)state;
	udp4_frame(&f, 1, 2, 3);       /* 11 bytes of IP payload, more to follow */
	ipv4_set_frag(&f, 0, 1, 1);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);

	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 17, 8, 1, 1);
	data(&f, 12);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);
}

static void test_ipv6_fragment_past_65535(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 17, 65528, 0, 1);
	data(&f, 7);
	finish(&f);
	assert_reason(&f, ZTG_DROP_NONE);

	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 17, 65528, 0, 1);
	data(&f, 8);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);
}

static void test_ipv6_first_fragment_too_short(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 6, 0, 1, 1);
	data(&f, 16);                  /* 16 bytes cannot hold a TCP header */
	finish(&f);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);

	/* ICMPv6 with nothing after the fragment header. */
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 58, 0, 1, 1);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IP_BAD_FRAGMENT);
}

/* -------------------------------------------------------------- bad: IPv6 */

static void test_ipv6_truncated(void **state)
{
	struct frame f;

	(void)state;
	tcp6_frame(&f, ACK, 0);
	f.len = 14 + 39;
	assert_reason(&f, ZTG_DROP_IPV6_TRUNCATED);
}

static void test_ipv6_bad_version(void **state)
{
	struct frame f;

	(void)state;
	tcp6_frame(&f, ACK, 0);
	f.b[f.l3] = 0x40;
	assert_reason(&f, ZTG_DROP_IPV6_BAD_VERSION);
}

static void test_ipv6_bad_payload_length(void **state)
{
	struct frame f;

	(void)state;
	tcp6_frame(&f, ACK, 0);
	set16(&f, f.l3 + 4, 21);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_PAYLOAD_LENGTH);

	/* Jumbogram: payload length 0, hop-by-hop carrying the jumbo option. */
	eth(&f, 0x86dd);
	ipv6(&f, 0, "2001:db8::1", "2001:db8::2");
	put8(&f, 6);
	put8(&f, 0);
	put8(&f, 0xc2);
	put8(&f, 4);
	put32(&f, 40 + 8 + 20);
	tcp(&f, 1, 2, ACK, 0, 0);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_PAYLOAD_LENGTH);

	/* Zero with an upper layer announced is just as bad. */
	tcp6_frame(&f, ACK, 0);
	set16(&f, f.l3 + 4, 0);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_PAYLOAD_LENGTH);
}

static void test_ipv6_ext_header_overrun(void **state)
{
	struct frame f;

	(void)state;
	/* Destination options claiming 16 bytes with 8 left in the payload. */
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	put8(&f, 59);
	put8(&f, 1);
	zeros(&f, 6);
	finish(&f);
	pad_to(&f, 100);               /* padding must not count as header bytes */
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);

	/* Fewer than the 8 bytes every extension header has. */
	eth(&f, 0x86dd);
	ipv6(&f, 43, "2001:db8::1", "2001:db8::2");
	zeros(&f, 4);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);

	/* AH length in its 4-byte unit: (4 + 2) * 4 = 24 bytes, 16 present. */
	eth(&f, 0x86dd);
	ipv6(&f, 51, "2001:db8::1", "2001:db8::2");
	put8(&f, 59);
	put8(&f, 4);
	zeros(&f, 14);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);

	/* A header announced exactly where the payload (and the frame) ends. */
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 60, 60, 8);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);

	/* Fragment header cut short. */
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	zeros(&f, 6);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);
}

static void test_ipv6_hop_by_hop_not_first(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 60, 0, 8);
	ipv6_ext(&f, 0, 6, 8);
	tcp(&f, 1, 2, ACK, 0, 0);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);
}

static void test_ipv6_routing_type_0(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 43, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 43, 6, 24);
	f.b[f.l3 + 40 + 2] = 0;        /* routing type 0 */
	tcp(&f, 1, 2, ACK, 0, 0);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);
}

static void test_ipv6_duplicate_fragment_header(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2");
	ipv6_frag(&f, 44, 0, 0, 1);    /* atomic */
	ipv6_frag(&f, 6, 0, 1, 2);
	tcp(&f, 1, 2, ACK, 0, 0);
	data(&f, 4);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_BAD_EXT_HEADER);
}

static void test_ipv6_too_many_ext_headers(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 60, "2001:db8::1", "2001:db8::2");
	for (int i = 0; i <= ZTG_DECODE_MAX_IPV6_EXT_HEADERS; i++)
		ipv6_ext(&f, 60, i < ZTG_DECODE_MAX_IPV6_EXT_HEADERS ? 60 : 6, 8);
	tcp(&f, 1, 2, ACK, 0, 0);
	finish(&f);
	assert_reason(&f, ZTG_DROP_IPV6_TOO_MANY_EXT_HEADERS);
}

/* ---------------------------------------------------------------- bad: TCP */

static void test_tcp_truncated(void **state)
{
	struct frame f;

	(void)state;
	/* IP length says 19 bytes of TCP; padding after it must not help. */
	tcp4_frame(&f, ACK, 0);
	set16(&f, f.l3 + 2, 20 + 19);
	ipv4_fix_cksum(&f);
	assert_reason(&f, ZTG_DROP_TCP_TRUNCATED);

	tcp6_frame(&f, ACK, 0);
	set16(&f, f.l3 + 4, 19);
	assert_reason(&f, ZTG_DROP_TCP_TRUNCATED);
}

static void test_tcp_bad_data_offset(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 8);
	f.b[f.l4 + 12] = 4 << 4;
	assert_reason(&f, ZTG_DROP_TCP_BAD_DATA_OFFSET);

	tcp4_frame(&f, ACK, 8);
	f.b[f.l4 + 12] = 8 << 4;       /* 32 bytes of header in a 28-byte segment */
	assert_reason(&f, ZTG_DROP_TCP_BAD_DATA_OFFSET);

	/* Exactly the segment is fine: header only, no payload. */
	tcp4_frame(&f, ACK, 8);
	f.b[f.l4 + 12] = 7 << 4;
	assert_reason(&f, ZTG_DROP_NONE);
}

static void test_tcp_bad_flags(void **state)
{
	static const uint8_t bad[] = {
		0,
		ZTG_TCP_PSH,
		ZTG_TCP_URG | ZTG_TCP_ECE | ZTG_TCP_CWR,
		ZTG_TCP_SYN | ZTG_TCP_FIN,
		ZTG_TCP_SYN | ZTG_TCP_FIN | ZTG_TCP_ACK,
		ZTG_TCP_SYN | ZTG_TCP_RST,
		ZTG_TCP_SYN | ZTG_TCP_RST | ZTG_TCP_ACK,
		ZTG_TCP_FIN,
		ZTG_TCP_FIN | ZTG_TCP_PSH | ZTG_TCP_URG,   /* Xmas */
		ZTG_TCP_SYN | ZTG_TCP_PSH,
		ZTG_TCP_RST | ZTG_TCP_URG,
		0xff,
	};
	struct frame f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		tcp4_frame(&f, bad[i], 0);
		assert_reason(&f, ZTG_DROP_TCP_BAD_FLAGS);
	}
}

static void test_tcp_bad_port(void **state)
{
	struct frame f;

	(void)state;
	tcp4_frame(&f, ACK, 0);
	set16(&f, f.l4, 0);
	assert_reason(&f, ZTG_DROP_TCP_BAD_PORT);
	tcp6_frame(&f, ACK, 0);
	set16(&f, f.l4 + 2, 0);
	assert_reason(&f, ZTG_DROP_TCP_BAD_PORT);
}

/* ---------------------------------------------------------- bad: UDP, ICMP */

static void test_udp_truncated(void **state)
{
	struct frame f;

	(void)state;
	udp4_frame(&f, 1, 2, 0);
	set16(&f, f.l3 + 2, 20 + 7);
	ipv4_fix_cksum(&f);
	assert_reason(&f, ZTG_DROP_UDP_TRUNCATED);
}

static void test_udp_bad_length(void **state)
{
	struct frame f;

	(void)state;
	udp4_frame(&f, 1, 2, 10);
	set16(&f, f.l4 + 4, 7);
	assert_reason(&f, ZTG_DROP_UDP_BAD_LENGTH);

	udp4_frame(&f, 1, 2, 10);
	set16(&f, f.l4 + 4, 19);
	assert_reason(&f, ZTG_DROP_UDP_BAD_LENGTH);

	/* Link padding is not IP payload. */
	udp4_frame(&f, 1, 2, 2);
	pad_to(&f, MIN_FRAME);
	set16(&f, f.l4 + 4, 11);
	assert_reason(&f, ZTG_DROP_UDP_BAD_LENGTH);
}

static void test_udp_bad_port(void **state)
{
	struct frame f;

	(void)state;
	udp4_frame(&f, 1, 0, 0);
	assert_reason(&f, ZTG_DROP_UDP_BAD_PORT);
	udp4_frame(&f, 0, 0, 0);
	assert_reason(&f, ZTG_DROP_UDP_BAD_PORT);
}

static void test_icmp_truncated(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 1, "10.0.0.1", "10.0.0.2");
	icmp(&f, 8, 0, 1);
	f.len -= 1;
	finish(&f);
	pad_to(&f, MIN_FRAME);
	assert_reason(&f, ZTG_DROP_ICMP_TRUNCATED);
}

static void test_icmpv6_truncated(void **state)
{
	struct frame f;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 58, "fe80::1", "ff02::1");
	icmp(&f, 135, 0, 0);
	f.len -= 4;
	finish(&f);
	pad_to(&f, 100);
	assert_reason(&f, ZTG_DROP_ICMPV6_TRUNCATED);
}

/* ------------------------------------------------------------ robustness */

/* Offsets are 16-bit: a frame past 64 KiB is decoded over its first 65535 bytes. */
static void test_oversized_frame(void **state)
{
	size_t big = 70000;
	uint8_t *buf = calloc(1, big);
	struct frame f;
	struct ztg_packet p;

	(void)state;
	assert_non_null(buf);
	tcp4_frame(&f, ACK, 100);
	memcpy(buf, f.b, f.len);
	assert_int_equal(decode_buf(buf, big, 0, &p), ZTG_DROP_NONE);
	assert_int_equal(p.frame_len, 65535);
	assert_int_equal(p.payload_len, 100);

	eth(&f, 0x88cc);
	memcpy(buf, f.b, f.len);
	assert_int_equal(decode_buf(buf, big, 0, &p), ZTG_DROP_NONE);
	assert_int_equal(p.l3_len, 65535 - 14);
	free(buf);
}

static bool is_truncation(enum ztg_drop_reason r)
{
	switch (r) {
	case ZTG_DROP_ETH_TRUNCATED:
	case ZTG_DROP_VLAN_TRUNCATED:
	case ZTG_DROP_IPV4_TRUNCATED:
	case ZTG_DROP_IPV6_TRUNCATED:
	case ZTG_DROP_IPV4_BAD_TOTAL_LENGTH:
	case ZTG_DROP_IPV6_BAD_PAYLOAD_LENGTH:
		return true;
	default:
		return false;
	}
}

/* Every strict prefix of a frame with no link padding must be refused as cut short. */
static void sweep_prefixes(const struct frame *f)
{
	struct ztg_packet p;

	for (size_t len = 0; len < f->len; len++) {
		enum ztg_drop_reason r = decode_buf(f->b, len, 0, &p);

		if (r == ZTG_DROP_NONE)
			fail_msg("prefix of %zu/%zu bytes decoded", len, f->len);
		if (!is_truncation(r))
			fail_msg("prefix of %zu/%zu bytes: %s", len, f->len, ztg_drop_reason_name(r));
	}
}

static void test_truncation_sweep_tcp6(void **state)
{
	struct frame f;
	struct ztg_packet p;

	(void)state;
	eth(&f, 0x86dd);
	ipv6(&f, 0, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&f, 0, 60, 8);
	ipv6_ext(&f, 60, 44, 16);
	ipv6_frag(&f, 6, 0, 0, 3);
	tcp_opts(&f, 40000, 443, PSH_ACK, 1, 2, 12);
	data(&f, 33);
	finish(&f);
	assert_int_equal(decode(&f, &p), ZTG_DROP_NONE);
	assert_int_equal(p.payload_len, 33);
	sweep_prefixes(&f);

	/* Every cut in the padding alone still decodes to the same packet. */
	pad_to(&f, f.len + 30);
	for (size_t len = f.ip_end; len <= f.len; len++) {
		assert_int_equal(decode_buf(f.b, len, 0, &p), ZTG_DROP_NONE);
		assert_int_equal(p.payload_len, 33);
		assert_int_equal(p.l3_len, f.ip_end - 14);
	}
}

static void test_truncation_sweep_other_frames(void **state)
{
	static const uint16_t tpid[2] = { 0x88a8, 0x8100 };
	static const uint16_t vid[2] = { 10, 20 };
	static const uint8_t opts[8] = { 1, 148, 4, 0, 0, 0, 0, 0 };
	struct frame f;

	(void)state;
	eth_vlan(&f, 2, tpid, vid, 0x0800);
	ipv4_opts(&f, 6, "10.0.0.1", "10.0.0.2", opts, sizeof(opts));
	tcp_opts(&f, 1, 2, ACK, 0, 0, 8);
	data(&f, 17);
	finish(&f);
	assert_reason(&f, ZTG_DROP_NONE);
	sweep_prefixes(&f);

	udp4_frame(&f, 1, 2, 9);
	assert_reason(&f, ZTG_DROP_NONE);
	sweep_prefixes(&f);

	eth(&f, 0x86dd);
	ipv6(&f, 58, "fe80::1", "ff02::1");
	icmp(&f, 135, 0, 0);
	data(&f, 16);
	finish(&f);
	assert_reason(&f, ZTG_DROP_NONE);
	sweep_prefixes(&f);
}

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/*
 * Random corruption and cuts of valid frames: whatever comes back, it must
 * not read out of bounds, and a success must satisfy the invariants.
 */
static void test_mutation_fuzz(void **state)
{
	struct frame seeds[6];
	uint32_t rng = 0x12345678u;
	struct ztg_packet p;
	uint8_t buf[FRAME_MAX];
	size_t decoded = 0;

	(void)state;
	tcp4_frame(&seeds[0], PSH_ACK, 40);
	tcp6_frame(&seeds[1], PSH_ACK, 40);
	eth(&seeds[2], 0x86dd);
	ipv6(&seeds[2], 0, "2001:db8::1", "2001:db8::2");
	ipv6_ext(&seeds[2], 0, 43, 8);
	ipv6_ext(&seeds[2], 43, 44, 16);
	ipv6_frag(&seeds[2], 17, 0, 1, 3);
	udp(&seeds[2], 1, 2);
	data(&seeds[2], 24);
	finish(&seeds[2]);
	udp4_frame(&seeds[3], 1, 2, 30);
	ipv4_set_frag(&seeds[3], 0, 1, 9);
	eth(&seeds[4], 0x0800);
	{
		static const uint8_t opts[8] = { 1, 68, 4, 5, 1, 0, 0, 0 };

		ipv4_opts(&seeds[4], 1, "10.0.0.1", "10.0.0.2", opts, sizeof(opts));
	}
	icmp(&seeds[4], 8, 0, 3);
	data(&seeds[4], 20);
	finish(&seeds[4]);
	{
		static const uint16_t tpid[2] = { 0x8100, 0x8100 };
		static const uint16_t vid[2] = { 1, 2 };

		eth_vlan(&seeds[5], 2, tpid, vid, 0x86dd);
	}
	ipv6(&seeds[5], 58, "fe80::1", "ff02::1");
	icmp(&seeds[5], 136, 0, 0);
	data(&seeds[5], 24);
	finish(&seeds[5]);

	for (int iter = 0; iter < 200000; iter++) {
		const struct frame *s = &seeds[xorshift32(&rng) % 6];
		size_t len = s->len;
		int flips = 1 + (int)(xorshift32(&rng) % 4);

		memcpy(buf, s->b, len);
		for (int k = 0; k < flips; k++) {
			size_t at = xorshift32(&rng) % len;

			buf[at] = (uint8_t)xorshift32(&rng);
		}
		if (xorshift32(&rng) & 1)
			len = xorshift32(&rng) % (len + 1);
		if (decode_buf(buf, len, ZTG_DECODE_IPV4_CKSUM_VERIFIED, &p) == ZTG_DROP_NONE)
			decoded++;
	}
	/* The mutations must leave plenty of frames that still decode. */
	assert_true(decoded > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* well-formed */
		cmocka_unit_test(test_arp_is_non_ip),
		cmocka_unit_test(test_lldp_and_8023_are_non_ip),
		cmocka_unit_test(test_qinq_vlan_ids),
		cmocka_unit_test(test_single_vlan_9100),
		cmocka_unit_test(test_tcp4_with_link_padding),
		cmocka_unit_test(test_tcp4_options_and_syn),
		cmocka_unit_test(test_tcp_valid_flag_sets),
		cmocka_unit_test(test_ipv4_options_valid),
		cmocka_unit_test(test_ipv4_options_fill_header),
		cmocka_unit_test(test_udp4_good_and_src_port_zero),
		cmocka_unit_test(test_udp_length_shorter_than_ip_payload),
		cmocka_unit_test(test_dhcp_discover_is_legal),
		cmocka_unit_test(test_multicast_destination_is_legal),
		cmocka_unit_test(test_icmp4_echo_and_unreachable),
		cmocka_unit_test(test_gre_is_opaque_ip),
		cmocka_unit_test(test_ipv4_checksum_offloaded),
		cmocka_unit_test(test_ipv4_first_fragment),
		cmocka_unit_test(test_ipv4_non_first_fragments),
		cmocka_unit_test(test_ipv4_fragment_ends_at_65535),
		cmocka_unit_test(test_tcp6_with_padding),
		cmocka_unit_test(test_ipv6_ext_chain),
		cmocka_unit_test(test_ipv6_max_ext_headers),
		cmocka_unit_test(test_ipv6_esp_and_no_next_header),
		cmocka_unit_test(test_ipv6_first_fragment),
		cmocka_unit_test(test_ipv6_non_first_fragment),
		cmocka_unit_test(test_ipv6_atomic_fragment),
		cmocka_unit_test(test_icmpv6_nd_and_mld_are_non_ip),
		cmocka_unit_test(test_icmpv6_echo_and_error),
		/* malformed: layer 2 */
		cmocka_unit_test(test_eth_truncated),
		cmocka_unit_test(test_vlan_truncated),
		cmocka_unit_test(test_vlan_too_many_tags),
		cmocka_unit_test(test_arp_truncated),
		/* malformed: IPv4 */
		cmocka_unit_test(test_ipv4_truncated),
		cmocka_unit_test(test_ipv4_bad_version),
		cmocka_unit_test(test_ipv4_bad_ihl),
		cmocka_unit_test(test_ipv4_bad_total_length),
		cmocka_unit_test(test_ipv4_bad_checksum),
		cmocka_unit_test(test_ipv4_bad_options),
		cmocka_unit_test(test_ipv4_bad_addresses),
		cmocka_unit_test(test_ipv6_bad_addresses),
		cmocka_unit_test(test_ipv6_unspecified_source_is_legal),
		/* malformed: fragments */
		cmocka_unit_test(test_ipv4_fragment_past_65535),
		cmocka_unit_test(test_ipv4_first_fragment_too_short),
		cmocka_unit_test(test_fragment_empty_piece),
		cmocka_unit_test(test_fragment_not_multiple_of_8),
		cmocka_unit_test(test_ipv6_fragment_past_65535),
		cmocka_unit_test(test_ipv6_first_fragment_too_short),
		/* malformed: IPv6 */
		cmocka_unit_test(test_ipv6_truncated),
		cmocka_unit_test(test_ipv6_bad_version),
		cmocka_unit_test(test_ipv6_bad_payload_length),
		cmocka_unit_test(test_ipv6_ext_header_overrun),
		cmocka_unit_test(test_ipv6_hop_by_hop_not_first),
		cmocka_unit_test(test_ipv6_routing_type_0),
		cmocka_unit_test(test_ipv6_duplicate_fragment_header),
		cmocka_unit_test(test_ipv6_too_many_ext_headers),
		/* malformed: layer 4 */
		cmocka_unit_test(test_tcp_truncated),
		cmocka_unit_test(test_tcp_bad_data_offset),
		cmocka_unit_test(test_tcp_bad_flags),
		cmocka_unit_test(test_tcp_bad_port),
		cmocka_unit_test(test_udp_truncated),
		cmocka_unit_test(test_udp_bad_length),
		cmocka_unit_test(test_udp_bad_port),
		cmocka_unit_test(test_icmp_truncated),
		cmocka_unit_test(test_icmpv6_truncated),
		/* robustness */
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_truncation_sweep_tcp6),
		cmocka_unit_test(test_truncation_sweep_other_frames),
		cmocka_unit_test(test_mutation_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
