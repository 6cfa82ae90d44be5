/*
 * Ports: which worker polls which queue, and the DPDK port bring-up.
 *
 * The queue plan keeps both directions of a connection on one worker, so a
 * worker owns its flows without locks: a pair whose two ports both offer RSS
 * gets one queue per worker on each port, hashed with a symmetric Toeplitz
 * key; any other pair (most virtual devices) has one queue per port and one
 * worker polls both. Every tx queue has exactly one writer.
 */
#ifndef ZTG_PORT_H
#define ZTG_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "options.h"
#include "worker.h"

/* What the plan needs to know about a port. */
struct ztg_port_caps {
	uint16_t port_id;
	bool rss;                 /* can spread over `queues` rx/tx queues with RSS */
};

/* Per-port result of the plan. */
struct ztg_port_setup {
	uint16_t port_id;
	uint16_t queue_count;
	bool rss;
};

/*
 * Ask the device whether it can run `queues` rx and tx queues with RSS over
 * IP/TCP/UDP. Returns false for one queue: there is nothing to spread.
 */
bool ztg_port_rss_capable(uint16_t port_id, uint16_t queues);

/*
 * Assign queues to workers. caps has 2 * pair_count entries in pair order
 * (pair i is caps[2i], caps[2i+1]); setups receives the same layout.
 * Workers' queue lists are appended to. Plain C: no device is touched.
 * Returns 0, or -1 with err set when a worker would exceed ZTG_WORKER_MAX_QUEUES.
 */
int ztg_port_plan(const struct ztg_port_caps *caps, uint16_t pair_count, struct ztg_worker **workers,
		  uint16_t worker_count, struct ztg_port_setup *setups, char *err, size_t err_len);

/* Configure queues, RSS and offloads of one port, then start it. */
int ztg_port_start(const struct ztg_port_setup *setup, struct rte_mempool *pool, uint16_t rx_descriptors,
		   uint16_t tx_descriptors, bool promiscuous, char *err, size_t err_len);

/* Wait up to timeout_ms for link up; returns true when up. */
bool ztg_port_wait_link(uint16_t port_id, unsigned int timeout_ms);

/* Stop rx and tx; the port's counters stay readable until it is closed. */
void ztg_port_stop(uint16_t port_id);

/* Release the port (net_pcap flushes its output file here). */
void ztg_port_close(uint16_t port_id);

#endif
