/*
 * Per-worker counters and their reports: the periodic line, the final table
 * and the JSON file (--stats-json).
 *
 * Each worker owns one struct ztg_counters on its own cache lines and is the
 * only writer; the main lcore only reads and sums them. Reads race with
 * writes on purpose: 64-bit aligned loads are atomic on the platforms DPDK
 * supports, and a report a burst out of date is fine. The JSON schema is
 * consumed by scripts/bench.sh and the tests: names are stable.
 */
#ifndef ZTG_STATS_H
#define ZTG_STATS_H

#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_mempool.h>

#include "drop_reason.h"
#include "inventory.h"
#include "policy/behaviour.h"
#include "policy/quarantine.h"
#include "policy/rate_limit.h"
#include "route_labels.h"
#include "tally.h"

/*
 * Latency histogram: cycles from a burst's rx to the tx of its packets,
 * counted per packet in power-of-two buckets. Bucket i holds latencies in
 * (2^(i + ZTG_LATENCY_FIRST_LOG2 - 1), 2^(i + ZTG_LATENCY_FIRST_LOG2)]
 * cycles; the first also holds everything shorter, the last everything longer.
 */
#define ZTG_LATENCY_FIRST_LOG2 8        /* 256 cycles: about 0.1 us */
#define ZTG_LATENCY_BUCKETS    24       /* up to 2^31 cycles: about 1 s */

static inline unsigned int ztg_latency_bucket(uint64_t cycles)
{
	unsigned int log2 = cycles <= 1 ? 0 : 64 - (unsigned int)__builtin_clzll(cycles - 1);

	if (log2 <= ZTG_LATENCY_FIRST_LOG2)
		return 0;
	log2 -= ZTG_LATENCY_FIRST_LOG2;
	return log2 < ZTG_LATENCY_BUCKETS ? log2 : ZTG_LATENCY_BUCKETS - 1;
}

/* Scalar counters: X(name). Every one is summed across workers and reported. */
#define ZTG_COUNTERS(X)                                                          \
	X(rx_packets) X(rx_bytes) X(tx_packets) X(tx_bytes) X(dropped)           \
	X(busy_cycles)                                                           \
	X(non_ip) X(ipv4) X(ipv6) X(tcp) X(udp) X(icmp) X(fragments)            \
	X(datagrams_reassembled)                                                 \
	X(flows_created) X(flows_expired) X(flows_active) X(flows_reopened)      \
	X(flows_untracked)                                                       \
	X(http_flows) X(http_requests) X(http_responses) X(http_violations)      \
	X(http_tunnels)                                                          \
	X(stream_buffered) X(stream_duplicates) X(stream_unverified)             \
	X(stream_depth_passed)                                                   \
	X(verdicts_deny) X(verdicts_reset) X(verdicts_drop)                      \
	X(policy_allowed) X(policy_denied) X(policy_monitored)                   \
	X(auth_identified) X(auth_anonymous) X(auth_denied)                      \
	X(auth_verifications) X(auth_cache_hits) X(auth_api_keys)                \
	X(signature_scans) X(signature_matches) X(signature_blocked)             \
	X(signature_response_blocked) X(signature_alerts)                        \
	X(signature_body_bytes) X(signature_depth_reached)                       \
	X(signature_streams_active) X(signature_streams_exhausted)               \
	X(rate_limited)                                                          \
	X(quarantined) X(behaviour_anomalies) X(behaviour_signals)              \
	X(quarantines_automatic)                                                 \
	X(injected_packets) X(inject_failed) X(events_dropped)                   \
	X(capture_packets) X(capture_dropped)

struct ztg_counters {
#define ZTG_COUNTER_FIELD(name) uint64_t name;
	ZTG_COUNTERS(ZTG_COUNTER_FIELD)
#undef ZTG_COUNTER_FIELD
	uint64_t drops[ZTG_DROP_REASON_COUNT];
	uint64_t latency[ZTG_LATENCY_BUCKETS];   /* packets by rx-to-tx cycles */
	uint64_t latency_cycles;                 /* their sum */
} __rte_cache_aligned;

/* What the reports need beyond counters. */
struct ztg_stats_source {
	const char *mode;                 /* "inspect" or "forward-only" */
	uint64_t tsc_hz;
	double duration_seconds;
	unsigned int worker_count;
	const unsigned int *worker_lcores;
	const struct ztg_counters *const *workers;
	unsigned int port_count;
	const uint16_t *ports;
	/* The workers' labelled counters (worker_count of them, or NULL) and the names of their route slots. */
	const struct ztg_tally *const *tallies;
	const struct ztg_route_labels *route_labels;
	const struct rte_mempool *pool;        /* the packet mbufs; NULL: not known */
	const struct ztg_rate_table *rates;    /* rate limit buckets; NULL: not known */
	const struct ztg_behaviour_table *behaviour;   /* baselines and risk; NULL: not known */
	const struct ztg_quarantine *quarantine;       /* NULL: not known */
	/* The API inventory's counts, when the filler could read them (/metrics). */
	bool shadow_known;
	struct ztg_inventory_summary shadow;
};

/* Sum every worker's counters into *total. */
void ztg_stats_sum(const struct ztg_stats_source *src, struct ztg_counters *total);

/* One line: rates since the previous call, for --stats-interval. */
void ztg_stats_print_interval(FILE *out, const struct ztg_stats_source *src, struct ztg_counters *previous,
			      double interval_seconds);

/* The final table: totals, non-zero drops by reason, each port's NIC counters. */
void ztg_stats_print_final(FILE *out, const struct ztg_stats_source *src);

/* The counters as one JSON document (the schema of --stats-json). */
void ztg_stats_json(FILE *out, const struct ztg_stats_source *src);

/* Write the JSON report to path (atomically, through a temporary file). */
int ztg_stats_write_json(const char *path, const struct ztg_stats_source *src, char *err, size_t err_len);

#endif
