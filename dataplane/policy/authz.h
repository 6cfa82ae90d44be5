/*
 * Authorization: the runtime form of a policy (control/policy.h) and the two
 * decisions the dataplane takes with it.
 *
 *  - Per flow, at its first packet and before any layer-7 work: the source
 *    address's segment (rte_rib / rte_rib6) and the services listening on the
 *    destination address and port. A flow to no service is outside the
 *    policy. A flow to services none of which the source segment may reach
 *    is refused there (micro-segmentation).
 *  - Per request, when its head is complete: the service by Host among those
 *    candidates, the segment matrix again for that service, then exactly one
 *    route through the service's compiled matcher (route_match.h), and the
 *    route's action, or the policy's default when nothing allows it.
 *
 * Invariants: an authz is immutable once built and shared read-only by every
 * worker; it owns the policy it was built from (names and file:line for
 * events and explain). Destination candidates are every service with an
 * address prefix containing the longest prefix that matched: prefixes
 * holding one address are nested, so none is missed. The loader guarantees a
 * source is in at most one segment and a request reaches at most one
 * service; this module trusts that.
 *
 * Needs the EAL (rte_rib memory); ztgatectl initialises a minimal one.
 */
#ifndef ZTG_AUTHZ_H
#define ZTG_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../control/bundle.h"
#include "../../control/policy.h"
#include "../detect/detect.h"
#include "../route_labels.h"
#include "authn.h"
#include "behaviour.h"
#include "rate_limit.h"
#include "route_match.h"

#define ZTG_AUTHZ_NONE UINT32_MAX

/* What a flow's first packet decided; kept in the flow for its requests. */
struct ztg_authz_flow {
	uint32_t segment;              /* index into policy->segments, or ZTG_AUTHZ_NONE */
	uint32_t destination;          /* destination entry, or ZTG_AUTHZ_NONE: no service there */
	uint16_t port;                 /* the server's port */
	uint32_t generation;           /* of the authz that placed it: indexes are only valid there */
};

enum ztg_authz_flow_result {
	ZTG_AUTHZ_FLOW_UNPROTECTED = 0, /* no service at dst:port: outside the policy, passes */
	ZTG_AUTHZ_FLOW_ALLOWED,         /* a service the segment may reach: requests are judged one by one */
	ZTG_AUTHZ_FLOW_SEGMENT_DENIED,  /* services there, none reachable from the source's segment */
};

/* Reasons a request or flow decision gives; names are stable (events, explain, tests). */
#define ZTG_AUTHZ_REASONS(X)                                                         \
	X(ALLOWED,            "allowed")             /* an allow route */                \
	X(ROUTE_ACTION,       "route_action")        /* the route itself denies, resets, drops */ \
	X(NO_ROUTE,           "no_route")            /* no route of the service matches the path */ \
	X(METHOD_NOT_ALLOWED, "method_not_allowed")  /* routes match the path, none the method */ \
	X(UNKNOWN_HOST,       "unknown_host")        /* no service there answers to this Host */ \
	X(SEGMENT_DENIED,     "segment_denied")      /* the source's segment may not reach the service */

enum ztg_authz_reason {
#define ZTG_AUTHZ_REASON_ENUM(sym, name) ZTG_AUTHZ_##sym,
	ZTG_AUTHZ_REASONS(ZTG_AUTHZ_REASON_ENUM)
#undef ZTG_AUTHZ_REASON_ENUM
	ZTG_AUTHZ_REASON_COUNT
};

struct ztg_authz_decision {
	enum ztg_policy_action action; /* ALLOW, DENY, RESET or DROP */
	enum ztg_policy_mode mode;     /* MONITOR: log the action, then pass */
	enum ztg_authz_reason reason;
	uint32_t segment;              /* indexes into the policy, or ZTG_AUTHZ_NONE when not reached */
	uint32_t service;
	uint32_t route;                /* the route matched (METHOD_NOT_ALLOWED: the most specific one for the path) */
	struct ztg_route_match match;  /* captures, for the route */
};

struct ztg_authz;

/*
 * Build the runtime form of policy, which it takes over (freed with the
 * authz, or here on failure). compiled (may be NULL): the compiled-routes
 * records of its bundle (policy_compile.h), taken after checking them
 * against the policy; a service without one gets its matcher built here. generation must differ between authz objects
 * alive at once: it names their rte_rib tables and tells flows placed by
 * another policy. NULL on failure with err filled.
 */
struct ztg_authz *ztg_authz_build(struct ztg_policy *policy, const struct ztg_bundle_files *compiled, int socket_id,
				  uint32_t generation, char *err, size_t err_len);

uint32_t ztg_authz_generation(const struct ztg_authz *authz);

/*
 * Give every route of the policy, and every service for requests none of its
 * routes took, the slot its metrics are labelled with. Once, after the build
 * and before the policy is published. 0, or -1 when memory ran out (the
 * policy then counts everything under ZTG_ROUTE_LABEL_NONE).
 */
int ztg_authz_label_routes(struct ztg_authz *authz, struct ztg_route_labels *labels);

/* The label slot of (service, route) as a decision names them (ZTG_AUTHZ_NONE for either: none). */
uint32_t ztg_authz_label_slot(const struct ztg_authz *authz, uint32_t service, uint32_t route);

/* A rate limit of a route in force, in TSC units (rate_limit.h). */
struct ztg_authz_rate_limit {
	const struct ztg_policy_rate_limit *config;
	struct ztg_rate_params params;
	/*
	 * The limit's identity: service, route (none for one inherited from the
	 * service, so its routes share buckets) and name. A policy swap that
	 * keeps them keeps every caller's buckets.
	 */
	uint64_t scope;
};

/* The rate limits of (service, route): NULL and *count 0 when it has none. */
const struct ztg_authz_rate_limit *ztg_authz_rate_limits(const struct ztg_authz *authz, uint32_t service,
							 uint32_t route, uint32_t *count);

/*
 * The policy's behaviour section in TSC units (one set of parameters for
 * every kind of key: the figures each kind samples differ), or NULL when it
 * has none.
 */
const struct ztg_behaviour_params *ztg_authz_behaviour(const struct ztg_authz *authz);

/*
 * Route `route` of service `service` (both in range) as a hash of their
 * names: the same across policies that keep the names, so what is counted
 * per route (behaviour) outlives a swap.
 */
uint64_t ztg_authz_route_scope(const struct ztg_authz *authz, uint32_t service, uint32_t route);

/* The identity tables: issuers and their keys, API keys, route requirements. */
struct ztg_authn *ztg_authz_authn(const struct ztg_authz *authz);

/*
 * Compile (or take from compiled, a bundle's records) the policy's
 * signatures, with a Hyperscan scratch and `streams` body streams per
 * direction for each of workers. Before publishing; a policy without rule
 * sets gets none. 0, or -1 with err.
 */
int ztg_authz_attach_detect(struct ztg_authz *authz, const struct ztg_bundle_files *compiled, unsigned workers,
			    uint32_t streams, char *err, size_t err_len);

/* The signatures, or NULL. */
const struct ztg_detect *ztg_authz_detect(const struct ztg_authz *authz);

/* How many route matchers came compiled in the bundle (compiled above) rather than built here. */
uint32_t ztg_authz_shipped_matchers(const struct ztg_authz *authz);

void ztg_authz_free(struct ztg_authz *authz);

const struct ztg_policy *ztg_authz_policy(const struct ztg_authz *authz);

/* Bytes the runtime tables take (route matchers, candidate lists; the RIB nodes excluded). */
size_t ztg_authz_size(const struct ztg_authz *authz);

/*
 * Classify a flow from its first packet: addresses in network order (IPv4 in
 * the first 4 bytes), ip_version 4 or 6, the server's port in host order.
 */
enum ztg_authz_flow_result ztg_authz_classify_flow(const struct ztg_authz *authz, uint8_t ip_version,
						   const uint8_t *client, const uint8_t *server, uint16_t server_port,
						   struct ztg_authz_flow *out);

/* The policy's action for non-HTTP traffic to a protected address:port. */
enum ztg_policy_action ztg_authz_non_http_action(const struct ztg_authz *authz);

/* The mode a flow-level refusal runs in: the policy's, or monitor if every candidate service monitors. */
enum ztg_policy_mode ztg_authz_flow_mode(const struct ztg_authz *authz, const struct ztg_authz_flow *flow);

/*
 * Judge one request of an ALLOWED flow: host is the canonical Host (lowercase,
 * no port), path the canonical path, method an enum ztg_http_method.
 */
void ztg_authz_request(const struct ztg_authz *authz, const struct ztg_authz_flow *flow, const char *host,
		       size_t host_len, unsigned int method, const char *path, size_t path_len,
		       struct ztg_authz_decision *out);

const char *ztg_authz_reason_name(enum ztg_authz_reason reason);

/* A request as an operator describes it to explain. */
struct ztg_authz_explain_request {
	uint8_t ip_version;
	uint8_t client[16];            /* network order */
	uint8_t server[16];
	uint16_t port;
	const char *method;            /* as sent: "GET" */
	const char *target;            /* request-target: "/api/v1/orders/42?x=1" or absolute-form */
	const char *host;              /* Host header; NULL: the target's authority, else the server address */
	/* A whole request head (explain --request): its credentials are judged too. NULL: not. */
	const struct ztg_http_message *message;
	int64_t now;                   /* unix seconds, for token expiry */
	const struct ztg_revocation_set *revocations;
};

/*
 * Print the decision path for req step by step (segment, services at the
 * destination, access, service by Host, normalised path, route and captures,
 * verdict), with file:line of the policy elements, as text or one JSON
 * document; with a message, also who its credentials say sent it and
 * whether they meet the route (a worker without a cache). Uses the
 * functions the workers run. Returns the verdict's action.
 */
enum ztg_policy_action ztg_authz_explain(const struct ztg_authz *authz, const struct ztg_authz_explain_request *req,
					 bool json, FILE *out);

#endif
