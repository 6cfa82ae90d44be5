#include "flow_key.h"

#include <string.h>

#include <rte_byteorder.h>
#include <rte_jhash.h>

/* The raw-byte compare and hash below rely on there being no hidden padding. */
_Static_assert(sizeof(struct ztg_flow_key) == 48, "struct ztg_flow_key has hidden padding");

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_64(v);
}

static inline uint32_t load_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

/*
 * Order of (address, port) endpoints, as memcmp of the addresses then the
 * port would give it; big-endian word loads instead of a libc memcmp call,
 * which showed in profiles as a per-packet cost.
 */
static inline int endpoint_cmp(const uint8_t *addr_a, uint16_t port_a, const uint8_t *addr_b, uint16_t port_b,
			       size_t addr_len)
{
	if (addr_len == 4) {
		uint32_t a = load_be32(addr_a), b = load_be32(addr_b);

		if (a != b)
			return a < b ? -1 : 1;
	} else {
		for (size_t off = 0; off < 16; off += 8) {
			uint64_t a = load_be64(addr_a + off), b = load_be64(addr_b + off);

			if (a != b)
				return a < b ? -1 : 1;
		}
	}
	return (port_a > port_b) - (port_a < port_b);
}

unsigned int ztg_flow_key_from_packet(const struct ztg_packet *pkt, struct ztg_flow_key *key)
{
	/* IPv4 keys copy only their 4 bytes so stale bytes in the rest can never split a flow. */
	size_t addr_len = pkt->ip_version == 4 ? 4 : 16;
	/* Without a decoded L4 header the port fields mean nothing: key on addresses only. */
	uint16_t src_port = pkt->l4_offset != 0 ? pkt->src_port : 0;
	uint16_t dst_port = pkt->l4_offset != 0 ? pkt->dst_port : 0;
	unsigned int sender;
	unsigned int i;

	memset(key, 0, sizeof(*key));
	sender = endpoint_cmp(pkt->src_addr, src_port, pkt->dst_addr, dst_port, addr_len) <= 0 ? 0 : 1;

	memcpy(key->addr[sender], pkt->src_addr, addr_len);
	memcpy(key->addr[sender ^ 1], pkt->dst_addr, addr_len);
	key->port[sender] = src_port;
	key->port[sender ^ 1] = dst_port;
	for (i = 0; i < pkt->vlan_count && i < ZTG_DECODE_MAX_VLANS; i++)
		key->vlan_ids[i] = pkt->vlan_ids[i];
	key->ip_version = pkt->ip_version;
	key->l4_proto = pkt->l4_proto;
	return sender;
}

uint32_t ztg_flow_key_hash(const struct ztg_flow_key *key, uint32_t seed)
{
	return rte_jhash(key, sizeof(*key), seed);
}
