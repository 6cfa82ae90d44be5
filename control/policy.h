/*
 * The policy model: what the loader (policy_load.h) builds from a policy file
 * and what the compiler turns into the dataplane's runtime tables.
 *
 * A policy says which network segment may reach which API service, and per
 * service which method on which path is allowed, denied, reset or dropped.
 * Everything else is denied (zero trust): a request reaches its server only
 * through an access entry from its source segment and an allow route.
 *
 * Invariants of a policy handed out by ztg_policy_load():
 *  - it is fully validated: every key was known and of the right type, every
 *    reference (a service's segment, an access entry's from and to) resolves
 *    to an index into this policy; segment, service and access pairs are
 *    unique, route names are unique within their service; no two segments
 *    claim the same address; no two services could receive the same request;
 *    no two routes of a service claim the same method on the same path text;
 *  - issuers have exactly one key source, whose files (JWKS, PEM, CA) were
 *    read at load and parsed: their bytes are in the policy, so a bundle
 *    carries them; iss values are unique; an allow route is anonymous only
 *    when it says so, and otherwise belongs to a service with
 *    authentication; bindings name {params} of the route's own template;
 *    scope and claim names routes use are numbered policy-wide
 *    (scope_names, claim_names) within ZTG_POLICY_MAX_SCOPES / _CLAIMS;
 *  - CIDRs are in network form (no host bits set), hosts lowercase;
 *  - modes are resolved: a service's and a route's mode is the effective
 *    one, with mode_set telling whether the file said so or it was inherited;
 *  - every element carries the file and line it came from (an element of an
 *    included file names that file);
 *  - it owns all its memory (one arena, strings included) and is never
 *    changed after loading: share it read-only, free it once with
 *    ztg_policy_free().
 *
 * Plain C, no DPDK: the control plane and the unit tests use it directly.
 */
#ifndef ZTG_POLICY_H
#define ZTG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/http_parser.h"

/* The only policy language version this build reads. */
#define ZTG_POLICY_VERSION 1

/* Bounds on what one policy may hold; the loader reports anything beyond. */
#define ZTG_POLICY_NAME_MAX              64      /* names: [A-Za-z0-9_.-]{1,64} */
#define ZTG_POLICY_MAX_SEGMENTS          1024
#define ZTG_POLICY_MAX_SEGMENT_ADDRESSES 1024    /* per segment */
#define ZTG_POLICY_MAX_SERVICES          4096
#define ZTG_POLICY_MAX_HOSTS             256     /* per service */
#define ZTG_POLICY_MAX_ADDRESSES         256     /* per service */
#define ZTG_POLICY_MAX_PORTS             256     /* per service */
#define ZTG_POLICY_MAX_ROUTES            65535   /* per service */
#define ZTG_POLICY_MAX_ACCESS            65536   /* access entries */
#define ZTG_POLICY_HOST_MAX_LEN          253     /* a DNS name, as the HTTP normaliser bounds Host */
#define ZTG_POLICY_PATH_MAX_LEN          4096    /* the normaliser's longest canonical path */
#define ZTG_POLICY_MAX_ISSUERS           1024    /* as ZTG_JWT_MAX_ISSUERS */
#define ZTG_POLICY_MAX_API_KEYS          65536   /* as ZTG_API_KEY_MAX_KEYS */
#define ZTG_POLICY_MAX_PEM_KEYS          64      /* per issuer */
#define ZTG_POLICY_MAX_BLOCKED           256     /* key_fetch.blocked ranges */
#define ZTG_POLICY_MAX_SCOPES            64      /* distinct scope names all routes require; as ZTG_AUTH_MAX_SCOPES */
#define ZTG_POLICY_MAX_CLAIMS            8       /* distinct claim names all routes name; as ZTG_IDENTITY_MAX_CLAIMS */
#define ZTG_POLICY_MAX_REQUIRE_ITEMS     16      /* scopes, claims or bindings of one route */
#define ZTG_POLICY_HEADER_NAME_MAX       64      /* a credential header or query parameter name */
#define ZTG_POLICY_MAX_SIGNATURE_SETS    64      /* rule sets one policy loads (a route selects them by bit) */

/* An index that resolves to nothing; never present in a loaded policy. */
#define ZTG_POLICY_NONE UINT32_MAX

/* Where an element was written. file is owned by the policy. */
struct ztg_policy_loc {
	const char *file;
	uint32_t line;
};

#define ZTG_POLICY_MODES(X)          \
	X(ENFORCE, "enforce")        \
	X(MONITOR, "monitor")        /* log the verdict enforcement would take, then pass */

enum ztg_policy_mode {
#define ZTG_POLICY_MODE_ENUM(sym, name) ZTG_POLICY_MODE_##sym,
	ZTG_POLICY_MODES(ZTG_POLICY_MODE_ENUM)
#undef ZTG_POLICY_MODE_ENUM
	ZTG_POLICY_MODE_COUNT
};

/*
 * One enum for every verdict a policy can name; each key accepts its own
 * subset (routes: allow deny reset drop; defaults.action and unknown_host:
 * deny reset drop; non_http: drop reset pass).
 */
#define ZTG_POLICY_ACTIONS(X) \
	X(ALLOW, "allow")     /* the route lets the request through */           \
	X(DENY,  "deny")      /* answer 403 to the client, reset the server side */ \
	X(RESET, "reset")     /* TCP RST to both ends */                          \
	X(DROP,  "drop")      /* drop silently, and the rest of the flow */       \
	X(PASS,  "pass")      /* forward uninspected (non-HTTP only) */

enum ztg_policy_action {
#define ZTG_POLICY_ACTION_ENUM(sym, name) ZTG_POLICY_ACTION_##sym,
	ZTG_POLICY_ACTIONS(ZTG_POLICY_ACTION_ENUM)
#undef ZTG_POLICY_ACTION_ENUM
	ZTG_POLICY_ACTION_COUNT
};

/*
 * Methods as a mask over enum ztg_http_method, the values the HTTP parser
 * classifies a request into: bit (1 << method). ANY sets every bit, OTHER's
 * included, so it also matches methods outside the list (PROPFIND, ...),
 * and is told apart from a list naming all nine.
 */
_Static_assert(ZTG_HTTP_METHOD_OTHER == 0 && ZTG_HTTP_METHOD_GET == 1 && ZTG_HTTP_METHOD_TRACE == 9,
	       "policy method masks assume enum ztg_http_method is OTHER=0, GET=1 .. TRACE=9");
#define ZTG_POLICY_METHOD_BIT(m)  ((uint16_t)(1u << (m)))
#define ZTG_POLICY_METHODS_ANY    ((uint16_t)((1u << (ZTG_HTTP_METHOD_TRACE + 1)) - 1))

/* family 4: addr[0..3] hold the address, the rest is zero. Host bits are zero. */
struct ztg_cidr {
	uint8_t family;               /* 4 or 6 */
	uint8_t prefix_len;           /* 0..32 or 0..128 */
	uint8_t addr[16];             /* network byte order */
};

struct ztg_policy_address {
	struct ztg_cidr cidr;
	struct ztg_policy_loc loc;
};

struct ztg_policy_segment {
	const char *name;
	struct ztg_policy_address *addresses;   /* unique; may nest within the segment */
	uint32_t address_count;
	struct ztg_policy_loc loc;
};

/*
 * A Host pattern: exact ("api.shop.test") or a suffix wildcard
 * ("*.shop.test", matching any name that ends in ".shop.test" with at least
 * one label before it, at any depth; not "shop.test" itself). Lowercase, no
 * port, no trailing dot: compared with the normaliser's canonical Host.
 */
struct ztg_policy_host {
	const char *pattern;          /* as written, lowercased; a wildcard keeps its "*." */
	bool wildcard;
	struct ztg_policy_loc loc;
};

/* A claim a route requires to hold exactly value ("sub": the identity's subject). */
struct ztg_policy_claim_value {
	const char *claim;
	const char *value;
	struct ztg_policy_loc loc;
};

/* Object-level authorization: the route's {param} must equal the claim ("sub": the identity's subject). */
struct ztg_policy_binding {
	const char *param;
	const char *claim;
	struct ztg_policy_loc loc;
};

/*
 * Who may use an allow route. Exactly one of: anonymous (the route says so;
 * credentials are not looked at), or an authenticated identity from the
 * service's authentication holding the scopes (all of them, or any one when
 * scopes_any), the claim values and the bindings listed (none: any identity).
 */
struct ztg_policy_requirement {
	bool anonymous;
	bool scopes_any;
	const char **scopes;
	uint32_t scope_count;
	struct ztg_policy_claim_value *claims;
	uint32_t claim_count;
	struct ztg_policy_binding *bindings;
	uint32_t binding_count;
	struct ztg_policy_loc loc;    /* of `require`, else of the route */
};

/*
 * Signature matching for a service or a route (issue 6): which rule sets
 * apply, which of them block whatever their rules' own action says, the
 * anomaly score that blocks, how much of each body is scanned, and whether
 * blocks are only logged. A route's own block replaces its service's;
 * neither: no signatures.
 */
#define ZTG_POLICY_BODY_DEPTH_DEFAULT (1u << 20)
#define ZTG_POLICY_BODY_DEPTH_MAX     (1u << 30)

struct ztg_policy_detect {
	bool present;
	uint64_t sets;                /* bit i: ztg_policy.signature_sets[i] applies */
	uint64_t block_sets;          /* a subset of sets: their rules all block here (block_sets) */
	uint32_t threshold;           /* score at which scored rules block (default 5) */
	uint32_t request_body_depth;  /* request body bytes scanned; 0: none (default 1 MiB) */
	uint32_t response_body_depth; /* the same for responses */
	bool monitor;                 /* log what would be blocked, pass */
	struct ztg_policy_loc loc;
};

/* What a rate limit counts requests by. */
#define ZTG_POLICY_RATE_KEYS(X)                                                         \
	X(IDENTITY, "identity")   /* the verified issuer and subject; anonymous requests by source */ \
	X(API_KEY,  "api_key")    /* the API key's id; requests without one by source */          \
	X(SOURCE,   "source")     /* the client address, or its prefix (prefix4, prefix6) */ \
	X(ROUTE,    "route")      /* every request of the route (or service) together */

enum ztg_policy_rate_key {
#define ZTG_POLICY_RATE_KEY_ENUM(sym, name) ZTG_POLICY_RATE_##sym,
	ZTG_POLICY_RATE_KEYS(ZTG_POLICY_RATE_KEY_ENUM)
#undef ZTG_POLICY_RATE_KEY_ENUM
	ZTG_POLICY_RATE_KEY_COUNT
};

/* What exceeding a rate limit does. */
#define ZTG_POLICY_RATE_ACTIONS(X)                                            \
	X(DENY,  "deny")     /* 429 Too Many Requests with Retry-After, server side reset */ \
	X(RESET, "reset")    /* TCP RST to both ends */                              \
	X(ALERT, "alert")    /* an event, the request passes */

enum ztg_policy_rate_action {
#define ZTG_POLICY_RATE_ACTION_ENUM(sym, name) ZTG_POLICY_RATE_ACTION_##sym,
	ZTG_POLICY_RATE_ACTIONS(ZTG_POLICY_RATE_ACTION_ENUM)
#undef ZTG_POLICY_RATE_ACTION_ENUM
	ZTG_POLICY_RATE_ACTION_COUNT
};

/*
 * rate_limits = ( { name; per; rate; period; burst; action; mode }, ... ) on
 * a service or a route: at most `rate` requests per `period` seconds for
 * each key, plus `burst` at once. A route's list replaces its service's.
 */
#define ZTG_POLICY_RATE_LIMITS_MAX 8      /* per service or route */
struct ztg_policy_rate_limit {
	const char *name;                 /* unique within its list; in events and metrics */
	enum ztg_policy_rate_key key;
	uint8_t prefix4;                  /* per = "source": IPv4 prefix length counted as one (default 32) */
	uint8_t prefix6;                  /* the same for IPv6 (default 128) */
	uint32_t rate;                    /* requests per period, >= 1 */
	uint32_t period;                  /* seconds: 1 (second), 60 (minute), 3600 (hour) */
	uint32_t burst;                   /* requests admitted at once beyond the rate (default: rate / 10, at least 1) */
	enum ztg_policy_rate_action action;
	bool monitor;                     /* log what would be done, pass */
	/* In a route's list: inherited from its service, so every route of the service shares its buckets. */
	bool from_service;
	struct ztg_policy_loc loc;
};

struct ztg_policy_route {
	const char *name;
	uint16_t methods;             /* ZTG_POLICY_METHOD_BIT()s, or ZTG_POLICY_METHODS_ANY */
	const char *path;             /* template text; starts with '/', no space, control, '?' or '#' */
	enum ztg_policy_action action;   /* allow, deny, reset or drop */
	enum ztg_policy_mode mode;    /* effective: the route's own, else its service's */
	bool mode_set;                /* the route said mode itself */
	struct ztg_policy_requirement require;   /* allow routes only */
	struct ztg_policy_detect detect;         /* effective: the route's own, else its service's */
	/* Effective: the route's own list, else its service's (a copy of its entries). */
	struct ztg_policy_rate_limit *rate_limits;
	uint32_t rate_limit_count;
	struct ztg_policy_loc loc;
};

/*
 * Where a service's requests carry credentials. header/scheme: a bearer
 * token (default Authorization: Bearer); query: the token as a query
 * parameter (NULL: not accepted); api_key_header / api_key_query: an API key
 * (NULL: not accepted). Header names are lowercase.
 */
struct ztg_policy_authentication {
	bool present;                 /* the service said authentication = { ... } */
	uint32_t *issuers;            /* indexes into ztg_policy.issuers; may be none (API keys only) */
	uint32_t issuer_count;
	const char *header;
	const char *scheme;
	const char *query;
	const char *api_key_header;
	const char *api_key_query;
	struct ztg_policy_loc loc;
};

struct ztg_policy_service {
	const char *name;
	struct ztg_policy_host *hosts;
	uint32_t host_count;
	struct ztg_policy_address *addresses;   /* where it listens */
	uint32_t address_count;
	uint16_t *ports;              /* ascending, unique, 1..65535 */
	uint32_t port_count;
	uint32_t segment;             /* index into ztg_policy.segments */
	enum ztg_policy_mode mode;    /* effective: the service's own, else the policy's */
	bool mode_set;
	struct ztg_policy_authentication authentication;
	struct ztg_policy_detect detect;
	struct ztg_policy_rate_limit *rate_limits;   /* the service's own list; routes without one inherit it */
	uint32_t rate_limit_count;
	struct ztg_policy_route *routes;   /* in file order; may be none (then all is denied) */
	uint32_t route_count;
	struct ztg_policy_loc loc;
};

/* Segment `from` may reach each service in `to`; pairs are unique policy-wide. */
struct ztg_policy_access {
	uint32_t from;                /* index into ztg_policy.segments */
	uint32_t *to;                 /* indexes into ztg_policy.services */
	uint32_t to_count;
	struct ztg_policy_loc loc;
};

struct ztg_policy_defaults {
	enum ztg_policy_action action;        /* nothing allows the request: deny, reset, drop */
	enum ztg_policy_action non_http;      /* non-HTTP to a service's address:port: drop, reset, pass */
	enum ztg_policy_action unknown_host;  /* HTTP whose Host names no service there: deny, reset, drop */
};

/* A file the policy names (keys, CAs): its name relative to the policy file's directory, and its bytes. */
struct ztg_policy_file {
	const char *name;             /* as written: a bundle name (bundle.h) */
	const uint8_t *data;          /* read at load, NUL-terminated (not counted in len) */
	size_t len;
	struct ztg_policy_loc loc;
};

struct ztg_policy_pem_key {
	const char *kid;              /* "" when the issuer has a single unnamed key */
	struct ztg_policy_file file;
};

/*
 * A trusted token issuer. Keys come from exactly one of: a JWKS file, PEM
 * files, or a JWKS URL the control process fetches (https) every
 * jwks_refresh seconds, and again (at most every jwks_refetch_min seconds)
 * when tokens name a kid it does not know.
 */
struct ztg_policy_issuer {
	const char *name;
	const char *iss;              /* the exact iss claim value */
	bool has_jwks_file;
	struct ztg_policy_file jwks_file;
	struct ztg_policy_pem_key *pem_keys;
	uint32_t pem_key_count;
	const char *jwks_url;         /* NULL unless fetched */
	bool has_jwks_ca;
	struct ztg_policy_file jwks_ca;   /* PEM CA bundle for jwks_url; absent: the system's */
	uint32_t jwks_refresh;        /* seconds */
	uint32_t jwks_refetch_min;    /* seconds */
	uint32_t algorithms;          /* ZTG_JWT_ALG_BIT()s (dataplane/auth/jwk.h) */
	const char **audiences;       /* none: aud not checked (the loader warns) */
	uint32_t audience_count;
	uint32_t leeway;              /* seconds */
	uint32_t max_token_bytes;
	const char *typ;              /* NULL: not checked */
	const char **required_claims;
	uint32_t required_claim_count;
	const char *identity_claim;   /* "sub" unless set */
	const char *scope_claim;      /* NULL: scope, scp, roles */
	struct ztg_policy_loc loc;
};

/* An API key: only its SHA-256 is in the policy. */
struct ztg_policy_api_key {
	const char *id;
	uint8_t sha256[32];
	const char *subject;
	const char **scopes;
	uint32_t scope_count;
	struct ztg_policy_claim_value *claims;
	uint32_t claim_count;
	struct ztg_policy_loc loc;
};

/* Limits on JWKS fetches: never connect into blocked ranges. */
struct ztg_policy_key_fetch {
	struct ztg_policy_address *blocked;
	uint32_t blocked_count;
	uint32_t timeout_ms;
};

/*
 * behaviour = { ... }: how callers are watched and answered when they
 * misbehave with valid credentials. A caller is its identity when one is
 * verified, else its source address. Each caller, each route and each source
 * has a current window and a baseline learnt from its past windows (an
 * average over about `history` windows); a window figure above factor times
 * the baseline and at or above its floor is an anomaly. Credential-abuse
 * signals are absolute counts per window. Anomalies and signals add their
 * weight to the caller's (or source's) risk score, which halves every
 * half_life seconds; reaching threshold quarantines it for `quarantine`
 * seconds. Absent (present false): nothing is watched.
 */
enum ztg_policy_behaviour_floor {
	ZTG_POLICY_FLOOR_REQUESTS,
	ZTG_POLICY_FLOOR_ERRORS,          /* responses 401, 403, 404 and 5xx from the server */
	ZTG_POLICY_FLOOR_OBJECTS,         /* distinct path parameter values ({id}) */
	ZTG_POLICY_FLOOR_BYTES,           /* response bytes */
	ZTG_POLICY_FLOOR_COUNT
};

enum ztg_policy_behaviour_signal {
	ZTG_POLICY_SIGNAL_ANOMALY,            /* a caller's window above its baseline */
	ZTG_POLICY_SIGNAL_AUTH_FAILURES,      /* failed authentications from one source (credential stuffing) */
	ZTG_POLICY_SIGNAL_TOKEN_SOURCES,      /* source addresses one identity comes from (token theft) */
	ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES,  /* identities one source presents */
	ZTG_POLICY_SIGNAL_COUNT
};

struct ztg_policy_behaviour {
	bool present;
	bool monitor;                     /* mode = "monitor": log anomalies, signals and quarantines; refuse nothing */
	uint32_t window;                  /* seconds, 1..3600 (default 10) */
	uint32_t history;                 /* windows a baseline spans, 1..1000 (default 6) */
	double factor;                    /* > 1 (default 10) */
	uint64_t floors[ZTG_POLICY_FLOOR_COUNT];   /* per window; 0: that figure is never judged (defaults 100, 20, 50, 10 MiB) */
	/* Per window; index AUTH_FAILURES.. only (ANOMALY unused); 0: signal off (defaults 20, 5, 10). */
	uint32_t limits[ZTG_POLICY_SIGNAL_COUNT];
	double threshold;                 /* risk that quarantines, > 0 (default 100) */
	uint32_t half_life;               /* seconds, >= 1 (default 60) */
	uint32_t quarantine;              /* seconds a quarantine lasts; 0: until deleted (default 300) */
	double weights[ZTG_POLICY_SIGNAL_COUNT];   /* risk each signal adds, >= 0 (default 100 each) */
	struct ztg_policy_loc loc;
};

const char *ztg_policy_behaviour_floor_name(enum ztg_policy_behaviour_floor f);     /* "requests", "errors", "objects", "bytes" */
const char *ztg_policy_behaviour_signal_name(enum ztg_policy_behaviour_signal s);   /* "anomaly", "auth_failures", "token_sources", "source_identities" */
/* The section as ztgatectl show and ztgatectl policy print it: several lines, each indented by `indent`. */
void ztg_policy_behaviour_print(FILE *out, const struct ztg_policy_behaviour *b, const char *indent);

struct ztg_arena;
struct ztg_sig_set;

struct ztg_policy {
	uint32_t version;
	const char *name;
	const char *path;             /* the policy file as given to the loader */
	enum ztg_policy_mode mode;
	struct ztg_policy_defaults defaults;
	struct ztg_policy_segment *segments;
	uint32_t segment_count;
	struct ztg_policy_service *services;
	uint32_t service_count;
	struct ztg_policy_access *access;
	uint32_t access_count;
	struct ztg_policy_issuer *issuers;
	uint32_t issuer_count;
	struct ztg_policy_api_key *api_keys;
	uint32_t api_key_count;
	struct ztg_policy_key_fetch key_fetch;
	struct ztg_policy_behaviour behaviour;
	/* Signature rule sets (signatures.h), loaded from files next to the policy, in file order. */
	struct ztg_sig_set **signature_sets;
	struct ztg_policy_file *signature_files;
	uint32_t signature_set_count;
	/* Every scope and claim name routes require, once each, in first-use order: bit and slot numbers. */
	const char **scope_names;
	uint32_t scope_name_count;
	const char **claim_names;     /* "sub" never: it means the subject */
	uint32_t claim_name_count;
	struct ztg_policy_loc loc;    /* the policy file, line 0 */
	struct ztg_arena *arena;   /* private: owns everything above */
};

/*
 * Name <-> value. The *_name functions return "?" for a value out of range
 * and never NULL; the *_from_name functions return 0 and set *out, or -1 when
 * the name is unknown (matching is exact: names are lowercase, methods
 * uppercase as HTTP spells them). ztg_policy_method_from_name() accepts the
 * nine methods and "ANY" and returns the mask it stands for.
 * Defined in policy_load.c, with the loader that builds the model.
 */
const char *ztg_policy_mode_name(enum ztg_policy_mode mode);
int ztg_policy_mode_from_name(const char *name, enum ztg_policy_mode *out);
const char *ztg_policy_action_name(enum ztg_policy_action action);
int ztg_policy_action_from_name(const char *name, enum ztg_policy_action *out);
const char *ztg_policy_method_name(enum ztg_http_method method);
int ztg_policy_method_from_name(const char *name, uint16_t *mask);
const char *ztg_policy_rate_key_name(enum ztg_policy_rate_key key);
const char *ztg_policy_rate_action_name(enum ztg_policy_rate_action action);
/* A rate limit's period (1, 60, 3600 seconds) as the policy names it: "second", "minute", "hour". */
const char *ztg_policy_rate_period_name(uint32_t seconds);
/*
 * One rate limit as ztgatectl show and ztgatectl policy print it, without
 * location or newline: "rate limit NAME: per KEY[ (/P4, /P6)], RATE per
 * PERIOD, burst B; ACTION; MODE".
 */
void ztg_policy_rate_limit_print(FILE *out, const struct ztg_policy_rate_limit *l);

/*
 * Whether s[0..len) is a name as the policy language writes them (policy,
 * segment, service, route, issuer, rule set names; a bundle's header name):
 * 1 to ZTG_POLICY_NAME_MAX of A-Z a-z 0-9 _ . -. Inline: the bundle parser
 * (and its fuzz target) needs it without the loader.
 */
static inline bool ztg_policy_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > ZTG_POLICY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Frees a policy and everything it owns. NULL is a no-op. */
void ztg_policy_free(struct ztg_policy *policy);

#endif /* ZTG_POLICY_H */
