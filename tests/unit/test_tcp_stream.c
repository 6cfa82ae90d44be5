/* TCP stream reassembly: plain C over byte buffers, no EAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "stream/tcp_stream.h"

#define S   ZTG_TCP_SYN
#define SA  (ZTG_TCP_SYN | ZTG_TCP_ACK)
#define A   ZTG_TCP_ACK
#define PA  (ZTG_TCP_PSH | ZTG_TCP_ACK)
#define FA  (ZTG_TCP_FIN | ZTG_TCP_ACK)
#define RA  (ZTG_TCP_RST | ZTG_TCP_ACK)

#define CLIENT 0u
#define SERVER 1u
#define NO_WSCALE (-1)
#define POOL_CHUNKS 64u
#define STREAM_MAX 200000u

/* Result names make failures readable: "deliver" != "drop_window" instead of 0 != 5. */
#define assert_result(got, want) \
	assert_string_equal(ztg_stream_result_name(got), ztg_stream_result_name(want))

struct fixture {
	struct ztg_stream_pool *pool;
	struct ztg_stream_config config;
	struct ztg_stream stream;
	struct ztg_stream_delivery delivery;
	uint32_t isn[2];
	uint8_t data[STREAM_MAX];      /* the bytes the client sends, by offset */
	uint8_t out[STREAM_MAX];       /* the bytes delivered, by offset */
};

static void fill(uint8_t *buf, uint32_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}

static struct fixture *fixture_new(uint32_t chunks)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->pool = ztg_stream_pool_create(chunks);
	assert_non_null(f->pool);
	ztg_stream_config_default(&f->config);
	ztg_stream_init(&f->stream);
	f->isn[CLIENT] = 1000;
	f->isn[SERVER] = 5000;
	fill(f->data, STREAM_MAX, 1);
	return f;
}

static int setup(void **state)
{
	*state = fixture_new(POOL_CHUNKS);
	return 0;
}

/* Every test ends by releasing its stream: nothing may stay in the pool. */
static void fixture_free(struct fixture *f)
{
	ztg_stream_release(&f->stream, f->pool);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	ztg_stream_pool_free(f->pool);
	free(f);
}

static int teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

static enum ztg_stream_result seg_opts(struct fixture *f, unsigned int sender, uint8_t flags, uint32_t seq,
				       uint32_t ack, uint16_t window, const uint8_t *opts, uint32_t opts_len,
				       const uint8_t *payload, uint32_t len)
{
	enum ztg_stream_result result;

	result = ztg_stream_segment(&f->stream, f->pool, &f->config, sender, flags, seq, ack, window, opts, opts_len,
				    payload, len, &f->delivery);
	if (result != ZTG_STREAM_DELIVER)
		assert_int_equal(f->delivery.count, 0);
	return result;
}

static enum ztg_stream_result seg(struct fixture *f, unsigned int sender, uint8_t flags, uint32_t seq, uint32_t ack,
				  uint16_t window, const uint8_t *payload, uint32_t len)
{
	return seg_opts(f, sender, flags, seq, ack, window, NULL, 0, payload, len);
}

/* SYN, SYN-ACK, ACK; a shift of NO_WSCALE leaves the option out. */
static void handshake_ws(struct fixture *f, int ws_client, int ws_server, uint16_t synack_window)
{
	uint8_t opt_c[4] = { 1, 3, 3, (uint8_t)ws_client };
	uint8_t opt_s[4] = { 1, 3, 3, (uint8_t)ws_server };
	uint32_t c = f->isn[CLIENT];
	uint32_t s = f->isn[SERVER];

	assert_result(seg_opts(f, CLIENT, S, c, 0, 65535, ws_client >= 0 ? opt_c : NULL, ws_client >= 0 ? 4 : 0,
			       NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(seg_opts(f, SERVER, SA, s, c + 1, synack_window, ws_server >= 0 ? opt_s : NULL,
			       ws_server >= 0 ? 4 : 0, NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(seg(f, CLIENT, A, c + 1, s + 1, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.count, 0);
}

static void handshake(struct fixture *f)
{
	handshake_ws(f, NO_WSCALE, NO_WSCALE, 65535);
}

/* Client bytes [off, off + len) of f->data. */
static enum ztg_stream_result cdata(struct fixture *f, uint32_t off, uint32_t len)
{
	return seg(f, CLIENT, PA, f->isn[CLIENT] + 1 + off, f->isn[SERVER] + 1, 65535, f->data + off, len);
}

/* Client bytes at off with the given content instead of f->data. */
static enum ztg_stream_result cdata_bytes(struct fixture *f, uint32_t off, const uint8_t *bytes, uint32_t len)
{
	return seg(f, CLIENT, PA, f->isn[CLIENT] + 1 + off, f->isn[SERVER] + 1, 65535, bytes, len);
}

/* The server acknowledges client bytes up to off and advertises window. */
static enum ztg_stream_result server_ack(struct fixture *f, uint32_t off, uint16_t window)
{
	return seg(f, SERVER, A, f->isn[SERVER] + 1, f->isn[CLIENT] + 1 + off, window, NULL, 0);
}

/* Copy the delivery to out at its offset; returns the bytes delivered. */
static uint32_t collect(struct fixture *f)
{
	uint32_t off = f->delivery.seq - (f->isn[CLIENT] + 1);
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->delivery.count; i++) {
		assert_true(off + n + f->delivery.pieces[i].len <= STREAM_MAX);
		memcpy(f->out + off + n, f->delivery.pieces[i].data, f->delivery.pieces[i].len);
		n += f->delivery.pieces[i].len;
	}
	assert_int_equal(n, f->delivery.bytes);
	return n;
}

/* Expect a delivery of client bytes [off, off + len) in `pieces` pieces, and check them. */
static void expect_delivery(struct fixture *f, uint32_t off, uint32_t len, uint32_t pieces)
{
	assert_int_equal(f->delivery.seq, f->isn[CLIENT] + 1 + off);
	assert_int_equal(f->delivery.count, pieces);
	assert_int_equal(collect(f), len);
	assert_memory_equal(f->out + off, f->data + off, len);
}

static uint32_t client_next(const struct fixture *f)
{
	return ztg_stream_next_seq(&f->stream, CLIENT) - (f->isn[CLIENT] + 1);
}

/* ---- handshake and in-order delivery ------------------------------------- */

static void test_handshake_in_order(void **state)
{
	struct fixture *f = *state;
	uint8_t response[40];

	handshake(f);
	assert_int_equal(ztg_stream_next_seq(&f->stream, CLIENT), f->isn[CLIENT] + 1);
	assert_int_equal(ztg_stream_next_seq(&f->stream, SERVER), f->isn[SERVER] + 1);

	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 100, 1);
	/* The segment's own bytes are handed out in place, not copied. */
	assert_ptr_equal(f->delivery.pieces[0].data, f->data);
	assert_result(cdata(f, 100, 60), ZTG_STREAM_DELIVER);
	expect_delivery(f, 100, 60, 1);
	assert_int_equal(client_next(f), 160);

	/* The other direction is its own stream. */
	fill(response, sizeof(response), 9);
	assert_result(seg(f, SERVER, PA, f->isn[SERVER] + 1, f->isn[CLIENT] + 161, 65535, response, sizeof(response)),
		      ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.count, 1);
	assert_int_equal(f->delivery.seq, f->isn[SERVER] + 1);
	assert_memory_equal(f->delivery.pieces[0].data, response, sizeof(response));
	assert_int_equal(ztg_stream_next_seq(&f->stream, SERVER), f->isn[SERVER] + 1 + sizeof(response));

	/* A pure ACK delivers nothing. */
	assert_result(seg(f, CLIENT, A, f->isn[CLIENT] + 161, f->isn[SERVER] + 41, 65535, NULL, 0),
		      ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.count, 0);
	assert_int_equal(f->delivery.bytes, 0);
}

static void test_data_before_handshake(void **state)
{
	struct fixture *f = *state;
	uint32_t c = f->isn[CLIENT];
	uint32_t s = f->isn[SERVER];

	/* TCP Fast Open: data on the SYN is not delivered (the SYN itself still counts). */
	assert_result(seg(f, CLIENT, S, c, 0, 65535, f->data, 50), ZTG_STREAM_DROP_WINDOW);
	assert_int_equal(ztg_stream_next_seq(&f->stream, CLIENT), c + 1);
	assert_result(seg(f, CLIENT, S, c, 0, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	/* Before the SYN-ACK nothing is deliverable. */
	assert_result(cdata(f, 0, 10), ZTG_STREAM_DROP_WINDOW);
	/* Data on the SYN-ACK is not delivered either. */
	assert_result(seg(f, SERVER, SA, s, c + 1, 65535, f->data, 10), ZTG_STREAM_DROP_WINDOW);
	assert_result(seg(f, SERVER, SA, s, c + 1, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	/* The responder may not talk before the initiator's ACK. */
	assert_result(seg(f, SERVER, PA, s + 1, c + 1, 65535, f->data, 10), ZTG_STREAM_DROP_WINDOW);
	/* An ACK that does not acknowledge the SYN-ACK completes nothing. */
	assert_result(seg(f, CLIENT, PA, c + 1, s + 7, 65535, f->data, 10), ZTG_STREAM_DROP_WINDOW);
	assert_result(seg(f, CLIENT, A, c + 1, s + 7, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	/* Data that acknowledges the SYN-ACK completes the handshake and is delivered. */
	assert_result(cdata(f, 0, 10), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 10, 1);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
}

static void test_rst_delivers_nothing(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 300, 100), ZTG_STREAM_BUFFERED);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 2);
	assert_result(seg(f, SERVER, RA, f->isn[SERVER] + 1, f->isn[CLIENT] + 101, 0, NULL, 0), ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.count, 0);
	/* A reset releases nothing by itself: that is the caller's call. */
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 2);
	ztg_stream_release(&f->stream, f->pool);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	/* Sequence state survives the release, for forged resets. */
	assert_int_equal(client_next(f), 100);
}

/* ---- window ------------------------------------------------------------ */

static void test_outside_window(void **state)
{
	struct fixture *f = *state;

	/* The SYN-ACK opens 1000 bytes for the client. */
	handshake_ws(f, NO_WSCALE, NO_WSCALE, 1000);
	assert_result(cdata(f, 0, 1001), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 500, 501), ZTG_STREAM_DROP_WINDOW);
	/* Out of order but past the right edge: still a window drop, not buffered. */
	assert_result(cdata(f, 1000, 10), ZTG_STREAM_DROP_WINDOW);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	assert_result(cdata(f, 0, 1000), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 1000, 1);
	/* Right at the edge. */
	assert_result(cdata(f, 1000, 1), ZTG_STREAM_DROP_WINDOW);
	/* The server opens more. */
	assert_result(server_ack(f, 1000, 1000), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 1000, 1000), ZTG_STREAM_DELIVER);
	expect_delivery(f, 1000, 1000, 1);
	/* A later, smaller window does not pull the edge back (data may already be in flight). */
	assert_result(server_ack(f, 1000, 500), ZTG_STREAM_DELIVER);
	assert_result(server_ack(f, 2000, 0), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 2000, 1), ZTG_STREAM_DROP_WINDOW);
}

static void test_left_of_window(void **state)
{
	struct fixture *f = *state;
	uint32_t off;

	handshake(f);
	for (off = 0; off < 70000; off += 1000) {
		assert_result(cdata(f, off, 1000), ZTG_STREAM_DELIVER);
		assert_result(server_ack(f, off + 1000, 65535), ZTG_STREAM_DELIVER);
	}
	/* More than a maximum window behind: no sender still holds these bytes. */
	assert_result(cdata(f, 0, 1000), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 3465, 1000), ZTG_STREAM_DROP_WINDOW);
	/* Within a window behind: the receiver re-acknowledges it, so it passes, unverifiable once acked. */
	assert_result(cdata(f, 3466, 1000), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 68000, 1000), ZTG_STREAM_UNVERIFIED);
}

static void test_unacceptable_ack(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	/* The server acknowledges bytes the client never sent: the client would drop the segment, text and all. */
	assert_result(seg(f, SERVER, PA, f->isn[SERVER] + 1, f->isn[CLIENT] + 500, 65535, f->data, 10),
		      ZTG_STREAM_DROP_WINDOW);
	assert_int_equal(ztg_stream_next_seq(&f->stream, SERVER), f->isn[SERVER] + 1);
	/* Without text it passes, but the ACK is not believed: retained bytes stay. */
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
	assert_result(seg(f, SERVER, A, f->isn[SERVER] + 1, f->isn[CLIENT] + 500, 65535, NULL, 0),
		      ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DUPLICATE);
	/* A proper ACK releases them. */
	assert_result(server_ack(f, 100, 65535), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
}

static void test_window_scaling(void **state)
{
	struct fixture *f = *state;

	/* Both SYNs carry the option: the server's windows count in units of 2^7. */
	handshake_ws(f, 7, 7, 1000);
	/* The SYN-ACK's own window is never scaled. */
	assert_result(cdata(f, 0, 1001), ZTG_STREAM_DROP_WINDOW);
	assert_result(server_ack(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 12800), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 12800, 1);
	assert_result(cdata(f, 12800, 1), ZTG_STREAM_DROP_WINDOW);
}

static void test_window_scaling_one_sided(void **state)
{
	struct fixture *f = *state;

	/* Only the client offers: scaling stays off (RFC 7323), the field is read as is. */
	handshake_ws(f, 7, NO_WSCALE, 1000);
	assert_result(server_ack(f, 0, 2000), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 2001), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 0, 2000), ZTG_STREAM_DELIVER);
}

static void test_window_scaling_capped(void **state)
{
	struct fixture *f = *state;

	/* A shift above 14 is read as 14. */
	handshake_ws(f, 3, 20, 1000);
	assert_result(server_ack(f, 0, 1), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 16385), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 0, 16384), ZTG_STREAM_DELIVER);
}

static void test_window_scale_option_parsing(void **state)
{
	struct fixture *f = *state;
	/* MSS, SACK-permitted, timestamps, NOP, window scale 5 (a typical Linux SYN). */
	const uint8_t linux_syn[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 5 };
	/* The option after an end-of-list is not an option. */
	const uint8_t after_eol[8] = { 2, 4, 0x05, 0xb4, 0, 3, 3, 5 };
	/* A length running past the options ends the walk. */
	const uint8_t truncated[3] = { 3, 3, 5 };
	uint32_t c = f->isn[CLIENT];
	uint32_t s = f->isn[SERVER];

	assert_result(seg_opts(f, CLIENT, S, c, 0, 65535, linux_syn, sizeof(linux_syn), NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(seg_opts(f, SERVER, SA, s, c + 1, 1000, linux_syn, sizeof(linux_syn), NULL, 0),
		      ZTG_STREAM_DELIVER);
	assert_result(seg(f, CLIENT, A, c + 1, s + 1, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(server_ack(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 3200), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 3200, 1), ZTG_STREAM_DROP_WINDOW);
	ztg_stream_release(&f->stream, f->pool);

	/* The server's option is unreadable: no scaling. */
	ztg_stream_init(&f->stream);
	assert_result(seg_opts(f, CLIENT, S, c, 0, 65535, linux_syn, sizeof(linux_syn), NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(seg_opts(f, SERVER, SA, s, c + 1, 1000, after_eol, sizeof(after_eol), NULL, 0),
		      ZTG_STREAM_DELIVER);
	assert_result(seg(f, CLIENT, A, c + 1, s + 1, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(server_ack(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 1001), ZTG_STREAM_DROP_WINDOW);
	ztg_stream_release(&f->stream, f->pool);

	ztg_stream_init(&f->stream);
	assert_result(seg_opts(f, CLIENT, S, c, 0, 65535, truncated, 2, NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(seg_opts(f, SERVER, SA, s, c + 1, 1000, linux_syn, sizeof(linux_syn), NULL, 0),
		      ZTG_STREAM_DELIVER);
	assert_result(seg(f, CLIENT, A, c + 1, s + 1, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	assert_result(server_ack(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 1001), ZTG_STREAM_DROP_WINDOW);
}

/* ---- out of order ------------------------------------------------------ */

static void test_ooo_buffered_then_delivered(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	/* Reverse order: each segment gets its own chunk. */
	assert_result(cdata(f, 200, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_BUFFERED);
	assert_int_equal(client_next(f), 0);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 2);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 300, 3);
	assert_ptr_equal(f->delivery.pieces[0].data, f->data);
	assert_int_equal(f->delivery.pieces[0].len, 100);
	assert_int_equal(f->delivery.pieces[1].len, 100);
	assert_int_equal(f->delivery.pieces[2].len, 100);
	assert_int_equal(client_next(f), 300);

	/* In order among themselves: the second continues the first one's chunk. */
	assert_result(cdata(f, 400, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 500, 100), ZTG_STREAM_BUFFERED);
	/* A separate island after another gap. */
	assert_result(cdata(f, 700, 50), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 300, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 300, 300, 2);
	assert_int_equal(client_next(f), 600);
	assert_result(cdata(f, 600, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 600, 150, 2);
	assert_int_equal(client_next(f), 750);
}

static void test_ooo_gap_filled_by_larger_segment(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 250, 100), ZTG_STREAM_BUFFERED);
	/* Covers the first buffered segment and half of the second: identical, so delivered once. */
	assert_result(cdata(f, 0, 300), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 350, 2);
	assert_int_equal(f->delivery.pieces[0].len, 300);
	assert_int_equal(f->delivery.pieces[1].len, 50);
}

static void test_ooo_drop_mode(void **state)
{
	struct fixture *f = *state;

	f->config.buffer_out_of_order = false;
	handshake(f);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_DROP_OOO);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 100, 1);
	/* The sender retransmits what was dropped. */
	assert_result(cdata(f, 100, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 100, 100, 1);
}

static void test_ooo_bound_segments(void **state)
{
	struct fixture *f = *state;

	f->config.max_ooo_segments = 2;
	handshake(f);
	assert_result(cdata(f, 100, 10), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 200, 10), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 300, 10), ZTG_STREAM_DROP_OOO);
	/* A segment filling two holes at once counts twice. */
	assert_result(cdata(f, 50, 200), ZTG_STREAM_DROP_OOO);
	/* Repeating buffered bytes costs nothing. */
	assert_result(cdata(f, 200, 10), ZTG_STREAM_DUPLICATE);
	assert_result(cdata(f, 0, 150), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 150, 1);
	/* The first hole is gone, so room for one more. */
	assert_result(cdata(f, 300, 10), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 400, 10), ZTG_STREAM_DROP_OOO);
}

static void test_ooo_bound_bytes(void **state)
{
	struct fixture *f = *state;

	f->config.max_ooo_bytes = 150;
	handshake(f);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 300, 100), ZTG_STREAM_DROP_OOO);
	/* Overlaps the buffered bytes identically: only the 50 new bytes count. */
	assert_result(cdata(f, 150, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 250, 1), ZTG_STREAM_DROP_OOO);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 250, 2);
}

static void test_ooo_bound_pool(void **state)
{
	struct fixture *f = fixture_new(4);

	(void)state;
	f->config.retain_bytes = 0;
	handshake(f);
	for (uint32_t i = 0; i < 4; i++)
		assert_result(cdata(f, 100 + i * 3000, 2000), ZTG_STREAM_BUFFERED);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 4);
	assert_result(cdata(f, 100 + 4 * 3000, 2000), ZTG_STREAM_DROP_OOO);
	/* Would continue a full chunk's tail and need one more: none free, so nothing is stored at all. */
	assert_result(cdata(f, 2100, 900), ZTG_STREAM_DROP_OOO);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 2100, 2);
	/* The delivered chunk is lent to the delivery until the next call on this stream. */
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 4);
	assert_result(server_ack(f, 2100, 65535), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 3);
	fixture_free(f);
}

static void test_ooo_bound_chunks(void **state)
{
	struct fixture *f = *state;
	uint32_t n = ZTG_STREAM_MAX_OOO_CHUNKS;

	f->config.max_ooo_segments = 4096;
	f->config.max_ooo_bytes = 1u << 20;
	handshake(f);
	/* Descending, so no segment can continue another's chunk: one chunk each. */
	for (uint32_t i = n; i >= 1; i--)
		assert_result(cdata(f, i * 10, 10), ZTG_STREAM_BUFFERED);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), n);
	assert_result(cdata(f, 5, 5), ZTG_STREAM_DROP_OOO);
	assert_result(cdata(f, 0, 10), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, (n + 1) * 10, ZTG_STREAM_MAX_PIECES);
}

/* ---- overlaps ---------------------------------------------------------- */

static void test_retransmission_duplicate(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DUPLICATE);
	assert_result(cdata(f, 50, 150), ZTG_STREAM_DUPLICATE);
	assert_int_equal(client_next(f), 200);
}

static void test_retransmission_conflict(void **state)
{
	struct fixture *f = *state;
	uint8_t evil[100];

	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	memcpy(evil, f->data, sizeof(evil));
	evil[99] ^= 1;
	assert_result(cdata_bytes(f, 0, evil, 100), ZTG_STREAM_BLOCK_OVERLAP);
	/* Nothing changed: the original bytes still compare equal. */
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DUPLICATE);
	assert_int_equal(client_next(f), 100);
}

static void test_buffered_overlap_conflict(void **state)
{
	struct fixture *f = *state;
	uint8_t evil[100];

	handshake(f);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_BUFFERED);
	memcpy(evil, f->data + 150, sizeof(evil));
	evil[10] ^= 0x80;
	assert_result(cdata_bytes(f, 150, evil, 100), ZTG_STREAM_BLOCK_OVERLAP);
	/* Same bytes over the buffered ones, some new after them. */
	assert_result(cdata(f, 150, 100), ZTG_STREAM_BUFFERED);
	/* The in-order segment must agree with what is buffered too. */
	memcpy(evil, f->data + 100, sizeof(evil));
	evil[0] ^= 1;
	{
		uint8_t gap[200];

		memcpy(gap, f->data, 100);
		memcpy(gap + 100, evil, 100);
		assert_result(cdata_bytes(f, 0, gap, 200), ZTG_STREAM_BLOCK_OVERLAP);
	}
	assert_int_equal(client_next(f), 0);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 250, 2);
}

static void test_partial_overlap_new_data(void **state)
{
	struct fixture *f = *state;
	uint8_t evil[100];

	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	/* Half repeats delivered bytes, half is new: only the new half is delivered. */
	assert_result(cdata(f, 50, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 100, 50, 1);
	assert_ptr_equal(f->delivery.pieces[0].data, f->data + 100);
	assert_int_equal(client_next(f), 150);
	/* The repeated half differs: block, deliver nothing. */
	memcpy(evil, f->data + 100, sizeof(evil));
	evil[20] ^= 1;
	assert_result(cdata_bytes(f, 100, evil, 100), ZTG_STREAM_BLOCK_OVERLAP);
	assert_int_equal(client_next(f), 150);
}

static void test_retained_cap_unverified(void **state)
{
	struct fixture *f = *state;
	uint8_t evil[50];

	f->config.retain_bytes = 100;
	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 200, 100), ZTG_STREAM_DELIVER);
	/* Only the newest 100 bytes are kept. */
	assert_result(cdata(f, 0, 100), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 150, 100), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 200, 100), ZTG_STREAM_DUPLICATE);
	memcpy(evil, f->data + 250, sizeof(evil));
	evil[49] ^= 1;
	assert_result(cdata_bytes(f, 250, evil, 50), ZTG_STREAM_BLOCK_OVERLAP);
	/* One segment larger than the cap keeps its tail. */
	assert_result(cdata(f, 300, 1000), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 1199, 101), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 1200, 100), ZTG_STREAM_DUPLICATE);
}

static void test_retain_none(void **state)
{
	struct fixture *f = *state;

	f->config.retain_bytes = 0;
	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_UNVERIFIED);
}

static void test_retain_pool_exhausted(void **state)
{
	struct fixture *f = fixture_new(1);

	(void)state;
	handshake(f);
	assert_result(cdata(f, 0, 2048), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
	/* No chunk left: delivered, but not kept. */
	assert_result(cdata(f, 2048, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 2048, 100, 1);
	assert_result(cdata(f, 2048, 100), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 0, 2048), ZTG_STREAM_DUPLICATE);
	/* Overlapping kept and lost bytes: what can be checked is equal, the rest is not known. */
	assert_result(cdata(f, 2000, 100), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_DUPLICATE);
	fixture_free(f);
}

static void test_ack_releases_retained(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	for (uint32_t off = 0; off < 3000; off += 1000)
		assert_result(cdata(f, off, 1000), ZTG_STREAM_DELIVER);
	/* 3000 retained bytes packed into two chunks. */
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 2);
	assert_result(server_ack(f, 1000, 65535), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 2);
	assert_result(server_ack(f, 2048, 65535), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
	/* Acknowledged bytes are no longer compared; the unacknowledged still are. */
	assert_result(cdata(f, 1000, 1000), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 2048, 952), ZTG_STREAM_DUPLICATE);
	/* An older ACK changes nothing. */
	assert_result(server_ack(f, 1500, 65535), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
	assert_result(server_ack(f, 3000, 65535), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
}

/* ---- depth -------------------------------------------------------------- */

static void test_depth(void **state)
{
	struct fixture *f = *state;
	uint8_t evil[100];

	f->config.depth = 150;
	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 100, 1);
	/* Delivered up to the depth, no further. */
	assert_result(cdata(f, 100, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 100, 50, 1);
	assert_int_equal(client_next(f), 200);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	assert_result(cdata(f, 200, 100), ZTG_STREAM_PASS_DEPTH);
	assert_int_equal(client_next(f), 300);
	/* Out of order: tracked, not buffered. */
	assert_result(cdata(f, 400, 100), ZTG_STREAM_PASS_DEPTH);
	assert_int_equal(client_next(f), 500);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	/* Nothing is compared any more. */
	memset(evil, 'x', sizeof(evil));
	assert_result(cdata_bytes(f, 0, evil, 100), ZTG_STREAM_PASS_DEPTH);
	/* The window still holds. */
	assert_result(cdata(f, 65000, 1000), ZTG_STREAM_DROP_WINDOW);
	/* The other direction has its own depth. */
	assert_result(seg(f, SERVER, PA, f->isn[SERVER] + 1, f->isn[CLIENT] + 501, 65535, f->data, 120),
		      ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.bytes, 120);
}

static void test_depth_inside_buffered(void **state)
{
	struct fixture *f = *state;

	f->config.depth = 250;
	handshake(f);
	assert_result(cdata(f, 200, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 250, 3);
	assert_int_equal(f->delivery.pieces[2].len, 50);
	assert_int_equal(client_next(f), 300);
	/* The pieces stay valid until the next call, which releases everything. */
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 2);
	assert_result(cdata(f, 300, 10), ZTG_STREAM_PASS_DEPTH);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
}

/* ---- sequence space ----------------------------------------------------- */

static void test_wraparound(void **state)
{
	struct fixture *f = *state;

	f->isn[CLIENT] = 0xffffff00u;
	f->isn[SERVER] = 0xfffffff0u;
	handshake(f);
	/* The stream crosses 2^32 at offset 255. */
	assert_result(cdata(f, 0, 200), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 400, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 300, 100), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 200, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 200, 300, 3);
	assert_int_equal(ztg_stream_next_seq(&f->stream, CLIENT), 0xffffff01u + 500);
	assert_result(cdata(f, 150, 200), ZTG_STREAM_DUPLICATE);
	{
		uint8_t evil[10];

		memcpy(evil, f->data + 250, sizeof(evil));
		evil[5] ^= 1;
		assert_result(cdata_bytes(f, 250, evil, 10), ZTG_STREAM_BLOCK_OVERLAP);
	}
	/* The server's stream wraps too; its ACK of the client's bytes crosses zero. */
	assert_result(seg(f, SERVER, PA, f->isn[SERVER] + 1, f->isn[CLIENT] + 301, 65535, f->data, 100),
		      ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_next_seq(&f->stream, SERVER), 0xfffffff1u + 100);
	assert_result(cdata(f, 200, 100), ZTG_STREAM_UNVERIFIED);
	assert_result(cdata(f, 300, 100), ZTG_STREAM_DUPLICATE);
	assert_result(server_ack(f, 500, 65535), ZTG_STREAM_DELIVER);
	/* Left: the server's 100 bytes, until the client acknowledges them. */
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 1);
	assert_result(seg(f, CLIENT, A, f->isn[CLIENT] + 501, f->isn[SERVER] + 101, 65535, NULL, 0),
		      ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	/* The right edge wraps as well. */
	assert_result(cdata(f, 500 + 65535, 1), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 500 + 65534, 1), ZTG_STREAM_BUFFERED);
}

/* ---- FIN ---------------------------------------------------------------- */

static void test_fin(void **state)
{
	struct fixture *f = *state;
	uint32_t c = f->isn[CLIENT] + 1;
	uint32_t s = f->isn[SERVER] + 1;

	handshake(f);
	assert_result(cdata(f, 0, 50), ZTG_STREAM_DELIVER);
	assert_false(f->delivery.fin);
	assert_result(seg(f, CLIENT, FA, c + 50, s, 65535, f->data + 50, 50), ZTG_STREAM_DELIVER);
	expect_delivery(f, 50, 50, 1);
	assert_true(f->delivery.fin);
	/* The FIN takes one sequence number, which the server may acknowledge. */
	assert_int_equal(client_next(f), 101);
	assert_result(seg(f, SERVER, A, s, c + 101, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	/* A retransmitted FIN is fine; text after it is ignored by the receiver, so dropped here. */
	assert_result(seg(f, CLIENT, FA, c + 100, s, 65535, NULL, 0), ZTG_STREAM_DELIVER);
	assert_false(f->delivery.fin);
	assert_result(seg(f, CLIENT, FA, c + 50, s, 65535, f->data + 50, 50), ZTG_STREAM_UNVERIFIED);
	assert_false(f->delivery.fin);
	assert_result(seg(f, CLIENT, PA, c + 101, s, 65535, f->data, 10), ZTG_STREAM_DROP_WINDOW);
	assert_result(seg(f, CLIENT, FA, c + 110, s, 65535, NULL, 0), ZTG_STREAM_DROP_WINDOW);
	assert_int_equal(client_next(f), 101);
}

static void test_fin_out_of_order(void **state)
{
	struct fixture *f = *state;
	uint32_t c = f->isn[CLIENT] + 1;
	uint32_t s = f->isn[SERVER] + 1;

	handshake(f);
	assert_result(cdata(f, 100, 100), ZTG_STREAM_BUFFERED);
	/* A FIN before bytes already buffered would leave the stream's end to the receiver. */
	assert_result(seg(f, CLIENT, FA, c + 150, s, 65535, NULL, 0), ZTG_STREAM_DROP_WINDOW);
	assert_result(seg(f, CLIENT, FA, c + 200, s, 65535, f->data + 200, 50), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 250, 1), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 250, 2);
	/* The FIN is reported when it comes in order, not when it arrived. */
	assert_true(f->delivery.fin);
	assert_int_equal(client_next(f), 251);
}

static void test_fin_on_repeated_data(void **state)
{
	struct fixture *f = *state;
	uint32_t c = f->isn[CLIENT] + 1;
	uint32_t s = f->isn[SERVER] + 1;

	handshake(f);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	/* Old bytes, new FIN: nothing to deliver but the end of the stream. */
	assert_result(seg(f, CLIENT, FA, c, s, 65535, f->data, 100), ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.count, 0);
	assert_true(f->delivery.fin);
	assert_int_equal(client_next(f), 101);
	assert_result(seg(f, CLIENT, FA, c, s, 65535, f->data, 100), ZTG_STREAM_DUPLICATE);
	assert_false(f->delivery.fin);
}

static void test_fin_alone_out_of_order(void **state)
{
	struct fixture *f = *state;
	uint32_t c = f->isn[CLIENT] + 1;
	uint32_t s = f->isn[SERVER] + 1;

	handshake(f);
	assert_result(seg(f, CLIENT, FA, c + 100, s, 65535, NULL, 0), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_true(f->delivery.fin);
	assert_int_equal(client_next(f), 101);
}

/* ---- pickup without a handshake ---------------------------------------- */

static void test_midstream_pickup(void **state)
{
	struct fixture *f = *state;
	uint32_t c = 777777;
	uint32_t s = 4000000000u;

	f->isn[CLIENT] = c - 1;
	f->isn[SERVER] = s - 1;
	/* The first segment seen from each side sets where its stream starts. */
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 100, 1);
	assert_result(seg(f, SERVER, PA, s, c + 100, 100, f->data, 50), ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.seq, s);
	assert_int_equal(ztg_stream_next_seq(&f->stream, SERVER), s + 50);
	/* Window scale unknown: read as 14, so 100 << 14 bytes are open. */
	assert_result(cdata(f, 100, 60000), ZTG_STREAM_DELIVER);
	assert_result(cdata_bytes(f, 100 + 1638400 - 1000, f->data, 1000), ZTG_STREAM_BUFFERED);
	assert_result(cdata_bytes(f, 100 + 1638400, f->data, 1), ZTG_STREAM_DROP_WINDOW);
	/* Overlaps are still caught. */
	{
		uint8_t evil[10];

		memcpy(evil, f->data + 60050, sizeof(evil));
		evil[0] ^= 1;
		assert_result(cdata_bytes(f, 60050, evil, 10), ZTG_STREAM_BLOCK_OVERLAP);
	}
}

static void test_midstream_first_segment_dropped(void **state)
{
	struct fixture *f = *state;
	uint32_t c = 5000;

	f->isn[CLIENT] = c - 1;
	f->isn[SERVER] = 8999;
	/* The server speaks first and opens a window of 100 << 14 for the client. */
	assert_result(seg(f, SERVER, A, 9000, c, 100, NULL, 0), ZTG_STREAM_DELIVER);
	/* The client's first segment is out of that window: dropped, and it does not set the start. */
	assert_result(seg(f, CLIENT, PA, c + 2000000, 9000, 65535, f->data, 10), ZTG_STREAM_DROP_WINDOW);
	assert_result(cdata(f, 0, 10), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 10, 1);
}

static void test_synack_pickup(void **state)
{
	struct fixture *f = *state;
	const uint8_t opt[4] = { 1, 3, 3, 2 };
	uint32_t c = f->isn[CLIENT];
	uint32_t s = f->isn[SERVER];

	/* Picked up at the SYN-ACK: both sequence spaces are known from it. */
	assert_result(seg_opts(f, SERVER, SA, s, c + 1, 1000, opt, sizeof(opt), NULL, 0), ZTG_STREAM_DELIVER);
	assert_int_equal(ztg_stream_next_seq(&f->stream, CLIENT), c + 1);
	assert_result(cdata(f, 0, 10), ZTG_STREAM_DELIVER);
	expect_delivery(f, 0, 10, 1);
	assert_result(cdata(f, 10, 991), ZTG_STREAM_DROP_WINDOW);
	/* The server's option is known, so its windows scale by 4. */
	assert_result(server_ack(f, 10, 1000), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 10, 4000), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 4010, 1), ZTG_STREAM_DROP_WINDOW);
	/* And ACKs are checked. */
	assert_result(seg(f, SERVER, PA, s + 1, c + 9000, 1000, f->data, 10), ZTG_STREAM_DROP_WINDOW);
}

/* ---- pool -------------------------------------------------------------- */

static void test_release_returns_everything(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	assert_result(cdata(f, 0, 3000), ZTG_STREAM_DELIVER);
	assert_result(cdata(f, 4000, 3000), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 9000, 100), ZTG_STREAM_BUFFERED);
	assert_result(seg(f, SERVER, PA, f->isn[SERVER] + 1, f->isn[CLIENT] + 1, 65535, f->data, 500),
		      ZTG_STREAM_DELIVER);
	assert_true(ztg_stream_pool_in_use(f->pool) >= 5);
	ztg_stream_release(&f->stream, f->pool);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	/* Released streams keep working; they simply hold nothing. */
	assert_result(cdata(f, 3000, 1000), ZTG_STREAM_DELIVER);
	expect_delivery(f, 3000, 1000, 1);
}

static void test_lent_chunks_survive_other_streams(void **state)
{
	struct fixture *f = fixture_new(3);
	struct ztg_stream other;
	struct ztg_stream_delivery od;
	uint8_t copy[2000];
	uint32_t c = f->isn[CLIENT];
	uint32_t s = f->isn[SERVER];

	(void)state;
	f->config.retain_bytes = 0;
	handshake(f);
	assert_result(cdata(f, 100, 2000), ZTG_STREAM_BUFFERED);
	assert_result(cdata(f, 0, 100), ZTG_STREAM_DELIVER);
	assert_int_equal(f->delivery.count, 2);
	memcpy(copy, f->delivery.pieces[1].data, sizeof(copy));

	/* Another flow on the same worker fills the pool before the caller is done with the pieces. */
	ztg_stream_init(&other);
	assert_result(ztg_stream_segment(&other, f->pool, &f->config, 0, S, c, 0, 65535, NULL, 0, NULL, 0, &od),
		      ZTG_STREAM_DELIVER);
	assert_result(ztg_stream_segment(&other, f->pool, &f->config, 1, SA, s, c + 1, 65535, NULL, 0, NULL, 0, &od),
		      ZTG_STREAM_DELIVER);
	assert_result(ztg_stream_segment(&other, f->pool, &f->config, 0, A, c + 1, s + 1, 65535, NULL, 0, NULL, 0,
					 &od), ZTG_STREAM_DELIVER);
	for (uint32_t i = 0; i < 3; i++) {
		uint8_t junk[2000];

		memset(junk, 0xee, sizeof(junk));
		ztg_stream_segment(&other, f->pool, &f->config, 0, PA, c + 1 + 3000 + i * 3000, s + 1, 65535, NULL, 0,
				   junk, sizeof(junk), &od);
	}
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 3);
	assert_memory_equal(f->delivery.pieces[1].data, copy, sizeof(copy));
	ztg_stream_release(&other, f->pool);
	fixture_free(f);
}

static void test_pool_create_limits(void **state)
{
	(void)state;
	assert_null(ztg_stream_pool_create(0));
	assert_null(ztg_stream_pool_create(UINT32_MAX));
}

static void test_zeroed_is_initial(void **state)
{
	struct fixture *f = *state;

	/* The flow table zeroes flows: that must be the same as ztg_stream_init. */
	memset(&f->stream, 0, sizeof(f->stream));
	handshake(f);
	assert_result(cdata(f, 0, 10), ZTG_STREAM_DELIVER);
	assert_true(sizeof(struct ztg_stream) <= 128);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;

	handshake(f);
	assert_result(seg(f, 2, PA, 1, 1, 65535, f->data, 10), ZTG_STREAM_DROP_WINDOW);
	assert_result(seg(f, CLIENT, PA, f->isn[CLIENT] + 1, f->isn[SERVER] + 1, 65535, NULL, 10),
		      ZTG_STREAM_DROP_WINDOW);
	assert_int_equal(ztg_stream_next_seq(&f->stream, 7), 0);
}

static void test_result_names(void **state)
{
	(void)state;
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_DELIVER), "deliver");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_BUFFERED), "buffered");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_DUPLICATE), "duplicate");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_UNVERIFIED), "unverified");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_DROP_OOO), "drop_ooo");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_DROP_WINDOW), "drop_window");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_BLOCK_OVERLAP), "block_overlap");
	assert_string_equal(ztg_stream_result_name(ZTG_STREAM_PASS_DEPTH), "pass_depth");
	assert_string_equal(ztg_stream_result_name((enum ztg_stream_result)99), "unknown");
}

/* ---- randomized ---------------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint32_t rng_next(struct rng *r)
{
	/* splitmix64: deterministic per seed, so a failure replays exactly. */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_next(r) % (hi - lo + 1);
}

struct range {
	uint32_t off;
	uint32_t len;
};

/*
 * A random stream cut into random segments, sent with local reordering,
 * random identical duplicates of any range already sent, and random ACKs;
 * segments the stream refuses to buffer are sent again later, as a sender
 * would. The delivered bytes must be the stream, each byte once, in order.
 */
static void run_random(uint64_t seed, uint32_t stream_len, uint32_t isn)
{
	struct fixture *f = fixture_new(256);
	struct rng rng = { seed };
	struct range *queue = calloc(stream_len + 1, sizeof(*queue));
	uint32_t queued = 0;
	uint32_t sent_max = 0;
	uint32_t delivered_to = 0;
	uint32_t steps = 0;

	assert_non_null(queue);
	f->isn[CLIENT] = isn;
	f->isn[SERVER] = rng_next(&rng);
	f->config.max_ooo_segments = 1024;
	f->config.max_ooo_bytes = 1u << 20;
	f->config.retain_bytes = rng_range(&rng, 0, 1) ? 1u << 20 : rng_range(&rng, 0, 5000);
	fill(f->data, stream_len, (uint32_t)seed);
	memset(f->out, 0, stream_len);
	/* The server's windows are large (scaled): reordering, not flow control, is under test. */
	handshake_ws(f, 6, 6, 65535);
	assert_result(server_ack(f, 0, 65535), ZTG_STREAM_DELIVER);

	for (uint32_t off = 0; off < stream_len;) {
		uint32_t len = rng_range(&rng, 1, 1500);

		if (len > stream_len - off)
			len = stream_len - off;
		queue[queued++] = (struct range){ off, len };
		off += len;
	}
	/* Local reordering: swap each segment with one up to 8 places later. */
	for (uint32_t i = 0; i < queued; i++) {
		uint32_t j = i + rng_range(&rng, 0, 8);
		struct range t;

		if (j >= queued)
			j = queued - 1;
		t = queue[i];
		queue[i] = queue[j];
		queue[j] = t;
	}

	for (uint32_t head = 0; delivered_to < stream_len; steps++) {
		struct range r;
		enum ztg_stream_result result;
		uint32_t pick = rng_next(&rng) % 8;

		assert_true(steps < 100000);
		if (pick == 0 && sent_max > 0) {
			/* An identical duplicate of any range sent so far. */
			r.off = rng_range(&rng, 0, sent_max - 1);
			r.len = rng_range(&rng, 1, 2000);
			if (r.len > sent_max - r.off)
				r.len = sent_max - r.off;
		} else if (pick == 1) {
			assert_result(server_ack(f, delivered_to, 65535), ZTG_STREAM_DELIVER);
			continue;
		} else if (head < queued) {
			r = queue[head++];
		} else {
			/* Everything sent once: resend from the first undelivered byte. */
			r.off = delivered_to;
			r.len = stream_len - delivered_to < 1000 ? stream_len - delivered_to : 1000;
		}
		if (r.off + r.len > sent_max)
			sent_max = r.off + r.len;
		result = cdata(f, r.off, r.len);
		switch (result) {
		case ZTG_STREAM_DELIVER:
			assert_false(f->delivery.fin);
			assert_int_equal(f->delivery.seq, f->isn[CLIENT] + 1 + delivered_to);
			delivered_to += collect(f);
			break;
		case ZTG_STREAM_BUFFERED:
		case ZTG_STREAM_DUPLICATE:
		case ZTG_STREAM_UNVERIFIED:
		case ZTG_STREAM_DROP_OOO:
			break;
		default:
			fail_msg("seed %llu step %u: %s for [%u, +%u)", (unsigned long long)seed, steps,
				 ztg_stream_result_name(result), r.off, r.len);
		}
		assert_int_equal(client_next(f), delivered_to);
	}
	assert_memory_equal(f->out, f->data, stream_len);
	assert_result(server_ack(f, stream_len, 65535), ZTG_STREAM_DELIVER);
	ztg_stream_release(&f->stream, f->pool);
	assert_int_equal(ztg_stream_pool_in_use(f->pool), 0);
	ztg_stream_pool_free(f->pool);
	free(f);
	free(queue);
}

static void test_randomized_reassembly(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 200; seed++)
		run_random(seed, 1 + (uint32_t)(seed * 7919 % 60000), (uint32_t)(seed * 0x9e3779b9u));
	/* Streams that cross 2^32. */
	for (uint64_t seed = 1000; seed < 1020; seed++)
		run_random(seed, 50000, 0xffffffffu - (uint32_t)(seed * 977 % 40000));
}

/*
 * Hostile input: random flags, sequence and acknowledgement numbers around
 * the real ones, random lengths, bytes that sometimes differ, tiny bounds
 * and a tiny pool. Whatever the results, the bounds hold, deliveries stay
 * contiguous per direction, and the release returns every chunk.
 */
static void test_random_segments_keep_bounds(void **state)
{
	static const uint8_t flag_choices[] = { PA, PA, PA, PA, A, A, FA, S, SA, RA };

	(void)state;
	for (uint64_t seed = 1; seed <= 300; seed++) {
		struct fixture *f = fixture_new(12);
		struct rng rng = { seed };
		uint32_t expect[2] = { 0, 0 };
		bool expect_set[2] = { false, false };
		uint8_t buf[3000];

		f->isn[CLIENT] = rng_next(&rng);
		f->isn[SERVER] = rng_next(&rng);
		f->config.buffer_out_of_order = rng_range(&rng, 0, 3) != 0;
		f->config.max_ooo_segments = (uint16_t)rng_range(&rng, 1, 8);
		f->config.max_ooo_bytes = rng_range(&rng, 100, 20000);
		f->config.retain_bytes = rng_range(&rng, 0, 5000);
		f->config.depth = rng_range(&rng, 0, 1) ? 0 : rng_range(&rng, 100, 20000);
		if (rng_range(&rng, 0, 1))
			handshake_ws(f, (int)rng_range(&rng, 0, 15) - 1, (int)rng_range(&rng, 0, 15) - 1,
				     (uint16_t)rng_next(&rng));

		for (uint32_t step = 0; step < 600; step++) {
			unsigned int sender = rng_next(&rng) & 1;
			uint8_t flags = flag_choices[rng_next(&rng) % sizeof(flag_choices)];
			uint32_t base = f->isn[sender] + 1;
			uint32_t off = rng_range(&rng, 0, 12000) - 1000;
			uint32_t len = flags & ZTG_TCP_SYN ? 0 : rng_range(&rng, 0, sizeof(buf));
			uint32_t ack = f->isn[sender ^ 1] + 1 + rng_range(&rng, 0, 12000) - 100;
			enum ztg_stream_result result;
			uint32_t total = 0;

			/* Mostly the true bytes of the position, sometimes one flipped. */
			for (uint32_t i = 0; i < len; i++)
				buf[i] = f->data[(off + i) % STREAM_MAX];
			if (len > 0 && rng_range(&rng, 0, 9) == 0)
				buf[rng_next(&rng) % len] ^= 0x20;
			result = seg(f, sender, flags, base + off, ack, (uint16_t)rng_next(&rng), buf, len);

			assert_true(f->delivery.count <= ZTG_STREAM_MAX_PIECES);
			for (uint32_t i = 0; i < f->delivery.count; i++)
				total += f->delivery.pieces[i].len;
			assert_int_equal(total, f->delivery.bytes);
			if (result == ZTG_STREAM_DELIVER && total > 0) {
				if (expect_set[sender])
					assert_int_equal(f->delivery.seq, expect[sender]);
				expect[sender] = f->delivery.seq + total;
				expect_set[sender] = true;
			}
			for (unsigned int d = 0; d < 2; d++) {
				const struct ztg_stream_dir *dir = &f->stream.dir[d];

				assert_true(dir->ooo_segments <= f->config.max_ooo_segments);
				assert_true(dir->ooo_bytes <= f->config.max_ooo_bytes);
				assert_true(dir->ooo_chunks <= ZTG_STREAM_MAX_OOO_CHUNKS);
				assert_true(dir->retained_bytes <= f->config.retain_bytes);
			}
			assert_true(ztg_stream_pool_in_use(f->pool) <= 12);
		}
		fixture_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_before_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_delivers_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_left_of_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unacceptable_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_scaling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_scaling_one_sided, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_scaling_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_scale_option_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_buffered_then_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_gap_filled_by_larger_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_drop_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_bound_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_bound_bytes, setup, teardown),
		cmocka_unit_test(test_ooo_bound_pool),
		cmocka_unit_test_setup_teardown(test_ooo_bound_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmission_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmission_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffered_overlap_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_overlap_new_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retained_cap_unverified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_none, setup, teardown),
		cmocka_unit_test(test_retain_pool_exhausted),
		cmocka_unit_test_setup_teardown(test_ack_releases_retained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_inside_buffered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_alone_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_on_repeated_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midstream_pickup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midstream_first_segment_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synack_pickup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_returns_everything, setup, teardown),
		cmocka_unit_test(test_lent_chunks_survive_other_streams),
		cmocka_unit_test(test_pool_create_limits),
		cmocka_unit_test_setup_teardown(test_zeroed_is_initial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_randomized_reassembly),
		cmocka_unit_test(test_random_segments_keep_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
