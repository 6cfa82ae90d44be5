/*
 * Policy loader: libconfig text -> struct ztg_policy, with every problem
 * reported at its file and line.
 *
 * Two phases over one libconfig tree. Parsing walks the file top-down (so
 * references can be resolved as they are met: segments come before the
 * services naming them, both before access) and checks each value on its
 * own; cross checks then look at the model as a whole. Elements that failed
 * a check stay in the model with the bad field left empty, so later checks
 * still run on what is good and one mistake does not hide another. The model
 * is only handed out when no error was found.
 *
 * Cross checks are sort-based (names, paths, grants, segment addresses) so a
 * policy at its bounds validates in n log n; the service overlap check is
 * quadratic only in services that share one host name.
 */
#include "policy_load.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "auth/api_key.h"
#include "arena.h"
#include "auth/jwk.h"
#include "config_check.h"
#include "error_text.h"
#include "signatures.h"
#include "policy/route_match.h"


/* ------------------------------------------------------------------ names */

static const char *const mode_names[] = {
#define ZTG_POLICY_MODE_NAME(sym, name) name,
	ZTG_POLICY_MODES(ZTG_POLICY_MODE_NAME)
#undef ZTG_POLICY_MODE_NAME
};

static const char *const action_names[] = {
#define ZTG_POLICY_ACTION_NAME(sym, name) name,
	ZTG_POLICY_ACTIONS(ZTG_POLICY_ACTION_NAME)
#undef ZTG_POLICY_ACTION_NAME
};

static const char *const rate_key_names[] = {
#define ZTG_POLICY_RATE_KEY_NAME(sym, name) name,
	ZTG_POLICY_RATE_KEYS(ZTG_POLICY_RATE_KEY_NAME)
#undef ZTG_POLICY_RATE_KEY_NAME
};

static const char *const rate_action_names[] = {
#define ZTG_POLICY_RATE_ACTION_NAME(sym, name) name,
	ZTG_POLICY_RATE_ACTIONS(ZTG_POLICY_RATE_ACTION_NAME)
#undef ZTG_POLICY_RATE_ACTION_NAME
};

/* A rate limit's period: its name in the policy and its length in seconds, index for index. */
#define RATE_PERIOD_COUNT 3
static const char *const rate_period_names[RATE_PERIOD_COUNT] = {"second", "minute", "hour"};
static const uint32_t rate_period_seconds[RATE_PERIOD_COUNT] = {1, 60, 3600};

/* behaviour: floors and signals as the policy names them (its keys), enum order. */
static const char *const behaviour_floor_names[ZTG_POLICY_FLOOR_COUNT] = {"requests", "errors", "objects", "bytes"};
static const char *const behaviour_signal_names[ZTG_POLICY_SIGNAL_COUNT] = {"anomaly", "auth_failures",
									     "token_sources", "source_identities"};

_Static_assert(ZTG_POLICY_METHODS_ANY == ZTG_ROUTE_METHOD_ANY &&
	       ZTG_POLICY_METHOD_BIT(ZTG_HTTP_METHOD_TRACE) == ZTG_ROUTE_METHOD_BIT(ZTG_HTTP_METHOD_TRACE),
	       "policy method masks are the route matcher's");

#define METHOD_EXPECTED "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE or ANY"

const char *ztg_policy_mode_name(enum ztg_policy_mode mode)
{
	return (unsigned)mode < ZTG_POLICY_MODE_COUNT ? mode_names[mode] : "?";
}

int ztg_policy_mode_from_name(const char *name, enum ztg_policy_mode *out)
{
	for (unsigned i = 0; name != NULL && i < ZTG_POLICY_MODE_COUNT; i++) {
		if (strcmp(name, mode_names[i]) == 0) {
			*out = (enum ztg_policy_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *ztg_policy_action_name(enum ztg_policy_action action)
{
	return (unsigned)action < ZTG_POLICY_ACTION_COUNT ? action_names[action] : "?";
}

int ztg_policy_action_from_name(const char *name, enum ztg_policy_action *out)
{
	for (unsigned i = 0; name != NULL && i < ZTG_POLICY_ACTION_COUNT; i++) {
		if (strcmp(name, action_names[i]) == 0) {
			*out = (enum ztg_policy_action)i;
			return 0;
		}
	}
	return -1;
}

const char *ztg_policy_rate_key_name(enum ztg_policy_rate_key key)
{
	return (unsigned)key < ZTG_POLICY_RATE_KEY_COUNT ? rate_key_names[key] : "?";
}

const char *ztg_policy_rate_action_name(enum ztg_policy_rate_action action)
{
	return (unsigned)action < ZTG_POLICY_RATE_ACTION_COUNT ? rate_action_names[action] : "?";
}

const char *ztg_policy_rate_period_name(uint32_t seconds)
{
	for (unsigned i = 0; i < RATE_PERIOD_COUNT; i++) {
		if (rate_period_seconds[i] == seconds)
			return rate_period_names[i];
	}
	return "?";
}

void ztg_policy_rate_limit_print(FILE *out, const struct ztg_policy_rate_limit *l)
{
	fprintf(out, "rate limit %s: per %s", l->name, ztg_policy_rate_key_name(l->key));
	if (l->key == ZTG_POLICY_RATE_SOURCE)
		fprintf(out, " (/%u, /%u)", l->prefix4, l->prefix6);
	fprintf(out, ", %u per %s, burst %u; %s; %s", l->rate, ztg_policy_rate_period_name(l->period), l->burst,
		ztg_policy_rate_action_name(l->action), l->monitor ? "monitor" : "enforce");
}

const char *ztg_policy_behaviour_floor_name(enum ztg_policy_behaviour_floor f)
{
	return (unsigned)f < ZTG_POLICY_FLOOR_COUNT ? behaviour_floor_names[f] : "?";
}

const char *ztg_policy_behaviour_signal_name(enum ztg_policy_behaviour_signal s)
{
	return (unsigned)s < ZTG_POLICY_SIGNAL_COUNT ? behaviour_signal_names[s] : "?";
}

void ztg_policy_behaviour_print(FILE *out, const struct ztg_policy_behaviour *b, const char *indent)
{
	if (!b->present)
		return;
	if (indent == NULL)
		indent = "";
	fprintf(out, "%sbehaviour: %s, window %u s, baseline over %u %s, factor %g\n", indent,
		b->monitor ? "monitor" : "enforce", b->window, b->history, b->history == 1 ? "window" : "windows",
		b->factor);
	fprintf(out, "%s  floors per window:", indent);
	for (unsigned f = 0; f < ZTG_POLICY_FLOOR_COUNT; f++)
		fprintf(out, "%s %s %llu", f ? "," : "", behaviour_floor_names[f], (unsigned long long)b->floors[f]);
	fprintf(out, "\n%s  signals per window:", indent);
	/* ANOMALY has no count of its own: it is the floors and the factor above. */
	for (unsigned s = ZTG_POLICY_SIGNAL_AUTH_FAILURES; s < ZTG_POLICY_SIGNAL_COUNT; s++) {
		fprintf(out, "%s %s ", s > ZTG_POLICY_SIGNAL_AUTH_FAILURES ? "," : "", behaviour_signal_names[s]);
		if (b->limits[s] == 0)
			fputs("off", out);
		else
			fprintf(out, "%u", b->limits[s]);
	}
	fprintf(out, "\n%s  risk: threshold %g, half-life %u s, quarantine ", indent, b->threshold, b->half_life);
	if (b->quarantine == 0)
		fputs("until deleted", out);
	else
		fprintf(out, "%u s", b->quarantine);
	for (unsigned s = 0; s < ZTG_POLICY_SIGNAL_COUNT; s++)
		fprintf(out, "%s%s %g", s ? ", " : "; weights ", behaviour_signal_names[s], b->weights[s]);
	fputc('\n', out);
}

const char *ztg_policy_method_name(enum ztg_http_method method)
{
	/* OTHER has no name a policy can use. */
	if ((unsigned)method > ZTG_HTTP_METHOD_TRACE || method == ZTG_HTTP_METHOD_OTHER)
		return "?";
	return ztg_route_method_name(method);
}

int ztg_policy_method_from_name(const char *name, uint16_t *mask)
{
	uint32_t m;

	/* The route matcher's names and bits are the policy's (policy.h asserts the enum). */
	if (name == NULL || ztg_route_method_parse(name, strlen(name), &m) != 0)
		return -1;
	*mask = (uint16_t)m;
	return 0;
}

const char *ztg_policy_severity_name(enum ztg_policy_severity severity)
{
	return severity == ZTG_POLICY_WARNING ? "warning" : "error";
}

/* ------------------------------------------------------------------ arena */

void ztg_policy_free(struct ztg_policy *policy)
{
	if (policy == NULL)
		return;
	for (uint32_t i = 0; i < policy->signature_set_count; i++)
		ztg_sig_set_free(policy->signature_sets[i]);
	ztg_arena_free(policy->arena);
	free(policy);
}

/* -------------------------------------------------------------- diagnostics */

void ztg_policy_diag_init(struct ztg_policy_diag *diag)
{
	memset(diag, 0, sizeof(*diag));
}

void ztg_policy_diag_free(struct ztg_policy_diag *diag)
{
	if (diag == NULL)
		return;
	for (uint32_t i = 0; i < diag->count; i++) {
		free(diag->entries[i].file);
		free(diag->entries[i].message);
	}
	free(diag->entries);
	ztg_policy_diag_init(diag);
}

void ztg_policy_diag_print(FILE *out, const struct ztg_policy_diag *diag)
{
	for (uint32_t i = 0; i < diag->count; i++) {
		const struct ztg_policy_diag_entry *e = &diag->entries[i];

		if (e->line > 0)
			fprintf(out, "%s:%u: %s: %s\n", e->file, e->line, ztg_policy_severity_name(e->severity),
				e->message);
		else
			fprintf(out, "%s: %s: %s\n", e->file, ztg_policy_severity_name(e->severity), e->message);
	}
	if (diag->dropped > 0)
		fprintf(out, "(%u more diagnostics not shown)\n", diag->dropped);
}

/* ----------------------------------------------------------------- loader */

/* libconfig's name for a file (what the @include said) and the path we show. */
struct file_name {
	const char *raw;
	const char *shown;
};

struct name_ref {
	const char *name;
	uint32_t index;
	struct ztg_policy_loc loc;
};

/* One (segment, service) pair an access entry grants. */
struct grant {
	uint32_t from;
	uint32_t to;
	uint32_t access;
	uint32_t to_index;
	struct ztg_policy_loc loc;
};

struct loader {
	struct ztg_policy *policy;
	struct ztg_policy_diag *diag;
	const char *path;
	const char *dir;                 /* where libconfig looks for includes */
	bool dir_given;                  /* path named its directory: include paths shown with it */
	uint32_t errors;
	bool nomem;
	struct file_name *files;
	uint32_t file_count;
	uint32_t file_capacity;
	struct name_ref *segment_names;  /* sorted by name, for lookups */
	uint32_t segment_name_count;
	struct name_ref *service_names;
	uint32_t service_name_count;
	struct name_ref *issuer_names;
	uint32_t issuer_name_count;
	struct grant *grants;
	uint32_t grant_count;
	uint32_t grant_capacity;
};

static void out_of_memory(struct loader *ld)
{
	ld->nomem = true;
}

static void *arena_alloc(struct loader *ld, size_t count, size_t size)
{
	void *p;

	if (count == 0 || size == 0 || ld->nomem)
		return NULL;
	p = ztg_arena_alloc(&ld->policy->arena, count, size);
	if (p == NULL)
		out_of_memory(ld);
	return p;
}

static char *arena_strndup(struct loader *ld, const char *s, size_t len)
{
	char *p = arena_alloc(ld, len + 1, 1);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

static char *arena_strdup(struct loader *ld, const char *s)
{
	return arena_strndup(ld, s, strlen(s));
}

/*
 * The path to show for a file libconfig names raw (what the @include said):
 * relative to the policy's directory, written the way the policy's own path
 * was (no "./" added when the policy was named without a directory).
 */
static void compose_shown(const struct loader *ld, const char *raw, char *buf, size_t len)
{
	size_t dlen = strlen(ld->dir);

	if (raw[0] == '/' || !ld->dir_given)
		snprintf(buf, len, "%s", raw);
	else
		snprintf(buf, len, "%s%s%s", ld->dir, dlen > 0 && ld->dir[dlen - 1] == '/' ? "" : "/", raw);
}

/* compose_shown(), kept in the policy and remembered per libconfig file name. */
static const char *file_shown(struct loader *ld, const char *raw)
{
	char buf[PATH_MAX];
	struct file_name *f;
	char *shown;

	if (raw == NULL || strcmp(raw, ld->path) == 0)
		return ld->policy->path;
	for (uint32_t i = 0; i < ld->file_count; i++) {
		if (ld->files[i].raw == raw || strcmp(ld->files[i].raw, raw) == 0)
			return ld->files[i].shown;
	}
	if (ld->file_count == ld->file_capacity) {
		uint32_t cap = ld->file_capacity ? 2 * ld->file_capacity : 8;
		struct file_name *grown = realloc(ld->files, cap * sizeof(*grown));

		if (grown == NULL) {
			out_of_memory(ld);
			return ld->policy->path;
		}
		ld->files = grown;
		ld->file_capacity = cap;
	}
	compose_shown(ld, raw, buf, sizeof(buf));
	shown = arena_strdup(ld, buf);
	if (shown == NULL)
		return ld->policy->path;
	f = &ld->files[ld->file_count++];
	f->raw = raw;
	f->shown = shown;
	return shown;
}

static struct ztg_policy_loc loc_of(struct loader *ld, const config_setting_t *s)
{
	struct ztg_policy_loc loc;

	loc.file = file_shown(ld, config_setting_source_file(s));
	loc.line = config_setting_source_line(s);
	return loc;
}

/*
 * The text of line `line` (1-based) of file, without its newline, cut to
 * len - 1 bytes (*cut says so when cut is not NULL); "" past the end. False
 * when the file cannot be opened. For messages that quote what libconfig
 * does not keep.
 */
static bool read_line(const char *file, uint32_t line, char *text, size_t len, bool *cut)
{
	FILE *f = fopen(file, "r");
	uint32_t at = 1;
	size_t o = 0;
	bool full = false;
	int c;

	if (f == NULL)
		return false;
	while (at <= line && (c = fgetc(f)) != EOF) {
		if (c == '\n')
			at++;
		else if (at == line && o + 1 < len)
			text[o++] = (char)c;
		else if (at == line)
			full = true;
	}
	fclose(f);
	text[o] = '\0';
	if (cut != NULL)
		*cut = full;
	return true;
}

int ztg_policy_diag_add(struct ztg_policy_diag *d, enum ztg_policy_severity severity, const char *file,
			uint32_t line, const char *message)
{
	struct ztg_policy_diag_entry *e;

	if (d == NULL)
		return 0;
	if (severity == ZTG_POLICY_ERROR)
		d->errors++;
	else
		d->warnings++;
	if (d->count == ZTG_POLICY_DIAG_MAX) {
		d->dropped++;
		return 0;
	}
	if (d->count == d->capacity) {
		uint32_t cap = d->capacity ? 2 * d->capacity : 16;
		struct ztg_policy_diag_entry *grown;

		if (cap > ZTG_POLICY_DIAG_MAX)
			cap = ZTG_POLICY_DIAG_MAX;
		grown = realloc(d->entries, cap * sizeof(*grown));
		if (grown == NULL) {
			d->dropped++;
			return -ENOMEM;
		}
		d->entries = grown;
		d->capacity = cap;
	}
	e = &d->entries[d->count];
	e->severity = severity;
	e->line = line;
	e->file = strdup(file);
	e->message = strdup(message);
	if (e->file == NULL || e->message == NULL) {
		free(e->file);
		free(e->message);
		d->dropped++;
		return -ENOMEM;
	}
	d->count++;
	return 0;
}

static void diag_add(struct loader *ld, enum ztg_policy_severity severity, const char *file, uint32_t line,
		     const char *message)
{
	if (severity == ZTG_POLICY_ERROR)
		ld->errors++;
	if (ztg_policy_diag_add(ld->diag, severity, file, line, message) != 0)
		out_of_memory(ld);
}

static void report_v(struct loader *ld, enum ztg_policy_severity severity, const char *file, uint32_t line,
		     const char *fmt, va_list ap)
{
	char msg[1024];

	ztg_error_vformat(msg, sizeof(msg), fmt, ap);
	diag_add(ld, severity, file, line, msg);
}

static void error_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void error_loc(struct loader *ld, const struct ztg_policy_loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warning_loc(struct loader *ld, const struct ztg_policy_loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void error_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	struct ztg_policy_loc loc = loc_of(ld, s);
	va_list ap;

	va_start(ap, fmt);
	report_v(ld, ZTG_POLICY_ERROR, loc.file, loc.line, fmt, ap);
	va_end(ap);
}

static void error_loc(struct loader *ld, const struct ztg_policy_loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(ld, ZTG_POLICY_ERROR, loc->file, loc->line, fmt, ap);
	va_end(ap);
}

static void warning_loc(struct loader *ld, const struct ztg_policy_loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(ld, ZTG_POLICY_WARNING, loc->file, loc->line, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------- message helpers */

struct loc_text {
	char text[320];
};

static const char *loc_str(struct loc_text *b, const struct ztg_policy_loc *loc)
{
	snprintf(b->text, sizeof(b->text), "%s:%u", loc->file, loc->line);
	return b->text;
}

static void wrong_type(struct loader *ld, const config_setting_t *s, const char *path, const char *expect)
{
	error_at(ld, s, "%s: expected %s, got %s", path, expect, ztg_config_type_name(s));
}

static const char *method_list(char *buf, size_t len, uint16_t mask)
{
	size_t o = 0;

	if (mask == ZTG_POLICY_METHODS_ANY) {
		snprintf(buf, len, "any method");
		return buf;
	}
	buf[0] = '\0';
	for (unsigned m = ZTG_HTTP_METHOD_GET; m <= ZTG_HTTP_METHOD_TRACE && o < len; m++) {
		if (mask & ZTG_POLICY_METHOD_BIT(m))
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", ztg_route_method_name(m));
	}
	return buf;
}

/* ------------------------------------------------------ libconfig access */

/* Every member of group must be a known key; every required key must be there. */
static void key_error(void *ctx, const config_setting_t *at, const char *message)
{
	error_at(ctx, at, "%s", message);
}

static void check_keys(struct loader *ld, const config_setting_t *group, const char *where,
		       const struct ztg_config_key *keys, size_t key_count)
{
	ztg_config_check_keys(group, where, keys, key_count, NULL, key_error, ld);
}

/* The string value of group.key; NULL when absent or not a string (reported). */
static const char *string_member(struct loader *ld, const config_setting_t *group, const char *where,
				 const char *key, const char *expect, const config_setting_t **setting)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128];

	if (setting != NULL)
		*setting = s;
	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), expect);
		return NULL;
	}
	return config_setting_get_string(s);
}

/* group.key as a list or array; NULL when absent or of another type (reported). */
static const config_setting_t *list_member(struct loader *ld, const config_setting_t *group, const char *where,
					   const char *key, const char *expect)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128];

	if (s == NULL)
		return NULL;
	if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), expect);
		return NULL;
	}
	return s;
}

/* Length of a list, reported and cut when over max. */
static uint32_t capped_length(struct loader *ld, const config_setting_t *list, const char *path, uint32_t max,
			      const char *what)
{
	int n = config_setting_length(list);

	if (n < 0)
		return 0;
	if ((uint32_t)n > max) {
		error_at(ld, list, "%s: %d %s, at most %u are allowed", path, n, what, max);
		return max;
	}
	return (uint32_t)n;
}

#define NAME_EXPECT "a name: 1 to 64 of A-Z a-z 0-9 _ . -"

/* group.key as a name, copied into the policy; NULL when absent or bad (reported). */
static const char *name_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key)
{
	const config_setting_t *s;
	const char *v = string_member(ld, group, where, key, "a string holding " NAME_EXPECT, &s);
	char path[128];
	struct ztg_quoted sn;

	if (v == NULL)
		return NULL;
	if (!ztg_policy_name_valid(v, strlen(v))) {
		error_at(ld, s, "%s: %s is not a valid name (expected 1 to 64 characters of A-Z a-z 0-9 _ . -)",
			 ztg_config_key_path(path, sizeof(path), where, key), ztg_error_quote(&sn, v));
		return NULL;
	}
	return arena_strdup(ld, v);
}

/*
 * group.key as one of names[] whose bit is set in allowed. Returns true and
 * sets *out when it is; false when absent or bad (reported).
 */
static bool choice_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			  const char *const *names, unsigned count, unsigned allowed, const char *what, unsigned *out)
{
	const config_setting_t *s;
	char expect[128], path[128], expect_type[160];
	const char *v;
	struct ztg_quoted sn;

	ztg_config_choice_list(expect, sizeof(expect), names, count, allowed);
	snprintf(expect_type, sizeof(expect_type), "a string (%s)", expect);
	v = string_member(ld, group, where, key, expect_type, &s);
	if (v == NULL)
		return false;
	ztg_config_key_path(path, sizeof(path), where, key);
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(v, names[i]) != 0)
			continue;
		if ((allowed >> i) & 1u) {
			*out = i;
			return true;
		}
		error_at(ld, s, "%s: %s %s is not allowed here (expected %s)", path, what, ztg_error_quote(&sn, v), expect);
		return false;
	}
	error_at(ld, s, "%s: unknown %s %s (expected %s)", path, what, ztg_error_quote(&sn, v), expect);
	return false;
}

#define ACTION_BIT(a) (1u << ZTG_POLICY_ACTION_##a)

static bool action_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			  unsigned allowed, enum ztg_policy_action *out)
{
	unsigned v;

	if (!choice_member(ld, group, where, key, action_names, ZTG_POLICY_ACTION_COUNT, allowed, "action", &v))
		return false;
	*out = (enum ztg_policy_action)v;
	return true;
}

static bool mode_member(struct loader *ld, const config_setting_t *group, const char *where,
			enum ztg_policy_mode *out)
{
	unsigned v;

	if (!choice_member(ld, group, where, "mode", mode_names, ZTG_POLICY_MODE_COUNT,
			   (1u << ZTG_POLICY_MODE_COUNT) - 1, "mode", &v))
		return false;
	*out = (enum ztg_policy_mode)v;
	return true;
}

/* ------------------------------------------------------------------ CIDRs */

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Every address of inner is in outer. */
static bool cidr_contains(const struct ztg_cidr *outer, const struct ztg_cidr *inner)
{
	return outer->family == inner->family && outer->prefix_len <= inner->prefix_len &&
	       prefix_equal(outer->addr, inner->addr, outer->prefix_len);
}

static bool cidr_overlap(const struct ztg_cidr *a, const struct ztg_cidr *b)
{
	return cidr_contains(a, b) || cidr_contains(b, a);
}

struct cidr_text {
	char text[INET6_ADDRSTRLEN + 8];
};

static const char *cidr_str(struct cidr_text *b, const struct ztg_cidr *c)
{
	char addr[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(b->text, sizeof(b->text), "%s/%u", addr, c->prefix_len);
	return b->text;
}

/* "ADDRESS[/PREFIX]"; a bare address is a host (/32, /128). 0, or -1 with why. */
static int parse_cidr(const char *text, struct ztg_cidr *out, char *why, size_t why_len)
{
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	char addr[INET6_ADDRSTRLEN];
	unsigned max, prefix;
	struct ztg_cidr net;
	struct cidr_text ct;
	struct ztg_quoted sn;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr)) {
		snprintf(why, why_len, "%s is not an IPv4 or IPv6 address (expected ADDRESS/PREFIX, e.g. "
			 "198.18.0.0/24 or 2001:db8::/64)", ztg_error_quote(&sn, text));
		return -1;
	}
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	out->family = memchr(addr, ':', alen) ? 6 : 4;
	if (inet_pton(out->family == 4 ? AF_INET : AF_INET6, addr, out->addr) != 1) {
		snprintf(why, why_len, "%s is not an IPv4 or IPv6 address (expected ADDRESS/PREFIX, e.g. "
			 "198.18.0.0/24 or 2001:db8::/64)", ztg_error_quote(&sn, text));
		return -1;
	}
	max = out->family == 4 ? 32 : 128;
	prefix = max;
	if (slash != NULL) {
		const char *p = slash + 1;
		size_t digits = strspn(p, "0123456789");

		if (digits == 0 || digits > 3 || p[digits] != '\0') {
			snprintf(why, why_len, "%s: the prefix length must be a number 0..%u for IPv%u",
				 ztg_error_quote(&sn, text), max, out->family);
			return -1;
		}
		prefix = (unsigned)strtoul(p, NULL, 10);
		if (prefix > max) {
			snprintf(why, why_len, "%s: prefix length %u is out of range 0..%u for IPv%u",
				 ztg_error_quote(&sn, text), prefix, max, out->family);
			return -1;
		}
	}
	out->prefix_len = (uint8_t)prefix;
	net = *out;
	for (unsigned bit = prefix; bit < 128; bit++)
		net.addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	if (memcmp(net.addr, out->addr, sizeof(net.addr)) != 0) {
		snprintf(why, why_len, "%s has host bits set; did you mean %s?", text, cidr_str(&ct, &net));
		return -1;
	}
	return 0;
}

/* A list of CIDR strings into *out; bad and repeated entries are reported and left out. */
static void parse_addresses(struct loader *ld, const config_setting_t *list, const char *path, uint32_t max,
			    struct ztg_policy_address **out, uint32_t *count)
{
	uint32_t n = capped_length(ld, list, path, max, "addresses");
	struct ztg_policy_address *addrs;
	char why[256], epath[160];

	*out = NULL;
	*count = 0;
	if (n == 0) {
		error_at(ld, list, "%s: empty list (expected at least one ADDRESS/PREFIX, e.g. 198.18.0.0/24)", path);
		return;
	}
	addrs = arena_alloc(ld, n, sizeof(*addrs));
	if (addrs == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct ztg_policy_address *a = &addrs[*count];
		bool repeated = false;

		snprintf(epath, sizeof(epath), "%s[%u]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			wrong_type(ld, e, epath, "an address string such as \"198.18.0.0/24\"");
			continue;
		}
		if (parse_cidr(config_setting_get_string(e), &a->cidr, why, sizeof(why)) < 0) {
			error_at(ld, e, "%s: %s", epath, why);
			continue;
		}
		a->loc = loc_of(ld, e);
		for (uint32_t j = 0; j < *count && !repeated; j++) {
			struct cidr_text ct;
			struct loc_text lt;

			if (memcmp(&addrs[j].cidr, &a->cidr, sizeof(a->cidr)) != 0)
				continue;
			error_at(ld, e, "%s: %s is listed twice (first at %s)", epath, cidr_str(&ct, &a->cidr),
				 loc_str(&lt, &addrs[j].loc));
			repeated = true;
		}
		if (!repeated)
			(*count)++;
	}
	*out = *count ? addrs : NULL;
}

/* ------------------------------------------------------ hosts, paths, ports */

/* Host pattern into lower (at least ZTG_POLICY_HOST_MAX_LEN + 1 bytes). 0, or -1 with why. */
static int parse_host(const char *text, char *lower, bool *wildcard, char *why, size_t why_len)
{
	size_t len = strlen(text), label = 0, o = 0;
	const char *p = text;
	struct ztg_quoted sn;

	*wildcard = false;
	if (len == 0) {
		snprintf(why, why_len, "an empty host pattern");
		return -1;
	}
	if (len > ZTG_POLICY_HOST_MAX_LEN) {
		snprintf(why, why_len, "%s is longer than %u characters", ztg_error_quote(&sn, text), ZTG_POLICY_HOST_MAX_LEN);
		return -1;
	}
	/* An IPv6 literal, as clients that call by address send it; kept in the normaliser's canonical form. */
	if (text[0] == '[') {
		char inner[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
		struct in6_addr a6;
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != '\0' || (size_t)(close - text - 1) >= sizeof(inner)) {
			snprintf(why, why_len, "%s: an IPv6 literal is written in brackets, without a port, "
				 "e.g. \"[2001:db8::2]\"", ztg_error_quote(&sn, text));
			return -1;
		}
		memcpy(inner, text + 1, (size_t)(close - text - 1));
		inner[close - text - 1] = '\0';
		if (inet_pton(AF_INET6, inner, &a6) != 1 || inet_ntop(AF_INET6, &a6, canon, sizeof(canon)) == NULL) {
			snprintf(why, why_len, "%s is not an IPv6 address", ztg_error_quote(&sn, text));
			return -1;
		}
		snprintf(lower, ZTG_POLICY_HOST_MAX_LEN + 1, "[%s]", canon);
		return 0;
	}
	if (strchr(text, ':') != NULL) {
		snprintf(why, why_len, "%s includes a port (hosts match the Host header without its port; "
			 "list ports in \"ports\")", ztg_error_quote(&sn, text));
		return -1;
	}
	if (p[0] == '*') {
		if (p[1] != '.' || p[2] == '\0') {
			snprintf(why, why_len, "%s: a wildcard must be a leading \"*.\" followed by a domain, "
				 "e.g. \"*.shop.test\"", ztg_error_quote(&sn, text));
			return -1;
		}
		*wildcard = true;
		lower[o++] = '*';
		lower[o++] = '.';
		p += 2;
	}
	for (; *p != '\0'; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				break;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63) {
				snprintf(why, why_len, "%s has a label longer than 63 characters", ztg_error_quote(&sn, text));
				return -1;
			}
		} else if (c == '*') {
			snprintf(why, why_len, "%s: a wildcard is only allowed as a leading \"*.\", "
				 "e.g. \"*.shop.test\"", ztg_error_quote(&sn, text));
			return -1;
		} else {
			char bad[2] = {*p, '\0'};
			struct ztg_quoted sb;

			snprintf(why, why_len, "%s holds %s (expected a-z, 0-9, '.' and '-' only)", ztg_error_quote(&sn, text),
				 ztg_error_quote(&sb, bad));
			return -1;
		}
		lower[o++] = c;
	}
	if (*p != '\0' || label == 0) {
		snprintf(why, why_len, "%s has an empty label (a leading, trailing or doubled '.')", ztg_error_quote(&sn, text));
		return -1;
	}
	lower[o] = '\0';
	return 0;
}

static void parse_hosts(struct loader *ld, const config_setting_t *list, const char *path,
			struct ztg_policy_service *svc)
{
	uint32_t n = capped_length(ld, list, path, ZTG_POLICY_MAX_HOSTS, "hosts");
	char lower[ZTG_POLICY_HOST_MAX_LEN + 1], why[384], epath[160];

	if (n == 0) {
		error_at(ld, list, "%s: empty list (expected at least one host, e.g. \"api.shop.test\" or "
			 "\"*.shop.test\")", path);
		return;
	}
	svc->hosts = arena_alloc(ld, n, sizeof(*svc->hosts));
	if (svc->hosts == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct ztg_policy_host *h = &svc->hosts[svc->host_count];
		bool wildcard, repeated = false;

		snprintf(epath, sizeof(epath), "%s[%u]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			wrong_type(ld, e, epath, "a host string such as \"api.shop.test\"");
			continue;
		}
		if (parse_host(config_setting_get_string(e), lower, &wildcard, why, sizeof(why)) < 0) {
			error_at(ld, e, "%s: %s", epath, why);
			continue;
		}
		for (uint32_t j = 0; j < svc->host_count && !repeated; j++) {
			struct ztg_quoted sn;
			struct loc_text lt;

			if (strcmp(svc->hosts[j].pattern, lower) != 0)
				continue;
			error_at(ld, e, "%s: host %s is listed twice (first at %s)", epath, ztg_error_quote(&sn, lower),
				 loc_str(&lt, &svc->hosts[j].loc));
			repeated = true;
		}
		if (repeated)
			continue;
		h->pattern = arena_strdup(ld, lower);
		h->wildcard = wildcard;
		h->loc = loc_of(ld, e);
		svc->host_count++;
	}
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void parse_ports(struct loader *ld, const config_setting_t *list, const char *path,
			struct ztg_policy_service *svc)
{
	uint32_t n = capped_length(ld, list, path, ZTG_POLICY_MAX_PORTS, "ports");
	uint32_t seen[65536 / 32] = {0};   /* bit per port already listed */
	char epath[160];

	if (n == 0) {
		error_at(ld, list, "%s: empty list (expected at least one TCP port 1..65535)", path);
		return;
	}
	svc->ports = arena_alloc(ld, n, sizeof(*svc->ports));
	if (svc->ports == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		long long v;

		snprintf(epath, sizeof(epath), "%s[%u]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_INT && config_setting_type(e) != CONFIG_TYPE_INT64) {
			wrong_type(ld, e, epath, "a TCP port, an integer 1..65535");
			continue;
		}
		v = config_setting_get_int64(e);
		if (v < 1 || v > 65535) {
			error_at(ld, e, "%s: port %lld is out of range 1..65535", epath, v);
			continue;
		}
		if (seen[v / 32] & (1u << (v % 32))) {
			error_at(ld, e, "%s: port %lld is listed twice", epath, v);
			continue;
		}
		seen[v / 32] |= 1u << (v % 32);
		svc->ports[svc->port_count++] = (uint16_t)v;
	}
	if (svc->port_count > 1)
		qsort(svc->ports, svc->port_count, sizeof(svc->ports[0]), cmp_u16);
}

/*
 * A route path template, checked for what any matcher needs: an absolute
 * path with no space, control byte, '?' or '#', and balanced "{name}"
 * parameters. What a template means is the route matcher's business.
 */
static int check_path(const char *path, char *why, size_t why_len)
{
	size_t len = strlen(path);
	const char *open = NULL;
	struct ztg_quoted sn;

	if (path[0] != '/') {
		snprintf(why, why_len, "%s does not start with '/'", ztg_error_quote(&sn, path));
		return -1;
	}
	if (len > ZTG_POLICY_PATH_MAX_LEN) {
		snprintf(why, why_len, "%s is longer than %u bytes", ztg_error_quote(&sn, path), ZTG_POLICY_PATH_MAX_LEN);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(why, why_len, "%s holds a control character (0x%02x) at offset %zu", ztg_error_quote(&sn, path),
				 c, i);
			return -1;
		}
		if (c == ' ') {
			snprintf(why, why_len, "%s holds a space at offset %zu (write it as %%20)", ztg_error_quote(&sn, path), i);
			return -1;
		}
		if (c == '?' || c == '#') {
			snprintf(why, why_len, "%s holds '%c' at offset %zu (a route matches the path only, "
				 "without query or fragment)", ztg_error_quote(&sn, path), c, i);
			return -1;
		}
	}
	for (const char *p = path; *p != '\0'; p++) {
		if (*p == '{') {
			if (open != NULL) {
				snprintf(why, why_len, "%s opens '{' inside a parameter", ztg_error_quote(&sn, path));
				return -1;
			}
			open = p;
		} else if (*p == '}') {
			if (open == NULL) {
				snprintf(why, why_len, "%s has '}' without '{'", ztg_error_quote(&sn, path));
				return -1;
			}
			if (p == open + 1) {
				snprintf(why, why_len, "%s has a parameter without a name (\"{}\")", ztg_error_quote(&sn, path));
				return -1;
			}
			open = NULL;
		} else if (open != NULL && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
					     (*p >= '0' && *p <= '9') || *p == '_')) {
			snprintf(why, why_len, "%s: a parameter name holds '%c' (expected {name} with A-Z a-z "
				 "0-9 _)", ztg_error_quote(&sn, path), *p);
			return -1;
		}
	}
	if (open != NULL) {
		snprintf(why, why_len, "%s has '{' without '}'", ztg_error_quote(&sn, path));
		return -1;
	}
	return 0;
}

static uint16_t parse_methods(struct loader *ld, const config_setting_t *list, const char *path)
{
	uint32_t n = (uint32_t)config_setting_length(list);
	const config_setting_t *any = NULL;
	uint16_t mask = 0;
	char epath[160];

	if (n == 0) {
		error_at(ld, list, "%s: empty list (expected at least one of " METHOD_EXPECTED ")", path);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *v;
		uint16_t bit;
		struct ztg_quoted sn;

		snprintf(epath, sizeof(epath), "%s[%u]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			wrong_type(ld, e, epath, "a method string such as \"GET\"");
			continue;
		}
		v = config_setting_get_string(e);
		if (ztg_policy_method_from_name(v, &bit) < 0) {
			const char *hint = NULL;

			for (unsigned m = ZTG_HTTP_METHOD_GET; m <= ZTG_HTTP_METHOD_TRACE && hint == NULL; m++)
				hint = strcasecmp(v, ztg_route_method_name(m)) == 0 ? ztg_route_method_name(m) : NULL;
			if (hint == NULL && strcasecmp(v, "ANY") == 0)
				hint = "ANY";
			if (hint != NULL)
				error_at(ld, e, "%s: unknown method %s (methods are case-sensitive: write \"%s\")",
					 epath, ztg_error_quote(&sn, v), hint);
			else
				error_at(ld, e, "%s: unknown method %s (expected " METHOD_EXPECTED ")", epath,
					 ztg_error_quote(&sn, v));
			continue;
		}
		if (bit == ZTG_POLICY_METHODS_ANY) {
			any = e;
		} else if (mask & bit) {
			error_at(ld, e, "%s: method %s is listed twice", epath, ztg_error_quote(&sn, v));
			continue;
		}
		mask |= bit;
	}
	if (any != NULL && n > 1) {
		error_at(ld, list, "%s: ANY cannot be combined with other methods (it already matches every method)",
			 path);
		return 0;
	}
	return mask;
}

/* ---------------------------------------------------------- name indexes */

static int cmp_name_ref(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Sort refs by name and report each repeat against the first definition.
 * list names the list for messages ("segments", "services[2].routes").
 */
static void sort_names(struct loader *ld, struct name_ref *refs, uint32_t n, const char *list, const char *kind)
{
	if (n > 1)
		qsort(refs, n, sizeof(*refs), cmp_name_ref);
	for (uint32_t i = 1; i < n; i++) {
		uint32_t first = i - 1;
		struct ztg_quoted sn;
		struct loc_text lt;

		if (strcmp(refs[i].name, refs[first].name) != 0)
			continue;
		while (first > 0 && strcmp(refs[first - 1].name, refs[i].name) == 0)
			first--;
		error_loc(ld, &refs[i].loc, "%s[%u]: duplicate %s name %s (first defined at %s)", list,
			  refs[i].index, kind, ztg_error_quote(&sn, refs[i].name), loc_str(&lt, &refs[first].loc));
	}
}

/* The first definition of name (the lowest index, as refs are sorted by name then index). */
static uint32_t find_name(const struct name_ref *refs, uint32_t n, const char *name)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (strcmp(refs[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(refs[lo].name, name) == 0 ? refs[lo].index : ZTG_POLICY_NONE;
}

/* "a, b, c" (at most a few, then "..."), or "none" when the list is empty. */
static const char *name_list(char *buf, size_t len, const struct name_ref *refs, uint32_t n)
{
	size_t o = 0;

	snprintf(buf, len, "none");
	for (uint32_t i = 0; i < n && o < len; i++) {
		if (i == 8) {
			snprintf(buf + o, len - o, ", ...");
			break;
		}
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", refs[i].name);
	}
	return buf;
}

/* A name that must resolve through refs; ZTG_POLICY_NONE when it does not (reported). */
static uint32_t resolve(struct loader *ld, const config_setting_t *s, const char *path, const char *name,
			const struct name_ref *refs, uint32_t n, const char *kind)
{
	uint32_t index = find_name(refs, n, name);
	char defined[256];
	struct ztg_quoted sn;

	if (index == ZTG_POLICY_NONE)
		error_at(ld, s, "%s: undefined %s %s (defined %ss: %s)", path, kind, ztg_error_quote(&sn, name), kind,
			 name_list(defined, sizeof(defined), refs, n));
	return index;
}

/* Names of n elements (name at offset name_off of each elem_size-byte element) into a sorted index. */
static struct name_ref *index_names(struct loader *ld, const void *elems, uint32_t n, size_t elem_size,
				    size_t name_off, size_t loc_off, uint32_t *count)
{
	struct name_ref *refs;

	*count = 0;
	if (n == 0)
		return NULL;
	refs = malloc(n * sizeof(*refs));
	if (refs == NULL) {
		out_of_memory(ld);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *elem = (const char *)elems + i * elem_size;
		const char *name;

		memcpy(&name, elem + name_off, sizeof(name));
		if (name == NULL)
			continue;
		refs[*count].name = name;
		refs[*count].index = i;
		memcpy(&refs[*count].loc, elem + loc_off, sizeof(refs[*count].loc));
		(*count)++;
	}
	return refs;
}

/* ------------------------------------------------------------- segments */

static const struct ztg_config_key segment_keys[] = {
	{"name", true, NAME_EXPECT},
	{"addresses", true, "a list of ADDRESS/PREFIX strings"},
};

static void parse_segments(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = list_member(ld, root, "", "segments", "a list of segments ( { ... }, ... )");
	struct ztg_policy *p = ld->policy;
	uint32_t n;

	if (list == NULL)
		return;
	n = capped_length(ld, list, "segments", ZTG_POLICY_MAX_SEGMENTS, "segments");
	p->segments = arena_alloc(ld, n, sizeof(*p->segments));
	if (p->segments == NULL)
		return;
	p->segment_count = n;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct ztg_policy_segment *seg = &p->segments[i];
		const config_setting_t *addrs;
		char where[64], path[96];

		snprintf(where, sizeof(where), "segments[%u]", i);
		seg->loc = loc_of(ld, e);
		if (!config_setting_is_group(e)) {
			wrong_type(ld, e, where, "a group { name = \"...\"; addresses = [ ... ]; }");
			continue;
		}
		check_keys(ld, e, where, ZTG_CONFIG_KEYS(segment_keys));
		seg->name = name_member(ld, e, where, "name");
		addrs = list_member(ld, e, where, "addresses", "a list of ADDRESS/PREFIX strings");
		if (addrs != NULL)
			parse_addresses(ld, addrs, ztg_config_key_path(path, sizeof(path), where, "addresses"),
					ZTG_POLICY_MAX_SEGMENT_ADDRESSES, &seg->addresses, &seg->address_count);
	}
	ld->segment_names = index_names(ld, p->segments, n, sizeof(*p->segments),
					offsetof(struct ztg_policy_segment, name),
					offsetof(struct ztg_policy_segment, loc), &ld->segment_name_count);
	sort_names(ld, ld->segment_names, ld->segment_name_count, "segments", "segment");
}

/* ------------------------------------------------------------- identity */

/* A boolean group.key; false when absent or not a boolean (reported). */
static bool bool_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			bool *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128];

	if (s == NULL)
		return false;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), "true or false");
		return false;
	}
	*out = config_setting_get_bool(s) != 0;
	return true;
}

/*
 * Setting s (at path) as an integer in [min, max] into *out; false when of
 * another type or out of range (reported). max LLONG_MAX: bounded only below.
 */
static bool int_value(struct loader *ld, const config_setting_t *s, const char *path, long long min, long long max,
		      long long *out)
{
	char expect[96];
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
		if (max == LLONG_MAX)
			snprintf(expect, sizeof(expect), "an integer >= %lld", min);
		else
			snprintf(expect, sizeof(expect), "an integer %lld..%lld", min, max);
		wrong_type(ld, s, path, expect);
		return false;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		if (max == LLONG_MAX)
			error_at(ld, s, "%s: %lld is out of range (expected at least %lld)", path, v, min);
		else
			error_at(ld, s, "%s: %lld is out of range %lld..%lld", path, v, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* An integer group.key in [min, max], else *out keeps its default; false when bad (reported). */
static bool uint_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			uint32_t min, uint32_t max, uint32_t *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128];
	long long v;

	if (s == NULL)
		return true;
	if (!int_value(ld, s, ztg_config_key_path(path, sizeof(path), where, key), min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/*
 * libconfig 1.5 keeps an integer written without the L suffix in 32 bits,
 * silently: "bytes = 10000000000;" reads as 1410065408. Where such values
 * are plausible (a byte count per window), the setting's line is read again.
 * True, with the number as written in text, when the file says another
 * number than libconfig read; false when they agree or the text cannot be
 * found (libconfig's value stands).
 */
static bool int_truncated(struct loader *ld, const config_setting_t *s, char *text, size_t text_len)
{
	struct ztg_policy_loc loc = loc_of(ld, s);
	const char *name = config_setting_name(s);
	char line[1024];
	bool cut;

	if (name == NULL || !read_line(loc.file, loc.line, line, sizeof(line), &cut))
		return false;
	for (const char *p = strstr(line, name); p != NULL; p = strstr(p + 1, name)) {
		const char *v = p + strlen(name), *digits, *end;
		bool hex, fits;
		long long written;

		if (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;        /* the end of a longer name */
		v += strspn(v, " \t");
		if (*v != '=' && *v != ':')
			continue;
		v++;
		v += strspn(v, " \t");
		/* libconfig's integers: [-+]?[0-9]+ or 0[xX][0-9A-Fa-f]+, then L for 64 bits. */
		hex = v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
		digits = v + (hex ? 2 : (v[0] == '-' || v[0] == '+'));
		end = digits + strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789");
		if (end == digits || *end == 'L' || *end == '.' || *end == 'e' || *end == 'E' || (cut && *end == '\0'))
			return false;    /* read whole by libconfig, not an integer at all, or its end not seen */
		errno = 0;
		if (hex) {
			unsigned long long u = strtoull(v, NULL, 16);

			fits = errno != ERANGE && u <= INT64_MAX;
			written = (long long)u;
		} else {
			written = strtoll(v, NULL, 10);
			fits = errno != ERANGE;
		}
		if (fits && written == config_setting_get_int64(s))
			return false;
		snprintf(text, text_len, "%.*s", (int)(end - v), v);
		return true;
	}
	return false;
}

/* A count group.key >= 0, else *out keeps its default; false when bad (reported). */
static bool count_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			 uint64_t *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128], written[64];
	long long v;

	if (s == NULL)
		return true;
	ztg_config_key_path(path, sizeof(path), where, key);
	if (config_setting_type(s) == CONFIG_TYPE_INT && int_truncated(ld, s, written, sizeof(written))) {
		error_at(ld, s, "%s: %s does not fit a plain integer (libconfig reads it as %lld): write %sL", path,
			 written, (long long)config_setting_get_int64(s), written);
		return false;
	}
	if (!int_value(ld, s, path, 0, LLONG_MAX, &v))
		return false;
	*out = (uint64_t)v;
	return true;
}

/*
 * A number group.key, integer or floating-point, above min (or at least min
 * when !above), else *out keeps its default; false when bad (reported).
 */
static bool number_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			  double min, bool above, double *out)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128], expect[96];
	double v;

	if (s == NULL)
		return true;
	ztg_config_key_path(path, sizeof(path), where, key);
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		snprintf(expect, sizeof(expect), "a number %s %g", above ? ">" : ">=", min);
		wrong_type(ld, s, path, expect);
		return false;
	}
	/* 1e999 reads as infinity: no threshold or weight means anything there. */
	if (!isfinite(v) || (above ? v <= min : v < min)) {
		error_at(ld, s, "%s: %g is out of range (expected %s %g)", path, v, above ? "more than" : "at least", min);
		return false;
	}
	*out = v + 0.0;   /* -0.0 becomes 0: shown and compared as written intent */
	return true;
}

/* group.key as a group; NULL when absent or of another type (reported). */
static const config_setting_t *group_member(struct loader *ld, const config_setting_t *group, const char *where,
					    const char *key, const char *expect)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	char path[128];

	if (s == NULL)
		return NULL;
	if (!config_setting_is_group(s)) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), expect);
		return NULL;
	}
	return s;
}

/* A printable-ASCII string without spaces, 1..max bytes: claim names, scopes, values. */
static bool plain_text(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

/*
 * group.key as a list of plain strings (1..max_len bytes each, printable
 * ASCII, no spaces), copied into the policy; duplicates are errors. Returns
 * the count; 0 when absent or bad (reported).
 */
static uint32_t string_list_member(struct loader *ld, const config_setting_t *group, const char *where,
				   const char *key, uint32_t max, size_t max_len, const char *what, const char ***out)
{
	const config_setting_t *list = list_member(ld, group, where, key, "a list of strings");
	char path[128], epath[160];
	uint32_t n, count = 0;
	const char **v;

	*out = NULL;
	if (list == NULL)
		return 0;
	ztg_config_key_path(path, sizeof(path), where, key);
	n = capped_length(ld, list, path, max, what);
	if (n == 0) {
		error_at(ld, list, "%s: empty list (leave the key out instead)", path);
		return 0;
	}
	v = arena_alloc(ld, n, sizeof(*v));
	if (v == NULL)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const char *s;
		bool dup = false;
		struct ztg_quoted sn;

		snprintf(epath, sizeof(epath), "%s[%u]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			wrong_type(ld, e, epath, what);
			continue;
		}
		s = config_setting_get_string(e);
		if (!plain_text(s, max_len)) {
			error_at(ld, e, "%s: %s is not a valid %s (1 to %zu printable characters, no spaces)", epath,
				 ztg_error_quote(&sn, s), what, max_len);
			continue;
		}
		for (uint32_t j = 0; j < count && !dup; j++)
			dup = strcmp(v[j], s) == 0;
		if (dup) {
			error_at(ld, e, "%s: %s is listed twice", epath, ztg_error_quote(&sn, s));
			continue;
		}
		v[count++] = arena_strdup(ld, s);
	}
	*out = v;
	return count;
}

/*
 * A file name as a bundle stores it: relative to the policy's directory,
 * '/'-separated components that are never empty, "." or "..". Keeps a
 * bundle self-contained: what the policy reads is what the bundle carries.
 */
static bool valid_file_name(const char *name, char *why, size_t why_len)
{
	const char *c = name;
	size_t len = strlen(name);

	if (len == 0 || len > 255) {
		snprintf(why, why_len, "must be 1 to 255 bytes");
		return false;
	}
	if (name[0] == '/') {
		snprintf(why, why_len, "must be relative to the policy file's directory, not absolute");
		return false;
	}
	while (*c != '\0') {
		const char *end = strchr(c, '/');
		size_t clen = end != NULL ? (size_t)(end - c) : strlen(c);

		if (clen == 0 || (clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.')) {
			snprintf(why, why_len, "must not hold empty, \".\" or \"..\" components");
			return false;
		}
		for (size_t i = 0; i < clen; i++) {
			unsigned char b = (unsigned char)c[i];

			if (b < 0x20 || b == 0x7f || b == '"' || b == '\\') {
				snprintf(why, why_len, "holds a control character, '\"' or '\\'");
				return false;
			}
		}
		c += clen;
		if (*c == '/')
			c++;
	}
	return true;
}

/*
 * The file the string setting s names (path: how messages call s), next to
 * the policy: read into the policy, its full path in full. false when bad
 * (reported).
 */
static bool file_at(struct loader *ld, const config_setting_t *s, const char *path, size_t max_bytes,
		    struct ztg_policy_file *out, char full[PATH_MAX])
{
	const char *name = config_setting_get_string(s);
	char why[128];
	struct stat st;
	uint8_t *data;
	struct ztg_quoted sn;
	FILE *f;
	size_t got;

	out->loc = loc_of(ld, s);
	if (!valid_file_name(name, why, sizeof(why))) {
		error_at(ld, s, "%s: file name %s %s", path, ztg_error_quote(&sn, name), why);
		return false;
	}
	if ((size_t)snprintf(full, PATH_MAX, "%s/%s", ld->dir, name) >= PATH_MAX) {
		error_at(ld, s, "%s: file name %s is too long", path, ztg_error_quote(&sn, name));
		return false;
	}
	if (stat(full, &st) != 0) {
		error_at(ld, s, "%s: cannot read %s: %s", path, full, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		error_at(ld, s, "%s: %s is %s, not a regular file", path, full, ztg_config_file_kind(st.st_mode));
		return false;
	}
	if ((uint64_t)st.st_size > max_bytes) {
		error_at(ld, s, "%s: %s is %lld bytes, at most %zu are allowed", path, full, (long long)st.st_size,
			 max_bytes);
		return false;
	}
	data = arena_alloc(ld, (size_t)st.st_size + 1, 1);
	f = data != NULL ? fopen(full, "rb") : NULL;
	if (f == NULL) {
		if (data != NULL)
			error_at(ld, s, "%s: cannot read %s: %s", path, full, strerror(errno));
		return false;
	}
	got = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	if (got != (size_t)st.st_size) {
		error_at(ld, s, "%s: %s changed while it was read", path, full);
		return false;
	}
	data[got] = '\0';
	out->name = arena_strdup(ld, name);
	out->data = data;
	out->len = got;
	return true;
}

/* group.key names a file next to the policy; read it into the policy. false when absent or bad (reported). */
static bool file_member(struct loader *ld, const config_setting_t *group, const char *where, const char *key,
			size_t max_bytes, struct ztg_policy_file *out)
{
	const config_setting_t *s;
	const char *name = string_member(ld, group, where, key, "a file name relative to the policy file", &s);
	char path[128], full[PATH_MAX];

	if (name == NULL)
		return false;
	return file_at(ld, s, ztg_config_key_path(path, sizeof(path), where, key), max_bytes, out, full);
}

/* The scope or claim name's bit or slot in the policy-wide table, added when new; -1 when full (reported). */
static int intern_name(struct loader *ld, const config_setting_t *s, const char *name, bool scope)
{
	struct ztg_policy *p = ld->policy;
	const char ***table = scope ? &p->scope_names : &p->claim_names;
	uint32_t *count = scope ? &p->scope_name_count : &p->claim_name_count;
	uint32_t max = scope ? ZTG_POLICY_MAX_SCOPES : ZTG_POLICY_MAX_CLAIMS;

	for (uint32_t i = 0; i < *count; i++) {
		if (strcmp((*table)[i], name) == 0)
			return (int)i;
	}
	if (*table == NULL)
		*table = arena_alloc(ld, max, sizeof(**table));
	if (*table == NULL)
		return -1;
	if (*count == max) {
		error_at(ld, s, "routes require more than %u distinct %s names in one policy", max,
			 scope ? "scope" : "claim");
		return -1;
	}
	(*table)[*count] = name;
	return (int)(*count)++;
}

#define CLAIM_EXPECT "a claim name: 1 to 128 printable characters, no spaces"

/* A group { claim = "value"; ... } of exact claim values. */
static uint32_t parse_claim_values(struct loader *ld, const config_setting_t *group, const char *where,
				   const char *key, bool intern, struct ztg_policy_claim_value **out)
{
	const config_setting_t *g = config_setting_get_member(group, key);
	char path[128], epath[300];
	uint32_t n, count = 0;

	*out = NULL;
	if (g == NULL)
		return 0;
	ztg_config_key_path(path, sizeof(path), where, key);
	if (!config_setting_is_group(g)) {
		wrong_type(ld, g, path, "a group { claim = \"value\"; ... }");
		return 0;
	}
	n = capped_length(ld, g, path, ZTG_POLICY_MAX_REQUIRE_ITEMS, "claims");
	*out = arena_alloc(ld, n, sizeof(**out));
	if (*out == NULL)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(g, i);
		const char *name = config_setting_name(e), *value;
		struct ztg_quoted sn;

		snprintf(epath, sizeof(epath), "%s.%s", path, name);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			wrong_type(ld, e, epath, "a string: the claim's exact value");
			continue;
		}
		value = config_setting_get_string(e);
		if (strlen(value) == 0 || strlen(value) > 128) {
			error_at(ld, e, "%s: value %s must be 1 to 128 bytes", epath, ztg_error_quote(&sn, value));
			continue;
		}
		(*out)[count].claim = arena_strdup(ld, name);
		(*out)[count].value = arena_strdup(ld, value);
		(*out)[count].loc = loc_of(ld, e);
		if (intern && strcmp(name, "sub") != 0)
			intern_name(ld, e, (*out)[count].claim, false);
		count++;
	}
	return count;
}

static const struct ztg_config_key pem_key_keys[] = {
	{"kid", false, "the key id tokens name in their kid header"},
	{"file", true, "a PEM file (public key or certificate) relative to the policy file"},
};

static const struct ztg_config_key issuer_keys[] = {
	{"name", true, NAME_EXPECT},
	{"issuer", true, "the exact iss claim value of its tokens"},
	{"jwks_file", false, "a JWKS file relative to the policy file"},
	{"pem_keys", false, "a list of { kid = ...; file = ...; }"},
	{"jwks_url", false, "an https URL serving the issuer's JWKS"},
	{"jwks_ca_file", false, "a PEM CA bundle for jwks_url, relative to the policy file"},
	{"jwks_refresh", false, "seconds between JWKS fetches, 10..86400"},
	{"jwks_refetch_min", false, "least seconds between early JWKS fetches for an unknown kid, 1..3600"},
	{"algorithms", true, "a list of JWS algorithms, e.g. [ \"RS256\", \"ES256\" ]"},
	{"audiences", false, "a list of accepted aud values"},
	{"leeway", false, "seconds of clock skew allowed for exp, nbf, iat: 0..600"},
	{"max_token_bytes", false, "the longest token accepted, 256..16384"},
	{"typ", false, "the typ header its tokens carry, e.g. \"at+jwt\""},
	{"required_claims", false, "a list of claim names every token must carry"},
	{"identity_claim", false, "the claim naming the caller (default \"sub\")"},
	{"scope_claim", false, "the claim holding scopes (default: scope, scp, roles)"},
};

/* The key set must parse and hold a key for at least one allowed algorithm: a typo would deny everyone. */
static void check_issuer_keys(struct loader *ld, const config_setting_t *e, const char *where,
			      struct ztg_policy_issuer *is)
{
	struct ztg_keyset *set = NULL;
	char err[256];
	uint32_t usable = 0;

	if (is->has_jwks_file) {
		if (ztg_keyset_from_jwks((const char *)is->jwks_file.data, is->jwks_file.len, &set, err,
					 sizeof(err)) != 0) {
			error_loc(ld, &is->jwks_file.loc, "%s.jwks_file: %s: %s", where, is->jwks_file.name, err);
			return;
		}
	}
	for (uint32_t k = 0; k < is->pem_key_count; k++) {
		const struct ztg_policy_pem_key *pk = &is->pem_keys[k];

		if (pk->file.data == NULL)
			continue;
		if (ztg_keyset_add_pem(&set, (const char *)pk->file.data, pk->file.len, pk->kid, err, sizeof(err)) != 0)
			error_loc(ld, &pk->file.loc, "%s.pem_keys[%u]: %s: %s", where, k, pk->file.name, err);
	}
	if (set == NULL)
		return;
	for (uint32_t k = 0; k < set->count; k++)
		usable |= set->keys[k].algs;
	if (is->algorithms != 0 && (usable & is->algorithms) == 0)
		error_at(ld, e, "%s: none of its keys can verify the algorithms it allows", where);
	ztg_keyset_free(set);
}

static void parse_pem_keys(struct loader *ld, const config_setting_t *list, const char *where,
			   struct ztg_policy_issuer *is)
{
	char path[128], kwhere[160];
	uint32_t n;

	ztg_config_key_path(path, sizeof(path), where, "pem_keys");
	n = capped_length(ld, list, path, ZTG_POLICY_MAX_PEM_KEYS, "PEM keys");
	if (n == 0) {
		error_at(ld, list, "%s: empty list", path);
		return;
	}
	is->pem_keys = arena_alloc(ld, n, sizeof(*is->pem_keys));
	if (is->pem_keys == NULL)
		return;
	is->pem_key_count = n;
	for (uint32_t k = 0; k < n; k++) {
		const config_setting_t *e = config_setting_get_elem(list, k);
		struct ztg_policy_pem_key *pk = &is->pem_keys[k];
		const config_setting_t *ks;
		const char *kid;
		struct ztg_quoted sn;

		snprintf(kwhere, sizeof(kwhere), "%s[%u]", path, k);
		pk->kid = "";
		if (!config_setting_is_group(e)) {
			wrong_type(ld, e, kwhere, "a group { kid = \"...\"; file = \"...\"; }");
			continue;
		}
		check_keys(ld, e, kwhere, ZTG_CONFIG_KEYS(pem_key_keys));
		kid = string_member(ld, e, kwhere, "kid", "a string", &ks);
		if (kid != NULL && !plain_text(kid, 64))
			error_at(ld, ks, "%s.kid: %s is not a valid key id (1 to 64 printable characters, no spaces)",
				 kwhere, ztg_error_quote(&sn, kid));
		else if (kid != NULL)
			pk->kid = arena_strdup(ld, kid);
		if (kid == NULL && n > 1)
			error_at(ld, e, "%s: several PEM keys need a kid each, so tokens can name theirs", kwhere);
		file_member(ld, e, kwhere, "file", 1u << 20, &pk->file);
	}
}

static void parse_issuer(struct loader *ld, const config_setting_t *e, uint32_t index)
{
	struct ztg_policy_issuer *is = &ld->policy->issuers[index];
	const config_setting_t *s, *algs;
	char where[64], path[128];
	const char *v;
	unsigned sources = 0;
	struct ztg_quoted sn;

	snprintf(where, sizeof(where), "issuers[%u]", index);
	is->loc = loc_of(ld, e);
	is->leeway = 30;
	is->max_token_bytes = 8192;
	is->jwks_refresh = 300;
	is->jwks_refetch_min = 10;
	is->identity_claim = "sub";
	if (!config_setting_is_group(e)) {
		wrong_type(ld, e, where, "a group { name = ...; issuer = ...; jwks_file = ...; algorithms = [ ... ]; }");
		return;
	}
	check_keys(ld, e, where, ZTG_CONFIG_KEYS(issuer_keys));
	is->name = name_member(ld, e, where, "name");
	v = string_member(ld, e, where, "issuer", "a string: the iss claim value", &s);
	if (v != NULL && (strlen(v) == 0 || strlen(v) > 512))
		error_at(ld, s, "%s.issuer: must be 1 to 512 bytes", where);
	else if (v != NULL)
		is->iss = arena_strdup(ld, v);
	if (config_setting_get_member(e, "jwks_file") != NULL) {
		sources++;
		is->has_jwks_file = file_member(ld, e, where, "jwks_file", 1u << 20, &is->jwks_file);
	}
	s = list_member(ld, e, where, "pem_keys", "a list of { kid = ...; file = ...; }");
	if (s != NULL) {
		sources++;
		parse_pem_keys(ld, s, where, is);
	}
	v = string_member(ld, e, where, "jwks_url", "an https URL", &s);
	if (v != NULL) {
		sources++;
		if (strncmp(v, "https://", 8) != 0 || strlen(v) <= 8 || strlen(v) > 2048 || !plain_text(v, 2048))
			error_at(ld, s, "%s.jwks_url: %s is not an https URL (keys are only fetched over TLS)", where,
				 ztg_error_quote(&sn, v));
		else
			is->jwks_url = arena_strdup(ld, v);
	}
	if (config_setting_get_member(e, "jwks_ca_file") != NULL) {
		if (config_setting_get_member(e, "jwks_url") == NULL)
			error_at(ld, config_setting_get_member(e, "jwks_ca_file"), "%s.jwks_ca_file: only applies "
				 "with jwks_url", where);
		is->has_jwks_ca = file_member(ld, e, where, "jwks_ca_file", 1u << 20, &is->jwks_ca);
	}
	if ((config_setting_get_member(e, "jwks_refresh") != NULL ||
	     config_setting_get_member(e, "jwks_refetch_min") != NULL) && config_setting_get_member(e, "jwks_url") == NULL)
		error_at(ld, e, "%s: jwks_refresh and jwks_refetch_min only apply with jwks_url", where);
	uint_member(ld, e, where, "jwks_refresh", 10, 86400, &is->jwks_refresh);
	uint_member(ld, e, where, "jwks_refetch_min", 1, 3600, &is->jwks_refetch_min);
	if (sources != 1)
		error_at(ld, e, "%s: give exactly one key source: jwks_file, pem_keys or jwks_url (%u given)", where,
			 sources);
	algs = list_member(ld, e, where, "algorithms", "a list of JWS algorithms");
	if (algs != NULL) {
		uint32_t n = (uint32_t)config_setting_length(algs);

		ztg_config_key_path(path, sizeof(path), where, "algorithms");
		if (n == 0)
			error_at(ld, algs, "%s: empty list (expected at least one of HS256 ... EdDSA)", path);
		for (uint32_t i = 0; i < n; i++) {
			const config_setting_t *a = config_setting_get_elem(algs, i);
			enum ztg_jwt_alg alg;
			const char *name;

			if (config_setting_type(a) != CONFIG_TYPE_STRING) {
				wrong_type(ld, a, path, "an algorithm name such as \"RS256\"");
				continue;
			}
			name = config_setting_get_string(a);
			if (ztg_jwt_alg_from_name(name, strlen(name), &alg) != 0) {
				error_at(ld, a, "%s[%u]: unknown algorithm %s (expected HS256, HS384, HS512, RS256, "
					 "RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)", path, i,
					 ztg_error_quote(&sn, name));
				continue;
			}
			if (is->algorithms & ZTG_JWT_ALG_BIT(alg))
				error_at(ld, a, "%s[%u]: %s is listed twice", path, i, name);
			is->algorithms |= ZTG_JWT_ALG_BIT(alg);
		}
	}
	is->audience_count = string_list_member(ld, e, where, "audiences", 32, 512, "audience", &is->audiences);
	if (config_setting_get_member(e, "audiences") == NULL && is->name != NULL)
		warning_loc(ld, &is->loc, "%s: issuer %s lists no audiences: its tokens are accepted whatever their "
			    "aud says", where, ztg_error_quote(&sn, is->name));
	uint_member(ld, e, where, "leeway", 0, 600, &is->leeway);
	uint_member(ld, e, where, "max_token_bytes", 256, 16384, &is->max_token_bytes);
	v = string_member(ld, e, where, "typ", "a string such as \"at+jwt\"", &s);
	if (v != NULL && !plain_text(v, 64))
		error_at(ld, s, "%s.typ: %s is not a valid typ", where, ztg_error_quote(&sn, v));
	else if (v != NULL)
		is->typ = arena_strdup(ld, v);
	is->required_claim_count = string_list_member(ld, e, where, "required_claims", 16, 128, "claim name",
						      &is->required_claims);
	v = string_member(ld, e, where, "identity_claim", CLAIM_EXPECT, &s);
	if (v != NULL && !plain_text(v, 128))
		error_at(ld, s, "%s.identity_claim: %s is not a valid claim name", where, ztg_error_quote(&sn, v));
	else if (v != NULL)
		is->identity_claim = arena_strdup(ld, v);
	v = string_member(ld, e, where, "scope_claim", CLAIM_EXPECT, &s);
	if (v != NULL && !plain_text(v, 128))
		error_at(ld, s, "%s.scope_claim: %s is not a valid claim name", where, ztg_error_quote(&sn, v));
	else if (v != NULL)
		is->scope_claim = arena_strdup(ld, v);
	if (sources == 1 && is->jwks_url == NULL)
		check_issuer_keys(ld, e, where, is);
}

static void parse_issuers(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = list_member(ld, root, "", "issuers", "a list of issuers ( { ... }, ... )");
	struct ztg_policy *p = ld->policy;
	struct name_ref *names;
	uint32_t n, name_count;

	if (list == NULL)
		return;
	n = capped_length(ld, list, "issuers", ZTG_POLICY_MAX_ISSUERS, "issuers");
	p->issuers = arena_alloc(ld, n, sizeof(*p->issuers));
	if (p->issuers == NULL)
		return;
	p->issuer_count = n;
	for (uint32_t i = 0; i < n && !ld->nomem; i++)
		parse_issuer(ld, config_setting_get_elem(list, i), i);
	ld->issuer_names = index_names(ld, p->issuers, n, sizeof(*p->issuers), offsetof(struct ztg_policy_issuer, name),
				       offsetof(struct ztg_policy_issuer, loc), &ld->issuer_name_count);
	sort_names(ld, ld->issuer_names, ld->issuer_name_count, "issuers", "issuer");
	/* Tokens find their issuer by iss: two issuers with one iss would make that ambiguous. */
	names = index_names(ld, p->issuers, n, sizeof(*p->issuers), offsetof(struct ztg_policy_issuer, iss),
			    offsetof(struct ztg_policy_issuer, loc), &name_count);
	sort_names(ld, names, name_count, "issuers", "iss");
	free(names);
}

static const struct ztg_config_key api_key_keys[] = {
	{"id", true, NAME_EXPECT " (how events and revocation name the key)"},
	{"sha256", true, "the SHA-256 of the key as 64 hex digits (never the key itself)"},
	{"subject", true, "the identity the key stands for"},
	{"scopes", false, "a list of scopes the key grants"},
	{"claims", false, "a group { claim = \"value\"; ... } for claim and object checks"},
};

struct digest_ref {
	uint32_t index;
	const struct ztg_policy_api_key *key;
};

static int cmp_digest_ref(const void *a, const void *b)
{
	const struct digest_ref *x = a, *y = b;
	int c = memcmp(x->key->sha256, y->key->sha256, 32);

	return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

static void parse_api_keys(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = list_member(ld, root, "", "api_keys", "a list of API keys ( { ... }, ... )");
	struct ztg_policy *p = ld->policy;
	struct digest_ref *digests;
	struct name_ref *names;
	uint32_t n, name_count, digest_count = 0;

	if (list == NULL)
		return;
	n = capped_length(ld, list, "api_keys", ZTG_POLICY_MAX_API_KEYS, "API keys");
	p->api_keys = arena_alloc(ld, n, sizeof(*p->api_keys));
	digests = calloc(n + 1, sizeof(*digests));
	if (p->api_keys == NULL || digests == NULL) {
		free(digests);
		if (digests == NULL)
			out_of_memory(ld);
		return;
	}
	p->api_key_count = n;
	for (uint32_t i = 0; i < n && !ld->nomem; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i), *s;
		struct ztg_policy_api_key *k = &p->api_keys[i];
		char where[64];
		const char *v;
		struct ztg_quoted sn;

		snprintf(where, sizeof(where), "api_keys[%u]", i);
		k->loc = loc_of(ld, e);
		if (!config_setting_is_group(e)) {
			wrong_type(ld, e, where, "a group { id = ...; sha256 = ...; subject = ...; scopes = [ ... ]; }");
			continue;
		}
		check_keys(ld, e, where, ZTG_CONFIG_KEYS(api_key_keys));
		k->id = name_member(ld, e, where, "id");
		v = string_member(ld, e, where, "sha256", "64 hex digits", &s);
		if (v != NULL && ztg_api_key_digest_from_hex(v, strlen(v), k->sha256) != 0)
			error_at(ld, s, "%s.sha256: not 64 hex digits (store `printf %%s KEY | sha256sum`, never the "
				 "key)", where);
		else if (v != NULL && digests != NULL)
			digests[digest_count++] = (struct digest_ref){.index = i, .key = k};
		v = string_member(ld, e, where, "subject", "a string", &s);
		if (v != NULL && !plain_text(v, 128))
			error_at(ld, s, "%s.subject: %s is not a valid subject (1 to 128 printable characters, no "
				 "spaces)", where, ztg_error_quote(&sn, v));
		else if (v != NULL)
			k->subject = arena_strdup(ld, v);
		k->scope_count = string_list_member(ld, e, where, "scopes", 256, 128, "scope", &k->scopes);
		k->claim_count = parse_claim_values(ld, e, where, "claims", false, &k->claims);
	}
	names = index_names(ld, p->api_keys, n, sizeof(*p->api_keys), offsetof(struct ztg_policy_api_key, id),
			    offsetof(struct ztg_policy_api_key, loc), &name_count);
	sort_names(ld, names, name_count, "api_keys", "API key id");
	free(names);
	/* One key under two ids would make events and revocations name the wrong one. */
	qsort(digests, digest_count, sizeof(*digests), cmp_digest_ref);
	for (uint32_t i = 1; i < digest_count; i++) {
		if (memcmp(digests[i - 1].key->sha256, digests[i].key->sha256, 32) == 0)
			error_loc(ld, &digests[i].key->loc, "api_keys[%u].sha256: the same key as api_keys[%u]",
				  digests[i].index, digests[i - 1].index);
	}
	free(digests);
}

static const struct ztg_config_key key_fetch_keys[] = {
	{"blocked", false, "a list of ADDRESS/PREFIX ranges JWKS fetches never connect to"},
	{"timeout_ms", false, "milliseconds for one JWKS fetch, 100..60000"},
};

static void parse_key_fetch(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *g = config_setting_get_member(root, "key_fetch"), *list;
	struct ztg_policy_key_fetch *kf = &ld->policy->key_fetch;

	kf->timeout_ms = 5000;
	if (g == NULL)
		return;
	if (!config_setting_is_group(g)) {
		wrong_type(ld, g, "key_fetch", "a group { blocked = [ ... ]; timeout_ms = ...; }");
		return;
	}
	check_keys(ld, g, "key_fetch", ZTG_CONFIG_KEYS(key_fetch_keys));
	list = list_member(ld, g, "key_fetch", "blocked", "a list of ADDRESS/PREFIX strings");
	if (list != NULL)
		parse_addresses(ld, list, "key_fetch.blocked", ZTG_POLICY_MAX_BLOCKED, &kf->blocked, &kf->blocked_count);
	uint_member(ld, g, "key_fetch", "timeout_ms", 100, 60000, &kf->timeout_ms);
}

/* ------------------------------------------------------------- behaviour */

#define FLOORS_EXPECT "a group { requests = ...; errors = ...; objects = ...; bytes = ...; }"
#define SIGNALS_EXPECT "a group { auth_failures = ...; token_sources = ...; source_identities = ...; }"
#define RISK_EXPECT "a group { threshold = ...; half_life = ...; quarantine = ...; weights = { ... }; }"
#define WEIGHTS_EXPECT "a group { anomaly = ...; auth_failures = ...; token_sources = ...; source_identities = ...; }"

static const struct ztg_config_key behaviour_keys[] = {
	{"mode", false, "enforce or monitor (default enforce)"},
	{"window", false, "seconds per window, 1..3600 (default 10)"},
	{"history", false, "windows a baseline spans, 1..1000 (default 6)"},
	{"factor", false, "how many times its baseline makes a window an anomaly, > 1 (default 10)"},
	{"floors", false, FLOORS_EXPECT},
	{"signals", false, SIGNALS_EXPECT},
	{"risk", false, RISK_EXPECT},
};

static const struct ztg_config_key behaviour_floor_keys[] = {
	{"requests", false, "requests per window below which none is judged, >= 0 (default 100)"},
	{"errors", false, "error responses per window, >= 0 (default 20)"},
	{"objects", false, "distinct path parameter values per window, >= 0 (default 50)"},
	{"bytes", false, "response bytes per window, >= 0 (default 10485760)"},
};

/* ANOMALY is not among them: it has no count of its own. */
static const struct ztg_config_key behaviour_signal_keys[] = {
	{"auth_failures", false, "failed authentications per source and window, >= 0 (default 20; 0: off)"},
	{"token_sources", false, "source addresses per identity and window, >= 0 (default 5; 0: off)"},
	{"source_identities", false, "identities per source and window, >= 0 (default 10; 0: off)"},
};

static const struct ztg_config_key behaviour_risk_keys[] = {
	{"threshold", false, "the risk that quarantines, > 0 (default 100)"},
	{"half_life", false, "seconds for a risk to halve, 1 to 31536000 (default 60)"},
	{"quarantine", false, "seconds a quarantine lasts, up to 315360000; 0: until deleted (default 300)"},
	{"weights", false, WEIGHTS_EXPECT},
};

static const struct ztg_config_key behaviour_weight_keys[] = {
	{"anomaly", false, "risk an anomaly adds, >= 0 (default 100)"},
	{"auth_failures", false, "risk the signal adds, >= 0 (default 100)"},
	{"token_sources", false, "risk the signal adds, >= 0 (default 100)"},
	{"source_identities", false, "risk the signal adds, >= 0 (default 100)"},
};

_Static_assert(sizeof(behaviour_floor_keys) / sizeof(behaviour_floor_keys[0]) == ZTG_POLICY_FLOOR_COUNT &&
	       sizeof(behaviour_weight_keys) / sizeof(behaviour_weight_keys[0]) == ZTG_POLICY_SIGNAL_COUNT &&
	       sizeof(behaviour_signal_keys) / sizeof(behaviour_signal_keys[0]) ==
	       ZTG_POLICY_SIGNAL_COUNT - ZTG_POLICY_SIGNAL_AUTH_FAILURES,
	       "a key for each floor, signal and weight");

/* behaviour = { ... }: only at the top level (anywhere else it is an unknown key). */
static void parse_behaviour(struct loader *ld, const config_setting_t *root)
{
	static const uint64_t floor_defaults[ZTG_POLICY_FLOOR_COUNT] = {100, 20, 50, 10485760};
	static const uint32_t limit_defaults[ZTG_POLICY_SIGNAL_COUNT] = {0, 20, 5, 10};
	const config_setting_t *g = config_setting_get_member(root, "behaviour"), *floors, *signals, *risk, *weights;
	struct ztg_policy_behaviour *b = &ld->policy->behaviour;
	enum ztg_policy_mode mode = ZTG_POLICY_MODE_ENFORCE;

	if (g == NULL)
		return;
	b->loc = loc_of(ld, g);
	if (!config_setting_is_group(g)) {
		wrong_type(ld, g, "behaviour", "a group { mode = ...; window = ...; floors = { ... }; signals = { ... }; "
			   "risk = { ... }; }");
		return;
	}
	b->present = true;
	b->window = 10;
	b->history = 6;
	b->factor = 10;
	memcpy(b->floors, floor_defaults, sizeof(b->floors));
	memcpy(b->limits, limit_defaults, sizeof(b->limits));
	b->threshold = 100;
	b->half_life = 60;
	b->quarantine = 300;
	for (unsigned i = 0; i < ZTG_POLICY_SIGNAL_COUNT; i++)
		b->weights[i] = 100;

	check_keys(ld, g, "behaviour", ZTG_CONFIG_KEYS(behaviour_keys));
	/* A monitor policy refuses nothing, so it quarantines nobody unless the section says enforce. */
	b->monitor = ld->policy->mode == ZTG_POLICY_MODE_MONITOR;
	if (mode_member(ld, g, "behaviour", &mode))
		b->monitor = mode == ZTG_POLICY_MODE_MONITOR;
	uint_member(ld, g, "behaviour", "window", 1, 3600, &b->window);
	uint_member(ld, g, "behaviour", "history", 1, 1000, &b->history);
	number_member(ld, g, "behaviour", "factor", 1, true, &b->factor);

	floors = group_member(ld, g, "behaviour", "floors", FLOORS_EXPECT);
	if (floors != NULL) {
		check_keys(ld, floors, "behaviour.floors", ZTG_CONFIG_KEYS(behaviour_floor_keys));
		for (unsigned f = 0; f < ZTG_POLICY_FLOOR_COUNT; f++)
			count_member(ld, floors, "behaviour.floors", behaviour_floor_names[f], &b->floors[f]);
	}
	signals = group_member(ld, g, "behaviour", "signals", SIGNALS_EXPECT);
	if (signals != NULL) {
		check_keys(ld, signals, "behaviour.signals", ZTG_CONFIG_KEYS(behaviour_signal_keys));
		for (unsigned i = ZTG_POLICY_SIGNAL_AUTH_FAILURES; i < ZTG_POLICY_SIGNAL_COUNT; i++)
			uint_member(ld, signals, "behaviour.signals", behaviour_signal_names[i], 0, UINT32_MAX,
				    &b->limits[i]);
	}
	risk = group_member(ld, g, "behaviour", "risk", RISK_EXPECT);
	if (risk == NULL)
		return;
	check_keys(ld, risk, "behaviour.risk", ZTG_CONFIG_KEYS(behaviour_risk_keys));
	number_member(ld, risk, "behaviour.risk", "threshold", 0, true, &b->threshold);
	/* A year at most: in TSC cycles at any clock rate it stays far from 64 bits. */
	uint_member(ld, risk, "behaviour.risk", "half_life", 1, 31536000, &b->half_life);
	uint_member(ld, risk, "behaviour.risk", "quarantine", 0, 315360000, &b->quarantine);
	weights = group_member(ld, risk, "behaviour.risk", "weights", WEIGHTS_EXPECT);
	if (weights == NULL)
		return;
	check_keys(ld, weights, "behaviour.risk.weights", ZTG_CONFIG_KEYS(behaviour_weight_keys));
	for (unsigned i = 0; i < ZTG_POLICY_SIGNAL_COUNT; i++)
		number_member(ld, weights, "behaviour.risk.weights", behaviour_signal_names[i], 0, false, &b->weights[i]);
}

static const struct ztg_config_key authentication_keys[] = {
	{"issuers", false, "a list of issuer names whose tokens the service accepts"},
	{"header", false, "the header carrying the token (default \"Authorization\")"},
	{"scheme", false, "the token's scheme in that header (default \"Bearer\"; \"\" for none)"},
	{"query", false, "a query parameter that may carry the token instead"},
	{"api_key_header", false, "a header carrying an API key"},
	{"api_key_query", false, "a query parameter carrying an API key"},
};

/* An HTTP field name (RFC 9110 token) or query parameter name, kept lowercase for headers. */
static const char *field_member(struct loader *ld, const config_setting_t *g, const char *where, const char *key,
				bool lower)
{
	const config_setting_t *s;
	const char *v = string_member(ld, g, where, key, "a header or parameter name", &s);
	char buf[ZTG_POLICY_HEADER_NAME_MAX + 1];
	size_t len;
	struct ztg_quoted sn;

	if (v == NULL)
		return NULL;
	len = strlen(v);
	if (len == 0 || len > ZTG_POLICY_HEADER_NAME_MAX || strspn(v, "!#$%&'*+-.^_`|~0123456789"
								      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != len) {
		error_at(ld, s, "%s.%s: %s is not a valid name (1 to %d token characters)", where, key, ztg_error_quote(&sn, v),
			 ZTG_POLICY_HEADER_NAME_MAX);
		return NULL;
	}
	for (size_t i = 0; i <= len; i++)
		buf[i] = lower ? (char)tolower((unsigned char)v[i]) : v[i];
	return arena_strdup(ld, buf);
}

static void parse_authentication(struct loader *ld, const config_setting_t *e, const char *where,
				 struct ztg_policy_service *svc)
{
	const config_setting_t *g = config_setting_get_member(e, "authentication"), *list, *s;
	struct ztg_policy_authentication *a = &svc->authentication;
	char awhere[96], path[128];
	const char *v;

	a->header = "authorization";
	a->scheme = "Bearer";
	if (g == NULL)
		return;
	snprintf(awhere, sizeof(awhere), "%s.authentication", where);
	a->loc = loc_of(ld, g);
	if (!config_setting_is_group(g)) {
		wrong_type(ld, g, awhere, "a group { issuers = [ ... ]; api_key_header = ...; }");
		return;
	}
	a->present = true;
	check_keys(ld, g, awhere, ZTG_CONFIG_KEYS(authentication_keys));
	list = list_member(ld, g, awhere, "issuers", "a list of issuer names");
	if (list != NULL) {
		uint32_t n = capped_length(ld, list, ztg_config_key_path(path, sizeof(path), awhere, "issuers"),
					   ZTG_POLICY_MAX_ISSUERS, "issuers");

		a->issuers = arena_alloc(ld, n, sizeof(*a->issuers));
		for (uint32_t i = 0; a->issuers != NULL && i < n; i++) {
			const config_setting_t *it = config_setting_get_elem(list, i);
			char ipath[160];
			uint32_t idx;

			snprintf(ipath, sizeof(ipath), "%s[%u]", path, i);
			if (config_setting_type(it) != CONFIG_TYPE_STRING) {
				wrong_type(ld, it, ipath, "an issuer name");
				continue;
			}
			idx = resolve(ld, it, ipath, config_setting_get_string(it), ld->issuer_names,
				      ld->issuer_name_count, "issuer");
			if (idx != ZTG_POLICY_NONE)
				a->issuers[a->issuer_count++] = idx;
		}
	}
	if ((v = field_member(ld, g, awhere, "header", true)) != NULL)
		a->header = v;
	v = string_member(ld, g, awhere, "scheme", "a scheme such as \"Bearer\", or \"\"", &s);
	if (v != NULL && strlen(v) > 0 && field_member(ld, g, awhere, "scheme", false) == NULL)
		v = NULL;
	if (v != NULL)
		a->scheme = arena_strdup(ld, v);
	a->query = field_member(ld, g, awhere, "query", false);
	a->api_key_header = field_member(ld, g, awhere, "api_key_header", true);
	a->api_key_query = field_member(ld, g, awhere, "api_key_query", false);
	if (a->issuer_count == 0 && a->api_key_header == NULL && a->api_key_query == NULL)
		error_at(ld, g, "%s: accepts no credential: list issuers, or set api_key_header or api_key_query",
			 awhere);
	if ((a->api_key_header != NULL || a->api_key_query != NULL) && ld->policy->api_key_count == 0)
		warning_loc(ld, &a->loc, "%s: accepts API keys but the policy defines none", awhere);
	if (a->api_key_header != NULL && strcmp(a->api_key_header, a->header) == 0)
		error_at(ld, g, "%s: api_key_header and header are both %s", awhere, a->header);
}

static const struct ztg_config_key require_keys[] = {
	{"scopes", false, "a list of scopes the credential must grant"},
	{"scopes_match", false, "all (default) or any"},
	{"claims", false, "a group { claim = \"value\"; ... }"},
	{"bind", false, "a group { path_param = \"claim\"; ... }: object-level authorization"},
};

/* Whether the template names {param}. */
static bool template_has_param(const char *path, const char *param)
{
	size_t plen = strlen(param);

	for (const char *c = strchr(path, '{'); c != NULL; c = strchr(c + 1, '{')) {
		if (strncmp(c + 1, param, plen) == 0 && c[1 + plen] == '}')
			return true;
	}
	return false;
}

static void parse_requirement(struct loader *ld, const config_setting_t *e, const char *where,
			      const struct ztg_policy_service *svc, struct ztg_policy_route *r)
{
	const config_setting_t *g = config_setting_get_member(e, "require"), *s;
	struct ztg_policy_requirement *q = &r->require;
	bool anonymous = false, has_anonymous;
	char rwhere[160], path[200];

	q->loc = r->loc;
	has_anonymous = bool_member(ld, e, where, "anonymous", &anonymous);
	q->anonymous = has_anonymous && anonymous;
	if (r->action != ZTG_POLICY_ACTION_ALLOW) {
		if (g != NULL || has_anonymous)
			error_at(ld, g != NULL ? g : e, "%s: require and anonymous only apply to allow routes", where);
		return;
	}
	if (q->anonymous && g != NULL) {
		error_at(ld, g, "%s: anonymous = true and require contradict each other", where);
		return;
	}
	if (has_anonymous && !anonymous)
		error_at(ld, config_setting_get_member(e, "anonymous"), "%s.anonymous: false is the default when the "
			 "service has authentication; leave it out", where);
	if (!q->anonymous && !svc->authentication.present) {
		/* Zero trust: nothing reaches a server anonymously unless the policy says so. */
		error_at(ld, e, "%s: allows without saying who: add `anonymous = true;`, or give the service an "
			 "authentication block and the route a require block", where);
		return;
	}
	if (g == NULL)
		return;
	snprintf(rwhere, sizeof(rwhere), "%s.require", where);
	q->loc = loc_of(ld, g);
	if (!config_setting_is_group(g)) {
		wrong_type(ld, g, rwhere, "a group { scopes = [ ... ]; claims = { ... }; bind = { ... }; }");
		return;
	}
	check_keys(ld, g, rwhere, ZTG_CONFIG_KEYS(require_keys));
	q->scope_count = string_list_member(ld, g, rwhere, "scopes", ZTG_POLICY_MAX_REQUIRE_ITEMS, 128, "scope",
					    &q->scopes);
	for (uint32_t i = 0; i < q->scope_count; i++)
		intern_name(ld, g, q->scopes[i], true);
	if (config_setting_get_member(g, "scopes_match") != NULL) {
		static const char *const matches[] = {"all", "any"};
		unsigned m;

		if (choice_member(ld, g, rwhere, "scopes_match", matches, 2, 3, "scope match", &m))
			q->scopes_any = m == 1;
		if (q->scope_count == 0)
			error_at(ld, g, "%s.scopes_match: no scopes to match", rwhere);
	}
	q->claim_count = parse_claim_values(ld, g, rwhere, "claims", true, &q->claims);
	s = config_setting_get_member(g, "bind");
	if (s != NULL && !config_setting_is_group(s)) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), rwhere, "bind"), "a group { path_param = \"claim\"; }");
	} else if (s != NULL) {
		uint32_t n = capped_length(ld, s, ztg_config_key_path(path, sizeof(path), rwhere, "bind"),
					   ZTG_POLICY_MAX_REQUIRE_ITEMS, "bindings");

		q->bindings = arena_alloc(ld, n, sizeof(*q->bindings));
		for (uint32_t i = 0; q->bindings != NULL && i < n; i++) {
			const config_setting_t *b = config_setting_get_elem(s, i);
			const char *param = config_setting_name(b), *claim;
			char bpath[300];
			struct ztg_quoted sn;

			snprintf(bpath, sizeof(bpath), "%s.%s", path, param);
			if (config_setting_type(b) != CONFIG_TYPE_STRING) {
				wrong_type(ld, b, bpath, "a claim name, e.g. tenant = \"tenant\";");
				continue;
			}
			claim = config_setting_get_string(b);
			if (!plain_text(claim, 128)) {
				error_at(ld, b, "%s: %s is not a valid claim name", bpath, ztg_error_quote(&sn, claim));
				continue;
			}
			if (r->path != NULL && !template_has_param(r->path, param)) {
				error_at(ld, b, "%s: the route's path %s has no {%s}", bpath, ztg_error_quote(&sn, r->path), param);
				continue;
			}
			q->bindings[q->binding_count].param = arena_strdup(ld, param);
			q->bindings[q->binding_count].claim = arena_strdup(ld, claim);
			q->bindings[q->binding_count].loc = loc_of(ld, b);
			if (strcmp(claim, "sub") != 0)
				intern_name(ld, b, q->bindings[q->binding_count].claim, false);
			q->binding_count++;
		}
	}
}

/* ----------------------------------------------------------- signatures */

/* Rule sets: files next to the policy, each loaded by the rule language's loader into the same diagnostics. */
static void parse_signatures(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = list_member(ld, root, "", "signatures", "a list of rule files");
	struct ztg_policy *p = ld->policy;
	uint32_t n;

	if (list == NULL)
		return;
	n = capped_length(ld, list, "signatures", ZTG_POLICY_MAX_SIGNATURE_SETS, "rule sets");
	p->signature_sets = arena_alloc(ld, n, sizeof(*p->signature_sets));
	p->signature_files = arena_alloc(ld, n, sizeof(*p->signature_files));
	if (p->signature_sets == NULL || p->signature_files == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct ztg_policy_file *file = &p->signature_files[p->signature_set_count];
		struct ztg_sig_set *set = NULL;
		char path[64], full[PATH_MAX];
		bool dup = false;

		snprintf(path, sizeof(path), "signatures[%u]", i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			wrong_type(ld, e, path, "a rule file name relative to the policy file");
			continue;
		}
		if (!file_at(ld, e, path, 64u << 20, file, full))
			continue;
		/* The bytes just read, which the bundle will carry: never a second read of the file. */
		if (ztg_sig_set_parse(full, (const char *)file->data, file->len, &set, ld->diag) != 0) {
			/* Its own diagnostics say why; this line says who asked for it. */
			error_at(ld, e, "%s: rule set %s has errors", path, file->name);
			continue;
		}
		for (uint32_t j = 0; j < p->signature_set_count && !dup; j++)
			dup = strcmp(p->signature_sets[j]->name, set->name) == 0;
		if (dup) {
			struct ztg_quoted sn;

			error_at(ld, e, "%s: a rule set named %s is already loaded", path, ztg_error_quote(&sn, set->name));
			ztg_sig_set_free(set);
			continue;
		}
		p->signature_sets[p->signature_set_count++] = set;
	}
}

static const struct ztg_config_key detect_keys[] = {
	{"sets", true, "a list of rule set names"},
	{"block_sets", false, "a list of the sets (among sets) whose every rule blocks here"},
	{"threshold", false, "the anomaly score that blocks, 1..10000 (default 5)"},
	{"request_body_depth", false, "request body bytes scanned, 0..1073741824 (default 1048576; 0: none)"},
	{"response_body_depth", false, "response body bytes scanned, 0..1073741824 (default 1048576; 0: none)"},
	{"mode", false, "enforce or monitor"},
};

/* The rule sets a detect list names, as bits of ztg_policy.signature_sets; within: the bits allowed. */
static uint64_t parse_detect_sets(struct loader *ld, const config_setting_t *list, const char *where,
				  uint64_t within)
{
	const struct ztg_policy *p = ld->policy;
	uint64_t sets = 0;
	char path[160];

	for (int i = 0; list != NULL && i < config_setting_length(list); i++) {
		const config_setting_t *it = config_setting_get_elem(list, (unsigned)i);
		const char *name;
		uint32_t s;
		struct ztg_quoted sn;

		snprintf(path, sizeof(path), "%s[%d]", where, i);
		if (config_setting_type(it) != CONFIG_TYPE_STRING) {
			wrong_type(ld, it, path, "a rule set name");
			continue;
		}
		name = config_setting_get_string(it);
		for (s = 0; s < p->signature_set_count; s++) {
			if (strcmp(p->signature_sets[s]->name, name) == 0)
				break;
		}
		if (s == p->signature_set_count)
			error_at(ld, it, "%s: no rule set named %s (the policy's signatures list loads them)", path,
				 ztg_error_quote(&sn, name));
		else if (!(within >> s & 1))
			error_at(ld, it, "%s: rule set %s is not among this detect's sets", path,
				 ztg_error_quote(&sn, name));
		else
			sets |= 1ull << s;
	}
	return sets;
}

static void parse_detect(struct loader *ld, const config_setting_t *e, const char *where, struct ztg_policy_detect *d)
{
	const config_setting_t *g = config_setting_get_member(e, "detect"), *list;
	enum ztg_policy_mode mode = ZTG_POLICY_MODE_ENFORCE;
	char dwhere[128], path[160];

	if (g == NULL)
		return;
	snprintf(dwhere, sizeof(dwhere), "%s.detect", where);
	d->loc = loc_of(ld, g);
	if (!config_setting_is_group(g)) {
		wrong_type(ld, g, dwhere, "a group { sets = [ ... ]; threshold = ...; }");
		return;
	}
	d->present = true;
	d->threshold = 5;
	d->request_body_depth = ZTG_POLICY_BODY_DEPTH_DEFAULT;
	d->response_body_depth = ZTG_POLICY_BODY_DEPTH_DEFAULT;
	check_keys(ld, g, dwhere, ZTG_CONFIG_KEYS(detect_keys));
	list = list_member(ld, g, dwhere, "sets", "a list of rule set names");
	snprintf(path, sizeof(path), "%s.sets", dwhere);
	d->sets = parse_detect_sets(ld, list, path, UINT64_MAX);
	list = list_member(ld, g, dwhere, "block_sets", "a list of rule set names");
	snprintf(path, sizeof(path), "%s.block_sets", dwhere);
	d->block_sets = parse_detect_sets(ld, list, path, d->sets);
	uint_member(ld, g, dwhere, "threshold", 1, 10000, &d->threshold);
	uint_member(ld, g, dwhere, "request_body_depth", 0, ZTG_POLICY_BODY_DEPTH_MAX, &d->request_body_depth);
	uint_member(ld, g, dwhere, "response_body_depth", 0, ZTG_POLICY_BODY_DEPTH_MAX, &d->response_body_depth);
	if (mode_member(ld, g, dwhere, &mode))
		d->monitor = mode == ZTG_POLICY_MODE_MONITOR;
}

/* ----------------------------------------------------------- rate limits */

/* Far beyond any one caller's or route's rate; keeps interval = period / rate meaningful in TSC cycles. */
#define RATE_MAX 100000000u
#define RATE_MAX_TEXT "100000000"

static const struct ztg_config_key rate_limit_keys[] = {
	{"name", true, NAME_EXPECT},
	{"per", true, "identity, api_key, source or route: what requests are counted by"},
	{"prefix4", false, "per = \"source\": the IPv4 prefix length counted as one, 0..32 (default 32)"},
	{"prefix6", false, "per = \"source\": the IPv6 prefix length counted as one, 0..128 (default 128)"},
	{"rate", true, "requests per period, 1.." RATE_MAX_TEXT},
	{"period", true, "second, minute or hour"},
	{"burst", false, "requests admitted at once beyond the rate, 1.." RATE_MAX_TEXT " (default rate / 10, at least 1)"},
	{"action", false, "deny (default), reset or alert"},
	{"mode", false, "enforce or monitor (default: the mode where the list is written)"},
};

/* mode: the effective mode of the service or route the list is written in, the limit's default. */
static void parse_rate_limit(struct loader *ld, const config_setting_t *e, const char *where,
			     enum ztg_policy_mode mode, struct ztg_policy_rate_limit *rl)
{
	const config_setting_t *prefix[2];
	uint32_t prefix4 = 32, prefix6 = 128;
	unsigned v;
	bool key_known;

	rl->loc = loc_of(ld, e);
	rl->prefix4 = 32;
	rl->prefix6 = 128;
	rl->action = ZTG_POLICY_RATE_ACTION_DENY;
	rl->monitor = mode == ZTG_POLICY_MODE_MONITOR;
	if (!config_setting_is_group(e)) {
		wrong_type(ld, e, where, "a group { name = ...; per = ...; rate = ...; period = ...; }");
		return;
	}
	check_keys(ld, e, where, ZTG_CONFIG_KEYS(rate_limit_keys));
	rl->name = name_member(ld, e, where, "name");
	key_known = choice_member(ld, e, where, "per", rate_key_names, ZTG_POLICY_RATE_KEY_COUNT,
				  (1u << ZTG_POLICY_RATE_KEY_COUNT) - 1, "rate limit key", &v);
	if (key_known)
		rl->key = (enum ztg_policy_rate_key)v;
	if (uint_member(ld, e, where, "prefix4", 0, 32, &prefix4))
		rl->prefix4 = (uint8_t)prefix4;
	if (uint_member(ld, e, where, "prefix6", 0, 128, &prefix6))
		rl->prefix6 = (uint8_t)prefix6;
	prefix[0] = config_setting_get_member(e, "prefix4");
	prefix[1] = config_setting_get_member(e, "prefix6");
	/* Unknown when per is bad: that error is enough. */
	for (unsigned i = 0; i < 2 && key_known && rl->key != ZTG_POLICY_RATE_SOURCE; i++) {
		if (prefix[i] != NULL)
			error_at(ld, prefix[i], "%s.%s: only applies to per = \"source\" (this limit counts per %s)", where,
				 config_setting_name(prefix[i]), rate_key_names[rl->key]);
	}
	if (uint_member(ld, e, where, "rate", 1, RATE_MAX, &rl->rate) && rl->rate > 0)
		rl->burst = rl->rate / 10 > 1 ? rl->rate / 10 : 1;
	if (choice_member(ld, e, where, "period", rate_period_names, RATE_PERIOD_COUNT, (1u << RATE_PERIOD_COUNT) - 1,
			  "period", &v))
		rl->period = rate_period_seconds[v];
	uint_member(ld, e, where, "burst", 1, RATE_MAX, &rl->burst);
	if (choice_member(ld, e, where, "action", rate_action_names, ZTG_POLICY_RATE_ACTION_COUNT,
			  (1u << ZTG_POLICY_RATE_ACTION_COUNT) - 1, "action", &v))
		rl->action = (enum ztg_policy_rate_action)v;
	if (mode_member(ld, e, where, &mode))
		rl->monitor = mode == ZTG_POLICY_MODE_MONITOR;
}

/*
 * e.rate_limits, the list of a service or a route, into *out; returns the
 * count (0 when absent or bad). An empty list is only meaningful on a route
 * (it drops the service's limits there): allow_empty says whether e is one.
 */
static uint32_t parse_rate_limits(struct loader *ld, const config_setting_t *e, const char *where,
				  enum ztg_policy_mode mode, bool allow_empty, struct ztg_policy_rate_limit **out)
{
	const config_setting_t *list = list_member(ld, e, where, "rate_limits", "a list of rate limits ( { ... }, ... )");
	char path[128], ewhere[160];
	struct name_ref *names;
	uint32_t n, name_count;

	*out = NULL;
	if (list == NULL)
		return 0;
	ztg_config_key_path(path, sizeof(path), where, "rate_limits");
	n = capped_length(ld, list, path, ZTG_POLICY_RATE_LIMITS_MAX, "rate limits");
	if (n == 0) {
		if (!allow_empty)
			error_at(ld, list, "%s: empty list (leave the key out instead)", path);
		return 0;
	}
	*out = arena_alloc(ld, n, sizeof(**out));
	if (*out == NULL)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		snprintf(ewhere, sizeof(ewhere), "%s[%u]", path, i);
		parse_rate_limit(ld, config_setting_get_elem(list, i), ewhere, mode, &(*out)[i]);
	}
	names = index_names(ld, *out, n, sizeof(**out), offsetof(struct ztg_policy_rate_limit, name),
			    offsetof(struct ztg_policy_rate_limit, loc), &name_count);
	sort_names(ld, names, name_count, path, "rate limit");
	free(names);
	return n;
}

/*
 * The copy of a service's list its routes without their own share (the
 * policy is never changed after loading, so one copy serves them all):
 * marked from_service, so the runtime keeps one set of buckets per service.
 */
static struct ztg_policy_rate_limit *inherited_rate_limits(struct loader *ld, const struct ztg_policy_service *svc)
{
	struct ztg_policy_rate_limit *copy = arena_alloc(ld, svc->rate_limit_count, sizeof(*copy));

	for (uint32_t i = 0; copy != NULL && i < svc->rate_limit_count; i++) {
		copy[i] = svc->rate_limits[i];
		copy[i].from_service = true;
	}
	return copy;
}

/* -------------------------------------------------------------- services */

static const struct ztg_config_key route_keys[] = {
	{"name", true, NAME_EXPECT},
	{"methods", true, "a list of methods: " METHOD_EXPECTED},
	{"path", true, "a path template starting with '/', e.g. \"/api/v1/orders/{id}\""},
	{"action", true, "allow, deny, reset or drop"},
	{"mode", false, "enforce or monitor"},
	{"anonymous", false, "true: the route allows callers without credentials"},
	{"require", false, "a group { scopes = [ ... ]; claims = { ... }; bind = { ... }; }"},
	{"detect", false, "a group { sets = [ ... ]; threshold = ...; mode = ...; }"},
	{"rate_limits", false, "a list of rate limits ( { name = ...; per = ...; rate = ...; period = ...; }, ... )"},
};

/* inherited: the service's rate limits as routes without their own list take them (inherited_rate_limits). */
static void parse_route(struct loader *ld, const config_setting_t *e, const char *where,
			const struct ztg_policy_service *svc, struct ztg_policy_rate_limit *inherited,
			struct ztg_policy_route *r)
{
	const config_setting_t *limits;
	const config_setting_t *methods, *ps;
	const char *path;
	char kpath[128], why[512];
	bool known;

	r->loc = loc_of(ld, e);
	if (!config_setting_is_group(e)) {
		wrong_type(ld, e, where, "a group { name = ...; methods = [ ... ]; path = ...; action = ...; }");
		return;
	}
	check_keys(ld, e, where, ZTG_CONFIG_KEYS(route_keys));
	r->name = name_member(ld, e, where, "name");
	methods = list_member(ld, e, where, "methods", "a list of methods, e.g. [ \"GET\", \"HEAD\" ]");
	if (methods != NULL)
		r->methods = parse_methods(ld, methods, ztg_config_key_path(kpath, sizeof(kpath), where, "methods"));
	path = string_member(ld, e, where, "path", "a path string such as \"/api/v1/orders/{id}\"", &ps);
	if (path != NULL) {
		if (check_path(path, why, sizeof(why)) < 0)
			error_at(ld, ps, "%s: %s", ztg_config_key_path(kpath, sizeof(kpath), where, "path"), why);
		else
			r->path = arena_strdup(ld, path);
	}
	known = action_member(ld, e, where, "action", ACTION_BIT(ALLOW) | ACTION_BIT(DENY) | ACTION_BIT(RESET) |
			      ACTION_BIT(DROP), &r->action);
	r->mode = svc->mode;
	r->mode_set = mode_member(ld, e, where, &r->mode);
	/* Who may use a route depends on what it does: unknown when the action is bad. */
	if (known)
		parse_requirement(ld, e, where, svc, r);
	r->detect = svc->detect;
	if (config_setting_get_member(e, "detect") != NULL) {
		memset(&r->detect, 0, sizeof(r->detect));
		parse_detect(ld, e, where, &r->detect);
	}
	/* Only requests an allow route lets through are counted; other routes end every request anyway. */
	limits = config_setting_get_member(e, "rate_limits");
	if (known && r->action != ZTG_POLICY_ACTION_ALLOW) {
		if (limits != NULL)
			error_at(ld, limits, "%s.rate_limits: rate limits only apply to allow routes (this route's action "
				 "is %s: no request through it reaches the server)", where, ztg_policy_action_name(r->action));
	} else if (limits != NULL) {
		r->rate_limit_count = parse_rate_limits(ld, e, where, r->mode, true, &r->rate_limits);
	} else {
		r->rate_limits = inherited;
		r->rate_limit_count = inherited != NULL ? svc->rate_limit_count : 0;
	}
}

struct path_ref {
	const char *path;
	uint32_t index;
};

static int cmp_path_ref(const void *a, const void *b)
{
	const struct path_ref *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Two routes with one path text and a method in common: the second could
 * never be the one that decides. Per run of equal paths, the first route to
 * claim each method is remembered, so every route is compared once.
 */
static void check_route_overlaps(struct loader *ld, const struct ztg_policy_service *svc, const char *where)
{
	struct path_ref *refs;
	uint32_t n = 0;

	if (svc->route_count < 2)
		return;
	refs = malloc(svc->route_count * sizeof(*refs));
	if (refs == NULL) {
		out_of_memory(ld);
		return;
	}
	for (uint32_t i = 0; i < svc->route_count; i++) {
		if (svc->routes[i].path != NULL && svc->routes[i].methods != 0)
			refs[n++] = (struct path_ref){svc->routes[i].path, i};
	}
	if (n > 1)
		qsort(refs, n, sizeof(*refs), cmp_path_ref);
	for (uint32_t start = 0; start < n;) {
		uint32_t end = start + 1, owner[ZTG_HTTP_METHOD_TRACE + 1];

		while (end < n && strcmp(refs[end].path, refs[start].path) == 0)
			end++;
		for (unsigned m = 0; m <= ZTG_HTTP_METHOD_TRACE; m++)
			owner[m] = ZTG_POLICY_NONE;
		for (uint32_t k = start; k < end; k++) {
			const struct ztg_policy_route *r = &svc->routes[refs[k].index];
			uint32_t first = ZTG_POLICY_NONE;

			for (unsigned m = 0; m <= ZTG_HTTP_METHOD_TRACE; m++) {
				if (!(r->methods & ZTG_POLICY_METHOD_BIT(m)))
					continue;
				if (owner[m] == ZTG_POLICY_NONE)
					owner[m] = refs[k].index;
				else if (first == ZTG_POLICY_NONE || owner[m] < first)
					first = owner[m];
			}
			if (first != ZTG_POLICY_NONE) {
				const struct ztg_policy_route *f = &svc->routes[first];
				char methods[96];
				struct ztg_quoted sr, sp, sf;
				struct loc_text lt;

				error_loc(ld, &r->loc, "%s.routes[%u]: route %s has the same path %s as route %s (%s) "
					  "and both match %s", where, refs[k].index, ztg_error_quote(&sr, r->name),
					  ztg_error_quote(&sp, r->path), ztg_error_quote(&sf, f->name), loc_str(&lt, &f->loc),
					  method_list(methods, sizeof(methods), (uint16_t)(r->methods & f->methods)));
			}
		}
		start = end;
	}
	free(refs);
}

struct template_check {
	struct loader *ld;
	const struct ztg_policy_service *svc;
	const struct ztg_route_spec *specs;
	const char *where;
};

/* A matcher diagnostic at the route's own file:line; spec indexes map back through route_id. */
static void on_template_diag(void *arg, const struct ztg_route_diag *diag)
{
	const struct template_check *tc = arg;
	const struct ztg_policy_route *r, *other;
	struct loc_text lt;

	if (diag->route_index == ZTG_ROUTE_NONE || diag->code == ZTG_ROUTE_E_TOO_MANY_ERRORS) {
		error_loc(tc->ld, &tc->svc->loc, "%s.routes: %s", tc->where, diag->message);
		return;
	}
	r = &tc->svc->routes[tc->specs[diag->route_index].route_id];
	if (diag->code == ZTG_ROUTE_E_DUPLICATE_ROUTE && diag->other_index != ZTG_ROUTE_NONE) {
		other = &tc->svc->routes[tc->specs[diag->other_index].route_id];
		/* The same text is check_route_overlaps' to report. */
		if (strcmp(other->path, r->path) == 0)
			return;
		error_loc(tc->ld, &r->loc, "%s.routes: route \"%s\" (%s) is unreachable: route \"%s\" at %s has the same "
			  "shape and serves the same methods (parameter names do not tell paths apart)", tc->where,
			  r->name, r->path, other->name, loc_str(&lt, &other->loc));
		return;
	}
	if (diag->warning)
		warning_loc(tc->ld, &r->loc, "%s.routes: route \"%s\": %s", tc->where, r->name, diag->message);
	else
		error_loc(tc->ld, &r->loc, "%s.routes: route \"%s\": %s", tc->where, r->name, diag->message);
}

/*
 * Compile the service's routes with the matcher the dataplane runs, so that
 * what it would refuse (a template it cannot parse, two routes of one shape
 * and methods) is an error here, at file:line, and never a surprise at
 * apply. The matcher is thrown away: the dataplane compiles its own.
 */
static void check_route_templates(struct loader *ld, const struct ztg_policy_service *svc, const char *where)
{
	struct ztg_route_spec *specs = calloc(svc->route_count + 1, sizeof(*specs));
	struct template_check tc = {ld, svc, specs, where};
	struct ztg_route_build_opts opts = {.diag = on_template_diag, .ctx = &tc};
	uint32_t n = 0;

	if (specs == NULL) {
		out_of_memory(ld);
		return;
	}
	/* Routes whose path or methods already failed are left out: one error each is enough. */
	for (uint32_t i = 0; i < svc->route_count; i++) {
		const struct ztg_policy_route *r = &svc->routes[i];

		if (r->path != NULL && r->path[0] == '/' && r->methods != 0)
			specs[n++] = (struct ztg_route_spec){.template = r->path, .methods = r->methods, .route_id = i};
	}
	ztg_route_matcher_free(ztg_route_matcher_build(specs, n, &opts, NULL));
	free(specs);
}

static void parse_routes(struct loader *ld, const config_setting_t *list, const char *where,
			 struct ztg_policy_service *svc)
{
	char path[96], rwhere[96];
	struct name_ref *names;
	struct ztg_policy_rate_limit *inherited;
	uint32_t n, name_count;

	n = capped_length(ld, list, ztg_config_key_path(path, sizeof(path), where, "routes"), ZTG_POLICY_MAX_ROUTES, "routes");
	svc->routes = arena_alloc(ld, n, sizeof(*svc->routes));
	if (svc->routes == NULL)
		return;
	svc->route_count = n;
	inherited = inherited_rate_limits(ld, svc);
	for (uint32_t i = 0; i < n && !ld->nomem; i++) {
		snprintf(rwhere, sizeof(rwhere), "%s.routes[%u]", where, i);
		parse_route(ld, config_setting_get_elem(list, i), rwhere, svc, inherited, &svc->routes[i]);
	}
	names = index_names(ld, svc->routes, n, sizeof(*svc->routes), offsetof(struct ztg_policy_route, name),
			    offsetof(struct ztg_policy_route, loc), &name_count);
	sort_names(ld, names, name_count, path, "route");
	free(names);
	check_route_overlaps(ld, svc, where);
	check_route_templates(ld, svc, where);
}

static const struct ztg_config_key service_keys[] = {
	{"name", true, NAME_EXPECT},
	{"hosts", true, "a list of Host patterns, e.g. [ \"api.shop.test\", \"*.shop.test\" ]"},
	{"addresses", true, "a list of ADDRESS/PREFIX strings where the service listens"},
	{"ports", true, "a list of TCP ports 1..65535"},
	{"segment", true, "the name of the segment the service belongs to"},
	{"mode", false, "enforce or monitor"},
	{"authentication", false, "a group { issuers = [ ... ]; api_key_header = ...; }"},
	{"detect", false, "a group { sets = [ ... ]; threshold = ...; mode = ...; }: signatures"},
	{"rate_limits", false, "a list of rate limits ( { name = ...; per = ...; rate = ...; period = ...; }, ... )"},
	{"routes", false, "a list of routes"},
};

/* A service address outside every range of its own segment: destination classification would disagree. */
static void check_service_in_segment(struct loader *ld, const struct ztg_policy_service *svc, const char *where)
{
	const struct ztg_policy_segment *seg;

	if (svc->segment == ZTG_POLICY_NONE)
		return;
	seg = &ld->policy->segments[svc->segment];
	for (uint32_t i = 0; i < svc->address_count; i++) {
		bool inside = false;
		struct cidr_text ct;
		struct ztg_quoted sn;

		for (uint32_t j = 0; j < seg->address_count && !inside; j++)
			inside = cidr_contains(&seg->addresses[j].cidr, &svc->addresses[i].cidr);
		if (!inside)
			warning_loc(ld, &svc->addresses[i].loc, "%s.addresses[%u]: %s is outside every address range "
				    "of the service's segment %s", where, i, cidr_str(&ct, &svc->addresses[i].cidr),
				    ztg_error_quote(&sn, seg->name));
	}
}

static void parse_service(struct loader *ld, const config_setting_t *e, uint32_t index)
{
	struct ztg_policy_service *svc = &ld->policy->services[index];
	const config_setting_t *list, *seg;
	const char *segment;
	char where[64], path[96];

	snprintf(where, sizeof(where), "services[%u]", index);
	svc->loc = loc_of(ld, e);
	svc->segment = ZTG_POLICY_NONE;
	svc->mode = ld->policy->mode;
	if (!config_setting_is_group(e)) {
		wrong_type(ld, e, where, "a group { name = ...; hosts = [ ... ]; addresses = [ ... ]; ports = [ ... ]; "
			   "segment = ...; routes = ( ... ); }");
		return;
	}
	check_keys(ld, e, where, ZTG_CONFIG_KEYS(service_keys));
	svc->name = name_member(ld, e, where, "name");
	list = list_member(ld, e, where, "hosts", "a list of Host patterns, e.g. [ \"api.shop.test\" ]");
	if (list != NULL)
		parse_hosts(ld, list, ztg_config_key_path(path, sizeof(path), where, "hosts"), svc);
	list = list_member(ld, e, where, "addresses", "a list of ADDRESS/PREFIX strings");
	if (list != NULL)
		parse_addresses(ld, list, ztg_config_key_path(path, sizeof(path), where, "addresses"), ZTG_POLICY_MAX_ADDRESSES,
				&svc->addresses, &svc->address_count);
	list = list_member(ld, e, where, "ports", "a list of TCP ports, e.g. [ 80, 8080 ]");
	if (list != NULL)
		parse_ports(ld, list, ztg_config_key_path(path, sizeof(path), where, "ports"), svc);
	segment = string_member(ld, e, where, "segment", "a segment name", &seg);
	if (segment != NULL)
		svc->segment = resolve(ld, seg, ztg_config_key_path(path, sizeof(path), where, "segment"), segment,
				       ld->segment_names, ld->segment_name_count, "segment");
	svc->mode_set = mode_member(ld, e, where, &svc->mode);
	parse_authentication(ld, e, where, svc);
	parse_detect(ld, e, where, &svc->detect);
	svc->rate_limit_count = parse_rate_limits(ld, e, where, svc->mode, false, &svc->rate_limits);
	list = list_member(ld, e, where, "routes", "a list of routes ( { ... }, ... )");
	if (list != NULL)
		parse_routes(ld, list, where, svc);
	if (svc->route_count == 0 && svc->name != NULL) {
		struct ztg_quoted sn;

		warning_loc(ld, &svc->loc, "%s: service %s has no routes: every request to it gets the default "
			    "action (%s)", where, ztg_error_quote(&sn, svc->name), ztg_policy_action_name(ld->policy->defaults.action));
	}
	check_service_in_segment(ld, svc, where);
}

static void parse_services(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = list_member(ld, root, "", "services", "a list of services ( { ... }, ... )");
	struct ztg_policy *p = ld->policy;
	uint32_t n;

	if (list == NULL)
		return;
	n = capped_length(ld, list, "services", ZTG_POLICY_MAX_SERVICES, "services");
	p->services = arena_alloc(ld, n, sizeof(*p->services));
	if (p->services == NULL)
		return;
	p->service_count = n;
	for (uint32_t i = 0; i < n && !ld->nomem; i++)
		parse_service(ld, config_setting_get_elem(list, i), i);
	ld->service_names = index_names(ld, p->services, n, sizeof(*p->services),
					offsetof(struct ztg_policy_service, name),
					offsetof(struct ztg_policy_service, loc), &ld->service_name_count);
	sort_names(ld, ld->service_names, ld->service_name_count, "services", "service");
}

/* ---------------------------------------------------------------- access */

static const struct ztg_config_key access_keys[] = {
	{"from", true, "the name of the source segment"},
	{"to", true, "a list of service names"},
};

static void add_grant(struct loader *ld, const struct grant *g)
{
	if (ld->grant_count == ld->grant_capacity) {
		uint32_t cap = ld->grant_capacity ? 2 * ld->grant_capacity : 64;
		struct grant *grown = realloc(ld->grants, cap * sizeof(*grown));

		if (grown == NULL) {
			out_of_memory(ld);
			return;
		}
		ld->grants = grown;
		ld->grant_capacity = cap;
	}
	ld->grants[ld->grant_count++] = *g;
}

static void parse_access_entry(struct loader *ld, const config_setting_t *e, uint32_t index)
{
	struct ztg_policy_access *a = &ld->policy->access[index];
	const config_setting_t *from_s, *to;
	const char *from;
	char where[64], path[96], epath[128];
	uint32_t n;

	snprintf(where, sizeof(where), "access[%u]", index);
	a->loc = loc_of(ld, e);
	a->from = ZTG_POLICY_NONE;
	if (!config_setting_is_group(e)) {
		wrong_type(ld, e, where, "a group { from = \"segment\"; to = [ \"service\", ... ]; }");
		return;
	}
	check_keys(ld, e, where, ZTG_CONFIG_KEYS(access_keys));
	from = string_member(ld, e, where, "from", "a segment name", &from_s);
	if (from != NULL)
		a->from = resolve(ld, from_s, ztg_config_key_path(path, sizeof(path), where, "from"), from, ld->segment_names,
				  ld->segment_name_count, "segment");
	to = list_member(ld, e, where, "to", "a list of service names, e.g. [ \"shop-api\" ]");
	if (to == NULL)
		return;
	ztg_config_key_path(path, sizeof(path), where, "to");
	n = capped_length(ld, to, path, ZTG_POLICY_MAX_SERVICES, "services");
	if (n == 0) {
		error_at(ld, to, "%s: empty list (expected at least one service name)", path);
		return;
	}
	a->to = arena_alloc(ld, n, sizeof(*a->to));
	if (a->to == NULL)
		return;
	a->to_count = n;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *t = config_setting_get_elem(to, i);
		struct grant g;

		snprintf(epath, sizeof(epath), "%s[%u]", path, i);
		a->to[i] = ZTG_POLICY_NONE;
		if (config_setting_type(t) != CONFIG_TYPE_STRING) {
			wrong_type(ld, t, epath, "a service name");
			continue;
		}
		a->to[i] = resolve(ld, t, epath, config_setting_get_string(t), ld->service_names,
				   ld->service_name_count, "service");
		if (a->to[i] == ZTG_POLICY_NONE || a->from == ZTG_POLICY_NONE)
			continue;
		g = (struct grant){a->from, a->to[i], index, i, loc_of(ld, t)};
		add_grant(ld, &g);
	}
}

static int cmp_grant(const void *a, const void *b)
{
	const struct grant *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	if (x->access != y->access)
		return x->access < y->access ? -1 : 1;
	return x->to_index < y->to_index ? -1 : x->to_index > y->to_index;
}

static void check_grants(struct loader *ld)
{
	const struct ztg_policy *p = ld->policy;

	if (ld->grant_count > 1)
		qsort(ld->grants, ld->grant_count, sizeof(*ld->grants), cmp_grant);
	for (uint32_t i = 1, first = 0; i < ld->grant_count; i++) {
		const struct grant *g = &ld->grants[i], *f;
		struct ztg_quoted sf, st;
		struct loc_text lt;

		if (g->from != ld->grants[i - 1].from || g->to != ld->grants[i - 1].to) {
			first = i;
			continue;
		}
		f = &ld->grants[first];
		error_loc(ld, &g->loc, "access[%u].to[%u]: %s -> %s is already granted by access[%u] (%s)", g->access,
			  g->to_index, ztg_error_quote(&sf, p->segments[g->from].name), ztg_error_quote(&st, p->services[g->to].name),
			  f->access, loc_str(&lt, &f->loc));
	}
}

static void parse_access(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = list_member(ld, root, "", "access", "a list of access entries ( { ... }, ... )");
	struct ztg_policy *p = ld->policy;
	uint32_t n;

	if (list == NULL)
		return;
	n = capped_length(ld, list, "access", ZTG_POLICY_MAX_ACCESS, "access entries");
	p->access = arena_alloc(ld, n, sizeof(*p->access));
	if (p->access == NULL)
		return;
	p->access_count = n;
	for (uint32_t i = 0; i < n && !ld->nomem; i++)
		parse_access_entry(ld, config_setting_get_elem(list, i), i);
	check_grants(ld);
}

/* ------------------------------------------------------ segment overlaps */

struct seg_addr {
	const struct ztg_policy_address *addr;
	uint32_t segment;
	uint32_t index;
};

static int cmp_seg_addr(const void *a, const void *b)
{
	const struct seg_addr *x = a, *y = b;
	int c;

	if (x->addr->cidr.family != y->addr->cidr.family)
		return x->addr->cidr.family < y->addr->cidr.family ? -1 : 1;
	c = memcmp(x->addr->cidr.addr, y->addr->cidr.addr, sizeof(x->addr->cidr.addr));
	if (c != 0)
		return c;
	if (x->addr->cidr.prefix_len != y->addr->cidr.prefix_len)
		return x->addr->cidr.prefix_len < y->addr->cidr.prefix_len ? -1 : 1;
	if (x->segment != y->segment)
		return x->segment < y->segment ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * A source address must classify into one segment. Sorted by network then
 * prefix length, two prefixes either nest or are disjoint, so a sweep with a
 * stack of the prefixes enclosing the current one finds every overlap; the
 * nearest enclosing prefix of another segment is the one reported.
 */
static void check_segment_overlaps(struct loader *ld)
{
	const struct ztg_policy *p = ld->policy;
	struct seg_addr *all, **stack;
	uint32_t n = 0, top = 0;

	for (uint32_t s = 0; s < p->segment_count; s++)
		n += p->segments[s].address_count;
	if (n < 2)
		return;
	all = malloc(n * sizeof(*all));
	stack = malloc(n * sizeof(*stack));
	if (all == NULL || stack == NULL) {
		free(all);
		free(stack);
		out_of_memory(ld);
		return;
	}
	n = 0;
	for (uint32_t s = 0; s < p->segment_count; s++) {
		for (uint32_t i = 0; i < p->segments[s].address_count; i++)
			all[n++] = (struct seg_addr){&p->segments[s].addresses[i], s, i};
	}
	qsort(all, n, sizeof(*all), cmp_seg_addr);
	for (uint32_t k = 0; k < n; k++) {
		struct seg_addr *cur = &all[k];

		while (top > 0 && !cidr_contains(&stack[top - 1]->addr->cidr, &cur->addr->cidr))
			top--;
		for (uint32_t t = top; t-- > 0;) {
			const struct seg_addr *other = stack[t], *later, *earlier;
			struct cidr_text cl, ce;
			struct ztg_quoted sl, se;
			struct loc_text lt;

			if (other->segment == cur->segment)
				continue;
			later = other->segment > cur->segment ? other : cur;
			earlier = later == cur ? other : cur;
			error_loc(ld, &later->addr->loc, "segments[%u].addresses[%u]: %s of segment %s overlaps %s of "
				  "segment %s (%s); a source address must belong to one segment", later->segment,
				  later->index, cidr_str(&cl, &later->addr->cidr), ztg_error_quote(&sl, p->segments[later->segment].name),
				  cidr_str(&ce, &earlier->addr->cidr), ztg_error_quote(&se, p->segments[earlier->segment].name),
				  loc_str(&lt, &earlier->addr->loc));
			break;
		}
		stack[top++] = cur;
	}
	free(all);
	free(stack);
}

/* ------------------------------------------------------ service overlaps */

struct host_ref {
	const char *key;
	uint32_t service;
	uint32_t host;
};

static int cmp_host_ref(const void *a, const void *b)
{
	const struct host_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	if (x->service != y->service)
		return x->service < y->service ? -1 : 1;
	return x->host < y->host ? -1 : x->host > y->host;
}

/* Two services whose hosts collide, and what else they share. */
struct conflict {
	uint32_t first, second;          /* service indexes, first < second */
	uint32_t host_first, host_second;
	uint32_t addr_first, addr_second;
	uint16_t port;
};

struct conflicts {
	struct conflict *items;
	uint32_t count;
	uint32_t capacity;
};

/* The first port two ascending port lists share, or 0. */
static uint16_t shared_port(const struct ztg_policy_service *a, const struct ztg_policy_service *b)
{
	uint32_t i = 0, j = 0;

	while (i < a->port_count && j < b->port_count) {
		if (a->ports[i] == b->ports[j])
			return a->ports[i];
		if (a->ports[i] < b->ports[j])
			i++;
		else
			j++;
	}
	return 0;
}

static void consider_pair(struct loader *ld, struct conflicts *cs, const struct host_ref *x, const struct host_ref *y)
{
	const struct ztg_policy *p = ld->policy;
	const struct host_ref *f = x->service < y->service ? x : y, *s = f == x ? y : x;
	const struct ztg_policy_service *a = &p->services[f->service], *b = &p->services[s->service];
	uint16_t port;

	if (x->service == y->service)
		return;
	port = shared_port(a, b);
	if (port == 0)
		return;
	for (uint32_t i = 0; i < a->address_count; i++) {
		for (uint32_t j = 0; j < b->address_count; j++) {
			if (!cidr_overlap(&a->addresses[i].cidr, &b->addresses[j].cidr))
				continue;
			if (cs->count == cs->capacity) {
				uint32_t cap = cs->capacity ? 2 * cs->capacity : 16;
				struct conflict *grown = realloc(cs->items, cap * sizeof(*grown));

				if (grown == NULL) {
					out_of_memory(ld);
					return;
				}
				cs->items = grown;
				cs->capacity = cap;
			}
			cs->items[cs->count++] = (struct conflict){f->service, s->service, f->host, s->host, i, j, port};
			return;
		}
	}
}

static int cmp_conflict(const void *a, const void *b)
{
	const struct conflict *x = a, *y = b;

	if (x->second != y->second)
		return x->second < y->second ? -1 : 1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->host_second != y->host_second)
		return x->host_second < y->host_second ? -1 : 1;
	return x->host_first < y->host_first ? -1 : x->host_first > y->host_first;
}

static void report_conflicts(struct loader *ld, struct conflicts *cs)
{
	const struct ztg_policy *p = ld->policy;

	if (cs->count > 1)
		qsort(cs->items, cs->count, sizeof(*cs->items), cmp_conflict);
	for (uint32_t i = 0; i < cs->count; i++) {
		const struct conflict *c = &cs->items[i];
		const struct ztg_policy_service *a = &p->services[c->first], *b = &p->services[c->second];
		const struct ztg_policy_host *ha = &a->hosts[c->host_first], *hb = &b->hosts[c->host_second];
		struct ztg_quoted sa, sb, sha, shb;
		struct cidr_text ca, cb;
		struct loc_text lt;
		char hosts[256];

		if (i > 0 && c->first == cs->items[i - 1].first && c->second == cs->items[i - 1].second)
			continue;
		if (strcmp(ha->pattern, hb->pattern) == 0)
			snprintf(hosts, sizeof(hosts), "both accept host %s", ztg_error_quote(&sha, ha->pattern));
		else if (ha->wildcard)
			snprintf(hosts, sizeof(hosts), "host %s matches %s", ztg_error_quote(&shb, hb->pattern),
				 ztg_error_quote(&sha, ha->pattern));
		else
			snprintf(hosts, sizeof(hosts), "host %s matches %s", ztg_error_quote(&sha, ha->pattern),
				 ztg_error_quote(&shb, hb->pattern));
		error_loc(ld, &b->loc, "services[%u]: service %s could receive the same requests as service %s (%s): "
			  "%s, both listen on port %u, and addresses %s and %s overlap", c->second, ztg_error_quote(&sb, b->name),
			  ztg_error_quote(&sa, a->name), loc_str(&lt, &a->loc), hosts, c->port,
			  cidr_str(&cb, &b->addresses[c->addr_second].cidr),
			  cidr_str(&ca, &a->addresses[c->addr_first].cidr));
	}
}

/*
 * Two services could receive one request when they share an address, a
 * port and a host: the same exact host, the same wildcard, or an exact host
 * a wildcard covers. Nested wildcards (*.a.shop.test and *.shop.test) are
 * left to most-specific-wins in the matcher. Host collisions are found by
 * sorting every pattern once; only colliding pairs are compared further.
 */
static void check_service_overlaps(struct loader *ld)
{
	const struct ztg_policy *p = ld->policy;
	struct conflicts cs = {NULL, 0, 0};
	struct host_ref *refs;
	uint32_t n = 0;

	for (uint32_t s = 0; s < p->service_count; s++)
		n += p->services[s].host_count;
	if (n < 2)
		return;
	refs = malloc(n * sizeof(*refs));
	if (refs == NULL) {
		out_of_memory(ld);
		return;
	}
	n = 0;
	for (uint32_t s = 0; s < p->service_count; s++) {
		for (uint32_t h = 0; h < p->services[s].host_count; h++)
			refs[n++] = (struct host_ref){p->services[s].hosts[h].pattern, s, h};
	}
	qsort(refs, n, sizeof(*refs), cmp_host_ref);
	for (uint32_t i = 0; i < n && !ld->nomem; i++) {
		const struct ztg_policy_host *h = &p->services[refs[i].service].hosts[refs[i].host];

		for (uint32_t j = i + 1; j < n && strcmp(refs[j].key, refs[i].key) == 0; j++)
			consider_pair(ld, &cs, &refs[i], &refs[j]);
		if (h->wildcard)
			continue;
		for (const char *dot = strchr(h->pattern, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
			char wild[ZTG_POLICY_HOST_MAX_LEN + 2];
			uint32_t lo = 0, hi = n;

			snprintf(wild, sizeof(wild), "*%s", dot);
			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;

				if (strcmp(refs[mid].key, wild) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < n && strcmp(refs[lo].key, wild) == 0; lo++)
				consider_pair(ld, &cs, &refs[i], &refs[lo]);
		}
	}
	report_conflicts(ld, &cs);
	free(cs.items);
	free(refs);
}

/* --------------------------------------------------------------- warnings */

/*
 * A segment is used when an access entry starts from it or a service
 * belongs to it; a service is reachable when some access entry names it.
 */
static void check_usage(struct loader *ld)
{
	const struct ztg_policy *p = ld->policy;
	bool *seg_used = calloc(p->segment_count + 1, sizeof(bool));
	bool *svc_reached = calloc(p->service_count + 1, sizeof(bool));

	if (seg_used == NULL || svc_reached == NULL) {
		free(seg_used);
		free(svc_reached);
		out_of_memory(ld);
		return;
	}
	for (uint32_t a = 0; a < p->access_count; a++) {
		if (p->access[a].from != ZTG_POLICY_NONE)
			seg_used[p->access[a].from] = true;
		for (uint32_t t = 0; t < p->access[a].to_count; t++) {
			if (p->access[a].to[t] != ZTG_POLICY_NONE)
				svc_reached[p->access[a].to[t]] = true;
		}
	}
	for (uint32_t s = 0; s < p->service_count; s++) {
		if (p->services[s].segment != ZTG_POLICY_NONE)
			seg_used[p->services[s].segment] = true;
	}
	for (uint32_t s = 0; s < p->segment_count; s++) {
		struct ztg_quoted sn;

		if (!seg_used[s] && p->segments[s].name != NULL)
			warning_loc(ld, &p->segments[s].loc, "segments[%u]: segment %s is not used: no access entry "
				    "starts from it and no service belongs to it", s, ztg_error_quote(&sn, p->segments[s].name));
	}
	for (uint32_t s = 0; s < p->service_count; s++) {
		struct ztg_quoted sn;

		if (!svc_reached[s] && p->services[s].name != NULL)
			warning_loc(ld, &p->services[s].loc, "services[%u]: service %s is unreachable: no access "
				    "entry lists it in \"to\"", s, ztg_error_quote(&sn, p->services[s].name));
	}
	free(seg_used);
	free(svc_reached);
}

/* ------------------------------------------------------------- top level */

static const struct ztg_config_key top_keys[] = {
	{"version", true, "the policy language version: version = 1;"},
	{"name", true, "the policy's name: " NAME_EXPECT},
	{"mode", false, "enforce or monitor"},
	{"defaults", false, "a group { action = ...; non_http = ...; unknown_host = ...; }"},
	{"segments", false, "a list of segments"},
	{"services", false, "a list of services"},
	{"access", false, "a list of access entries"},
	{"issuers", false, "a list of trusted token issuers"},
	{"api_keys", false, "a list of API keys (their SHA-256 only)"},
	{"key_fetch", false, "a group { blocked = [ ... ]; timeout_ms = ...; } for JWKS URLs"},
	{"signatures", false, "a list of signature rule files, e.g. [ \"signatures/sqli.rules\" ]"},
	{"behaviour", false, "a group { mode = ...; window = ...; floors = { ... }; signals = { ... }; risk = { ... }; }"},
};

static const struct ztg_config_key defaults_keys[] = {
	{"action", false, "deny, reset or drop"},
	{"non_http", false, "drop, reset or pass"},
	{"unknown_host", false, "deny, reset or drop"},
};

/* false when the version is one this build cannot read: the rest would only be noise. */
static bool parse_version(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *v = config_setting_get_member(root, "version");
	long long value;

	if (v == NULL)
		return true;
	if (config_setting_type(v) != CONFIG_TYPE_INT && config_setting_type(v) != CONFIG_TYPE_INT64) {
		wrong_type(ld, v, "version", "an integer (version = 1;)");
		return true;
	}
	value = config_setting_get_int64(v);
	if (value != ZTG_POLICY_VERSION) {
		error_at(ld, v, "version: unsupported policy language version %lld (this build reads version %d)",
			 value, ZTG_POLICY_VERSION);
		return false;
	}
	ld->policy->version = ZTG_POLICY_VERSION;
	return true;
}

static void parse_policy(struct loader *ld, const config_setting_t *root)
{
	struct ztg_policy *p = ld->policy;
	const config_setting_t *defaults;

	if (!parse_version(ld, root))
		return;
	check_keys(ld, root, "", ZTG_CONFIG_KEYS(top_keys));
	p->name = name_member(ld, root, "", "name");
	mode_member(ld, root, "", &p->mode);
	defaults = config_setting_get_member(root, "defaults");
	if (defaults != NULL && !config_setting_is_group(defaults)) {
		wrong_type(ld, defaults, "defaults", "a group { action = ...; non_http = ...; unknown_host = ...; }");
	} else if (defaults != NULL) {
		check_keys(ld, defaults, "defaults", ZTG_CONFIG_KEYS(defaults_keys));
		action_member(ld, defaults, "defaults", "action", ACTION_BIT(DENY) | ACTION_BIT(RESET) | ACTION_BIT(DROP),
			      &p->defaults.action);
		action_member(ld, defaults, "defaults", "non_http", ACTION_BIT(DROP) | ACTION_BIT(RESET) |
			      ACTION_BIT(PASS), &p->defaults.non_http);
		action_member(ld, defaults, "defaults", "unknown_host", ACTION_BIT(DENY) | ACTION_BIT(RESET) |
			      ACTION_BIT(DROP), &p->defaults.unknown_host);
	}
	parse_segments(ld, root);
	if (!ld->nomem)
		parse_issuers(ld, root);
	if (!ld->nomem)
		parse_api_keys(ld, root);
	if (!ld->nomem)
		parse_key_fetch(ld, root);
	if (!ld->nomem)
		parse_signatures(ld, root);
	if (!ld->nomem)
		parse_services(ld, root);
	if (!ld->nomem)
		parse_access(ld, root);
	if (!ld->nomem)
		parse_behaviour(ld, root);
	if (!ld->nomem)
		check_segment_overlaps(ld);
	if (!ld->nomem)
		check_service_overlaps(ld);
	if (!ld->nomem)
		check_usage(ld);
}

/* The name an `@include "name"` on the given line of file says, or false. */
static bool include_name_at(const char *file, uint32_t line, char *name, size_t len)
{
	char text[1024];
	const char *p, *end;

	if (!read_line(file, line, text, sizeof(text), NULL))
		return false;
	p = strstr(text, "@include");
	if (p == NULL || (p = strchr(p, '"')) == NULL || (end = strchr(p + 1, '"')) == NULL)
		return false;
	if ((size_t)(end - p - 1) >= len)
		return false;
	memcpy(name, p + 1, (size_t)(end - p - 1));
	name[end - p - 1] = '\0';
	return true;
}

/* libconfig stops at its first error: report it like ours. */
static void report_read_error(struct loader *ld, const config_t *cfg)
{
	const char *file = file_shown(ld, config_error_file(cfg));
	int line = config_error_line(cfg);
	const char *text = config_error_text(cfg) ? config_error_text(cfg) : "cannot read the file";
	char msg[1024], name[256];
	struct ztg_quoted sn;

	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO) {
		snprintf(msg, sizeof(msg), "cannot read the policy file");
	} else if (strcmp(text, "cannot open include file") == 0) {
		if (include_name_at(file, line > 0 ? (uint32_t)line : 0, name, sizeof(name)))
			snprintf(msg, sizeof(msg), "cannot open include file %s (include paths are relative to the "
				 "policy file's directory \"%s\")", ztg_error_quote(&sn, name), ld->dir);
		else
			snprintf(msg, sizeof(msg), "cannot open include file (include paths are relative to the "
				 "policy file's directory \"%s\")", ld->dir);
	} else {
		snprintf(msg, sizeof(msg), "%s", text);
	}
	diag_add(ld, ZTG_POLICY_ERROR, file, line > 0 ? (uint32_t)line : 0, msg);
}

/*
 * libconfig 1.5 opens whatever an @include names: a directory makes its
 * scanner call exit() (the whole process would go), a FIFO blocks, a device
 * such as /dev/zero never ends. So before libconfig reads anything, each
 * include line of each file reachable from the policy must name a regular
 * file. Like libconfig, only lines that start (after blanks) with
 * `@include "` count, and the name is used as written, without escapes, after
 * the include directory. Unlike libconfig, block comments are not skipped: a
 * commented-out include of a directory is refused too, the safe side.
 */
#define INCLUDE_MAX_FILES 1024     /* distinct files one policy may pull in */
#define INCLUDE_MAX_DEPTH 16       /* libconfig itself stops at 10 */

struct file_id {
	dev_t dev;
	ino_t ino;
};

struct include_scan {
	struct file_id *seen;
	uint32_t count;
	uint32_t capacity;
};

/* true when st's file was scanned already; otherwise remembers it. */
static bool include_seen(struct loader *ld, struct include_scan *scan, const struct stat *st, const char *shown,
			 uint32_t line)
{
	for (uint32_t i = 0; i < scan->count; i++) {
		if (scan->seen[i].dev == st->st_dev && scan->seen[i].ino == st->st_ino)
			return true;
	}
	if (scan->count == INCLUDE_MAX_FILES) {
		char msg[128];

		snprintf(msg, sizeof(msg), "more than %u files included", INCLUDE_MAX_FILES);
		diag_add(ld, ZTG_POLICY_ERROR, shown, line, msg);
		return true;
	}
	if (scan->count == scan->capacity) {
		uint32_t cap = scan->capacity ? 2 * scan->capacity : 8;
		struct file_id *grown = realloc(scan->seen, cap * sizeof(*grown));

		if (grown == NULL) {
			out_of_memory(ld);
			return true;
		}
		scan->seen = grown;
		scan->capacity = cap;
	}
	scan->seen[scan->count++] = (struct file_id){st->st_dev, st->st_ino};
	return false;
}

/* Per include level; on the heap, as the scan recurses. */
struct include_buffers {
	char name[PATH_MAX / 2];
	char target[PATH_MAX];
	char shown[PATH_MAX];
	char msg[PATH_MAX];
};

static void scan_includes(struct loader *ld, struct include_scan *scan, const char *file, const char *shown,
			  unsigned depth)
{
	struct include_buffers *b;
	char *text = NULL;
	uint32_t line = 0;
	size_t cap = 0;
	FILE *f;

	if (depth > INCLUDE_MAX_DEPTH)
		return;
	f = fopen(file, "r");
	if (f == NULL)
		return;                  /* libconfig says it cannot open it */
	b = malloc(sizeof(*b));
	if (b == NULL) {
		fclose(f);
		out_of_memory(ld);
		return;
	}
	while (getline(&text, &cap, f) >= 0 && !ld->nomem) {
		const char *p = text, *end;
		struct stat st;
		struct ztg_quoted sn;

		line++;
		p += strspn(p, " \t");
		if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
			continue;
		p += 8;
		p += strspn(p, " \t");
		if (*p != '"' || (end = strchr(p + 1, '"')) == NULL)
			continue;        /* not an include to libconfig either: its syntax error */
		if ((size_t)(end - p - 1) >= sizeof(b->name)) {
			diag_add(ld, ZTG_POLICY_ERROR, shown, line, "include file name too long");
			continue;
		}
		memcpy(b->name, p + 1, (size_t)(end - p - 1));
		b->name[end - p - 1] = '\0';
		if (strchr(b->name, '\\') != NULL) {
			snprintf(b->msg, sizeof(b->msg), "cannot include %s: escapes are not supported in include names",
				 ztg_error_quote(&sn, b->name));
			diag_add(ld, ZTG_POLICY_ERROR, shown, line, b->msg);
			continue;
		}
		/* What libconfig opens: the include directory, '/', the name. */
		if ((size_t)snprintf(b->target, sizeof(b->target), "%s/%s", ld->dir, b->name) >= sizeof(b->target) ||
		    stat(b->target, &st) != 0)
			continue;        /* libconfig says it cannot open it, at this line */
		if (!S_ISREG(st.st_mode)) {
			snprintf(b->msg, sizeof(b->msg), "cannot include %s: it is %s (an include names a regular file, "
				 "relative to the policy file's directory \"%s\")", ztg_error_quote(&sn, b->name),
				 ztg_config_file_kind(st.st_mode), ld->dir);
			diag_add(ld, ZTG_POLICY_ERROR, shown, line, b->msg);
			continue;
		}
		if (include_seen(ld, scan, &st, shown, line))
			continue;
		compose_shown(ld, b->name, b->shown, sizeof(b->shown));
		scan_includes(ld, scan, b->target, b->shown, depth + 1);
	}
	free(text);
	free(b);
	fclose(f);
}

/*
 * The policy file must be a regular file, and so must everything it
 * includes; false (reported) when not.
 */
static bool check_files(struct loader *ld)
{
	struct include_scan scan = {NULL, 0, 0};
	uint32_t errors = ld->errors;
	char msg[512];
	struct stat st;

	if (stat(ld->path, &st) != 0) {
		snprintf(msg, sizeof(msg), "cannot open the policy file: %s", strerror(errno));
		diag_add(ld, ZTG_POLICY_ERROR, ld->policy->path, 0, msg);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, sizeof(msg), "the policy file is %s, not a regular file", ztg_config_file_kind(st.st_mode));
		diag_add(ld, ZTG_POLICY_ERROR, ld->policy->path, 0, msg);
		return false;
	}
	include_seen(ld, &scan, &st, ld->policy->path, 0);
	scan_includes(ld, &scan, ld->path, ld->policy->path, 1);
	free(scan.seen);
	return ld->errors == errors && !ld->nomem;
}

int ztg_policy_load(const char *path, struct ztg_policy **out, struct ztg_policy_diag *diag)
{
	struct loader ld;
	struct ztg_policy *p;
	const char *slash;
	config_t cfg;
	FILE *f;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	memset(&ld, 0, sizeof(ld));
	ld.policy = p;
	ld.diag = diag;
	ld.path = path;
	p->mode = ZTG_POLICY_MODE_ENFORCE;
	p->defaults.action = ZTG_POLICY_ACTION_DENY;
	p->defaults.non_http = ZTG_POLICY_ACTION_DROP;
	p->defaults.unknown_host = ZTG_POLICY_ACTION_DENY;
	p->path = arena_strdup(&ld, path);
	slash = strrchr(path, '/');
	ld.dir_given = slash != NULL;
	if (slash == NULL)
		ld.dir = arena_strdup(&ld, ".");
	else
		ld.dir = arena_strndup(&ld, path, slash == path ? 1 : (size_t)(slash - path));
	if (ld.nomem) {
		ztg_policy_free(p);
		return -ENOMEM;
	}
	p->loc.file = p->path;
	p->loc.line = 0;

	/* libconfig says only "file I/O error"; the reason comes from our own open. */
	f = check_files(&ld) ? fopen(path, "r") : NULL;
	if (f == NULL && ld.errors == 0 && !ld.nomem) {
		char msg[300];

		snprintf(msg, sizeof(msg), "cannot open the policy file: %s", strerror(errno));
		diag_add(&ld, ZTG_POLICY_ERROR, p->path, 0, msg);
	} else if (f != NULL) {
		fclose(f);
		config_init(&cfg);
		config_set_include_dir(&cfg, ld.dir);
		if (config_read_file(&cfg, path) != CONFIG_TRUE)
			report_read_error(&ld, &cfg);
		else
			parse_policy(&ld, config_root_setting(&cfg));
		config_destroy(&cfg);
	}

	free(ld.files);
	free(ld.segment_names);
	free(ld.service_names);
	free(ld.issuer_names);
	free(ld.grants);
	if (ld.nomem)
		rc = -ENOMEM;
	else if (ld.errors > 0)
		rc = -EINVAL;
	else
		rc = 0;
	if (rc == 0)
		*out = p;
	else
		ztg_policy_free(p);
	return rc;
}
