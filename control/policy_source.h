/*
 * A policy as ztgate and ztgatectl take it: a policy file (with its
 * includes) or a bundle (bundle.h), loaded and validated, together with the
 * bundle bytes that reproduce it, their content hash, and its runtime form:
 * the compiled route matchers, built here for a file and shipped in a
 * bundle, so ztgate takes them as they are. ztgate reports the
 * hash as the policy's identity and persists the bytes as the last good
 * policy; ztgatectl compile writes them.
 *
 * A bundle is extracted into a private temporary directory, loaded from
 * there and the directory removed again; its diagnostics name the bundle
 * and the file inside it ("lab.bundle[rules.conf]:12").
 */
#ifndef ZTG_POLICY_SOURCE_H
#define ZTG_POLICY_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "policy.h"
#include "policy_load.h"

struct ztg_policy_source {
	struct ztg_policy *policy;      /* owned until the caller takes it (set it to NULL then) */
	uint8_t *bundle;                /* the bundle's bytes, owned */
	size_t bundle_len;
	char hash[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	/* The runtime form the bundle carries: compiled routes (policy_compile.h) and signatures (sig_compile.h). */
	struct ztg_bundle_files compiled;
};

/*
 * Load path, a policy file or a bundle. Diagnostics go to diag (may be NULL).
 * Returns 0, -EINVAL when the policy or bundle is bad (err says why in one
 * line), or another negative errno.
 */
int ztg_policy_source_load(const char *path, struct ztg_policy_source *out, struct ztg_policy_diag *diag,
			   char *err, size_t err_len);

/* Free what the source still owns. */
void ztg_policy_source_release(struct ztg_policy_source *source);

/* Write the bundle bytes to path atomically (path.tmp, fsync, rename). 0 or a negative errno. */
int ztg_policy_source_save(const struct ztg_policy_source *source, const char *path, char *err, size_t err_len);

#endif
