#include <string.h>

#include "auth/json.h"
#include "../hex.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

static const char *const json_error_names[ZTG_JSON_E_COUNT] = {
#define ZTG_JSON_NAME(sym, name, msg) [ZTG_JSON_E_##sym] = name,
	ZTG_JSON_ERRORS(ZTG_JSON_NAME)
#undef ZTG_JSON_NAME
};

static const char *const json_error_messages[ZTG_JSON_E_COUNT] = {
#define ZTG_JSON_MSG(sym, name, msg) [ZTG_JSON_E_##sym] = msg,
	ZTG_JSON_ERRORS(ZTG_JSON_MSG)
#undef ZTG_JSON_MSG
};

const char *ztg_json_error_name(int code)
{
	if (code < 0)
		code = -code;
	if (code >= ZTG_JSON_E_COUNT)
		return "unknown";
	return json_error_names[code];
}

const char *ztg_json_error_message(int code)
{
	if (code < 0)
		code = -code;
	if (code >= ZTG_JSON_E_COUNT)
		return "unknown error";
	return json_error_messages[code];
}

/* ------------------------------------------------------------ characters */

static inline bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Four hex digits at s (caller checked they are there), or -1. */
static inline int32_t hex4(const uint8_t *s)
{
	int a = ztg_hex_value(s[0]), b = ztg_hex_value(s[1]), c = ztg_hex_value(s[2]), d = ztg_hex_value(s[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return a << 12 | b << 8 | c << 4 | d;
}

/* ---------------------------------------------------------------- parser */

enum expect {
	X_VALUE,            /* a value (after ':' or ',' in an array) */
	X_VALUE_OR_CLOSE,   /* after '[' */
	X_NAME_OR_CLOSE,    /* after '{' */
	X_NAME,             /* after ',' in an object */
	X_COLON,
	X_COMMA_OR_CLOSE,   /* after a value */
};

struct parser {
	const uint8_t *s;
	uint32_t len;
	uint32_t pos;
	struct ztg_json_token *tokens;
	uint32_t max_tokens;
	uint32_t count;
	uint32_t depth;
	uint32_t stack[ZTG_JSON_MAX_DEPTH];   /* open containers */
	struct ztg_json_error *err;
};

static int fail(struct parser *p, enum ztg_json_error_code code, uint32_t offset)
{
	if (p->err != NULL) {
		p->err->code = (int)code;
		p->err->offset = offset;
		p->err->message = json_error_messages[code];
	}
	return -(int)code;
}

/* A new token at p->pos under the innermost open container; -1 when full. */
static int32_t new_token(struct parser *p, enum ztg_json_type type)
{
	struct ztg_json_token *t;

	if (unlikely(p->count >= p->max_tokens))
		return -1;
	t = &p->tokens[p->count];
	t->type = (uint8_t)type;
	t->flags = 0;
	t->depth = (uint16_t)(p->depth + 1);
	t->start = p->pos;
	t->end = p->pos;
	t->size = 0;
	t->parent = p->depth ? (int32_t)p->stack[p->depth - 1] : -1;
	t->next = p->count + 1;
	return (int32_t)p->count++;
}

/*
 * Validate the string whose opening quote is at p->pos; on success *end is
 * the closing quote's offset, *flags tells whether it holds escapes.
 */
static int scan_string(struct parser *p, uint32_t *end, uint8_t *flags)
{
	const uint8_t *s = p->s;
	uint32_t len = p->len;
	uint32_t i = p->pos + 1;

	*flags = 0;
	while (i < len) {
		uint8_t c = s[i];

		if (c == '"') {
			*end = i;
			return 0;
		}
		if (c == '\\') {
			if (i + 1 >= len)
				return fail(p, ZTG_JSON_E_UNTERMINATED_STRING, len);
			*flags |= ZTG_JSON_F_ESCAPED;
			switch (s[i + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				i += 2;
				continue;
			case 'u':
				break;
			default:
				return fail(p, ZTG_JSON_E_BAD_ESCAPE, i);
			}
			if (len - i < 6)
				return fail(p, ZTG_JSON_E_BAD_UNICODE_ESCAPE, i);
			int32_t v = hex4(s + i + 2);

			if (v < 0)
				return fail(p, ZTG_JSON_E_BAD_UNICODE_ESCAPE, i);
			if (v >= 0xdc00 && v <= 0xdfff)
				return fail(p, ZTG_JSON_E_LONE_SURROGATE, i);
			if (v >= 0xd800 && v <= 0xdbff) {
				int32_t lo = -1;

				if (len - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u')
					lo = hex4(s + i + 8);
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(p, ZTG_JSON_E_LONE_SURROGATE, i);
				i += 12;
			} else {
				i += 6;
			}
			continue;
		}
		if (c < 0x20)
			return fail(p, ZTG_JSON_E_CONTROL_CHAR, i);
		if (c < 0x80) {
			i++;
			continue;
		}
		/* UTF-8, RFC 3629 section 4: the second byte's range excludes
		 * overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4). */
		uint32_t n;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return fail(p, ZTG_JSON_E_BAD_UTF8, i);
		}
		if (len - i - 1 < n)
			return fail(p, ZTG_JSON_E_BAD_UTF8, i);
		if (s[i + 1] < lo || s[i + 1] > hi)
			return fail(p, ZTG_JSON_E_BAD_UTF8, i);
		for (uint32_t k = 2; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return fail(p, ZTG_JSON_E_BAD_UTF8, i);
		i += n + 1;
	}
	return fail(p, ZTG_JSON_E_UNTERMINATED_STRING, len);
}

/* Number at p->pos per RFC 8259 section 6; *end just past it. */
static int scan_number(struct parser *p, uint32_t *end, uint8_t *flags)
{
	const uint8_t *s = p->s;
	uint32_t len = p->len;
	uint32_t i = p->pos;

	*flags = 0;
	if (s[i] == '-')
		i++;
	if (i >= len || !is_digit(s[i]))
		return fail(p, ZTG_JSON_E_BAD_NUMBER, i);
	if (s[i] == '0') {
		i++;
		if (i < len && is_digit(s[i]))
			return fail(p, ZTG_JSON_E_LEADING_ZERO, p->pos);
	} else {
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && s[i] == '.') {
		*flags |= ZTG_JSON_F_FRACTION;
		i++;
		if (i >= len || !is_digit(s[i]))
			return fail(p, ZTG_JSON_E_BAD_NUMBER, i);
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		*flags |= ZTG_JSON_F_EXPONENT;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return fail(p, ZTG_JSON_E_BAD_NUMBER, i);
		while (i < len && is_digit(s[i]))
			i++;
	}
	*end = i;
	return 0;
}

/* Decoded code point at *i inside a validated string; advances *i. */
static uint32_t next_code_point(const uint8_t *s, uint32_t *i)
{
	uint32_t k = *i;
	uint8_t c = s[k];

	if (c == '\\') {
		uint8_t e = s[k + 1];

		*i = k + 2;
		switch (e) {
		case 'b': return 0x08;
		case 'f': return 0x0c;
		case 'n': return 0x0a;
		case 'r': return 0x0d;
		case 't': return 0x09;
		case 'u': break;
		default: return e;   /* " \ / */
		}
		uint32_t v = (uint32_t)hex4(s + k + 2);

		if (v >= 0xd800 && v <= 0xdbff) {
			uint32_t lo = (uint32_t)hex4(s + k + 8);

			*i = k + 12;
			return 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
		}
		*i = k + 6;
		return v;
	}
	if (c < 0x80) {
		*i = k + 1;
		return c;
	}
	if (c < 0xe0) {
		*i = k + 2;
		return (uint32_t)(c & 0x1f) << 6 | (s[k + 1] & 0x3f);
	}
	if (c < 0xf0) {
		*i = k + 3;
		return (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[k + 1] & 0x3f) << 6 |
		       (s[k + 2] & 0x3f);
	}
	*i = k + 4;
	return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[k + 1] & 0x3f) << 12 |
	       (uint32_t)(s[k + 2] & 0x3f) << 6 | (s[k + 3] & 0x3f);
}

static uint32_t utf8_encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Whether two validated STRING tokens decode to the same text. */
static bool strings_equal(const uint8_t *s, const struct ztg_json_token *a,
			  const struct ztg_json_token *b)
{
	if (!((a->flags | b->flags) & ZTG_JSON_F_ESCAPED))
		return a->end - a->start == b->end - b->start &&
		       memcmp(s + a->start, s + b->start, a->end - a->start) == 0;

	uint32_t i = a->start, j = b->start;

	while (i < a->end && j < b->end)
		if (next_code_point(s, &i) != next_code_point(s, &j))
			return false;
	return i == a->end && j == b->end;
}

/* Refuse the member name at index name if the object already has it. */
static int check_duplicate(struct parser *p, uint32_t object, uint32_t name)
{
	const struct ztg_json_token *t = p->tokens;
	uint32_t k = object + 1;

	while (k < name) {
		if (strings_equal(p->s, &t[k], &t[name]))
			return fail(p, ZTG_JSON_E_DUPLICATE_NAME, t[name].start - 1);
		k = t[k + 1].next;
	}
	return 0;
}

static int close_container(struct parser *p)
{
	uint32_t idx = p->stack[--p->depth];

	p->tokens[idx].end = p->pos + 1;
	p->tokens[idx].next = p->count;
	p->pos++;
	return 0;
}

/* A value at p->pos (not a closing bracket); updates *expect. */
static int parse_value(struct parser *p, enum expect *expect)
{
	const uint8_t *s = p->s;
	uint8_t c = s[p->pos];
	uint32_t end = 0;
	uint8_t flags = 0;
	int32_t idx;
	int rc;

	if (p->depth > 0 && p->tokens[p->stack[p->depth - 1]].type == ZTG_JSON_ARRAY)
		p->tokens[p->stack[p->depth - 1]].size++;

	switch (c) {
	case '{':
	case '[':
		if (unlikely(p->depth >= ZTG_JSON_MAX_DEPTH))
			return fail(p, ZTG_JSON_E_TOO_DEEP, p->pos);
		idx = new_token(p, c == '{' ? ZTG_JSON_OBJECT : ZTG_JSON_ARRAY);
		if (unlikely(idx < 0))
			return fail(p, ZTG_JSON_E_TOO_MANY_TOKENS, p->pos);
		p->stack[p->depth++] = (uint32_t)idx;
		p->pos++;
		*expect = c == '{' ? X_NAME_OR_CLOSE : X_VALUE_OR_CLOSE;
		return 0;
	case '"':
		rc = scan_string(p, &end, &flags);
		if (rc < 0)
			return rc;
		idx = new_token(p, ZTG_JSON_STRING);
		if (unlikely(idx < 0))
			return fail(p, ZTG_JSON_E_TOO_MANY_TOKENS, p->pos);
		p->tokens[idx].start = p->pos + 1;
		p->tokens[idx].end = end;
		p->tokens[idx].flags = flags;
		p->pos = end + 1;
		break;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		rc = scan_number(p, &end, &flags);
		if (rc < 0)
			return rc;
		idx = new_token(p, ZTG_JSON_NUMBER);
		if (unlikely(idx < 0))
			return fail(p, ZTG_JSON_E_TOO_MANY_TOKENS, p->pos);
		p->tokens[idx].end = end;
		p->tokens[idx].flags = flags;
		p->pos = end;
		break;
	case 't':
	case 'f':
	case 'n': {
		const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
		uint32_t n = (uint32_t)strlen(word);

		if (p->len - p->pos < n || memcmp(s + p->pos, word, n) != 0)
			return fail(p, ZTG_JSON_E_BAD_LITERAL, p->pos);
		idx = new_token(p, c == 't' ? ZTG_JSON_TRUE : c == 'f' ? ZTG_JSON_FALSE : ZTG_JSON_NULL);
		if (unlikely(idx < 0))
			return fail(p, ZTG_JSON_E_TOO_MANY_TOKENS, p->pos);
		p->tokens[idx].end = p->pos + n;
		p->pos += n;
		break;
	}
	case '+':
	case '.':
		return fail(p, ZTG_JSON_E_BAD_NUMBER, p->pos);
	default:
		return fail(p, ZTG_JSON_E_UNEXPECTED_CHAR, p->pos);
	}
	*expect = X_COMMA_OR_CLOSE;
	return 0;
}

/* A member name at p->pos (a quote) in the innermost object. */
static int parse_name(struct parser *p)
{
	uint32_t object = p->stack[p->depth - 1];
	uint32_t end = 0;
	uint8_t flags = 0;
	int32_t idx;
	int rc;

	if (unlikely(p->tokens[object].size >= ZTG_JSON_MAX_MEMBERS))
		return fail(p, ZTG_JSON_E_TOO_MANY_MEMBERS, p->pos);
	rc = scan_string(p, &end, &flags);
	if (rc < 0)
		return rc;
	idx = new_token(p, ZTG_JSON_STRING);
	if (unlikely(idx < 0))
		return fail(p, ZTG_JSON_E_TOO_MANY_TOKENS, p->pos);
	p->tokens[idx].start = p->pos + 1;
	p->tokens[idx].end = end;
	p->tokens[idx].flags = flags | ZTG_JSON_F_KEY;
	rc = check_duplicate(p, object, (uint32_t)idx);
	if (rc < 0)
		return rc;
	p->tokens[object].size++;
	p->pos = end + 1;
	return 0;
}

int ztg_json_parse(const char *in, size_t len, struct ztg_json_token *tokens,
		   uint32_t max_tokens, struct ztg_json_error *err)
{
	struct parser p = {
		.s = (const uint8_t *)in, .len = (uint32_t)len,
		.tokens = tokens, .max_tokens = max_tokens, .err = err,
	};
	enum expect expect = X_VALUE;
	int rc;

	if (err != NULL) {
		err->code = ZTG_JSON_E_OK;
		err->offset = 0;
		err->message = json_error_messages[ZTG_JSON_E_OK];
	}
	if (unlikely((in == NULL && len > 0) || (tokens == NULL && max_tokens > 0)))
		return fail(&p, ZTG_JSON_E_BAD_ARGUMENT, 0);
	if (unlikely(len > UINT32_MAX))
		return fail(&p, ZTG_JSON_E_TOO_LARGE, 0);

	while (p.pos < p.len && is_ws(p.s[p.pos]))
		p.pos++;
	if (p.pos == p.len)
		return fail(&p, ZTG_JSON_E_EMPTY, p.pos);
	if (p.s[p.pos] != '{')
		return fail(&p, ZTG_JSON_E_NOT_OBJECT, p.pos);

	for (;;) {
		while (p.pos < p.len && is_ws(p.s[p.pos]))
			p.pos++;
		if (expect == X_COMMA_OR_CLOSE && p.depth == 0)
			break;   /* the top object is closed */
		if (p.pos == p.len)
			return fail(&p, ZTG_JSON_E_UNEXPECTED_END, p.pos);

		uint8_t c = p.s[p.pos];

		switch (expect) {
		case X_VALUE_OR_CLOSE:
			if (c == ']') {
				close_container(&p);
				expect = X_COMMA_OR_CLOSE;
				continue;
			}
			/* fall through */
		case X_VALUE:
			if (c == ']' || c == '}')
				return fail(&p, expect == X_VALUE && c == ']' &&
					    p.tokens[p.stack[p.depth - 1]].type == ZTG_JSON_ARRAY ?
					    ZTG_JSON_E_TRAILING_COMMA : ZTG_JSON_E_UNEXPECTED_CHAR, p.pos);
			rc = parse_value(&p, &expect);
			if (rc < 0)
				return rc;
			continue;
		case X_NAME_OR_CLOSE:
			if (c == '}') {
				close_container(&p);
				expect = X_COMMA_OR_CLOSE;
				continue;
			}
			/* fall through */
		case X_NAME:
			if (c != '"')
				return fail(&p, expect == X_NAME && c == '}' ?
					    ZTG_JSON_E_TRAILING_COMMA : ZTG_JSON_E_EXPECTED_NAME, p.pos);
			rc = parse_name(&p);
			if (rc < 0)
				return rc;
			expect = X_COLON;
			continue;
		case X_COLON:
			if (c != ':')
				return fail(&p, ZTG_JSON_E_EXPECTED_COLON, p.pos);
			p.pos++;
			expect = X_VALUE;
			continue;
		case X_COMMA_OR_CLOSE: {
			const struct ztg_json_token *top = &p.tokens[p.stack[p.depth - 1]];
			bool is_object = top->type == ZTG_JSON_OBJECT;

			if (c == ',') {
				p.pos++;
				expect = is_object ? X_NAME : X_VALUE;
			} else if (c == (is_object ? '}' : ']')) {
				close_container(&p);
			} else {
				return fail(&p, ZTG_JSON_E_EXPECTED_COMMA, p.pos);
			}
			continue;
		}
		}
	}
	if (p.pos != p.len)
		return fail(&p, ZTG_JSON_E_TRAILING_DATA, p.pos);
	return (int)p.count;
}

/* ------------------------------------------------------------- accessors */

int ztg_json_object_get(const char *in, const struct ztg_json_token *tokens, int count,
			int object_index, const char *name)
{
	if (in == NULL || tokens == NULL || name == NULL || object_index < 0 ||
	    object_index >= count || tokens[object_index].type != ZTG_JSON_OBJECT)
		return -1;

	const struct ztg_json_token *obj = &tokens[object_index];
	uint32_t k = (uint32_t)object_index + 1;

	for (uint32_t m = 0; m < obj->size && k + 1 < (uint32_t)count; m++) {
		if (ztg_json_string_equals(in, &tokens[k], name))
			return (int)k + 1;
		k = tokens[k + 1].next;
	}
	return -1;
}

bool ztg_json_string_equals(const char *in, const struct ztg_json_token *tok,
			    const char *literal)
{
	const uint8_t *s = (const uint8_t *)in;
	const uint8_t *lit = (const uint8_t *)literal;
	uint32_t i;
	size_t j = 0;

	if (in == NULL || tok == NULL || literal == NULL || tok->type != ZTG_JSON_STRING)
		return false;
	if (!(tok->flags & ZTG_JSON_F_ESCAPED)) {
		size_t n = tok->end - tok->start;

		/* raw content holds no NUL (control characters are escaped) */
		return strncmp((const char *)s + tok->start, literal, n) == 0 && literal[n] == '\0';
	}
	for (i = tok->start; i < tok->end;) {
		uint8_t buf[4];
		uint32_t n = utf8_encode(next_code_point(s, &i), buf);

		for (uint32_t k = 0; k < n; k++, j++)
			if (lit[j] != buf[k] || lit[j] == '\0')
				return false;
	}
	return lit[j] == '\0';
}

ssize_t ztg_json_string_decode(const char *in, const struct ztg_json_token *tok, char *out,
			       size_t cap)
{
	const uint8_t *s = (const uint8_t *)in;
	size_t o = 0;

	if (out != NULL && cap > 0)
		out[0] = '\0';
	if (in == NULL || tok == NULL || tok->type != ZTG_JSON_STRING)
		return -ZTG_JSON_E_WRONG_TYPE;
	if (out == NULL)
		cap = 0;
	for (uint32_t i = tok->start; i < tok->end;) {
		uint8_t buf[4];
		uint32_t cp = next_code_point(s, &i);
		uint32_t n = utf8_encode(cp, buf);

		if (cp == 0) {
			if (cap > 0)
				out[0] = '\0';
			return -ZTG_JSON_E_EMBEDDED_NUL;
		}
		if (cap - o < (size_t)n + 1) {
			if (cap > 0)
				out[0] = '\0';
			return -ZTG_JSON_E_NO_SPACE;
		}
		memcpy(out + o, buf, n);
		o += n;
	}
	if (cap == 0)
		return -ZTG_JSON_E_NO_SPACE;
	out[o] = '\0';
	return (ssize_t)o;
}

int ztg_json_number_int64(const char *in, const struct ztg_json_token *tok, int64_t *out)
{
	const uint8_t *s = (const uint8_t *)in;
	uint32_t i, end;
	bool negative = false;
	int64_t v = 0;   /* accumulated as a negative number, to reach INT64_MIN */

	if (in == NULL || tok == NULL || out == NULL || tok->type != ZTG_JSON_NUMBER)
		return -ZTG_JSON_E_WRONG_TYPE;
	if (tok->flags & ZTG_JSON_F_EXPONENT)
		return -ZTG_JSON_E_NOT_INTEGER;
	i = tok->start;
	end = tok->end;
	if (s[i] == '-') {
		negative = true;
		i++;
	}
	for (; i < end && is_digit(s[i]); i++) {
		int d = s[i] - '0';

		if (v < (INT64_MIN + d) / 10)
			return -ZTG_JSON_E_OUT_OF_RANGE;
		v = v * 10 - d;
	}
	/* What is left is ".digits": truncated toward zero. */
	if (!negative) {
		if (v == INT64_MIN)
			return -ZTG_JSON_E_OUT_OF_RANGE;
		v = -v;
	}
	*out = v;
	return 0;
}
