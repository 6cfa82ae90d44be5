/*
 * The one way modules write an error message for their caller: one line,
 * printf-formatted, into the caller's buffer (err, err_len), cut to fit,
 * nothing written when err is NULL or err_len is 0.
 */
#ifndef ZTG_ERROR_TEXT_H
#define ZTG_ERROR_TEXT_H

#include <stddef.h>

void ztg_error_set(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
