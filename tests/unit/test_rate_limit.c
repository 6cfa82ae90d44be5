/*
 * Unit tests for the rate-limit table.
 *
 * One thread on a synthetic TSC checks GCRA itself: long-run accuracy at
 * several rates, the burst, retry_after to the cycle, keys apart, and the
 * table's edges (a full table admits and counts, an idle bucket is reused).
 * Then threads on the real TSC hammer one key, many keys, and a table too
 * small for its keys, and the admitted totals must stay within what the
 * limits allow. The EAL is up only for rte_zmalloc and the TSC frequency.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_memory.h>

#include "eal_fixture.h"
#include "policy/rate_limit.h"

#define HZ        UINT64_C(2000000000)   /* the synthetic TSC: 2 GHz */
#define T0        (UINT64_C(1) << 40)    /* a start well away from 0 */
#define THREADS   4u

/* ------------------------------------------------------- one thread, fake TSC */

struct accuracy_case {
	uint32_t rate, period, burst;
	uint64_t seconds;                 /* simulated run */
};

/*
 * Requests far faster than the rate, at uneven steps, for the whole run:
 * GCRA admits burst + 1 at the start and then one per interval.
 */
static void check_accuracy(const struct accuracy_case *c)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	uint64_t rng = 0x9e3779b97f4a7c15u, admitted = 0, end, now;
	double expected;

	assert_non_null(t);
	ztg_rate_params_init(&p, c->rate, c->period, c->burst, HZ);
	end = T0 + c->seconds * HZ;
	for (now = T0; now < end;) {
		admitted += ztg_rate_admit(t, 42, &p, now, NULL);
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		now += 1 + rng % (p.interval / 4 + 1);     /* eight tries per interval on average */
	}
	expected = (double)c->rate * (double)c->seconds / c->period + c->burst;
	assert_true(admitted >= expected * 0.99 && admitted <= expected * 1.01);
	/* GCRA exactly: one at the start, one per whole interval after, and the burst. */
	assert_true(admitted <= (end - T0) / p.interval + 1 + c->burst);
	assert_true(admitted + 1 >= (end - T0) / p.interval + c->burst);
	ztg_rate_table_free(t);
}

static void test_accuracy(void **state)
{
	static const struct accuracy_case cases[] = {
		{ 1, 1, 1, 2000 },            /* 1/s */
		{ 100, 1, 10, 200 },          /* 100/s */
		{ 10000, 1, 1000, 10 },       /* 10,000/s */
		{ 60, 60, 5, 3600 },          /* per minute */
		{ 7, 60, 1, 36000 },          /* per minute, not a divisor */
		{ 1000, 3600, 100, 36000 },   /* per hour */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_accuracy(&cases[i]);
}

static void test_params(void **state)
{
	struct ztg_rate_params p;

	(void)state;
	ztg_rate_params_init(&p, 100, 1, 10, HZ);
	assert_int_equal(p.interval, HZ / 100);
	assert_int_equal(p.tolerance, 10 * HZ / 100);
	/* Rounded to the nearest cycle. */
	ztg_rate_params_init(&p, 3, 1, 0, 1000);
	assert_int_equal(p.interval, 333);
	ztg_rate_params_init(&p, 3, 2, 0, 1000);
	assert_int_equal(p.interval, 667);
	/* Never 0, whatever the rate. */
	ztg_rate_params_init(&p, UINT32_MAX, 1, 1, 1000);
	assert_int_equal(p.interval, 1);
	assert_int_equal(p.tolerance, 1);
	/* Huge products saturate instead of wrapping. */
	ztg_rate_params_init(&p, 1, UINT32_MAX, UINT32_MAX, UINT64_MAX);
	assert_true(p.interval > 0 && p.tolerance >= p.interval);
	assert_true(p.interval + p.tolerance > p.interval);
}

/* retry_after is the exact wait: one cycle less is still refused, that many is admitted. */
static void test_retry_after(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	uint64_t retry = 0, now = T0;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 10, 1, 2, HZ);       /* interval 0.1 s, tolerance 0.2 s */
	for (int i = 0; i < 3; i++)
		assert_true(ztg_rate_admit(t, 7, &p, now, &retry));
	assert_false(ztg_rate_admit(t, 7, &p, now, &retry));
	/* tat = now + 3 intervals; admitted again at tat - tolerance. */
	assert_int_equal(retry, p.interval);
	now += 12345;
	assert_false(ztg_rate_admit(t, 7, &p, now, &retry));
	assert_int_equal(retry, p.interval - 12345);
	assert_false(ztg_rate_admit(t, 7, &p, now + retry - 1, &retry));
	assert_int_equal(retry, 1);
	now += p.interval - 12345;
	assert_true(ztg_rate_admit(t, 7, &p, now, &retry));
	assert_false(ztg_rate_admit(t, 7, &p, now, NULL));   /* NULL: no wait wanted */
	assert_false(ztg_rate_admit(t, 7, &p, now, &retry));
	assert_int_equal(retry, p.interval);
	ztg_rate_table_free(t);
}

/* burst + 1 at once after an idle spell, then exactly one per interval; no burst without idling. */
static void test_burst(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p, none;
	uint64_t now = T0;
	uint32_t n;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 50, 1, 20, HZ);
	for (n = 0; ztg_rate_admit(t, 1, &p, now, NULL); n++)
		assert_true(n <= 100);
	assert_int_equal(n, 21);
	/* Half an interval buys nothing, a whole one buys one. */
	assert_false(ztg_rate_admit(t, 1, &p, now + p.interval / 2, NULL));
	now += p.interval;
	assert_true(ztg_rate_admit(t, 1, &p, now, NULL));
	assert_false(ztg_rate_admit(t, 1, &p, now, NULL));
	/* Ten idle intervals refill ten, not more. */
	now += 10 * p.interval;
	for (n = 0; ztg_rate_admit(t, 1, &p, now, NULL); n++)
		assert_true(n <= 100);
	assert_int_equal(n, 10);
	/* Long idle: the full burst again, never more. */
	now += 1000 * p.interval;
	for (n = 0; ztg_rate_admit(t, 1, &p, now, NULL); n++)
		assert_true(n <= 100);
	assert_int_equal(n, 21);

	/* burst 0: one at a time. */
	ztg_rate_params_init(&none, 50, 1, 0, HZ);
	assert_true(ztg_rate_admit(t, 2, &none, now, NULL));
	assert_false(ztg_rate_admit(t, 2, &none, now, NULL));
	assert_true(ztg_rate_admit(t, 2, &none, now + none.interval, NULL));
	ztg_rate_table_free(t);
}

/* Exhausting one key leaves every other key its whole burst. */
static void test_keys_independent(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(1024, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	struct ztg_rate_table_stats st;
	uint32_t n;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 1, 1, 3, HZ);
	for (uint64_t k = 0; k < 100; k++) {
		for (n = 0; ztg_rate_admit(t, k * 0x100000001b3u, &p, T0, NULL); n++)
			assert_true(n <= 10);
		assert_int_equal(n, 4);
	}
	for (uint64_t k = 0; k < 100; k++)
		assert_false(ztg_rate_admit(t, k * 0x100000001b3u, &p, T0, NULL));
	ztg_rate_table_stats(t, T0, &st);
	assert_int_equal(st.capacity, 1024);
	assert_int_equal(st.in_use, 100);
	assert_int_equal(st.unplaced, 0);
	ztg_rate_table_free(t);
}

/*
 * 64 buckets for 1,000 keys: every group fills and the rest are admitted
 * and counted, unlimited. Once the buckets are full again every slot is
 * taken by new keys; a bucket not yet full keeps its key's state.
 */
static void test_full_table_and_reuse(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	struct ztg_rate_table_stats st;
	uint64_t now = T0, unplaced_key = UINT64_MAX, placed_key = UINT64_MAX;
	uint32_t limited = 0;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 1, 1, 0, HZ);          /* one per second, no burst */
	for (uint64_t k = 1; k <= 1000; k++)
		assert_true(ztg_rate_admit(t, k, &p, now, NULL));
	ztg_rate_table_stats(t, now, &st);
	assert_int_equal(st.in_use, 64);
	assert_int_equal(st.unplaced, 1000 - 64);
	for (uint64_t k = 1; k <= 1000; k++) {
		if (!ztg_rate_admit(t, k, &p, now, NULL)) {
			limited++;
			placed_key = k;
		} else {
			unplaced_key = k;
		}
	}
	assert_int_equal(limited, 64);
	/* An unplaced key is never refused; each request counts. */
	for (int i = 0; i < 50; i++)
		assert_true(ztg_rate_admit(t, unplaced_key, &p, now, NULL));
	ztg_rate_table_stats(t, now, &st);
	assert_int_equal(st.unplaced, 2 * (1000 - 64) + 50);

	/* Half a second on: nothing is full yet, placed keys stay limited. */
	now += HZ / 2;
	assert_false(ztg_rate_admit(t, placed_key, &p, now, NULL));
	ztg_rate_table_stats(t, now, &st);
	assert_int_equal(st.in_use, 64);

	/* One second on: every bucket is full again (tat == now), free for anyone. */
	now = T0 + HZ;
	ztg_rate_table_stats(t, now, &st);
	assert_int_equal(st.in_use, 0);
	limited = 0;
	for (uint64_t k = 2001; k <= 3000; k++)
		assert_true(ztg_rate_admit(t, k, &p, now, NULL));
	for (uint64_t k = 2001; k <= 3000; k++)
		limited += !ztg_rate_admit(t, k, &p, now, NULL);
	assert_int_equal(limited, 64);
	ztg_rate_table_stats(t, now, &st);
	assert_int_equal(st.in_use, 64);
	ztg_rate_table_free(t);
}

/* Keys 0 and ~0 are keys like any other (a zeroed slot is a full bucket of key 0). */
static void test_edge_keys(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 1, 1, 0, HZ);
	assert_true(ztg_rate_admit(t, 0, &p, T0, NULL));
	assert_false(ztg_rate_admit(t, 0, &p, T0, NULL));
	assert_true(ztg_rate_admit(t, UINT64_MAX, &p, T0, NULL));
	assert_false(ztg_rate_admit(t, UINT64_MAX, &p, T0, NULL));
	/* now 0 (a TSC just started) against zeroed slots. */
	assert_true(ztg_rate_admit(t, 5, &p, 0, NULL));
	assert_false(ztg_rate_admit(t, 5, &p, 0, NULL));
	ztg_rate_table_free(t);
}

static void test_create_rejects(void **state)
{
	(void)state;
	assert_null(ztg_rate_table_create(0, SOCKET_ID_ANY));
	assert_null(ztg_rate_table_create(32, SOCKET_ID_ANY));
	assert_null(ztg_rate_table_create(100, SOCKET_ID_ANY));
	ztg_rate_table_free(NULL);
}

/* --------------------------------------------------------- threads, real TSC */

struct hammer {
	struct ztg_rate_table *t;
	const struct ztg_rate_params *p;
	uint64_t start, end;              /* TSC */
	uint64_t phase;                   /* TSC cycles each key set lasts; 0: one set for the whole run */
	uint32_t key_count;
	uint32_t first_key;
	uint32_t id;
	uint64_t admitted[256];           /* per key, this thread */
	uint64_t last_now;
	pthread_barrier_t *go;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	uint64_t now;
	uint32_t i = h->id;                 /* each thread walks the keys from its own place */

	pthread_barrier_wait(h->go);
	do {
		uint64_t set;

		now = rte_rdtsc();
		set = h->phase ? (now - h->start) / h->phase : 0;
		i = i + 1 < h->key_count ? i + 1 : 0;
		h->admitted[i] += ztg_rate_admit(h->t, h->first_key + set * h->key_count + i, h->p, now, NULL);
	} while (now < h->end);
	h->last_now = now;
	return NULL;
}

/*
 * THREADS threads on key_count keys for `ms` milliseconds, a new set of keys
 * every `phase` cycles when phase is not 0. Returns the admitted count per
 * key (summed over the sets) in per_key and the run's length in TSC cycles,
 * from the common start to the last request.
 */
static uint64_t hammer(struct ztg_rate_table *t, const struct ztg_rate_params *p, uint32_t key_count, uint64_t phase,
		       uint32_t ms, uint64_t per_key[256])
{
	struct hammer h[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t go;
	uint64_t hz = rte_get_tsc_hz(), start, last = 0;

	assert_true(key_count <= 256);
	assert_int_equal(pthread_barrier_init(&go, NULL, THREADS + 1), 0);
	for (uint32_t i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){ .t = t, .p = p, .phase = phase, .key_count = key_count, .first_key = 1000,
					.id = i, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
	}
	start = rte_rdtsc();
	for (uint32_t i = 0; i < THREADS; i++) {
		h[i].start = start;
		h[i].end = start + hz * ms / 1000;
	}
	pthread_barrier_wait(&go);
	memset(per_key, 0, 256 * sizeof(*per_key));
	for (uint32_t i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		for (uint32_t k = 0; k < key_count; k++)
			per_key[k] += h[i].admitted[k];
		last = RTE_MAX(last, h[i].last_now);
	}
	pthread_barrier_destroy(&go);
	return last - start;
}

/* What GCRA allows one key over cycles: burst + 1 at once, then one per interval. */
static double allowed(const struct ztg_rate_params *p, uint64_t cycles)
{
	return (double)cycles / (double)p->interval + (double)p->tolerance / (double)p->interval + 1;
}

static void test_threads_one_key(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	uint64_t per_key[256], cycles;
	double want;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 200000, 1, 1000, rte_get_tsc_hz());
	cycles = hammer(t, &p, 1, 0, 400, per_key);
	want = allowed(&p, cycles);
	print_message("one key: %lu admitted, %.0f allowed\n", (unsigned long)per_key[0], want);
	assert_true(per_key[0] <= want + 1);
	assert_true(per_key[0] >= want * 0.9);
	ztg_rate_table_free(t);
}

static void test_threads_many_keys(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(4096, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	struct ztg_rate_table_stats st;
	uint64_t per_key[256], cycles, total = 0;
	double want;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 2000, 1, 50, rte_get_tsc_hz());
	cycles = hammer(t, &p, 64, 0, 400, per_key);
	want = allowed(&p, cycles);
	for (uint32_t k = 0; k < 64; k++) {
		assert_true(per_key[k] <= want + 1);
		assert_true(per_key[k] >= want * 0.9);
		total += per_key[k];
	}
	print_message("64 keys: %lu admitted, %.0f allowed\n", (unsigned long)total, 64 * want);
	ztg_rate_table_stats(t, rte_rdtsc(), &st);
	assert_int_equal(st.unplaced, 0);
	ztg_rate_table_free(t);
}

/*
 * Slots change hands all the time: 32 keys at a time in 64 buckets, a new
 * set every 2 ms, so each set claims the buckets the set before left full
 * again. Every key stays within its limit: the admitted total is at most
 * what the limits allow plus what the table counted unplaced (give or take
 * a claim race now and then: two threads bringing one key in at once), and
 * near what they allow, since every key is asked far more than its rate.
 */
static void test_threads_churn(void **state)
{
	struct ztg_rate_table *t = ztg_rate_table_create(64, SOCKET_ID_ANY);
	struct ztg_rate_params p;
	struct ztg_rate_table_stats st;
	uint64_t per_key[256], cycles, phase = rte_get_tsc_hz() / 500, total = 0;
	double want;

	(void)state;
	assert_non_null(t);
	ztg_rate_params_init(&p, 20000, 1, 5, rte_get_tsc_hz());
	cycles = hammer(t, &p, 32, phase, 300, per_key);
	want = 32 * ((double)(cycles / phase) * allowed(&p, phase) + allowed(&p, cycles % phase));
	for (uint32_t k = 0; k < 32; k++)
		total += per_key[k];
	ztg_rate_table_stats(t, rte_rdtsc(), &st);
	print_message("churn: %lu admitted, %lu unplaced, %.0f allowed\n", (unsigned long)total,
		      (unsigned long)st.unplaced, want);
	assert_true((double)(total - st.unplaced) <= want * 1.01);
	assert_true((double)total >= want * 0.9);
	ztg_rate_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_keys_independent),
		cmocka_unit_test(test_full_table_and_reuse),
		cmocka_unit_test(test_edge_keys),
		cmocka_unit_test(test_create_rejects),
		cmocka_unit_test(test_threads_one_key),
		cmocka_unit_test(test_threads_many_keys),
		cmocka_unit_test(test_threads_churn),
	};

	return cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
}
