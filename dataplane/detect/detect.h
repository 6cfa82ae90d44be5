/*
 * Detect: signature matching in the dataplane. The policy's rule sets,
 * compiled with Hyperscan (control/sig_compile.h), are scanned over a
 * message's fields as soon as they are known, before the packet that
 * completes them is forwarded:
 * - a request head: method, path, raw and decoded query, each argument name
 *   and value, each header line, named headers, cookies;
 * - a response head: its status and each header line;
 * - request and response bodies, piece by piece as the HTTP parser delivers
 *   them (in order, chunk framing removed), in Hyperscan's streaming mode:
 *   a pattern split across segments or chunks is found where it ends.
 *
 * A match counts only when its rule's set is one the route (or its service)
 * selects. Then: a "block" rule, or any rule of a set the route lists in
 * block_sets, blocks; a "score" rule adds its score, and the route's
 * threshold reached blocks; an "alert" rule (or any rule in monitor mode, or
 * a route in monitor mode) is reported without blocking. A rule with a
 * validator counts only when its check accepts the bytes ending at the
 * match. Every matched rule id goes into the result, once.
 *
 * The runtime form is built with a policy's authz and is immutable but for
 * each worker's own part, which only that worker touches: its Hyperscan
 * scratch, and its pools of body streams (one Hyperscan stream each, opened
 * at build, reset between bodies). A policy swap never reallocates what a
 * worker may be using, and nothing is allocated per packet. A body holds a
 * stream from its head to its end or its depth; its state costs
 * ztg_detect_stream_bytes() per flow, accounted in the pool's fixed size.
 * When a worker's streams are all held, a new body cannot be scanned: the
 * caller decides (ztgate refuses the message).
 */
#ifndef ZTG_DETECT_H
#define ZTG_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "../../control/bundle.h"
#include "../../control/policy.h"
#include "../../control/sig_compile.h"
#include "../http/http_normalize.h"
#include "../http/http_parser.h"

#define ZTG_DETECT_MAX_MATCHES 16     /* rule ids kept per message; more are counted */
#define ZTG_DETECT_ROUTE_RING  32     /* requests awaiting their responses: the parser's pipelining bound */

struct ztg_detect;

enum ztg_detect_body {
	ZTG_DETECT_REQUEST_BODY = 0,
	ZTG_DETECT_RESPONSE_BODY = 1,
};

/*
 * Build from p's rule sets: take the compiled databases from records among
 * files (a bundle's) when they match the rules, else compile them here.
 * workers: scratches and stream pools to allocate (workers index them
 * 0..workers-1); streams: body streams per worker and direction. NULL with
 * err on failure; *none set when the policy has no rule sets (then NULL is
 * not an error).
 */
struct ztg_detect *ztg_detect_build(const struct ztg_policy *p, const struct ztg_bundle_files *files, unsigned workers,
				    uint32_t streams, bool *none, char *err, size_t err_len);
void ztg_detect_free(struct ztg_detect *d);

/* How the rules were obtained and what they cost, for status. */
bool ztg_detect_shipped(const struct ztg_detect *d);
const struct ztg_sig_compiled *ztg_detect_compiled(const struct ztg_detect *d);
/* Bytes of one body's stream state (0: no rule matches that body), and streams per worker. */
size_t ztg_detect_stream_bytes(const struct ztg_detect *d, enum ztg_detect_body body);
uint32_t ztg_detect_streams(const struct ztg_detect *d);
/* Streams worker w holds now, both directions (a gauge for its counters). */
uint32_t ztg_detect_streams_held(const struct ztg_detect *d, unsigned w);

struct ztg_detect_result {
	bool block;                   /* a blocking match, or the threshold reached, in enforce */
	bool alert;                   /* something matched that is only reported */
	bool report;                  /* reportable matches not reported yet: worth an alert event */
	bool depth_reached;           /* bodies: the depth cut the scan, the stream is released */
	uint32_t score;
	uint32_t match_count;         /* distinct rules matched (may exceed the kept ids) */
	uint32_t new_matches;         /* of them, found by this call */
	uint32_t rules[ZTG_DETECT_MAX_MATCHES];
	uint8_t fields[ZTG_DETECT_MAX_MATCHES];   /* where each kept rule matched first: enum ztg_sig_field */
	const struct ztg_sig_rule *first_block;              /* the first rule that blocked alone, if one did */
};

/*
 * Scan a request head for worker w under the route's detect settings
 * (cfg->present must hold). target: the normalised target (decoded query
 * and arguments, canonical path).
 */
void ztg_detect_request(const struct ztg_detect *d, unsigned w, const struct ztg_policy_detect *cfg,
			const struct ztg_http_message *msg, const struct ztg_http_target_view *target,
			struct ztg_detect_result *out);

/* Scan a response head: its status as three digits and each header line. */
void ztg_detect_response(const struct ztg_detect *d, unsigned w, const struct ztg_policy_detect *cfg,
			 const struct ztg_http_message *msg, struct ztg_detect_result *out);

/* What detect keeps in a flow; zeroed with it. Valid only under the policy of that generation. */
struct ztg_detect_flow {
	uint32_t generation;
	uint32_t stream[2];           /* by enum ztg_detect_body: a held stream + 1; 0: none */
	uint64_t request_id;          /* of the request whose body may be streaming: the latest */
	uint32_t routes[ZTG_DETECT_ROUTE_RING];   /* by request index: (service + 1) << 16 | route; 0: none */
};

/*
 * A body follows a head that head (may be NULL) describes: take a stream for
 * it, seeded with the head's matches so the score and the rule ids add up.
 * 0 with *stream set; 1 when there is nothing to scan (no rule matches that
 * body, or the route's depth for it is 0); -1 when every stream of the
 * worker is held.
 */
int ztg_detect_body_open(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body,
			 const struct ztg_policy_detect *cfg, const struct ztg_detect_result *head, uint32_t *stream);

/*
 * The body's next bytes, in order. *out: every match so far (head
 * included). Returns how many bytes were scanned: fewer than len when the
 * depth was reached, and then out->depth_reached is set and the stream is
 * already released.
 */
uint32_t ztg_detect_body_scan(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream,
			      const uint8_t *data, uint32_t len, struct ztg_detect_result *out);

/* The body is complete: its end-of-data matches into *out, and the stream is released. */
void ztg_detect_body_close(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream,
			   struct ztg_detect_result *out);

/* The flow is gone before its body ended: release the stream, nothing reported. */
void ztg_detect_body_abandon(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream);

#endif
