#include "flow_key.h"

#include <string.h>

#include <rte_hash_crc.h>

/* The raw-byte compare and hash below rely on there being no hidden padding. */
_Static_assert(sizeof(struct ztg_flow_key) == 44, "struct ztg_flow_key has hidden padding");

static int endpoint_cmp(const uint8_t *addr_a, uint16_t port_a, const uint8_t *addr_b, uint16_t port_b,
			size_t addr_len)
{
	int c = memcmp(addr_a, addr_b, addr_len);

	if (c != 0)
		return c;
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

uint32_t ztg_flow_key_hash(const struct ztg_flow_key *key)
{
	/*
	 * Keys are only 2-byte aligned (44-byte stride in arrays) and
	 * rte_hash_crc() reads through uint64_t pointers, so the words are
	 * copied out; the compiler turns each memcpy into one unaligned load.
	 */
	const uint8_t *bytes = (const uint8_t *)key;
	uint32_t h = 0;
	uint64_t word;
	uint32_t tail;
	size_t off;

	for (off = 0; off + sizeof(word) <= sizeof(*key); off += sizeof(word)) {
		memcpy(&word, bytes + off, sizeof(word));
		h = rte_hash_crc_8byte(word, h);
	}
	memcpy(&tail, bytes + off, sizeof(tail));   /* the 44-byte size leaves exactly 4 */
	return rte_hash_crc_4byte(tail, h);
}
