/*
 * Behaviour: per-key windows, baselines and risk in one open-addressed
 * table shared by every worker, without locks.
 *
 * Layout. Like the rate-limit table (rate_limit.c), slots come in groups of
 * GROUP_SLOTS whose headers (state and key, 16 bytes a slot) share two
 * 128-byte-aligned cache lines; a key lives in the group its mixed hash
 * names and nowhere else, so a lookup reads those two lines and the probe
 * bound is one group. The bulk of a slot, its entry, is in a parallel array
 * at the same index: 384 bytes, cache-line aligned (struct entry): line 0
 * the window's four counters, the risk word, the closed-window count and
 * the first baselines; lines 1-2 the other baselines and the previous
 * window's figures (for the sliding estimate, judge()); lines 3-5 one
 * 512-bit distinct-count bitmap each (objects, sources, identities). 400
 * bytes a key in all, allocated once at create.
 *
 * Key 0 marks an empty slot (zeroed memory is a table of empty slots); a
 * caller's key 0 is served as key 1. Keys are keyed hashes, so 0 and 1
 * sharing an entry is as likely as any other collision of 64-bit keys.
 *
 * The state word. Each decision about a window is a CAS on the slot's state,
 * one 64-bit word: the window start rounded down to 256 cycles in bits 8-63,
 * TURNING in bit 7, and in bits 0-6 the figures that crossed in that window.
 * Windows are at least MIN_WINDOW (256) cycles (a shorter params.window is
 * taken as 256), so two windows never round to the same start and the exact
 * start is the one multiple of the window in [rounded, rounded + 255]. BUSY
 * (all ones, a start no TSC below 2^63 reaches) marks a claim in progress.
 *
 *   sample, same window:   fetch_add counters, fetch_or bitmap bits, then
 *                          judge: CAS state S -> S | crossed figures
 *   sample, later window:  CAS S -> (new start, TURNING, no figures); the
 *                          winner swaps the counters and bitmaps with zeros
 *                          (atomic exchange), folds what it took into the
 *                          baselines, adds its own sample, and stores
 *                          (release) (new start, not TURNING)
 *   sample, TURNING:       add to the counters, judge nothing
 *   new key:               CAS S -> BUSY on an empty or reclaimable slot,
 *                          CAS risk R -> a value != R, store key, reset the
 *                          entry, add the sample, store (release) S
 *
 * Why this is correct. (1) A state value never comes back: the start only
 * grows (a turn and a claim both need a later window than the state's, and
 * windows of >= 256 cycles round to distinct starts), and within one start
 * TURNING is cleared once and crossed bits are only ever added. The one
 * exception is a claim that gives up (below), which puts back the value it
 * took after writing nothing else, so a CAS expecting that value acts on
 * the state it expected. Hence a judge's CAS succeeds only when no turn, no
 * claim and no other crossing of those figures happened since it loaded the
 * state: each figure is reported once per window, by the one worker whose
 * CAS set its bit, however many judge at once. (2) Only the turn's winner
 * writes baselines, the closed-window count and the state while TURNING is
 * set (turns, claims and judges all expect a state without it), so the fold
 * is single-writer with nothing to retry. Its final store is a release and
 * every sampler loads the state with acquire, so a sampler that sees the new
 * window without TURNING sees the zeroed counters and the new baselines.
 * (3) A judge whose CAS succeeded judged counts of its own window, never
 * the next one's: the next turn's CAS (acquire) reads the judge's CAS
 * (release) or a later CAS of the same window, which continues its release
 * sequence, so the judge's adds happen before that turn's exchanges and
 * cannot have read them.
 *
 * Risk lives in its own word R (score and time, below), changed by CAS
 * only. A risk addition loads R (acquire), then the state (acquire) and the
 * key, and goes on only if the state is not BUSY and the key is still its
 * own; its CAS succeeds only if R still holds what it loaded. A claim
 * replaces R by CAS with a value different from the one it saw (0, or 1
 * when it saw 0: both mean no risk) after its CAS to BUSY. So a risk
 * addition that loaded the claim's R or later then sees BUSY or the new key
 * and looks again, and one that loaded the old key's R either succeeds
 * before the claim's CAS on R, which then fails (the claim puts the state
 * back and the key keeps its entry and its new risk), or fails after it.
 * The claim's CAS on R is also what makes "risk decayed below 0.5" hold at
 * the instant of the claim. (The R words are (score, 2^23-cycle time) pairs:
 * an addition could only be fooled by a new key writing exactly the pair it
 * loaded.)
 *
 * What is an estimate. Samples racing a turn land in either window; a
 * sample judged while TURNING is set is judged by the next sample instead
 * (a limit reached then crosses one sample late); bitmap bits set by a
 * racing sample before the winner's exchange count in the old window. A
 * worker that meets BUSY skips that slot, so two workers bringing a new key
 * into one group at once may each claim a slot: the first in the group
 * serves the key from then on, the other ages out. A sample whose TSC lags
 * another worker's by `history` windows may be added to an entry reclaimed
 * meanwhile. No worker ever waits for another: every retry follows another
 * worker's successful CAS (lock-free), and a turn in progress only defers
 * judging.
 */
#include "behaviour.h"

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <rte_common.h>
#include <rte_malloc.h>

#include "hash.h"

#define GROUP_SLOTS     8u
#define GROUP_ALIGN     128u
#define MIN_CAPACITY    64u
#define MIN_WINDOW      256u
#define WINDOWS_MAX     65535u

#define STATE_FIGURES   UINT64_C(0x7f)
#define STATE_TURNING   UINT64_C(0x80)
#define STATE_LOW       UINT64_C(0xff)
#define BUSY            UINT64_MAX

/*
 * Distinct counts: m = 512 bits, n = -m ln(z / m) for z zero bits; about 5%
 * standard error at n = 1,000 and 3% at 100. A full bitmap reads as one
 * zero bit, m ln m = 3,194: the ceiling of what a window can report.
 */
#define SKETCH_BITS     512u
#define SKETCH_WORDS    (SKETCH_BITS / 64u)
#define SKETCH_SHIFT    (64 - 9)
#define SKETCHES        3u

/*
 * The risk word: score in fixed point, 8 fraction bits, in the top 24 bits
 * (to 65,535.996, saturating); in the low 40 the time of the last addition
 * in units of 2^23 TSC cycles (about 3 ms at 3 GHz): TSC values below 2^63
 * all fit. An addition decays the score to the start of its unit and adds
 * the weight there, so a weight is dated at most one unit early.
 */
#define RISK_TIME_BITS  40
#define RISK_TIME_MASK  ((UINT64_C(1) << RISK_TIME_BITS) - 1)
#define RISK_TIME_SHIFT 23
#define RISK_ONE        256.0
#define RISK_SCORE_MAX  ((UINT64_C(1) << 24) - 1)
/* An entry whose score decayed below this (and idle for `history` windows) may go to another key. */
#define RISK_RECLAIM    0.5

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ZTG_BEHAVIOUR_FIGURES <= 7, "crossed figures live in the state word's low 7 bits");

enum counter { C_REQUESTS, C_ERRORS, C_AUTH_FAILURES, C_BYTES, COUNTERS };
enum sketch { S_OBJECTS, S_SOURCES, S_IDENTITIES };

struct slot {
	_Atomic uint64_t state;          /* rounded window start | TURNING | crossed figures; or BUSY */
	_Atomic uint64_t key;            /* 0: empty */
};

struct group {
	struct slot slot[GROUP_SLOTS];
} __rte_aligned(GROUP_ALIGN);

_Static_assert(sizeof(struct group) == GROUP_ALIGN, "a group's headers are two cache lines");

struct entry {
	_Atomic uint64_t count[COUNTERS];                      /* this window; enum counter */
	_Atomic uint64_t risk;                                 /* score and time (RISK_*) */
	_Atomic uint32_t windows;                              /* closed windows learnt from, <= WINDOWS_MAX */
	uint32_t unused;
	_Atomic uint64_t baseline[ZTG_BEHAVIOUR_FIGURES];      /* per figure, a double's bits */
	_Atomic uint64_t previous[ZTG_BEHAVIOUR_FIGURES];      /* the window before, a double's bits; 0 after a gap */
	_Atomic uint64_t sketch[SKETCHES][SKETCH_WORDS] __rte_cache_aligned;
} __rte_cache_aligned;

_Static_assert(sizeof(struct entry) == 6 * RTE_CACHE_LINE_SIZE, "an entry is six cache lines");

struct ztg_behaviour_table {
	uint32_t capacity;
	uint32_t group_mask;
	struct group *groups;
	struct entry *entries;
	double estimate[SKETCH_BITS + 1];                      /* linear counting, by zero bits */
	/* Its own line: written when the table overflows, by every worker, while the rest is read. */
	_Atomic uint64_t unplaced __rte_cache_aligned;
};

/* ---------------------------------------------------------------- helpers */

static inline uint64_t window_of(const struct ztg_behaviour_params *p)
{
	return p->window < MIN_WINDOW ? MIN_WINDOW : p->window;
}

static inline uint32_t history_of(const struct ztg_behaviour_params *p)
{
	return p->history ? p->history : 1;
}

static inline uint64_t half_life_of(const struct ztg_behaviour_params *p)
{
	return p->half_life ? p->half_life : 1;
}

/* The exact start behind a state: the one multiple of win in [rounded, rounded + 255]. */
static inline uint64_t start_of(uint64_t state, uint64_t win)
{
	uint64_t rounded = state & ~STATE_LOW;

	return (rounded + win - 1) / win * win;
}

static inline uint32_t group_of(const struct ztg_behaviour_table *t, uint64_t key)
{
	return (uint32_t)(ztg_hash_fmix64(key) >> 32) & t->group_mask;
}

static inline struct slot *slot_at(const struct ztg_behaviour_table *t, uint32_t idx)
{
	return &t->groups[idx / GROUP_SLOTS].slot[idx % GROUP_SLOTS];
}

static inline double double_load(const _Atomic uint64_t *word)
{
	uint64_t bits = atomic_load_explicit(word, memory_order_relaxed);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static inline void double_store(_Atomic uint64_t *word, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	atomic_store_explicit(word, bits, memory_order_relaxed);
}

static inline double baseline_load(const struct entry *e, int f)
{
	return double_load(&e->baseline[f]);
}

static inline void baseline_store(struct entry *e, int f, double d)
{
	double_store(&e->baseline[f], d);
}

/* The risk word's score at TSC x (no decay before its own time). */
static double risk_score_at(uint64_t r, uint64_t x, uint64_t half_life)
{
	double score = (double)(r >> RISK_TIME_BITS) / RISK_ONE;
	uint64_t t = (r & RISK_TIME_MASK) << RISK_TIME_SHIFT;

	if (score == 0 || x <= t)
		return score;
	return score * exp2(-(double)(x - t) / (double)half_life);
}

/* R after adding weight at now; *before and *after are the scores either side, at the time R records. */
static uint64_t risk_next(uint64_t r, uint64_t now, uint64_t half_life, double weight, double *before,
			  double *after)
{
	uint64_t unit = (now >> RISK_TIME_SHIFT) & RISK_TIME_MASK, q;
	double sum;

	/* A worker whose TSC lags must not move the score's time back (it would grow on the next decay). */
	if (unit < (r & RISK_TIME_MASK))
		unit = r & RISK_TIME_MASK;
	*before = risk_score_at(r, unit << RISK_TIME_SHIFT, half_life);
	sum = *before + weight;
	if (!(sum > 0))
		sum = 0;
	sum = sum * RISK_ONE + 0.5;
	q = sum >= (double)RISK_SCORE_MAX ? RISK_SCORE_MAX : (uint64_t)sum;
	*after = (double)q / RISK_ONE;
	return q << RISK_TIME_BITS | unit;
}

/* Sets item's bit; true when it was clear (the estimate moved). Loads first: most samples repeat a bit. */
static inline bool sketch_add(_Atomic uint64_t *words, uint64_t item)
{
	uint32_t bit = (uint32_t)(ztg_hash_fmix64(item) >> SKETCH_SHIFT);
	_Atomic uint64_t *w = &words[bit / 64];
	uint64_t m = UINT64_C(1) << (bit % 64);

	if (atomic_load_explicit(w, memory_order_relaxed) & m)
		return false;
	return !(atomic_fetch_or_explicit(w, m, memory_order_relaxed) & m);
}

static inline uint64_t sketch_estimate(const struct ztg_behaviour_table *t, const _Atomic uint64_t *words)
{
	uint32_t set = 0;

	for (uint32_t i = 0; i < SKETCH_WORDS; i++)
		set += (uint32_t)__builtin_popcountll(atomic_load_explicit(&words[i], memory_order_relaxed));
	return (uint64_t)(t->estimate[SKETCH_BITS - set] + 0.5);
}

/* Empties a bitmap and returns how many bits it held. */
static uint32_t sketch_take(_Atomic uint64_t *words)
{
	uint32_t set = 0;

	for (uint32_t i = 0; i < SKETCH_WORDS; i++) {
		if (atomic_load_explicit(&words[i], memory_order_relaxed) != 0)
			set += (uint32_t)__builtin_popcountll(
				atomic_exchange_explicit(&words[i], 0, memory_order_relaxed));
	}
	return set;
}

/* Where each figure is kept: a counter, or (for the distinct ones) a bitmap. */
static const int8_t figure_counter[ZTG_BEHAVIOUR_FIGURES] = {
	[ZTG_BEHAVIOUR_REQUESTS] = C_REQUESTS, [ZTG_BEHAVIOUR_ERRORS] = C_ERRORS,
	[ZTG_BEHAVIOUR_OBJECTS] = -1,          [ZTG_BEHAVIOUR_BYTES] = C_BYTES,
	[ZTG_BEHAVIOUR_AUTH_FAILURES] = C_AUTH_FAILURES,
	[ZTG_BEHAVIOUR_SOURCES] = -1,          [ZTG_BEHAVIOUR_IDENTITIES] = -1,
};
static const int8_t figure_sketch[ZTG_BEHAVIOUR_FIGURES] = {
	[ZTG_BEHAVIOUR_REQUESTS] = -1,         [ZTG_BEHAVIOUR_ERRORS] = -1,
	[ZTG_BEHAVIOUR_OBJECTS] = S_OBJECTS,   [ZTG_BEHAVIOUR_BYTES] = -1,
	[ZTG_BEHAVIOUR_AUTH_FAILURES] = -1,
	[ZTG_BEHAVIOUR_SOURCES] = S_SOURCES,   [ZTG_BEHAVIOUR_IDENTITIES] = S_IDENTITIES,
};

static uint64_t figure_load(const struct ztg_behaviour_table *t, const struct entry *e, int f)
{
	if (figure_counter[f] >= 0)
		return atomic_load_explicit(&e->count[figure_counter[f]], memory_order_relaxed);
	return sketch_estimate(t, e->sketch[figure_sketch[f]]);
}

/*
 * Adds s to e's window. Returns the figures it moved; cur[] holds the new
 * value of each counter it moved (distinct figures are estimated on demand).
 */
static uint32_t sample_add(struct entry *e, const struct ztg_behaviour_sample *s, uint64_t cur[])
{
	uint32_t touched = 0;

	if (s->requests) {
		cur[ZTG_BEHAVIOUR_REQUESTS] = atomic_fetch_add_explicit(&e->count[C_REQUESTS], s->requests,
									 memory_order_relaxed) + s->requests;
		touched |= 1u << ZTG_BEHAVIOUR_REQUESTS;
	}
	if (s->errors) {
		cur[ZTG_BEHAVIOUR_ERRORS] = atomic_fetch_add_explicit(&e->count[C_ERRORS], s->errors,
								       memory_order_relaxed) + s->errors;
		touched |= 1u << ZTG_BEHAVIOUR_ERRORS;
	}
	if (s->auth_failures) {
		cur[ZTG_BEHAVIOUR_AUTH_FAILURES] = atomic_fetch_add_explicit(&e->count[C_AUTH_FAILURES],
									      s->auth_failures, memory_order_relaxed) +
						   s->auth_failures;
		touched |= 1u << ZTG_BEHAVIOUR_AUTH_FAILURES;
	}
	if (s->bytes) {
		cur[ZTG_BEHAVIOUR_BYTES] = atomic_fetch_add_explicit(&e->count[C_BYTES], s->bytes,
								      memory_order_relaxed) + s->bytes;
		touched |= 1u << ZTG_BEHAVIOUR_BYTES;
	}
	if (s->object && sketch_add(e->sketch[S_OBJECTS], s->object))
		touched |= 1u << ZTG_BEHAVIOUR_OBJECTS;
	if (s->source && sketch_add(e->sketch[S_SOURCES], s->source))
		touched |= 1u << ZTG_BEHAVIOUR_SOURCES;
	if (s->identity && sketch_add(e->sketch[S_IDENTITIES], s->identity))
		touched |= 1u << ZTG_BEHAVIOUR_IDENTITIES;
	return touched;
}

/*
 * The turn's winner, holding TURNING: closes the window that started at st
 * into the baselines, with the empty windows between it and w as zeros.
 */
static void window_fold(const struct ztg_behaviour_table *t, struct entry *e, uint64_t st, uint64_t w, uint64_t win,
			uint32_t history)
{
	uint64_t missed = (w - st) / win - 1, windows = atomic_load_explicit(&e->windows, memory_order_relaxed);
	/*
	 * Until `history` windows are known the baseline is their plain mean: a
	 * new caller's baseline is its rate from its first closed window, not a
	 * fraction of it for `history` windows.
	 */
	double x[ZTG_BEHAVIOUR_FIGURES], a = 1.0 / RTE_MIN(windows + 1, (uint64_t)history), keep = 1;

	for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
		if (figure_counter[f] >= 0)
			x[f] = (double)atomic_exchange_explicit(&e->count[figure_counter[f]], 0, memory_order_relaxed);
		else
			x[f] = t->estimate[SKETCH_BITS - sketch_take(e->sketch[figure_sketch[f]])];
	}
	/* Each missed window is a zero: (1 - a)^missed, in one step however long the silence. */
	if (missed > 0)
		keep = history == 1 ? 0 : pow(1 - 1.0 / history, (double)missed);
	for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
		double b = baseline_load(e, f);

		baseline_store(e, f, (b + a * (x[f] - b)) * keep);
		/* What the sliding estimate weighs: only a window right before the new one. */
		double_store(&e->previous[f], missed == 0 ? x[f] : 0);
	}
	windows += 1 + RTE_MIN(missed, (uint64_t)WINDOWS_MAX);
	atomic_store_explicit(&e->windows, (uint32_t)RTE_MIN(windows, (uint64_t)WINDOWS_MAX), memory_order_relaxed);
}

/*
 * Judges the figures the sample moved in the window of state v, and marks
 * those that crossed. true, and *out filled, when this call set a bit.
 *
 * A figure is judged over the last window's length, not from the window's
 * start: its count in this window plus the previous window's in proportion
 * to how much of that window is still within the length (a sliding window
 * estimate), so a burst that straddles two windows is judged whole.
 */
static bool judge(const struct ztg_behaviour_table *t, struct slot *sl, const struct entry *e,
		  const struct ztg_behaviour_params *p, uint64_t v, uint32_t touched, uint64_t now, uint64_t win,
		  uint64_t cur[], struct ztg_behaviour_crossing *out)
{
	uint32_t unjudged = touched & ~(uint32_t)(v & STATE_FIGURES), bits = 0, by_limit = 0;
	uint64_t start = v & ~STATE_LOW, exact = start_of(v, win);
	double left = now <= exact ? 1 : now - exact >= win ? 0 : 1 - (double)(now - exact) / (double)win;

	if (unjudged == 0)
		return false;
	for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
		uint32_t b = 1u << f;
		uint64_t c;

		if (!(unjudged & b) || (p->floor[f] == 0 && p->limit[f] == 0))
			continue;
		if (figure_sketch[f] >= 0)
			cur[f] = sketch_estimate(t, e->sketch[figure_sketch[f]]);
		cur[f] += (uint64_t)(double_load(&e->previous[f]) * left + 0.5);
		c = cur[f];
		if (p->limit[f] != 0 && c >= p->limit[f]) {
			bits |= b;
			by_limit |= b;
		} else if (p->floor[f] != 0 && c >= p->floor[f] && (double)c > p->factor * baseline_load(e, f)) {
			bits |= b;
		}
	}
	if (bits == 0)
		return false;
	for (;;) {
		if (atomic_compare_exchange_weak_explicit(&sl->state, &v, v | bits, memory_order_acq_rel,
							  memory_order_acquire))
			break;
		/* Another window, or being turned or claimed: this sample's window is closed. */
		if (v == BUSY || (v & STATE_TURNING) || (v & ~STATE_LOW) != start)
			return false;
		bits &= ~(uint32_t)(v & STATE_FIGURES);
		by_limit &= bits;
		if (bits == 0)
			return false;
	}
	if (out != NULL) {
		out->figures = bits;
		out->by_limit = by_limit;
		for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
			out->current[f] = (unjudged & (1u << f)) && (p->floor[f] || p->limit[f]) ? cur[f]
											  : figure_load(t, e, f);
			out->baseline[f] = baseline_load(e, f);
		}
		out->windows = atomic_load_explicit(&e->windows, memory_order_relaxed);
	}
	return true;
}

/* ---------------------------------------------------------------- lookup */

struct probe {
	uint32_t mine;                   /* key's slot, or UINT32_MAX */
	uint64_t state;                  /* its state as loaded */
	uint32_t free;                   /* a slot the key may claim, or UINT32_MAX */
	uint64_t free_state, free_risk;
};

/*
 * Scans key's group. A slot may be claimed when empty, or when idle: no
 * sample for `history` whole windows before now's, and risk below
 * RISK_RECLAIM at now. Claimable slots are looked for only when p is set.
 */
static void probe(const struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
		  uint64_t now, struct probe *pr)
{
	uint32_t base = group_of(t, key) * GROUP_SLOTS;
	uint64_t win = p ? window_of(p) : 0, w = p ? now - now % win : 0;

	pr->mine = UINT32_MAX;
	pr->free = UINT32_MAX;
	for (uint32_t i = 0; i < GROUP_SLOTS; i++) {
		const struct slot *sl = slot_at(t, base + i);
		uint64_t v = atomic_load_explicit(&sl->state, memory_order_acquire), k, st, r;

		if (v == BUSY)
			continue;
		k = atomic_load_explicit(&sl->key, memory_order_relaxed);
		if (k == key) {
			pr->mine = base + i;
			pr->state = v;
			return;
		}
		if (p == NULL || pr->free != UINT32_MAX || (v & STATE_TURNING))
			continue;
		r = atomic_load_explicit(&t->entries[base + i].risk, memory_order_relaxed);
		if (k != 0) {
			st = start_of(v, win);
			if (w <= st || (w - st) / win <= history_of(p))
				continue;
			if (risk_score_at(r, now, half_life_of(p)) >= RISK_RECLAIM)
				continue;
		}
		pr->free = base + i;
		pr->free_state = v;
		pr->free_risk = r;
	}
}

/*
 * Takes slot idx for key, its state and risk as probe() saw them; on
 * success the slot is BUSY with a reset entry: the caller adds its own and
 * publishes the state. false: someone else got there first, probe again.
 */
static bool claim(struct ztg_behaviour_table *t, uint32_t idx, uint64_t v, uint64_t r, uint64_t key)
{
	struct slot *sl = slot_at(t, idx);
	struct entry *e = &t->entries[idx];

	if (!atomic_compare_exchange_strong_explicit(&sl->state, &v, BUSY, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	if (!atomic_compare_exchange_strong_explicit(&e->risk, &r, r == 0 ? 1 : 0, memory_order_acq_rel,
						     memory_order_relaxed)) {
		/* The old key was given risk since the probe: it lives. Nothing else was written. */
		atomic_store_explicit(&sl->state, v, memory_order_release);
		return false;
	}
	atomic_store_explicit(&sl->key, key, memory_order_relaxed);
	for (int c = 0; c < COUNTERS; c++)
		atomic_store_explicit(&e->count[c], 0, memory_order_relaxed);
	for (uint32_t s = 0; s < SKETCHES; s++)
		for (uint32_t i = 0; i < SKETCH_WORDS; i++)
			atomic_store_explicit(&e->sketch[s][i], 0, memory_order_relaxed);
	for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
		atomic_store_explicit(&e->baseline[f], 0, memory_order_relaxed);
		atomic_store_explicit(&e->previous[f], 0, memory_order_relaxed);
	}
	atomic_store_explicit(&e->windows, 0, memory_order_relaxed);
	return true;
}

/* --------------------------------------------------------------- the API */

const char *ztg_behaviour_figure_name(enum ztg_behaviour_figure f)
{
	static const char *const names[ZTG_BEHAVIOUR_FIGURES] = {
		[ZTG_BEHAVIOUR_REQUESTS] = "requests", [ZTG_BEHAVIOUR_ERRORS] = "errors",
		[ZTG_BEHAVIOUR_OBJECTS] = "objects",   [ZTG_BEHAVIOUR_BYTES] = "bytes",
		[ZTG_BEHAVIOUR_AUTH_FAILURES] = "auth_failures",
		[ZTG_BEHAVIOUR_SOURCES] = "sources",   [ZTG_BEHAVIOUR_IDENTITIES] = "identities",
	};

	return (unsigned)f < ZTG_BEHAVIOUR_FIGURES ? names[f] : "?";
}

struct ztg_behaviour_table *ztg_behaviour_table_create(uint32_t capacity, int socket)
{
	struct ztg_behaviour_table *t;

	if (capacity < MIN_CAPACITY || !rte_is_power_of_2(capacity))
		return NULL;
	t = rte_zmalloc_socket("ztg_behaviour_table", sizeof(*t), RTE_CACHE_LINE_SIZE, socket);
	if (t == NULL)
		return NULL;
	t->groups = rte_zmalloc_socket("ztg_behaviour_slots", (size_t)capacity * sizeof(struct slot), GROUP_ALIGN,
				       socket);
	t->entries = rte_zmalloc_socket("ztg_behaviour_entries", (size_t)capacity * sizeof(struct entry),
					RTE_CACHE_LINE_SIZE, socket);
	if (t->groups == NULL || t->entries == NULL) {
		rte_free(t->groups);
		rte_free(t->entries);
		rte_free(t);
		return NULL;
	}
	t->capacity = capacity;
	t->group_mask = capacity / GROUP_SLOTS - 1;
	/* -m ln(z / m) = m (ln m - ln z); no zero bit reads as one. */
	for (uint32_t z = 1; z <= SKETCH_BITS; z++)
		t->estimate[z] = SKETCH_BITS * (log(SKETCH_BITS) - log(z));
	t->estimate[0] = t->estimate[1];
	return t;
}

void ztg_behaviour_table_free(struct ztg_behaviour_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->groups);
	rte_free(t->entries);
	rte_free(t);
}

bool ztg_behaviour_observe(struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
			   uint64_t now, const struct ztg_behaviour_sample *s, struct ztg_behaviour_crossing *out)
{
	uint64_t win = window_of(p), w = now - now % win, cur[ZTG_BEHAVIOUR_FIGURES];
	struct probe pr;

	if (key == 0)
		key = 1;
	for (;;) {
		probe(t, key, p, now, &pr);
		if (pr.mine != UINT32_MAX) {
			struct slot *sl = slot_at(t, pr.mine);
			struct entry *e = &t->entries[pr.mine];
			uint64_t v = pr.state, st = start_of(v, win);
			uint32_t touched;

			if (v & STATE_TURNING) {
				/* The winner is folding: land in the new window, judged by a later sample. */
				sample_add(e, s, cur);
				return false;
			}
			if (w > st) {
				uint64_t turning = (w & ~STATE_LOW) | STATE_TURNING;

				if (!atomic_compare_exchange_strong_explicit(&sl->state, &v, turning,
									     memory_order_acq_rel,
									     memory_order_relaxed))
					continue;
				window_fold(t, e, st, w, win, history_of(p));
				touched = sample_add(e, s, cur);
				v = w & ~STATE_LOW;
				atomic_store_explicit(&sl->state, v, memory_order_release);
			} else {
				/* This window, or a sample late from the last one (a lagging TSC): this window. */
				touched = sample_add(e, s, cur);
			}
			return judge(t, sl, e, p, v, touched, now, win, cur, out);
		}
		if (pr.free != UINT32_MAX) {
			struct slot *sl = slot_at(t, pr.free);
			struct entry *e = &t->entries[pr.free];
			uint32_t touched;
			uint64_t v = w & ~STATE_LOW;

			if (!claim(t, pr.free, pr.free_state, pr.free_risk, key))
				continue;
			touched = sample_add(e, s, cur);
			atomic_store_explicit(&sl->state, v, memory_order_release);
			return judge(t, sl, e, p, v, touched, now, win, cur, out);
		}
		atomic_fetch_add_explicit(&t->unplaced, 1, memory_order_relaxed);
		return false;
	}
}

double ztg_behaviour_risk_add(struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
			      uint64_t now, double weight, double threshold, bool *crossed)
{
	uint64_t hl = half_life_of(p), win = window_of(p);
	double before, after;
	struct probe pr;

	if (crossed != NULL)
		*crossed = false;
	if (key == 0)
		key = 1;
	for (;;) {
		probe(t, key, p, now, &pr);
		if (pr.mine != UINT32_MAX) {
			struct slot *sl = slot_at(t, pr.mine);
			struct entry *e = &t->entries[pr.mine];
			uint64_t r = atomic_load_explicit(&e->risk, memory_order_acquire);

			for (;;) {
				/* r is this key's only if, after loading it, the slot is neither claimed nor being claimed. */
				if (atomic_load_explicit(&sl->state, memory_order_acquire) == BUSY ||
				    atomic_load_explicit(&sl->key, memory_order_relaxed) != key)
					break;
				if (atomic_compare_exchange_weak_explicit(&e->risk, &r,
									  risk_next(r, now, hl, weight, &before, &after),
									  memory_order_acq_rel, memory_order_acquire))
					goto done;
			}
			continue;
		}
		if (pr.free != UINT32_MAX) {
			struct slot *sl = slot_at(t, pr.free);
			struct entry *e = &t->entries[pr.free];
			uint64_t r;

			if (!claim(t, pr.free, pr.free_state, pr.free_risk, key))
				continue;
			/* No one else writes R until the state is published, and a claim's R means no risk. */
			r = atomic_load_explicit(&e->risk, memory_order_relaxed);
			atomic_store_explicit(&e->risk, risk_next(r, now, hl, weight, &before, &after),
					      memory_order_relaxed);
			atomic_store_explicit(&sl->state, (now - now % win) & ~STATE_LOW, memory_order_release);
			goto done;
		}
		atomic_fetch_add_explicit(&t->unplaced, 1, memory_order_relaxed);
		return 0;
	}
done:
	if (crossed != NULL)
		*crossed = before < threshold && after >= threshold;
	return after;
}

double ztg_behaviour_risk(const struct ztg_behaviour_table *t, uint64_t key, const struct ztg_behaviour_params *p,
			  uint64_t now)
{
	struct probe pr;

	if (key == 0)
		key = 1;
	for (;;) {
		const struct slot *sl;
		uint64_t r;

		probe(t, key, NULL, now, &pr);
		if (pr.mine == UINT32_MAX)
			return 0;
		sl = slot_at(t, pr.mine);
		r = atomic_load_explicit(&t->entries[pr.mine].risk, memory_order_acquire);
		/* As in risk_add: r read after a claim shows in the state or the key. */
		if (atomic_load_explicit(&sl->state, memory_order_acquire) != BUSY &&
		    atomic_load_explicit(&sl->key, memory_order_relaxed) == key)
			return risk_score_at(r, now, half_life_of(p));
	}
}

bool ztg_behaviour_peek(const struct ztg_behaviour_table *t, uint64_t key, struct ztg_behaviour_crossing *out)
{
	const struct entry *e;
	struct probe pr;

	if (key == 0)
		key = 1;
	probe(t, key, NULL, 0, &pr);
	if (pr.mine == UINT32_MAX)
		return false;
	e = &t->entries[pr.mine];
	out->figures = (uint32_t)(pr.state & STATE_FIGURES);
	out->by_limit = 0;
	for (int f = 0; f < ZTG_BEHAVIOUR_FIGURES; f++) {
		out->current[f] = figure_load(t, e, f);
		out->baseline[f] = baseline_load(e, f);
	}
	out->windows = atomic_load_explicit(&e->windows, memory_order_relaxed);
	return true;
}

void ztg_behaviour_table_stats(const struct ztg_behaviour_table *t, struct ztg_behaviour_table_stats *out)
{
	uint32_t in_use = 0;

	for (uint32_t g = 0; g <= t->group_mask; g++) {
		for (uint32_t i = 0; i < GROUP_SLOTS; i++)
			in_use += atomic_load_explicit(&t->groups[g].slot[i].key, memory_order_relaxed) != 0;
	}
	out->capacity = t->capacity;
	out->in_use = in_use;
	out->unplaced = atomic_load_explicit(&t->unplaced, memory_order_relaxed);
}
