#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "auth/base64url.h"
#include "../../control/error_text.h"
#include "auth/jwt.h"
#include "hash.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

/* The three segments of a token of at most ZTG_JWT_MAX_TOKEN characters never decode to more. */
#define JWT_DECODED_MAX  (ZTG_JWT_MAX_TOKEN / 4 * 3)
/* DER of an ECDSA-Sig-Value over P-521: two 66-byte integers, each possibly with a sign byte. */
#define JWT_ECDSA_DER_MAX 160
#define JWT_RSA_MIN_BITS 2048

static const char *const jwt_reason_names[ZTG_JWT_REASON_COUNT] = {
#define ZTG_JWT_REASON_NAME(sym, name) [ZTG_JWT_##sym] = name,
	ZTG_JWT_REASONS(ZTG_JWT_REASON_NAME)
#undef ZTG_JWT_REASON_NAME
};

const char *ztg_jwt_reason_name(enum ztg_jwt_reason reason)
{
	if ((unsigned int)reason >= ZTG_JWT_REASON_COUNT)
		return "unknown";
	return jwt_reason_names[reason];
}

/* ------------------------------------------------------------ algorithms */

enum jwt_family {
	JWT_HMAC,
	JWT_RSA_PKCS1,
	JWT_RSA_PSS,
	JWT_ECDSA,
	JWT_EDDSA,
};

enum jwt_hash {
	JWT_SHA256,
	JWT_SHA384,
	JWT_SHA512,
	JWT_HASH_COUNT,
};

static const char *const jwt_hash_names[JWT_HASH_COUNT] = { "SHA2-256", "SHA2-384", "SHA2-512" };

struct jwt_alg_info {
	uint8_t family;      /* enum jwt_family */
	uint8_t hash;        /* enum jwt_hash; unused by EdDSA */
	uint16_t sig_len;    /* exact signature bytes; 0 for RSA: the modulus size */
	uint16_t ec_bits;    /* ECDSA: the curve the algorithm names (no P-384 key under ES256) */
};

static const struct jwt_alg_info jwt_algs[ZTG_JWT_ALG_COUNT] = {
	[ZTG_JWT_ALG_HS256] = { JWT_HMAC, JWT_SHA256, 32, 0 },
	[ZTG_JWT_ALG_HS384] = { JWT_HMAC, JWT_SHA384, 48, 0 },
	[ZTG_JWT_ALG_HS512] = { JWT_HMAC, JWT_SHA512, 64, 0 },
	[ZTG_JWT_ALG_RS256] = { JWT_RSA_PKCS1, JWT_SHA256, 0, 0 },
	[ZTG_JWT_ALG_RS384] = { JWT_RSA_PKCS1, JWT_SHA384, 0, 0 },
	[ZTG_JWT_ALG_RS512] = { JWT_RSA_PKCS1, JWT_SHA512, 0, 0 },
	[ZTG_JWT_ALG_PS256] = { JWT_RSA_PSS, JWT_SHA256, 0, 0 },
	[ZTG_JWT_ALG_PS384] = { JWT_RSA_PSS, JWT_SHA384, 0, 0 },
	[ZTG_JWT_ALG_PS512] = { JWT_RSA_PSS, JWT_SHA512, 0, 0 },
	[ZTG_JWT_ALG_ES256] = { JWT_ECDSA, JWT_SHA256, 64, 256 },
	[ZTG_JWT_ALG_ES384] = { JWT_ECDSA, JWT_SHA384, 96, 384 },
	[ZTG_JWT_ALG_ES512] = { JWT_ECDSA, JWT_SHA512, 132, 521 },
	[ZTG_JWT_ALG_EDDSA] = { JWT_EDDSA, JWT_SHA512, 64, 0 },
};

/* ---------------------------------------------------------------- table */

struct jwt_slot {
	uint64_t hash;
	uint32_t len;
	int32_t index;       /* -1: empty */
};

struct ztg_jwt_table {
	struct ztg_jwt_issuer *issuers;
	uint32_t count;
	uint32_t mask;       /* slots - 1; at least twice as many slots as issuers */
	struct jwt_slot slots[];
};

/* FNV-1a is enough: the policy, not a token, picks the keys; a token only picks which short probe run it walks. */
static uint64_t iss_hash(const char *s, size_t len)
{
	return ztg_hash_fnv1a(ZTG_HASH_FNV1A_SEED, s, len);
}

static int issuer_check(const struct ztg_jwt_issuer *iss, uint32_t i, char *err, size_t err_len)
{
	if (iss->iss == NULL || iss->iss[0] == '\0') {
		ztg_error_set(err, err_len, "issuer %u: empty iss", i);
		return -1;
	}
	if (iss->max_token_bytes > ZTG_JWT_MAX_TOKEN) {
		ztg_error_set(err, err_len, "issuer %u (%s): max_token_bytes %u above %u", i, iss->iss,
			iss->max_token_bytes, ZTG_JWT_MAX_TOKEN);
		return -1;
	}
	if (iss->audience_count > ZTG_JWT_MAX_AUDIENCES || (iss->audience_count > 0 && iss->audiences == NULL)) {
		ztg_error_set(err, err_len, "issuer %u (%s): %u audiences (at most %u)", i, iss->iss,
			iss->audience_count, ZTG_JWT_MAX_AUDIENCES);
		return -1;
	}
	if (iss->required_count > ZTG_JWT_MAX_REQUIRED ||
	    (iss->required_count > 0 && iss->required_claims == NULL)) {
		ztg_error_set(err, err_len, "issuer %u (%s): %u required claims (at most %u)", i, iss->iss,
			iss->required_count, ZTG_JWT_MAX_REQUIRED);
		return -1;
	}
	return 0;
}

struct ztg_jwt_table *ztg_jwt_table_build(struct ztg_jwt_issuer *issuers, uint32_t count, char *err,
					  size_t err_len)
{
	struct ztg_jwt_table *t;
	uint32_t slots = 1;

	if (issuers == NULL && count > 0) {
		ztg_error_set(err, err_len, "no issuer array");
		return NULL;
	}
	if (count > ZTG_JWT_MAX_ISSUERS) {
		ztg_error_set(err, err_len, "%u issuers (at most %u)", count, ZTG_JWT_MAX_ISSUERS);
		return NULL;
	}
	while (slots < 2 * count)
		slots <<= 1;
	t = calloc(1, sizeof(*t) + slots * sizeof(t->slots[0]));
	if (t == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		return NULL;
	}
	t->issuers = issuers;
	t->count = count;
	t->mask = slots - 1;
	for (uint32_t s = 0; s < slots; s++)
		t->slots[s].index = -1;

	for (uint32_t i = 0; i < count; i++) {
		const char *iss = issuers[i].iss;
		size_t len;
		int dup;

		if (issuer_check(&issuers[i], i, err, err_len) < 0)
			goto fail;
		len = strlen(iss);
		dup = ztg_jwt_table_find(t, iss, len);
		if (dup >= 0) {
			ztg_error_set(err, err_len, "issuers %d and %u have the same iss \"%s\"", dup, i, iss);
			goto fail;
		}
		uint64_t h = iss_hash(iss, len);
		uint32_t s = (uint32_t)h & t->mask;

		while (t->slots[s].index >= 0)
			s = (s + 1) & t->mask;
		t->slots[s].hash = h;
		t->slots[s].len = (uint32_t)len;
		t->slots[s].index = (int32_t)i;
	}
	return t;
fail:
	free(t);
	return NULL;
}

void ztg_jwt_table_free(struct ztg_jwt_table *table)
{
	free(table);
}

int ztg_jwt_table_find(const struct ztg_jwt_table *table, const char *iss, size_t len)
{
	/* No issuer has an empty iss (build refuses it), and memcmp must not see NULL. */
	if (table == NULL || iss == NULL || len == 0 || len > UINT32_MAX)
		return -1;

	uint64_t h = iss_hash(iss, len);

	for (uint32_t s = (uint32_t)h & table->mask;; s = (s + 1) & table->mask) {
		const struct jwt_slot *slot = &table->slots[s];

		if (slot->index < 0)
			return -1;
		if (slot->hash == h && slot->len == len && memcmp(table->issuers[slot->index].iss, iss, len) == 0)
			return slot->index;
	}
}

struct ztg_jwt_issuer *ztg_jwt_table_issuer(const struct ztg_jwt_table *table, uint32_t index)
{
	if (table == NULL || index >= table->count)
		return NULL;
	return &table->issuers[index];
}

uint32_t ztg_jwt_table_count(const struct ztg_jwt_table *table)
{
	return table != NULL ? table->count : 0;
}

/* -------------------------------------------------------------- scratch */

struct ztg_jwt_scratch {
	EVP_MD_CTX *md_ctx;                        /* reset after every use: holds no key between calls */
	EVP_MD *md[JWT_HASH_COUNT];                /* fetched once, not per token */
	EVP_MAC_CTX *hmac[JWT_HASH_COUNT];         /* digest set once; keyed per token */
	uint8_t mac[EVP_MAX_MD_SIZE];
	uint8_t der[JWT_ECDSA_DER_MAX];
	uint8_t decoded[JWT_DECODED_MAX];          /* header, payload and signature, one after the other */
	char text[JWT_DECODED_MAX];                /* one unescaped string of the header or payload */
	struct ztg_json_token header[ZTG_JWT_MAX_JSON_TOKENS];
	struct ztg_json_token payload[ZTG_JWT_MAX_JSON_TOKENS];
};

void ztg_jwt_scratch_free(struct ztg_jwt_scratch *scratch)
{
	if (scratch == NULL)
		return;
	for (int i = 0; i < JWT_HASH_COUNT; i++) {
		EVP_MAC_CTX_free(scratch->hmac[i]);
		EVP_MD_free(scratch->md[i]);
	}
	EVP_MD_CTX_free(scratch->md_ctx);
	free(scratch);
}

struct ztg_jwt_scratch *ztg_jwt_scratch_create(void)
{
	struct ztg_jwt_scratch *sc = calloc(1, sizeof(*sc));
	EVP_MAC *hmac;

	if (sc == NULL)
		return NULL;
	sc->md_ctx = EVP_MD_CTX_new();
	hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (sc->md_ctx == NULL || hmac == NULL)
		goto fail;
	for (int i = 0; i < JWT_HASH_COUNT; i++) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)jwt_hash_names[i], 0),
			OSSL_PARAM_construct_end(),
		};

		sc->md[i] = EVP_MD_fetch(NULL, jwt_hash_names[i], NULL);
		sc->hmac[i] = EVP_MAC_CTX_new(hmac);
		if (sc->md[i] == NULL || sc->hmac[i] == NULL || EVP_MAC_CTX_set_params(sc->hmac[i], params) != 1)
			goto fail;
	}
	EVP_MAC_free(hmac);
	return sc;
fail:
	EVP_MAC_free(hmac);
	ztg_jwt_scratch_free(sc);
	return NULL;
}

/* ------------------------------------------------------------ signatures */

/* Whether key is of the type and size alg needs, whatever its algs mask says. */
static bool key_fits(const struct jwt_alg_info *a, const struct ztg_jwk *key)
{
	int id = key->pkey != NULL ? EVP_PKEY_get_base_id(key->pkey) : EVP_PKEY_NONE;

	switch ((enum jwt_family)a->family) {
	case JWT_HMAC:
		/* A NULL key would make EVP_MAC_init reuse the previous token's secret. */
		return key->secret != NULL && key->secret_len >= a->sig_len;
	case JWT_RSA_PKCS1:
		return id == EVP_PKEY_RSA && EVP_PKEY_get_bits(key->pkey) >= JWT_RSA_MIN_BITS;
	case JWT_RSA_PSS:
		return (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) &&
		       EVP_PKEY_get_bits(key->pkey) >= JWT_RSA_MIN_BITS;
	case JWT_ECDSA:
		return id == EVP_PKEY_EC && EVP_PKEY_get_bits(key->pkey) == a->ec_bits;
	case JWT_EDDSA:
		return id == EVP_PKEY_ED25519;
	}
	return false;
}

static enum ztg_jwt_reason verify_hmac(struct ztg_jwt_scratch *sc, const struct jwt_alg_info *a,
				       const struct ztg_jwk *key, const uint8_t *input, size_t input_len,
				       const uint8_t *sig, size_t sig_len)
{
	EVP_MAC_CTX *ctx = sc->hmac[a->hash];
	size_t mac_len = 0;

	if (sig_len != a->sig_len)
		return ZTG_JWT_BAD_SIGNATURE;
	if (EVP_MAC_init(ctx, key->secret, key->secret_len, NULL) != 1 ||
	    EVP_MAC_update(ctx, input, input_len) != 1 ||
	    EVP_MAC_final(ctx, sc->mac, &mac_len, sizeof(sc->mac)) != 1 || mac_len != sig_len) {
		ERR_clear_error();
		return ZTG_JWT_INTERNAL;
	}
	return CRYPTO_memcmp(sc->mac, sig, sig_len) == 0 ? ZTG_JWT_OK : ZTG_JWT_BAD_SIGNATURE;
}

/* JWS carries ECDSA as R || S (RFC 7518 3.4), OpenSSL wants DER. Length of the DER, or -1. */
static int ecdsa_to_der(uint8_t *out, size_t cap, const uint8_t *rs, size_t rs_len)
{
	size_t half = rs_len / 2;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)half, NULL);
	BIGNUM *s = BN_bin2bn(rs + half, (int)half, NULL);
	int n = -1;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return -1;
	}
	int need = i2d_ECDSA_SIG(sig, NULL);

	if (need > 0 && (size_t)need <= cap) {
		uint8_t *p = out;

		n = i2d_ECDSA_SIG(sig, &p);
	}
	ECDSA_SIG_free(sig);
	return n;
}

static enum ztg_jwt_reason verify_pkey(struct ztg_jwt_scratch *sc, const struct jwt_alg_info *a,
				       const struct ztg_jwk *key, const uint8_t *input, size_t input_len,
				       const uint8_t *sig, size_t sig_len)
{
	const EVP_MD *md = a->family == JWT_EDDSA ? NULL : sc->md[a->hash];
	EVP_PKEY_CTX *pctx = NULL;
	enum ztg_jwt_reason r = ZTG_JWT_INTERNAL;
	size_t want = a->sig_len ? a->sig_len : (size_t)EVP_PKEY_get_size(key->pkey);

	if (sig_len != want)
		return ZTG_JWT_BAD_SIGNATURE;
	if (a->family == JWT_ECDSA) {
		int n = ecdsa_to_der(sc->der, sizeof(sc->der), sig, sig_len);

		if (n < 0)
			goto out;
		sig = sc->der;
		sig_len = (size_t)n;
	}
	if (EVP_DigestVerifyInit(sc->md_ctx, &pctx, md, NULL, key->pkey) != 1)
		goto out;
	if (a->family == JWT_RSA_PKCS1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	/* RFC 7518 3.5: MGF1 with the same hash, a salt as long as the hash output. */
	if (a->family == JWT_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
		goto out;
	r = EVP_DigestVerify(sc->md_ctx, sig, sig_len, input, input_len) == 1 ? ZTG_JWT_OK : ZTG_JWT_BAD_SIGNATURE;
out:
	EVP_MD_CTX_reset(sc->md_ctx);
	if (r != ZTG_JWT_OK)
		ERR_clear_error();
	return r;
}

/* ---------------------------------------------------------------- helpers */

/* Attacker-chosen text for an event: printable ASCII only, cut to fit. */
static void copy_printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < cap; i++)
		if (src[i] >= 0x20 && src[i] < 0x7f)
			dst[o++] = src[i];
	dst[o] = '\0';
}

static bool ascii_equal_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/*
 * RFC 7515 4.1.9: a typ without '/' means "application/" + typ, so drop that
 * prefix where what follows has no '/' and compare the rest.
 */
static void typ_strip(const char **s, size_t *n)
{
	static const char prefix[] = "application/";
	const size_t p = sizeof(prefix) - 1;

	if (*n > p && ascii_equal_nocase(*s, prefix, p) && memchr(*s + p, '/', *n - p) == NULL) {
		*s += p;
		*n -= p;
	}
}

static bool typ_equal(const char *a, size_t an, const char *b, size_t bn)
{
	typ_strip(&a, &an);
	typ_strip(&b, &bn);
	return an == bn && ascii_equal_nocase(a, b, an);
}

static enum ztg_jwt_reason refuse(struct ztg_jwt_failure *why, enum ztg_jwt_reason reason, const char *detail,
				  size_t len)
{
	if (why != NULL) {
		why->reason = reason;
		copy_printable(why->detail, sizeof(why->detail), detail, len);
	}
	return reason;
}

static enum ztg_jwt_reason refuse_name(struct ztg_jwt_failure *why, enum ztg_jwt_reason reason, const char *name)
{
	return refuse(why, reason, name, strlen(name));
}

/* One JSON document of the token: its text and tokens. */
struct jwt_doc {
	const char *text;
	const struct ztg_json_token *tok;
	int count;
};

static int doc_get(const struct jwt_doc *d, const char *name)
{
	return ztg_json_object_get(d->text, d->tok, d->count, 0, name);
}

static enum ztg_jwt_reason doc_parse(struct jwt_doc *d, const uint8_t *bytes, size_t len, struct ztg_json_token *tok,
				     enum ztg_jwt_reason bad, struct ztg_jwt_failure *why)
{
	d->text = (const char *)bytes;
	d->tok = tok;
	d->count = ztg_json_parse(d->text, len, tok, ZTG_JWT_MAX_JSON_TOKENS, NULL);
	if (d->count < 0)
		return refuse_name(why, d->count == -ZTG_JSON_E_DUPLICATE_NAME ? ZTG_JWT_DUPLICATE_MEMBER : bad,
				   ztg_json_error_name(d->count));
	return ZTG_JWT_OK;
}

/* ------------------------------------------------------------- the header */

struct jwt_header {
	enum ztg_jwt_alg alg;
	int kid_len;                        /* -1: the kid cannot name any key (too long, U+0000) */
	char kid[ZTG_IDENTITY_KID_MAX + 1];
};

static enum ztg_jwt_reason check_header(const struct jwt_doc *h, struct jwt_header *out, char *text, size_t cap,
					struct ztg_jwt_failure *why)
{
	static const char *const key_members[] = { "jku", "x5u", "jwk", "x5c" };
	char name[16];
	int i = doc_get(h, "kid");

	/* First, so that every later refusal names the key the token asked for. */
	out->kid_len = 0;
	out->kid[0] = '\0';
	if (i >= 0) {
		const struct ztg_json_token *t = &h->tok[i];
		ssize_t n;

		if (t->type != ZTG_JSON_STRING)
			return refuse_name(why, ZTG_JWT_BAD_HEADER, "kid");
		n = ztg_json_string_decode(h->text, t, text, cap);
		if (why != NULL) {
			if (n >= 0)
				copy_printable(why->kid, sizeof(why->kid), text, (size_t)n);
			else
				copy_printable(why->kid, sizeof(why->kid), h->text + t->start, t->end - t->start);
		}
		if (n >= 0 && (size_t)n <= ZTG_IDENTITY_KID_MAX) {
			memcpy(out->kid, text, (size_t)n + 1);
			out->kid_len = (int)n;
		} else {
			out->kid_len = -1;
		}
	}

	i = doc_get(h, "alg");
	if (i < 0 || h->tok[i].type != ZTG_JSON_STRING)
		return refuse_name(why, ZTG_JWT_ALG_UNKNOWN, "");
	ssize_t n = ztg_json_string_decode(h->text, &h->tok[i], name, sizeof(name));

	if (n < 0)
		return refuse(why, ZTG_JWT_ALG_UNKNOWN, h->text + h->tok[i].start, h->tok[i].end - h->tok[i].start);
	if (n == 4 && ascii_equal_nocase(name, "none", 4))
		return refuse(why, ZTG_JWT_ALG_NONE, name, (size_t)n);
	if (ztg_jwt_alg_from_name(name, (size_t)n, &out->alg) < 0)
		return refuse(why, ZTG_JWT_ALG_UNKNOWN, name, (size_t)n);

	for (size_t k = 0; k < sizeof(key_members) / sizeof(key_members[0]); k++)
		if (doc_get(h, key_members[k]) >= 0)
			return refuse_name(why, ZTG_JWT_KEY_IN_HEADER, key_members[k]);
	if (doc_get(h, "crit") >= 0)
		return refuse_name(why, ZTG_JWT_CRIT, "crit");
	return ZTG_JWT_OK;
}

static enum ztg_jwt_reason check_typ(const struct jwt_doc *h, const char *expected, struct ztg_jwt_failure *why)
{
	char typ[128];
	int i = doc_get(h, "typ");
	ssize_t n;

	if (i < 0 || h->tok[i].type != ZTG_JSON_STRING)
		return refuse_name(why, ZTG_JWT_TYP_MISMATCH, "");
	n = ztg_json_string_decode(h->text, &h->tok[i], typ, sizeof(typ));
	if (n < 0)
		return refuse(why, ZTG_JWT_TYP_MISMATCH, h->text + h->tok[i].start, h->tok[i].end - h->tok[i].start);
	if (!typ_equal(typ, (size_t)n, expected, strlen(expected)))
		return refuse(why, ZTG_JWT_TYP_MISMATCH, typ, (size_t)n);
	return ZTG_JWT_OK;
}

/* ------------------------------------------------------------ the claims */

/* A NumericDate claim: 1 absent, 0 with *v, -1 not a NumericDate. */
static int time_claim(const struct jwt_doc *p, const char *name, int64_t *v)
{
	int i = doc_get(p, name);

	if (i < 0)
		return 1;
	if (p->tok[i].type != ZTG_JSON_NUMBER || ztg_json_number_int64(p->text, &p->tok[i], v) != 0)
		return -1;
	return 0;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static enum ztg_jwt_reason check_times(const struct jwt_doc *p, const struct ztg_jwt_issuer *iss, int64_t now,
				       int64_t *exp, struct ztg_jwt_failure *why)
{
	int64_t earliest = add_sat(now, -(int64_t)iss->leeway);
	int64_t latest = add_sat(now, (int64_t)iss->leeway);
	int64_t v;
	int rc;

	rc = time_claim(p, "exp", exp);
	if (rc > 0)
		return refuse_name(why, ZTG_JWT_NO_EXPIRY, "exp");
	if (rc < 0)
		return refuse_name(why, ZTG_JWT_BAD_TIME_CLAIM, "exp");
	if (*exp <= earliest)
		return refuse_name(why, ZTG_JWT_EXPIRED, "exp");
	rc = time_claim(p, "nbf", &v);
	if (rc < 0)
		return refuse_name(why, ZTG_JWT_BAD_TIME_CLAIM, "nbf");
	if (rc == 0 && v > latest)
		return refuse_name(why, ZTG_JWT_NOT_YET_VALID, "nbf");
	rc = time_claim(p, "iat", &v);
	if (rc < 0)
		return refuse_name(why, ZTG_JWT_BAD_TIME_CLAIM, "iat");
	if (rc == 0 && v > latest)
		return refuse_name(why, ZTG_JWT_ISSUED_IN_FUTURE, "iat");
	return ZTG_JWT_OK;
}

static bool audience_accepted(const struct jwt_doc *p, const struct ztg_json_token *t,
			      const struct ztg_jwt_issuer *iss)
{
	for (uint32_t a = 0; a < iss->audience_count; a++)
		if (ztg_json_string_equals(p->text, t, iss->audiences[a]))
			return true;
	return false;
}

static enum ztg_jwt_reason check_audience(const struct jwt_doc *p, const struct ztg_jwt_issuer *iss,
					  struct ztg_jwt_failure *why)
{
	int i = doc_get(p, "aud");
	bool ok = false;

	if (i >= 0 && p->tok[i].type == ZTG_JSON_STRING) {
		ok = audience_accepted(p, &p->tok[i], iss);
	} else if (i >= 0 && p->tok[i].type == ZTG_JSON_ARRAY) {
		uint32_t k = (uint32_t)i + 1;

		/* Every element must be a string, not only the one that matches. */
		for (uint32_t e = 0; e < p->tok[i].size; e++, k = p->tok[k].next) {
			if (p->tok[k].type != ZTG_JSON_STRING)
				return refuse_name(why, ZTG_JWT_WRONG_AUDIENCE, "aud");
			ok = ok || audience_accepted(p, &p->tok[k], iss);
		}
	}
	return ok ? ZTG_JWT_OK : refuse_name(why, ZTG_JWT_WRONG_AUDIENCE, "aud");
}

/*
 * A claim kept as text: a string unescaped, a number or true/false as
 * written. U+0000 would cut the C string short of what was signed.
 */
static enum ztg_jwt_reason keep_scalar(const struct jwt_doc *p, int i, const char *name, char *dst, size_t cap,
				       uint8_t *len, struct ztg_jwt_failure *why)
{
	const struct ztg_json_token *t = &p->tok[i];
	size_t n = t->end - t->start;

	switch ((enum ztg_json_type)t->type) {
	case ZTG_JSON_STRING: {
		ssize_t d = ztg_json_string_decode(p->text, t, dst, cap);

		if (d == -ZTG_JSON_E_NO_SPACE)
			return refuse_name(why, ZTG_JWT_CLAIM_TOO_LONG, name);
		if (d < 0)
			return refuse_name(why, ZTG_JWT_BAD_PAYLOAD, name);
		*len = (uint8_t)d;
		return ZTG_JWT_OK;
	}
	case ZTG_JSON_NUMBER:
	case ZTG_JSON_TRUE:
	case ZTG_JSON_FALSE:
		if (n + 1 > cap)
			return refuse_name(why, ZTG_JWT_CLAIM_TOO_LONG, name);
		memcpy(dst, p->text + t->start, n);
		dst[n] = '\0';
		*len = (uint8_t)n;
		return ZTG_JWT_OK;
	case ZTG_JSON_OBJECT:
	case ZTG_JSON_ARRAY:
	case ZTG_JSON_NULL:
		break;
	}
	return refuse_name(why, ZTG_JWT_CLAIM_NOT_SCALAR, name);
}

static uint64_t scope_bit(const struct ztg_auth_names *names, const char *word, size_t len)
{
	uint32_t count = names->scope_count < ZTG_AUTH_MAX_SCOPES ? names->scope_count : ZTG_AUTH_MAX_SCOPES;

	for (uint32_t s = 0; s < count; s++)
		if (strncmp(names->scopes[s], word, len) == 0 && names->scopes[s][len] == '\0')
			return 1ull << s;
	return 0;
}

/* Scope bits granted by one claim: a space-delimited string and/or an array of strings. */
static uint64_t scope_claim(const struct jwt_doc *p, const char *claim, bool string_ok, bool array_ok,
			    const struct ztg_auth_names *names, char *text, size_t cap)
{
	int i = doc_get(p, claim);
	uint64_t bits = 0;

	if (i < 0)
		return 0;
	if (p->tok[i].type == ZTG_JSON_STRING && string_ok) {
		ssize_t n = ztg_json_string_decode(p->text, &p->tok[i], text, cap);

		for (ssize_t w = 0; w < n;) {
			ssize_t e = w;

			while (e < n && text[e] != ' ')
				e++;
			if (e > w)
				bits |= scope_bit(names, text + w, (size_t)(e - w));
			w = e + 1;
		}
	} else if (p->tok[i].type == ZTG_JSON_ARRAY && array_ok) {
		uint32_t k = (uint32_t)i + 1;

		for (uint32_t e = 0; e < p->tok[i].size; e++, k = p->tok[k].next) {
			ssize_t n = ztg_json_string_decode(p->text, &p->tok[k], text, cap);

			if (n > 0)
				bits |= scope_bit(names, text, (size_t)n);
		}
	}
	return bits;
}

static uint64_t scopes_granted(const struct jwt_doc *p, const struct ztg_jwt_issuer *iss,
			       const struct ztg_auth_names *names, char *text, size_t cap)
{
	if (iss->scope_claim != NULL)
		return scope_claim(p, iss->scope_claim, true, true, names, text, cap);
	return scope_claim(p, "scope", true, false, names, text, cap) |
	       scope_claim(p, "scp", true, true, names, text, cap) |
	       scope_claim(p, "roles", false, true, names, text, cap);
}

static enum ztg_jwt_reason fill_identity(const struct jwt_doc *p, const struct ztg_jwt_issuer *iss,
					 const struct ztg_auth_names *names, struct ztg_identity *out, char *text,
					 size_t cap, struct ztg_jwt_failure *why)
{
	const char *sub = iss->identity_claim != NULL ? iss->identity_claim : "sub";
	int i = doc_get(p, sub);
	enum ztg_jwt_reason r;

	if (i < 0 || p->tok[i].type != ZTG_JSON_STRING)
		return refuse_name(why, ZTG_JWT_BAD_SUBJECT, sub);
	ssize_t n = ztg_json_string_decode(p->text, &p->tok[i], out->subject, sizeof(out->subject));

	if (n <= 0)
		return refuse_name(why, ZTG_JWT_BAD_SUBJECT, sub);
	out->subject_len = (uint8_t)n;

	i = doc_get(p, "jti");
	if (i >= 0) {
		r = keep_scalar(p, i, "jti", out->jti, sizeof(out->jti), &out->jti_len, why);
		if (r != ZTG_JWT_OK)
			return r;
	}
	if (names == NULL)
		return ZTG_JWT_OK;
	out->scopes = scopes_granted(p, iss, names, text, cap);
	for (uint32_t c = 0; c < names->claim_count && c < ZTG_IDENTITY_MAX_CLAIMS; c++) {
		i = doc_get(p, names->claims[c]);
		if (i < 0)
			continue;
		r = keep_scalar(p, i, names->claims[c], out->claims[c], sizeof(out->claims[c]), &out->claim_len[c],
				why);
		if (r != ZTG_JWT_OK)
			return r;
		out->claims_present |= (uint8_t)(1u << c);
	}
	return ZTG_JWT_OK;
}

/* ----------------------------------------------------------------- verify */

static bool accepted(const uint64_t *accept, uint32_t index)
{
	return accept == NULL || (accept[index / 64] >> (index % 64) & 1);
}

static enum ztg_jwt_reason find_key(struct ztg_jwt_issuer *iss, const struct jwt_header *h,
				    const struct ztg_jwk **key, struct ztg_jwt_failure *why)
{
	const struct ztg_keyset *set = atomic_load_explicit(&iss->keys, memory_order_acquire);
	const struct jwt_alg_info *a = &jwt_algs[h->alg];

	*key = set != NULL && h->kid_len >= 0 ? ztg_keyset_find(set, h->kid, (size_t)h->kid_len) : NULL;
	if (*key == NULL) {
		/* Checked first: a flood of unknown kids must not keep bouncing the line between cores. */
		if (!atomic_load_explicit(&iss->unknown_kid, memory_order_relaxed))
			atomic_store_explicit(&iss->unknown_kid, true, memory_order_relaxed);
		return refuse_name(why, ZTG_JWT_UNKNOWN_KID, "");
	}
	if (!((*key)->algs & ZTG_JWT_ALG_BIT(h->alg)) || !key_fits(a, *key))
		return refuse_name(why, ZTG_JWT_ALG_KEY_MISMATCH, ztg_jwt_alg_name(h->alg));
	return ZTG_JWT_OK;
}

/* Split and decode the three segments into sc->decoded. */
static enum ztg_jwt_reason decode_segments(const char *token, size_t len, struct ztg_jwt_scratch *sc,
					   const uint8_t *seg[3], size_t seg_len[3], size_t *signed_len,
					   struct ztg_jwt_failure *why)
{
	static const char *const seg_names[3] = { "header", "payload", "signature" };
	const char *dot1 = token != NULL ? memchr(token, '.', len) : NULL;
	const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	size_t used = 0;

	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
		return refuse_name(why, ZTG_JWT_MALFORMED, "");

	const char *start[3] = { token, dot1 + 1, dot2 + 1 };
	size_t chars[3] = { (size_t)(dot1 - token), (size_t)(dot2 - dot1 - 1), len - (size_t)(dot2 + 1 - token) };

	/* An empty signature is left to the algorithm's length check: "alg":"none" tokens have one. */
	if (chars[0] == 0 || chars[1] == 0)
		return refuse_name(why, ZTG_JWT_MALFORMED, chars[0] == 0 ? "header" : "payload");
	for (int s = 0; s < 3; s++) {
		ssize_t n = ztg_base64url_decode(start[s], chars[s], sc->decoded + used, sizeof(sc->decoded) - used);

		if (n < 0)
			return refuse_name(why, ZTG_JWT_BAD_BASE64URL, seg_names[s]);
		seg[s] = sc->decoded + used;
		seg_len[s] = (size_t)n;
		used += (size_t)n;
	}
	*signed_len = (size_t)(dot2 - token);
	return ZTG_JWT_OK;
}

enum ztg_jwt_reason ztg_jwt_verify(const struct ztg_jwt_table *table, const uint64_t *accept,
				   const struct ztg_auth_names *names, const char *token, size_t len, int64_t now,
				   struct ztg_jwt_scratch *scratch, struct ztg_identity *out,
				   struct ztg_jwt_failure *why)
{
	struct ztg_jwt_scratch *sc = scratch;
	const uint8_t *seg[3];
	size_t seg_len[3], signed_len = 0;
	struct jwt_doc hdr, pl;
	struct jwt_header h;
	struct ztg_jwt_issuer *iss;
	const struct ztg_jwk *key;
	const struct jwt_alg_info *a;
	enum ztg_jwt_reason r;
	int64_t exp;
	int i;

	if (why != NULL) {
		why->reason = ZTG_JWT_OK;
		why->issuer = -1;
		why->kid[0] = '\0';
		why->detail[0] = '\0';
	}
	if (unlikely(table == NULL || sc == NULL || out == NULL || (token == NULL && len > 0)))
		return refuse_name(why, ZTG_JWT_INTERNAL, "argument");
	if (len > ZTG_JWT_MAX_TOKEN)
		return refuse_name(why, ZTG_JWT_TOO_LARGE, "");
	r = decode_segments(token, len, sc, seg, seg_len, &signed_len, why);
	if (r != ZTG_JWT_OK)
		return r;

	r = doc_parse(&hdr, seg[0], seg_len[0], sc->header, ZTG_JWT_BAD_HEADER, why);
	if (r == ZTG_JWT_OK)
		r = check_header(&hdr, &h, sc->text, sizeof(sc->text), why);
	if (r == ZTG_JWT_OK)
		r = doc_parse(&pl, seg[1], seg_len[1], sc->payload, ZTG_JWT_BAD_PAYLOAD, why);
	if (r != ZTG_JWT_OK)
		return r;

	i = doc_get(&pl, "iss");
	if (i < 0 || pl.tok[i].type != ZTG_JSON_STRING)
		return refuse_name(why, ZTG_JWT_NO_ISSUER, "iss");
	ssize_t n = ztg_json_string_decode(pl.text, &pl.tok[i], sc->text, sizeof(sc->text));

	i = n > 0 ? ztg_jwt_table_find(table, sc->text, (size_t)n) : -1;
	if (i < 0)
		return refuse(why, ZTG_JWT_UNKNOWN_ISSUER, sc->text, n > 0 ? (size_t)n : 0);
	iss = &table->issuers[i];
	if (why != NULL)
		why->issuer = i;

	/* 0: the issuer sets no bound of its own. */
	if (iss->max_token_bytes != 0 && len > iss->max_token_bytes)
		return refuse_name(why, ZTG_JWT_TOO_LARGE, "");
	if (!accepted(accept, (uint32_t)i))
		return refuse_name(why, ZTG_JWT_ISSUER_NOT_ACCEPTED, "");
	if (iss->typ != NULL && (r = check_typ(&hdr, iss->typ, why)) != ZTG_JWT_OK)
		return r;
	if (!(iss->algs & ZTG_JWT_ALG_BIT(h.alg)))
		return refuse_name(why, ZTG_JWT_ALG_NOT_ALLOWED, ztg_jwt_alg_name(h.alg));
	r = find_key(iss, &h, &key, why);
	if (r != ZTG_JWT_OK)
		return r;

	a = &jwt_algs[h.alg];
	r = a->family == JWT_HMAC ? verify_hmac(sc, a, key, (const uint8_t *)token, signed_len, seg[2], seg_len[2])
				  : verify_pkey(sc, a, key, (const uint8_t *)token, signed_len, seg[2], seg_len[2]);
	if (r != ZTG_JWT_OK)
		return refuse_name(why, r, r == ZTG_JWT_INTERNAL ? "openssl" : "");

	r = check_times(&pl, iss, now, &exp, why);
	if (r == ZTG_JWT_OK && iss->audience_count > 0)
		r = check_audience(&pl, iss, why);
	if (r != ZTG_JWT_OK)
		return r;
	for (uint32_t c = 0; c < iss->required_count; c++)
		if (doc_get(&pl, iss->required_claims[c]) < 0)
			return refuse_name(why, ZTG_JWT_MISSING_CLAIM, iss->required_claims[c]);

	memset(out, 0, sizeof(*out));
	r = fill_identity(&pl, iss, names, out, sc->text, sizeof(sc->text), why);
	if (r != ZTG_JWT_OK)
		return r;
	out->kind = ZTG_IDENTITY_JWT;
	out->alg = (uint8_t)h.alg;
	out->issuer = (uint16_t)i;
	out->expires = exp;
	out->kid_len = (uint8_t)h.kid_len;
	memcpy(out->kid, h.kid, (size_t)h.kid_len + 1);
	return ZTG_JWT_OK;
}
