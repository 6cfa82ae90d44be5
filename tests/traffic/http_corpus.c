/* SPDX-License-Identifier: BSD-3-Clause */
#include "http_corpus.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_util.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const method_names[TG_M_COUNT] = {
#define X(m) #m,
	TG_METHODS(X)
#undef X
};

static const char *const attack_names[TG_ATTACK_COUNT] = {
	[TG_ATTACK_NONE] = "none",
#define X(id, name) [TG_ATTACK_##id] = name,
	TG_ATTACKS(X)
#undef X
};

const char *tg_method_name(enum tg_method m)
{
	return (unsigned)m < TG_M_COUNT ? method_names[m] : "?";
}

const char *tg_attack_name(enum tg_attack a)
{
	return (unsigned)a < TG_ATTACK_COUNT ? attack_names[a] : "?";
}

/* ---- identities and tokens ------------------------------------------- */

static const char *const user_agents[] = {
	"curl/8.4.0",
	"python-requests/2.31.0",
	"okhttp/4.12.0",
	"Go-http-client/1.1",
	"axios/1.6.2",
	"Java-http-client/17.0.9",
	"PostmanRuntime/7.35.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
	"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.231105.004)",
	"ShopApp/5.12.1 (iOS 17.1; iPhone15,2)",
};
#define PROBE_UA "kube-probe/1.28"

static const char *const jwt_kids[] = {"ztg-lab-rsa-2023-11", "ztg-lab-rsa-2024-02"};
static const char *const jwt_clients[] = {"mobile-app", "web-frontend", "partner-integration",
					  "billing-service"};

void tg_http_init(struct tg_http *h, const struct tg_http_cfg *cfg)
{
	*h = (struct tg_http){.cfg = *cfg};
}

void tg_http_free(struct tg_http *h)
{
	tg_buf_free(&h->body);
	tg_buf_free(&h->tmp);
}

void tg_identity_free(struct tg_identity *id)
{
	tg_buf_free(&id->token);
}

/* Compact JWT of 600-900 characters.  The signature is 256 random bytes
 * encoded (the RS256 length for a 2048-bit key), not a real signature. */
static void make_token(struct tg_http *h, struct tg_identity *id, struct tg_rng *r,
		       uint64_t now_s)
{
	struct tg_buf *t = &id->token, *js = &h->tmp;
	char jti[37], sid[37];
	uint8_t sig[256];

	tg_buf_reset(t);
	tg_buf_reset(js);
	tg_buf_printf(js, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		      jwt_kids[tg_below(r, N_OF(jwt_kids))]);
	tg_b64url(t, js->data, js->len);
	size_t header_len = t->len;

	const size_t sig_len = (sizeof(sig) * 4 + 2) / 3;	/* 342 */
	size_t total = tg_range(r, 640, 890);
	size_t payload_b64 = total - header_len - 2 - sig_len;
	size_t payload_json = payload_b64 * 3 / 4;

	uint64_t iat = now_s - tg_range(r, 0, 3000);
	tg_buf_reset(js);
	tg_buf_printf(js,
		      "{\"iss\":\"https://idp.example.com\",\"sub\":\"usr_%07u\",\"aud\":\"%s\","
		      "\"exp\":%llu,\"iat\":%llu,\"scope\":\"%s\"",
		      id->user, h->cfg.host, (unsigned long long)(iat + 3600),
		      (unsigned long long)iat,
		      id->admin ? "orders:read orders:write inventory:read users:admin"
				: "orders:read orders:write inventory:read");

	/* padding claims, in order while they fit, then an opaque filler */
	struct tg_buf *claim = &h->body;
	for (int k = 0; k < 6; k++) {
		tg_buf_reset(claim);
		switch (k) {
		case 0:
			tg_buf_printf(claim, ",\"nbf\":%llu", (unsigned long long)iat);
			break;
		case 1:
			tg_uuid(jti, r);
			tg_buf_printf(claim, ",\"jti\":\"%s\"", jti);
			break;
		case 2:
			tg_buf_printf(claim, ",\"azp\":\"%s\"",
				      jwt_clients[tg_below(r, N_OF(jwt_clients))]);
			break;
		case 3:
			tg_buf_printf(claim, ",\"tenant\":\"t-%03u\",\"roles\":[%s]",
				      (unsigned)tg_range(r, 1, 120),
				      id->admin ? "\"customer\",\"admin\"" : "\"customer\"");
			break;
		case 4:
			tg_buf_printf(claim, ",\"email\":\"user%u@example.com\"", id->user);
			break;
		default:
			tg_uuid(sid, r);
			tg_buf_printf(claim, ",\"sid\":\"%s\"", sid);
			break;
		}
		if (js->len + claim->len + 1 <= payload_json)
			tg_buf_put(js, claim->data, claim->len);
	}
	static const char ext[] = ",\"ext\":\"\"}";
	if (payload_json > js->len + sizeof(ext) - 1) {
		tg_buf_puts(js, ",\"ext\":\"");
		tg_rand_b64url(js, r, payload_json - js->len - 2);
		tg_buf_puts(js, "\"}");
	} else {
		tg_buf_putc(js, '}');
	}
	tg_buf_putc(t, '.');
	tg_b64url(t, js->data, js->len);
	tg_buf_putc(t, '.');
	for (size_t i = 0; i < sizeof(sig); i += 8) {
		uint64_t v = tg_next(r);
		memcpy(sig + i, &v, 8);
	}
	tg_b64url(t, sig, sizeof(sig));
}

int tg_identity_init(struct tg_http *h, struct tg_identity *id, struct tg_rng *r, uint64_t now_s)
{
	tg_buf_reset(&id->token);
	id->probe = tg_chance(r, 0.03);
	id->admin = !id->probe && tg_chance(r, 0.05);
	id->user = (uint32_t)tg_range(r, 1000, 1000 + 4999);
	id->ua = (uint8_t)tg_below(r, N_OF(user_agents));
	if (!id->probe)
		make_token(h, id, r, now_s);
	return (id->token.oom || h->tmp.oom || h->body.oom) ? ENOMEM : 0;
}

/* ---- requests ---------------------------------------------------------- */

#define ENDPOINTS(X)                                                             \
	/* id            method  weight */                                       \
	X(ORDER_GET,     GET,    20)                                             \
	X(ORDER_LIST,    GET,     9)                                             \
	X(PROFILE_GET,   GET,    14)                                             \
	X(INVENTORY,     GET,    13)                                             \
	X(PRODUCT_GET,   GET,     9)                                             \
	X(SEARCH,        GET,     5)                                             \
	X(ORDER_CREATE,  POST,    8)                                             \
	X(PAYMENT,       POST,    4)                                             \
	X(PROFILE_PUT,   PUT,     6)                                             \
	X(ORDER_PATCH,   PATCH,   6)                                             \
	X(ORDER_DELETE,  DELETE,  6)                                             \
	X(HEALTHZ,       GET,     0)                                             \
	X(ATTACK,        GET,     0)

enum endpoint {
#define X(id, m, w) EP_##id,
	ENDPOINTS(X)
#undef X
	EP_COUNT
};

static const struct {
	enum tg_method method;
	unsigned weight;
} endpoints[EP_COUNT] = {
#define X(id, m, w) [EP_##id] = {TG_M_##m, w},
	ENDPOINTS(X)
#undef X
};

static const char *const search_terms[] = {"headphones", "usb-c+cable", "running+shoes",
					   "coffee", "desk+lamp", "backpack", "monitor+27"};
static const char *const order_states[] = {"pending", "paid", "shipped", "delivered",
					   "cancelled"};
static const char *const currencies[] = {"EUR", "USD", "GBP"};
static const char *const locales[] = {"en-US", "de-DE", "fr-FR", "en-GB", "es-ES"};

/* Request body members (no braces) for a normal write request. */
static void normal_body(struct tg_buf *b, enum endpoint ep, const struct tg_req_info *ri,
			const struct tg_identity *id, struct tg_rng *r)
{
	switch (ep) {
	case EP_ORDER_CREATE: {
		unsigned n = (unsigned)tg_range(r, 1, 3);
		tg_buf_printf(b, "\"customer_id\":\"usr_%07u\",\"currency\":\"%s\",\"items\":[",
			      id->user, currencies[tg_below(r, N_OF(currencies))]);
		for (unsigned i = 0; i < n; i++)
			tg_buf_printf(b, "%s{\"sku\":\"SKU-%05u\",\"qty\":%u}", i ? "," : "",
				      (unsigned)tg_range(r, 1, 99999), (unsigned)tg_range(r, 1, 4));
		tg_buf_printf(b, "],\"shipping\":{\"method\":\"%s\",\"country\":\"DE\"}",
			      tg_chance(r, 0.7) ? "standard" : "express");
		break;
	}
	case EP_PAYMENT:
		tg_buf_printf(b, "\"order_id\":%u,\"amount\":{\"value\":\"%u.%02u\",\"currency\":\"EUR\"},"
			      "\"method\":\"card\",\"card_token\":\"tok_",
			      (unsigned)tg_range(r, 100000, 999999), (unsigned)tg_range(r, 5, 900),
			      (unsigned)tg_below(r, 100));
		tg_rand_b64url(b, r, 24);
		tg_buf_puts(b, "\"");
		break;
	case EP_PROFILE_PUT:
		tg_buf_printf(b, "\"display_name\":\"User %u\",\"locale\":\"%s\","
			      "\"timezone\":\"Europe/Berlin\",\"marketing_opt_in\":%s",
			      ri->id, locales[tg_below(r, N_OF(locales))],
			      tg_chance(r, 0.3) ? "true" : "false");
		break;
	default:	/* ORDER_PATCH */
		tg_buf_printf(b, "\"status\":\"%s\",\"reason\":\"customer_request\"",
			      order_states[tg_below(r, N_OF(order_states))]);
		break;
	}
}

/* Request-target of a normal request. */
static void normal_target(struct tg_buf *b, enum endpoint ep, struct tg_req_info *ri,
			  struct tg_rng *r)
{
	switch (ep) {
	case EP_ORDER_GET:
	case EP_ORDER_PATCH:
	case EP_ORDER_DELETE:
		tg_buf_printf(b, "/api/v1/orders/%u", ri->id);
		break;
	case EP_ORDER_LIST:
		tg_buf_printf(b, "/api/v1/orders?customer=usr_%07u&status=%s&page=%u&limit=%u",
			      ri->id, order_states[tg_below(r, N_OF(order_states))],
			      (unsigned)tg_range(r, 1, 5), ri->limit);
		break;
	case EP_PROFILE_GET:
	case EP_PROFILE_PUT:
		tg_buf_printf(b, "/api/v1/users/%u/profile", ri->id);
		break;
	case EP_INVENTORY:
		tg_buf_printf(b, "/api/v2/inventory?sku=SKU-%05u&limit=%u", ri->id, ri->limit);
		break;
	case EP_PRODUCT_GET:
		tg_buf_printf(b, "/api/v1/products/%u", ri->id);
		break;
	case EP_SEARCH:
		tg_buf_printf(b, "/api/v1/products/search?q=%s&page=1&limit=%u",
			      search_terms[tg_below(r, N_OF(search_terms))], ri->limit);
		break;
	case EP_ORDER_CREATE:
		tg_buf_puts(b, "/api/v1/orders");
		break;
	case EP_PAYMENT:
		tg_buf_puts(b, "/api/v1/payments");
		break;
	default:
		tg_buf_puts(b, "/healthz");
		break;
	}
}

static uint16_t normal_status(enum endpoint ep, struct tg_rng *r)
{
	switch (ep) {
	case EP_ORDER_CREATE:
	case EP_PAYMENT:
		return 201;
	case EP_ORDER_DELETE:
		return tg_chance(r, 0.9) ? 204 : 404;
	case EP_ORDER_GET:
	case EP_PRODUCT_GET:
		return tg_chance(r, 0.93) ? 200 : 404;
	default:
		return 200;
	}
}

int tg_http_request(struct tg_http *h, struct tg_buf *out, struct tg_req_info *ri,
		    struct tg_rng *r, const struct tg_identity *id, bool last)
{
	struct tg_attack_req atk = {0};
	const char *xhdr_name = NULL, *xhdr_value = NULL;
	const char *ua = id->probe ? PROBE_UA : user_agents[id->ua];
	struct tg_buf *body = &h->body;
	bool has_body;
	enum endpoint ep;

	*ri = (struct tg_req_info){0};
	tg_buf_reset(out);
	tg_buf_reset(body);

	if (h->cfg.malicious > 0 && tg_chance(r, h->cfg.malicious)) {
		ep = EP_ATTACK;
		tg_attack_pick(&atk, r);
	} else if (id->probe) {
		ep = EP_HEALTHZ;
	} else {
		unsigned w[EP_COUNT];
		for (unsigned i = 0; i < EP_COUNT; i++)
			w[i] = endpoints[i].weight;
		ep = (enum endpoint)tg_weighted(r, w, EP_COUNT);
	}
	ri->endpoint = (uint8_t)ep;
	ri->method = ep == EP_ATTACK ? atk.method : endpoints[ep].method;
	ri->attack = atk.cls;
	tg_uuid(ri->request_id, r);

	switch (ep) {
	case EP_PROFILE_GET:
	case EP_PROFILE_PUT:
		ri->id = id->admin || tg_chance(r, 0.1) ? (uint32_t)tg_range(r, 1000, 5999) : id->user;
		break;
	case EP_ORDER_LIST:
		ri->id = id->user;
		break;
	default:
		ri->id = (uint32_t)tg_range(r, 10000, 99999);
		break;
	}
	ri->limit = (uint32_t)(tg_chance(r, 0.8) ? tg_range(r, 5, 25) : tg_range(r, 50, 100));

	/* request line */
	tg_buf_printf(out, "%s ", method_names[ri->method]);
	ri->target_off = out->len;
	if (ep == EP_ATTACK)
		tg_expand(out, atk.target, r);
	else
		normal_target(out, ep, ri, r);
	ri->target_len = out->len - ri->target_off;
	tg_buf_puts(out, " HTTP/1.1\r\n");

	/* body first, so Content-Length is known */
	has_body = ri->method == TG_M_POST || ri->method == TG_M_PUT || ri->method == TG_M_PATCH;
	if (ep == EP_ATTACK && atk.body == NULL)
		has_body = false;
	if (has_body) {
		tg_buf_putc(body, '{');
		if (ep == EP_ATTACK)
			tg_expand(body, atk.body, r);
		else
			normal_body(body, ep, ri, id, r);
		tg_json_close_padded(body, 0, h->cfg.body_size, r);
		if (body->len > h->cfg.body_size && ep != EP_ATTACK) {
			/* natural body too long for the asked size: fall back to filler only */
			tg_buf_reset(body);
			tg_buf_puts(body, "{\"note\":\"");
			size_t room = h->cfg.body_size > 11 ? h->cfg.body_size - 11 : 0;
			tg_words(body, r, room);
			tg_buf_puts(body, "\"}");
		}
	}

	if (ep == EP_ATTACK && atk.hdr_name != NULL) {
		if (strcmp(atk.hdr_name, "User-Agent") == 0)
			ua = atk.hdr_value;
		else {
			xhdr_name = atk.hdr_name;
			xhdr_value = atk.hdr_value;
		}
	}

	tg_buf_printf(out, "Host: %s\r\nUser-Agent: %s\r\n", h->cfg.host, ua);
	if (id->probe) {
		tg_buf_puts(out, "Accept: */*\r\n");
	} else {
		tg_buf_puts(out, "Accept: application/json\r\nAccept-Encoding: gzip, deflate, br\r\n");
		tg_buf_puts(out, "Authorization: Bearer ");
		if (h->cfg.bearer != NULL)
			tg_buf_put(out, h->cfg.bearer, h->cfg.bearer_len);
		else
			tg_buf_put(out, id->token.data, id->token.len);
		tg_buf_puts(out, "\r\n");
		tg_buf_printf(out, "X-Request-ID: %s\r\n", ri->request_id);
	}
	if (xhdr_name != NULL)
		tg_buf_printf(out, "%s: %s\r\n", xhdr_name, xhdr_value);
	if (has_body)
		tg_buf_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
			      body->len);
	if (last && tg_chance(r, 0.3)) {
		ri->close = true;
		tg_buf_puts(out, "Connection: close\r\n");
	}
	tg_buf_puts(out, "\r\n");
	if (has_body)
		tg_buf_put(out, body->data, body->len);

	if (ep == EP_ATTACK) {
		static const unsigned w[] = {30, 35, 20, 15};
		static const uint16_t st[] = {200, 400, 404, 500};
		ri->status = st[tg_weighted(r, w, N_OF(w))];
	} else {
		ri->status = normal_status(ep, r);
	}
	return (out->oom || body->oom) ? ENOMEM : 0;
}

/* ---- responses --------------------------------------------------------- */

static const char *reason(uint16_t status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	default:  return "Internal Server Error";
	}
}

static void price(struct tg_buf *b, struct tg_rng *r)
{
	tg_buf_printf(b, "\"%u.%02u\"", (unsigned)tg_range(r, 1, 499), (unsigned)tg_below(r, 100));
}

static void order_summary(struct tg_buf *b, uint32_t id, uint64_t now, struct tg_rng *r)
{
	char ts[40];

	tg_iso8601(ts, now - tg_range(r, 3600, 90 * 86400));
	tg_buf_printf(b, "{\"id\":%u,\"status\":\"%s\",\"total\":", id,
		      order_states[tg_below(r, N_OF(order_states))]);
	price(b, r);
	tg_buf_printf(b, ",\"currency\":\"EUR\",\"created_at\":\"%s\"}", ts);
}

static void product(struct tg_buf *b, uint32_t id, struct tg_rng *r)
{
	tg_buf_printf(b, "{\"id\":%u,\"sku\":\"SKU-%05u\",\"name\":\"", id,
		      (unsigned)tg_range(r, 1, 99999));
	tg_words(b, r, tg_range(r, 8, 30));
	tg_buf_puts(b, "\",\"price\":");
	price(b, r);
	tg_buf_printf(b, ",\"currency\":\"EUR\",\"stock\":%u,\"rating\":%u.%u}",
		      (unsigned)tg_range(r, 0, 500), (unsigned)tg_range(r, 1, 4),
		      (unsigned)tg_below(r, 10));
}

/* Natural response body members (object still open). */
static void response_members(struct tg_buf *b, const struct tg_req_info *ri, uint64_t now,
			     struct tg_rng *r)
{
	char ts[40];

	tg_iso8601(ts, now);
	if (ri->status >= 400) {
		const char *code = ri->status == 404 ? "not_found"
				   : ri->status == 400 ? "bad_request" : "internal";
		tg_buf_printf(b, "{\"error\":\"%s\",\"message\":\"%s\",\"request_id\":\"%s\"", code,
			      reason(ri->status), ri->request_id);
		return;
	}
	switch ((enum endpoint)ri->endpoint) {
	case EP_ORDER_GET: {
		unsigned n = (unsigned)tg_range(r, 1, 4);
		tg_buf_printf(b, "{\"id\":%u,\"customer_id\":\"usr_%07u\",\"status\":\"%s\","
			      "\"currency\":\"EUR\",\"items\":[", ri->id,
			      (unsigned)tg_range(r, 1000, 5999),
			      order_states[tg_below(r, N_OF(order_states))]);
		for (unsigned i = 0; i < n; i++) {
			tg_buf_printf(b, "%s{\"sku\":\"SKU-%05u\",\"qty\":%u,\"unit_price\":",
				      i ? "," : "", (unsigned)tg_range(r, 1, 99999),
				      (unsigned)tg_range(r, 1, 4));
			price(b, r);
			tg_buf_putc(b, '}');
		}
		tg_buf_puts(b, "],\"total\":");
		price(b, r);
		tg_buf_printf(b, ",\"updated_at\":\"%s\"", ts);
		break;
	}
	case EP_ORDER_LIST:
		tg_buf_puts(b, "{\"data\":[");
		for (uint32_t i = 0; i < ri->limit; i++) {
			if (i)
				tg_buf_putc(b, ',');
			order_summary(b, (uint32_t)tg_range(r, 10000, 99999), now, r);
		}
		tg_buf_printf(b, "],\"limit\":%u,\"next_cursor\":\"", ri->limit);
		tg_rand_b64url(b, r, 22);
		tg_buf_putc(b, '"');
		break;
	case EP_PROFILE_GET:
	case EP_PROFILE_PUT:
		tg_buf_printf(b, "{\"id\":%u,\"username\":\"user%u\",\"email\":\"user%u@example.com\","
			      "\"locale\":\"%s\",\"timezone\":\"Europe/Berlin\",\"roles\":[\"customer\"],"
			      "\"mfa_enabled\":%s,\"updated_at\":\"%s\"",
			      ri->id, ri->id, ri->id, locales[tg_below(r, N_OF(locales))],
			      tg_chance(r, 0.4) ? "true" : "false", ts);
		break;
	case EP_INVENTORY:
		tg_buf_puts(b, "{\"items\":[");
		for (uint32_t i = 0; i < ri->limit; i++)
			tg_buf_printf(b, "%s{\"sku\":\"SKU-%05u\",\"warehouse\":\"%s\",\"available\":%u,"
				      "\"reserved\":%u,\"updated_at\":\"%s\"}",
				      i ? "," : "", ri->id + i,
				      tg_chance(r, 0.5) ? "FRA1" : "AMS2",
				      (unsigned)tg_range(r, 0, 9999), (unsigned)tg_range(r, 0, 50),
				      ts);
		tg_buf_printf(b, "],\"limit\":%u", ri->limit);
		break;
	case EP_PRODUCT_GET:
		product(b, ri->id, r);
		b->len--;	/* reopen */
		break;
	case EP_SEARCH: {
		unsigned n = ri->limit < 10 ? ri->limit : 10;
		tg_buf_puts(b, "{\"results\":[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				tg_buf_putc(b, ',');
			product(b, (uint32_t)tg_range(r, 10000, 99999), r);
		}
		tg_buf_printf(b, "],\"total\":%u", (unsigned)tg_range(r, n, 500));
		break;
	}
	case EP_ORDER_CREATE:
		tg_buf_printf(b, "{\"id\":%u,\"status\":\"pending\",\"created_at\":\"%s\","
			      "\"links\":{\"self\":\"/api/v1/orders/%u\"}",
			      ri->id, ts, ri->id);
		break;
	case EP_PAYMENT:
		tg_buf_puts(b, "{\"id\":\"pay_");
		tg_rand_b64url(b, r, 24);
		tg_buf_printf(b, "\",\"status\":\"authorized\",\"created_at\":\"%s\"", ts);
		break;
	case EP_HEALTHZ:
		tg_buf_printf(b, "{\"status\":\"ok\",\"checks\":{\"db\":\"ok\",\"cache\":\"ok\"},"
			      "\"uptime_s\":%u", (unsigned)tg_range(r, 600, 9000000));
		break;
	default:	/* ORDER_PATCH, answered attacks */
		tg_buf_printf(b, "{\"id\":%u,\"status\":\"ok\",\"updated_at\":\"%s\"", ri->id, ts);
		break;
	}
}

int tg_http_response(struct tg_http *h, struct tg_buf *out, const struct tg_req_info *ri,
		     struct tg_rng *r, uint64_t unix_s)
{
	struct tg_buf *body = &h->body;
	char date[40];

	tg_buf_reset(out);
	tg_buf_reset(body);
	if (ri->status != 204) {
		response_members(body, ri, unix_s, r);
		tg_json_close_padded(body, 0, h->cfg.response_size, r);
		if (h->cfg.response_size && body->len > h->cfg.response_size) {
			tg_buf_reset(body);
			tg_buf_printf(body, "{\"request_id\":\"%s\"", ri->request_id);
			tg_json_close_padded(body, 0, h->cfg.response_size, r);
		}
	}
	tg_http_date(date, unix_s);
	tg_buf_printf(out, "HTTP/1.1 %u %s\r\nDate: %s\r\nServer: nginx/1.24.0\r\n", ri->status,
		      reason(ri->status), date);
	if (ri->status != 204)
		tg_buf_printf(out, "Content-Type: application/json; charset=utf-8\r\n"
			      "Content-Length: %zu\r\n", body->len);
	tg_buf_printf(out, "Connection: %s\r\nX-Request-ID: %s\r\n",
		      ri->close ? "close" : "keep-alive", ri->request_id);
	if (ri->method == TG_M_GET && ri->status == 200)
		tg_buf_puts(out, "Cache-Control: private, max-age=0, no-store\r\n");
	tg_buf_puts(out, "\r\n");
	tg_buf_put(out, body->data, body->len);
	return (out->oom || body->oom) ? ENOMEM : 0;
}
