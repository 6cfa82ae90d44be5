/*
 * Rate limits: one table of buckets shared by every worker, so a limit holds
 * for a caller whichever worker its flows land on (RSS spreads one identity's
 * connections over all of them).
 *
 * Each bucket is GCRA (the generic cell rate algorithm, a token bucket kept
 * as one "theoretical arrival time" on the TSC): a request at time t is
 * admitted when tat - tolerance <= t, and then tat = max(tat, t) + interval,
 * where interval = period / rate and tolerance = burst * interval. One 64-bit
 * compare-and-swap per admitted request; workers never lock and never wait
 * for each other beyond a retried CAS on the same bucket.
 *
 * A bucket is named by a 64-bit key the caller derives (the limit's scope
 * and the identity, API key or source prefix hashed with a secret seed: keys
 * cannot be precomputed to collide). The table is fixed-size: a bucket idle
 * long enough to be full again (tat <= now) is free to be taken by another
 * key; when no slot is free within the probe limit (the 8 slots of the
 * key's group) the request is admitted and counted
 * (ztg_rate_table_stats.unplaced), never refused for the table's sake. The table outlives policies: a swap keeps every caller's state.
 */
#ifndef ZTG_RATE_LIMIT_H
#define ZTG_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ztg_rate_table;

/* A limit in TSC units, from rate requests per period_seconds plus burst. */
struct ztg_rate_params {
	uint64_t interval;               /* cycles between admitted requests at the rate, >= 1 */
	uint64_t tolerance;              /* burst * interval */
};

void ztg_rate_params_init(struct ztg_rate_params *p, uint32_t rate, uint32_t period_seconds, uint32_t burst,
			  uint64_t tsc_hz);

/*
 * capacity: buckets, a power of two >= 64. socket: NUMA socket or SOCKET_ID_ANY.
 * NULL when memory ran out or capacity is not such a power of two.
 */
struct ztg_rate_table *ztg_rate_table_create(uint32_t capacity, int socket);
void ztg_rate_table_free(struct ztg_rate_table *t);

/*
 * One request for bucket `key` at now (TSC). true: admitted. false: over the
 * limit, and *retry_after (cycles, may be NULL) says when the next request
 * would be. Safe from any number of threads at once.
 */
bool ztg_rate_admit(struct ztg_rate_table *t, uint64_t key, const struct ztg_rate_params *p, uint64_t now,
		    uint64_t *retry_after);

struct ztg_rate_table_stats {
	uint32_t capacity;
	uint32_t in_use;                 /* buckets not full again yet, at the time of the call */
	uint64_t unplaced;               /* requests admitted because no bucket could be had */
};

void ztg_rate_table_stats(const struct ztg_rate_table *t, uint64_t now, struct ztg_rate_table_stats *out);

#endif
