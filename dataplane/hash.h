/*
 * The dataplane's byte-string hash for its own tables: FNV-1a (64-bit) and
 * MurmurHash3's finaliser, for keys nobody can aim at (the policy's names,
 * the operator's entries) or that a secret seed is mixed into first.
 * Not for bytes an attacker picks with the result stored unkeyed.
 */
#ifndef ZTG_HASH_H
#define ZTG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define ZTG_HASH_FNV1A_SEED 0xcbf29ce484222325ull

static inline uint64_t ztg_hash_fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *b = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* s and its NUL: strings hashed one after another stay apart ("ab", "c" is not "a", "bc"). */
static inline uint64_t ztg_hash_fnv1a_string(uint64_t h, const char *s)
{
	for (;; s++) {
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
		if (*s == '\0')
			return h;
	}
}

/* Every input bit reaches every output bit: for hashes whose high or low bits alone pick a slot. */
static inline uint64_t ztg_hash_fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

#endif
