#include <stdlib.h>
#include <string.h>

#include "auth/token_cache.h"

#define CACHE_LINE 64

/*
 * What a lookup reads to find its way, for every way of one set, kept apart
 * from the identities and the token bytes so that scanning a set touches one
 * or two cache lines, not ways * (identity + token).
 */
struct set {
	uint64_t hash[ZTG_TOKEN_CACHE_WAYS];
	uint64_t epoch[ZTG_TOKEN_CACHE_WAYS];
	uint64_t used[ZTG_TOKEN_CACHE_WAYS];      /* tick of the last hit or insert; 0: the way is free */
	uint16_t len[ZTG_TOKEN_CACHE_WAYS];
} __attribute__((aligned(CACHE_LINE)));

_Static_assert(ZTG_TOKEN_CACHE_MAX_TOKEN <= UINT16_MAX, "token lengths are kept in 16 bits");

struct ztg_token_cache {
	uint32_t set_count;
	uint64_t tick;                  /* 64 bits: never wraps, so "older" stays true */
	size_t bytes;
	struct ztg_token_cache_stats stats;
	struct set *sets;
	struct ztg_identity *identities;        /* set s, way w at s * WAYS + w */
	char *tokens;                           /* ZTG_TOKEN_CACHE_MAX_TOKEN bytes per slot, same order */
};

static size_t align_up(size_t n)
{
	return (n + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
}

struct ztg_token_cache *ztg_token_cache_create(uint32_t entries)
{
	const size_t slot_bytes = sizeof(struct ztg_identity) + ZTG_TOKEN_CACHE_MAX_TOKEN;
	size_t set_count, slots, head, sets_bytes, total;
	struct ztg_token_cache *cache;
	char *base;

	if (entries == 0)
		return NULL;
	set_count = ((size_t)entries + ZTG_TOKEN_CACHE_WAYS - 1) / ZTG_TOKEN_CACHE_WAYS;
	slots = set_count * ZTG_TOKEN_CACHE_WAYS;
	head = align_up(sizeof(*cache));
	sets_bytes = align_up(set_count * sizeof(struct set));
	if (slots > (SIZE_MAX - head - sets_bytes - 2 * CACHE_LINE) / slot_bytes)
		return NULL;
	total = head + sets_bytes + align_up(slots * sizeof(struct ztg_identity)) +
		align_up(slots * ZTG_TOKEN_CACHE_MAX_TOKEN);
	base = aligned_alloc(CACHE_LINE, total);
	if (base == NULL)
		return NULL;
	/*
	 * Only the header and the sets need zeroes: a free way's identity and
	 * token are never read. Leaving the slab untouched lets the kernel back
	 * it with pages only as the cache fills.
	 */
	memset(base, 0, head + sets_bytes);
	cache = (struct ztg_token_cache *)base;
	cache->set_count = (uint32_t)set_count;
	cache->bytes = total;
	cache->sets = (struct set *)(base + head);
	cache->identities = (struct ztg_identity *)(base + head + sets_bytes);
	cache->tokens = base + head + sets_bytes + align_up(slots * sizeof(struct ztg_identity));
	return cache;
}

void ztg_token_cache_free(struct ztg_token_cache *cache)
{
	free(cache);
}

size_t ztg_token_cache_size(const struct ztg_token_cache *cache)
{
	return cache != NULL ? cache->bytes : 0;
}

/* ------------------------------------------------------------------ hash */

#define K0 0x9e3779b97f4a7c15ull
#define K1 0xd6e8feb86659fd93ull
#define K2 0xa0761d6478bd642full

static inline uint64_t read64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Both halves of the 128-bit product folded together: every input bit reaches most output bits. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * Not cryptographic, and need not be: a lookup compares the whole token after
 * the hash, so a collision, even one an attacker built, costs one memcmp and
 * can never return another token's identity. Only verified tokens are
 * inserted, so colliding tokens cannot crowd a set either.
 */
uint64_t ztg_token_cache_hash(const char *token, size_t len)
{
	const uint8_t *p = (const uint8_t *)token;
	uint8_t tail[16] = {0};
	uint64_t h = K0 ^ ((uint64_t)len * K1);
	size_t n = len;

	for (; n > sizeof(tail); p += 16, n -= 16)
		h = fold(read64(p) ^ K1, read64(p + 8) ^ h);
	/* The last 0..16 bytes, zero padded: the length mixed in above tells "a" from "a\0". */
	if (n > 0)
		memcpy(tail, p, n);
	h = fold(read64(tail) ^ K2, read64(tail + 8) ^ h);
	return fold(h ^ K0, h ^ K2);
}

/* ---------------------------------------------------------------- lookup */

/* The set a hash maps to: the high bits scaled to the set count, no division. */
static inline uint32_t set_of(const struct ztg_token_cache *cache, uint64_t hash)
{
	return (uint32_t)(((hash >> 32) * cache->set_count) >> 32);
}

static inline char *token_at(const struct ztg_token_cache *cache, size_t slot)
{
	return cache->tokens + slot * ZTG_TOKEN_CACHE_MAX_TOKEN;
}

/* The way holding exactly token[0..len) in set s, or -1. */
static int find_way(const struct ztg_token_cache *cache, uint32_t s, const char *token, size_t len, uint64_t hash)
{
	const struct set *set = &cache->sets[s];

	for (int w = 0; w < ZTG_TOKEN_CACHE_WAYS; w++) {
		if (set->used[w] == 0 || set->hash[w] != hash || set->len[w] != len)
			continue;
		/* len 0: memcmp must not be handed a NULL token, and there is nothing to compare. */
		if (len == 0 || memcmp(token_at(cache, (size_t)s * ZTG_TOKEN_CACHE_WAYS + (size_t)w), token, len) == 0)
			return w;
	}
	return -1;
}

bool ztg_token_cache_lookup(struct ztg_token_cache *cache, const char *token, size_t len, uint64_t hash,
			    uint64_t epoch, int64_t now, struct ztg_identity *out)
{
	uint32_t s = set_of(cache, hash);
	struct set *set = &cache->sets[s];
	const struct ztg_identity *id;
	int w = len <= ZTG_TOKEN_CACHE_MAX_TOKEN ? find_way(cache, s, token, len, hash) : -1;

	if (w < 0) {
		cache->stats.misses++;
		return false;
	}
	id = &cache->identities[(size_t)s * ZTG_TOKEN_CACHE_WAYS + (size_t)w];
	/* An entry that can never hit again is freed now, so it is the first way an insert takes. */
	if (set->epoch[w] != epoch || now >= id->expires) {
		if (set->epoch[w] != epoch)
			cache->stats.stale++;
		else
			cache->stats.expired++;
		cache->stats.misses++;
		set->used[w] = 0;
		return false;
	}
	cache->stats.hits++;
	set->used[w] = ++cache->tick;
	*out = *id;
	return true;
}

void ztg_token_cache_insert(struct ztg_token_cache *cache, const char *token, size_t len, uint64_t hash,
			    uint64_t epoch, const struct ztg_identity *identity)
{
	uint32_t s;
	struct set *set;
	size_t slot;
	int w;

	if (len > ZTG_TOKEN_CACHE_MAX_TOKEN) {
		cache->stats.too_long++;
		return;
	}
	s = set_of(cache, hash);
	set = &cache->sets[s];
	w = find_way(cache, s, token, len, hash);
	if (w < 0) {
		/* A free way if there is one (used 0 is the oldest tick), else the least recently used. */
		w = 0;
		for (int i = 1; i < ZTG_TOKEN_CACHE_WAYS; i++)
			if (set->used[i] < set->used[w])
				w = i;
		if (set->used[w] != 0)
			cache->stats.evictions++;
	}
	slot = (size_t)s * ZTG_TOKEN_CACHE_WAYS + (size_t)w;
	if (len > 0)
		memcpy(token_at(cache, slot), token, len);
	cache->identities[slot] = *identity;
	set->hash[w] = hash;
	set->epoch[w] = epoch;
	set->len[w] = (uint16_t)len;
	set->used[w] = ++cache->tick;
	cache->stats.inserts++;
}

void ztg_token_cache_clear(struct ztg_token_cache *cache)
{
	memset(cache->sets, 0, (size_t)cache->set_count * sizeof(struct set));
}

void ztg_token_cache_get_stats(const struct ztg_token_cache *cache, struct ztg_token_cache_stats *out)
{
	*out = cache->stats;
}
