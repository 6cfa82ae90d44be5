#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/base64url.h"
#include "auth/json.h"
#include "auth/jwk.h"

#define RSA_MIN_BITS 2048

#define ALGS_RSA (ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_RS256) | ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_RS384) | \
		  ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_RS512) | ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_PS256) | \
		  ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_PS384) | ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_PS512))

static const char *const jwt_alg_names[ZTG_JWT_ALG_COUNT] = {
#define ZTG_JWT_ALG_NAME(sym, name) [ZTG_JWT_ALG_##sym] = name,
	ZTG_JWT_ALGS(ZTG_JWT_ALG_NAME)
#undef ZTG_JWT_ALG_NAME
};

const char *ztg_jwt_alg_name(enum ztg_jwt_alg alg)
{
	if ((unsigned)alg >= ZTG_JWT_ALG_COUNT)
		return "?";
	return jwt_alg_names[alg];
}

int ztg_jwt_alg_from_name(const char *name, size_t len, enum ztg_jwt_alg *out)
{
	if (name == NULL)
		return -1;
	for (unsigned a = 0; a < ZTG_JWT_ALG_COUNT; a++) {
		if (strlen(jwt_alg_names[a]) == len && memcmp(jwt_alg_names[a], name, len) == 0) {
			*out = (enum ztg_jwt_alg)a;
			return 0;
		}
	}
	return -1;
}

/* The curves a JWS algorithm exists for (RFC 7518 3.4); the JWK crv and OpenSSL's NID of each. */
static const struct ec_curve {
	const char *crv;
	int nid;
	size_t coord_len;    /* bytes of x and y (RFC 7518 6.2.1.2: exactly the field size) */
	enum ztg_jwt_alg alg;
} ec_curves[] = {
	{"P-256", NID_X9_62_prime256v1, 32, ZTG_JWT_ALG_ES256},
	{"P-384", NID_secp384r1, 48, ZTG_JWT_ALG_ES384},
	{"P-521", NID_secp521r1, 66, ZTG_JWT_ALG_ES512},
};

#define ED25519_KEY_LEN 32

/* Members that only a private JWK carries (RFC 7518 6.2.2, 6.3.2; RFC 8037 2). */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};

/* -------------------------------------------------------------- messages */

/*
 * Who a message is about, e.g. `key 2 (kid "abc")`; empty for a document-level
 * problem. The kid is shown only once it passed its checks (printable ASCII).
 */
struct who {
	char text[ZTG_IDENTITY_KID_MAX + 32];
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 2, 3)))
static int fail(const struct who *w, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (w->err == NULL || w->err_len == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->text[0] != '\0')
		snprintf(w->err, w->err_len, "%s: %s", w->text, msg);
	else
		snprintf(w->err, w->err_len, "%s", msg);
	return -1;
}

/* OpenSSL's reason for the last failure, for a message; the caller pops the error queue to its mark. */
static const char *ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "no reason given";
}

/*
 * A string member's raw text (escapes not decoded), for messages: at most 40
 * bytes, anything outside printable ASCII shown as '?', so a hostile document
 * cannot put control characters into a log line.
 */
static const char *show(const char *text, const struct ztg_json_token *t, char out[48])
{
	uint32_t n = t->end - t->start, i;

	for (i = 0; i < n && i < 40; i++) {
		unsigned char c = (unsigned char)text[t->start + i];

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < n) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* ------------------------------------------------------------------- kid */

/* kid[0..len): 1..ZTG_IDENTITY_KID_MAX bytes of printable ASCII, so logs and events can carry it as is. */
static int kid_check(const struct who *w, const char *kid, size_t len)
{
	if (len == 0)
		return fail(w, "kid is empty");
	if (len > ZTG_IDENTITY_KID_MAX)
		return fail(w, "kid is %zu bytes, at most %u", len, ZTG_IDENTITY_KID_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)kid[i] < 0x20 || (unsigned char)kid[i] > 0x7e)
			return fail(w, "kid holds byte 0x%02x at %zu: only printable ASCII is accepted",
				    (unsigned char)kid[i], i);
	return 0;
}

/* The key with kid[0..len), or NULL. Keys without kid never clash: only a kid that is present must be unique. */
static const struct ztg_jwk *kid_find(const struct ztg_jwk *keys, uint32_t count, const char *kid, size_t len)
{
	if (len == 0)
		return NULL;
	for (uint32_t i = 0; i < count; i++)
		if (keys[i].kid_len == len && memcmp(keys[i].kid, kid, len) == 0)
			return &keys[i];
	return NULL;
}

static void jwk_set_kid(struct ztg_jwk *k, const char *kid, size_t len)
{
	memcpy(k->kid, kid, len);
	k->kid[len] = '\0';
	k->kid_len = (uint8_t)len;
}

/* ------------------------------------------------------------- EVP keys */

/* The JWK kty of each type. */
static const char *const jwk_type_names[] = {
	[ZTG_JWK_OCT] = "oct", [ZTG_JWK_RSA] = "RSA", [ZTG_JWK_EC] = "EC", [ZTG_JWK_OKP] = "OKP",
};

/*
 * The type and algorithms of a public key, whichever way it was read, and
 * OpenSSL's full public check of it (RSA: n odd, no small factors, e odd
 * and 2^16 < e < 2^256; EC: the point on the curve and in its subgroup).
 */
static int pkey_classify(const struct who *w, EVP_PKEY *pkey, uint8_t *type, uint32_t *algs, const char **curve)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	*curve = NULL;
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);

		if (bits < RSA_MIN_BITS)
			return fail(w, "RSA modulus is %d bits, at least %d required", bits, RSA_MIN_BITS);
		if (bits > OPENSSL_RSA_MAX_MODULUS_BITS)
			return fail(w, "RSA modulus is %d bits, at most %d supported", bits,
				    OPENSSL_RSA_MAX_MODULUS_BITS);
		*type = ZTG_JWK_RSA;
		*algs = ALGS_RSA;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64];
		size_t i;
		int nid;

		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1)
			return fail(w, "EC key without a named curve (explicit parameters are not supported)");
		nid = OBJ_txt2nid(group);
		for (i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]) && ec_curves[i].nid != nid; i++)
			;
		if (i == sizeof(ec_curves) / sizeof(ec_curves[0]))
			return fail(w, "EC curve %s is not supported (expected P-256, P-384 or P-521)", group);
		*type = ZTG_JWK_EC;
		*algs = ZTG_JWT_ALG_BIT(ec_curves[i].alg);
		*curve = ec_curves[i].crv;
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*type = ZTG_JWK_OKP;
		*algs = ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_EDDSA);
		*curve = "Ed25519";
	} else {
		return fail(w, "key type %s is not supported (expected RSA, EC P-256/384/521 or Ed25519)",
			    EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "unknown");
	}

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		if (*type == ZTG_JWK_EC)
			return fail(w, "EC point is not on %s (%s)", *curve, ossl_reason());
		return fail(w, "%s public key check failed (%s)", jwk_type_names[*type], ossl_reason());
	}
	return 0;
}

/* A public key of the named type from the parameters in bld; NULL when OpenSSL refuses them. */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* -------------------------------------------------------------- JWK text */

struct jwks_doc {
	const char *text;
	const struct ztg_json_token *tok;
	int count;
};

/* The STRING value of member name of object o: its index, 0 when absent, -1 (err set) when not a string. */
static int string_member(const struct jwks_doc *d, const struct who *w, int o, const char *name)
{
	int v = ztg_json_object_get(d->text, d->tok, d->count, o, name);

	if (v < 0)
		return 0;
	if (d->tok[v].type != ZTG_JSON_STRING)
		return fail(w, "%s is not a string", name);
	return v;
}

/*
 * Member name of object o decoded from strict base64url into a new buffer
 * (malloc) of *len > 0 bytes; *out untouched on failure. The raw text is
 * decoded: base64url never needs a JSON escape, so a backslash is refused as
 * a bad character rather than giving a second spelling of the same bytes.
 */
static int b64_member(const struct jwks_doc *d, const struct who *w, int o, const char *name, const char *label,
		      uint8_t **out, size_t *len)
{
	int v = string_member(d, w, o, name);
	const struct ztg_json_token *t;
	size_t raw_len, cap, at = 0;
	uint8_t *buf;
	ssize_t n;

	if (v < 0)
		return -1;
	if (v == 0)
		return fail(w, "%s (\"%s\") is missing", label, name);
	t = &d->tok[v];
	raw_len = t->end - t->start;
	if (raw_len == 0)
		return fail(w, "%s is empty", label);
	cap = ztg_base64url_decoded_len(raw_len);
	buf = malloc(cap + 1);   /* + 1: one character counts 0 bytes (then refused), and malloc(0) may be NULL */
	if (buf == NULL)
		return fail(w, "out of memory");
	n = ztg_base64url_decode_at(d->text + t->start, raw_len, buf, cap, &at);
	if (n < 0) {
		free(buf);
		return fail(w, "%s is not strict base64url: %s at character %zu", label, ztg_b64_error_name(n), at);
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int jwk_rsa(const struct jwks_doc *d, const struct who *w, int o, EVP_PKEY **pkey)
{
	uint8_t *n = NULL, *e = NULL;
	size_t n_len = 0, e_len = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int rc = -1;

	if (b64_member(d, w, o, "n", "RSA modulus", &n, &n_len) < 0 ||
	    b64_member(d, w, o, "e", "RSA exponent", &e, &e_len) < 0)
		goto out;
	/* n's size is checked by pkey_classify(), as for a PEM key; the document bounds it to 1 MiB. */
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
		fail(w, "out of memory");
		goto out;
	}
	*pkey = pkey_fromdata("RSA", bld);
	if (*pkey == NULL) {
		fail(w, "RSA n, e refused by OpenSSL (%s)", ossl_reason());
		goto out;
	}
	rc = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return rc;
}

static int jwk_ec(const struct jwks_doc *d, const struct who *w, int o, EVP_PKEY **pkey)
{
	int crv = string_member(d, w, o, "crv");
	const struct ec_curve *c = NULL;
	uint8_t *x = NULL, *y = NULL;
	size_t x_len = 0, y_len = 0;
	uint8_t point[1 + 2 * 66];
	OSSL_PARAM_BLD *bld = NULL;
	char shown[48];
	int rc = -1;

	if (crv < 0)
		return -1;
	if (crv == 0)
		return fail(w, "EC crv is missing");
	for (size_t i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++)
		if (ztg_json_string_equals(d->text, &d->tok[crv], ec_curves[i].crv))
			c = &ec_curves[i];
	if (c == NULL)
		return fail(w, "EC crv \"%s\" is not supported (expected P-256, P-384 or P-521)",
			    show(d->text, &d->tok[crv], shown));
	if (b64_member(d, w, o, "x", "EC x", &x, &x_len) < 0 || b64_member(d, w, o, "y", "EC y", &y, &y_len) < 0)
		goto out;
	if (x_len != c->coord_len || y_len != c->coord_len) {
		fail(w, "EC %s is %zu bytes, %s needs %zu", x_len != c->coord_len ? "x" : "y",
		     x_len != c->coord_len ? x_len : y_len, c->crv, c->coord_len);
		goto out;
	}
	/* SEC 1 uncompressed point: OpenSSL checks it lies on the curve as it builds the key. */
	point[0] = 0x04;
	memcpy(point + 1, x, x_len);
	memcpy(point + 1 + x_len, y, y_len);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(c->nid), 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + x_len + y_len) != 1) {
		fail(w, "out of memory");
		goto out;
	}
	*pkey = pkey_fromdata("EC", bld);
	if (*pkey == NULL) {
		fail(w, "EC point is not on %s (%s)", c->crv, ossl_reason());
		goto out;
	}
	rc = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return rc;
}

static int jwk_okp(const struct jwks_doc *d, const struct who *w, int o, EVP_PKEY **pkey)
{
	int crv = string_member(d, w, o, "crv");
	uint8_t *x = NULL;
	size_t x_len = 0;
	char shown[48];
	int rc = -1;

	if (crv < 0)
		return -1;
	if (crv == 0)
		return fail(w, "OKP crv is missing");
	/* X25519 and X448 are for key agreement; Ed448 has no algorithm in the table. */
	if (!ztg_json_string_equals(d->text, &d->tok[crv], "Ed25519"))
		return fail(w, "OKP crv \"%s\" is not supported (only Ed25519)", show(d->text, &d->tok[crv], shown));
	if (b64_member(d, w, o, "x", "OKP x", &x, &x_len) < 0)
		return -1;
	if (x_len != ED25519_KEY_LEN) {
		fail(w, "OKP x is %zu bytes, Ed25519 needs %d", x_len, ED25519_KEY_LEN);
		goto out;
	}
	*pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
	if (*pkey == NULL) {
		fail(w, "OKP x refused by OpenSSL (%s)", ossl_reason());
		goto out;
	}
	rc = 0;
out:
	free(x);
	return rc;
}

/* RFC 7518 3.2: an HMAC key at least as long as the hash output. */
static const struct hmac_alg {
	enum ztg_jwt_alg alg;
	size_t min_len;
} hmac_algs[] = {
	{ZTG_JWT_ALG_HS256, 32},
	{ZTG_JWT_ALG_HS384, 48},
	{ZTG_JWT_ALG_HS512, 64},
};

static int jwk_oct(const struct jwks_doc *d, const struct who *w, int o, struct ztg_jwk *k)
{
	if (b64_member(d, w, o, "k", "oct k", &k->secret, &k->secret_len) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(hmac_algs) / sizeof(hmac_algs[0]); i++)
		if (k->secret_len >= hmac_algs[i].min_len)
			k->algs |= ZTG_JWT_ALG_BIT(hmac_algs[i].alg);
	if (k->algs == 0)
		return fail(w, "oct k is %zu bytes, at least %zu needed (HS256)", k->secret_len, hmac_algs[0].min_len);
	return 0;
}

/* Why alg cannot be verified with key k, whose algs do not include it. */
static int jwk_alg_misfit(const struct who *w, const struct ztg_jwk *k, enum ztg_jwt_alg alg, const char *curve)
{
	for (size_t i = 0; k->type == ZTG_JWK_OCT && i < sizeof(hmac_algs) / sizeof(hmac_algs[0]); i++)
		if (hmac_algs[i].alg == alg)
			return fail(w, "alg \"%s\" needs k of at least %zu bytes, k is %zu", ztg_jwt_alg_name(alg),
				    hmac_algs[i].min_len, k->secret_len);
	return fail(w, "alg \"%s\" cannot be verified with this %s%s%s key", ztg_jwt_alg_name(alg),
		    jwk_type_names[k->type], curve != NULL ? " " : "", curve != NULL ? curve : "");
}

/*
 * 0 for a signature key, 1 for a key published for something else (use not
 * "sig", key_ops without "verify": RFC 7517 4.2, 4.3), -1 when use or
 * key_ops is malformed.
 */
static int jwk_check_usage(const struct jwks_doc *d, const struct who *w, int o)
{
	int use = string_member(d, w, o, "use");
	int ops = ztg_json_object_get(d->text, d->tok, d->count, o, "key_ops");

	if (use < 0)
		return -1;
	if (use > 0 && !ztg_json_string_equals(d->text, &d->tok[use], "sig"))
		return 1;
	if (ops < 0)
		return 0;
	if (d->tok[ops].type != ZTG_JSON_ARRAY)
		return fail(w, "key_ops is not an array");

	bool verify = false;

	for (uint32_t i = (uint32_t)ops + 1; i < d->tok[ops].next; i = d->tok[i].next) {
		if (d->tok[i].type != ZTG_JSON_STRING)
			return fail(w, "key_ops holds a value that is not a string");
		verify |= ztg_json_string_equals(d->text, &d->tok[i], "verify");
	}
	return verify ? 0 : 1;
}

/* The alg member, when present, as *alg (else -1): one of the table, "none" never. */
static int jwk_alg(const struct jwks_doc *d, const struct who *w, int o, int *alg)
{
	int v = string_member(d, w, o, "alg");
	char name[16], shown[48];
	enum ztg_jwt_alg a;
	ssize_t n;

	*alg = -1;
	if (v <= 0)
		return v;
	n = ztg_json_string_decode(d->text, &d->tok[v], name, sizeof(name));
	if (n < 0 || ztg_jwt_alg_from_name(name, (size_t)n, &a) != 0)
		return fail(w, "alg \"%s\" is not a supported JWS algorithm", show(d->text, &d->tok[v], shown));
	*alg = (int)a;
	return 0;
}

/* The kid member, when present: checked, then copied into k. */
static int jwk_kid(const struct jwks_doc *d, const struct who *w, int o, struct ztg_jwk *k)
{
	int v = string_member(d, w, o, "kid");
	char kid[ZTG_IDENTITY_KID_MAX + 1];
	ssize_t n;

	if (v <= 0)
		return v;
	n = ztg_json_string_decode(d->text, &d->tok[v], kid, sizeof(kid));
	if (n == -ZTG_JSON_E_NO_SPACE)
		return fail(w, "kid is longer than %u bytes", ZTG_IDENTITY_KID_MAX);
	if (n == -ZTG_JSON_E_EMBEDDED_NUL)
		return fail(w, "kid holds U+0000: only printable ASCII is accepted");
	if (kid_check(w, kid, (size_t)n) < 0)
		return -1;
	jwk_set_kid(k, kid, (size_t)n);
	return 0;
}

/*
 * The key at object o (element index of "keys") into k. On failure k may hold
 * part of the key: the caller frees it with the set.
 */
static int jwk_parse(const struct jwks_doc *d, int o, uint32_t index, struct ztg_jwk *k, char *err, size_t err_len)
{
	struct who w = {.err = err, .err_len = err_len};
	const char *curve = NULL;
	char shown[48];
	int kty, alg, rc;

	snprintf(w.text, sizeof(w.text), "key %u", index);
	if (d->tok[o].type != ZTG_JSON_OBJECT)
		return fail(&w, "not a JSON object");
	if (jwk_kid(d, &w, o, k) < 0)
		return -1;
	if (k->kid_len > 0)
		snprintf(w.text, sizeof(w.text), "key %u (kid \"%s\")", index, k->kid);
	/* Providers publish encryption keys in the same set (Keycloak does): not ours to judge, skip them. */
	rc = jwk_check_usage(d, &w, o);
	if (rc != 0)
		return rc;

	kty = string_member(d, &w, o, "kty");
	if (kty < 0)
		return -1;
	if (kty == 0)
		return fail(&w, "kty is missing");
	for (uint8_t t = ZTG_JWK_OCT; t <= ZTG_JWK_OKP; t++)
		if (ztg_json_string_equals(d->text, &d->tok[kty], jwk_type_names[t]))
			k->type = t;
	if (k->type == 0)
		return fail(&w, "kty \"%s\" is not supported (expected RSA, EC, OKP or oct)",
			    show(d->text, &d->tok[kty], shown));
	if (jwk_alg(d, &w, o, &alg) < 0)
		return -1;

	if (k->type == ZTG_JWK_OCT) {
		if (jwk_oct(d, &w, o, k) < 0)
			return -1;
	} else {
		for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
			if (ztg_json_object_get(d->text, d->tok, d->count, o, private_members[i]) >= 0)
				return fail(&w, "holds private member \"%s\": a published key set must not carry "
					    "private keys", private_members[i]);
		rc = k->type == ZTG_JWK_RSA ? jwk_rsa(d, &w, o, &k->pkey) :
		     k->type == ZTG_JWK_EC ? jwk_ec(d, &w, o, &k->pkey) : jwk_okp(d, &w, o, &k->pkey);
		if (rc < 0 || pkey_classify(&w, k->pkey, &k->type, &k->algs, &curve) < 0)
			return -1;
	}
	if (alg >= 0) {
		if (!(k->algs & ZTG_JWT_ALG_BIT(alg)))
			return jwk_alg_misfit(&w, k, (enum ztg_jwt_alg)alg, curve);
		k->algs = ZTG_JWT_ALG_BIT(alg);
	}
	return 0;
}

/* ----------------------------------------------------------------- sets */

void ztg_keyset_free(struct ztg_keyset *set)
{
	if (set == NULL)
		return;
	for (uint32_t i = 0; i < set->count; i++) {
		EVP_PKEY_free(set->keys[i].pkey);
		if (set->keys[i].secret != NULL)
			OPENSSL_cleanse(set->keys[i].secret, set->keys[i].secret_len);
		free(set->keys[i].secret);
	}
	free(set->keys);
	free(set);
}

static int keyset_from_doc(const struct jwks_doc *d, struct ztg_keyset **out, char *err, size_t err_len)
{
	struct who w = {.err = err, .err_len = err_len};
	int keys = ztg_json_object_get(d->text, d->tok, d->count, 0, "keys");
	struct ztg_keyset *set;
	const struct ztg_jwk *dup;
	uint32_t n, i;
	int e;

	if (keys < 0)
		return fail(&w, "no \"keys\" member");
	if (d->tok[keys].type != ZTG_JSON_ARRAY)
		return fail(&w, "\"keys\" is not an array");
	n = d->tok[keys].size;
	if (n == 0)
		return fail(&w, "\"keys\" is empty: a key set needs at least one key");
	if (n > ZTG_JWKS_MAX_KEYS)
		return fail(&w, "\"keys\" holds %u keys, at most %u", n, ZTG_JWKS_MAX_KEYS);

	set = calloc(1, sizeof(*set));
	if (set == NULL || (set->keys = calloc(n, sizeof(*set->keys))) == NULL) {
		free(set);
		return fail(&w, "out of memory");
	}
	for (i = 0, e = keys + 1; i < n; i++, e = (int)d->tok[e].next) {
		struct ztg_jwk *k = &set->keys[set->count];
		int rc;

		set->count++;   /* so that ztg_keyset_free() releases what this key got */
		rc = jwk_parse(d, e, i, k, err, err_len);
		if (rc < 0)
			goto fail;
		if (rc > 0) {
			memset(k, 0, sizeof(*k));
			set->count--;
			continue;
		}
		dup = kid_find(set->keys, set->count - 1, k->kid, k->kid_len);
		if (dup != NULL) {
			snprintf(w.text, sizeof(w.text), "key %u (kid \"%s\")", i, k->kid);
			fail(&w, "kid already used by another key");
			goto fail;
		}
	}
	if (set->count == 0) {
		fail(&w, "no key for signatures: every key says use or key_ops for something else");
		goto fail;
	}
	*out = set;
	return 0;
fail:
	ztg_keyset_free(set);
	return -1;
}

int ztg_keyset_from_jwks(const char *text, size_t len, struct ztg_keyset **out, char *err, size_t err_len)
{
	struct who w = {.err = err, .err_len = err_len};
	struct ztg_json_token *tok;
	struct ztg_json_error jerr;
	/* Every value takes at least one byte: a short document needs no more tokens than bytes. */
	uint32_t max = len < ZTG_JWKS_MAX_VALUES ? (uint32_t)len : ZTG_JWKS_MAX_VALUES;
	int count, rc;

	*out = NULL;
	if (text == NULL)
		return fail(&w, "no JWKS text");
	if (len > ZTG_JWKS_MAX_BYTES)
		return fail(&w, "JWKS is %zu bytes, at most %u", len, ZTG_JWKS_MAX_BYTES);
	tok = malloc((max > 0 ? max : 1) * sizeof(*tok));
	if (tok == NULL)
		return fail(&w, "out of memory");
	count = ztg_json_parse(text, len, tok, max, &jerr);
	if (count < 0) {
		if (jerr.code == ZTG_JSON_E_TOO_MANY_TOKENS)
			rc = fail(&w, "JWKS holds more than %u JSON values", ZTG_JWKS_MAX_VALUES);
		else
			rc = fail(&w, "not valid JSON: %s at byte %u (%s)", ztg_json_error_name(jerr.code),
				  jerr.offset, jerr.message);
	} else {
		struct jwks_doc d = {.text = text, .tok = tok, .count = count};

		/* OpenSSL's reasons went into err: leave its error queue as it was. */
		ERR_set_mark();
		rc = keyset_from_doc(&d, out, err, err_len);
		ERR_pop_to_mark();
	}
	free(tok);
	return rc;
}

/* ------------------------------------------------------------------ PEM */

/* The public key of the single PEM block in bio: SPKI or the subject key of a certificate. */
static EVP_PKEY *pem_public_key(const struct who *w, BIO *bio)
{
	char *name = NULL, *header = NULL, *name2 = NULL, *header2 = NULL;
	unsigned char *data = NULL, *data2 = NULL;
	const unsigned char *p;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	long len = 0, len2 = 0;

	if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
		fail(w, "no PEM block (expected BEGIN PUBLIC KEY or BEGIN CERTIFICATE)");
		goto out;
	}
	/* One block, so that which key is meant is never a guess (a chain, a key pair in one file). */
	if (PEM_read_bio(bio, &name2, &header2, &data2, &len2) == 1) {
		fail(w, "more than one PEM block (give one public key or one certificate)");
		goto out;
	}
	p = data;
	if (strcmp(name, PEM_STRING_PUBLIC) == 0) {
		pkey = d2i_PUBKEY(NULL, &p, len);
		if (pkey == NULL)
			fail(w, "PUBLIC KEY block does not parse (%s)", ossl_reason());
	} else if (strcmp(name, PEM_STRING_X509) == 0) {
		cert = d2i_X509(NULL, &p, len);
		if (cert == NULL)
			fail(w, "CERTIFICATE block does not parse (%s)", ossl_reason());
		else if ((pkey = X509_get_pubkey(cert)) == NULL)
			fail(w, "certificate's public key does not parse (%s)", ossl_reason());
	} else if (strstr(name, "PRIVATE KEY") != NULL) {
		fail(w, "PEM block \"%s\" is a private key: give the public key or certificate", name);
	} else {
		fail(w, "PEM block \"%s\" is neither PUBLIC KEY nor CERTIFICATE", name);
	}
	if (pkey != NULL && p != data + len) {
		fail(w, "%s block has %ld bytes after its DER value", name, (long)(data + len - p));
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	X509_free(cert);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	OPENSSL_free(name2);
	OPENSSL_free(header2);
	OPENSSL_free(data2);
	return pkey;
}

/* kid: checked by the caller. */
static int keyset_add_pem(struct ztg_keyset **set, const char *pem, size_t len, const char *kid, const struct who *w)
{
	size_t kid_len = strlen(kid);
	struct ztg_keyset *s = *set;
	struct ztg_jwk k = {0}, *keys;
	const struct ztg_jwk *dup;
	const char *curve;
	EVP_PKEY *pkey;
	BIO *bio;

	dup = s != NULL ? kid_find(s->keys, s->count, kid, kid_len) : NULL;
	if (dup != NULL)
		return fail(w, "kid already used by key %u of the set", (unsigned)(dup - s->keys));
	if (s != NULL && s->count >= ZTG_JWKS_MAX_KEYS)
		return fail(w, "the key set already holds %u keys, at most %u", s->count, ZTG_JWKS_MAX_KEYS);
	if (len > ZTG_JWKS_MAX_BYTES)
		return fail(w, "PEM is %zu bytes, at most %u", len, ZTG_JWKS_MAX_BYTES);

	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return fail(w, "out of memory");
	pkey = pem_public_key(w, bio);
	BIO_free(bio);
	if (pkey == NULL)
		return -1;
	if (pkey_classify(w, pkey, &k.type, &k.algs, &curve) < 0)
		goto fail;
	k.pkey = pkey;
	jwk_set_kid(&k, kid, kid_len);

	if (s == NULL && (s = calloc(1, sizeof(*s))) == NULL) {
		fail(w, "out of memory");
		goto fail;
	}
	keys = realloc(s->keys, (s->count + 1) * sizeof(*keys));
	if (keys == NULL) {
		if (*set == NULL)
			free(s);
		fail(w, "out of memory");
		goto fail;
	}
	keys[s->count++] = k;
	s->keys = keys;
	*set = s;
	return 0;
fail:
	EVP_PKEY_free(pkey);
	return -1;
}

int ztg_keyset_add_pem(struct ztg_keyset **set, const char *pem, size_t len, const char *kid, char *err,
		       size_t err_len)
{
	struct who w = {.err = err, .err_len = err_len};
	int rc;

	if (kid == NULL)
		kid = "";
	if (pem == NULL)
		return fail(&w, "no PEM text");
	if (kid[0] != '\0') {
		if (kid_check(&w, kid, strlen(kid)) < 0)
			return -1;
		snprintf(w.text, sizeof(w.text), "kid \"%s\"", kid);
	}
	ERR_set_mark();
	rc = keyset_add_pem(set, pem, len, kid, &w);
	ERR_pop_to_mark();
	return rc;
}

const struct ztg_jwk *ztg_keyset_find(const struct ztg_keyset *set, const char *kid, size_t kid_len)
{
	if (set == NULL)
		return NULL;
	if (kid_len == 0)
		return set->count == 1 ? &set->keys[0] : NULL;
	return kid_find(set->keys, set->count, kid, kid_len);
}
