#include "top.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define NO_ENTRY UINT16_MAX

/* One line of the view: a key's total at the last sample and what it grew by since the one before. */
struct series {
	char name[ZTG_ROUTE_LABEL_NAME_MAX];   /* a verdict, a service ("" for none) or a reason */
	uint8_t verdict;                       /* verdicts and reasons: enum ztg_tally_verdict; services: 0 */
	uint64_t total;
	uint64_t delta;
};

/* The requests at one sample: every array sorted by key, so two samples merge in one pass. */
struct snapshot {
	struct series verdicts[ZTG_TALLY_VERDICT_COUNT];
	struct series *services;
	uint32_t service_count;
	struct series *reasons;
	uint32_t reason_count;
	uint64_t overflow;                     /* the tallies' counts that found no entry, every kind */
};

struct identity {
	char issuer[ZTG_EVENT_NAME_MAX];
	char subject[ZTG_EVENT_SUBJECT_MAX];
	uint32_t hash;
	uint16_t next;                         /* the next entry in its bucket, or NO_ENTRY */
	uint64_t count;                        /* this interval, the inherited error included */
	uint64_t error;                        /* the count inherited from the entry it replaced */
	uint64_t denied;                       /* stopped this interval, since it took its place: exact */
	uint64_t total;                        /* events since it took its place: exact */
};

/* An identity as the last complete interval left it. */
struct identity_row {
	char issuer[ZTG_EVENT_NAME_MAX];
	char subject[ZTG_EVENT_SUBJECT_MAX];
	uint64_t count, error, denied, total;
};

/* What the event observer counts, for the current interval and since start. */
struct event_counts {
	uint64_t events, anonymous;
};

struct ztg_top {
	/* Main lcore only. */
	struct snapshot current;
	uint64_t samples;
	double sampled_at;
	double interval;                       /* between the last two samples; 0 until there are two */
	struct identity_row top[ZTG_TOP_ROWS]; /* the busiest in the last interval, then since they came */
	uint32_t top_count;
	uint32_t tracked;                      /* entries in use at the last sample */
	struct event_counts last, totals;      /* the last interval's events, and every one to its end */

	uint32_t capacity;                     /* identities: fixed at create */
	/* The identity table and the current interval's counts: under lock. */
	pthread_mutex_t lock;
	struct event_counts window;
	uint32_t used;
	uint32_t bucket_mask;
	uint16_t *buckets;
	struct identity *entries;
};

/* ------------------------------------------------------------ requests */

static void snapshot_release(struct snapshot *s)
{
	free(s->services);
	free(s->reasons);
	s->services = s->reasons = NULL;
	s->service_count = s->reason_count = 0;
}

static int by_key(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	if (x->verdict != y->verdict)
		return (int)x->verdict - (int)y->verdict;
	return strcmp(x->name, y->name);
}

/* Sort by key and add up the duplicates (one service over several routes, one reason over several). */
static uint32_t sort_and_merge(struct series *s, uint32_t n)
{
	uint32_t kept = 0;

	if (n > 1)
		qsort(s, n, sizeof(*s), by_key);
	for (uint32_t i = 0; i < n; i++) {
		if (kept > 0 && by_key(&s[kept - 1], &s[i]) == 0)
			s[kept - 1].total += s[i].total;
		else
			s[kept++] = s[i];
	}
	return kept;
}

static int snapshot_build(struct snapshot *s, const struct ztg_tally_row *rows, long n,
			  const struct ztg_route_labels *labels)
{
	for (unsigned int v = 0; v < ZTG_TALLY_VERDICT_COUNT; v++) {
		snprintf(s->verdicts[v].name, sizeof(s->verdicts[v].name), "%s",
			 ztg_tally_verdict_name((enum ztg_tally_verdict)v));
		s->verdicts[v].verdict = (uint8_t)v;   /* so they are in key order too */
	}
	if (n == 0)
		return 0;
	s->services = calloc((size_t)n, sizeof(*s->services));
	s->reasons = calloc((size_t)n, sizeof(*s->reasons));
	if (s->services == NULL || s->reasons == NULL) {
		snapshot_release(s);
		return -1;
	}
	for (long i = 0; i < n; i++) {
		uint32_t verdict = ztg_tally_tag_b(rows[i].tag);
		const char *service = labels ? ztg_route_labels_service(labels, ztg_tally_tag_a(rows[i].tag)) : NULL;
		struct series *svc;

		/* A verdict this build does not know is a worker newer than its reader: not a request to show. */
		if (verdict >= ZTG_TALLY_VERDICT_COUNT)
			continue;
		s->verdicts[verdict].total += rows[i].count;
		svc = &s->services[s->service_count++];
		snprintf(svc->name, sizeof(svc->name), "%s", service ? service : "");
		svc->total = rows[i].count;
		if (verdict != ZTG_TALLY_ALLOW && rows[i].name != NULL) {
			struct series *r = &s->reasons[s->reason_count++];

			snprintf(r->name, sizeof(r->name), "%s", rows[i].name);
			r->verdict = (uint8_t)verdict;
			r->total = rows[i].count;
		}
	}
	s->service_count = sort_and_merge(s->services, s->service_count);
	s->reason_count = sort_and_merge(s->reasons, s->reason_count);
	return 0;
}

/* Each key's growth since the previous sample (both sorted by key); a key new since then grew from 0. */
static void series_diff(struct series *now, uint32_t n, const struct series *before, uint32_t m)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t previous = 0;
		int c = 1;

		while (j < m && (c = by_key(&before[j], &now[i])) < 0)
			j++;
		if (j < m && c == 0)
			previous = before[j].total;
		/* Counters only grow: a smaller total, never expected, gives no rate rather than a huge one. */
		now[i].delta = now[i].total > previous ? now[i].total - previous : 0;
	}
}

/* ------------------------------------------------------------- create */

struct ztg_top *ztg_top_create(uint32_t identity_capacity)
{
	struct ztg_top *top;
	uint32_t buckets = 1;

	if (identity_capacity == 0 || identity_capacity >= NO_ENTRY)
		return NULL;
	top = calloc(1, sizeof(*top));
	if (top == NULL)
		return NULL;
	/* At least twice the entries: chains stay short. */
	while (buckets < 2 * identity_capacity)
		buckets <<= 1;
	top->capacity = identity_capacity;
	top->bucket_mask = buckets - 1;
	top->buckets = malloc(buckets * sizeof(*top->buckets));
	top->entries = calloc(identity_capacity, sizeof(*top->entries));
	if (top->buckets == NULL || top->entries == NULL || pthread_mutex_init(&top->lock, NULL) != 0) {
		free(top->buckets);
		free(top->entries);
		free(top);
		return NULL;
	}
	memset(top->buckets, 0xff, buckets * sizeof(*top->buckets));
	snapshot_build(&top->current, NULL, 0, NULL);   /* the verdicts' names, for a view before any sample */
	return top;
}

void ztg_top_free(struct ztg_top *top)
{
	if (top == NULL)
		return;
	snapshot_release(&top->current);
	pthread_mutex_destroy(&top->lock);
	free(top->buckets);
	free(top->entries);
	free(top);
}

/* ---------------------------------------------------------- identities */

static uint32_t identity_hash(const char *issuer, const char *subject)
{
	return (uint32_t)ztg_hash_fnv1a_string(ztg_hash_fnv1a_string(ZTG_HASH_FNV1A_SEED, issuer), subject);
}

static void bucket_unlink(struct ztg_top *top, uint16_t index)
{
	uint16_t *link = &top->buckets[top->entries[index].hash & top->bucket_mask];

	while (*link != index)
		link = &top->entries[*link].next;
	*link = top->entries[index].next;
}

/* The entry counted least this interval, then least since it came: the one to give up. */
static uint16_t least_counted(const struct ztg_top *top)
{
	uint16_t least = 0;

	for (uint32_t i = 1; i < top->used; i++) {
		const struct identity *e = &top->entries[i], *l = &top->entries[least];

		if (e->count < l->count || (e->count == l->count && e->total < l->total))
			least = (uint16_t)i;
	}
	return least;
}

static struct identity *identity_find_or_take(struct ztg_top *top, const char *issuer, const char *subject)
{
	uint32_t hash = identity_hash(issuer, subject);
	uint16_t *bucket = &top->buckets[hash & top->bucket_mask];
	struct identity *e;
	uint16_t index;

	for (index = *bucket; index != NO_ENTRY; index = top->entries[index].next) {
		e = &top->entries[index];
		if (e->hash == hash && strcmp(e->issuer, issuer) == 0 && strcmp(e->subject, subject) == 0)
			return e;
	}
	if (top->used < top->capacity) {
		index = (uint16_t)top->used++;
		e = &top->entries[index];
		*e = (struct identity){0};
	} else {
		/* Space-saving: the newcomer inherits the least count, which bounds how far it overstates. */
		uint64_t inherited;

		index = least_counted(top);
		e = &top->entries[index];
		inherited = e->count;
		bucket_unlink(top, index);
		*e = (struct identity){.count = inherited, .error = inherited};
	}
	snprintf(e->issuer, sizeof(e->issuer), "%s", issuer);
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	e->hash = hash;
	e->next = *bucket;
	*bucket = index;
	return e;
}

void ztg_top_observe(struct ztg_top *top, const struct ztg_event *event)
{
	bool stopped = !event->monitor && (event->action == ZTG_EVENT_ACTION_DENY ||
					   event->action == ZTG_EVENT_ACTION_RESET ||
					   event->action == ZTG_EVENT_ACTION_DROP);

	/* Behaviour alerts and quarantines are about requests already counted, not requests. */
	if (event->action == ZTG_EVENT_ACTION_ALERT || event->action == ZTG_EVENT_ACTION_QUARANTINE)
		return;
	pthread_mutex_lock(&top->lock);
	top->window.events++;
	if (!event->identified || event->subject[0] == '\0') {
		top->window.anonymous++;
	} else {
		struct identity *e = identity_find_or_take(top, event->issuer, event->subject);

		e->count++;
		e->total++;
		e->denied += stopped;
	}
	pthread_mutex_unlock(&top->lock);
}

/* Busiest first: by count this interval, then since it came, then by name, so equal ones keep one order. */
static int identity_rank(const struct identity_row *x, const struct identity *y)
{
	int c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	c = strcmp(x->issuer, y->issuer);
	return c != 0 ? c : strcmp(x->subject, y->subject);
}

/*
 * Under lock: keep the interval's busiest identities (those idle in it too,
 * by total, as services are), then start the next interval from zero.
 */
static void identities_roll(struct ztg_top *top)
{
	top->top_count = 0;
	for (uint32_t i = 0; i < top->used; i++) {
		struct identity *e = &top->entries[i];
		uint32_t at = top->top_count;

		while (at > 0 && identity_rank(&top->top[at - 1], e) > 0)
			at--;
		if (at < ZTG_TOP_ROWS) {
			uint32_t last = top->top_count < ZTG_TOP_ROWS ? top->top_count : ZTG_TOP_ROWS - 1;

			memmove(&top->top[at + 1], &top->top[at], (last - at) * sizeof(top->top[0]));
			top->top[at] = (struct identity_row){.count = e->count, .error = e->error,
							     .denied = e->denied, .total = e->total};
			memcpy(top->top[at].issuer, e->issuer, sizeof(e->issuer));
			memcpy(top->top[at].subject, e->subject, sizeof(e->subject));
			if (top->top_count < ZTG_TOP_ROWS)
				top->top_count++;
		}
		/* A new interval counts from zero, and exactly while the table has room for whoever comes. */
		e->count = e->error = e->denied = 0;
	}
	top->tracked = top->used;
	top->last = top->window;
	top->totals.events += top->window.events;
	top->totals.anonymous += top->window.anonymous;
	top->window = (struct event_counts){0};
}

/* ------------------------------------------------------------- sample */

int ztg_top_sample(struct ztg_top *top, const struct ztg_tally *const *tallies, unsigned int count,
		   const struct ztg_route_labels *labels, double now)
{
	struct snapshot next = {0};
	struct ztg_tally_row *rows = NULL;
	long n = 0;

	if (top->samples > 0 && now - top->sampled_at < ZTG_TOP_PERIOD)
		return 0;
	if (tallies != NULL) {
		n = ztg_tally_collect(tallies, count, ZTG_TALLY_REQUEST, &rows, &next.overflow);
		if (n < 0)
			return -1;
	}
	if (snapshot_build(&next, rows, n, labels) != 0) {
		free(rows);
		return -1;
	}
	free(rows);
	series_diff(next.verdicts, ZTG_TALLY_VERDICT_COUNT, top->current.verdicts, ZTG_TALLY_VERDICT_COUNT);
	series_diff(next.services, next.service_count, top->current.services, top->current.service_count);
	series_diff(next.reasons, next.reason_count, top->current.reasons, top->current.reason_count);
	snapshot_release(&top->current);
	top->current = next;
	pthread_mutex_lock(&top->lock);
	identities_roll(top);
	pthread_mutex_unlock(&top->lock);
	top->interval = top->samples > 0 ? now - top->sampled_at : 0;
	top->sampled_at = now;
	top->samples++;
	return 1;
}

/* -------------------------------------------------------------- print */

/* Busiest first: by growth, then total, then key. */
static int by_rate(const void *a, const void *b)
{
	const struct series *x = *(const struct series *const *)a, *y = *(const struct series *const *)b;

	if (x->delta != y->delta)
		return x->delta > y->delta ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return by_key(x, y);
}

/* The first `want` of s by rate, in *ranked (at most want entries; the caller's array). */
static uint32_t rank(const struct series *s, uint32_t n, const struct series **ranked, uint32_t want)
{
	const struct series **all;

	if (n == 0)
		return 0;
	all = malloc(n * sizeof(*all));
	if (all == NULL) {
		/* Out of memory: the first ones by key still say something true. */
		n = n < want ? n : want;
		for (uint32_t i = 0; i < n; i++)
			ranked[i] = &s[i];
		return n;
	}
	for (uint32_t i = 0; i < n; i++)
		all[i] = &s[i];
	qsort(all, n, sizeof(*all), by_rate);
	n = n < want ? n : want;
	memcpy(ranked, all, n * sizeof(*ranked));
	free(all);
	return n;
}

/* A name for a terminal: printable ASCII only, so a subject cannot move the cursor or change colours. */
static void print_text_name(FILE *out, const char *s, int width)
{
	int written = 0;

	for (; *s != '\0'; s++, written++)
		fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', out);
	if (written < width)
		fprintf(out, "%*s", width - written, "");
}

static void print_text_rate(FILE *out, const struct ztg_top *top, uint64_t delta)
{
	if (top->interval > 0)
		fprintf(out, "%10.1f", (double)delta / top->interval);
	else
		fprintf(out, "%10s", "-");
}

static void print_json_rate(FILE *out, const struct ztg_top *top, uint64_t delta)
{
	if (top->interval > 0)
		fprintf(out, "%.3f", (double)delta / top->interval);
	else
		fputs("null", out);
}

static void print_text(const struct ztg_top *top, const struct series *const *services, uint32_t nservices,
		       const struct series *const *reasons, uint32_t nreasons, FILE *out)
{
	const struct snapshot *s = &top->current;
	uint64_t total = 0, delta = 0;
	int issuer_width = 6;

	if (top->samples == 0) {
		fprintf(out, "no sample yet: ztgate samples its counters every %.0f s\n", ZTG_TOP_PERIOD);
		return;
	}
	if (top->interval > 0)
		fprintf(out, "requests/s over the last %.2f s; totals since start (sample %" PRIu64 ")\n",
			top->interval, top->samples);
	else
		fprintf(out, "totals since start; rates from the next sample, in %.0f s\n", ZTG_TOP_PERIOD);
	fprintf(out, "\n%10s %14s  VERDICT\n", "REQ/S", "TOTAL");
	for (unsigned int v = 0; v < ZTG_TALLY_VERDICT_COUNT; v++) {
		print_text_rate(out, top, s->verdicts[v].delta);
		fprintf(out, " %14" PRIu64 "  %s\n", s->verdicts[v].total, s->verdicts[v].name);
		total += s->verdicts[v].total;
		delta += s->verdicts[v].delta;
	}
	print_text_rate(out, top, delta);
	fprintf(out, " %14" PRIu64 "  all\n", total);
	if (s->overflow)
		fprintf(out, "%25" PRIu64 "  not labelled (the workers' label tables were full)\n", s->overflow);

	fprintf(out, "\n%10s %14s  SERVICE (%u of %u)\n", "REQ/S", "TOTAL", nservices, s->service_count);
	for (uint32_t i = 0; i < nservices; i++) {
		print_text_rate(out, top, services[i]->delta);
		fprintf(out, " %14" PRIu64 "  ", services[i]->total);
		if (services[i]->name[0] == '\0')
			fputs("(no service)", out);
		else
			print_text_name(out, services[i]->name, 0);
		fputc('\n', out);
	}

	fprintf(out, "\n%10s %14s  %-10s REASON (%u of %u)\n", "REQ/S", "TOTAL", "VERDICT", nreasons, s->reason_count);
	for (uint32_t i = 0; i < nreasons; i++) {
		print_text_rate(out, top, reasons[i]->delta);
		fprintf(out, " %14" PRIu64 "  %-10s ", reasons[i]->total,
			ztg_tally_verdict_name((enum ztg_tally_verdict)reasons[i]->verdict));
		print_text_name(out, reasons[i]->name, 0);
		fputc('\n', out);
	}

	for (uint32_t i = 0; i < top->top_count; i++) {
		int w = (int)strlen(top->top[i].issuer);

		if (w > issuer_width)
			issuer_width = w;
	}
	fprintf(out, "\nIdentities, from logged events only (denies, and allows sampled by --event-sample-allowed):\n"
		"%" PRIu64 " events in the interval, %" PRIu64 " without an identity; identities tracked: %u of %u\n",
		top->last.events, top->last.anonymous, top->tracked, top->capacity);
	fprintf(out, "%10s %10s %14s  %-*s SUBJECT (%u)\n", "EVENTS/S", "DENIED/S", "TOTAL", issuer_width, "ISSUER",
		top->top_count);
	for (uint32_t i = 0; i < top->top_count; i++) {
		const struct identity_row *r = &top->top[i];

		print_text_rate(out, top, r->count);
		fputc(' ', out);
		print_text_rate(out, top, r->denied);
		fprintf(out, " %14" PRIu64 "  ", r->total);
		print_text_name(out, r->issuer, issuer_width);
		fputc(' ', out);
		print_text_name(out, r->subject, 0);
		if (r->error)
			fprintf(out, "  (may include %" PRIu64 " of identities it replaced)", r->error);
		fputc('\n', out);
	}
}

static void print_json_series(FILE *out, const struct ztg_top *top, const struct series *s)
{
	fputs("{\"rate\":", out);
	print_json_rate(out, top, s->delta);
	fprintf(out, ",\"total\":%" PRIu64 "}", s->total);
}

static void print_json(const struct ztg_top *top, const struct series *const *services, uint32_t nservices,
		       const struct series *const *reasons, uint32_t nreasons, FILE *out)
{
	const struct snapshot *s = &top->current;
	struct series all = {.total = 0};

	for (unsigned int v = 0; v < ZTG_TALLY_VERDICT_COUNT; v++) {
		all.total += s->verdicts[v].total;
		all.delta += s->verdicts[v].delta;
	}
	fprintf(out, "{\"samples\":%" PRIu64 ",\"period_seconds\":%.1f,\"interval_seconds\":", top->samples,
		ZTG_TOP_PERIOD);
	if (top->interval > 0)
		fprintf(out, "%.3f", top->interval);
	else
		fputs("null", out);
	fputs(",\"requests\":", out);
	print_json_series(out, top, &all);
	fputs(",\"verdicts\":{", out);
	for (unsigned int v = 0; v < ZTG_TALLY_VERDICT_COUNT; v++) {
		fprintf(out, "%s\"%s\":", v ? "," : "", s->verdicts[v].name);
		print_json_series(out, top, &s->verdicts[v]);
	}
	fprintf(out, "},\"unlabelled_total\":%" PRIu64 ",\"services\":{\"count\":%u,\"top\":[", s->overflow,
		s->service_count);
	for (uint32_t i = 0; i < nservices; i++) {
		fprintf(out, "%s{\"service\":", i ? "," : "");
		ztg_events_write_string_or_null(out, services[i]->name);
		fputs(",\"rate\":", out);
		print_json_rate(out, top, services[i]->delta);
		fprintf(out, ",\"total\":%" PRIu64 "}", services[i]->total);
	}
	fprintf(out, "]},\"reasons\":{\"count\":%u,\"top\":[", s->reason_count);
	for (uint32_t i = 0; i < nreasons; i++) {
		fprintf(out, "%s{\"reason\":", i ? "," : "");
		ztg_events_write_string(out, reasons[i]->name);
		fprintf(out, ",\"verdict\":\"%s\",\"rate\":",
			ztg_tally_verdict_name((enum ztg_tally_verdict)reasons[i]->verdict));
		print_json_rate(out, top, reasons[i]->delta);
		fprintf(out, ",\"total\":%" PRIu64 "}", reasons[i]->total);
	}
	fprintf(out, "]},\"identities\":{\"source\":\"logged events: denies, and allows when --event-sample-allowed "
		"logs them\",\"capacity\":%u,\"tracked\":%u,\"events\":", top->capacity, top->tracked);
	print_json_series(out, top, &(struct series){.delta = top->last.events, .total = top->totals.events});
	fputs(",\"anonymous\":", out);
	print_json_series(out, top, &(struct series){.delta = top->last.anonymous, .total = top->totals.anonymous});
	fputs(",\"top\":[", out);
	for (uint32_t i = 0; i < top->top_count; i++) {
		const struct identity_row *r = &top->top[i];

		fprintf(out, "%s{\"issuer\":", i ? "," : "");
		ztg_events_write_string(out, r->issuer);
		fputs(",\"subject\":", out);
		ztg_events_write_string(out, r->subject);
		fputs(",\"rate\":", out);
		print_json_rate(out, top, r->count);
		fputs(",\"denied_rate\":", out);
		print_json_rate(out, top, r->denied);
		fprintf(out, ",\"events\":%" PRIu64 ",\"error\":%" PRIu64 ",\"denied\":%" PRIu64 ",\"total\":%" PRIu64 "}",
			r->count, r->error, r->denied, r->total);
	}
	fputs("]}}\n", out);
}

void ztg_top_print(const struct ztg_top *top, bool json, FILE *out)
{
	const struct series *services[ZTG_TOP_ROWS], *reasons[ZTG_TOP_ROWS];
	uint32_t nservices = rank(top->current.services, top->current.service_count, services, ZTG_TOP_ROWS);
	uint32_t nreasons = rank(top->current.reasons, top->current.reason_count, reasons, ZTG_TOP_ROWS);

	if (json)
		print_json(top, services, nservices, reasons, nreasons, out);
	else
		print_text(top, services, nservices, reasons, nreasons, out);
}
