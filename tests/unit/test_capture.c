/*
 * Packet capture (capture.h): the `capture start` arguments, and sessions
 * end to end under a minimal EAL (eal_fixture.h) with one net_null port: a
 * worker's copies written as pcapng blocks (read back here), the snap
 * length, the count limit, a full ring, refusals; and why dpdk-dumpcap
 * cannot attach to an EAL without hugepages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "capture.h"
#include "eal_fixture.h"

#define FRAME_LEN 100

/* One capture's world: a port, a worker's counters, the QSBR variable, a packet to copy. */
struct fixture {
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *rcu;
	struct ztg_counters counters;
	const struct ztg_counters *workers[1];
	struct ztg_capture *cap;
	struct rte_mbuf *packet;
	char path[64];
	uint64_t wall_before;
};

/* An Enhanced Packet Block read back. */
struct block {
	uint32_t interface;
	uint64_t ns;
	uint32_t captured;
	uint32_t original;
	uint32_t direction;              /* the epb_flags option's low two bits: 1 in, 2 out */
	const uint8_t *data;
};

static uint64_t wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static enum ztg_control_status command(struct ztg_capture *cap, char *answer, size_t len, int argc, ...)
{
	char *argv[ZTG_CONTROL_MAX_ARGS];
	FILE *out = fmemopen(answer, len, "w");
	enum ztg_control_status status;
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	assert_non_null(out);
	status = ztg_capture_command(cap, argc, argv, false, out);
	fclose(out);
	return status;
}

static int setup(void **state)
{
	static bool port_made;
	struct fixture *f = calloc(1, sizeof(*f));
	char *data;

	if (f == NULL)
		return -1;
	/* The pcapng file describes the ports there are: give it one. */
	if (!port_made && rte_eal_hotplug_add("vdev", "net_null0", "no-rx=1") != 0)
		return -1;
	port_made = true;
	f->pool = rte_pktmbuf_pool_create("test_capture", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	f->rcu = calloc(1, rte_rcu_qsbr_get_memsize(1));
	if (f->pool == NULL || f->rcu == NULL || rte_rcu_qsbr_init(f->rcu, 1) != 0)
		return -1;
	f->workers[0] = &f->counters;
	f->cap = ztg_capture_create(1, f->workers, f->rcu, NULL);
	f->packet = rte_pktmbuf_alloc(f->pool);
	data = rte_pktmbuf_append(f->packet, FRAME_LEN);
	if (f->cap == NULL || data == NULL)
		return -1;
	for (int i = 0; i < FRAME_LEN; i++)
		data[i] = (char)i;
	snprintf(f->path, sizeof(f->path), "/tmp/test_capture_%d.pcapng", (int)getpid());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ztg_capture_free(f->cap, NULL);
	rte_pktmbuf_free(f->packet);
	rte_mempool_free(f->pool);
	free(f->rcu);
	unlink(f->path);
	free(f);
	return 0;
}

static struct ztg_capture_session *session_of(const struct fixture *f)
{
	return atomic_load(ztg_capture_published(f->cap));
}

static void start(struct fixture *f, const char *snaplen, const char *count)
{
	char answer[512];
	enum ztg_control_status status;

	f->wall_before = wall_ns();
	if (count != NULL)
		status = command(f->cap, answer, sizeof(answer), 5, "capture", "start", f->path, "--count", count);
	else if (snaplen != NULL)
		status = command(f->cap, answer, sizeof(answer), 5, "capture", "start", f->path, "--snaplen", snaplen);
	else
		status = command(f->cap, answer, sizeof(answer), 3, "capture", "start", f->path);
	assert_int_equal(status, ZTG_CONTROL_OK);
	assert_non_null(strstr(answer, "capturing the packets of denied flows into /tmp/test_capture_"));
	assert_non_null(session_of(f));
}

/* The file's packet blocks into blocks[]; returns how many. The file must be well formed pcapng. */
static unsigned int read_blocks(const char *path, uint8_t *buf, size_t len, struct block *blocks, unsigned int max)
{
	FILE *in = fopen(path, "rb");
	size_t size, at = 0;
	unsigned int n = 0, interfaces = 0;

	assert_non_null(in);
	size = fread(buf, 1, len, in);
	fclose(in);
	while (at + 12 <= size) {
		uint32_t type, length;

		memcpy(&type, buf + at, 4);
		memcpy(&length, buf + at + 4, 4);
		assert_true(length >= 12 && length % 4 == 0 && at + length <= size);
		assert_memory_equal(buf + at + length - 4, &length, 4);      /* the trailing length */
		if (at == 0)
			assert_int_equal(type, 0x0A0D0D0A);                  /* a section header first */
		if (type == 1)
			interfaces++;
		if (type == 6) {
			struct block *b = &blocks[n++];
			uint32_t high, low;
			size_t opt;

			assert_true(n <= max);
			memcpy(&b->interface, buf + at + 8, 4);
			memcpy(&high, buf + at + 12, 4);
			memcpy(&low, buf + at + 16, 4);
			memcpy(&b->captured, buf + at + 20, 4);
			memcpy(&b->original, buf + at + 24, 4);
			b->ns = (uint64_t)high << 32 | low;
			b->data = buf + at + 28;
			b->direction = 0;
			assert_true(b->interface < interfaces);
			for (opt = at + 28 + (b->captured + 3) / 4 * 4; opt + 4 <= at + length - 4;) {
				uint16_t code, olen;

				memcpy(&code, buf + opt, 2);
				memcpy(&olen, buf + opt + 2, 2);
				if (code == 0)
					break;
				if (code == 2)
					memcpy(&b->direction, buf + opt + 4, 4);
				opt += 4 + (olen + 3u) / 4 * 4;
			}
		}
		at += length;
	}
	assert_int_equal(at, size);
	assert_int_equal(interfaces, rte_eth_dev_count_avail());
	return n;
}

static void test_parse_request(void **state)
{
	struct ztg_capture_request req;
	char err[256];
	char *plain[] = {"start", "/tmp/x.pcapng"};
	char *all[] = {"start", "--json", "--snaplen", "128", "/tmp/x.pcapng", "--count", "10", "--duration", "5"};

	(void)state;
	assert_int_equal(ztg_capture_parse_request(2, plain, &req, err, sizeof(err)), 0);
	assert_string_equal(req.path, "/tmp/x.pcapng");
	assert_int_equal(req.snaplen, ZTG_CAPTURE_SNAPLEN_DEFAULT);
	assert_int_equal(req.count, 0);
	assert_int_equal(req.duration, 0);
	assert_int_equal(ztg_capture_parse_request(9, all, &req, err, sizeof(err)), 0);
	assert_int_equal(req.snaplen, 128);
	assert_int_equal(req.count, 10);
	assert_int_equal(req.duration, 5);
}

static void expect_refused(int argc, char **argv, const char *needle)
{
	struct ztg_capture_request req;
	char err[256] = "";

	assert_int_equal(ztg_capture_parse_request(argc, argv, &req, err, sizeof(err)), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("expected '%s' in '%s'", needle, err);
}

static void test_parse_request_errors(void **state)
{
	(void)state;
	expect_refused(1, (char *[]){"start"}, "which file?");
	expect_refused(2, (char *[]){"start", "x.pcapng"}, "x.pcapng: not an absolute path");
	expect_refused(3, (char *[]){"start", "/a", "/b"}, "unexpected argument /b");
	expect_refused(3, (char *[]){"start", "/a", "--snap"}, "unknown option --snap");
	expect_refused(3, (char *[]){"start", "/a", "--count"}, "--count needs a value");
	expect_refused(4, (char *[]){"start", "/a", "--snaplen", "63"}, "--snaplen 63: expected a number in 64..9216");
	expect_refused(4, (char *[]){"start", "/a", "--snaplen", "9217"}, "expected a number in 64..9216");
	expect_refused(4, (char *[]){"start", "/a", "--count", "0"}, "--count 0: expected");
	expect_refused(4, (char *[]){"start", "/a", "--count", "-1"}, "--count -1: expected");
	expect_refused(4, (char *[]){"start", "/a", "--count", "5x"}, "--count 5x: expected");
	expect_refused(4, (char *[]){"start", "/a", "--duration", "99999999999"}, "--duration 99999999999");
}

/* What a worker copies is written as it was, with its port, queue direction and a wall-clock time. */
static void test_packets_written(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[65536];
	struct block blocks[4];
	char answer[512];
	uint64_t wall_after;

	start(f, NULL, NULL);
	ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_IN, &f->counters);
	ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_OUT, &f->counters);
	ztg_capture_poll(f->cap);
	ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_OUT, &f->counters);
	assert_int_equal(f->counters.capture_packets, 3);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "status"), ZTG_CONTROL_OK);
	assert_non_null(strstr(answer, "capture: running for"));
	assert_non_null(strstr(answer, "3 packets"));      /* status writes what is there first */
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "stop"), ZTG_CONTROL_OK);
	wall_after = wall_ns();
	assert_null(session_of(f));
	assert_non_null(strstr(answer, "capture stopped: 3 packets"));
	assert_non_null(strstr(answer, "0 not captured"));
	assert_int_equal(read_blocks(f->path, buf, sizeof(buf), blocks, 4), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(blocks[i].captured, FRAME_LEN);
		assert_int_equal(blocks[i].original, FRAME_LEN);
		assert_memory_equal(blocks[i].data, rte_pktmbuf_mtod(f->packet, uint8_t *), FRAME_LEN);
		assert_int_equal(blocks[i].direction, i == 0 ? 1 : 2);
		assert_true(blocks[i].ns >= f->wall_before - 1000000 && blocks[i].ns <= wall_after + 1000000);
		assert_true(i == 0 || blocks[i].ns >= blocks[i - 1].ns);
	}
	/* stop again: the last capture's summary, and status says none runs. */
	assert_int_equal(command(f->cap, answer, sizeof(answer), 3, "capture", "stop", "--json"), ZTG_CONTROL_OK);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "status"), ZTG_CONTROL_NEGATIVE);
	assert_non_null(strstr(answer, "none running; the last one"));
}

static void test_snaplen(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[65536];
	struct block blocks[2];
	char answer[512];

	start(f, "64", NULL);
	ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_IN, &f->counters);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "stop"), ZTG_CONTROL_OK);
	assert_int_equal(read_blocks(f->path, buf, sizeof(buf), blocks, 2), 1);
	assert_int_equal(blocks[0].captured, 64);
	assert_int_equal(blocks[0].original, FRAME_LEN);
	assert_memory_equal(blocks[0].data, rte_pktmbuf_mtod(f->packet, uint8_t *), 64);
}

/* --count: the capture ends by itself at the next poll with exactly that many packets. */
static void test_count_ends_the_capture(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[65536];
	struct block blocks[4];
	char answer[512];

	start(f, NULL, "2");
	for (int i = 0; i < 3; i++)
		ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_IN, &f->counters);
	ztg_capture_poll(f->cap);
	assert_null(session_of(f));
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "status"), ZTG_CONTROL_NEGATIVE);
	assert_non_null(strstr(answer, "capture count reached: 2 packets"));
	assert_int_equal(read_blocks(f->path, buf, sizeof(buf), blocks, 4), 2);
}

/* A worker never waits: what its full ring cannot take is counted, and the capture goes on. */
static void test_full_ring_counts_drops(void **state)
{
	struct fixture *f = *state;
	char answer[512];
	unsigned int tries = ZTG_CAPTURE_RING_SIZE + 10;

	start(f, NULL, NULL);
	for (unsigned int i = 0; i < tries; i++)
		ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_IN, &f->counters);
	/* An rte_ring holds one entry less than its size. */
	assert_int_equal(f->counters.capture_packets, ZTG_CAPTURE_RING_SIZE - 1);
	assert_int_equal(f->counters.capture_dropped, tries - (ZTG_CAPTURE_RING_SIZE - 1));
	ztg_capture_poll(f->cap);
	ztg_capture_packet(session_of(f), 0, f->packet, 0, 0, RTE_PCAPNG_DIRECTION_IN, &f->counters);
	assert_int_equal(f->counters.capture_packets, ZTG_CAPTURE_RING_SIZE);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "stop"), ZTG_CONTROL_OK);
	assert_non_null(strstr(answer, "1024 packets"));
	assert_non_null(strstr(answer, "; 11 not captured"));
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	const struct ztg_counters *workers[1] = {&f->counters};
	struct ztg_capture *off = ztg_capture_create(1, workers, f->rcu, "ztgate runs --forward-only: it denies no flow");
	char answer[512];

	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "stop"), ZTG_CONTROL_NEGATIVE);
	assert_string_equal(answer, "capture: none has run\n");
	assert_int_equal(command(f->cap, answer, sizeof(answer), 3, "capture", "start", "/nonexistent/dir/x.pcapng"),
			 ZTG_CONTROL_NEGATIVE);
	assert_non_null(strstr(answer, "/nonexistent/dir/x.pcapng: No such file or directory"));
	assert_null(session_of(f));
	assert_int_equal(command(f->cap, answer, sizeof(answer), 3, "capture", "start", "relative.pcapng"),
			 ZTG_CONTROL_USAGE);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "restart"), ZTG_CONTROL_USAGE);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 3, "capture", "stop", "now"), ZTG_CONTROL_USAGE);
	start(f, NULL, NULL);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 3, "capture", "start", "/tmp/other.pcapng"),
			 ZTG_CONTROL_NEGATIVE);
	assert_non_null(strstr(answer, "already runs"));
	assert_int_equal(access("/tmp/other.pcapng", F_OK), -1);
	assert_int_equal(command(f->cap, answer, sizeof(answer), 2, "capture", "stop"), ZTG_CONTROL_OK);
	assert_non_null(off);
	assert_int_equal(command(off, answer, sizeof(answer), 3, "capture", "start", f->path), ZTG_CONTROL_NEGATIVE);
	assert_string_equal(answer, "capture: ztgate runs --forward-only: it denies no flow\n");
	ztg_capture_free(off, NULL);
}

/* The fixture's EAL has no hugepages: dpdk-dumpcap could not map its memory, and ztgate says so. */
static void test_pdump_needs_hugepages(void **state)
{
	char why[256] = "";

	(void)state;
	assert_false(ztg_capture_pdump_start(why, sizeof(why)));
	assert_non_null(strstr(why, "--no-huge"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_parse_request_errors),
		cmocka_unit_test_setup_teardown(test_packets_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snaplen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_ends_the_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_counts_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test(test_pdump_needs_hugepages),
	};

	return cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
}
