/*
 * Unit tests for detect (dataplane/detect/detect.h): what the dataplane
 * decides from the signatures, without EAL or packets. Rule sets are parsed
 * from text by the real loader and compiled by the real compiler; a policy
 * holds only what detect reads (its sets). Bodies are fed as the HTTP parser
 * delivers them: in order, in pieces of any size.
 *
 * argv[1]: the source root, for the shipped card-number rules.
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

#include "detect/detect.h"
#include "signatures.h"

static const char *source_root;

/* A policy of one or two sets and a detect built for one worker with `streams` streams. */
struct fixture {
	struct ztg_sig_set *sets[2];
	struct ztg_policy policy;
	struct ztg_detect *detect;
	struct ztg_policy_detect cfg;
};

static struct ztg_sig_set *parse_set(const char *text)
{
	struct ztg_policy_diag diag;
	struct ztg_sig_set *set = NULL;

	ztg_policy_diag_init(&diag);
	if (ztg_sig_set_parse("inline.rules", text, strlen(text), &set, &diag) != 0)
		ztg_policy_diag_print(stderr, &diag);
	ztg_policy_diag_free(&diag);
	assert_non_null(set);
	return set;
}

static void fixture_build(struct fixture *f, uint32_t streams)
{
	char err[512] = "";
	bool none;

	f->policy.path = "inline.conf";
	f->policy.signature_sets = f->sets;
	f->policy.signature_set_count = f->sets[1] != NULL ? 2 : 1;
	f->detect = ztg_detect_build(&f->policy, NULL, 1, streams, &none, err, sizeof(err));
	if (f->detect == NULL)
		fail_msg("detect build: %s", err);
	f->cfg = (struct ztg_policy_detect){
		.present = true,
		.sets = f->policy.signature_set_count == 2 ? 3 : 1,
		.threshold = 5,
		.request_body_depth = ZTG_POLICY_BODY_DEPTH_DEFAULT,
		.response_body_depth = ZTG_POLICY_BODY_DEPTH_DEFAULT,
	};
}

static void fixture_free(struct fixture *f)
{
	ztg_detect_free(f->detect);
	ztg_sig_set_free(f->sets[0]);
	ztg_sig_set_free(f->sets[1]);
}

static bool has_rule(const struct ztg_detect_result *r, uint32_t id)
{
	for (uint32_t i = 0; i < r->match_count && i < ZTG_DETECT_MAX_MATCHES; i++) {
		if (r->rules[i] == id)
			return true;
	}
	return false;
}

/*
 * Feed body in pieces: cut[] lists the offsets where a piece ends. Returns
 * the index of the piece after which the result first blocked (cut_count + 1:
 * at the close; -1: never), with the final result (after close) in *out.
 */
static int feed(struct fixture *f, enum ztg_detect_body body, const struct ztg_detect_result *head, const char *data,
		const uint32_t *cuts, uint32_t cut_count, struct ztg_detect_result *out)
{
	uint32_t stream = 0, at = 0;
	int blocked = -1;

	assert_int_equal(ztg_detect_body_open(f->detect, 0, body, &f->cfg, head, &stream), 0);
	for (uint32_t i = 0; i <= cut_count; i++) {
		uint32_t end = i < cut_count ? cuts[i] : (uint32_t)strlen(data);

		ztg_detect_body_scan(f->detect, 0, body, stream, (const uint8_t *)data + at, end - at, out);
		at = end;
		if (out->block && blocked < 0)
			blocked = (int)i;
		if (out->depth_reached)
			return blocked;
	}
	ztg_detect_body_close(f->detect, 0, body, stream, out);
	if (out->block && blocked < 0)
		blocked = (int)cut_count + 1;
	return blocked;
}

static const char body_rules[] =
	"name = \"body\";\n"
	"rules = (\n"
	"  { id = 1; message = \"jndi\"; severity = \"critical\"; action = \"block\";\n"
	"    fields = [ \"request_body\" ]; literal = \"${jndi:\"; flags = \"i\"; },\n"
	"  { id = 2; message = \"union\"; severity = \"high\"; action = \"score\"; score = 3;\n"
	"    fields = [ \"query\", \"request_body\" ]; pattern = \"\\\\bunion\\\\s+select\\\\b\"; flags = \"i\"; },\n"
	"  { id = 3; message = \"comment\"; severity = \"medium\"; action = \"score\"; score = 3;\n"
	"    fields = [ \"request_body\" ]; literal = \"/*\"; },\n"
	"  { id = 4; message = \"ends with secret\"; severity = \"high\"; action = \"block\";\n"
	"    fields = [ \"response_body\" ]; pattern = \"secret$\"; },\n"
	"  { id = 5; message = \"key\"; severity = \"high\"; action = \"alert\";\n"
	"    fields = [ \"response_body\" ]; literal = \"AKIA\"; },\n"
	"  { id = 6; message = \"token\"; severity = \"high\"; action = \"alert\";\n"
	"    fields = [ \"response_body\" ]; literal = \"ghp_\"; },\n"
	"  { id = 7; message = \"5xx\"; severity = \"low\"; action = \"alert\";\n"
	"    fields = [ \"response_status\" ]; pattern = \"^5\\\\d\\\\d$\"; },\n"
	"  { id = 8; message = \"server\"; severity = \"low\"; action = \"block\";\n"
	"    fields = [ \"response_headers\" ]; pattern = \"^server:\\\\s*evil\"; flags = \"i\"; }\n"
	");\n";

/* A pattern split at every offset, and fed one byte at a time, blocks at the piece where it ends. */
static void test_split_anywhere(void **state)
{
	static const char body[] = "{\"name\":\"x\",\"v\":\"${JNDI:ldap://e/a}\"}";
	const uint32_t end = (uint32_t)(strstr(body, "${JNDI:") - body) + 7;
	struct fixture f = {0};
	struct ztg_detect_result r;
	uint32_t ones[sizeof(body)];

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 4);
	for (uint32_t cut = 1; cut < sizeof(body) - 1; cut++) {
		int blocked = feed(&f, ZTG_DETECT_REQUEST_BODY, NULL, body, &cut, 1, &r);

		assert_true(r.block);
		assert_true(has_rule(&r, 1));
		assert_int_equal(blocked, cut >= end ? 0 : 1);
	}
	for (uint32_t i = 0; i < sizeof(body) - 2; i++)
		ones[i] = i + 1;
	assert_int_equal(feed(&f, ZTG_DETECT_REQUEST_BODY, NULL, body, ones, sizeof(body) - 2, &r), (int)end - 1);
	assert_int_equal(r.first_block->id, 1);
	assert_int_equal(r.fields[0], ZTG_SIG_FIELD_REQUEST_BODY);
	assert_int_equal(ztg_detect_streams_held(f.detect, 0), 0);
	fixture_free(&f);
}

/* Scores add up across the head and the body; the threshold reached blocks with no rule alone. */
static void test_score_head_and_body(void **state)
{
	struct fixture f = {0};
	struct ztg_detect_result head = {.score = 3, .match_count = 1, .new_matches = 1, .rules = {2}};
	struct ztg_detect_result r;
	uint32_t cut = 4;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 4);
	/* The same rule in the body again is not counted twice. */
	feed(&f, ZTG_DETECT_REQUEST_BODY, &head, "1 UNION SELECT 2", &cut, 1, &r);
	assert_false(r.block);
	assert_int_equal(r.score, 3);
	assert_int_equal(r.match_count, 1);
	feed(&f, ZTG_DETECT_REQUEST_BODY, &head, "a=1 /* b", &cut, 1, &r);
	assert_true(r.block);
	assert_null(r.first_block);
	assert_int_equal(r.score, 6);
	assert_true(has_rule(&r, 2) && has_rule(&r, 3));
	fixture_free(&f);
}

/* Past the depth nothing is scanned and the stream is released; a match ending at the depth counts. */
static void test_depth(void **state)
{
	static const char body[] = "0123456789${jndi:x}";
	struct fixture f = {0};
	struct ztg_detect_result r;
	uint32_t cut = 12;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 4);
	f.cfg.request_body_depth = 16;
	feed(&f, ZTG_DETECT_REQUEST_BODY, NULL, body, &cut, 1, &r);
	assert_true(r.depth_reached);
	assert_false(r.block);
	assert_int_equal(ztg_detect_streams_held(f.detect, 0), 0);
	f.cfg.request_body_depth = 17;
	feed(&f, ZTG_DETECT_REQUEST_BODY, NULL, body, &cut, 1, &r);
	assert_true(r.block);
	f.cfg.request_body_depth = 0;
	{
		uint32_t stream;

		assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_REQUEST_BODY, &f.cfg, NULL, &stream), 1);
	}
	fixture_free(&f);
}

/* An end anchor matches at the body's end (close), not where a piece happens to end. */
static void test_end_of_body(void **state)
{
	struct fixture f = {0};
	struct ztg_detect_result r;
	uint32_t cut = 10;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 4);
	assert_int_equal(feed(&f, ZTG_DETECT_RESPONSE_BODY, NULL, "the secret is out", &cut, 1, &r), -1);
	assert_false(r.block);
	cut = 4;
	assert_int_equal(feed(&f, ZTG_DETECT_RESPONSE_BODY, NULL, "our secret", &cut, 1, &r), 2);
	assert_true(r.block);
	assert_int_equal(r.first_block->id, 4);
	fixture_free(&f);
}

/* Alerts are reported once each, block_sets turn them into blocks, a monitor route reports blocks. */
static void test_alerts_block_sets_monitor(void **state)
{
	static const char body[] = "key AKIA1234 and AKIA5678 then ghp_abc";
	const uint32_t cuts[] = {10, 22, 30};
	struct fixture f = {0};
	struct ztg_detect_result r;
	uint32_t stream, at = 0, reports = 0;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 4);
	assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_RESPONSE_BODY, &f.cfg, NULL, &stream), 0);
	for (uint32_t i = 0; i <= 3; i++) {
		uint32_t end = i < 3 ? cuts[i] : (uint32_t)strlen(body);

		ztg_detect_body_scan(f.detect, 0, ZTG_DETECT_RESPONSE_BODY, stream, (const uint8_t *)body + at, end - at,
				     &r);
		at = end;
		assert_false(r.block);
		reports += r.report;
	}
	ztg_detect_body_close(f.detect, 0, ZTG_DETECT_RESPONSE_BODY, stream, &r);
	assert_int_equal(reports, 2);            /* AKIA once, then ghp_ */
	assert_int_equal(r.match_count, 2);
	f.cfg.block_sets = 1;
	assert_int_equal(feed(&f, ZTG_DETECT_RESPONSE_BODY, NULL, body, cuts, 3, &r), 0);
	assert_int_equal(r.first_block->id, 5);
	f.cfg.monitor = true;
	assert_int_equal(feed(&f, ZTG_DETECT_RESPONSE_BODY, NULL, body, cuts, 3, &r), -1);
	assert_true(r.alert);
	fixture_free(&f);
}

/* A rule of a set the route does not select never counts. */
static void test_unselected_set(void **state)
{
	struct fixture f = {0};
	struct ztg_detect_result r;
	uint32_t cut = 3;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	f.sets[1] = parse_set("name = \"other\";\nrules = ( { id = 9; message = \"m\"; severity = \"low\";\n"
			      "  action = \"block\"; fields = [ \"request_body\" ]; literal = \"zzz\"; } );\n");
	fixture_build(&f, 4);
	f.cfg.sets = 1;
	feed(&f, ZTG_DETECT_REQUEST_BODY, NULL, "a zzz b", &cut, 1, &r);
	assert_int_equal(r.match_count, 0);
	f.cfg.sets = 2;
	feed(&f, ZTG_DETECT_REQUEST_BODY, NULL, "a zzz ${jndi:", &cut, 1, &r);
	assert_int_equal(r.match_count, 1);
	assert_int_equal(r.first_block->id, 9);
	fixture_free(&f);
}

/* Every stream held: the next body is refused; one released is taken again. */
static void test_streams_exhausted(void **state)
{
	struct fixture f = {0};
	uint32_t a, b, c;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 2);
	assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_REQUEST_BODY, &f.cfg, NULL, &a), 0);
	assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_REQUEST_BODY, &f.cfg, NULL, &b), 0);
	assert_int_not_equal(a, b);
	assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_REQUEST_BODY, &f.cfg, NULL, &c), -1);
	/* The other direction has its own pool. */
	assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_RESPONSE_BODY, &f.cfg, NULL, &c), 0);
	assert_int_equal(ztg_detect_streams_held(f.detect, 0), 3);
	ztg_detect_body_abandon(f.detect, 0, ZTG_DETECT_REQUEST_BODY, a);
	assert_int_equal(ztg_detect_body_open(f.detect, 0, ZTG_DETECT_REQUEST_BODY, &f.cfg, NULL, &c), 0);
	assert_int_equal(c, a);
	fixture_free(&f);
}

/* A response head: its status as three digits, each header line. */
static void test_response_head(void **state)
{
	static const struct ztg_http_header headers[] = {
		{{(const uint8_t *)"Content-Type", 12}, {(const uint8_t *)"application/json", 16}},
		{{(const uint8_t *)"Server", 6}, {(const uint8_t *)"Evil/1.0", 8}},
	};
	struct ztg_http_message msg = {.status = 503, .headers = headers, .header_count = 1};
	struct fixture f = {0};
	struct ztg_detect_result r;

	(void)state;
	f.sets[0] = parse_set(body_rules);
	fixture_build(&f, 1);
	ztg_detect_response(f.detect, 0, &f.cfg, &msg, &r);
	assert_true(r.alert && r.report && !r.block);
	assert_true(has_rule(&r, 7));
	msg.status = 200;
	msg.header_count = 2;
	ztg_detect_response(f.detect, 0, &f.cfg, &msg, &r);
	assert_true(r.block);
	assert_int_equal(r.first_block->id, 8);
	assert_int_equal(r.fields[0], ZTG_SIG_FIELD_RESPONSE_HEADERS);
	fixture_free(&f);
}

/* The shipped card rule: a Luhn-valid number split across pieces counts, an invalid one never. */
static void test_validator_across_pieces(void **state)
{
	static const char valid[] = "{\"card\":\"4111 1111 1111 1111\",\"n\":1}";
	static const char invalid[] = "{\"card\":\"4111 1111 1111 1112\",\"n\":1}";
	struct ztg_policy_diag diag;
	struct fixture f = {0};
	struct ztg_detect_result r;
	char path[4096];

	(void)state;
	if (source_root == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/rules/signatures/leaks-cards.rules", source_root);
	ztg_policy_diag_init(&diag);
	if (ztg_sig_set_load(path, &f.sets[0], &diag) != 0)
		ztg_policy_diag_print(stderr, &diag);
	ztg_policy_diag_free(&diag);
	assert_non_null(f.sets[0]);
	fixture_build(&f, 2);
	f.cfg.block_sets = 1;
	for (uint32_t cut = 1; cut < sizeof(valid) - 1; cut++) {
		feed(&f, ZTG_DETECT_RESPONSE_BODY, NULL, valid, &cut, 1, &r);
		assert_true(r.block);
		assert_true(has_rule(&r, 200101));
		feed(&f, ZTG_DETECT_RESPONSE_BODY, NULL, invalid, &cut, 1, &r);
		assert_int_equal(r.match_count, 0);
	}
	fixture_free(&f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_anywhere),
		cmocka_unit_test(test_score_head_and_body),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_end_of_body),
		cmocka_unit_test(test_alerts_block_sets_monitor),
		cmocka_unit_test(test_unselected_set),
		cmocka_unit_test(test_streams_exhausted),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_validator_across_pieces),
	};

	source_root = argc > 1 ? argv[1] : NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
