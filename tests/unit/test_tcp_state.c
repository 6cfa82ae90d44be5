/* TCP state tracker: pure function tests, no EAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "flow/tcp_state.h"

#define S   ZTG_TCP_SYN
#define SA  (ZTG_TCP_SYN | ZTG_TCP_ACK)
#define A   ZTG_TCP_ACK
#define PA  (ZTG_TCP_PSH | ZTG_TCP_ACK)
#define FA  (ZTG_TCP_FIN | ZTG_TCP_ACK)
#define R   ZTG_TCP_RST
#define RA  (ZTG_TCP_RST | ZTG_TCP_ACK)

#define NO_MIDSTREAM 0
#define MIDSTREAM 1

/* One step that must be accepted and land in `state`. */
static void step(struct ztg_tcp_tracker *t, unsigned int sender, uint8_t flags, enum ztg_tcp_state state)
{
	assert_int_equal(ztg_tcp_track(t, sender, flags, NO_MIDSTREAM), ZTG_TCP_ACCEPT);
	assert_string_equal(ztg_tcp_state_name(t->state), ztg_tcp_state_name(state));
}

/* One step that must be refused without touching the tracker. */
static void refused(struct ztg_tcp_tracker *t, unsigned int sender, uint8_t flags, int midstream)
{
	struct ztg_tcp_tracker before = *t;

	assert_int_equal(ztg_tcp_track(t, sender, flags, midstream), ZTG_TCP_INVALID);
	assert_memory_equal(t, &before, sizeof(before));
}

/* A tracker driven through the normal life of a connection to `state`. */
static struct ztg_tcp_tracker drive_to(enum ztg_tcp_state state, unsigned int initiator)
{
	struct ztg_tcp_tracker t = { 0 };
	unsigned int responder = initiator ^ 1;

	if (state >= ZTG_TCP_STATE_SYN_SENT)
		step(&t, initiator, S, ZTG_TCP_STATE_SYN_SENT);
	if (state >= ZTG_TCP_STATE_SYN_RECEIVED)
		step(&t, responder, SA, ZTG_TCP_STATE_SYN_RECEIVED);
	if (state >= ZTG_TCP_STATE_ESTABLISHED)
		step(&t, initiator, A, ZTG_TCP_STATE_ESTABLISHED);
	if (state >= ZTG_TCP_STATE_FIN_WAIT)
		step(&t, initiator, FA, ZTG_TCP_STATE_FIN_WAIT);
	if (state >= ZTG_TCP_STATE_CLOSING)
		step(&t, responder, FA, ZTG_TCP_STATE_CLOSING);
	if (state >= ZTG_TCP_STATE_CLOSED)
		step(&t, initiator, A, ZTG_TCP_STATE_CLOSED);
	assert_int_equal(t.state, state);
	return t;
}

static void test_full_life_initiator_closes(void **state)
{
	/* Run once with the client as endpoint 0 and once as endpoint 1. */
	for (unsigned int c = 0; c < 2; c++) {
		unsigned int s = c ^ 1;
		struct ztg_tcp_tracker t = { 0 };

		step(&t, c, S, ZTG_TCP_STATE_SYN_SENT);
		assert_int_equal(t.initiator, c);
		step(&t, s, SA, ZTG_TCP_STATE_SYN_RECEIVED);
		step(&t, c, A, ZTG_TCP_STATE_ESTABLISHED);
		step(&t, c, PA, ZTG_TCP_STATE_ESTABLISHED);
		step(&t, s, PA, ZTG_TCP_STATE_ESTABLISHED);
		step(&t, s, A, ZTG_TCP_STATE_ESTABLISHED);
		step(&t, c, FA, ZTG_TCP_STATE_FIN_WAIT);
		assert_int_equal(t.fin_sent, 1u << c);
		step(&t, s, PA, ZTG_TCP_STATE_FIN_WAIT);  /* the other half is still open */
		step(&t, c, A, ZTG_TCP_STATE_FIN_WAIT);
		step(&t, s, FA, ZTG_TCP_STATE_CLOSING);
		assert_int_equal(t.fin_sent, 3);
		step(&t, c, A, ZTG_TCP_STATE_CLOSED);
		assert_int_equal(t.initiator, c);
	}
}

static void test_full_life_responder_closes(void **state)
{
	for (unsigned int c = 0; c < 2; c++) {
		unsigned int s = c ^ 1;
		struct ztg_tcp_tracker t = drive_to(ZTG_TCP_STATE_ESTABLISHED, c);

		step(&t, s, FA, ZTG_TCP_STATE_FIN_WAIT);
		assert_int_equal(t.fin_sent, 1u << s);
		step(&t, c, PA, ZTG_TCP_STATE_FIN_WAIT);
		step(&t, c, FA, ZTG_TCP_STATE_CLOSING);
		step(&t, s, A, ZTG_TCP_STATE_CLOSED);
	}
}

static void test_simultaneous_close_and_stragglers(void **state)
{
	struct ztg_tcp_tracker t = drive_to(ZTG_TCP_STATE_ESTABLISHED, 0);

	step(&t, 0, FA, ZTG_TCP_STATE_FIN_WAIT);
	step(&t, 1, FA, ZTG_TCP_STATE_CLOSING);
	step(&t, 1, A, ZTG_TCP_STATE_CLOSED);
	/* The other side's last ACK, a late FIN and a late data segment change nothing. */
	step(&t, 0, A, ZTG_TCP_STATE_CLOSED);
	step(&t, 0, FA, ZTG_TCP_STATE_CLOSED);
	step(&t, 1, PA, ZTG_TCP_STATE_CLOSED);
	step(&t, 1, SA, ZTG_TCP_STATE_CLOSED);
	assert_int_equal(t.fin_sent, 3);
}

static void test_fin_with_handshake_ack(void **state)
{
	/* The initiator's first ACK may already carry its FIN. */
	struct ztg_tcp_tracker t = drive_to(ZTG_TCP_STATE_SYN_RECEIVED, 1);

	step(&t, 1, FA, ZTG_TCP_STATE_FIN_WAIT);
	assert_int_equal(t.fin_sent, 2);
}

static void test_data_with_handshake_ack(void **state)
{
	struct ztg_tcp_tracker t = drive_to(ZTG_TCP_STATE_SYN_RECEIVED, 0);

	step(&t, 0, PA, ZTG_TCP_STATE_ESTABLISHED);
}

static void test_rst_in_every_state(void **state)
{
	static const uint8_t resets[] = { R, RA };

	for (unsigned int c = 0; c < 2; c++) {
		for (unsigned int st = ZTG_TCP_STATE_SYN_SENT; st < ZTG_TCP_STATE_CLOSED; st++) {
			for (unsigned int sender = 0; sender < 2; sender++) {
				for (size_t r = 0; r < sizeof(resets); r++) {
					struct ztg_tcp_tracker t = drive_to(st, c);

					step(&t, sender, resets[r], ZTG_TCP_STATE_CLOSED);
					assert_int_equal(t.initiator, c);
				}
			}
		}
	}

	/* NONE: a reset alone cannot open a flow, unless picking up mid-stream. */
	struct ztg_tcp_tracker t = { 0 };

	refused(&t, 0, R, NO_MIDSTREAM);
	refused(&t, 1, RA, NO_MIDSTREAM);
	assert_int_equal(ztg_tcp_track(&t, 1, RA, MIDSTREAM), ZTG_TCP_ACCEPT);
	assert_int_equal(t.state, ZTG_TCP_STATE_CLOSED);

	/* CLOSED: a further reset is a straggler. */
	t = drive_to(ZTG_TCP_STATE_CLOSED, 0);
	step(&t, 1, R, ZTG_TCP_STATE_CLOSED);
	step(&t, 0, RA, ZTG_TCP_STATE_CLOSED);
}

static void test_retransmissions(void **state)
{
	struct ztg_tcp_tracker t;

	t = drive_to(ZTG_TCP_STATE_SYN_SENT, 1);
	step(&t, 1, S, ZTG_TCP_STATE_SYN_SENT);
	step(&t, 1, S, ZTG_TCP_STATE_SYN_SENT);

	t = drive_to(ZTG_TCP_STATE_SYN_RECEIVED, 1);
	step(&t, 1, S, ZTG_TCP_STATE_SYN_RECEIVED);   /* SYN-ACK lost beyond us */
	step(&t, 0, SA, ZTG_TCP_STATE_SYN_RECEIVED);  /* responder retries */

	t = drive_to(ZTG_TCP_STATE_ESTABLISHED, 1);
	step(&t, 0, SA, ZTG_TCP_STATE_ESTABLISHED);   /* late duplicate SYN-ACK */

	t = drive_to(ZTG_TCP_STATE_FIN_WAIT, 1);
	step(&t, 1, FA, ZTG_TCP_STATE_FIN_WAIT);
	assert_int_equal(t.fin_sent, 2);

	t = drive_to(ZTG_TCP_STATE_CLOSING, 1);
	step(&t, 1, FA, ZTG_TCP_STATE_CLOSING);
	step(&t, 0, FA, ZTG_TCP_STATE_CLOSING);
}

static void test_invalid_transitions(void **state)
{
	static const struct {
		enum ztg_tcp_state state;
		int from_initiator;
		uint8_t flags;
	} cases[] = {
		{ ZTG_TCP_STATE_NONE, 1, A },
		{ ZTG_TCP_STATE_NONE, 1, PA },
		{ ZTG_TCP_STATE_NONE, 1, SA },
		{ ZTG_TCP_STATE_NONE, 1, FA },
		{ ZTG_TCP_STATE_SYN_SENT, 1, A },
		{ ZTG_TCP_STATE_SYN_SENT, 1, SA },
		{ ZTG_TCP_STATE_SYN_SENT, 1, FA },
		{ ZTG_TCP_STATE_SYN_SENT, 0, S },     /* simultaneous open is not followed */
		{ ZTG_TCP_STATE_SYN_SENT, 0, A },
		{ ZTG_TCP_STATE_SYN_SENT, 0, PA },
		{ ZTG_TCP_STATE_SYN_SENT, 0, FA },
		{ ZTG_TCP_STATE_SYN_RECEIVED, 1, SA },
		{ ZTG_TCP_STATE_SYN_RECEIVED, 0, S },
		{ ZTG_TCP_STATE_SYN_RECEIVED, 0, A },
		{ ZTG_TCP_STATE_SYN_RECEIVED, 0, PA },
		{ ZTG_TCP_STATE_SYN_RECEIVED, 0, FA },
		{ ZTG_TCP_STATE_ESTABLISHED, 1, S },
		{ ZTG_TCP_STATE_ESTABLISHED, 0, S },
		{ ZTG_TCP_STATE_ESTABLISHED, 1, SA },
		{ ZTG_TCP_STATE_FIN_WAIT, 1, S },
		{ ZTG_TCP_STATE_FIN_WAIT, 0, S },
		{ ZTG_TCP_STATE_FIN_WAIT, 0, SA },
		{ ZTG_TCP_STATE_FIN_WAIT, 1, SA },
		{ ZTG_TCP_STATE_CLOSING, 1, S },
		{ ZTG_TCP_STATE_CLOSING, 0, SA },
	};

	for (unsigned int c = 0; c < 2; c++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct ztg_tcp_tracker t = drive_to(cases[i].state, c);

			refused(&t, cases[i].from_initiator ? c : c ^ 1, cases[i].flags, NO_MIDSTREAM);
		}
	}
}

static void test_impossible_flags_and_inputs(void **state)
{
	static const uint8_t flags[] = {
		0,
		ZTG_TCP_PSH,
		ZTG_TCP_URG,
		ZTG_TCP_FIN,
		ZTG_TCP_FIN | ZTG_TCP_PSH,
		ZTG_TCP_SYN | ZTG_TCP_FIN,
		ZTG_TCP_SYN | ZTG_TCP_RST,
		ZTG_TCP_SYN | ZTG_TCP_FIN | ZTG_TCP_ACK,
		ZTG_TCP_SYN | ZTG_TCP_RST | ZTG_TCP_ACK,
	};

	for (unsigned int st = ZTG_TCP_STATE_NONE; st < ZTG_TCP_STATE_COUNT; st++) {
		for (size_t i = 0; i < sizeof(flags); i++) {
			struct ztg_tcp_tracker t = drive_to(st, 0);

			refused(&t, 0, flags[i], NO_MIDSTREAM);
			refused(&t, 1, flags[i], MIDSTREAM);
		}
		/* Only endpoints 0 and 1 exist. */
		struct ztg_tcp_tracker t = drive_to(st, 0);

		refused(&t, 2, S, MIDSTREAM);
		refused(&t, 2, A, MIDSTREAM);
	}

	/* A corrupted state byte is refused, not interpreted. */
	struct ztg_tcp_tracker bad = { .state = ZTG_TCP_STATE_COUNT };

	refused(&bad, 0, A, MIDSTREAM);
	refused(&bad, 0, S, NO_MIDSTREAM);
}

static void test_midstream(void **state)
{
	struct ztg_tcp_tracker t = { 0 };

	/* Not allowed: only a SYN opens. */
	refused(&t, 1, A, NO_MIDSTREAM);
	refused(&t, 1, PA, NO_MIDSTREAM);

	/* Allowed: data picks the flow up as established, sender as initiator. */
	assert_int_equal(ztg_tcp_track(&t, 1, PA, MIDSTREAM), ZTG_TCP_ACCEPT);
	assert_int_equal(t.state, ZTG_TCP_STATE_ESTABLISHED);
	assert_int_equal(t.initiator, 1);
	step(&t, 0, A, ZTG_TCP_STATE_ESTABLISHED);
	step(&t, 0, FA, ZTG_TCP_STATE_FIN_WAIT);

	/* A FIN picked up mid-stream starts the close at once. */
	t = (struct ztg_tcp_tracker){ 0 };
	assert_int_equal(ztg_tcp_track(&t, 0, FA, MIDSTREAM), ZTG_TCP_ACCEPT);
	assert_int_equal(t.state, ZTG_TCP_STATE_FIN_WAIT);
	assert_int_equal(t.fin_sent, 1);
	step(&t, 1, FA, ZTG_TCP_STATE_CLOSING);

	/* A SYN-ACK names the client: the receiver becomes the initiator. */
	t = (struct ztg_tcp_tracker){ 0 };
	assert_int_equal(ztg_tcp_track(&t, 0, SA, MIDSTREAM), ZTG_TCP_ACCEPT);
	assert_int_equal(t.state, ZTG_TCP_STATE_SYN_RECEIVED);
	assert_int_equal(t.initiator, 1);
	step(&t, 1, A, ZTG_TCP_STATE_ESTABLISHED);

	/* A SYN opens normally whether or not mid-stream pickup is on. */
	t = (struct ztg_tcp_tracker){ 0 };
	assert_int_equal(ztg_tcp_track(&t, 1, S, MIDSTREAM), ZTG_TCP_ACCEPT);
	assert_int_equal(t.state, ZTG_TCP_STATE_SYN_SENT);
	assert_int_equal(t.initiator, 1);

	/* Mid-stream pickup only applies to a new flow. */
	t = drive_to(ZTG_TCP_STATE_SYN_SENT, 0);
	refused(&t, 1, A, MIDSTREAM);
}

static void test_reopen_on_closed(void **state)
{
	/* After a reset, by either side, on a flow opened by either side. */
	for (unsigned int c = 0; c < 2; c++) {
		for (unsigned int opener = 0; opener < 2; opener++) {
			struct ztg_tcp_tracker t = drive_to(ZTG_TCP_STATE_CLOSED, c);

			assert_int_equal(t.fin_sent, 3);
			assert_int_equal(ztg_tcp_track(&t, opener, S, NO_MIDSTREAM), ZTG_TCP_REOPEN);
			assert_int_equal(t.state, ZTG_TCP_STATE_SYN_SENT);
			assert_int_equal(t.initiator, opener);
			assert_int_equal(t.fin_sent, 0);
			/* The new connection proceeds from there. */
			step(&t, opener ^ 1, SA, ZTG_TCP_STATE_SYN_RECEIVED);
			step(&t, opener, A, ZTG_TCP_STATE_ESTABLISHED);
		}
	}

	struct ztg_tcp_tracker t = drive_to(ZTG_TCP_STATE_ESTABLISHED, 0);

	step(&t, 1, RA, ZTG_TCP_STATE_CLOSED);
	assert_int_equal(ztg_tcp_track(&t, 1, S, NO_MIDSTREAM), ZTG_TCP_REOPEN);
	assert_int_equal(t.initiator, 1);
}

static void test_state_names(void **state)
{
	static const char *const expected[ZTG_TCP_STATE_COUNT] = {
		"none", "syn_sent", "syn_received", "established", "fin_wait", "closing", "closed",
	};

	for (unsigned int st = 0; st < ZTG_TCP_STATE_COUNT; st++)
		assert_string_equal(ztg_tcp_state_name(st), expected[st]);
	assert_string_equal(ztg_tcp_state_name(ZTG_TCP_STATE_COUNT), "unknown");
	assert_string_equal(ztg_tcp_state_name((enum ztg_tcp_state)-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_life_initiator_closes),
		cmocka_unit_test(test_full_life_responder_closes),
		cmocka_unit_test(test_simultaneous_close_and_stragglers),
		cmocka_unit_test(test_fin_with_handshake_ack),
		cmocka_unit_test(test_data_with_handshake_ack),
		cmocka_unit_test(test_rst_in_every_state),
		cmocka_unit_test(test_retransmissions),
		cmocka_unit_test(test_invalid_transitions),
		cmocka_unit_test(test_impossible_flags_and_inputs),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_reopen_on_closed),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
