/*
 * Unit tests for the normalised request views (http/http_normalize.h).
 *
 * Every target goes through run_target(), which copies it into a heap block
 * of exactly its length and hands the normaliser an output buffer of exactly
 * the target's length (the documented "always enough") followed by guard
 * bytes, so ASan flags any read or write past either, and plain builds still
 * see a trampled guard. On success it checks the view's invariants: raw
 * slices inside the target, decoded ones inside the buffer, path and query
 * laid out as documented, and a canonical path with no "//", "." or "..".
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

#include "http/http_normalize.h"

#define GUARD_LEN  32
#define GUARD_BYTE 0xee

#define F(sym) ZTG_HTTP_TARGET_F_##sym
#define E(sym) ZTG_HTTP_NORM_##sym

/* ---------------------------------------------------------------- harness */

struct run {
	uint8_t *target;
	uint8_t *buf;
	uint32_t len;
	uint32_t buf_len;
	enum ztg_http_normalize_error err;
	struct ztg_http_target_view view;
};

static bool slice_within(struct ztg_http_slice s, const uint8_t *base, uint32_t len)
{
	if (s.len == 0)
		return s.ptr == NULL || (s.ptr >= base && s.ptr <= base + len);
	return s.ptr >= base && s.ptr + s.len <= base + len;
}

static bool slice_is(struct ztg_http_slice s, const char *str)
{
	size_t n = strlen(str);

	return s.len == n && (n == 0 || memcmp(s.ptr, str, n) == 0);
}

static void check_canonical_path(struct ztg_http_slice p)
{
	assert_true(p.len >= 1 && p.len <= ZTG_HTTP_MAX_PATH_LEN);
	assert_int_equal(p.ptr[0], '/');
	for (uint32_t i = 0; i < p.len; i++) {
		uint32_t seg = i + 1, end = seg;

		assert_int_not_equal(p.ptr[i], '\\');
		assert_int_not_equal(p.ptr[i], '\0');
		if (p.ptr[i] != '/')
			continue;
		while (end < p.len && p.ptr[end] != '/')
			end++;
		if (end == p.len)
			continue;          /* the last segment may be empty: trailing slash */
		assert_true(end > seg); /* no "//" */
		assert_false(end - seg == 1 && p.ptr[seg] == '.');
		assert_false(end - seg == 2 && p.ptr[seg] == '.' && p.ptr[seg + 1] == '.');
	}
	/* Nor a last segment of "." or "..". */
	assert_false(p.len >= 2 && p.ptr[p.len - 1] == '.' && p.ptr[p.len - 2] == '/');
	assert_false(p.len >= 3 && p.ptr[p.len - 1] == '.' && p.ptr[p.len - 2] == '.' &&
		     p.ptr[p.len - 3] == '/');
}

static void check_view(const struct run *r)
{
	const struct ztg_http_target_view *v = &r->view;

	assert_ptr_equal(v->raw.ptr, r->target);
	assert_int_equal(v->raw.len, r->len);
	assert_true(slice_within(v->scheme, r->target, r->len));
	assert_true(slice_within(v->authority, r->target, r->len));
	assert_true(slice_within(v->raw_path, r->target, r->len));
	assert_true(slice_within(v->raw_query, r->target, r->len));
	assert_true(slice_within(v->fragment, r->target, r->len));
	assert_int_equal(!!(v->flags & F(FRAGMENT)), v->fragment.ptr != NULL);
	assert_true(v->param_count <= ZTG_HTTP_MAX_QUERY_PARAMS);

	if (r->err != E(NONE)) {
		assert_int_equal(v->path.len, 0);
		assert_int_equal(v->decoded.len, 0);
		assert_int_equal(v->param_count, 0);
		assert_true(v->error_offset <= r->len);
		return;
	}
	assert_true(slice_within(v->decoded, r->buf, r->buf_len));
	if (v->form == ZTG_HTTP_TARGET_AUTHORITY) {
		assert_int_equal(v->decoded.len, 0);
		assert_int_equal(v->path.len, 0);
		assert_true(v->authority.len > 0);
		return;
	}
	assert_ptr_equal(v->decoded.ptr, r->buf);
	assert_ptr_equal(v->path.ptr, v->decoded.ptr);
	if (v->form == ZTG_HTTP_TARGET_ASTERISK) {
		assert_true(slice_is(v->path, "*"));
		return;
	}
	check_canonical_path(v->path);
	if (!v->has_query) {
		assert_int_equal(v->decoded.len, v->path.len);
		assert_int_equal(v->param_count, 0);
		return;
	}
	assert_int_equal(v->decoded.ptr[v->path.len], '?');
	assert_ptr_equal(v->query.ptr, v->decoded.ptr + v->path.len + 1);
	assert_int_equal(v->decoded.len, v->path.len + 1 + v->query.len);
	assert_true(v->query.len <= v->raw_query.len);
	for (uint32_t i = 0; i < v->param_count; i++) {
		const struct ztg_http_query_param *p = &v->params[i];

		assert_true(slice_within(p->name, v->query.ptr, v->query.len));
		if (p->has_value)
			assert_true(slice_within(p->value, v->query.ptr, v->query.len));
		else
			assert_int_equal(p->value.len, 0);
		assert_true(p->name.len + p->value.len > 0 || p->has_value);
	}
}

/* Normalise len bytes of target with a buffer of buf_len bytes. */
static void run_target_buf(struct run *r, const void *target, uint32_t len, uint32_t buf_len)
{
	r->len = len;
	r->buf_len = buf_len;
	r->target = malloc(len ? len : 1);
	r->buf = malloc((size_t)buf_len + GUARD_LEN);
	assert_non_null(r->target);
	assert_non_null(r->buf);
	memcpy(r->target, target, len);
	memset(r->buf, GUARD_BYTE, (size_t)buf_len + GUARD_LEN);
	r->err = ztg_http_normalize_target(r->target, len, r->buf, buf_len, &r->view);
	for (uint32_t i = 0; i < GUARD_LEN; i++)
		assert_int_equal(r->buf[buf_len + i], GUARD_BYTE);
	check_view(r);
}

static void run_target(struct run *r, const void *target, uint32_t len)
{
	run_target_buf(r, target, len, len);
}

static void run_free(struct run *r)
{
	free(r->target);
	free(r->buf);
}

/* ------------------------------------------------------------ target table */

struct param_want {
	const char *name;
	const char *value;         /* NULL: no '=' */
};

struct target_case {
	const char *target;
	enum ztg_http_normalize_error err;
	const char *path;          /* success: the canonical path */
	uint32_t flags;            /* exact set, on success and on error */
	uint8_t form;
	const char *query;         /* decoded query; NULL when no '?' */
	uint32_t nparams;
	struct param_want params[4];
	const char *authority;     /* NULL: none */
	uint32_t error_offset;
};

/* A target that normalises to path p with exactly flags f; more fields may follow. */
#define OK(t, p, f, ...) { .target = (t), .err = E(NONE), .path = (p), .flags = (f), __VA_ARGS__ }
/* A target refused with error e at error_offset off, flags f seen before the error. */
#define BAD(t, e, f, off, ...) \
	{ .target = (t), .err = E(e), .flags = (f), .error_offset = (off), __VA_ARGS__ }

static const struct target_case target_cases[] = {
	/* The plain case and the path rewrites. */
	OK("/a/b", "/a/b", 0),
	OK("/", "/", 0),
	OK("//a///b", "/a/b", F(PATH_MERGED_SLASHES)),
	OK("/a/./b/../c", "/a/c", F(PATH_DOT_SEGMENTS)),
	OK("/../../etc/passwd", "/etc/passwd", F(PATH_DOT_SEGMENTS) | F(PATH_ABOVE_ROOT)),
	OK("/a/b/..", "/a/", F(PATH_DOT_SEGMENTS)),
	OK("/a/.", "/a/", F(PATH_DOT_SEGMENTS)),
	OK("/a/b/", "/a/b/", 0),
	OK("/a//", "/a/", F(PATH_MERGED_SLASHES)),
	OK("/a//../b", "/b", F(PATH_MERGED_SLASHES) | F(PATH_DOT_SEGMENTS)),
	OK("/a/...", "/a/...", 0),
	OK("/.well-known/x", "/.well-known/x", 0),
	OK("/a%2fb", "/a/b", F(PATH_ENCODED_SLASH)),
	OK("/a%2Fb", "/a/b", F(PATH_ENCODED_SLASH)),
	OK("/%2F", "/", F(PATH_ENCODED_SLASH) | F(PATH_MERGED_SLASHES)),
	OK("/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd", F(PATH_DOT_SEGMENTS) | F(PATH_ABOVE_ROOT)),
	OK("/a/.%2E/b", "/b", F(PATH_DOT_SEGMENTS)),
	OK("/a%2f..%2fb", "/b", F(PATH_ENCODED_SLASH) | F(PATH_DOT_SEGMENTS)),
	OK("/%41%42c", "/ABc", 0),
	/* Decoded once only. */
	OK("/%252e%252e/", "/%2e%2e/", F(PATH_DOUBLE_ENCODING)),
	OK("/%252e%252e/x/../y", "/%2e%2e/y", F(PATH_DOUBLE_ENCODING) | F(PATH_DOT_SEGMENTS)),
	OK("/%25", "/%", 0),
	OK("/%25zz", "/%zz", 0),
	OK("/%25%32%65", "/%2e", F(PATH_DOUBLE_ENCODING)),
	/* Path parameters, Tomcat-style: stripped on the raw bytes. */
	OK("/a;x=1/b;y=2", "/a/b", F(PATH_PARAMETERS)),
	OK("/api;jsessionid=x/users", "/api/users", F(PATH_PARAMETERS)),
	OK("/..;/admin", "/admin", F(PATH_PARAMETERS) | F(PATH_DOT_SEGMENTS) | F(PATH_ABOVE_ROOT)),
	OK("/public/..;/admin", "/admin", F(PATH_PARAMETERS) | F(PATH_DOT_SEGMENTS)),
	OK("/;x/a", "/a", F(PATH_PARAMETERS) | F(PATH_MERGED_SLASHES)),
	OK("/a%3bx/b", "/a;x/b", 0),
	OK("/a;x%2f..%2fadmin", "/a", F(PATH_PARAMETERS) | F(PATH_ENCODED_SLASH)),
	OK("/a;x\\..\\admin", "/a", F(PATH_PARAMETERS) | F(PATH_BACKSLASH)),
	OK("/a;%252e/b", "/a/b", F(PATH_PARAMETERS) | F(PATH_DOUBLE_ENCODING)),
	BAD("/a;x=%zz/b", PATH_BAD_PERCENT_ENCODING, F(PATH_PARAMETERS), 5),
	BAD("/a;%00/b", PATH_NUL_BYTE, F(PATH_PARAMETERS), 3),
	/* Backslashes. */
	OK("/a\\b\\..\\c", "/a/c", F(PATH_BACKSLASH) | F(PATH_DOT_SEGMENTS)),
	OK("/a%5c..%5cb", "/b", F(PATH_BACKSLASH) | F(PATH_ENCODED_SLASH) | F(PATH_DOT_SEGMENTS)),
	/* UTF-8 and control bytes. */
	OK("/%e2%82%ac", "/\xe2\x82\xac", 0),
	OK("/\xe2\x82\xac", "/\xe2\x82\xac", 0),
	OK("/%ff", "/\xff", F(PATH_INVALID_UTF8)),
	OK("/%c3/x", "/\xc3/x", F(PATH_INVALID_UTF8)),
	OK("/%c3", "/\xc3", F(PATH_INVALID_UTF8)),
	OK("/%ed%a0%80", "/\xed\xa0\x80", F(PATH_INVALID_UTF8)),
	OK("/%f4%90%80%80", "/\xf4\x90\x80\x80", F(PATH_INVALID_UTF8)),
	OK("/a%0d%0ab", "/a\r\nb", F(PATH_CONTROL_CHAR)),
	/* Errors: the path is denied. */
	BAD("/a%00b", PATH_NUL_BYTE, 0, 2),
	BAD("/zz%zz", PATH_BAD_PERCENT_ENCODING, 0, 3),
	BAD("/a%", PATH_BAD_PERCENT_ENCODING, 0, 2),
	BAD("/a%4", PATH_BAD_PERCENT_ENCODING, 0, 2),
	BAD("/a%4?x", PATH_BAD_PERCENT_ENCODING, 0, 2),
	BAD("/%c0%ae%c0%ae/etc", PATH_OVERLONG_UTF8, 0, 1),
	BAD("/x/%c0", PATH_OVERLONG_UTF8, 0, 3),
	BAD("/%e0%80%af", PATH_OVERLONG_UTF8, 0, 4),
	BAD("/%f0%80%80%af", PATH_OVERLONG_UTF8, 0, 4),
	BAD("/\xc1\xbf", PATH_OVERLONG_UTF8, 0, 1),
	BAD("/%ffa%c0%ae", PATH_OVERLONG_UTF8, F(PATH_INVALID_UTF8), 5),
	/* Query. */
	OK("/api/v1/orders/42?id=1&x=%41+b&empty=&flag", "/api/v1/orders/42", 0,
	   .query = "id=1&x=A b&empty=&flag", .nparams = 4,
	   .params = { { "id", "1" }, { "x", "A b" }, { "empty", "" }, { "flag", NULL } }),
	OK("/x?", "/x", 0, .query = ""),
	OK("/x?&&a&&", "/x", 0, .query = "&&a&&", .nparams = 1, .params = { { "a", NULL } }),
	OK("/x?a%3Db=c%26d", "/x", 0, .query = "a=b=c&d", .nparams = 1, .params = { { "a=b", "c&d" } }),
	OK("/x?a=b=c&=v&k=", "/x", 0, .query = "a=b=c&=v&k=", .nparams = 3,
	   .params = { { "a", "b=c" }, { "", "v" }, { "k", "" } }),
	OK("/x?+a+=+%2B", "/x", 0, .query = " a = +", .nparams = 1, .params = { { " a ", " +" } }),
	OK("/x?a=1;b=2", "/x", F(QUERY_SEMICOLON), .query = "a=1;b=2", .nparams = 1,
	   .params = { { "a", "1;b=2" } }),
	OK("/x?a=%zz&b=%4", "/x", F(QUERY_BAD_PERCENT_ENCODING), .query = "a=%zz&b=%4", .nparams = 2,
	   .params = { { "a", "%zz" }, { "b", "%4" } }),
	OK("/x?a=%2541", "/x", F(QUERY_DOUBLE_ENCODING), .query = "a=%41", .nparams = 1,
	   .params = { { "a", "%41" } }),
	OK("/x?a=%%341", "/x", F(QUERY_BAD_PERCENT_ENCODING) | F(QUERY_DOUBLE_ENCODING),
	   .query = "a=%41", .nparams = 1, .params = { { "a", "%41" } }),
	OK("/x?a=%c0%ae", "/x", F(QUERY_OVERLONG_UTF8), .query = "a=\xc0\xae", .nparams = 1,
	   .params = { { "a", "\xc0\xae" } }),
	OK("/x?a=%e0%80%afb&c=%f0%8f%bf%bf", "/x", F(QUERY_OVERLONG_UTF8),
	   .query = "a=\xe0\x80\xaf" "b&c=\xf0\x8f\xbf\xbf", .nparams = 2,
	   .params = { { "a", "\xe0\x80\xaf" "b" }, { "c", "\xf0\x8f\xbf\xbf" } }),
	OK("/x?a=%c3&b=%e2%82%ac", "/x", F(QUERY_INVALID_UTF8), .query = "a=\xc3&b=\xe2\x82\xac",
	   .nparams = 2, .params = { { "a", "\xc3" }, { "b", "\xe2\x82\xac" } }),
	OK("/x?q=a?b/../c", "/x", 0, .query = "q=a?b/../c", .nparams = 1,
	   .params = { { "q", "a?b/../c" } }),
	OK("/a/../b?x=%2e%2e", "/b", F(PATH_DOT_SEGMENTS), .query = "x=..", .nparams = 1,
	   .params = { { "x", ".." } }),
	/* Fragments are not sent by conforming clients: ignored and flagged. */
	OK("/a#frag", "/a", F(FRAGMENT)),
	OK("/a?x=1#f?y=2", "/a", F(FRAGMENT), .query = "x=1", .nparams = 1, .params = { { "x", "1" } }),
	OK("/a#f?x=1", "/a", F(FRAGMENT)),
	/* absolute-form: the authority is recorded, the path and query are the URI's. */
	OK("http://host:8080/p?q=1", "/p", 0, .form = ZTG_HTTP_TARGET_ABSOLUTE, .authority = "host:8080",
	   .query = "q=1", .nparams = 1, .params = { { "q", "1" } }),
	OK("HTTPS://Example.COM", "/", 0, .form = ZTG_HTTP_TARGET_ABSOLUTE, .authority = "Example.COM"),
	OK("http://h?x", "/", 0, .form = ZTG_HTTP_TARGET_ABSOLUTE, .authority = "h",
	   .query = "x", .nparams = 1, .params = { { "x", NULL } }),
	OK("http://[2001:db8::1]:80/a/../b", "/b", F(PATH_DOT_SEGMENTS), .form = ZTG_HTTP_TARGET_ABSOLUTE,
	   .authority = "[2001:db8::1]:80"),
	OK("http://h#x", "/", F(FRAGMENT), .form = ZTG_HTTP_TARGET_ABSOLUTE, .authority = "h"),
	BAD("ftp://h/x", TARGET_BAD_SCHEME, 0, 0, .form = ZTG_HTTP_TARGET_ABSOLUTE),
	BAD("httpx://h/x", TARGET_BAD_SCHEME, 0, 0, .form = ZTG_HTTP_TARGET_ABSOLUTE),
	BAD("http:///x", TARGET_BAD_AUTHORITY, 0, 7, .form = ZTG_HTTP_TARGET_ABSOLUTE, .authority = ""),
	BAD("http://user@h/x", TARGET_BAD_AUTHORITY, 0, 7, .form = ZTG_HTTP_TARGET_ABSOLUTE,
	    .authority = "user@h"),
	BAD("http://evil\\@good/x", TARGET_BAD_AUTHORITY, 0, 7, .form = ZTG_HTTP_TARGET_ABSOLUTE,
	    .authority = "evil\\@good"),
	BAD("http://h:99999/", TARGET_BAD_AUTHORITY, 0, 7, .form = ZTG_HTTP_TARGET_ABSOLUTE,
	    .authority = "h:99999"),
	/* asterisk- and authority-form. */
	OK("*", "*", 0, .form = ZTG_HTTP_TARGET_ASTERISK),
	BAD("*x", TARGET_BAD_FORM, 0, 0),
	OK("example.com:443", "", 0, .form = ZTG_HTTP_TARGET_AUTHORITY, .authority = "example.com:443"),
	OK("[::1]:8443", "", 0, .form = ZTG_HTTP_TARGET_AUTHORITY, .authority = "[::1]:8443"),
	BAD("example.com", TARGET_BAD_FORM, 0, 0),
	BAD("?x", TARGET_BAD_FORM, 0, 0),
	BAD("a/b", TARGET_BAD_FORM, 0, 0),
};

static void check_case(const struct target_case *c)
{
	const struct ztg_http_target_view *v;
	struct run r;

	run_target(&r, c->target, (uint32_t)strlen(c->target));
	v = &r.view;
	if (r.err != c->err || v->flags != c->flags)
		print_error("target \"%s\": got %s flags %#x, want %s flags %#x\n", c->target,
			    ztg_http_normalize_error_name(r.err), v->flags,
			    ztg_http_normalize_error_name(c->err), c->flags);
	assert_int_equal(r.err, c->err);
	assert_int_equal(v->flags, c->flags);
	assert_int_equal(v->form, c->form);
	if (c->authority)
		assert_true(slice_is(v->authority, c->authority));
	else
		assert_int_equal(v->authority.len, 0);
	if (c->err != E(NONE)) {
		assert_int_equal(v->error_offset, c->error_offset);
		run_free(&r);
		return;
	}
	if (!slice_is(v->path, c->path))
		print_error("target \"%s\": path \"%.*s\", want \"%s\"\n", c->target, (int)v->path.len,
			    (const char *)v->path.ptr, c->path);
	assert_true(slice_is(v->path, c->path));
	assert_int_equal(v->has_query, c->query != NULL);
	if (c->query)
		assert_true(slice_is(v->query, c->query));
	assert_int_equal(v->param_count, c->nparams);
	for (uint32_t i = 0; i < c->nparams; i++) {
		assert_true(slice_is(v->params[i].name, c->params[i].name));
		assert_int_equal(v->params[i].has_value, c->params[i].value != NULL);
		if (c->params[i].value)
			assert_true(slice_is(v->params[i].value, c->params[i].value));
	}
	run_free(&r);
}

static void test_target_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++)
		check_case(&target_cases[i]);
}

/* ----------------------------------------------------------- single cases */

static void test_raw_bytes_kept(void **state)
{
	const char *t = "http://h:1/a;x=1/%2e%2e/b?k=%41+v#frag";
	const struct ztg_http_target_view *v;
	struct run r;

	(void)state;
	run_target(&r, t, (uint32_t)strlen(t));
	v = &r.view;
	assert_int_equal(r.err, E(NONE));
	assert_true(slice_is(v->scheme, "http"));
	assert_true(slice_is(v->authority, "h:1"));
	assert_true(slice_is(v->raw_path, "/a;x=1/%2e%2e/b"));
	assert_true(slice_is(v->raw_query, "k=%41+v"));
	assert_true(slice_is(v->fragment, "frag"));
	assert_true(slice_is(v->path, "/b"));
	assert_true(slice_is(v->decoded, "/b?k=A v"));
	assert_ptr_equal(v->raw_path.ptr, r.target + 10);
	run_free(&r);
}

static void test_decoded_nul_in_query_value(void **state)
{
	const char *t = "/x?a=b%00c";
	const struct ztg_http_target_view *v;
	struct run r;

	(void)state;
	run_target(&r, t, (uint32_t)strlen(t));
	v = &r.view;
	assert_int_equal(r.err, E(NONE));
	assert_int_equal(v->flags, F(QUERY_NUL_BYTE));
	assert_int_equal(v->params[0].value.len, 3);
	assert_memory_equal(v->params[0].value.ptr, "b\0c", 3);
	run_free(&r);
}

static void test_raw_nul_in_path(void **state)
{
	static const uint8_t t[] = { '/', 'a', '\0', 'b' };
	struct run r;

	(void)state;
	run_target(&r, t, sizeof(t));
	assert_int_equal(r.err, E(PATH_NUL_BYTE));
	assert_int_equal(r.view.error_offset, 2);
	run_free(&r);
}

static void test_path_max_length(void **state)
{
	uint8_t t[ZTG_HTTP_MAX_PATH_LEN + 16];
	struct run r;

	(void)state;
	t[0] = '/';
	memset(t + 1, 'a', sizeof(t) - 1);

	run_target(&r, t, ZTG_HTTP_MAX_PATH_LEN);
	assert_int_equal(r.err, E(NONE));
	assert_int_equal(r.view.path.len, ZTG_HTTP_MAX_PATH_LEN);
	run_free(&r);

	run_target(&r, t, ZTG_HTTP_MAX_PATH_LEN + 1);
	assert_int_equal(r.err, E(PATH_TOO_LONG));
	assert_int_equal(r.view.error_offset, 0);
	run_free(&r);

	/* The limit is on the canonical path: what dot segments remove does not count. */
	memcpy(t, "/./", 3);
	run_target(&r, t, ZTG_HTTP_MAX_PATH_LEN + 2);
	assert_int_equal(r.err, E(NONE));
	assert_int_equal(r.view.flags, F(PATH_DOT_SEGMENTS));
	assert_int_equal(r.view.path.len, ZTG_HTTP_MAX_PATH_LEN);
	run_free(&r);

	/* Encoded bytes count once decoded: 4096 "%41" is a 4097-byte path. */
	{
		uint32_t n = 1 + 3 * ZTG_HTTP_MAX_PATH_LEN;
		uint8_t *big = malloc(n);

		assert_non_null(big);
		big[0] = '/';
		for (uint32_t i = 0; i < ZTG_HTTP_MAX_PATH_LEN; i++)
			memcpy(big + 1 + 3 * i, "%41", 3);
		run_target(&r, big, n);
		assert_int_equal(r.err, E(PATH_TOO_LONG));
		run_free(&r);
		run_target(&r, big, n - 3);
		assert_int_equal(r.err, E(NONE));
		assert_int_equal(r.view.path.len, ZTG_HTTP_MAX_PATH_LEN);
		run_free(&r);
		free(big);
	}
}

/* "/p?k0=v0&k1=v1&..." with n pairs. */
static uint32_t build_params(char *out, size_t cap, uint32_t n)
{
	size_t len = (size_t)snprintf(out, cap, "/p?");

	for (uint32_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "%sk%u=v%u", i ? "&" : "", i, i);
	assert_true(len < cap);
	return (uint32_t)len;
}

static void test_query_param_limit(void **state)
{
	char t[2048], name[16];
	uint32_t len, off;
	struct run r;

	(void)state;
	len = build_params(t, sizeof(t), ZTG_HTTP_MAX_QUERY_PARAMS);
	run_target(&r, t, len);
	assert_int_equal(r.err, E(NONE));
	assert_int_equal(r.view.param_count, ZTG_HTTP_MAX_QUERY_PARAMS);
	for (uint32_t i = 0; i < ZTG_HTTP_MAX_QUERY_PARAMS; i++) {
		snprintf(name, sizeof(name), "k%u", i);
		assert_true(slice_is(r.view.params[i].name, name));
	}
	run_free(&r);

	/* Empty pairs are not parameters: they do not count. */
	memcpy(t + len, "&&&", 4);
	run_target(&r, t, len + 3);
	assert_int_equal(r.err, E(NONE));
	assert_int_equal(r.view.param_count, ZTG_HTTP_MAX_QUERY_PARAMS);
	run_free(&r);

	len = build_params(t, sizeof(t), ZTG_HTTP_MAX_QUERY_PARAMS + 1);
	off = (uint32_t)(strstr(t, "&k64=") - t) + 1;
	run_target(&r, t, len);
	assert_int_equal(r.err, E(QUERY_TOO_MANY_PARAMS));
	assert_int_equal(r.view.error_offset, off);
	run_free(&r);
}

static void test_buffer_too_small(void **state)
{
	const char *t = "/a/b?x";
	struct run r;

	(void)state;
	run_target_buf(&r, t, 6, 5);
	assert_int_equal(r.err, E(BUFFER_TOO_SMALL));
	run_free(&r);
	run_target_buf(&r, "*", 1, 0);
	assert_int_equal(r.err, E(BUFFER_TOO_SMALL));
	run_free(&r);
	/* authority-form writes nothing: no buffer is fine. */
	assert_int_equal(ztg_http_normalize_target((const uint8_t *)"h:1", 3, NULL, 0, &r.view), E(NONE));
}

static void test_bad_arguments(void **state)
{
	struct ztg_http_target_view view;
	uint8_t buf[8];

	(void)state;
	assert_int_equal(ztg_http_normalize_target((const uint8_t *)"/", 1, buf, sizeof(buf), NULL),
			 E(BAD_ARGUMENT));
	assert_int_equal(ztg_http_normalize_target(NULL, 1, buf, sizeof(buf), &view), E(BAD_ARGUMENT));
	assert_int_equal(ztg_http_normalize_target((const uint8_t *)"/", 1, NULL, 1, &view), E(BAD_ARGUMENT));
	assert_int_equal(ztg_http_normalize_target(NULL, 0, buf, sizeof(buf), &view), E(TARGET_EMPTY));
	assert_int_equal(view.path.len, 0);
}

/* The view is reset on every call: nothing survives from a previous target. */
static void test_view_reused(void **state)
{
	struct ztg_http_target_view view;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(ztg_http_normalize_target((const uint8_t *)"/a?x=1#f", 8, buf, sizeof(buf), &view),
			 E(NONE));
	assert_int_equal(view.param_count, 1);
	assert_int_equal(ztg_http_normalize_target((const uint8_t *)"/b", 2, buf, sizeof(buf), &view),
			 E(NONE));
	assert_int_equal(view.param_count, 0);
	assert_int_equal(view.flags, 0);
	assert_false(view.has_query);
	assert_null(view.fragment.ptr);
	assert_true(slice_is(view.decoded, "/b"));
}

/*
 * Random targets over an alphabet of the bytes that matter: whatever the
 * result, the harness's bounds and invariants must hold.
 */
static void test_random_targets(void **state)
{
	static const char alphabet[] = "/./%2e5cf0a;\\?&=+#%2F%00c0aeH";
	uint32_t seed = 0x2545f491u;
	uint8_t t[96];

	(void)state;
	for (int iter = 0; iter < 50000; iter++) {
		struct run r;
		uint32_t len;

		seed = seed * 1664525u + 1013904223u;
		len = 1 + (seed >> 8) % (sizeof(t) - 1);
		for (uint32_t i = 0; i < len; i++) {
			seed = seed * 1664525u + 1013904223u;
			t[i] = (uint8_t)alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		if (iter % 4)
			t[0] = '/';
		run_target(&r, t, len);
		run_free(&r);
	}
}

/* ------------------------------------------------------------------- host */

struct host_case {
	const char *in;
	enum ztg_http_normalize_error err;
	const char *name;
	int port;                  /* -1: none */
	uint8_t kind;
	bool trailing_dot;
};

#define HOST_OK(i, n, p, k, ...) \
	{ .in = (i), .err = E(NONE), .name = (n), .port = (p), .kind = ZTG_HTTP_HOST_##k, __VA_ARGS__ }
#define HOST_BAD(i, e) { .in = (i), .err = E(e), .port = -1 }

static const struct host_case host_cases[] = {
	HOST_OK("example.com:8080", "example.com", 8080, NAME),
	HOST_OK("example.com", "example.com", -1, NAME),
	HOST_OK("EXAMPLE.Com:443", "example.com", 443, NAME),
	HOST_OK("example.com.", "example.com", -1, NAME, .trailing_dot = true),
	HOST_OK("example.com.:80", "example.com", 80, NAME, .trailing_dot = true),
	HOST_OK("my_host-1", "my_host-1", -1, NAME),
	HOST_OK("example.com:", "example.com", -1, NAME),
	HOST_OK("h:0", "h", 0, NAME),
	HOST_OK("h:65535", "h", 65535, NAME),
	HOST_OK("10.0.0.1:80", "10.0.0.1", 80, IPV4),
	HOST_OK("255.255.255.255", "255.255.255.255", -1, IPV4),
	HOST_OK("010.0.0.1", "010.0.0.1", -1, NAME),
	HOST_OK("256.0.0.1", "256.0.0.1", -1, NAME),
	HOST_OK("2130706433", "2130706433", -1, NAME),
	HOST_OK("[2001:db8::1]:443", "[2001:db8::1]", 443, IPV6),
	HOST_OK("[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]", -1, IPV6),
	HOST_OK("[::1]:8080", "[::1]", 8080, IPV6),
	HOST_OK("[::1]:", "[::1]", -1, IPV6),
	HOST_OK("[::ffff:a:b]", "[::ffff:0.10.0.11]", -1, IPV6),
	HOST_BAD("", HOST_EMPTY),
	HOST_BAD(":80", HOST_EMPTY),
	HOST_BAD(".", HOST_BAD_NAME),
	HOST_BAD("a..b", HOST_BAD_NAME),
	HOST_BAD(".a", HOST_BAD_NAME),
	HOST_BAD("a..", HOST_BAD_NAME),
	HOST_BAD("ex ample", HOST_BAD_NAME),
	HOST_BAD("user@host", HOST_BAD_NAME),
	HOST_BAD("a%2eb", HOST_BAD_NAME),
	HOST_BAD("a/b", HOST_BAD_NAME),
	HOST_BAD("caf\xc3\xa9.fr", HOST_BAD_NAME),
	HOST_BAD("h:99999", HOST_BAD_PORT),
	HOST_BAD("h:65536", HOST_BAD_PORT),
	HOST_BAD("h:000080", HOST_BAD_PORT),
	HOST_BAD("h:8a", HOST_BAD_PORT),
	HOST_BAD("h:80:80", HOST_BAD_PORT),
	HOST_BAD("h: 80", HOST_BAD_PORT),
	HOST_BAD("[::1]:x", HOST_BAD_PORT),
	HOST_BAD("[::1", HOST_BAD_IP_LITERAL),
	HOST_BAD("[::1]x", HOST_BAD_IP_LITERAL),
	HOST_BAD("[]", HOST_BAD_IP_LITERAL),
	HOST_BAD("[fe80::1%25eth0]", HOST_BAD_IP_LITERAL),
	HOST_BAD("[v1.x]", HOST_BAD_IP_LITERAL),
	HOST_BAD("[1.2.3.4]", HOST_BAD_IP_LITERAL),
	HOST_BAD("[1:2:3:4:5:6:7:8:9]", HOST_BAD_IP_LITERAL),
	HOST_BAD("[0000:0000:0000:0000:0000:0000:0000:0000:0]", HOST_BAD_IP_LITERAL),
};

static void check_host_case(const struct host_case *c)
{
	uint8_t *in = malloc(strlen(c->in) + 1);
	uint8_t buf[ZTG_HTTP_HOST_BUF_LEN];
	struct ztg_http_host h;
	enum ztg_http_normalize_error err;

	assert_non_null(in);
	memcpy(in, c->in, strlen(c->in));
	memset(&h, 0x5a, sizeof(h));
	err = ztg_http_host_without_port((struct ztg_http_slice){ in, (uint32_t)strlen(c->in) }, buf,
					 sizeof(buf), &h);
	if (err != c->err)
		print_error("host \"%s\": got %s, want %s\n", c->in, ztg_http_normalize_error_name(err),
			    ztg_http_normalize_error_name(c->err));
	assert_int_equal(err, c->err);
	if (err == E(NONE)) {
		if (!slice_is(h.name, c->name))
			print_error("host \"%s\": name \"%.*s\"\n", c->in, (int)h.name.len,
				    (const char *)h.name.ptr);
		assert_true(slice_is(h.name, c->name));
		assert_ptr_equal(h.name.ptr, buf);
		assert_int_equal(h.has_port, c->port >= 0);
		if (c->port >= 0)
			assert_int_equal(h.port, c->port);
		assert_int_equal(h.kind, c->kind);
		assert_int_equal(h.trailing_dot, c->trailing_dot);
	} else {
		/* untouched on error */
		assert_int_equal(h.kind, 0x5a);
	}
	free(in);
}

static void test_host_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
		check_host_case(&host_cases[i]);
}

static void test_host_lengths(void **state)
{
	uint8_t name[ZTG_HTTP_HOST_MAX_LEN + 8], buf[ZTG_HTTP_HOST_BUF_LEN];
	struct ztg_http_host h;

	(void)state;
	memset(name, 'a', sizeof(name));
	for (uint32_t i = 63; i < sizeof(name); i += 64)
		name[i] = '.';
	name[ZTG_HTTP_HOST_MAX_LEN - 1] = 'z';
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ name, ZTG_HTTP_HOST_MAX_LEN },
						    buf, sizeof(buf), &h), E(NONE));
	assert_int_equal(h.name.len, ZTG_HTTP_HOST_MAX_LEN);
	/* The trailing dot does not count. */
	name[ZTG_HTTP_HOST_MAX_LEN] = '.';
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ name, ZTG_HTTP_HOST_MAX_LEN + 1 },
						    buf, sizeof(buf), &h), E(NONE));
	assert_true(h.trailing_dot);
	name[ZTG_HTTP_HOST_MAX_LEN] = 'a';
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ name, ZTG_HTTP_HOST_MAX_LEN + 1 },
						    buf, sizeof(buf), &h), E(HOST_TOO_LONG));

	/* Buffers: the name must fit; an IPv6 literal may grow in canonical form. */
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ (const uint8_t *)"Abc:1", 5 },
						    buf, 2, &h), E(BUFFER_TOO_SMALL));
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ (const uint8_t *)"Abc:1", 5 },
						    buf, 3, &h), E(NONE));
	assert_true(slice_is(h.name, "abc"));
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ (const uint8_t *)"[::ffff:a:b]", 12 },
						    buf, 12, &h), E(BUFFER_TOO_SMALL));
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ (const uint8_t *)"h", 1 },
						    NULL, 0, &h), E(BUFFER_TOO_SMALL));
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ (const uint8_t *)"h", 1 },
						    buf, sizeof(buf), NULL), E(BAD_ARGUMENT));
	assert_int_equal(ztg_http_host_without_port((struct ztg_http_slice){ NULL, 1 },
						    buf, sizeof(buf), &h), E(BAD_ARGUMENT));
}

/* ----------------------------------------------------------- header names */

static struct ztg_http_slice S(const char *s)
{
	return (struct ztg_http_slice){ (const uint8_t *)s, (uint32_t)strlen(s) };
}

static void test_header_name_equal(void **state)
{
	(void)state;
	assert_true(ztg_http_header_name_equal(S("Content-Type"), "content-type"));
	assert_true(ztg_http_header_name_equal(S("CONTENT-TYPE"), "content-type"));
	assert_true(ztg_http_header_name_equal(S("content-type"), "content-type"));
	assert_false(ztg_http_header_name_equal(S("Content-Typ"), "content-type"));
	assert_false(ztg_http_header_name_equal(S("Content-Types"), "content-type"));
	assert_false(ztg_http_header_name_equal(S("Content_Type"), "content-type"));
	assert_false(ztg_http_header_name_equal(S("host"), "Host"));   /* the name must be given lowercase */
	assert_false(ztg_http_header_name_equal(S("Host"), NULL));
	assert_false(ztg_http_header_name_equal((struct ztg_http_slice){ NULL, 4 }, "host"));
	assert_true(ztg_http_header_name_equal((struct ztg_http_slice){ NULL, 0 }, ""));
	/* '[' is 'Z' + 1 and '{' is 'z' + 1: folding is for letters only. */
	assert_false(ztg_http_header_name_equal(S("["), "{"));
	/* No NUL trick: the slice length rules. */
	assert_false(ztg_http_header_name_equal((struct ztg_http_slice){ (const uint8_t *)"host\0x", 6 },
						"host"));
}

static void test_fold_name(void **state)
{
	struct ztg_http_slice out;
	uint8_t buf[16], in_place[] = "X-Api-KEY";

	(void)state;
	assert_int_equal(ztg_http_fold_name(S("X-Api-KEY"), buf, sizeof(buf), &out), E(NONE));
	assert_true(slice_is(out, "x-api-key"));
	assert_ptr_equal(out.ptr, buf);
	assert_int_equal(ztg_http_fold_name(S("X-Api-KEY"), buf, 8, &out), E(BUFFER_TOO_SMALL));
	assert_int_equal(ztg_http_fold_name(S("X"), buf, sizeof(buf), NULL), E(BAD_ARGUMENT));
	assert_int_equal(ztg_http_fold_name((struct ztg_http_slice){ in_place, 9 }, in_place, 9, &out), E(NONE));
	assert_memory_equal(in_place, "x-api-key", 9);
	assert_int_equal(ztg_http_fold_name((struct ztg_http_slice){ NULL, 0 }, NULL, 0, &out), E(NONE));
	assert_int_equal(out.len, 0);
}

/* ------------------------------------------------------------------ names */

static void test_names(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < ZTG_HTTP_NORM_ERROR_COUNT; i++) {
		const char *a = ztg_http_normalize_error_name((enum ztg_http_normalize_error)i);

		assert_non_null(a);
		assert_string_not_equal(a, "unknown");
		for (unsigned int j = 0; j < i; j++)
			assert_string_not_equal(a, ztg_http_normalize_error_name((enum ztg_http_normalize_error)j));
	}
	assert_string_equal(ztg_http_normalize_error_name(ZTG_HTTP_NORM_ERROR_COUNT), "unknown");
	assert_string_equal(ztg_http_normalize_error_name(E(PATH_OVERLONG_UTF8)), "path_overlong_utf8");
	for (unsigned int i = 0; i < ZTG_HTTP_TARGET_FLAG_COUNT; i++) {
		const char *a = ztg_http_target_flag_name(i);

		assert_non_null(a);
		assert_string_not_equal(a, "unknown");
		for (unsigned int j = 0; j < i; j++)
			assert_string_not_equal(a, ztg_http_target_flag_name(j));
		for (unsigned int j = 0; j < ZTG_HTTP_NORM_ERROR_COUNT; j++)
			assert_string_not_equal(a, ztg_http_normalize_error_name((enum ztg_http_normalize_error)j));
	}
	assert_string_equal(ztg_http_target_flag_name(ZTG_HTTP_TARGET_BIT_PATH_ABOVE_ROOT), "path_above_root");
	assert_int_equal(F(PATH_ABOVE_ROOT), 1u << ZTG_HTTP_TARGET_BIT_PATH_ABOVE_ROOT);
	assert_string_equal(ztg_http_target_flag_name(ZTG_HTTP_TARGET_FLAG_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_table),
		cmocka_unit_test(test_raw_bytes_kept),
		cmocka_unit_test(test_decoded_nul_in_query_value),
		cmocka_unit_test(test_raw_nul_in_path),
		cmocka_unit_test(test_path_max_length),
		cmocka_unit_test(test_query_param_limit),
		cmocka_unit_test(test_buffer_too_small),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_view_reused),
		cmocka_unit_test(test_random_targets),
		cmocka_unit_test(test_host_table),
		cmocka_unit_test(test_host_lengths),
		cmocka_unit_test(test_header_name_equal),
		cmocka_unit_test(test_fold_name),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
