/*
 * One JWKS fetch (RFC 7517 key set) from an identity provider over https,
 * with libcurl: what the control process calls to get the raw key set of a
 * URL-backed issuer. Parsing the keys and deciding when to fetch are not
 * here (dataplane/auth/jwk.h, jwks_refresh.h).
 *
 * Invariants of every fetch:
 *  - https only, for the URL and anything it could lead to; redirects are
 *    never followed (a 3xx is an error), proxies from the environment are
 *    ignored, so the server named by the URL is the one answered;
 *  - the server's certificate chain and name are verified (TLS 1.2 or newer)
 *    against ca_pem or ca_file, or the system's CA store when both are NULL;
 *  - no connection is ever opened to an address inside a blocked range: each
 *    address curl is about to connect to is checked right before its socket
 *    exists, so a name that resolves (or re-resolves) into a blocked range is
 *    refused. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked
 *    against the IPv6 ranges and, as a.b.c.d, against the IPv4 ones; an
 *    address curl would use that is neither IPv4 nor IPv6 is refused;
 *  - the answer is accepted only with status 200; its Content-Type is not
 *    looked at; the body never grows past max_bytes in memory;
 *  - the whole transfer, name resolution included, ends within timeout_ms.
 *
 * Threads: fetches share nothing and may run in parallel once
 * ztg_jwks_fetch_global_init() has returned. No signal is used (timeouts
 * included), so any thread may fetch.
 */
#ifndef ZTG_JWKS_FETCH_H
#define ZTG_JWKS_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct ztg_cidr;   /* policy.h */

struct ztg_jwks_fetch_options {
	const char *url;                  /* https:// only (scheme case-insensitive) */
	const char *ca_file;              /* PEM CA bundle, the only trust for the server; NULL: the system's */
	const char *ca_pem;               /* the same as bytes (ca_pem_len of them); wins over ca_file */
	size_t ca_pem_len;
	const struct ztg_cidr *blocked;   /* addresses the fetch must never connect to; valid CIDRs */
	uint32_t blocked_count;
	uint32_t timeout_ms;              /* the whole transfer; > 0 */
	size_t max_bytes;                 /* larger bodies are refused; > 0 */
};

/*
 * libcurl's process-wide setup. Call once per process, before any thread is
 * started and before the first ztg_jwks_fetch(): libcurl's global init is not
 * thread-safe, and a fetch without it would run it implicitly. 0, or -1 if
 * libcurl cannot be set up or was built without TLS.
 */
int ztg_jwks_fetch_global_init(void);

/* Undoes ztg_jwks_fetch_global_init() at process exit, once no fetch runs any more. */
void ztg_jwks_fetch_global_cleanup(void);

/*
 * Fetch o->url once, synchronously.
 *
 * Returns 0 with *body (malloc'd, *len bytes followed by a NUL; free() it)
 * and *len set, or -1 with *body NULL, *len 0 and one line in err (err_len
 * bytes, truncated to fit; no trailing newline) naming the URL and why:
 * options out of range, a scheme other than https, a blocked address (with
 * the address and the range), resolution, connection or TLS failure, the
 * timeout, a status other than 200 (named), a body over max_bytes.
 */
int ztg_jwks_fetch(const struct ztg_jwks_fetch_options *o, char **body, size_t *len, char *err, size_t err_len);

#endif /* ZTG_JWKS_FETCH_H */
