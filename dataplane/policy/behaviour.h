/*
 * Behaviour: what each caller, route and source did in its current window,
 * what it usually does (its baseline), and how risky it has become. One
 * table shared by every worker, like the rate limit buckets (rate_limit.h):
 * a caller's flows land on every worker, its behaviour is one.
 *
 * An entry is named by a 64-bit key the caller derives (kind of subject and
 * subject, hashed with a secret seed). It holds:
 *  - the current window (params.window TSC cycles, aligned to multiples of
 *    the window since TSC 0): counts of requests, error responses, auth
 *    failures and response bytes, and three distinct-count sketches (objects
 *    touched, source addresses, identities), each a fixed bitmap estimated
 *    by linear counting: bounded memory whatever the traffic;
 *  - the baseline of each figure: the plain mean of the closed windows
 *    until there are `history` of them, then an exponentially weighted
 *    average, weight 1/history each; windows that passed without a sample
 *    count as zeros, so a caller gone quiet decays toward 0;
 *  - the risk score: a value that halves every params.half_life cycles,
 *    raised by ztg_behaviour_risk_add.
 *
 * Judging. A figure is judged over the last window's length: its count in
 * the current window plus the previous window's, weighed by how much of
 * that window is still within the length (a sliding-window estimate; 0
 * after a gap). It crosses when that is at or above its floor and above
 * factor times its baseline (a new caller's baseline is 0: its floor alone
 * judges it), or at or above its absolute limit. Each figure crosses at most
 * once per window per entry: one event per anomaly, not one per request.
 *
 * Concurrency. Counters are atomic adds; the worker whose sample first falls
 * in a new window closes the old one into the baseline (one CAS on the
 * window start decides which), so a few samples racing the turn may land
 * in either window: the figures are estimates, never locked. Workers never
 * wait for each other.
 *
 * Key 0 is served as key 1 (0 marks an empty entry).
 *
 * Capacity. Fixed at create; an entry whose baseline and risk have decayed
 * to nothing and that saw no sample for `history` windows may be taken by
 * another key. A sample that finds no entry within the probe bound is not
 * recorded and is counted (ztg_behaviour_table_stats.unplaced).
 */
#ifndef ZTG_BEHAVIOUR_H
#define ZTG_BEHAVIOUR_H

#include <stdbool.h>
#include <stdint.h>

enum ztg_behaviour_figure {
	ZTG_BEHAVIOUR_REQUESTS,
	ZTG_BEHAVIOUR_ERRORS,            /* error responses (401, 403, 404, 5xx) */
	ZTG_BEHAVIOUR_OBJECTS,           /* distinct objects touched (estimate) */
	ZTG_BEHAVIOUR_BYTES,             /* response bytes */
	ZTG_BEHAVIOUR_AUTH_FAILURES,
	ZTG_BEHAVIOUR_SOURCES,           /* distinct source addresses (estimate) */
	ZTG_BEHAVIOUR_IDENTITIES,        /* distinct identities (estimate) */
	ZTG_BEHAVIOUR_FIGURES
};

/* "requests", "errors", "objects", "bytes", "auth_failures", "sources", "identities"; "?" out of range. */
const char *ztg_behaviour_figure_name(enum ztg_behaviour_figure f);

struct ztg_behaviour_params {
	uint64_t window;                           /* TSC cycles per window, >= 1 (below 256 taken as 256) */
	uint32_t history;                          /* baseline weight of a closed window: 1/history, history >= 1 */
	double factor;                             /* anomalous above factor x baseline */
	uint64_t floor[ZTG_BEHAVIOUR_FIGURES];     /* judged against the baseline only from here; 0: never */
	uint64_t limit[ZTG_BEHAVIOUR_FIGURES];     /* crosses at this count whatever the baseline; 0: no limit */
	uint64_t half_life;                        /* risk: TSC cycles for a score to halve, >= 1 */
};

/* One observation of a key, added to its current window. Zero fields add nothing. */
struct ztg_behaviour_sample {
	uint32_t requests;
	uint32_t errors;
	uint32_t auth_failures;
	uint64_t bytes;
	uint64_t object;                           /* hash of the object touched; 0: none */
	uint64_t source;                           /* hash of the source address; 0: none */
	uint64_t identity;                         /* hash of the identity; 0: none */
};

/* What a sample made cross, and the figures behind it (for the anomaly event). */
struct ztg_behaviour_crossing {
	uint32_t figures;                          /* bit (1 << figure) per figure that crossed with this sample */
	uint32_t by_limit;                         /* of those, the ones that crossed their absolute limit */
	uint64_t current[ZTG_BEHAVIOUR_FIGURES];   /* after the sample: judged figures over the last window's
						      length (see Judging), the others this window's */
	double baseline[ZTG_BEHAVIOUR_FIGURES];    /* per window */
	uint32_t windows;                          /* closed windows the baseline learnt from (capped at 65535) */
};

struct ztg_behaviour_table;

/*
 * capacity: entries, a power of two >= 64. socket: NUMA socket or
 * SOCKET_ID_ANY. NULL when memory ran out or capacity is not such a power.
 */
struct ztg_behaviour_table *ztg_behaviour_table_create(uint32_t capacity, int socket);
void ztg_behaviour_table_free(struct ztg_behaviour_table *t);

/*
 * Add sample s to key's window at now (TSC). true when a figure crossed:
 * *out says which and with what figures (out is written only then, may
 * be NULL). Safe from any number of threads at once.
 */
bool ztg_behaviour_observe(struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
			   uint64_t now, const struct ztg_behaviour_sample *s, struct ztg_behaviour_crossing *out);

/*
 * Decay key's risk to now and add weight. Returns the new score; *crossed
 * (may be NULL) tells whether this call took it from below threshold to at
 * or above it, so one crossing quarantines once however many workers add at
 * the same time. A key without an entry gets one; without room the weight is
 * lost and 0 returned (counted in unplaced).
 */
double ztg_behaviour_risk_add(struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
			      uint64_t now, double weight, double threshold, bool *crossed);

/* key's risk decayed to now; 0 without an entry. */
double ztg_behaviour_risk(const struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
			  uint64_t now);

struct ztg_behaviour_table_stats {
	uint32_t capacity;
	uint32_t in_use;                 /* entries holding a key */
	uint64_t unplaced;               /* samples and risk additions lost for want of an entry */
};

void ztg_behaviour_table_stats(const struct ztg_behaviour_table *t, struct ztg_behaviour_table_stats *out);

/*
 * key's current window as the last sample left it (nothing is turned: a
 * window that has ended shows until the next sample), its baselines and
 * closed windows; figures: those already crossed in this window; by_limit
 * is 0. false without an entry. For tests and diagnostics, not the fast path.
 */
bool ztg_behaviour_peek(const struct ztg_behaviour_table *t, uint64_t key, struct ztg_behaviour_crossing *out);

#endif
