/*
 * ztgate: the dataplane process. Main lcore: EAL and option parsing, port and
 * worker bring-up, then management only (signals, periodic stats, stop
 * conditions); worker lcores run ztg_worker_run.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_version.h>
#include <unistd.h>

#include "options.h"
#include "port.h"
#include "stats.h"
#include "worker.h"

#define MAX_PORTS         (2 * ZTG_MAX_PAIRS)
#define MBUF_CACHE        256
#define MIN_MBUFS         8191
#define MANAGEMENT_TICK_MS 100
#define LINK_WAIT_MS      3000

/* The signal handler's only way to reach the management loop. */
static atomic_bool stop_requested;

static void on_signal(int signo)
{
	(void)signo;
	atomic_store(&stop_requested, true);
}

struct ztg_app {
	struct ztg_options opts;
	struct ztg_worker_config worker_config;
	struct ztg_worker *workers[ZTG_MAX_WORKERS];
	unsigned int worker_lcores[ZTG_MAX_WORKERS];
	const struct ztg_counters *worker_counters[ZTG_MAX_WORKERS];
	uint16_t worker_count;
	uint16_t ports[MAX_PORTS];
	uint16_t port_count;
	uint16_t ports_started;
	bool ports_stopped;
	struct rte_mempool *pool;
	struct rte_ring *events;
	FILE *event_log;
	double wall_start;               /* realtime seconds at tsc_start, to date events */
	uint64_t tsc_start;
	atomic_bool stop;
};

#define EVENT_RING_SIZE 8192

static int open_events(struct ztg_app *app, char *err, size_t err_len)
{
	struct timespec now;

	app->events = ztg_events_ring_create(EVENT_RING_SIZE);
	if (app->events == NULL) {
		snprintf(err, err_len, "cannot create the event ring: %s", rte_strerror(rte_errno));
		return -1;
	}
	app->event_log = stdout;
	if (app->opts.event_log[0] != '\0') {
		app->event_log = fopen(app->opts.event_log, "a");
		if (app->event_log == NULL) {
			snprintf(err, err_len, "--event-log: %.900s: %s", app->opts.event_log, strerror(errno));
			return -1;
		}
		setvbuf(app->event_log, NULL, _IOLBF, 0);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	app->tsc_start = rte_rdtsc();
	app->wall_start = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	return 0;
}

static void drain_events(struct ztg_app *app)
{
	ztg_events_drain(app->events, app->event_log, EVENT_RING_SIZE, app->wall_start, app->tsc_start,
			 rte_get_tsc_hz());
}

static int select_workers(struct ztg_app *app, char *err, size_t err_len)
{
	struct ztg_options *o = &app->opts;
	unsigned int lcore;

	if (o->worker_count == 0) {
		RTE_LCORE_FOREACH_WORKER(lcore) {
			if (o->worker_count == ZTG_MAX_WORKERS)
				break;
			o->worker_lcores[o->worker_count++] = (uint16_t)lcore;
		}
		if (o->worker_count == 0) {
			snprintf(err, err_len, "no worker lcore: give EAL at least two lcores (e.g. -l 0-1); "
				 "the main lcore only manages");
			return -1;
		}
	}
	for (uint16_t i = 0; i < o->worker_count; i++) {
		lcore = o->worker_lcores[i];
		if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore)) {
			snprintf(err, err_len, "--workers: lcore %u is not enabled in EAL (-l/--lcores)", lcore);
			return -1;
		}
		if (lcore == rte_get_main_lcore()) {
			snprintf(err, err_len, "--workers: lcore %u is the main lcore, which only manages", lcore);
			return -1;
		}
	}
	return 0;
}

static int check_ports(struct ztg_app *app, char *err, size_t err_len)
{
	const struct ztg_options *o = &app->opts;

	for (uint16_t p = 0; p < o->pair_count; p++) {
		for (int side = 0; side < 2; side++) {
			uint16_t port = o->pairs[p].port[side];

			if (!rte_eth_dev_is_valid_port(port)) {
				snprintf(err, err_len, "--pairs: port %u does not exist (%u ports found; add "
					 "--vdev or bind a NIC)", port, rte_eth_dev_count_avail());
				return -1;
			}
			app->ports[app->port_count++] = port;
		}
	}
	return 0;
}

static int create_workers(struct ztg_app *app, char *err, size_t err_len)
{
	const struct ztg_options *o = &app->opts;

	app->worker_config = (struct ztg_worker_config){
		.burst = o->burst,
		.forward_only = o->forward_only,
		.flow_full_open = o->flow_full_open,
		.tcp_midstream_allow = o->tcp_midstream_allow,
		.non_ip = o->non_ip,
		.fragments = o->fragments,
		.tsc_hz = rte_get_tsc_hz(),
	};
	for (uint16_t i = 0; i < o->worker_count; i++) {
		unsigned int lcore = o->worker_lcores[i];
		int socket = (int)rte_lcore_to_socket_id(lcore);
		struct ztg_worker *w = rte_zmalloc_socket("ztg_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);

		if (w == NULL) {
			snprintf(err, err_len, "out of memory for worker %u", lcore);
			return -1;
		}
		w->lcore_id = lcore;
		w->config = &app->worker_config;
		w->stop = &app->stop;
		app->workers[i] = w;
		app->worker_lcores[i] = lcore;
		app->worker_counters[i] = &w->counters;
		app->worker_count++;
		w->events = app->events;
		if (!o->forward_only) {
			struct ztg_flow_table_params params = {
				.capacity = o->flows_per_worker,
				.socket_id = socket,
				.tsc_hz = rte_get_tsc_hz(),
				.hash_seed = (uint32_t)rte_rand(),
				.timeouts = o->timeouts,
				.on_release = ztg_worker_release_flow,
				.release_arg = w,
			};
			struct ztg_stream_pool *stream_pool = ztg_stream_pool_create(o->stream_chunks);
			struct ztg_http_pool *http_pool = ztg_http_pool_create(o->http_buffers,
									       o->http_limits.max_head_bytes);
			char name[32];

			ztg_session_context_init(&w->session, o, stream_pool, http_pool, &w->counters, (uint16_t)lcore);
			if (stream_pool == NULL || http_pool == NULL) {
				snprintf(err, err_len, "worker %u: cannot allocate %u stream chunks and %u HTTP buffers "
					 "(--stream-chunks, --http-buffers)", lcore, o->stream_chunks, o->http_buffers);
				return -1;
			}
			snprintf(name, sizeof(name), "ztg_flows_%u", lcore);
			params.name = name;
			if (ztg_flow_table_create(&params, &w->flows, err, err_len) < 0)
				return -1;
			if (o->fragments == ZTG_FRAGMENTS_REASSEMBLE) {
				uint64_t timeout = rte_get_tsc_hz() * o->fragment_limits.timeout_ms / 1000;

				w->reassembly = ztg_ip_reassembly_create(o->fragment_limits.trains, timeout, socket);
				if (w->reassembly == NULL) {
					snprintf(err, err_len, "worker %u: cannot create a fragment table of %u trains: %s "
						 "(--fragment-limit trains=N)", lcore, o->fragment_limits.trains,
						 rte_strerror(rte_errno));
					return -1;
				}
			}
		}
	}
	return 0;
}

static int setup_ports(struct ztg_app *app, char *err, size_t err_len)
{
	const struct ztg_options *o = &app->opts;
	struct ztg_port_caps caps[MAX_PORTS];
	struct ztg_port_setup setups[MAX_PORTS];
	uint32_t mbufs = 0;

	for (uint16_t i = 0; i < app->port_count; i++)
		caps[i] = (struct ztg_port_caps){.port_id = app->ports[i],
						 .rss = ztg_port_rss_capable(app->ports[i], app->worker_count)};
	if (ztg_port_plan(caps, o->pair_count, app->workers, app->worker_count, setups, err, err_len) < 0)
		return -1;
	for (uint16_t i = 0; i < app->port_count; i++)
		mbufs += setups[i].queue_count * (uint32_t)(o->rx_descriptors + o->tx_descriptors);
	mbufs += (app->worker_count + 1) * (uint32_t)(MBUF_CACHE + 2 * o->burst);
	/* Held fragments must never starve the rx rings: every train may hold its full set of pieces. */
	if (!o->forward_only && o->fragments == ZTG_FRAGMENTS_REASSEMBLE)
		mbufs += app->worker_count * o->fragment_limits.trains * ZTG_REASSEMBLY_MAX_PIECES;
	if (mbufs < MIN_MBUFS)
		mbufs = MIN_MBUFS;
	if (o->mbufs)
		mbufs = o->mbufs;
	app->pool = rte_pktmbuf_pool_create("ztg_mbufs", mbufs, MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					    (int)rte_socket_id());
	if (app->pool == NULL) {
		snprintf(err, err_len, "cannot create a pool of %u mbufs: %s (more -m memory, hugepages, or "
			 "a smaller --mbufs)", mbufs, rte_strerror(rte_errno));
		return -1;
	}
	for (uint16_t i = 0; i < app->worker_count; i++)
		app->workers[i]->pool = app->pool;
	printf("  mbufs           = %u\n", mbufs);
	for (uint16_t i = 0; i < app->port_count; i++) {
		char name[RTE_ETH_NAME_MAX_LEN] = "?";

		rte_eth_dev_get_name_by_port(setups[i].port_id, name);
		printf("  port %u          = %s, %u queue%s%s\n", setups[i].port_id, name, setups[i].queue_count,
		       setups[i].queue_count == 1 ? "" : "s", setups[i].rss ? ", symmetric RSS" : "");
		if (ztg_port_start(&setups[i], app->pool, o->rx_descriptors, o->tx_descriptors, o->promiscuous,
				   err, err_len) < 0)
			return -1;
		app->ports_started++;
	}
	for (uint16_t i = 0; i < app->port_count; i++) {
		if (!ztg_port_wait_link(app->ports[i], LINK_WAIT_MS))
			printf("ztgate: warning: port %u link is down after %u ms\n", app->ports[i], LINK_WAIT_MS);
	}
	for (uint16_t i = 0; i < app->worker_count; i++) {
		const struct ztg_worker *w = app->workers[i];

		printf("  worker lcore %-3u=", w->lcore_id);
		if (w->queue_count == 0)
			printf(" idle (no queue: fewer pairs than workers and no RSS)");
		for (uint16_t q = 0; q < w->queue_count; q++)
			printf(" %u/%u->%u", w->queues[q].rx_port, w->queues[q].rx_queue, w->queues[q].tx_port);
		printf("\n");
	}
	return 0;
}

static int write_ready_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

static void fill_stats_source(const struct ztg_app *app, struct ztg_stats_source *src, double seconds)
{
	*src = (struct ztg_stats_source){
		.mode = app->opts.forward_only ? "forward-only" : "inspect",
		.tsc_hz = rte_get_tsc_hz(),
		.duration_seconds = seconds,
		.worker_count = app->worker_count,
		.worker_lcores = app->worker_lcores,
		.workers = app->worker_counters,
		.port_count = app->port_count,
		.ports = app->ports,
	};
}

/* Management loop: returns when a signal, --duration or --exit-on-idle says stop. */
static void manage(struct ztg_app *app, uint64_t start_tsc)
{
	const struct ztg_options *o = &app->opts;
	const uint64_t hz = rte_get_tsc_hz();
	struct ztg_stats_source src;
	struct ztg_counters previous = {0}, now;
	uint64_t next_stats = start_tsc + (uint64_t)o->stats_interval * hz;
	uint64_t last_rx = 0, last_rx_change = start_tsc;

	fill_stats_source(app, &src, 0);
	while (!atomic_load(&stop_requested)) {
		uint64_t t;

		rte_delay_us_sleep(MANAGEMENT_TICK_MS * 1000);
		drain_events(app);
		t = rte_rdtsc();
		if (o->duration && t - start_tsc >= (uint64_t)o->duration * hz)
			break;
		if (o->stats_interval && t >= next_stats) {
			ztg_stats_print_interval(stdout, &src, &previous, o->stats_interval);
			next_stats += (uint64_t)o->stats_interval * hz;
		}
		if (o->exit_on_idle_ms) {
			ztg_stats_sum(&src, &now);
			if (now.rx_packets != last_rx) {
				last_rx = now.rx_packets;
				last_rx_change = t;
			} else if (last_rx && t - last_rx_change >= (uint64_t)o->exit_on_idle_ms * hz / 1000) {
				break;
			}
		}
	}
}

static void stop_ports(struct ztg_app *app)
{
	if (app->ports_stopped)
		return;
	for (uint16_t i = 0; i < app->ports_started; i++)
		ztg_port_stop(app->ports[i]);
	app->ports_stopped = true;
}

static void cleanup(struct ztg_app *app)
{
	stop_ports(app);
	for (uint16_t i = 0; i < app->ports_started; i++)
		ztg_port_close(app->ports[i]);
	for (uint16_t i = 0; i < app->worker_count; i++) {
		struct ztg_worker *w = app->workers[i];

		/* The table gives layer-7 memory back to the pools as it frees flows: pools go last. */
		ztg_flow_table_free(w->flows);
		ztg_ip_reassembly_free(w->reassembly);
		ztg_stream_pool_free(w->session.stream_pool);
		ztg_http_pool_free(w->session.http_pool);
		rte_free(w);
	}
	rte_mempool_free(app->pool);
	rte_ring_free(app->events);
	if (app->event_log != NULL && app->event_log != stdout)
		fclose(app->event_log);
}

static int run(struct ztg_app *app)
{
	struct ztg_stats_source src;
	char err[1024];
	uint64_t start, stop;
	uint16_t launched = 0;

	if (select_workers(app, err, sizeof(err)) < 0 || check_ports(app, err, sizeof(err)) < 0)
		goto fail;
	printf("ztgate %s (%s): effective configuration\n", ZTG_VERSION, rte_version());
	ztg_options_print(stdout, &app->opts);
	if (open_events(app, err, sizeof(err)) < 0 || create_workers(app, err, sizeof(err)) < 0 ||
	    setup_ports(app, err, sizeof(err)) < 0)
		goto fail;

	for (uint16_t i = 0; i < app->worker_count; i++) {
		if (app->workers[i]->queue_count == 0)
			continue;
		if (rte_eal_remote_launch(ztg_worker_run, app->workers[i], app->workers[i]->lcore_id) != 0) {
			snprintf(err, sizeof(err), "cannot launch worker on lcore %u", app->workers[i]->lcore_id);
			atomic_store(&app->stop, true);
			rte_eal_mp_wait_lcore();
			goto fail;
		}
		launched++;
	}
	start = rte_rdtsc();
	printf("ztgate: %u ports started, %u workers forwarding\n", app->port_count, launched);
	fflush(stdout);
	if (app->opts.ready_file[0] && write_ready_file(app->opts.ready_file) != 0)
		fprintf(stderr, "ztgate: warning: cannot write ready file %s: %s\n", app->opts.ready_file,
			strerror(errno));

	manage(app, start);
	atomic_store(&app->stop, true);
	rte_eal_mp_wait_lcore();
	stop = rte_rdtsc();
	drain_events(app);
	stop_ports(app);
	printf("ztgate: stopped: workers drained, ports stopped\n");

	fill_stats_source(app, &src, (double)(stop - start) / (double)rte_get_tsc_hz());
	ztg_stats_print_final(stdout, &src);
	if (app->opts.stats_json[0] && ztg_stats_write_json(app->opts.stats_json, &src, err, sizeof(err)) < 0)
		fprintf(stderr, "ztgate: cannot write stats: %s\n", err);
	if (app->opts.ready_file[0])
		unlink(app->opts.ready_file);
	cleanup(app);
	return 0;

fail:
	fprintf(stderr, "ztgate: %s\n", err);
	cleanup(app);
	return 1;
}

int main(int argc, char **argv)
{
	static struct ztg_app app;
	char err[2048];
	int rc;

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "ztgate: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= rc;
	argv += rc;

	/* Line-buffered so a log file interleaves our lines with EAL's in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	ztg_options_default(&app.opts);
	rc = ztg_options_parse(argc, argv, &app.opts, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "ztgate: %s\n(ztgate -- --help lists the options)\n", err);
		rte_eal_cleanup();
		return rc < 0 ? 2 : 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	rc = run(&app);
	rte_eal_cleanup();
	return rc;
}
