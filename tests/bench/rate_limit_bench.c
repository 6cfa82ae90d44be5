/*
 * Rate-limit table benchmark: TSC cycles per ztg_rate_admit() on one key,
 * uncontended when every request is admitted (a CAS each) and when every
 * one is refused (loads only), then with two threads on the same key, the
 * worst case for the CAS loop. Each call reads the TSC for its `now`, as a
 * worker would; rdtsc_cycles is that read alone. Prints one JSON line. A measurement tool,
 * not a test: it asserts nothing. Needs the EAL for rte_zmalloc; it starts
 * a minimal one like the unit tests do.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_memory.h>

#include "bench_tsc.h"
#include "policy/rate_limit.h"

#include "../unit/eal_fixture.h"

#define CALLS 4000000u

struct run {
	struct ztg_rate_table *t;
	const struct ztg_rate_params *p;
	uint64_t key;
	double cycles_per_call;
	pthread_barrier_t *go;        /* NULL: alone */
};

static void *run_calls(void *arg)
{
	struct run *r = arg;
	uint64_t admitted = 0, start;

	if (r->go != NULL)
		pthread_barrier_wait(r->go);
	start = rte_rdtsc();
	for (uint32_t i = 0; i < CALLS; i++)
		admitted += ztg_rate_admit(r->t, r->key, r->p, rte_rdtsc(), NULL);
	r->cycles_per_call = (double)(rte_rdtsc() - start) / CALLS;
	/* Keeps the calls from being optimised away. */
	if (admitted == UINT64_MAX)
		puts("");
	return NULL;
}

int main(void)
{
	struct ztg_rate_params admit_all, deny_all, shared;
	struct run alone = { 0 }, refused = { 0 }, pair[2];
	pthread_barrier_t go;
	pthread_t th[2];
	uint64_t hz;

	if (ztg_eal_fixture_setup(NULL) != 0)
		return 1;
	hz = rte_get_tsc_hz();
	alone.t = ztg_rate_table_create(4096, SOCKET_ID_ANY);
	if (alone.t == NULL)
		return 1;
	/* Far above any call rate: every request admitted. */
	ztg_rate_params_init(&admit_all, UINT32_MAX, 1, UINT32_MAX, hz);
	/* One per hour: everything after the first refused. */
	ztg_rate_params_init(&deny_all, 1, 3600, 0, hz);
	/* The CAS loop under contention: a rate both threads exceed, so both paths mix. */
	ztg_rate_params_init(&shared, 10000000, 1, 100, hz);

	alone.p = &admit_all;
	alone.key = 1;
	run_calls(&alone);
	refused.t = alone.t;
	refused.p = &deny_all;
	refused.key = 2;
	run_calls(&refused);

	pthread_barrier_init(&go, NULL, 2);
	for (int i = 0; i < 2; i++) {
		pair[i] = (struct run){ .t = alone.t, .p = &shared, .key = 3, .go = &go };
		pthread_create(&th[i], NULL, run_calls, &pair[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);

	printf("{\"tsc_hz\":%lu,\"calls\":%u,\"rdtsc_cycles\":%.1f,\"admit_cycles\":%.1f,\"refuse_cycles\":%.1f,"
	       "\"two_threads_one_key_cycles\":[%.1f,%.1f]}\n",
	       (unsigned long)hz, CALLS, rdtsc_cycles(CALLS), alone.cycles_per_call, refused.cycles_per_call,
	       pair[0].cycles_per_call, pair[1].cycles_per_call);
	ztg_rate_table_free(alone.t);
	ztg_eal_fixture_teardown(NULL);
	return 0;
}
