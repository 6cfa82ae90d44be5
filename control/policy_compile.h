/*
 * The runtime form of a policy's routes: one compiled matcher per service
 * (dataplane/policy/route_match.h), and how it travels in a bundle.
 *
 * ztgatectl compile and ztgate build the matchers with the same function,
 * and a bundle carries them as records "compiled/routes/<service index>",
 * so the dataplane can take the runtime form as shipped instead of building
 * it again. A matcher read back from a bundle is accepted only if it is a
 * valid block (ztg_route_matcher_from_block) whose routes are exactly the
 * service's: same templates and methods, in order. Plain C, no DPDK.
 */
#ifndef ZTG_POLICY_COMPILE_H
#define ZTG_POLICY_COMPILE_H

#include <stddef.h>

#include "bundle.h"
#include "policy.h"
#include "policy/route_match.h"

/* Bundle record names: this prefix, then the service's index in the policy. */
#define ZTG_POLICY_COMPILED_ROUTES "compiled/routes/"

/* Compile a service's routes (route_id = the route's index). NULL with *diag filled on error. */
struct ztg_route_matcher *ztg_policy_compile_routes(const struct ztg_policy_service *svc,
						    struct ztg_route_diag *diag);

/* Append a compiled-routes record per service to files (for a bundle). 0, or -ENOMEM / -EINVAL with err. */
int ztg_policy_compile_records(const struct ztg_policy *policy, struct ztg_bundle_files *files, char *err,
			       size_t err_len);

/*
 * The matcher for service s from the compiled records among files, checked
 * against the service's routes. Returns it (the caller frees it), or NULL:
 * with *present false when files hold no record for s (compile it then),
 * with *present true and err filled when the record is there but unusable.
 */
struct ztg_route_matcher *ztg_policy_compiled_routes(const struct ztg_policy *policy, uint32_t s,
						     const struct ztg_bundle_files *files, bool *present, char *err,
						     size_t err_len);

#endif
