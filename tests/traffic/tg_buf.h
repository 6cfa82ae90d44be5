/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Growable byte buffer used to compose HTTP messages and tokens.
 *
 * Allocation failure is sticky: once a call fails, `oom` stays set, later
 * appends are ignored, and the caller checks `oom` once after composing a
 * whole message instead of after every append.
 */
#ifndef ZTG_TRAFFIC_TG_BUF_H
#define ZTG_TRAFFIC_TG_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tg_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool oom;
};

/* Make room for `extra` more bytes; false (and oom set) on failure. */
bool tg_buf_reserve(struct tg_buf *b, size_t extra);
void tg_buf_reset(struct tg_buf *b);
void tg_buf_free(struct tg_buf *b);
void tg_buf_put(struct tg_buf *b, const void *p, size_t n);
void tg_buf_puts(struct tg_buf *b, const char *s);
void tg_buf_putc(struct tg_buf *b, char c);
void tg_buf_fill(struct tg_buf *b, char c, size_t n);
void tg_buf_printf(struct tg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
