/*
 * API inventory: the endpoints clients actually call that no route
 * describes (shadow APIs), as ztgatectl inventory shows them.
 *
 * Owned by the main lcore and fed from the event stream (every no_route
 * decision, enforced or monitored, is an event), so workers neither lock nor
 * write anything for it. Paths are recorded by shape, ids collapsed to {id}
 * (ztg_route_path_shape), so /api/v1/invoices/17 and /api/v1/invoices/18 are
 * one endpoint. Bounded: at most `capacity` endpoints; beyond that new ones
 * are only counted as overflow, existing ones keep counting.
 */
#ifndef ZTG_INVENTORY_H
#define ZTG_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "events.h"

struct ztg_inventory;

struct ztg_inventory *ztg_inventory_create(uint32_t capacity);
void ztg_inventory_free(struct ztg_inventory *inv);

/* Record e if it is a no_route decision; other events are ignored. */
void ztg_inventory_observe(struct ztg_inventory *inv, const struct ztg_event *e, time_t when);

/* Services a summary keeps apart; the rest are added up under "_other". */
#define ZTG_INVENTORY_SUMMARY_SERVICES 64

/* What /metrics exports: counts only, by service (names from the policy: a bounded set). */
struct ztg_inventory_summary {
	uint32_t endpoints;
	uint64_t requests;
	uint64_t overflow;             /* requests to endpoints that found no room */
	uint32_t service_count;
	struct {
		char name[ZTG_EVENT_NAME_MAX];
		uint32_t endpoints;
		uint64_t requests;
	} services[ZTG_INVENTORY_SUMMARY_SERVICES];
};

void ztg_inventory_summarize(const struct ztg_inventory *inv, struct ztg_inventory_summary *out);

/* Endpoints by request count, most called first: a table, or one JSON document. */
void ztg_inventory_print(const struct ztg_inventory *inv, bool json, FILE *out);

#endif
