/*
 * Per-worker flow table: one rte_hash keyed by struct ztg_flow_key, an array
 * of flow entries indexed by the hash's key position, idle expiry.
 *
 * Owned by exactly one worker lcore: no locks, no atomics, no sharing. The
 * table never grows: at most `capacity` flows exist, entries are
 * preallocated at create time and nothing is allocated per packet. A flow
 * whose idle time exceeds the timeout of its state is expired either by the
 * incremental sweep (ztg_flow_table_expire) or lazily when a lookup finds it.
 */
#ifndef ZTG_FLOW_TABLE_H
#define ZTG_FLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../drop_reason.h"
#include "../http/http_parser.h"
#include "../policy/authz.h"
#include "../stream/tcp_stream.h"
#include "flow_key.h"
#include "tcp_state.h"

/* Idle timeouts in seconds, by what the flow is. */
struct ztg_flow_timeouts {
	uint32_t tcp_embryonic;    /* SYN_SENT, SYN_RECEIVED */
	uint32_t tcp_established;
	uint32_t tcp_closing;      /* FIN_WAIT, CLOSING */
	uint32_t tcp_closed;
	uint32_t udp;
	uint32_t other;            /* ICMP and other IP protocols */
};

/* ztg_flow.flags */
#define ZTG_FLOW_F_HTTP     0x01   /* reassembled and parsed as HTTP */
#define ZTG_FLOW_F_BLOCKED  0x02   /* a verdict stopped the flow: every later packet is dropped */
#define ZTG_FLOW_F_TUNNEL   0x04   /* an allowed tunnel: later bytes pass uninspected */
#define ZTG_FLOW_F_PROTECTED 0x08  /* to a policy service: every request is authorized */

struct ztg_flow {
	struct ztg_flow_key key;
	struct ztg_tcp_tracker tcp;
	uint8_t flags;             /* ZTG_FLOW_F_* */
	uint64_t created_tsc;
	uint64_t last_seen_tsc;
	uint64_t packets[2];       /* by sending endpoint */
	uint64_t bytes[2];
	/*
	 * Layer-7 state, owned by the worker. The table zeroes it with the
	 * flow and calls on_release before a live flow leaves, so the worker
	 * can return pooled memory the state holds.
	 */
	uint32_t requests;         /* requests seen on this connection */
	struct ztg_authz_flow authz;   /* where the policy placed the flow (PROTECTED flows) */
	struct ztg_stream stream;
	struct ztg_http_conn http;
	struct ztg_detect_flow detect; /* bodies being scanned, routes of requests awaiting responses */
	/* Behaviour keys: the client's address (0: not watched), and the caller and route of the flow's
	 * latest request, which its responses count for. */
	uint64_t behaviour_source;
	uint64_t behaviour_caller;
	uint64_t behaviour_route;
	uint64_t response_bytes;   /* of the response in progress */
	uint8_t behaviour_scope;   /* enum ztg_event_scope of behaviour_caller */
	uint8_t behaviour_pending; /* a response's figure (+1) took the caller's risk over: quarantine at its next request */
};

struct ztg_flow_table_params {
	const char *name;          /* unique among rte_hash tables of the process */
	uint32_t capacity;         /* maximum flows, >= 8 */
	int socket_id;             /* NUMA socket for the memory, or SOCKET_ID_ANY */
	uint64_t tsc_hz;           /* rte_get_tsc_hz() */
	uint32_t hash_seed;        /* secret: random per table, so colliding keys cannot be precomputed */
	/* Called for every live flow that leaves the table (expiry, removal, reuse, free); may be NULL. */
	void (*on_release)(struct ztg_flow *flow, void *arg);
	void *release_arg;
	struct ztg_flow_timeouts timeouts;
};

struct ztg_flow_table_stats {
	uint64_t created;
	uint64_t expired;          /* by idle timeout, sweep or lazy */
	uint64_t removed;          /* explicitly removed by the caller */
	uint64_t full;             /* insertions refused for lack of room */
	uint32_t active;
};

struct ztg_flow_table;

/* The defaults the options start from (seconds). */
void ztg_flow_timeouts_default(struct ztg_flow_timeouts *timeouts);

/*
 * Create a table. Returns 0 and sets *table, or a negative errno with a
 * message naming what failed in err (EINVAL for bad params, ENOMEM).
 */
int ztg_flow_table_create(const struct ztg_flow_table_params *params,
			  struct ztg_flow_table **table, char *err, size_t err_len);

/* Free the table and every flow in it. NULL is accepted. */
void ztg_flow_table_free(struct ztg_flow_table *table);

/*
 * Look up n keys (n <= 64) with one bulk hash call. flows[i] is the live
 * flow or NULL on a miss; a hit whose idle timeout has passed at now_tsc is
 * expired on the spot and reported as a miss.
 */
void ztg_flow_table_lookup_bulk(struct ztg_flow_table *table, const struct ztg_flow_key *const *keys,
				uint32_t n, uint64_t now_tsc, struct ztg_flow **flows);

/*
 * Insert a new flow for key at now_tsc (the key must not be present). When
 * the table is full an expiry sweep of the whole table runs first; if that
 * frees nothing, returns ZTG_DROP_FLOW_TABLE_FULL and counts it. On success
 * returns ZTG_DROP_NONE with *flow zeroed but for key and timestamps.
 * Should the key be present and live after all (two packets of a new flow
 * in one burst), *flow is that flow, unchanged.
 */
enum ztg_drop_reason ztg_flow_table_add(struct ztg_flow_table *table, const struct ztg_flow_key *key,
					uint64_t now_tsc, struct ztg_flow **flow);

/* Remove a flow now (the caller is done with it). */
void ztg_flow_table_remove(struct ztg_flow_table *table, struct ztg_flow *flow);

/*
 * Examine up to max_entries slots from where the last call stopped and
 * expire the idle ones. Returns how many were expired.
 */
uint32_t ztg_flow_table_expire(struct ztg_flow_table *table, uint64_t now_tsc, uint32_t max_entries);

/* Timeout in TSC cycles that applies to this flow in its current state. */
uint64_t ztg_flow_timeout_tsc(const struct ztg_flow_table *table, const struct ztg_flow *flow);

void ztg_flow_table_get_stats(const struct ztg_flow_table *table, struct ztg_flow_table_stats *stats);

/*
 * Call fn for every live flow (management and tests; not for the fast path).
 * Stops early and returns fn's value when it is non-zero.
 */
int ztg_flow_table_walk(const struct ztg_flow_table *table,
			int (*fn)(const struct ztg_flow *flow, void *arg), void *arg);

#endif
