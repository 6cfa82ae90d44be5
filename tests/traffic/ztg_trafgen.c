/* SPDX-License-Identifier: BSD-3-Clause
 *
 * ztg-trafgen: reproducible pcap of realistic REST API traffic.
 *
 * Up to --concurrency TCP connections are open at a time; their packets are
 * merged by timestamp (a binary heap over the sessions' next packet), and a
 * finished connection's slot starts the next one a moment later.  Every
 * random choice comes from per-session streams of one seed, and timestamps
 * start at a fixed --start-time, so a seed always gives the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "http_corpus.h"
#include "pcap_writer.h"
#include "tcp_session.h"
#include "tg_rng.h"
#include "trafgen_opts.h"

#define FRAME_CAP 65536u
#define MAX_STATUS 600u

struct stats {
	uint64_t packets, bytes, payload_bytes;
	uint64_t dir_packets[2];
	uint64_t min_len, max_len;
	uint64_t sessions, sessions_v4, sessions_v6;
	uint64_t requests, responses, malicious;
	uint64_t by_attack[TG_ATTACK_COUNT];
	uint64_t by_method[TG_M_COUNT];
	uint64_t by_status[MAX_STATUS];
	uint64_t first_ts, last_ts;
};

struct generator {
	const struct tg_options *o;
	struct tg_http http;
	struct tg_rng sched;
	struct tg_session *slots;
	uint32_t nslots;
	uint32_t *heap;		/* slot numbers, ordered by next packet time */
	uint32_t heap_len;
	uint64_t next_index;	/* next session to start */
	struct tg_pcap pcap;
	FILE *labels;
	struct stats st;
	uint8_t frame[FRAME_CAP];
};

/* ---- heap of sessions by next packet time ------------------------------- */

static bool slot_before(const struct generator *g, uint32_t a, uint32_t b)
{
	uint64_t ta = tg_session_next_ts(&g->slots[a]), tb = tg_session_next_ts(&g->slots[b]);

	return ta < tb || (ta == tb && a < b);
}

static void heap_sift_down(struct generator *g, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < g->heap_len && slot_before(g, g->heap[l], g->heap[m]))
			m = l;
		if (r < g->heap_len && slot_before(g, g->heap[r], g->heap[m]))
			m = r;
		if (m == i)
			return;
		uint32_t t = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = t;
		i = m;
	}
}

static void heap_push(struct generator *g, uint32_t slot)
{
	uint32_t i = g->heap_len++;

	g->heap[i] = slot;
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!slot_before(g, g->heap[i], g->heap[p]))
			break;
		uint32_t t = g->heap[i];
		g->heap[i] = g->heap[p];
		g->heap[p] = t;
		i = p;
	}
}

static void heap_pop(struct generator *g)
{
	g->heap[0] = g->heap[--g->heap_len];
	heap_sift_down(g, 0);
}

/* ---- sessions ------------------------------------------------------------ */

static bool same_tuple(const struct tg_flow *a, const struct tg_flow *b)
{
	return a->cli.family == b->cli.family && a->cport == b->cport && a->sport == b->sport &&
	       memcmp(a->cli.b, b->cli.b, 16) == 0 && memcmp(a->srv.b, b->srv.b, 16) == 0;
}

/* Start the next session in `slot` at time t and queue its first packets. */
static int start_session(struct generator *g, uint32_t slot, uint64_t t)
{
	struct tg_session *s = &g->slots[slot];
	int rc = tg_session_start(s, &g->o->topo, &g->http, g->o->seed, g->next_index++, t);

	if (rc)
		return rc;
	/* no two open connections share a 4-tuple */
	for (uint32_t i = 0; i < g->heap_len; i++) {
		if (g->heap[i] != slot && same_tuple(&s->flow, &g->slots[g->heap[i]].flow)) {
			tg_session_reroll_port(s);
			i = (uint32_t)-1;
		}
	}
	g->st.sessions++;
	if (s->flow.cli.family == 6)
		g->st.sessions_v6++;
	else
		g->st.sessions_v4++;
	rc = tg_session_refill(s, &g->http);
	return rc == 1 ? EINVAL : rc;
}

/* ---- per-packet accounting and labels ---------------------------------- */

static void csv_quoted(FILE *fp, const uint8_t *p, size_t n)
{
	fputc('"', fp);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"')
			fputc('"', fp);
		fputc(p[i], fp);
	}
	fputc('"', fp);
}

static void write_label(struct generator *g, const struct tg_session *s)
{
	char cli[INET6_ADDRSTRLEN], srv[INET6_ADDRSTRLEN];
	const struct tg_flow *f = &s->flow;
	const struct tg_req_info *ri = &s->ri;
	int af = f->cli.family == 6 ? AF_INET6 : AF_INET;

	inet_ntop(af, f->cli.b, cli, sizeof(cli));
	inet_ntop(af, f->srv.b, srv, sizeof(srv));
	fprintf(g->labels, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s,%u,%s,%u,%s,", g->st.packets,
		s->index, g->st.requests, cli, f->cport, srv, f->sport, tg_method_name(ri->method));
	csv_quoted(g->labels, s->req.data + ri->target_off, ri->target_len);
	fprintf(g->labels, ",%s,%u\n", tg_attack_name(ri->attack), ri->status);
}

static void account(struct generator *g, const struct tg_session *s, const struct tg_pkt *p,
		    size_t len)
{
	struct stats *st = &g->st;

	if (st->packets == 0) {
		st->first_ts = p->ts;
		st->min_len = len;
	}
	st->packets++;
	st->bytes += len;
	st->payload_bytes += p->len;
	st->dir_packets[p->dir]++;
	st->last_ts = p->ts;
	if (len < st->min_len)
		st->min_len = len;
	if (len > st->max_len)
		st->max_len = len;
	if (p->mark == TG_MARK_REQ_START) {
		st->requests++;
		st->by_method[s->ri.method]++;
		st->by_attack[s->ri.attack]++;
		if (s->ri.attack != TG_ATTACK_NONE)
			st->malicious++;
		if (g->labels)
			write_label(g, s);
	} else if (p->mark == TG_MARK_RESP_START) {
		st->responses++;
		if (s->ri.status < MAX_STATUS)
			st->by_status[s->ri.status]++;
	}
}

/* ---- main loop ----------------------------------------------------------- */

static int generate(struct generator *g)
{
	const struct tg_options *o = g->o;
	uint64_t t = o->start_time * 1000000u;
	int rc;

	g->nslots = o->sessions < o->concurrency ? (uint32_t)o->sessions : o->concurrency;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	g->heap = calloc(g->nslots, sizeof(*g->heap));
	if (g->slots == NULL || g->heap == NULL)
		return ENOMEM;
	tg_rng_seed(&g->sched, o->seed, 0);

	/* the first connections open in a staggered way */
	for (uint32_t i = 0; i < g->nslots; i++) {
		rc = start_session(g, i, t);
		if (rc)
			return rc;
		heap_push(g, i);
		t += tg_range(&g->sched, 10, 2000);
	}

	while (g->heap_len > 0) {
		uint32_t slot = g->heap[0];
		struct tg_session *s = &g->slots[slot];
		struct tg_pkt pkt;

		size_t len = tg_session_emit(s, g->frame, sizeof(g->frame), &pkt);
		if (len == 0)
			return EMSGSIZE;
		rc = tg_pcap_write(&g->pcap, pkt.ts, g->frame, len);
		if (rc)
			return rc;
		account(g, s, &pkt, len);

		rc = tg_session_refill(s, &g->http);
		if (rc == 1) {
			if (g->next_index < o->sessions) {
				rc = start_session(g, slot, pkt.ts + tg_range(&g->sched, 20, 3000));
				if (rc)
					return rc;
				heap_sift_down(g, 0);
			} else {
				heap_pop(g);
			}
		} else if (rc == 0) {
			heap_sift_down(g, 0);
		} else {
			return rc;
		}
	}
	return 0;
}

/* ---- --describe ------------------------------------------------------------ */

static void json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static int write_describe(const struct generator *g, const char *path)
{
	const struct tg_options *o = g->o;
	const struct stats *st = &g->st;
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return errno ? errno : EIO;
	fprintf(fp, "{\n  \"generator\": \"ztg-trafgen\",\n  \"file\": ");
	json_string(fp, o->output);
	fprintf(fp, ",\n  \"format\": \"pcap, LINKTYPE_ETHERNET, microsecond timestamps\",\n");
	fprintf(fp, "  \"seed\": %" PRIu64 ",\n", o->seed);
	fprintf(fp, "  \"packets\": %" PRIu64 ",\n  \"bytes\": %" PRIu64 ",\n", st->packets,
		st->bytes);
	fprintf(fp, "  \"avg_packet_size\": %.2f,\n",
		st->packets ? (double)st->bytes / (double)st->packets : 0.0);
	fprintf(fp, "  \"min_packet_size\": %" PRIu64 ",\n  \"max_packet_size\": %" PRIu64 ",\n",
		st->min_len, st->max_len);
	fprintf(fp, "  \"packets_client_to_server\": %" PRIu64 ",\n"
		"  \"packets_server_to_client\": %" PRIu64 ",\n",
		st->dir_packets[TG_C2S], st->dir_packets[TG_S2C]);
	fprintf(fp, "  \"tcp_payload_bytes\": %" PRIu64 ",\n", st->payload_bytes);
	fprintf(fp, "  \"sessions\": %" PRIu64 ",\n  \"sessions_ipv4\": %" PRIu64 ",\n"
		"  \"sessions_ipv6\": %" PRIu64 ",\n", st->sessions, st->sessions_v4,
		st->sessions_v6);
	fprintf(fp, "  \"requests\": %" PRIu64 ",\n  \"responses\": %" PRIu64 ",\n"
		"  \"malicious_requests\": %" PRIu64 ",\n", st->requests, st->responses,
		st->malicious);
	fprintf(fp, "  \"malicious_by_class\": {");
	for (int a = TG_ATTACK_NONE + 1; a < TG_ATTACK_COUNT; a++)
		fprintf(fp, "%s\"%s\": %" PRIu64, a > 1 ? ", " : "", tg_attack_name(a),
			st->by_attack[a]);
	fprintf(fp, "},\n  \"methods\": {");
	for (int m = 0; m < TG_M_COUNT; m++)
		fprintf(fp, "%s\"%s\": %" PRIu64, m ? ", " : "", tg_method_name(m), st->by_method[m]);
	fprintf(fp, "},\n  \"status_codes\": {");
	for (unsigned c = 0, n = 0; c < MAX_STATUS; c++)
		if (st->by_status[c])
			fprintf(fp, "%s\"%u\": %" PRIu64, n++ ? ", " : "", c, st->by_status[c]);
	fprintf(fp, "},\n  \"first_timestamp_us\": %" PRIu64 ",\n  \"last_timestamp_us\": %" PRIu64
		",\n  \"duration_seconds\": %.6f,\n", st->first_ts, st->last_ts,
		(double)(st->last_ts - st->first_ts) / 1e6);

	fprintf(fp, "  \"options\": {\n    \"sessions\": %" PRIu64 ",\n", o->sessions);
	fprintf(fp, "    \"requests_per_session\": [%u, %u],\n", o->topo.req_min, o->topo.req_max);
	fprintf(fp, "    \"concurrency\": %u,\n    \"seed\": %" PRIu64 ",\n", o->concurrency,
		o->seed);
	fprintf(fp, "    \"body_size\": %u,\n    \"response_size\": %u,\n", o->body_size,
		o->response_size);
	fprintf(fp, "    \"malicious\": %.6g,\n    \"ipv6\": %.6g,\n", o->malicious,
		o->topo.ipv6_fraction);
	fprintf(fp, "    \"vlan\": %u,\n    \"mss\": %u,\n    \"server_port\": %u,\n",
		o->topo.vlan, o->topo.mss, o->topo.server_port);
	const struct {
		const char *k, *v;
	} strs[] = {
		{"client_net", o->client_net}, {"server_addr", o->server_addr},
		{"client_net6", o->client_net6}, {"server_addr6", o->server_addr6},
		{"client_mac", o->client_mac}, {"server_mac", o->server_mac},
		{"host", o->host},
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		fprintf(fp, "    \"%s\": ", strs[i].k);
		json_string(fp, strs[i].v);
		fprintf(fp, ",\n");
	}
	fprintf(fp, "    \"start_time\": %" PRIu64 ",\n    \"bearer_file\": ", o->start_time);
	if (o->bearer_file != NULL)
		json_string(fp, o->bearer_file);
	else
		fputs("null", fp);
	fprintf(fp, ",\n    \"bearer_bytes\": %zu,\n    \"jwt_signatures\": \"%s\"\n  }\n}\n", o->bearer_len,
		o->bearer != NULL ? "the --bearer-file token in every request with a token"
				  : "random, not verifiable");

	int rc = ferror(fp) ? EIO : 0;
	if (fclose(fp) != 0 && rc == 0)
		rc = errno ? errno : EIO;
	return rc;
}

int main(int argc, char **argv)
{
	struct tg_options opts;
	int rc;

	switch (tg_opts_parse(&opts, argc, argv)) {
	case TG_OPTS_HELP:
		return 0;
	case TG_OPTS_ERROR:
		return 2;
	case TG_OPTS_RUN:
		break;
	}

	struct generator *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		fprintf(stderr, "ztg-trafgen: out of memory\n");
		tg_opts_free(&opts);
		return 1;
	}
	g->o = &opts;
	tg_http_init(&g->http, &(struct tg_http_cfg){
		.host = opts.host,
		.body_size = opts.body_size,
		.response_size = opts.response_size,
		.malicious = opts.malicious,
		.bearer = opts.bearer,
		.bearer_len = opts.bearer_len,
	});

	rc = tg_pcap_open(&g->pcap, opts.output);
	if (rc) {
		fprintf(stderr, "ztg-trafgen: %s: %s\n", opts.output, strerror(rc));
		free(g);
		tg_opts_free(&opts);
		return 1;
	}
	if (opts.labels) {
		g->labels = fopen(opts.labels, "w");
		if (g->labels == NULL) {
			fprintf(stderr, "ztg-trafgen: %s: %s\n", opts.labels, strerror(errno));
			tg_pcap_close(&g->pcap);
			free(g);
			tg_opts_free(&opts);
			return 1;
		}
		fprintf(g->labels, "frame,session,request,client,client_port,server,server_port,"
			"method,target,attack,status\n");
	}

	rc = generate(g);
	int rc_close = tg_pcap_close(&g->pcap);
	if (rc == 0)
		rc = rc_close;
	if (rc)
		fprintf(stderr, "ztg-trafgen: %s: %s\n", opts.output, strerror(rc));
	if (g->labels != NULL && (fclose(g->labels) != 0) && rc == 0) {
		rc = errno ? errno : EIO;
		fprintf(stderr, "ztg-trafgen: %s: %s\n", opts.labels, strerror(rc));
	}
	if (rc == 0 && opts.describe) {
		rc = write_describe(g, opts.describe);
		if (rc)
			fprintf(stderr, "ztg-trafgen: %s: %s\n", opts.describe, strerror(rc));
	}
	if (rc == 0)
		fprintf(stderr, "ztg-trafgen: %s: %" PRIu64 " packets, %" PRIu64 " bytes, %" PRIu64
			" sessions, %" PRIu64 " requests (%" PRIu64 " malicious)\n",
			opts.output, g->st.packets, g->st.bytes, g->st.sessions, g->st.requests,
			g->st.malicious);

	for (uint32_t i = 0; i < g->nslots; i++)
		tg_session_free(&g->slots[i]);
	free(g->slots);
	free(g->heap);
	tg_http_free(&g->http);
	free(g);
	tg_opts_free(&opts);
	return rc ? 1 : 0;
}
