/*
 * L2-L4 decoder: reads one Ethernet frame from a contiguous byte buffer and
 * describes it in a struct ztg_packet (offsets, addresses, ports, flags).
 *
 * Plain C over bytes: no mbufs, no EAL, no allocation, so unit tests and fuzz
 * targets call it directly and the worker calls it once per packet.
 *
 * Invariants on success (ZTG_DROP_NONE):
 *  - every offset and length lies inside the frame, and
 *    l3_offset <= l4_offset <= payload_offset <= payload_offset + payload_len
 *    <= l3_offset + l3_len <= frame_len (l4_offset is 0 when no L4 header was
 *    decoded: a non-first fragment, or a protocol the decoder does not parse);
 *  - payload_len counts L4 payload up to the IP length, never link padding;
 *  - addresses are in network byte order, IPv4 in the first 4 bytes and the
 *    other 12 zero; ports, sequence numbers and lengths are in host order.
 * On failure the return value names the first malformation found and the
 * packet is only partly filled: callers drop it and count the reason.
 */
#ifndef ZTG_DECODE_H
#define ZTG_DECODE_H

#include <stdint.h>

#include "../drop_reason.h"

/* More tags than this (802.1ad outer + 802.1Q inner) is a drop. */
#define ZTG_DECODE_MAX_VLANS 2
/* IPv6 extension headers walked before giving up (RFC 8504 suggests limits). */
#define ZTG_DECODE_MAX_IPV6_EXT_HEADERS 8

enum ztg_packet_kind {
	/* IPv4 or IPv6 that the flow table tracks. */
	ZTG_PACKET_IP = 0,
	/*
	 * Link control that a bridge must let neighbours exchange and that
	 * follows the configured non-IP action: ARP, LLDP, any other EtherType,
	 * and ICMPv6 neighbour discovery and multicast listener messages.
	 */
	ZTG_PACKET_NON_IP = 1,
};

/* ztg_packet.flags */
#define ZTG_PACKET_F_FRAGMENT        0x01 /* IPv4 MF/offset or IPv6 fragment header, not atomic */
#define ZTG_PACKET_F_MORE_FRAGMENTS  0x02 /* MF / M bit set */
#define ZTG_PACKET_F_IPV4_OPTIONS    0x04 /* IHL > 5, options validated */
#define ZTG_PACKET_F_IPV6_EXT        0x08 /* at least one extension header walked */
#define ZTG_PACKET_F_VLAN            0x10 /* at least one VLAN tag */

/* ztg_decode_packet() flags */
#define ZTG_DECODE_IPV4_CKSUM_VERIFIED 0x01 /* the NIC already checked the IPv4 header checksum */

/* TCP flag bits as they sit in the header's 13th byte. */
#define ZTG_TCP_FIN 0x01
#define ZTG_TCP_SYN 0x02
#define ZTG_TCP_RST 0x04
#define ZTG_TCP_PSH 0x08
#define ZTG_TCP_ACK 0x10
#define ZTG_TCP_URG 0x20
#define ZTG_TCP_ECE 0x40
#define ZTG_TCP_CWR 0x80

struct ztg_packet {
	uint8_t src_addr[16];
	uint8_t dst_addr[16];
	uint16_t frame_len;
	uint16_t ethertype;               /* innermost EtherType, host order */
	uint16_t vlan_ids[ZTG_DECODE_MAX_VLANS]; /* 12-bit VIDs, outer first */
	uint8_t vlan_count;
	uint8_t kind;                     /* enum ztg_packet_kind */
	uint8_t ip_version;               /* 4, 6, or 0 for non-IP */
	uint8_t l4_proto;                 /* upper-layer protocol after IPv6 extension headers */
	uint8_t flags;                    /* ZTG_PACKET_F_* */
	uint8_t ttl;                      /* IPv4 TTL or IPv6 hop limit */
	uint8_t tcp_flags;                /* ZTG_TCP_* */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t l3_offset;
	uint16_t l3_len;                  /* IP header(s) + payload, from the IP length field */
	uint16_t l4_offset;               /* 0 when no L4 header was decoded */
	uint16_t payload_offset;
	uint16_t payload_len;
	uint16_t src_port;                /* TCP/UDP ports; ICMP echo identifier in both */
	uint16_t dst_port;
	uint16_t tcp_window;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint32_t fragment_id;             /* IPv4 ID or IPv6 fragment identification */
	uint16_t fragment_offset;         /* in bytes */
};

/*
 * Decode frame[0..frame_len) into *pkt.
 *
 * Checks, each mapped to its own drop reason: truncation at every layer;
 * VLAN stacks deeper than ZTG_DECODE_MAX_VLANS; ARP shorter than its fixed
 * part; IPv4 version, IHL < 5, total length shorter than the header or longer
 * than the frame, header checksum (unless ZTG_DECODE_IPV4_CKSUM_VERIFIED),
 * option TLVs that overrun the header, martian addresses (source multicast
 * or broadcast, source or destination in 127.0.0.0/8); IPv6 version, payload
 * length beyond the frame (or zero with data: jumbograms are not accepted),
 * martian addresses (source multicast, loopback or IPv4-mapped, destination
 * loopback),
 * extension headers that overrun, hop-by-hop not first, routing type 0,
 * more than ZTG_DECODE_MAX_IPV6_EXT_HEADERS; fragments whose offset plus
 * length passes 65535 or whose first piece cannot hold the L4 header; TCP
 * data offset < 5 or beyond the segment, impossible flag sets (none of
 * SYN/ACK/RST/FIN, SYN+FIN, SYN+RST, FIN/PSH/URG without ACK), port 0; UDP
 * length < 8 or beyond the IP payload, port 0; ICMP/ICMPv6 shorter than 8.
 *
 * Returns ZTG_DROP_NONE on success, otherwise the reason to drop.
 */
enum ztg_drop_reason ztg_decode_packet(const uint8_t *frame, uint32_t frame_len,
				       unsigned int decode_flags, struct ztg_packet *pkt);

#endif
