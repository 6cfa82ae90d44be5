#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <rte_common.h>

#include "error_text.h"
#include "audit_log.h"
#include "auth/token_cache.h"
#include "control_socket.h"
#include "metrics_http.h"

/* Bounds on what a config file may hold, so a bad file cannot make us loop or
 * allocate without limit. */
#define CONFIG_MAX_ERRORS   8
#define CONFIG_VALUE_MAX    1024

typedef int (*option_setter)(struct ztg_options *opts, const char *value, char *err, size_t err_len);

struct option_spec {
	const char *name;        /* long option; with '-' read as '_' also the config key */
	int short_name;          /* 0 when there is none */
	bool takes_value;        /* false: a flag (config files write it as a boolean) */
	option_setter set;
	const char *value_name;
	const char *default_text;
	const char *help;
	bool named_values;       /* NAME=VALUE, repeatable; a group in config files */
};

/* Whole-string unsigned parse with an inclusive range check. */
static int parse_u64(const char *value, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t err_len)
{
	char *end;
	unsigned long long v;

	if (value == NULL || *value == '\0')
		return ztg_error_fail(err, err_len, "a number is required");
	if (*value == '-' || *value == '+')
		return ztg_error_fail(err, err_len, "'%s' is not an unsigned number", value);
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0')
		return ztg_error_fail(err, err_len, "'%s' is not a number", value);
	if (v < min || v > max)
		return ztg_error_fail(err, err_len, "%llu is out of range %" PRIu64 "..%" PRIu64, v, min, max);
	*out = v;
	return 0;
}

static int parse_choice(const char *value, const char *if_true, const char *if_false, bool *out,
			char *err, size_t err_len)
{
	if (value != NULL && strcmp(value, if_true) == 0)
		*out = true;
	else if (value != NULL && strcmp(value, if_false) == 0)
		*out = false;
	else
		return ztg_error_fail(err, err_len, "'%s' is not one of %s, %s", value ? value : "", if_true, if_false);
	return 0;
}

/* A flag: absent value (command line) means on; files say true/false. */
static int parse_flag(const char *value, bool *out, char *err, size_t err_len)
{
	if (value == NULL) {
		*out = true;
		return 0;
	}
	return parse_choice(value, "true", "false", out, err, err_len);
}

static int parse_action(const char *value, enum ztg_action *out, char *err, size_t err_len)
{
	bool drop = false;

	if (parse_choice(value, "drop", "pass", &drop, err, err_len) < 0)
		return -1;
	*out = drop ? ZTG_ACTION_DROP : ZTG_ACTION_PASS;
	return 0;
}

static int set_config(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	if (strlen(value) >= sizeof(opts->config_file))
		return ztg_error_fail(err, err_len, "path is too long");
	strcpy(opts->config_file, value);
	return 0;
}

static int set_path(char *dst, size_t dst_len, const char *value, char *err, size_t err_len)
{
	if (*value == '\0')
		return ztg_error_fail(err, err_len, "an empty path");
	if (strlen(value) >= dst_len)
		return ztg_error_fail(err, err_len, "path is too long");
	strcpy(dst, value);
	return 0;
}

/* "0:1,2:3": each port in at most one pair, a port never paired with itself. */
static int set_pairs(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	struct ztg_port_pair pairs[ZTG_MAX_PAIRS];
	uint16_t count = 0;
	const char *p = value;

	while (*p != '\0') {
		unsigned long a, b;
		char *end;

		if (count == ZTG_MAX_PAIRS)
			return ztg_error_fail(err, err_len, "more than %d pairs", ZTG_MAX_PAIRS);
		errno = 0;
		a = strtoul(p, &end, 10);
		if (end == p || *end != ':' || errno != 0 || a >= UINT16_MAX)
			return ztg_error_fail(err, err_len, "'%s': expected PORT:PORT[,PORT:PORT...]", value);
		p = end + 1;
		b = strtoul(p, &end, 10);
		if (end == p || (*end != ',' && *end != '\0') || errno != 0 || b >= UINT16_MAX)
			return ztg_error_fail(err, err_len, "'%s': expected PORT:PORT[,PORT:PORT...]", value);
		if (a == b)
			return ztg_error_fail(err, err_len, "port %lu paired with itself", a);
		for (uint16_t i = 0; i < count; i++) {
			for (int side = 0; side < 2; side++) {
				if (pairs[i].port[side] == a || pairs[i].port[side] == b)
					return ztg_error_fail(err, err_len, "port %u is in more than one pair",
						    pairs[i].port[side]);
			}
		}
		pairs[count].port[0] = (uint16_t)a;
		pairs[count].port[1] = (uint16_t)b;
		count++;
		p = *end == ',' ? end + 1 : end;
	}
	if (count == 0)
		return ztg_error_fail(err, err_len, "no pair given");
	memcpy(opts->pairs, pairs, sizeof(pairs[0]) * count);
	opts->pair_count = count;
	return 0;
}

/* "1-3,5": lcore ids in ranges, no repeats. */
static int set_workers(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	uint16_t lcores[ZTG_MAX_WORKERS];
	uint16_t count = 0;
	const char *p = value;

	while (*p != '\0') {
		unsigned long first, last;
		char *end;

		errno = 0;
		first = strtoul(p, &end, 10);
		if (end == p || errno != 0 || first > 1023)
			return ztg_error_fail(err, err_len, "'%s': expected LCORE[-LCORE][,...] with lcores 0..1023", value);
		last = first;
		if (*end == '-') {
			p = end + 1;
			last = strtoul(p, &end, 10);
			if (end == p || errno != 0 || last > 1023 || last < first)
				return ztg_error_fail(err, err_len, "'%s': bad lcore range", value);
		}
		if (*end != ',' && *end != '\0')
			return ztg_error_fail(err, err_len, "'%s': expected LCORE[-LCORE][,...]", value);
		for (unsigned long l = first; l <= last; l++) {
			for (uint16_t i = 0; i < count; i++) {
				if (lcores[i] == l)
					return ztg_error_fail(err, err_len, "lcore %lu listed twice", l);
			}
			if (count == ZTG_MAX_WORKERS)
				return ztg_error_fail(err, err_len, "more than %d workers", ZTG_MAX_WORKERS);
			lcores[count++] = (uint16_t)l;
		}
		p = *end == ',' ? end + 1 : end;
	}
	if (count == 0)
		return ztg_error_fail(err, err_len, "no lcore given");
	memcpy(opts->worker_lcores, lcores, sizeof(lcores[0]) * count);
	opts->worker_count = count;
	return 0;
}

#define NUMBER_SETTER(fn, field, type, min, max)                                                  \
	static int fn(struct ztg_options *opts, const char *value, char *err, size_t err_len)    \
	{                                                                                         \
		uint64_t v = 0;                                                                   \
		if (parse_u64(value, (min), (max), &v, err, err_len) < 0)                         \
			return -1;                                                                \
		opts->field = (type)v;                                                            \
		return 0;                                                                         \
	}

NUMBER_SETTER(set_burst, burst, uint16_t, 1, ZTG_MAX_BURST)
NUMBER_SETTER(set_rx_descriptors, rx_descriptors, uint16_t, 64, 32768)
NUMBER_SETTER(set_tx_descriptors, tx_descriptors, uint16_t, 64, 32768)
NUMBER_SETTER(set_mbufs, mbufs, uint32_t, 1024, 1u << 26)
NUMBER_SETTER(set_flows, flows_per_worker, uint32_t, 8, 1u << 26)
NUMBER_SETTER(set_stats_interval, stats_interval, uint32_t, 0, 86400)
NUMBER_SETTER(set_duration, duration, uint32_t, 0, 365u * 86400)
NUMBER_SETTER(set_exit_on_idle, exit_on_idle_ms, uint32_t, 0, 3600u * 1000)

static int set_flow_full(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_choice(value, "open", "closed", &opts->flow_full_open, err, err_len);
}

static int set_tcp_midstream(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_choice(value, "allow", "drop", &opts->tcp_midstream_allow, err, err_len);
}

static int set_non_ip(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_action(value, &opts->non_ip, err, err_len);
}

static int set_fragments(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	for (int m = ZTG_FRAGMENTS_REASSEMBLE; m <= ZTG_FRAGMENTS_PASS; m++) {
		if (strcmp(value, ztg_fragment_mode_name((enum ztg_fragment_mode)m)) == 0) {
			opts->fragments = (enum ztg_fragment_mode)m;
			return 0;
		}
	}
	return ztg_error_fail(err, err_len, "'%s' is not one of reassemble, drop, pass", value);
}

static int set_forward_only(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_flag(value, &opts->forward_only, err, err_len);
}

static int set_promiscuous(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_choice(value, "on", "off", &opts->promiscuous, err, err_len);
}

static int set_stats_json(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_path(opts->stats_json, sizeof(opts->stats_json), value, err, err_len);
}

static int set_ready_file(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_path(opts->ready_file, sizeof(opts->ready_file), value, err, err_len);
}

/* A NAME=VALUE option: each name is one numeric field of struct ztg_options. */
struct named_field {
	const char *name;
	size_t offset;
	uint8_t size;              /* 2 or 4 bytes */
	uint32_t min;
	uint32_t max;
};

#define NAMED(name, member, lo, hi) \
	{name, offsetof(struct ztg_options, member), sizeof(((struct ztg_options *)0)->member), lo, hi}

static const struct named_field timeout_fields[] = {
	NAMED("tcp-embryonic",   timeouts.tcp_embryonic,   1, 7u * 86400),
	NAMED("tcp-established", timeouts.tcp_established, 1, 7u * 86400),
	NAMED("tcp-closing",     timeouts.tcp_closing,     1, 7u * 86400),
	NAMED("tcp-closed",      timeouts.tcp_closed,      1, 7u * 86400),
	NAMED("udp",             timeouts.udp,             1, 7u * 86400),
	NAMED("other",           timeouts.other,           1, 7u * 86400),
	{NULL, 0, 0, 0, 0},
};

static const struct named_field http_limit_fields[] = {
	NAMED("start-line",  http_limits.max_start_line,  16, 65536),
	NAMED("header-line", http_limits.max_header_line, 16, 65536),
	NAMED("headers",     http_limits.max_headers,     1, ZTG_HTTP_MAX_HEADERS),
	NAMED("head-bytes",  http_limits.max_head_bytes,  64, 1u << 20),
	NAMED("pipelined",   http_limits.max_pipelined,   1, 32),
	{NULL, 0, 0, 0, 0},
};

static const struct named_field fragment_limit_fields[] = {
	NAMED("trains",     fragment_limits.trains,     16, 1u << 20),
	NAMED("timeout-ms", fragment_limits.timeout_ms, 10, 120000),
	{NULL, 0, 0, 0, 0},
};

static const struct named_field stream_limit_fields[] = {
	/* The stream layer holds at most ZTG_STREAM_MAX_OOO_CHUNKS chunks out of order per direction. */
	NAMED("ooo-segments", stream.max_ooo_segments, 1, ZTG_STREAM_MAX_OOO_CHUNKS),
	NAMED("ooo-bytes",    stream.max_ooo_bytes,    1, ZTG_STREAM_MAX_OOO_CHUNKS * ZTG_STREAM_CHUNK_SIZE),
	NAMED("retain-bytes", stream.retain_bytes,     0, 1u << 24),
	NAMED("depth",        stream.depth,            0, UINT32_MAX),
	{NULL, 0, 0, 0, 0},
};

/* "NAME=VALUE"; config files may spell NAME with '_' like every key. */
static int set_named(struct ztg_options *opts, const char *value, const struct named_field *fields,
		     char *err, size_t err_len)
{
	const char *eq = strchr(value, '=');
	char name[32], known[256] = "";
	uint64_t v = 0;
	size_t len;

	if (eq == NULL || eq == value || (size_t)(eq - value) >= sizeof(name))
		return ztg_error_fail(err, err_len, "'%s': expected NAME=VALUE", value);
	len = (size_t)(eq - value);
	for (size_t i = 0; i < len; i++)
		name[i] = value[i] == '_' ? '-' : value[i];
	name[len] = '\0';
	for (const struct named_field *f = fields; f->name != NULL; f++) {
		if (strcmp(name, f->name) != 0)
			continue;
		if (parse_u64(eq + 1, f->min, f->max, &v, err, err_len) < 0)
			return -1;
		if (f->size == sizeof(uint16_t)) {
			uint16_t v16 = (uint16_t)v;

			memcpy((char *)opts + f->offset, &v16, sizeof(v16));
		} else {
			uint32_t v32 = (uint32_t)v;

			memcpy((char *)opts + f->offset, &v32, sizeof(v32));
		}
		return 0;
	}
	for (const struct named_field *f = fields; f->name != NULL; f++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", f == fields ? "" : ", ",
			 f->name);
	return ztg_error_fail(err, err_len, "unknown name '%s' (%s)", name, known);
}

static int set_fragment_limit(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_named(opts, value, fragment_limit_fields, err, err_len);
}

static int set_timeout(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_named(opts, value, timeout_fields, err, err_len);
}

static int set_http_limit(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_named(opts, value, http_limit_fields, err, err_len);
}

static int set_stream_limit(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_named(opts, value, stream_limit_fields, err, err_len);
}

/* "80,8080": TCP server ports whose connections are parsed as HTTP. */
static int set_http_ports(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	uint16_t ports[ZTG_MAX_HTTP_PORTS];
	uint16_t count = 0;
	const char *p = value;

	while (*p != '\0') {
		char *end;
		unsigned long port;

		errno = 0;
		port = strtoul(p, &end, 10);
		if (end == p || errno != 0 || port == 0 || port > UINT16_MAX || (*end != ',' && *end != '\0'))
			return ztg_error_fail(err, err_len, "'%s': expected PORT[,PORT...] with ports 1..65535", value);
		if (count == ZTG_MAX_HTTP_PORTS)
			return ztg_error_fail(err, err_len, "more than %d ports", ZTG_MAX_HTTP_PORTS);
		ports[count++] = (uint16_t)port;
		p = *end == ',' ? end + 1 : end;
	}
	if (count == 0)
		return ztg_error_fail(err, err_len, "no port given");
	memcpy(opts->http_ports, ports, sizeof(ports[0]) * count);
	opts->http_port_count = count;
	return 0;
}

static int set_http_violation(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	for (int v = ZTG_VERDICT_DENY; v <= ZTG_VERDICT_DROP; v++) {
		if (strcmp(value, ztg_verdict_name((enum ztg_verdict)v)) == 0) {
			opts->http_violation = (enum ztg_verdict)v;
			return 0;
		}
	}
	return ztg_error_fail(err, err_len, "'%s' is not one of deny, reset, drop", value);
}

static int set_http_tunnel(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_choice(value, "pass", "deny", &opts->http_tunnel_pass, err, err_len);
}

static int set_stream_ooo(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return parse_choice(value, "buffer", "drop", &opts->stream.buffer_out_of_order, err, err_len);
}

static int set_policy(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_path(opts->policy_file, sizeof(opts->policy_file), value, err, err_len);
}

static int set_control_socket(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_path(opts->control_socket, sizeof(opts->control_socket), value, err, err_len);
}

static int set_state_dir(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_path(opts->state_dir, sizeof(opts->state_dir), value, err, err_len);
}

/* "127.0.0.1:9469" or "[::1]:9469", checked now so a typo stops ztgate before any port starts. */
static int set_metrics(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;

	if (strlen(value) >= sizeof(opts->metrics))
		return ztg_error_fail(err, err_len, "'%.80s' is too long for ADDR:PORT", value);
	if (ztg_metrics_parse_address(value, &addr, &addr_len, err, err_len) < 0)
		return -1;
	strcpy(opts->metrics, value);
	return 0;
}

static int set_event_log(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return set_path(opts->event_log, sizeof(opts->event_log), value, err, err_len);
}

static int set_event_log_max_bytes(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return ztg_audit_log_parse_size(value, &opts->event_log_max_bytes, err, err_len);
}

static int set_event_syslog(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return ztg_audit_log_parse_facility(value, &opts->event_syslog, err, err_len);
}

static int set_event_sample_allowed(struct ztg_options *opts, const char *value, char *err, size_t err_len)
{
	return ztg_audit_log_parse_rate(value, &opts->event_sample_allowed, &opts->event_sample_threshold, err,
					err_len);
}

NUMBER_SETTER(set_event_log_keep, event_log_keep, uint32_t, 0, ZTG_AUDIT_LOG_MAX_KEEP)

NUMBER_SETTER(set_stream_chunks, stream_chunks, uint32_t, 64, 1u << 24)
NUMBER_SETTER(set_http_buffers, http_buffers, uint32_t, 16, 1u << 20)
NUMBER_SETTER(set_token_cache, token_cache_entries, uint32_t, 0, 1u << 22)
NUMBER_SETTER(set_signature_streams, signature_streams, uint32_t, 1, 1u << 20)
NUMBER_SETTER(set_rate_buckets, rate_buckets, uint32_t, 64, 1u << 24)
NUMBER_SETTER(set_behaviour_entries, behaviour_entries, uint32_t, 64, 1u << 24)
NUMBER_SETTER(set_quarantine_entries, quarantine_entries, uint32_t, 16, 1u << 20)

static const struct option_spec option_specs[] = {
	{"config", 'f', true, set_config, "FILE", "none",
	 "libconfig file holding any option below; the command line wins", false},
	{"pairs", 'p', true, set_pairs, "LIST", "0:1",
	 "port pairs bridged inline, by DPDK port id: 0:1,2:3", false},
	{"workers", 'w', true, set_workers, "LCORES", "every EAL lcore but the main one",
	 "worker lcores, e.g. 1-3,5", false},
	{"burst", 0, true, set_burst, "N", "32", "packets per rx burst (1..256)", false},
	{"rx-descriptors", 0, true, set_rx_descriptors, "N", "1024", "rx ring size per queue", false},
	{"tx-descriptors", 0, true, set_tx_descriptors, "N", "1024", "tx ring size per queue", false},
	{"mbufs", 0, true, set_mbufs, "N", "sized from rings",
	 "mbufs in the pool (a replayed net_pcap with infinite_rx=1 needs one per packet)", false},
	{"flows", 0, true, set_flows, "N", "65536", "maximum flows per worker", false},
	{"flow-full", 0, true, set_flow_full, "open|closed", "closed",
	 "a new flow when the table is full: closed drops it, open passes it untracked", false},
	{"tcp-midstream", 0, true, set_tcp_midstream, "drop|allow", "drop",
	 "TCP segments of a connection whose handshake was not seen", false},
	{"non-ip", 0, true, set_non_ip, "pass|drop", "pass",
	 "ARP, LLDP, IPv6 neighbour discovery and other link-local control", false},
	{"fragments", 0, true, set_fragments, "reassemble|drop|pass", "reassemble",
	 "IP fragments: held, reassembled and inspected, then forwarded in the pieces they came in; "
	 "dropped; or passed uninspected", false},
	{"fragment-limit", 0, true, set_fragment_limit, "NAME=N", "trains=1024 timeout-ms=5000",
	 "per-worker reassembly bounds (datagrams in progress, time to complete one); repeatable", true},
	{"timeout", 0, true, set_timeout, "NAME=SEC", "tcp-embryonic=30 tcp-established=600 "
	 "tcp-closing=120 tcp-closed=10 udp=60 other=30", "idle timeout of a flow class; repeatable", true},
	{"http-ports", 0, true, set_http_ports, "LIST", "80,8080",
	 "TCP server ports whose connections are reassembled and parsed as HTTP/1.1", false},
	{"http-violation", 0, true, set_http_violation, "deny|reset|drop", "deny",
	 "verdict on a request that breaks HTTP (smuggling, limits, bad syntax)", false},
	{"http-tunnel", 0, true, set_http_tunnel, "deny|pass", "deny",
	 "Upgrade (WebSocket, h2c), CONNECT and HTTP/2 prior knowledge: deny, or pass uninspected", false},
	{"http-limit", 0, true, set_http_limit, "NAME=N", "start-line=8192 header-line=8192 headers=100 "
	 "head-bytes=16384 pipelined=16", "HTTP parser limits; repeatable", true},
	{"http-buffers", 0, true, set_http_buffers, "N", "1024",
	 "header buffers per worker, held only while a request head is split across segments", false},
	{"stream-ooo", 0, true, set_stream_ooo, "buffer|drop", "buffer",
	 "out-of-order TCP segments: buffered (and forwarded), or dropped so the sender retransmits", false},
	{"stream-limit", 0, true, set_stream_limit, "NAME=N", "ooo-segments=31 ooo-bytes=63488 "
	 "retain-bytes=16384 depth=0", "per-direction stream bounds (depth 0: unlimited); repeatable", true},
	{"stream-chunks", 0, true, set_stream_chunks, "N", "8192",
	 "2 KiB chunks per worker for out-of-order and retained stream bytes", false},
	{"token-cache", 0, true, set_token_cache, "N", "4096",
	 "verified tokens each worker remembers (keyed by the whole token; 0: verify every request)", false},
	{"signature-streams", 0, true, set_signature_streams, "N", "4096",
	 "bodies each worker scans at once, per direction (Hyperscan streams); a body beyond them is refused", false},
	{"rate-buckets", 0, true, set_rate_buckets, "N", "65536",
	 "rate limit buckets shared by every worker, rounded up to a power of two: callers tracked at once; "
	 "a caller that finds none is admitted and counted", false},
	{"behaviour-entries", 0, true, set_behaviour_entries, "N", "65536",
	 "behaviour baselines and risk scores shared by every worker (callers, sources and routes together), "
	 "rounded up to a power of two; a sample that finds none is lost and counted", false},
	{"quarantine-entries", 0, true, set_quarantine_entries, "N", "4096",
	 "quarantined identities and sources and blocked prefixes at once, rounded up to a power of two; "
	 "beyond it a quarantine is refused and counted", false},
	{"policy", 0, true, set_policy, "FILE", "none",
	 "policy file (rules/policy.example.conf): segments, services and routes; default deny within it", false},
	{"control-socket", 0, true, set_control_socket, "PATH", "none",
	 "unix socket (mode 0600) ztgatectl talks to (status, apply, explain, flows, events...); "
	 "ztgatectl's default is " ZTG_CONTROL_DEFAULT_PATH, false},
	{"state-dir", 0, true, set_state_dir, "DIR", "none",
	 "keep the policy in force there as last-good.bundle; started without --policy, enforce it again", false},
	{"metrics", 0, true, set_metrics, "ADDR:PORT", "none",
	 "serve the counters as Prometheus text at http://ADDR:PORT/metrics (IPv4, or [IPv6]:PORT)", false},
	{"event-log", 0, true, set_event_log, "FILE", "none (stdout)",
	 "JSON lines, one per deny/reset/drop decision (and sampled allow) and one per control command; "
	 "SIGHUP reopens it", false},
	{"event-log-max-bytes", 0, true, set_event_log_max_bytes, "SIZE", "100M",
	 "rotate --event-log before a line would take it past SIZE (bytes, or K, M, G; 0: never)", false},
	{"event-log-keep", 0, true, set_event_log_keep, "N", "5",
	 "rotated event logs kept, FILE.1 (newest) .. FILE.N; 0 keeps none", false},
	{"event-syslog", 0, true, set_event_syslog, "FACILITY", "none",
	 "also send every event line to syslog as \"ztgate\" (daemon, user, local0..local7): deny, reset, drop at "
	 "warning, allow, pass at info, commands at notice", false},
	{"event-sample-allowed", 0, true, set_event_sample_allowed, "RATE", "0",
	 "fraction (0..1) of allowed requests logged as \"allow\" events, by request id; 1 logs every request", false},
	{"forward-only", 0, false, set_forward_only, NULL, "off",
	 "no decode, no flow tracking: plain forwarding, the benchmark baseline", false},
	{"promiscuous", 0, true, set_promiscuous, "on|off", "on",
	 "promiscuous mode on every port (an inline bridge needs it)", false},
	{"stats-interval", 0, true, set_stats_interval, "SEC", "0", "print counters every SEC seconds (0: never)", false},
	{"stats-json", 0, true, set_stats_json, "FILE", "none", "write the final counters as JSON at exit", false},
	{"ready-file", 0, true, set_ready_file, "FILE", "none", "created once every port has started", false},
	{"duration", 0, true, set_duration, "SEC", "0", "stop after SEC seconds of forwarding (0: never)", false},
	{"exit-on-idle", 0, true, set_exit_on_idle, "MS", "0",
	 "stop once no port has received for MS ms after the first packet (offline pcap runs)", false},
};

#define OPTION_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

void ztg_options_default(struct ztg_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->pairs[0].port[0] = 0;
	opts->pairs[0].port[1] = 1;
	opts->pair_count = 1;
	opts->burst = 32;
	opts->rx_descriptors = 1024;
	opts->tx_descriptors = 1024;
	opts->flows_per_worker = 65536;
	opts->flow_full_open = false;
	opts->tcp_midstream_allow = false;
	opts->non_ip = ZTG_ACTION_PASS;
	opts->fragments = ZTG_FRAGMENTS_REASSEMBLE;
	opts->fragment_limits.trains = 1024;
	opts->fragment_limits.timeout_ms = 5000;
	opts->promiscuous = true;
	ztg_flow_timeouts_default(&opts->timeouts);
	opts->http_ports[0] = 80;
	opts->http_ports[1] = 8080;
	opts->http_port_count = 2;
	opts->http_violation = ZTG_VERDICT_DENY;
	opts->http_tunnel_pass = false;
	ztg_http_limits_default(&opts->http_limits);
	opts->http_buffers = 1024;
	ztg_stream_config_default(&opts->stream);
	opts->stream_chunks = 8192;
	opts->token_cache_entries = 4096;
	opts->signature_streams = 4096;
	opts->rate_buckets = 65536;
	opts->behaviour_entries = 65536;
	opts->quarantine_entries = 4096;
	opts->event_log_max_bytes = 100ull << 20;
	opts->event_log_keep = 5;
	opts->event_syslog = -1;
}

const char *ztg_verdict_name(enum ztg_verdict verdict)
{
	switch (verdict) {
	case ZTG_VERDICT_DENY:
		return "deny";
	case ZTG_VERDICT_RESET:
		return "reset";
	case ZTG_VERDICT_DROP:
		return "drop";
	}
	return "?";
}

const char *ztg_fragment_mode_name(enum ztg_fragment_mode mode)
{
	switch (mode) {
	case ZTG_FRAGMENTS_REASSEMBLE:
		return "reassemble";
	case ZTG_FRAGMENTS_DROP:
		return "drop";
	case ZTG_FRAGMENTS_PASS:
		return "pass";
	}
	return "?";
}

const char *ztg_action_name(enum ztg_action action)
{
	return action == ZTG_ACTION_DROP ? "drop" : "pass";
}

static const struct option_spec *find_by_key(const char *key)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const char *a = option_specs[i].name;
		const char *b = key;

		while (*a != '\0' && (*a == *b || (*a == '-' && *b == '_'))) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return &option_specs[i];
	}
	return NULL;
}

/* Render a scalar setting as the text the command line would carry. */
static int setting_scalar_text(const config_setting_t *s, char *buf, size_t len)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, len, "%lld", config_setting_get_int64(s));
		return 0;
	case CONFIG_TYPE_FLOAT:
		/* %.17g reads back as the same double. */
		snprintf(buf, len, "%.17g", config_setting_get_float(s));
		return 0;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, len, "%s", config_setting_get_bool(s) ? "true" : "false");
		return 0;
	case CONFIG_TYPE_STRING:
		if (strlen(config_setting_get_string(s)) >= len)
			return -1;
		snprintf(buf, len, "%s", config_setting_get_string(s));
		return 0;
	default:
		return -1;
	}
}

/* pairs = ( [0, 1], [2, 3] ) as well as pairs = "0:1,2:3". */
static int pairs_list_text(const config_setting_t *s, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *pair = config_setting_get_elem(s, (unsigned int)i);
		int n;

		if (!config_setting_is_aggregate(pair) || config_setting_length(pair) != 2)
			return -1;
		n = snprintf(buf + used, len - used, "%s%d:%d", i ? "," : "",
			     config_setting_get_int_elem(pair, 0), config_setting_get_int_elem(pair, 1));
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

static int apply_setting(struct ztg_options *opts, const config_setting_t *s, const char *path,
			 char *msg, size_t msg_len)
{
	const struct option_spec *spec = find_by_key(config_setting_name(s));
	char value[CONFIG_VALUE_MAX];
	char why[256];
	int line = config_setting_source_line(s);

	if (spec == NULL)
		return ztg_error_fail(msg, msg_len, "%s:%d: unknown option '%s'", path, line, config_setting_name(s));
	if (spec->set == set_config)
		return ztg_error_fail(msg, msg_len, "%s:%d: 'config' cannot be set from a config file", path, line);
	if (spec->named_values) {
		if (!config_setting_is_group(s))
			return ztg_error_fail(msg, msg_len, "%s:%d: '%s' must be a group: %s = { name = value; }",
				    path, line, config_setting_name(s), config_setting_name(s));
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *t = config_setting_get_elem(s, (unsigned int)i);
			char seconds[32];

			if (setting_scalar_text(t, seconds, sizeof(seconds)) < 0)
				return ztg_error_fail(msg, msg_len, "%s:%d: %s '%s' must be a number", path,
					    config_setting_source_line(t), config_setting_name(s), config_setting_name(t));
			snprintf(value, sizeof(value), "%s=%s", config_setting_name(t), seconds);
			if (spec->set(opts, value, why, sizeof(why)) < 0)
				return ztg_error_fail(msg, msg_len, "%s:%d: %s %s: %s", path, config_setting_source_line(t),
					    config_setting_name(s), config_setting_name(t), why);
		}
		return 0;
	}
	if (spec->set == set_pairs && config_setting_is_list(s)) {
		if (pairs_list_text(s, value, sizeof(value)) < 0)
			return ztg_error_fail(msg, msg_len, "%s:%d: 'pairs' must be a list of [port, port] arrays",
				    path, line);
	} else if (setting_scalar_text(s, value, sizeof(value)) < 0) {
		return ztg_error_fail(msg, msg_len, "%s:%d: '%s' must be a %s", path, line, config_setting_name(s),
			    spec->takes_value ? "number or string" : "boolean");
	}
	if (spec->set(opts, value, why, sizeof(why)) < 0)
		return ztg_error_fail(msg, msg_len, "%s:%d: %s: %s", path, line, config_setting_name(s), why);
	return 0;
}

int ztg_options_load_file(const char *path, struct ztg_options *opts, char *err, size_t err_len)
{
	config_t cfg;
	config_setting_t *root;
	size_t used = 0;
	int errors = 0;

	config_init(&cfg);
	if (!config_read_file(&cfg, path)) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			ztg_error_fail(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		else
			ztg_error_fail(err, err_len, "%s:%d: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path,
			     config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		return -1;
	}
	root = config_root_setting(&cfg);
	/* Report every bad setting (up to a bound), not just the first. */
	for (int i = 0; i < config_setting_length(root) && errors < CONFIG_MAX_ERRORS; i++) {
		char msg[512];

		if (apply_setting(opts, config_setting_get_elem(root, (unsigned int)i), path, msg, sizeof(msg)) == 0)
			continue;
		errors++;
		if (used < err_len) {
			int n = snprintf(err + used, err_len - used, "%s%s", used ? "\n" : "", msg);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	config_destroy(&cfg);
	return errors ? -1 : 0;
}

static void build_long_options(struct option *longopts, char *shortopts)
{
	size_t s = 0;

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		longopts[i].name = option_specs[i].name;
		longopts[i].has_arg = option_specs[i].takes_value ? required_argument : no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 256 + (int)i;
		if (option_specs[i].short_name) {
			shortopts[s++] = (char)option_specs[i].short_name;
			if (option_specs[i].takes_value)
				shortopts[s++] = ':';
		}
	}
	longopts[OPTION_COUNT] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[OPTION_COUNT + 1] = (struct option){NULL, 0, NULL, 0};
	shortopts[s++] = 'h';
	shortopts[s] = '\0';
}

static const struct option_spec *spec_for(int c)
{
	if (c >= 256 && c < 256 + (int)OPTION_COUNT)
		return &option_specs[c - 256];
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (option_specs[i].short_name == c)
			return &option_specs[i];
	}
	return NULL;
}

/* One getopt pass; with only_config set, applies --config alone. */
static int parse_pass(int argc, char **argv, struct ztg_options *opts, bool only_config,
		      char *err, size_t err_len)
{
	struct option longopts[OPTION_COUNT + 2];
	char shortopts[2 * OPTION_COUNT + 2];
	int c;

	build_long_options(longopts, shortopts);
	optind = 0; /* glibc: full re-initialisation, EAL ran getopt before us */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct option_spec *spec;
		char why[256];

		if (c == 'h') {
			if (!only_config) {
				ztg_options_usage(stdout, argv[0]);
				return 1;
			}
			continue;
		}
		if (c == '?' || c == ':') {
			if (optopt >= 256 && optopt < 256 + (int)OPTION_COUNT)
				return ztg_error_fail(err, err_len, "--%s needs a value", option_specs[optopt - 256].name);
			if (optopt)
				return ztg_error_fail(err, err_len, "unknown or incomplete option '-%c'", optopt);
			return ztg_error_fail(err, err_len, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
		spec = spec_for(c);
		if (spec == NULL)
			return ztg_error_fail(err, err_len, "unhandled option");
		if ((spec->set == set_config) != only_config)
			continue;
		if (spec->set(opts, optarg, why, sizeof(why)) < 0)
			return ztg_error_fail(err, err_len, "--%s: %s", spec->name, why);
	}
	if (optind < argc)
		return ztg_error_fail(err, err_len, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int ztg_options_parse(int argc, char **argv, struct ztg_options *opts, char *err, size_t err_len)
{
	int rc;

	rc = parse_pass(argc, argv, opts, true, err, err_len);
	if (rc != 0)
		return rc;
	if (opts->config_file[0] != '\0' && ztg_options_load_file(opts->config_file, opts, err, err_len) < 0)
		return -1;
	return parse_pass(argc, argv, opts, false, err, err_len);
}

void ztg_options_usage(FILE *out, const char *program)
{
	fprintf(out,
		"Usage: %s [EAL options] -- [ztgate options]\n\n"
		"ztgate bridges each pair of DPDK ports inline and inspects what crosses.\n"
		"EAL options are DPDK's (-l, --vdev, -a, --no-huge, -m, --file-prefix, ...).\n\n"
		"ztgate options (config file keys are the long names with '_' for '-'):\n",
		program);
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_spec *s = &option_specs[i];
		char flag[64];

		snprintf(flag, sizeof(flag), "%c%c%s--%s%s%s", s->short_name ? '-' : ' ',
			 s->short_name ? s->short_name : ' ', s->short_name ? ", " : "  ", s->name,
			 s->value_name ? " " : "", s->value_name ? s->value_name : "");
		fprintf(out, "  %-32s %s\n  %-32s   (default: %s)\n", flag, s->help, "", s->default_text);
	}
	fprintf(out, "  %-32s %s\n", "-h, --help", "this text");
}

void ztg_options_print(FILE *out, const struct ztg_options *opts)
{
	const struct ztg_flow_timeouts *t = &opts->timeouts;

	fprintf(out, "  config          = %s\n", opts->config_file[0] ? opts->config_file : "(none)");
	fprintf(out, "  policy          = %s\n", opts->policy_file[0] ? opts->policy_file : "(none: nothing is authorized)");
	fprintf(out, "  control socket  = %s\n", opts->control_socket[0] ? opts->control_socket : "(none)");
	fprintf(out, "  metrics         = %s\n", opts->metrics[0] ? opts->metrics : "(none)");
	fprintf(out, "  events          = %s", opts->event_log[0] ? opts->event_log : "stdout");
	if (opts->event_log[0] && opts->event_log_max_bytes)
		fprintf(out, ", rotated at %" PRIu64 " bytes keeping %u", opts->event_log_max_bytes, opts->event_log_keep);
	if (opts->event_syslog >= 0)
		fprintf(out, ", syslog %s", ztg_audit_log_facility_name(opts->event_syslog));
	fprintf(out, ", allowed requests sampled at %g\n", opts->event_sample_allowed);
	fprintf(out, "  pairs           =");
	for (uint16_t i = 0; i < opts->pair_count; i++)
		fprintf(out, " %u:%u", opts->pairs[i].port[0], opts->pairs[i].port[1]);
	fprintf(out, "\n  workers         =");
	if (opts->worker_count == 0)
		fprintf(out, " (every EAL worker lcore)");
	for (uint16_t i = 0; i < opts->worker_count; i++)
		fprintf(out, " %u", opts->worker_lcores[i]);
	fprintf(out, "\n  mode            = %s\n", opts->forward_only ? "forward-only" : "inspect");
	fprintf(out, "  burst           = %u\n", opts->burst);
	fprintf(out, "  rx/tx rings     = %u/%u\n", opts->rx_descriptors, opts->tx_descriptors);
	fprintf(out, "  flows           = %u per worker, when full: %s\n", opts->flows_per_worker,
		opts->flow_full_open ? "open (pass untracked)" : "closed (drop)");
	fprintf(out, "  tcp-midstream   = %s\n", opts->tcp_midstream_allow ? "allow" : "drop");
	fprintf(out, "  non-ip          = %s\n", ztg_action_name(opts->non_ip));
	fprintf(out, "  fragments       = %s", ztg_fragment_mode_name(opts->fragments));
	if (opts->fragments == ZTG_FRAGMENTS_REASSEMBLE)
		fprintf(out, ", trains=%u timeout-ms=%u per worker", opts->fragment_limits.trains,
			opts->fragment_limits.timeout_ms);
	fprintf(out, "\n");
	fprintf(out, "  timeouts (s)    = tcp-embryonic=%u tcp-established=%u tcp-closing=%u tcp-closed=%u "
		"udp=%u other=%u\n", t->tcp_embryonic, t->tcp_established, t->tcp_closing, t->tcp_closed,
		t->udp, t->other);
	fprintf(out, "  http-ports      =");
	for (uint16_t i = 0; i < opts->http_port_count; i++)
		fprintf(out, "%s%u", i ? "," : " ", opts->http_ports[i]);
	fprintf(out, "\n  http            = violation: %s, tunnels: %s, limits: start-line=%u header-line=%u "
		"headers=%u head-bytes=%u pipelined=%u, %u buffers\n", ztg_verdict_name(opts->http_violation),
		opts->http_tunnel_pass ? "pass" : "deny", opts->http_limits.max_start_line,
		opts->http_limits.max_header_line, opts->http_limits.max_headers, opts->http_limits.max_head_bytes,
		opts->http_limits.max_pipelined, opts->http_buffers);
	fprintf(out, "  memory/worker   = flows %.1f MiB (%zu B each + the hash's key and bucket), stream chunks %.1f MiB, "
		"HTTP head buffers %.1f MiB\n",
		(double)opts->flows_per_worker * sizeof(struct ztg_flow) / 1048576.0, sizeof(struct ztg_flow),
		(double)opts->stream_chunks * ZTG_STREAM_CHUNK_SIZE / 1048576.0,
		(double)opts->http_buffers * opts->http_limits.max_head_bytes / 1048576.0);
	fprintf(out, "  identity        = token cache %u entries (%.1f MiB) per worker, tokens up to %u bytes cached\n",
		opts->token_cache_entries,
		(double)opts->token_cache_entries * (sizeof(struct ztg_identity) + ZTG_TOKEN_CACHE_MAX_TOKEN) / 1048576.0,
		ZTG_TOKEN_CACHE_MAX_TOKEN);
	fprintf(out, "  signatures      = %u body streams per worker and direction (their size comes with the rules)\n",
		opts->signature_streams);
	fprintf(out, "  rate limits     = %u buckets shared by the workers\n", rte_align32pow2(opts->rate_buckets));
	fprintf(out, "  behaviour       = %u entries shared by the workers, quarantine %u entries\n",
		rte_align32pow2(opts->behaviour_entries), rte_align32pow2(opts->quarantine_entries));
	fprintf(out, "  stream          = out-of-order: %s, ooo-segments=%u ooo-bytes=%u retain-bytes=%u depth=%u, "
		"%u chunks\n", opts->stream.buffer_out_of_order ? "buffer" : "drop", opts->stream.max_ooo_segments,
		opts->stream.max_ooo_bytes, opts->stream.retain_bytes, opts->stream.depth, opts->stream_chunks);
}
