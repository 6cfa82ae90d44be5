/*
 * Rate limits: GCRA buckets in one open-addressed table shared by every
 * worker, without locks.
 *
 * Layout. A bucket is a slot of two 64-bit words, tat then key. Slots come
 * in groups of GROUP_SLOTS (two cache lines, 128-byte aligned so the
 * adjacent-line prefetcher fetches a group whole); a key lives in the group
 * its mixed hash names and nowhere else, so a lookup reads at most
 * GROUP_SLOTS slots: that is the probe bound. An all-zero slot is simply a
 * full bucket (tat 0 <= now) of key 0: the table needs no "empty" marker,
 * and a key 0 matching one is right, a full bucket is a fresh one.
 *
 * tat is the word every decision is a CAS on; key is only ever written by
 * the worker that owns the slot through a claim. A tat holds either a time
 * or BUSY, the mark of a claim in progress:
 *
 *   admit (key K found, tat T):  CAS T -> max(T, now) + interval
 *   claim (no K, a T <= now):    CAS T -> BUSY, store key = K,
 *                                store (release) tat = now + interval
 *
 * Why this is correct. (1) The times a slot's tat holds strictly increase:
 * an admit writes max(T, now) + interval > T (interval >= 1), a claim only
 * takes a T <= now and writes now + interval > T. So a tat never holds the
 * same time twice (no ABA), and once a claim has replaced T, a CAS that
 * expects T fails for ever. (2) The key changes only between a claim's
 * CAS to BUSY and its release store of the new time. A worker reads tat
 * (acquire) and only then key: if it read the claim's final time it sees
 * the claim's key (the release store, and every admit CAS after it, which
 * continues its release sequence); if it read an older time, a claim that
 * comes later makes its CAS fail by (1). And the key it read cannot come
 * from a claim that follows its own successful CAS: that CAS (release) is
 * read by the claim's CAS (acquire), so the key load happens before the
 * claim's key store. Hence a successful admit CAS applied to K's bucket.
 * (3) A refusal writes nothing, so it validates its snapshot seqlock-style:
 * key load, acquire fence, tat reloaded unchanged. A claim puts a release
 * fence between its CAS and its key store, so a key load that saw the new
 * key makes the reload see BUSY or later: the refusal is retried instead.
 *
 * A claim only takes a bucket that is full again, whose state equals a fresh
 * one, so forgetting its previous key loses nothing. Every lookup scans the
 * whole group for its key before claiming, so an idle-but-unfull bucket of
 * K is always found, never shadowed by a fresh one.
 *
 * What is not exact: a worker that meets BUSY skips that slot, so two
 * workers bringing a new key into one group at the same instant may each
 * claim a slot for it; each admits that one request, the first in the group
 * serves the key from then on and the other ages out at its tat. A worker
 * that meets BUSY never waits: a claimer is three stores long.
 *
 * Progress: lock-free. A failed CAS means another worker's admit or claim
 * succeeded, and the lookup starts again from the group.
 */
#include "rate_limit.h"

#include <stdatomic.h>
#include <stddef.h>

#include <rte_common.h>
#include <rte_malloc.h>

#define GROUP_SLOTS    8u
#define GROUP_ALIGN    128u
#define MIN_CAPACITY   64u
/* A claim in progress. Never a time: times stay below 2^63 + 2^62 (see PARAM_MAX). */
#define BUSY           UINT64_MAX
/*
 * interval and tolerance are capped so max(tat, now) + interval cannot
 * overflow: the TSC stays below 2^63 for over a century at 5 GHz, tats below
 * now + 2^62.
 */
#define PARAM_MAX      (UINT64_C(1) << 62)

/* A zeroed slot must read as 0: rte_zmalloc is the only initialisation. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

struct slot {
	_Atomic uint64_t tat;            /* theoretical arrival time (TSC), or BUSY */
	_Atomic uint64_t key;
};

struct group {
	struct slot slot[GROUP_SLOTS];
} __rte_aligned(GROUP_ALIGN);

_Static_assert(sizeof(struct group) == GROUP_ALIGN, "a group is two cache lines");

struct ztg_rate_table {
	uint32_t capacity;
	uint32_t group_mask;
	struct group *groups;
	/* Its own line: written when the table overflows, by every worker, while the rest is read. */
	_Atomic uint64_t unplaced __rte_cache_aligned;
};

void ztg_rate_params_init(struct ztg_rate_params *p, uint32_t rate, uint32_t period_seconds, uint32_t burst,
			  uint64_t tsc_hz)
{
	unsigned __int128 cycles = (unsigned __int128)period_seconds * tsc_hz;
	unsigned __int128 interval, tolerance;

	if (rate == 0)
		rate = 1;
	/* Rounded to the nearest cycle: the rate errs by at most half a cycle per interval, either way. */
	interval = (cycles + rate / 2) / rate;
	if (interval == 0)
		interval = 1;
	if (interval > PARAM_MAX)
		interval = PARAM_MAX;
	tolerance = interval * burst;
	if (tolerance > PARAM_MAX)
		tolerance = PARAM_MAX;
	p->interval = (uint64_t)interval;
	p->tolerance = (uint64_t)tolerance;
}

struct ztg_rate_table *ztg_rate_table_create(uint32_t capacity, int socket)
{
	struct ztg_rate_table *t;

	if (capacity < MIN_CAPACITY || !rte_is_power_of_2(capacity))
		return NULL;
	t = rte_zmalloc_socket("ztg_rate_table", sizeof(*t), RTE_CACHE_LINE_SIZE, socket);
	if (t == NULL)
		return NULL;
	t->groups = rte_zmalloc_socket("ztg_rate_buckets", (size_t)capacity * sizeof(struct slot), GROUP_ALIGN,
				       socket);
	if (t->groups == NULL) {
		rte_free(t);
		return NULL;
	}
	t->capacity = capacity;
	t->group_mask = capacity / GROUP_SLOTS - 1;
	return t;
}

void ztg_rate_table_free(struct ztg_rate_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->groups);
	rte_free(t);
}

/* Keys are keyed hashes already; the multiply only guards against a caller whose low bits are poor. */
static inline struct group *group_of(const struct ztg_rate_table *t, uint64_t key)
{
	return &t->groups[(uint32_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & t->group_mask];
}

bool ztg_rate_admit(struct ztg_rate_table *t, uint64_t key, const struct ztg_rate_params *p, uint64_t now,
		    uint64_t *retry_after)
{
	struct group *g = group_of(t, key);

	for (;;) {
		struct slot *mine = NULL, *free_slot = NULL;
		uint64_t tat = 0, free_tat = 0;

		for (uint32_t i = 0; i < GROUP_SLOTS; i++) {
			struct slot *s = &g->slot[i];
			uint64_t v = atomic_load_explicit(&s->tat, memory_order_acquire);

			if (v == BUSY)
				continue;
			if (atomic_load_explicit(&s->key, memory_order_relaxed) == key) {
				mine = s;
				tat = v;
				break;
			}
			if (free_slot == NULL && v <= now) {
				free_slot = s;
				free_tat = v;
			}
		}

		if (mine != NULL) {
			/* Admitted when tat - tolerance <= now, written so that nothing wraps. */
			if (tat > now && tat - now > p->tolerance) {
				atomic_thread_fence(memory_order_acquire);
				if (atomic_load_explicit(&mine->tat, memory_order_relaxed) != tat)
					continue;
				if (retry_after != NULL)
					*retry_after = tat - now - p->tolerance;
				return false;
			}
			if (atomic_compare_exchange_weak_explicit(&mine->tat, &tat, RTE_MAX(tat, now) + p->interval,
								  memory_order_acq_rel, memory_order_relaxed))
				return true;
			continue;
		}

		if (free_slot != NULL) {
			if (!atomic_compare_exchange_weak_explicit(&free_slot->tat, &free_tat, BUSY,
								   memory_order_acq_rel, memory_order_relaxed))
				continue;
			/* Orders the claim before the key for a refusal's validation (3 above). */
			atomic_thread_fence(memory_order_release);
			atomic_store_explicit(&free_slot->key, key, memory_order_relaxed);
			/* free_tat <= now: a full bucket admits, and starts from now. */
			atomic_store_explicit(&free_slot->tat, now + p->interval, memory_order_release);
			return true;
		}

		atomic_fetch_add_explicit(&t->unplaced, 1, memory_order_relaxed);
		return true;
	}
}

void ztg_rate_table_stats(const struct ztg_rate_table *t, uint64_t now, struct ztg_rate_table_stats *out)
{
	uint32_t in_use = 0;

	for (uint32_t g = 0; g <= t->group_mask; g++) {
		for (uint32_t i = 0; i < GROUP_SLOTS; i++) {
			/* BUSY counts too: a claim is placing a bucket there. */
			if (atomic_load_explicit(&t->groups[g].slot[i].tat, memory_order_relaxed) > now)
				in_use++;
		}
	}
	out->capacity = t->capacity;
	out->in_use = in_use;
	out->unplaced = atomic_load_explicit(&t->unplaced, memory_order_relaxed);
}
