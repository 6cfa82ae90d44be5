/*
 * Raw Hyperscan over a capture's payload: the yardstick scripts/bench.sh
 * holds ztgate's cost per byte against (issue 6).
 *
 * Loads a rule file through the real loader and compiler (ztg_sig_set_load,
 * ztg_sig_compile: the databases ztgate would build from it), reads a pcap
 * and keeps every TCP payload byte, client to server and back (the lower
 * port is taken as the server's). Then times plain Hyperscan over those
 * bytes, the cheapest honest way: each direction of each connection is one
 * stream of its body database (request_body for what the client sends,
 * response_body for what the server sends: the databases ztgate streams),
 * opened at its first segment and closed after the last, every segment one
 * hs_scan_stream() call, a match callback that only counts. Headers are
 * scanned too: all payload bytes, one database each, no parsing, no
 * decoding, no per-field split. A direction whose body database the rule
 * set does not have (no rule on that field) is not scanned, and said so.
 *
 * A pass goes over the whole capture; a round repeats passes for --ms
 * milliseconds of CLOCK_MONOTONIC (the clock ztgate's TSC figures compare
 * with); --rounds rounds, the median kept. One JSON line on stdout:
 *   {"rules":1000,"payload_bytes":...,"bytes_scanned":...,"ns_per_byte":...,
 *    "bytes_per_s":...,"matches_per_pass":...,...}
 * A measurement tool, not a test: it asserts nothing but that the set
 * compiles and the capture reads.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs.h>
#include <pcap/pcap.h>

#include "sig_compile.h"
#include "signatures.h"

#include "bench_sig.h"
#include "bench_util.h"

#define PROG             "hs_scan_bench"
#define DEFAULT_ROUNDS   5u
#define DEFAULT_MS       300u
#define MAX_ROUNDS       100u
#define MAX_MS           60000u
#define MAX_PAYLOAD      (1ull << 32)   /* bytes kept from one capture: offsets are 32 bits */
_Static_assert(MAX_ROUNDS <= BENCH_MAX_ROUNDS, "median() takes at most BENCH_MAX_ROUNDS rounds");

enum dir { DIR_REQUEST, DIR_RESPONSE, DIR_COUNT };

/* One TCP segment's payload: where it is kept, and the stream (connection * 2 + direction) it belongs to. */
struct segment {
	uint32_t off;
	uint32_t len;
	uint32_t stream;
};

/* A connection: its addresses and ports, client side first. */
struct conn_key {
	uint8_t addr[2][16];
	uint16_t port[2];
	uint8_t family;
};

struct capture {
	uint8_t *payload;
	uint64_t payload_len, payload_cap;
	struct segment *segs;
	uint32_t seg_count, seg_cap;
	struct conn_key *conns;        /* by connection index */
	uint32_t conn_count, conn_cap;
	uint32_t *slots;               /* open addressing: connection index + 1, 0 empty */
	uint32_t slot_count;           /* a power of two, at least twice conn_count */
	uint64_t packets;
	uint64_t dir_bytes[DIR_COUNT];
};

static void *grow(void *p, uint32_t *cap, size_t size)
{
	uint32_t n = *cap ? *cap * 2 : 1024;
	void *q = realloc(p, (size_t)n * size);

	if (q != NULL)
		*cap = n;
	return q;
}

static uint32_t conn_hash(const struct conn_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static int rehash(struct capture *cap, uint32_t slot_count)
{
	uint32_t *slots = calloc(slot_count, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (uint32_t c = 0; c < cap->conn_count; c++) {
		uint32_t s = conn_hash(&cap->conns[c]) & (slot_count - 1);

		while (slots[s] != 0)
			s = (s + 1) & (slot_count - 1);
		slots[s] = c + 1;
	}
	free(cap->slots);
	cap->slots = slots;
	cap->slot_count = slot_count;
	return 0;
}

/* The index of k's connection, added when new; or -ENOMEM. */
static int64_t conn_index(struct capture *cap, const struct conn_key *k)
{
	uint32_t s;

	if ((uint64_t)(cap->conn_count + 1) * 2 > cap->slot_count &&
	    rehash(cap, cap->slot_count ? cap->slot_count * 2 : 4096) < 0)
		return -ENOMEM;
	for (s = conn_hash(k) & (cap->slot_count - 1); cap->slots[s] != 0; s = (s + 1) & (cap->slot_count - 1)) {
		if (memcmp(&cap->conns[cap->slots[s] - 1], k, sizeof(*k)) == 0)
			return cap->slots[s] - 1;
	}
	if (cap->conn_count == cap->conn_cap) {
		struct conn_key *c = grow(cap->conns, &cap->conn_cap, sizeof(*c));

		if (c == NULL)
			return -ENOMEM;
		cap->conns = c;
	}
	cap->conns[cap->conn_count] = *k;
	cap->slots[s] = ++cap->conn_count;
	return cap->conn_count - 1;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * One Ethernet frame (802.1Q/802.1ad tags skipped; IPv4 without fragments
 * after the first, IPv6 with TCP as the first next header): its TCP
 * payload kept with its connection and direction. Anything else is skipped.
 */
static int add_frame(struct capture *cap, const uint8_t *p, uint32_t len)
{
	struct conn_key k;
	const uint8_t *ip, *tcp, *src, *dst;
	uint32_t off = 12, ip_len, hdr_len, alen;
	uint16_t type, sport, dport;
	int64_t conn;
	enum dir d;

	if (len < off + 2)
		return 0;
	memset(&k, 0, sizeof(k));   /* padding too: keys are hashed and compared as bytes */
	type = be16(p + off);
	while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
		off += 4;
		type = be16(p + off);
	}
	ip = p + off + 2;
	len -= off + 2;
	if (type == 0x0800 && len >= 20 && ip[0] >> 4 == 4 && ip[9] == 6 && (be16(ip + 6) & 0x1fff) == 0) {
		hdr_len = (ip[0] & 0x0fu) * 4;
		ip_len = be16(ip + 2);
		src = ip + 12;
		dst = ip + 16;
		alen = 4;
		k.family = 4;
	} else if (type == 0x86dd && len >= 40 && ip[0] >> 4 == 6 && ip[6] == 6) {
		hdr_len = 40;
		ip_len = 40u + be16(ip + 4);
		src = ip + 8;
		dst = ip + 24;
		alen = 16;
		k.family = 6;
	} else {
		return 0;
	}
	if (ip_len > len || hdr_len + 20 > ip_len)
		return 0;
	tcp = ip + hdr_len;
	if (hdr_len + (tcp[12] >> 4) * 4u > ip_len)
		return 0;
	off = (uint32_t)(tcp - p) + (tcp[12] >> 4) * 4u;
	len = ip_len - hdr_len - (tcp[12] >> 4) * 4u;
	if (len == 0)
		return 0;
	sport = be16(tcp);
	dport = be16(tcp + 2);
	d = dport <= sport ? DIR_REQUEST : DIR_RESPONSE;
	memcpy(k.addr[0], d == DIR_REQUEST ? src : dst, alen);
	memcpy(k.addr[1], d == DIR_REQUEST ? dst : src, alen);
	k.port[0] = d == DIR_REQUEST ? sport : dport;
	k.port[1] = d == DIR_REQUEST ? dport : sport;
	conn = conn_index(cap, &k);
	if (conn < 0)
		return (int)conn;
	if (cap->payload_len + len > MAX_PAYLOAD)
		return -EFBIG;
	while (cap->payload_len + len > cap->payload_cap) {
		uint64_t n = cap->payload_cap ? cap->payload_cap * 2 : 1u << 20;
		uint8_t *q = realloc(cap->payload, n);

		if (q == NULL)
			return -ENOMEM;
		cap->payload = q;
		cap->payload_cap = n;
	}
	if (cap->seg_count == cap->seg_cap) {
		struct segment *s = grow(cap->segs, &cap->seg_cap, sizeof(*s));

		if (s == NULL)
			return -ENOMEM;
		cap->segs = s;
	}
	memcpy(cap->payload + cap->payload_len, p + off, len);
	cap->segs[cap->seg_count++] = (struct segment){ .off = (uint32_t)cap->payload_len, .len = len,
							.stream = (uint32_t)conn * DIR_COUNT + d };
	cap->payload_len += len;
	cap->dir_bytes[d] += len;
	return 0;
}

static int read_capture(const char *path, struct capture *cap)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc = pcap_open_offline(path, err);
	int rc = 0, n = 0;

	if (pc == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, PROG ": %s: not an Ethernet capture (link type %d)\n", path, pcap_datalink(pc));
		pcap_close(pc);
		return -1;
	}
	while (rc == 0 && (n = pcap_next_ex(pc, &h, &data)) == 1) {
		cap->packets++;
		rc = add_frame(cap, data, h->caplen);
	}
	if (rc == 0 && n == PCAP_ERROR)
		fprintf(stderr, PROG ": %s: %s\n", path, pcap_geterr(pc));
	else if (rc != 0)
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
	pcap_close(pc);
	return rc == 0 && n != PCAP_ERROR ? 0 : -1;
}

static int count_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		       void *ctx)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* One pass over the capture: every stream opened at its first segment, closed at the end. */
static int scan_pass(const struct capture *cap, const hs_database_t *const dbs[DIR_COUNT], hs_stream_t **streams,
		     hs_scratch_t *scratch, uint64_t *matches)
{
	hs_error_t e = HS_SUCCESS;

	for (uint32_t i = 0; i < cap->seg_count && e == HS_SUCCESS; i++) {
		const struct segment *s = &cap->segs[i];
		const hs_database_t *db = dbs[s->stream % DIR_COUNT];

		if (db == NULL)
			continue;
		if (streams[s->stream] == NULL && (e = hs_open_stream(db, 0, &streams[s->stream])) != HS_SUCCESS)
			break;
		e = hs_scan_stream(streams[s->stream], (const char *)cap->payload + s->off, s->len, 0, scratch,
				   count_match, matches);
	}
	for (uint32_t s = 0; s < cap->conn_count * DIR_COUNT; s++) {
		if (streams[s] != NULL) {
			hs_error_t c = hs_close_stream(streams[s], scratch, count_match, matches);

			e = e == HS_SUCCESS ? c : e;
			streams[s] = NULL;
		}
	}
	if (e != HS_SUCCESS)
		fprintf(stderr, PROG ": Hyperscan stream scan failed: error %d\n", e);
	return e == HS_SUCCESS ? 0 : -1;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: " PROG " --rules FILE --pcap FILE [--rounds N] [--ms N]\n"
		"\n"
		"Time plain Hyperscan streaming over every TCP payload byte of a capture with\n"
		"the body databases of a rule set; print one JSON line (ns_per_byte, bytes_per_s).\n"
		"\n"
		"  --rules FILE  a rule file (control/signatures.h), loaded and compiled as ztgate does\n"
		"  --pcap FILE   an Ethernet capture (tests/traffic/ztg-trafgen writes them)\n"
		"  --rounds N    timed rounds, the median reported (default %u, 1..%u)\n"
		"  --ms N        milliseconds of passes per round (default %u, 1..%u)\n"
		"  -h, --help    this text\n",
		DEFAULT_ROUNDS, MAX_ROUNDS, DEFAULT_MS, MAX_MS);
}

/* Time the passes, print the JSON line. 0, or -1 after telling stderr. */
static int measure(const struct capture *cap, const struct ztg_sig_compiled *c, uint32_t rounds, uint32_t ms)
{
	static const enum ztg_sig_field body[DIR_COUNT] = { ZTG_SIG_FIELD_REQUEST_BODY, ZTG_SIG_FIELD_RESPONSE_BODY };
	const struct ztg_sig_db *sdb[DIR_COUNT];
	const hs_database_t *dbs[DIR_COUNT];
	double ns_per_byte[MAX_ROUNDS];
	uint64_t scanned = 0, matches = 0, passes = 0;
	size_t state[DIR_COUNT] = { 0, 0 };
	hs_stream_t **streams = calloc((size_t)cap->conn_count * DIR_COUNT + 1, sizeof(*streams));
	hs_scratch_t *scratch = NULL;
	int rc = -1;

	for (int d = 0; d < DIR_COUNT; d++) {
		sdb[d] = ztg_sig_compiled_db(c, body[d], NULL, 0);
		dbs[d] = sdb[d] != NULL ? sdb[d]->db : NULL;
		if (dbs[d] != NULL) {
			scanned += cap->dir_bytes[d];
			hs_stream_size(dbs[d], &state[d]);
		}
	}
	if (scanned == 0) {
		fprintf(stderr, PROG ": the rule set has no request_body or response_body rule: nothing to scan\n");
		goto out;
	}
	if (streams == NULL || ztg_sig_scratch_alloc(c, &scratch) != 0) {
		fprintf(stderr, PROG ": no memory for streams or scratch\n");
		goto out;
	}
	/* A pass untimed: pages touched, matches counted once. */
	if (scan_pass(cap, dbs, streams, scratch, &matches) < 0)
		goto out;
	for (uint32_t r = 0; r < rounds; r++) {
		double t0 = clock_ns(CLOCK_MONOTONIC), t;
		uint64_t n = 0, ignored = 0;

		do {
			if (scan_pass(cap, dbs, streams, scratch, &ignored) < 0)
				goto out;
			n++;
			t = clock_ns(CLOCK_MONOTONIC) - t0;
		} while (t < ms * 1e6);
		ns_per_byte[r] = t / ((double)n * (double)scanned);
		passes += n;
	}
	printf("{\"rules\":%u,\"packets\":%llu,\"tcp_segments\":%u,\"connections\":%u,\"payload_bytes\":%llu,"
	       "\"request_bytes\":%llu,\"response_bytes\":%llu,\"bytes_scanned\":%llu,"
	       "\"request_body_patterns\":%u,\"response_body_patterns\":%u,\"stream_state_bytes\":[%zu,%zu],"
	       "\"ns_per_byte\":%.4f,\"bytes_per_s\":%.0f,\"matches_per_pass\":%llu,\"rounds\":%u,\"passes\":%llu,"
	       "\"scanned\":\"every TCP payload byte (headers and bodies), one Hyperscan stream per connection and "
	       "direction: client to server with the request_body database, server to client with response_body; "
	       "a direction without its database is not scanned\",\"hyperscan\":\"%s\"}\n",
	       c->rule_count, (unsigned long long)cap->packets, cap->seg_count, cap->conn_count,
	       (unsigned long long)cap->payload_len, (unsigned long long)cap->dir_bytes[DIR_REQUEST],
	       (unsigned long long)cap->dir_bytes[DIR_RESPONSE], (unsigned long long)scanned,
	       sdb[DIR_REQUEST] ? sdb[DIR_REQUEST]->pattern_count : 0,
	       sdb[DIR_RESPONSE] ? sdb[DIR_RESPONSE]->pattern_count : 0, state[DIR_REQUEST], state[DIR_RESPONSE],
	       median(ns_per_byte, rounds), 1e9 / median(ns_per_byte, rounds), (unsigned long long)matches, rounds,
	       (unsigned long long)passes, hs_version());
	rc = 0;
out:
	hs_free_scratch(scratch);
	free(streams);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "ms", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rules = NULL, *pcap_path = NULL;
	uint32_t rounds = DEFAULT_ROUNDS, ms = DEFAULT_MS;
	struct capture cap = { .packets = 0 };
	struct ztg_sig_compiled *compiled = NULL;
	struct ztg_sig_set *set = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules = optarg;
			break;
		case 'p':
			pcap_path = optarg;
			break;
		case 'n':
			if (parse_u32(PROG, "--rounds", optarg, 1, MAX_ROUNDS, &rounds) < 0)
				return 2;
			break;
		case 'm':
			if (parse_u32(PROG, "--ms", optarg, 1, MAX_MS, &ms) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || rules == NULL || pcap_path == NULL) {
		usage(stderr);
		return 2;
	}
	set = bench_sig_load(PROG, rules);
	if (set != NULL && bench_sig_compile(PROG, (const struct ztg_sig_set *const *)&set, 1, &compiled) == 0 &&
	    read_capture(pcap_path, &cap) == 0 && measure(&cap, compiled, rounds, ms) == 0)
		rc = 0;
	ztg_sig_compiled_free(compiled);
	ztg_sig_set_free(set);
	free(cap.payload);
	free(cap.segs);
	free(cap.conns);
	free(cap.slots);
	return rc;
}
