/*
 * Config check: the libconfig reading both of ztgate's file loaders share,
 * the policy (policy_load.c) and rule sets (signatures.c): which keys a
 * group may hold and must hold, what a setting's type is called, and how
 * paths, choices and file kinds are written in their messages.
 *
 * It keeps no state and reports nothing itself: an error goes to the
 * loader's own reporter (ztg_config_error_fn), which knows the file, the
 * line and what to count. Plain C over libconfig.
 */
#ifndef ZTG_CONFIG_CHECK_H
#define ZTG_CONFIG_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libconfig.h>

/* A key a group may hold; expect says what its value should be, for "missing" messages. */
struct ztg_config_key {
	const char *name;
	bool required;
	const char *expect;
};

#define ZTG_CONFIG_KEYS(array) (array), (sizeof(array) / sizeof((array)[0]))

/* An error about setting at, in the words of message: the loader adds file:line and counts it. */
typedef void (*ztg_config_error_fn)(void *ctx, const config_setting_t *at, const char *message);

/*
 * Every member of group must be one of keys (reported when not, with the
 * keys allowed), every required key must be there (reported at the group).
 * found: NULL, or key_count slots that become the member named keys[k] or
 * NULL, so a loader looks each member up once. where prefixes the messages
 * ("services[0].routes[1]", or "" at the top level).
 */
void ztg_config_check_keys(const config_setting_t *group, const char *where, const struct ztg_config_key *keys,
			   size_t key_count, const config_setting_t **found, ztg_config_error_fn error, void *ctx);

/* "an integer", "a string", "a group { ... }" ...: what a message says a setting was. */
const char *ztg_config_type_name(const config_setting_t *s);

/* "where.key", or "key" at the top level. */
const char *ztg_config_key_path(char *buf, size_t len, const char *where, const char *key);

/* "a, b or c" from the names[0..count) whose bit is set in allowed (UINT32_MAX: all). */
const char *ztg_config_choice_list(char *buf, size_t len, const char *const *names, unsigned count,
				   uint32_t allowed);

/* What a path that is not a regular file is: "a directory", "a FIFO", "a device" ... */
const char *ztg_config_file_kind(mode_t mode);

#endif
