#include "telemetry.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "events.h"

/* What /ztgate/policy answers: copied out of the policy when it is published. */
struct policy_view {
	bool present;
	char name[RTE_TEL_MAX_STRING_LEN];
	char mode[16];
	char sha256[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	char source[PATH_MAX];
	char loaded_at[32];              /* UTC, as ztgatectl status shows it */
	uint64_t loaded_at_unix;
	uint32_t generation;
	uint32_t segments, services, routes, access, issuers, api_keys;
	uint32_t signature_sets, signature_rules;
};

/*
 * The module's state. rte_telemetry_register_cmd in DPDK 22.11 takes no
 * argument to hand back to the callback, so what the callbacks answer from
 * lives here, set once at registration and changed only through the
 * functions of telemetry.h. The mutex orders the main lcore's updates (a new
 * policy, close) against the telemetry thread's reads; workers never take it.
 */
static struct {
	pthread_mutex_t lock;
	bool registered;
	bool open;                       /* src is valid: between register and close */
	struct ztg_stats_source src;
	struct policy_view policy;
} tel = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int answer_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct ztg_counters total;
	struct rte_tel_data *drops;

	(void)cmd;
	(void)params;
	drops = rte_tel_data_alloc();
	if (drops == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&tel.lock);
	if (!tel.open) {
		pthread_mutex_unlock(&tel.lock);
		rte_tel_data_free(drops);
		return -ESHUTDOWN;
	}
	ztg_stats_sum(&tel.src, &total);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "mode", tel.src.mode);
	rte_tel_data_add_dict_u64(d, "workers", tel.src.worker_count);
	pthread_mutex_unlock(&tel.lock);

#define ZTG_COUNTER_TEL(name) rte_tel_data_add_dict_u64(d, #name, total.name);
	ZTG_COUNTERS(ZTG_COUNTER_TEL)
#undef ZTG_COUNTER_TEL
	/* Every reason but "none", zeros included: the keys of --stats-json's "drops". */
	rte_tel_data_start_dict(drops);
	for (int r = 1; r < ZTG_DROP_REASON_COUNT; r++)
		rte_tel_data_add_dict_u64(drops, ztg_drop_reason_name(r), total.drops[r]);
	rte_tel_data_add_dict_container(d, "drops", drops, 0);
	return 0;
}

static int answer_flows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *per_worker;
	uint64_t active = 0, created = 0, expired = 0;

	(void)cmd;
	(void)params;
	per_worker = rte_tel_data_alloc();
	if (per_worker == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(per_worker);
	pthread_mutex_lock(&tel.lock);
	if (!tel.open) {
		pthread_mutex_unlock(&tel.lock);
		rte_tel_data_free(per_worker);
		return -ESHUTDOWN;
	}
	/* Each worker publishes its table's figures every expiry period: they are that fresh. */
	for (unsigned int w = 0; w < tel.src.worker_count; w++) {
		const struct ztg_counters *c = tel.src.workers[w];
		char lcore[16];

		snprintf(lcore, sizeof(lcore), "%u", tel.src.worker_lcores[w]);
		rte_tel_data_add_dict_u64(per_worker, lcore, c->flows_active);
		active += c->flows_active;
		created += c->flows_created;
		expired += c->flows_expired;
	}
	pthread_mutex_unlock(&tel.lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "flows_active", active);
	rte_tel_data_add_dict_u64(d, "flows_created", created);
	rte_tel_data_add_dict_u64(d, "flows_expired", expired);
	rte_tel_data_add_dict_container(d, "per_worker_lcore", per_worker, 0);
	return 0;
}

static int answer_policy(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct policy_view v;

	(void)cmd;
	(void)params;
	pthread_mutex_lock(&tel.lock);
	v = tel.policy;
	pthread_mutex_unlock(&tel.lock);
	rte_tel_data_start_dict(d);
	if (!v.present) {
		rte_tel_data_add_dict_string(d, "policy", "none");
		return 0;
	}
	rte_tel_data_add_dict_string(d, "name", v.name);
	rte_tel_data_add_dict_string(d, "mode", v.mode);
	rte_tel_data_add_dict_u64(d, "generation", v.generation);
	rte_tel_data_add_dict_string(d, "sha256", v.sha256);
	/* Values are capped at RTE_TEL_MAX_STRING_LEN: a longer path comes back truncated. */
	rte_tel_data_add_dict_string(d, "source", v.source);
	rte_tel_data_add_dict_string(d, "loaded_at", v.loaded_at);
	rte_tel_data_add_dict_u64(d, "loaded_at_unix", v.loaded_at_unix);
	rte_tel_data_add_dict_u64(d, "segments", v.segments);
	rte_tel_data_add_dict_u64(d, "services", v.services);
	rte_tel_data_add_dict_u64(d, "routes", v.routes);
	rte_tel_data_add_dict_u64(d, "access", v.access);
	rte_tel_data_add_dict_u64(d, "issuers", v.issuers);
	rte_tel_data_add_dict_u64(d, "api_keys", v.api_keys);
	rte_tel_data_add_dict_u64(d, "signature_sets", v.signature_sets);
	rte_tel_data_add_dict_u64(d, "signature_rules", v.signature_rules);
	return 0;
}

int ztg_telemetry_register(const struct ztg_stats_source *src, char *err, size_t err_len)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} commands[] = {
		{"/ztgate/stats", answer_stats, "ztgate counters summed over workers, drops by reason. No parameters"},
		{"/ztgate/flows", answer_flows, "ztgate flows: active in total and per worker lcore. No parameters"},
		{"/ztgate/policy", answer_policy, "ztgate policy in force, or \"none\". No parameters"},
	};
	int rc;

	pthread_mutex_lock(&tel.lock);
	if (tel.registered) {
		pthread_mutex_unlock(&tel.lock);
		snprintf(err, err_len, "telemetry commands are already registered");
		return -1;
	}
	tel.src = *src;
	tel.open = true;
	tel.registered = true;
	pthread_mutex_unlock(&tel.lock);
	for (size_t i = 0; i < RTE_DIM(commands); i++) {
		rc = rte_telemetry_register_cmd(commands[i].cmd, commands[i].fn, commands[i].help);
		if (rc != 0) {
			snprintf(err, err_len, "cannot register telemetry command %s: %s", commands[i].cmd,
				 strerror(-rc));
			return -1;
		}
	}
	return 0;
}

void ztg_telemetry_set_policy(const struct ztg_authz *authz, uint32_t routes, const char *source,
			      const char *sha256, time_t loaded_at)
{
	struct policy_view v = {.present = authz != NULL};

	if (authz != NULL) {
		const struct ztg_policy *p = ztg_authz_policy(authz);
		const struct ztg_detect *detect = ztg_authz_detect(authz);

		snprintf(v.name, sizeof(v.name), "%s", p->name);
		snprintf(v.mode, sizeof(v.mode), "%s", ztg_policy_mode_name(p->mode));
		snprintf(v.sha256, sizeof(v.sha256), "%s", sha256);
		snprintf(v.source, sizeof(v.source), "%s", source);
		ztg_events_format_utc(loaded_at, v.loaded_at, sizeof(v.loaded_at));
		v.loaded_at_unix = (uint64_t)loaded_at;
		v.generation = ztg_authz_generation(authz);
		v.segments = p->segment_count;
		v.services = p->service_count;
		v.routes = routes;
		v.access = p->access_count;
		v.issuers = p->issuer_count;
		v.api_keys = p->api_key_count;
		v.signature_sets = p->signature_set_count;
		v.signature_rules = detect != NULL ? ztg_detect_compiled(detect)->rule_count : 0;
	}
	pthread_mutex_lock(&tel.lock);
	tel.policy = v;
	pthread_mutex_unlock(&tel.lock);
}

void ztg_telemetry_close(void)
{
	pthread_mutex_lock(&tel.lock);
	tel.open = false;
	pthread_mutex_unlock(&tel.lock);
}
