/*
 * Unit tests for the per-worker token cache: hits and misses, that a hash
 * collision never hands out another token's identity, epoch and expiry
 * misses, LRU eviction within a set, the length bound, and the counters.
 *
 * A cache of 4 entries has exactly one set, so every token lands in it: that
 * is how the tests force collisions and evictions without searching for
 * tokens whose hashes agree. The hash is also passed in by hand where a test
 * needs two tokens to share it exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/token_cache.h"

#define NEVER INT64_MAX
#define NOW   1700000000

static struct ztg_identity identity(const char *subject, int64_t expires)
{
	struct ztg_identity id;

	memset(&id, 0, sizeof(id));
	id.kind = ZTG_IDENTITY_JWT;
	id.expires = expires;
	id.subject_len = (uint8_t)strlen(subject);
	memcpy(id.subject, subject, id.subject_len);
	return id;
}

static void put(struct ztg_token_cache *c, const char *token, uint64_t epoch, const char *subject, int64_t expires)
{
	struct ztg_identity id = identity(subject, expires);

	ztg_token_cache_insert(c, token, strlen(token), ztg_token_cache_hash(token, strlen(token)), epoch, &id);
}

/* Whether token hits under epoch at now; when it does, that it carries subject. */
static bool hit(struct ztg_token_cache *c, const char *token, uint64_t epoch, int64_t now, const char *subject)
{
	struct ztg_identity out;

	if (!ztg_token_cache_lookup(c, token, strlen(token), ztg_token_cache_hash(token, strlen(token)), epoch, now,
				    &out))
		return false;
	assert_string_equal(out.subject, subject);
	return true;
}

static struct ztg_token_cache_stats stats_of(const struct ztg_token_cache *c)
{
	struct ztg_token_cache_stats s;

	ztg_token_cache_get_stats(c, &s);
	return s;
}

static void test_create(void **state)
{
	struct ztg_token_cache *c5, *c8;

	(void)state;
	assert_null(ztg_token_cache_create(0));
	c5 = ztg_token_cache_create(5);
	c8 = ztg_token_cache_create(8);
	assert_non_null(c5);
	assert_non_null(c8);
	/* 5 entries round up to two sets of four, the same as 8. */
	assert_int_equal(ztg_token_cache_size(c5), ztg_token_cache_size(c8));
	assert_true(ztg_token_cache_size(c8) >= 8 * (ZTG_TOKEN_CACHE_MAX_TOKEN + sizeof(struct ztg_identity)));
	assert_int_equal(ztg_token_cache_size(NULL), 0);
	ztg_token_cache_free(c5);
	ztg_token_cache_free(c8);
	ztg_token_cache_free(NULL);
}

static void test_hit_and_miss(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(64);
	struct ztg_identity in = identity("alice", NEVER), out;
	const char *tok = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";

	(void)state;
	in.scopes = 0x5;
	in.claims_present = 1;
	in.claim_len[0] = 4;
	memcpy(in.claims[0], "acme", 4);
	ztg_token_cache_insert(c, tok, strlen(tok), ztg_token_cache_hash(tok, strlen(tok)), 7, &in);
	memset(&out, 0xa5, sizeof(out));
	assert_true(ztg_token_cache_lookup(c, tok, strlen(tok), ztg_token_cache_hash(tok, strlen(tok)), 7, NOW, &out));
	assert_memory_equal(&out, &in, sizeof(in));

	assert_false(hit(c, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln", 7, NOW, "bob"));
	/* A prefix of a cached token is another token. */
	assert_false(ztg_token_cache_lookup(c, tok, strlen(tok) - 1, ztg_token_cache_hash(tok, strlen(tok) - 1), 7, NOW,
					    &out));
	assert_int_equal(stats_of(c).hits, 1);
	assert_int_equal(stats_of(c).misses, 2);
	ztg_token_cache_free(c);
}

static void test_collision_same_set(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(4);
	const char *tokens[] = {"token-aaaa", "token-bbbb", "token-cccc", "token-dddd"};
	const char *subjects[] = {"a", "b", "c", "d"};
	const uint64_t forged = 0x0123456789abcdefull;
	struct ztg_identity out;

	(void)state;
	/* All four in the one set, and all under the very same hash value. */
	for (int i = 0; i < 4; i++) {
		struct ztg_identity id = identity(subjects[i], NEVER);

		ztg_token_cache_insert(c, tokens[i], strlen(tokens[i]), forged, 1, &id);
	}
	for (int i = 0; i < 4; i++) {
		assert_true(ztg_token_cache_lookup(c, tokens[i], strlen(tokens[i]), forged, 1, NOW, &out));
		assert_string_equal(out.subject, subjects[i]);
	}
	/* Same hash, same length, other bytes: never one of theirs. */
	assert_false(ztg_token_cache_lookup(c, "token-eeee", 10, forged, 1, NOW, &out));
	assert_int_equal(stats_of(c).evictions, 0);
	ztg_token_cache_free(c);
}

static void test_collision_right_hash_wrong_bytes(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(1024);
	const char *cached = "header.payload-of-alice.signature";
	const char *other = "header.payload-of-mallo.signature";
	struct ztg_identity out;

	(void)state;
	assert_int_equal(strlen(cached), strlen(other));
	put(c, cached, 1, "alice", NEVER);
	/* The lookup claims the cached token's hash for other bytes of the same length. */
	assert_false(ztg_token_cache_lookup(c, other, strlen(other), ztg_token_cache_hash(cached, strlen(cached)), 1,
					    NOW, &out));
	/* A single differing last byte is enough. */
	assert_false(ztg_token_cache_lookup(c, "header.payload-of-alice.signaturf", strlen(cached),
					    ztg_token_cache_hash(cached, strlen(cached)), 1, NOW, &out));
	assert_true(hit(c, cached, 1, NOW, "alice"));
	ztg_token_cache_free(c);
}

static void test_epoch_change_misses(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(16);

	(void)state;
	put(c, "tok", 1, "alice", NEVER);
	assert_true(hit(c, "tok", 1, NOW, "alice"));
	assert_false(hit(c, "tok", 2, NOW, "alice"));
	assert_int_equal(stats_of(c).stale, 1);
	/* The stale entry was freed: the old epoch does not bring it back. */
	assert_false(hit(c, "tok", 1, NOW, "alice"));
	assert_int_equal(stats_of(c).stale, 1);
	put(c, "tok", 2, "alice-again", NEVER);
	assert_true(hit(c, "tok", 2, NOW, "alice-again"));
	ztg_token_cache_free(c);
}

static void test_expiry_at_exact_second(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(16);

	(void)state;
	put(c, "tok", 1, "alice", NOW + 60);
	assert_true(hit(c, "tok", 1, NOW, "alice"));
	assert_true(hit(c, "tok", 1, NOW + 59, "alice"));
	assert_false(hit(c, "tok", 1, NOW + 60, "alice"));
	assert_int_equal(stats_of(c).expired, 1);
	/* Freed: not even an earlier clock finds it again. */
	assert_false(hit(c, "tok", 1, NOW, "alice"));
	assert_int_equal(stats_of(c).expired, 1);
	assert_int_equal(stats_of(c).hits, 2);
	assert_int_equal(stats_of(c).misses, 2);
	ztg_token_cache_free(c);
}

static void test_lru_eviction_order(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(4);

	(void)state;
	put(c, "A", 1, "a", NEVER);
	put(c, "B", 1, "b", NEVER);
	put(c, "C", 1, "c", NEVER);
	put(c, "D", 1, "d", NEVER);
	assert_int_equal(stats_of(c).evictions, 0);
	/* Use order now: B C D A. */
	assert_true(hit(c, "A", 1, NOW, "a"));
	put(c, "E", 1, "e", NEVER);                   /* evicts B */
	assert_int_equal(stats_of(c).evictions, 1);
	assert_false(hit(c, "B", 1, NOW, "b"));
	/* Use order now: C D A E; touching C and D leaves A oldest. */
	assert_true(hit(c, "C", 1, NOW, "c"));
	assert_true(hit(c, "D", 1, NOW, "d"));
	put(c, "F", 1, "f", NEVER);                   /* evicts A */
	assert_false(hit(c, "A", 1, NOW, "a"));
	assert_true(hit(c, "E", 1, NOW, "e"));
	assert_true(hit(c, "C", 1, NOW, "c"));
	assert_true(hit(c, "D", 1, NOW, "d"));
	assert_true(hit(c, "F", 1, NOW, "f"));
	assert_int_equal(stats_of(c).evictions, 2);
	/* A freed way (here by expiry) is taken before any live one is evicted. */
	put(c, "G", 1, "g", NOW + 1);
	assert_false(hit(c, "E", 1, NOW, "e"));       /* E was the oldest: evicted for G */
	assert_false(hit(c, "G", 1, NOW + 1, "g"));   /* expired, freed */
	put(c, "H", 1, "h", NEVER);
	assert_int_equal(stats_of(c).evictions, 3);
	assert_true(hit(c, "C", 1, NOW, "c"));
	assert_true(hit(c, "D", 1, NOW, "d"));
	assert_true(hit(c, "F", 1, NOW, "f"));
	assert_true(hit(c, "H", 1, NOW, "h"));
	ztg_token_cache_free(c);
}

static void test_too_long_not_cached(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(16);
	char *tok = malloc(ZTG_TOKEN_CACHE_MAX_TOKEN + 2);
	struct ztg_identity id = identity("alice", NEVER), out;
	uint64_t h;

	(void)state;
	memset(tok, 'x', ZTG_TOKEN_CACHE_MAX_TOKEN + 1);
	tok[ZTG_TOKEN_CACHE_MAX_TOKEN + 1] = '\0';
	h = ztg_token_cache_hash(tok, ZTG_TOKEN_CACHE_MAX_TOKEN + 1);
	ztg_token_cache_insert(c, tok, ZTG_TOKEN_CACHE_MAX_TOKEN + 1, h, 1, &id);
	assert_int_equal(stats_of(c).too_long, 1);
	assert_int_equal(stats_of(c).inserts, 0);
	assert_false(ztg_token_cache_lookup(c, tok, ZTG_TOKEN_CACHE_MAX_TOKEN + 1, h, 1, NOW, &out));

	/* Exactly the bound is cached, and compared in full. */
	h = ztg_token_cache_hash(tok, ZTG_TOKEN_CACHE_MAX_TOKEN);
	ztg_token_cache_insert(c, tok, ZTG_TOKEN_CACHE_MAX_TOKEN, h, 1, &id);
	assert_true(ztg_token_cache_lookup(c, tok, ZTG_TOKEN_CACHE_MAX_TOKEN, h, 1, NOW, &out));
	tok[ZTG_TOKEN_CACHE_MAX_TOKEN - 1] = 'y';
	assert_false(ztg_token_cache_lookup(c, tok, ZTG_TOKEN_CACHE_MAX_TOKEN, h, 1, NOW, &out));
	assert_int_equal(stats_of(c).too_long, 1);
	assert_int_equal(stats_of(c).inserts, 1);
	free(tok);
	ztg_token_cache_free(c);
}

static void test_replace_on_reinsert(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(4);

	(void)state;
	put(c, "A", 1, "first", NEVER);
	put(c, "A", 2, "second", NEVER);
	assert_false(hit(c, "A", 1, NOW, "first"));
	put(c, "A", 2, "third", NEVER);
	assert_true(hit(c, "A", 2, NOW, "third"));
	/* One way holds A: three more fit without an eviction. */
	put(c, "B", 2, "b", NEVER);
	put(c, "C", 2, "c", NEVER);
	put(c, "D", 2, "d", NEVER);
	assert_int_equal(stats_of(c).evictions, 0);
	assert_true(hit(c, "A", 2, NOW, "third"));
	assert_true(hit(c, "B", 2, NOW, "b"));
	assert_true(hit(c, "C", 2, NOW, "c"));
	assert_true(hit(c, "D", 2, NOW, "d"));
	ztg_token_cache_free(c);
}

static void test_clear(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(64);
	char tok[32];

	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		put(c, tok, 1, "s", NEVER);
	}
	assert_true(hit(c, "token-3", 1, NOW, "s"));
	ztg_token_cache_clear(c);
	for (int i = 0; i < 20; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		assert_false(hit(c, tok, 1, NOW, "s"));
	}
	/* Counters stay; the cache is usable again. */
	assert_int_equal(stats_of(c).inserts, 20);
	assert_int_equal(stats_of(c).hits, 1);
	assert_int_equal(stats_of(c).misses, 20);
	put(c, "token-3", 1, "s", NEVER);
	assert_true(hit(c, "token-3", 1, NOW, "s"));
	ztg_token_cache_free(c);
}

static void test_stats(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(4);
	char big[ZTG_TOKEN_CACHE_MAX_TOKEN + 10];
	struct ztg_identity id = identity("x", NEVER);
	struct ztg_token_cache_stats s;

	(void)state;
	memset(big, 'b', sizeof(big));
	put(c, "A", 1, "a", NEVER);
	put(c, "B", 1, "b", NOW + 10);
	put(c, "C", 1, "c", NEVER);
	put(c, "D", 1, "d", NEVER);
	put(c, "E", 1, "e", NEVER);                   /* evicts A */
	ztg_token_cache_insert(c, big, sizeof(big), ztg_token_cache_hash(big, sizeof(big)), 1, &id);
	assert_true(hit(c, "C", 1, NOW, "c"));
	assert_true(hit(c, "D", 1, NOW, "d"));
	assert_false(hit(c, "A", 1, NOW, "a"));       /* plain miss */
	assert_false(hit(c, "B", 1, NOW + 10, "b"));  /* expired */
	assert_false(hit(c, "C", 9, NOW, "c"));       /* stale */
	ztg_token_cache_get_stats(c, &s);
	assert_int_equal(s.hits, 2);
	assert_int_equal(s.misses, 3);
	assert_int_equal(s.expired, 1);
	assert_int_equal(s.stale, 1);
	assert_int_equal(s.inserts, 5);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.too_long, 1);
	ztg_token_cache_free(c);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_hash(void **state)
{
	enum { N = 20000 };
	uint64_t *h = malloc(N * sizeof(*h));
	char tok[64];

	(void)state;
	/* The length is part of the hash: trailing zero bytes make another token. */
	assert_true(ztg_token_cache_hash("a", 1) != ztg_token_cache_hash("a\0", 2));
	assert_true(ztg_token_cache_hash("", 0) != ztg_token_cache_hash("\0", 1));
	assert_int_equal(ztg_token_cache_hash("same", 4), ztg_token_cache_hash("same", 4));
	/* Near-identical tokens of every length through two blocks: no two 64-bit hashes equal. */
	for (int i = 0; i < N; i++) {
		int n = snprintf(tok, sizeof(tok), "%0*d", 1 + i % 40, i);

		h[i] = ztg_token_cache_hash(tok, (size_t)n);
	}
	qsort(h, N, sizeof(*h), cmp_u64);
	for (int i = 1; i < N; i++)
		assert_true(h[i - 1] != h[i]);
	free(h);
}

/* Many tokens through a real-sized cache: whatever survives eviction answers with its own identity. */
static void test_many_tokens(void **state)
{
	struct ztg_token_cache *c = ztg_token_cache_create(4096);
	char tok[64], subject[32];
	unsigned int hits = 0;

	(void)state;
	for (int i = 0; i < 2048; i++) {
		snprintf(tok, sizeof(tok), "eyJ.token-number-%d.sig", i);
		snprintf(subject, sizeof(subject), "user-%d", i);
		put(c, tok, 3, subject, NEVER);
	}
	for (int i = 0; i < 2048; i++) {
		snprintf(tok, sizeof(tok), "eyJ.token-number-%d.sig", i);
		snprintf(subject, sizeof(subject), "user-%d", i);
		hits += hit(c, tok, 3, NOW, subject);
	}
	/* Half full: only a set that drew more than four of them evicted any. */
	assert_true(hits + stats_of(c).evictions == 2048);
	assert_true(hits > 1900);
	ztg_token_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_hit_and_miss),
		cmocka_unit_test(test_collision_same_set),
		cmocka_unit_test(test_collision_right_hash_wrong_bytes),
		cmocka_unit_test(test_epoch_change_misses),
		cmocka_unit_test(test_expiry_at_exact_second),
		cmocka_unit_test(test_lru_eviction_order),
		cmocka_unit_test(test_too_long_not_cached),
		cmocka_unit_test(test_replace_on_reinsert),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_many_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
