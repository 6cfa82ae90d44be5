#include "error_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ztg_error_set(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

int ztg_error_fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

void ztg_error_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, len, fmt, ap);

	if (n < 0)
		snprintf(buf, len, "(unprintable message)");
	else if ((size_t)n >= len)
		memcpy(buf + len - 4, "...", 4);
}

const char *ztg_error_quote(struct ztg_quoted *q, const char *s)
{
	const size_t room = sizeof(q->text) - 6;   /* closing quote, "...", NUL */
	size_t o = 0;

	if (s == NULL) {
		snprintf(q->text, sizeof(q->text), "(unnamed)");
		return q->text;
	}
	q->text[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 4 > room) {
			memcpy(q->text + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			q->text[o++] = '\\';
			q->text[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(q->text + o, 5, "\\x%02x", c);
		} else {
			q->text[o++] = (char)c;
		}
	}
	q->text[o++] = '"';
	q->text[o] = '\0';
	return q->text;
}
