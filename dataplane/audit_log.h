/*
 * Audit log: the one writer of the event log (--event-log, or stdout) and of
 * the optional syslog copy (--event-syslog).
 *
 * A control thread (rte_ctrl_thread_create: a plain pthread, not an EAL
 * lcore, on the CPUs no lcore uses) is the event ring's only consumer. It
 * writes each event as one JSON line, then hands the batch to the observer
 * with the observed lock held. The main lcore's own lines (one per control
 * command) reach the same output through a bounded queue, so the file has one
 * writer at a time.
 *
 * Invariants:
 * - Only this thread ever waits on the output. Workers push into the ring
 *   and count what does not fit (events_dropped); ztg_audit_log_submit copies
 *   into the queue or counts the line lost. A stopped FIFO reader or a hung
 *   syslog stops this thread and nothing else.
 * - A line goes whole into one file: the log rotates between lines, before
 *   the line that would take the file past max_bytes (a single line longer
 *   than that gets a file of its own).
 * - Whatever the observer feeds is read under ztg_audit_log_observed_lock.
 * - Nothing is written that the event does not hold (events.h: no secrets).
 */
#ifndef ZTG_AUDIT_LOG_H
#define ZTG_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ring.h>

#include "events.h"

/* Size limits of --event-log-max-bytes besides 0 (never rotate). */
#define ZTG_AUDIT_LOG_MIN_BYTES   4096ull
#define ZTG_AUDIT_LOG_MAX_BYTES   (1ull << 40)
#define ZTG_AUDIT_LOG_MAX_KEEP    1000u
/* The longest line ztg_audit_log_submit takes. */
#define ZTG_AUDIT_LOG_LINE_MAX    8192u

/* ---- the rotating file, usable on its own ---------------------------------------------------- */

struct ztg_audit_file;

/*
 * Open path for appending (created mode 0640), or stdout when path is NULL
 * (never rotated nor reopened). max_bytes 0: never rotate; keep: rotated
 * copies path.1 (newest) .. path.keep, 0 keeping none. A FIFO must already
 * have its reader: opening never waits. NULL with err filled on failure.
 */
struct ztg_audit_file *ztg_audit_file_open(const char *path, uint64_t max_bytes, unsigned int keep,
					   char *err, size_t err_len);

/*
 * Queue one whole line (ending in '\n') for the file, rotating first when
 * the file would pass max_bytes with it; writes when the buffer is full, so
 * this may block on the output. Returns 0, or -1 with err filled when a write
 * or a rotation failed (the lines concerned are counted lost).
 */
int ztg_audit_file_append(struct ztg_audit_file *f, const char *line, size_t len, char *err, size_t err_len);

/* Write what is queued. May block on the output. 0, or -1 with err filled (the lines counted lost). */
int ztg_audit_file_flush(struct ztg_audit_file *f, char *err, size_t err_len);

/* Flush, close and open the path again (after logrotate moved it). Stdout: only the flush. */
int ztg_audit_file_reopen(struct ztg_audit_file *f, char *err, size_t err_len);

struct ztg_audit_file_totals {
	uint64_t lines;          /* written */
	uint64_t lost;           /* refused by a failing output */
	uint64_t rotations;
};

void ztg_audit_file_totals(const struct ztg_audit_file *f, struct ztg_audit_file_totals *out);

/* Close without flushing (ztg_audit_file_flush first to keep what is queued). NULL is a no-op. */
void ztg_audit_file_close(struct ztg_audit_file *f);

/* ---- the writer thread ---------------------------------------------------------------------- */

struct ztg_audit_log_config {
	struct rte_ring *ring;         /* the events; the writer becomes its only consumer */
	const char *path;              /* NULL: stdout */
	uint64_t max_bytes;            /* as ztg_audit_file_open */
	unsigned int keep;
	int syslog_facility;           /* LOG_DAEMON, LOG_LOCAL0...; -1: no syslog */
	/* What turns an event's TSC stamp into wall-clock time (ztg_events_write_json). */
	double wall_start;
	uint64_t tsc_start;
	uint64_t tsc_hz;
	ztg_events_observer observe;   /* may be NULL; called with the observed lock held */
	void *observe_arg;
};

struct ztg_audit_log;

/* Open the output and start the writer. NULL with err filled on failure (nothing left running). */
struct ztg_audit_log *ztg_audit_log_start(const struct ztg_audit_log_config *config, char *err, size_t err_len);

/*
 * Queue one whole JSON line (ending in '\n', at most ZTG_AUDIT_LOG_LINE_MAX
 * bytes) for the output, at LOG_NOTICE in syslog. Thread-safe; never waits
 * on the output. Returns 0, or -1 when the queue is full or the line too
 * long (counted lost).
 */
int ztg_audit_log_submit(struct ztg_audit_log *log, const char *line, size_t len);

/* Ask the writer to reopen the file (SIGHUP after logrotate). Async: returns at once. */
void ztg_audit_log_reopen(struct ztg_audit_log *log);

/* The lock the observer runs under: take it to read what the observer feeds. */
void ztg_audit_log_observed_lock(struct ztg_audit_log *log);
void ztg_audit_log_observed_unlock(struct ztg_audit_log *log);

struct ztg_audit_log_totals {
	struct ztg_audit_file_totals file;
	uint64_t events;               /* taken from the ring */
	uint64_t submitted_lost;       /* ztg_audit_log_submit lines that found the queue full */
	uint64_t abandoned;            /* events left in the ring, or lines unwritten, at a stop that gave up */
	bool gave_up;                  /* the output accepted nothing for the stop's whole grace */
};

/*
 * Drain the ring (the producers must have stopped) and the queue, write
 * everything, stop the writer and free it. Bounded: an output that takes
 * nothing for ZTG_AUDIT_LOG_STOP_IDLE_MS (or a stop that lasts
 * ZTG_AUDIT_LOG_STOP_MAX_MS) has its writer cancelled, and what remains is
 * counted in abandoned. totals may be NULL; log NULL is a no-op.
 */
#define ZTG_AUDIT_LOG_STOP_IDLE_MS 1000u
#define ZTG_AUDIT_LOG_STOP_MAX_MS  10000u
void ztg_audit_log_stop(struct ztg_audit_log *log, struct ztg_audit_log_totals *totals);

/* ---- what the options mean ------------------------------------------------------------------ */

/*
 * A byte count: digits with an optional K, M or G (powers of 1024). 0, or
 * ZTG_AUDIT_LOG_MIN_BYTES..ZTG_AUDIT_LOG_MAX_BYTES. -1 with err filled.
 */
int ztg_audit_log_parse_size(const char *text, uint64_t *out, char *err, size_t err_len);

/* daemon, user, local0..local7 to LOG_DAEMON...; -1 with err filled. */
int ztg_audit_log_parse_facility(const char *text, int *out, char *err, size_t err_len);

/* The name ztg_audit_log_parse_facility reads as facility, or "?". */
const char *ztg_audit_log_facility_name(int facility);

/*
 * A sampling rate in 0..1 (a plain decimal: "0", "0.01", "1", "1e-3") and its
 * threshold llround(rate * 2^32): a request whose 32-bit hash is below it is
 * sampled, so 1 samples all. -1 with err filled.
 */
int ztg_audit_log_parse_rate(const char *text, double *rate, uint64_t *threshold, char *err, size_t err_len);

#endif
