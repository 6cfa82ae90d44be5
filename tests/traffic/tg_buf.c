/* SPDX-License-Identifier: BSD-3-Clause */
#include "tg_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tg_buf_reserve(struct tg_buf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (b->len + extra <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void tg_buf_reset(struct tg_buf *b)
{
	b->len = 0;
}

void tg_buf_free(struct tg_buf *b)
{
	free(b->data);
	*b = (struct tg_buf){0};
}

void tg_buf_put(struct tg_buf *b, const void *p, size_t n)
{
	if (!tg_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void tg_buf_puts(struct tg_buf *b, const char *s)
{
	tg_buf_put(b, s, strlen(s));
}

void tg_buf_putc(struct tg_buf *b, char c)
{
	tg_buf_put(b, &c, 1);
}

void tg_buf_fill(struct tg_buf *b, char c, size_t n)
{
	if (!tg_buf_reserve(b, n))
		return;
	memset(b->data + b->len, c, n);
	b->len += n;
}

void tg_buf_printf(struct tg_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->oom)
		return;
	for (int pass = 0; pass < 2; pass++) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->data ? (char *)b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (!tg_buf_reserve(b, (size_t)n + 1))
			return;
	}
}
