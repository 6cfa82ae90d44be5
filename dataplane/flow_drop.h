/*
 * Hardware drop: rte_flow rules that make the NIC drop every packet from a
 * source prefix on the ports traffic enters by, before any worker polls it
 * (quarantined sources and `ztgatectl block` entries).
 *
 * A rule per (prefix, port): ETH / IPV4 or IPV6 with the source masked to
 * the prefix / END, action DROP, ingress, priority 0. A port whose PMD
 * refuses it (rte_flow_validate or rte_flow_create) keeps no rule; the
 * status text names each port and says "nic" or "software: <the PMD's
 * reason>", and the workers' own lookup (quarantine.h) does the job there.
 * A PMD that refused once is not asked again for every later prefix when
 * it refused for want of flow support at all (ENOSYS, ENOTSUP), and its
 * reason is reported for them. ENOTSUP is remembered per IP version (a PMD
 * may match one family and not the other). net_tap without tc flower in the
 * kernel validates the rule, then fails create with EEXIST ("overlapping
 * rules or Kernel too old for flower support"): on a port holding none of
 * our rules, so no overlap is possible, that counts as no flow support too.
 *
 * Main lcore only: rte_flow calls are not made from workers.
 *
 * Keys are bounded (ZTG_FLOW_DROP_MAX_PREFIXES): an add beyond that returns
 * 0, status "software on every port: flow_drop table full (N prefixes)",
 * and the workers still refuse the source. Two keys with the same prefix
 * get a rule each; a PMD that takes no duplicates refuses the second one
 * (net_tap on a flower kernel: "overlapping rules ..."), which then counts
 * as software on that port.
 */
#ifndef ZTG_FLOW_DROP_H
#define ZTG_FLOW_DROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZTG_FLOW_DROP_MAX_PORTS 16
#define ZTG_FLOW_DROP_MAX_PREFIXES 1024
/* A key's status is kept (for adds of a key already present) up to this, NUL included; longer is cut with "...". */
#define ZTG_FLOW_DROP_STATUS_MAX 512

struct ztg_flow_drop;

/*
 * ports: the ingress ports to program (started), in order. NULL when memory
 * ran out, port_count is too big, or a port is not a valid ethdev port or
 * is listed twice. Free it before the ports are closed.
 */
struct ztg_flow_drop *ztg_flow_drop_create(const uint16_t *ports, uint16_t port_count);

/* Destroys every rule it made, then frees. */
void ztg_flow_drop_free(struct ztg_flow_drop *fd);

/*
 * Drop traffic from addr/prefix (network order, 4 or 16 bytes, host bits
 * zero) on every port that takes the rule, named by key for del. Adding a
 * key already present changes nothing and returns its status again.
 * Returns how many ports drop it in hardware; status (always written, may be
 * cut) says which ports do and why the others do not, e.g.
 * "nic on port 0; software on port 1 (net_null: Function not implemented)".
 * A status cut to status_len ends in "..." (when there is room for it).
 * -1 (status "invalid: ...") when fd or addr is NULL, ip_version is not 4
 * or 6, prefix is longer than the address, or host bits are set.
 */
int ztg_flow_drop_add(struct ztg_flow_drop *fd, uint64_t key, uint8_t ip_version, const uint8_t *addr,
		      uint8_t prefix, char *status, size_t status_len);

/* Destroy key's rules. true if it had any entry. */
bool ztg_flow_drop_del(struct ztg_flow_drop *fd, uint64_t key);

bool ztg_flow_drop_has(const struct ztg_flow_drop *fd, uint64_t key);

/* Keys currently held, up to max, for the caller to reconcile against its set. Returns how many. */
uint32_t ztg_flow_drop_keys(const struct ztg_flow_drop *fd, uint64_t *keys, uint32_t max);

/*
 * The source mask of a prefix: the first prefix bits set, in network order,
 * into mask (4 bytes for IPv4, 16 for IPv6). Returns the address length, or
 * -1 when ip_version is not 4 or 6 or prefix is longer than the address.
 */
int ztg_flow_drop_mask(uint8_t ip_version, uint8_t prefix, uint8_t *mask);

struct ztg_flow_drop_stats {
	uint32_t prefixes;               /* keys held */
	uint32_t rules;                  /* rte_flow rules in the NICs */
	uint64_t refused;                /* rule creations a PMD refused (not the ones it was not asked for again) */
};

void ztg_flow_drop_stats(const struct ztg_flow_drop *fd, struct ztg_flow_drop_stats *out);

#endif
