/*
 * Signature compile benchmark: how long does Hyperscan take to compile a
 * policy's signatures, and how large are the databases, at 1,000 and 10,000
 * rules?
 *
 * Generates one rule set per size from shapes real rule sets have (CRS-like
 * SQL injection and XSS regexes, traversal and command-injection patterns,
 * lookup and file-name literals), about 40% literals and 60% regexes, 70%
 * caseless, over a few fields each: query, argument values and the request
 * body together (one rule, three databases, the body in streaming mode), the
 * path, headers, three named headers, cookies, the response body. Words are
 * drawn from a seeded generator so every pattern is distinct, as in a real
 * set. Then ztg_sig_compile() each size (--rounds times, the median kept) and
 * prints one JSON line per size on stdout:
 *   {"rules":1000,"compile_seconds":...,"bytes":...,...}
 * compile_seconds is the wall time of Hyperscan's compile calls alone
 * (struct ztg_sig_compiled); wall_seconds adds planning and the digest. A
 * measurement tool, not a test: it asserts nothing but that the set compiles.
 */
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

#include "bench_util.h"

#define MAX_SIZES        8u
#define MAX_ROUNDS       100u
#define MAX_RULES        ZTG_SIG_MAX_RULES
#define PATTERN_CAP      192u
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
	char *patterns;                /* PATTERN_CAP bytes per rule */
	uint32_t literals;
};

static int generate(struct bench_set *b, uint32_t count)
{
	uint32_t total_weight = 0;

	memset(b, 0, sizeof(*b));
	b->set.rules = calloc(count, sizeof(*b->set.rules));
	b->patterns = malloc((size_t)count * PATTERN_CAP);
	if (b->set.rules == NULL || b->patterns == NULL)
		return -ENOMEM;
	b->set.name = "bench";
	b->set.path = "bench.conf";
	b->set.rule_count = count;
	b->set.loc = (struct ztg_policy_loc){ .file = "bench.conf", .line = 1 };
	for (uint32_t t = 0; t < TARGETS; t++)
		total_weight += targets[t].weight;
	for (uint32_t i = 0; i < count; i++) {
		struct ztg_sig_rule *r = &b->set.rules[i];
		char *p = b->patterns + (size_t)i * PATTERN_CAP;
		uint32_t pick = rnd(total_weight), t = 0;

		while (pick >= targets[t].weight)
			pick -= targets[t++].weight;
		r->id = 100000 + i;
		r->message = "generated";
		r->severity = ZTG_SIG_SEVERITY_HIGH;
		r->action = ZTG_SIG_ACTION_SCORE;
		r->score = 5;
		r->fields = targets[t].fields;
		r->header = targets[t].header;
		r->literal = rnd(10) < 4;
		if (r->literal) {
			literal_pattern(p, PATTERN_CAP);
			b->literals++;
		} else {
			regex_pattern(p, PATTERN_CAP);
		}
		r->pattern = p;
		r->pattern_len = (uint32_t)strlen(p);
		r->flags = rnd(10) < 7 ? ZTG_SIG_FLAG_CASELESS : 0;
		r->loc = (struct ztg_policy_loc){ .file = "bench.conf", .line = 2 + i };
	}
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
	struct ztg_policy_diag diag;

	for (uint32_t r = 0; r < rounds; r++) {
		double t0 = clock_ns(CLOCK_MONOTONIC);
		int rc;

		ztg_sig_compiled_free(c);
		c = NULL;
		ztg_policy_diag_init(&diag);
		rc = ztg_sig_compile(sets, 1, &c, &diag);
		wall[r] = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
		if (rc != 0) {
			fprintf(stderr, "sig_compile_bench: %u rules do not compile (%s):\n", b->set.rule_count,
				strerror(-rc));
			ztg_policy_diag_print(stderr, &diag);
			ztg_policy_diag_free(&diag);
			return -1;
		}
		ztg_policy_diag_free(&diag);
		compile[r] = c->compile_seconds;
	}
	for (uint32_t i = 0; i < c->db_count; i++)
		patterns += c->dbs[i].pattern_count;
	if (ztg_sig_scratch_alloc(c, &scratch) == 0 && scratch != NULL)
		hs_scratch_size(scratch, &scratch_bytes);
	hs_free_scratch(scratch);
	printf("{\"rules\":%u,\"compile_seconds\":%.3f,\"bytes\":%zu,\"wall_seconds\":%.3f,\"databases\":%u,"
	       "\"patterns\":%llu,\"literals\":%u,\"regexes\":%u,\"scratch_bytes\":%zu,\"rounds\":%u,"
	       "\"hyperscan\":\"%s\"}\n",
	       b->set.rule_count, median(compile, rounds), c->bytes, median(wall, rounds), c->db_count,
	       (unsigned long long)patterns, b->literals, b->set.rule_count - b->literals, scratch_bytes, rounds,
	       hs_version());
	fflush(stdout);
	ztg_sig_compiled_free(c);
	return 0;
}

static void usage(FILE *fp, const char *prog)
{
	fprintf(fp,
		"Usage: %s [--rules N]... [--rounds N] [--seed N]\n"
		"\n"
		"Compile generated signature sets with Hyperscan and print one JSON line per\n"
		"size: rules, compile_seconds (Hyperscan's compile calls), bytes (databases).\n"
		"\n"
		"  --rules N    a set of N rules (1..%u; repeatable, at most %u; default 1000 and 10000)\n"
		"  --rounds N   compilations per size, the median reported (default 1, 1..%u)\n"
		"  --seed N     generator seed (default 1)\n"
		"  -h, --help   this text\n",
		prog, MAX_RULES, MAX_SIZES, MAX_ROUNDS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "rules", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t sizes[MAX_SIZES] = { 1000, 10000 }, size_count = 0, rounds = 1, seed = 1;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (size_count == MAX_SIZES) {
				fprintf(stderr, "sig_compile_bench: at most %u --rules\n", MAX_SIZES);
				return 2;
			}
			if (parse_u32("sig_compile_bench", "--rules", optarg, 1, MAX_RULES, &sizes[size_count]) < 0)
				return 2;
			size_count++;
			break;
		case 'r':
			if (parse_u32("sig_compile_bench", "--rounds", optarg, 1, MAX_ROUNDS, &rounds) < 0)
				return 2;
			break;
		case 's':
			if (parse_u32("sig_compile_bench", "--seed", optarg, 0, UINT32_MAX, &seed) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (size_count == 0)
		size_count = 2;
	for (uint32_t i = 0; i < size_count && rc == 0; i++) {
		struct bench_set b;

		/* The same seed per size: a larger set starts with the smaller one's rules. */
		rng = 0x853c49e6748fea9bull ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
		if (rng == 0)
			rng = 1;
		if (generate(&b, sizes[i]) < 0) {
			fprintf(stderr, "sig_compile_bench: out of memory\n");
			rc = 1;
		} else if (measure(&b, rounds) < 0) {
			rc = 1;
		}
		free(b.set.rules);
		free(b.patterns);
	}
	return rc;
}
