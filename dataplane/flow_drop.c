/*
 * Hardware drop rules (flow_drop.h): one rte_flow DROP rule per source
 * prefix and ingress port, validated before it is created, with each port's
 * refusal kept as the PMD worded it. Main lcore only; the table is a plain
 * array scanned by key because adds and deletes come from the operator and
 * the quarantine, never from the packet path.
 */
#include "flow_drop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>

#define DRIVER_MAX 32
#define REASON_MAX 128                   /* one port's "driver: message" */

enum { FAMILY_V4, FAMILY_V6, FAMILIES };

struct port_state {
	uint16_t port_id;
	uint32_t rules;                  /* rules of ours on the port: tells net_tap's missing flower from an overlap */
	bool unsupported[FAMILIES];      /* the PMD refused for want of flow support: not asked again */
	char driver[DRIVER_MAX];
	char reason[FAMILIES][REASON_MAX];
};

struct entry {
	uint64_t key;
	struct rte_flow *rules[ZTG_FLOW_DROP_MAX_PORTS];   /* by port index; NULL: software there */
	char status[ZTG_FLOW_DROP_STATUS_MAX];              /* kept so a repeated add answers the same */
};

struct ztg_flow_drop {
	uint16_t port_count;
	uint32_t count;
	uint32_t rules;
	uint64_t refused;
	struct port_state ports[ZTG_FLOW_DROP_MAX_PORTS];
	struct entry entries[ZTG_FLOW_DROP_MAX_PREFIXES];
};

/* Text appended piece by piece into a fixed buffer; remembers whether anything was lost. */
struct text {
	char *buf;
	size_t len;
	size_t used;
	bool cut;
};

static void text_init(struct text *t, char *buf, size_t len)
{
	t->buf = buf;
	t->len = len;
	t->used = 0;
	t->cut = false;
	if (len > 0)
		buf[0] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len == 0 || t->cut) {
		t->cut = true;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->buf[t->used] = '\0';
		t->cut = true;
	} else if ((size_t)n >= t->len - t->used) {
		t->used = t->len - 1;
		t->cut = true;
	} else {
		t->used += (size_t)n;
	}
}

/* A cut text ends in "..." so an operator does not take the last word for the whole reason. */
static void text_finish(struct text *t)
{
	if (t->cut && t->len >= 4)
		memcpy(t->buf + t->len - 4, "...", 4);
}

/* Copy src into dst (len bytes), cutting as text_add does. */
static void copy_status(char *dst, size_t len, const char *src)
{
	struct text t;

	if (dst == NULL)
		return;
	text_init(&t, dst, len);
	text_add(&t, "%s", src);
	text_finish(&t);
}

__attribute__((format(printf, 3, 4)))
static void status_set(char *status, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (status == NULL || len == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(status, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		status[0] = '\0';
	else if ((size_t)n >= len && len >= 4)
		memcpy(status + len - 4, "...", 4);
}

int ztg_flow_drop_mask(uint8_t ip_version, uint8_t prefix, uint8_t *mask)
{
	unsigned int len = ip_version == 4 ? 4 : ip_version == 6 ? 16 : 0;

	if (len == 0 || mask == NULL || prefix > len * 8)
		return -1;
	for (unsigned int i = 0; i < len; i++) {
		unsigned int bits = prefix > i * 8 ? prefix - i * 8 : 0;

		if (bits >= 8)
			mask[i] = 0xff;
		else
			mask[i] = (uint8_t)(0xffu << (8 - bits));   /* bits 0 shifts the ones out entirely */
	}
	return (int)len;
}

struct ztg_flow_drop *ztg_flow_drop_create(const uint16_t *ports, uint16_t port_count)
{
	struct ztg_flow_drop *fd;

	if (port_count > ZTG_FLOW_DROP_MAX_PORTS || (port_count > 0 && ports == NULL))
		return NULL;
	for (uint16_t i = 0; i < port_count; i++) {
		if (!rte_eth_dev_is_valid_port(ports[i]))
			return NULL;
		/* A port twice would get every rule twice, the second one refused as an overlap. */
		for (uint16_t j = 0; j < i; j++)
			if (ports[j] == ports[i])
				return NULL;
	}
	/* Large (the status texts) but touched only as keys come: calloc's zero pages cost nothing until then. */
	fd = calloc(1, sizeof(*fd));
	if (fd == NULL)
		return NULL;
	fd->port_count = port_count;
	for (uint16_t i = 0; i < port_count; i++) {
		struct port_state *p = &fd->ports[i];
		struct rte_eth_dev_info info;

		p->port_id = ports[i];
		/* The driver name prefixes every refusal: "net_null: ..." says which PMD to blame. */
		if (rte_eth_dev_info_get(ports[i], &info) == 0 && info.driver_name != NULL)
			snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
		else
			snprintf(p->driver, sizeof(p->driver), "port %u", ports[i]);
	}
	return fd;
}

/*
 * Whether a refusal means the PMD has no flow support for this family at
 * all, so that asking again for each prefix would only repeat it. A
 * generic EEXIST is an overlap with a rule already there and says nothing
 * of the next prefix; net_tap, though, answers EEXIST for every kernel
 * refusal, and when its multiq/ingress qdiscs could not be made at start
 * (no CONFIG_NET_SCH_MULTIQ, no flower) every create fails that way. With
 * none of our rules on the port there is nothing to overlap, so it is that.
 */
static bool refusal_is_final(const struct port_state *p, int err, bool at_create)
{
	if (err == ENOSYS || err == ENOTSUP)
		return true;
	return at_create && err == EEXIST && p->rules == 0 && strcmp(p->driver, "net_tap") == 0;
}

static void refusal_reason(const struct port_state *p, const struct rte_flow_error *error, int err, char *reason,
			   size_t len)
{
	const char *message = error->message;
	struct text t;

	if (message == NULL || message[0] == '\0')
		message = rte_strerror(err);
	text_init(&t, reason, len);
	text_add(&t, "%s: %s", p->driver, message);
	text_finish(&t);
}

/*
 * Ask p's PMD for the drop rule (validate, then create). Returns the rule,
 * or NULL with reason set; a refusal for want of flow support is kept on p.
 */
static struct rte_flow *port_program(struct ztg_flow_drop *fd, struct port_state *p, int family,
				     const uint8_t *addr, const uint8_t *mask, char *reason, size_t reason_len)
{
	const struct rte_flow_attr attr = { .group = 0, .priority = 0, .ingress = 1 };
	struct rte_flow_item_ipv4 v4_spec, v4_mask;
	struct rte_flow_item_ipv6 v6_spec, v6_mask;
	struct rte_flow_item pattern[3];
	const struct rte_flow_action actions[] = {
		{ .type = RTE_FLOW_ACTION_TYPE_DROP },
		{ .type = RTE_FLOW_ACTION_TYPE_END },
	};
	struct rte_flow_error error;
	struct rte_flow *flow = NULL;
	bool at_create = false;
	int err;

	if (p->unsupported[family]) {
		snprintf(reason, reason_len, "%s", p->reason[family]);
		return NULL;
	}
	memset(pattern, 0, sizeof(pattern));
	/* ETH with neither spec nor mask: any frame; the IP item after it implies the ethertype. */
	pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
	if (family == FAMILY_V4) {
		memset(&v4_spec, 0, sizeof(v4_spec));
		memset(&v4_mask, 0, sizeof(v4_mask));
		memcpy(&v4_spec.hdr.src_addr, addr, 4);
		memcpy(&v4_mask.hdr.src_addr, mask, 4);
		pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
		pattern[1].spec = &v4_spec;
		pattern[1].mask = &v4_mask;
	} else {
		memset(&v6_spec, 0, sizeof(v6_spec));
		memset(&v6_mask, 0, sizeof(v6_mask));
		memcpy(v6_spec.hdr.src_addr, addr, 16);
		memcpy(v6_mask.hdr.src_addr, mask, 16);
		pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV6;
		pattern[1].spec = &v6_spec;
		pattern[1].mask = &v6_mask;
	}
	pattern[2].type = RTE_FLOW_ITEM_TYPE_END;

	/* Zeroed so a PMD that fails without filling it leaves no stale pointer for the message. */
	memset(&error, 0, sizeof(error));
	err = -rte_flow_validate(p->port_id, &attr, pattern, actions, &error);
	if (err == 0) {
		at_create = true;
		memset(&error, 0, sizeof(error));
		rte_errno = 0;
		flow = rte_flow_create(p->port_id, &attr, pattern, actions, &error);
		if (flow != NULL) {
			p->rules++;
			fd->rules++;
			return flow;
		}
		err = rte_errno != 0 ? rte_errno : EINVAL;
	}
	fd->refused++;
	refusal_reason(p, &error, err, reason, reason_len);
	if (refusal_is_final(p, err, at_create)) {
		/* ENOTSUP may concern this family's item only; the others say the port has no rte_flow. */
		bool both = err != ENOTSUP;

		for (int f = 0; f < FAMILIES; f++) {
			if (f != family && !both)
				continue;
			p->unsupported[f] = true;
			snprintf(p->reason[f], sizeof(p->reason[f]), "%s", reason);
		}
	}
	return NULL;
}

static void rule_destroy(struct ztg_flow_drop *fd, struct port_state *p, struct rte_flow *flow)
{
	struct rte_flow_error error;
	int rc;

	memset(&error, 0, sizeof(error));
	rc = rte_flow_destroy(p->port_id, flow, &error);
	/*
	 * The handle is of no use after a failed destroy either (the PMD may
	 * have freed it), so it is forgotten all the same; the operator learns
	 * the NIC may still hold the rule.
	 */
	if (rc != 0)
		fprintf(stderr, "ztgate: flow_drop: port %u: cannot destroy a drop rule: %s\n", p->port_id,
			error.message != NULL ? error.message : rte_strerror(-rc));
	p->rules--;
	fd->rules--;
}

static struct entry *entry_find(const struct ztg_flow_drop *fd, uint64_t key)
{
	for (uint32_t i = 0; i < fd->count; i++)
		if (fd->entries[i].key == key)
			return (struct entry *)&fd->entries[i];
	return NULL;
}

static int entry_hardware(const struct ztg_flow_drop *fd, const struct entry *e)
{
	int n = 0;

	for (uint16_t i = 0; i < fd->port_count; i++)
		n += e->rules[i] != NULL;
	return n;
}

int ztg_flow_drop_add(struct ztg_flow_drop *fd, uint64_t key, uint8_t ip_version, const uint8_t *addr,
		      uint8_t prefix, char *status, size_t status_len)
{
	uint8_t mask[16];
	struct entry *e;
	struct text t;
	int len, hardware = 0;

	if (fd == NULL || addr == NULL) {
		status_set(status, status_len, "invalid: no %s", fd == NULL ? "flow_drop table" : "address");
		return -1;
	}
	len = ztg_flow_drop_mask(ip_version, prefix, mask);
	if (len < 0) {
		if (ip_version != 4 && ip_version != 6)
			status_set(status, status_len, "invalid: IP version %u", ip_version);
		else
			status_set(status, status_len, "invalid: prefix /%u is longer than an IPv%u address", prefix,
				   ip_version);
		return -1;
	}
	/* A rule on the masked address would drop more than the caller believes it asked for. */
	for (int i = 0; i < len; i++)
		if ((addr[i] & (uint8_t)~mask[i]) != 0) {
			status_set(status, status_len, "invalid: host bits set beyond /%u", prefix);
			return -1;
		}

	e = entry_find(fd, key);
	if (e != NULL) {
		copy_status(status, status_len, e->status);
		return entry_hardware(fd, e);
	}
	if (fd->count == ZTG_FLOW_DROP_MAX_PREFIXES) {
		status_set(status, status_len, "software on every port: flow_drop table full (%u prefixes)",
			   ZTG_FLOW_DROP_MAX_PREFIXES);
		return 0;
	}

	e = &fd->entries[fd->count];
	memset(e, 0, sizeof(*e));
	e->key = key;
	text_init(&t, e->status, sizeof(e->status));
	if (fd->port_count == 0)
		text_add(&t, "software: no ingress ports to program");
	for (uint16_t i = 0; i < fd->port_count; i++) {
		struct port_state *p = &fd->ports[i];
		char reason[REASON_MAX];

		e->rules[i] = port_program(fd, p, ip_version == 4 ? FAMILY_V4 : FAMILY_V6, addr, mask, reason,
					   sizeof(reason));
		if (e->rules[i] != NULL) {
			hardware++;
			text_add(&t, "%snic on port %u", i > 0 ? "; " : "", p->port_id);
		} else {
			text_add(&t, "%ssoftware on port %u (%s)", i > 0 ? "; " : "", p->port_id, reason);
		}
	}
	text_finish(&t);
	fd->count++;
	copy_status(status, status_len, e->status);
	return hardware;
}

bool ztg_flow_drop_del(struct ztg_flow_drop *fd, uint64_t key)
{
	struct entry *e = fd != NULL ? entry_find(fd, key) : NULL;
	struct entry *last;

	if (e == NULL)
		return false;
	for (uint16_t i = 0; i < fd->port_count; i++)
		if (e->rules[i] != NULL)
			rule_destroy(fd, &fd->ports[i], e->rules[i]);
	/* Order means nothing (keys come back "in no set order"), so the last entry fills the hole. */
	last = &fd->entries[fd->count - 1];
	if (e != last)
		memcpy(e, last, sizeof(*e));
	fd->count--;
	return true;
}

void ztg_flow_drop_free(struct ztg_flow_drop *fd)
{
	if (fd == NULL)
		return;
	for (uint32_t k = 0; k < fd->count; k++)
		for (uint16_t i = 0; i < fd->port_count; i++)
			if (fd->entries[k].rules[i] != NULL)
				rule_destroy(fd, &fd->ports[i], fd->entries[k].rules[i]);
	free(fd);
}

bool ztg_flow_drop_has(const struct ztg_flow_drop *fd, uint64_t key)
{
	return fd != NULL && entry_find(fd, key) != NULL;
}

uint32_t ztg_flow_drop_keys(const struct ztg_flow_drop *fd, uint64_t *keys, uint32_t max)
{
	uint32_t n = 0;

	if (fd == NULL || keys == NULL)
		return 0;
	for (; n < fd->count && n < max; n++)
		keys[n] = fd->entries[n].key;
	return n;
}

void ztg_flow_drop_stats(const struct ztg_flow_drop *fd, struct ztg_flow_drop_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (fd == NULL)
		return;
	out->prefixes = fd->count;
	out->rules = fd->rules;
	out->refused = fd->refused;
}
