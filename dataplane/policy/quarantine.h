/*
 * Quarantine: identities and source addresses whose requests are refused
 * (reason "quarantined") until a time or until deleted, shared by every
 * worker and independent of the policy, so a swap keeps it.
 *
 * Entries come from three places: the risk score (automatic, added by a
 * worker), `ztgatectl quarantine add` (operator) and `ztgatectl block`
 * (operator, source prefixes also dropped by the NIC where it can). An
 * identity is named by its issuer's policy name ("api-key" for API keys) and
 * its subject; a source by an address and prefix length (a quarantine is one
 * address; a block may be a prefix).
 *
 * Workers only look up and add; the control thread (main lcore) also lists,
 * deletes, expires, sets the hardware status text and persists. A lookup
 * with nothing quarantined is one relaxed load. Source lookups probe once per
 * prefix length in use. Fixed capacity; an add beyond it fails and is
 * counted, never evicts a live entry.
 *
 * Concurrency: an entry's key and expiry are atomics workers read without
 * locks; its text fields are written before its key is published and are
 * read by the control thread under a per-entry sequence count, retried when
 * a writer raced it.
 */
#ifndef ZTG_QUARANTINE_H
#define ZTG_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZTG_QUARANTINE_ISSUER_MAX  65      /* a policy name and the NUL */
#define ZTG_QUARANTINE_SUBJECT_MAX 129     /* as ZTG_EVENT_SUBJECT_MAX */
#define ZTG_QUARANTINE_REASON_MAX  96
#define ZTG_QUARANTINE_HARDWARE_MAX 256

enum ztg_quarantine_kind {
	ZTG_QUARANTINE_IDENTITY,
	ZTG_QUARANTINE_SOURCE,
};

enum ztg_quarantine_origin {
	ZTG_QUARANTINE_AUTOMATIC,        /* the risk score crossed its threshold */
	ZTG_QUARANTINE_OPERATOR,         /* ztgatectl quarantine add */
	ZTG_QUARANTINE_BLOCK,            /* ztgatectl block add */
};

struct ztg_quarantine_entry {
	enum ztg_quarantine_kind kind;
	enum ztg_quarantine_origin origin;
	/* IDENTITY */
	char issuer[ZTG_QUARANTINE_ISSUER_MAX];
	char subject[ZTG_QUARANTINE_SUBJECT_MAX];
	/* SOURCE: network order, bits past prefix zero */
	uint8_t ip_version;              /* 4 or 6 */
	uint8_t prefix;                  /* 0..32 or 0..128 */
	uint8_t addr[16];
	char reason[ZTG_QUARANTINE_REASON_MAX];   /* "risk 150 >= 100: anomaly requests", an operator's words */
	int64_t since;                   /* unix seconds */
	int64_t until;                   /* unix seconds; 0: until deleted */
	/* Filled by lookups and the control thread; ignored by add. */
	uint64_t refused;                /* requests and flows refused under it */
	char hardware[ZTG_QUARANTINE_HARDWARE_MAX];   /* SOURCE: what the NIC does about it ("" : not tried yet) */
};

struct ztg_quarantine;

/* capacity: entries (rounded up to a power of two, >= 16). NULL when memory ran out. */
struct ztg_quarantine *ztg_quarantine_create(uint32_t capacity, int socket);
void ztg_quarantine_free(struct ztg_quarantine *q);

/*
 * Add e, or renew the entry of the same subject: its until, reason and
 * origin become e's (an automatic renewal never shortens an operator's
 * entry or turns it automatic). 1: added, 0: renewed, -1: table full
 * (counted). Any thread.
 */
int ztg_quarantine_add(struct ztg_quarantine *q, const struct ztg_quarantine_entry *e);

/* Remove the entry of e's subject (kind, issuer+subject or address+prefix). true if there was one. Control thread. */
bool ztg_quarantine_del(struct ztg_quarantine *q, const struct ztg_quarantine_entry *e);

/*
 * Whether a request of this identity (issuer name, subject bytes) is refused
 * at now (unix seconds); counts the refusal on the entry. Any thread.
 */
bool ztg_quarantine_identity_held(struct ztg_quarantine *q, const char *issuer, const uint8_t *subject,
				  size_t subject_len, int64_t now);

/* The same for a source address (network order, 4 or 16 bytes): an entry of any prefix covering it. */
bool ztg_quarantine_source_held(struct ztg_quarantine *q, uint8_t ip_version, const uint8_t *addr, int64_t now);

/* The key naming e's subject in q (stable while q lives): what flow_drop.h names its rules by. */
uint64_t ztg_quarantine_key(const struct ztg_quarantine *q, const struct ztg_quarantine_entry *e);

/* Whether anything is quarantined at all: one relaxed load, for the fast path. */
bool ztg_quarantine_any(const struct ztg_quarantine *q);

/*
 * Control thread: remove entries whose until has passed, calling expired
 * (may be NULL) with a copy of each first. Returns how many went.
 */
uint32_t ztg_quarantine_expire(struct ztg_quarantine *q, int64_t now,
			       void (*expired)(void *arg, const struct ztg_quarantine_entry *e), void *arg);

/* Control thread: copies of the live entries, up to max, in no set order. Returns how many. */
uint32_t ztg_quarantine_list(struct ztg_quarantine *q, struct ztg_quarantine_entry *out, uint32_t max);

/* Control thread: set the hardware status text of e's subject (SOURCE entries). */
void ztg_quarantine_set_hardware(struct ztg_quarantine *q, const struct ztg_quarantine_entry *e, const char *status);

struct ztg_quarantine_stats {
	uint32_t capacity;
	uint32_t active;
	uint64_t added;                  /* adds that created an entry */
	uint64_t full;                   /* adds refused for want of room */
	uint64_t refused;                /* lookups that answered "held" */
};

void ztg_quarantine_stats(const struct ztg_quarantine *q, struct ztg_quarantine_stats *out);

/*
 * Text forms shared by ztgatectl, the control socket and the state file.
 * Parse "ADDR" or "ADDR/PREFIX" (IPv4 or IPv6) into e's source fields, host
 * bits must be zero; 0, or -1 with err naming what is wrong.
 */
int ztg_quarantine_parse_source(const char *text, struct ztg_quarantine_entry *e, char *err, size_t err_len);
/* "192.0.2.7/32", "2001:db8::/64" */
void ztg_quarantine_format_source(const struct ztg_quarantine_entry *e, char *out, size_t out_len);
const char *ztg_quarantine_kind_name(enum ztg_quarantine_kind k);     /* "identity", "source" */
const char *ztg_quarantine_origin_name(enum ztg_quarantine_origin o); /* "automatic", "operator", "block" */

/*
 * Operator entries and blocks (not automatic ones: those are the risk's to
 * make again) persist in a state file, one JSON object per line, written
 * atomically. save: 0 or -1 with err. load: adds the file's entries still
 * live at now; a missing file is no error; a bad line fails naming
 * file:line and adds nothing.
 */
int ztg_quarantine_save(struct ztg_quarantine *q, const char *path, char *err, size_t err_len);
int ztg_quarantine_load(struct ztg_quarantine *q, const char *path, int64_t now, char *err, size_t err_len);

#endif
