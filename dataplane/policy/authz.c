#include "authz.h"

#include "../events.h"
#include "../hash.h"
#include "../http/http_normalize.h"
#include "policy_compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_rib.h>
#include <rte_rib6.h>

/* The services whose prefixes contain one destination prefix. */
struct destination {
	uint32_t first;                /* into candidates[] */
	uint32_t count;
};

struct ztg_authz {
	struct ztg_policy *policy;
	uint32_t generation;
	struct rte_rib *segments4;
	struct rte_rib6 *segments6;
	struct rte_rib *services4;
	struct rte_rib6 *services6;
	struct destination *destinations;
	uint32_t destination_count;
	uint32_t *candidates;
	uint32_t candidate_count;
	uint64_t *access;              /* one row of service bits per segment */
	uint32_t access_words;         /* 64-bit words per row */
	struct ztg_route_matcher **matchers;   /* per service */
	uint32_t shipped_matchers;             /* taken from the bundle as compiled */
	struct ztg_authn *authn;               /* who sent a request, and may it use its route */
	struct ztg_detect *detect;             /* signatures; NULL when the policy loads none */
	/* Metric label slots: per service, its routes' and then its own (requests no route took). */
	uint32_t **label_slots;
	/* Rate limits: per service, per route, the route's rate_limit_count of them (NULL: none). */
	struct ztg_authz_rate_limit ***rate_limits;
	struct ztg_behaviour_params behaviour;   /* in force when policy->behaviour.present */
	/* Per service, per route: its service and route names hashed (ztg_authz_route_scope). */
	uint64_t **route_scopes;
};

static const char *const reason_names[] = {
#define ZTG_AUTHZ_REASON_NAME(sym, name) [ZTG_AUTHZ_##sym] = name,
	ZTG_AUTHZ_REASONS(ZTG_AUTHZ_REASON_NAME)
#undef ZTG_AUTHZ_REASON_NAME
};

const char *ztg_authz_reason_name(enum ztg_authz_reason reason)
{
	return (unsigned int)reason < ZTG_AUTHZ_REASON_COUNT ? reason_names[reason] : "?";
}

const struct ztg_policy *ztg_authz_policy(const struct ztg_authz *authz)
{
	return authz->policy;
}

uint32_t ztg_authz_generation(const struct ztg_authz *authz)
{
	return authz->generation;
}

int ztg_authz_label_routes(struct ztg_authz *authz, struct ztg_route_labels *labels)
{
	const struct ztg_policy *p = authz->policy;

	authz->label_slots = calloc(p->service_count + 1, sizeof(*authz->label_slots));
	if (authz->label_slots == NULL)
		return -1;
	for (uint32_t s = 0; s < p->service_count; s++) {
		const struct ztg_policy_service *svc = &p->services[s];
		uint32_t *slots = calloc(svc->route_count + 1, sizeof(*slots));

		if (slots == NULL) {
			for (uint32_t done = 0; done < s; done++)
				free(authz->label_slots[done]);
			free(authz->label_slots);
			authz->label_slots = NULL;
			return -1;
		}
		authz->label_slots[s] = slots;
		for (uint32_t r = 0; r < svc->route_count; r++)
			slots[r] = ztg_route_labels_slot(labels, svc->name, svc->routes[r].name);
		slots[svc->route_count] = ztg_route_labels_slot(labels, svc->name, NULL);
	}
	return 0;
}

uint32_t ztg_authz_label_slot(const struct ztg_authz *authz, uint32_t service, uint32_t route)
{
	const struct ztg_policy *p = authz->policy;

	if (authz->label_slots == NULL || service == ZTG_AUTHZ_NONE || service >= p->service_count)
		return ZTG_ROUTE_LABEL_NONE;
	if (route == ZTG_AUTHZ_NONE || route >= p->services[service].route_count)
		route = p->services[service].route_count;
	return authz->label_slots[service][route];
}

struct ztg_authn *ztg_authz_authn(const struct ztg_authz *authz)
{
	return authz->authn;
}

int ztg_authz_attach_detect(struct ztg_authz *authz, const struct ztg_bundle_files *compiled, unsigned workers,
			    uint32_t streams, char *err, size_t err_len)
{
	bool none;

	authz->detect = ztg_detect_build(authz->policy, compiled, workers, streams, &none, err, err_len);
	return authz->detect != NULL || none ? 0 : -1;
}

const struct ztg_detect *ztg_authz_detect(const struct ztg_authz *authz)
{
	return authz->detect;
}

uint32_t ztg_authz_shipped_matchers(const struct ztg_authz *authz)
{
	return authz->shipped_matchers;
}

void ztg_authz_free(struct ztg_authz *authz)
{
	if (authz == NULL)
		return;
	ztg_authn_free(authz->authn);
	ztg_detect_free(authz->detect);
	rte_rib_free(authz->segments4);
	rte_rib6_free(authz->segments6);
	rte_rib_free(authz->services4);
	rte_rib6_free(authz->services6);
	if (authz->matchers != NULL) {
		for (uint32_t s = 0; s < authz->policy->service_count; s++)
			ztg_route_matcher_free(authz->matchers[s]);
	}
	free(authz->matchers);
	if (authz->rate_limits != NULL) {
		for (uint32_t s = 0; s < authz->policy->service_count; s++) {
			for (uint32_t r = 0; authz->rate_limits[s] != NULL && r < authz->policy->services[s].route_count; r++)
				free(authz->rate_limits[s][r]);
			free(authz->rate_limits[s]);
		}
		free(authz->rate_limits);
	}
	if (authz->label_slots != NULL) {
		for (uint32_t s = 0; s < authz->policy->service_count; s++)
			free(authz->label_slots[s]);
		free(authz->label_slots);
	}
	if (authz->route_scopes != NULL) {
		for (uint32_t s = 0; s < authz->policy->service_count; s++)
			free(authz->route_scopes[s]);
		free(authz->route_scopes);
	}
	free(authz->destinations);
	free(authz->candidates);
	free(authz->access);
	ztg_policy_free(authz->policy);
	free(authz);
}

size_t ztg_authz_size(const struct ztg_authz *authz)
{
	size_t size = sizeof(*authz) + authz->destination_count * sizeof(authz->destinations[0]) +
		      authz->candidate_count * sizeof(authz->candidates[0]) +
		      (size_t)authz->policy->segment_count * authz->access_words * sizeof(uint64_t);

	for (uint32_t s = 0; s < authz->policy->service_count; s++)
		size += ztg_route_matcher_size(authz->matchers[s]);
	return size;
}

static int fail(char *err, size_t err_len, const char *fmt, const char *a, const char *b)
{
	snprintf(err, err_len, fmt, a, b);
	return -1;
}

static inline uint32_t ipv4_host_order(const uint8_t *addr)
{
	return (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3];
}

/*
 * One longest-prefix table per family. rte_rib, not rte_lpm: these run once
 * per flow, not per packet, and rte_lpm's DIR-24-8 first level alone takes
 * 64 MiB per table, four per policy and up to three policies alive during a
 * swap; a RIB takes a few nodes per prefix.
 */
struct prefix_tables {
	struct rte_rib *v4;
	struct rte_rib6 *v6;
};

static int create_tables(struct prefix_tables *t, const char *kind, uint32_t tag, int socket_id, uint32_t v4,
			 uint32_t v6, char *err, size_t err_len)
{
	char name[32];
	/* Inserting a prefix adds at most two nodes (itself and a branching one). */
	struct rte_rib_conf c4 = {.max_nodes = (int)(2 * v4 + 2)};
	struct rte_rib6_conf c6 = {.max_nodes = (int)(2 * v6 + 2)};

	snprintf(name, sizeof(name), "ztg_%s4_%u", kind, tag);
	t->v4 = rte_rib_create(name, socket_id, &c4);
	snprintf(name, sizeof(name), "ztg_%s6_%u", kind, tag);
	t->v6 = rte_rib6_create(name, socket_id, &c6);
	if (t->v4 == NULL || t->v6 == NULL)
		return fail(err, err_len, "cannot create the %s address tables: %s", kind, rte_strerror(rte_errno));
	return 0;
}

static int add_prefix(struct prefix_tables *t, const struct ztg_cidr *c, uint32_t value)
{
	if (c->family == 4) {
		struct rte_rib_node *node = rte_rib_insert(t->v4, ipv4_host_order(c->addr), c->prefix_len);

		return node != NULL ? rte_rib_set_nh(node, value) : -1;
	}
	struct rte_rib6_node *node = rte_rib6_insert(t->v6, c->addr, c->prefix_len);

	return node != NULL ? rte_rib6_set_nh(node, value) : -1;
}

static bool lookup(const struct prefix_tables *t, uint8_t ip_version, const uint8_t *addr, uint32_t *value)
{
	uint64_t nh;

	if (ip_version == 4) {
		struct rte_rib_node *node = rte_rib_lookup(t->v4, ipv4_host_order(addr));

		if (node == NULL || rte_rib_get_nh(node, &nh) != 0)
			return false;
	} else {
		struct rte_rib6_node *node = rte_rib6_lookup(t->v6, addr);

		if (node == NULL || rte_rib6_get_nh(node, &nh) != 0)
			return false;
	}
	*value = (uint32_t)nh;
	return true;
}

/* outer contains inner: same family, shorter or equal prefix, same leading bits. */
static bool cidr_contains(const struct ztg_cidr *outer, const struct ztg_cidr *inner)
{
	unsigned int bits = outer->prefix_len, bytes = bits / 8;

	if (outer->family != inner->family || outer->prefix_len > inner->prefix_len)
		return false;
	if (memcmp(outer->addr, inner->addr, bytes) != 0)
		return false;
	if (bits % 8 == 0)
		return true;
	return ((outer->addr[bytes] ^ inner->addr[bytes]) & (uint8_t)(0xff << (8 - bits % 8))) == 0;
}

static int build_segments(struct ztg_authz *a, int socket_id, uint32_t tag, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;
	struct prefix_tables t;
	uint32_t v4 = 0, v6 = 0;

	for (uint32_t s = 0; s < p->segment_count; s++) {
		for (uint32_t i = 0; i < p->segments[s].address_count; i++) {
			if (p->segments[s].addresses[i].cidr.family == 4)
				v4++;
			else
				v6++;
		}
	}
	if (create_tables(&t, "seg", tag, socket_id, v4, v6, err, err_len) < 0)
		goto out;
	for (uint32_t s = 0; s < p->segment_count; s++) {
		for (uint32_t i = 0; i < p->segments[s].address_count; i++) {
			if (add_prefix(&t, &p->segments[s].addresses[i].cidr, s) != 0) {
				fail(err, err_len, "segment %s: cannot add an address prefix%s", p->segments[s].name, "");
				goto out;
			}
		}
	}
out:
	a->segments4 = t.v4;
	a->segments6 = t.v6;
	return err[0] ? -1 : 0;
}

/*
 * Every distinct service prefix becomes a destination whose candidates are
 * the services with a prefix containing it. The longest-prefix match of an
 * address is contained in every service prefix holding the address.
 */
static int build_destinations(struct ztg_authz *a, int socket_id, uint32_t tag, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;
	const struct ztg_cidr **prefixes;
	struct prefix_tables t = {0};
	uint32_t total = 0, distinct = 0, v4 = 0, v6 = 0;
	int rc = -1;

	for (uint32_t s = 0; s < p->service_count; s++)
		total += p->services[s].address_count;
	prefixes = calloc(total ? total : 1, sizeof(*prefixes));
	a->destinations = calloc(total ? total : 1, sizeof(*a->destinations));
	if (prefixes == NULL || a->destinations == NULL) {
		fail(err, err_len, "out of memory for %s%s", "destinations", "");
		goto out;
	}
	for (uint32_t s = 0; s < p->service_count; s++) {
		for (uint32_t i = 0; i < p->services[s].address_count; i++) {
			const struct ztg_cidr *c = &p->services[s].addresses[i].cidr;
			bool seen = false;

			for (uint32_t d = 0; d < distinct && !seen; d++)
				seen = prefixes[d]->family == c->family && prefixes[d]->prefix_len == c->prefix_len &&
				       memcmp(prefixes[d]->addr, c->addr, 16) == 0;
			if (!seen) {
				prefixes[distinct++] = c;
				c->family == 4 ? v4++ : v6++;
			}
		}
	}
	/* Candidates: at most every service per destination. */
	for (uint32_t d = 0; d < distinct; d++) {
		a->destinations[d].first = a->candidate_count;
		for (uint32_t s = 0; s < p->service_count; s++) {
			for (uint32_t i = 0; i < p->services[s].address_count; i++) {
				if (!cidr_contains(&p->services[s].addresses[i].cidr, prefixes[d]))
					continue;
				uint32_t *grown = realloc(a->candidates, (a->candidate_count + 1) * sizeof(*grown));

				if (grown == NULL) {
					fail(err, err_len, "out of memory for %s%s", "candidates", "");
					goto out;
				}
				a->candidates = grown;
				a->candidates[a->candidate_count++] = s;
				a->destinations[d].count++;
				break;
			}
		}
	}
	a->destination_count = distinct;
	if (create_tables(&t, "svc", tag, socket_id, v4, v6, err, err_len) < 0)
		goto out;
	for (uint32_t d = 0; d < distinct; d++) {
		if (add_prefix(&t, prefixes[d], d) != 0) {
			fail(err, err_len, "cannot add a service prefix%s%s", "", "");
			goto out;
		}
	}
	rc = 0;
out:
	a->services4 = t.v4;
	a->services6 = t.v6;
	free(prefixes);
	return rc;
}

static int build_access(struct ztg_authz *a, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;

	a->access_words = (p->service_count + 63) / 64;
	a->access = calloc((size_t)p->segment_count * a->access_words + 1, sizeof(uint64_t));
	if (a->access == NULL)
		return fail(err, err_len, "out of memory for the %s%s", "segment matrix", "");
	for (uint32_t i = 0; i < p->access_count; i++) {
		uint64_t *row = a->access + (size_t)p->access[i].from * a->access_words;

		for (uint32_t k = 0; k < p->access[i].to_count; k++)
			row[p->access[i].to[k] / 64] |= 1ull << (p->access[i].to[k] % 64);
	}
	return 0;
}

/* The matchers the bundle ships, checked against the policy; those it lacks are compiled here. */
static int build_matchers(struct ztg_authz *a, const struct ztg_bundle_files *compiled, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;

	a->matchers = calloc(p->service_count + 1, sizeof(*a->matchers));
	if (a->matchers == NULL)
		return fail(err, err_len, "out of memory for the %s%s", "route matchers", "");
	for (uint32_t s = 0; s < p->service_count; s++) {
		const struct ztg_policy_service *svc = &p->services[s];
		struct ztg_route_diag diag;
		bool present;

		a->matchers[s] = ztg_policy_compiled_routes(p, s, compiled, &present, err, err_len);
		if (present) {
			if (a->matchers[s] == NULL)
				return -1;
			a->shipped_matchers++;
			continue;
		}
		a->matchers[s] = ztg_policy_compile_routes(svc, &diag);
		if (a->matchers[s] == NULL) {
			const struct ztg_policy_loc *loc = diag.route_index < svc->route_count ?
								   &svc->routes[diag.route_index].loc : &svc->loc;

			snprintf(err, err_len, "%s:%u: service %s: %s", loc->file, loc->line, svc->name, diag.message);
			return -1;
		}
	}
	return 0;
}

static int build_rate_limits(struct ztg_authz *a, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;
	uint64_t tsc_hz = rte_get_tsc_hz();

	a->rate_limits = calloc(p->service_count + 1, sizeof(*a->rate_limits));
	if (a->rate_limits == NULL)
		goto nomem;
	for (uint32_t s = 0; s < p->service_count; s++) {
		const struct ztg_policy_service *svc = &p->services[s];

		a->rate_limits[s] = calloc(svc->route_count + 1, sizeof(*a->rate_limits[s]));
		if (a->rate_limits[s] == NULL)
			goto nomem;
		for (uint32_t r = 0; r < svc->route_count; r++) {
			const struct ztg_policy_route *route = &svc->routes[r];
			struct ztg_authz_rate_limit *limits;

			if (route->rate_limit_count == 0)
				continue;
			limits = calloc(route->rate_limit_count, sizeof(*limits));
			if (limits == NULL)
				goto nomem;
			a->rate_limits[s][r] = limits;
			for (uint32_t i = 0; i < route->rate_limit_count; i++) {
				const struct ztg_policy_rate_limit *l = &route->rate_limits[i];
				uint64_t scope = ztg_hash_fnv1a_string(ZTG_HASH_FNV1A_SEED, svc->name);

				limits[i].config = l;
				ztg_rate_params_init(&limits[i].params, l->rate, l->period, l->burst, tsc_hz);
				limits[i].scope = ztg_hash_fnv1a_string(
					ztg_hash_fnv1a_string(scope, l->from_service ? "" : route->name), l->name);
			}
		}
	}
	return 0;
nomem:
	snprintf(err, err_len, "out of memory for the rate limits");
	return -1;
}

const struct ztg_authz_rate_limit *ztg_authz_rate_limits(const struct ztg_authz *authz, uint32_t service,
							 uint32_t route, uint32_t *count)
{
	const struct ztg_authz_rate_limit *limits;

	*count = 0;
	if (authz->rate_limits == NULL || service >= authz->policy->service_count ||
	    route >= authz->policy->services[service].route_count)
		return NULL;
	limits = authz->rate_limits[service][route];
	if (limits != NULL)
		*count = authz->policy->services[service].routes[route].rate_limit_count;
	return limits;
}

/* Every route's names hashed once here, not at each request that counts under it. */
static int build_route_scopes(struct ztg_authz *a, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;

	a->route_scopes = calloc(p->service_count + 1, sizeof(*a->route_scopes));
	if (a->route_scopes == NULL)
		goto nomem;
	for (uint32_t s = 0; s < p->service_count; s++) {
		const struct ztg_policy_service *svc = &p->services[s];
		uint64_t service = ztg_hash_fnv1a_string(ZTG_HASH_FNV1A_SEED, svc->name);

		a->route_scopes[s] = calloc(svc->route_count + 1, sizeof(*a->route_scopes[s]));
		if (a->route_scopes[s] == NULL)
			goto nomem;
		for (uint32_t r = 0; r < svc->route_count; r++)
			a->route_scopes[s][r] = ztg_hash_fnv1a_string(service, svc->routes[r].name);
	}
	return 0;
nomem:
	snprintf(err, err_len, "out of memory for the route scopes");
	return -1;
}

uint64_t ztg_authz_route_scope(const struct ztg_authz *authz, uint32_t service, uint32_t route)
{
	return authz->route_scopes[service][route];
}

/* The loader's section in TSC units; floors judge requests, errors, objects and bytes, limits the signals. */
static void build_behaviour(struct ztg_authz *a)
{
	const struct ztg_policy_behaviour *b = &a->policy->behaviour;
	struct ztg_behaviour_params *p = &a->behaviour;
	uint64_t tsc_hz = rte_get_tsc_hz();

	if (!b->present)
		return;
	p->window = (uint64_t)b->window * tsc_hz;
	p->history = b->history;
	p->factor = b->factor;
	p->floor[ZTG_BEHAVIOUR_REQUESTS] = b->floors[ZTG_POLICY_FLOOR_REQUESTS];
	p->floor[ZTG_BEHAVIOUR_ERRORS] = b->floors[ZTG_POLICY_FLOOR_ERRORS];
	p->floor[ZTG_BEHAVIOUR_OBJECTS] = b->floors[ZTG_POLICY_FLOOR_OBJECTS];
	p->floor[ZTG_BEHAVIOUR_BYTES] = b->floors[ZTG_POLICY_FLOOR_BYTES];
	p->limit[ZTG_BEHAVIOUR_AUTH_FAILURES] = b->limits[ZTG_POLICY_SIGNAL_AUTH_FAILURES];
	p->limit[ZTG_BEHAVIOUR_SOURCES] = b->limits[ZTG_POLICY_SIGNAL_TOKEN_SOURCES];
	p->limit[ZTG_BEHAVIOUR_IDENTITIES] = b->limits[ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES];
	p->half_life = (uint64_t)b->half_life * tsc_hz;
}

const struct ztg_behaviour_params *ztg_authz_behaviour(const struct ztg_authz *authz)
{
	return authz->policy->behaviour.present ? &authz->behaviour : NULL;
}

struct ztg_authz *ztg_authz_build(struct ztg_policy *policy, const struct ztg_bundle_files *compiled, int socket_id,
				  uint32_t generation, char *err, size_t err_len)
{
	struct ztg_authz *a = calloc(1, sizeof(*a));

	err[0] = '\0';
	if (a == NULL) {
		ztg_policy_free(policy);
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	a->policy = policy;
	a->generation = generation;
	if (build_segments(a, socket_id, generation, err, err_len) < 0 ||
	    build_destinations(a, socket_id, generation, err, err_len) < 0 || build_access(a, err, err_len) < 0 ||
	    build_matchers(a, compiled, err, err_len) < 0 || build_rate_limits(a, err, err_len) < 0 ||
	    build_route_scopes(a, err, err_len) < 0 ||
	    (a->authn = ztg_authn_build(policy, a->matchers, generation, err, err_len)) == NULL) {
		ztg_authz_free(a);
		return NULL;
	}
	build_behaviour(a);
	return a;
}

static inline bool may_reach(const struct ztg_authz *a, uint32_t segment, uint32_t service)
{
	if (segment == ZTG_AUTHZ_NONE)
		return false;
	return a->access[(size_t)segment * a->access_words + service / 64] >> (service % 64) & 1;
}

static bool listens_on(const struct ztg_policy_service *svc, uint16_t port)
{
	uint32_t lo = 0, hi = svc->port_count;

	/* Ports are sorted by the loader. */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (svc->ports[mid] == port)
			return true;
		if (svc->ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

enum ztg_authz_flow_result ztg_authz_classify_flow(const struct ztg_authz *authz, uint8_t ip_version,
						   const uint8_t *client, const uint8_t *server, uint16_t server_port,
						   struct ztg_authz_flow *out)
{
	const struct prefix_tables segments = {authz->segments4, authz->segments6};
	const struct prefix_tables services = {authz->services4, authz->services6};
	const struct destination *d;
	bool protected = false;
	uint32_t value;

	out->segment = lookup(&segments, ip_version, client, &value) ? value : ZTG_AUTHZ_NONE;
	out->destination = ZTG_AUTHZ_NONE;
	out->port = server_port;
	out->generation = authz->generation;
	if (!lookup(&services, ip_version, server, &value))
		return ZTG_AUTHZ_FLOW_UNPROTECTED;
	d = &authz->destinations[value];
	for (uint32_t k = 0; k < d->count; k++) {
		uint32_t s = authz->candidates[d->first + k];

		if (!listens_on(&authz->policy->services[s], server_port))
			continue;
		protected = true;
		out->destination = value;
		if (may_reach(authz, out->segment, s))
			return ZTG_AUTHZ_FLOW_ALLOWED;
	}
	return protected ? ZTG_AUTHZ_FLOW_SEGMENT_DENIED : ZTG_AUTHZ_FLOW_UNPROTECTED;
}

enum ztg_policy_action ztg_authz_non_http_action(const struct ztg_authz *authz)
{
	return authz->policy->defaults.non_http;
}

enum ztg_policy_mode ztg_authz_flow_mode(const struct ztg_authz *authz, const struct ztg_authz_flow *flow)
{
	const struct destination *d;

	if (flow->destination == ZTG_AUTHZ_NONE)
		return authz->policy->mode;
	d = &authz->destinations[flow->destination];
	for (uint32_t k = 0; k < d->count; k++) {
		const struct ztg_policy_service *svc = &authz->policy->services[authz->candidates[d->first + k]];

		if (listens_on(svc, flow->port) && svc->mode == ZTG_POLICY_MODE_ENFORCE)
			return ZTG_POLICY_MODE_ENFORCE;
	}
	return ZTG_POLICY_MODE_MONITOR;
}

static bool host_matches(const struct ztg_policy_host *h, const char *host, size_t len)
{
	size_t plen = strlen(h->pattern);

	if (!h->wildcard)
		return plen == len && memcmp(h->pattern, host, len) == 0;
	/* "*.shop.test": at least one label before ".shop.test". */
	return len > plen - 1 && memcmp(host + len - (plen - 1), h->pattern + 1, plen - 1) == 0;
}

static uint32_t service_for_host(const struct ztg_authz *a, const struct ztg_authz_flow *flow, const char *host,
				 size_t len)
{
	const struct destination *d = &a->destinations[flow->destination];

	for (uint32_t k = 0; k < d->count; k++) {
		uint32_t s = a->candidates[d->first + k];
		const struct ztg_policy_service *svc = &a->policy->services[s];

		if (!listens_on(svc, flow->port))
			continue;
		for (uint32_t h = 0; h < svc->host_count; h++) {
			if (host_matches(&svc->hosts[h], host, len))
				return s;
		}
	}
	return ZTG_AUTHZ_NONE;
}

void ztg_authz_request(const struct ztg_authz *authz, const struct ztg_authz_flow *flow, const char *host,
		       size_t host_len, unsigned int method, const char *path, size_t path_len,
		       struct ztg_authz_decision *out)
{
	const struct ztg_policy *p = authz->policy;
	const struct ztg_policy_service *svc;

	memset(out, 0, sizeof(*out));
	out->segment = flow->segment;
	out->service = ZTG_AUTHZ_NONE;
	out->route = ZTG_AUTHZ_NONE;
	out->mode = p->mode;
	if (flow->destination == ZTG_AUTHZ_NONE ||
	    (out->service = service_for_host(authz, flow, host, host_len)) == ZTG_AUTHZ_NONE) {
		out->action = p->defaults.unknown_host;
		out->reason = ZTG_AUTHZ_UNKNOWN_HOST;
		out->mode = ztg_authz_flow_mode(authz, flow);
		return;
	}
	svc = &p->services[out->service];
	out->mode = svc->mode;
	out->action = p->defaults.action;
	if (!may_reach(authz, flow->segment, out->service)) {
		out->reason = ZTG_AUTHZ_SEGMENT_DENIED;
		return;
	}
	switch (ztg_route_matcher_match(authz->matchers[out->service], method, path, path_len, &out->match)) {
	case ZTG_ROUTE_MATCH:
		out->route = out->match.route_id;
		out->action = svc->routes[out->route].action;
		out->mode = svc->routes[out->route].mode;
		out->reason = out->action == ZTG_POLICY_ACTION_ALLOW ? ZTG_AUTHZ_ALLOWED : ZTG_AUTHZ_ROUTE_ACTION;
		return;
	case ZTG_ROUTE_METHOD_NOT_ALLOWED:
		out->route = out->match.route_id;
		out->reason = ZTG_AUTHZ_METHOD_NOT_ALLOWED;
		return;
	default:
		out->reason = ZTG_AUTHZ_NO_ROUTE;
		return;
	}
}

/* ------------------------------------------------------------------ explain */

static void explain_name(FILE *out, bool json, const char *key, const char *value)
{
	if (!json)
		return;
	fprintf(out, ",\"%s\":", key);
	ztg_events_write_string_or_null(out, value);
}

/*
 * explain --request: the request's credentials judged for the route it
 * matched, by a worker of its own without a cache. false when there is
 * nothing to judge (no message, not an allow route, an anonymous one).
 */
static bool judge_credentials(const struct ztg_authz *authz, const struct ztg_authz_explain_request *req,
			      const struct ztg_http_target_view *view, const struct ztg_authz_decision *d,
			      struct ztg_authn_result *out)
{
	struct ztg_authn_worker w;
	struct ztg_authn_request ar = {
		.msg = req->message,
		.target = view,
		.match = &d->match,
		.service = d->service,
		.route = d->route,
		.now = req->now,
	};

	if (req->message == NULL || d->action != ZTG_POLICY_ACTION_ALLOW || d->route == ZTG_AUTHZ_NONE ||
	    !ztg_authn_route_protected(authz->authn, d->service, d->route) || ztg_authn_worker_init(&w, 0) != 0)
		return false;
	ztg_authn_check(authz->authn, &w, req->revocations, &ar, out);
	ztg_authn_worker_release(&w);
	return true;
}

/* What the credentials said: who, and whether that identity may use the route. */
static void explain_credentials(FILE *out, bool json, const struct ztg_authn_result *r)
{
	const char *reason = ztg_authn_result_reason(r);

	if (json) {
		fprintf(out, ",\"credentials\":{\"reason\":");
		ztg_events_write_string(out, reason);
		fprintf(out, ",\"detail\":");
		ztg_events_write_string(out, r->detail);
		fprintf(out, ",\"verified\":%s,\"issuer\":", r->identified ? "true" : "false");
		ztg_events_write_string(out, r->issuer != NULL ? r->issuer : "");
		fprintf(out, ",\"subject\":");
		ztg_events_write_string(out, r->identified ? r->identity.subject : "");
		fprintf(out, ",\"kid\":");
		ztg_events_write_string(out, r->identified ? r->identity.kid : r->kid);
		fputc('}', out);
		return;
	}
	if (r->identified && r->identity.kind == ZTG_IDENTITY_API_KEY)
		fprintf(out, "   credentials: the API key %s, for %s", r->identity.kid, r->identity.subject);
	else if (r->identified)
		fprintf(out, "   credentials: a verified token of %s for %s, kid %s", r->issuer, r->identity.subject,
			r->identity.kid);
	else if (r->issuer != NULL)
		fprintf(out, "   credentials: a token of %s%s%s", r->issuer, r->kid[0] ? ", kid " : "", r->kid);
	else
		fprintf(out, "   credentials: %s", r->reason == ZTG_AUTHN_CREDENTIALS_MISSING ? "none" : "not usable");
	if (r->reason == ZTG_AUTHN_OK)
		fputs(": meet the route\n", out);
	else
		fprintf(out, ": refused, %s%s%s (%s)\n", reason, r->detail[0] ? " " : "", r->detail,
			ztg_authn_result_unauthenticated(r) ? "401" : "403");
}

/* What an allow route asks of the caller: step 7 of explain. */
static void explain_requirement(FILE *out, bool json, const struct ztg_policy *p, const struct ztg_policy_service *svc,
				const struct ztg_policy_route *r)
{
	const struct ztg_policy_requirement *q = &r->require;
	const struct ztg_policy_authentication *a = &svc->authentication;

	if (json) {
		fprintf(out, ",\"identity\":{\"anonymous\":%s,\"issuers\":[", q->anonymous ? "true" : "false");
		for (uint32_t i = 0; i < a->issuer_count; i++) {
			fprintf(out, "%s", i ? "," : "");
			ztg_events_write_string(out, p->issuers[a->issuers[i]].name);
		}
		fprintf(out, "],\"scopes_match\":\"%s\",\"scopes\":[", q->scopes_any ? "any" : "all");
		for (uint32_t i = 0; i < q->scope_count; i++) {
			fprintf(out, "%s", i ? "," : "");
			ztg_events_write_string(out, q->scopes[i]);
		}
		fprintf(out, "],\"claims\":{");
		for (uint32_t i = 0; i < q->claim_count; i++) {
			fprintf(out, "%s", i ? "," : "");
			ztg_events_write_string(out, q->claims[i].claim);
			fputc(':', out);
			ztg_events_write_string(out, q->claims[i].value);
		}
		fprintf(out, "},\"bind\":{");
		for (uint32_t i = 0; i < q->binding_count; i++) {
			fprintf(out, "%s", i ? "," : "");
			ztg_events_write_string(out, q->bindings[i].param);
			fputc(':', out);
			ztg_events_write_string(out, q->bindings[i].claim);
		}
		fprintf(out, "}}");
		return;
	}
	if (q->anonymous) {
		fprintf(out, "7. identity: none needed: the route allows anonymous callers (%s:%u)\n", r->loc.file,
			r->loc.line);
		return;
	}
	fprintf(out, "7. identity: required, from");
	for (uint32_t i = 0; i < a->issuer_count; i++)
		fprintf(out, "%s%s tokens", i ? ", " : " ", p->issuers[a->issuers[i]].name);
	if (a->api_key_header != NULL || a->api_key_query != NULL)
		fprintf(out, "%sAPI keys", a->issuer_count ? " or " : " ");
	for (uint32_t i = 0; i < q->scope_count; i++)
		fprintf(out, "%s%s", i ? ", " : (q->scopes_any ? "; any of scopes " : "; all of scopes "), q->scopes[i]);
	for (uint32_t i = 0; i < q->claim_count; i++)
		fprintf(out, "%s%s=%s", i ? ", " : "; claims ", q->claims[i].claim, q->claims[i].value);
	for (uint32_t i = 0; i < q->binding_count; i++)
		fprintf(out, "%s{%s} = claim %s", i ? ", " : "; object binding ", q->bindings[i].param,
			q->bindings[i].claim);
	fprintf(out, " (%s:%u)\n", q->loc.file, q->loc.line);
}

enum ztg_policy_action ztg_authz_explain(const struct ztg_authz *authz, const struct ztg_authz_explain_request *req,
					 bool json, FILE *out)
{
	const struct ztg_policy *p = authz->policy;
	struct ztg_authz_flow flow;
	struct ztg_authz_decision d = {.action = ZTG_POLICY_ACTION_ALLOW, .segment = ZTG_AUTHZ_NONE,
				       .service = ZTG_AUTHZ_NONE, .route = ZTG_AUTHZ_NONE, .mode = p->mode};
	struct ztg_http_target_view view;
	struct ztg_http_host host = {0};
	uint8_t target_buf[8192], host_buf[ZTG_HTTP_HOST_BUF_LEN];
	char client[INET6_ADDRSTRLEN], server[INET6_ADDRSTRLEN], host_text[ZTG_HTTP_HOST_BUF_LEN + 1] = "";
	char path[ZTG_ROUTE_MAX_PATH_LEN + 1] = "";
	enum ztg_authz_flow_result fr;
	enum ztg_http_normalize_error norm;
	const char *verdict_note = NULL;
	struct ztg_authn_result credentials;
	bool judged = false;
	uint32_t mask = 0;
	unsigned int method = 0;
	int af = req->ip_version == 4 ? AF_INET : AF_INET6;

	inet_ntop(af, req->client, client, sizeof(client));
	inet_ntop(af, req->server, server, sizeof(server));
	if (ztg_route_method_parse(req->method, strlen(req->method), &mask) == 0 && mask != ZTG_ROUTE_METHOD_ANY)
		method = (unsigned int)__builtin_ctz(mask);
	fr = ztg_authz_classify_flow(authz, req->ip_version, req->client, req->server, req->port, &flow);
	d.segment = flow.segment;
	if (json)
		fprintf(out, "{\"policy\":");
	if (json) {
		ztg_events_write_string(out, p->name);
		fprintf(out, ",\"client\":\"%s\",\"server\":\"%s\",\"port\":%u", client, server, req->port);
	} else {
		fprintf(out, "policy \"%s\" (%s), generation %u\n", p->name, ztg_policy_mode_name(p->mode),
			authz->generation);
	}
	/* 1. segment */
	if (!json) {
		if (flow.segment == ZTG_AUTHZ_NONE)
			fprintf(out, "1. source %s: in no segment\n", client);
		else
			fprintf(out, "1. source %s: segment %s (%s:%u)\n", client, p->segments[flow.segment].name,
				p->segments[flow.segment].loc.file, p->segments[flow.segment].loc.line);
	}
	explain_name(out, json, "segment", flow.segment == ZTG_AUTHZ_NONE ? NULL : p->segments[flow.segment].name);
	/* 2. destination */
	if (fr == ZTG_AUTHZ_FLOW_UNPROTECTED) {
		if (!json)
			fprintf(out, "2. destination %s port %u: no service listens there: outside the policy, "
				"forwarded uninspected by it\n", server, req->port);
		verdict_note = "unprotected";
		goto verdict;
	}
	if (!json) {
		const struct destination *dest = &authz->destinations[flow.destination];

		fprintf(out, "2. destination %s port %u: services", server, req->port);
		for (uint32_t k = 0; k < dest->count; k++) {
			const struct ztg_policy_service *svc = &p->services[authz->candidates[dest->first + k]];

			if (listens_on(svc, req->port))
				fprintf(out, " %s (%s:%u)", svc->name, svc->loc.file, svc->loc.line);
		}
		fputc('\n', out);
	}
	if (fr == ZTG_AUTHZ_FLOW_SEGMENT_DENIED) {
		if (!json)
			fprintf(out, "3. access: no entry lets %s reach them: the connection is refused at its first "
				"packet, before any HTTP\n", flow.segment == ZTG_AUTHZ_NONE ? "a source in no segment" :
				p->segments[flow.segment].name);
		d.action = ZTG_POLICY_ACTION_DROP;
		d.reason = ZTG_AUTHZ_SEGMENT_DENIED;
		d.mode = ztg_authz_flow_mode(authz, &flow);
		goto verdict;
	}
	if (!json)
		fprintf(out, "3. access: %s may reach a service there\n", p->segments[flow.segment].name);
	/* 4. the request */
	norm = ztg_http_normalize_target((const uint8_t *)req->target, (uint32_t)strlen(req->target), target_buf,
					 sizeof(target_buf), &view);
	if (norm != ZTG_HTTP_NORM_OK) {
		if (!json)
			fprintf(out, "4. target %s: refused by the HTTP layer (%s): denied before the policy\n",
				req->target, ztg_http_normalize_error_name(norm));
		d.action = ZTG_POLICY_ACTION_DENY;
		verdict_note = ztg_http_normalize_error_name(norm);
		goto verdict;
	}
	snprintf(path, sizeof(path), "%.*s", (int)view.path.len, (const char *)view.path.ptr);
	{
		struct ztg_http_slice h = view.authority.len ? view.authority :
			(struct ztg_http_slice){.ptr = (const uint8_t *)(req->host ? req->host : server),
						.len = (uint32_t)strlen(req->host ? req->host : server)};
		char bracketed[INET6_ADDRSTRLEN + 2];

		/* Clients that call an IPv6 address by address send it bracketed. */
		if (view.authority.len == 0 && req->host == NULL && req->ip_version == 6) {
			snprintf(bracketed, sizeof(bracketed), "[%s]", server);
			h = (struct ztg_http_slice){.ptr = (const uint8_t *)bracketed, .len = (uint32_t)strlen(bracketed)};
		}
		if (ztg_http_host_without_port(h, host_buf, sizeof(host_buf), &host) == ZTG_HTTP_NORM_OK)
			snprintf(host_text, sizeof(host_text), "%.*s", (int)host.name.len, (const char *)host.name.ptr);
	}
	ztg_authz_request(authz, &flow, host_text, strlen(host_text), method, path, strlen(path), &d);
	judged = judge_credentials(authz, req, &view, &d, &credentials);
	if (judged && credentials.reason != ZTG_AUTHN_OK) {
		d.action = ZTG_POLICY_ACTION_DENY;
		verdict_note = ztg_authn_result_reason(&credentials);
	}
	if (!json) {
		fprintf(out, "4. request %s %s: Host %s, path %s%s\n", req->method, req->target,
			host_text[0] ? host_text : "(none)", path,
			method == 0 ? " (a method outside the list: only ANY routes match it)" : "");
		if (d.service == ZTG_AUTHZ_NONE) {
			fprintf(out, "5. service: no service listening there answers to Host %s\n", host_text);
		} else {
			const struct ztg_policy_service *svc = &p->services[d.service];

			fprintf(out, "5. service %s (%s:%u, %s)\n", svc->name, svc->loc.file, svc->loc.line,
				ztg_policy_mode_name(svc->mode));
			if (d.reason == ZTG_AUTHZ_SEGMENT_DENIED) {
				fprintf(out, "6. access: %s may not reach %s\n", p->segments[flow.segment].name, svc->name);
			} else if (d.route == ZTG_AUTHZ_NONE) {
				fprintf(out, "6. route: none of the %u routes matches %s\n", svc->route_count, path);
			} else {
				const struct ztg_policy_route *r = &svc->routes[d.route];
				char allowed[128] = "";

				ztg_route_methods_format(d.match.allowed, allowed, sizeof(allowed));
				fprintf(out, "6. route %s: %s %s (%s:%u)", r->name, allowed, r->path, r->loc.file, r->loc.line);
				for (uint32_t c = 0; c < d.match.param_count; c++)
					fprintf(out, "%s%s=%.*s", c ? ", " : " with ",
						ztg_route_matcher_param_name(authz->matchers[d.service], d.match.route_index, c),
						(int)d.match.params[c].len, path + d.match.params[c].off);
				if (d.reason == ZTG_AUTHZ_METHOD_NOT_ALLOWED)
					fprintf(out, ": matches the path, but %s is not among %s", req->method, allowed);
				fputc('\n', out);
				if (r->action == ZTG_POLICY_ACTION_ALLOW && d.reason == ZTG_AUTHZ_ALLOWED) {
					explain_requirement(out, false, p, svc, r);
					if (judged)
						explain_credentials(out, false, &credentials);
				}
			}
		}
	} else {
		fprintf(out, ",\"host\":");
		ztg_events_write_string(out, host_text);
		fprintf(out, ",\"path\":");
		ztg_events_write_string(out, path);
		explain_name(out, json, "service", d.service == ZTG_AUTHZ_NONE ? NULL : p->services[d.service].name);
		explain_name(out, json, "route", d.route == ZTG_AUTHZ_NONE ? NULL :
			     p->services[d.service].routes[d.route].name);
		fprintf(out, ",\"captures\":{");
		for (uint32_t c = 0; d.route != ZTG_AUTHZ_NONE && c < d.match.param_count; c++) {
			char value[ZTG_ROUTE_MAX_PATH_LEN + 1];

			fprintf(out, "%s", c ? "," : "");
			ztg_events_write_string(out, ztg_route_matcher_param_name(authz->matchers[d.service], d.match.route_index, c));
			snprintf(value, sizeof(value), "%.*s", (int)d.match.params[c].len, path + d.match.params[c].off);
			fputc(':', out);
			ztg_events_write_string(out, value);
		}
		fputc('}', out);
		if (d.route != ZTG_AUTHZ_NONE && d.reason == ZTG_AUTHZ_ALLOWED)
			explain_requirement(out, true, p, &p->services[d.service], &p->services[d.service].routes[d.route]);
		if (judged)
			explain_credentials(out, true, &credentials);
	}
verdict:
	if (json) {
		fprintf(out, ",\"action\":\"%s\",\"mode\":\"%s\",\"reason\":", ztg_policy_action_name(d.action),
			ztg_policy_mode_name(d.mode));
		ztg_events_write_string(out, verdict_note ? verdict_note : ztg_authz_reason_name(d.reason));
		fprintf(out, "}\n");
	} else if (verdict_note != NULL && strcmp(verdict_note, "unprotected") == 0) {
		fprintf(out, "verdict: pass (no service there)\n");
	} else {
		bool needs_identity = !judged && d.action == ZTG_POLICY_ACTION_ALLOW && d.route != ZTG_AUTHZ_NONE &&
				      ztg_authn_route_protected(authz->authn, d.service, d.route);

		fprintf(out, "verdict: %s (%s)%s%s\n", ztg_policy_action_name(d.action),
			verdict_note ? verdict_note : ztg_authz_reason_name(d.reason),
			d.mode == ZTG_POLICY_MODE_MONITOR && d.action != ZTG_POLICY_ACTION_ALLOW ?
				", monitor mode: logged, then passed" : "",
			needs_identity ? ", for a caller whose credentials meet step 7" : "");
	}
	return d.action;
}
