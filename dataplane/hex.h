/*
 * One hex digit's value: what percent-decoding, JSON \u escapes and API key
 * digests all read. Plain C, header only.
 */
#ifndef ZTG_HEX_H
#define ZTG_HEX_H

#include <stdint.h>

/* 0..15 for 0-9, a-f, A-F; -1 for any other byte. */
static inline int ztg_hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;   /* only 'A'..'F' become 'a'..'f' among what the test below lets through */
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#endif
