/*
 * Unit tests for cutting a reassembled datagram back into fragments.
 *
 * Each case builds a whole datagram frame, cuts it, and checks every piece:
 * the decoder accepts it as the right fragment, the IPv4 header checksum
 * verifies with a sum computed here independently, the header fields the
 * receiver keys on are the datagram's, and the pieces' data put end to end
 * give back the datagram's payload.
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
#include "reassembly/ip_fragment.h"

#define FRAME_MAX 4096

struct datagram {
	uint8_t b[FRAME_MAX];
	uint32_t len;
	uint16_t l3;
	uint32_t header;        /* IPv4 IHL in bytes, or 40 */
	uint32_t payload;       /* bytes after the IP header */
};

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Byte-by-byte one's-complement sum, sharing nothing with checksum.h. */
static uint16_t header_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += (i % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t link_header(uint8_t *b, int vlans, uint16_t ethertype)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	uint32_t off = 12;

	memcpy(b, macs, sizeof(macs));
	for (int v = 0; v < vlans; v++) {
		put16(b + off, v == 0 && vlans > 1 ? 0x88a8 : 0x8100);
		put16(b + off + 2, 100u + (uint32_t)v);
		off += 4;
	}
	put16(b + off, ethertype);
	return off + 2;
}

/* UDP datagram over IPv4 with the given option bytes (a multiple of 4). */
static void ipv4_datagram(struct datagram *d, const uint8_t *options, uint32_t options_len, uint32_t data_len,
			  bool dont_fragment)
{
	uint8_t *ip;
	uint32_t sum;

	memset(d, 0, sizeof(*d));
	d->l3 = (uint16_t)link_header(d->b, 0, 0x0800);
	ip = d->b + d->l3;
	d->header = 20 + options_len;
	d->payload = 8 + data_len;
	ip[0] = (uint8_t)(0x40 | d->header / 4);
	ip[1] = 0x28;
	put16(ip + 2, d->header + d->payload);
	put16(ip + 4, 0x1234);
	put16(ip + 6, dont_fragment ? 0x4000 : 0);
	ip[8] = 61;
	ip[9] = 17;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, "198.51.100.2", ip + 16);
	memcpy(ip + 20, options, options_len);
	sum = header_sum(ip, d->header);
	put16(ip + 10, ~sum & 0xffff);
	put16(ip + d->header, 4000);
	put16(ip + d->header + 2, 53);
	put16(ip + d->header + 4, d->payload);
	for (uint32_t i = 0; i < data_len; i++)
		ip[d->header + 8 + i] = (uint8_t)(i * 7 + 3);
	d->len = d->l3 + d->header + d->payload;
}

static void ipv6_datagram(struct datagram *d, int vlans, uint32_t data_len)
{
	uint8_t *ip;

	memset(d, 0, sizeof(*d));
	d->l3 = (uint16_t)link_header(d->b, vlans, 0x86dd);
	ip = d->b + d->l3;
	d->header = 40;
	d->payload = 8 + data_len;
	ip[0] = 0x60;
	ip[1] = 0x0a;
	ip[3] = 0x42;
	put16(ip + 4, d->payload);
	ip[6] = 17;
	ip[7] = 33;
	inet_pton(AF_INET6, "2001:db8::1", ip + 8);
	inet_pton(AF_INET6, "2001:db8:1::2", ip + 24);
	put16(ip + 40, 4000);
	put16(ip + 42, 53);
	put16(ip + 44, d->payload);
	for (uint32_t i = 0; i < data_len; i++)
		ip[48 + i] = (uint8_t)(i * 5 + 1);
	d->len = d->l3 + d->header + d->payload;
}

static struct ztg_fragment_source source_of(const struct datagram *d, int version)
{
	return (struct ztg_fragment_source){
		.frame = d->b,
		.frame_len = d->len,
		.l3_offset = d->l3,
		.ip_version = (uint8_t)version,
		.ipv6_id = 0xcafe0001,
	};
}

/*
 * Cut d into pieces of the given sizes (the last taking the rest), check each
 * one, and check the pieces rebuild the payload. Returns the header length
 * of each piece in header_lens.
 */
static void cut_and_check(const struct datagram *d, int version, const uint32_t *sizes, unsigned int count,
			  uint32_t *header_lens)
{
	struct ztg_fragment_source src = source_of(d, version);
	uint8_t rebuilt[FRAME_MAX];
	uint32_t offset = 0;

	for (unsigned int k = 0; k < count; k++) {
		bool last = k + 1 == count;
		uint32_t len = last ? d->payload - offset : sizes[k];
		uint8_t *out = malloc(FRAME_MAX);
		uint32_t n = ztg_fragment_build(&src, offset, len, !last, out, FRAME_MAX);
		struct ztg_packet pkt;
		const uint8_t *ip = out + d->l3;
		uint32_t header;

		assert_non_null(out);
		assert_true(n > 0);
		assert_true(n <= ztg_fragment_max_len(&src, len));
		assert_memory_equal(out, d->b, d->l3);
		assert_int_equal(ztg_decode_packet(out, n, 0, &pkt), ZTG_DROP_NONE);
		assert_true(pkt.flags & ZTG_PACKET_F_FRAGMENT);
		assert_int_equal(!!(pkt.flags & ZTG_PACKET_F_MORE_FRAGMENTS), !last);
		assert_int_equal(pkt.fragment_offset, offset);
		assert_int_equal(pkt.l3_offset, d->l3);
		assert_int_equal(pkt.ip_version, version);
		assert_int_equal(pkt.ttl, version == 4 ? 61 : 33);
		if (version == 4) {
			header = (ip[0] & 15u) * 4u;
			assert_int_equal(header_sum(ip, header), 0xffff);
			assert_int_equal(get16(ip + 2), header + len);
			assert_int_equal(get16(ip + 4), 0x1234);
			assert_int_equal(ip[1], 0x28);
			assert_int_equal(get16(ip + 6) & 0x4000, get16(d->b + d->l3 + 6) & 0x4000);
			assert_memory_equal(ip + 12, d->b + d->l3 + 12, 8);
		} else {
			header = 48;
			assert_int_equal(pkt.fragment_id, 0xcafe0001);
			assert_int_equal(get16(ip + 4), 8 + len);
			assert_int_equal(ip[6], 44);
			assert_int_equal(ip[40], 17);
			assert_memory_equal(ip, d->b + d->l3, 4);
			assert_memory_equal(ip + 8, d->b + d->l3 + 8, 32);
		}
		assert_int_equal(n, d->l3 + header + len);
		memcpy(rebuilt + offset, ip + header, len);
		header_lens[k] = header;
		offset += len;
		free(out);
	}
	assert_int_equal(offset, d->payload);
	assert_memory_equal(rebuilt, d->b + d->l3 + d->header, d->payload);
}

static void test_ipv4_pieces(void **state)
{
	struct datagram d;
	uint32_t sizes[] = { 64, 32, 0 }, headers[3];

	(void)state;
	ipv4_datagram(&d, NULL, 0, 200, false);
	cut_and_check(&d, 4, sizes, 3, headers);
	assert_int_equal(headers[0], 20);
	assert_int_equal(headers[2], 20);

	/* DF stays as the sender set it. */
	ipv4_datagram(&d, NULL, 0, 100, true);
	cut_and_check(&d, 4, sizes, 2, headers);
}

static void test_ipv4_options_follow_the_copied_flag(void **state)
{
	/* Router alert (copied, 4 bytes), record route (not copied, 7 bytes), EOL. */
	static const uint8_t options[12] = { 0x94, 4, 0, 0, 0x07, 7, 4, 0, 0, 0, 0, 0 };
	struct datagram d;
	uint32_t sizes[] = { 48, 0 }, headers[2];
	struct ztg_fragment_source src;
	uint8_t out[FRAME_MAX];
	uint32_t n;

	(void)state;
	ipv4_datagram(&d, options, sizeof(options), 100, false);
	cut_and_check(&d, 4, sizes, 2, headers);
	assert_int_equal(headers[0], 32);   /* the first piece keeps every option */
	assert_int_equal(headers[1], 24);   /* later ones only router alert */

	src = source_of(&d, 4);
	n = ztg_fragment_build(&src, 48, 60, false, out, sizeof(out));
	assert_int_equal(n, d.l3 + 24 + 60);
	assert_memory_equal(out + d.l3 + 20, options, 4);
}

static void test_ipv6_pieces(void **state)
{
	struct datagram d;
	uint32_t sizes[] = { 16, 64, 8, 0 }, headers[4];

	(void)state;
	ipv6_datagram(&d, 0, 300);
	cut_and_check(&d, 6, sizes, 4, headers);
	ipv6_datagram(&d, 2, 100);          /* QinQ: the tags are copied to every piece */
	cut_and_check(&d, 6, sizes, 2, headers);
}

static void test_refused(void **state)
{
	struct datagram d;
	struct ztg_fragment_source src;
	uint8_t out[FRAME_MAX];

	(void)state;
	ipv4_datagram(&d, NULL, 0, 100, false);
	src = source_of(&d, 4);
	assert_int_equal(ztg_fragment_build(&src, 4, 16, true, out, sizeof(out)), 0);     /* offset not /8 */
	assert_int_equal(ztg_fragment_build(&src, 0, 12, true, out, sizeof(out)), 0);     /* more, len not /8 */
	assert_int_equal(ztg_fragment_build(&src, 0, 0, false, out, sizeof(out)), 0);     /* empty */
	assert_int_equal(ztg_fragment_build(&src, 104, 8, false, out, sizeof(out)), 0);   /* past the payload */
	assert_int_equal(ztg_fragment_build(&src, 0, 48, true, out, 14 + 20 + 47), 0);    /* no room */
	assert_int_equal(ztg_fragment_build(&src, 0, 48, true, out, 14 + 20 + 48), 14 + 20 + 48);
	src.frame_len = d.len - 1;                                                        /* truncated */
	assert_int_equal(ztg_fragment_build(&src, 0, 48, true, out, sizeof(out)), 0);
	src = source_of(&d, 5);
	assert_int_equal(ztg_fragment_build(&src, 0, 48, true, out, sizeof(out)), 0);

	ipv6_datagram(&d, 0, 40);
	src = source_of(&d, 6);
	assert_int_equal(ztg_fragment_build(&src, 40, 16, false, out, sizeof(out)), 0);   /* past the payload */
	assert_int_equal(ztg_fragment_build(&src, 0, 48, false, out, 14 + 48 + 47), 0);   /* no room */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_pieces),
		cmocka_unit_test(test_ipv4_options_follow_the_copied_flag),
		cmocka_unit_test(test_ipv6_pieces),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
