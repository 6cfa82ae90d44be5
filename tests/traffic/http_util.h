/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Small text helpers shared by the HTTP corpus modules (internal).
 */
#ifndef ZTG_TRAFFIC_HTTP_UTIL_H
#define ZTG_TRAFFIC_HTTP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "http_corpus.h"
#include "tg_buf.h"
#include "tg_rng.h"

/* Random version-4 UUID, lower-case, NUL-terminated. */
void tg_uuid(char out[37], struct tg_rng *r);

/* base64url without padding. */
void tg_b64url(struct tg_buf *b, const uint8_t *p, size_t n);

/* `n` random base64url characters (as a random byte string would encode). */
void tg_rand_b64url(struct tg_buf *b, struct tg_rng *r, size_t n);

/* Exactly `n` characters of lower-case words separated by spaces (JSON-safe). */
void tg_words(struct tg_buf *b, struct tg_rng *r, size_t n);

/* Close a JSON object that starts at b->data[start] and is still open
 * (its last member written, no closing brace).  If `target` leaves room, a
 * ,"note":"..." member of filler words brings the object to exactly
 * `target` bytes; otherwise the object is just closed. */
void tg_json_close_padded(struct tg_buf *b, size_t start, size_t target, struct tg_rng *r);

/* Append `tmpl` with every "{n}" replaced by a random number in 1..99999
 * and every "{u}" by a random 7-digit user id. */
void tg_expand(struct tg_buf *b, const char *tmpl, struct tg_rng *r);

/* "Tue, 14 Nov 2023 22:13:20 GMT" (IMF-fixdate) and "2023-11-14T22:13:20Z". */
void tg_http_date(char out[40], uint64_t unix_s);
void tg_iso8601(char out[40], uint64_t unix_s);

/* A malicious request drawn by tg_attack_pick. */
struct tg_attack_req {
	enum tg_attack cls;
	enum tg_method method;
	const char *target;	/* template for tg_expand */
	const char *body;	/* JSON members without braces, NULL if none */
	const char *hdr_name;	/* extra header, NULL if none; "User-Agent" replaces it */
	const char *hdr_value;
};

/* Pick an attack class uniformly, then one of its variants uniformly. */
void tg_attack_pick(struct tg_attack_req *a, struct tg_rng *r);

#endif
