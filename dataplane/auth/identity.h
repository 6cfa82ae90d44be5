/*
 * Identity: who sent a request, as a verified credential (a JWT or an API
 * key) says, in the form every later check reads: route scopes, claim
 * values, object-level bindings, revocation, events.
 *
 * Scopes and claims are reduced at verification time to what the policy in
 * force asks about (struct ztg_auth_names): scopes become bits, claims are
 * kept as text only when a route names them. An identity is a plain value
 * (no pointers), so a worker's token cache can copy it in and out.
 *
 * Plain C, no DPDK, no allocation.
 */
#ifndef ZTG_AUTH_IDENTITY_H
#define ZTG_AUTH_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZTG_IDENTITY_SUBJECT_MAX   128   /* bytes of sub (or the identity claim), longer is refused */
#define ZTG_IDENTITY_KID_MAX       64
#define ZTG_IDENTITY_JTI_MAX       64
#define ZTG_IDENTITY_MAX_CLAIMS    8     /* claims the policy's routes may name, policy-wide */
#define ZTG_IDENTITY_CLAIM_MAX     128   /* bytes of one kept claim value */
#define ZTG_AUTH_MAX_SCOPES        64    /* distinct scope names the routes of one policy may require */

enum ztg_identity_kind {
	ZTG_IDENTITY_NONE = 0,
	ZTG_IDENTITY_JWT,
	ZTG_IDENTITY_API_KEY,
};

/*
 * The names a policy's routes ask about, in the order that gives scope bit i
 * and claim slot j. Built once per policy; strings owned by the policy.
 */
struct ztg_auth_names {
	const char *scopes[ZTG_AUTH_MAX_SCOPES];
	uint32_t scope_count;
	const char *claims[ZTG_IDENTITY_MAX_CLAIMS];
	uint32_t claim_count;
};

struct ztg_identity {
	uint8_t kind;                 /* enum ztg_identity_kind */
	uint8_t alg;                  /* JWT: enum ztg_jwt_alg */
	uint16_t issuer;              /* JWT: index of the issuer in the policy; API key: index of the key */
	uint64_t scopes;              /* bit i: the credential grants ztg_auth_names.scopes[i] */
	int64_t expires;              /* unix seconds; INT64_MAX when the credential does not expire */
	uint8_t subject_len;
	uint8_t kid_len;
	uint8_t jti_len;
	uint8_t claims_present;       /* bit j: claims[j] holds ztg_auth_names.claims[j]'s value */
	uint8_t claim_len[ZTG_IDENTITY_MAX_CLAIMS];
	char subject[ZTG_IDENTITY_SUBJECT_MAX + 1];   /* NUL-terminated; never empty for a verified identity */
	char kid[ZTG_IDENTITY_KID_MAX + 1];           /* JWT: the header's kid; API key: the key's id */
	char jti[ZTG_IDENTITY_JTI_MAX + 1];           /* JWT: jti when present */
	/* Scalar claim values as text: a string unescaped, a number or true/false as written. */
	char claims[ZTG_IDENTITY_MAX_CLAIMS][ZTG_IDENTITY_CLAIM_MAX + 1];
};

#endif
