#include "worker.h"

#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

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

/* Per-burst scratch: lives on the worker's stack, sized for the largest burst. */
struct burst_state {
	struct ztg_packet packets[ZTG_MAX_BURST];
	struct ztg_flow_key keys[ZTG_MAX_BURST];
	uint8_t sender[ZTG_MAX_BURST];
	uint8_t verdict[ZTG_MAX_BURST];        /* enum ztg_drop_reason, NONE = forward */
	uint16_t tracked[ZTG_MAX_BURST];       /* indexes of packets needing a flow */
	uint16_t tracked_count;
	bool flow_created;                     /* a flow was added during this burst */
	/* Frames verdicts forge, sent after the burst so they never overtake what it forwards. */
	struct rte_mbuf *to_senders[ZTG_MAX_BURST];
	struct rte_mbuf *to_receivers[ZTG_MAX_BURST];
	uint16_t to_sender_count;
	uint16_t to_receiver_count;
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
	return ZTG_DROP_NONE;
}

/* Start a flow for a packet that missed the table, or say why it may not. */
static enum ztg_drop_reason open_flow(struct ztg_worker *w, const struct ztg_flow_key *key, unsigned int sender,
				      const struct ztg_packet *pkt, uint64_t now, struct ztg_flow **flow)
{
	struct ztg_tcp_tracker tracker = {0};
	enum ztg_drop_reason reason;

	if (pkt->l4_proto == IPPROTO_TCP &&
	    ztg_tcp_track(&tracker, sender, pkt->tcp_flags, w->config->tcp_midstream_allow) == ZTG_TCP_INVALID)
		return ZTG_DROP_TCP_NO_FLOW;
	reason = ztg_flow_table_add(w->flows, key, now, flow);
	if (reason != ZTG_DROP_NONE)
		return reason;
	(*flow)->tcp = tracker;
	ztg_session_open(&w->session, *flow, pkt);
	return ZTG_DROP_NONE;
}

void ztg_worker_release_flow(struct ztg_flow *flow, void *worker)
{
	ztg_session_release(&((struct ztg_worker *)worker)->session, flow);
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

static enum ztg_drop_reason track_flow(struct ztg_worker *w, struct burst_state *b, unsigned int i,
				       struct ztg_flow *flow, uint64_t now, const struct rte_mbuf *m)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t frame_len = m->pkt_len;
	const struct ztg_packet *pkt = &b->packets[i];
	unsigned int sender = b->sender[i];
	enum ztg_drop_reason reason;

	/* Two packets of one new flow in a burst both miss the bulk lookup. */
	if (flow == NULL && b->flow_created) {
		const struct ztg_flow_key *key = &b->keys[i];

		ztg_flow_table_lookup_bulk(w->flows, &key, 1, now, &flow);
	}
	if (flow == NULL) {
		reason = open_flow(w, &b->keys[i], sender, pkt, now, &flow);
		if (reason == ZTG_DROP_FLOW_TABLE_FULL && w->config->flow_full_open) {
			w->counters.flows_untracked++;
			return ZTG_DROP_NONE;
		}
		if (reason != ZTG_DROP_NONE)
			return reason;
		b->flow_created = true;
	} else if (pkt->l4_proto == IPPROTO_TCP) {
		switch (ztg_tcp_track(&flow->tcp, sender, pkt->tcp_flags, w->config->tcp_midstream_allow)) {
		case ZTG_TCP_INVALID:
			return ZTG_DROP_TCP_INVALID_STATE;
		case ZTG_TCP_REOPEN:
			/* A new connection on the same tuple: nothing of the old one carries over. */
			w->counters.flows_reopened++;
			ztg_session_release(&w->session, flow);
			flow->flags = 0;
			flow->requests = 0;
			flow->created_tsc = now;
			flow->packets[0] = flow->packets[1] = 0;
			flow->bytes[0] = flow->bytes[1] = 0;
			ztg_session_open(&w->session, flow, pkt);
			break;
		case ZTG_TCP_ACCEPT:
			break;
		}
	}
	flow->last_seen_tsc = now;
	flow->packets[sender]++;
	flow->bytes[sender] += frame_len;
	if (pkt->l4_proto == IPPROTO_TCP && flow->flags != 0) {
		ztg_session_packet(&w->session, flow, sender, frame, pkt, l4_checksum_flags(m), now, &b->session);
		if (unlikely(b->session.frame_count != 0 || b->session.has_event))
			queue_frames(w, b);
		return b->session.drop;
	}
	return ZTG_DROP_NONE;
}

/*
 * Decode, classify and track a burst. Keeps the packets to forward at the
 * front of pkts in arrival order, frees the rest, returns how many are kept.
 */
static uint16_t inspect_burst(struct ztg_worker *w, struct burst_state *b, struct rte_mbuf **pkts, uint16_t n,
			      uint64_t now)
{
	const struct ztg_worker_config *cfg = w->config;
	struct ztg_counters *c = &w->counters;
	struct ztg_flow *flows[LOOKUP_CHUNK];
	uint16_t kept = 0;

	b->tracked_count = 0;
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
			if (cfg->fragments == ZTG_ACTION_DROP)
				b->verdict[i] = ZTG_DROP_IP_FRAGMENT;
			continue;
		}
		b->sender[i] = (uint8_t)ztg_flow_key_from_packet(pkt, &b->keys[i]);
		b->tracked[b->tracked_count++] = i;
	}

	for (uint16_t start = 0; start < b->tracked_count; start += LOOKUP_CHUNK) {
		const struct ztg_flow_key *keys[LOOKUP_CHUNK];
		uint16_t left = (uint16_t)(b->tracked_count - start);
		uint16_t count = left < LOOKUP_CHUNK ? left : LOOKUP_CHUNK;

		for (uint16_t k = 0; k < count; k++)
			keys[k] = &b->keys[b->tracked[start + k]];
		ztg_flow_table_lookup_bulk(w->flows, keys, count, now, flows);
		for (uint16_t k = 0; k < count; k++) {
			uint16_t i = b->tracked[start + k];

			b->verdict[i] = (uint8_t)track_flow(w, b, i, flows[k], now, pkts[i]);
		}
	}

	for (uint16_t i = 0; i < n; i++) {
		if (likely(b->verdict[i] == ZTG_DROP_NONE)) {
			pkts[kept++] = pkts[i];
			continue;
		}
		c->drops[b->verdict[i]]++;
		c->dropped++;
		rte_pktmbuf_free(pkts[i]);
	}
	return kept;
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
		uint64_t start = rte_rdtsc();
		uint16_t n = rte_eth_rx_burst(q->rx_port, q->rx_queue, pkts, w->config->burst);

		if (n == 0)
			continue;
		received += n;
		c->rx_packets += n;
		for (uint16_t i = 0; i < n; i++)
			c->rx_bytes += pkts[i]->pkt_len;
		b->to_sender_count = 0;
		b->to_receiver_count = 0;
		if (!w->config->forward_only)
			n = inspect_burst(w, b, pkts, n, start);
		if (n)
			transmit(w, q->tx_port, q->tx_queue, pkts, n);
		if (unlikely(b->to_sender_count))
			transmit(w, q->rx_port, q->tx_queue, b->to_senders, b->to_sender_count);
		if (unlikely(b->to_receiver_count))
			transmit(w, q->tx_port, q->tx_queue, b->to_receivers, b->to_receiver_count);
		c->busy_cycles += rte_rdtsc() - start;
	}
	return received;
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
}

int ztg_worker_run(void *arg)
{
	struct ztg_worker *w = arg;
	struct rte_mbuf *pkts[ZTG_MAX_BURST];
	struct burst_state burst;
	const uint64_t expire_period = w->config->tsc_hz * EXPIRE_PERIOD_US / 1000000;
	uint64_t next_expire = rte_rdtsc() + expire_period;

	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		uint64_t now;

		poll_queues(w, &burst, pkts);
		now = rte_rdtsc();
		if (w->flows != NULL && now >= next_expire) {
			ztg_flow_table_expire(w->flows, now, EXPIRE_BUDGET);
			publish_flow_stats(w);
			next_expire = now + expire_period;
		}
	}
	for (int round = 0; round < DRAIN_ROUNDS; round++) {
		if (poll_queues(w, &burst, pkts) == 0)
			break;
	}
	publish_flow_stats(w);
	return 0;
}
