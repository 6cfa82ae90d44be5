/*
 * Policy loading: a libconfig policy file (and what it @includes) in, a
 * validated struct ztg_policy (policy.h) out, or diagnostics saying what is
 * wrong, where and what was expected.
 *
 * The loader reads the whole file and reports every problem it finds, not
 * just the first: syntax errors (libconfig stops at the first of those),
 * then unknown keys, missing keys, wrong types, bad values, and the checks
 * across elements (duplicates, undefined references, overlapping segments,
 * services that could receive the same request, routes that shadow each
 * other, access pairs granted twice). Each diagnostic names the file and
 * line of the offending element, the included file's when it came from one.
 * Warnings (a service with no routes, an unused segment, an unreachable
 * service, a service address outside its segment) never fail a load.
 *
 * Includes use libconfig's own `@include "file"`. libconfig 1.5 (Debian's)
 * resolves every include, nested ones too, against one directory: the loader
 * sets it to the directory of the policy file, so include names are relative
 * to that directory and absolute include paths do not work. Every file
 * reached must be a regular file, checked before libconfig opens it: given a
 * directory, libconfig 1.5 calls exit(); given a FIFO or a device, it blocks
 * or never ends.
 *
 * Nothing here is global; calls on different diag/policy objects may run in
 * parallel.
 */
#ifndef ZTG_POLICY_LOAD_H
#define ZTG_POLICY_LOAD_H

#include <stdint.h>
#include <stdio.h>

#include "policy.h"

enum ztg_policy_severity {
	ZTG_POLICY_ERROR = 0,
	ZTG_POLICY_WARNING,
};

/*
 * One diagnostic. line is 0 when it concerns a whole file (unreadable, or a
 * required top-level key missing). message holds no file or line: it starts
 * with the key path, e.g. `services[0].routes[2].methods: unknown method ...`.
 */
struct ztg_policy_diag_entry {
	enum ztg_policy_severity severity;
	char *file;
	uint32_t line;
	char *message;
};

/* At most this many entries are kept; the rest are only counted. */
#define ZTG_POLICY_DIAG_MAX 512

/*
 * Diagnostics of one or more loads, in the order found. errors and warnings
 * count every diagnostic, kept or not; dropped counts those not kept.
 */
struct ztg_policy_diag {
	struct ztg_policy_diag_entry *entries;
	uint32_t count;
	uint32_t capacity;
	uint32_t errors;
	uint32_t warnings;
	uint32_t dropped;
};

void ztg_policy_diag_init(struct ztg_policy_diag *diag);

/*
 * Append one entry (file and message copied), counted always and kept up to
 * ZTG_POLICY_DIAG_MAX: the one way every loader (policy, rule sets, the
 * signature compiler) reports. d NULL: nothing. 0, or -ENOMEM (counted as
 * dropped).
 */
int ztg_policy_diag_add(struct ztg_policy_diag *d, enum ztg_policy_severity severity, const char *file,
			uint32_t line, const char *message);

/* Frees the entries and leaves diag initialised (empty). */
void ztg_policy_diag_free(struct ztg_policy_diag *diag);

/*
 * Load and validate the policy file at path.
 *
 * path: the policy file; included files are looked up in its directory.
 * out:  on success, the new policy (free with ztg_policy_free()); on failure
 *       set to NULL. Must not be NULL.
 * diag: receives every error and warning of this load, appended to what it
 *       already holds; NULL to discard them (the result still says whether
 *       the policy is valid).
 *
 * Returns 0 when the policy has no error (it may have warnings), -EINVAL
 * when it has one or more (unreadable file, syntax, validation), -ENOMEM when
 * memory ran out (then the diagnostics may be incomplete).
 */
int ztg_policy_load(const char *path, struct ztg_policy **out, struct ztg_policy_diag *diag);

/*
 * Print each entry as `file:line: error: message` or `file:line: warning:
 * message` (`file: ...` when line is 0), one per line, then a line saying how
 * many were not kept, if any.
 */
void ztg_policy_diag_print(FILE *out, const struct ztg_policy_diag *diag);

/* "error" or "warning". */
const char *ztg_policy_severity_name(enum ztg_policy_severity severity);

#endif /* ZTG_POLICY_LOAD_H */
