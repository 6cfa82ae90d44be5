/*
 * Unit tests for the audit log: the rotating file (rotation before the line
 * that would pass the limit, the keep count, the oldest copy dropped, lines
 * never split across files, a line longer than the limit alone in its file,
 * what the file held before counting, reopen after logrotate moved it); the
 * writer thread on a real event ring (every event written and observed,
 * submitted lines too, a stop that gives up on a FIFO nobody reads within its
 * bound); and the parsers behind --event-log-max-bytes, --event-syslog and
 * --event-sample-allowed.
 *
 * Files live in a fresh mkdtemp directory per test, removed after it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_ring.h>

#include "audit_log.h"
#include "eal_fixture.h"

struct dir {
	char path[256];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/ztg-audit-XXXXXX");
	if (mkdtemp(d->path) == NULL)
		return -1;
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	DIR *dh = opendir(d->path);
	struct dirent *e;

	while (dh != NULL && (e = readdir(dh)) != NULL) {
		char p[600];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", d->path, e->d_name);
		unlink(p);
	}
	if (dh != NULL)
		closedir(dh);
	rmdir(d->path);
	free(d);
	return 0;
}

static void name(const struct dir *d, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", d->path, file);
}

/* The whole file, NUL-terminated; NULL when it does not exist. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Line "<n> xxx...\n" of exactly len bytes. */
static size_t make_line(char *buf, unsigned int n, size_t len)
{
	int head = snprintf(buf, len, "%u ", n);

	memset(buf + head, 'x', len - (size_t)head - 1);
	buf[len - 1] = '\n';
	return len;
}

/*
 * Check one file: it ends with a newline, holds only whole lines numbered
 * consecutively from *next, none above limit bytes unless it holds one line.
 * Returns the lines it holds; *next moves past them. 0 when it does not exist.
 */
static unsigned int check_file(const char *path, unsigned int *next, size_t limit)
{
	size_t len;
	char *text = slurp(path, &len);
	unsigned int lines = 0;

	if (text == NULL)
		return 0;
	assert_true(len > 0);
	assert_int_equal(text[len - 1], '\n');
	for (char *p = text; *p != '\0';) {
		char *nl = strchr(p, '\n');
		unsigned int n;

		assert_non_null(nl);
		assert_int_equal(sscanf(p, "%u ", &n), 1);
		if (*next != UINT32_MAX)
			assert_int_equal(n, *next);
		*next = n + 1;
		lines++;
		p = nl + 1;
	}
	if (lines > 1)
		assert_true(len <= limit);
	free(text);
	return lines;
}

static struct ztg_audit_file *open_file(const char *path, uint64_t max_bytes, unsigned int keep)
{
	char err[512] = "";
	struct ztg_audit_file *f = ztg_audit_file_open(path, max_bytes, keep, err, sizeof(err));

	if (f == NULL)
		fail_msg("open %s: %s", path, err);
	return f;
}

static void append(struct ztg_audit_file *f, const char *line, size_t len)
{
	char err[512] = "";

	if (ztg_audit_file_append(f, line, len, err, sizeof(err)) != 0)
		fail_msg("append: %s", err);
}

/* 200 lines of 100 bytes at 4096 bytes a file, keep 3: 40 lines a file, the newest 160 kept, in order. */
static void test_rotation_keeps_newest(void **state)
{
	const struct dir *d = *state;
	char path[300], copy[320], line[100];
	struct ztg_audit_file_totals t;
	struct ztg_audit_file *f;
	unsigned int next = 40, total = 0;

	name(d, "events.json", path, sizeof(path));
	f = open_file(path, 4096, 3);
	for (unsigned int n = 0; n < 200; n++)
		append(f, line, make_line(line, n, 100));
	assert_int_equal(ztg_audit_file_flush(f, line, sizeof(line)), 0);
	ztg_audit_file_totals(f, &t);
	ztg_audit_file_close(f);
	/* 40 lines (4000 bytes) a file; the 41st would pass 4096. 200 lines: 5 files, 4 rotations. */
	assert_int_equal(t.lines, 200);
	assert_int_equal(t.rotations, 4);
	assert_int_equal(t.lost, 0);
	for (int k = 3; k >= 0; k--) {
		unsigned int lines;

		if (k)
			snprintf(copy, sizeof(copy), "%s.%d", path, k);
		else
			snprintf(copy, sizeof(copy), "%s", path);
		lines = check_file(copy, &next, 4096);
		assert_int_equal(lines, 40);
		total += lines;
	}
	assert_int_equal(total, 160);
	assert_int_equal(next, 200);
	/* The oldest (lines 0..39) went with the fourth rotation. */
	snprintf(copy, sizeof(copy), "%s.4", path);
	assert_int_equal(access(copy, F_OK), -1);
}

/* keep 0: a rotation starts the file afresh and keeps no copy. */
static void test_keep_zero(void **state)
{
	const struct dir *d = *state;
	char path[300], copy[320], line[200];
	struct ztg_audit_file *f;
	unsigned int next = UINT32_MAX;

	name(d, "events.json", path, sizeof(path));
	f = open_file(path, 4096, 0);
	for (unsigned int n = 0; n < 50; n++)
		append(f, line, make_line(line, n, 200));
	assert_int_equal(ztg_audit_file_flush(f, line, sizeof(line)), 0);
	ztg_audit_file_close(f);
	/* 20 lines of 200 bytes a file: lines 40..49 are left. */
	assert_int_equal(check_file(path, &next, 4096), 10);
	assert_int_equal(next, 50);
	snprintf(copy, sizeof(copy), "%s.1", path);
	assert_int_equal(access(copy, F_OK), -1);
}

/* Lines of uneven lengths: every file holds whole lines, none past the limit, all in order. */
static void test_lines_never_split(void **state)
{
	const struct dir *d = *state;
	char path[300], copy[320], line[3000];
	struct ztg_audit_file *f;
	unsigned int next = UINT32_MAX, total = 0;

	name(d, "events.json", path, sizeof(path));
	f = open_file(path, 5000, 50);
	for (unsigned int n = 0; n < 300; n++)
		append(f, line, make_line(line, n, 50 + (n * 977) % 2900));
	assert_int_equal(ztg_audit_file_flush(f, line, sizeof(line)), 0);
	ztg_audit_file_close(f);
	for (int k = 50; k >= 0; k--) {
		if (k)
			snprintf(copy, sizeof(copy), "%s.%d", path, k);
		else
			snprintf(copy, sizeof(copy), "%s", path);
		total += check_file(copy, &next, 5000);
	}
	assert_int_equal(next, 300);
	assert_true(total > 50);
}

/* A line longer than the limit gets a file of its own, and the next line starts another. */
static void test_long_line_alone(void **state)
{
	const struct dir *d = *state;
	char path[300], copy[320], line[9000];
	struct ztg_audit_file *f;
	unsigned int next = 0;

	name(d, "events.json", path, sizeof(path));
	f = open_file(path, 4096, 5);
	append(f, line, make_line(line, 0, 100));
	append(f, line, make_line(line, 1, 8000));
	append(f, line, make_line(line, 2, 100));
	assert_int_equal(ztg_audit_file_flush(f, line, sizeof(line)), 0);
	ztg_audit_file_close(f);
	snprintf(copy, sizeof(copy), "%s.2", path);
	assert_int_equal(check_file(copy, &next, 4096), 1);
	snprintf(copy, sizeof(copy), "%s.1", path);
	assert_int_equal(check_file(copy, &next, 4096), 1);
	assert_int_equal(check_file(path, &next, 4096), 1);
	assert_int_equal(next, 3);
}

/* What the file held when opened counts towards the limit: appending never takes it past. */
static void test_existing_content_counts(void **state)
{
	const struct dir *d = *state;
	char path[300], copy[320], line[1000];
	struct ztg_audit_file *f;
	unsigned int next = 0;
	FILE *old;

	name(d, "events.json", path, sizeof(path));
	old = fopen(path, "w");
	assert_non_null(old);
	for (unsigned int n = 0; n < 4; n++) {
		make_line(line, n, 1000);
		fwrite(line, 1, 1000, old);
	}
	fclose(old);
	f = open_file(path, 4500, 2);
	append(f, line, make_line(line, 4, 1000));
	assert_int_equal(ztg_audit_file_flush(f, line, sizeof(line)), 0);
	ztg_audit_file_close(f);
	snprintf(copy, sizeof(copy), "%s.1", path);
	assert_int_equal(check_file(copy, &next, 4500), 4);
	assert_int_equal(check_file(path, &next, 4500), 1);
}

/* logrotate moves the file away; lines go on into the moved file until the reopen, then into a new one. */
static void test_reopen(void **state)
{
	const struct dir *d = *state;
	char path[300], moved[320], line[100], err[512];
	struct ztg_audit_file *f;
	unsigned int next = 0;

	name(d, "events.json", path, sizeof(path));
	name(d, "events.json.rotated", moved, sizeof(moved));
	f = open_file(path, 0, 0);
	append(f, line, make_line(line, 0, 100));
	assert_int_equal(ztg_audit_file_flush(f, err, sizeof(err)), 0);
	assert_int_equal(rename(path, moved), 0);
	append(f, line, make_line(line, 1, 100));
	assert_int_equal(ztg_audit_file_reopen(f, err, sizeof(err)), 0);
	append(f, line, make_line(line, 2, 100));
	assert_int_equal(ztg_audit_file_flush(f, err, sizeof(err)), 0);
	ztg_audit_file_close(f);
	assert_int_equal(check_file(moved, &next, SIZE_MAX), 2);
	assert_int_equal(check_file(path, &next, SIZE_MAX), 1);
	assert_int_equal(next, 3);
}

/* What cannot be opened says what and why; a FIFO with no reader is refused, not waited on. */
static void test_open_errors(void **state)
{
	const struct dir *d = *state;
	char path[300], err[512] = "";

	name(d, "missing/events.json", path, sizeof(path));
	assert_null(ztg_audit_file_open(path, 0, 0, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	name(d, "fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(ztg_audit_file_open(path, 0, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "no reader"));
}

/* ---- the writer thread ---------------------------------------------------------------------- */

struct observed {
	unsigned int events;
};

static void count_event(void *arg, const struct ztg_event *e, double when)
{
	((struct observed *)arg)->events++;
}

static struct rte_ring *ring(void)
{
	static unsigned int rings;
	char ring_name[32];
	struct rte_ring *r;

	snprintf(ring_name, sizeof(ring_name), "test_events_%u", rings++);
	r = rte_ring_create_elem(ring_name, sizeof(struct ztg_event), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	assert_non_null(r);
	return r;
}

static void push(struct rte_ring *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct ztg_event e;

		memset(&e, 0, sizeof(e));
		e.tsc = rte_rdtsc();
		e.request_id = 1000 + i;
		e.flow.ip_version = 4;
		e.action = i % 2 ? ZTG_EVENT_ACTION_DENY : ZTG_EVENT_ACTION_ALLOW;
		snprintf(e.reason, sizeof(e.reason), "reason_%u", i);
		assert_int_equal(ztg_events_push(r, &e), 0);
	}
}

static struct ztg_audit_log_config config(struct rte_ring *r, const char *path, struct observed *seen)
{
	return (struct ztg_audit_log_config){.ring = r, .path = path, .max_bytes = 0, .keep = 0,
					     .syslog_facility = -1, .wall_start = (double)time(NULL),
					     .tsc_start = rte_rdtsc(), .tsc_hz = rte_get_tsc_hz(),
					     .observe = count_event, .observe_arg = seen};
}

static unsigned int count(const char *text, const char *what)
{
	unsigned int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* Events pushed before the stop and lines submitted are all written, each once; every event is observed. */
static void test_writer_drains_at_stop(void **state)
{
	const struct dir *d = *state;
	struct rte_ring *r = ring();
	struct observed seen = {0};
	struct ztg_audit_log_totals t;
	struct ztg_audit_log_config c;
	struct ztg_audit_log *log;
	char path[300], err[512] = "", *text;
	const char audit[] = "{\"audit\":{\"command\":\"status\"}}\n";
	size_t len;

	name(d, "events.json", path, sizeof(path));
	c = config(r, path, &seen);
	log = ztg_audit_log_start(&c, err, sizeof(err));
	if (log == NULL)
		fail_msg("start: %s", err);
	push(r, 300);
	assert_int_equal(ztg_audit_log_submit(log, audit, strlen(audit)), 0);
	/* Not one line: refused and counted. */
	assert_int_equal(ztg_audit_log_submit(log, "{}\n{}\n", 6), -1);
	assert_int_equal(ztg_audit_log_submit(log, "{}", 2), -1);
	push(r, 300);
	ztg_audit_log_stop(log, &t);
	assert_false(t.gave_up);
	assert_int_equal(t.events, 600);
	assert_int_equal(t.file.lines, 601);
	assert_int_equal(t.submitted_lost, 2);
	assert_int_equal(seen.events, 600);
	text = slurp(path, &len);
	assert_non_null(text);
	assert_int_equal(count(text, "\n"), 601);
	assert_int_equal(count(text, "\"action\":\"deny\""), 300);
	assert_int_equal(count(text, "\"action\":\"allow\""), 300);
	assert_int_equal(count(text, "\"reason\":\"reason_299\""), 2);
	assert_int_equal(count(text, audit), 1);
	free(text);
	rte_ring_free(r);
}

/*
 * A FIFO whose reader never reads: the writer blocks once the pipe is full,
 * the ring fills and pushes fail (the workers' events_dropped), and the stop
 * gives up within its bound instead of hanging.
 */
static void test_stop_gives_up_on_stalled_fifo(void **state)
{
	const struct dir *d = *state;
	struct rte_ring *r = ring();
	struct observed seen = {0};
	struct ztg_audit_log_totals t;
	struct ztg_audit_log_config c;
	struct ztg_audit_log *log;
	char path[300], err[512] = "";
	unsigned int refused = 0;
	struct timespec a, b;
	int reader;
	double took;

	name(d, "fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	reader = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(reader >= 0);
	c = config(r, path, &seen);
	log = ztg_audit_log_start(&c, err, sizeof(err));
	if (log == NULL)
		fail_msg("start: %s", err);
	/* A pipe holds 64 KiB, about 200 of these lines; the ring 1023 more. */
	for (unsigned int round = 0; round < 200 && refused == 0; round++) {
		struct ztg_event e;

		memset(&e, 0, sizeof(e));
		e.flow.ip_version = 4;
		e.action = ZTG_EVENT_ACTION_DENY;
		snprintf(e.reason, sizeof(e.reason), "stalled");
		for (unsigned int i = 0; i < 100; i++)
			refused += ztg_events_push(r, &e) != 0;
		usleep(2000);
	}
	assert_true(refused > 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ztg_audit_log_stop(log, &t);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(t.gave_up);
	assert_true(t.abandoned > 0);
	assert_true(took < (ZTG_AUDIT_LOG_STOP_IDLE_MS + 1000) / 1000.0);
	close(reader);
	rte_ring_free(r);
}

/* ---- option parsers ------------------------------------------------------------------------- */

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		uint64_t value;
	} good[] = {
		{"0", 0}, {"4096", 4096}, {"4K", 4096}, {"4k", 4096}, {"100M", 100ull << 20}, {"2G", 2ull << 30},
		{"1024G", 1ull << 40},
	};
	static const struct {
		const char *text;
		const char *message;
	} bad[] = {
		{"", "a size is required"}, {"-1", "'-1' is not a size"}, {"10T", "'10T' is not a size"},
		{"100MB", "'100MB' is not a size"}, {"1.5M", "'1.5M' is not a size"}, {" 1M", "' 1M' is not a size"},
		{"4095", "'4095' is out of range: 0 (never rotate) or 4K..1024G"}, {"3K", "out of range"},
		{"1025G", "out of range"}, {"99999999999999999999999", "out of range"},
	};
	char err[256];
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		assert_int_equal(ztg_audit_log_parse_size(good[i].text, &v, err, sizeof(err)), 0);
		assert_int_equal(v, good[i].value);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ztg_audit_log_parse_size(bad[i].text, &v, err, sizeof(err)), -1);
		if (strstr(err, bad[i].message) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, err, bad[i].message);
	}
}

static void test_parse_facility(void **state)
{
	char err[256];
	int f = -1;

	assert_int_equal(ztg_audit_log_parse_facility("daemon", &f, err, sizeof(err)), 0);
	assert_int_equal(f, LOG_DAEMON);
	assert_int_equal(ztg_audit_log_parse_facility("local7", &f, err, sizeof(err)), 0);
	assert_int_equal(f, LOG_LOCAL7);
	assert_string_equal(ztg_audit_log_facility_name(LOG_LOCAL7), "local7");
	assert_int_equal(ztg_audit_log_parse_facility("user", &f, err, sizeof(err)), 0);
	assert_int_equal(f, LOG_USER);
	assert_int_equal(ztg_audit_log_parse_facility("kern", &f, err, sizeof(err)), -1);
	assert_string_equal(err, "'kern' is not a syslog facility ztgate logs to (daemon, user, local0..local7)");
	assert_int_equal(ztg_audit_log_parse_facility("local8", &f, err, sizeof(err)), -1);
	assert_int_equal(ztg_audit_log_parse_facility("DAEMON", &f, err, sizeof(err)), -1);
}

static void test_parse_rate(void **state)
{
	static const struct {
		const char *text;
		double rate;
		uint64_t threshold;
	} good[] = {
		{"0", 0, 0}, {"1", 1, 1ull << 32}, {"1.0", 1, 1ull << 32}, {"0.5", 0.5, 1ull << 31},
		{".25", 0.25, 1ull << 30}, {"1e-3", 0.001, 4294967}, {"0.01", 0.01, 42949673},
	};
	static const char *const bad[] = {"", "-0.1", "1.01", "2", "nan", "inf", "0x1p-1", " 0.5", "0.5 ",
					   "half", "1e400", "+0.5", "0.5.1"};
	char err[256];
	uint64_t threshold;
	double rate;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(ztg_audit_log_parse_rate(good[i].text, &rate, &threshold, err, sizeof(err)), 0);
		assert_true(rate == good[i].rate);
		assert_int_equal(threshold, good[i].threshold);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ztg_audit_log_parse_rate(bad[i], &rate, &threshold, err, sizeof(err)) != -1)
			fail_msg("'%s' accepted as %g", bad[i], rate);
		assert_true(strstr(err, "0..1") != NULL);
	}
	assert_int_equal(ztg_audit_log_parse_rate("1.5", &rate, &threshold, err, sizeof(err)), -1);
	assert_string_equal(err, "1.5 is out of range 0..1");
	assert_int_equal(ztg_audit_log_parse_rate("half", &rate, &threshold, err, sizeof(err)), -1);
	assert_string_equal(err, "'half' is not a number in 0..1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rotation_keeps_newest, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_keep_zero, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_lines_never_split, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_long_line_alone, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_existing_content_counts, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_writer_drains_at_stop, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_stop_gives_up_on_stalled_fifo, dir_setup, dir_teardown),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_facility),
		cmocka_unit_test(test_parse_rate),
	};

	return cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
}
