/*
 * IP reassembly for one worker: holds IPv4 and IPv6 fragments in an
 * rte_ip_frag table until their datagram is complete, hands the complete
 * datagram to the worker as one linear frame for decode and inspection, and
 * cuts it back into the pieces it arrived in for forwarding.
 *
 * Invariants:
 *  - every fragment given to ztg_ip_reassembly_add() is either held, part of
 *    the datagram it completes, or freed and counted under exactly one drop
 *    reason (rte_ip_frag frees silently; this module tells why by looking at
 *    what it put on the death row);
 *  - a train with overlapping, duplicate or inconsistent pieces, or more
 *    pieces than rte_ip_frag holds (ZTG_REASSEMBLY_MAX_PIECES), is dropped
 *    whole: nothing of it reaches the receiver, so the receiver can never
 *    assemble bytes ztgate did not inspect;
 *  - memory is fixed at creation: the table (trains x pieces) and one frame
 *    of ZTG_REASSEMBLY_MAX_FRAME bytes; held mbufs come from the worker's pool.
 *
 * Owned by one worker; no locks.
 */
#ifndef ZTG_IP_REASSEMBLY_H
#define ZTG_IP_REASSEMBLY_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "../decode/decode.h"
#include "../stats.h"
#include "ip_fragment.h"

/* rte_ip_frag's compiled-in pieces per datagram (RTE_LIBRTE_IP_FRAG_MAX_FRAG). */
#define ZTG_REASSEMBLY_MAX_PIECES 8
/* The decoder's offsets are 16-bit: a reassembled frame beyond this is dropped. */
#define ZTG_REASSEMBLY_MAX_FRAME  65535u

enum ztg_reassembly_outcome {
	ZTG_REASSEMBLY_HELD = 0,     /* kept until its train completes or times out */
	ZTG_REASSEMBLY_COMPLETE,     /* the datagram is in ztg_ip_reassembly_datagram() */
	ZTG_REASSEMBLY_DROPPED,      /* freed and counted */
};

/* A complete datagram: one linear frame and the sizes of the pieces it came in. */
struct ztg_ip_datagram {
	struct ztg_fragment_source source;
	uint16_t piece_len[ZTG_REASSEMBLY_MAX_PIECES];
	uint8_t piece_count;
};

struct ztg_ip_reassembly;

/* NULL on failure (rte_errno set). trains: datagrams in progress at once. */
struct ztg_ip_reassembly *ztg_ip_reassembly_create(uint32_t trains, uint64_t timeout_cycles, int socket_id);

/* Frees the table and every mbuf it still holds, uncounted: call flush first. */
void ztg_ip_reassembly_free(struct ztg_ip_reassembly *r);

/*
 * Take ownership of fragment m, which ztg_decode_packet() described in *pkt
 * (ZTG_PACKET_F_FRAGMENT set). now is the TSC. Drops are added to *c.
 * On COMPLETE the datagram stays valid until the next call on r.
 */
enum ztg_reassembly_outcome ztg_ip_reassembly_add(struct ztg_ip_reassembly *r, struct rte_mbuf *m,
						  const struct ztg_packet *pkt, uint64_t now,
						  struct ztg_counters *c);

const struct ztg_ip_datagram *ztg_ip_reassembly_datagram(const struct ztg_ip_reassembly *r);

/*
 * Cut the last complete datagram into its pieces, as new mbufs from pool,
 * into out[0..ZTG_REASSEMBLY_MAX_PIECES). Returns how many, or 0 when the pool
 * ran dry (nothing is left allocated then).
 */
unsigned int ztg_ip_reassembly_emit(const struct ztg_ip_reassembly *r, struct rte_mempool *pool,
				    struct rte_mbuf **out);

/* Drop trains older than the timeout, a bounded number per call. */
void ztg_ip_reassembly_expire(struct ztg_ip_reassembly *r, uint64_t now, struct ztg_counters *c);

/* Drop every train still held (at stop), counting its fragments as timed out. */
void ztg_ip_reassembly_flush(struct ztg_ip_reassembly *r, struct ztg_counters *c);

#endif
