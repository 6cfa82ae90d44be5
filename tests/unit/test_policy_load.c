/*
 * Unit tests for the policy loader (control/policy_load.h).
 *
 * Fixtures are the small policies in tests/unit/policy/, one per kind of
 * problem; the example policy is rules/policy.example.conf. Both are found
 * at run time:
 *   argv[1] or $ZTG_POLICY_FIXTURES   the fixture directory (required)
 *   argv[2] or $ZTG_POLICY_EXAMPLE    the example policy (default:
 *                                     <fixtures>/../../../rules/policy.example.conf)
 * Every error test asserts the exact file, the exact line, a piece of the
 * message and the exact error count, so a spurious or missing diagnostic
 * fails as surely as a wrong one.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "auth/jwk.h"
#include "diag_assert.h"
#include "policy_load.h"
#include "policy_source.h"

/* Half of PATH_MAX each, so a fixture name always fits after the directory. */
struct paths {
	char fixtures[PATH_MAX / 2];
	char example[PATH_MAX / 2];
};

struct load {
	int rc;
	struct ztg_policy *policy;
	struct ztg_policy_diag diag;
	char path[PATH_MAX];
};

/* ---------------------------------------------------------------- harness */

static void load_path(struct load *l, const char *path)
{
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->policy = NULL;
	ztg_policy_diag_init(&l->diag);
	l->rc = ztg_policy_load(l->path, &l->policy, &l->diag);
	assert_true(l->rc == 0 || l->rc == -EINVAL);
	assert_true((l->rc == 0) == (l->policy != NULL));
}

static void load_fixture(void **state, struct load *l, const char *name)
{
	const struct paths *p = *state;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", p->fixtures, name);
	load_path(l, path);
}

static void unload(struct load *l)
{
	ztg_policy_free(l->policy);
	ztg_policy_diag_free(&l->diag);
}

/* A file in a fresh temporary directory; the caller removes both. */
static void write_temp(char *dir, size_t dir_len, char *path, size_t path_len, const char *name)
{
	snprintf(dir, dir_len, "/tmp/ztg_policy_test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, path_len, "%.*s/%s", (int)(path_len / 2), dir, name);
}

static void fixture_path(void **state, const char *name, char *out, size_t len)
{
	const struct paths *p = *state;

	snprintf(out, len, "%s/%s", p->fixtures, name);
}

static void dump(const struct load *l)
{
	ztg_policy_diag_print(stderr, &l->diag);
}

/* The same, in fixture file `file`. */
static void expect_diag(void **state, const struct load *l, enum ztg_policy_severity severity, const char *file,
			uint32_t line, const char *text)
{
	char path[PATH_MAX];

	fixture_path(state, file, path, sizeof(path));
	ztg_test_expect_diag(&l->diag, severity, path, line, text);
}

static void expect_error(void **state, const struct load *l, const char *file, uint32_t line, const char *text)
{
	expect_diag(state, l, ZTG_POLICY_ERROR, file, line, text);
}

static void expect_warning(void **state, const struct load *l, const char *file, uint32_t line, const char *text)
{
	expect_diag(state, l, ZTG_POLICY_WARNING, file, line, text);
}

/* A failed load with exactly `errors` errors. */
static void expect_failure(const struct load *l, uint32_t errors)
{
	if (l->rc != -EINVAL || l->diag.errors != errors) {
		dump(l);
		fail_msg("expected %u errors and -EINVAL, got %u errors and rc %d", errors, l->diag.errors, l->rc);
	}
	assert_null(l->policy);
}

/* The 1-based line of the first line of path that holds needle. */
static uint32_t line_of(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char text[1024];
	uint32_t line = 0;

	assert_non_null(f);
	while (fgets(text, sizeof(text), f) != NULL) {
		line++;
		if (strstr(text, needle) != NULL) {
			fclose(f);
			return line;
		}
	}
	fclose(f);
	fail_msg("%s holds no line with \"%s\"", path, needle);
	return 0;
}

static void assert_cidr(const struct ztg_cidr *c, const char *addr, unsigned prefix)
{
	uint8_t want[16] = {0};
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_int_equal(c->family, family == AF_INET ? 4 : 6);
	assert_int_equal(c->prefix_len, prefix);
	assert_memory_equal(c->addr, want, sizeof(want));
}

#define BIT(m) ZTG_POLICY_METHOD_BIT(ZTG_HTTP_METHOD_##m)

/* A present behaviour section with every default of policy.h. */
static void assert_behaviour_defaults(const struct ztg_policy_behaviour *b)
{
	assert_true(b->present);
	assert_false(b->monitor);
	assert_int_equal(b->window, 10);
	assert_int_equal(b->history, 6);
	assert_true(b->factor == 10.0);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_REQUESTS], 100);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_ERRORS], 20);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_OBJECTS], 50);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_BYTES], 10485760);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_ANOMALY], 0);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_AUTH_FAILURES], 20);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_TOKEN_SOURCES], 5);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES], 10);
	assert_true(b->threshold == 100.0);
	assert_int_equal(b->half_life, 60);
	assert_int_equal(b->quarantine, 300);
	for (unsigned i = 0; i < ZTG_POLICY_SIGNAL_COUNT; i++)
		assert_true(b->weights[i] == 100.0);
}

/* What ztg_policy_behaviour_print() writes, in a string the caller frees. */
static char *behaviour_text(const struct ztg_policy_behaviour *b, const char *indent)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	ztg_policy_behaviour_print(out, b, indent);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* ------------------------------------------------------------ valid input */

static void test_example_policy(void **state)
{
	const struct paths *p = *state;
	const struct ztg_policy *pol;
	const struct ztg_policy_service *shop, *inv;
	const struct ztg_policy_route *r;
	struct load l;

	load_path(&l, p->example);
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 0) {
		dump(&l);
		fail_msg("the example policy must load without errors or warnings");
	}
	pol = l.policy;
	assert_int_equal(pol->version, 1);
	assert_string_equal(pol->name, "lab-default");
	assert_string_equal(pol->path, p->example);
	assert_int_equal(pol->mode, ZTG_POLICY_MODE_ENFORCE);
	assert_int_equal(pol->defaults.action, ZTG_POLICY_ACTION_DENY);
	assert_int_equal(pol->defaults.non_http, ZTG_POLICY_ACTION_DROP);
	assert_int_equal(pol->defaults.unknown_host, ZTG_POLICY_ACTION_DENY);

	assert_int_equal(pol->segment_count, 3);
	assert_string_equal(pol->segments[0].name, "clients");
	assert_string_equal(pol->segments[1].name, "servers");
	assert_string_equal(pol->segments[2].name, "admins");
	assert_int_equal(pol->segments[0].address_count, 2);
	assert_cidr(&pol->segments[0].addresses[0].cidr, "198.18.0.0", 24);
	assert_cidr(&pol->segments[0].addresses[1].cidr, "2001:db8::", 64);
	assert_cidr(&pol->segments[2].addresses[0].cidr, "198.18.2.0", 28);
	assert_string_equal(pol->segments[0].loc.file, p->example);
	assert_int_equal(pol->segments[0].loc.line, line_of(p->example, "{ name = \"clients\";"));
	assert_int_equal(pol->segments[0].addresses[1].loc.line, pol->segments[0].loc.line);

	assert_int_equal(pol->service_count, 2);
	shop = &pol->services[0];
	assert_string_equal(shop->name, "shop-api");
	assert_int_equal(shop->loc.line, line_of(p->example, "{ name = \"shop-api\";"));
	assert_int_equal(shop->host_count, 2);
	assert_string_equal(shop->hosts[0].pattern, "api.shop.test");
	assert_false(shop->hosts[0].wildcard);
	assert_string_equal(shop->hosts[1].pattern, "*.shop.test");
	assert_true(shop->hosts[1].wildcard);
	assert_int_equal(shop->address_count, 2);
	assert_cidr(&shop->addresses[0].cidr, "198.18.1.2", 32);
	assert_cidr(&shop->addresses[1].cidr, "2001:db8:1::2", 128);
	assert_int_equal(shop->port_count, 2);
	assert_int_equal(shop->ports[0], 80);
	assert_int_equal(shop->ports[1], 8080);
	assert_int_equal(shop->segment, 1);
	assert_int_equal(shop->mode, ZTG_POLICY_MODE_ENFORCE);
	assert_false(shop->mode_set);
	assert_int_equal(shop->route_count, 6);
	assert_true(shop->authentication.present);
	assert_int_equal(shop->authentication.issuer_count, 1);
	assert_string_equal(pol->issuers[shop->authentication.issuers[0]].name, "shop-idp");
	assert_int_equal(pol->api_key_count, 1);
	assert_string_equal(pol->api_keys[0].id, "nightly-export");
	assert_int_equal(shop->routes[5].require.binding_count, 1);
	assert_string_equal(shop->routes[5].require.bindings[0].claim, "tenant");

	r = &shop->routes[0];
	assert_string_equal(r->name, "get-order");
	assert_int_equal(r->methods, BIT(GET) | BIT(HEAD));
	assert_string_equal(r->path, "/api/v1/orders/{id}");
	assert_int_equal(r->action, ZTG_POLICY_ACTION_ALLOW);
	assert_int_equal(r->mode, ZTG_POLICY_MODE_ENFORCE);
	assert_false(r->mode_set);
	assert_int_equal(r->loc.line, line_of(p->example, "name = \"get-order\""));
	assert_string_equal(r->loc.file, p->example);
	r = &shop->routes[1];
	assert_int_equal(r->methods, BIT(POST));
	r = &shop->routes[2];
	assert_string_equal(r->name, "static");
	assert_int_equal(r->methods, ZTG_POLICY_METHODS_ANY);
	assert_true(r->methods & ZTG_POLICY_METHOD_BIT(ZTG_HTTP_METHOD_OTHER));
	assert_int_equal(r->mode, ZTG_POLICY_MODE_MONITOR);
	assert_true(r->mode_set);
	assert_int_equal(shop->routes[3].action, ZTG_POLICY_ACTION_DENY);
	assert_string_equal(shop->routes[3].path, "/admin/*");
	assert_int_equal(shop->routes[4].action, ZTG_POLICY_ACTION_RESET);

	inv = &pol->services[1];
	assert_string_equal(inv->name, "inventory");
	assert_int_equal(inv->mode, ZTG_POLICY_MODE_MONITOR);
	assert_true(inv->mode_set);
	assert_int_equal(inv->route_count, 3);
	assert_int_equal(inv->ports[0], 8443);
	assert_int_equal(inv->routes[1].methods, BIT(PUT) | BIT(PATCH));
	assert_int_equal(inv->routes[1].mode, ZTG_POLICY_MODE_MONITOR);
	assert_false(inv->routes[1].mode_set);
	assert_int_equal(inv->routes[2].action, ZTG_POLICY_ACTION_DROP);

	assert_int_equal(pol->access_count, 2);
	assert_int_equal(pol->access[0].from, 0);
	assert_int_equal(pol->access[0].to_count, 1);
	assert_int_equal(pol->access[0].to[0], 0);
	assert_int_equal(pol->access[1].from, 2);
	assert_int_equal(pol->access[1].to_count, 2);
	assert_int_equal(pol->access[1].to[0], 0);
	assert_int_equal(pol->access[1].to[1], 1);
	assert_int_equal(pol->access[1].loc.line, line_of(p->example, "{ from = \"admins\";"));
	/* The example spells out every behaviour default. */
	assert_behaviour_defaults(&pol->behaviour);
	assert_string_equal(pol->behaviour.loc.file, p->example);
	assert_int_equal(pol->behaviour.loc.line, line_of(p->example, "behaviour = {"));
	unload(&l);
}

static void test_includes_load(void **state)
{
	char main_path[PATH_MAX], seg_path[PATH_MAX], routes_path[PATH_MAX];
	const struct ztg_policy_service *svc;
	struct load l;

	fixture_path(state, "include_ok.conf", main_path, sizeof(main_path));
	fixture_path(state, "include_ok_segments.conf", seg_path, sizeof(seg_path));
	fixture_path(state, "include_ok_routes.conf", routes_path, sizeof(routes_path));
	load_fixture(state, &l, "include_ok.conf");
	if (l.rc != 0 || l.diag.count != 0) {
		dump(&l);
		fail_msg("include_ok.conf must load cleanly");
	}
	assert_int_equal(l.policy->segment_count, 2);
	assert_string_equal(l.policy->segments[1].name, "servers");
	assert_string_equal(l.policy->segments[1].loc.file, seg_path);
	assert_int_equal(l.policy->segments[1].loc.line, 4);
	assert_cidr(&l.policy->segments[1].addresses[1].cidr, "2001:db8:1::", 48);

	svc = &l.policy->services[0];
	assert_string_equal(svc->loc.file, main_path);
	assert_int_equal(svc->loc.line, 5);
	/* Hosts are stored lowercase; bare addresses are hosts; ports come out sorted. */
	assert_string_equal(svc->hosts[0].pattern, "api.test");
	assert_string_equal(svc->hosts[1].pattern, "*.api.test");
	assert_true(svc->hosts[1].wildcard);
	assert_cidr(&svc->addresses[0].cidr, "10.0.1.1", 32);
	assert_cidr(&svc->addresses[1].cidr, "2001:db8:1::1", 128);
	assert_int_equal(svc->ports[0], 80);
	assert_int_equal(svc->ports[1], 8080);
	assert_int_equal(svc->segment, 1);
	assert_int_equal(svc->mode, ZTG_POLICY_MODE_MONITOR);

	assert_int_equal(svc->route_count, 2);
	assert_string_equal(svc->routes[0].loc.file, routes_path);
	assert_int_equal(svc->routes[0].loc.line, 1);
	assert_int_equal(svc->routes[0].mode, ZTG_POLICY_MODE_MONITOR);
	assert_false(svc->routes[0].mode_set);
	assert_string_equal(svc->routes[1].loc.file, routes_path);
	assert_int_equal(svc->routes[1].loc.line, 2);
	assert_int_equal(svc->routes[1].methods, BIT(DELETE));
	assert_int_equal(svc->routes[1].mode, ZTG_POLICY_MODE_ENFORCE);
	assert_true(svc->routes[1].mode_set);
	assert_int_equal(svc->routes[1].action, ZTG_POLICY_ACTION_DROP);
	unload(&l);
}

static void test_warnings(void **state)
{
	struct load l;

	load_fixture(state, &l, "warnings.conf");
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 4) {
		dump(&l);
		fail_msg("warnings.conf: expected success with 4 warnings");
	}
	expect_warning(state, &l, "warnings.conf", 10, "service \"empty\" has no routes");
	expect_warning(state, &l, "warnings.conf", 7, "segment \"unused\" is not used");
	expect_warning(state, &l, "warnings.conf", 11, "service \"lonely\" is unreachable");
	expect_warning(state, &l, "warnings.conf", 13,
		       "services[2].addresses[0]: 10.0.2.1/32 is outside every address range of the service's "
		       "segment \"servers\"");
	/* A monitor policy with allow routes is fine: the four above are all there is. */
	assert_int_equal(l.policy->mode, ZTG_POLICY_MODE_MONITOR);
	assert_int_equal(l.policy->services[1].mode, ZTG_POLICY_MODE_MONITOR);
	assert_int_equal(l.policy->services[1].routes[0].action, ZTG_POLICY_ACTION_ALLOW);
	unload(&l);
}

/* ------------------------------------------------------------ key checks */

static void test_missing_top_keys(void **state)
{
	struct load l;

	load_fixture(state, &l, "missing_top.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "missing_top.conf", 0, "missing required key \"version\"");
	expect_error(state, &l, "missing_top.conf", 0, "missing required key \"name\"");
	unload(&l);
}

static void test_missing_key(void **state)
{
	struct load l;

	load_fixture(state, &l, "missing_key.conf");
	expect_failure(&l, 3);
	expect_error(state, &l, "missing_key.conf", 4, "segments[0]: missing required key \"addresses\"");
	expect_error(state, &l, "missing_key.conf", 7, "services[0]: missing required key \"ports\" (a list of TCP ports");
	expect_error(state, &l, "missing_key.conf", 11, "services[0].routes[0]: missing required key \"methods\"");
	unload(&l);
}

static void test_unknown_key(void **state)
{
	struct load l;

	load_fixture(state, &l, "unknown_key.conf");
	expect_failure(&l, 3);
	expect_error(state, &l, "unknown_key.conf", 3,
		     "unknown key \"colour\" (allowed: version, name, mode, defaults, segments, services, access, issuers, api_keys, key_fetch, signatures, behaviour)");
	expect_error(state, &l, "unknown_key.conf", 4,
		     "defaults: unknown key \"non_htttp\" (allowed: action, non_http, unknown_host)");
	expect_error(state, &l, "unknown_key.conf", 5, "segments[0]: unknown key \"prefix\" (allowed: name, addresses)");
	unload(&l);
}

static void test_wrong_type(void **state)
{
	struct load l;

	load_fixture(state, &l, "wrong_type.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "wrong_type.conf", 1, "version: expected an integer (version = 1;), got a string");
	expect_error(state, &l, "wrong_type.conf", 3, "mode: expected a string (enforce or monitor), got a boolean");
	expect_error(state, &l, "wrong_type.conf", 4, "segments[0].addresses: expected a list");
	expect_error(state, &l, "wrong_type.conf", 6, "services[0].hosts: expected a list");
	expect_error(state, &l, "wrong_type.conf", 6, "services[0].ports[0]: expected a TCP port, an integer 1..65535, got a string");
	expect_error(state, &l, "wrong_type.conf", 7, "services[0].routes[0]: expected a group");
	expect_error(state, &l, "wrong_type.conf", 9, "access[0].to: expected a list of service names");
	unload(&l);
}

static void test_bad_enum(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_enum.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "bad_enum.conf", 3, "mode: unknown mode \"enforcing\" (expected enforce or monitor)");
	expect_error(state, &l, "bad_enum.conf", 5,
		     "defaults.action: action \"allow\" is not allowed here (expected deny, reset or drop)");
	expect_error(state, &l, "bad_enum.conf", 6, "defaults.non_http: action \"deny\" is not allowed here");
	expect_error(state, &l, "bad_enum.conf", 7, "defaults.unknown_host: unknown action \"ignore\"");
	expect_error(state, &l, "bad_enum.conf", 11, "services[0].mode: unknown mode \"audit\"");
	expect_error(state, &l, "bad_enum.conf", 12,
		     "services[0].routes[0].action: unknown action \"permit\" (expected allow, deny, reset or drop)");
	expect_error(state, &l, "bad_enum.conf", 12, "services[0].routes[0].mode: unknown mode \"Monitor\"");
	unload(&l);
}

static void test_bad_version(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_version.conf");
	/* Nothing after an unknown version is checked: its unknown key is not reported. */
	expect_failure(&l, 1);
	expect_error(state, &l, "bad_version.conf", 2, "unsupported policy language version 2 (this build reads version 1)");
	unload(&l);
}

static void test_bad_name(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_name.conf");
	expect_failure(&l, 4);
	expect_error(state, &l, "bad_name.conf", 2, "name: \"lab default\" is not a valid name (expected 1 to 64");
	expect_error(state, &l, "bad_name.conf", 3, "segments[0].name: \"\" is not a valid name");
	expect_error(state, &l, "bad_name.conf", 6, "services[0].name: \"shop/api\" is not a valid name");
	expect_error(state, &l, "bad_name.conf", 7, "services[0].routes[0].name: \"a-route-name-that-is-far-too-long");
	unload(&l);
}

/* ----------------------------------------------------------- value checks */

static void test_bad_cidr(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_cidr.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "bad_cidr.conf", 4,
		     "segments[0].addresses[0]: 198.18.0.1/24 has host bits set; did you mean 198.18.0.0/24?");
	expect_error(state, &l, "bad_cidr.conf", 5, "\"198.18.300.0/24\" is not an IPv4 or IPv6 address");
	expect_error(state, &l, "bad_cidr.conf", 6, "prefix length 33 is out of range 0..32 for IPv4");
	expect_error(state, &l, "bad_cidr.conf", 7, "2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?");
	expect_error(state, &l, "bad_cidr.conf", 8, "segments[4].addresses[0]: \"2001:db8:1::/129\": prefix length 129 "
		     "is out of range 0..128 for IPv6");
	expect_error(state, &l, "bad_cidr.conf", 8, "segments[4].addresses[1]: \"10.0.0.0/x\": the prefix length must be");
	expect_error(state, &l, "bad_cidr.conf", 9, "segments[5].addresses[1]: 10.1.0.0/16 is listed twice");
	unload(&l);
}

/* Issuers, API keys, authentication and route requirements, read into the model. */
static void test_identity_ok(void **state)
{
	const struct ztg_policy_service *svc;
	const struct ztg_policy_issuer *is;
	struct load l;

	load_fixture(state, &l, "identity_ok.conf");
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.diag.errors, 0);
	assert_int_equal(l.policy->issuer_count, 2);
	is = &l.policy->issuers[0];
	assert_string_equal(is->name, "idp");
	assert_string_equal(is->iss, "https://idp.test");
	assert_true(is->has_jwks_file);
	assert_string_equal(is->jwks_file.name, "keys/idp.jwks");
	assert_true(is->jwks_file.len > 100);
	assert_int_equal(is->algorithms, ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_ES256) | ZTG_JWT_ALG_BIT(ZTG_JWT_ALG_RS256));
	assert_int_equal(is->audience_count, 1);
	assert_string_equal(is->audiences[0], "orders");
	assert_int_equal(is->leeway, 10);
	assert_int_equal(is->max_token_bytes, 8192);
	assert_string_equal(is->typ, "at+jwt");
	assert_int_equal(is->required_claim_count, 1);
	assert_string_equal(is->identity_claim, "sub");
	assert_null(is->scope_claim);
	is = &l.policy->issuers[1];
	assert_int_equal(is->pem_key_count, 2);
	assert_string_equal(is->pem_keys[1].kid, "b");
	assert_string_equal(is->identity_claim, "client_id");
	assert_string_equal(is->scope_claim, "scp");
	assert_int_equal(l.policy->api_key_count, 1);
	assert_string_equal(l.policy->api_keys[0].subject, "svc-batch");
	assert_int_equal(l.policy->api_keys[0].sha256[0], 0xa6);
	assert_int_equal(l.policy->key_fetch.blocked_count, 2);
	assert_int_equal(l.policy->key_fetch.timeout_ms, 2000);
	svc = &l.policy->services[0];
	assert_true(svc->authentication.present);
	assert_int_equal(svc->authentication.issuer_count, 2);
	assert_string_equal(svc->authentication.header, "authorization");
	assert_string_equal(svc->authentication.scheme, "Bearer");
	assert_string_equal(svc->authentication.api_key_header, "x-api-key");
	assert_string_equal(svc->authentication.query, "access_token");
	assert_true(svc->routes[0].require.anonymous);
	assert_false(svc->routes[3].require.anonymous);
	assert_int_equal(svc->routes[3].require.scope_count, 0);
	assert_int_equal(svc->routes[1].require.binding_count, 1);
	assert_string_equal(svc->routes[1].require.bindings[0].param, "tenant");
	assert_true(svc->routes[2].require.scopes_any);
	assert_int_equal(svc->routes[2].require.claim_count, 1);
	assert_string_equal(svc->routes[2].require.claims[0].value, "gold");
	/* Scope bits and claim slots in first-use order; "sub" is the subject, never a slot. */
	assert_int_equal(l.policy->scope_name_count, 3);
	assert_string_equal(l.policy->scope_names[0], "orders:read");
	assert_string_equal(l.policy->scope_names[2], "admin");
	assert_int_equal(l.policy->claim_name_count, 2);
	assert_string_equal(l.policy->claim_names[0], "tenant");
	assert_string_equal(l.policy->claim_names[1], "tier");
	unload(&l);
}

static void test_identity_errors(void **state)
{
	const char *f = "identity_errors.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 20);
	expect_error(state, &l, f, 5, "issuers[0].jwks_file: cannot read ");
	expect_error(state, &l, f, 6, "issuers[1].algorithms[0]: unknown algorithm \"none\"");
	expect_error(state, &l, f, 6, "issuers[1].jwks_file: keys/bad.jwks: key 0 (kid \"short\"): RSA modulus is 17 bits");
	expect_error(state, &l, f, 7, "issuers[2].jwks_url: \"http://c.test/jwks\" is not an https URL");
	expect_error(state, &l, f, 8, "issuers[3].jwks_file: file name \"../idp.jwks\" must not hold");
	expect_error(state, &l, f, 8, "issuers[3]: give exactly one key source");
	expect_error(state, &l, f, 9, "issuers[4].leeway: 601 is out of range 0..600");
	expect_error(state, &l, f, 9, "issuers[4]: none of its keys can verify the algorithms it allows");
	expect_error(state, &l, f, 6, "issuers[1]: duplicate iss name \"https://a.test\"");
	expect_error(state, &l, f, 12, "api_keys[0].sha256: not 64 hex digits");
	expect_error(state, &l, f, 13, "api_keys[1].subject: \"has space\" is not a valid subject");
	expect_error(state, &l, f, 14, "api_keys[2].sha256: the same key as api_keys[1]");
	expect_error(state, &l, f, 18, "services[0].routes[0]: allows without saying who");
	expect_error(state, &l, f, 20, "services[1].authentication.issuers[0]: undefined issuer \"nobody\"");
	expect_error(state, &l, f, 20, "services[1].authentication: accepts no credential");
	expect_error(state, &l, f, 22, "services[1].routes[0]: anonymous = true and require contradict each other");
	expect_error(state, &l, f, 23, "services[1].routes[1].require.bind.tenant: the route's path \"/b/{id}\" has no {tenant}");
	expect_error(state, &l, f, 24, "services[1].routes[2]: require and anonymous only apply to allow routes");
	expect_error(state, &l, f, 25, "services[1].routes[3].require.scopes_match: unknown scope match \"some\"");
	expect_error(state, &l, f, 25, "services[1].routes[3].require.scopes_match: no scopes to match");
	unload(&l);
}

/* ------------------------------------------------------------ rate limits */

static void assert_rate_limit(const struct ztg_policy_rate_limit *rl, const char *name, enum ztg_policy_rate_key key,
			      uint32_t rate, uint32_t period, uint32_t burst, enum ztg_policy_rate_action action,
			      bool monitor, bool from_service)
{
	assert_string_equal(rl->name, name);
	assert_int_equal(rl->key, key);
	assert_int_equal(rl->rate, rate);
	assert_int_equal(rl->period, period);
	assert_int_equal(rl->burst, burst);
	assert_int_equal(rl->action, action);
	assert_int_equal(rl->monitor, monitor);
	assert_int_equal(rl->from_service, from_service);
}

static void test_rate_limits_ok(void **state)
{
	const char *f = "rate_limits_ok.conf";
	const struct ztg_policy_service *shop, *plain;
	const struct ztg_policy_route *r;
	char path[PATH_MAX];
	struct load l;

	fixture_path(state, f, path, sizeof(path));
	load_fixture(state, &l, f);
	if (l.rc != 0 || l.diag.count != 0) {
		dump(&l);
		fail_msg("%s must load cleanly", f);
	}
	shop = &l.policy->services[0];
	assert_int_equal(shop->rate_limit_count, 3);
	/* mode: the limit's own, else the service's (monitor); burst: its own, else rate / 10, at least 1. */
	assert_rate_limit(&shop->rate_limits[0], "per-caller", ZTG_POLICY_RATE_IDENTITY, 100, 1, 20,
			  ZTG_POLICY_RATE_ACTION_DENY, false, false);
	assert_rate_limit(&shop->rate_limits[1], "per-subnet", ZTG_POLICY_RATE_SOURCE, 600, 60, 60,
			  ZTG_POLICY_RATE_ACTION_RESET, true, false);
	assert_rate_limit(&shop->rate_limits[2], "whole", ZTG_POLICY_RATE_ROUTE, 5, 3600, 1,
			  ZTG_POLICY_RATE_ACTION_ALERT, true, false);
	assert_int_equal(shop->rate_limits[0].prefix4, 32);
	assert_int_equal(shop->rate_limits[0].prefix6, 128);
	assert_int_equal(shop->rate_limits[1].prefix4, 24);
	assert_int_equal(shop->rate_limits[1].prefix6, 64);
	assert_string_equal(shop->rate_limits[1].loc.file, path);
	assert_int_equal(shop->rate_limits[1].loc.line, line_of(path, "name = \"per-subnet\""));

	/* No list of its own: a copy of the service's, every entry from_service. */
	r = &shop->routes[0];
	assert_int_equal(r->rate_limit_count, 3);
	assert_true(r->rate_limits != shop->rate_limits);
	for (uint32_t i = 0; i < 3; i++) {
		assert_true(r->rate_limits[i].from_service);
		assert_string_equal(r->rate_limits[i].name, shop->rate_limits[i].name);
		assert_int_equal(r->rate_limits[i].monitor, shop->rate_limits[i].monitor);
		assert_int_equal(r->rate_limits[i].loc.line, shop->rate_limits[i].loc.line);
	}
	assert_int_equal(r->rate_limits[1].prefix4, 24);

	/* Its own list replaces the service's; defaults follow the route's mode (enforce). */
	r = &shop->routes[1];
	assert_int_equal(r->rate_limit_count, 1);
	assert_rate_limit(&r->rate_limits[0], "per-caller", ZTG_POLICY_RATE_API_KEY, 9, 1, 1,
			  ZTG_POLICY_RATE_ACTION_DENY, false, false);
	assert_int_equal(r->rate_limits[0].prefix4, 32);
	assert_int_equal(r->rate_limits[0].prefix6, 128);

	/* An empty list of its own: none of the service's apply. */
	assert_int_equal(shop->routes[2].rate_limit_count, 0);
	/* A deny route counts nothing: the service's list is not copied to it. */
	assert_int_equal(shop->routes[3].action, ZTG_POLICY_ACTION_DENY);
	assert_int_equal(shop->routes[3].rate_limit_count, 0);
	assert_null(shop->routes[3].rate_limits);

	/* A service without a list; its route's own limit takes the service's (enforce) mode. */
	plain = &l.policy->services[1];
	assert_int_equal(plain->rate_limit_count, 0);
	assert_null(plain->rate_limits);
	assert_int_equal(plain->routes[0].rate_limit_count, 1);
	assert_rate_limit(&plain->routes[0].rate_limits[0], "all", ZTG_POLICY_RATE_SOURCE, 1000, 1, 100,
			  ZTG_POLICY_RATE_ACTION_DENY, false, false);
	unload(&l);
}

static void test_rate_limits_keys(void **state)
{
	const char *f = "rate_limits_keys.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 4);
	expect_error(state, &l, f, 7, "services[0].rate_limits[0]: unknown key \"limit\" (allowed: name, per, prefix4, "
		     "prefix6, rate, period, burst, action, mode)");
	expect_error(state, &l, f, 8, "services[0].rate_limits[1]: missing required key \"period\" (second, minute or hour)");
	expect_error(state, &l, f, 9, "services[0].rate_limits[2]: expected a group { name = ...; per = ...; rate = ...; "
		     "period = ...; }, got a string");
	expect_error(state, &l, f, 10, "services[0].routes[0].rate_limits: expected a list of rate limits ( { ... }, ... ), "
		     "got a group");
	unload(&l);
}

static void test_rate_limits_values(void **state)
{
	const char *f = "rate_limits_values.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 12);
	expect_error(state, &l, f, 7, "services[0].rate_limits[0].name: \"bad name\" is not a valid name (expected 1 to 64 "
		     "characters of A-Z a-z 0-9 _ . -)");
	expect_error(state, &l, f, 7, "services[0].rate_limits[0].per: unknown rate limit key \"user\" (expected identity, "
		     "api_key, source or route)");
	expect_error(state, &l, f, 8, "services[0].rate_limits[1].prefix4: 33 is out of range 0..32");
	expect_error(state, &l, f, 8, "services[0].rate_limits[1].prefix6: 129 is out of range 0..128");
	expect_error(state, &l, f, 8, "services[0].rate_limits[1].rate: 0 is out of range 1..100000000");
	expect_error(state, &l, f, 8, "services[0].rate_limits[1].period: unknown period \"day\" (expected second, minute "
		     "or hour)");
	expect_error(state, &l, f, 9, "services[0].rate_limits[2].rate: 100000001 is out of range 1..100000000");
	expect_error(state, &l, f, 9, "services[0].rate_limits[2].burst: 0 is out of range 1..100000000");
	expect_error(state, &l, f, 9, "services[0].rate_limits[2].action: unknown action \"block\" (expected deny, reset "
		     "or alert)");
	expect_error(state, &l, f, 9, "services[0].rate_limits[2].mode: unknown mode \"audit\" (expected enforce or monitor)");
	expect_error(state, &l, f, 10, "services[0].rate_limits[3].rate: expected an integer 1..100000000, got a string");
	expect_error(state, &l, f, 10, "services[0].rate_limits[3].burst: 100000001 is out of range 1..100000000");
	unload(&l);
}

static void test_rate_limits_prefix(void **state)
{
	const char *f = "rate_limits_prefix.conf";
	struct load l;

	load_fixture(state, &l, f);
	/* A bad per is reported once: its prefixes are not judged against it. */
	expect_failure(&l, 3);
	expect_error(state, &l, f, 7, "services[0].rate_limits[0].prefix4: only applies to per = \"source\" (this limit "
		     "counts per identity)");
	expect_error(state, &l, f, 8, "services[0].rate_limits[1].prefix6: only applies to per = \"source\" (this limit "
		     "counts per route)");
	expect_error(state, &l, f, 10, "services[0].rate_limits[3].per: unknown rate limit key \"nobody\"");
	unload(&l);
}

static void test_rate_limits_not_allow(void **state)
{
	const char *f = "rate_limits_not_allow.conf";
	struct load l;

	load_fixture(state, &l, f);
	/* The reset route without a list of its own is fine: it just does not inherit the service's. */
	expect_failure(&l, 2);
	expect_error(state, &l, f, 9, "services[0].routes[0].rate_limits: rate limits only apply to allow routes (this "
		     "route's action is deny: no request through it reaches the server)");
	expect_error(state, &l, f, 10, "services[0].routes[1].rate_limits: rate limits only apply to allow routes (this "
		     "route's action is drop:");
	unload(&l);
}

static void test_rate_limits_duplicate(void **state)
{
	const char *f = "rate_limits_duplicate.conf";
	char path[PATH_MAX], first[PATH_MAX + 96];
	struct load l;

	fixture_path(state, f, path, sizeof(path));
	load_fixture(state, &l, f);
	expect_failure(&l, 2);
	snprintf(first, sizeof(first), "services[0].rate_limits[2]: duplicate rate limit name \"a\" (first defined at %s:7)",
		 path);
	expect_error(state, &l, f, 9, first);
	snprintf(first, sizeof(first), "services[0].routes[0].rate_limits[1]: duplicate rate limit name \"x\" (first "
		 "defined at %s:12)", path);
	expect_error(state, &l, f, 13, first);
	unload(&l);
}

static void test_rate_limits_size(void **state)
{
	const char *f = "rate_limits_size.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 2);
	expect_error(state, &l, f, 6, "services[0].rate_limits: 9 rate limits, at most 8 are allowed");
	/* On a route an empty list drops the service's limits; on a service it says nothing. */
	expect_error(state, &l, f, 13, "services[1].rate_limits: empty list (leave the key out instead)");
	unload(&l);
}

static void test_bad_port(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_port.conf");
	expect_failure(&l, 4);
	expect_error(state, &l, "bad_port.conf", 6, "services[0].ports[0]: port 0 is out of range 1..65535");
	expect_error(state, &l, "bad_port.conf", 7, "services[0].ports[2]: port 65536 is out of range 1..65535");
	expect_error(state, &l, "bad_port.conf", 7, "services[0].ports[3]: port 80 is listed twice");
	expect_error(state, &l, "bad_port.conf", 7, "services[0].ports[4]: port -1 is out of range");
	unload(&l);
}

static void test_empty_lists(void **state)
{
	struct load l;

	load_fixture(state, &l, "empty_lists.conf");
	expect_failure(&l, 6);
	expect_error(state, &l, "empty_lists.conf", 3, "segments[0].addresses: empty list");
	expect_error(state, &l, "empty_lists.conf", 6, "services[0].hosts: empty list");
	expect_error(state, &l, "empty_lists.conf", 7, "services[0].addresses: empty list");
	expect_error(state, &l, "empty_lists.conf", 8, "services[0].ports: empty list");
	expect_error(state, &l, "empty_lists.conf", 10, "services[0].routes[0].methods: empty list");
	expect_error(state, &l, "empty_lists.conf", 12, "access[0].to: empty list");
	unload(&l);
}

static void test_bad_host(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_host.conf");
	expect_failure(&l, 8);
	expect_error(state, &l, "bad_host.conf", 7, "services[0].hosts[0]: \"api.test:8080\" includes a port");
	expect_error(state, &l, "bad_host.conf", 8, "\"api..test\" has an empty label");
	expect_error(state, &l, "bad_host.conf", 9, "\"api_v2.test\" holds \"_\" (expected a-z, 0-9, '.' and '-' only)");
	expect_error(state, &l, "bad_host.conf", 10, "\"*.*.test\": a wildcard is only allowed as a leading \"*.\"");
	expect_error(state, &l, "bad_host.conf", 11, "\"api.*.test\": a wildcard is only allowed as a leading \"*.\"");
	expect_error(state, &l, "bad_host.conf", 12, "\"*\": a wildcard must be a leading \"*.\" followed by a domain");
	expect_error(state, &l, "bad_host.conf", 13, "\".api.test\" has an empty label");
	/* Compared lowercase: API.Shop.Test on line 14 and api.shop.test are one host. */
	expect_error(state, &l, "bad_host.conf", 16, "host \"api.shop.test\" is listed twice (first at ");
	unload(&l);
}

static void test_methods(void **state)
{
	struct load l;

	load_fixture(state, &l, "methods.conf");
	expect_failure(&l, 5);
	expect_error(state, &l, "methods.conf", 7,
		     "services[0].routes[0].methods[0]: unknown method \"GETT\" (expected GET, HEAD, POST, PUT, DELETE, "
		     "PATCH, OPTIONS, CONNECT, TRACE or ANY)");
	expect_error(state, &l, "methods.conf", 8, "unknown method \"get\" (methods are case-sensitive: write \"GET\")");
	expect_error(state, &l, "methods.conf", 9, "services[0].routes[2].methods: ANY cannot be combined with other methods");
	expect_error(state, &l, "methods.conf", 9, "services[0].routes[2].methods[1]: method \"GET\" is listed twice");
	expect_error(state, &l, "methods.conf", 10, "services[0].routes[3].methods[1]: method \"PUT\" is listed twice");
	unload(&l);
}

static void test_bad_path(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_path.conf");
	expect_failure(&l, 7);
	expect_error(state, &l, "bad_path.conf", 7, "services[0].routes[0].path: \"api/v1\" does not start with '/'");
	expect_error(state, &l, "bad_path.conf", 8, "holds a space at offset 7");
	expect_error(state, &l, "bad_path.conf", 9, "\"/api?x=1\" holds '?' at offset 4");
	expect_error(state, &l, "bad_path.conf", 10, "\"/api#top\" holds '#' at offset 4");
	expect_error(state, &l, "bad_path.conf", 11, "\"/api\\x09v1\" holds a control character (0x09) at offset 4");
	expect_error(state, &l, "bad_path.conf", 12, "\"/orders/{id\" has '{' without '}'");
	expect_error(state, &l, "bad_path.conf", 13, "services[0].routes[6].path: \"\" does not start with '/'");
	unload(&l);
}

/* ------------------------------------------------------- cross references */

static void test_duplicate_names(void **state)
{
	struct load l;

	load_fixture(state, &l, "duplicates.conf");
	expect_failure(&l, 3);
	expect_error(state, &l, "duplicates.conf", 5, "segments[1]: duplicate segment name \"servers\" (first defined at ");
	expect_error(state, &l, "duplicates.conf", 5, "duplicates.conf:4)");
	expect_error(state, &l, "duplicates.conf", 13, "services[1]: duplicate service name \"api\"");
	expect_error(state, &l, "duplicates.conf", 13, "duplicates.conf:8)");
	expect_error(state, &l, "duplicates.conf", 11, "services[0].routes[1]: duplicate route name \"r1\"");
	expect_error(state, &l, "duplicates.conf", 11, "duplicates.conf:10)");
	unload(&l);
}

static void test_undefined_segment(void **state)
{
	struct load l;

	load_fixture(state, &l, "undefined_segment.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "undefined_segment.conf", 6,
		     "services[0].segment: undefined segment \"srvers\" (defined segments: servers)");
	unload(&l);
}

static void test_access_unknown(void **state)
{
	struct load l;

	load_fixture(state, &l, "access_unknown.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "access_unknown.conf", 10,
		     "access[0].from: undefined segment \"client\" (defined segments: clients, servers)");
	expect_error(state, &l, "access_unknown.conf", 12, "access[1].to[1]: undefined service \"ap1\" (defined services: api)");
	unload(&l);
}

static void test_access_duplicate(void **state)
{
	struct load l;

	load_fixture(state, &l, "access_duplicate.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "access_duplicate.conf", 13,
		     "access[1].to[1]: \"clients\" -> \"api\" is already granted by access[0] (");
	expect_error(state, &l, "access_duplicate.conf", 13, "access_duplicate.conf:12)");
	expect_error(state, &l, "access_duplicate.conf", 14,
		     "access[2].to[1]: \"servers\" -> \"web\" is already granted by access[2]");
	unload(&l);
}

static void test_route_overlap(void **state)
{
	struct load l;

	load_fixture(state, &l, "route_overlap.conf");
	/*
	 * put-order shares the path but no method: fine. other-text differs only
	 * in its parameter's name: the same shape, so the matcher could never
	 * pick it for GET.
	 */
	expect_failure(&l, 3);
	expect_error(state, &l, "route_overlap.conf", 9,
		     "services[0].routes[2]: route \"head-order\" has the same path \"/orders/{id}\" as route "
		     "\"get-order\" (");
	expect_error(state, &l, "route_overlap.conf", 9, "route_overlap.conf:7) and both match HEAD");
	expect_error(state, &l, "route_overlap.conf", 10, "route \"any-order\" has the same path");
	expect_error(state, &l, "route_overlap.conf", 10, "route_overlap.conf:7) and both match GET, HEAD");
	expect_error(state, &l, "route_overlap.conf", 11, "route \"other-text\" (/orders/{ID}) is unreachable: route "
		     "\"get-order\" at ");
	unload(&l);
}

/* Templates the route matcher refuses are load errors at the route's line. */
static void test_bad_template(void **state)
{
	struct load l;

	load_fixture(state, &l, "bad_template.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "bad_template.conf", 7, "route \"partial\": segment 2 \"v{n}\"");
	expect_error(state, &l, "bad_template.conf", 7, "a parameter must be a whole segment");
	expect_error(state, &l, "bad_template.conf", 8, "a wildcard must be the last segment");
	unload(&l);
}

static void test_service_overlap(void **state)
{
	struct load l;

	load_fixture(state, &l, "service_overlap.conf");
	/* other-port, other-addr and nested (a nested wildcard) share one or two of the three only. */
	expect_failure(&l, 3);
	expect_error(state, &l, "service_overlap.conf", 6,
		     "services[1]: service \"shop-v2\" could receive the same requests as service \"shop\" (");
	expect_error(state, &l, "service_overlap.conf", 6,
		     "service_overlap.conf:5): both accept host \"api.shop.test\", both listen on port 443, and "
		     "addresses 10.0.1.2/32 and 10.0.1.0/28 overlap");
	expect_error(state, &l, "service_overlap.conf", 7,
		     "service \"orders\" could receive the same requests as service \"shop\"");
	expect_error(state, &l, "service_overlap.conf", 7, "host \"orders.shop.test\" matches \"*.shop.test\", both "
		     "listen on port 80");
	expect_error(state, &l, "service_overlap.conf", 8,
		     "service \"wild\" could receive the same requests as service \"shop\"");
	unload(&l);
}

static void test_segment_overlap(void **state)
{
	struct load l;

	load_fixture(state, &l, "segment_overlap.conf");
	/* 10.0.5.0/24 inside 10.0.0.0/16 of the same segment is fine. */
	expect_failure(&l, 4);
	expect_error(state, &l, "segment_overlap.conf", 5,
		     "segments[1].addresses[0]: 10.0.7.0/24 of segment \"lab\" overlaps 10.0.0.0/16 of segment "
		     "\"clients\" (");
	expect_error(state, &l, "segment_overlap.conf", 6,
		     "segments[2].addresses[0]: 2001:db8:5::/48 of segment \"v6\" overlaps 2001:db8::/32 of segment "
		     "\"clients\"");
	/* A segment whose name failed its check still takes part, as "(unnamed)". */
	expect_error(state, &l, "segment_overlap.conf", 8, "segments[4].name: \"bad name\" is not a valid name");
	expect_error(state, &l, "segment_overlap.conf", 8,
		     "segments[4].addresses[0]: 10.1.2.0/24 of segment (unnamed) overlaps 10.1.0.0/16 of segment \"other\"");
	unload(&l);
}

/* ------------------------------------------------ files, includes, syntax */

static void test_include_error(void **state)
{
	struct load l;

	load_fixture(state, &l, "include_error.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "include_error_routes.conf", 3,
		     "services[0].routes[1].methods[0]: unknown method \"GETT\"");
	unload(&l);
}

static void test_include_missing(void **state)
{
	struct load l;

	load_fixture(state, &l, "include_missing.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "include_missing.conf", 4, "cannot open include file \"no_such_file.conf\"");
	unload(&l);
}

static void test_include_syntax(void **state)
{
	struct load l;

	load_fixture(state, &l, "include_syntax.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "include_syntax_part.conf", 2, "syntax error");
	unload(&l);
}

/* libconfig 1.5 would exit() the process on a directory: the loader refuses it first, nested too. */
static void test_include_directory(void **state)
{
	struct load l;

	load_fixture(state, &l, "include_directory.conf");
	expect_failure(&l, 2);
	expect_error(state, &l, "include_directory.conf", 4, "cannot include \"\": it is a directory");
	expect_error(state, &l, "include_directory_part.conf", 2, "cannot include \".\": it is a directory");
	unload(&l);
}

/* A FIFO would block libconfig forever: refused as policy file and as include. */
static void test_include_fifo(void **state)
{
	char dir[PATH_MAX / 2], fifo[PATH_MAX], path[PATH_MAX];
	struct load l;
	FILE *f;

	(void)state;
	write_temp(dir, sizeof(dir), path, sizeof(path), "fifo.conf");
	snprintf(fifo, sizeof(fifo), "%s/pipe.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "version = 1;\nname = \"fifo\";\n@include \"pipe.conf\"\n");
	fclose(f);

	load_path(&l, path);
	expect_failure(&l, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 3, "cannot include \"pipe.conf\": it is a FIFO");
	unload(&l);
	load_path(&l, fifo);
	expect_failure(&l, 1);
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, fifo, 0, "the policy file is a FIFO, not a regular file");
	unload(&l);
	assert_int_equal(unlink(fifo), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_syntax_error(void **state)
{
	struct load l;

	load_fixture(state, &l, "syntax_error.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "syntax_error.conf", 5, "syntax error");
	unload(&l);
}

static void test_unreadable(void **state)
{
	struct load l;

	load_fixture(state, &l, "no_such_policy.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "no_such_policy.conf", 0, "cannot open the policy file: No such file or directory");
	unload(&l);
}

/* --------------------------------------------------- bounds and reporting */

static void test_caps(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct load l;
	FILE *f;

	(void)state;
	write_temp(dir, sizeof(dir), path, sizeof(path), "caps.conf");
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "version = 1;\nname = \"caps\";\n");
	fprintf(f, "segments = ( { name = \"servers\"; addresses = [ \"10.0.0.0/8\" ]; } );\n");
	fprintf(f, "services = ( { name = \"big\"; addresses = [ \"10.0.0.1\" ]; segment = \"servers\";\n");
	fprintf(f, "ports = [");
	for (int i = 1; i <= ZTG_POLICY_MAX_PORTS + 1; i++)
		fprintf(f, "%s%d", i > 1 ? ", " : " ", i);
	fprintf(f, " ];\nhosts = [");
	for (int i = 0; i <= ZTG_POLICY_MAX_HOSTS; i++)
		fprintf(f, "%s\"h%d.test\"", i ? ", " : " ", i);
	fprintf(f, " ];\nroutes = ( { name = \"r\"; methods = [ \"GET\" ]; path = \"/\"; action = \"allow\"; anonymous = true; } ); } );\n");
	fprintf(f, "access = ( { from = \"servers\"; to = [ \"big\" ]; } );\n");
	fclose(f);

	load_path(&l, path);
	if (l.rc != -EINVAL || l.diag.errors != 2) {
		dump(&l);
		fail_msg("caps.conf: expected 2 errors");
	}
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 5, "services[0].ports: 257 ports, at most 256 are allowed");
	ztg_test_expect_diag(&l.diag, ZTG_POLICY_ERROR, path, 6, "services[0].hosts: 257 hosts, at most 256 are allowed");
	unload(&l);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* More problems than the diag keeps: all counted, the first ZTG_POLICY_DIAG_MAX kept. */
static void test_diag_bound(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const unsigned bad = ZTG_POLICY_DIAG_MAX + 88;
	struct load l;
	FILE *f;

	(void)state;
	write_temp(dir, sizeof(dir), path, sizeof(path), "many.conf");
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "version = 1;\nname = \"many\";\nsegments = (\n");
	for (unsigned i = 0; i < bad; i++)
		fprintf(f, "%s{ name = \"s%u\"; addresses = [ \"10.%u.%u.1/24\" ]; }\n", i ? "," : "", i, i / 256, i % 256);
	fprintf(f, ");\n");
	fclose(f);

	load_path(&l, path);
	assert_int_equal(l.rc, -EINVAL);
	assert_int_equal(l.diag.errors, bad);
	assert_int_equal(l.diag.count, ZTG_POLICY_DIAG_MAX);
	/* The segments' unused warnings come after the errors and are only counted. */
	assert_int_equal(l.diag.dropped, bad - ZTG_POLICY_DIAG_MAX + l.diag.warnings);
	assert_int_equal(l.diag.entries[0].line, 4);
	assert_non_null(strstr(l.diag.entries[0].message, "segments[0].addresses[0]: 10.0.0.1/24 has host bits set"));
	unload(&l);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_diag_print(void **state)
{
	char text[4096] = "", expect[PATH_MAX + 256];
	struct load l;
	FILE *f;
	size_t n;

	load_fixture(state, &l, "missing_key.conf");
	f = tmpfile();
	assert_non_null(f);
	ztg_policy_diag_print(f, &l.diag);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	snprintf(expect, sizeof(expect), "%s:4: error: segments[0]: missing required key \"addresses\" "
		 "(a list of ADDRESS/PREFIX strings)\n", l.path);
	assert_non_null(strstr(text, expect));
	snprintf(expect, sizeof(expect), "%s:9: warning: services[0].addresses[0]: ", l.path);
	assert_non_null(strstr(text, expect));
	unload(&l);

	/* Line 0 concerns the whole file: no ":0". */
	load_fixture(state, &l, "missing_top.conf");
	f = tmpfile();
	assert_non_null(f);
	ztg_policy_diag_print(f, &l.diag);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	snprintf(expect, sizeof(expect), "%s: error: missing required key \"version\"", l.path);
	assert_non_null(strstr(text, expect));
	unload(&l);
}

static void test_no_diag(void **state)
{
	const struct paths *p = *state;
	struct ztg_policy *policy = (struct ztg_policy *)&policy;
	char path[PATH_MAX];

	fixture_path(state, "bad_port.conf", path, sizeof(path));
	assert_int_equal(ztg_policy_load(path, &policy, NULL), -EINVAL);
	assert_null(policy);
	assert_int_equal(ztg_policy_load(p->example, &policy, NULL), 0);
	assert_non_null(policy);
	ztg_policy_free(policy);
	ztg_policy_free(NULL);
	assert_int_equal(ztg_policy_load(NULL, &policy, NULL), -EINVAL);
	assert_int_equal(ztg_policy_load(path, NULL, NULL), -EINVAL);
}

/* Diagnostics of two loads accumulate in one diag. */
static void test_diag_accumulates(void **state)
{
	struct ztg_policy_diag diag;
	struct ztg_policy *policy;
	char path[PATH_MAX];

	ztg_policy_diag_init(&diag);
	fixture_path(state, "bad_port.conf", path, sizeof(path));
	assert_int_equal(ztg_policy_load(path, &policy, &diag), -EINVAL);
	fixture_path(state, "warnings.conf", path, sizeof(path));
	assert_int_equal(ztg_policy_load(path, &policy, &diag), 0);
	assert_int_equal(diag.errors, 4);
	assert_int_equal(diag.warnings, 4);
	assert_int_equal(diag.count, 8);
	ztg_policy_free(policy);
	ztg_policy_diag_free(&diag);
	assert_int_equal(diag.count, 0);
	assert_null(diag.entries);
}

static void test_names(void **state)
{
	enum ztg_policy_action action;
	enum ztg_policy_mode mode;
	uint16_t mask;

	(void)state;
	for (unsigned i = 0; i < ZTG_POLICY_MODE_COUNT; i++) {
		assert_int_equal(ztg_policy_mode_from_name(ztg_policy_mode_name((enum ztg_policy_mode)i), &mode), 0);
		assert_int_equal(mode, i);
	}
	for (unsigned i = 0; i < ZTG_POLICY_ACTION_COUNT; i++) {
		assert_int_equal(ztg_policy_action_from_name(ztg_policy_action_name((enum ztg_policy_action)i), &action), 0);
		assert_int_equal(action, i);
	}
	for (unsigned m = ZTG_HTTP_METHOD_GET; m <= ZTG_HTTP_METHOD_TRACE; m++) {
		assert_int_equal(ztg_policy_method_from_name(ztg_policy_method_name((enum ztg_http_method)m), &mask), 0);
		assert_int_equal(mask, ZTG_POLICY_METHOD_BIT(m));
	}
	assert_string_equal(ztg_policy_mode_name(ZTG_POLICY_MODE_MONITOR), "monitor");
	assert_string_equal(ztg_policy_action_name(ZTG_POLICY_ACTION_PASS), "pass");
	assert_string_equal(ztg_policy_method_name(ZTG_HTTP_METHOD_OPTIONS), "OPTIONS");
	assert_string_equal(ztg_policy_method_name(ZTG_HTTP_METHOD_OTHER), "?");
	assert_string_equal(ztg_policy_mode_name(ZTG_POLICY_MODE_COUNT), "?");
	assert_string_equal(ztg_policy_action_name(ZTG_POLICY_ACTION_COUNT), "?");
	assert_int_equal(ztg_policy_method_from_name("ANY", &mask), 0);
	assert_int_equal(mask, ZTG_POLICY_METHODS_ANY);
	assert_int_equal(ztg_policy_method_from_name("get", &mask), -1);
	assert_int_equal(ztg_policy_mode_from_name("Enforce", &mode), -1);
	assert_int_equal(ztg_policy_action_from_name("", &action), -1);
	assert_int_equal(ztg_policy_action_from_name(NULL, &action), -1);
	assert_string_equal(ztg_policy_severity_name(ZTG_POLICY_WARNING), "warning");
	assert_string_equal(ztg_policy_rate_key_name(ZTG_POLICY_RATE_API_KEY), "api_key");
	assert_string_equal(ztg_policy_rate_key_name(ZTG_POLICY_RATE_KEY_COUNT), "?");
	assert_string_equal(ztg_policy_rate_action_name(ZTG_POLICY_RATE_ACTION_ALERT), "alert");
	assert_string_equal(ztg_policy_rate_action_name(ZTG_POLICY_RATE_ACTION_COUNT), "?");
	assert_string_equal(ztg_policy_rate_period_name(1), "second");
	assert_string_equal(ztg_policy_rate_period_name(60), "minute");
	assert_string_equal(ztg_policy_rate_period_name(3600), "hour");
	assert_string_equal(ztg_policy_rate_period_name(2), "?");
	assert_string_equal(ztg_policy_behaviour_floor_name(ZTG_POLICY_FLOOR_REQUESTS), "requests");
	assert_string_equal(ztg_policy_behaviour_floor_name(ZTG_POLICY_FLOOR_BYTES), "bytes");
	assert_string_equal(ztg_policy_behaviour_floor_name(ZTG_POLICY_FLOOR_COUNT), "?");
	assert_string_equal(ztg_policy_behaviour_signal_name(ZTG_POLICY_SIGNAL_ANOMALY), "anomaly");
	assert_string_equal(ztg_policy_behaviour_signal_name(ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES), "source_identities");
	assert_string_equal(ztg_policy_behaviour_signal_name(ZTG_POLICY_SIGNAL_COUNT), "?");
}

/* ------------------------------------------------------------- behaviour */

static void test_behaviour_ok(void **state)
{
	const char *f = "behaviour_ok.conf";
	const struct ztg_policy_behaviour *b;
	char path[PATH_MAX], *text;
	struct load l;

	load_fixture(state, &l, f);
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 0) {
		dump(&l);
		fail_msg("%s must load without errors or warnings", f);
	}
	fixture_path(state, f, path, sizeof(path));
	b = &l.policy->behaviour;
	assert_true(b->present);
	assert_string_equal(b->loc.file, path);
	assert_int_equal(b->loc.line, 9);
	assert_true(b->monitor);
	assert_int_equal(b->window, 30);
	assert_int_equal(b->history, 12);
	assert_true(b->factor == 2.5);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_REQUESTS], 0);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_ERRORS], 5);
	assert_int_equal(b->floors[ZTG_POLICY_FLOOR_OBJECTS], 64);            /* 0x40 */
	assert_true(b->floors[ZTG_POLICY_FLOOR_BYTES] == 10000000000ull);    /* 10000000000L */
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_ANOMALY], 0);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_AUTH_FAILURES], 0);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_TOKEN_SOURCES], 3);
	assert_int_equal(b->limits[ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES], 4000000000u);
	assert_true(b->threshold == 250.5);
	assert_int_equal(b->half_life, 120);
	assert_int_equal(b->quarantine, 0);
	assert_true(b->weights[ZTG_POLICY_SIGNAL_ANOMALY] == 50.5);
	assert_true(b->weights[ZTG_POLICY_SIGNAL_AUTH_FAILURES] == 0.0);
	assert_false(signbit(b->weights[ZTG_POLICY_SIGNAL_TOKEN_SOURCES]));   /* -0.0 written */
	assert_true(b->weights[ZTG_POLICY_SIGNAL_SOURCE_IDENTITIES] == 1000.0);

	text = behaviour_text(b, "  ");
	assert_string_equal(text,
			    "  behaviour: monitor, window 30 s, baseline over 12 windows, factor 2.5\n"
			    "    floors per window: requests 0, errors 5, objects 64, bytes 10000000000\n"
			    "    signals per window: auth_failures off, token_sources 3, source_identities 4000000000\n"
			    "    risk: threshold 250.5, half-life 120 s, quarantine until deleted; weights anomaly 50.5, "
			    "auth_failures 0, token_sources 0, source_identities 1000\n");
	free(text);
	unload(&l);
}

static void test_behaviour_defaults(void **state)
{
	struct ztg_policy_behaviour b;
	char *text;
	struct load l;

	/* Empty groups and one weight: the rest are the defaults. */
	load_fixture(state, &l, "behaviour_defaults.conf");
	if (l.rc != 0 || l.diag.errors != 0 || l.diag.warnings != 0) {
		dump(&l);
		fail_msg("behaviour_defaults.conf must load without errors or warnings");
	}
	b = l.policy->behaviour;
	assert_true(b.weights[ZTG_POLICY_SIGNAL_ANOMALY] == 1.0);
	b.weights[ZTG_POLICY_SIGNAL_ANOMALY] = 100;
	assert_behaviour_defaults(&b);
	assert_int_equal(b.loc.line, 10);
	text = behaviour_text(&b, "");
	assert_string_equal(text,
			    "behaviour: enforce, window 10 s, baseline over 6 windows, factor 10\n"
			    "  floors per window: requests 100, errors 20, objects 50, bytes 10485760\n"
			    "  signals per window: auth_failures 20, token_sources 5, source_identities 10\n"
			    "  risk: threshold 100, half-life 60 s, quarantine 300 s; weights anomaly 100, auth_failures 100, "
			    "token_sources 100, source_identities 100\n");
	free(text);
	unload(&l);

	/* Absent: nothing is watched, nothing is printed. */
	load_fixture(state, &l, "rate_limits_ok.conf");
	assert_int_equal(l.rc, 0);
	memset(&b, 0, sizeof(b));
	assert_memory_equal(&l.policy->behaviour, &b, sizeof(b));
	text = behaviour_text(&l.policy->behaviour, "  ");
	assert_string_equal(text, "");
	free(text);
	unload(&l);
}

static void test_behaviour_types(void **state)
{
	const char *f = "behaviour_types.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 10);
	expect_error(state, &l, f, 10, "behaviour.mode: expected a string (enforce or monitor), got an integer");
	expect_error(state, &l, f, 11, "behaviour.window: expected an integer 1..3600, got a string");
	expect_error(state, &l, f, 12, "behaviour.history: expected an integer 1..1000, got a floating-point number");
	expect_error(state, &l, f, 13, "behaviour.factor: expected a number > 1, got a string");
	expect_error(state, &l, f, 14, "behaviour.floors.requests: expected an integer >= 0, got a string");
	expect_error(state, &l, f, 14, "behaviour.floors.bytes: expected an integer >= 0, got a floating-point number");
	expect_error(state, &l, f, 15, "behaviour.signals: expected a group { auth_failures = ...; token_sources = ...; "
		     "source_identities = ...; }, got a list ( ... )");
	expect_error(state, &l, f, 16, "behaviour.risk.threshold: expected a number > 0, got a boolean");
	expect_error(state, &l, f, 16, "behaviour.risk.half_life: expected an integer 1..31536000, got a string");
	expect_error(state, &l, f, 16, "behaviour.risk.weights: expected a group { anomaly = ...; auth_failures = ...; "
		     "token_sources = ...; source_identities = ...; }, got an array [ ... ]");
	unload(&l);
}

static void test_behaviour_values(void **state)
{
	const char *f = "behaviour_values.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 15);
	expect_error(state, &l, f, 10, "behaviour.mode: unknown mode \"monitr\" (expected enforce or monitor)");
	expect_error(state, &l, f, 11, "behaviour.window: 0 is out of range 1..3600");
	expect_error(state, &l, f, 12, "behaviour.history: 1001 is out of range 1..1000");
	expect_error(state, &l, f, 13, "behaviour.factor: 1 is out of range (expected more than 1)");
	expect_error(state, &l, f, 14, "behaviour.floors.requests: -1 is out of range (expected at least 0)");
	/* Silently cut to 32 bits by libconfig 1.5, even into range: caught from the text, with the fix. */
	expect_error(state, &l, f, 14, "behaviour.floors.errors: 0x100000005 does not fit a plain integer (libconfig "
		     "reads it as 5): write 0x100000005L");
	expect_error(state, &l, f, 15, "behaviour.floors.bytes: 10000000000 does not fit a plain integer (libconfig "
		     "reads it as 1410065408): write 10000000000L");
	expect_error(state, &l, f, 15, "behaviour.floors.objects: 3000000000 does not fit a plain integer (libconfig "
		     "reads it as -1294967296): write 3000000000L");
	expect_error(state, &l, f, 16, "behaviour.signals.auth_failures: -5 is out of range 0..4294967295");
	expect_error(state, &l, f, 16, "behaviour.signals.token_sources: 4294967296 is out of range 0..4294967295");
	expect_error(state, &l, f, 17, "behaviour.risk.threshold: 0 is out of range (expected more than 0)");
	expect_error(state, &l, f, 17, "behaviour.risk.half_life: 0 is out of range 1..31536000");
	expect_error(state, &l, f, 17, "behaviour.risk.quarantine: -1 is out of range 0..315360000");
	expect_error(state, &l, f, 18, "behaviour.risk.weights.anomaly: -0.5 is out of range (expected at least 0)");
	expect_error(state, &l, f, 18, "behaviour.risk.weights.token_sources: inf is out of range (expected at least 0)");
	unload(&l);
}

static void test_behaviour_keys(void **state)
{
	const char *f = "behaviour_keys.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 5);
	expect_error(state, &l, f, 10, "behaviour: unknown key \"windw\" (allowed: mode, window, history, factor, floors, "
		     "signals, risk)");
	expect_error(state, &l, f, 11, "behaviour.floors: unknown key \"requets\" (allowed: requests, errors, objects, "
		     "bytes)");
	/* The anomaly signal has a weight but no count of its own. */
	expect_error(state, &l, f, 12, "behaviour.signals: unknown key \"anomaly\" (allowed: auth_failures, "
		     "token_sources, source_identities)");
	expect_error(state, &l, f, 13, "behaviour.risk: unknown key \"treshold\" (allowed: threshold, half_life, "
		     "quarantine, weights)");
	expect_error(state, &l, f, 13, "behaviour.risk.weights: unknown key \"anomly\" (allowed: anomaly, auth_failures, "
		     "token_sources, source_identities)");
	unload(&l);
}

static void test_behaviour_place(void **state)
{
	const char *f = "behaviour_place.conf";
	struct load l;

	load_fixture(state, &l, f);
	expect_failure(&l, 3);
	expect_error(state, &l, f, 6, "services[0]: unknown key \"behaviour\"");
	expect_error(state, &l, f, 7, "services[0].routes[0]: unknown key \"behaviour\"");
	expect_error(state, &l, f, 10, "behaviour: expected a group { mode = ...; window = ...; floors = { ... }; "
		     "signals = { ... }; risk = { ... }; }, got a string");
	unload(&l);
}

static void test_behaviour_include(void **state)
{
	struct load l;

	/* The cut integer is found again in the included file, whose line the error names. */
	load_fixture(state, &l, "behaviour_include.conf");
	expect_failure(&l, 1);
	expect_error(state, &l, "behaviour_include_part.conf", 2, "behaviour.floors.bytes: 10000000000 does not fit a "
		     "plain integer (libconfig reads it as 1410065408): write 10000000000L");
	unload(&l);
}

/* A bundle carries the policy's text and is loaded again from it: the section comes back whole. */
static void test_behaviour_bundle(void **state)
{
	struct ztg_policy_source src = {0}, again = {0};
	const struct ztg_policy_behaviour *a, *b;
	char path[PATH_MAX], dir[PATH_MAX / 2], bundle[PATH_MAX], err[1024] = "";

	fixture_path(state, "behaviour_ok.conf", path, sizeof(path));
	if (ztg_policy_source_load(path, &src, NULL, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	write_temp(dir, sizeof(dir), bundle, sizeof(bundle), "b.ztgb");
	if (ztg_policy_source_save(&src, bundle, err, sizeof(err)) != 0)
		fail_msg("save: %s", err);
	if (ztg_policy_source_load(bundle, &again, NULL, err, sizeof(err)) != 0)
		fail_msg("%s: %s", bundle, err);
	a = &src.policy->behaviour;
	b = &again.policy->behaviour;
	assert_true(b->present);
	assert_int_equal(b->monitor, a->monitor);
	assert_int_equal(b->window, a->window);
	assert_int_equal(b->history, a->history);
	assert_true(b->factor == a->factor);
	assert_memory_equal(b->floors, a->floors, sizeof(a->floors));
	assert_memory_equal(b->limits, a->limits, sizeof(a->limits));
	assert_true(b->threshold == a->threshold);
	assert_int_equal(b->half_life, a->half_life);
	assert_int_equal(b->quarantine, a->quarantine);
	assert_memory_equal(b->weights, a->weights, sizeof(a->weights));
	assert_int_equal(b->loc.line, a->loc.line);
	ztg_policy_source_release(&src);
	ztg_policy_source_release(&again);
	assert_int_equal(unlink(bundle), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ----------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static struct paths paths;
	const char *fixtures = argc > 1 ? argv[1] : getenv("ZTG_POLICY_FIXTURES");
	const char *example = argc > 2 ? argv[2] : getenv("ZTG_POLICY_EXAMPLE");
	size_t len;

	if (fixtures == NULL || *fixtures == '\0') {
		fprintf(stderr, "usage: %s FIXTURE_DIR [EXAMPLE_POLICY]\n"
			"  (or set ZTG_POLICY_FIXTURES and optionally ZTG_POLICY_EXAMPLE)\n", argv[0]);
		return 2;
	}
	if (strlen(fixtures) >= sizeof(paths.fixtures) - 64 || (example != NULL && strlen(example) >= sizeof(paths.example))) {
		fprintf(stderr, "%s: path too long\n", argv[0]);
		return 2;
	}
	snprintf(paths.fixtures, sizeof(paths.fixtures), "%s", fixtures);
	len = strlen(paths.fixtures);
	while (len > 1 && paths.fixtures[len - 1] == '/')
		paths.fixtures[--len] = '\0';
	if (example != NULL && *example != '\0')
		snprintf(paths.example, sizeof(paths.example), "%s", example);
	else
		snprintf(paths.example, sizeof(paths.example), "%.*s/../../../rules/policy.example.conf",
			 (int)sizeof(paths.example) - 64, paths.fixtures);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_example_policy, &paths),
		cmocka_unit_test_prestate(test_includes_load, &paths),
		cmocka_unit_test_prestate(test_warnings, &paths),
		cmocka_unit_test_prestate(test_missing_top_keys, &paths),
		cmocka_unit_test_prestate(test_missing_key, &paths),
		cmocka_unit_test_prestate(test_unknown_key, &paths),
		cmocka_unit_test_prestate(test_wrong_type, &paths),
		cmocka_unit_test_prestate(test_bad_enum, &paths),
		cmocka_unit_test_prestate(test_bad_version, &paths),
		cmocka_unit_test_prestate(test_bad_name, &paths),
		cmocka_unit_test_prestate(test_bad_cidr, &paths),
		cmocka_unit_test_prestate(test_bad_port, &paths),
		cmocka_unit_test_prestate(test_identity_ok, &paths),
		cmocka_unit_test_prestate(test_identity_errors, &paths),
		cmocka_unit_test_prestate(test_rate_limits_ok, &paths),
		cmocka_unit_test_prestate(test_rate_limits_keys, &paths),
		cmocka_unit_test_prestate(test_rate_limits_values, &paths),
		cmocka_unit_test_prestate(test_rate_limits_prefix, &paths),
		cmocka_unit_test_prestate(test_rate_limits_not_allow, &paths),
		cmocka_unit_test_prestate(test_rate_limits_duplicate, &paths),
		cmocka_unit_test_prestate(test_rate_limits_size, &paths),
		cmocka_unit_test_prestate(test_empty_lists, &paths),
		cmocka_unit_test_prestate(test_bad_host, &paths),
		cmocka_unit_test_prestate(test_methods, &paths),
		cmocka_unit_test_prestate(test_bad_path, &paths),
		cmocka_unit_test_prestate(test_duplicate_names, &paths),
		cmocka_unit_test_prestate(test_undefined_segment, &paths),
		cmocka_unit_test_prestate(test_access_unknown, &paths),
		cmocka_unit_test_prestate(test_access_duplicate, &paths),
		cmocka_unit_test_prestate(test_route_overlap, &paths),
		cmocka_unit_test_prestate(test_bad_template, &paths),
		cmocka_unit_test_prestate(test_service_overlap, &paths),
		cmocka_unit_test_prestate(test_segment_overlap, &paths),
		cmocka_unit_test_prestate(test_include_error, &paths),
		cmocka_unit_test_prestate(test_include_missing, &paths),
		cmocka_unit_test_prestate(test_include_syntax, &paths),
		cmocka_unit_test_prestate(test_include_directory, &paths),
		cmocka_unit_test_prestate(test_include_fifo, &paths),
		cmocka_unit_test_prestate(test_syntax_error, &paths),
		cmocka_unit_test_prestate(test_unreadable, &paths),
		cmocka_unit_test_prestate(test_caps, &paths),
		cmocka_unit_test_prestate(test_diag_bound, &paths),
		cmocka_unit_test_prestate(test_diag_print, &paths),
		cmocka_unit_test_prestate(test_no_diag, &paths),
		cmocka_unit_test_prestate(test_diag_accumulates, &paths),
		cmocka_unit_test_prestate(test_names, &paths),
		cmocka_unit_test_prestate(test_behaviour_ok, &paths),
		cmocka_unit_test_prestate(test_behaviour_defaults, &paths),
		cmocka_unit_test_prestate(test_behaviour_types, &paths),
		cmocka_unit_test_prestate(test_behaviour_values, &paths),
		cmocka_unit_test_prestate(test_behaviour_keys, &paths),
		cmocka_unit_test_prestate(test_behaviour_place, &paths),
		cmocka_unit_test_prestate(test_behaviour_include, &paths),
		cmocka_unit_test_prestate(test_behaviour_bundle, &paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
