/*
 * Flow keys: the canonical 5-tuple plus VLAN that names one connection in
 * both directions.
 *
 * Canonical means the lower (address, port) endpoint is always endpoint 0, so
 * a packet and its reply build the same key; the builder says which endpoint
 * sent the packet. Keys are compared and hashed as raw bytes: every byte,
 * padding included, is written by ztg_flow_key_from_packet().
 */
#ifndef ZTG_FLOW_KEY_H
#define ZTG_FLOW_KEY_H

#include <stdint.h>

#include "../decode/decode.h"

struct ztg_flow_key {
	uint8_t addr[2][16];   /* network order, IPv4 in the first 4 bytes */
	uint16_t port[2];      /* host order; 0 for protocols without ports */
	uint16_t vlan_ids[ZTG_DECODE_MAX_VLANS];
	uint8_t ip_version;
	uint8_t l4_proto;
	/* To 48 bytes: rte_hash compares keys of 16/32/48/64 bytes with SIMD, others with memcmp. */
	uint8_t pad[6];
};

/*
 * Fill *key from a decoded IP packet. Returns the endpoint (0 or 1) that sent
 * the packet: 0 when (src_addr, src_port) sorts lower than (dst_addr, dst_port).
 */
unsigned int ztg_flow_key_from_packet(const struct ztg_packet *pkt, struct ztg_flow_key *key);

/*
 * Symmetric 32-bit hash of the key (the same for both directions by
 * construction), keyed by a secret seed. CRC32 would be cheaper, but it is
 * linear: anyone can compute 5-tuples that collide and turn a bucket into a
 * long chain. With a random seed per table (as Linux conntrack does), the
 * attacker cannot know which tuples collide.
 */
uint32_t ztg_flow_key_hash(const struct ztg_flow_key *key, uint32_t seed);

#endif
