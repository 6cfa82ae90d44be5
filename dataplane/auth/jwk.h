/*
 * Key sets: the verification keys of one issuer, read from a JWKS document
 * (RFC 7517) or PEM files, as OpenSSL EVP keys and HMAC secrets.
 *
 * A key set is built on the control side (policy load, JWKS fetch) and then
 * immutable: workers read it concurrently without locks. It owns every key.
 *
 * Which algorithms a key can verify is decided here, once, from the key's
 * own type and parameters, never from a token:
 *   oct            each HSxxx whose hash output the secret is at least as long
 *                  as (RFC 7518 3.2): 32..47 bytes HS256; 48..63 bytes HS256,
 *                  HS384; 64 or more all three; shorter than 32 is refused
 *   RSA            RS256/384/512, PS256/384/512 (modulus 2048 to 16384 bits)
 *   EC P-256/384/521  ES256 / ES384 / ES512 respectively (x and y exactly
 *                  32 / 48 / 66 bytes, a point of the curve's subgroup)
 *   OKP Ed25519    EdDSA (x exactly 32 bytes)
 * Other key types and curves (secp256k1, Ed448, X25519, RSA-PSS keys, ...)
 * are refused. A JWK "alg" member narrows that set to the one algorithm it
 * names (one the key cannot do is refused); a key whose "use" is not "sig"
 * or whose key_ops lack "verify" is skipped (providers publish encryption
 * keys in the same set), a set left without keys refused; private members (d, p, q, dp,
 * dq, qi, oth) are refused on RSA, EC and OKP keys (a published JWKS must
 * not carry private keys); members not named here are ignored (RFC 7517).
 * A kid is optional: 1..ZTG_IDENTITY_KID_MAX bytes of printable ASCII
 * (0x20..0x7e). Kids that are present are unique in a set; keys without kid
 * never clash, but only a set of one key can give a token without kid a key.
 * PEM documents (at most ZTG_JWKS_MAX_BYTES) hold exactly one block: a
 * public key (SPKI, "BEGIN PUBLIC KEY") or an X.509 certificate (its public
 * key is taken; dates and issuer are not looked at); a private key is
 * refused, and an HMAC secret cannot come from PEM.
 *
 * Plain C over byte buffers with OpenSSL 3; no DPDK.
 */
#ifndef ZTG_AUTH_JWK_H
#define ZTG_AUTH_JWK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "identity.h"

#define ZTG_JWKS_MAX_BYTES  (1u << 20)   /* a JWKS document */
#define ZTG_JWKS_MAX_KEYS   64           /* keys of a set, however built */
#define ZTG_JWKS_MAX_VALUES 16384        /* JSON values (member names included) of a JWKS document */

/* JWS algorithms (RFC 7518, RFC 8037); values are stable bit positions for masks. */
#define ZTG_JWT_ALGS(X)           \
	X(HS256, "HS256")         \
	X(HS384, "HS384")         \
	X(HS512, "HS512")         \
	X(RS256, "RS256")         \
	X(RS384, "RS384")         \
	X(RS512, "RS512")         \
	X(PS256, "PS256")         \
	X(PS384, "PS384")         \
	X(PS512, "PS512")         \
	X(ES256, "ES256")         \
	X(ES384, "ES384")         \
	X(ES512, "ES512")         \
	X(EDDSA, "EdDSA")

enum ztg_jwt_alg {
#define ZTG_JWT_ALG_ENUM(sym, name) ZTG_JWT_ALG_##sym,
	ZTG_JWT_ALGS(ZTG_JWT_ALG_ENUM)
#undef ZTG_JWT_ALG_ENUM
	ZTG_JWT_ALG_COUNT
};

#define ZTG_JWT_ALG_BIT(a) (1u << (a))

/* "HS256"...; "?" out of range. from_name: exact, case-sensitive; 0 or -1. "none" is never a name. */
const char *ztg_jwt_alg_name(enum ztg_jwt_alg alg);
int ztg_jwt_alg_from_name(const char *name, size_t len, enum ztg_jwt_alg *out);

enum ztg_jwk_type {
	ZTG_JWK_OCT = 1,
	ZTG_JWK_RSA,
	ZTG_JWK_EC,
	ZTG_JWK_OKP,
};

struct ztg_jwk {
	char kid[ZTG_IDENTITY_KID_MAX + 1];   /* NUL-terminated; empty when the key has none */
	uint8_t kid_len;
	uint8_t type;                 /* enum ztg_jwk_type */
	uint32_t algs;                /* ZTG_JWT_ALG_BIT()s this key may verify (see above) */
	EVP_PKEY *pkey;               /* RSA, EC, OKP */
	uint8_t *secret;              /* oct */
	size_t secret_len;
};

struct ztg_keyset {
	struct ztg_jwk *keys;
	uint32_t count;               /* >= 1: an empty key set is never built */
};

/*
 * Parse a JWKS document ({"keys": [...]}) with the strict JSON parser (so a
 * member repeated in one object refuses it; base64url members are strict too,
 * without JSON escapes). Every key must be usable (known kty, well-formed
 * parameters, a supported curve); one bad key refuses the whole document,
 * and so do two keys with the same kid, no key at all, more than
 * ZTG_JWKS_MAX_KEYS keys, more than ZTG_JWKS_MAX_BYTES of text or more than
 * ZTG_JWKS_MAX_VALUES JSON values. Returns 0 with *out set, or -1 with *out NULL and err
 * saying which key (by index and kid) and what is wrong, e.g.
 * `key 2 (kid "abc"): EC x is 31 bytes, P-256 needs 32`.
 */
int ztg_keyset_from_jwks(const char *text, size_t len, struct ztg_keyset **out, char *err, size_t err_len);

/*
 * Add the public key of one PEM document (SPKI public key or certificate)
 * under kid (may be "" or NULL for a single anonymous key) to *set, creating
 * the set when *set is NULL. A kid already in the set is refused, and so is
 * a key beyond ZTG_JWKS_MAX_KEYS. 0, or -1 with err and *set unchanged.
 */
int ztg_keyset_add_pem(struct ztg_keyset **set, const char *pem, size_t len, const char *kid, char *err,
		       size_t err_len);

/*
 * The key a token names: the key whose kid equals kid[0..kid_len) exactly.
 * A token without kid (kid_len 0) gets the set's only key when it holds
 * exactly one, else none. NULL when none matches.
 */
const struct ztg_jwk *ztg_keyset_find(const struct ztg_keyset *set, const char *kid, size_t kid_len);

void ztg_keyset_free(struct ztg_keyset *set);

#endif
