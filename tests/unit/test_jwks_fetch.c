/*
 * Unit tests for the JWKS fetch (control/jwks_fetch.h) and its refresh
 * schedule (control/jwks_refresh.h).
 *
 * The fetch tests run against a local HTTPS server: the group setup makes a
 * CA and a server certificate for 127.0.0.1 and "localhost" with the openssl
 * CLI in a fresh mkdtemp directory, and starts python3's http.server over
 * TLS on 127.0.0.1, on a port the kernel picks, serving that directory. Its
 * request log tells which requests reached it. Tests about connections that
 * must never be made point at listening sockets of this process that are
 * never accept()ed: the kernel would still queue a connection there, so an
 * empty queue afterwards proves none was opened. Only loopback addresses are
 * ever used.
 *
 * The schedule tests drive jwks_refresh with a fake clock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jwks_fetch.h"
#include "jwks_refresh.h"
#include "policy.h"

extern char **environ;

#define JWKS_TEXT                                                                               \
	"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\",\"use\":\"sig\","          \
	"\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","                                \
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}\n"

#define BIG_BYTES (300u * 1024u + 17u)    /* many write callbacks, and an odd tail */
#define SERVER_START_MS 20000             /* python3 behind a version manager can be slow to start */

/* ---------------------------------------------------------------- harness */

static struct {
	char dir[PATH_MAX / 2];
	char ca[PATH_MAX];
	char other_ca[PATH_MAX];
	char log[PATH_MAX];
	pid_t server;
	uint16_t port;
} env;

/*
 * The server: http.server over TLS, one thread per connection, the TLS
 * handshake in that thread so a client that never finishes it blocks no
 * other. server_bind is cut short because the stock one looks up the host's
 * name, which could leave loopback. /redirect and /no-content answer what
 * a plain directory cannot.
 */
static const char server_py[] =
	"import http.server, os, socketserver, ssl, sys\n"
	"root, cert, key, port_file = sys.argv[1:5]\n"
	"class Handler(http.server.SimpleHTTPRequestHandler):\n"
	"    def __init__(self, *a, **k):\n"
	"        super().__init__(*a, directory=root, **k)\n"
	"    def setup(self):\n"
	"        self.request.do_handshake()\n"
	"        super().setup()\n"
	"    def do_GET(self):\n"
	"        if self.path == '/redirect':\n"
	"            self.send_response(302)\n"
	"            self.send_header('Location', '/redirect-target.json')\n"
	"            self.send_header('Content-Length', '0')\n"
	"            self.end_headers()\n"
	"        elif self.path == '/no-content':\n"
	"            self.send_response(204)\n"
	"            self.end_headers()\n"
	"        else:\n"
	"            super().do_GET()\n"
	"class Server(http.server.ThreadingHTTPServer):\n"
	"    daemon_threads = True\n"
	"    def server_bind(self):\n"
	"        socketserver.TCPServer.server_bind(self)\n"
	"        self.server_name, self.server_port = 'localhost', self.server_address[1]\n"
	"    def handle_error(self, request, client_address):\n"
	"        sys.stderr.write('connection from %s ended: %s\\n' % (client_address[0], sys.exc_info()[1]))\n"
	"s = Server(('127.0.0.1', 0), Handler)\n"
	"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"ctx.load_cert_chain(cert, key)\n"
	"s.socket = ctx.wrap_socket(s.socket, server_side=True, do_handshake_on_connect=False)\n"
	"with open(port_file + '.tmp', 'w') as f:\n"
	"    f.write(str(s.server_address[1]))\n"
	"os.rename(port_file + '.tmp', port_file)\n"
	"s.serve_forever()\n";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void at(const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", env.dir, rel);
}

static bool put_bytes(const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;
	bool ok;

	at(rel, path, sizeof(path));
	fp = fopen(path, "wb");
	if (fp == NULL)
		return false;
	ok = fwrite(data, 1, len, fp) == len;
	return fclose(fp) == 0 && ok;
}

/* The bytes of big.bin: a pattern that no off-by-one or reordered chunk survives. */
static uint8_t big_byte(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 8) * 7u);
}

static bool put_big(const char *rel, size_t len)
{
	uint8_t *b = malloc(len);
	bool ok;

	if (b == NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		b[i] = big_byte(i);
	ok = put_bytes(rel, b, len);
	free(b);
	return ok;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool make_certificates(void)
{
	static const char ext[] = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
				  "basicConstraints=critical,CA:FALSE\n"
				  "keyUsage=critical,digitalSignature\n"
				  "extendedKeyUsage=serverAuth\n";
	char cmd[PATH_MAX * 2];

	if (!put_bytes("server.ext", ext, sizeof(ext) - 1))
		return false;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && { "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-subj /CN=ztgate-test-ca -keyout ca.key -out ca.pem && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-subj /CN=ztgate-other-ca -keyout other-ca.key -out other-ca.pem && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-subj /CN=localhost -keyout server.key -out server.csr && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		 "-extfile server.ext -out server.pem; } >openssl.log 2>&1",
		 env.dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl failed, see %s/openssl.log\n", env.dir);
		return false;
	}
	at("ca.pem", env.ca, sizeof(env.ca));
	at("other-ca.pem", env.other_ca, sizeof(env.other_ca));
	return true;
}

static bool port_accepts(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (const struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

/* Starts the server and waits until its port accepts connections. */
static bool start_server(void)
{
	char root[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], port_file[PATH_MAX];
	char *argv[] = { "python3", "-c", (char *)server_py, root, cert, key, port_file, NULL };
	posix_spawn_file_actions_t fa;
	int64_t deadline = now_ms() + SERVER_START_MS;
	int rc;

	snprintf(root, sizeof(root), "%s/www", env.dir);
	at("server.pem", cert, sizeof(cert));
	at("server.key", key, sizeof(key));
	at("port", port_file, sizeof(port_file));
	at("server.log", env.log, sizeof(env.log));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, env.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	rc = posix_spawnp(&env.server, "python3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "cannot start python3: %s\n", strerror(rc));
		env.server = 0;
		return false;
	}
	while (now_ms() < deadline) {
		FILE *fp = fopen(port_file, "r");
		unsigned port = 0;

		if (waitpid(env.server, NULL, WNOHANG) == env.server) {
			env.server = 0;
			break;
		}
		if (fp != NULL) {
			bool got = fscanf(fp, "%u", &port) == 1 && port > 0 && port < 65536;

			fclose(fp);
			if (got && port_accepts((uint16_t)port)) {
				env.port = (uint16_t)port;
				return true;
			}
		}
		sleep_ms(50);
	}
	fprintf(stderr, "the test server did not start, see %s\n", env.log);
	return false;
}

static void stop_server(void)
{
	if (env.server > 0) {
		kill(env.server, SIGTERM);
		waitpid(env.server, NULL, 0);
		env.server = 0;
	}
}

static int group_teardown(void **state)
{
	(void)state;
	stop_server();
	if (env.dir[0] != '\0')
		nftw(env.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char www[PATH_MAX];

	snprintf(env.dir, sizeof(env.dir), "%s/ztg-jwks-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(env.dir) == NULL) {
		env.dir[0] = '\0';
		return -1;
	}
	at("www", www, sizeof(www));
	if (mkdir(www, 0700) != 0 || !make_certificates() ||
	    !put_bytes("www/jwks.json", JWKS_TEXT, strlen(JWKS_TEXT)) || !put_big("www/big.bin", BIG_BYTES) ||
	    !put_bytes("www/empty.json", "", 0) || !start_server()) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static struct ztg_jwks_fetch_options options(const char *url)
{
	return (struct ztg_jwks_fetch_options){ .url = url, .ca_file = env.ca, .timeout_ms = 10000,
						 .max_bytes = 1u << 20 };
}

static const char *url_at(char *out, size_t len, const char *host, uint16_t port, const char *path)
{
	snprintf(out, len, "https://%s:%u/%s", host, port, path);
	return out;
}

/* "a.b.c.d/n" or "x:y::z/n" */
static struct ztg_cidr cidr(const char *text)
{
	struct ztg_cidr c = { 0 };
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');

	assert_non_null(slash);
	assert_true((size_t)(slash - text) < sizeof(addr));
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	c.family = strchr(addr, ':') != NULL ? 6 : 4;
	c.prefix_len = (uint8_t)atoi(slash + 1);
	assert_int_equal(inet_pton(c.family == 4 ? AF_INET : AF_INET6, addr, c.addr), 1);
	return c;
}

static void expect_text(const char *err, const char *needle)
{
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

/* The fetch fails, says so in one line starting with the URL, and mentions needle. */
static void expect_failure(const struct ztg_jwks_fetch_options *o, const char *needle)
{
	char err[512] = "";
	char *body = (char *)1;
	size_t len = 1;

	assert_int_equal(ztg_jwks_fetch(o, &body, &len, err, sizeof(err)), -1);
	assert_null(body);
	assert_int_equal(len, 0);
	if (o->url != NULL && strncmp(err, o->url, strlen(o->url)) != 0)
		fail_msg("error \"%s\" does not start with the URL %s", err, o->url);
	assert_null(strchr(err, '\n'));
	expect_text(err, needle);
}

static void expect_body(const struct ztg_jwks_fetch_options *o, const void *want, size_t want_len)
{
	char err[512] = "";
	char *body = NULL;
	size_t len = 0;

	if (ztg_jwks_fetch(o, &body, &len, err, sizeof(err)) != 0)
		fail_msg("fetch of %s failed: %s", o->url, err);
	assert_non_null(body);
	assert_int_equal(len, want_len);
	assert_memory_equal(body, want, want_len);
	assert_int_equal(body[len], '\0');
	free(body);
}

/* A loopback listener never accept()ed; port 0 picks one. -1 when the family or port is not available. */
static int listener(int family, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		sl = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 8) != 0) {
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*bound = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					 : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* No connection reached fd's queue; closes fd. */
static void expect_untouched(int fd)
{
	int c = accept(fd, NULL, NULL);

	if (c >= 0) {
		close(c);
		close(fd);
		fail_msg("a connection was made to a blocked listener");
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
}

static bool log_has(const char *needle)
{
	FILE *fp = fopen(env.log, "r");
	char line[1024];
	bool found = false;

	assert_non_null(fp);
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

/* ---------------------------------------------------------------- fetch: success */

static void fetch_returns_exact_bytes(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json"));
	uint8_t *big = malloc(BIG_BYTES);

	(void)state;
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));

	assert_non_null(big);
	for (size_t i = 0; i < BIG_BYTES; i++)
		big[i] = big_byte(i);
	url_at(url, sizeof(url), "127.0.0.1", env.port, "big.bin");
	expect_body(&o, big, BIG_BYTES);
	free(big);

	/* An empty 200 is a body of 0 bytes, still NUL-terminated; the key set parser judges it. */
	url_at(url, sizeof(url), "127.0.0.1", env.port, "empty.json");
	expect_body(&o, "", 0);

	/* By name: the certificate's DNS name is verified as well as its IP. */
	url_at(url, sizeof(url), "localhost", env.port, "jwks.json");
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));

	/* The scheme is case-insensitive. */
	snprintf(url, sizeof(url), "HTTPS://127.0.0.1:%u/jwks.json", env.port);
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));
}

/* Ranges that do not hold the server's address leave the fetch alone. */
static void fetch_outside_blocked_ranges(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json"));
	const struct ztg_cidr ranges[] = {
		cidr("10.0.0.0/8"),   cidr("127.0.0.2/32"), cidr("128.0.0.0/1"),    cidr("127.0.0.0/32"),
		cidr("::1/128"),      cidr("fc00::/7"),     cidr("::ffff:10.0.0.0/104"),
	};

	(void)state;
	o.blocked = ranges;
	o.blocked_count = sizeof(ranges) / sizeof(ranges[0]);
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));
}

/* ---------------------------------------------------------------- fetch: refused */

static void untrusted_certificate_fails(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json"));

	(void)state;
	o.ca_file = env.other_ca;
	expect_failure(&o, "certificate");
	/* Nor does the system's store know the test CA. */
	o.ca_file = NULL;
	expect_failure(&o, "certificate");
}

/* Read a whole small file into a malloc'd NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1u << 16);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, (1u << 16) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* A policy hands the CA over as bytes: they are the only trust, as a file would be. */
static void ca_as_bytes(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json"));
	size_t len, other_len;
	char *pem = slurp(env.ca, &len), *other = slurp(env.other_ca, &other_len);

	(void)state;
	o.ca_file = NULL;
	o.ca_pem = pem;
	o.ca_pem_len = len;
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));
	/* The bytes win over a file naming the right CA. */
	o.ca_file = env.ca;
	o.ca_pem = other;
	o.ca_pem_len = other_len;
	expect_failure(&o, "certificate");
	free(pem);
	free(other);
}

static void only_https_is_fetched(void **state)
{
	static const char *const schemes[] = { "http://", "ftp://", "file://", "" };
	char url[256];
	uint16_t port;
	int fd = listener(AF_INET, 0, &port);
	struct ztg_jwks_fetch_options o = options(url);

	(void)state;
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		snprintf(url, sizeof(url), "%s127.0.0.1:%u/jwks.json", schemes[i], port);
		expect_failure(&o, "only https:// URLs");
	}
	expect_untouched(fd);
}

static void status_other_than_200_fails(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "missing.json"));

	(void)state;
	expect_failure(&o, "HTTP 404");
	url_at(url, sizeof(url), "127.0.0.1", env.port, "no-content");
	expect_failure(&o, "HTTP 204");
	url_at(url, sizeof(url), "127.0.0.1", env.port, "redirect");
	expect_failure(&o, "HTTP 302, a redirect, which is not followed");
	assert_true(log_has("GET /redirect "));
	assert_false(log_has("redirect-target"));
}

static void body_over_max_bytes_fails(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "big.bin"));
	char want[96];

	(void)state;
	o.max_bytes = BIG_BYTES - 1;
	snprintf(want, sizeof(want), "body larger than max_bytes (%u bytes)", BIG_BYTES - 1);
	expect_failure(&o, want);
	o.max_bytes = 100;
	expect_failure(&o, "body larger than max_bytes (100 bytes)");

	/* Exactly max_bytes is within bounds. */
	url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json");
	o.max_bytes = strlen(JWKS_TEXT);
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));
	o.max_bytes = strlen(JWKS_TEXT) - 1;
	expect_failure(&o, "body larger than max_bytes");
}

static void blocked_ipv4_is_never_connected(void **state)
{
	static const char *const holding[] = { "127.0.0.0/8", "0.0.0.0/0", "127.0.0.1/32", "126.0.0.0/7",
					       "127.0.0.0/9" };
	char url[256], want[512];
	uint16_t port;
	int fd = listener(AF_INET, 0, &port);
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", port, "jwks.json"));
	struct ztg_cidr ranges[2] = { cidr("10.0.0.0/8") };

	(void)state;
	assert_true(fd >= 0);
	o.blocked = ranges;
	o.blocked_count = 2;
	for (size_t i = 0; i < sizeof(holding) / sizeof(holding[0]); i++) {
		ranges[1] = cidr(holding[i]);
		snprintf(want, sizeof(want), "%s resolves to 127.0.0.1, inside blocked range %s", url, holding[i]);
		expect_failure(&o, want);
	}
	expect_untouched(fd);

	/* The same against the real server: its log must not see the request. */
	url_at(url, sizeof(url), "127.0.0.1", env.port, "blocked-probe.json");
	expect_failure(&o, "inside blocked range 127.0.0.0/9");
	o.blocked_count = 0;
	url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json");
	expect_body(&o, JWKS_TEXT, strlen(JWKS_TEXT));
	assert_true(log_has("GET /jwks.json "));
	assert_false(log_has("blocked-probe"));
}

static void blocked_ipv6_loopback_is_never_connected(void **state)
{
	char url[256], want[512];
	uint16_t port;
	int fd = listener(AF_INET6, 0, &port);
	struct ztg_cidr range = cidr("::1/128");
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "[::1]", port, "jwks.json"));

	(void)state;
	if (fd < 0)
		skip();
	o.blocked = &range;
	o.blocked_count = 1;
	snprintf(want, sizeof(want), "%s resolves to ::1, inside blocked range ::1/128", url);
	expect_failure(&o, want);
	expect_untouched(fd);
}

/* ::ffff:127.0.0.1 is 127.0.0.1: an IPv4 range holds it. */
static void blocked_ipv4_mapped_is_never_connected(void **state)
{
	char url[256], want[512];
	uint16_t port, port6;
	int fd6 = listener(AF_INET6, 0, &port6);
	int fd = listener(AF_INET, 0, &port);
	struct ztg_cidr range = cidr("127.0.0.0/8");
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "[::ffff:127.0.0.1]", port, "jwks.json"));

	(void)state;
	assert_true(fd >= 0);
	if (fd6 < 0) {
		close(fd);
		skip();
	}
	close(fd6);
	o.blocked = &range;
	o.blocked_count = 1;
	snprintf(want, sizeof(want), "%s resolves to ::ffff:127.0.0.1, inside blocked range 127.0.0.0/8", url);
	expect_failure(&o, want);
	range = cidr("::ffff:0.0.0.0/96");
	expect_failure(&o, "resolves to ::ffff:127.0.0.1, inside blocked range ::ffff:0.0.0.0/96");
	expect_untouched(fd);
}

/* A name is checked by what it resolves to: "localhost" into loopback, whichever family curl tries. */
static void blocked_name_is_never_connected(void **state)
{
	char url[256], want[512];
	uint16_t port;
	int fd = listener(AF_INET, 0, &port);
	int fd6 = fd >= 0 ? listener(AF_INET6, port, &port) : -1;
	const struct ztg_cidr ranges[] = { cidr("127.0.0.0/8"), cidr("::1/128") };
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "localhost", port, "jwks.json"));

	(void)state;
	assert_true(fd >= 0);
	o.blocked = ranges;
	o.blocked_count = 2;
	snprintf(want, sizeof(want), "%s resolves to ", url);
	expect_failure(&o, want);
	expect_failure(&o, ", inside blocked range ");
	expect_untouched(fd);
	if (fd6 >= 0)
		expect_untouched(fd6);
}

/* A server that takes the connection and never answers: the kernel accepts it, this process never reads. */
static void timeout_is_honoured(void **state)
{
	char url[256];
	uint16_t port;
	int fd = listener(AF_INET, 0, &port);
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", port, "jwks.json"));
	int64_t start;
	int64_t took;

	(void)state;
	assert_true(fd >= 0);
	o.timeout_ms = 500;
	start = now_ms();
	expect_failure(&o, "timed out, no complete answer within timeout_ms (500 ms)");
	took = now_ms() - start;
	close(fd);
	if (took < 450 || took > 3000)
		fail_msg("a 500 ms timeout took %lld ms", (long long)took);
}

static void bad_options_are_refused(void **state)
{
	char url[256];
	struct ztg_jwks_fetch_options o = options(url_at(url, sizeof(url), "127.0.0.1", env.port, "jwks.json"));
	struct ztg_cidr bad = cidr("10.0.0.0/8");
	char err[256] = "";
	char *body;
	size_t len;

	(void)state;
	o.timeout_ms = 0;
	expect_failure(&o, "timeout_ms and max_bytes must both be > 0");
	o = options(url);
	o.max_bytes = 0;
	expect_failure(&o, "timeout_ms and max_bytes must both be > 0");
	o = options(url);
	o.blocked_count = 1;
	expect_failure(&o, "1 blocked ranges announced, none given");
	o.blocked = &bad;
	bad.prefix_len = 33;
	expect_failure(&o, "blocked range 0 is not a CIDR (family 4, prefix 33)");
	bad.family = 5;
	bad.prefix_len = 8;
	expect_failure(&o, "blocked range 0 is not a CIDR (family 5, prefix 8)");
	o.url = NULL;
	expect_failure(&o, "no URL");
	/* Without room for a message it still fails, quietly. */
	o = options(url);
	assert_int_equal(ztg_jwks_fetch(&o, NULL, &len, err, sizeof(err)), -1);
	assert_int_equal(ztg_jwks_fetch(NULL, &body, &len, NULL, 0), -1);
	o.url = "http://127.0.0.1/";
	assert_int_equal(ztg_jwks_fetch(&o, &body, &len, NULL, 0), -1);
}

/* ---------------------------------------------------------------- refresh schedule */

static void schedule_starts_due_and_clamps(void **state)
{
	struct ztg_jwks_refresh r;

	(void)state;
	ztg_jwks_refresh_init(&r, 3600, 60, 1000);
	assert_true(ztg_jwks_refresh_due(&r, 1000, false));
	assert_true(ztg_jwks_refresh_due(&r, 1000, true));
	assert_int_equal(r.fetches, 0);
	assert_int_equal(r.failures, 0);
	assert_int_equal(r.early_refetches, 0);
	assert_int_equal(r.backoff_s, 0);
	assert_string_equal(r.last_error, "");

	ztg_jwks_refresh_init(&r, 0, 0, 0);
	assert_int_equal(r.interval_s, 1);
	assert_int_equal(r.refetch_min_s, 1);
	ztg_jwks_refresh_init(&r, 60, 600, 0);
	assert_int_equal(r.interval_s, 60);
	assert_int_equal(r.refetch_min_s, 60);
}

static void schedule_interval_after_success(void **state)
{
	struct ztg_jwks_refresh r;

	(void)state;
	ztg_jwks_refresh_init(&r, 3600, 60, 1000);
	ztg_jwks_refresh_succeeded(&r, 1002);
	assert_int_equal(r.fetches, 1);
	assert_int_equal(r.failures, 0);
	assert_int_equal(r.early_refetches, 0);
	assert_int_equal(r.last_success, 1002);
	assert_int_equal(r.last_attempt, 1002);
	assert_false(ztg_jwks_refresh_due(&r, 1003, false));
	assert_false(ztg_jwks_refresh_due(&r, 1002 + 3599, false));
	assert_true(ztg_jwks_refresh_due(&r, 1002 + 3600, false));
	assert_true(ztg_jwks_refresh_due(&r, 1002 + 9999, false));
}

static void schedule_unknown_kid_is_rate_limited(void **state)
{
	struct ztg_jwks_refresh r;

	(void)state;
	ztg_jwks_refresh_init(&r, 3600, 60, 0);
	ztg_jwks_refresh_succeeded(&r, 1000);
	assert_false(ztg_jwks_refresh_due(&r, 1030, true));
	assert_false(ztg_jwks_refresh_due(&r, 1059, true));
	assert_true(ztg_jwks_refresh_due(&r, 1060, true));
	assert_false(ztg_jwks_refresh_due(&r, 1060, false));

	/* The early fetch counts as such and restarts the interval. */
	ztg_jwks_refresh_succeeded(&r, 1061);
	assert_int_equal(r.fetches, 2);
	assert_int_equal(r.early_refetches, 1);
	assert_false(ztg_jwks_refresh_due(&r, 1120, true));
	assert_true(ztg_jwks_refresh_due(&r, 1121, true));
	assert_false(ztg_jwks_refresh_due(&r, 1061 + 3599, false));
	assert_true(ztg_jwks_refresh_due(&r, 1061 + 3600, false));

	/* A failed early fetch is early too, and rate-limits the next one the same way. */
	ztg_jwks_refresh_failed(&r, 1200);
	assert_int_equal(r.early_refetches, 2);
	assert_int_equal(r.failures, 1);
	assert_false(ztg_jwks_refresh_due(&r, 1259, true));
	assert_true(ztg_jwks_refresh_due(&r, 1260, true));
}

static void schedule_early_fetch_that_outlasts_the_interval(void **state)
{
	struct ztg_jwks_refresh r;

	(void)state;
	ztg_jwks_refresh_init(&r, 100, 10, 0);
	ztg_jwks_refresh_succeeded(&r, 0);
	assert_true(ztg_jwks_refresh_due(&r, 95, true));
	ztg_jwks_refresh_succeeded(&r, 101);
	assert_int_equal(r.early_refetches, 0);
	assert_int_equal(r.fetches, 2);
}

static void schedule_backoff_doubles_to_interval(void **state)
{
	static const uint32_t backoffs[] = { 10, 20, 40, 80, 160, 300, 300 };
	struct ztg_jwks_refresh r;
	int64_t t = 0;

	(void)state;
	ztg_jwks_refresh_init(&r, 300, 10, 0);
	for (size_t i = 0; i < sizeof(backoffs) / sizeof(backoffs[0]); i++) {
		ztg_jwks_refresh_failed(&r, t);
		assert_int_equal(r.backoff_s, backoffs[i]);
		assert_false(ztg_jwks_refresh_due(&r, t + backoffs[i] - 1, false));
		assert_true(ztg_jwks_refresh_due(&r, t + backoffs[i], false));
		t += backoffs[i];
	}
	assert_int_equal(r.failures, 7);
	assert_int_equal(r.fetches, 7);
	assert_int_equal(r.early_refetches, 0);
	assert_int_equal(r.last_success, 0);

	/* A success resets the backoff; the next failure starts over. */
	ztg_jwks_refresh_succeeded(&r, t);
	assert_int_equal(r.backoff_s, 0);
	assert_int_equal(r.last_success, t);
	assert_false(ztg_jwks_refresh_due(&r, t + 299, false));
	ztg_jwks_refresh_failed(&r, t + 300);
	assert_int_equal(r.backoff_s, 10);
	assert_true(ztg_jwks_refresh_due(&r, t + 310, false));

	/* An interval that is not a power-of-two multiple of the minimum still caps at the interval. */
	ztg_jwks_refresh_init(&r, 7, 3, 0);
	ztg_jwks_refresh_failed(&r, 0);
	assert_int_equal(r.backoff_s, 3);
	ztg_jwks_refresh_failed(&r, 3);
	assert_int_equal(r.backoff_s, 6);
	ztg_jwks_refresh_failed(&r, 9);
	assert_int_equal(r.backoff_s, 7);
}

/* During a long backoff an unknown kid may still fetch, once per refetch_min_s. */
static void schedule_unknown_kid_during_backoff(void **state)
{
	struct ztg_jwks_refresh r;

	(void)state;
	ztg_jwks_refresh_init(&r, 3600, 10, 0);
	ztg_jwks_refresh_failed(&r, 0);
	ztg_jwks_refresh_failed(&r, 10);
	ztg_jwks_refresh_failed(&r, 30);
	assert_int_equal(r.backoff_s, 40);
	assert_false(ztg_jwks_refresh_due(&r, 39, true));
	assert_true(ztg_jwks_refresh_due(&r, 40, true));
	assert_false(ztg_jwks_refresh_due(&r, 40, false));
	ztg_jwks_refresh_failed(&r, 41);
	assert_int_equal(r.early_refetches, 1);
	assert_int_equal(r.backoff_s, 80);
	assert_true(ztg_jwks_refresh_due(&r, 121, false));
}

static void schedule_last_error(void **state)
{
	struct ztg_jwks_refresh r;
	char long_text[400];

	(void)state;
	ztg_jwks_refresh_init(&r, 60, 10, 0);
	ztg_jwks_refresh_failed(&r, 0);
	ztg_jwks_refresh_set_error(&r, "https://idp/jwks.json: answered HTTP 503, not 200");
	assert_string_equal(r.last_error, "https://idp/jwks.json: answered HTTP 503, not 200");
	/* Kept after a success: last_success tells it is old. */
	ztg_jwks_refresh_succeeded(&r, 10);
	assert_string_equal(r.last_error, "https://idp/jwks.json: answered HTTP 503, not 200");

	memset(long_text, 'e', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	ztg_jwks_refresh_set_error(&r, long_text);
	assert_int_equal(strlen(r.last_error), ZTG_JWKS_REFRESH_ERROR_MAX - 1);
	ztg_jwks_refresh_set_error(&r, NULL);
	assert_string_equal(r.last_error, "");
}

/* Deadlines near the clock's end hold there instead of wrapping into the past. */
static void schedule_saturates(void **state)
{
	struct ztg_jwks_refresh r;
	int64_t t = INT64_MAX - 5;

	(void)state;
	ztg_jwks_refresh_init(&r, 100, 10, t);
	ztg_jwks_refresh_succeeded(&r, t);
	assert_int_equal(r.next_due, INT64_MAX);
	assert_false(ztg_jwks_refresh_due(&r, t + 1, false));
	assert_false(ztg_jwks_refresh_due(&r, t + 1, true));
	ztg_jwks_refresh_failed(&r, t);
	assert_int_equal(r.next_due, INT64_MAX);
}

int main(void)
{
	const struct CMUnitTest fetch_tests[] = {
		cmocka_unit_test(fetch_returns_exact_bytes),
		cmocka_unit_test(fetch_outside_blocked_ranges),
		cmocka_unit_test(untrusted_certificate_fails),
		cmocka_unit_test(ca_as_bytes),
		cmocka_unit_test(only_https_is_fetched),
		cmocka_unit_test(status_other_than_200_fails),
		cmocka_unit_test(body_over_max_bytes_fails),
		cmocka_unit_test(blocked_ipv4_is_never_connected),
		cmocka_unit_test(blocked_ipv6_loopback_is_never_connected),
		cmocka_unit_test(blocked_ipv4_mapped_is_never_connected),
		cmocka_unit_test(blocked_name_is_never_connected),
		cmocka_unit_test(timeout_is_honoured),
		cmocka_unit_test(bad_options_are_refused),
	};
	const struct CMUnitTest schedule_tests[] = {
		cmocka_unit_test(schedule_starts_due_and_clamps),
		cmocka_unit_test(schedule_interval_after_success),
		cmocka_unit_test(schedule_unknown_kid_is_rate_limited),
		cmocka_unit_test(schedule_early_fetch_that_outlasts_the_interval),
		cmocka_unit_test(schedule_backoff_doubles_to_interval),
		cmocka_unit_test(schedule_unknown_kid_during_backoff),
		cmocka_unit_test(schedule_last_error),
		cmocka_unit_test(schedule_saturates),
	};
	int failed;

	if (ztg_jwks_fetch_global_init() != 0) {
		fprintf(stderr, "libcurl cannot be set up\n");
		return 1;
	}
	failed = cmocka_run_group_tests_name("jwks_fetch", fetch_tests, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("jwks_refresh", schedule_tests, NULL, NULL);
	ztg_jwks_fetch_global_cleanup();
	return failed;
}
