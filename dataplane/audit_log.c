#include "audit_log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>   /* isfinite: a macro, no libm */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "error_text.h"

/* Lines are gathered and written together, whole, up to this much. */
#define FILE_BUFFER    (64u * 1024)
/* Events taken from the ring at a time: one observed-lock hold per batch. */
#define WRITER_BURST   32
/* The longest event line: every name escaped at 6 bytes a character fits with room to spare. */
#define EVENT_LINE_MAX 16384
/* Bytes of submitted lines waiting for the writer; more is counted lost. */
#define QUEUE_BYTES    (64u * 1024)
/* How long the writer sleeps when the ring and the queue are both empty. */
#define IDLE_SLEEP_NS  1000000L

/* ---- the rotating file ------------------------------------------------------------------------ */

struct ztg_audit_file {
	int fd;                        /* -1 after a failed reopen: lines are lost until the next one */
	bool is_stdout;
	bool rotates;                  /* a regular file with a size limit */
	char path[PATH_MAX];
	uint64_t max_bytes;
	unsigned int keep;
	uint64_t size;                 /* bytes in the file, ours and what it held when opened */
	/* Stdout may be a pipe shared with the main lcore's prints: writes of at most PIPE_BUF are atomic there. */
	size_t buffer_limit;
	size_t pending_len;
	uint64_t pending_lines;
	struct ztg_audit_file_totals totals;
	char pending[FILE_BUFFER];
};

/* Open f->path for appending. Never waits: a FIFO without a reader is an error, not a hang. */
static int file_open_path(struct ztg_audit_file *f, char *err, size_t err_len)
{
	struct stat st;
	int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);

	if (fd < 0 && errno == ENXIO)
		return ztg_error_fail(err, err_len, "%s: a FIFO with no reader (start its reader first)", f->path);
	if (fd < 0)
		return ztg_error_fail(err, err_len, "%s: %s", f->path, strerror(errno));
	/*
	 * Blocking from here on: the writer thread is the only one that waits
	 * on this fd, and a blocked write is where the stop can cancel it.
	 */
	if (fstat(fd, &st) != 0 || fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) != 0) {
		int saved = errno;

		close(fd);
		return ztg_error_fail(err, err_len, "%s: %s", f->path, strerror(saved));
	}
	f->fd = fd;
	f->rotates = f->max_bytes > 0 && S_ISREG(st.st_mode);
	f->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	return 0;
}

struct ztg_audit_file *ztg_audit_file_open(const char *path, uint64_t max_bytes, unsigned int keep,
					   char *err, size_t err_len)
{
	struct ztg_audit_file *f;

	if (path != NULL && strlen(path) + 16 > sizeof(f->path)) {
		ztg_error_fail(err, err_len, "%.200s...: path too long", path);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		ztg_error_fail(err, err_len, "out of memory for the event log");
		return NULL;
	}
	f->fd = -1;
	f->max_bytes = max_bytes;
	f->keep = keep;
	if (path == NULL) {
		f->fd = STDOUT_FILENO;
		f->is_stdout = true;
		f->buffer_limit = PIPE_BUF;
		return f;
	}
	f->buffer_limit = FILE_BUFFER;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (file_open_path(f, err, err_len) < 0) {
		free(f);
		return NULL;
	}
	return f;
}

/* All of buf, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (fd < 0) {
			errno = EBADF;
			return -1;
		}
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write lines lines of buf; count them written or lost. */
static int file_write(struct ztg_audit_file *f, const char *buf, size_t len, uint64_t lines, char *err,
		      size_t err_len)
{
	if (write_all(f->fd, buf, len) < 0) {
		f->totals.lost += lines;
		return ztg_error_fail(err, err_len, "%s: %s; lines are lost until writing works again",
			    f->is_stdout ? "stdout" : f->path, f->fd < 0 ? "not open (the last open failed)" : strerror(errno));
	}
	f->totals.lines += lines;
	f->size += len;
	return 0;
}

int ztg_audit_file_flush(struct ztg_audit_file *f, char *err, size_t err_len)
{
	int rc;

	if (f->pending_len == 0)
		return 0;
	rc = file_write(f, f->pending, f->pending_len, f->pending_lines, err, err_len);
	f->pending_len = 0;
	f->pending_lines = 0;
	return rc;
}

/* path.N, or path itself for 0. */
static void numbered(const struct ztg_audit_file *f, unsigned int n, char *out, size_t len)
{
	if (n == 0)
		snprintf(out, len, "%s", f->path);
	else
		snprintf(out, len, "%s.%u", f->path, n);
}

/*
 * path.(keep-1) -> path.keep, ..., path -> path.1, the last rename dropping
 * the oldest; with keep 0 the file is removed. Then a fresh path. The caller
 * has flushed.
 */
static int file_rotate(struct ztg_audit_file *f, char *err, size_t err_len)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16], why[PATH_MAX + 64];

	close(f->fd);
	f->fd = -1;
	if (f->keep == 0 && unlink(f->path) != 0 && errno != ENOENT) {
		ztg_error_fail(err, err_len, "cannot remove %s to rotate it: %s; appending to it", f->path, strerror(errno));
		goto reopen_failed;
	}
	for (unsigned int n = f->keep; n > 0; n--) {
		numbered(f, n - 1, from, sizeof(from));
		numbered(f, n, to, sizeof(to));
		if (rename(from, to) != 0 && errno != ENOENT) {
			ztg_error_fail(err, err_len, "cannot rotate %s to %s: %s; appending to %s", from, to, strerror(errno), f->path);
			goto reopen_failed;
		}
	}
	f->totals.rotations++;
	return file_open_path(f, err, err_len);

reopen_failed:
	/* A log that grows beats no log; the next try comes after another max_bytes. */
	if (file_open_path(f, why, sizeof(why)) == 0)
		f->size = 0;
	return -1;
}

int ztg_audit_file_append(struct ztg_audit_file *f, const char *line, size_t len, char *err, size_t err_len)
{
	int rc = 0;

	if (f->rotates && f->size + f->pending_len > 0 && f->size + f->pending_len + len > f->max_bytes) {
		rc = ztg_audit_file_flush(f, err, err_len);
		if (file_rotate(f, err, err_len) < 0)
			rc = -1;
	}
	if (f->pending_len + len > f->buffer_limit && ztg_audit_file_flush(f, err, err_len) < 0)
		rc = -1;
	if (len > f->buffer_limit)
		return file_write(f, line, len, 1, err, err_len) < 0 ? -1 : rc;
	memcpy(f->pending + f->pending_len, line, len);
	f->pending_len += len;
	f->pending_lines++;
	return rc;
}

int ztg_audit_file_reopen(struct ztg_audit_file *f, char *err, size_t err_len)
{
	int rc = ztg_audit_file_flush(f, err, err_len);

	if (f->is_stdout)
		return rc;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	return file_open_path(f, err, err_len) < 0 ? -1 : rc;
}

void ztg_audit_file_totals(const struct ztg_audit_file *f, struct ztg_audit_file_totals *out)
{
	*out = f->totals;
}

void ztg_audit_file_close(struct ztg_audit_file *f)
{
	if (f == NULL)
		return;
	if (!f->is_stdout && f->fd >= 0)
		close(f->fd);
	free(f);
}

/* ---- the writer thread ------------------------------------------------------------------------ */

struct ztg_audit_log {
	struct ztg_audit_log_config config;
	char path[PATH_MAX];
	struct ztg_audit_file *file;
	pthread_t thread;
	atomic_bool finish;            /* the producers have stopped: drain everything, then return */
	atomic_bool reopen;
	atomic_uint_fast64_t progress; /* lines handed to the output: the stop's sign of life */
	pthread_mutex_t observed;
	pthread_mutex_t queue_lock;
	size_t queue_used;             /* under queue_lock, as the two below */
	uint64_t submitted_lost;
	char queue[QUEUE_BYTES];
	/* The writer's own. */
	uint64_t events;
	bool failing;                  /* the last output error was reported; quiet until it recovers */
	FILE *line_out;                /* formats one event line into line[] */
	char line[EVENT_LINE_MAX];
	char taken[QUEUE_BYTES];       /* the queue, taken out */
	struct ztg_event batch[WRITER_BURST];
};

/*
 * Cancellation is deferred and enabled only around the output calls, so a
 * stop that gives up on a blocked output cancels the writer in its write()
 * or syslog() and never while it holds a lock or is half-way through a line
 * buffer.
 */
static void output_begin(void)
{
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
}

static void output_end(void)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
}

/* Say once that the output fails, and once that it works again; a failing disk must not flood stderr. */
static void report(struct ztg_audit_log *log, int rc, const char *err)
{
	if (rc < 0 && !log->failing)
		fprintf(stderr, "ztgate: event log: %s\n", err);
	else if (rc == 0 && log->failing)
		fprintf(stderr, "ztgate: event log: writing again\n");
	log->failing = rc < 0;
}

static void emit(struct ztg_audit_log *log, const char *line, size_t len, int priority)
{
	char err[PATH_MAX + 128];
	int rc;

	output_begin();
	rc = ztg_audit_file_append(log->file, line, len, err, sizeof(err));
	if (log->config.syslog_facility >= 0)
		syslog(priority, "%.*s", (int)len - 1, line);   /* the JSON object, without its newline */
	output_end();
	atomic_fetch_add_explicit(&log->progress, 1, memory_order_relaxed);
	report(log, rc, err);
}

static void flush_output(struct ztg_audit_log *log)
{
	char err[PATH_MAX + 128];
	int rc;

	output_begin();
	rc = ztg_audit_file_flush(log->file, err, sizeof(err));
	output_end();
	report(log, rc, err);
}

static int event_priority(const struct ztg_event *e)
{
	return e->action == ZTG_EVENT_ACTION_ALLOW || e->action == ZTG_EVENT_ACTION_PASS ? LOG_INFO : LOG_WARNING;
}

static unsigned int write_events(struct ztg_audit_log *log)
{
	const struct ztg_audit_log_config *c = &log->config;
	unsigned int n = rte_ring_sc_dequeue_burst_elem(c->ring, log->batch, sizeof(log->batch[0]), WRITER_BURST,
							 NULL);

	for (unsigned int i = 0; i < n; i++) {
		long len;

		rewind(log->line_out);
		ztg_events_write_json(log->line_out, &log->batch[i], c->wall_start, c->tsc_start, c->tsc_hz);
		fflush(log->line_out);
		len = ftell(log->line_out);
		/* Cannot happen with the fields' bounds; a cut line would be worse than none. */
		if (len <= 0 || (size_t)len >= sizeof(log->line) - 1 || log->line[len - 1] != '\n')
			continue;
		emit(log, log->line, (size_t)len, event_priority(&log->batch[i]));
	}
	if (n > 0 && c->observe != NULL) {
		pthread_mutex_lock(&log->observed);
		for (unsigned int i = 0; i < n; i++)
			c->observe(c->observe_arg, &log->batch[i],
				   c->wall_start + (double)(int64_t)(log->batch[i].tsc - c->tsc_start) / (double)c->tsc_hz);
		pthread_mutex_unlock(&log->observed);
	}
	log->events += n;
	return n;
}

static size_t write_submitted(struct ztg_audit_log *log)
{
	size_t len;

	pthread_mutex_lock(&log->queue_lock);
	len = log->queue_used;
	memcpy(log->taken, log->queue, len);
	log->queue_used = 0;
	pthread_mutex_unlock(&log->queue_lock);
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(log->taken + at, '\n', len - at);
		size_t line = (size_t)(nl - (log->taken + at)) + 1;   /* submit takes whole lines only */

		emit(log, log->taken + at, line, LOG_NOTICE);
		at += line;
	}
	return len;
}

static void *writer_main(void *arg)
{
	struct ztg_audit_log *log = arg;
	const struct timespec idle = {.tv_nsec = IDLE_SLEEP_NS};
	sigset_t signals;

	/*
	 * Signals are the main lcore's; a FIFO whose reader left must give this
	 * thread EPIPE, not the process a SIGPIPE that kills it.
	 */
	sigemptyset(&signals);
	sigaddset(&signals, SIGPIPE);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	output_end();
	for (;;) {
		/* Read before draining: whatever was pushed before the stop asked is drained below. */
		bool finishing = atomic_load(&log->finish);
		unsigned int events = write_events(log);
		size_t submitted = write_submitted(log);

		if (atomic_exchange(&log->reopen, false)) {
			char err[PATH_MAX + 128];
			int rc;

			output_begin();
			rc = ztg_audit_file_reopen(log->file, err, sizeof(err));
			output_end();
			report(log, rc, err);
		}
		if (events == 0 && submitted == 0) {
			/* Idle: what is buffered goes out now, so the file is never behind by more than a tick. */
			flush_output(log);
			if (finishing)
				break;
			nanosleep(&idle, NULL);
		}
	}
	return NULL;
}

static void audit_log_free(struct ztg_audit_log *log)
{
	if (log->line_out != NULL)
		fclose(log->line_out);
	ztg_audit_file_close(log->file);
	pthread_mutex_destroy(&log->observed);
	pthread_mutex_destroy(&log->queue_lock);
	free(log);
}

struct ztg_audit_log *ztg_audit_log_start(const struct ztg_audit_log_config *config, char *err, size_t err_len)
{
	struct ztg_audit_log *log = calloc(1, sizeof(*log));
	int rc;

	if (log == NULL) {
		ztg_error_fail(err, err_len, "out of memory for the event writer");
		return NULL;
	}
	log->config = *config;
	pthread_mutex_init(&log->observed, NULL);
	pthread_mutex_init(&log->queue_lock, NULL);
	log->file = ztg_audit_file_open(config->path, config->max_bytes, config->keep, err, err_len);
	if (log->file == NULL) {
		audit_log_free(log);
		return NULL;
	}
	log->line_out = fmemopen(log->line, sizeof(log->line), "w");
	if (log->line_out == NULL) {
		ztg_error_fail(err, err_len, "cannot format events: %s", strerror(errno));
		audit_log_free(log);
		return NULL;
	}
	if (config->syslog_facility >= 0)
		openlog("ztgate", LOG_PID | LOG_NDELAY, config->syslog_facility);
	rc = rte_ctrl_thread_create(&log->thread, "ztg-events", NULL, writer_main, log);
	if (rc != 0) {
		ztg_error_fail(err, err_len, "cannot start the event writer thread: %s", strerror(rc));
		if (config->syslog_facility >= 0)
			closelog();
		audit_log_free(log);
		return NULL;
	}
	return log;
}

int ztg_audit_log_submit(struct ztg_audit_log *log, const char *line, size_t len)
{
	int rc = -1;

	pthread_mutex_lock(&log->queue_lock);
	if (len > 0 && len <= ZTG_AUDIT_LOG_LINE_MAX && line[len - 1] == '\n' && memchr(line, '\n', len) == line + len - 1 &&
	    log->queue_used + len <= sizeof(log->queue)) {
		memcpy(log->queue + log->queue_used, line, len);
		log->queue_used += len;
		rc = 0;
	} else {
		log->submitted_lost++;
	}
	pthread_mutex_unlock(&log->queue_lock);
	return rc;
}

void ztg_audit_log_reopen(struct ztg_audit_log *log)
{
	atomic_store(&log->reopen, true);
}

void ztg_audit_log_observed_lock(struct ztg_audit_log *log)
{
	pthread_mutex_lock(&log->observed);
}

void ztg_audit_log_observed_unlock(struct ztg_audit_log *log)
{
	pthread_mutex_unlock(&log->observed);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/*
 * Join the writer while it makes progress. pthread_timedjoin_np in short
 * slices rather than one long wait: a slow output that still takes lines
 * gets its time, one that takes nothing is given up after
 * ZTG_AUDIT_LOG_STOP_IDLE_MS. Returns true when the writer returned by itself.
 */
static bool join_while_progressing(struct ztg_audit_log *log)
{
	uint64_t start = now_ms(), last_change = start;
	uint_fast64_t seen = atomic_load(&log->progress);

	for (;;) {
		struct timespec until;
		uint_fast64_t now_progress;
		uint64_t t;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(log->thread, NULL, &until) == 0)
			return true;
		t = now_ms();
		now_progress = atomic_load(&log->progress);
		if (now_progress != seen) {
			seen = now_progress;
			last_change = t;
		}
		if (t - last_change >= ZTG_AUDIT_LOG_STOP_IDLE_MS || t - start >= ZTG_AUDIT_LOG_STOP_MAX_MS)
			return false;
	}
}

void ztg_audit_log_stop(struct ztg_audit_log *log, struct ztg_audit_log_totals *totals)
{
	struct ztg_audit_log_totals t = {0};

	if (log == NULL)
		return;
	atomic_store(&log->finish, true);
	if (!join_while_progressing(log)) {
		pthread_cancel(log->thread);
		pthread_join(log->thread, NULL);
		t.gave_up = true;
		t.abandoned = rte_ring_count(log->config.ring) + log->file->pending_lines;
		for (size_t i = 0; i < log->queue_used; i++)
			t.abandoned += log->queue[i] == '\n';
	}
	if (log->config.syslog_facility >= 0)
		closelog();
	ztg_audit_file_totals(log->file, &t.file);
	t.events = log->events;
	t.submitted_lost = log->submitted_lost;
	if (totals != NULL)
		*totals = t;
	audit_log_free(log);
}

/* ---- what the options mean -------------------------------------------------------------------- */

int ztg_audit_log_parse_size(const char *text, uint64_t *out, char *err, size_t err_len)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (text == NULL || *text == '\0')
		return ztg_error_fail(err, err_len, "a size is required (bytes, or with K, M or G: 100M)");
	if (!isdigit((unsigned char)text[0]))
		return ztg_error_fail(err, err_len, "'%s' is not a size (bytes, or with K, M or G: 100M)", text);
	errno = 0;
	v = strtoull(text, &end, 10);
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return ztg_error_fail(err, err_len, "'%s' is not a size (bytes, or with K, M or G: 100M)", text);
	if (errno != 0 || v > (ZTG_AUDIT_LOG_MAX_BYTES >> shift) ||
	    (v != 0 && (v << shift) < ZTG_AUDIT_LOG_MIN_BYTES))
		return ztg_error_fail(err, err_len, "'%s' is out of range: 0 (never rotate) or 4K..1024G", text);
	*out = (uint64_t)v << shift;
	return 0;
}

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
	{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

int ztg_audit_log_parse_facility(const char *text, int *out, char *err, size_t err_len)
{
	for (size_t i = 0; text != NULL && i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcmp(text, facilities[i].name) == 0) {
			*out = facilities[i].facility;
			return 0;
		}
	}
	return ztg_error_fail(err, err_len, "'%s' is not a syslog facility ztgate logs to (daemon, user, local0..local7)",
		    text ? text : "");
}

const char *ztg_audit_log_facility_name(int facility)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (facilities[i].facility == facility)
			return facilities[i].name;
	}
	return "?";
}

int ztg_audit_log_parse_rate(const char *text, double *rate, uint64_t *threshold, char *err, size_t err_len)
{
	char *end;
	double v;

	if (text == NULL || *text == '\0')
		return ztg_error_fail(err, err_len, "a number in 0..1 is required");
	/* Plain decimals only: strtod would also take "nan", "inf", " 0.5" and hex floats. */
	if (!isdigit((unsigned char)text[0]) && text[0] != '.')
		return ztg_error_fail(err, err_len, "'%s' is not a number in 0..1", text);
	for (const char *p = text; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) && strchr(".eE+-", *p) == NULL)
			return ztg_error_fail(err, err_len, "'%s' is not a number in 0..1", text);
	}
	v = strtod(text, &end);
	if (end == text || *end != '\0' || !isfinite(v))
		return ztg_error_fail(err, err_len, "'%s' is not a number in 0..1", text);
	if (v < 0 || v > 1)
		return ztg_error_fail(err, err_len, "%s is out of range 0..1", text);
	*rate = v;
	/* llround(v * 2^32) for v >= 0, without libm. */
	*threshold = (uint64_t)(v * 4294967296.0 + 0.5);
	return 0;
}
