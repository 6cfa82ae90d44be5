#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "events.h"

/* A port's name and NIC counters; zeros when the device cannot say. */
static void read_port(uint16_t port, char name[RTE_ETH_NAME_MAX_LEN], struct rte_eth_stats *ps)
{
	if (rte_eth_dev_get_name_by_port(port, name) != 0)
		strcpy(name, "?");
	if (rte_eth_stats_get(port, ps) != 0)
		memset(ps, 0, sizeof(*ps));
}

void ztg_stats_sum(const struct ztg_stats_source *src, struct ztg_counters *total)
{
	memset(total, 0, sizeof(*total));
	for (unsigned int w = 0; w < src->worker_count; w++) {
		const struct ztg_counters *c = src->workers[w];

#define ZTG_COUNTER_ADD(name) total->name += c->name;
		ZTG_COUNTERS(ZTG_COUNTER_ADD)
#undef ZTG_COUNTER_ADD
		for (int r = 0; r < ZTG_DROP_REASON_COUNT; r++)
			total->drops[r] += c->drops[r];
		for (int b = 0; b < ZTG_LATENCY_BUCKETS; b++)
			total->latency[b] += c->latency[b];
		total->latency_cycles += c->latency_cycles;
	}
}

void ztg_stats_print_interval(FILE *out, const struct ztg_stats_source *src, struct ztg_counters *previous,
			      double interval_seconds)
{
	struct ztg_counters now;
	double s = interval_seconds > 0 ? interval_seconds : 1;

	ztg_stats_sum(src, &now);
	fprintf(out, "stats: rx %.0f pps %.1f Mbps, tx %.0f pps, dropped %" PRIu64 " (+%" PRIu64 "), "
		"flows %" PRIu64 " active %" PRIu64 " created\n",
		(double)(now.rx_packets - previous->rx_packets) / s,
		(double)(now.rx_bytes - previous->rx_bytes) * 8 / s / 1e6,
		(double)(now.tx_packets - previous->tx_packets) / s, now.dropped, now.dropped - previous->dropped,
		now.flows_active, now.flows_created);
	fflush(out);
	*previous = now;
}

void ztg_stats_print_final(FILE *out, const struct ztg_stats_source *src)
{
	struct ztg_counters t;
	double secs = src->duration_seconds > 0 ? src->duration_seconds : 1;

	ztg_stats_sum(src, &t);
	fprintf(out, "\n=== ztgate counters (%s, %.2f s, %u worker%s) ===\n", src->mode, src->duration_seconds,
		src->worker_count, src->worker_count == 1 ? "" : "s");
#define ZTG_COUNTER_PRINT(name) fprintf(out, "  %-18s %" PRIu64 "\n", #name, t.name);
	ZTG_COUNTERS(ZTG_COUNTER_PRINT)
#undef ZTG_COUNTER_PRINT
	fprintf(out, "  %-18s %.3f Mpps, %.3f Gbps\n", "rx rate", (double)t.rx_packets / secs / 1e6,
		(double)t.rx_bytes * 8 / secs / 1e9);
	if (t.rx_packets)
		fprintf(out, "  %-18s %.1f\n", "cycles/packet", (double)t.busy_cycles / (double)t.rx_packets);
	fprintf(out, "drops by reason:%s\n", t.dropped ? "" : " none");
	for (int r = 1; r < ZTG_DROP_REASON_COUNT; r++) {
		if (t.drops[r])
			fprintf(out, "  %-26s %" PRIu64 "\n", ztg_drop_reason_name(r), t.drops[r]);
	}
	fprintf(out, "ports:\n");
	for (unsigned int i = 0; i < src->port_count; i++) {
		struct rte_eth_stats ps;
		char name[RTE_ETH_NAME_MAX_LEN];

		read_port(src->ports[i], name, &ps);
		fprintf(out, "  port %u (%s): rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64 " pkts %" PRIu64
			" bytes, missed %" PRIu64 ", rx errors %" PRIu64 ", tx errors %" PRIu64 "\n",
			src->ports[i], name, ps.ipackets, ps.ibytes, ps.opackets, ps.obytes, ps.imissed,
			ps.ierrors, ps.oerrors);
	}
	fflush(out);
}

static void json_counters(FILE *f, const struct ztg_counters *c, const char *indent)
{
	bool first = true;

#define ZTG_COUNTER_JSON(name)                                                              \
	fprintf(f, "%s%s\"%s\": %" PRIu64, first ? "" : ",\n", indent, #name, c->name); \
	first = false;
	ZTG_COUNTERS(ZTG_COUNTER_JSON)
#undef ZTG_COUNTER_JSON
	fprintf(f, ",\n%s\"drops\": {", indent);
	for (int r = 1; r < ZTG_DROP_REASON_COUNT; r++)
		fprintf(f, "%s\"%s\": %" PRIu64, r > 1 ? ", " : "", ztg_drop_reason_name(r), c->drops[r]);
	fprintf(f, "}");
}

/* The labelled counters: arrays of objects for requests and blocked responses, maps for the rest. */
static void json_tallies(FILE *f, const struct ztg_stats_source *src)
{
	static const struct {
		enum ztg_tally_kind kind;
		const char *key;
	} kinds[] = {
		{ZTG_TALLY_REQUEST, "requests"},
		{ZTG_TALLY_RESPONSE_BLOCKED, "responses_blocked"},
		{ZTG_TALLY_RULE, "rule_hits"},
		{ZTG_TALLY_AUTH_FAILURE, "auth_failures"},
	};
	struct ztg_tally_row *rows = NULL;
	uint64_t lost = 0;
	long n = src->tallies != NULL ? ztg_tally_collect(src->tallies, src->worker_count, 0, &rows, &lost) : 0;

	for (size_t k = 0; k < RTE_DIM(kinds); k++) {
		bool listed = kinds[k].kind == ZTG_TALLY_REQUEST || kinds[k].kind == ZTG_TALLY_RESPONSE_BLOCKED;
		bool first = true;

		fprintf(f, ",\n  \"%s\": %c", kinds[k].key, listed ? '[' : '{');
		for (long i = 0; i < n; i++) {
			const struct ztg_tally_row *r = &rows[i];

			if (ztg_tally_tag_kind(r->tag) != kinds[k].kind)
				continue;
			fprintf(f, "%s\n    ", first ? "" : ",");
			first = false;
			if (kinds[k].kind == ZTG_TALLY_RULE) {
				fprintf(f, "\"%u\": %" PRIu64, ztg_tally_tag_b(r->tag), r->count);
				continue;
			}
			if (!listed) {
				ztg_events_write_string(f, r->name != NULL ? r->name : "");
				fprintf(f, ": %" PRIu64, r->count);
				continue;
			}
			fprintf(f, "{\"service\": ");
			ztg_events_write_string(f, ztg_route_labels_value(src->route_labels, ztg_tally_tag_a(r->tag), false));
			fprintf(f, ", \"route\": ");
			ztg_events_write_string(f, ztg_route_labels_value(src->route_labels, ztg_tally_tag_a(r->tag), true));
			if (kinds[k].kind == ZTG_TALLY_REQUEST)
				fprintf(f, ", \"verdict\": \"%s\"",
					ztg_tally_verdict_name((enum ztg_tally_verdict)ztg_tally_tag_b(r->tag)));
			fprintf(f, ", \"reason\": ");
			ztg_events_write_string(f, r->name != NULL ? r->name : "");
			fprintf(f, ", \"count\": %" PRIu64 "}", r->count);
		}
		fprintf(f, "%s%c", first ? "" : "\n  ", listed ? ']' : '}');
	}
	fprintf(f, ",\n  \"labelled_counts_lost\": %" PRIu64, n < 0 ? UINT64_MAX : lost);
	free(rows);
}

/* Forwarded packets by rx-to-tx cycles: each bucket's upper bound, the last one open. */
static void json_latency(FILE *f, const struct ztg_counters *c)
{
	fprintf(f, ",\n  \"latency\": {\"le_cycles\": [");
	for (unsigned int i = 0; i + 1 < ZTG_LATENCY_BUCKETS; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", UINT64_C(1) << (ZTG_LATENCY_FIRST_LOG2 + i));
	fprintf(f, ", null], \"packets\": [");
	for (unsigned int i = 0; i < ZTG_LATENCY_BUCKETS; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", c->latency[i]);
	fprintf(f, "], \"sum_cycles\": %" PRIu64 "}", c->latency_cycles);
}

void ztg_stats_json(FILE *f, const struct ztg_stats_source *src)
{
	struct ztg_counters total;

	ztg_stats_sum(src, &total);
	fprintf(f, "{\n  \"mode\": \"%s\",\n  \"duration_seconds\": %.6f,\n  \"tsc_hz\": %" PRIu64
		",\n  \"workers\": %u,\n  \"totals\": {\n", src->mode, src->duration_seconds, src->tsc_hz,
		src->worker_count);
	json_counters(f, &total, "    ");
	fprintf(f, "\n  }");
	json_tallies(f, src);
	json_latency(f, &total);
	fprintf(f, ",\n  \"ports\": [");
	for (unsigned int i = 0; i < src->port_count; i++) {
		struct rte_eth_stats ps;
		char name[RTE_ETH_NAME_MAX_LEN];

		read_port(src->ports[i], name, &ps);
		fprintf(f, "%s\n    {\"port\": %u, \"name\": \"%s\", \"ipackets\": %" PRIu64 ", \"opackets\": %" PRIu64
			", \"ibytes\": %" PRIu64 ", \"obytes\": %" PRIu64 ", \"imissed\": %" PRIu64
			", \"ierrors\": %" PRIu64 ", \"oerrors\": %" PRIu64 "}",
			i ? "," : "", src->ports[i], name, ps.ipackets, ps.opackets, ps.ibytes, ps.obytes,
			ps.imissed, ps.ierrors, ps.oerrors);
	}
	fprintf(f, "\n  ],\n  \"per_worker\": [");
	for (unsigned int w = 0; w < src->worker_count; w++) {
		fprintf(f, "%s\n    {\n      \"lcore\": %u,\n", w ? "," : "", src->worker_lcores[w]);
		json_counters(f, src->workers[w], "      ");
		fprintf(f, "\n    }");
	}
	fprintf(f, "\n  ]\n}\n");
}

int ztg_stats_write_json(const char *path, const struct ztg_stats_source *src, char *err, size_t err_len)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, err_len, "%s: path too long", path);
		return -1;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	ztg_stats_json(f, src);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
