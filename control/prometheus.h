/*
 * A writer of the Prometheus text exposition format, version 0.0.4, into a
 * buffer that grows up to a fixed maximum.
 *
 * A page is a run of families: ztg_prom_family() writes a family's # HELP and
 * # TYPE lines, then the samples of that family follow. Each family may be
 * declared once per page, so HELP and TYPE appear once and a family's samples
 * stay together, as the format requires. Counter families must be named
 * *_total; histogram samples come out as cumulative name_bucket{le="..."}
 * lines ending with le="+Inf", then name_sum and name_count.
 *
 * Everything is checked before a byte is written: a bad metric or label name,
 * a label value that is not UTF-8, a counter without _total, a sample of the
 * wrong kind or outside any family is a programming error and comes back as an
 * error code, never as a line on the page. A line that would take the page
 * past its maximum is an error too, not a truncated page. The first error is
 * sticky: every later call returns it and ztg_prom_finish() reports it, so a
 * caller may write a whole page and check once.
 *
 * Plain C, no allocation beyond the page and the list of family names. Not
 * thread-safe: one writer per page.
 */
#ifndef ZTG_PROMETHEUS_H
#define ZTG_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

/* Longest metric or label name accepted (bytes, without the NUL). */
#define ZTG_PROM_NAME_MAX 200
/* Most families one page may declare. */
#define ZTG_PROM_MAX_FAMILIES 1024
/* Most buckets of one histogram, and most labels of one sample. */
#define ZTG_PROM_MAX_BUCKETS 64
#define ZTG_PROM_MAX_LABELS 16

/* The media type a page is served with. */
#define ZTG_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum ztg_prom_type {
	ZTG_PROM_COUNTER = 0,
	ZTG_PROM_GAUGE,
	ZTG_PROM_HISTOGRAM,
};

/*
 * Error codes (negative errno values, 0 is success):
 *   -EINVAL  a bad argument: a metric name not matching [a-zA-Z_:][a-zA-Z0-9_:]*,
 *            a label name not matching [a-zA-Z_][a-zA-Z0-9_]* or starting
 *            with "__", a label given twice, a counter not named *_total,
 *            histogram bounds not finite and strictly increasing, "le" as a
 *            histogram's own label, too many labels or buckets, NULL where a
 *            pointer is required.
 *   -EILSEQ  a label value or help text that is not valid UTF-8.
 *   -EEXIST  a family declared a second time on the page.
 *   -EPROTO  a sample with no family declared, or of another kind than its
 *            family (a histogram into a counter family, or the reverse).
 *   -ENOSPC  the page would pass its maximum size.
 *   -ENOMEM  the buffer or the family list could not grow.
 */

struct ztg_prom_label {
	const char *name;
	const char *value;                /* any UTF-8; escaped on the page */
};

/*
 * One histogram's observations. counts[i] is the number of observations in
 * (bounds[i-1], bounds[i]] (not cumulative: the writer adds them up);
 * counts[bucket_count] those above the last bound. The _count line is the sum
 * of all bucket_count + 1 of them.
 */
struct ztg_prom_histogram {
	size_t bucket_count;              /* finite bounds, 0..ZTG_PROM_MAX_BUCKETS */
	const double *bounds;             /* strictly increasing, finite */
	const uint64_t *counts;           /* bucket_count + 1 entries */
	double sum;
};

/* The writer. Its fields are private: use the functions below. */
struct ztg_prom_writer {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	int error;                        /* the first error, sticky */
	char **families;                  /* names declared on this page */
	size_t family_count;
	size_t family_cap;
	enum ztg_prom_type type;          /* of the current family */
	const char *family;               /* the current family (in families[]); NULL before the first */
};

/* Start an empty page that may grow to max_bytes. No allocation yet. */
void ztg_prom_init(struct ztg_prom_writer *w, size_t max_bytes);

/* Free the page and the family list; the writer may be initialised again. */
void ztg_prom_release(struct ztg_prom_writer *w);

/*
 * Begin a family: writes "# HELP name help" (help escaped: backslash and
 * newline) and "# TYPE name type". help may be NULL or empty: no HELP line.
 */
int ztg_prom_family(struct ztg_prom_writer *w, const char *name, enum ztg_prom_type type, const char *help);

/*
 * One sample of the current counter or gauge family: name{labels} value.
 * labels may be NULL when label_count is 0. Integers are written exactly;
 * doubles as the shortest text that reads back the same, NaN and +Inf/-Inf
 * by their Prometheus names.
 */
int ztg_prom_sample_u64(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t label_count,
			uint64_t value);
int ztg_prom_sample_double(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t label_count,
			   double value);

/* One histogram of the current histogram family, under the given labels (which must not include le). */
int ztg_prom_histogram(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t label_count,
		       const struct ztg_prom_histogram *h);

/* Fail the page with the caller's own error (e.g. -ENOMEM gathering samples); sticky like the writer's. */
int ztg_prom_fail(struct ztg_prom_writer *w, int error);

/*
 * The page: 0 with *data and *len set (the writer still owns the bytes; they
 * are followed by a NUL, and an empty page is "" with length 0), or the first
 * error any call returned.
 */
int ztg_prom_finish(const struct ztg_prom_writer *w, const char **data, size_t *len);

/*
 * Hand the page (NUL-terminated, *len without the NUL) over to the caller,
 * who frees it with free(); the writer is left empty. NULL when there was an error or nothing was written.
 */
char *ztg_prom_take(struct ztg_prom_writer *w, size_t *len);

/* Whether name may be a metric name, a label name (the format's grammar; no reserved "__" check). */
int ztg_prom_metric_name_ok(const char *name);
int ztg_prom_label_name_ok(const char *name);

#endif
