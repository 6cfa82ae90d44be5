#include "flow_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_ring_core.h>

#define ZTG_FLOW_TABLE_MIN_CAPACITY 8u          /* rte_hash refuses fewer than one bucket */
#define ZTG_FLOW_TABLE_MAX_CAPACITY (1u << 26)

/*
 * rte_hash names its extendable-bucket ring "HT_EXT_<name>" and the ring's
 * memzone adds "RG_": longer names are refused deep inside rte_hash_create
 * (or, worse, truncated into a clash), so the limit is checked up front.
 */
#define ZTG_FLOW_TABLE_NAME_MAX \
	(RTE_MEMZONE_NAMESIZE - 1 - (sizeof(RTE_RING_MZ_PREFIX) - 1) - (sizeof("HT_EXT_") - 1))

#define LIVE_WORD_BITS 64u

struct ztg_flow_table {
	struct rte_hash *hash;
	struct ztg_flow *flows;        /* capacity entries, indexed by rte_hash key position */
	/*
	 * One bit per position, set while the slot holds a flow. Kept apart from
	 * struct ztg_flow so that a caller resetting its flow (on REOPEN, say)
	 * cannot make the table lose track of the slot.
	 */
	uint64_t *live;
	uint32_t capacity;
	uint32_t count;
	uint32_t cursor;               /* next position for the incremental sweep */
	/*
	 * After a full sweep freed nothing, the earliest time one could: until
	 * then a full table refuses new flows at once instead of re-scanning
	 * every slot per packet, which a SYN flood would otherwise turn into a
	 * denial of service.
	 */
	uint64_t full_until_tsc;
	uint64_t tcp_timeout_tsc[ZTG_TCP_STATE_COUNT];
	uint64_t udp_timeout_tsc;
	uint64_t other_timeout_tsc;
	uint64_t min_timeout_tsc;
	void (*on_release)(struct ztg_flow *flow, void *arg);
	void *release_arg;
	uint64_t created;
	uint64_t expired;
	uint64_t removed;
	uint64_t full;
} __rte_cache_aligned;

void ztg_flow_timeouts_default(struct ztg_flow_timeouts *timeouts)
{
	*timeouts = (struct ztg_flow_timeouts){
		.tcp_embryonic = 30,
		.tcp_established = 600,
		.tcp_closing = 120,
		.tcp_closed = 10,
		.udp = 60,
		.other = 30,
	};
}

/* rte_hash's signature for hash_func; the table and any dispatcher must agree on one hash. */
static uint32_t flow_key_hash_func(const void *key, uint32_t key_len, uint32_t init_val)
{
	return ztg_flow_key_hash(key, init_val);
}

static inline int slot_live(const struct ztg_flow_table *table, uint32_t pos)
{
	return (table->live[pos / LIVE_WORD_BITS] >> (pos % LIVE_WORD_BITS)) & 1;
}

static inline void slot_set_live(struct ztg_flow_table *table, uint32_t pos)
{
	table->live[pos / LIVE_WORD_BITS] |= UINT64_C(1) << (pos % LIVE_WORD_BITS);
}

static inline void slot_clear_live(struct ztg_flow_table *table, uint32_t pos)
{
	table->live[pos / LIVE_WORD_BITS] &= ~(UINT64_C(1) << (pos % LIVE_WORD_BITS));
}

uint64_t ztg_flow_timeout_tsc(const struct ztg_flow_table *table, const struct ztg_flow *flow)
{
	switch (flow->key.l4_proto) {
	case 6:
		/* An unknown state byte gets the shortest TCP timeout rather than an index fault. */
		if (unlikely(flow->tcp.state >= ZTG_TCP_STATE_COUNT))
			return table->tcp_timeout_tsc[ZTG_TCP_STATE_CLOSED];
		return table->tcp_timeout_tsc[flow->tcp.state];
	case 17:
		return table->udp_timeout_tsc;
	default:
		return table->other_timeout_tsc;
	}
}

/* The TSC at and before which the flow is still alive. */
static inline uint64_t flow_deadline(const struct ztg_flow_table *table, const struct ztg_flow *flow)
{
	return flow->last_seen_tsc + ztg_flow_timeout_tsc(table, flow);
}

static inline int flow_idle(const struct ztg_flow_table *table, const struct ztg_flow *flow,
			    uint64_t now_tsc)
{
	/* Written as a difference so a now_tsc behind last_seen (never expected) keeps the flow. */
	return now_tsc > flow->last_seen_tsc &&
	       now_tsc - flow->last_seen_tsc > ztg_flow_timeout_tsc(table, flow);
}

static void slot_delete(struct ztg_flow_table *table, uint32_t pos)
{
	/*
	 * Delete by the hash's own copy of the key: flow->key is writable by
	 * the caller, and one stray write there must not leave a key in the
	 * hash pointing at a slot that is reused. Copied out first because
	 * the deletion recycles the stored key.
	 */
	struct ztg_flow_key key;
	void *stored;
	int32_t ret;

	if (likely(rte_hash_get_key_with_position(table->hash, (int32_t)pos, &stored) == 0))
		memcpy(&key, stored, sizeof(key));
	else
		key = table->flows[pos].key;
	if (table->on_release != NULL)
		table->on_release(&table->flows[pos], table->release_arg);
	ret = rte_hash_del_key(table->hash, &key);
	RTE_ASSERT(ret == (int32_t)pos);
	RTE_SET_USED(ret);
	slot_clear_live(table, pos);
	table->count--;
}

/*
 * Examine `budget` slots from the cursor, expiring idle flows. When
 * min_deadline is not NULL it receives the earliest deadline among the
 * flows that stayed (UINT64_MAX when none did).
 */
static uint32_t sweep(struct ztg_flow_table *table, uint64_t now_tsc, uint32_t budget,
		      uint64_t *min_deadline)
{
	uint32_t pos = table->cursor;
	uint32_t expired = 0;
	uint64_t earliest = UINT64_MAX;

	if (budget > table->capacity)
		budget = table->capacity;

	/* Whole words of the live bitmap at a time, so empty stretches cost little. */
	while (budget > 0) {
		uint32_t bit = pos % LIVE_WORD_BITS;
		uint32_t span = RTE_MIN(budget, table->capacity - pos);
		uint64_t mask;
		uint64_t bits;

		span = RTE_MIN(span, LIVE_WORD_BITS - bit);
		mask = span == LIVE_WORD_BITS ? UINT64_MAX : (UINT64_C(1) << span) - 1;
		bits = (table->live[pos / LIVE_WORD_BITS] >> bit) & mask;

		while (bits != 0) {
			uint32_t p = pos + (uint32_t)__builtin_ctzll(bits);
			const struct ztg_flow *flow = &table->flows[p];

			bits &= bits - 1;
			if (flow_idle(table, flow, now_tsc)) {
				slot_delete(table, p);
				expired++;
			} else if (min_deadline != NULL) {
				earliest = RTE_MIN(earliest, flow_deadline(table, flow));
			}
		}
		pos += span;
		budget -= span;
		if (pos == table->capacity)
			pos = 0;
	}

	table->cursor = pos;
	table->expired += expired;
	if (min_deadline != NULL)
		*min_deadline = earliest;
	return expired;
}

uint32_t ztg_flow_table_expire(struct ztg_flow_table *table, uint64_t now_tsc, uint32_t max_entries)
{
	return sweep(table, now_tsc, max_entries, NULL);
}

/*
 * Called with the table full: sweep everything once, unless a previous sweep
 * proved nothing can have expired yet. Returns non-zero when room was made.
 */
static int make_room(struct ztg_flow_table *table, uint64_t now_tsc)
{
	uint64_t earliest;

	if (now_tsc <= table->full_until_tsc)
		return 0;
	if (sweep(table, now_tsc, table->capacity, &earliest) > 0)
		return 1;
	/*
	 * A flow seen after this sweep can at the soonest expire one minimum
	 * timeout from now (its state changes come with packets, which move
	 * last_seen), and the ones that stayed at their recorded deadlines.
	 */
	table->full_until_tsc = RTE_MIN(earliest, now_tsc + table->min_timeout_tsc);
	return 0;
}

enum ztg_drop_reason ztg_flow_table_add(struct ztg_flow_table *table, const struct ztg_flow_key *key,
					uint64_t now_tsc, struct ztg_flow **flow)
{
	int32_t pos;
	struct ztg_flow *f;

	*flow = NULL;
	/* A key already present needs no room: check before paying for a sweep. */
	if (unlikely(table->count >= table->capacity) && rte_hash_lookup(table->hash, key) < 0 &&
	    !make_room(table, now_tsc)) {
		table->full++;
		return ZTG_DROP_FLOW_TABLE_FULL;
	}

	pos = rte_hash_add_key(table->hash, key);
	if (unlikely(pos < 0)) {
		/* The extendable buckets make this unreachable below capacity; stay safe if not. */
		if (make_room(table, now_tsc))
			pos = rte_hash_add_key(table->hash, key);
		if (pos < 0) {
			table->full++;
			return ZTG_DROP_FLOW_TABLE_FULL;
		}
	}
	if (unlikely((uint32_t)pos >= table->capacity)) {
		/* rte_hash positions are < entries without the multi-writer cache; never index past it. */
		rte_hash_del_key(table->hash, key);
		table->full++;
		return ZTG_DROP_FLOW_TABLE_FULL;
	}

	f = &table->flows[pos];
	if (unlikely(slot_live(table, (uint32_t)pos))) {
		/*
		 * Already present: typically two packets of one new flow missed in
		 * the same burst. Handing back the live flow keeps the first
		 * packet's state; an idle one is replaced as if it had expired.
		 */
		if (!flow_idle(table, f, now_tsc)) {
			*flow = f;
			return ZTG_DROP_NONE;
		}
		if (table->on_release != NULL)
			table->on_release(f, table->release_arg);
		table->expired++;
	} else {
		slot_set_live(table, (uint32_t)pos);
		table->count++;
	}
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->created_tsc = now_tsc;
	f->last_seen_tsc = now_tsc;
	table->created++;
	*flow = f;
	return ZTG_DROP_NONE;
}

void ztg_flow_table_lookup_bulk(struct ztg_flow_table *table, const struct ztg_flow_key *const *keys,
				uint32_t n, uint64_t now_tsc, struct ztg_flow **flows)
{
	int32_t positions[RTE_HASH_LOOKUP_BULK_MAX];
	uint32_t done;
	uint32_t expired = 0;

	/* Chunked so a caller passing more than the bulk limit still gets an answer. */
	for (done = 0; done < n; done += RTE_HASH_LOOKUP_BULK_MAX) {
		uint32_t m = RTE_MIN(n - done, (uint32_t)RTE_HASH_LOOKUP_BULK_MAX);
		uint32_t i;

		/* The cast only drops const from the array, which rte_hash never writes. */
		if (unlikely(rte_hash_lookup_bulk(table->hash, (const void **)&keys[done], m,
						  positions) != 0)) {
			for (i = 0; i < m; i++)
				flows[done + i] = NULL;
			continue;
		}
		for (i = 0; i < m; i++) {
			int32_t pos = positions[i];
			struct ztg_flow *f;

			/*
			 * A position whose slot is no longer live was expired a
			 * few keys earlier in this same burst.
			 */
			if (pos < 0 || !slot_live(table, (uint32_t)pos)) {
				flows[done + i] = NULL;
				continue;
			}
			f = &table->flows[pos];
			if (unlikely(flow_idle(table, f, now_tsc))) {
				slot_delete(table, (uint32_t)pos);
				expired++;
				f = NULL;
			}
			flows[done + i] = f;
		}
	}
	table->expired += expired;
}

void ztg_flow_table_remove(struct ztg_flow_table *table, struct ztg_flow *flow)
{
	uintptr_t offset = (uintptr_t)flow - (uintptr_t)table->flows;
	uintptr_t pos = offset / sizeof(*flow);

	/* Refuse pointers that are not a live slot of this table: a double remove is a no-op. */
	if ((uintptr_t)flow < (uintptr_t)table->flows || offset % sizeof(*flow) != 0 || pos >= table->capacity ||
	    !slot_live(table, (uint32_t)pos))
		return;
	slot_delete(table, (uint32_t)pos);
	table->removed++;
}

void ztg_flow_table_get_stats(const struct ztg_flow_table *table, struct ztg_flow_table_stats *stats)
{
	stats->created = table->created;
	stats->expired = table->expired;
	stats->removed = table->removed;
	stats->full = table->full;
	stats->active = table->count;
}

int ztg_flow_table_walk(const struct ztg_flow_table *table,
			int (*fn)(const struct ztg_flow *flow, void *arg), void *arg)
{
	uint32_t words = (table->capacity + LIVE_WORD_BITS - 1) / LIVE_WORD_BITS;
	uint32_t w;

	for (w = 0; w < words; w++) {
		uint64_t bits = table->live[w];

		while (bits != 0) {
			uint32_t pos = w * LIVE_WORD_BITS + (uint32_t)__builtin_ctzll(bits);
			int ret = fn(&table->flows[pos], arg);

			if (ret != 0)
				return ret;
			bits &= bits - 1;
		}
	}
	return 0;
}

static int fail(char *err, size_t err_len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static int check_params(const struct ztg_flow_table_params *params, char *err, size_t err_len)
{
	static const struct {
		const char *name;
		size_t offset;
	} timeouts[] = {
		{ "tcp_embryonic", offsetof(struct ztg_flow_timeouts, tcp_embryonic) },
		{ "tcp_established", offsetof(struct ztg_flow_timeouts, tcp_established) },
		{ "tcp_closing", offsetof(struct ztg_flow_timeouts, tcp_closing) },
		{ "tcp_closed", offsetof(struct ztg_flow_timeouts, tcp_closed) },
		{ "udp", offsetof(struct ztg_flow_timeouts, udp) },
		{ "other", offsetof(struct ztg_flow_timeouts, other) },
	};
	size_t i;

	if (params->name == NULL || params->name[0] == '\0')
		return fail(err, err_len, -EINVAL, "flow table: name is missing");
	if (strlen(params->name) > ZTG_FLOW_TABLE_NAME_MAX)
		return fail(err, err_len, -EINVAL, "flow table: name '%s' is longer than %zu characters",
			    params->name, (size_t)ZTG_FLOW_TABLE_NAME_MAX);
	if (params->capacity < ZTG_FLOW_TABLE_MIN_CAPACITY || params->capacity > ZTG_FLOW_TABLE_MAX_CAPACITY)
		return fail(err, err_len, -EINVAL, "flow table %s: capacity %" PRIu32 " is outside [%u, %u]",
			    params->name, params->capacity, ZTG_FLOW_TABLE_MIN_CAPACITY,
			    ZTG_FLOW_TABLE_MAX_CAPACITY);
	if (params->tsc_hz == 0)
		return fail(err, err_len, -EINVAL, "flow table %s: tsc_hz is 0", params->name);
	for (i = 0; i < RTE_DIM(timeouts); i++) {
		uint32_t seconds;

		memcpy(&seconds, (const char *)&params->timeouts + timeouts[i].offset, sizeof(seconds));
		if (seconds == 0)
			return fail(err, err_len, -EINVAL, "flow table %s: timeouts.%s is 0",
				    params->name, timeouts[i].name);
		if (seconds > UINT64_MAX / params->tsc_hz)
			return fail(err, err_len, -EINVAL,
				    "flow table %s: timeouts.%s of %" PRIu32 " s overflows the TSC at %" PRIu64 " Hz",
				    params->name, timeouts[i].name, seconds, params->tsc_hz);
	}
	return 0;
}

static void set_timeouts(struct ztg_flow_table *table, const struct ztg_flow_table_params *params)
{
	const struct ztg_flow_timeouts *t = &params->timeouts;
	uint64_t hz = params->tsc_hz;
	uint64_t *tcp = table->tcp_timeout_tsc;

	tcp[ZTG_TCP_STATE_NONE] = t->tcp_embryonic * hz;
	tcp[ZTG_TCP_STATE_SYN_SENT] = t->tcp_embryonic * hz;
	tcp[ZTG_TCP_STATE_SYN_RECEIVED] = t->tcp_embryonic * hz;
	tcp[ZTG_TCP_STATE_ESTABLISHED] = t->tcp_established * hz;
	tcp[ZTG_TCP_STATE_FIN_WAIT] = t->tcp_closing * hz;
	tcp[ZTG_TCP_STATE_CLOSING] = t->tcp_closing * hz;
	tcp[ZTG_TCP_STATE_CLOSED] = t->tcp_closed * hz;
	table->udp_timeout_tsc = t->udp * hz;
	table->other_timeout_tsc = t->other * hz;

	table->min_timeout_tsc = RTE_MIN(table->udp_timeout_tsc, table->other_timeout_tsc);
	for (unsigned int s = 0; s < ZTG_TCP_STATE_COUNT; s++)
		table->min_timeout_tsc = RTE_MIN(table->min_timeout_tsc, tcp[s]);
}

int ztg_flow_table_create(const struct ztg_flow_table_params *params,
			  struct ztg_flow_table **table, char *err, size_t err_len)
{
	struct rte_hash_parameters hash_params;
	struct ztg_flow_table *t;
	size_t live_words;
	int ret;

	if (table == NULL)
		return fail(err, err_len, -EINVAL, "flow table: no place to return the table");
	*table = NULL;
	if (params == NULL)
		return fail(err, err_len, -EINVAL, "flow table: parameters are missing");
	ret = check_params(params, err, err_len);
	if (ret != 0)
		return ret;

	t = rte_zmalloc_socket("ztg_flow_table", sizeof(*t), RTE_CACHE_LINE_SIZE, params->socket_id);
	if (t == NULL)
		return fail(err, err_len, -ENOMEM, "flow table %s: cannot allocate the table", params->name);
	t->capacity = params->capacity;
	set_timeouts(t, params);
	t->on_release = params->on_release;
	t->release_arg = params->release_arg;

	t->flows = rte_zmalloc_socket("ztg_flows", (size_t)params->capacity * sizeof(*t->flows),
				      RTE_CACHE_LINE_SIZE, params->socket_id);
	live_words = (params->capacity + LIVE_WORD_BITS - 1) / LIVE_WORD_BITS;
	t->live = rte_zmalloc_socket("ztg_flow_live", live_words * sizeof(*t->live), RTE_CACHE_LINE_SIZE,
				     params->socket_id);
	if (t->flows == NULL || t->live == NULL) {
		ret = fail(err, err_len, -ENOMEM, "flow table %s: cannot allocate %" PRIu32 " flows",
			   params->name, params->capacity);
		goto error;
	}

	hash_params = (struct rte_hash_parameters){
		.name = params->name,
		.entries = params->capacity,
		.key_len = sizeof(struct ztg_flow_key),
		.hash_func = flow_key_hash_func,
		.hash_func_init_val = params->hash_seed,
		.socket_id = params->socket_id,
		/* Extendable buckets: `capacity` keys always fit, whatever their hashes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	t->hash = rte_hash_create(&hash_params);
	if (t->hash == NULL) {
		int e = rte_errno;

		/* A clashing or refused name is a bad parameter; anything else is memory. */
		ret = fail(err, err_len, e == EEXIST || e == EINVAL || e == ENAMETOOLONG ? -EINVAL : -ENOMEM,
			   "flow table %s: rte_hash_create failed: %s%s", params->name, rte_strerror(e),
			   e == EEXIST ? " (the name is already in use)" : "");
		goto error;
	}

	*table = t;
	return 0;

error:
	rte_free(t->live);
	rte_free(t->flows);
	rte_free(t);
	return ret;
}

void ztg_flow_table_free(struct ztg_flow_table *table)
{
	if (table == NULL)
		return;
	if (table->on_release != NULL) {
		for (uint32_t pos = 0; pos < table->capacity; pos++) {
			if (slot_live(table, pos))
				table->on_release(&table->flows[pos], table->release_arg);
		}
	}
	rte_hash_free(table->hash);
	rte_free(table->live);
	rte_free(table->flows);
	rte_free(table);
}
