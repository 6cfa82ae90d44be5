/*
 * The fetch schedule of one URL-backed JWKS issuer: when to fetch its key set
 * again, and the counters an operator reads about it. Pure logic over an
 * injected clock (seconds, int64_t); no I/O, no time source, no locking: the
 * one thread that fetches for the issuer owns its struct, and whoever shows
 * the counters elsewhere reads them under the caller's own lock.
 *
 * The schedule:
 *  - the first fetch is due at once (at init);
 *  - after a success, the next is due interval_s later;
 *  - after a failure, it is due after a backoff that starts at refetch_min_s
 *    and doubles with each consecutive failure, up to interval_s; a success
 *    resets it;
 *  - in between, a token naming a kid the current keys lack makes a fetch
 *    due early, at most once per refetch_min_s since the last attempt ended,
 *    so unknown kids (forged or not) cannot drive the fetch rate.
 *
 * Keep-last-good is the caller's part: it replaces an issuer's keys only
 * after a fetch that succeeded and whose key set parsed; a failed fetch
 * leaves the keys in use untouched (and is reported here with
 * ztg_jwks_refresh_failed()), however long failures last.
 *
 * Invariants: 1 <= refetch_min_s <= interval_s (init clamps them);
 * backoff_s is 0 or within [refetch_min_s, interval_s]; failures <= fetches,
 * early_refetches <= fetches. now must come from a clock that never goes
 * back (CLOCK_MONOTONIC seconds); times here are in that clock.
 */
#ifndef ZTG_JWKS_REFRESH_H
#define ZTG_JWKS_REFRESH_H

#include <stdbool.h>
#include <stdint.h>

#define ZTG_JWKS_REFRESH_ERROR_MAX 256

struct ztg_jwks_refresh {
	uint32_t interval_s;          /* between successful fetches */
	uint32_t refetch_min_s;       /* least spacing of early fetches; the first backoff */
	uint32_t backoff_s;           /* the wait after the latest failure; 0 after a success (or none yet) */
	int64_t next_due;             /* when the schedule calls for the next fetch */
	int64_t last_attempt;         /* when the latest fetch ended; meaningful once fetches > 0 */
	int64_t last_success;         /* when the latest successful fetch ended; once fetches > failures */
	uint64_t fetches;             /* attempts ended, successful or not */
	uint64_t failures;
	/*
	 * Attempts that ended before the schedule called for one: made for an
	 * unknown kid. One that outlasts the time the schedule would have
	 * fetched anyway stood in for that fetch and is not counted.
	 */
	uint64_t early_refetches;
	char last_error[ZTG_JWKS_REFRESH_ERROR_MAX];   /* the latest error set; kept after a success */
};

/* A fresh schedule whose first fetch is due at now; counters zero, no error. */
void ztg_jwks_refresh_init(struct ztg_jwks_refresh *r, uint32_t interval_s, uint32_t refetch_min_s, int64_t now);

/*
 * Whether a fetch is due now: the interval since the last success (or the
 * backoff since the last failure) elapsed, or unknown_kid_reported and the
 * last attempt ended at least refetch_min_s ago.
 */
bool ztg_jwks_refresh_due(const struct ztg_jwks_refresh *r, int64_t now, bool unknown_kid_reported);

/* A fetch ended at now and its key set was taken: the next is due interval_s later, the backoff is reset. */
void ztg_jwks_refresh_succeeded(struct ztg_jwks_refresh *r, int64_t now);

/* A fetch ended at now without keys to take: the backoff doubles from refetch_min_s up to interval_s. */
void ztg_jwks_refresh_failed(struct ztg_jwks_refresh *r, int64_t now);

/* Keeps text as last_error (cut to fit); NULL clears it. */
void ztg_jwks_refresh_set_error(struct ztg_jwks_refresh *r, const char *text);

#endif /* ZTG_JWKS_REFRESH_H */
