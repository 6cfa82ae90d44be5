/*
 * Top: what ztgatectl top shows. Requests per second by verdict, by service
 * and by stop reason over the last complete interval, with totals; and the
 * identities seen most often in the event stream.
 *
 * Requests come from the workers' labelled counters (tally.h), sampled at
 * most once per ZTG_TOP_PERIOD seconds by the main lcore: a rate is the
 * difference of two samples over the time between them, so every rate in one
 * view covers the same interval. Sampling, the view and the snapshots they
 * keep belong to the main lcore.
 *
 * Identities come from logged events only (denied requests, and allowed ones
 * when --event-sample-allowed logs them), never from the counters: they are
 * not metric labels, and an attacker minting subjects must not grow memory.
 * They are kept in a space-saving table of at most `identity_capacity`
 * (issuer, subject) entries counted per interval: when it is full a new
 * identity takes the place of the one counted least this interval and
 * inherits its count, so an identity's count is never under its true count
 * and over it by at most its `error`. The table is fed by whichever thread
 * drains the events and read by the main lcore: a mutex guards it.
 */
#ifndef ZTG_TOP_H
#define ZTG_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "events.h"
#include "route_labels.h"
#include "tally.h"

#define ZTG_TOP_PERIOD 1.0              /* seconds between samples */
#define ZTG_TOP_ROWS   10               /* services, reasons and identities a view lists */

struct ztg_top;

/* NULL when memory ran out. identity_capacity: 1 to 65535 entries. */
struct ztg_top *ztg_top_create(uint32_t identity_capacity);
void ztg_top_free(struct ztg_top *top);

/*
 * Main lcore, as often as it likes: take a sample when ZTG_TOP_PERIOD has
 * passed since the last one (the first call always takes one). now: seconds
 * on a monotonic clock. tallies: `count` worker tables (entries may be NULL;
 * tallies NULL: no requests counted); labels names their route slots (NULL:
 * every service shown unnamed). Returns 1 when it sampled, 0 when no sample
 * was due, -1 when memory ran out (the previous view stays).
 */
int ztg_top_sample(struct ztg_top *top, const struct ztg_tally *const *tallies, unsigned int count,
		   const struct ztg_route_labels *labels, double now);

/* Any thread: count one drained event for its identity (events without one are only counted). */
void ztg_top_observe(struct ztg_top *top, const struct ztg_event *event);

/* Main lcore: the view as of the last sample, as a text screen or one JSON document. */
void ztg_top_print(const struct ztg_top *top, bool json, FILE *out);

#endif
