/*
 * Unit tests for the two strict parsers a JWT needs: base64url (RFC 4648
 * section 5, unpadded) and JSON (RFC 8259, restricted as RFC 7519 / RFC 8725
 * want it). Every refusal kind is checked with its code and its offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64url.h"
#include "auth/json.h"

#define S(lit) lit, sizeof(lit) - 1

/* -------------------------------------------------------------- base64url */

static void b64_ok(const char *text, const char *bytes, size_t nbytes)
{
	uint8_t out[128];
	char enc[192];
	ssize_t n = ztg_base64url_decode(text, strlen(text), out, sizeof(out));

	assert_int_equal(n, (ssize_t)nbytes);
	assert_int_equal(ztg_base64url_decoded_len(strlen(text)), nbytes);
	assert_memory_equal(out, bytes, nbytes);
	assert_int_equal(ztg_base64url_encode((const uint8_t *)bytes, nbytes, enc, sizeof(enc)),
			 strlen(text));
	assert_string_equal(enc, text);
}

static void b64_bad(const char *text, enum ztg_b64_error code, size_t offset)
{
	uint8_t out[128];
	size_t off = (size_t)-1;
	ssize_t n = ztg_base64url_decode_at(text, strlen(text), out, sizeof(out), &off);

	assert_int_equal(n, -(ssize_t)code);
	assert_int_equal(off, offset);
	assert_int_equal(ztg_base64url_decode(text, strlen(text), out, sizeof(out)), n);
}

static void test_b64_rfc4648_vectors(void **state)
{
	(void)state;
	/* RFC 4648 section 10, padding removed; same alphabet for these. */
	b64_ok("", "", 0);
	b64_ok("Zg", "f", 1);
	b64_ok("Zm8", "fo", 2);
	b64_ok("Zm9v", "foo", 3);
	b64_ok("Zm9vYg", "foob", 4);
	b64_ok("Zm9vYmE", "fooba", 5);
	b64_ok("Zm9vYmFy", "foobar", 6);
	/* The two url-alphabet characters: 0xfb 0xff -> "-_8", 0xff -> "_w". */
	b64_ok("-_8", "\xfb\xff", 2);
	b64_ok("_w", "\xff", 1);
	b64_ok("-__-", "\xfb\xff\xfe", 3);
	/* RFC 7515 appendix A.1 protected header. */
	b64_ok("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9",
	       "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", 30);
}

static void test_b64_rejections(void **state)
{
	uint8_t out[8];
	size_t off = 99;

	(void)state;
	/* standard alphabet, padding, whitespace: bad character at its offset */
	b64_bad("Zm9v+g", ZTG_B64_BAD_CHAR, 4);
	b64_bad("Zm9v/g", ZTG_B64_BAD_CHAR, 4);
	b64_bad("Zg==", ZTG_B64_BAD_CHAR, 2);
	b64_bad("Zm8=", ZTG_B64_BAD_CHAR, 3);
	b64_bad("Zm 9v", ZTG_B64_BAD_LENGTH, 5);
	b64_bad("Zm9v Zg", ZTG_B64_BAD_CHAR, 4);
	b64_bad("Zm9\nYg", ZTG_B64_BAD_CHAR, 3);
	b64_bad("*m9v", ZTG_B64_BAD_CHAR, 0);
	b64_bad("Zm9vYm.y", ZTG_B64_BAD_CHAR, 6);
	b64_bad("Zm9vY.", ZTG_B64_BAD_CHAR, 5);
	/* length 1 mod 4 */
	b64_bad("Z", ZTG_B64_BAD_LENGTH, 1);
	b64_bad("Zm9vY", ZTG_B64_BAD_LENGTH, 5);
	/* non-canonical tails: unused bits set */
	b64_bad("Zh", ZTG_B64_NONCANONICAL, 1);        /* "Zg" is canonical */
	b64_bad("Zm9", ZTG_B64_NONCANONICAL, 2);       /* "Zm8" is canonical */
	b64_bad("Zm9vYmF", ZTG_B64_NONCANONICAL, 6);
	b64_bad("QR", ZTG_B64_NONCANONICAL, 1);
	b64_bad("__", ZTG_B64_NONCANONICAL, 1);
	/* an embedded NUL is a bad character too */
	assert_int_equal(ztg_base64url_decode_at("Zm\0v", 4, out, sizeof(out), &off),
			 -ZTG_B64_BAD_CHAR);
	assert_int_equal(off, 2);
	/* output too small: refused before writing */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(ztg_base64url_decode_at("Zm9vYg", 6, out, 3, &off), -ZTG_B64_NO_SPACE);
	assert_int_equal(off, 0);
	assert_int_equal(out[0], 0xaa);
	assert_int_equal(ztg_base64url_decode("Zm9vYg", 6, out, 4), 4);
	assert_int_equal(ztg_base64url_decode("", 0, NULL, 0), 0);
	/* names */
	assert_string_equal(ztg_b64_error_name(-ZTG_B64_NONCANONICAL), "base64url_noncanonical_tail");
	assert_string_equal(ztg_b64_error_name(ZTG_B64_BAD_CHAR), "base64url_bad_character");
	assert_string_equal(ztg_b64_error_name(77), "unknown");
}

static void test_b64_encode_space(void **state)
{
	char enc[8];

	(void)state;
	assert_int_equal(ztg_base64url_encoded_len(0), 0);
	assert_int_equal(ztg_base64url_encoded_len(1), 2);
	assert_int_equal(ztg_base64url_encoded_len(2), 3);
	assert_int_equal(ztg_base64url_encoded_len(3), 4);
	/* "foobar" needs 8 + NUL */
	assert_int_equal(ztg_base64url_encode((const uint8_t *)"foobar", 6, enc, 8),
			 ZTG_B64_ENCODE_NO_SPACE);
	assert_int_equal(ztg_base64url_encode((const uint8_t *)"fooba", 5, enc, 8), 7);
	assert_string_equal(enc, "Zm9vYmE");
}

static void test_b64_round_trips(void **state)
{
	uint8_t in[64], out[64];
	char enc[100];

	(void)state;
	srand(4648);
	for (int round = 0; round < 50; round++) {
		for (size_t len = 0; len <= 64; len++) {
			for (size_t i = 0; i < len; i++)
				in[i] = (uint8_t)rand();
			size_t n = ztg_base64url_encode(in, len, enc, sizeof(enc));

			assert_int_equal(n, ztg_base64url_encoded_len(len));
			assert_int_equal(strlen(enc), n);
			assert_int_not_equal(n % 4, 1);
			assert_int_equal(ztg_base64url_decode(enc, n, out, len), (ssize_t)len);
			assert_memory_equal(in, out, len);
			/* no other last character decodes to the same bytes */
			if (n % 4 != 0) {
				char save = enc[n - 1];
				int accepted = 0, same = 0;
				const char *alpha =
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

				for (const char *a = alpha; *a; a++) {
					enc[n - 1] = *a;
					if (ztg_base64url_decode(enc, n, out, len) >= 0) {
						accepted++;
						same += memcmp(in, out, len) == 0;
					}
				}
				enc[n - 1] = save;
				assert_int_equal(same, 1);
				/* 2 data bits free after 1 byte, 4 after 2 */
				assert_int_equal(accepted, n % 4 == 2 ? 4 : 16);
			}
		}
	}
}

/* ------------------------------------------------------------------- JSON */

#define MAXTOK 256

static struct ztg_json_token toks[MAXTOK];

static int parse_ok(const char *text, size_t len)
{
	struct ztg_json_error err;
	int n = ztg_json_parse(text, len, toks, MAXTOK, &err);

	if (n < 0)
		print_error("unexpected refusal of '%.*s': %s at %u\n", (int)len, text,
			    ztg_json_error_name(n), err.offset);
	assert_true(n > 0);
	assert_int_equal(err.code, ZTG_JSON_E_OK);
	assert_int_equal(toks[0].type, ZTG_JSON_OBJECT);
	assert_int_equal(toks[0].parent, -1);
	assert_int_equal(toks[0].next, n);
	return n;
}

static void bad_n(const char *text, size_t len, enum ztg_json_error_code code, uint32_t offset)
{
	struct ztg_json_error err = { 0 };
	int n = ztg_json_parse(text, len, toks, MAXTOK, &err);

	if (n != -(int)code || err.offset != offset)
		print_error("'%.*s': got %s at %u, want %s at %u\n", (int)len, text,
			    n < 0 ? ztg_json_error_name(n) : "success", err.offset,
			    ztg_json_error_name(code), offset);
	assert_int_equal(n, -(int)code);
	assert_int_equal(err.code, code);
	assert_int_equal(err.offset, offset);
	assert_string_equal(err.message, ztg_json_error_message(code));
}

#define BAD(lit, code, off) bad_n(S(lit), ZTG_JSON_E_##code, off)

static void test_json_jose_header(void **state)
{
	const char *h = "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}";
	char buf[16];
	int n, v;

	(void)state;
	n = parse_ok(h, strlen(h));
	assert_int_equal(n, 7);
	assert_int_equal(toks[0].size, 3);
	assert_int_equal(toks[0].start, 0);
	assert_int_equal(toks[0].end, strlen(h));
	for (int i = 1; i < 7; i++) {
		assert_int_equal(toks[i].type, ZTG_JSON_STRING);
		assert_int_equal(toks[i].parent, 0);
		assert_int_equal(toks[i].depth, 2);
		assert_int_equal(!!(toks[i].flags & ZTG_JSON_F_KEY), i % 2);
	}
	v = ztg_json_object_get(h, toks, n, 0, "alg");
	assert_int_equal(v, 2);
	assert_true(ztg_json_string_equals(h, &toks[v], "RS256"));
	assert_false(ztg_json_string_equals(h, &toks[v], "RS25"));
	assert_false(ztg_json_string_equals(h, &toks[v], "RS2566"));
	assert_false(ztg_json_string_equals(h, &toks[v], "none"));
	assert_int_equal(ztg_json_string_decode(h, &toks[ztg_json_object_get(h, toks, n, 0, "kid")],
						buf, sizeof(buf)), 2);
	assert_string_equal(buf, "k1");
	assert_int_equal(ztg_json_object_get(h, toks, n, 0, "typ"), 6);
	assert_int_equal(ztg_json_object_get(h, toks, n, 0, "crit"), -1);
	assert_int_equal(ztg_json_object_get(h, toks, n, 0, "al"), -1);
	/* not an object / out of range */
	assert_int_equal(ztg_json_object_get(h, toks, n, 2, "alg"), -1);
	assert_int_equal(ztg_json_object_get(h, toks, n, 7, "alg"), -1);
	assert_int_equal(ztg_json_object_get(h, toks, n, -1, "alg"), -1);
}

static void test_json_claims(void **state)
{
	const char *c =
		" {\"iss\":\"https://idp.example\",\"sub\":\"u-42\",\n"
		"\t\"aud\":[\"api\",\"admin\"],\"exp\":1700000000,\"nbf\":-12.75,\r\n"
		"\"iat\":1.7e9,\"scope\":{\"read\":true,\"write\":false,\"x\":null,\"n\":[[],{}]},"
		"\"z\":0,\"f\":-0.0e-0} ";
	int n, aud, scope, k;
	int64_t v;

	(void)state;
	n = parse_ok(c, strlen(c));
	assert_int_equal(toks[0].size, 9);
	assert_int_equal(toks[0].start, 1);
	assert_int_equal(toks[0].end, strlen(c) - 1);

	aud = ztg_json_object_get(c, toks, n, 0, "aud");
	assert_true(aud > 0);
	assert_int_equal(toks[aud].type, ZTG_JSON_ARRAY);
	assert_int_equal(toks[aud].size, 2);
	assert_int_equal(toks[aud + 1].parent, aud);
	assert_int_equal(toks[aud + 2].parent, aud);
	assert_false(toks[aud + 1].flags & ZTG_JSON_F_KEY);
	assert_true(ztg_json_string_equals(c, &toks[aud + 1], "api"));
	assert_true(ztg_json_string_equals(c, &toks[aud + 2], "admin"));
	assert_int_equal(toks[aud].next, aud + 3);

	k = ztg_json_object_get(c, toks, n, 0, "exp");
	assert_int_equal(toks[k].type, ZTG_JSON_NUMBER);
	assert_int_equal(ztg_json_number_int64(c, &toks[k], &v), 0);
	assert_int_equal(v, 1700000000);
	k = ztg_json_object_get(c, toks, n, 0, "nbf");
	assert_true(toks[k].flags & ZTG_JSON_F_FRACTION);
	assert_int_equal(ztg_json_number_int64(c, &toks[k], &v), 0);
	assert_int_equal(v, -12);   /* truncated toward zero */
	k = ztg_json_object_get(c, toks, n, 0, "iat");
	assert_int_equal(ztg_json_number_int64(c, &toks[k], &v), -ZTG_JSON_E_NOT_INTEGER);
	k = ztg_json_object_get(c, toks, n, 0, "z");
	assert_int_equal(ztg_json_number_int64(c, &toks[k], &v), 0);
	assert_int_equal(v, 0);
	k = ztg_json_object_get(c, toks, n, 0, "f");
	assert_int_equal(toks[k].flags, ZTG_JSON_F_FRACTION | ZTG_JSON_F_EXPONENT);

	scope = ztg_json_object_get(c, toks, n, 0, "scope");
	assert_int_equal(toks[scope].type, ZTG_JSON_OBJECT);
	assert_int_equal(toks[scope].size, 4);
	assert_int_equal(toks[scope].depth, 2);
	assert_int_equal(toks[ztg_json_object_get(c, toks, n, scope, "read")].type, ZTG_JSON_TRUE);
	assert_int_equal(toks[ztg_json_object_get(c, toks, n, scope, "write")].type, ZTG_JSON_FALSE);
	assert_int_equal(toks[ztg_json_object_get(c, toks, n, scope, "x")].type, ZTG_JSON_NULL);
	k = ztg_json_object_get(c, toks, n, scope, "n");
	assert_int_equal(toks[k].size, 2);
	assert_int_equal(toks[k + 1].type, ZTG_JSON_ARRAY);
	assert_int_equal(toks[k + 1].size, 0);
	assert_int_equal(toks[k + 2].type, ZTG_JSON_OBJECT);
	assert_int_equal(toks[k + 2].parent, k);
	assert_int_equal(toks[k + 2].depth, 4);
	/* a member of the nested object is not one of the top object */
	assert_int_equal(ztg_json_object_get(c, toks, n, 0, "read"), -1);
	assert_int_equal(ztg_json_object_get(c, toks, n, 0, "sub"), scope - 12);
}

static void test_json_unicode(void **state)
{
	/* "é" raw and escaped, U+1F600 as a surrogate pair and raw, U+FFFF, U+10FFFF */
	const char *j = "{\"n\\u00e9\":\"caf\\u00E9 \xc3\xa9\",\"e\":\"\\ud83d\\ude00=\xf0\x9f\x98\x80\","
			"\"m\":\"\\uffff\xef\xbf\xbf\xf4\x8f\xbf\xbf\",\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\","
			"\"z\":\"a\\u0000b\",\"\":\"empty name\"}";
	char buf[64];
	int n, k;

	(void)state;
	n = parse_ok(j, strlen(j));
	k = ztg_json_object_get(j, toks, n, 0, "n\xc3\xa9");
	assert_int_equal(k, 2);
	assert_true(toks[1].flags & ZTG_JSON_F_ESCAPED);
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, sizeof(buf)), 8);
	assert_string_equal(buf, "caf\xc3\xa9 \xc3\xa9");
	k = ztg_json_object_get(j, toks, n, 0, "e");
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, sizeof(buf)), 9);
	assert_string_equal(buf, "\xf0\x9f\x98\x80=\xf0\x9f\x98\x80");
	assert_true(ztg_json_string_equals(j, &toks[k], "\xf0\x9f\x98\x80=\xf0\x9f\x98\x80"));
	k = ztg_json_object_get(j, toks, n, 0, "m");
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, sizeof(buf)), 10);
	assert_string_equal(buf, "\xef\xbf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf");
	k = ztg_json_object_get(j, toks, n, 0, "s");
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, sizeof(buf)), 8);
	assert_string_equal(buf, "\"\\/\b\f\n\r\t");
	/* exactly fitting, one byte short */
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, 9), 8);
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, 8), -ZTG_JSON_E_NO_SPACE);
	assert_string_equal(buf, "");
	assert_int_equal(ztg_json_string_decode(j, &toks[k], NULL, 0), -ZTG_JSON_E_NO_SPACE);
	/* U+0000 cannot go into a C string, nor equal a literal */
	k = ztg_json_object_get(j, toks, n, 0, "z");
	assert_int_equal(ztg_json_string_decode(j, &toks[k], buf, sizeof(buf)),
			 -ZTG_JSON_E_EMBEDDED_NUL);
	assert_false(ztg_json_string_equals(j, &toks[k], "a"));
	assert_false(ztg_json_string_equals(j, &toks[k], "ab"));
	k = ztg_json_object_get(j, toks, n, 0, "");
	assert_true(ztg_json_string_equals(j, &toks[k], "empty name"));
	/* wrong types */
	assert_int_equal(ztg_json_string_decode(j, &toks[0], buf, sizeof(buf)), -ZTG_JSON_E_WRONG_TYPE);
	assert_false(ztg_json_string_equals(j, &toks[0], ""));
}

static void test_json_int64(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t value;
	} cases[] = {
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775808", -ZTG_JSON_E_OUT_OF_RANGE, 0 },
		{ "-9223372036854775809", -ZTG_JSON_E_OUT_OF_RANGE, 0 },
		{ "99999999999999999999", -ZTG_JSON_E_OUT_OF_RANGE, 0 },
		{ "9223372036854775807.999", 0, INT64_MAX },
		{ "-9223372036854775808.5", 0, INT64_MIN },
		{ "-0", 0, 0 },
		{ "-0.9", 0, 0 },
		{ "0.5", 0, 0 },
		{ "1700000000.123456", 0, 1700000000 },
		{ "1e3", -ZTG_JSON_E_NOT_INTEGER, 0 },
		{ "1E+0", -ZTG_JSON_E_NOT_INTEGER, 0 },
		{ "1.0e-3", -ZTG_JSON_E_NOT_INTEGER, 0 },
	};
	char doc[64];
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int len = snprintf(doc, sizeof(doc), "{\"exp\":%s}", cases[i].text);
		int n = parse_ok(doc, (size_t)len);
		int k = ztg_json_object_get(doc, toks, n, 0, "exp");

		v = 12345;
		assert_int_equal(ztg_json_number_int64(doc, &toks[k], &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(v == cases[i].value);
		else
			assert_true(v == 12345);
	}
	{
		const char *d = "{\"exp\":\"1700000000\"}";
		int n = parse_ok(d, strlen(d));

		assert_int_equal(ztg_json_number_int64(d, &toks[ztg_json_object_get(d, toks, n, 0, "exp")],
						       &v), -ZTG_JSON_E_WRONG_TYPE);
	}
}

static void test_json_structure_rejections(void **state)
{
	(void)state;
	BAD("", EMPTY, 0);
	BAD(" \t\r\n", EMPTY, 4);
	BAD("[1,2]", NOT_OBJECT, 0);
	BAD("  \"alg\"", NOT_OBJECT, 2);
	BAD("42", NOT_OBJECT, 0);
	BAD("null", NOT_OBJECT, 0);
	BAD("\xef\xbb\xbf{}", NOT_OBJECT, 0);   /* no BOM */
	BAD("{} x", TRAILING_DATA, 3);
	BAD("{}{}", TRAILING_DATA, 2);
	BAD("{}\0", TRAILING_DATA, 2);
	BAD("{\"a\":1,}", TRAILING_COMMA, 7);
	BAD("{\"a\":[1,]}", TRAILING_COMMA, 8);
	BAD("{\"a\":[1,}", UNEXPECTED_CHAR, 8);
	BAD("{\"a\":[,1]}", UNEXPECTED_CHAR, 6);
	BAD("{,}", EXPECTED_NAME, 1);
	BAD("{a:1}", EXPECTED_NAME, 1);
	BAD("{'a':1}", EXPECTED_NAME, 1);
	BAD("{\"a\" 1}", EXPECTED_COLON, 5);
	BAD("{\"a\":1 \"b\":2}", EXPECTED_COMMA, 7);
	BAD("{\"a\":[1}", EXPECTED_COMMA, 7);
	BAD("{\"a\":{]}", EXPECTED_NAME, 6);
	BAD("{\"a\":}", UNEXPECTED_CHAR, 5);
	BAD("{\"a\"", UNEXPECTED_END, 4);
	BAD("{\"a\":", UNEXPECTED_END, 5);
	BAD("{\"a\":1", UNEXPECTED_END, 6);
	BAD("{", UNEXPECTED_END, 1);
	BAD("{\"a\":1/*c*/}", EXPECTED_COMMA, 6);
	BAD("{/*c*/}", EXPECTED_NAME, 1);
	BAD("{\"a\":tru}", BAD_LITERAL, 5);
	BAD("{\"a\":nul", BAD_LITERAL, 5);
	BAD("{\"a\":True}", UNEXPECTED_CHAR, 5);
	BAD("{\"a\":NaN}", UNEXPECTED_CHAR, 5);
	BAD("{\"a\":Infinity}", UNEXPECTED_CHAR, 5);
	BAD("{\"a\":truex}", EXPECTED_COMMA, 9);
	BAD("{\"a\":1}\x0b", TRAILING_DATA, 7);    /* VT is not JSON whitespace */
	BAD("{\"a\":\"x\"\"y\"}", EXPECTED_COMMA, 8);
}

static void test_json_number_rejections(void **state)
{
	(void)state;
	BAD("{\"a\":01}", LEADING_ZERO, 5);
	BAD("{\"a\":-01}", LEADING_ZERO, 5);
	BAD("{\"a\":00}", LEADING_ZERO, 5);
	BAD("{\"a\":1.}", BAD_NUMBER, 7);
	BAD("{\"a\":.5}", BAD_NUMBER, 5);
	BAD("{\"a\":-}", BAD_NUMBER, 6);
	BAD("{\"a\":-", BAD_NUMBER, 6);
	BAD("{\"a\":+1}", BAD_NUMBER, 5);
	BAD("{\"a\":1e}", BAD_NUMBER, 7);
	BAD("{\"a\":1e+}", BAD_NUMBER, 8);
	BAD("{\"a\":1.e3}", BAD_NUMBER, 7);
	BAD("{\"a\":-.5}", BAD_NUMBER, 6);
	BAD("{\"a\":0x10}", EXPECTED_COMMA, 6);
	BAD("{\"a\":1.5.3}", EXPECTED_COMMA, 8);
	BAD("{\"a\":-Infinity}", BAD_NUMBER, 6);
}

static void test_json_string_rejections(void **state)
{
	(void)state;
	BAD("{\"a\":\"\xc0\xaf\"}", BAD_UTF8, 6);                  /* overlong '/' */
	BAD("{\"a\":\"\xe0\x80\xaf\"}", BAD_UTF8, 6);              /* overlong, 3 bytes */
	BAD("{\"a\":\"\xf0\x80\x80\xaf\"}", BAD_UTF8, 6);          /* overlong, 4 bytes */
	BAD("{\"a\":\"\xed\xa0\x80\"}", BAD_UTF8, 6);              /* U+D800 encoded */
	BAD("{\"a\":\"\xf4\x90\x80\x80\"}", BAD_UTF8, 6);          /* U+110000 */
	BAD("{\"a\":\"\xf5\x80\x80\x80\"}", BAD_UTF8, 6);
	BAD("{\"a\":\"x\x80\"}", BAD_UTF8, 7);                     /* lone continuation */
	BAD("{\"a\":\"\xc3\"}", BAD_UTF8, 6);                      /* truncated */
	BAD("{\"a\":\"\xc3", BAD_UTF8, 6);
	BAD("{\"a\":\"\xff\"}", BAD_UTF8, 6);
	BAD("{\"\xc0\xaf\":1}", BAD_UTF8, 2);                      /* in a name too */
	BAD("{\"a\":\"\\ud800\"}", LONE_SURROGATE, 6);
	BAD("{\"a\":\"\\ud800\\u0041\"}", LONE_SURROGATE, 6);
	BAD("{\"a\":\"\\udc00\\ud800\"}", LONE_SURROGATE, 6);
	BAD("{\"a\":\"x\\uDFFF\"}", LONE_SURROGATE, 7);
	BAD("{\"a\":\"\\ud83d\\n\"}", LONE_SURROGATE, 6);
	BAD("{\"a\":\"\\ud83d\"}", LONE_SURROGATE, 6);
	BAD("{\"a\":\"\\u00g0\"}", BAD_UNICODE_ESCAPE, 6);
	BAD("{\"a\":\"\\u00\"}", BAD_UNICODE_ESCAPE, 6);
	BAD("{\"a\":\"\\U0041\"}", BAD_ESCAPE, 6);
	BAD("{\"a\":\"\\x41\"}", BAD_ESCAPE, 6);
	BAD("{\"a\":\"\\'\"}", BAD_ESCAPE, 6);
	BAD("{\"a\":\"\\a\"}", BAD_ESCAPE, 6);
	BAD("{\"a\":\"tab\there\"}", CONTROL_CHAR, 9);
	BAD("{\"a\":\"nl\n\"}", CONTROL_CHAR, 8);
	BAD("{\"a\":\"\x1f\"}", CONTROL_CHAR, 6);
	BAD("{\"a\":\"nul\0\"}", CONTROL_CHAR, 9);
	BAD("{\"a\":\"open}", UNTERMINATED_STRING, 11);
	BAD("{\"a\":\"end\\", UNTERMINATED_STRING, 10);
}

static void test_json_duplicates(void **state)
{
	const char *ok = "{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}],\"A\":0,\"a\\u0062\":0}";

	(void)state;
	BAD("{\"a\":1,\"a\":2}", DUPLICATE_NAME, 7);
	BAD("{\"alg\":\"none\",\"x\":1,\"alg\":\"RS256\"}", DUPLICATE_NAME, 20);
	BAD("{\"a\":1,\"\\u0061\":2}", DUPLICATE_NAME, 7);
	BAD("{\"\\u0061\":1,\"a\":2}", DUPLICATE_NAME, 12);
	BAD("{\"\\/\":1,\"/\":2}", DUPLICATE_NAME, 8);
	BAD("{\"\xc3\xa9\":1,\"\\u00e9\":2}", DUPLICATE_NAME, 8);
	BAD("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", DUPLICATE_NAME, 18);
	BAD("{\"\":1,\"\":2}", DUPLICATE_NAME, 6);
	/* a duplicate inside a nested object, after a nested array */
	BAD("{\"x\":{\"k\":[1,{\"k\":1}],\"k\":2}}", DUPLICATE_NAME, 22);
	/* the same name in different objects, or differing in case, is fine */
	parse_ok(ok, strlen(ok));
}

static void test_json_limits(void **state)
{
	char doc[8192];
	struct ztg_json_token small[4];
	struct ztg_json_error err;
	size_t len;
	int n;

	(void)state;
	/* depth 16 (top object included) accepted, 17 refused at the 17th bracket */
	len = 0;
	len += (size_t)sprintf(doc + len, "{\"a\":");
	for (int i = 0; i < 15; i++)
		doc[len++] = '[';
	doc[len++] = '1';
	for (int i = 0; i < 15; i++)
		doc[len++] = ']';
	doc[len++] = '}';
	n = parse_ok(doc, len);
	assert_int_equal(n, 18);
	assert_int_equal(toks[16].depth, 16);
	assert_int_equal(toks[17].depth, 17);   /* a scalar sits one below its container */
	len = 0;
	for (int i = 0; i < 17; i++)
		len += (size_t)sprintf(doc + len, "{\"a\":");
	doc[len++] = '1';
	for (int i = 0; i < 17; i++)
		doc[len++] = '}';
	bad_n(doc, len, ZTG_JSON_E_TOO_DEEP, 16 * 5);

	/* token overflow: 4 tokens hold {"a":1} twice over but not a third member */
	assert_int_equal(ztg_json_parse(S("{\"a\":1}"), small, 4, &err), 3);
	assert_int_equal(ztg_json_parse(S("{\"a\":1,\"b\":2}"), small, 4, &err),
			 -ZTG_JSON_E_TOO_MANY_TOKENS);
	assert_int_equal(err.offset, 11);
	assert_int_equal(ztg_json_parse(S("{\"a\":1}"), small, 3, &err), 3);
	assert_int_equal(ztg_json_parse(S("{\"a\":1}"), small, 2, &err), -ZTG_JSON_E_TOO_MANY_TOKENS);
	assert_int_equal(ztg_json_parse(S("{}"), small, 0, &err), -ZTG_JSON_E_TOO_MANY_TOKENS);
	assert_int_equal(err.offset, 0);
	assert_int_equal(ztg_json_parse(S("{}"), NULL, 1, &err), -ZTG_JSON_E_BAD_ARGUMENT);
	assert_int_equal(ztg_json_parse(NULL, 1, small, 4, NULL), -ZTG_JSON_E_BAD_ARGUMENT);
	assert_int_equal(ztg_json_parse(S("{}"), small, 1, NULL), 1);

	/* 256 members accepted, 257 refused at the 257th name */
	{
		static struct ztg_json_token big[600];

		len = 0;
		doc[len++] = '{';
		for (int i = 0; i < 257; i++)
			len += (size_t)sprintf(doc + len, "%s\"m%d\":%d", i ? "," : "", i, i);
		doc[len++] = '}';
		n = ztg_json_parse(doc, len, big, 600, &err);
		assert_int_equal(n, -ZTG_JSON_E_TOO_MANY_MEMBERS);
		assert_int_equal(err.offset, (uint32_t)(strstr(doc, "\"m256\"") - doc));
		len = (size_t)(strstr(doc, ",\"m256\"") - doc);
		doc[len++] = '}';
		n = ztg_json_parse(doc, len, big, 600, &err);
		assert_int_equal(n, 1 + 2 * 256);
		assert_int_equal(big[0].size, 256);
		assert_int_equal(ztg_json_object_get(doc, big, n, 0, "m255"), 2 * 255 + 2);
	}
	/* names */
	assert_string_equal(ztg_json_error_name(-ZTG_JSON_E_DUPLICATE_NAME), "json_duplicate_member");
	assert_string_equal(ztg_json_error_name(ZTG_JSON_E_TOO_DEEP), "json_too_deep");
	assert_string_equal(ztg_json_error_name(1000), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_rejections),
		cmocka_unit_test(test_b64_encode_space),
		cmocka_unit_test(test_b64_round_trips),
		cmocka_unit_test(test_json_jose_header),
		cmocka_unit_test(test_json_claims),
		cmocka_unit_test(test_json_unicode),
		cmocka_unit_test(test_json_int64),
		cmocka_unit_test(test_json_structure_rejections),
		cmocka_unit_test(test_json_number_rejections),
		cmocka_unit_test(test_json_string_rejections),
		cmocka_unit_test(test_json_duplicates),
		cmocka_unit_test(test_json_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
