#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "options.h"

/* Longest ADDR:PORT text read: an IPv6 address in brackets and a port. */
#define ADDRESS_TEXT_MAX (INET6_ADDRSTRLEN + 8)

struct ztg_metrics_http {
	struct MHD_Daemon *daemon;
	ztg_metrics_source_fn source;
	void *arg;
};

/* The counters that say how many of something exist now, not how many ever happened. */
static const size_t gauge_fields[] = {
	offsetof(struct ztg_counters, flows_active),
	offsetof(struct ztg_counters, signature_streams_active),
};

static bool is_gauge(size_t offset)
{
	for (size_t i = 0; i < sizeof(gauge_fields) / sizeof(gauge_fields[0]); i++) {
		if (gauge_fields[i] == offset)
			return true;
	}
	return false;
}

static int parse_port(const char *text, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > UINT16_MAX)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int ztg_metrics_parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len,
			      char *err, size_t err_len)
{
	char host[ADDRESS_TEXT_MAX];
	const char *colon, *port_text;
	uint16_t port;
	size_t host_len;
	bool v6 = text[0] == '[';

	if (v6) {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, err_len, "'%s': expected [IPV6]:PORT", text);
			return -1;
		}
		host_len = (size_t)(close - text - 1);
		port_text = close + 2;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || strchr(text, ':') != colon) {
			snprintf(err, err_len, "'%s': expected IPV4:PORT or [IPV6]:PORT", text);
			return -1;
		}
		host_len = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(host)) {
		snprintf(err, err_len, "'%s': no address before the port", v6 ? text - 1 : text);
		return -1;
	}
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (parse_port(port_text, &port) < 0) {
		snprintf(err, err_len, "'%s': the port must be a number 1..65535", port_text);
		return -1;
	}
	memset(addr, 0, sizeof(*addr));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			snprintf(err, err_len, "'%s' is not a numeric IPv6 address", host);
			return -1;
		}
		*addr_len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)addr;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			snprintf(err, err_len, "'%s' is not a numeric IPv4 address (IPv6: [ADDR]:PORT)", host);
			return -1;
		}
		*addr_len = sizeof(*a);
	}
	return 0;
}

static int put_counter(struct ztg_prom_writer *w, const char *field, size_t offset, uint64_t value)
{
	char name[ZTG_PROM_NAME_MAX + 1];
	bool gauge = is_gauge(offset);
	char help[160];

	snprintf(name, sizeof(name), gauge ? "ztgate_%s" : "ztgate_%s_total", field);
	snprintf(help, sizeof(help), "%s, summed over the workers (%s in --stats-json)",
		 gauge ? "Current value" : "Total since start", field);
	ztg_prom_family(w, name, gauge ? ZTG_PROM_GAUGE : ZTG_PROM_COUNTER, help);
	return ztg_prom_sample_u64(w, NULL, 0, value);
}

/* Each port's NIC counters, one family per counter with a port label. */
static int put_ports(struct ztg_prom_writer *w, const struct ztg_stats_source *src)
{
	static const struct {
		const char *name;
		const char *help;
		size_t offset;
	} fields[] = {
		{"ztgate_port_rx_packets_total", "Packets the port received", offsetof(struct rte_eth_stats, ipackets)},
		{"ztgate_port_tx_packets_total", "Packets the port sent", offsetof(struct rte_eth_stats, opackets)},
		{"ztgate_port_rx_bytes_total", "Bytes the port received", offsetof(struct rte_eth_stats, ibytes)},
		{"ztgate_port_tx_bytes_total", "Bytes the port sent", offsetof(struct rte_eth_stats, obytes)},
		{"ztgate_port_rx_missed_total", "Packets the NIC dropped for want of rx descriptors",
		 offsetof(struct rte_eth_stats, imissed)},
		{"ztgate_port_rx_errors_total", "Erroneous packets the port received",
		 offsetof(struct rte_eth_stats, ierrors)},
		{"ztgate_port_tx_errors_total", "Packets the port failed to send", offsetof(struct rte_eth_stats, oerrors)},
	};
	uint64_t values[2 * ZTG_MAX_PAIRS][RTE_DIM(fields)];
	unsigned int count = RTE_MIN(src->port_count, (unsigned int)RTE_DIM(values));
	int rc = 0;

	for (unsigned int i = 0; i < count; i++) {
		struct rte_eth_stats stats;

		if (rte_eth_stats_get(src->ports[i], &stats) != 0)
			memset(&stats, 0, sizeof(stats));
		for (size_t f = 0; f < RTE_DIM(fields); f++)
			memcpy(&values[i][f], (const char *)&stats + fields[f].offset, sizeof(values[i][f]));
	}
	for (size_t f = 0; f < RTE_DIM(fields); f++) {
		ztg_prom_family(w, fields[f].name, ZTG_PROM_COUNTER, fields[f].help);
		for (unsigned int i = 0; i < count; i++) {
			char port[8];
			struct ztg_prom_label label = {"port", port};

			snprintf(port, sizeof(port), "%u", src->ports[i]);
			rc = ztg_prom_sample_u64(w, &label, 1, values[i][f]);
		}
	}
	return rc;
}

/* A metric of one unlabelled sample. */
static void put_scalar(struct ztg_prom_writer *w, const char *name, enum ztg_prom_type type, const char *help,
		       uint64_t value)
{
	ztg_prom_family(w, name, type, help);
	ztg_prom_sample_u64(w, NULL, 0, value);
}

/* The workers' labelled counters: requests, blocked responses, rule hits, authentication failures. */
static void put_tallies(struct ztg_prom_writer *w, const struct ztg_stats_source *src)
{
	struct ztg_tally_row *rows = NULL;
	uint64_t lost = 0;
	long n;

	if (src->tallies == NULL)
		return;
	n = ztg_tally_collect(src->tallies, src->worker_count, 0, &rows, &lost);
	if (n < 0) {
		ztg_prom_fail(w, -ENOMEM);
		return;
	}
	/* Rows come sorted by tag, so each kind's rows are together, in the order of the families below. */
	ztg_prom_family(w, "ztgate_requests_total", ZTG_PROM_COUNTER,
			"HTTP requests by where the policy placed them, what was done and why "
			"(service and route empty: no service took it)");
	for (long i = 0; i < n; i++) {
		uint32_t slot = ztg_tally_tag_a(rows[i].tag);
		const struct ztg_prom_label labels[] = {
			{"service", ztg_route_labels_value(src->route_labels, slot, false)},
			{"route", ztg_route_labels_value(src->route_labels, slot, true)},
			{"verdict", ztg_tally_verdict_name((enum ztg_tally_verdict)ztg_tally_tag_b(rows[i].tag))},
			{"reason", rows[i].name != NULL ? rows[i].name : ""},
		};

		if (ztg_tally_tag_kind(rows[i].tag) == ZTG_TALLY_REQUEST)
			ztg_prom_sample_u64(w, labels, RTE_DIM(labels), rows[i].count);
	}
	ztg_prom_family(w, "ztgate_responses_blocked_total", ZTG_PROM_COUNTER,
			"Responses cut off by signatures, by the route of their request");
	for (long i = 0; i < n; i++) {
		uint32_t slot = ztg_tally_tag_a(rows[i].tag);
		const struct ztg_prom_label labels[] = {
			{"service", ztg_route_labels_value(src->route_labels, slot, false)},
			{"route", ztg_route_labels_value(src->route_labels, slot, true)},
			{"reason", rows[i].name != NULL ? rows[i].name : ""},
		};

		if (ztg_tally_tag_kind(rows[i].tag) == ZTG_TALLY_RESPONSE_BLOCKED)
			ztg_prom_sample_u64(w, labels, RTE_DIM(labels), rows[i].count);
	}
	ztg_prom_family(w, "ztgate_signature_hits_total", ZTG_PROM_COUNTER,
			"Messages each signature rule matched (alerting, scoring or blocking)");
	for (long i = 0; i < n; i++) {
		char id[16];
		const struct ztg_prom_label label = {"rule", id};

		if (ztg_tally_tag_kind(rows[i].tag) != ZTG_TALLY_RULE)
			continue;
		snprintf(id, sizeof(id), "%u", ztg_tally_tag_b(rows[i].tag));
		ztg_prom_sample_u64(w, &label, 1, rows[i].count);
	}
	ztg_prom_family(w, "ztgate_auth_failures_total", ZTG_PROM_COUNTER,
			"Requests whose credentials were refused, by reason");
	for (long i = 0; i < n; i++) {
		const struct ztg_prom_label label = {"reason", rows[i].name != NULL ? rows[i].name : ""};

		if (ztg_tally_tag_kind(rows[i].tag) == ZTG_TALLY_AUTH_FAILURE)
			ztg_prom_sample_u64(w, &label, 1, rows[i].count);
	}
	put_scalar(w, "ztgate_labelled_counts_lost_total", ZTG_PROM_COUNTER,
		   "Counts the labelled families above could not keep: a worker's table was full", lost);
	free(rows);
}

/* Packets from the rx burst that brought them to the tx burst that sent them on. */
static void put_latency(struct ztg_prom_writer *w, const struct ztg_stats_source *src, const struct ztg_counters *t)
{
	double bounds[ZTG_LATENCY_BUCKETS - 1];
	double hz = src->tsc_hz ? (double)src->tsc_hz : 1;
	const struct ztg_prom_histogram h = {
		.bucket_count = RTE_DIM(bounds),
		.bounds = bounds,
		.counts = t->latency,
		.sum = (double)t->latency_cycles / hz,
	};

	for (unsigned int i = 0; i < RTE_DIM(bounds); i++)
		bounds[i] = (double)(UINT64_C(1) << (ZTG_LATENCY_FIRST_LOG2 + i)) / hz;
	ztg_prom_family(w, "ztgate_packet_latency_seconds", ZTG_PROM_HISTOGRAM,
			"Time forwarded packets spent in ztgate, from their rx burst to their tx burst");
	ztg_prom_histogram(w, NULL, 0, &h);
}

/* The API inventory: endpoints called that no route describes, by service (never by path). */
static void put_shadow(struct ztg_prom_writer *w, const struct ztg_stats_source *src)
{
	const struct ztg_inventory_summary *s = &src->shadow;

	if (!src->shadow_known)
		return;
	ztg_prom_family(w, "ztgate_shadow_endpoints", ZTG_PROM_GAUGE,
			"Endpoints (method and path shape) called that no route describes, by service");
	for (uint32_t i = 0; i < s->service_count; i++) {
		const struct ztg_prom_label label = {"service", s->services[i].name};

		ztg_prom_sample_u64(w, &label, 1, s->services[i].endpoints);
	}
	ztg_prom_family(w, "ztgate_shadow_requests_total", ZTG_PROM_COUNTER,
			"Requests to endpoints no route describes, by service");
	for (uint32_t i = 0; i < s->service_count; i++) {
		const struct ztg_prom_label label = {"service", s->services[i].name};

		ztg_prom_sample_u64(w, &label, 1, s->services[i].requests);
	}
	put_scalar(w, "ztgate_shadow_requests_overflow_total", ZTG_PROM_COUNTER,
		   "Requests to shadow endpoints beyond what the inventory keeps", s->overflow);
}

int ztg_metrics_render(const struct ztg_stats_source *src, struct ztg_prom_writer *w)
{
	struct ztg_counters total;
	const char *page;
	size_t len;

	ztg_stats_sum(src, &total);
#define ZTG_COUNTER_METRIC(name) put_counter(w, #name, offsetof(struct ztg_counters, name), total.name);
	ZTG_COUNTERS(ZTG_COUNTER_METRIC)
#undef ZTG_COUNTER_METRIC
	ztg_prom_family(w, "ztgate_packets_dropped_total", ZTG_PROM_COUNTER,
			"Packets dropped, by reason (the drops of --stats-json)");
	for (int r = 1; r < ZTG_DROP_REASON_COUNT; r++) {
		struct ztg_prom_label label = {"reason", ztg_drop_reason_name((enum ztg_drop_reason)r)};

		ztg_prom_sample_u64(w, &label, 1, total.drops[r]);
	}
	put_tallies(w, src);
	put_latency(w, src, &total);
	put_shadow(w, src);
	if (src->pool != NULL) {
		/* Mbufs in the per-lcore caches count as free: in use means held by a NIC ring, a worker or an injected frame. */
		put_scalar(w, "ztgate_mbufs", ZTG_PROM_GAUGE, "Packet buffers in the pool", src->pool->size);
		put_scalar(w, "ztgate_mbufs_in_use", ZTG_PROM_GAUGE,
			   "Packet buffers not free in the pool", rte_mempool_in_use_count(src->pool));
	}
	if (src->rates != NULL) {
		struct ztg_rate_table_stats rs;

		ztg_rate_table_stats(src->rates, rte_rdtsc(), &rs);
		put_scalar(w, "ztgate_rate_buckets", ZTG_PROM_GAUGE,
			   "Rate limit buckets (--rate-buckets)", rs.capacity);
		put_scalar(w, "ztgate_rate_buckets_in_use", ZTG_PROM_GAUGE,
			   "Rate limit buckets holding a caller that has not refilled yet", rs.in_use);
		put_scalar(w, "ztgate_rate_unplaced_total", ZTG_PROM_COUNTER,
			   "Requests admitted because no rate limit bucket was free for their caller", rs.unplaced);
	}
	if (src->behaviour != NULL) {
		struct ztg_behaviour_table_stats bs;

		ztg_behaviour_table_stats(src->behaviour, &bs);
		put_scalar(w, "ztgate_behaviour_entries", ZTG_PROM_GAUGE,
			   "Behaviour entries (--behaviour-entries): callers, sources and routes watched", bs.capacity);
		put_scalar(w, "ztgate_behaviour_entries_in_use", ZTG_PROM_GAUGE,
			   "Behaviour entries holding a key", bs.in_use);
		put_scalar(w, "ztgate_behaviour_unplaced_total", ZTG_PROM_COUNTER,
			   "Behaviour samples and risk additions lost because no entry was free", bs.unplaced);
	}
	if (src->quarantine != NULL) {
		struct ztg_quarantine_stats qs;

		ztg_quarantine_stats(src->quarantine, &qs);
		put_scalar(w, "ztgate_quarantine_active", ZTG_PROM_GAUGE,
			   "Identities, sources and blocked prefixes quarantined now", qs.active);
		put_scalar(w, "ztgate_quarantine_full_total", ZTG_PROM_COUNTER,
			   "Quarantines refused because the table was full (--quarantine-entries)", qs.full);
	}
	put_ports(w, src);
	put_scalar(w, "ztgate_workers", ZTG_PROM_GAUGE, "Worker lcores", src->worker_count);
	/* Errors are sticky in the writer: one check covers every call above. */
	return ztg_prom_finish(w, &page, &len);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text,
				  const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	struct ztg_metrics_http *m = cls;
	struct ztg_stats_source src;
	struct ztg_prom_writer w;
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *page;
	size_t len = 0;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", NULL);
	m->source(m->arg, &src);
	ztg_prom_init(&w, ZTG_METRICS_MAX_PAGE);
	page = ztg_metrics_render(&src, &w) == 0 ? ztg_prom_take(&w, &len) : NULL;
	ztg_prom_release(&w);
	if (page == NULL)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the metrics page could not be built\n", NULL);
	r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ZTG_PROM_CONTENT_TYPE);
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

struct ztg_metrics_http *ztg_metrics_http_start(const char *address, ztg_metrics_source_fn source, void *arg,
						char *err, size_t err_len)
{
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct ztg_metrics_http *m;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	uint16_t port;

	if (ztg_metrics_parse_address(address, &addr, &addr_len, err, err_len) < 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, err_len, "out of memory for the metrics server");
		return NULL;
	}
	m->source = source;
	m->arg = arg;
	if (addr.ss_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
	} else {
		port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
	}
	errno = 0;
	m->daemon = MHD_start_daemon(flags, port, NULL, NULL, answer, m,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)ZTG_METRICS_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				     MHD_OPTION_END);
	if (m->daemon == NULL) {
		snprintf(err, err_len, "--metrics %s: cannot listen: %s", address,
			 errno ? strerror(errno) : "libmicrohttpd refused (see its message above)");
		free(m);
		return NULL;
	}
	return m;
}

void ztg_metrics_http_stop(struct ztg_metrics_http *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->daemon);
	free(m);
}
