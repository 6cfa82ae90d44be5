#include "inventory.h"

#include <stdlib.h>
#include <string.h>

#include "policy/route_match.h"

#define SHAPE_MAX 128

struct endpoint {
	char service[ZTG_EVENT_NAME_MAX];
	char host[ZTG_EVENT_NAME_MAX];
	char method[16];
	char shape[SHAPE_MAX];
	uint64_t requests;
	time_t first_seen;
	time_t last_seen;
};

struct ztg_inventory {
	uint32_t capacity;
	uint32_t count;
	uint64_t overflow;             /* requests to endpoints that found no room */
	struct endpoint *endpoints;    /* a linear table: the main lcore, a few per second at most */
};

struct ztg_inventory *ztg_inventory_create(uint32_t capacity)
{
	struct ztg_inventory *inv = calloc(1, sizeof(*inv));

	if (inv == NULL)
		return NULL;
	inv->capacity = capacity;
	inv->endpoints = calloc(capacity, sizeof(*inv->endpoints));
	if (inv->endpoints == NULL) {
		free(inv);
		return NULL;
	}
	return inv;
}

void ztg_inventory_free(struct ztg_inventory *inv)
{
	if (inv == NULL)
		return;
	free(inv->endpoints);
	free(inv);
}

void ztg_inventory_observe(struct ztg_inventory *inv, const struct ztg_event *e, time_t when)
{
	char shape[SHAPE_MAX];
	struct endpoint *ep = NULL;

	if (!e->policy || strcmp(e->reason, "no_route") != 0)
		return;
	/* An event's path is bounded and may be cut: a shape that does not fit keeps the cut path. */
	if (ztg_route_path_shape(e->path, strlen(e->path), shape, sizeof(shape)) < 0)
		snprintf(shape, sizeof(shape), "%s", e->path);
	for (uint32_t i = 0; i < inv->count; i++) {
		struct endpoint *x = &inv->endpoints[i];

		if (!strcmp(x->shape, shape) && !strcmp(x->method, e->method) && !strcmp(x->service, e->service) &&
		    !strcmp(x->host, e->host)) {
			ep = x;
			break;
		}
	}
	if (ep == NULL) {
		if (inv->count == inv->capacity) {
			inv->overflow++;
			return;
		}
		ep = &inv->endpoints[inv->count++];
		snprintf(ep->service, sizeof(ep->service), "%s", e->service);
		snprintf(ep->host, sizeof(ep->host), "%s", e->host);
		snprintf(ep->method, sizeof(ep->method), "%s", e->method);
		snprintf(ep->shape, sizeof(ep->shape), "%s", shape);
		ep->first_seen = when;
	}
	ep->requests++;
	ep->last_seen = when;
}

/* The summary's entry for service `name`: a new one while there is room, then the last, "_other". */
static uint32_t summary_service(struct ztg_inventory_summary *out, const char *name)
{
	uint32_t s;

	for (s = 0; s < out->service_count; s++) {
		if (strcmp(out->services[s].name, name) == 0)
			return s;
	}
	if (s == ZTG_INVENTORY_SUMMARY_SERVICES - 1 || s == ZTG_INVENTORY_SUMMARY_SERVICES) {
		s = ZTG_INVENTORY_SUMMARY_SERVICES - 1;
		name = "_other";
	}
	if (s == out->service_count)
		out->service_count++;
	snprintf(out->services[s].name, sizeof(out->services[s].name), "%s", name);
	return s;
}

void ztg_inventory_summarize(const struct ztg_inventory *inv, struct ztg_inventory_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->endpoints = inv->count;
	out->overflow = inv->overflow;
	for (uint32_t i = 0; i < inv->count; i++) {
		const struct endpoint *ep = &inv->endpoints[i];
		uint32_t s = summary_service(out, ep->service);

		out->requests += ep->requests;
		out->services[s].endpoints++;
		out->services[s].requests += ep->requests;
	}
}

static int by_requests(const void *a, const void *b)
{
	const struct endpoint *x = *(const struct endpoint *const *)a, *y = *(const struct endpoint *const *)b;

	return x->requests < y->requests ? 1 : x->requests > y->requests ? -1 : strcmp(x->shape, y->shape);
}

void ztg_inventory_print(const struct ztg_inventory *inv, bool json, FILE *out)
{
	const struct endpoint **order = calloc(inv->count + 1, sizeof(*order));
	char first[32], last[32];

	if (order == NULL) {
		fprintf(out, json ? "null\n" : "out of memory\n");
		return;
	}
	for (uint32_t i = 0; i < inv->count; i++)
		order[i] = &inv->endpoints[i];
	qsort(order, inv->count, sizeof(*order), by_requests);
	if (json) {
		fprintf(out, "{\"shadow_endpoints\":%u,\"overflow_requests\":%llu,\"endpoints\":[", inv->count,
			(unsigned long long)inv->overflow);
	} else {
		fprintf(out, "%u endpoint(s) called without a route%s\n", inv->count,
			inv->count ? " (shadow APIs), most called first:" : "");
		if (inv->count)
			fprintf(out, "%-10s %-8s %-40s %-24s %-20s %-20s %s\n", "REQUESTS", "METHOD", "PATH SHAPE", "HOST",
				"FIRST SEEN", "LAST SEEN", "SERVICE");
	}
	for (uint32_t i = 0; i < inv->count; i++) {
		const struct endpoint *ep = order[i];

		ztg_events_format_utc(ep->first_seen, first, sizeof(first));
		ztg_events_format_utc(ep->last_seen, last, sizeof(last));
		if (!json) {
			fprintf(out, "%-10llu %-8s %-40s %-24s %-20s %-20s %s\n", (unsigned long long)ep->requests,
				ep->method, ep->shape, ep->host[0] ? ep->host : "-", first, last, ep->service);
			continue;
		}
		fprintf(out, "%s{\"method\":", i ? "," : "");
		ztg_events_write_string(out, ep->method);
		fprintf(out, ",\"path_shape\":");
		ztg_events_write_string(out, ep->shape);
		fprintf(out, ",\"host\":");
		ztg_events_write_string(out, ep->host);
		fprintf(out, ",\"service\":");
		ztg_events_write_string(out, ep->service);
		fprintf(out, ",\"requests\":%llu,\"first_seen\":\"%s\",\"last_seen\":\"%s\"}",
			(unsigned long long)ep->requests, first, last);
	}
	if (json)
		fprintf(out, "]}\n");
	else if (inv->overflow)
		fprintf(out, "(%llu more request(s) to endpoints beyond the inventory's %u)\n",
			(unsigned long long)inv->overflow, inv->capacity);
	free(order);
}
