/*
 * Unit tests for revocation lists: editing (add, remove, duplicates, value
 * checks), the text form (load with every error at its file:line, atomic
 * save, the round trip), printing as text and JSON, and the immutable set
 * workers read, up to 100k entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/revocation.h"
#include "file_fixture.h"

#define SYNTAX         "jti <value>, sub <issuer> <subject> or key <api key id>"
#define ONLY_PRINTABLE ": only printable ASCII without spaces"

static int setup(void **state)
{
	return ztg_file_fixture_setup(state, "revocation", "revocations");
}

static void write_file(const char *path, const char *content, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* What print writes, as a string the caller frees. */
static char *printed(const struct ztg_revocation_list *list, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	ztg_revocation_list_print(list, json, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void assert_printed(const struct ztg_revocation_list *list, bool json, const char *want)
{
	char *got = printed(list, json);

	assert_string_equal(got, want);
	free(got);
}

static void test_kind_names(void **state)
{
	enum ztg_revocation_kind k = ZTG_REVOKE_KIND_COUNT;

	(void)state;
	for (unsigned i = 0; i < ZTG_REVOKE_KIND_COUNT; i++) {
		const char *name = ztg_revocation_kind_name((enum ztg_revocation_kind)i);

		assert_int_equal(ztg_revocation_kind_from_name(name, &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(ztg_revocation_kind_name(ZTG_REVOKE_JTI), "jti");
	assert_string_equal(ztg_revocation_kind_name(ZTG_REVOKE_SUBJECT), "sub");
	assert_string_equal(ztg_revocation_kind_name(ZTG_REVOKE_API_KEY), "key");
	assert_string_equal(ztg_revocation_kind_name(ZTG_REVOKE_KIND_COUNT), "?");
	assert_int_equal(ztg_revocation_kind_from_name("JTI", &k), -1);
	assert_int_equal(ztg_revocation_kind_from_name("subject", &k), -1);
	assert_int_equal(ztg_revocation_kind_from_name("", &k), -1);
	assert_int_equal(ztg_revocation_kind_from_name(NULL, &k), -1);
}

static void test_add_remove_duplicate(void **state)
{
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char err[256];

	(void)state;
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "t-1", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "corp", "alice", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_API_KEY, NULL, "ci-bot", err, sizeof(err)), 1);
	/* The same value under another kind or another issuer is another entry. */
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "partner", "alice", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "alice", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_count(l), 5);
	/* Duplicates: 0, nothing added. */
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "t-1", err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "corp", "alice", err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_count(l), 5);

	assert_int_equal(ztg_revocation_list_remove(l, ZTG_REVOKE_SUBJECT, "corp", "alice"), 1);
	assert_int_equal(ztg_revocation_list_remove(l, ZTG_REVOKE_SUBJECT, "corp", "alice"), 0);
	assert_int_equal(ztg_revocation_list_remove(l, ZTG_REVOKE_API_KEY, NULL, "t-1"), 0);
	assert_int_equal(ztg_revocation_list_remove(l, ZTG_REVOKE_SUBJECT, "nobody", "alice"), 0);
	assert_int_equal(ztg_revocation_list_remove(l, ZTG_REVOKE_JTI, "corp", "t-1"), 0);
	assert_int_equal(ztg_revocation_list_count(l), 4);
	/* Insertion order survives a removal, and the rest are still found as duplicates. */
	assert_printed(l, false, "jti t-1\nkey ci-bot\nsub partner alice\njti alice\n");
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_API_KEY, NULL, "ci-bot", err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "alice", err, sizeof(err)), 0);
	/* Removed, then added again: at the end. */
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "corp", "alice", err, sizeof(err)), 1);
	assert_printed(l, false, "jti t-1\nkey ci-bot\nsub partner alice\njti alice\nsub corp alice\n");
	ztg_revocation_list_free(l);
	ztg_revocation_list_free(NULL);
}

static void add_refused(struct ztg_revocation_list *l, enum ztg_revocation_kind kind, const char *issuer,
			const char *value, const char *want)
{
	char err[256] = "";

	assert_int_equal(ztg_revocation_list_add(l, kind, issuer, value, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void test_add_refusals(void **state)
{
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char longest[ZTG_REVOCATION_VALUE_MAX + 2], err[256];

	(void)state;
	memset(longest, 'v', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	add_refused(l, ZTG_REVOKE_JTI, NULL, longest, "value is 256 bytes, at most 255");
	add_refused(l, ZTG_REVOKE_SUBJECT, longest, "alice", "issuer is 256 bytes, at most 255");
	add_refused(l, ZTG_REVOKE_JTI, NULL, "", "value is empty");
	add_refused(l, ZTG_REVOKE_JTI, NULL, NULL, "jti without a value");
	add_refused(l, ZTG_REVOKE_JTI, NULL, "a b", "value holds byte 0x20 at 1" ONLY_PRINTABLE);
	add_refused(l, ZTG_REVOKE_API_KEY, NULL, "a\tb", "value holds byte 0x09 at 1" ONLY_PRINTABLE);
	add_refused(l, ZTG_REVOKE_API_KEY, NULL, "ab\x7f", "value holds byte 0x7f at 2" ONLY_PRINTABLE);
	add_refused(l, ZTG_REVOKE_JTI, NULL, "\xc3\xa9", "value holds byte 0xc3 at 0" ONLY_PRINTABLE);
	add_refused(l, ZTG_REVOKE_SUBJECT, "my corp", "alice",
		    "issuer holds byte 0x20 at 2" ONLY_PRINTABLE);
	add_refused(l, ZTG_REVOKE_SUBJECT, "", "alice", "issuer is empty");
	add_refused(l, ZTG_REVOKE_SUBJECT, NULL, "alice", "sub needs an issuer");
	add_refused(l, ZTG_REVOKE_JTI, "corp", "t-1", "jti takes no issuer");
	add_refused(l, ZTG_REVOKE_API_KEY, "corp", "k", "key takes no issuer");
	add_refused(l, ZTG_REVOKE_KIND_COUNT, NULL, "t-1", "unknown revocation kind 3");
	assert_int_equal(ztg_revocation_list_count(l), 0);
	/* The bound itself is accepted, and everything printable but space. */
	longest[ZTG_REVOCATION_VALUE_MAX] = '\0';
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, longest, err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "!~#\"\\{}", err, sizeof(err)), 1);
	ztg_revocation_list_free(l);
}

static void test_save_load_round_trip(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_revocation_list *l = ztg_revocation_list_create(), *back = ztg_revocation_list_create();
	const char *want = "jti 0f8e-11aa\nsub https://idp.example.com/ alice@example.com\nkey ci-bot\n"
			   "jti #not-a-comment\nsub corp alice@example.com\n";
	char err[256], tmp[160], *a, *b;
	struct stat st;
	FILE *f;

	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "0f8e-11aa", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "https://idp.example.com/", "alice@example.com",
						 err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_API_KEY, NULL, "ci-bot", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "#not-a-comment", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "corp", "alice@example.com", err, sizeof(err)),
			 1);
	assert_int_equal(ztg_revocation_list_save(l, fx->path, err, sizeof(err)), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* The file: a comment naming the form, then the entries in order. */
	f = fopen(fx->path, "r");
	assert_non_null(f);
	a = calloc(1, 4096);
	assert_true(fread(a, 1, 4095, f) > 0);
	fclose(f);
	assert_string_equal(a, "# ztgate revocations, one a line: " SYNTAX "\n"
			       "jti 0f8e-11aa\nsub https://idp.example.com/ alice@example.com\nkey ci-bot\n"
			       "jti #not-a-comment\nsub corp alice@example.com\n");
	free(a);

	/* Loading replaces what the list held. */
	assert_int_equal(ztg_revocation_list_add(back, ZTG_REVOKE_JTI, NULL, "gone", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_load(back, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_count(back), 5);
	a = printed(l, false);
	b = printed(back, false);
	assert_string_equal(a, want);
	assert_string_equal(b, want);
	free(a);
	free(b);
	a = printed(l, true);
	b = printed(back, true);
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* Saving over an existing file replaces it. */
	assert_int_equal(ztg_revocation_list_remove(back, ZTG_REVOKE_API_KEY, NULL, "ci-bot"), 1);
	assert_int_equal(ztg_revocation_list_save(back, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_load(l, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_count(l), 4);
	assert_printed(l, false, "jti 0f8e-11aa\nsub https://idp.example.com/ alice@example.com\n"
				 "jti #not-a-comment\nsub corp alice@example.com\n");
	ztg_revocation_list_free(l);
	ztg_revocation_list_free(back);
}

static void test_save_errors(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char err[512], path[160], want[512];

	snprintf(path, sizeof(path), "%s/missing/revocations", fx->dir);
	assert_int_equal(ztg_revocation_list_save(l, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "cannot create %s.tmp: No such file or directory", path);
	assert_string_equal(err, want);
	ztg_revocation_list_free(l);
}

static void test_load_missing_file_is_empty(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char err[256];

	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "t-1", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_load(l, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_count(l), 0);
	/* An unreadable path other than a missing one is an error. */
	assert_int_equal(ztg_revocation_list_load(l, fx->dir, err, sizeof(err)), -1);
	ztg_revocation_list_free(l);
}

static void test_load_comments_blanks_duplicates(void **state)
{
	struct ztg_file_fixture *fx = *state;
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char err[256];

	const char *content = "# revoked by the on-call, INC-42\n"
			      "\n"
			      "   \t\n"
			      "  # indented comment\n"
			      "jti\tt-1\n"
			      "  sub   corp    alice  \n"
			      "key ci-bot\n"
			      "jti t-1\n"
			      "key ci-bot";                 /* no final newline */

	write_file(fx->path, content, strlen(content));
	assert_int_equal(ztg_revocation_list_load(l, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_count(l), 3);
	assert_printed(l, false, "jti t-1\nsub corp alice\nkey ci-bot\n");
	ztg_revocation_list_free(l);
}

/* content[0..len) fails to load with exactly path:want; the list keeps what it held. */
static void load_refused_n(const struct ztg_file_fixture *fx, const char *content, size_t len, const char *want)
{
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char err[512] = "", expect[512];

	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "kept", err, sizeof(err)), 1);
	write_file(fx->path, content, len);
	assert_int_equal(ztg_revocation_list_load(l, fx->path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:%s", fx->path, want);
	assert_string_equal(err, expect);
	assert_int_equal(ztg_revocation_list_count(l), 1);
	assert_printed(l, false, "jti kept\n");
	ztg_revocation_list_free(l);
}

static void load_refused(const struct ztg_file_fixture *fx, const char *content, const char *want)
{
	load_refused_n(fx, content, strlen(content), want);
}

static void test_load_errors(void **state)
{
	static const char nul[] = "jti ok\nkey a\0b\n";
	struct ztg_file_fixture *fx = *state;
	char content[600];

	load_refused(fx, "jti a\njtx b\n", "2: unknown kind \"jtx\": " SYNTAX);
	load_refused(fx, "# c\n\nJTI b\n", "3: unknown kind \"JTI\": " SYNTAX);
	load_refused(fx, "subject corp alice\n", "1: unknown kind \"subject\": " SYNTAX);
	load_refused(fx, "j\x01i a\n", "1: unknown kind \"j?i\": " SYNTAX);
	load_refused(fx, "jti a\njti\n", "2: jti without a value");
	load_refused(fx, "key   \t\n", "1: key without a value");
	load_refused(fx, "sub alice\n", "1: sub needs an issuer and a subject: sub <issuer> <subject>");
	load_refused(fx, "sub\n", "1: sub needs an issuer and a subject: sub <issuer> <subject>");
	load_refused(fx, "jti a b\n", "1: unexpected text after the value: " SYNTAX);
	load_refused(fx, "sub corp alice # note\n", "1: unexpected text after the value: " SYNTAX);
	load_refused(fx, "jti a\x01z\n", "1: value holds byte 0x01 at 1" ONLY_PRINTABLE);
	load_refused(fx, "jti abc\r\n", "1: value holds byte 0x0d at 3" ONLY_PRINTABLE);
	load_refused(fx, "key caf\xc3\xa9\n", "1: value holds byte 0xc3 at 3" ONLY_PRINTABLE);
	load_refused_n(fx, nul, sizeof(nul) - 1, "2: value holds byte 0x00 at 1" ONLY_PRINTABLE);
	load_refused(fx, "sub c\x7fo alice\n", "1: issuer holds byte 0x7f at 1" ONLY_PRINTABLE);
	snprintf(content, sizeof(content), "jti ok\n\njti %0256d\n", 7);
	load_refused(fx, content, "3: value is 256 bytes, at most 255");
	snprintf(content, sizeof(content), "sub %0256d alice\n", 7);
	load_refused(fx, content, "1: issuer is 256 bytes, at most 255");
}

static void test_print_json(void **state)
{
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	char err[256];

	(void)state;
	assert_printed(l, true, "[]\n");
	assert_printed(l, false, "");
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "t-1", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "https://idp/", "alice", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_API_KEY, NULL, "ci-bot", err, sizeof(err)), 1);
	/* Quote and backslash are printable ASCII, so a value may hold them: escaped in JSON. */
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "a\"b\\c", err, sizeof(err)), 1);
	assert_printed(l, true,
		       "[{\"kind\":\"jti\",\"value\":\"t-1\"},"
		       "{\"kind\":\"sub\",\"issuer\":\"https://idp/\",\"value\":\"alice\"},"
		       "{\"kind\":\"key\",\"value\":\"ci-bot\"},"
		       "{\"kind\":\"jti\",\"value\":\"a\\\"b\\\\c\"}]\n");
	assert_printed(l, false, "jti t-1\nsub https://idp/ alice\nkey ci-bot\njti a\"b\\c\n");
	ztg_revocation_list_free(l);
}

static bool has(const struct ztg_revocation_set *set, enum ztg_revocation_kind kind, const char *issuer,
		const char *value)
{
	size_t issuer_len = issuer != NULL ? strlen(issuer) : 0;

	return ztg_revocation_set_contains(set, kind, issuer, issuer_len, value, strlen(value));
}

static void test_set_contains(void **state)
{
	struct ztg_revocation_list *l = ztg_revocation_list_create();
	struct ztg_revocation_set *set, *empty;
	char err[256];

	(void)state;
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_JTI, NULL, "t-1", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_SUBJECT, "corp", "alice", err, sizeof(err)), 1);
	assert_int_equal(ztg_revocation_list_add(l, ZTG_REVOKE_API_KEY, NULL, "ci-bot", err, sizeof(err)), 1);
	set = ztg_revocation_set_build(l);
	ztg_revocation_list_free(l);
	l = ztg_revocation_list_create();
	empty = ztg_revocation_set_build(l);
	ztg_revocation_list_free(l);
	assert_non_null(set);
	assert_non_null(empty);

	assert_true(has(set, ZTG_REVOKE_JTI, NULL, "t-1"));
	assert_true(has(set, ZTG_REVOKE_SUBJECT, "corp", "alice"));
	assert_true(has(set, ZTG_REVOKE_API_KEY, NULL, "ci-bot"));
	/* The issuer plays no part for jti and key. */
	assert_true(has(set, ZTG_REVOKE_JTI, "corp", "t-1"));

	/* A subject of another issuer is not revoked, nor one without an issuer. */
	assert_false(has(set, ZTG_REVOKE_SUBJECT, "partner", "alice"));
	assert_false(has(set, ZTG_REVOKE_SUBJECT, "corpx", "alice"));
	assert_false(has(set, ZTG_REVOKE_SUBJECT, "cor", "alice"));
	assert_false(has(set, ZTG_REVOKE_SUBJECT, NULL, "alice"));
	assert_false(has(set, ZTG_REVOKE_SUBJECT, "", "alice"));
	/* The same text under another kind, and near misses. */
	assert_false(has(set, ZTG_REVOKE_API_KEY, NULL, "t-1"));
	assert_false(has(set, ZTG_REVOKE_JTI, NULL, "ci-bot"));
	assert_false(has(set, ZTG_REVOKE_JTI, NULL, "alice"));
	assert_false(has(set, ZTG_REVOKE_JTI, NULL, "t-"));
	assert_false(has(set, ZTG_REVOKE_JTI, NULL, "t-11"));
	assert_false(has(set, ZTG_REVOKE_JTI, NULL, "T-1"));
	assert_false(has(set, ZTG_REVOKE_SUBJECT, "corp", "alicE"));
	/* Lengths, not NUL terminators, bound what is compared. */
	assert_true(ztg_revocation_set_contains(set, ZTG_REVOKE_JTI, NULL, 0, "t-1xyz", 3));
	assert_true(ztg_revocation_set_contains(set, ZTG_REVOKE_SUBJECT, "corporate", 4, "alice!", 5));
	assert_false(ztg_revocation_set_contains(set, ZTG_REVOKE_JTI, NULL, 0, "t-1", 0));
	assert_false(ztg_revocation_set_contains(set, ZTG_REVOKE_JTI, NULL, 0, NULL, 3));
	assert_false(ztg_revocation_set_contains(set, ZTG_REVOKE_KIND_COUNT, NULL, 0, "t-1", 3));

	/* No set, or an empty one: nothing is revoked. */
	assert_false(has(NULL, ZTG_REVOKE_JTI, NULL, "t-1"));
	assert_false(has(empty, ZTG_REVOKE_JTI, NULL, "t-1"));
	assert_false(has(empty, ZTG_REVOKE_SUBJECT, "corp", "alice"));
	ztg_revocation_set_free(set);
	ztg_revocation_set_free(empty);
	ztg_revocation_set_free(NULL);
}

static void entry_of(unsigned int i, enum ztg_revocation_kind *kind, char *issuer, char *value, size_t len)
{
	*kind = (enum ztg_revocation_kind)(i % ZTG_REVOKE_KIND_COUNT);
	snprintf(issuer, len, "issuer-%u", i % 7);
	snprintf(value, len, "v%u-%08x", i, i * 2654435761u);
}

static const char *issuer_for(enum ztg_revocation_kind kind, const char *issuer)
{
	return kind == ZTG_REVOKE_SUBJECT ? issuer : NULL;
}

static void test_100k_entries(void **state)
{
	enum { N = 100000 };
	struct ztg_file_fixture *fx = *state;
	struct ztg_revocation_list *l = ztg_revocation_list_create(), *back = ztg_revocation_list_create();
	struct ztg_revocation_set *set;
	enum ztg_revocation_kind kind, other;
	char issuer[32], value[32], err[256], *a, *b;
	int rc;

	for (unsigned int i = 0; i < N; i++) {
		entry_of(i, &kind, issuer, value, sizeof(issuer));
		rc = ztg_revocation_list_add(l, kind, issuer_for(kind, issuer), value, err, sizeof(err));
		assert_int_equal(rc, 1);
	}
	assert_int_equal(ztg_revocation_list_count(l), N);
	entry_of(12345, &kind, issuer, value, sizeof(issuer));
	assert_int_equal(ztg_revocation_list_add(l, kind, issuer_for(kind, issuer), value, err, sizeof(err)), 0);

	set = ztg_revocation_set_build(l);
	assert_non_null(set);
	for (unsigned int i = 0; i < N; i++) {
		entry_of(i, &kind, issuer, value, sizeof(issuer));
		assert_true(has(set, kind, issuer_for(kind, issuer), value));
		/* The same value under the next kind (and for a subject, another issuer) is not there. */
		other = (enum ztg_revocation_kind)((kind + 1) % ZTG_REVOKE_KIND_COUNT);
		assert_false(has(set, other, "issuer-7", value));
		entry_of(i + N, &kind, issuer, value, sizeof(issuer));
		assert_false(has(set, kind, issuer_for(kind, issuer), value));
	}
	ztg_revocation_set_free(set);

	/* The text form carries all of it. */
	assert_int_equal(ztg_revocation_list_save(l, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_load(back, fx->path, err, sizeof(err)), 0);
	assert_int_equal(ztg_revocation_list_count(back), N);
	a = printed(l, true);
	b = printed(back, true);
	assert_string_equal(a, b);
	free(a);
	free(b);
	ztg_revocation_list_free(l);
	ztg_revocation_list_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_add_remove_duplicate),
		cmocka_unit_test(test_add_refusals),
		cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup, ztg_file_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_save_errors, setup, ztg_file_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_missing_file_is_empty, setup, ztg_file_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_comments_blanks_duplicates, setup, ztg_file_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, ztg_file_fixture_teardown),
		cmocka_unit_test(test_print_json),
		cmocka_unit_test(test_set_contains),
		cmocka_unit_test_setup_teardown(test_100k_entries, setup, ztg_file_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
