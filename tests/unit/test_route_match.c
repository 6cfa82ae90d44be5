/*
 * Unit tests for the compiled route matcher (policy/route_match.h).
 *
 * Every path goes through run(), which copies it into a heap block of
 * exactly its length (no NUL), so ASan flags any read past the end, and
 * checks the invariants of every answer: captures and tail inside the path,
 * on segment boundaries, as many as the route has parameters. Two property
 * tests compare the matcher with a brute-force reference (every route tried,
 * the most specific kept) written here from the documented rules alone.
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

#include "policy/route_match.h"

#define BIT(m)    ZTG_ROUTE_METHOD_BIT(ZTG_HTTP_METHOD_##m)
#define ANY       ZTG_ROUTE_METHOD_ANY
#define M_GET     ZTG_HTTP_METHOD_GET
#define M_POST    ZTG_HTTP_METHOD_POST
#define M_PUT     ZTG_HTTP_METHOD_PUT
#define M_DELETE  ZTG_HTTP_METHOD_DELETE
#define M_PATCH   ZTG_HTTP_METHOD_PATCH
#define M_OTHER   ZTG_HTTP_METHOD_OTHER
#define NONE      ZTG_ROUTE_NONE
#define R(sym)    ZTG_ROUTE_##sym
#define E(sym)    ZTG_ROUTE_E_##sym
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- harness */

#define ai(a, b) _assert_int_equal(cast_to_largest_integral_type(a), cast_to_largest_integral_type(b), file, line)
#define at(c)    _assert_true(cast_to_largest_integral_type(c), #c, file, line)

static struct ztg_route_matcher *build_ok_at(const struct ztg_route_spec *specs, uint32_t n, const char *file,
					     int line)
{
	struct ztg_route_diag err;
	struct ztg_route_matcher *m = ztg_route_matcher_build(specs, n, NULL, &err);

	if (m == NULL)
		print_error("build failed: route %u: %s\n", err.route_index, err.message);
	at(m != NULL);
	ai(err.code, E(NONE));
	ai(ztg_route_matcher_route_count(m), n);
	return m;
}
#define build_ok(specs, n) build_ok_at(specs, n, __FILE__, __LINE__)

/* What every answer must satisfy, whatever the routes. */
static void check_answer(const struct ztg_route_matcher *m, const char *p, size_t len, enum ztg_route_result r,
			 const struct ztg_route_match *o, const char *file, int line)
{
	struct ztg_route_info info;

	at(r == R(MATCH) || r == R(NO_ROUTE) || r == R(METHOD_NOT_ALLOWED));
	if (r == R(NO_ROUTE)) {
		ai(o->route_index, NONE);
		ai(o->param_count, 0);
		ai(o->allowed, 0);
		at(!o->has_tail);
		return;
	}
	ai(ztg_route_matcher_route_info(m, o->route_index, &info), 0);
	ai(o->route_id, info.route_id);
	ai(o->param_count, info.param_count);
	ai(o->has_tail, info.has_wildcard);
	if (r == R(MATCH))
		ai(o->allowed, info.methods);
	else
		ai(o->allowed & info.methods, info.methods);
	for (uint32_t i = 0; i < o->param_count; i++) {
		const struct ztg_route_capture *c = &o->params[i];
		ai(c->param, i);
		at(c->len > 0);
		at(c->off >= 1 && c->off + c->len <= len);
		ai(p[c->off - 1], '/');
		at(memchr(p + c->off, '/', c->len) == NULL);
		at(c->off + c->len == len || p[c->off + c->len] == '/');
		if (i > 0)
			at(c->off > o->params[i - 1].off + o->params[i - 1].len);
	}
	if (o->has_tail) {
		at(o->tail_off >= 1 && o->tail_off <= len);
		ai(p[o->tail_off - 1], '/');
		ai(o->tail_off + o->tail_len, len);
	}
}

static enum ztg_route_result run_bytes_at(const struct ztg_route_matcher *m, unsigned int method, const char *path,
					  size_t len, struct ztg_route_match *out, const char *file, int line)
{
	char *buf = malloc(len ? len : 1);
	enum ztg_route_result r, r2;

	assert_non_null(buf);
	memcpy(buf, path, len);
	r = ztg_route_matcher_match(m, method, buf, len, out);
	check_answer(m, buf, len, r, out, file, line);
	r2 = ztg_route_matcher_match(m, method, buf, len, NULL);
	ai(r2, r);
	free(buf);
	return r;
}

static struct ztg_route_match expect_at(const struct ztg_route_matcher *m, unsigned int method, const char *path,
					enum ztg_route_result want, uint32_t want_index, const char *file, int line)
{
	struct ztg_route_match out;
	enum ztg_route_result r = run_bytes_at(m, method, path, strlen(path), &out, file, line);

	if (r != want || out.route_index != want_index)
		print_error("%s %s: got %s route %d, want %s route %d\n", ztg_route_method_name(method), path,
			    ztg_route_result_name(r), (int)out.route_index, ztg_route_result_name(want),
			    (int)want_index);
	ai(r, want);
	ai(out.route_index, want_index);
	return out;
}
#define expect(m, method, path, want, idx) expect_at(m, method, path, R(want), idx, __FILE__, __LINE__)

static void capture_at(const struct ztg_route_match *o, const char *path, uint32_t i, const char *want,
		       const char *file, int line)
{
	at(i < o->param_count);
	ai(o->params[i].param, i);
	ai(o->params[i].len, strlen(want));
	_assert_memory_equal(path + o->params[i].off, want, strlen(want), file, line);
}
#define assert_capture(o, path, i, want) capture_at(&(o), path, i, want, __FILE__, __LINE__)

static void tail_at(const struct ztg_route_match *o, const char *path, const char *want, const char *file, int line)
{
	at(o->has_tail);
	ai(o->tail_len, strlen(want));
	_assert_memory_equal(path + o->tail_off, want, strlen(want), file, line);
}
#define assert_tail(o, path, want) tail_at(&(o), path, want, __FILE__, __LINE__)

/* Build that must fail: the first error's code, route, message substring (and position if >= 0). */
static void build_fails_at(const struct ztg_route_spec *specs, uint32_t n, enum ztg_route_error code, uint32_t index,
			   const char *substr, int position, const char *file, int line)
{
	struct ztg_route_diag err;
	struct ztg_route_matcher *m = ztg_route_matcher_build(specs, n, NULL, &err);

	if (m != NULL || err.code != code || strstr(err.message, substr) == NULL)
		print_error("want %s \"%s\", got %s route %d: %s\n", ztg_route_error_name(code), substr,
			    ztg_route_error_name(err.code), (int)err.route_index, err.message);
	at(m == NULL);
	ai(err.code, code);
	at(!err.warning);
	ai(err.route_index, index);
	at(strstr(err.message, substr) != NULL);
	if (position >= 0)
		ai(err.position, position);
	ztg_route_matcher_free(m);
}
#define build_fails(specs, n, code, index, substr, pos) \
	build_fails_at(specs, n, E(code), index, substr, pos, __FILE__, __LINE__)

/* Diagnostics collected through the callback. */
struct diag_log {
	uint32_t count;
	struct ztg_route_diag d[80];
};

static void collect(void *ctx, const struct ztg_route_diag *d)
{
	struct diag_log *log = ctx;

	if (log->count < N_ELEMS(log->d))
		log->d[log->count] = *d;
	log->count++;
}

/* Deterministic generator for the property tests. */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 11) % n);
}

/* ---------------------------------------------------------- precedence */

static void test_literal_param_wildcard(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/users/*", ANY, 102 },
		{ "/users/{id}", ANY, 101 },
		{ "/users/me", ANY, 100 },
		{ "/users", ANY, 103 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	o = expect(m, M_GET, "/users/me", MATCH, 2);
	assert_int_equal(o.route_id, 100);
	assert_int_equal(o.param_count, 0);
	assert_false(o.has_tail);
	o = expect(m, M_GET, "/users/42", MATCH, 1);
	assert_int_equal(o.route_id, 101);
	assert_capture(o, "/users/42", 0, "42");
	o = expect(m, M_GET, "/users/42/x", MATCH, 0);
	assert_tail(o, "/users/42/x", "42/x");
	o = expect(m, M_GET, "/users/me/x", MATCH, 0);
	assert_tail(o, "/users/me/x", "me/x");
	o = expect(m, M_GET, "/users/", MATCH, 0);
	assert_tail(o, "/users/", "");
	assert_int_equal(o.tail_off, 7);
	expect(m, M_GET, "/users", MATCH, 3);
	expect(m, M_GET, "/usersx", NO_ROUTE, NONE);
	expect(m, M_GET, "/user", NO_ROUTE, NONE);
	expect(m, M_GET, "/", NO_ROUTE, NONE);
	expect(m, M_GET, "/Users/me", NO_ROUTE, NONE);  /* case-sensitive */
	ztg_route_matcher_free(m);
}

static void test_backtracking(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/a/b/c", ANY, 0 },
		{ "/a/{x}/d", ANY, 1 },
		{ "/{y}/b/e", ANY, 2 },
		{ "/{y}/{z}/f/*", ANY, 3 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	expect(m, M_GET, "/a/b/c", MATCH, 0);
	/* literal b fails one level down: back to {x} */
	o = expect(m, M_GET, "/a/b/d", MATCH, 1);
	assert_capture(o, "/a/b/d", 0, "b");
	/* literal a then {x} both fail below: back to the root {y} */
	o = expect(m, M_GET, "/a/b/e", MATCH, 2);
	assert_capture(o, "/a/b/e", 0, "a");
	/* two levels of parameters after a failed literal branch */
	o = expect(m, M_GET, "/a/b/f/g/h", MATCH, 3);
	assert_capture(o, "/a/b/f/g/h", 0, "a");
	assert_capture(o, "/a/b/f/g/h", 1, "b");
	assert_tail(o, "/a/b/f/g/h", "g/h");
	expect(m, M_GET, "/a/b/c/d", NO_ROUTE, NONE);
	expect(m, M_GET, "/a/b", NO_ROUTE, NONE);
	expect(m, M_GET, "/a/b/f", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);

	/* A wildcard after a literal beats a parameter at that literal's place. */
	const struct ztg_route_spec specs2[] = {
		{ "/a/b/c", ANY, 0 },
		{ "/{y}/b/e", ANY, 1 },
		{ "/a/*", ANY, 2 },
	};
	m = build_ok(specs2, N_ELEMS(specs2));
	o = expect(m, M_GET, "/a/b/e", MATCH, 2);
	assert_tail(o, "/a/b/e", "b/e");
	expect(m, M_GET, "/z/b/e", MATCH, 1);
	ztg_route_matcher_free(m);
}

static void test_method_backtracking(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/users/me", BIT(GET), 0 },
		{ "/users/{id}", BIT(GET) | BIT(DELETE), 1 },
		{ "/users/*", ANY, 2 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	expect(m, M_GET, "/users/me", MATCH, 0);
	/* the path matches /users/me but the method does not: the search goes on */
	o = expect(m, M_DELETE, "/users/me", MATCH, 1);
	assert_capture(o, "/users/me", 0, "me");
	assert_int_equal(o.allowed, BIT(GET) | BIT(DELETE));
	o = expect(m, M_POST, "/users/me", MATCH, 2);
	assert_tail(o, "/users/me", "me");
	ztg_route_matcher_free(m);
}

static void test_method_not_allowed(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/users/me", BIT(GET), 10 },
		{ "/users/{id}", BIT(DELETE), 11 },
		{ "/files/*", BIT(GET) | BIT(HEAD), 12 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	/* most specific path match for explain, every path match in allowed */
	o = expect(m, M_POST, "/users/me", METHOD_NOT_ALLOWED, 0);
	assert_int_equal(o.route_id, 10);
	assert_int_equal(o.allowed, BIT(GET) | BIT(DELETE));
	assert_int_equal(o.param_count, 0);
	o = expect(m, M_POST, "/users/7", METHOD_NOT_ALLOWED, 1);
	assert_int_equal(o.allowed, BIT(DELETE));
	assert_capture(o, "/users/7", 0, "7");
	o = expect(m, M_PUT, "/files/a/b", METHOD_NOT_ALLOWED, 2);
	assert_tail(o, "/files/a/b", "a/b");
	assert_int_equal(o.allowed, BIT(GET) | BIT(HEAD));
	expect(m, M_DELETE, "/users/me", MATCH, 1);
	o = expect(m, M_POST, "/nothing", NO_ROUTE, NONE);
	assert_int_equal(o.allowed, 0);
	ztg_route_matcher_free(m);
}

static void test_method_other(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/a", BIT(GET) | BIT(POST), 0 },
		{ "/{p}", ANY, 1 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));

	expect(m, M_GET, "/a", MATCH, 0);
	expect(m, M_OTHER, "/a", MATCH, 1);
	expect(m, 99, "/a", MATCH, 1);        /* unknown values count as OTHER */
	expect(m, 1u << 31, "/a", MATCH, 1);
	for (unsigned int mt = 0; mt <= ZTG_ROUTE_METHOD_LAST; mt++)
		expect(m, mt, "/b", MATCH, 1);   /* ANY takes every method */
	ztg_route_matcher_free(m);

	m = build_ok(specs, 1);
	struct ztg_route_match o = expect(m, M_OTHER, "/a", METHOD_NOT_ALLOWED, 0);
	assert_int_equal(o.allowed, BIT(GET) | BIT(POST));
	expect(m, ZTG_HTTP_METHOD_TRACE, "/a", METHOD_NOT_ALLOWED, 0);
	ztg_route_matcher_free(m);
}

/* ---------------------------------------------------------- captures */

static void test_captures(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/orgs/{org}/repos/{repo}/issues/{num}", BIT(GET), 7 },
		{ "/files/{owner}/*", BIT(GET), 8 },
		{ "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", BIT(GET), 9 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	const char *p = "/orgs/acme/repos/ztgate/issues/1234";
	struct ztg_route_match o = expect(m, M_GET, p, MATCH, 0);
	struct ztg_route_info info;

	assert_int_equal(o.route_id, 7);
	assert_int_equal(o.param_count, 3);
	assert_int_equal(o.params[0].off, 6);
	assert_int_equal(o.params[0].len, 4);
	assert_int_equal(o.params[1].off, 17);
	assert_int_equal(o.params[1].len, 6);
	assert_int_equal(o.params[2].off, 31);
	assert_int_equal(o.params[2].len, 4);
	assert_capture(o, p, 2, "1234");
	assert_string_equal(ztg_route_matcher_param_name(m, 0, 0), "org");
	assert_string_equal(ztg_route_matcher_param_name(m, 0, 1), "repo");
	assert_string_equal(ztg_route_matcher_param_name(m, 0, 2), "num");
	assert_null(ztg_route_matcher_param_name(m, 0, 3));
	assert_null(ztg_route_matcher_param_name(m, 3, 0));
	assert_null(ztg_route_matcher_param_name(NULL, 0, 0));
	assert_int_equal(ztg_route_matcher_route_info(m, 0, &info), 0);
	assert_string_equal(info.template, specs[0].template);
	assert_int_equal(info.template_len, strlen(specs[0].template));
	assert_int_equal(info.methods, BIT(GET));
	assert_int_equal(info.param_count, 3);
	assert_false(info.has_wildcard);
	assert_int_equal(ztg_route_matcher_route_info(m, 3, &info), -1);

	p = "/files/bob/docs/a b.txt";
	o = expect(m, M_GET, p, MATCH, 1);
	assert_capture(o, p, 0, "bob");
	assert_tail(o, p, "docs/a b.txt");
	assert_string_equal(ztg_route_matcher_param_name(m, 1, 0), "owner");
	assert_int_equal(ztg_route_matcher_route_info(m, 1, &info), 0);
	assert_true(info.has_wildcard);

	p = "/1/22/333/4444/5/6/7/8";
	o = expect(m, M_GET, p, MATCH, 2);
	assert_int_equal(o.param_count, ZTG_ROUTE_MAX_PARAMS);
	assert_capture(o, p, 0, "1");
	assert_capture(o, p, 3, "4444");
	assert_capture(o, p, 7, "8");
	assert_string_equal(ztg_route_matcher_param_name(m, 2, 7), "h");
	expect(m, M_GET, "/1/22/333/4444/5/6/7/", NO_ROUTE, NONE);  /* {h} needs a non-empty segment */
	ztg_route_matcher_free(m);
}

/* ---------------------------------------------------------- wildcards, slashes */

static void test_static_wildcard(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = { { "/static/*", BIT(GET), 0 } };
	struct ztg_route_matcher *m = build_ok(specs, 1);
	struct ztg_route_match o;

	expect(m, M_GET, "/static", NO_ROUTE, NONE);
	expect(m, M_GET, "/staticx", NO_ROUTE, NONE);
	expect(m, M_GET, "/", NO_ROUTE, NONE);
	o = expect(m, M_GET, "/static/", MATCH, 0);
	assert_tail(o, "/static/", "");
	assert_int_equal(o.tail_off, 8);
	o = expect(m, M_GET, "/static/a", MATCH, 0);
	assert_tail(o, "/static/a", "a");
	o = expect(m, M_GET, "/static/a/b", MATCH, 0);
	assert_tail(o, "/static/a/b", "a/b");
	o = expect(m, M_GET, "/static/a/", MATCH, 0);
	assert_tail(o, "/static/a/", "a/");
	o = expect(m, M_GET, "/static//x", MATCH, 0);   /* an empty segment the normaliser would have merged */
	assert_tail(o, "/static//x", "/x");
	expect(m, M_POST, "/static/a", METHOD_NOT_ALLOWED, 0);
	ztg_route_matcher_free(m);
}

static void test_catch_all(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/*", BIT(GET), 0 },
		{ "/api/{v}", BIT(GET), 1 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	o = expect(m, M_GET, "/", MATCH, 0);
	assert_tail(o, "/", "");
	assert_int_equal(o.tail_off, 1);
	o = expect(m, M_GET, "/a/b/c", MATCH, 0);
	assert_tail(o, "/a/b/c", "a/b/c");
	o = expect(m, M_GET, "/api/x", MATCH, 1);
	assert_capture(o, "/api/x", 0, "x");
	expect(m, M_GET, "/api/x/y", MATCH, 0);
	o = expect(m, M_GET, "/api/", MATCH, 0);      /* {v} never matches an empty segment */
	assert_tail(o, "/api/", "api/");
	o = expect(m, M_GET, "//", MATCH, 0);
	assert_tail(o, "//", "/");
	expect(m, M_POST, "/", METHOD_NOT_ALLOWED, 0);
	/* not a path: asterisk-form, authority-form, empty */
	expect(m, M_GET, "*", NO_ROUTE, NONE);
	expect(m, M_GET, "host:443", NO_ROUTE, NONE);
	expect(m, M_GET, "", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);
}

static void test_trailing_slash(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/orders", BIT(GET), 0 },
		{ "/orders/", BIT(GET), 1 },
		{ "/", BIT(GET), 2 },
		{ "/orders/{id}/", BIT(GET), 3 },
		{ "/orders/{id}", BIT(POST), 4 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	expect(m, M_GET, "/orders", MATCH, 0);
	expect(m, M_GET, "/orders/", MATCH, 1);
	expect(m, M_GET, "/", MATCH, 2);
	o = expect(m, M_GET, "/orders/5/", MATCH, 3);
	assert_capture(o, "/orders/5/", 0, "5");
	expect(m, M_GET, "/orders/5", METHOD_NOT_ALLOWED, 4);
	expect(m, M_POST, "/orders/5", MATCH, 4);
	expect(m, M_POST, "/orders/", METHOD_NOT_ALLOWED, 1);  /* "" is not an {id} */
	expect(m, M_GET, "/orders//", NO_ROUTE, NONE);
	expect(m, M_GET, "/orders/5//", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);
}

static void test_empty_segments_in_path(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/a/{x}/b", ANY, 0 },
		{ "/a/", ANY, 1 },
		{ "/a/*", BIT(POST), 2 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_match o;

	/* "" leads into the trailing-slash node, then {x} refuses "", then "*" */
	o = expect(m, M_POST, "/a//b", MATCH, 2);
	assert_tail(o, "/a//b", "/b");
	expect(m, M_GET, "/a//b", METHOD_NOT_ALLOWED, 2);
	expect(m, M_GET, "/a/", MATCH, 1);
	expect(m, M_GET, "//a", NO_ROUTE, NONE);
	expect(m, M_GET, "///", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = { { "/*", ANY, 0 } };
	struct ztg_route_matcher *m = build_ok(specs, 1);
	struct ztg_route_match o;
	char *big = malloc(ZTG_ROUTE_MAX_PATH_LEN + 1);

	assert_non_null(big);
	memset(big, 'a', ZTG_ROUTE_MAX_PATH_LEN + 1);
	big[0] = '/';
	assert_int_equal(ztg_route_matcher_match(m, M_GET, big, ZTG_ROUTE_MAX_PATH_LEN, &o), R(MATCH));
	assert_int_equal(o.tail_len, ZTG_ROUTE_MAX_PATH_LEN - 1);
	assert_int_equal(ztg_route_matcher_match(m, M_GET, big, ZTG_ROUTE_MAX_PATH_LEN + 1, &o), R(NO_ROUTE));
	assert_int_equal(o.route_index, NONE);
	free(big);

	assert_int_equal(ztg_route_matcher_match(m, M_GET, NULL, 3, &o), R(NO_ROUTE));
	assert_int_equal(ztg_route_matcher_match(NULL, M_GET, "/a", 2, &o), R(NO_ROUTE));
	assert_int_equal(ztg_route_matcher_match(m, M_GET, "/a", 2, NULL), R(MATCH));
	assert_int_equal(ztg_route_matcher_size(NULL), 0);
	assert_int_equal(ztg_route_matcher_route_count(NULL), 0);
	ztg_route_matcher_free(NULL);
	ztg_route_matcher_free(m);

	/* zero routes: a valid matcher that matches nothing */
	struct ztg_route_diag err;
	m = ztg_route_matcher_build(NULL, 0, NULL, &err);
	assert_non_null(m);
	assert_int_equal(err.code, E(NONE));
	assert_true(ztg_route_matcher_size(m) > 0);
	expect(m, M_GET, "/", NO_ROUTE, NONE);
	expect(m, M_GET, "/a/b", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);
}

/* Template of n segments "/s0/s1/..." (and a path of those plus extra). */
static char *deep_template(uint32_t n, const char *last)
{
	char *t = malloc((size_t)n * 8 + 16);
	size_t o = 0;

	assert_non_null(t);
	for (uint32_t i = 0; i + 1 < n; i++)
		o += (size_t)sprintf(t + o, "/s%u", i);
	sprintf(t + o, "/%s", last);
	return t;
}

static void test_depth_limits(void **state)
{
	(void)state;
	char *t64 = deep_template(ZTG_ROUTE_MAX_DEPTH, "end");
	char *w64 = deep_template(ZTG_ROUTE_MAX_DEPTH, "*");
	char *t65 = deep_template(ZTG_ROUTE_MAX_DEPTH + 1, "end");
	struct ztg_route_spec specs[] = {
		{ t64, BIT(GET), 0 },
		{ w64, BIT(GET), 1 },
	};
	struct ztg_route_matcher *m = build_ok(specs, 2);
	char path[2048];
	struct ztg_route_match o;

	expect(m, M_GET, t64, MATCH, 0);
	/* deeper than any template: only the wildcard can take it */
	snprintf(path, sizeof(path), "%s/x/y", t64);
	o = expect(m, M_GET, path, MATCH, 1);
	assert_tail(o, path, "end/x/y");
	path[1] = 'z';
	expect(m, M_GET, path, NO_ROUTE, NONE);
	char *p = deep_template(ZTG_ROUTE_MAX_DEPTH, "a/b/c/d/e/f/g/h/i/j/k");
	o = expect(m, M_GET, p, MATCH, 1);
	assert_tail(o, p, "a/b/c/d/e/f/g/h/i/j/k");
	free(p);
	ztg_route_matcher_free(m);

	/* a path of 1000 segments against routes with parameters at every level */
	const struct ztg_route_spec deep[] = {
		{ "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/x", ANY, 0 },
		{ "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/*", BIT(POST), 1 },
	};
	m = build_ok(deep, 2);
	char *longp = malloc(2001);
	assert_non_null(longp);
	for (int i = 0; i < 1000; i++)
		memcpy(longp + 2 * i, "/x", 2);
	longp[2000] = '\0';
	expect(m, M_GET, longp, METHOD_NOT_ALLOWED, 1);
	expect(m, M_POST, longp, MATCH, 1);
	longp[18] = '\0';
	expect(m, M_GET, longp, MATCH, 0);
	free(longp);
	ztg_route_matcher_free(m);

	specs[0].template = t65;
	build_fails(specs, 1, TOO_DEEP, 0, "more than 64 segments", -1);
	free(t64);
	free(w64);
	free(t65);
}

/* ---------------------------------------------------------- build errors */

struct error_case {
	const char *template;
	uint32_t methods;
	enum ztg_route_error code;
	const char *substr;
	int position;
};

static void test_build_errors(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{ "", ANY, E(EMPTY_TEMPLATE), "empty template", 0 },
		{ "abc", ANY, E(NO_LEADING_SLASH), "must start with '/', not 'a'", 0 },
		{ "/a//b", ANY, E(EMPTY_SEGMENT), "empty segment 2 (\"//\" at offset 2)", 3 },
		{ "//", ANY, E(EMPTY_SEGMENT), "empty segment 1", 1 },
		{ "/a/../b", ANY, E(DOT_SEGMENT), "segment 2 is \"..\"", 3 },
		{ "/./b", ANY, E(DOT_SEGMENT), "segment 1 is \".\"", 1 },
		{ "/a b", ANY, E(BAD_CHAR), "space at offset 2", 2 },
		{ "/ok/a\001", ANY, E(BAD_CHAR), "byte 0x01 at offset 5", 5 },
		{ "/a\177", ANY, E(BAD_CHAR), "byte 0x7f", 2 },
		{ "/a}", ANY, E(BAD_CHAR), "'}' at offset 2 outside a parameter", 2 },
		{ "/api/v{n}", ANY, E(PARTIAL_PARAM), "segment 2 \"v{n}\": '{' at offset 6", 6 },
		{ "/{a}{b}", ANY, E(PARTIAL_PARAM), "'{' follows its '}' at offset 4", 4 },
		{ "/{a}x", ANY, E(PARTIAL_PARAM), "'x' follows its '}'", 4 },
		{ "/x/{abc", ANY, E(UNCLOSED_PARAM), "'{' at offset 3 is not closed", 3 },
		{ "/{}", ANY, E(BAD_PARAM_NAME), "empty parameter name", 1 },
		{ "/{1a}", ANY, E(BAD_PARAM_NAME), "'1' at offset 2 is not allowed", 2 },
		{ "/{a-b}", ANY, E(BAD_PARAM_NAME), "'-' at offset 3 is not allowed", 3 },
		{ "/{a b}", ANY, E(BAD_PARAM_NAME), "space at offset 3", 3 },
		{ "/{a{b}", ANY, E(BAD_PARAM_NAME), "'{' at offset 3", 3 },
		{ "/{abcdefghijklmnopqrstuvwxyz_012345}", ANY, E(PARAM_NAME_TOO_LONG),
		  "parameter name is 33 bytes, the limit is 32", 2 },
		{ "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", ANY, E(TOO_MANY_PARAMS),
		  "segment 9 \"{i}\" is parameter 9: the limit is 8", 33 },
		{ "/{id}/x/{id}", ANY, E(DUPLICATE_PARAM), "\"id\" is used twice (segments 1 and 3)", 8 },
		{ "/a/*/b", ANY, E(WILDCARD_NOT_LAST), "'*' at offset 3 (segment 2) is followed by more", 3 },
		{ "/*/", ANY, E(WILDCARD_NOT_LAST), "a wildcard must be the last segment", 1 },
		{ "/a*", ANY, E(PARTIAL_WILDCARD), "segment 1 \"a*\": '*' at offset 2", 2 },
		{ "/**", ANY, E(PARTIAL_WILDCARD), "'*' at offset 1", 1 },
		{ "/files/*.png", ANY, E(PARTIAL_WILDCARD), "'*' at offset 7", 7 },
		{ "/a", 0, E(NO_METHODS), "no methods", 0 },
		{ "/a", 1u << 20, E(BAD_METHODS), "bits above ANY", 0 },
		{ "/a", BIT(OTHER) | BIT(GET), E(BAD_METHODS), "sets OTHER without being ANY", 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		/* the bad route sits between good ones: the index must be its own */
		struct ztg_route_spec specs[] = {
			{ "/ok", ANY, 0 },
			{ cases[i].template, cases[i].methods, 1 },
			{ "/ok2", ANY, 2 },
		};
		build_fails_at(specs, 3, cases[i].code, 1, cases[i].substr, cases[i].position, __FILE__, __LINE__);
	}

	/* 32-byte name is the limit, not over it; 8 parameters are fine */
	const struct ztg_route_spec fine[] = {
		{ "/{abcdefghijklmnopqrstuvwxyz_01234}", ANY, 0 },
		{ "/x/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", ANY, 1 },
		{ "/x/{_}/{A9}", ANY, 2 },
		{ "/\xc3\xa9t\xc3\xa9/caf\xc3\xa9", ANY, 3 },  /* UTF-8 literals */
		{ "/a.b/..c/.d/~x/!$&'()+,;=:@", ANY, 4 },
	};
	struct ztg_route_matcher *m = build_ok(fine, N_ELEMS(fine));
	expect(m, M_GET, "/\xc3\xa9t\xc3\xa9/caf\xc3\xa9", MATCH, 3);
	expect(m, M_GET, "/a.b/..c/.d/~x/!$&'()+,;=:@", MATCH, 4);
	ztg_route_matcher_free(m);

	/* template length */
	char *t = malloc(ZTG_ROUTE_MAX_TEMPLATE_LEN + 2);
	assert_non_null(t);
	memset(t, 'a', ZTG_ROUTE_MAX_TEMPLATE_LEN + 1);
	t[0] = '/';
	t[ZTG_ROUTE_MAX_TEMPLATE_LEN + 1] = '\0';
	struct ztg_route_spec lng[] = { { "/x", ANY, 0 }, { t, ANY, 1 } };
	build_fails(lng, 2, TEMPLATE_TOO_LONG, 1, "is longer than 4096 bytes", 4096);
	t[ZTG_ROUTE_MAX_TEMPLATE_LEN] = '\0';
	m = build_ok(lng, 2);
	expect(m, M_GET, t, MATCH, 1);
	ztg_route_matcher_free(m);
	free(t);

	/* arguments */
	struct ztg_route_spec nul[] = { { "/x", ANY, 0 }, { NULL, ANY, 1 } };
	build_fails(nul, 2, BAD_ARGUMENT, 1, "template is NULL", -1);
	build_fails(NULL, 1, BAD_ARGUMENT, NONE, "no route array", -1);
	struct ztg_route_spec *many = calloc(ZTG_ROUTE_MAX_ROUTES + 1, sizeof(*many));
	assert_non_null(many);
	build_fails(many, ZTG_ROUTE_MAX_ROUTES + 1, TOO_MANY_ROUTES, ZTG_ROUTE_MAX_ROUTES,
		    "65536 routes, the limit is 65535", -1);
	free(many);
	/* err may be NULL */
	assert_null(ztg_route_matcher_build(nul, 2, NULL, NULL));
}

static void test_duplicates(void **state)
{
	(void)state;
	const struct ztg_route_spec params[] = {
		{ "/a/{x}", BIT(GET) | BIT(POST), 0 },
		{ "/b", BIT(GET), 1 },
		{ "/a/{y}", BIT(POST) | BIT(PUT), 2 },
	};
	struct ztg_route_diag err;

	assert_null(ztg_route_matcher_build(params, 3, NULL, &err));
	assert_int_equal(err.code, E(DUPLICATE_ROUTE));
	assert_int_equal(err.route_index, 2);
	assert_int_equal(err.other_index, 0);
	assert_int_equal(err.overlap, BIT(POST));
	assert_non_null(strstr(err.message, "duplicate of route 0 for POST"));
	assert_non_null(strstr(err.message, "\"/a/{y}\" has the same shape as \"/a/{x}\""));

	const struct ztg_route_spec wild[] = {
		{ "/s/*", BIT(GET) | BIT(HEAD), 0 },
		{ "/s/*", ANY, 1 },
	};
	build_fails(wild, 2, DUPLICATE_ROUTE, 1, "duplicate of route 0 for GET,HEAD", -1);

	const struct ztg_route_spec lit[] = {
		{ "/x", ANY, 0 },
		{ "/y", ANY, 1 },
		{ "/x", BIT(DELETE), 2 },
	};
	build_fails(lit, 3, DUPLICATE_ROUTE, 2, "duplicate of route 0 for DELETE", -1);

	const struct ztg_route_spec root[] = {
		{ "/", BIT(GET), 0 },
		{ "/", BIT(GET), 1 },
	};
	build_fails(root, 2, DUPLICATE_ROUTE, 1, "duplicate of route 0 for GET", -1);

	/* different shapes: none of these collide */
	const struct ztg_route_spec distinct[] = {
		{ "/x", BIT(GET), 0 },
		{ "/x/", BIT(GET), 1 },
		{ "/x/{a}", BIT(GET), 2 },
		{ "/x/*", BIT(GET), 3 },
		{ "/x/a", BIT(GET), 4 },
		{ "/{a}/x", BIT(GET), 5 },
		{ "/{a}/{b}", BIT(GET), 6 },
		{ "/*", BIT(GET), 7 },
	};
	struct ztg_route_matcher *m = build_ok(distinct, N_ELEMS(distinct));
	ztg_route_matcher_free(m);
}

static void test_disjoint_methods_same_shape(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/items/{item_id}", BIT(GET), 0 },
		{ "/items/{name}", BIT(POST) | BIT(PUT), 1 },
		{ "/items/{x}", BIT(DELETE), 2 },
		{ "/items/*", BIT(GET), 3 },
		{ "/items/*", BIT(POST), 4 },
	};
	struct diag_log log = { 0 };
	struct ztg_route_build_opts opts = { collect, &log };
	struct ztg_route_diag err;
	struct ztg_route_matcher *m = ztg_route_matcher_build(specs, N_ELEMS(specs), &opts, &err);
	struct ztg_route_match o;

	assert_non_null(m);
	assert_int_equal(log.count, 0);     /* no warning either */
	o = expect(m, M_GET, "/items/5", MATCH, 0);
	assert_string_equal(ztg_route_matcher_param_name(m, o.route_index, 0), "item_id");
	o = expect(m, M_PUT, "/items/5", MATCH, 1);
	assert_string_equal(ztg_route_matcher_param_name(m, o.route_index, 0), "name");
	assert_capture(o, "/items/5", 0, "5");
	expect(m, M_DELETE, "/items/5", MATCH, 2);
	o = expect(m, M_PATCH, "/items/5", METHOD_NOT_ALLOWED, 0);
	assert_int_equal(o.allowed, BIT(GET) | BIT(POST) | BIT(PUT) | BIT(DELETE));
	expect(m, M_GET, "/items/5/x", MATCH, 3);
	expect(m, M_POST, "/items/5/x", MATCH, 4);
	o = expect(m, M_PATCH, "/items/5/x", METHOD_NOT_ALLOWED, 3);
	assert_int_equal(o.allowed, BIT(GET) | BIT(POST));
	ztg_route_matcher_free(m);
}

static void test_diagnostics_callback(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/ok", ANY, 0 },
		{ "bad", ANY, 1 },
		{ "/a%41", ANY, 2 },
		{ "/x\\y", ANY, 3 },
		{ "/v{n}", ANY, 4 },
		{ "/ok", BIT(GET), 5 },
		{ "/fine", ANY, 6 },
	};
	struct diag_log log = { 0 };
	struct ztg_route_build_opts opts = { collect, &log };
	struct ztg_route_diag err;

	/* every problem reported in route order, the first error in err */
	assert_null(ztg_route_matcher_build(specs, N_ELEMS(specs), &opts, &err));
	assert_int_equal(err.code, E(NO_LEADING_SLASH));
	assert_int_equal(err.route_index, 1);
	assert_int_equal(log.count, 5);
	assert_int_equal(log.d[0].code, E(NO_LEADING_SLASH));
	assert_int_equal(log.d[1].code, E(PERCENT_IN_LITERAL));
	assert_true(log.d[1].warning);
	assert_int_equal(log.d[1].route_index, 2);
	assert_int_equal(log.d[1].position, 2);
	assert_non_null(strstr(log.d[1].message, "percent-decoded"));
	assert_int_equal(log.d[2].code, E(BACKSLASH_IN_LITERAL));
	assert_true(log.d[2].warning);
	assert_int_equal(log.d[2].position, 2);
	assert_int_equal(log.d[3].code, E(PARTIAL_PARAM));
	assert_int_equal(log.d[3].route_index, 4);
	assert_false(log.d[3].warning);
	assert_int_equal(log.d[4].code, E(DUPLICATE_ROUTE));
	assert_int_equal(log.d[4].route_index, 5);
	assert_int_equal(log.d[4].other_index, 0);

	/* warnings alone do not fail the build */
	memset(&log, 0, sizeof(log));
	struct ztg_route_matcher *m = ztg_route_matcher_build(specs + 2, 2, &opts, &err);
	assert_non_null(m);
	assert_int_equal(err.code, E(NONE));
	assert_int_equal(log.count, 2);
	expect(m, M_GET, "/a%41", MATCH, 0);   /* what a client sent as /a%2541 */
	expect(m, M_GET, "/aA", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);

	/* the error count is bounded */
	struct ztg_route_spec bad[100];
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		bad[i] = (struct ztg_route_spec){ "nope", ANY, (uint32_t)i };
	memset(&log, 0, sizeof(log));
	assert_null(ztg_route_matcher_build(bad, N_ELEMS(bad), &opts, &err));
	assert_int_equal(log.count, ZTG_ROUTE_MAX_ERRORS + 1);
	assert_int_equal(log.d[ZTG_ROUTE_MAX_ERRORS].code, E(TOO_MANY_ERRORS));
	assert_int_equal(log.d[ZTG_ROUTE_MAX_ERRORS].route_index, ZTG_ROUTE_MAX_ERRORS - 1);
	assert_int_equal(err.route_index, 0);
}

/* ---------------------------------------------------------- scale */

#define SCALE_ROUTES 10000

static const uint32_t scale_masks[] = { 1u << M_GET, 1u << M_POST, ANY,
					(1u << M_GET) | (1u << ZTG_HTTP_METHOD_HEAD), 1u << M_DELETE };

/* The SCALE_ROUTES routes of the scale tests. */
static void scale_specs(struct ztg_route_spec *specs, char (*tmpl)[96])
{
	for (uint32_t i = 0; i < SCALE_ROUTES; i++) {
		switch (i % 6) {
		case 0: snprintf(tmpl[i], sizeof(tmpl[i]), "/api/v1/res%u", i); break;
		case 1: snprintf(tmpl[i], sizeof(tmpl[i]), "/api/v1/res%u/{id}", i); break;
		case 2: snprintf(tmpl[i], sizeof(tmpl[i]), "/api/v1/res%u/{id}/sub%u/{sub_id}", i, i % 7); break;
		case 3: snprintf(tmpl[i], sizeof(tmpl[i]), "/static/s%u/*", i); break;
		case 4: snprintf(tmpl[i], sizeof(tmpl[i]), "/api/v2/{tenant}/items%u/{item}/", i); break;
		default: snprintf(tmpl[i], sizeof(tmpl[i]), "/api/v1/res%u/{id}/sub%u/*", i, i % 7); break;
		}
		specs[i] = (struct ztg_route_spec){ tmpl[i], scale_masks[i % N_ELEMS(scale_masks)], 1000000 + i };
	}
}

static void test_10k_routes(void **state)
{
	(void)state;
	struct ztg_route_spec *specs = calloc(SCALE_ROUTES, sizeof(*specs));
	char (*tmpl)[96] = calloc(SCALE_ROUTES, sizeof(*tmpl));
	assert_non_null(specs);
	assert_non_null(tmpl);

	scale_specs(specs, tmpl);
	struct ztg_route_matcher *m = build_ok(specs, SCALE_ROUTES);
	assert_true(ztg_route_matcher_size(m) > 0);

	for (uint32_t i = 0; i < SCALE_ROUTES; i++) {
		/* the path: literals as they are, each {param} a value, "*" a tail */
		char path[160], want[ZTG_ROUTE_MAX_PARAMS][16];
		const char *t = tmpl[i];
		size_t o = 0;
		uint32_t np = 0;
		bool wild = false;
		while (*t != '\0') {
			if (*t == '{') {
				snprintf(want[np], sizeof(want[np]), "v%ux%u", i, np);
				o += (size_t)sprintf(path + o, "%s", want[np]);
				np++;
				t = strchr(t, '}') + 1;
			} else if (*t == '*') {
				o += (size_t)sprintf(path + o, "t/%u", i);
				wild = true;
				t++;
			} else {
				path[o++] = *t++;
			}
		}
		path[o] = '\0';
		unsigned int method = (uint32_t)__builtin_ctz(specs[i].methods & ~1u);
		struct ztg_route_match out = expect(m, method, path, MATCH, i);
		assert_int_equal(out.route_id, 1000000 + i);
		assert_int_equal(out.param_count, np);
		for (uint32_t k = 0; k < np; k++)
			assert_capture(out, path, k, want[k]);
		if (wild) {
			char tail[16];
			snprintf(tail, sizeof(tail), "t/%u", i);
			assert_tail(out, path, tail);
		}
		/* a method the route does not take: refused, or another route of the shape */
		if (specs[i].methods != ANY && !(specs[i].methods & (1u << M_PATCH)))
			expect(m, M_PATCH, path, METHOD_NOT_ALLOWED, i);
	}
	expect(m, M_GET, "/api/v1/res10000", NO_ROUTE, NONE);
	expect(m, M_GET, "/api/v1/res1/", NO_ROUTE, NONE);
	ztg_route_matcher_free(m);
	free(specs);
	free(tmpl);
}

static void test_relocatable(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/a/{x}/b", BIT(GET), 0 },
		{ "/a/*", BIT(POST), 1 },
		{ "/c", ANY, 2 },
	};
	struct ztg_route_matcher *m = build_ok(specs, N_ELEMS(specs));
	size_t size = ztg_route_matcher_size(m);
	struct ztg_route_matcher *m2 = build_ok(specs, N_ELEMS(specs));

	/* same routes, same bytes: the block can be compared or shipped as is */
	assert_int_equal(ztg_route_matcher_size(m2), size);
	assert_memory_equal(m, m2, size);
	ztg_route_matcher_free(m2);

	void *copy = aligned_alloc(64, size);
	assert_non_null(copy);
	memcpy(copy, m, size);
	ztg_route_matcher_free(m);
	m = copy;
	struct ztg_route_match o = expect(m, M_GET, "/a/q/b", MATCH, 0);
	assert_capture(o, "/a/q/b", 0, "q");
	assert_string_equal(ztg_route_matcher_param_name(m, 0, 0), "x");
	expect(m, M_POST, "/a/q/b", MATCH, 1);
	expect(m, M_GET, "/c", MATCH, 2);
	free(copy);
}

/* ---------------------------------------------------------- property tests */

/* Brute-force reference, from the documented rules only. */
enum { K_LIT, K_PARAM, K_WILD };

struct ref_route {
	uint32_t n;
	uint8_t kind[ZTG_ROUTE_MAX_DEPTH];
	const char *lit[ZTG_ROUTE_MAX_DEPTH];
	size_t lit_len[ZTG_ROUTE_MAX_DEPTH];
	uint32_t methods;
};

static void ref_parse(const char *t, uint32_t methods, struct ref_route *r)
{
	const char *s = t + 1;

	r->n = 0;
	r->methods = methods;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		r->kind[r->n] = (l == 1 && s[0] == '*') ? K_WILD : (l > 0 && s[0] == '{') ? K_PARAM : K_LIT;
		r->lit[r->n] = s;
		r->lit_len[r->n] = l;
		r->n++;
		if (e == NULL)
			break;
		s = e + 1;
	}
}

struct ref_path {
	uint32_t n;
	uint32_t off[ZTG_ROUTE_MAX_PATH_LEN];  /* a path of n bytes has at most n segments */
	uint32_t len[ZTG_ROUTE_MAX_PATH_LEN];
};

static bool ref_split(const char *p, size_t len, struct ref_path *sp)
{
	if (len == 0 || len > ZTG_ROUTE_MAX_PATH_LEN || p[0] != '/')
		return false;
	sp->n = 0;
	size_t i = 1;
	for (;;) {
		size_t j = i;
		while (j < len && p[j] != '/')
			j++;
		sp->off[sp->n] = (uint32_t)i;
		sp->len[sp->n] = (uint32_t)(j - i);
		sp->n++;
		if (j == len)
			break;
		i = j + 1;
	}
	return true;
}

static bool ref_path_match(const struct ref_route *r, const char *p, const struct ref_path *sp)
{
	bool wild = r->kind[r->n - 1] == K_WILD;

	if (wild ? sp->n < r->n : sp->n != r->n)
		return false;
	for (uint32_t k = 0; k < r->n; k++) {
		if (r->kind[k] == K_WILD)
			break;
		if (r->kind[k] == K_PARAM && sp->len[k] == 0)
			return false;
		if (r->kind[k] == K_LIT &&
		    (sp->len[k] != r->lit_len[k] || memcmp(p + sp->off[k], r->lit[k], sp->len[k]) != 0))
			return false;
	}
	return true;
}

/* < 0: a is more specific. */
static int ref_cmp(const struct ref_route *a, const struct ref_route *b)
{
	for (uint32_t k = 0; k < a->n && k < b->n; k++)
		if (a->kind[k] != b->kind[k])
			return (int)a->kind[k] - (int)b->kind[k];
	return 0;
}

static enum ztg_route_result ref_match(const struct ref_route *routes, uint32_t count, unsigned int method,
				       const char *p, size_t len, uint32_t *index, uint32_t *allowed)
{
	static struct ref_path sp;
	uint32_t bit = 1u << (method <= ZTG_ROUTE_METHOD_LAST ? method : 0);
	uint32_t best = NONE, best_path = NONE;

	*allowed = 0;
	*index = NONE;
	if (!ref_split(p, len, &sp))
		return R(NO_ROUTE);
	for (uint32_t i = 0; i < count; i++) {
		if (!ref_path_match(&routes[i], p, &sp))
			continue;
		*allowed |= routes[i].methods;
		if (best_path == NONE || ref_cmp(&routes[i], &routes[best_path]) < 0)
			best_path = i;
		if ((routes[i].methods & bit) && (best == NONE || ref_cmp(&routes[i], &routes[best]) < 0))
			best = i;
	}
	if (best != NONE) {
		*index = best;
		*allowed = routes[best].methods;
		return R(MATCH);
	}
	*index = best_path;
	return best_path == NONE ? R(NO_ROUTE) : R(METHOD_NOT_ALLOWED);
}

static void compare_with_ref(const struct ztg_route_matcher *m, const struct ref_route *refs, uint32_t count,
			     unsigned int method, const char *p, size_t len)
{
	const char *file = __FILE__;
	int line = __LINE__;
	struct ztg_route_match o;
	uint32_t want_index, want_allowed;
	enum ztg_route_result want = ref_match(refs, count, method, p, len, &want_index, &want_allowed);
	enum ztg_route_result got = run_bytes_at(m, method, p, len, &o, file, line);

	if (got != want || o.route_index != want_index || o.allowed != want_allowed)
		print_error("%s %.*s: got %s %d allowed %x, want %s %d allowed %x\n", ztg_route_method_name(method),
			    (int)len, p, ztg_route_result_name(got), (int)o.route_index, o.allowed,
			    ztg_route_result_name(want), (int)want_index, want_allowed);
	ai(got, want);
	ai(o.route_index, want_index);
	ai(o.allowed, want_allowed);
	if (got == R(NO_ROUTE))
		return;
	/* captures: the path segments at the route's {param} positions */
	static struct ref_path sp;
	const struct ref_route *r = &refs[o.route_index];
	uint32_t np = 0;
	ref_split(p, len, &sp);
	for (uint32_t k = 0; k < r->n; k++) {
		if (r->kind[k] == K_PARAM) {
			ai(o.params[np].off, sp.off[k]);
			ai(o.params[np].len, sp.len[k]);
			np++;
		} else if (r->kind[k] == K_WILD) {
			ai(o.tail_off, sp.off[k]);
		}
	}
	ai(o.param_count, np);
}

static const char *const lit_alphabet[] = { "a", "b", "c", "me", "x1" };
static const char *const path_alphabet[] = { "a", "b", "c", "me", "x1", "42", "", "zz" };

static void random_template(char *t, size_t cap, uint32_t *methods)
{
	uint32_t depth = 1 + rnd(5), np = 0;
	size_t o = 0;

	for (uint32_t k = 0; k < depth; k++) {
		bool last = k + 1 == depth;
		uint32_t pick = rnd(100);
		if (last && pick < 12)
			o += (size_t)snprintf(t + o, cap - o, "/*");
		else if (last && pick < 20)
			o += (size_t)snprintf(t + o, cap - o, "/");   /* trailing slash (or the root) */
		else if (pick < 45)
			o += (size_t)snprintf(t + o, cap - o, "/{p%u}", np++);
		else
			o += (size_t)snprintf(t + o, cap - o, "/%s", lit_alphabet[rnd(N_ELEMS(lit_alphabet))]);
	}
	if (rnd(5) == 0) {
		*methods = ANY;
	} else {
		*methods = 0;
		while (*methods == 0)
			*methods = (rnd(1u << ZTG_ROUTE_METHOD_LAST) << 1) & rnd(1u << (ZTG_ROUTE_METHOD_LAST + 1));
	}
}

static void test_against_reference(void **state)
{
	(void)state;
	enum { SETS = 60, ROUTES = 48, PATHS = 600 };
	static char tmpl[ROUTES][64];
	static struct ztg_route_spec specs[ROUTES];
	static struct ref_route refs[ROUTES];

	rng_state = 0x9e3779b97f4a7c15ull;
	for (int set = 0; set < SETS; set++) {
		uint32_t n = ROUTES;
		for (uint32_t i = 0; i < n; i++) {
			random_template(tmpl[i], sizeof(tmpl[i]), &specs[i].methods);
			specs[i].template = tmpl[i];
			specs[i].route_id = i;
		}
		/* drop duplicates until the set builds */
		struct ztg_route_matcher *m;
		struct ztg_route_diag err;
		while ((m = ztg_route_matcher_build(specs, n, NULL, &err)) == NULL) {
			assert_int_equal(err.code, E(DUPLICATE_ROUTE));
			memmove(&specs[err.route_index], &specs[err.route_index + 1],
				(n - err.route_index - 1) * sizeof(specs[0]));
			n--;
		}
		for (uint32_t i = 0; i < n; i++)
			ref_parse(specs[i].template, specs[i].methods, &refs[i]);

		for (int k = 0; k < PATHS; k++) {
			char p[128];
			size_t o = 0;
			uint32_t segs = 1 + rnd(7);
			for (uint32_t s = 0; s < segs; s++)
				o += (size_t)snprintf(p + o, sizeof(p) - o, "/%s",
						      path_alphabet[rnd(N_ELEMS(path_alphabet))]);
			compare_with_ref(m, refs, n, rnd(ZTG_ROUTE_METHOD_LAST + 3), p, o);
		}
		/* and every route by a path built from itself */
		for (uint32_t i = 0; i < n; i++) {
			char p[128];
			size_t o = 0;
			for (uint32_t s = 0; s < refs[i].n; s++) {
				const char *v = refs[i].kind[s] == K_LIT ? refs[i].lit[s] : "v";
				size_t l = refs[i].kind[s] == K_LIT ? refs[i].lit_len[s] : 1;
				o += (size_t)snprintf(p + o, sizeof(p) - o, "/%.*s", (int)l, v);
			}
			compare_with_ref(m, refs, n, (uint32_t)__builtin_ctz(specs[i].methods | (1u << 31)), p, o);
		}
		ztg_route_matcher_free(m);
	}
}

/* Random bytes, segment soup, long and deep paths: no crash, the reference's answer. */
static void test_fuzz(void **state)
{
	(void)state;
	const struct ztg_route_spec specs[] = {
		{ "/", BIT(GET), 0 },
		{ "/a", ANY, 1 },
		{ "/a/", BIT(GET), 2 },
		{ "/a/{x}", BIT(GET), 3 },
		{ "/a/{x}/b/*", BIT(POST), 4 },
		{ "/{y}/b", BIT(PUT), 5 },
		{ "/a/%/{z}", BIT(GET), 6 },
		{ "/\xff/{q}/*", ANY, 7 },
		{ "/s/*", BIT(GET), 8 },
	};
	struct ztg_route_matcher *with_all, *m = build_ok(specs, N_ELEMS(specs));
	struct ztg_route_spec all[N_ELEMS(specs) + 1];
	static const char soup[] = { '/', '/', '/', 'a', 'b', 's', '%', '{', '*', '\0', '\xff', '.', ' ' };
	static char buf[ZTG_ROUTE_MAX_PATH_LEN + 64];
	struct ztg_route_match o;

	memcpy(all, specs, sizeof(specs));
	all[N_ELEMS(specs)] = (struct ztg_route_spec){ "/*", BIT(DELETE), 9 };
	with_all = build_ok(all, N_ELEMS(all));
	static struct ref_route refs[N_ELEMS(all)];
	for (size_t i = 0; i < N_ELEMS(all); i++)
		ref_parse(all[i].template, all[i].methods, &refs[i]);

	rng_state = 0x2545f4914f6cdd1dull;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len;
		uint32_t mode = rnd(4);
		if (mode == 0) {          /* any bytes */
			len = rnd(64);
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)rnd(256);
		} else if (mode == 1) {   /* soup of separators and specials */
			len = rnd(96);
			for (size_t i = 0; i < len; i++)
				buf[i] = soup[rnd(sizeof(soup))];
		} else if (mode == 2) {   /* deep: many short segments */
			len = rnd(ZTG_ROUTE_MAX_PATH_LEN + 40);
			for (size_t i = 0; i < len; i++)
				buf[i] = (i % 2 == 0) ? '/' : "ab"[rnd(2)];
		} else {                  /* long segments */
			len = rnd(ZTG_ROUTE_MAX_PATH_LEN + 40);
			for (size_t i = 0; i < len; i++)
				buf[i] = rnd(200) == 0 ? '/' : 'a';
		}
		if (len > 0 && rnd(3) != 0)
			buf[0] = '/';
		unsigned int method = rnd(16);
		compare_with_ref(m, refs, N_ELEMS(specs), method, buf, len);
		compare_with_ref(with_all, refs, N_ELEMS(all), method, buf, len);
		enum ztg_route_result r = run_bytes_at(with_all, method, buf, len, &o, __FILE__, __LINE__);
		/* "/" "*" catches every path, so only methods or non-paths miss */
		if (len > 0 && len <= ZTG_ROUTE_MAX_PATH_LEN && buf[0] == '/')
			assert_int_not_equal(r, R(NO_ROUTE));
		else
			assert_int_equal(r, R(NO_ROUTE));
	}
	ztg_route_matcher_free(m);
	ztg_route_matcher_free(with_all);
}

/* ---------------------------------------------------------- stored blocks */

/*
 * The block copied to an odd address (as a file read into any buffer would
 * leave it) and loaded back: a new, aligned matcher with the same bytes.
 */
static struct ztg_route_matcher *reload_at(const struct ztg_route_matcher *m, const char *file, int line)
{
	size_t size = ztg_route_matcher_size(m);
	char *buf = malloc(size + 1);
	struct ztg_route_diag err;

	at(buf != NULL);
	at(ztg_route_matcher_block(m) == (const void *)m);
	memcpy(buf + 1, ztg_route_matcher_block(m), size);
	struct ztg_route_matcher *m2 = ztg_route_matcher_from_block(buf + 1, size, &err);
	if (m2 == NULL)
		print_error("from_block refused a built block: %s\n", err.message);
	at(m2 != NULL);
	ai(err.code, E(NONE));
	at(m2 != m);
	ai((uintptr_t)m2 % 64, 0);
	ai(ztg_route_matcher_size(m2), size);
	_assert_memory_equal(ztg_route_matcher_block(m2), ztg_route_matcher_block(m), size, file, line);
	free(buf);
	return m2;
}
#define reload(m) reload_at(m, __FILE__, __LINE__)

/* Both matchers give the same answer, to the capture, for (method, path). */
static void same_lookup(const struct ztg_route_matcher *a, const struct ztg_route_matcher *b, unsigned int method,
			const char *p, size_t len)
{
	const char *file = __FILE__;
	int line = __LINE__;
	struct ztg_route_match oa, ob;
	enum ztg_route_result ra = run_bytes_at(a, method, p, len, &oa, file, line);
	enum ztg_route_result rb = run_bytes_at(b, method, p, len, &ob, file, line);

	ai(rb, ra);
	ai(ob.route_index, oa.route_index);
	ai(ob.route_id, oa.route_id);
	ai(ob.allowed, oa.allowed);
	ai(ob.param_count, oa.param_count);
	for (uint32_t i = 0; i < oa.param_count; i++) {
		ai(ob.params[i].param, oa.params[i].param);
		ai(ob.params[i].off, oa.params[i].off);
		ai(ob.params[i].len, oa.params[i].len);
	}
	ai(ob.has_tail, oa.has_tail);
	ai(ob.tail_off, oa.tail_off);
	ai(ob.tail_len, oa.tail_len);
}

/* Same routes, templates and names through the accessors. */
static void same_routes(const struct ztg_route_matcher *a, const struct ztg_route_matcher *b)
{
	uint32_t n = ztg_route_matcher_route_count(a);

	assert_int_equal(ztg_route_matcher_route_count(b), n);
	for (uint32_t r = 0; r < n; r++) {
		struct ztg_route_info ia, ib;
		assert_int_equal(ztg_route_matcher_route_info(a, r, &ia), 0);
		assert_int_equal(ztg_route_matcher_route_info(b, r, &ib), 0);
		assert_string_equal(ib.template, ia.template);
		assert_int_equal(ib.template_len, ia.template_len);
		assert_int_equal(ib.methods, ia.methods);
		assert_int_equal(ib.route_id, ia.route_id);
		assert_int_equal(ib.param_count, ia.param_count);
		assert_int_equal(ib.has_wildcard, ia.has_wildcard);
		for (uint32_t k = 0; k < ia.param_count; k++)
			assert_string_equal(ztg_route_matcher_param_name(b, r, k),
					    ztg_route_matcher_param_name(a, r, k));
		assert_null(ztg_route_matcher_param_name(b, r, ia.param_count));
	}
	assert_int_equal(ztg_route_matcher_route_info(b, n, &(struct ztg_route_info){ 0 }), -1);
}

/* Built again from the routes it holds (route_info), a loaded matcher gives the same bytes. */
static void rebuilds_same(const struct ztg_route_matcher *m)
{
	uint32_t n = ztg_route_matcher_route_count(m);
	struct ztg_route_spec *specs = calloc(n ? n : 1, sizeof(*specs));
	struct ztg_route_diag err;

	assert_non_null(specs);
	for (uint32_t r = 0; r < n; r++) {
		struct ztg_route_info info;
		assert_int_equal(ztg_route_matcher_route_info(m, r, &info), 0);
		specs[r] = (struct ztg_route_spec){ info.template, info.methods, info.route_id };
	}
	struct ztg_route_matcher *again = ztg_route_matcher_build(specs, n, NULL, &err);
	if (again == NULL)
		print_error("a loaded block's routes do not build: %s\n", err.message);
	assert_non_null(again);
	assert_int_equal(ztg_route_matcher_size(again), ztg_route_matcher_size(m));
	assert_memory_equal(ztg_route_matcher_block(again), ztg_route_matcher_block(m), ztg_route_matcher_size(m));
	ztg_route_matcher_free(again);
	free(specs);
}

/* A path that a template matches: literals as they are, "v<k>" per {param}, "t/x" for "*". */
static size_t path_for(const char *t, char *out, size_t cap)
{
	size_t o = 0;
	uint32_t np = 0;

	while (*t != '\0' && o + 16 < cap) {
		if (*t == '{') {
			o += (size_t)snprintf(out + o, cap - o, "v%u", np++);
			t = strchr(t, '}') + 1;
		} else if (*t == '*') {
			o += (size_t)snprintf(out + o, cap - o, "t/x");
			t++;
		} else {
			out[o++] = *t++;
		}
	}
	out[o] = '\0';
	return o;
}

/* Routes, then every route's own path and random paths, for every method, on m and its reload. */
static void round_trip(const struct ztg_route_matcher *m, const struct ztg_route_spec *specs, uint32_t n,
		       uint32_t random_paths, uint32_t methods_per_route)
{
	struct ztg_route_matcher *m2 = reload(m);
	char p[256];

	same_routes(m, m2);
	rebuilds_same(m2);
	for (uint32_t i = 0; i < n; i++) {
		size_t len = path_for(specs[i].template, p, sizeof(p));
		for (uint32_t k = 0; k < methods_per_route; k++)
			same_lookup(m, m2, k == 0 ? (uint32_t)__builtin_ctz(specs[i].methods | (1u << 31))
						  : rnd(ZTG_ROUTE_METHOD_LAST + 3), p, len);
	}
	for (uint32_t k = 0; k < random_paths; k++) {
		size_t o = 0;
		uint32_t segs = 1 + rnd(7);
		for (uint32_t s = 0; s < segs; s++)
			o += (size_t)snprintf(p + o, sizeof(p) - o, "/%s", path_alphabet[rnd(N_ELEMS(path_alphabet))]);
		if (rnd(4) == 0 && n > 0) /* a route's path with a segment cut or added */
			o = path_for(specs[rnd(n)].template, p, sizeof(p) - 8) - rnd(2);
		if (rnd(3) == 0)
			o += (size_t)snprintf(p + o, sizeof(p) - o, "/%s", path_alphabet[rnd(N_ELEMS(path_alphabet))]);
		for (unsigned int method = 0; method <= ZTG_ROUTE_METHOD_LAST + 1; method++)
			same_lookup(m, m2, method, p, o);
	}
	ztg_route_matcher_free(m2);
}

static const struct ztg_route_spec small_specs[] = {
	{ "/", BIT(GET), 0 },
	{ "/a", ANY, 1 },
	{ "/a/", BIT(GET), 2 },
	{ "/a/{x}", BIT(GET), 3 },
	{ "/a/{x}/b/*", BIT(POST), 4 },
	{ "/{y}/b", BIT(PUT), 5 },
	{ "/a/{x}/{zz}/c", BIT(GET) | BIT(PUT), 6 },
	{ "/s/*", BIT(GET), 7 },
	{ "/*", BIT(DELETE), 8 },
	{ "/a/{x}", BIT(DELETE), 9 },
};

static void test_block_round_trip(void **state)
{
	(void)state;
	enum { SETS = 20, ROUTES = 48 };
	static char tmpl[ROUTES][64];
	static struct ztg_route_spec specs[ROUTES];
	struct ztg_route_matcher *m;

	rng_state = 0x6a09e667f3bcc909ull;
	/* no routes, a few, the property tests' random sets */
	m = build_ok(NULL, 0);
	round_trip(m, NULL, 0, 50, 1);
	ztg_route_matcher_free(m);
	m = build_ok(small_specs, N_ELEMS(small_specs));
	round_trip(m, small_specs, N_ELEMS(small_specs), 2000, 8);
	ztg_route_matcher_free(m);
	for (int set = 0; set < SETS; set++) {
		uint32_t n = ROUTES;
		struct ztg_route_diag err;
		for (uint32_t i = 0; i < n; i++) {
			random_template(tmpl[i], sizeof(tmpl[i]), &specs[i].methods);
			specs[i].template = tmpl[i];
			specs[i].route_id = 7 * i + (uint32_t)set;
		}
		while ((m = ztg_route_matcher_build(specs, n, NULL, &err)) == NULL) {
			assert_int_equal(err.code, E(DUPLICATE_ROUTE));
			memmove(&specs[err.route_index], &specs[err.route_index + 1],
				(n - err.route_index - 1) * sizeof(specs[0]));
			n--;
		}
		round_trip(m, specs, n, 300, 3);
		ztg_route_matcher_free(m);
	}

	/* the 10,000 routes: every route's path, with its method and another */
	struct ztg_route_spec *big = calloc(SCALE_ROUTES, sizeof(*big));
	char (*btmpl)[96] = calloc(SCALE_ROUTES, sizeof(*btmpl));
	assert_non_null(big);
	assert_non_null(btmpl);
	scale_specs(big, btmpl);
	m = build_ok(big, SCALE_ROUTES);
	round_trip(m, big, SCALE_ROUTES, 2000, 2);
	ztg_route_matcher_free(m);
	free(big);
	free(btmpl);
}

static void refused_at(const void *data, size_t len, const char *substr, int position, const char *file, int line)
{
	struct ztg_route_diag err;
	struct ztg_route_matcher *m = ztg_route_matcher_from_block(data, len, &err);

	if (m != NULL || strstr(err.message, substr) == NULL)
		print_error("len %zu: want \"%s\", got %s: %s\n", len, substr, ztg_route_error_name(err.code),
			    err.message);
	at(m == NULL);
	ai(err.code, E(BAD_BLOCK));
	at(strstr(err.message, substr) != NULL);
	if (position >= 0)
		ai(err.position, position);
	at(ztg_route_matcher_from_block(data, len, NULL) == NULL);
}
#define refused(data, len, substr, pos) refused_at(data, len, substr, pos, __FILE__, __LINE__)

/* On a matcher from_block accepted: lookups and accessors stay inside it (ASan) and answer sanely. */
static void exercise(const struct ztg_route_matcher *m)
{
	static const char *const paths[] = {
		"/", "/a", "/a/", "/a/q", "/a/q/b/", "/a/q/b/t/u", "/q/b", "/a/q/zz/c", "/s/", "/s/x/y",
		"/zz", "/a/b/c/d/e/f", "//", "/a//b",
	};
	uint32_t n = ztg_route_matcher_route_count(m);
	struct ztg_route_match o;

	for (size_t i = 0; i < N_ELEMS(paths); i++)
		for (unsigned int method = 0; method <= ZTG_ROUTE_METHOD_LAST + 1; method++)
			run_bytes_at(m, method, paths[i], strlen(paths[i]), &o, __FILE__, __LINE__);
	for (uint32_t r = 0; r < n; r++) {
		struct ztg_route_info info;
		char ms[128];
		assert_int_equal(ztg_route_matcher_route_info(m, r, &info), 0);
		assert_int_equal(strlen(info.template), info.template_len);
		assert_true(info.param_count <= ZTG_ROUTE_MAX_PARAMS);
		assert_true(ztg_route_methods_format(info.methods, ms, sizeof(ms)) >= 0);
		for (uint32_t k = 0; k < info.param_count; k++) {
			const char *name = ztg_route_matcher_param_name(m, r, k);
			assert_non_null(name);
			assert_true(strlen(name) >= 1 && strlen(name) <= ZTG_ROUTE_MAX_PARAM_NAME);
		}
		assert_null(ztg_route_matcher_param_name(m, r, info.param_count));
	}
	rebuilds_same(m);
}

/* Load a mutated copy: refused with BAD_BLOCK and a message, or safe to use. Returns accepted. */
static bool try_block(const uint8_t *bytes, size_t len)
{
	struct ztg_route_diag err;
	struct ztg_route_matcher *m = ztg_route_matcher_from_block(bytes, len, &err);

	if (m == NULL) {
		assert_int_equal(err.code, E(BAD_BLOCK));
		assert_true(err.position <= len);
		assert_true(strncmp(err.message, "byte offset ", 12) == 0);
		assert_true(strlen(err.message) > 20);
		return false;
	}
	assert_int_equal(err.code, E(NONE));
	exercise(m);
	ztg_route_matcher_free(m);
	return true;
}

static void test_block_corruption(void **state)
{
	(void)state;
	struct ztg_route_matcher *m = build_ok(small_specs, N_ELEMS(small_specs));
	size_t size = ztg_route_matcher_size(m);
	uint8_t *buf = malloc(size);
	const uint8_t *orig = ztg_route_matcher_block(m);
	uint32_t tried = 0, accepted = 0;

	assert_non_null(buf);
	exercise(m);
	for (size_t i = 0; i < size; i++) {
		uint8_t vals[11] = { (uint8_t)~orig[i], 0x00, 0xff };
		for (int b = 0; b < 8; b++)
			vals[3 + b] = (uint8_t)(orig[i] ^ (1u << b));
		for (size_t k = 0; k < N_ELEMS(vals); k++) {
			if (vals[k] == orig[i])
				continue;
			memcpy(buf, orig, size);
			buf[i] = vals[k];
			tried++;
			accepted += try_block(buf, size);
		}
	}
	print_message("corruption: %u single-byte changes of a %zu-byte block, %u accepted\n", tried, size,
		      accepted);
	assert_true(tried > 10 * size);

	/*
	 * A consistent change is accepted: a route id, in the route table and
	 * in its entry. Distinctive ids so that each occurs only there.
	 */
	struct ztg_route_spec idspecs[N_ELEMS(small_specs)];
	memcpy(idspecs, small_specs, sizeof(idspecs));
	for (uint32_t r = 0; r < N_ELEMS(idspecs); r++)
		idspecs[r].route_id = 0x51500000u + r;
	struct ztg_route_matcher *mi = build_ok(idspecs, N_ELEMS(idspecs));
	assert_int_equal(ztg_route_matcher_size(mi), size);
	const uint32_t old_id = 0x51500003u, new_id = 0xabcdef;
	size_t where[2] = { 0, 0 };
	uint32_t changed = 0;
	memcpy(buf, ztg_route_matcher_block(mi), size);
	for (size_t i = 0; i + 4 <= size; i += 4) {
		uint32_t w;
		memcpy(&w, buf + i, 4);
		if (w != old_id)
			continue;
		if (changed < 2)
			where[changed] = i;
		changed++;
		memcpy(buf + i, &new_id, 4);
	}
	assert_int_equal(changed, 2);
	struct ztg_route_diag err;
	struct ztg_route_matcher *m2 = ztg_route_matcher_from_block(buf, size, &err);
	if (m2 == NULL)
		print_error("%s\n", err.message);
	assert_non_null(m2);
	struct ztg_route_match o = expect(m2, M_GET, "/a/q", MATCH, 3);
	assert_int_equal(o.route_id, new_id);
	struct ztg_route_info info;
	assert_int_equal(ztg_route_matcher_route_info(m2, 3, &info), 0);
	assert_int_equal(info.route_id, new_id);
	exercise(m2);  /* and a rebuild from its routes gives exactly these bytes */
	ztg_route_matcher_free(m2);
	/* ... and either side alone is refused */
	for (int k = 0; k < 2; k++) {
		memcpy(buf, ztg_route_matcher_block(mi), size);
		memcpy(buf + where[k], &new_id, 4);
		refused(buf, size, "disagrees with the route table", -1);
	}
	ztg_route_matcher_free(mi);
	free(buf);
	ztg_route_matcher_free(m);
}


static void test_block_truncated_and_header(void **state)
{
	(void)state;
	struct ztg_route_matcher *m = build_ok(small_specs, N_ELEMS(small_specs));
	size_t size = ztg_route_matcher_size(m);
	uint8_t *buf = malloc(size + 64);
	char want[128];

	assert_non_null(buf);
	/* every truncation, each in a buffer of exactly its length */
	for (size_t len = 0; len < size; len++) {
		uint8_t *cut = malloc(len ? len : 1);
		assert_non_null(cut);
		memcpy(cut, m, len);
		if (len < 64) {
			refused(cut, len, "shorter than the 64-byte header", (int)len);
		} else {
			snprintf(want, sizeof(want), "header says %zu bytes, the block has %zu", size, len);
			refused(cut, len, want, 12);
		}
		free(cut);
	}
	/* longer than the header says */
	memcpy(buf, m, size);
	memset(buf + size, 0, 64);
	refused(buf, size + 1, "header says", 12);
	refused(buf, size + 64, "header says", 12);
	refused(NULL, 0, "shorter than", 0);

	struct ztg_route_diag err;
	assert_null(ztg_route_matcher_from_block(NULL, 100, &err));
	assert_int_equal(err.code, E(BAD_ARGUMENT));

	/* magic, version, byte order: the header's first three words */
	uint32_t w;
	memcpy(buf, m, size);
	buf[0] ^= 0x20;
	refused(buf, size, "bad magic", 0);
	memcpy(buf, m, size);
	memcpy(&w, buf, 4);
	w = __builtin_bswap32(w);
	memcpy(buf, &w, 4);
	refused(buf, size, "byte-swapped", 0);

	memcpy(buf, m, size);
	memcpy(&w, buf + 4, 4);
	assert_int_equal(w, ZTG_ROUTE_BLOCK_VERSION);
	w = ZTG_ROUTE_BLOCK_VERSION + 1;
	memcpy(buf + 4, &w, 4);
	snprintf(want, sizeof(want), "format version %u, this build reads version %u", ZTG_ROUTE_BLOCK_VERSION + 1,
		 ZTG_ROUTE_BLOCK_VERSION);
	refused(buf, size, want, 4);
	w = 0;
	memcpy(buf + 4, &w, 4);
	refused(buf, size, "format version 0", 4);

	memcpy(buf, m, size);
	memcpy(&w, buf + 8, 4);
	w = __builtin_bswap32(w);
	memcpy(buf + 8, &w, 4);
	refused(buf, size, "other byte order", 8);

	/* a size field that agrees with len but not with the counts */
	memcpy(buf, m, size);
	memset(buf + size, 0, 64);
	w = (uint32_t)size + 64;
	memcpy(buf + 12, &w, 4);
	refused(buf, size + 64, "need", 12);

	/* padding at the end must be zero (the last byte is padding for this set) */
	memcpy(buf, m, size);
	assert_int_equal(buf[size - 1], 0);
	buf[size - 1] = 1;
	refused(buf, size, "padding at the end is 0x01", (int)size - 1);

	/* the error names */
	assert_string_equal(ztg_route_error_name(E(BAD_BLOCK)), "route_bad_block");
	assert_null(ztg_route_matcher_block(NULL));
	free(buf);
	ztg_route_matcher_free(m);
}

/* ---------------------------------------------------------- path shape */

static void shape_at(const char *path, const char *want, const char *file, int line)
{
	char out[256];
	ssize_t n = ztg_route_path_shape(path, strlen(path), out, sizeof(out));

	if (n < 0 || strcmp(out, want) != 0)
		print_error("shape of \"%s\": got \"%s\", want \"%s\"\n", path, out, want);
	ai(n, strlen(want));
	_assert_string_equal(out, want, file, line);
}
#define assert_shape(path, want) shape_at(path, want, __FILE__, __LINE__)

static void test_path_shape(void **state)
{
	(void)state;
	assert_shape("/users/123/orders", "/users/{id}/orders");
	assert_shape("/users/0", "/users/{id}");
	assert_shape("/u/550e8400-e29b-41d4-a716-446655440000", "/u/{id}");
	assert_shape("/u/550E8400-E29B-41D4-A716-446655440000/x", "/u/{id}/x");
	assert_shape("/u/550e8400-e29b-41d4-a716-44665544000", "/u/{id}");   /* 35: still an opaque token */
	assert_shape("/u/550e8400_e29b_41d4", "/u/550e8400_e29b_41d4");       /* 18 bytes, not hex */
	assert_shape("/k/deadbeefcafebabe", "/k/{id}");                       /* 16 hex */
	assert_shape("/k/DEADBEEFCAFEBAB", "/k/DEADBEEFCAFEBAB");             /* 15 letters */
	assert_shape("/k/0123456789abcdef0", "/k/{id}");
	assert_shape("/t/AbCdEfGhIjKlMnOpQrS1", "/t/{id}");                   /* 20, digit + letter */
	assert_shape("/t/AbCdEfGhIjKlMnOpQr1", "/t/AbCdEfGhIjKlMnOpQr1");     /* 19 */
	assert_shape("/t/abcdefghijklmnopqrstu", "/t/abcdefghijklmnopqrstu"); /* no digit */
	assert_shape("/t/12345678901234567890x_-", "/t/{id}");
	assert_shape("/t/abc_def-ghi_jkl-mno1", "/t/{id}");
	assert_shape("/f/report.1234567890abcdefghij", "/f/report.1234567890abcdefghij");
	assert_shape("/api/v2/items/42/", "/api/v2/items/{id}/");
	assert_shape("/a//b/", "/a//b/");
	assert_shape("/", "/");
	assert_shape("", "");
	assert_shape("12/x", "{id}/x");
	assert_shape("/v1/users/me", "/v1/users/me");

	char out[8];
	assert_int_equal(ztg_route_path_shape("/7", 2, out, 6), 5);     /* grows: "/{id}" */
	assert_string_equal(out, "/{id}");
	assert_int_equal(ztg_route_path_shape("/7", 2, out, 5), -1);
	assert_string_equal(out, "");
	assert_int_equal(ztg_route_path_shape("/abcdefg", 8, out, 8), -1);
	assert_int_equal(ztg_route_path_shape("/abcdef", 7, out, 8), 7);
	assert_int_equal(ztg_route_path_shape("/a", 2, NULL, 8), -1);
	assert_int_equal(ztg_route_path_shape("/a", 2, out, 0), -1);
	assert_int_equal(ztg_route_path_shape(NULL, 0, out, 8), 0);
	/* not NUL-terminated input: only len bytes are read */
	assert_int_equal(ztg_route_path_shape("/12/abc", 3, out, 8), 5);
	assert_string_equal(out, "/{id}");
}

/* ---------------------------------------------------------- helpers */

static void test_method_helpers(void **state)
{
	(void)state;
	uint32_t mask = 0;
	char buf[80];

	assert_int_equal(ztg_route_method_parse("GET", 3, &mask), 0);
	assert_int_equal(mask, BIT(GET));
	assert_int_equal(ztg_route_method_parse("OPTIONS", 7, &mask), 0);
	assert_int_equal(mask, BIT(OPTIONS));
	assert_int_equal(ztg_route_method_parse("TRACE", 5, &mask), 0);
	assert_int_equal(mask, BIT(TRACE));
	assert_int_equal(ztg_route_method_parse("ANY", 3, &mask), 0);
	assert_int_equal(mask, ANY);
	assert_int_equal(ztg_route_method_parse("GETX", 3, &mask), 0);   /* len bounds the name */
	assert_int_equal(ztg_route_method_parse("get", 3, &mask), -1);
	assert_int_equal(ztg_route_method_parse("GETX", 4, &mask), -1);
	assert_int_equal(ztg_route_method_parse("OTHER", 5, &mask), -1);
	assert_int_equal(ztg_route_method_parse("", 0, &mask), -1);
	assert_int_equal(ztg_route_method_parse(NULL, 0, &mask), -1);

	assert_int_equal(ztg_route_methods_format(BIT(GET) | BIT(POST), buf, sizeof(buf)), 8);
	assert_string_equal(buf, "GET,POST");
	assert_int_equal(ztg_route_methods_format(ANY, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "ANY");
	assert_int_equal(ztg_route_methods_format(ANY & ~1u, buf, sizeof(buf)),
			 strlen("GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS,CONNECT,TRACE"));
	assert_string_equal(buf, "GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS,CONNECT,TRACE");
	assert_int_equal(ztg_route_methods_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(ztg_route_methods_format(BIT(GET) | BIT(POST), buf, 8), -1);
	assert_string_equal(buf, "");
	assert_int_equal(ztg_route_methods_format(BIT(GET) | BIT(POST), buf, 9), 8);

	assert_string_equal(ztg_route_method_name(ZTG_HTTP_METHOD_PATCH), "PATCH");
	assert_string_equal(ztg_route_method_name(0), "OTHER");
	assert_string_equal(ztg_route_method_name(99), "OTHER");
	assert_string_equal(ztg_route_result_name(R(MATCH)), "route_match");
	assert_string_equal(ztg_route_result_name(R(NO_ROUTE)), "route_not_found");
	assert_string_equal(ztg_route_result_name(R(METHOD_NOT_ALLOWED)), "route_method_not_allowed");
	assert_string_equal(ztg_route_result_name(R(RESULT_COUNT)), "unknown");
	assert_string_equal(ztg_route_error_name(E(DUPLICATE_ROUTE)), "route_duplicate");
	assert_string_equal(ztg_route_error_name(ZTG_ROUTE_ERROR_COUNT), "unknown");
	for (int e = 0; e < ZTG_ROUTE_ERROR_COUNT; e++)
		assert_non_null(ztg_route_error_name((enum ztg_route_error)e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_param_wildcard),
		cmocka_unit_test(test_backtracking),
		cmocka_unit_test(test_method_backtracking),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_method_other),
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_static_wildcard),
		cmocka_unit_test(test_catch_all),
		cmocka_unit_test(test_trailing_slash),
		cmocka_unit_test(test_empty_segments_in_path),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_depth_limits),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_disjoint_methods_same_shape),
		cmocka_unit_test(test_diagnostics_callback),
		cmocka_unit_test(test_10k_routes),
		cmocka_unit_test(test_relocatable),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_block_round_trip),
		cmocka_unit_test(test_block_corruption),
		cmocka_unit_test(test_block_truncated_and_header),
		cmocka_unit_test(test_path_shape),
		cmocka_unit_test(test_method_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
