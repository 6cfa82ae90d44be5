/*
 * The shipped signature ruleset (rules/signatures/, every .rules file) against its
 * evidence (tests/signatures/): every rule must report each of its positive
 * samples, near misses (negative/<id>.txt) must not report that rule, and
 * the benign corpus must report nothing at all, in any field's database.
 *
 * argv[1] is the rules directory, argv[2] the corpus directory. The rules go
 * through the real loader (ztg_sig_set_load) and compiler (ztg_sig_compile),
 * and samples through the Hyperscan databases the compiler built, so this
 * tests the ruleset as the matching engine will run it, not a copy of it.
 *
 * Sample files (tests/signatures/README.md): one sample per line, the field
 * value as ztgate sees it (already percent-decoded for query and arguments).
 * Empty lines and lines starting "##" are skipped. A line starting "esc:"
 * carries C escapes (\\ \n \r \t \0 \xHH) for bytes a line cannot hold.
 *
 * Validators: a match of a rule with one (validator = "luhn" or "iban")
 * counts only when ztgate's validator (dataplane/detect/validator.h) accepts
 * the window that ends at the match, as the engine gives it: the last
 * ZTG_VALIDATOR_WINDOW bytes of the value up to Hyperscan's end offset. A
 * streamed body keeps the tail of earlier writes for that, so a candidate
 * split across the 7-byte pieces is still seen whole.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hs.h>

#include "detect/validator.h"
#include "policy_load.h"
#include "sig_compile.h"
#include "signatures.h"

#define MAX_FILES   64
#define MAX_RULES   1024
#define MAX_CHUNK   64       /* bytes per write when a value is streamed */

struct sample {
	char *data;
	size_t len;
	uint32_t line;
};

struct sample_file {
	char path[512];
	struct sample *samples;
	uint32_t count;
};

struct ruleset {
	const char *rules_dir;
	const char *corpus_dir;
	struct ztg_sig_set *sets[MAX_FILES];
	uint32_t set_count;
	bool load_failed;        /* a file was refused */
	struct ztg_sig_compiled *compiled;
	hs_scratch_t *scratch;
	const struct ztg_sig_rule *rules[MAX_RULES];   /* every rule of every set, in file order */
	uint32_t rule_count;
	struct sample_file benign[MAX_FILES];
	uint32_t benign_count;
};

static struct ruleset rs;

/* Bytes not in a line (NUL, CR, LF) come from "esc:" lines; everything else is taken as written. */
static size_t unescape(const char *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\\' || i + 1 >= len) {
			out[o++] = in[i];
			continue;
		}
		char c = in[++i];
		switch (c) {
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case '0': out[o++] = '\0'; break;
		case 'x':
			if (i + 2 < len && isxdigit((unsigned char)in[i + 1]) && isxdigit((unsigned char)in[i + 2])) {
				char hex[3] = { in[i + 1], in[i + 2], 0 };
				out[o++] = (char)strtoul(hex, NULL, 16);
				i += 2;
			} else {
				out[o++] = '\\';
				out[o++] = 'x';
			}
			break;
		case '\\': out[o++] = '\\'; break;
		default: out[o++] = '\\'; out[o++] = c; break;
		}
	}
	return o;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *bigger = realloc(buf, cap * 2 + 1);
			if (bigger == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* 0 with the file's samples; -ENOENT when the file does not exist. */
static int load_samples(const char *path, struct sample_file *out)
{
	size_t len;
	char *text = read_file(path, &len);
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	if (text == NULL)
		return -ENOENT;
	uint32_t cap = 16;
	out->samples = calloc(cap, sizeof(*out->samples));
	assert_non_null(out->samples);
	uint32_t lineno = 0;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(text + len - p);
		lineno++;
		/* An editor's CRLF is not part of the sample; a CR that is one is written "\r" on an esc: line. */
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && !(n >= 2 && p[0] == '#' && p[1] == '#')) {
			if (out->count == cap) {
				cap *= 2;
				out->samples = realloc(out->samples, cap * sizeof(*out->samples));
				assert_non_null(out->samples);
			}
			struct sample *s = &out->samples[out->count++];
			s->data = malloc(n + 1);
			assert_non_null(s->data);
			if (n >= 4 && memcmp(p, "esc:", 4) == 0)
				s->len = unescape(p + 4, n - 4, s->data);
			else {
				memcpy(s->data, p, n);
				s->len = n;
			}
			s->data[s->len] = '\0';
			s->line = lineno;
		}
		p = nl != NULL ? nl + 1 : text + len;
	}
	free(text);
	return 0;
}

/* A sample as one printable line: bytes outside printable ASCII as \xHH, at most 160 of them shown. */
static const char *show(const struct sample *s, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < s->len && i < 160 && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s->data[i];
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void free_samples(struct sample_file *f)
{
	for (uint32_t i = 0; i < f->count; i++)
		free(f->samples[i].data);
	free(f->samples);
	memset(f, 0, sizeof(*f));
}

/* ---- scanning ---- */

#define MAX_HITS 64

struct scan_ctx {
	const uint8_t *seen;           /* the value's bytes [seen_from, seen_from + seen_len), where windows come from */
	unsigned long long seen_from;
	size_t seen_len;
	uint32_t hits[MAX_HITS];
	uint32_t hit_count;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *arg)
{
	struct scan_ctx *ctx = arg;
	(void)from;
	(void)flags;
	const struct ztg_sig_rule *rule = rs.compiled->rules[id];
	uint32_t rule_id = rule->id;
	/* The window the engine gives a validator: every byte of the value up to the match, at most the last 128. */
	size_t len = to < ZTG_VALIDATOR_WINDOW ? (size_t)to : ZTG_VALIDATOR_WINDOW;
	assert_true(to >= ctx->seen_from + len && to <= ctx->seen_from + ctx->seen_len);
	if (!ztg_validator_accept(rule->validator, ctx->seen + (to - ctx->seen_from) - len, len))
		return 0;
	for (uint32_t i = 0; i < ctx->hit_count; i++)
		if (ctx->hits[i] == rule_id)
			return 0;
	if (ctx->hit_count < MAX_HITS)
		ctx->hits[ctx->hit_count++] = rule_id;
	return 0;
}

/*
 * Scan one value in one database. Streaming databases get it in pieces of
 * `chunk` bytes (body segments), so a match must survive the split, and
 * matches anchored at the end are reported by hs_close_stream. Before each
 * piece the last ZTG_VALIDATOR_WINDOW bytes of the earlier ones are kept, as
 * the engine must keep them, so a validator's window spans the pieces.
 */
static void scan(const hs_database_t *db, bool streaming, const char *data, size_t len, size_t chunk,
		 struct scan_ctx *ctx)
{
	if (!streaming) {
		ctx->seen = (const uint8_t *)data;
		ctx->seen_from = 0;
		ctx->seen_len = len;
		assert_int_equal(hs_scan(db, data, (unsigned int)len, 0, rs.scratch, on_match, ctx), HS_SUCCESS);
		return;
	}
	uint8_t kept[ZTG_VALIDATOR_WINDOW + MAX_CHUNK];
	size_t kept_len = 0;
	hs_stream_t *stream = NULL;
	assert_true(chunk <= MAX_CHUNK);
	assert_int_equal(hs_open_stream(db, 0, &stream), HS_SUCCESS);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (kept_len > ZTG_VALIDATOR_WINDOW) {
			memmove(kept, kept + kept_len - ZTG_VALIDATOR_WINDOW, ZTG_VALIDATOR_WINDOW);
			kept_len = ZTG_VALIDATOR_WINDOW;
		}
		memcpy(kept + kept_len, data + off, n);
		kept_len += n;
		ctx->seen = kept;
		ctx->seen_from = off + n - kept_len;
		ctx->seen_len = kept_len;
		assert_int_equal(hs_scan_stream(stream, data + off, (unsigned int)n, 0, rs.scratch, on_match, ctx),
				 HS_SUCCESS);
	}
	/* What matches at the end of the body ends in the bytes kept with the last piece. */
	assert_int_equal(hs_close_stream(stream, rs.scratch, on_match, ctx), HS_SUCCESS);
}

/* A database a value can be scanned in. */
struct any_db {
	const hs_database_t *db;
	bool streaming;
	enum ztg_sig_field field;
	const char *header;
};

static uint32_t all_dbs(struct any_db *out, uint32_t cap)
{
	uint32_t n = 0;
	for (uint32_t i = 0; rs.compiled != NULL && i < rs.compiled->db_count && n < cap; i++) {
		const struct ztg_sig_db *d = &rs.compiled->dbs[i];
		out[n++] = (struct any_db){ d->db, d->streaming, d->field, d->header };
	}
	return n;
}

static bool hit(const struct scan_ctx *ctx, uint32_t id)
{
	for (uint32_t i = 0; i < ctx->hit_count; i++)
		if (ctx->hits[i] == id)
			return true;
	return false;
}

/*
 * The databases a rule's samples are scanned in: one per field of the rule
 * (the named header's for "header"). Returns how many.
 */
static uint32_t rule_dbs(const struct ztg_sig_rule *rule, struct any_db *out, uint32_t cap)
{
	uint32_t n = 0;
	for (int f = 0; rs.compiled != NULL && f < ZTG_SIG_FIELD_COUNT && n < cap; f++) {
		if (!(rule->fields & ZTG_SIG_FIELD_BIT(f)))
			continue;
		bool named = f == ZTG_SIG_FIELD_HEADER && rule->header != NULL;
		const struct ztg_sig_db *d = ztg_sig_compiled_db(rs.compiled, (enum ztg_sig_field)f,
								 named ? rule->header : NULL, named ? strlen(rule->header) : 0);
		if (d != NULL)
			out[n++] = (struct any_db){ d->db, d->streaming, d->field, d->header };
	}
	return n;
}

static const char *db_name(const struct any_db *d, char *buf, size_t len)
{
	if (d->header != NULL)
		snprintf(buf, len, "header:%s", d->header);
	else
		snprintf(buf, len, "%s", ztg_sig_field_name(d->field));
	return buf;
}

/* ---- setup: load, compile, read the corpus ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending in suffix, so output and compile order do not depend on readdir. */
static uint32_t list_dir(const char *dir, const char *suffix, char **names, uint32_t cap)
{
	DIR *d = opendir(dir);
	uint32_t n = 0;
	if (d == NULL)
		return 0;
	struct dirent *e;
	size_t sl = strlen(suffix);
	while ((e = readdir(d)) != NULL && n < cap) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] != '.' && l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	return n;
}

static int group_setup(void **state)
{
	(void)state;
	char *names[MAX_FILES];
	uint32_t n = list_dir(rs.rules_dir, ".rules", names, MAX_FILES);
	if (n == 0) {
		print_error("no *.rules in %s\n", rs.rules_dir);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		char path[512];
		struct ztg_policy_diag diag;
		struct ztg_sig_set *set = NULL;
		snprintf(path, sizeof(path), "%s/%s", rs.rules_dir, names[i]);
		ztg_policy_diag_init(&diag);
		int rc = ztg_sig_set_load(path, &set, &diag);
		if (rc == 0) {
			assert_true(rs.set_count < MAX_FILES);
			rs.sets[rs.set_count++] = set;
			for (uint32_t r = 0; r < set->rule_count; r++) {
				assert_true(rs.rule_count < MAX_RULES);
				rs.rules[rs.rule_count++] = &set->rules[r];
			}
		} else {
			print_error("%s: refused by the loader (rc %d):\n", path, rc);
			ztg_policy_diag_print(stderr, &diag);
			rs.load_failed = true;
		}
		ztg_policy_diag_free(&diag);
		free(names[i]);
	}
	if (rs.set_count > 0) {
		struct ztg_policy_diag diag;
		ztg_policy_diag_init(&diag);
		int rc = ztg_sig_compile((const struct ztg_sig_set *const *)rs.sets, rs.set_count, &rs.compiled, &diag);
		if (rc != 0) {
			print_error("ztg_sig_compile: rc %d\n", rc);
			ztg_policy_diag_print(stderr, &diag);
			rs.compiled = NULL;
		} else if (ztg_sig_scratch_alloc(rs.compiled, &rs.scratch) != 0) {
			print_error("ztg_sig_scratch_alloc failed\n");
			return -1;
		}
		ztg_policy_diag_free(&diag);
	}

	char dir[512];
	snprintf(dir, sizeof(dir), "%s/benign", rs.corpus_dir);
	n = list_dir(dir, ".txt", names, MAX_FILES);
	for (uint32_t i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(load_samples(path, &rs.benign[rs.benign_count++]), 0);
		free(names[i]);
	}
	const struct ztg_sig_compiled *c = rs.compiled;
	printf("ruleset: %u sets loaded (%u rules), %u databases (%zu bytes, compiled in %.2f s), "
	       "%u benign files\n", rs.set_count, rs.rule_count, c != NULL ? c->db_count : 0,
	       c != NULL ? c->bytes : 0, c != NULL ? c->compile_seconds : 0.0, rs.benign_count);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < rs.benign_count; i++)
		free_samples(&rs.benign[i]);
	hs_free_scratch(rs.scratch);
	ztg_sig_compiled_free(rs.compiled);
	for (uint32_t s = 0; s < rs.set_count; s++)
		ztg_sig_set_free(rs.sets[s]);
	return 0;
}

/* ---- the tests ---- */

static void test_every_file_loads_and_compiles(void **state)
{
	(void)state;
	assert_false(rs.load_failed);
	assert_true(rs.set_count > 0);
	assert_non_null(rs.compiled);
}

static const struct ztg_sig_rule *loaded_rule(uint32_t id)
{
	for (uint32_t i = 0; i < rs.rule_count; i++)
		if (rs.rules[i]->id == id)
			return rs.rules[i];
	return NULL;
}

static void test_every_rule_has_three_positives(void **state)
{
	(void)state;
	uint32_t short_of = 0;
	for (uint32_t i = 0; i < rs.rule_count; i++) {
		char path[1024];
		struct sample_file f;
		snprintf(path, sizeof(path), "%s/positive/%u.txt", rs.corpus_dir, rs.rules[i]->id);
		load_samples(path, &f);
		if (f.count < 3) {
			print_error("rule %u (%s:%u): %u positive samples in %s, at least 3 needed\n", rs.rules[i]->id,
				    rs.rules[i]->loc.file, rs.rules[i]->loc.line, f.count, path);
			short_of++;
		}
		free_samples(&f);
	}
	/* A sample file for an id no rule has is evidence for nothing: a renumbered or deleted rule. */
	char dir[512], *names[MAX_RULES];
	snprintf(dir, sizeof(dir), "%s/positive", rs.corpus_dir);
	uint32_t n = list_dir(dir, ".txt", names, MAX_RULES);
	for (uint32_t i = 0; i < n; i++) {
		if (loaded_rule((uint32_t)strtoul(names[i], NULL, 10)) == NULL) {
			print_error("%s/%s: no rule has this id\n", dir, names[i]);
			short_of++;
		}
		free(names[i]);
	}
	if (short_of > 0)
		fail_msg("%u rules without 3 positives or stray sample files", short_of);
}

/*
 * What a route with threshold 5 would do with the rules one scan reported:
 * block when a block rule fired or the scores add up to 5. Informational:
 * it shows which samples a single weak rule leaves below the threshold.
 */
static bool blocks_at_five(const struct scan_ctx *ctx)
{
	uint32_t total = 0;
	for (uint32_t i = 0; i < ctx->hit_count; i++) {
		const struct ztg_sig_rule *r = loaded_rule(ctx->hits[i]);
		if (r == NULL || r->monitor)
			continue;
		if (r->action == ZTG_SIG_ACTION_BLOCK)
			return true;
		if (r->action == ZTG_SIG_ACTION_SCORE)
			total += r->score;
	}
	return total >= 5;
}

static void test_positives_report_their_rule(void **state)
{
	(void)state;
	uint32_t samples = 0, scans = 0, missed = 0, request_samples = 0, blocked = 0;
	for (uint32_t i = 0; i < rs.rule_count; i++) {
		const struct ztg_sig_rule *rule = rs.rules[i];
		uint32_t id = rule->id;
		struct any_db dbs[ZTG_SIG_FIELD_COUNT + 4];
		uint32_t ndb = rule_dbs(rule, dbs, sizeof(dbs) / sizeof(dbs[0]));
		if (ndb == 0) {
			print_error("rule %u: no database holds it\n", id);
			missed++;
			continue;
		}
		char path[1024];
		struct sample_file f;
		snprintf(path, sizeof(path), "%s/positive/%u.txt", rs.corpus_dir, id);
		load_samples(path, &f);
		bool scored = rule->action != ZTG_SIG_ACTION_ALERT;
		uint32_t below = 0;
		for (uint32_t k = 0; k < f.count; k++) {
			const struct sample *s = &f.samples[k];
			bool blocks = false;
			samples++;
			/* Every field the rule names must catch it: a pattern anchored wrongly for one shows here. */
			for (uint32_t d = 0; d < ndb; d++) {
				struct scan_ctx ctx = { 0 };
				char name[64];
				scan(dbs[d].db, dbs[d].streaming, s->data, s->len, 7, &ctx);
				scans++;
				blocks = blocks || blocks_at_five(&ctx);
				if (!hit(&ctx, id)) {
					char text[800];
					print_error("MISS rule %u field %s: %s:%u: %s\n", id,
						    db_name(&dbs[d], name, sizeof(name)), f.path, s->line,
						    show(s, text, sizeof(text)));
					missed++;
				}
			}
			if (scored) {
				request_samples++;
				blocked += blocks;
				below += !blocks;
			}
		}
		/* Weak rules are meant to need a second signal; say which they are, once each. */
		if (below > 0)
			printf("below threshold 5 on its own: rule %u (score %u), %u of %u samples\n", id,
			       rule->score, below, f.count);
		free_samples(&f);
	}
	printf("positives: %u samples, %u scans, %u missed; of %u request-rule samples, %u reach threshold 5 "
	       "in one field\n", samples, scans, missed, request_samples, blocked);
	if (missed > 0)
		fail_msg("%u positive scans did not report their rule", missed);
}

static void test_negatives_do_not_report_their_rule(void **state)
{
	(void)state;
	uint32_t samples = 0, wrong = 0;
	for (uint32_t i = 0; i < rs.rule_count; i++) {
		uint32_t id = rs.rules[i]->id;
		char path[1024];
		struct sample_file f;
		snprintf(path, sizeof(path), "%s/negative/%u.txt", rs.corpus_dir, id);
		if (load_samples(path, &f) != 0)
			continue;
		struct any_db dbs[ZTG_SIG_FIELD_COUNT + 4];
		uint32_t ndb = rule_dbs(rs.rules[i], dbs, sizeof(dbs) / sizeof(dbs[0]));
		for (uint32_t k = 0; k < f.count; k++) {
			const struct sample *s = &f.samples[k];
			samples++;
			for (uint32_t d = 0; d < ndb; d++) {
				struct scan_ctx ctx = { 0 };
				char name[64];
				scan(dbs[d].db, dbs[d].streaming, s->data, s->len, 7, &ctx);
				if (hit(&ctx, id)) {
					char text[800];
					print_error("NEAR-MISS FIRED rule %u field %s: %s:%u: %s\n", id,
						    db_name(&dbs[d], name, sizeof(name)), f.path, s->line,
						    show(s, text, sizeof(text)));
					wrong++;
				}
			}
		}
		free_samples(&f);
	}
	printf("negatives: %u samples, %u fired\n", samples, wrong);
	if (wrong > 0)
		fail_msg("%u near misses reported their rule", wrong);
}

static void report_fp(const struct scan_ctx *ctx, const struct any_db *d, const char *file, uint32_t line,
		      const struct sample *s)
{
	char name[64], text[800];
	for (uint32_t h = 0; h < ctx->hit_count; h++) {
		if (s != NULL)
			print_error("FALSE POSITIVE %s:%u rule %u field %s: %s\n", file, line, ctx->hits[h],
				    db_name(d, name, sizeof(name)), show(s, text, sizeof(text)));
		else
			print_error("FALSE POSITIVE %s (whole file as a body) rule %u field %s\n", file, ctx->hits[h],
				    db_name(d, name, sizeof(name)));
	}
}

static void test_benign_corpus_reports_nothing(void **state)
{
	(void)state;
	struct any_db dbs[256];
	uint32_t ndb = all_dbs(dbs, 256), lines = 0, fps = 0;
	assert_true(rs.benign_count > 0);
	for (uint32_t b = 0; b < rs.benign_count; b++) {
		const struct sample_file *f = &rs.benign[b];
		for (uint32_t k = 0; k < f->count; k++) {
			lines++;
			for (uint32_t d = 0; d < ndb; d++) {
				struct scan_ctx ctx = { 0 };
				scan(dbs[d].db, dbs[d].streaming, f->samples[k].data, f->samples[k].len, 64, &ctx);
				report_fp(&ctx, &dbs[d], f->path, f->samples[k].line, &f->samples[k]);
				fps += ctx.hit_count;
			}
		}
		/* A multi-line document (JSON, markdown) is also a body: patterns may span its lines there. */
		size_t len;
		char *whole = read_file(f->path, &len);
		assert_non_null(whole);
		for (uint32_t d = 0; d < ndb; d++) {
			if (!dbs[d].streaming)
				continue;
			struct scan_ctx ctx = { 0 };
			scan(dbs[d].db, true, whole, len, 64, &ctx);
			report_fp(&ctx, &dbs[d], f->path, 0, NULL);
			fps += ctx.hit_count;
		}
		free(whole);
	}
	printf("benign: %u lines in %u files, %u databases, %u false positives\n", lines, rs.benign_count, ndb, fps);
	if (fps > 0)
		fail_msg("%u false positives in the benign corpus", fps);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s RULES_DIR CORPUS_DIR\n", argv[0]);
		return 2;
	}
	rs.rules_dir = argv[1];
	rs.corpus_dir = argv[2];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_file_loads_and_compiles),
		cmocka_unit_test(test_every_rule_has_three_positives),
		cmocka_unit_test(test_positives_report_their_rule),
		cmocka_unit_test(test_negatives_do_not_report_their_rule),
		cmocka_unit_test(test_benign_corpus_reports_nothing),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
