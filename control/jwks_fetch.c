/*
 * One JWKS fetch over https with libcurl (jwks_fetch.h).
 *
 * Everything curl could be talked into by the server or the environment is
 * pinned by options: https only, no redirects, no proxy, verified TLS 1.2+.
 * The blocked ranges are enforced in the open-socket callback rather than on
 * a resolution done beforehand, so the check applies to the very addresses
 * curl connects to (no window for a DNS answer to change in between), every
 * one of them when it falls back from one address to the next. The callbacks
 * cannot return a reason to curl, so they leave it in struct fetch for the
 * error message.
 */
#include "jwks_fetch.h"
#include "error_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "policy.h"

#define HTTPS_PREFIX "https://"

/* A key set is usually a few KiB: start there, double up to max_bytes. */
#define BODY_MIN_CAP 4096

/* An address and its range, as the blocked error shows them. */
#define BLOCKED_TEXT_MAX (2 * (INET6_ADDRSTRLEN + sizeof("/128")) + sizeof(", inside blocked range "))

struct fetch {
	const struct ztg_jwks_fetch_options *o;
	CURL *curl;
	char *buf;                       /* the body so far; cap + 1 bytes, room for the NUL */
	size_t len;
	size_t cap;
	bool too_big;
	bool no_memory;
	long refused_status;             /* the status whose body was not read; 0: none */
	char blocked[BLOCKED_TEXT_MAX];  /* the first address refused and why; "": none */
};

/* ---------------------------------------------------------------- addresses */

static bool cidr_valid(const struct ztg_cidr *c)
{
	return (c->family == 4 && c->prefix_len <= 32) || (c->family == 6 && c->prefix_len <= 128);
}

static void cidr_text(const struct ztg_cidr *c, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	snprintf(out, len, "%s/%u", a, c->prefix_len);
}

static bool prefix_match(const uint8_t *addr, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(addr, net, full) != 0)
		return false;
	return rest == 0 || ((addr[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/*
 * A peer as the ranges see it: an IPv4 address, or an IPv6 one; an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is both, since it reaches the
 * IPv4 host: a range blocking that host must not be bypassed by writing it
 * as IPv6.
 */
struct peer {
	bool has_v4;
	bool has_v6;
	uint8_t v4[4];
	uint8_t v6[16];
	char text[INET6_ADDRSTRLEN];     /* as curl was about to use it */
};

static bool peer_from(const struct curl_sockaddr *a, struct peer *p)
{
	static const uint8_t mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

	memset(p, 0, sizeof(*p));
	if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;

		memcpy(&sin, &a->addr, sizeof(sin));
		memcpy(p->v4, &sin.sin_addr, 4);
		p->has_v4 = true;
		return inet_ntop(AF_INET, &sin.sin_addr, p->text, sizeof(p->text)) != NULL;
	}
	if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, &a->addr, sizeof(sin6));
		memcpy(p->v6, &sin6.sin6_addr, 16);
		p->has_v6 = true;
		if (memcmp(p->v6, mapped_prefix, sizeof(mapped_prefix)) == 0) {
			memcpy(p->v4, p->v6 + 12, 4);
			p->has_v4 = true;
		}
		return inet_ntop(AF_INET6, &sin6.sin6_addr, p->text, sizeof(p->text)) != NULL;
	}
	return false;
}

static const struct ztg_cidr *blocked_range(const struct ztg_jwks_fetch_options *o, const struct peer *p)
{
	for (uint32_t i = 0; i < o->blocked_count; i++) {
		const struct ztg_cidr *c = &o->blocked[i];

		if (c->family == 4 ? p->has_v4 && prefix_match(p->v4, c->addr, c->prefix_len)
				   : p->has_v6 && prefix_match(p->v6, c->addr, c->prefix_len))
			return c;
	}
	return NULL;
}

/* ---------------------------------------------------------------- callbacks */

/* curl's socket(2): refuses a blocked address, and any it could not check. */
static curl_socket_t open_checked(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch *f = clientp;
	const struct ztg_cidr *hit;
	struct peer p;
	char range[INET6_ADDRSTRLEN + sizeof("/128")];

	(void)purpose;
	if (!peer_from(a, &p)) {
		if (f->blocked[0] == '\0')
			snprintf(f->blocked, sizeof(f->blocked), "an address of family %d, which cannot be checked",
				 a->family);
		return CURL_SOCKET_BAD;
	}
	hit = blocked_range(f->o, &p);
	if (hit != NULL) {
		if (f->blocked[0] == '\0') {
			cidr_text(hit, range, sizeof(range));
			snprintf(f->blocked, sizeof(f->blocked), "%s, inside blocked range %s", p.text, range);
		}
		return CURL_SOCKET_BAD;
	}
	/* Nothing the process execs later inherits a connection to a key server. */
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Room for need bytes and a NUL, growing by doubling but never past max_bytes. */
static bool body_reserve(struct fetch *f, size_t need)
{
	size_t cap = f->cap < BODY_MIN_CAP ? BODY_MIN_CAP : f->cap;
	char *buf;

	if (need <= f->cap && f->buf != NULL)
		return true;
	while (cap < need)
		cap = cap > f->o->max_bytes / 2 ? need : cap * 2;
	if (cap > f->o->max_bytes)
		cap = f->o->max_bytes;
	buf = realloc(f->buf, cap + 1);
	if (buf == NULL)
		return false;
	f->buf = buf;
	f->cap = cap;
	return true;
}

/*
 * Keeps the body of a 200 answer within max_bytes. Any other status stops
 * the transfer at its first body byte: an error page is never worth reading.
 * Returning less than was given makes curl abort with CURLE_WRITE_ERROR.
 */
static size_t keep_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct fetch *f = userp;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		f->refused_status = status;
		return 0;
	}
	if (n > f->o->max_bytes - f->len) {
		f->too_big = true;
		return 0;
	}
	if (!body_reserve(f, f->len + n)) {
		f->no_memory = true;
		return 0;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return n;
}

/* ---------------------------------------------------------------- fetch */

int ztg_jwks_fetch_global_init(void)
{
	const curl_version_info_data *v;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	v = curl_version_info(CURLVERSION_NOW);
	if (v == NULL || (v->features & CURL_VERSION_SSL) == 0) {
		curl_global_cleanup();
		return -1;
	}
	return 0;
}

void ztg_jwks_fetch_global_cleanup(void)
{
	curl_global_cleanup();
}

static bool options_valid(const struct ztg_jwks_fetch_options *o, char *err, size_t err_len)
{
	if (strncasecmp(o->url, HTTPS_PREFIX, strlen(HTTPS_PREFIX)) != 0) {
		ztg_error_set(err, err_len, "%s: only https:// URLs are fetched", o->url);
		return false;
	}
	if (o->timeout_ms == 0 || o->max_bytes == 0) {
		ztg_error_set(err, err_len, "%s: timeout_ms and max_bytes must both be > 0", o->url);
		return false;
	}
	if (o->blocked_count > 0 && o->blocked == NULL) {
		ztg_error_set(err, err_len, "%s: %u blocked ranges announced, none given", o->url, o->blocked_count);
		return false;
	}
	for (uint32_t i = 0; i < o->blocked_count; i++) {
		if (!cidr_valid(&o->blocked[i])) {
			ztg_error_set(err, err_len, "%s: blocked range %u is not a CIDR (family %u, prefix %u)", o->url, i,
				o->blocked[i].family, o->blocked[i].prefix_len);
			return false;
		}
	}
	return true;
}

/* Every option the invariants rest on; one that does not take makes the fetch fail rather than run without it. */
static CURLcode configure(struct fetch *f, char *curl_err)
{
	CURL *c = f->curl;
	const struct ztg_jwks_fetch_options *o = f->o;
	CURLcode rc;

	if ((rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_URL, o->url)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_PROXY, "")) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "ztgate/" ZTG_VERSION)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, f)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, f)) != CURLE_OK)
		return rc;
	if (o->ca_pem != NULL) {
		/* A policy carries its CA as bytes (bundles are extracted only while loading): no file to name. */
		struct curl_blob blob = {.data = (void *)(uintptr_t)o->ca_pem, .len = o->ca_pem_len,
					 .flags = CURL_BLOB_COPY};

		if ((rc = curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob)) != CURLE_OK ||
		    (rc = curl_easy_setopt(c, CURLOPT_CAINFO, NULL)) != CURLE_OK ||
		    (rc = curl_easy_setopt(c, CURLOPT_CAPATH, NULL)) != CURLE_OK)
			return rc;
		return CURLE_OK;
	}
	if (o->ca_file == NULL)
		return CURLE_OK;
	/* The given bundle is the only trust: the build's default CA directory must not widen it. */
	if ((rc = curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_CAPATH, NULL)) != CURLE_OK)
		return rc;
	return CURLE_OK;
}

static void explain(const struct fetch *f, CURLcode rc, long status, const char *curl_err, char *err, size_t err_len)
{
	const char *url = f->o->url;
	bool answered = rc == CURLE_OK || f->refused_status != 0;

	if (f->refused_status != 0)
		status = f->refused_status;
	if (rc == CURLE_COULDNT_CONNECT && f->blocked[0] != '\0')
		ztg_error_set(err, err_len, "%s resolves to %s", url, f->blocked);
	else if (f->too_big)
		ztg_error_set(err, err_len, "%s: body larger than max_bytes (%zu bytes), refused", url, f->o->max_bytes);
	else if (f->no_memory)
		ztg_error_set(err, err_len, "%s: out of memory for the body", url);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		ztg_error_set(err, err_len, "%s: timed out, no complete answer within timeout_ms (%u ms)", url,
			f->o->timeout_ms);
	else if (answered && status >= 300 && status < 400)
		ztg_error_set(err, err_len, "%s: answered HTTP %ld, a redirect, which is not followed", url, status);
	else if (answered)
		ztg_error_set(err, err_len, "%s: answered HTTP %ld, not 200", url, status);
	else
		ztg_error_set(err, err_len, "%s: %s", url, curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc));
}

int ztg_jwks_fetch(const struct ztg_jwks_fetch_options *o, char **body, size_t *len, char *err, size_t err_len)
{
	struct fetch f = { .o = o };
	char curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (body != NULL)
		*body = NULL;
	if (len != NULL)
		*len = 0;
	if (body == NULL || len == NULL || o == NULL || o->url == NULL) {
		ztg_error_set(err, err_len, "jwks fetch: no URL or no place for the body");
		return -1;
	}
	if (!options_valid(o, err, err_len))
		return -1;
	f.curl = curl_easy_init();
	if (f.curl == NULL) {
		ztg_error_set(err, err_len, "%s: libcurl cannot start a transfer", o->url);
		return -1;
	}
	rc = configure(&f, curl_err);
	if (rc != CURLE_OK) {
		ztg_error_set(err, err_len, "%s: libcurl refused a required option: %s", o->url, curl_easy_strerror(rc));
		curl_easy_cleanup(f.curl);
		return -1;
	}
	rc = curl_easy_perform(f.curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(f.curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status == 200 && !body_reserve(&f, f.len)) {
		f.no_memory = true;
		rc = CURLE_OUT_OF_MEMORY;
	}
	if (rc != CURLE_OK || status != 200) {
		explain(&f, rc, status, curl_err, err, err_len);
		curl_easy_cleanup(f.curl);
		free(f.buf);
		return -1;
	}
	curl_easy_cleanup(f.curl);
	f.buf[f.len] = '\0';
	*body = f.buf;
	*len = f.len;
	return 0;
}
