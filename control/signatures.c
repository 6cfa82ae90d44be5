/*
 * Signature rule loader: one libconfig rule file -> struct ztg_sig_set, with
 * every problem reported at its line.
 *
 * Modelled on the policy loader (policy_load.c): each value is checked on its
 * own as the tree is walked, a rule with a bad field stays in the set with
 * that field left empty so the checks across rules (unique ids) still see
 * it, and the set is only handed out when no error was found. Diagnostics go
 * to the policy loader's struct ztg_policy_diag, so one report can hold a
 * policy's problems and its rule sets'.
 *
 * The file is read into memory first (opened once, checked to be a regular
 * file on the descriptor read from) and looked at before libconfig sees it,
 * for what libconfig 1.5 gets silently or dangerously wrong:
 *  - `@include` lines are refused: a rule set is one file, and libconfig
 *    would open whatever one names (a directory makes it call exit());
 *  - NUL bytes are refused (libconfig would stop reading at the first);
 *  - an integer written without the L suffix that does not fit 32 bits is
 *    truncated by libconfig to its low 32 bits without a word (id =
 *    4294967297 reads as 1): such integers are remembered with their line
 *    and reported as out of range when an id or score turns out to be one;
 *  - "\x00" in a string is dropped by libconfig without a word: refused.
 *
 * Ids are checked for uniqueness by sorting, so a set at ZTG_SIG_MAX_RULES
 * loads in n log n.
 */
#include "signatures.h"

#include "arena.h"
#include "config_check.h"
#include "error_text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

/* ------------------------------------------------------------------ names */

static const char *const field_names[] = {
#define ZTG_SIG_FIELD_NAME(sym, name) name,
	ZTG_SIG_FIELDS(ZTG_SIG_FIELD_NAME)
#undef ZTG_SIG_FIELD_NAME
};

static const char *const severity_names[] = {
#define ZTG_SIG_SEVERITY_NAME(sym, name) name,
	ZTG_SIG_SEVERITIES(ZTG_SIG_SEVERITY_NAME)
#undef ZTG_SIG_SEVERITY_NAME
};

static const char *const action_names[] = {
#define ZTG_SIG_ACTION_NAME(sym, name) name,
	ZTG_SIG_ACTIONS(ZTG_SIG_ACTION_NAME)
#undef ZTG_SIG_ACTION_NAME
};

/* Index = enum value: "none" first, which no rule can name (parse_validator() looks from index 1). */
static const char *const validator_names[] = {
	"none",
#define ZTG_SIG_VALIDATOR_NAME(sym, name) name,
	ZTG_SIG_VALIDATORS(ZTG_SIG_VALIDATOR_NAME)
#undef ZTG_SIG_VALIDATOR_NAME
};

/* A rule's mode: index 1 sets monitor. */
static const char *const mode_names[] = {"enforce", "monitor"};

const char *ztg_sig_field_name(enum ztg_sig_field field)
{
	return (unsigned)field < ZTG_SIG_FIELD_COUNT ? field_names[field] : "?";
}

static int name_index(const char *const *names, unsigned count, const char *name)
{
	for (unsigned i = 0; name != NULL && i < count; i++) {
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

int ztg_sig_field_from_name(const char *name, enum ztg_sig_field *out)
{
	int i = name_index(field_names, ZTG_SIG_FIELD_COUNT, name);

	if (i < 0)
		return -1;
	*out = (enum ztg_sig_field)i;
	return 0;
}

const char *ztg_sig_severity_name(enum ztg_sig_severity severity)
{
	return (unsigned)severity < ZTG_SIG_SEVERITY_COUNT ? severity_names[severity] : "?";
}

const char *ztg_sig_action_name(enum ztg_sig_action action)
{
	return (unsigned)action < ZTG_SIG_ACTION_COUNT ? action_names[action] : "?";
}

const char *ztg_sig_validator_name(enum ztg_sig_validator validator)
{
	return (unsigned)validator < ZTG_SIG_VALIDATOR_COUNT ? validator_names[validator] : "?";
}

/* ------------------------------------------------------------------ arena */

void ztg_sig_set_free(struct ztg_sig_set *set)
{
	if (set == NULL)
		return;
	ztg_arena_free(set->arena);
	free(set);
}

/* ----------------------------------------------------------------- loader */

/*
 * An integer libconfig 1.5 read as a 32-bit one although it does not fit:
 * where it was, what libconfig made of it, and what was written.
 */
struct wide_int {
	uint32_t line;
	int32_t truncated;
	bool used;
	char text[32];
};

struct id_ref {
	uint32_t id;
	uint32_t index;
	uint32_t line;
};

struct loader {
	struct ztg_sig_set *set;
	struct ztg_policy_diag *diag;
	uint32_t errors;
	bool nomem;
	struct wide_int *wide;           /* in line order */
	uint32_t wide_count;
	uint32_t wide_capacity;
};

static void *arena_alloc(struct loader *ld, size_t count, size_t size)
{
	void *p;

	if (count == 0 || size == 0 || ld->nomem)
		return NULL;
	p = ztg_arena_alloc(&ld->set->arena, count, size);
	if (p == NULL)
		ld->nomem = true;
	return p;
}

static char *arena_strndup(struct loader *ld, const char *s, size_t len)
{
	char *p = arena_alloc(ld, len + 1, 1);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

/* ------------------------------------------------------------ diagnostics */

static void diag_add(struct loader *ld, enum ztg_policy_severity severity, uint32_t line, const char *message)
{
	if (severity == ZTG_POLICY_ERROR)
		ld->errors++;
	if (ztg_policy_diag_add(ld->diag, severity, ld->set->path, line, message) != 0)
		ld->nomem = true;
}

static void report(struct loader *ld, enum ztg_policy_severity severity, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void error_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_v(struct loader *ld, enum ztg_policy_severity severity, uint32_t line, const char *fmt,
		     va_list ap)
{
	char msg[1024];

	ztg_error_vformat(msg, sizeof(msg), fmt, ap);
	diag_add(ld, severity, line, msg);
}

static void report(struct loader *ld, enum ztg_policy_severity severity, uint32_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(ld, severity, line, fmt, ap);
	va_end(ap);
}

/* An error at the line of a setting (the file is always the set's: a rule file includes nothing). */
static void error_at(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(ld, ZTG_POLICY_ERROR, config_setting_source_line(s), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------- message helpers */

/* One character in single quotes, escaped when it is not printable ASCII. */
struct shown_char {
	char text[8];
};

static const char *show_char(struct shown_char *b, char c)
{
	unsigned char u = (unsigned char)c;

	if (u < 0x20 || u >= 0x7f || c == '\'' || c == '\\')
		snprintf(b->text, sizeof(b->text), "'\\x%02x'", u);
	else
		snprintf(b->text, sizeof(b->text), "'%c'", c);
	return b->text;
}

/* "where.key[i]": built only for a message, as a large set has millions of elements. */
struct elem_path {
	char text[96];
};

static const char *elem_path(struct elem_path *b, const char *where, const char *key, uint32_t i)
{
	snprintf(b->text, sizeof(b->text), "%s.%s[%u]", where, key, i);
	return b->text;
}

static void wrong_type(struct loader *ld, const config_setting_t *s, const char *path, const char *expect)
{
	error_at(ld, s, "%s: expected %s, got %s", path, expect, ztg_config_type_name(s));
}

/* ------------------------------------------------------ libconfig access */

/*
 * Members are looked up once per group (check_keys() fills a table indexed
 * like the key list) and the helpers below take the member itself, NULL
 * when absent: a large set has hundreds of thousands of them. Messages are
 * only composed when there is something to report. libconfig itself
 * refuses a name given twice in a group.
 */
static void key_error(void *ctx, const config_setting_t *at, const char *message)
{
	error_at(ctx, at, "%s", message);
}

static void check_keys(struct loader *ld, const config_setting_t *group, const char *where,
		       const struct ztg_config_key *keys, size_t key_count, const config_setting_t **found)
{
	ztg_config_check_keys(group, where, keys, key_count, found, key_error, ld);
}

/* The string value of member s (where.key); NULL when absent or not a string (reported). */
static const char *string_value(struct loader *ld, const config_setting_t *s, const char *where, const char *key,
				const char *expect)
{
	char path[64];

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), expect);
		return NULL;
	}
	return config_setting_get_string(s);
}

/* Member s as a list or array; NULL when absent or of another type (reported). */
static const config_setting_t *list_value(struct loader *ld, const config_setting_t *s, const char *where,
					  const char *key, const char *expect)
{
	char path[64];

	if (s == NULL)
		return NULL;
	if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), expect);
		return NULL;
	}
	return s;
}

/* The integer libconfig truncated from what was written at line, if any; each is used once. */
static struct wide_int *wide_at(struct loader *ld, uint32_t line, long long value)
{
	uint32_t lo = 0, hi = ld->wide_count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ld->wide[mid].line < line)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ld->wide_count && ld->wide[lo].line == line; lo++) {
		if (!ld->wide[lo].used && ld->wide[lo].truncated == value) {
			ld->wide[lo].used = true;
			return &ld->wide[lo];
		}
	}
	return NULL;
}

/* Member s as an integer in [min, max] into *out; false when absent or bad (reported). */
static bool int_value(struct loader *ld, const config_setting_t *s, const char *where, const char *key,
		      uint32_t min, uint32_t max, uint32_t *out)
{
	char path[64], expect[64];
	const struct wide_int *w;
	long long v;

	if (s == NULL)
		return false;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
		snprintf(expect, sizeof(expect), "an integer %u..%u", min, max);
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), expect);
		return false;
	}
	v = config_setting_get_int64(s);
	/* What libconfig truncated is reported as written; a file usually has no such integer at all. */
	if (ld->wide_count > 0 && config_setting_type(s) == CONFIG_TYPE_INT &&
	    (w = wide_at(ld, config_setting_source_line(s), v)) != NULL) {
		error_at(ld, s, "%s: %s is out of range %u..%u", ztg_config_key_path(path, sizeof(path), where, key),
			 w->text, min, max);
		return false;
	}
	if (v < (long long)min || v > (long long)max) {
		error_at(ld, s, "%s: %lld is out of range %u..%u", ztg_config_key_path(path, sizeof(path), where, key),
			 v, min, max);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Member s as one of names[0..count); -1 when absent or bad (reported). */
static int choice_value(struct loader *ld, const config_setting_t *s, const char *where, const char *key,
			const char *const *names, unsigned count)
{
	char expect[128], expect_type[160], path[64];
	struct ztg_quoted sn;
	int i;

	if (s == NULL)
		return -1;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		i = name_index(names, count, config_setting_get_string(s));
		if (i >= 0)
			return i;
	}
	ztg_config_choice_list(expect, sizeof(expect), names, count, UINT32_MAX);
	ztg_config_key_path(path, sizeof(path), where, key);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		snprintf(expect_type, sizeof(expect_type), "a string (%s)", expect);
		wrong_type(ld, s, path, expect_type);
	} else {
		error_at(ld, s, "%s: unknown %s %s (expected %s)", path, key, ztg_error_quote(&sn, config_setting_get_string(s)),
			 expect);
	}
	return -1;
}

/* Length of a list, reported and cut when over max. */
static uint32_t capped_length(struct loader *ld, const config_setting_t *list, const char *path, uint32_t max,
			      const char *what)
{
	int n = config_setting_length(list);

	if (n <= 0)
		return 0;
	if ((uint32_t)n > max) {
		error_at(ld, list, "%s: %d %s, at most %u are allowed", path, n, what, max);
		return max;
	}
	return (uint32_t)n;
}

/* ------------------------------------------------------------ the text */

/* A refusal of the file as a whole: -EISDIR for a directory, -EINVAL for anything else not regular. */
static int refuse_kind(struct loader *ld, mode_t mode)
{
	report(ld, ZTG_POLICY_ERROR, 0, "the rule file is %s, not a regular file", ztg_config_file_kind(mode));
	return S_ISDIR(mode) ? -EISDIR : -EINVAL;
}

/*
 * The whole file, NUL-terminated, into *out. Anything but a regular file is
 * refused before it is opened (a FIFO would block, a directory make
 * libconfig exit) and again on what was opened, in case it was replaced.
 * 0, or a negative errno (reported).
 */
static int read_text(struct loader *ld, const char *path, char **out, size_t *out_len)
{
	size_t len = 0, cap;
	struct stat st;
	char *buf;
	int fd, err;

	*out = NULL;
	*out_len = 0;
	if (stat(path, &st) != 0) {
		err = errno;
		report(ld, ZTG_POLICY_ERROR, 0, "cannot open the rule file: %s", strerror(err));
		return -err;
	}
	if (!S_ISREG(st.st_mode))
		return refuse_kind(ld, st.st_mode);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err = errno;
		report(ld, ZTG_POLICY_ERROR, 0, "cannot open the rule file: %s", strerror(err));
		return -err;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		report(ld, ZTG_POLICY_ERROR, 0, "cannot read the rule file: %s", strerror(err));
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse_kind(ld, st.st_mode);
	}
	if (st.st_size > (off_t)ZTG_SIG_FILE_MAX) {
		close(fd);
		report(ld, ZTG_POLICY_ERROR, 0, "the rule file is %lld bytes, more than the %u allowed",
		       (long long)st.st_size, ZTG_SIG_FILE_MAX);
		return -EFBIG;
	}
	cap = (size_t)st.st_size + 1;   /* one more, to see the end of a file that did not grow */
	buf = malloc(cap + 1);
	if (buf == NULL) {
		close(fd);
		ld->nomem = true;
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *grown;

			if (cap > ZTG_SIG_FILE_MAX)
				break;
			cap = cap * 2 > (size_t)ZTG_SIG_FILE_MAX + 1 ? (size_t)ZTG_SIG_FILE_MAX + 1 : cap * 2;
			grown = realloc(buf, cap + 1);
			if (grown == NULL) {
				free(buf);
				close(fd);
				ld->nomem = true;
				return -ENOMEM;
			}
			buf = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			free(buf);
			close(fd);
			report(ld, ZTG_POLICY_ERROR, 0, "cannot read the rule file: %s", strerror(err));
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > ZTG_SIG_FILE_MAX) {
		free(buf);
		report(ld, ZTG_POLICY_ERROR, 0, "the rule file is more than the %u bytes allowed", ZTG_SIG_FILE_MAX);
		return -EFBIG;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/*
 * What libconfig must not be given: NUL bytes (it would stop reading at the
 * first) and include lines (libconfig 1.5 opens what they name: a rule set
 * is one file). Include lines are found the way libconfig's scanner finds
 * them, at the start of a line after blanks; unlike libconfig this does not
 * skip comments or strings, the safe side. false when any was found
 * (reported).
 */
static bool check_text(struct loader *ld, const char *text, size_t len)
{
	uint32_t errors = ld->errors, line = 1;
	const char *nul = memchr(text, '\0', len);

	if (nul != NULL) {
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		report(ld, ZTG_POLICY_ERROR, line, "the rule file holds a NUL byte (a rule file is text)");
		return false;
	}
	for (const char *p = text; p != NULL && *p != '\0'; line++) {
		const char *s = p + strspn(p, " \t");

		if (strncmp(s, "@include", 8) == 0)
			report(ld, ZTG_POLICY_ERROR, line, "@include is not allowed in a rule file (a rule set is "
			       "one file)");
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return ld->errors == errors;
}

static void add_wide(struct loader *ld, uint32_t line, unsigned long long bits, const char *text, size_t len)
{
	struct wide_int *w;

	if (ld->wide_count == ld->wide_capacity) {
		uint32_t cap = ld->wide_capacity ? 2 * ld->wide_capacity : 8;
		struct wide_int *grown = realloc(ld->wide, cap * sizeof(*grown));

		if (grown == NULL) {
			ld->nomem = true;
			return;
		}
		ld->wide = grown;
		ld->wide_capacity = cap;
	}
	w = &ld->wide[ld->wide_count++];
	w->line = line;
	/* What libconfig keeps: the low 32 bits, as a signed int. */
	w->truncated = (int32_t)(uint32_t)bits;
	w->used = false;
	if (len < sizeof(w->text))
		snprintf(w->text, sizeof(w->text), "%.*s", (int)len, text);
	else
		snprintf(w->text, sizeof(w->text), "%.*s...", (int)sizeof(w->text) - 4, text);
}

/* A number token at text[i]; remembers it when libconfig will truncate it. Returns the index after it. */
static size_t scan_number(struct loader *ld, const char *text, size_t i, uint32_t line)
{
	size_t start = i;
	bool hex = text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X');
	unsigned long long bits;
	bool wide;

	if (hex) {
		for (i += 2; isxdigit((unsigned char)text[i]); i++)
			;
	} else {
		if (text[i] == '-' || text[i] == '+')
			i++;
		while (isdigit((unsigned char)text[i]))
			i++;
		if (text[i] == '.' || text[i] == 'e' || text[i] == 'E') {
			/* A float: libconfig reads it whole, nothing to truncate. */
			for (; isdigit((unsigned char)text[i]) || text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
			       ((text[i] == '-' || text[i] == '+') && (text[i - 1] == 'e' || text[i - 1] == 'E')); i++)
				;
			return i;
		}
	}
	if (text[i] == 'L')
		return i + 1;    /* a 64-bit integer, read whole */
	errno = 0;
	if (hex) {
		bits = strtoull(text + start, NULL, 16);
		wide = errno == ERANGE || bits > INT32_MAX;
	} else {
		long long v = strtoll(text + start, NULL, 10);

		bits = (unsigned long long)v;
		wide = errno == ERANGE || v < INT32_MIN || v > INT32_MAX;
	}
	if (wide)
		add_wide(ld, line, bits, text + start, i - start);
	return i;
}

/* A string's body from text[i]; reports "\x00", which libconfig drops. Returns the index after its quote. */
static size_t scan_string(struct loader *ld, const char *text, size_t len, size_t i, uint32_t *line)
{
	for (; i < len && text[i] != '"'; i++) {
		*line += text[i] == '\n';
		if (text[i] != '\\')
			continue;
		if ((text[i + 1] == 'x' || text[i + 1] == 'X') && isxdigit((unsigned char)text[i + 2]) &&
		    isxdigit((unsigned char)text[i + 3])) {
			if (text[i + 2] == '0' && text[i + 3] == '0')
				report(ld, ZTG_POLICY_ERROR, *line, "a string holds \\x00, which libconfig drops "
				       "without a word: a value cannot hold a NUL byte (a pattern matches one with "
				       "\\\\x00)");
			i += 3;
		} else if (i + 1 < len) {
			i++;
			*line += text[i] == '\n';
		}
	}
	return i < len ? i + 1 : len;
}

/*
 * A pass over the text with libconfig's token rules, for what libconfig
 * 1.5 changes without a word: integers too wide for 32 bits (remembered,
 * see int_value()) and "\x00" escapes in strings, which it drops (refused:
 * no value can hold a NUL byte).
 */
static void scan_tokens(struct loader *ld, const char *text, size_t len)
{
	uint32_t line = 1;
	size_t i = 0;

	while (i < len && !ld->nomem) {
		char c = text[i];

		if (c == '\n') {
			line++;
			i++;
		} else if (c == '#' || (c == '/' && text[i + 1] == '/')) {
			while (i < len && text[i] != '\n')
				i++;
		} else if (c == '/' && text[i + 1] == '*') {
			for (i += 2; i < len && !(text[i] == '*' && text[i + 1] == '/'); i++)
				line += text[i] == '\n';
			i = i < len ? i + 2 : len;
		} else if (c == '"') {
			i = scan_string(ld, text, len, i + 1, &line);
		} else if (isalpha((unsigned char)c) || c == '*') {
			/* A name: its digits are no number. */
			while (isalnum((unsigned char)text[i]) || text[i] == '_' || text[i] == '-' || text[i] == '*')
				i++;
		} else if (isdigit((unsigned char)c) ||
			   ((c == '-' || c == '+') && isdigit((unsigned char)text[i + 1]))) {
			i = scan_number(ld, text, i, line);
		} else {
			i++;
		}
	}
}

/* ------------------------------------------------------------------ rules */

#define NAME_EXPECT "1 to 64 of A-Z a-z 0-9 _ . -"
#define FLAGS_EXPECT "i, s, m, u, p"
#define TAG_MAX_LEN 64
#define ID_MAX 2147483647u

enum rule_key {
	RK_ID, RK_MESSAGE, RK_SEVERITY, RK_ACTION, RK_SCORE, RK_FIELDS, RK_HEADER, RK_PATTERN, RK_LITERAL, RK_FLAGS,
	RK_VALIDATOR, RK_TAGS, RK_MODE, RK_COUNT
};

static const struct ztg_config_key rule_keys[RK_COUNT] = {
	[RK_ID] = {"id", true, "an integer 1..2147483647, unique in the set"},
	[RK_MESSAGE] = {"message", true, "a string of 1 to 256 bytes"},
	[RK_SEVERITY] = {"severity", true, "info, low, medium, high or critical"},
	[RK_ACTION] = {"action", true, "block, alert or score"},
	[RK_SCORE] = {"score", false, "1..1000, with action \"score\""},
	[RK_FIELDS] = {"fields", true, "a list of field names, e.g. [ \"query\", \"request_body\" ]"},
	[RK_HEADER] = {"header", false, "the header name the field \"header\" matches"},
	[RK_PATTERN] = {"pattern", false, "a Hyperscan regex"},
	[RK_LITERAL] = {"literal", false, "exact bytes"},
	[RK_FLAGS] = {"flags", false, "a string of flag letters: " FLAGS_EXPECT},
	[RK_VALIDATOR] = {"validator", false, "luhn or iban, with a pattern"},
	[RK_TAGS] = {"tags", false, "a list of tags"},
	[RK_MODE] = {"mode", false, "enforce or monitor"},
};

#define RULE_EXPECT "a group { id = ...; message = ...; ... }"

static void parse_message(struct loader *ld, const config_setting_t *s, const char *where, struct ztg_sig_rule *r)
{
	const char *v = string_value(ld, s, where, "message", "a string of 1 to 256 bytes");
	size_t len;

	if (v == NULL)
		return;
	len = strlen(v);
	if (len == 0 || len > ZTG_SIG_MESSAGE_MAX) {
		error_at(ld, s, "%s.message: %zu bytes (expected 1 to %u)", where, len, ZTG_SIG_MESSAGE_MAX);
		return;
	}
	/* It goes into logs and alerts as one line. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f) {
			error_at(ld, s, "%s.message: holds a control character (0x%02x) at offset %zu", where, c, i);
			return;
		}
	}
	r->message = arena_strndup(ld, v, len);
}

/* What fields said that other keys depend on. */
struct fields_seen {
	bool listed;          /* a usable list, even with bad entries */
	bool header;          /* "header" is among them */
};

static void parse_fields(struct loader *ld, const config_setting_t *s, const char *where, struct ztg_sig_rule *r,
			 struct fields_seen *seen)
{
	const config_setting_t *list = list_value(ld, s, where, "fields", "a list of field names");
	uint32_t n, fields = 0;
	char expect[256];

	if (list == NULL)
		return;
	seen->listed = true;
	n = (uint32_t)config_setting_length(list);
	if (n == 0) {
		error_at(ld, list, "%s.fields: empty list (expected at least one of %s)", where,
			 ztg_config_choice_list(expect, sizeof(expect), field_names, ZTG_SIG_FIELD_COUNT, UINT32_MAX));
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *f = config_setting_get_elem(list, i);
		enum ztg_sig_field field;
		struct elem_path ep;
		const char *v;
		struct ztg_quoted sn;

		if (config_setting_type(f) != CONFIG_TYPE_STRING) {
			wrong_type(ld, f, elem_path(&ep, where, "fields", i), "a field name such as \"query\"");
			continue;
		}
		v = config_setting_get_string(f);
		if (ztg_sig_field_from_name(v, &field) < 0) {
			error_at(ld, f, "%s: unknown field %s (expected %s)", elem_path(&ep, where, "fields", i),
				 ztg_error_quote(&sn, v),
				 ztg_config_choice_list(expect, sizeof(expect), field_names, ZTG_SIG_FIELD_COUNT, UINT32_MAX));
			continue;
		}
		if (field == ZTG_SIG_FIELD_HEADER)
			seen->header = true;
		if (fields & ZTG_SIG_FIELD_BIT(field)) {
			error_at(ld, f, "%s: field %s is listed twice", elem_path(&ep, where, "fields", i),
				 ztg_error_quote(&sn, v));
			continue;
		}
		fields |= ZTG_SIG_FIELD_BIT(field);
	}
	r->fields = fields;
}

/* The header key: an HTTP field name (RFC 9110 token), kept lowercase; only with the field "header". */
static void parse_header(struct loader *ld, const config_setting_t *e, const config_setting_t *s, const char *where,
			 struct ztg_sig_rule *r, const struct fields_seen *seen)
{
	const char *v = string_value(ld, s, where, "header", "a header name such as \"User-Agent\"");
	char lower[ZTG_POLICY_HEADER_NAME_MAX + 1];
	struct ztg_quoted sn;
	size_t len;

	if (s == NULL) {
		if (seen->header)
			error_at(ld, e, "%s: the field \"header\" needs the key header, the name of the header it "
				 "matches (e.g. header = \"User-Agent\";)", where);
		return;
	}
	if (seen->listed && !seen->header)
		error_at(ld, s, "%s.header: only the field \"header\" takes a header name (add \"header\" to fields "
			 "or remove this key)", where);
	if (v == NULL)
		return;
	len = strlen(v);
	if (len == 0 || len > ZTG_POLICY_HEADER_NAME_MAX ||
	    strspn(v, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != len) {
		error_at(ld, s, "%s.header: %s is not a valid header name (1 to %d token characters: A-Z a-z 0-9 "
			 "and !#$%%&'*+-.^_`|~)", where, ztg_error_quote(&sn, v), ZTG_POLICY_HEADER_NAME_MAX);
		return;
	}
	if (!seen->header)
		return;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)v[i]);
	r->header = arena_strndup(ld, lower, len);
}

/* pattern or literal: a string of 1..ZTG_SIG_PATTERN_MAX bytes; NULL when bad (reported). */
static const char *pattern_text(struct loader *ld, const config_setting_t *s, const char *where, const char *key,
				size_t *len)
{
	char path[64];
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		wrong_type(ld, s, ztg_config_key_path(path, sizeof(path), where, key), strcmp(key, "literal") == 0 ?
			   "a string of the exact bytes to match" : "a string holding a Hyperscan regex");
		return NULL;
	}
	v = config_setting_get_string(s);
	*len = strlen(v);
	if (*len == 0 || *len > ZTG_SIG_PATTERN_MAX) {
		error_at(ld, s, "%s: %zu bytes (expected 1 to %u)", ztg_config_key_path(path, sizeof(path), where, key), *len,
			 ZTG_SIG_PATTERN_MAX);
		return NULL;
	}
	return v;
}

/* Exactly one of pattern (p) and literal (l). Returns whether the rule is a literal, for the flags. */
static bool parse_pattern(struct loader *ld, const config_setting_t *e, const config_setting_t *p,
			  const config_setting_t *l, const char *where, struct ztg_sig_rule *r)
{
	const char *pv = NULL, *lv = NULL;
	size_t plen = 0, llen = 0;

	if (p != NULL)
		pv = pattern_text(ld, p, where, "pattern", &plen);
	if (l != NULL)
		lv = pattern_text(ld, l, where, "literal", &llen);
	if (p != NULL && l != NULL) {
		error_at(ld, e, "%s: both pattern and literal are given (a rule has exactly one)", where);
		return false;
	}
	if (p == NULL && l == NULL) {
		error_at(ld, e, "%s: missing required key \"pattern\" or \"literal\" (a Hyperscan regex, or exact "
			 "bytes)", where);
		return false;
	}
	if (pv != NULL) {
		r->pattern = arena_strndup(ld, pv, plen);
		r->pattern_len = (uint32_t)plen;
	} else if (lv != NULL) {
		r->pattern = arena_strndup(ld, lv, llen);
		r->pattern_len = (uint32_t)llen;
	}
	r->literal = l != NULL;
	return l != NULL;
}

static uint32_t flag_bit(char c)
{
	switch (c) {
	case 'i':
		return ZTG_SIG_FLAG_CASELESS;
	case 's':
		return ZTG_SIG_FLAG_DOTALL;
	case 'm':
		return ZTG_SIG_FLAG_MULTILINE;
	case 'u':
		return ZTG_SIG_FLAG_UTF8;
	case 'p':
		return ZTG_SIG_FLAG_UCP;
	default:
		return 0;
	}
}

static void parse_flags(struct loader *ld, const config_setting_t *s, const char *where, struct ztg_sig_rule *r,
			bool literal)
{
	const char *v = string_value(ld, s, where, "flags", "a string of flag letters (" FLAGS_EXPECT "), e.g. \"i\"");
	uint32_t flags = 0, errors = ld->errors;

	if (v == NULL)
		return;
	for (const char *c = v; *c != '\0'; c++) {
		uint32_t bit = flag_bit(*c);
		struct shown_char sc;

		if (bit == 0) {
			error_at(ld, s, "%s.flags: unknown flag %s (expected " FLAGS_EXPECT ")", where,
				 show_char(&sc, *c));
		} else if (flags & bit) {
			error_at(ld, s, "%s.flags: flag %s is given twice", where, show_char(&sc, *c));
		} else if (literal && bit != ZTG_SIG_FLAG_CASELESS) {
			error_at(ld, s, "%s.flags: flag %s does not apply to a literal (a literal takes only 'i')",
				 where, show_char(&sc, *c));
		}
		flags |= bit;
	}
	if (!literal && (flags & ZTG_SIG_FLAG_UCP) && !(flags & ZTG_SIG_FLAG_UTF8))
		error_at(ld, s, "%s.flags: flag 'p' (Unicode properties) needs 'u' (UTF-8)", where);
	if (ld->errors == errors)
		r->flags = flags;
}

/* validator (s): a check's name, on a pattern only; left NONE when absent or bad (reported). */
static void parse_validator(struct loader *ld, const config_setting_t *s, const char *where, struct ztg_sig_rule *r,
			    bool literal)
{
	int choice;

	if (s == NULL)
		return;
	if (literal) {
		error_at(ld, s, "%s.validator: a literal is exact bytes, there is nothing to validate (write the rule "
			 "with pattern, or remove this key)", where);
		return;
	}
	choice = choice_value(ld, s, where, "validator", validator_names + 1, ZTG_SIG_VALIDATOR_COUNT - 1);
	if (choice >= 0)
		r->validator = (enum ztg_sig_validator)(choice + 1);
}

static bool valid_tag(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= TAG_MAX_LEN && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.:-") == len;
}

static void parse_tags(struct loader *ld, const config_setting_t *s, const char *where, struct ztg_sig_rule *r)
{
	const config_setting_t *list = list_value(ld, s, where, "tags", "a list of tags");
	const char **tags;
	char path[64];
	uint32_t n;

	if (list == NULL)
		return;
	ztg_config_key_path(path, sizeof(path), where, "tags");
	n = capped_length(ld, list, path, ZTG_SIG_MAX_TAGS, "tags");
	if (n == 0) {
		error_at(ld, list, "%s: empty list (leave the key out instead)", path);
		return;
	}
	tags = arena_alloc(ld, n, sizeof(*tags));
	if (tags == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const config_setting_t *t = config_setting_get_elem(list, i);
		struct elem_path ep;
		bool repeated = false;
		const char *v;
		struct ztg_quoted sn;

		if (config_setting_type(t) != CONFIG_TYPE_STRING) {
			wrong_type(ld, t, elem_path(&ep, where, "tags", i), "a tag string such as \"sqli\"");
			continue;
		}
		v = config_setting_get_string(t);
		if (!valid_tag(v)) {
			error_at(ld, t, "%s: %s is not a valid tag (expected 1 to %u of a-z 0-9 _ . : -)",
				 elem_path(&ep, where, "tags", i), ztg_error_quote(&sn, v), TAG_MAX_LEN);
			continue;
		}
		for (uint32_t j = 0; j < r->tag_count && !repeated; j++)
			repeated = strcmp(tags[j], v) == 0;
		if (repeated) {
			error_at(ld, t, "%s: tag %s is listed twice", elem_path(&ep, where, "tags", i), ztg_error_quote(&sn, v));
			continue;
		}
		tags[r->tag_count++] = arena_strndup(ld, v, strlen(v));
	}
	r->tags = tags;
}

/* score (s) goes with action "score", and only with it; action is -1 when it was bad or missing. */
static void parse_score(struct loader *ld, const config_setting_t *e, const config_setting_t *s, const char *where,
			struct ztg_sig_rule *r, int action)
{
	if (action == ZTG_SIG_ACTION_SCORE && s == NULL) {
		error_at(ld, e, "%s: action \"score\" needs a score (score = 1..%u; toward the route's threshold)",
			 where, ZTG_SIG_SCORE_MAX);
		return;
	}
	if (s == NULL)
		return;
	if (action >= 0 && action != ZTG_SIG_ACTION_SCORE) {
		error_at(ld, s, "%s.score: only action \"score\" takes a score (this rule's action is \"%s\")", where,
			 action_names[action]);
		return;
	}
	int_value(ld, s, where, "score", 1, ZTG_SIG_SCORE_MAX, &r->score);
}

/* One rule; what is bad stays empty. Its id, when good, goes to ids for the uniqueness check. */
static void parse_rule(struct loader *ld, const config_setting_t *e, uint32_t index, struct ztg_sig_rule *r,
		       struct id_ref *ids, uint32_t *id_count)
{
	struct fields_seen seen = {false, false};
	const config_setting_t *k[RK_COUNT];
	char where[32];
	int choice;
	bool literal;

	snprintf(where, sizeof(where), "rules[%u]", index);
	r->loc.file = ld->set->path;
	r->loc.line = config_setting_source_line(e);
	if (!config_setting_is_group(e)) {
		wrong_type(ld, e, where, RULE_EXPECT);
		return;
	}
	check_keys(ld, e, where, rule_keys, RK_COUNT, k);
	if (int_value(ld, k[RK_ID], where, "id", 1, ID_MAX, &r->id))
		ids[(*id_count)++] = (struct id_ref){r->id, index, config_setting_source_line(k[RK_ID])};
	parse_message(ld, k[RK_MESSAGE], where, r);
	choice = choice_value(ld, k[RK_SEVERITY], where, "severity", severity_names, ZTG_SIG_SEVERITY_COUNT);
	if (choice >= 0)
		r->severity = (enum ztg_sig_severity)choice;
	choice = choice_value(ld, k[RK_ACTION], where, "action", action_names, ZTG_SIG_ACTION_COUNT);
	if (choice >= 0)
		r->action = (enum ztg_sig_action)choice;
	parse_score(ld, e, k[RK_SCORE], where, r, choice);
	parse_fields(ld, k[RK_FIELDS], where, r, &seen);
	parse_header(ld, e, k[RK_HEADER], where, r, &seen);
	literal = parse_pattern(ld, e, k[RK_PATTERN], k[RK_LITERAL], where, r);
	parse_flags(ld, k[RK_FLAGS], where, r, literal);
	parse_validator(ld, k[RK_VALIDATOR], where, r, literal);
	parse_tags(ld, k[RK_TAGS], where, r);
	r->monitor = choice_value(ld, k[RK_MODE], where, "mode", mode_names, 2) == 1;
}

static int cmp_id_ref(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Each repeat of an id is reported where it is, naming the first rule that has it. */
static void check_ids(struct loader *ld, struct id_ref *ids, uint32_t n)
{
	uint32_t first = 0;

	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_id_ref);
	for (uint32_t i = 1; i < n; i++) {
		if (ids[i].id != ids[first].id) {
			first = i;
			continue;
		}
		report(ld, ZTG_POLICY_ERROR, ids[i].line, "rules[%u].id: duplicate id %u (first used by rules[%u] at "
		       "%s:%u)", ids[i].index, ids[i].id, ids[first].index, ld->set->path, ids[first].line);
	}
}

/* ------------------------------------------------------------- top level */

enum top_key { TK_NAME, TK_RULES, TK_COUNT };

static const struct ztg_config_key top_keys[TK_COUNT] = {
	[TK_NAME] = {"name", true, "the set's name, " NAME_EXPECT},
	[TK_RULES] = {"rules", true, "a list of rules ( { id = ...; ... }, ... )"},
};

static void parse_set(struct loader *ld, const config_setting_t *root)
{
	struct ztg_sig_set *set = ld->set;
	const config_setting_t *k[TK_COUNT], *list;
	struct id_ref *ids;
	uint32_t n, id_count = 0;
	const char *v;
	struct ztg_quoted sn;

	check_keys(ld, root, "", top_keys, TK_COUNT, k);
	v = string_value(ld, k[TK_NAME], "", "name", "a name string (" NAME_EXPECT ")");
	if (k[TK_NAME] != NULL)
		set->loc.line = config_setting_source_line(k[TK_NAME]);
	if (v != NULL && !ztg_policy_name_valid(v, strlen(v)))
		error_at(ld, k[TK_NAME], "name: %s is not a valid name (expected " NAME_EXPECT ")", ztg_error_quote(&sn, v));
	else if (v != NULL)
		set->name = arena_strndup(ld, v, strlen(v));

	list = list_value(ld, k[TK_RULES], "", "rules", "a list of rules ( { id = ...; ... }, ... )");
	if (list == NULL)
		return;
	n = capped_length(ld, list, "rules", ZTG_SIG_MAX_RULES, "rules");
	if (n == 0) {
		report(ld, ZTG_POLICY_WARNING, config_setting_source_line(list), "rules: the set has no rules");
		return;
	}
	set->rules = arena_alloc(ld, n, sizeof(*set->rules));
	ids = malloc(n * sizeof(*ids));
	if (set->rules == NULL || ids == NULL) {
		free(ids);
		ld->nomem = true;
		return;
	}
	set->rule_count = n;
	for (uint32_t i = 0; i < n && !ld->nomem; i++)
		parse_rule(ld, config_setting_get_elem(list, i), i, &set->rules[i], ids, &id_count);
	if (!ld->nomem)
		check_ids(ld, ids, id_count);
	free(ids);
}

/*
 * Hands the text to libconfig and the tree to parse_set(). Through a memory
 * stream rather than config_read_string(), which would first copy the whole
 * text (megabytes for a large set).
 */
static void parse_text(struct loader *ld, const char *text, size_t len)
{
	config_t cfg;
	FILE *in;

	if (len == 0) {
		report(ld, ZTG_POLICY_ERROR, 0, "the rule file is empty (expected name = \"...\"; rules = ( ... );)");
		return;
	}
	if (!check_text(ld, text, len))
		return;
	scan_tokens(ld, text, len);
	if (ld->nomem)
		return;
	/* Read only ("r"): the cast is for fmemopen's prototype, which serves writers too. */
	in = fmemopen((void *)(uintptr_t)text, len, "r");
	if (in == NULL) {
		ld->nomem = true;
		return;
	}
	config_init(&cfg);
	if (config_read(&cfg, in) != CONFIG_TRUE) {
		int line = config_error_line(&cfg);
		const char *why = config_error_text(&cfg);

		report(ld, ZTG_POLICY_ERROR, line > 0 ? (uint32_t)line : 0, "%s", why != NULL ? why : "syntax error");
	} else {
		parse_set(ld, config_root_setting(&cfg));
	}
	config_destroy(&cfg);
	fclose(in);
}

/* Read path (text NULL) or take the NUL-terminated text given for it, then parse. */
static int load_set(const char *path, const char *given, size_t given_len, struct ztg_sig_set **out,
		    struct ztg_policy_diag *diag)
{
	struct ztg_sig_set *set;
	struct loader ld;
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL)
		return -EINVAL;
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return -ENOMEM;
	memset(&ld, 0, sizeof(ld));
	ld.set = set;
	ld.diag = diag;
	set->path = arena_strndup(&ld, path, strlen(path));
	if (set->path == NULL) {
		ztg_sig_set_free(set);
		return -ENOMEM;
	}
	set->loc.file = set->path;

	if (given == NULL)
		rc = read_text(&ld, path, &text, &len);
	if (rc == 0)
		parse_text(&ld, given != NULL ? given : text, given != NULL ? given_len : len);
	free(text);
	free(ld.wide);
	if (ld.nomem)
		rc = -ENOMEM;
	else if (rc == 0 && ld.errors > 0)
		rc = -EINVAL;
	if (rc == 0)
		*out = set;
	else
		ztg_sig_set_free(set);
	return rc;
}

int ztg_sig_set_load(const char *path, struct ztg_sig_set **out, struct ztg_policy_diag *diag)
{
	return load_set(path, NULL, 0, out, diag);
}

int ztg_sig_set_parse(const char *path, const char *text, size_t len, struct ztg_sig_set **out,
		      struct ztg_policy_diag *diag)
{
	if (text == NULL || text[len] != '\0') {
		if (out != NULL)
			*out = NULL;
		return -EINVAL;
	}
	return load_set(path, text, len, out, diag);
}
