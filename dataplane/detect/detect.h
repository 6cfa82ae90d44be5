/*
 * Detect: signature matching in the dataplane. The policy's rule sets,
 * compiled with Hyperscan (control/sig_compile.h), are scanned over a
 * request's fields when its head is complete, before the packet that
 * completes it is forwarded: method, path, raw and decoded query, each
 * argument name and value, each header line, named headers, cookies.
 *
 * A match counts only when its rule's set is one the route (or its service)
 * selects. Then: a "block" rule blocks; a "score" rule adds its score, and
 * the route's threshold reached blocks; an "alert" rule (or any rule in
 * monitor mode, or a route in monitor mode) is reported without blocking.
 * Every matched rule id goes into the result, once.
 *
 * The runtime form is built with a policy's authz and immutable; scanning
 * uses the calling worker's own Hyperscan scratch, allocated here for every
 * worker at build time, sized for every database: a policy swap never
 * reallocates a scratch a worker may be using, and nothing is allocated per
 * packet.
 */
#ifndef ZTG_DETECT_H
#define ZTG_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "../../control/bundle.h"
#include "../../control/policy.h"
#include "../../control/sig_compile.h"
#include "../http/http_normalize.h"
#include "../http/http_parser.h"

#define ZTG_DETECT_MAX_MATCHES 16     /* rule ids kept per request; more are counted */

struct ztg_detect;

/*
 * Build from p's rule sets: take the compiled databases from records among
 * files (a bundle's) when they match the rules, else compile them here.
 * workers: scratches to allocate (workers index them 0..workers-1). NULL
 * with err on failure; *none set when the policy has no rule sets (then
 * NULL is not an error).
 */
struct ztg_detect *ztg_detect_build(const struct ztg_policy *p, const struct ztg_bundle_files *files, unsigned workers,
				    bool *none, char *err, size_t err_len);
void ztg_detect_free(struct ztg_detect *d);

/* How the rules were obtained and what they cost, for status. */
bool ztg_detect_shipped(const struct ztg_detect *d);
const struct ztg_sig_compiled *ztg_detect_compiled(const struct ztg_detect *d);

struct ztg_detect_result {
	bool block;                   /* a block rule, or the threshold reached, in enforce */
	bool alert;                   /* something matched that is only reported */
	uint32_t score;
	uint32_t match_count;         /* distinct rules matched (may exceed the kept ids) */
	uint32_t rules[ZTG_DETECT_MAX_MATCHES];
	const struct ztg_sig_rule *first_block;              /* the rule that blocked, if one did alone */
};

/*
 * Scan a request head for worker w under the route's detect settings
 * (cfg->present must hold). target: the normalised target (decoded query
 * and arguments, canonical path).
 */
void ztg_detect_request(const struct ztg_detect *d, unsigned w, const struct ztg_policy_detect *cfg,
			const struct ztg_http_message *msg, const struct ztg_http_target_view *target,
			struct ztg_detect_result *out);

#endif
