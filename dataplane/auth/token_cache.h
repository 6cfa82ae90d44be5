/*
 * Per-worker cache of verified tokens, so a keep-alive client's every
 * request is checked without a signature verification each time.
 *
 * Keyed by the token's bytes: a lookup hashes them and then compares the
 * whole stored token (a hash collision can never hand out another token's
 * identity). An entry also records the epoch it was verified under (the
 * policy generation and the key sets in force, folded by the caller into one
 * number): a lookup under another epoch misses, so a policy swap or a key
 * removal re-verifies every token. An entry never outlives the token's exp:
 * a lookup at or after identity.expires misses and frees the slot. The cache
 * does not check revocation or quarantine; its caller does on every request.
 *
 * Set-associative (ways per set fixed), least recently used evicted within a
 * set; tokens longer than ZTG_TOKEN_CACHE_MAX_TOKEN are never cached. One
 * cache per worker, never shared: no locks, no atomics. Memory is allocated
 * once at creation. Plain C, no DPDK.
 */
#ifndef ZTG_AUTH_TOKEN_CACHE_H
#define ZTG_AUTH_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

#define ZTG_TOKEN_CACHE_MAX_TOKEN 2048
#define ZTG_TOKEN_CACHE_WAYS      4

struct ztg_token_cache;

struct ztg_token_cache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t expired;          /* lookups that found the token expired (counted in misses too) */
	uint64_t stale;            /* found under another epoch (counted in misses too) */
	uint64_t inserts;
	uint64_t evictions;        /* a live entry replaced to make room */
	uint64_t too_long;         /* inserts refused: token longer than the bound */
};

/* entries rounded up to a multiple of the ways (at least one set); 0 entries: NULL. NULL on failure. */
struct ztg_token_cache *ztg_token_cache_create(uint32_t entries);
void ztg_token_cache_free(struct ztg_token_cache *cache);

/* Bytes the cache allocated. */
size_t ztg_token_cache_size(const struct ztg_token_cache *cache);

/* The hash lookup and insert take: the same function for both, exposed so a caller hashes once. */
uint64_t ztg_token_cache_hash(const char *token, size_t len);

/*
 * The identity verified for exactly token[0..len) under epoch, if cached and
 * not expired at now (unix seconds): copied to *out, true. false otherwise.
 */
bool ztg_token_cache_lookup(struct ztg_token_cache *cache, const char *token, size_t len, uint64_t hash,
			    uint64_t epoch, int64_t now, struct ztg_identity *out);

/* Remember identity for token under epoch. A token already present is replaced. */
void ztg_token_cache_insert(struct ztg_token_cache *cache, const char *token, size_t len, uint64_t hash,
			    uint64_t epoch, const struct ztg_identity *identity);

/* Drop every entry (counters stay). */
void ztg_token_cache_clear(struct ztg_token_cache *cache);

void ztg_token_cache_get_stats(const struct ztg_token_cache *cache, struct ztg_token_cache_stats *out);

#endif
