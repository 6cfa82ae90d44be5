/*
 * HTTP/1.1 parser (RFC 9110/9112), incremental, both directions.
 *
 * A head is scanned line by line as it arrives: the limits are checked on
 * byte counts, field lines byte by byte (eight at a time where they are
 * plain) up to their LF, the start line whole once memchr finds its LF.
 * Only when the blank line ends the head is it read a second time, from one
 * contiguous block (the fed bytes, or the pool buffer the head was copied
 * into because it spanned feeds), to slice the fields and apply the framing
 * rules. Bodies are never copied: BODY events point into the fed bytes.
 *
 * Split independence. Every violation is tied to one byte of the stream: a
 * bad byte in a field line is reported at that byte (a bare CR at the byte
 * after it), a line too long at the byte that makes it certainly too long
 * (limit + 2 bytes, as the last one may be the CR of CRLF), a head too large
 * at its first byte past the limit, everything else at the LF or blank line
 * that completes what it judges. Whichever comes first in the stream wins,
 * ties in a fixed order, so how the bytes were cut into feeds cannot change
 * the outcome. Bodies are cut where the feeds end, but their bytes are the
 * same.
 *
 * Strictness. Whatever two parsers could read differently is refused (see
 * the violation list in the header); a few refusals go beyond the RFC's
 * MUSTs because a compliant sender never produces them: whitespace in chunk
 * extensions, empty Transfer-Encoding list elements, sub-delims in Host, a
 * Content-Length or Transfer-Encoding on CONNECT.
 */
#include "http_parser.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define unlikely(x) __builtin_expect(!!(x), 0)

/* Both directions and the pending ring live in the flow entry. */
_Static_assert(sizeof(struct ztg_http_dir) <= 64, "struct ztg_http_dir grew past 64 bytes");
_Static_assert(sizeof(struct ztg_http_conn) <= 192, "struct ztg_http_conn grew past 192 bytes");
_Static_assert(ZTG_HTTP_MAX_HEADERS <= UINT16_MAX, "header counts are 16-bit");

#define CACHE_LINE        64u
#define PENDING_RING      32u     /* sizeof(pending_methods) */
#define PENDING_METHOD    0x0fu   /* pending entry: the method ... */
#define PENDING_UPGRADE_SHIFT 4   /* ... and the upgrade the request asked for */
#define CHUNK_SIZE_DIGITS 16u     /* more hex digits than a uint64_t holds is a smuggling trick */

static const char PREFACE_LINE[] = "PRI * HTTP/2.0";  /* RFC 9113 §3.4, up to its first CRLF */
#define PREFACE_LINE_LEN (sizeof(PREFACE_LINE) - 1)

/* dir->state */
enum {
	ST_IDLE = 0,      /* between messages (requests: empty lines are skipped here) */
	ST_HEAD,          /* start line and field lines */
	ST_BODY_LENGTH,   /* Content-Length body: remaining bytes left */
	ST_CHUNK_LINE,    /* chunk-size [ extensions ] CRLF */
	ST_CHUNK_DATA,    /* chunk data: remaining bytes left */
	ST_CHUNK_END,     /* the CRLF that closes chunk data */
	ST_TRAILER,       /* trailer field lines up to the blank line */
	ST_BODY_CLOSE,    /* response body delimited by the server's close */
	/* From here on the direction parses nothing more. */
	ST_TUNNEL,
	ST_STOPPED,       /* after a violation */
	ST_CLOSED,        /* after ztg_http_close or ztg_http_conn_release */
};

/* dir->line_phase in ST_IDLE, ST_HEAD and ST_TRAILER */
#define LP_START 0        /* the start line */
#define LP_FIELD 1        /* a field line, nothing of it seen yet */
#define LP_NAME  2        /* inside the field name */
#define LP_VALUE 3        /* past the colon */
#define LP_MASK  0x0f
#define LP_CR    0x80     /* the last byte of the line so far is a CR */

/* dir->line_phase in ST_CHUNK_LINE */
enum {
	CK_SIZE_START = 0,    /* nothing yet: a hex digit must come */
	CK_SIZE,              /* in the hex digits */
	CK_EXT_START,         /* after ';': an extension name must come */
	CK_EXT_NAME,
	CK_EXT_VALUE_START,   /* after '=' */
	CK_EXT_TOKEN,
	CK_EXT_QUOTED,
	CK_EXT_ESCAPE,        /* after a backslash inside quotes */
	CK_EXT_QUOTE_END,     /* after the closing quote */
	CK_CR,                /* CR seen: LF must come */
};

/* dir->flags */
#define MF_INTERIM 0x01   /* a 1xx response: the request still awaits its final response */

/* Character classes (RFC 9110 §5.6.2 tchar, §5.5 field values, RFC 3986 for targets and hosts). */
#define C_TCHAR  0x01     /* token character */
#define C_VALUE  0x02     /* field-vchar, SP, HTAB, obs-text: also reason phrases and quoted-pairs */
#define C_QDTEXT 0x04     /* inside a quoted-string, backslash and DQUOTE excluded */
#define C_TARGET 0x08     /* request-target: anything but CTL and SP */
#define C_HOST   0x10     /* reg-name characters accepted in Host: unreserved */
#define C_HEX    0x20

#define TVQG (C_TCHAR | C_VALUE | C_QDTEXT | C_TARGET)
#define VQG  (C_VALUE | C_QDTEXT | C_TARGET)

static const uint8_t cclass[256] = {
	['\t'] = C_VALUE | C_QDTEXT,
	[' '] = C_VALUE | C_QDTEXT,
	['!'] = TVQG,
	['"'] = C_VALUE | C_TARGET,
	['#' ... '\''] = TVQG,
	['(' ... ')'] = VQG,
	['*' ... '+'] = TVQG,
	[','] = VQG,
	['-' ... '.'] = TVQG | C_HOST,
	['/'] = VQG,
	['0' ... '9'] = TVQG | C_HOST | C_HEX,
	[':' ... '@'] = VQG,
	['A' ... 'F'] = TVQG | C_HOST | C_HEX,
	['G' ... 'Z'] = TVQG | C_HOST,
	['['] = VQG,
	['\\'] = C_VALUE | C_TARGET,
	[']'] = VQG,
	['^'] = TVQG,
	['_'] = TVQG | C_HOST,
	['`'] = TVQG,
	['a' ... 'f'] = TVQG | C_HOST | C_HEX,
	['g' ... 'z'] = TVQG | C_HOST,
	['{'] = VQG,
	['|'] = TVQG,
	['}'] = VQG,
	['~'] = TVQG | C_HOST,
	[0x80 ... 0xff] = VQG,
};

/* What an empty slice points at: callers may memcpy from it. */
static const uint8_t empty_bytes[1];

static const char *const violation_names[ZTG_HTTP_VIOLATION_COUNT] = {
#define ZTG_HTTP_VIOLATION_NAME(sym, name) [ZTG_HTTP_##sym] = name,
	ZTG_HTTP_VIOLATIONS(ZTG_HTTP_VIOLATION_NAME)
#undef ZTG_HTTP_VIOLATION_NAME
};

const char *ztg_http_violation_name(enum ztg_http_violation v)
{
	if ((unsigned int)v >= ZTG_HTTP_VIOLATION_COUNT)
		return "unknown";
	return violation_names[v];
}

void ztg_http_limits_default(struct ztg_http_limits *limits)
{
	*limits = (struct ztg_http_limits){
		.max_start_line = 8192,
		.max_header_line = 8192,
		.max_headers = 100,
		.max_head_bytes = 16384,
		.max_pipelined = 16,
	};
}

/* ------------------------------------------------------------------ pool */

struct ztg_http_pool {
	uint8_t *mem;
	uint32_t buffer_size;  /* usable bytes per buffer */
	uint32_t stride;       /* buffer_size rounded up to a cache line */
	uint32_t buffers;
	uint32_t free_count;
	uint32_t free_list[];  /* indices of free buffers, used as a stack */
};

struct ztg_http_pool *ztg_http_pool_create(uint32_t buffers, uint32_t buffer_size)
{
	struct ztg_http_pool *pool;
	uint64_t stride, total;

	if (buffers == 0 || buffer_size == 0)
		return NULL;
	stride = ((uint64_t)buffer_size + CACHE_LINE - 1) & ~(uint64_t)(CACHE_LINE - 1);
	total = stride * buffers;
	if (stride > UINT32_MAX || total > SIZE_MAX / 2)
		return NULL;
	pool = malloc(sizeof(*pool) + (size_t)buffers * sizeof(pool->free_list[0]));
	if (pool == NULL)
		return NULL;
	/* aligned_alloc wants a multiple of the alignment: stride is one. */
	pool->mem = aligned_alloc(CACHE_LINE, (size_t)total);
	if (pool->mem == NULL) {
		free(pool);
		return NULL;
	}
	pool->buffer_size = buffer_size;
	pool->stride = (uint32_t)stride;
	pool->buffers = buffers;
	pool->free_count = buffers;
	/* Lowest index on top of the stack: a lightly used pool touches few cache lines. */
	for (uint32_t i = 0; i < buffers; i++)
		pool->free_list[i] = buffers - 1 - i;
	return pool;
}

void ztg_http_pool_free(struct ztg_http_pool *pool)
{
	if (pool == NULL)
		return;
	free(pool->mem);
	free(pool);
}

uint32_t ztg_http_pool_in_use(const struct ztg_http_pool *pool)
{
	return pool ? pool->buffers - pool->free_count : 0;
}

static uint8_t *pool_buffer(const struct ztg_http_pool *pool, uint32_t ref)
{
	if (unlikely(pool == NULL || ref == 0 || ref > pool->buffers))
		return NULL;
	return pool->mem + (size_t)(ref - 1) * pool->stride;
}

static uint8_t *buffer_get(struct ztg_http_pool *pool, struct ztg_http_dir *d)
{
	if (unlikely(pool == NULL || pool->free_count == 0))
		return NULL;
	d->buffer = pool->free_list[--pool->free_count] + 1;
	return pool_buffer(pool, d->buffer);
}

static void buffer_put(struct ztg_http_pool *pool, struct ztg_http_dir *d)
{
	if (d->buffer == 0)
		return;
	if (pool != NULL && d->buffer <= pool->buffers && pool->free_count < pool->buffers)
		pool->free_list[pool->free_count++] = d->buffer - 1;
	d->buffer = 0;
}

/* ------------------------------------------------------------ connection */

void ztg_http_conn_init(struct ztg_http_conn *conn)
{
	memset(conn, 0, sizeof(*conn));
}

void ztg_http_conn_release(struct ztg_http_conn *conn, struct ztg_http_pool *pool)
{
	struct ztg_http_dir *dirs[2] = { &conn->request, &conn->response };

	for (int i = 0; i < 2; i++) {
		buffer_put(pool, dirs[i]);
		/* A head cut off from its buffer must never be resumed. */
		if (dirs[i]->state < ST_TUNNEL)
			dirs[i]->state = ST_CLOSED;
	}
}

/* ------------------------------------------------------------ feed state */

/* Limits as the parser applies them: clamped to what the structures hold. */
struct limits {
	uint64_t start_line;
	uint64_t header_line;
	uint64_t head_bytes;
	uint32_t headers;
	uint32_t pipelined;
};

struct feed {
	struct ztg_http_conn *conn;
	struct ztg_http_dir *dir;
	struct ztg_http_pool *pool;
	ztg_http_event_fn fn;
	void *ctx;
	bool is_request;
	struct limits lim;
};

static int no_event(void *ctx, const struct ztg_http_event *event)
{
	(void)ctx;
	(void)event;
	return 0;
}

static void limits_of(const struct ztg_http_limits *in, const struct ztg_http_pool *pool, struct limits *out)
{
	struct ztg_http_limits def;

	if (in == NULL) {
		ztg_http_limits_default(&def);
		in = &def;
	}
	out->start_line = in->max_start_line;
	out->header_line = in->max_header_line;
	out->head_bytes = in->max_head_bytes;
	/* A head larger than a buffer could not be held if it spans feeds. */
	if (pool != NULL && out->head_bytes > pool->buffer_size)
		out->head_bytes = pool->buffer_size;
	out->headers = in->max_headers < ZTG_HTTP_MAX_HEADERS ? in->max_headers : ZTG_HTTP_MAX_HEADERS;
	out->pipelined = in->max_pipelined == 0 ? 1 :
			 in->max_pipelined > PENDING_RING ? PENDING_RING : in->max_pipelined;
}

static int emit(const struct feed *f, struct ztg_http_event *ev)
{
	ev->is_request = f->is_request;
	return f->fn(f->ctx, ev);
}

/* message: the head whose start line was read, so the event can say which request; or NULL. */
static int violation_in(struct feed *f, enum ztg_http_violation why, const struct ztg_http_message *message)
{
	struct ztg_http_dir *d = f->dir;
	struct ztg_http_event ev = {
		.type = ZTG_HTTP_EV_VIOLATION,
		.index = d->index,
		.violation = why,
		.message = message,
	};
	int rc;

	d->state = ST_STOPPED;
	d->violation = (uint8_t)why;
	/* The message's slices may point into the pool buffer: give it back after the callback. */
	rc = emit(f, &ev);
	buffer_put(f->pool, d);
	return rc ? rc : ZTG_HTTP_FEED_STOPPED;
}

static int violation(struct feed *f, enum ztg_http_violation why)
{
	return violation_in(f, why, NULL);
}

static void reset_message(struct ztg_http_dir *d)
{
	d->state = ST_IDLE;
	d->line_phase = LP_START;
	d->flags = 0;
	d->header_count = 0;
	d->line_len = 0;
	d->head_len = 0;
	d->remaining = 0;
}

static int complete(struct feed *f)
{
	struct ztg_http_dir *d = f->dir;
	struct ztg_http_event ev = { .type = ZTG_HTTP_EV_COMPLETE, .index = d->index };

	/* An interim response leaves the request waiting: the next response has its number. */
	if (!(d->flags & MF_INTERIM))
		d->index++;
	reset_message(d);
	return emit(f, &ev);
}

static int body_piece(const struct feed *f, const uint8_t *p, uint32_t n)
{
	struct ztg_http_event ev = {
		.type = ZTG_HTTP_EV_BODY,
		.index = f->dir->index,
		.body = { p, n },
	};

	return emit(f, &ev);
}

/* -------------------------------------------------------- small readers */

static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline int hex_value(uint8_t c)
{
	if (!(cclass[c] & C_HEX))
		return -1;
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/*
 * Eight bytes at a time (SWAR): field values and targets are most of a
 * head's bytes, and nearly all of them are plain printable ASCII or
 * obs-text. Both tests are exact for "some byte matches", which is all they
 * are used for.
 */
#define SWAR_ONES  0x0101010101010101ull
#define SWAR_HIGHS 0x8080808080808080ull

static inline uint64_t swar_any_below(uint64_t x, uint8_t c)   /* c <= 0x80 */
{
	return (x - SWAR_ONES * c) & ~x & SWAR_HIGHS;
}

static inline uint64_t swar_any_equal(uint64_t x, uint8_t c)
{
	uint64_t y = x ^ (SWAR_ONES * c);

	return (y - SWAR_ONES) & ~y & SWAR_HIGHS;
}

/* Bytes from s, in whole words, that are all >= floor and none DEL. */
static inline uint32_t swar_run(const uint8_t *s, uint32_t n, uint8_t floor)
{
	uint32_t i = 0;
	uint64_t x;

	while (n - i >= 8) {
		memcpy(&x, s + i, 8);
		if (swar_any_below(x, floor) | swar_any_equal(x, 0x7f))
			break;
		i += 8;
	}
	return i;
}

/* Field-value bytes from s: words of plain bytes, then the table for what needs a closer look (HTAB). */
static uint32_t value_run(const uint8_t *s, uint32_t n)
{
	uint32_t i = 0, stop;

	while (i < n) {
		i += swar_run(s + i, n - i, 0x20);
		stop = n - i < 8 ? n : i + 8;
		while (i < stop && (cclass[s[i]] & C_VALUE))
			i++;
		if (i < stop)
			break;
	}
	return i;
}

/*
 * Case-insensitive match against a lowercase literal. Folding with | 0x20
 * is exact here: the bytes compared are tchars or field-value bytes, which
 * hold no CTL other than HTAB, and no literal has the byte HTAB folds to.
 */
static bool lower_eq(const uint8_t *s, uint32_t n, const char *lit, uint32_t lit_len)
{
	if (n != lit_len)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if ((uint8_t)(s[i] | 0x20) != (uint8_t)lit[i])
			return false;
	return true;
}
#define LOWER_EQ(s, n, lit) lower_eq((s), (n), lit, (uint32_t)(sizeof(lit) - 1))

static struct ztg_http_slice slice(const uint8_t *p, uint32_t n)
{
	return (struct ztg_http_slice){ n ? p : empty_bytes, n };
}

static struct ztg_http_slice trim_ows(const uint8_t *p, const uint8_t *end)
{
	while (p < end && is_ows(*p))
		p++;
	while (end > p && is_ows(end[-1]))
		end--;
	return slice(p, (uint32_t)(end - p));
}

/* A comma-separated list (RFC 9110 §5.6.1): elements OWS-trimmed, empty ones included. */
struct list {
	const uint8_t *p;
	const uint8_t *end;
	bool done;
};

static struct list list_of(struct ztg_http_slice v)
{
	return (struct list){ v.ptr, v.ptr + v.len, false };
}

static bool list_next(struct list *l, struct ztg_http_slice *el)
{
	const uint8_t *comma;

	if (l->done)
		return false;
	comma = memchr(l->p, ',', (size_t)(l->end - l->p));
	*el = trim_ows(l->p, comma ? comma : l->end);
	if (comma)
		l->p = comma + 1;
	else
		l->done = true;
	return true;
}

/* ------------------------------------------------------------ start line */

static uint8_t method_of(const uint8_t *s, uint32_t n)
{
	switch (n) {
	case 3:
		if (memcmp(s, "GET", 3) == 0)
			return ZTG_HTTP_METHOD_GET;
		if (memcmp(s, "PUT", 3) == 0)
			return ZTG_HTTP_METHOD_PUT;
		break;
	case 4:
		if (memcmp(s, "HEAD", 4) == 0)
			return ZTG_HTTP_METHOD_HEAD;
		if (memcmp(s, "POST", 4) == 0)
			return ZTG_HTTP_METHOD_POST;
		break;
	case 5:
		if (memcmp(s, "PATCH", 5) == 0)
			return ZTG_HTTP_METHOD_PATCH;
		if (memcmp(s, "TRACE", 5) == 0)
			return ZTG_HTTP_METHOD_TRACE;
		break;
	case 6:
		if (memcmp(s, "DELETE", 6) == 0)
			return ZTG_HTTP_METHOD_DELETE;
		break;
	case 7:
		if (memcmp(s, "OPTIONS", 7) == 0)
			return ZTG_HTTP_METHOD_OPTIONS;
		if (memcmp(s, "CONNECT", 7) == 0)
			return ZTG_HTTP_METHOD_CONNECT;
		break;
	}
	return ZTG_HTTP_METHOD_OTHER;
}

/*
 * uri-host [ ":" port ] (RFC 9110 §7.2): an IPv6 literal in brackets or a
 * reg-name of unreserved characters and %XX (sub-delims are legal in RFC
 * 3986 but never in a real host name, and ',' would let "a, b" pass). The
 * port is up to 5 digits, at most 65535; it may be empty unless required.
 */
static bool host_valid(const uint8_t *s, uint32_t n, bool need_port)
{
	uint32_t i = 0, port = 0, digits;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!(cclass[s[i]] & C_HEX) && s[i] != ':' && s[i] != '.')
				return false;
		/* "::" is the shortest IPv6 address. */
		if (i == n || i < 3)
			return false;
		i++;
	} else {
		while (i < n) {
			if (cclass[s[i]] & C_HOST)
				i++;
			else if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0)
				i += 3;
			else
				break;
		}
		if (i == 0)
			return false;
	}
	if (i == n)
		return !need_port;
	if (s[i++] != ':')
		return false;
	digits = n - i;
	if (digits == 0)
		return !need_port;
	if (digits > 5)
		return false;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		port = port * 10 + (uint32_t)(s[i] - '0');
	}
	return port <= 65535;
}

/* absolute-form: scheme "://" ... (a bare "scheme:" would read "host:port" as a URI). */
static bool is_absolute_form(const uint8_t *t, uint32_t n)
{
	uint32_t i = 1;

	if (n == 0 || !((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z'))
		return false;
	while (i < n && (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') || is_digit(t[i]) || t[i] == '+' ||
			 t[i] == '-' || t[i] == '.'))
		i++;
	return n - i >= 3 && memcmp(t + i, "://", 3) == 0;
}

/* RFC 9112 §3.2: the form must fit the method. */
static enum ztg_http_violation check_target(const uint8_t *t, uint32_t n, uint8_t method)
{
	for (uint32_t i = swar_run(t, n, 0x21); i < n; i++)
		if (unlikely(!(cclass[t[i]] & C_TARGET)))
			return ZTG_HTTP_BAD_TARGET;
	if (method == ZTG_HTTP_METHOD_CONNECT)
		return host_valid(t, n, true) ? ZTG_HTTP_NONE : ZTG_HTTP_BAD_TARGET;
	if (t[0] == '/')
		return ZTG_HTTP_NONE;
	if (n == 1 && t[0] == '*')
		return method == ZTG_HTTP_METHOD_OPTIONS ? ZTG_HTTP_NONE : ZTG_HTTP_BAD_TARGET;
	return is_absolute_form(t, n) ? ZTG_HTTP_NONE : ZTG_HTTP_BAD_TARGET;
}

/*
 * method SP request-target SP HTTP-version, single spaces, CRLF excluded.
 * checked: the line passed before (the head is read a second time), only
 * split it.
 */
static enum ztg_http_violation read_request_line(const uint8_t *s, uint32_t n, uint32_t index, bool checked,
						 struct ztg_http_message *m)
{
	const uint8_t *sp1, *sp2, *target, *version;
	uint32_t mlen, tlen, vlen;
	enum ztg_http_violation v;

	if (checked)
		goto split;
	if (unlikely(memchr(s, '\0', n) != NULL))
		return ZTG_HTTP_NUL_BYTE;
	if (unlikely(memchr(s, '\r', n) != NULL))
		return ZTG_HTTP_BARE_CR;
	/* Only the first bytes of a connection can be the HTTP/2 preface. */
	if (unlikely(index == 0 && n == PREFACE_LINE_LEN && memcmp(s, PREFACE_LINE, n) == 0))
		return ZTG_HTTP_HTTP2_PRIOR_KNOWLEDGE;
split:
	sp1 = memchr(s, ' ', n);
	if (unlikely(sp1 == NULL))
		return ZTG_HTTP_BAD_REQUEST_LINE;
	/* The version is the last part: a short walk back in any valid line. */
	for (sp2 = s + n - 1; *sp2 != ' '; sp2--)
		;
	if (unlikely(sp1 == sp2))
		return ZTG_HTTP_BAD_REQUEST_LINE;
	target = sp1 + 1;
	version = sp2 + 1;
	mlen = (uint32_t)(sp1 - s);
	tlen = (uint32_t)(sp2 - target);
	vlen = (uint32_t)(s + n - version);
	/* An empty part or a doubled space between parts. */
	if (unlikely(mlen == 0 || tlen == 0 || vlen == 0 || target[0] == ' ' || sp2[-1] == ' '))
		return ZTG_HTTP_BAD_REQUEST_LINE;
	m->method = method_of(s, mlen);
	m->version_minor = (uint8_t)(version[vlen - 1] - '0');
	m->method_token = slice(s, mlen);
	m->target = slice(target, tlen);
	if (checked)
		return ZTG_HTTP_NONE;
	for (uint32_t i = 0; i < mlen; i++)
		if (unlikely(!(cclass[s[i]] & C_TCHAR)))
			return ZTG_HTTP_BAD_METHOD;
	if (unlikely(vlen != 8 || memcmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1')))
		return ZTG_HTTP_BAD_VERSION;
	v = check_target(target, tlen, m->method);
	return v;
}

/* HTTP-version SP 3DIGIT SP [ reason-phrase ], CRLF excluded. */
static enum ztg_http_violation read_status_line(const uint8_t *s, uint32_t n, struct ztg_http_message *m)
{
	const uint8_t *sp;

	if (unlikely(memchr(s, '\0', n) != NULL))
		return ZTG_HTTP_NUL_BYTE;
	if (unlikely(memchr(s, '\r', n) != NULL))
		return ZTG_HTTP_BARE_CR;
	sp = memchr(s, ' ', n);
	if (unlikely(sp == NULL || sp - s != 8 || memcmp(s, "HTTP/", 5) != 0 || !is_digit(s[5]) || s[6] != '.' ||
		     !is_digit(s[7])))
		return ZTG_HTTP_BAD_STATUS_LINE;
	if (unlikely(s[5] != '1' || (s[7] != '0' && s[7] != '1')))
		return ZTG_HTTP_BAD_VERSION;
	if (unlikely(n < 13 || !is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) || s[12] != ' ' ||
		     s[9] < '1' || s[9] > '5'))
		return ZTG_HTTP_BAD_STATUS_LINE;
	for (uint32_t i = 13; i < n; i++)
		if (unlikely(!(cclass[s[i]] & C_VALUE)))
			return ZTG_HTTP_BAD_STATUS_LINE;
	m->version_minor = (uint8_t)(s[7] - '0');
	m->status = (uint16_t)((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
	m->reason = slice(s + 13, n - 13);
	return ZTG_HTTP_NONE;
}

static enum ztg_http_violation read_start_line(const struct feed *f, const uint8_t *s, uint32_t n, bool checked,
					       struct ztg_http_message *m)
{
	return f->is_request ? read_request_line(s, n, f->dir->index, checked, m) : read_status_line(s, n, m);
}

/* ---------------------------------------------------------- line scanner */

/* What a run over the bytes of a field line found. */
enum field_scan {
	FIELD_MORE,   /* all bytes good, no LF yet */
	FIELD_LF,     /* the line's LF */
	FIELD_BAD,    /* an offending byte */
};

/*
 * Check the bytes of a field line (head or trailer) as they arrive, from
 * the phase the previous bytes left, up to the line's LF. *at is where the
 * LF or the offending byte is (n when neither). A CR is judged by the byte
 * after it: LF ends the line, any other is a bare CR. An LF is left for the
 * caller to judge (bare or not, the line's length, the missing colon).
 */
static enum field_scan scan_field_bytes(uint8_t *phase, const uint8_t *s, uint32_t n, uint32_t *at,
					enum ztg_http_violation *why)
{
	enum field_scan r = FIELD_MORE;
	uint8_t ph = *phase;
	uint32_t i = 0;
	uint8_t c;

	while (i < n) {
		c = s[i];
		if (unlikely(ph & LP_CR)) {
			if (c == '\n')
				goto lf;
			*why = ZTG_HTTP_BARE_CR;
			goto bad;
		}
		switch (ph) {
		case LP_FIELD:
			if (cclass[c] & C_TCHAR) {
				ph = LP_NAME;
				i++;
				break;
			}
			if (c == '\r') {
				ph |= LP_CR;
				i++;
				break;
			}
			if (c == '\n')
				goto lf;
			/* A line that starts with whitespace continues the previous one (RFC 9112 §5.2). */
			*why = is_ows(c) ? ZTG_HTTP_OBS_FOLD : c == '\0' ? ZTG_HTTP_NUL_BYTE : ZTG_HTTP_BAD_HEADER_NAME;
			goto bad;
		case LP_NAME:
			while (i < n && (cclass[s[i]] & C_TCHAR))
				i++;
			if (i == n)
				break;
			c = s[i];
			if (c == ':') {
				ph = LP_VALUE;
				i++;
				break;
			}
			if (c == '\r') {
				ph |= LP_CR;
				i++;
				break;
			}
			if (c == '\n')
				goto lf;
			/* Whitespace before the colon included (RFC 9112 §5.1). */
			*why = c == '\0' ? ZTG_HTTP_NUL_BYTE : ZTG_HTTP_BAD_HEADER_NAME;
			goto bad;
		default: /* LP_VALUE */
			i += value_run(s + i, n - i);
			if (i == n)
				break;
			c = s[i];
			if (c == '\r') {
				ph |= LP_CR;
				i++;
				break;
			}
			if (c == '\n')
				goto lf;
			*why = c == '\0' ? ZTG_HTTP_NUL_BYTE : ZTG_HTTP_BAD_HEADER_VALUE;
			goto bad;
		}
	}
	goto out;
lf:
	r = FIELD_LF;
	goto out;
bad:
	r = FIELD_BAD;
out:
	*phase = ph;
	*at = i;
	return r;
}

enum scan_result {
	SCAN_MORE,   /* all bytes taken, the section goes on */
	SCAN_DONE,   /* the blank line was taken */
	SCAN_BAD,    /* violation */
};

static enum ztg_http_violation line_too_long(const struct feed *f, bool start)
{
	if (!start)
		return ZTG_HTTP_HEADER_LINE_TOO_LONG;
	return f->is_request ? ZTG_HTTP_REQUEST_LINE_TOO_LONG : ZTG_HTTP_STATUS_LINE_TOO_LONG;
}

/*
 * Find where the current line ends in the n bytes at s. k is the offset of
 * the first byte at which a limit is crossed. Returns false with *why set on
 * a violation; else *content is the line's bytes here (LF excluded) and *lf
 * whether its LF is here.
 */
static bool line_end(struct ztg_http_dir *d, const uint8_t *s, uint32_t n, uint64_t k, bool start,
		     uint32_t *content, bool *lf, enum ztg_http_violation *why)
{
	uint32_t scan, at;

	if (start) {
		/* A start line is judged whole at its LF. */
		const uint8_t *e = memchr(s, '\n', n);

		*content = e ? (uint32_t)(e - s) : n;
		*lf = e != NULL;
		*why = ZTG_HTTP_NONE;
		return k >= *content;
	}
	/* Field bytes are judged as they come, up to and including the byte at k: it may be the LF. */
	scan = n <= k ? n : (uint32_t)k + 1;
	switch (scan_field_bytes(&d->line_phase, s, scan, &at, why)) {
	case FIELD_BAD:
		if (at >= k)
			*why = ZTG_HTTP_NONE;   /* the limit came first */
		return false;
	case FIELD_MORE:
		*content = n;
		*lf = false;
		*why = ZTG_HTTP_NONE;
		return scan == n && n <= k;
	default:
		*content = at;
		*lf = true;
		return true;
	}
}

/*
 * Scan the lines of a head (base: where its first byte is; buf: the pool
 * buffer when the head is being copied, else NULL) or of a trailer section
 * (both NULL; it has no start line). *used is how many of the n bytes at p
 * were taken.
 */
static enum scan_result scan_lines(struct feed *f, uint8_t *buf, const uint8_t *base, const uint8_t *p,
				   uint32_t n, uint32_t *used, enum ztg_http_violation *why)
{
	struct ztg_http_dir *d = f->dir;
	struct ztg_http_message scratch;
	uint32_t pos = 0;

	while (pos < n) {
		const uint8_t *s = p + pos;
		bool start = (d->line_phase & LP_MASK) == LP_START;
		uint64_t line_max = start ? f->lim.start_line : f->lim.header_line;
		/*
		 * Where in this piece a limit falls, from s: the byte that would
		 * make the line limit + 2 long (limit + 1 may still end in the CR
		 * of CRLF), the first byte past the head's limit (an LF too).
		 * Neither underflows: a line or head never grows past them.
		 */
		uint64_t k_line = line_max + 1 - d->line_len;
		uint64_t k_head = f->lim.head_bytes - d->head_len;
		uint32_t content, total, clen, line_off;
		bool lf, cr;

		if (unlikely(!line_end(d, s, n - pos, k_line < k_head ? k_line : k_head, start, &content, &lf, why))) {
			/* No bad byte before the limit: the earlier limit, the line's on a tie. */
			if (*why == ZTG_HTTP_NONE)
				*why = k_line <= k_head ? line_too_long(f, start) : ZTG_HTTP_HEADERS_TOO_LARGE;
			return SCAN_BAD;
		}
		cr = content ? s[content - 1] == '\r' : (d->line_phase & LP_CR) != 0;
		if (start)
			d->line_phase = cr ? (LP_START | LP_CR) : LP_START;
		if (!lf) {
			if (buf)
				memcpy(buf + d->head_len, s, content);
			d->head_len += content;
			d->line_len += content;
			break;
		}

		/* The line ends here. */
		total = content + 1;
		clen = d->line_len + content - cr;
		if (unlikely(clen > line_max)) {
			*why = line_too_long(f, start);
			return SCAN_BAD;
		}
		if (unlikely(k_head == content)) {
			*why = ZTG_HTTP_HEADERS_TOO_LARGE;
			return SCAN_BAD;
		}
		if (unlikely(!cr)) {
			*why = ZTG_HTTP_BARE_LF;
			return SCAN_BAD;
		}
		if (buf)
			memcpy(buf + d->head_len, s, total);
		line_off = d->head_len - d->line_len;
		d->head_len += total;
		d->line_len = 0;
		pos += total;
		if (start) {
			*why = read_start_line(f, base + line_off, clen, false, &scratch);
			if (unlikely(*why != ZTG_HTTP_NONE))
				return SCAN_BAD;
		} else if (clen == 0) {
			d->line_phase = LP_FIELD;
			*used = pos;
			return SCAN_DONE;
		} else if (unlikely((d->line_phase & LP_MASK) != LP_VALUE)) {
			*why = ZTG_HTTP_BAD_HEADER_NAME;   /* no colon */
			return SCAN_BAD;
		} else if (unlikely(++d->header_count > f->lim.headers)) {
			*why = ZTG_HTTP_TOO_MANY_HEADERS;
			return SCAN_BAD;
		}
		d->line_phase = LP_FIELD;
	}
	*used = n;
	return SCAN_MORE;
}

/* --------------------------------------------------------- head reading */

/* What the field lines say about framing and the connection. */
struct facts {
	int64_t content_length;   /* -1: absent */
	bool host_seen;
	bool te_seen;
	bool te_chunked;          /* chunked appeared */
	bool te_chunked_last;     /* ... and is the final coding */
	bool conn_close;
	bool conn_keep_alive;
	bool upgrade_seen;
	uint8_t upgrade;          /* first protocol of the first Upgrade field */
	bool expect_continue;
	bool start_line_read;     /* method and target (or status) are valid */
};

/* RFC 9110 §8.6: identical values, as repeated fields or a list, are one. */
static enum ztg_http_violation read_content_length(struct ztg_http_slice v, struct facts *fa)
{
	struct list l = list_of(v);
	struct ztg_http_slice el;

	while (list_next(&l, &el)) {
		uint64_t x = 0;

		if (unlikely(el.len == 0))
			return ZTG_HTTP_BAD_CONTENT_LENGTH;
		for (uint32_t i = 0; i < el.len; i++) {
			if (unlikely(!is_digit(el.ptr[i])))
				return ZTG_HTTP_BAD_CONTENT_LENGTH;
			if (unlikely(x > ((uint64_t)INT64_MAX - (uint64_t)(el.ptr[i] - '0')) / 10))
				return ZTG_HTTP_BAD_CONTENT_LENGTH;
			x = x * 10 + (uint64_t)(el.ptr[i] - '0');
		}
		if (unlikely(fa->content_length >= 0 && (uint64_t)fa->content_length != x))
			return ZTG_HTTP_DUPLICATE_CONTENT_LENGTH;
		fa->content_length = (int64_t)x;
	}
	return ZTG_HTTP_NONE;
}

/*
 * Registered codings only (RFC 9112 §7), chunked at most once and last;
 * no parameters, no empty elements: each is a way to make two parsers
 * disagree on whether the body is chunked.
 */
static enum ztg_http_violation read_transfer_encoding(struct ztg_http_slice v, struct facts *fa)
{
	struct list l = list_of(v);
	struct ztg_http_slice el;

	fa->te_seen = true;
	while (list_next(&l, &el)) {
		if (LOWER_EQ(el.ptr, el.len, "chunked")) {
			if (unlikely(fa->te_chunked))
				return ZTG_HTTP_BAD_TRANSFER_ENCODING;
			fa->te_chunked = true;
			fa->te_chunked_last = true;
			continue;
		}
		if (unlikely(fa->te_chunked))
			return ZTG_HTTP_BAD_TRANSFER_ENCODING;   /* a coding after chunked */
		if (unlikely(!LOWER_EQ(el.ptr, el.len, "gzip") && !LOWER_EQ(el.ptr, el.len, "x-gzip") &&
			     !LOWER_EQ(el.ptr, el.len, "deflate") && !LOWER_EQ(el.ptr, el.len, "compress") &&
			     !LOWER_EQ(el.ptr, el.len, "x-compress")))
			return ZTG_HTTP_BAD_TRANSFER_ENCODING;
		fa->te_chunked_last = false;
	}
	return ZTG_HTTP_NONE;
}

static void read_connection(struct ztg_http_slice v, struct facts *fa)
{
	struct list l = list_of(v);
	struct ztg_http_slice el;

	while (list_next(&l, &el)) {
		if (LOWER_EQ(el.ptr, el.len, "close"))
			fa->conn_close = true;
		else if (LOWER_EQ(el.ptr, el.len, "keep-alive"))
			fa->conn_keep_alive = true;
	}
}

/* protocol-name [ "/" protocol-version ] of the first element (RFC 9110 §7.8). */
static void read_upgrade(struct ztg_http_slice v, struct facts *fa)
{
	struct list l = list_of(v);
	struct ztg_http_slice el;

	if (fa->upgrade_seen)
		return;
	while (list_next(&l, &el)) {
		const uint8_t *slash;

		if (el.len == 0)
			continue;
		slash = memchr(el.ptr, '/', el.len);
		if (slash)
			el.len = (uint32_t)(slash - el.ptr);
		fa->upgrade_seen = true;
		fa->upgrade = LOWER_EQ(el.ptr, el.len, "websocket") ? ZTG_HTTP_UPGRADE_WEBSOCKET :
			      LOWER_EQ(el.ptr, el.len, "h2c")       ? ZTG_HTTP_UPGRADE_H2C :
								      ZTG_HTTP_UPGRADE_OTHER;
		return;
	}
}

static void read_expect(struct ztg_http_slice v, struct facts *fa)
{
	struct list l = list_of(v);
	struct ztg_http_slice el;

	while (list_next(&l, &el))
		if (LOWER_EQ(el.ptr, el.len, "100-continue"))
			fa->expect_continue = true;
}

/* The fields that frame the message or describe the connection, by name. */
static enum ztg_http_violation read_field(const struct feed *f, const struct ztg_http_header *h,
					  struct ztg_http_message *m, struct facts *fa)
{
	const uint8_t *name = h->name.ptr;

	switch (h->name.len) {
	case 4:
		if (f->is_request && LOWER_EQ(name, 4, "host")) {
			if (unlikely(fa->host_seen))
				return ZTG_HTTP_DUPLICATE_HOST;
			if (unlikely(!host_valid(h->value.ptr, h->value.len, false)))
				return ZTG_HTTP_BAD_HOST;
			fa->host_seen = true;
			m->host = h->value;
		}
		break;
	case 6:
		if (f->is_request && LOWER_EQ(name, 6, "expect"))
			read_expect(h->value, fa);
		break;
	case 7:
		if (LOWER_EQ(name, 7, "upgrade"))
			read_upgrade(h->value, fa);
		break;
	case 10:
		if (LOWER_EQ(name, 10, "connection"))
			read_connection(h->value, fa);
		break;
	case 14:
		if (LOWER_EQ(name, 14, "content-length"))
			return read_content_length(h->value, fa);
		break;
	case 17:
		if (LOWER_EQ(name, 17, "transfer-encoding"))
			return read_transfer_encoding(h->value, fa);
		break;
	}
	return ZTG_HTTP_NONE;
}

/*
 * Read a complete head from one block. The scanner has proved its shape:
 * every line ends in CRLF, the start line is valid, every field line has a
 * valid name and a colon, and the last line is the blank one.
 */
static enum ztg_http_violation read_head(const struct feed *f, const uint8_t *h, uint32_t len,
					 struct ztg_http_message *m, struct ztg_http_header *hdrs, struct facts *fa)
{
	const uint8_t *end = h + len;
	const uint8_t *lf = memchr(h, '\n', len);
	const uint8_t *p;
	enum ztg_http_violation v;
	uint32_t n = 0;

	*m = (struct ztg_http_message){
		.is_request = f->is_request,
		.method_token = slice(NULL, 0),
		.target = slice(NULL, 0),
		.reason = slice(NULL, 0),
		.host = slice(NULL, 0),
		.headers = hdrs,
		.content_length = -1,
		.head_bytes = len,
		.index = f->dir->index,
	};
	*fa = (struct facts){ .content_length = -1 };
	v = read_start_line(f, h, (uint32_t)(lf - 1 - h), true, m);
	if (unlikely(v != ZTG_HTTP_NONE))
		return v;
	fa->start_line_read = true;
	for (p = lf + 1; p < end; p = lf + 1) {
		const uint8_t *eol, *colon;
		struct ztg_http_header *hdr;

		lf = memchr(p, '\n', (size_t)(end - p));
		eol = lf - 1;
		if (eol == p)
			break;
		/* Names are short: a walk beats a call. */
		for (colon = p; *colon != ':'; colon++)
			;
		hdr = &hdrs[n++];
		hdr->name = slice(p, (uint32_t)(colon - p));
		hdr->value = trim_ows(colon + 1, eol);
		v = read_field(f, hdr, m, fa);
		if (unlikely(v != ZTG_HTTP_NONE))
			return v;
	}
	m->header_count = (uint16_t)n;
	m->expect_continue = fa->expect_continue;
	m->chunked = fa->te_chunked_last;
	/* RFC 9112 §9.3: 1.1 persists unless closed, 1.0 only when asked to. */
	m->keep_alive = !fa->conn_close && (m->version_minor == 1 || fa->conn_keep_alive);
	if (fa->te_seen) {
		if (unlikely(fa->content_length >= 0))
			return ZTG_HTTP_CL_AND_TE;
		/* RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing. */
		if (unlikely(m->version_minor == 0))
			return ZTG_HTTP_BAD_TRANSFER_ENCODING;
	}
	m->content_length = fa->content_length;
	return ZTG_HTTP_NONE;
}

/* How the body after a head is delimited. */
enum body_kind {
	BODY_NONE,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_CLOSE,
	BODY_TUNNEL,
};

static enum ztg_http_violation frame_request(struct feed *f, struct ztg_http_message *m, const struct facts *fa,
					     enum body_kind *body)
{
	struct ztg_http_conn *c = f->conn;

	/* RFC 9112 §6.3: a request body is chunked last or counted, nothing else. */
	if (unlikely(fa->te_seen && !fa->te_chunked_last))
		return ZTG_HTTP_BAD_TRANSFER_ENCODING;
	/*
	 * CONNECT has no content (RFC 9110 §9.3.6): a server that ignores the
	 * framing would read our "body" as the next request.
	 */
	if (unlikely(m->method == ZTG_HTTP_METHOD_CONNECT)) {
		if (fa->te_seen)
			return ZTG_HTTP_BAD_TRANSFER_ENCODING;
		if (fa->content_length > 0)
			return ZTG_HTTP_BAD_CONTENT_LENGTH;
	}
	if (unlikely(m->version_minor == 1 && !fa->host_seen))
		return ZTG_HTTP_MISSING_HOST;
	if (unlikely(c->pending_count >= f->lim.pipelined))
		return ZTG_HTTP_TOO_MANY_PIPELINED;

	m->upgrade = m->method == ZTG_HTTP_METHOD_CONNECT ? ZTG_HTTP_UPGRADE_CONNECT : fa->upgrade;
	c->pending_methods[(c->pending_head + c->pending_count) % PENDING_RING] =
		(uint8_t)(m->method | m->upgrade << PENDING_UPGRADE_SHIFT);
	c->pending_count++;
	if (fa->te_chunked_last)
		*body = BODY_CHUNKED;
	else if (fa->content_length > 0)
		*body = BODY_LENGTH;
	else
		*body = BODY_NONE;
	m->has_body = *body != BODY_NONE;
	return ZTG_HTTP_NONE;
}

/* RFC 9112 §6.3, in its order, for the response at the head of the ring. */
static enum ztg_http_violation frame_response(struct feed *f, struct ztg_http_message *m, const struct facts *fa,
					      enum body_kind *body)
{
	struct ztg_http_conn *c = f->conn;
	uint8_t entry, asked;

	if (unlikely(c->pending_count == 0))
		return ZTG_HTTP_RESPONSE_WITHOUT_REQUEST;
	entry = c->pending_methods[c->pending_head];
	m->method = entry & PENDING_METHOD;
	asked = entry >> PENDING_UPGRADE_SHIFT;

	if (m->status < 200) {
		/* 101 switches only what was asked for; any other 1xx is interim. */
		if (m->status == 101 && asked != ZTG_HTTP_UPGRADE_NONE && asked != ZTG_HTTP_UPGRADE_CONNECT) {
			m->upgrade = fa->upgrade_seen ? fa->upgrade : asked;
			*body = BODY_TUNNEL;
		} else {
			f->dir->flags |= MF_INTERIM;
			*body = BODY_NONE;
			return ZTG_HTTP_NONE;
		}
	} else if (m->method == ZTG_HTTP_METHOD_CONNECT && m->status < 300) {
		m->upgrade = ZTG_HTTP_UPGRADE_CONNECT;
		*body = BODY_TUNNEL;
	} else if (m->method == ZTG_HTTP_METHOD_HEAD || m->status == 204 || m->status == 304) {
		*body = BODY_NONE;
	} else if (fa->te_seen) {
		/* A response may end a non-chunked coding by closing. */
		*body = fa->te_chunked_last ? BODY_CHUNKED : BODY_CLOSE;
	} else if (fa->content_length >= 0) {
		*body = fa->content_length > 0 ? BODY_LENGTH : BODY_NONE;
	} else {
		*body = BODY_CLOSE;
	}
	c->pending_head = (uint8_t)((c->pending_head + 1) % PENDING_RING);
	c->pending_count--;
	m->has_body = *body == BODY_LENGTH || *body == BODY_CHUNKED || *body == BODY_CLOSE;
	if (*body == BODY_CLOSE)
		m->keep_alive = false;
	return ZTG_HTTP_NONE;
}

/* Both directions stop parsing; their bytes belong to another protocol now. */
static int open_tunnel(struct feed *f, uint8_t kind)
{
	struct ztg_http_conn *c = f->conn;
	struct ztg_http_event done = { .type = ZTG_HTTP_EV_COMPLETE, .index = f->dir->index };
	struct ztg_http_event tunnel = { .type = ZTG_HTTP_EV_TUNNEL, .index = f->dir->index, .upgrade = kind };
	int rc;

	c->tunnel = kind;
	c->request.state = ST_TUNNEL;
	c->response.state = ST_TUNNEL;
	buffer_put(f->pool, &c->request);
	buffer_put(f->pool, &c->response);
	rc = emit(f, &done);
	if (rc)
		return rc;
	return emit(f, &tunnel);
}

static int head_complete(struct feed *f, const uint8_t *base)
{
	struct ztg_http_dir *d = f->dir;
	struct ztg_http_header hdrs[ZTG_HTTP_MAX_HEADERS];
	struct ztg_http_message m;
	struct facts fa;
	struct ztg_http_event ev = { .type = ZTG_HTTP_EV_HEADERS, .message = &m };
	enum ztg_http_violation v;
	enum body_kind body = BODY_NONE;
	int rc;

	v = read_head(f, base, d->head_len, &m, hdrs, &fa);
	if (v == ZTG_HTTP_NONE)
		v = f->is_request ? frame_request(f, &m, &fa, &body) : frame_response(f, &m, &fa, &body);
	if (unlikely(v != ZTG_HTTP_NONE))
		return violation_in(f, v, fa.start_line_read ? &m : NULL);

	ev.index = d->index;
	/* The state the bytes after the head belong to, set before the callback may stop the feed. */
	switch (body) {
	case BODY_NONE:
	case BODY_TUNNEL:
		d->state = ST_BODY_LENGTH;
		d->remaining = 0;
		break;
	case BODY_LENGTH:
		d->state = ST_BODY_LENGTH;
		d->remaining = (uint64_t)m.content_length;
		break;
	case BODY_CHUNKED:
		d->state = ST_CHUNK_LINE;
		d->line_phase = CK_SIZE_START;
		d->line_len = 0;
		d->remaining = 0;
		break;
	case BODY_CLOSE:
		d->state = ST_BODY_CLOSE;
		break;
	}
	rc = emit(f, &ev);
	/* The slices pointed into the buffer until now. */
	buffer_put(f->pool, d);
	if (rc)
		return rc;
	if (body == BODY_TUNNEL)
		return open_tunnel(f, m.upgrade);
	if (body == BODY_NONE)
		return complete(f);
	return 0;
}

/* ------------------------------------------------------------ the states */

/*
 * RFC 9112 §2.2: a server ignores empty lines before a request-line (some
 * clients add CRLF after a body). They count against the start line limit,
 * so an endless run of them is refused.
 */
static int on_idle(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	struct ztg_http_dir *d = f->dir;
	uint32_t i = *pos;

	if (f->is_request) {
		for (; i < len; i++) {
			uint8_t c = data[i];

			if (d->line_phase & LP_CR) {
				if (unlikely(c != '\n'))
					return violation(f, ZTG_HTTP_BARE_CR);
				d->line_phase = LP_START;
				continue;
			}
			if (c == '\r') {
				d->line_len += 2;
				if (unlikely(d->line_len > f->lim.start_line))
					return violation(f, ZTG_HTTP_REQUEST_LINE_TOO_LONG);
				d->line_phase = LP_START | LP_CR;
				continue;
			}
			if (unlikely(c == '\n'))
				return violation(f, ZTG_HTTP_BARE_LF);
			break;
		}
		*pos = i;
		if (i == len)
			return 0;
	}
	d->state = ST_HEAD;
	d->line_phase = LP_START;
	d->line_len = 0;
	return 0;
}

static int on_head(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	struct ztg_http_dir *d = f->dir;
	const uint8_t *p = data + *pos;
	const uint8_t *base = p;
	enum ztg_http_violation why = ZTG_HTTP_NONE;
	enum scan_result r;
	uint8_t *buf = NULL;
	uint32_t used;

	if (d->buffer) {
		buf = pool_buffer(f->pool, d->buffer);
		if (unlikely(buf == NULL))
			return violation(f, ZTG_HTTP_BUFFER_EXHAUSTED);
		base = buf;
	} else if (unlikely(d->head_len != 0)) {
		/* Bytes of this head were seen but not kept: it cannot be read whole. */
		return violation(f, ZTG_HTTP_BUFFER_EXHAUSTED);
	}
	r = scan_lines(f, buf, base, p, len - *pos, &used, &why);
	if (unlikely(r == SCAN_BAD))
		return violation(f, why);
	*pos += used;
	if (r == SCAN_DONE)
		return head_complete(f, base);
	if (buf == NULL) {
		/* The head goes on in the next feed: keep what we have (never past the head limit). */
		buf = buffer_get(f->pool, d);
		if (unlikely(buf == NULL))
			return violation(f, ZTG_HTTP_BUFFER_EXHAUSTED);
		memcpy(buf, base, d->head_len);
	}
	return 0;
}

static int on_body_length(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	struct ztg_http_dir *d = f->dir;
	uint32_t avail = len - *pos;
	uint32_t n = d->remaining < avail ? (uint32_t)d->remaining : avail;
	const uint8_t *p = data + *pos;
	int rc;

	d->remaining -= n;
	*pos += n;
	if (n) {
		rc = body_piece(f, p, n);
		if (rc)
			return rc;
	}
	return d->remaining == 0 ? complete(f) : 0;
}

static int on_body_close(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	const uint8_t *p = data + *pos;
	uint32_t n = len - *pos;

	*pos = len;
	return body_piece(f, p, n);
}

static int on_chunk_data(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	struct ztg_http_dir *d = f->dir;
	uint32_t avail = len - *pos;
	uint32_t n = d->remaining < avail ? (uint32_t)d->remaining : avail;
	const uint8_t *p = data + *pos;

	d->remaining -= n;
	*pos += n;
	if (d->remaining == 0) {
		d->state = ST_CHUNK_END;
		d->line_phase = 0;
	}
	return body_piece(f, p, n);
}

static void start_chunk_line(struct ztg_http_dir *d)
{
	d->state = ST_CHUNK_LINE;
	d->line_phase = CK_SIZE_START;
	d->line_len = 0;
	d->remaining = 0;
}

/* Chunk data ends with exactly CRLF (RFC 9112 §7.1): anything else desyncs chunk boundaries. */
static int on_chunk_end(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	struct ztg_http_dir *d = f->dir;
	uint32_t i = *pos;

	if (d->line_phase == 0) {
		if (unlikely(data[i] != '\r'))
			return violation(f, ZTG_HTTP_BAD_CHUNK_TERMINATOR);
		d->line_phase = 1;
		if (++i == len) {
			*pos = i;
			return 0;
		}
	}
	if (unlikely(data[i] != '\n'))
		return violation(f, ZTG_HTTP_BAD_CHUNK_TERMINATOR);
	*pos = i + 1;
	start_chunk_line(d);
	return 0;
}

static bool chunk_phase_may_end(uint8_t ph)
{
	return ph == CK_SIZE || ph == CK_EXT_NAME || ph == CK_EXT_TOKEN || ph == CK_EXT_QUOTE_END;
}

/*
 * chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1.1), strictly: 1 to 16 hex
 * digits, no whitespace anywhere (BWS is where parsers disagree), extension
 * names tokens, values tokens or quoted-strings.
 */
static int on_chunk_line(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	struct ztg_http_dir *d = f->dir;
	uint8_t ph = d->line_phase;
	uint32_t i = *pos;
	int hex;

	while (i < len) {
		uint8_t c = data[i++];

		if (ph == CK_CR) {
			if (unlikely(c != '\n'))
				return violation(f, ZTG_HTTP_BARE_CR);
			*pos = i;
			if (d->remaining == 0) {
				/* The last chunk: the trailer section has a head's limits, counted afresh. */
				d->state = ST_TRAILER;
				d->line_phase = LP_FIELD;
				d->line_len = 0;
				d->head_len = 0;
				d->header_count = 0;
			} else {
				d->state = ST_CHUNK_DATA;
			}
			return 0;
		}
		if (unlikely(c == '\n'))
			return violation(f, ZTG_HTTP_BARE_LF);
		if (c == '\r') {
			if (unlikely(!chunk_phase_may_end(ph)))
				return violation(f, ph == CK_SIZE_START ? ZTG_HTTP_BAD_CHUNK_SIZE :
									    ZTG_HTTP_BAD_CHUNK_EXTENSION);
			ph = CK_CR;
			continue;
		}
		if (unlikely(++d->line_len > ZTG_HTTP_MAX_CHUNK_LINE))
			return violation(f, ph <= CK_SIZE ? ZTG_HTTP_BAD_CHUNK_SIZE : ZTG_HTTP_BAD_CHUNK_EXTENSION);
		switch (ph) {
		case CK_SIZE_START:
		case CK_SIZE:
			hex = hex_value(c);
			if (hex >= 0) {
				/* line_len counts the digits so far. */
				if (unlikely(d->line_len > CHUNK_SIZE_DIGITS))
					return violation(f, ZTG_HTTP_BAD_CHUNK_SIZE);
				d->remaining = d->remaining << 4 | (uint64_t)hex;
				if (unlikely(d->remaining > (uint64_t)INT64_MAX))
					return violation(f, ZTG_HTTP_BAD_CHUNK_SIZE);
				ph = CK_SIZE;
			} else if (c == ';' && ph == CK_SIZE) {
				ph = CK_EXT_START;
			} else {
				return violation(f, ZTG_HTTP_BAD_CHUNK_SIZE);
			}
			break;
		case CK_EXT_START:
			if (unlikely(!(cclass[c] & C_TCHAR)))
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			ph = CK_EXT_NAME;
			break;
		case CK_EXT_NAME:
			if (c == '=')
				ph = CK_EXT_VALUE_START;
			else if (c == ';')
				ph = CK_EXT_START;
			else if (unlikely(!(cclass[c] & C_TCHAR)))
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			break;
		case CK_EXT_VALUE_START:
			if (c == '"')
				ph = CK_EXT_QUOTED;
			else if (cclass[c] & C_TCHAR)
				ph = CK_EXT_TOKEN;
			else
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			break;
		case CK_EXT_TOKEN:
			if (c == ';')
				ph = CK_EXT_START;
			else if (unlikely(!(cclass[c] & C_TCHAR)))
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			break;
		case CK_EXT_QUOTED:
			if (c == '"')
				ph = CK_EXT_QUOTE_END;
			else if (c == '\\')
				ph = CK_EXT_ESCAPE;
			else if (unlikely(!(cclass[c] & C_QDTEXT)))
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			break;
		case CK_EXT_ESCAPE:
			if (unlikely(!(cclass[c] & C_VALUE)))
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			ph = CK_EXT_QUOTED;
			break;
		default: /* CK_EXT_QUOTE_END */
			if (unlikely(c != ';'))
				return violation(f, ZTG_HTTP_BAD_CHUNK_EXTENSION);
			ph = CK_EXT_START;
			break;
		}
	}
	d->line_phase = ph;
	*pos = i;
	return 0;
}

/* Trailer fields are checked like header fields but not reported: policy sees the head only. */
static int on_trailer(struct feed *f, const uint8_t *data, uint32_t len, uint32_t *pos)
{
	enum ztg_http_violation why = ZTG_HTTP_NONE;
	enum scan_result r;
	uint32_t used;

	r = scan_lines(f, NULL, NULL, data + *pos, len - *pos, &used, &why);
	if (unlikely(r == SCAN_BAD))
		return violation(f, why);
	*pos += used;
	return r == SCAN_DONE ? complete(f) : 0;
}

int ztg_http_feed(struct ztg_http_conn *conn, bool is_request, const uint8_t *data, uint32_t len,
		  const struct ztg_http_limits *limits, struct ztg_http_pool *pool, ztg_http_event_fn fn,
		  void *ctx)
{
	struct feed f = {
		.conn = conn,
		.dir = is_request ? &conn->request : &conn->response,
		.pool = pool,
		.fn = fn ? fn : no_event,
		.ctx = ctx,
		.is_request = is_request,
	};
	struct ztg_http_dir *d = f.dir;
	uint32_t pos = 0;
	int rc = 0;

	if (unlikely(d->state >= ST_TUNNEL))
		return ZTG_HTTP_FEED_STOPPED;
	limits_of(limits, pool, &f.lim);
	while (pos < len && rc == 0) {
		switch (d->state) {
		case ST_IDLE:
			rc = on_idle(&f, data, len, &pos);
			break;
		case ST_HEAD:
			rc = on_head(&f, data, len, &pos);
			break;
		case ST_BODY_LENGTH:
			rc = on_body_length(&f, data, len, &pos);
			break;
		case ST_CHUNK_LINE:
			rc = on_chunk_line(&f, data, len, &pos);
			break;
		case ST_CHUNK_DATA:
			rc = on_chunk_data(&f, data, len, &pos);
			break;
		case ST_CHUNK_END:
			rc = on_chunk_end(&f, data, len, &pos);
			break;
		case ST_TRAILER:
			rc = on_trailer(&f, data, len, &pos);
			break;
		case ST_BODY_CLOSE:
			rc = on_body_close(&f, data, len, &pos);
			break;
		default:
			/* A tunnel opened: the rest is not HTTP. */
			return ZTG_HTTP_FEED_STOPPED;
		}
	}
	if (rc)
		return rc;
	return d->state >= ST_TUNNEL ? ZTG_HTTP_FEED_STOPPED : 0;
}

int ztg_http_close(struct ztg_http_conn *conn, bool is_request, ztg_http_event_fn fn, void *ctx)
{
	struct feed f = {
		.conn = conn,
		.dir = is_request ? &conn->request : &conn->response,
		.fn = fn ? fn : no_event,
		.ctx = ctx,
		.is_request = is_request,
	};
	struct ztg_http_dir *d = f.dir;
	int rc = 0;

	if (d->state >= ST_TUNNEL)
		return ZTG_HTTP_FEED_STOPPED;
	if (d->state == ST_BODY_CLOSE)
		rc = complete(&f);
	/* Any buffer stays with the connection until ztg_http_conn_release. */
	d->state = ST_CLOSED;
	return rc;
}
