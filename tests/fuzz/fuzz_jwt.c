/*
 * Fuzz target for JWT verification (auth/jwt.h). Every input is a compact
 * token, verified at a fixed time against a table of two issuers:
 *   0  https://hs.example  HS256/384/512, audience "api", leeway 60, at most
 *                          4096 bytes; one HMAC key, kid "hs";
 *   1  https://es.example  ES256 and HS256, typ at+jwt, identity claim
 *                          client_id, scope claim "permissions", jti and
 *                          tenant required; a P-256 key (kid "es", made at
 *                          the first call) and the same HMAC key.
 * A fuzzer cannot forge a signature, so the input is also verified once more
 * with its signature replaced by the HMAC of its first two segments under
 * the known secret: that token reaches the claim checks. And since mutating
 * base64url rarely yields JSON, an input starting with '{' (which no token
 * does) is taken as header JSON, a newline, payload JSON (seeds raw_*), and
 * encoded and signed here.
 *
 * Checked for each verification:
 *  - the reason is one of the enum, *why carries it, the failure's kid and
 *    detail are printable ASCII within bounds, the issuer index is -1 or a
 *    table index;
 *  - accepted: an identity of kind JWT whose alg the issuer allows, whose
 *    subject, kid, jti and kept claims are NUL-terminated at their lengths,
 *    whose scope and claim bits stay within the names asked about, and whose
 *    expiry is after now - leeway;
 *  - the scratch keeps nothing between calls: the same token verifies the
 *    same way again, to the same identity;
 *  - with only issuer 0 accepted, issuer 1's tokens are refused as
 *    issuer_not_accepted and issuer 0's verify as before.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/base64url.h"
#include "auth/jwt.h"

#include "fuzz_check.h"

#define NOW 1700000000

static const char secret[] = "ztgate-fuzz-hs256-secret-32bytes";
#define SECRET_LEN (sizeof(secret) - 1)
static const char *const audiences[] = { "api" };
static const char *const required[] = { "jti", "tenant" };

static struct ztg_jwt_issuer issuers[2] = {
	{
		.name = "hs", .iss = "https://hs.example", .audiences = audiences, .audience_count = 1,
		.algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256) | ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS384) |
			ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS512),
		.leeway = 60, .max_token_bytes = 4096,
	},
	{
		.name = "es", .iss = "https://es.example",
		.algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_ES256) | ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_HS256),
		.typ = "at+jwt", .required_claims = required, .required_count = 2,
		.identity_claim = "client_id", .scope_claim = "permissions",
	},
};

static struct ztg_jwt_table *table;
static struct ztg_jwt_scratch *scratch;
static struct ztg_auth_names names = {
	.scopes = { "read", "write", "admin" }, .scope_count = 3,
	.claims = { "tenant", "level", "flag" }, .claim_count = 3,
};
static char made[2 * ZTG_JWT_MAX_TOKEN];

static struct ztg_keyset *hmac_keyset(void)
{
	char k[64], jwks[160];
	struct ztg_keyset *set = NULL;

	ztg_base64url_encode((const uint8_t *)secret, SECRET_LEN, k, sizeof(k));
	snprintf(jwks, sizeof(jwks), "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"%s\"}]}", k);
	FUZZ_CHECK(ztg_keyset_from_jwks(jwks, strlen(jwks), &set, NULL, 0) == 0);
	return set;
}

static void init(void)
{
	struct ztg_keyset *es = hmac_keyset();
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;

	FUZZ_CHECK(pkey != NULL && bio != NULL && PEM_write_bio_PUBKEY(bio, pkey) == 1);
	len = BIO_get_mem_data(bio, &pem);
	FUZZ_CHECK(ztg_keyset_add_pem(&es, pem, (size_t)len, "es", NULL, 0) == 0);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	atomic_store(&issuers[0].keys, hmac_keyset());
	atomic_store(&issuers[1].keys, es);
	table = ztg_jwt_table_build(issuers, 2, NULL, 0);
	scratch = ztg_jwt_scratch_create();
	FUZZ_CHECK(table != NULL && scratch != NULL);
}

static bool printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static void check_identity(const struct ztg_identity *id)
{
	const struct ztg_jwt_issuer *iss;

	FUZZ_CHECK(id->kind == ZTG_IDENTITY_JWT && id->issuer < 2);
	iss = &issuers[id->issuer];
	FUZZ_CHECK(id->alg < ZTG_JWT_ALG_COUNT && (iss->algs & ZTG_JWT_ALG_BIT(id->alg)));
	FUZZ_CHECK(id->subject_len >= 1 && id->subject_len <= ZTG_IDENTITY_SUBJECT_MAX);
	FUZZ_CHECK(strnlen(id->subject, sizeof(id->subject)) == id->subject_len);
	FUZZ_CHECK(id->kid_len <= ZTG_IDENTITY_KID_MAX && strnlen(id->kid, sizeof(id->kid)) == id->kid_len);
	FUZZ_CHECK(id->jti_len <= ZTG_IDENTITY_JTI_MAX && strnlen(id->jti, sizeof(id->jti)) == id->jti_len);
	FUZZ_CHECK((id->scopes >> names.scope_count) == 0);
	FUZZ_CHECK((id->claims_present >> names.claim_count) == 0);
	for (uint32_t c = 0; c < ZTG_IDENTITY_MAX_CLAIMS; c++) {
		if (id->claims_present & (1u << c))
			FUZZ_CHECK(id->claim_len[c] <= ZTG_IDENTITY_CLAIM_MAX &&
				   strnlen(id->claims[c], sizeof(id->claims[c])) == id->claim_len[c]);
		else
			FUZZ_CHECK(id->claim_len[c] == 0 && id->claims[c][0] == '\0');
	}
	FUZZ_CHECK(id->expires > (int64_t)NOW - iss->leeway);
}

static void verify(const char *token, size_t len)
{
	static struct ztg_identity id, again;
	struct ztg_jwt_failure why, why_again;
	const uint64_t only_first = 1;
	enum ztg_jwt_reason r, r2;

	r = ztg_jwt_verify(table, NULL, &names, token, len, NOW, scratch, &id, &why);
	FUZZ_CHECK((unsigned int)r < ZTG_JWT_REASON_COUNT && why.reason == r);
	FUZZ_CHECK(strcmp(ztg_jwt_reason_name(r), "unknown") != 0);
	FUZZ_CHECK(printable(why.kid, ZTG_IDENTITY_KID_MAX) && printable(why.detail, sizeof(why.detail) - 1));
	FUZZ_CHECK(why.issuer >= -1 && why.issuer < 2);
	if (r == ZTG_JWT_OK) {
		FUZZ_CHECK(why.issuer == id.issuer);
		check_identity(&id);
	}

	r2 = ztg_jwt_verify(table, NULL, &names, token, len, NOW, scratch, &again, &why_again);
	FUZZ_CHECK(r2 == r && why_again.issuer == why.issuer && strcmp(why_again.kid, why.kid) == 0 &&
		   strcmp(why_again.detail, why.detail) == 0);
	if (r == ZTG_JWT_OK)
		FUZZ_CHECK(memcmp(&id, &again, sizeof(id)) == 0);

	r2 = ztg_jwt_verify(table, &only_first, &names, token, len, NOW, scratch, &again, &why_again);
	if (r == ZTG_JWT_OK && id.issuer == 1)
		FUZZ_CHECK(r2 == ZTG_JWT_ISSUER_NOT_ACCEPTED);
	else if (why.issuer != 1)
		FUZZ_CHECK(r2 == r);
}

/* Append '.' and the HMAC-SHA256 of made[0..n) under the known secret; the token's length, or 0. */
static size_t sign_made(size_t n)
{
	uint8_t mac[32];
	unsigned int mac_len = 0;

	if (n + 1 + ztg_base64url_encoded_len(sizeof(mac)) + 1 > sizeof(made))
		return 0;
	FUZZ_CHECK(HMAC(EVP_sha256(), secret, SECRET_LEN, (const uint8_t *)made, n, mac, &mac_len) != NULL);
	made[n] = '.';
	return n + 1 + ztg_base64url_encode(mac, mac_len, made + n + 1, sizeof(made) - n - 1);
}

/* The token up to its second '.', signed. */
static size_t resign(const char *token, size_t len)
{
	const char *dot1 = memchr(token, '.', len), *dot2;
	size_t n;

	if (dot1 == NULL || (dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))) == NULL)
		return 0;
	n = (size_t)(dot2 - token);
	if (n >= sizeof(made))
		return 0;
	memcpy(made, token, n);
	return sign_made(n);
}

/* Header JSON '\n' payload JSON, encoded and signed. */
static size_t make(const char *in, size_t len)
{
	const char *nl = memchr(in, '\n', len);
	size_t hl, pl, n;

	if (len == 0 || in[0] != '{' || nl == NULL)
		return 0;
	hl = (size_t)(nl - in);
	pl = len - hl - 1;
	if (ztg_base64url_encoded_len(hl) + ztg_base64url_encoded_len(pl) + 2 > sizeof(made))
		return 0;
	n = ztg_base64url_encode((const uint8_t *)in, hl, made, sizeof(made));
	made[n++] = '.';
	n += ztg_base64url_encode((const uint8_t *)nl + 1, pl, made + n, sizeof(made) - n);
	return sign_made(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;

	if (table == NULL)
		init();
	verify((const char *)data, size);
	n = make((const char *)data, size);
	if (n == 0)
		n = resign((const char *)data, size);
	if (n > 0)
		verify(made, n);
	return 0;
}
