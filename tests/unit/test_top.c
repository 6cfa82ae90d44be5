/*
 * Unit tests for ztgatectl top's view (dataplane/top.c): rates from two
 * samples of real tally tables, when a sample is due, the order of services
 * and reasons (ties included), the space-saving identity table (eviction,
 * its error bound, its size under a flood of new subjects, its interval
 * reset, feeding from another thread), and the JSON and text of an empty
 * and a busy view.
 *
 * Views are printed into memory and checked by fragments: the JSON writer
 * has one fixed layout, so a fragment pins a key with its value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "top.h"

#define TALLY_ENTRIES 64

/* Two workers' tables and the route slots their rows name. */
struct fixture {
	struct ztg_tally *tally[2];
	struct ztg_route_labels *labels;
	uint32_t orders_get, orders_post, billing_pay;
};

static void fixture_init(struct fixture *f)
{
	for (int w = 0; w < 2; w++) {
		f->tally[w] = ztg_tally_init(malloc(ztg_tally_size(TALLY_ENTRIES)), TALLY_ENTRIES);
		assert_non_null(f->tally[w]);
	}
	f->labels = ztg_route_labels_create(16);
	assert_non_null(f->labels);
	f->orders_get = ztg_route_labels_slot(f->labels, "orders-api", "get-order");
	f->orders_post = ztg_route_labels_slot(f->labels, "orders-api", "create-order");
	f->billing_pay = ztg_route_labels_slot(f->labels, "billing", "pay");
}

static void fixture_free(struct fixture *f)
{
	free(f->tally[0]);
	free(f->tally[1]);
	ztg_route_labels_free(f->labels);
}

static void count(struct fixture *f, int worker, uint32_t slot, enum ztg_tally_verdict verdict, const char *reason,
		  uint64_t n)
{
	ztg_tally_add(f->tally[worker], ztg_tally_tag(ZTG_TALLY_REQUEST, slot, verdict), reason, n);
}

static int sample(struct ztg_top *top, struct fixture *f, double now)
{
	return ztg_top_sample(top, (const struct ztg_tally *const *)f->tally, 2, f->labels, now);
}

/* The view as a string (free() it). */
static char *view(const struct ztg_top *top, bool json)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	ztg_top_print(top, json, out);
	assert_int_equal(fclose(out), 0);
	return text;
}

#define assert_has(text, fragment)                                                             \
	do {                                                                                   \
		if (strstr((text), (fragment)) == NULL)                                        \
			fail_msg("missing %s\n--- in ---\n%s", (fragment), (text));            \
	} while (0)

/* Whether first appears before second in text (both must be there). */
static bool before(const char *text, const char *first, const char *second)
{
	const char *a = strstr(text, first), *b = strstr(text, second);

	if (a == NULL || b == NULL)
		fail_msg("missing %s or %s\n--- in ---\n%s", first, second, text);
	return a < b;
}

static struct ztg_event event(enum ztg_event_action action, const char *issuer, const char *subject)
{
	struct ztg_event e;

	memset(&e, 0, sizeof(e));
	e.action = (uint8_t)action;
	if (subject != NULL) {
		e.identified = true;
		snprintf(e.issuer, sizeof(e.issuer), "%s", issuer);
		snprintf(e.subject, sizeof(e.subject), "%s", subject);
	}
	return e;
}

static void observe(struct ztg_top *top, enum ztg_event_action action, const char *subject, int times)
{
	struct ztg_event e = event(action, "idp", subject);

	for (int i = 0; i < times; i++)
		ztg_top_observe(top, &e);
}

static void test_create_bounds(void **state)
{
	(void)state;
	assert_null(ztg_top_create(0));
	assert_null(ztg_top_create(65535));
	ztg_top_free(ztg_top_create(65534));
	ztg_top_free(NULL);
}

static void test_empty_view(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	char *json, *text;

	(void)state;
	json = view(top, true);
	assert_string_equal(json,
		"{\"samples\":0,\"period_seconds\":1.0,\"interval_seconds\":null,"
		"\"requests\":{\"rate\":null,\"total\":0},"
		"\"verdicts\":{\"allow\":{\"rate\":null,\"total\":0},\"deny\":{\"rate\":null,\"total\":0},"
		"\"reset\":{\"rate\":null,\"total\":0},\"drop\":{\"rate\":null,\"total\":0},"
		"\"monitored\":{\"rate\":null,\"total\":0}},"
		"\"unlabelled_total\":0,\"services\":{\"count\":0,\"top\":[]},\"reasons\":{\"count\":0,\"top\":[]},"
		"\"identities\":{\"source\":\"logged events: denies, and allows when --event-sample-allowed logs them\","
		"\"capacity\":8,\"tracked\":0,\"events\":{\"rate\":null,\"total\":0},"
		"\"anonymous\":{\"rate\":null,\"total\":0},\"top\":[]}}\n");
	text = view(top, false);
	assert_string_equal(text, "no sample yet: ztgate samples its counters every 1 s\n");
	free(json);
	free(text);

	/* No tallies at all (forward-only): samples still come, every rate is zero. */
	assert_int_equal(ztg_top_sample(top, NULL, 0, NULL, 5.0), 1);
	assert_int_equal(ztg_top_sample(top, NULL, 0, NULL, 6.0), 1);
	json = view(top, true);
	assert_has(json, "{\"samples\":2,\"period_seconds\":1.0,\"interval_seconds\":1.000,"
			 "\"requests\":{\"rate\":0.000,\"total\":0}");
	assert_has(json, "\"services\":{\"count\":0,\"top\":[]},\"reasons\":{\"count\":0,\"top\":[]}");
	text = view(top, false);
	assert_has(text, "requests/s over the last 1.00 s; totals since start (sample 2)\n");
	assert_has(text, "       0.0              0  all\n");
	assert_has(text, "SERVICE (0 of 0)\n\n");
	assert_has(text, "0 events in the interval, 0 without an identity; identities tracked: 0 of 8\n");
	free(json);
	free(text);
	ztg_top_free(top);
}

static void test_sample_due(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct fixture f;

	(void)state;
	fixture_init(&f);
	assert_int_equal(sample(top, &f, 100.0), 1);    /* the first call always samples */
	assert_int_equal(sample(top, &f, 100.5), 0);
	assert_int_equal(sample(top, &f, 100.999), 0);
	assert_int_equal(sample(top, &f, 101.0), 1);
	assert_int_equal(sample(top, &f, 101.2), 0);
	fixture_free(&f);
	ztg_top_free(top);
}

/* Rates are what grew between the last two samples over the time between them, summed over workers. */
static void test_rates_from_two_samples(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct fixture f;
	char *json, *text;

	(void)state;
	fixture_init(&f);
	count(&f, 0, f.orders_get, ZTG_TALLY_ALLOW, NULL, 100);
	count(&f, 1, f.orders_get, ZTG_TALLY_ALLOW, NULL, 50);
	count(&f, 0, f.orders_get, ZTG_TALLY_DENY, "no_route", 4);
	assert_int_equal(sample(top, &f, 10.0), 1);
	json = view(top, true);
	/* One sample: totals, and no rate yet. */
	assert_has(json, "\"interval_seconds\":null,\"requests\":{\"rate\":null,\"total\":154}");
	assert_has(json, "\"reasons\":{\"count\":1,\"top\":[{\"reason\":\"no_route\",\"verdict\":\"deny\","
			 "\"rate\":null,\"total\":4}]}");
	text = view(top, false);
	assert_has(text, "totals since start; rates from the next sample, in 1 s\n");
	assert_has(text, "         -            150  allow\n");
	free(json);
	free(text);

	count(&f, 0, f.orders_get, ZTG_TALLY_ALLOW, NULL, 300);
	count(&f, 1, f.orders_post, ZTG_TALLY_ALLOW, NULL, 100);
	count(&f, 1, f.orders_get, ZTG_TALLY_DENY, "no_route", 3);      /* the same reason on the other worker */
	count(&f, 1, f.billing_pay, ZTG_TALLY_DROP, "signature", 2);     /* a key new since the first sample */
	count(&f, 0, f.billing_pay, ZTG_TALLY_MONITORED, "route_action", 1);
	assert_int_equal(sample(top, &f, 12.0), 1);
	json = view(top, true);
	assert_has(json, "\"samples\":2,\"period_seconds\":1.0,\"interval_seconds\":2.000,"
			 "\"requests\":{\"rate\":203.000,\"total\":560}");
	assert_has(json, "\"verdicts\":{\"allow\":{\"rate\":200.000,\"total\":550},"
			 "\"deny\":{\"rate\":1.500,\"total\":7},\"reset\":{\"rate\":0.000,\"total\":0},"
			 "\"drop\":{\"rate\":1.000,\"total\":2},\"monitored\":{\"rate\":0.500,\"total\":1}}");
	/* Both routes of orders-api are one service. */
	assert_has(json, "\"services\":{\"count\":2,\"top\":[{\"service\":\"orders-api\",\"rate\":201.500,"
			 "\"total\":557},{\"service\":\"billing\",\"rate\":1.500,\"total\":3}]}");
	assert_has(json, "\"reasons\":{\"count\":3,\"top\":[{\"reason\":\"no_route\",\"verdict\":\"deny\","
			 "\"rate\":1.500,\"total\":7},{\"reason\":\"signature\",\"verdict\":\"drop\",\"rate\":1.000,"
			 "\"total\":2},{\"reason\":\"route_action\",\"verdict\":\"monitored\",\"rate\":0.500,\"total\":1}]}");
	free(json);

	/* Nothing new: every rate falls to zero, totals stay. */
	assert_int_equal(sample(top, &f, 13.0), 1);
	json = view(top, true);
	assert_has(json, "\"interval_seconds\":1.000,\"requests\":{\"rate\":0.000,\"total\":560}");
	free(json);
	fixture_free(&f);
	ztg_top_free(top);
}

/* Busiest first by rate; equal rates by total, then by name; a reason under two verdicts is two rows. */
static void test_ordering_and_ties(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct fixture f;
	uint32_t zeta, alpha, none = ZTG_ROUTE_LABEL_NONE;
	char *json;

	(void)state;
	fixture_init(&f);
	zeta = ztg_route_labels_slot(f.labels, "zeta", NULL);
	alpha = ztg_route_labels_slot(f.labels, "alpha", NULL);
	count(&f, 0, f.billing_pay, ZTG_TALLY_ALLOW, NULL, 50);   /* a large total, no growth */
	count(&f, 0, zeta, ZTG_TALLY_ALLOW, NULL, 5);
	count(&f, 0, alpha, ZTG_TALLY_ALLOW, NULL, 5);
	count(&f, 1, f.orders_get, ZTG_TALLY_ALLOW, NULL, 20);
	sample(top, &f, 1.0);
	count(&f, 0, zeta, ZTG_TALLY_ALLOW, NULL, 10);            /* zeta and alpha grow alike */
	count(&f, 0, alpha, ZTG_TALLY_ALLOW, NULL, 10);
	count(&f, 1, f.orders_get, ZTG_TALLY_ALLOW, NULL, 6);     /* as fast with its stops, a larger total */
	count(&f, 1, none, ZTG_TALLY_DENY, "unknown_host", 40);
	count(&f, 0, f.orders_get, ZTG_TALLY_DENY, "no_route", 2);
	count(&f, 0, f.orders_get, ZTG_TALLY_RESET, "no_route", 2);
	sample(top, &f, 2.0);
	json = view(top, true);
	assert_true(before(json, "{\"service\":null,", "{\"service\":\"orders-api\""));
	assert_true(before(json, "{\"service\":\"orders-api\"", "{\"service\":\"alpha\""));
	assert_true(before(json, "{\"service\":\"alpha\"", "{\"service\":\"zeta\""));
	assert_true(before(json, "{\"service\":\"zeta\"", "{\"service\":\"billing\""));
	assert_has(json, "{\"service\":null,\"rate\":40.000,\"total\":40}");
	assert_has(json, "{\"service\":\"billing\",\"rate\":0.000,\"total\":50}");
	assert_true(before(json, "{\"reason\":\"unknown_host\"", "{\"reason\":\"no_route\",\"verdict\":\"deny\""));
	assert_true(before(json, "{\"reason\":\"no_route\",\"verdict\":\"deny\"",
			   "{\"reason\":\"no_route\",\"verdict\":\"reset\""));
	free(json);
	fixture_free(&f);
	ztg_top_free(top);
}

/* More services than a view lists: the busiest ZTG_TOP_ROWS, and the count of all. */
static void test_rows_bounded(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct fixture f;
	char name[16], *json, *text;

	(void)state;
	fixture_init(&f);
	ztg_route_labels_free(f.labels);
	f.labels = ztg_route_labels_create(64);
	for (int s = 0; s < 2 * ZTG_TOP_ROWS; s++) {
		snprintf(name, sizeof(name), "svc-%02d", s);
		count(&f, 0, ztg_route_labels_slot(f.labels, name, NULL), ZTG_TALLY_ALLOW, NULL, (uint64_t)s + 1);
	}
	sample(top, &f, 1.0);
	json = view(top, true);
	assert_has(json, "\"services\":{\"count\":20,\"top\":[{\"service\":\"svc-19\"");
	assert_has(json, "{\"service\":\"svc-10\",\"rate\":null,\"total\":11}]}");
	assert_null(strstr(json, "\"svc-09\""));
	text = view(top, false);
	assert_has(text, "SERVICE (10 of 20)\n");
	free(json);
	free(text);
	fixture_free(&f);
	ztg_top_free(top);
}

/* A full table gives the least counted entry's place to a newcomer, which inherits its count as error. */
static void test_identity_eviction(void **state)
{
	struct ztg_top *top = ztg_top_create(4);
	char *json;

	(void)state;
	observe(top, ZTG_EVENT_ACTION_DENY, "alice", 5);
	observe(top, ZTG_EVENT_ACTION_DENY, "bob", 4);
	observe(top, ZTG_EVENT_ACTION_ALLOW, "carol", 3);
	observe(top, ZTG_EVENT_ACTION_DENY, "dave", 2);
	observe(top, ZTG_EVENT_ACTION_DENY, "erin", 1);
	ztg_top_sample(top, NULL, 0, NULL, 1.0);
	json = view(top, true);
	assert_has(json, "\"capacity\":4,\"tracked\":4,\"events\":{\"rate\":null,\"total\":15}");
	assert_has(json, "\"top\":[{\"issuer\":\"idp\",\"subject\":\"alice\",\"rate\":null,\"denied_rate\":null,"
			 "\"events\":5,\"error\":0,\"denied\":5,\"total\":5},");
	/* carol and erin both count 3; carol was seen 3 times, erin once: carol first. */
	assert_true(before(json, "\"subject\":\"bob\"", "\"subject\":\"carol\""));
	assert_has(json, "{\"issuer\":\"idp\",\"subject\":\"carol\",\"rate\":null,\"denied_rate\":null,"
			 "\"events\":3,\"error\":0,\"denied\":0,\"total\":3},"
			 "{\"issuer\":\"idp\",\"subject\":\"erin\",\"rate\":null,\"denied_rate\":null,"
			 "\"events\":3,\"error\":2,\"denied\":1,\"total\":1}]}}");
	assert_null(strstr(json, "dave"));
	free(json);
	ztg_top_free(top);
}

/* A flood of one-off subjects never grows the table, and a heavy hitter in it stays on top. */
static void test_identity_memory_bounded(void **state)
{
	struct ztg_top *top = ztg_top_create(256);
	char subject[32], *json;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		struct ztg_event e;

		snprintf(subject, sizeof(subject), "minted-%d", i);
		e = event(ZTG_EVENT_ACTION_DENY, "idp", subject);
		ztg_top_observe(top, &e);
		if (i % 100 == 0)
			observe(top, ZTG_EVENT_ACTION_DENY, "mallory", 1);
	}
	ztg_top_sample(top, NULL, 0, NULL, 1.0);
	json = view(top, true);
	assert_has(json, "\"capacity\":256,\"tracked\":256,\"events\":{\"rate\":null,\"total\":101000}");
	/* Space-saving keeps anyone above events / capacity (about 395 here): mallory, at 1,000. */
	assert_has(json, "\"top\":[{\"issuer\":\"idp\",\"subject\":\"mallory\"");
	free(json);
	ztg_top_free(top);
}

/* Each interval counts from zero: identities idle in the last one go after the busy ones, their totals stay. */
static void test_identity_interval(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct ztg_event anonymous = event(ZTG_EVENT_ACTION_DENY, NULL, NULL);
	struct ztg_event monitored = event(ZTG_EVENT_ACTION_DENY, "idp", "bob");
	char *json;

	(void)state;
	ztg_top_sample(top, NULL, 0, NULL, 1.0);
	observe(top, ZTG_EVENT_ACTION_DENY, "alice", 4);
	ztg_top_observe(top, &anonymous);
	monitored.monitor = true;          /* logged, not stopped: not a denial */
	ztg_top_observe(top, &monitored);
	ztg_top_sample(top, NULL, 0, NULL, 3.0);
	json = view(top, true);
	assert_has(json, "\"events\":{\"rate\":3.000,\"total\":6},\"anonymous\":{\"rate\":0.500,\"total\":1}");
	assert_has(json, "{\"issuer\":\"idp\",\"subject\":\"alice\",\"rate\":2.000,\"denied_rate\":2.000,"
			 "\"events\":4,\"error\":0,\"denied\":4,\"total\":4}");
	assert_has(json, "{\"issuer\":\"idp\",\"subject\":\"bob\",\"rate\":0.500,\"denied_rate\":0.000,");
	free(json);

	observe(top, ZTG_EVENT_ACTION_DENY, "bob", 1);
	ztg_top_sample(top, NULL, 0, NULL, 4.0);
	json = view(top, true);
	assert_has(json, "\"tracked\":2,\"events\":{\"rate\":1.000,\"total\":7}");
	assert_has(json, "\"top\":[{\"issuer\":\"idp\",\"subject\":\"bob\",\"rate\":1.000,\"denied_rate\":1.000,"
			 "\"events\":1,\"error\":0,\"denied\":1,\"total\":2},"
			 "{\"issuer\":\"idp\",\"subject\":\"alice\",\"rate\":0.000,\"denied_rate\":0.000,"
			 "\"events\":0,\"error\":0,\"denied\":0,\"total\":4}]}}");
	free(json);
	ztg_top_free(top);
}

struct feeder {
	struct ztg_top *top;
	const char *subject;
};

static void *feed(void *arg)
{
	const struct feeder *f = arg;

	observe(f->top, ZTG_EVENT_ACTION_DENY, f->subject, 20000);
	return NULL;
}

/* The event drain may run on its own thread while the main lcore samples: no count is lost. */
static void test_identity_threads(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct feeder a = {top, "alice"}, b = {top, "bob"};
	pthread_t ta, tb;
	double now = 1.0;
	char *json;

	(void)state;
	assert_int_equal(pthread_create(&ta, NULL, feed, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, feed, &b), 0);
	for (int i = 0; i < 50; i++, now += 1.0)
		ztg_top_sample(top, NULL, 0, NULL, now);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ztg_top_sample(top, NULL, 0, NULL, now);
	json = view(top, true);
	assert_has(json, "\"events\":{\"rate\":");
	assert_has(json, ",\"total\":40000},\"anonymous\"");
	free(json);
	ztg_top_free(top);
}

/* The text screen: columns, names last, and nothing from a token can steer the terminal. */
static void test_text_busy(void **state)
{
	struct ztg_top *top = ztg_top_create(8);
	struct fixture f;
	char *text;

	(void)state;
	fixture_init(&f);
	sample(top, &f, 1.0);
	count(&f, 0, f.orders_get, ZTG_TALLY_ALLOW, NULL, 40);
	count(&f, 0, f.orders_get, ZTG_TALLY_DENY, "no_route", 6);
	count(&f, 0, ZTG_ROUTE_LABEL_NONE, ZTG_TALLY_DENY, "unknown_host", 2);
	observe(top, ZTG_EVENT_ACTION_DENY, "alice", 4);
	observe(top, ZTG_EVENT_ACTION_DENY, "\x1b[2Jevil\n", 2);
	sample(top, &f, 3.0);
	text = view(top, false);
	assert_has(text, "requests/s over the last 2.00 s; totals since start (sample 2)\n"
			 "\n"
			 "     REQ/S          TOTAL  VERDICT\n"
			 "      20.0             40  allow\n"
			 "       4.0              8  deny\n"
			 "       0.0              0  reset\n"
			 "       0.0              0  drop\n"
			 "       0.0              0  monitored\n"
			 "      24.0             48  all\n"
			 "\n"
			 "     REQ/S          TOTAL  SERVICE (2 of 2)\n"
			 "      23.0             46  orders-api\n"
			 "       1.0              2  (no service)\n"
			 "\n"
			 "     REQ/S          TOTAL  VERDICT    REASON (2 of 2)\n"
			 "       3.0              6  deny       no_route\n"
			 "       1.0              2  deny       unknown_host\n"
			 "\n"
			 "Identities, from logged events only (denies, and allows sampled by --event-sample-allowed):\n"
			 "6 events in the interval, 0 without an identity; identities tracked: 2 of 8\n"
			 "  EVENTS/S   DENIED/S          TOTAL  ISSUER SUBJECT (2)\n"
			 "       2.0        2.0              4  idp    alice\n"
			 "       1.0        1.0              2  idp    ?[2Jevil?\n");
	assert_null(strchr(text, '\x1b'));
	free(text);
	fixture_free(&f);
	ztg_top_free(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_empty_view),
		cmocka_unit_test(test_sample_due),
		cmocka_unit_test(test_rates_from_two_samples),
		cmocka_unit_test(test_ordering_and_ties),
		cmocka_unit_test(test_rows_bounded),
		cmocka_unit_test(test_identity_eviction),
		cmocka_unit_test(test_identity_memory_bounded),
		cmocka_unit_test(test_identity_interval),
		cmocka_unit_test(test_identity_threads),
		cmocka_unit_test(test_text_busy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
