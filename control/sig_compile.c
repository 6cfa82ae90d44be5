/*
 * Signature compilation (sig_compile.h): rules in, one Hyperscan database
 * per (field, header name) out, and their bundle records.
 *
 * Both ztg_sig_compile() and ztg_sig_compiled_from_records() start from the
 * same plan of the sets: the rule table (pattern id = index), one entry per
 * (rule, field) sorted into groups by field then header name, and the digest
 * of what is compiled. Compiling builds each group's database; taking records
 * back checks each record against the group it claims to be, so both ways
 * give the same tables in the same order.
 *
 * Literals: a group whose rules are all literals goes through
 * hs_compile_lit_multi() with each literal's length. A group mixing literals
 * and regexes goes through hs_compile_ext_multi() with every literal byte
 * written as \xHH, which Hyperscan's parser takes as that byte and nothing
 * else: one database per (field, header), as struct ztg_sig_db and
 * ztg_sig_compiled_db() promise, so a scan of a field is one hs_scan() call.
 *
 * Flags: every pattern gets HS_FLAG_SINGLEMATCH but those of rules with a
 * validator. The verdict needs to know which rules matched a field, not
 * where or how often; with it Hyperscan stops tracking a pattern after its
 * first report, so the callbacks of one scan (one stream for bodies) are
 * bounded by the rule count whatever the traffic holds: a body of a million
 * "union select" costs one callback, not a million. A validator rule's match
 * is only a candidate (dataplane/detect/validator.h): the first may fail the
 * check while a later one passes, so its pattern reports every match and
 * costs a callback, and a check of at most ZTG_VALIDATOR_WINDOW bytes, per
 * candidate in the traffic. No SOM: nothing needs match starts (a validator
 * walks back from the end), and SOM costs stream state.
 *
 * Record bytes, text header then the serialized database, so `head` shows
 * what a record is:
 *   ztg-sigdb 1\n
 *   digest <64 hex: the rule digest of the whole compilation>\n
 *   mode block|stream\n
 *   patterns <N>\n
 *   sha256 <64 hex: SHA-256 of the database bytes>\n
 *   bytes <M>\n
 *   \n
 *   <M bytes of hs_serialize_database()>
 * The database's own hash is there because Hyperscan's checksum does not
 * cover every byte of a serialized database (the header's reserved bytes
 * and the tail padding are not checked): a record is used exactly as
 * compiled or not at all.
 */
#include "sig_compile.h"

#include "error_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

/*
 * Bump when what a digest stands for changes (flag mapping, literal handling): older records then mismatch.
 * 2: the validator is digested, and decides HS_FLAG_SINGLEMATCH.
 */
#define DIGEST_DOMAIN   "ztg-sig-digest 2\n"
#define RECORD_MAGIC    "ztg-sigdb 1\n"
#define MSG_MAX         1024
#define PATTERN_SHOWN   160            /* bytes of a pattern quoted in a message */
#define RECORD_NAME_MAX ZTG_BUNDLE_FILE_NAME_MAX

/* --------------------------------------------------------------- reports */

/*
 * Where errors go: diag for ztg_sig_compile(), err (the first one, with its
 * file:line) for ztg_sig_compiled_from_records(). Either may be NULL.
 */
struct report {
	struct ztg_policy_diag *diag;
	char *err;
	size_t err_len;
	uint32_t errors;
};


static void report_at(struct report *rep, const char *file, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report_at(struct report *rep, const char *file, uint32_t line, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	ztg_error_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rep->diag != NULL)
		(void)ztg_policy_diag_add(rep->diag, ZTG_POLICY_ERROR, file, line, msg);
	if (rep->err != NULL && rep->err_len > 0 && rep->errors == 0) {
		if (line > 0)
			snprintf(rep->err, rep->err_len, "%s:%u: %s", file, line, msg);
		else
			snprintf(rep->err, rep->err_len, "%s: %s", file, msg);
	}
	rep->errors++;
}

/* A pattern as messages quote it: printable ASCII as is, other bytes and '"' as \xHH, cut at PATTERN_SHOWN. */
static void quote_pattern(char *out, size_t cap, const char *p, uint32_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	uint32_t i;

	for (i = 0; i < len && o + 8 < cap && i < PATTERN_SHOWN; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '"') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (i < len && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------------ plan */

/* One (rule, field) pair: the rule's pattern goes into that field's database. */
struct entry {
	uint32_t rule;
	uint32_t field;
	const char *header;            /* HEADER only */
};

/* The entries of one database: entries[first .. first + count). */
struct group {
	enum ztg_sig_field field;
	const char *header;
	bool streaming;
	bool literals_only;
	uint32_t first;
	uint32_t count;
};

struct plan {
	const struct ztg_sig_set *const *sets;
	uint32_t set_count;
	const struct ztg_sig_rule **rules;
	uint32_t *rule_set;            /* the set each rule came from, for messages */
	uint32_t rule_count;
	struct entry *entries;
	uint32_t entry_count;
	struct group *groups;
	uint32_t group_count;
	char digest[65];
};

static void plan_free(struct plan *p)
{
	free(p->rules);
	free(p->rule_set);
	free(p->entries);
	free(p->groups);
	memset(p, 0, sizeof(*p));
}

static const char *set_file(const struct ztg_sig_set *set)
{
	if (set->loc.file != NULL)
		return set->loc.file;
	return set->path != NULL ? set->path : "(signatures)";
}

static const char *rule_file(const struct plan *p, uint32_t r)
{
	return p->rules[r]->loc.file != NULL ? p->rules[r]->loc.file : set_file(p->sets[p->rule_set[r]]);
}

/* The rule's index in its own set: rules[N] of the file it came from. */
static uint32_t rule_index_in_set(const struct plan *p, uint32_t r)
{
	return (uint32_t)(p->rules[r] - p->sets[p->rule_set[r]]->rules);
}

static const char *set_name(const struct ztg_sig_set *set)
{
	return set->name != NULL ? set->name : "?";
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Report every id used more than once, at each place it is used, naming another place. */
static void check_duplicate_ids(const struct plan *p, struct report *rep, bool *ok)
{
	uint64_t *keys;

	if (p->rule_count < 2)
		return;
	keys = malloc(p->rule_count * sizeof(*keys));
	if (keys == NULL) {
		*ok = false;
		return;
	}
	/* id in the high half, table index in the low: sorted, equal ids are adjacent in table order. */
	for (uint32_t r = 0; r < p->rule_count; r++)
		keys[r] = (uint64_t)p->rules[r]->id << 32 | r;
	qsort(keys, p->rule_count, sizeof(*keys), cmp_u64);
	for (uint32_t i = 0; i < p->rule_count;) {
		uint32_t j = i + 1;

		while (j < p->rule_count && keys[j] >> 32 == keys[i] >> 32)
			j++;
		for (uint32_t k = i; j - i > 1 && k < j; k++) {
			uint32_t r = (uint32_t)keys[k], other = (uint32_t)keys[k == i ? i + 1 : i];
			const struct ztg_sig_set *os = p->sets[p->rule_set[other]];

			report_at(rep, rule_file(p, r), p->rules[r]->loc.line,
				  "rules[%u] id %u: duplicate id: also rules[%u] of set \"%s\" at %s:%u%s",
				  rule_index_in_set(p, r), p->rules[r]->id, rule_index_in_set(p, other), set_name(os),
				  rule_file(p, other), p->rules[other]->loc.line,
				  j - i > 2 ? " (and more)" : "");
		}
		i = j;
	}
	free(keys);
}

/* What the compiler itself relies on; the loader guarantees it, hand-built sets may not. */
static bool rule_usable(const struct plan *p, uint32_t r, struct report *rep)
{
	const struct ztg_sig_rule *rule = p->rules[r];
	const char *file = rule_file(p, r);
	uint32_t n = rule_index_in_set(p, r);

	if (rule->fields == 0 || (rule->fields >> ZTG_SIG_FIELD_COUNT) != 0) {
		report_at(rep, file, rule->loc.line, "rules[%u] id %u: fields: none, or one that is not known", n,
			  rule->id);
		return false;
	}
	if ((rule->fields & ZTG_SIG_FIELD_BIT(ZTG_SIG_FIELD_HEADER)) && (rule->header == NULL || !rule->header[0])) {
		report_at(rep, file, rule->loc.line, "rules[%u] id %u: field header needs the header key", n, rule->id);
		return false;
	}
	if (rule->pattern == NULL || (rule->pattern_len == 0 && rule->literal)) {
		report_at(rep, file, rule->loc.line, "rules[%u] id %u: empty %s", n, rule->id,
			  rule->literal ? "literal" : "pattern");
		return false;
	}
	/* A regex goes to Hyperscan NUL-terminated: its length must say the same, or the digest lies. */
	if (!rule->literal &&
	    (memchr(rule->pattern, '\0', rule->pattern_len) != NULL || rule->pattern[rule->pattern_len] != '\0')) {
		report_at(rep, file, rule->loc.line, "rules[%u] id %u: pattern_len is not the pattern's length", n,
			  rule->id);
		return false;
	}
	return true;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c;

	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	if (x->header != NULL && y->header != NULL && (c = strcasecmp(x->header, y->header)) != 0)
		return c;
	return (x->rule > y->rule) - (x->rule < y->rule);
}

static void digest_u32(EVP_MD_CTX *ctx, uint32_t v, bool *ok)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			       (unsigned char)v };

	if (*ok && EVP_DigestUpdate(ctx, b, sizeof(b)) != 1)
		*ok = false;
}

static void digest_bytes(EVP_MD_CTX *ctx, const void *data, size_t len, bool *ok)
{
	if (*ok && len > 0 && EVP_DigestUpdate(ctx, data, len) != 1)
		*ok = false;
}

/*
 * SHA-256 over a canonical form of every rule compiled, in table order:
 * per rule id, fields, flags, the literal bit, the validator, header
 * (length, 0xffffffff for none, then bytes), pattern (length, bytes);
 * integers big-endian. What a database depends on and nothing else:
 * messages, actions and scores are read from the rules, not from the
 * databases. The validator is among them as it decides the pattern's flags:
 * a database compiled before a rule had one would report only its first
 * candidate.
 */
static int plan_digest(struct plan *p)
{
	static const char hex[] = "0123456789abcdef";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	digest_bytes(ctx, DIGEST_DOMAIN, strlen(DIGEST_DOMAIN), &ok);
	digest_u32(ctx, p->rule_count, &ok);
	for (uint32_t r = 0; ok && r < p->rule_count; r++) {
		const struct ztg_sig_rule *rule = p->rules[r];
		uint8_t literal = rule->literal ? 1 : 0;

		digest_u32(ctx, rule->id, &ok);
		digest_u32(ctx, rule->fields, &ok);
		digest_u32(ctx, rule->flags, &ok);
		digest_bytes(ctx, &literal, 1, &ok);
		digest_u32(ctx, (uint32_t)rule->validator, &ok);
		if (rule->header != NULL) {
			size_t hl = strlen(rule->header);

			digest_u32(ctx, (uint32_t)hl, &ok);
			digest_bytes(ctx, rule->header, hl, &ok);
		} else {
			digest_u32(ctx, UINT32_MAX, &ok);
		}
		digest_u32(ctx, rule->pattern_len, &ok);
		digest_bytes(ctx, rule->pattern, rule->pattern_len, &ok);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	for (unsigned int i = 0; i < md_len; i++) {
		p->digest[2 * i] = hex[md[i] >> 4];
		p->digest[2 * i + 1] = hex[md[i] & 15];
	}
	p->digest[64] = '\0';
	return 0;
}

/*
 * Build the plan of sets: the rule table, every (rule, field) entry sorted
 * by field and header name (case-insensitive, as HTTP compares them), the
 * groups, the digest. Problems with the rules go to rep: -EINVAL. -ENOMEM,
 * -EIO (OpenSSL).
 */
static int plan_build(const struct ztg_sig_set *const *sets, uint32_t set_count, struct plan *p, struct report *rep)
{
	uint64_t total = 0;
	uint32_t errors = rep->errors, e = 0;
	bool ok = true;
	int rc;

	memset(p, 0, sizeof(*p));
	p->sets = sets;
	p->set_count = set_count;
	for (uint32_t s = 0; s < set_count; s++) {
		if (sets[s] == NULL || (sets[s]->rule_count > 0 && sets[s]->rules == NULL))
			return -EINVAL;
		total += sets[s]->rule_count;
	}
	/* Hyperscan ids are unsigned int and element counts too; this leaves room for both. */
	if (total > INT32_MAX / ZTG_SIG_FIELD_COUNT) {
		report_at(rep, set_file(sets[0]), sets[0]->loc.line, "the sets hold %llu rules, more than %u",
			  (unsigned long long)total, (unsigned)(INT32_MAX / ZTG_SIG_FIELD_COUNT));
		return -EINVAL;
	}
	p->rule_count = (uint32_t)total;
	p->rules = malloc((total ? total : 1) * sizeof(*p->rules));
	p->rule_set = malloc((total ? total : 1) * sizeof(*p->rule_set));
	if (p->rules == NULL || p->rule_set == NULL)
		goto nomem;
	for (uint32_t s = 0, r = 0; s < set_count; s++)
		for (uint32_t i = 0; i < sets[s]->rule_count; i++, r++) {
			p->rules[r] = &sets[s]->rules[i];
			p->rule_set[r] = s;
		}

	for (uint32_t r = 0; r < p->rule_count; r++)
		if (rule_usable(p, r, rep))
			p->entry_count += (uint32_t)__builtin_popcount(p->rules[r]->fields);
	check_duplicate_ids(p, rep, &ok);
	if (!ok)
		goto nomem;
	if (rep->errors != errors) {
		plan_free(p);
		return -EINVAL;
	}

	p->entries = malloc((p->entry_count ? p->entry_count : 1) * sizeof(*p->entries));
	if (p->entries == NULL)
		goto nomem;
	for (uint32_t r = 0; r < p->rule_count; r++)
		for (uint32_t f = 0; f < ZTG_SIG_FIELD_COUNT; f++)
			if (p->rules[r]->fields & ZTG_SIG_FIELD_BIT(f))
				p->entries[e++] = (struct entry){
					.rule = r,
					.field = f,
					.header = f == ZTG_SIG_FIELD_HEADER ? p->rules[r]->header : NULL,
				};
	qsort(p->entries, p->entry_count, sizeof(*p->entries), cmp_entry);

	p->groups = malloc((p->entry_count ? p->entry_count : 1) * sizeof(*p->groups));
	if (p->groups == NULL)
		goto nomem;
	for (uint32_t i = 0; i < p->entry_count;) {
		const struct entry *first = &p->entries[i];
		struct group *g = &p->groups[p->group_count++];
		uint32_t j = i;

		g->field = (enum ztg_sig_field)first->field;
		g->header = first->header;
		g->streaming = (ZTG_SIG_STREAM_FIELDS & ZTG_SIG_FIELD_BIT(first->field)) != 0;
		g->literals_only = true;
		g->first = i;
		while (j < p->entry_count && p->entries[j].field == first->field &&
		       (first->header == NULL || strcasecmp(p->entries[j].header, first->header) == 0)) {
			if (!p->rules[p->entries[j].rule]->literal)
				g->literals_only = false;
			j++;
		}
		g->count = j - i;
		i = j;
	}

	rc = plan_digest(p);
	if (rc < 0) {
		plan_free(p);
		return rc;
	}
	return 0;

nomem:
	plan_free(p);
	return -ENOMEM;
}

/* --------------------------------------------------------------- compile */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned pattern_flags(const struct ztg_sig_rule *rule)
{
	/* A validator rule's first match may be a candidate that fails its check: later ones must still come. */
	unsigned f = rule->validator == ZTG_SIG_VALIDATOR_NONE ? HS_FLAG_SINGLEMATCH : 0;

	if (rule->flags & ZTG_SIG_FLAG_CASELESS)
		f |= HS_FLAG_CASELESS;
	/* The other letters mean nothing for bytes taken as they are, and u would turn \xHH into a code point. */
	if (rule->literal)
		return f;
	if (rule->flags & ZTG_SIG_FLAG_DOTALL)
		f |= HS_FLAG_DOTALL;
	if (rule->flags & ZTG_SIG_FLAG_MULTILINE)
		f |= HS_FLAG_MULTILINE;
	if (rule->flags & ZTG_SIG_FLAG_UTF8)
		f |= HS_FLAG_UTF8;
	if (rule->flags & ZTG_SIG_FLAG_UCP)
		f |= HS_FLAG_UCP;
	return f;
}

static void group_where(const struct group *g, char *out, size_t cap)
{
	if (g->header != NULL)
		snprintf(out, cap, "field %s, header %s, %s mode", ztg_sig_field_name(g->field), g->header,
			 g->streaming ? "streaming" : "block");
	else
		snprintf(out, cap, "field %s, %s mode", ztg_sig_field_name(g->field),
			 g->streaming ? "streaming" : "block");
}

/* Hyperscan's complaint about a whole database: at the loc of every set with rules in it. */
static void report_group_error(const struct plan *p, const struct group *g, const char *message, struct report *rep)
{
	char where[320];
	bool *seen = calloc(p->set_count, sizeof(*seen));

	group_where(g, where, sizeof(where));
	for (uint32_t i = 0; i < g->count; i++) {
		uint32_t s = p->rule_set[p->entries[g->first + i].rule];
		const struct ztg_sig_set *set = p->sets[s];

		if (seen != NULL && seen[s])
			continue;
		if (seen != NULL)
			seen[s] = true;
		report_at(rep, set_file(set), set->loc.line,
			  "set \"%s\": Hyperscan cannot compile the %u patterns of %s: %s", set_name(set), g->count,
			  where, message);
		if (seen == NULL)
			break;
	}
	free(seen);
}

/* A pattern Hyperscan refuses, at its rule: what the rule says and what Hyperscan says. */
static void report_refused(const struct plan *p, uint32_t r, const char *message, const char *where,
			   struct report *rep)
{
	const struct ztg_sig_rule *rule = p->rules[r];
	char shown[4 * PATTERN_SHOWN + 8];

	quote_pattern(shown, sizeof(shown), rule->pattern, rule->pattern_len);
	report_at(rep, rule_file(p, r), rule->loc.line, "rules[%u] id %u: Hyperscan refuses %s \"%s\": %s (%s)",
		  rule_index_in_set(p, r), rule->id, rule->literal ? "literal" : "pattern", shown, message, where);
}

/*
 * Compile one group. A refused pattern is reported at its rule (once per
 * rule, however many of its fields fail); -EINVAL then, -ENOMEM.
 */
static int compile_group(const struct plan *p, const struct group *g, hs_database_t **db, double *seconds,
			 bool *reported, struct report *rep)
{
	static const char hex[] = "0123456789abcdef";
	const char **exprs = malloc(g->count * sizeof(*exprs));
	unsigned *flags = malloc(g->count * sizeof(*flags));
	unsigned *ids = malloc(g->count * sizeof(*ids));
	size_t *lens = malloc(g->count * sizeof(*lens));
	unsigned mode = g->streaming ? HS_MODE_STREAM : HS_MODE_BLOCK;
	hs_compile_error_t *cerr = NULL;
	char *escaped = NULL, *w;
	size_t escaped_len = 0;
	hs_error_t hr;
	double t0;
	int rc = 0;

	*db = NULL;
	if (exprs == NULL || flags == NULL || ids == NULL || lens == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (!g->literals_only) {
		for (uint32_t i = 0; i < g->count; i++) {
			const struct ztg_sig_rule *rule = p->rules[p->entries[g->first + i].rule];

			if (rule->literal)
				escaped_len += 4 * (size_t)rule->pattern_len + 1;
		}
		escaped = malloc(escaped_len ? escaped_len : 1);
		if (escaped == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	w = escaped;
	for (uint32_t i = 0; i < g->count; i++) {
		uint32_t r = p->entries[g->first + i].rule;
		const struct ztg_sig_rule *rule = p->rules[r];

		exprs[i] = rule->pattern;
		lens[i] = rule->pattern_len;
		flags[i] = pattern_flags(rule);
		ids[i] = r;
		if (rule->literal && !g->literals_only) {
			exprs[i] = w;
			for (uint32_t b = 0; b < rule->pattern_len; b++) {
				unsigned char c = (unsigned char)rule->pattern[b];

				*w++ = '\\';
				*w++ = 'x';
				*w++ = hex[c >> 4];
				*w++ = hex[c & 15];
			}
			*w++ = '\0';
		}
	}

	t0 = now_seconds();
	if (g->literals_only)
		hr = hs_compile_lit_multi(exprs, flags, ids, lens, g->count, mode, NULL, db, &cerr);
	else
		hr = hs_compile_ext_multi(exprs, flags, ids, NULL, g->count, mode, NULL, db, &cerr);
	*seconds += now_seconds() - t0;
	if (hr != HS_SUCCESS) {
		const char *message = cerr != NULL && cerr->message != NULL ? cerr->message : "unknown error";
		char where[320];

		group_where(g, where, sizeof(where));
		if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < g->count) {
			uint32_t r = ids[cerr->expression];

			if (!reported[r])
				report_refused(p, r, message, where, rep);
			reported[r] = true;
		} else {
			report_group_error(p, g, message, rep);
		}
		*db = NULL;
		rc = -EINVAL;
	}
	hs_free_compile_error(cerr);
out:
	free(exprs);
	free(flags);
	free(ids);
	free(lens);
	free(escaped);
	return rc;
}

void ztg_sig_compiled_free(struct ztg_sig_compiled *compiled)
{
	if (compiled == NULL)
		return;
	for (uint32_t i = 0; i < compiled->db_count; i++)
		hs_free_database(compiled->dbs[i].db);
	free(compiled->dbs);
	free(compiled->rules);
	free(compiled);
}

/* A compiled form holding the plan's tables (taken over) and dbs[group] (taken over). */
static struct ztg_sig_compiled *compiled_new(struct plan *p, hs_database_t **dbs)
{
	struct ztg_sig_compiled *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->dbs = calloc(p->group_count ? p->group_count : 1, sizeof(*c->dbs));
	if (c->dbs == NULL) {
		free(c);
		return NULL;
	}
	for (uint32_t i = 0; i < p->group_count; i++) {
		struct ztg_sig_db *d = &c->dbs[i];

		d->field = p->groups[i].field;
		d->header = p->groups[i].header;
		d->streaming = p->groups[i].streaming;
		d->db = dbs[i];
		d->pattern_count = p->groups[i].count;
		if (hs_database_size(d->db, &d->bytes) != HS_SUCCESS)
			d->bytes = 0;
		c->bytes += d->bytes;
		dbs[i] = NULL;
	}
	c->db_count = p->group_count;
	c->rules = p->rules;
	c->rule_count = p->rule_count;
	p->rules = NULL;
	memcpy(c->digest, p->digest, sizeof(c->digest));
	return c;
}

static void free_dbs(hs_database_t **dbs, uint32_t n)
{
	if (dbs == NULL)
		return;
	for (uint32_t i = 0; i < n; i++)
		hs_free_database(dbs[i]);
	free(dbs);
}

int ztg_sig_compile(const struct ztg_sig_set *const *sets, uint32_t set_count, struct ztg_sig_compiled **out,
		    struct ztg_policy_diag *diag)
{
	struct report rep = { .diag = diag };
	hs_database_t **dbs = NULL;
	bool *reported = NULL;
	double seconds = 0;
	struct plan p;
	int rc;

	*out = NULL;
	if (set_count > 0 && sets == NULL)
		return -EINVAL;
	rc = plan_build(sets, set_count, &p, &rep);
	if (rc < 0)
		return rc;
	dbs = calloc(p.group_count ? p.group_count : 1, sizeof(*dbs));
	reported = calloc(p.rule_count ? p.rule_count : 1, sizeof(*reported));
	if (dbs == NULL || reported == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Every database, even after a failure, so that one run reports a refused pattern in each. */
	for (uint32_t i = 0; i < p.group_count; i++) {
		int r = compile_group(&p, &p.groups[i], &dbs[i], &seconds, reported, &rep);

		if (r == -ENOMEM) {
			rc = r;
			goto out;
		}
		if (r < 0)
			rc = r;
	}
	if (rc < 0)
		goto out;
	*out = compiled_new(&p, dbs);
	if (*out == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	(*out)->compile_seconds = seconds;
out:
	free_dbs(dbs, p.group_count);
	free(reported);
	plan_free(&p);
	return rc;
}

const struct ztg_sig_db *ztg_sig_compiled_db(const struct ztg_sig_compiled *compiled, enum ztg_sig_field field,
					     const char *header, size_t header_len)
{
	if (compiled == NULL)
		return NULL;
	for (uint32_t i = 0; i < compiled->db_count; i++) {
		const struct ztg_sig_db *d = &compiled->dbs[i];

		if (d->field != field)
			continue;
		if (field != ZTG_SIG_FIELD_HEADER)
			return d;
		/* Equal lengths first: a NUL inside header then stops strncasecmp() at a difference. */
		if (header != NULL && strlen(d->header) == header_len &&
		    strncasecmp(d->header, header, header_len) == 0)
			return d;
	}
	return NULL;
}

int ztg_sig_scratch_alloc(const struct ztg_sig_compiled *compiled, hs_scratch_t **scratch)
{
	hs_scratch_t *s = NULL;

	*scratch = NULL;
	for (uint32_t i = 0; compiled != NULL && i < compiled->db_count; i++) {
		hs_error_t hr = hs_alloc_scratch(compiled->dbs[i].db, &s);

		if (hr != HS_SUCCESS) {
			hs_free_scratch(s);
			return hr == HS_NOMEM ? -ENOMEM : -EINVAL;
		}
	}
	*scratch = s;
	return 0;
}

/* --------------------------------------------------------------- records */

/* HTTP token characters (RFC 9110): what a header name is, and all safe in a bundle record name. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The record name of a database: prefix, field name, ":" and the header name lowercased. -EINVAL if none fits. */
static int record_name(enum ztg_sig_field field, const char *header, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s%s", ZTG_SIG_COMPILED_RECORD, ztg_sig_field_name(field), header ? ":" : "");
	size_t o;

	if (n < 0 || (size_t)n >= cap)
		return -EINVAL;
	o = (size_t)n;
	for (const char *h = header; h != NULL && *h != '\0'; h++) {
		unsigned char c = (unsigned char)*h;

		if (!is_tchar(c) || o + 1 >= cap)
			return -EINVAL;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[o] = '\0';
	return 0;
}

static int append_file(struct ztg_bundle_files *files, const char *name, uint8_t *data, size_t len)
{
	struct ztg_bundle_file *grown = realloc(files->files, (files->count + 1) * sizeof(*grown));

	if (grown == NULL)
		return -ENOMEM;
	files->files = grown;
	grown[files->count].name = strdup(name);
	if (grown[files->count].name == NULL)
		return -ENOMEM;
	grown[files->count].data = data;
	grown[files->count].len = len;
	files->count++;
	return 0;
}

int ztg_sig_compiled_records(const struct ztg_sig_compiled *compiled, struct ztg_bundle_files *files, char *err,
			     size_t err_len)
{
	uint32_t start = files->count;
	int rc = 0;

	for (uint32_t i = 0; compiled != NULL && i < compiled->db_count; i++) {
		const struct ztg_sig_db *d = &compiled->dbs[i];
		char name[RECORD_NAME_MAX + 1], head[512], hash[ZTG_BUNDLE_HASH_HEX_LEN + 1];
		char *bytes = NULL;
		uint8_t *data;
		size_t len = 0;
		hs_error_t hr;
		int n;

		if (record_name(d->field, d->header, name, sizeof(name)) < 0) {
			ztg_error_set(err, err_len, "field header: header name \"%s\" cannot name a bundle record",
				d->header ? d->header : "");
			rc = -EINVAL;
			break;
		}
		hr = hs_serialize_database(d->db, &bytes, &len);
		if (hr != HS_SUCCESS) {
			ztg_error_set(err, err_len, "%s: Hyperscan cannot serialize the database (error %d)", name, hr);
			rc = hr == HS_NOMEM ? -ENOMEM : -EIO;
			break;
		}
		if (ztg_bundle_sha256_hex(bytes, len, hash) != 0) {
			free(bytes);
			ztg_error_set(err, err_len, "%s: SHA-256 failed", name);
			rc = -EIO;
			break;
		}
		n = snprintf(head, sizeof(head), "%sdigest %s\nmode %s\npatterns %u\nsha256 %s\nbytes %zu\n\n",
			     RECORD_MAGIC, compiled->digest, d->streaming ? "stream" : "block", d->pattern_count, hash,
			     len);
		/* Said here, by name, rather than by the bundle writer as a file too large. */
		if ((size_t)n + len > ZTG_BUNDLE_MAX_FILE_BYTES) {
			free(bytes);
			ztg_error_set(err, err_len, "%s: %zu bytes, more than a bundle file may hold (%u)", name,
				(size_t)n + len, ZTG_BUNDLE_MAX_FILE_BYTES);
			rc = -EINVAL;
			break;
		}
		data = malloc((size_t)n + len);
		if (data == NULL) {
			free(bytes);
			ztg_error_set(err, err_len, "out of memory");
			rc = -ENOMEM;
			break;
		}
		memcpy(data, head, (size_t)n);
		memcpy(data + n, bytes, len);
		free(bytes);   /* hs_serialize_database() allocates with Hyperscan's misc allocator: malloc here */
		if (append_file(files, name, data, (size_t)n + len) < 0) {
			free(data);
			ztg_error_set(err, err_len, "out of memory");
			rc = -ENOMEM;
			break;
		}
	}
	if (rc < 0) {
		/* Leave files as they were: no half set of records. */
		for (uint32_t i = start; i < files->count; i++) {
			free(files->files[i].name);
			free(files->files[i].data);
		}
		files->count = start;
	}
	return rc;
}

/* A record's header, parsed. */
struct record_head {
	char digest[65];
	bool streaming;
	uint32_t patterns;
	char sha256[65];
	const uint8_t *db;
	size_t db_len;
};

/* Expect the literal text at *pos. */
static bool take(const uint8_t *data, size_t len, size_t *pos, const char *text)
{
	size_t n = strlen(text);

	if (len - *pos < n || memcmp(data + *pos, text, n) != 0)
		return false;
	*pos += n;
	return true;
}

/* 64 lowercase hex digits and '\n'. */
static bool take_hex64(const uint8_t *data, size_t len, size_t *pos, char out[65])
{
	if (len - *pos < 65 || data[*pos + 64] != '\n')
		return false;
	for (size_t i = 0; i < 64; i++) {
		uint8_t c = data[*pos + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = (char)c;
	}
	out[64] = '\0';
	*pos += 65;
	return true;
}

/* A decimal number with no sign and no leading zero, then '\n'. */
static bool take_decimal(const uint8_t *data, size_t len, size_t *pos, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = *pos;

	if (i >= len || data[i] < '0' || data[i] > '9' || (data[i] == '0' && i + 1 < len && data[i + 1] != '\n'))
		return false;
	for (; i < len && data[i] >= '0' && data[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(data[i] - '0');
		if (v > max)
			return false;
	}
	if (i >= len || data[i] != '\n')
		return false;
	*out = v;
	*pos = i + 1;
	return true;
}

static const char *parse_record_head(const uint8_t *data, size_t len, struct record_head *h)
{
	size_t pos = 0;
	uint64_t v;

	if (!take(data, len, &pos, RECORD_MAGIC))
		return "does not start with \"ztg-sigdb 1\"";
	if (!take(data, len, &pos, "digest ") || !take_hex64(data, len, &pos, h->digest))
		return "bad digest line";
	if (take(data, len, &pos, "mode block\n"))
		h->streaming = false;
	else if (take(data, len, &pos, "mode stream\n"))
		h->streaming = true;
	else
		return "bad mode line";
	if (!take(data, len, &pos, "patterns ") || !take_decimal(data, len, &pos, UINT32_MAX, &v))
		return "bad patterns line";
	h->patterns = (uint32_t)v;
	if (!take(data, len, &pos, "sha256 ") || !take_hex64(data, len, &pos, h->sha256))
		return "bad sha256 line";
	if (!take(data, len, &pos, "bytes ") || !take_decimal(data, len, &pos, SIZE_MAX, &v))
		return "bad bytes line";
	if (!take(data, len, &pos, "\n"))
		return "no empty line after the header";
	if (len - pos != v)
		return "holds another number of database bytes than its header says";
	h->db = data + pos;
	h->db_len = (size_t)v;
	return NULL;
}

/* Which group a record's name (after the prefix) stands for: its index, or -1. */
static int32_t group_of_name(const struct plan *p, const char *suffix)
{
	const char *colon = strchr(suffix, ':');
	size_t flen = colon ? (size_t)(colon - suffix) : strlen(suffix);
	int field = -1;

	for (int f = 0; f < ZTG_SIG_FIELD_COUNT; f++) {
		const char *name = ztg_sig_field_name((enum ztg_sig_field)f);

		if (strlen(name) == flen && memcmp(name, suffix, flen) == 0)
			field = f;
	}
	if (field < 0 || (field == ZTG_SIG_FIELD_HEADER) != (colon != NULL))
		return -1;
	for (uint32_t i = 0; i < p->group_count; i++) {
		const struct group *g = &p->groups[i];

		if ((int)g->field == field && (colon == NULL || strcasecmp(g->header, colon + 1) == 0))
			return (int32_t)i;
	}
	return -1;
}

static const char *hs_db_error_text(hs_error_t hr)
{
	switch (hr) {
	case HS_DB_VERSION_ERROR:
		return "it was built by another Hyperscan version";
	case HS_DB_PLATFORM_ERROR:
		return "it was built for a platform this CPU is not (instruction set)";
	case HS_NOMEM:
		return "out of memory";
	default:
		return "Hyperscan does not take it as a database";
	}
}

/*
 * Check one record against group g and deserialize it into *db. 0; 1 when
 * the bytes are sound but for another platform or Hyperscan version (err
 * says which); -EINVAL with err; -ENOMEM.
 */
static int take_record(const struct plan *p, const struct group *g, const struct ztg_bundle_file *f,
		       hs_database_t **db, char *err, size_t err_len)
{
	char hash[ZTG_BUNDLE_HASH_HEX_LEN + 1], *info = NULL;
	struct record_head h;
	const char *why = parse_record_head(f->data, f->len, &h);
	size_t stream_size;
	hs_error_t hr;

	if (why != NULL) {
		ztg_error_set(err, err_len, "%s: %s", f->name, why);
		return -EINVAL;
	}
	if (strcmp(h.digest, p->digest) != 0) {
		ztg_error_set(err, err_len,
			"%s: compiled from other rules (digest %.16s..., the rules give %.16s...): "
			"the bundle's rules and its compiled signatures disagree", f->name, h.digest, p->digest);
		return -EINVAL;
	}
	if (h.streaming != g->streaming) {
		ztg_error_set(err, err_len, "%s: mode %s, the field is matched in %s mode", f->name,
			h.streaming ? "stream" : "block", g->streaming ? "stream" : "block");
		return -EINVAL;
	}
	if (h.patterns != g->count) {
		ztg_error_set(err, err_len, "%s: %u patterns, the rules give %u", f->name, h.patterns, g->count);
		return -EINVAL;
	}
	if (ztg_bundle_sha256_hex(h.db, h.db_len, hash) != 0) {
		ztg_error_set(err, err_len, "%s: SHA-256 failed", f->name);
		return -EINVAL;
	}
	if (strcmp(hash, h.sha256) != 0) {
		ztg_error_set(err, err_len, "%s: the database bytes do not match their sha256", f->name);
		return -EINVAL;
	}
	hr = hs_serialized_database_info((const char *)h.db, h.db_len, &info);
	if (hr != HS_SUCCESS) {
		ztg_error_set(err, err_len, "%s: not a serialized Hyperscan database", f->name);
		return hr == HS_NOMEM ? -ENOMEM : -EINVAL;
	}
	hr = hs_deserialize_database((const char *)h.db, h.db_len, db);
	if (hr != HS_SUCCESS) {
		ztg_error_set(err, err_len, "%s: unusable: %s (record: %s; here: Hyperscan %s)", f->name,
			hs_db_error_text(hr), info, hs_version());
		free(info);
		*db = NULL;
		/* Sound bytes for another CPU or Hyperscan: a bundle built elsewhere still applies, compiled here. */
		if (hr == HS_DB_PLATFORM_ERROR || hr == HS_DB_VERSION_ERROR)
			return 1;
		return hr == HS_NOMEM ? -ENOMEM : -EINVAL;
	}
	free(info);
	/* hs_stream_size() answers only for a streaming database: the bytes' own mode, not the header's word. */
	if ((hs_stream_size(*db, &stream_size) == HS_SUCCESS) != g->streaming) {
		ztg_error_set(err, err_len, "%s: the database is not a %s mode one", f->name,
			g->streaming ? "stream" : "block");
		hs_free_database(*db);
		*db = NULL;
		return -EINVAL;
	}
	return 0;
}

int ztg_sig_compiled_from_records(const struct ztg_sig_set *const *sets, uint32_t set_count,
				  const struct ztg_bundle_files *files, struct ztg_sig_compiled **out, char *err,
				  size_t err_len)
{
	const size_t prefix_len = strlen(ZTG_SIG_COMPILED_RECORD);
	struct report rep = { .err = err, .err_len = err_len };
	hs_database_t **dbs = NULL;
	bool any = false;
	struct plan p;
	int rc;

	*out = NULL;
	for (uint32_t i = 0; files != NULL && i < files->count; i++)
		if (strncmp(files->files[i].name, ZTG_SIG_COMPILED_RECORD, prefix_len) == 0)
			any = true;
	if (!any)
		return 1;
	if (set_count > 0 && sets == NULL)
		return -EINVAL;
	rc = plan_build(sets, set_count, &p, &rep);
	if (rc < 0) {
		if (rc == -ENOMEM)
			ztg_error_set(err, err_len, "out of memory");
		else if (rc == -EIO)
			ztg_error_set(err, err_len, "SHA-256 failed");
		else if (rep.errors == 0)
			ztg_error_set(err, err_len, "bad signature sets");
		return rc == -EIO ? -EINVAL : rc;
	}
	dbs = calloc(p.group_count ? p.group_count : 1, sizeof(*dbs));
	if (dbs == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < files->count; i++) {
		const struct ztg_bundle_file *f = &files->files[i];
		int32_t g;

		if (strncmp(f->name, ZTG_SIG_COMPILED_RECORD, prefix_len) != 0)
			continue;
		g = group_of_name(&p, f->name + prefix_len);
		if (g < 0) {
			ztg_error_set(err, err_len, "%s: no rule of the signature sets uses this database", f->name);
			rc = -EINVAL;
			goto out;
		}
		if (dbs[g] != NULL) {
			ztg_error_set(err, err_len, "%s: a second record for the same database", f->name);
			rc = -EINVAL;
			goto out;
		}
		rc = take_record(&p, &p.groups[g], f, &dbs[g], err, err_len);
		if (rc != 0)
			goto out;
	}
	for (uint32_t i = 0; i < p.group_count; i++)
		if (dbs[i] == NULL) {
			char name[RECORD_NAME_MAX + 1];

			if (record_name(p.groups[i].field, p.groups[i].header, name, sizeof(name)) < 0)
				snprintf(name, sizeof(name), "%s%s:%s", ZTG_SIG_COMPILED_RECORD,
					 ztg_sig_field_name(p.groups[i].field), "?");
			ztg_error_set(err, err_len, "%s: missing: the rules need this database", name);
			rc = -EINVAL;
			goto out;
		}
	*out = compiled_new(&p, dbs);
	if (*out == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		rc = -ENOMEM;
	}
out:
	free_dbs(dbs, p.group_count);
	plan_free(&p);
	return rc;
}
