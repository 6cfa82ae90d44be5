#include "authn.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../auth/api_key.h"

#define SUBJECT_SLOT (-1)    /* a claim or binding naming "sub": the identity's subject */

struct claim_check {
	int16_t slot;            /* into ztg_identity.claims, or SUBJECT_SLOT */
	const char *name;
	const char *value;
	size_t value_len;
};

struct binding_check {
	uint32_t param;          /* index of the {param} in the route's template */
	int16_t slot;
	const char *param_name;
};

struct route_requirement {
	bool protected;          /* an allow route that is not anonymous */
	bool scopes_any;
	uint64_t scopes;         /* bits over names.scopes */
	uint32_t claim_count;
	uint32_t binding_count;
	struct claim_check claims[ZTG_POLICY_MAX_REQUIRE_ITEMS];
	struct binding_check bindings[ZTG_POLICY_MAX_REQUIRE_ITEMS];
};

struct service_auth {
	const struct ztg_policy_authentication *config;
	uint64_t *accept;        /* issuer bitmap: authn->accept_words words */
	size_t scheme_len;
	size_t query_len;              /* 0: no such parameter */
	size_t api_key_query_len;
	struct route_requirement *routes;
};

struct ztg_authn {
	const struct ztg_policy *policy;
	uint32_t generation;
	_Atomic uint32_t key_epoch;
	struct ztg_auth_names names;
	struct ztg_jwt_issuer *issuers;
	uint32_t issuer_count;
	struct ztg_jwt_table *table;
	uint32_t accept_words;
	struct ztg_api_keys *api_keys;
	struct ztg_identity *api_key_identities;
	struct service_auth *services;
};

static const char *const reason_names[] = {
#define ZTG_AUTHN_REASON_NAME(sym, name) [ZTG_AUTHN_##sym] = name,
	ZTG_AUTHN_REASONS(ZTG_AUTHN_REASON_NAME)
#undef ZTG_AUTHN_REASON_NAME
};

const char *ztg_authn_result_reason(const struct ztg_authn_result *r)
{
	if (r->reason == ZTG_AUTHN_TOKEN)
		return ztg_jwt_reason_name(r->jwt);
	return (unsigned int)r->reason < ZTG_AUTHN_REASON_COUNT ? reason_names[r->reason] : "?";
}

const char *ztg_authn_result_issuer(const struct ztg_authn_result *r)
{
	return r->issuer != NULL ? r->issuer : "";
}

bool ztg_authn_result_unauthenticated(const struct ztg_authn_result *r)
{
	switch (r->reason) {
	case ZTG_AUTHN_CREDENTIALS_MISSING:
	case ZTG_AUTHN_CREDENTIALS_CONFLICT:
	case ZTG_AUTHN_CREDENTIALS_MALFORMED:
	case ZTG_AUTHN_TOKEN:
	case ZTG_AUTHN_API_KEY_UNKNOWN:
	case ZTG_AUTHN_REVOKED:
		return true;
	default:
		return false;
	}
}

static int slot_of(const struct ztg_auth_names *names, const char *claim)
{
	if (strcmp(claim, "sub") == 0)
		return SUBJECT_SLOT;
	for (uint32_t i = 0; i < names->claim_count; i++) {
		if (strcmp(names->claims[i], claim) == 0)
			return (int)i;
	}
	return -2;
}

static uint64_t scope_bit(const struct ztg_auth_names *names, const char *scope)
{
	for (uint32_t i = 0; i < names->scope_count; i++) {
		if (strcmp(names->scopes[i], scope) == 0)
			return 1ull << i;
	}
	return 0;
}

void ztg_authn_free(struct ztg_authn *authn)
{
	if (authn == NULL)
		return;
	for (uint32_t i = 0; i < authn->issuer_count; i++)
		ztg_keyset_free(atomic_load(&authn->issuers[i].keys));
	ztg_jwt_table_free(authn->table);
	ztg_api_keys_free(authn->api_keys);
	free(authn->api_key_identities);
	if (authn->services != NULL) {
		for (uint32_t s = 0; s < authn->policy->service_count; s++) {
			free(authn->services[s].accept);
			free(authn->services[s].routes);
		}
	}
	free(authn->services);
	free(authn->issuers);
	free(authn);
}

static int fail(struct ztg_authn *a, char *err, size_t err_len, const char *what)
{
	if (err[0] == '\0')
		snprintf(err, err_len, "%s", what);
	ztg_authn_free(a);
	return -1;
}

static struct ztg_keyset *file_keys(const struct ztg_policy_issuer *is, char *err, size_t err_len)
{
	struct ztg_keyset *set = NULL;
	char why[256];

	if (is->has_jwks_file &&
	    ztg_keyset_from_jwks((const char *)is->jwks_file.data, is->jwks_file.len, &set, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "%s:%u: issuer %s: %s: %s", is->jwks_file.loc.file, is->jwks_file.loc.line,
			 is->name, is->jwks_file.name, why);
		return NULL;
	}
	for (uint32_t k = 0; k < is->pem_key_count; k++) {
		const struct ztg_policy_pem_key *pk = &is->pem_keys[k];

		if (ztg_keyset_add_pem(&set, (const char *)pk->file.data, pk->file.len, pk->kid, why, sizeof(why)) != 0) {
			snprintf(err, err_len, "%s:%u: issuer %s: %s: %s", pk->file.loc.file, pk->file.loc.line, is->name,
				 pk->file.name, why);
			ztg_keyset_free(set);
			return NULL;
		}
	}
	return set;
}

static int build_issuers(struct ztg_authn *a, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;

	a->issuers = calloc(p->issuer_count + 1, sizeof(*a->issuers));
	if (a->issuers == NULL)
		return -1;
	a->issuer_count = p->issuer_count;
	for (uint32_t i = 0; i < p->issuer_count; i++) {
		const struct ztg_policy_issuer *is = &p->issuers[i];
		struct ztg_jwt_issuer *j = &a->issuers[i];
		struct ztg_keyset *keys = NULL;

		j->name = is->name;
		j->iss = is->iss;
		j->algs = is->algorithms;
		j->audiences = is->audiences;
		j->audience_count = is->audience_count;
		j->leeway = is->leeway;
		j->max_token_bytes = is->max_token_bytes;
		j->typ = is->typ;
		j->required_claims = is->required_claims;
		j->required_count = is->required_claim_count;
		j->identity_claim = is->identity_claim;
		j->scope_claim = is->scope_claim;
		if (is->jwks_url == NULL && (keys = file_keys(is, err, err_len)) == NULL)
			return -1;
		atomic_init(&j->keys, keys);
		atomic_init(&j->unknown_kid, false);
	}
	a->table = ztg_jwt_table_build(a->issuers, a->issuer_count, err, err_len);
	return a->table == NULL ? -1 : 0;
}

static int build_api_keys(struct ztg_authn *a, char *err, size_t err_len)
{
	const struct ztg_policy *p = a->policy;
	uint8_t (*digests)[32];

	if (p->api_key_count == 0)
		return 0;
	digests = calloc(p->api_key_count, sizeof(*digests));
	a->api_key_identities = calloc(p->api_key_count, sizeof(*a->api_key_identities));
	if (digests == NULL || a->api_key_identities == NULL) {
		free(digests);
		return -1;
	}
	for (uint32_t k = 0; k < p->api_key_count; k++) {
		const struct ztg_policy_api_key *key = &p->api_keys[k];
		struct ztg_identity *id = &a->api_key_identities[k];

		memcpy(digests[k], key->sha256, 32);
		id->kind = ZTG_IDENTITY_API_KEY;
		id->issuer = (uint16_t)k;
		id->expires = INT64_MAX;
		id->subject_len = (uint8_t)snprintf(id->subject, sizeof(id->subject), "%s", key->subject);
		id->kid_len = (uint8_t)snprintf(id->kid, sizeof(id->kid), "%s", key->id);
		for (uint32_t i = 0; i < key->scope_count; i++)
			id->scopes |= scope_bit(&a->names, key->scopes[i]);
		for (uint32_t i = 0; i < key->claim_count; i++) {
			int slot = slot_of(&a->names, key->claims[i].claim);

			if (slot < 0)
				continue;
			id->claims_present |= (uint8_t)(1u << slot);
			id->claim_len[slot] = (uint8_t)snprintf(id->claims[slot], sizeof(id->claims[slot]), "%s",
								key->claims[i].value);
		}
	}
	a->api_keys = ztg_api_keys_build((const uint8_t(*)[32])digests, p->api_key_count, err, err_len);
	free(digests);
	return a->api_keys == NULL ? -1 : 0;
}

static int compile_requirement(struct ztg_authn *a, const struct ztg_route_matcher *m, uint32_t r,
			       const struct ztg_policy_route *route, struct route_requirement *out, char *err,
			       size_t err_len)
{
	const struct ztg_policy_requirement *q = &route->require;

	out->protected = route->action == ZTG_POLICY_ACTION_ALLOW && !q->anonymous;
	out->scopes_any = q->scopes_any;
	for (uint32_t i = 0; i < q->scope_count; i++)
		out->scopes |= scope_bit(&a->names, q->scopes[i]);
	for (uint32_t i = 0; i < q->claim_count; i++) {
		struct claim_check *c = &out->claims[out->claim_count++];

		c->slot = (int16_t)slot_of(&a->names, q->claims[i].claim);
		c->name = q->claims[i].claim;
		c->value = q->claims[i].value;
		c->value_len = strlen(c->value);
	}
	for (uint32_t i = 0; i < q->binding_count; i++) {
		struct binding_check *b = &out->bindings[out->binding_count];
		const char *name;
		uint32_t param;

		for (param = 0; (name = ztg_route_matcher_param_name(m, r, param)) != NULL; param++) {
			if (strcmp(name, q->bindings[i].param) == 0)
				break;
		}
		if (name == NULL) {
			snprintf(err, err_len, "%s:%u: route %s: no {%s} in its compiled template", q->bindings[i].loc.file,
				 q->bindings[i].loc.line, route->name, q->bindings[i].param);
			return -1;
		}
		b->param = param;
		b->slot = (int16_t)slot_of(&a->names, q->bindings[i].claim);
		b->param_name = q->bindings[i].param;
		out->binding_count++;
	}
	return 0;
}

static int build_services(struct ztg_authn *a, struct ztg_route_matcher *const *matchers, char *err,
			  size_t err_len)
{
	const struct ztg_policy *p = a->policy;

	a->accept_words = (p->issuer_count + 63) / 64 + 1;
	a->services = calloc(p->service_count + 1, sizeof(*a->services));
	if (a->services == NULL)
		return -1;
	for (uint32_t s = 0; s < p->service_count; s++) {
		const struct ztg_policy_service *svc = &p->services[s];
		struct service_auth *sa = &a->services[s];

		sa->config = &svc->authentication;
		sa->scheme_len = strlen(svc->authentication.scheme);
		sa->query_len = svc->authentication.query != NULL ? strlen(svc->authentication.query) : 0;
		sa->api_key_query_len = svc->authentication.api_key_query != NULL ?
						strlen(svc->authentication.api_key_query) : 0;
		sa->accept = calloc(a->accept_words, sizeof(uint64_t));
		sa->routes = calloc(svc->route_count + 1, sizeof(*sa->routes));
		if (sa->accept == NULL || sa->routes == NULL)
			return -1;
		for (uint32_t i = 0; i < svc->authentication.issuer_count; i++) {
			uint32_t idx = svc->authentication.issuers[i];

			sa->accept[idx / 64] |= 1ull << (idx % 64);
		}
		for (uint32_t r = 0; r < svc->route_count; r++) {
			if (compile_requirement(a, matchers[s], r, &svc->routes[r], &sa->routes[r], err, err_len) < 0)
				return -1;
		}
	}
	return 0;
}

struct ztg_authn *ztg_authn_build(const struct ztg_policy *p, struct ztg_route_matcher *const *matchers,
				  uint32_t generation, char *err, size_t err_len)
{
	struct ztg_authn *a = calloc(1, sizeof(*a));

	err[0] = '\0';
	if (a == NULL) {
		snprintf(err, err_len, "out of memory for the identity tables");
		return NULL;
	}
	a->policy = p;
	a->generation = generation;
	atomic_init(&a->key_epoch, 0);
	for (uint32_t i = 0; i < p->scope_name_count && i < ZTG_AUTH_MAX_SCOPES; i++)
		a->names.scopes[a->names.scope_count++] = p->scope_names[i];
	for (uint32_t i = 0; i < p->claim_name_count && i < ZTG_IDENTITY_MAX_CLAIMS; i++)
		a->names.claims[a->names.claim_count++] = p->claim_names[i];
	if (build_issuers(a, err, err_len) < 0 || build_api_keys(a, err, err_len) < 0 ||
	    build_services(a, matchers, err, err_len) < 0) {
		fail(a, err, err_len, "out of memory for the identity tables");
		return NULL;
	}
	return a;
}

bool ztg_authn_route_protected(const struct ztg_authn *authn, uint32_t service, uint32_t route)
{
	return authn->services[service].routes[route].protected;
}

struct ztg_jwt_table *ztg_authn_issuers(const struct ztg_authn *authn)
{
	return authn->table;
}

struct ztg_keyset *ztg_authn_replace_keys(struct ztg_authn *authn, uint32_t issuer, struct ztg_keyset *keys)
{
	struct ztg_keyset *old = atomic_exchange_explicit(&authn->issuers[issuer].keys, keys, memory_order_acq_rel);

	/* After the store: a worker that sees the new epoch also sees the new keys. */
	atomic_fetch_add_explicit(&authn->key_epoch, 1, memory_order_release);
	return old;
}

int ztg_authn_worker_init(struct ztg_authn_worker *w, uint32_t cache_entries)
{
	memset(w, 0, sizeof(*w));
	w->scratch = ztg_jwt_scratch_create();
	if (w->scratch == NULL)
		return -1;
	if (cache_entries > 0 && (w->cache = ztg_token_cache_create(cache_entries)) == NULL) {
		ztg_jwt_scratch_free(w->scratch);
		w->scratch = NULL;
		return -1;
	}
	return 0;
}

void ztg_authn_worker_release(struct ztg_authn_worker *w)
{
	ztg_token_cache_free(w->cache);
	ztg_jwt_scratch_free(w->scratch);
	memset(w, 0, sizeof(*w));
}

/* What the request carries, each at most once. */
struct credentials {
	const char *token;
	size_t token_len;
	const char *key;
	size_t key_len;
	const char *malformed;     /* where a credential is there but unusable (the result's detail), or NULL */
	bool conflict;
};

static bool slice_equals(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Keep one credential; a second, different one of the same kind is a conflict. */
static void keep(const char **slot, size_t *slot_len, const char *v, size_t len, bool *conflict)
{
	if (*slot != NULL && !slice_equals(*slot, *slot_len, v, len))
		*conflict = true;
	else
		*slot = v, *slot_len = len;
}

/*
 * An API key from where (the header or parameter name). Empty or longer than
 * any key can be is malformed, as a bad token header is: the same refusal
 * wherever the key sits, instead of unknown in a header and missing in a
 * valueless query parameter.
 */
static void keep_key(struct credentials *c, const char *where, const char *v, size_t len)
{
	if (len == 0 || len > ZTG_API_KEY_MAX_BYTES)
		c->malformed = where;
	else
		keep(&c->key, &c->key_len, v, len, &c->conflict);
}

/* "<scheme> <token>": the token, or NULL when the value does not have that form. */
static const char *bearer_token(const struct service_auth *sa, const char *v, size_t len, size_t *token_len)
{
	size_t i = sa->scheme_len;

	if (sa->scheme_len > 0) {
		if (len <= i || strncasecmp(v, sa->config->scheme, i) != 0 || (v[i] != ' ' && v[i] != '\t'))
			return NULL;
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
	}
	if (i == len || memchr(v + i, ' ', len - i) != NULL || memchr(v + i, '\t', len - i) != NULL)
		return NULL;
	*token_len = len - i;
	return v + i;
}

static void find_credentials(const struct service_auth *sa, const struct ztg_authn_request *req,
			     struct credentials *c)
{
	const struct ztg_policy_authentication *cfg = sa->config;
	const struct ztg_http_message *msg = req->msg;
	bool tokens = cfg->issuer_count > 0;

	memset(c, 0, sizeof(*c));
	for (uint32_t h = 0; h < msg->header_count; h++) {
		const struct ztg_http_header *hd = &msg->headers[h];
		const char *v = (const char *)hd->value.ptr;

		/* Header names in the policy are lowercase (the loader's doing). */
		if (tokens && ztg_http_header_name_equal(hd->name, cfg->header)) {
			const char *t;
			size_t tlen;

			t = bearer_token(sa, v, hd->value.len, &tlen);
			if (t == NULL)
				c->malformed = cfg->header;
			else
				keep(&c->token, &c->token_len, t, tlen, &c->conflict);
		} else if (cfg->api_key_header != NULL && ztg_http_header_name_equal(hd->name, cfg->api_key_header)) {
			keep_key(c, cfg->api_key_header, v, hd->value.len);
		}
	}
	for (uint32_t i = 0; req->target != NULL && i < req->target->param_count; i++) {
		const struct ztg_http_query_param *qp = &req->target->params[i];
		const char *name = (const char *)qp->name.ptr, *v = (const char *)qp->value.ptr;

		if (tokens && sa->query_len > 0 && slice_equals(name, qp->name.len, cfg->query, sa->query_len)) {
			/*
			 * "?access_token" and "?access_token=" name a token without one: not absent (a
			 * NULL value would otherwise be skipped) and not for the verifier to call a JWT.
			 */
			if (qp->value.len == 0)
				c->malformed = cfg->query;
			else
				keep(&c->token, &c->token_len, v, qp->value.len, &c->conflict);
		} else if (sa->api_key_query_len > 0 &&
			   slice_equals(name, qp->name.len, cfg->api_key_query, sa->api_key_query_len)) {
			keep_key(c, cfg->api_key_query, v, qp->value.len);
		}
	}
	/* A token and a key at once: which one would the server believe? */
	if (c->token != NULL && c->key != NULL)
		c->conflict = true;
}

static bool refuse(struct ztg_authn_result *out, enum ztg_authn_reason reason, const char *detail)
{
	out->reason = reason;
	snprintf(out->detail, sizeof(out->detail), "%s", detail != NULL ? detail : "");
	return false;
}

static bool verify_token(const struct ztg_authn *a, struct ztg_authn_worker *w, const struct service_auth *sa,
			 const struct ztg_authn_request *req, const struct credentials *c, struct ztg_authn_result *out)
{
	uint64_t epoch = (uint64_t)a->generation << 32 |
			 atomic_load_explicit(&a->key_epoch, memory_order_acquire);
	uint64_t hash = ztg_token_cache_hash(c->token, c->token_len);
	struct ztg_jwt_failure why;
	enum ztg_jwt_reason jr;

	if (w->cache != NULL &&
	    ztg_token_cache_lookup(w->cache, c->token, c->token_len, hash, epoch, req->now, &out->identity)) {
		w->cache_hits++;
		out->from_cache = true;
		/* The cache knows tokens, not services: this one may not take that issuer. */
		if (!(sa->accept[out->identity.issuer / 64] >> (out->identity.issuer % 64) & 1)) {
			out->reason = ZTG_AUTHN_TOKEN;
			out->jwt = ZTG_JWT_ISSUER_NOT_ACCEPTED;
			out->issuer = a->issuers[out->identity.issuer].name;
			snprintf(out->kid, sizeof(out->kid), "%s", out->identity.kid);
			return false;
		}
	} else {
		w->verified++;
		jr = ztg_jwt_verify(a->table, sa->accept, &a->names, c->token, c->token_len, req->now, w->scratch,
				    &out->identity, &why);
		if (jr != ZTG_JWT_OK) {
			out->reason = ZTG_AUTHN_TOKEN;
			out->jwt = jr;
			out->issuer = why.issuer >= 0 ? a->issuers[why.issuer].name : NULL;
			snprintf(out->kid, sizeof(out->kid), "%s", why.kid);
			snprintf(out->detail, sizeof(out->detail), "%s", why.detail);
			return false;
		}
		if (w->cache != NULL)
			ztg_token_cache_insert(w->cache, c->token, c->token_len, hash, epoch, &out->identity);
	}
	out->identified = true;
	out->issuer = a->issuers[out->identity.issuer].name;
	return true;
}

static bool revoked(const struct ztg_revocation_set *set, const struct ztg_authn_result *r, const char **what)
{
	const struct ztg_identity *id = &r->identity;

	if (set == NULL)
		return false;
	if (id->kind == ZTG_IDENTITY_API_KEY) {
		*what = "key";
		return ztg_revocation_set_contains(set, ZTG_REVOKE_API_KEY, NULL, 0, id->kid, id->kid_len);
	}
	*what = "jti";
	if (id->jti_len > 0 && ztg_revocation_set_contains(set, ZTG_REVOKE_JTI, NULL, 0, id->jti, id->jti_len))
		return true;
	*what = "sub";
	return ztg_revocation_set_contains(set, ZTG_REVOKE_SUBJECT, r->issuer, strlen(r->issuer), id->subject,
					   id->subject_len);
}

static bool claim_value(const struct ztg_identity *id, int slot, const char **v, size_t *len)
{
	if (slot == SUBJECT_SLOT) {
		*v = id->subject;
		*len = id->subject_len;
		return true;
	}
	if (slot < 0 || !(id->claims_present >> slot & 1))
		return false;
	*v = id->claims[slot];
	*len = id->claim_len[slot];
	return true;
}

static bool meets(const struct ztg_authn *a, const struct route_requirement *rr, const struct ztg_authn_request *req,
		  struct ztg_authn_result *out)
{
	const struct ztg_identity *id = &out->identity;
	const char *v;
	size_t len;

	if (rr->scopes != 0) {
		uint64_t missing = rr->scopes & ~id->scopes;

		if (rr->scopes_any ? (rr->scopes & id->scopes) == 0 : missing != 0)
			return refuse(out, ZTG_AUTHN_SCOPE_MISSING,
				      a->names.scopes[__builtin_ctzll(rr->scopes_any ? rr->scopes : missing)]);
	}
	for (uint32_t i = 0; i < rr->claim_count; i++) {
		const struct claim_check *c = &rr->claims[i];

		if (!claim_value(id, c->slot, &v, &len) || !slice_equals(v, len, c->value, c->value_len))
			return refuse(out, ZTG_AUTHN_CLAIM_MISMATCH, c->name);
	}
	for (uint32_t i = 0; i < rr->binding_count; i++) {
		const struct binding_check *b = &rr->bindings[i];
		const struct ztg_route_capture *cap = &req->match->params[b->param];
		char detail[ZTG_POLICY_NAME_MAX + 3];

		if (b->param < req->match->param_count && claim_value(id, b->slot, &v, &len) &&
		    slice_equals((const char *)req->target->path.ptr + cap->off, cap->len, v, len))
			continue;
		snprintf(detail, sizeof(detail), "{%s}", b->param_name);
		return refuse(out, ZTG_AUTHN_OBJECT_MISMATCH, detail);
	}
	out->reason = ZTG_AUTHN_OK;
	return true;
}

bool ztg_authn_check(const struct ztg_authn *authn, struct ztg_authn_worker *w,
		     const struct ztg_revocation_set *revocations, const struct ztg_authn_request *req,
		     struct ztg_authn_result *out)
{
	const struct service_auth *sa = &authn->services[req->service];
	const struct route_requirement *rr = &sa->routes[req->route];
	struct credentials c;
	const char *what;

	out->identified = false;
	out->from_cache = false;
	out->issuer = NULL;
	out->detail[0] = '\0';
	out->kid[0] = '\0';
	out->jwt = ZTG_JWT_OK;
	if (!rr->protected) {
		out->reason = ZTG_AUTHN_ANONYMOUS;
		return true;
	}
	find_credentials(sa, req, &c);
	if (c.conflict)
		return refuse(out, ZTG_AUTHN_CREDENTIALS_CONFLICT, NULL);
	if (c.malformed != NULL)
		return refuse(out, ZTG_AUTHN_CREDENTIALS_MALFORMED, c.malformed);
	if (c.token != NULL) {
		if (!verify_token(authn, w, sa, req, &c, out))
			return false;
	} else if (c.key != NULL) {
		int k;

		w->api_key_lookups++;
		k = authn->api_keys != NULL ? ztg_api_keys_find(authn->api_keys, c.key, c.key_len) : -1;
		if (k < 0)
			return refuse(out, ZTG_AUTHN_API_KEY_UNKNOWN, NULL);
		out->identity = authn->api_key_identities[k];
		out->identified = true;
		out->issuer = "api-key";
	} else {
		return refuse(out, ZTG_AUTHN_CREDENTIALS_MISSING, NULL);
	}
	if (revoked(revocations, out, &what))
		return refuse(out, ZTG_AUTHN_REVOKED, what);
	return meets(authn, rr, req, out);
}
