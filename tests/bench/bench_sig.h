/*
 * Rule-set helpers shared by the signature benchmarks (sig_compile_bench,
 * hs_scan_bench): load a rule file through the real loader, and compile sets
 * through the real compiler, with every diagnostic on stderr. Header-only
 * (static inline) like bench_util.h; needs control_dep.
 */
#ifndef ZTG_BENCH_SIG_H
#define ZTG_BENCH_SIG_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy_load.h"
#include "sig_compile.h"
#include "signatures.h"

/* The rule set at path, loaded by ztg_sig_set_load(); NULL after telling stderr (prefixed with prog) why. */
static inline struct ztg_sig_set *bench_sig_load(const char *prog, const char *path)
{
	struct ztg_policy_diag diag;
	struct ztg_sig_set *set = NULL;
	int rc;

	ztg_policy_diag_init(&diag);
	rc = ztg_sig_set_load(path, &set, &diag);
	if (rc != 0) {
		fprintf(stderr, "%s: rule set %s does not load (%s):\n", prog, path, strerror(-rc));
		ztg_policy_diag_print(stderr, &diag);
	}
	ztg_policy_diag_free(&diag);
	return set;
}

/* ztg_sig_compile() of sets[0..n): 0 with *out, or the error after telling stderr (prefixed with prog). */
static inline int bench_sig_compile(const char *prog, const struct ztg_sig_set *const *sets, uint32_t n,
				    struct ztg_sig_compiled **out)
{
	struct ztg_policy_diag diag;
	uint32_t rules = 0;
	int rc;

	ztg_policy_diag_init(&diag);
	rc = ztg_sig_compile(sets, n, out, &diag);
	if (rc != 0) {
		for (uint32_t i = 0; i < n; i++)
			rules += sets[i]->rule_count;
		fprintf(stderr, "%s: %u rules do not compile (%s):\n", prog, rules, strerror(-rc));
		ztg_policy_diag_print(stderr, &diag);
	}
	ztg_policy_diag_free(&diag);
	return rc;
}

#endif
