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
 * Validators: a rule may name a check that a Hyperscan match must also pass
 * (validator = "luhn" or "iban"), a key the rule language does not have yet
 * (signatures.h). Files with such rules are loaded when the loader accepts
 * them; when it refuses them they are reported as skipped and their patterns
 * are compiled here with the same flags, so the patterns, the validators and
 * the samples are still checked. Either way a match of a validator rule
 * counts only when the validator accepts the candidate that ends at the
 * match: Hyperscan reports end offsets only (no SOM flag), so the candidate
 * is recovered by walking back from the end, as the engine will have to.
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
#include <libconfig.h>

#include "policy_load.h"
#include "sig_compile.h"
#include "signatures.h"

#define MAX_FILES   64
#define MAX_RULES   1024

enum validator {
	VALIDATOR_NONE = 0,
	VALIDATOR_LUHN,
	VALIDATOR_IBAN,
};

/* What the rule files say about a rule, read with libconfig beside the loader (for validators and shadow builds). */
struct raw_rule {
	uint32_t id;
	enum validator validator;
	char *pattern;           /* regex; a literal is escaped into one */
	unsigned int hs_flags;
	uint32_t fields;         /* ZTG_SIG_FIELD_BIT()s, "header" excluded */
	char file[512];
	bool shadowed;           /* its file was refused for the validator key: checked on a shadow build */
};

/* A database built here for a refused validator file, one per field. */
struct shadow_db {
	enum ztg_sig_field field;
	hs_database_t *db;
	uint32_t *ids;           /* pattern index -> rule id */
};

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
	uint32_t skipped_count;
	bool load_failed;        /* a file without validator rules was refused */
	struct ztg_sig_compiled *compiled;
	hs_scratch_t *scratch;
	struct raw_rule raw[MAX_RULES];
	uint32_t raw_count;
	struct shadow_db shadow[ZTG_SIG_FIELD_COUNT];
	uint32_t shadow_count;
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

/* ---- validators: what the engine must run on a match before it counts (requested language addition) ---- */

static bool luhn_ok(const char *digits, size_t n)
{
	unsigned int sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned int d = (unsigned int)(digits[n - 1 - i] - '0');
		if (i % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

/*
 * The card candidate ending at `to`: skip the boundary byte(s) the pattern
 * consumed after the last digit, then take digits and single separators
 * back to the start of the run. The pattern's leading boundary makes the run
 * maximal, so this is the span the pattern matched.
 */
static bool validate_luhn(const char *data, size_t to)
{
	size_t end = to, skipped = 0;
	while (end > 0 && !isdigit((unsigned char)data[end - 1]) && skipped < 2) {
		end--;
		skipped++;
	}
	char digits[32];
	size_t n = 0, i = end;
	while (i > 0 && (isdigit((unsigned char)data[i - 1]) || data[i - 1] == ' ' || data[i - 1] == '-')) {
		if (isdigit((unsigned char)data[i - 1])) {
			if (n == sizeof(digits))
				return false;
			digits[n++] = data[i - 1];
		}
		i--;
	}
	if (n < 13 || n > 19)
		return false;
	/* Collected backwards: reverse into reading order. */
	for (size_t a = 0, b = n - 1; a < b; a++, b--) {
		char t = digits[a];
		digits[a] = digits[b];
		digits[b] = t;
	}
	return luhn_ok(digits, n);
}

/* ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 must be 1. */
static bool iban_ok(const char *s, size_t n)
{
	if (n < 15 || n > 34 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || !isdigit((unsigned char)s[3]))
		return false;
	unsigned int rem = 0;
	for (size_t k = 0; k < n; k++) {
		char c = s[(k + 4) % n];
		if (isdigit((unsigned char)c))
			rem = (rem * 10 + (unsigned int)(c - '0')) % 97;
		else if (isupper((unsigned char)c))
			rem = (rem * 100 + (unsigned int)(c - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

/*
 * The IBAN candidate ending at `to`: the run of [A-Z0-9 ] before it may begin
 * with other capitals ("IBAN DE89 ..."), so every start that begins a word
 * with two letters and two digits is tried.
 */
static bool validate_iban(const char *data, size_t to)
{
	size_t end = to;
	if (end > 0 && !isalnum((unsigned char)data[end - 1]))
		end--;
	size_t start = end;
	while (start > 0 && end - start < 64) {
		unsigned char c = (unsigned char)data[start - 1];
		if (!isupper(c) && !isdigit(c) && c != ' ')
			break;
		start--;
	}
	for (size_t s = start; s + 4 <= end; s++) {
		if (s > start && data[s - 1] != ' ')
			continue;
		char compact[40];
		size_t n = 0;
		for (size_t k = s; k < end && n < sizeof(compact); k++)
			if (data[k] != ' ')
				compact[n++] = data[k];
		if (iban_ok(compact, n))
			return true;
	}
	return false;
}

static const struct raw_rule *raw_rule(uint32_t id)
{
	for (uint32_t i = 0; i < rs.raw_count; i++)
		if (rs.raw[i].id == id)
			return &rs.raw[i];
	return NULL;
}

static bool validator_accepts(uint32_t id, const char *data, size_t to)
{
	const struct raw_rule *r = raw_rule(id);
	if (r == NULL || r->validator == VALIDATOR_NONE)
		return true;
	return r->validator == VALIDATOR_LUHN ? validate_luhn(data, to) : validate_iban(data, to);
}

/* ---- reading the rule files with libconfig, for what the loader does not (yet) keep ---- */

static unsigned int hs_flags_of(const char *letters)
{
	unsigned int f = 0;
	for (const char *c = letters; c != NULL && *c != '\0'; c++) {
		switch (*c) {
		case 'i': f |= HS_FLAG_CASELESS; break;
		case 's': f |= HS_FLAG_DOTALL; break;
		case 'm': f |= HS_FLAG_MULTILINE; break;
		case 'u': f |= HS_FLAG_UTF8; break;
		case 'p': f |= HS_FLAG_UCP; break;
		default: break;
		}
	}
	return f;
}

/* A literal becomes a regex of \xHH escapes, so the shadow build needs one compile call. */
static char *literal_regex(const char *lit)
{
	size_t n = strlen(lit);
	char *re = malloc(n * 4 + 1);
	assert_non_null(re);
	for (size_t i = 0; i < n; i++)
		sprintf(re + i * 4, "\\x%02x", (unsigned char)lit[i]);
	re[n * 4] = '\0';
	return re;
}

/* Returns whether the file has a rule with a validator key. */
static bool read_raw_rules(const char *path)
{
	config_t cf;
	bool has_validator = false;
	config_init(&cf);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		print_error("%s:%d: libconfig: %s\n", path, config_error_line(&cf), config_error_text(&cf));
		config_destroy(&cf);
		return false;
	}
	config_setting_t *rules = config_lookup(&cf, "rules");
	for (int i = 0; rules != NULL && i < config_setting_length(rules); i++) {
		config_setting_t *r = config_setting_get_elem(rules, (unsigned int)i);
		int id = 0;
		const char *s = NULL;
		if (r == NULL || config_setting_lookup_int(r, "id", &id) != CONFIG_TRUE)
			continue;
		assert_true(rs.raw_count < MAX_RULES);
		struct raw_rule *rr = &rs.raw[rs.raw_count++];
		memset(rr, 0, sizeof(*rr));
		rr->id = (uint32_t)id;
		snprintf(rr->file, sizeof(rr->file), "%s", path);
		if (config_setting_lookup_string(r, "validator", &s) == CONFIG_TRUE) {
			has_validator = true;
			if (strcmp(s, "luhn") == 0)
				rr->validator = VALIDATOR_LUHN;
			else if (strcmp(s, "iban") == 0)
				rr->validator = VALIDATOR_IBAN;
			if (rr->validator == VALIDATOR_NONE)
				print_error("%s: rule %d: unknown validator \"%s\"\n", path, id, s);
		}
		if (config_setting_lookup_string(r, "pattern", &s) == CONFIG_TRUE)
			rr->pattern = strdup(s);
		else if (config_setting_lookup_string(r, "literal", &s) == CONFIG_TRUE)
			rr->pattern = literal_regex(s);
		if (config_setting_lookup_string(r, "flags", &s) == CONFIG_TRUE)
			rr->hs_flags = hs_flags_of(s);
		config_setting_t *fields = config_setting_get_member(r, "fields");
		for (int k = 0; fields != NULL && k < config_setting_length(fields); k++) {
			enum ztg_sig_field f;
			const char *name = config_setting_get_string_elem(fields, (unsigned int)k);
			if (name != NULL && ztg_sig_field_from_name(name, &f) == 0 && f != ZTG_SIG_FIELD_HEADER)
				rr->fields |= ZTG_SIG_FIELD_BIT(f);
		}
	}
	config_destroy(&cf);
	return has_validator;
}

/* The refused validator files' rules, compiled here the way sig_compile.h describes: one database per field. */
static void build_shadow(void)
{
	for (int f = 0; f < ZTG_SIG_FIELD_COUNT; f++) {
		const char *exprs[MAX_RULES];
		unsigned int flags[MAX_RULES], ids[MAX_RULES];
		uint32_t n = 0;
		for (uint32_t i = 0; i < rs.raw_count; i++) {
			const struct raw_rule *r = &rs.raw[i];
			if (!r->shadowed || r->pattern == NULL || !(r->fields & ZTG_SIG_FIELD_BIT(f)))
				continue;
			exprs[n] = r->pattern;
			flags[n] = r->hs_flags;
			ids[n] = n;
			n++;
		}
		if (n == 0)
			continue;
		struct shadow_db *sd = &rs.shadow[rs.shadow_count];
		hs_compile_error_t *err = NULL;
		unsigned int mode = (ZTG_SIG_STREAM_FIELDS & ZTG_SIG_FIELD_BIT(f)) ? HS_MODE_STREAM : HS_MODE_BLOCK;
		if (hs_compile_multi(exprs, flags, ids, n, mode, NULL, &sd->db, &err) != HS_SUCCESS) {
			print_error("shadow build of refused validator rules, field %s: pattern %d: %s\n",
				    ztg_sig_field_name((enum ztg_sig_field)f), err->expression, err->message);
			hs_free_compile_error(err);
			fail();
		}
		sd->field = (enum ztg_sig_field)f;
		sd->ids = calloc(n, sizeof(*sd->ids));
		assert_non_null(sd->ids);
		uint32_t k = 0;
		for (uint32_t i = 0; i < rs.raw_count; i++) {
			const struct raw_rule *r = &rs.raw[i];
			if (r->shadowed && r->pattern != NULL && (r->fields & ZTG_SIG_FIELD_BIT(f)))
				sd->ids[k++] = r->id;
		}
		assert_int_equal(hs_alloc_scratch(sd->db, &rs.scratch), HS_SUCCESS);
		rs.shadow_count++;
	}
}

/* ---- scanning ---- */

#define MAX_HITS 64

struct scan_ctx {
	const char *data;              /* the whole value, so a validator can look back from a match */
	const uint32_t *shadow_ids;    /* NULL: ids index compiled->rules */
	uint32_t hits[MAX_HITS];
	uint32_t hit_count;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *arg)
{
	struct scan_ctx *ctx = arg;
	(void)from;
	(void)flags;
	uint32_t rule_id = ctx->shadow_ids != NULL ? ctx->shadow_ids[id] : rs.compiled->rules[id]->id;
	if (!validator_accepts(rule_id, ctx->data, (size_t)to))
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
 * matches anchored at the end are reported by hs_close_stream.
 */
static void scan(const hs_database_t *db, bool streaming, const char *data, size_t len, size_t chunk,
		 struct scan_ctx *ctx)
{
	ctx->data = data;
	if (!streaming) {
		assert_int_equal(hs_scan(db, data, (unsigned int)len, 0, rs.scratch, on_match, ctx), HS_SUCCESS);
		return;
	}
	hs_stream_t *stream = NULL;
	assert_int_equal(hs_open_stream(db, 0, &stream), HS_SUCCESS);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(hs_scan_stream(stream, data + off, (unsigned int)n, 0, rs.scratch, on_match, ctx),
				 HS_SUCCESS);
	}
	assert_int_equal(hs_close_stream(stream, rs.scratch, on_match, ctx), HS_SUCCESS);
}

/* Every database a value can be scanned in: the compiled ones, then the shadow ones. */
struct any_db {
	const hs_database_t *db;
	bool streaming;
	enum ztg_sig_field field;
	const char *header;
	const uint32_t *shadow_ids;
};

static uint32_t all_dbs(struct any_db *out, uint32_t cap)
{
	uint32_t n = 0;
	for (uint32_t i = 0; rs.compiled != NULL && i < rs.compiled->db_count && n < cap; i++) {
		const struct ztg_sig_db *d = &rs.compiled->dbs[i];
		out[n++] = (struct any_db){ d->db, d->streaming, d->field, d->header, NULL };
	}
	for (uint32_t i = 0; i < rs.shadow_count && n < cap; i++) {
		const struct shadow_db *d = &rs.shadow[i];
		bool streaming = (ZTG_SIG_STREAM_FIELDS & ZTG_SIG_FIELD_BIT(d->field)) != 0;
		out[n++] = (struct any_db){ d->db, streaming, d->field, NULL, d->ids };
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
static uint32_t rule_dbs(uint32_t id, struct any_db *out, uint32_t cap)
{
	uint32_t n = 0;
	for (uint32_t s = 0; rs.compiled != NULL && s < rs.set_count; s++) {
		for (uint32_t r = 0; r < rs.sets[s]->rule_count; r++) {
			const struct ztg_sig_rule *rule = &rs.sets[s]->rules[r];
			if (rule->id != id)
				continue;
			for (int f = 0; f < ZTG_SIG_FIELD_COUNT && n < cap; f++) {
				if (!(rule->fields & ZTG_SIG_FIELD_BIT(f)))
					continue;
				bool named = f == ZTG_SIG_FIELD_HEADER && rule->header != NULL;
				const struct ztg_sig_db *d = ztg_sig_compiled_db(rs.compiled, (enum ztg_sig_field)f,
										 named ? rule->header : NULL,
										 named ? strlen(rule->header) : 0);
				if (d != NULL)
					out[n++] = (struct any_db){ d->db, d->streaming, d->field, d->header, NULL };
			}
			return n;
		}
	}
	for (uint32_t i = 0; i < rs.shadow_count && n < cap; i++) {
		const struct raw_rule *r = raw_rule(id);
		const struct shadow_db *d = &rs.shadow[i];
		if (r != NULL && r->shadowed && (r->fields & ZTG_SIG_FIELD_BIT(d->field)))
			out[n++] = (struct any_db){ d->db, (ZTG_SIG_STREAM_FIELDS & ZTG_SIG_FIELD_BIT(d->field)) != 0,
						    d->field, NULL, d->ids };
	}
	return n;
}

static const char *db_name(const struct any_db *d, char *buf, size_t len)
{
	if (d->header != NULL)
		snprintf(buf, len, "header:%s", d->header);
	else
		snprintf(buf, len, "%s%s", ztg_sig_field_name(d->field), d->shadow_ids != NULL ? " (shadow)" : "");
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
		uint32_t first = rs.raw_count;
		bool has_validator = read_raw_rules(path);
		if (rc == 0) {
			assert_true(rs.set_count < MAX_FILES);
			rs.sets[rs.set_count++] = set;
		} else if (has_validator) {
			/* Expected until the language has the key: say so, with the loader's own words. */
			rs.skipped_count++;
			for (uint32_t k = first; k < rs.raw_count; k++)
				rs.raw[k].shadowed = true;
			printf("SKIPPED %s: the loader refused it (rc %d) and it uses the requested `validator` key; "
			       "its rules are checked on a shadow build instead. Loader said:\n", names[i], rc);
			ztg_policy_diag_print(stdout, &diag);
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
	build_shadow();

	char dir[512];
	snprintf(dir, sizeof(dir), "%s/benign", rs.corpus_dir);
	n = list_dir(dir, ".txt", names, MAX_FILES);
	for (uint32_t i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(load_samples(path, &rs.benign[rs.benign_count++]), 0);
		free(names[i]);
	}
	uint32_t rules = 0;
	for (uint32_t s = 0; s < rs.set_count; s++)
		rules += rs.sets[s]->rule_count;
	const struct ztg_sig_compiled *c = rs.compiled;
	printf("ruleset: %u sets loaded (%u rules), %u files skipped, %u databases (%zu bytes, compiled in %.2f s), "
	       "%u benign files\n", rs.set_count, rules, rs.skipped_count, c != NULL ? c->db_count : 0,
	       c != NULL ? c->bytes : 0, c != NULL ? c->compile_seconds : 0.0, rs.benign_count);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < rs.benign_count; i++)
		free_samples(&rs.benign[i]);
	for (uint32_t i = 0; i < rs.shadow_count; i++) {
		hs_free_database(rs.shadow[i].db);
		free(rs.shadow[i].ids);
	}
	for (uint32_t i = 0; i < rs.raw_count; i++)
		free(rs.raw[i].pattern);
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

static void test_every_rule_has_three_positives(void **state)
{
	(void)state;
	uint32_t short_of = 0;
	for (uint32_t i = 0; i < rs.raw_count; i++) {
		char path[1024];
		struct sample_file f;
		snprintf(path, sizeof(path), "%s/positive/%u.txt", rs.corpus_dir, rs.raw[i].id);
		load_samples(path, &f);
		if (f.count < 3) {
			print_error("rule %u (%s): %u positive samples in %s, at least 3 needed\n", rs.raw[i].id,
				    rs.raw[i].file, f.count, path);
			short_of++;
		}
		free_samples(&f);
	}
	/* A sample file for an id no rule has is evidence for nothing: a renumbered or deleted rule. */
	char dir[512], *names[MAX_RULES];
	snprintf(dir, sizeof(dir), "%s/positive", rs.corpus_dir);
	uint32_t n = list_dir(dir, ".txt", names, MAX_RULES);
	for (uint32_t i = 0; i < n; i++) {
		if (raw_rule((uint32_t)strtoul(names[i], NULL, 10)) == NULL) {
			print_error("%s/%s: no rule has this id\n", dir, names[i]);
			short_of++;
		}
		free(names[i]);
	}
	if (short_of > 0)
		fail_msg("%u rules without 3 positives or stray sample files", short_of);
}

static const struct ztg_sig_rule *loaded_rule(uint32_t id)
{
	for (uint32_t s = 0; s < rs.set_count; s++)
		for (uint32_t r = 0; r < rs.sets[s]->rule_count; r++)
			if (rs.sets[s]->rules[r].id == id)
				return &rs.sets[s]->rules[r];
	return NULL;
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
	for (uint32_t i = 0; i < rs.raw_count; i++) {
		uint32_t id = rs.raw[i].id;
		struct any_db dbs[ZTG_SIG_FIELD_COUNT + 4];
		uint32_t ndb = rule_dbs(id, dbs, sizeof(dbs) / sizeof(dbs[0]));
		if (ndb == 0) {
			print_error("rule %u: no database holds it\n", id);
			missed++;
			continue;
		}
		char path[1024];
		struct sample_file f;
		snprintf(path, sizeof(path), "%s/positive/%u.txt", rs.corpus_dir, id);
		load_samples(path, &f);
		const struct ztg_sig_rule *rule = loaded_rule(id);
		bool scored = rule != NULL && rule->action != ZTG_SIG_ACTION_ALERT;
		uint32_t below = 0;
		for (uint32_t k = 0; k < f.count; k++) {
			const struct sample *s = &f.samples[k];
			bool blocks = false;
			samples++;
			/* Every field the rule names must catch it: a pattern anchored wrongly for one shows here. */
			for (uint32_t d = 0; d < ndb; d++) {
				struct scan_ctx ctx = { .shadow_ids = dbs[d].shadow_ids };
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
	for (uint32_t i = 0; i < rs.raw_count; i++) {
		uint32_t id = rs.raw[i].id;
		char path[1024];
		struct sample_file f;
		snprintf(path, sizeof(path), "%s/negative/%u.txt", rs.corpus_dir, id);
		if (load_samples(path, &f) != 0)
			continue;
		struct any_db dbs[ZTG_SIG_FIELD_COUNT + 4];
		uint32_t ndb = rule_dbs(id, dbs, sizeof(dbs) / sizeof(dbs[0]));
		for (uint32_t k = 0; k < f.count; k++) {
			const struct sample *s = &f.samples[k];
			samples++;
			for (uint32_t d = 0; d < ndb; d++) {
				struct scan_ctx ctx = { .shadow_ids = dbs[d].shadow_ids };
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
				struct scan_ctx ctx = { .shadow_ids = dbs[d].shadow_ids };
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
			struct scan_ctx ctx = { .shadow_ids = dbs[d].shadow_ids };
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

/* The validators themselves, on the published check-digit examples, so a sample file cannot hide a broken one. */
static void test_validators(void **state)
{
	(void)state;
	const char *cards_ok[] = { " 4111 1111 1111 1111 ", " 5555-5555-5555-4444 ", " 378282246310005 " };
	const char *cards_bad[] = { " 4111 1111 1111 1112 ", " 1234 5678 9012 ", " 5555-5555-5555-4445 " };
	for (size_t i = 0; i < 3; i++) {
		assert_true(validate_luhn(cards_ok[i], strlen(cards_ok[i])));
		assert_false(validate_luhn(cards_bad[i], strlen(cards_bad[i])));
	}
	const char *ibans_ok[] = { "IBAN DE89 3704 0044 0532 0130 00.", "GB82WEST12345698765432",
				   "FR1420041010050500013M02606" };
	const char *ibans_bad[] = { "DE89 3704 0044 0532 0130 01.", "GB82WEST12345698765431", "AB12CDEFGHIJKLMNOP" };
	for (size_t i = 0; i < 3; i++) {
		assert_true(validate_iban(ibans_ok[i], strlen(ibans_ok[i])));
		assert_false(validate_iban(ibans_bad[i], strlen(ibans_bad[i])));
	}
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
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_every_file_loads_and_compiles),
		cmocka_unit_test(test_every_rule_has_three_positives),
		cmocka_unit_test(test_positives_report_their_rule),
		cmocka_unit_test(test_negatives_do_not_report_their_rule),
		cmocka_unit_test(test_benign_corpus_reports_nothing),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
