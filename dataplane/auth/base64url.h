/*
 * Strict base64url (RFC 4648 section 5) as JWS compact serialization uses it
 * (RFC 7515 section 2): the URL-safe alphabet A-Z a-z 0-9 '-' '_', no '='
 * padding, no whitespace or line breaks.
 *
 * Strict means one byte string has exactly one accepted spelling: a length
 * of 1 mod 4 is refused (it cannot carry a whole byte), and so is a last
 * character whose unused low bits are not zero (RFC 4648 section 3.5), so
 * "QQ" decodes to "A" but "QR" is refused instead of also decoding to "A".
 * Token comparison, replay caches and signature inputs can then work on the
 * text.
 *
 * Plain C over byte buffers: no allocation, no global state, thread safe.
 */
#ifndef ZTG_AUTH_BASE64URL_H
#define ZTG_AUTH_BASE64URL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Why a decode was refused. ztg_base64url_decode() returns the negated value
 * (-ZTG_B64_BAD_CHAR, ...). Names are stable: they may appear in logs and
 * verdict reasons.
 *   BAD_CHAR      a byte outside the url alphabet ('=', '+', '/', spaces
 *                 included); the offset is that byte's.
 *   BAD_LENGTH    the length is 1 mod 4; the offset is the length.
 *   NONCANONICAL  the last character carries non-zero unused bits; the
 *                 offset is that character's (len - 1).
 *   NO_SPACE      the output buffer is smaller than
 *                 ztg_base64url_decoded_len(len); the offset is 0 and
 *                 nothing was written.
 */
#define ZTG_B64_ERRORS(X)                                    \
	X(OK,           "ok")                                \
	X(BAD_CHAR,     "base64url_bad_character")           \
	X(BAD_LENGTH,   "base64url_bad_length")              \
	X(NONCANONICAL, "base64url_noncanonical_tail")       \
	X(NO_SPACE,     "base64url_output_too_small")

enum ztg_b64_error {
#define ZTG_B64_ENUM(sym, name) ZTG_B64_##sym,
	ZTG_B64_ERRORS(ZTG_B64_ENUM)
#undef ZTG_B64_ENUM
	ZTG_B64_ERROR_COUNT
};

/* The stable name of an error code, given as either sign; "unknown" if none. */
const char *ztg_b64_error_name(long code);

/*
 * Bytes that len characters of valid base64url decode to. For a length that
 * is 1 mod 4 (never valid) it counts only the whole groups.
 */
size_t ztg_base64url_decoded_len(size_t len);

/* Characters ztg_base64url_encode() writes for len bytes, without the NUL. */
size_t ztg_base64url_encoded_len(size_t len);

/*
 * Decode len characters at in (no NUL needed; in may be NULL when len is 0)
 * into out, which holds cap bytes (may be NULL when cap is 0).
 * Returns the number of bytes written (exactly ztg_base64url_decoded_len(len))
 * or a negated enum ztg_b64_error. On error the content of out is
 * unspecified (a BAD_CHAR or NONCANONICAL refusal may come after part of the
 * output was written); never more than cap bytes are written.
 */
ssize_t ztg_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/*
 * The same, also storing where the input is wrong in *err_offset on error
 * (err_offset may be NULL; it is left alone on success).
 */
ssize_t ztg_base64url_decode_at(const char *in, size_t len, uint8_t *out, size_t cap,
				size_t *err_offset);

/*
 * Encode len bytes at in into out (unpadded url alphabet) followed by a NUL.
 * cap must be at least ztg_base64url_encoded_len(len) + 1. Returns the number
 * of characters written without the NUL, or ZTG_B64_ENCODE_NO_SPACE (nothing
 * written) when they do not fit.
 */
#define ZTG_B64_ENCODE_NO_SPACE SIZE_MAX
size_t ztg_base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
