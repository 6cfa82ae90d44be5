/*
 * Fragment building: cuts a reassembled IPv4 or IPv6 datagram back into the
 * pieces it arrived in, so the receiver gets fragments it would have got
 * without ztgate on the path, but only ever the bytes ztgate inspected.
 *
 * Plain C over byte buffers (no mbufs, no EAL): the caller owns every buffer.
 *
 * The datagram is a whole frame: link header (any VLAN tags included), then
 * the IP header, then the payload. IPv4 headers may carry options: the first
 * fragment keeps them all, later ones only those whose copied flag is set
 * (RFC 791). IPv6 datagrams must have no extension header before the payload
 * (the fragment header is inserted right after the fixed header, which is
 * the only layout rte_ip_frag reassembles). Every fragment keeps the link
 * header, TTL or hop limit, traffic class, DF bit and identification of the
 * datagram; lengths, offsets and the IPv4 header checksum are recomputed.
 */
#ifndef ZTG_IP_FRAGMENT_H
#define ZTG_IP_FRAGMENT_H

#include <stdbool.h>
#include <stdint.h>

#define ZTG_IPV6_FRAGMENT_HEADER_LEN 8u

struct ztg_fragment_source {
	const uint8_t *frame;         /* link header + IP header + payload */
	uint32_t frame_len;
	uint16_t l3_offset;           /* where the IP header starts */
	uint8_t ip_version;           /* 4 or 6 */
	uint32_t ipv6_id;             /* identification of the IPv6 fragment headers */
};

/*
 * Longest fragment ztg_fragment_build() may write for a piece of len bytes:
 * the largest header it can produce plus the data.
 */
uint32_t ztg_fragment_max_len(const struct ztg_fragment_source *src, uint32_t len);

/*
 * Write into out[0..cap) the fragment carrying payload bytes
 * [offset, offset + len), with the more-fragments flag set when more is true.
 * offset must be a multiple of 8, and so must len unless more is false.
 * Returns the fragment's length, or 0 when the piece lies outside the
 * payload, the source is malformed, or cap is too small.
 */
uint32_t ztg_fragment_build(const struct ztg_fragment_source *src, uint32_t offset, uint32_t len, bool more,
			    uint8_t *out, uint32_t cap);

#endif
