#include "worker.h"

#include <string.h>
#include <time.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "capture.h"
#include "decode/decode.h"
#include "flow/flow_key.h"

/* Packets ahead of the one being decoded whose data is prefetched. */
#define PREFETCH_AHEAD      3
/* rte_hash bulk lookups take at most this many keys. */
#define LOOKUP_CHUNK        64
/* How often the idle-flow sweep runs, and how many slots it looks at. */
#define EXPIRE_PERIOD_US    1000
#define EXPIRE_BUDGET       256
/* A full tx ring is retried this many times before packets are dropped. */
#define TX_RETRIES          8
/* Rounds of rx polling after stop, until the queues are empty. */
#define DRAIN_ROUNDS        64
/* verdict[] of a fragment the reassembly table now owns: neither sent nor counted as a drop. */
#define VERDICT_HELD        0xff

/* Per-burst scratch: lives on the worker's stack, sized for the largest burst. */
struct burst_state {
	struct ztg_packet packets[ZTG_MAX_BURST];
	struct ztg_flow_key keys[ZTG_MAX_BURST];
	uint8_t sender[ZTG_MAX_BURST];
	uint8_t verdict[ZTG_MAX_BURST];        /* enum ztg_drop_reason, NONE = forward */
	uint16_t tracked[ZTG_MAX_BURST];       /* indexes of packets needing a flow */
	uint16_t tracked_count;
	uint16_t settled;                      /* packets before this one are in out[] or freed */
	bool flow_created;                     /* a flow was added during this burst */
	/* What leaves on the peer port, in arrival order; a datagram expands back into its pieces. */
	struct rte_mbuf *out[ZTG_MAX_BURST * ZTG_REASSEMBLY_MAX_PIECES];
	uint16_t out_count;
	/* Frames verdicts forge, sent after the burst so they never overtake what it forwards. */
	struct rte_mbuf *to_senders[ZTG_MAX_BURST];
	struct rte_mbuf *to_receivers[ZTG_MAX_BURST];
	uint16_t to_sender_count;
	uint16_t to_receiver_count;
	const struct ztg_worker_queue *queue;  /* the queue the burst came from */
	struct ztg_session_result session;
};

static inline unsigned int l4_checksum_flags(const struct rte_mbuf *m)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
		return ZTG_SESSION_L4_CKSUM_GOOD;
	case RTE_MBUF_F_RX_L4_CKSUM_BAD:
		return ZTG_SESSION_L4_CKSUM_BAD;
	default:
		return 0;
	}
}

static inline unsigned int decode_flags_of(const struct rte_mbuf *m)
{
	return (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD ?
		       ZTG_DECODE_IPV4_CKSUM_VERIFIED : 0;
}

static void count_protocols(const struct ztg_packet *pkt, struct ztg_counters *c)
{
	if (pkt->ip_version == 4)
		c->ipv4++;
	else
		c->ipv6++;
	if (pkt->l4_proto == IPPROTO_TCP)
		c->tcp++;
	else if (pkt->l4_proto == IPPROTO_UDP)
		c->udp++;
	else if (pkt->l4_proto == IPPROTO_ICMP || pkt->l4_proto == IPPROTO_ICMPV6)
		c->icmp++;
}

static enum ztg_drop_reason classify(const struct ztg_worker_config *cfg, struct rte_mbuf *m,
				     struct ztg_packet *pkt, struct ztg_counters *c)
{
	enum ztg_drop_reason reason;

	if (unlikely(m->nb_segs > 1) && rte_pktmbuf_linearize(m) != 0)
		return ZTG_DROP_MBUF_CHAINED;
	if (unlikely((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD))
		return ZTG_DROP_IPV4_BAD_CHECKSUM;
	reason = ztg_decode_packet(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, decode_flags_of(m), pkt);
	if (unlikely(reason != ZTG_DROP_NONE))
		return reason;
	if (unlikely(pkt->kind == ZTG_PACKET_NON_IP)) {
		c->non_ip++;
		return cfg->non_ip == ZTG_ACTION_DROP ? ZTG_DROP_NON_IP : ZTG_DROP_NONE;
	}
	count_protocols(pkt, c);
	return ZTG_DROP_NONE;
}

static void queue_frames(struct ztg_worker *w, struct burst_state *b)
{
	const struct ztg_session_result *r = &b->session;

	for (uint8_t f = 0; f < r->frame_count; f++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
		char *data;

		if (unlikely(m == NULL || (data = rte_pktmbuf_append(m, r->frames[f].len)) == NULL)) {
			rte_pktmbuf_free(m);
			w->counters.inject_failed++;
			continue;
		}
		memcpy(data, r->frames[f].data, r->frames[f].len);
		if (r->frames[f].to_sender)
			b->to_senders[b->to_sender_count++] = m;
		else
			b->to_receivers[b->to_receiver_count++] = m;
	}
	if (r->has_event && ztg_events_push(w->events, &r->event) < 0)
		w->counters.events_dropped++;
}

/*
 * Start a flow for a packet that missed the table, or say why it may not:
 * the policy places it first, so a refused flow never takes a slot.
 */
static enum ztg_drop_reason open_flow(struct ztg_worker *w, struct burst_state *b, const struct ztg_flow_key *key,
				      unsigned int sender, const struct ztg_packet *pkt, uint64_t now,
				      struct ztg_flow **flow)
{
	struct ztg_tcp_tracker tracker = {0};
	struct ztg_authz_flow placement;
	enum ztg_drop_reason reason;
	bool is_protected;

	if (pkt->l4_proto == IPPROTO_TCP &&
	    ztg_tcp_track(&tracker, sender, pkt->tcp_flags, w->config->tcp_midstream_allow) == ZTG_TCP_INVALID)
		return ZTG_DROP_TCP_NO_FLOW;
	reason = ztg_session_admit(&w->session, pkt, key, sender, now, &placement, &is_protected, &b->session);
	if (unlikely(b->session.has_event))
		queue_frames(w, b);
	if (reason != ZTG_DROP_NONE)
		return reason;
	reason = ztg_flow_table_add(w->flows, key, now, flow);
	if (reason != ZTG_DROP_NONE)
		return reason;
	(*flow)->tcp = tracker;
	ztg_session_open(&w->session, *flow, pkt, &placement, is_protected);
	return ZTG_DROP_NONE;
}

void ztg_worker_release_flow(struct ztg_flow *flow, void *worker)
{
	ztg_session_release(&((struct ztg_worker *)worker)->session, flow);
}

/* A decoded IP packet on its way into the flow table. */
struct tracked_packet {
	const struct ztg_packet *pkt;
	const struct ztg_flow_key *key;
	const uint8_t *frame;
	uint32_t frame_len;
	const struct rte_mbuf *mbuf;     /* the packet's; NULL for a reassembled datagram */
	uint8_t sender;
	uint8_t l4_checksum;             /* ZTG_SESSION_L4_CKSUM_* from the NIC, 0 if unknown */
};

/* Whether the policy refused a new flow outright (ztg_session_admit): a denied flow without a flow entry. */
static inline bool refused_flow(enum ztg_drop_reason reason)
{
	return reason == ZTG_DROP_POLICY_SEGMENT_DENIED || reason == ZTG_DROP_POLICY_NON_HTTP;
}

/*
 * A capture runs and t belongs to a denied flow: copy it as it arrived (a
 * reassembled datagram as its pieces), then the frames queued for it,
 * to_senders[senders..] and to_receivers[receivers..].
 */
static void capture_denied(struct ztg_worker *w, struct burst_state *b, const struct tracked_packet *t,
			   uint16_t senders, uint16_t receivers)
{
	struct ztg_capture_session *cap = w->capturing;
	const struct ztg_worker_queue *q = b->queue;
	const unsigned int slot = w->session.worker_index;
	struct ztg_counters *c = &w->counters;

	if (t->mbuf != NULL) {
		ztg_capture_packet(cap, slot, t->mbuf, q->rx_port, q->rx_queue, RTE_PCAPNG_DIRECTION_IN, c);
	} else {
		struct rte_mbuf *pieces[ZTG_REASSEMBLY_MAX_PIECES];
		unsigned int n = ztg_ip_reassembly_emit(w->reassembly, w->pool, pieces);

		if (n == 0)
			c->capture_dropped += ztg_ip_reassembly_datagram(w->reassembly)->piece_count;
		for (unsigned int i = 0; i < n; i++) {
			ztg_capture_packet(cap, slot, pieces[i], q->rx_port, q->rx_queue, RTE_PCAPNG_DIRECTION_IN, c);
			rte_pktmbuf_free(pieces[i]);
		}
	}
	for (uint16_t i = senders; i < b->to_sender_count; i++)
		ztg_capture_packet(cap, slot, b->to_senders[i], q->rx_port, q->tx_queue, RTE_PCAPNG_DIRECTION_OUT, c);
	for (uint16_t i = receivers; i < b->to_receiver_count; i++)
		ztg_capture_packet(cap, slot, b->to_receivers[i], q->tx_port, q->tx_queue, RTE_PCAPNG_DIRECTION_OUT, c);
}

static enum ztg_drop_reason track_flow(struct ztg_worker *w, struct burst_state *b, const struct tracked_packet *t,
				       struct ztg_flow *flow, uint64_t now)
{
	const struct ztg_packet *pkt = t->pkt;
	unsigned int sender = t->sender;
	enum ztg_drop_reason reason;

	/* Two packets of one new flow in a burst both miss the bulk lookup. */
	if (flow == NULL && b->flow_created)
		ztg_flow_table_lookup_bulk(w->flows, &t->key, 1, now, &flow);
	if (flow == NULL) {
		reason = open_flow(w, b, t->key, sender, pkt, now, &flow);
		if (reason == ZTG_DROP_FLOW_TABLE_FULL && w->config->flow_full_open) {
			w->counters.flows_untracked++;
			return ZTG_DROP_NONE;
		}
		if (unlikely(w->capturing != NULL) && refused_flow(reason))
			capture_denied(w, b, t, b->to_sender_count, b->to_receiver_count);
		if (reason != ZTG_DROP_NONE)
			return reason;
		b->flow_created = true;
	} else if (pkt->l4_proto == IPPROTO_TCP) {
		switch (ztg_tcp_track(&flow->tcp, sender, pkt->tcp_flags, w->config->tcp_midstream_allow)) {
		case ZTG_TCP_INVALID:
			return ZTG_DROP_TCP_INVALID_STATE;
		case ZTG_TCP_REOPEN: {
			/* A new connection on the same tuple: only the policy's placement carries over. */
			struct ztg_authz_flow placement = flow->authz;
			bool is_protected = flow->flags & ZTG_FLOW_F_PROTECTED;

			w->counters.flows_reopened++;
			ztg_session_release(&w->session, flow);
			flow->flags = 0;
			flow->requests = 0;
			flow->created_tsc = now;
			flow->packets[0] = flow->packets[1] = 0;
			flow->bytes[0] = flow->bytes[1] = 0;
			ztg_session_open(&w->session, flow, pkt, &placement, is_protected);
			break;
		}
		case ZTG_TCP_ACCEPT:
			break;
		}
	}
	flow->last_seen_tsc = now;
	flow->packets[sender]++;
	flow->bytes[sender] += t->frame_len;
	if (pkt->l4_proto == IPPROTO_TCP && flow->flags != 0) {
		const uint16_t senders = b->to_sender_count, receivers = b->to_receiver_count;

		ztg_session_packet(&w->session, flow, sender, t->frame, pkt, t->l4_checksum, now, &b->session);
		if (unlikely(b->session.frame_count != 0 || b->session.has_event))
			queue_frames(w, b);
		/* From the packet a verdict stopped the flow at, with the 403 and RSTs, to its last straggler. */
		if (unlikely(w->capturing != NULL) && (flow->flags & ZTG_FLOW_F_BLOCKED))
			capture_denied(w, b, t, senders, receivers);
		return b->session.drop;
	}
	return ZTG_DROP_NONE;
}

/* Bulk-look-up and track the packets queued in b->tracked, in arrival order. */
static void track_queued(struct ztg_worker *w, struct burst_state *b, struct rte_mbuf **pkts, uint64_t now)
{
	struct ztg_flow *flows[LOOKUP_CHUNK];

	for (uint16_t start = 0; start < b->tracked_count; start += LOOKUP_CHUNK) {
		const struct ztg_flow_key *keys[LOOKUP_CHUNK];
		uint16_t left = (uint16_t)(b->tracked_count - start);
		uint16_t count = left < LOOKUP_CHUNK ? left : LOOKUP_CHUNK;

		for (uint16_t k = 0; k < count; k++)
			keys[k] = &b->keys[b->tracked[start + k]];
		ztg_flow_table_lookup_bulk(w->flows, keys, count, now, flows);
		for (uint16_t k = 0; k < count; k++) {
			uint16_t i = b->tracked[start + k];
			const struct rte_mbuf *m = pkts[i];
			struct tracked_packet t = {
				.pkt = &b->packets[i],
				.key = &b->keys[i],
				.frame = rte_pktmbuf_mtod(m, const uint8_t *),
				.frame_len = m->pkt_len,
				.mbuf = m,
				.sender = b->sender[i],
				.l4_checksum = (uint8_t)l4_checksum_flags(m),
			};

			b->verdict[i] = (uint8_t)track_flow(w, b, &t, flows[k], now);
		}
	}
	b->tracked_count = 0;
}

/* Move packets [b->settled, upto) to the output in order, or free and count them. */
static void settle(struct ztg_worker *w, struct burst_state *b, struct rte_mbuf **pkts, uint16_t upto)
{
	struct ztg_counters *c = &w->counters;

	for (uint16_t i = b->settled; i < upto; i++) {
		uint8_t verdict = b->verdict[i];

		if (likely(verdict == ZTG_DROP_NONE)) {
			b->out[b->out_count++] = pkts[i];
		} else if (verdict != VERDICT_HELD) {
			c->drops[verdict]++;
			c->dropped++;
			rte_pktmbuf_free(pkts[i]);
		}
	}
	b->settled = upto;
}

/*
 * A datagram just completed: inspect it like any packet, then send it on in
 * the pieces it arrived in. Every piece shares the datagram's fate.
 */
static void inspect_datagram(struct ztg_worker *w, struct burst_state *b, uint64_t now)
{
	const struct ztg_ip_datagram *d = ztg_ip_reassembly_datagram(w->reassembly);
	struct ztg_counters *c = &w->counters;
	struct ztg_packet pkt;
	struct ztg_flow_key key;
	struct ztg_flow *flow = NULL;
	enum ztg_drop_reason reason;

	reason = ztg_decode_packet(d->source.frame, d->source.frame_len, 0, &pkt);
	/* A fragment inside a fragment (IPv6 allows the header only once per datagram). */
	if (reason == ZTG_DROP_NONE && (pkt.kind != ZTG_PACKET_IP || (pkt.flags & ZTG_PACKET_F_FRAGMENT)))
		reason = ZTG_DROP_IP_BAD_FRAGMENT;
	if (reason == ZTG_DROP_NONE) {
		struct tracked_packet t = {
			.pkt = &pkt,
			.key = &key,
			.frame = d->source.frame,
			.frame_len = d->source.frame_len,
		};
		const struct ztg_flow_key *keys[1] = {&key};

		/* Its pieces were counted by protocol as they arrived. */
		t.sender = (uint8_t)ztg_flow_key_from_packet(&pkt, &key);
		ztg_flow_table_lookup_bulk(w->flows, keys, 1, now, &flow);
		reason = track_flow(w, b, &t, flow, now);
	}
	if (reason == ZTG_DROP_NONE) {
		unsigned int n = ztg_ip_reassembly_emit(w->reassembly, w->pool, b->out + b->out_count);

		if (n == 0)
			reason = ZTG_DROP_MBUF_EXHAUSTED;
		b->out_count = (uint16_t)(b->out_count + n);
	}
	if (reason != ZTG_DROP_NONE) {
		c->drops[reason] += d->piece_count;
		c->dropped += d->piece_count;
	}
}

/* Hand a fragment to the reassembly table; returns its verdict for the burst. */
static uint8_t reassemble(struct ztg_worker *w, struct burst_state *b, struct rte_mbuf **pkts, uint16_t i,
			  uint64_t now)
{
	switch (ztg_ip_reassembly_add(w->reassembly, pkts[i], &b->packets[i], now, &w->counters)) {
	case ZTG_REASSEMBLY_COMPLETE:
		/* Everything that arrived before the last piece is tracked and sent before the datagram. */
		track_queued(w, b, pkts, now);
		settle(w, b, pkts, i);
		inspect_datagram(w, b, now);
		b->settled = (uint16_t)(i + 1);
		break;
	case ZTG_REASSEMBLY_HELD:
	case ZTG_REASSEMBLY_DROPPED:
		break;
	}
	return VERDICT_HELD;
}

/*
 * Decode, classify and track a burst into b->out: the packets to forward in
 * arrival order, with reassembled datagrams in place of their last piece.
 * Frees and counts the rest.
 */
static void inspect_burst(struct ztg_worker *w, struct burst_state *b, struct rte_mbuf **pkts, uint16_t n,
			  uint64_t now)
{
	const struct ztg_worker_config *cfg = w->config;
	struct ztg_counters *c = &w->counters;

	b->tracked_count = 0;
	b->settled = 0;
	b->flow_created = false;
	for (uint16_t i = 0; i < PREFETCH_AHEAD && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		struct ztg_packet *pkt = &b->packets[i];

		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		b->verdict[i] = (uint8_t)classify(cfg, pkts[i], pkt, c);
		if (b->verdict[i] != ZTG_DROP_NONE || pkt->kind == ZTG_PACKET_NON_IP)
			continue;
		if (unlikely(pkt->flags & ZTG_PACKET_F_FRAGMENT)) {
			c->fragments++;
			if (cfg->fragments == ZTG_FRAGMENTS_REASSEMBLE)
				b->verdict[i] = reassemble(w, b, pkts, i, now);
			else if (cfg->fragments == ZTG_FRAGMENTS_DROP)
				b->verdict[i] = ZTG_DROP_IP_FRAGMENT;
			continue;
		}
		b->sender[i] = (uint8_t)ztg_flow_key_from_packet(pkt, &b->keys[i]);
		b->tracked[b->tracked_count++] = i;
	}
	track_queued(w, b, pkts, now);
	settle(w, b, pkts, n);
}

static void transmit(struct ztg_worker *w, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct ztg_counters *c = &w->counters;
	uint64_t bytes = 0;
	uint16_t sent = 0;

	/* Bytes are read before tx_burst: sent mbufs belong to the PMD afterwards. */
	for (uint16_t i = 0; i < n; i++)
		bytes += pkts[i]->pkt_len;
	for (int attempt = 0; sent < n && attempt < TX_RETRIES; attempt++)
		sent += rte_eth_tx_burst(port, queue, pkts + sent, n - sent);
	for (uint16_t i = sent; i < n; i++) {
		bytes -= pkts[i]->pkt_len;
		rte_pktmbuf_free(pkts[i]);
	}
	if (unlikely(sent < n)) {
		c->drops[ZTG_DROP_TX_FULL] += n - sent;
		c->dropped += n - sent;
	}
	c->tx_packets += sent;
	c->tx_bytes += bytes;
}

/* One pass over every queue. Returns the packets received. */
static uint32_t poll_queues(struct ztg_worker *w, struct burst_state *b, struct rte_mbuf **pkts)
{
	struct ztg_counters *c = &w->counters;
	uint32_t received = 0;

	for (uint16_t qi = 0; qi < w->queue_count; qi++) {
		const struct ztg_worker_queue *q = &w->queues[qi];
		uint64_t start = rte_rdtsc(), end;
		uint16_t n = rte_eth_rx_burst(q->rx_port, q->rx_queue, pkts, w->config->burst), forwarded;

		if (n == 0)
			continue;
		received += n;
		c->rx_packets += n;
		for (uint16_t i = 0; i < n; i++)
			c->rx_bytes += pkts[i]->pkt_len;
		b->to_sender_count = 0;
		b->to_receiver_count = 0;
		b->queue = q;
		if (w->config->forward_only) {
			transmit(w, q->tx_port, q->tx_queue, pkts, n);
		} else {
			b->out_count = 0;
			inspect_burst(w, b, pkts, n, start);
			if (b->out_count)
				transmit(w, q->tx_port, q->tx_queue, b->out, b->out_count);
		}
		if (unlikely(b->to_sender_count))
			transmit(w, q->rx_port, q->tx_queue, b->to_senders, b->to_sender_count);
		if (unlikely(b->to_receiver_count))
			transmit(w, q->tx_port, q->tx_queue, b->to_receivers, b->to_receiver_count);
		end = rte_rdtsc();
		c->busy_cycles += end - start;
		/* What the burst forwarded left in the tx bursts just made: every packet waited end - start. */
		forwarded = w->config->forward_only ? n : b->out_count;
		c->latency[ztg_latency_bucket(end - start)] += forwarded;
		c->latency_cycles += (end - start) * forwarded;
	}
	return received;
}

static uint64_t flow_rank(const struct ztg_flows_query *q, const struct ztg_flow_summary *s)
{
	return q->by_requests ? s->requests : s->bytes;
}

/* Keep the ZTG_FLOWS_QUERY_TOP highest-ranked flows, sorted, highest first. */
static int rank_flow(const struct ztg_flow *flow, void *arg)
{
	struct ztg_flows_query *q = arg;
	struct ztg_flow_summary s = {
		.key = flow->key,
		.initiator = flow->tcp.initiator,
		.tcp_state = (uint8_t)flow->tcp.state,
		.flags = flow->flags,
		.requests = flow->requests,
		.packets = flow->packets[0] + flow->packets[1],
		.bytes = flow->bytes[0] + flow->bytes[1],
		.created_tsc = flow->created_tsc,
		.last_seen_tsc = flow->last_seen_tsc,
	};
	uint32_t at;

	q->walked++;
	if (q->count == ZTG_FLOWS_QUERY_TOP && flow_rank(q, &s) <= flow_rank(q, &q->top[q->count - 1]))
		return 0;
	at = q->count < ZTG_FLOWS_QUERY_TOP ? q->count++ : q->count - 1;
	for (; at > 0 && flow_rank(q, &q->top[at - 1]) < flow_rank(q, &s); at--)
		q->top[at] = q->top[at - 1];
	q->top[at] = s;
	return 0;
}

static void answer_flows_query(struct ztg_worker *w)
{
	struct ztg_flows_query *q = &w->flows_query;
	uint32_t asked = atomic_load_explicit(&q->asked, memory_order_acquire);

	q->count = 0;
	q->walked = 0;
	if (w->flows != NULL)
		ztg_flow_table_walk(w->flows, rank_flow, q);
	atomic_store_explicit(&q->answered, asked, memory_order_release);
}

static void publish_flow_stats(struct ztg_worker *w)
{
	struct ztg_flow_table_stats fs;

	if (w->flows == NULL)
		return;
	ztg_flow_table_get_stats(w->flows, &fs);
	w->counters.flows_created = fs.created;
	w->counters.flows_expired = fs.expired;
	w->counters.flows_active = fs.active;
	w->counters.signature_streams_active = w->session.authz == NULL ? 0 :
		ztg_detect_streams_held(ztg_authz_detect(w->session.authz), w->session.worker_index);
}

int ztg_worker_run(void *arg)
{
	struct ztg_worker *w = arg;
	struct rte_mbuf *pkts[ZTG_MAX_BURST];
	struct burst_state burst;
	const uint64_t expire_period = w->config->tsc_hz * EXPIRE_PERIOD_US / 1000000;
	uint64_t next_expire = rte_rdtsc() + expire_period;

	if (w->rcu != NULL) {
		rte_rcu_qsbr_thread_register(w->rcu, w->rcu_id);
		rte_rcu_qsbr_thread_online(w->rcu, w->rcu_id);
	}
	w->session.now_unix = (int64_t)time(NULL);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		uint64_t now;

		if (w->policy != NULL)
			w->session.authz = atomic_load_explicit(w->policy, memory_order_acquire);
		if (w->revocations != NULL)
			w->session.revocations = atomic_load_explicit(w->revocations, memory_order_acquire);
		if (w->capture != NULL)
			w->capturing = atomic_load_explicit(w->capture, memory_order_acquire);
		poll_queues(w, &burst, pkts);
		if (w->rcu != NULL)
			rte_rcu_qsbr_quiescent(w->rcu, w->rcu_id);
		if (unlikely(atomic_load_explicit(&w->flows_query.asked, memory_order_relaxed) !=
			     atomic_load_explicit(&w->flows_query.answered, memory_order_relaxed)))
			answer_flows_query(w);
		now = rte_rdtsc();
		if (w->flows != NULL && now >= next_expire) {
			/* Token expiry is in whole seconds: refreshing the clock each millisecond is plenty. */
			w->session.now_unix = (int64_t)time(NULL);
			ztg_flow_table_expire(w->flows, now, EXPIRE_BUDGET);
			if (w->reassembly != NULL)
				ztg_ip_reassembly_expire(w->reassembly, now, &w->counters);
			publish_flow_stats(w);
			next_expire = now + expire_period;
		}
	}
	for (int round = 0; round < DRAIN_ROUNDS; round++) {
		if (poll_queues(w, &burst, pkts) == 0)
			break;
	}
	if (w->reassembly != NULL)
		ztg_ip_reassembly_flush(w->reassembly, &w->counters);
	publish_flow_stats(w);
	if (w->rcu != NULL) {
		rte_rcu_qsbr_thread_offline(w->rcu, w->rcu_id);
		rte_rcu_qsbr_thread_unregister(w->rcu, w->rcu_id);
	}
	return 0;
}
