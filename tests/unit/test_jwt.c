/*
 * Unit tests for JWT verification (auth/jwt.h): every algorithm against keys
 * made here with OpenSSL, and each refusal reason with a token crafted for
 * it. A small EVP signer below builds compact tokens from header and payload
 * JSON written by hand, so that duplicates, crit, jku and the like can be
 * signed like any other token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "auth/base64url.h"
#include "auth/jwt.h"

#define NOW 1700000000LL

#define MAIN_ISS   "https://main.example"
#define RSA_ISS    "https://rsa-only.example"
#define TYPED_ISS  "https://typed.example"
#define OTHER_ISS  "https://other.example"
#define NOKEYS_ISS "https://nokeys.example"

/* The main issuer's usual claims, before whatever a test adds. */
#define STD "\"iss\":\"" MAIN_ISS "\",\"sub\":\"alice\",\"aud\":\"api\",\"exp\":1700000600"

enum { ISS_MAIN, ISS_RSA, ISS_TYPED, ISS_OTHER, ISS_NOKEYS, ISS_COUNT };
enum { KEY_RSA, KEY_P256, KEY_P384, KEY_P521, KEY_ED25519, KEY_COUNT };

static const char *const key_kids[KEY_COUNT] = { "rsa", "p256", "p384", "p521", "ed" };
static const char *const audiences[] = { "api", "billing" };
static const char *const typed_required[] = { "jti", "tenant" };

static struct {
	EVP_PKEY *pkey[KEY_COUNT];
	uint8_t secret[64];
	struct ztg_keyset *sets[ISS_COUNT];
	struct ztg_jwt_issuer issuers[ISS_COUNT];
	struct ztg_jwt_table *table;
	struct ztg_jwt_scratch *scratch;
	struct ztg_auth_names names;
	struct ztg_identity id;
	struct ztg_jwt_failure why;
	char token[2 * ZTG_JWT_MAX_TOKEN];
	const char *ctx;                      /* the table case being checked, for failure messages */
	char fmt[4][2 * ZTG_JWT_MAX_TOKEN];
	unsigned int fmt_next;
} T;

#define assert_reason(got, want)                                                                   \
	do {                                                                                       \
		enum ztg_jwt_reason got_ = (got), want_ = (want);                                  \
		if (got_ != want_)                                                                 \
			fail_msg("got %s, want %s (detail \"%s\", case %s)", ztg_jwt_reason_name(got_), \
				 ztg_jwt_reason_name(want_), T.why.detail, T.ctx);                 \
	} while (0)

/* printf into one of a few rotating buffers: a header and a payload fit in one call. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static const char *fmt(const char *f, ...)
{
	char *out = T.fmt[T.fmt_next++ % 4];
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, sizeof(T.fmt[0]), f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(T.fmt[0]));
	return out;
}

static const char *repeat(char c, size_t n)
{
	char *out = T.fmt[T.fmt_next++ % 4];

	assert_true(n < sizeof(T.fmt[0]));
	memset(out, c, n);
	out[n] = '\0';
	return out;
}

static const char *hdr(enum ztg_jwt_alg alg, const char *kid)
{
	return fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", ztg_jwt_alg_name(alg), kid);
}

/* -------------------------------------------------------------- the signer */

static const EVP_MD *alg_md(enum ztg_jwt_alg alg)
{
	switch (alg) {
	case ZTG_JWT_ALG_HS384: case ZTG_JWT_ALG_RS384: case ZTG_JWT_ALG_PS384: case ZTG_JWT_ALG_ES384:
		return EVP_sha384();
	case ZTG_JWT_ALG_HS512: case ZTG_JWT_ALG_RS512: case ZTG_JWT_ALG_PS512: case ZTG_JWT_ALG_ES512:
		return EVP_sha512();
	case ZTG_JWT_ALG_EDDSA:
		return NULL;
	default:
		return EVP_sha256();
	}
}

static bool alg_is(enum ztg_jwt_alg alg, enum ztg_jwt_alg first, enum ztg_jwt_alg last)
{
	return alg >= first && alg <= last;
}

/* The JWS signature over in[0..len): HMAC, or pkey's (ECDSA as R || S). */
static size_t sign_bytes(enum ztg_jwt_alg alg, const uint8_t *secret, size_t secret_len, EVP_PKEY *pkey,
			 int pss_salt, const char *in, size_t len, uint8_t *sig, size_t cap)
{
	const EVP_MD *md = alg_md(alg);
	EVP_MD_CTX *ctx;
	EVP_PKEY_CTX *pctx = NULL;
	size_t n = cap;

	if (alg_is(alg, ZTG_JWT_ALG_HS256, ZTG_JWT_ALG_HS512)) {
		unsigned int mac_len = 0;

		assert_non_null(HMAC(md, secret, (int)secret_len, (const uint8_t *)in, len, sig, &mac_len));
		return mac_len;
	}
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey), 1);
	if (alg_is(alg, ZTG_JWT_ALG_PS256, ZTG_JWT_ALG_PS512)) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md), 1);
	}
	assert_int_equal(EVP_DigestSign(ctx, sig, &n, (const uint8_t *)in, len), 1);
	EVP_MD_CTX_free(ctx);
	if (alg_is(alg, ZTG_JWT_ALG_ES256, ZTG_JWT_ALG_ES512)) {
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		const BIGNUM *r, *s;
		int half = (EVP_PKEY_get_bits(pkey) + 7) / 8;

		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		assert_int_equal(BN_bn2binpad(r, sig, half), half);
		assert_int_equal(BN_bn2binpad(s, sig + half, half), half);
		ECDSA_SIG_free(es);
		n = 2 * (size_t)half;
	}
	return n;
}

/* T.token = b64(header) "." b64(payload) "." sig_b64. */
static char *assemble(const char *header, const char *payload, const char *sig_b64)
{
	size_t cap = sizeof(T.token), o;

	o = ztg_base64url_encode((const uint8_t *)header, strlen(header), T.token, cap);
	assert_true(o != ZTG_B64_ENCODE_NO_SPACE);
	T.token[o++] = '.';
	size_t p = ztg_base64url_encode((const uint8_t *)payload, strlen(payload), T.token + o, cap - o);

	assert_true(p != ZTG_B64_ENCODE_NO_SPACE);
	o += p;
	assert_true(o + 1 + strlen(sig_b64) < cap);
	T.token[o++] = '.';
	strcpy(T.token + o, sig_b64);
	return T.token;
}

static char *sign_full(enum ztg_jwt_alg alg, const uint8_t *secret, size_t secret_len, EVP_PKEY *pkey,
		       int pss_salt, const char *header, const char *payload)
{
	uint8_t sig[1024];
	char *dot;
	size_t n;

	assemble(header, payload, "");
	dot = strrchr(T.token, '.');
	n = sign_bytes(alg, secret, secret_len, pkey, pss_salt, T.token, (size_t)(dot - T.token), sig, sizeof(sig));
	assert_true(ztg_base64url_encode(sig, n, dot + 1, sizeof(T.token) - (size_t)(dot + 1 - T.token)) !=
		    ZTG_B64_ENCODE_NO_SPACE);
	return T.token;
}

static EVP_PKEY *key_for(enum ztg_jwt_alg alg)
{
	switch (alg) {
	case ZTG_JWT_ALG_ES256: return T.pkey[KEY_P256];
	case ZTG_JWT_ALG_ES384: return T.pkey[KEY_P384];
	case ZTG_JWT_ALG_ES512: return T.pkey[KEY_P521];
	case ZTG_JWT_ALG_EDDSA: return T.pkey[KEY_ED25519];
	default: return T.pkey[KEY_RSA];
	}
}

/* Signed the way a legitimate issuer would: the key the algorithm calls for. */
static char *sign(enum ztg_jwt_alg alg, const char *header, const char *payload)
{
	return sign_full(alg, T.secret, sizeof(T.secret), key_for(alg), RSA_PSS_SALTLEN_DIGEST, header, payload);
}

static char *sign_hs(const char *payload)
{
	return sign(ZTG_JWT_ALG_HS256, hdr(ZTG_JWT_ALG_HS256, "hs"), payload);
}

/* ---------------------------------------------------------------- verify */

static enum ztg_jwt_reason verify_full(const char *token, size_t len, int64_t now, const uint64_t *accept,
				       const struct ztg_auth_names *names)
{
	return ztg_jwt_verify(T.table, accept, names, token, len, now, T.scratch, &T.id, &T.why);
}

static enum ztg_jwt_reason verify(const char *token)
{
	return verify_full(token, strlen(token), NOW, NULL, &T.names);
}

/* ---------------------------------------------------------------- fixture */

static char *pem_of(EVP_PKEY *pkey, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	n = BIO_get_mem_data(bio, &data);
	copy = malloc((size_t)n + 1);
	assert_non_null(copy);
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*len = (size_t)n;
	BIO_free(bio);
	return copy;
}

static void add_pem(struct ztg_keyset **set, EVP_PKEY *pkey, const char *kid)
{
	char err[256] = "";
	size_t len;
	char *pem = pem_of(pkey, &len);

	if (ztg_keyset_add_pem(set, pem, len, kid, err, sizeof(err)) != 0)
		fail_msg("add_pem %s: %s", kid, err);
	free(pem);
}

/* A key set holding one HMAC secret under kid. */
static struct ztg_keyset *oct_set(const uint8_t *secret, size_t len, const char *kid)
{
	char k[128], jwks[256], err[256] = "";
	struct ztg_keyset *set = NULL;

	assert_true(ztg_base64url_encode(secret, len, k, sizeof(k)) != ZTG_B64_ENCODE_NO_SPACE);
	snprintf(jwks, sizeof(jwks), "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"%s\",\"use\":\"sig\",\"k\":\"%s\"}]}", kid,
		 k);
	if (ztg_keyset_from_jwks(jwks, strlen(jwks), &set, err, sizeof(err)) != 0)
		fail_msg("jwks: %s", err);
	return set;
}

static int setup(void **state)
{
	static const char *const scopes[] = { "read", "write", "admin", "billing:view", "ops" };
	static const char *const claims[] = { "tenant", "level", "active", "email", "note" };
	char err[256] = "";

	(void)state;
	T.pkey[KEY_RSA] = EVP_RSA_gen(2048);
	T.pkey[KEY_P256] = EVP_EC_gen("P-256");
	T.pkey[KEY_P384] = EVP_EC_gen("P-384");
	T.pkey[KEY_P521] = EVP_EC_gen("P-521");
	T.pkey[KEY_ED25519] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	for (int k = 0; k < KEY_COUNT; k++)
		assert_non_null(T.pkey[k]);
	assert_int_equal(RAND_bytes(T.secret, sizeof(T.secret)), 1);

	T.sets[ISS_MAIN] = oct_set(T.secret, sizeof(T.secret), "hs");
	for (int k = 0; k < KEY_COUNT; k++)
		add_pem(&T.sets[ISS_MAIN], T.pkey[k], key_kids[k]);
	add_pem(&T.sets[ISS_RSA], T.pkey[KEY_RSA], "rsa");
	T.sets[ISS_TYPED] = oct_set(T.secret, sizeof(T.secret), "hs");
	T.sets[ISS_OTHER] = oct_set(T.secret, sizeof(T.secret), "hs");

	T.issuers[ISS_MAIN] = (struct ztg_jwt_issuer){
		.name = "main", .iss = MAIN_ISS, .algs = (1u << ZTG_JWT_ALG_COUNT) - 1,
		.audiences = audiences, .audience_count = 2, .leeway = 30,
	};
	T.issuers[ISS_RSA] = (struct ztg_jwt_issuer){
		.name = "rsa", .iss = RSA_ISS, .algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_RS256),
	};
	T.issuers[ISS_TYPED] = (struct ztg_jwt_issuer){
		.name = "typed", .iss = TYPED_ISS, .algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256),
		.max_token_bytes = 1024, .typ = "at+jwt", .required_claims = typed_required, .required_count = 2,
		.identity_claim = "client_id", .scope_claim = "permissions",
	};
	T.issuers[ISS_OTHER] = (struct ztg_jwt_issuer){
		.name = "other", .iss = OTHER_ISS, .algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256),
	};
	T.issuers[ISS_NOKEYS] = (struct ztg_jwt_issuer){
		.name = "nokeys", .iss = NOKEYS_ISS, .algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256),
	};
	for (int i = 0; i < ISS_COUNT; i++)
		atomic_store_explicit(&T.issuers[i].keys, T.sets[i], memory_order_release);
	T.table = ztg_jwt_table_build(T.issuers, ISS_COUNT, err, sizeof(err));
	if (T.table == NULL)
		fail_msg("table: %s", err);
	T.scratch = ztg_jwt_scratch_create();
	assert_non_null(T.scratch);

	for (size_t s = 0; s < sizeof(scopes) / sizeof(scopes[0]); s++)
		T.names.scopes[T.names.scope_count++] = scopes[s];
	for (size_t c = 0; c < sizeof(claims) / sizeof(claims[0]); c++)
		T.names.claims[T.names.claim_count++] = claims[c];
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ztg_jwt_scratch_free(T.scratch);
	ztg_jwt_table_free(T.table);
	for (int i = 0; i < ISS_COUNT; i++)
		ztg_keyset_free(T.sets[i]);
	for (int k = 0; k < KEY_COUNT; k++)
		EVP_PKEY_free(T.pkey[k]);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	T.ctx = "-";
	return 0;
}

/* ----------------------------------------------------------- algorithms */

static void test_every_algorithm_verifies(void **state)
{
	static const char *const kids[ZTG_JWT_ALG_COUNT] = {
		"hs", "hs", "hs", "rsa", "rsa", "rsa", "rsa", "rsa", "rsa", "p256", "p384", "p521", "ed",
	};

	(void)state;
	for (int a = 0; a < ZTG_JWT_ALG_COUNT; a++) {
		char *t = sign((enum ztg_jwt_alg)a, hdr((enum ztg_jwt_alg)a, kids[a]), "{" STD "}");
		char *sig = strrchr(t, '.') + 1;

		T.ctx = ztg_jwt_alg_name((enum ztg_jwt_alg)a);
		assert_reason(verify(t), ZTG_JWT_OK);
		assert_int_equal(T.why.reason, ZTG_JWT_OK);
		assert_int_equal(T.id.kind, ZTG_IDENTITY_JWT);
		assert_int_equal(T.id.alg, a);
		assert_int_equal(T.id.issuer, ISS_MAIN);
		assert_string_equal(T.id.subject, "alice");
		assert_int_equal(T.id.subject_len, 5);
		assert_string_equal(T.id.kid, kids[a]);
		assert_int_equal(T.id.kid_len, strlen(kids[a]));
		assert_int_equal(T.id.expires, NOW + 600);
		/* the scratch is reused: the same token again, then one signature bit changed */
		assert_reason(verify(t), ZTG_JWT_OK);
		sig[4] = sig[4] == 'A' ? 'B' : 'A';
		assert_reason(verify(t), ZTG_JWT_BAD_SIGNATURE);
	}
}

static void test_rsa_token_without_kid_uses_the_only_key(void **state)
{
	(void)state;
	assert_reason(verify(sign(ZTG_JWT_ALG_RS256, "{\"alg\":\"RS256\"}",
				  "{\"iss\":\"" RSA_ISS "\",\"sub\":\"bob\",\"exp\":1700000600}")), ZTG_JWT_OK);
	assert_int_equal(T.id.issuer, ISS_RSA);
	assert_int_equal(T.id.kid_len, 0);
	assert_string_equal(T.id.kid, "");
	/* the main issuer has several keys: no kid names none of them */
	assert_reason(verify(sign(ZTG_JWT_ALG_RS256, "{\"alg\":\"RS256\"}", "{" STD "}")), ZTG_JWT_UNKNOWN_KID);
	atomic_store(&T.issuers[ISS_MAIN].unknown_kid, false);
}

static void test_pss_salt_must_be_the_hash_length(void **state)
{
	(void)state;
	assert_reason(verify(sign_full(ZTG_JWT_ALG_PS256, NULL, 0, T.pkey[KEY_RSA], RSA_PSS_SALTLEN_MAX,
				       hdr(ZTG_JWT_ALG_PS256, "rsa"), "{" STD "}")), ZTG_JWT_BAD_SIGNATURE);
	assert_reason(verify(sign_full(ZTG_JWT_ALG_PS384, NULL, 0, T.pkey[KEY_RSA], 0,
				       hdr(ZTG_JWT_ALG_PS384, "rsa"), "{" STD "}")), ZTG_JWT_BAD_SIGNATURE);
}

static void test_ecdsa_der_signature_refused(void **state)
{
	uint8_t der[160];
	char b64[256];
	size_t n = sizeof(der);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *t = sign(ZTG_JWT_ALG_ES256, hdr(ZTG_JWT_ALG_ES256, "p256"), "{" STD "}");
	char *dot = strrchr(t, '.');

	(void)state;
	/* the same signature in OpenSSL's DER form instead of JWS's R || S */
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, T.pkey[KEY_P256]), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &n, (const uint8_t *)t, (size_t)(dot - t)), 1);
	EVP_MD_CTX_free(ctx);
	ztg_base64url_encode(der, n, b64, sizeof(b64));
	strcpy(dot + 1, b64);
	assert_reason(verify(t), ZTG_JWT_BAD_SIGNATURE);
}

/* ------------------------------------------------------------ alg, keys */

static void test_alg_none(void **state)
{
	(void)state;
	assert_reason(verify(assemble("{\"alg\":\"none\"}", "{" STD "}", "")), ZTG_JWT_ALG_NONE);
	assert_int_equal(T.why.issuer, -1);
	assert_string_equal(T.why.detail, "none");
	assert_reason(verify(assemble("{\"alg\":\"None\",\"kid\":\"hs\"}", "{" STD "}", "")), ZTG_JWT_ALG_NONE);
	assert_string_equal(T.why.kid, "hs");
	assert_reason(verify(assemble("{\"alg\":\"NONE\"}", "{" STD "}", "c2ln")), ZTG_JWT_ALG_NONE);
	assert_reason(verify(assemble("{\"alg\":\"n\\u006fne\"}", "{" STD "}", "")), ZTG_JWT_ALG_NONE);
	/* alg is checked before the key references */
	assert_reason(verify(assemble("{\"alg\":\"none\",\"jku\":\"https://evil\"}", "{" STD "}", "")),
		      ZTG_JWT_ALG_NONE);
}

static void test_alg_unknown(void **state)
{
	static const char *const headers[] = {
		"{\"alg\":\"HS999\"}", "{\"alg\":\"hs256\"}", "{\"alg\":\"RS256 \"}", "{\"kid\":\"hs\"}",
		"{\"alg\":256}", "{\"alg\":[\"HS256\"]}", "{\"alg\":\"nonesuch-and-a-much-longer-name\"}",
		"{\"alg\":\"\"}", "{\"alg\":\"HS256\\u0000\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		T.ctx = headers[i];
		assert_reason(verify(sign_full(ZTG_JWT_ALG_HS256, T.secret, sizeof(T.secret), NULL, 0, headers[i],
					       "{" STD "}")), ZTG_JWT_ALG_UNKNOWN);
	}
	verify(sign_full(ZTG_JWT_ALG_HS256, T.secret, sizeof(T.secret), NULL, 0, headers[0], "{" STD "}"));
	assert_string_equal(T.why.detail, "HS999");
}

/* The RFC 8725 2.1 confusion: an HMAC keyed with the RSA public key's PEM text. */
static void test_hmac_keyed_with_rsa_public_key(void **state)
{
	size_t len;
	char *pem = pem_of(T.pkey[KEY_RSA], &len);
	enum ztg_jwt_reason r;

	(void)state;
	/* an issuer that allows HS256 and holds the RSA key under kid "rsa" */
	r = verify(sign_full(ZTG_JWT_ALG_HS256, (const uint8_t *)pem, len, NULL, 0, hdr(ZTG_JWT_ALG_HS256, "rsa"),
			     "{" STD "}"));
	assert_reason(r, ZTG_JWT_ALG_KEY_MISMATCH);
	assert_string_equal(T.why.detail, "HS256");
	/* an RS256-only issuer whose single key is the RSA key, with and without kid */
	r = verify(sign_full(ZTG_JWT_ALG_HS256, (const uint8_t *)pem, len, NULL, 0, "{\"alg\":\"HS256\"}",
			     "{\"iss\":\"" RSA_ISS "\",\"sub\":\"bob\",\"exp\":1700000600}"));
	assert_reason(r, ZTG_JWT_ALG_NOT_ALLOWED);
	assert_int_equal(T.why.issuer, ISS_RSA);
	r = verify(sign_full(ZTG_JWT_ALG_HS256, (const uint8_t *)pem, len, NULL, 0, hdr(ZTG_JWT_ALG_HS256, "rsa"),
			     "{\"iss\":\"" RSA_ISS "\",\"sub\":\"bob\",\"exp\":1700000600}"));
	assert_reason(r, ZTG_JWT_ALG_NOT_ALLOWED);
	/* the PEM text without its final newline */
	r = verify(sign_full(ZTG_JWT_ALG_HS256, (const uint8_t *)pem, len - 1, NULL, 0, hdr(ZTG_JWT_ALG_HS256, "rsa"),
			     "{" STD "}"));
	assert_reason(r, ZTG_JWT_ALG_KEY_MISMATCH);
	free(pem);
}

static void test_alg_key_mismatch(void **state)
{
	(void)state;
	/* ES256 over a P-384 key: the curve is the algorithm's */
	assert_reason(verify(sign_full(ZTG_JWT_ALG_ES256, NULL, 0, T.pkey[KEY_P384], 0, hdr(ZTG_JWT_ALG_ES256, "p384"),
				       "{" STD "}")), ZTG_JWT_ALG_KEY_MISMATCH);
	assert_string_equal(T.why.detail, "ES256");
	assert_reason(verify(sign(ZTG_JWT_ALG_RS256, hdr(ZTG_JWT_ALG_RS256, "p256"), "{" STD "}")),
		      ZTG_JWT_ALG_KEY_MISMATCH);
	assert_reason(verify(sign(ZTG_JWT_ALG_EDDSA, hdr(ZTG_JWT_ALG_EDDSA, "rsa"), "{" STD "}")),
		      ZTG_JWT_ALG_KEY_MISMATCH);
	assert_reason(verify(sign(ZTG_JWT_ALG_ES512, hdr(ZTG_JWT_ALG_ES512, "hs"), "{" STD "}")),
		      ZTG_JWT_ALG_KEY_MISMATCH);
	assert_reason(verify(sign(ZTG_JWT_ALG_PS256, hdr(ZTG_JWT_ALG_PS256, "ed"), "{" STD "}")),
		      ZTG_JWT_ALG_KEY_MISMATCH);
}

static void test_alg_not_allowed(void **state)
{
	(void)state;
	assert_reason(verify(sign(ZTG_JWT_ALG_RS512, hdr(ZTG_JWT_ALG_RS512, "rsa"),
				  "{\"iss\":\"" RSA_ISS "\",\"sub\":\"bob\",\"exp\":1700000600}")),
		      ZTG_JWT_ALG_NOT_ALLOWED);
	assert_string_equal(T.why.detail, "RS512");
	assert_int_equal(T.why.issuer, ISS_RSA);
}

static void test_unknown_kid_raises_the_flag(void **state)
{
	struct ztg_jwt_issuer *main_iss = ztg_jwt_table_issuer(T.table, ISS_MAIN);
	struct ztg_jwt_issuer *nokeys = ztg_jwt_table_issuer(T.table, ISS_NOKEYS);

	(void)state;
	atomic_store(&main_iss->unknown_kid, false);
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, hdr(ZTG_JWT_ALG_HS256, "rotated-2024"), "{" STD "}")),
		      ZTG_JWT_UNKNOWN_KID);
	assert_true(atomic_load(&main_iss->unknown_kid));
	assert_int_equal(T.why.issuer, ISS_MAIN);
	assert_string_equal(T.why.kid, "rotated-2024");
	/* raised stays raised until the refetcher clears it */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, hdr(ZTG_JWT_ALG_HS256, "other"), "{" STD "}")),
		      ZTG_JWT_UNKNOWN_KID);
	assert_true(atomic_load(&main_iss->unknown_kid));
	atomic_store(&main_iss->unknown_kid, false);

	/* an issuer whose keys were never fetched */
	atomic_store(&nokeys->unknown_kid, false);
	assert_reason(verify(sign_hs("{\"iss\":\"" NOKEYS_ISS "\",\"sub\":\"x\",\"exp\":1700000600}")),
		      ZTG_JWT_UNKNOWN_KID);
	assert_true(atomic_load(&nokeys->unknown_kid));
	atomic_store(&nokeys->unknown_kid, false);
}

static void test_kid_path_injection_is_just_unknown(void **state)
{
	struct ztg_jwt_issuer *main_iss = ztg_jwt_table_issuer(T.table, ISS_MAIN);

	(void)state;
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, hdr(ZTG_JWT_ALG_HS256, "../../etc/passwd"), "{" STD "}")),
		      ZTG_JWT_UNKNOWN_KID);
	assert_string_equal(T.why.kid, "../../etc/passwd");
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"..\\/..\\/dev\\/null\"}",
				  "{" STD "}")), ZTG_JWT_UNKNOWN_KID);
	assert_string_equal(T.why.kid, "../../dev/null");
	/* control characters are filtered out of the event, an over-long kid cut */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"a\\u0001b\\nc\\u00e9\"}",
				  "{" STD "}")), ZTG_JWT_UNKNOWN_KID);
	assert_string_equal(T.why.kid, "abc");
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, hdr(ZTG_JWT_ALG_HS256, repeat('k', 300)), "{" STD "}")),
		      ZTG_JWT_UNKNOWN_KID);
	assert_int_equal(strlen(T.why.kid), ZTG_IDENTITY_KID_MAX);
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\\u0000\"}", "{" STD "}")),
		      ZTG_JWT_UNKNOWN_KID);
	/* a kid that is not a string */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":7}", "{" STD "}")),
		      ZTG_JWT_BAD_HEADER);
	atomic_store(&main_iss->unknown_kid, false);
}

/* ----------------------------------------------------------------- time */

static void test_expired(void **state)
{
	(void)state;
	assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"sub\":\"a\",\"aud\":\"api\",\"exp\":%lld}",
					 NOW - 3600))), ZTG_JWT_EXPIRED);
	assert_string_equal(T.why.detail, "exp");
	assert_int_equal(T.why.issuer, ISS_MAIN);
	assert_reason(verify(sign_hs("{\"iss\":\"" MAIN_ISS "\",\"sub\":\"a\",\"aud\":\"api\"}")), ZTG_JWT_NO_EXPIRY);
	assert_string_equal(T.why.detail, "exp");
}

static void test_time_leeway_boundaries(void **state)
{
	/* main: leeway 30 */
	static const struct {
		const char *claims;
		long long value;
		enum ztg_jwt_reason want;
	} cases[] = {
		{ "\"exp\":%lld", NOW - 30, ZTG_JWT_EXPIRED },
		{ "\"exp\":%lld", NOW - 29, ZTG_JWT_OK },
		{ "\"exp\":%lld,\"nbf\":1700000030", NOW + 60, ZTG_JWT_OK },
		{ "\"exp\":1700000600,\"nbf\":%lld", NOW + 31, ZTG_JWT_NOT_YET_VALID },
		{ "\"exp\":1700000600,\"iat\":%lld", NOW + 30, ZTG_JWT_OK },
		{ "\"exp\":1700000600,\"iat\":%lld", NOW + 31, ZTG_JWT_ISSUED_IN_FUTURE },
		{ "\"exp\":1700000600,\"nbf\":%lld,\"iat\":1", NOW - 100000, ZTG_JWT_OK },
		{ "\"exp\":%lld.75", NOW - 29, ZTG_JWT_OK },
		{ "\"exp\":%lld.99", NOW - 30, ZTG_JWT_EXPIRED },
	};
	char claims[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(claims, sizeof(claims), cases[i].claims, cases[i].value);
		T.ctx = claims;
		assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"sub\":\"a\",\"aud\":\"api\",%s}",
						 claims))), cases[i].want);
	}
	/* no leeway: exp == now has expired, exp == now + 1 has not */
	assert_reason(verify(sign(ZTG_JWT_ALG_RS256, "{\"alg\":\"RS256\"}",
				  fmt("{\"iss\":\"" RSA_ISS "\",\"sub\":\"b\",\"exp\":%lld}", NOW))), ZTG_JWT_EXPIRED);
	assert_reason(verify(sign(ZTG_JWT_ALG_RS256, "{\"alg\":\"RS256\"}",
				  fmt("{\"iss\":\"" RSA_ISS "\",\"sub\":\"b\",\"exp\":%lld,\"nbf\":%lld}",
				      NOW + 1, NOW))), ZTG_JWT_OK);
	assert_int_equal(T.id.expires, NOW + 1);
	/* now near the ends of int64: the leeway saturates instead of wrapping */
	sign_hs("{" STD "}");
	assert_reason(verify_full(T.token, strlen(T.token), INT64_MIN + 5, NULL, NULL), ZTG_JWT_OK);
	assert_reason(verify_full(T.token, strlen(T.token), INT64_MAX, NULL, NULL), ZTG_JWT_EXPIRED);
}

static void test_not_yet_valid_and_issued_in_future(void **state)
{
	(void)state;
	assert_reason(verify(sign_hs("{" STD ",\"nbf\":1700003600}")), ZTG_JWT_NOT_YET_VALID);
	assert_string_equal(T.why.detail, "nbf");
	assert_reason(verify(sign_hs("{" STD ",\"iat\":1700003600}")), ZTG_JWT_ISSUED_IN_FUTURE);
	assert_string_equal(T.why.detail, "iat");
}

static void test_bad_time_claims(void **state)
{
	static const char *const claims[] = {
		"\"exp\":\"1700000600\"", "\"exp\":1.7e9", "\"exp\":null", "\"exp\":[1700000600]",
		"\"exp\":99999999999999999999", "\"exp\":1700000600,\"nbf\":true",
		"\"exp\":1700000600,\"iat\":1E3", "\"exp\":1700000600,\"nbf\":{}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		T.ctx = claims[i];
		assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"sub\":\"a\",\"aud\":\"api\",%s}",
						 claims[i]))), ZTG_JWT_BAD_TIME_CLAIM);
	}
	verify(sign_hs("{" STD ",\"iat\":\"yesterday\"}"));
	assert_string_equal(T.why.detail, "iat");
}

/* --------------------------------------------------------------- issuer */

static void test_issuer(void **state)
{
	(void)state;
	assert_reason(verify(sign_hs("{\"iss\":\"https://evil.example\",\"sub\":\"a\",\"exp\":1700000600}")),
		      ZTG_JWT_UNKNOWN_ISSUER);
	assert_int_equal(T.why.issuer, -1);
	assert_string_equal(T.why.detail, "https://evil.example");
	assert_reason(verify(sign_hs("{\"iss\":\"" MAIN_ISS "/\",\"sub\":\"a\",\"exp\":1700000600}")),
		      ZTG_JWT_UNKNOWN_ISSUER);
	assert_reason(verify(sign_hs("{\"iss\":\"HTTPS://MAIN.EXAMPLE\",\"sub\":\"a\",\"exp\":1700000600}")),
		      ZTG_JWT_UNKNOWN_ISSUER);
	assert_reason(verify(sign_hs("{\"iss\":\"\",\"sub\":\"a\",\"exp\":1700000600}")), ZTG_JWT_UNKNOWN_ISSUER);
	assert_reason(verify(sign_hs("{\"iss\":\"https://main.example\\u0000\",\"sub\":\"a\",\"exp\":1700000600}")),
		      ZTG_JWT_UNKNOWN_ISSUER);
	assert_reason(verify(sign_hs("{\"sub\":\"a\",\"exp\":1700000600}")), ZTG_JWT_NO_ISSUER);
	assert_string_equal(T.why.detail, "iss");
	assert_reason(verify(sign_hs("{\"iss\":[\"" MAIN_ISS "\"],\"sub\":\"a\",\"exp\":1700000600}")),
		      ZTG_JWT_NO_ISSUER);
	/* iss compared unescaped: "\/" is how some encoders write '/' */
	assert_reason(verify(sign_hs("{\"iss\":\"https:\\/\\/main.example\",\"sub\":\"a\",\"aud\":\"api\","
				     "\"exp\":1700000600}")), ZTG_JWT_OK);
}

static void test_issuer_not_accepted(void **state)
{
	uint64_t accept = 1u << ISS_MAIN;
	const char *t;

	(void)state;
	t = sign_hs("{\"iss\":\"" OTHER_ISS "\",\"sub\":\"a\",\"exp\":1700000600}");
	assert_reason(verify_full(t, strlen(t), NOW, NULL, &T.names), ZTG_JWT_OK);
	assert_reason(verify_full(t, strlen(t), NOW, &accept, &T.names), ZTG_JWT_ISSUER_NOT_ACCEPTED);
	assert_int_equal(T.why.issuer, ISS_OTHER);
	accept |= 1u << ISS_OTHER;
	assert_reason(verify_full(t, strlen(t), NOW, &accept, &T.names), ZTG_JWT_OK);
	t = sign_hs("{" STD "}");
	accept = 0;
	assert_reason(verify_full(t, strlen(t), NOW, &accept, &T.names), ZTG_JWT_ISSUER_NOT_ACCEPTED);
}

static void test_audience(void **state)
{
	static const struct {
		const char *aud;
		enum ztg_jwt_reason want;
	} cases[] = {
		{ ",\"aud\":\"nope\"", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":\"API\"", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":\"api \"", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":[\"x\",\"y\"]", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":[]", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":[\"api\",1]", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":[[\"api\"]]", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":{\"api\":1}", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":null", ZTG_JWT_WRONG_AUDIENCE },
		{ "", ZTG_JWT_WRONG_AUDIENCE },
		{ ",\"aud\":\"billing\"", ZTG_JWT_OK },
		{ ",\"aud\":[\"x\",\"billing\"]", ZTG_JWT_OK },
		{ ",\"aud\":[\"\\u0061pi\"]", ZTG_JWT_OK },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T.ctx = cases[i].aud;
		assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"sub\":\"a\",\"exp\":1700000600%s}",
						 cases[i].aud))), cases[i].want);
		if (cases[i].want != ZTG_JWT_OK)
			assert_string_equal(T.why.detail, "aud");
	}
	/* an issuer without audiences does not look at aud */
	assert_reason(verify(sign(ZTG_JWT_ALG_RS256, "{\"alg\":\"RS256\"}",
				  "{\"iss\":\"" RSA_ISS "\",\"sub\":\"b\",\"aud\":7,\"exp\":1700000600}")), ZTG_JWT_OK);
}

/* ------------------------------------------------------------ structure */

/* Drop the signature's last partial group, or its last whole one. */
static void cut_signature(char *token)
{
	char *sig = strrchr(token, '.') + 1;

	sig[(strlen(sig) - 1) / 4 * 4] = '\0';
}

static void test_tampered_and_cut_signatures(void **state)
{
	char good[1024], evil[1024];
	char *dot;

	(void)state;
	/* a signed token whose payload is swapped for another one */
	strcpy(good, sign_hs("{" STD "}"));
	strcpy(evil, assemble("{}", "{\"iss\":\"" MAIN_ISS "\",\"sub\":\"root\",\"aud\":\"api\",\"exp\":1700000600}",
			      ""));
	dot = strchr(good, '.');
	snprintf(T.token, sizeof(T.token), "%.*s.%.*s%s", (int)(dot - good), good,
		 (int)(strrchr(evil, '.') - strchr(evil, '.') - 1), strchr(evil, '.') + 1, strrchr(good, '.'));
	assert_reason(verify(T.token), ZTG_JWT_BAD_SIGNATURE);
	assert_int_equal(T.why.issuer, ISS_MAIN);

	/* truncated to whole groups of 4 characters (strict base64url), then to nothing */
	strcpy(T.token, good);
	cut_signature(T.token);
	assert_reason(verify(T.token), ZTG_JWT_BAD_SIGNATURE);
	*(strrchr(T.token, '.') + 1) = '\0';
	assert_reason(verify(T.token), ZTG_JWT_BAD_SIGNATURE);

	/* RSA and ECDSA, truncated and empty */
	sign(ZTG_JWT_ALG_RS256, hdr(ZTG_JWT_ALG_RS256, "rsa"), "{" STD "}");
	cut_signature(T.token);
	assert_reason(verify(T.token), ZTG_JWT_BAD_SIGNATURE);
	sign(ZTG_JWT_ALG_ES384, hdr(ZTG_JWT_ALG_ES384, "p384"), "{" STD "}");
	*(strrchr(T.token, '.') + 1) = '\0';
	assert_reason(verify(T.token), ZTG_JWT_BAD_SIGNATURE);
	/* one byte too many */
	sign(ZTG_JWT_ALG_EDDSA, hdr(ZTG_JWT_ALG_EDDSA, "ed"), "{" STD "}");
	strcat(T.token, "AA");
	assert_reason(verify(T.token), ZTG_JWT_BAD_SIGNATURE);
}

static void test_segments(void **state)
{
	char good[1024];

	(void)state;
	strcpy(good, sign_hs("{" STD "}"));
	assert_reason(verify(good), ZTG_JWT_OK);
	assert_reason(verify(fmt("%s.%s", good, "e30")), ZTG_JWT_MALFORMED);
	assert_reason(verify(fmt("%s.e30.e30", good)), ZTG_JWT_MALFORMED);
	assert_reason(verify(fmt("%s.", good)), ZTG_JWT_MALFORMED);
	*strrchr(good, '.') = '\0';
	assert_reason(verify(good), ZTG_JWT_MALFORMED);
	assert_reason(verify(""), ZTG_JWT_MALFORMED);
	assert_reason(verify("..."), ZTG_JWT_MALFORMED);
	assert_reason(verify(".."), ZTG_JWT_MALFORMED);
	assert_reason(verify(".e30.AA"), ZTG_JWT_MALFORMED);
	assert_string_equal(T.why.detail, "header");
	assert_reason(verify("e30..AA"), ZTG_JWT_MALFORMED);
	assert_string_equal(T.why.detail, "payload");
	assert_reason(verify_full(NULL, 0, NOW, NULL, NULL), ZTG_JWT_MALFORMED);
}

/* Replace the character at p by one whose 6-bit value is v's with the low bit set. */
static void set_low_bit(char *p)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t v = (size_t)(strchr(alphabet, *p) - alphabet);

	*p = alphabet[v | 1];
}

static void test_base64url_strictness(void **state)
{
	char good[1024];
	char *dot1, *dot2;

	(void)state;
	/* 32-byte HMAC: 43 characters, the last one with two unused bits */
	strcpy(good, sign_hs("{" STD "}"));
	strcpy(T.token, good);
	set_low_bit(T.token + strlen(T.token) - 1);
	assert_reason(verify(T.token), ZTG_JWT_BAD_BASE64URL);
	assert_string_equal(T.why.detail, "signature");

	/* padding, the standard alphabet, whitespace */
	dot1 = strchr(good, '.');
	dot2 = strrchr(good, '.');
	assert_reason(verify(fmt("%.*s=%s", (int)(dot2 - good), good, dot2)), ZTG_JWT_BAD_BASE64URL);
	assert_string_equal(T.why.detail, "payload");
	assert_reason(verify(fmt("%s=", good)), ZTG_JWT_BAD_BASE64URL);
	assert_reason(verify(fmt("%s==", good)), ZTG_JWT_BAD_BASE64URL);
	assert_reason(verify(fmt("%.*s+%s", (int)(dot1 - good) - 1, good, dot1)), ZTG_JWT_BAD_BASE64URL);
	assert_string_equal(T.why.detail, "header");
	assert_reason(verify(fmt("%.*s/%s", (int)(dot1 - good) - 1, good, dot1)), ZTG_JWT_BAD_BASE64URL);
	assert_reason(verify(fmt(" %s", good)), ZTG_JWT_BAD_BASE64URL);
	assert_reason(verify(fmt("%s\n", good)), ZTG_JWT_BAD_BASE64URL);

	/* a header of 16 bytes: 22 characters, the last with four unused bits */
	sign(ZTG_JWT_ALG_HS256, "{\"alg\": \"HS256\"}", "{" STD "}");
	dot1 = strchr(T.token, '.');
	assert_int_equal(dot1 - T.token, 22);
	set_low_bit(dot1 - 1);
	assert_reason(verify(T.token), ZTG_JWT_BAD_BASE64URL);
	assert_string_equal(T.why.detail, "header");
	/* and a length of 1 mod 4 */
	assert_reason(verify("eyJhbGciOiJIUzI1NiJ9A.e30.AA"), ZTG_JWT_BAD_BASE64URL);
}

static void test_json(void **state)
{
	(void)state;
	assert_reason(verify(assemble("not json", "{}", "")), ZTG_JWT_BAD_HEADER);
	assert_string_equal(T.why.detail, "json_top_level_not_object");
	assert_reason(verify(assemble("[\"HS256\"]", "{}", "")), ZTG_JWT_BAD_HEADER);
	assert_reason(verify(assemble("{\"alg\":\"HS256\",}", "{}", "")), ZTG_JWT_BAD_HEADER);
	assert_reason(verify(assemble("{\"alg\":\"HS256\"} x", "{}", "")), ZTG_JWT_BAD_HEADER);
	assert_reason(verify(assemble("{\"alg\":\"HS256\"}", "{", "")), ZTG_JWT_BAD_PAYLOAD);
	assert_reason(verify(sign_hs("{\"iss\":\"" MAIN_ISS "\",\"exp\":01}")), ZTG_JWT_BAD_PAYLOAD);
	assert_string_equal(T.why.detail, "json_number_leading_zero");
	assert_reason(verify(sign_hs("{\"iss\":\"\xc0\xaf\"}")), ZTG_JWT_BAD_PAYLOAD);
	assert_reason(verify(sign_hs("[]")), ZTG_JWT_BAD_PAYLOAD);
	/* more JSON tokens than the scratch holds */
	{
		char payload[8192] = "{" STD ",\"many\":[";

		for (int i = 0; i < ZTG_JWT_MAX_JSON_TOKENS; i++)
			strcat(payload, i ? ",1" : "1");
		strcat(payload, "]}");
		assert_reason(verify(sign_hs(payload)), ZTG_JWT_BAD_PAYLOAD);
		assert_string_equal(T.why.detail, "json_too_many_tokens");
	}
}

static void test_duplicate_members(void **state)
{
	(void)state;
	assert_reason(verify(sign_hs("{" STD ",\"sub\":\"root\"}")), ZTG_JWT_DUPLICATE_MEMBER);
	assert_reason(verify(sign_hs("{" STD ",\"s\\u0075b\":\"root\"}")), ZTG_JWT_DUPLICATE_MEMBER);
	assert_reason(verify(sign_hs("{" STD ",\"x\":{\"a\":1,\"a\":2}}")), ZTG_JWT_DUPLICATE_MEMBER);
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\",\"alg\":\"none\"}",
				  "{" STD "}")), ZTG_JWT_DUPLICATE_MEMBER);
	assert_int_equal(T.why.issuer, -1);
}

static const char *typed_claims(const char *extra)
{
	return fmt("{\"iss\":\"" TYPED_ISS "\",\"client_id\":\"svc-1\",\"jti\":\"id-1\",\"tenant\":\"acme\","
		   "\"exp\":1700000600%s}", extra);
}

static void test_oversized(void **state)
{
	char *big;
	size_t len;

	(void)state;
	/* the hard bound, before anything else */
	big = malloc(ZTG_JWT_MAX_TOKEN + 2);
	assert_non_null(big);
	memset(big, 'A', ZTG_JWT_MAX_TOKEN + 1);
	big[10] = '.';
	big[20] = '.';
	assert_reason(verify_full(big, ZTG_JWT_MAX_TOKEN + 1, NOW, NULL, NULL), ZTG_JWT_TOO_LARGE);
	assert_int_equal(T.why.issuer, -1);
	assert_reason(verify_full(big, ZTG_JWT_MAX_TOKEN, NOW, NULL, NULL), ZTG_JWT_BAD_BASE64URL);
	free(big);

	/* the main issuer sets no bound of its own: the largest token that fits the hard one */
	for (size_t pad = 12300;; pad--) {
		sign_hs(fmt("{" STD ",\"pad\":\"%s\"}", repeat('p', pad)));
		if (strlen(T.token) <= ZTG_JWT_MAX_TOKEN)
			break;
	}
	len = strlen(T.token);
	assert_true(len > ZTG_JWT_MAX_TOKEN - 4);
	assert_reason(verify(T.token), ZTG_JWT_OK);

	/* the typed issuer's bound: 1024 bytes */
	len = 0;
	for (size_t pad = 400;; pad++) {
		sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
		     typed_claims(fmt(",\"pad\":\"%s\"", repeat('p', pad))));
		if (strlen(T.token) > 1024)
			break;
		len = strlen(T.token);
		assert_reason(verify(T.token), ZTG_JWT_OK);
	}
	assert_true(len > 1024 - 4);
	assert_reason(verify(T.token), ZTG_JWT_TOO_LARGE);
	assert_int_equal(T.why.issuer, ISS_TYPED);
}

static void test_crit_and_key_references(void **state)
{
	static const char *const members[] = { "jku", "x5u", "jwk", "x5c" };
	static const char *const values[] = {
		"\"https://evil.example/jwks.json\"", "\"https://evil.example/cert.pem\"",
		"{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}", "[\"MIIB\"]",
	};

	(void)state;
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\",\"crit\":[\"exp\"],\"exp\":1}",
				  "{" STD "}")), ZTG_JWT_CRIT);
	assert_string_equal(T.why.detail, "crit");
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\",\"crit\":[]}", "{" STD "}")),
		      ZTG_JWT_CRIT);
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\",\"crit\":null}", "{" STD "}")),
		      ZTG_JWT_CRIT);
	for (size_t i = 0; i < 4; i++) {
		assert_reason(verify(sign(ZTG_JWT_ALG_HS256, fmt("{\"alg\":\"HS256\",\"kid\":\"hs\",\"%s\":%s}",
								 members[i], values[i]), "{" STD "}")),
			      ZTG_JWT_KEY_IN_HEADER);
		assert_string_equal(T.why.detail, members[i]);
		assert_string_equal(T.why.kid, "hs");
	}
	/* escaped member name; key references are checked before crit */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"j\\u006bu\":\"x\"}",
				  "{" STD "}")), ZTG_JWT_KEY_IN_HEADER);
	/* thumbprints name a key without supplying one */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\",\"x5t\":\"abc\"}",
				  "{" STD "}")), ZTG_JWT_OK);
}

static void test_typ(void **state)
{
	static const struct {
		const char *typ;
		enum ztg_jwt_reason want;
	} cases[] = {
		{ ",\"typ\":\"at+jwt\"", ZTG_JWT_OK },
		{ ",\"typ\":\"application/at+jwt\"", ZTG_JWT_OK },
		{ ",\"typ\":\"AT+JWT\"", ZTG_JWT_OK },
		{ ",\"typ\":\"Application/At+Jwt\"", ZTG_JWT_OK },
		{ ",\"typ\":\"application\\/at+jwt\"", ZTG_JWT_OK },
		{ ",\"typ\":\"JWT\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"at+jwt \"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"application/\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"text/at+jwt\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"application/x/at+jwt\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"at+jwt+x\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"at+jws\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":\"application/at+jws\"", ZTG_JWT_TYP_MISMATCH },
		{ ",\"typ\":[\"at+jwt\"]", ZTG_JWT_TYP_MISMATCH },
		{ "", ZTG_JWT_TYP_MISMATCH },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T.ctx = cases[i].typ;
		assert_reason(verify(sign(ZTG_JWT_ALG_HS256, fmt("{\"alg\":\"HS256\",\"kid\":\"hs\"%s}", cases[i].typ),
					  typed_claims(""))), cases[i].want);
	}
	verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", typed_claims("")));
	assert_string_equal(T.why.detail, "JWT");
	assert_int_equal(T.why.issuer, ISS_TYPED);
	/* a typ longer than any media type the verifier keeps */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256,
				  fmt("{\"alg\":\"HS256\",\"typ\":\"application/%s\"}", repeat('t', 300)),
				  typed_claims(""))), ZTG_JWT_TYP_MISMATCH);
	/* an issuer that expects no typ takes any */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs\",\"typ\":\"whatever\"}",
				  "{" STD "}")), ZTG_JWT_OK);
}

static void test_required_claims(void **state)
{
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";

	(void)state;
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, header, typed_claims(""))), ZTG_JWT_OK);
	assert_string_equal(T.id.subject, "svc-1");
	assert_string_equal(T.id.jti, "id-1");
	assert_int_equal(T.id.jti_len, 4);
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, header, "{\"iss\":\"" TYPED_ISS "\",\"client_id\":\"c\","
				  "\"jti\":\"j\",\"exp\":1700000600}")), ZTG_JWT_MISSING_CLAIM);
	assert_string_equal(T.why.detail, "tenant");
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, header, "{\"iss\":\"" TYPED_ISS "\",\"client_id\":\"c\","
				  "\"tenant\":null,\"exp\":1700000600}")), ZTG_JWT_MISSING_CLAIM);
	assert_string_equal(T.why.detail, "jti");
}

static void test_subject(void **state)
{
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";
	static const char *const bad[] = {
		"", ",\"sub\":\"\"", ",\"sub\":7", ",\"sub\":[\"a\"]", ",\"sub\":null", ",\"sub\":\"a\\u0000b\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T.ctx = bad[i];
		assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"aud\":\"api\",\"exp\":1700000600%s}",
						 bad[i]))), ZTG_JWT_BAD_SUBJECT);
		assert_string_equal(T.why.detail, "sub");
	}
	assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"aud\":\"api\",\"exp\":1700000600,\"sub\":\"%s\"}",
					 repeat('s', ZTG_IDENTITY_SUBJECT_MAX + 1)))), ZTG_JWT_BAD_SUBJECT);
	assert_reason(verify(sign_hs(fmt("{\"iss\":\"" MAIN_ISS "\",\"aud\":\"api\",\"exp\":1700000600,\"sub\":\"%s\"}",
					 repeat('s', ZTG_IDENTITY_SUBJECT_MAX)))), ZTG_JWT_OK);
	assert_int_equal(T.id.subject_len, ZTG_IDENTITY_SUBJECT_MAX);
	assert_int_equal(strlen(T.id.subject), ZTG_IDENTITY_SUBJECT_MAX);
	/* escapes count as what they decode to */
	assert_reason(verify(sign_hs("{\"iss\":\"" MAIN_ISS "\",\"aud\":\"api\",\"exp\":1700000600,"
				     "\"sub\":\"J\\u00f6rg \\\"q\\\"\"}")), ZTG_JWT_OK);
	assert_string_equal(T.id.subject, "J\xc3\xb6rg \"q\"");
	/* the typed issuer's identity claim is client_id: sub does not stand in for it */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, header, "{\"iss\":\"" TYPED_ISS "\",\"sub\":\"s\",\"jti\":\"j\","
				  "\"tenant\":\"t\",\"exp\":1700000600}")), ZTG_JWT_BAD_SUBJECT);
	assert_string_equal(T.why.detail, "client_id");
}

static void test_scopes(void **state)
{
	/* names: read 0, write 1, admin 2, billing:view 3, ops 4 */
	static const struct {
		const char *claims;
		uint64_t want;
	} cases[] = {
		{ "", 0 },
		{ ",\"scope\":\"read write\"", 0x3 },
		{ ",\"scope\":\"  read   unknown write \"", 0x3 },
		{ ",\"scope\":\"readwrite READ\"", 0 },
		{ ",\"scope\":\"re\\u0061d\"", 0x1 },
		{ ",\"scope\":[\"read\"]", 0 },
		{ ",\"scp\":\"admin ops\"", 0x14 },
		{ ",\"scp\":[\"admin\",\"billing:view\",7,\"read write\"]", 0xc },
		{ ",\"roles\":[\"ops\"]", 0x10 },
		{ ",\"roles\":\"ops\"", 0 },
		{ ",\"scope\":\"read\",\"scp\":[\"write\"],\"roles\":[\"admin\"]", 0x7 },
		{ ",\"permissions\":[\"admin\"]", 0 },
	};
	const char *header = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T.ctx = cases[i].claims;
		assert_reason(verify(sign_hs(fmt("{" STD "%s}", cases[i].claims))), ZTG_JWT_OK);
		assert_int_equal(T.id.scopes, cases[i].want);
	}
	/* a configured scope claim is the only one read */
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, header,
				  typed_claims(",\"permissions\":[\"read\",\"ops\"],"
					       "\"scope\":\"admin\",\"roles\":[\"write\"]"))),
		      ZTG_JWT_OK);
	assert_int_equal(T.id.scopes, 0x11);
	assert_reason(verify(sign(ZTG_JWT_ALG_HS256, header, typed_claims(",\"permissions\":\"write admin\""))),
		      ZTG_JWT_OK);
	assert_int_equal(T.id.scopes, 0x6);
	/* no names: no scopes, no claims */
	assert_reason(verify_full(T.token, strlen(T.token), NOW, NULL, NULL), ZTG_JWT_OK);
	assert_int_equal(T.id.scopes, 0);
	assert_int_equal(T.id.claims_present, 0);
}

static void test_kept_claims(void **state)
{
	/* names: tenant 0, level 1, active 2, email 3, note 4 */
	(void)state;
	assert_reason(verify(sign_hs("{" STD ",\"tenant\":\"acme \\\"corp\\\"\\n\\u00e9\",\"level\":-1.50e+2,"
				     "\"active\":true,\"note\":false,\"other\":[1]}")), ZTG_JWT_OK);
	assert_int_equal(T.id.claims_present, 0x17);
	assert_string_equal(T.id.claims[0], "acme \"corp\"\n\xc3\xa9");
	assert_int_equal(T.id.claim_len[0], 14);
	assert_string_equal(T.id.claims[1], "-1.50e+2");
	assert_int_equal(T.id.claim_len[1], 8);
	assert_string_equal(T.id.claims[2], "true");
	assert_string_equal(T.id.claims[4], "false");
	assert_string_equal(T.id.claims[3], "");
	assert_int_equal(T.id.claim_len[3], 0);

	assert_reason(verify(sign_hs("{" STD ",\"tenant\":[\"acme\"]}")), ZTG_JWT_CLAIM_NOT_SCALAR);
	assert_string_equal(T.why.detail, "tenant");
	assert_reason(verify(sign_hs("{" STD ",\"level\":{\"n\":1}}")), ZTG_JWT_CLAIM_NOT_SCALAR);
	assert_reason(verify(sign_hs("{" STD ",\"email\":null}")), ZTG_JWT_CLAIM_NOT_SCALAR);
	assert_string_equal(T.why.detail, "email");
	assert_reason(verify(sign_hs(fmt("{" STD ",\"note\":\"%s\"}", repeat('n', ZTG_IDENTITY_CLAIM_MAX + 1)))),
		      ZTG_JWT_CLAIM_TOO_LONG);
	assert_string_equal(T.why.detail, "note");
	assert_reason(verify(sign_hs(fmt("{" STD ",\"level\":1%s}", repeat('0', ZTG_IDENTITY_CLAIM_MAX)))),
		      ZTG_JWT_CLAIM_TOO_LONG);
	assert_reason(verify(sign_hs(fmt("{" STD ",\"note\":\"%s\"}", repeat('n', ZTG_IDENTITY_CLAIM_MAX)))),
		      ZTG_JWT_OK);
	assert_int_equal(T.id.claim_len[4], ZTG_IDENTITY_CLAIM_MAX);
	/* U+0000 would let "admin\0x" pass as "admin" */
	assert_reason(verify(sign_hs("{" STD ",\"tenant\":\"admin\\u0000x\"}")), ZTG_JWT_BAD_PAYLOAD);
	assert_string_equal(T.why.detail, "tenant");
}

static void test_jti(void **state)
{
	(void)state;
	assert_reason(verify(sign_hs(fmt("{" STD ",\"jti\":\"%s\"}", repeat('j', ZTG_IDENTITY_JTI_MAX)))), ZTG_JWT_OK);
	assert_int_equal(T.id.jti_len, ZTG_IDENTITY_JTI_MAX);
	assert_reason(verify(sign_hs(fmt("{" STD ",\"jti\":\"%s\"}", repeat('j', ZTG_IDENTITY_JTI_MAX + 1)))),
		      ZTG_JWT_CLAIM_TOO_LONG);
	assert_string_equal(T.why.detail, "jti");
	assert_reason(verify(sign_hs("{" STD ",\"jti\":12345}")), ZTG_JWT_OK);
	assert_string_equal(T.id.jti, "12345");
	assert_reason(verify(sign_hs("{" STD ",\"jti\":[\"a\"]}")), ZTG_JWT_CLAIM_NOT_SCALAR);
	assert_reason(verify(sign_hs("{" STD "}")), ZTG_JWT_OK);
	assert_int_equal(T.id.jti_len, 0);
	assert_string_equal(T.id.jti, "");
}

static void test_internal(void **state)
{
	const char *t;

	(void)state;
	t = sign_hs("{" STD "}");
	assert_reason(ztg_jwt_verify(T.table, NULL, NULL, t, strlen(t), NOW, NULL, &T.id, &T.why), ZTG_JWT_INTERNAL);
	assert_reason(ztg_jwt_verify(NULL, NULL, NULL, t, strlen(t), NOW, T.scratch, &T.id, NULL), ZTG_JWT_INTERNAL);
	/* why is optional */
	assert_reason(ztg_jwt_verify(T.table, NULL, NULL, t, strlen(t), NOW, T.scratch, &T.id, NULL), ZTG_JWT_OK);
	assert_reason(ztg_jwt_verify(T.table, NULL, NULL, t, strlen(t), NOW + 3600, T.scratch, &T.id, NULL),
		      ZTG_JWT_EXPIRED);
}

static void test_reason_names(void **state)
{
	(void)state;
	for (int r = 0; r < ZTG_JWT_REASON_COUNT; r++) {
		const char *name = ztg_jwt_reason_name((enum ztg_jwt_reason)r);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		for (int s = 0; s < r; s++)
			assert_string_not_equal(name, ztg_jwt_reason_name((enum ztg_jwt_reason)s));
	}
	assert_string_equal(ztg_jwt_reason_name(ZTG_JWT_OK), "ok");
	assert_string_equal(ztg_jwt_reason_name(ZTG_JWT_ALG_NONE), "alg_none");
	assert_string_equal(ztg_jwt_reason_name(ZTG_JWT_REASON_COUNT), "unknown");
	assert_string_equal(ztg_jwt_reason_name((enum ztg_jwt_reason)-1), "unknown");
}

/* ---------------------------------------------------------------- tables */

static void test_sixty_issuers_verify(void **state)
{
	enum { N = 60 };
	struct ztg_jwt_issuer *issuers = calloc(N, sizeof(*issuers));
	struct ztg_keyset *sets[N];
	char iss[N][48];
	uint8_t secrets[N][32];
	struct ztg_jwt_table *table;
	struct ztg_identity id;
	char err[256] = "";

	(void)state;
	assert_non_null(issuers);
	for (int i = 0; i < N; i++) {
		snprintf(iss[i], sizeof(iss[i]), "https://tenant-%02d.example/", i);
		memset(secrets[i], 'a' + i % 26, sizeof(secrets[i]));
		secrets[i][0] = (uint8_t)i;
		sets[i] = oct_set(secrets[i], sizeof(secrets[i]), "k");
		issuers[i].iss = iss[i];
		issuers[i].algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256);
		atomic_store(&issuers[i].keys, sets[i]);
	}
	table = ztg_jwt_table_build(issuers, N, err, sizeof(err));
	assert_non_null(table);
	assert_int_equal(ztg_jwt_table_count(table), N);
	for (int i = 0; i < N; i++) {
		const char *payload = fmt("{\"iss\":\"%s\",\"sub\":\"user-%d\",\"exp\":1700000600}", iss[i], i);
		const char *t;

		t = sign_full(ZTG_JWT_ALG_HS256, secrets[i], sizeof(secrets[i]), NULL, 0, "{\"alg\":\"HS256\"}",
			      payload);
		assert_reason(ztg_jwt_verify(table, NULL, NULL, t, strlen(t), NOW, T.scratch, &id, &T.why), ZTG_JWT_OK);
		assert_int_equal(id.issuer, i);
		assert_string_equal(id.subject, fmt("user-%d", i));
		/* the neighbour's secret does not sign for this issuer */
		t = sign_full(ZTG_JWT_ALG_HS256, secrets[(i + 1) % N], sizeof(secrets[0]), NULL, 0,
			      "{\"alg\":\"HS256\",\"kid\":\"k\"}", payload);
		assert_reason(ztg_jwt_verify(table, NULL, NULL, t, strlen(t), NOW, T.scratch, &id, &T.why),
			      ZTG_JWT_BAD_SIGNATURE);
		assert_int_equal(T.why.issuer, i);
	}
	ztg_jwt_table_free(table);
	for (int i = 0; i < N; i++)
		ztg_keyset_free(sets[i]);
	free(issuers);
}

static void test_table_finds_each_of_1000_issuers(void **state)
{
	enum { N = 1000 };
	struct ztg_jwt_issuer *issuers = calloc(ZTG_JWT_MAX_ISSUERS + 1, sizeof(*issuers));
	char (*iss)[40] = calloc(ZTG_JWT_MAX_ISSUERS + 1, sizeof(*iss));
	struct ztg_jwt_table *table;
	char err[256] = "";

	(void)state;
	assert_non_null(issuers);
	assert_non_null(iss);
	for (int i = 0; i <= ZTG_JWT_MAX_ISSUERS; i++) {
		snprintf(iss[i], sizeof(iss[i]), "https://idp.example/tenants/%d", i);
		issuers[i].iss = iss[i];
		issuers[i].algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256);
	}
	table = ztg_jwt_table_build(issuers, N, err, sizeof(err));
	assert_non_null(table);
	assert_int_equal(ztg_jwt_table_count(table), N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ztg_jwt_table_find(table, iss[i], strlen(iss[i])), i);
		assert_ptr_equal(ztg_jwt_table_issuer(table, (uint32_t)i), &issuers[i]);
		/* one character less is issuer i / 10 ("https://idp.example/tenants/" for i < 10), one more none */
		assert_int_equal(ztg_jwt_table_find(table, iss[i], strlen(iss[i]) - 1), i >= 10 ? i / 10 : -1);
		assert_int_equal(ztg_jwt_table_find(table, fmt("%sx", iss[i]), strlen(iss[i]) + 1), -1);
	}
	assert_int_equal(ztg_jwt_table_find(table, iss[N], strlen(iss[N])), -1);
	assert_int_equal(ztg_jwt_table_find(table, "", 0), -1);
	{
		static const char with_nul[] = "https://idp.example/tenants/1\0";

		assert_int_equal(ztg_jwt_table_find(table, with_nul, sizeof(with_nul) - 1), -1);
	}
	assert_null(ztg_jwt_table_issuer(table, N));
	ztg_jwt_table_free(table);

	/* the most issuers there can be, then one more */
	table = ztg_jwt_table_build(issuers, ZTG_JWT_MAX_ISSUERS, err, sizeof(err));
	assert_non_null(table);
	assert_int_equal(ztg_jwt_table_find(table, iss[ZTG_JWT_MAX_ISSUERS - 1], strlen(iss[ZTG_JWT_MAX_ISSUERS - 1])),
			 ZTG_JWT_MAX_ISSUERS - 1);
	ztg_jwt_table_free(table);
	assert_null(ztg_jwt_table_build(issuers, ZTG_JWT_MAX_ISSUERS + 1, err, sizeof(err)));
	assert_non_null(strstr(err, "issuers"));

	/* the same iss twice */
	issuers[700].iss = iss[3];
	assert_null(ztg_jwt_table_build(issuers, N, err, sizeof(err)));
	assert_non_null(strstr(err, "same iss"));
	issuers[700].iss = "";
	assert_null(ztg_jwt_table_build(issuers, N, err, sizeof(err)));
	issuers[700].iss = iss[700];
	issuers[5].max_token_bytes = ZTG_JWT_MAX_TOKEN + 1;
	assert_null(ztg_jwt_table_build(issuers, N, err, sizeof(err)));
	issuers[5].max_token_bytes = 0;
	issuers[6].audience_count = ZTG_JWT_MAX_AUDIENCES + 1;
	issuers[6].audiences = audiences;
	assert_null(ztg_jwt_table_build(issuers, N, err, sizeof(err)));
	issuers[6].audience_count = 0;
	issuers[7].required_count = 1;
	assert_null(ztg_jwt_table_build(issuers, N, err, sizeof(err)));
	issuers[7].required_count = 0;

	assert_null(ztg_jwt_table_build(NULL, 3, err, sizeof(err)));
	/* empty table */
	table = ztg_jwt_table_build(NULL, 0, err, sizeof(err));
	assert_non_null(table);
	assert_int_equal(ztg_jwt_table_count(table), 0);
	assert_int_equal(ztg_jwt_table_find(table, iss[0], strlen(iss[0])), -1);
	ztg_jwt_table_free(table);
	assert_int_equal(ztg_jwt_table_count(NULL), 0);
	free(iss);
	free(issuers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_algorithm_verifies, reset),
		cmocka_unit_test_setup(test_rsa_token_without_kid_uses_the_only_key, reset),
		cmocka_unit_test_setup(test_pss_salt_must_be_the_hash_length, reset),
		cmocka_unit_test_setup(test_ecdsa_der_signature_refused, reset),
		cmocka_unit_test_setup(test_alg_none, reset),
		cmocka_unit_test_setup(test_alg_unknown, reset),
		cmocka_unit_test_setup(test_hmac_keyed_with_rsa_public_key, reset),
		cmocka_unit_test_setup(test_alg_key_mismatch, reset),
		cmocka_unit_test_setup(test_alg_not_allowed, reset),
		cmocka_unit_test_setup(test_unknown_kid_raises_the_flag, reset),
		cmocka_unit_test_setup(test_kid_path_injection_is_just_unknown, reset),
		cmocka_unit_test_setup(test_expired, reset),
		cmocka_unit_test_setup(test_time_leeway_boundaries, reset),
		cmocka_unit_test_setup(test_not_yet_valid_and_issued_in_future, reset),
		cmocka_unit_test_setup(test_bad_time_claims, reset),
		cmocka_unit_test_setup(test_issuer, reset),
		cmocka_unit_test_setup(test_issuer_not_accepted, reset),
		cmocka_unit_test_setup(test_audience, reset),
		cmocka_unit_test_setup(test_tampered_and_cut_signatures, reset),
		cmocka_unit_test_setup(test_segments, reset),
		cmocka_unit_test_setup(test_base64url_strictness, reset),
		cmocka_unit_test_setup(test_json, reset),
		cmocka_unit_test_setup(test_duplicate_members, reset),
		cmocka_unit_test_setup(test_oversized, reset),
		cmocka_unit_test_setup(test_crit_and_key_references, reset),
		cmocka_unit_test_setup(test_typ, reset),
		cmocka_unit_test_setup(test_required_claims, reset),
		cmocka_unit_test_setup(test_subject, reset),
		cmocka_unit_test_setup(test_scopes, reset),
		cmocka_unit_test_setup(test_kept_claims, reset),
		cmocka_unit_test_setup(test_jti, reset),
		cmocka_unit_test_setup(test_internal, reset),
		cmocka_unit_test_setup(test_reason_names, reset),
		cmocka_unit_test_setup(test_sixty_issuers_verify, reset),
		cmocka_unit_test_setup(test_table_finds_each_of_1000_issuers, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
