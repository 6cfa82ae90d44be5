/*
 * API keys: the policy stores only each key's SHA-256; a request's key is
 * hashed and looked up. The lookup compares digests with CRYPTO_memcmp
 * (constant time in the digest bytes) and touches the same number of
 * candidates whether or not the key is known, so response timing does not
 * tell an attacker how close a guess came.
 *
 * Immutable once built; shared read-only by every worker. Plain C with
 * OpenSSL (EVP SHA-256), no DPDK.
 */
#ifndef ZTG_AUTH_API_KEY_H
#define ZTG_AUTH_API_KEY_H

#include <stddef.h>
#include <stdint.h>

#define ZTG_API_KEY_MAX_KEYS  65536
#define ZTG_API_KEY_MAX_BYTES 512      /* longest key a request may present */

struct ztg_api_keys;

/*
 * Build the table over count digests (32 bytes each, digests[i] for key
 * index i). Two equal digests are refused. NULL with err on failure.
 */
struct ztg_api_keys *ztg_api_keys_build(const uint8_t (*digests)[32], uint32_t count, char *err, size_t err_len);
void ztg_api_keys_free(struct ztg_api_keys *keys);

/*
 * The index of the key whose digest is SHA-256(key[0..len)), or -1 (also for
 * an empty key or one longer than ZTG_API_KEY_MAX_BYTES).
 */
int ztg_api_keys_find(const struct ztg_api_keys *keys, const char *key, size_t len);

/* Parse 64 hex digits (either case) into a digest. 0, or -1. */
int ztg_api_key_digest_from_hex(const char *hex, size_t len, uint8_t out[32]);

#endif
