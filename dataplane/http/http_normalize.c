/*
 * Normalised views of a request-target, a Host and header names.
 *
 * The target is handled in three steps: split it into its raw pieces (form,
 * scheme, authority, path, query, fragment); rewrite the path in two passes
 * into the caller's buffer (decode, then collapse slashes and remove dot
 * segments in place); decode the query after it. The buffer needed is known
 * from the raw lengths before anything is written, because decoding never
 * grows a byte sequence: one check up front bounds every later write.
 * The order of the path rewrites, and why, is in http_normalize.h.
 */
#include "http_normalize.h"
#include "../hex.h"

#include <string.h>

#include <arpa/inet.h>

#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x)   __builtin_expect(!!(x), 1)

#define NO_POS UINT32_MAX

static const char *const normalize_error_names[ZTG_HTTP_NORM_ERROR_COUNT] = {
#define ZTG_HTTP_NORM_ERROR_NAME(sym, name) [ZTG_HTTP_NORM_##sym] = name,
	ZTG_HTTP_NORMALIZE_ERRORS(ZTG_HTTP_NORM_ERROR_NAME)
#undef ZTG_HTTP_NORM_ERROR_NAME
};

static const char *const target_flag_names[ZTG_HTTP_TARGET_FLAG_COUNT] = {
#define ZTG_HTTP_TARGET_FLAG_NAME(sym, name) [ZTG_HTTP_TARGET_BIT_##sym] = name,
	ZTG_HTTP_TARGET_FLAGS(ZTG_HTTP_TARGET_FLAG_NAME)
#undef ZTG_HTTP_TARGET_FLAG_NAME
};

_Static_assert(ZTG_HTTP_TARGET_FLAG_COUNT <= 32, "target flags must fit the 32-bit mask");

const char *ztg_http_normalize_error_name(enum ztg_http_normalize_error err)
{
	if ((unsigned int)err >= ZTG_HTTP_NORM_ERROR_COUNT)
		return "unknown";
	return normalize_error_names[err];
}

const char *ztg_http_target_flag_name(unsigned int bit)
{
	if (bit >= ZTG_HTTP_TARGET_FLAG_COUNT)
		return "unknown";
	return target_flag_names[bit];
}

/* ------------------------------------------------------------ characters */

static inline bool is_hex(uint8_t c)
{
	return ztg_hex_value(c) >= 0;
}

static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_alpha(uint8_t c)
{
	return (uint8_t)((c | 0x20) - 'a') < 26;
}

static inline uint8_t to_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

/* p points at '%': decode "%XX" into *out. False when two hex digits do not follow. */
static inline bool pct_decode(const uint8_t *p, const uint8_t *end, uint8_t *out)
{
	int hi, lo;

	if (end - p < 3)
		return false;
	hi = ztg_hex_value(p[1]);
	lo = ztg_hex_value(p[2]);
	if (hi < 0 || lo < 0)
		return false;
	*out = (uint8_t)(hi << 4 | lo);
	return true;
}

/* Any "%XX" left after one decode: a second decoder would change the bytes again. */
static bool has_encoding_left(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i + 2 < n; i++)
		if (unlikely(p[i] == '%') && is_hex(p[i + 1]) && is_hex(p[i + 2]))
			return true;
	return false;
}

/* ----------------------------------------------------------------- UTF-8 */

enum utf8_result { UTF8_OK = 0, UTF8_INVALID, UTF8_OVERLONG };

/*
 * Streaming UTF-8 check (RFC 3629), one byte at a time so a caller can name
 * the byte at fault. The first continuation byte's range depends on the lead:
 * below the range after E0/F0 is an overlong form, above it after ED/F4 a
 * surrogate or a code point past U+10FFFF.
 */
struct utf8_state {
	uint8_t need;          /* continuation bytes still expected */
	uint8_t lo, hi;        /* range of the next one */
	bool below_overlong;   /* a byte in [0x80, lo) means an overlong form */
};

static enum utf8_result utf8_lead(struct utf8_state *u, uint8_t b)
{
	u->lo = 0x80;
	u->hi = 0xbf;
	u->below_overlong = false;
	if (b < 0x80)
		return UTF8_OK;
	if (b < 0xc0)
		return UTF8_INVALID;           /* stray continuation */
	if (b < 0xc2) {
		u->need = 1;                   /* its continuation is part of the overlong form */
		return UTF8_OVERLONG;          /* C0, C1 only ever encode ASCII */
	}
	if (b < 0xe0) {
		u->need = 1;
	} else if (b < 0xf0) {
		u->need = 2;
		if (b == 0xe0) {
			u->lo = 0xa0;
			u->below_overlong = true;
		} else if (b == 0xed) {
			u->hi = 0x9f;
		}
	} else if (b < 0xf5) {
		u->need = 3;
		if (b == 0xf0) {
			u->lo = 0x90;
			u->below_overlong = true;
		} else if (b == 0xf4) {
			u->hi = 0x8f;
		}
	} else {
		return UTF8_INVALID;           /* F5-FF */
	}
	return UTF8_OK;
}

static inline enum utf8_result utf8_feed(struct utf8_state *u, uint8_t b)
{
	enum utf8_result r;

	if (likely(u->need == 0))
		return utf8_lead(u, b);
	if (likely(b >= u->lo && b <= u->hi) || (u->below_overlong && b >= 0x80 && b < u->lo)) {
		/* An overlong form is consumed whole, so its tail is not also a stray byte. */
		r = (b < u->lo) ? UTF8_OVERLONG : UTF8_OK;
		u->need--;
		u->lo = 0x80;
		u->hi = 0xbf;
		u->below_overlong = false;
		return r;
	}
	/* The sequence is cut short: b starts afresh, and may itself be overlong. */
	u->need = 0;
	r = utf8_lead(u, b);
	return r == UTF8_OVERLONG ? r : UTF8_INVALID;
}

static inline enum utf8_result utf8_end(const struct utf8_state *u)
{
	return u->need ? UTF8_INVALID : UTF8_OK;
}

/* ------------------------------------------------------------------ host */

static inline bool is_host_char(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* Decimal dotted quad, each part 0-255 without leading zeros. */
static bool is_dotted_quad(const uint8_t *s, uint32_t n)
{
	uint32_t i = 0;

	for (int part = 0; part < 4; part++) {
		uint32_t v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		while (i < n && is_digit(s[i])) {
			if (digits == 3 || (digits == 1 && v == 0))
				return false;
			v = v * 10 + (uint32_t)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == n;
}

/* "" is no port (RFC 3986 allows an empty one); otherwise 1-5 digits up to 65535. */
static enum ztg_http_normalize_error port_parse(const uint8_t *s, uint32_t n, struct ztg_http_host *h)
{
	uint32_t v = 0;

	if (n == 0)
		return ZTG_HTTP_NORM_OK;
	if (n > 5)
		return ZTG_HTTP_NORM_HOST_BAD_PORT;
	for (uint32_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return ZTG_HTTP_NORM_HOST_BAD_PORT;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > 65535)
		return ZTG_HTTP_NORM_HOST_BAD_PORT;
	h->port = (uint16_t)v;
	h->has_port = true;
	return ZTG_HTTP_NORM_OK;
}

static enum ztg_http_normalize_error host_parse_ipv6(const uint8_t *s, uint32_t n, uint8_t *buf,
						     uint32_t buf_len, struct ztg_http_host *h)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr addr;
	uint32_t close = 1, inner;
	size_t text_len;

	while (close < n && s[close] != ']')
		close++;
	inner = close - 1;
	if (close == n || inner < 2 || inner >= sizeof(text))
		return ZTG_HTTP_NORM_HOST_BAD_IP_LITERAL;
	/* Hex, ':' and '.' only: no zone identifier ('%'), no IPvFuture ('v'). */
	for (uint32_t i = 1; i < close; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return ZTG_HTTP_NORM_HOST_BAD_IP_LITERAL;
	memcpy(text, s + 1, inner);
	text[inner] = '\0';
	if (inet_pton(AF_INET6, text, &addr) != 1)
		return ZTG_HTTP_NORM_HOST_BAD_IP_LITERAL;
	if (close + 1 < n) {
		enum ztg_http_normalize_error err;

		if (s[close + 1] != ':')
			return ZTG_HTTP_NORM_HOST_BAD_IP_LITERAL;
		err = port_parse(s + close + 2, n - close - 2, h);
		if (err)
			return err;
	}
	h->kind = ZTG_HTTP_HOST_IPV6;
	if (buf == NULL)
		return ZTG_HTTP_NORM_OK;
	if (inet_ntop(AF_INET6, &addr, text, sizeof(text)) == NULL)
		return ZTG_HTTP_NORM_HOST_BAD_IP_LITERAL;
	text_len = strlen(text);
	if (text_len + 2 > buf_len)
		return ZTG_HTTP_NORM_BUFFER_TOO_SMALL;
	buf[0] = '[';
	memcpy(buf + 1, text, text_len);
	buf[text_len + 1] = ']';
	h->name = (struct ztg_http_slice){ buf, (uint32_t)text_len + 2 };
	return ZTG_HTTP_NORM_OK;
}

/*
 * Parse uri-host [":" port]. With buf NULL it only validates (the authority
 * of an absolute-form target); otherwise it writes the canonical name.
 */
static enum ztg_http_normalize_error host_parse(const uint8_t *s, uint32_t n, uint8_t *buf,
						uint32_t buf_len, struct ztg_http_host *h)
{
	enum ztg_http_normalize_error err;
	uint32_t name_len = 0;
	bool after_dot = true;   /* at a label's start */

	memset(h, 0, sizeof(*h));
	if (n == 0)
		return ZTG_HTTP_NORM_HOST_EMPTY;
	if (s[0] == '[')
		return host_parse_ipv6(s, n, buf, buf_len, h);
	while (name_len < n && s[name_len] != ':')
		name_len++;
	if (name_len < n) {
		err = port_parse(s + name_len + 1, n - name_len - 1, h);
		if (err)
			return err;
	}
	if (name_len == 0)
		return ZTG_HTTP_NORM_HOST_EMPTY;
	if (s[name_len - 1] == '.' && name_len > 1) {
		h->trailing_dot = true;
		name_len--;
	}
	if (name_len > ZTG_HTTP_HOST_MAX_LEN)
		return ZTG_HTTP_NORM_HOST_TOO_LONG;
	for (uint32_t i = 0; i < name_len; i++) {
		if (s[i] == '.') {
			if (after_dot)
				return ZTG_HTTP_NORM_HOST_BAD_NAME;
			after_dot = true;
		} else if (is_host_char(s[i])) {
			after_dot = false;
		} else {
			return ZTG_HTTP_NORM_HOST_BAD_NAME;
		}
	}
	if (after_dot)
		return ZTG_HTTP_NORM_HOST_BAD_NAME;
	h->kind = is_dotted_quad(s, name_len) ? ZTG_HTTP_HOST_IPV4 : ZTG_HTTP_HOST_NAME;
	if (buf == NULL)
		return ZTG_HTTP_NORM_OK;
	if (name_len > buf_len)
		return ZTG_HTTP_NORM_BUFFER_TOO_SMALL;
	for (uint32_t i = 0; i < name_len; i++)
		buf[i] = to_lower(s[i]);
	h->name = (struct ztg_http_slice){ buf, name_len };
	return ZTG_HTTP_NORM_OK;
}

enum ztg_http_normalize_error
ztg_http_host_without_port(struct ztg_http_slice host, uint8_t *buf, uint32_t buf_len,
			   struct ztg_http_host *out)
{
	enum ztg_http_normalize_error err;
	struct ztg_http_host h;

	if (out == NULL || (host.ptr == NULL && host.len) || (buf == NULL && buf_len))
		return ZTG_HTTP_NORM_BAD_ARGUMENT;
	if (host.len == 0)
		return ZTG_HTTP_NORM_HOST_EMPTY;
	if (buf == NULL)
		return ZTG_HTTP_NORM_BUFFER_TOO_SMALL;
	err = host_parse(host.ptr, host.len, buf, buf_len, &h);
	if (err == ZTG_HTTP_NORM_OK)
		*out = h;
	return err;
}

/* ---------------------------------------------------------- header names */

bool ztg_http_header_name_equal(struct ztg_http_slice name, const char *lowercase_name)
{
	uint32_t i;

	if (lowercase_name == NULL || (name.ptr == NULL && name.len))
		return false;
	for (i = 0; i < name.len; i++)
		if (lowercase_name[i] == '\0' || to_lower(name.ptr[i]) != (uint8_t)lowercase_name[i])
			return false;
	return lowercase_name[i] == '\0';
}

enum ztg_http_normalize_error
ztg_http_fold_name(struct ztg_http_slice name, uint8_t *buf, uint32_t buf_len,
		   struct ztg_http_slice *folded)
{
	if (folded == NULL || (name.ptr == NULL && name.len) || (buf == NULL && buf_len))
		return ZTG_HTTP_NORM_BAD_ARGUMENT;
	if (name.len > buf_len)
		return ZTG_HTTP_NORM_BUFFER_TOO_SMALL;
	for (uint32_t i = 0; i < name.len; i++)
		buf[i] = to_lower(name.ptr[i]);
	*folded = (struct ztg_http_slice){ buf, name.len };
	return ZTG_HTTP_NORM_OK;
}

/* ---------------------------------------------------------------- target */

static inline struct ztg_http_slice slice(const uint8_t *p, uint32_t n)
{
	return (struct ztg_http_slice){ p, n };
}

/* scheme "://" with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ): the scheme's length, or 0. */
static uint32_t scheme_length(const uint8_t *t, uint32_t len)
{
	uint32_t i = 0;

	if (!is_alpha(t[0]))
		return 0;
	while (i < len && (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))
		i++;
	if (len - i < 3 || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/')
		return 0;
	return i;
}

static bool scheme_is_http(const uint8_t *s, uint32_t n)
{
	static const char http[] = "https";

	if (n != 4 && n != 5)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (to_lower(s[i]) != (uint8_t)http[i])
			return false;
	return true;
}

/* Split path, query and fragment of [off, len): the path ends at the first '?' or '#'. */
static void split_path_query(const uint8_t *t, uint32_t off, uint32_t len,
			     struct ztg_http_target_view *view)
{
	uint32_t i = off, q;

	while (i < len && t[i] != '?' && t[i] != '#')
		i++;
	view->raw_path = slice(t + off, i - off);
	if (i < len && t[i] == '?') {
		q = ++i;
		while (i < len && t[i] != '#')
			i++;
		view->has_query = true;
		view->raw_query = slice(t + q, i - q);
	}
	if (i < len) {
		view->flags |= ZTG_HTTP_TARGET_F_FRAGMENT;
		view->fragment = slice(t + i + 1, len - i - 1);
	}
}

static enum ztg_http_normalize_error target_split(const uint8_t *t, uint32_t len,
						  struct ztg_http_target_view *view)
{
	struct ztg_http_host host;
	uint32_t scheme_len, auth, end;

	if (t[0] == '/') {
		view->form = ZTG_HTTP_TARGET_ORIGIN;
		split_path_query(t, 0, len, view);
		return ZTG_HTTP_NORM_OK;
	}
	if (len == 1 && t[0] == '*') {
		view->form = ZTG_HTTP_TARGET_ASTERISK;
		view->raw_path = slice(t, 1);
		return ZTG_HTTP_NORM_OK;
	}
	scheme_len = scheme_length(t, len);
	if (scheme_len) {
		view->form = ZTG_HTTP_TARGET_ABSOLUTE;
		view->scheme = slice(t, scheme_len);
		if (!scheme_is_http(t, scheme_len))
			return ZTG_HTTP_NORM_TARGET_BAD_SCHEME;
		auth = end = scheme_len + 3;
		while (end < len && t[end] != '/' && t[end] != '?' && t[end] != '#')
			end++;
		view->authority = slice(t + auth, end - auth);
		if (host_parse(t + auth, end - auth, NULL, 0, &host) != ZTG_HTTP_NORM_OK) {
			view->error_offset = auth;
			return ZTG_HTTP_NORM_TARGET_BAD_AUTHORITY;
		}
		split_path_query(t, end, len, view);
		return ZTG_HTTP_NORM_OK;
	}
	/* authority-form: host and port both required (RFC 9112 §3.2.3). */
	if (host_parse(t, len, NULL, 0, &host) == ZTG_HTTP_NORM_OK && host.has_port) {
		view->form = ZTG_HTTP_TARGET_AUTHORITY;
		view->authority = slice(t, len);
		return ZTG_HTTP_NORM_OK;
	}
	return ZTG_HTTP_NORM_TARGET_BAD_FORM;
}

/*
 * Pass 1 over the raw path: strip ';' parameters, decode once, turn '\' and
 * decoded separators into '/', check UTF-8. Writes at most n bytes to out.
 * *at is the offset in p of the byte at fault on error.
 */
static enum ztg_http_normalize_error path_decode(const uint8_t *p, uint32_t n, uint8_t *out,
						 uint32_t *out_len, uint32_t *flags, uint32_t *at)
{
	struct utf8_state u = { 0 };
	bool in_param = false;
	uint32_t i = 0, w = 0, f = 0;

	while (i < n) {
		uint32_t start = i;
		bool encoded = false;
		uint8_t c = p[i];
		enum utf8_result r;

		if (c == '%') {
			if (unlikely(!pct_decode(p + i, p + n, &c))) {
				*at = i;
				*flags |= f;
				return ZTG_HTTP_NORM_PATH_BAD_PERCENT_ENCODING;
			}
			encoded = true;
			i += 3;
		} else {
			i++;
		}
		if (unlikely(c == '\0')) {
			*at = start;
			*flags |= f;
			return ZTG_HTTP_NORM_PATH_NUL_BYTE;
		}
		if (c == '/' && !encoded) {
			in_param = false;
		} else if (in_param) {
			/* Stripped, but what it hides still counts. */
			if (c == '\\')
				f |= ZTG_HTTP_TARGET_F_PATH_BACKSLASH;
			if (encoded && (c == '/' || c == '\\'))
				f |= ZTG_HTTP_TARGET_F_PATH_ENCODED_SLASH;
			if (encoded && c == '%' && n - i >= 2 && is_hex(p[i]) && is_hex(p[i + 1]))
				f |= ZTG_HTTP_TARGET_F_PATH_DOUBLE_ENCODING;
			continue;
		} else if (c == ';' && !encoded) {
			in_param = true;
			f |= ZTG_HTTP_TARGET_F_PATH_PARAMETERS;
			continue;
		} else if (c == '\\' || c == '/') {
			if (c == '\\')
				f |= ZTG_HTTP_TARGET_F_PATH_BACKSLASH;
			if (encoded)
				f |= ZTG_HTTP_TARGET_F_PATH_ENCODED_SLASH;
			c = '/';
		} else if (unlikely(c < 0x20 || c == 0x7f)) {
			f |= ZTG_HTTP_TARGET_F_PATH_CONTROL_CHAR;
		}
		r = utf8_feed(&u, c);
		if (unlikely(r != UTF8_OK)) {
			if (r == UTF8_OVERLONG) {
				*at = start;
				*flags |= f;
				return ZTG_HTTP_NORM_PATH_OVERLONG_UTF8;
			}
			f |= ZTG_HTTP_TARGET_F_PATH_INVALID_UTF8;
		}
		out[w++] = c;
	}
	if (utf8_end(&u) != UTF8_OK)
		f |= ZTG_HTTP_TARGET_F_PATH_INVALID_UTF8;
	if (has_encoding_left(out, w))
		f |= ZTG_HTTP_TARGET_F_PATH_DOUBLE_ENCODING;
	*flags |= f;
	*out_len = w;
	return ZTG_HTTP_NORM_OK;
}

/*
 * Pass 2, in place: skip empty segments (collapsing '//' runs), drop "."
 * and ".." (popping the last segment written, or clamping at the root), keep
 * a trailing slash. p[0] is '/'. Invariant: before each segment the output
 * ends with '/', so ".." pops back to the previous '/'. Each byte is copied
 * at most once and popped at most once: linear.
 */
static uint32_t path_remove_dots(uint8_t *p, uint32_t n, uint32_t *flags)
{
	uint32_t r = 1, w = 1;

	while (r < n) {
		uint32_t s = r, seg;
		bool last;

		while (r < n && p[r] != '/')
			r++;
		seg = r - s;
		last = (r == n);
		if (seg == 0) {
			*flags |= ZTG_HTTP_TARGET_F_PATH_MERGED_SLASHES;
		} else if (seg == 1 && p[s] == '.') {
			*flags |= ZTG_HTTP_TARGET_F_PATH_DOT_SEGMENTS;
		} else if (seg == 2 && p[s] == '.' && p[s + 1] == '.') {
			*flags |= ZTG_HTTP_TARGET_F_PATH_DOT_SEGMENTS;
			if (w == 1) {
				*flags |= ZTG_HTTP_TARGET_F_PATH_ABOVE_ROOT;
			} else {
				w--;
				while (p[w - 1] != '/')
					w--;
			}
		} else {
			memmove(p + w, p + s, seg);
			w += seg;
			if (!last)
				p[w++] = '/';
		}
		if (!last)
			r++;
	}
	return w;
}

static enum ztg_http_normalize_error add_param(struct ztg_http_target_view *view, const uint8_t *out,
					       uint32_t start, uint32_t eq, uint32_t end)
{
	struct ztg_http_query_param *qp;

	if (end == start)
		return ZTG_HTTP_NORM_OK;       /* "&&": nothing sent */
	if (unlikely(view->param_count == ZTG_HTTP_MAX_QUERY_PARAMS))
		return ZTG_HTTP_NORM_QUERY_TOO_MANY_PARAMS;
	qp = &view->params[view->param_count++];
	if (eq == NO_POS) {
		qp->name = slice(out + start, end - start);
		qp->value = slice(NULL, 0);
		qp->has_value = false;
	} else {
		qp->name = slice(out + start, eq - start);
		qp->value = slice(out + eq + 1, end - eq - 1);
		qp->has_value = true;
	}
	return ZTG_HTTP_NORM_OK;
}

/*
 * Decode the whole query once into out, keeping raw '&' and the first raw '='
 * of each pair where they were, so every pair's name and value are slices of
 * the decoded query. Writes at most n bytes. *at: offset in q of the pair
 * over the limit.
 */
static enum ztg_http_normalize_error query_decode(const uint8_t *q, uint32_t n, uint8_t *out,
						  struct ztg_http_target_view *view, uint32_t *out_len,
						  uint32_t *at)
{
	enum ztg_http_normalize_error err;
	struct utf8_state u = { 0 };
	uint32_t i = 0, w = 0, f = 0;
	uint32_t pair_w = 0, pair_r = 0, eq_w = NO_POS;

	while (i < n) {
		uint8_t c = q[i];
		enum utf8_result r;

		if (c == '&') {
			err = add_param(view, out, pair_w, eq_w, w);
			if (unlikely(err)) {
				*at = pair_r;
				view->flags |= f;
				return err;
			}
			if (utf8_feed(&u, c) != UTF8_OK)
				f |= ZTG_HTTP_TARGET_F_QUERY_INVALID_UTF8; /* a sequence cut short */
			pair_r = ++i;
			eq_w = NO_POS;
			out[w++] = c;
			pair_w = w;
			continue;
		}
		if (c == '=' && eq_w == NO_POS) {
			eq_w = w;
			i++;
		} else if (c == '+') {
			c = ' ';
			i++;
		} else if (c == '%') {
			if (pct_decode(q + i, q + n, &c)) {
				i += 3;
			} else {
				f |= ZTG_HTTP_TARGET_F_QUERY_BAD_PERCENT_ENCODING;
				i++;
			}
		} else {
			if (c == ';')
				f |= ZTG_HTTP_TARGET_F_QUERY_SEMICOLON;
			i++;
		}
		if (c == '\0')
			f |= ZTG_HTTP_TARGET_F_QUERY_NUL_BYTE;
		r = utf8_feed(&u, c);
		if (unlikely(r != UTF8_OK))
			f |= r == UTF8_OVERLONG ? ZTG_HTTP_TARGET_F_QUERY_OVERLONG_UTF8
						: ZTG_HTTP_TARGET_F_QUERY_INVALID_UTF8;
		out[w++] = c;
	}
	if (utf8_end(&u) != UTF8_OK)
		f |= ZTG_HTTP_TARGET_F_QUERY_INVALID_UTF8;
	if (has_encoding_left(out, w))
		f |= ZTG_HTTP_TARGET_F_QUERY_DOUBLE_ENCODING;
	view->flags |= f;
	err = add_param(view, out, pair_w, eq_w, w);
	if (unlikely(err)) {
		*at = pair_r;
		return err;
	}
	*out_len = w;
	return ZTG_HTTP_NORM_OK;
}

static void view_reset(struct ztg_http_target_view *view, const uint8_t *target, uint32_t len)
{
	/* Not the params array (2.5 KB): param_count says how much of it is live. */
	view->raw = slice(target, len);
	view->scheme = view->authority = view->raw_path = slice(NULL, 0);
	view->raw_query = view->fragment = slice(NULL, 0);
	view->decoded = view->path = view->query = slice(NULL, 0);
	view->form = ZTG_HTTP_TARGET_ORIGIN;
	view->has_query = false;
	view->flags = 0;
	view->error_offset = 0;
	view->param_count = 0;
}

static enum ztg_http_normalize_error fail(struct ztg_http_target_view *view,
					  enum ztg_http_normalize_error err, uint32_t offset)
{
	view->decoded = view->path = view->query = slice(NULL, 0);
	view->param_count = 0;
	view->error_offset = offset;
	return err;
}

/* Bytes of buf the views need; never more than the target's length. */
static uint32_t buffer_need(const struct ztg_http_target_view *view)
{
	uint32_t need;

	if (view->form == ZTG_HTTP_TARGET_ASTERISK)
		return 1;
	if (view->form == ZTG_HTTP_TARGET_AUTHORITY)
		return 0;
	need = view->raw_path.len ? view->raw_path.len : 1;
	if (view->has_query)
		need += 1 + view->raw_query.len;
	return need;
}

enum ztg_http_normalize_error
ztg_http_normalize_target(const uint8_t *target, uint32_t len, uint8_t *buf, uint32_t buf_len,
			  struct ztg_http_target_view *view)
{
	enum ztg_http_normalize_error err;
	uint32_t path_off, plen, qlen = 0, at = 0;

	if (unlikely(view == NULL))
		return ZTG_HTTP_NORM_BAD_ARGUMENT;
	view_reset(view, target, len);
	if (unlikely((target == NULL && len) || (buf == NULL && buf_len)))
		return fail(view, ZTG_HTTP_NORM_BAD_ARGUMENT, 0);
	if (unlikely(len == 0))
		return fail(view, ZTG_HTTP_NORM_TARGET_EMPTY, 0);
	err = target_split(target, len, view);
	if (unlikely(err))
		return fail(view, err, view->error_offset);
	if (unlikely(buffer_need(view) > buf_len))
		return fail(view, ZTG_HTTP_NORM_BUFFER_TOO_SMALL, 0);

	if (view->form == ZTG_HTTP_TARGET_AUTHORITY)
		return ZTG_HTTP_NORM_OK;
	if (view->form == ZTG_HTTP_TARGET_ASTERISK) {
		buf[0] = '*';
		view->path = view->decoded = slice(buf, 1);
		return ZTG_HTTP_NORM_OK;
	}

	path_off = (uint32_t)(view->raw_path.ptr - target);
	if (view->raw_path.len == 0) {
		buf[0] = '/';                  /* "http://host" and "http://host?q" */
		plen = 1;
	} else {
		err = path_decode(view->raw_path.ptr, view->raw_path.len, buf, &plen, &view->flags, &at);
		if (unlikely(err))
			return fail(view, err, path_off + at);
		plen = path_remove_dots(buf, plen, &view->flags);
	}
	if (unlikely(plen > ZTG_HTTP_MAX_PATH_LEN))
		return fail(view, ZTG_HTTP_NORM_PATH_TOO_LONG, path_off);
	view->path = slice(buf, plen);

	if (view->has_query) {
		uint32_t query_off = (uint32_t)(view->raw_query.ptr - target);

		buf[plen] = '?';
		err = query_decode(view->raw_query.ptr, view->raw_query.len, buf + plen + 1, view, &qlen, &at);
		if (unlikely(err))
			return fail(view, err, query_off + at);
		view->query = slice(buf + plen + 1, qlen);
		view->decoded = slice(buf, plen + 1 + qlen);
	} else {
		view->decoded = view->path;
	}
	return ZTG_HTTP_NORM_OK;
}
