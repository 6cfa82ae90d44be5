/*
 * The labelled counters behind the metrics: a worker's tally (dataplane/tally.c),
 * the route label slots (dataplane/route_labels.c) and the latency buckets
 * (stats.h): merging across workers, bounded tables, stable slots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route_labels.h"
#include "stats.h"
#include "tally.h"

static struct ztg_tally *new_tally(uint32_t capacity)
{
	void *mem = malloc(ztg_tally_size(capacity));

	assert_non_null(mem);
	/* Whatever the memory held, init makes it an empty table. */
	memset(mem, 0xa5, ztg_tally_size(capacity));
	return ztg_tally_init(mem, capacity);
}

static void test_merge_across_workers(void **state)
{
	struct ztg_tally *a = new_tally(64), *b = new_tally(64);
	const struct ztg_tally *both[] = {a, NULL, b};
	/* The same reason text at two addresses, as two copies of a literal would be. */
	static const char denied[] = "no_route";
	char *copy = strdup(denied);
	struct ztg_tally_row *rows;
	uint64_t lost = 7;
	long n;

	ztg_tally_add(a, ztg_tally_tag(ZTG_TALLY_REQUEST, 5, ZTG_TALLY_DENY), denied, 2);
	ztg_tally_add(b, ztg_tally_tag(ZTG_TALLY_REQUEST, 5, ZTG_TALLY_DENY), copy, 3);
	ztg_tally_add(b, ztg_tally_tag(ZTG_TALLY_REQUEST, 5, ZTG_TALLY_ALLOW), "allowed", 10);
	ztg_tally_add(a, ztg_tally_tag(ZTG_TALLY_RULE, 0, 200101), NULL, 1);
	ztg_tally_add(b, ztg_tally_tag(ZTG_TALLY_RULE, 0, 200101), NULL, 4);
	ztg_tally_add(a, ztg_tally_tag(ZTG_TALLY_AUTH_FAILURE, 0, 0), "expired", 1);

	n = ztg_tally_collect(both, 3, ZTG_TALLY_REQUEST, &rows, &lost);
	assert_int_equal(n, 2);
	assert_int_equal(lost, 0);
	/* Sorted by tag: allow (verdict 0) before deny. */
	assert_int_equal(ztg_tally_tag_b(rows[0].tag), ZTG_TALLY_ALLOW);
	assert_string_equal(rows[0].name, "allowed");
	assert_int_equal(rows[0].count, 10);
	assert_int_equal(ztg_tally_tag_a(rows[1].tag), 5);
	assert_string_equal(rows[1].name, "no_route");
	assert_int_equal(rows[1].count, 5);
	free(rows);

	n = ztg_tally_collect(both, 3, ZTG_TALLY_RULE, &rows, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(ztg_tally_tag_b(rows[0].tag), 200101);
	assert_null(rows[0].name);
	assert_int_equal(rows[0].count, 5);
	free(rows);

	n = ztg_tally_collect(both, 3, 0, &rows, NULL);
	assert_int_equal(n, 4);
	for (long i = 1; i < n; i++)
		assert_true(rows[i - 1].tag <= rows[i].tag);
	free(rows);

	free(copy);
	free(a);
	free(b);
}

static void test_empty_and_kinds(void **state)
{
	struct ztg_tally *t = new_tally(16);
	const struct ztg_tally *one[] = {t};
	struct ztg_tally_row *rows = (void *)1;

	assert_int_equal(ztg_tally_collect(one, 1, 0, &rows, NULL), 0);
	assert_null(rows);
	ztg_tally_add(t, ztg_tally_tag(ZTG_TALLY_AUTH_FAILURE, 0, 0), "credentials_missing", 1);
	assert_int_equal(ztg_tally_collect(one, 1, ZTG_TALLY_REQUEST, &rows, NULL), 0);
	assert_null(rows);
	/* Tag fields come back as given; a is cut to its 24 bits. */
	assert_int_equal(ztg_tally_tag_kind(ztg_tally_tag(ZTG_TALLY_RESPONSE_BLOCKED, 0x1234567, 9)),
			 ZTG_TALLY_RESPONSE_BLOCKED);
	assert_int_equal(ztg_tally_tag_a(ztg_tally_tag(ZTG_TALLY_REQUEST, 0x1234567, 9)), 0x234567);
	assert_int_equal(ztg_tally_tag_b(ztg_tally_tag(ZTG_TALLY_RULE, 1, UINT32_MAX)), UINT32_MAX);
	assert_string_equal(ztg_tally_verdict_name(ZTG_TALLY_MONITORED), "monitored");
	assert_string_equal(ztg_tally_verdict_name(ZTG_TALLY_VERDICT_COUNT), "unknown");
	free(t);
}

static void test_full_table_overflows(void **state)
{
	struct ztg_tally *t = new_tally(16);
	const struct ztg_tally *one[] = {t};
	struct ztg_tally_row *rows;
	uint64_t lost = 0, kept = 0;
	long n;

	for (uint32_t rule = 1; rule <= 40; rule++)
		ztg_tally_add(t, ztg_tally_tag(ZTG_TALLY_RULE, 0, rule), NULL, 2);
	n = ztg_tally_collect(one, 1, ZTG_TALLY_RULE, &rows, &lost);
	/* Every entry is used, nothing beyond: the rest is counted, not lost silently. */
	assert_int_equal(n, 16);
	for (long i = 0; i < n; i++)
		kept += rows[i].count;
	assert_int_equal(kept + lost, 80);
	assert_int_equal(lost, 48);
	/* A key already in the table still counts there when the table is full. */
	ztg_tally_add(t, rows[0].tag, NULL, 1);
	free(rows);
	n = ztg_tally_collect(one, 1, ZTG_TALLY_RULE, &rows, &lost);
	assert_int_equal(rows[0].count, 3);
	assert_int_equal(lost, 48);
	free(rows);
	free(t);
}

static void test_route_labels_stable(void **state)
{
	struct ztg_route_labels *l = ztg_route_labels_create(5);
	uint32_t orders_get, orders_none, users_get;

	assert_non_null(l);
	assert_null(ztg_route_labels_create(1));
	assert_int_equal(ztg_route_labels_count(l), 2);
	assert_string_equal(ztg_route_labels_service(l, ZTG_ROUTE_LABEL_NONE), "");
	assert_string_equal(ztg_route_labels_route(l, ZTG_ROUTE_LABEL_OTHER), "_other");
	assert_int_equal(ztg_route_labels_slot(l, "", "x"), ZTG_ROUTE_LABEL_NONE);
	assert_int_equal(ztg_route_labels_slot(l, NULL, NULL), ZTG_ROUTE_LABEL_NONE);

	orders_get = ztg_route_labels_slot(l, "orders", "get");
	orders_none = ztg_route_labels_slot(l, "orders", NULL);
	users_get = ztg_route_labels_slot(l, "users", "get");
	assert_int_equal(orders_get, 2);
	assert_int_equal(orders_none, 3);
	assert_int_equal(users_get, 4);
	/* The next policy names the same pairs: the same slots, whatever the order. */
	assert_int_equal(ztg_route_labels_slot(l, "users", "get"), users_get);
	assert_int_equal(ztg_route_labels_slot(l, "orders", ""), orders_none);
	assert_int_equal(ztg_route_labels_slot(l, "orders", "get"), orders_get);
	/* Full: a new pair shares _other, known ones keep theirs. */
	assert_int_equal(ztg_route_labels_slot(l, "billing", "post"), ZTG_ROUTE_LABEL_OTHER);
	assert_int_equal(ztg_route_labels_slot(l, "orders", "get"), orders_get);
	assert_int_equal(ztg_route_labels_count(l), 5);
	assert_string_equal(ztg_route_labels_service(l, users_get), "users");
	assert_string_equal(ztg_route_labels_route(l, orders_none), "");
	assert_null(ztg_route_labels_service(l, 5));
	ztg_route_labels_free(l);
}

static void test_route_labels_many(void **state)
{
	struct ztg_route_labels *l = ztg_route_labels_create(10002);
	char route[32];

	assert_non_null(l);
	for (unsigned int i = 0; i < 10000; i++) {
		snprintf(route, sizeof(route), "r%u", i);
		assert_int_equal(ztg_route_labels_slot(l, "svc", route), i + 2);
	}
	for (unsigned int i = 0; i < 10000; i += 997) {
		snprintf(route, sizeof(route), "r%u", i);
		assert_int_equal(ztg_route_labels_slot(l, "svc", route), i + 2);
	}
	assert_int_equal(ztg_route_labels_slot(l, "svc", "one too many"), ZTG_ROUTE_LABEL_OTHER);
	ztg_route_labels_free(l);
}

static void test_latency_buckets(void **state)
{
	/* Bucket i is (2^(i+7), 2^(i+8)] cycles; the first and last are open-ended. */
	assert_int_equal(ztg_latency_bucket(0), 0);
	assert_int_equal(ztg_latency_bucket(1), 0);
	assert_int_equal(ztg_latency_bucket(256), 0);
	assert_int_equal(ztg_latency_bucket(257), 1);
	assert_int_equal(ztg_latency_bucket(512), 1);
	assert_int_equal(ztg_latency_bucket(513), 2);
	assert_int_equal(ztg_latency_bucket(UINT64_C(1) << 30), 22);
	assert_int_equal(ztg_latency_bucket((UINT64_C(1) << 30) + 1), ZTG_LATENCY_BUCKETS - 1);
	assert_int_equal(ztg_latency_bucket(UINT64_MAX), ZTG_LATENCY_BUCKETS - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_across_workers),
		cmocka_unit_test(test_empty_and_kinds),
		cmocka_unit_test(test_full_table_overflows),
		cmocka_unit_test(test_route_labels_stable),
		cmocka_unit_test(test_route_labels_many),
		cmocka_unit_test(test_latency_buckets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
