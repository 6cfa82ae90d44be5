/*
 * JWT verification (RFC 7515 compact JWS, RFC 7519 claims, RFC 8725 best
 * current practice) with OpenSSL 3 EVP, against a table of trusted issuers.
 *
 * What a token must be to verify, in the order checked (the first failure is
 * the reason):
 *  - at most the issuer's max_token_bytes (before that: ZTG_JWT_MAX_TOKEN),
 *    exactly three strict base64url segments (base64url.h), none empty but
 *    the signature's length fixed by the algorithm;
 *  - a header that is a strict JSON object (json.h) with a string alg that
 *    is one of enum ztg_jwt_alg ("none" and anything else refuse); no jku,
 *    x5u, jwk or x5c (a token never chooses its own key); crit refused (no
 *    extension is understood); typ, when the issuer expects one, equal to it
 *    (case-insensitive, "application/" prefix optional, RFC 7515 4.1.9);
 *  - a payload that is a strict JSON object with a string iss found in the
 *    issuer table (a hash lookup: the cost does not grow with the number of
 *    issuers), and that issuer accepted by the caller (accept mask);
 *  - alg among the issuer's algorithms; a key from the issuer's current key
 *    set by kid (jwk.h) that can verify alg (no HS with an RSA key);
 *  - a valid signature (HMAC compared in constant time; ECDSA's R||S form;
 *    RSA at least 2048 bits);
 *  - time claims, with the issuer's leeway: exp (required) > now - leeway,
 *    nbf <= now + leeway, iat <= now + leeway; each a NumericDate;
 *  - aud, when the issuer lists audiences: a string or an array of strings,
 *    one of which is accepted;
 *  - every required claim present; the identity claim (sub by default) a
 *    non-empty string of at most ZTG_IDENTITY_SUBJECT_MAX bytes;
 *  - scopes from the issuer's scope claim, else "scope" (space-delimited
 *    string), "scp" (string or array) and "roles" (array), reduced to the
 *    bits of struct ztg_auth_names; claims the names list kept as text
 *    (a non-scalar claim a route names refuses: claim_not_scalar).
 *
 * The table and its issuers are immutable once built, except each issuer's
 * key set, which the control process replaces (one pointer store; the old
 * set is freed after every worker passed a quiescent state) when keys are
 * refetched, and the unknown-kid flag workers raise to ask for a refetch.
 *
 * Verification uses a caller-provided scratch (one per worker): no
 * allocation by this module, none shared between workers. OpenSSL may
 * allocate inside EVP calls; the token cache keeps that off the common path.
 */
#ifndef ZTG_AUTH_JWT_H
#define ZTG_AUTH_JWT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "identity.h"
#include "json.h"
#include "jwk.h"

#define ZTG_JWT_MAX_TOKEN         16384   /* hard bound on any token, whatever the issuer says */
#define ZTG_JWT_MAX_ISSUERS       1024
#define ZTG_JWT_MAX_AUDIENCES     32
#define ZTG_JWT_MAX_REQUIRED      16
#define ZTG_JWT_MAX_JSON_TOKENS   512     /* tokens of one header or payload */

/* Why a token was refused. Names are stable: events, counters, tests. */
#define ZTG_JWT_REASONS(X)                                                              \
	X(OK,                "ok")                                                      \
	X(TOO_LARGE,         "token_too_large")                                         \
	X(MALFORMED,         "token_malformed")          /* not three segments, empty */ \
	X(BAD_BASE64URL,     "token_bad_base64url")                                     \
	X(BAD_HEADER,        "token_bad_header_json")                                   \
	X(BAD_PAYLOAD,       "token_bad_payload_json")                                  \
	X(DUPLICATE_MEMBER,  "token_duplicate_member")   /* in header or claims */      \
	X(ALG_NONE,          "alg_none")                                                \
	X(ALG_UNKNOWN,       "alg_unknown")                                             \
	X(KEY_IN_HEADER,     "key_reference_in_header")  /* jku, x5u, jwk, x5c */       \
	X(CRIT,              "crit_unsupported")                                        \
	X(TYP_MISMATCH,      "typ_mismatch")                                            \
	X(NO_ISSUER,         "issuer_missing")                                          \
	X(UNKNOWN_ISSUER,    "issuer_unknown")                                          \
	X(ISSUER_NOT_ACCEPTED, "issuer_not_accepted")    /* known, not for this service */ \
	X(ALG_NOT_ALLOWED,   "alg_not_allowed")                                         \
	X(UNKNOWN_KID,       "unknown_kid")                                             \
	X(ALG_KEY_MISMATCH,  "alg_key_mismatch")                                        \
	X(BAD_SIGNATURE,     "bad_signature")                                           \
	X(NO_EXPIRY,         "exp_missing")                                             \
	X(BAD_TIME_CLAIM,    "time_claim_invalid")       /* exp/nbf/iat not a NumericDate */ \
	X(EXPIRED,           "expired")                                                 \
	X(NOT_YET_VALID,     "not_yet_valid")                                           \
	X(ISSUED_IN_FUTURE,  "issued_in_future")                                        \
	X(WRONG_AUDIENCE,    "audience_mismatch")                                       \
	X(MISSING_CLAIM,     "required_claim_missing")                                  \
	X(BAD_SUBJECT,       "subject_invalid")          /* identity claim absent, empty, too long */ \
	X(CLAIM_NOT_SCALAR,  "claim_not_scalar")                                        \
	X(CLAIM_TOO_LONG,    "claim_too_long")                                          \
	X(INTERNAL,          "verify_internal_error")    /* OpenSSL failed to run */

enum ztg_jwt_reason {
#define ZTG_JWT_REASON_ENUM(sym, name) ZTG_JWT_##sym,
	ZTG_JWT_REASONS(ZTG_JWT_REASON_ENUM)
#undef ZTG_JWT_REASON_ENUM
	ZTG_JWT_REASON_COUNT
};

const char *ztg_jwt_reason_name(enum ztg_jwt_reason reason);

/* One trusted issuer. Strings are owned by whoever built the table (the policy). */
struct ztg_jwt_issuer {
	const char *name;                  /* the policy's name for it (events) */
	const char *iss;                   /* the exact iss claim value */
	uint32_t algs;                     /* ZTG_JWT_ALG_BIT()s allowed */
	const char *const *audiences;      /* accepted aud values; none: aud not checked */
	uint32_t audience_count;
	uint32_t leeway;                   /* seconds, for exp, nbf, iat */
	uint32_t max_token_bytes;          /* <= ZTG_JWT_MAX_TOKEN */
	const char *typ;                   /* expected typ, or NULL: any or none */
	const char *const *required_claims;
	uint32_t required_count;
	const char *identity_claim;        /* "sub" unless configured */
	const char *scope_claim;           /* NULL: scope, scp, roles */
	/* Replaced by the control process; read by workers with an acquire load. */
	struct ztg_keyset *_Atomic keys;
	/* Raised (relaxed store) by a worker on unknown_kid; cleared by the refetcher. */
	atomic_bool unknown_kid;
};

struct ztg_jwt_table;

/*
 * Build the lookup table over issuers[0..count) (kept by pointer: the caller
 * keeps the array alive and unmoved for the table's life). Distinct iss
 * values required. NULL with err on failure.
 */
struct ztg_jwt_table *ztg_jwt_table_build(struct ztg_jwt_issuer *issuers, uint32_t count, char *err,
					  size_t err_len);
void ztg_jwt_table_free(struct ztg_jwt_table *table);

/* Index of the issuer whose iss is exactly iss[0..len), or -1. */
int ztg_jwt_table_find(const struct ztg_jwt_table *table, const char *iss, size_t len);
struct ztg_jwt_issuer *ztg_jwt_table_issuer(const struct ztg_jwt_table *table, uint32_t index);
uint32_t ztg_jwt_table_count(const struct ztg_jwt_table *table);

/* Per-worker working memory: decoded segments, JSON tokens, one EVP context. */
struct ztg_jwt_scratch;
struct ztg_jwt_scratch *ztg_jwt_scratch_create(void);
void ztg_jwt_scratch_free(struct ztg_jwt_scratch *scratch);

/* What a refusal knows, for the event (never the token or signature). */
struct ztg_jwt_failure {
	enum ztg_jwt_reason reason;
	int32_t issuer;                    /* index, or -1 when not reached */
	char kid[ZTG_IDENTITY_KID_MAX + 1];/* the header's kid, printable ASCII only, cut to fit */
	char detail[64];                   /* e.g. the missing claim's name, the alg; may be empty */
};

/*
 * Verify token[0..len) at time now (unix seconds) for a service accepting
 * the issuers whose index bits are set in accept, a bitmap of
 * (ztg_jwt_table_count() + 63) / 64 words, bit i of word i / 64 for issuer
 * i (NULL: all issuers). names:
 * the scopes and claims the policy asks about. Returns ZTG_JWT_OK with *out
 * filled (kind JWT), or the reason with *why filled (why may be NULL).
 */
enum ztg_jwt_reason ztg_jwt_verify(const struct ztg_jwt_table *table, const uint64_t *accept,
				   const struct ztg_auth_names *names, const char *token, size_t len, int64_t now,
				   struct ztg_jwt_scratch *scratch, struct ztg_identity *out,
				   struct ztg_jwt_failure *why);

#endif
