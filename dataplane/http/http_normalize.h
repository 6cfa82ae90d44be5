/*
 * Normalised views of a request for matching and routing.
 *
 * The parser hands over the request-target and the Host value as raw slices.
 * Policy must match what the server will act on, not what the client typed,
 * so this module derives canonical views from them:
 *  - the target: its form, the raw pieces (scheme, authority, path, query,
 *    fragment), a canonical path, the decoded query and its name/value pairs,
 *    and flags for every rewrite that changed meaning or hides an evasion;
 *  - the Host (or an absolute-form authority): lowercase, port split off;
 *  - header names compared or folded case-insensitively.
 * The method needs no view: it is case-sensitive (RFC 9110 §9.1) and the
 * parser already classifies it (struct ztg_http_message.method).
 *
 * The raw bytes stay available: every view keeps slices into the caller's
 * input next to the decoded ones written into a caller-provided buffer.
 *
 * Invariants: no allocation, no globals, no locale; work is linear in the
 * input; nothing is written outside [buf, buf + buf_len); inputs are only
 * read, never modified, and must not overlap buf. Every call returns
 * ZTG_HTTP_NORM_OK (0) or a reason from ZTG_HTTP_NORMALIZE_ERRORS; a request
 * whose target or Host fails should be denied under that reason's name.
 *
 * Path canonicalisation, in this order (each step's reason in brackets):
 *  1. Split the target: the path ends at the first '?' or '#'; the query runs
 *     from that '?' to the first '#'; a '#fragment' is never sent by a
 *     conforming client, so it is ignored and flagged (servers disagree:
 *     some cut it, Go's net/http keeps it in the path).
 *  2. Strip ';' path parameters per segment, on the raw bytes, from a raw ';'
 *     up to the next raw '/': /api;jsessionid=x/users -> /api/users. [This is
 *     what Tomcat (parsePathParameters) and Spring (removeSemicolonContent)
 *     do before they decode, so %3B is not a parameter and %2F or '\' does not
 *     end one; "/..;/admin" becomes "/../admin" as Tomcat sees it.] The bytes
 *     stripped are still checked: bad hex or NUL is an error, an encoded
 *     slash, a backslash or a double encoding sets its flag.
 *  3. Percent-decode once, every octet, reserved or not. A decoded NUL is an
 *     error. %2F and %5C decode to a separator and set ENCODED_SLASH, so
 *     policy can deny what Tomcat and Apache refuse by default, while the
 *     path still reads as nginx and IIS would route it.
 *  4. Turn '\' into '/' (raw or decoded: IIS treats both as separators).
 *  5. Check the decoded bytes as UTF-8: an overlong form (%C0%AE, %E0%80%AF)
 *     is an error, any other invalid sequence a flag (legacy Latin-1 paths
 *     exist); a control byte sets a flag.
 *  6. Flag double encoding: after the one decode, a '%' and two hex digits
 *     remain (%252e -> %2e). The path is never decoded twice.
 *  7. Collapse runs of '/' (nginx merge_slashes, Tomcat, Spring), then
 *  8. remove "." and ".." segments (RFC 3986 §5.2.4), decoded dots included.
 *     ".." at the root is clamped there as the RFC says, and flagged
 *     (nginx, Apache and Tomcat answer 400 instead: policy may deny it).
 *     Collapsing before removing makes "/a//../b" -> "/b", as nginx and
 *     Tomcat do, not "/a/b".
 *  9. Keep a trailing slash ("/a/b/" and "/a/b" are different routes).
 * Steps 2-5 run in one pass over the raw path, 6 in a scan of its output,
 * 7-9 in one more pass in place in buf: linear in the target.
 *
 * Query: split on '&' only. ';' is not a separator: PHP, Tomcat, Python since
 * 3.9.2 (CVE-2021-23336) and Go since 1.17 agree, and a raw ';' is flagged
 * because older frameworks split on it (parameter cloaking). Empty pairs are
 * skipped; the name ends at the first raw '='; names and values are decoded
 * once with '+' as space. Unlike the path, bad hex in the query is kept as is
 * (what PHP and Python do) and flagged, and NUL or overlong UTF-8 are flags
 * (values are length-delimited data): callers choose to deny them.
 */
#ifndef ZTG_HTTP_NORMALIZE_H
#define ZTG_HTTP_NORMALIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http_parser.h"

/* Query pairs kept per request; one more is ZTG_HTTP_NORM_QUERY_TOO_MANY_PARAMS. */
#define ZTG_HTTP_MAX_QUERY_PARAMS 64
/* Longest canonical path accepted, in bytes (IIS's default maxUrl is 4096 too). */
#define ZTG_HTTP_MAX_PATH_LEN 4096
/* Longest host name, trailing dot and port excluded (DNS: 253). */
#define ZTG_HTTP_HOST_MAX_LEN 253
/* A host buffer this large is always enough for ztg_http_host_without_port. */
#define ZTG_HTTP_HOST_BUF_LEN 256

/*
 * Why a target or a Host was refused. Names are stable: they are verdict
 * reasons, alongside the parser's.
 *
 * NONE                      success.
 * BAD_ARGUMENT              a required pointer is NULL (see each function).
 * BUFFER_TOO_SMALL          buf cannot hold the decoded views; nothing was
 *                           written past buf_len. Never returned when buf_len
 *                           is at least the input's length (the host: see
 *                           ztg_http_host_without_port).
 * TARGET_EMPTY              the target has no bytes.
 * TARGET_BAD_FORM           neither origin-form ("/..."), absolute-form
 *                           ("scheme://..."), authority-form ("host:port") nor
 *                           asterisk-form ("*").
 * TARGET_BAD_SCHEME         absolute-form with a scheme other than http or
 *                           https (case-insensitive).
 * TARGET_BAD_AUTHORITY      absolute-form whose authority is empty, carries
 *                           userinfo ("user@", RFC 9110 §4.2.4) or is not a
 *                           valid host[:port].
 * PATH_BAD_PERCENT_ENCODING a '%' in the path (parameters included) is not
 *                           followed by two hex digits.
 * PATH_NUL_BYTE             the path holds a NUL, raw or as %00.
 * PATH_OVERLONG_UTF8        the decoded path holds an overlong UTF-8 form
 *                           (C0/C1 lead, E0 80-9F, F0 80-8F): the classic
 *                           %C0%AE = '.' traversal.
 * PATH_TOO_LONG             the canonical path exceeds ZTG_HTTP_MAX_PATH_LEN.
 * QUERY_TOO_MANY_PARAMS     more than ZTG_HTTP_MAX_QUERY_PARAMS non-empty pairs.
 * HOST_EMPTY                the host (before any ':port') is empty.
 * HOST_BAD_NAME             a name with a byte outside [A-Za-z0-9._-], or an
 *                           empty label ("a..b", ".a", "a.."), including
 *                           userinfo and percent-encoding.
 * HOST_BAD_IP_LITERAL       "[...]" that is not an IPv6 address (IPvFuture
 *                           and zone identifiers are refused), unclosed, or
 *                           followed by anything but ":port".
 * HOST_BAD_PORT             a port that is not 1-5 digits up to 65535.
 * HOST_TOO_LONG             the name exceeds ZTG_HTTP_HOST_MAX_LEN.
 */
#define ZTG_HTTP_NORMALIZE_ERRORS(X)                                     \
	X(NONE,                      "none")                             \
	X(BAD_ARGUMENT,              "normalize_bad_argument")           \
	X(BUFFER_TOO_SMALL,          "normalize_buffer_too_small")       \
	X(TARGET_EMPTY,              "target_empty")                     \
	X(TARGET_BAD_FORM,           "target_bad_form")                  \
	X(TARGET_BAD_SCHEME,         "target_bad_scheme")                \
	X(TARGET_BAD_AUTHORITY,      "target_bad_authority")             \
	X(PATH_BAD_PERCENT_ENCODING, "path_bad_percent_encoding")        \
	X(PATH_NUL_BYTE,             "path_nul_byte")                    \
	X(PATH_OVERLONG_UTF8,        "path_overlong_utf8")               \
	X(PATH_TOO_LONG,             "path_too_long")                    \
	X(QUERY_TOO_MANY_PARAMS,     "query_too_many_params")            \
	X(HOST_EMPTY,                "host_empty")                       \
	X(HOST_BAD_NAME,             "host_bad_name")                    \
	X(HOST_BAD_IP_LITERAL,       "host_bad_ip_literal")              \
	X(HOST_BAD_PORT,             "host_bad_port")                    \
	X(HOST_TOO_LONG,             "host_too_long")

enum ztg_http_normalize_error {
#define ZTG_HTTP_NORM_ERROR_ENUM(sym, name) ZTG_HTTP_NORM_##sym,
	ZTG_HTTP_NORMALIZE_ERRORS(ZTG_HTTP_NORM_ERROR_ENUM)
#undef ZTG_HTTP_NORM_ERROR_ENUM
	ZTG_HTTP_NORM_ERROR_COUNT
};

#define ZTG_HTTP_NORM_OK ZTG_HTTP_NORM_NONE

/* Stable lower-case name of an error; "unknown" for an out-of-range value. */
const char *ztg_http_normalize_error_name(enum ztg_http_normalize_error err);

/*
 * What normalisation saw or rewrote, as bits of ztg_http_target_view.flags.
 * None is an error by itself; each name is stable so a policy that denies on
 * a flag can report it as its reason.
 *
 * PATH_DOUBLE_ENCODING   after one decode the path still holds %XX (%252e).
 * PATH_ENCODED_SLASH     %2F or %5C in the path (parameters included).
 * PATH_BACKSLASH         '\' in the path, raw or %5C (parameters included).
 * PATH_DOT_SEGMENTS      a "." or ".." segment was removed.
 * PATH_ABOVE_ROOT        a ".." tried to climb above "/" and was clamped.
 * PATH_PARAMETERS        ';' path parameters were stripped.
 * PATH_MERGED_SLASHES    a run of '/' was collapsed.
 * PATH_INVALID_UTF8      the decoded path is not UTF-8 (but not overlong).
 * PATH_CONTROL_CHAR      the decoded path holds a byte < 0x20 or 0x7f.
 * FRAGMENT               the target carried a '#fragment' (ignored).
 * QUERY_BAD_PERCENT_ENCODING a '%' in the query without two hex digits
 *                        (kept literally in the decoded query).
 * QUERY_DOUBLE_ENCODING  after one decode the query still holds %XX.
 * QUERY_NUL_BYTE         the query holds a NUL, raw or as %00.
 * QUERY_OVERLONG_UTF8    the decoded query holds an overlong UTF-8 form.
 * QUERY_INVALID_UTF8     the decoded query is not UTF-8 otherwise.
 * QUERY_SEMICOLON        a raw ';' in the query (a separator for some apps).
 */
#define ZTG_HTTP_TARGET_FLAGS(X)                                         \
	X(PATH_DOUBLE_ENCODING,       "path_double_encoding")            \
	X(PATH_ENCODED_SLASH,         "path_encoded_slash")              \
	X(PATH_BACKSLASH,             "path_backslash")                  \
	X(PATH_DOT_SEGMENTS,          "path_dot_segments")               \
	X(PATH_ABOVE_ROOT,            "path_above_root")                 \
	X(PATH_PARAMETERS,            "path_parameters")                 \
	X(PATH_MERGED_SLASHES,        "path_merged_slashes")             \
	X(PATH_INVALID_UTF8,          "path_invalid_utf8")               \
	X(PATH_CONTROL_CHAR,          "path_control_char")               \
	X(FRAGMENT,                   "target_fragment")                 \
	X(QUERY_BAD_PERCENT_ENCODING, "query_bad_percent_encoding")      \
	X(QUERY_DOUBLE_ENCODING,      "query_double_encoding")           \
	X(QUERY_NUL_BYTE,             "query_nul_byte")                  \
	X(QUERY_OVERLONG_UTF8,        "query_overlong_utf8")             \
	X(QUERY_INVALID_UTF8,         "query_invalid_utf8")              \
	X(QUERY_SEMICOLON,            "query_semicolon")

enum ztg_http_target_flag_bit {
#define ZTG_HTTP_TARGET_BIT_ENUM(sym, name) ZTG_HTTP_TARGET_BIT_##sym,
	ZTG_HTTP_TARGET_FLAGS(ZTG_HTTP_TARGET_BIT_ENUM)
#undef ZTG_HTTP_TARGET_BIT_ENUM
	ZTG_HTTP_TARGET_FLAG_COUNT
};

enum ztg_http_target_flag {
#define ZTG_HTTP_TARGET_FLAG_ENUM(sym, name) \
	ZTG_HTTP_TARGET_F_##sym = 1u << ZTG_HTTP_TARGET_BIT_##sym,
	ZTG_HTTP_TARGET_FLAGS(ZTG_HTTP_TARGET_FLAG_ENUM)
#undef ZTG_HTTP_TARGET_FLAG_ENUM
};

/* Stable name of flag bit `bit` (0 .. ZTG_HTTP_TARGET_FLAG_COUNT-1); "unknown" otherwise. */
const char *ztg_http_target_flag_name(unsigned int bit);

enum ztg_http_target_form {
	ZTG_HTTP_TARGET_ORIGIN = 0,    /* "/path?query" */
	ZTG_HTTP_TARGET_ABSOLUTE,      /* "http://authority/path?query" (to proxies, or any server) */
	ZTG_HTTP_TARGET_AUTHORITY,     /* "host:port": valid only with CONNECT, the caller checks */
	ZTG_HTTP_TARGET_ASTERISK,      /* "*": valid only with OPTIONS, the caller checks */
};

struct ztg_http_query_param {
	struct ztg_http_slice name;    /* decoded, in buf; may be empty ("=x") */
	struct ztg_http_slice value;   /* decoded, in buf; empty when has_value is false */
	bool has_value;                /* an '=' followed the name ("a=" vs "a") */
};

/*
 * Slices named raw_* (and raw, scheme, authority, fragment) point into the
 * target; path, query, decoded and the params point into buf. Both stay
 * valid as long as their storage does. An absent piece is {NULL, 0}.
 */
struct ztg_http_target_view {
	struct ztg_http_slice raw;        /* the whole target as sent */
	struct ztg_http_slice scheme;     /* absolute-form: as sent ("http", "HTTPS") */
	struct ztg_http_slice authority;  /* absolute- and authority-form: host[:port] as sent;
					   * it overrides Host (RFC 9112 §3.2.2): route on
					   * ztg_http_host_without_port(authority) */
	struct ztg_http_slice raw_path;   /* as sent: parameters and encodings included;
					   * "*" for asterisk-form, empty for "http://h"
					   * and authority-form */
	struct ztg_http_slice raw_query;  /* after '?' up to '#' or the end */
	struct ztg_http_slice fragment;   /* after '#'; set only with the FRAGMENT flag */
	struct ztg_http_slice decoded;    /* path, then '?' and the decoded query when
					   * has_query: the decoded target, fragment dropped.
					   * A decoded %26 reads as '&' here: use params to split. */
	struct ztg_http_slice path;       /* canonical path, a prefix of decoded: always
					   * starts with '/' (origin, absolute; "/" when the
					   * absolute-form path is empty), "*" for asterisk-form,
					   * empty for authority-form */
	struct ztg_http_slice query;      /* decoded query, '+' as space, a suffix of decoded */
	uint8_t form;                     /* enum ztg_http_target_form */
	bool has_query;                   /* a '?' was sent, even with nothing after it */
	uint32_t flags;                   /* ZTG_HTTP_TARGET_F_* */
	uint32_t error_offset;            /* on error: offset in the target of the cause */
	uint32_t param_count;
	struct ztg_http_query_param params[ZTG_HTTP_MAX_QUERY_PARAMS]; /* in query order */
};

/*
 * Normalise a request-target (RFC 9112 §3.2) into canonical views.
 *
 * target    the raw request-target, as the parser sliced it. May be NULL only
 *           when len is 0. Not modified; the view's raw slices point into it.
 * len       bytes in target. 0 gives ZTG_HTTP_NORM_TARGET_EMPTY.
 * buf       where the decoded path and query are written. May be NULL only
 *           when buf_len is 0. Must not overlap target. On success
 *           view->decoded starts at buf; bytes after it may hold scratch.
 * buf_len   bytes available at buf. buf_len >= len is always enough.
 * view      filled on success; on error raw, form (ORIGIN when no form was
 *           recognised), the raw slices split so far, flags seen so far and
 *           error_offset are set, and path, query, decoded and params are
 *           empty. Reset on every call. Must not be NULL.
 *
 * Returns ZTG_HTTP_NORM_OK, or: BAD_ARGUMENT (view, target or buf NULL
 * against the rules above), BUFFER_TOO_SMALL, TARGET_EMPTY, TARGET_BAD_FORM,
 * TARGET_BAD_SCHEME, TARGET_BAD_AUTHORITY, PATH_BAD_PERCENT_ENCODING,
 * PATH_NUL_BYTE, PATH_OVERLONG_UTF8, PATH_TOO_LONG, QUERY_TOO_MANY_PARAMS.
 * view->error_offset points at the offending '%' or byte, at the path for
 * PATH_TOO_LONG, at the authority for TARGET_BAD_AUTHORITY, at the first
 * pair over the limit for QUERY_TOO_MANY_PARAMS, and is 0 otherwise.
 *
 * The parser has already checked the target's characters; this function
 * refuses only what changes meaning (see the file comment for the order).
 */
enum ztg_http_normalize_error
ztg_http_normalize_target(const uint8_t *target, uint32_t len, uint8_t *buf, uint32_t buf_len,
			  struct ztg_http_target_view *view);

enum ztg_http_host_kind {
	ZTG_HTTP_HOST_NAME = 0,        /* a DNS-style name (any other numeric form included) */
	ZTG_HTTP_HOST_IPV4,            /* a dotted quad, decimal, no leading zeros */
	ZTG_HTTP_HOST_IPV6,            /* a bracketed IPv6 literal */
};

struct ztg_http_host {
	struct ztg_http_slice name;    /* in buf: lowercase, without port or trailing dot; an
					* IPv6 literal in canonical text (RFC 5952 via
					* inet_ntop) with its brackets kept, so it cannot be
					* mistaken for a name and ":port" can be appended */
	uint16_t port;                 /* valid when has_port */
	bool has_port;                 /* ":digits" followed the host; "host:" has none */
	bool trailing_dot;             /* one trailing '.' was removed ("example.com.") */
	uint8_t kind;                  /* enum ztg_http_host_kind */
};

/*
 * Split a Host value (or an authority) into a canonical host name and port.
 *
 * host      the raw value: uri-host [":" port] (RFC 9110 §7.2). host.ptr may
 *           be NULL only when host.len is 0 (HOST_EMPTY).
 * buf       where the lowercase name is written. Must not overlap host. May
 *           be NULL only when buf_len is 0.
 * buf_len   bytes at buf: ZTG_HTTP_HOST_BUF_LEN is always enough (an IPv6
 *           literal's canonical text may be longer than what was sent).
 * out       filled on success; untouched on error. Must not be NULL.
 *
 * Returns ZTG_HTTP_NORM_OK, or BAD_ARGUMENT, BUFFER_TOO_SMALL, HOST_EMPTY,
 * HOST_BAD_NAME, HOST_BAD_IP_LITERAL, HOST_BAD_PORT, HOST_TOO_LONG.
 */
enum ztg_http_normalize_error
ztg_http_host_without_port(struct ztg_http_slice host, uint8_t *buf, uint32_t buf_len,
			   struct ztg_http_host *out);

/*
 * Whether a header name equals lowercase_name, ignoring ASCII case (field
 * names are case-insensitive tokens, RFC 9110 §5.1). lowercase_name is a
 * NUL-terminated lowercase string; an uppercase letter in it never matches.
 * NULL lowercase_name, or a NULL name.ptr with a non-zero length, is false.
 */
bool ztg_http_header_name_equal(struct ztg_http_slice name, const char *lowercase_name);

/*
 * Write name in ASCII lowercase into buf, for keys and logs.
 *
 * name      the header name as sent; name.ptr may be NULL only when len is 0.
 * buf       destination, buf_len bytes; may alias name.ptr exactly (in place).
 * folded    set to {buf, name.len} on success. Must not be NULL.
 *
 * Returns ZTG_HTTP_NORM_OK, BAD_ARGUMENT or BUFFER_TOO_SMALL (buf_len < name.len).
 */
enum ztg_http_normalize_error
ztg_http_fold_name(struct ztg_http_slice name, uint8_t *buf, uint32_t buf_len,
		   struct ztg_http_slice *folded);

#endif
