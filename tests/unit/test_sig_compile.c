/*
 * Unit tests for the signature compiler (control/sig_compile.h).
 *
 * The compiler is tested on its own: every set is built by hand here (the
 * struct is public; arena NULL, memory freed by the test), so no test depends
 * on the rule loader, and each set holds exactly the rules its test is about.
 * Matches are checked by scanning with Hyperscan as the dataplane will: the
 * pattern id of a report must be the index of the right rule in the compiled
 * rule table, for the right field. Two tests then go through the loader
 * (signatures.h) too: its valid.conf fixture from argv[1]
 * (tests/unit/signatures/; skipped without it) compiled and taken back from
 * records, and a refused pattern reported at the line of a rule file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hs.h>

#include "bundle.h"
#include "policy_load.h"
#include "sig_compile.h"

#define F(x) ZTG_SIG_FIELD_BIT(ZTG_SIG_FIELD_##x)

static const char *fixtures;   /* argv[1]: the loader's fixtures, or NULL */

/* ---------------------------------------------------------------- harness */

struct spec {
	uint32_t id;
	uint32_t fields;
	const char *header;
	const char *pattern;
	bool literal;
	uint32_t flags;
	uint32_t line;
	enum ztg_sig_validator validator;
};

#define REGEX(i, f, p, fl, l) { .id = (i), .fields = (f), .pattern = (p), .flags = (fl), .line = (l) }
#define LIT(i, f, p, fl, l) { .id = (i), .fields = (f), .pattern = (p), .literal = true, .flags = (fl), .line = (l) }
#define HDR(i, h, p, lit, l) { .id = (i), .fields = F(HEADER), .header = (h), .pattern = (p), .literal = (lit), \
			       .line = (l) }

static struct ztg_sig_set *make_set(const char *name, const char *path, const struct spec *specs, uint32_t n)
{
	struct ztg_sig_set *set = calloc(1, sizeof(*set));

	assert_non_null(set);
	set->rules = calloc(n ? n : 1, sizeof(*set->rules));
	assert_non_null(set->rules);
	set->name = name;
	set->path = path;
	set->rule_count = n;
	set->loc = (struct ztg_policy_loc){ .file = path, .line = 1 };
	for (uint32_t i = 0; i < n; i++) {
		struct ztg_sig_rule *r = &set->rules[i];

		r->id = specs[i].id;
		r->message = "test rule";
		r->severity = ZTG_SIG_SEVERITY_HIGH;
		r->action = ZTG_SIG_ACTION_BLOCK;
		r->fields = specs[i].fields;
		r->header = specs[i].header;
		r->pattern = specs[i].pattern;
		r->pattern_len = (uint32_t)strlen(specs[i].pattern);
		r->literal = specs[i].literal;
		r->flags = specs[i].flags;
		r->validator = specs[i].validator;
		r->loc = (struct ztg_policy_loc){ .file = path, .line = specs[i].line };
	}
	return set;
}

static void free_set(struct ztg_sig_set *set)
{
	if (set == NULL)
		return;
	free(set->rules);
	free(set);
}

/* Compile sets that must compile; fails the test with the diagnostics otherwise. */
static struct ztg_sig_compiled *compile_ok(struct ztg_sig_set **sets, uint32_t n)
{
	struct ztg_sig_compiled *c = NULL;
	struct ztg_policy_diag diag;
	int rc;

	ztg_policy_diag_init(&diag);
	rc = ztg_sig_compile((const struct ztg_sig_set *const *)sets, n, &c, &diag);
	if (rc != 0)
		ztg_policy_diag_print(stderr, &diag);
	assert_int_equal(rc, 0);
	assert_non_null(c);
	assert_int_equal(diag.count, 0);
	ztg_policy_diag_free(&diag);
	return c;
}

struct hits {
	const struct ztg_sig_compiled *c;
	uint32_t ids[256];             /* rule ids, by report */
	uint32_t n;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx)
{
	struct hits *h = ctx;

	(void)from;
	(void)to;
	(void)flags;
	assert_true(id < h->c->rule_count);
	if (h->n < sizeof(h->ids) / sizeof(h->ids[0]))
		h->ids[h->n] = h->c->rules[id]->id;
	h->n++;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The rule ids reported, sorted, as "101 102" ("" for none). */
static const char *hits_text(struct hits *h, char *buf, size_t cap)
{
	size_t o = 0;

	qsort(h->ids, h->n, sizeof(h->ids[0]), cmp_u32);
	buf[0] = '\0';
	for (uint32_t i = 0; i < h->n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%u", i ? " " : "", h->ids[i]);
	return buf;
}

static const struct ztg_sig_db *db_of(const struct ztg_sig_compiled *c, enum ztg_sig_field field, const char *header)
{
	return ztg_sig_compiled_db(c, field, header, header ? strlen(header) : 0);
}

/* Scan text as a block field with its database; the rule ids matched, or "-" when no rule uses the field. */
static const char *scan(const struct ztg_sig_compiled *c, hs_scratch_t *s, enum ztg_sig_field field,
			const char *header, const char *text, char *buf, size_t cap)
{
	const struct ztg_sig_db *d = db_of(c, field, header);
	struct hits h = { .c = c };

	if (d == NULL)
		return "-";
	assert_false(d->streaming);
	assert_int_equal(hs_scan(d->db, text, (unsigned)strlen(text), 0, s, on_match, &h), HS_SUCCESS);
	return hits_text(&h, buf, cap);
}

/* Stream text through field's database in writes of chunk bytes (the last one shorter); the rule ids matched. */
static const char *scan_stream(const struct ztg_sig_compiled *c, hs_scratch_t *s, enum ztg_sig_field field,
			       const char *text, size_t chunk, char *buf, size_t cap, uint32_t *reports)
{
	const struct ztg_sig_db *d = db_of(c, field, NULL);
	size_t len = strlen(text);
	struct hits h = { .c = c };
	hs_stream_t *st = NULL;

	assert_non_null(d);
	assert_true(d->streaming);
	assert_int_equal(hs_open_stream(d->db, 0, &st), HS_SUCCESS);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(hs_scan_stream(st, text + off, (unsigned)n, 0, s, on_match, &h), HS_SUCCESS);
	}
	/* Closing reports what matches at the end of the body ("$"). */
	assert_int_equal(hs_close_stream(st, s, on_match, &h), HS_SUCCESS);
	if (reports != NULL)
		*reports = h.n;
	return hits_text(&h, buf, cap);
}

static hs_scratch_t *scratch_ok(const struct ztg_sig_compiled *c)
{
	hs_scratch_t *s = NULL;

	assert_int_equal(ztg_sig_scratch_alloc(c, &s), 0);
	assert_non_null(s);
	return s;
}

/* ------------------------------------------------------------ a rule set */

/*
 * The set most tests use: regexes and literals over several fields, so that
 * query and path mix both (literals escaped) and headers and cookies hold
 * literals only (hs_compile_lit_multi).
 */
static const struct spec web_rules[] = {
	REGEX(101, F(QUERY) | F(ARG_VALUES) | F(REQUEST_BODY), "\\bunion\\b[^a-z]{1,40}\\bselect\\b",
	      ZTG_SIG_FLAG_CASELESS, 10),
	LIT(102, F(QUERY) | F(HEADERS) | F(REQUEST_BODY), "${jndi:", ZTG_SIG_FLAG_CASELESS, 20),
	REGEX(103, F(PATH), "^/admin(/|$)", 0, 30),
	LIT(104, F(PATH) | F(QUERY), "/etc/passwd", 0, 40),
	REGEX(105, F(REQUEST_BODY) | F(RESPONSE_BODY), "<script[^>]*>", ZTG_SIG_FLAG_CASELESS, 50),
	REGEX(106, F(REQUEST_BODY), "--end$", 0, 60),
	LIT(107, F(COOKIES), "admin=true", 0, 70),
	HDR(108, "user-agent", "sqlmap|nikto", false, 80),
	HDR(109, "x-forwarded-host", "../", true, 90),
	HDR(110, "user-agent", "curl/", true, 100),
};
#define WEB_RULES (uint32_t)(sizeof(web_rules) / sizeof(web_rules[0]))

/* ------------------------------------------------------------------ tests */

static void test_block_fields(void **state)
{
	struct ztg_sig_set *set = make_set("web", "web.conf", web_rules, WEB_RULES);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	const struct ztg_sig_db *d;
	char b[256];

	(void)state;
	/* Pattern id = index in the table = the rule's place in its set here. */
	assert_int_equal(c->rule_count, WEB_RULES);
	for (uint32_t i = 0; i < WEB_RULES; i++)
		assert_ptr_equal(c->rules[i], &set->rules[i]);
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_PATH, NULL, "/admin/users", b, sizeof(b)), "103");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_PATH, NULL, "/static/admin/x", b, sizeof(b)), "");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_PATH, NULL, "/files/../etc/passwd", b, sizeof(b)), "104");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "id=1 UNION/**/ SELECT pw", b, sizeof(b)), "101");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "q=${jndi:ldap://x}&f=/etc/passwd", b, sizeof(b)),
			    "102 104");
	/* A rule is only in its own fields' databases. */
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "1 union select ${jndi:", b, sizeof(b)), "101");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_HEADERS, NULL, "x-a: ${JNDI:dns://} union select", b, sizeof(b)),
			    "102");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_COOKIES, NULL, "sid=1; admin=true", b, sizeof(b)), "107");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_METHOD, NULL, "GET", b, sizeof(b)), "-");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY_RAW, NULL, "a", b, sizeof(b)), "-");

	d = db_of(c, ZTG_SIG_FIELD_QUERY, NULL);
	assert_int_equal(d->pattern_count, 3);
	assert_false(d->streaming);
	assert_null(d->header);
	assert_true(d->bytes > 0);
	d = db_of(c, ZTG_SIG_FIELD_REQUEST_BODY, NULL);
	assert_int_equal(d->pattern_count, 4);
	assert_true(d->streaming);
	assert_true(db_of(c, ZTG_SIG_FIELD_RESPONSE_BODY, NULL)->streaming);
	/* path query arg_values header:user-agent header:x-forwarded-host headers cookies request_body response_body */
	assert_int_equal(c->db_count, 9);
	{
		size_t sum = 0;

		for (uint32_t i = 0; i < c->db_count; i++)
			sum += c->dbs[i].bytes;
		assert_int_equal(sum, c->bytes);
	}
	assert_true(c->compile_seconds > 0);
	assert_int_equal(strlen(c->digest), 64);
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_stream_split(void **state)
{
	static const char *const bodies[] = {
		"{\"q\": \"1 union/**/select password from users\"}",
		"<html><SCRIPT type=\"text/javascript\">alert(1)</script>",
		"name=${jndi:ldap://evil/a}",
		"form data --end",
		"harmless body, union of sets, select a seat",
	};
	static const char *const expect[] = { "101", "105", "102", "106", "" };
	struct ztg_sig_set *set = make_set("web", "web.conf", web_rules, WEB_RULES);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	char b[256];

	(void)state;
	for (uint32_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t len = strlen(bodies[i]);
		/* whole, 2 writes, 3 writes, a byte per write */
		size_t chunks[] = { len, (len + 1) / 2, (len + 2) / 3, 1 };

		for (uint32_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			uint32_t reports;

			assert_string_equal(scan_stream(c, s, ZTG_SIG_FIELD_REQUEST_BODY, bodies[i], chunks[k], b,
							sizeof(b), &reports), expect[i]);
			assert_int_equal(reports, expect[i][0] ? 1 : 0);
		}
	}
	/* The response body has only the script rule. */
	assert_string_equal(scan_stream(c, s, ZTG_SIG_FIELD_RESPONSE_BODY, bodies[1], 5, b, sizeof(b), NULL), "105");
	assert_string_equal(scan_stream(c, s, ZTG_SIG_FIELD_RESPONSE_BODY, bodies[0], 5, b, sizeof(b), NULL), "");
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_singlematch(void **state)
{
	struct ztg_sig_set *set = make_set("web", "web.conf", web_rules, WEB_RULES);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	const struct ztg_sig_db *d = db_of(c, ZTG_SIG_FIELD_QUERY, NULL);
	const char *unit = "1 union select x ${jndi: /etc/passwd ";
	size_t ul = strlen(unit), n = 1000;
	char *text = malloc(ul * n + 1), b[256];
	struct hits h = { .c = c };
	uint32_t reports;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * ul, unit, ul);
	text[ul * n] = '\0';
	/* Three thousand occurrences, three reports: one per rule. */
	assert_int_equal(hs_scan(d->db, text, (unsigned)(ul * n), 0, s, on_match, &h), HS_SUCCESS);
	assert_int_equal(h.n, 3);
	assert_string_equal(hits_text(&h, b, sizeof(b)), "101 102 104");
	/* Per stream as well, however the body is cut. */
	assert_string_equal(scan_stream(c, s, ZTG_SIG_FIELD_REQUEST_BODY, text, 7, b, sizeof(b), &reports), "101 102");
	assert_int_equal(reports, 2);
	free(text);
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

/*
 * A validator rule is compiled without SINGLEMATCH: a first candidate that
 * fails its check must not silence the next. Every candidate is reported,
 * in a block scan and across a stream's writes however they cut it; a rule
 * without a validator beside it still reports once.
 */
static void test_validator_every_candidate(void **state)
{
	static const struct spec rules[] = {
		{ .id = 1, .fields = F(QUERY) | F(RESPONSE_BODY), .pattern = "\\b\\d{4}\\b",
		  .validator = ZTG_SIG_VALIDATOR_LUHN, .line = 1 },
		REGEX(2, F(QUERY) | F(RESPONSE_BODY), "\\b\\d{4}\\b", 0, 2),
		{ .id = 3, .fields = F(RESPONSE_BODY), .pattern = "IBAN [A-Z]{2}", .validator = ZTG_SIG_VALIDATOR_IBAN,
		  .line = 3 },
	};
	static const char text[] = "a=1234&b=5678&c=9012 IBAN DE, IBAN FR";
	struct ztg_sig_set *set = make_set("v", "v.conf", rules, 3);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	const size_t chunks[] = { sizeof(text) - 1, 7, 1 };
	char b[256];

	(void)state;
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, text, b, sizeof(b)), "1 1 1 2");
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++)
		assert_string_equal(scan_stream(c, s, ZTG_SIG_FIELD_RESPONSE_BODY, text, chunks[k], b, sizeof(b), NULL),
				    "1 1 1 2 3 3");
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_header_databases(void **state)
{
	struct ztg_sig_set *set = make_set("web", "web.conf", web_rules, WEB_RULES);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	const struct ztg_sig_db *ua, *xfh;
	char b[256];

	(void)state;
	ua = db_of(c, ZTG_SIG_FIELD_HEADER, "user-agent");
	xfh = db_of(c, ZTG_SIG_FIELD_HEADER, "x-forwarded-host");
	assert_non_null(ua);
	assert_non_null(xfh);
	assert_ptr_not_equal(ua, xfh);
	assert_string_equal(ua->header, "user-agent");
	assert_int_equal(ua->pattern_count, 2);
	assert_int_equal(xfh->pattern_count, 1);
	/* Header names as a request spells them. */
	assert_ptr_equal(db_of(c, ZTG_SIG_FIELD_HEADER, "User-Agent"), ua);
	assert_ptr_equal(ztg_sig_compiled_db(c, ZTG_SIG_FIELD_HEADER, "User-Agent: x", 10), ua);
	assert_null(ztg_sig_compiled_db(c, ZTG_SIG_FIELD_HEADER, "user-agent\0xx", 13));
	assert_null(ztg_sig_compiled_db(c, ZTG_SIG_FIELD_HEADER, "user-agen", 9));
	assert_null(db_of(c, ZTG_SIG_FIELD_HEADER, "referer"));
	assert_null(db_of(c, ZTG_SIG_FIELD_HEADER, NULL));
	/* Each header's rules, and only them. */
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_HEADER, "user-agent", "sqlmap/1.7 curl/8 ../", b, sizeof(b)),
			    "108 110");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_HEADER, "x-forwarded-host", "../../sqlmap", b, sizeof(b)), "109");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_HEADER, "User-Agent", "Mozilla/5.0", b, sizeof(b)), "");
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_caseless(void **state)
{
	static const struct spec rules[] = {
		REGEX(1, F(QUERY), "select", 0, 1),
		REGEX(2, F(QUERY), "union", ZTG_SIG_FLAG_CASELESS, 2),
		LIT(3, F(QUERY) | F(COOKIES), "JNDI", ZTG_SIG_FLAG_CASELESS, 3),
		LIT(4, F(QUERY) | F(COOKIES), "Passwd", 0, 4),
		LIT(5, F(QUERY) | F(COOKIES), "caf\xc3\xa9", ZTG_SIG_FLAG_CASELESS, 5),
	};
	struct ztg_sig_set *set = make_set("case", "case.conf", rules, 5);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	char b[256];

	(void)state;
	/* query mixes regexes and (escaped) literals; cookies holds literals only: both must agree. */
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "SELECT union jndi passwd", b, sizeof(b)), "2 3");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "select UNION JnDi Passwd", b, sizeof(b)),
			    "1 2 3 4");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_COOKIES, NULL, "jndi=1; passwd=2", b, sizeof(b)), "3");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_COOKIES, NULL, "Jndi=1; Passwd=2", b, sizeof(b)), "3 4");
	/* Caseless folds ASCII; the literal's other bytes are matched as they are. */
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "CAF\xc3\xa9", b, sizeof(b)), "5");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_COOKIES, NULL, "CAF\xc3\xa9", b, sizeof(b)), "5");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "CAF\xc3\x89", b, sizeof(b)), "");
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_literal_metacharacters(void **state)
{
	static const struct spec rules[] = {
		LIT(1, F(QUERY) | F(COOKIES), "a.b*c", 0, 1),
		LIT(2, F(QUERY) | F(COOKIES), "(x|y)", 0, 2),
		LIT(3, F(QUERY) | F(COOKIES), "[0-9]+", 0, 3),
		LIT(4, F(QUERY) | F(COOKIES), "\\d{2}", 0, 4),
		LIT(5, F(QUERY) | F(COOKIES), "^$", 0, 5),
		REGEX(6, F(QUERY), "zz[0-9]", 0, 6),      /* makes query a mixed (escaped literals) database */
	};
	static const struct {
		const char *text, *hits;
	} cases[] = {
		{ "axbbc xx 7 55", "" },
		{ "a.b*c", "1" },
		{ "(x|y)", "2" },
		{ "[0-9]+ and 42", "3" },
		{ "\\d{2} 42", "4" },
		{ "^$", "5" },
		{ "x", "" },
		{ "a.b*c(x|y)[0-9]+\\d{2}^$", "1 2 3 4 5" },
	};
	struct ztg_sig_set *set = make_set("meta", "meta.conf", rules, 6);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	char b[256];

	(void)state;
	for (uint32_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].hits;

		assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, cases[i].text, b, sizeof(b)), want);
		assert_string_equal(scan(c, s, ZTG_SIG_FIELD_COOKIES, NULL, cases[i].text, b, sizeof(b)), want);
	}
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "zz9", b, sizeof(b)), "6");
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_regex_flags(void **state)
{
	static const struct spec rules[] = {
		REGEX(1, F(ARG_VALUES), "a.b", 0, 1),
		REGEX(2, F(ARG_VALUES), "c.d", ZTG_SIG_FLAG_DOTALL, 2),
		REGEX(3, F(ARG_VALUES), "^line2", 0, 3),
		REGEX(4, F(ARG_VALUES), "^line3", ZTG_SIG_FLAG_MULTILINE, 4),
		REGEX(5, F(ARG_VALUES), "caf\\x{e9}", ZTG_SIG_FLAG_UTF8, 5),
		REGEX(6, F(ARG_VALUES), "^\\w\\w$", ZTG_SIG_FLAG_UTF8 | ZTG_SIG_FLAG_UCP, 6),
	};
	struct ztg_sig_set *set = make_set("flags", "flags.conf", rules, 6);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c);
	char b[256];

	(void)state;
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "a\nb c\nd", b, sizeof(b)), "2");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "axb", b, sizeof(b)), "1");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "x\nline2\nline3", b, sizeof(b)), "4");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "line2", b, sizeof(b)), "3");
	/* u: \x{e9} is the code point, two bytes in UTF-8; p: \w knows non-ASCII letters. */
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "un caf\xc3\xa9", b, sizeof(b)), "5");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "caf\xe9", b, sizeof(b)), "");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "\xc3\xa9\xc3\xa9", b, sizeof(b)), "6");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_ARG_VALUES, NULL, "\xc3\xa9\xc3\xa9\xc3\xa9", b, sizeof(b)), "");
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	free_set(set);
}

/* The diagnostic at file:line; fails the test when there is none. */
static const struct ztg_policy_diag_entry *find_entry(const struct ztg_policy_diag *d, const char *file,
						      uint32_t line)
{
	for (uint32_t i = 0; i < d->count; i++)
		if (strcmp(d->entries[i].file, file) == 0 && d->entries[i].line == line)
			return &d->entries[i];
	fail_msg("no diagnostic at %s:%u", file, line);
	return NULL;
}

static void test_refused_patterns(void **state)
{
	static const struct spec rules[] = {
		REGEX(1, F(QUERY), "select", 0, 3),
		/* In two databases: refused in both, reported once. */
		REGEX(2, F(QUERY) | F(ARG_VALUES), "(a)\\1", 0, 12),
		REGEX(3, F(PATH), "a{10000000}", 0, 20),
		REGEX(4, F(COOKIES), "x*", 0, 27),
		REGEX(5, F(HEADERS), "ok", 0, 31),
	};
	struct ztg_sig_set *set = make_set("bad", "sigs/bad.conf", rules, 5);
	struct ztg_sig_compiled *c = (void *)1;
	const struct ztg_policy_diag_entry *e;
	struct ztg_policy_diag diag;

	(void)state;
	ztg_policy_diag_init(&diag);
	assert_int_equal(ztg_sig_compile((const struct ztg_sig_set *const *)&set, 1, &c, &diag), -EINVAL);
	assert_null(c);
	ztg_policy_diag_print(stderr, &diag);
	assert_int_equal(diag.errors, 3);
	assert_int_equal(diag.count, 3);
	e = find_entry(&diag, "sigs/bad.conf", 12);
	assert_non_null(e);
	assert_int_equal(e->severity, ZTG_POLICY_ERROR);
	assert_non_null(strstr(e->message, "rules[1] id 2: Hyperscan refuses pattern \"(a)\\1\": "));
	assert_non_null(strstr(e->message, "Back-references are unsupported"));
	e = find_entry(&diag, "sigs/bad.conf", 20);
	assert_non_null(e);
	assert_non_null(strstr(e->message, "rules[2] id 3: Hyperscan refuses pattern \"a{10000000}\": "));
	assert_non_null(strstr(e->message, "repeat is too large"));
	assert_non_null(strstr(e->message, "(field path, block mode)"));
	e = find_entry(&diag, "sigs/bad.conf", 27);
	assert_non_null(e);
	assert_non_null(strstr(e->message, "rules[3] id 4: Hyperscan refuses pattern \"x*\": "));
	assert_non_null(strstr(e->message, "empty"));
	ztg_policy_diag_free(&diag);
	/* diag is optional: the result says it all the same. */
	assert_int_equal(ztg_sig_compile((const struct ztg_sig_set *const *)&set, 1, &c, NULL), -EINVAL);
	assert_null(c);
	free_set(set);
}

static void test_refused_in_streaming_mode(void **state)
{
	/* A long pattern quoted in part; the mode is named since block and stream limits differ. */
	static char long_pattern[400];
	static struct spec rules[] = {
		REGEX(9, F(REQUEST_BODY), NULL, 0, 44),
	};
	struct ztg_sig_set *set;
	struct ztg_sig_compiled *c = NULL;
	struct ztg_policy_diag diag;

	(void)state;
	memset(long_pattern, 'q', sizeof(long_pattern) - 8);
	memcpy(long_pattern + sizeof(long_pattern) - 8, "(b)\\1", 6);
	rules[0].pattern = long_pattern;
	set = make_set("long", "long.conf", rules, 1);
	ztg_policy_diag_init(&diag);
	assert_int_equal(ztg_sig_compile((const struct ztg_sig_set *const *)&set, 1, &c, &diag), -EINVAL);
	assert_int_equal(diag.count, 1);
	assert_int_equal(diag.entries[0].line, 44);
	assert_non_null(strstr(diag.entries[0].message, "\"qqqqqqqq"));
	assert_non_null(strstr(diag.entries[0].message, "...\": "));
	assert_non_null(strstr(diag.entries[0].message, "(field request_body, streaming mode)"));
	ztg_policy_diag_free(&diag);
	free_set(set);
}

static void test_duplicate_ids(void **state)
{
	static const struct spec a_rules[] = {
		REGEX(7, F(QUERY), "aaa", 0, 5),
		REGEX(8, F(QUERY), "bbb", 0, 6),
	};
	static const struct spec b_rules[] = {
		REGEX(9, F(PATH), "ccc", 0, 2),
		REGEX(7, F(PATH), "ddd", 0, 9),
	};
	struct ztg_sig_set *sets[2] = { make_set("a", "a.conf", a_rules, 2), make_set("b", "b.conf", b_rules, 2) };
	struct ztg_sig_compiled *c = NULL;
	const struct ztg_policy_diag_entry *e;
	struct ztg_policy_diag diag;

	(void)state;
	ztg_policy_diag_init(&diag);
	assert_int_equal(ztg_sig_compile((const struct ztg_sig_set *const *)sets, 2, &c, &diag), -EINVAL);
	assert_null(c);
	ztg_policy_diag_print(stderr, &diag);
	assert_int_equal(diag.errors, 2);
	e = find_entry(&diag, "a.conf", 5);
	assert_non_null(e);
	assert_string_equal(e->message, "rules[0] id 7: duplicate id: also rules[1] of set \"b\" at b.conf:9");
	e = find_entry(&diag, "b.conf", 9);
	assert_non_null(e);
	assert_string_equal(e->message, "rules[1] id 7: duplicate id: also rules[0] of set \"a\" at a.conf:5");
	ztg_policy_diag_free(&diag);
	/* Without the second set, no duplicate. */
	c = compile_ok(sets, 1);
	ztg_sig_compiled_free(c);
	free_set(sets[0]);
	free_set(sets[1]);
}

static void test_unusable_rules(void **state)
{
	static const struct spec rules[] = {
		{ .id = 1, .fields = 0, .pattern = "a", .line = 3 },
		{ .id = 2, .fields = F(HEADER), .pattern = "a", .line = 4 },
		{ .id = 3, .fields = 1u << ZTG_SIG_FIELD_COUNT, .pattern = "a", .line = 5 },
		{ .id = 4, .fields = F(PATH), .pattern = "", .literal = true, .line = 6 },
		{ .id = 5, .fields = F(PATH), .pattern = "ok", .line = 7 },
	};
	struct ztg_sig_set *set = make_set("u", "u.conf", rules, 5);
	struct ztg_sig_compiled *c = NULL;
	struct ztg_policy_diag diag;

	(void)state;
	ztg_policy_diag_init(&diag);
	assert_int_equal(ztg_sig_compile((const struct ztg_sig_set *const *)&set, 1, &c, &diag), -EINVAL);
	assert_int_equal(diag.errors, 4);
	assert_non_null(find_entry(&diag, "u.conf", 3));
	assert_non_null(strstr(find_entry(&diag, "u.conf", 4)->message, "header key"));
	assert_non_null(find_entry(&diag, "u.conf", 5));
	assert_non_null(strstr(find_entry(&diag, "u.conf", 6)->message, "empty literal"));
	ztg_policy_diag_free(&diag);
	free_set(set);
}

static void test_digest(void **state)
{
	static const struct spec other_flags[] = { REGEX(1, F(QUERY), "abc", ZTG_SIG_FLAG_CASELESS, 1) };
	static const struct spec base[] = { REGEX(1, F(QUERY), "abc", 0, 1) };
	static const struct spec other_field[] = { REGEX(1, F(PATH), "abc", 0, 1) };
	static const struct spec as_literal[] = { LIT(1, F(QUERY), "abc", 0, 1) };
	static const struct spec validated[] = {
		{ .id = 1, .fields = F(QUERY), .pattern = "abc", .validator = ZTG_SIG_VALIDATOR_LUHN, .line = 1 }
	};
	static const struct spec other_line[] = { REGEX(1, F(QUERY), "abc", 0, 99) };
	const struct spec *variants[] = { other_flags, other_field, as_literal, validated };
	struct ztg_sig_set *set = make_set("d", "d.conf", base, 1), *again = make_set("d", "x.conf", other_line, 1);
	struct ztg_sig_compiled *c = compile_ok(&set, 1), *c2 = compile_ok(&again, 1);

	(void)state;
	assert_int_equal(strspn(c->digest, "0123456789abcdef"), 64);
	assert_int_equal(strlen(c->digest), 64);
	/* Where a rule is written is not what is compiled. */
	assert_string_equal(c->digest, c2->digest);
	for (uint32_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct ztg_sig_set *v = make_set("d", "d.conf", variants[i], 1);
		struct ztg_sig_compiled *cv = compile_ok(&v, 1);

		assert_string_not_equal(c->digest, cv->digest);
		ztg_sig_compiled_free(cv);
		free_set(v);
	}
	ztg_sig_compiled_free(c);
	ztg_sig_compiled_free(c2);
	free_set(set);
	free_set(again);
}

static void test_empty(void **state)
{
	struct ztg_sig_set *set = make_set("none", "none.conf", NULL, 0);
	struct ztg_sig_compiled *c = compile_ok(&set, 1), *back = NULL;
	struct ztg_bundle_files files = { 0 };
	hs_scratch_t *s = (void *)1;
	char err[256];

	(void)state;
	assert_int_equal(c->rule_count, 0);
	assert_int_equal(c->db_count, 0);
	assert_null(db_of(c, ZTG_SIG_FIELD_PATH, NULL));
	assert_int_equal(ztg_sig_scratch_alloc(c, &s), 0);
	assert_null(s);
	assert_int_equal(ztg_sig_compiled_records(c, &files, err, sizeof(err)), 0);
	assert_int_equal(files.count, 0);
	assert_int_equal(ztg_sig_compiled_from_records((const struct ztg_sig_set *const *)&set, 1, &files, &back, err,
						       sizeof(err)), 1);
	assert_null(back);
	ztg_sig_compiled_free(c);
	c = compile_ok(NULL, 0);
	ztg_sig_compiled_free(c);
	ztg_sig_compiled_free(NULL);
	free_set(set);
}

/* ---------------------------------------------------------------- records */

/* The probes compared before and after a round trip: block fields, a header, bodies. */
static void scan_all(const struct ztg_sig_compiled *c, hs_scratch_t *s, char *out, size_t cap)
{
	static const struct {
		enum ztg_sig_field field;
		const char *header, *text;
	} probes[] = {
		{ ZTG_SIG_FIELD_PATH, NULL, "/admin/.git/../etc/passwd" },
		{ ZTG_SIG_FIELD_QUERY, NULL, "q=1 union select ${jndi:x}" },
		{ ZTG_SIG_FIELD_ARG_VALUES, NULL, "union  select" },
		{ ZTG_SIG_FIELD_HEADERS, NULL, "a: ${jndi:" },
		{ ZTG_SIG_FIELD_COOKIES, NULL, "admin=true" },
		{ ZTG_SIG_FIELD_HEADER, "user-agent", "nikto curl/1" },
		{ ZTG_SIG_FIELD_HEADER, "x-forwarded-host", "../" },
	};
	char b[256];
	size_t o = 0;

	for (uint32_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		o += (size_t)snprintf(out + o, cap - o, "%s|",
				      scan(c, s, probes[i].field, probes[i].header, probes[i].text, b, sizeof(b)));
	o += (size_t)snprintf(out + o, cap - o, "%s|", scan_stream(c, s, ZTG_SIG_FIELD_REQUEST_BODY,
			      "x <script> 1 union select 2 --end", 3, b, sizeof(b), NULL));
	snprintf(out + o, cap - o, "%s", scan_stream(c, s, ZTG_SIG_FIELD_RESPONSE_BODY, "<SCRIPT>", 1, b, sizeof(b),
						       NULL));
}

struct records_fixture {
	struct ztg_sig_set *sets[2];
	struct ztg_sig_compiled *c;
	struct ztg_bundle_files files;
};

static int records_setup(void **state)
{
	static const struct spec extra[] = { LIT(201, F(PATH), "/.git/", 0, 4) };
	struct records_fixture *f = calloc(1, sizeof(*f));
	char err[256] = "";
	uint8_t *main_conf = (uint8_t *)strdup("name = \"p\";\n");

	if (f == NULL || main_conf == NULL)
		return -1;
	f->sets[0] = make_set("web", "web.conf", web_rules, WEB_RULES);
	f->sets[1] = make_set("extra", "extra.conf", extra, 1);
	f->c = compile_ok(f->sets, 2);
	/* A bundle's policy file first, as a bundle has it. */
	f->files.files = calloc(1, sizeof(*f->files.files));
	if (f->files.files == NULL)
		return -1;
	f->files.files[0] = (struct ztg_bundle_file){ .name = strdup("policy.conf"), .data = main_conf,
						      .len = strlen((char *)main_conf) };
	f->files.count = 1;
	if (ztg_sig_compiled_records(f->c, &f->files, err, sizeof(err)) != 0) {
		fprintf(stderr, "records: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int records_teardown(void **state)
{
	struct records_fixture *f = *state;

	ztg_bundle_files_free(&f->files);
	ztg_sig_compiled_free(f->c);
	free_set(f->sets[0]);
	free_set(f->sets[1]);
	free(f);
	return 0;
}

static struct ztg_bundle_file *record(struct records_fixture *f, const char *suffix)
{
	char name[256];

	snprintf(name, sizeof(name), "%s%s", ZTG_SIG_COMPILED_RECORD, suffix);
	for (uint32_t i = 0; i < f->files.count; i++)
		if (strcmp(f->files.files[i].name, name) == 0)
			return &f->files.files[i];
	fail_msg("no record %s", name);
	return NULL;
}

/* Where text is in a record's bytes (not NUL-terminated), or NULL. */
static uint8_t *in_record(const struct ztg_bundle_file *r, const char *text)
{
	return memmem(r->data, r->len, text, strlen(text));
}

static void rename_record(struct ztg_bundle_file *r, const char *suffix)
{
	char name[256];

	snprintf(name, sizeof(name), "%s%s", ZTG_SIG_COMPILED_RECORD, suffix);
	free(r->name);
	r->name = strdup(name);
	assert_non_null(r->name);
}

/* from_records must refuse f->files with -EINVAL and a message holding want. */
static void expect_refused(struct records_fixture *f, const char *want)
{
	struct ztg_sig_compiled *back = (void *)1;
	char err[512] = "";
	int rc = ztg_sig_compiled_from_records((const struct ztg_sig_set *const *)f->sets, 2, &f->files, &back, err,
					       sizeof(err));

	if (rc != -EINVAL || strstr(err, want) == NULL)
		fail_msg("rc %d, err \"%s\"; wanted -EINVAL and \"%s\"", rc, err, want);
	assert_null(back);
}

static void test_records_round_trip(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_files parsed = { 0 };
	struct ztg_sig_compiled *back = NULL;
	hs_scratch_t *s1 = scratch_ok(f->c), *s2;
	char before[1024], after[1024], err[512] = "";
	const struct ztg_bundle_file *r;
	uint8_t *bundle = NULL;
	size_t bundle_len = 0;

	/* One record per database, after what files held; names as a bundle takes them. */
	assert_int_equal(f->files.count, 1 + f->c->db_count);
	assert_string_equal(f->files.files[0].name, "policy.conf");
	r = record(f, "header:user-agent");
	record(f, "header:x-forwarded-host");
	record(f, "request_body");
	r = record(f, "query");
	assert_true(r->len > 100);
	assert_memory_equal(r->data, "ztg-sigdb 1\ndigest ", 19);
	assert_memory_equal(r->data + 19, f->c->digest, 64);
	assert_non_null(in_record(r, "\nmode block\npatterns 3\nsha256 "));
	assert_non_null(in_record(record(f, "request_body"), "\nmode stream\npatterns 4\n"));
	assert_int_equal(ztg_bundle_encode(&f->files, "p", &bundle, &bundle_len, NULL, err, sizeof(err)), 0);
	assert_int_equal(ztg_bundle_parse(bundle, bundle_len, "test.bundle", &parsed, NULL, NULL, 0, err, sizeof(err)),
			 0);

	assert_int_equal(ztg_sig_compiled_from_records((const struct ztg_sig_set *const *)f->sets, 2, &parsed, &back,
						       err, sizeof(err)), 0);
	assert_non_null(back);
	assert_string_equal(back->digest, f->c->digest);
	assert_int_equal(back->rule_count, f->c->rule_count);
	for (uint32_t i = 0; i < back->rule_count; i++)
		assert_ptr_equal(back->rules[i], f->c->rules[i]);
	assert_int_equal(back->db_count, f->c->db_count);
	for (uint32_t i = 0; i < back->db_count; i++) {
		assert_int_equal(back->dbs[i].field, f->c->dbs[i].field);
		assert_int_equal(back->dbs[i].streaming, f->c->dbs[i].streaming);
		assert_int_equal(back->dbs[i].pattern_count, f->c->dbs[i].pattern_count);
		assert_int_equal(back->dbs[i].bytes, f->c->dbs[i].bytes);
	}
	assert_true(back->compile_seconds == 0);
	assert_int_equal(back->bytes, f->c->bytes);
	s2 = scratch_ok(back);
	scan_all(f->c, s1, before, sizeof(before));
	scan_all(back, s2, after, sizeof(after));
	assert_string_equal(before, after);
	assert_string_equal(before, "103 104 201|101 102|101|102|107|108 110|109|101 105 106|105");
	/* A rule table from the records serves the compiled form's scratch too: same databases. */
	scan_all(back, s1, after, sizeof(after));
	assert_string_equal(before, after);
	hs_free_scratch(s1);
	hs_free_scratch(s2);
	ztg_sig_compiled_free(back);
	ztg_bundle_files_free(&parsed);
	free(bundle);
}

static void test_records_absent(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_files just_policy = { .files = f->files.files, .count = 1 }, none = { 0 };
	const struct ztg_sig_set *const *sets = (const struct ztg_sig_set *const *)f->sets;
	struct ztg_sig_compiled *back = (void *)1;
	char err[256] = "";

	/* No record at all: 1, compile then. */
	assert_int_equal(ztg_sig_compiled_from_records(sets, 2, &just_policy, &back, err, sizeof(err)), 1);
	assert_null(back);
	assert_int_equal(ztg_sig_compiled_from_records(sets, 2, &none, &back, err, sizeof(err)), 1);
	assert_int_equal(ztg_sig_compiled_from_records(sets, 2, NULL, &back, err, sizeof(err)), 1);
}

static void test_records_flipped_digest(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_file *r = record(f, "path");

	r->data[19 + 10] ^= 0x01;   /* a hex digit of the digest: another digit */
	expect_refused(f, "compiled/signatures/path: compiled from other rules");
	r->data[19 + 10] ^= 0x01;
	r->data[19 + 10] = 'G';     /* not a hex digit */
	expect_refused(f, "compiled/signatures/path: bad digest line");
}

static void test_records_flipped_database(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_file *r = record(f, "request_body");
	const uint8_t *end = in_record(r, "\n\n");
	size_t head = (size_t)(end - r->data) + 2, db_len = r->len - head;
	char hash[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	uint8_t *sha;

	/* Anywhere in the database, its tail (which Hyperscan's own checksum skips) too. */
	for (size_t at = head; at < r->len; at += db_len / 7) {
		r->data[at] ^= 0x20;
		expect_refused(f, "compiled/signatures/request_body: the database bytes do not match their sha256");
		r->data[at] ^= 0x20;
	}
	r->data[r->len - 1] ^= 0x01;
	expect_refused(f, "do not match their sha256");
	r->data[r->len - 1] ^= 0x01;
	/* Damaged bytes under a hash made to fit: Hyperscan's checksum still refuses them. */
	sha = in_record(r, "sha256 ") + 7;
	r->data[head + db_len / 2] ^= 0x01;
	assert_int_equal(ztg_bundle_sha256_hex(r->data + head, db_len, hash), 0);
	memcpy(sha, hash, 64);
	expect_refused(f, "compiled/signatures/request_body: unusable: ");
}

static void test_records_missing_and_extra(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_file *r = record(f, "cookies"), saved = *r, *last;

	/* Drop it: swap with the last record and shorten. */
	*r = f->files.files[f->files.count - 1];
	f->files.files[f->files.count - 1] = saved;
	f->files.count--;
	expect_refused(f, "compiled/signatures/cookies: missing: the rules need this database");
	f->files.count++;
	last = &f->files.files[f->files.count - 1];
	/* A database no rule needs, or no database at all. */
	rename_record(last, "method");
	expect_refused(f, "compiled/signatures/method: no rule of the signature sets uses this database");
	rename_record(last, "header:referer");
	expect_refused(f, "compiled/signatures/header:referer: no rule");
	rename_record(last, "nonsense");
	expect_refused(f, "compiled/signatures/nonsense: no rule");
	rename_record(last, "path:x");
	expect_refused(f, "compiled/signatures/path:x: no rule");
	/* Twice the same database. */
	rename_record(last, "path");
	expect_refused(f, "a second record for the same database");
	rename_record(last, "cookies");
	{
		struct ztg_sig_compiled *back = NULL;
		char err[256];

		assert_int_equal(ztg_sig_compiled_from_records((const struct ztg_sig_set *const *)f->sets, 2, &f->files,
							       &back, err, sizeof(err)), 0);
		ztg_sig_compiled_free(back);
	}
}

static void test_records_other_rules(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_sig_compiled *back = NULL;
	const char *saved = f->sets[0]->rules[2].pattern;
	char err[512] = "";

	/* The bundle's rules changed after compiling: every record disagrees. */
	f->sets[0]->rules[2].pattern = "^/admin(/|$)|^/root";
	f->sets[0]->rules[2].pattern_len = (uint32_t)strlen(f->sets[0]->rules[2].pattern);
	expect_refused(f, "compiled from other rules");
	expect_refused(f, "the bundle's rules and its compiled signatures disagree");
	f->sets[0]->rules[2].pattern = saved;
	f->sets[0]->rules[2].pattern_len = (uint32_t)strlen(saved);
	/* One set fewer: other rules again. */
	assert_int_equal(ztg_sig_compiled_from_records((const struct ztg_sig_set *const *)f->sets, 1, &f->files, &back,
						       err, sizeof(err)), -EINVAL);
	assert_null(back);
}

/* Replace record r's data by text + its database bytes (the header rewritten). */
static void rewrite_head(struct ztg_bundle_file *r, const char *from, const char *to)
{
	uint8_t *at = in_record(r, from);
	size_t fl = strlen(from), tl = strlen(to), off;
	uint8_t *data;

	assert_non_null(at);
	off = (size_t)(at - r->data);
	data = malloc(r->len - fl + tl);
	assert_non_null(data);
	memcpy(data, r->data, off);
	memcpy(data + off, to, tl);
	memcpy(data + off + tl, r->data + off + fl, r->len - off - fl);
	free(r->data);
	r->data = data;
	r->len = r->len - fl + tl;
}

static void test_records_bad_header(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_file *r = record(f, "query");
	size_t len = r->len;

	rewrite_head(r, "mode block\n", "mode stream\n");
	expect_refused(f, "compiled/signatures/query: mode stream, the field is matched in block mode");
	rewrite_head(r, "mode stream\n", "mode block\n");
	rewrite_head(r, "patterns 3\n", "patterns 4\n");
	expect_refused(f, "compiled/signatures/query: 4 patterns, the rules give 3");
	rewrite_head(r, "patterns 4\n", "patterns 03\n");
	expect_refused(f, "bad patterns line");
	rewrite_head(r, "patterns 03\n", "patterns 3\n");
	rewrite_head(r, "ztg-sigdb 1\n", "ztg-sigdb 2\n");
	expect_refused(f, "compiled/signatures/query: does not start with \"ztg-sigdb 1\"");
	rewrite_head(r, "ztg-sigdb 2\n", "ztg-sigdb 1\n");
	assert_int_equal(r->len, len);
	r->len--;
	expect_refused(f, "another number of database bytes");
	r->len = 30;
	expect_refused(f, "bad digest line");
	r->len = 0;
	expect_refused(f, "does not start with");
	r->len = len;
}

static void test_records_wrong_mode_bytes(void **state)
{
	struct records_fixture *f = *state;
	struct ztg_bundle_file *q = record(f, "query"), *b = record(f, "request_body");
	char *qname = q->name, *bname = b->name;

	/* A streaming database under a block field's name, its header made to fit: the bytes' own mode decides. */
	q->name = bname;
	b->name = qname;
	rewrite_head(q, "mode block\npatterns 3\n", "mode stream\npatterns 4\n");
	rewrite_head(b, "mode stream\npatterns 4\n", "mode block\npatterns 3\n");
	expect_refused(f, "the database is not a ");
	q->name = qname;
	b->name = bname;
}

static void test_records_bad_header_name(void **state)
{
	static const struct spec rules[] = { HDR(1, "x/y", "abc", false, 1) };
	struct ztg_sig_set *set = make_set("h", "h.conf", rules, 1);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	struct ztg_bundle_files files = { 0 };
	char err[256] = "";

	(void)state;
	assert_int_equal(ztg_sig_compiled_records(c, &files, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"x/y\" cannot name a bundle record"));
	assert_int_equal(files.count, 0);
	ztg_sig_compiled_free(c);
	free_set(set);
}

static void test_scratch(void **state)
{
	struct ztg_sig_set *set = make_set("web", "web.conf", web_rules, WEB_RULES);
	struct ztg_sig_compiled *c = compile_ok(&set, 1);
	hs_scratch_t *s = scratch_ok(c), *s2 = scratch_ok(c);
	size_t size = 0;
	char out[1024];

	(void)state;
	assert_ptr_not_equal(s, s2);
	assert_int_equal(hs_scratch_size(s, &size), HS_SUCCESS);
	assert_true(size > 0);
	/* Large enough for every database, block and streaming alike. */
	scan_all(c, s, out, sizeof(out));
	scan_all(c, s2, out, sizeof(out));
	assert_string_equal(out, "103 104|101 102|101|102|107|108 110|109|101 105 106|105");
	hs_free_scratch(s);
	hs_free_scratch(s2);
	ztg_sig_compiled_free(c);
	free_set(set);
}

/* ------------------------------------------------------- with the loader */

static void test_loaded_set(void **state)
{
	struct ztg_sig_set *set = NULL;
	struct ztg_sig_compiled *c, *back = NULL;
	struct ztg_bundle_files files = { 0 };
	struct ztg_policy_diag diag;
	hs_scratch_t *s;
	char path[4096], b[256], err[512] = "";
	const struct ztg_sig_db *d;

	(void)state;
	if (fixtures == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/valid.conf", fixtures);
	ztg_policy_diag_init(&diag);
	if (ztg_sig_set_load(path, &set, &diag) != 0)
		ztg_policy_diag_print(stderr, &diag);
	assert_non_null(set);
	ztg_policy_diag_free(&diag);
	c = compile_ok(&set, 1);
	s = scratch_ok(c);
	assert_int_equal(c->rule_count, set->rule_count);
	/* The header rule's database, under the name as the loader keeps it and as a request spells it. */
	d = db_of(c, ZTG_SIG_FIELD_HEADER, "X-Api_Version");
	assert_non_null(d);
	assert_int_equal(d->pattern_count, 1);
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_HEADER, "x-api_version", "${JNDI:ldap://a}", b, sizeof(b)),
			    "2147483647");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_QUERY, NULL, "id=1 UNION\n SELECT", b, sizeof(b)), "100101");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_RESPONSE_STATUS, NULL, "503", b, sizeof(b)), "1");
	assert_string_equal(scan(c, s, ZTG_SIG_FIELD_RESPONSE_STATUS, NULL, "200", b, sizeof(b)), "");
	/* The literal a\x00b is those six characters, the pattern a\x00b is a, NUL, b. */
	assert_string_equal(scan_stream(c, s, ZTG_SIG_FIELD_RESPONSE_BODY, "xa\\x00bx", 2, b, sizeof(b), NULL), "16");
	{
		struct hits h = { .c = c };

		assert_int_equal(hs_scan(db_of(c, ZTG_SIG_FIELD_PATH, NULL)->db, "/a\0b", 4, 0, s, on_match, &h),
				 HS_SUCCESS);
		assert_string_equal(hits_text(&h, b, sizeof(b)), "42");
	}
	assert_int_equal(ztg_sig_compiled_records(c, &files, err, sizeof(err)), 0);
	assert_int_equal(ztg_sig_compiled_from_records((const struct ztg_sig_set *const *)&set, 1, &files, &back, err,
						       sizeof(err)), 0);
	assert_string_equal(back->digest, c->digest);
	assert_string_equal(scan(back, s, ZTG_SIG_FIELD_RESPONSE_STATUS, NULL, "599", b, sizeof(b)), "1");
	ztg_sig_compiled_free(back);
	ztg_bundle_files_free(&files);
	hs_free_scratch(s);
	ztg_sig_compiled_free(c);
	ztg_sig_set_free(set);
}

static void test_loaded_refusal(void **state)
{
	static const char text[] =
		"name = \"refused\";\n"
		"rules = (\n"
		"  { id = 1; message = \"fine\"; severity = \"low\"; action = \"alert\"; fields = [ \"path\" ];\n"
		"    pattern = \"ok\"; },\n"
		"\n"
		"  { id = 2; message = \"refused\"; severity = \"low\"; action = \"alert\"; fields = [ \"query\" ];\n"
		"    pattern = \"(a)\\\\1\"; }\n"
		");\n";
	const char *tmp = getenv("TMPDIR");
	struct ztg_sig_set *set = NULL;
	struct ztg_sig_compiled *c = NULL;
	const struct ztg_policy_diag_entry *e;
	struct ztg_policy_diag diag;
	char path[4096];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/ztg-sig-compile-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	ztg_policy_diag_init(&diag);
	assert_int_equal(ztg_sig_set_load(path, &set, &diag), 0);
	assert_int_equal(ztg_sig_compile((const struct ztg_sig_set *const *)&set, 1, &c, &diag), -EINVAL);
	assert_null(c);
	ztg_policy_diag_print(stderr, &diag);
	assert_int_equal(diag.count, 1);
	/* At the rule's own line in the file, as the loader saw it. */
	assert_true(set->rules[1].loc.line >= 6 && set->rules[1].loc.line <= 7);
	e = find_entry(&diag, path, set->rules[1].loc.line);
	assert_string_equal(e->message, "rules[1] id 2: Hyperscan refuses pattern \"(a)\\1\": "
			    "Back-references are unsupported. (field query, block mode)");
	ztg_policy_diag_free(&diag);
	ztg_sig_set_free(set);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_fields),
		cmocka_unit_test(test_stream_split),
		cmocka_unit_test(test_singlematch),
		cmocka_unit_test(test_validator_every_candidate),
		cmocka_unit_test(test_header_databases),
		cmocka_unit_test(test_caseless),
		cmocka_unit_test(test_literal_metacharacters),
		cmocka_unit_test(test_regex_flags),
		cmocka_unit_test(test_refused_patterns),
		cmocka_unit_test(test_refused_in_streaming_mode),
		cmocka_unit_test(test_duplicate_ids),
		cmocka_unit_test(test_unusable_rules),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_empty),
		cmocka_unit_test_setup_teardown(test_records_round_trip, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_absent, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_flipped_digest, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_flipped_database, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_missing_and_extra, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_other_rules, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_bad_header, records_setup, records_teardown),
		cmocka_unit_test_setup_teardown(test_records_wrong_mode_bytes, records_setup, records_teardown),
		cmocka_unit_test(test_records_bad_header_name),
		cmocka_unit_test(test_scratch),
		cmocka_unit_test(test_loaded_set),
		cmocka_unit_test(test_loaded_refusal),
	};

	fixtures = argc > 1 && argv[1][0] != '\0' ? argv[1] : NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
