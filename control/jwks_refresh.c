/*
 * The fetch schedule of one URL-backed JWKS issuer (jwks_refresh.h).
 *
 * One deadline, next_due, carries both the regular interval and the backoff:
 * whichever outcome came last set it. Early fetches need only the time the
 * last attempt ended. Whether an attempt was early is told when it ends, by
 * whether the schedule had called for it yet, so due() stays a pure query
 * and callers report nothing but outcomes.
 */
#include "jwks_refresh.h"

#include <stdio.h>
#include <string.h>

/* t + s, held at INT64_MAX: a clock near its end must not wrap a deadline into the past. */
static int64_t later(int64_t t, uint32_t s)
{
	return t > INT64_MAX - (int64_t)s ? INT64_MAX : t + (int64_t)s;
}

void ztg_jwks_refresh_init(struct ztg_jwks_refresh *r, uint32_t interval_s, uint32_t refetch_min_s, int64_t now)
{
	memset(r, 0, sizeof(*r));
	/* 0 would make a failing issuer be fetched in a tight loop. */
	r->interval_s = interval_s > 0 ? interval_s : 1;
	r->refetch_min_s = refetch_min_s > 0 ? refetch_min_s : 1;
	if (r->refetch_min_s > r->interval_s)
		r->refetch_min_s = r->interval_s;
	r->next_due = now;
}

bool ztg_jwks_refresh_due(const struct ztg_jwks_refresh *r, int64_t now, bool unknown_kid_reported)
{
	if (now >= r->next_due)
		return true;
	return unknown_kid_reported && now >= later(r->last_attempt, r->refetch_min_s);
}

static void attempt_ended(struct ztg_jwks_refresh *r, int64_t now)
{
	r->fetches++;
	if (now < r->next_due)
		r->early_refetches++;
	r->last_attempt = now;
}

void ztg_jwks_refresh_succeeded(struct ztg_jwks_refresh *r, int64_t now)
{
	attempt_ended(r, now);
	r->last_success = now;
	r->backoff_s = 0;
	r->next_due = later(now, r->interval_s);
}

void ztg_jwks_refresh_failed(struct ztg_jwks_refresh *r, int64_t now)
{
	attempt_ended(r, now);
	r->failures++;
	if (r->backoff_s == 0)
		r->backoff_s = r->refetch_min_s;
	else
		r->backoff_s = r->backoff_s > r->interval_s / 2 ? r->interval_s : r->backoff_s * 2;
	r->next_due = later(now, r->backoff_s);
}

void ztg_jwks_refresh_set_error(struct ztg_jwks_refresh *r, const char *text)
{
	snprintf(r->last_error, sizeof(r->last_error), "%s", text != NULL ? text : "");
}
