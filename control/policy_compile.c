#include "policy_compile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ztg_route_matcher *ztg_policy_compile_routes(const struct ztg_policy_service *svc,
						    struct ztg_route_diag *diag)
{
	struct ztg_route_spec *specs = calloc(svc->route_count + 1, sizeof(*specs));
	struct ztg_route_matcher *m;

	if (specs == NULL) {
		memset(diag, 0, sizeof(*diag));
		diag->code = ZTG_ROUTE_E_NO_MEMORY;
		diag->route_index = ZTG_ROUTE_NONE;
		snprintf(diag->message, sizeof(diag->message), "out of memory");
		return NULL;
	}
	for (uint32_t r = 0; r < svc->route_count; r++)
		specs[r] = (struct ztg_route_spec){.template = svc->routes[r].path, .methods = svc->routes[r].methods,
						   .route_id = r};
	m = ztg_route_matcher_build(specs, svc->route_count, NULL, diag);
	free(specs);
	return m;
}

int ztg_policy_compile_records(const struct ztg_policy *policy, struct ztg_bundle_files *files, char *err,
			       size_t err_len)
{
	for (uint32_t s = 0; s < policy->service_count; s++) {
		struct ztg_route_diag diag;
		struct ztg_route_matcher *m = ztg_policy_compile_routes(&policy->services[s], &diag);
		struct ztg_bundle_file *grown, *f;
		size_t size;

		if (m == NULL) {
			snprintf(err, err_len, "service %s: %s", policy->services[s].name, diag.message);
			return diag.code == ZTG_ROUTE_E_NO_MEMORY ? -ENOMEM : -EINVAL;
		}
		size = ztg_route_matcher_size(m);
		grown = realloc(files->files, (files->count + 1) * sizeof(*grown));
		if (grown == NULL) {
			ztg_route_matcher_free(m);
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		files->files = grown;
		f = &files->files[files->count];
		memset(f, 0, sizeof(*f));
		f->data = malloc(size ? size : 1);
		if (f->data == NULL || asprintf(&f->name, "%s%u", ZTG_POLICY_COMPILED_ROUTES, s) < 0) {
			free(f->data);
			ztg_route_matcher_free(m);
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		memcpy(f->data, ztg_route_matcher_block(m), size);
		f->len = size;
		files->count++;
		ztg_route_matcher_free(m);
	}
	return 0;
}

/* The shipped matcher must describe exactly the service's routes, or it would judge by other rules. */
static bool same_routes(const struct ztg_route_matcher *m, const struct ztg_policy_service *svc, char *err,
			size_t err_len)
{
	if (ztg_route_matcher_route_count(m) != svc->route_count) {
		snprintf(err, err_len, "service %s: the compiled routes hold %u routes, the policy %u", svc->name,
			 ztg_route_matcher_route_count(m), svc->route_count);
		return false;
	}
	for (uint32_t r = 0; r < svc->route_count; r++) {
		struct ztg_route_info info;

		if (ztg_route_matcher_route_info(m, r, &info) != 0 || info.route_id != r ||
		    strcmp(info.template, svc->routes[r].path) != 0 || info.methods != svc->routes[r].methods) {
			snprintf(err, err_len, "service %s: compiled route %u is not route %s (%s) of the policy", svc->name,
				 r, svc->routes[r].name, svc->routes[r].path);
			return false;
		}
	}
	return true;
}

struct ztg_route_matcher *ztg_policy_compiled_routes(const struct ztg_policy *policy, uint32_t s,
						     const struct ztg_bundle_files *files, bool *present, char *err,
						     size_t err_len)
{
	char name[64];

	*present = false;
	if (files == NULL)
		return NULL;
	snprintf(name, sizeof(name), "%s%u", ZTG_POLICY_COMPILED_ROUTES, s);
	for (uint32_t i = 0; i < files->count; i++) {
		struct ztg_route_diag diag;
		struct ztg_route_matcher *m;

		if (strcmp(files->files[i].name, name) != 0)
			continue;
		*present = true;
		m = ztg_route_matcher_from_block(files->files[i].data, files->files[i].len, &diag);
		if (m == NULL) {
			snprintf(err, err_len, "%s: %s", name, diag.message);
			return NULL;
		}
		if (!same_routes(m, &policy->services[s], err, err_len)) {
			ztg_route_matcher_free(m);
			return NULL;
		}
		return m;
	}
	return NULL;
}
