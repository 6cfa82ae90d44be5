/*
 * ztgate: the dataplane process. Main lcore: EAL and option parsing, port and
 * worker bring-up, then management only (signals, periodic stats, stop
 * conditions); worker lcores run ztg_worker_run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>
#include <rte_version.h>
#include <unistd.h>

#include "audit_log.h"
#include "capture.h"
#include "control_socket.h"
#include "identity_control.h"
#include "inventory.h"
#include "metrics_http.h"
#include "options.h"
#include "policy/authz.h"
#include "policy_load.h"
#include "policy_source.h"
#include "port.h"
#include "quarantine_control.h"
#include "stats.h"
#include "telemetry.h"
#include "top.h"
#include "worker.h"

#define MAX_PORTS         (2 * ZTG_MAX_PAIRS)
#define MBUF_CACHE        256
#define MIN_MBUFS         8191
#define MANAGEMENT_TICK_MS 100
#define LINK_WAIT_MS      3000

/* The signal handlers' only way to reach the management loop. */
static atomic_bool stop_requested;
static atomic_bool reopen_requested;     /* SIGHUP: reopen the event log (logrotate) */

static void on_signal(int signo)
{
	(void)signo;
	atomic_store(&stop_requested, true);
}

static void on_hangup(int signo)
{
	(void)signo;
	atomic_store(&reopen_requested, true);
}

/* Where a compiled policy came from: shown by status, persisted as the last good policy. */
struct policy_record {
	char source[PATH_MAX];
	char hash[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	time_t loaded_at;
	uint8_t *bundle;                 /* the bundle bytes that reproduce it */
	size_t bundle_len;
};

struct ztg_app {
	struct ztg_options opts;
	struct ztg_worker_config worker_config;
	struct ztg_worker *workers[ZTG_MAX_WORKERS];
	unsigned int worker_lcores[ZTG_MAX_WORKERS];
	const struct ztg_counters *worker_counters[ZTG_MAX_WORKERS];
	const struct ztg_tally *worker_tallies[ZTG_MAX_WORKERS];
	struct ztg_route_labels *route_labels;   /* the (service, route) label slots of every policy so far */
	struct ztg_rate_table *rates;    /* rate limit buckets: every worker's, every policy's */
	struct ztg_behaviour_table *behaviour;   /* baselines and risk: every worker's, every policy's */
	struct ztg_quarantine_control *quarantine;   /* quarantined identities and sources, blocks, NIC drop rules */
	uint16_t worker_count;
	uint16_t ports[MAX_PORTS];
	uint16_t port_count;
	uint16_t ports_started;
	bool ports_stopped;
	struct rte_mempool *pool;
	struct rte_ring *events;
	struct ztg_audit_log *audit_log;   /* the event ring's consumer, the event log's one writer */
	/*
	 * The policy in force (NULL: none), published to the workers with one
	 * pointer store; the one it replaced is kept for rollback and freed
	 * when a third replaces it, after an RCU grace period.
	 */
	struct ztg_authz *_Atomic policy;
	struct ztg_authz *previous;
	uint32_t policy_generation;
	struct policy_record current;    /* what app->policy was compiled from */
	struct policy_record former;     /* what app->previous was compiled from */
	time_t started_at;
	struct rte_rcu_qsbr *rcu;
	struct ztg_control *control;
	struct ztg_metrics_http *metrics;   /* GET /metrics (--metrics); NULL: off */
	struct ztg_inventory *inventory;  /* shadow endpoints, from the events */
	struct ztg_top *top;             /* ztgatectl top: request rates from the tallies, identities from the events */
	struct ztg_identity_control *identity;   /* JWKS fetches, revocations */
	struct ztg_capture *capture;     /* ztgatectl capture: packets of denied flows */
	bool pdump;                      /* dpdk-dumpcap can attach */
	/*
	 * The latest events for ztgatectl events; event number n sits in slot n % RECENT_EVENTS.
	 * Fed on the event writer's thread: read recent, recent_next and inventory under its observed lock.
	 */
	struct ztg_event *recent;
	uint64_t recent_next;
	double wall_start;               /* realtime seconds at tsc_start, to date events */
	uint64_t tsc_start;
	atomic_bool stop;
};

#define EVENT_RING_SIZE 8192
/* Labelled counters per worker (requests by route, verdict, reason; rule hits; auth failures). */
#define TALLY_CAPACITY 16384
/* (service, route) pairs metrics keep apart; later ones are counted under "_other". */
#define ROUTE_LABELS_CAPACITY 4096
/* Shadow endpoints remembered; more only counts as overflow. */
#define INVENTORY_CAPACITY 4096
/* Identities ztgatectl top tells apart; beyond that the least seen gives way (top.h). */
#define TOP_IDENTITIES 256
/* Events kept for ztgatectl events (--follow polls with a cursor into them). */
#define RECENT_EVENTS 1024

static void observe_event(void *arg, const struct ztg_event *e, double when);

static int open_events(struct ztg_app *app, char *err, size_t err_len)
{
	struct ztg_audit_log_config config;
	struct timespec now;
	char why[PATH_MAX + 128];

	app->events = ztg_events_ring_create(EVENT_RING_SIZE);
	if (app->events == NULL) {
		snprintf(err, err_len, "cannot create the event ring: %s", rte_strerror(rte_errno));
		return -1;
	}
	app->inventory = ztg_inventory_create(INVENTORY_CAPACITY);
	app->recent = calloc(RECENT_EVENTS, sizeof(*app->recent));
	if (app->inventory == NULL || app->recent == NULL) {
		snprintf(err, err_len, "out of memory for the API inventory");
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	app->tsc_start = rte_rdtsc();
	app->wall_start = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	config = (struct ztg_audit_log_config){
		.ring = app->events,
		.path = app->opts.event_log[0] != '\0' ? app->opts.event_log : NULL,
		.max_bytes = app->opts.event_log_max_bytes,
		.keep = app->opts.event_log_keep,
		.syslog_facility = app->opts.event_syslog,
		.wall_start = app->wall_start,
		.tsc_start = app->tsc_start,
		.tsc_hz = rte_get_tsc_hz(),
		.observe = observe_event,
		.observe_arg = app,
	};
	app->audit_log = ztg_audit_log_start(&config, why, sizeof(why));
	if (app->audit_log == NULL) {
		snprintf(err, err_len, "--event-log: %.900s", why);
		return -1;
	}
	return 0;
}

/* On the event writer's thread, its observed lock held. */
static void observe_event(void *arg, const struct ztg_event *e, double when)
{
	struct ztg_app *app = arg;

	ztg_inventory_observe(app->inventory, e, (time_t)when);
	ztg_top_observe(app->top, e);
	app->recent[app->recent_next++ % RECENT_EVENTS] = *e;
}

/*
 * The producers have stopped: the writer drains what they left and stops,
 * or is given up on when its output takes nothing (audit_log.h). Says what
 * happened to every event.
 */
static void close_events(struct ztg_app *app)
{
	struct ztg_audit_log_totals t;

	if (app->audit_log == NULL)
		return;
	ztg_audit_log_stop(app->audit_log, &t);
	app->audit_log = NULL;
	printf("ztgate: event log: %" PRIu64 " events, %" PRIu64 " lines written, %" PRIu64 " rotations",
	       t.events, t.file.lines, t.file.rotations);
	if (t.file.lost || t.submitted_lost)
		printf(", %" PRIu64 " lines lost to a failing output, %" PRIu64 " command lines to a full queue",
		       t.file.lost, t.submitted_lost);
	if (t.gave_up)
		printf("; its output took nothing for %u ms: stopped with %" PRIu64 " lines unwritten",
		       ZTG_AUDIT_LOG_STOP_IDLE_MS, t.abandoned);
	printf("\n");
}

static void record_release(struct policy_record *r)
{
	free(r->bundle);
	memset(r, 0, sizeof(*r));
}

/* Give the policy's routes their metric label slots, kept across every policy this process loads. */
static int label_routes(struct ztg_app *app, struct ztg_authz *authz, char *err, size_t err_len)
{
	if (ztg_authz_label_routes(authz, app->route_labels) != 0) {
		snprintf(err, err_len, "out of memory for the metric labels of the policy's routes");
		return -1;
	}
	return 0;
}

/*
 * Load, validate and compile a policy file or bundle into a new generation;
 * every diagnostic goes to diag_out with its file:line. NULL on any error;
 * *record (when not NULL) says where it came from.
 */
static struct ztg_authz *compile_policy(struct ztg_app *app, const char *path, FILE *diag_out,
					struct policy_record *record, char *err, size_t err_len)
{
	struct ztg_policy_diag diag;
	struct ztg_policy_source src;
	struct ztg_authz *authz;
	char why[512];
	int rc;

	ztg_policy_diag_init(&diag);
	rc = ztg_policy_source_load(path, &src, &diag, why, sizeof(why));
	ztg_policy_diag_print(diag_out, &diag);
	if (rc != 0) {
		snprintf(err, err_len, "%s (%u error(s)): not loaded", why, diag.errors);
		ztg_policy_diag_free(&diag);
		ztg_policy_source_release(&src);
		return NULL;
	}
	ztg_policy_diag_free(&diag);
	authz = ztg_authz_build(src.policy, &src.compiled, (int)rte_socket_id(), ++app->policy_generation, err,
				err_len);
	src.policy = NULL;                       /* the authz owns it now, or freed it */
	if (authz != NULL && (ztg_authz_attach_detect(authz, &src.compiled, app->opts.worker_count,
							   app->opts.signature_streams, err, err_len) != 0 ||
			      ztg_identity_control_prepare(app->identity, authz, err, err_len) != 0 ||
			      label_routes(app, authz, err, err_len) != 0)) {
		ztg_authz_free(authz);
		authz = NULL;
	}
	if (authz != NULL && record != NULL) {
		*record = (struct policy_record){.loaded_at = time(NULL), .bundle = src.bundle,
						 .bundle_len = src.bundle_len};
		snprintf(record->source, sizeof(record->source), "%s", path);
		memcpy(record->hash, src.hash, sizeof(record->hash));
		src.bundle = NULL;
	}
	ztg_policy_source_release(&src);
	return authz;
}

/* The state directory's copy of the policy in force, which a restart without --policy enforces again. */
static void persist_policy(struct ztg_app *app, FILE *out)
{
	char path[PATH_MAX + 32], err[512];
	struct ztg_policy_source src = {.bundle = app->current.bundle, .bundle_len = app->current.bundle_len};

	if (app->opts.state_dir[0] == '\0' || app->current.bundle == NULL)
		return;
	snprintf(path, sizeof(path), "%s/last-good.bundle", app->opts.state_dir);
	if (mkdir(app->opts.state_dir, 0700) != 0 && errno != EEXIST)
		fprintf(out, "warning: cannot create %s: %s; the policy is in force but not persisted\n",
			app->opts.state_dir, strerror(errno));
	else if (ztg_policy_source_save(&src, path, err, sizeof(err)) != 0)
		fprintf(out, "warning: %s; the policy is in force but not persisted\n", err);
}

static int load_policy(struct ztg_app *app, char *err, size_t err_len)
{
	char persisted[PATH_MAX + 32] = "";
	const char *path = app->opts.policy_file;
	struct ztg_authz *authz;

	if (path[0] == '\0' && app->opts.state_dir[0] != '\0') {
		snprintf(persisted, sizeof(persisted), "%s/last-good.bundle", app->opts.state_dir);
		if (access(persisted, R_OK) == 0)
			path = persisted;
	}
	if (path[0] == '\0')
		return 0;
	authz = compile_policy(app, path, stderr, &app->current, err, err_len);
	if (authz == NULL)
		return -1;
	atomic_store(&app->policy, authz);
	ztg_identity_control_follow(app->identity, authz);
	if (path == persisted)
		printf("ztgate: enforcing the last good policy from %s\n", persisted);
	else
		persist_policy(app, stderr);
	return 0;
}

static uint32_t route_total(const struct ztg_policy *p)
{
	uint32_t routes = 0;

	for (uint32_t s = 0; s < p->service_count; s++)
		routes += p->services[s].route_count;
	return routes;
}

static const char *plural(uint32_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_policy_summary(FILE *out, const struct ztg_authz *authz)
{
	const struct ztg_policy *p = ztg_authz_policy(authz);
	uint32_t routes = route_total(p);

	fprintf(out, "\"%s\" (%s, generation %u): %u %s, %u %s, %u %s, %u %s, %zu bytes\n", p->name,
		ztg_policy_mode_name(p->mode), ztg_authz_generation(authz), p->segment_count,
		plural(p->segment_count, "segment", "segments"), p->service_count,
		plural(p->service_count, "service", "services"), routes, plural(routes, "route", "routes"),
		p->access_count, plural(p->access_count, "access entry", "access entries"), ztg_authz_size(authz));
}

static void print_policy(const struct ztg_app *app)
{
	struct ztg_authz *authz = atomic_load(&app->policy);

	if (authz == NULL)
		return;
	printf("  policy loaded   = ");
	print_policy_summary(stdout, authz);
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
	uint64_t rate_seed;

	app->worker_config = (struct ztg_worker_config){
		.burst = o->burst,
		.forward_only = o->forward_only,
		.flow_full_open = o->flow_full_open,
		.tcp_midstream_allow = o->tcp_midstream_allow,
		.non_ip = o->non_ip,
		.fragments = o->fragments,
		.tsc_hz = rte_get_tsc_hz(),
	};
	/* One secret for every worker: the same caller gets the same bucket whichever worker sees it. */
	rate_seed = rte_rand();
	app->rates = ztg_rate_table_create(rte_align32pow2(o->rate_buckets), (int)rte_socket_id());
	if (app->rates == NULL) {
		snprintf(err, err_len, "out of memory for %u rate limit buckets (--rate-buckets)",
			 rte_align32pow2(o->rate_buckets));
		return -1;
	}
	app->behaviour = ztg_behaviour_table_create(rte_align32pow2(o->behaviour_entries), (int)rte_socket_id());
	if (app->behaviour == NULL) {
		snprintf(err, err_len, "out of memory for %u behaviour entries (--behaviour-entries)",
			 rte_align32pow2(o->behaviour_entries));
		return -1;
	}
	/* Blocks and operator quarantines from the state directory hold from the first packet. */
	app->quarantine = ztg_quarantine_control_create(o->quarantine_entries, o->state_dir, app->audit_log, err,
							err_len);
	if (app->quarantine == NULL)
		return -1;
	app->rcu = rte_zmalloc("ztg_rcu", rte_rcu_qsbr_get_memsize(o->worker_count), RTE_CACHE_LINE_SIZE);
	if (app->rcu == NULL || rte_rcu_qsbr_init(app->rcu, o->worker_count) != 0) {
		snprintf(err, err_len, "cannot set up RCU for %u workers", o->worker_count);
		return -1;
	}
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

			struct ztg_tally *tally = rte_malloc_socket("ztg_tally", ztg_tally_size(TALLY_CAPACITY),
								    RTE_CACHE_LINE_SIZE, socket);

			ztg_session_context_init(&w->session, o, stream_pool, http_pool, &w->counters, (uint16_t)lcore);
			if (tally == NULL) {
				snprintf(err, err_len, "worker %u: out of memory for its labelled counters", lcore);
				return -1;
			}
			w->session.tally = ztg_tally_init(tally, TALLY_CAPACITY);
			w->session.rates = app->rates;
			w->session.rate_seed = rate_seed;
			w->session.behaviour = app->behaviour;
			w->session.quarantine = ztg_quarantine_control_table(app->quarantine);
			app->worker_tallies[i] = w->session.tally;
			w->session.authz = atomic_load(&app->policy);
			w->session.events = app->events;
			w->policy = &app->policy;
			w->revocations = ztg_identity_control_revocations(app->identity);
			w->session.worker_index = i;
			w->rcu = app->rcu;
			w->rcu_id = i;
			if (stream_pool == NULL || http_pool == NULL) {
				snprintf(err, err_len, "worker %u: cannot allocate %u stream chunks and %u HTTP buffers "
					 "(--stream-chunks, --http-buffers)", lcore, o->stream_chunks, o->http_buffers);
				return -1;
			}
			if (ztg_authn_worker_init(&w->session.authn, o->token_cache_entries) != 0) {
				snprintf(err, err_len, "worker %u: cannot allocate a token cache of %u entries "
					 "(--token-cache)", lcore, o->token_cache_entries);
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

/* ztgatectl capture, and dpdk-dumpcap whenever the EAL lets a secondary process attach. */
static int open_capture(struct ztg_app *app, char *err, size_t err_len)
{
	const char *prefix = strrchr(rte_eal_get_runtime_dir(), '/');
	char why[256];

	app->capture = ztg_capture_create(app->worker_count, app->worker_counters, app->rcu,
					  app->opts.forward_only ? "ztgate runs --forward-only: it denies no flow" : NULL);
	if (app->capture == NULL) {
		snprintf(err, err_len, "out of memory for packet capture");
		return -1;
	}
	for (uint16_t i = 0; i < app->worker_count; i++) {
		if (app->workers[i]->flows != NULL)
			app->workers[i]->capture = ztg_capture_published(app->capture);
	}
	app->pdump = ztg_capture_pdump_start(why, sizeof(why));
	if (app->pdump)
		printf("  dpdk-dumpcap    = on (dpdk-dumpcap --file-prefix=%s -i PORT)\n", prefix ? prefix + 1 : "rte");
	else
		printf("  dpdk-dumpcap    = off: %s\n", why);
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
		.tallies = app->worker_tallies,
		.route_labels = app->route_labels,
		.pool = app->pool,
		.rates = app->rates,
		.behaviour = app->behaviour,
		.quarantine = app->quarantine != NULL ? ztg_quarantine_control_table(app->quarantine) : NULL,
	};
}

/* Hand DPDK telemetry a snapshot of the policy in force: after every change of it, on this lcore. */
static void telemetry_policy(const struct ztg_app *app)
{
	const struct ztg_authz *authz = atomic_load(&app->policy);

	ztg_telemetry_set_policy(authz, authz ? route_total(ztg_authz_policy(authz)) : 0, app->current.source,
				 app->current.hash, app->current.loaded_at);
}

/*
 * Publish next as the policy in force; what it replaces becomes the rollback
 * target and the former rollback target is freed once every worker has
 * passed a quiescent state. Returns the grace period in microseconds.
 */
static double publish_policy(struct ztg_app *app, struct ztg_authz *next, struct policy_record *record, FILE *out)
{
	struct ztg_authz *retired = app->previous;
	uint64_t start;

	app->previous = atomic_exchange(&app->policy, next);
	ztg_identity_control_follow(app->identity, next);
	record_release(&app->former);
	app->former = app->current;
	app->current = *record;
	telemetry_policy(app);
	start = rte_rdtsc();
	rte_rcu_qsbr_synchronize(app->rcu, RTE_QSBR_THRID_INVALID);
	ztg_authz_free(retired);
	persist_policy(app, out);
	return (double)(rte_rdtsc() - start) * 1e6 / (double)rte_get_tsc_hz();
}

static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			return true;
	}
	return false;
}

/* The first argument after the command that is not an option, or NULL. */
static const char *operand(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			return argv[i];
	}
	return NULL;
}

static enum ztg_control_status command_status(struct ztg_app *app, bool json, FILE *out)
{
	struct ztg_authz *authz = atomic_load(&app->policy);
	const struct ztg_policy *p = authz ? ztg_authz_policy(authz) : NULL;
	char loaded[32] = "";
	long uptime = (long)(time(NULL) - app->started_at);

	if (p != NULL)
		ztg_events_format_utc(app->current.loaded_at, loaded, sizeof(loaded));
	if (json) {
		fprintf(out, "{\"version\":\"%s\",\"dpdk\":\"%s\",\"uptime_seconds\":%ld,\"workers\":%u,\"ports\":%u,"
			"\"policy\":", ZTG_VERSION, rte_version(), uptime, app->worker_count, app->port_count);
		if (p == NULL) {
			fprintf(out, "null");
		} else {
			fprintf(out, "{\"name\":");
			ztg_events_write_string(out, p->name);
			fprintf(out, ",\"mode\":\"%s\",\"generation\":%u,\"source\":", ztg_policy_mode_name(p->mode),
				ztg_authz_generation(authz));
			ztg_events_write_string(out, app->current.source);
			fprintf(out, ",\"sha256\":\"%s\",\"route_matchers_as_shipped\":%u", app->current.hash,
				ztg_authz_shipped_matchers(authz));
			fprintf(out, ",\"loaded_at\":\"%s\",\"segments\":%u,\"services\":%u,\"routes\":%u,"
				"\"access\":%u,\"issuers\":%u,\"api_keys\":%u,\"bytes\":%zu}", loaded, p->segment_count,
				p->service_count, route_total(p), p->access_count, p->issuer_count, p->api_key_count,
				ztg_authz_size(authz));
		}
		fprintf(out, ",\"rollback_available\":%s}\n", app->previous ? "true" : "false");
		return ZTG_CONTROL_OK;
	}
	fprintf(out, "ztgate %s (%s), up %ld s, %u workers, %u ports\n", ZTG_VERSION, rte_version(), uptime,
		app->worker_count, app->port_count);
	if (p == NULL) {
		fprintf(out, "policy: none (nothing is authorized; ztgatectl apply FILE)\n");
	} else {
		fprintf(out, "policy: ");
		print_policy_summary(out, authz);
		fprintf(out, "  from %s, loaded %s\n  sha256 %s, %u of %u route matchers taken as compiled\n",
			app->current.source, loaded, app->current.hash, ztg_authz_shipped_matchers(authz), p->service_count);
		fprintf(out, "  identity: %u issuer(s), %u API key(s), token cache %u entries per worker "
			"(ztgatectl keys, revocations)\n", p->issuer_count, p->api_key_count, app->opts.token_cache_entries);
		if (ztg_authz_detect(authz) != NULL) {
			const struct ztg_detect *d = ztg_authz_detect(authz);
			const struct ztg_sig_compiled *c = ztg_detect_compiled(d);
			size_t req = ztg_detect_stream_bytes(d, ZTG_DETECT_REQUEST_BODY);
			size_t resp = ztg_detect_stream_bytes(d, ZTG_DETECT_RESPONSE_BODY);

			fprintf(out, "  signatures: %u rules in %u set(s), %u Hyperscan databases, %.1f MiB, %s\n",
				c->rule_count, p->signature_set_count, c->db_count, (double)c->bytes / 1048576.0,
				ztg_detect_shipped(d) ? "taken as compiled in the bundle" : "compiled at load");
			fprintf(out, "  body streams: %u per worker and direction; state %zu B per request body, "
				"%zu B per response body (%.1f MiB per worker)\n", ztg_detect_streams(d), req, resp,
				(double)ztg_detect_streams(d) * (double)(req + resp) / 1048576.0);
		}
	}
	fprintf(out, "rollback: %s\n", app->previous ? app->former.source : "none");
	return ZTG_CONTROL_OK;
}

static enum ztg_control_status command_apply(struct ztg_app *app, int argc, char **argv, FILE *out)
{
	const char *path = operand(argc, argv);
	struct policy_record record;
	struct ztg_authz *next;
	char err[1024];
	double grace_us;

	if (path == NULL) {
		fprintf(out, "apply: which policy file?\n");
		return ZTG_CONTROL_USAGE;
	}
	next = compile_policy(app, path, out, &record, err, sizeof(err));
	if (next == NULL) {
		fprintf(out, "%s; the running policy stays in force\n", err);
		return ZTG_CONTROL_NEGATIVE;
	}
	grace_us = publish_policy(app, next, &record, out);
	fprintf(out, "applied ");
	print_policy_summary(out, next);
	fprintf(out, "in force on every worker after a grace period of %.0f us\n", grace_us);
	return ZTG_CONTROL_OK;
}

static enum ztg_control_status command_rollback(struct ztg_app *app, FILE *out)
{
	struct ztg_authz *back = app->previous;
	struct policy_record record = app->former;

	if (back == NULL) {
		fprintf(out, "rollback: no earlier policy to go back to\n");
		return ZTG_CONTROL_NEGATIVE;
	}
	app->previous = NULL;
	memset(&app->former, 0, sizeof(app->former));
	/* The current one becomes the rollback target, so a second rollback undoes the first. */
	publish_policy(app, back, &record, out);
	fprintf(out, "rolled back to ");
	print_policy_summary(out, back);
	return ZTG_CONTROL_OK;
}

static enum ztg_control_status command_policy(struct ztg_app *app, bool json, FILE *out)
{
	struct ztg_authz *authz = atomic_load(&app->policy);
	const struct ztg_policy *p;

	if (authz == NULL) {
		fprintf(out, json ? "null\n" : "no policy in force\n");
		return ZTG_CONTROL_OK;
	}
	p = ztg_authz_policy(authz);
	if (json) {
		fprintf(out, "{\"name\":");
		ztg_events_write_string(out, p->name);
		fprintf(out, ",\"generation\":%u,\"mode\":\"%s\",\"services\":[", ztg_authz_generation(authz),
			ztg_policy_mode_name(p->mode));
		for (uint32_t s = 0; s < p->service_count; s++) {
			const struct ztg_policy_service *svc = &p->services[s];

			fprintf(out, "%s{\"name\":", s ? "," : "");
			ztg_events_write_string(out, svc->name);
			fprintf(out, ",\"mode\":\"%s\",\"routes\":[", ztg_policy_mode_name(svc->mode));
			for (uint32_t r = 0; r < svc->route_count; r++) {
				fprintf(out, "%s{\"name\":", r ? "," : "");
				ztg_events_write_string(out, svc->routes[r].name);
				fprintf(out, ",\"path\":");
				ztg_events_write_string(out, svc->routes[r].path);
				fprintf(out, ",\"action\":\"%s\",\"mode\":\"%s\",\"line\":%u,\"rate_limits\":[",
					ztg_policy_action_name(svc->routes[r].action),
					ztg_policy_mode_name(svc->routes[r].mode), svc->routes[r].loc.line);
				for (uint32_t i = 0; i < svc->routes[r].rate_limit_count; i++) {
					const struct ztg_policy_rate_limit *l = &svc->routes[r].rate_limits[i];

					fprintf(out, "%s{\"name\":", i ? "," : "");
					ztg_events_write_string(out, l->name);
					fprintf(out, ",\"per\":\"%s\",\"rate\":%u,\"period_seconds\":%u,\"burst\":%u,"
						"\"action\":\"%s\",\"monitor\":%s,\"from_service\":%s}",
						ztg_policy_rate_key_name(l->key), l->rate, l->period, l->burst,
						ztg_policy_rate_action_name(l->action), l->monitor ? "true" : "false",
						l->from_service ? "true" : "false");
				}
				fprintf(out, "]}");
			}
			fprintf(out, "]}");
		}
		fprintf(out, "]}\n");
		return ZTG_CONTROL_OK;
	}
	print_policy_summary(out, authz);
	ztg_policy_behaviour_print(out, &p->behaviour, "");
	for (uint32_t s = 0; s < p->service_count; s++) {
		const struct ztg_policy_service *svc = &p->services[s];

		fprintf(out, "service %s (%s, segment %s)\n", svc->name, ztg_policy_mode_name(svc->mode),
			p->segments[svc->segment].name);
		for (uint32_t r = 0; r < svc->route_count; r++) {
			fprintf(out, "  %-20s %-40s %-6s %-8s %s:%u\n", svc->routes[r].name, svc->routes[r].path,
				ztg_policy_action_name(svc->routes[r].action), ztg_policy_mode_name(svc->routes[r].mode),
				svc->routes[r].loc.file, svc->routes[r].loc.line);
			for (uint32_t i = 0; i < svc->routes[r].rate_limit_count; i++) {
				fputs("    ", out);
				ztg_policy_rate_limit_print(out, &svc->routes[r].rate_limits[i]);
				fprintf(out, "%s\n", svc->routes[r].rate_limits[i].from_service ? " (from the service)" : "");
			}
		}
	}
	return ZTG_CONTROL_OK;
}

/* What explain --request FILE takes from the raw request: the first head, parsed as the workers parse it. */
struct raw_request {
	char method[32];
	char target[4096];
	char host[256];
	const char *violation;
	bool seen;
	/* The head as the parser saw it: fed whole, its slices point into bytes. */
	uint8_t bytes[65536];
	struct ztg_http_message message;
	struct ztg_http_header headers[ZTG_HTTP_MAX_HEADERS];
};

static int on_raw_request(void *arg, const struct ztg_http_event *ev)
{
	struct raw_request *rr = arg;
	const struct ztg_http_message *m = ev->message;

	if (ev->type == ZTG_HTTP_EV_VIOLATION) {
		rr->violation = ztg_http_violation_name(ev->violation);
		return 1;
	}
	if (ev->type != ZTG_HTTP_EV_HEADERS || !ev->is_request || rr->seen)
		return 0;
	rr->seen = true;
	snprintf(rr->method, sizeof(rr->method), "%.*s", (int)m->method_token.len, (const char *)m->method_token.ptr);
	snprintf(rr->target, sizeof(rr->target), "%.*s", (int)m->target.len, (const char *)m->target.ptr);
	snprintf(rr->host, sizeof(rr->host), "%.*s", (int)m->host.len, (const char *)m->host.ptr);
	rr->message = *m;
	memcpy(rr->headers, m->headers, m->header_count * sizeof(rr->headers[0]));
	rr->message.headers = rr->headers;
	return 1;
}

static bool read_raw_request(const char *path, struct raw_request *rr, FILE *out)
{
	struct ztg_http_limits limits;
	struct ztg_http_pool *pool;
	struct ztg_http_conn conn;
	uint8_t *buf = rr->bytes;
	size_t len;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		fprintf(out, "explain: --request %s: %s\n", path, strerror(errno));
		return false;
	}
	len = fread(buf, 1, sizeof(rr->bytes), f);
	fclose(f);
	ztg_http_limits_default(&limits);
	pool = ztg_http_pool_create(2, limits.max_head_bytes);
	if (pool == NULL)
		return false;
	ztg_http_conn_init(&conn);
	ztg_http_feed(&conn, true, buf, (uint32_t)len, &limits, pool, on_raw_request, rr);
	ztg_http_conn_release(&conn, pool);
	ztg_http_pool_free(pool);
	if (!rr->seen && rr->violation == NULL) {
		fprintf(out, "explain: --request %s: no complete request head in the file (%zu bytes)\n", path, len);
		return false;
	}
	return true;
}

static bool parse_address(const char *text, struct ztg_authz_explain_request *req, uint8_t *out)
{
	uint8_t version = strchr(text, ':') ? 6 : 4;

	if (inet_pton(version == 4 ? AF_INET : AF_INET6, text, out) != 1)
		return false;
	if (req->ip_version != 0 && req->ip_version != version)
		return false;
	req->ip_version = version;
	return true;
}

/* explain [--policy FILE] --src ADDR --dst ADDR [--port N] [--host HOST] METHOD TARGET [--json] */
static enum ztg_control_status explain_request(struct ztg_app *app, int argc, char **argv, bool json, FILE *out,
					      struct raw_request *raw)
{
	struct ztg_authz_explain_request req = {.port = 80};
	const char *file = NULL, *request_file = NULL, *positional[2];
	struct ztg_authz *authz, *temporary = NULL;
	bool have_src = false, have_dst = false;
	int npos = 0;
	char err[1024];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--json") == 0)
			continue;
		if (a[0] == '-' && a[1] == '-' && v == NULL) {
			fprintf(out, "explain: %s needs a value\n", a);
			return ZTG_CONTROL_USAGE;
		}
		if (strcmp(a, "--policy") == 0) {
			file = v;
		} else if (strcmp(a, "--src") == 0) {
			have_src = parse_address(v, &req, req.client);
			if (!have_src) {
				fprintf(out, "explain: --src %s: not an address of the destination's family\n", v);
				return ZTG_CONTROL_USAGE;
			}
		} else if (strcmp(a, "--dst") == 0) {
			have_dst = parse_address(v, &req, req.server);
			if (!have_dst) {
				fprintf(out, "explain: --dst %s: not an address of the source's family\n", v);
				return ZTG_CONTROL_USAGE;
			}
		} else if (strcmp(a, "--port") == 0) {
			char *end;
			unsigned long port = strtoul(v, &end, 10);

			if (*end != '\0' || port == 0 || port > 65535) {
				fprintf(out, "explain: --port %s: expected 1..65535\n", v);
				return ZTG_CONTROL_USAGE;
			}
			req.port = (uint16_t)port;
		} else if (strcmp(a, "--host") == 0) {
			req.host = v;
		} else if (strcmp(a, "--request") == 0) {
			request_file = v;
		} else if (a[0] == '-') {
			fprintf(out, "explain: unknown option %s\n", a);
			return ZTG_CONTROL_USAGE;
		} else {
			if (npos == 2) {
				fprintf(out, "explain: unexpected argument %s\n", a);
				return ZTG_CONTROL_USAGE;
			}
			positional[npos++] = a;
			continue;
		}
		i++;
	}
	if (!have_src || !have_dst || npos != (request_file ? 0 : 2)) {
		fprintf(out, "explain: usage: explain [--policy FILE] --src ADDR --dst ADDR [--port N] "
			"(--request FILE | [--host HOST] METHOD TARGET)\n");
		return ZTG_CONTROL_USAGE;
	}
	if (request_file != NULL) {
		if (!read_raw_request(request_file, raw, out))
			return ZTG_CONTROL_NEGATIVE;
		if (!raw->seen) {
			fprintf(out, "the HTTP layer refuses this request before any policy: %s\nverdict: deny (%s)\n",
				raw->violation, raw->violation);
			return ZTG_CONTROL_OK;
		}
		positional[0] = raw->method;
		positional[1] = raw->target;
		if (raw->host[0] != '\0')
			req.host = raw->host;
		req.message = &raw->message;
		req.now = (int64_t)time(NULL);
		req.revocations = atomic_load(ztg_identity_control_revocations(app->identity));
	}
	req.method = positional[0];
	req.target = positional[1];
	authz = atomic_load(&app->policy);
	if (file != NULL) {
		/* Judged by the file, as if applied; the running policy is not touched. */
		temporary = compile_policy(app, file, out, NULL, err, sizeof(err));
		if (temporary == NULL) {
			fprintf(out, "%s\n", err);
			return ZTG_CONTROL_NEGATIVE;
		}
		authz = temporary;
	}
	if (authz == NULL) {
		fprintf(out, "explain: no policy in force; give one with --policy FILE\n");
		return ZTG_CONTROL_NEGATIVE;
	}
	ztg_authz_explain(authz, &req, json, out);
	ztg_authz_free(temporary);
	return ZTG_CONTROL_OK;
}

static enum ztg_control_status command_explain(struct ztg_app *app, int argc, char **argv, bool json, FILE *out)
{
	/* A whole request head and its parsed fields: too big for the control thread's stack. */
	struct raw_request *raw = calloc(1, sizeof(*raw));
	enum ztg_control_status status;

	if (raw == NULL) {
		fprintf(out, "explain: out of memory\n");
		return ZTG_CONTROL_INTERNAL;
	}
	status = explain_request(app, argc, argv, json, out, raw);
	free(raw);
	return status;
}

struct ranked_flow {
	struct ztg_flow_summary s;
	unsigned int lcore;
	uint64_t rank;
};

static int by_rank(const void *a, const void *b)
{
	const struct ranked_flow *x = a, *y = b;

	return x->rank < y->rank ? 1 : x->rank > y->rank ? -1 : 0;
}

/* flows [--top N] [--by bytes|requests]: the busiest flows of every worker, merged. */
static enum ztg_control_status command_flows(struct ztg_app *app, int argc, char **argv, bool json, FILE *out)
{
	const uint64_t hz = rte_get_tsc_hz(), now = rte_rdtsc();
	struct ranked_flow *all;
	bool by_requests = false;
	unsigned long top = 20;
	uint32_t total = 0;
	uint64_t walked = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
			char *end;

			top = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || top == 0 || top > 1000) {
				fprintf(out, "flows: --top %s: expected 1..1000\n", argv[i]);
				return ZTG_CONTROL_USAGE;
			}
		} else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "requests") != 0 && strcmp(argv[i], "bytes") != 0) {
				fprintf(out, "flows: --by %s: expected bytes or requests\n", argv[i]);
				return ZTG_CONTROL_USAGE;
			}
			by_requests = strcmp(argv[i], "requests") == 0;
		} else if (strcmp(argv[i], "--json") != 0) {
			fprintf(out, "flows: unknown argument %s (--top N, --by bytes|requests, --json)\n", argv[i]);
			return ZTG_CONTROL_USAGE;
		}
	}
	/* Ask every running worker, then wait for the answers (a walk of its table between two rounds). */
	for (uint16_t w = 0; w < app->worker_count; w++) {
		struct ztg_flows_query *q = &app->workers[w]->flows_query;

		if (app->workers[w]->queue_count == 0 || app->workers[w]->flows == NULL)
			continue;
		q->by_requests = by_requests;
		atomic_fetch_add_explicit(&q->asked, 1, memory_order_release);
	}
	all = calloc((size_t)app->worker_count * ZTG_FLOWS_QUERY_TOP + 1, sizeof(*all));
	if (all == NULL)
		return ZTG_CONTROL_INTERNAL;
	for (uint16_t w = 0; w < app->worker_count; w++) {
		struct ztg_worker *wk = app->workers[w];
		struct ztg_flows_query *q = &wk->flows_query;
		uint64_t deadline = rte_rdtsc() + hz / 2;

		if (wk->queue_count == 0 || wk->flows == NULL)
			continue;
		while (atomic_load_explicit(&q->answered, memory_order_acquire) !=
		       atomic_load_explicit(&q->asked, memory_order_relaxed)) {
			if (rte_rdtsc() > deadline) {
				fprintf(out, "flows: worker %u did not answer within 500 ms\n", wk->lcore_id);
				free(all);
				return ZTG_CONTROL_INTERNAL;
			}
			rte_delay_us_sleep(1000);
		}
		walked += q->walked;
		for (uint32_t k = 0; k < q->count; k++)
			all[total++] = (struct ranked_flow){.s = q->top[k], .lcore = wk->lcore_id,
							    .rank = by_requests ? q->top[k].requests : q->top[k].bytes};
	}
	qsort(all, total, sizeof(*all), by_rank);
	if (total > top)
		total = (uint32_t)top;
	if (json)
		fprintf(out, "{\"flows_active\":%" PRIu64 ",\"by\":\"%s\",\"flows\":[", walked,
			by_requests ? "requests" : "bytes");
	else
		fprintf(out, "%" PRIu64 " flows; top %u by %s\n%-46s %-46s %-5s %-12s %10s %12s %8s %8s %8s %s\n",
			walked, total, by_requests ? "requests" : "bytes", "CLIENT", "SERVER", "PROTO", "STATE",
			"PACKETS", "BYTES", "REQUESTS", "AGE s", "IDLE s", "WORKER");
	for (uint32_t i = 0; i < total; i++) {
		const struct ztg_flow_summary *s = &all[i].s;
		unsigned int c = s->initiator;
		int af = s->key.ip_version == 4 ? AF_INET : AF_INET6;
		char client[INET6_ADDRSTRLEN], server[INET6_ADDRSTRLEN], from[64], to[64];
		double age = (double)(now - s->created_tsc) / (double)hz;
		double idle = now > s->last_seen_tsc ? (double)(now - s->last_seen_tsc) / (double)hz : 0;
		const char *state = s->key.l4_proto == IPPROTO_TCP ? ztg_tcp_state_name(s->tcp_state) : "-";

		inet_ntop(af, s->key.addr[c], client, sizeof(client));
		inet_ntop(af, s->key.addr[c ^ 1], server, sizeof(server));
		if (json) {
			fprintf(out, "%s{\"client\":\"%s\",\"client_port\":%u,\"server\":\"%s\",\"server_port\":%u,"
				"\"proto\":%u,\"state\":\"%s\",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
				",\"requests\":%u,\"age_seconds\":%.3f,\"idle_seconds\":%.3f,\"worker\":%u,"
				"\"blocked\":%s}", i ? "," : "", client, s->key.port[c], server, s->key.port[c ^ 1],
				s->key.l4_proto, state, s->packets, s->bytes, s->requests, age, idle, all[i].lcore,
				(s->flags & ZTG_FLOW_F_BLOCKED) ? "true" : "false");
			continue;
		}
		snprintf(from, sizeof(from), af == AF_INET ? "%s:%u" : "[%s]:%u", client, s->key.port[c]);
		snprintf(to, sizeof(to), af == AF_INET ? "%s:%u" : "[%s]:%u", server, s->key.port[c ^ 1]);
		fprintf(out, "%-46s %-46s %-5u %-12s %10" PRIu64 " %12" PRIu64 " %8u %8.1f %8.1f %u%s\n", from, to,
			s->key.l4_proto, state, s->packets, s->bytes, s->requests, age, idle, all[i].lcore,
			(s->flags & ZTG_FLOW_F_BLOCKED) ? " blocked" : "");
	}
	if (json)
		fprintf(out, "]}\n");
	free(all);
	return ZTG_CONTROL_OK;
}

/*
 * events [--since N]: the kept events numbered above N (all kept ones
 * without it), as JSON lines, then "#next M" for the next call's --since.
 * With --json: {"next": M, "dropped": D, "events": [...]}, D counting events
 * after N that were no longer kept.
 */
static enum ztg_control_status command_events(struct ztg_app *app, int argc, char **argv, bool json, FILE *out)
{
	uint64_t since = 0, first, next;
	bool have_since = false;
	uint64_t hz = rte_get_tsc_hz();

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			char *end;

			since = strtoull(argv[++i], &end, 10);
			have_since = *end == '\0';
			if (!have_since) {
				fprintf(out, "events: --since %s: expected an event number\n", argv[i]);
				return ZTG_CONTROL_USAGE;
			}
		} else if (strcmp(argv[i], "--json") != 0) {
			fprintf(out, "events: unknown argument %s (--since N, --json)\n", argv[i]);
			return ZTG_CONTROL_USAGE;
		}
	}
	ztg_audit_log_observed_lock(app->audit_log);
	next = app->recent_next;
	first = next > RECENT_EVENTS ? next - RECENT_EVENTS : 0;
	if (have_since && since > first)
		first = since < next ? since : next;
	if (json)
		fprintf(out, "{\"next\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"events\":[\n", next,
			have_since && since < first ? first - since : 0);
	for (uint64_t n = first; n < next; n++) {
		if (json && n > first)
			fputc(',', out);
		ztg_events_write_json(out, &app->recent[n % RECENT_EVENTS], app->wall_start, app->tsc_start, hz);
	}
	ztg_audit_log_observed_unlock(app->audit_log);
	if (json)
		fprintf(out, "]}\n");
	else
		fprintf(out, "#next %" PRIu64 "\n", next);
	return ZTG_CONTROL_OK;
}

/*
 * top [--json] [--again]: requests/s by verdict, service and reason, and the
 * identities seen most in the events (top.h). --again marks the polls of
 * ztgatectl top after its first.
 */
static enum ztg_control_status command_top(struct ztg_app *app, int argc, char **argv, bool json, FILE *out)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0 && strcmp(argv[i], "--again") != 0) {
			fprintf(out, "top: unknown argument %s (--json)\n", argv[i]);
			return ZTG_CONTROL_USAGE;
		}
	}
	ztg_top_print(app->top, json, out);
	return ZTG_CONTROL_OK;
}

static bool top_repeated(int argc, char **argv)
{
	if (strcmp(argv[0], "top") != 0)
		return false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--again") == 0)
			return true;
	}
	return false;
}

/*
 * Every command, whoever sent it and however it ended, leaves one audit line
 * in the event log: handed to its writer, never written here, so a stuck
 * output cannot stall the control socket.
 */
static void audit(struct ztg_app *app, const struct ztg_control_peer *peer, int argc, char **argv,
		  enum ztg_control_status status)
{
	char line[ZTG_AUDIT_LOG_LINE_MAX], stamp[32];
	FILE *out = fmemopen(line, sizeof(line), "w");
	long len;

	if (out == NULL)
		return;
	ztg_events_format_utc(time(NULL), stamp, sizeof(stamp));
	fprintf(out, "{\"timestamp\":\"%s\",\"audit\":{\"uid\":%u,\"pid\":%d,\"command\":", stamp,
		(unsigned int)peer->uid, (int)peer->pid);
	ztg_events_write_string(out, argv[0]);
	fprintf(out, ",\"args\":[");
	for (int i = 1; i < argc; i++) {
		fprintf(out, "%s", i > 1 ? "," : "");
		ztg_events_write_string(out, argv[i]);
	}
	fprintf(out, "],\"status\":%d}}\n", (int)status);
	len = ftell(out);
	fclose(out);
	/* A line cut by the buffer (arguments near ZTG_CONTROL_MAX_REQUEST) is refused and counted by submit. */
	ztg_audit_log_submit(app->audit_log, line, len > 0 ? (size_t)len : 0);
}

static enum ztg_control_status handle_command(void *arg, const struct ztg_control_peer *peer, int argc, char **argv,
					      FILE *out)
{
	struct ztg_app *app = arg;
	bool json = wants_json(argc, argv);
	enum ztg_control_status status;
	struct ztg_stats_source src;

	if (strcmp(argv[0], "status") == 0) {
		status = command_status(app, json, out);
	} else if (strcmp(argv[0], "apply") == 0) {
		status = command_apply(app, argc, argv, out);
	} else if (strcmp(argv[0], "rollback") == 0) {
		status = command_rollback(app, out);
	} else if (strcmp(argv[0], "policy") == 0) {
		status = command_policy(app, json, out);
	} else if (strcmp(argv[0], "flows") == 0) {
		status = command_flows(app, argc, argv, json, out);
	} else if (strcmp(argv[0], "events") == 0) {
		status = command_events(app, argc, argv, json, out);
	} else if (strcmp(argv[0], "inventory") == 0) {
		ztg_audit_log_observed_lock(app->audit_log);
		ztg_inventory_print(app->inventory, json, out);
		ztg_audit_log_observed_unlock(app->audit_log);
		status = ZTG_CONTROL_OK;
	} else if (strcmp(argv[0], "explain") == 0) {
		status = command_explain(app, argc, argv, json, out);
	} else if (strcmp(argv[0], "revoke") == 0 || strcmp(argv[0], "unrevoke") == 0 ||
		   strcmp(argv[0], "revocations") == 0 || strcmp(argv[0], "keys") == 0) {
		status = ztg_identity_control_command(app->identity, argc, argv, json, out);
	} else if (strcmp(argv[0], "top") == 0) {
		status = command_top(app, argc, argv, json, out);
	} else if (strcmp(argv[0], "quarantine") == 0 || strcmp(argv[0], "block") == 0) {
		status = ztg_quarantine_control_command(app->quarantine, argc, argv, json, out);
	} else if (strcmp(argv[0], "capture") == 0) {
		status = ztg_capture_command(app->capture, argc, argv, json, out);
	} else if (strcmp(argv[0], "stats") == 0) {
		fill_stats_source(app, &src, (double)(time(NULL) - app->started_at));
		if (json)
			ztg_stats_json(out, &src);
		else
			ztg_stats_print_final(out, &src);
		status = ZTG_CONTROL_OK;
	} else {
		fprintf(out, "unknown command '%s' (status, stats, top, policy, flows, events, explain, inventory, apply, "
			"rollback, keys, revoke, unrevoke, revocations, quarantine, block, capture)\n", argv[0]);
		status = ZTG_CONTROL_USAGE;
	}
	/* events --since N and top --again are what --follow and top poll with: their first call is worth a line. */
	if ((strcmp(argv[0], "events") != 0 || operand(argc, argv) == NULL) && !top_repeated(argc, argv))
		audit(app, peer, argc, argv, status);
	return status;
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

		if (app->control != NULL)
			ztg_control_serve(app->control, MANAGEMENT_TICK_MS, handle_command, app);
		else
			rte_delay_us_sleep(MANAGEMENT_TICK_MS * 1000);
		if (atomic_exchange(&reopen_requested, false))
			ztg_audit_log_reopen(app->audit_log);
		ztg_capture_poll(app->capture);
		ztg_quarantine_control_poll(app->quarantine, (int64_t)time(NULL));
		t = rte_rdtsc();
		if (o->duration && t - start_tsc >= (uint64_t)o->duration * hz)
			break;
		/* Due once a second; out of memory keeps the last view, whose sample number then stands still. */
		ztg_top_sample(app->top, src.tallies, src.worker_count, src.route_labels,
			       (double)(t - start_tsc) / (double)hz);
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
	/* The workers have stopped; it needs their counters and the RCU variable. */
	ztg_capture_free(app->capture, stdout);
	if (app->pdump)
		ztg_capture_pdump_stop();
	ztg_metrics_http_stop(app->metrics);   /* it reads the workers' counters */
	ztg_telemetry_close();          /* before the workers' counters go */
	/* Its NIC rules go while the ports are still there; the workers that read its table have stopped. */
	ztg_quarantine_control_free(app->quarantine);
	app->quarantine = NULL;
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
		ztg_authn_worker_release(&w->session.authn);
		rte_free(w->session.tally);
		rte_free(w);
	}
	/* Its fetch thread uses the policy in force: stopped before any policy is freed. */
	ztg_identity_control_free(app->identity);
	rte_mempool_free(app->pool);
	close_events(app);              /* its writer reads the ring, and feeds the inventory */
	rte_ring_free(app->events);
	ztg_authz_free(atomic_load(&app->policy));
	ztg_authz_free(app->previous);
	record_release(&app->current);
	record_release(&app->former);
	rte_free(app->rcu);
	ztg_control_close(app->control);
	ztg_inventory_free(app->inventory);
	ztg_top_free(app->top);          /* after close_events: the writer feeds it */
	ztg_route_labels_free(app->route_labels);
	ztg_rate_table_free(app->rates);
	ztg_behaviour_table_free(app->behaviour);
	free(app->recent);
}

/* The metrics server's view, filled on its thread from what stays put while ztgate runs. */
static void metrics_source(void *arg, struct ztg_stats_source *src)
{
	struct ztg_app *app = arg;

	fill_stats_source(app, src, 0);
	if (app->inventory != NULL && app->audit_log != NULL) {
		ztg_audit_log_observed_lock(app->audit_log);
		ztg_inventory_summarize(app->inventory, &src->shadow);
		ztg_audit_log_observed_unlock(app->audit_log);
		src->shadow_known = true;
	}
}

static int run(struct ztg_app *app)
{
	struct ztg_stats_source src;
	char err[1024];
	uint64_t start, stop;
	uint16_t launched = 0;

	app->identity = ztg_identity_control_create(app->opts.state_dir, err, sizeof(err));
	/* Before any policy: every policy's routes take their label slots here, and readers never see it change. */
	app->route_labels = ztg_route_labels_create(ROUTE_LABELS_CAPACITY);
	if (app->route_labels == NULL) {
		snprintf(err, sizeof(err), "out of memory for %u route labels", ROUTE_LABELS_CAPACITY);
		goto fail;
	}
	/* Before the events: their writer feeds it from its first event. */
	app->top = ztg_top_create(TOP_IDENTITIES);
	if (app->top == NULL) {
		snprintf(err, sizeof(err), "out of memory for ztgatectl top's %u identities", TOP_IDENTITIES);
		goto fail;
	}
	/* Workers first: a policy's signatures get a Hyperscan scratch for each. */
	if (app->identity == NULL || select_workers(app, err, sizeof(err)) < 0 || load_policy(app, err, sizeof(err)) < 0 ||
	    check_ports(app, err, sizeof(err)) < 0)
		goto fail;
	printf("ztgate %s (%s): effective configuration\n", ZTG_VERSION, rte_version());
	ztg_options_print(stdout, &app->opts);
	print_policy(app);
	if (open_events(app, err, sizeof(err)) < 0 || create_workers(app, err, sizeof(err)) < 0 ||
	    setup_ports(app, err, sizeof(err)) < 0 || open_capture(app, err, sizeof(err)) < 0)
		goto fail;
	ztg_identity_control_attach(app->identity, app->rcu);
	if (ztg_identity_control_start(app->identity, err, sizeof(err)) < 0 ||
	    ztg_quarantine_control_attach_ports(app->quarantine, app->ports, app->port_count, err, sizeof(err)) < 0)
		goto fail;
	fill_stats_source(app, &src, 0);
	telemetry_policy(app);
	if (ztg_telemetry_register(&src, err, sizeof(err)) < 0)
		goto fail;

	if (app->opts.control_socket[0] &&
	    (app->control = ztg_control_open(app->opts.control_socket, err, sizeof(err))) == NULL)
		goto fail;
	if (app->opts.metrics[0] &&
	    (app->metrics = ztg_metrics_http_start(app->opts.metrics, metrics_source, app, err, sizeof(err))) == NULL)
		goto fail;
	app->started_at = time(NULL);
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
	close_events(app);
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
	signal(SIGHUP, on_hangup);

	rc = run(&app);
	rte_eal_cleanup();
	return rc;
}
