/*
 * DPDK telemetry commands (dpdk-telemetry.py, the runtime directory's
 * dpdk_telemetry.v2 socket):
 *
 *   /ztgate/stats   every ZTG_COUNTERS entry summed across workers, drops by
 *                   reason as a nested dict: the figures --stats-json writes
 *   /ztgate/flows   active flows per worker (by lcore) and in total
 *   /ztgate/policy  the policy in force: name, sha256, source, loaded time,
 *                   generation, mode and its counts; {"policy": "none"} without
 *
 * This module owns the commands and a copy of what they answer from: the
 * stats source (pointers to the workers' counters) and a snapshot of the
 * policy in force, both behind one mutex.
 *
 * Invariants: the callbacks run on DPDK's telemetry thread, never on a worker
 * and never on the main lcore. They read only what is published for other
 * threads: the workers' counters (racy by design, as stats.h says) and the
 * policy snapshot the main lcore hands over. They never dereference a
 * struct ztg_authz, which the main lcore may free after a later apply, and
 * never send the workers a flows query, which has one asker (the control
 * socket) by design.
 */
#ifndef ZTG_TELEMETRY_H
#define ZTG_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/authz.h"
#include "stats.h"

/*
 * Register the /ztgate/ commands. *src is copied; the counters and arrays it
 * points at must stay valid until ztg_telemetry_close. With EAL's
 * --no-telemetry the commands are registered and never asked. Once per
 * process: 0, or -1 with a message in err.
 */
int ztg_telemetry_register(const struct ztg_stats_source *src, char *err, size_t err_len);

/*
 * Snapshot the policy now in force for /ztgate/policy; authz NULL: none.
 * Called by the thread that publishes a policy, after it did: the snapshot
 * is copied out of authz here, so authz may be freed afterwards. routes is
 * the total over its services; source, sha256 and loaded_at say where it
 * came from (as ztgatectl status shows them).
 */
void ztg_telemetry_set_policy(const struct ztg_authz *authz, uint32_t routes, const char *source,
			      const char *sha256, time_t loaded_at);

/* Stop answering from the counters (the commands then fail): before the workers are freed. */
void ztg_telemetry_close(void);

#endif
