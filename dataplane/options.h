/*
 * ztgate's own options: their defaults, the command line after EAL's "--",
 * the libconfig file (--config), validation and the usage text.
 *
 * One table describes every option; the command line and the file go through
 * the same setters, so an option means the same thing wherever it is written
 * and the command line always wins over the file. Everything is range-checked
 * here: the rest of the program trusts struct ztg_options. Knows nothing of
 * EAL: whether lcores and ports exist is checked by main against the EAL.
 */
#ifndef ZTG_OPTIONS_H
#define ZTG_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flow/flow_table.h"
#include "http/http_parser.h"
#include "stream/tcp_stream.h"

#define ZTG_MAX_PAIRS   32
#define ZTG_MAX_WORKERS 128
#define ZTG_MAX_BURST   256
#define ZTG_MAX_HTTP_PORTS 16

enum ztg_action {
	ZTG_ACTION_PASS = 0,
	ZTG_ACTION_DROP = 1,
};

/* What a worker does with IP fragments. */
enum ztg_fragment_mode {
	ZTG_FRAGMENTS_REASSEMBLE = 0, /* hold, reassemble with rte_ip_frag, inspect, forward re-fragmented */
	ZTG_FRAGMENTS_DROP,
	ZTG_FRAGMENTS_PASS,           /* forward untracked and uninspected */
};

/* Bounds of the per-worker fragment table. */
struct ztg_fragment_limits {
	uint32_t trains;              /* datagrams being reassembled at once */
	uint32_t timeout_ms;          /* a train not complete by then is dropped */
};

/* What ztgate does to a flow it stops. */
enum ztg_verdict {
	ZTG_VERDICT_DENY = 0,   /* HTTP 403 to the client, RST to the server */
	ZTG_VERDICT_RESET,      /* RST to both ends */
	ZTG_VERDICT_DROP,       /* silently drop this and every later packet of the flow */
};

struct ztg_port_pair {
	uint16_t port[2];
};

struct ztg_options {
	char config_file[PATH_MAX];
	struct ztg_port_pair pairs[ZTG_MAX_PAIRS];
	uint16_t pair_count;
	uint16_t worker_lcores[ZTG_MAX_WORKERS];
	uint16_t worker_count;           /* 0: every EAL worker lcore */
	uint16_t burst;
	uint16_t rx_descriptors;
	uint16_t tx_descriptors;
	uint32_t mbufs;                  /* 0: sized from ports, queues and descriptors */
	uint32_t flows_per_worker;
	bool flow_full_open;             /* pass untracked when the table is full */
	bool tcp_midstream_allow;
	enum ztg_action non_ip;
	enum ztg_fragment_mode fragments;
	struct ztg_fragment_limits fragment_limits;
	struct ztg_flow_timeouts timeouts;
	bool forward_only;
	bool promiscuous;
	uint32_t stats_interval;         /* seconds, 0 = never */
	uint32_t duration;               /* seconds, 0 = until signalled */
	uint32_t exit_on_idle_ms;        /* 0 = never */
	char stats_json[PATH_MAX];
	char ready_file[PATH_MAX];
	uint16_t http_ports[ZTG_MAX_HTTP_PORTS];
	uint16_t http_port_count;
	enum ztg_verdict http_violation;
	bool http_tunnel_pass;
	struct ztg_http_limits http_limits;
	uint32_t http_buffers;
	struct ztg_stream_config stream;
	uint32_t stream_chunks;
	uint32_t token_cache_entries;    /* per worker; 0: every token is verified */
	uint32_t signature_streams;      /* bodies scanned at once per worker and direction */
	uint32_t rate_buckets;           /* rate limit buckets, all workers together (rounded up to 2^n) */
	uint32_t behaviour_entries;      /* behaviour table entries, all workers together (rounded up to 2^n) */
	uint32_t quarantine_entries;     /* quarantine table entries (rounded up to 2^n) */
	char event_log[PATH_MAX];        /* empty: stdout */
	uint64_t event_log_max_bytes;    /* rotate the event log before it passes this; 0: never */
	uint32_t event_log_keep;         /* rotated copies kept: PATH.1 (newest) .. PATH.N; 0: none */
	int event_syslog;                /* syslog facility (LOG_DAEMON, ...) events also go to; -1: none */
	double event_sample_allowed;     /* fraction of allowed requests logged as "allow" events, 0..1 */
	uint64_t event_sample_threshold; /* llround(rate * 2^32): logged when the request id's 32-bit hash is below */
	char policy_file[PATH_MAX];      /* empty: no policy, nothing is authorized */
	char control_socket[108];        /* unix socket for ztgatectl; empty: none */
	char state_dir[PATH_MAX];        /* where the last good policy is kept; empty: nowhere */
	char metrics[64];                /* ADDR:PORT serving GET /metrics; empty: none */
};

const char *ztg_verdict_name(enum ztg_verdict verdict);

/* Fill *opts with the defaults. */
void ztg_options_default(struct ztg_options *opts);

/*
 * Parse ztgate's arguments (argv[0] is the program name). Loads --config
 * first, then applies the command line over it.
 * Returns 0 on success, 1 when --help was asked (usage already printed to
 * stdout), -1 with a message in err ("--burst: 0 is out of range 1..256",
 * "ztgate.cfg:12: unknown option 'brust'").
 */
int ztg_options_parse(int argc, char **argv, struct ztg_options *opts, char *err, size_t err_len);

/* Load a libconfig file over *opts. Same return convention as above (0 / -1). */
int ztg_options_load_file(const char *path, struct ztg_options *opts, char *err, size_t err_len);

void ztg_options_usage(FILE *out, const char *program);

/* Print the effective configuration, one "key = value" per line. */
void ztg_options_print(FILE *out, const struct ztg_options *opts);

const char *ztg_action_name(enum ztg_action action);
const char *ztg_fragment_mode_name(enum ztg_fragment_mode mode);

#endif
