/*
 * Route matcher benchmark: does a lookup cost the same with 10, 1,000 and
 * 10,000 routes?
 *
 * Builds one matcher per size from realistic REST routes (collections,
 * items by {id}, sub-resources, static trees under "*"), prepares a fixed
 * set of requests per matcher (mostly hits with an allowed method, some
 * unknown paths, some methods the route refuses), then times lookups with
 * CLOCK_MONOTONIC in interleaved rounds: every round measures every size,
 * starting with a different one, so drift in clock speed or cache state hits
 * all sizes alike. Reports JSON on stdout: per size the median ns per lookup
 * and its ratio to the 10-route median of the same run, plus the matcher's
 * size in bytes. A measurement tool, not a test: it asserts nothing.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/route_match.h"

#include "bench_util.h"

#define DEFAULT_ROUNDS   5u
#define DEFAULT_LOOKUPS  2000000u
#define MAX_ROUNDS       1000u
#define MAX_LOOKUPS      1000000000u
#define REQUESTS         4096u     /* fixed request set per matcher, looked up in turn */
#define PATH_MAX_LEN     192u
#define HIT_PERCENT      90u
#define MISS_PERCENT     5u        /* the rest are methods the route refuses */
_Static_assert(MAX_ROUNDS <= BENCH_MAX_ROUNDS, "median() takes at most BENCH_MAX_ROUNDS rounds");

static const uint32_t sizes[] = { 10, 1000, 10000 };
#define SIZE_COUNT (sizeof(sizes) / sizeof(sizes[0]))

static const char *const resources[] = {
	"users", "orders", "customers", "invoices", "payments", "products", "carts", "shipments",
	"accounts", "sessions", "tickets", "projects", "teams", "reports", "devices", "tenants",
};
static const char *const subs[] = { "items", "events", "comments", "attachments", "members", "history" };

#define M(x) ZTG_ROUTE_METHOD_BIT(ZTG_HTTP_METHOD_##x)

/* A route template with the methods it allows. */
struct gen_route {
	char template[96];
	uint32_t methods;
};

struct request {
	uint32_t off;              /* into the path arena */
	uint32_t len;
	uint32_t method;
};

struct bench_set {
	uint32_t routes;
	struct gen_route *gen;
	struct ztg_route_matcher *m;
	char *arena;
	struct request req[REQUESTS];
	double build_ms;
	uint32_t outcome[ZTG_ROUTE_RESULT_COUNT];
	double ns[MAX_ROUNDS];
};

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(uint32_t n)
{
	return xorshift_below(&rng, n);
}

/* Five routes per resource, as an OpenAPI file would list them. */
static void generate_routes(struct gen_route *out, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint32_t r = i / 5, kind = i % 5;
		char res[48];
		const char *sub = subs[r % (sizeof(subs) / sizeof(subs[0]))];

		if (r < sizeof(resources) / sizeof(resources[0]))
			snprintf(res, sizeof(res), "%s", resources[r]);
		else
			snprintf(res, sizeof(res), "%s%u", resources[r % 16], r);
		struct gen_route *g = &out[i];
		switch (kind) {
		case 0:
			snprintf(g->template, sizeof(g->template), "/api/v1/%s", res);
			g->methods = M(GET) | M(POST);
			break;
		case 1:
			snprintf(g->template, sizeof(g->template), "/api/v1/%s/{id}", res);
			g->methods = M(GET) | M(PUT) | M(PATCH) | M(DELETE);
			break;
		case 2:
			snprintf(g->template, sizeof(g->template), "/api/v1/%s/{id}/%s", res, sub);
			g->methods = M(GET) | M(POST);
			break;
		case 3:
			snprintf(g->template, sizeof(g->template), "/api/v1/%s/{id}/%s/{sub_id}", res, sub);
			g->methods = M(GET) | M(DELETE);
			break;
		default:
			snprintf(g->template, sizeof(g->template), "/static/%s/*", res);
			g->methods = M(GET) | M(HEAD);
			break;
		}
	}
}

/* A concrete path for a template: numeric ids, a UUID now and then, a file under "*". */
static uint32_t instantiate(const char *t, char *p, size_t cap)
{
	size_t o = 0;

	while (*t != '\0' && o + 48 < cap) {
		if (*t == '{') {
			if (rnd(4) == 0)
				o += (size_t)snprintf(p + o, cap - o, "%08x-%04x-4%03x-a%03x-%012x", rnd(1u << 31),
						      rnd(65536), rnd(4096), rnd(4096), rnd(1u << 30));
			else
				o += (size_t)snprintf(p + o, cap - o, "%u", 1 + rnd(9999999));
			t = strchr(t, '}') + 1;
		} else if (*t == '*') {
			o += (size_t)snprintf(p + o, cap - o, "img/v%u/logo.png", rnd(100));
			t++;
		} else {
			p[o++] = *t++;
		}
	}
	p[o] = '\0';
	return (uint32_t)o;
}

static int prepare(struct bench_set *b)
{
	struct ztg_route_spec *specs = calloc(b->routes, sizeof(*specs));
	struct ztg_route_diag err;

	b->gen = calloc(b->routes, sizeof(*b->gen));
	b->arena = malloc((size_t)REQUESTS * PATH_MAX_LEN);
	if (specs == NULL || b->gen == NULL || b->arena == NULL) {
		free(specs);
		return -1;
	}
	generate_routes(b->gen, b->routes);
	for (uint32_t i = 0; i < b->routes; i++)
		specs[i] = (struct ztg_route_spec){ b->gen[i].template, b->gen[i].methods, i };

	double t0 = clock_ns(CLOCK_MONOTONIC);
	b->m = ztg_route_matcher_build(specs, b->routes, NULL, &err);
	b->build_ms = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e6;
	free(specs);
	if (b->m == NULL) {
		fprintf(stderr, "route_match_bench: build of %u routes failed: route %u: %s\n", b->routes,
			err.route_index, err.message);
		return -1;
	}

	for (uint32_t i = 0; i < REQUESTS; i++) {
		const struct gen_route *g = &b->gen[rnd(b->routes)];
		char *p = b->arena + (size_t)i * PATH_MAX_LEN;
		uint32_t pick = rnd(100);
		uint32_t len = instantiate(g->template, p, PATH_MAX_LEN);
		uint32_t method;

		if (pick < HIT_PERCENT) {
			/* an allowed method, GET most often as in real traffic */
			uint32_t allowed[ZTG_ROUTE_METHOD_LAST + 1], n = 0;
			for (uint32_t mt = 0; mt <= ZTG_ROUTE_METHOD_LAST; mt++)
				if (g->methods & ZTG_ROUTE_METHOD_BIT(mt))
					allowed[n++] = mt;
			method = (g->methods & M(GET)) && rnd(4) != 0 ? ZTG_HTTP_METHOD_GET : allowed[rnd(n)];
		} else if (pick < HIT_PERCENT + MISS_PERCENT) {
			/* an unknown resource under a known prefix */
			len = (uint32_t)snprintf(p, PATH_MAX_LEN, "/api/v1/unknown%u/%u", rnd(1000), rnd(100000));
			method = ZTG_HTTP_METHOD_GET;
		} else {
			method = ZTG_HTTP_METHOD_OPTIONS;   /* no generated route allows it */
		}
		b->req[i] = (struct request){ (uint32_t)(i * PATH_MAX_LEN), len, method };
	}
	for (uint32_t i = 0; i < REQUESTS; i++)
		b->outcome[ztg_route_matcher_match(b->m, b->req[i].method, b->arena + b->req[i].off,
						   b->req[i].len, NULL)]++;
	return 0;
}

static volatile uint32_t sink;

static double run_round(const struct bench_set *b, uint64_t lookups)
{
	struct ztg_route_match out;
	uint32_t acc = 0, r = 0;

	double t0 = clock_ns(CLOCK_MONOTONIC);
	for (uint64_t i = 0; i < lookups; i++) {
		const struct request *q = &b->req[r];
		enum ztg_route_result res = ztg_route_matcher_match(b->m, q->method, b->arena + q->off, q->len, &out);
		acc += (uint32_t)res + out.route_index + out.param_count;
		r = (r + 1) & (REQUESTS - 1);
	}
	double t1 = clock_ns(CLOCK_MONOTONIC);
	sink += acc;
	return (t1 - t0) / (double)lookups;
}

static void usage(FILE *fp, const char *prog)
{
	fprintf(fp,
		"Usage: %s [--rounds N] [--lookups N]\n"
		"\n"
		"Time route lookups in matchers of 10, 1000 and 10000 routes, interleaved, and\n"
		"print JSON: median ns per lookup per size and its ratio to the 10-route case.\n"
		"\n"
		"  --rounds N    measurement rounds, each timing every size (default %u, 1..%u)\n"
		"  --lookups N   lookups per size per round (default %u, %u..%u)\n"
		"  -h, --help    this text\n",
		prog, DEFAULT_ROUNDS, MAX_ROUNDS, DEFAULT_LOOKUPS, REQUESTS, MAX_LOOKUPS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "lookups", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t rounds = DEFAULT_ROUNDS, lookups = DEFAULT_LOOKUPS;
	static struct bench_set sets[SIZE_COUNT];
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_u32("route_match_bench", "--rounds", optarg, 1, MAX_ROUNDS, &rounds) < 0)
				return 2;
			break;
		case 'l':
			if (parse_u32("route_match_bench", "--lookups", optarg, REQUESTS, MAX_LOOKUPS, &lookups) < 0)
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

	for (uint32_t s = 0; s < SIZE_COUNT; s++) {
		sets[s].routes = sizes[s];
		if (prepare(&sets[s]) < 0)
			goto out;
		run_round(&sets[s], REQUESTS * 4u);   /* warm caches and branch predictors, untimed */
	}
	for (uint32_t r = 0; r < rounds; r++)
		for (uint32_t k = 0; k < SIZE_COUNT; k++) {
			uint32_t s = (r + k) % SIZE_COUNT;
			sets[s].ns[r] = run_round(&sets[s], lookups);
		}

	double base = median(sets[0].ns, rounds);
	printf("{\n  \"benchmark\": \"route_match\",\n  \"rounds\": %u,\n  \"lookups_per_round\": %u,\n"
	       "  \"requests\": %u,\n  \"matchers\": [\n", rounds, lookups, REQUESTS);
	for (uint32_t s = 0; s < SIZE_COUNT; s++) {
		const struct bench_set *b = &sets[s];
		double med = median(b->ns, rounds);
		printf("    {\"routes\": %u, \"size_bytes\": %zu, \"build_ms\": %.3f,\n"
		       "     \"results\": {\"match\": %u, \"no_route\": %u, \"method_not_allowed\": %u},\n"
		       "     \"ns_per_lookup_median\": %.2f, \"ratio_to_10\": %.3f, \"ns_per_lookup_rounds\": [",
		       b->routes, ztg_route_matcher_size(b->m), b->build_ms, b->outcome[ZTG_ROUTE_MATCH],
		       b->outcome[ZTG_ROUTE_NO_ROUTE], b->outcome[ZTG_ROUTE_METHOD_NOT_ALLOWED], med, med / base);
		for (uint32_t r = 0; r < rounds; r++)
			printf("%s%.2f", r ? ", " : "", b->ns[r]);
		printf("]}%s\n", s + 1 < SIZE_COUNT ? "," : "");
	}
	printf("  ]\n}\n");
	rc = 0;
out:
	for (uint32_t s = 0; s < SIZE_COUNT; s++) {
		ztg_route_matcher_free(sets[s].m);
		free(sets[s].gen);
		free(sets[s].arena);
	}
	return rc;
}
