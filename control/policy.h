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
#include <stdint.h>

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

struct ztg_policy_route {
	const char *name;
	uint16_t methods;             /* ZTG_POLICY_METHOD_BIT()s, or ZTG_POLICY_METHODS_ANY */
	const char *path;             /* template text; starts with '/', no space, control, '?' or '#' */
	enum ztg_policy_action action;   /* allow, deny, reset or drop */
	enum ztg_policy_mode mode;    /* effective: the route's own, else its service's */
	bool mode_set;                /* the route said mode itself */
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

struct ztg_policy_arena;

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
	struct ztg_policy_loc loc;    /* the policy file, line 0 */
	struct ztg_policy_arena *arena;   /* private: owns everything above */
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

/* Frees a policy and everything it owns. NULL is a no-op. */
void ztg_policy_free(struct ztg_policy *policy);

#endif /* ZTG_POLICY_H */
