#include "detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ztg_detect {
	const struct ztg_policy *policy;
	struct ztg_sig_compiled *compiled;
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
	d->policy = p;
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
	d->worker_count = workers;
	if (d->set_of == NULL || d->scratch == NULL) {
		snprintf(err, err_len, "out of memory for the signatures");
		goto fail;
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
	enum ztg_sig_field field;
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
	if (out->match_count < ZTG_DETECT_MAX_MATCHES) {
		out->rules[out->match_count] = rule->id;
		out->fields[out->match_count] = sc->field;
	}
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

static void scan_value(struct scan *sc, unsigned w, enum ztg_sig_field field, const char *header, size_t header_len,
		       const uint8_t *data, uint32_t len)
{
	const struct ztg_sig_db *db = ztg_sig_compiled_db(sc->d->compiled, field, header, header_len);

	if (db == NULL || db->streaming)
		return;
	sc->field = field;
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
	scan_value(&sc, w, ZTG_SIG_FIELD_METHOD, NULL, 0, msg->method_token.ptr, msg->method_token.len);
	scan_value(&sc, w, ZTG_SIG_FIELD_PATH, NULL, 0, target->path.ptr, target->path.len);
	if (target->has_query) {
		scan_value(&sc, w, ZTG_SIG_FIELD_QUERY_RAW, NULL, 0, target->raw_query.ptr, target->raw_query.len);
		scan_value(&sc, w, ZTG_SIG_FIELD_QUERY, NULL, 0, target->query.ptr, target->query.len);
	}
	for (uint32_t i = 0; i < target->param_count; i++) {
		scan_value(&sc, w, ZTG_SIG_FIELD_ARG_NAMES, NULL, 0, target->params[i].name.ptr, target->params[i].name.len);
		scan_value(&sc, w, ZTG_SIG_FIELD_ARG_VALUES, NULL, 0, target->params[i].value.ptr,
			   target->params[i].value.len);
	}
	for (uint32_t i = 0; i < msg->header_count; i++) {
		const struct ztg_http_header *h = &msg->headers[i];

		scan_value(&sc, w, ZTG_SIG_FIELD_HEADERS, NULL, 0, line, header_line(h, line, sizeof(line)));
		scan_value(&sc, w, ZTG_SIG_FIELD_HEADER, (const char *)h->name.ptr, h->name.len, h->value.ptr,
			   h->value.len);
		if (h->name.len == 6 && strncasecmp((const char *)h->name.ptr, "cookie", 6) == 0)
			scan_value(&sc, w, ZTG_SIG_FIELD_COOKIES, NULL, 0, h->value.ptr, h->value.len);
	}
	/* A route in monitor mode reports what it would block. */
	if (out->block && cfg->monitor) {
		out->block = false;
		out->alert = true;
	}
}
