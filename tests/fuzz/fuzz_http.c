/*
 * Fuzz target for the HTTP/1.1 parser: one connection, both directions.
 *
 * Input layout (the first five bytes steer, the rest is traffic):
 *   [0..1]  little-endian: where the traffic splits into request bytes
 *           (client to server) and response bytes, modulo its length + 1
 *   [2]     where the request bytes are cut in two feeds (scaled to 0..255)
 *   [3]     the same for the response bytes
 *   [4]     mode bits:
 *             0x01  small limits (short lines, few headers, small heads)
 *             0x02  interleave: request part 1, response part 1, request
 *                   part 2, response part 2
 *             0x04  end with ztg_http_close() on the response side
 *             0x08  feed the request one byte at a time
 *             0x10  the callback stops the feed (returns non-zero) at event
 *                   number (byte [2] & 15) + 1; nothing is fed after that
 *             0x20  a pool of one buffer, so split heads may exhaust it
 *   [5..]   the traffic
 *
 * Checked:
 *  - no crash, no sanitizer report; every feed copies its piece into a heap
 *    block of exactly that size and frees it afterwards, so a parser that
 *    keeps a pointer into fed bytes past the feed is a use-after-free;
 *  - events are well formed: HEADERS carries a message of its direction
 *    within the limits (a VIOLATION may carry one: its slices are read
 *    too), BODY points into the bytes of the current feed, nothing follows
 *    a VIOLATION on its direction, feeds return 0 or ZTG_HTTP_FEED_STOPPED,
 *    or the callback's value exactly when it stopped;
 *  - split invariance (http_parser.h): without interleaving, stopping or a
 *    short pool, the events of the split feeds equal those of feeding each
 *    direction whole (BODY pieces merged, heads compared field by field, a
 *    violation's head by its start line);
 *  - the pool never lends more than one buffer per direction, and none is
 *    held after ztg_http_conn_release(), stopped midway or not.
 */
#include <stdbool.h>
#include <string.h>

#include "http/http_parser.h"

#include "fuzz_check.h"

#define HEADER_BYTES   5u
#define MODE_SMALL     0x01
#define MODE_INTERLEAVE 0x02
#define MODE_CLOSE     0x04
#define MODE_BYTEWISE  0x08
#define MODE_STOP      0x10
#define MODE_TIGHT     0x20
#define LOG_MAX        256
#define POOL_BUFFERS   2
#define STOP_VALUE     7

struct record {
	uint8_t type;
	bool is_request;
	uint8_t violation;
	uint8_t upgrade;
	uint32_t index;
	uint64_t digest;       /* message fields, or body bytes so far */
	uint64_t body_len;
};

struct run {
	const struct ztg_http_limits *limits;
	struct ztg_http_pool *pool;
	struct record log[LOG_MAX];
	uint32_t count;        /* records, may exceed LOG_MAX (only the first are kept) */
	bool violated[2];      /* by is_request */
	const uint8_t *feed;   /* the bytes of the feed in progress */
	uint32_t feed_len;
	uint32_t events;       /* every event, BODY pieces included */
	struct record last;    /* kind of the latest record, kept or not (type 0: none) */
	uint32_t stop_at;      /* event number whose callback stops the feed; 0: never */
	bool stopped;
};

/* FNV-1a: reading every byte of a slice also lets ASan check it. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t mix_slice(uint64_t h, struct ztg_http_slice s)
{
	FUZZ_CHECK(s.len == 0 || s.ptr != NULL);
	h = mix(h, &s.len, sizeof(s.len));
	return s.len ? mix(h, s.ptr, s.len) : h;
}

static uint64_t message_digest(const struct run *run, const struct ztg_http_message *m)
{
	const struct ztg_http_limits *l = run->limits;
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t flags[5] = { m->is_request, m->chunked, m->keep_alive, m->expect_continue,
			     m->has_body };

	FUZZ_CHECK(m->header_count <= ZTG_HTTP_MAX_HEADERS && m->header_count <= l->max_headers);
	FUZZ_CHECK(m->header_count == 0 || m->headers != NULL);
	FUZZ_CHECK(m->head_bytes <= l->max_head_bytes);
	FUZZ_CHECK(m->version_minor <= 1);
	FUZZ_CHECK(m->content_length >= -1);
	h = mix(h, flags, sizeof(flags));
	h = mix(h, &m->version_minor, 1);
	h = mix(h, &m->method, 1);
	h = mix(h, &m->upgrade, 1);
	h = mix(h, &m->status, sizeof(m->status));
	h = mix(h, &m->header_count, sizeof(m->header_count));
	h = mix(h, &m->content_length, sizeof(m->content_length));
	h = mix(h, &m->head_bytes, sizeof(m->head_bytes));
	h = mix(h, &m->index, sizeof(m->index));
	h = mix_slice(h, m->method_token);
	h = mix_slice(h, m->target);
	h = mix_slice(h, m->reason);
	h = mix_slice(h, m->host);
	for (uint32_t i = 0; i < m->header_count; i++) {
		h = mix_slice(h, m->headers[i].name);
		h = mix_slice(h, m->headers[i].value);
	}
	return h;
}

/*
 * The head a VIOLATION may carry: only its start line is certain, so only
 * that is compared; the fields (maybe partial) are read, not compared.
 */
static uint64_t violation_digest(const struct ztg_http_message *m)
{
	uint64_t h = 0x84222325cbf29ce4ull;
	uint16_t count = m->header_count;

	FUZZ_CHECK(count <= ZTG_HTTP_MAX_HEADERS);
	FUZZ_CHECK(count == 0 || m->headers != NULL);
	for (uint32_t i = 0; i < count; i++)
		(void)mix_slice(mix_slice(0, m->headers[i].name), m->headers[i].value);
	(void)mix_slice(0, m->host);
	h = mix(h, &m->is_request, sizeof(m->is_request));
	h = mix(h, &m->method, 1);
	h = mix(h, &m->status, sizeof(m->status));
	h = mix_slice(h, m->method_token);
	h = mix_slice(h, m->target);
	return mix_slice(h, m->reason);
}

static struct record *append(struct run *run)
{
	struct record *r = run->count < LOG_MAX ? &run->log[run->count] : NULL;

	run->count++;
	if (r)
		memset(r, 0, sizeof(*r));
	return r;
}

static int on_event(void *ctx, const struct ztg_http_event *ev)
{
	struct run *run = ctx;
	struct record *r;
	int rc = 0;

	FUZZ_CHECK(!run->stopped);
	FUZZ_CHECK(!run->violated[ev->is_request]);
	if (++run->events == run->stop_at) {
		run->stopped = true;
		rc = STOP_VALUE;
	}
	switch (ev->type) {
	case ZTG_HTTP_EV_HEADERS:
		FUZZ_CHECK(ev->message != NULL);
		FUZZ_CHECK(ev->message->is_request == ev->is_request);
		FUZZ_CHECK(ev->message->index == ev->index);
		break;
	case ZTG_HTTP_EV_BODY:
		if (ev->body.len == 0)
			return rc;
		/* Body pieces are never copied: they lie in the bytes being fed. */
		FUZZ_CHECK(ev->body.ptr >= run->feed);
		FUZZ_CHECK(ev->body.len <= run->feed_len);
		FUZZ_CHECK((size_t)(ev->body.ptr - run->feed) <= run->feed_len - ev->body.len);
		/* Consecutive pieces of one body are one record, however the feeds fell. */
		if (run->last.type == ZTG_HTTP_EV_BODY && run->last.is_request == ev->is_request &&
		    run->last.index == ev->index) {
			r = run->count <= LOG_MAX ? &run->log[run->count - 1] : &run->last;
			r->digest = mix(r->digest, ev->body.ptr, ev->body.len);
			r->body_len += ev->body.len;
			return rc;
		}
		break;
	case ZTG_HTTP_EV_COMPLETE:
	case ZTG_HTTP_EV_TUNNEL:
		break;
	case ZTG_HTTP_EV_VIOLATION:
		FUZZ_CHECK(ev->violation > ZTG_HTTP_NONE && ev->violation < ZTG_HTTP_VIOLATION_COUNT);
		FUZZ_CHECK(ztg_http_violation_name(ev->violation) != NULL);
		if (ev->message != NULL)
			FUZZ_CHECK(ev->message->is_request == ev->is_request);
		run->violated[ev->is_request] = true;
		break;
	default:
		FUZZ_CHECK(!"unknown event type");
	}

	/* Past LOG_MAX the record is filled in run->last only, and not compared. */
	r = append(run);
	if (r == NULL) {
		r = &run->last;
		memset(r, 0, sizeof(*r));
	}
	r->type = (uint8_t)ev->type;
	r->is_request = ev->is_request;
	r->index = ev->index;
	if (ev->type == ZTG_HTTP_EV_HEADERS) {
		r->digest = message_digest(run, ev->message);
	} else if (ev->type == ZTG_HTTP_EV_BODY) {
		r->digest = mix(0xcbf29ce484222325ull, ev->body.ptr, ev->body.len);
		r->body_len = ev->body.len;
	} else if (ev->type == ZTG_HTTP_EV_VIOLATION) {
		r->violation = (uint8_t)ev->violation;
		r->digest = ev->message ? violation_digest(ev->message) : 0;
	} else if (ev->type == ZTG_HTTP_EV_TUNNEL) {
		r->upgrade = ev->upgrade;
	}
	if (r != &run->last)
		run->last = *r;
	return rc;
}

/* One feed from its own exact-size heap copy, freed as soon as the feed returns. */
static void feed(struct run *run, struct ztg_http_conn *conn, bool is_request, const uint8_t *p,
		 uint32_t n)
{
	bool stopped_before = run->violated[is_request];
	uint8_t *copy;
	int rc;

	/* A stopped feed means a verdict: the caller feeds nothing more. */
	if (n == 0 || run->stopped)
		return;
	copy = malloc(n);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, p, n);
	run->feed = copy;
	run->feed_len = n;
	rc = ztg_http_feed(conn, is_request, copy, n, run->limits, run->pool, on_event, run);
	run->feed = NULL;
	run->feed_len = 0;
	free(copy);
	if (run->stopped)
		FUZZ_CHECK(rc == STOP_VALUE);
	else
		FUZZ_CHECK(rc == 0 || rc == ZTG_HTTP_FEED_STOPPED);
	if (stopped_before)
		FUZZ_CHECK(rc == ZTG_HTTP_FEED_STOPPED);
	FUZZ_CHECK(ztg_http_pool_in_use(run->pool) <= POOL_BUFFERS);
}

struct plan {
	const uint8_t *req, *resp;
	uint32_t req_len, resp_len;
	uint32_t req_cut, resp_cut;
	uint8_t mode;
};

static void run_plan(struct run *run, const struct plan *p, bool whole)
{
	struct ztg_http_conn conn;

	ztg_http_conn_init(&conn);
	if (whole) {
		feed(run, &conn, true, p->req, p->req_len);
		feed(run, &conn, false, p->resp, p->resp_len);
	} else if (p->mode & MODE_INTERLEAVE) {
		feed(run, &conn, true, p->req, p->req_cut);
		feed(run, &conn, false, p->resp, p->resp_cut);
		feed(run, &conn, true, p->req + p->req_cut, p->req_len - p->req_cut);
		feed(run, &conn, false, p->resp + p->resp_cut, p->resp_len - p->resp_cut);
	} else {
		if (p->mode & MODE_BYTEWISE) {
			for (uint32_t i = 0; i < p->req_len; i++)
				feed(run, &conn, true, p->req + i, 1);
		} else {
			feed(run, &conn, true, p->req, p->req_cut);
			feed(run, &conn, true, p->req + p->req_cut, p->req_len - p->req_cut);
		}
		feed(run, &conn, false, p->resp, p->resp_cut);
		feed(run, &conn, false, p->resp + p->resp_cut, p->resp_len - p->resp_cut);
	}
	if ((p->mode & MODE_CLOSE) && !run->stopped) {
		int rc = ztg_http_close(&conn, false, on_event, run);

		if (run->stopped)
			FUZZ_CHECK(rc == STOP_VALUE);
		else
			FUZZ_CHECK(rc == 0 || rc == ZTG_HTTP_FEED_STOPPED);
	}
	ztg_http_conn_release(&conn, run->pool);
	FUZZ_CHECK(ztg_http_pool_in_use(run->pool) == 0);
}

static void print_log(const char *name, const struct run *run)
{
	fprintf(stderr, "%s: %u events\n", name, run->count);
	for (uint32_t i = 0; i < run->count && i < LOG_MAX; i++) {
		const struct record *r = &run->log[i];

		fprintf(stderr, "  %s #%u type %u violation %s upgrade %u body %llu digest %016llx\n",
			r->is_request ? "req " : "resp", r->index, r->type,
			ztg_http_violation_name(r->violation), r->upgrade,
			(unsigned long long)r->body_len, (unsigned long long)r->digest);
	}
}

static bool same_log(const struct run *a, const struct run *b)
{
	if (a->count != b->count)
		return false;
	for (uint32_t i = 0; i < a->count && i < LOG_MAX; i++) {
		const struct record *x = &a->log[i], *y = &b->log[i];

		if (x->type != y->type || x->is_request != y->is_request ||
		    x->violation != y->violation || x->upgrade != y->upgrade ||
		    x->index != y->index || x->digest != y->digest || x->body_len != y->body_len)
			return false;
	}
	return true;
}

/* One pool per (limits, size) pair, made once: buffers must be max_head_bytes long. */
static struct ztg_http_pool *pool_for(const struct ztg_http_limits *limits, bool small, bool tight)
{
	static struct ztg_http_pool *pools[2][2];
	struct ztg_http_pool **slot = &pools[small][tight];

	if (*slot == NULL)
		*slot = ztg_http_pool_create(tight ? 1 : POOL_BUFFERS, limits->max_head_bytes);
	FUZZ_CHECK(*slot != NULL);
	return *slot;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Static: a few KiB of logs are no stack burden anywhere, and not per input. */
	static struct run split, whole;
	struct ztg_http_limits limits;
	struct plan p;
	uint32_t n, split_at;

	if (size < HEADER_BYTES || size > (1u << 20))
		return 0;
	n = (uint32_t)(size - HEADER_BYTES);
	split_at = (uint32_t)(data[0] | data[1] << 8) % (n + 1);
	p.mode = data[4];
	p.req = data + HEADER_BYTES;
	p.req_len = split_at;
	p.resp = p.req + split_at;
	p.resp_len = n - split_at;
	p.req_cut = (uint32_t)((uint64_t)p.req_len * data[2] / 255);
	p.resp_cut = (uint32_t)((uint64_t)p.resp_len * data[3] / 255);

	ztg_http_limits_default(&limits);
	if (p.mode & MODE_SMALL) {
		limits.max_start_line = 64;
		limits.max_header_line = 64;
		limits.max_headers = 8;
		limits.max_head_bytes = 256;
		limits.max_pipelined = 4;
	}

	memset(&split, 0, sizeof(split));
	split.limits = &limits;
	split.pool = pool_for(&limits, p.mode & MODE_SMALL, p.mode & MODE_TIGHT);
	if (p.mode & MODE_STOP)
		split.stop_at = (data[2] & 15u) + 1;
	run_plan(&split, &p, false);
	/* Only the same bytes in the same order with room to buffer must give the same events. */
	if (p.mode & (MODE_INTERLEAVE | MODE_STOP | MODE_TIGHT))
		return 0;

	memset(&whole, 0, sizeof(whole));
	whole.limits = &limits;
	whole.pool = split.pool;
	run_plan(&whole, &p, true);
	if (!same_log(&whole, &split)) {
		fprintf(stderr, "split feeds disagree with whole feeds (request %u bytes cut at %u%s,"
			" response %u cut at %u)\n", p.req_len, p.req_cut,
			(p.mode & MODE_BYTEWISE) ? " and bytewise" : "", p.resp_len, p.resp_cut);
		print_log("whole", &whole);
		print_log("split", &split);
		FUZZ_CHECK(!"split invariance");
	}
	return 0;
}
