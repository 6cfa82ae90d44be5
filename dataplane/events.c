#include "events.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <rte_lcore.h>

#include "../control/signatures.h"
#include "policy/behaviour.h"

static const char *const scope_names[] = {
	[ZTG_EVENT_SCOPE_IDENTITY] = "identity",
	[ZTG_EVENT_SCOPE_SOURCE] = "source",
	[ZTG_EVENT_SCOPE_ROUTE] = "route",
};

static const char *const action_names[] = {
	[ZTG_EVENT_ACTION_DENY] = "deny",
	[ZTG_EVENT_ACTION_RESET] = "reset",
	[ZTG_EVENT_ACTION_DROP] = "drop",
	[ZTG_EVENT_ACTION_PASS] = "pass",
	[ZTG_EVENT_ACTION_ALLOW] = "allow",
	[ZTG_EVENT_ACTION_ALERT] = "alert",
	[ZTG_EVENT_ACTION_QUARANTINE] = "quarantine",
};

struct rte_ring *ztg_events_ring_create(unsigned int count)
{
	return rte_ring_create_elem("ztg_events", sizeof(struct ztg_event), rte_align32pow2(count),
				    (int)rte_socket_id(), RING_F_SC_DEQ);
}

void ztg_events_format_request_id(uint64_t request_id, char *out, size_t out_len)
{
	snprintf(out, out_len, "ztg-%016" PRIx64, request_id);
}

void ztg_events_format_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ztg_events_write_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void ztg_events_write_string_or_null(FILE *out, const char *s)
{
	if (s == NULL || s[0] == '\0')
		fputs("null", out);
	else
		ztg_events_write_string(out, s);
}

static void format_address(const struct ztg_flow_key *key, unsigned int endpoint, char *buf, size_t len)
{
	if (inet_ntop(key->ip_version == 4 ? AF_INET : AF_INET6, key->addr[endpoint], buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

void ztg_events_write_json(FILE *out, const struct ztg_event *e, double wall_start, uint64_t tsc_start,
			   uint64_t tsc_hz)
{
	double when = wall_start + (double)(int64_t)(e->tsc - tsc_start) / (double)tsc_hz;
	unsigned int client = e->initiator, server = e->initiator ^ 1;
	char stamp[64], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	time_t seconds = (time_t)when;
	struct tm tm;

	gmtime_r(&seconds, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	format_address(&e->flow, client, src, sizeof(src));
	format_address(&e->flow, server, dst, sizeof(dst));
	fprintf(out, "{\"timestamp\":\"%s.%06dZ\",\"worker\":%u", stamp,
		(int)((when - (double)seconds) * 1e6), e->lcore);
	if (e->request_id) {
		char id[32];

		ztg_events_format_request_id(e->request_id, id, sizeof(id));
		fprintf(out, ",\"request_id\":\"%s\",\"request_index\":%u", id, e->request_index);
	}
	fprintf(out, ",\"flow\":{\"src\":\"%s\",\"src_port\":%u,\"dst\":\"%s\",\"dst_port\":%u,\"proto\":%u",
		src, e->flow.port[client], dst, e->flow.port[server], e->flow.l4_proto);
	if (e->flow.vlan_ids[0])
		fprintf(out, ",\"vlan\":%u", e->flow.vlan_ids[0]);
	fprintf(out, "},\"bytes\":{\"from_client\":%" PRIu64 ",\"from_server\":%" PRIu64 "}", e->bytes[0], e->bytes[1]);
	fprintf(out, ",\"action\":\"%s\",\"reason\":",
		e->action < RTE_DIM(action_names) && action_names[e->action] ? action_names[e->action] : "?");
	ztg_events_write_string(out, e->reason);
	if (e->method[0]) {
		fprintf(out, ",\"method\":");
		ztg_events_write_string(out, e->method);
		fprintf(out, ",\"path\":");
		ztg_events_write_string(out, e->path);
	}
	if (e->policy) {
		/* Names the policy gave; empty when the decision came before that step. */
		const char *keys[] = {"segment", "service", "route", "host"};
		const char *values[] = {e->segment, e->service, e->route, e->host};

		fprintf(out, ",\"mode\":\"%s\"", e->monitor ? "monitor" : "enforce");
		for (unsigned int i = 0; i < RTE_DIM(keys); i++) {
			fprintf(out, ",\"%s\":", keys[i]);
			ztg_events_write_string_or_null(out, values[i]);
		}
	}
	if (e->detail[0]) {
		fprintf(out, ",\"detail\":");
		ztg_events_write_string(out, e->detail);
	}
	if (e->rule_count > 0) {
		fprintf(out, ",\"rules\":[");
		for (unsigned int i = 0; i < e->rule_count && i < ZTG_EVENT_RULES_MAX; i++)
			fprintf(out, "%s%u", i ? "," : "", e->rules[i]);
		fprintf(out, "],\"fields\":[");
		for (unsigned int i = 0; i < e->rule_count && i < ZTG_EVENT_RULES_MAX; i++)
			fprintf(out, "%s\"%s\"", i ? "," : "", ztg_sig_field_name((enum ztg_sig_field)e->rule_fields[i]));
		fprintf(out, "],\"score\":%u", e->score);
	}
	if (e->identified || e->kid[0] || e->issuer[0]) {
		const char *keys[] = {"issuer", "subject", "kid"};
		const char *values[] = {e->issuer, e->subject, e->kid};

		fprintf(out, ",\"identity\":{\"verified\":%s", e->identified ? "true" : "false");
		for (unsigned int i = 0; i < RTE_DIM(keys); i++) {
			fprintf(out, ",\"%s\":", keys[i]);
			ztg_events_write_string_or_null(out, values[i]);
		}
		fputc('}', out);
	}
	if (e->behaviour.scope != ZTG_EVENT_SCOPE_NONE && e->behaviour.scope < RTE_DIM(scope_names)) {
		const struct ztg_event_behaviour *b = &e->behaviour;

		fprintf(out, ",\"behaviour\":{\"scope\":\"%s\",\"figure\":\"%s\",\"current\":%" PRIu64
			",\"baseline\":%.2f,\"judged_by\":\"%s\",\"bound\":%" PRIu64 ",\"factor\":%g,"
			"\"window_seconds\":%u,\"risk\":%.1f,\"threshold\":%g",
			scope_names[b->scope], ztg_behaviour_figure_name((enum ztg_behaviour_figure)b->figure), b->current,
			b->baseline, b->by_limit ? "limit" : "baseline", b->bound, b->factor, b->window, b->risk,
			b->threshold);
		if (e->action == ZTG_EVENT_ACTION_QUARANTINE)
			fprintf(out, ",\"quarantine_seconds\":%u", b->quarantine);
		fputc('}', out);
	}
	fprintf(out, "}\n");
}
