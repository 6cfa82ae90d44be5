/*
 * Unit tests for the behaviour table.
 *
 * Everything runs on a synthetic TSC: windows of W cycles from T0 (both
 * multiples of the risk word's 2^23-cycle unit, so scores are exact), no
 * real clock, no sleeps, no timing assertions. One thread checks the
 * judging (baselines, floors, limits, distinct counts, idle decay), the
 * risk score and the table's edges; then threads check that atomic adds
 * lose nothing and that a figure crosses once per window and a risk
 * threshold once, however many workers race. The EAL is up only for
 * rte_zmalloc.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_memory.h>

#include "eal_fixture.h"
#include "hash.h"
#include "policy/behaviour.h"

#define W        (UINT64_C(1) << 20)     /* cycles per window */
#define T0       (UINT64_C(1) << 40)     /* a start well away from 0 */
#define HL       (UINT64_C(1) << 32)     /* risk half-life */
#define THREADS  4u
#define BIT(f)   (1u << (f))

static struct ztg_behaviour_params params(uint32_t history)
{
	struct ztg_behaviour_params p = { .window = W, .history = history, .factor = 10, .half_life = HL };

	return p;
}

/* At the n-th window, i cycles in. */
static uint64_t at(uint64_t n, uint64_t i)
{
	return T0 + n * W + i;
}

static const struct ztg_behaviour_sample one_request = { .requests = 1 };

/* count samples s on key in window n; returns how many crossed, the last crossing in *last. */
static uint32_t feed(struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p, uint64_t n,
		     uint32_t count, const struct ztg_behaviour_sample *s, struct ztg_behaviour_crossing *last)
{
	struct ztg_behaviour_crossing c;
	uint32_t crossed = 0;

	for (uint32_t i = 0; i < count; i++) {
		if (ztg_behaviour_observe(t, key, p, at(n, i), s, &c)) {
			crossed++;
			if (last != NULL)
				*last = c;
		}
	}
	return crossed;
}

static bool near(double v, double want, double tolerance)
{
	return v >= want - tolerance && v <= want + tolerance;
}

/* ------------------------------------------------------------- one thread */

static void test_figure_names(void **state)
{
	(void)state;
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_REQUESTS), "requests");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_ERRORS), "errors");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_OBJECTS), "objects");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_BYTES), "bytes");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_AUTH_FAILURES), "auth_failures");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_SOURCES), "sources");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_IDENTITIES), "identities");
	assert_string_equal(ztg_behaviour_figure_name(ZTG_BEHAVIOUR_FIGURES), "?");
	assert_string_equal(ztg_behaviour_figure_name((enum ztg_behaviour_figure)-1), "?");
}

static void test_create_rejects(void **state)
{
	struct ztg_behaviour_table *t;

	(void)state;
	assert_null(ztg_behaviour_table_create(0, SOCKET_ID_ANY));
	assert_null(ztg_behaviour_table_create(32, SOCKET_ID_ANY));
	assert_null(ztg_behaviour_table_create(63, SOCKET_ID_ANY));
	assert_null(ztg_behaviour_table_create(65, SOCKET_ID_ANY));
	assert_null(ztg_behaviour_table_create(100, SOCKET_ID_ANY));
	t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	assert_non_null(t);
	ztg_behaviour_table_free(t);
	ztg_behaviour_table_free(NULL);
}

/*
 * 10 requests a window for 20 windows never cross; 1,000 in the next cross
 * once, at the 101st (above 10 x baseline 10, and the floor 100). The window after,
 * 1,000 again is no longer 10 times the baseline; 10,000 is.
 */
static void test_steady_then_spike(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_crossing c, peek;

	(void)state;
	assert_non_null(t);
	p.floor[ZTG_BEHAVIOUR_REQUESTS] = 100;
	for (uint64_t n = 0; n < 20; n++)
		assert_int_equal(feed(t, 7, &p, n, 10, &one_request, NULL), 0);

	memset(&c, 0, sizeof(c));
	assert_int_equal(feed(t, 7, &p, 20, 1000, &one_request, &c), 1);
	assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_REQUESTS));
	assert_int_equal(c.by_limit, 0);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 101);
	/* The plain mean of the first 4 windows, then an average with weight 1/4: 10 throughout. */
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_REQUESTS], 10, 1e-9));
	assert_int_equal(c.windows, 20);
	assert_true(ztg_behaviour_peek(t, 7, &peek));
	assert_int_equal(peek.current[ZTG_BEHAVIOUR_REQUESTS], 1000);
	assert_int_equal(peek.figures, BIT(ZTG_BEHAVIOUR_REQUESTS));

	/* The baseline has learnt: 10 + (1000 - 10) / 4 = 257.5. */
	assert_int_equal(feed(t, 7, &p, 21, 1000, &one_request, NULL), 0);
	assert_true(ztg_behaviour_peek(t, 7, &peek));
	assert_true(near(peek.baseline[ZTG_BEHAVIOUR_REQUESTS], 257.5, 0.1));
	assert_int_equal(peek.figures, 0);
	/* 443.1 after that: 4,432 requests cross, once. */
	assert_int_equal(feed(t, 7, &p, 22, 10000, &one_request, &c), 1);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 4432);
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_REQUESTS], 443.1, 0.1));
	ztg_behaviour_table_free(t);
}

/* A new key has baseline 0: the floor alone judges it. */
static void test_new_key_floor(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(8);
	struct ztg_behaviour_crossing c;

	(void)state;
	assert_non_null(t);
	p.floor[ZTG_BEHAVIOUR_REQUESTS] = 100;
	assert_int_equal(feed(t, 9, &p, 0, 50, &one_request, NULL), 0);
	assert_true(ztg_behaviour_peek(t, 9, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 50);
	assert_int_equal(feed(t, 9, &p, 0, 49, &one_request, NULL), 0);
	assert_true(ztg_behaviour_observe(t, 9, &p, at(0, 100), &one_request, &c));
	assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_REQUESTS));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 100);
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] == 0);
	assert_int_equal(c.windows, 0);
	/* Once per window: the 101st and on say nothing. */
	assert_int_equal(feed(t, 9, &p, 0, 100, &one_request, NULL), 0);
	/* out may be NULL. */
	assert_true(ztg_behaviour_observe(t, 10, &p, at(0, 0), &(struct ztg_behaviour_sample){ .requests = 100 },
					  NULL));
	ztg_behaviour_table_free(t);
}

/*
 * The baseline is the plain mean of the windows so far until there are
 * `history` of them, then an average with weight 1/history; every skipped
 * window counts as a zero.
 */
static void test_baseline_exact(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(2), one = params(1);
	struct ztg_behaviour_sample s = { .requests = 8, .bytes = 1000 };
	struct ztg_behaviour_crossing c;

	(void)state;
	assert_non_null(t);
	ztg_behaviour_observe(t, 3, &p, at(0, 0), &s, NULL);
	s.requests = 4;
	s.bytes = 0;
	ztg_behaviour_observe(t, 3, &p, at(1, 0), &s, NULL);
	assert_true(ztg_behaviour_peek(t, 3, &c));
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_REQUESTS], 8, 1e-12));      /* the first window itself */
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_BYTES], 1000, 1e-9));
	assert_int_equal(c.windows, 1);
	/* Windows 2 and 3 empty: (8 + (4 - 8) / 2) x (1/2)^2. */
	ztg_behaviour_observe(t, 3, &p, at(4, 0), &(struct ztg_behaviour_sample){ 0 }, NULL);
	assert_true(ztg_behaviour_peek(t, 3, &c));
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_REQUESTS], 1.5, 1e-12));
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_BYTES], 125, 1e-9));        /* (1000 + (0 - 1000) / 2) / 4 */
	assert_int_equal(c.windows, 4);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 0);

	/* history 1: the baseline is the last window, and one empty window wipes it. */
	s.requests = 30;
	ztg_behaviour_observe(t, 4, &one, at(0, 0), &s, NULL);
	ztg_behaviour_observe(t, 4, &one, at(1, 0), &s, NULL);
	assert_true(ztg_behaviour_peek(t, 4, &c));
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] == 30);
	ztg_behaviour_observe(t, 4, &one, at(3, 0), &s, NULL);
	assert_true(ztg_behaviour_peek(t, 4, &c));
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] == 0);

	/* A sample late from the window before (a lagging TSC) lands in the current one. */
	ztg_behaviour_observe(t, 4, &one, at(2, W - 1), &s, NULL);
	assert_true(ztg_behaviour_peek(t, 4, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 60);
	assert_int_equal(c.windows, 3);
	ztg_behaviour_table_free(t);
}

/* Distinct counts: 1,000 distinct objects read 1,000 +- 10%, one object 1,000 times reads 1. */
static void test_distinct_objects(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_sample s = { .requests = 1 };
	struct ztg_behaviour_crossing c;
	uint64_t est100 = 0;

	(void)state;
	assert_non_null(t);
	for (uint64_t i = 0; i < 1000; i++) {
		s.object = ztg_hash_fmix64(i + 1);
		ztg_behaviour_observe(t, 11, &p, at(0, i), &s, NULL);
		if (i == 99) {
			assert_true(ztg_behaviour_peek(t, 11, &c));
			est100 = c.current[ZTG_BEHAVIOUR_OBJECTS];
		}
	}
	assert_true(ztg_behaviour_peek(t, 11, &c));
	print_message("distinct: 100 -> %lu, 1000 -> %lu\n", (unsigned long)est100,
		      (unsigned long)c.current[ZTG_BEHAVIOUR_OBJECTS]);
	assert_true(est100 >= 95 && est100 <= 105);
	assert_true(c.current[ZTG_BEHAVIOUR_OBJECTS] >= 900 && c.current[ZTG_BEHAVIOUR_OBJECTS] <= 1100);

	s.object = 0x1234;
	for (uint64_t i = 0; i < 1000; i++)
		ztg_behaviour_observe(t, 12, &p, at(0, i), &s, NULL);
	assert_true(ztg_behaviour_peek(t, 12, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_OBJECTS], 1);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 1000);

	/* The next window starts empty, and the closed one's estimate is the baseline (its first window). */
	s.object = 0;
	ztg_behaviour_observe(t, 11, &p, at(1, 0), &s, NULL);
	assert_true(ztg_behaviour_peek(t, 11, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_OBJECTS], 0);
	assert_true(c.baseline[ZTG_BEHAVIOUR_OBJECTS] >= 900 && c.baseline[ZTG_BEHAVIOUR_OBJECTS] <= 1100);

	/* Enumeration judged like any figure: floor 200, baseline 0. */
	p.floor[ZTG_BEHAVIOUR_OBJECTS] = 200;
	memset(&c, 0, sizeof(c));
	s.requests = 1;
	for (uint64_t i = 0; i < 1000; i++) {
		s.object = 0xabc000 + i;
		if (ztg_behaviour_observe(t, 13, &p, at(0, i), &s, &c))
			assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_OBJECTS));
	}
	assert_true(c.current[ZTG_BEHAVIOUR_OBJECTS] >= 200 && c.current[ZTG_BEHAVIOUR_OBJECTS] <= 202);
	ztg_behaviour_table_free(t);
}

/* A limit crosses at the limit whatever the baseline, once a window, marked by_limit. */
static void test_limits(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_sample s = { .requests = 1, .auth_failures = 1 };
	struct ztg_behaviour_crossing c;
	uint32_t crossed = 0;

	(void)state;
	assert_non_null(t);
	p.limit[ZTG_BEHAVIOUR_AUTH_FAILURES] = 20;
	p.limit[ZTG_BEHAVIOUR_BYTES] = 1000000;
	for (uint32_t n = 1; n <= 50; n++) {
		if (ztg_behaviour_observe(t, 21, &p, at(0, n), &s, &c)) {
			crossed++;
			assert_int_equal(n, 20);
			assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_AUTH_FAILURES));
			assert_int_equal(c.by_limit, BIT(ZTG_BEHAVIOUR_AUTH_FAILURES));
			assert_int_equal(c.current[ZTG_BEHAVIOUR_AUTH_FAILURES], 20);
			assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 20);
		}
	}
	assert_int_equal(crossed, 1);
	/*
	 * A new window, a high baseline: the limit still crosses at 20. At the
	 * window's end window 0's 50 no longer count (the sliding estimate).
	 */
	for (uint32_t n = 1; n <= 19; n++)
		assert_false(ztg_behaviour_observe(t, 21, &p, at(1, W - 100 + n), &s, NULL));
	assert_true(ztg_behaviour_observe(t, 21, &p, at(1, W - 50), &s, &c));
	assert_int_equal(c.by_limit, BIT(ZTG_BEHAVIOUR_AUTH_FAILURES));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_AUTH_FAILURES], 20);
	assert_true(near(c.baseline[ZTG_BEHAVIOUR_AUTH_FAILURES], 50, 1e-9));   /* the 50 of window 0 */

	/* Two figures in one sample: both in one crossing, one of them by limit only. */
	p.floor[ZTG_BEHAVIOUR_ERRORS] = 5;
	s = (struct ztg_behaviour_sample){ .errors = 5, .bytes = 1000000 };
	assert_true(ztg_behaviour_observe(t, 22, &p, at(0, 0), &s, &c));
	assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_ERRORS) | BIT(ZTG_BEHAVIOUR_BYTES));
	assert_int_equal(c.by_limit, BIT(ZTG_BEHAVIOUR_BYTES));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_BYTES], 1000000);
	assert_false(ztg_behaviour_observe(t, 22, &p, at(0, 1), &s, &c));
	ztg_behaviour_table_free(t);
}

/*
 * A burst straddling two windows is judged whole: 12 failures at the end of
 * one window and 8 at the start of the next reach the limit of 20 (the
 * previous window counts in proportion to what of it is within one window's
 * length). Half a window on, the 12 count for 6; after a gap, not at all.
 */
static void test_sliding_estimate(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_sample s = { .auth_failures = 1 };
	struct ztg_behaviour_crossing c;

	(void)state;
	assert_non_null(t);
	p.limit[ZTG_BEHAVIOUR_AUTH_FAILURES] = 20;
	for (uint32_t i = 0; i < 12; i++)
		assert_false(ztg_behaviour_observe(t, 41, &p, at(0, W - 12 + i), &s, NULL));
	for (uint32_t i = 0; i < 7; i++)
		assert_false(ztg_behaviour_observe(t, 41, &p, at(1, i), &s, NULL));
	assert_true(ztg_behaviour_observe(t, 41, &p, at(1, 7), &s, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_AUTH_FAILURES], 20);

	for (uint32_t i = 0; i < 12; i++)
		assert_false(ztg_behaviour_observe(t, 42, &p, at(0, W - 12 + i), &s, NULL));
	for (uint32_t i = 0; i < 13; i++)
		assert_false(ztg_behaviour_observe(t, 42, &p, at(1, W / 2 + i), &s, NULL));
	assert_true(ztg_behaviour_observe(t, 42, &p, at(1, W / 2 + 13), &s, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_AUTH_FAILURES], 20);          /* 14 + 12 / 2 */

	for (uint32_t i = 0; i < 12; i++)
		assert_false(ztg_behaviour_observe(t, 43, &p, at(0, W - 12 + i), &s, NULL));
	for (uint32_t i = 0; i < 19; i++)
		assert_false(ztg_behaviour_observe(t, 43, &p, at(2, i), &s, NULL));
	assert_true(ztg_behaviour_observe(t, 43, &p, at(2, 19), &s, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_AUTH_FAILURES], 20);
	ztg_behaviour_table_free(t);
}

/* Sources and identities: distinct counts with limits; a repeated value adds nothing. */
static void test_sources_identities(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_sample s = { .requests = 1, .identity = 77 };
	struct ztg_behaviour_crossing c;
	uint32_t crossed = 0;

	(void)state;
	assert_non_null(t);
	p.limit[ZTG_BEHAVIOUR_SOURCES] = 10;
	p.limit[ZTG_BEHAVIOUR_IDENTITIES] = 5;
	/* One identity from 50 addresses: credential sharing. */
	for (uint64_t i = 0; i < 50; i++) {
		s.source = 0x0a000000 + i;
		if (ztg_behaviour_observe(t, 31, &p, at(0, i), &s, &c)) {
			crossed++;
			assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_SOURCES));
			assert_int_equal(c.by_limit, BIT(ZTG_BEHAVIOUR_SOURCES));
			assert_true(c.current[ZTG_BEHAVIOUR_SOURCES] == 10);
			assert_int_equal(c.current[ZTG_BEHAVIOUR_IDENTITIES], 1);
			assert_true(i >= 9 && i <= 12);
		}
	}
	assert_int_equal(crossed, 1);

	/* One address trying 50 identities: credential stuffing. */
	crossed = 0;
	s.source = 0x0a000001;
	for (uint64_t i = 0; i < 50; i++) {
		s.identity = 1000 + i;
		if (ztg_behaviour_observe(t, 32, &p, at(0, i), &s, &c)) {
			crossed++;
			assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_IDENTITIES));
			assert_int_equal(c.by_limit, BIT(ZTG_BEHAVIOUR_IDENTITIES));
			assert_true(c.current[ZTG_BEHAVIOUR_IDENTITIES] == 5);
			assert_int_equal(c.current[ZTG_BEHAVIOUR_SOURCES], 1);
			assert_true(i >= 4 && i <= 6);
		}
	}
	assert_int_equal(crossed, 1);
	ztg_behaviour_table_free(t);
}

/* A caller gone quiet for 100 windows has baseline ~0: back at 1,000 a window, it crosses again. */
static void test_idle_decay(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_crossing c;
	struct ztg_behaviour_sample many = { .requests = 100 };

	(void)state;
	assert_non_null(t);
	p.floor[ZTG_BEHAVIOUR_REQUESTS] = 100;
	for (uint64_t n = 0; n < 20; n++)
		feed(t, 41, &p, n, 10, &many, NULL);
	assert_true(ztg_behaviour_peek(t, 41, &c));
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] > 990);
	/* Windows 20 to 119 empty. */
	assert_int_equal(feed(t, 41, &p, 120, 1, &one_request, NULL), 0);
	assert_true(ztg_behaviour_peek(t, 41, &c));
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] < 1e-9);
	assert_int_equal(c.windows, 120);
	assert_int_equal(feed(t, 41, &p, 120, 999, &one_request, &c), 1);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 100);

	/* A silence of 2^40 windows decays in one step too. */
	assert_false(ztg_behaviour_observe(t, 41, &p, T0 + (UINT64_C(1) << 60), &one_request, NULL));
	assert_true(ztg_behaviour_peek(t, 41, &c));
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] == 0);
	assert_int_equal(c.windows, 65535);
	ztg_behaviour_table_free(t);
}

/* Risk: decays by half every half-life; crossing the threshold reported once per rise. */
static void test_risk(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	bool crossed = true;
	double score;

	(void)state;
	assert_non_null(t);
	assert_true(ztg_behaviour_risk(t, 51, &p, T0) == 0);
	score = ztg_behaviour_risk_add(t, 51, &p, T0, 60, 100, &crossed);
	assert_false(crossed);
	assert_true(near(score, 60, 0.01));
	score = ztg_behaviour_risk_add(t, 51, &p, T0, 60, 100, &crossed);
	assert_true(crossed);
	assert_true(near(score, 120, 0.01));
	/* Still above: adding more crosses nothing. */
	score = ztg_behaviour_risk_add(t, 51, &p, T0, 10, 100, &crossed);
	assert_false(crossed);
	assert_true(near(score, 130, 0.01));
	assert_true(near(ztg_behaviour_risk(t, 51, &p, T0 + HL), 65, 0.01));
	assert_true(near(ztg_behaviour_risk(t, 51, &p, T0 + 2 * HL), 32.5, 0.01));
	assert_true(near(ztg_behaviour_risk(t, 51, &p, T0 + HL / 2), 130 / 1.41421356, 0.01));
	/* Below the threshold after one half-life: rising over it again is a new crossing. */
	score = ztg_behaviour_risk_add(t, 51, &p, T0 + HL, 30, 100, &crossed);
	assert_false(crossed);
	assert_true(near(score, 95, 0.01));
	score = ztg_behaviour_risk_add(t, 51, &p, T0 + HL, 30, 100, NULL);
	assert_true(near(score, 125, 0.01));
	score = ztg_behaviour_risk_add(t, 51, &p, T0 + 3 * HL, 100, 100, &crossed);
	assert_true(crossed);
	assert_true(near(score, 131.25, 0.01));         /* 125 / 4 + 100 */
	/* A worker whose TSC lags adds without decaying backwards. */
	score = ztg_behaviour_risk_add(t, 51, &p, T0, 0, 100, &crossed);
	assert_false(crossed);
	assert_true(near(score, 131.25, 0.01));
	/* Long gone: nothing left; a new key starts from 0. */
	assert_true(ztg_behaviour_risk(t, 51, &p, T0 + 200 * HL) < 1e-50);
	score = ztg_behaviour_risk_add(t, 52, &p, T0, 150, 100, &crossed);
	assert_true(crossed);
	assert_true(near(score, 150, 0.01));
	/* Risk and behaviour share the entry. */
	ztg_behaviour_observe(t, 52, &p, at(0, 5), &one_request, NULL);
	assert_true(near(ztg_behaviour_risk(t, 52, &p, T0), 150, 0.01));
	/* Scores saturate instead of wrapping. */
	score = ztg_behaviour_risk_add(t, 53, &p, T0, 1e9, 100, &crossed);
	assert_true(crossed);
	assert_true(score > 65535 && score < 65536);
	ztg_behaviour_table_free(t);
}

/* Key 0 is served as key 1. */
static void test_key_zero(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_table_stats st;
	struct ztg_behaviour_crossing c;

	(void)state;
	assert_non_null(t);
	ztg_behaviour_observe(t, 0, &p, at(0, 0), &one_request, NULL);
	ztg_behaviour_observe(t, 1, &p, at(0, 1), &one_request, NULL);
	assert_true(ztg_behaviour_peek(t, 0, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 2);
	ztg_behaviour_table_stats(t, &st);
	assert_int_equal(st.in_use, 1);
	assert_false(ztg_behaviour_peek(t, 2, &c));
	ztg_behaviour_table_free(t);
}

/*
 * 64 entries for 1,000 keys: every group fills, the rest is counted. Until
 * `history` whole windows pass without a sample nothing is taken; then
 * every entry goes to a new key except one whose risk is still high.
 */
static void test_capacity_eviction(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(2);
	struct ztg_behaviour_table_stats st;
	struct ztg_behaviour_crossing c;
	uint64_t risky = 0, placed_new = 0, old_left = 0;
	bool crossed;

	(void)state;
	assert_non_null(t);
	for (uint64_t k = 1; k <= 1000; k++)
		ztg_behaviour_observe(t, k, &p, at(0, k), &one_request, NULL);
	ztg_behaviour_table_stats(t, &st);
	assert_int_equal(st.capacity, 64);
	assert_int_equal(st.in_use, 64);
	assert_int_equal(st.unplaced, 1000 - 64);
	for (uint64_t k = 1; k <= 1000 && risky == 0; k++)
		if (ztg_behaviour_peek(t, k, &c))
			risky = k;
	assert_true(ztg_behaviour_risk_add(t, risky, &p, at(0, 0), 100, 1000, &crossed) > 99);

	/* Without room, a risk addition is lost and counted. */
	for (uint64_t k = 1; k <= 1000; k++) {
		if (!ztg_behaviour_peek(t, k, &c)) {
			assert_true(ztg_behaviour_risk_add(t, k, &p, at(0, 0), 100, 50, &crossed) == 0);
			assert_false(crossed);
			assert_true(ztg_behaviour_risk(t, k, &p, at(0, 0)) == 0);
			break;
		}
	}
	ztg_behaviour_table_stats(t, &st);
	assert_int_equal(st.unplaced, 1000 - 64 + 1);

	/* Windows 1 and 2 without a sample are not yet `history` whole windows before window 2. */
	for (uint64_t k = 2001; k <= 3000; k++)
		ztg_behaviour_observe(t, k, &p, at(2, k), &one_request, NULL);
	ztg_behaviour_table_stats(t, &st);
	assert_int_equal(st.unplaced, 2 * (1000 - 64) + 1 + 64);

	/* Window 3: windows 1 and 2 passed idle; the risky entry keeps its key and its score. */
	for (uint64_t k = 3001; k <= 4000; k++)
		ztg_behaviour_observe(t, k, &p, at(3, k), &one_request, NULL);
	for (uint64_t k = 3001; k <= 4000; k++)
		placed_new += ztg_behaviour_peek(t, k, &c);
	for (uint64_t k = 1; k <= 1000; k++)
		old_left += ztg_behaviour_peek(t, k, &c);
	assert_int_equal(placed_new, 63);
	assert_int_equal(old_left, 1);
	assert_true(ztg_behaviour_peek(t, risky, &c));
	assert_true(ztg_behaviour_risk(t, risky, &p, at(3, 0)) > 99);
	ztg_behaviour_table_stats(t, &st);
	assert_int_equal(st.in_use, 64);

	/* A new tenant starts afresh: its own count, no inherited baseline. */
	for (uint64_t k = 3001; k <= 4000; k++) {
		if (ztg_behaviour_peek(t, k, &c)) {
			assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 1);
			assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] == 0);
			assert_int_equal(c.windows, 0);
			break;
		}
	}

	/* Once its risk has decayed below 0.5 (8 half-lives: 100 -> 0.39), the risky one goes too. */
	for (uint64_t k = 5001; k <= 6000; k++)
		ztg_behaviour_observe(t, k, &p, T0 + 8 * HL + k, &one_request, NULL);
	assert_false(ztg_behaviour_peek(t, risky, &c));
	ztg_behaviour_table_free(t);
}

/* Windows shorter than 256 cycles are taken as 256. */
static void test_short_window(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(1);
	struct ztg_behaviour_crossing c;

	(void)state;
	assert_non_null(t);
	p.window = 1;
	ztg_behaviour_observe(t, 5, &p, T0, &one_request, NULL);
	ztg_behaviour_observe(t, 5, &p, T0 + 255, &one_request, NULL);
	assert_true(ztg_behaviour_peek(t, 5, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 2);
	ztg_behaviour_observe(t, 5, &p, T0 + 256, &one_request, NULL);
	assert_true(ztg_behaviour_peek(t, 5, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 1);
	assert_true(c.baseline[ZTG_BEHAVIOUR_REQUESTS] == 2);
	/* A window not a multiple of 256: starts still told apart exactly. */
	p.window = 300;
	for (uint64_t n = 0; n < 10; n++)
		ztg_behaviour_observe(t, 6, &p, (T0 / 300 + n) * 300 + 299, &one_request, NULL);
	assert_true(ztg_behaviour_peek(t, 6, &c));
	assert_int_equal(c.windows, 9);
	ztg_behaviour_table_free(t);
}

/* ---------------------------------------------------------------- threads */

struct worker {
	struct ztg_behaviour_table *t;
	const struct ztg_behaviour_params *p;
	uint32_t id;
	uint32_t windows;                           /* > 1: a barrier between windows */
	uint32_t per_window;
	pthread_barrier_t *go;
	_Atomic uint32_t *crossed;                  /* per window x figure */
};

static void *observe_run(void *arg)
{
	struct worker *w = arg;
	struct ztg_behaviour_sample s = { .requests = 1, .errors = 1, .bytes = 100 };
	struct ztg_behaviour_crossing c;

	for (uint32_t n = 0; n < w->windows; n++) {
		pthread_barrier_wait(w->go);
		for (uint32_t i = 0; i < w->per_window; i++) {
			if (!ztg_behaviour_observe(w->t, 99, w->p, at(n, w->id * 8 + i % 8), &s, &c))
				continue;
			for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++)
				if (c.figures & BIT(f))
					atomic_fetch_add(&w->crossed[n * ZTG_BEHAVIOUR_FIGURES + f], 1);
		}
	}
	return NULL;
}

static void run_workers(struct ztg_behaviour_table *t, const struct ztg_behaviour_params *p, uint32_t windows,
			uint32_t per_window, _Atomic uint32_t *crossed)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t go;

	assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
	for (uint32_t i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .t = t, .p = p, .id = i, .windows = windows, .per_window = per_window,
					.go = &go, .crossed = crossed };
		assert_int_equal(pthread_create(&th[i], NULL, observe_run, &w[i]), 0);
	}
	for (uint32_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&go);
}

/* 4 x 100,000 samples in one window: nothing lost, and each figure crosses once. */
static void test_threads_one_window(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct ztg_behaviour_crossing c;
	_Atomic uint32_t crossed[ZTG_BEHAVIOUR_FIGURES] = { 0 };

	(void)state;
	assert_non_null(t);
	p.limit[ZTG_BEHAVIOUR_REQUESTS] = 250000;
	p.floor[ZTG_BEHAVIOUR_ERRORS] = 1000;
	/* The entry exists first: four threads bringing a new key in at once may each claim a slot. */
	ztg_behaviour_observe(t, 99, &p, at(0, 0), &(struct ztg_behaviour_sample){ 0 }, NULL);
	run_workers(t, &p, 1, 100000, crossed);
	assert_true(ztg_behaviour_peek(t, 99, &c));
	assert_int_equal(c.current[ZTG_BEHAVIOUR_REQUESTS], 400000);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_ERRORS], 400000);
	assert_int_equal(c.current[ZTG_BEHAVIOUR_BYTES], 40000000);
	assert_int_equal(crossed[ZTG_BEHAVIOUR_REQUESTS], 1);
	assert_int_equal(crossed[ZTG_BEHAVIOUR_ERRORS], 1);
	assert_int_equal(crossed[ZTG_BEHAVIOUR_BYTES], 0);
	assert_int_equal(c.figures, BIT(ZTG_BEHAVIOUR_REQUESTS) | BIT(ZTG_BEHAVIOUR_ERRORS));
	ztg_behaviour_table_free(t);
}

/*
 * 50 windows, the four threads starting each together: whoever turns the
 * window, each figure crosses exactly once in every window.
 */
static void test_threads_turns(void **state)
{
	enum { WINDOWS = 50 };
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(1);
	struct ztg_behaviour_crossing c;
	static _Atomic uint32_t crossed[WINDOWS * ZTG_BEHAVIOUR_FIGURES];

	(void)state;
	assert_non_null(t);
	p.limit[ZTG_BEHAVIOUR_REQUESTS] = 1000;
	p.limit[ZTG_BEHAVIOUR_BYTES] = 50000;
	ztg_behaviour_observe(t, 99, &p, at(0, 0), &(struct ztg_behaviour_sample){ 0 }, NULL);
	run_workers(t, &p, WINDOWS, 2000, crossed);
	for (uint32_t n = 0; n < WINDOWS; n++) {
		assert_int_equal(crossed[n * ZTG_BEHAVIOUR_FIGURES + ZTG_BEHAVIOUR_REQUESTS], 1);
		assert_int_equal(crossed[n * ZTG_BEHAVIOUR_FIGURES + ZTG_BEHAVIOUR_BYTES], 1);
		assert_int_equal(crossed[n * ZTG_BEHAVIOUR_FIGURES + ZTG_BEHAVIOUR_ERRORS], 0);
	}
	assert_true(ztg_behaviour_peek(t, 99, &c));
	assert_int_equal(c.windows, WINDOWS - 1);
	/* Samples racing a turn may land in the window before; the winner's own after its turn cannot. */
	assert_true(c.current[ZTG_BEHAVIOUR_REQUESTS] <= THREADS * 2000);
	assert_true(c.current[ZTG_BEHAVIOUR_REQUESTS] >= 2000 - 1);
	ztg_behaviour_table_free(t);
}

struct risker {
	struct ztg_behaviour_table *t;
	const struct ztg_behaviour_params *p;
	pthread_barrier_t *go;
	uint32_t crossed;
};

static void *risk_run(void *arg)
{
	struct risker *r = arg;
	bool crossed;

	pthread_barrier_wait(r->go);
	for (uint32_t i = 0; i < 10000; i++) {
		ztg_behaviour_risk_add(r->t, 98, r->p, T0, 1, 20000, &crossed);
		r->crossed += crossed;
	}
	return NULL;
}

/* 4 x 10,000 additions of 1 at once: the score is 40,000 exactly and one call saw the threshold cross. */
static void test_threads_risk(void **state)
{
	struct ztg_behaviour_table *t = ztg_behaviour_table_create(64, SOCKET_ID_ANY);
	struct ztg_behaviour_params p = params(4);
	struct risker r[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t go;
	uint32_t crossed = 0;

	(void)state;
	assert_non_null(t);
	ztg_behaviour_risk_add(t, 98, &p, T0, 0, 1, NULL);
	assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
	for (uint32_t i = 0; i < THREADS; i++) {
		r[i] = (struct risker){ .t = t, .p = &p, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, risk_run, &r[i]), 0);
	}
	for (uint32_t i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		crossed += r[i].crossed;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(crossed, 1);
	assert_true(ztg_behaviour_risk(t, 98, &p, T0) == 40000);
	ztg_behaviour_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_figure_names),
		cmocka_unit_test(test_create_rejects),
		cmocka_unit_test(test_steady_then_spike),
		cmocka_unit_test(test_new_key_floor),
		cmocka_unit_test(test_baseline_exact),
		cmocka_unit_test(test_distinct_objects),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sliding_estimate),
		cmocka_unit_test(test_sources_identities),
		cmocka_unit_test(test_idle_decay),
		cmocka_unit_test(test_risk),
		cmocka_unit_test(test_key_zero),
		cmocka_unit_test(test_capacity_eviction),
		cmocka_unit_test(test_short_window),
		cmocka_unit_test(test_threads_one_window),
		cmocka_unit_test(test_threads_turns),
		cmocka_unit_test(test_threads_risk),
	};

	return cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
}
