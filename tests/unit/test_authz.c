/*
 * Unit tests of the runtime policy (dataplane/policy/authz.c): flow
 * placement (segments, service candidates by nested prefixes and ports, the
 * access matrix) and request decisions (Host exact and wildcard, routes,
 * defaults, modes), on policies written to a temporary file and loaded the
 * way ztgate loads them. rte_rib needs the EAL: a minimal one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "eal_fixture.h"
#include "policy/authz.h"
#include "policy_compile.h"
#include "policy_load.h"

static const char POLICY[] =
	"version = 1;\n"
	"name = \"authz-test\";\n"
	"defaults = { action = \"reset\"; unknown_host = \"drop\"; non_http = \"pass\"; };\n"
	"segments = (\n"
	"  { name = \"office\"; addresses = [ \"10.1.0.0/16\", \"2001:db8:a::/48\" ]; },\n"
	"  { name = \"lab\";    addresses = [ \"10.2.0.0/16\" ]; },\n"
	"  { name = \"dc\";     addresses = [ \"10.9.0.0/16\" ]; }\n"
	");\n"
	"services = (\n"
	"  { name = \"wide\"; hosts = [ \"wide.test\" ]; addresses = [ \"10.9.0.0/24\" ]; ports = [ 80 ];\n"
	"    segment = \"dc\";\n"
	"    routes = ( { name = \"all\"; methods = [ \"ANY\" ]; path = \"/*\"; action = \"allow\"; anonymous = true; } ); },\n"
	"  { name = \"narrow\"; hosts = [ \"*.shop.test\" ]; addresses = [ \"10.9.0.5/32\", \"2001:db8:9::5/128\" ];\n"
	"    ports = [ 80, 8443 ]; segment = \"dc\";\n"
	"    routes = (\n"
	"      { name = \"order\"; methods = [ \"GET\" ]; path = \"/orders/{id}\"; action = \"allow\"; anonymous = true; },\n"
	"      { name = \"beta\"; methods = [ \"GET\" ]; path = \"/beta\"; action = \"deny\"; mode = \"monitor\"; },\n"
	"      { name = \"admin\"; methods = [ \"ANY\" ]; path = \"/admin/*\"; action = \"drop\"; }\n"
	"    ); },\n"
	"  { name = \"quiet\"; hosts = [ \"quiet.test\" ]; addresses = [ \"10.9.1.0/24\" ]; ports = [ 8080 ];\n"
	"    segment = \"dc\"; mode = \"monitor\";\n"
	"    routes = ( { name = \"ping\"; methods = [ \"GET\" ]; path = \"/ping\"; action = \"allow\"; anonymous = true; } ); }\n"
	");\n"
	"access = (\n"
	"  { from = \"office\"; to = [ \"wide\", \"narrow\", \"quiet\" ]; },\n"
	"  { from = \"lab\"; to = [ \"wide\" ]; }\n"
	");\n";

static struct ztg_authz *authz;
static char policy_path[64];

static void addr(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(strchr(text, ':') ? AF_INET6 : AF_INET, text, out), 1);
}

static enum ztg_authz_flow_result place(const char *client, const char *server, uint16_t port,
					struct ztg_authz_flow *flow)
{
	uint8_t c[16], s[16];

	addr(client, c);
	addr(server, s);
	return ztg_authz_classify_flow(authz, strchr(client, ':') ? 6 : 4, c, s, port, flow);
}

static void decide(const char *client, const char *server, uint16_t port, const char *host, unsigned int method,
		   const char *path, struct ztg_authz_decision *d)
{
	struct ztg_authz_flow flow;

	assert_int_equal(place(client, server, port, &flow), ZTG_AUTHZ_FLOW_ALLOWED);
	ztg_authz_request(authz, &flow, host, strlen(host), method, path, strlen(path), d);
}

static const char *service_name(const struct ztg_authz_decision *d)
{
	return d->service == ZTG_AUTHZ_NONE ? "-" : ztg_authz_policy(authz)->services[d->service].name;
}

static const char *route_name(const struct ztg_authz_decision *d)
{
	return d->route == ZTG_AUTHZ_NONE ? "-" :
	       ztg_authz_policy(authz)->services[d->service].routes[d->route].name;
}

static int setup(void **state)
{
	struct ztg_policy *policy = NULL;
	char err[256];
	int fd;

	if (ztg_eal_fixture_setup(state) != 0)
		return -1;
	snprintf(policy_path, sizeof(policy_path), "/tmp/ztg-authz-XXXXXX");
	fd = mkstemp(policy_path);
	if (fd < 0 || write(fd, POLICY, sizeof(POLICY) - 1) != (ssize_t)(sizeof(POLICY) - 1))
		return -1;
	close(fd);
	if (ztg_policy_load(policy_path, &policy, NULL) != 0)
		return -1;
	authz = ztg_authz_build(policy, NULL, 0, 7, err, sizeof(err));
	if (authz == NULL)
		fprintf(stderr, "build: %s\n", err);
	return authz == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	unlink(policy_path);
	ztg_authz_free(authz);
	return ztg_eal_fixture_teardown(state);
}

static void test_segments(void **state)
{
	struct ztg_authz_flow f;

	(void)state;
	assert_int_equal(place("10.1.200.3", "10.9.0.9", 80, &f), ZTG_AUTHZ_FLOW_ALLOWED);
	assert_string_equal(ztg_authz_policy(authz)->segments[f.segment].name, "office");
	assert_int_equal(f.generation, 7);
	assert_int_equal(place("2001:db8:a:1::7", "2001:db8:9::5", 80, &f), ZTG_AUTHZ_FLOW_ALLOWED);
	assert_string_equal(ztg_authz_policy(authz)->segments[f.segment].name, "office");
	/* In no segment: no access to anything protected. */
	assert_int_equal(place("192.0.2.1", "10.9.0.9", 80, &f), ZTG_AUTHZ_FLOW_SEGMENT_DENIED);
	assert_int_equal(f.segment, ZTG_AUTHZ_NONE);
}

static void test_destinations(void **state)
{
	struct ztg_authz_flow f;

	(void)state;
	/* Outside every service prefix, or on a port no service there listens on: not the policy's business. */
	assert_int_equal(place("10.1.0.1", "10.8.0.1", 80, &f), ZTG_AUTHZ_FLOW_UNPROTECTED);
	assert_int_equal(place("10.1.0.1", "10.9.0.9", 8443, &f), ZTG_AUTHZ_FLOW_UNPROTECTED);
	/* 10.9.0.5 is in narrow's /32 and wide's /24: both are candidates. lab reaches wide only. */
	assert_int_equal(place("10.2.0.1", "10.9.0.5", 80, &f), ZTG_AUTHZ_FLOW_ALLOWED);
	/* On 8443 only narrow listens, which lab may not reach. */
	assert_int_equal(place("10.2.0.1", "10.9.0.5", 8443, &f), ZTG_AUTHZ_FLOW_SEGMENT_DENIED);
	assert_int_equal(ztg_authz_flow_mode(authz, &f), ZTG_POLICY_MODE_ENFORCE);
	/* quiet monitors: a refusal there only logs. */
	assert_int_equal(place("10.2.0.1", "10.9.1.1", 8080, &f), ZTG_AUTHZ_FLOW_SEGMENT_DENIED);
	assert_int_equal(ztg_authz_flow_mode(authz, &f), ZTG_POLICY_MODE_MONITOR);
}

static void test_hosts(void **state)
{
	struct ztg_authz_decision d;

	(void)state;
	/* The same address, the service by Host: the nested one does not hide the wide one. */
	decide("10.1.0.1", "10.9.0.5", 80, "wide.test", ZTG_HTTP_METHOD_GET, "/anything", &d);
	assert_string_equal(service_name(&d), "wide");
	assert_int_equal(d.action, ZTG_POLICY_ACTION_ALLOW);
	decide("10.1.0.1", "10.9.0.5", 80, "api.shop.test", ZTG_HTTP_METHOD_GET, "/orders/9", &d);
	assert_string_equal(service_name(&d), "narrow");
	decide("10.1.0.1", "10.9.0.5", 80, "a.b.shop.test", ZTG_HTTP_METHOD_GET, "/orders/9", &d);
	assert_string_equal(service_name(&d), "narrow");
	/* "*.shop.test" needs a label before it. */
	decide("10.1.0.1", "10.9.0.5", 80, "shop.test", ZTG_HTTP_METHOD_GET, "/orders/9", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_UNKNOWN_HOST);
	assert_int_equal(d.action, ZTG_POLICY_ACTION_DROP);
	decide("10.1.0.1", "10.9.0.5", 80, "xshop.test", ZTG_HTTP_METHOD_GET, "/orders/9", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_UNKNOWN_HOST);
	/* A Host of a service listening elsewhere is unknown here. */
	decide("10.1.0.1", "10.9.0.9", 80, "api.shop.test", ZTG_HTTP_METHOD_GET, "/orders/9", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_UNKNOWN_HOST);
	decide("10.1.0.1", "10.9.0.5", 80, "", ZTG_HTTP_METHOD_GET, "/orders/9", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_UNKNOWN_HOST);
}

static void test_routes_and_defaults(void **state)
{
	struct ztg_authz_decision d;

	(void)state;
	decide("10.1.0.1", "10.9.0.5", 8443, "api.shop.test", ZTG_HTTP_METHOD_GET, "/orders/42", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_ALLOWED);
	assert_string_equal(route_name(&d), "order");
	assert_int_equal(d.match.param_count, 1);
	assert_int_equal(d.match.params[0].off, 8);
	assert_int_equal(d.match.params[0].len, 2);

	decide("10.1.0.1", "10.9.0.5", 8443, "api.shop.test", ZTG_HTTP_METHOD_POST, "/orders/42", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_METHOD_NOT_ALLOWED);
	assert_string_equal(route_name(&d), "order");
	assert_int_equal(d.action, ZTG_POLICY_ACTION_RESET);   /* defaults.action */

	decide("10.1.0.1", "10.9.0.5", 8443, "api.shop.test", ZTG_HTTP_METHOD_GET, "/nothing", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_NO_ROUTE);
	assert_int_equal(d.action, ZTG_POLICY_ACTION_RESET);
	assert_int_equal(d.mode, ZTG_POLICY_MODE_ENFORCE);

	decide("10.1.0.1", "10.9.0.5", 8443, "api.shop.test", ZTG_HTTP_METHOD_DELETE, "/admin/users/1", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_ROUTE_ACTION);
	assert_int_equal(d.action, ZTG_POLICY_ACTION_DROP);

	decide("10.1.0.1", "10.9.0.5", 8443, "api.shop.test", ZTG_HTTP_METHOD_GET, "/beta", &d);
	assert_int_equal(d.action, ZTG_POLICY_ACTION_DENY);
	assert_int_equal(d.mode, ZTG_POLICY_MODE_MONITOR);     /* the route's own mode */

	/* The monitoring service's default decisions are monitored too. */
	decide("10.1.0.1", "10.9.1.1", 8080, "quiet.test", ZTG_HTTP_METHOD_GET, "/pong", &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_NO_ROUTE);
	assert_int_equal(d.mode, ZTG_POLICY_MODE_MONITOR);
}

static void test_segment_matrix_per_service(void **state)
{
	struct ztg_authz_flow f;
	struct ztg_authz_decision d;

	(void)state;
	/* lab may reach wide at 10.9.0.5:80 but not narrow: the Host decides which it asked for. */
	assert_int_equal(place("10.2.0.1", "10.9.0.5", 80, &f), ZTG_AUTHZ_FLOW_ALLOWED);
	ztg_authz_request(authz, &f, "api.shop.test", 13, ZTG_HTTP_METHOD_GET, "/orders/1", 9, &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_SEGMENT_DENIED);
	assert_string_equal(service_name(&d), "narrow");
	ztg_authz_request(authz, &f, "wide.test", 9, ZTG_HTTP_METHOD_GET, "/orders/1", 9, &d);
	assert_int_equal(d.reason, ZTG_AUTHZ_ALLOWED);
}

static void test_explain(void **state)
{
	struct ztg_authz_explain_request req = {.ip_version = 4, .port = 8443, .method = "POST",
						.target = "/orders/7?x=1", .host = "api.shop.test"};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	addr("10.1.0.1", req.client);
	addr("10.9.0.5", req.server);
	assert_int_equal(ztg_authz_explain(authz, &req, true, out), ZTG_POLICY_ACTION_RESET);
	fclose(out);
	assert_non_null(strstr(text, "\"segment\":\"office\""));
	assert_non_null(strstr(text, "\"service\":\"narrow\""));
	assert_non_null(strstr(text, "\"route\":\"order\""));
	assert_non_null(strstr(text, "\"captures\":{\"id\":\"7\"}"));
	assert_non_null(strstr(text, "\"reason\":\"method_not_allowed\""));
	free(text);
}

/* The runtime form shipped in a bundle is taken as it is, and only if it describes the policy's routes. */
static void test_shipped_matchers(void **state)
{
	struct ztg_bundle_files files = {0};
	struct ztg_policy *policy = NULL;
	struct ztg_authz *shipped;
	char err[256] = "";

	(void)state;
	assert_int_equal(ztg_policy_load(policy_path, &policy, NULL), 0);
	assert_int_equal(ztg_policy_compile_records(policy, &files, err, sizeof(err)), 0);
	assert_int_equal(files.count, 3);
	shipped = ztg_authz_build(policy, &files, 0, 8, err, sizeof(err));
	assert_non_null(shipped);
	assert_int_equal(ztg_authz_shipped_matchers(shipped), 3);
	ztg_authz_free(shipped);

	/* narrow's matcher in place of wide's: a valid block, but not wide's routes. */
	assert_int_equal(ztg_policy_load(policy_path, &policy, NULL), 0);
	free(files.files[0].data);
	files.files[0].data = malloc(files.files[1].len);
	memcpy(files.files[0].data, files.files[1].data, files.files[1].len);
	files.files[0].len = files.files[1].len;
	assert_null(ztg_authz_build(policy, &files, 0, 9, err, sizeof(err)));
	assert_non_null(strstr(err, "service wide"));

	/* A truncated block is refused too. */
	assert_int_equal(ztg_policy_load(policy_path, &policy, NULL), 0);
	files.files[0].len = 16;
	assert_null(ztg_authz_build(policy, &files, 0, 10, err, sizeof(err)));
	assert_non_null(strstr(err, "compiled/routes/0"));
	ztg_bundle_files_free(&files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_destinations),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_routes_and_defaults),
		cmocka_unit_test(test_segment_matrix_per_service),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_shipped_matchers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
