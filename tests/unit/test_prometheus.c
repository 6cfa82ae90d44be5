/*
 * The Prometheus text writer (control/prometheus.c): escaping, name checks,
 * histograms, one HELP/TYPE per family, the page's size limit, sticky errors.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prometheus.h"

#define PAGE_MAX 65536

static const char *page_of(struct ztg_prom_writer *w)
{
	const char *data;
	size_t len;

	assert_int_equal(ztg_prom_finish(w, &data, &len), 0);
	assert_int_equal(strlen(data), len);
	return data;
}

static size_t occurrences(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_counter_and_gauge(void **state)
{
	struct ztg_prom_writer w;

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "ztgate_rx_packets_total", ZTG_PROM_COUNTER, "Packets received"), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, UINT64_MAX), 0);
	assert_int_equal(ztg_prom_family(&w, "ztgate_flows_active", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_sample_double(&w, NULL, 0, 0.25), 0);
	assert_int_equal(ztg_prom_family(&w, "odd:values", ZTG_PROM_GAUGE, ""), 0);
	assert_int_equal(ztg_prom_sample_double(&w, NULL, 0, NAN), 0);
	assert_int_equal(ztg_prom_sample_double(&w, NULL, 0, -INFINITY), 0);
	assert_int_equal(ztg_prom_sample_double(&w, NULL, 0, 0.1), 0);
	assert_string_equal(page_of(&w),
			    "# HELP ztgate_rx_packets_total Packets received\n"
			    "# TYPE ztgate_rx_packets_total counter\n"
			    "ztgate_rx_packets_total 18446744073709551615\n"
			    "# TYPE ztgate_flows_active gauge\n"
			    "ztgate_flows_active 0.25\n"
			    "# TYPE odd:values gauge\n"
			    "odd:values NaN\n"
			    "odd:values -Inf\n"
			    "odd:values 0.1\n");
	ztg_prom_release(&w);
}

static void test_label_escaping(void **state)
{
	struct ztg_prom_writer w;
	const struct ztg_prom_label labels[] = {
		{"path", "C:\\dir \"quoted\"\nnext"},
		{"city", "Zürich \xe2\x82\xac \xf0\x9f\x98\x80"},
		{"empty", ""},
	};

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "t_total", ZTG_PROM_COUNTER, "back\\slash \"as is\"\nline two"), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, labels, 3, 7), 0);
	assert_string_equal(page_of(&w),
			    "# HELP t_total back\\\\slash \"as is\"\\nline two\n"
			    "# TYPE t_total counter\n"
			    "t_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\",city=\"Zürich \xe2\x82\xac \xf0\x9f\x98\x80\","
			    "empty=\"\"} 7\n");
	ztg_prom_release(&w);
}

static void test_bad_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff",                  /* never in UTF-8 */
		"\xc3",                  /* cut short */
		"\xc0\xaf",              /* overlong '/' */
		"\xed\xa0\x80",          /* a surrogate */
		"\xf4\x90\x80\x80",      /* past U+10FFFF */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ztg_prom_writer w;
		struct ztg_prom_label label = {"v", bad[i]};

		ztg_prom_init(&w, PAGE_MAX);
		assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
		assert_int_equal(ztg_prom_sample_u64(&w, &label, 1, 1), -EILSEQ);
		ztg_prom_release(&w);
	}
}

static void test_name_validation(void **state)
{
	static const char *const good_metric[] = {"a", "_x", ":x", "ztgate_rx:rate_5m", "A9_:"};
	static const char *const bad_metric[] = {"", "9lives", "bad-name", "sp ace", "dot.ted", "é"};
	static const char *const bad_label[] = {"", "9x", "a:b", "a-b", "__reserved"};
	char longest[ZTG_PROM_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(good_metric) / sizeof(good_metric[0]); i++)
		assert_true(ztg_prom_metric_name_ok(good_metric[i]));
	for (size_t i = 0; i < sizeof(bad_metric) / sizeof(bad_metric[0]); i++) {
		struct ztg_prom_writer w;

		assert_false(ztg_prom_metric_name_ok(bad_metric[i]));
		ztg_prom_init(&w, PAGE_MAX);
		assert_int_equal(ztg_prom_family(&w, bad_metric[i], ZTG_PROM_GAUGE, "h"), -EINVAL);
		assert_int_equal(w.len, 0);
		ztg_prom_release(&w);
	}
	assert_false(ztg_prom_metric_name_ok(NULL));
	assert_false(ztg_prom_label_name_ok("a:b"));
	assert_true(ztg_prom_label_name_ok("_port9"));
	memset(longest, 'n', sizeof(longest) - 1);
	longest[ZTG_PROM_NAME_MAX] = '\0';
	assert_true(ztg_prom_metric_name_ok(longest));
	longest[ZTG_PROM_NAME_MAX] = 'n';
	longest[ZTG_PROM_NAME_MAX + 1] = '\0';
	assert_false(ztg_prom_metric_name_ok(longest));

	for (size_t i = 0; i < sizeof(bad_label) / sizeof(bad_label[0]); i++) {
		struct ztg_prom_writer w;
		struct ztg_prom_label label = {bad_label[i], "v"};

		ztg_prom_init(&w, PAGE_MAX);
		assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
		assert_int_equal(ztg_prom_sample_u64(&w, &label, 1, 1), -EINVAL);
		/* Nothing of the refused sample reached the page, and the error sticks. */
		assert_null(strstr(w.data, "v\""));
		assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), -EINVAL);
		ztg_prom_release(&w);
	}
}

static void test_counter_needs_total(void **state)
{
	struct ztg_prom_writer w;

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "ztgate_rx_packets", ZTG_PROM_COUNTER, NULL), -EINVAL);
	ztg_prom_release(&w);
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "_total", ZTG_PROM_COUNTER, NULL), 0);
	ztg_prom_release(&w);
}

static void test_labels_checked_as_set(void **state)
{
	struct ztg_prom_writer w;
	const struct ztg_prom_label twice[] = {{"port", "0"}, {"port", "1"}};
	const struct ztg_prom_label null_value[] = {{"port", NULL}};

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, twice, 2, 1), -EINVAL);
	ztg_prom_release(&w);
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, null_value, 1, 1), -EINVAL);
	ztg_prom_release(&w);
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 1, 1), -EINVAL);
	ztg_prom_release(&w);
}

static void test_histogram(void **state)
{
	struct ztg_prom_writer w;
	const double bounds[] = {0.005, 0.1, 1, 2.5};
	const uint64_t counts[] = {3, 0, 5, 1, 2};   /* the last: above 2.5 */
	const struct ztg_prom_histogram h = {.bucket_count = 4, .bounds = bounds, .counts = counts, .sum = 17.75};
	const struct ztg_prom_label label = {"stage", "authz"};
	const uint64_t only_inf[] = {4};
	const struct ztg_prom_histogram bare = {.bucket_count = 0, .counts = only_inf, .sum = 2};

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "ztgate_latency_seconds", ZTG_PROM_HISTOGRAM, "Time per request"), 0);
	assert_int_equal(ztg_prom_histogram(&w, &label, 1, &h), 0);
	assert_int_equal(ztg_prom_histogram(&w, NULL, 0, &bare), 0);
	assert_string_equal(page_of(&w),
			    "# HELP ztgate_latency_seconds Time per request\n"
			    "# TYPE ztgate_latency_seconds histogram\n"
			    "ztgate_latency_seconds_bucket{stage=\"authz\",le=\"0.005\"} 3\n"
			    "ztgate_latency_seconds_bucket{stage=\"authz\",le=\"0.1\"} 3\n"
			    "ztgate_latency_seconds_bucket{stage=\"authz\",le=\"1\"} 8\n"
			    "ztgate_latency_seconds_bucket{stage=\"authz\",le=\"2.5\"} 9\n"
			    "ztgate_latency_seconds_bucket{stage=\"authz\",le=\"+Inf\"} 11\n"
			    "ztgate_latency_seconds_sum{stage=\"authz\"} 17.75\n"
			    "ztgate_latency_seconds_count{stage=\"authz\"} 11\n"
			    "ztgate_latency_seconds_bucket{le=\"+Inf\"} 4\n"
			    "ztgate_latency_seconds_sum 2\n"
			    "ztgate_latency_seconds_count 4\n");
	ztg_prom_release(&w);
}

static void test_histogram_refused(void **state)
{
	const double unordered[] = {1, 1};
	const double infinite[] = {1, INFINITY};
	const uint64_t counts[] = {1, 1, 1};
	const struct ztg_prom_histogram bad[] = {
		{.bucket_count = 2, .bounds = unordered, .counts = counts},
		{.bucket_count = 2, .bounds = infinite, .counts = counts},
		{.bucket_count = 2, .bounds = NULL, .counts = counts},
		{.bucket_count = ZTG_PROM_MAX_BUCKETS + 1, .bounds = unordered, .counts = counts},
	};
	const struct ztg_prom_label le = {"le", "1"};
	const struct ztg_prom_histogram ok = {.bucket_count = 0, .counts = counts};
	struct ztg_prom_writer w;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ztg_prom_init(&w, PAGE_MAX);
		assert_int_equal(ztg_prom_family(&w, "h", ZTG_PROM_HISTOGRAM, NULL), 0);
		assert_int_equal(ztg_prom_histogram(&w, NULL, 0, &bad[i]), -EINVAL);
		ztg_prom_release(&w);
	}
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "h", ZTG_PROM_HISTOGRAM, NULL), 0);
	assert_int_equal(ztg_prom_histogram(&w, &le, 1, &ok), -EINVAL);
	ztg_prom_release(&w);
	/* A plain sample into a histogram family, a histogram into a gauge, a sample before any family. */
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "h", ZTG_PROM_HISTOGRAM, NULL), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), -EPROTO);
	ztg_prom_release(&w);
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_histogram(&w, NULL, 0, &ok), -EPROTO);
	ztg_prom_release(&w);
	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), -EPROTO);
	ztg_prom_release(&w);
}

static void test_help_type_once(void **state)
{
	struct ztg_prom_writer w;
	const char *data;
	size_t len;

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_family(&w, "a_total", ZTG_PROM_COUNTER, "first"), 0);
	for (int port = 0; port < 4; port++) {
		char text[12];
		struct ztg_prom_label label = {"port", text};

		snprintf(text, sizeof(text), "%d", port);
		assert_int_equal(ztg_prom_sample_u64(&w, &label, 1, (uint64_t)port), 0);
	}
	assert_int_equal(ztg_prom_family(&w, "b", ZTG_PROM_GAUGE, "second"), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), 0);
	data = page_of(&w);
	assert_int_equal(occurrences(data, "# HELP a_total "), 1);
	assert_int_equal(occurrences(data, "# TYPE a_total "), 1);
	assert_int_equal(occurrences(data, "\na_total{port="), 4);
	/* Declaring a family again is refused (its samples would split), and the error sticks. */
	assert_int_equal(ztg_prom_family(&w, "a_total", ZTG_PROM_COUNTER, "again"), -EEXIST);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), -EEXIST);
	assert_int_equal(ztg_prom_finish(&w, &data, &len), -EEXIST);
	assert_null(ztg_prom_take(&w, &len));
	ztg_prom_release(&w);
}

static void test_page_limit(void **state)
{
	struct ztg_prom_writer w;
	const char *fits = "# TYPE g gauge\ng 1\n";
	size_t exact = strlen(fits), len = 0;
	char *taken;
	int rc = 0;

	/* Exactly the page's size is fine; one byte less is an error, not a cut page. */
	ztg_prom_init(&w, exact);
	assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), 0);
	taken = ztg_prom_take(&w, &len);
	assert_non_null(taken);
	assert_int_equal(len, exact);
	assert_memory_equal(taken, fits, exact);
	free(taken);
	ztg_prom_release(&w);

	ztg_prom_init(&w, exact - 1);
	assert_int_equal(ztg_prom_family(&w, "g", ZTG_PROM_GAUGE, NULL), 0);
	assert_int_equal(ztg_prom_sample_u64(&w, NULL, 0, 1), -ENOSPC);
	assert_int_equal(w.len, strlen("# TYPE g gauge\n"));   /* the refused line left nothing */
	assert_null(ztg_prom_take(&w, &len));
	ztg_prom_release(&w);

	/* Growing past the first allocation, then into the limit. */
	ztg_prom_init(&w, 100000);
	assert_int_equal(ztg_prom_family(&w, "big_total", ZTG_PROM_COUNTER, NULL), 0);
	for (int i = 0; i < 100000 && rc == 0; i++)
		rc = ztg_prom_sample_u64(&w, NULL, 0, (uint64_t)i);
	assert_int_equal(rc, -ENOSPC);
	assert_true(w.len <= 100000);
	assert_true(w.len > 90000);
	ztg_prom_release(&w);
}

static void test_empty_page(void **state)
{
	struct ztg_prom_writer w;
	const char *data;
	size_t len = 1;

	ztg_prom_init(&w, PAGE_MAX);
	assert_int_equal(ztg_prom_finish(&w, &data, &len), 0);
	assert_string_equal(data, "");
	assert_int_equal(len, 0);
	assert_null(ztg_prom_take(&w, &len));
	ztg_prom_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_gauge),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_name_validation),
		cmocka_unit_test(test_counter_needs_total),
		cmocka_unit_test(test_labels_checked_as_set),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_histogram_refused),
		cmocka_unit_test(test_help_type_once),
		cmocka_unit_test(test_page_limit),
		cmocka_unit_test(test_empty_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
