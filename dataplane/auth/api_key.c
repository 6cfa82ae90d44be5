#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/api_key.h"
#include "../hex.h"
#include "../../control/error_text.h"

#define DIGEST_LEN 32
#define MIN_SLOTS  16

struct slot {
	uint8_t digest[DIGEST_LEN];     /* all zeroes when empty */
	int32_t index;                  /* the key's index; -1: empty */
};

struct ztg_api_keys {
	/*
	 * Fetched once at build: EVP_sha256() would have every find look the
	 * implementation up in the provider store again. Fetched objects are
	 * reference counted, so the workers share it.
	 */
	EVP_MD *sha256;
	uint32_t mask;                  /* slots - 1; slots is a power of two */
	uint32_t probes;                /* the longest probe sequence any key needs: what every find reads */
	struct slot slots[];
};

/* The home slot: the digest's first 8 bytes are as uniform as any. */
static inline uint32_t home_of(const uint8_t digest[DIGEST_LEN], uint32_t mask)
{
	uint64_t h;

	memcpy(&h, digest, sizeof(h));
	return (uint32_t)h & mask;
}

struct ztg_api_keys *ztg_api_keys_build(const uint8_t (*digests)[32], uint32_t count, char *err, size_t err_len)
{
	struct ztg_api_keys *keys;
	uint32_t slots = MIN_SLOTS;

	if (count > ZTG_API_KEY_MAX_KEYS)
		return ztg_error_set(err, err_len, "%u API keys, at most %u", count, ZTG_API_KEY_MAX_KEYS), NULL;
	if (count > 0 && digests == NULL)
		return ztg_error_set(err, err_len, "no digests for %u API keys", count), NULL;
	/* At most a quarter full, so the longest probe sequence, which every find pays, stays short. */
	while (slots < 4 * count)
		slots <<= 1;
	keys = calloc(1, sizeof(*keys) + (size_t)slots * sizeof(struct slot));
	if (keys == NULL)
		return ztg_error_set(err, err_len, "out of memory for %u API keys", count), NULL;
	keys->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (keys->sha256 == NULL) {
		free(keys);
		return ztg_error_set(err, err_len, "SHA-256 is not available from OpenSSL"), NULL;
	}
	keys->mask = slots - 1;
	for (uint32_t i = 0; i < slots; i++)
		keys->slots[i].index = -1;
	for (uint32_t k = 0; k < count; k++) {
		uint32_t pos = home_of(digests[k], keys->mask), len = 1;

		/* Without deletions an equal digest lies on this path, before the first empty slot. */
		for (; keys->slots[pos].index >= 0; pos = (pos + 1) & keys->mask, len++) {
			if (memcmp(keys->slots[pos].digest, digests[k], DIGEST_LEN) == 0) {
				uint32_t first = (uint32_t)keys->slots[pos].index;

				ztg_api_keys_free(keys);
				return ztg_error_set(err, err_len, "API keys %u and %u have the same SHA-256", first, k), NULL;
			}
		}
		memcpy(keys->slots[pos].digest, digests[k], DIGEST_LEN);
		keys->slots[pos].index = (int32_t)k;
		if (len > keys->probes)
			keys->probes = len;
	}
	return keys;
}

void ztg_api_keys_free(struct ztg_api_keys *keys)
{
	if (keys == NULL)
		return;
	EVP_MD_free(keys->sha256);
	free(keys);
}

/*
 * EVP_Digest allocates and frees a digest context inside OpenSSL on every
 * call: the table is shared by every worker, so it cannot hold one context
 * for all, and the API has no per-caller state to keep one in.
 *
 * Every find reads the same keys->probes slots from the digest's home and
 * compares each in full with CRYPTO_memcmp, then selects the match with a
 * mask rather than a branch: how long it takes depends on neither whether
 * the key is known nor how many digest bytes a guess got right.
 */
int ztg_api_keys_find(const struct ztg_api_keys *keys, const char *key, size_t len)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	uint32_t pos, found = 0;

	if (keys == NULL || key == NULL || len == 0 || len > ZTG_API_KEY_MAX_BYTES)
		return -1;
	if (EVP_Digest(key, len, digest, &digest_len, keys->sha256, NULL) != 1 || digest_len != DIGEST_LEN)
		return -1;
	pos = home_of(digest, keys->mask);
	for (uint32_t i = 0; i < keys->probes; i++) {
		const struct slot *s = &keys->slots[(pos + i) & keys->mask];
		uint32_t match = 0u - (uint32_t)(CRYPTO_memcmp(s->digest, digest, DIGEST_LEN) == 0);

		/* index + 1 is 0 for an empty slot, so even an all-zero digest matching one adds nothing. */
		found |= (uint32_t)(s->index + 1) & match;
	}
	return (int)found - 1;
}

int ztg_api_key_digest_from_hex(const char *hex, size_t len, uint8_t out[32])
{
	uint8_t digest[DIGEST_LEN];

	if (hex == NULL || len != 2 * DIGEST_LEN)
		return -1;
	for (size_t i = 0; i < DIGEST_LEN; i++) {
		int hi = ztg_hex_value((uint8_t)hex[2 * i]), lo = ztg_hex_value((uint8_t)hex[2 * i + 1]);

		if ((hi | lo) < 0)
			return -1;
		digest[i] = (uint8_t)(hi << 4 | lo);
	}
	/* out is written only on success: a caller's digest never ends up half parsed. */
	memcpy(out, digest, DIGEST_LEN);
	return 0;
}
