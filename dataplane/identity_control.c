#include "identity_control.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../control/atomic_file.h"
#include "../control/bundle.h"
#include "../control/jwks_fetch.h"
#include "../control/jwks_refresh.h"
#include "auth/jwk.h"
#include "events.h"

/* How often the fetch thread looks at its schedules and the workers' unknown-kid flags. */
#define FETCH_TICK_MS 250

/*
 * What is known about one JWKS URL fetched under one set of rules (the CA
 * trusted, the ranges blocked), whichever policy names it: keys fetched
 * under other rules never stand in for a policy's own.
 */
struct url_state {
	char *url;
	char key[ZTG_BUNDLE_HASH_HEX_LEN + 1];   /* SHA-256 of the URL and those rules */
	struct ztg_jwks_refresh schedule;
	char *last_good;               /* the JWKS document of the keys in use; NULL before the first success */
	size_t last_good_len;
};

struct ztg_identity_control {
	pthread_mutex_t lock;          /* authz, generation, urls */
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	struct ztg_authz *authz;       /* followed: the policy in force */
	struct url_state *urls;
	uint32_t url_count;
	struct rte_rcu_qsbr *rcu;
	char revocations_path[PATH_MAX];
	char jwks_dir[PATH_MAX];       /* last good key sets per URL, so a restart does not need the IdP; "" none */
	struct ztg_revocation_list *revocations;
	struct ztg_revocation_set *_Atomic published;
};

static int64_t monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static void publish_revocations(struct ztg_identity_control *ic)
{
	struct ztg_revocation_set *next = ztg_revocation_set_build(ic->revocations), *old;

	old = atomic_exchange_explicit(&ic->published, next, memory_order_acq_rel);
	if (old != NULL) {
		if (ic->rcu != NULL)
			rte_rcu_qsbr_synchronize(ic->rcu, RTE_QSBR_THRID_INVALID);
		ztg_revocation_set_free(old);
	}
}

void ztg_identity_control_attach(struct ztg_identity_control *ic, struct rte_rcu_qsbr *rcu)
{
	ic->rcu = rcu;
}

struct ztg_identity_control *ztg_identity_control_create(const char *state_dir, char *err, size_t err_len)
{
	struct ztg_identity_control *ic = calloc(1, sizeof(*ic));

	if (ic == NULL || (ic->revocations = ztg_revocation_list_create()) == NULL) {
		snprintf(err, err_len, "out of memory for the identity control");
		free(ic);
		return NULL;
	}
	pthread_mutex_init(&ic->lock, NULL);
	atomic_init(&ic->published, NULL);
	if (state_dir != NULL && state_dir[0] != '\0') {
		snprintf(ic->revocations_path, sizeof(ic->revocations_path), "%s/revocations", state_dir);
		snprintf(ic->jwks_dir, sizeof(ic->jwks_dir), "%s/jwks", state_dir);
		if (ztg_revocation_list_load(ic->revocations, ic->revocations_path, err, err_len) != 0) {
			ztg_identity_control_free(ic);
			return NULL;
		}
	}
	if (ztg_revocation_list_count(ic->revocations) > 0)
		publish_revocations(ic);
	if (ztg_jwks_fetch_global_init() != 0) {
		snprintf(err, err_len, "cannot initialise libcurl for JWKS fetches");
		ztg_identity_control_free(ic);
		return NULL;
	}
	return ic;
}

void ztg_identity_control_free(struct ztg_identity_control *ic)
{
	if (ic == NULL)
		return;
	if (ic->thread_started) {
		atomic_store(&ic->stop, true);
		pthread_join(ic->thread, NULL);
	}
	for (uint32_t i = 0; i < ic->url_count; i++) {
		free(ic->urls[i].url);
		free(ic->urls[i].last_good);
	}
	free(ic->urls);
	/* The workers are stopped by now: nothing reads the set any more. */
	ztg_revocation_set_free(atomic_load(&ic->published));
	ztg_revocation_list_free(ic->revocations);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}

struct ztg_revocation_set *_Atomic const *ztg_identity_control_revocations(struct ztg_identity_control *ic)
{
	return &ic->published;
}

/* The identity of a fetch: URL, CA bytes and blocked ranges, hashed. 0, or -1 when out of memory. */
static int fetch_identity(const struct ztg_policy *p, const struct ztg_policy_issuer *is,
			  char key[ZTG_BUNDLE_HASH_HEX_LEN + 1])
{
	size_t url_len = strlen(is->jwks_url) + 1, ca_len = is->has_jwks_ca ? is->jwks_ca.len : 0;
	size_t blocked_len = p->key_fetch.blocked_count * sizeof(struct ztg_cidr);
	uint8_t *buf = malloc(url_len + ca_len + blocked_len + 1);
	size_t o = 0;
	int rc;

	if (buf == NULL)
		return -1;
	memcpy(buf, is->jwks_url, url_len);
	o += url_len;
	if (ca_len > 0)
		memcpy(buf + o, is->jwks_ca.data, ca_len);
	o += ca_len;
	for (uint32_t b = 0; b < p->key_fetch.blocked_count; b++, o += sizeof(struct ztg_cidr))
		memcpy(buf + o, &p->key_fetch.blocked[b].cidr, sizeof(struct ztg_cidr));
	rc = ztg_bundle_sha256_hex(buf, o, key);
	free(buf);
	return rc == 0 ? 0 : -1;
}

/* Where the last good key set of a fetch is kept: named by its identity. false when nowhere. */
static bool jwks_path(const struct ztg_identity_control *ic, const struct url_state *u, char *path, size_t len)
{
	if (ic->jwks_dir[0] == '\0')
		return false;
	return (size_t)snprintf(path, len, "%s/%s.json", ic->jwks_dir, u->key) < len;
}

/* A key set kept by an earlier run, if any and still readable. */
static void url_restore(const struct ztg_identity_control *ic, struct url_state *u)
{
	char path[PATH_MAX + 96];
	struct stat st;
	char *body;
	FILE *f;

	if (!jwks_path(ic, u, path, sizeof(path)) || stat(path, &st) != 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > ZTG_JWKS_MAX_BYTES || (f = fopen(path, "rb")) == NULL)
		return;
	body = malloc((size_t)st.st_size + 1);
	if (body != NULL && fread(body, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
		body[st.st_size] = '\0';
		u->last_good = body;
		u->last_good_len = (size_t)st.st_size;
	} else {
		free(body);
	}
	fclose(f);
}

/* Keep a good key set for the next run; a failure only costs that. */
static void url_persist(const struct ztg_identity_control *ic, const struct url_state *u)
{
	char path[PATH_MAX + 96], err[512];

	if (!jwks_path(ic, u, path, sizeof(path)))
		return;
	if ((mkdir(ic->jwks_dir, 0700) != 0 && errno != EEXIST) ||
	    ztg_atomic_file_write(path, u->last_good, u->last_good_len, err, sizeof(err)) != 0)
		fprintf(stderr, "ztgate: warning: cannot keep the key set of %s in %s\n", u->url, ic->jwks_dir);
}

/* The state of an issuer's fetch under p's rules, created when new. Called with the lock held. */
static struct url_state *url_state_of(struct ztg_identity_control *ic, const struct ztg_policy *p,
				      const struct ztg_policy_issuer *is)
{
	char key[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	struct url_state *grown;

	if (fetch_identity(p, is, key) != 0)
		return NULL;
	for (uint32_t i = 0; i < ic->url_count; i++) {
		if (strcmp(ic->urls[i].key, key) == 0)
			return &ic->urls[i];
	}
	grown = realloc(ic->urls, (ic->url_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	ic->urls = grown;
	memset(&grown[ic->url_count], 0, sizeof(grown[0]));
	grown[ic->url_count].url = strdup(is->jwks_url);
	if (grown[ic->url_count].url == NULL)
		return NULL;
	memcpy(grown[ic->url_count].key, key, sizeof(key));
	ztg_jwks_refresh_init(&grown[ic->url_count].schedule, is->jwks_refresh, is->jwks_refetch_min,
			      monotonic_seconds());
	url_restore(ic, &grown[ic->url_count]);
	return &grown[ic->url_count++];
}

/* One fetch, prepared under the lock and run without it: everything it needs is copied. */
struct fetch_job {
	struct ztg_authz *authz;
	uint32_t generation;
	uint32_t issuer;
	char *url;
	char *ca;
	size_t ca_len;
	struct ztg_cidr *blocked;
	uint32_t blocked_count;
	uint32_t timeout_ms;
	bool early;
};

static void job_release(struct fetch_job *job)
{
	free(job->url);
	free(job->ca);
	free(job->blocked);
	memset(job, 0, sizeof(*job));
}

static int job_prepare(struct fetch_job *job, struct ztg_authz *authz, uint32_t issuer)
{
	const struct ztg_policy *p = ztg_authz_policy(authz);
	const struct ztg_policy_issuer *is = &p->issuers[issuer];

	memset(job, 0, sizeof(*job));
	job->authz = authz;
	job->generation = ztg_authz_generation(authz);
	job->issuer = issuer;
	job->timeout_ms = p->key_fetch.timeout_ms;
	job->url = strdup(is->jwks_url);
	if (is->has_jwks_ca) {
		job->ca = malloc(is->jwks_ca.len + 1);
		if (job->ca != NULL)
			memcpy(job->ca, is->jwks_ca.data, is->jwks_ca.len + 1);
		job->ca_len = is->jwks_ca.len;
	}
	job->blocked = calloc(p->key_fetch.blocked_count + 1, sizeof(*job->blocked));
	for (uint32_t b = 0; job->blocked != NULL && b < p->key_fetch.blocked_count; b++)
		job->blocked[b] = p->key_fetch.blocked[b].cidr;
	job->blocked_count = p->key_fetch.blocked_count;
	if (job->url == NULL || job->blocked == NULL || (is->has_jwks_ca && job->ca == NULL)) {
		job_release(job);
		return -1;
	}
	return 0;
}

/* Fetch and parse: a key set, or NULL with err. body receives the document on success. */
static struct ztg_keyset *job_run(const struct fetch_job *job, char **body, size_t *len, char *err, size_t err_len)
{
	struct ztg_jwks_fetch_options o = {
		.url = job->url,
		.ca_pem = job->ca,
		.ca_pem_len = job->ca_len,
		.blocked = job->blocked,
		.blocked_count = job->blocked_count,
		.timeout_ms = job->timeout_ms,
		.max_bytes = ZTG_JWKS_MAX_BYTES,
	};
	struct ztg_keyset *set = NULL;
	char why[256];

	*body = NULL;
	if (ztg_jwks_fetch(&o, body, len, err, err_len) != 0)
		return NULL;
	if (ztg_keyset_from_jwks(*body, *len, &set, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "%s: the key set is not usable: %s", job->url, why);
		free(*body);
		*body = NULL;
		return NULL;
	}
	return set;
}

/* Remember a good document for its URL. Called with the lock held; takes body. */
static void url_took(const struct ztg_identity_control *ic, struct url_state *u, char *body, size_t len)
{
	bool changed = u->last_good == NULL || u->last_good_len != len || memcmp(u->last_good, body, len) != 0;

	free(u->last_good);
	u->last_good = body;
	u->last_good_len = len;
	ztg_jwks_refresh_succeeded(&u->schedule, monotonic_seconds());
	if (changed)
		url_persist(ic, u);
}

int ztg_identity_control_prepare(struct ztg_identity_control *ic, struct ztg_authz *authz, char *err,
				 size_t err_len)
{
	const struct ztg_policy *p = ztg_authz_policy(authz);
	struct ztg_authn *authn = ztg_authz_authn(authz);

	for (uint32_t i = 0; i < p->issuer_count; i++) {
		const struct ztg_policy_issuer *is = &p->issuers[i];
		struct ztg_keyset *set = NULL;
		struct fetch_job job;
		struct url_state *u;
		char why[512];
		char *body;
		size_t len;

		if (is->jwks_url == NULL)
			continue;
		pthread_mutex_lock(&ic->lock);
		u = url_state_of(ic, p, is);
		if (u != NULL && u->last_good != NULL &&
		    ztg_keyset_from_jwks(u->last_good, u->last_good_len, &set, why, sizeof(why)) != 0)
			set = NULL;
		pthread_mutex_unlock(&ic->lock);
		if (u == NULL) {
			snprintf(err, err_len, "out of memory for the JWKS state of issuer %s", is->name);
			return -1;
		}
		if (set == NULL) {
			if (job_prepare(&job, authz, i) != 0) {
				snprintf(err, err_len, "out of memory for the JWKS fetch of issuer %s", is->name);
				return -1;
			}
			set = job_run(&job, &body, &len, why, sizeof(why));
			job_release(&job);
			pthread_mutex_lock(&ic->lock);
			u = url_state_of(ic, p, is);
			if (set != NULL && u != NULL) {
				url_took(ic, u, body, len);
			} else if (u != NULL) {
				ztg_jwks_refresh_failed(&u->schedule, monotonic_seconds());
				ztg_jwks_refresh_set_error(&u->schedule, why);
			}
			pthread_mutex_unlock(&ic->lock);
			if (set == NULL) {
				snprintf(err, err_len, "%s:%u: issuer %s has no keys: %s", is->loc.file, is->loc.line,
					 is->name, why);
				return -1;
			}
		}
		/* Not published yet: no worker can hold the set this replaces (there is none). */
		ztg_keyset_free(ztg_authn_replace_keys(authn, i, set));
	}
	return 0;
}

void ztg_identity_control_follow(struct ztg_identity_control *ic, struct ztg_authz *authz)
{
	pthread_mutex_lock(&ic->lock);
	ic->authz = authz;
	pthread_mutex_unlock(&ic->lock);
}

/* Under the lock: the next due fetch of the followed policy, or false. */
static bool next_job(struct ztg_identity_control *ic, uint32_t *cursor, struct fetch_job *job)
{
	struct ztg_authz *authz = ic->authz;
	const struct ztg_policy *p;
	struct ztg_jwt_table *table;
	int64_t now = monotonic_seconds();

	if (authz == NULL)
		return false;
	p = ztg_authz_policy(authz);
	table = ztg_authn_issuers(ztg_authz_authn(authz));
	for (; *cursor < p->issuer_count; (*cursor)++) {
		const struct ztg_policy_issuer *is = &p->issuers[*cursor];
		struct ztg_jwt_issuer *ji = ztg_jwt_table_issuer(table, *cursor);
		bool unknown;
		struct url_state *u;

		if (is->jwks_url == NULL || (u = url_state_of(ic, p, is)) == NULL)
			continue;
		unknown = atomic_load_explicit(&ji->unknown_kid, memory_order_relaxed);
		if (!ztg_jwks_refresh_due(&u->schedule, now, unknown))
			continue;
		if (job_prepare(job, authz, *cursor) != 0)
			continue;
		job->early = unknown;
		/* Cleared before the fetch: a kid seen during it asks again, within the rate limit. */
		atomic_store_explicit(&ji->unknown_kid, false, memory_order_relaxed);
		(*cursor)++;
		return true;
	}
	return false;
}

static void finish_job(struct ztg_identity_control *ic, struct fetch_job *job, struct ztg_keyset *set, char *body,
		       size_t len, const char *why)
{
	const struct ztg_policy_issuer *is;
	struct ztg_keyset *old = NULL;
	struct url_state *u;

	pthread_mutex_lock(&ic->lock);
	/* The policy may have changed during the fetch: keys go only where they were fetched for. */
	if (ic->authz != job->authz || ztg_authz_generation(ic->authz) != job->generation) {
		pthread_mutex_unlock(&ic->lock);
		ztg_keyset_free(set);
		free(body);
		return;
	}
	is = &ztg_authz_policy(ic->authz)->issuers[job->issuer];
	u = url_state_of(ic, ztg_authz_policy(ic->authz), is);
	if (set != NULL) {
		old = ztg_authn_replace_keys(ztg_authz_authn(ic->authz), job->issuer, set);
		if (u != NULL)
			url_took(ic, u, body, len);
		else
			free(body);
		fprintf(stdout, "ztgate: issuer %s: %u key(s) from %s%s\n", is->name, set->count, job->url,
			job->early ? " (early: a token named an unknown kid)" : "");
	} else if (u != NULL) {
		ztg_jwks_refresh_failed(&u->schedule, monotonic_seconds());
		ztg_jwks_refresh_set_error(&u->schedule, why);
		fprintf(stdout, "ztgate: issuer %s: keeping its last good keys: %s\n", is->name, why);
	}
	if (job->early && u != NULL)
		u->schedule.early_refetches++;
	if (old != NULL) {
		/* Workers may still verify with the old keys until their next quiescent state. */
		if (ic->rcu != NULL)
			rte_rcu_qsbr_synchronize(ic->rcu, RTE_QSBR_THRID_INVALID);
		ztg_keyset_free(old);
	}
	pthread_mutex_unlock(&ic->lock);
}

static void *fetch_thread(void *arg)
{
	struct ztg_identity_control *ic = arg;

	while (!atomic_load(&ic->stop)) {
		uint32_t cursor = 0;
		struct fetch_job job;

		for (;;) {
			struct ztg_keyset *set;
			char why[512] = "", *body = NULL;
			size_t len = 0;
			bool have;

			pthread_mutex_lock(&ic->lock);
			have = next_job(ic, &cursor, &job);
			pthread_mutex_unlock(&ic->lock);
			if (!have || atomic_load(&ic->stop))
				break;
			set = job_run(&job, &body, &len, why, sizeof(why));
			finish_job(ic, &job, set, body, len, why);
			job_release(&job);
		}
		usleep(FETCH_TICK_MS * 1000);
	}
	return NULL;
}

int ztg_identity_control_start(struct ztg_identity_control *ic, char *err, size_t err_len)
{
	int rc = pthread_create(&ic->thread, NULL, fetch_thread, ic);

	if (rc != 0) {
		snprintf(err, err_len, "cannot start the JWKS fetch thread: %s", strerror(rc));
		return -1;
	}
	ic->thread_started = true;
	return 0;
}

/* ------------------------------------------------------------- commands */

static enum ztg_control_status edit_revocation(struct ztg_identity_control *ic, bool add, int argc, char **argv, FILE *out)
{
	enum ztg_revocation_kind kind;
	const char *issuer = NULL, *value;
	char err[512];
	int rc, want;

	if (argc < 3 || ztg_revocation_kind_from_name(argv[1], &kind) != 0) {
		fprintf(out, "usage: %s jti ID | sub ISSUER SUBJECT | key API_KEY_ID\n", argv[0]);
		return ZTG_CONTROL_USAGE;
	}
	want = kind == ZTG_REVOKE_SUBJECT ? 4 : 3;
	if (argc != want) {
		fprintf(out, "usage: %s jti ID | sub ISSUER SUBJECT | key API_KEY_ID\n", argv[0]);
		return ZTG_CONTROL_USAGE;
	}
	if (kind == ZTG_REVOKE_SUBJECT)
		issuer = argv[2];
	value = argv[want - 1];
	if (add) {
		rc = ztg_revocation_list_add(ic->revocations, kind, issuer, value, err, sizeof(err));
		if (rc < 0) {
			fprintf(out, "%s\n", err);
			return ZTG_CONTROL_USAGE;
		}
	} else {
		rc = ztg_revocation_list_remove(ic->revocations, kind, issuer, value);
	}
	if (rc == 0) {
		fprintf(out, "%s %s%s%s: %s\n", argv[1], issuer ? issuer : "", issuer ? " " : "", value,
			add ? "already revoked" : "was not revoked");
		return add ? ZTG_CONTROL_OK : ZTG_CONTROL_NEGATIVE;
	}
	publish_revocations(ic);
	if (ic->revocations_path[0] != '\0' &&
	    ztg_revocation_list_save(ic->revocations, ic->revocations_path, err, sizeof(err)) != 0)
		fprintf(out, "warning: %s; the change is in force but not persisted\n", err);
	fprintf(out, "%s %s%s%s: %s, in force from the next request (%u revocation(s))\n", argv[1],
		issuer ? issuer : "", issuer ? " " : "", value, add ? "revoked" : "no longer revoked",
		ztg_revocation_list_count(ic->revocations));
	return ZTG_CONTROL_OK;
}

static const char *source_of(const struct ztg_policy_issuer *is)
{
	if (is->jwks_url != NULL)
		return "jwks_url";
	return is->has_jwks_file ? "jwks_file" : "pem_keys";
}

static void print_keys(struct ztg_identity_control *ic, bool json, FILE *out)
{
	const struct ztg_policy *p;
	struct ztg_jwt_table *table;

	pthread_mutex_lock(&ic->lock);
	if (ic->authz == NULL) {
		fprintf(out, json ? "{\"issuers\":[]}\n" : "no policy in force\n");
		pthread_mutex_unlock(&ic->lock);
		return;
	}
	p = ztg_authz_policy(ic->authz);
	table = ztg_authn_issuers(ztg_authz_authn(ic->authz));
	if (json)
		fprintf(out, "{\"issuers\":[");
	else
		fprintf(out, "%-20s %-10s %5s  %s\n", "ISSUER", "SOURCE", "KEYS", "KIDS / FETCHES");
	for (uint32_t i = 0; i < p->issuer_count; i++) {
		const struct ztg_policy_issuer *is = &p->issuers[i];
		const struct ztg_keyset *set = atomic_load(&ztg_jwt_table_issuer(table, i)->keys);
		struct url_state *u = is->jwks_url != NULL ? url_state_of(ic, p, is) : NULL;

		if (json) {
			fprintf(out, "%s{\"name\":", i ? "," : "");
			ztg_events_write_string(out, is->name);
			fprintf(out, ",\"iss\":");
			ztg_events_write_string(out, is->iss);
			fprintf(out, ",\"source\":\"%s\",\"kids\":[", source_of(is));
			for (uint32_t k = 0; set != NULL && k < set->count; k++) {
				fprintf(out, "%s", k ? "," : "");
				ztg_events_write_string(out, set->keys[k].kid);
			}
			fprintf(out, "]");
			if (u != NULL) {
				fprintf(out, ",\"url\":");
				ztg_events_write_string(out, is->jwks_url);
				fprintf(out, ",\"fetches\":%llu,\"failures\":%llu,\"early_refetches\":%llu,\"last_error\":",
					(unsigned long long)u->schedule.fetches, (unsigned long long)u->schedule.failures,
					(unsigned long long)u->schedule.early_refetches);
				ztg_events_write_string_or_null(out, u->schedule.last_error);
			}
			fprintf(out, "}");
			continue;
		}
		fprintf(out, "%-20s %-10s %5u ", is->name, source_of(is), set != NULL ? set->count : 0);
		for (uint32_t k = 0; set != NULL && k < set->count; k++)
			fprintf(out, " %s", set->keys[k].kid[0] ? set->keys[k].kid : "(no kid)");
		if (u != NULL)
			fprintf(out, "\n%-20s %s: %llu fetches, %llu failed, %llu early%s%s", "", is->jwks_url,
				(unsigned long long)u->schedule.fetches, (unsigned long long)u->schedule.failures,
				(unsigned long long)u->schedule.early_refetches,
				u->schedule.last_error[0] ? "; last error: " : "", u->schedule.last_error);
		fprintf(out, "\n");
	}
	if (json)
		fprintf(out, "]}\n");
	pthread_mutex_unlock(&ic->lock);
}

enum ztg_control_status ztg_identity_control_command(struct ztg_identity_control *ic, int argc, char **argv,
						     bool json, FILE *out)
{
	if (strcmp(argv[0], "revoke") == 0 || strcmp(argv[0], "unrevoke") == 0) {
		char *args[8];
		int n = 0;

		/* --json only shapes listings; the operands are what is left. */
		for (int i = 0; i < argc && n < (int)(sizeof(args) / sizeof(args[0])); i++) {
			if (strcmp(argv[i], "--json") != 0)
				args[n++] = argv[i];
		}
		return edit_revocation(ic, argv[0][0] == 'r', n, args, out);
	}
	if (strcmp(argv[0], "revocations") == 0) {
		ztg_revocation_list_print(ic->revocations, json, out);
		return ZTG_CONTROL_OK;
	}
	if (strcmp(argv[0], "keys") == 0) {
		print_keys(ic, json, out);
		return ZTG_CONTROL_OK;
	}
	fprintf(out, "unknown identity command '%s'\n", argv[0]);
	return ZTG_CONTROL_USAGE;
}
