/*
 * Unit tests for policy bundles (control/bundle.h).
 *
 * Every test builds its fixtures in a fresh mkdtemp directory under $TMPDIR
 * (default /tmp) and removes it at the end; nothing is read from the tree.
 * Crafted bundles carry a correct hash unless the test is about the hash, so
 * each one fails for the one reason it was built for.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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
#include <libconfig.h>

#include "bundle.h"
#include "policy_load.h"

/* ---------------------------------------------------------------- harness */

struct fixture {
	char dir[PATH_MAX / 2];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/ztg-bundle-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* dir/rel into out. */
static const char *at(void **state, const char *rel, char *out, size_t len)
{
	const struct fixture *f = *state;

	snprintf(out, len, "%s/%s", f->dir, rel);
	return out;
}

/* Writes len bytes to dir/rel, creating its directories. */
static void put_bytes(void **state, const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;

	at(state, rel, path, sizeof(path));
	for (char *s = strchr(path + strlen(((struct fixture *)*state)->dir) + 1, '/'); s != NULL;
	     s = strchr(s + 1, '/')) {
		*s = '\0';
		assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
		*s = '/';
	}
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void put(void **state, const char *rel, const char *text)
{
	put_bytes(state, rel, text, strlen(text));
}

/* The whole file at path (malloc'd, NUL-terminated after len bytes). */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void spill(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void expect_text(const char *err, const char *needle)
{
	if (strstr(err, needle) == NULL)
		fail_msg("message \"%s\" does not hold \"%s\"", err, needle);
}

/*
 * A bundle of version `version` declaring `files` files, with records as
 * given and a correct hash over them; returns its length.
 */
static size_t craft_n(char *out, size_t cap, const char *version, unsigned files, const char *records,
		      size_t records_len)
{
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	int n;

	assert_int_equal(ztg_bundle_sha256_hex(records, records_len, hex), 0);
	n = snprintf(out, cap, "ztgate-bundle %s\nsha256 %s\nname b\nfiles %u\n\n", version, hex, files);
	assert_true(n > 0 && (size_t)n + records_len <= cap);
	memcpy(out + n, records, records_len);
	return (size_t)n + records_len;
}

static size_t craft(char *out, size_t cap, const char *version, unsigned files, const char *records)
{
	return craft_n(out, cap, version, files, records, strlen(records));
}

/* Extracts the bundle at rel into dir/out; returns the code, err filled. */
static int extract(void **state, const char *rel, char *err, size_t err_len)
{
	char bundle[PATH_MAX], out[PATH_MAX], main_path[PATH_MAX];

	return ztg_bundle_extract(at(state, rel, bundle, sizeof(bundle)), at(state, "out", out, sizeof(out)),
				  main_path, sizeof(main_path), NULL, err, err_len);
}

/* Writes a crafted bundle to dir/crafted and expects extracting it to fail with -EINVAL and `needle`. */
static void expect_crafted_error(void **state, const char *data, size_t len, const char *needle)
{
	char err[1024] = "", out[PATH_MAX];

	put_bytes(state, "crafted", data, len);
	assert_int_equal(extract(state, "crafted", err, sizeof(err)), -EINVAL);
	expect_text(err, needle);
	expect_text(err, "crafted");
	assert_false(exists(at(state, "out", out, sizeof(out))));
}

/* ------------------------------------------------------------- a policy */

/*
 * A small valid policy over four files: the segments at the top level, the
 * routes in a subdirectory, which includes one more file (named, as every
 * include, relative to the main file's directory), and an empty part
 * included twice.
 */
#define MAIN_CONF                                                                                  \
	"version = 1;\n"                                                                           \
	"name = \"b\";\n"                                                                          \
	"@include \"segments.conf\"\n"                                                             \
	"services = (\n"                                                                           \
	"  { name = \"api\"; hosts = [ \"api.test\" ]; addresses = [ \"10.0.1.1\" ]; ports = [ 80 ];\n" \
	"    segment = \"servers\";\n"                                                             \
	"    routes = (\n"                                                                         \
	"      @include \"routes/api.conf\"\n"                                                     \
	"    ); }\n"                                                                               \
	");\n"                                                                                     \
	"@include \"empty.conf\"\n"                                                                \
	"access = ( { from = \"clients\"; to = [ \"api\" ]; } );\n"

#define SEGMENTS_CONF                                                     \
	"segments = (\n"                                                  \
	"  { name = \"clients\"; addresses = [ \"10.0.0.0/24\" ]; },\n"  \
	"  { name = \"servers\"; addresses = [ \"10.0.1.0/24\" ]; }\n"   \
	");\n"

#define ROUTES_CONF                                                                              \
	"{ name = \"get\"; methods = [ \"GET\" ]; path = \"/items\"; action = \"allow\"; anonymous = true; },\n"  \
	"@include \"empty.conf\"\n"                                                              \
	"@include \"routes/more/post.conf\"\n"

#define POST_CONF "{ name = \"post\"; methods = [ \"POST\" ]; path = \"/items\"; action = \"allow\"; anonymous = true; }\n"

#define EMPTY_CONF "# nothing here: included twice, stored once\n"

static const struct {
	const char *name;
	const char *text;
} policy_files[] = {
	/* In the order the bundle holds them: depth first, as first met. */
	{"p.conf", MAIN_CONF},
	{"segments.conf", SEGMENTS_CONF},
	{"routes/api.conf", ROUTES_CONF},
	{"empty.conf", EMPTY_CONF},
	{"routes/more/post.conf", POST_CONF},
};

#define POLICY_FILE_COUNT (sizeof(policy_files) / sizeof(policy_files[0]))

static void put_policy(void **state)
{
	for (size_t i = 0; i < POLICY_FILE_COUNT; i++)
		put(state, policy_files[i].name, policy_files[i].text);
}

/* Writes the policy's bundle to dir/rel; returns its hash in hex. */
static void write_bundle(void **state, const char *rel, char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1])
{
	char policy[PATH_MAX], bundle[PATH_MAX], err[1024] = "";

	at(state, "p.conf", policy, sizeof(policy));
	at(state, rel, bundle, sizeof(bundle));
	if (ztg_bundle_write(policy, "b", bundle, hex, err, sizeof(err)) != 0)
		fail_msg("write: %s", err);
}

/* ------------------------------------------------------------------ tests */

static void test_collect_order(void **state)
{
	struct ztg_bundle_files files;
	char policy[PATH_MAX], err[1024] = "";

	put_policy(state);
	if (ztg_bundle_collect(at(state, "p.conf", policy, sizeof(policy)), &files, err, sizeof(err)) != 0)
		fail_msg("collect: %s", err);
	assert_int_equal(files.count, POLICY_FILE_COUNT);
	for (size_t i = 0; i < POLICY_FILE_COUNT; i++) {
		assert_string_equal(files.files[i].name, policy_files[i].name);
		assert_int_equal(files.files[i].len, strlen(policy_files[i].text));
		assert_memory_equal(files.files[i].data, policy_files[i].text, files.files[i].len);
	}
	ztg_bundle_files_free(&files);
	assert_int_equal(files.count, 0);
	assert_null(files.files);
}

static void test_round_trip(void **state)
{
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], hex2[ZTG_BUNDLE_HASH_HEX_LEN + 1], hex3[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	char bundle[PATH_MAX], out[PATH_MAX], main_path[PATH_MAX], path[PATH_MAX], want[PATH_MAX], head[512];
	char err[1024] = "", name[ZTG_BUNDLE_POLICY_NAME_MAX + 1] = "";
	struct ztg_policy *policy = NULL;
	struct ztg_policy_diag diag;
	uint8_t *data;
	size_t len;
	int rc;

	put_policy(state);
	write_bundle(state, "p.ztgb", hex);
	assert_int_equal(strlen(hex), ZTG_BUNDLE_HASH_HEX_LEN);
	at(state, "p.ztgb", bundle, sizeof(bundle));
	assert_false(exists(at(state, "p.ztgb.tmp", path, sizeof(path))));
	assert_int_equal(ztg_bundle_is_bundle(bundle), 1);

	/* The header reads as documented, and `head` shows it. */
	data = slurp(bundle, &len);
	snprintf(head, sizeof(head), "ztgate-bundle 1\nsha256 %s\nname b\nfiles %zu\n\nfile p.conf %zu\n%s\n"
		 "file segments.conf %zu\n", hex, POLICY_FILE_COUNT, strlen(MAIN_CONF), MAIN_CONF,
		 strlen(SEGMENTS_CONF));
	assert_true(len > strlen(head));
	assert_memory_equal(data, head, strlen(head));
	free(data);

	at(state, "out", out, sizeof(out));
	rc = ztg_bundle_extract(bundle, out, main_path, sizeof(main_path), hex2, err, sizeof(err));
	if (rc != 0)
		fail_msg("extract: %s", err);
	assert_string_equal(hex2, hex);
	assert_string_equal(main_path, at(state, "out/p.conf", want, sizeof(want)));
	for (size_t i = 0; i < POLICY_FILE_COUNT; i++) {
		struct stat st;

		char rel[64];

		snprintf(rel, sizeof(rel), "out/%s", policy_files[i].name);
		data = slurp(at(state, rel, path, sizeof(path)), &len);
		assert_int_equal(len, strlen(policy_files[i].text));
		assert_memory_equal(data, policy_files[i].text, len);
		free(data);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	/* The extracted policy loads, and names its files under out. */
	ztg_policy_diag_init(&diag);
	rc = ztg_policy_load(main_path, &policy, &diag);
	if (rc != 0) {
		ztg_policy_diag_print(stderr, &diag);
		fail_msg("the extracted policy does not load");
	}
	assert_string_equal(policy->name, "b");
	assert_int_equal(policy->segment_count, 2);
	assert_string_equal(policy->segments[0].loc.file, at(state, "out/segments.conf", want, sizeof(want)));
	assert_int_equal(policy->service_count, 1);
	assert_int_equal(policy->services[0].route_count, 2);
	assert_string_equal(policy->services[0].routes[0].loc.file, at(state, "out/routes/api.conf", want, sizeof(want)));
	assert_string_equal(policy->services[0].routes[1].loc.file,
			    at(state, "out/routes/more/post.conf", want, sizeof(want)));
	ztg_policy_free(policy);
	ztg_policy_diag_free(&diag);

	/* The persisted bundle's hash and name, without extracting it again. */
	assert_int_equal(ztg_bundle_hash_file(bundle, hex3, name, sizeof(name), err, sizeof(err)), 0);
	assert_string_equal(hex3, hex);
	assert_string_equal(name, "b");
}

static void test_parse_in_memory(void **state)
{
	struct ztg_bundle_files files, back;
	char policy[PATH_MAX], err[1024] = "", hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], hex2[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	char name[8], out[PATH_MAX], main_path[PATH_MAX];
	struct ztg_policy *p = NULL;
	uint8_t *buf;
	size_t len;

	put_policy(state);
	assert_int_equal(ztg_bundle_collect(at(state, "p.conf", policy, sizeof(policy)), &files, err, sizeof(err)), 0);
	assert_int_equal(ztg_bundle_encode(&files, "b", &buf, &len, hex, err, sizeof(err)), 0);
	assert_int_equal(ztg_bundle_parse(buf, len, "mem", &back, hex2, name, sizeof(name), err, sizeof(err)), 0);
	assert_string_equal(hex, hex2);
	assert_string_equal(name, "b");
	assert_int_equal(back.count, files.count);
	for (uint32_t i = 0; i < files.count; i++) {
		assert_string_equal(back.files[i].name, files.files[i].name);
		assert_int_equal(back.files[i].len, files.files[i].len);
		assert_memory_equal(back.files[i].data, files.files[i].data, files.files[i].len);
	}
	/* Verify only. */
	assert_int_equal(ztg_bundle_parse(buf, len, NULL, NULL, NULL, NULL, 0, err, sizeof(err)), 0);

	/* Extract the bytes in hand; a damaged copy writes nothing. */
	assert_int_equal(ztg_bundle_extract_data(buf, len, "mem", at(state, "out", out, sizeof(out)), main_path,
						 sizeof(main_path), hex2, err, sizeof(err)), 0);
	assert_string_equal(hex, hex2);
	assert_int_equal(ztg_policy_load(main_path, &p, NULL), 0);
	assert_string_equal(p->name, "b");
	ztg_policy_free(p);
	buf[len - 2] ^= 1;
	assert_int_equal(ztg_bundle_extract_data(buf, len, "mem", at(state, "out2", out, sizeof(out)), main_path,
						 sizeof(main_path), NULL, err, sizeof(err)), -EINVAL);
	expect_text(err, "mem: hash mismatch");
	assert_false(exists(out));
	/* A name the policy language would refuse. */
	free(buf);
	assert_int_equal(ztg_bundle_encode(&files, "bad name", &buf, &len, NULL, err, sizeof(err)), -EINVAL);
	expect_text(err, "bundle name");
	ztg_bundle_files_free(&files);
	ztg_bundle_files_free(&back);
}

static void test_deterministic(void **state)
{
	char hex1[ZTG_BUNDLE_HASH_HEX_LEN + 1], hex2[ZTG_BUNDLE_HASH_HEX_LEN + 1], hex3[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	char p1[PATH_MAX], p2[PATH_MAX];
	uint8_t *a, *b;
	size_t alen, blen;

	put_policy(state);
	write_bundle(state, "one.ztgb", hex1);
	write_bundle(state, "two.ztgb", hex2);
	assert_string_equal(hex1, hex2);
	a = slurp(at(state, "one.ztgb", p1, sizeof(p1)), &alen);
	b = slurp(at(state, "two.ztgb", p2, sizeof(p2)), &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(b);
	/* Over an existing bundle: replaced, same bytes again. */
	write_bundle(state, "one.ztgb", hex3);
	assert_string_equal(hex1, hex3);
	b = slurp(p1, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
}

static void test_flipped_byte(void **state)
{
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], now[ZTG_BUNDLE_HASH_HEX_LEN + 1], path[PATH_MAX], out[PATH_MAX];
	char err[1024] = "";
	uint8_t *data;
	char *get, *body;
	size_t len;

	put_policy(state);
	write_bundle(state, "p.ztgb", hex);
	data = slurp(at(state, "p.ztgb", path, sizeof(path)), &len);
	get = strstr((char *)data, "\"GET\"");
	assert_non_null(get);
	get[1] = 'P';                 /* "GET" -> "PET": same length, so only the hash can tell */
	body = strstr((char *)data, "\n\n");
	assert_non_null(body);
	body += 2;
	assert_int_equal(ztg_bundle_sha256_hex(body, len - (size_t)(body - (char *)data), now), 0);
	spill(path, data, len);
	free(data);

	assert_int_equal(extract(state, "p.ztgb", err, sizeof(err)), -EINVAL);
	expect_text(err, "hash mismatch");
	expect_text(err, hex);
	expect_text(err, now);
	assert_false(exists(at(state, "out", out, sizeof(out))));
	assert_int_equal(ztg_bundle_hash_file(path, NULL, NULL, 0, err, sizeof(err)), -EINVAL);
	expect_text(err, "hash mismatch");
}

static void test_truncated(void **state)
{
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], path[PATH_MAX], err[1024] = "";
	uint8_t *data;
	size_t len;

	put_policy(state);
	write_bundle(state, "p.ztgb", hex);
	data = slurp(at(state, "p.ztgb", path, sizeof(path)), &len);

	/* Inside the last file's body. */
	put_bytes(state, "cut.ztgb", data, len - 10);
	assert_int_equal(extract(state, "cut.ztgb", err, sizeof(err)), -EINVAL);
	expect_text(err, "truncated");
	expect_text(err, "file 5 of 5");
	expect_text(err, "routes/more/post.conf");

	/* Only the final newline missing. */
	put_bytes(state, "cut.ztgb", data, len - 1);
	assert_int_equal(extract(state, "cut.ztgb", err, sizeof(err)), -EINVAL);
	expect_text(err, "truncated");
	expect_text(err, "newline");

	/* Inside the header. */
	put_bytes(state, "cut.ztgb", data, 40);
	assert_int_equal(extract(state, "cut.ztgb", err, sizeof(err)), -EINVAL);
	expect_text(err, "line 2");
	expect_text(err, "truncated");

	/* Inside the magic, and empty. */
	put_bytes(state, "cut.ztgb", data, 5);
	assert_int_equal(extract(state, "cut.ztgb", err, sizeof(err)), -EINVAL);
	expect_text(err, "truncated");
	put_bytes(state, "cut.ztgb", data, 0);
	assert_int_equal(extract(state, "cut.ztgb", err, sizeof(err)), -EINVAL);
	free(data);
}

static void test_trailing_bytes(void **state)
{
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], path[PATH_MAX], err[1024] = "", want[64];
	uint8_t *data;
	size_t len;

	put_policy(state);
	write_bundle(state, "p.ztgb", hex);
	data = slurp(at(state, "p.ztgb", path, sizeof(path)), &len);
	data = realloc(data, len + 3);
	assert_non_null(data);
	memcpy(data + len, "xyz", 3);
	put_bytes(state, "long.ztgb", data, len + 3);
	assert_int_equal(extract(state, "long.ztgb", err, sizeof(err)), -EINVAL);
	expect_text(err, "trailing bytes: 3 bytes");
	snprintf(want, sizeof(want), "from byte %zu", len);
	expect_text(err, want);
	free(data);
}

static void test_bad_header(void **state)
{
	char buf[1024];
	size_t len;

	len = craft(buf, sizeof(buf), "1", 1, "file p.conf 3\nx;\n\n");
	buf[7] = 'X';
	expect_crafted_error(state, buf, len, "line 1 (byte 0): bad magic");

	len = craft(buf, sizeof(buf), "2", 1, "file p.conf 3\nx;\n\n");
	expect_crafted_error(state, buf, len, "line 1 (byte 14): unknown bundle version 2");

	len = craft(buf, sizeof(buf), "1x", 1, "file p.conf 3\nx;\n\n");
	expect_crafted_error(state, buf, len, "bad version syntax");

	/* Upper-case hex is not the format. */
	len = craft(buf, sizeof(buf), "1", 1, "file p.conf 3\nx;\n\n");
	for (size_t i = 23; i < 23 + 64; i++) {
		if (buf[i] >= 'a' && buf[i] <= 'f') {
			buf[i] = (char)(buf[i] - 'a' + 'A');
			break;
		}
	}
	expect_crafted_error(state, buf, len, "bad hash syntax");

	len = (size_t)snprintf(buf, sizeof(buf), "ztgate-bundle 1\nsha256 abc\nname b\nfiles 1\n\n");
	expect_crafted_error(state, buf, len, "line 2 (byte 16): bad hash syntax");

	len = craft(buf, sizeof(buf), "1", 0, "");
	expect_crafted_error(state, buf, len, "line 4");

	len = craft(buf, sizeof(buf), "1", 257, "file p.conf 3\nx;\n\n");
	expect_crafted_error(state, buf, len, "bad file count");

	len = craft(buf, sizeof(buf), "1", 1, "file p.conf 3\nx;\n\n");
	memcpy(strstr(buf, "name b"), "name ?", 6);
	expect_crafted_error(state, buf, len, "line 3");

	len = craft(buf, sizeof(buf), "1", 1, "file p.conf 3\nx;\n\n");
	*strstr(buf, "\n\nfile") = ' ';
	expect_crafted_error(state, buf, len, "line 4");
}

static void test_bad_records(void **state)
{
	static const struct {
		unsigned files;
		const char *records;
		const char *error;
	} cases[] = {
		{2, "file p.conf 3\nx;\n\nfile ../x.conf 3\nx;\n\n", "has a \"..\" component"},
		{2, "file p.conf 3\nx;\n\nfile a/../x.conf 3\nx;\n\n", "has a \"..\" component"},
		{2, "file p.conf 3\nx;\n\nfile /etc/passwd 3\nx;\n\n", "absolute"},
		{2, "file p.conf 3\nx;\n\nfile ./x.conf 3\nx;\n\n", "\".\" component"},
		{2, "file p.conf 3\nx;\n\nfile a//x.conf 3\nx;\n\n", "empty component"},
		{1, "file sub/p.conf 3\nx;\n\n", "main policy file"},
		{2, "file p.conf 3\nx;\n\nfile p.conf 3\nx;\n\n", "the same as file 1"},
		{3, "file p.conf 3\nx;\n\nfile a 3\nx;\n\nfile a/b 3\nx;\n\n", "a file and a directory"},
		{1, "file p.conf 03\nx;\n\n", "bad length"},
		{1, "file p.conf -3\nx;\n\n", "bad length"},
		{1, "file p.conf 33554433\nx;\n\n", "more than 32 MiB"},
		{1, "file p.conf 2\nx;;\n", "expected a newline after the 2 bytes"},
		{1, "flie p.conf 3\nx;\n\n", "expected \"file <name> <length>\""},
		{1, "file p.conf\nx;\n\n", "expected \"file <name> <length>\""},
		{3, "file p.conf 3\nx;\n\nfile a.conf 0\n\n", "file count mismatch: header line 4 says 3 files"},
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = craft(buf, sizeof(buf), "1", cases[i].files, cases[i].records);

		expect_crafted_error(state, buf, len, cases[i].error);
	}
}

static void test_empty_file_and_spaces(void **state)
{
	char buf[1024], out[PATH_MAX], main_path[PATH_MAX], bundle[PATH_MAX], path[PATH_MAX], err[1024] = "";
	uint8_t *data;
	size_t len;

	/* An empty body, a name with a space, a body with NULs and newlines. */
	static const char records[] = "file p.conf 0\n\nfile my part.conf 4\na\n\0b\nfile e 0\n\n";

	len = craft_n(buf, sizeof(buf), "1", 3, records, sizeof(records) - 1);
	put_bytes(state, "ok.ztgb", buf, len);
	assert_int_equal(ztg_bundle_extract(at(state, "ok.ztgb", bundle, sizeof(bundle)), at(state, "out/", out, sizeof(out)),
					    main_path, sizeof(main_path), NULL, err, sizeof(err)), 0);
	assert_string_equal(main_path, at(state, "out/p.conf", path, sizeof(path)));
	data = slurp(at(state, "out/my part.conf", path, sizeof(path)), &len);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "a\n\0b", 4);
	free(data);

	/* The main path must fit the caller's buffer; nothing is written when it does not. */
	assert_int_equal(ztg_bundle_extract(bundle, at(state, "out2", out, sizeof(out)), main_path, 8, NULL, err,
					    sizeof(err)), -ENAMETOOLONG);
	assert_false(exists(out));
}

static void test_extract_target(void **state)
{
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], bundle[PATH_MAX], out[PATH_MAX], main_path[PATH_MAX], err[1024] = "";
	struct stat st;

	put_policy(state);
	write_bundle(state, "p.ztgb", hex);
	at(state, "p.ztgb", bundle, sizeof(bundle));
	at(state, "out", out, sizeof(out));

	/* An existing empty directory is fine. */
	assert_int_equal(mkdir(out, 0755), 0);
	assert_int_equal(ztg_bundle_extract(bundle, out, main_path, sizeof(main_path), NULL, err, sizeof(err)), 0);

	/* A directory holding files is not, and keeps what it holds. */
	assert_int_equal(ztg_bundle_extract(bundle, out, main_path, sizeof(main_path), NULL, err, sizeof(err)),
			 -ENOTEMPTY);
	expect_text(err, "not empty");
	assert_true(exists(at(state, "out/routes/more/post.conf", main_path, sizeof(main_path))));

	/* A new directory is created 0700. */
	assert_int_equal(ztg_bundle_extract(bundle, at(state, "new", out, sizeof(out)), main_path, sizeof(main_path),
					    NULL, err, sizeof(err)), 0);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* A missing parent is an error, not a mkdir -p. */
	assert_int_equal(ztg_bundle_extract(bundle, at(state, "no/such/dir", out, sizeof(out)), main_path,
					    sizeof(main_path), NULL, err, sizeof(err)), -ENOENT);
	expect_text(err, "cannot create directory");

	/* A missing bundle. */
	assert_int_equal(ztg_bundle_extract(at(state, "nope.ztgb", bundle, sizeof(bundle)),
					    at(state, "x", out, sizeof(out)), main_path, sizeof(main_path), NULL, err,
					    sizeof(err)), -ENOENT);
	expect_text(err, "nope.ztgb");
	assert_false(exists(out));
}

static void test_include_missing(void **state)
{
	char policy[PATH_MAX], bundle[PATH_MAX], err[1024] = "", want[PATH_MAX + 128];
	struct ztg_bundle_files files;

	put(state, "p.conf", "version = 1;\n@include \"part.conf\"\n");
	put(state, "part.conf", "# a part\n\n@include \"missing.conf\"\n");
	at(state, "p.conf", policy, sizeof(policy));
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s:3: cannot read included file \"missing.conf\"",
		 at(state, "part.conf", bundle, sizeof(bundle)));
	expect_text(err, want);
	expect_text(err, "No such file or directory");
	assert_int_equal(files.count, 0);

	/* No bundle, and no temporary, when collecting fails. */
	assert_int_equal(ztg_bundle_write(policy, "b", at(state, "p.ztgb", bundle, sizeof(bundle)), NULL, err,
					  sizeof(err)), -ENOENT);
	assert_false(exists(bundle));
	assert_false(exists(at(state, "p.ztgb.tmp", bundle, sizeof(bundle))));

	/* The main file itself. */
	assert_int_equal(ztg_bundle_collect(at(state, "none.conf", policy, sizeof(policy)), &files, err, sizeof(err)),
			 -ENOENT);
	expect_text(err, "cannot read the policy file");
	expect_text(err, "none.conf");
}

static void test_include_cycle(void **state)
{
	char policy[PATH_MAX], want[PATH_MAX + 128], err[1024] = "";
	struct ztg_bundle_files files;

	put(state, "p.conf", "version = 1;\n@include \"a.conf\"\n");
	put(state, "a.conf", "\n@include \"sub/b.conf\"\n");
	put(state, "sub/b.conf", "@include \"a.conf\"\n");
	at(state, "p.conf", policy, sizeof(policy));
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: include cycle: a.conf:2 -> sub/b.conf:1 -> a.conf",
		 at(state, "sub/b.conf", policy, sizeof(policy)));
	expect_text(err, want);

	/* Including the main file is a cycle too. */
	put(state, "sub/b.conf", "@include \"p.conf\"\n");
	assert_int_equal(ztg_bundle_collect(at(state, "p.conf", policy, sizeof(policy)), &files, err, sizeof(err)),
			 -EINVAL);
	expect_text(err, "include cycle: p.conf:2 -> a.conf:2 -> sub/b.conf:1 -> p.conf");
}

/* A chain p.conf -> d1.conf -> ... -> d<levels>.conf, the last holding the rest of a valid policy. */
static void put_chain(void **state, unsigned levels)
{
	char name[32], text[128];

	put(state, "segments.conf", SEGMENTS_CONF);
	for (unsigned i = 0; i <= levels; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "p.conf");
		else
			snprintf(name, sizeof(name), "d%u.conf", i);
		if (i < levels)
			snprintf(text, sizeof(text), "%s@include \"d%u.conf\"\n", i == 0 ? "version = 1;\nname = \"b\";\n" : "",
				 i + 1);
		else
			snprintf(text, sizeof(text), "@include \"segments.conf\"\nservices = ();\naccess = ();\n");
		put(state, name, text);
	}
}

static void test_include_depth(void **state)
{
	char policy[PATH_MAX], err[1024] = "";
	struct ztg_bundle_files files;
	struct ztg_policy *p = NULL;

	at(state, "p.conf", policy, sizeof(policy));

	/* segments.conf sits at level 10: libconfig's limit, reached and not passed. */
	put_chain(state, 9);
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), 0);
	assert_int_equal(files.count, 11);
	ztg_bundle_files_free(&files);

	/* One more level: both refuse it. */
	put_chain(state, 10);
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -EINVAL);
	expect_text(err, "d10.conf:1: includes nest deeper than 10 levels");
	expect_text(err, "p.conf:3 -> d1.conf:1 -> ");
	assert_int_equal(ztg_policy_load(policy, &p, NULL), -EINVAL);
	assert_null(p);

	/* A file met again lower down is checked against the limit too. */
	put_chain(state, 9);
	put(state, "p.conf", "version = 1;\nname = \"b\";\n@include \"d9.conf\"\n@include \"d1.conf\"\n");
	put(state, "d9.conf", "@include \"segments.conf\"\n");
	put(state, "d8.conf", "@include \"d9.conf\"\n");
	put(state, "d10.conf", "");
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), 0);
	ztg_bundle_files_free(&files);
	put(state, "d9.conf", "@include \"d10.conf\"\n");
	put(state, "d10.conf", "@include \"segments.conf\"\n");
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -EINVAL);
	expect_text(err, "\"d9.conf\" is included here at level 9 and its own includes go 2 levels deeper");
}

static void test_commented_include(void **state)
{
	char policy[PATH_MAX], bundle[PATH_MAX], out[PATH_MAX], main_path[PATH_MAX], err[1024] = "";
	struct ztg_bundle_files files;
	struct ztg_policy *p = NULL;

	put(state, "p.conf",
	    "version = 1;\n"
	    "name = \"b\";\n"
	    "# @include \"missing1.conf\"\n"
	    "// @include \"missing2.conf\"\n"
	    "  #@include \"missing3.conf\"\n"
	    "/*\n"
	    "@include \"missing4.conf\"\n"
	    "*/\n"
	    "\t @include \t\"segments.conf\"\n"
	    "services = ();\n"
	    "access = ();\n");
	put(state, "segments.conf", SEGMENTS_CONF);
	at(state, "p.conf", policy, sizeof(policy));
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), 0);
	assert_int_equal(files.count, 2);
	assert_string_equal(files.files[1].name, "segments.conf");
	ztg_bundle_files_free(&files);

	assert_int_equal(ztg_bundle_write(policy, "b", at(state, "p.ztgb", bundle, sizeof(bundle)), NULL, err,
					  sizeof(err)), 0);
	assert_int_equal(ztg_bundle_extract(bundle, at(state, "out", out, sizeof(out)), main_path, sizeof(main_path),
					    NULL, err, sizeof(err)), 0);
	assert_int_equal(ztg_policy_load(main_path, &p, NULL), 0);
	assert_string_equal(p->name, "b");
	ztg_policy_free(p);
}

/* The collector sees exactly the directives libconfig follows, on text no policy would hold. */
static void test_scanner_matches_libconfig(void **state)
{
	const struct fixture *f = *state;
	char policy[PATH_MAX], err[1024] = "";
	struct ztg_bundle_files files;
	config_t cfg;
	int ok;

	/*
	 * Lines 2 and 3 start with @include inside a string: a line-based scan
	 * would include "\\" and " " there. Line 5 is inside a block comment.
	 */
	put(state, "p.conf",
	    "s = \"a string over lines\n"
	    "@include \\\"missing1.conf\\\"\n"
	    "@include \" \"missing2.conf\";\n"
	    "t = 1; /* a comment\n"
	    "  @include \"missing3.conf\" */ u = 2;\n"
	    "v = \"/* not a comment\";\n"
	    "@include \"real.conf\"\n"
	    "w = \"*/\"; // @include \"missing4.conf\"\n"
	    "@include \"real2.conf\"\n");
	put(state, "real.conf", "r = 1;\n");
	put(state, "real2.conf", "r2 = 1;\n");
	at(state, "p.conf", policy, sizeof(policy));
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), 0);
	assert_int_equal(files.count, 3);
	assert_string_equal(files.files[1].name, "real.conf");
	assert_string_equal(files.files[2].name, "real2.conf");
	ztg_bundle_files_free(&files);

	config_init(&cfg);
	config_set_include_dir(&cfg, f->dir);
	ok = config_read_file(&cfg, policy);
	if (ok != CONFIG_TRUE)
		fail_msg("libconfig: %s:%d: %s", config_error_file(&cfg), config_error_line(&cfg),
			 config_error_text(&cfg));
	config_destroy(&cfg);
}

static void test_bad_include_names(void **state)
{
	static const struct {
		const char *directive;
		const char *error;
	} cases[] = {
		{"@include \"../x.conf\"", "\"../x.conf\" has a \"..\" component"},
		{"@include \"sub/../../x.conf\"", "has a \"..\" component"},
		{"@include \"/etc/passwd\"", "\"/etc/passwd\" absolute"},
		{"@include \"./segments.conf\"", "\".\" component"},
		{"@include \"\"", "\"\" empty"},
		{"@include \"a\\\\b.conf\"", "backslash"},
		{"@include \"never-closed.conf", "never closed"},
	};
	char policy[PATH_MAX], text[256], want[PATH_MAX + 16], err[1024] = "";
	struct ztg_bundle_files files;

	at(state, "p.conf", policy, sizeof(policy));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "version = 1;\n\n%s\n", cases[i].directive);
		put(state, "p.conf", text);
		assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "%s:3: ", policy);
		expect_text(err, want);
		expect_text(err, cases[i].error);
	}
}

static void test_limits(void **state)
{
	char policy[PATH_MAX], err[1024] = "";
	struct ztg_bundle_files files;
	size_t big = ZTG_BUNDLE_MAX_FILE_BYTES + 1, o = 0;
	char *text = malloc(big);

	assert_non_null(text);
	at(state, "p.conf", policy, sizeof(policy));

	/* One file over the per-file bound. */
	memset(text, '#', big);
	put(state, "p.conf", "@include \"big.conf\"\n");
	put_bytes(state, "big.conf", text, big);
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -EINVAL);
	expect_text(err, "p.conf:1: included file \"big.conf\"");
	expect_text(err, "larger than 32 MiB");

	/* 257 files. */
	for (unsigned i = 0; i < ZTG_BUNDLE_MAX_FILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%u.conf", i);
		put(state, name, "");
		o += (size_t)snprintf(text + o, big - o, "@include \"%s\"\n", name);
	}
	put(state, "p.conf", text);
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), -EINVAL);
	expect_text(err, "p.conf:256: including \"f255.conf\" makes more than 256 files");

	/* 256 are fine. */
	text[o - sizeof("@include \"f255.conf\"\n") + 1] = '\0';
	put(state, "p.conf", text);
	assert_int_equal(ztg_bundle_collect(policy, &files, err, sizeof(err)), 0);
	assert_int_equal(files.count, 256);
	ztg_bundle_files_free(&files);
	free(text);
}

static void test_is_bundle(void **state)
{
	char path[PATH_MAX];

	put_policy(state);
	assert_int_equal(ztg_bundle_is_bundle(at(state, "p.conf", path, sizeof(path))), 0);
	put(state, "short", "ztgate");
	assert_int_equal(ztg_bundle_is_bundle(at(state, "short", path, sizeof(path))), 0);
	put(state, "magic", "ztgate-bundle ");
	assert_int_equal(ztg_bundle_is_bundle(at(state, "magic", path, sizeof(path))), 1);
	assert_int_equal(ztg_bundle_is_bundle(at(state, "missing", path, sizeof(path))), -1);
	assert_int_equal(ztg_bundle_is_bundle(at(state, "routes", path, sizeof(path))), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_collect_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_in_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailing_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_and_spaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commented_include, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scanner_matches_libconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_include_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_is_bundle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
