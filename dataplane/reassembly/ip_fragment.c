#include "ip_fragment.h"

#include <string.h>

#include "../checksum.h"

#define IPV4_MIN_HDR_LEN   20u
#define IPV6_HDR_LEN       40u
#define IPV4_DF            0x4000u
#define IPV4_MF            0x2000u
#define IPV6_FRAG_M        0x0001u
#define IPPROTO_FRAGMENT_  44u
#define IPV4_OPT_EOL       0
#define IPV4_OPT_NOP       1
#define IPV4_OPT_COPIED    0x80

static inline uint16_t read_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void write_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void write_be32(uint8_t *p, uint32_t v)
{
	write_be16(p, v >> 16);
	write_be16(p + 2, v);
}

static uint32_t ipv4_header_len(const struct ztg_fragment_source *src)
{
	return (src->frame[src->l3_offset] & 0x0fu) * 4u;
}

/*
 * Options of a non-first fragment: only the copied ones, padded with EOL to a
 * 4-byte boundary. The decoder validated the option TLVs, but this still
 * stops at any length that would run past the header.
 */
static uint32_t ipv4_copied_options(const uint8_t *opt, uint32_t n, uint8_t *out)
{
	uint32_t pos = 0, written = 0;

	while (pos < n) {
		uint8_t type = opt[pos];
		uint32_t len;

		if (type == IPV4_OPT_EOL)
			break;
		if (type == IPV4_OPT_NOP) {
			pos++;
			continue;
		}
		if (n - pos < 2 || opt[pos + 1] < 2 || opt[pos + 1] > n - pos)
			break;
		len = opt[pos + 1];
		if (type & IPV4_OPT_COPIED) {
			memcpy(out + written, opt + pos, len);
			written += len;
		}
		pos += len;
	}
	while (written & 3u)
		out[written++] = IPV4_OPT_EOL;
	return written;
}

static uint32_t build_ipv4(const struct ztg_fragment_source *src, uint32_t offset, uint32_t len, bool more,
			   uint8_t *out, uint32_t cap)
{
	const uint8_t *ip = src->frame + src->l3_offset;
	uint32_t ihl = ipv4_header_len(src);
	uint32_t total = read_be16(ip + 2);
	uint32_t l3 = src->l3_offset, hdr_len, field;
	uint8_t *hdr = out + l3;

	if (ihl < IPV4_MIN_HDR_LEN || total < ihl || l3 + total > src->frame_len || offset + len > total - ihl)
		return 0;
	if (ztg_fragment_max_len(src, len) > cap)
		return 0;
	memcpy(out, src->frame, l3 + IPV4_MIN_HDR_LEN);
	if (offset == 0) {
		memcpy(hdr + IPV4_MIN_HDR_LEN, ip + IPV4_MIN_HDR_LEN, ihl - IPV4_MIN_HDR_LEN);
		hdr_len = ihl;
	} else {
		hdr_len = IPV4_MIN_HDR_LEN + ipv4_copied_options(ip + IPV4_MIN_HDR_LEN, ihl - IPV4_MIN_HDR_LEN,
								   hdr + IPV4_MIN_HDR_LEN);
	}
	hdr[0] = (uint8_t)(0x40 | hdr_len / 4);
	write_be16(hdr + 2, hdr_len + len);
	field = (read_be16(ip + 6) & IPV4_DF) | (more ? IPV4_MF : 0) | offset / 8;
	write_be16(hdr + 6, field);
	ztg_checksum_set_ipv4_header(hdr, hdr_len);
	memcpy(hdr + hdr_len, ip + ihl + offset, len);
	return l3 + hdr_len + len;
}

static uint32_t build_ipv6(const struct ztg_fragment_source *src, uint32_t offset, uint32_t len, bool more,
			   uint8_t *out, uint32_t cap)
{
	const uint8_t *ip = src->frame + src->l3_offset;
	uint32_t payload = read_be16(ip + 4);
	uint32_t l3 = src->l3_offset;
	uint8_t *hdr = out + l3;
	uint8_t *frag = hdr + IPV6_HDR_LEN;

	if (l3 + IPV6_HDR_LEN + payload > src->frame_len || offset + len > payload)
		return 0;
	if (ztg_fragment_max_len(src, len) > cap)
		return 0;
	memcpy(out, src->frame, l3 + IPV6_HDR_LEN);
	write_be16(hdr + 4, ZTG_IPV6_FRAGMENT_HEADER_LEN + len);
	hdr[6] = IPPROTO_FRAGMENT_;
	frag[0] = ip[6];
	frag[1] = 0;
	write_be16(frag + 2, offset | (more ? IPV6_FRAG_M : 0));
	write_be32(frag + 4, src->ipv6_id);
	memcpy(frag + ZTG_IPV6_FRAGMENT_HEADER_LEN, ip + IPV6_HDR_LEN + offset, len);
	return l3 + IPV6_HDR_LEN + ZTG_IPV6_FRAGMENT_HEADER_LEN + len;
}

uint32_t ztg_fragment_max_len(const struct ztg_fragment_source *src, uint32_t len)
{
	if (src->ip_version == 4)
		return src->l3_offset + ipv4_header_len(src) + len;
	return src->l3_offset + IPV6_HDR_LEN + ZTG_IPV6_FRAGMENT_HEADER_LEN + len;
}

uint32_t ztg_fragment_build(const struct ztg_fragment_source *src, uint32_t offset, uint32_t len, bool more,
			    uint8_t *out, uint32_t cap)
{
	if (len == 0 || (offset & 7u) || (more && (len & 7u)) || offset > 0xfff8u)
		return 0;
	if (src->l3_offset + IPV4_MIN_HDR_LEN > src->frame_len)
		return 0;
	switch (src->ip_version) {
	case 4:
		return build_ipv4(src, offset, len, more, out, cap);
	case 6:
		if (src->l3_offset + IPV6_HDR_LEN > src->frame_len)
			return 0;
		return build_ipv6(src, offset, len, more, out, cap);
	default:
		return 0;
	}
}
