/* SPDX-License-Identifier: BSD-3-Clause */
#include "pkt_build.h"

#include <string.h>

#define ETH_HLEN 14u
#define VLAN_HLEN 4u
#define IPV4_HLEN 20u
#define IPV6_HLEN 40u
#define TCP_HLEN 20u
#define ETH_MIN_FRAME 60u	/* without FCS */

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One's-complement sum of 16-bit big-endian words, not yet folded. */
static uint64_t csum_partial(const uint8_t *p, size_t n, uint64_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t tg_frame_overhead(const struct tg_flow *f, size_t optlen)
{
	return ETH_HLEN + (f->vlan ? VLAN_HLEN : 0) +
	       (f->cli.family == 6 ? IPV6_HLEN : IPV4_HLEN) + TCP_HLEN + optlen;
}

size_t tg_frame_build(uint8_t *buf, size_t cap, const struct tg_flow *f,
		      const struct tg_seg *s)
{
	if (s->optlen > 40 || (s->optlen & 3))
		return 0;
	size_t hdr = tg_frame_overhead(f, s->optlen);
	size_t len = hdr + s->len;
	size_t wire = len < ETH_MIN_FRAME ? ETH_MIN_FRAME : len;
	if (wire > cap)
		return 0;

	const int c2s = s->dir == TG_C2S;
	const struct tg_addr *src = c2s ? &f->cli : &f->srv;
	const struct tg_addr *dst = c2s ? &f->srv : &f->cli;
	uint8_t *p = buf;

	/* Ethernet (+ 802.1Q) */
	memcpy(p, c2s ? f->srv_mac : f->cli_mac, 6);
	memcpy(p + 6, c2s ? f->cli_mac : f->srv_mac, 6);
	p += 12;
	if (f->vlan) {
		be16(p, 0x8100);
		be16(p + 2, f->vlan & 0x0fff);
		p += 4;
	}
	be16(p, src->family == 6 ? 0x86dd : 0x0800);
	p += 2;

	const size_t tcp_len = TCP_HLEN + s->optlen + s->len;
	uint64_t pseudo;
	if (src->family == 6) {
		uint32_t vtcfl = (6u << 28) | (f->flow_label[s->dir] & 0xfffff);
		be32(p, vtcfl);
		be16(p + 4, (uint16_t)tcp_len);
		p[6] = 6;		/* next header: TCP */
		p[7] = s->ttl;
		memcpy(p + 8, src->b, 16);
		memcpy(p + 24, dst->b, 16);
		pseudo = csum_partial(p + 8, 32, 0);
		pseudo += (uint32_t)(tcp_len >> 16) + (uint32_t)(tcp_len & 0xffff) + 6;
		p += IPV6_HLEN;
	} else {
		p[0] = 0x45;
		p[1] = 0;
		be16(p + 2, (uint16_t)(IPV4_HLEN + tcp_len));
		be16(p + 4, s->ip_id);
		be16(p + 6, 0x4000);	/* DF, as Linux sets with PMTU discovery */
		p[8] = s->ttl;
		p[9] = 6;
		be16(p + 10, 0);
		memcpy(p + 12, src->b, 4);
		memcpy(p + 16, dst->b, 4);
		be16(p + 10, csum_fold(csum_partial(p, IPV4_HLEN, 0)));
		pseudo = csum_partial(p + 12, 8, 0) + 6 + tcp_len;
		p += IPV4_HLEN;
	}

	uint8_t *tcp = p;
	be16(tcp, c2s ? f->cport : f->sport);
	be16(tcp + 2, c2s ? f->sport : f->cport);
	be32(tcp + 4, s->seq);
	be32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)(((TCP_HLEN + s->optlen) / 4) << 4);
	tcp[13] = s->flags;
	be16(tcp + 14, s->win);
	be16(tcp + 16, 0);
	be16(tcp + 18, 0);
	if (s->optlen)
		memcpy(tcp + TCP_HLEN, s->opts, s->optlen);
	if (s->len)
		memcpy(tcp + TCP_HLEN + s->optlen, s->payload, s->len);
	be16(tcp + 16, csum_fold(csum_partial(tcp, tcp_len, pseudo)));

	if (wire > len)
		memset(buf + len, 0, wire - len);	/* Ethernet padding */
	return wire;
}

size_t tg_tcpopt_syn(uint8_t out[20], uint16_t mss, uint8_t wscale,
		     uint32_t tsval, uint32_t tsecr)
{
	/* Linux order: MSS, SACK permitted, timestamps, NOP, window scale. */
	out[0] = 2;
	out[1] = 4;
	be16(out + 2, mss);
	out[4] = 4;
	out[5] = 2;
	out[6] = 8;
	out[7] = 10;
	be32(out + 8, tsval);
	be32(out + 12, tsecr);
	out[16] = 1;
	out[17] = 3;
	out[18] = 3;
	out[19] = wscale;
	return 20;
}

size_t tg_tcpopt_ts(uint8_t out[12], uint32_t tsval, uint32_t tsecr)
{
	out[0] = 1;
	out[1] = 1;
	out[2] = 8;
	out[3] = 10;
	be32(out + 4, tsval);
	be32(out + 8, tsecr);
	return 12;
}
