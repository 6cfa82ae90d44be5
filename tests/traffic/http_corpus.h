/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Realistic REST API requests and responses for the traffic generator.
 *
 * Every choice is drawn from the caller's tg_rng, so a session's messages
 * depend only on the seed.  Bearer tokens are realistic-looking compact JWTs
 * (RS256 header with kid, iss/sub/aud/exp/iat/scope payload, a random
 * signature of the RS256 length).  The signatures are NOT valid; a caller
 * that needs tokens ztgate accepts passes one real token (cfg.bearer) that
 * every request then carries.
 */
#ifndef ZTG_TRAFFIC_HTTP_CORPUS_H
#define ZTG_TRAFFIC_HTTP_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_rng.h"

#define TG_METHODS(X) X(GET) X(POST) X(PUT) X(PATCH) X(DELETE)

enum tg_method {
#define X(m) TG_M_##m,
	TG_METHODS(X)
#undef X
	TG_M_COUNT
};

/* Attack classes of malicious requests: enum and names from one list. */
#define TG_ATTACKS(X)                        \
	X(SQLI, "sqli")                      \
	X(XSS, "xss")                        \
	X(TRAVERSAL, "path_traversal")       \
	X(CMDI, "cmd_injection")             \
	X(JNDI, "jndi")                      \
	X(SSRF, "ssrf")

enum tg_attack {
	TG_ATTACK_NONE = 0,
#define X(id, name) TG_ATTACK_##id,
	TG_ATTACKS(X)
#undef X
	TG_ATTACK_COUNT
};

const char *tg_method_name(enum tg_method m);
const char *tg_attack_name(enum tg_attack a);	/* "none" for TG_ATTACK_NONE */

struct tg_http_cfg {
	const char *host;	/* Host header and token audience */
	uint32_t body_size;	/* JSON body size of POST/PUT/PATCH requests */
	uint32_t response_size;	/* JSON body size of responses, 0 = natural */
	double malicious;	/* probability that a request is an attack */
	const char *bearer;	/* NULL: each identity's generated token; else sent by every request with a token */
	size_t bearer_len;
};

/* Who a session is: one identity per TCP connection. */
struct tg_identity {
	bool probe;		/* health checker: /healthz, no token */
	bool admin;
	uint8_t ua;		/* index into the user-agent list */
	uint32_t user;
	struct tg_buf token;	/* compact JWT, empty for probes */
};

/* What a request was, for the response and for the labels file. */
struct tg_req_info {
	enum tg_method method;
	enum tg_attack attack;
	uint16_t status;	/* status the server answers with */
	bool close;		/* "Connection: close" was sent */
	uint8_t endpoint;
	uint32_t id;		/* object id in the path, if any */
	uint32_t limit;		/* list length asked for, if any */
	size_t target_off;	/* request-target inside the request bytes */
	size_t target_len;
	char request_id[37];
};

/* Composition context: configuration plus scratch buffers. */
struct tg_http {
	struct tg_http_cfg cfg;
	struct tg_buf body;
	struct tg_buf tmp;
};

void tg_http_init(struct tg_http *h, const struct tg_http_cfg *cfg);
void tg_http_free(struct tg_http *h);

/* Draw a new identity (user, user agent, token issued shortly before
 * `now_s`, valid for an hour).  Returns 0 or ENOMEM. */
int tg_identity_init(struct tg_http *h, struct tg_identity *id, struct tg_rng *r, uint64_t now_s);
void tg_identity_free(struct tg_identity *id);

/* Compose the next request of a session into `out` (replacing its content).
 * `last` marks the last request of the connection (it may then ask for
 * "Connection: close").  Returns 0 or ENOMEM. */
int tg_http_request(struct tg_http *h, struct tg_buf *out, struct tg_req_info *ri,
		    struct tg_rng *r, const struct tg_identity *id, bool last);

/* Compose the response to `ri` into `out`; `unix_s` feeds the Date header.
 * Returns 0 or ENOMEM. */
int tg_http_response(struct tg_http *h, struct tg_buf *out, const struct tg_req_info *ri,
		     struct tg_rng *r, uint64_t unix_s);

#endif
