/*
 * Signature compile benchmark: how long does Hyperscan take to compile a
 * policy's signatures, and how large are the databases, at 1,000 and 10,000
 * rules? And the rule files scripts/bench.sh runs ztgate with (--write).
 *
 * Generates one rule set per size from shapes real rule sets have (CRS-like
 * SQL injection and XSS regexes, traversal and command-injection patterns,
 * lookup and file-name literals), about 40% literals and 60% regexes, 70%
 * caseless, over a few fields each: query, argument values and the request
 * body together (one rule, three databases, the body in streaming mode), the
 * path, headers, three named headers, cookies, the response body. Words are
 * drawn from a seeded generator so every pattern is distinct, as in a real
 * set; the same seed gives every size the same first rules. With --shipped,
 * a set starts with the rules of those files (the shipped ruleset, loaded by
 * ztg_sig_set_load; with --request-side only its rules on request fields)
 * and generated rules fill it up to its size.
 *
 * By default, ztg_sig_compile() each size (--rounds times, the median kept)
 * and print one JSON line per size on stdout:
 *   {"rules":1000,"compile_seconds":...,"bytes":...,...}
 * compile_seconds is the wall time of Hyperscan's compile calls alone
 * (struct ztg_sig_compiled); wall_seconds adds planning and the digest. A
 * measurement tool, not a test: it asserts nothing but that the set compiles.
 *
 * With --write FILE, the one size asked for is written as a rule file
 * (signatures.h's language) named --name, read back through the loader and
 * compared rule by rule, and one JSON line says what it holds:
 *   {"name":...,"rules":1000,"shipped":122,"generated":878,"shipped_sets":{"cmdi":11,...},...}
 * Generated rules have ids from GENERATED_ID_BASE up, outside the shipped
 * files' ranges, and score 5.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs.h>

#include "policy_load.h"
#include "sig_compile.h"
#include "signatures.h"

#include "bench_sig.h"
#include "bench_util.h"

#define MAX_SIZES        8u
#define MAX_ROUNDS       100u
#define MAX_RULES        ZTG_SIG_MAX_RULES
#define MAX_SHIPPED      ZTG_POLICY_MAX_SIGNATURE_SETS
#define PATTERN_CAP      192u
#define GENERATED_ID_BASE 1000000u  /* the shipped files use 100000-299999 */
_Static_assert(MAX_ROUNDS <= BENCH_MAX_ROUNDS, "median() takes at most BENCH_MAX_ROUNDS rounds");

#define F(x) ZTG_SIG_FIELD_BIT(ZTG_SIG_FIELD_##x)

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	return xorshift_below(&rng, n);
}

/* Where a rule looks, by weight: injection rules cover several fields, others one. */
static const struct {
	uint32_t fields;
	const char *header;
	uint32_t weight;
} targets[] = {
	{ F(QUERY) | F(ARG_VALUES) | F(REQUEST_BODY), NULL, 30 },
	{ F(ARG_VALUES) | F(REQUEST_BODY), NULL, 15 },
	{ F(PATH), NULL, 12 },
	{ F(QUERY_RAW), NULL, 4 },
	{ F(HEADERS), NULL, 8 },
	{ F(HEADER), "user-agent", 8 },
	{ F(HEADER), "referer", 3 },
	{ F(HEADER), "content-type", 3 },
	{ F(COOKIES) | F(ARG_VALUES), NULL, 5 },
	{ F(ARG_NAMES), NULL, 3 },
	{ F(REQUEST_BODY), NULL, 4 },
	{ F(RESPONSE_BODY), NULL, 3 },
	{ F(RESPONSE_HEADERS), NULL, 2 },
};
#define TARGETS (sizeof(targets) / sizeof(targets[0]))

static const char *const syllables[] = {
	"sel", "ect", "uni", "on", "exe", "cut", "eval", "load", "file", "from", "drop", "tab", "user", "pass",
	"wd", "adm", "in", "conf", "ig", "shell", "cmd", "sys", "tem", "scr", "ipt", "doc", "ument", "coo", "kie",
	"alert", "prom", "pt", "win", "dow", "loc", "ation", "sleep", "bench", "mark", "wait", "for", "del", "ay",
};
#define SYLLABLES (sizeof(syllables) / sizeof(syllables[0]))

/* A word of 2 to 3 syllables and, for distinctness, a short tail now and then. */
static void word(char *out, size_t cap)
{
	size_t o = 0;
	uint32_t n = 2 + rnd(2);

	for (uint32_t i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s", syllables[rnd(SYLLABLES)]);
	if (rnd(3) == 0)
		snprintf(out + o, cap - o, "%c%c", 'a' + rnd(26), 'a' + rnd(26));
}

/* A regex of one of the shapes rule sets are made of. */
static void regex_pattern(char *p, size_t cap)
{
	char a[32], b[32], c[32];

	word(a, sizeof(a));
	word(b, sizeof(b));
	word(c, sizeof(c));
	switch (rnd(10)) {
	case 0:
		snprintf(p, cap, "\\b%s\\b[^a-z]{1,40}\\b%s\\b", a, b);
		break;
	case 1:
		snprintf(p, cap, "(?:%s|%s|%s)\\s*\\(", a, b, c);
		break;
	case 2:
		snprintf(p, cap, "<%s[^>]*\\bon%s\\s*=", a, b);
		break;
	case 3:
		snprintf(p, cap, "(?:\\.\\./|%%2e%%2e%%2f)+%s", a);
		break;
	case 4:
		snprintf(p, cap, "%s=[^&]{0,64}(?:'|%%27)\\s*(?:or|and)\\s+\\d+\\s*=\\s*\\d+", a);
		break;
	case 5:
		snprintf(p, cap, "^/%s/[0-9]+/%s(?:/|$)", a, b);
		break;
	case 6:
		snprintf(p, cap, "%s[a-z0-9_]{8,32}%s", a, b);
		break;
	case 7:
		snprintf(p, cap, "\\$\\{(?:%s|%s):", a, b);
		break;
	case 8:
		snprintf(p, cap, "(?:;|\\||`)\\s*%s\\b", a);
		break;
	default:
		snprintf(p, cap, "%s(?:\\s+|/\\*[^*]{0,32}\\*/)%s", a, b);
		break;
	}
}

static void literal_pattern(char *p, size_t cap)
{
	char a[32], b[32];

	word(a, sizeof(a));
	word(b, sizeof(b));
	switch (rnd(6)) {
	case 0:
		snprintf(p, cap, "${%s:", a);
		break;
	case 1:
		snprintf(p, cap, "/%s/%s.php", a, b);
		break;
	case 2:
		snprintf(p, cap, "<%s", a);
		break;
	case 3:
		snprintf(p, cap, "%s(", a);
		break;
	case 4:
		snprintf(p, cap, "../%s/%s", a, b);
		break;
	default:
		snprintf(p, cap, "%s.%s", a, b);
		break;
	}
}

struct bench_set {
	struct ztg_sig_set set;
	char *patterns;                /* PATTERN_CAP bytes per generated rule */
	uint32_t literals;
	uint32_t shipped;              /* rules taken from the shipped sets, first in the set */
	uint32_t taken[MAX_SHIPPED];   /* of them, from each shipped set */
};

/* The shipped sets whose rules open every set, in order; request_side: only rules on no response field. */
struct shipped {
	struct ztg_sig_set *sets[MAX_SHIPPED];
	uint32_t count;
	bool request_side;
};

#define RESPONSE_FIELDS (F(RESPONSE_STATUS) | F(RESPONSE_HEADERS) | F(RESPONSE_BODY))

/* A generated rule at index i of the generated ones: a field target, a pattern, flags. */
static void generate_rule(struct ztg_sig_rule *r, char *p, uint32_t i, uint32_t total_weight)
{
	uint32_t pick = rnd(total_weight), t = 0;

	while (pick >= targets[t].weight)
		pick -= targets[t++].weight;
	r->id = GENERATED_ID_BASE + i;
	r->severity = ZTG_SIG_SEVERITY_HIGH;
	r->action = ZTG_SIG_ACTION_SCORE;
	r->score = 5;
	r->fields = targets[t].fields;
	r->header = targets[t].header;
	r->literal = rnd(10) < 4;
	if (r->literal)
		literal_pattern(p, PATTERN_CAP);
	else
		regex_pattern(p, PATTERN_CAP);
	r->message = r->literal ? "Generated benchmark rule: literal" : "Generated benchmark rule: regex";
	r->pattern = p;
	r->pattern_len = (uint32_t)strlen(p);
	r->flags = rnd(10) < 7 ? ZTG_SIG_FLAG_CASELESS : 0;
	r->loc = (struct ztg_policy_loc){ .file = "bench.conf", .line = 2 + i };
}

/* A set of count rules: the shipped ones first (as many as fit), then generated ones. */
static int generate(struct bench_set *b, uint32_t count, const struct shipped *from)
{
	uint32_t total_weight = 0, n = 0;

	memset(b, 0, sizeof(*b));
	b->set.rules = calloc(count, sizeof(*b->set.rules));
	b->patterns = malloc((size_t)count * PATTERN_CAP);
	if (b->set.rules == NULL || b->patterns == NULL)
		return -ENOMEM;
	b->set.name = "bench";
	b->set.path = "bench.conf";
	b->set.rule_count = count;
	b->set.loc = (struct ztg_policy_loc){ .file = "bench.conf", .line = 1 };
	for (uint32_t s = 0; s < from->count; s++) {
		for (uint32_t i = 0; i < from->sets[s]->rule_count && n < count; i++) {
			if (from->request_side && (from->sets[s]->rules[i].fields & RESPONSE_FIELDS))
				continue;
			b->set.rules[n++] = from->sets[s]->rules[i];
			b->taken[s]++;
		}
	}
	b->shipped = n;
	for (uint32_t t = 0; t < TARGETS; t++)
		total_weight += targets[t].weight;
	for (uint32_t i = 0; n < count; i++, n++)
		generate_rule(&b->set.rules[n], b->patterns + (size_t)i * PATTERN_CAP, i, total_weight);
	for (uint32_t i = 0; i < count; i++)
		b->literals += b->set.rules[i].literal;
	return 0;
}

/* Compile b rounds times; print its JSON line. 0, or -1 when it does not compile. */
static int measure(const struct bench_set *b, uint32_t rounds)
{
	const struct ztg_sig_set *sets[1] = { &b->set };
	double compile[MAX_ROUNDS], wall[MAX_ROUNDS];
	struct ztg_sig_compiled *c = NULL;
	uint64_t patterns = 0;
	size_t scratch_bytes = 0;
	hs_scratch_t *scratch = NULL;

	for (uint32_t r = 0; r < rounds; r++) {
		double t0 = clock_ns(CLOCK_MONOTONIC);

		ztg_sig_compiled_free(c);
		c = NULL;
		if (bench_sig_compile("sig_compile_bench", sets, 1, &c) != 0)
			return -1;
		wall[r] = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
		compile[r] = c->compile_seconds;
	}
	for (uint32_t i = 0; i < c->db_count; i++)
		patterns += c->dbs[i].pattern_count;
	if (ztg_sig_scratch_alloc(c, &scratch) == 0 && scratch != NULL)
		hs_scratch_size(scratch, &scratch_bytes);
	hs_free_scratch(scratch);
	printf("{\"rules\":%u,\"compile_seconds\":%.3f,\"bytes\":%zu,\"wall_seconds\":%.3f,\"databases\":%u,"
	       "\"patterns\":%llu,\"literals\":%u,\"regexes\":%u,\"shipped\":%u,\"scratch_bytes\":%zu,\"rounds\":%u,"
	       "\"hyperscan\":\"%s\"}\n",
	       b->set.rule_count, median(compile, rounds), c->bytes, median(wall, rounds), c->db_count,
	       (unsigned long long)patterns, b->literals, b->set.rule_count - b->literals, b->shipped, scratch_bytes,
	       rounds, hs_version());
	fflush(stdout);
	ztg_sig_compiled_free(c);
	return 0;
}

/* s[0..len) as a libconfig string: quotes and backslashes escaped, other bytes outside printable ASCII as \xNN. */
static void put_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char flag_letters[] = "ismup";   /* ZTG_SIG_FLAG_* bit by bit */

/* One rule in the rule language, every key the loader knows that it sets. */
static void put_rule(FILE *f, const struct ztg_sig_rule *r)
{
	bool first = true;

	fprintf(f, "  { id = %u;\n    message = ", r->id);
	put_string(f, r->message, strlen(r->message));
	fprintf(f, ";\n    severity = \"%s\";\n    action = \"%s\";", ztg_sig_severity_name(r->severity),
		ztg_sig_action_name(r->action));
	if (r->action == ZTG_SIG_ACTION_SCORE)
		fprintf(f, " score = %u;", r->score);
	fprintf(f, "\n    fields = [");
	for (int fl = 0; fl < ZTG_SIG_FIELD_COUNT; fl++) {
		if (r->fields & ZTG_SIG_FIELD_BIT(fl)) {
			fprintf(f, "%s \"%s\"", first ? "" : ",", ztg_sig_field_name((enum ztg_sig_field)fl));
			first = false;
		}
	}
	fprintf(f, " ];\n");
	if (r->header != NULL)
		fprintf(f, "    header = \"%s\";\n", r->header);
	fprintf(f, "    %s = ", r->literal ? "literal" : "pattern");
	put_string(f, r->pattern, r->pattern_len);
	fprintf(f, ";\n");
	if (r->flags != 0) {
		fprintf(f, "    flags = \"");
		for (uint32_t bit = 0; bit < sizeof(flag_letters) - 1; bit++) {
			if (r->flags & (1u << bit))
				fputc(flag_letters[bit], f);
		}
		fprintf(f, "\";\n");
	}
	if (r->validator != ZTG_SIG_VALIDATOR_NONE)
		fprintf(f, "    validator = \"%s\";\n", ztg_sig_validator_name(r->validator));
	for (uint32_t t = 0; t < r->tag_count; t++)
		fprintf(f, "%s\"%s\"%s", t ? ", " : "    tags = [ ", r->tags[t], t + 1 == r->tag_count ? " ];\n" : "");
	if (r->monitor)
		fprintf(f, "    mode = \"monitor\";\n");
	fprintf(f, "  }");
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Does the rule read back from the file say what was written? */
static bool same_rule(const struct ztg_sig_rule *a, const struct ztg_sig_rule *b)
{
	if (a->id != b->id || !same_string(a->message, b->message) || a->severity != b->severity ||
	    a->action != b->action || a->score != b->score || a->fields != b->fields ||
	    !same_string(a->header, b->header) || a->pattern_len != b->pattern_len ||
	    memcmp(a->pattern, b->pattern, a->pattern_len) != 0 || a->literal != b->literal || a->flags != b->flags ||
	    a->validator != b->validator || a->monitor != b->monitor || a->tag_count != b->tag_count)
		return false;
	for (uint32_t t = 0; t < a->tag_count; t++) {
		if (strcmp(a->tags[t], b->tags[t]) != 0)
			return false;
	}
	return true;
}

/*
 * Write b as the rule file path, its set named name; read it back through
 * the loader and compare; print the JSON line. 0, or -1 after telling stderr.
 */
static int write_set(const struct bench_set *b, const char *path, const char *name, const struct shipped *from)
{
	struct ztg_sig_set *back;
	FILE *f = fopen(path, "w");
	bool failed;
	int rc = 0;

	if (f == NULL) {
		fprintf(stderr, "sig_compile_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# Written by tests/bench/sig_compile_bench --write: %u rules, %u from the shipped ruleset,\n"
		"# %u generated (ids from %u). A benchmark's rule set, not a ruleset to deploy.\n"
		"name = \"%s\";\nrules = (\n", b->set.rule_count, b->shipped, b->set.rule_count - b->shipped,
		GENERATED_ID_BASE, name);
	for (uint32_t i = 0; i < b->set.rule_count; i++) {
		put_rule(f, &b->set.rules[i]);
		fprintf(f, "%s\n", i + 1 < b->set.rule_count ? "," : "");
	}
	fprintf(f, ");\n");
	failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		fprintf(stderr, "sig_compile_bench: cannot write %s\n", path);
		return -1;
	}
	back = bench_sig_load("sig_compile_bench", path);
	if (back == NULL)
		return -1;
	if (back->rule_count != b->set.rule_count || strcmp(back->name, name) != 0) {
		fprintf(stderr, "sig_compile_bench: %s reads back as %u rules named %s\n", path, back->rule_count,
			back->name);
		rc = -1;
	}
	for (uint32_t i = 0; i < b->set.rule_count && rc == 0; i++) {
		if (!same_rule(&b->set.rules[i], &back->rules[i])) {
			fprintf(stderr, "sig_compile_bench: %s:%u: rule %u reads back differently\n", path,
				back->rules[i].loc.line, b->set.rules[i].id);
			rc = -1;
		}
	}
	ztg_sig_set_free(back);
	if (rc != 0)
		return rc;
	printf("{\"name\":\"%s\",\"rules\":%u,\"shipped\":%u,\"generated\":%u,\"literals\":%u,"
	       "\"regexes\":%u,\"shipped_sets\":{", name, b->set.rule_count, b->shipped,
	       b->set.rule_count - b->shipped, b->literals, b->set.rule_count - b->literals);
	for (uint32_t s = 0, listed = 0; s < from->count; s++) {
		if (b->taken[s])
			printf("%s\"%s\":%u", listed++ ? "," : "", from->sets[s]->name, b->taken[s]);
	}
	printf("}}\n");
	return 0;
}

static void usage(FILE *fp, const char *prog)
{
	fprintf(fp,
		"Usage: %s [--rules N]... [--rounds N] [--seed N] [--shipped FILE]... [--request-side]\n"
		"       %s --write FILE --name NAME --rules N [--seed N] [--shipped FILE]... [--request-side]\n"
		"\n"
		"Compile generated signature sets with Hyperscan and print one JSON line per\n"
		"size: rules, compile_seconds (Hyperscan's compile calls), bytes (databases).\n"
		"Or write one such set as a rule file.\n"
		"\n"
		"  --rules N      a set of N rules (1..%u; repeatable, at most %u; default 1000 and 10000)\n"
		"  --rounds N     compilations per size, the median reported (default 1, 1..%u)\n"
		"  --seed N       generator seed (default 1)\n"
		"  --shipped FILE a rule file whose rules open every set, before the generated ones\n"
		"                 (repeatable, at most %u, in order; loaded by the rule loader)\n"
		"  --request-side of the shipped rules, only those on no response field\n"
		"  --write FILE   write the set (one --rules) as a rule file instead, read it back, check it\n"
		"  --name NAME    the written set's name (default \"bench\")\n"
		"  -h, --help     this text\n",
		prog, prog, MAX_RULES, MAX_SIZES, MAX_ROUNDS, MAX_SHIPPED);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "rules", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "shipped", required_argument, NULL, 'f' },
		{ "write", required_argument, NULL, 'w' },
		{ "name", required_argument, NULL, 'N' },
		{ "request-side", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t sizes[MAX_SIZES] = { 1000, 10000 }, size_count = 0, rounds = 1, seed = 1;
	const char *write_path = NULL, *name = "bench";
	struct shipped from = { .count = 0 };
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (size_count == MAX_SIZES) {
				fprintf(stderr, "sig_compile_bench: at most %u --rules\n", MAX_SIZES);
				rc = 2;
			} else if (parse_u32("sig_compile_bench", "--rules", optarg, 1, MAX_RULES,
					     &sizes[size_count++]) < 0) {
				rc = 2;
			}
			break;
		case 'r':
			if (parse_u32("sig_compile_bench", "--rounds", optarg, 1, MAX_ROUNDS, &rounds) < 0)
				rc = 2;
			break;
		case 's':
			if (parse_u32("sig_compile_bench", "--seed", optarg, 0, UINT32_MAX, &seed) < 0)
				rc = 2;
			break;
		case 'f':
			if (from.count == MAX_SHIPPED) {
				fprintf(stderr, "sig_compile_bench: at most %u --shipped\n", MAX_SHIPPED);
				rc = 2;
			} else if ((from.sets[from.count] = bench_sig_load("sig_compile_bench", optarg)) == NULL) {
				rc = 1;
			} else {
				from.count++;
			}
			break;
		case 'w':
			write_path = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'q':
			from.request_side = true;
			break;
		case 'h':
			usage(stdout, argv[0]);
			goto out;
		default:
			usage(stderr, argv[0]);
			rc = 2;
			goto out;
		}
		if (rc != 0)
			goto out;
	}
	if (optind != argc || (write_path != NULL && size_count != 1)) {
		usage(stderr, argv[0]);
		rc = 2;
		goto out;
	}
	if (size_count == 0)
		size_count = 2;
	for (uint32_t i = 0; i < size_count && rc == 0; i++) {
		struct bench_set b;

		/* The same seed per size: a larger set starts with the smaller one's rules. */
		rng = 0x853c49e6748fea9bull ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
		if (rng == 0)
			rng = 1;
		if (generate(&b, sizes[i], &from) < 0) {
			fprintf(stderr, "sig_compile_bench: out of memory\n");
			rc = 1;
		} else if (write_path != NULL ? write_set(&b, write_path, name, &from) < 0 : measure(&b, rounds) < 0) {
			rc = 1;
		}
		free(b.set.rules);
		free(b.patterns);
	}
out:
	for (uint32_t i = 0; i < from.count; i++)
		ztg_sig_set_free(from.sets[i]);
	return rc;
}
