/*
 * Flow keys and the flow table. The table needs rte_hash, so the group runs
 * under a minimal EAL (eal_fixture.h). Time is a fake TSC at HZ ticks per
 * second passed to every call: nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <rte_memory.h>

#include "eal_fixture.h"
#include "flow/flow_key.h"
#include "flow/flow_table.h"

#define HZ UINT64_C(1000000)
#define SEC(s) ((uint64_t)(s) * HZ)

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17

static struct ztg_packet packet_v4(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t proto)
{
	struct ztg_packet p;

	memset(&p, 0, sizeof(p));
	p.ip_version = 4;
	p.l4_proto = proto;
	p.l3_offset = 14;
	p.l4_offset = 34;
	for (int i = 0; i < 4; i++) {
		p.src_addr[i] = (uint8_t)(src >> (24 - 8 * i));
		p.dst_addr[i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	p.src_port = sport;
	p.dst_port = dport;
	return p;
}

static struct ztg_packet packet_v6(const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	struct ztg_packet p;

	memset(&p, 0, sizeof(p));
	p.ip_version = 6;
	p.l4_proto = PROTO_TCP;
	p.l3_offset = 14;
	p.l4_offset = 54;
	memcpy(p.src_addr, src, 16);
	memcpy(p.dst_addr, dst, 16);
	p.src_port = sport;
	p.dst_port = dport;
	return p;
}

/* The key of the i-th distinct client talking to one server. */
static struct ztg_flow_key key_n(uint32_t i, uint8_t proto)
{
	struct ztg_packet p = packet_v4(0x0a000000u + i, (uint16_t)(1024 + i % 50000), 0xc0a80001u, 443, proto);
	struct ztg_flow_key k;

	ztg_flow_key_from_packet(&p, &k);
	return k;
}

static struct ztg_flow_table_params params_for(const char *name, uint32_t capacity)
{
	struct ztg_flow_table_params p = {
		.name = name,
		.capacity = capacity,
		.socket_id = SOCKET_ID_ANY,
		.tsc_hz = HZ,
	};

	ztg_flow_timeouts_default(&p.timeouts);
	return p;
}

static struct ztg_flow_table *table_new(const char *name, uint32_t capacity)
{
	struct ztg_flow_table_params p = params_for(name, capacity);
	struct ztg_flow_table *t = NULL;
	char err[256] = "";

	if (ztg_flow_table_create(&p, &t, err, sizeof(err)) != 0)
		fail_msg("create %s: %s", name, err);
	return t;
}

static struct ztg_flow *add_ok(struct ztg_flow_table *t, const struct ztg_flow_key *k, uint64_t now)
{
	struct ztg_flow *f = NULL;

	assert_int_equal(ztg_flow_table_add(t, k, now, &f), ZTG_DROP_NONE);
	assert_non_null(f);
	return f;
}

static struct ztg_flow *lookup1(struct ztg_flow_table *t, const struct ztg_flow_key *k, uint64_t now)
{
	struct ztg_flow *f = (struct ztg_flow *)(uintptr_t)1;

	ztg_flow_table_lookup_bulk(t, &k, 1, now, &f);
	return f;
}

static struct ztg_flow_table_stats stats_of(const struct ztg_flow_table *t)
{
	struct ztg_flow_table_stats s;

	ztg_flow_table_get_stats(t, &s);
	return s;
}

/* ---- keys ---------------------------------------------------------------- */

static void test_key_canonical_v4(void **state)
{
	struct ztg_packet out = packet_v4(0xc0a80a05u, 51000, 0x0a000001u, 80, PROTO_TCP);
	struct ztg_packet back = packet_v4(0x0a000001u, 80, 0xc0a80a05u, 51000, PROTO_TCP);
	struct ztg_flow_key k1, k2;
	static const uint8_t zero[12];

	/* Garbage first: every byte, padding included, must be written. */
	memset(&k1, 0xa5, sizeof(k1));
	memset(&k2, 0x5a, sizeof(k2));
	assert_int_equal(ztg_flow_key_from_packet(&out, &k1), 1);
	assert_int_equal(ztg_flow_key_from_packet(&back, &k2), 0);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(ztg_flow_key_hash(&k1, 7), ztg_flow_key_hash(&k2, 7));

	/* Endpoint 0 is the lower address: 10.0.0.1:80. */
	assert_int_equal(k1.addr[0][0], 10);
	assert_int_equal(k1.port[0], 80);
	assert_int_equal(k1.port[1], 51000);
	assert_memory_equal(&k1.addr[0][4], zero, 12);
	assert_memory_equal(&k1.addr[1][4], zero, 12);
	assert_int_equal(k1.ip_version, 4);
	assert_int_equal(k1.l4_proto, PROTO_TCP);
	assert_int_equal(k1.vlan_ids[0], 0);
	assert_int_equal(k1.vlan_ids[1], 0);
	assert_int_equal(k1.pad[0], 0);
	assert_int_equal(k1.pad[1], 0);

	/* Same address both ways: the port decides, and still symmetrically. */
	out = packet_v4(0x0a000001u, 9000, 0x0a000001u, 8080, PROTO_UDP);
	back = packet_v4(0x0a000001u, 8080, 0x0a000001u, 9000, PROTO_UDP);
	assert_int_equal(ztg_flow_key_from_packet(&out, &k1), 1);
	assert_int_equal(ztg_flow_key_from_packet(&back, &k2), 0);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(k1.port[0], 8080);

	/* A different protocol on the same tuple is another flow. */
	out = packet_v4(0x0a000001u, 9000, 0x0a000001u, 8080, PROTO_TCP);
	ztg_flow_key_from_packet(&out, &k2);
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
}

/* The seed is what keeps colliding keys from being computed in advance. */
static void test_hash_depends_on_seed(void **state)
{
	struct ztg_flow_key key;
	unsigned int differing = 0;

	(void)state;
	memset(&key, 0, sizeof(key));
	key.addr[0][0] = 198;
	key.port[0] = 40000;
	key.port[1] = 80;
	for (uint32_t seed = 1; seed <= 16; seed++)
		differing += ztg_flow_key_hash(&key, seed) != ztg_flow_key_hash(&key, seed + 1000);
	assert_true(differing >= 15);
}

static void test_key_canonical_v6(void **state)
{
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
	static const uint8_t b[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x01, [15] = 0x00 };
	struct ztg_packet out = packet_v6(a, 40000, b, 443);
	struct ztg_packet back = packet_v6(b, 443, a, 40000);
	struct ztg_flow_key k1, k2;

	memset(&k1, 0xff, sizeof(k1));
	memset(&k2, 0x11, sizeof(k2));
	/* a = ...::1 sorts before b = ...::100 although its last byte is larger. */
	assert_int_equal(ztg_flow_key_from_packet(&out, &k1), 0);
	assert_int_equal(ztg_flow_key_from_packet(&back, &k2), 1);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_memory_equal(k1.addr[0], a, 16);
	assert_memory_equal(k1.addr[1], b, 16);
	assert_int_equal(k1.port[0], 40000);
	assert_int_equal(k1.ip_version, 6);
	assert_int_equal(ztg_flow_key_hash(&k1, 7), ztg_flow_key_hash(&k2, 7));
}

static void test_key_without_l4_header(void **state)
{
	/* No decoded L4 header (l4_offset 0): whatever sits in the port fields is ignored. */
	struct ztg_packet p1 = packet_v4(0x0a000002u, 1111, 0x0a000001u, 2222, 50);
	struct ztg_packet p2 = packet_v4(0x0a000001u, 3333, 0x0a000002u, 4444, 50);
	struct ztg_flow_key k1, k2;

	p1.l4_offset = 0;
	p2.l4_offset = 0;
	assert_int_equal(ztg_flow_key_from_packet(&p1, &k1), 1);
	assert_int_equal(ztg_flow_key_from_packet(&p2, &k2), 0);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(k1.port[0], 0);
	assert_int_equal(k1.port[1], 0);
}

static void test_key_vlan_is_part_of_the_flow(void **state)
{
	struct ztg_packet p10 = packet_v4(0x0a000002u, 5000, 0x0a000001u, 80, PROTO_TCP);
	struct ztg_packet p20 = p10;
	struct ztg_packet untagged = p10;
	struct ztg_packet reply10 = packet_v4(0x0a000001u, 80, 0x0a000002u, 5000, PROTO_TCP);
	struct ztg_flow_key k10, k20, k0, kr;
	struct ztg_flow_table *t = table_new("ft_vlan", 64);
	struct ztg_flow *f10, *f20;

	p10.vlan_count = 1;
	p10.vlan_ids[0] = 10;
	p10.flags |= ZTG_PACKET_F_VLAN;
	p20.vlan_count = 2;
	p20.vlan_ids[0] = 20;
	p20.vlan_ids[1] = 30;
	p20.flags |= ZTG_PACKET_F_VLAN;
	reply10.vlan_count = 1;
	reply10.vlan_ids[0] = 10;
	/* Stale ids beyond vlan_count must not leak into the key. */
	untagged.vlan_ids[0] = 99;

	ztg_flow_key_from_packet(&p10, &k10);
	ztg_flow_key_from_packet(&p20, &k20);
	ztg_flow_key_from_packet(&untagged, &k0);
	ztg_flow_key_from_packet(&reply10, &kr);
	assert_int_equal(k10.vlan_ids[0], 10);
	assert_int_equal(k10.vlan_ids[1], 0);
	assert_int_equal(k20.vlan_ids[0], 20);
	assert_int_equal(k20.vlan_ids[1], 30);
	assert_int_equal(k0.vlan_ids[0], 0);
	assert_memory_not_equal(&k10, &k20, sizeof(k10));
	assert_memory_not_equal(&k10, &k0, sizeof(k10));
	assert_memory_equal(&k10, &kr, sizeof(k10));

	f10 = add_ok(t, &k10, 0);
	assert_null(lookup1(t, &k20, 0));
	assert_null(lookup1(t, &k0, 0));
	f20 = add_ok(t, &k20, 0);
	assert_ptr_not_equal(f10, f20);
	assert_ptr_equal(lookup1(t, &kr, 0), f10);
	assert_ptr_equal(lookup1(t, &k20, 0), f20);
	assert_int_equal(stats_of(t).active, 2);
	ztg_flow_table_free(t);
}

/* ---- table --------------------------------------------------------------- */

static void test_insert_and_lookup_bulk(void **state)
{
	enum { PRESENT = 40, QUERIED = 100 };
	struct ztg_flow_table *t = table_new("ft_bulk", 128);
	struct ztg_flow_key keys[QUERIED];
	const struct ztg_flow_key *ptrs[QUERIED];
	struct ztg_flow *added[PRESENT];
	struct ztg_flow *found[QUERIED];

	for (uint32_t i = 0; i < QUERIED; i++) {
		keys[i] = key_n(i, PROTO_TCP);
		ptrs[i] = &keys[i];
	}
	/* Every other key up to 2 * PRESENT is present, the rest absent. */
	for (uint32_t i = 0; i < PRESENT; i++) {
		added[i] = add_ok(t, &keys[2 * i], SEC(1));
		assert_memory_equal(&added[i]->key, &keys[2 * i], sizeof(keys[0]));
		assert_int_equal(added[i]->created_tsc, SEC(1));
		assert_int_equal(added[i]->last_seen_tsc, SEC(1));
		assert_int_equal(added[i]->tcp.state, ZTG_TCP_STATE_NONE);
		assert_int_equal(added[i]->packets[0] + added[i]->packets[1], 0);
	}

	ztg_flow_table_lookup_bulk(t, ptrs, 64, SEC(2), found);
	for (uint32_t i = 0; i < 64; i++) {
		if (i % 2 == 0 && i / 2 < PRESENT)
			assert_ptr_equal(found[i], added[i / 2]);
		else
			assert_null(found[i]);
	}

	/* Beyond the bulk limit the lookup is split, with the same answers. */
	ztg_flow_table_lookup_bulk(t, ptrs, QUERIED, SEC(2), found);
	for (uint32_t i = 0; i < QUERIED; i++) {
		if (i % 2 == 0 && i / 2 < PRESENT)
			assert_ptr_equal(found[i], added[i / 2]);
		else
			assert_null(found[i]);
	}

	/* An empty burst touches nothing. */
	found[0] = (struct ztg_flow *)(uintptr_t)1;
	ztg_flow_table_lookup_bulk(t, ptrs, 0, SEC(2), found);
	assert_ptr_equal(found[0], (struct ztg_flow *)(uintptr_t)1);

	struct ztg_flow_table_stats s = stats_of(t);

	assert_int_equal(s.created, PRESENT);
	assert_int_equal(s.active, PRESENT);
	assert_int_equal(s.expired, 0);
	ztg_flow_table_free(t);
}

static void test_lazy_expiry_on_lookup(void **state)
{
	struct ztg_flow_table *t = table_new("ft_lazy", 64);
	struct ztg_flow_key k = key_n(1, PROTO_UDP);
	struct ztg_flow_key other = key_n(2, PROTO_UDP);
	struct ztg_flow *f = add_ok(t, &k, SEC(100));
	const struct ztg_flow_key *burst[3] = { &k, &other, &k };
	struct ztg_flow *found[3];

	/* Idle for exactly the UDP timeout is still alive; one tick more is not. */
	assert_ptr_equal(lookup1(t, &k, SEC(160)), f);
	f->last_seen_tsc = SEC(160);
	assert_ptr_equal(lookup1(t, &k, SEC(220)), f);
	add_ok(t, &other, SEC(220));

	/* The same expired flow twice in one burst: expired once, a miss both times. */
	ztg_flow_table_lookup_bulk(t, burst, 3, SEC(220) + 1, found);
	assert_null(found[0]);
	assert_non_null(found[1]);
	assert_null(found[2]);

	struct ztg_flow_table_stats s = stats_of(t);

	assert_int_equal(s.expired, 1);
	assert_int_equal(s.active, 1);
	assert_null(lookup1(t, &k, SEC(221)));
	assert_int_equal(stats_of(t).expired, 1);

	/* The key can start over. */
	f = add_ok(t, &k, SEC(221));
	assert_ptr_equal(lookup1(t, &k, SEC(222)), f);
	assert_int_equal(stats_of(t).created, 3);
	ztg_flow_table_free(t);
}

static void test_incremental_expire_with_budget(void **state)
{
	enum { CAPACITY = 256, FLOWS = 100 };
	struct ztg_flow_table *t = table_new("ft_sweep", CAPACITY);
	uint32_t total = 0;

	for (uint32_t i = 0; i < FLOWS; i++) {
		struct ztg_flow_key k = key_n(i, PROTO_UDP);

		add_ok(t, &k, 0);
	}
	/* Nothing idle yet, and a zero budget examines nothing. */
	assert_int_equal(ztg_flow_table_expire(t, SEC(60), CAPACITY), 0);
	assert_int_equal(ztg_flow_table_expire(t, SEC(61), 0), 0);
	assert_int_equal(stats_of(t).active, FLOWS);

	/* Four calls of 64 slots make one lap of 256: each expires at most its budget. */
	for (int call = 0; call < 4; call++) {
		uint32_t n = ztg_flow_table_expire(t, SEC(61), 64);

		assert_true(n <= 64);
		total += n;
		assert_int_equal(stats_of(t).active, FLOWS - total);
	}
	assert_int_equal(total, FLOWS);
	assert_int_equal(stats_of(t).expired, FLOWS);

	/* Small budgets resume where the last call stopped: 26 calls of 10 cover the lap. */
	for (uint32_t i = 0; i < FLOWS; i++) {
		struct ztg_flow_key k = key_n(1000 + i, PROTO_UDP);

		add_ok(t, &k, SEC(100));
	}
	total = 0;
	for (int call = 0; call < 26; call++) {
		uint32_t n = ztg_flow_table_expire(t, SEC(200), 10);

		assert_true(n <= 10);
		total += n;
	}
	assert_int_equal(total, FLOWS);
	assert_int_equal(stats_of(t).active, 0);

	/* A budget beyond the capacity is one lap, not several. */
	for (uint32_t i = 0; i < 10; i++) {
		struct ztg_flow_key k = key_n(i, PROTO_UDP);

		add_ok(t, &k, SEC(300));
	}
	assert_int_equal(ztg_flow_table_expire(t, SEC(400), UINT32_MAX), 10);
	assert_int_equal(stats_of(t).expired, 2 * FLOWS + 10);
	ztg_flow_table_free(t);
}

static void test_per_state_timeouts(void **state)
{
	struct ztg_flow_table *t = table_new("ft_timeouts", 64);
	struct ztg_flow_key ku = key_n(1, PROTO_UDP);
	struct ztg_flow_key ke = key_n(2, PROTO_TCP);
	struct ztg_flow_key kc = key_n(3, PROTO_TCP);
	struct ztg_flow_key ki = key_n(4, PROTO_ICMP);
	struct ztg_flow *fu = add_ok(t, &ku, 0);
	struct ztg_flow *fe = add_ok(t, &ke, 0);
	struct ztg_flow *fc = add_ok(t, &kc, 0);
	struct ztg_flow *fi = add_ok(t, &ki, 0);
	static const struct {
		uint8_t state;
		uint64_t seconds;
	} tcp[] = {
		{ ZTG_TCP_STATE_NONE, 30 },        { ZTG_TCP_STATE_SYN_SENT, 30 },
		{ ZTG_TCP_STATE_SYN_RECEIVED, 30 }, { ZTG_TCP_STATE_ESTABLISHED, 600 },
		{ ZTG_TCP_STATE_FIN_WAIT, 120 },    { ZTG_TCP_STATE_CLOSING, 120 },
		{ ZTG_TCP_STATE_CLOSED, 10 },
	};

	for (size_t i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		fe->tcp.state = tcp[i].state;
		assert_int_equal(ztg_flow_timeout_tsc(t, fe), SEC(tcp[i].seconds));
	}
	assert_int_equal(ztg_flow_timeout_tsc(t, fu), SEC(60));
	assert_int_equal(ztg_flow_timeout_tsc(t, fi), SEC(30));
	/* The state byte means nothing outside TCP. */
	fu->tcp.state = ZTG_TCP_STATE_CLOSED;
	assert_int_equal(ztg_flow_timeout_tsc(t, fu), SEC(60));

	fe->tcp.state = ZTG_TCP_STATE_ESTABLISHED;
	fc->tcp.state = ZTG_TCP_STATE_CLOSED;

	/* Each flow goes exactly when its own timeout has passed. */
	assert_int_equal(ztg_flow_table_expire(t, SEC(10), 64), 0);
	assert_int_equal(ztg_flow_table_expire(t, SEC(10) + 1, 64), 1);
	assert_null(lookup1(t, &kc, SEC(10) + 1));
	assert_int_equal(ztg_flow_table_expire(t, SEC(30) + 1, 64), 1);
	assert_null(lookup1(t, &ki, SEC(30) + 1));
	assert_int_equal(ztg_flow_table_expire(t, SEC(60) + 1, 64), 1);
	assert_null(lookup1(t, &ku, SEC(60) + 1));
	assert_ptr_equal(lookup1(t, &ke, SEC(600)), fe);
	assert_int_equal(ztg_flow_table_expire(t, SEC(600) + 1, 64), 1);
	assert_int_equal(stats_of(t).active, 0);
	assert_int_equal(stats_of(t).expired, 4);
	ztg_flow_table_free(t);
}

static void test_full_table(void **state)
{
	enum { CAPACITY = 16 };
	struct ztg_flow_table *t = table_new("ft_full", CAPACITY);
	struct ztg_flow *flows[CAPACITY];
	struct ztg_flow_key extra = key_n(1000, PROTO_TCP);
	struct ztg_flow *f = (struct ztg_flow *)(uintptr_t)1;

	/* TCP flows in NONE: the 30 s embryonic timeout. */
	for (uint32_t i = 0; i < CAPACITY; i++) {
		struct ztg_flow_key k = key_n(i, PROTO_TCP);

		flows[i] = add_ok(t, &k, 0);
	}
	assert_int_equal(stats_of(t).active, CAPACITY);

	assert_int_equal(ztg_flow_table_add(t, &extra, SEC(1), &f), ZTG_DROP_FLOW_TABLE_FULL);
	assert_null(f);
	assert_int_equal(stats_of(t).full, 1);
	assert_int_equal(stats_of(t).expired, 0);

	/* One flow closes and goes idle: it becomes reclaimable 10 s later. */
	flows[3]->tcp.state = ZTG_TCP_STATE_CLOSED;
	flows[3]->last_seen_tsc = SEC(5);
	assert_int_equal(ztg_flow_table_add(t, &extra, SEC(10), &f), ZTG_DROP_FLOW_TABLE_FULL);
	assert_int_equal(stats_of(t).full, 2);
	assert_int_equal(ztg_flow_table_add(t, &extra, SEC(15), &f), ZTG_DROP_FLOW_TABLE_FULL);
	assert_int_equal(stats_of(t).full, 3);

	/* The full sweep behind the add frees it. */
	f = add_ok(t, &extra, SEC(15) + 1);
	assert_int_equal(stats_of(t).expired, 1);
	assert_int_equal(stats_of(t).active, CAPACITY);
	assert_int_equal(stats_of(t).full, 3);

	/* Later the whole embryonic crowd times out and the sweep frees all of it. */
	for (uint32_t i = 0; i < 4; i++) {
		struct ztg_flow_key k = key_n(2000 + i, PROTO_TCP);

		if (i == 0)
			assert_int_equal(ztg_flow_table_add(t, &k, SEC(20), &f), ZTG_DROP_FLOW_TABLE_FULL);
		else
			add_ok(t, &k, SEC(31));
	}
	struct ztg_flow_table_stats s = stats_of(t);

	assert_int_equal(s.full, 4);
	assert_int_equal(s.expired, 1 + (CAPACITY - 1));
	assert_int_equal(s.active, 1 + 3);
	ztg_flow_table_free(t);
}

static void test_fills_to_capacity_whatever_the_keys(void **state)
{
	/* Extendable buckets: every one of `capacity` keys fits, no cuckoo failures. */
	enum { CAPACITY = 4096 };
	struct ztg_flow_table *t = table_new("ft_big", CAPACITY);
	struct ztg_flow_key extra = key_n(CAPACITY, PROTO_UDP);
	struct ztg_flow *f;

	for (uint32_t i = 0; i < CAPACITY; i++) {
		struct ztg_flow_key k = key_n(i, PROTO_UDP);

		add_ok(t, &k, 0);
	}
	assert_int_equal(stats_of(t).active, CAPACITY);
	assert_int_equal(ztg_flow_table_add(t, &extra, SEC(1), &f), ZTG_DROP_FLOW_TABLE_FULL);
	for (uint32_t i = 0; i < CAPACITY; i += 97) {
		struct ztg_flow_key k = key_n(i, PROTO_UDP);

		f = lookup1(t, &k, SEC(1));
		assert_non_null(f);
		assert_memory_equal(&f->key, &k, sizeof(k));
	}
	ztg_flow_table_free(t);
}

static void test_remove(void **state)
{
	struct ztg_flow_table *t = table_new("ft_remove", 32);
	struct ztg_flow_key k[3] = { key_n(1, PROTO_TCP), key_n(2, PROTO_TCP), key_n(3, PROTO_TCP) };
	struct ztg_flow *f[3];

	for (int i = 0; i < 3; i++)
		f[i] = add_ok(t, &k[i], 0);
	ztg_flow_table_remove(t, f[1]);
	assert_null(lookup1(t, &k[1], 0));
	assert_ptr_equal(lookup1(t, &k[0], 0), f[0]);
	assert_ptr_equal(lookup1(t, &k[2], 0), f[2]);

	/* Removing twice is harmless and counted once. */
	ztg_flow_table_remove(t, f[1]);
	struct ztg_flow_table_stats s = stats_of(t);

	assert_int_equal(s.removed, 1);
	assert_int_equal(s.active, 2);
	assert_int_equal(s.expired, 0);

	add_ok(t, &k[1], 1);
	assert_int_equal(stats_of(t).active, 3);

	/* A caller scribbling over flow->key cannot strand the real key in the hash. */
	memset(&f[0]->key, 0xee, sizeof(f[0]->key));
	ztg_flow_table_remove(t, f[0]);
	assert_null(lookup1(t, &k[0], 1));
	assert_int_equal(stats_of(t).active, 2);

	/* Pointers that are not a live flow of this table are ignored. */
	ztg_flow_table_remove(t, (struct ztg_flow *)((char *)f[2] + 1));
	assert_int_equal(stats_of(t).active, 2);
	ztg_flow_table_free(t);
}

static void test_add_of_a_present_key(void **state)
{
	/*
	 * Two packets of one new flow that both missed in a burst: the second
	 * add must hand back the first packet's flow, even with the table full.
	 */
	enum { CAPACITY = 8 };
	struct ztg_flow_table *t = table_new("ft_twice_add", CAPACITY);
	struct ztg_flow_key k = key_n(9, PROTO_TCP);
	struct ztg_flow *f1 = add_ok(t, &k, SEC(1));
	struct ztg_flow *f2;

	for (uint32_t i = 0; i < CAPACITY - 1; i++) {
		struct ztg_flow_key other = key_n(100 + i, PROTO_TCP);

		add_ok(t, &other, SEC(1));
	}
	f1->packets[0] = 5;
	f1->tcp.state = ZTG_TCP_STATE_SYN_SENT;
	f2 = add_ok(t, &k, SEC(2));
	assert_ptr_equal(f1, f2);
	assert_int_equal(f2->packets[0], 5);
	assert_int_equal(f2->tcp.state, ZTG_TCP_STATE_SYN_SENT);
	assert_int_equal(f2->created_tsc, SEC(1));

	struct ztg_flow_table_stats s = stats_of(t);

	assert_int_equal(s.created, CAPACITY);
	assert_int_equal(s.active, CAPACITY);
	assert_int_equal(s.full, 0);

	/* A present but idle flow is replaced by a fresh one, as if it had expired first. */
	f2 = add_ok(t, &k, SEC(40));
	assert_ptr_equal(f1, f2);
	assert_int_equal(f2->packets[0], 0);
	assert_int_equal(f2->tcp.state, ZTG_TCP_STATE_NONE);
	assert_int_equal(f2->created_tsc, SEC(40));
	s = stats_of(t);
	assert_int_equal(s.created, CAPACITY + 1);
	assert_int_equal(s.expired, 1);
	assert_int_equal(s.active, CAPACITY);
	assert_int_equal(s.full, 0);

	ztg_flow_table_remove(t, f2);
	assert_int_equal(stats_of(t).active, CAPACITY - 1);
	assert_null(lookup1(t, &k, SEC(40)));
	ztg_flow_table_free(t);
}

struct walk_acc {
	uint32_t calls;
	uint32_t stop_after;
	uint64_t port_sum;
};

static int walk_fn(const struct ztg_flow *flow, void *arg)
{
	struct walk_acc *acc = arg;

	acc->calls++;
	acc->port_sum += flow->key.port[0] + flow->key.port[1];
	return acc->calls == acc->stop_after ? 42 : 0;
}

static void test_walk(void **state)
{
	enum { FLOWS = 70 };   /* more than one word of the live bitmap */
	struct ztg_flow_table *t = table_new("ft_walk", 128);
	struct walk_acc acc = { 0 };
	uint64_t expected = 0;

	assert_int_equal(ztg_flow_table_walk(t, walk_fn, &acc), 0);
	assert_int_equal(acc.calls, 0);

	for (uint32_t i = 0; i < FLOWS; i++) {
		struct ztg_flow_key k = key_n(i, PROTO_TCP);

		add_ok(t, &k, 0);
		expected += k.port[0] + k.port[1];
	}
	struct ztg_flow_key gone = key_n(5, PROTO_TCP);

	ztg_flow_table_remove(t, lookup1(t, &gone, 0));
	expected -= gone.port[0] + gone.port[1];

	assert_int_equal(ztg_flow_table_walk(t, walk_fn, &acc), 0);
	assert_int_equal(acc.calls, FLOWS - 1);
	assert_int_equal(acc.port_sum, expected);

	acc = (struct walk_acc){ .stop_after = 7 };
	assert_int_equal(ztg_flow_table_walk(t, walk_fn, &acc), 42);
	assert_int_equal(acc.calls, 7);
	ztg_flow_table_free(t);
}

/* ---- random operations against a model ------------------------------------ */

enum { MODEL_KEYS = 300, MODEL_CAPACITY = 100, MODEL_OPS = 20000 };

struct model_entry {
	struct ztg_flow_key key;
	struct ztg_flow *flow;     /* the table's flow while present */
	struct ztg_flow shadow;    /* what the model expects in it: state and last_seen */
	int present;
};

struct model {
	struct model_entry e[MODEL_KEYS];
	uint32_t count;
	uint8_t seen[MODEL_KEYS];
};

static int model_idle(const struct model_entry *e, const struct ztg_flow_table *t, uint64_t now)
{
	/* From the model's own copy: the slot may already hold another flow. */
	return now - e->shadow.last_seen_tsc > ztg_flow_timeout_tsc(t, &e->shadow);
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* key_n() puts the client at endpoint 0 with port 1024 + i. */
static uint32_t model_index(const struct ztg_flow *flow)
{
	return (uint32_t)flow->key.port[0] - 1024;
}

static int model_mark(const struct ztg_flow *flow, void *arg)
{
	struct model *m = arg;
	uint32_t i = model_index(flow);

	assert_true(i < MODEL_KEYS);
	assert_true(m->e[i].present);
	assert_ptr_equal(m->e[i].flow, flow);
	assert_memory_equal(&flow->key, &m->e[i].key, sizeof(flow->key));
	m->seen[i] = 1;
	return 0;
}

/*
 * Every flow in the table is present in the model; a model flow missing
 * from the table must have been idle, and leaves the model. Returns how many
 * left.
 */
static uint32_t model_reconcile(struct model *m, struct ztg_flow_table *t, uint64_t now)
{
	uint32_t gone = 0;

	memset(m->seen, 0, sizeof(m->seen));
	assert_int_equal(ztg_flow_table_walk(t, model_mark, m), 0);
	for (uint32_t i = 0; i < MODEL_KEYS; i++) {
		struct model_entry *e = &m->e[i];

		if (!e->present || m->seen[i])
			continue;
		assert_true(model_idle(e, t, now));
		e->present = 0;
		m->count--;
		gone++;
	}
	assert_int_equal(stats_of(t).active, m->count);
	return gone;
}

static int model_any_idle(const struct model *m, const struct ztg_flow_table *t, uint64_t now)
{
	for (uint32_t i = 0; i < MODEL_KEYS; i++)
		if (m->e[i].present && model_idle(&m->e[i], t, now))
			return 1;
	return 0;
}

static void test_random_operations_against_model(void **state)
{
	static const uint8_t protos[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP };
	static struct model m;
	struct ztg_flow_table *t = table_new("ft_model", MODEL_CAPACITY);
	uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t now = SEC(1);
	uint64_t adds = 0, fulls = 0, removes = 0;

	memset(&m, 0, sizeof(m));
	for (uint32_t i = 0; i < MODEL_KEYS; i++)
		m.e[i].key = key_n(i, protos[i % 3]);

	for (uint32_t op = 0; op < MODEL_OPS; op++) {
		uint32_t i = (uint32_t)(rng_next(&rng) % MODEL_KEYS);
		uint32_t kind = (uint32_t)(rng_next(&rng) % 10);
		struct model_entry *e = &m.e[i];
		const struct ztg_flow_key *kp = &e->key;
		struct ztg_flow *f;

		now += rng_next(&rng) % (HZ / 4);

		if (kind < 8) {
			/* The worker's path: look up, then touch, add or remove. */
			int was_live = e->present && !model_idle(e, t, now);

			ztg_flow_table_lookup_bulk(t, &kp, 1, now, &f);
			if (was_live) {
				assert_ptr_equal(f, e->flow);
			} else {
				assert_null(f);
				if (e->present) {
					e->present = 0;
					m.count--;
				}
			}
			if (f != NULL && kind == 7) {
				ztg_flow_table_remove(t, f);
				e->present = 0;
				m.count--;
				removes++;
			} else if (f != NULL) {
				/* State changes only ever come with a packet, as in the worker. */
				f->last_seen_tsc = now;
				f->packets[0]++;
				if (f->key.l4_proto == PROTO_TCP)
					f->tcp.state = (uint8_t)(rng_next(&rng) % ZTG_TCP_STATE_COUNT);
				e->shadow = *f;
			} else {
				int room = m.count < MODEL_CAPACITY || model_any_idle(&m, t, now);
				enum ztg_drop_reason r = ztg_flow_table_add(t, kp, now, &f);

				if (room) {
					assert_int_equal(r, ZTG_DROP_NONE);
					e->present = 1;
					e->flow = f;
					e->shadow = *f;
					m.count++;
					adds++;
				} else {
					assert_int_equal(r, ZTG_DROP_FLOW_TABLE_FULL);
					assert_null(f);
					fulls++;
				}
			}
		} else {
			uint32_t budget = (uint32_t)(rng_next(&rng) % (MODEL_CAPACITY + 20));
			uint32_t n = ztg_flow_table_expire(t, now, budget);

			assert_true(n <= budget);
			assert_int_equal(model_reconcile(&m, t, now), n);
		}
		/* Also catches the flows a sweep behind an add freed. */
		model_reconcile(&m, t, now);
	}

	struct ztg_flow_table_stats s = stats_of(t);

	assert_int_equal(s.created, adds);
	assert_int_equal(s.full, fulls);
	assert_int_equal(s.removed, removes);
	assert_int_equal(s.created - s.expired - s.removed, s.active);
	/* The mix must really have exercised both a full table and plenty of churn. */
	print_message("model: %" PRIu64 " adds, %" PRIu64 " full, %" PRIu64 " removes, %" PRIu64 " expired\n", adds, fulls, removes, s.expired);
	assert_true(fulls > 100);
	assert_true(adds > 1000);
	ztg_flow_table_free(t);
}

static void expect_create_error(const struct ztg_flow_table_params *p, int expected_ret, const char *needle)
{
	struct ztg_flow_table *t = (struct ztg_flow_table *)(uintptr_t)1;
	char err[256] = "";

	assert_int_equal(ztg_flow_table_create(p, &t, err, sizeof(err)), expected_ret);
	assert_null(t);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_create_validation(void **state)
{
	struct ztg_flow_table_params p;
	struct ztg_flow_table *t = NULL;
	struct ztg_flow_table *t2 = NULL;
	char err[256];

	expect_create_error(NULL, -EINVAL, "parameters");

	p = params_for(NULL, 64);
	expect_create_error(&p, -EINVAL, "name");
	p = params_for("", 64);
	expect_create_error(&p, -EINVAL, "name");
	/* rte_hash derives memzone names from it: 21 characters is the most that fits. */
	p = params_for("ft_name_of_22_chars_x", 64);
	assert_int_equal(strlen(p.name), 21);
	assert_int_equal(ztg_flow_table_create(&p, &t, err, sizeof(err)), 0);
	ztg_flow_table_free(t);
	p = params_for("ft_name_of_22_chars_xy", 64);
	expect_create_error(&p, -EINVAL, "name 'ft_name_of_22_chars_xy' is longer than 21");

	p = params_for("ft_cap", 7);
	expect_create_error(&p, -EINVAL, "capacity 7");
	p = params_for("ft_cap", (1u << 26) + 1);
	expect_create_error(&p, -EINVAL, "capacity 67108865");

	p = params_for("ft_hz", 64);
	p.tsc_hz = 0;
	expect_create_error(&p, -EINVAL, "tsc_hz");

	static const struct {
		size_t offset;
		const char *name;
	} fields[] = {
		{ offsetof(struct ztg_flow_timeouts, tcp_embryonic), "timeouts.tcp_embryonic" },
		{ offsetof(struct ztg_flow_timeouts, tcp_established), "timeouts.tcp_established" },
		{ offsetof(struct ztg_flow_timeouts, tcp_closing), "timeouts.tcp_closing" },
		{ offsetof(struct ztg_flow_timeouts, tcp_closed), "timeouts.tcp_closed" },
		{ offsetof(struct ztg_flow_timeouts, udp), "timeouts.udp" },
		{ offsetof(struct ztg_flow_timeouts, other), "timeouts.other" },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint32_t zero = 0;

		p = params_for("ft_timeout", 64);
		memcpy((char *)&p.timeouts + fields[i].offset, &zero, sizeof(zero));
		expect_create_error(&p, -EINVAL, fields[i].name);
	}
	/* Seconds times the TSC rate must fit 64 bits. */
	p = params_for("ft_timeout", 64);
	p.tsc_hz = UINT64_MAX / 100;
	p.timeouts.tcp_established = 101;
	expect_create_error(&p, -EINVAL, "timeouts.tcp_established");

	/* Two tables cannot share a name; the first stays usable. */
	p = params_for("ft_twice", 64);
	assert_int_equal(ztg_flow_table_create(&p, &t, err, sizeof(err)), 0);
	expect_create_error(&p, -EINVAL, "ft_twice");
	ztg_flow_table_free(t);
	/* Once freed, the name is available again. */
	assert_int_equal(ztg_flow_table_create(&p, &t2, err, sizeof(err)), 0);
	ztg_flow_table_free(t2);

	/* No error buffer is allowed. */
	p.capacity = 0;
	assert_int_equal(ztg_flow_table_create(&p, &t, NULL, 0), -EINVAL);
	assert_int_equal(ztg_flow_table_create(&p, NULL, err, sizeof(err)), -EINVAL);

	ztg_flow_table_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_depends_on_seed),
		cmocka_unit_test(test_key_canonical_v4),
		cmocka_unit_test(test_key_canonical_v6),
		cmocka_unit_test(test_key_without_l4_header),
		cmocka_unit_test(test_key_vlan_is_part_of_the_flow),
		cmocka_unit_test(test_insert_and_lookup_bulk),
		cmocka_unit_test(test_lazy_expiry_on_lookup),
		cmocka_unit_test(test_incremental_expire_with_budget),
		cmocka_unit_test(test_per_state_timeouts),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_fills_to_capacity_whatever_the_keys),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_add_of_a_present_key),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_random_operations_against_model),
		cmocka_unit_test(test_create_validation),
	};

	return cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
}
