/*
 * The one way modules write an error message for their caller: one line,
 * printf-formatted, into the caller's buffer (err, err_len), cut to fit,
 * nothing written when err is NULL or err_len is 0; and the one way they
 * quote what a file said.
 */
#ifndef ZTG_ERROR_TEXT_H
#define ZTG_ERROR_TEXT_H

#include <stdarg.h>
#include <stddef.h>

void ztg_error_set(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same, returning -1: `return ztg_error_fail(err, err_len, ...)` ends a function that failed. */
int ztg_error_fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A diagnostic's text into buf (len >= 4): a message too long ends in
 * "...", one that cannot be printed reads "(unprintable message)".
 */
void ztg_error_vformat(char *buf, size_t len, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * A name or value from a file, fit to quote in a message: in double quotes,
 * '"' and '\\' escaped, control bytes as \xHH, cut with "..." to fit;
 * NULL shows as (unnamed). Returns q->text.
 */
struct ztg_quoted {
	char text[96];
};

const char *ztg_error_quote(struct ztg_quoted *q, const char *s);

#endif
