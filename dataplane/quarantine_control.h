/*
 * The control process's side of the quarantine (policy/quarantine.h): the
 * operator's commands (`quarantine list|add|del`, `block list|add|del`),
 * expiry, persistence of the operator's entries in the state directory, and
 * the NIC drop rules (flow_drop.h) that follow every quarantined or blocked
 * source while it lasts.
 *
 * Workers add automatic quarantines to the shared table on their own; the
 * poll here notices them (the table's add and active counts move) and gives
 * each source its rules, and removes the rules of entries that are gone.
 * Every change the control thread makes, expiry included, leaves an audit
 * line. Main lcore only.
 */
#ifndef ZTG_QUARANTINE_CONTROL_H
#define ZTG_QUARANTINE_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../control/control_socket.h"
#include "audit_log.h"
#include "policy/quarantine.h"

struct ztg_quarantine_control;

/*
 * capacity: entries (quarantine.h rounds it). state_dir: where the
 * operator's entries persist ("" or NULL: nowhere); its file is loaded now.
 * audit: where changes are logged (NULL: nowhere). NULL with err on failure
 * (a bad state file names file:line).
 */
struct ztg_quarantine_control *ztg_quarantine_control_create(uint32_t capacity, const char *state_dir,
							     struct ztg_audit_log *audit, char *err, size_t err_len);
void ztg_quarantine_control_free(struct ztg_quarantine_control *qc);

/* The table the workers share. */
struct ztg_quarantine *ztg_quarantine_control_table(struct ztg_quarantine_control *qc);

/* The ingress ports to program drop rules on, once they are started. 0, or -1 with err. */
int ztg_quarantine_control_attach_ports(struct ztg_quarantine_control *qc, const uint16_t *ports, uint16_t count,
					char *err, size_t err_len);

/* Expire what is due and bring the NIC rules in line with the table. Cheap when nothing changed. */
void ztg_quarantine_control_poll(struct ztg_quarantine_control *qc, int64_t now);

/*
 * "quarantine list|add|del ...", "block list|add|del ...". Returns
 * ZTG_CONTROL_USAGE with a message for bad arguments, ZTG_CONTROL_FAILED when
 * a del finds nothing or the table is full.
 */
enum ztg_control_status ztg_quarantine_control_command(struct ztg_quarantine_control *qc, int argc, char **argv,
						       bool json, FILE *out);

#endif
