/*
 * Revocation lists: token ids (jti), subjects of an issuer, and API key ids
 * that must no longer be accepted, whatever their signature and expiry say.
 *
 * The control process keeps the list (ztgatectl revoke ...), persists it in
 * the text form below, and publishes an immutable lookup set built from it
 * to the workers (one pointer store, freed after a grace period), so a
 * revocation takes effect on the next request without touching the policy.
 * Workers consult it on every request, cache hits included.
 *
 * Text form, one entry per line, '#' comments and blank lines ignored:
 *     jti <value>
 *     sub <issuer name> <subject>
 *     key <api key id>
 * Values are 1..255 bytes of printable ASCII without spaces. Errors name
 * file:line.
 *
 * Plain C, no DPDK.
 */
#ifndef ZTG_AUTH_REVOCATION_H
#define ZTG_AUTH_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZTG_REVOCATION_MAX_ENTRIES 1000000
#define ZTG_REVOCATION_VALUE_MAX   255

enum ztg_revocation_kind {
	ZTG_REVOKE_JTI = 0,
	ZTG_REVOKE_SUBJECT,
	ZTG_REVOKE_API_KEY,
	ZTG_REVOKE_KIND_COUNT
};

/* "jti", "sub", "key"; from_name: 0 or -1. */
const char *ztg_revocation_kind_name(enum ztg_revocation_kind kind);
int ztg_revocation_kind_from_name(const char *name, enum ztg_revocation_kind *out);

/* The editable list (control side). */
struct ztg_revocation_list;

struct ztg_revocation_list *ztg_revocation_list_create(void);
void ztg_revocation_list_free(struct ztg_revocation_list *list);

/*
 * Add an entry; issuer only for SUBJECT (NULL otherwise). Returns 1 when
 * added, 0 when already there, -1 with err when a value is invalid or the
 * list is full.
 */
int ztg_revocation_list_add(struct ztg_revocation_list *list, enum ztg_revocation_kind kind, const char *issuer,
			    const char *value, char *err, size_t err_len);
/* 1 when removed, 0 when it was not there. */
int ztg_revocation_list_remove(struct ztg_revocation_list *list, enum ztg_revocation_kind kind, const char *issuer,
			       const char *value);
uint32_t ztg_revocation_list_count(const struct ztg_revocation_list *list);

/* Replace the list's content with the file's (nothing changes on error). ENOENT: empty list, 0. */
int ztg_revocation_list_load(struct ztg_revocation_list *list, const char *path, char *err, size_t err_len);
/* Write the text form atomically (path.tmp, fsync, rename). 0 or -1 with err. */
int ztg_revocation_list_save(const struct ztg_revocation_list *list, const char *path, char *err, size_t err_len);
/* The text form, or JSON: [{"kind":"jti","value":"..."}, {"kind":"sub","issuer":"..","value":".."}]. */
void ztg_revocation_list_print(const struct ztg_revocation_list *list, bool json, FILE *out);

/* The immutable set workers read. */
struct ztg_revocation_set;

struct ztg_revocation_set *ztg_revocation_set_build(const struct ztg_revocation_list *list);
void ztg_revocation_set_free(struct ztg_revocation_set *set);

/* Whether the entry is revoked; set NULL: nothing is. issuer only for SUBJECT. */
bool ztg_revocation_set_contains(const struct ztg_revocation_set *set, enum ztg_revocation_kind kind,
				 const char *issuer, size_t issuer_len, const char *value, size_t value_len);

#endif
