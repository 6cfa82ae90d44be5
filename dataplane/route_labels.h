/*
 * Route labels: the (service, route) name pairs metrics are labelled with,
 * each given a slot number that stays the same across policy swaps, so a
 * counter keeps its series when the policy that named it is replaced.
 *
 * Append only and bounded: slot 0 is (service "", route ""), for requests no
 * service took; slot 1 is ("_other", "_other"), where pairs go once the
 * table is full. Names are copied in: a reader never touches policy memory.
 *
 * One writer (the thread that builds policies) assigns slots; any thread may
 * read the slots below ztg_route_labels_count(), whose entries were written
 * before the count was published.
 */
#ifndef ZTG_ROUTE_LABELS_H
#define ZTG_ROUTE_LABELS_H

#include <stdbool.h>
#include <stdint.h>

#define ZTG_ROUTE_LABEL_NONE  0u
#define ZTG_ROUTE_LABEL_OTHER 1u
#define ZTG_ROUTE_LABEL_NAME_MAX 65      /* a policy name: 64 characters and the NUL */

struct ztg_route_labels;

/* A table of `capacity` slots (>= 2, at most 2^24), NULL when memory ran out. */
struct ztg_route_labels *ztg_route_labels_create(uint32_t capacity);
void ztg_route_labels_free(struct ztg_route_labels *l);

/* Writer: the slot of (service, route); route NULL or "" means the service's requests no route took. */
uint32_t ztg_route_labels_slot(struct ztg_route_labels *l, const char *service, const char *route);

/* Readers: slots assigned so far, and a slot's names (NULL for a slot not assigned). */
uint32_t ztg_route_labels_count(const struct ztg_route_labels *l);
const char *ztg_route_labels_service(const struct ztg_route_labels *l, uint32_t slot);
const char *ztg_route_labels_route(const struct ztg_route_labels *l, uint32_t slot);

/* The same for a label value: "" when l is NULL or the slot is not assigned. */
const char *ztg_route_labels_value(const struct ztg_route_labels *l, uint32_t slot, bool route);

#endif
