/*
 * Packet capture: the packets of denied flows written to a pcapng file on
 * demand (ztgatectl capture), and dpdk-dumpcap's access to every packet
 * (rte_pdump).
 *
 * A capture is a session: a pcapng file, a mempool of capture mbufs and one
 * single-producer ring per worker, made when it starts and freed when it
 * stops. The main lcore publishes the session with one pointer store; a
 * worker reads the pointer once per poll round, like the policy, and while it
 * is set copies the packets of flows it stops (rte_pcapng_copy) onto its own
 * ring. A worker never waits: a full ring or an empty pool only counts
 * capture_dropped. The main lcore alone dequeues, stamps and writes, between
 * its management ticks. Stopping unpublishes the session and waits for an
 * RCU grace period (every worker past a poll round), so when the last
 * packets are written no worker holds the session any more.
 *
 * Timestamps: DPDK 22.11's rte_pcapng_copy converts TSC to wall time through
 * one process-wide reference it re-bases without synchronisation, which
 * several workers copying at once can corrupt. The worker therefore leaves
 * the raw TSC in the block and the main lcore converts it with the session's
 * own reference.
 */
#ifndef ZTG_CAPTURE_H
#define ZTG_CAPTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_rcu_qsbr.h>

#include "control_socket.h"
#include "stats.h"

#define ZTG_CAPTURE_SNAPLEN_DEFAULT 2048    /* a whole frame: ztgate's mbufs hold no more */
#define ZTG_CAPTURE_SNAPLEN_MIN     64
#define ZTG_CAPTURE_SNAPLEN_MAX     9216    /* the largest jumbo frame */
#define ZTG_CAPTURE_RING_SIZE       1024    /* per worker: packets copied, not yet written */

/* What `capture start` asks for. */
struct ztg_capture_request {
	char path[PATH_MAX];             /* absolute: ztgate writes it from its own directory */
	uint32_t snaplen;
	uint64_t count;                  /* stop after this many packets; 0: no limit */
	uint32_t duration;               /* stop after this many seconds; 0: no limit */
};

/*
 * Parse `capture start FILE [--snaplen N] [--count N] [--duration SECONDS]`
 * (argv[0] is "start"; --json is ignored). Returns 0, or -1 with the
 * reason in err.
 */
int ztg_capture_parse_request(int argc, char *const *argv, struct ztg_capture_request *req, char *err,
			      size_t err_len);

/* The session workers copy into: opaque; NULL means no capture runs. */
struct ztg_capture_session;

/*
 * Worker side: copy m (at most the session's snaplen bytes), seen on port
 * and queue in direction dir, onto ring `worker`. Counts capture_packets or,
 * when the ring is full or the pool empty, capture_dropped in *c.
 */
void ztg_capture_packet(struct ztg_capture_session *s, unsigned int worker, const struct rte_mbuf *m,
			uint16_t port, uint16_t queue, enum rte_pcapng_direction dir, struct ztg_counters *c);

/* The main lcore's side: at most one session at a time, and the last one's summary. */
struct ztg_capture;

/*
 * workers: how many worker slots (rings) a session has; counters: their
 * counters, to report capture_dropped per session; rcu: the workers' QSBR
 * variable. disabled: why no capture can ever run (NULL: it can).
 */
struct ztg_capture *ztg_capture_create(unsigned int workers, const struct ztg_counters *const *counters,
				       struct rte_rcu_qsbr *rcu, const char *disabled);

/* Stop a running capture (its file is complete then), print what it wrote to out (NULL: nothing), free. */
void ztg_capture_free(struct ztg_capture *cap, FILE *out);

/* Where workers read the session in force. */
struct ztg_capture_session *_Atomic const *ztg_capture_published(const struct ztg_capture *cap);

/*
 * `capture start FILE [--snaplen N] [--count N] [--duration S]`,
 * `capture stop`, `capture status` (each with --json). status answers
 * ZTG_CONTROL_OK while a capture runs and ZTG_CONTROL_NEGATIVE when none
 * does; stop answers OK with the summary of the capture it stopped, or of
 * the last one when that ended by itself.
 */
enum ztg_control_status ztg_capture_command(struct ztg_capture *cap, int argc, char **argv, bool json, FILE *out);

/* Main lcore, every management tick: write what the workers copied, end the capture at its limits. */
void ztg_capture_poll(struct ztg_capture *cap);

/*
 * Let dpdk-dumpcap (a DPDK secondary process) capture on ztgate's ports:
 * rte_pdump_init when the EAL allows a secondary to attach. Returns true,
 * or false with why it cannot in why.
 */
bool ztg_capture_pdump_start(char *why, size_t why_len);

/* rte_pdump_uninit, after a successful start. */
void ztg_capture_pdump_stop(void);

#endif
