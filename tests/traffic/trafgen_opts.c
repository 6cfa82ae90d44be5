/* SPDX-License-Identifier: BSD-3-Clause */
#include "trafgen_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERRORS 10
#define ERRLEN 256

enum {
	OPT_SESSIONS = 256, OPT_RPS, OPT_CONCURRENCY, OPT_SEED, OPT_BODY, OPT_RESP, OPT_MAL,
	OPT_IPV6, OPT_VLAN, OPT_MSS, OPT_SPORT, OPT_CNET, OPT_SADDR, OPT_CNET6, OPT_SADDR6,
	OPT_CMAC, OPT_SMAC, OPT_HOST, OPT_START, OPT_DESCRIBE, OPT_LABELS, OPT_BEARER,
};

static const struct option long_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"describe", required_argument, NULL, OPT_DESCRIBE},
	{"labels", required_argument, NULL, OPT_LABELS},
	{"sessions", required_argument, NULL, OPT_SESSIONS},
	{"requests-per-session", required_argument, NULL, OPT_RPS},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"seed", required_argument, NULL, OPT_SEED},
	{"body-size", required_argument, NULL, OPT_BODY},
	{"response-size", required_argument, NULL, OPT_RESP},
	{"malicious", required_argument, NULL, OPT_MAL},
	{"ipv6", required_argument, NULL, OPT_IPV6},
	{"vlan", required_argument, NULL, OPT_VLAN},
	{"mss", required_argument, NULL, OPT_MSS},
	{"server-port", required_argument, NULL, OPT_SPORT},
	{"client-net", required_argument, NULL, OPT_CNET},
	{"server-addr", required_argument, NULL, OPT_SADDR},
	{"client-net6", required_argument, NULL, OPT_CNET6},
	{"server-addr6", required_argument, NULL, OPT_SADDR6},
	{"client-mac", required_argument, NULL, OPT_CMAC},
	{"server-mac", required_argument, NULL, OPT_SMAC},
	{"host", required_argument, NULL, OPT_HOST},
	{"start-time", required_argument, NULL, OPT_START},
	{"bearer-file", required_argument, NULL, OPT_BEARER},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

void tg_opts_usage(FILE *fp, const char *prog)
{
	fprintf(fp,
"Usage: %s --output FILE [options]\n"
"\n"
"Write a reproducible pcap (Ethernet, microsecond timestamps) of realistic REST API\n"
"traffic: complete TCP connections (SYN/SYN-ACK/ACK with MSS, SACK-permitted,\n"
"timestamps and window scale; HTTP/1.1 keep-alive requests and responses in\n"
"MSS-sized segments with delayed ACKs; FIN teardown), correct checksums.\n"
"The same seed and options always give a byte-identical file.\n"
"\n"
"Output:\n"
"  -o, --output FILE            pcap to write (required)\n"
"      --describe FILE          also write a JSON summary (packets, bytes, sessions,\n"
"                               requests, malicious requests, options)\n"
"      --labels FILE            also write a CSV with one line per request: frame\n"
"                               number, flow, method, target, attack class, status\n"
"Shape:\n"
"      --sessions N             TCP connections (default %u, 1..10000000)\n"
"      --requests-per-session N|MIN-MAX\n"
"                               requests per connection (default %u-%u, 1..100000)\n"
"      --concurrency N          connections interleaved at a time (default %u, 1..65536)\n"
"      --seed N                 random seed (default %u, 0..2^64-1)\n"
"      --body-size N            JSON body bytes of POST/PUT/PATCH requests\n"
"                               (default %u, 16..1048576)\n"
"      --response-size N        JSON body bytes of every non-204 response; 0 = natural\n"
"                               sizes, about 60 B to 12 KB by endpoint (default 0,\n"
"                               else 64..16777216)\n"
"      --malicious F            fraction of requests that are attacks: SQL injection,\n"
"                               XSS, path traversal, command injection, JNDI lookups,\n"
"                               SSRF to 169.254.169.254 (default 0.0, 0..1)\n"
"      --ipv6 F                 fraction of connections over IPv6 (default 0.0, 0..1)\n"
"      --vlan ID                tag every frame with 802.1Q VLAN ID (1..4094; default\n"
"                               untagged)\n"
"      --mss N                  TCP payload bytes per segment over IPv4, 256..9000\n"
"                               (default %u: 1500-byte MTU with timestamps); IPv6\n"
"                               connections use N-20 so frames stay the same size\n"
"      --start-time SEC         Unix time of the first packet (default %u)\n"
"      --bearer-file FILE       every request that carries a token (all but the\n"
"                               health probes) carries the token in FILE instead:\n"
"                               base64url/token68 characters, up to %u bytes, one\n"
"                               trailing newline ignored (for benchmarks: a token\n"
"                               ztgate verifies, in every request)\n"
"Addresses:\n"
"      --client-net CIDR        IPv4 client prefix, /8../30 (default %s);\n"
"                               host parts all-0/all-1 and .0/.255 are never used\n"
"      --server-addr A[,A...]   IPv4 server address(es), up to %d (default %s)\n"
"      --client-net6 CIDR       IPv6 client prefix, /16../126 (default %s)\n"
"      --server-addr6 A[,A...]  IPv6 server address(es) (default %s)\n"
"      --server-port N          server TCP port (default %u, 1..65535)\n"
"      --client-mac MAC         source MAC of client frames (default %s)\n"
"      --server-mac MAC         source MAC of server frames (default %s)\n"
"      --host NAME              Host header and token audience (default %s)\n"
"  -h, --help                   this text\n"
"\n"
"Bearer tokens are realistic-looking compact JWTs (RS256 header with kid; iss, sub,\n"
"aud, exp, iat, scope and padding claims; 600-900 bytes) whose signatures are random\n"
"bytes of the RS256 length: they do NOT verify, unless --bearer-file gives a real one.\n",
		prog, TG_DEF_SESSIONS, TG_DEF_REQ_MIN, TG_DEF_REQ_MAX, TG_DEF_CONCURRENCY,
		TG_DEF_SEED, TG_DEF_BODY_SIZE, TG_DEF_MSS, TG_DEF_START_TIME, TG_MAX_BEARER, TG_DEF_CLIENT_NET,
		TG_MAX_SERVERS, TG_DEF_SERVER_ADDR, TG_DEF_CLIENT_NET6, TG_DEF_SERVER_ADDR6,
		TG_DEF_SERVER_PORT, TG_DEF_CLIENT_MAC, TG_DEF_SERVER_MAC, TG_DEF_HOST);
}

/* ---- value parsers: 0 on success, else a message in err ---------------- */

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, char *err)
{
	char *end;

	if (*s < '0' || *s > '9')
		goto bad;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	snprintf(err, ERRLEN, "'%s' is not an integer in %llu..%llu", s,
		 (unsigned long long)lo, (unsigned long long)hi);
	return -1;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out, char *err)
{
	uint64_t v;

	if (parse_u64(s, lo, hi, &v, err))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_fraction(const char *s, double *out, char *err)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < 0.0 || v > 1.0) {
		snprintf(err, ERRLEN, "'%s' is not a fraction in 0..1", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* "N" or "MIN-MAX" */
static int parse_span(const char *s, uint32_t lo, uint32_t hi, uint32_t *a, uint32_t *b,
		      char *err)
{
	char first[32];
	const char *dash = strchr(s, '-');

	if (dash == NULL) {
		if (parse_u32(s, lo, hi, a, err))
			return -1;
		*b = *a;
		return 0;
	}
	size_t n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(first))
		goto bad;
	memcpy(first, s, n);
	first[n] = '\0';
	if (parse_u32(first, lo, hi, a, err) || parse_u32(dash + 1, lo, hi, b, err) || *a > *b)
		goto bad;
	return 0;
bad:
	snprintf(err, ERRLEN, "'%s' is not N or MIN-MAX with %u <= MIN <= MAX <= %u", s, lo, hi);
	return -1;
}

static int parse_cidr(const char *s, int family, unsigned plo, unsigned phi, uint8_t *addr,
		      uint8_t *plen, char *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	uint32_t p;
	size_t n = slash ? (size_t)(slash - s) : 0;

	if (slash == NULL || n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, host, addr) != 1)
		goto bad;
	if (parse_u32(slash + 1, plo, phi, &p, err))
		goto bad;
	*plen = (uint8_t)p;
	return 0;
bad:
	snprintf(err, ERRLEN, "'%s' is not an IPv%d prefix ADDRESS/LEN with LEN in %u..%u", s,
		 family, plo, phi);
	return -1;
}

static int parse_addr_list(const char *s, int family, struct tg_addr *out, unsigned *n,
			   char *err)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	const char *p = s;

	*n = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (*n == TG_MAX_SERVERS) {
			snprintf(err, ERRLEN, "'%s': at most %d addresses", s, TG_MAX_SERVERS);
			return -1;
		}
		out[*n] = (struct tg_addr){.family = (uint8_t)family};
		if (len == 0 || len >= sizeof(tmp))
			goto bad;
		memcpy(tmp, p, len);
		tmp[len] = '\0';
		if (inet_pton(family == 6 ? AF_INET6 : AF_INET, tmp, out[*n].b) != 1)
			goto bad;
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
bad:
	snprintf(err, ERRLEN, "'%s' is not a comma-separated list of IPv%d addresses", s, family);
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_mac(const char *s, uint8_t mac[6], char *err)
{
	const char *p = s;

	for (int i = 0; i < 6; i++) {
		int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
		if (hi < 0 || lo < 0)
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
		if (i < 5) {
			if (*p != ':' && *p != '-')
				goto bad;
			p++;
		}
	}
	if (*p != '\0')
		goto bad;
	if (mac[0] & 1) {
		snprintf(err, ERRLEN, "'%s' is a multicast MAC address", s);
		return -1;
	}
	return 0;
bad:
	snprintf(err, ERRLEN, "'%s' is not a MAC address like 02:00:00:00:00:01", s);
	return -1;
}

/*
 * The token of --bearer-file. It goes verbatim into "Authorization: Bearer
 * ...", so only token68 characters (RFC 7235 2.1) are taken: anything else
 * would make the generated requests malformed HTTP rather than carry a token.
 */
static int read_bearer(const char *path, char **out, size_t *len, char *err)
{
	FILE *fp = fopen(path, "rb");
	char *buf = malloc(TG_MAX_BEARER + 3);
	size_t n;

	if (fp == NULL || buf == NULL) {
		snprintf(err, ERRLEN, "%s: %s", path, fp == NULL ? strerror(errno) : "out of memory");
		goto fail;
	}
	n = fread(buf, 1, TG_MAX_BEARER + 3, fp);
	if (ferror(fp)) {
		snprintf(err, ERRLEN, "%s: read error", path);
		goto fail;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || n > TG_MAX_BEARER) {
		snprintf(err, ERRLEN, "%s: the token must be 1..%u bytes", path, TG_MAX_BEARER);
		goto fail;
	}
	for (size_t i = 0, pad = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';

		/* '=' only as trailing padding */
		if (c == '=' && i > 0)
			pad++;
		else if (!ok || pad > 0) {
			snprintf(err, ERRLEN, "%s: byte %zu (0x%02x) is not a token68 character", path, i, c);
			goto fail;
		}
	}
	buf[n] = '\0';
	fclose(fp);
	*out = buf;
	*len = n;
	return 0;
fail:
	if (fp != NULL)
		fclose(fp);
	free(buf);
	return -1;
}

void tg_opts_free(struct tg_options *o)
{
	free(o->bearer);
	o->bearer = NULL;
	o->bearer_len = 0;
}

static void set_defaults(struct tg_options *o)
{
	*o = (struct tg_options){
		.host = TG_DEF_HOST,
		.client_net = TG_DEF_CLIENT_NET, .client_net6 = TG_DEF_CLIENT_NET6,
		.server_addr = TG_DEF_SERVER_ADDR, .server_addr6 = TG_DEF_SERVER_ADDR6,
		.client_mac = TG_DEF_CLIENT_MAC, .server_mac = TG_DEF_SERVER_MAC,
		.sessions = TG_DEF_SESSIONS,
		.seed = TG_DEF_SEED,
		.start_time = TG_DEF_START_TIME,
		.concurrency = TG_DEF_CONCURRENCY,
		.body_size = TG_DEF_BODY_SIZE,
	};
	o->topo.mss = TG_DEF_MSS;
	o->topo.server_port = TG_DEF_SERVER_PORT;
	o->topo.req_min = TG_DEF_REQ_MIN;
	o->topo.req_max = TG_DEF_REQ_MAX;
}

/* Parse the address-like options once every option is known, so the
 * defaults and the given values go through the same checks. */
static int finish_topology(struct tg_options *o, char *err, const char **which)
{
	struct tg_topology *t = &o->topo;

	if ((*which = "--client-net", parse_cidr(o->client_net, 4, 8, 30, t->cnet4, &t->cplen4, err)) ||
	    (*which = "--client-net6", parse_cidr(o->client_net6, 6, 16, 126, t->cnet6, &t->cplen6, err)) ||
	    (*which = "--server-addr", parse_addr_list(o->server_addr, 4, t->srv4, &t->n_srv4, err)) ||
	    (*which = "--server-addr6", parse_addr_list(o->server_addr6, 6, t->srv6, &t->n_srv6, err)) ||
	    (*which = "--client-mac", parse_mac(o->client_mac, t->cli_mac, err)) ||
	    (*which = "--server-mac", parse_mac(o->server_mac, t->srv_mac, err)))
		return -1;
	return 0;
}

enum tg_opts_result tg_opts_parse(struct tg_options *o, int argc, char **argv)
{
	const char *prog = argc > 0 ? argv[0] : "ztg-trafgen";
	char err[ERRLEN];
	int errors = 0, c;
	uint32_t u32;
	uint64_t u64;

	set_defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", long_opts, NULL)) != -1) {
		int rc = 0;
		err[0] = '\0';
		switch (c) {
		case 'h':
			tg_opts_free(o);
			tg_opts_usage(stdout, prog);
			return TG_OPTS_HELP;
		case 'o': o->output = optarg; break;
		case OPT_DESCRIBE: o->describe = optarg; break;
		case OPT_LABELS: o->labels = optarg; break;
		case OPT_BEARER:
			tg_opts_free(o);	/* the last one given wins */
			rc = read_bearer(optarg, &o->bearer, &o->bearer_len, err);
			if (rc == 0)
				o->bearer_file = optarg;
			break;
		case OPT_HOST:
			rc = optarg[0] == '\0' || strpbrk(optarg, " \t\r\n\"\\") != NULL;
			if (rc)
				snprintf(err, ERRLEN, "'%s' is not a host name", optarg);
			else
				o->host = optarg;
			break;
		case OPT_CNET: o->client_net = optarg; break;
		case OPT_CNET6: o->client_net6 = optarg; break;
		case OPT_SADDR: o->server_addr = optarg; break;
		case OPT_SADDR6: o->server_addr6 = optarg; break;
		case OPT_CMAC: o->client_mac = optarg; break;
		case OPT_SMAC: o->server_mac = optarg; break;
		case OPT_SESSIONS: rc = parse_u64(optarg, 1, 10000000, &o->sessions, err); break;
		case OPT_RPS:
			rc = parse_span(optarg, 1, 100000, &o->topo.req_min, &o->topo.req_max, err);
			break;
		case OPT_CONCURRENCY: rc = parse_u32(optarg, 1, 65536, &o->concurrency, err); break;
		case OPT_SEED: rc = parse_u64(optarg, 0, UINT64_MAX, &o->seed, err); break;
		case OPT_BODY: rc = parse_u32(optarg, 16, 1048576, &o->body_size, err); break;
		case OPT_RESP:
			rc = parse_u32(optarg, 0, 16777216, &u32, err);
			if (rc == 0 && u32 != 0 && u32 < 64) {
				snprintf(err, ERRLEN, "'%s' is neither 0 nor in 64..16777216", optarg);
				rc = -1;
			}
			if (rc == 0)
				o->response_size = u32;
			break;
		case OPT_MAL: rc = parse_fraction(optarg, &o->malicious, err); break;
		case OPT_IPV6: rc = parse_fraction(optarg, &o->topo.ipv6_fraction, err); break;
		case OPT_VLAN:
			rc = parse_u32(optarg, 1, 4094, &u32, err);
			if (rc == 0)
				o->topo.vlan = (uint16_t)u32;
			break;
		case OPT_MSS: rc = parse_u32(optarg, 256, 9000, &o->topo.mss, err); break;
		case OPT_SPORT:
			rc = parse_u32(optarg, 1, 65535, &u32, err);
			if (rc == 0)
				o->topo.server_port = (uint16_t)u32;
			break;
		case OPT_START:
			/* pcap seconds are 32-bit unsigned; leave room for the capture */
			rc = parse_u64(optarg, 0, UINT32_MAX - 10000000u, &u64, err);
			if (rc == 0)
				o->start_time = u64;
			break;
		case ':':
			snprintf(err, ERRLEN, "%s needs a value", argv[optind - 1]);
			rc = -1;
			break;
		default:
			snprintf(err, ERRLEN, "unknown option '%s'", argv[optind - 1]);
			rc = -1;
			break;
		}
		if (rc) {
			const struct option *lo = NULL;
			for (const struct option *p = long_opts; p->name; p++)
				if (p->val == c)
					lo = p;
			if (lo != NULL && c != 'h')
				fprintf(stderr, "ztg-trafgen: --%s: %s\n", lo->name, err);
			else
				fprintf(stderr, "ztg-trafgen: %s\n", err);
			if (++errors >= MAX_ERRORS)
				break;
		}
	}
	if (optind < argc && errors < MAX_ERRORS) {
		fprintf(stderr, "ztg-trafgen: unexpected argument '%s'\n", argv[optind]);
		errors++;
	}
	if (o->output == NULL && errors < MAX_ERRORS) {
		fprintf(stderr, "ztg-trafgen: --output FILE is required\n");
		errors++;
	}
	const char *which = NULL;
	if (errors < MAX_ERRORS && finish_topology(o, err, &which)) {
		fprintf(stderr, "ztg-trafgen: %s: %s\n", which, err);
		errors++;
	}
	if (errors) {
		tg_opts_free(o);
		fprintf(stderr, "Try '%s --help'.\n", prog);
		return TG_OPTS_ERROR;
	}
	return TG_OPTS_RUN;
}
