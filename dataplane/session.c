#include "session.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>

#include "checksum.h"
#include "hash.h"


_Static_assert(ZTG_EVENT_RULES_MAX == ZTG_DETECT_MAX_MATCHES, "an event holds every rule id a detection keeps");

/* Everything one feed of the HTTP parser may decide, gathered by its callback. */
struct feed_state {
	struct ztg_session_context *ctx;
	struct ztg_flow *flow;
	bool stop;
	bool request_side;             /* the stopping event came from the client's direction */
	enum ztg_verdict verdict;
	enum ztg_drop_reason drop;
	const char *reason;
	uint64_t request_id;
	uint32_t request_index;
	uint64_t now;
	char method[16];
	char path[ZTG_EVENT_PATH_MAX];
	/* Where the policy placed the request, when one decided. */
	bool policy;
	bool monitor;
	const char *segment;
	const char *service;
	const char *route;
	char host[ZTG_EVENT_NAME_MAX];
	const struct ztg_authn_result *auth;   /* when identity decided */
	const struct ztg_detect_result *detect; /* when signatures matched */
	bool streams_exhausted;                /* the request's body could not be scanned */
	/*
	 * A body blocked in a piece whose packet may still hold its end: the
	 * stop waits for that end (or for anything else) in this packet, so
	 * matches that need the end of the body are named in the event too.
	 */
	bool held;
	bool held_request;
	uint32_t held_index;
	enum ztg_inject_denial denial;         /* 401 when the credentials failed, 429 over a rate limit, else 403 */
	const char *rate_limit;                /* the limit that stopped or flagged the request */
	uint32_t retry_after;                  /* seconds, for a 429 */
	const char *quarantine;                /* "identity" or "source": what the quarantine held */
	struct ztg_event_behaviour behaviour;  /* an ALERT or QUARANTINE event's figures */
	/* The request being watched, placed (named) only when a crossing makes an event of it. */
	const struct ztg_authz_decision *watched;
	struct ztg_http_slice watched_host;
};

void ztg_session_context_init(struct ztg_session_context *ctx, const struct ztg_options *opts,
			      struct ztg_stream_pool *stream_pool, struct ztg_http_pool *http_pool,
			      struct ztg_counters *counters, uint16_t lcore)
{
	*ctx = (struct ztg_session_context){
		.opts = opts,
		.stream_pool = stream_pool,
		.http_pool = http_pool,
		.counters = counters,
		.lcore = lcore,
		.next_request_id = ((uint64_t)lcore << 48) + 1,
	};
}

static bool is_http_port(const struct ztg_options *o, uint16_t port)
{
	for (uint16_t i = 0; i < o->http_port_count; i++) {
		if (port == o->http_ports[i])
			return true;
	}
	return false;
}

/* A verified caller (issuer and subject) hashed from h: its rate limit buckets' and behaviour entry's key. */
static uint64_t identity_hash(uint64_t h, const struct ztg_authn_result *a)
{
	h = ztg_hash_fnv1a_string(h, ztg_authn_result_issuer(a));
	return ztg_hash_fmix64(ztg_hash_fnv1a(h, a->identity.subject, a->identity.subject_len));
}

/* A client address's behaviour key: mixed with the process's secret seed, as rate limit keys are. */
static uint64_t source_key(const struct ztg_session_context *ctx, uint8_t ip_version, const uint8_t *addr)
{
	return ztg_hash_fmix64(ztg_hash_fnv1a(ctx->rate_seed ^ 0x5352 ^ ip_version, addr, ip_version == 4 ? 4 : 16));
}

void ztg_session_open(const struct ztg_session_context *ctx, struct ztg_flow *flow, const struct ztg_packet *pkt,
		      const struct ztg_authz_flow *placement, bool is_protected)
{
	if (is_protected) {
		flow->flags |= ZTG_FLOW_F_PROTECTED;
		flow->authz = *placement;
		if (ctx->behaviour != NULL)
			flow->behaviour_source = source_key(ctx, pkt->ip_version, pkt->src_addr);
	}
	/* Only a connection whose handshake we see can be reassembled as the server will. */
	if (pkt->l4_proto != IPPROTO_TCP || (pkt->tcp_flags & (ZTG_TCP_SYN | ZTG_TCP_ACK)) != ZTG_TCP_SYN)
		return;
	if (is_protected || is_http_port(ctx->opts, pkt->dst_port)) {
		flow->flags |= ZTG_FLOW_F_HTTP;
		ztg_stream_init(&flow->stream);
		ztg_http_conn_init(&flow->http);
		ctx->counters->http_flows++;
	}
}

/* The event every decision leaves: flow, request and, with a policy, where it placed it. */
static void fill_event(const struct ztg_session_context *ctx, const struct ztg_flow_key *key, uint8_t initiator,
		       const struct feed_state *st, enum ztg_event_action action, struct ztg_event *e)
{
	memset(e, 0, sizeof(*e));
	e->tsc = st->now;
	e->request_id = st->request_id;
	e->request_index = st->request_index;
	e->flow = *key;
	e->initiator = initiator;
	if (st->flow != NULL) {
		e->bytes[0] = st->flow->bytes[initiator];
		e->bytes[1] = st->flow->bytes[initiator ^ 1];
	}
	e->lcore = ctx->lcore;
	e->action = (uint8_t)action;
	snprintf(e->reason, sizeof(e->reason), "%s", st->reason);
	snprintf(e->method, sizeof(e->method), "%s", st->method);
	snprintf(e->path, sizeof(e->path), "%s", st->path);
	e->policy = st->policy;
	e->monitor = st->monitor;
	snprintf(e->segment, sizeof(e->segment), "%s", st->segment ? st->segment : "");
	snprintf(e->service, sizeof(e->service), "%s", st->service ? st->service : "");
	snprintf(e->route, sizeof(e->route), "%s", st->route ? st->route : "");
	snprintf(e->host, sizeof(e->host), "%s", st->host);
	if (st->auth != NULL) {
		const struct ztg_authn_result *a = st->auth;

		snprintf(e->detail, sizeof(e->detail), "%s", a->detail);
		e->identified = a->identified;
		snprintf(e->issuer, sizeof(e->issuer), "%s", ztg_authn_result_issuer(a));
		if (a->identified)
			snprintf(e->subject, sizeof(e->subject), "%s", a->identity.subject);
		snprintf(e->kid, sizeof(e->kid), "%s", a->identified ? a->identity.kid : a->kid);
	}
	if (st->rate_limit != NULL)
		snprintf(e->detail, sizeof(e->detail), "%s", st->rate_limit);
	if (st->quarantine != NULL)
		snprintf(e->detail, sizeof(e->detail), "%s", st->quarantine);
	e->behaviour = st->behaviour;
	if (st->detect != NULL) {
		const struct ztg_detect_result *dr = st->detect;

		e->rule_count = (uint8_t)(dr->match_count < ZTG_DETECT_MAX_MATCHES ? dr->match_count :
					  ZTG_DETECT_MAX_MATCHES);
		memcpy(e->rules, dr->rules, e->rule_count * sizeof(e->rules[0]));
		memcpy(e->rule_fields, dr->fields, e->rule_count * sizeof(e->rule_fields[0]));
		e->score = dr->score;
	}
}

static enum ztg_event_action event_action(enum ztg_policy_action action)
{
	switch (action) {
	case ZTG_POLICY_ACTION_DENY:
		return ZTG_EVENT_ACTION_DENY;
	case ZTG_POLICY_ACTION_RESET:
		return ZTG_EVENT_ACTION_RESET;
	case ZTG_POLICY_ACTION_DROP:
		return ZTG_EVENT_ACTION_DROP;
	default:
		return ZTG_EVENT_ACTION_PASS;
	}
}

/* An event straight to the ring: several may come from one packet. */
static void push_event(struct ztg_session_context *ctx, const struct ztg_flow_key *key, uint8_t initiator,
		       const struct feed_state *st, enum ztg_event_action action)
{
	struct ztg_event e;

	fill_event(ctx, key, initiator, st, action, &e);
	if (ctx->events == NULL || ztg_events_push(ctx->events, &e) < 0)
		ctx->counters->events_dropped++;
}

/* Monitor mode: the decision is logged, the traffic passes. */
static void push_monitor_event(struct ztg_session_context *ctx, const struct ztg_flow_key *key, uint8_t initiator,
			       const struct feed_state *st, enum ztg_policy_action action)
{
	ctx->counters->policy_monitored++;
	push_event(ctx, key, initiator, st, event_action(action));
}

static const char *policy_name(const struct ztg_policy *p, uint32_t segment_or_service, bool service)
{
	if (segment_or_service == ZTG_AUTHZ_NONE)
		return NULL;
	return service ? p->services[segment_or_service].name : p->segments[segment_or_service].name;
}

/* Name where the policy placed the request, for an event about it. */
static void place_request(struct feed_state *st, const struct ztg_policy *p, const struct ztg_authz_decision *d,
			  struct ztg_http_slice host)
{
	st->segment = policy_name(p, d->segment, false);
	st->service = policy_name(p, d->service, true);
	st->route = d->route == ZTG_AUTHZ_NONE ? NULL : p->services[d->service].routes[d->route].name;
	snprintf(st->host, sizeof(st->host), "%.*s", (int)host.len, (const char *)host.ptr);
}

enum ztg_drop_reason ztg_session_admit(struct ztg_session_context *ctx, const struct ztg_packet *pkt,
				       const struct ztg_flow_key *key, unsigned int sender, uint64_t now_tsc,
				       struct ztg_authz_flow *placement, bool *is_protected,
				       struct ztg_session_result *r)
{
	const struct ztg_authz *authz = ctx->authz;
	const struct ztg_policy *p;
	struct feed_state st = {.ctx = ctx, .now = now_tsc, .policy = true};
	enum ztg_drop_reason drop;
	enum ztg_policy_action action;

	r->drop = ZTG_DROP_NONE;
	r->frame_count = 0;
	r->has_event = false;
	*is_protected = false;
	/* A quarantined or blocked source opens nothing, policy or not: what a NIC rule would drop (flow_drop.h). */
	if (ctx->quarantine != NULL && unlikely(ztg_quarantine_any(ctx->quarantine)) &&
	    ztg_quarantine_source_held(ctx->quarantine, pkt->ip_version, pkt->src_addr, ctx->now_unix)) {
		r->drop = ZTG_DROP_QUARANTINED;
		return r->drop;
	}
	if (authz == NULL)
		return ZTG_DROP_NONE;
	p = ztg_authz_policy(authz);
	switch (ztg_authz_classify_flow(authz, pkt->ip_version, pkt->src_addr, pkt->dst_addr, pkt->dst_port,
					placement)) {
	case ZTG_AUTHZ_FLOW_UNPROTECTED:
		return ZTG_DROP_NONE;
	case ZTG_AUTHZ_FLOW_SEGMENT_DENIED:
		/* Micro-segmentation: refused before any layer-7 work, silently, like a firewall. */
		drop = ZTG_DROP_POLICY_SEGMENT_DENIED;
		action = ZTG_POLICY_ACTION_DROP;
		st.reason = ztg_authz_reason_name(ZTG_AUTHZ_SEGMENT_DENIED);
		break;
	case ZTG_AUTHZ_FLOW_ALLOWED:
	default:
		*is_protected = true;
		if (pkt->l4_proto == IPPROTO_TCP || ztg_authz_non_http_action(authz) == ZTG_POLICY_ACTION_PASS)
			return ZTG_DROP_NONE;
		/* UDP, ICMP ... to an HTTP service: nothing to judge a request by. A RST has no meaning here. */
		drop = ZTG_DROP_POLICY_NON_HTTP;
		action = ZTG_POLICY_ACTION_DROP;
		st.reason = "non_http";
		break;
	}
	st.segment = policy_name(p, placement->segment, false);
	if (ztg_authz_flow_mode(authz, placement) == ZTG_POLICY_MODE_MONITOR) {
		st.monitor = true;
		push_monitor_event(ctx, key, (uint8_t)sender, &st, action);
		return ZTG_DROP_NONE;
	}
	ctx->counters->policy_denied++;
	fill_event(ctx, key, (uint8_t)sender, &st, event_action(action), &r->event);
	r->has_event = true;
	r->drop = drop;
	return drop;
}

/* The flow's detect state, when it belongs to the policy in force (else its streams went with their policy). */
static bool detect_state_current(const struct ztg_session_context *ctx, const struct ztg_flow *flow)
{
	return ctx->authz != NULL && flow->detect.generation == ztg_authz_generation(ctx->authz) &&
	       ztg_authz_detect(ctx->authz) != NULL;
}

void ztg_session_release(struct ztg_session_context *ctx, struct ztg_flow *flow)
{
	if (!(flow->flags & ZTG_FLOW_F_HTTP))
		return;
	if (detect_state_current(ctx, flow)) {
		for (int b = 0; b < 2; b++) {
			if (flow->detect.stream[b] != 0)
				ztg_detect_body_abandon(ztg_authz_detect(ctx->authz), ctx->worker_index,
							(enum ztg_detect_body)b, flow->detect.stream[b]);
		}
	}
	memset(&flow->detect, 0, sizeof(flow->detect));
	ztg_stream_release(&flow->stream, ctx->stream_pool);
	ztg_http_conn_release(&flow->http, ctx->http_pool);
	flow->flags &= (uint8_t)~ZTG_FLOW_F_HTTP;
}

/* The TCP checksum, so that what we reassemble is what the server's stack accepts. */
static bool tcp_checksum_ok(const uint8_t *frame, const struct ztg_packet *pkt)
{
	uint32_t l4_len = (uint32_t)pkt->l3_offset + pkt->l3_len - pkt->l4_offset;
	uint32_t addr_len = pkt->ip_version == 4 ? 4 : 16;
	uint64_t sum;

	/* Pseudo-header: addresses, protocol and TCP length, as numbers. */
	sum = ztg_checksum_add(0, pkt->src_addr, addr_len);
	sum = ztg_checksum_add(sum, pkt->dst_addr, addr_len);
	sum += IPPROTO_TCP + l4_len;
	sum = ztg_checksum_add(sum, frame + pkt->l4_offset, l4_len);
	return ztg_checksum_fold(sum) == 0xffff;
}

static void copy_token(char *dst, size_t dst_len, const uint8_t *src, uint32_t len)
{
	size_t n = len < dst_len - 1 ? len : dst_len - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int stop_feed(struct feed_state *st, bool request_side, enum ztg_verdict verdict, enum ztg_drop_reason drop,
		     const char *reason)
{
	st->stop = true;
	st->request_side = request_side;
	st->verdict = verdict;
	st->drop = drop;
	st->reason = reason;
	return 1;
}

static const char *upgrade_reason(uint8_t upgrade)
{
	switch (upgrade) {
	case ZTG_HTTP_UPGRADE_WEBSOCKET:
		return "http_tunnel_websocket";
	case ZTG_HTTP_UPGRADE_H2C:
		return "http_tunnel_h2c";
	case ZTG_HTTP_UPGRADE_CONNECT:
		return "http_tunnel_connect";
	default:
		return "http_tunnel_upgrade";
	}
}

/*
 * Give the request an id and remember its method and canonical path for the
 * event. Only the path: a query may carry credentials, and events never hold
 * secrets. Returns how normalising the target went.
 */
static enum ztg_http_normalize_error describe_request(struct feed_state *st, const struct ztg_http_message *msg)
{
	struct ztg_session_context *ctx = st->ctx;
	struct ztg_http_target_view *view = &ctx->target;
	enum ztg_http_normalize_error norm;

	st->request_id = ctx->next_request_id++;
	st->request_index = msg->index;
	copy_token(st->method, sizeof(st->method), msg->method_token.ptr, msg->method_token.len);
	norm = ztg_http_normalize_target(msg->target.ptr, msg->target.len, ctx->target_buf, sizeof(ctx->target_buf),
					 view);
	if (norm == ZTG_HTTP_NORM_OK)
		copy_token(st->path, sizeof(st->path), view->path.ptr, view->path.len);
	else
		copy_token(st->path, sizeof(st->path), view->raw_path.ptr, view->raw_path.len);
	return norm;
}

static enum ztg_verdict verdict_of(enum ztg_policy_action action)
{
	switch (action) {
	case ZTG_POLICY_ACTION_RESET:
		return ZTG_VERDICT_RESET;
	case ZTG_POLICY_ACTION_DROP:
		return ZTG_VERDICT_DROP;
	default:
		return ZTG_VERDICT_DENY;
	}
}

static enum ztg_tally_verdict tally_verdict_of(enum ztg_verdict verdict)
{
	switch (verdict) {
	case ZTG_VERDICT_RESET:
		return ZTG_TALLY_RESET;
	case ZTG_VERDICT_DROP:
		return ZTG_TALLY_DROP;
	default:
		return ZTG_TALLY_DENY;
	}
}

/* One request's fate under its route's label slot: counted once, when it is final. */
static void tally_request(struct ztg_session_context *ctx, uint32_t slot, enum ztg_tally_verdict verdict,
			  const char *reason)
{
	if (ctx->tally != NULL)
		ztg_tally_add(ctx->tally, ztg_tally_tag(ZTG_TALLY_REQUEST, slot, verdict), reason, 1);
}

/* Count what a scan newly matched: in signature_matches, and by rule id (the tail of r->rules) in the tally. */
static void tally_rule_hits(struct ztg_session_context *ctx, const struct ztg_detect_result *r)
{
	uint32_t end = r->match_count < ZTG_DETECT_MAX_MATCHES ? r->match_count : ZTG_DETECT_MAX_MATCHES;
	uint32_t start = r->match_count - r->new_matches;

	ctx->counters->signature_matches += r->new_matches;
	if (ctx->tally == NULL)
		return;
	for (uint32_t i = start; i < end; i++)
		ztg_tally_add(ctx->tally, ztg_tally_tag(ZTG_TALLY_RULE, 0, r->rules[i]), NULL, 1);
}

/*
 * The route allows the request: now who sent it, and may they? false when
 * the identity check refuses it (st->auth says why).
 */
static bool authenticate(struct feed_state *st, const struct ztg_http_message *msg, const struct ztg_authz_decision *d)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_authn *authn = ztg_authz_authn(ctx->authz);
	struct ztg_authn_result *r = &ctx->auth_result;
	struct ztg_counters *c = ctx->counters;
	const struct ztg_authn_request req = {
		.msg = msg,
		.target = &ctx->target,
		.match = &d->match,
		.service = d->service,
		.route = d->route,
		.now = ctx->now_unix,
	};
	bool ok = ztg_authn_check(authn, &ctx->authn, ctx->revocations, &req, r);

	c->auth_verifications = ctx->authn.verified;
	c->auth_cache_hits = ctx->authn.cache_hits;
	c->auth_api_keys = ctx->authn.api_key_lookups;
	if (r->reason == ZTG_AUTHN_ANONYMOUS) {
		c->auth_anonymous++;
		return true;
	}
	if (ok) {
		c->auth_identified++;
		return true;
	}
	c->auth_denied++;
	if (ctx->tally != NULL)
		ztg_tally_add(ctx->tally, ztg_tally_tag(ZTG_TALLY_AUTH_FAILURE, 0, 0), ztg_authn_result_reason(r), 1);
	st->auth = r;
	st->denial = ztg_authn_result_unauthenticated(r) ? ZTG_INJECT_UNAUTHORIZED : ZTG_INJECT_FORBIDDEN;
	return false;
}

/* Report matches that only alert, with st placed where the message went; the traffic goes on. */
static void report_alert(struct feed_state *st, const struct ztg_detect_result *r, const char *reason)
{
	st->ctx->counters->signature_alerts++;
	st->detect = r;
	st->policy = true;
	st->monitor = true;
	st->reason = reason;
	push_event(st->ctx, &st->flow->key, st->flow->tcp.initiator, st, ZTG_EVENT_ACTION_PASS);
	st->monitor = false;
	st->policy = false;
	st->detect = NULL;
}

/*
 * The request passed policy and identity: now its fields against the
 * signatures its route selects. false when they block it (st->detect says
 * which rules); alerts leave an event and let it pass.
 */
static bool inspect_signatures(struct feed_state *st, const struct ztg_http_message *msg,
			       const struct ztg_authz_decision *d, struct ztg_http_slice host)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_detect *det = ztg_authz_detect(ctx->authz);
	const struct ztg_policy *p = ztg_authz_policy(ctx->authz);
	struct ztg_detect_result *r = &ctx->detect_result;
	const struct ztg_policy_detect *cfg;
	struct ztg_counters *c = ctx->counters;

	if (det == NULL || d->route == ZTG_AUTHZ_NONE)
		return true;
	cfg = &p->services[d->service].routes[d->route].detect;
	if (!cfg->present)
		return true;
	ztg_detect_request(det, ctx->worker_index, cfg, msg, &ctx->target, r);
	c->signature_scans++;
	tally_rule_hits(ctx, r);
	if (r->block) {
		st->detect = r;
		c->signature_blocked++;
		return false;
	}
	/* A score below the threshold passes quietly (counted in signature_matches). */
	if (!r->report)
		return true;
	place_request(st, p, d, host);
	report_alert(st, r, "signature_alert");
	return true;
}

/* A request's route in a flow's ring: the ring keeps it until the response comes. */
static uint32_t route_entry(uint32_t service, uint32_t route)
{
	return (service + 1) << 16 | route;
}

static const struct ztg_policy_detect *entry_detect(const struct ztg_policy *p, uint32_t entry)
{
	return &p->services[(entry >> 16) - 1].routes[entry & 0xffff].detect;
}

static uint32_t entry_slot(const struct ztg_session_context *ctx, uint32_t entry)
{
	return ztg_authz_label_slot(ctx->authz, (entry >> 16) - 1, entry & 0xffff);
}

static void tally_response_blocked(struct ztg_session_context *ctx, uint32_t entry, const char *reason)
{
	if (ctx->tally != NULL)
		ztg_tally_add(ctx->tally, ztg_tally_tag(ZTG_TALLY_RESPONSE_BLOCKED, entry_slot(ctx, entry), 0), reason, 1);
}

/* Name where request `index` went, from its ring entry: for a body's or a response's event. */
static void place_by_entry(struct feed_state *st, uint32_t entry, uint32_t index)
{
	const struct ztg_policy *p = ztg_authz_policy(st->ctx->authz);
	const struct ztg_policy_service *svc = &p->services[(entry >> 16) - 1];

	st->request_index = index;
	st->segment = policy_name(p, st->flow->authz.segment, false);
	st->service = svc->name;
	st->route = svc->routes[entry & 0xffff].name;
}

/*
 * The request passes: remember its route for its response, and take a
 * stream for its body when its route scans it. false when the body cannot
 * be scanned (every stream of the worker held) and the route enforces.
 */
static bool follow_request(struct feed_state *st, const struct ztg_http_message *msg,
			   const struct ztg_authz_decision *d)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_detect *det = ztg_authz_detect(ctx->authz);
	const struct ztg_policy *p = ztg_authz_policy(ctx->authz);
	struct ztg_detect_flow *df = &st->flow->detect;
	uint32_t generation = ztg_authz_generation(ctx->authz);
	const struct ztg_policy_detect *cfg;

	if (det == NULL)
		return true;
	if (df->generation != generation) {
		/* Followed under an earlier policy: its streams and routes went with it. */
		memset(df, 0, sizeof(*df));
		df->generation = generation;
	}
	df->routes[msg->index % ZTG_DETECT_ROUTE_RING] = 0;
	if (d->route == ZTG_AUTHZ_NONE)
		return true;
	cfg = &p->services[d->service].routes[d->route].detect;
	if (!cfg->present)
		return true;
	df->routes[msg->index % ZTG_DETECT_ROUTE_RING] = route_entry(d->service, d->route);
	df->request_id = st->request_id;
	if (!msg->has_body || df->stream[ZTG_DETECT_REQUEST_BODY] != 0)
		return true;
	if (ztg_detect_body_open(det, ctx->worker_index, ZTG_DETECT_REQUEST_BODY, cfg, &ctx->detect_result,
				 &df->stream[ZTG_DETECT_REQUEST_BODY]) >= 0)
		return true;
	ctx->counters->signature_streams_exhausted++;
	return cfg->monitor;
}

/* follow_request opened a stream for this request's body: its verdict waits for that scan. */
static bool awaits_body_scan(const struct feed_state *st, const struct ztg_http_message *msg)
{
	const struct ztg_detect_flow *df = &st->flow->detect;

	return msg->has_body && df->stream[ZTG_DETECT_REQUEST_BODY] != 0 && df->request_id == st->request_id &&
	       df->generation == ztg_authz_generation(st->ctx->authz);
}

/*
 * What a body's matches, or a response head's, decide for message `index`:
 * go on (0), or stop the feed: a 403 for a request, resets for a response.
 */
static int judge_detection(struct feed_state *st, bool request, uint32_t index, const struct ztg_detect_result *r)
{
	struct ztg_counters *c = st->ctx->counters;
	uint32_t entry = st->flow->detect.routes[index % ZTG_DETECT_ROUTE_RING];

	if ((!r->block && !r->report) || entry == 0)
		return 0;
	place_by_entry(st, entry, index);
	if (request)
		st->request_id = st->flow->detect.request_id;
	if (!r->block) {
		report_alert(st, r, request ? "signature_alert" : "response_signature_alert");
		return 0;
	}
	st->policy = true;
	st->detect = r;
	if (request) {
		const char *reason = r->first_block != NULL ? "signature" : "anomaly_score";

		c->signature_blocked++;
		c->policy_denied++;
		tally_request(st->ctx, entry_slot(st->ctx, entry), ZTG_TALLY_DENY, reason);
		return stop_feed(st, true, ZTG_VERDICT_DENY, ZTG_DROP_POLICY_DENIED, reason);
	}
	c->signature_response_blocked++;
	tally_response_blocked(st->ctx, entry, r->first_block != NULL ? "response_signature" : "response_anomaly_score");
	return stop_feed(st, false, ZTG_VERDICT_RESET, ZTG_DROP_RESPONSE_BLOCKED,
			 r->first_block != NULL ? "response_signature" : "response_anomaly_score");
}

/*
 * Behaviour keys: a verified caller, a route (and a source address, at the
 * flow's start). Mixed with the process's secret seed, each kind with its
 * own tag so the three never meet in the shared table.
 */
static uint64_t identity_key(const struct ztg_session_context *ctx, const struct ztg_authn_result *a)
{
	return identity_hash(ctx->rate_seed ^ 0x4944, a);
}


static uint64_t route_key(const struct ztg_session_context *ctx, const struct ztg_authz_decision *d)
{
	return ztg_hash_fmix64(ctx->rate_seed ^ 0x5254 ^ ztg_authz_route_scope(ctx->authz, d->service, d->route));
}

/* The object a request touches: its route's parameter values and "*" tail, hashed; 0 when it names none. */
static uint64_t object_of(const struct ztg_session_context *ctx, const struct ztg_authz_decision *d)
{
	const struct ztg_route_match *m = &d->match;
	const uint8_t *path = ctx->target.path.ptr;
	uint64_t h = ZTG_HASH_FNV1A_SEED;

	if (d->route == ZTG_AUTHZ_NONE || (m->param_count == 0 && !m->has_tail))
		return 0;
	for (uint32_t i = 0; i < m->param_count; i++)
		h = ztg_hash_fnv1a(h ^ i, path + m->params[i].off, m->params[i].len);
	if (m->has_tail)
		h = ztg_hash_fnv1a(h ^ 0xff, path + m->tail_off, m->tail_len);
	return ztg_hash_fmix64(h) | 1;
}

/* Name where the watched request went, for a behaviour event about it (a response has no decision at hand). */
static void place_watched(struct feed_state *st)
{
	if (st->watched != NULL)
		place_request(st, ztg_authz_policy(st->ctx->authz), st->watched, st->watched_host);
}

/* Which signal a figure that crossed stands for: its absolute limit names one, a baseline is an anomaly. */
static enum ztg_policy_behaviour_signal signal_of(enum ztg_behaviour_figure f, bool by_limit)
{
	if (!by_limit)
		return ZTG_POLICY_SIGNAL_ANOMALY;
	switch (f) {
	case ZTG_BEHAVIOUR_AUTH_FAILURES:
		return ZTG_POLICY_SIGNAL_AUTH_FAILURES;
	case ZTG_BEHAVIOUR_SOURCES:
		return ZTG_POLICY_SIGNAL_TOKEN_SOURCES;
	default:
		return ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES;
	}
}

/*
 * The risk score crossed its threshold: quarantine the subject (in monitor
 * mode only say so). The request that crossed is the first one refused.
 * Returns whether the quarantine is in force.
 */
static bool quarantine_subject(struct feed_state *st, enum ztg_event_scope scope, const char *why)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_policy_behaviour *cfg = &ztg_authz_policy(ctx->authz)->behaviour;
	const struct ztg_flow_key *k = &st->flow->key;
	const struct ztg_authn_result *a = &ctx->auth_result;
	struct ztg_quarantine_entry e = {.origin = ZTG_QUARANTINE_AUTOMATIC, .since = ctx->now_unix};
	bool enforced = false;

	e.until = cfg->quarantine ? ctx->now_unix + cfg->quarantine : 0;
	snprintf(e.reason, sizeof(e.reason), "risk %.0f >= %g: %s", st->behaviour.risk, cfg->threshold, why);
	if (scope == ZTG_EVENT_SCOPE_IDENTITY) {
		e.kind = ZTG_QUARANTINE_IDENTITY;
		snprintf(e.issuer, sizeof(e.issuer), "%s", ztg_authn_result_issuer(a));
		snprintf(e.subject, sizeof(e.subject), "%.*s", (int)a->identity.subject_len, a->identity.subject);
	} else {
		e.kind = ZTG_QUARANTINE_SOURCE;
		e.ip_version = k->ip_version;
		e.prefix = k->ip_version == 4 ? 32 : 128;
		memcpy(e.addr, k->addr[st->flow->tcp.initiator], k->ip_version == 4 ? 4 : 16);
	}
	if (!cfg->monitor && ctx->quarantine != NULL && ztg_quarantine_add(ctx->quarantine, &e) >= 0) {
		ctx->counters->quarantines_automatic++;
		enforced = true;
	}
	st->behaviour.quarantine = cfg->quarantine;
	st->monitor = cfg->monitor;
	place_watched(st);
	push_event(ctx, &st->flow->key, st->flow->tcp.initiator, st, ZTG_EVENT_ACTION_QUARANTINE);
	return enforced;
}

/*
 * A sample into key's window; each figure it makes cross is logged and,
 * unless the key is a route, weighs on the key's risk. Returns whether
 * that quarantined the subject. A response does not carry its caller's
 * identity (responding): a crossing there is left pending on the flow, and
 * its next request quarantines.
 */
static bool observe(struct feed_state *st, uint64_t key, enum ztg_event_scope scope,
		    const struct ztg_behaviour_sample *s, bool responding)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_behaviour_params *p = ztg_authz_behaviour(ctx->authz);
	const struct ztg_policy_behaviour *cfg = &ztg_authz_policy(ctx->authz)->behaviour;
	struct ztg_behaviour_crossing x;
	bool held = false;

	if (!ztg_behaviour_observe(ctx->behaviour, key, p, st->now, s, &x))
		return false;
	for (unsigned int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
		bool by_limit = x.by_limit >> f & 1, crossed = false;
		enum ztg_policy_behaviour_signal signal = signal_of(f, by_limit);
		char why[64];

		if (!(x.figures >> f & 1))
			continue;
		if (by_limit)
			ctx->counters->behaviour_signals++;
		else
			ctx->counters->behaviour_anomalies++;
		st->behaviour = (struct ztg_event_behaviour){
			.scope = (uint8_t)scope,
			.figure = (uint8_t)f,
			.by_limit = by_limit,
			.window = cfg->window,
			.current = x.current[f],
			.baseline = x.baseline[f],
			.factor = p->factor,
			.bound = by_limit ? p->limit[f] : p->floor[f],
			.threshold = cfg->threshold,
		};
		if (scope != ZTG_EVENT_SCOPE_ROUTE)
			st->behaviour.risk = ztg_behaviour_risk_add(ctx->behaviour, key, p, st->now, cfg->weights[signal],
								    cfg->threshold, &crossed);
		st->reason = by_limit ? ztg_policy_behaviour_signal_name(signal) : "anomaly";
		st->monitor = cfg->monitor;
		place_watched(st);
		push_event(ctx, &st->flow->key, st->flow->tcp.initiator, st, ZTG_EVENT_ACTION_ALERT);
		/* "auth_failures" names its figure already; an anomaly says which figure. */
		snprintf(why, sizeof(why), by_limit ? "%s" : "anomaly %s",
			 by_limit ? st->reason : ztg_behaviour_figure_name(f));
		if (crossed && responding && scope == ZTG_EVENT_SCOPE_IDENTITY)
			st->flow->behaviour_pending = (uint8_t)(f + 1);
		else if (crossed)
			held |= quarantine_subject(st, scope, why);
	}
	st->behaviour = (struct ztg_event_behaviour){0};
	st->monitor = false;
	return held;
}

/* The quarantine a response's figures earned the flow's caller, now that its request names who it is. */
static bool quarantine_pending(struct feed_state *st, uint64_t caller)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_behaviour_params *p = ztg_authz_behaviour(ctx->authz);
	const struct ztg_policy_behaviour *cfg = &ztg_authz_policy(ctx->authz)->behaviour;
	enum ztg_behaviour_figure figure = (enum ztg_behaviour_figure)(st->flow->behaviour_pending - 1);
	char why[64];
	bool held;

	st->behaviour = (struct ztg_event_behaviour){
		.scope = ZTG_EVENT_SCOPE_IDENTITY,
		.figure = (uint8_t)figure,
		.window = cfg->window,
		.factor = p->factor,
		.risk = ztg_behaviour_risk(ctx->behaviour, caller, p, st->now),
		.threshold = cfg->threshold,
	};
	snprintf(why, sizeof(why), "anomaly %s in its responses", ztg_behaviour_figure_name(figure));
	held = quarantine_subject(st, ZTG_EVENT_SCOPE_IDENTITY, why);
	st->behaviour = (struct ztg_event_behaviour){0};
	st->monitor = false;
	return held;
}

/*
 * Behaviour: the request into its caller's window (the verified identity,
 * else the source address), its source's (which identities it presents,
 * how many credentials fail) and its route's. Returns whether the caller or
 * its source was quarantined by it. st is placed (events name the route).
 */
static bool watch_request(struct feed_state *st, const struct ztg_authz_decision *d, struct ztg_http_slice host,
			  bool identified, bool auth_failed)
{
	struct ztg_session_context *ctx = st->ctx;
	struct ztg_flow *flow = st->flow;
	uint64_t source = flow->behaviour_source;
	struct ztg_behaviour_sample s = {.requests = 1, .object = object_of(ctx, d)};
	const struct ztg_authn_result *auth = st->auth;
	bool held = false;

	st->policy = true;
	st->watched = d;
	st->watched_host = host;
	st->auth = identified || auth_failed ? &ctx->auth_result : NULL;
	if (identified) {
		uint64_t caller = identity_key(ctx, &ctx->auth_result);

		s.source = source;
		if (flow->behaviour_pending && flow->behaviour_caller == caller)
			held = quarantine_pending(st, caller);
		held |= observe(st, caller, ZTG_EVENT_SCOPE_IDENTITY, &s, false);
		held |= observe(st, source, ZTG_EVENT_SCOPE_SOURCE, &(struct ztg_behaviour_sample){.identity = caller},
				false);
		flow->behaviour_caller = caller;
		flow->behaviour_scope = ZTG_EVENT_SCOPE_IDENTITY;
	} else {
		s.auth_failures = auth_failed;
		held = observe(st, source, ZTG_EVENT_SCOPE_SOURCE, &s, false);
		flow->behaviour_caller = source;
		flow->behaviour_scope = ZTG_EVENT_SCOPE_SOURCE;
	}
	flow->behaviour_pending = 0;
	flow->behaviour_route = 0;
	if (d->route != ZTG_AUTHZ_NONE) {
		flow->behaviour_route = route_key(ctx, d);
		(void)observe(st, flow->behaviour_route, ZTG_EVENT_SCOPE_ROUTE,
			      &(struct ztg_behaviour_sample){.requests = 1, .object = s.object}, false);
	}
	st->auth = auth;
	st->policy = false;
	st->watched = NULL;
	return held;
}

/* A response's share of its request's behaviour: error statuses now, bytes at its end. */
static void watch_response(struct feed_state *st, uint16_t status, uint64_t bytes)
{
	struct ztg_flow *flow = st->flow;
	struct ztg_behaviour_sample s = {.errors = status == 401 || status == 403 || status == 404 || status >= 500,
					 .bytes = bytes};

	if (flow->behaviour_caller == 0 || st->ctx->behaviour == NULL || st->ctx->authz == NULL ||
	    ztg_authz_behaviour(st->ctx->authz) == NULL || (s.errors == 0 && s.bytes == 0))
		return;
	(void)observe(st, flow->behaviour_caller, (enum ztg_event_scope)flow->behaviour_scope, &s, true);
	if (flow->behaviour_route != 0)
		(void)observe(st, flow->behaviour_route, ZTG_EVENT_SCOPE_ROUTE, &s, true);
}

/* Whether the quarantine holds this request's source; st->quarantine says so. */
static bool source_quarantined(struct feed_state *st)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_flow_key *k = &st->flow->key;
	const uint8_t *client = k->addr[st->flow->tcp.initiator];

	if (ctx->quarantine == NULL || likely(!ztg_quarantine_any(ctx->quarantine)) ||
	    !ztg_quarantine_source_held(ctx->quarantine, k->ip_version, client, ctx->now_unix))
		return false;
	st->quarantine = "source";
	return true;
}

/* Whether the quarantine holds the identity authenticate verified; st->quarantine says so. */
static bool identity_quarantined(struct feed_state *st)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_authn_result *a = &ctx->auth_result;

	if (ctx->quarantine == NULL || likely(!ztg_quarantine_any(ctx->quarantine)) ||
	    !ztg_quarantine_identity_held(ctx->quarantine, ztg_authn_result_issuer(a),
					  (const uint8_t *)a->identity.subject, a->identity.subject_len, ctx->now_unix))
		return false;
	st->quarantine = "identity";
	return true;
}

/* A response head: the fields of its request's route, and a stream for its body. */
static int on_response_headers(struct feed_state *st, const struct ztg_http_message *msg)
{
	struct ztg_session_context *ctx = st->ctx;
	struct ztg_detect_flow *df = &st->flow->detect;
	struct ztg_detect_result *r = &ctx->detect_result;
	const struct ztg_policy_detect *cfg;
	const struct ztg_detect *det;
	uint32_t entry;
	int rc;

	ctx->counters->http_responses++;
	st->flow->response_bytes = 0;
	watch_response(st, msg->status, 0);
	if (!detect_state_current(ctx, st->flow))
		return 0;
	entry = df->routes[msg->index % ZTG_DETECT_ROUTE_RING];
	if (entry == 0)
		return 0;
	det = ztg_authz_detect(ctx->authz);
	cfg = entry_detect(ztg_authz_policy(ctx->authz), entry);
	ztg_detect_response(det, ctx->worker_index, cfg, msg, r);
	ctx->counters->signature_scans++;
	tally_rule_hits(ctx, r);
	rc = judge_detection(st, false, msg->index, r);
	if (rc != 0 || !msg->has_body || df->stream[ZTG_DETECT_RESPONSE_BODY] != 0)
		return rc;
	if (ztg_detect_body_open(det, ctx->worker_index, ZTG_DETECT_RESPONSE_BODY, cfg, r,
				 &df->stream[ZTG_DETECT_RESPONSE_BODY]) >= 0)
		return 0;
	ctx->counters->signature_streams_exhausted++;
	if (cfg->monitor)
		return 0;
	place_by_entry(st, entry, msg->index);
	st->policy = true;
	tally_response_blocked(ctx, entry, "signature_streams_exhausted");
	return stop_feed(st, false, ZTG_VERDICT_RESET, ZTG_DROP_RESPONSE_BLOCKED, "signature_streams_exhausted");
}

/* The body block held until the end of this packet's bytes (feed_state.held) takes effect. */
static int stop_held(struct feed_state *st)
{
	st->held = false;
	return judge_detection(st, st->held_request, st->held_index, &st->ctx->detect_result);
}

/* A piece of a body, or its end: scanned when a stream follows that body. */
static int on_body(struct feed_state *st, const struct ztg_http_event *ev, bool end)
{
	struct ztg_session_context *ctx = st->ctx;
	enum ztg_detect_body b = ev->is_request ? ZTG_DETECT_REQUEST_BODY : ZTG_DETECT_RESPONSE_BODY;
	uint32_t *stream = &st->flow->detect.stream[b];
	struct ztg_detect_result *r = &ctx->detect_result;
	const struct ztg_detect *det;
	int rc;

	if (!ev->is_request) {
		if (!end)
			st->flow->response_bytes += ev->body.len;
		else if (st->flow->response_bytes != 0)
			watch_response(st, 0, st->flow->response_bytes);
	}
	if (*stream == 0 || !detect_state_current(ctx, st->flow))
		return 0;
	det = ztg_authz_detect(ctx->authz);
	if (end) {
		ztg_detect_body_close(det, ctx->worker_index, b, *stream, r);
		*stream = 0;
	} else {
		ctx->counters->signature_body_bytes +=
			ztg_detect_body_scan(det, ctx->worker_index, b, *stream, ev->body.ptr, ev->body.len, r);
		if (r->depth_reached) {
			ctx->counters->signature_depth_reached++;
			*stream = 0;
		}
	}
	tally_rule_hits(ctx, r);
	if (!end && r->block && *stream != 0) {
		st->held = true;
		st->held_request = ev->is_request;
		st->held_index = ev->index;
		return 0;
	}
	rc = judge_detection(st, ev->is_request, ev->index, r);
	/* The request authorize_request left uncounted: its scan is over and let it pass. */
	if (rc == 0 && ev->is_request && *stream == 0) {
		uint32_t entry = st->flow->detect.routes[ev->index % ZTG_DETECT_ROUTE_RING];

		if (entry != 0)
			tally_request(ctx, entry_slot(ctx, entry), ZTG_TALLY_ALLOW,
				      ztg_authz_reason_name(ZTG_AUTHZ_ALLOWED));
	}
	return rc;
}

/*
 * The bucket of this request under limit l: the limit's scope and what it
 * counts by, mixed with the process's secret seed. Callers without the
 * identity or API key a limit counts by are counted by their address.
 */
static uint64_t rate_key(const struct feed_state *st, const struct ztg_authz_rate_limit *l)
{
	const struct ztg_authn_result *a = &st->ctx->auth_result;
	const struct ztg_flow_key *k = &st->flow->key;
	const uint8_t *addr = k->addr[st->flow->tcp.initiator];
	uint64_t h = st->ctx->rate_seed ^ l->scope;
	uint8_t masked[16] = {0};
	unsigned int bits, len = k->ip_version == 4 ? 4 : 16;

	switch (l->config->key) {
	case ZTG_POLICY_RATE_ROUTE:
		return ztg_hash_fmix64(h);
	case ZTG_POLICY_RATE_IDENTITY:
		if (a->identified)
			return identity_hash(h, a);
		break;
	case ZTG_POLICY_RATE_API_KEY:
		if (a->identified && a->identity.kind == ZTG_IDENTITY_API_KEY)
			return ztg_hash_fmix64(ztg_hash_fnv1a(h, a->identity.kid, a->identity.kid_len));
		break;
	default:
		break;
	}
	bits = l->config->key != ZTG_POLICY_RATE_SOURCE ? len * 8 :
	       k->ip_version == 4 ? l->config->prefix4 : l->config->prefix6;
	memcpy(masked, addr, bits / 8);
	if (bits % 8)
		masked[bits / 8] = addr[bits / 8] & (uint8_t)(0xff << (8 - bits % 8));
	return ztg_hash_fmix64(ztg_hash_fnv1a(h ^ len, masked, len));
}

/*
 * The route's rate limits, each for this request's key, in order. false when
 * one stops it: *action says how, st names the limit (and the 429's
 * Retry-After). Alerting and monitored limits leave an event and go on. A
 * limit passed before the one that stops counts the request, as the server
 * would have seen it had the later limit not been there.
 */
static bool check_rate_limits(struct feed_state *st, const struct ztg_authz_decision *d, struct ztg_http_slice host,
			      enum ztg_policy_action *action)
{
	struct ztg_session_context *ctx = st->ctx;
	uint32_t count;
	const struct ztg_authz_rate_limit *limits = ztg_authz_rate_limits(ctx->authz, d->service, d->route, &count);

	for (uint32_t i = 0; i < count && ctx->rates != NULL; i++) {
		const struct ztg_authz_rate_limit *l = &limits[i];
		uint64_t retry = 0, hz = rte_get_tsc_hz();

		if (ztg_rate_admit(ctx->rates, rate_key(st, l), &l->params, st->now, &retry))
			continue;
		ctx->counters->rate_limited++;
		st->rate_limit = l->config->name;
		st->retry_after = (uint32_t)RTE_MIN((retry + hz - 1) / hz, (uint64_t)UINT32_MAX);
		if (l->config->monitor || l->config->action == ZTG_POLICY_RATE_ACTION_ALERT) {
			st->policy = true;
			st->monitor = l->config->monitor;
			st->reason = "rate_limited";
			place_request(st, ztg_authz_policy(ctx->authz), d, host);
			st->auth = ctx->auth_result.identified ? &ctx->auth_result : NULL;
			push_event(ctx, &st->flow->key, st->flow->tcp.initiator, st,
				   l->config->monitor && l->config->action != ZTG_POLICY_RATE_ACTION_ALERT ?
					   (l->config->action == ZTG_POLICY_RATE_ACTION_RESET ? ZTG_EVENT_ACTION_RESET :
											       ZTG_EVENT_ACTION_DENY) :
					   ZTG_EVENT_ACTION_PASS);
			st->policy = st->monitor = false;
			st->auth = NULL;
			st->rate_limit = NULL;
			continue;
		}
		*action = l->config->action == ZTG_POLICY_RATE_ACTION_RESET ? ZTG_POLICY_ACTION_RESET :
									       ZTG_POLICY_ACTION_DENY;
		st->denial = ZTG_INJECT_TOO_MANY_REQUESTS;
		return false;
	}
	return true;
}

/*
 * --event-sample-allowed: whether this allowed request is logged. A hash of
 * its id picks it, so the sample is spread evenly over workers and flows and
 * costs no state.
 */
static bool allowed_sampled(const struct ztg_session_context *ctx, uint64_t request_id)
{
	uint64_t threshold = ctx->opts->event_sample_threshold;

	return threshold != 0 && ((request_id * 0x9e3779b97f4a7c15ull) >> 32) < threshold;
}

/* An "allow" event for a request that passes: where it went and who sent it, when a policy knows. */
static void log_allowed(struct feed_state *st, const struct ztg_policy *p, const struct ztg_authz_decision *d,
			struct ztg_http_slice host, const struct ztg_authn_result *auth)
{
	st->policy = p != NULL;
	st->reason = p != NULL ? ztg_authz_reason_name(ZTG_AUTHZ_ALLOWED) : "unprotected";
	if (p != NULL)
		place_request(st, p, d, host);
	st->auth = auth != NULL && (auth->identified || auth->kid[0] != '\0') ? auth : NULL;
	push_event(st->ctx, &st->flow->key, st->flow->tcp.initiator, st, ZTG_EVENT_ACTION_ALLOW);
	st->policy = false;
	st->auth = NULL;
}

/* Segment, service by Host, route: the policy's word on one request of a protected flow. */
static int authorize_request(struct feed_state *st, const struct ztg_http_message *msg)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_authz *authz = ctx->authz;
	const struct ztg_policy *p;
	const struct ztg_http_slice *path = &ctx->target.path;
	struct ztg_authz_decision d;
	struct ztg_http_host host = {0};
	uint32_t slot;
	uint8_t host_buf[ZTG_HTTP_HOST_BUF_LEN];

	/* A policy swapped out for none leaves protected flows unjudged, as new ones would be. */
	if (authz == NULL) {
		tally_request(ctx, ZTG_ROUTE_LABEL_NONE, ZTG_TALLY_ALLOW, "unprotected");
		if (unlikely(allowed_sampled(ctx, st->request_id)))
			log_allowed(st, NULL, NULL, (struct ztg_http_slice){0}, NULL);
		return 0;
	}
	st->auth = NULL;
	st->detect = NULL;
	st->streams_exhausted = false;
	p = ztg_authz_policy(authz);
	/* Placed by an earlier policy: its indexes mean nothing here, place the flow again. */
	if (unlikely(st->flow->authz.generation != ztg_authz_generation(authz))) {
		const struct ztg_flow_key *k = &st->flow->key;
		unsigned int client = st->flow->tcp.initiator;

		if (ztg_authz_classify_flow(authz, k->ip_version, k->addr[client], k->addr[client ^ 1],
					    k->port[client ^ 1], &st->flow->authz) == ZTG_AUTHZ_FLOW_UNPROTECTED)
			return 0;
	}
	/* An absolute-form target's authority overrides Host (RFC 9112 3.2.2): route on what the server will. */
	if (ztg_http_host_without_port(ctx->target.authority.len ? ctx->target.authority : msg->host, host_buf,
				       sizeof(host_buf), &host) != ZTG_HTTP_NORM_OK)
		host.name.len = 0;
	ztg_authz_request(authz, &st->flow->authz, (const char *)host.name.ptr, host.name.len, msg->method,
			  (const char *)path->ptr, path->len, &d);
	st->quarantine = NULL;
	if (source_quarantined(st)) {
		d.action = ZTG_POLICY_ACTION_DENY;
	} else {
		bool checked = d.action == ZTG_POLICY_ACTION_ALLOW;
		bool passed = !checked || authenticate(st, msg, &d);
		bool identified = checked && ctx->auth_result.identified;

		if (!passed)
			d.action = ZTG_POLICY_ACTION_DENY;
		if (identified && identity_quarantined(st)) {
			d.action = ZTG_POLICY_ACTION_DENY;
		} else if (ctx->behaviour != NULL && ztg_authz_behaviour(authz) != NULL) {
			if (watch_request(st, &d, host.name, identified,
					  !passed && ztg_authn_result_unauthenticated(&ctx->auth_result)) &&
			    d.action == ZTG_POLICY_ACTION_ALLOW) {
				st->quarantine = identified ? "identity" : "source";
				d.action = ZTG_POLICY_ACTION_DENY;
			}
		}
		if (st->quarantine != NULL) {
			st->auth = identified ? &ctx->auth_result : NULL;
			st->denial = ZTG_INJECT_FORBIDDEN;
		}
	}
	st->rate_limit = NULL;
	if (d.action == ZTG_POLICY_ACTION_ALLOW && !check_rate_limits(st, &d, host.name, &d.action))
		st->auth = ctx->auth_result.identified ? &ctx->auth_result : NULL;
	if (d.action == ZTG_POLICY_ACTION_ALLOW && !inspect_signatures(st, msg, &d, host.name))
		d.action = ZTG_POLICY_ACTION_DENY;
	if (d.action == ZTG_POLICY_ACTION_ALLOW && !follow_request(st, msg, &d)) {
		st->streams_exhausted = true;
		d.action = ZTG_POLICY_ACTION_DENY;
	}
	slot = ztg_authz_label_slot(authz, d.service, d.route);
	if (d.action == ZTG_POLICY_ACTION_ALLOW) {
		ctx->counters->policy_allowed++;
		/* A body being scanned may still stop it: counted when that scan ends. */
		if (!awaits_body_scan(st, msg))
			tally_request(ctx, slot, ZTG_TALLY_ALLOW, ztg_authz_reason_name(ZTG_AUTHZ_ALLOWED));
		if (unlikely(allowed_sampled(ctx, st->request_id)))
			log_allowed(st, p, &d, host.name, &ctx->auth_result);
		return 0;
	}
	st->policy = true;
	place_request(st, p, &d, host.name);
	if (st->quarantine != NULL)
		st->reason = "quarantined";
	else if (st->streams_exhausted)
		st->reason = "signature_streams_exhausted";
	else if (st->rate_limit != NULL)
		st->reason = "rate_limited";
	else if (st->auth != NULL)
		st->reason = ztg_authn_result_reason(st->auth);
	else if (st->detect != NULL)
		st->reason = st->detect->first_block != NULL ? "signature" : "anomaly_score";
	else
		st->reason = ztg_authz_reason_name(d.reason);
	if (d.mode == ZTG_POLICY_MODE_MONITOR) {
		tally_request(ctx, slot, ZTG_TALLY_MONITORED, st->reason);
		st->monitor = true;
		push_monitor_event(ctx, &st->flow->key, st->flow->tcp.initiator, st, d.action);
		st->monitor = false;
		st->policy = false;
		st->auth = NULL;
		st->detect = NULL;
		st->denial = ZTG_INJECT_FORBIDDEN;
		return 0;
	}
	ctx->counters->policy_denied++;
	if (st->quarantine != NULL)
		ctx->counters->quarantined++;
	tally_request(ctx, slot, tally_verdict_of(verdict_of(d.action)), st->reason);
	return stop_feed(st, true, verdict_of(d.action), ZTG_DROP_POLICY_DENIED, st->reason);
}

static int on_request_headers(struct feed_state *st, const struct ztg_http_message *msg)
{
	struct ztg_session_context *ctx = st->ctx;
	const struct ztg_options *o = ctx->opts;
	enum ztg_http_normalize_error norm;

	ctx->counters->http_requests++;
	st->flow->requests++;
	norm = describe_request(st, msg);
	if (norm != ZTG_HTTP_NORM_OK) {
		ctx->counters->http_violations++;
		tally_request(ctx, ZTG_ROUTE_LABEL_NONE, tally_verdict_of(o->http_violation),
			      ztg_http_normalize_error_name(norm));
		return stop_feed(st, true, o->http_violation, ZTG_DROP_HTTP_VIOLATION,
				 ztg_http_normalize_error_name(norm));
	}
	if (msg->upgrade != ZTG_HTTP_UPGRADE_NONE && !o->http_tunnel_pass) {
		tally_request(ctx, ZTG_ROUTE_LABEL_NONE, ZTG_TALLY_DENY, upgrade_reason(msg->upgrade));
		return stop_feed(st, true, ZTG_VERDICT_DENY, ZTG_DROP_HTTP_TUNNEL_DENIED, upgrade_reason(msg->upgrade));
	}
	if (st->flow->flags & ZTG_FLOW_F_PROTECTED)
		return authorize_request(st, msg);
	tally_request(ctx, ZTG_ROUTE_LABEL_NONE, ZTG_TALLY_ALLOW, "unprotected");
	if (unlikely(allowed_sampled(ctx, st->request_id)))
		log_allowed(st, NULL, NULL, (struct ztg_http_slice){0}, NULL);
	return 0;
}

static int on_http_event(void *arg, const struct ztg_http_event *ev)
{
	struct feed_state *st = arg;
	struct ztg_counters *c = st->ctx->counters;

	/* A held block lets only the rest of its own body by: more of it, and its end. */
	if (st->held && (ev->is_request != st->held_request ||
			 (ev->type != ZTG_HTTP_EV_BODY && ev->type != ZTG_HTTP_EV_COMPLETE)))
		return stop_held(st);
	switch (ev->type) {
	case ZTG_HTTP_EV_HEADERS:
		if (ev->is_request)
			return on_request_headers(st, ev->message);
		return on_response_headers(st, ev->message);
	case ZTG_HTTP_EV_TUNNEL:
		/* Reached only when tunnels may pass: the request was denied otherwise. */
		c->http_tunnels++;
		st->flow->flags |= ZTG_FLOW_F_TUNNEL;
		return 0;
	case ZTG_HTTP_EV_VIOLATION:
		c->http_violations++;
		if (ev->is_request && ev->message != NULL)
			(void)describe_request(st, ev->message);
		if (ev->violation == ZTG_HTTP_HTTP2_PRIOR_KNOWLEDGE) {
			if (st->ctx->opts->http_tunnel_pass) {
				c->http_tunnels++;
				st->flow->flags |= ZTG_FLOW_F_TUNNEL;
				return 0;
			}
			/* An HTTP/1.1 403 means nothing to an HTTP/2 client: reset instead. */
			tally_request(st->ctx, ZTG_ROUTE_LABEL_NONE, ZTG_TALLY_RESET, "http2_prior_knowledge");
			return stop_feed(st, true, ZTG_VERDICT_RESET, ZTG_DROP_HTTP_TUNNEL_DENIED,
					 "http2_prior_knowledge");
		}
		if (ev->is_request)
			tally_request(st->ctx, ZTG_ROUTE_LABEL_NONE, tally_verdict_of(st->ctx->opts->http_violation),
				      ztg_http_violation_name(ev->violation));
		/* A broken response cannot be answered with a 403: reset that connection. */
		return stop_feed(st, ev->is_request, ev->is_request ? st->ctx->opts->http_violation : ZTG_VERDICT_RESET,
				 ZTG_DROP_HTTP_VIOLATION, ztg_http_violation_name(ev->violation));
	case ZTG_HTTP_EV_BODY:
		return on_body(st, ev, false);
	case ZTG_HTTP_EV_COMPLETE:
		return on_body(st, ev, true);
	}
	return 0;
}

/* Keep a frame a builder wrote into the next slot; 0 bytes means it could not be built. */
static void add_frame(struct ztg_session_context *ctx, struct ztg_session_result *r, bool to_sender, uint16_t len)
{
	if (len == 0) {
		ctx->counters->inject_failed++;
		return;
	}
	r->frames[r->frame_count].to_sender = to_sender;
	r->frames[r->frame_count].len = len;
	r->frame_count++;
}

static uint8_t *next_frame(struct ztg_session_result *r)
{
	return r->frames[r->frame_count].data;
}

/*
 * Stop the flow at this packet, which is dropped: the receiver never sees
 * it, so it still expects pkt->tcp_seq; the sender has been told nothing
 * beyond pkt->tcp_ack. The sequence rules live in verdict/inject.h.
 */
static void stop_flow(struct ztg_session_context *ctx, struct ztg_flow *flow, unsigned int sender,
		      const uint8_t *frame, const struct ztg_packet *pkt, const struct feed_state *st,
		      struct ztg_session_result *r)
{
	const uint16_t cap = sizeof(r->frames[0].data);
	struct ztg_counters *c = ctx->counters;
	enum ztg_verdict verdict = st->verdict;
	struct ztg_event *e = &r->event;
	struct ztg_inject_seq seq;
	char id[32];

	/* A 403 only makes sense to a client about its own request. */
	if (verdict == ZTG_VERDICT_DENY && !st->request_side)
		verdict = ZTG_VERDICT_RESET;
	r->drop = st->drop;
	ztg_inject_seq_from_packet(pkt, &seq);
	/*
	 * The stream knows what the receiver really sent (data the sender has
	 * not acknowledged yet included); stacks accept a RST only at exactly
	 * that number (RFC 5961), so it beats the packet's ACK.
	 */
	seq.receiver_next = ztg_stream_next_seq(&flow->stream, sender ^ 1);
	seq.receiver_known = true;
	ztg_events_format_request_id(st->request_id, id, sizeof(id));
	switch (verdict) {
	case ZTG_VERDICT_DENY:
		add_frame(ctx, r, true, ztg_inject_deny(frame, pkt, &seq, st->denial, st->reason, id, st->retry_after,
							next_frame(r), cap));
		add_frame(ctx, r, false, ztg_inject_reset(frame, pkt, &seq, ZTG_INJECT_TO_RECEIVER, next_frame(r), cap));
		c->verdicts_deny++;
		break;
	case ZTG_VERDICT_RESET:
		add_frame(ctx, r, true, ztg_inject_reset(frame, pkt, &seq, ZTG_INJECT_TO_SENDER, next_frame(r), cap));
		add_frame(ctx, r, false, ztg_inject_reset(frame, pkt, &seq, ZTG_INJECT_TO_RECEIVER, next_frame(r), cap));
		c->verdicts_reset++;
		break;
	case ZTG_VERDICT_DROP:
		c->verdicts_drop++;
		break;
	}
	c->injected_packets += r->frame_count;

	fill_event(ctx, &flow->key, flow->tcp.initiator, st,
		   verdict == ZTG_VERDICT_DENY ? ZTG_EVENT_ACTION_DENY :
		   verdict == ZTG_VERDICT_RESET ? ZTG_EVENT_ACTION_RESET : ZTG_EVENT_ACTION_DROP, e);
	r->has_event = true;

	/*
	 * Closed in the tracker too: the slot then expires on the short closed
	 * timeout, and a new SYN on the same tuple reopens it as a new flow.
	 */
	flow->flags |= ZTG_FLOW_F_BLOCKED;
	flow->tcp.state = ZTG_TCP_STATE_CLOSED;
	ztg_session_release(ctx, flow);
}

static enum ztg_drop_reason stream_fate(struct ztg_counters *c, enum ztg_stream_result sr)
{
	switch (sr) {
	case ZTG_STREAM_BUFFERED:
		c->stream_buffered++;
		return ZTG_DROP_NONE;
	case ZTG_STREAM_DUPLICATE:
		c->stream_duplicates++;
		return ZTG_DROP_NONE;
	case ZTG_STREAM_UNVERIFIED:
		c->stream_unverified++;
		return ZTG_DROP_NONE;
	case ZTG_STREAM_PASS_DEPTH:
		c->stream_depth_passed++;
		return ZTG_DROP_NONE;
	case ZTG_STREAM_DROP_OOO:
		return ZTG_DROP_STREAM_OUT_OF_ORDER;
	case ZTG_STREAM_DROP_WINDOW:
		return ZTG_DROP_STREAM_OUT_OF_WINDOW;
	case ZTG_STREAM_DELIVER:
	case ZTG_STREAM_BLOCK_OVERLAP:
		break;
	}
	return ZTG_DROP_NONE;
}

void ztg_session_packet(struct ztg_session_context *ctx, struct ztg_flow *flow, unsigned int sender,
			const uint8_t *frame, const struct ztg_packet *pkt, unsigned int flags, uint64_t now_tsc,
			struct ztg_session_result *result)
{
	struct ztg_stream_delivery delivery;
	struct feed_state st = {.ctx = ctx, .flow = flow, .now = now_tsc};
	enum ztg_stream_result sr;
	bool from_client = sender == flow->tcp.initiator;

	result->drop = ZTG_DROP_NONE;
	result->frame_count = 0;
	result->has_event = false;
	if (unlikely(flow->flags & ZTG_FLOW_F_BLOCKED)) {
		/*
		 * Whoever still talks on a stopped connection (a client's FIN after
		 * our 403, a retransmission) is told it is gone, so its socket
		 * closes now instead of retrying for minutes. Never answer a RST.
		 */
		result->drop = ZTG_DROP_FLOW_BLOCKED;
		if (!(pkt->tcp_flags & ZTG_TCP_RST)) {
			struct ztg_inject_seq seq;

			ztg_inject_seq_from_packet(pkt, &seq);
			add_frame(ctx, result, true, ztg_inject_reset(frame, pkt, &seq, ZTG_INJECT_TO_SENDER,
								      next_frame(result), sizeof(result->frames[0].data)));
			ctx->counters->injected_packets += result->frame_count;
		}
		return;
	}
	if (!(flow->flags & ZTG_FLOW_F_HTTP) || (flow->flags & ZTG_FLOW_F_TUNNEL))
		return;
	if (pkt->payload_len && unlikely((flags & ZTG_SESSION_L4_CKSUM_BAD) ||
					 (!(flags & ZTG_SESSION_L4_CKSUM_GOOD) && !tcp_checksum_ok(frame, pkt)))) {
		result->drop = ZTG_DROP_TCP_BAD_CHECKSUM;
		return;
	}

	sr = ztg_stream_segment(&flow->stream, ctx->stream_pool, &ctx->opts->stream, sender, pkt->tcp_flags,
				pkt->tcp_seq, pkt->tcp_ack, pkt->tcp_window, frame + pkt->l4_offset + 20,
				(uint32_t)(pkt->payload_offset - pkt->l4_offset - 20), frame + pkt->payload_offset,
				pkt->payload_len, &delivery);
	if (sr == ZTG_STREAM_BLOCK_OVERLAP) {
		stop_feed(&st, from_client, ZTG_VERDICT_RESET, ZTG_DROP_STREAM_OVERLAP, "stream_overlap_conflict");
		stop_flow(ctx, flow, sender, frame, pkt, &st, result);
		return;
	}
	if (sr != ZTG_STREAM_DELIVER) {
		result->drop = stream_fate(ctx->counters, sr);
		return;
	}
	for (uint32_t i = 0; i < delivery.count && !st.stop; i++) {
		if (ztg_http_feed(&flow->http, from_client, delivery.pieces[i].data, delivery.pieces[i].len,
				  &ctx->opts->http_limits, ctx->http_pool, on_http_event, &st) == ZTG_HTTP_FEED_STOPPED)
			break;
		if (flow->flags & ZTG_FLOW_F_TUNNEL)
			break;
	}
	/* A response that runs until the server closes ends with the server's FIN, in order. */
	if (!st.stop && !from_client && delivery.fin)
		ztg_http_close(&flow->http, false, on_http_event, &st);
	if (st.held && !st.stop)
		stop_held(&st);
	if (st.stop) {
		if (st.request_id == 0)
			st.request_id = ctx->next_request_id++;
		stop_flow(ctx, flow, sender, frame, pkt, &st, result);
	}
}
