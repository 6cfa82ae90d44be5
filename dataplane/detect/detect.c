#include "detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A database for the header field: the header it matches, its name length counted once. */
struct header_db {
	const struct ztg_sig_db *db;
	size_t name_len;
};

struct ztg_detect {
	struct ztg_sig_compiled *compiled;
	/* Each block-mode field's database, found once: NULL when no rule matches that field. */
	const struct ztg_sig_db *field_db[ZTG_SIG_FIELD_COUNT];
	struct header_db *header_dbs;
	uint32_t header_db_count;
	bool shipped;                  /* the databases came from the bundle */
	uint8_t *set_of;               /* by pattern id: index of the rule's set in the policy */
	unsigned worker_count;
	hs_scratch_t **scratch;        /* one per worker */
};

void ztg_detect_free(struct ztg_detect *d)
{
	if (d == NULL)
		return;
	for (unsigned w = 0; d->scratch != NULL && w < d->worker_count; w++)
		hs_free_scratch(d->scratch[w]);
	free(d->scratch);
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

struct ztg_detect *ztg_detect_build(const struct ztg_policy *p, const struct ztg_bundle_files *files, unsigned workers,
				    bool *none, char *err, size_t err_len)
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
	d->scratch = calloc(workers + 1, sizeof(*d->scratch));
	d->header_dbs = calloc(d->compiled->db_count + 1, sizeof(*d->header_dbs));
	d->worker_count = workers;
	if (d->set_of == NULL || d->scratch == NULL || d->header_dbs == NULL) {
		snprintf(err, err_len, "out of memory for the signatures");
		goto fail;
	}
	/* Streaming databases are for bodies, scanned as they stream; a head's fields are whole values. */
	for (uint32_t i = 0; i < d->compiled->db_count; i++) {
		const struct ztg_sig_db *db = &d->compiled->dbs[i];

		if (db->streaming)
			continue;
		if (db->field == ZTG_SIG_FIELD_HEADER)
			d->header_dbs[d->header_db_count++] = (struct header_db){.db = db, .name_len = strlen(db->header)};
		else if (d->field_db[db->field] == NULL)
			d->field_db[db->field] = db;
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
		if (ztg_sig_scratch_alloc(d->compiled, &d->scratch[w]) != 0) {
			snprintf(err, err_len, "cannot allocate Hyperscan scratch space for worker %u", w);
			goto fail;
		}
	}
	return d;
fail:
	ztg_detect_free(d);
	return NULL;
}

/* One scan's context: the callback sees only this. */
struct scan {
	const struct ztg_detect *d;
	const struct ztg_policy_detect *cfg;
	struct ztg_detect_result *out;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *arg)
{
	struct scan *sc = arg;
	struct ztg_detect_result *out = sc->out;
	const struct ztg_sig_rule *rule;
	uint32_t i;

	(void)from;
	(void)to;
	(void)flags;
	if (id >= sc->d->compiled->rule_count || !(sc->cfg->sets >> sc->d->set_of[id] & 1))
		return 0;
	rule = sc->d->compiled->rules[id];
	for (i = 0; i < out->match_count && i < ZTG_DETECT_MAX_MATCHES; i++) {
		if (out->rules[i] == rule->id)
			return 0;
	}
	/* Beyond the kept ids a rule may be counted twice: the count only says "more". */
	if (out->match_count < ZTG_DETECT_MAX_MATCHES)
		out->rules[out->match_count] = rule->id;
	out->match_count++;
	if (rule->monitor || rule->action == ZTG_SIG_ACTION_ALERT) {
		out->alert = true;
		return 0;
	}
	if (rule->action == ZTG_SIG_ACTION_BLOCK) {
		if (out->first_block == NULL)
			out->first_block = rule;
		out->block = true;
		return 0;
	}
	out->score += rule->score;
	if (out->score >= sc->cfg->threshold)
		out->block = true;
	return 0;
}

static void scan_value(struct scan *sc, unsigned w, const struct ztg_sig_db *db, const uint8_t *data, uint32_t len)
{
	if (db == NULL)
		return;
	/* An error here is a scratch or database bug, never the traffic's doing: the request is judged on what matched. */
	(void)hs_scan(db->db, (const char *)data, len, 0, sc->d->scratch[w], on_match, sc);
}

/* "name: value" for the headers field, cut to the buffer: a line longer than it is scanned in part. */
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
	if (d == NULL || w >= d->worker_count)
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
	/* A route in monitor mode reports what it would block. */
	if (out->block && cfg->monitor) {
		out->block = false;
		out->alert = true;
	}
}
