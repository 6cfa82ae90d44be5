/*
 * Worker lcore: the run-to-completion poll loop of one dedicated core.
 *
 * A worker owns its queues, its flow table, its fragment table and its
 * counters; it writes nothing shared, takes no lock and allocates nothing per
 * packet beyond mbufs from the pool. Every packet it receives leaves on the
 * peer port of the pair, in the order it arrived, or is freed and counted
 * under exactly one drop reason, or is a fragment held for reassembly: it
 * then leaves, rebuilt from the inspected datagram, when the fragment that
 * completes its datagram does, or is counted when its train fails or times
 * out. It stops when *stop becomes true, after draining what its rx queues
 * still hold and dropping (counted) the fragments it still holds.
 */
#ifndef ZTG_WORKER_H
#define ZTG_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "flow/flow_table.h"
#include "options.h"
#include "reassembly/ip_reassembly.h"
#include "session.h"
#include "stats.h"

#define ZTG_WORKER_MAX_QUEUES 64

struct ztg_capture_session;

/* Flows a worker reports per query (ztgatectl flows); the main lcore merges them. */
#define ZTG_FLOWS_QUERY_TOP 64

struct ztg_flow_summary {
	struct ztg_flow_key key;
	uint8_t initiator;
	uint8_t tcp_state;               /* enum ztg_tcp_state */
	uint8_t flags;                   /* ZTG_FLOW_F_* */
	uint32_t requests;
	uint64_t packets;                /* both directions */
	uint64_t bytes;
	uint64_t created_tsc;
	uint64_t last_seen_tsc;
};

/*
 * The main lcore asks a worker for its busiest flows; the worker answers
 * between two poll rounds, so its table is never read by another thread.
 * Main: fill by_requests, then bump asked (release). Worker: fill the
 * answer, then store answered = asked (release).
 */
struct ztg_flows_query {
	_Atomic uint32_t asked;
	_Atomic uint32_t answered;
	bool by_requests;                /* rank by requests, else by bytes */
	uint32_t count;
	uint32_t walked;
	struct ztg_flow_summary top[ZTG_FLOWS_QUERY_TOP];
};

/* One rx queue the worker polls and the tx queue its packets leave on. */
struct ztg_worker_queue {
	uint16_t rx_port;
	uint16_t rx_queue;
	uint16_t tx_port;
	uint16_t tx_queue;
};

/* Read-only settings every worker shares. */
struct ztg_worker_config {
	uint16_t burst;
	bool forward_only;
	bool flow_full_open;
	bool tcp_midstream_allow;
	enum ztg_action non_ip;
	enum ztg_fragment_mode fragments;
	uint64_t tsc_hz;
};

struct ztg_worker {
	unsigned int lcore_id;
	uint16_t queue_count;
	struct ztg_worker_queue queues[ZTG_WORKER_MAX_QUEUES];
	const struct ztg_worker_config *config;
	const atomic_bool *stop;
	struct ztg_flow_table *flows;    /* NULL in forward-only mode */
	struct ztg_ip_reassembly *reassembly; /* NULL unless fragments are reassembled */
	struct rte_mempool *pool;        /* for the frames verdicts inject */
	struct rte_ring *events;         /* shared, multi-producer; never waited on */
	/*
	 * The policy in force, published by the main lcore with one pointer
	 * store. The worker reads it once per poll round and reports a quiescent
	 * state after the round, when it holds no reference any more: the main
	 * lcore frees a replaced policy only after every worker has.
	 */
	struct ztg_authz *_Atomic const *policy;
	/* The revocations in force: published, read and released like the policy. */
	struct ztg_revocation_set *_Atomic const *revocations;
	/*
	 * The capture running (ztgatectl capture), published, read and released
	 * like the policy; capturing is this round's, NULL when none runs.
	 */
	struct ztg_capture_session *_Atomic const *capture;
	struct ztg_capture_session *capturing;
	struct rte_rcu_qsbr *rcu;
	unsigned int rcu_id;
	struct ztg_session_context session;
	struct ztg_counters counters;    /* written by this worker only */
	struct ztg_flows_query flows_query;
} __rte_cache_aligned;

/* on_release hook of the worker's flow table: gives layer-7 memory back. */
void ztg_worker_release_flow(struct ztg_flow *flow, void *worker);

/* lcore entry point for rte_eal_remote_launch; arg is a struct ztg_worker. */
int ztg_worker_run(void *arg);

#endif
