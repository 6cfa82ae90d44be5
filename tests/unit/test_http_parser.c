/*
 * Unit tests for the HTTP/1.1 parser.
 *
 * Every exchange (request bytes, response bytes) goes through check(): it is
 * fed whole, then split in two at every byte boundary of each direction,
 * then byte by byte, and every run must write the same transcript: one line
 * per event with everything the event carries copied out (header fields
 * included), consecutive BODY pieces of one message merged, since only their
 * bytes are defined, not where they are cut. Each feed is a heap copy of
 * exactly its bytes, freed when the feed returns, so ASan catches any read
 * past a feed or any pointer kept after it; BODY pieces must lie inside the
 * feed in progress. After each run the pool must be empty once the
 * connection is released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_parser.h"

#define V(sym) ZTG_HTTP_##sym
#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------- transcript */

struct text {
	char *p;
	size_t len, cap;
};

static void text_reserve(struct text *t, size_t more)
{
	if (t->len + more + 1 <= t->cap)
		return;
	while (t->len + more + 1 > t->cap)
		t->cap = t->cap ? t->cap * 2 : 256;
	t->p = realloc(t->p, t->cap);
	assert_non_null(t->p);
}

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	text_reserve(t, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* Printable ASCII as is, the rest as \xHH, so transcripts print and compare. */
static void text_bytes(struct text *t, const uint8_t *p, size_t n)
{
	text_reserve(t, 4 * n);
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '\'')
			t->p[t->len++] = (char)p[i];
		else
			t->len += (size_t)sprintf(t->p + t->len, "\\x%02x", p[i]);
	}
	t->p[t->len] = '\0';
}

static void text_slice(struct text *t, struct ztg_http_slice s)
{
	assert_true(s.len == 0 || s.ptr != NULL);
	text_add(t, "'");
	text_bytes(t, s.ptr, s.len);
	text_add(t, "'");
}

static void text_free(struct text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

struct recorder {
	struct text out;
	struct text body;          /* the BODY run in progress */
	bool body_open;
	bool body_is_request;
	uint32_t body_index;
	const uint8_t *feed;       /* bytes of the feed in progress */
	uint32_t feed_len;
	bool feeding_request;
	bool stopped[2];           /* by is_request: a violation or a tunnel was reported */
	int stop_with;             /* returned for the event type in stop_on */
	int stop_on;
};

static const char *side(bool is_request)
{
	return is_request ? "req" : "resp";
}

static void flush_body(struct recorder *r)
{
	if (!r->body_open)
		return;
	text_add(&r->out, "%s B #%u '%s'\n", side(r->body_is_request), r->body_index, r->body.p ? r->body.p : "");
	r->body.len = 0;
	if (r->body.p)
		r->body.p[0] = '\0';
	r->body_open = false;
}

static void record_headers(struct recorder *r, const struct ztg_http_event *ev)
{
	const struct ztg_http_message *m = ev->message;
	struct text *t = &r->out;

	assert_non_null(m);
	assert_int_equal(m->is_request, ev->is_request);
	assert_int_equal(m->index, ev->index);
	assert_true(m->header_count <= ZTG_HTTP_MAX_HEADERS);
	assert_true(m->header_count == 0 || m->headers != NULL);
	text_add(t, "%s H #%u 1.%u", side(ev->is_request), m->index, m->version_minor);
	if (m->is_request) {
		text_add(t, " ");
		text_slice(t, m->method_token);
		text_add(t, "=%u ", m->method);
		text_slice(t, m->target);
		text_add(t, " host=");
		text_slice(t, m->host);
	} else {
		text_add(t, " %u ", m->status);
		text_slice(t, m->reason);
		text_add(t, " method=%u", m->method);
	}
	text_add(t, " up=%u cl=%lld chunked=%d ka=%d expect=%d body=%d head=%u fields=%u\n", m->upgrade,
		 (long long)m->content_length, m->chunked, m->keep_alive, m->expect_continue, m->has_body,
		 m->head_bytes, m->header_count);
	for (uint32_t i = 0; i < m->header_count; i++) {
		text_add(t, "  ");
		text_slice(t, m->headers[i].name);
		text_add(t, ": ");
		text_slice(t, m->headers[i].value);
		text_add(t, "\n");
	}
}

static int on_event(void *ctx, const struct ztg_http_event *ev)
{
	struct recorder *r = ctx;

	assert_int_equal(ev->is_request, r->feeding_request);
	/* Nothing follows a violation or a tunnel on its direction. */
	assert_false(r->stopped[ev->is_request]);
	if (ev->type == ZTG_HTTP_EV_BODY) {
		assert_true(ev->body.len > 0);
		assert_true(ev->body.ptr >= r->feed && ev->body.ptr + ev->body.len <= r->feed + r->feed_len);
		if (!(r->body_open && r->body_is_request == ev->is_request && r->body_index == ev->index)) {
			flush_body(r);
			r->body_open = true;
			r->body_is_request = ev->is_request;
			r->body_index = ev->index;
		}
		text_bytes(&r->body, ev->body.ptr, ev->body.len);
		return (int)ev->type == r->stop_on ? r->stop_with : 0;
	}
	flush_body(r);
	switch (ev->type) {
	case ZTG_HTTP_EV_HEADERS:
		record_headers(r, ev);
		break;
	case ZTG_HTTP_EV_COMPLETE:
		text_add(&r->out, "%s C #%u\n", side(ev->is_request), ev->index);
		break;
	case ZTG_HTTP_EV_TUNNEL:
		text_add(&r->out, "%s T #%u up=%u\n", side(ev->is_request), ev->index, ev->upgrade);
		r->stopped[0] = r->stopped[1] = true;
		break;
	case ZTG_HTTP_EV_VIOLATION:
		assert_true(ev->violation > V(NONE) && ev->violation < ZTG_HTTP_VIOLATION_COUNT);
		text_add(&r->out, "%s V #%u %s\n", side(ev->is_request), ev->index,
			 ztg_http_violation_name(ev->violation));
		r->stopped[ev->is_request] = true;
		break;
	default:
		fail_msg("unknown event type %d", ev->type);
	}
	return (int)ev->type == r->stop_on ? r->stop_with : 0;
}

static void recorder_free(struct recorder *r)
{
	text_free(&r->out);
	text_free(&r->body);
}

/* -------------------------------------------------------------- feeding */

struct exchange {
	const char *req;
	size_t req_len;
	const char *resp;
	size_t resp_len;
	bool close;        /* the server closes after its bytes */
};

static int feed(struct recorder *r, struct ztg_http_conn *conn, bool is_request, const char *p, size_t n,
		const struct ztg_http_limits *limits, struct ztg_http_pool *pool)
{
	bool stopped_before = r->stopped[is_request];
	uint8_t *copy;
	int rc;

	if (n == 0)
		return 0;
	copy = malloc(n);
	assert_non_null(copy);
	memcpy(copy, p, n);
	r->feed = copy;
	r->feed_len = (uint32_t)n;
	r->feeding_request = is_request;
	rc = ztg_http_feed(conn, is_request, copy, (uint32_t)n, limits, pool, on_event, r);
	r->feed = NULL;
	r->feed_len = 0;
	free(copy);
	if (r->stop_on == 0) {
		assert_true(rc == 0 || rc == ZTG_HTTP_FEED_STOPPED);
		/* A direction stops exactly when it reports why. */
		assert_int_equal(rc == ZTG_HTTP_FEED_STOPPED, r->stopped[is_request]);
	}
	if (stopped_before)
		assert_int_equal(rc, ZTG_HTTP_FEED_STOPPED);
	return rc;
}

/* One direction cut after `cut` bytes (0: whole), or byte by byte. */
static void feed_side(struct recorder *r, struct ztg_http_conn *conn, bool is_request, const char *p, size_t n,
		      size_t cut, bool bytewise, const struct ztg_http_limits *limits, struct ztg_http_pool *pool)
{
	if (bytewise) {
		for (size_t i = 0; i < n; i++)
			feed(r, conn, is_request, p + i, 1, limits, pool);
	} else if (cut == 0) {
		feed(r, conn, is_request, p, n, limits, pool);
	} else {
		feed(r, conn, is_request, p, cut, limits, pool);
		feed(r, conn, is_request, p + cut, n - cut, limits, pool);
	}
}

static char *run_once(const struct exchange *x, const struct ztg_http_limits *limits, struct ztg_http_pool *pool,
		      size_t req_cut, size_t resp_cut, bool bytewise)
{
	struct recorder r = { 0 };
	struct ztg_http_conn conn;
	char *out;

	ztg_http_conn_init(&conn);
	feed_side(&r, &conn, true, x->req, x->req_len, req_cut, bytewise, limits, pool);
	feed_side(&r, &conn, false, x->resp, x->resp_len, resp_cut, bytewise, limits, pool);
	if (x->close) {
		int rc;

		r.feeding_request = false;
		rc = ztg_http_close(&conn, false, on_event, &r);
		assert_true(rc == 0 || rc == ZTG_HTTP_FEED_STOPPED);
	}
	flush_body(&r);
	/* At most one head in progress per direction holds a buffer. */
	assert_true(ztg_http_pool_in_use(pool) <= 2);
	ztg_http_conn_release(&conn, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	text_add(&r.out, "");
	out = r.out.p;
	r.out.p = NULL;
	recorder_free(&r);
	return out;
}

static void same_transcript(const char *want, const char *got, const char *how, size_t at)
{
	if (strcmp(want, got) != 0) {
		/* In full: cmocka cuts long messages. */
		fprintf(stderr, "transcript differs (%s %zu)\n--- want:\n%s--- got:\n%s", how, at, want, got);
		fail();
	}
}

/*
 * Feed the exchange whole, split at every byte boundary of each direction,
 * and byte by byte; all transcripts must agree (and equal `want` if given).
 * Returns the transcript, to be freed.
 */
static char *check_with(const struct exchange *x, const struct ztg_http_limits *limits, const char *want)
{
	struct ztg_http_limits def;
	struct ztg_http_pool *pool;
	char *whole, *other;

	if (limits == NULL) {
		ztg_http_limits_default(&def);
		limits = &def;
	}
	pool = ztg_http_pool_create(4, limits->max_head_bytes);
	assert_non_null(pool);
	whole = run_once(x, limits, pool, 0, 0, false);
	if (want != NULL)
		same_transcript(want, whole, "whole", 0);
	for (size_t k = 1; k < x->req_len; k++) {
		other = run_once(x, limits, pool, k, 0, false);
		same_transcript(whole, other, "request cut at", k);
		free(other);
	}
	for (size_t k = 1; k < x->resp_len; k++) {
		other = run_once(x, limits, pool, 0, k, false);
		same_transcript(whole, other, "response cut at", k);
		free(other);
	}
	other = run_once(x, limits, pool, 0, 0, true);
	same_transcript(whole, other, "byte by byte", 0);
	free(other);
	ztg_http_pool_free(pool);
	return whole;
}

static void check(const char *req, size_t req_len, const char *resp, size_t resp_len, const char *want)
{
	struct exchange x = { req, req_len, resp, resp_len, false };

	free(check_with(&x, NULL, want));
}

/* The transcript's only violation is `name`, on the given side. */
static void assert_violation(const char *transcript, bool is_request, enum ztg_http_violation v)
{
	char want[128];
	const char *line = NULL, *p = transcript;
	int count = 0;

	while ((p = strstr(p, " V #")) != NULL) {
		const char *start = p;

		while (start > transcript && start[-1] != '\n')
			start--;
		line = start;
		count++;
		p += 4;
	}
	if (count != 1)
		fail_msg("want exactly one violation (%s), got %d in:\n%s", ztg_http_violation_name(v), count,
			 transcript);
	snprintf(want, sizeof(want), "%s V #", side(is_request));
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("want a %s violation, got:\n%s", side(is_request), transcript);
	p = strchr(line + strlen(want), ' ');
	assert_non_null(p);
	snprintf(want, sizeof(want), " %s\n", ztg_http_violation_name(v));
	if (strncmp(p, want, strlen(want)) != 0)
		fail_msg("want %s, got:\n%s", ztg_http_violation_name(v), transcript);
}

static void check_violation_with(const char *req, size_t req_len, const char *resp, size_t resp_len,
				 const struct ztg_http_limits *limits, bool is_request, enum ztg_http_violation v)
{
	struct exchange x = { req, req_len, resp, resp_len, false };
	char *t = check_with(&x, limits, NULL);

	assert_violation(t, is_request, v);
	free(t);
}

static void check_clean_with(const char *req, size_t req_len, const char *resp, size_t resp_len,
			     const struct ztg_http_limits *limits)
{
	struct exchange x = { req, req_len, resp, resp_len, false };
	char *t = check_with(&x, limits, NULL);

	if (strstr(t, " V #") != NULL)
		fail_msg("unexpected violation:\n%s", t);
	free(t);
}

#define REQ_VIOLATION(req, v) check_violation_with(S(req), "", 0, NULL, true, V(v))

/* ------------------------------------------------------------ features */

static void test_simple_get(void **state)
{
	(void)state;
	check(S("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1.0\r\nAccept:  */* \t\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"),
	      "req H #0 1.1 'GET'=1 '/index.html?q=1' host='example.com' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=86 fields=3\n"
	      "  'Host': 'example.com'\n"
	      "  'User-Agent': 't/1.0'\n"
	      "  'Accept': '*/*'\n"
	      "req C #0\n"
	      "resp H #0 1.1 200 'OK' method=1 up=0 cl=5 chunked=0 ka=1 expect=0 body=1 head=64 fields=2\n"
	      "  'Content-Length': '5'\n"
	      "  'Content-Type': 'text/plain'\n"
	      "resp B #0 'hello'\n"
	      "resp C #0\n");
}

static void test_post_content_length(void **state)
{
	(void)state;
	check(S("POST /api/items HTTP/1.1\r\nHost: api.example.com:8443\r\nContent-Type: application/json\r\n"
		"Content-Length: 27\r\n\r\n{\"name\":\"widget\",\"qty\":10}\n"),
	      S("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
	      "req H #0 1.1 'POST'=3 '/api/items' host='api.example.com:8443' up=0 cl=27 chunked=0 ka=1 expect=0 body=1 head=108 fields=3\n"
	      "  'Host': 'api.example.com:8443'\n"
	      "  'Content-Type': 'application/json'\n"
	      "  'Content-Length': '27'\n"
	      "req B #0 '{\"name\":\"widget\",\"qty\":10}\\x0a'\n"
	      "req C #0\n"
	      "resp H #0 1.1 201 'Created' method=3 up=0 cl=0 chunked=0 ka=1 expect=0 body=0 head=43 fields=1\n"
	      "  'Content-Length': '0'\n"
	      "resp C #0\n");
}

static void test_chunked_extensions_trailers(void **state)
{
	(void)state;
	check(S("POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5;name=value;flag\r\nhello\r\n"
		"0006;q=\"a \\\"quoted\\\" ;=\"\r\n world\r\n"
		"A\r\n0123456789\r\n"
		"0;last\r\nX-Checksum: abc\r\nX-Other:\t1 \r\n\r\n"
		"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		"HTTP/1.1 204 No Content\r\n\r\n"),
	      "req H #0 1.1 'POST'=3 '/upload' host='h' up=0 cl=-1 chunked=1 ka=1 expect=0 body=1 head=62 fields=2\n"
	      "  'Host': 'h'\n"
	      "  'Transfer-Encoding': 'chunked'\n"
	      "req B #0 'hello world0123456789'\n"
	      "req C #0\n"
	      "req H #1 1.1 'GET'=1 '/next' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=31 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #1\n"
	      "resp H #0 1.1 200 'OK' method=3 up=0 cl=-1 chunked=1 ka=1 expect=0 body=1 head=53 fields=1\n"
	      "  'Transfer-Encoding': 'gzip, chunked'\n"
	      "resp B #0 'abc'\n"
	      "resp C #0\n"
	      "resp H #1 1.1 204 'No Content' method=1 up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=27 fields=0\n"
	      "resp C #1\n");
}

static void test_pipelined(void **state)
{
	(void)state;
	check(S("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
		"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
		"\r\n"   /* a stray CRLF after a body, as old clients send: ignored */
		"HEAD /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nBB"
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"),
	      "req H #0 1.1 'GET'=1 '/a' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=28 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #0\n"
	      "req H #1 1.1 'POST'=3 '/b' host='h' up=0 cl=3 chunked=0 ka=1 expect=0 body=1 head=48 fields=2\n"
	      "  'Host': 'h'\n"
	      "  'Content-Length': '3'\n"
	      "req B #1 'xyz'\n"
	      "req C #1\n"
	      "req H #2 1.1 'HEAD'=2 '/c' host='h' up=0 cl=-1 chunked=0 ka=0 expect=0 body=0 head=48 fields=2\n"
	      "  'Host': 'h'\n"
	      "  'Connection': 'close'\n"
	      "req C #2\n"
	      "resp H #0 1.1 200 'OK' method=1 up=0 cl=1 chunked=0 ka=1 expect=0 body=1 head=38 fields=1\n"
	      "  'Content-Length': '1'\n"
	      "resp B #0 'A'\n"
	      "resp C #0\n"
	      "resp H #1 1.1 200 'OK' method=3 up=0 cl=2 chunked=0 ka=1 expect=0 body=1 head=38 fields=1\n"
	      "  'Content-Length': '2'\n"
	      "resp B #1 'BB'\n"
	      "resp C #1\n"
	      "resp H #2 1.1 200 'OK' method=2 up=0 cl=100 chunked=0 ka=0 expect=0 body=0 head=59 fields=2\n"
	      "  'Content-Length': '100'\n"
	      "  'Connection': 'close'\n"
	      "resp C #2\n");
}

/* 100 Continue and 103 Early Hints do not answer the request; 204 and 304 have no body. */
static void test_interim_and_bodyless_responses(void **state)
{
	(void)state;
	check(S("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
		"GET /g HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\n"
		"DELETE /f HTTP/1.1\r\nHost: h\r\n\r\n"),
	      S("HTTP/1.1 100 Continue\r\n\r\n"
		"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n"),
	      "req H #0 1.1 'PUT'=4 '/f' host='h' up=0 cl=2 chunked=0 ka=1 expect=1 body=1 head=69 fields=3\n"
	      "  'Host': 'h'\n"
	      "  'Expect': '100-continue'\n"
	      "  'Content-Length': '2'\n"
	      "req B #0 'ok'\n"
	      "req C #0\n"
	      "req H #1 1.1 'GET'=1 '/g' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=48 fields=2\n"
	      "  'Host': 'h'\n"
	      "  'If-None-Match': '\"x\"'\n"
	      "req C #1\n"
	      "req H #2 1.1 'DELETE'=5 '/f' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=31 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #2\n"
	      "resp H #0 1.1 100 'Continue' method=4 up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=25 fields=0\n"
	      "resp C #0\n"
	      "resp H #0 1.1 103 'Early Hints' method=4 up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=57 fields=1\n"
	      "  'Link': '</s.css>; rel=preload'\n"
	      "resp C #0\n"
	      "resp H #0 1.1 200 'OK' method=4 up=0 cl=1 chunked=0 ka=1 expect=0 body=1 head=38 fields=1\n"
	      "  'Content-Length': '1'\n"
	      "resp B #0 '!'\n"
	      "resp C #0\n"
	      "resp V #1 http_content_length_and_transfer_encoding\n");
	check(S("GET /g HTTP/1.1\r\nHost: h\r\n\r\nDELETE /f HTTP/1.1\r\nHost: h\r\n\r\n"),
	      S("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
	      "req H #0 1.1 'GET'=1 '/g' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=28 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #0\n"
	      "req H #1 1.1 'DELETE'=5 '/f' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=31 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #1\n"
	      "resp H #0 1.1 304 'Not Modified' method=1 up=0 cl=50 chunked=0 ka=1 expect=0 body=0 head=49 fields=1\n"
	      "  'Content-Length': '50'\n"
	      "resp C #0\n"
	      "resp H #1 1.1 204 'No Content' method=5 up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=27 fields=0\n"
	      "resp C #1\n");
}

static void test_head_response(void **state)
{
	(void)state;
	check(S("HEAD /big HTTP/1.1\r\nHost: h\r\n\r\nGET /small HTTP/1.1\r\nHost: h\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\nContent-Length: 123456\r\n\r\n"
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"),
	      "req H #0 1.1 'HEAD'=2 '/big' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=31 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #0\n"
	      "req H #1 1.1 'GET'=1 '/small' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=32 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #1\n"
	      "resp H #0 1.1 200 'OK' method=2 up=0 cl=123456 chunked=0 ka=1 expect=0 body=0 head=43 fields=1\n"
	      "  'Content-Length': '123456'\n"
	      "resp C #0\n"
	      "resp H #1 1.1 200 'OK' method=1 up=0 cl=-1 chunked=1 ka=1 expect=0 body=1 head=47 fields=1\n"
	      "  'Transfer-Encoding': 'chunked'\n"
	      "resp B #1 'z'\n"
	      "resp C #1\n");
}

/* After 101 both directions carry WebSocket frames: nothing more is parsed, in either direction. */
static void test_upgrade_websocket_tunnel(void **state)
{
	(void)state;
	check(S("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
	      S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello\x00\r\n\r\n garbage"),
	      "req H #0 1.1 'GET'=1 '/chat' host='h' up=1 cl=-1 chunked=0 ka=1 expect=0 body=0 head=144 fields=5\n"
	      "  'Host': 'h'\n"
	      "  'Upgrade': 'websocket'\n"
	      "  'Connection': 'Upgrade'\n"
	      "  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ=='\n"
	      "  'Sec-WebSocket-Version': '13'\n"
	      "req C #0\n"
	      "resp H #0 1.1 101 'Switching Protocols' method=1 up=1 cl=-1 chunked=0 ka=1 expect=0 body=0 head=129 fields=3\n"
	      "  'Upgrade': 'websocket'\n"
	      "  'Connection': 'Upgrade'\n"
	      "  'Sec-WebSocket-Accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='\n"
	      "resp C #0\n"
	      "resp T #0 up=1\n");

	/* h2c, and a 101 to a request that asked for nothing is only an interim response. */
	check(S("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
	      S("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04"),
	      NULL);
	check(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	      S("HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	      "req H #0 1.1 'GET'=1 '/' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=27 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #0\n"
	      "resp H #0 1.1 101 'Switching Protocols' method=1 up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=36 fields=0\n"
	      "resp C #0\n"
	      "resp H #0 1.1 200 'OK' method=1 up=0 cl=0 chunked=0 ka=1 expect=0 body=0 head=38 fields=1\n"
	      "  'Content-Length': '0'\n"
	      "resp C #0\n");
}

static void test_upgrade_kinds(void **state)
{
	struct exchange x = { S("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"),
			      S("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nPRI"),
			      false };
	struct exchange y = { S("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: IRC/6.9, websocket\r\n\r\n"),
			      S("HTTP/1.1 101 Switching Protocols\r\n\r\n"), false };
	char *t;

	(void)state;
	t = check_with(&x, NULL, NULL);
	assert_non_null(strstr(t, "req H #0 1.1 'GET'=1 '/' host='h' up=2 "));
	assert_non_null(strstr(t, "resp T #0 up=2\n"));
	free(t);
	/* The first protocol names the kind; a 101 without Upgrade keeps the one asked for. */
	t = check_with(&y, NULL, NULL);
	assert_non_null(strstr(t, "req H #0 1.1 'GET'=1 '/' host='h' up=3 "));
	assert_non_null(strstr(t, "resp T #0 up=3\n"));
	free(t);
}

static void test_connect_tunnel(void **state)
{
	(void)state;
	check(S("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00"),
	      S("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03\x00\x7a"),
	      /*
	       * The client's TLS bytes came before the 200, and the server might
	       * have refused: they are read as the start of a next request, which
	       * has no LF yet, until the tunnel opens.
	       */
	      "req H #0 1.1 'CONNECT'=8 'example.com:443' host='example.com:443' up=4 cl=-1 chunked=0 ka=1 expect=0 body=0 head=59 fields=1\n"
	      "  'Host': 'example.com:443'\n"
	      "req C #0\n"
	      "resp H #0 1.1 200 'Connection Established' method=8 up=4 cl=-1 chunked=0 ka=1 expect=0 body=0 head=39 fields=0\n"
	      "resp C #0\n"
	      "resp T #0 up=4\n");
	check(S("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\n\r\nanything"),
	      "req H #0 1.1 'CONNECT'=8 '[2001:db8::1]:8443' host='[2001:db8::1]:8443' up=4 cl=-1 chunked=0 ka=1 expect=0 body=0 head=65 fields=1\n"
	      "  'Host': '[2001:db8::1]:8443'\n"
	      "req C #0\n"
	      "resp H #0 1.1 200 'OK' method=8 up=4 cl=-1 chunked=0 ka=1 expect=0 body=0 head=19 fields=0\n"
	      "resp C #0\n"
	      "resp T #0 up=4\n");
	/* A refused CONNECT is an ordinary response with a body; HTTP goes on. */
	check(S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	      S("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 OK\r\n"
		"Content-Length: 0\r\n\r\n"),
	      NULL);
}

static void test_response_until_close(void **state)
{
	struct exchange x = { S("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"),
			      S("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n"), true };
	struct exchange gz = { S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			       S("HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b\x08"), true };
	char *t;

	(void)state;
	t = check_with(&x, NULL,
		       "req H #0 1.1 'GET'=1 '/stream' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=33 fields=1\n"
		       "  'Host': 'h'\n"
		       "req C #0\n"
		       "resp H #0 1.1 200 'OK' method=1 up=0 cl=-1 chunked=0 ka=0 expect=0 body=1 head=45 fields=1\n"
		       "  'Content-Type': 'text/plain'\n"
		       "resp B #0 'line 1\\x0d\\x0aline 2\\x0d\\x0a'\n"
		       "resp C #0\n");
	free(t);
	t = check_with(&gz, NULL, NULL);
	assert_non_null(strstr(t, "resp B #0 '\\x1f\\x8b\\x08'\nresp C #0\n"));
	free(t);
	/* A response transfer-coded without chunked also ends with the connection. */
	check(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
	      "req H #0 1.1 'GET'=1 '/' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=27 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #0\n"
	      "resp H #0 1.1 200 'OK' method=1 up=0 cl=-1 chunked=0 ka=0 expect=0 body=1 head=44 fields=1\n"
	      "  'Transfer-Encoding': 'gzip'\n"
	      "resp B #0 'abc'\n");
}

static void test_http10(void **state)
{
	(void)state;
	check(S("GET / HTTP/1.0\r\n\r\nGET /ka HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
		"POST /p HTTP/1.0\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"),
	      S("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na"
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb"
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc"),
	      "req H #0 1.0 'GET'=1 '/' host='' up=0 cl=-1 chunked=0 ka=0 expect=0 body=0 head=18 fields=0\n"
	      "req C #0\n"
	      "req H #1 1.0 'GET'=1 '/ka' host='' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=44 fields=1\n"
	      "  'Connection': 'Keep-Alive'\n"
	      "req C #1\n"
	      "req H #2 1.0 'POST'=3 '/p' host='h' up=0 cl=1 chunked=0 ka=0 expect=0 body=1 head=48 fields=2\n"
	      "  'Host': 'h'\n"
	      "  'Content-Length': '1'\n"
	      "req B #2 'x'\n"
	      "req C #2\n"
	      "resp H #0 1.0 200 'OK' method=1 up=0 cl=1 chunked=0 ka=0 expect=0 body=1 head=38 fields=1\n"
	      "  'Content-Length': '1'\n"
	      "resp B #0 'a'\n"
	      "resp C #0\n"
	      "resp H #1 1.0 200 'OK' method=1 up=0 cl=1 chunked=0 ka=1 expect=0 body=1 head=62 fields=2\n"
	      "  'Connection': 'keep-alive'\n"
	      "  'Content-Length': '1'\n"
	      "resp B #1 'b'\n"
	      "resp C #1\n"
	      "resp H #2 1.1 200 'OK' method=3 up=0 cl=1 chunked=0 ka=0 expect=0 body=1 head=57 fields=2\n"
	      "  'Connection': 'close'\n"
	      "  'Content-Length': '1'\n"
	      "resp B #2 'c'\n"
	      "resp C #2\n");
}

static void test_expect_continue(void **state)
{
	(void)state;
	check(S("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-Continue\r\n\r\ndata"),
	      S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	      "req H #0 1.1 'POST'=3 '/up' host='h' up=0 cl=4 chunked=0 ka=1 expect=1 body=1 head=71 fields=3\n"
	      "  'Host': 'h'\n"
	      "  'Content-Length': '4'\n"
	      "  'Expect': '100-Continue'\n"
	      "req B #0 'data'\n"
	      "req C #0\n"
	      "resp H #0 1.1 100 'Continue' method=3 up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=25 fields=0\n"
	      "resp C #0\n"
	      "resp H #0 1.1 200 'OK' method=3 up=0 cl=0 chunked=0 ka=1 expect=0 body=0 head=38 fields=1\n"
	      "  'Content-Length': '0'\n"
	      "resp C #0\n");
}

/* RFC 9110 §8.6: the same length repeated, as fields or as a list, is one length. */
static void test_identical_content_lengths(void **state)
{
	(void)state;
	check(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 005\r\n\r\nabcde"), "", 0,
	      "req H #0 1.1 'POST'=3 '/' host='h' up=0 cl=5 chunked=0 ka=1 expect=0 body=1 head=71 fields=3\n"
	      "  'Host': 'h'\n"
	      "  'Content-Length': '5, 5'\n"
	      "  'Content-Length': '005'\n"
	      "req B #0 'abcde'\n"
	      "req C #0\n");
}

static void test_target_forms(void **state)
{
	(void)state;
	check(S("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
		"GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n"
		"GET /caf\xc3\xa9 HTTP/1.1\r\nhost: 10.0.0.1:80\r\n\r\n"
		"PROPFIND /dav HTTP/1.1\r\nHOST: [::1]\r\n\r\n"),
	      "", 0,
	      "req H #0 1.1 'OPTIONS'=7 '*' host='h' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=31 fields=1\n"
	      "  'Host': 'h'\n"
	      "req C #0\n"
	      "req H #1 1.1 'GET'=1 'http://example.com/a?b' host='example.com' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=58 fields=1\n"
	      "  'Host': 'example.com'\n"
	      "req C #1\n"
	      "req H #2 1.1 'GET'=1 '/caf\\xc3\\xa9' host='10.0.0.1:80' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=42 fields=1\n"
	      "  'host': '10.0.0.1:80'\n"
	      "req C #2\n"
	      "req H #3 1.1 'PROPFIND'=0 '/dav' host='[::1]' up=0 cl=-1 chunked=0 ka=1 expect=0 body=0 head=39 fields=1\n"
	      "  'HOST': '[::1]'\n"
	      "req C #3\n");
}

/* A realistic bearer token: the field line is exactly the default 8192-byte limit. */
static void test_large_jwt(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *prefix = "GET /api/v1/orders HTTP/1.1\r\nHost: api.example.com\r\n";
	const char *field = "Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.";
	const char *tail = "\r\nAccept: application/json\r\n\r\n";
	struct ztg_http_limits lim;
	size_t line_len = 8192, n = 0;
	char *req = malloc(16384);
	char *t;
	uint32_t seed = 12345;

	(void)state;
	ztg_http_limits_default(&lim);
	assert_int_equal(lim.max_header_line, line_len);
	assert_non_null(req);
	n += (size_t)sprintf(req + n, "%s%s", prefix, field);
	/* Payload, then a 342-character RS256 signature. */
	while (n < strlen(prefix) + line_len - 343) {
		seed = seed * 1103515245u + 12345u;
		req[n++] = b64[(seed >> 16) & 63];
	}
	req[n++] = '.';
	while (n < strlen(prefix) + line_len) {
		seed = seed * 1103515245u + 12345u;
		req[n++] = b64[(seed >> 16) & 63];
	}
	n += (size_t)sprintf(req + n, "%s", tail);

	{
		struct exchange x = { req, n, S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"), false };

		t = check_with(&x, NULL, NULL);
	}
	assert_null(strstr(t, " V #"));
	assert_non_null(strstr(t, "fields=3\n  'Host': 'api.example.com'\n  'Authorization': 'Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."));
	assert_non_null(strstr(t, "resp B #0 '[]'\nresp C #0\n"));
	free(t);

	/* One byte more and the line is too long. */
	memmove(req + strlen(prefix) + 30, req + strlen(prefix) + 29, n - strlen(prefix) - 29);
	n++;
	check_violation_with(req, n, "", 0, NULL, true, V(HEADER_LINE_TOO_LONG));
	free(req);
}

/* Any number of feeds of any size give the same events: a few odd sizes on a long mixed stream. */
static void test_many_feeds(void **state)
{
	static const char req[] =
		"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		"3\r\nabc\r\n10;x=\"y\"\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n"
		"\r\n"
		"GET /b HTTP/1.1\r\nHost: h\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
		"PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
	struct exchange x = { S(req), "", 0, false };
	struct ztg_http_limits lim;
	struct ztg_http_pool *pool;
	char *whole;

	(void)state;
	ztg_http_limits_default(&lim);
	pool = ztg_http_pool_create(2, lim.max_head_bytes);
	assert_non_null(pool);
	whole = run_once(&x, &lim, pool, 0, 0, false);
	assert_null(strstr(whole, " V #"));
	for (size_t step = 2; step < 40; step++) {
		struct recorder r = { 0 };
		struct ztg_http_conn conn;

		ztg_http_conn_init(&conn);
		for (size_t off = 0; off < sizeof(req) - 1; off += step) {
			size_t n = sizeof(req) - 1 - off < step ? sizeof(req) - 1 - off : step;

			feed(&r, &conn, true, req + off, n, &lim, pool);
		}
		flush_body(&r);
		text_add(&r.out, "");
		same_transcript(whole, r.out.p, "feeds of", step);
		ztg_http_conn_release(&conn, pool);
		assert_int_equal(ztg_http_pool_in_use(pool), 0);
		recorder_free(&r);
	}
	free(whole);
	ztg_http_pool_free(pool);
}

/* Where the slices of a head point: into the feed when it holds the whole head, else elsewhere (the pool). */
struct where {
	const uint8_t *feed;
	uint32_t feed_len;
	int heads_in_feed;
	int heads_elsewhere;
};

static bool in_feed(const struct where *w, struct ztg_http_slice s)
{
	return s.ptr >= w->feed && s.ptr + s.len <= w->feed + w->feed_len;
}

static int on_where(void *ctx, const struct ztg_http_event *ev)
{
	struct where *w = ctx;
	const struct ztg_http_message *m = ev->message;
	bool all = true, none = true;

	if (ev->type != ZTG_HTTP_EV_HEADERS)
		return 0;
	for (uint32_t i = 0; i < m->header_count; i++) {
		bool a = in_feed(w, m->headers[i].name), b = in_feed(w, m->headers[i].value);

		all = all && a && b;
		none = none && !a && !b;
	}
	all = all && in_feed(w, m->target) && in_feed(w, m->method_token) && in_feed(w, m->host);
	none = none && !in_feed(w, m->target) && !in_feed(w, m->method_token) && !in_feed(w, m->host);
	assert_true(all || none);
	if (all)
		w->heads_in_feed++;
	else
		w->heads_elsewhere++;
	return 0;
}

static void feed_where(struct where *w, struct ztg_http_conn *conn, const char *p, size_t n,
		       struct ztg_http_pool *pool)
{
	w->feed = (const uint8_t *)p;
	w->feed_len = (uint32_t)n;
	assert_int_equal(ztg_http_feed(conn, true, w->feed, w->feed_len, NULL, pool, on_where, w), 0);
}

static void test_zero_copy(void **state)
{
	static const char two[] = "GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n"
				  "GET /b HTTP/1.1\r\nHost: h\r\nX-B: 2\r\n\r\nGET /c HTTP/1.1\r\nHo";
	struct ztg_http_pool *pool = ztg_http_pool_create(1, 16384);
	struct where w = { 0 };
	struct ztg_http_conn conn;

	(void)state;
	ztg_http_conn_init(&conn);
	feed_where(&w, &conn, two, sizeof(two) - 1, pool);
	assert_int_equal(w.heads_in_feed, 2);
	assert_int_equal(w.heads_elsewhere, 0);
	assert_int_equal(ztg_http_pool_in_use(pool), 1);
	/* The third head spans feeds: its slices are in the pool buffer. */
	feed_where(&w, &conn, S("st: h\r\nX-C: 3\r\n\r\n"), pool);
	assert_int_equal(w.heads_in_feed, 2);
	assert_int_equal(w.heads_elsewhere, 1);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	ztg_http_conn_release(&conn, pool);
	ztg_http_pool_free(pool);
}

/* ---------------------------------------------------------- violations */

static void test_bad_request_line(void **state)
{
	(void)state;
	REQ_VIOLATION("GET /\r\nHost: h\r\n\r\n", BAD_REQUEST_LINE);
	REQ_VIOLATION("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_REQUEST_LINE);
	REQ_VIOLATION("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", BAD_REQUEST_LINE);
	REQ_VIOLATION("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", BAD_REQUEST_LINE);
	REQ_VIOLATION(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_REQUEST_LINE);
	REQ_VIOLATION("GET\t/\tHTTP/1.1\r\nHost: h\r\n\r\n", BAD_REQUEST_LINE);
}

static void test_bad_method(void **state)
{
	(void)state;
	REQ_VIOLATION("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_METHOD);
	REQ_VIOLATION("GE\tT / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_METHOD);
	REQ_VIOLATION("G\xc3\x89T / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_METHOD);
}

static void test_bad_target(void **state)
{
	(void)state;
	REQ_VIOLATION("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
	REQ_VIOLATION("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
	REQ_VIOLATION("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
	REQ_VIOLATION("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
	REQ_VIOLATION("GET * HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);             /* asterisk: OPTIONS only */
	REQ_VIOLATION("GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);         /* authority: CONNECT only */
	REQ_VIOLATION("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
	REQ_VIOLATION("CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
	REQ_VIOLATION("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);         /* the port is required */
	REQ_VIOLATION("CONNECT http://h:1/ HTTP/1.1\r\nHost: h\r\n\r\n", BAD_TARGET);
}

static void test_bad_version(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.2\r\nHost: h\r\n\r\n", BAD_VERSION);
	REQ_VIOLATION("GET / HTTP/2.0\r\nHost: h\r\n\r\n", BAD_VERSION);
	REQ_VIOLATION("GET / http/1.1\r\nHost: h\r\n\r\n", BAD_VERSION);
	REQ_VIOLATION("GET / HTTP/1.10\r\nHost: h\r\n\r\n", BAD_VERSION);
	REQ_VIOLATION("GET / HTTP/0.9\r\n\r\n", BAD_VERSION);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), S("HTTP/2.0 200 OK\r\n\r\n"), NULL, false,
			     V(BAD_VERSION));
}

static void test_bad_status_line(void **state)
{
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200\r\n\r\n",          /* RFC 9112 §4: the SP before the reason is not optional */
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 600 High\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), bad[i], strlen(bad[i]), NULL, false,
				     V(BAD_STATUS_LINE));
	check_clean_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), S("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"),
			 NULL);
}

static void test_bad_header_name(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost : h\r\n\r\n", BAD_HEADER_NAME);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", BAD_HEADER_NAME);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", BAD_HEADER_NAME);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", BAD_HEADER_NAME);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", BAD_HEADER_NAME);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: 1\r\n\r\n", BAD_HEADER_NAME);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), S("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"),
			     NULL, false, V(BAD_HEADER_NAME));
}

static void test_bad_header_value(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", BAD_HEADER_VALUE);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", BAD_HEADER_VALUE);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[31m\r\n\r\n", BAD_HEADER_VALUE);
	/* HTAB and obs-text are allowed. */
	check_clean_with(S("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xff\x80\r\n\r\n"), "", 0, NULL);
}

static void test_bare_lf(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\nHost: h\r\n\r\n", BARE_LF);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\n\r\n", BARE_LF);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\n\n", BARE_LF);
	REQ_VIOLATION("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", BARE_LF);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", BARE_LF);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\nabc\r\n0\r\n\r\n", BARE_LF);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\n\r\n", BARE_LF);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), S("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"),
			     NULL, false, V(BARE_LF));
}

static void test_bare_cr(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", BARE_CR);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", BARE_CR);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", BARE_CR);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", BARE_CR);
	REQ_VIOLATION("GET / HTTP/1.1\rHost: h\r\n\r\n", BARE_CR);
	REQ_VIOLATION("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", BARE_CR);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\rabc\r\n0\r\n\r\n", BARE_CR);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r2\r\n\r\n", BARE_CR);
}

static void test_nul_byte(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", NUL_BYTE);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX\0: 1\r\n\r\n", NUL_BYTE);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\n\0X: 1\r\n\r\n", NUL_BYTE);
	REQ_VIOLATION("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", NUL_BYTE);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), S("HTTP/1.1 200 OK\0\r\n\r\n"), NULL, false,
			     V(NUL_BYTE));
}

static void test_obs_fold(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", OBS_FOLD);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", OBS_FOLD);
	/* Whitespace before the first field line is the same trick (RFC 9112 §2.2). */
	REQ_VIOLATION("GET / HTTP/1.1\r\n Host: h\r\n\r\n", OBS_FOLD);
}

static void test_cl_and_te(void **state)
{
	(void)state;
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "0\r\n\r\n", CL_AND_TE);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", CL_AND_TE);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), NULL,
			     false, V(CL_AND_TE));
}

static void test_duplicate_content_length(void **state)
{
	(void)state;
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", DUPLICATE_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nabcdef", DUPLICATE_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\ncontent-length: 1\r\n\r\nx", DUPLICATE_CONTENT_LENGTH);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), NULL, false,
			     V(DUPLICATE_CONTENT_LENGTH));
}

static void test_bad_content_length(void **state)
{
	(void)state;
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\nabcde", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nabcde", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\nabcde", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", BAD_CONTENT_LENGTH);
	REQ_VIOLATION("CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 5\r\n\r\nabcde", BAD_CONTENT_LENGTH);
	/* The largest length there is still parses (and waits for its body). */
	check_clean_with(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\nabc"), "", 0, NULL);
}

static void test_bad_transfer_encoding(void **state)
{
	(void)state;
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		      BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", BAD_TRANSFER_ENCODING);
	REQ_VIOLATION("CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nTransfer-Encoding: chunked\r\n\r\n", BAD_TRANSFER_ENCODING);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n"), NULL, false,
			     V(BAD_TRANSFER_ENCODING));
	/* Case-insensitive coding names, OWS around list elements. */
	check_clean_with(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: GZip ,\tChunked\r\n\r\n0\r\n\r\n"), "", 0,
			 NULL);
}

#define CHUNKED_HEAD "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_bad_chunk_size(void **state)
{
	(void)state;
	REQ_VIOLATION(CHUNKED_HEAD "x\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD "\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD " 5\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD "5 \r\nhello\r\n0\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD "5\t;a=b\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD "0x5\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD "-1\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD ";a\r\n\r\n", BAD_CHUNK_SIZE);
	REQ_VIOLATION(CHUNKED_HEAD "8000000000000000\r\n", BAD_CHUNK_SIZE);        /* 2^63 */
	REQ_VIOLATION(CHUNKED_HEAD "10000000000000000\r\n", BAD_CHUNK_SIZE);       /* 2^64 */
	REQ_VIOLATION(CHUNKED_HEAD "00000000000000005\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_SIZE);  /* 17 digits */
	/* 16 digits, the largest size: accepted (its data never comes here). */
	check_clean_with(S(CHUNKED_HEAD "7fffffffffffffff\r\nabc"), "", 0, NULL);
	check_clean_with(S(CHUNKED_HEAD "0000000000000005\r\nhello\r\n0\r\n\r\n"), "", 0, NULL);
}

static void test_bad_chunk_extension(void **state)
{
	char req[sizeof(CHUNKED_HEAD) + ZTG_HTTP_MAX_CHUNK_LINE + 16];
	size_t n;

	(void)state;
	REQ_VIOLATION(CHUNKED_HEAD "5;\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5; a=b\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a =b\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a=\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a=b c\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a=\"b\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;(a)\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);
	REQ_VIOLATION(CHUNKED_HEAD "5;a;\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_EXTENSION);

	/* The chunk line is bounded: ZTG_HTTP_MAX_CHUNK_LINE passes, one more fails. */
	n = (size_t)sprintf(req, "%s5;", CHUNKED_HEAD);
	memset(req + n, 'e', ZTG_HTTP_MAX_CHUNK_LINE - 2);
	n += ZTG_HTTP_MAX_CHUNK_LINE - 2;
	n += (size_t)sprintf(req + n, "\r\nhello\r\n0\r\n\r\n");
	check_clean_with(req, n, "", 0, NULL);
	n = (size_t)sprintf(req, "%s5;", CHUNKED_HEAD);
	memset(req + n, 'e', ZTG_HTTP_MAX_CHUNK_LINE - 1);
	n += ZTG_HTTP_MAX_CHUNK_LINE - 1;
	n += (size_t)sprintf(req + n, "\r\nhello\r\n0\r\n\r\n");
	check_violation_with(req, n, "", 0, NULL, true, V(BAD_CHUNK_EXTENSION));
}

static void test_bad_chunk_terminator(void **state)
{
	(void)state;
	REQ_VIOLATION(CHUNKED_HEAD "5\r\nhelloX\r\n0\r\n\r\n", BAD_CHUNK_TERMINATOR);
	REQ_VIOLATION(CHUNKED_HEAD "5\r\nhello\n0\r\n\r\n", BAD_CHUNK_TERMINATOR);
	REQ_VIOLATION(CHUNKED_HEAD "5\r\nhello\rX0\r\n\r\n", BAD_CHUNK_TERMINATOR);
	REQ_VIOLATION(CHUNKED_HEAD "3\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_TERMINATOR);   /* size shorter than data */
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"), NULL,
			     false, V(BAD_CHUNK_TERMINATOR));
}

static void test_host(void **state)
{
	(void)state;
	REQ_VIOLATION("GET / HTTP/1.1\r\n\r\n", MISSING_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nX-Host: h\r\n\r\n", MISSING_HOST);
	REQ_VIOLATION("GET http://h/ HTTP/1.1\r\n\r\n", MISSING_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", DUPLICATE_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", DUPLICATE_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: \r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", BAD_HOST);
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", BAD_HOST);
	check_clean_with(S("GET / HTTP/1.1\r\nHost: a-b.c_d~e%41:65535\r\n\r\n"
			   "GET / HTTP/1.1\r\nHost: h:\r\n\r\nGET / HTTP/1.1\r\nHost: [::ffff:10.0.0.1]:0\r\n\r\n"),
			 "", 0, NULL);
}

static void test_http2_prior_knowledge(void **state)
{
	(void)state;
	/* The whole preface, and only its first line: the rest never needs waiting for. */
	REQ_VIOLATION("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00", HTTP2_PRIOR_KNOWLEDGE);
	REQ_VIOLATION("PRI * HTTP/2.0\r\n", HTTP2_PRIOR_KNOWLEDGE);
	/* Later on a connection it is just a bad request. */
	REQ_VIOLATION("GET / HTTP/1.1\r\nHost: h\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", BAD_VERSION);
}

static void test_response_without_request(void **state)
{
	(void)state;
	check_violation_with("", 0, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), NULL, false,
			     V(RESPONSE_WITHOUT_REQUEST));
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
			     NULL, false, V(RESPONSE_WITHOUT_REQUEST));
}

/* Exactly one violation is reported, then the direction is silent whatever comes. */
static void test_stopped_after_violation(void **state)
{
	struct recorder r = { 0 };
	struct ztg_http_conn conn;
	struct ztg_http_pool *pool = ztg_http_pool_create(2, 16384);

	(void)state;
	ztg_http_conn_init(&conn);
	assert_int_equal(feed(&r, &conn, true, S("GET / HTTP/9.9\r\n\r\n"), NULL, pool), ZTG_HTTP_FEED_STOPPED);
	assert_int_equal(feed(&r, &conn, true, S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), NULL, pool),
			 ZTG_HTTP_FEED_STOPPED);
	assert_string_equal(r.out.p, "req V #0 http_bad_version\n");
	/* The response side is independent: it has no request to answer. */
	assert_int_equal(feed(&r, &conn, false, S("HTTP/1.1 200 OK\r\n\r\n"), NULL, pool), ZTG_HTTP_FEED_STOPPED);
	assert_string_equal(r.out.p, "req V #0 http_bad_version\nresp V #0 http_response_without_request\n");
	r.feeding_request = false;
	assert_int_equal(ztg_http_close(&conn, false, on_event, &r), ZTG_HTTP_FEED_STOPPED);
	ztg_http_conn_release(&conn, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	recorder_free(&r);
	ztg_http_pool_free(pool);
}

/* --------------------------------------------------------------- limits */

static struct ztg_http_limits small_limits(void)
{
	return (struct ztg_http_limits){
		.max_start_line = 32,
		.max_header_line = 24,
		.max_headers = 3,
		.max_head_bytes = 160,
		.max_pipelined = 2,
	};
}

static void test_limit_start_line(void **state)
{
	struct ztg_http_limits lim = small_limits();

	(void)state;
	/* "GET " + 19-byte target + " HTTP/1.1" = 32. */
	check_clean_with(S("GET /aaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n"), "", 0, &lim);
	check_violation_with(S("GET /aaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n"), "", 0, &lim, true,
			     V(REQUEST_LINE_TOO_LONG));
	/* Too long is known before the line ends. */
	check_violation_with(S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "", 0, &lim, true,
			     V(REQUEST_LINE_TOO_LONG));
	/* A start line is judged whole at its LF: being too long is known first. */
	check_violation_with(S("GET /aaaaaaaaaaaaaaaaaaa\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), "", 0, &lim, true,
			     V(REQUEST_LINE_TOO_LONG));
	/* The status line, 32 with "HTTP/1.1 200 " and a 19-byte reason. */
	check_clean_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			 S("HTTP/1.1 200 aaaaaaaaaaaaaaaaaaa\r\nContent-Length: 0\r\n\r\n"), &lim);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     S("HTTP/1.1 200 aaaaaaaaaaaaaaaaaaaa\r\nContent-Length: 0\r\n\r\n"), &lim, false,
			     V(STATUS_LINE_TOO_LONG));
	/* Empty lines before a request count against the start line: 16 CRLF pass, 17 do not. */
	check_clean_with(S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			 "", 0, &lim);
	check_violation_with(S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
			     "", 0, &lim, true, V(REQUEST_LINE_TOO_LONG));
}

static void test_limit_header_line(void **state)
{
	struct ztg_http_limits lim = small_limits();

	(void)state;
	/* "X: " + 21 bytes = 24. */
	check_clean_with(S("GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaaaaaaaaaaaaaa\r\n\r\n"), "", 0, &lim);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"), "", 0, &lim, true,
			     V(HEADER_LINE_TOO_LONG));
	/*
	 * Each violation belongs to one byte, the earliest wins: a bare CR is
	 * known at the byte after it, a line too long at its limit + 2nd byte.
	 */
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaaaaaaaaaaaaa\rb\r\n\r\n"), "", 0, &lim,
			     true, V(BARE_CR));
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaaaaaaaaaaaaaa\rb\r\n\r\n"), "", 0, &lim,
			     true, V(HEADER_LINE_TOO_LONG));
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaaaaaaaaaaaaaa\r\r\n\r\n"), "", 0, &lim,
			     true, V(HEADER_LINE_TOO_LONG));
	/* Trailer lines have the same limit ("Transfer-Encoding: chunked" is 26). */
	lim.max_header_line = 26;
	check_clean_with(S(CHUNKED_HEAD "0\r\nX: aaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"), "", 0, &lim);
	check_violation_with(S(CHUNKED_HEAD "0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"), "", 0, &lim, true,
			     V(HEADER_LINE_TOO_LONG));
}

static void test_limit_header_count(void **state)
{
	struct ztg_http_limits lim = small_limits();

	(void)state;
	check_clean_with(S("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"), "", 0, &lim);
	check_violation_with(S("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), "", 0, &lim, true,
			     V(TOO_MANY_HEADERS));
	/* The trailer section counts its own fields. */
	lim.max_headers = 2;
	lim.max_header_line = 64;
	check_clean_with(S(CHUNKED_HEAD "0\r\nA: 1\r\nB: 2\r\n\r\n"), "", 0, &lim);
	check_violation_with(S(CHUNKED_HEAD "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), "", 0, &lim, true,
			     V(TOO_MANY_HEADERS));
	/* More than ZTG_HTTP_MAX_HEADERS is never allowed, whatever the limit says. */
	{
		char req[8192];
		size_t n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\n");

		lim = (struct ztg_http_limits){ 8192, 8192, 1000, 8192, 16 };
		for (int i = 1; i < ZTG_HTTP_MAX_HEADERS; i++)
			n += (size_t)sprintf(req + n, "X%d: %d\r\n", i, i);
		memcpy(req + n, "\r\n", 2);
		check_clean_with(req, n + 2, "", 0, &lim);
		memcpy(req + n, "Y: 1\r\n\r\n", 8);
		n += 8;
		check_violation_with(req, n, "", 0, &lim, true, V(TOO_MANY_HEADERS));
	}
}

static void test_limit_head_bytes(void **state)
{
	struct ztg_http_limits lim = small_limits();
	char req[256];
	size_t n;

	(void)state;
	lim.max_header_line = 200;
	/* 25 bytes of request line and Host, "X: " + v + CRLF, the blank line: 160 when v is 128. */
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\nX: %0128d\r\n\r\n", 0);
	assert_int_equal(n, 160);
	check_clean_with(req, n, "", 0, &lim);
	/* One more: the final LF is the byte past the limit. */
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\nX: %0129d\r\n\r\n", 0);
	check_violation_with(req, n, "", 0, &lim, true, V(HEADERS_TOO_LARGE));
	/* Known as soon as the byte past the limit arrives, line end or not. */
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\nX: %0180d", 0);
	check_violation_with(req, n, "", 0, &lim, true, V(HEADERS_TOO_LARGE));
	/* A trailer section has a head's size limit of its own. */
	n = (size_t)sprintf(req, "0\r\nX: %0153d\r\n\r\n", 0);
	{
		char full[512];
		size_t m = (size_t)sprintf(full, "%s%s", CHUNKED_HEAD, req);

		check_clean_with(full, m, "", 0, &lim);
		m = (size_t)sprintf(full, "%s0\r\nX: %0154d\r\n\r\n", CHUNKED_HEAD, 0);
		check_violation_with(full, m, "", 0, &lim, true, V(HEADERS_TOO_LARGE));
	}
}

static void test_limit_pipelined(void **state)
{
	struct ztg_http_limits lim = small_limits();

	(void)state;
	check_clean_with(S("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"), "", 0, &lim);
	check_violation_with(S("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
			       "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n"), "", 0, &lim, true, V(TOO_MANY_PIPELINED));
}

/* Answered requests leave the ring: depth counts only what awaits a response. */
static void test_pipelined_answered(void **state)
{
	struct ztg_http_limits lim = small_limits();
	struct ztg_http_pool *pool = ztg_http_pool_create(2, lim.max_head_bytes);
	struct recorder r = { 0 };
	struct ztg_http_conn conn;

	(void)state;
	ztg_http_conn_init(&conn);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(feed(&r, &conn, true, S("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"), &lim, pool), 0);
		assert_int_equal(feed(&r, &conn, true, S("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"), &lim, pool), 0);
		assert_int_equal(feed(&r, &conn, false, S("HTTP/1.1 100 Continue\r\n\r\n"), &lim, pool), 0);
		assert_int_equal(feed(&r, &conn, false, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
							  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), &lim, pool), 0);
	}
	assert_null(strstr(r.out.p, " V #"));
	assert_non_null(strstr(r.out.p, "req C #79\n"));
	assert_non_null(strstr(r.out.p, "resp C #79\n"));
	ztg_http_conn_release(&conn, pool);
	recorder_free(&r);
	ztg_http_pool_free(pool);
}

/* ------------------------------------------------------------------ pool */

static void test_pool_buffers_returned(void **state)
{
	struct ztg_http_pool *pool = ztg_http_pool_create(1, 16384);
	struct recorder r = { 0 };
	struct ztg_http_conn conn;

	(void)state;
	assert_non_null(pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	ztg_http_conn_init(&conn);
	/* A whole head in one feed needs no buffer. */
	feed(&r, &conn, true, S("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	/* A split head holds one until it completes, over as many feeds as it takes. */
	feed(&r, &conn, true, S("GET /b HTTP/1.1\r\nHo"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 1);
	feed(&r, &conn, true, S("st: h\r\nX-A: 1\r\n"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 1);
	feed(&r, &conn, true, S("\r\nPOST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	assert_null(strstr(r.out.p, " V #"));
	assert_non_null(strstr(r.out.p, "req C #2\n"));
	/* Released with the connection when the flow ends mid-head. */
	feed(&r, &conn, true, S("GET /d HTTP/1.1\r\n"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 1);
	ztg_http_conn_release(&conn, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	/* A released connection takes no more bytes. */
	r.stopped[1] = true;
	assert_int_equal(feed(&r, &conn, true, S("Host: h\r\n\r\n"), NULL, pool), ZTG_HTTP_FEED_STOPPED);
	ztg_http_conn_release(&conn, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	/* A violation gives the buffer back too. */
	ztg_http_conn_init(&conn);
	r.stopped[1] = false;
	feed(&r, &conn, true, S("GET /e HTTP/1.1\r\n"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 1);
	feed(&r, &conn, true, S("Bad Name: 1\r\n"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	ztg_http_conn_release(&conn, pool);
	recorder_free(&r);
	ztg_http_pool_free(pool);
}

static void test_pool_exhausted(void **state)
{
	struct ztg_http_pool *pool = ztg_http_pool_create(1, 16384);
	struct recorder ra = { 0 }, rb = { 0 }, rc = { 0 };
	struct ztg_http_conn a, b, c;

	(void)state;
	ztg_http_conn_init(&a);
	ztg_http_conn_init(&b);
	ztg_http_conn_init(&c);
	feed(&ra, &a, true, S("GET / HTTP/1.1\r\nHost"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 1);
	/* Another split head finds the pool empty. */
	assert_int_equal(feed(&rb, &b, true, S("GET / HTTP/1.1\r\nHost"), NULL, pool), ZTG_HTTP_FEED_STOPPED);
	assert_string_equal(rb.out.p, "req V #0 http_header_buffer_exhausted\n");
	/* A head that fits one feed still parses. */
	assert_int_equal(feed(&rc, &c, true, S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), NULL, pool), 0);
	assert_null(strstr(rc.out.p, " V #"));
	/* No pool at all: the same. */
	ztg_http_conn_init(&c);
	rc.stopped[1] = false;
	text_free(&rc.out);
	assert_int_equal(feed(&rc, &c, true, S("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET"), NULL, NULL),
			 ZTG_HTTP_FEED_STOPPED);
	assert_non_null(strstr(rc.out.p, "req C #0\nreq V #1 http_header_buffer_exhausted\n"));
	feed(&ra, &a, true, S(": h\r\n\r\n"), NULL, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	assert_non_null(strstr(ra.out.p, "req C #0\n"));
	ztg_http_conn_release(&a, pool);
	ztg_http_conn_release(&b, pool);
	ztg_http_conn_release(&c, pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	recorder_free(&ra);
	recorder_free(&rb);
	recorder_free(&rc);
	ztg_http_pool_free(pool);
}

/* A pool smaller than max_head_bytes caps heads at its size, so a split head always fits. */
static void test_pool_smaller_than_limit(void **state)
{
	struct ztg_http_limits lim;
	char req[600];
	size_t n;

	(void)state;
	ztg_http_limits_default(&lim);
	lim.max_head_bytes = 256;
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\nX: %0500d\r\n\r\n", 0);
	{
		struct ztg_http_pool *pool = ztg_http_pool_create(2, 100);
		struct recorder r = { 0 };
		struct ztg_http_conn conn;

		assert_non_null(pool);
		ztg_http_conn_init(&conn);
		feed(&r, &conn, true, req, 50, &lim, pool);
		feed(&r, &conn, true, req + 50, n - 50, &lim, pool);
		assert_string_equal(r.out.p, "req V #0 http_headers_too_large\n");
		ztg_http_conn_release(&conn, pool);
		assert_int_equal(ztg_http_pool_in_use(pool), 0);
		recorder_free(&r);
		ztg_http_pool_free(pool);
	}
}

static void test_pool_api(void **state)
{
	struct ztg_http_pool *pool;

	(void)state;
	assert_null(ztg_http_pool_create(0, 1024));
	assert_null(ztg_http_pool_create(4, 0));
	assert_int_equal(ztg_http_pool_in_use(NULL), 0);
	ztg_http_pool_free(NULL);
	pool = ztg_http_pool_create(3, 1000);
	assert_non_null(pool);
	assert_int_equal(ztg_http_pool_in_use(pool), 0);
	ztg_http_pool_free(pool);
}

/* -------------------------------------------------------------- the API */

static void test_violation_names(void **state)
{
	(void)state;
	assert_string_equal(ztg_http_violation_name(V(NONE)), "none");
	assert_string_equal(ztg_http_violation_name(V(CL_AND_TE)), "http_content_length_and_transfer_encoding");
	assert_string_equal(ztg_http_violation_name(V(BUFFER_EXHAUSTED)), "http_header_buffer_exhausted");
	assert_string_equal(ztg_http_violation_name(ZTG_HTTP_VIOLATION_COUNT), "unknown");
	assert_string_equal(ztg_http_violation_name((enum ztg_http_violation)-1), "unknown");
	for (int i = 0; i < ZTG_HTTP_VIOLATION_COUNT; i++) {
		const char *a = ztg_http_violation_name((enum ztg_http_violation)i);

		assert_non_null(a);
		assert_true(strlen(a) > 0);
		for (int j = i + 1; j < ZTG_HTTP_VIOLATION_COUNT; j++)
			assert_string_not_equal(a, ztg_http_violation_name((enum ztg_http_violation)j));
	}
}

static void test_limits_default(void **state)
{
	struct ztg_http_limits l;

	(void)state;
	memset(&l, 0xff, sizeof(l));
	ztg_http_limits_default(&l);
	assert_int_equal(l.max_start_line, 8192);
	assert_int_equal(l.max_header_line, 8192);
	assert_int_equal(l.max_headers, 100);
	assert_int_equal(l.max_head_bytes, 16384);
	assert_int_equal(l.max_pipelined, 16);
	assert_true(sizeof(struct ztg_http_dir) <= 64);
	assert_true(sizeof(struct ztg_http_conn) <= 192);
}

/* A callback's non-zero value stops the feed at once and is returned. */
static void test_callback_stops(void **state)
{
	struct recorder r = { 0 };
	struct ztg_http_conn conn;

	(void)state;
	r.stop_on = ZTG_HTTP_EV_HEADERS;
	r.stop_with = 42;
	ztg_http_conn_init(&conn);
	assert_int_equal(feed(&r, &conn, true, S("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
			      NULL, NULL), 42);
	assert_null(strstr(r.out.p, "'/b'"));
	assert_null(strstr(r.out.p, "req C"));
	recorder_free(&r);

	/* NULL callback, NULL limits: parsing still happens (the violation stops the direction). */
	ztg_http_conn_init(&conn);
	assert_int_equal(ztg_http_feed(&conn, true, (const uint8_t *)"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27, NULL,
				       NULL, NULL, NULL), 0);
	assert_int_equal(ztg_http_feed(&conn, true, (const uint8_t *)"BAD\r\n", 5, NULL, NULL, NULL, NULL),
			 ZTG_HTTP_FEED_STOPPED);
	assert_int_equal(ztg_http_feed(&conn, true, (const uint8_t *)"", 0, NULL, NULL, NULL, NULL),
			 ZTG_HTTP_FEED_STOPPED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_post_content_length),
		cmocka_unit_test(test_chunked_extensions_trailers),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_interim_and_bodyless_responses),
		cmocka_unit_test(test_head_response),
		cmocka_unit_test(test_upgrade_websocket_tunnel),
		cmocka_unit_test(test_upgrade_kinds),
		cmocka_unit_test(test_connect_tunnel),
		cmocka_unit_test(test_response_until_close),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_identical_content_lengths),
		cmocka_unit_test(test_target_forms),
		cmocka_unit_test(test_large_jwt),
		cmocka_unit_test(test_many_feeds),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_bad_request_line),
		cmocka_unit_test(test_bad_method),
		cmocka_unit_test(test_bad_target),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_status_line),
		cmocka_unit_test(test_bad_header_name),
		cmocka_unit_test(test_bad_header_value),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_cl_and_te),
		cmocka_unit_test(test_duplicate_content_length),
		cmocka_unit_test(test_bad_content_length),
		cmocka_unit_test(test_bad_transfer_encoding),
		cmocka_unit_test(test_bad_chunk_size),
		cmocka_unit_test(test_bad_chunk_extension),
		cmocka_unit_test(test_bad_chunk_terminator),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_http2_prior_knowledge),
		cmocka_unit_test(test_response_without_request),
		cmocka_unit_test(test_stopped_after_violation),
		cmocka_unit_test(test_limit_start_line),
		cmocka_unit_test(test_limit_header_line),
		cmocka_unit_test(test_limit_header_count),
		cmocka_unit_test(test_limit_head_bytes),
		cmocka_unit_test(test_limit_pipelined),
		cmocka_unit_test(test_pipelined_answered),
		cmocka_unit_test(test_pool_buffers_returned),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_pool_smaller_than_limit),
		cmocka_unit_test(test_pool_api),
		cmocka_unit_test(test_violation_names),
		cmocka_unit_test(test_limits_default),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
