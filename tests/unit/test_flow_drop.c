/*
 * Hardware drop rules (flow_drop.h) under a minimal EAL (eal_fixture.h)
 * with two virtual ports made at run time: net_null, which has no rte_flow
 * at all, and net_tap, whose rules are tc flower filters in the kernel.
 * Whether this kernel lets net_tap hold them is probed first with rte_flow
 * itself; where it does, the rules are checked in `tc filter show`, where
 * it does not, the refusal must be reported as net_tap words it and the
 * hardware half is said to be untested, never assumed.
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

#include <cmocka.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>

#include "eal_fixture.h"
#include "flow_drop.h"

#define NULL_DEV "net_null0"
#define TAP_DEV  "net_tap0"
#define NULL_REASON "net_null: Function not implemented"

/* The ports the whole group shares: made once, since a tap device costs a netlink round trip or two. */
struct world {
	struct rte_mempool *pool;
	uint16_t null_port;
	bool null_up;
	uint16_t tap_port;
	bool tap_up;
	char tap_iface[16];
	bool tap_flow;                   /* the probe rule was created: this kernel has flower */
	char tap_message[128];           /* otherwise the PMD's message, */
	char tap_reason[160];            /* and "net_tap: <that message>" as the status must give it */
};

static struct world world;

static int port_start(const char *dev, const char *args, uint16_t *port)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	if (rte_eal_hotplug_add("vdev", dev, args) != 0) {
		fprintf(stderr, "test_flow_drop: cannot create %s: %s\n", dev, rte_strerror(rte_errno));
		return -1;
	}
	if (rte_eth_dev_get_port_by_name(dev, port) != 0 || rte_eth_dev_configure(*port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(*port, 0, 32, SOCKET_ID_ANY, NULL, world.pool) != 0 ||
	    rte_eth_tx_queue_setup(*port, 0, 32, SOCKET_ID_ANY, NULL) != 0 || rte_eth_dev_start(*port) != 0) {
		fprintf(stderr, "test_flow_drop: cannot start %s\n", dev);
		rte_eal_hotplug_remove("vdev", dev);
		return -1;
	}
	return 0;
}

static void port_remove(const char *dev, uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_hotplug_remove("vdev", dev);
}

/*
 * Can net_tap hold a drop rule on this kernel? Validate alone does not tell:
 * net_tap checks the pattern in user space and validates it even when its
 * qdiscs are missing, so the probe creates one (and removes it).
 */
static void tap_probe(void)
{
	const struct rte_flow_attr attr = { .ingress = 1 };
	const uint8_t net[4] = { 198, 51, 100, 0 }, mask[4] = { 255, 255, 255, 0 };
	struct rte_flow_item_ipv4 spec, item_mask;
	struct rte_flow_item pattern[3];
	const struct rte_flow_action actions[] = {
		{ .type = RTE_FLOW_ACTION_TYPE_DROP },
		{ .type = RTE_FLOW_ACTION_TYPE_END },
	};
	struct rte_flow_error error;
	struct rte_flow *flow = NULL;
	int rc, err;

	memset(&spec, 0, sizeof(spec));
	memset(&item_mask, 0, sizeof(item_mask));
	memcpy(&spec.hdr.src_addr, net, 4);
	memcpy(&item_mask.hdr.src_addr, mask, 4);
	memset(pattern, 0, sizeof(pattern));
	pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
	pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
	pattern[1].spec = &spec;
	pattern[1].mask = &item_mask;
	pattern[2].type = RTE_FLOW_ITEM_TYPE_END;

	memset(&error, 0, sizeof(error));
	rc = rte_flow_validate(world.tap_port, &attr, pattern, actions, &error);
	err = -rc;
	printf("net_tap probe: rte_flow_validate %d (%s)\n", rc,
	       rc == 0 ? "accepted" : error.message != NULL ? error.message : rte_strerror(err));
	if (rc == 0) {
		memset(&error, 0, sizeof(error));
		flow = rte_flow_create(world.tap_port, &attr, pattern, actions, &error);
		err = rte_errno;
		printf("net_tap probe: rte_flow_create %s (rte_errno %d %s: %s)\n", flow != NULL ? "made a rule" : "refused",
		       flow != NULL ? 0 : err, flow != NULL ? "-" : rte_strerror(err),
		       flow != NULL ? "-" : error.message != NULL ? error.message : "(no message)");
	}
	if (flow != NULL) {
		world.tap_flow = true;
		rte_flow_destroy(world.tap_port, flow, &error);
		return;
	}
	snprintf(world.tap_message, sizeof(world.tap_message), "%s",
		 error.message != NULL && error.message[0] != '\0' ? error.message : rte_strerror(err));
	snprintf(world.tap_reason, sizeof(world.tap_reason), "net_tap: %s", world.tap_message);
}

static int group_setup(void **state)
{
	char args[32];

	if (ztg_eal_fixture_setup(state) != 0)
		return -1;
	world.pool = rte_pktmbuf_pool_create("test_flow_drop", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (world.pool == NULL)
		return -1;
	if (port_start(NULL_DEV, "", &world.null_port) != 0)
		return -1;
	world.null_up = true;
	/* The tap needs root and /dev/net/tun; without them its tests skip, saying so. */
	snprintf(world.tap_iface, sizeof(world.tap_iface), "ztgfd%d", (int)getpid() % 10000000);
	snprintf(args, sizeof(args), "iface=%s", world.tap_iface);
	if (port_start(TAP_DEV, args, &world.tap_port) == 0) {
		world.tap_up = true;
		tap_probe();
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (world.tap_up)
		port_remove(TAP_DEV, world.tap_port);
	if (world.null_up)
		port_remove(NULL_DEV, world.null_port);
	rte_mempool_free(world.pool);
	return ztg_eal_fixture_teardown(state);
}

static void need_tap(void)
{
	if (!world.tap_up) {
		print_message("net_tap could not be created (root and /dev/net/tun needed): skipped\n");
		skip();
	}
}

/* The tap's ingress filters as tc lists them (its error text when there is no ingress qdisc). */
static void tc_filters(char *out, size_t len)
{
	char cmd[96];
	size_t used = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "tc filter show dev %s ingress 2>&1", world.tap_iface);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (used + 1 < len) {
		size_t n = fread(out + used, 1, len - 1 - used, p);

		if (n == 0)
			break;
		used += n;
	}
	out[used] = '\0';
	pclose(p);
}

static unsigned int occurrences(const char *haystack, const char *needle)
{
	unsigned int n = 0;

	for (const char *s = strstr(haystack, needle); s != NULL; s = strstr(s + 1, needle))
		n++;
	return n;
}

static void expect_mask(uint8_t version, uint8_t prefix, const uint8_t *want)
{
	uint8_t mask[16];
	int len = version == 4 ? 4 : 16;

	memset(mask, 0xaa, sizeof(mask));
	assert_int_equal(ztg_flow_drop_mask(version, prefix, mask), len);
	assert_memory_equal(mask, want, (size_t)len);
}

static void test_mask(void **state)
{
	const uint8_t v4_0[4] = { 0 }, v4_8[4] = { 0xff }, v4_13[4] = { 0xff, 0xf8 };
	const uint8_t v4_32[4] = { 0xff, 0xff, 0xff, 0xff };
	const uint8_t v6_0[16] = { 0 };
	const uint8_t v6_48[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t v6_57[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80 };
	const uint8_t v6_127[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe };
	uint8_t v6_128[16], mask[16];

	memset(v6_128, 0xff, sizeof(v6_128));
	expect_mask(4, 0, v4_0);
	expect_mask(4, 8, v4_8);
	expect_mask(4, 13, v4_13);
	expect_mask(4, 32, v4_32);
	expect_mask(6, 0, v6_0);
	expect_mask(6, 48, v6_48);
	expect_mask(6, 57, v6_57);
	expect_mask(6, 127, v6_127);
	expect_mask(6, 128, v6_128);
	assert_int_equal(ztg_flow_drop_mask(4, 33, mask), -1);
	assert_int_equal(ztg_flow_drop_mask(6, 129, mask), -1);
	assert_int_equal(ztg_flow_drop_mask(5, 8, mask), -1);
	assert_int_equal(ztg_flow_drop_mask(4, 8, NULL), -1);
}

static void test_create_refusals(void **state)
{
	uint16_t ports[ZTG_FLOW_DROP_MAX_PORTS + 1];
	struct ztg_flow_drop *fd;

	for (unsigned int i = 0; i < RTE_DIM(ports); i++)
		ports[i] = (uint16_t)i;
	assert_null(ztg_flow_drop_create(ports, ZTG_FLOW_DROP_MAX_PORTS + 1));
	assert_null(ztg_flow_drop_create(NULL, 1));
	ports[0] = RTE_MAX_ETHPORTS - 1;
	assert_null(ztg_flow_drop_create(ports, 1));
	ports[0] = world.null_port;
	ports[1] = world.null_port;
	assert_null(ztg_flow_drop_create(ports, 2));

	/* No ports at all: keys are still held, for the workers' lookup to be the whole story. */
	fd = ztg_flow_drop_create(NULL, 0);
	assert_non_null(fd);
	ztg_flow_drop_free(fd);
}

static void test_invalid_add(void **state)
{
	const uint8_t net[16] = { 10, 1 };
	struct ztg_flow_drop *fd = ztg_flow_drop_create(&world.null_port, 1);
	struct ztg_flow_drop_stats s;
	char status[128];

	assert_non_null(fd);
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, net, 8, status, sizeof(status)), -1);
	assert_string_equal(status, "invalid: host bits set beyond /8");
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, net, 33, status, sizeof(status)), -1);
	assert_string_equal(status, "invalid: prefix /33 is longer than an IPv4 address");
	assert_int_equal(ztg_flow_drop_add(fd, 1, 5, net, 16, status, sizeof(status)), -1);
	assert_string_equal(status, "invalid: IP version 5");
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, NULL, 16, status, sizeof(status)), -1);
	assert_string_equal(status, "invalid: no address");
	assert_int_equal(ztg_flow_drop_add(NULL, 1, 4, net, 16, status, sizeof(status)), -1);
	assert_string_equal(status, "invalid: no flow_drop table");
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, 0);
	assert_int_equal(s.refused, 0);
	assert_false(ztg_flow_drop_has(fd, 1));
	ztg_flow_drop_free(fd);
}

static void test_null_port(void **state)
{
	const uint8_t v4[4] = { 10, 0, 0, 0 };
	const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct ztg_flow_drop *fd = ztg_flow_drop_create(&world.null_port, 1);
	struct ztg_flow_drop_stats s;
	char status[128], want[128];
	uint64_t keys[4];

	assert_non_null(fd);
	snprintf(want, sizeof(want), "software on port %u (" NULL_REASON ")", world.null_port);
	assert_int_equal(ztg_flow_drop_add(fd, 11, 4, v4, 8, status, sizeof(status)), 0);
	assert_string_equal(status, want);
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, 1);
	assert_int_equal(s.rules, 0);
	assert_int_equal(s.refused, 1);

	/* ENOSYS: no rte_flow at all, so the next prefix (of either family) is not asked for, yet says why. */
	assert_int_equal(ztg_flow_drop_add(fd, 12, 6, v6, 32, status, sizeof(status)), 0);
	assert_string_equal(status, want);
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, 2);
	assert_int_equal(s.refused, 1);

	assert_true(ztg_flow_drop_has(fd, 11));
	assert_true(ztg_flow_drop_has(fd, 12));
	assert_false(ztg_flow_drop_has(fd, 13));
	assert_int_equal(ztg_flow_drop_keys(fd, keys, RTE_DIM(keys)), 2);
	assert_true((keys[0] == 11 && keys[1] == 12) || (keys[0] == 12 && keys[1] == 11));
	assert_int_equal(ztg_flow_drop_keys(fd, keys, 1), 1);

	assert_true(ztg_flow_drop_del(fd, 11));
	assert_false(ztg_flow_drop_del(fd, 11));
	assert_false(ztg_flow_drop_has(fd, 11));
	assert_int_equal(ztg_flow_drop_keys(fd, keys, RTE_DIM(keys)), 1);
	assert_int_equal(keys[0], 12);
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, 1);
	ztg_flow_drop_free(fd);
}

static void test_repeat_key(void **state)
{
	const uint8_t a[4] = { 192, 0, 2, 0 }, b[4] = { 203, 0, 113, 0 };
	struct ztg_flow_drop *fd = ztg_flow_drop_create(&world.null_port, 1);
	struct ztg_flow_drop_stats s;
	char first[128], again[128];

	assert_non_null(fd);
	assert_int_equal(ztg_flow_drop_add(fd, 5, 4, a, 24, first, sizeof(first)), 0);
	assert_int_equal(ztg_flow_drop_add(fd, 5, 4, a, 24, again, sizeof(again)), 0);
	assert_string_equal(first, again);
	/* The key decides: another prefix under it changes nothing either. */
	assert_int_equal(ztg_flow_drop_add(fd, 5, 4, b, 24, again, sizeof(again)), 0);
	assert_string_equal(first, again);
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, 1);
	assert_int_equal(s.rules, 0);
	assert_int_equal(s.refused, 1);
	ztg_flow_drop_free(fd);
}

static void test_full(void **state)
{
	struct ztg_flow_drop *fd = ztg_flow_drop_create(&world.null_port, 1);
	struct ztg_flow_drop_stats s;
	char status[128], first[128];
	uint8_t addr[4] = { 10 };
	uint64_t *keys;

	assert_non_null(fd);
	for (uint32_t i = 0; i < ZTG_FLOW_DROP_MAX_PREFIXES; i++) {
		addr[2] = (uint8_t)(i >> 8);
		addr[3] = (uint8_t)i;
		assert_int_equal(ztg_flow_drop_add(fd, 1000 + i, 4, addr, 32, status, sizeof(status)), 0);
		if (i == 0)
			memcpy(first, status, sizeof(first));
	}
	addr[1] = 1;
	assert_int_equal(ztg_flow_drop_add(fd, 99, 4, addr, 32, status, sizeof(status)), 0);
	assert_string_equal(status, "software on every port: flow_drop table full (1024 prefixes)");
	assert_false(ztg_flow_drop_has(fd, 99));
	/* A key already held still answers with its own status when the table is full. */
	assert_int_equal(ztg_flow_drop_add(fd, 1000, 4, addr, 32, status, sizeof(status)), 0);
	assert_string_equal(status, first);

	keys = calloc(ZTG_FLOW_DROP_MAX_PREFIXES + 1, sizeof(*keys));
	assert_non_null(keys);
	assert_int_equal(ztg_flow_drop_keys(fd, keys, ZTG_FLOW_DROP_MAX_PREFIXES + 1), ZTG_FLOW_DROP_MAX_PREFIXES);
	free(keys);

	assert_true(ztg_flow_drop_del(fd, 1500));
	assert_int_equal(ztg_flow_drop_add(fd, 99, 4, addr, 32, status, sizeof(status)), 0);
	assert_string_equal(status, first);
	assert_true(ztg_flow_drop_has(fd, 99));
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, ZTG_FLOW_DROP_MAX_PREFIXES);
	assert_int_equal(s.refused, 1);
	ztg_flow_drop_free(fd);
}

static void test_status_cut(void **state)
{
	const uint8_t a[4] = { 192, 0, 2, 0 };
	struct ztg_flow_drop *fd = ztg_flow_drop_create(&world.null_port, 1);
	char small[12], tiny[2], full[128];

	assert_non_null(fd);
	memset(small, 'x', sizeof(small));
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, a, 24, small, sizeof(small)), 0);
	assert_string_equal(small, "software...");
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, a, 24, tiny, sizeof(tiny)), 0);
	assert_string_equal(tiny, "s");
	/* No room at all, or no buffer: the add still happens. */
	assert_int_equal(ztg_flow_drop_add(fd, 2, 4, a, 24, NULL, 0), 0);
	assert_true(ztg_flow_drop_has(fd, 2));
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, a, 24, full, sizeof(full)), 0);
	assert_non_null(strstr(full, NULL_REASON));
	ztg_flow_drop_free(fd);
}

static void test_tap(void **state)
{
	const uint8_t v4[4] = { 192, 0, 2, 0 }, v4b[4] = { 203, 0, 113, 0 };
	const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x07 };
	struct ztg_flow_drop *fd;
	struct ztg_flow_drop_stats s;
	char status[256], again[256], want[256], tc[8192];
	int n;

	need_tap();
	fd = ztg_flow_drop_create(&world.tap_port, 1);
	assert_non_null(fd);
	n = ztg_flow_drop_add(fd, 1, 4, v4, 24, status, sizeof(status));
	print_message("net_tap add 192.0.2.0/24: %d, \"%s\"\n", n, status);

	if (!world.tap_flow) {
		print_message("net_tap has no rte_flow on this kernel: %s; hardware half not exercised\n",
			      world.tap_message);
		snprintf(want, sizeof(want), "software on port %u (%s)", world.tap_port, world.tap_reason);
		assert_int_equal(n, 0);
		assert_string_equal(status, want);
		/* Refused for want of flower: the next prefix (IPv6 too) is not sent to the kernel again. */
		assert_int_equal(ztg_flow_drop_add(fd, 2, 6, v6, 48, again, sizeof(again)), 0);
		assert_string_equal(again, want);
		ztg_flow_drop_stats(fd, &s);
		assert_int_equal(s.prefixes, 2);
		assert_int_equal(s.rules, 0);
		assert_int_equal(s.refused, 1);
		tc_filters(tc, sizeof(tc));
		assert_null(strstr(tc, "192.0.2.0"));
		assert_true(ztg_flow_drop_del(fd, 1));
		assert_true(ztg_flow_drop_del(fd, 2));
		ztg_flow_drop_free(fd);
		return;
	}

	snprintf(want, sizeof(want), "nic on port %u", world.tap_port);
	assert_int_equal(n, 1);
	assert_string_equal(status, want);
	tc_filters(tc, sizeof(tc));
	print_message("tc filter show dev %s ingress:\n%s", world.tap_iface, tc);
	assert_int_equal(occurrences(tc, "src_ip 192.0.2.0/24"), 1);
	assert_non_null(strstr(tc, "drop"));

	/* The same key again: the same answer and still one filter in the kernel. */
	assert_int_equal(ztg_flow_drop_add(fd, 1, 4, v4, 24, again, sizeof(again)), 1);
	assert_string_equal(again, status);
	tc_filters(tc, sizeof(tc));
	assert_int_equal(occurrences(tc, "src_ip 192.0.2.0/24"), 1);

	assert_int_equal(ztg_flow_drop_add(fd, 2, 6, v6, 48, again, sizeof(again)), 1);
	tc_filters(tc, sizeof(tc));
	assert_int_equal(occurrences(tc, "src_ip 2001:db8:7::/48"), 1);

	/*
	 * The same prefix under another key: flower may refuse it as an
	 * overlap. Either way that must not mark the port as having no flow
	 * support, so a further prefix still becomes a rule.
	 */
	n = ztg_flow_drop_add(fd, 3, 4, v4, 24, again, sizeof(again));
	print_message("net_tap add 192.0.2.0/24 under a second key: %d, \"%s\"\n", n, again);
	if (n == 0)
		assert_non_null(strstr(again, "(net_tap: "));
	assert_int_equal(ztg_flow_drop_add(fd, 4, 4, v4b, 24, again, sizeof(again)), 1);
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.prefixes, 4);
	assert_int_equal(s.rules, 3 + (unsigned int)n);

	assert_true(ztg_flow_drop_del(fd, 1));
	assert_true(ztg_flow_drop_del(fd, 3));
	tc_filters(tc, sizeof(tc));
	assert_null(strstr(tc, "192.0.2.0/24"));
	assert_non_null(strstr(tc, "2001:db8:7::/48"));
	/* free takes the rest out of the kernel. */
	ztg_flow_drop_free(fd);
	tc_filters(tc, sizeof(tc));
	assert_null(strstr(tc, "2001:db8:7::/48"));
	assert_null(strstr(tc, "203.0.113.0/24"));
}

static void test_mixed(void **state)
{
	const uint8_t v4[4] = { 192, 0, 2, 128 };
	uint16_t ports[2];
	struct ztg_flow_drop *fd;
	struct ztg_flow_drop_stats s;
	char status[256], want[256];
	int n;

	need_tap();
	ports[0] = world.tap_port;
	ports[1] = world.null_port;
	fd = ztg_flow_drop_create(ports, 2);
	assert_non_null(fd);
	n = ztg_flow_drop_add(fd, 1, 4, v4, 25, status, sizeof(status));
	print_message("tap + null add 192.0.2.128/25: %d, \"%s\"\n", n, status);
	if (world.tap_flow)
		snprintf(want, sizeof(want), "nic on port %u; software on port %u (" NULL_REASON ")", world.tap_port,
			 world.null_port);
	else
		snprintf(want, sizeof(want), "software on port %u (%s); software on port %u (" NULL_REASON ")",
			 world.tap_port, world.tap_reason, world.null_port);
	assert_int_equal(n, world.tap_flow ? 1 : 0);
	assert_string_equal(status, want);
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.rules, world.tap_flow ? 1 : 0);
	assert_int_equal(s.refused, world.tap_flow ? 1 : 2);
	assert_true(ztg_flow_drop_del(fd, 1));
	ztg_flow_drop_stats(fd, &s);
	assert_int_equal(s.rules, 0);
	assert_int_equal(s.prefixes, 0);
	ztg_flow_drop_free(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_invalid_add),
		cmocka_unit_test(test_null_port),
		cmocka_unit_test(test_repeat_key),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_status_cut),
		cmocka_unit_test(test_tap),
		cmocka_unit_test(test_mixed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
