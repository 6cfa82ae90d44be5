#include "prometheus.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY 4096

static const char *const type_names[] = {
	[ZTG_PROM_COUNTER] = "counter",
	[ZTG_PROM_GAUGE] = "gauge",
	[ZTG_PROM_HISTOGRAM] = "histogram",
};

void ztg_prom_init(struct ztg_prom_writer *w, size_t max_bytes)
{
	memset(w, 0, sizeof(*w));
	w->max = max_bytes;
}

void ztg_prom_release(struct ztg_prom_writer *w)
{
	for (size_t i = 0; i < w->family_count; i++)
		free(w->families[i]);
	free(w->families);
	free(w->data);
	ztg_prom_init(w, w->max);
}

/* Record the first error; every later call returns it. */
static int fail(struct ztg_prom_writer *w, int error)
{
	if (w->error == 0)
		w->error = error;
	return w->error;
}

static int name_ok(const char *name, bool colon)
{
	size_t i = 0;

	if (name == NULL)
		return 0;
	for (; name[i] != '\0'; i++) {
		char c = name[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');

		if (!letter && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
		if (i == ZTG_PROM_NAME_MAX)
			return 0;
	}
	return i > 0;
}

int ztg_prom_metric_name_ok(const char *name)
{
	return name_ok(name, true);
}

int ztg_prom_label_name_ok(const char *name)
{
	return name_ok(name, false);
}

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool utf8_ok(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;

	while (*s != '\0') {
		unsigned int c = *s, need, cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned int k = 1; k <= need; k++) {
			if ((s[k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		s += need + 1;
	}
	return true;
}

/* Append n bytes, growing by doubling up to the maximum (and one byte for the NUL after the page). */
static int put(struct ztg_prom_writer *w, const char *s, size_t n)
{
	if (n > w->max - w->len)
		return -ENOSPC;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : INITIAL_CAPACITY;
		char *grown;

		while (cap < w->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		if (w->max < SIZE_MAX && cap > w->max + 1)
			cap = w->max + 1;
		grown = realloc(w->data, cap);
		if (grown == NULL)
			return -ENOMEM;
		w->data = grown;
		w->cap = cap;
	}
	memcpy(w->data + w->len, s, n);
	w->len += n;
	w->data[w->len] = '\0';
	return 0;
}

static int put_str(struct ztg_prom_writer *w, const char *s)
{
	return put(w, s, strlen(s));
}

/* Append each string up to the NULL, stopping at the first error. */
static int put_all(struct ztg_prom_writer *w, ...)
{
	va_list ap;
	const char *s;
	int rc = 0;

	va_start(ap, w);
	while (rc == 0 && (s = va_arg(ap, const char *)) != NULL)
		rc = put_str(w, s);
	va_end(ap);
	return rc;
}

/*
 * Text with escapes: backslash and newline always, the double quote too in
 * label values (HELP text leaves it alone, as the format says).
 */
static int put_escaped(struct ztg_prom_writer *w, const char *s, bool quote)
{
	const char *run = s;
	int rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : (quote && *s == '"') ? "\\\"" : NULL;

		if (esc == NULL)
			continue;
		rc = put(w, run, (size_t)(s - run));
		if (rc == 0)
			rc = put_str(w, esc);
		run = s + 1;
	}
	return rc ? rc : put(w, run, (size_t)(s - run));
}

/* Labels are checked as a set before anything is written. */
static int labels_ok(const struct ztg_prom_label *labels, size_t count, bool histogram)
{
	if (count > ZTG_PROM_MAX_LABELS || (count > 0 && labels == NULL))
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		const char *name = labels[i].name;

		if (!ztg_prom_label_name_ok(name) || strncmp(name, "__", 2) == 0 || labels[i].value == NULL ||
		    (histogram && strcmp(name, "le") == 0))
			return -EINVAL;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[j].name, name) == 0)
				return -EINVAL;
		}
		if (!utf8_ok(labels[i].value))
			return -EILSEQ;
	}
	return 0;
}

/* name[suffix]{labels[,le="le"]} value\n */
static int put_sample(struct ztg_prom_writer *w, const char *suffix, const struct ztg_prom_label *labels,
		      size_t count, const char *le, const char *value)
{
	bool braces = count > 0 || le != NULL;
	int rc = put_all(w, w->family, suffix, braces ? "{" : "", (char *)NULL);

	for (size_t i = 0; i < count && rc == 0; i++) {
		rc = put_all(w, i ? "," : "", labels[i].name, "=\"", (char *)NULL);
		if (rc == 0)
			rc = put_escaped(w, labels[i].value, true);
		if (rc == 0)
			rc = put_str(w, "\"");
	}
	if (rc == 0 && le != NULL)
		rc = put_all(w, count ? "," : "", "le=\"", le, "\"", (char *)NULL);
	if (rc == 0)
		rc = put_all(w, braces ? "}" : "", " ", value, "\n", (char *)NULL);
	return rc;
}

/* The shortest text strtod reads back as v; NaN, +Inf and -Inf by name. */
static void format_double(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(buf, len, "%.*g", precision, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* End one call's writes: on failure the page goes back to start and the error is kept. */
static int commit(struct ztg_prom_writer *w, size_t start, int rc)
{
	if (rc == 0)
		return 0;
	w->len = start;
	if (w->data != NULL)
		w->data[start] = '\0';
	return fail(w, rc);
}

int ztg_prom_family(struct ztg_prom_writer *w, const char *name, enum ztg_prom_type type, const char *help)
{
	size_t start = w->len, n;
	char *copy = NULL;
	int rc;

	if (w->error)
		return w->error;
	if (!ztg_prom_metric_name_ok(name) || (unsigned int)type > ZTG_PROM_HISTOGRAM)
		return fail(w, -EINVAL);
	n = strlen(name);
	if (type == ZTG_PROM_COUNTER && (n < 6 || strcmp(name + n - 6, "_total") != 0))
		return fail(w, -EINVAL);
	if (help != NULL && !utf8_ok(help))
		return fail(w, -EILSEQ);
	for (size_t i = 0; i < w->family_count; i++) {
		if (strcmp(w->families[i], name) == 0)
			return fail(w, -EEXIST);
	}
	if (w->family_count == w->family_cap) {
		size_t cap = w->family_cap ? w->family_cap * 2 : 64;
		char **grown;

		if (w->family_count == ZTG_PROM_MAX_FAMILIES)
			return fail(w, -ENOSPC);
		if (cap > ZTG_PROM_MAX_FAMILIES)
			cap = ZTG_PROM_MAX_FAMILIES;
		grown = realloc(w->families, cap * sizeof(*grown));
		if (grown == NULL)
			return fail(w, -ENOMEM);
		w->families = grown;
		w->family_cap = cap;
	}
	rc = 0;
	if (help != NULL && *help != '\0') {
		rc = put_all(w, "# HELP ", name, " ", (char *)NULL);
		if (rc == 0)
			rc = put_escaped(w, help, false);
		if (rc == 0)
			rc = put_str(w, "\n");
	}
	if (rc == 0)
		rc = put_all(w, "# TYPE ", name, " ", type_names[type], "\n", (char *)NULL);
	if (rc == 0 && (copy = strdup(name)) == NULL)
		rc = -ENOMEM;
	if (commit(w, start, rc) != 0)
		return w->error;
	w->families[w->family_count++] = copy;
	w->family = copy;
	w->type = type;
	return 0;
}

static int sample(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t count, const char *value)
{
	size_t start = w->len;
	int rc;

	if (w->error)
		return w->error;
	if (w->family == NULL || w->type == ZTG_PROM_HISTOGRAM)
		return fail(w, -EPROTO);
	rc = labels_ok(labels, count, false);
	if (rc != 0)
		return fail(w, rc);
	return commit(w, start, put_sample(w, "", labels, count, NULL, value));
}

int ztg_prom_sample_u64(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t label_count,
			uint64_t value)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, value);
	return sample(w, labels, label_count, text);
}

int ztg_prom_sample_double(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t label_count,
			   double value)
{
	char text[40];

	format_double(value, text, sizeof(text));
	return sample(w, labels, label_count, text);
}

int ztg_prom_histogram(struct ztg_prom_writer *w, const struct ztg_prom_label *labels, size_t label_count,
		       const struct ztg_prom_histogram *h)
{
	size_t start = w->len;
	uint64_t cumulative = 0;
	char le[40], value[40];
	int rc;

	if (w->error)
		return w->error;
	if (w->family == NULL || w->type != ZTG_PROM_HISTOGRAM)
		return fail(w, -EPROTO);
	if (h == NULL || h->counts == NULL || h->bucket_count > ZTG_PROM_MAX_BUCKETS ||
	    (h->bucket_count > 0 && h->bounds == NULL))
		return fail(w, -EINVAL);
	for (size_t i = 0; i < h->bucket_count; i++) {
		if (!isfinite(h->bounds[i]) || (i > 0 && !(h->bounds[i] > h->bounds[i - 1])))
			return fail(w, -EINVAL);
	}
	rc = labels_ok(labels, label_count, true);
	if (rc != 0)
		return fail(w, rc);
	for (size_t i = 0; i <= h->bucket_count && rc == 0; i++) {
		cumulative += h->counts[i];
		if (i < h->bucket_count)
			format_double(h->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(value, sizeof(value), "%" PRIu64, cumulative);
		rc = put_sample(w, "_bucket", labels, label_count, le, value);
	}
	format_double(h->sum, value, sizeof(value));
	if (rc == 0)
		rc = put_sample(w, "_sum", labels, label_count, NULL, value);
	snprintf(value, sizeof(value), "%" PRIu64, cumulative);
	if (rc == 0)
		rc = put_sample(w, "_count", labels, label_count, NULL, value);
	return commit(w, start, rc);
}

int ztg_prom_fail(struct ztg_prom_writer *w, int error)
{
	if (w->error == 0)
		w->error = error;
	return w->error;
}

int ztg_prom_finish(const struct ztg_prom_writer *w, const char **data, size_t *len)
{
	if (w->error)
		return w->error;
	*data = w->data != NULL ? w->data : "";
	*len = w->len;
	return 0;
}

char *ztg_prom_take(struct ztg_prom_writer *w, size_t *len)
{
	char *data = w->data;

	if (w->error || data == NULL)
		return NULL;
	*len = w->len;
	w->data = NULL;
	w->len = w->cap = 0;
	return data;
}
