/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Ethernet (+ optional 802.1Q) / IPv4 or IPv6 / TCP frame construction with
 * correct IPv4 header and TCP checksums, into a caller-provided buffer.
 */
#ifndef ZTG_TRAFFIC_PKT_BUILD_H
#define ZTG_TRAFFIC_PKT_BUILD_H

#include <stddef.h>
#include <stdint.h>

enum {
	TG_TCP_FIN = 0x01,
	TG_TCP_SYN = 0x02,
	TG_TCP_RST = 0x04,
	TG_TCP_PSH = 0x08,
	TG_TCP_ACK = 0x10,
};

enum tg_dir {
	TG_C2S = 0,	/* client to server */
	TG_S2C = 1,	/* server to client */
};

struct tg_addr {
	uint8_t family;		/* 4 or 6 */
	uint8_t b[16];		/* IPv4 uses b[0..3], network order */
};

/* The fixed part of one TCP connection as seen on the wire. */
struct tg_flow {
	uint8_t cli_mac[6];	/* source MAC of client-to-server frames */
	uint8_t srv_mac[6];	/* source MAC of server-to-client frames */
	uint16_t vlan;		/* 802.1Q VLAN id, 0 = untagged */
	struct tg_addr cli, srv;	/* same family */
	uint16_t cport, sport;
	uint32_t flow_label[2];	/* IPv6 flow label per direction */
};

/* One TCP segment. */
struct tg_seg {
	enum tg_dir dir;
	uint8_t flags;
	uint8_t ttl;		/* TTL / hop limit */
	uint16_t win;		/* raw window field */
	uint16_t ip_id;		/* IPv4 identification */
	uint32_t seq, ack;
	const uint8_t *opts;	/* TCP options, padded to a multiple of 4, NULL if none */
	size_t optlen;		/* at most 40 */
	const uint8_t *payload;	/* NULL if len == 0 */
	size_t len;
};

/* Bytes of headers in front of the TCP payload for this flow and option length. */
size_t tg_frame_overhead(const struct tg_flow *f, size_t optlen);

/* Build the frame into buf.  Returns its length, or 0 if it would not fit in
 * `cap` or the options are malformed (longer than 40 or not 4-aligned). */
size_t tg_frame_build(uint8_t *buf, size_t cap, const struct tg_flow *f,
		      const struct tg_seg *s);

/* TCP option blocks as Linux sends them.  Each returns the block length. */
size_t tg_tcpopt_syn(uint8_t out[20], uint16_t mss, uint8_t wscale,
		     uint32_t tsval, uint32_t tsecr);
size_t tg_tcpopt_ts(uint8_t out[12], uint32_t tsval, uint32_t tsecr);

#endif
