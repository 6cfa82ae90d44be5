/*
 * Internet checksum (RFC 1071): one's-complement sums over big-endian
 * 16-bit words, for verifying and building TCP and IP checksums.
 *
 * Summing big-endian 64-bit words as two 32-bit halves into a 64-bit
 * accumulator gives the same result as summing 16-bit words, because
 * 2^16 = 1 modulo 2^16 - 1; it reads 8 bytes per step instead of 2. The
 * accumulator cannot overflow for any packet (2^32 halves of < 2^32 each).
 */
#ifndef ZTG_CHECKSUM_H
#define ZTG_CHECKSUM_H

#include <stdint.h>
#include <string.h>

/* Add len bytes at p to a running sum; an odd last byte is padded with zero. */
static inline uint64_t ztg_checksum_add(uint64_t sum, const uint8_t *p, uint32_t len)
{
	uint64_t v;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&v, p, sizeof(v));
		v = __builtin_bswap64(v);
		sum += (v >> 32) + (v & 0xffffffffu);
	}
	for (; len >= 2; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* Fold a sum to 16 bits (not complemented): 0xffff means a verified checksum. */
static inline uint16_t ztg_checksum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Fill in the header checksum of the IPv4 header at ip, ihl bytes long. */
static inline void ztg_checksum_set_ipv4_header(uint8_t *ip, uint32_t ihl)
{
	uint16_t sum;

	ip[10] = ip[11] = 0;
	sum = (uint16_t)~ztg_checksum_fold(ztg_checksum_add(0, ip, ihl));
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
}

#endif
