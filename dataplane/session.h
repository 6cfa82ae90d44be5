/*
 * Session: the layer-7 path of one TCP packet of an HTTP flow. Stream
 * reassembly, HTTP parsing of the bytes now in order, and the verdict when
 * something must stop: which packet fate, which frames to inject, which
 * event to record.
 *
 * Plain C over the decoded packet and the flow: the worker owns the mbufs,
 * sends the frames this module builds and pushes the event. One context per
 * worker (its pools, limits and request-id counter); nothing shared.
 */
#ifndef ZTG_SESSION_H
#define ZTG_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"
#include "drop_reason.h"
#include "events.h"
#include "flow/flow_table.h"
#include "http/http_normalize.h"
#include "http/http_parser.h"
#include "options.h"
#include "policy/authz.h"
#include "policy/quarantine.h"
#include "stats.h"
#include "stream/tcp_stream.h"
#include "tally.h"
#include "verdict/inject.h"

struct ztg_session_context {
	const struct ztg_options *opts;      /* stream config, HTTP limits and actions */
	struct ztg_stream_pool *stream_pool;
	struct ztg_http_pool *http_pool;
	struct ztg_counters *counters;
	struct ztg_tally *tally;             /* labelled counters; NULL: not kept */
	struct ztg_rate_table *rates;        /* rate limit buckets, shared by the workers; NULL: none */
	uint64_t rate_seed;                  /* secret, the same in every worker: keys agree, cannot be forged */
	struct ztg_behaviour_table *behaviour;   /* baselines and risk, shared by the workers; NULL: not watched */
	struct ztg_quarantine *quarantine;   /* shared by the workers, kept across policies; NULL: none */
	uint16_t lcore;
	unsigned worker_index;               /* 0..workers-1: this worker's scratch in the policy's signatures */
	uint64_t next_request_id;            /* lcore in the top 16 bits: unique across workers */
	const struct ztg_authz *authz;       /* the policy in force; NULL: none, nothing is authorized */
	struct rte_ring *events;             /* monitor-mode events go straight here (several per packet) */
	/* Identity: the worker's token cache and verifier, the revocations in force, the time. */
	struct ztg_authn_worker authn;
	const struct ztg_revocation_set *revocations;   /* NULL: none */
	int64_t now_unix;                    /* seconds, refreshed by the worker every poll round */
	struct ztg_authn_result auth_result; /* of the request being judged */
	struct ztg_detect_result detect_result;
	/* Scratch for the request being judged: its normalised target. */
	struct ztg_http_target_view target;
	uint8_t target_buf[65536];           /* >= the longest start line the limits allow */
};

/* A frame to send: toward the packet's sender (out of the port it came in) or its receiver. */
struct ztg_session_frame {
	bool to_sender;
	uint16_t len;
	uint8_t data[ZTG_INJECT_FRAME_MAX];
};

struct ztg_session_result {
	enum ztg_drop_reason drop;           /* NONE: forward the packet */
	uint8_t frame_count;
	struct ztg_session_frame frames[2];
	bool has_event;
	struct ztg_event event;
};

/* The lcore's counter space for request ids starts here. */
void ztg_session_context_init(struct ztg_session_context *ctx, const struct ztg_options *opts,
			      struct ztg_stream_pool *stream_pool, struct ztg_http_pool *http_pool,
			      struct ztg_counters *counters, uint16_t lcore);

/*
 * A new flow's first packet, sent by endpoint `sender` of *key, before the
 * flow exists: with a policy, place it (source segment, services at the
 * destination) into *placement and say whether it may start. Returns NONE, or
 * why the packet is dropped; r->has_event tells whether there is an event.
 * *is_protected says whether the flow goes to a policy service.
 */
enum ztg_drop_reason ztg_session_admit(struct ztg_session_context *ctx, const struct ztg_packet *pkt,
				       const struct ztg_flow_key *key, unsigned int sender, uint64_t now_tsc,
				       struct ztg_authz_flow *placement, bool *is_protected,
				       struct ztg_session_result *r);

/*
 * A new flow opened by a SYN: parse it as HTTP when its server port says so,
 * or when it goes to a policy service (is_protected, from ztg_session_admit).
 */
void ztg_session_open(const struct ztg_session_context *ctx, struct ztg_flow *flow, const struct ztg_packet *pkt,
		      const struct ztg_authz_flow *placement, bool is_protected);

/* ztg_session_packet() flags: what the NIC already said about the TCP checksum. */
#define ZTG_SESSION_L4_CKSUM_GOOD 0x01
#define ZTG_SESSION_L4_CKSUM_BAD  0x02

/*
 * One TCP packet of the flow, sent by endpoint `sender`, already accepted by
 * the connection tracker. frame is the whole Ethernet frame pkt was decoded
 * from (for checksums and forged replies). Without a NIC verdict in flags,
 * the TCP checksum of a data segment is verified in software.
 */
void ztg_session_packet(struct ztg_session_context *ctx, struct ztg_flow *flow, unsigned int sender,
			const uint8_t *frame, const struct ztg_packet *pkt, unsigned int flags, uint64_t now_tsc,
			struct ztg_session_result *result);

/* Return what the flow's layer-7 state holds to the pools (flow release). */
void ztg_session_release(struct ztg_session_context *ctx, struct ztg_flow *flow);

#endif
