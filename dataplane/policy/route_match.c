/*
 * Route matcher: template parsing and validation, trie compilation into one
 * block, lookup, and the path-shape helper for the API inventory.
 *
 * Build runs in two stages. Every template is parsed into segments and
 * inserted into a build-time trie made of growable arrays (nodes, edges, a
 * hash of (parent, label) -> edge, per-node route lists linked through a
 * per-route array); duplicates are caught at insertion, where two routes of
 * one shape meet in the same list. If nothing failed, the trie is laid out
 * into the block: nodes, one open-addressed table of literal children per
 * node, route entries, the route table, name offsets, then the bytes.
 *
 * Lookup walks the block depth first in precedence order (literal, param,
 * wildcard) with an explicit stack. Segment boundaries depend only on the
 * path, never on the branch taken, so each segment is found once and hashed
 * at most once per lookup however much the search backtracks.
 */
#include "route_match.h"

#include <endian.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x)   __builtin_expect(!!(x), 1)

#define RM_MAGIC   0x4d54525au  /* "ZRTM" little-endian */
#define RM_BYTE_ORDER 0x01020304u /* stored in host order: reads swapped on the other order */
#define RM_NONE    UINT32_MAX
#define RM_STACK   (ZTG_ROUTE_MAX_DEPTH + 1)  /* root plus one node per segment */
#define RM_ALIGN   64u
#define EXCERPT    32u                        /* template bytes quoted in a message */

_Static_assert(ZTG_ROUTE_METHOD_LAST < 31, "method mask must fit 32 bits");
_Static_assert(ZTG_ROUTE_MAX_PATH_LEN < UINT32_MAX, "offsets are 32-bit");

/* ------------------------------------------------------------ the block */

/*
 * One trie node: the segments consumed so far. Literal children live in an
 * open-addressed table (lit_mask + 1 slots, a power of two at least twice
 * the children, so a probe always meets an empty slot). Routes ending here
 * and routes whose "*" follows here are runs of entries; their masks are the
 * unions of the routes' methods, so a method no route allows is rejected
 * without touching the entries.
 */
struct rm_node {
	uint32_t lit_slots;        /* first slot, RM_NONE: no literal children */
	uint32_t lit_mask;
	uint32_t param_child;      /* RM_NONE: no {param} child */
	uint32_t end_first;
	uint32_t wild_first;
	uint32_t end_mask;         /* 0: no route ends here */
	uint32_t wild_mask;        /* 0: no "*" route here */
	uint16_t end_count;
	uint16_t wild_count;
};
_Static_assert(sizeof(struct rm_node) == 32, "two nodes per cache line");

struct rm_slot {
	uint32_t hash;
	uint32_t label_off;        /* into strings */
	uint32_t label_len;
	uint32_t child;            /* RM_NONE: empty slot */
};

/* A route in a node's list, with what a lookup needs so it stays in the hot part. */
struct rm_entry {
	uint32_t route;
	uint32_t methods;
	uint32_t route_id;
};

/* Cold: only for explain, inventory and names. */
struct rm_route {
	uint32_t route_id;
	uint32_t methods;
	uint32_t template_off;     /* into strings, NUL-terminated */
	uint32_t template_len;
	uint32_t names_first;      /* into the name-offset array */
	uint8_t param_count;
	uint8_t has_wildcard;
	uint16_t pad;
};

struct ztg_route_matcher {
	uint32_t magic;
	uint32_t version;          /* ZTG_ROUTE_BLOCK_VERSION */
	uint32_t byte_order;       /* RM_BYTE_ORDER */
	uint32_t size;
	uint32_t node_count;
	uint32_t slot_count;
	uint32_t entry_count;
	uint32_t route_count;
	uint32_t name_count;
	uint32_t string_bytes;
	uint32_t nodes_off;
	uint32_t slots_off;
	uint32_t entries_off;
	uint32_t strings_off;
	uint32_t routes_off;
	uint32_t names_off;
};
_Static_assert(sizeof(struct ztg_route_matcher) == 64, "header fills one cache line, no padding");
_Static_assert(sizeof(struct rm_slot) == 16 && sizeof(struct rm_entry) == 12 && sizeof(struct rm_route) == 24,
	       "block layout");

static inline const void *at(const struct ztg_route_matcher *m, uint32_t off)
{
	return (const char *)m + off;
}

/*
 * Byte helpers for the lookup. Segments are short (a few bytes) or long ids
 * (UUIDs, tokens): libc's memchr/memcmp calls cost more than the work on the
 * first and a byte loop is slow on the second, so these read whole words,
 * never outside [p, p + len), overlapping the last word instead of looping
 * over a tail.
 */
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return le64toh(w);
}

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return le32toh(w);
}

static inline uint64_t mix64(uint64_t h)
{
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

/*
 * Hash of a segment. Stored in the block, so it reads little-endian words:
 * the same bytes give the same hash on any host.
 */
static inline uint32_t hash_bytes(const uint8_t *p, uint32_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;

	if (len >= 8) {
		const uint8_t *last = p + len - 8;
		for (; p < last; p += 8)
			h = mix64(h ^ load64(p));
		h = mix64(h ^ load64(last));
	} else if (len >= 4) {
		h = mix64(h ^ ((uint64_t)load32(p) << 32 | load32(p + len - 4)));
	} else if (len > 0) {
		h = mix64(h ^ ((uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1]));
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 32));
}

static inline bool bytes_equal(const uint8_t *a, const uint8_t *b, uint32_t len)
{
	if (len >= 8) {
		for (uint32_t i = 0; i + 8 < len; i += 8)
			if (load64(a + i) != load64(b + i))
				return false;
		return load64(a + len - 8) == load64(b + len - 8);
	}
	if (len >= 4)
		return load32(a) == load32(b) && load32(a + len - 4) == load32(b + len - 4);
	for (uint32_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Offset of the first '/' in p[i..n), or n. Eight bytes per step (SWAR zero-byte test). */
static inline uint32_t find_slash(const uint8_t *p, uint32_t i, uint32_t n)
{
	const uint64_t ones = 0x0101010101010101ull;

	for (; i + 8 <= n; i += 8) {
		uint64_t x = load64(p + i) ^ (ones * '/');
		uint64_t z = (x - ones) & ~x & (ones << 7);
		if (z != 0)  /* the lowest flagged byte is always a true match */
			return i + ((uint32_t)__builtin_ctzll(z) >> 3);
	}
	for (; i < n; i++)
		if (p[i] == '/')
			return i;
	return n;
}

/* ---------------------------------------------------------- names */

static const char *const result_names[ZTG_ROUTE_RESULT_COUNT] = {
#define ZTG_ROUTE_RESULT_NAME(sym, name) [ZTG_ROUTE_##sym] = name,
	ZTG_ROUTE_RESULTS(ZTG_ROUTE_RESULT_NAME)
#undef ZTG_ROUTE_RESULT_NAME
};

static const char *const error_names[ZTG_ROUTE_ERROR_COUNT] = {
#define ZTG_ROUTE_ERROR_NAME(sym, name) [ZTG_ROUTE_E_##sym] = name,
	ZTG_ROUTE_ERRORS(ZTG_ROUTE_ERROR_NAME)
#undef ZTG_ROUTE_ERROR_NAME
};

static const char *const method_names[ZTG_ROUTE_METHOD_LAST + 1] = {
	[ZTG_HTTP_METHOD_OTHER] = "OTHER",
	[ZTG_HTTP_METHOD_GET] = "GET",
	[ZTG_HTTP_METHOD_HEAD] = "HEAD",
	[ZTG_HTTP_METHOD_POST] = "POST",
	[ZTG_HTTP_METHOD_PUT] = "PUT",
	[ZTG_HTTP_METHOD_DELETE] = "DELETE",
	[ZTG_HTTP_METHOD_PATCH] = "PATCH",
	[ZTG_HTTP_METHOD_OPTIONS] = "OPTIONS",
	[ZTG_HTTP_METHOD_CONNECT] = "CONNECT",
	[ZTG_HTTP_METHOD_TRACE] = "TRACE",
};

const char *ztg_route_result_name(enum ztg_route_result r)
{
	if ((unsigned int)r >= ZTG_ROUTE_RESULT_COUNT)
		return "unknown";
	return result_names[r];
}

const char *ztg_route_error_name(enum ztg_route_error e)
{
	if ((unsigned int)e >= ZTG_ROUTE_ERROR_COUNT)
		return "unknown";
	return error_names[e];
}

const char *ztg_route_method_name(unsigned int method)
{
	if (method > ZTG_ROUTE_METHOD_LAST)
		return method_names[ZTG_HTTP_METHOD_OTHER];
	return method_names[method];
}

int ztg_route_method_parse(const char *name, size_t len, uint32_t *mask)
{
	if (name == NULL || mask == NULL)
		return -1;
	if (len == 3 && memcmp(name, "ANY", 3) == 0) {
		*mask = ZTG_ROUTE_METHOD_ANY;
		return 0;
	}
	/* OTHER is not a name a policy can use: other methods are reached through ANY only. */
	for (unsigned int m = ZTG_HTTP_METHOD_OTHER + 1; m <= ZTG_ROUTE_METHOD_LAST; m++) {
		if (strlen(method_names[m]) == len && memcmp(name, method_names[m], len) == 0) {
			*mask = ZTG_ROUTE_METHOD_BIT(m);
			return 0;
		}
	}
	return -1;
}

ssize_t ztg_route_methods_format(uint32_t mask, char *out, size_t cap)
{
	size_t o = 0;

	if (out == NULL || cap == 0)
		return -1;
	if (mask == ZTG_ROUTE_METHOD_ANY) {
		if (cap < 4)
			goto too_small;
		memcpy(out, "ANY", 4);
		return 3;
	}
	for (unsigned int m = 0; m <= ZTG_ROUTE_METHOD_LAST; m++) {
		if (!(mask & ZTG_ROUTE_METHOD_BIT(m)))
			continue;
		size_t n = strlen(method_names[m]);
		if (o + (o > 0) + n + 1 > cap)
			goto too_small;
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, method_names[m], n);
		o += n;
	}
	out[o] = '\0';
	return (ssize_t)o;
too_small:
	out[0] = '\0';
	return -1;
}

/* ---------------------------------------------------------- build state */

enum seg_kind { SEG_LITERAL, SEG_PARAM, SEG_WILD };

/* A parsed template segment: the label (literal) or the name (param) in the template. */
struct tseg {
	uint8_t kind;
	uint32_t off;
	uint32_t len;
};

struct bnode {
	uint32_t param_child;
	uint32_t lit_count;
	uint32_t end_head, end_tail;
	uint32_t wild_head, wild_tail;
	uint32_t end_count, wild_count;
	uint32_t end_mask, wild_mask;
};

struct bedge {
	const uint8_t *label;      /* in the caller's template, alive during build */
	uint32_t len;
	uint32_t hash;
	uint32_t parent;
	uint32_t child;
};

struct builder {
	const struct ztg_route_spec *specs;
	uint32_t count;
	const struct ztg_route_build_opts *opts;
	struct ztg_route_diag *err;
	uint32_t errors;
	uint32_t max_errors;       /* 1 when nobody listens to the rest */
	bool stopped;
	bool no_memory;

	struct bnode *nodes;
	uint32_t node_count, node_cap;
	struct bedge *edges;
	uint32_t edge_count, edge_cap;
	uint32_t *etab;            /* edge index + 1, 0: empty */
	uint32_t etab_mask;

	/* per route */
	uint32_t *next;            /* next route in the same node list */
	uint32_t *tlen;
	uint8_t *nparams;
	uint8_t *wild;

	uint64_t label_bytes;
	uint64_t name_bytes;       /* NULs included */
	uint64_t template_bytes;   /* NULs included */
	uint32_t total_params;
};

/* Quote up to EXCERPT bytes of s, escaping what would not print. */
static const char *excerpt(char *buf, size_t cap, const char *s, size_t len)
{
	size_t o = 0;
	size_t i;

	for (i = 0; i < len && i < EXCERPT && o + 5 < cap; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (i < len && o + 4 <= cap) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* A byte as a message shows it. */
static const char *byte_desc(char *buf, size_t cap, uint8_t c)
{
	if (c == ' ')
		snprintf(buf, cap, "space");
	else if (c < 0x20 || c >= 0x7f)
		snprintf(buf, cap, "byte 0x%02x", c);
	else
		snprintf(buf, cap, "'%c'", c);
	return buf;
}

__attribute__((format(printf, 7, 8)))
static void report(struct builder *b, enum ztg_route_error code, uint32_t route, uint32_t position,
		   uint32_t other, uint32_t overlap, const char *fmt, ...)
{
	struct ztg_route_diag d;
	va_list ap;

	if (b->stopped)
		return;
	memset(&d, 0, sizeof(d));
	d.code = code;
	d.warning = code == ZTG_ROUTE_E_PERCENT_IN_LITERAL || code == ZTG_ROUTE_E_BACKSLASH_IN_LITERAL;
	d.route_index = route;
	d.other_index = other;
	d.overlap = overlap;
	d.position = position;
	va_start(ap, fmt);
	vsnprintf(d.message, sizeof(d.message), fmt, ap);
	va_end(ap);

	if (!d.warning) {
		if (b->errors == 0 && b->err != NULL)
			*b->err = d;
		b->errors++;
	}
	if (b->opts != NULL && b->opts->diag != NULL)
		b->opts->diag(b->opts->ctx, &d);
	if (!d.warning && b->errors >= b->max_errors) {
		b->stopped = true;
		if (b->max_errors > 1 && b->opts != NULL && b->opts->diag != NULL) {
			memset(&d, 0, sizeof(d));
			d.code = ZTG_ROUTE_E_TOO_MANY_ERRORS;
			d.route_index = route;
			d.other_index = ZTG_ROUTE_NONE;
			snprintf(d.message, sizeof(d.message),
				 "%u errors, routes after this one are not checked", b->errors);
			b->opts->diag(b->opts->ctx, &d);
		}
	}
}

static bool grow(void **p, uint32_t *cap, size_t elem, uint32_t need)
{
	if (need <= *cap)
		return true;
	uint32_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, (size_t)n * elem);
	if (q == NULL)
		return false;
	*p = q;
	*cap = n;
	return true;
}

static uint32_t new_node(struct builder *b)
{
	if (!grow((void **)&b->nodes, &b->node_cap, sizeof(*b->nodes), b->node_count + 1)) {
		b->no_memory = true;
		return RM_NONE;
	}
	struct bnode *n = &b->nodes[b->node_count];
	memset(n, 0, sizeof(*n));
	n->param_child = RM_NONE;
	n->end_head = n->end_tail = RM_NONE;
	n->wild_head = n->wild_tail = RM_NONE;
	return b->node_count++;
}

static inline uint32_t edge_bucket(uint32_t hash, uint32_t parent)
{
	uint32_t h = hash ^ (parent * 0x9e3779b1u);

	return h ^ (h >> 13);
}

static bool etab_rehash(struct builder *b, uint32_t cap)
{
	uint32_t *t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return false;
	for (uint32_t e = 0; e < b->edge_count; e++) {
		uint32_t i = edge_bucket(b->edges[e].hash, b->edges[e].parent) & (cap - 1);
		while (t[i] != 0)
			i = (i + 1) & (cap - 1);
		t[i] = e + 1;
	}
	free(b->etab);
	b->etab = t;
	b->etab_mask = cap - 1;
	return true;
}

/* The literal child of parent labelled label[0..len), created if absent. */
static uint32_t literal_child(struct builder *b, uint32_t parent, const uint8_t *label, uint32_t len)
{
	uint32_t h = hash_bytes(label, len);
	uint32_t i = edge_bucket(h, parent) & b->etab_mask;

	for (; b->etab[i] != 0; i = (i + 1) & b->etab_mask) {
		const struct bedge *e = &b->edges[b->etab[i] - 1];
		if (e->parent == parent && e->hash == h && e->len == len && memcmp(e->label, label, len) == 0)
			return e->child;
	}
	uint32_t child = new_node(b);
	if (child == RM_NONE)
		return RM_NONE;
	if (!grow((void **)&b->edges, &b->edge_cap, sizeof(*b->edges), b->edge_count + 1)) {
		b->no_memory = true;
		return RM_NONE;
	}
	b->edges[b->edge_count] = (struct bedge){ label, len, h, parent, child };
	b->etab[i] = ++b->edge_count;
	b->nodes[parent].lit_count++;
	b->label_bytes += len;
	if (b->edge_count * 2 > b->etab_mask && !etab_rehash(b, (b->etab_mask + 1) * 2)) {
		b->no_memory = true;
		return RM_NONE;
	}
	return child;
}

static inline bool is_name_start(uint8_t c)
{
	return (uint8_t)((c | 0x20) - 'a') < 26 || c == '_';
}

static inline bool is_name_char(uint8_t c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Parse and check template ri into segs. Returns the segment count, or -1
 * after reporting the first problem. Warnings are reported only for a
 * template that is otherwise valid.
 */
static int parse_template(struct builder *b, uint32_t ri, struct tseg *segs, uint32_t *nparams)
{
	const char *t = b->specs[ri].template;
	const uint8_t *u = (const uint8_t *)t;
	char q[EXCERPT * 4 + 8], q2[EXCERPT * 4 + 8], c[16];
	size_t len = strnlen(t, ZTG_ROUTE_MAX_TEMPLATE_LEN + 1);
	/* The current segment quoted, formatted only when a message needs it. */
#define SEG excerpt(q, sizeof(q), s, slen)
	uint32_t n = 0, np = 0;
	uint32_t pct = RM_NONE, bsl = RM_NONE;

	if (len == 0) {
		report(b, ZTG_ROUTE_E_EMPTY_TEMPLATE, ri, 0, RM_NONE, 0, "empty template");
		return -1;
	}
	if (len > ZTG_ROUTE_MAX_TEMPLATE_LEN) {
		report(b, ZTG_ROUTE_E_TEMPLATE_TOO_LONG, ri, ZTG_ROUTE_MAX_TEMPLATE_LEN, RM_NONE, 0,
		       "template \"%s\" is longer than %u bytes", excerpt(q, sizeof(q), t, len),
		       ZTG_ROUTE_MAX_TEMPLATE_LEN);
		return -1;
	}
	if (t[0] != '/') {
		report(b, ZTG_ROUTE_E_NO_LEADING_SLASH, ri, 0, RM_NONE, 0,
		       "template \"%s\" must start with '/', not %s", excerpt(q, sizeof(q), t, len),
		       byte_desc(c, sizeof(c), u[0]));
		return -1;
	}

	for (uint32_t pos = 1;; n++) {
		uint32_t start = pos, end = pos;
		while (end < len && t[end] != '/')
			end++;
		bool last = end == len;
		uint32_t slen = end - start;
		const char *s = t + start;

		if (n == ZTG_ROUTE_MAX_DEPTH) {
			report(b, ZTG_ROUTE_E_TOO_DEEP, ri, start, RM_NONE, 0,
			       "more than %u segments (segment %u starts at offset %u)",
			       ZTG_ROUTE_MAX_DEPTH, n + 1, start);
			return -1;
		}

		if (slen == 0 && !last) {
			report(b, ZTG_ROUTE_E_EMPTY_SEGMENT, ri, start, RM_NONE, 0,
			       "empty segment %u (\"//\" at offset %u): the normaliser collapses \"//\", "
			       "so this route could never match", n + 1, start - 1);
			return -1;
		}
		if ((slen == 1 && s[0] == '.') || (slen == 2 && s[0] == '.' && s[1] == '.')) {
			report(b, ZTG_ROUTE_E_DOT_SEGMENT, ri, start, RM_NONE, 0,
			       "segment %u is \"%s\": the normaliser removes dot segments, "
			       "so this route could never match", n + 1, SEG);
			return -1;
		}

		if (slen == 1 && s[0] == '*') {
			if (!last) {
				report(b, ZTG_ROUTE_E_WILDCARD_NOT_LAST, ri, start, RM_NONE, 0,
				       "'*' at offset %u (segment %u) is followed by more segments: "
				       "a wildcard must be the last segment", start, n + 1);
				return -1;
			}
			segs[n] = (struct tseg){ SEG_WILD, start, 0 };
		} else if (slen > 0 && s[0] == '{') {
			const char *close = memchr(s, '}', slen);
			if (close == NULL) {
				report(b, ZTG_ROUTE_E_UNCLOSED_PARAM, ri, start, RM_NONE, 0,
				       "segment %u \"%s\": '{' at offset %u is not closed by '}'",
				       n + 1, SEG, start);
				return -1;
			}
			uint32_t cl = (uint32_t)(close - t);
			if (cl != end - 1) {
				report(b, ZTG_ROUTE_E_PARTIAL_PARAM, ri, cl + 1, RM_NONE, 0,
				       "segment %u \"%s\": a parameter must be the whole segment, "
				       "but %s follows its '}' at offset %u",
				       n + 1, SEG, byte_desc(c, sizeof(c), u[cl + 1]), cl + 1);
				return -1;
			}
			uint32_t noff = start + 1, nlen = cl - noff;
			if (nlen == 0) {
				report(b, ZTG_ROUTE_E_BAD_PARAM_NAME, ri, start, RM_NONE, 0,
				       "segment %u \"{}\": empty parameter name", n + 1);
				return -1;
			}
			for (uint32_t i = noff; i < cl; i++) {
				if (i == noff ? is_name_start(u[i]) : is_name_char(u[i]))
					continue;
				report(b, ZTG_ROUTE_E_BAD_PARAM_NAME, ri, i, RM_NONE, 0,
				       "segment %u \"%s\": %s at offset %u is not allowed in a parameter name "
				       "([A-Za-z_][A-Za-z0-9_]*)", n + 1, SEG, byte_desc(c, sizeof(c), u[i]), i);
				return -1;
			}
			if (nlen > ZTG_ROUTE_MAX_PARAM_NAME) {
				report(b, ZTG_ROUTE_E_PARAM_NAME_TOO_LONG, ri, noff, RM_NONE, 0,
				       "segment %u \"%s\": parameter name is %u bytes, the limit is %u",
				       n + 1, SEG, nlen, ZTG_ROUTE_MAX_PARAM_NAME);
				return -1;
			}
			if (np == ZTG_ROUTE_MAX_PARAMS) {
				report(b, ZTG_ROUTE_E_TOO_MANY_PARAMS, ri, start, RM_NONE, 0,
				       "segment %u \"%s\" is parameter %u: the limit is %u per template",
				       n + 1, SEG, np + 1, ZTG_ROUTE_MAX_PARAMS);
				return -1;
			}
			for (uint32_t k = 0; k < n; k++) {
				if (segs[k].kind != SEG_PARAM || segs[k].len != nlen ||
				    memcmp(t + segs[k].off, t + noff, nlen) != 0)
					continue;
				report(b, ZTG_ROUTE_E_DUPLICATE_PARAM, ri, start, RM_NONE, 0,
				       "parameter name \"%s\" is used twice (segments %u and %u)",
				       excerpt(q2, sizeof(q2), t + noff, nlen), k + 1, n + 1);
				return -1;
			}
			segs[n] = (struct tseg){ SEG_PARAM, noff, nlen };
			np++;
		} else {
			for (uint32_t i = start; i < end; i++) {
				uint8_t ch = u[i];
				if (ch == '{') {
					report(b, ZTG_ROUTE_E_PARTIAL_PARAM, ri, i, RM_NONE, 0,
					       "segment %u \"%s\": '{' at offset %u: a parameter must be "
					       "a whole segment, like \"{name}\"", n + 1, SEG, i);
					return -1;
				}
				if (ch == '}') {
					report(b, ZTG_ROUTE_E_BAD_CHAR, ri, i, RM_NONE, 0,
					       "segment %u \"%s\": '}' at offset %u outside a parameter",
					       n + 1, SEG, i);
					return -1;
				}
				if (ch == '*') {
					report(b, ZTG_ROUTE_E_PARTIAL_WILDCARD, ri, i, RM_NONE, 0,
					       "segment %u \"%s\": '*' at offset %u: a wildcard must be "
					       "a whole segment, the last one", n + 1, SEG, i);
					return -1;
				}
				if (ch <= ' ' || ch == 0x7f) {
					report(b, ZTG_ROUTE_E_BAD_CHAR, ri, i, RM_NONE, 0,
					       "segment %u \"%s\": %s at offset %u is not allowed in a path",
					       n + 1, SEG, byte_desc(c, sizeof(c), ch), i);
					return -1;
				}
				if (ch == '%' && pct == RM_NONE)
					pct = i;
				if (ch == '\\' && bsl == RM_NONE)
					bsl = i;
			}
			segs[n] = (struct tseg){ SEG_LITERAL, start, slen };
		}
		if (last)
			break;
		pos = end + 1;
	}
	n++;

	if (pct != RM_NONE)
		report(b, ZTG_ROUTE_E_PERCENT_IN_LITERAL, ri, pct, RM_NONE, 0,
		       "'%%' at offset %u: paths are matched percent-decoded, so this literal "
		       "matches only a '%%' the client sent as %%25", pct);
	if (bsl != RM_NONE)
		report(b, ZTG_ROUTE_E_BACKSLASH_IN_LITERAL, ri, bsl, RM_NONE, 0,
		       "'\\' at offset %u: the normaliser turns '\\' into '/', "
		       "so this route can never match", bsl);
	*nparams = np;
	return (int)n;
#undef SEG
}

static bool check_methods(struct builder *b, uint32_t ri)
{
	uint32_t m = b->specs[ri].methods;

	if (m == 0) {
		report(b, ZTG_ROUTE_E_NO_METHODS, ri, 0, RM_NONE, 0, "no methods (mask 0)");
		return false;
	}
	if (m & ~ZTG_ROUTE_METHOD_ANY) {
		report(b, ZTG_ROUTE_E_BAD_METHODS, ri, 0, RM_NONE, 0,
		       "method mask 0x%x has bits above ANY (0x%x)", m, ZTG_ROUTE_METHOD_ANY);
		return false;
	}
	if ((m & ZTG_ROUTE_METHOD_BIT(ZTG_HTTP_METHOD_OTHER)) && m != ZTG_ROUTE_METHOD_ANY) {
		report(b, ZTG_ROUTE_E_BAD_METHODS, ri, 0, RM_NONE, 0,
		       "method mask 0x%x sets OTHER without being ANY: other methods match ANY routes only",
		       m);
		return false;
	}
	return true;
}

/* Append route ri to a node list unless a route of that list shares a method with it. */
static void add_to_list(struct builder *b, uint32_t ri, uint32_t *head, uint32_t *tail, uint32_t *count,
			uint32_t *mask)
{
	uint32_t m = b->specs[ri].methods;

	for (uint32_t r = *head; r != RM_NONE; r = b->next[r]) {
		uint32_t overlap = b->specs[r].methods & m;
		if (overlap == 0)
			continue;
		char q[EXCERPT * 4 + 8], q2[EXCERPT * 4 + 8], ms[128];
		ztg_route_methods_format(overlap, ms, sizeof(ms));
		/* Methods and the other route first: a long template may be cut off. */
		report(b, ZTG_ROUTE_E_DUPLICATE_ROUTE, ri, 0, r, overlap,
		       "duplicate of route %u for %s: \"%s\" has the same shape as \"%s\"",
		       r, ms, excerpt(q, sizeof(q), b->specs[ri].template, b->tlen[ri]),
		       excerpt(q2, sizeof(q2), b->specs[r].template, b->tlen[r]));
		return;
	}
	b->next[ri] = RM_NONE;
	if (*tail == RM_NONE)
		*head = ri;
	else
		b->next[*tail] = ri;
	*tail = ri;
	(*count)++;
	*mask |= m;
}

static void insert_route(struct builder *b, uint32_t ri, const struct tseg *segs, uint32_t nseg)
{
	const uint8_t *t = (const uint8_t *)b->specs[ri].template;
	uint32_t node = 0;

	for (uint32_t k = 0; k < nseg; k++) {
		if (segs[k].kind == SEG_LITERAL) {
			node = literal_child(b, node, t + segs[k].off, segs[k].len);
		} else if (segs[k].kind == SEG_PARAM) {
			if (b->nodes[node].param_child == RM_NONE) {
				uint32_t child = new_node(b);
				if (child == RM_NONE)
					return;
				b->nodes[node].param_child = child;
			}
			node = b->nodes[node].param_child;
			b->total_params++;
			b->name_bytes += segs[k].len + 1;
		} else {
			struct bnode *n = &b->nodes[node];
			add_to_list(b, ri, &n->wild_head, &n->wild_tail, &n->wild_count, &n->wild_mask);
			return;
		}
		if (node == RM_NONE)
			return;
	}
	struct bnode *n = &b->nodes[node];
	add_to_list(b, ri, &n->end_head, &n->end_tail, &n->end_count, &n->end_mask);
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t table_cap(uint32_t children)
{
	uint32_t cap = 2;

	while (cap < children * 2)
		cap *= 2;
	return cap;
}

/* Lay the build trie out into one block. Every count was bounded by the checks before. */
static struct ztg_route_matcher *flatten(struct builder *b)
{
	uint64_t slots = 0;

	for (uint32_t i = 0; i < b->node_count; i++)
		if (b->nodes[i].lit_count > 0)
			slots += table_cap(b->nodes[i].lit_count);

	uint64_t off = align_up(sizeof(struct ztg_route_matcher), RM_ALIGN);
	uint64_t nodes_off = off;
	off += (uint64_t)b->node_count * sizeof(struct rm_node);
	uint64_t slots_off = align_up(off, 16);
	off = slots_off + slots * sizeof(struct rm_slot);
	uint64_t entries_off = align_up(off, 8);
	off = entries_off + (uint64_t)b->count * sizeof(struct rm_entry);
	uint64_t strings_off = off;
	uint64_t string_bytes = b->label_bytes + b->name_bytes + b->template_bytes;
	off += string_bytes;
	uint64_t routes_off = align_up(off, 8);
	off = routes_off + (uint64_t)b->count * sizeof(struct rm_route);
	uint64_t names_off = off;
	off += (uint64_t)b->total_params * sizeof(uint32_t);
	uint64_t size = align_up(off, RM_ALIGN);

	if (size > UINT32_MAX) {
		report(b, ZTG_ROUTE_E_TOO_LARGE, ZTG_ROUTE_NONE, 0, RM_NONE, 0,
		       "the compiled matcher would take %llu bytes, more than 4 GiB",
		       (unsigned long long)size);
		return NULL;
	}
	struct ztg_route_matcher *m = aligned_alloc(RM_ALIGN, size);
	if (m == NULL) {
		report(b, ZTG_ROUTE_E_NO_MEMORY, ZTG_ROUTE_NONE, 0, RM_NONE, 0,
		       "cannot allocate %llu bytes for the matcher", (unsigned long long)size);
		return NULL;
	}
	/* Padding zeroed too: the same routes always give the same bytes. */
	memset(m, 0, size);
	*m = (struct ztg_route_matcher){
		.magic = RM_MAGIC,
		.version = ZTG_ROUTE_BLOCK_VERSION,
		.byte_order = RM_BYTE_ORDER,
		.size = (uint32_t)size,
		.node_count = b->node_count,
		.slot_count = (uint32_t)slots,
		.entry_count = b->count,
		.route_count = b->count,
		.name_count = b->total_params,
		.string_bytes = (uint32_t)string_bytes,
		.nodes_off = (uint32_t)nodes_off,
		.slots_off = (uint32_t)slots_off,
		.entries_off = (uint32_t)entries_off,
		.strings_off = (uint32_t)strings_off,
		.routes_off = (uint32_t)routes_off,
		.names_off = (uint32_t)names_off,
	};

	struct rm_node *nodes = (struct rm_node *)((char *)m + nodes_off);
	struct rm_slot *slot = (struct rm_slot *)((char *)m + slots_off);
	struct rm_entry *entries = (struct rm_entry *)((char *)m + entries_off);
	char *strings = (char *)m + strings_off;
	struct rm_route *routes = (struct rm_route *)((char *)m + routes_off);
	uint32_t *names = (uint32_t *)((char *)m + names_off);
	uint32_t next_slot = 0, next_entry = 0, sp = 0, np = 0;

	for (uint32_t i = 0; i < b->node_count; i++) {
		const struct bnode *bn = &b->nodes[i];
		struct rm_node *n = &nodes[i];

		n->param_child = bn->param_child;
		n->lit_slots = RM_NONE;
		if (bn->lit_count > 0) {
			uint32_t cap = table_cap(bn->lit_count);
			n->lit_slots = next_slot;
			n->lit_mask = cap - 1;
			for (uint32_t s = 0; s < cap; s++)
				slot[next_slot + s].child = RM_NONE;
			next_slot += cap;
		}
		n->end_first = next_entry;
		n->end_count = (uint16_t)bn->end_count;
		n->end_mask = bn->end_mask;
		for (uint32_t r = bn->end_head; r != RM_NONE; r = b->next[r])
			entries[next_entry++] = (struct rm_entry){ r, b->specs[r].methods, b->specs[r].route_id };
		n->wild_first = next_entry;
		n->wild_count = (uint16_t)bn->wild_count;
		n->wild_mask = bn->wild_mask;
		for (uint32_t r = bn->wild_head; r != RM_NONE; r = b->next[r])
			entries[next_entry++] = (struct rm_entry){ r, b->specs[r].methods, b->specs[r].route_id };
	}

	for (uint32_t e = 0; e < b->edge_count; e++) {
		const struct bedge *be = &b->edges[e];
		const struct rm_node *pn = &nodes[be->parent];
		uint32_t i = be->hash & pn->lit_mask;
		while (slot[pn->lit_slots + i].child != RM_NONE)
			i = (i + 1) & pn->lit_mask;
		slot[pn->lit_slots + i] = (struct rm_slot){ be->hash, sp, be->len, be->child };
		memcpy(strings + sp, be->label, be->len);
		sp += be->len;
	}

	for (uint32_t r = 0; r < b->count; r++) {
		const char *t = b->specs[r].template;
		struct tseg segs[ZTG_ROUTE_MAX_DEPTH];
		uint32_t nseg = 0, dummy;
		struct rm_route *rt = &routes[r];

		/* Re-split: cheaper than keeping every route's segments through the build. */
		struct builder quiet = { .specs = b->specs, .max_errors = 1, .stopped = true };
		nseg = (uint32_t)parse_template(&quiet, r, segs, &dummy);

		rt->route_id = b->specs[r].route_id;
		rt->methods = b->specs[r].methods;
		rt->template_off = sp;
		rt->template_len = b->tlen[r];
		memcpy(strings + sp, t, b->tlen[r] + 1);
		sp += b->tlen[r] + 1;
		rt->names_first = np;
		rt->param_count = b->nparams[r];
		rt->has_wildcard = b->wild[r];
		for (uint32_t k = 0; k < nseg; k++) {
			if (segs[k].kind != SEG_PARAM)
				continue;
			names[np++] = sp;
			memcpy(strings + sp, t + segs[k].off, segs[k].len);
			strings[sp + segs[k].len] = '\0';
			sp += segs[k].len + 1;
		}
	}
	return m;
}

struct ztg_route_matcher *ztg_route_matcher_build(const struct ztg_route_spec *specs, uint32_t count,
						  const struct ztg_route_build_opts *opts,
						  struct ztg_route_diag *err)
{
	struct builder b = {
		.specs = specs,
		.count = count,
		.opts = opts,
		.err = err,
		.max_errors = (opts != NULL && opts->diag != NULL) ? ZTG_ROUTE_MAX_ERRORS : 1,
	};
	struct ztg_route_matcher *m = NULL;

	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = ZTG_ROUTE_E_NONE;
		err->route_index = ZTG_ROUTE_NONE;
		err->other_index = ZTG_ROUTE_NONE;
	}
	if (specs == NULL && count > 0) {
		report(&b, ZTG_ROUTE_E_BAD_ARGUMENT, ZTG_ROUTE_NONE, 0, RM_NONE, 0,
		       "no route array for %u routes", count);
		return NULL;
	}
	if (count > ZTG_ROUTE_MAX_ROUTES) {
		report(&b, ZTG_ROUTE_E_TOO_MANY_ROUTES, ZTG_ROUTE_MAX_ROUTES, 0, RM_NONE, 0,
		       "%u routes, the limit is %u per matcher", count, ZTG_ROUTE_MAX_ROUTES);
		return NULL;
	}

	uint32_t n0 = count ? count : 1;
	b.next = malloc(n0 * sizeof(*b.next));
	b.tlen = malloc(n0 * sizeof(*b.tlen));
	b.nparams = calloc(n0, 1);
	b.wild = calloc(n0, 1);
	b.etab = calloc(64, sizeof(*b.etab));
	b.etab_mask = 63;
	if (b.next == NULL || b.tlen == NULL || b.nparams == NULL || b.wild == NULL || b.etab == NULL ||
	    new_node(&b) != 0)
		goto no_memory;

	for (uint32_t ri = 0; ri < count && !b.stopped; ri++) {
		struct tseg segs[ZTG_ROUTE_MAX_DEPTH];
		uint32_t np = 0;

		if (specs[ri].template == NULL) {
			report(&b, ZTG_ROUTE_E_BAD_ARGUMENT, ri, 0, RM_NONE, 0, "template is NULL");
			continue;
		}
		int nseg = parse_template(&b, ri, segs, &np);
		if (nseg < 0 || !check_methods(&b, ri))
			continue;
		b.tlen[ri] = (uint32_t)strlen(specs[ri].template);
		b.nparams[ri] = (uint8_t)np;
		b.wild[ri] = segs[nseg - 1].kind == SEG_WILD;
		b.template_bytes += b.tlen[ri] + 1;
		insert_route(&b, ri, segs, (uint32_t)nseg);
		if (b.no_memory)
			goto no_memory;
	}
	if (b.errors == 0)
		m = flatten(&b);
	goto out;

no_memory:
	b.stopped = false;
	report(&b, ZTG_ROUTE_E_NO_MEMORY, ZTG_ROUTE_NONE, 0, RM_NONE, 0, "out of memory compiling routes");
out:
	free(b.nodes);
	free(b.edges);
	free(b.etab);
	free(b.next);
	free(b.tlen);
	free(b.nparams);
	free(b.wild);
	return m;
}

void ztg_route_matcher_free(struct ztg_route_matcher *m)
{
	free(m);
}

size_t ztg_route_matcher_size(const struct ztg_route_matcher *m)
{
	return m ? m->size : 0;
}

uint32_t ztg_route_matcher_route_count(const struct ztg_route_matcher *m)
{
	return m ? m->route_count : 0;
}

int ztg_route_matcher_route_info(const struct ztg_route_matcher *m, uint32_t route_index,
				 struct ztg_route_info *info)
{
	if (m == NULL || info == NULL || route_index >= m->route_count)
		return -1;
	const struct rm_route *r = (const struct rm_route *)at(m, m->routes_off) + route_index;
	const char *strings = at(m, m->strings_off);

	*info = (struct ztg_route_info){
		.template = strings + r->template_off,
		.template_len = r->template_len,
		.methods = r->methods,
		.route_id = r->route_id,
		.param_count = r->param_count,
		.has_wildcard = r->has_wildcard,
	};
	return 0;
}

const char *ztg_route_matcher_param_name(const struct ztg_route_matcher *m, uint32_t route_index,
					 uint32_t param)
{
	if (m == NULL || route_index >= m->route_count)
		return NULL;
	const struct rm_route *r = (const struct rm_route *)at(m, m->routes_off) + route_index;
	if (param >= r->param_count)
		return NULL;
	const uint32_t *names = at(m, m->names_off);
	return (const char *)at(m, m->strings_off) + names[r->names_first + param];
}

/* ------------------------------------------------------- stored blocks */

const void *ztg_route_matcher_block(const struct ztg_route_matcher *m)
{
	return m;
}

__attribute__((format(printf, 3, 4)))
static bool block_bad(struct ztg_route_diag *err, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL)
		return false;
	memset(err, 0, sizeof(*err));
	err->code = ZTG_ROUTE_E_BAD_BLOCK;
	err->route_index = ZTG_ROUTE_NONE;
	err->other_index = ZTG_ROUTE_NONE;
	err->position = off > UINT32_MAX ? UINT32_MAX : (uint32_t)off;
	n = snprintf(err->message, sizeof(err->message), "byte offset %llu: ", (unsigned long long)off);
	if (n < 0 || (size_t)n >= sizeof(err->message))
		return false;
	va_start(ap, fmt);
	vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

#define HOFF(field) offsetof(struct ztg_route_matcher, field)

static bool methods_valid(uint32_t m)
{
	return m != 0 && !(m & ~ZTG_ROUTE_METHOD_ANY) &&
	       (!(m & ZTG_ROUTE_METHOD_BIT(ZTG_HTTP_METHOD_OTHER)) || m == ZTG_ROUTE_METHOD_ANY);
}

/* Bytes [from, to) of the block are zero; else reports the first other byte. */
static bool zero_gap(const struct ztg_route_matcher *m, uint64_t from, uint64_t to, const char *what,
		     struct ztg_route_diag *err)
{
	const uint8_t *b = (const uint8_t *)m;

	for (uint64_t i = from; i < to; i++)
		if (b[i] != 0)
			return block_bad(err, i, "padding %s is 0x%02x, not 0", what, b[i]);
	return true;
}

/* Working state of the validation, one entry per node or route. */
struct vstate {
	const struct ztg_route_matcher *m;
	struct ztg_route_diag *err;
	const struct rm_node *nodes;
	const struct rm_slot *slots;
	const struct rm_entry *entries;
	const uint8_t *strings;
	const struct rm_route *routes;
	const uint32_t *names;
	uint32_t label_bytes;      /* labels are strings[0..label_bytes) */
	uint32_t *parent;          /* RM_NONE: none (yet) */
	uint32_t *via_slot;        /* the slot of the edge into the node, RM_NONE: the {param} edge */
	uint8_t *depth;
	uint8_t *nparams;
	uint8_t *route_seen;
	uint32_t *first_route;     /* lowest route listed at the node or below it */
};

static uint64_t off_of(const struct vstate *v, const void *p)
{
	return (uint64_t)((const uint8_t *)p - (const uint8_t *)v->m);
}

/* Layout and header counts: every region exactly where flatten() puts it, padding zero. */
static bool check_layout(const struct ztg_route_matcher *m, struct ztg_route_diag *err)
{
	if (m->route_count > ZTG_ROUTE_MAX_ROUTES)
		return block_bad(err, HOFF(route_count), "%u routes, the limit is %u", m->route_count,
				 ZTG_ROUTE_MAX_ROUTES);
	if (m->entry_count != m->route_count)
		return block_bad(err, HOFF(entry_count), "%u route entries for %u routes", m->entry_count,
				 m->route_count);
	if (m->node_count == 0)
		return block_bad(err, HOFF(node_count), "no root node");
	if ((uint64_t)m->node_count > 1 + (uint64_t)m->route_count * ZTG_ROUTE_MAX_DEPTH)
		return block_bad(err, HOFF(node_count), "%u nodes for %u routes of at most %u segments",
				 m->node_count, m->route_count, ZTG_ROUTE_MAX_DEPTH);
	if ((uint64_t)m->name_count > (uint64_t)m->route_count * ZTG_ROUTE_MAX_PARAMS)
		return block_bad(err, HOFF(name_count), "%u parameter names for %u routes of at most %u",
				 m->name_count, m->route_count, ZTG_ROUTE_MAX_PARAMS);

	uint64_t nodes_off = align_up(sizeof(*m), RM_ALIGN);
	uint64_t nodes_end = nodes_off + (uint64_t)m->node_count * sizeof(struct rm_node);
	uint64_t slots_off = align_up(nodes_end, 16);
	uint64_t slots_end = slots_off + (uint64_t)m->slot_count * sizeof(struct rm_slot);
	uint64_t entries_off = align_up(slots_end, 8);
	uint64_t strings_off = entries_off + (uint64_t)m->entry_count * sizeof(struct rm_entry);
	uint64_t strings_end = strings_off + m->string_bytes;
	uint64_t routes_off = align_up(strings_end, 8);
	uint64_t names_off = routes_off + (uint64_t)m->route_count * sizeof(struct rm_route);
	uint64_t names_end = names_off + (uint64_t)m->name_count * sizeof(uint32_t);
	uint64_t size = align_up(names_end, RM_ALIGN);
	const struct {
		const char *name;
		uint32_t field;
		size_t at;
		uint64_t want;
	} offs[] = {
		{ "nodes_off", m->nodes_off, HOFF(nodes_off), nodes_off },
		{ "slots_off", m->slots_off, HOFF(slots_off), slots_off },
		{ "entries_off", m->entries_off, HOFF(entries_off), entries_off },
		{ "strings_off", m->strings_off, HOFF(strings_off), strings_off },
		{ "routes_off", m->routes_off, HOFF(routes_off), routes_off },
		{ "names_off", m->names_off, HOFF(names_off), names_off },
	};

	/* The counts decide the layout: a size that disagrees means a count is wrong. */
	if (size != m->size)
		return block_bad(err, HOFF(size),
				 "the counts (%u nodes, %u slots, %u entries, %u string bytes, %u routes, "
				 "%u names) need %llu bytes, the block has %u",
				 m->node_count, m->slot_count, m->entry_count, m->string_bytes, m->route_count,
				 m->name_count, (unsigned long long)size, m->size);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		if (offs[i].field != offs[i].want)
			return block_bad(err, offs[i].at, "%s is %u, the layout puts that region at %llu",
					 offs[i].name, offs[i].field, (unsigned long long)offs[i].want);
	return zero_gap(m, nodes_end, slots_off, "after the nodes", err) &&
	       zero_gap(m, slots_end, entries_off, "after the slots", err) &&
	       zero_gap(m, strings_end, routes_off, "after the strings", err) &&
	       zero_gap(m, names_end, size, "at the end", err);
}

/*
 * The route table and the strings after the labels: templates and names in
 * route order, each NUL-terminated, tiling strings[label_bytes..string_bytes).
 */
static bool check_routes(struct vstate *v)
{
	const struct ztg_route_matcher *m = v->m;
	uint64_t sp = v->label_bytes;
	uint32_t np = 0;

	for (uint32_t r = 0; r < m->route_count; r++) {
		const struct rm_route *rt = &v->routes[r];
		uint64_t at_r = off_of(v, rt);

		if (rt->template_off != sp)
			return block_bad(v->err, at_r + offsetof(struct rm_route, template_off),
					 "route %u: template at string offset %u, expected %llu", r,
					 rt->template_off, (unsigned long long)sp);
		if (rt->template_len == 0 || rt->template_len > ZTG_ROUTE_MAX_TEMPLATE_LEN ||
		    sp + rt->template_len + 1 > m->string_bytes)
			return block_bad(v->err, at_r + offsetof(struct rm_route, template_len),
					 "route %u: template length %u out of range", r, rt->template_len);
		const uint8_t *t = v->strings + sp;
		if (t[0] != '/' || memchr(t, '\0', rt->template_len) != NULL || t[rt->template_len] != '\0')
			return block_bad(v->err, off_of(v, t),
					 "route %u: template is not '/' and %u bytes then a NUL", r,
					 rt->template_len - 1);
		sp += rt->template_len + 1;
		if (!methods_valid(rt->methods))
			return block_bad(v->err, at_r + offsetof(struct rm_route, methods),
					 "route %u: invalid method mask 0x%x", r, rt->methods);
		if (rt->has_wildcard > 1 || rt->pad != 0)
			return block_bad(v->err, at_r + offsetof(struct rm_route, has_wildcard),
					 "route %u: has_wildcard %u / padding %u", r, rt->has_wildcard, rt->pad);
		if (rt->param_count > ZTG_ROUTE_MAX_PARAMS)
			return block_bad(v->err, at_r + offsetof(struct rm_route, param_count),
					 "route %u: %u parameters, the limit is %u", r, rt->param_count,
					 ZTG_ROUTE_MAX_PARAMS);
		if (rt->names_first != np || (uint64_t)np + rt->param_count > m->name_count)
			return block_bad(v->err, at_r + offsetof(struct rm_route, names_first),
					 "route %u: names from %u (%u of them), expected from %u of %u", r,
					 rt->names_first, rt->param_count, np, m->name_count);
		for (uint32_t k = 0; k < rt->param_count; k++, np++) {
			const uint8_t *name = v->strings + sp;
			uint64_t room = m->string_bytes - sp;
			uint32_t nl = 0;

			if (v->names[np] != sp)
				return block_bad(v->err, off_of(v, &v->names[np]),
						 "route %u: name %u at string offset %u, expected %llu", r, k,
						 v->names[np], (unsigned long long)sp);
			while (nl < room && nl <= ZTG_ROUTE_MAX_PARAM_NAME && name[nl] != '\0')
				nl++;
			if (nl == 0 || nl > ZTG_ROUTE_MAX_PARAM_NAME || nl >= room)
				return block_bad(v->err, off_of(v, name),
						 "route %u: parameter name %u is empty, too long or not "
						 "NUL-terminated", r, k);
			for (uint32_t i = 0; i < nl; i++)
				if (i == 0 ? !is_name_start(name[i]) : !is_name_char(name[i]))
					return block_bad(v->err, off_of(v, name + i),
							 "route %u: byte 0x%02x in parameter name %u", r,
							 name[i], k);
			for (uint32_t j = rt->names_first; j < np; j++)
				if (strcmp((const char *)v->strings + v->names[j], (const char *)name) == 0)
					return block_bad(v->err, off_of(v, name),
							 "route %u: parameter name %u repeats an earlier one", r,
							 k);
			sp += nl + 1;
		}
	}
	if (sp != m->string_bytes)
		return block_bad(v->err, m->strings_off + sp, "%llu string bytes are not used by any route",
				 (unsigned long long)(m->string_bytes - sp));
	if (np != m->name_count)
		return block_bad(v->err, HOFF(name_count), "%u names, the routes use %u", m->name_count, np);
	return true;
}

static bool literal_byte_ok(uint8_t c)
{
	return c > ' ' && c != 0x7f && c != '/' && c != '{' && c != '}' && c != '*';
}

/* Literal-children table of node i: shape, labels, hashes, probes; links the children. */
static bool check_table(struct vstate *v, uint32_t i, uint32_t *next_slot)
{
	const struct ztg_route_matcher *m = v->m;
	const struct rm_node *n = &v->nodes[i];
	uint64_t at_n = off_of(v, n);

	if (n->lit_slots == RM_NONE) {
		if (n->lit_mask != 0)
			return block_bad(v->err, at_n + offsetof(struct rm_node, lit_mask),
					 "node %u: lit_mask %u without a table", i, n->lit_mask);
		return true;
	}
	uint64_t cap = (uint64_t)n->lit_mask + 1;
	if (n->lit_slots != *next_slot || cap < 2 || (cap & (cap - 1)) != 0 ||
	    *next_slot + cap > m->slot_count)
		return block_bad(v->err, at_n + offsetof(struct rm_node, lit_slots),
				 "node %u: table at slot %u of %llu slots, expected a power of two >= 2 "
				 "at slot %u within %u", i, n->lit_slots, (unsigned long long)cap, *next_slot,
				 m->slot_count);
	const struct rm_slot *tab = &v->slots[n->lit_slots];
	uint32_t used = 0;

	for (uint32_t s = 0; s < cap; s++) {
		const struct rm_slot *sl = &tab[s];
		uint64_t at_s = off_of(v, sl);

		if (sl->child == RM_NONE) {
			if (sl->hash != 0 || sl->label_off != 0 || sl->label_len != 0)
				return block_bad(v->err, at_s, "node %u: empty slot %u is not zero", i, s);
			continue;
		}
		used++;
		uint32_t c = sl->child;
		if (c >= m->node_count || c <= i || v->parent[c] != RM_NONE)
			return block_bad(v->err, at_s + offsetof(struct rm_slot, child),
					 "node %u: literal child %u is out of range, not after its parent "
					 "or has another parent", i, c);
		if ((uint64_t)sl->label_off + sl->label_len > v->label_bytes)
			return block_bad(v->err, at_s + offsetof(struct rm_slot, label_off),
					 "node %u: label at %u+%u outside the %u label bytes", i, sl->label_off,
					 sl->label_len, v->label_bytes);
		const uint8_t *lab = v->strings + sl->label_off;
		for (uint32_t k = 0; k < sl->label_len; k++)
			if (!literal_byte_ok(lab[k]))
				return block_bad(v->err, off_of(v, lab + k), "node %u: byte 0x%02x in a label",
						 i, lab[k]);
		if ((sl->label_len == 1 && lab[0] == '.') ||
		    (sl->label_len == 2 && lab[0] == '.' && lab[1] == '.'))
			return block_bad(v->err, off_of(v, lab), "node %u: dot-segment label", i);
		if (sl->hash != hash_bytes(lab, sl->label_len))
			return block_bad(v->err, at_s + offsetof(struct rm_slot, hash),
					 "node %u: slot %u hash 0x%08x is not its label's", i, s, sl->hash);
		v->parent[c] = i;
		v->via_slot[c] = n->lit_slots + s;
	}
	if (used == 0 || table_cap(used) != cap)
		return block_bad(v->err, at_n + offsetof(struct rm_node, lit_mask),
				 "node %u: %u children in a table of %llu slots", i, used,
				 (unsigned long long)cap);
	/*
	 * Every label is where a lookup's probe finds it, found before any
	 * twin, and where build's linear probing put it: build inserts the
	 * children in node order, so the probe passes only earlier children.
	 */
	for (uint32_t s = 0; s < cap; s++) {
		if (tab[s].child == RM_NONE)
			continue;
		const uint8_t *lab = v->strings + tab[s].label_off;
		for (uint32_t k = tab[s].hash & n->lit_mask;; k = (k + 1) & n->lit_mask) {
			if (k == s)
				break;
			if (tab[k].child == RM_NONE)
				return block_bad(v->err, off_of(v, &tab[s]),
						 "node %u: slot %u is not reachable by a probe", i, s);
			if (tab[k].child > tab[s].child)
				return block_bad(v->err, off_of(v, &tab[s]),
						 "node %u: slot %u is not where insertion in node order puts it",
						 i, s);
			if (tab[k].hash == tab[s].hash && tab[k].label_len == tab[s].label_len &&
			    memcmp(v->strings + tab[k].label_off, lab, tab[s].label_len) == 0)
				return block_bad(v->err, off_of(v, &tab[s]),
						 "node %u: slots %u and %u hold the same label", i, k, s);
		}
	}
	*next_slot += (uint32_t)cap;
	return true;
}

/* Route r, listed at node i (after a "*" when wild): its template spells the path to i. */
static bool check_template(struct vstate *v, uint32_t i, uint32_t r, bool wild)
{
	const struct rm_route *rt = &v->routes[r];
	const uint8_t *t = v->strings + rt->template_off;
	uint32_t chain[ZTG_ROUTE_MAX_DEPTH];
	uint32_t depth = v->depth[i], nseg = depth + wild, pos = 1, pk = 0;

	for (uint32_t u = i, k = depth; u != 0; u = v->parent[u])
		chain[--k] = u;
	for (uint32_t k = 0; k < nseg; k++) {
		uint32_t end = pos;
		while (end < rt->template_len && t[end] != '/')
			end++;
		bool last = k + 1 == nseg;
		const uint8_t *seg = t + pos;
		uint32_t len = end - pos;
		bool ok;

		if (last != (end == rt->template_len)) {
			ok = false;
		} else if (k == depth) {
			ok = len == 1 && seg[0] == '*';
		} else if (v->via_slot[chain[k]] == RM_NONE) {
			const char *name = (const char *)v->strings + v->names[rt->names_first + pk++];
			size_t nl = strlen(name);
			ok = len == nl + 2 && seg[0] == '{' && seg[len - 1] == '}' && memcmp(seg + 1, name, nl) == 0;
		} else {
			const struct rm_slot *sl = &v->slots[v->via_slot[chain[k]]];
			ok = sl->label_len == len && memcmp(v->strings + sl->label_off, seg, len) == 0 &&
			     (len > 0 || last);
		}
		if (!ok)
			return block_bad(v->err, off_of(v, seg),
					 "route %u: template segment %u does not spell the trie path to node %u",
					 r, k + 1, i);
		pos = end + 1;
	}
	/* Nothing left over (and a route cannot end at the root: "/" is one empty segment). */
	if (pos != rt->template_len + 1)
		return block_bad(v->err, off_of(v, t), "route %u: template has more segments than the trie "
				 "path to node %u", r, i);
	return true;
}

/* The route list [first, first + count) of node i, and the routes it names. */
static bool check_list(struct vstate *v, uint32_t i, uint32_t first, uint32_t count, uint32_t mask, bool wild)
{
	uint32_t seen = 0, prev = 0;

	if (count == 0 && mask != 0)
		return block_bad(v->err, off_of(v, &v->nodes[i]), "node %u: method mask 0x%x on an empty list",
				 i, mask);
	if (wild && count > 0 && v->depth[i] + 1u > ZTG_ROUTE_MAX_DEPTH)
		return block_bad(v->err, off_of(v, &v->nodes[i]), "node %u: \"*\" below depth %u", i,
				 ZTG_ROUTE_MAX_DEPTH);
	for (uint32_t k = 0; k < count; k++) {
		const struct rm_entry *e = &v->entries[first + k];
		uint64_t at_e = off_of(v, e);

		if (e->route >= v->m->route_count || v->route_seen[e->route] || (k > 0 && e->route <= prev))
			return block_bad(v->err, at_e, "node %u: route %u out of range, listed twice or "
					 "out of order", i, e->route);
		prev = e->route;
		v->route_seen[e->route] = 1;
		if (e->route < v->first_route[i])
			v->first_route[i] = e->route;
		const struct rm_route *rt = &v->routes[e->route];
		if (e->methods != rt->methods || e->route_id != rt->route_id)
			return block_bad(v->err, at_e, "node %u: entry for route %u disagrees with the "
					 "route table", i, e->route);
		if (seen & e->methods)
			return block_bad(v->err, at_e, "node %u: route %u shares methods 0x%x with an "
					 "earlier route of the same shape", i, e->route, seen & e->methods);
		seen |= e->methods;
		if (rt->param_count != v->nparams[i] || rt->has_wildcard != wild)
			return block_bad(v->err, off_of(v, rt), "route %u: %u parameters%s, its trie "
					 "node %u has %u%s", e->route, rt->param_count,
					 rt->has_wildcard ? " and \"*\"" : "", i, v->nparams[i],
					 wild ? " and \"*\"" : "");
		if (!check_template(v, i, e->route, wild))
			return false;
	}
	if (seen != mask)
		return block_bad(v->err, off_of(v, &v->nodes[i]),
				 "node %u: method mask 0x%x is not the union 0x%x of its routes", i, mask, seen);
	return true;
}

static bool check_nodes(struct vstate *v)
{
	const struct ztg_route_matcher *m = v->m;
	uint32_t next_slot = 0, next_entry = 0;

	for (uint32_t i = 0; i < m->node_count; i++) {
		const struct rm_node *n = &v->nodes[i];
		uint64_t at_n = off_of(v, n);

		if (i > 0 && v->parent[i] == RM_NONE)
			return block_bad(v->err, at_n, "node %u is not reachable from the root", i);
		if (!check_table(v, i, &next_slot))
			return false;
		if (n->param_child != RM_NONE) {
			uint32_t c = n->param_child;
			if (c >= m->node_count || c <= i || v->parent[c] != RM_NONE)
				return block_bad(v->err, at_n + offsetof(struct rm_node, param_child),
						 "node %u: parameter child %u is out of range, not after its "
						 "parent or has another parent", i, c);
			v->parent[c] = i;
			v->via_slot[c] = RM_NONE;
		}
		/* Children of i were linked just now: give them their depth and parameter count. */
		if (n->lit_slots != RM_NONE || n->param_child != RM_NONE) {
			if (v->depth[i] >= ZTG_ROUTE_MAX_DEPTH)
				return block_bad(v->err, at_n, "node %u: children below depth %u", i,
						 ZTG_ROUTE_MAX_DEPTH);
			for (uint64_t s = 0; n->lit_slots != RM_NONE && s <= n->lit_mask; s++) {
				uint32_t c = v->slots[n->lit_slots + s].child;
				if (c != RM_NONE) {
					v->depth[c] = (uint8_t)(v->depth[i] + 1);
					v->nparams[c] = v->nparams[i];
				}
			}
			if (n->param_child != RM_NONE) {
				if (v->nparams[i] >= ZTG_ROUTE_MAX_PARAMS)
					return block_bad(v->err, at_n + offsetof(struct rm_node, param_child),
							 "node %u: more than %u parameters", i,
							 ZTG_ROUTE_MAX_PARAMS);
				v->depth[n->param_child] = (uint8_t)(v->depth[i] + 1);
				v->nparams[n->param_child] = (uint8_t)(v->nparams[i] + 1);
			}
		} else if (i > 0 && n->end_count == 0 && n->wild_count == 0) {
			return block_bad(v->err, at_n, "node %u: a leaf without routes", i);
		}
		if (n->end_first != next_entry || (uint64_t)next_entry + n->end_count > m->entry_count)
			return block_bad(v->err, at_n + offsetof(struct rm_node, end_first),
					 "node %u: end routes at entry %u (%u), expected at %u of %u", i,
					 n->end_first, n->end_count, next_entry, m->entry_count);
		if (!check_list(v, i, n->end_first, n->end_count, n->end_mask, false))
			return false;
		next_entry += n->end_count;
		if (n->wild_first != next_entry || (uint64_t)next_entry + n->wild_count > m->entry_count)
			return block_bad(v->err, at_n + offsetof(struct rm_node, wild_first),
					 "node %u: \"*\" routes at entry %u (%u), expected at %u of %u", i,
					 n->wild_first, n->wild_count, next_entry, m->entry_count);
		if (!check_list(v, i, n->wild_first, n->wild_count, n->wild_mask, true))
			return false;
		next_entry += n->wild_count;
	}
	if (next_slot != m->slot_count)
		return block_bad(v->err, HOFF(slot_count), "%u slots, the tables use %u", m->slot_count,
				 next_slot);
	if (next_entry != m->entry_count)
		return block_bad(v->err, HOFF(entry_count), "%u entries, the nodes list %u", m->entry_count,
				 next_entry);
	/*
	 * Build creates a literal edge's child node and appends its label at
	 * once, so the labels tile strings[0..label_bytes) in child-node order.
	 */
	uint64_t lp = 0;
	for (uint32_t c = 1; c < m->node_count; c++) {
		if (v->via_slot[c] == RM_NONE)
			continue;
		const struct rm_slot *sl = &v->slots[v->via_slot[c]];
		if (sl->label_off != lp)
			return block_bad(v->err, off_of(v, sl) + offsetof(struct rm_slot, label_off),
					 "label of node %u at string offset %u, expected %llu", c, sl->label_off,
					 (unsigned long long)lp);
		lp += sl->label_len;
	}
	if (lp != v->label_bytes)
		return block_bad(v->err, m->strings_off + lp, "%llu label bytes belong to no label",
				 (unsigned long long)(v->label_bytes - lp));
	/*
	 * Build numbers nodes as the routes, in order, first pass through
	 * them: ordered by (lowest route at or below the node, depth).
	 */
	for (uint32_t c = m->node_count; c-- > 1;)
		if (v->first_route[c] < v->first_route[v->parent[c]])
			v->first_route[v->parent[c]] = v->first_route[c];
	for (uint32_t c = 1; c < m->node_count; c++) {
		uint32_t a = v->first_route[c - 1], b = v->first_route[c];
		if (a > b || (a == b && v->depth[c - 1] >= v->depth[c]))
			return block_bad(v->err, off_of(v, &v->nodes[c]),
					 "node %u (first route %u, depth %u) is not numbered as build numbers "
					 "it (node %u: route %u, depth %u)", c, b, v->depth[c], c - 1, a,
					 v->depth[c - 1]);
	}
	return true;
}

/* Everything a lookup or an accessor reads, on the aligned copy m of exactly m->size bytes. */
static bool check_block(const struct ztg_route_matcher *m, struct ztg_route_diag *err)
{
	struct vstate v = { .m = m, .err = err };
	bool ok = false;

	if (!check_layout(m, err))
		return false;
	v.nodes = at(m, m->nodes_off);
	v.slots = at(m, m->slots_off);
	v.entries = at(m, m->entries_off);
	v.strings = at(m, m->strings_off);
	v.routes = at(m, m->routes_off);
	v.names = at(m, m->names_off);
	v.label_bytes = m->route_count > 0 ? v.routes[0].template_off : m->string_bytes;
	if (v.label_bytes > m->string_bytes)
		return block_bad(err, m->routes_off + offsetof(struct rm_route, template_off),
				 "route 0: template at string offset %u, past the %u string bytes",
				 v.label_bytes, m->string_bytes);

	v.parent = malloc((size_t)m->node_count * sizeof(*v.parent));
	v.via_slot = malloc((size_t)m->node_count * sizeof(*v.via_slot));
	v.depth = calloc(m->node_count, 1);
	v.nparams = calloc(m->node_count, 1);
	v.route_seen = calloc(m->route_count + 1u, 1);
	v.first_route = malloc((size_t)m->node_count * sizeof(*v.first_route));
	if (v.parent == NULL || v.via_slot == NULL || v.depth == NULL || v.nparams == NULL ||
	    v.route_seen == NULL || v.first_route == NULL) {
		if (err != NULL) {
			memset(err, 0, sizeof(*err));
			err->code = ZTG_ROUTE_E_NO_MEMORY;
			err->route_index = ZTG_ROUTE_NONE;
			err->other_index = ZTG_ROUTE_NONE;
			snprintf(err->message, sizeof(err->message), "out of memory checking a matcher block");
		}
		goto out;
	}
	memset(v.parent, 0xff, (size_t)m->node_count * sizeof(*v.parent));
	memset(v.via_slot, 0xff, (size_t)m->node_count * sizeof(*v.via_slot));
	memset(v.first_route, 0xff, (size_t)m->node_count * sizeof(*v.first_route));
	ok = check_routes(&v) && check_nodes(&v);
out:
	free(v.parent);
	free(v.via_slot);
	free(v.depth);
	free(v.nparams);
	free(v.route_seen);
	free(v.first_route);
	return ok;
}

struct ztg_route_matcher *ztg_route_matcher_from_block(const void *data, size_t len,
						       struct ztg_route_diag *err)
{
	struct ztg_route_matcher h;
	struct ztg_route_matcher *m;

	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = ZTG_ROUTE_E_NONE;
		err->route_index = ZTG_ROUTE_NONE;
		err->other_index = ZTG_ROUTE_NONE;
	}
	if (data == NULL && len > 0) {
		if (err != NULL) {
			err->code = ZTG_ROUTE_E_BAD_ARGUMENT;
			snprintf(err->message, sizeof(err->message), "no data for a block of %zu bytes", len);
		}
		return NULL;
	}
	if (len < sizeof(h)) {
		block_bad(err, len, "a block of %zu bytes is shorter than the %zu-byte header", len, sizeof(h));
		return NULL;
	}
	memcpy(&h, data, sizeof(h));
	if (h.magic != RM_MAGIC) {
		if (h.magic == __builtin_bswap32(RM_MAGIC))
			block_bad(err, HOFF(magic), "magic is byte-swapped: the block was built on a host of "
				  "the other byte order");
		else
			block_bad(err, HOFF(magic), "bad magic 0x%08x, a matcher block starts with 0x%08x",
				  h.magic, RM_MAGIC);
		return NULL;
	}
	if (h.version != ZTG_ROUTE_BLOCK_VERSION) {
		block_bad(err, HOFF(version), "format version %u, this build reads version %u", h.version,
			  ZTG_ROUTE_BLOCK_VERSION);
		return NULL;
	}
	if (h.byte_order != RM_BYTE_ORDER) {
		block_bad(err, HOFF(byte_order), "byte-order marker 0x%08x, this host writes 0x%08x: built "
			  "on a host of the other byte order", h.byte_order, RM_BYTE_ORDER);
		return NULL;
	}
	if (h.size != len) {
		block_bad(err, HOFF(size), "header says %u bytes, the block has %zu (truncated or padded)",
			  h.size, len);
		return NULL;
	}
	if (len % RM_ALIGN != 0) {
		block_bad(err, HOFF(size), "size %zu is not a multiple of %u", len, RM_ALIGN);
		return NULL;
	}
	/* Exactly len bytes: a read past the block is a read past the allocation. */
	m = aligned_alloc(RM_ALIGN, len);
	if (m == NULL) {
		if (err != NULL) {
			err->code = ZTG_ROUTE_E_NO_MEMORY;
			snprintf(err->message, sizeof(err->message), "cannot allocate %zu bytes for the matcher",
				 len);
		}
		return NULL;
	}
	memcpy(m, data, len);
	if (!check_block(m, err)) {
		free(m);
		return NULL;
	}
	return m;
}

#undef HOFF

/* ---------------------------------------------------------------- lookup */

enum { ST_LITERAL, ST_PARAM, ST_WILD, ST_DONE };

/* The search stack: node and next branch per depth, plus each segment once found. */
struct search {
	uint32_t node[RM_STACK];
	uint8_t stage[RM_STACK];
	uint8_t via_param[RM_STACK];  /* the edge taken from this depth was the {param} */
	uint8_t hashed[RM_STACK];     /* seg_hash[d] is computed */
	uint32_t sep[RM_STACK + 1];   /* offset of the '/' before segment d, or len: no segment d */
	uint32_t seg_len[RM_STACK];
	uint32_t seg_hash[RM_STACK];
};

static void fill_match(struct ztg_route_match *out, const struct search *s, uint32_t depth,
		       const struct rm_entry *e, bool wild, uint32_t len)
{
	uint32_t np = 0;

	out->route_index = e->route;
	out->route_id = e->route_id;
	for (uint32_t d = 0; d < depth && np < ZTG_ROUTE_MAX_PARAMS; d++) {
		if (!s->via_param[d])
			continue;
		out->params[np] = (struct ztg_route_capture){ np, s->sep[d] + 1, s->seg_len[d] };
		np++;
	}
	out->param_count = np;
	out->has_tail = wild;
	out->tail_off = wild ? s->sep[depth] + 1 : 0;
	out->tail_len = wild ? len - (s->sep[depth] + 1) : 0;
}

enum ztg_route_result ztg_route_matcher_match(const struct ztg_route_matcher *m, unsigned int method,
					      const char *path, size_t len, struct ztg_route_match *out)
{
	struct search s;
	const uint8_t *p = (const uint8_t *)path;
	bool path_matched = false;
	uint32_t allowed = 0;
	uint32_t known = 0;        /* segments 0..known-1 are found */
	uint32_t d = 0;

	if (out != NULL) {
		out->route_index = ZTG_ROUTE_NONE;
		out->route_id = 0;
		out->allowed = 0;
		out->param_count = 0;
		out->has_tail = false;
		out->tail_off = 0;
		out->tail_len = 0;
	}
	if (unlikely(m == NULL || path == NULL || len == 0 || len > ZTG_ROUTE_MAX_PATH_LEN || p[0] != '/'))
		return ZTG_ROUTE_NO_ROUTE;

	const struct rm_node *nodes = at(m, m->nodes_off);
	const struct rm_slot *slots = at(m, m->slots_off);
	const struct rm_entry *entries = at(m, m->entries_off);
	const uint8_t *strings = at(m, m->strings_off);
	const uint32_t n = (uint32_t)len;
	const uint32_t bit = ZTG_ROUTE_METHOD_BIT(method <= ZTG_ROUTE_METHOD_LAST ? method
						  : ZTG_HTTP_METHOD_OTHER);

	s.node[0] = 0;
	s.stage[0] = ST_LITERAL;
	s.sep[0] = 0;

	for (;;) {
		const struct rm_node *node = &nodes[s.node[d]];
		uint32_t first, count, mask;
		bool wild;

		switch (s.stage[d]) {
		case ST_LITERAL:
			if (s.sep[d] == n) {
				/* Path consumed: only routes ending here can match. */
				s.stage[d] = ST_DONE;
				if (node->end_mask == 0)
					goto pop;
				first = node->end_first;
				count = node->end_count;
				mask = node->end_mask;
				wild = false;
				goto terminal;
			}
			if (d == known) {
				uint32_t start = s.sep[d] + 1;
				uint32_t end = find_slash(p, start, n);
				s.seg_len[d] = end - start;
				s.hashed[d] = 0;
				s.sep[d + 1] = end;
				known++;
			}
			s.stage[d] = ST_PARAM;
			if (node->lit_slots != RM_NONE) {
				const struct rm_slot *tab = &slots[node->lit_slots];
				const uint8_t *seg = p + s.sep[d] + 1;
				uint32_t sl = s.seg_len[d];
				/* Hashed only under a node with literals: ids under a {param} never are. */
				if (!s.hashed[d]) {
					s.seg_hash[d] = hash_bytes(seg, sl);
					s.hashed[d] = 1;
				}
				uint32_t h = s.seg_hash[d];
				for (uint32_t i = h & node->lit_mask; tab[i].child != RM_NONE;
				     i = (i + 1) & node->lit_mask) {
					if (tab[i].hash == h && tab[i].label_len == sl &&
					    bytes_equal(strings + tab[i].label_off, seg, sl)) {
						s.via_param[d] = 0;
						if (likely(d + 1 < RM_STACK)) {
							s.node[++d] = tab[i].child;
							s.stage[d] = ST_LITERAL;
						}
						goto next;
					}
				}
			}
			/* fall through */
		case ST_PARAM:
			s.stage[d] = ST_WILD;
			if (node->param_child != RM_NONE && s.seg_len[d] > 0 && likely(d + 1 < RM_STACK)) {
				s.via_param[d] = 1;
				s.node[++d] = node->param_child;
				s.stage[d] = ST_LITERAL;
				goto next;
			}
			/* fall through */
		case ST_WILD:
			s.stage[d] = ST_DONE;
			if (node->wild_mask == 0)
				goto pop;
			first = node->wild_first;
			count = node->wild_count;
			mask = node->wild_mask;
			wild = true;
			goto terminal;
		default:
			goto pop;
		}

terminal:
		if (mask & bit) {
			for (uint32_t i = 0; i < count; i++) {
				const struct rm_entry *e = &entries[first + i];
				if (!(e->methods & bit))
					continue;
				if (out != NULL) {
					fill_match(out, &s, d, e, wild, n);
					out->allowed = e->methods;
				}
				return ZTG_ROUTE_MATCH;
			}
		}
		/* The first path match met is the most specific one: keep it for explain. */
		if (!path_matched && out != NULL)
			fill_match(out, &s, d, &entries[first], wild, n);
		path_matched = true;
		allowed |= mask;
pop:
		if (d == 0)
			break;
		d--;
next:
		;
	}

	if (!path_matched)
		return ZTG_ROUTE_NO_ROUTE;
	if (out != NULL)
		out->allowed = allowed;
	return ZTG_ROUTE_METHOD_NOT_ALLOWED;
}

/* ------------------------------------------------------------ path shape */

static inline bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (uint8_t)((c | 0x20) - 'a') < 6;
}

static bool is_uuid(const uint8_t *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

/* Does a segment look like an object id rather than part of the API's shape? */
static bool looks_like_id(const uint8_t *s, size_t len)
{
	bool digits = true, hex = true, token = true, has_digit = false, has_alpha = false;

	if (len == 0)
		return false;
	if (is_uuid(s, len))
		return true;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		bool digit = c >= '0' && c <= '9';
		bool alpha = (uint8_t)((c | 0x20) - 'a') < 26;
		has_digit |= digit;
		has_alpha |= alpha;
		digits &= digit;
		hex &= is_hex(c);
		token &= digit || alpha || c == '_' || c == '-';
	}
	return digits || (hex && len >= 16) || (token && len >= 20 && has_digit && has_alpha);
}

ssize_t ztg_route_path_shape(const char *path, size_t len, char *out, size_t cap)
{
	const uint8_t *p = (const uint8_t *)path;
	size_t o = 0, i = 0;

	if (out == NULL || cap == 0)
		return -1;
	if (path == NULL && len > 0)
		goto too_small;
	while (i < len) {
		if (p[i] == '/') {
			if (o + 1 >= cap)
				goto too_small;
			out[o++] = '/';
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && p[j] != '/')
			j++;
		const char *src = path + i;
		size_t n = j - i;
		if (looks_like_id(p + i, n)) {
			src = "{id}";
			n = 4;
		}
		if (o + n >= cap)
			goto too_small;
		memcpy(out + o, src, n);
		o += n;
		i = j;
	}
	out[o] = '\0';
	return (ssize_t)o;
too_small:
	out[0] = '\0';
	return -1;
}
