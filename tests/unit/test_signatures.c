/*
 * Unit tests for the signature rule loader (control/signatures.h).
 *
 * Fixtures are the small rule files in tests/unit/signatures/, one per kind
 * of problem, found at run time:
 *   argv[1] or $ZTG_SIG_FIXTURES   the fixture directory (required)
 * Files that cannot live in git (a FIFO, a NUL byte, 100,000 rules) are made
 * in a mkdtemp() directory and removed again.
 *
 * Every error test asserts the exact file, the exact line, a piece of the
 * message and the exact error count, so a spurious or missing diagnostic
 * fails as surely as a wrong one.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>

#include <libconfig.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "diag_assert.h"
#include "signatures.h"

struct paths {
	char fixtures[PATH_MAX / 2];
};

struct load {
	int rc;
	struct ztg_sig_set *set;
	struct ztg_policy_diag diag;
	char path[PATH_MAX];
};

/* ---------------------------------------------------------------- harness */

static void load_path(struct load *l, const char *path)
{
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->set = (struct ztg_sig_set *)(uintptr_t)1;   /* must be overwritten */
	ztg_policy_diag_init(&l->diag);
	l->rc = ztg_sig_set_load(l->path, &l->set, &l->diag);
	assert_true(l->rc <= 0);
	assert_true((l->rc == 0) == (l->set != NULL));
}

static void fixture_path(void **state, const char *name, char *out, size_t len)
{
	const struct paths *p = *state;

	snprintf(out, len, "%s/%s", p->fixtures, name);
}

static void load_fixture(void **state, struct load *l, const char *name)
{
	char path[PATH_MAX];

	fixture_path(state, name, path, sizeof(path));
	load_path(l, path);
}

static void unload(struct load *l)
{
	ztg_sig_set_free(l->set);
	ztg_policy_diag_free(&l->diag);
}

static void dump(const struct load *l)
{
	ztg_policy_diag_print(stderr, &l->diag);
}

static void expect_error(void **state, const struct load *l, const char *file, uint32_t line, const char *text)
{
	char path[PATH_MAX];

	fixture_path(state, file, path, sizeof(path));
	ztg_test_expect_diag(&l->diag, ZTG_POLICY_ERROR, path, line, text);
}

/* A failed load returning rc with exactly `errors` errors and no warning. */
static void expect_failure_rc(const struct load *l, int rc, uint32_t errors)
{
	if (l->rc != rc || l->diag.errors != errors || l->diag.warnings != 0) {
		dump(l);
		fail_msg("expected rc %d with %u errors, got rc %d with %u errors, %u warnings", rc, errors, l->rc,
			 l->diag.errors, l->diag.warnings);
	}
	assert_null(l->set);
}

static void expect_failure(const struct load *l, uint32_t errors)
{
	expect_failure_rc(l, -EINVAL, errors);
}

/* A fresh temporary directory and a path in it; the caller removes both. */
static void temp_file(char *dir, size_t dir_len, char *path, size_t path_len, const char *name)
{
	snprintf(dir, dir_len, "/tmp/ztg_sig_test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, path_len, "%.*s/%s", (int)(path_len / 2), dir, name);
}

static void remove_temp(const char *dir, const char *path)
{
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

#define FIELD(f) ZTG_SIG_FIELD_BIT(ZTG_SIG_FIELD_##f)

/* A rule line the generated files use; n makes id and pattern unique. libconfig wants no comma after the last. */
static void write_rule(FILE *f, uint32_t n, bool last)
{
	fprintf(f, "  { id = %u; message = \"rule %u\"; severity = \"low\"; action = \"alert\"; fields = [ \"path\" ]; "
		"pattern = \"abc%u\"; }%s\n", n, n, n, last ? "" : ",");
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ valid input */

/* Text already read parses as the file does: what the policy loader hands over, the bytes its bundle carries. */
static void test_parse_text(void **state)
{
	struct ztg_sig_set *from_file = NULL, *from_text = NULL;
	char path[PATH_MAX], text[65536];
	size_t len;
	FILE *f;

	fixture_path(state, "valid.conf", path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	assert_int_equal(ztg_sig_set_load(path, &from_file, NULL), 0);
	assert_int_equal(ztg_sig_set_parse(path, text, len, &from_text, NULL), 0);
	assert_string_equal(from_text->path, path);
	assert_string_equal(from_text->name, from_file->name);
	assert_int_equal(from_text->rule_count, from_file->rule_count);
	for (uint32_t i = 0; i < from_file->rule_count; i++) {
		assert_int_equal(from_text->rules[i].id, from_file->rules[i].id);
		assert_string_equal(from_text->rules[i].pattern, from_file->rules[i].pattern);
		assert_int_equal(from_text->rules[i].loc.line, from_file->rules[i].loc.line);
	}
	ztg_sig_set_free(from_file);
	ztg_sig_set_free(from_text);
	/* The text must end where it says: a NUL after len bytes. */
	text[len] = 'x';
	assert_int_equal(ztg_sig_set_parse(path, text, len, &from_text, NULL), -EINVAL);
	assert_null(from_text);
}

static void test_valid(void **state)
{
	const struct ztg_sig_set *set;
	const struct ztg_sig_rule *r;
	uint32_t all_fields = 0;
	struct load l;

	load_fixture(state, &l, "valid.conf");
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 0) {
		dump(&l);
		fail_msg("valid.conf must load without errors or warnings");
	}
	set = l.set;
	assert_string_equal(set->name, "valid-set_1.0");
	assert_string_equal(set->path, l.path);
	assert_string_equal(set->loc.file, l.path);
	assert_int_equal(set->loc.line, 2);
	assert_int_equal(set->rule_count, 6);

	r = &set->rules[0];
	assert_int_equal(r->id, 100101);
	assert_string_equal(r->message, "SQL injection: UNION-based SELECT");
	assert_int_equal(r->severity, ZTG_SIG_SEVERITY_HIGH);
	assert_int_equal(r->action, ZTG_SIG_ACTION_SCORE);
	assert_int_equal(r->score, 5);
	assert_int_equal(r->fields, FIELD(QUERY) | FIELD(ARG_VALUES) | FIELD(REQUEST_BODY));
	assert_null(r->header);
	assert_string_equal(r->pattern, "\\bunion\\b[^a-z]{1,40}\\bselect\\b");
	assert_int_equal(r->pattern_len, strlen(r->pattern));
	assert_false(r->literal);
	assert_int_equal(r->flags, ZTG_SIG_FLAG_CASELESS | ZTG_SIG_FLAG_DOTALL | ZTG_SIG_FLAG_MULTILINE);
	assert_int_equal(r->validator, ZTG_SIG_VALIDATOR_NONE);
	assert_int_equal(r->tag_count, 3);
	assert_string_equal(r->tags[0], "sqli");
	assert_string_equal(r->tags[1], "owasp-a03");
	assert_string_equal(r->tags[2], "attack:injection_1.2");
	assert_false(r->monitor);
	assert_string_equal(r->loc.file, l.path);
	assert_int_equal(r->loc.line, 4);

	r = &set->rules[1];
	assert_int_equal(r->id, 2147483647);
	assert_string_equal(r->message, "Log4Shell lookup in 99999999999 places");
	assert_int_equal(r->severity, ZTG_SIG_SEVERITY_CRITICAL);
	assert_int_equal(r->action, ZTG_SIG_ACTION_BLOCK);
	assert_int_equal(r->score, 0);
	assert_int_equal(r->fields, FIELD(METHOD) | FIELD(PATH) | FIELD(QUERY_RAW) | FIELD(ARG_NAMES) | FIELD(HEADER) |
		FIELD(HEADERS) | FIELD(COOKIES));
	assert_string_equal(r->header, "x-api_version");
	assert_string_equal(r->pattern, "${jndi:");
	assert_int_equal(r->pattern_len, 7);
	assert_true(r->literal);
	assert_int_equal(r->flags, ZTG_SIG_FLAG_CASELESS);
	assert_int_equal(r->tag_count, 0);
	assert_null(r->tags);
	assert_true(r->monitor);
	assert_int_equal(r->loc.line, 13);

	/* After a block comment; a wide number in its message and comment is not its id. */
	r = &set->rules[2];
	assert_int_equal(r->id, 1);
	assert_string_equal(r->message, "Status 4294967297 leaked");
	assert_int_equal(r->severity, ZTG_SIG_SEVERITY_INFO);
	assert_int_equal(r->action, ZTG_SIG_ACTION_ALERT);
	assert_int_equal(r->fields, FIELD(RESPONSE_STATUS) | FIELD(RESPONSE_HEADERS) | FIELD(RESPONSE_BODY));
	assert_string_equal(r->pattern, "^5\\d\\d$");
	assert_int_equal(r->flags, ZTG_SIG_FLAG_UTF8 | ZTG_SIG_FLAG_UCP);
	assert_false(r->monitor);
	assert_int_equal(r->loc.line, 25);

	r = &set->rules[3];
	assert_int_equal(r->id, 16);
	assert_int_equal(r->severity, ZTG_SIG_SEVERITY_LOW);
	assert_int_equal(r->action, ZTG_SIG_ACTION_SCORE);
	assert_int_equal(r->score, ZTG_SIG_SCORE_MAX);
	assert_int_equal(r->fields, FIELD(RESPONSE_BODY));
	assert_true(r->literal);
	assert_string_equal(r->pattern, "a\\x00b");   /* an escaped backslash: six bytes, no NUL */
	assert_int_equal(r->pattern_len, 6);
	assert_int_equal(r->flags, 0);
	assert_int_equal(r->tag_count, 1);
	assert_int_equal(strlen(r->tags[0]), 64);
	assert_int_equal(r->loc.line, 29);

	r = &set->rules[4];
	assert_int_equal(r->id, 42);
	assert_int_equal(r->severity, ZTG_SIG_SEVERITY_MEDIUM);
	assert_false(r->literal);
	assert_string_equal(r->pattern, "a\\x00b");
	assert_int_equal(r->flags, 0);
	assert_int_equal(r->loc.line, 34);

	r = &set->rules[5];
	assert_int_equal(r->id, 200101);
	assert_string_equal(r->pattern, "\\d{13,19}");
	assert_false(r->literal);
	assert_int_equal(r->validator, ZTG_SIG_VALIDATOR_LUHN);
	assert_int_equal(r->loc.line, 37);

	for (uint32_t i = 0; i < set->rule_count; i++)
		all_fields |= set->rules[i].fields;
	assert_int_equal(all_fields, (1u << ZTG_SIG_FIELD_COUNT) - 1);
	unload(&l);
}

static void test_empty_rules(void **state)
{
	char path[PATH_MAX];
	struct load l;

	load_fixture(state, &l, "empty_rules.conf");
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 1) {
		dump(&l);
		fail_msg("empty_rules.conf: expected a load with one warning");
	}
	fixture_path(state, "empty_rules.conf", path, sizeof(path));
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_WARNING, path, 2, "rules: the set has no rules");
	assert_string_equal(l.set->name, "empty");
	assert_int_equal(l.set->rule_count, 0);
	assert_null(l.set->rules);
	unload(&l);
}

/* ------------------------------------------------------------ bad values */

static void test_unknown_key(void **state)
{
	struct load l;

	load_fixture(state, &l, "unknown_key.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "unknown_key.conf", 2, "unknown key \"rulez\" (allowed: name, rules)");
	expect_error(state, &l, "unknown_key.conf", 5, "rules[0]: unknown key \"priority\" (allowed: id, message, "
		     "severity, action, score, fields, header, pattern, literal, flags, validator, tags, mode)");
	unload(&l);
}

static void test_missing_keys(void **state)
{
	struct load l;

	load_fixture(state, &l, "missing_keys.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "missing_keys.conf", 0, "missing required key \"name\"");
	expect_error(state, &l, "missing_keys.conf", 3, "rules[0]: missing required key \"id\"");
	expect_error(state, &l, "missing_keys.conf", 4, "rules[1]: missing required key \"message\"");
	expect_error(state, &l, "missing_keys.conf", 4, "rules[1]: missing required key \"severity\"");
	expect_error(state, &l, "missing_keys.conf", 4, "rules[1]: missing required key \"action\"");
	expect_error(state, &l, "missing_keys.conf", 4, "rules[1]: missing required key \"pattern\" or \"literal\"");
	expect_error(state, &l, "missing_keys.conf", 5, "rules[2]: action \"score\" needs a score");
	unload(&l);
}

static void test_wrong_type(void **state)
{
	struct load l;

	load_fixture(state, &l, "wrong_type.conf");
	expect_failure(&l, 16);
	expect_error(state, &l, "wrong_type.conf", 1, "name: expected a name string");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].id: expected an integer 1..2147483647, got a string");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].message: expected a string of 1 to 256 bytes, got an "
		     "integer");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].severity: expected a string (info, low, medium, high "
		     "or critical), got an integer");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].action: expected a string (block, alert or score), "
		     "got a boolean");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].fields: expected a list of field names, got a string");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].pattern: expected a string holding a Hyperscan regex");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].flags: expected a string of flag letters");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].tags: expected a list of tags, got a string");
	expect_error(state, &l, "wrong_type.conf", 3, "rules[0].mode: expected a string (enforce or monitor), got a "
		     "floating-point number");
	expect_error(state, &l, "wrong_type.conf", 4, "rules[1]: expected a group { id = ...;");
	expect_error(state, &l, "wrong_type.conf", 5, "rules[2].id: expected an integer 1..2147483647, got a "
		     "floating-point number");
	expect_error(state, &l, "wrong_type.conf", 5, "rules[2].fields[1]: expected a field name");
	expect_error(state, &l, "wrong_type.conf", 5, "rules[2].header: expected a header name");
	expect_error(state, &l, "wrong_type.conf", 6, "rules[2].literal: expected a string of the exact bytes to "
		     "match, got an array [ ... ]");
	expect_error(state, &l, "wrong_type.conf", 6, "rules[2].tags[0]: expected a tag string");
	unload(&l);
}

static void test_bad_top(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_top.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "bad_top.conf", 2, "name: \"bad name\" is not a valid name (expected 1 to 64 of A-Z "
		     "a-z 0-9 _ . -)");
	expect_error(state, &l, "bad_top.conf", 3, "rules: expected a list of rules");
	unload(&l);
}

/* Out of range, including what libconfig 1.5 would truncate to 32 bits without a word. */
static void test_bad_id(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_id.conf");
	expect_failure(&l, 6);
	expect_error(state, &l, "bad_id.conf", 3, "rules[0].id: 0 is out of range 1..2147483647");
	expect_error(state, &l, "bad_id.conf", 4, "rules[1].id: -5 is out of range 1..2147483647");
	expect_error(state, &l, "bad_id.conf", 5, "rules[2].id: 2147483648 is out of range 1..2147483647");
	expect_error(state, &l, "bad_id.conf", 6, "rules[3].id: 4294967297 is out of range 1..2147483647");
	expect_error(state, &l, "bad_id.conf", 7, "rules[4].id: 2147483648 is out of range 1..2147483647");
	expect_error(state, &l, "bad_id.conf", 8, "rules[5].id: 0x100000001 is out of range 1..2147483647");
	unload(&l);
}

static void test_duplicate_id(void **state)
{
	char path[PATH_MAX], text[PATH_MAX + 128];
	struct load l;

	load_fixture(state, &l, "duplicate_id.conf");
	fixture_path(state, "duplicate_id.conf", path, sizeof(path));
	expect_failure(&l, 4);
	snprintf(text, sizeof(text), "rules[2].id: duplicate id 7 (first used by rules[0] at %s:3)", path);
	expect_error(state, &l, "duplicate_id.conf", 5, text);
	/* The rule with a bad severity keeps its id for the check. */
	expect_error(state, &l, "duplicate_id.conf", 6, "rules[3].severity: unknown severity \"severe\"");
	snprintf(text, sizeof(text), "rules[4].id: duplicate id 9 (first used by rules[3] at %s:6)", path);
	expect_error(state, &l, "duplicate_id.conf", 7, text);
	snprintf(text, sizeof(text), "rules[5].id: duplicate id 7 (first used by rules[0] at %s:3)", path);
	expect_error(state, &l, "duplicate_id.conf", 8, text);
	unload(&l);
}

static void test_bad_message(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_message.conf");
	expect_failure(&l, 3);
	expect_error(state, &l, "bad_message.conf", 3, "rules[0].message: 0 bytes (expected 1 to 256)");
	expect_error(state, &l, "bad_message.conf", 4, "rules[1].message: 257 bytes (expected 1 to 256)");
	expect_error(state, &l, "bad_message.conf", 5, "rules[2].message: holds a control character (0x09) at "
		     "offset 3");
	unload(&l);
}

static void test_bad_enum(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_enum.conf");
	expect_failure(&l, 4);
	expect_error(state, &l, "bad_enum.conf", 3, "rules[0].severity: unknown severity \"severe\" (expected info, "
		     "low, medium, high or critical)");
	expect_error(state, &l, "bad_enum.conf", 3, "rules[0].action: unknown action \"deny\" (expected block, alert "
		     "or score)");
	expect_error(state, &l, "bad_enum.conf", 3, "rules[0].mode: unknown mode \"audit\" (expected enforce or "
		     "monitor)");
	expect_error(state, &l, "bad_enum.conf", 4, "rules[1].severity: unknown severity \"High\"");
	unload(&l);
}

static void test_bad_score(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_score.conf");
	expect_failure(&l, 6);
	expect_error(state, &l, "bad_score.conf", 3, "rules[0]: action \"score\" needs a score (score = 1..1000");
	expect_error(state, &l, "bad_score.conf", 4, "rules[1].score: 0 is out of range 1..1000");
	expect_error(state, &l, "bad_score.conf", 5, "rules[2].score: 1001 is out of range 1..1000");
	expect_error(state, &l, "bad_score.conf", 6, "rules[3].score: only action \"score\" takes a score (this "
		     "rule's action is \"block\")");
	expect_error(state, &l, "bad_score.conf", 7, "rules[4].score: expected an integer 1..1000, got a string");
	/* libconfig 1.5 reads it as 5, which would pass. */
	expect_error(state, &l, "bad_score.conf", 9, "rules[6].score: 4294967301 is out of range 1..1000");
	unload(&l);
}

static void test_bad_fields(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_fields.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "bad_fields.conf", 3, "rules[0].fields: empty list (expected at least one of method, "
		     "path, query_raw, query, arg_names, arg_values, header, headers, cookies, request_body, "
		     "response_status, response_headers or response_body)");
	expect_error(state, &l, "bad_fields.conf", 4, "rules[1].fields[0]: unknown field \"body\" (expected method,");
	expect_error(state, &l, "bad_fields.conf", 4, "rules[1].fields[2]: field \"path\" is listed twice");
	expect_error(state, &l, "bad_fields.conf", 5, "rules[2]: the field \"header\" needs the key header");
	expect_error(state, &l, "bad_fields.conf", 6, "rules[3].header: only the field \"header\" takes a header name");
	expect_error(state, &l, "bad_fields.conf", 7, "rules[4].header: \"Bad Header\" is not a valid header name");
	expect_error(state, &l, "bad_fields.conf", 8, "rules[5].fields[0]: unknown field \"Path\"");
	unload(&l);
}

static void test_bad_pattern(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_pattern.conf");
	expect_failure(&l, 4);
	expect_error(state, &l, "bad_pattern.conf", 3, "rules[0]: both pattern and literal are given");
	expect_error(state, &l, "bad_pattern.conf", 4, "rules[1]: missing required key \"pattern\" or \"literal\"");
	expect_error(state, &l, "bad_pattern.conf", 5, "rules[2].pattern: 0 bytes (expected 1 to 8192)");
	expect_error(state, &l, "bad_pattern.conf", 6, "rules[3].literal: 0 bytes (expected 1 to 8192)");
	unload(&l);
}

static void test_bad_flags(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_flags.conf");
	expect_failure(&l, 5);
	expect_error(state, &l, "bad_flags.conf", 3, "rules[0].flags: unknown flag 'x' (expected i, s, m, u, p)");
	expect_error(state, &l, "bad_flags.conf", 4, "rules[1].flags: flag 'i' is given twice");
	expect_error(state, &l, "bad_flags.conf", 5, "rules[2].flags: flag 'p' (Unicode properties) needs 'u' "
		     "(UTF-8)");
	expect_error(state, &l, "bad_flags.conf", 6, "rules[3].flags: flag 's' does not apply to a literal");
	expect_error(state, &l, "bad_flags.conf", 7, "rules[4].flags: unknown flag 'I'");
	unload(&l);
}

static void test_bad_validator(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_validator.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "bad_validator.conf", 3, "rules[0].validator: unknown validator \"crc32\" (expected "
		     "luhn or iban)");
	expect_error(state, &l, "bad_validator.conf", 4, "rules[1].validator: expected a string (luhn or iban), got an "
		     "integer");
	expect_error(state, &l, "bad_validator.conf", 5, "rules[2].validator: a literal is exact bytes, there is "
		     "nothing to validate");
	expect_error(state, &l, "bad_validator.conf", 6, "rules[3].validator: unknown validator \"Luhn\"");
	/* The default has a name in messages, none a rule can give. */
	expect_error(state, &l, "bad_validator.conf", 7, "rules[4].validator: unknown validator \"none\"");
	expect_error(state, &l, "bad_validator.conf", 9, "rules[5].validator: expected a string (luhn or iban), got an "
		     "array");
	expect_error(state, &l, "bad_validator.conf", 10, "rules[6].validator: unknown validator \"\"");
	unload(&l);
}

static void test_bad_tags(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_tags.conf");
	expect_failure(&l, 6);
	expect_error(state, &l, "bad_tags.conf", 3, "rules[0].tags[0]: \"SQLi\" is not a valid tag (expected 1 to 64 "
		     "of a-z 0-9 _ . : -)");
	expect_error(state, &l, "bad_tags.conf", 4, "rules[1].tags[2]: tag \"a\" is listed twice");
	expect_error(state, &l, "bad_tags.conf", 5, "rules[2].tags: empty list");
	expect_error(state, &l, "bad_tags.conf", 6, "rules[3].tags: 17 tags, at most 16 are allowed");
	expect_error(state, &l, "bad_tags.conf", 7, "rules[4].tags[0]: \"ttttt");
	expect_error(state, &l, "bad_tags.conf", 8, "rules[5].tags[0]: \"has space\" is not a valid tag");
	unload(&l);
}

/* A pattern of exactly ZTG_SIG_PATTERN_MAX bytes loads; one more does not. */
static void test_pattern_bound(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	struct load l;
	FILE *f;

	(void)state;
	temp_file(dir, sizeof(dir), path, sizeof(path), "long.conf");
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "name = \"long\";\nrules = (\n");
	fprintf(f, "  { id = 1; message = \"m\"; severity = \"low\"; action = \"alert\"; fields = [ \"path\" ]; "
		"pattern = \"%0*d\"; },\n", ZTG_SIG_PATTERN_MAX, 0);
	fprintf(f, "  { id = 2; message = \"m\"; severity = \"low\"; action = \"alert\"; fields = [ \"path\" ]; "
		"literal = \"%0*d\"; }\n);\n", ZTG_SIG_PATTERN_MAX + 1, 0);
	fclose(f);

	load_path(&l, path);
	expect_failure(&l, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 4, "rules[1].literal: 8193 bytes (expected 1 to 8192)");
	unload(&l);
	remove_temp(dir, path);
}

/* -------------------------------------------------- the file and its text */

/* libconfig 1.5 would open what an include names (exit() on a directory): refused before it reads. */
static void test_include(void **state)
{
	struct load l;

	load_fixture(state, &l, "include.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "include.conf", 2, "@include is not allowed in a rule file");
	expect_error(state, &l, "include.conf", 3, "@include is not allowed in a rule file");
	unload(&l);
}

static void test_syntax_error(void **state)
{
	struct load l;

	load_fixture(state, &l, "syntax_error.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "syntax_error.conf", 3, "syntax error");
	unload(&l);
}

/* libconfig 1.5 drops "\x00" from a string without a word. */
static void test_nul_escape(void **state)
{
	struct load l;

	load_fixture(state, &l, "nul_escape.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "nul_escape.conf", 5, "a string holds \\x00");
	unload(&l);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "name = \"nul\";\nrules = (\0);\n";
	char dir[PATH_MAX / 2], path[PATH_MAX];
	struct load l;
	FILE *f;

	(void)state;
	temp_file(dir, sizeof(dir), path, sizeof(path), "nul.conf");
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
	fclose(f);
	load_path(&l, path);
	expect_failure(&l, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 2, "the rule file holds a NUL byte");
	unload(&l);
	remove_temp(dir, path);
}

static void test_empty_file(void **state)
{
	struct load l;

	load_fixture(state, &l, "empty.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "empty.conf", 0, "the rule file is empty");
	unload(&l);
}

static void test_missing_file(void **state)
{
	struct load l;

	load_fixture(state, &l, "no_such_rules.conf");
	expect_failure_rc(&l, -ENOENT, 1);
	expect_error(state, &l, "no_such_rules.conf", 0, "cannot open the rule file: No such file or directory");
	unload(&l);
}

/* A directory would make libconfig 1.5 exit(): refused before it is opened. */
static void test_directory(void **state)
{
	const struct paths *p = *state;
	struct load l;

	load_path(&l, p->fixtures);
	expect_failure_rc(&l, -EISDIR, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, p->fixtures, 0, "the rule file is a directory, not a regular file");
	unload(&l);
}

/* A FIFO would block the loader: refused without being opened. */
static void test_fifo(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	struct load l;

	(void)state;
	temp_file(dir, sizeof(dir), path, sizeof(path), "pipe.conf");
	assert_int_equal(mkfifo(path, 0600), 0);
	load_path(&l, path);
	expect_failure_rc(&l, -EINVAL, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 0, "the rule file is a FIFO, not a regular file");
	unload(&l);
	remove_temp(dir, path);
}

/* Beyond ZTG_SIG_FILE_MAX is refused from its size, before anything is read (a sparse file costs nothing). */
static void test_file_bound(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX], want[96];
	struct load l;
	FILE *f;

	(void)state;
	temp_file(dir, sizeof(dir), path, sizeof(path), "huge.conf");
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(truncate(path, (off_t)ZTG_SIG_FILE_MAX + 1), 0);
	load_path(&l, path);
	expect_failure_rc(&l, -EFBIG, 1);
	snprintf(want, sizeof(want), "the rule file is %u bytes, more than the %u allowed", ZTG_SIG_FILE_MAX + 1,
		 ZTG_SIG_FILE_MAX);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 0, want);
	unload(&l);
	remove_temp(dir, path);
}

/* ---------------------------------------------------------------- scale */

static void write_rules(const char *path, uint32_t count)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "name = \"many\";\nrules = (\n");
	for (uint32_t n = 1; n <= count; n++)
		write_rule(f, n, n == count);
	fprintf(f, ");\n");
	assert_int_equal(fclose(f), 0);
}

/* libconfig 1.5 alone reading path: the floor any loader over it stands on. */
static double bare_libconfig_seconds(const char *path)
{
	double start = now_seconds(), seconds;
	config_t cfg;

	config_init(&cfg);
	assert_int_equal(config_read_file(&cfg, path), CONFIG_TRUE);
	seconds = now_seconds() - start;
	config_destroy(&cfg);
	return seconds;
}

/*
 * ZTG_SIG_MAX_RULES rules load; one more is reported, not crashed on. The
 * time bound is relative to libconfig's own parse of the same file, which
 * is most of the cost (hundreds of thousands of small allocations) and
 * varies with the host and its load: the loader's own work (reading,
 * scanning, checking, the id sort) must stay a fraction of it. A quadratic
 * id check would take minutes here.
 */
static void test_many_rules(void **state)
{
	char dir[PATH_MAX / 2], path[PATH_MAX];
	const struct ztg_sig_rule *last;
	double start, seconds, bare;
	struct load l;

	(void)state;
	temp_file(dir, sizeof(dir), path, sizeof(path), "many.conf");
	write_rules(path, ZTG_SIG_MAX_RULES);
	bare = bare_libconfig_seconds(path);
	start = now_seconds();
	load_path(&l, path);
	seconds = now_seconds() - start;
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 0) {
		dump(&l);
		fail_msg("%u generated rules must load", ZTG_SIG_MAX_RULES);
	}
	print_message("%u rules loaded in %.3f s (libconfig's parse alone: %.3f s)\n", ZTG_SIG_MAX_RULES, seconds,
		      bare);
	/* Valgrind slows the two very differently: the bound is for native runs. */
	if (!RUNNING_ON_VALGRIND && seconds > 1.0 && seconds > 2.0 * bare + 0.2)
		fail_msg("loading %u rules took %.3f s, libconfig alone %.3f s", ZTG_SIG_MAX_RULES, seconds, bare);
	assert_int_equal(l.set->rule_count, ZTG_SIG_MAX_RULES);
	last = &l.set->rules[ZTG_SIG_MAX_RULES - 1];
	assert_int_equal(last->id, ZTG_SIG_MAX_RULES);
	assert_string_equal(last->pattern, "abc100000");
	assert_int_equal(last->loc.line, ZTG_SIG_MAX_RULES + 2);
	unload(&l);

	write_rules(path, ZTG_SIG_MAX_RULES + 1);
	load_path(&l, path);
	expect_failure(&l, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 2, "rules: 100001 rules, at most 100000 are allowed");
	unload(&l);
	remove_temp(dir, path);
}

/* ------------------------------------------------------------ reporting */

static void test_diag_print(void **state)
{
	char path[PATH_MAX], want[2 * PATH_MAX + 128];
	struct load l;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	load_fixture(state, &l, "duplicate_id.conf");
	fixture_path(state, "duplicate_id.conf", path, sizeof(path));
	out = open_memstream(&text, &len);
	assert_non_null(out);
	ztg_policy_diag_print(out, &l.diag);
	fclose(out);
	snprintf(want, sizeof(want), "%s:5: error: rules[2].id: duplicate id 7 (first used by rules[0] at %s:3)\n",
		 path, path);
	assert_non_null(strstr(text, want));
	free(text);
	unload(&l);
}

/* Without a diag the result still says whether the set is valid; with one, loads add up. */
static void test_no_diag(void **state)
{
	char path[PATH_MAX];
	struct ztg_sig_set *set = NULL;
	struct ztg_policy_diag diag;

	fixture_path(state, "bad_flags.conf", path, sizeof(path));
	assert_int_equal(ztg_sig_set_load(path, &set, NULL), -EINVAL);
	assert_null(set);
	fixture_path(state, "valid.conf", path, sizeof(path));
	assert_int_equal(ztg_sig_set_load(path, &set, NULL), 0);
	assert_non_null(set);
	ztg_sig_set_free(set);
	ztg_sig_set_free(NULL);

	assert_int_equal(ztg_sig_set_load(path, NULL, NULL), -EINVAL);
	assert_int_equal(ztg_sig_set_load(NULL, &set, NULL), -EINVAL);
	assert_null(set);

	ztg_policy_diag_init(&diag);
	fixture_path(state, "bad_enum.conf", path, sizeof(path));
	assert_int_equal(ztg_sig_set_load(path, &set, &diag), -EINVAL);
	fixture_path(state, "empty_rules.conf", path, sizeof(path));
	assert_int_equal(ztg_sig_set_load(path, &set, &diag), 0);
	ztg_sig_set_free(set);
	assert_int_equal(diag.errors, 4);
	assert_int_equal(diag.warnings, 1);
	assert_int_equal(diag.count, 5);
	ztg_policy_diag_free(&diag);
}

static void test_names(void **state)
{
	enum ztg_sig_field field;

	(void)state;
	for (unsigned i = 0; i < ZTG_SIG_FIELD_COUNT; i++) {
		assert_int_equal(ztg_sig_field_from_name(ztg_sig_field_name((enum ztg_sig_field)i), &field), 0);
		assert_int_equal(field, i);
	}
	assert_string_equal(ztg_sig_field_name(ZTG_SIG_FIELD_QUERY_RAW), "query_raw");
	assert_string_equal(ztg_sig_field_name(ZTG_SIG_FIELD_RESPONSE_BODY), "response_body");
	assert_string_equal(ztg_sig_field_name(ZTG_SIG_FIELD_COUNT), "?");
	assert_int_equal(ztg_sig_field_from_name("Path", &field), -1);
	assert_int_equal(ztg_sig_field_from_name("", &field), -1);
	assert_int_equal(ztg_sig_field_from_name(NULL, &field), -1);
	assert_string_equal(ztg_sig_severity_name(ZTG_SIG_SEVERITY_INFO), "info");
	assert_string_equal(ztg_sig_severity_name(ZTG_SIG_SEVERITY_CRITICAL), "critical");
	assert_string_equal(ztg_sig_severity_name(ZTG_SIG_SEVERITY_COUNT), "?");
	assert_string_equal(ztg_sig_action_name(ZTG_SIG_ACTION_BLOCK), "block");
	assert_string_equal(ztg_sig_action_name(ZTG_SIG_ACTION_SCORE), "score");
	assert_string_equal(ztg_sig_action_name(ZTG_SIG_ACTION_COUNT), "?");
	assert_string_equal(ztg_sig_validator_name(ZTG_SIG_VALIDATOR_NONE), "none");
	assert_string_equal(ztg_sig_validator_name(ZTG_SIG_VALIDATOR_LUHN), "luhn");
	assert_string_equal(ztg_sig_validator_name(ZTG_SIG_VALIDATOR_IBAN), "iban");
	assert_string_equal(ztg_sig_validator_name(ZTG_SIG_VALIDATOR_COUNT), "?");
	/* Bodies stream; the rest are matched whole. */
	assert_int_equal(ZTG_SIG_STREAM_FIELDS, FIELD(REQUEST_BODY) | FIELD(RESPONSE_BODY));
}

/* ----------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static struct paths paths;
	const char *fixtures = argc > 1 ? argv[1] : getenv("ZTG_SIG_FIXTURES");
	size_t len;

	if (fixtures == NULL || *fixtures == '\0') {
		fprintf(stderr, "usage: %s FIXTURE_DIR (or set ZTG_SIG_FIXTURES)\n", argv[0]);
		return 2;
	}
	if (strlen(fixtures) >= sizeof(paths.fixtures) - 64) {
		fprintf(stderr, "%s: path too long\n", argv[0]);
		return 2;
	}
	snprintf(paths.fixtures, sizeof(paths.fixtures), "%s", fixtures);
	len = strlen(paths.fixtures);
	while (len > 1 && paths.fixtures[len - 1] == '/')
		paths.fixtures[--len] = '\0';

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_valid, &paths),
		cmocka_unit_test_prestate(test_parse_text, &paths),
		cmocka_unit_test_prestate(test_empty_rules, &paths),
		cmocka_unit_test_prestate(test_unknown_key, &paths),
		cmocka_unit_test_prestate(test_missing_keys, &paths),
		cmocka_unit_test_prestate(test_wrong_type, &paths),
		cmocka_unit_test_prestate(test_bad_top, &paths),
		cmocka_unit_test_prestate(test_bad_id, &paths),
		cmocka_unit_test_prestate(test_duplicate_id, &paths),
		cmocka_unit_test_prestate(test_bad_message, &paths),
		cmocka_unit_test_prestate(test_bad_enum, &paths),
		cmocka_unit_test_prestate(test_bad_score, &paths),
		cmocka_unit_test_prestate(test_bad_fields, &paths),
		cmocka_unit_test_prestate(test_bad_pattern, &paths),
		cmocka_unit_test_prestate(test_bad_flags, &paths),
		cmocka_unit_test_prestate(test_bad_validator, &paths),
		cmocka_unit_test_prestate(test_bad_tags, &paths),
		cmocka_unit_test_prestate(test_pattern_bound, &paths),
		cmocka_unit_test_prestate(test_include, &paths),
		cmocka_unit_test_prestate(test_syntax_error, &paths),
		cmocka_unit_test_prestate(test_nul_escape, &paths),
		cmocka_unit_test_prestate(test_nul_byte, &paths),
		cmocka_unit_test_prestate(test_empty_file, &paths),
		cmocka_unit_test_prestate(test_missing_file, &paths),
		cmocka_unit_test_prestate(test_directory, &paths),
		cmocka_unit_test_prestate(test_fifo, &paths),
		cmocka_unit_test_prestate(test_file_bound, &paths),
		cmocka_unit_test_prestate(test_many_rules, &paths),
		cmocka_unit_test_prestate(test_diag_print, &paths),
		cmocka_unit_test_prestate(test_no_diag, &paths),
		cmocka_unit_test_prestate(test_names, &paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
