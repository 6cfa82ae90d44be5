/* SPDX-License-Identifier: BSD-3-Clause
 *
 * One complete TCP connection carrying HTTP/1.1 keep-alive exchanges, as a
 * capture point between client and server would see it: handshake with
 * Linux-like options, MSS-sized segments with timestamps, delayed ACKs every
 * second segment, slow-start bursts bounded by the peer's window, and a
 * FIN teardown from either side.
 *
 * A session produces its packets lazily: tg_session_refill() schedules the
 * next phase (handshake, one request/response exchange, teardown) into a
 * small time-ordered queue; tg_session_emit() turns the queue head into a
 * frame.  The caller merges many sessions by the head timestamps.
 */
#ifndef ZTG_TRAFFIC_TCP_SESSION_H
#define ZTG_TRAFFIC_TCP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_corpus.h"
#include "pkt_build.h"
#include "tg_buf.h"
#include "tg_rng.h"

#define TG_MAX_SERVERS 16

/* Where sessions come from and go to, and how they are shaped. */
struct tg_topology {
	uint8_t cli_mac[6];
	uint8_t srv_mac[6];
	uint16_t vlan;			/* 0 = untagged */
	uint8_t cnet4[4];		/* client IPv4 prefix */
	uint8_t cplen4;
	uint8_t cnet6[16];		/* client IPv6 prefix */
	uint8_t cplen6;
	struct tg_addr srv4[TG_MAX_SERVERS];
	unsigned n_srv4;
	struct tg_addr srv6[TG_MAX_SERVERS];
	unsigned n_srv6;
	uint16_t server_port;
	double ipv6_fraction;
	uint32_t mss;			/* IPv4 payload per segment; IPv6 uses mss - 20 */
	uint32_t req_min, req_max;	/* requests per connection */
};

/* What a queued packet is, for statistics and labels. */
enum tg_pkt_mark {
	TG_MARK_NONE = 0,
	TG_MARK_REQ_START,	/* first segment of a request */
	TG_MARK_RESP_START,	/* first segment of a response */
};

enum tg_payload_src {
	TG_SRC_NONE = 0,
	TG_SRC_REQ,
	TG_SRC_RESP,
};

struct tg_pkt {
	uint64_t ts;		/* µs since the Unix epoch */
	uint32_t seq, ack;
	uint32_t off, len;	/* payload slice of the request or response */
	uint32_t order;		/* push order, tie-break when sorting */
	uint8_t flags;
	uint8_t dir;		/* enum tg_dir */
	uint8_t src;		/* enum tg_payload_src */
	uint8_t mark;		/* enum tg_pkt_mark */
};

enum tg_phase {
	TG_PH_HANDSHAKE,
	TG_PH_EXCHANGE,
	TG_PH_CLOSE,
	TG_PH_DONE,
};

struct tg_session {
	uint64_t index;
	struct tg_rng rng;
	struct tg_flow flow;
	struct tg_identity id;
	struct tg_buf req, resp;
	struct tg_req_info ri;		/* the exchange in the queue */

	enum tg_phase phase;
	uint32_t requests_total, requests_done;

	/* per direction (enum tg_dir): the sender's view */
	uint32_t nxt[2];		/* next sequence number to send */
	uint16_t win[2];		/* advertised window field (scaled) */
	uint32_t ts_base[2];		/* TSval clock offset */
	uint32_t last_tsval[2];		/* last TSval sent, echoed by the peer */
	uint16_t ip_id[2];
	uint8_t ttl[2];
	uint32_t half_rtt[2];		/* µs from the capture point to that host */
	uint32_t cwnd[2];		/* segments */
	uint32_t seg_max;		/* payload per segment */

	uint64_t t_start;		/* µs, SYN time */
	uint64_t t_next;		/* µs, when the client's next packet is seen */

	struct tg_pkt *q;
	size_t qhead, qlen, qcap;
	uint32_t order;
};

/* Draw a new connection (addresses, ports, ISNs, identity) starting at t0
 * (µs since the epoch).  The session's random stream is (seed, index).
 * Returns 0 or ENOMEM. */
int tg_session_start(struct tg_session *s, const struct tg_topology *topo, struct tg_http *h,
		     uint64_t seed, uint64_t index, uint64_t t0);

/* Draw another ephemeral client port (after a 4-tuple collision). */
void tg_session_reroll_port(struct tg_session *s);

/* Schedule the next phase if the queue is empty.  Returns 0 when packets are
 * queued, 1 when the connection is over, ENOMEM on allocation failure. */
int tg_session_refill(struct tg_session *s, struct tg_http *h);

static inline bool tg_session_has_packet(const struct tg_session *s)
{
	return s->qhead < s->qlen;
}

static inline uint64_t tg_session_next_ts(const struct tg_session *s)
{
	return s->q[s->qhead].ts;
}

/* Build the queue head into `buf` and pop it.  `*pkt` receives its
 * descriptor.  Returns the frame length, 0 if it does not fit in `cap`. */
size_t tg_session_emit(struct tg_session *s, uint8_t *buf, size_t cap, struct tg_pkt *pkt);

/* Free everything the session owns (it may be started again afterwards). */
void tg_session_free(struct tg_session *s);

#endif
