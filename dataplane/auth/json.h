/*
 * Strict JSON (RFC 8259) for JWT headers and claim sets (RFC 7515/7519),
 * tokenized into a caller-provided array: no allocation, no recursion, no
 * global state; thread safe.
 *
 * What is accepted is deliberately narrower than "JSON most parsers take",
 * so that this parser and whichever produced or will re-read a token cannot
 * disagree on its meaning (RFC 8725 section 2.8, 3.x):
 *  - exactly one top-level value, which must be an object; only whitespace
 *    (space, tab, LF, CR) around it; no comments, no trailing commas;
 *  - strings: valid UTF-8 (no overlong forms, no directly encoded surrogates
 *    U+D800..U+DFFF, nothing above U+10FFFF), control characters below 0x20
 *    escaped, only the escapes \" \\ \/ \b \f \n \r \t \uXXXX, and a \u
 *    escape of a surrogate only as a high-low pair;
 *  - numbers per the RFC grammar: no leading zeros, no '+', no bare '.',
 *    no NaN or Infinity;
 *  - nesting depth at most ZTG_JSON_MAX_DEPTH (the top object counts as 1);
 *  - at most ZTG_JSON_MAX_MEMBERS members per object, and no member name
 *    twice in one object (RFC 7519 section 4), compared after unescaping, so
 *    "a" and "\u0061" are duplicates. Names are compared pairwise within
 *    each object: at most MAX_MEMBERS^2/2 comparisons per object, each
 *    bounded by the names' length;
 *  - inputs up to UINT32_MAX bytes (offsets are 32-bit).
 *
 * Tokens come in document order. An object's members are its name (a STRING
 * token flagged ZTG_JSON_F_KEY) immediately followed by its value; both have
 * the object as parent. A token's subtree is [index, next): the first member
 * of an object at o is at o + 1, its value at o + 2, the next member's name
 * at tokens[o + 2].next.
 *
 * The accessors trust their tokens: pass only tokens that ztg_json_parse()
 * returned for the same input bytes.
 */
#ifndef ZTG_AUTH_JSON_H
#define ZTG_AUTH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ZTG_JSON_MAX_DEPTH   16
#define ZTG_JSON_MAX_MEMBERS 256

/*
 * Error codes: parse errors, then accessor errors. Functions return them
 * negated. Names are stable; messages are for people.
 */
#define ZTG_JSON_ERRORS(X)                                                                    \
	X(OK,               "ok",                         "no error")                            \
	X(BAD_ARGUMENT,     "json_bad_argument",          "NULL input or token array")           \
	X(TOO_LARGE,        "json_too_large",             "input longer than 4 GiB - 1")         \
	X(EMPTY,            "json_empty",                 "no value, only whitespace")           \
	X(NOT_OBJECT,       "json_top_level_not_object",  "top-level value is not an object")    \
	X(TRAILING_DATA,    "json_trailing_data",         "bytes after the top-level object")    \
	X(UNEXPECTED_END,   "json_unexpected_end",        "input ends inside a value")           \
	X(UNEXPECTED_CHAR,  "json_unexpected_character",  "no value can start here")             \
	X(EXPECTED_NAME,    "json_expected_member_name",  "expected a member name string")       \
	X(EXPECTED_COLON,   "json_expected_colon",        "expected ':' after a member name")    \
	X(EXPECTED_COMMA,   "json_expected_comma_or_close", "expected ',' or the closing bracket") \
	X(TRAILING_COMMA,   "json_trailing_comma",        "',' before a closing bracket")        \
	X(BAD_LITERAL,      "json_bad_literal",           "not true, false or null")             \
	X(BAD_NUMBER,       "json_bad_number",            "number outside the RFC 8259 grammar") \
	X(LEADING_ZERO,     "json_number_leading_zero",   "number with a leading zero")          \
	X(UNTERMINATED_STRING, "json_unterminated_string", "string without closing quote")      \
	X(CONTROL_CHAR,     "json_unescaped_control_character", "control character in string") \
	X(BAD_ESCAPE,       "json_bad_escape",            "escape outside the RFC set")          \
	X(BAD_UNICODE_ESCAPE, "json_bad_unicode_escape",  "\\u not followed by 4 hex digits")    \
	X(LONE_SURROGATE,   "json_lone_surrogate",        "\\u surrogate escape not in a pair")  \
	X(BAD_UTF8,         "json_bad_utf8",              "invalid, overlong or surrogate UTF-8") \
	X(TOO_DEEP,         "json_too_deep",              "nesting deeper than the bound")       \
	X(TOO_MANY_TOKENS,  "json_too_many_tokens",       "token array full")                    \
	X(TOO_MANY_MEMBERS, "json_too_many_members",      "object with more members than the bound") \
	X(DUPLICATE_NAME,   "json_duplicate_member",      "member name repeated in one object")  \
	/* accessors */                                                                         \
	X(WRONG_TYPE,       "json_wrong_type",            "token of another type")               \
	X(NO_SPACE,         "json_output_too_small",      "decoded string does not fit")         \
	X(EMBEDDED_NUL,     "json_embedded_nul",          "decoded string holds U+0000")         \
	X(NOT_INTEGER,      "json_not_integer",           "number with an exponent")             \
	X(OUT_OF_RANGE,     "json_out_of_range",          "integer part outside int64")

enum ztg_json_error_code {
#define ZTG_JSON_ENUM(sym, name, msg) ZTG_JSON_E_##sym,
	ZTG_JSON_ERRORS(ZTG_JSON_ENUM)
#undef ZTG_JSON_ENUM
	ZTG_JSON_E_COUNT
};

/* Stable name / message of a code, given as either sign; "unknown" if none. */
const char *ztg_json_error_name(int code);
const char *ztg_json_error_message(int code);

enum ztg_json_type {
	ZTG_JSON_OBJECT = 1,
	ZTG_JSON_ARRAY,
	ZTG_JSON_STRING,
	ZTG_JSON_NUMBER,
	ZTG_JSON_TRUE,
	ZTG_JSON_FALSE,
	ZTG_JSON_NULL,
};

/* Token flags. */
#define ZTG_JSON_F_KEY      0x01  /* STRING: a member name */
#define ZTG_JSON_F_ESCAPED  0x02  /* STRING: holds at least one backslash escape */
#define ZTG_JSON_F_FRACTION 0x04  /* NUMBER: has a '.' part */
#define ZTG_JSON_F_EXPONENT 0x08  /* NUMBER: has an 'e' part */

/*
 * One value (or member name).
 *   start, end  byte offsets in the input, end exclusive. OBJECT and ARRAY
 *               span their brackets; STRING spans the raw content between
 *               the quotes (escapes not decoded); NUMBER and literals span
 *               their text.
 *   size        OBJECT: members; ARRAY: elements; otherwise 0.
 *   parent      index of the enclosing OBJECT or ARRAY; -1 for the top.
 *   next        index just past this token's subtree.
 */
struct ztg_json_token {
	uint8_t type;     /* enum ztg_json_type */
	uint8_t flags;    /* ZTG_JSON_F_* */
	uint16_t depth;   /* 1 for the top object */
	uint32_t start;
	uint32_t end;
	uint32_t size;
	int32_t parent;
	uint32_t next;
};

/* Where and why a parse failed: offset is the byte the error was found at. */
struct ztg_json_error {
	int code;              /* enum ztg_json_error_code, positive */
	uint32_t offset;
	const char *message;   /* static text: ztg_json_error_message(code) */
};

/*
 * Parse len bytes at in (no NUL needed) into tokens[0 .. max_tokens).
 * Returns the number of tokens used (>= 1, tokens[0] is the top object), or
 * a negated enum ztg_json_error_code with *err filled in (err may be NULL;
 * on success err->code is ZTG_JSON_E_OK). tokens past the returned count,
 * and all of them on error, are unspecified.
 */
int ztg_json_parse(const char *in, size_t len, struct ztg_json_token *tokens,
		   uint32_t max_tokens, struct ztg_json_error *err);

/*
 * The index of the value of member name (a NUL-terminated UTF-8 string,
 * compared with the decoded member names) in the object at object_index, or
 * -1 when absent, when object_index is out of range or not an OBJECT.
 */
int ztg_json_object_get(const char *in, const struct ztg_json_token *tokens, int count,
			int object_index, const char *name);

/*
 * Unescape a STRING token into out (cap bytes) with a terminating NUL.
 * Returns the decoded length without the NUL, or -ZTG_JSON_E_WRONG_TYPE,
 * -ZTG_JSON_E_NO_SPACE (length + 1 > cap), -ZTG_JSON_E_EMBEDDED_NUL (the
 * string holds \u0000, which a C string cannot carry). On error out holds
 * an empty string when cap > 0.
 */
ssize_t ztg_json_string_decode(const char *in, const struct ztg_json_token *tok, char *out,
			       size_t cap);

/* Whether a STRING token decodes to exactly the NUL-terminated literal. */
bool ztg_json_string_equals(const char *in, const struct ztg_json_token *tok,
			    const char *literal);

/*
 * A NUMBER token as int64 (for NumericDate claims: exp, nbf, iat). RFC 7519
 * allows a non-integer NumericDate: a fraction is accepted and truncated
 * toward zero ("1.9" -> 1, "-1.9" -> -1). An exponent is refused
 * (-ZTG_JSON_E_NOT_INTEGER), even when the value is integral, as is an
 * integer part outside int64 (-ZTG_JSON_E_OUT_OF_RANGE); -ZTG_JSON_E_WRONG_TYPE
 * for other tokens. Returns 0 and stores *out on success only.
 */
int ztg_json_number_int64(const char *in, const struct ztg_json_token *tok, int64_t *out);

#endif
