/*
 * JWT verification benchmark: what does ztg_jwt_verify cost per algorithm,
 * with no token cache in front of it?
 *
 * For each JWS algorithm ztgate accepts it generates a key with OpenSSL,
 * builds the issuer's key set the way the policy loader does (a JWKS for the
 * HMAC secret, an SPKI PEM for the others), puts one issuer per algorithm in
 * one issuer table, and signs one realistic access token (RFC 9068 header
 * {"alg","kid","typ":"at+jwt"}; iss, aud, sub, exp, iat, nbf, jti, scope,
 * tenant and a few more claims). It asserts once that the token verifies
 * with the identity expected, then times ztg_jwt_verify in interleaved
 * rounds: every round measures every algorithm, starting with a different
 * one, so drift in clock speed or a noisy neighbour hits all alike.
 *
 * The time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), because
 * scripts/bench.sh compares it with `openssl speed`, whose default divisor is
 * the process's user CPU time; wall-clock rates are reported too. A last
 * line times the same ES256 token refused at the issuer check (an empty
 * accept mask): base64url, header and payload JSON and the issuer lookup,
 * without key or signature, i.e. the parsing every verification pays.
 *
 * Prints one JSON object per line (JSON Lines) on stdout. A measurement tool,
 * not a test: apart from the first verification of each token it asserts
 * nothing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "auth/base64url.h"
#include "auth/identity.h"
#include "auth/jwk.h"
#include "auth/jwt.h"

#include "bench_util.h"

#define DEFAULT_ROUNDS   5u
#define DEFAULT_SECONDS  0.5          /* measured time per algorithm, over all rounds */
#define MAX_ROUNDS       100u
#define TOKEN_CAP        4096u
#define HMAC_SECRET      64u          /* enough for HS512 (RFC 7518 3.2), so every HS shares it */
#define AUDIENCE         "api.example.com"
#define TENANT           "t-042"
#define SUBJECT          "usr_0012345"
_Static_assert(MAX_ROUNDS <= BENCH_MAX_ROUNDS, "median() takes at most BENCH_MAX_ROUNDS rounds");

enum key_kind { KEY_HMAC, KEY_RSA, KEY_P256, KEY_P384, KEY_P521, KEY_ED25519, KEY_KIND_COUNT };

/* One algorithm: its key, its digest, and what `openssl speed` calls the primitive. */
struct alg_case {
	enum ztg_jwt_alg alg;
	enum key_kind key;
	const char *md;               /* NULL: EdDSA signs the message itself */
	const char *primitive;        /* scripts/bench.sh maps this to an `openssl speed` run */
	char iss[64];
	char kid[32];
	char token[TOKEN_CAP];
	size_t token_len;
	size_t signing_input_len;
	size_t claims_len;
	uint64_t iterations;          /* per round, calibrated */
	double cpu_ns[MAX_ROUNDS];
	double wall_ns[MAX_ROUNDS];
};

static struct alg_case cases[] = {
	{ .alg = ZTG_JWT_ALG_HS256, .key = KEY_HMAC, .md = "SHA256", .primitive = "hmac-sha256" },
	{ .alg = ZTG_JWT_ALG_HS384, .key = KEY_HMAC, .md = "SHA384", .primitive = "hmac-sha384" },
	{ .alg = ZTG_JWT_ALG_HS512, .key = KEY_HMAC, .md = "SHA512", .primitive = "hmac-sha512" },
	{ .alg = ZTG_JWT_ALG_RS256, .key = KEY_RSA, .md = "SHA256", .primitive = "rsa2048" },
	{ .alg = ZTG_JWT_ALG_RS384, .key = KEY_RSA, .md = "SHA384", .primitive = "rsa2048" },
	{ .alg = ZTG_JWT_ALG_RS512, .key = KEY_RSA, .md = "SHA512", .primitive = "rsa2048" },
	{ .alg = ZTG_JWT_ALG_PS256, .key = KEY_RSA, .md = "SHA256", .primitive = "rsa2048" },
	{ .alg = ZTG_JWT_ALG_PS384, .key = KEY_RSA, .md = "SHA384", .primitive = "rsa2048" },
	{ .alg = ZTG_JWT_ALG_PS512, .key = KEY_RSA, .md = "SHA512", .primitive = "rsa2048" },
	{ .alg = ZTG_JWT_ALG_ES256, .key = KEY_P256, .md = "SHA256", .primitive = "ecdsap256" },
	{ .alg = ZTG_JWT_ALG_ES384, .key = KEY_P384, .md = "SHA384", .primitive = "ecdsap384" },
	{ .alg = ZTG_JWT_ALG_ES512, .key = KEY_P521, .md = "SHA512", .primitive = "ecdsap521" },
	{ .alg = ZTG_JWT_ALG_EDDSA, .key = KEY_ED25519, .md = NULL, .primitive = "ed25519" },
};
#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

/* The scopes and claims a policy's routes would ask about: the identity is reduced to these. */
static const struct ztg_auth_names names = {
	.scopes = { "orders:read", "orders:write", "inventory:read", "payments:write" },
	.scope_count = 4,
	.claims = { "tenant" },
	.claim_count = 1,
};
static const char *const audiences[] = { AUDIENCE };
static const char *const required[] = { "jti" };

static EVP_PKEY *keys[KEY_KIND_COUNT];
static uint8_t secret[HMAC_SECRET];

/* The keys the chosen algorithms need, no more: an RSA key takes a while to generate. */
static int generate_key(enum key_kind k)
{
	switch (k) {
	case KEY_HMAC:
		return RAND_bytes(secret, sizeof(secret)) == 1 ? 0 : -1;
	case KEY_RSA:
		keys[k] = EVP_RSA_gen(2048);
		break;
	case KEY_P256:
		keys[k] = EVP_EC_gen("P-256");
		break;
	case KEY_P384:
		keys[k] = EVP_EC_gen("P-384");
		break;
	case KEY_P521:
		keys[k] = EVP_EC_gen("P-521");
		break;
	default:
		keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	return keys[k] != NULL ? 0 : -1;
}

/* Append base64url(in) to out at *off; -1 when it does not fit. */
static int put_b64(char *out, size_t cap, size_t *off, const void *in, size_t len)
{
	size_t n = ztg_base64url_encode(in, len, out + *off, cap - *off);

	if (n == 0 && len > 0)
		return -1;
	*off += n;
	return 0;
}

/*
 * JWS signature over in[0..len) as the token carries it: HMAC, PKCS#1 v1.5,
 * PSS with a salt as long as the digest (RFC 7518 3.5), ECDSA as raw R||S
 * (RFC 7518 3.4: EVP gives DER), Ed25519.
 */
static ssize_t sign(const struct alg_case *c, const uint8_t *in, size_t len, uint8_t *sig, size_t cap)
{
	EVP_PKEY *pkey = keys[c->key];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx;
	size_t n = cap;
	bool pss = c->alg >= ZTG_JWT_ALG_PS256 && c->alg <= ZTG_JWT_ALG_PS512;
	int ok;

	if (c->key == KEY_HMAC)
		return EVP_Q_mac(NULL, "HMAC", NULL, c->md, NULL, secret, sizeof(secret), in, len, sig, cap, &n) ==
		       NULL ? -1 : (ssize_t)n;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -1;
	ok = EVP_DigestSignInit_ex(ctx, &pctx, c->md, NULL, NULL, pkey, NULL) == 1;
	if (ok && pss)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && EVP_DigestSign(ctx, sig, &n, in, len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	if (c->key == KEY_P256 || c->key == KEY_P384 || c->key == KEY_P521) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		int half = (EVP_PKEY_get_bits(pkey) + 7) / 8;
		const BIGNUM *r, *s;

		ok = es != NULL && 2 * (size_t)half <= cap;
		if (ok) {
			ECDSA_SIG_get0(es, &r, &s);
			ok = BN_bn2binpad(r, sig, half) == half && BN_bn2binpad(s, sig + half, half) == half;
		}
		ECDSA_SIG_free(es);
		return ok ? 2 * half : -1;
	}
	return (ssize_t)n;
}

/* A realistic access token, as an IdP issues them: about 400 bytes of claims. */
static int make_token(struct alg_case *c, int64_t now)
{
	char header[160], claims[640];
	uint8_t sig[1024], jti_raw[16];
	size_t off = 0;
	ssize_t sig_len;
	int n;

	if (RAND_bytes(jti_raw, sizeof(jti_raw)) != 1)
		return -1;
	snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}",
		 ztg_jwt_alg_name(c->alg), c->kid);
	n = snprintf(claims, sizeof(claims),
		     "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"exp\":%" PRId64 ",\"iat\":%" PRId64
		     ",\"nbf\":%" PRId64 ",\"jti\":\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		     "%02x%02x%02x%02x%02x%02x\",\"client_id\":\"shop-mobile-ios\",\"azp\":\"shop-mobile-ios\","
		     "\"scope\":\"openid orders:read orders:write inventory:read profile:read payments:write\","
		     "\"tenant\":\"%s\",\"auth_time\":%" PRId64 ",\"acr\":\"urn:example:loa:2\"}",
		     c->iss, AUDIENCE, SUBJECT, now + 3600, now - 60, now - 60, jti_raw[0], jti_raw[1], jti_raw[2],
		     jti_raw[3], jti_raw[4], jti_raw[5], (jti_raw[6] & 0x0f) | 0x40, jti_raw[7],
		     (jti_raw[8] & 0x3f) | 0x80, jti_raw[9], jti_raw[10], jti_raw[11], jti_raw[12], jti_raw[13],
		     jti_raw[14], jti_raw[15], TENANT, now - 300);
	if (n < 0 || (size_t)n >= sizeof(claims))
		return -1;
	c->claims_len = (size_t)n;
	if (put_b64(c->token, sizeof(c->token), &off, header, strlen(header)) < 0 || off + 1 >= sizeof(c->token))
		return -1;
	c->token[off++] = '.';
	if (put_b64(c->token, sizeof(c->token), &off, claims, c->claims_len) < 0)
		return -1;
	c->signing_input_len = off;
	sig_len = sign(c, (const uint8_t *)c->token, off, sig, sizeof(sig));
	if (sig_len < 0 || off + 1 >= sizeof(c->token))
		return -1;
	c->token[off++] = '.';
	if (put_b64(c->token, sizeof(c->token), &off, sig, (size_t)sig_len) < 0 || off >= sizeof(c->token))
		return -1;
	c->token[off] = '\0';
	c->token_len = off;
	return 0;
}

/* The issuer's key set, built as the policy loader would: JWKS for a secret, PEM for a public key. */
static struct ztg_keyset *make_keyset(const struct alg_case *c)
{
	struct ztg_keyset *set = NULL;
	char err[256];

	if (c->key == KEY_HMAC) {
		char k[128], jwks[320];
		size_t off = 0;

		if (put_b64(k, sizeof(k) - 1, &off, secret, sizeof(secret)) < 0)
			return NULL;
		k[off] = '\0';
		snprintf(jwks, sizeof(jwks),
			 "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"%s\",\"alg\":\"%s\",\"use\":\"sig\",\"k\":\"%s\"}]}",
			 c->kid, ztg_jwt_alg_name(c->alg), k);
		if (ztg_keyset_from_jwks(jwks, strlen(jwks), &set, err, sizeof(err)) < 0)
			fprintf(stderr, "jwt_bench: %s JWKS: %s\n", ztg_jwt_alg_name(c->alg), err);
		return set;
	}

	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, keys[c->key]) != 1) {
		BIO_free(bio);
		return NULL;
	}
	len = BIO_get_mem_data(bio, &pem);
	if (ztg_keyset_add_pem(&set, pem, (size_t)len, c->kid, err, sizeof(err)) < 0)
		fprintf(stderr, "jwt_bench: %s PEM: %s\n", ztg_jwt_alg_name(c->alg), err);
	BIO_free(bio);
	return set;
}

/* The first verification of each token must succeed with the identity signed into it. */
static bool check_once(const struct ztg_jwt_table *t, struct ztg_jwt_scratch *sc, const struct alg_case *c,
		       int64_t now)
{
	struct ztg_identity id;
	struct ztg_jwt_failure why;
	enum ztg_jwt_reason r = ztg_jwt_verify(t, NULL, &names, c->token, c->token_len, now, sc, &id, &why);

	if (r != ZTG_JWT_OK) {
		fprintf(stderr, "jwt_bench: %s token refused: %s (%s)\n", ztg_jwt_alg_name(c->alg),
			ztg_jwt_reason_name(r), why.detail);
		return false;
	}
	if (strcmp(id.subject, SUBJECT) != 0 || id.scopes != 0xf || !(id.claims_present & 1) ||
	    strcmp(id.claims[0], TENANT) != 0 || id.alg != c->alg) {
		fprintf(stderr, "jwt_bench: %s token verified with the wrong identity\n", ztg_jwt_alg_name(c->alg));
		return false;
	}
	return true;
}

static volatile uint64_t sink;

/* Time n verifications; fills the CPU and wall ns per call. */
static void run_round(const struct ztg_jwt_table *t, const uint64_t *accept, struct ztg_jwt_scratch *sc,
		      const struct alg_case *c, uint64_t n, int64_t now, double *cpu_ns, double *wall_ns)
{
	struct ztg_identity id;
	uint64_t acc = 0;
	double c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);

	for (uint64_t i = 0; i < n; i++)
		acc += (uint64_t)ztg_jwt_verify(t, accept, &names, c->token, c->token_len, now, sc, &id, NULL);
	*cpu_ns = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)n;
	*wall_ns = (clock_ns(CLOCK_MONOTONIC) - w0) / (double)n;
	sink += acc;
}

/* Iterations per round for about target_ns of CPU time, from a short untimed-for-the-report probe. */
static uint64_t calibrate(const struct ztg_jwt_table *t, const uint64_t *accept, struct ztg_jwt_scratch *sc,
			  const struct alg_case *c, int64_t now, double target_ns)
{
	double cpu, wall;
	uint64_t n = 16;

	run_round(t, accept, sc, c, 8, now, &cpu, &wall);   /* warm caches, OpenSSL's lazy init */
	for (;;) {
		double t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

		run_round(t, accept, sc, c, n, now, &cpu, &wall);
		double spent = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
		if (spent >= 20e6 || n >= (1ull << 32)) {
			double want = target_ns / (spent / (double)n);
			return want < 16 ? 16 : (uint64_t)want;
		}
		n *= 4;
	}
}

static void print_case(const char *label, const char *primitive, const struct alg_case *c, uint32_t rounds,
		       const char *what)
{
	double cpu = median(c->cpu_ns, rounds), wall = median(c->wall_ns, rounds);

	printf("{\"alg\":\"%s\",\"verify_per_s\":%.0f,\"ns_per_verify\":%.1f,\"token_bytes\":%zu,"
	       "\"signing_input_bytes\":%zu,\"claims_bytes\":%zu,\"primitive\":\"%s\",\"verify_per_s_wall\":%.0f,"
	       "\"rounds\":%u,\"iterations_per_round\":%" PRIu64 ",\"ns_per_verify_rounds\":[",
	       label, 1e9 / cpu, cpu, c->token_len, c->signing_input_len, c->claims_len, primitive, 1e9 / wall,
	       rounds, c->iterations);
	for (uint32_t r = 0; r < rounds; r++)
		printf("%s%.1f", r ? "," : "", c->cpu_ns[r]);
	printf("]%s%s%s}\n", what ? ",\"measures\":\"" : "", what ? what : "", what ? "\"" : "");
}

static void usage(FILE *fp, const char *prog)
{
	fprintf(fp,
		"Usage: %s [--rounds N] [--seconds S] [--alg NAME[,NAME...]]\n"
		"\n"
		"Time ztg_jwt_verify (no token cache) for every JWS algorithm on one realistic\n"
		"access token each, in interleaved rounds, and print one JSON line per algorithm:\n"
		"verifications per CPU second, ns per verification, token size, and the primitive\n"
		"`openssl speed` names for it; then one line for parsing alone (\"parse_only\").\n"
		"\n"
		"  --rounds N    measurement rounds, each timing every algorithm (default %u, 1..%u)\n"
		"  --seconds S   CPU seconds per algorithm over all rounds (default %.1f, 0.01..60)\n"
		"  --alg LIST    only these, comma-separated: HS256 ... EdDSA, parse_only\n"
		"                (default: all). scripts/bench.sh runs each `openssl speed` right\n"
		"                after the algorithms it is compared with, so load drifts less\n"
		"  -h, --help    this text\n",
		prog, DEFAULT_ROUNDS, MAX_ROUNDS, DEFAULT_SECONDS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "alg", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ztg_jwt_issuer issuers[CASE_COUNT];
	static struct alg_case parse_case;
	bool want[CASE_COUNT], build[CASE_COUNT], want_parse = true, have_key[KEY_KIND_COUNT] = { false };
	uint32_t issuer_count = 0, es256 = 0;
	struct ztg_jwt_table *table = NULL;
	struct ztg_jwt_scratch *sc = NULL;
	const char *only = NULL;
	uint32_t rounds = DEFAULT_ROUNDS;
	double seconds = DEFAULT_SECONDS;
	uint64_t none_accepted[(CASE_COUNT + 63) / 64] = { 0 };
	int64_t now = (int64_t)time(NULL);
	char err[256], *end;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_u32("jwt_bench", "--rounds", optarg, 1, MAX_ROUNDS, &rounds) < 0)
				return 2;
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end != '\0' || !(seconds >= 0.01 && seconds <= 60)) {
				fprintf(stderr, "jwt_bench: --seconds: \"%s\" is not a number in 0.01..60\n", optarg);
				return 2;
			}
			break;
		case 'a':
			only = optarg;
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
	for (uint32_t i = 0; i < CASE_COUNT; i++) {
		want[i] = only == NULL;
		if (cases[i].alg == ZTG_JWT_ALG_ES256)
			es256 = i;
	}
	if (only != NULL) {
		want_parse = false;
		for (const char *p = only; *p != '\0';) {
			size_t n = strcspn(p, ",");
			enum ztg_jwt_alg a;
			uint32_t i = 0;

			if (n == strlen("parse_only") && strncmp(p, "parse_only", n) == 0) {
				want_parse = true;
			} else if (ztg_jwt_alg_from_name(p, n, &a) == 0) {
				while (cases[i].alg != a)
					i++;
				want[i] = true;
			} else {
				fprintf(stderr, "jwt_bench: --alg: \"%.*s\" is neither a JWS algorithm ztgate "
					"knows nor parse_only\n", (int)n, p);
				return 2;
			}
			p += n + (p[n] == ',');
		}
		bool any = want_parse;
		for (uint32_t i = 0; i < CASE_COUNT; i++)
			any = any || want[i];
		if (!any) {
			fprintf(stderr, "jwt_bench: --alg: an empty list\n");
			return 2;
		}
	}

	for (uint32_t i = 0; i < CASE_COUNT; i++) {
		struct alg_case *k = &cases[i];
		const char *name = ztg_jwt_alg_name(k->alg);
		char lower[8];

		/* parse_only times the ES256 token, so its issuer and key exist even when ES256 is not timed. */
		build[i] = want[i] || (want_parse && i == es256);
		if (!build[i])
			continue;
		if (!have_key[k->key]) {
			if (generate_key(k->key) < 0) {
				fprintf(stderr, "jwt_bench: %s: key generation failed\n", name);
				goto out;
			}
			have_key[k->key] = true;
		}

		for (size_t j = 0; j <= strlen(name); j++)
			lower[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] - 'A' + 'a' : name[j]);
		/* One issuer per algorithm, as distinct IdPs would be: the table's lookup is a hash. */
		snprintf(k->iss, sizeof(k->iss), "https://idp.bench.example.com/realms/%s", lower);
		snprintf(k->kid, sizeof(k->kid), "bench-%s-2024-11", lower);
		issuers[issuer_count] = (struct ztg_jwt_issuer){
			.name = k->iss, .iss = k->iss, .algs = ZTG_JWT_ALG_BIT(k->alg),
			.audiences = audiences, .audience_count = 1, .leeway = 30, .max_token_bytes = 8192,
			.typ = "at+jwt", .required_claims = required, .required_count = 1, .identity_claim = "sub",
		};
		struct ztg_keyset *set = make_keyset(k);
		if (set == NULL || make_token(k, now) < 0) {
			ztg_keyset_free(set);
			fprintf(stderr, "jwt_bench: %s: cannot build the key set or sign the token\n", name);
			goto out;
		}
		atomic_store(&issuers[issuer_count].keys, set);
		issuer_count++;
	}
	table = ztg_jwt_table_build(issuers, issuer_count, err, sizeof(err));
	sc = ztg_jwt_scratch_create();
	if (table == NULL || sc == NULL) {
		fprintf(stderr, "jwt_bench: issuer table: %s\n", table == NULL ? err : "no scratch");
		goto out;
	}

	/* The ES256 token refused at the issuer check: parsing only. */
	parse_case = cases[es256];
	if (want_parse &&
	    ztg_jwt_verify(table, none_accepted, &names, parse_case.token, parse_case.token_len, now, sc,
			   &(struct ztg_identity){ 0 }, NULL) != ZTG_JWT_ISSUER_NOT_ACCEPTED) {
		fprintf(stderr, "jwt_bench: the parse-only token was not refused at the issuer check\n");
		goto out;
	}

	double target = seconds * 1e9 / rounds;
	for (uint32_t i = 0; i < CASE_COUNT; i++) {
		if (!want[i])
			continue;
		if (!check_once(table, sc, &cases[i], now))
			goto out;
		cases[i].iterations = calibrate(table, NULL, sc, &cases[i], now, target);
	}
	if (want_parse)
		parse_case.iterations = calibrate(table, none_accepted, sc, &parse_case, now, target);

	for (uint32_t r = 0; r < rounds; r++)
		for (uint32_t k = 0; k <= CASE_COUNT; k++) {
			uint32_t i = (r + k) % (CASE_COUNT + 1);

			if (i == CASE_COUNT && want_parse)
				run_round(table, none_accepted, sc, &parse_case, parse_case.iterations, now,
					  &parse_case.cpu_ns[r], &parse_case.wall_ns[r]);
			else if (i < CASE_COUNT && want[i])
				run_round(table, NULL, sc, &cases[i], cases[i].iterations, now, &cases[i].cpu_ns[r],
					  &cases[i].wall_ns[r]);
		}

	for (uint32_t i = 0; i < CASE_COUNT; i++)
		if (want[i])
			print_case(ztg_jwt_alg_name(cases[i].alg), cases[i].primitive, &cases[i], rounds, NULL);
	if (want_parse)
		print_case("parse_only", "none", &parse_case, rounds,
			   "ES256 token refused at the issuer check: base64url, header and payload JSON, "
			   "issuer lookup");
	fflush(stdout);
	rc = 0;
out:
	ztg_jwt_scratch_free(sc);
	ztg_jwt_table_free(table);
	for (uint32_t i = 0; i < issuer_count; i++)
		ztg_keyset_free(atomic_load(&issuers[i].keys));
	for (int k = 0; k < KEY_KIND_COUNT; k++)
		EVP_PKEY_free(keys[k]);
	return rc;
}
