#include "auth/base64url.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

static const char b64url_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *const b64_error_names[ZTG_B64_ERROR_COUNT] = {
#define ZTG_B64_NAME(sym, name) [ZTG_B64_##sym] = name,
	ZTG_B64_ERRORS(ZTG_B64_NAME)
#undef ZTG_B64_NAME
};

const char *ztg_b64_error_name(long code)
{
	if (code < 0)
		code = -code;
	if (code >= ZTG_B64_ERROR_COUNT)
		return "unknown";
	return b64_error_names[code];
}

/* The 6-bit value of one alphabet character, or -1. */
static inline int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t ztg_base64url_decoded_len(size_t len)
{
	size_t tail = len % 4;

	return len / 4 * 3 + (tail >= 2 ? tail - 1 : 0);
}

size_t ztg_base64url_encoded_len(size_t len)
{
	size_t tail = len % 3;

	return len / 3 * 4 + (tail ? tail + 1 : 0);
}

static ssize_t b64_fail(enum ztg_b64_error code, size_t offset, size_t *err_offset)
{
	if (err_offset != NULL)
		*err_offset = offset;
	return -(ssize_t)code;
}

ssize_t ztg_base64url_decode_at(const char *in, size_t len, uint8_t *out, size_t cap,
				size_t *err_offset)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t need = ztg_base64url_decoded_len(len);
	size_t whole = len / 4 * 4;
	size_t i, o = 0;

	if (unlikely(len % 4 == 1))
		return b64_fail(ZTG_B64_BAD_LENGTH, len, err_offset);
	if (unlikely(need > cap))
		return b64_fail(ZTG_B64_NO_SPACE, 0, err_offset);

	for (i = 0; i < whole; i += 4) {
		int a = b64url_value(s[i]), b = b64url_value(s[i + 1]);
		int c = b64url_value(s[i + 2]), d = b64url_value(s[i + 3]);

		if (unlikely((a | b | c | d) < 0)) {
			size_t k = i;

			while (b64url_value(s[k]) >= 0)
				k++;
			return b64_fail(ZTG_B64_BAD_CHAR, k, err_offset);
		}
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}

	if (len > whole) {
		/* 2 or 3 characters: 1 or 2 bytes, the rest of the bits must be 0. */
		uint32_t v = 0;
		size_t n = len - whole;

		for (size_t k = 0; k < n; k++) {
			int x = b64url_value(s[whole + k]);

			if (unlikely(x < 0))
				return b64_fail(ZTG_B64_BAD_CHAR, whole + k, err_offset);
			v |= (uint32_t)x << (18 - 6 * k);
		}
		if (unlikely((n == 2 && (v & 0xffffu) != 0) || (n == 3 && (v & 0xffu) != 0)))
			return b64_fail(ZTG_B64_NONCANONICAL, len - 1, err_offset);
		out[o++] = (uint8_t)(v >> 16);
		if (n == 3)
			out[o++] = (uint8_t)(v >> 8);
	}
	return (ssize_t)o;
}

ssize_t ztg_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	return ztg_base64url_decode_at(in, len, out, cap, NULL);
}

size_t ztg_base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t n = ztg_base64url_encoded_len(len);
	size_t i, o = 0;

	if (len > (SIZE_MAX - 1) / 4 * 3 || cap < n + 1)
		return ZTG_B64_ENCODE_NO_SPACE;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}
