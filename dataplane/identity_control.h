/*
 * The control process's side of identity: what changes while a policy stays
 * in force.
 *  - Keys of issuers with a jwks_url: fetched over https before a policy is
 *    published (ztg_identity_control_prepare), then by a background thread
 *    on each issuer's interval, and early (rate-limited) when workers report
 *    an unknown kid. A failed fetch never removes keys: the last good set
 *    stays, per URL, across policy swaps, and in the state directory
 *    (jwks/<sha256 of the URL>.json) across restarts.
 *  - Revocations (jti, subject, API key id): edited through the control
 *    socket, persisted in the state directory, published to the workers as
 *    an immutable set with one pointer store.
 * Replaced key sets and revocation sets are freed only after every worker
 * passed a quiescent state (rte_rcu_qsbr).
 *
 * Thread safety: the main lcore calls everything here; the fetch thread
 * shares the followed authz and the per-URL state with it under one mutex,
 * never held across a network fetch.
 */
#ifndef ZTG_IDENTITY_CONTROL_H
#define ZTG_IDENTITY_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <rte_rcu_qsbr.h>

#include "../control/control_socket.h"
#include "auth/revocation.h"
#include "policy/authz.h"

struct ztg_identity_control;

/*
 * state_dir: where revocations persist ("" or NULL: nowhere); an existing
 * revocations file there is loaded now. NULL with err on failure (a bad
 * revocations file names file:line).
 */
struct ztg_identity_control *ztg_identity_control_create(const char *state_dir, char *err, size_t err_len);

/* The workers' QSBR variable, once they exist: until then nothing needs a grace period. */
void ztg_identity_control_attach(struct ztg_identity_control *ic, struct rte_rcu_qsbr *rcu);
void ztg_identity_control_free(struct ztg_identity_control *ic);

/* The revocation set pointer workers load every poll round. */
struct ztg_revocation_set *_Atomic const *ztg_identity_control_revocations(struct ztg_identity_control *ic);

/*
 * Give authz (not yet published) keys for its jwks_url issuers: the URL's
 * last good key set, else a fetch now. -1 with err when an issuer would
 * have no keys: the policy must not be published then.
 */
int ztg_identity_control_prepare(struct ztg_identity_control *ic, struct ztg_authz *authz, char *err,
				 size_t err_len);

/* The policy now in force (NULL: none): the fetch thread refreshes its issuers from now on. */
void ztg_identity_control_follow(struct ztg_identity_control *ic, struct ztg_authz *authz);

/* Start the background fetch thread. 0, or -1 with err. */
int ztg_identity_control_start(struct ztg_identity_control *ic, char *err, size_t err_len);

/*
 * Control commands: "revoke KIND ...", "unrevoke KIND ...", "revocations",
 * "keys". Returns ZTG_CONTROL_USAGE with a message for bad arguments.
 */
enum ztg_control_status ztg_identity_control_command(struct ztg_identity_control *ic, int argc, char **argv,
						     bool json, FILE *out);

#endif
