/*
 * Behaviour table benchmark: TSC cycles per ztg_behaviour_observe() on one
 * hot key, on 4,096 keys taken round-robin (an entry's lines mostly out of
 * L1), and with two threads on one key (the counters' lines bouncing
 * between cores), then per ztg_behaviour_risk_add() on one key. A sample
 * is what a worker would record per request: one request, response bytes,
 * an object out of 256, the same source and identity; floors and limits
 * are set, so every sample is judged. Each call reads the TSC for its
 * `now`, as a worker would; rdtsc_cycles is that read alone. Windows are
 * one second, so a run sees a few turns. Prints one JSON line. A
 * measurement tool, not a test: it asserts nothing. Needs the EAL for
 * rte_zmalloc; it starts a minimal one like the unit tests do.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_memory.h>

#include "bench_tsc.h"
#include "hash.h"
#include "policy/behaviour.h"

#include "../unit/eal_fixture.h"

#define CALLS     4000000u
#define KEYS      4096u

struct run {
	struct ztg_behaviour_table *t;
	const struct ztg_behaviour_params *p;
	uint64_t first_key;
	uint32_t keys;                /* taken round-robin from first_key */
	double cycles_per_call;
	pthread_barrier_t *go;        /* NULL: alone */
};

static void *run_observe(void *arg)
{
	struct run *r = arg;
	struct ztg_behaviour_sample s = { .requests = 1, .bytes = 512, .source = ztg_hash_fmix64(10),
					  .identity = ztg_hash_fmix64(20) };
	uint64_t crossed = 0, start;
	uint32_t k = 0;

	if (r->go != NULL)
		pthread_barrier_wait(r->go);
	start = rte_rdtsc();
	for (uint32_t i = 0; i < CALLS; i++) {
		s.object = ztg_hash_fmix64(i & 255);
		crossed += ztg_behaviour_observe(r->t, ztg_hash_fmix64(r->first_key + k), r->p, rte_rdtsc(), &s,
						 NULL);
		if (++k == r->keys)
			k = 0;
	}
	r->cycles_per_call = (double)(rte_rdtsc() - start) / CALLS;
	/* Keeps the calls from being optimised away. */
	if (crossed == UINT64_MAX)
		puts("");
	return NULL;
}

static double run_risk(struct ztg_behaviour_table *t, const struct ztg_behaviour_params *p)
{
	double sum = 0;
	uint64_t start = rte_rdtsc();
	bool crossed;

	for (uint32_t i = 0; i < CALLS; i++)
		sum += ztg_behaviour_risk_add(t, ztg_hash_fmix64(99), p, rte_rdtsc(), 0.001, 100, &crossed);
	if (sum < 0)
		puts("");
	return (double)(rte_rdtsc() - start) / CALLS;
}

int main(void)
{
	struct ztg_behaviour_params p = { .history = 16, .factor = 10 };
	struct run hot = { 0 }, many = { 0 }, pair[2];
	struct ztg_behaviour_table *t;
	pthread_barrier_t go;
	pthread_t th[2];
	double risk;
	uint64_t hz;

	if (ztg_eal_fixture_setup(NULL) != 0)
		return 1;
	hz = rte_get_tsc_hz();
	p.window = hz;
	p.half_life = 60 * hz;
	p.floor[ZTG_BEHAVIOUR_REQUESTS] = 1000;
	p.floor[ZTG_BEHAVIOUR_ERRORS] = 100;
	p.floor[ZTG_BEHAVIOUR_OBJECTS] = 200;
	p.limit[ZTG_BEHAVIOUR_SOURCES] = 50;
	p.limit[ZTG_BEHAVIOUR_IDENTITIES] = 20;
	p.limit[ZTG_BEHAVIOUR_AUTH_FAILURES] = 20;
	/* Four entries a key: groups of 8 take 4,096 keys without overflowing. */
	t = ztg_behaviour_table_create(4 * KEYS, SOCKET_ID_ANY);
	if (t == NULL)
		return 1;

	hot = (struct run){ .t = t, .p = &p, .first_key = 1, .keys = 1 };
	run_observe(&hot);
	many = (struct run){ .t = t, .p = &p, .first_key = 1000, .keys = KEYS };
	run_observe(&many);

	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < 2; i++) {
		pair[i] = (struct run){ .t = t, .p = &p, .first_key = 2, .keys = 1, .go = &go };
		pthread_create(&th[i], NULL, run_observe, &pair[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	risk = run_risk(t, &p);

	printf("{\"tsc_hz\":%lu,\"calls\":%u,\"rdtsc_cycles\":%.1f,\"observe_one_key_cycles\":%.1f,"
	       "\"observe_%u_keys_cycles\":%.1f,\"observe_two_threads_one_key_cycles\":[%.1f,%.1f],"
	       "\"risk_add_cycles\":%.1f}\n",
	       (unsigned long)hz, CALLS, rdtsc_cycles(CALLS), hot.cycles_per_call, KEYS, many.cycles_per_call,
	       pair[0].cycles_per_call, pair[1].cycles_per_call, risk);
	ztg_behaviour_table_free(t);
	ztg_eal_fixture_teardown(NULL);
	return 0;
}
