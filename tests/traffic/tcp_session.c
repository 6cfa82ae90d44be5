/* SPDX-License-Identifier: BSD-3-Clause */
#include "tcp_session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WSCALE 7		/* both ends, as Linux with default buffers */
#define DELACK_US 40000u	/* Linux delayed-ACK timeout */
#define INIT_CWND 10u
#define MAX_CWND 512u
#define MAX_WIN 3072u		/* scaled window cap: 384 KiB */
#define CLI_SYN_WIN 64240u
#define SRV_SYN_WIN 65160u

static inline enum tg_dir peer(enum tg_dir d)
{
	return d == TG_C2S ? TG_S2C : TG_C2S;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Serialization time of a frame at 10 Gbit/s, at least 1 µs. */
static inline uint64_t ser_us(uint32_t frame_len)
{
	return 1 + frame_len / 1250;
}

/* Host processing time before an ACK or a handshake answer leaves. */
static inline uint64_t proc_us(struct tg_session *s)
{
	return tg_range(&s->rng, 5, 40);
}

static int push(struct tg_session *s, uint64_t ts, enum tg_dir dir, uint8_t flags, uint32_t seq,
		uint32_t ack, enum tg_payload_src src, uint32_t off, uint32_t len,
		enum tg_pkt_mark mark)
{
	if (s->qlen == s->qcap) {
		size_t cap = s->qcap ? s->qcap * 2 : 64;
		struct tg_pkt *q = realloc(s->q, cap * sizeof(*q));
		if (q == NULL)
			return ENOMEM;
		s->q = q;
		s->qcap = cap;
	}
	s->q[s->qlen++] = (struct tg_pkt){
		.ts = ts, .seq = seq, .ack = ack, .off = off, .len = len, .order = s->order++,
		.flags = flags, .dir = (uint8_t)dir, .src = (uint8_t)src, .mark = (uint8_t)mark,
	};
	return 0;
}

static bool pkt_before(const struct tg_pkt *a, const struct tg_pkt *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->order < b->order);
}

/* Insertion sort: the queue is nearly sorted (ACKs interleave with data). */
static void sort_queue(struct tg_session *s)
{
	for (size_t i = s->qhead + 1; i < s->qlen; i++) {
		struct tg_pkt p = s->q[i];
		size_t j = i;
		while (j > s->qhead && pkt_before(&p, &s->q[j - 1])) {
			s->q[j] = s->q[j - 1];
			j--;
		}
		s->q[j] = p;
	}
}

static uint64_t queue_last_ts(const struct tg_session *s)
{
	uint64_t t = 0;

	for (size_t i = s->qhead; i < s->qlen; i++)
		if (s->q[i].ts > t)
			t = s->q[i].ts;
	return t;
}

/*
 * Send `len` bytes from side `d` starting at t0, in slow-start bursts of at
 * most cwnd segments and less than the peer's window.  The receiver ACKs
 * every second segment (seen at the capture point one round trip to it
 * later); the next burst leaves when the burst's last ACK reaches the
 * sender.  Returns the time of the last segment; *odd_tail tells whether the
 * last segment is still unacknowledged.
 */
static int send_data(struct tg_session *s, enum tg_dir d, enum tg_payload_src src, uint32_t len,
		     uint64_t t0, enum tg_pkt_mark mark, uint64_t *t_last, bool *odd_tail)
{
	const enum tg_dir e = peer(d);
	const uint32_t seg = s->seg_max;
	const uint32_t nseg = (len + seg - 1) / seg;
	const uint32_t seq0 = s->nxt[d], their = s->nxt[e];
	const uint32_t hdr = (uint32_t)tg_frame_overhead(&s->flow, 12);
	uint32_t wnd_segs = ((uint32_t)s->win[e] << WSCALE) / seg;
	uint64_t tb = t0, prev_ack = 0;
	uint32_t sent = 0;
	int rc = 0;

	wnd_segs = wnd_segs > 3 ? wnd_segs - 1 : 2;
	*t_last = t0;
	while (sent < nseg && rc == 0) {
		uint32_t burst = min_u32(min_u32(s->cwnd[d], wnd_segs), nseg - sent);
		uint64_t t = tb, last_ack = 0;

		for (uint32_t i = 0; i < burst && rc == 0; i++) {
			uint32_t k = sent + i, off = k * seg, l = min_u32(seg, len - off);
			uint8_t flags = TG_TCP_ACK | (k + 1 == nseg ? TG_TCP_PSH : 0);

			rc = push(s, t, d, flags, seq0 + off, their, src, off, l,
				  k == 0 ? mark : TG_MARK_NONE);
			*t_last = t;
			if (rc == 0 && (k & 1)) {
				/* ACKs leave in order whatever the processing jitter */
				uint64_t at = t + 2 * s->half_rtt[e] + proc_us(s);
				last_ack = at > prev_ack ? at : prev_ack + 1;
				prev_ack = last_ack;
				rc = push(s, last_ack, e, TG_TCP_ACK, their, seq0 + off + l,
					  TG_SRC_NONE, 0, 0, TG_MARK_NONE);
			}
			t += ser_us(hdr + l);
		}
		sent += burst;
		if (sent < nseg) {
			if (last_ack == 0)	/* single-segment burst: delayed ACK */
				last_ack = *t_last + 2 * s->half_rtt[e] + DELACK_US;
			tb = last_ack + 2 * s->half_rtt[d];
			s->cwnd[d] = min_u32(s->cwnd[d] * 2, MAX_CWND);
		}
	}
	s->nxt[d] += len;
	*odd_tail = nseg & 1;
	return rc;
}

/* Server think time: mostly fast, a slow tail beyond the delayed ACK. */
static uint64_t server_think(struct tg_session *s)
{
	if (tg_chance(&s->rng, 0.05))
		return tg_range(&s->rng, 20000, 150000);
	return tg_range(&s->rng, 150, 8000);
}

/* Client pause before the next request on the same connection. */
static uint64_t client_think(struct tg_session *s)
{
	if (tg_chance(&s->rng, 0.15))
		return tg_range(&s->rng, 50000, 400000);
	return tg_range(&s->rng, 200, 30000);
}

static int do_handshake(struct tg_session *s)
{
	const uint64_t t0 = s->t_start;
	const uint32_t isn_c = s->nxt[TG_C2S], isn_s = s->nxt[TG_S2C];
	int rc;

	rc = push(s, t0, TG_C2S, TG_TCP_SYN, isn_c, 0, TG_SRC_NONE, 0, 0, TG_MARK_NONE);
	uint64_t t1 = t0 + 2 * s->half_rtt[TG_S2C] + proc_us(s);
	rc = rc ? rc : push(s, t1, TG_S2C, TG_TCP_SYN | TG_TCP_ACK, isn_s, isn_c + 1,
			    TG_SRC_NONE, 0, 0, TG_MARK_NONE);
	uint64_t t2 = t1 + 2 * s->half_rtt[TG_C2S] + proc_us(s);
	rc = rc ? rc : push(s, t2, TG_C2S, TG_TCP_ACK, isn_c + 1, isn_s + 1,
			    TG_SRC_NONE, 0, 0, TG_MARK_NONE);
	s->nxt[TG_C2S] = isn_c + 1;
	s->nxt[TG_S2C] = isn_s + 1;
	s->t_next = t2 + tg_range(&s->rng, 5, 60);
	return rc;
}

/* FIN exchange started by `closer` at time t. */
static int do_teardown(struct tg_session *s, enum tg_dir closer, uint64_t t)
{
	const enum tg_dir other = peer(closer);
	const uint8_t fa = TG_TCP_FIN | TG_TCP_ACK;
	int rc;

	rc = push(s, t, closer, fa, s->nxt[closer], s->nxt[other], TG_SRC_NONE, 0, 0,
		  TG_MARK_NONE);
	s->nxt[closer]++;
	t += 2 * s->half_rtt[other] + proc_us(s);
	/* the answer leaves after every ACK `other` still has queued */
	uint64_t busy = queue_last_ts(s);
	if (t <= busy)
		t = busy + 1;
	rc = rc ? rc : push(s, t, other, fa, s->nxt[other], s->nxt[closer], TG_SRC_NONE, 0, 0,
			    TG_MARK_NONE);
	s->nxt[other]++;
	t += 2 * s->half_rtt[closer] + proc_us(s);
	rc = rc ? rc : push(s, t, closer, TG_TCP_ACK, s->nxt[closer], s->nxt[other],
			    TG_SRC_NONE, 0, 0, TG_MARK_NONE);
	return rc;
}

static int do_exchange(struct tg_session *s, struct tg_http *h)
{
	const bool last = s->requests_done + 1 >= s->requests_total;
	uint64_t t_req_last, t_resp_last;
	bool odd;
	int rc;

	rc = tg_http_request(h, &s->req, &s->ri, &s->rng, &s->id, last);
	if (rc)
		return rc;
	rc = send_data(s, TG_C2S, TG_SRC_REQ, (uint32_t)s->req.len, s->t_next,
		       TG_MARK_REQ_START, &t_req_last, &odd);
	if (rc)
		return rc;

	/* the server's reaction is seen one server round trip after the request */
	const uint64_t t_srv = t_req_last + 2 * s->half_rtt[TG_S2C];
	const uint64_t think = server_think(s);
	if (odd && think > DELACK_US) {
		rc = push(s, t_srv + DELACK_US, TG_S2C, TG_TCP_ACK, s->nxt[TG_S2C],
			  s->nxt[TG_C2S], TG_SRC_NONE, 0, 0, TG_MARK_NONE);
		if (rc)
			return rc;
	}
	const uint64_t t_resp = t_srv + think;
	rc = tg_http_response(h, &s->resp, &s->ri, &s->rng, t_resp / 1000000u);
	if (rc)
		return rc;
	rc = send_data(s, TG_S2C, TG_SRC_RESP, (uint32_t)s->resp.len, t_resp,
		       TG_MARK_RESP_START, &t_resp_last, &odd);
	if (rc)
		return rc;
	s->requests_done++;

	if (s->ri.close) {
		/* "Connection: close": the server closes right after the response;
		 * the client's FIN|ACK also acknowledges the tail of the response */
		s->requests_done = s->requests_total;
		s->phase = TG_PH_DONE;
		rc = do_teardown(s, TG_S2C, t_resp_last + tg_range(&s->rng, 20, 200));
	} else {
		const uint64_t t_cli = t_resp_last + 2 * s->half_rtt[TG_C2S];
		const uint64_t pause = s->requests_done < s->requests_total
					       ? client_think(s)
					       : tg_range(&s->rng, 100, 60000);
		if (odd && pause >= DELACK_US)
			rc = push(s, t_cli + DELACK_US, TG_C2S, TG_TCP_ACK, s->nxt[TG_C2S],
				  s->nxt[TG_S2C], TG_SRC_NONE, 0, 0, TG_MARK_NONE);
		s->t_next = t_cli + pause;
		if (s->requests_done >= s->requests_total)
			s->phase = TG_PH_CLOSE;
	}
	return rc;
}

int tg_session_refill(struct tg_session *s, struct tg_http *h)
{
	if (tg_session_has_packet(s))
		return 0;
	s->qhead = s->qlen = 0;

	int rc = 0;
	switch (s->phase) {
	case TG_PH_HANDSHAKE:
		rc = do_handshake(s);
		s->phase = TG_PH_EXCHANGE;
		break;
	case TG_PH_EXCHANGE:
		rc = do_exchange(s, h);
		break;
	case TG_PH_CLOSE:
		rc = do_teardown(s, TG_C2S, s->t_next);
		s->phase = TG_PH_DONE;
		break;
	case TG_PH_DONE:
		return 1;
	}
	if (rc)
		return rc;
	sort_queue(s);
	/* a phase never starts before the previous one ended */
	if (s->t_next < queue_last_ts(s) && s->phase != TG_PH_DONE)
		s->t_next = queue_last_ts(s) + 1;
	return tg_session_has_packet(s) ? 0 : 1;
}

/* Random host address inside prefix (net, plen) of `nbytes` bytes, avoiding
 * the all-zeros and all-ones host parts and, for IPv4, a last octet of 0 or
 * 255.  Gives up after a bounded number of draws on tiny prefixes. */
static void draw_host(struct tg_rng *r, uint8_t *out, const uint8_t *net, unsigned plen,
		      unsigned nbytes)
{
	for (int tries = 0; tries < 1000; tries++) {
		bool all0 = true, all1 = true;
		for (unsigned i = 0; i < nbytes; i++) {
			unsigned keep = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;
			uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
			uint8_t rnd = (uint8_t)tg_next(r);
			out[i] = (uint8_t)((net[i] & mask) | (rnd & (uint8_t)~mask));
			if ((out[i] & (uint8_t)~mask) != 0)
				all0 = false;
			if ((out[i] | mask) != 0xff)
				all1 = false;
		}
		if (all0 || all1)
			continue;
		if (nbytes == 4 && (out[3] == 0 || out[3] == 255))
			continue;
		return;
	}
}

void tg_session_reroll_port(struct tg_session *s)
{
	s->flow.cport = (uint16_t)tg_range(&s->rng, 32768, 60999);
}

int tg_session_start(struct tg_session *s, const struct tg_topology *topo, struct tg_http *h,
		     uint64_t seed, uint64_t index, uint64_t t0)
{
	struct tg_rng *r = &s->rng;
	struct tg_flow *f = &s->flow;

	s->index = index;
	tg_rng_seed(r, seed, index + 1);	/* stream 0 is the scheduler's */

	*f = (struct tg_flow){0};
	memcpy(f->cli_mac, topo->cli_mac, 6);
	memcpy(f->srv_mac, topo->srv_mac, 6);
	f->vlan = topo->vlan;
	const bool v6 = topo->ipv6_fraction > 0 && tg_chance(r, topo->ipv6_fraction);
	if (v6) {
		f->cli.family = f->srv.family = 6;
		draw_host(r, f->cli.b, topo->cnet6, topo->cplen6, 16);
		f->srv = topo->srv6[tg_below(r, topo->n_srv6)];
		f->flow_label[0] = (uint32_t)tg_range(r, 1, 0xfffff);
		f->flow_label[1] = (uint32_t)tg_range(r, 1, 0xfffff);
	} else {
		f->cli.family = f->srv.family = 4;
		draw_host(r, f->cli.b, topo->cnet4, topo->cplen4, 4);
		f->srv = topo->srv4[tg_below(r, topo->n_srv4)];
	}
	tg_session_reroll_port(s);
	f->sport = topo->server_port;

	s->phase = TG_PH_HANDSHAKE;
	s->requests_total = (uint32_t)tg_range(r, topo->req_min, topo->req_max);
	s->requests_done = 0;
	s->seg_max = topo->mss - (v6 ? 20 : 0);
	for (int d = 0; d < 2; d++) {
		s->nxt[d] = (uint32_t)tg_next(r);
		s->ts_base[d] = (uint32_t)tg_next(r);
		s->last_tsval[d] = 0;
		s->ip_id[d] = (uint16_t)tg_next(r);
		s->cwnd[d] = INIT_CWND;
	}
	s->win[TG_C2S] = 502;	/* 64256 >> 7, Linux after the handshake */
	s->win[TG_S2C] = 509;	/* 65152 >> 7 */
	/* TTLs as seen at the capture point: clients some hops away, a few
	 * Windows clients (initial 128), servers next door */
	s->ttl[TG_C2S] = (uint8_t)((tg_chance(r, 0.15) ? 128 : 64) - tg_range(r, 1, 12));
	s->ttl[TG_S2C] = (uint8_t)(64 - tg_range(r, 0, 1));
	/* half round-trip times from the capture point: LAN, WAN and far clients */
	uint64_t x = tg_below(r, 100);
	s->half_rtt[TG_C2S] = (uint32_t)(x < 60 ? tg_range(r, 80, 800)
					 : x < 90 ? tg_range(r, 2000, 15000)
						  : tg_range(r, 20000, 60000));
	s->half_rtt[TG_S2C] = (uint32_t)tg_range(r, 20, 300);
	s->t_start = s->t_next = t0;
	s->qhead = s->qlen = 0;
	s->order = 0;
	return tg_identity_init(h, &s->id, r, t0 / 1000000u);
}

size_t tg_session_emit(struct tg_session *s, uint8_t *buf, size_t cap, struct tg_pkt *pkt)
{
	const struct tg_pkt *p = &s->q[s->qhead++];
	const enum tg_dir d = (enum tg_dir)p->dir;
	const bool syn = p->flags & TG_TCP_SYN;
	uint8_t opts[20];
	struct tg_seg seg;

	*pkt = *p;
	uint32_t tsval = s->ts_base[d] + (uint32_t)((p->ts - s->t_start) / 1000u);
	uint32_t tsecr = (syn && !(p->flags & TG_TCP_ACK)) ? 0 : s->last_tsval[peer(d)];
	s->last_tsval[d] = tsval;

	seg = (struct tg_seg){
		.dir = d, .flags = p->flags, .ttl = s->ttl[d], .ip_id = s->ip_id[d]++,
		.seq = p->seq, .ack = p->ack, .opts = opts, .len = p->len,
	};
	if (syn) {
		uint32_t mss_opt = s->seg_max + 12;	/* announced MSS excludes options */
		uint32_t base = d == TG_C2S ? CLI_SYN_WIN : SRV_SYN_WIN;
		uint32_t per = d == TG_C2S ? mss_opt : s->seg_max;
		seg.optlen = tg_tcpopt_syn(opts, (uint16_t)(mss_opt > 65535 ? 65535 : mss_opt), WSCALE,
					   tsval, tsecr);
		seg.win = (uint16_t)(base / per * per);
		if (seg.win == 0)
			seg.win = 65535;
	} else {
		seg.optlen = tg_tcpopt_ts(opts, tsval, tsecr);
		seg.win = s->win[d];
	}
	if (p->src == TG_SRC_REQ)
		seg.payload = s->req.data + p->off;
	else if (p->src == TG_SRC_RESP)
		seg.payload = s->resp.data + p->off;

	if (p->len) {
		/* the receiver's window opens as data arrives (receive autotuning) */
		uint16_t *w = &s->win[peer(d)];
		uint32_t grown = *w + (p->len + 255) / 256;
		*w = (uint16_t)min_u32(grown, MAX_WIN);
	}
	return tg_frame_build(buf, cap, &s->flow, &seg);
}

void tg_session_free(struct tg_session *s)
{
	tg_identity_free(&s->id);
	tg_buf_free(&s->req);
	tg_buf_free(&s->resp);
	free(s->q);
	s->q = NULL;
	s->qcap = s->qlen = s->qhead = 0;
}
