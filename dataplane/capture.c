/* rte_pcapng is experimental in DPDK 22.11: this file is its only user. */
#define ALLOW_EXPERIMENTAL_API 1

#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_pdump.h>
#include <rte_ring.h>

#include "events.h"

/* Capture mbufs the main lcore takes off a ring and writes with one call. */
#define WRITE_BURST 64
/* The Enhanced Packet Block's timestamp words (pcapng: high, then low, in the writer's byte order). */
#define EPB_TIMESTAMP_HIGH 12
#define EPB_TIMESTAMP_LOW  16
/* Bounds of what `capture start` takes. */
#define COUNT_MAX    1000000000000ull
#define DURATION_MAX (366u * 86400u)

/* What workers read: set before the session is published, never changed after. */
struct ztg_capture_session {
	struct rte_mempool *pool;
	uint32_t snaplen;
	unsigned int ring_count;
	struct rte_ring *rings[];        /* one per worker, single producer, single consumer */
};

enum capture_end {
	CAPTURE_RUNNING,
	CAPTURE_STOPPED,                 /* capture stop */
	CAPTURE_COUNT,                   /* --count packets written */
	CAPTURE_DURATION,                /* --duration passed */
	CAPTURE_WRITE_ERROR,
	CAPTURE_EXIT,                    /* ztgate stopped */
};

static const char *const end_names[] = {
	[CAPTURE_RUNNING] = "running",
	[CAPTURE_STOPPED] = "stopped",
	[CAPTURE_COUNT] = "count reached",
	[CAPTURE_DURATION] = "duration reached",
	[CAPTURE_WRITE_ERROR] = "write error",
	[CAPTURE_EXIT] = "ztgate stopped",
};

/* One capture, running or ended: what status and stop report. */
struct capture_record {
	struct ztg_capture_request req;
	enum capture_end end;
	uint64_t start_tsc;
	uint64_t end_tsc;
	uint64_t packets;                /* written to the file */
	uint64_t bytes;                  /* of the packet blocks written */
	uint64_t dropped;                /* copies the workers could not make, once it ended */
	char error[PATH_MAX + 128];      /* why writing failed; "" if it did not */
};

struct ztg_capture {
	struct ztg_capture_session *_Atomic published;   /* what workers read; NULL: no capture */
	/* The running capture: main lcore only. */
	struct ztg_capture_session *session;
	rte_pcapng_t *writer;
	uint64_t clock_tsc;              /* the session's time reference: a TSC reading ... */
	uint64_t clock_ns;               /* ... and the wall clock at that instant */
	uint64_t dropped_before;         /* the workers' capture_dropped when it started */
	unsigned int serial;             /* numbers sessions, for unique pool and ring names */
	bool have_record;
	struct capture_record record;    /* the running capture, or the last one */
	/* Fixed at creation. */
	unsigned int workers;
	const struct ztg_counters *const *counters;
	struct rte_rcu_qsbr *rcu;
	const char *disabled;
	uint64_t tsc_hz;
};

static int parse_number(const char *option, const char *text, uint64_t min, uint64_t max, uint64_t *value,
			char *err, size_t err_len)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
		snprintf(err, err_len, "%s %s: expected a number in %" PRIu64 "..%" PRIu64, option, text, min, max);
		return -1;
	}
	*value = v;
	return 0;
}

int ztg_capture_parse_request(int argc, char *const *argv, struct ztg_capture_request *req, char *err,
			      size_t err_len)
{
	const char *path = NULL;

	*req = (struct ztg_capture_request){.snaplen = ZTG_CAPTURE_SNAPLEN_DEFAULT};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		int rc;

		if (strcmp(a, "--json") == 0)
			continue;
		if (a[0] != '-') {
			if (path != NULL) {
				snprintf(err, err_len, "unexpected argument %s: one FILE only", a);
				return -1;
			}
			path = a;
			continue;
		}
		if (strcmp(a, "--snaplen") != 0 && strcmp(a, "--count") != 0 && strcmp(a, "--duration") != 0) {
			snprintf(err, err_len, "unknown option %s (--snaplen N, --count N, --duration SECONDS)", a);
			return -1;
		}
		if (i + 1 == argc) {
			snprintf(err, err_len, "%s needs a value", a);
			return -1;
		}
		if (strcmp(a, "--snaplen") == 0) {
			rc = parse_number(a, argv[++i], ZTG_CAPTURE_SNAPLEN_MIN, ZTG_CAPTURE_SNAPLEN_MAX, &v, err, err_len);
			req->snaplen = (uint32_t)v;
		} else if (strcmp(a, "--count") == 0) {
			rc = parse_number(a, argv[++i], 1, COUNT_MAX, &v, err, err_len);
			req->count = v;
		} else {
			rc = parse_number(a, argv[++i], 1, DURATION_MAX, &v, err, err_len);
			req->duration = (uint32_t)v;
		}
		if (rc != 0)
			return -1;
	}
	if (path == NULL) {
		snprintf(err, err_len, "which file? (capture start FILE [--snaplen N] [--count N] [--duration SECONDS])");
		return -1;
	}
	if (path[0] != '/') {
		snprintf(err, err_len, "%.*s: not an absolute path (ztgate writes the file from its own directory)",
			 PATH_MAX, path);
		return -1;
	}
	if (strlen(path) >= sizeof(req->path)) {
		snprintf(err, err_len, "%.64s...: path longer than %d bytes", path, PATH_MAX - 1);
		return -1;
	}
	memcpy(req->path, path, strlen(path) + 1);
	return 0;
}

static inline void store_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t load_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void ztg_capture_packet(struct ztg_capture_session *s, unsigned int worker, const struct rte_mbuf *m,
			uint16_t port, uint16_t queue, enum rte_pcapng_direction dir, struct ztg_counters *c)
{
	const uint64_t tsc = rte_rdtsc();
	struct rte_mbuf *copy = rte_pcapng_copy(port, queue, m, s->pool, s->snaplen, tsc, dir);
	uint8_t *block;

	if (unlikely(copy == NULL)) {
		c->capture_dropped++;
		return;
	}
	/* The raw TSC in place of the library's conversion: the main lcore converts it (see the header). */
	block = rte_pktmbuf_mtod(copy, uint8_t *);
	store_u32(block + EPB_TIMESTAMP_HIGH, (uint32_t)(tsc >> 32));
	store_u32(block + EPB_TIMESTAMP_LOW, (uint32_t)tsc);
	if (unlikely(rte_ring_sp_enqueue(s->rings[worker], copy) != 0)) {
		rte_pktmbuf_free(copy);
		c->capture_dropped++;
		return;
	}
	c->capture_packets++;
}

static void session_free(struct ztg_capture_session *s)
{
	if (s == NULL)
		return;
	for (unsigned int w = 0; w < s->ring_count; w++)
		rte_ring_free(s->rings[w]);
	rte_mempool_free(s->pool);
	free(s);
}

/* Pool and rings for a capture of snaplen bytes per packet; NULL with err filled. */
static struct ztg_capture_session *session_create(struct ztg_capture *cap, uint32_t snaplen, char *err,
						  size_t err_len)
{
	struct ztg_capture_session *s = calloc(1, sizeof(*s) + cap->workers * sizeof(s->rings[0]));
	/* Every ring full, and a burst more with the main lcore while it writes. */
	const unsigned int mbufs = cap->workers * ZTG_CAPTURE_RING_SIZE + WRITE_BURST;
	const uint32_t room = rte_pcapng_mbuf_size(snaplen);
	char name[RTE_MEMPOOL_NAMESIZE];

	if (s == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	cap->serial++;
	s->snaplen = snaplen;
	snprintf(name, sizeof(name), "ztg_capture_%u", cap->serial);
	/* No per-lcore cache: mbufs go back from the main lcore, and none may sit unused in a cache. */
	s->pool = rte_pktmbuf_pool_create(name, mbufs, 0, 0, (uint16_t)room, (int)rte_socket_id());
	if (s->pool == NULL) {
		snprintf(err, err_len, "cannot allocate %u capture mbufs of %u bytes: %s (a smaller --snaplen, or "
			 "more EAL memory)", mbufs, room, rte_strerror(rte_errno));
		free(s);
		return NULL;
	}
	for (unsigned int w = 0; w < cap->workers; w++) {
		snprintf(name, sizeof(name), "ztg_capture_%u_%u", cap->serial, w);
		s->rings[w] = rte_ring_create(name, ZTG_CAPTURE_RING_SIZE, (int)rte_socket_id(),
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (s->rings[w] == NULL) {
			snprintf(err, err_len, "cannot create capture ring %s: %s", name, rte_strerror(rte_errno));
			session_free(s);
			return NULL;
		}
		s->ring_count++;
	}
	return s;
}

struct ztg_capture *ztg_capture_create(unsigned int workers, const struct ztg_counters *const *counters,
				       struct rte_rcu_qsbr *rcu, const char *disabled)
{
	struct ztg_capture *cap = calloc(1, sizeof(*cap));

	if (cap == NULL)
		return NULL;
	cap->workers = workers;
	cap->counters = counters;
	cap->rcu = rcu;
	cap->disabled = disabled;
	cap->tsc_hz = rte_get_tsc_hz();
	return cap;
}

struct ztg_capture_session *_Atomic const *ztg_capture_published(const struct ztg_capture *cap)
{
	return &cap->published;
}

static uint64_t dropped_total(const struct ztg_capture *cap)
{
	uint64_t total = 0;

	for (unsigned int w = 0; w < cap->workers; w++)
		total += cap->counters[w]->capture_dropped;
	return total;
}

/* Wall-clock nanoseconds of a TSC reading, by the session's reference; whole seconds first, so nothing overflows. */
static uint64_t tsc_to_ns(const struct ztg_capture *cap, uint64_t tsc)
{
	const uint64_t hz = cap->tsc_hz;
	bool before = tsc < cap->clock_tsc;
	uint64_t delta = before ? cap->clock_tsc - tsc : tsc - cap->clock_tsc;
	uint64_t ns = delta / hz * (uint64_t)NS_PER_S + delta % hz * (uint64_t)NS_PER_S / hz;

	return before ? cap->clock_ns - ns : cap->clock_ns + ns;
}

/* Write what the workers copied (at most the count asked for) and free the mbufs. */
static void write_batch(struct ztg_capture *cap, struct rte_mbuf **pkts, unsigned int n)
{
	struct capture_record *r = &cap->record;
	unsigned int keep = n;
	ssize_t written;

	if (r->error[0] != '\0')
		keep = 0;
	else if (r->req.count != 0 && r->packets + n > r->req.count)
		keep = (unsigned int)(r->req.count - r->packets);
	for (unsigned int i = 0; i < keep; i++) {
		uint8_t *block = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		uint64_t tsc = (uint64_t)load_u32(block + EPB_TIMESTAMP_HIGH) << 32 | load_u32(block + EPB_TIMESTAMP_LOW);
		uint64_t ns = tsc_to_ns(cap, tsc);

		store_u32(block + EPB_TIMESTAMP_HIGH, (uint32_t)(ns >> 32));
		store_u32(block + EPB_TIMESTAMP_LOW, (uint32_t)ns);
	}
	if (keep != 0) {
		written = rte_pcapng_write_packets(cap->writer, pkts, (uint16_t)keep);
		if (written < 0) {
			snprintf(r->error, sizeof(r->error), "%s: %s", r->req.path, rte_strerror(rte_errno));
		} else {
			r->packets += keep;
			r->bytes += (uint64_t)written;
		}
	}
	/* 22.11's rte_pcapng_write_packets leaves them to the caller, whatever its header says. */
	rte_pktmbuf_free_bulk(pkts, n);
}

/* Write what the rings hold, up to `budget` packets per ring. */
static void drain(struct ztg_capture *cap, unsigned int budget)
{
	struct rte_mbuf *pkts[WRITE_BURST];

	for (unsigned int w = 0; w < cap->session->ring_count; w++) {
		unsigned int done = 0, n;

		do {
			n = rte_ring_sc_dequeue_burst(cap->session->rings[w], (void **)pkts, WRITE_BURST, NULL);
			if (n != 0)
				write_batch(cap, pkts, n);
			done += n;
		} while (n == WRITE_BURST && done < budget);
	}
}

/* End the running capture: no worker holds the session once the grace period is over, and its file is complete. */
static void finish(struct ztg_capture *cap, enum capture_end end)
{
	struct capture_record *r = &cap->record;

	atomic_store_explicit(&cap->published, NULL, memory_order_release);
	rte_rcu_qsbr_synchronize(cap->rcu, RTE_QSBR_THRID_INVALID);
	drain(cap, UINT_MAX);
	r->dropped = dropped_total(cap) - cap->dropped_before;
	r->end_tsc = rte_rdtsc();
	r->end = r->error[0] != '\0' ? CAPTURE_WRITE_ERROR : end;
	rte_pcapng_close(cap->writer);           /* closes the file */
	session_free(cap->session);
	cap->writer = NULL;
	cap->session = NULL;
}

void ztg_capture_poll(struct ztg_capture *cap)
{
	const struct capture_record *r;

	if (cap == NULL || cap->session == NULL)
		return;
	r = &cap->record;
	drain(cap, ZTG_CAPTURE_RING_SIZE);
	if (r->error[0] != '\0')
		finish(cap, CAPTURE_WRITE_ERROR);
	else if (r->req.count != 0 && r->packets >= r->req.count)
		finish(cap, CAPTURE_COUNT);
	else if (r->req.duration != 0 && rte_rdtsc() - r->start_tsc >= (uint64_t)r->req.duration * cap->tsc_hz)
		finish(cap, CAPTURE_DURATION);
}

void ztg_capture_free(struct ztg_capture *cap, FILE *out)
{
	if (cap == NULL)
		return;
	if (cap->session != NULL) {
		finish(cap, CAPTURE_EXIT);
		if (out != NULL)
			fprintf(out, "ztgate: capture into %s ended as ztgate stopped: %" PRIu64 " packets written\n",
				cap->record.req.path, cap->record.packets);
	}
	free(cap);
}

static double seconds_of(const struct ztg_capture *cap)
{
	const struct capture_record *r = &cap->record;
	uint64_t end = r->end == CAPTURE_RUNNING ? rte_rdtsc() : r->end_tsc;

	return (double)(end - r->start_tsc) / (double)cap->tsc_hz;
}

static void print_limits(FILE *out, const struct ztg_capture_request *req)
{
	fprintf(out, "snaplen %u", req->snaplen);
	if (req->count != 0)
		fprintf(out, ", stops after %" PRIu64 " packets", req->count);
	if (req->duration != 0)
		fprintf(out, "%s %u s", req->count != 0 ? " or" : ", stops after", req->duration);
}

static void print_json(const struct ztg_capture *cap, FILE *out)
{
	const struct capture_record *r = &cap->record;

	if (!cap->have_record) {
		fprintf(out, "{\"running\":false,\"file\":null}\n");
		return;
	}
	fprintf(out, "{\"running\":%s,\"file\":", r->end == CAPTURE_RUNNING ? "true" : "false");
	ztg_events_write_string(out, r->req.path);
	fprintf(out, ",\"state\":\"%s\",\"seconds\":%.3f,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"dropped\":%" PRIu64 ",\"snaplen\":%u,\"count\":%" PRIu64 ",\"duration\":%u,\"error\":",
		end_names[r->end], seconds_of(cap), r->packets, r->bytes,
		r->end == CAPTURE_RUNNING ? dropped_total(cap) - cap->dropped_before : r->dropped, r->req.snaplen,
		r->req.count, r->req.duration);
	ztg_events_write_string_or_null(out, r->error[0] != '\0' ? r->error : NULL);
	fprintf(out, "}\n");
}

/* The line that sums up an ended capture. */
static void print_summary(const struct ztg_capture *cap, FILE *out)
{
	const struct capture_record *r = &cap->record;

	fprintf(out, "capture %s: %" PRIu64 " packets (%" PRIu64 " bytes) written to %s in %.1f s; %" PRIu64
		" not captured (ring full or pool empty)\n", end_names[r->end], r->packets, r->bytes, r->req.path,
		seconds_of(cap), r->dropped);
	if (r->error[0] != '\0')
		fprintf(out, "capture: cannot write %s\n", r->error);
}

static enum ztg_control_status command_start(struct ztg_capture *cap, int argc, char **argv, FILE *out)
{
	struct ztg_capture_request req;
	struct ztg_capture_session *s;
	char err[PATH_MAX + 256], os[2 * sizeof(((struct utsname *)0)->release)] = "";
	struct utsname u;
	struct timespec now;
	int fd;

	if (cap->disabled != NULL) {
		fprintf(out, "capture: %s\n", cap->disabled);
		return ZTG_CONTROL_NEGATIVE;
	}
	if (ztg_capture_parse_request(argc, argv, &req, err, sizeof(err)) != 0) {
		fprintf(out, "capture start: %s\n", err);
		return ZTG_CONTROL_USAGE;
	}
	if (cap->session != NULL) {
		fprintf(out, "capture: one already runs, into %s (capture stop ends it)\n", cap->record.req.path);
		return ZTG_CONTROL_NEGATIVE;
	}
	/* Memory first: a capture that cannot run leaves an existing file as it was. */
	s = session_create(cap, req.snaplen, err, sizeof(err));
	if (s == NULL) {
		fprintf(out, "capture: %s\n", err);
		return ZTG_CONTROL_NEGATIVE;
	}
	/* Requests and tokens are in there: for the operator only. */
	fd = open(req.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(out, "capture: %s: %s\n", req.path, strerror(errno));
		session_free(s);
		return ZTG_CONTROL_NEGATIVE;
	}
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	cap->writer = rte_pcapng_fdopen(fd, os, NULL, "ztgate " ZTG_VERSION, "packets of the flows ztgate denied");
	if (cap->writer == NULL) {
		fprintf(out, "capture: %s: cannot write the pcapng header: %s\n", req.path, rte_strerror(rte_errno));
		close(fd);
		session_free(s);
		return ZTG_CONTROL_NEGATIVE;
	}
	cap->session = s;
	cap->clock_tsc = rte_rdtsc();
	clock_gettime(CLOCK_REALTIME, &now);
	cap->clock_ns = (uint64_t)now.tv_sec * (uint64_t)NS_PER_S + (uint64_t)now.tv_nsec;
	cap->dropped_before = dropped_total(cap);
	cap->record = (struct capture_record){.req = req, .start_tsc = cap->clock_tsc};
	cap->have_record = true;
	atomic_store_explicit(&cap->published, s, memory_order_release);
	fprintf(out, "capturing the packets of denied flows into %s (", req.path);
	print_limits(out, &req);
	fprintf(out, ")\n");
	return ZTG_CONTROL_OK;
}

static enum ztg_control_status command_stop(struct ztg_capture *cap, bool json, FILE *out)
{
	if (cap->session != NULL) {
		ztg_capture_poll(cap);           /* it may have reached its limits */
		if (cap->session != NULL)
			finish(cap, CAPTURE_STOPPED);
	}
	if (!cap->have_record) {
		fprintf(out, json ? "{\"running\":false,\"file\":null}\n" : "capture: none has run\n");
		return ZTG_CONTROL_NEGATIVE;
	}
	if (json)
		print_json(cap, out);
	else
		print_summary(cap, out);
	/* The file misses what could not be written. */
	return cap->record.end == CAPTURE_WRITE_ERROR ? ZTG_CONTROL_NEGATIVE : ZTG_CONTROL_OK;
}

static enum ztg_control_status command_status(struct ztg_capture *cap, bool json, FILE *out)
{
	const struct capture_record *r = &cap->record;

	ztg_capture_poll(cap);                   /* fresh figures, and an end at the limits is seen now */
	if (json) {
		print_json(cap, out);
	} else if (cap->disabled != NULL) {
		fprintf(out, "capture: none can run: %s\n", cap->disabled);
	} else if (!cap->have_record) {
		fprintf(out, "capture: none running (ztgatectl capture --output FILE starts one)\n");
	} else if (r->end == CAPTURE_RUNNING) {
		fprintf(out, "capture: running for %.1f s into %s: %" PRIu64 " packets (%" PRIu64 " bytes) written, %"
			PRIu64 " not captured; ", seconds_of(cap), r->req.path, r->packets, r->bytes,
			dropped_total(cap) - cap->dropped_before);
		print_limits(out, &r->req);
		fprintf(out, "\n");
	} else {
		fprintf(out, "capture: none running; the last one:\n");
		print_summary(cap, out);
	}
	return cap->session != NULL ? ZTG_CONTROL_OK : ZTG_CONTROL_NEGATIVE;
}

enum ztg_control_status ztg_capture_command(struct ztg_capture *cap, int argc, char **argv, bool json, FILE *out)
{
	const char *sub = argc > 1 ? argv[1] : "";
	bool only_json = true;

	for (int i = 2; i < argc; i++)
		only_json = only_json && strcmp(argv[i], "--json") == 0;
	if (strcmp(sub, "start") == 0)
		return command_start(cap, argc - 1, argv + 1, out);
	if (strcmp(sub, "stop") == 0 && only_json)
		return command_stop(cap, json, out);
	if (strcmp(sub, "status") == 0 && only_json)
		return command_status(cap, json, out);
	fprintf(out, "capture: expected start FILE [--snaplen N] [--count N] [--duration SECONDS], stop or status\n");
	return ZTG_CONTROL_USAGE;
}

/* ------------------------------------------------------------ dpdk-dumpcap */

static int probe_action(const struct rte_mp_msg *msg, const void *peer)
{
	(void)msg;
	(void)peer;
	return 0;
}

/* Whether the EAL runs its multi-process channel (not with --no-shconf or --in-memory). */
static bool multi_process_channel(void)
{
	static const char probe[] = "ztg_capture_probe";

	if (rte_mp_action_register(probe, probe_action) != 0)
		return rte_errno != ENOTSUP;
	rte_mp_action_unregister(probe);
	return true;
}

/* rte_memseg_walk: whether the file behind the first segment that has one is unlinked (--huge-unlink). */
static int segment_unlinked(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	int fd = rte_memseg_get_fd_thread_unsafe(ms);
	struct stat st;

	(void)msl;
	if (fd < 0)
		return 0;
	*(bool *)arg = fstat(fd, &st) == 0 && st.st_nlink == 0;
	return 1;
}

bool ztg_capture_pdump_start(char *why, size_t why_len)
{
	bool unlinked = false;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		snprintf(why, why_len, "ztgate is not the EAL's primary process");
		return false;
	}
	if (!rte_eal_has_hugepages()) {
		snprintf(why, why_len, "--no-huge: a secondary process cannot map memory that is not in hugepage files");
		return false;
	}
	if (!multi_process_channel()) {
		snprintf(why, why_len, "--no-shconf or --in-memory: without shared files a secondary process cannot "
			 "find ztgate");
		return false;
	}
	rte_memseg_walk(segment_unlinked, &unlinked);
	if (unlinked) {
		snprintf(why, why_len, "--huge-unlink: a secondary process cannot map hugepage files that are gone");
		return false;
	}
	if (rte_pdump_init() != 0) {
		snprintf(why, why_len, "rte_pdump_init: %s", rte_strerror(rte_errno));
		return false;
	}
	return true;
}

void ztg_capture_pdump_stop(void)
{
	rte_pdump_uninit();
}
