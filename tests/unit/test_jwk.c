/*
 * Unit tests for key sets (jwk.h): JWKS documents and PEM files built at run
 * time from keys OpenSSL generates, the algorithms each key may verify, kid
 * lookup, and every refusal with its message.
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

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/base64url.h"
#include "auth/jwk.h"

#define BIT(a) ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_##a)
#define ALGS_RSA (BIT(RS256) | BIT(RS384) | BIT(RS512) | BIT(PS256) | BIT(PS384) | BIT(PS512))

/* Keys made once for the whole run (RSA generation is slow), with their JWK members. */
static struct {
	EVP_PKEY *rsa, *rsa1024, *p256, *p384, *p521, *k256, *ed25519, *ed448, *x448;
	char rsa_n[400], rsa_e[16], rsa1024_n[200];
	char p256_x[64], p256_y[64], p384_x[80], p384_y[80], p521_x[100], p521_y[100];
	char k256_x[64], k256_y[64];
	char ed25519_x[64], ed448_x[100], x448_x[100];
} fx;

static char doc[1 << 21];   /* the JWKS text of the current check */
static char err[256];

/* --------------------------------------------------------------- helpers */

static void b64(const uint8_t *bytes, size_t len, char *out, size_t cap)
{
	assert_int_not_equal(ztg_base64url_encode(bytes, len, out, cap), ZTG_B64_ENCODE_NO_SPACE);
}

/* A BIGNUM parameter of pkey, big-endian in len bytes (0: its own length), as base64url. */
static void bn_member(EVP_PKEY *pkey, const char *param, size_t len, char *out, size_t cap)
{
	BIGNUM *bn = NULL;
	uint8_t bytes[600];

	assert_int_equal(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
	if (len == 0)
		len = (size_t)BN_num_bytes(bn);
	assert_true(len <= sizeof(bytes));
	assert_int_equal(BN_bn2binpad(bn, bytes, (int)len), (int)len);
	BN_free(bn);
	b64(bytes, len, out, cap);
}

static void raw_member(EVP_PKEY *pkey, char *out, size_t cap)
{
	uint8_t bytes[64];
	size_t len = sizeof(bytes);

	assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, bytes, &len), 1);
	b64(bytes, len, out, cap);
}

/* The base64url of the member decoded, changed by edit, encoded again. */
static void reencode(const char *member, void (*edit)(uint8_t *bytes, size_t *len), char *out, size_t cap)
{
	uint8_t bytes[600];
	ssize_t n = ztg_base64url_decode(member, strlen(member), bytes, sizeof(bytes) - 1);
	size_t len;

	assert_true(n > 0);
	len = (size_t)n;
	edit(bytes, &len);
	b64(bytes, len, out, cap);
}

static void drop_first(uint8_t *bytes, size_t *len)
{
	memmove(bytes, bytes + 1, --*len);
}

static void add_zero(uint8_t *bytes, size_t *len)
{
	memmove(bytes + 1, bytes, (*len)++);
	bytes[0] = 0;
}

static void flip_last(uint8_t *bytes, size_t *len)
{
	bytes[*len - 1] ^= 1;
}

static const char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = vsnprintf(doc, sizeof(doc), format, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(doc));
	return doc;
}

static struct ztg_keyset *jwks_ok(const char *text)
{
	struct ztg_keyset *set = NULL;

	err[0] = '\0';
	if (ztg_keyset_from_jwks(text, strlen(text), &set, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n%.300s", err, text);
	assert_non_null(set);
	assert_true(set->count >= 1);
	/* OpenSSL's error queue is left as it was. */
	assert_int_equal(ERR_peek_error(), 0);
	return set;
}

/* The document is refused with a message holding want. */
static void jwks_bad(const char *text, size_t len, const char *want)
{
	struct ztg_keyset *set = (struct ztg_keyset *)&set;   /* must become NULL */

	strcpy(err, "untouched");
	assert_int_equal(ztg_keyset_from_jwks(text, len, &set, err, sizeof(err)), -1);
	assert_null(set);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_int_equal(ERR_peek_error(), 0);
}

#define JWKS_BAD(text, want) jwks_bad((text), strlen(text), (want))

/* One-key documents. */
static const char *rsa_jwk(const char *n, const char *extra)
{
	return fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"%s\",\"e\":\"%s\"%s}]}", n, fx.rsa_e, extra);
}

static const char *ec_jwk(const char *crv, const char *x, const char *y, const char *extra)
{
	return fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}]}", crv, x, y, extra);
}

static const char *okp_jwk(const char *crv, const char *x, const char *extra)
{
	return fmt("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"%s}]}", crv, x, extra);
}

/* The k member of an oct JWK for a secret of len bytes 1, 8, 15, ...; *secret gets the bytes. */
static void oct_k(size_t len, uint8_t *secret, char *out, size_t cap)
{
	for (size_t i = 0; i < len; i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	b64(secret, len, out, cap);
}

static const char *oct_jwk(size_t len, const char *extra)
{
	uint8_t secret[256];
	char k[400];

	oct_k(len, secret, k, sizeof(k));
	return fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"%s}]}", k, extra);
}

static char *pem_of(EVP_PKEY *pkey, bool private_key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	assert_non_null(bio);
	if (private_key)
		assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	assert_non_null(out);
	return out;
}

/* A self-signed certificate for pkey, as PEM. */
static char *cert_pem_of(EVP_PKEY *pkey, const EVP_MD *md)
{
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	assert_non_null(x);
	assert_non_null(bio);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 42), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, pkey), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ztgate test",
						    -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_true(X509_sign(x, pkey, md) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	X509_free(x);
	assert_non_null(out);
	return out;
}

static int pem_add(struct ztg_keyset **set, const char *pem, const char *kid)
{
	err[0] = '\0';
	return ztg_keyset_add_pem(set, pem, strlen(pem), kid, err, sizeof(err));
}

static void pem_bad(struct ztg_keyset **set, const char *pem, const char *kid, const char *want)
{
	struct ztg_keyset *before = *set;
	uint32_t count = before != NULL ? before->count : 0;

	assert_int_equal(pem_add(set, pem, kid), -1);
	assert_ptr_equal(*set, before);
	if (before != NULL)
		assert_int_equal(before->count, count);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_int_equal(ERR_peek_error(), 0);
}

/* len bytes of DER under a PEM label, as text. */
static void pem_block(const char *label, const unsigned char *der, long len, char *out, size_t cap)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	assert_non_null(bio);
	assert_true(PEM_write_bio(bio, label, "", der, len) > 0);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0 && (size_t)n < cap);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(bio);
}

/* ----------------------------------------------------------------- setup */

static int setup(void **state)
{
	(void)state;
	fx.rsa = EVP_RSA_gen(2048);
	fx.rsa1024 = EVP_RSA_gen(1024);
	fx.p256 = EVP_EC_gen("P-256");
	fx.p384 = EVP_EC_gen("P-384");
	fx.p521 = EVP_EC_gen("P-521");
	fx.k256 = EVP_EC_gen("secp256k1");
	fx.ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	fx.ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	fx.x448 = EVP_PKEY_Q_keygen(NULL, NULL, "X448");
	if (!fx.rsa || !fx.rsa1024 || !fx.p256 || !fx.p384 || !fx.p521 || !fx.k256 || !fx.ed25519 || !fx.ed448 ||
	    !fx.x448)
		return -1;
	bn_member(fx.rsa, OSSL_PKEY_PARAM_RSA_N, 0, fx.rsa_n, sizeof(fx.rsa_n));
	bn_member(fx.rsa, OSSL_PKEY_PARAM_RSA_E, 0, fx.rsa_e, sizeof(fx.rsa_e));
	bn_member(fx.rsa1024, OSSL_PKEY_PARAM_RSA_N, 0, fx.rsa1024_n, sizeof(fx.rsa1024_n));
	bn_member(fx.p256, OSSL_PKEY_PARAM_EC_PUB_X, 32, fx.p256_x, sizeof(fx.p256_x));
	bn_member(fx.p256, OSSL_PKEY_PARAM_EC_PUB_Y, 32, fx.p256_y, sizeof(fx.p256_y));
	bn_member(fx.p384, OSSL_PKEY_PARAM_EC_PUB_X, 48, fx.p384_x, sizeof(fx.p384_x));
	bn_member(fx.p384, OSSL_PKEY_PARAM_EC_PUB_Y, 48, fx.p384_y, sizeof(fx.p384_y));
	bn_member(fx.p521, OSSL_PKEY_PARAM_EC_PUB_X, 66, fx.p521_x, sizeof(fx.p521_x));
	bn_member(fx.p521, OSSL_PKEY_PARAM_EC_PUB_Y, 66, fx.p521_y, sizeof(fx.p521_y));
	bn_member(fx.k256, OSSL_PKEY_PARAM_EC_PUB_X, 32, fx.k256_x, sizeof(fx.k256_x));
	bn_member(fx.k256, OSSL_PKEY_PARAM_EC_PUB_Y, 32, fx.k256_y, sizeof(fx.k256_y));
	raw_member(fx.ed25519, fx.ed25519_x, sizeof(fx.ed25519_x));
	raw_member(fx.ed448, fx.ed448_x, sizeof(fx.ed448_x));
	raw_member(fx.x448, fx.x448_x, sizeof(fx.x448_x));
	return 0;
}

static int teardown(void **state)
{
	EVP_PKEY *keys[] = {fx.rsa, fx.rsa1024, fx.p256, fx.p384, fx.p521, fx.k256, fx.ed25519, fx.ed448, fx.x448};

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	return 0;
}

/* ------------------------------------------------------------ algorithms */

static void test_alg_names(void **state)
{
	static const char *const names[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
					    "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};
	enum ztg_jwt_alg alg;

	(void)state;
	assert_int_equal(ZTG_JWT_ALG_COUNT, 13);
	for (int a = 0; a < ZTG_JWT_ALG_COUNT; a++) {
		assert_string_equal(ztg_jwt_alg_name((enum ztg_jwt_alg)a), names[a]);
		alg = ZTG_JWT_ALG_COUNT;
		assert_int_equal(ztg_jwt_alg_from_name(names[a], strlen(names[a]), &alg), 0);
		assert_int_equal(alg, a);
	}
	assert_string_equal(ztg_jwt_alg_name(ZTG_JWT_ALG_COUNT), "?");
	assert_string_equal(ztg_jwt_alg_name((enum ztg_jwt_alg)-1), "?");
	/* exact, case-sensitive, by length: no prefix, no NUL needed */
	assert_int_equal(ztg_jwt_alg_from_name("none", 4, &alg), -1);
	assert_int_equal(ztg_jwt_alg_from_name("hs256", 5, &alg), -1);
	assert_int_equal(ztg_jwt_alg_from_name("EDDSA", 5, &alg), -1);
	assert_int_equal(ztg_jwt_alg_from_name("HS25", 4, &alg), -1);
	assert_int_equal(ztg_jwt_alg_from_name("HS2566", 6, &alg), -1);
	assert_int_equal(ztg_jwt_alg_from_name("", 0, &alg), -1);
	assert_int_equal(ztg_jwt_alg_from_name("ES384xyz", 5, &alg), 0);
	assert_int_equal(alg, ZTG_JWT_ALG_ES384);
	assert_int_equal(ztg_jwt_alg_from_name(NULL, 5, &alg), -1);
}

/* -------------------------------------------------------------- JWK keys */

static void test_rsa(void **state)
{
	struct ztg_keyset *set;
	const struct ztg_jwk *k;

	(void)state;
	/* use, key_ops and members this module does not know (RFC 7517: ignored) */
	set = jwks_ok(fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"key_ops\":[\"verify\"],"
			  "\"n\":\"%s\",\"e\":\"%s\",\"x5t\":\"abc\",\"ext\":{\"a\":[1,2,null]}}],\"other\":true}",
			  fx.rsa_n, fx.rsa_e));
	assert_int_equal(set->count, 1);
	k = &set->keys[0];
	assert_int_equal(k->type, ZTG_JWK_RSA);
	assert_int_equal(k->algs, ALGS_RSA);
	assert_string_equal(k->kid, "rsa-1");
	assert_int_equal(k->kid_len, 5);
	assert_non_null(k->pkey);
	assert_int_equal(EVP_PKEY_eq(k->pkey, fx.rsa), 1);
	assert_int_equal(EVP_PKEY_get_bits(k->pkey), 2048);
	assert_null(k->secret);
	assert_int_equal(k->secret_len, 0);
	ztg_keyset_free(set);

	/* A leading zero octet (some libraries publish 257 bytes for 2048 bits) is the same number. */
	char n0[400];

	reencode(fx.rsa_n, add_zero, n0, sizeof(n0));
	set = jwks_ok(rsa_jwk(n0, ""));
	assert_int_equal(EVP_PKEY_eq(set->keys[0].pkey, fx.rsa), 1);
	assert_int_equal(set->keys[0].algs, ALGS_RSA);
	ztg_keyset_free(set);
}

static void test_ec_curves(void **state)
{
	const struct {
		const char *crv, *x, *y;
		EVP_PKEY *pkey;
		uint32_t algs;
	} curves[] = {
		{"P-256", fx.p256_x, fx.p256_y, fx.p256, BIT(ES256)},
		{"P-384", fx.p384_x, fx.p384_y, fx.p384, BIT(ES384)},
		{"P-521", fx.p521_x, fx.p521_y, fx.p521, BIT(ES512)},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		struct ztg_keyset *set = jwks_ok(ec_jwk(curves[i].crv, curves[i].x, curves[i].y, ""));
		const struct ztg_jwk *k = &set->keys[0];

		assert_int_equal(k->type, ZTG_JWK_EC);
		assert_int_equal(k->algs, curves[i].algs);
		assert_int_equal(EVP_PKEY_eq(k->pkey, curves[i].pkey), 1);
		assert_int_equal(k->kid_len, 0);
		assert_string_equal(k->kid, "");
		ztg_keyset_free(set);
	}
}

static void test_ed25519(void **state)
{
	struct ztg_keyset *set;

	(void)state;
	set = jwks_ok(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":\"ed\""));
	assert_int_equal(set->keys[0].type, ZTG_JWK_OKP);
	assert_int_equal(set->keys[0].algs, BIT(EDDSA));
	assert_int_equal(EVP_PKEY_eq(set->keys[0].pkey, fx.ed25519), 1);
	assert_string_equal(set->keys[0].kid, "ed");
	ztg_keyset_free(set);
}

static void test_oct_lengths(void **state)
{
	const struct {
		size_t len;
		uint32_t algs;
	} cases[] = {
		{32, BIT(HS256)},
		{47, BIT(HS256)},
		{48, BIT(HS256) | BIT(HS384)},
		{63, BIT(HS256) | BIT(HS384)},
		{64, BIT(HS256) | BIT(HS384) | BIT(HS512)},
		{200, BIT(HS256) | BIT(HS384) | BIT(HS512)},
	};
	uint8_t secret[256];
	char k[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ztg_keyset *set = jwks_ok(oct_jwk(cases[i].len, ""));
		const struct ztg_jwk *key = &set->keys[0];

		oct_k(cases[i].len, secret, k, sizeof(k));
		assert_int_equal(key->type, ZTG_JWK_OCT);
		assert_int_equal(key->algs, cases[i].algs);
		assert_null(key->pkey);
		assert_int_equal(key->secret_len, cases[i].len);
		assert_memory_equal(key->secret, secret, cases[i].len);
		ztg_keyset_free(set);
	}
	JWKS_BAD(oct_jwk(31, ""), "key 0: oct k is 31 bytes, at least 32 needed (HS256)");
	JWKS_BAD(oct_jwk(1, ""), "oct k is 1 bytes");
	JWKS_BAD("{\"keys\":[{\"kty\":\"oct\",\"k\":\"\"}]}", "key 0: oct k is empty");
	JWKS_BAD("{\"keys\":[{\"kty\":\"oct\"}]}", "key 0: oct k (\"k\") is missing");
}

static void test_alg_narrowing(void **state)
{
	struct ztg_keyset *set;

	(void)state;
	set = jwks_ok(rsa_jwk(fx.rsa_n, ",\"alg\":\"PS384\""));
	assert_int_equal(set->keys[0].algs, BIT(PS384));
	ztg_keyset_free(set);
	set = jwks_ok(ec_jwk("P-521", fx.p521_x, fx.p521_y, ",\"alg\":\"ES512\""));
	assert_int_equal(set->keys[0].algs, BIT(ES512));
	ztg_keyset_free(set);
	set = jwks_ok(okp_jwk("Ed25519", fx.ed25519_x, ",\"alg\":\"EdDSA\""));
	assert_int_equal(set->keys[0].algs, BIT(EDDSA));
	ztg_keyset_free(set);
	set = jwks_ok(oct_jwk(64, ",\"alg\":\"HS384\""));
	assert_int_equal(set->keys[0].algs, BIT(HS384));
	ztg_keyset_free(set);
	set = jwks_ok(oct_jwk(48, ",\"alg\":\"HS256\""));
	assert_int_equal(set->keys[0].algs, BIT(HS256));
	ztg_keyset_free(set);

	/* An alg the key cannot do, or no algorithm at all. */
	JWKS_BAD(rsa_jwk(fx.rsa_n, ",\"alg\":\"ES256\""),
		 "key 0 (kid \"r\"): alg \"ES256\" cannot be verified with this RSA key");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"alg\":\"ES384\""),
		 "key 0: alg \"ES384\" cannot be verified with this EC P-256 key");
	JWKS_BAD(ec_jwk("P-384", fx.p384_x, fx.p384_y, ",\"alg\":\"RS256\""), "with this EC P-384 key");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"alg\":\"ES256\""), "with this OKP Ed25519 key");
	JWKS_BAD(oct_jwk(32, ",\"alg\":\"HS512\""), "key 0: alg \"HS512\" needs k of at least 64 bytes, k is 32");
	JWKS_BAD(oct_jwk(47, ",\"alg\":\"HS384\""), "alg \"HS384\" needs k of at least 48 bytes, k is 47");
	JWKS_BAD(oct_jwk(64, ",\"alg\":\"RS256\""), "alg \"RS256\" cannot be verified with this oct key");
	JWKS_BAD(oct_jwk(64, ",\"alg\":\"none\""), "key 0: alg \"none\" is not a supported JWS algorithm");
	JWKS_BAD(oct_jwk(64, ",\"alg\":\"hs256\""), "alg \"hs256\" is not a supported JWS algorithm");
	JWKS_BAD(rsa_jwk(fx.rsa_n, ",\"alg\":\"RSA-OAEP-256\""), "alg \"RSA-OAEP-256\" is not a supported");
	JWKS_BAD(oct_jwk(64, ",\"alg\":256"), "key 0: alg is not a string");
}

/* ------------------------------------------------------------------- kid */

static void test_kid_lookup(void **state)
{
	uint8_t secret[64];
	char k[100];
	struct ztg_keyset *set;

	(void)state;
	oct_k(32, secret, k, sizeof(k));
	set = jwks_ok(fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"%s\",\"e\":\"%s\"},"
			  "{\"kty\":\"EC\",\"kid\":\"ab\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
			  "{\"kty\":\"oct\",\"kid\":\"b\",\"k\":\"%s\"}]}",
			  fx.rsa_n, fx.rsa_e, fx.p256_x, fx.p256_y, k));
	assert_int_equal(set->count, 3);
	assert_ptr_equal(ztg_keyset_find(set, "a", 1), &set->keys[0]);
	assert_ptr_equal(ztg_keyset_find(set, "ab", 2), &set->keys[1]);
	assert_ptr_equal(ztg_keyset_find(set, "b", 1), &set->keys[2]);
	assert_ptr_equal(ztg_keyset_find(set, "abc", 1), &set->keys[0]);   /* by length, no NUL needed */
	assert_null(ztg_keyset_find(set, "abc", 3));
	assert_null(ztg_keyset_find(set, "A", 1));
	assert_null(ztg_keyset_find(set, "", 0));     /* no kid, several keys: none */
	assert_null(ztg_keyset_find(set, NULL, 0));
	assert_int_equal(set->keys[0].type, ZTG_JWK_RSA);
	assert_int_equal(set->keys[1].algs, BIT(ES256));
	assert_int_equal(set->keys[2].algs, BIT(HS256));
	ztg_keyset_free(set);

	/* A single key is every kid-less token's key, but a token naming another kid gets none. */
	set = jwks_ok(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"kid\":\"only\""));
	assert_ptr_equal(ztg_keyset_find(set, NULL, 0), &set->keys[0]);
	assert_ptr_equal(ztg_keyset_find(set, "only", 4), &set->keys[0]);
	assert_null(ztg_keyset_find(set, "other", 5));
	assert_null(ztg_keyset_find(set, "onl", 3));
	ztg_keyset_free(set);

	set = jwks_ok(ec_jwk("P-256", fx.p256_x, fx.p256_y, ""));
	assert_ptr_equal(ztg_keyset_find(set, "", 0), &set->keys[0]);
	assert_null(ztg_keyset_find(set, "x", 1));
	ztg_keyset_free(set);

	/* Keys without kid do not clash; a kid-less token then has no key to use. */
	set = jwks_ok(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"},{\"kty\":\"oct\",\"k\":\"%s\"},"
			  "{\"kty\":\"oct\",\"k\":\"%s\",\"kid\":\"k\"}]}", k, k, k));
	assert_int_equal(set->count, 3);
	assert_null(ztg_keyset_find(set, NULL, 0));
	assert_ptr_equal(ztg_keyset_find(set, "k", 1), &set->keys[2]);
	ztg_keyset_free(set);

	assert_null(ztg_keyset_find(NULL, "a", 1));
	ztg_keyset_free(NULL);
}

static void test_kid_rules(void **state)
{
	char extra[100];
	struct ztg_keyset *set;

	(void)state;
	snprintf(extra, sizeof(extra), ",\"kid\":\"%.64s\"", "0123456789abcdef0123456789abcdef0123456789abcdef"
		 "0123456789abcdef");
	set = jwks_ok(okp_jwk("Ed25519", fx.ed25519_x, extra));
	assert_int_equal(set->keys[0].kid_len, 64);
	assert_ptr_equal(ztg_keyset_find(set, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64),
			 &set->keys[0]);
	ztg_keyset_free(set);

	/* The kid is compared decoded: "\u0041 b" is "A b" (space is printable). */
	set = jwks_ok(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":\"\\u0041 b\""));
	assert_string_equal(set->keys[0].kid, "A b");
	assert_ptr_equal(ztg_keyset_find(set, "A b", 3), &set->keys[0]);
	ztg_keyset_free(set);

	snprintf(extra, sizeof(extra), ",\"kid\":\"%.65s\"", "0123456789abcdef0123456789abcdef0123456789abcdef"
		 "0123456789abcdefX");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, extra), "key 0: kid is longer than 64 bytes");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":\"\""), "key 0: kid is empty");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":\"a\\tb\""),
		 "key 0: kid holds byte 0x09 at 1: only printable ASCII is accepted");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":\"caf\xc3\xa9\""), "key 0: kid holds byte 0xc3 at 3");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":\"a\\u0000\""), "key 0: kid holds U+0000");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"kid\":7"), "key 0: kid is not a string");
}

/* ------------------------------------------------------------- refusals */

static void test_message_names_key(void **state)
{
	char x31[64];
	struct ztg_keyset *set = NULL;

	(void)state;
	reencode(fx.p256_x, drop_first, x31, sizeof(x31));
	fmt("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"e\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
	    "{\"kty\":\"EC\",\"kid\":\"abc\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
	    fx.ed25519_x, fx.p256_x, fx.p256_y, x31, fx.p256_y);
	assert_int_equal(ztg_keyset_from_jwks(doc, strlen(doc), &set, err, sizeof(err)), -1);
	assert_null(set);
	assert_string_equal(err, "key 2 (kid \"abc\"): EC x is 31 bytes, P-256 needs 32");

	/* A short buffer gets a truncated, terminated message; none at all is fine too. */
	char small[12];

	assert_int_equal(ztg_keyset_from_jwks(doc, strlen(doc), &set, small, sizeof(small)), -1);
	assert_string_equal(small, "key 2 (kid ");
	assert_int_equal(ztg_keyset_from_jwks(doc, strlen(doc), &set, NULL, 0), -1);
	assert_null(set);
}

static void test_refuse_kty(void **state)
{
	(void)state;
	JWKS_BAD("{\"keys\":[{\"kty\":\"DSA\",\"kid\":\"d\"}]}",
		 "key 0 (kid \"d\"): kty \"DSA\" is not supported (expected RSA, EC, OKP or oct)");
	JWKS_BAD("{\"keys\":[{\"kty\":\"rsa\"}]}", "key 0: kty \"rsa\" is not supported");
	/* Shown as written, bytes outside printable ASCII as '?'. */
	JWKS_BAD("{\"keys\":[{\"kty\":\"\\u0001\\n\"}]}", "kty \"\\u0001\\n\" is not supported");
	JWKS_BAD("{\"keys\":[{\"kty\":\"caf\xc3\xa9\"}]}", "kty \"caf??\" is not supported");
	JWKS_BAD("{\"keys\":[{\"kid\":\"x\"}]}", "key 0 (kid \"x\"): kty is missing");
	JWKS_BAD("{\"keys\":[{\"kty\":1}]}", "key 0: kty is not a string");
}

static void test_refuse_rsa(void **state)
{
	char e1[8];

	(void)state;
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"e\":\"%s\"}]}", fx.rsa_e),
		 "key 0 (kid \"r\"): RSA modulus (\"n\") is missing");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"%s\"}]}", fx.rsa_n),
		 "key 0 (kid \"r\"): RSA exponent (\"e\") is missing");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":[],\"e\":\"%s\"}]}", fx.rsa_e), "key 0: n is not a string");
	JWKS_BAD(rsa_jwk(fx.rsa1024_n, ""), "key 0 (kid \"r\"): RSA modulus is 1024 bits, at least 2048 required");
	b64((const uint8_t *)"\x01", 1, e1, sizeof(e1));
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}]}", fx.rsa_n, e1),
		 "key 0: RSA public key check failed");
	/* Private members: refused whatever their value, on every public key type. */
	JWKS_BAD(rsa_jwk(fx.rsa_n, ",\"d\":\"AQAB\""),
		 "key 0 (kid \"r\"): holds private member \"d\": a published key set must not carry private keys");
	JWKS_BAD(rsa_jwk(fx.rsa_n, ",\"p\":\"AQAB\""), "holds private member \"p\"");
	JWKS_BAD(rsa_jwk(fx.rsa_n, ",\"qi\":\"AQAB\""), "holds private member \"qi\"");
	JWKS_BAD(rsa_jwk(fx.rsa_n, ",\"oth\":[]"), "holds private member \"oth\"");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"d\":\"AQAB\""), "key 0: holds private member \"d\"");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed25519_x, ",\"d\":\"AQAB\""), "key 0: holds private member \"d\"");
}

static void test_refuse_ec(void **state)
{
	char bad[120];

	(void)state;
	reencode(fx.p256_x, drop_first, bad, sizeof(bad));
	JWKS_BAD(ec_jwk("P-256", bad, fx.p256_y, ""), "key 0: EC x is 31 bytes, P-256 needs 32");
	reencode(fx.p256_y, add_zero, bad, sizeof(bad));
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, bad, ""), "key 0: EC y is 33 bytes, P-256 needs 32");
	/* A P-256 point's coordinates are not a P-384 point's, and the lengths say so first. */
	JWKS_BAD(ec_jwk("P-384", fx.p256_x, fx.p256_y, ""), "key 0: EC x is 32 bytes, P-384 needs 48");
	reencode(fx.p521_x, drop_first, bad, sizeof(bad));
	JWKS_BAD(ec_jwk("P-521", bad, fx.p521_y, ""), "key 0: EC x is 65 bytes, P-521 needs 66");
	reencode(fx.p256_y, flip_last, bad, sizeof(bad));
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, bad, ""), "key 0: EC point is not on P-256");
	reencode(fx.p384_x, flip_last, bad, sizeof(bad));
	JWKS_BAD(ec_jwk("P-384", bad, fx.p384_y, ""), "key 0: EC point is not on P-384");
	JWKS_BAD(ec_jwk("secp256k1", fx.k256_x, fx.k256_y, ""),
		 "key 0: EC crv \"secp256k1\" is not supported (expected P-256, P-384 or P-521)");
	JWKS_BAD(ec_jwk("p-256", fx.p256_x, fx.p256_y, ""), "EC crv \"p-256\" is not supported");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}]}", fx.p256_x, fx.p256_y),
		 "key 0: EC crv is missing");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\"}]}", fx.p256_x),
		 "key 0: EC y (\"y\") is missing");
}

static void test_refuse_okp(void **state)
{
	char bad[64];

	(void)state;
	JWKS_BAD(okp_jwk("Ed448", fx.ed448_x, ""), "key 0: OKP crv \"Ed448\" is not supported (only Ed25519)");
	JWKS_BAD(okp_jwk("X448", fx.x448_x, ""), "key 0: OKP crv \"X448\" is not supported (only Ed25519)");
	JWKS_BAD(okp_jwk("X25519", fx.ed25519_x, ""), "OKP crv \"X25519\" is not supported");
	reencode(fx.ed25519_x, drop_first, bad, sizeof(bad));
	JWKS_BAD(okp_jwk("Ed25519", bad, ""), "key 0: OKP x is 31 bytes, Ed25519 needs 32");
	JWKS_BAD(okp_jwk("Ed25519", fx.ed448_x, ""), "key 0: OKP x is 57 bytes, Ed25519 needs 32");
	JWKS_BAD("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}", "key 0: OKP x (\"x\") is missing");
	JWKS_BAD("{\"keys\":[{\"kty\":\"OKP\"}]}", "key 0: OKP crv is missing");
}

static void test_usage(void **state)
{
	struct ztg_keyset *set;

	(void)state;
	/* A set holding only keys for something else verifies nothing: refused. */
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"use\":\"enc\""), "no key for signatures");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"use\":\"SIG\""), "no key for signatures");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"key_ops\":[\"sign\",\"encrypt\"]"),
		 "no key for signatures");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"key_ops\":[]"), "no key for signatures");
	/* Malformed members still refuse the document. */
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"use\":[\"sig\"]"), "key 0: use is not a string");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"key_ops\":\"verify\""), "key 0: key_ops is not an array");
	JWKS_BAD(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"key_ops\":[\"verify\",1]"),
		 "key_ops holds a value that is not a string");
	set = jwks_ok(oct_jwk(32, ",\"use\":\"sig\",\"key_ops\":[\"sign\",\"verify\"]"));
	assert_int_equal(set->keys[0].algs, BIT(HS256));
	ztg_keyset_free(set);
	/* An encryption key beside a signing one (as Keycloak publishes them) is skipped, even of an unknown alg. */
	set = jwks_ok(fmt("{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"alg\":\"RSA-OAEP\",\"kid\":\"e\","
			  "\"n\":\"AQAB\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"s\",\"x\":\"%s\","
			  "\"y\":\"%s\",\"use\":\"sig\"}]}", fx.p256_x, fx.p256_y));
	assert_int_equal(set->count, 1);
	assert_string_equal(set->keys[0].kid, "s");
	assert_null(ztg_keyset_find(set, "e", 1));
	ztg_keyset_free(set);
}

static void test_refuse_document(void **state)
{
	uint8_t secret[64];
	char k[100];

	(void)state;
	oct_k(32, secret, k, sizeof(k));
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"same\",\"k\":\"%s\"},"
		     "{\"kty\":\"oct\",\"kid\":\"same\",\"k\":\"%s\"}]}", k, k),
		 "key 1 (kid \"same\"): kid already used by another key");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"A\",\"k\":\"%s\"},{\"kty\":\"oct\",\"k\":\"%s\"},"
		     "{\"kty\":\"oct\",\"kid\":\"\\u0041\",\"k\":\"%s\"}]}", k, k, k),
		 "key 2 (kid \"A\"): kid already used by another key");
	JWKS_BAD("{\"keys\":[]}", "\"keys\" is empty: a key set needs at least one key");
	JWKS_BAD("{\"keys\":{}}", "\"keys\" is not an array");
	JWKS_BAD("{\"Keys\":[]}", "no \"keys\" member");
	JWKS_BAD("{}", "no \"keys\" member");
	JWKS_BAD("[{\"keys\":[]}]", "not valid JSON: json_top_level_not_object at byte 0");
	JWKS_BAD("", "not valid JSON: json_empty");
	JWKS_BAD("{\"keys\":[1]}", "key 0: not a JSON object");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"},\"x\"]}", k), "key 1: not a JSON object");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\",\"k\":\"%s\"}]}", k, k),
		 "not valid JSON: json_duplicate_member");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\",\"kty\":\"RSA\"}]}", k), "json_duplicate_member");
	JWKS_BAD("{\"keys\":[],\"k\\u0065ys\":[]}", "json_duplicate_member");
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"},]}", k), "not valid JSON: json_trailing_comma");
	jwks_bad("{\"keys\":[]}\0", 12, "json_trailing_data");
}

/* Set the lowest unused bit of the last character: the same bytes, a second spelling. */
static void noncanonical(char *text)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *last = text + strlen(text) - 1;
	const char *at = strchr(alphabet, *last);

	assert_non_null(at);
	assert_int_equal((at - alphabet) & 1, 0);
	*last = at[1];
}

static void test_refuse_base64url(void **state)
{
	uint8_t secret[64];
	char bad[120], k[100];

	(void)state;
	/* 32 bytes are 43 characters: the last one has 2 unused bits, which must be 0. */
	strcpy(bad, fx.p256_x);
	assert_int_equal(strlen(bad), 43);
	noncanonical(bad);
	JWKS_BAD(ec_jwk("P-256", bad, fx.p256_y, ""),
		 "key 0: EC x is not strict base64url: base64url_noncanonical_tail at character 42");
	oct_k(32, secret, k, sizeof(k));
	noncanonical(k);
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"%s\"}]}", k),
		 "key 0 (kid \"h\"): oct k is not strict base64url: base64url_noncanonical_tail at character 42");
	oct_k(32, secret, k, sizeof(k));
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s=\"}]}", k),
		 "oct k is not strict base64url: base64url_bad_character at character 43");
	k[5] = '+';
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"}]}", k), "base64url_bad_character at character 5");
	/* A JSON escape is never needed in base64url: "\u0041" is not "A" here. */
	oct_k(32, secret, k, sizeof(k));
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"\\u0041%s\"}]}", k + 1),
		 "base64url_bad_character at character 0");
	/* 43 + 2 characters: 1 mod 4 cannot carry whole bytes. */
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%sAA\"}]}", k),
		 "oct k is not strict base64url: base64url_bad_length at character 45");
	/* One byte more on n: an even modulus. */
	JWKS_BAD(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%sA\",\"e\":\"AQAB\"}]}", fx.rsa_n),
		 "key 0: RSA public key check failed");
}

static void test_limits(void **state)
{
	uint8_t secret[64];
	char k[100], key[200];
	struct ztg_keyset *set;
	size_t n, len;
	char *big;

	(void)state;
	oct_k(32, secret, k, sizeof(k));

	/* ZTG_JWKS_MAX_KEYS keys, then one more. */
	for (int keys = ZTG_JWKS_MAX_KEYS; keys <= ZTG_JWKS_MAX_KEYS + 1; keys++) {
		n = (size_t)snprintf(doc, sizeof(doc), "{\"keys\":[");
		for (int i = 0; i < keys; i++) {
			snprintf(key, sizeof(key), "%s{\"kty\":\"oct\",\"kid\":\"k%d\",\"k\":\"%s\"}", i ? "," : "",
				 i, k);
			n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s", key);
		}
		snprintf(doc + n, sizeof(doc) - n, "]}");
		if (keys == ZTG_JWKS_MAX_KEYS) {
			set = jwks_ok(doc);
			assert_int_equal(set->count, ZTG_JWKS_MAX_KEYS);
			assert_ptr_equal(ztg_keyset_find(set, "k63", 3), &set->keys[63]);
			assert_memory_equal(set->keys[63].secret, secret, 32);
			ztg_keyset_free(set);
		} else {
			JWKS_BAD(doc, "\"keys\" holds 65 keys, at most 64");
		}
	}

	/* ZTG_JWKS_MAX_BYTES of text (whitespace padded), then one byte more. */
	big = malloc(ZTG_JWKS_MAX_BYTES + 2);
	assert_non_null(big);
	len = (size_t)snprintf(big, ZTG_JWKS_MAX_BYTES, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"}]}", k);
	memset(big + len, ' ', ZTG_JWKS_MAX_BYTES + 1 - len);
	set = NULL;
	assert_int_equal(ztg_keyset_from_jwks(big, ZTG_JWKS_MAX_BYTES, &set, err, sizeof(err)), 0);
	assert_int_equal(set->count, 1);
	ztg_keyset_free(set);
	jwks_bad(big, ZTG_JWKS_MAX_BYTES + 1, "JWKS is 1048577 bytes, at most 1048576");

	/* More than ZTG_JWKS_MAX_VALUES JSON values (an x5c-like array of 20000 numbers). */
	n = (size_t)snprintf(big, ZTG_JWKS_MAX_BYTES, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\",\"x5c\":[0", k);
	for (int i = 0; i < 20000; i++)
		n += (size_t)snprintf(big + n, ZTG_JWKS_MAX_BYTES - n, ",0");
	n += (size_t)snprintf(big + n, ZTG_JWKS_MAX_BYTES - n, "]}]}");
	jwks_bad(big, n, "JWKS holds more than 16384 JSON values");
	free(big);
}

/* ------------------------------------------------------------------- PEM */

static void test_pem_keys(void **state)
{
	struct ztg_keyset *set = NULL;
	char *rsa = pem_of(fx.rsa, false), *p384 = pem_of(fx.p384, false), *ed = pem_of(fx.ed25519, false);
	char *p521_cert = cert_pem_of(fx.p521, EVP_sha512()), *ed_cert = cert_pem_of(fx.ed25519, NULL);
	char *rsa_cert = cert_pem_of(fx.rsa, EVP_sha256());

	(void)state;
	assert_int_equal(pem_add(&set, rsa, "pem-rsa"), 0);
	assert_non_null(set);
	assert_int_equal(set->count, 1);
	assert_int_equal(set->keys[0].type, ZTG_JWK_RSA);
	assert_int_equal(set->keys[0].algs, ALGS_RSA);
	assert_string_equal(set->keys[0].kid, "pem-rsa");
	assert_int_equal(EVP_PKEY_eq(set->keys[0].pkey, fx.rsa), 1);

	assert_int_equal(pem_add(&set, p384, "pem-ec"), 0);
	assert_int_equal(pem_add(&set, p521_cert, "cert-ec"), 0);
	assert_int_equal(pem_add(&set, ed_cert, "cert-ed"), 0);
	assert_int_equal(pem_add(&set, rsa_cert, "cert-rsa"), 0);
	assert_int_equal(set->count, 5);
	assert_int_equal(set->keys[1].type, ZTG_JWK_EC);
	assert_int_equal(set->keys[1].algs, BIT(ES384));
	assert_int_equal(EVP_PKEY_eq(set->keys[1].pkey, fx.p384), 1);
	assert_int_equal(set->keys[2].algs, BIT(ES512));
	assert_int_equal(EVP_PKEY_eq(set->keys[2].pkey, fx.p521), 1);
	assert_int_equal(set->keys[3].type, ZTG_JWK_OKP);
	assert_int_equal(set->keys[3].algs, BIT(EDDSA));
	assert_int_equal(EVP_PKEY_eq(set->keys[3].pkey, fx.ed25519), 1);
	assert_int_equal(set->keys[4].algs, ALGS_RSA);
	assert_ptr_equal(ztg_keyset_find(set, "cert-ed", 7), &set->keys[3]);
	assert_null(ztg_keyset_find(set, NULL, 0));
	pem_bad(&set, p384, "pem-rsa", "kid \"pem-rsa\": kid already used by key 0 of the set");
	ztg_keyset_free(set);

	/* One anonymous key: the key of every kid-less token; kid NULL is "". */
	set = NULL;
	assert_int_equal(pem_add(&set, ed, NULL), 0);
	assert_int_equal(set->keys[0].kid_len, 0);
	assert_ptr_equal(ztg_keyset_find(set, NULL, 0), &set->keys[0]);
	ztg_keyset_free(set);

	/* PEM keys join a set read from a JWKS. */
	set = jwks_ok(ec_jwk("P-256", fx.p256_x, fx.p256_y, ",\"kid\":\"jwk\""));
	assert_int_equal(pem_add(&set, rsa, "pem"), 0);
	assert_int_equal(set->count, 2);
	assert_string_equal(set->keys[0].kid, "jwk");
	assert_int_equal(set->keys[0].algs, BIT(ES256));
	assert_ptr_equal(ztg_keyset_find(set, "pem", 3), &set->keys[1]);
	pem_bad(&set, ed, "jwk", "kid \"jwk\": kid already used by key 0 of the set");
	ztg_keyset_free(set);

	free(rsa);
	free(p384);
	free(ed);
	free(p521_cert);
	free(ed_cert);
	free(rsa_cert);
}

static void test_pem_refusals(void **state)
{
	struct ztg_keyset *set = NULL;
	char *rsa_private = pem_of(fx.rsa, true), *ec_private = pem_of(fx.p256, true);
	char *rsa1024 = pem_of(fx.rsa1024, false), *ed448 = pem_of(fx.ed448, false), *x448 = pem_of(fx.x448, false);
	char *k256 = pem_of(fx.k256, false), *p256 = pem_of(fx.p256, false);
	char *k256_cert = cert_pem_of(fx.k256, EVP_sha256());
	char text[4096], kid[80];
	unsigned char der[600], *p;
	int n;

	(void)state;
	pem_bad(&set, rsa_private, "priv", "kid \"priv\": PEM block \"PRIVATE KEY\" is a private key: give the "
		"public key or certificate");
	pem_bad(&set, ec_private, "", "PEM block \"PRIVATE KEY\" is a private key");
	pem_bad(&set, rsa1024, "small", "kid \"small\": RSA modulus is 1024 bits, at least 2048 required");
	pem_bad(&set, ed448, "", "key type ED448 is not supported (expected RSA, EC P-256/384/521 or Ed25519)");
	pem_bad(&set, x448, "", "key type X448 is not supported");
	pem_bad(&set, k256, "", "EC curve secp256k1 is not supported (expected P-256, P-384 or P-521)");
	pem_bad(&set, k256_cert, "", "EC curve secp256k1 is not supported");
	pem_bad(&set, "", "", "no PEM block (expected BEGIN PUBLIC KEY or BEGIN CERTIFICATE)");
	pem_bad(&set, "not a pem at all", "", "no PEM block");
	snprintf(text, sizeof(text), "%s%s", p256, p256);
	pem_bad(&set, text, "", "more than one PEM block (give one public key or one certificate)");
	snprintf(text, sizeof(text), "%s%s", p256, ec_private);
	pem_bad(&set, text, "", "more than one PEM block");

	/* Another label, a body that is not the DER it claims, DER with bytes after it. */
	pem_block("RSA PUBLIC KEY", (const unsigned char *)"\x30\x00", 2, text, sizeof(text));
	pem_bad(&set, text, "", "PEM block \"RSA PUBLIC KEY\" is neither PUBLIC KEY nor CERTIFICATE");
	pem_block("PUBLIC KEY", (const unsigned char *)"\x30\x03\x02\x01\x01", 5, text, sizeof(text));
	pem_bad(&set, text, "", "PUBLIC KEY block does not parse");
	pem_block("CERTIFICATE", (const unsigned char *)"\x30\x00", 2, text, sizeof(text));
	pem_bad(&set, text, "", "CERTIFICATE block does not parse");
	p = der;
	n = i2d_PUBKEY(fx.p256, &p);
	assert_true(n > 0 && (size_t)n < sizeof(der));
	der[n] = 0;
	pem_block("PUBLIC KEY", der, n + 1, text, sizeof(text));
	pem_bad(&set, text, "", "PUBLIC KEY block has 1 bytes after its DER value");

	/* The kid follows the JWK rules. */
	memset(kid, 'k', 65);
	kid[65] = '\0';
	pem_bad(&set, p256, kid, "kid is 65 bytes, at most 64");
	pem_bad(&set, p256, "a\nb", "kid holds byte 0x0a at 1");
	assert_null(set);

	/* A set holds at most ZTG_JWKS_MAX_KEYS keys, however they came. */
	for (int i = 0; i < ZTG_JWKS_MAX_KEYS; i++) {
		snprintf(kid, sizeof(kid), "k%d", i);
		assert_int_equal(pem_add(&set, p256, kid), 0);
	}
	assert_int_equal(set->count, ZTG_JWKS_MAX_KEYS);
	pem_bad(&set, p256, "one-more", "the key set already holds 64 keys, at most 64");
	ztg_keyset_free(set);

	free(rsa_private);
	free(ec_private);
	free(rsa1024);
	free(ed448);
	free(x448);
	free(k256);
	free(p256);
	free(k256_cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_ec_curves),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_oct_lengths),
		cmocka_unit_test(test_alg_narrowing),
		cmocka_unit_test(test_kid_lookup),
		cmocka_unit_test(test_kid_rules),
		cmocka_unit_test(test_message_names_key),
		cmocka_unit_test(test_refuse_kty),
		cmocka_unit_test(test_refuse_rsa),
		cmocka_unit_test(test_refuse_ec),
		cmocka_unit_test(test_refuse_okp),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_refuse_document),
		cmocka_unit_test(test_refuse_base64url),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pem_keys),
		cmocka_unit_test(test_pem_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
