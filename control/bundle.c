/*
 * Policy bundles (bundle.h): collect a policy's files the way libconfig
 * would include them, lay them out in the bundle format, and read a bundle
 * back strictly before writing anything to disk.
 *
 * The parser works over one buffer and keeps offsets into it, so verifying
 * or extracting a bundle copies no file body. Collecting walks the includes
 * depth first; each file's include height (how deep its own includes go) is
 * remembered, so a file met again is checked against the depth limit
 * without being walked again.
 */
#include "bundle.h"
#include "atomic_file.h"
#include "error_text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "policy.h"

_Static_assert(ZTG_BUNDLE_POLICY_NAME_MAX == ZTG_POLICY_NAME_MAX, "a bundle names its policy as the policy does");
_Static_assert(ZTG_BUNDLE_MAX_BYTES <= SIZE_MAX / 2, "bundle sizes fit size_t with room");

#define BUNDLE_VERSION_TEXT "1"
#define NO_FILE UINT32_MAX

/* The longest header a bundle can have: what collect keeps room for. */
#define HEADER_MAX_BYTES                                                                     \
	(sizeof(ZTG_BUNDLE_MAGIC BUNDLE_VERSION_TEXT "\n") - 1 + sizeof("sha256 \n") - 1 +     \
	 ZTG_BUNDLE_HASH_HEX_LEN + sizeof("name \n") - 1 + ZTG_BUNDLE_POLICY_NAME_MAX +        \
	 sizeof("files 256\n") - 1 + 1)

/* A record's header line after "file ": name, space, at most 8 digits (4 MiB has 7). */
#define RECORD_LINE_MAX (ZTG_BUNDLE_FILE_NAME_MAX + 1 + 8)

/* ---------------------------------------------------------------- messages */

/* Bytes from a file or a bundle, fit to print: control, non-ASCII, '"' and '\\' as \xHH; long ones cut. */
struct shown {
	char s[ZTG_BUNDLE_FILE_NAME_MAX * 4 + 8];
};

static const char *show(struct shown *sh, const void *bytes, size_t len)
{
	const uint8_t *b = bytes;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[i];

		if (o + 4 + sizeof("...") > sizeof(sh->s)) {
			memcpy(sh->s + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(sh->s + o, sizeof(sh->s) - o, "\\x%02x", c);
		else
			sh->s[o++] = (char)c;
	}
	sh->s[o] = '\0';
	return sh->s;
}

static const char *show_str(struct shown *sh, const char *s)
{
	return show(sh, s, strlen(s));
}

/* A growing message in a fixed buffer; what does not fit is cut. */
struct text {
	char s[2048];
	size_t len;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= sizeof(t->s) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->s + t->len, sizeof(t->s) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len = (size_t)n >= sizeof(t->s) - t->len ? sizeof(t->s) - 1 : t->len + (size_t)n;
}

/* ------------------------------------------------------------------ names */

/* NULL when name is a valid bundle file name (see bundle.h), else what is wrong with it. */
static const char *name_problem(const uint8_t *name, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return "empty";
	if (len > ZTG_BUNDLE_FILE_NAME_MAX)
		return "longer than 255 bytes";
	if (name[0] == '/')
		return "absolute (names are relative to the main policy file's directory)";
	for (size_t i = 0; i < len; i++) {
		if (name[i] < 0x20 || name[i] == 0x7f)
			return "holds a control character";
		if (name[i] == '"' || name[i] == '\\')
			return "holds a '\"' or a '\\'";
	}
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && name[i] != '/')
			continue;
		n = i - start;
		if (n == 0)
			return "has an empty component (\"//\" or a trailing '/')";
		if (n == 1 && name[start] == '.')
			return "has a \".\" component (write the name without it)";
		if (n == 2 && name[start] == '.' && name[start + 1] == '.')
			return "has a \"..\" component (names stay inside the main policy file's directory)";
		start = i + 1;
	}
	return NULL;
}

enum clash {
	CLASH_NONE = 0,
	CLASH_SAME,          /* the same name twice */
	CLASH_DIRECTORY,     /* one is a directory of the other: "a" and "a/b" */
};

static enum clash names_clash(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen == blen)
		return memcmp(a, b, alen) == 0 ? CLASH_SAME : CLASH_NONE;
	if (alen > blen)
		return names_clash(b, blen, a, alen);
	return memcmp(a, b, alen) == 0 && b[alen] == '/' ? CLASH_DIRECTORY : CLASH_NONE;
}

/* -------------------------------------------------------------------- hash */

int ztg_bundle_sha256_hex(const void *data, size_t len, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len * 2 != ZTG_BUNDLE_HASH_HEX_LEN)
		return -EIO;
	for (unsigned int i = 0; i < md_len; i++) {
		hash_hex[2 * i] = digits[md[i] >> 4];
		hash_hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hash_hex[ZTG_BUNDLE_HASH_HEX_LEN] = '\0';
	return 0;
}

/* ------------------------------------------------------------------- files */

void ztg_bundle_files_free(struct ztg_bundle_files *files)
{
	if (files == NULL)
		return;
	for (uint32_t i = 0; i < files->count; i++) {
		free(files->files[i].name);
		free(files->files[i].data);
	}
	free(files->files);
	files->files = NULL;
	files->count = 0;
}

/*
 * The whole regular file at path, at most max bytes, into a malloc'd buffer.
 * 0, or -errno; -EFBIG when it is larger than max, -EINVAL when it is not a
 * regular file (opened non-blocking, so a FIFO cannot stall us).
 */
static int read_whole(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0, cap;
	int fd, rc = 0;

	*out = NULL;
	*out_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;       /* one more, to see a file that grew */
	buf = malloc(cap);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t grown = cap > max / 2 ? max + 1 : 2 * cap;
			uint8_t *nb;

			if (cap > max) {
				rc = -EFBIG;
				goto out;
			}
			nb = realloc(buf, grown);
			if (nb == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		rc = -EFBIG;
out:
	close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ----------------------------------------------------- include directives */

/*
 * Finds `@include "name"` directives where libconfig 1.5's scanner sees them:
 * only at the start of a line (optional blanks, "@include", at least one
 * blank, '"'), and never inside a block comment, a string (which may span
 * lines) or a #, // comment. Each file is scanned on its own, from a fresh
 * state, as libconfig starts each included file at a line start.
 */
struct include_scan {
	const uint8_t *p;
	size_t len;
	size_t i;
	uint32_t line;
	bool bol;
};

struct include_ref {
	const uint8_t *name;          /* into the scanned file; not NUL-terminated */
	size_t name_len;
	uint32_t line;                /* of the directive */
};

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* A directive starting at s->i (a line start): 1 and ref filled, 0 if none, -1 with *why if malformed. */
static int include_at_line_start(struct include_scan *s, struct include_ref *ref, const char **why)
{
	const uint8_t *p = s->p;
	size_t j = s->i, k, start;
	uint32_t line = s->line;

	while (j < s->len && is_blank(p[j]))
		j++;
	if (s->len - j < 8 || memcmp(p + j, "@include", 8) != 0)
		return 0;
	k = j + 8;
	if (k >= s->len || !is_blank(p[k]))
		return 0;
	while (k < s->len && is_blank(p[k]))
		k++;
	if (k >= s->len || p[k] != '"')
		return 0;
	start = ++k;
	ref->line = line;
	for (; k < s->len && p[k] != '"'; k++) {
		if (p[k] == '\\') {
			*why = "the include name holds a backslash escape: not supported in bundles";
			return -1;
		}
		if (p[k] == '\n')
			s->line++;
	}
	if (k == s->len) {
		*why = "the include name is never closed by a '\"'";
		return -1;
	}
	ref->name = p + start;
	ref->name_len = k - start;
	s->i = k + 1;
	s->bol = false;
	return 1;
}

/* The next directive: 1 and ref filled, 0 at the end of the file, -1 with *why (ref->line set) if malformed. */
static int next_include(struct include_scan *s, struct include_ref *ref, const char **why)
{
	const uint8_t *p = s->p;

	while (s->i < s->len) {
		uint8_t c;

		if (s->bol) {
			int rc = include_at_line_start(s, ref, why);

			if (rc != 0)
				return rc;
		}
		c = p[s->i++];
		s->bol = false;
		if (c == '\n') {
			s->line++;
			s->bol = true;
		} else if (c == '"') {
			/* A string: a backslash escapes the byte after it; newlines are allowed. */
			while (s->i < s->len && p[s->i] != '"') {
				if (p[s->i] == '\\' && s->i + 1 < s->len)
					s->i++;
				if (p[s->i] == '\n')
					s->line++;
				s->i++;
			}
			if (s->i < s->len)
				s->i++;
		} else if (c == '#' || (c == '/' && s->i < s->len && p[s->i] == '/')) {
			while (s->i < s->len && p[s->i] != '\n')
				s->i++;
		} else if (c == '/' && s->i < s->len && p[s->i] == '*') {
			s->i++;
			while (s->i < s->len && !(p[s->i] == '*' && s->i + 1 < s->len && p[s->i + 1] == '/')) {
				if (p[s->i] == '\n')
					s->line++;
				s->i++;
			}
			s->i = s->i < s->len ? s->i + 2 : s->len;
		}
	}
	return 0;
}

/* ----------------------------------------------------------------- collect */

struct file_state {
	uint32_t height;              /* how many include levels lie below this file */
	bool done;                    /* walked; a file collected and not done is on the walk's stack */
};

struct walk_level {
	uint32_t file;
	uint32_t line;                /* of the include being followed */
};

struct collector {
	struct ztg_bundle_files *out;
	struct file_state *state;     /* parallel to out->files */
	uint32_t capacity;
	char prefix[PATH_MAX];        /* policy_path up to its last '/', included; "" when it has none */
	size_t prefix_len;
	size_t bytes;                 /* of the bundle so far, with room for the longest header */
	struct walk_level stack[ZTG_BUNDLE_MAX_INCLUDE_DEPTH + 1];
	char *err;
	size_t err_len;
};

static size_t decimal_digits(size_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static size_t record_bytes(size_t name_len, size_t data_len)
{
	return sizeof("file ") - 1 + name_len + 1 + decimal_digits(data_len) + 1 + data_len + 1;
}

/* "<policy dir>/<file name>:<line>: <message>"; returns -EINVAL. */
static int fail_at(struct collector *c, uint32_t file, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct collector *c, uint32_t file, uint32_t line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ztg_error_set(c->err, c->err_len, "%s%s:%u: %s", c->prefix, c->out->files[file].name, line, msg);
	return -EINVAL;
}

static uint32_t find_file(const struct collector *c, const uint8_t *name, size_t len)
{
	for (uint32_t i = 0; i < c->out->count; i++) {
		const struct ztg_bundle_file *f = &c->out->files[i];

		if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
			return i;
	}
	return NO_FILE;
}

/* Adds a file (taking data); its index, or NO_FILE when memory ran out (data is then freed). */
static uint32_t add_file(struct collector *c, const uint8_t *name, size_t name_len, uint8_t *data, size_t len)
{
	struct ztg_bundle_file *f;
	char *copy;

	if (c->out->count == c->capacity) {
		uint32_t cap = c->capacity ? 2 * c->capacity : 8;
		struct ztg_bundle_file *files = realloc(c->out->files, cap * sizeof(*files));
		struct file_state *state;

		if (files == NULL) {
			free(data);
			return NO_FILE;
		}
		c->out->files = files;
		state = realloc(c->state, cap * sizeof(*state));
		if (state == NULL) {
			free(data);
			return NO_FILE;
		}
		c->state = state;
		c->capacity = cap;
	}
	copy = strndup((const char *)name, name_len);
	if (copy == NULL) {
		free(data);
		return NO_FILE;
	}
	f = &c->out->files[c->out->count];
	f->name = copy;
	f->data = data;
	f->len = len;
	c->state[c->out->count] = (struct file_state){0};
	c->bytes += record_bytes(name_len, len);
	return c->out->count++;
}

/* "a.conf:2 -> b.conf:1 -> " for the walk's levels from..to. */
static void add_chain(const struct collector *c, struct text *t, uint32_t from, uint32_t to)
{
	struct shown sh;

	for (uint32_t d = from; d <= to; d++)
		text_add(t, "%s:%u -> ", show_str(&sh, c->out->files[c->stack[d].file].name), c->stack[d].line);
}

/* Reads the file an include at stack level `depth` names and adds it; its index in *index. */
static int read_included(struct collector *c, uint32_t depth, const struct include_ref *ref, uint32_t *index)
{
	uint32_t includer = c->stack[depth].file;
	char path[PATH_MAX];
	struct shown sh;
	uint8_t *data;
	size_t len;
	int rc;

	show(&sh, ref->name, ref->name_len);
	if (c->out->count == ZTG_BUNDLE_MAX_FILES)
		return fail_at(c, includer, ref->line, "including \"%s\" makes more than %u files, the most a bundle holds",
			       sh.s, ZTG_BUNDLE_MAX_FILES);
	if (c->prefix_len + ref->name_len >= sizeof(path)) {
		fail_at(c, includer, ref->line, "the path of included file \"%s\" is longer than PATH_MAX", sh.s);
		return -ENAMETOOLONG;
	}
	memcpy(path, c->prefix, c->prefix_len);
	memcpy(path + c->prefix_len, ref->name, ref->name_len);
	path[c->prefix_len + ref->name_len] = '\0';
	rc = read_whole(path, ZTG_BUNDLE_MAX_FILE_BYTES, &data, &len);
	if (rc == -EFBIG)
		return fail_at(c, includer, ref->line, "included file \"%s\" (%s) is larger than %u MiB, the most a "
			       "bundle holds of one file", sh.s, path, ZTG_BUNDLE_MAX_FILE_BYTES >> 20);
	if (rc == -EINVAL)
		return fail_at(c, includer, ref->line, "included file \"%s\" (%s) is not a regular file", sh.s, path);
	if (rc != 0) {
		fail_at(c, includer, ref->line, "cannot read included file \"%s\" (%s): %s", sh.s, path, strerror(-rc));
		return rc;
	}
	*index = add_file(c, ref->name, ref->name_len, data, len);
	if (*index == NO_FILE) {
		ztg_error_set(c->err, c->err_len, "out of memory");
		return -ENOMEM;
	}
	if (c->bytes > ZTG_BUNDLE_MAX_BYTES)
		return fail_at(c, includer, ref->line, "with included file \"%s\" the bundle grows past %u MiB, the "
			       "most it may hold", sh.s, ZTG_BUNDLE_MAX_BYTES >> 20);
	return 0;
}

/* Walks the includes of file `index`, at include level `depth` (the main file is level 0). */
static int walk(struct collector *c, uint32_t index, uint32_t depth)
{
	struct include_scan s = {
		.p = c->out->files[index].data, .len = c->out->files[index].len, .line = 1, .bol = true,
	};
	struct include_ref ref;
	const char *why = NULL;
	int found;

	c->stack[depth] = (struct walk_level){.file = index, .line = 0};
	while ((found = next_include(&s, &ref, &why)) != 0) {
		const char *problem;
		struct shown sh;
		struct text t;
		uint32_t j, h;
		int rc;

		if (found < 0)
			return fail_at(c, index, ref.line, "%s", why);
		c->stack[depth].line = ref.line;
		show(&sh, ref.name, ref.name_len);
		problem = name_problem(ref.name, ref.name_len);
		if (problem != NULL)
			return fail_at(c, index, ref.line, "include name \"%s\" %s", sh.s, problem);
		j = find_file(c, ref.name, ref.name_len);
		if (j != NO_FILE && !c->state[j].done) {
			uint32_t from = 0;

			while (c->stack[from].file != j)
				from++;
			t.len = 0;
			t.s[0] = '\0';
			add_chain(c, &t, from, depth);
			return fail_at(c, index, ref.line, "include cycle: %s%s", t.s, sh.s);
		}
		if (j == NO_FILE) {
			if (depth + 1 > ZTG_BUNDLE_MAX_INCLUDE_DEPTH) {
				t.len = 0;
				t.s[0] = '\0';
				add_chain(c, &t, 0, depth);
				return fail_at(c, index, ref.line, "includes nest deeper than %u levels, libconfig's limit: %s%s",
					       ZTG_BUNDLE_MAX_INCLUDE_DEPTH, t.s, sh.s);
			}
			rc = read_included(c, depth, &ref, &j);
			if (rc != 0)
				return rc;
			rc = walk(c, j, depth + 1);
			if (rc != 0)
				return rc;
		} else if (depth + 1 + c->state[j].height > ZTG_BUNDLE_MAX_INCLUDE_DEPTH) {
			return fail_at(c, index, ref.line, "includes nest deeper than %u levels, libconfig's limit: \"%s\" "
				       "is included here at level %u and its own includes go %u levels deeper",
				       ZTG_BUNDLE_MAX_INCLUDE_DEPTH, sh.s, depth + 1, c->state[j].height);
		}
		h = 1 + c->state[j].height;
		if (h > c->state[index].height)
			c->state[index].height = h;
	}
	c->state[index].done = true;
	return 0;
}

int ztg_bundle_collect(const char *policy_path, struct ztg_bundle_files *out, char *err, size_t err_len)
{
	struct collector c;
	const char *slash, *base;
	const char *problem;
	struct shown sh;
	uint8_t *data;
	size_t len;
	int rc;

	if (out == NULL || policy_path == NULL) {
		ztg_error_set(err, err_len, "no policy path or no output");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.out = out;
	c.err = err;
	c.err_len = err_len;
	c.bytes = HEADER_MAX_BYTES;
	slash = strrchr(policy_path, '/');
	base = slash != NULL ? slash + 1 : policy_path;
	c.prefix_len = (size_t)(base - policy_path);
	if (c.prefix_len + ZTG_BUNDLE_FILE_NAME_MAX + 1 > sizeof(c.prefix)) {
		ztg_error_set(err, err_len, "policy path %s: its directory is too long", policy_path);
		return -ENAMETOOLONG;
	}
	memcpy(c.prefix, policy_path, c.prefix_len);
	c.prefix[c.prefix_len] = '\0';
	problem = name_problem((const uint8_t *)base, strlen(base));
	if (problem == NULL && strchr(base, '/') != NULL)
		problem = "not a plain file name";
	if (problem != NULL) {
		ztg_error_set(err, err_len, "policy path %s: the file name \"%s\" %s", policy_path, show_str(&sh, base),
			problem);
		return -EINVAL;
	}

	rc = read_whole(policy_path, ZTG_BUNDLE_MAX_FILE_BYTES, &data, &len);
	if (rc == -EFBIG) {
		ztg_error_set(err, err_len, "policy file %s is larger than %u MiB, the most a bundle holds of one file",
			policy_path, ZTG_BUNDLE_MAX_FILE_BYTES >> 20);
		return -EINVAL;
	}
	if (rc == -EINVAL) {
		ztg_error_set(err, err_len, "policy file %s is not a regular file", policy_path);
		return -EINVAL;
	}
	if (rc != 0) {
		ztg_error_set(err, err_len, "cannot read the policy file %s: %s", policy_path, strerror(-rc));
		return rc;
	}
	if (add_file(&c, (const uint8_t *)base, strlen(base), data, len) == NO_FILE) {
		ztg_error_set(err, err_len, "out of memory");
		rc = -ENOMEM;
	} else {
		rc = walk(&c, 0, 0);
	}
	free(c.state);
	if (rc != 0)
		ztg_bundle_files_free(out);
	return rc;
}

/* ------------------------------------------------------------------ encode */

/* Checks a file set as a reader would; 0 or -EINVAL with the message. */
static int check_files(const struct ztg_bundle_files *files, char *err, size_t err_len)
{
	struct shown sh, sh2;

	if (files->count == 0 || files->count > ZTG_BUNDLE_MAX_FILES) {
		ztg_error_set(err, err_len, "a bundle holds 1 to %u files, not %u", ZTG_BUNDLE_MAX_FILES, files->count);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < files->count; i++) {
		const struct ztg_bundle_file *f = &files->files[i];
		size_t nlen = f->name != NULL ? strlen(f->name) : 0;
		const char *problem = name_problem((const uint8_t *)f->name, nlen);

		if (problem != NULL) {
			ztg_error_set(err, err_len, "file %u: name \"%s\" %s", i + 1, show(&sh, f->name, nlen), problem);
			return -EINVAL;
		}
		if (i == 0 && strchr(f->name, '/') != NULL) {
			ztg_error_set(err, err_len, "file 1: the main policy file's name \"%s\" holds a '/'",
				show(&sh, f->name, nlen));
			return -EINVAL;
		}
		if (f->len > ZTG_BUNDLE_MAX_FILE_BYTES || (f->len > 0 && f->data == NULL)) {
			ztg_error_set(err, err_len, "file %u: \"%s\" is %zu bytes, more than %u MiB", i + 1,
				show(&sh, f->name, nlen), f->len, ZTG_BUNDLE_MAX_FILE_BYTES >> 20);
			return -EINVAL;
		}
		for (uint32_t j = 0; j < i; j++) {
			const char *other = files->files[j].name;
			enum clash k = names_clash((const uint8_t *)f->name, nlen, (const uint8_t *)other, strlen(other));

			if (k != CLASH_NONE) {
				ztg_error_set(err, err_len, "file %u: \"%s\" %s file %u \"%s\"", i + 1, show(&sh, f->name, nlen),
					k == CLASH_SAME ? "has the same name as" : "is a file and a directory with",
					j + 1, show_str(&sh2, other));
				return -EINVAL;
			}
		}
	}
	return 0;
}

int ztg_bundle_encode(const struct ztg_bundle_files *files, const char *name, uint8_t **out, size_t *out_len,
		      char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len)
{
	char head[HEADER_MAX_BYTES + 1], hex[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	size_t body = 0, head_len, total, o;
	struct shown sh;
	uint8_t *buf;
	int n, rc;

	if (files == NULL || name == NULL || out == NULL || out_len == NULL) {
		ztg_error_set(err, err_len, "no files, name or output");
		return -EINVAL;
	}
	*out = NULL;
	*out_len = 0;
	if (!ztg_policy_name_valid(name, strlen(name))) {
		ztg_error_set(err, err_len, "bundle name \"%s\": expected a policy name, 1 to %u of A-Z a-z 0-9 _ . -",
			show_str(&sh, name), ZTG_BUNDLE_POLICY_NAME_MAX);
		return -EINVAL;
	}
	rc = check_files(files, err, err_len);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < files->count; i++)
		body += record_bytes(strlen(files->files[i].name), files->files[i].len);
	/* The hash is filled in once the body is laid out. */
	n = snprintf(head, sizeof(head), "%s%s\nsha256 %0*d\nname %s\nfiles %u\n\n", ZTG_BUNDLE_MAGIC,
		     BUNDLE_VERSION_TEXT, ZTG_BUNDLE_HASH_HEX_LEN, 0, name, files->count);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		ztg_error_set(err, err_len, "bundle header does not fit");
		return -EINVAL;
	}
	head_len = (size_t)n;
	total = head_len + body;
	if (total > ZTG_BUNDLE_MAX_BYTES) {
		ztg_error_set(err, err_len, "the bundle would be %zu bytes, more than %u MiB", total,
			ZTG_BUNDLE_MAX_BYTES >> 20);
		return -EINVAL;
	}
	buf = malloc(total);
	if (buf == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		return -ENOMEM;
	}
	o = head_len;
	for (uint32_t i = 0; i < files->count; i++) {
		const struct ztg_bundle_file *f = &files->files[i];

		n = sprintf((char *)buf + o, "file %s %zu\n", f->name, f->len);
		o += (size_t)n;
		if (f->len > 0)
			memcpy(buf + o, f->data, f->len);
		o += f->len;
		buf[o++] = '\n';
	}
	if (ztg_bundle_sha256_hex(buf + head_len, body, hex) != 0) {
		free(buf);
		ztg_error_set(err, err_len, "SHA-256 failed");
		return -EIO;
	}
	memcpy(head + sizeof(ZTG_BUNDLE_MAGIC BUNDLE_VERSION_TEXT "\nsha256 ") - 1, hex, ZTG_BUNDLE_HASH_HEX_LEN);
	memcpy(buf, head, head_len);
	*out = buf;
	*out_len = total;
	if (hash_hex != NULL)
		memcpy(hash_hex, hex, sizeof(hex));
	return 0;
}

/* ------------------------------------------------------------------- parse */

struct record {
	const uint8_t *name;          /* into the bundle */
	size_t name_len;
	size_t off;                   /* of the body */
	size_t len;
};

struct parsed {
	struct record records[ZTG_BUNDLE_MAX_FILES];
	uint32_t count;
	char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	char name[ZTG_BUNDLE_POLICY_NAME_MAX + 1];
};

struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
	uint32_t line;                /* of the header line at off */
	const char *src;
	char *err;
	size_t err_len;
};

static int header_error(const struct cursor *c, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int header_error(const struct cursor *c, size_t at, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ztg_error_set(c->err, c->err_len, "%s: line %u (byte %zu): %s", c->src, c->line, at, msg);
	return -EINVAL;
}

/*
 * The header line at c->off, at most max bytes before its '\n': its text in
 * *text and *n, the cursor past it (the caller counts the line once it checked
 * the text). A missing newline is "truncated" when the
 * bundle ends first, else a line that is not `what`.
 */
static int header_line(struct cursor *c, size_t max, const char *what, const uint8_t **text, size_t *n)
{
	size_t avail = c->len - c->off;
	size_t look = avail < max + 1 ? avail : max + 1;
	const uint8_t *nl = memchr(c->p + c->off, '\n', look);

	if (nl == NULL) {
		if (look == avail)
			return header_error(c, c->len, "truncated: the bundle ends inside its header (expected %s)", what);
		return header_error(c, c->off, "expected %s", what);
	}
	*text = c->p + c->off;
	*n = (size_t)(nl - *text);
	c->off += *n + 1;
	return 0;
}

enum decimal_result {
	DECIMAL_OK = 0,
	DECIMAL_SYNTAX,               /* empty, a non-digit, or a leading zero */
	DECIMAL_RANGE,                /* more than max */
};

static enum decimal_result parse_decimal(const uint8_t *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return DECIMAL_SYNTAX;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return DECIMAL_SYNTAX;
	}
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return DECIMAL_RANGE;
	}
	*out = v;
	return DECIMAL_OK;
}

static bool is_lower_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int parse_header(struct cursor *c, struct parsed *ps, uint64_t *count)
{
	const size_t magic_len = sizeof(ZTG_BUNDLE_MAGIC) - 1;
	const uint8_t *t;
	struct shown sh;
	uint64_t version;
	size_t n, at;
	int rc;

	if (c->len < magic_len || memcmp(c->p, ZTG_BUNDLE_MAGIC, magic_len) != 0) {
		if (c->len < magic_len && memcmp(c->p, ZTG_BUNDLE_MAGIC, c->len) == 0)
			return header_error(c, c->len, "truncated: the bundle ends inside its magic \"%s\"",
					    ZTG_BUNDLE_MAGIC);
		return header_error(c, 0, "bad magic: expected \"%s%d\"; not a ztgate bundle", ZTG_BUNDLE_MAGIC,
				    ZTG_BUNDLE_VERSION);
	}
	c->off = magic_len;
	at = c->off;
	rc = header_line(c, 20, "the version, a decimal number", &t, &n);
	if (rc != 0)
		return rc;
	switch (parse_decimal(t, n, UINT32_MAX, &version)) {
	case DECIMAL_OK:
		if (version == ZTG_BUNDLE_VERSION)
			break;
		/* fall through */
	case DECIMAL_RANGE:
		return header_error(c, at, "unknown bundle version %s: this build reads version %d", show(&sh, t, n),
				    ZTG_BUNDLE_VERSION);
	case DECIMAL_SYNTAX:
		return header_error(c, at, "bad version syntax \"%s\": expected a decimal number", show(&sh, t, n));
	}
	c->line++;

	at = c->off;
	rc = header_line(c, 7 + ZTG_BUNDLE_HASH_HEX_LEN, "\"sha256 \" and 64 lowercase hex digits", &t, &n);
	if (rc != 0)
		return rc;
	if (n != 7 + ZTG_BUNDLE_HASH_HEX_LEN || memcmp(t, "sha256 ", 7) != 0)
		return header_error(c, at, "bad hash syntax: expected \"sha256 \" and 64 lowercase hex digits");
	for (size_t i = 7; i < n; i++) {
		if (!is_lower_hex(t[i]))
			return header_error(c, at + i, "bad hash syntax: expected \"sha256 \" and 64 lowercase hex "
					    "digits, not \"%s\"", show(&sh, t + i, 1));
	}
	memcpy(ps->hash_hex, t + 7, ZTG_BUNDLE_HASH_HEX_LEN);
	ps->hash_hex[ZTG_BUNDLE_HASH_HEX_LEN] = '\0';
	c->line++;

	at = c->off;
	rc = header_line(c, 5 + ZTG_BUNDLE_POLICY_NAME_MAX, "\"name \" and a policy name", &t, &n);
	if (rc != 0)
		return rc;
	if (n < 5 || memcmp(t, "name ", 5) != 0 || !ztg_policy_name_valid((const char *)t + 5, n - 5))
		return header_error(c, at, "bad name line \"%s\": expected \"name \" and a policy name, 1 to %u of "
				    "A-Z a-z 0-9 _ . -", show(&sh, t, n), ZTG_BUNDLE_POLICY_NAME_MAX);
	memcpy(ps->name, t + 5, n - 5);
	ps->name[n - 5] = '\0';
	c->line++;

	at = c->off;
	rc = header_line(c, 6 + 10, "\"files \" and the number of files", &t, &n);
	if (rc != 0)
		return rc;
	if (n < 6 || memcmp(t, "files ", 6) != 0 ||
	    parse_decimal(t + 6, n - 6, ZTG_BUNDLE_MAX_FILES, count) != DECIMAL_OK || *count == 0)
		return header_error(c, at, "bad file count line \"%s\": expected \"files \" and a number from 1 to %u",
				    show(&sh, t, n), ZTG_BUNDLE_MAX_FILES);
	c->line++;

	return header_line(c, 0, "an empty line ending the header", &t, &n);
}

static int record_error(const struct cursor *c, uint32_t index, uint32_t count, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int record_error(const struct cursor *c, uint32_t index, uint32_t count, size_t at, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ztg_error_set(c->err, c->err_len, "%s: file %u of %u (byte %zu): %s", c->src, index + 1, count, at, msg);
	return -EINVAL;
}

static int parse_record(struct cursor *c, struct parsed *ps, uint32_t count)
{
	const uint32_t i = ps->count;
	const size_t start = c->off, avail = c->len - c->off;
	const uint8_t *line, *nl, *space;
	struct record *r = &ps->records[i];
	struct shown sh, sh2;
	const char *problem;
	size_t look, line_len;
	uint64_t len;

	if (avail < 5 || memcmp(c->p + start, "file ", 5) != 0) {
		if (avail < 5 && memcmp(c->p + start, "file ", avail) == 0)
			return record_error(c, i, count, c->len, "truncated: the bundle ends inside the record's header");
		return record_error(c, i, count, start, "expected \"file <name> <length>\" and a newline");
	}
	line = c->p + start + 5;
	look = avail - 5 < RECORD_LINE_MAX + 1 ? avail - 5 : RECORD_LINE_MAX + 1;
	nl = memchr(line, '\n', look);
	if (nl == NULL) {
		if (look == avail - 5)
			return record_error(c, i, count, c->len, "truncated: the bundle ends inside the record's header");
		return record_error(c, i, count, start, "expected \"file <name> <length>\" and a newline within %u bytes",
				    5 + RECORD_LINE_MAX);
	}
	line_len = (size_t)(nl - line);
	space = NULL;
	for (size_t k = line_len; k > 0; k--) {
		if (line[k - 1] == ' ') {
			space = line + k - 1;
			break;
		}
	}
	if (space == NULL)
		return record_error(c, i, count, start, "expected \"file <name> <length>\", found \"file %s\"",
				    show(&sh, line, line_len));
	r->name = line;
	r->name_len = (size_t)(space - line);
	show(&sh, r->name, r->name_len);
	problem = name_problem(r->name, r->name_len);
	if (problem != NULL)
		return record_error(c, i, count, start, "bad name \"%s\": %s", sh.s, problem);
	if (i == 0 && memchr(r->name, '/', r->name_len) != NULL)
		return record_error(c, i, count, start, "bad name \"%s\": the main policy file (the first) must be a "
				    "plain file name, without '/'", sh.s);
	for (uint32_t j = 0; j < i; j++) {
		const struct record *o = &ps->records[j];
		enum clash k = names_clash(r->name, r->name_len, o->name, o->name_len);

		if (k != CLASH_NONE)
			return record_error(c, i, count, start, "bad name \"%s\": %s file %u \"%s\"", sh.s,
					    k == CLASH_SAME ? "the same as" : "a file and a directory with", j + 1,
					    show(&sh2, o->name, o->name_len));
	}
	switch (parse_decimal(space + 1, (size_t)(nl - space - 1), ZTG_BUNDLE_MAX_FILE_BYTES, &len)) {
	case DECIMAL_OK:
		break;
	case DECIMAL_RANGE:
		return record_error(c, i, count, (size_t)(space + 1 - c->p), "\"%s\" declares %s bytes, more than %u "
				    "MiB, the most a bundle holds of one file", sh.s,
				    show(&sh2, space + 1, (size_t)(nl - space - 1)), ZTG_BUNDLE_MAX_FILE_BYTES >> 20);
	case DECIMAL_SYNTAX:
		return record_error(c, i, count, (size_t)(space + 1 - c->p), "bad length \"%s\" of \"%s\": expected a "
				    "decimal number of bytes (no sign, no leading zero)",
				    show(&sh2, space + 1, (size_t)(nl - space - 1)), sh.s);
	}
	r->off = (size_t)(nl + 1 - c->p);
	r->len = (size_t)len;
	if (c->len - r->off < r->len + 1) {
		if (c->len - r->off < r->len)
			return record_error(c, i, count, c->len, "truncated: \"%s\" declares %zu bytes, only %zu remain",
					    sh.s, r->len, c->len - r->off);
		return record_error(c, i, count, c->len, "truncated: the bundle ends before the newline after the %zu "
				    "bytes of \"%s\"", r->len, sh.s);
	}
	if (c->p[r->off + r->len] != '\n')
		return record_error(c, i, count, r->off + r->len, "expected a newline after the %zu bytes of \"%s\"",
				    r->len, sh.s);
	c->off = r->off + r->len + 1;
	ps->count++;
	return 0;
}

static int parse_bundle(const uint8_t *data, size_t len, const char *source, struct parsed *ps, char *err,
			size_t err_len)
{
	struct cursor c = {
		.p = data, .len = len, .off = 0, .line = 1,
		.src = source != NULL ? source : "bundle", .err = err, .err_len = err_len,
	};
	char hex[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	uint64_t count = 0;
	size_t body;
	int rc;

	ps->count = 0;
	if (len > ZTG_BUNDLE_MAX_BYTES) {
		ztg_error_set(err, err_len, "%s: %zu bytes, more than %u MiB, the most a bundle holds", c.src, len,
			ZTG_BUNDLE_MAX_BYTES >> 20);
		return -EINVAL;
	}
	rc = parse_header(&c, ps, &count);
	if (rc != 0)
		return rc;
	body = c.off;
	while (ps->count < count) {
		if (c.off == c.len) {
			ztg_error_set(err, err_len, "%s: file count mismatch: header line 4 says %u files, the bundle ends "
				"after %u (at byte %zu)", c.src, (uint32_t)count, ps->count, c.len);
			return -EINVAL;
		}
		rc = parse_record(&c, ps, (uint32_t)count);
		if (rc != 0)
			return rc;
	}
	if (c.off != c.len) {
		ztg_error_set(err, err_len, "%s: trailing bytes: %zu bytes after the last of the %u files, from byte %zu",
			c.src, c.len - c.off, ps->count, c.off);
		return -EINVAL;
	}
	if (ztg_bundle_sha256_hex(data + body, len - body, hex) != 0) {
		ztg_error_set(err, err_len, "%s: SHA-256 failed", c.src);
		return -EIO;
	}
	if (strcmp(hex, ps->hash_hex) != 0) {
		ztg_error_set(err, err_len, "%s: hash mismatch: the header says sha256 %s, the content hashes to %s", c.src,
			ps->hash_hex, hex);
		return -EINVAL;
	}
	return 0;
}

int ztg_bundle_parse(const uint8_t *data, size_t len, const char *source, struct ztg_bundle_files *out,
		     char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *name, size_t name_len, char *err,
		     size_t err_len)
{
	struct parsed *ps;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (data == NULL && len > 0) {
		ztg_error_set(err, err_len, "no data");
		return -EINVAL;
	}
	ps = malloc(sizeof(*ps));
	if (ps == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = parse_bundle(data != NULL ? data : (const uint8_t *)"", len, source, ps, err, err_len);
	if (rc == 0 && out != NULL) {
		out->files = calloc(ps->count, sizeof(*out->files));
		rc = out->files == NULL ? -ENOMEM : 0;
		for (uint32_t i = 0; rc == 0 && i < ps->count; i++) {
			const struct record *r = &ps->records[i];
			struct ztg_bundle_file *f = &out->files[i];

			f->name = strndup((const char *)r->name, r->name_len);
			f->data = malloc(r->len > 0 ? r->len : 1);
			out->count++;
			if (f->name == NULL || f->data == NULL) {
				rc = -ENOMEM;
				break;
			}
			memcpy(f->data, data + r->off, r->len);
			f->len = r->len;
		}
		if (rc != 0) {
			ztg_bundle_files_free(out);
			ztg_error_set(err, err_len, "out of memory");
		}
	}
	if (rc == 0) {
		if (hash_hex != NULL)
			memcpy(hash_hex, ps->hash_hex, sizeof(ps->hash_hex));
		if (name != NULL && name_len > 0)
			snprintf(name, name_len, "%s", ps->name);
	}
	free(ps);
	return rc;
}

/* ------------------------------------------------------------------- write */

int ztg_bundle_write(const char *policy_path, const char *name, const char *out_path,
		     char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len)
{
	struct ztg_bundle_files files;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (out_path == NULL) {
		ztg_error_set(err, err_len, "no output path");
		return -EINVAL;
	}
	rc = ztg_bundle_collect(policy_path, &files, err, err_len);
	if (rc != 0)
		return rc;
	rc = ztg_bundle_encode(&files, name, &buf, &len, hash_hex, err, err_len);
	ztg_bundle_files_free(&files);
	if (rc == 0)
		rc = ztg_atomic_file_write(out_path, buf, len, err, err_len);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------- is_bundle */

int ztg_bundle_is_bundle(const char *path)
{
	const size_t magic_len = sizeof(ZTG_BUNDLE_MAGIC) - 1;
	char head[sizeof(ZTG_BUNDLE_MAGIC)];
	size_t got = 0;
	int fd;

	if (path == NULL)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	while (got < magic_len) {
		ssize_t n = read(fd, head + got, magic_len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return got == magic_len && memcmp(head, ZTG_BUNDLE_MAGIC, magic_len) == 0;
}

/* ----------------------------------------------------------------- extract */

/* What extraction created, so a failure halfway can take it back. */
struct created {
	char **names;                 /* relative to the target directory */
	bool *is_dir;
	uint32_t count;
	uint32_t capacity;
};

static int created_add(struct created *cr, const char *name, size_t len, bool is_dir)
{
	if (cr->count == cr->capacity) {
		uint32_t cap = cr->capacity ? 2 * cr->capacity : 16;
		char **names = realloc(cr->names, cap * sizeof(*names));
		bool *dirs;

		if (names == NULL)
			return -ENOMEM;
		cr->names = names;
		dirs = realloc(cr->is_dir, cap * sizeof(*dirs));
		if (dirs == NULL)
			return -ENOMEM;
		cr->is_dir = dirs;
		cr->capacity = cap;
	}
	cr->names[cr->count] = strndup(name, len);
	if (cr->names[cr->count] == NULL)
		return -ENOMEM;
	cr->is_dir[cr->count++] = is_dir;
	return 0;
}

/* Removes what was created, newest first (files before the directories holding them), if undo; frees. */
static void created_finish(struct created *cr, int dfd, bool undo)
{
	for (uint32_t i = cr->count; i-- > 0;) {
		if (undo)
			unlinkat(dfd, cr->names[i], cr->is_dir[i] ? AT_REMOVEDIR : 0);
		free(cr->names[i]);
	}
	free(cr->names);
	free(cr->is_dir);
}

/* 0 if the directory open at dfd holds nothing, -ENOTEMPTY if it does, or -errno. */
static int dir_is_empty(int dfd)
{
	struct dirent *e;
	int fd = dup(dfd), rc = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Writes one record under dfd: its directories first, then the file, which must not exist. */
static int extract_one(int dfd, const char *name, const uint8_t *data, size_t len, struct created *cr,
		       char *what, size_t what_len)
{
	char path[ZTG_BUNDLE_FILE_NAME_MAX + 1];
	int fd, rc;

	snprintf(path, sizeof(path), "%s", name);
	for (char *slash = strchr(path, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdirat(dfd, path, 0700) == 0) {
			rc = created_add(cr, path, strlen(path), true);
			if (rc != 0)
				return rc;
		} else if (errno != EEXIST) {
			rc = -errno;
			snprintf(what, what_len, "cannot create directory %s", path);
			return rc;
		}
		*slash = '/';
	}
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(what, what_len, "cannot create %s", name);
		return rc;
	}
	rc = created_add(cr, name, strlen(name), false);
	if (rc == 0) {
		rc = write_all(fd, data, len);
		if (rc != 0)
			snprintf(what, what_len, "cannot write %s", name);
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		snprintf(what, what_len, "cannot write %s", name);
	}
	return rc;
}

/* Reads and verifies the bundle at path into *buf; 0 or -errno with the message. */
static int load_bundle(const char *path, struct parsed *ps, uint8_t **buf, char *err, size_t err_len)
{
	size_t len;
	int rc;

	rc = read_whole(path, ZTG_BUNDLE_MAX_BYTES, buf, &len);
	if (rc == -EFBIG) {
		ztg_error_set(err, err_len, "%s: larger than %u MiB, the most a bundle holds", path,
			ZTG_BUNDLE_MAX_BYTES >> 20);
		return -EINVAL;
	}
	if (rc == -EINVAL) {
		ztg_error_set(err, err_len, "%s: not a regular file", path);
		return rc;
	}
	if (rc != 0) {
		ztg_error_set(err, err_len, "cannot read bundle %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = parse_bundle(*buf, len, path, ps, err, err_len);
	if (rc != 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* Writes the files of a parsed bundle (buf) under dir; as ztg_bundle_extract(). */
static int extract_parsed(const struct parsed *ps, const uint8_t *buf, const char *source, const char *dir,
			  char *main_path, size_t main_len, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err,
			  size_t err_len)
{
	struct created cr = {0};
	char shown_dir[PATH_MAX], what[ZTG_BUNDLE_FILE_NAME_MAX + 64] = "";
	char name[ZTG_BUNDLE_FILE_NAME_MAX + 1];
	bool made_dir = false;
	size_t dir_len;
	int dfd = -1, rc = 0, n;

	/* The directory as diagnostics will show it: without trailing slashes. */
	dir_len = strlen(dir);
	while (dir_len > 1 && dir[dir_len - 1] == '/')
		dir_len--;
	if (dir_len == 0 || dir_len >= sizeof(shown_dir)) {
		ztg_error_set(err, err_len, "bad target directory \"%s\"", dir);
		rc = dir_len == 0 ? -EINVAL : -ENAMETOOLONG;
		goto out;
	}
	memcpy(shown_dir, dir, dir_len);
	shown_dir[dir_len] = '\0';
	memcpy(name, ps->records[0].name, ps->records[0].name_len);
	name[ps->records[0].name_len] = '\0';
	n = snprintf(main_path, main_len, "%s%s%s", shown_dir, strcmp(shown_dir, "/") == 0 ? "" : "/", name);
	if (n < 0 || (size_t)n >= main_len || (size_t)n + ZTG_BUNDLE_FILE_NAME_MAX >= PATH_MAX) {
		ztg_error_set(err, err_len, "the path of the main policy file under %s does not fit", shown_dir);
		rc = -ENAMETOOLONG;
		goto out;
	}

	if (mkdir(shown_dir, 0700) == 0) {
		made_dir = true;
	} else if (errno != EEXIST) {
		rc = -errno;
		ztg_error_set(err, err_len, "cannot create directory %s: %s", shown_dir, strerror(-rc));
		goto out;
	}
	dfd = open(shown_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		ztg_error_set(err, err_len, "cannot open directory %s: %s", shown_dir, strerror(-rc));
		goto out;
	}
	if (!made_dir) {
		rc = dir_is_empty(dfd);
		if (rc == -ENOTEMPTY) {
			ztg_error_set(err, err_len, "directory %s exists and is not empty: a bundle is extracted into a new "
				"or empty directory", shown_dir);
			goto out;
		}
		if (rc != 0) {
			ztg_error_set(err, err_len, "cannot list directory %s: %s", shown_dir, strerror(-rc));
			goto out;
		}
	}
	for (uint32_t i = 0; i < ps->count; i++) {
		const struct record *r = &ps->records[i];

		memcpy(name, r->name, r->name_len);
		name[r->name_len] = '\0';
		rc = extract_one(dfd, name, buf + r->off, r->len, &cr, what, sizeof(what));
		if (rc != 0) {
			if (rc == -ENOMEM)
				ztg_error_set(err, err_len, "out of memory");
			else
				ztg_error_set(err, err_len, "extracting %s into %s: %s: %s", source, shown_dir, what,
					strerror(-rc));
			goto out;
		}
	}
	if (hash_hex != NULL)
		memcpy(hash_hex, ps->hash_hex, sizeof(ps->hash_hex));
out:
	if (dfd >= 0) {
		created_finish(&cr, dfd, rc != 0);
		close(dfd);
	} else {
		created_finish(&cr, AT_FDCWD, false);
	}
	if (rc != 0 && made_dir)
		rmdir(shown_dir);
	if (rc != 0 && main_len > 0)
		main_path[0] = '\0';
	return rc;
}

int ztg_bundle_extract(const char *bundle_path, const char *dir, char *main_path, size_t main_len,
		       char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len)
{
	struct parsed *ps;
	uint8_t *buf = NULL;
	int rc;

	if (bundle_path == NULL || dir == NULL || main_path == NULL) {
		ztg_error_set(err, err_len, "no bundle, directory or main path buffer");
		return -EINVAL;
	}
	ps = malloc(sizeof(*ps));
	if (ps == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = load_bundle(bundle_path, ps, &buf, err, err_len);
	if (rc == 0)
		rc = extract_parsed(ps, buf, bundle_path, dir, main_path, main_len, hash_hex, err, err_len);
	else if (main_len > 0)
		main_path[0] = '\0';
	free(buf);
	free(ps);
	return rc;
}

int ztg_bundle_extract_data(const uint8_t *data, size_t len, const char *source, const char *dir, char *main_path,
			    size_t main_len, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len)
{
	struct parsed *ps;
	int rc;

	if ((data == NULL && len > 0) || dir == NULL || main_path == NULL) {
		ztg_error_set(err, err_len, "no bundle, directory or main path buffer");
		return -EINVAL;
	}
	if (source == NULL)
		source = "bundle";
	ps = malloc(sizeof(*ps));
	if (ps == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = parse_bundle(data != NULL ? data : (const uint8_t *)"", len, source, ps, err, err_len);
	if (rc == 0)
		rc = extract_parsed(ps, data, source, dir, main_path, main_len, hash_hex, err, err_len);
	else if (main_len > 0)
		main_path[0] = '\0';
	free(ps);
	return rc;
}

int ztg_bundle_hash_file(const char *path, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *name, size_t name_len,
			 char *err, size_t err_len)
{
	struct parsed *ps;
	uint8_t *buf = NULL;
	int rc;

	if (path == NULL) {
		ztg_error_set(err, err_len, "no bundle path");
		return -EINVAL;
	}
	ps = malloc(sizeof(*ps));
	if (ps == NULL) {
		ztg_error_set(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = load_bundle(path, ps, &buf, err, err_len);
	if (rc == 0) {
		if (hash_hex != NULL)
			memcpy(hash_hex, ps->hash_hex, sizeof(ps->hash_hex));
		if (name != NULL && name_len > 0)
			snprintf(name, name_len, "%s", ps->name);
	}
	free(buf);
	free(ps);
	return rc;
}
