/*
 * The queue plan: both directions of every flow on one worker, one writer
 * per tx queue, whatever mix of RSS-capable and single-queue pairs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "port.h"

#define MAX_WORKERS 4

static struct ztg_worker worker_storage[MAX_WORKERS];
static struct ztg_worker *workers[MAX_WORKERS];

static int reset_workers(void **state)
{
	(void)state;
	memset(worker_storage, 0, sizeof(worker_storage));
	for (unsigned int i = 0; i < MAX_WORKERS; i++) {
		worker_storage[i].lcore_id = i + 1;
		workers[i] = &worker_storage[i];
	}
	return 0;
}

static void assert_queue(const struct ztg_worker *w, uint16_t index, uint16_t rx_port, uint16_t tx_port,
			 uint16_t queue)
{
	assert_true(index < w->queue_count);
	assert_int_equal(w->queues[index].rx_port, rx_port);
	assert_int_equal(w->queues[index].tx_port, tx_port);
	assert_int_equal(w->queues[index].rx_queue, queue);
	assert_int_equal(w->queues[index].tx_queue, queue);
}

static void test_rss_pair_gives_every_worker_a_queue_on_both_ports(void **state)
{
	struct ztg_port_caps caps[2] = {{.port_id = 0, .rss = true}, {.port_id = 1, .rss = true}};
	struct ztg_port_setup setups[2];
	char err[128];

	(void)state;
	assert_int_equal(ztg_port_plan(caps, 1, workers, 3, setups, err, sizeof(err)), 0);
	for (int p = 0; p < 2; p++) {
		assert_int_equal(setups[p].queue_count, 3);
		assert_true(setups[p].rss);
	}
	for (uint16_t w = 0; w < 3; w++) {
		assert_int_equal(workers[w]->queue_count, 2);
		assert_queue(workers[w], 0, 0, 1, w);
		assert_queue(workers[w], 1, 1, 0, w);
	}
}

static void test_single_queue_pairs_are_dealt_whole(void **state)
{
	struct ztg_port_caps caps[6] = {
		{.port_id = 0}, {.port_id = 1}, {.port_id = 2}, {.port_id = 3}, {.port_id = 4}, {.port_id = 5},
	};
	struct ztg_port_setup setups[6];
	char err[128];

	(void)state;
	assert_int_equal(ztg_port_plan(caps, 3, workers, 2, setups, err, sizeof(err)), 0);
	for (int p = 0; p < 6; p++) {
		assert_int_equal(setups[p].queue_count, 1);
		assert_false(setups[p].rss);
	}
	/* Pairs 0 and 2 on the first worker, pair 1 on the second: never split. */
	assert_int_equal(workers[0]->queue_count, 4);
	assert_queue(workers[0], 0, 0, 1, 0);
	assert_queue(workers[0], 1, 1, 0, 0);
	assert_queue(workers[0], 2, 4, 5, 0);
	assert_queue(workers[0], 3, 5, 4, 0);
	assert_int_equal(workers[1]->queue_count, 2);
	assert_queue(workers[1], 0, 2, 3, 0);
	assert_queue(workers[1], 1, 3, 2, 0);
}

static void test_rss_needs_both_ports_of_the_pair(void **state)
{
	struct ztg_port_caps caps[2] = {{.port_id = 0, .rss = true}, {.port_id = 1, .rss = false}};
	struct ztg_port_setup setups[2];
	char err[128];

	(void)state;
	assert_int_equal(ztg_port_plan(caps, 1, workers, 2, setups, err, sizeof(err)), 0);
	assert_int_equal(setups[0].queue_count, 1);
	assert_int_equal(setups[1].queue_count, 1);
	assert_int_equal(workers[0]->queue_count, 2);
	assert_int_equal(workers[1]->queue_count, 0);
}

static void test_one_worker_never_uses_rss(void **state)
{
	struct ztg_port_caps caps[2] = {{.port_id = 0, .rss = true}, {.port_id = 1, .rss = true}};
	struct ztg_port_setup setups[2];
	char err[128];

	(void)state;
	assert_int_equal(ztg_port_plan(caps, 1, workers, 1, setups, err, sizeof(err)), 0);
	assert_false(setups[0].rss);
	assert_int_equal(setups[0].queue_count, 1);
	assert_int_equal(workers[0]->queue_count, 2);
}

static void test_too_many_queues_for_a_worker_is_an_error(void **state)
{
	struct ztg_port_caps caps[2 * 40];
	struct ztg_port_setup setups[2 * 40];
	char err[128] = "";

	(void)state;
	for (uint16_t i = 0; i < 80; i++)
		caps[i] = (struct ztg_port_caps){.port_id = i};
	assert_int_equal(ztg_port_plan(caps, 40, workers, 1, setups, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rss_pair_gives_every_worker_a_queue_on_both_ports, reset_workers),
		cmocka_unit_test_setup(test_single_queue_pairs_are_dealt_whole, reset_workers),
		cmocka_unit_test_setup(test_rss_needs_both_ports_of_the_pair, reset_workers),
		cmocka_unit_test_setup(test_one_worker_never_uses_rss, reset_workers),
		cmocka_unit_test_setup(test_too_many_queues_for_a_worker_is_an_error, reset_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
