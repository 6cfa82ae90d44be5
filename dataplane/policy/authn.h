/*
 * Authentication and per-route identity requirements: who sent a request
 * (a bearer JWT or an API key, from where the service says credentials
 * travel) and whether that identity may use the route the request matched.
 *
 * The runtime form (struct ztg_authn) is built with a policy's authz and is
 * immutable, except each issuer's key set, which the control process
 * replaces (ztg_authn_replace_keys) and then bumps the key epoch, so every
 * worker's cached tokens are verified again under the new keys. Everything
 * a request needs is reached from here: the issuer table (jwt.h), the API
 * key table (api_key.h), per service where credentials travel and which
 * issuers count, per route the compiled requirement.
 *
 * Per worker (struct ztg_authn_worker): the verified-token cache and the
 * verifier's scratch. Nothing is shared between workers but read-only
 * tables; a cache hit still re-checks expiry (the cache does), revocation
 * and the route's requirement on every request.
 *
 * Plain C, no DPDK.
 */
#ifndef ZTG_AUTHN_H
#define ZTG_AUTHN_H

#include <stdbool.h>
#include <stdint.h>

#include "../../control/policy.h"
#include "../auth/identity.h"
#include "../auth/jwt.h"
#include "../auth/revocation.h"
#include "../auth/token_cache.h"
#include "../http/http_normalize.h"
#include "../http/http_parser.h"
#include "route_match.h"

/* Outcomes; jwt.h's reasons are used as they are for a refused token. Names are stable. */
#define ZTG_AUTHN_REASONS(X)                                                                   \
	X(OK,                   "ok")                                                          \
	X(ANONYMOUS,            "anonymous")             /* the route allows it: not looked at */ \
	X(CREDENTIALS_MISSING,  "credentials_missing")                                         \
	X(CREDENTIALS_CONFLICT, "credentials_conflict")  /* two differing credentials: smuggling */ \
	X(CREDENTIALS_MALFORMED, "credentials_malformed") /* wrong scheme, empty, too long */     \
	X(TOKEN,                "token")                 /* the token was refused: see jwt */  \
	X(API_KEY_UNKNOWN,      "api_key_unknown")                                             \
	X(REVOKED,              "revoked")                                                     \
	X(SCOPE_MISSING,        "scope_missing")                                               \
	X(CLAIM_MISMATCH,       "claim_mismatch")                                              \
	X(OBJECT_MISMATCH,      "object_mismatch")       /* a bound {param} is another object */

enum ztg_authn_reason {
#define ZTG_AUTHN_REASON_ENUM(sym, name) ZTG_AUTHN_##sym,
	ZTG_AUTHN_REASONS(ZTG_AUTHN_REASON_ENUM)
#undef ZTG_AUTHN_REASON_ENUM
	ZTG_AUTHN_REASON_COUNT
};

struct ztg_authn;

struct ztg_authn_result {
	enum ztg_authn_reason reason;
	enum ztg_jwt_reason jwt;           /* reason TOKEN: why */
	bool identified;                   /* identity holds who sent it (also on a refusal after identification) */
	bool from_cache;
	const char *issuer;                /* the issuer's policy name, "api-key", or NULL */
	char detail[96];                   /* the missing scope, the claim, "{tenant}", the jwt detail */
	char kid[ZTG_IDENTITY_KID_MAX + 1];/* the token's kid when it was refused (identity.kid otherwise) */
	struct ztg_identity identity;
};

/* The stable name of the outcome: an authn reason, or the token's jwt reason. */
const char *ztg_authn_result_reason(const struct ztg_authn_result *r);

/* The issuer's policy name, "api-key", or "" when no credential named one. */
const char *ztg_authn_result_issuer(const struct ztg_authn_result *r);

/* Whether the refusal is about who (401: no or bad credentials) rather than what (403). */
bool ztg_authn_result_unauthenticated(const struct ztg_authn_result *r);

/*
 * Build the runtime form of p's identity parts. matchers[s]: service s's
 * compiled routes (bindings name {param}s by their index there).
 * generation: the authz's, so no worker's cache mixes two policies. Issuers
 * whose keys come from files get them now; those with jwks_url start with
 * none (tokens get unknown_kid) until ztg_authn_replace_keys. NULL with err.
 */
struct ztg_authn *ztg_authn_build(const struct ztg_policy *p, struct ztg_route_matcher *const *matchers,
				  uint32_t generation, char *err, size_t err_len);
void ztg_authn_free(struct ztg_authn *authn);

/* Whether route r of service s needs an identity (an allow route that is not anonymous). */
bool ztg_authn_route_protected(const struct ztg_authn *authn, uint32_t service, uint32_t route);

/* The issuer table, for the key refresher: its issuers' keys and unknown-kid flags. */
struct ztg_jwt_table *ztg_authn_issuers(const struct ztg_authn *authn);

/*
 * Install keys for issuer i (taken over) and bump the key epoch. Returns the
 * replaced set, which the caller frees after every worker passed a quiescent
 * state; NULL when there was none.
 */
struct ztg_keyset *ztg_authn_replace_keys(struct ztg_authn *authn, uint32_t issuer, struct ztg_keyset *keys);

struct ztg_authn_worker {
	struct ztg_token_cache *cache;     /* NULL: every token is verified */
	struct ztg_jwt_scratch *scratch;
	uint64_t verified;                 /* signature verifications run */
	uint64_t cache_hits;
	uint64_t api_key_lookups;
};

/* 0, or -1 when out of memory. cache_entries 0: no cache. */
int ztg_authn_worker_init(struct ztg_authn_worker *w, uint32_t cache_entries);
void ztg_authn_worker_release(struct ztg_authn_worker *w);

/* What the request presents, as the HTTP layer saw it. */
struct ztg_authn_request {
	const struct ztg_http_message *msg;
	const struct ztg_http_target_view *target;   /* decoded query parameters, canonical path */
	const struct ztg_route_match *match;         /* captures index target->path */
	uint32_t service;
	uint32_t route;
	int64_t now;                                  /* unix seconds */
};

/*
 * Authenticate the request for its route and check the route's requirement.
 * revoked: the revocation set in force (NULL: none). Returns true when the
 * request may pass (reason OK or ANONYMOUS).
 */
bool ztg_authn_check(const struct ztg_authn *authn, struct ztg_authn_worker *w,
		     const struct ztg_revocation_set *revoked, const struct ztg_authn_request *req,
		     struct ztg_authn_result *out);

#endif
