#include "detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validator.h"

/* A database for the header field: the header it matches, its name length counted once. */
struct header_db {
	const struct ztg_sig_db *db;
	size_t name_len;
};

/* One body being scanned: a Hyperscan stream opened at build, reset between bodies. */
struct body_stream {
	hs_stream_t *stream;
	const struct ztg_policy_detect *cfg;
	struct ztg_detect_result result;
	uint64_t scanned;              /* body bytes scanned: the stream's offset */
	uint32_t depth;
	uint32_t reported;             /* result.match_count when last reported */
	uint32_t counted;              /* result.match_count when last handed out */
	uint32_t tail_len;
	uint8_t tail[ZTG_VALIDATOR_WINDOW];   /* the last bytes scanned, for validators across pieces */
};

/* A worker's streams for one body direction: held ones, and a stack of free ones. */
struct body_pool {
	struct body_stream *streams;
	uint32_t *free;
	uint32_t free_count;
};

/* What only worker w touches. */
struct worker_part {
	hs_scratch_t *scratch;
	struct body_pool body[2];
};

struct ztg_detect {
	struct ztg_sig_compiled *compiled;
	/* Each field's database, found once: NULL when no rule matches that field. */
	const struct ztg_sig_db *field_db[ZTG_SIG_FIELD_COUNT];
	const struct ztg_sig_db *body_db[2];   /* by enum ztg_detect_body */
	size_t stream_bytes[2];
	struct header_db *header_dbs;
	uint32_t header_db_count;
	bool shipped;                  /* the databases came from the bundle */
	uint8_t *set_of;               /* by pattern id: index of the rule's set in the policy */
	unsigned worker_count;
	uint32_t streams;              /* per worker and body direction */
	struct worker_part *workers;
};

static void body_pool_free(struct body_pool *pool, uint32_t streams)
{
	for (uint32_t i = 0; pool->streams != NULL && i < streams; i++) {
		if (pool->streams[i].stream != NULL)
			hs_close_stream(pool->streams[i].stream, NULL, NULL, NULL);
	}
	free(pool->streams);
	free(pool->free);
}

void ztg_detect_free(struct ztg_detect *d)
{
	if (d == NULL)
		return;
	for (unsigned w = 0; d->workers != NULL && w < d->worker_count; w++) {
		hs_free_scratch(d->workers[w].scratch);
		body_pool_free(&d->workers[w].body[0], d->streams);
		body_pool_free(&d->workers[w].body[1], d->streams);
	}
	free(d->workers);
	free(d->set_of);
	free(d->header_dbs);
	ztg_sig_compiled_free(d->compiled);
	free(d);
}

bool ztg_detect_shipped(const struct ztg_detect *d)
{
	return d->shipped;
}

const struct ztg_sig_compiled *ztg_detect_compiled(const struct ztg_detect *d)
{
	return d->compiled;
}

size_t ztg_detect_stream_bytes(const struct ztg_detect *d, enum ztg_detect_body body)
{
	return d->stream_bytes[body];
}

uint32_t ztg_detect_streams(const struct ztg_detect *d)
{
	return d->streams;
}

uint32_t ztg_detect_streams_held(const struct ztg_detect *d, unsigned w)
{
	uint32_t held = 0;

	if (d == NULL || w >= d->worker_count)
		return 0;
	for (int b = 0; b < 2; b++) {
		if (d->body_db[b] != NULL)
			held += d->streams - d->workers[w].body[b].free_count;
	}
	return held;
}

/* Which loaded set a compiled rule belongs to: the rules point into their sets' arrays. */
static int set_index(const struct ztg_policy *p, const struct ztg_sig_rule *rule)
{
	for (uint32_t s = 0; s < p->signature_set_count; s++) {
		const struct ztg_sig_set *set = p->signature_sets[s];

		if (rule >= set->rules && rule < set->rules + set->rule_count)
			return (int)s;
	}
	return -1;
}

/* A worker's streams for a body database: all opened now, so a body never allocates. */
static int body_pool_alloc(struct body_pool *pool, const struct ztg_sig_db *db, uint32_t streams)
{
	pool->streams = calloc(streams + 1, sizeof(*pool->streams));
	pool->free = calloc(streams + 1, sizeof(*pool->free));
	if (pool->streams == NULL || pool->free == NULL)
		return -1;
	for (uint32_t i = 0; i < streams; i++) {
		if (hs_open_stream(db->db, 0, &pool->streams[i].stream) != HS_SUCCESS)
			return -1;
		pool->free[pool->free_count++] = streams - 1 - i;
	}
	return 0;
}

struct ztg_detect *ztg_detect_build(const struct ztg_policy *p, const struct ztg_bundle_files *files, unsigned workers,
				    uint32_t streams, bool *none, char *err, size_t err_len)
{
	const struct ztg_sig_set *const *sets = (const struct ztg_sig_set *const *)p->signature_sets;
	struct ztg_policy_diag diag;
	struct ztg_detect *d;
	int rc = 1;

	*none = p->signature_set_count == 0;
	if (*none)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, err_len, "out of memory for the signatures");
		return NULL;
	}
	if (files != NULL)
		rc = ztg_sig_compiled_from_records(sets, p->signature_set_count, files, &d->compiled, err, err_len);
	if (rc < 0)
		goto fail;
	d->shipped = rc == 0;
	if (rc == 1) {
		ztg_policy_diag_init(&diag);
		rc = ztg_sig_compile(sets, p->signature_set_count, &d->compiled, &diag);
		if (rc != 0) {
			const struct ztg_policy_diag_entry *e = diag.count > 0 ? &diag.entries[0] : NULL;

			snprintf(err, err_len, "%s:%u: %s", e ? e->file : p->path, e ? e->line : 0,
				 e ? e->message : "the signatures do not compile");
			ztg_policy_diag_free(&diag);
			goto fail;
		}
		ztg_policy_diag_free(&diag);
	}
	d->set_of = calloc(d->compiled->rule_count + 1, 1);
	d->workers = calloc(workers + 1, sizeof(*d->workers));
	d->header_dbs = calloc(d->compiled->db_count + 1, sizeof(*d->header_dbs));
	d->worker_count = workers;
	d->streams = streams;
	if (d->set_of == NULL || d->workers == NULL || d->header_dbs == NULL) {
		snprintf(err, err_len, "out of memory for the signatures");
		goto fail;
	}
	for (uint32_t i = 0; i < d->compiled->db_count; i++) {
		const struct ztg_sig_db *db = &d->compiled->dbs[i];

		if (db->field == ZTG_SIG_FIELD_REQUEST_BODY || db->field == ZTG_SIG_FIELD_RESPONSE_BODY) {
			enum ztg_detect_body body = db->field == ZTG_SIG_FIELD_REQUEST_BODY ? ZTG_DETECT_REQUEST_BODY :
											      ZTG_DETECT_RESPONSE_BODY;

			d->body_db[body] = db;
			if (hs_stream_size(db->db, &d->stream_bytes[body]) != HS_SUCCESS) {
				snprintf(err, err_len, "Hyperscan refuses the %s database", ztg_sig_field_name(db->field));
				goto fail;
			}
		} else if (db->field == ZTG_SIG_FIELD_HEADER) {
			d->header_dbs[d->header_db_count++] = (struct header_db){.db = db, .name_len = strlen(db->header)};
		} else if (d->field_db[db->field] == NULL) {
			d->field_db[db->field] = db;
		}
	}
	for (uint32_t r = 0; r < d->compiled->rule_count; r++) {
		int s = set_index(p, d->compiled->rules[r]);

		if (s < 0) {
			snprintf(err, err_len, "rule %u is in none of the policy's sets", d->compiled->rules[r]->id);
			goto fail;
		}
		d->set_of[r] = (uint8_t)s;
	}
	for (unsigned w = 0; w < workers; w++) {
		if (ztg_sig_scratch_alloc(d->compiled, &d->workers[w].scratch) != 0) {
			snprintf(err, err_len, "cannot allocate Hyperscan scratch space for worker %u", w);
			goto fail;
		}
		for (int b = 0; b < 2; b++) {
			if (d->body_db[b] != NULL && body_pool_alloc(&d->workers[w].body[b], d->body_db[b], streams) != 0) {
				snprintf(err, err_len, "cannot open %u Hyperscan streams of %zu bytes for worker %u",
					 streams, d->stream_bytes[b], w);
				goto fail;
			}
		}
	}
	return d;
fail:
	ztg_detect_free(d);
	return NULL;
}

/*
 * One scan's context: the callback sees only this. data/len: the bytes of
 * this call, at offset base of the value (bodies: of the stream); tail: the
 * bytes just before them, for a validator whose candidate began earlier.
 */
struct scan {
	const struct ztg_detect *d;
	const struct ztg_policy_detect *cfg;
	struct ztg_detect_result *out;
	enum ztg_sig_field field;      /* of the database scanned */
	const uint8_t *data;
	uint32_t len;
	uint64_t base;
	const uint8_t *tail;
	uint32_t tail_len;
};

/* The bytes of the value that end at offset end, at most ZTG_VALIDATOR_WINDOW, into window. */
static uint32_t match_window(const struct scan *sc, uint64_t end, uint8_t *window)
{
	uint32_t from_data = end > sc->base ? (uint32_t)(end - sc->base) : 0;
	uint32_t tail_end = sc->tail_len;
	uint32_t n = 0;

	if (from_data > sc->len)
		from_data = sc->len;
	if (end < sc->base) {
		uint64_t back = sc->base - end;

		tail_end = back < sc->tail_len ? sc->tail_len - (uint32_t)back : 0;
	}
	if (from_data < ZTG_VALIDATOR_WINDOW) {
		uint32_t want = ZTG_VALIDATOR_WINDOW - from_data;

		n = want < tail_end ? want : tail_end;
		if (n > 0)
			memcpy(window, sc->tail + tail_end - n, n);
	} else {
		from_data = ZTG_VALIDATOR_WINDOW;
	}
	if (from_data > 0)
		memcpy(window + n, sc->data + (end - sc->base) - from_data, from_data);
	return n + from_data;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *arg)
{
	struct scan *sc = arg;
	struct ztg_detect_result *out = sc->out;
	const struct ztg_sig_rule *rule;
	uint32_t i;

	(void)from;
	(void)flags;
	if (id >= sc->d->compiled->rule_count || !(sc->cfg->sets >> sc->d->set_of[id] & 1))
		return 0;
	rule = sc->d->compiled->rules[id];
	for (i = 0; i < out->match_count && i < ZTG_DETECT_MAX_MATCHES; i++) {
		if (out->rules[i] == rule->id)
			return 0;
	}
	if (rule->validator != ZTG_SIG_VALIDATOR_NONE) {
		uint8_t window[ZTG_VALIDATOR_WINDOW];

		if (!ztg_validator_accept(rule->validator, window, match_window(sc, to, window)))
			return 0;
	}
	/* Beyond the kept ids a rule may be counted twice: the count only says "more". */
	if (out->match_count < ZTG_DETECT_MAX_MATCHES) {
		out->rules[out->match_count] = rule->id;
		out->fields[out->match_count] = (uint8_t)sc->field;
	}
	out->match_count++;
	if (rule->monitor || (rule->action == ZTG_SIG_ACTION_ALERT && !(sc->cfg->block_sets >> sc->d->set_of[id] & 1))) {
		out->alert = true;
		return 0;
	}
	if (rule->action == ZTG_SIG_ACTION_SCORE)
		out->score += rule->score;
	if (rule->action == ZTG_SIG_ACTION_BLOCK || sc->cfg->block_sets >> sc->d->set_of[id] & 1) {
		if (out->first_block == NULL)
			out->first_block = rule;
		out->block = true;
		return 0;
	}
	if (out->score >= sc->cfg->threshold)
		out->block = true;
	return 0;
}

/* A route in monitor mode reports what it would block. */
static void apply_route_mode(const struct ztg_policy_detect *cfg, struct ztg_detect_result *out)
{
	if (out->block && cfg->monitor) {
		out->block = false;
		out->alert = true;
	}
}

static void scan_value(struct scan *sc, unsigned w, const struct ztg_sig_db *db, const uint8_t *data, uint32_t len)
{
	if (db == NULL)
		return;
	sc->field = db->field;
	sc->data = data;
	sc->len = len;
	/* An error here is a scratch or database bug, never the traffic's doing: the message is judged on what matched. */
	(void)hs_scan(db->db, (const char *)data, len, 0, sc->d->workers[w].scratch, on_match, sc);
}

/* "name: value" for the headers fields, cut to the buffer: a line longer than it is scanned in part. */
static uint32_t header_line(const struct ztg_http_header *h, uint8_t *buf, uint32_t cap)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < h->name.len && n < cap; i++)
		buf[n++] = h->name.ptr[i];
	if (n + 2 <= cap) {
		buf[n++] = ':';
		buf[n++] = ' ';
	}
	for (uint32_t i = 0; i < h->value.len && n < cap; i++)
		buf[n++] = h->value.ptr[i];
	return n;
}

void ztg_detect_request(const struct ztg_detect *d, unsigned w, const struct ztg_policy_detect *cfg,
			const struct ztg_http_message *msg, const struct ztg_http_target_view *target,
			struct ztg_detect_result *out)
{
	struct scan sc = {.d = d, .cfg = cfg, .out = out};
	uint8_t line[8192 + 2];

	memset(out, 0, sizeof(*out));
	if (d == NULL || w >= d->worker_count || cfg->sets == 0)
		return;
	scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_METHOD], msg->method_token.ptr, msg->method_token.len);
	scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_PATH], target->path.ptr, target->path.len);
	if (target->has_query) {
		scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_QUERY_RAW], target->raw_query.ptr, target->raw_query.len);
		scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_QUERY], target->query.ptr, target->query.len);
	}
	for (uint32_t i = 0; i < target->param_count; i++) {
		scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_ARG_NAMES], target->params[i].name.ptr,
			   target->params[i].name.len);
		scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_ARG_VALUES], target->params[i].value.ptr,
			   target->params[i].value.len);
	}
	for (uint32_t i = 0; i < msg->header_count; i++) {
		const struct ztg_http_header *h = &msg->headers[i];

		if (d->field_db[ZTG_SIG_FIELD_HEADERS] != NULL)
			scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_HEADERS], line, header_line(h, line, sizeof(line)));
		for (uint32_t k = 0; k < d->header_db_count; k++) {
			if (h->name.len == d->header_dbs[k].name_len &&
			    ztg_http_header_name_equal(h->name, d->header_dbs[k].db->header))
				scan_value(&sc, w, d->header_dbs[k].db, h->value.ptr, h->value.len);
		}
		if (ztg_http_header_name_equal(h->name, "cookie"))
			scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_COOKIES], h->value.ptr, h->value.len);
	}
	apply_route_mode(cfg, out);
	out->report = out->alert;
	out->new_matches = out->match_count;
}

void ztg_detect_response(const struct ztg_detect *d, unsigned w, const struct ztg_policy_detect *cfg,
			 const struct ztg_http_message *msg, struct ztg_detect_result *out)
{
	struct scan sc = {.d = d, .cfg = cfg, .out = out};
	const struct ztg_sig_db *headers_db;
	uint8_t line[8192 + 2];
	uint8_t status[3];

	memset(out, 0, sizeof(*out));
	if (d == NULL || w >= d->worker_count || cfg->sets == 0)
		return;
	status[0] = (uint8_t)('0' + msg->status / 100 % 10);
	status[1] = (uint8_t)('0' + msg->status / 10 % 10);
	status[2] = (uint8_t)('0' + msg->status % 10);
	scan_value(&sc, w, d->field_db[ZTG_SIG_FIELD_RESPONSE_STATUS], status, sizeof(status));
	headers_db = d->field_db[ZTG_SIG_FIELD_RESPONSE_HEADERS];
	for (uint32_t i = 0; headers_db != NULL && i < msg->header_count; i++)
		scan_value(&sc, w, headers_db, line, header_line(&msg->headers[i], line, sizeof(line)));
	apply_route_mode(cfg, out);
	out->report = out->alert;
	out->new_matches = out->match_count;
}

static struct body_stream *held_stream(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body,
				       uint32_t stream)
{
	if (d == NULL || w >= d->worker_count || d->body_db[body] == NULL || stream == 0 || stream > d->streams)
		return NULL;
	return &d->workers[w].body[body].streams[stream - 1];
}

static void body_release(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream)
{
	struct body_pool *pool = &d->workers[w].body[body];

	pool->free[pool->free_count++] = stream - 1;
}

int ztg_detect_body_open(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body,
			 const struct ztg_policy_detect *cfg, const struct ztg_detect_result *head, uint32_t *stream)
{
	uint32_t depth = body == ZTG_DETECT_REQUEST_BODY ? cfg->request_body_depth : cfg->response_body_depth;
	struct body_pool *pool;
	struct body_stream *bs;
	uint32_t i;

	if (d == NULL || w >= d->worker_count || d->body_db[body] == NULL || depth == 0 || cfg->sets == 0)
		return 1;
	pool = &d->workers[w].body[body];
	if (pool->free_count == 0)
		return -1;
	i = pool->free[--pool->free_count];
	bs = &pool->streams[i];
	bs->cfg = cfg;
	bs->depth = depth;
	bs->scanned = 0;
	bs->tail_len = 0;
	if (head != NULL) {
		bs->result = *head;
		bs->reported = head->alert ? head->match_count : 0;
	} else {
		memset(&bs->result, 0, sizeof(bs->result));
		bs->reported = 0;
	}
	bs->counted = bs->result.match_count;
	bs->result.report = false;
	*stream = i + 1;
	return 0;
}

/* After a scan: the route's mode, and whether what matched is news to report. */
static void body_result(struct body_stream *bs, struct ztg_detect_result *out)
{
	apply_route_mode(bs->cfg, &bs->result);
	bs->result.report = bs->result.alert && bs->result.match_count > bs->reported;
	if (bs->result.report)
		bs->reported = bs->result.match_count;
	bs->result.new_matches = bs->result.match_count - bs->counted;
	bs->counted = bs->result.match_count;
	*out = bs->result;
	bs->result.report = false;
}

/* Keep the last bytes scanned: a validator's candidate may have begun in an earlier piece. */
static void keep_tail(struct body_stream *bs, const uint8_t *data, uint32_t len)
{
	if (len >= ZTG_VALIDATOR_WINDOW) {
		memcpy(bs->tail, data + len - ZTG_VALIDATOR_WINDOW, ZTG_VALIDATOR_WINDOW);
		bs->tail_len = ZTG_VALIDATOR_WINDOW;
		return;
	}
	if (bs->tail_len + len > ZTG_VALIDATOR_WINDOW) {
		uint32_t drop = bs->tail_len + len - ZTG_VALIDATOR_WINDOW;

		memmove(bs->tail, bs->tail + drop, bs->tail_len - drop);
		bs->tail_len -= drop;
	}
	memcpy(bs->tail + bs->tail_len, data, len);
	bs->tail_len += len;
}

uint32_t ztg_detect_body_scan(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream,
			      const uint8_t *data, uint32_t len, struct ztg_detect_result *out)
{
	struct body_stream *bs = held_stream(d, w, body, stream);
	struct scan sc;
	uint32_t n = len;

	if (bs == NULL) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (bs->scanned + n > bs->depth)
		n = (uint32_t)(bs->depth - bs->scanned);
	sc = (struct scan){.d = d, .cfg = bs->cfg, .out = &bs->result, .field = d->body_db[body]->field, .data = data,
			   .len = n, .base = bs->scanned, .tail = bs->tail, .tail_len = bs->tail_len};
	if (n > 0)
		(void)hs_scan_stream(bs->stream, (const char *)data, n, 0, d->workers[w].scratch, on_match, &sc);
	bs->scanned += n;
	keep_tail(bs, data, n);
	if (bs->scanned >= bs->depth) {
		/* Cut, not ended: no end-of-data matches, which would see an end the body does not have. */
		(void)hs_reset_stream(bs->stream, 0, NULL, NULL, NULL);
		bs->result.depth_reached = true;
		body_result(bs, out);
		body_release(d, w, body, stream);
		return n;
	}
	body_result(bs, out);
	return n;
}

void ztg_detect_body_close(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream,
			   struct ztg_detect_result *out)
{
	struct body_stream *bs = held_stream(d, w, body, stream);
	struct scan sc;

	if (bs == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	sc = (struct scan){.d = d, .cfg = bs->cfg, .out = &bs->result, .field = d->body_db[body]->field,
			   .data = bs->tail, .len = 0, .base = bs->scanned, .tail = bs->tail, .tail_len = bs->tail_len};
	/* The reset reports matches that needed the end of the data ($ anchors) and readies the stream. */
	(void)hs_reset_stream(bs->stream, 0, d->workers[w].scratch, on_match, &sc);
	body_result(bs, out);
	body_release(d, w, body, stream);
}

void ztg_detect_body_abandon(const struct ztg_detect *d, unsigned w, enum ztg_detect_body body, uint32_t stream)
{
	struct body_stream *bs = held_stream(d, w, body, stream);

	if (bs == NULL)
		return;
	(void)hs_reset_stream(bs->stream, 0, NULL, NULL, NULL);
	body_release(d, w, body, stream);
}
