/*
 * Compiled HTTP route matcher: picks the one route of a service that a
 * request's (method, canonical path) falls under.
 *
 * A service's route templates are compiled once, off the fast path, into an
 * immutable matcher; workers share it read-only and look up without locks,
 * allocation or globals. The cost of a lookup depends on the path's depth and
 * on how much the templates make it backtrack, not on the number of routes.
 *
 * Templates, as operators write them in the policy:
 *  - start with '/'; segments are separated by '/';
 *  - a literal segment is bytes other than '/', '{', '}', '*', space and
 *    control bytes (< 0x20, 0x7f), and is neither "." nor "..";
 *  - "{name}" as a whole segment captures one NON-EMPTY path segment; name is
 *    [A-Za-z_][A-Za-z0-9_]*, at most ZTG_ROUTE_MAX_PARAM_NAME bytes, unique
 *    within the template, at most ZTG_ROUTE_MAX_PARAMS per template;
 *  - "*" as the last segment only matches the rest of the path, zero or more
 *    segments (examples as adjacent C strings, since a comment cannot hold
 *    slash-star): "/static/" "*" matches "/static/", "/static/a" and
 *    "/static/a/b" but not "/static"; "/" "*" matches every path;
 *  - a trailing slash is significant: "/orders" and "/orders/" are different
 *    routes ("/orders/" is the segment "orders" followed by an empty
 *    segment, which only a literal matches: "/orders/{id}" does not match
 *    "/orders/"). "/" is the template of the root alone;
 *  - an empty segment ("//") is refused: the normaliser collapses it, so the
 *    route could never match. The path given to match may still hold one;
 *    it then matches only through a "*".
 *
 * Paths given to match are canonical (http/http_normalize.h): percent-decoded
 * once, dot segments and "//" resolved, no query. Bytes are compared exactly
 * (case-sensitive, as servers route). A path that is empty, does not start
 * with '/' (asterisk-form "*", authority-form) or is longer than
 * ZTG_ROUTE_MAX_PATH_LEN matches no route.
 *
 * Precedence: the most specific route wins, decided segment by segment from
 * the left: at each segment a literal beats a {param}, which beats "*". The
 * search backtracks: when the more specific branch fails deeper down, or
 * reaches routes that match the path but none allows the method, the next
 * less specific branch is tried. The result is the most specific route that
 * matches both path and method. When no route matches both but some matched
 * the path, the result is METHOD_NOT_ALLOWED and names the most specific
 * route that matched the path (for explain) and the union of the methods of
 * every route matching the path (for an Allow header).
 *
 * Methods: a route carries a mask with bit (1u << m) per enum ztg_http_method
 * value it allows, or ZTG_ROUTE_METHOD_ANY. A request whose method is
 * ZTG_HTTP_METHOD_OTHER (or any value above the last known method) matches
 * only ANY routes: its bit is set in ANY alone, never on its own.
 *
 * Shape: two templates have the same shape when they have the same literals
 * at the same positions, {param}s at the same positions whatever their names
 * and the same "*". Routes of the same shape whose method masks overlap are a
 * DUPLICATE_ROUTE build error; with disjoint masks they coexist silently.
 *
 * Invariants: a built matcher is one contiguous block holding the header,
 * trie nodes, literal-children hash tables, labels, route table and names;
 * inside it everything is an offset or index, never a pointer, so the block
 * is position-independent (it may be copied or serialised byte for byte,
 * ztg_route_matcher_size() bytes, and used at any 64-byte-aligned address).
 * It is never modified after build. A lookup reads only the matcher and the
 * path, writes only *out, and uses a bounded stack frame: the search is
 * iterative with an explicit stack of ZTG_ROUTE_MAX_DEPTH + 1 entries, and
 * visits each trie node at most once.
 *
 * Stored form: the bytes to store are ztg_route_matcher_block(m) (the
 * matcher pointer itself), ztg_route_matcher_size(m) of them, and
 * ztg_route_matcher_from_block() turns such bytes back into a matcher. The
 * header starts with a magic number, a format version (ZTG_ROUTE_BLOCK_VERSION)
 * and a byte-order marker. Integers in the block are in the byte order of the
 * host that built it (little-endian: blocks are built and used on x86_64);
 * the segment hashes are byte-order independent. A block built on a host of
 * the other byte order is refused by from_block (the marker, and the magic,
 * read byte-swapped), never converted: rebuild it from the templates there.
 */
#ifndef ZTG_ROUTE_MATCH_H
#define ZTG_ROUTE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../http/http_parser.h"

#define ZTG_ROUTE_MAX_ROUTES       65535u  /* routes per matcher */
#define ZTG_ROUTE_MAX_DEPTH        64u     /* segments per template, "*" and a trailing "/" counted */
#define ZTG_ROUTE_MAX_TEMPLATE_LEN 4096u   /* bytes per template, NUL excluded */
#define ZTG_ROUTE_MAX_PATH_LEN     4096u   /* longest path that can match (= ZTG_HTTP_MAX_PATH_LEN) */
#define ZTG_ROUTE_MAX_PARAMS       8u      /* {param}s per template */
#define ZTG_ROUTE_MAX_PARAM_NAME   32u     /* bytes per parameter name */
#define ZTG_ROUTE_MAX_ERRORS       64u     /* errors reported by one build before it gives up */
#define ZTG_ROUTE_DIAG_LEN         256u    /* message buffer, NUL included */

/* Route index or node that does not exist. */
#define ZTG_ROUTE_NONE UINT32_MAX

/*
 * Method masks. http_parser.h has no count macro: ZTG_HTTP_METHOD_TRACE is
 * the last value, and a method added after it must be added here too.
 */
#define ZTG_ROUTE_METHOD_LAST   ZTG_HTTP_METHOD_TRACE
#define ZTG_ROUTE_METHOD_BIT(m) (1u << (m))
#define ZTG_ROUTE_METHOD_ANY    ((1u << (ZTG_ROUTE_METHOD_LAST + 1)) - 1u)

/* Outcome of a lookup. Names are stable: they are verdict reasons. */
#define ZTG_ROUTE_RESULTS(X)                                     \
	X(MATCH,              "route_match")                     \
	X(NO_ROUTE,           "route_not_found")                 \
	X(METHOD_NOT_ALLOWED, "route_method_not_allowed")

enum ztg_route_result {
#define ZTG_ROUTE_RESULT_ENUM(sym, name) ZTG_ROUTE_##sym,
	ZTG_ROUTE_RESULTS(ZTG_ROUTE_RESULT_ENUM)
#undef ZTG_ROUTE_RESULT_ENUM
	ZTG_ROUTE_RESULT_COUNT
};

/*
 * Build diagnostics: errors fail the build, the two *_IN_LITERAL codes are
 * warnings (the route is kept). Names are stable.
 *
 * BAD_ARGUMENT          specs is NULL with count > 0, or a template is NULL.
 * NO_MEMORY             an allocation failed.
 * TOO_MANY_ROUTES       count exceeds ZTG_ROUTE_MAX_ROUTES.
 * TOO_LARGE             the compiled block would exceed 4 GiB.
 * EMPTY_TEMPLATE        the template is "".
 * NO_LEADING_SLASH      the first byte is not '/'.
 * TEMPLATE_TOO_LONG     longer than ZTG_ROUTE_MAX_TEMPLATE_LEN.
 * TOO_DEEP              more than ZTG_ROUTE_MAX_DEPTH segments.
 * EMPTY_SEGMENT         "//": an empty segment anywhere but last.
 * DOT_SEGMENT           a "." or ".." segment (the normaliser removes them).
 * BAD_CHAR              space, control byte, or '}' outside a parameter.
 * PARTIAL_PARAM         '{' inside a segment ("v{n}") or a parameter followed
 *                       by more bytes ("{a}{b}", "{a}x").
 * UNCLOSED_PARAM        '{' without its '}'.
 * BAD_PARAM_NAME        empty name or a byte outside [A-Za-z0-9_] (or a
 *                       leading digit).
 * PARAM_NAME_TOO_LONG   name longer than ZTG_ROUTE_MAX_PARAM_NAME.
 * TOO_MANY_PARAMS       more than ZTG_ROUTE_MAX_PARAMS parameters.
 * DUPLICATE_PARAM       two parameters of one template share a name.
 * WILDCARD_NOT_LAST     a "*" segment that is not the last.
 * PARTIAL_WILDCARD      '*' inside a segment ("a*", "**").
 * NO_METHODS            the method mask is 0.
 * BAD_METHODS           bits above ZTG_ROUTE_METHOD_ANY, or the OTHER bit
 *                       (bit 0) without every other bit: OTHER is only ANY.
 * DUPLICATE_ROUTE       same shape as an earlier route with overlapping
 *                       methods (other_index, overlap say which).
 * TOO_MANY_ERRORS       ZTG_ROUTE_MAX_ERRORS errors seen; the rest unchecked.
 * PERCENT_IN_LITERAL    (warning) '%' in a literal: paths are matched
 *                       decoded, so "%41" matches only a sent "%2541".
 * BACKSLASH_IN_LITERAL  (warning) '\' in a literal: the normaliser turns it
 *                       into '/', so the route can never match.
 * BAD_BLOCK             ztg_route_matcher_from_block(): the bytes are not a
 *                       valid matcher block (message and position say what
 *                       and at which byte offset of the block).
 */
#define ZTG_ROUTE_ERRORS(X)                                              \
	X(NONE,                 "none")                                  \
	X(BAD_ARGUMENT,         "route_bad_argument")                    \
	X(NO_MEMORY,            "route_no_memory")                       \
	X(TOO_MANY_ROUTES,      "route_too_many_routes")                 \
	X(TOO_LARGE,            "route_matcher_too_large")               \
	X(EMPTY_TEMPLATE,       "route_empty_template")                  \
	X(NO_LEADING_SLASH,     "route_no_leading_slash")                \
	X(TEMPLATE_TOO_LONG,    "route_template_too_long")               \
	X(TOO_DEEP,             "route_too_many_segments")               \
	X(EMPTY_SEGMENT,        "route_empty_segment")                   \
	X(DOT_SEGMENT,          "route_dot_segment")                     \
	X(BAD_CHAR,             "route_bad_character")                   \
	X(PARTIAL_PARAM,        "route_partial_parameter")               \
	X(UNCLOSED_PARAM,       "route_unclosed_parameter")              \
	X(BAD_PARAM_NAME,       "route_bad_parameter_name")              \
	X(PARAM_NAME_TOO_LONG,  "route_parameter_name_too_long")         \
	X(TOO_MANY_PARAMS,      "route_too_many_parameters")             \
	X(DUPLICATE_PARAM,      "route_duplicate_parameter")             \
	X(WILDCARD_NOT_LAST,    "route_wildcard_not_last")               \
	X(PARTIAL_WILDCARD,     "route_partial_wildcard")                \
	X(NO_METHODS,           "route_no_methods")                      \
	X(BAD_METHODS,          "route_bad_methods")                     \
	X(DUPLICATE_ROUTE,      "route_duplicate")                       \
	X(TOO_MANY_ERRORS,      "route_too_many_errors")                 \
	X(PERCENT_IN_LITERAL,   "route_percent_in_literal")              \
	X(BACKSLASH_IN_LITERAL, "route_backslash_in_literal")            \
	X(BAD_BLOCK,            "route_bad_block")

enum ztg_route_error {
#define ZTG_ROUTE_ERROR_ENUM(sym, name) ZTG_ROUTE_E_##sym,
	ZTG_ROUTE_ERRORS(ZTG_ROUTE_ERROR_ENUM)
#undef ZTG_ROUTE_ERROR_ENUM
	ZTG_ROUTE_ERROR_COUNT
};

/* One route as the policy gives it. */
struct ztg_route_spec {
	const char *template;      /* NUL-terminated, syntax above */
	uint32_t methods;          /* ZTG_ROUTE_METHOD_BIT()s, or ZTG_ROUTE_METHOD_ANY */
	uint32_t route_id;         /* the caller's id, returned by match; need not be unique */
};

/*
 * An error or a warning about one route (or the whole set). The loader owns
 * file and line: it maps route_index to them and prints
 * "parsing [file:line]: <message>" with a caret under `position`.
 */
struct ztg_route_diag {
	enum ztg_route_error code;
	bool warning;              /* true: the build goes on and keeps the route */
	uint32_t route_index;      /* index into specs, ZTG_ROUTE_NONE for the whole set */
	uint32_t other_index;      /* DUPLICATE_ROUTE: the earlier route; else ZTG_ROUTE_NONE */
	uint32_t overlap;          /* DUPLICATE_ROUTE: methods both routes allow; else 0 */
	uint32_t position;         /* byte offset in the template the message is about */
	char message[ZTG_ROUTE_DIAG_LEN]; /* what is wrong, the offending text quoted */
};

/* Called once per diagnostic, in route order. */
typedef void (*ztg_route_diag_fn)(void *ctx, const struct ztg_route_diag *diag);

struct ztg_route_build_opts {
	ztg_route_diag_fn diag;    /* every warning and up to ZTG_ROUTE_MAX_ERRORS errors; NULL: none */
	void *ctx;                 /* passed to diag */
};

/* The capture of one {param} of the chosen route. */
struct ztg_route_capture {
	uint32_t param;            /* 0-based index of the {param} in its template, left to right */
	uint32_t off;              /* into the path given to match (no copy) */
	uint32_t len;              /* > 0 */
};

struct ztg_route_match {
	uint32_t route_index;      /* index into specs of the chosen route; ZTG_ROUTE_NONE on NO_ROUTE */
	uint32_t route_id;         /* that spec's route_id */
	/*
	 * MATCH: the chosen route's methods. METHOD_NOT_ALLOWED: the union of the
	 * methods of every route matching the path. NO_ROUTE: 0.
	 */
	uint32_t allowed;
	uint32_t param_count;
	struct ztg_route_capture params[ZTG_ROUTE_MAX_PARAMS]; /* params[i].param == i */
	bool has_tail;             /* the route ends in "*" */
	uint32_t tail_off;         /* what "*" matched: may be empty ("/static/") */
	uint32_t tail_len;
};

/* Everything the matcher keeps about one route, for explain and inventory. */
struct ztg_route_info {
	const char *template;      /* NUL-terminated copy inside the matcher */
	uint32_t template_len;
	uint32_t methods;
	uint32_t route_id;
	uint32_t param_count;
	bool has_wildcard;
};

struct ztg_route_matcher;

/*
 * Compile count routes (count may be 0: a matcher that matches nothing).
 * Every route is checked, and every problem found goes to opts->diag (opts
 * may be NULL) until ZTG_ROUTE_MAX_ERRORS errors. Returns the matcher, or
 * NULL on any error; err (may be NULL) then holds the first error, and holds
 * code NONE after a success. specs are only read during the call.
 */
struct ztg_route_matcher *ztg_route_matcher_build(const struct ztg_route_spec *specs, uint32_t count,
						  const struct ztg_route_build_opts *opts,
						  struct ztg_route_diag *err);

/* Free the whole matcher (one block). NULL is a no-op. */
void ztg_route_matcher_free(struct ztg_route_matcher *m);

/* Bytes of the block (header included); 0 for NULL. */
size_t ztg_route_matcher_size(const struct ztg_route_matcher *m);

uint32_t ztg_route_matcher_route_count(const struct ztg_route_matcher *m);

/* Format version of the block, stored in its header; from_block reads only this one. */
#define ZTG_ROUTE_BLOCK_VERSION 1u

/*
 * The bytes to store: ztg_route_matcher_size(m) bytes from here. It is the
 * matcher itself (one block); NULL for NULL.
 */
const void *ztg_route_matcher_block(const struct ztg_route_matcher *m);

/*
 * A new matcher from len bytes of a stored block (data need not be aligned;
 * it is only read during the call). The bytes are copied into a fresh
 * 64-byte-aligned allocation of exactly len bytes, and the copy is checked
 * before it is returned: header (magic, version, byte order, size == len),
 * the layout of every region (each where build puts it, inside the block,
 * padding zero), every index, offset and count (within the ZTG_ROUTE_MAX_*
 * limits), the literal-children hash tables (power-of-two sizes, room to
 * end a probe, each hash that of its label, each label found by a probe),
 * the trie (a tree rooted at node 0, no deeper than ZTG_ROUTE_MAX_DEPTH),
 * the route lists and route table (each route in exactly one list, methods
 * valid and disjoint within a list, masks the unions), the strings
 * (NUL-terminated inside the block, templates and names well formed) and
 * that each route's template spells the trie path that leads to it, and
 * that nodes, slots, entries and strings are in the order build puts them.
 * So an accepted block is byte for byte what build makes of the routes it
 * holds (templates, methods, ids from route_info), and lookups and accessors
 * on it read only inside it. Returns NULL on any failure, with err
 * (may be NULL) holding BAD_BLOCK (or NO_MEMORY, BAD_ARGUMENT), position the
 * byte offset in the block the message is about; err holds NONE on success.
 * Free the result with ztg_route_matcher_free().
 */
struct ztg_route_matcher *ztg_route_matcher_from_block(const void *data, size_t len,
						       struct ztg_route_diag *err);

/*
 * Select the route for (method, path[0..len)). method is an enum
 * ztg_http_method value; values above ZTG_ROUTE_METHOD_LAST count as OTHER.
 * path need not be NUL-terminated. out may be NULL when only the result is
 * wanted; otherwise it is always written (see struct ztg_route_match).
 * m NULL or path NULL: NO_ROUTE.
 */
enum ztg_route_result ztg_route_matcher_match(const struct ztg_route_matcher *m, unsigned int method,
					      const char *path, size_t len, struct ztg_route_match *out);

/* Route route_index of the specs given to build. -1 if out of range or NULL. */
int ztg_route_matcher_route_info(const struct ztg_route_matcher *m, uint32_t route_index,
				 struct ztg_route_info *info);

/*
 * Name of {param} number `param` (0-based, left to right) of route
 * route_index, NUL-terminated, inside the matcher. NULL if out of range.
 */
const char *ztg_route_matcher_param_name(const struct ztg_route_matcher *m, uint32_t route_index,
					 uint32_t param);

/*
 * Parse a method name from the policy: "GET", "HEAD", "POST", "PUT",
 * "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE" (case-sensitive, as
 * methods are: RFC 9110 §9.1) or "ANY". Stores its mask bit (the ANY mask)
 * into *mask. Returns 0, or -1 for anything else.
 */
int ztg_route_method_parse(const char *name, size_t len, uint32_t *mask);

/* "GET", ... for an enum ztg_http_method value; "OTHER" for 0 and unknown values. */
const char *ztg_route_method_name(unsigned int method);

/*
 * Write a mask as "GET,POST" ("ANY" for ZTG_ROUTE_METHOD_ANY, "" for 0),
 * NUL-terminated. Returns the length, or -1 (out holds "") if it does not fit.
 */
ssize_t ztg_route_methods_format(uint32_t mask, char *out, size_t cap);

const char *ztg_route_result_name(enum ztg_route_result r);
const char *ztg_route_error_name(enum ztg_route_error e);

/*
 * API inventory: the shape of an observed path, with segments that look like
 * object ids replaced by "{id}": all digits; a UUID (8-4-4-4-12 hex digits,
 * any case); 16 or more hex digits; 20 or more bytes of [A-Za-z0-9_-] with
 * at least one digit and one letter. Other segments are copied as they are.
 * Writes a NUL-terminated result into out and returns its length (NUL
 * excluded), or -1 if it does not fit in cap (out is then "" when cap > 0).
 * The result may be longer than the path ("/7" -> "/{id}").
 */
ssize_t ztg_route_path_shape(const char *path, size_t len, char *out, size_t cap);

#endif
