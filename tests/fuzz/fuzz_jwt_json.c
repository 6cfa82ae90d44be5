/*
 * Fuzz target for the JWT parsers: strict JSON (auth/json.h) and strict
 * base64url (auth/base64url.h). Every input goes to both.
 *
 * JSON, checked when an input is accepted:
 *  - tokens[0] is the top object spanning the text without its surrounding
 *    whitespace; every token lies inside the input, after its parent, inside
 *    its parent's span and subtree, one level deeper than it; subtrees nest;
 *    every container's size matches the tokens naming it as parent (members
 *    count a name and a value), names alternate with values in objects;
 *  - every string decodes into a large buffer (or is refused only for an
 *    embedded U+0000), to valid UTF-8 that string_equals() matches;
 *  - every member name found by object_get() in its own object leads to the
 *    value right after it (names are unique, so the first match is it);
 *  - number_int64 of a plain integer prints back to the same text;
 *  - the parse needs exactly its token count: one token less is
 *    TOO_MANY_TOKENS, with the same count it succeeds again.
 * Refused: a code in range with its offset inside the input.
 *
 * base64url: an accepted decode re-encodes to the same text (one spelling
 * per byte string) with the length decoded_len() promised; encoding the
 * input bytes decodes back to them.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "auth/base64url.h"
#include "auth/json.h"

#include "fuzz_check.h"

#define MAX_TOKENS 1024
#define BIG        (1u << 17)

static struct ztg_json_token tokens[MAX_TOKENS];
static struct ztg_json_token again[MAX_TOKENS];
static char decoded[BIG];
static uint8_t bytes[BIG];
static char text[BIG];

/* An independent UTF-8 check (RFC 3629): no overlongs, surrogates, > U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp, need, min;

		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1fu, need = 1, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0fu, need = 2, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			cp = s[i] & 0x07u, need = 3, min = 0x10000;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		for (uint32_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void check_tokens(const char *in, size_t len, int n)
{
	size_t lo = 0, hi = len;

	while (lo < len && is_ws((uint8_t)in[lo]))
		lo++;
	while (hi > lo && is_ws((uint8_t)in[hi - 1]))
		hi--;
	FUZZ_CHECK(tokens[0].type == ZTG_JSON_OBJECT);
	FUZZ_CHECK(tokens[0].start == lo && tokens[0].end == hi);
	FUZZ_CHECK(tokens[0].parent == -1 && tokens[0].depth == 1);
	FUZZ_CHECK(tokens[0].next == (uint32_t)n);

	for (int i = 0; i < n; i++) {
		const struct ztg_json_token *t = &tokens[i];
		uint32_t children = 0;

		FUZZ_CHECK(t->type >= ZTG_JSON_OBJECT && t->type <= ZTG_JSON_NULL);
		FUZZ_CHECK(t->start <= t->end && t->end <= len);
		FUZZ_CHECK(t->next > (uint32_t)i && t->next <= (uint32_t)n);
		if (i > 0) {
			const struct ztg_json_token *p = &tokens[t->parent];

			FUZZ_CHECK(t->parent >= 0 && t->parent < i);
			FUZZ_CHECK(p->type == ZTG_JSON_OBJECT || p->type == ZTG_JSON_ARRAY);
			FUZZ_CHECK(t->start > p->start && t->end < p->end);
			FUZZ_CHECK(t->next <= p->next);
			FUZZ_CHECK(t->depth == p->depth + 1);
		}
		if (t->type != ZTG_JSON_OBJECT && t->type != ZTG_JSON_ARRAY) {
			FUZZ_CHECK(t->next == (uint32_t)i + 1 && t->size == 0);
		} else {
			FUZZ_CHECK(in[t->start] == (t->type == ZTG_JSON_OBJECT ? '{' : '['));
			FUZZ_CHECK(in[t->end - 1] == (t->type == ZTG_JSON_OBJECT ? '}' : ']'));
			FUZZ_CHECK(t->depth <= ZTG_JSON_MAX_DEPTH);
			for (uint32_t k = (uint32_t)i + 1; k < t->next; k = tokens[k].next) {
				FUZZ_CHECK(tokens[k].parent == i);
				if (t->type == ZTG_JSON_OBJECT)
					FUZZ_CHECK(!!(tokens[k].flags & ZTG_JSON_F_KEY) == !(children & 1));
				else
					FUZZ_CHECK(!(tokens[k].flags & ZTG_JSON_F_KEY));
				children++;
			}
			if (t->type == ZTG_JSON_OBJECT) {
				FUZZ_CHECK(children == 2 * t->size);
				FUZZ_CHECK(t->size <= ZTG_JSON_MAX_MEMBERS);
			} else {
				FUZZ_CHECK(children == t->size);
			}
		}
		if (t->type == ZTG_JSON_STRING) {
			ssize_t d = ztg_json_string_decode(in, t, decoded, sizeof(decoded));

			FUZZ_CHECK(in[t->start - 1] == '"' && in[t->end] == '"');
			if (d == -ZTG_JSON_E_EMBEDDED_NUL) {
				FUZZ_CHECK(memmem(in + t->start, t->end - t->start, "\\u0000", 6) != NULL);
				continue;
			}
			FUZZ_CHECK(d >= 0 && (size_t)d == strlen(decoded));
			FUZZ_CHECK(utf8_valid((const uint8_t *)decoded, (size_t)d));
			FUZZ_CHECK(ztg_json_string_equals(in, t, decoded));
			if (!(t->flags & ZTG_JSON_F_ESCAPED))
				FUZZ_CHECK((size_t)d == t->end - t->start &&
					   memcmp(decoded, in + t->start, (size_t)d) == 0);
			if (t->flags & ZTG_JSON_F_KEY)
				FUZZ_CHECK(ztg_json_object_get(in, tokens, n, t->parent, decoded) == i + 1);
		} else {
			FUZZ_CHECK(!(t->flags & (ZTG_JSON_F_KEY | ZTG_JSON_F_ESCAPED)));
		}
		if (t->type == ZTG_JSON_NUMBER) {
			int64_t v;
			int rc = ztg_json_number_int64(in, t, &v);

			if (t->flags & ZTG_JSON_F_EXPONENT) {
				FUZZ_CHECK(rc == -ZTG_JSON_E_NOT_INTEGER);
			} else if (rc == 0 && !(t->flags & ZTG_JSON_F_FRACTION) &&
				   !(t->end - t->start == 2 && in[t->start] == '-')) {
				int k = snprintf(text, sizeof(text), "%" PRId64, v);

				FUZZ_CHECK((uint32_t)k == t->end - t->start &&
					   memcmp(text, in + t->start, (size_t)k) == 0);
			} else {
				FUZZ_CHECK(rc == 0 || rc == -ZTG_JSON_E_OUT_OF_RANGE);
			}
		}
	}
}

static void fuzz_json(const char *in, size_t len)
{
	struct ztg_json_error err;
	int n = ztg_json_parse(in, len, tokens, MAX_TOKENS, &err);

	if (n < 0) {
		FUZZ_CHECK(-n > ZTG_JSON_E_OK && -n < ZTG_JSON_E_WRONG_TYPE);
		FUZZ_CHECK(err.code == -n && err.offset <= len);
		FUZZ_CHECK(strcmp(ztg_json_error_name(n), "unknown") != 0);
		return;
	}
	FUZZ_CHECK(n >= 1 && n <= MAX_TOKENS && err.code == ZTG_JSON_E_OK);
	check_tokens(in, len, n);
	FUZZ_CHECK(ztg_json_parse(in, len, again, (uint32_t)n, NULL) == n);
	FUZZ_CHECK(memcmp(again, tokens, (size_t)n * sizeof(tokens[0])) == 0);
	FUZZ_CHECK(ztg_json_parse(in, len, again, (uint32_t)n - 1, &err) == -ZTG_JSON_E_TOO_MANY_TOKENS);
}

static void fuzz_base64url(const char *in, size_t len)
{
	size_t off = SIZE_MAX;
	ssize_t n = ztg_base64url_decode_at(in, len, bytes, sizeof(bytes), &off);

	if (n >= 0) {
		FUZZ_CHECK((size_t)n == ztg_base64url_decoded_len(len));
		FUZZ_CHECK(ztg_base64url_encode(bytes, (size_t)n, text, sizeof(text)) == len);
		FUZZ_CHECK(memcmp(text, in, len) == 0);
	} else {
		FUZZ_CHECK(n == -ZTG_B64_BAD_CHAR || n == -ZTG_B64_BAD_LENGTH ||
			   n == -ZTG_B64_NONCANONICAL || n == -ZTG_B64_NO_SPACE);
		FUZZ_CHECK(off <= len);
		if (n == -ZTG_B64_BAD_LENGTH)
			FUZZ_CHECK(len % 4 == 1);
		if (n == -ZTG_B64_NONCANONICAL)
			FUZZ_CHECK(off == len - 1);
	}

	/* the other way: any bytes encode to text that decodes back to them */
	if (len <= sizeof(text) / 4 * 3 - 3) {
		size_t e = ztg_base64url_encode((const uint8_t *)in, len, text, sizeof(text));

		FUZZ_CHECK(e == ztg_base64url_encoded_len(len));
		FUZZ_CHECK(ztg_base64url_decode(text, e, bytes, sizeof(bytes)) == (ssize_t)len);
		FUZZ_CHECK(memcmp(bytes, in, len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_json((const char *)data, size);
	fuzz_base64url((const char *)data, size);
	return 0;
}
