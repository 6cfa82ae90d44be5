/*
 * Events: what a worker decided about a flow or a request and why, carried
 * to the event writer (audit_log.h), which writes them as JSON lines
 * (--event-log, --event-syslog).
 *
 * Workers enqueue fixed-size records into one multi-producer rte_ring and
 * never wait: when the ring is full the event is counted as dropped by the
 * worker and lost. The writer's thread is the only consumer. Records hold no
 * secrets: the path without its query, never headers or bodies.
 */
#ifndef ZTG_EVENTS_H
#define ZTG_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <rte_ring.h>

#include "flow/flow_key.h"

#define ZTG_EVENT_PATH_MAX   96
#define ZTG_EVENT_REASON_MAX 48
#define ZTG_EVENT_NAME_MAX   65     /* a policy name: 64 characters and the NUL */
#define ZTG_EVENT_DETAIL_MAX 96
#define ZTG_EVENT_SUBJECT_MAX 129   /* as ZTG_IDENTITY_SUBJECT_MAX + 1 */
#define ZTG_EVENT_KID_MAX    65
#define ZTG_EVENT_RULES_MAX  16     /* as ZTG_DETECT_MAX_MATCHES */

enum ztg_event_action {
	ZTG_EVENT_ACTION_DENY = 1,     /* 403 to the client, RST to the server */
	ZTG_EVENT_ACTION_RESET,        /* RST both ways */
	ZTG_EVENT_ACTION_DROP,         /* this packet and the rest of the flow dropped */
	ZTG_EVENT_ACTION_PASS,         /* passed on purpose, but worth recording (e.g. a tunnel allowed) */
	ZTG_EVENT_ACTION_ALLOW,        /* an allowed request, logged in full or sampled (--event-sample-allowed) */
	ZTG_EVENT_ACTION_ALERT,        /* behaviour: an anomaly or an abuse signal; the request itself went on */
	ZTG_EVENT_ACTION_QUARANTINE,   /* behaviour: the risk score quarantined an identity or a source */
};

/* Whose behaviour an ALERT or QUARANTINE event is about. */
enum ztg_event_scope {
	ZTG_EVENT_SCOPE_NONE,
	ZTG_EVENT_SCOPE_IDENTITY,      /* a verified caller */
	ZTG_EVENT_SCOPE_SOURCE,        /* a source address (anonymous callers, failed credentials) */
	ZTG_EVENT_SCOPE_ROUTE,         /* a route, all callers together */
};

/* The figures behind an ALERT or QUARANTINE event. */
struct ztg_event_behaviour {
	uint8_t scope;                 /* enum ztg_event_scope; NONE: not a behaviour event */
	uint8_t figure;                /* enum ztg_behaviour_figure that crossed */
	bool by_limit;                 /* crossed its absolute limit, not its baseline */
	uint32_t window;               /* seconds */
	uint64_t current;              /* the window's figure */
	double baseline;               /* per window */
	double factor;
	uint64_t bound;                /* the floor, or the limit when by_limit */
	double risk;                   /* the subject's risk score after this */
	double threshold;              /* the score that quarantines */
	uint32_t quarantine;           /* QUARANTINE: seconds (0: until deleted) */
};

struct ztg_event {
	uint64_t tsc;
	uint64_t request_id;           /* 0 when the event is about a flow, not a request */
	struct ztg_flow_key flow;
	uint8_t initiator;             /* flow endpoint that opened the connection (the client) */
	uint8_t action;                /* enum ztg_event_action */
	uint16_t lcore;
	uint32_t request_index;        /* request number on the connection */
	uint64_t bytes[2];             /* the flow's bytes so far: [0] from the client, [1] from the server */
	char reason[ZTG_EVENT_REASON_MAX];
	char method[16];
	char path[ZTG_EVENT_PATH_MAX];
	/* Set when a policy decided: where the request was placed, and whether it was enforced. */
	bool policy;
	bool monitor;                  /* monitor mode: the action was logged, not taken */
	char segment[ZTG_EVENT_NAME_MAX];
	char service[ZTG_EVENT_NAME_MAX];
	char route[ZTG_EVENT_NAME_MAX];
	char host[ZTG_EVENT_NAME_MAX];  /* canonical Host of the request, cut to fit */
	/* Who sent it, when a credential said so; never the token, a signature or a key. */
	char detail[ZTG_EVENT_DETAIL_MAX];     /* what exactly failed: a scope, a claim, "{tenant}" */
	bool identified;
	char issuer[ZTG_EVENT_NAME_MAX];       /* the issuer's policy name, or "api-key" */
	char subject[ZTG_EVENT_SUBJECT_MAX];
	char kid[ZTG_EVENT_KID_MAX];           /* the token's kid, or the API key's id */
	/* Signatures that matched (their ids and fields, the first ZTG_EVENT_RULES_MAX) and the anomaly score. */
	uint8_t rule_count;
	uint32_t score;
	uint32_t rules[ZTG_EVENT_RULES_MAX];
	uint8_t rule_fields[ZTG_EVENT_RULES_MAX];   /* the field each rule matched in: enum ztg_sig_field */
	struct ztg_event_behaviour behaviour;
};

/* A ring for `count` events (rounded up to a power of two). NULL with rte_errno set on failure. */
struct rte_ring *ztg_events_ring_create(unsigned int count);

/* Worker side: never blocks. Returns 0, or -1 when the ring is full (the caller counts it). */
static inline int ztg_events_push(struct rte_ring *ring, const struct ztg_event *event)
{
	/* DPDK's prototype is not const-qualified; the ring only reads the record. */
	return rte_ring_mp_enqueue_elem(ring, (void *)(uintptr_t)event, sizeof(*event)) == 0 ? 0 : -1;
}

/* "ztg-" and 16 hex digits: the id the 403 body and the event share. */
void ztg_events_format_request_id(uint64_t request_id, char *out, size_t out_len);

/*
 * s as a JSON string, quotes included. Bytes outside printable ASCII are
 * written as \u00XX, so the output is valid JSON whatever bytes a path or a
 * name holds. Every JSON document ztgate writes uses it.
 */
void ztg_events_write_string(FILE *out, const char *s);

/* The same, or null when s is NULL or empty: a name not known (yet). */
void ztg_events_write_string_or_null(FILE *out, const char *s);

/* t as ISO 8601 UTC with seconds ("2026-11-24T17:10:52Z"). */
void ztg_events_format_utc(time_t t, char *buf, size_t len);

/* One event as one JSON line, as the drain writes it. */
void ztg_events_write_json(FILE *out, const struct ztg_event *e, double wall_start, uint64_t tsc_start,
			   uint64_t tsc_hz);

/* Called for each drained event, after it is written (the API inventory and top feed on them). */
typedef void (*ztg_events_observer)(void *arg, const struct ztg_event *event, double when);

#endif
