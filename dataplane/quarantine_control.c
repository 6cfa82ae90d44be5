#include "quarantine_control.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_lcore.h>

#include "events.h"
#include "flow_drop.h"

struct ztg_quarantine_control {
	struct ztg_quarantine *table;
	struct ztg_flow_drop *drop;      /* NULL until the ports are attached */
	struct ztg_audit_log *audit;
	char path[PATH_MAX];             /* the state file; "" : nothing persists */
	/* What the last poll saw: the rules are reconciled only when these move. */
	uint64_t seen_added;
	uint32_t seen_active;
	bool seen_once;
	uint32_t view_max;
	struct ztg_quarantine_entry *view;   /* scratch for listings, view_max entries */
	uint64_t *keys;                      /* scratch for the rules held, view_max keys */
	uint64_t *live;                      /* scratch for the live sources' keys, view_max, sorted */
};

/* The longest quarantine an operator may give: ten years, in seconds. */
#define MAX_DURATION (10ll * 366 * 86400)

struct ztg_quarantine_control *ztg_quarantine_control_create(uint32_t capacity, const char *state_dir,
							     struct ztg_audit_log *audit, char *err, size_t err_len)
{
	struct ztg_quarantine_control *qc = calloc(1, sizeof(*qc));
	struct ztg_quarantine_stats stats;

	if (qc == NULL || (qc->table = ztg_quarantine_create(capacity, (int)rte_socket_id())) == NULL) {
		snprintf(err, err_len, "out of memory for %u quarantine entries (--quarantine-entries)", capacity);
		free(qc);
		return NULL;
	}
	ztg_quarantine_stats(qc->table, &stats);
	qc->view_max = stats.capacity;
	qc->view = calloc(qc->view_max, sizeof(*qc->view));
	qc->keys = calloc(qc->view_max, sizeof(*qc->keys));
	qc->live = calloc(qc->view_max, sizeof(*qc->live));
	if (qc->view == NULL || qc->keys == NULL || qc->live == NULL) {
		snprintf(err, err_len, "out of memory for the quarantine's listing");
		ztg_quarantine_control_free(qc);
		return NULL;
	}
	qc->audit = audit;
	if (state_dir != NULL && state_dir[0] != '\0') {
		snprintf(qc->path, sizeof(qc->path), "%s/quarantine.json", state_dir);
		if (ztg_quarantine_load(qc->table, qc->path, (int64_t)time(NULL), err, err_len) != 0) {
			ztg_quarantine_control_free(qc);
			return NULL;
		}
	}
	return qc;
}

void ztg_quarantine_control_free(struct ztg_quarantine_control *qc)
{
	if (qc == NULL)
		return;
	ztg_flow_drop_free(qc->drop);
	ztg_quarantine_free(qc->table);
	free(qc->view);
	free(qc->keys);
	free(qc->live);
	free(qc);
}

struct ztg_quarantine *ztg_quarantine_control_table(struct ztg_quarantine_control *qc)
{
	return qc->table;
}

int ztg_quarantine_control_attach_ports(struct ztg_quarantine_control *qc, const uint16_t *ports, uint16_t count,
					char *err, size_t err_len)
{
	qc->drop = ztg_flow_drop_create(ports, count);
	if (qc->drop == NULL) {
		snprintf(err, err_len, "cannot set up NIC drop rules for %u ports (at most %d)", count,
			 ZTG_FLOW_DROP_MAX_PORTS);
		return -1;
	}
	qc->seen_once = false;
	return 0;
}

/* "lab-idp alice" or "192.0.2.7/32": an entry's subject as the commands and the audit lines name it. */
static void subject_text(const struct ztg_quarantine_entry *e, char *out, size_t len)
{
	if (e->kind == ZTG_QUARANTINE_IDENTITY)
		snprintf(out, len, "%s %s", e->issuer, e->subject);
	else
		ztg_quarantine_format_source(e, out, len);
}

/* One audit line for a change the control thread made on its own (expiry); commands are audited by their caller. */
static void audit_change(struct ztg_quarantine_control *qc, const char *change, const struct ztg_quarantine_entry *e)
{
	char line[ZTG_AUDIT_LOG_LINE_MAX], stamp[32], subject[256];
	FILE *out;
	long len;

	if (qc->audit == NULL || (out = fmemopen(line, sizeof(line), "w")) == NULL)
		return;
	subject_text(e, subject, sizeof(subject));
	ztg_events_format_utc(time(NULL), stamp, sizeof(stamp));
	fprintf(out, "{\"timestamp\":\"%s\",\"quarantine\":{\"change\":\"%s\",\"kind\":\"%s\",\"origin\":\"%s\","
		"\"subject\":", stamp, change, ztg_quarantine_kind_name(e->kind), ztg_quarantine_origin_name(e->origin));
	ztg_events_write_string(out, subject);
	fprintf(out, ",\"reason\":");
	ztg_events_write_string(out, e->reason);
	fprintf(out, ",\"refused\":%" PRIu64 "}}\n", e->refused);
	len = ftell(out);
	fclose(out);
	ztg_audit_log_submit(qc->audit, line, len > 0 ? (size_t)len : 0);
}

static void on_expired(void *arg, const struct ztg_quarantine_entry *e)
{
	audit_change(arg, "expired", e);
}

static int by_key(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Every live source entry has its rules; every rule whose entry went is destroyed. */
static void reconcile_rules(struct ztg_quarantine_control *qc)
{
	uint32_t n = ztg_quarantine_list(qc->table, qc->view, qc->view_max), live = 0;
	uint32_t held = ztg_flow_drop_keys(qc->drop, qc->keys, qc->view_max);

	for (uint32_t i = 0; i < n; i++) {
		const struct ztg_quarantine_entry *e = &qc->view[i];
		char status[ZTG_QUARANTINE_HARDWARE_MAX];
		uint64_t key;

		if (e->kind != ZTG_QUARANTINE_SOURCE)
			continue;
		key = ztg_quarantine_key(qc->table, e);
		qc->live[live++] = key;
		if (ztg_flow_drop_has(qc->drop, key) && e->hardware[0] != '\0')
			continue;
		ztg_flow_drop_add(qc->drop, key, e->ip_version, e->addr, e->prefix, status, sizeof(status));
		ztg_quarantine_set_hardware(qc->table, e, status);
	}
	/* Sorted once, so the rules held are checked in log time: a table of thousands stays cheap. */
	qsort(qc->live, live, sizeof(*qc->live), by_key);
	for (uint32_t k = 0; k < held; k++)
		if (bsearch(&qc->keys[k], qc->live, live, sizeof(*qc->live), by_key) == NULL)
			ztg_flow_drop_del(qc->drop, qc->keys[k]);
}

void ztg_quarantine_control_poll(struct ztg_quarantine_control *qc, int64_t now)
{
	struct ztg_quarantine_stats stats;

	ztg_quarantine_expire(qc->table, now, on_expired, qc);
	if (qc->drop == NULL)
		return;
	ztg_quarantine_stats(qc->table, &stats);
	if (qc->seen_once && stats.added == qc->seen_added && stats.active == qc->seen_active)
		return;
	qc->seen_once = true;
	qc->seen_added = stats.added;
	qc->seen_active = stats.active;
	reconcile_rules(qc);
}

static void persist(struct ztg_quarantine_control *qc, FILE *out)
{
	char err[512];

	if (qc->path[0] != '\0' && ztg_quarantine_save(qc->table, qc->path, err, sizeof(err)) != 0)
		fprintf(out, "warning: %s; the change is in force but not persisted\n", err);
}

/* ------------------------------------------------------------- listing */

static void format_time(int64_t t, char *out, size_t len)
{
	if (t == 0)
		snprintf(out, len, "until deleted");
	else
		ztg_events_format_utc((time_t)t, out, len);
}

static void print_entry_json(FILE *out, const struct ztg_quarantine_entry *e, int64_t now)
{
	char source[64], since[32], until[32];

	fprintf(out, "{\"kind\":\"%s\",\"origin\":\"%s\"", ztg_quarantine_kind_name(e->kind),
		ztg_quarantine_origin_name(e->origin));
	if (e->kind == ZTG_QUARANTINE_IDENTITY) {
		fprintf(out, ",\"issuer\":");
		ztg_events_write_string(out, e->issuer);
		fprintf(out, ",\"subject\":");
		ztg_events_write_string(out, e->subject);
	} else {
		ztg_quarantine_format_source(e, source, sizeof(source));
		fprintf(out, ",\"source\":\"%s\",\"hardware\":", source);
		ztg_events_write_string_or_null(out, e->hardware);
	}
	ztg_events_format_utc((time_t)e->since, since, sizeof(since));
	fprintf(out, ",\"reason\":");
	ztg_events_write_string(out, e->reason);
	fprintf(out, ",\"since\":\"%s\"", since);
	if (e->until == 0) {
		fprintf(out, ",\"until\":null,\"expires_in\":null");
	} else {
		ztg_events_format_utc((time_t)e->until, until, sizeof(until));
		fprintf(out, ",\"until\":\"%s\",\"expires_in\":%" PRId64, until, e->until > now ? e->until - now : 0);
	}
	fprintf(out, ",\"refused\":%" PRIu64 "}", e->refused);
}

static int by_since(const void *a, const void *b)
{
	const struct ztg_quarantine_entry *x = a, *y = b;

	if (x->since != y->since)
		return x->since < y->since ? -1 : 1;
	return x->kind != y->kind ? (int)x->kind - (int)y->kind : strcmp(x->subject, y->subject);
}

/* The live entries, oldest first; blocks_only: `block list`. */
static void print_list(struct ztg_quarantine_control *qc, bool blocks_only, bool json, FILE *out)
{
	int64_t now = (int64_t)time(NULL);
	uint32_t n = ztg_quarantine_list(qc->table, qc->view, qc->view_max), shown = 0;
	struct ztg_flow_drop_stats rules = {0};
	struct ztg_quarantine_stats stats;

	qsort(qc->view, n, sizeof(*qc->view), by_since);
	ztg_quarantine_stats(qc->table, &stats);
	if (qc->drop != NULL)
		ztg_flow_drop_stats(qc->drop, &rules);
	if (json)
		fprintf(out, "{\"capacity\":%u,\"active\":%u,\"full\":%" PRIu64 ",\"refused\":%" PRIu64
			",\"nic_rules\":%u,\"nic_refusals\":%" PRIu64 ",\"entries\":[",
			stats.capacity, stats.active, stats.full, stats.refused, rules.rules, rules.refused);
	for (uint32_t i = 0; i < n; i++) {
		const struct ztg_quarantine_entry *e = &qc->view[i];
		char subject[256], until[40];

		if (blocks_only && e->origin != ZTG_QUARANTINE_BLOCK)
			continue;
		if (json) {
			fprintf(out, "%s", shown ? "," : "");
			print_entry_json(out, e, now);
		} else {
			if (shown == 0)
				fprintf(out, "%-8s  %-36s  %-9s  %-20s  %8s  %s\n", "KIND", "SUBJECT", "ORIGIN", "UNTIL",
					"REFUSED", "REASON");
			subject_text(e, subject, sizeof(subject));
			format_time(e->until, until, sizeof(until));
			fprintf(out, "%-8s  %-36s  %-9s  %-20s  %8" PRIu64 "  %s\n", ztg_quarantine_kind_name(e->kind),
				subject, ztg_quarantine_origin_name(e->origin), until, e->refused, e->reason);
			if (e->kind == ZTG_QUARANTINE_SOURCE)
				fprintf(out, "%-8s  %-36s  hardware: %s\n", "", "",
					e->hardware[0] ? e->hardware : "not programmed yet");
		}
		shown++;
	}
	if (json)
		fprintf(out, "]}\n");
	else if (shown == 0)
		fprintf(out, "nothing %s\n", blocks_only ? "blocked" : "quarantined");
	else
		fprintf(out, "%u of %u entries in use; %u rte_flow rules in the NICs, %" PRIu64 " refused by their PMDs\n",
			stats.active, stats.capacity, rules.rules, rules.refused);
}

/* ------------------------------------------------------------- editing */

/*
 * The subject operands of add and del into e: `identity ISSUER SUBJECT` or
 * `source ADDR[/PREFIX]` (block: just the prefix). Returns how many
 * operands it took, or -1 with a message on out.
 */
static int parse_subject(bool block, int argc, char **argv, struct ztg_quarantine_entry *e, FILE *out)
{
	char err[256];

	if (!block && argc >= 1 && strcmp(argv[0], "identity") == 0) {
		if (argc < 3) {
			fprintf(out, "identity needs ISSUER and SUBJECT (the issuer's policy name, or api-key)\n");
			return -1;
		}
		if (strlen(argv[1]) >= sizeof(e->issuer) || strlen(argv[2]) >= sizeof(e->subject)) {
			fprintf(out, "issuer or subject too long (at most %zu and %zu bytes)\n", sizeof(e->issuer) - 1,
				sizeof(e->subject) - 1);
			return -1;
		}
		e->kind = ZTG_QUARANTINE_IDENTITY;
		snprintf(e->issuer, sizeof(e->issuer), "%s", argv[1]);
		snprintf(e->subject, sizeof(e->subject), "%s", argv[2]);
		return 3;
	}
	if (!block && (argc < 2 || strcmp(argv[0], "source") != 0)) {
		fprintf(out, "say identity ISSUER SUBJECT or source ADDR[/PREFIX]\n");
		return -1;
	}
	if (block && argc < 1) {
		fprintf(out, "say which ADDR[/PREFIX] to block\n");
		return -1;
	}
	e->kind = ZTG_QUARANTINE_SOURCE;
	if (ztg_quarantine_parse_source(argv[block ? 0 : 1], e, err, sizeof(err)) != 0) {
		fprintf(out, "%s\n", err);
		return -1;
	}
	return block ? 1 : 2;
}

/* [--for SECONDS] [--reason TEXT] after the subject. -1 with a message on out. */
static int parse_terms(int argc, char **argv, struct ztg_quarantine_entry *e, FILE *out)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--for") == 0 && i + 1 < argc) {
			char *end;
			long long s;

			errno = 0;
			s = strtoll(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i] || s < 0 || s > MAX_DURATION) {
				fprintf(out, "--for takes seconds, 0 (until deleted) to %lld, not '%s'\n", MAX_DURATION,
					argv[i]);
				return -1;
			}
			e->until = s == 0 ? 0 : e->since + s;
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			snprintf(e->reason, sizeof(e->reason), "%s", argv[++i]);
		} else {
			fprintf(out, "unexpected '%s' (options: --for SECONDS, --reason TEXT)\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

static enum ztg_control_status edit(struct ztg_quarantine_control *qc, bool block, bool add, int argc, char **argv,
				    FILE *out)
{
	struct ztg_quarantine_entry e = {
		.origin = block ? ZTG_QUARANTINE_BLOCK : ZTG_QUARANTINE_OPERATOR,
		.since = (int64_t)time(NULL),
	};
	char subject[256], until[40];
	int taken = parse_subject(block, argc, argv, &e, out), rc;

	if (taken < 0)
		return ZTG_CONTROL_USAGE;
	if (add) {
		snprintf(e.reason, sizeof(e.reason), "%s", block ? "blocked by an operator" : "quarantined by an operator");
		if (parse_terms(argc - taken, argv + taken, &e, out) < 0)
			return ZTG_CONTROL_USAGE;
	} else if (argc != taken) {
		fprintf(out, "unexpected '%s' after the subject\n", argv[taken]);
		return ZTG_CONTROL_USAGE;
	}
	subject_text(&e, subject, sizeof(subject));
	if (!add) {
		if (!ztg_quarantine_del(qc->table, &e)) {
			fprintf(out, "%s %s: was not %s\n", ztg_quarantine_kind_name(e.kind), subject,
				block ? "blocked" : "quarantined");
			return ZTG_CONTROL_NEGATIVE;
		}
		ztg_quarantine_control_poll(qc, e.since);
		persist(qc, out);
		fprintf(out, "%s %s: released, from the next request\n", ztg_quarantine_kind_name(e.kind), subject);
		return ZTG_CONTROL_OK;
	}
	rc = ztg_quarantine_add(qc->table, &e);
	if (rc < 0) {
		fprintf(out, "%s %s: the quarantine table is full (--quarantine-entries)\n",
			ztg_quarantine_kind_name(e.kind), subject);
		return ZTG_CONTROL_NEGATIVE;
	}
	ztg_quarantine_control_poll(qc, e.since);
	persist(qc, out);
	format_time(e.until, until, sizeof(until));
	fprintf(out, "%s %s: %s %s%s, from the next %s%s\n", ztg_quarantine_kind_name(e.kind), subject,
		block ? "blocked" : "quarantined", e.until == 0 ? "" : "until ", until, block ? "packet" : "request",
		rc == 0 ? " (it was there already: renewed)" : "");
	return ZTG_CONTROL_OK;
}

enum ztg_control_status ztg_quarantine_control_command(struct ztg_quarantine_control *qc, int argc, char **argv,
						       bool json, FILE *out)
{
	bool block = strcmp(argv[0], "block") == 0;
	char *args[16];
	int n = 0;

	/* --json only shapes listings; the operands are what is left. */
	for (int i = 1; i < argc && n < (int)(sizeof(args) / sizeof(args[0])); i++) {
		if (strcmp(argv[i], "--json") != 0)
			args[n++] = argv[i];
	}
	if (n == 0 || strcmp(args[0], "list") == 0) {
		print_list(qc, block, json, out);
		return ZTG_CONTROL_OK;
	}
	if (strcmp(args[0], "add") == 0 || strcmp(args[0], "del") == 0)
		return edit(qc, block, args[0][0] == 'a', n - 1, args + 1, out);
	if (block)
		fprintf(out, "usage: block list | add ADDR[/PREFIX] [--for SECONDS] [--reason TEXT] | del ADDR[/PREFIX]\n");
	else
		fprintf(out, "usage: quarantine list | add (identity ISSUER SUBJECT | source ADDR[/PREFIX]) "
			     "[--for SECONDS] [--reason TEXT] | del (identity ISSUER SUBJECT | source ADDR[/PREFIX])\n");
	return ZTG_CONTROL_USAGE;
}
