/*
 * GET /metrics: the dataplane's counters in the Prometheus text format,
 * served by libmicrohttpd from its own thread (--metrics ADDR:PORT).
 *
 * The page is built on each scrape from the same sums as --stats-json
 * (ztg_stats_sum over every worker's counters) and each port's NIC counters.
 * That thread only reads: the workers never wait on it, and its reads race
 * with their writes as stats.h describes. Names:
 *   ztgate_<counter>_total               every ZTG_COUNTERS entry but the gauges
 *   ztgate_flows_active, ztgate_signature_streams_active   gauges
 *   ztgate_packets_dropped_total{reason="..."}           each drop reason
 *   ztgate_port_{rx,tx}_{packets,bytes}_total{port="N"}  and the NIC's
 *   ztgate_port_rx_missed_total, ztgate_port_{rx,tx}_errors_total
 *   ztgate_workers                       worker lcores
 * Labels come from fixed, small sets (reasons, port ids): never an identity,
 * an address or a path. Any other path is 404; any method but GET and HEAD
 * is 405.
 */
#ifndef ZTG_METRICS_HTTP_H
#define ZTG_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "prometheus.h"
#include "stats.h"

/* Largest page served; a page that would be longer is a 500, never a cut page. */
#define ZTG_METRICS_MAX_PAGE (1u << 20)
/* Scrapes served at once; more wait in the listen queue. */
#define ZTG_METRICS_MAX_CONNECTIONS 8

struct ztg_metrics_http;

/*
 * Fill *src for one scrape; called from the server's thread, so it may only
 * read what stays put while ztgate runs (the worker counter pointers, the
 * port list).
 */
typedef void (*ztg_metrics_source_fn)(void *arg, struct ztg_stats_source *src);

/*
 * "127.0.0.1:9469" or "[::1]:9469": a numeric IPv4 or bracketed IPv6 address
 * and a port 1..65535, into *addr (*addr_len set). Returns 0, or -1 with what
 * is wrong in err ("'localhost:9469': expected IPV4:PORT or [IPV6]:PORT").
 */
int ztg_metrics_parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len,
			      char *err, size_t err_len);

/*
 * Render the page for *src into w (which the caller initialised). Returns 0
 * or a ztg_prom_* error code.
 */
int ztg_metrics_render(const struct ztg_stats_source *src, struct ztg_prom_writer *w);

/*
 * Listen on address (as ztg_metrics_parse_address reads it) and serve from an
 * internal thread until ztg_metrics_http_stop. NULL with a message in err
 * when the address is bad or cannot be bound.
 */
struct ztg_metrics_http *ztg_metrics_http_start(const char *address, ztg_metrics_source_fn source, void *arg,
						char *err, size_t err_len);

/* Stop serving and free; NULL does nothing. */
void ztg_metrics_http_stop(struct ztg_metrics_http *m);

#endif
