/* SPDX-License-Identifier: BSD-3-Clause */
#include "http_util.h"

#include <stdio.h>
#include <string.h>

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void tg_uuid(char out[37], struct tg_rng *r)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t hi = tg_next(r), lo = tg_next(r);
	uint8_t v[16];

	for (int i = 0; i < 8; i++) {
		v[i] = (uint8_t)(hi >> (8 * i));
		v[8 + i] = (uint8_t)(lo >> (8 * i));
	}
	v[6] = (uint8_t)((v[6] & 0x0f) | 0x40);	/* version 4 */
	v[8] = (uint8_t)((v[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	char *p = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[v[i] >> 4];
		*p++ = hex[v[i] & 15];
	}
	*p = '\0';
}

void tg_b64url(struct tg_buf *b, const uint8_t *p, size_t n)
{
	if (!tg_buf_reserve(b, (n + 2) / 3 * 4))
		return;
	char *o = (char *)b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64url_alphabet[v >> 18];
		*o++ = b64url_alphabet[(v >> 12) & 63];
		*o++ = b64url_alphabet[(v >> 6) & 63];
		*o++ = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64url_alphabet[v >> 18];
		*o++ = b64url_alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64url_alphabet[v >> 18];
		*o++ = b64url_alphabet[(v >> 12) & 63];
		*o++ = b64url_alphabet[(v >> 6) & 63];
	}
	b->len = (size_t)(o - (char *)b->data);
}

void tg_rand_b64url(struct tg_buf *b, struct tg_rng *r, size_t n)
{
	if (!tg_buf_reserve(b, n))
		return;
	uint64_t bits = 0;
	int have = 0;
	for (size_t i = 0; i < n; i++) {
		if (have < 6) {
			bits = tg_next(r);
			have = 64;
		}
		b->data[b->len++] = (uint8_t)b64url_alphabet[bits & 63];
		bits >>= 6;
		have -= 6;
	}
}

static const char *const filler_words[] = {
	"order", "delivery", "customer", "please", "leave", "parcel", "at", "the",
	"front", "door", "gift", "wrap", "express", "warehouse", "priority", "return",
	"invoice", "billing", "address", "updated", "mobile", "checkout", "promo",
	"summer", "sale", "item", "color", "size", "medium", "blue", "black", "large",
	"note", "reference", "ticket", "support", "refund", "partial", "backorder",
	"morning", "evening", "weekend", "contact", "before", "arrival", "thanks",
};

void tg_words(struct tg_buf *b, struct tg_rng *r, size_t n)
{
	const size_t nw = sizeof(filler_words) / sizeof(filler_words[0]);
	size_t done = 0;

	if (!tg_buf_reserve(b, n))
		return;
	while (done < n) {
		const char *w = filler_words[tg_below(r, nw)];
		size_t wl = strlen(w);
		if (done != 0) {
			b->data[b->len++] = ' ';
			if (++done == n)
				break;
		}
		if (wl > n - done)
			wl = n - done;
		memcpy(b->data + b->len, w, wl);
		b->len += wl;
		done += wl;
	}
	/* never end on a space */
	if (n != 0 && b->data[b->len - 1] == ' ')
		b->data[b->len - 1] = 's';
}

void tg_json_close_padded(struct tg_buf *b, size_t start, size_t target, struct tg_rng *r)
{
	static const char pre[] = ",\"note\":\"";
	size_t cur = b->len - start;
	size_t frame = sizeof(pre) - 1 + 2;	/* pre + closing quote + brace */

	if (target >= cur + frame) {
		tg_buf_puts(b, pre);
		tg_words(b, r, target - cur - frame);
		tg_buf_puts(b, "\"}");
	} else {
		tg_buf_putc(b, '}');
	}
}

void tg_expand(struct tg_buf *b, const char *tmpl, struct tg_rng *r)
{
	const char *p = tmpl;

	while (*p) {
		const char *q = strchr(p, '{');
		if (q == NULL || (q[1] != 'n' && q[1] != 'u') || q[2] != '}') {
			size_t n = q ? (size_t)(q - p) + 1 : strlen(p);
			tg_buf_put(b, p, n);
			p += n;
			continue;
		}
		tg_buf_put(b, p, (size_t)(q - p));
		if (q[1] == 'n')
			tg_buf_printf(b, "%u", (unsigned)tg_range(r, 1, 99999));
		else
			tg_buf_printf(b, "%07u", (unsigned)tg_range(r, 1000, 9999999));
		p = q + 3;
	}
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

void tg_http_date(char out[40], uint64_t unix_s)
{
	static const char wd[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days = (int64_t)(unix_s / 86400);
	unsigned sec = (unsigned)(unix_s % 86400), m, d;
	int y;

	civil_from_days(days, &y, &m, &d);
	snprintf(out, 40, "%s, %02u %s %04d %02u:%02u:%02u GMT", wd[days % 7], d, mon[m - 1],
		 y, sec / 3600, sec / 60 % 60, sec % 60);
}

void tg_iso8601(char out[40], uint64_t unix_s)
{
	unsigned sec = (unsigned)(unix_s % 86400), m, d;
	int y;

	civil_from_days((int64_t)(unix_s / 86400), &y, &m, &d);
	snprintf(out, 40, "%04d-%02u-%02uT%02u:%02u:%02uZ", y % 10000, m, d, sec / 3600,
		 sec / 60 % 60, sec % 60);
}
