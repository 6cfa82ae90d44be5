/*
 * Quarantine: one open-addressed table of entries shared by every worker.
 *
 * Layout. The table has 2 x capacity slots (a power of two), so at most
 * half of them hold live entries and a probe that misses stays short. A
 * slot is split in two parallel arrays indexed alike:
 *   - struct slot (16 bytes, four to a cache line): the key and the expiry,
 *     the only words lookups read while probing;
 *   - struct record (448 bytes, seven cache lines): the sequence count, the
 *     refusal counter and the text, touched by a lookup only on a hit.
 * Slots are probed linearly from the key's home (key & mask), at most all
 * of them. A slot's key word is in one of five states:
 *
 *   EMPTY  0            never used (or swept): ends every probe
 *   K      1..2^62-1    a published entry: lookups match it
 *   K|P    K + 2^62     K being placed by an adder: lookups pass it by
 *   DEAD   2^63 + 1     deleted; not reusable yet; probes go on past it
 *   TOMB   2^63         reusable; probes go on past it
 *
 * Keys are a keyed hash (a secret seed drawn at create, then the kind and
 * the subject) cut to 62 bits; 0 is mapped to 1. The table trusts them:
 * two subjects of one key (a 2^-62 chance per pair, and the seed keeps
 * anyone from aiming at it) would share an entry.
 *
 * Invariants. (I1) A key K or K|P at slot j with home h has no EMPTY slot
 * in [h, j): every probe for K from h reaches it. (I2) At most one slot
 * holds K or K|P at a time: every add of K finds the one entry of K.
 *
 * Adding (any thread). An adder enters the gate (below), then scans from
 * home to the first EMPTY: finding K it renews that entry; finding K|P it
 * waits until the other adder has published K and starts again; otherwise
 * it reserves one of the capacity's entries (the live count), and claims
 * the first free slot (TOMB or EMPTY) it saw by a CAS from that exact
 * value to K|P. The claimer alone writes the record (under its sequence
 * count) and the expiry, then publishes K with a release store, so a
 * lookup that matches K reads the new expiry. A failed CAS means another
 * adder took the slot: the scan starts again. (I1) holds because the slots
 * before the claimed one were not EMPTY when scanned, and nothing turns a
 * slot EMPTY while an adder is in flight (the gate).
 *
 * Why there are no duplicates (I2). Say adders A and B of K claim slots x
 * before y of one chain. B passed x, so B read x neither free nor K: it
 * held another key, a claim of one, or DEAD. A's CAS found x free. Slots
 * go from not free to free only DEAD -> TOMB, which happens only inside
 * the gate with no adder in flight, so not while B was: x turned free, and
 * A read it, after B had finished, by which time B's K|P or K sat at y;
 * A's scan from x to the first EMPTY reaches y (I1 keeps EMPTY out of y's
 * chain) and renews it instead of claiming. Hence the DEAD state: a slot
 * freed while an adder that saw it taken is still scanning could be
 * claimed twice for one key.
 *
 * Deleting and expiring (control thread). Under the record's sequence
 * count the expiry becomes UNTIL_DEAD (which no lookup takes as held) and
 * the key DEAD; a lookup that matched K just before still answers as of
 * just before. Deleted slots are then reclaimed: the control thread closes
 * the gate when no adder is in flight, turns its DEAD slots into TOMBs,
 * sweeps TOMBs that no chain crosses back to EMPTY (so tombstones do not
 * pile up under churn and lengthen misses), clears the prefix-length bits
 * no entry uses, and opens the gate. Adds that arrive meanwhile wait for
 * it: a few slots' worth of work. With adds in flight the reclaim is left
 * to the next control call, until dead slots reach a quarter of the
 * capacity: then it closes the gate to new adds and waits for those in
 * flight, so dead slots never crowd out the free ones.
 *
 * The gate is one word: a count of adds in flight, and a bit the control
 * thread sets to keep new ones out. An adder that meets the bit spins
 * until it clears.
 *
 * Renewing (any thread) takes the record's sequence count as a writer lock
 * (CAS from even to odd), checks the key is still K (a deletion may have
 * come first: then the add starts again and places a new entry), applies
 * the renewal rule (ztg_quarantine_add below) and releases it. Readers of
 * the text (the control thread's list, expire, save) copy under the count
 * and retry when it moved, as a seqlock; lookups never read the text.
 *
 * Source lookups. Each IPv4 (0..32) and IPv6 (0..128) prefix length has a
 * count of entries and a bit in a mask; an adder bumps the count and sets
 * the bit before publishing, deletion drops the count, and the reclaim
 * (gate closed, so no count can rise under it) clears bits whose count is
 * 0. A lookup probes, longest first, only the lengths whose bit is set.
 *
 * Progress: lookups are wait-free (at most 2 x capacity probes, on a table
 * never full of live entries usually a few). Adds are lock-free against
 * each other except that an add of a key being placed, or of an entry whose
 * record a writer holds, waits for that writer's few stores; an add also
 * waits while a reclaim holds the gate. No call allocates except save,
 * load and create.
 */
#include "quarantine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_random.h>

#include "../../control/atomic_file.h"
#include "../../control/error_text.h"
#include "../auth/json.h"
#include "../events.h"
#include "../hash.h"

#define MIN_CAPACITY   16u
#define MAX_CAPACITY   (UINT32_C(1) << 30)          /* 2 x capacity slots fit in 32 bits */

#define KEY_BITS       ((UINT64_C(1) << 62) - 1)
#define PENDING        (UINT64_C(1) << 62)
#define KEY_EMPTY      UINT64_C(0)
#define KEY_TOMB       (UINT64_C(1) << 63)
#define KEY_DEAD       ((UINT64_C(1) << 63) + 1)
/* A deleted entry's expiry: before every now, and not 0 (forever). */
#define UNTIL_DEAD     INT64_MIN

#define GATE_CLOSED    (UINT32_C(1) << 31)
#define NO_SLOT        UINT32_MAX
/* A list skips an entry whose record stayed busy this many tries; save insists far longer. */
#define LIST_TRIES     8u
#define SAVE_TRIES     100000u
#define V6_LENGTH_WORDS 3

/* Zeroed memory must read as EMPTY slots and idle records: rte_zmalloc is the only initialisation. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2, "the table's atomics must be lock-free");

struct slot {
	_Atomic uint64_t key;
	_Atomic int64_t until;           /* unix seconds; 0 forever; UNTIL_DEAD once deleted */
};

_Static_assert(sizeof(struct slot) == 16, "four slots to a cache line");

struct record {
	_Atomic uint32_t seq;            /* odd while a writer holds it */
	uint8_t kind;
	uint8_t origin;
	uint8_t ip_version;
	uint8_t prefix;
	_Atomic uint64_t refused;        /* not under seq: lookups add to it */
	int64_t since;
	char reason[ZTG_QUARANTINE_REASON_MAX];
	union {
		struct {
			char issuer[ZTG_QUARANTINE_ISSUER_MAX];
			char subject[ZTG_QUARANTINE_SUBJECT_MAX];
		} id;
		struct {
			uint8_t addr[16];
			char hardware[ZTG_QUARANTINE_HARDWARE_MAX];
		} src;
	};
} __rte_cache_aligned;

_Static_assert(sizeof(struct record) == 7 * 64, "a record is seven cache lines");

struct ztg_quarantine {
	/* Read by every lookup; written only when an entry comes or goes. */
	struct slot *slots;
	struct record *records;
	uint32_t mask;                   /* slots - 1 */
	uint32_t capacity;               /* live entries at most */
	uint64_t identity_h0;            /* the hash state after the seed and "identity" */
	uint64_t source_h0;              /* after the seed and "source" */
	_Atomic uint32_t active;         /* entries live or being placed */
	_Atomic uint64_t v4_lengths;     /* bit L: an IPv4 entry of prefix L may exist */
	_Atomic uint64_t v6_lengths[V6_LENGTH_WORDS];

	/* Written by adds. */
	_Atomic uint32_t gate __rte_cache_aligned;
	_Atomic uint64_t added;
	_Atomic uint64_t full;
	_Atomic uint32_t v4_count[33];
	_Atomic uint32_t v6_count[129];

	/* Written by every refusal, on a line of its own. */
	_Atomic uint64_t refused __rte_cache_aligned;

	/* Control thread only. */
	uint32_t *dead;                  /* DEAD slots awaiting reclaim */
	uint32_t dead_count;
	bool lengths_stale;              /* a prefix length's count may have dropped to 0 */
};

/* ------------------------------------------------------------- names */

const char *ztg_quarantine_kind_name(enum ztg_quarantine_kind k)
{
	switch (k) {
	case ZTG_QUARANTINE_IDENTITY:
		return "identity";
	case ZTG_QUARANTINE_SOURCE:
		return "source";
	}
	return "?";
}

const char *ztg_quarantine_origin_name(enum ztg_quarantine_origin o)
{
	switch (o) {
	case ZTG_QUARANTINE_AUTOMATIC:
		return "automatic";
	case ZTG_QUARANTINE_OPERATOR:
		return "operator";
	case ZTG_QUARANTINE_BLOCK:
		return "block";
	}
	return "?";
}

/* ------------------------------------------------------------ create */

struct ztg_quarantine *ztg_quarantine_create(uint32_t capacity, int socket)
{
	struct ztg_quarantine *q;
	uint32_t cap = MIN_CAPACITY, slots;
	uint64_t seed;

	if (capacity > MAX_CAPACITY)
		return NULL;
	while (cap < capacity)
		cap <<= 1;
	slots = 2 * cap;
	q = rte_zmalloc_socket("ztg_quarantine", sizeof(*q), RTE_CACHE_LINE_SIZE, socket);
	if (q == NULL)
		return NULL;
	q->slots = rte_zmalloc_socket("ztg_quarantine_slots", (size_t)slots * sizeof(struct slot), RTE_CACHE_LINE_SIZE,
				      socket);
	q->records = rte_zmalloc_socket("ztg_quarantine_records", (size_t)slots * sizeof(struct record),
					RTE_CACHE_LINE_SIZE, socket);
	/* The control thread's own bookkeeping: ordinary memory. */
	q->dead = calloc(slots, sizeof(*q->dead));
	if (q->slots == NULL || q->records == NULL || q->dead == NULL) {
		ztg_quarantine_free(q);
		return NULL;
	}
	q->mask = slots - 1;
	q->capacity = cap;
	/* The seed keeps keys (and so which slots collide) unknowable from outside. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = rte_rand() ^ ztg_hash_fmix64((uint64_t)(uintptr_t)q);
	q->identity_h0 = ztg_hash_fnv1a_string(ztg_hash_fnv1a(ZTG_HASH_FNV1A_SEED, &seed, sizeof(seed)), "identity");
	q->source_h0 = ztg_hash_fnv1a_string(ztg_hash_fnv1a(ZTG_HASH_FNV1A_SEED, &seed, sizeof(seed)), "source");
	return q;
}

void ztg_quarantine_free(struct ztg_quarantine *q)
{
	if (q == NULL)
		return;
	rte_free(q->slots);
	rte_free(q->records);
	free(q->dead);
	rte_free(q);
}

/* --------------------------------------------------------------- keys */

static inline uint64_t key_finish(uint64_t h)
{
	uint64_t k = ztg_hash_fmix64(h) & KEY_BITS;

	return k != 0 ? k : 1;
}

/* The issuer ends at its NUL, so the subject's bytes (whatever they hold) cannot shift into it. */
static inline uint64_t identity_key(const struct ztg_quarantine *q, const char *issuer, size_t issuer_len,
				    const void *subject, size_t subject_len)
{
	uint64_t h = ztg_hash_fnv1a(q->identity_h0, issuer, issuer_len);

	h = ztg_hash_fnv1a(h, "", 1);
	return key_finish(ztg_hash_fnv1a(h, subject, subject_len));
}

static inline size_t addr_len(uint8_t ip_version)
{
	return ip_version == 4 ? 4 : 16;
}

static inline uint8_t prefix_max(uint8_t ip_version)
{
	return ip_version == 4 ? 32 : 128;
}

/* addr (network order) with the bits past prefix cleared, into out (16 bytes, zero past the address). */
static inline void mask_addr(uint8_t ip_version, const uint8_t *addr, unsigned prefix, uint8_t out[16])
{
	size_t len = addr_len(ip_version), whole = prefix / 8;

	memset(out, 0, 16);
	memcpy(out, addr, whole);
	if (whole < len && prefix % 8 != 0)
		out[whole] = addr[whole] & (uint8_t)(0xff << (8 - prefix % 8));
}

/* addr must be masked to prefix already. */
static inline uint64_t source_key(const struct ztg_quarantine *q, uint8_t ip_version, uint8_t prefix,
				  const uint8_t *addr)
{
	const uint8_t head[2] = {ip_version, prefix};

	return key_finish(ztg_hash_fnv1a(ztg_hash_fnv1a(q->source_h0, head, sizeof(head)), addr, addr_len(ip_version)));
}

static bool entry_valid(const struct ztg_quarantine_entry *e)
{
	if ((unsigned)e->origin > ZTG_QUARANTINE_BLOCK)
		return false;
	if (e->kind == ZTG_QUARANTINE_IDENTITY)
		return true;
	return e->kind == ZTG_QUARANTINE_SOURCE && (e->ip_version == 4 || e->ip_version == 6) &&
	       e->prefix <= prefix_max(e->ip_version);
}

/* 0 for an entry naming nothing (bad kind, version or prefix). */
uint64_t ztg_quarantine_key(const struct ztg_quarantine *q, const struct ztg_quarantine_entry *e)
{
	uint8_t masked[16];

	if (!entry_valid(e))
		return 0;
	if (e->kind == ZTG_QUARANTINE_IDENTITY)
		/* As stored: texts past their fields' room are cut, so the key is the cut text's. */
		return identity_key(q, e->issuer, strnlen(e->issuer, sizeof(e->issuer) - 1), e->subject,
				    strnlen(e->subject, sizeof(e->subject) - 1));
	mask_addr(e->ip_version, e->addr, e->prefix, masked);
	return source_key(q, e->ip_version, e->prefix, masked);
}

/* ------------------------------------------------------------ helpers */

static inline bool is_published(uint64_t k)
{
	return k != KEY_EMPTY && k <= KEY_BITS;
}

static inline bool is_free(uint64_t k)
{
	return k == KEY_EMPTY || k == KEY_TOMB;
}

/* Whether until a outlasts until b (0 is forever). */
static inline bool outlasts(int64_t a, int64_t b)
{
	return b != 0 && (a == 0 || a > b);
}

/* src (at most src_size bytes, maybe without NUL) cut to fit dst, NUL-terminated, the rest zeroed. */
static void copy_text(char *dst, size_t dst_size, const char *src, size_t src_size)
{
	size_t n = strnlen(src, RTE_MIN(src_size, dst_size - 1));

	memcpy(dst, src, n);
	memset(dst + n, 0, dst_size - n);
}

static uint32_t record_lock(struct record *r)
{
	uint32_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);

	for (;;) {
		if ((s & 1) == 0 &&
		    atomic_compare_exchange_weak_explicit(&r->seq, &s, s + 1, memory_order_acquire,
							  memory_order_relaxed))
			break;
		rte_pause();
		s = atomic_load_explicit(&r->seq, memory_order_relaxed);
	}
	/* The odd count is visible before any write it guards (the seqlock writer's side). */
	atomic_thread_fence(memory_order_release);
	return s;
}

/* changed false: nothing was written, so the old count stays valid for readers that took it. */
static void record_unlock(struct record *r, uint32_t s, bool changed)
{
	atomic_store_explicit(&r->seq, changed ? s + 2 : s, memory_order_release);
}

/* A copy of the record at i (whose writer lock the caller holds, or a racy one a seqlock read validates). */
static void entry_from_record(const struct record *r, int64_t until, struct ztg_quarantine_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = (enum ztg_quarantine_kind)r->kind;
	out->origin = (enum ztg_quarantine_origin)r->origin;
	out->since = r->since;
	out->until = until;
	memcpy(out->reason, r->reason, sizeof(out->reason));
	out->reason[sizeof(out->reason) - 1] = '\0';
	if (r->kind == ZTG_QUARANTINE_IDENTITY) {
		memcpy(out->issuer, r->id.issuer, sizeof(out->issuer));
		memcpy(out->subject, r->id.subject, sizeof(out->subject));
		out->issuer[sizeof(out->issuer) - 1] = '\0';
		out->subject[sizeof(out->subject) - 1] = '\0';
	} else {
		out->ip_version = r->ip_version;
		out->prefix = r->prefix;
		memcpy(out->addr, r->src.addr, sizeof(out->addr));
		memcpy(out->hardware, r->src.hardware, sizeof(out->hardware));
		out->hardware[sizeof(out->hardware) - 1] = '\0';
	}
}

/*
 * A consistent copy of slot i's entry, published as key, read as a seqlock:
 * up to tries attempts. Control thread (the only deleter, so key stays).
 * The record's bytes are copied while a writer may be changing them; a copy
 * the count does not confirm is thrown away.
 */
static bool record_read(const struct ztg_quarantine *q, uint32_t i, uint64_t key, struct ztg_quarantine_entry *out,
			unsigned tries)
{
	const struct record *r = &q->records[i];

	for (unsigned t = 0; t < tries; t++) {
		uint32_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire), s2;
		int64_t until;
		uint64_t refused;

		if (s1 & 1) {
			rte_pause();
			continue;
		}
		until = atomic_load_explicit(&q->slots[i].until, memory_order_relaxed);
		refused = atomic_load_explicit(&r->refused, memory_order_relaxed);
		entry_from_record(r, until, out);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
		if (s1 == s2 && atomic_load_explicit(&q->slots[i].key, memory_order_relaxed) == key) {
			out->refused = refused;
			return true;
		}
	}
	return false;
}

/* The slot holding published key, or NO_SLOT. */
static uint32_t find(const struct ztg_quarantine *q, uint64_t key)
{
	uint32_t i = (uint32_t)key & q->mask;

	for (uint32_t n = 0; n <= q->mask; n++, i = (i + 1) & q->mask) {
		uint64_t k = atomic_load_explicit(&q->slots[i].key, memory_order_acquire);

		if (k == key)
			return i;
		if (k == KEY_EMPTY)
			break;
	}
	return NO_SLOT;
}

/* ---------------------------------------------------- prefix lengths */

static _Atomic uint64_t *length_word(struct ztg_quarantine *q, uint8_t ip_version, unsigned prefix)
{
	return ip_version == 4 ? &q->v4_lengths : &q->v6_lengths[prefix / 64];
}

static _Atomic uint32_t *length_count(struct ztg_quarantine *q, uint8_t ip_version, unsigned prefix)
{
	return ip_version == 4 ? &q->v4_count[prefix] : &q->v6_count[prefix];
}

/* Adder: before the entry is published, so a lookup that could match it probes its length. */
static void lengths_add(struct ztg_quarantine *q, uint8_t ip_version, unsigned prefix)
{
	_Atomic uint64_t *word = length_word(q, ip_version, prefix);
	uint64_t bit = UINT64_C(1) << (prefix % 64);

	atomic_fetch_add_explicit(length_count(q, ip_version, prefix), 1, memory_order_relaxed);
	/* Read first: the word is on the lookups' line, and the bit is nearly always set already. */
	if (!(atomic_load_explicit(word, memory_order_relaxed) & bit))
		atomic_fetch_or_explicit(word, bit, memory_order_relaxed);
}

/* Control thread, gate closed: no count can rise under it, so a 0 stays 0 until the bit is gone. */
static void lengths_tidy(struct ztg_quarantine *q)
{
	for (unsigned v = 0; v < 2; v++) {
		uint8_t ip_version = v == 0 ? 4 : 6;

		for (unsigned len = 0; len <= prefix_max(ip_version); len++) {
			if (atomic_load_explicit(length_count(q, ip_version, len), memory_order_relaxed) == 0)
				atomic_fetch_and_explicit(length_word(q, ip_version, len),
							  ~(UINT64_C(1) << (len % 64)), memory_order_relaxed);
		}
	}
}

/* --------------------------------------------------------------- gate */

static void gate_enter(struct ztg_quarantine *q)
{
	uint32_t g = atomic_load_explicit(&q->gate, memory_order_relaxed);

	for (;;) {
		if (g & GATE_CLOSED) {
			rte_pause();
			g = atomic_load_explicit(&q->gate, memory_order_relaxed);
			continue;
		}
		/* Acquire: a reclaim's conversions are seen by the scan that follows. */
		if (atomic_compare_exchange_weak_explicit(&q->gate, &g, g + 1, memory_order_acquire,
							  memory_order_relaxed))
			return;
	}
}

static void gate_leave(struct ztg_quarantine *q)
{
	/* Release: what the add wrote is seen by a reclaim that closes the gate after. */
	atomic_fetch_sub_explicit(&q->gate, 1, memory_order_release);
}

/*
 * Control thread: turn DEAD slots into TOMBs, sweep tombstones no chain
 * crosses back to EMPTY, drop unused prefix-length bits. Only with no add
 * in flight: see below for when it waits for them rather than giving up.
 */
static void sweep_run(struct ztg_quarantine *q, uint32_t from);

static void reclaim(struct ztg_quarantine *q)
{
	uint32_t open = 0;

	if (q->dead_count == 0 && !q->lengths_stale)
		return;
	if (!atomic_compare_exchange_strong_explicit(&q->gate, &open, GATE_CLOSED, memory_order_acquire,
						     memory_order_relaxed)) {
		/*
		 * Adds are in flight. Usually that can wait for the next control
		 * call; but under a steady stream of adds the gate may never be
		 * found open, and dead slots would eat the free ones. From a
		 * quarter of the capacity on, keep new adds out and wait for
		 * those in flight (a few stores each; none waits on this thread):
		 * so dead slots stay below capacity / 4 plus one call's
		 * deletions, and an add below capacity always finds a free slot
		 * among the 2 x capacity.
		 */
		if (q->dead_count < q->capacity / 4)
			return;
		atomic_fetch_or_explicit(&q->gate, GATE_CLOSED, memory_order_relaxed);
		while ((atomic_load_explicit(&q->gate, memory_order_acquire) & ~GATE_CLOSED) != 0)
			rte_pause();
	}
	for (uint32_t d = 0; d < q->dead_count; d++)
		atomic_store_explicit(&q->slots[q->dead[d]].key, KEY_TOMB, memory_order_relaxed);
	for (uint32_t d = 0; d < q->dead_count; d++)
		sweep_run(q, q->dead[d]);
	lengths_tidy(q);
	q->dead_count = 0;
	q->lengths_stale = false;
	atomic_store_explicit(&q->gate, 0, memory_order_release);
}

/*
 * The run of non-EMPTY slots holding from: walk back from the EMPTY that
 * ends it, and empty each TOMB no key after it in the run probes through
 * (a key at j with home h probes through [h, j)). Emptying such a slot
 * keeps (I1); with the gate closed no adder is placing a key whose scan
 * passed it. Lookups in flight only ever pass EMPTY where no key lies
 * beyond.
 */
static void sweep_run(struct ztg_quarantine *q, uint32_t from)
{
	uint32_t end = from, reach = 0, n;

	for (n = 0; n <= q->mask; n++, end = (end + 1) & q->mask)
		if (atomic_load_explicit(&q->slots[end].key, memory_order_relaxed) == KEY_EMPTY)
			break;
	if (n > q->mask)
		return;        /* not one EMPTY slot in the table: nothing anchors a sweep */
	/* reach: the farthest distance back from end that a key seen so far probes from. */
	for (uint32_t back = 1; back <= q->mask; back++) {
		uint32_t j = (end - back) & q->mask;
		uint64_t k = atomic_load_explicit(&q->slots[j].key, memory_order_relaxed);

		if (k == KEY_EMPTY)
			break;
		if (k == KEY_TOMB) {
			if (back > reach)
				atomic_store_explicit(&q->slots[j].key, KEY_EMPTY, memory_order_relaxed);
			continue;
		}
		if (k <= (KEY_BITS | PENDING)) {
			uint32_t home_back = (end - ((uint32_t)(k & KEY_BITS) & q->mask)) & q->mask;

			/* A home at end itself would mean a chain through an EMPTY: keep everything, to be safe. */
			reach = RTE_MAX(reach, home_back != 0 ? home_back : q->mask + 1);
		}
	}
}

/* ---------------------------------------------------------------- add */

static void fill(struct ztg_quarantine *q, uint32_t i, uint64_t key, const struct ztg_quarantine_entry *e)
{
	struct record *r = &q->records[i];
	uint32_t s = record_lock(r);

	r->kind = (uint8_t)e->kind;
	r->origin = (uint8_t)e->origin;
	r->since = e->since;
	copy_text(r->reason, sizeof(r->reason), e->reason, sizeof(e->reason));
	if (e->kind == ZTG_QUARANTINE_IDENTITY) {
		r->ip_version = 0;
		r->prefix = 0;
		copy_text(r->id.issuer, sizeof(r->id.issuer), e->issuer, sizeof(e->issuer));
		copy_text(r->id.subject, sizeof(r->id.subject), e->subject, sizeof(e->subject));
	} else {
		r->ip_version = e->ip_version;
		r->prefix = e->prefix;
		mask_addr(e->ip_version, e->addr, e->prefix, r->src.addr);
		memset(r->src.hardware, 0, sizeof(r->src.hardware));
	}
	atomic_store_explicit(&r->refused, 0, memory_order_relaxed);
	/* Release: a lookup that reads this expiry and then the key sees the claim, not the old tenant. */
	atomic_store_explicit(&q->slots[i].until, e->until, memory_order_release);
	record_unlock(r, s, true);
	if (e->kind == ZTG_QUARANTINE_SOURCE)
		lengths_add(q, e->ip_version, e->prefix);
	atomic_store_explicit(&q->slots[i].key, key, memory_order_release);
}

/*
 * The renewal rule, on the entry of key at i. An entry whose until had
 * passed at e->since (the add's own clock) is replaced whole: it was over.
 * Otherwise an operator or block add sets until, reason and origin to e's
 * (the operator may shorten anything); so does an automatic add on an
 * automatic entry; an automatic add on an operator or block entry only
 * lengthens its until (0 being the longest) and keeps its origin and
 * reason. since stays the first add's. 0, or -1 when the entry was
 * deleted first (the caller places a new one).
 */
static int renew(struct ztg_quarantine *q, uint32_t i, uint64_t key, const struct ztg_quarantine_entry *e)
{
	struct record *r = &q->records[i];
	uint32_t s = record_lock(r);
	int64_t until;
	bool over;

	if (atomic_load_explicit(&q->slots[i].key, memory_order_relaxed) != key) {
		record_unlock(r, s, false);
		return -1;
	}
	until = atomic_load_explicit(&q->slots[i].until, memory_order_relaxed);
	over = until != 0 && until <= e->since;
	if (e->origin == ZTG_QUARANTINE_AUTOMATIC && r->origin != ZTG_QUARANTINE_AUTOMATIC && !over) {
		if (outlasts(e->until, until))
			atomic_store_explicit(&q->slots[i].until, e->until, memory_order_release);
	} else {
		r->origin = (uint8_t)e->origin;
		copy_text(r->reason, sizeof(r->reason), e->reason, sizeof(e->reason));
		if (over) {
			r->since = e->since;
			atomic_store_explicit(&r->refused, 0, memory_order_relaxed);
		}
		atomic_store_explicit(&q->slots[i].until, e->until, memory_order_release);
	}
	record_unlock(r, s, true);
	return 0;
}

/* Inside the gate. See the top comment for the protocol. */
static int place(struct ztg_quarantine *q, uint64_t key, const struct ztg_quarantine_entry *e)
{
	bool reserved = false;

	for (;;) {
		uint32_t i = (uint32_t)key & q->mask, at = NO_SLOT, found = NO_SLOT;
		uint64_t was = KEY_EMPTY;
		bool again = false;

		for (uint32_t n = 0; n <= q->mask; n++, i = (i + 1) & q->mask) {
			struct slot *s = &q->slots[i];
			uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);

			if (k == key) {
				found = i;
				break;
			}
			if (k == (key | PENDING)) {
				/* Another adder is placing this key: its few stores, then renew what it put. */
				while (atomic_load_explicit(&s->key, memory_order_acquire) == (key | PENDING))
					rte_pause();
				again = true;
				break;
			}
			if (is_free(k) && at == NO_SLOT) {
				at = i;
				was = k;
			}
			if (k == KEY_EMPTY)
				break;
		}
		if (again)
			continue;
		if (found != NO_SLOT) {
			if (renew(q, found, key, e) != 0)
				continue;
			if (reserved)
				atomic_fetch_sub_explicit(&q->active, 1, memory_order_relaxed);
			return 0;
		}
		if (!reserved) {
			if (at == NO_SLOT ||
			    atomic_fetch_add_explicit(&q->active, 1, memory_order_relaxed) >= q->capacity) {
				if (at != NO_SLOT)
					atomic_fetch_sub_explicit(&q->active, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&q->full, 1, memory_order_relaxed);
				return -1;
			}
			reserved = true;
		} else if (at == NO_SLOT) {
			/* Every slot taken or dead (deletions not reclaimed yet): as full. */
			atomic_fetch_sub_explicit(&q->active, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&q->full, 1, memory_order_relaxed);
			return -1;
		}
		if (!atomic_compare_exchange_strong_explicit(&q->slots[at].key, &was, key | PENDING,
							     memory_order_acq_rel, memory_order_relaxed))
			continue;
		fill(q, at, key, e);
		atomic_fetch_add_explicit(&q->added, 1, memory_order_relaxed);
		return 1;
	}
}

/*
 * Any thread; never allocates. An entry naming nothing (bad kind, origin,
 * version or prefix) is refused with -1 and not counted as full.
 */
int ztg_quarantine_add(struct ztg_quarantine *q, const struct ztg_quarantine_entry *e)
{
	uint64_t key = ztg_quarantine_key(q, e);
	int rc;

	if (key == 0)
		return -1;
	gate_enter(q);
	rc = place(q, key, e);
	gate_leave(q);
	return rc;
}

/* ------------------------------------------------------------- lookup */

static bool held(struct ztg_quarantine *q, uint64_t key, int64_t now)
{
	uint32_t i = (uint32_t)key & q->mask;

	for (uint32_t n = 0; n <= q->mask; n++, i = (i + 1) & q->mask) {
		uint64_t k = atomic_load_explicit(&q->slots[i].key, memory_order_acquire);
		int64_t until;

		if (k == KEY_EMPTY)
			return false;
		if (k != key)
			continue;
		until = atomic_load_explicit(&q->slots[i].until, memory_order_acquire);
		/*
		 * Deleted, reclaimed and claimed again between the two loads would
		 * give another entry's expiry; the claim's CAS comes before its
		 * (release) expiry store, so the key no longer reads as ours.
		 */
		if (atomic_load_explicit(&q->slots[i].key, memory_order_relaxed) != key)
			return false;
		if (until != 0 && until <= now)
			return false;
		atomic_fetch_add_explicit(&q->records[i].refused, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&q->refused, 1, memory_order_relaxed);
		return true;
	}
	return false;
}

bool ztg_quarantine_identity_held(struct ztg_quarantine *q, const char *issuer, const uint8_t *subject,
				  size_t subject_len, int64_t now)
{
	size_t issuer_len;

	if (issuer == NULL)
		issuer = "";
	issuer_len = strnlen(issuer, ZTG_QUARANTINE_ISSUER_MAX);
	/* Longer than an entry can hold: no entry names it. */
	if (issuer_len >= ZTG_QUARANTINE_ISSUER_MAX || subject_len >= ZTG_QUARANTINE_SUBJECT_MAX)
		return false;
	return held(q, identity_key(q, issuer, issuer_len, subject, subject_len), now);
}

bool ztg_quarantine_source_held(struct ztg_quarantine *q, uint8_t ip_version, const uint8_t *addr, int64_t now)
{
	uint8_t masked[16];

	if (ip_version == 4) {
		uint64_t bits = atomic_load_explicit(&q->v4_lengths, memory_order_relaxed);

		while (bits != 0) {
			unsigned len = 63u - (unsigned)__builtin_clzll(bits);

			bits &= ~(UINT64_C(1) << len);
			mask_addr(4, addr, len, masked);
			if (held(q, source_key(q, 4, (uint8_t)len, masked), now))
				return true;
		}
		return false;
	}
	if (ip_version != 6)
		return false;
	for (int w = V6_LENGTH_WORDS - 1; w >= 0; w--) {
		uint64_t bits = atomic_load_explicit(&q->v6_lengths[w], memory_order_relaxed);

		while (bits != 0) {
			unsigned bit = 63u - (unsigned)__builtin_clzll(bits), len = (unsigned)w * 64 + bit;

			bits &= ~(UINT64_C(1) << bit);
			if (len > 128)
				continue;
			mask_addr(6, addr, len, masked);
			if (held(q, source_key(q, 6, (uint8_t)len, masked), now))
				return true;
		}
	}
	return false;
}

bool ztg_quarantine_any(const struct ztg_quarantine *q)
{
	return atomic_load_explicit(&q->active, memory_order_relaxed) != 0;
}

/* ------------------------------------------------------ control thread */

/*
 * Delete the entry of key at i, if it is still there (and, with expired,
 * if its until has passed at now): a copy to out first (may be NULL), under
 * the record's lock so a worker's renewal cannot come between the check
 * and the deletion. The slot stays DEAD until reclaim().
 */
static bool remove_at(struct ztg_quarantine *q, uint32_t i, uint64_t key, bool expired, int64_t now,
		      struct ztg_quarantine_entry *out)
{
	struct record *r = &q->records[i];
	uint32_t s = record_lock(r);
	int64_t until;

	if (atomic_load_explicit(&q->slots[i].key, memory_order_relaxed) != key) {
		record_unlock(r, s, false);
		return false;
	}
	until = atomic_load_explicit(&q->slots[i].until, memory_order_relaxed);
	if (expired && (until == 0 || until > now)) {
		record_unlock(r, s, false);
		return false;
	}
	if (out != NULL) {
		entry_from_record(r, until, out);
		out->refused = atomic_load_explicit(&r->refused, memory_order_relaxed);
	}
	atomic_store_explicit(&q->slots[i].until, UNTIL_DEAD, memory_order_release);
	atomic_store_explicit(&q->slots[i].key, KEY_DEAD, memory_order_release);
	record_unlock(r, s, true);
	if (r->kind == ZTG_QUARANTINE_SOURCE) {
		atomic_fetch_sub_explicit(length_count(q, r->ip_version, r->prefix), 1, memory_order_relaxed);
		q->lengths_stale = true;
	}
	atomic_fetch_sub_explicit(&q->active, 1, memory_order_relaxed);
	q->dead[q->dead_count++] = i;
	return true;
}

bool ztg_quarantine_del(struct ztg_quarantine *q, const struct ztg_quarantine_entry *e)
{
	uint64_t key = ztg_quarantine_key(q, e);
	uint32_t i;
	bool gone;

	if (key == 0)
		return false;
	i = find(q, key);
	gone = i != NO_SLOT && remove_at(q, i, key, false, 0, NULL);
	reclaim(q);
	return gone;
}

/*
 * The copy handed to expired is taken under the entry's lock as it is
 * removed, and expired runs right after, before the next entry: so a
 * worker renewing it at that moment either comes first (the entry stays,
 * no call) or finds it gone and places a new one.
 */
uint32_t ztg_quarantine_expire(struct ztg_quarantine *q, int64_t now,
			       void (*expired)(void *arg, const struct ztg_quarantine_entry *e), void *arg)
{
	struct ztg_quarantine_entry copy;
	uint32_t gone = 0;

	for (uint32_t i = 0; i <= q->mask; i++) {
		uint64_t k = atomic_load_explicit(&q->slots[i].key, memory_order_acquire);
		int64_t until;

		if (!is_published(k))
			continue;
		until = atomic_load_explicit(&q->slots[i].until, memory_order_relaxed);
		if (until == 0 || until > now)
			continue;
		if (remove_at(q, i, k, true, now, &copy)) {
			gone++;
			if (expired != NULL)
				expired(arg, &copy);
		}
	}
	reclaim(q);
	return gone;
}

uint32_t ztg_quarantine_list(struct ztg_quarantine *q, struct ztg_quarantine_entry *out, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i <= q->mask && n < max; i++) {
		uint64_t k = atomic_load_explicit(&q->slots[i].key, memory_order_acquire);

		/* A record a writer keeps rewriting is skipped rather than waited for. */
		if (is_published(k) && record_read(q, i, k, &out[n], LIST_TRIES))
			n++;
	}
	return n;
}

void ztg_quarantine_set_hardware(struct ztg_quarantine *q, const struct ztg_quarantine_entry *e, const char *status)
{
	uint64_t key = ztg_quarantine_key(q, e);
	struct record *r;
	uint32_t i, s;
	bool source;

	if (key == 0 || e->kind != ZTG_QUARANTINE_SOURCE || (i = find(q, key)) == NO_SLOT)
		return;
	r = &q->records[i];
	s = record_lock(r);
	/* The text shares its room with an identity's: only a source record takes it. */
	source = atomic_load_explicit(&q->slots[i].key, memory_order_relaxed) == key &&
		 r->kind == ZTG_QUARANTINE_SOURCE;
	if (source)
		copy_text(r->src.hardware, sizeof(r->src.hardware), status != NULL ? status : "",
			  ZTG_QUARANTINE_HARDWARE_MAX);
	record_unlock(r, s, source);
}

void ztg_quarantine_stats(const struct ztg_quarantine *q, struct ztg_quarantine_stats *out)
{
	out->capacity = q->capacity;
	out->active = atomic_load_explicit(&q->active, memory_order_relaxed);
	out->added = atomic_load_explicit(&q->added, memory_order_relaxed);
	out->full = atomic_load_explicit(&q->full, memory_order_relaxed);
	out->refused = atomic_load_explicit(&q->refused, memory_order_relaxed);
}

/* ---------------------------------------------------------- text forms */

/* s for a message: printable ASCII, others as '?', cut to 48 bytes with "...". */
static const char *show(const char *s, char out[56])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < 48; i++)
		out[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

int ztg_quarantine_parse_source(const char *text, struct ztg_quarantine_entry *e, char *err, size_t err_len)
{
	char addr[INET6_ADDRSTRLEN], shown[56];
	uint8_t bytes[16] = {0};
	const char *slash;
	unsigned prefix, max;
	uint8_t ip_version;
	size_t len;

	if (text == NULL)
		text = "";
	show(text, shown);
	slash = strchr(text, '/');
	len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof(addr))
		return ztg_error_fail(err, err_len, "%s: not an IPv4 or IPv6 address", shown);
	memcpy(addr, text, len);
	addr[len] = '\0';
	ip_version = memchr(addr, ':', len) != NULL ? 6 : 4;
	if (inet_pton(ip_version == 4 ? AF_INET : AF_INET6, addr, bytes) != 1)
		return ztg_error_fail(err, err_len, "%s: not an IPv4 or IPv6 address", shown);
	max = prefix_max(ip_version);
	prefix = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p < '0' || *p > '9')
			return ztg_error_fail(err, err_len, "%s: no prefix length after the /", shown);
		/* Four digits are past any prefix already; stopping there keeps the number small. */
		for (prefix = 0; *p >= '0' && *p <= '9' && p - slash <= 4; p++)
			prefix = prefix * 10 + (unsigned)(*p - '0');
		if (*p >= '0' && *p <= '9')
			return ztg_error_fail(err, err_len, "%s: prefix length past /%u", shown, max);
		if (*p != '\0')
			return ztg_error_fail(err, err_len, "%s: unexpected text after the prefix length", shown);
		if (prefix > max)
			return ztg_error_fail(err, err_len, "%s: prefix length past /%u", shown, max);
	}
	for (unsigned bit = prefix; bit < max; bit++)
		if (bytes[bit / 8] & (0x80u >> (bit % 8)))
			return ztg_error_fail(err, err_len, "%s: host bits set past /%u", shown, prefix);
	e->kind = ZTG_QUARANTINE_SOURCE;
	e->ip_version = ip_version;
	e->prefix = (uint8_t)prefix;
	memcpy(e->addr, bytes, sizeof(e->addr));
	return 0;
}

void ztg_quarantine_format_source(const struct ztg_quarantine_entry *e, char *out, size_t out_len)
{
	char addr[INET6_ADDRSTRLEN];

	if (out == NULL || out_len == 0)
		return;
	if ((e->ip_version != 4 && e->ip_version != 6) || e->prefix > prefix_max(e->ip_version) ||
	    inet_ntop(e->ip_version == 4 ? AF_INET : AF_INET6, e->addr, addr, sizeof(addr)) == NULL) {
		snprintf(out, out_len, "?");
		return;
	}
	snprintf(out, out_len, "%s/%u", addr, e->prefix);
}

/* ---------------------------------------------------------- state file */

/*
 * One line per operator or block entry:
 *   {"kind":"identity","origin":"operator","issuer":"api-key","subject":"k1",
 *    "reason":"...","since":1700000000,"until":0}
 *   {"kind":"source","origin":"block","source":"192.0.2.0/24","reason":"...",...}
 * Strings go through ztg_events_write_string, which writes every byte
 * outside printable ASCII as \u00XX: the file is plain ASCII, and any bytes
 * a subject or reason holds come back the same (decode_bytes below).
 */
static void write_entry(FILE *f, const struct ztg_quarantine_entry *e)
{
	fprintf(f, "{\"kind\":\"%s\",\"origin\":\"%s\"", ztg_quarantine_kind_name(e->kind),
		ztg_quarantine_origin_name(e->origin));
	if (e->kind == ZTG_QUARANTINE_IDENTITY) {
		fputs(",\"issuer\":", f);
		ztg_events_write_string(f, e->issuer);
		fputs(",\"subject\":", f);
		ztg_events_write_string(f, e->subject);
	} else {
		char source[INET6_ADDRSTRLEN + 8];

		ztg_quarantine_format_source(e, source, sizeof(source));
		fprintf(f, ",\"source\":\"%s\"", source);
	}
	fputs(",\"reason\":", f);
	ztg_events_write_string(f, e->reason);
	fprintf(f, ",\"since\":%lld,\"until\":%lld}\n", (long long)e->since, (long long)e->until);
}

/* Control thread. */
int ztg_quarantine_save(struct ztg_quarantine *q, const char *path, char *err, size_t err_len)
{
	struct ztg_quarantine_entry e;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = 0;

	if (f == NULL)
		return ztg_error_fail(err, err_len, "out of memory for %s", path);
	for (uint32_t i = 0; i <= q->mask && rc == 0; i++) {
		uint64_t k = atomic_load_explicit(&q->slots[i].key, memory_order_acquire);

		if (!is_published(k))
			continue;
		/* Unlike a list, a save must not leave an entry out for a busy moment. */
		if (!record_read(q, i, k, &e, SAVE_TRIES)) {
			rc = -1;
			ztg_error_set(err, err_len, "%s: an entry stayed busy; not saved", path);
		} else if (e.origin != ZTG_QUARANTINE_AUTOMATIC) {
			write_entry(f, &e);
		}
	}
	if (rc == 0 && ferror(f)) {
		rc = -1;
		ztg_error_set(err, err_len, "out of memory for %s", path);
	}
	fclose(f);
	if (rc == 0 && ztg_atomic_file_write(path, text, len, err, err_len) != 0)
		rc = -1;
	free(text);
	return rc;
}

static unsigned hex4(const char *s)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/*
 * A STRING token as the bytes ztg_events_write_string was given: escapes
 * decoded, \u0080..\u00ff back to the one byte each stands for, other code
 * points (a hand-written file) as UTF-8, raw bytes as they are. json.h's
 * decoder would turn \u00e9 into two bytes of UTF-8 and change a subject.
 * The parser has checked every escape. Writes at most cap - 1 bytes and a
 * NUL; returns the whole decoded length (cut when >= cap), or -1 for a
 * \u0000, which a C string cannot hold.
 */
static ssize_t decode_bytes(const char *in, const struct ztg_json_token *t, char *out, size_t cap)
{
	size_t n = 0;

	for (uint32_t i = t->start; i < t->end;) {
		unsigned c = (uint8_t)in[i++];
		uint8_t enc[4];
		size_t len = 1;

		if (c == '\\') {
			char x = in[i++];

			switch (x) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				c = hex4(in + i);
				i += 4;
				if (c >= 0xd800 && c < 0xdc00) {
					c = 0x10000 + ((c - 0xd800) << 10) + (hex4(in + i + 2) - 0xdc00);
					i += 6;
				}
				break;
			default: c = (uint8_t)x; break;      /* " \ / */
			}
			if (c == 0) {
				out[RTE_MIN(n, cap - 1)] = '\0';
				return -1;
			}
		}
		if (c <= 0xff) {
			enc[0] = (uint8_t)c;
		} else if (c <= 0x7ff) {
			enc[0] = (uint8_t)(0xc0 | c >> 6);
			enc[1] = (uint8_t)(0x80 | (c & 0x3f));
			len = 2;
		} else if (c <= 0xffff) {
			enc[0] = (uint8_t)(0xe0 | c >> 12);
			enc[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			enc[2] = (uint8_t)(0x80 | (c & 0x3f));
			len = 3;
		} else {
			enc[0] = (uint8_t)(0xf0 | c >> 18);
			enc[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
			enc[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			enc[3] = (uint8_t)(0x80 | (c & 0x3f));
			len = 4;
		}
		for (size_t b = 0; b < len; b++, n++)
			if (n + 1 < cap)
				out[n] = (char)enc[b];
	}
	out[RTE_MIN(n, cap - 1)] = '\0';
	return (ssize_t)n;
}

enum member { M_KIND, M_ORIGIN, M_ISSUER, M_SUBJECT, M_SOURCE, M_REASON, M_SINCE, M_UNTIL, M_COUNT };

static const char *const member_names[M_COUNT] = {
	[M_KIND] = "kind", [M_ORIGIN] = "origin", [M_ISSUER] = "issuer", [M_SUBJECT] = "subject",
	[M_SOURCE] = "source", [M_REASON] = "reason", [M_SINCE] = "since", [M_UNTIL] = "until",
};

/* A string member into out (cap bytes): cut (when cut) or refused when longer. 0, or -1 with why. */
static int member_text(const char *line, const struct ztg_json_token *t, enum member m, char *out, size_t cap,
		       bool cut, char *why, size_t why_len)
{
	ssize_t n;

	if (t->type != ZTG_JSON_STRING)
		return ztg_error_fail(why, why_len, "%s is not a string", member_names[m]);
	n = decode_bytes(line, t, out, cap);
	if (n < 0)
		return ztg_error_fail(why, why_len, "%s holds \\u0000", member_names[m]);
	if ((size_t)n >= cap && !cut)
		return ztg_error_fail(why, why_len, "%s is %zd bytes, at most %zu", member_names[m], n, cap - 1);
	return 0;
}

static int member_time(const char *line, const struct ztg_json_token *t, enum member m, int64_t *out, char *why,
		       size_t why_len)
{
	if (t->type != ZTG_JSON_NUMBER || (t->flags & (ZTG_JSON_F_FRACTION | ZTG_JSON_F_EXPONENT)) ||
	    ztg_json_number_int64(line, t, out) != 0 || *out < 0)
		return ztg_error_fail(why, why_len, "%s is not a time in whole unix seconds", member_names[m]);
	return 0;
}

/* One line of the state file into e. 0, or -1 with why. */
static int parse_line(const char *line, size_t len, struct ztg_quarantine_entry *e, char *why, size_t why_len)
{
	struct ztg_json_token tok[2 * M_COUNT + 8];
	const struct ztg_json_token *m[M_COUNT] = {0};
	struct ztg_json_error jerr;
	struct ztg_quoted quoted;
	char name[40], source[64];
	uint32_t k = 1;
	int count = ztg_json_parse(line, len, tok, RTE_DIM(tok), &jerr);

	if (count < 0)
		return ztg_error_fail(why, why_len, "bad JSON: %s at byte %u", jerr.message, jerr.offset + 1);
	for (uint32_t n = 0; n < tok[0].size; n++, k = tok[k + 1].next) {
		enum member which = M_COUNT;

		for (unsigned w = 0; w < M_COUNT; w++)
			if (ztg_json_string_equals(line, &tok[k], member_names[w]))
				which = (enum member)w;
		if (which == M_COUNT) {
			(void)decode_bytes(line, &tok[k], name, sizeof(name));
			return ztg_error_fail(why, why_len, "unknown member %s", ztg_error_quote(&quoted, name));
		}
		m[which] = &tok[k + 1];
	}
	memset(e, 0, sizeof(*e));
	for (unsigned w = 0; w < M_COUNT; w++) {
		bool needed = w == M_KIND || w == M_ORIGIN || w == M_REASON || w == M_SINCE || w == M_UNTIL;

		if (needed && m[w] == NULL)
			return ztg_error_fail(why, why_len, "no %s", member_names[w]);
	}
	if (ztg_json_string_equals(line, m[M_KIND], "identity"))
		e->kind = ZTG_QUARANTINE_IDENTITY;
	else if (ztg_json_string_equals(line, m[M_KIND], "source"))
		e->kind = ZTG_QUARANTINE_SOURCE;
	else
		return ztg_error_fail(why, why_len, "kind is not \"identity\" or \"source\"");
	if (ztg_json_string_equals(line, m[M_ORIGIN], "operator"))
		e->origin = ZTG_QUARANTINE_OPERATOR;
	else if (ztg_json_string_equals(line, m[M_ORIGIN], "block"))
		e->origin = ZTG_QUARANTINE_BLOCK;
	else if (ztg_json_string_equals(line, m[M_ORIGIN], "automatic"))
		e->origin = ZTG_QUARANTINE_AUTOMATIC;
	else
		return ztg_error_fail(why, why_len, "origin is not \"operator\", \"block\" or \"automatic\"");
	if (e->kind == ZTG_QUARANTINE_IDENTITY) {
		if (m[M_SOURCE] != NULL)
			return ztg_error_fail(why, why_len, "an identity entry with a source");
		if (m[M_ISSUER] == NULL || m[M_SUBJECT] == NULL)
			return ztg_error_fail(why, why_len, "an identity entry needs an issuer and a subject");
		if (member_text(line, m[M_ISSUER], M_ISSUER, e->issuer, sizeof(e->issuer), false, why, why_len) ||
		    member_text(line, m[M_SUBJECT], M_SUBJECT, e->subject, sizeof(e->subject), false, why, why_len))
			return -1;
	} else {
		if (m[M_ISSUER] != NULL || m[M_SUBJECT] != NULL)
			return ztg_error_fail(why, why_len, "a source entry with an issuer or a subject");
		if (m[M_SOURCE] == NULL)
			return ztg_error_fail(why, why_len, "a source entry needs a source");
		if (member_text(line, m[M_SOURCE], M_SOURCE, source, sizeof(source), false, why, why_len) ||
		    ztg_quarantine_parse_source(source, e, why, why_len) != 0)
			return -1;
	}
	/* The reason is only words: one too long is cut rather than refused. */
	if (member_text(line, m[M_REASON], M_REASON, e->reason, sizeof(e->reason), true, why, why_len) ||
	    member_time(line, m[M_SINCE], M_SINCE, &e->since, why, why_len) ||
	    member_time(line, m[M_UNTIL], M_UNTIL, &e->until, why, why_len))
		return -1;
	return 0;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Control thread. Every line is parsed before anything is added. */
int ztg_quarantine_load(struct ztg_quarantine *q, const char *path, int64_t now, char *err, size_t err_len)
{
	struct ztg_quarantine_entry *entries = NULL;
	uint32_t count = 0, room = 0, lineno = 0;
	char *line = NULL, why[200];
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return ztg_error_fail(err, err_len, "%s: %s", path, strerror(errno));
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		struct ztg_quarantine_entry e;

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (blank(line, (size_t)n))
			continue;
		if (parse_line(line, (size_t)n, &e, why, sizeof(why)) != 0) {
			rc = -1;
			ztg_error_set(err, err_len, "%s:%u: %s", path, lineno, why);
			break;
		}
		if (e.until != 0 && e.until <= now)
			continue;
		if (count == room) {
			uint32_t more = room != 0 ? 2 * room : 64;
			struct ztg_quarantine_entry *grown = realloc(entries, (size_t)more * sizeof(*grown));

			if (grown == NULL) {
				rc = -1;
				ztg_error_set(err, err_len, "%s:%u: out of memory", path, lineno);
				break;
			}
			entries = grown;
			room = more;
		}
		entries[count++] = e;
	}
	if (rc == 0 && ferror(f)) {
		rc = -1;
		ztg_error_set(err, err_len, "%s: %s", path, strerror(errno));
	}
	fclose(f);
	free(line);
	if (rc == 0) {
		/* Entries already in the table only renew: room is wanted for the others. */
		uint32_t fresh = 0, free_room = q->capacity -
			RTE_MIN(q->capacity, atomic_load_explicit(&q->active, memory_order_relaxed));

		for (uint32_t i = 0; i < count; i++)
			fresh += find(q, ztg_quarantine_key(q, &entries[i])) == NO_SLOT;
		if (fresh > free_room) {
			rc = -1;
			ztg_error_set(err, err_len, "%s: %u new entries, room for %u", path, fresh, free_room);
		}
	}
	/* Workers may fill the room meanwhile: then what went in stays, and the message says how far it got. */
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		if (ztg_quarantine_add(q, &entries[i]) < 0) {
			rc = -1;
			ztg_error_set(err, err_len, "%s: the table filled up after %u of %u entries", path, i, count);
		}
	}
	free(entries);
	return rc;
}
