/*
 * Unit tests of the identity checks (dataplane/policy/authn.c), end to end
 * the way a worker runs them: a policy with issuers, API keys and route
 * requirements written to a temporary directory (its JWKS files made from
 * keys generated here), loaded and built into an authz; raw request bytes
 * through the HTTP parser and the normaliser, the route decision through
 * ztg_authz_request, then ztg_authn_check. Tokens are signed here (ES256 and
 * HS256 are enough: the algorithms themselves are test_jwt.c's business).
 * rte_rib needs the EAL: a minimal one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/api_key.h"
#include "auth/base64url.h"
#include "eal_fixture.h"
#include "policy/authn.h"
#include "policy/authz.h"
#include "policy_load.h"

#define NOW 1700000000LL
#define EXP (NOW + 600)
#define LEEWAY 30

#define IDP_ISS     "https://idp.test"
#define HS_ISS      "https://hs.test"
#define PARTNER_ISS "https://partner.test"

/* Claims every idp token carries before a test adds its own; exp is given as %lld. */
#define IDP  "\"iss\":\"" IDP_ISS "\",\"aud\":\"api\",\"exp\":%lld"
#define HS   "\"iss\":\"" HS_ISS "\",\"aud\":\"api\",\"exp\":%lld"

/* Raw request heads: the caller adds header lines, then the blank line. */
#define GET(host, target) "GET " target " HTTP/1.1\r\nHost: " host "\r\n"
#define END "\r\n"

static const char EXPORT_KEY[] = "export-key-1";
static const char PLAIN_KEY[] = "plain-key-2";

/* Who signs a token: the issuers' real keys, a key nobody trusts, the idp's key under a new kid. */
enum signer { SIGN_IDP, SIGN_HS, SIGN_PARTNER, SIGN_ROGUE };

static struct {
	char dir[64];
	EVP_PKEY *es;                       /* idp's ES256 key, kid es1 */
	EVP_PKEY *rogue;                    /* an ES256 key no issuer has */
	uint8_t hs_secret[32];              /* hs's HS256 secret, kid hs1 */
	uint8_t partner_secret[32];         /* partner's, kid p1 */
	struct ztg_authz *authz;
	struct ztg_authn *authn;
	struct ztg_http_target_view view;   /* the request being checked: its captures index view.path */
	uint8_t target_buf[8192];
	bool seen;                          /* the parser delivered a head */
	bool ok;
	struct ztg_authz_decision d;
	struct ztg_authn_result r;
} T;

/* ------------------------------------------------------------- the signer */

static size_t b64(const void *in, size_t len, char *out, size_t cap)
{
	size_t n = ztg_base64url_encode(in, len, out, cap);

	assert_true(n != ZTG_B64_ENCODE_NO_SPACE);
	return n;
}

/* The JWS signature over in[0..len): HMAC-SHA256, or ECDSA P-256 as R || S (not DER). */
static size_t sign_bytes(enum signer s, const char *in, size_t len, uint8_t sig[72])
{
	EVP_PKEY *pkey = s == SIGN_ROGUE ? T.rogue : T.es;
	uint8_t der[80];
	const uint8_t *p = der;
	size_t n = sizeof(der);
	unsigned int mac_len = 0;
	EVP_MD_CTX *ctx;
	ECDSA_SIG *es;
	const BIGNUM *r, *ss;

	if (s == SIGN_HS || s == SIGN_PARTNER) {
		const uint8_t *secret = s == SIGN_HS ? T.hs_secret : T.partner_secret;

		assert_non_null(HMAC(EVP_sha256(), secret, 32, (const uint8_t *)in, len, sig, &mac_len));
		return mac_len;
	}
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &n, (const uint8_t *)in, len), 1);
	EVP_MD_CTX_free(ctx);
	es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &ss);
	assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
	assert_int_equal(BN_bn2binpad(ss, sig + 32, 32), 32);
	ECDSA_SIG_free(es);
	return 64;
}

/* A compact JWS in out: header {alg, kid}, the payload printf'd from fmt. */
static const char *token(char *out, size_t cap, enum signer s, const char *kid, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static const char *token(char *out, size_t cap, enum signer s, const char *kid, const char *fmt, ...)
{
	char header[128], payload[1024];
	uint8_t sig[72];
	size_t o, n;
	va_list ap;
	int len;

	snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
		 s == SIGN_HS || s == SIGN_PARTNER ? "HS256" : "ES256", kid);
	va_start(ap, fmt);
	len = vsnprintf(payload, sizeof(payload), fmt, ap);
	va_end(ap);
	assert_true(len > 0 && (size_t)len < sizeof(payload));
	o = b64(header, strlen(header), out, cap);
	out[o++] = '.';
	o += b64(payload, (size_t)len, out + o, cap - o);
	n = sign_bytes(s, out, o, sig);
	assert_true(o + 1 < cap);
	out[o++] = '.';
	b64(sig, n, out + o, cap - o);
	return out;
}

/* ------------------------------------------------------------ the fixture */

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", T.dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A JWKS holding the public half of an EC P-256 key. */
static void ec_jwks(EVP_PKEY *pkey, const char *kid, char *out, size_t cap)
{
	const char *names[2] = { OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y };
	char coord[2][64];

	for (int i = 0; i < 2; i++) {
		BIGNUM *bn = NULL;
		uint8_t raw[32];

		assert_int_equal(EVP_PKEY_get_bn_param(pkey, names[i], &bn), 1);
		assert_int_equal(BN_bn2binpad(bn, raw, sizeof(raw)), 32);
		BN_free(bn);
		b64(raw, sizeof(raw), coord[i], sizeof(coord[i]));
	}
	snprintf(out, cap, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"use\":\"sig\","
		 "\"x\":\"%s\",\"y\":\"%s\"}]}", kid, coord[0], coord[1]);
}

static void oct_jwks(const uint8_t *secret, size_t len, const char *kid, char *out, size_t cap)
{
	char k[64];

	b64(secret, len, k, sizeof(k));
	snprintf(out, cap, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"%s\",\"use\":\"sig\",\"k\":\"%s\"}]}", kid, k);
}

/* The policy stores only SHA-256 of a key, in hex. */
static void sha256_hex(const char *key, char hex[65])
{
	uint8_t d[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(key, strlen(key), d, &n, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static const char POLICY[] =
	"version = 1;\n"
	"name = \"authn-test\";\n"
	"segments = (\n"
	"  { name = \"clients\"; addresses = [ \"10.1.0.0/16\" ]; },\n"
	"  { name = \"servers\"; addresses = [ \"10.9.0.0/16\" ]; }\n"
	");\n"
	"issuers = (\n"
	"  { name = \"idp\"; issuer = \"" IDP_ISS "\"; jwks_file = \"es.jwks\"; algorithms = [ \"ES256\" ];\n"
	"    audiences = [ \"api\" ]; leeway = 30; },\n"
	"  { name = \"hs\"; issuer = \"" HS_ISS "\"; jwks_file = \"hs.jwks\"; algorithms = [ \"HS256\" ];\n"
	"    audiences = [ \"api\" ]; },\n"
	"  { name = \"partner\"; issuer = \"" PARTNER_ISS "\"; jwks_file = \"partner.jwks\";\n"
	"    algorithms = [ \"HS256\" ]; audiences = [ \"api\" ]; }\n"
	");\n"
	"api_keys = (\n"
	"  { id = \"export\"; subject = \"svc-export\"; scopes = [ \"orders:read\" ]; sha256 = \"%s\";\n"
	"    claims = { tenant = \"acme\"; tier = \"gold\"; }; },\n"
	"  { id = \"plain\"; subject = \"svc-plain\"; sha256 = \"%s\"; }\n"
	");\n"
	"services = (\n"
	"  { name = \"api\"; hosts = [ \"api.test\" ]; addresses = [ \"10.9.0.1/32\" ]; ports = [ 80 ];\n"
	"    segment = \"servers\";\n"
	"    authentication = { issuers = [ \"idp\", \"hs\" ]; api_key_header = \"X-API-Key\";\n"
	"                       api_key_query = \"api_key\"; query = \"access_token\"; };\n"
	"    routes = (\n"
	"      { name = \"public\"; methods = [ \"GET\" ]; path = \"/public\"; action = \"allow\";\n"
	"        anonymous = true; },\n"
	"      { name = \"me\"; methods = [ \"GET\" ]; path = \"/me\"; action = \"allow\"; },\n"
	"      { name = \"write\"; methods = [ \"POST\" ]; path = \"/orders\"; action = \"allow\";\n"
	"        require = { scopes = [ \"orders:read\", \"orders:write\" ]; }; },\n"
	"      { name = \"reports\"; methods = [ \"GET\" ]; path = \"/reports\"; action = \"allow\";\n"
	"        require = { scopes = [ \"reports:read\", \"admin\" ]; scopes_match = \"any\"; }; },\n"
	"      { name = \"gold\"; methods = [ \"GET\" ]; path = \"/gold\"; action = \"allow\";\n"
	"        require = { claims = { tier = \"gold\"; }; }; },\n"
	"      { name = \"alice\"; methods = [ \"GET\" ]; path = \"/alice\"; action = \"allow\";\n"
	"        require = { claims = { sub = \"alice\"; }; }; },\n"
	"      { name = \"users\"; methods = [ \"GET\" ]; path = \"/tenants/{tenant}/users/{id}\";\n"
	"        action = \"allow\";\n"
	"        require = { bind = { tenant = \"tenant\"; id = \"sub\"; }; }; },\n"
	/* The same bindings over a template with the params the other way round: indexes, not order. */
	"      { name = \"flipped\"; methods = [ \"GET\" ]; path = \"/u/{id}/t/{tenant}\"; action = \"allow\";\n"
	"        require = { bind = { tenant = \"tenant\"; id = \"sub\"; }; }; },\n"
	"      { name = \"admin\"; methods = [ \"ANY\" ]; path = \"/admin/*\"; action = \"deny\"; }\n"
	"    ); },\n"
	"  { name = \"partner\"; hosts = [ \"partner.test\" ]; addresses = [ \"10.9.0.1/32\" ]; ports = [ 80 ];\n"
	"    segment = \"servers\"; authentication = { issuers = [ \"partner\" ]; };\n"
	"    routes = ( { name = \"me\"; methods = [ \"GET\" ]; path = \"/me\"; action = \"allow\"; } ); },\n"
	"  { name = \"bare\"; hosts = [ \"bare.test\" ]; addresses = [ \"10.9.0.1/32\" ]; ports = [ 80 ];\n"
	"    segment = \"servers\"; authentication = { issuers = [ \"idp\" ]; header = \"X-Token\"; scheme = \"\"; };\n"
	"    routes = ( { name = \"me\"; methods = [ \"GET\" ]; path = \"/me\"; action = \"allow\"; } ); }\n"
	");\n"
	"access = ( { from = \"clients\"; to = [ \"api\", \"partner\", \"bare\" ]; } );\n";

static struct ztg_authz *build_authz(uint32_t generation)
{
	struct ztg_policy *policy = NULL;
	struct ztg_policy_diag diag;
	struct ztg_authz *authz;
	char path[128], err[512];

	ztg_policy_diag_init(&diag);
	snprintf(path, sizeof(path), "%s/policy.conf", T.dir);
	if (ztg_policy_load(path, &policy, &diag) != 0) {
		for (uint32_t i = 0; i < diag.count; i++)
			fprintf(stderr, "%s:%u: %s\n", diag.entries[i].file, diag.entries[i].line,
				diag.entries[i].message);
		ztg_policy_diag_free(&diag);
		return NULL;
	}
	ztg_policy_diag_free(&diag);
	authz = ztg_authz_build(policy, NULL, 0, generation, err, sizeof(err));
	if (authz == NULL)
		fprintf(stderr, "build: %s\n", err);
	return authz;
}

static int setup(void **state)
{
	char text[sizeof(POLICY) + 256], jwks[512], hex[2][65];

	if (ztg_eal_fixture_setup(state) != 0)
		return -1;
	snprintf(T.dir, sizeof(T.dir), "/tmp/ztg-authn-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.es = EVP_EC_gen("P-256");
	T.rogue = EVP_EC_gen("P-256");
	if (T.es == NULL || T.rogue == NULL || RAND_bytes(T.hs_secret, sizeof(T.hs_secret)) != 1 ||
	    RAND_bytes(T.partner_secret, sizeof(T.partner_secret)) != 1)
		return -1;
	ec_jwks(T.es, "es1", jwks, sizeof(jwks));
	write_file("es.jwks", jwks);
	oct_jwks(T.hs_secret, sizeof(T.hs_secret), "hs1", jwks, sizeof(jwks));
	write_file("hs.jwks", jwks);
	oct_jwks(T.partner_secret, sizeof(T.partner_secret), "p1", jwks, sizeof(jwks));
	write_file("partner.jwks", jwks);
	sha256_hex(EXPORT_KEY, hex[0]);
	sha256_hex(PLAIN_KEY, hex[1]);
	snprintf(text, sizeof(text), POLICY, hex[0], hex[1]);
	write_file("policy.conf", text);
	T.authz = build_authz(1);
	if (T.authz == NULL)
		return -1;
	T.authn = ztg_authz_authn(T.authz);
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = { "policy.conf", "es.jwks", "hs.jwks", "partner.jwks" };
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", T.dir, files[i]);
		unlink(path);
	}
	rmdir(T.dir);
	ztg_authz_free(T.authz);
	EVP_PKEY_free(T.es);
	EVP_PKEY_free(T.rogue);
	return ztg_eal_fixture_teardown(state);
}

/* ------------------------------------------------------------ one request */

struct run {
	struct ztg_authz *authz;
	struct ztg_authn_worker *w;
	const struct ztg_revocation_set *revoked;
	int64_t now;
};

/* The head as the session sees it: normalised target, canonical Host, route decision, then identity. */
static int on_event(void *arg, const struct ztg_http_event *ev)
{
	const struct run *run = arg;
	const struct ztg_http_message *msg = ev->message;
	struct ztg_authn_request req;
	struct ztg_authz_flow flow;
	struct ztg_http_host host;
	uint8_t server[16] = { 10, 9, 0, 1 }, client[16] = { 10, 1, 0, 7 }, host_buf[ZTG_HTTP_HOST_BUF_LEN];

	if (ev->type == ZTG_HTTP_EV_VIOLATION)
		fail_msg("the parser refused the request: %s", ztg_http_violation_name(ev->violation));
	if (ev->type != ZTG_HTTP_EV_HEADERS || !ev->is_request)
		return 0;
	T.seen = true;
	assert_int_equal(ztg_http_normalize_target(msg->target.ptr, msg->target.len, T.target_buf,
						   sizeof(T.target_buf), &T.view), ZTG_HTTP_NORM_OK);
	assert_int_equal(ztg_http_host_without_port(msg->host, host_buf, sizeof(host_buf), &host), ZTG_HTTP_NORM_OK);
	assert_int_equal(ztg_authz_classify_flow(run->authz, 4, client, server, 80, &flow), ZTG_AUTHZ_FLOW_ALLOWED);
	ztg_authz_request(run->authz, &flow, (const char *)host.name.ptr, host.name.len, msg->method,
			  (const char *)T.view.path.ptr, T.view.path.len, &T.d);
	if (T.d.action != ZTG_POLICY_ACTION_ALLOW)
		return 1;

	req = (struct ztg_authn_request){
		.msg = msg,
		.target = &T.view,
		.match = &T.d.match,
		.service = T.d.service,
		.route = T.d.route,
		.now = run->now,
	};
	/* Poison the result: every field a check reports must be written by it. */
	memset(&T.r, 0xa5, sizeof(T.r));
	T.ok = ztg_authn_check(ztg_authz_authn(run->authz), run->w, run->revoked, &req, &T.r);
	return 1;
}

static bool send_to(struct ztg_authz *authz, struct ztg_authn_worker *w, const struct ztg_revocation_set *revoked,
		    int64_t now, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Feed the request printf'd from fmt; true when authn lets it pass (T.r says why). */
static bool send_to(struct ztg_authz *authz, struct ztg_authn_worker *w, const struct ztg_revocation_set *revoked,
		    int64_t now, const char *fmt, ...)
{
	struct run run = { .authz = authz, .w = w, .revoked = revoked, .now = now };
	struct ztg_http_conn conn;
	char raw[4096];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	assert_true(len > 0 && (size_t)len < sizeof(raw));
	T.seen = false;
	T.ok = false;
	ztg_http_conn_init(&conn);
	ztg_http_feed(&conn, true, (const uint8_t *)raw, (uint32_t)len, NULL, NULL, on_event, &run);
	assert_true(T.seen);
	assert_int_equal(T.d.action, ZTG_POLICY_ACTION_ALLOW);
	return T.ok;
}

#define submit(w, revoked, now, ...) send_to(T.authz, (w), (revoked), (now), __VA_ARGS__)

/* The outcome's stable name and whether it passed, with the detail in the message when it is not wanted. */
#define assert_outcome(passed, want)                                                                       \
	do {                                                                                               \
		const char *got_ = ztg_authn_result_reason(&T.r);                                          \
		if (T.ok != (passed) || strcmp(got_, (want)) != 0)                                         \
			fail_msg("got %s (%s, detail \"%s\"), want %s (%s)", got_, T.ok ? "pass" : "refused", \
				 T.r.detail, (want), (passed) ? "pass" : "refused");                       \
	} while (0)

static void worker(struct ztg_authn_worker *w, uint32_t cache_entries)
{
	assert_int_equal(ztg_authn_worker_init(w, cache_entries), 0);
	assert_non_null(w->scratch);
	assert_true((w->cache != NULL) == (cache_entries > 0));
}

/* The identity bits of the named scopes, as the policy numbers them. */
static uint64_t scope_bits(const char *list)
{
	const struct ztg_policy *p = ztg_authz_policy(T.authz);
	char copy[256], *save = NULL;
	uint64_t bits = 0;

	snprintf(copy, sizeof(copy), "%s", list);
	for (char *s = strtok_r(copy, " ", &save); s != NULL; s = strtok_r(NULL, " ", &save)) {
		uint32_t i;

		for (i = 0; i < p->scope_name_count && strcmp(p->scope_names[i], s) != 0; i++)
			;
		assert_true(i < p->scope_name_count);
		bits |= 1ull << i;
	}
	return bits;
}

static uint32_t issuer_index(const char *name)
{
	const struct ztg_policy *p = ztg_authz_policy(T.authz);

	for (uint32_t i = 0; i < p->issuer_count; i++)
		if (strcmp(p->issuers[i].name, name) == 0)
			return i;
	fail_msg("no issuer %s", name);
	return 0;
}

static struct ztg_revocation_set *revocations(enum ztg_revocation_kind kind, const char *issuer, const char *value)
{
	struct ztg_revocation_list *list = ztg_revocation_list_create();
	struct ztg_revocation_set *set;
	char err[128];

	assert_non_null(list);
	assert_int_equal(ztg_revocation_list_add(list, kind, issuer, value, err, sizeof(err)), 1);
	set = ztg_revocation_set_build(list);
	assert_non_null(set);
	ztg_revocation_list_free(list);
	return set;
}

/* ------------------------------------------------------------------ tests */

static void test_route_protection(void **state)
{
	const struct ztg_policy *p = ztg_authz_policy(T.authz);

	(void)state;
	assert_int_equal(ztg_jwt_table_count(ztg_authn_issuers(T.authn)), 3);
	for (uint32_t r = 0; r < p->services[0].route_count; r++) {
		const char *name = p->services[0].routes[r].name;
		bool open = strcmp(name, "public") == 0 || strcmp(name, "admin") == 0;

		if (ztg_authn_route_protected(T.authn, 0, r) == open)
			fail_msg("route %s: protected should be %d", name, !open);
	}
	assert_true(ztg_authn_route_protected(T.authn, 1, 0));
}

static void test_anonymous_route_ignores_credentials(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/public") END));
	assert_outcome(true, "anonymous");
	assert_false(T.r.identified);
	assert_false(T.r.from_cache);
	assert_null(T.r.issuer);
	assert_string_equal(T.r.detail, "");
	/* A good token, a malformed header with a key beside it: not looked at, so neither verified nor refused. */
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/public") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "anonymous");
	assert_false(T.r.identified);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/public") "Authorization: Basic dXNlcjpwdw==\r\n"
			 "X-API-Key: nope\r\n" END));
	assert_outcome(true, "anonymous");
	assert_int_equal(w.verified, 0);
	assert_int_equal(w.api_key_lookups, 0);
	assert_false(ztg_authn_result_unauthenticated(&T.r));
	ztg_authn_worker_release(&w);
}

static void test_missing_and_malformed(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024], key[ZTG_API_KEY_MAX_BYTES + 2];

	(void)state;
	worker(&w, 16);
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);

	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") END));
	assert_outcome(false, "credentials_missing");
	assert_false(T.r.identified);
	assert_true(ztg_authn_result_unauthenticated(&T.r));

	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Basic dXNlcjpwdw==\r\n" END));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "authorization");
	assert_true(ztg_authn_result_unauthenticated(&T.r));
	/* Two tokens, none, a scheme glued to the token, the scheme alone. */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s %s\r\n" END, tok, tok));
	assert_outcome(false, "credentials_malformed");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer\r\n" END));
	assert_outcome(false, "credentials_malformed");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer   \r\n" END));
	assert_outcome(false, "credentials_malformed");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization:\r\n" END));
	assert_outcome(false, "credentials_malformed");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer%s\r\n" END, tok));
	assert_outcome(false, "credentials_malformed");
	/* A bad token header next to a good one is still malformed: the server may read either. */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n"
			  "Authorization: Basic dXNlcjpwdw==\r\n" END, tok));
	assert_outcome(false, "credentials_malformed");
	/* Present but empty: a key or a query token with no bytes is malformed, not unknown or missing. */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "X-API-Key:\r\n" END));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "x-api-key");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?access_token=") END));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "access_token");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?access_token") END));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "access_token");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?api_key") END));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "api_key");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=&x=1") END));
	assert_outcome(false, "credentials_malformed");
	/* Longer than any key can be (ZTG_API_KEY_MAX_BYTES): malformed, not looked up. */
	memset(key, 'k', ZTG_API_KEY_MAX_BYTES + 1);
	key[ZTG_API_KEY_MAX_BYTES + 1] = '\0';
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "X-API-Key: %s\r\n" END, key));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "x-api-key");
	assert_int_equal(w.verified, 0);
	assert_int_equal(w.api_key_lookups, 0);
	key[ZTG_API_KEY_MAX_BYTES] = '\0';
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=%s") END, key));
	assert_outcome(false, "api_key_unknown");
	assert_int_equal(w.api_key_lookups, 1);

	/* The scheme is case-insensitive (RFC 9110 11.1); spaces or a tab may follow it. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "authorization: BEARER \t %s\r\n" END, tok));
	assert_outcome(true, "ok");
	/* Not a JWT at all: the token's reason, which is about who (401). */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer abc\r\n" END));
	assert_outcome(false, "token_malformed");
	assert_int_equal(T.r.reason, ZTG_AUTHN_TOKEN);
	assert_true(ztg_authn_result_unauthenticated(&T.r));
	ztg_authn_worker_release(&w);
}

static void test_conflicts(void **state)
{
	struct ztg_authn_worker w;
	char a[1024], b[1024];

	(void)state;
	worker(&w, 16);
	token(a, sizeof(a), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	token(b, sizeof(b), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"mallory\"}", EXP);

	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n"
			  "Authorization: Bearer %s\r\n" END, a, b));
	assert_outcome(false, "credentials_conflict");
	assert_true(ztg_authn_result_unauthenticated(&T.r));
	/* The same token twice says one thing: no smuggling there. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n"
			 "authorization: bearer %s\r\n" END, a, a));
	assert_outcome(true, "ok");
	assert_string_equal(T.r.identity.subject, "alice");
	/* Header and query: the same token passes, another is a conflict. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me?access_token=%s") "Authorization: Bearer %s\r\n" END,
			 a, a));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?access_token=%s") "Authorization: Bearer %s\r\n" END,
			  b, a));
	assert_outcome(false, "credentials_conflict");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?access_token=%s&access_token=%s") END, a, b));
	assert_outcome(false, "credentials_conflict");
	/* A token and an API key, however valid each: which would the server believe? */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\nX-API-Key: %s\r\n" END,
			  a, EXPORT_KEY));
	assert_outcome(false, "credentials_conflict");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=%s&access_token=%s") END, EXPORT_KEY, a));
	assert_outcome(false, "credentials_conflict");
	/* Two keys: the same one twice passes, two different ones do not. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=%s") "X-API-Key: %s\r\n" END, EXPORT_KEY,
			 EXPORT_KEY));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=%s") "X-API-Key: %s\r\n" END, PLAIN_KEY,
			  EXPORT_KEY));
	assert_outcome(false, "credentials_conflict");
	assert_false(T.r.identified);
	ztg_authn_worker_release(&w);
}

static void test_valid_tokens_and_the_cache(void **state)
{
	struct ztg_authn_worker w, nc;
	char es[1024], hs[1024];

	(void)state;
	worker(&w, 64);
	worker(&nc, 0);
	token(es, sizeof(es), SIGN_IDP, "es1",
	      "{" IDP ",\"sub\":\"alice\",\"jti\":\"t-1\",\"scope\":\"orders:read admin other\"}", EXP);
	token(hs, sizeof(hs), SIGN_HS, "hs1", "{" HS ",\"sub\":\"bob\",\"scp\":[\"orders:write\"]}", EXP);

	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, es));
	assert_outcome(true, "ok");
	assert_true(T.r.identified);
	assert_false(T.r.from_cache);
	assert_string_equal(T.r.issuer, "idp");
	assert_string_equal(T.r.detail, "");
	assert_string_equal(T.r.kid, "");
	assert_int_equal(T.r.jwt, ZTG_JWT_OK);
	assert_int_equal(T.r.identity.kind, ZTG_IDENTITY_JWT);
	assert_int_equal(T.r.identity.alg, ZTG_JWT_ALG_ES256);
	assert_int_equal(T.r.identity.issuer, issuer_index("idp"));
	assert_string_equal(T.r.identity.subject, "alice");
	assert_string_equal(T.r.identity.kid, "es1");
	assert_string_equal(T.r.identity.jti, "t-1");
	assert_int_equal(T.r.identity.expires, EXP);
	/* "other" is no scope any route asks about: it has no bit. */
	assert_int_equal(T.r.identity.scopes, scope_bits("orders:read admin"));
	assert_int_equal(w.verified, 1);
	assert_int_equal(w.cache_hits, 0);
	assert_false(ztg_authn_result_unauthenticated(&T.r));

	/* The same worker again: from its cache, the same identity, no signature checked. */
	assert_true(submit(&w, NULL, NOW + 1, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, es));
	assert_outcome(true, "ok");
	assert_true(T.r.from_cache);
	assert_true(T.r.identified);
	assert_string_equal(T.r.issuer, "idp");
	assert_string_equal(T.r.identity.subject, "alice");
	assert_int_equal(T.r.identity.scopes, scope_bits("orders:read admin"));
	assert_int_equal(w.verified, 1);
	assert_int_equal(w.cache_hits, 1);

	/* HS256 from the other issuer, through the query parameter. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me?access_token=%s") END, hs));
	assert_outcome(true, "ok");
	assert_false(T.r.from_cache);
	assert_string_equal(T.r.issuer, "hs");
	assert_int_equal(T.r.identity.alg, ZTG_JWT_ALG_HS256);
	assert_string_equal(T.r.identity.subject, "bob");
	assert_string_equal(T.r.identity.kid, "hs1");
	assert_int_equal(T.r.identity.jti_len, 0);
	assert_int_equal(T.r.identity.scopes, scope_bits("orders:write"));
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, hs));
	assert_true(T.r.from_cache);
	assert_string_equal(T.r.issuer, "hs");
	assert_int_equal(w.verified, 2);
	assert_int_equal(w.cache_hits, 2);

	/* Without a cache every request is verified. */
	for (int i = 0; i < 3; i++) {
		assert_true(submit(&nc, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, es));
		assert_outcome(true, "ok");
		assert_false(T.r.from_cache);
		assert_string_equal(T.r.identity.subject, "alice");
	}
	assert_int_equal(nc.verified, 3);
	assert_int_equal(nc.cache_hits, 0);

	/* The bare-token service: its own header, no scheme; Authorization means nothing there. */
	assert_true(submit(&w, NULL, NOW, GET("bare.test", "/me") "X-Token: %s\r\n" END, es));
	assert_outcome(true, "ok");
	assert_true(T.r.from_cache);
	assert_false(submit(&w, NULL, NOW, GET("bare.test", "/me") "X-Token: Bearer %s\r\n" END, es));
	assert_outcome(false, "credentials_malformed");
	assert_string_equal(T.r.detail, "x-token");
	assert_false(submit(&w, NULL, NOW, GET("bare.test", "/me") "Authorization: Bearer %s\r\n" END, es));
	assert_outcome(false, "credentials_missing");
	/* Nor are API keys: that service takes none. */
	assert_false(submit(&w, NULL, NOW, GET("bare.test", "/me?api_key=%s") "X-API-Key: %s\r\n" END, EXPORT_KEY,
			  EXPORT_KEY));
	assert_outcome(false, "credentials_missing");
	ztg_authn_worker_release(&w);
	ztg_authn_worker_release(&nc);
}

static void test_refused_tokens(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	/* Signed by a key nobody trusts, under the trusted kid: refused, never cached. */
	token(tok, sizeof(tok), SIGN_ROGUE, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	for (int i = 0; i < 2; i++) {
		assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
		assert_outcome(false, "bad_signature");
		assert_int_equal(T.r.reason, ZTG_AUTHN_TOKEN);
		assert_int_equal(T.r.jwt, ZTG_JWT_BAD_SIGNATURE);
		assert_false(T.r.identified);
		assert_false(T.r.from_cache);
		assert_string_equal(T.r.issuer, "idp");
		assert_string_equal(T.r.kid, "es1");
		assert_true(ztg_authn_result_unauthenticated(&T.r));
	}
	assert_int_equal(w.verified, 2);
	token(tok, sizeof(tok), SIGN_IDP, "es9", "{" IDP ",\"sub\":\"alice\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "unknown_kid");
	assert_string_equal(T.r.kid, "es9");
	atomic_store(&ztg_jwt_table_issuer(ztg_authn_issuers(T.authn), issuer_index("idp"))->unknown_kid, false);
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{\"iss\":\"https://nobody.test\",\"aud\":\"api\",\"exp\":%lld,"
	      "\"sub\":\"alice\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "issuer_unknown");
	assert_null(T.r.issuer);
	/* A trusted issuer this service does not take. */
	token(tok, sizeof(tok), SIGN_PARTNER, "p1", "{\"iss\":\"" PARTNER_ISS "\",\"aud\":\"api\",\"exp\":%lld,"
	      "\"sub\":\"pat\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "issuer_not_accepted");
	assert_string_equal(T.r.issuer, "partner");
	assert_true(submit(&w, NULL, NOW, GET("partner.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_string_equal(T.r.issuer, "partner");
	ztg_authn_worker_release(&w);
}

/* The cache knows tokens, not services: a token verified for one must not pass another through it. */
static void test_cached_token_for_another_service(void **state)
{
	struct ztg_authn_worker w, nc;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	worker(&nc, 0);
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("partner.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "issuer_not_accepted");
	assert_true(T.r.from_cache);
	assert_false(T.r.identified);
	assert_string_equal(T.r.issuer, "idp");
	assert_string_equal(T.r.kid, "es1");
	assert_true(ztg_authn_result_unauthenticated(&T.r));
	assert_int_equal(w.verified, 1);
	/* And verified from scratch, the same answer. */
	assert_false(submit(&nc, NULL, NOW, GET("partner.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "issuer_not_accepted");
	assert_false(T.r.from_cache);
	assert_string_equal(T.r.issuer, "idp");
	/* The service that takes it still does, from the cache. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_true(T.r.from_cache);
	ztg_authn_worker_release(&w);
	ztg_authn_worker_release(&nc);
}

static void test_expiry(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_true(submit(&w, NULL, EXP - 1, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_true(T.r.from_cache);
	/* At exp the cached entry is gone; the verifier still grants the issuer's leeway. */
	assert_true(submit(&w, NULL, EXP, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_false(T.r.from_cache);
	assert_int_equal(w.verified, 2);
	/* Past the leeway: expired, whether or not it was cached a moment ago. */
	assert_false(submit(&w, NULL, EXP + LEEWAY, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "expired");
	assert_false(T.r.from_cache);
	assert_false(T.r.identified);
	assert_string_equal(T.r.detail, "exp");
	assert_true(ztg_authn_result_unauthenticated(&T.r));
	assert_int_equal(w.verified, 3);
	ztg_authn_worker_release(&w);
}

static void test_revocation(void **state)
{
	struct ztg_authn_worker w;
	struct ztg_revocation_set *by_jti = revocations(ZTG_REVOKE_JTI, NULL, "t-42");
	struct ztg_revocation_set *by_sub = revocations(ZTG_REVOKE_SUBJECT, "idp", "alice");
	struct ztg_revocation_set *by_other_issuer = revocations(ZTG_REVOKE_SUBJECT, "hs", "alice");
	struct ztg_revocation_set *by_key = revocations(ZTG_REVOKE_API_KEY, NULL, "export");
	char with_jti[1024], alice[1024];

	(void)state;
	worker(&w, 16);
	token(with_jti, sizeof(with_jti), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"carol\",\"jti\":\"t-42\"}", EXP);
	token(alice, sizeof(alice), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\",\"jti\":\"t-43\"}", EXP);

	/* Verified and cached first, then revoked: a cache hit is checked against the list too. */
	assert_true(submit(&w, by_jti, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, alice));
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, with_jti));
	assert_false(submit(&w, by_jti, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, with_jti));
	assert_outcome(false, "revoked");
	assert_string_equal(T.r.detail, "jti");
	assert_true(T.r.from_cache);
	assert_true(T.r.identified);
	assert_string_equal(T.r.identity.subject, "carol");
	assert_true(ztg_authn_result_unauthenticated(&T.r));

	assert_false(submit(&w, by_sub, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, alice));
	assert_outcome(false, "revoked");
	assert_string_equal(T.r.detail, "sub");
	assert_true(T.r.from_cache);
	/* A subject is revoked for its issuer only. */
	assert_true(submit(&w, by_other_issuer, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, alice));
	assert_true(submit(&w, by_key, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, alice));

	assert_false(submit(&w, by_key, NOW, GET("api.test", "/me") "X-API-Key: %s\r\n" END, EXPORT_KEY));
	assert_outcome(false, "revoked");
	assert_string_equal(T.r.detail, "key");
	assert_string_equal(T.r.issuer, "api-key");
	assert_true(submit(&w, by_key, NOW, GET("api.test", "/me") "X-API-Key: %s\r\n" END, PLAIN_KEY));
	assert_true(submit(&w, by_jti, NOW, GET("api.test", "/me") "X-API-Key: %s\r\n" END, EXPORT_KEY));
	ztg_revocation_set_free(by_jti);
	ztg_revocation_set_free(by_sub);
	ztg_revocation_set_free(by_other_issuer);
	ztg_revocation_set_free(by_key);
	ztg_authn_worker_release(&w);
}

static void test_scopes(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	/* all: both or nothing; the detail names the first one missing. */
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"scope\":\"orders:write orders:read\"}", EXP);
	assert_true(submit(&w, NULL, NOW, "POST /orders HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n"
			 "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"scope\":\"orders:read\"}", EXP);
	assert_false(submit(&w, NULL, NOW, "POST /orders HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n"
			  "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "scope_missing");
	assert_string_equal(T.r.detail, "orders:write");
	assert_true(T.r.identified);
	assert_string_equal(T.r.identity.subject, "a");
	assert_false(ztg_authn_result_unauthenticated(&T.r));
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"scope\":\"orders:write\"}", EXP);
	assert_false(submit(&w, NULL, NOW, "POST /orders HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n"
			  "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "scope_missing");
	assert_string_equal(T.r.detail, "orders:read");
	/* Only scopes no route asks about: no bits at all, never a pass. */
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"scope\":\"orders:delete root\"}", EXP);
	assert_false(submit(&w, NULL, NOW, "POST /orders HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n"
			  "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "scope_missing");
	assert_string_equal(T.r.detail, "orders:read");
	assert_int_equal(T.r.identity.scopes, 0);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/reports") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "scope_missing");

	/* any: one of them is enough, none is scope_missing. */
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"roles\":[\"admin\"]}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/reports") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"scope\":\"reports:read\"}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/reports") "Authorization: Bearer %s\r\n" END, tok));
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"a\",\"scope\":\"orders:read orders:write\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/reports") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "scope_missing");
	assert_string_equal(T.r.detail, "reports:read");
	/* Refused for scopes from the cache too: the requirement is checked on every request. */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/reports") "Authorization: Bearer %s\r\n" END, tok));
	assert_true(T.r.from_cache);
	assert_outcome(false, "scope_missing");
	ztg_authn_worker_release(&w);
}

static void test_claims(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\",\"tier\":\"gold\"}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/gold") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/alice") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"bob\",\"tier\":\"silver\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/gold") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "claim_mismatch");
	assert_string_equal(T.r.detail, "tier");
	assert_true(T.r.identified);
	assert_false(ztg_authn_result_unauthenticated(&T.r));
	/* "sub" in claims is the identity's subject. */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/alice") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "claim_mismatch");
	assert_string_equal(T.r.detail, "sub");
	/* A prefix is not the value; absent is not a match. */
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"bob\",\"tier\":\"gol\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/gold") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "claim_mismatch");
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"bob\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/gold") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "claim_mismatch");
	assert_string_equal(T.r.detail, "tier");
	ztg_authn_worker_release(&w);
}

static void test_bindings(void **state)
{
	struct ztg_authn_worker w;
	char tok[1024];

	(void)state;
	worker(&w, 16);
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\",\"tenant\":\"acme\"}", EXP);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme/users/alice") "Authorization: Bearer %s\r\n"
			 END, tok));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/globex/users/alice")
			  "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "object_mismatch");
	assert_string_equal(T.r.detail, "{tenant}");
	assert_false(ztg_authn_result_unauthenticated(&T.r));
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme/users/bob") "Authorization: Bearer %s\r\n"
			  END, tok));
	assert_outcome(false, "object_mismatch");
	assert_string_equal(T.r.detail, "{id}");
	/* A capture longer or shorter than the claim is another object. */
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme2/users/alice")
			  "Authorization: Bearer %s\r\n" END, tok));
	assert_string_equal(T.r.detail, "{tenant}");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/acm/users/alice") "Authorization: Bearer %s\r\n"
			  END, tok));
	assert_string_equal(T.r.detail, "{tenant}");
	/* Captures are of the canonical path: decoded once, dot segments gone. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/tenants/ac%%6De/users/%%61lice")
			 "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/tenants/globex/../acme/users/alice")
			 "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme/../globex/users/alice")
			  "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "object_mismatch");
	/* The parameters in the other order in the template: each binding finds its own. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/u/alice/t/acme") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/u/acme/t/alice") "Authorization: Bearer %s\r\n" END, tok));
	assert_outcome(false, "object_mismatch");
	assert_string_equal(T.r.detail, "{tenant}");
	/* No tenant claim at all: nothing it could be bound to. */
	token(tok, sizeof(tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme/users/alice") "Authorization: Bearer %s\r\n"
			  END, tok));
	assert_outcome(false, "object_mismatch");
	assert_string_equal(T.r.detail, "{tenant}");
	ztg_authn_worker_release(&w);
}

static void test_api_keys(void **state)
{
	struct ztg_authn_worker w;

	(void)state;
	worker(&w, 16);
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "X-API-Key: %s\r\n" END, EXPORT_KEY));
	assert_outcome(true, "ok");
	assert_true(T.r.identified);
	assert_false(T.r.from_cache);
	assert_string_equal(T.r.issuer, "api-key");
	assert_int_equal(T.r.identity.kind, ZTG_IDENTITY_API_KEY);
	assert_string_equal(T.r.identity.subject, "svc-export");
	assert_string_equal(T.r.identity.kid, "export");
	assert_int_equal(T.r.identity.scopes, scope_bits("orders:read"));
	assert_int_equal(T.r.identity.expires, INT64_MAX);
	assert_int_equal(w.api_key_lookups, 1);
	assert_int_equal(w.verified, 0);
	/* Header names are case-insensitive; the query parameter works as well. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "x-api-key: %s\r\n" END, EXPORT_KEY));
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=%s") END, EXPORT_KEY));
	assert_outcome(true, "ok");
	assert_string_equal(T.r.identity.subject, "svc-export");
	/* Decoded like any query value. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=export%%2Dkey-1") END));
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/me") "X-API-Key: %s\r\n" END, PLAIN_KEY));
	assert_string_equal(T.r.identity.subject, "svc-plain");
	assert_string_equal(T.r.identity.kid, "plain");
	assert_int_equal(T.r.identity.scopes, 0);

	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me") "X-API-Key: export-key-2\r\n" END));
	assert_outcome(false, "api_key_unknown");
	assert_false(T.r.identified);
	assert_null(T.r.issuer);
	assert_true(ztg_authn_result_unauthenticated(&T.r));
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/me?api_key=EXPORT-KEY-1") END));
	assert_outcome(false, "api_key_unknown");

	/* The key's claims from the policy stand in for a token's: claims and bindings. */
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/gold") "X-API-Key: %s\r\n" END, EXPORT_KEY));
	assert_outcome(true, "ok");
	assert_true(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme/users/svc-export") "X-API-Key: %s\r\n" END,
			 EXPORT_KEY));
	assert_outcome(true, "ok");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/globex/users/svc-export") "X-API-Key: %s\r\n" END,
			  EXPORT_KEY));
	assert_outcome(false, "object_mismatch");
	assert_string_equal(T.r.detail, "{tenant}");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/tenants/acme/users/svc-plain") "X-API-Key: %s\r\n" END,
			  PLAIN_KEY));
	assert_outcome(false, "object_mismatch");
	assert_false(submit(&w, NULL, NOW, GET("api.test", "/gold") "X-API-Key: %s\r\n" END, PLAIN_KEY));
	assert_outcome(false, "claim_mismatch");
	assert_false(submit(&w, NULL, NOW, "POST /orders HTTP/1.1\r\nHost: api.test\r\nContent-Length: 0\r\n"
			  "X-API-Key: %s\r\n" END, EXPORT_KEY));
	assert_outcome(false, "scope_missing");
	assert_string_equal(T.r.detail, "orders:write");
	ztg_authn_worker_release(&w);
}

/* New keys bump the epoch: what a worker cached under the old ones is verified again. */
static void test_key_replacement(void **state)
{
	struct ztg_authz *authz = build_authz(2);
	struct ztg_authn *authn;
	struct ztg_authn_worker w, nc;
	struct ztg_keyset *fresh = NULL, *old;
	char jwks[512], err[256], old_tok[1024], new_tok[1024], hs_tok[1024];
	uint32_t idp;

	(void)state;
	assert_non_null(authz);
	authn = ztg_authz_authn(authz);
	idp = issuer_index("idp");
	worker(&w, 16);
	worker(&nc, 0);
	token(old_tok, sizeof(old_tok), SIGN_IDP, "es1", "{" IDP ",\"sub\":\"alice\"}", EXP);
	token(new_tok, sizeof(new_tok), SIGN_IDP, "es2", "{" IDP ",\"sub\":\"alice\"}", EXP);
	token(hs_tok, sizeof(hs_tok), SIGN_HS, "hs1", "{" HS ",\"sub\":\"bob\"}", EXP);
	assert_true(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, old_tok));
	assert_true(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, old_tok));
	assert_true(T.r.from_cache);
	assert_false(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END,
			     new_tok));
	assert_outcome(false, "unknown_kid");
	assert_true(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, hs_tok));
	assert_int_equal(w.verified, 3);

	/* The same key published under a new kid: the old kid is gone. */
	ec_jwks(T.es, "es2", jwks, sizeof(jwks));
	assert_int_equal(ztg_keyset_from_jwks(jwks, strlen(jwks), &fresh, err, sizeof(err)), 0);
	old = ztg_authn_replace_keys(authn, idp, fresh);
	assert_non_null(old);
	assert_int_equal(old->count, 1);
	assert_string_equal(old->keys[0].kid, "es1");
	/* No worker is inside a check here: the quiescent state is now. */
	ztg_keyset_free(old);
	assert_ptr_equal(atomic_load(&ztg_jwt_table_issuer(ztg_authn_issuers(authn), idp)->keys), fresh);

	assert_false(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END,
			     old_tok));
	assert_outcome(false, "unknown_kid");
	assert_false(T.r.from_cache);
	assert_string_equal(T.r.kid, "es1");
	assert_string_equal(T.r.issuer, "idp");
	assert_int_equal(w.verified, 4);
	assert_true(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, new_tok));
	assert_outcome(true, "ok");
	assert_string_equal(T.r.identity.kid, "es2");
	assert_true(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, new_tok));
	assert_true(T.r.from_cache);
	assert_false(send_to(authz, &nc, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END,
			     old_tok));
	assert_outcome(false, "unknown_kid");
	/* Another issuer's cached tokens are verified again too (one epoch for all), and still pass. */
	assert_true(send_to(authz, &w, NULL, NOW, GET("api.test", "/me") "Authorization: Bearer %s\r\n" END, hs_tok));
	assert_false(T.r.from_cache);
	assert_string_equal(T.r.issuer, "hs");
	assert_int_equal(w.verified, 6);
	ztg_authn_worker_release(&w);
	ztg_authn_worker_release(&nc);
	/* The authz frees the keys in force, the replacement included. */
	ztg_authz_free(authz);
}

static void test_unauthenticated_classes(void **state)
{
	static const struct {
		enum ztg_authn_reason reason;
		bool who;
		const char *name;
	} cases[] = {
		{ ZTG_AUTHN_OK, false, "ok" },
		{ ZTG_AUTHN_ANONYMOUS, false, "anonymous" },
		{ ZTG_AUTHN_CREDENTIALS_MISSING, true, "credentials_missing" },
		{ ZTG_AUTHN_CREDENTIALS_CONFLICT, true, "credentials_conflict" },
		{ ZTG_AUTHN_CREDENTIALS_MALFORMED, true, "credentials_malformed" },
		{ ZTG_AUTHN_TOKEN, true, "expired" },
		{ ZTG_AUTHN_API_KEY_UNKNOWN, true, "api_key_unknown" },
		{ ZTG_AUTHN_REVOKED, true, "revoked" },
		{ ZTG_AUTHN_SCOPE_MISSING, false, "scope_missing" },
		{ ZTG_AUTHN_CLAIM_MISMATCH, false, "claim_mismatch" },
		{ ZTG_AUTHN_OBJECT_MISMATCH, false, "object_mismatch" },
	};
	struct ztg_authn_result r = { .jwt = ZTG_JWT_EXPIRED };

	(void)state;
	assert_int_equal(sizeof(cases) / sizeof(cases[0]), ZTG_AUTHN_REASON_COUNT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.reason = cases[i].reason;
		assert_string_equal(ztg_authn_result_reason(&r), cases[i].name);
		if (ztg_authn_result_unauthenticated(&r) != cases[i].who)
			fail_msg("%s: unauthenticated should be %d", cases[i].name, cases[i].who);
	}
	r.reason = ZTG_AUTHN_REASON_COUNT;
	assert_string_equal(ztg_authn_result_reason(&r), "?");
	assert_false(ztg_authn_result_unauthenticated(&r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_protection),
		cmocka_unit_test(test_anonymous_route_ignores_credentials),
		cmocka_unit_test(test_missing_and_malformed),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_valid_tokens_and_the_cache),
		cmocka_unit_test(test_refused_tokens),
		cmocka_unit_test(test_cached_token_for_another_service),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_revocation),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_api_keys),
		cmocka_unit_test(test_key_replacement),
		cmocka_unit_test(test_unauthenticated_classes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
