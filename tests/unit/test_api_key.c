/*
 * Unit tests for the API key table: keys found by their SHA-256 among many,
 * unknown, empty and oversized keys refused, duplicates refused at build,
 * digests that share the 8 bytes the table is addressed by, and the hex form
 * the policy stores digests in.
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
#include <openssl/evp.h>

#include "auth/api_key.h"

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
}

static void key_name(unsigned int i, char *out, size_t len)
{
	snprintf(out, len, "ztg_live_%u_%08x", i, i * 2654435761u);
}

static void test_find_among_1000(void **state)
{
	enum { N = 1000 };
	uint8_t (*digests)[32] = malloc(N * sizeof(*digests));
	struct ztg_api_keys *keys;
	char err[128], key[64];

	(void)state;
	for (unsigned int i = 0; i < N; i++) {
		key_name(i, key, sizeof(key));
		sha256(key, strlen(key), digests[i]);
	}
	keys = ztg_api_keys_build((const uint8_t (*)[32])digests, N, err, sizeof(err));
	assert_non_null(keys);
	for (unsigned int i = 0; i < N; i++) {
		key_name(i, key, sizeof(key));
		assert_int_equal(ztg_api_keys_find(keys, key, strlen(key)), (int)i);
	}
	/* Unknown keys, including every known key with one byte changed, and each one cut short. */
	for (unsigned int i = 0; i < N; i++) {
		key_name(i + N, key, sizeof(key));
		assert_int_equal(ztg_api_keys_find(keys, key, strlen(key)), -1);
		key_name(i, key, sizeof(key));
		assert_int_equal(ztg_api_keys_find(keys, key, strlen(key) - 1), -1);
		key[0] = 'Z';
		assert_int_equal(ztg_api_keys_find(keys, key, strlen(key)), -1);
	}
	ztg_api_keys_free(keys);
	free(digests);
}

static void test_known_vector_through_hex(void **state)
{
	uint8_t digest[1][32];
	struct ztg_api_keys *keys;
	char err[128];

	(void)state;
	assert_int_equal(ztg_api_key_digest_from_hex(ABC_SHA256, strlen(ABC_SHA256), digest[0]), 0);
	keys = ztg_api_keys_build((const uint8_t (*)[32])digest, 1, err, sizeof(err));
	assert_non_null(keys);
	assert_int_equal(ztg_api_keys_find(keys, "abc", 3), 0);
	assert_int_equal(ztg_api_keys_find(keys, "abd", 3), -1);
	assert_int_equal(ztg_api_keys_find(keys, "abc\0", 4), -1);
	ztg_api_keys_free(keys);
}

static void test_empty_and_oversized(void **state)
{
	char *big = malloc(ZTG_API_KEY_MAX_BYTES + 1);
	uint8_t digests[3][32];
	struct ztg_api_keys *keys;
	char err[128];

	(void)state;
	memset(big, 'k', ZTG_API_KEY_MAX_BYTES + 1);
	/* The table even holds the digests of the refused keys: refusal comes before the lookup. */
	sha256("", 0, digests[0]);
	sha256(big, ZTG_API_KEY_MAX_BYTES + 1, digests[1]);
	sha256(big, ZTG_API_KEY_MAX_BYTES, digests[2]);
	keys = ztg_api_keys_build((const uint8_t (*)[32])digests, 3, err, sizeof(err));
	assert_non_null(keys);
	assert_int_equal(ztg_api_keys_find(keys, "", 0), -1);
	assert_int_equal(ztg_api_keys_find(keys, big, ZTG_API_KEY_MAX_BYTES + 1), -1);
	assert_int_equal(ztg_api_keys_find(keys, big, ZTG_API_KEY_MAX_BYTES), 2);
	assert_int_equal(ztg_api_keys_find(keys, NULL, 3), -1);
	assert_int_equal(ztg_api_keys_find(NULL, "abc", 3), -1);
	ztg_api_keys_free(keys);
	free(big);
}

static void test_build_refusals(void **state)
{
	uint8_t digests[4][32];
	struct ztg_api_keys *keys;
	char err[128];

	(void)state;
	for (int i = 0; i < 4; i++)
		sha256(&i, sizeof(i), digests[i]);
	memcpy(digests[3], digests[1], 32);
	err[0] = '\0';
	assert_null(ztg_api_keys_build((const uint8_t (*)[32])digests, 4, err, sizeof(err)));
	assert_string_equal(err, "API keys 1 and 3 have the same SHA-256");

	assert_null(ztg_api_keys_build((const uint8_t (*)[32])digests, ZTG_API_KEY_MAX_KEYS + 1, err, sizeof(err)));
	assert_string_equal(err, "65537 API keys, at most 65536");
	assert_null(ztg_api_keys_build(NULL, 2, err, sizeof(err)));
	assert_string_equal(err, "no digests for 2 API keys");
	/* No err buffer: still refused, nothing written anywhere. */
	assert_null(ztg_api_keys_build((const uint8_t (*)[32])digests, 4, NULL, 0));

	/* No keys at all is a valid, empty table. */
	keys = ztg_api_keys_build(NULL, 0, err, sizeof(err));
	assert_non_null(keys);
	assert_int_equal(ztg_api_keys_find(keys, "abc", 3), -1);
	ztg_api_keys_free(keys);
	ztg_api_keys_free(NULL);
}

/*
 * The table is addressed by the first 8 digest bytes. Synthetic digests that
 * agree with a real key's in those 8 (and more) share its home slot and its
 * probe path; the real key must still resolve to its own index, whatever
 * order they were inserted in.
 */
static void test_shared_prefix_resolves_exactly(void **state)
{
	enum { TWINS = 40 };
	uint8_t digests[TWINS + 1][32], real[32];
	struct ztg_api_keys *keys;
	char err[128];

	(void)state;
	sha256("the-real-key", 12, real);
	for (uint32_t at = 0; at <= TWINS; at += TWINS / 2) {
		for (uint32_t i = 0, t = 0; i <= TWINS; i++) {
			memcpy(digests[i], real, 32);
			if (i == at)
				continue;
			/* Differ after the prefix: in byte 8, the last byte, or everywhere past 8. */
			if (t % 3 == 0)
				digests[i][8] ^= (uint8_t)(t + 1);
			else if (t % 3 == 1)
				digests[i][31] ^= (uint8_t)(t + 1);
			else
				memset(digests[i] + 8, (int)t, 24);
			t++;
		}
		keys = ztg_api_keys_build((const uint8_t (*)[32])digests, TWINS + 1, err, sizeof(err));
		assert_non_null(keys);
		assert_int_equal(ztg_api_keys_find(keys, "the-real-key", 12), (int)at);
		assert_int_equal(ztg_api_keys_find(keys, "the-real-kez", 12), -1);
		ztg_api_keys_free(keys);
	}

	/* A twin differing only in its last byte is a distinct digest, not a duplicate. */
	memcpy(digests[0], real, 32);
	memcpy(digests[1], real, 32);
	digests[1][31] ^= 1;
	keys = ztg_api_keys_build((const uint8_t (*)[32])digests, 2, err, sizeof(err));
	assert_non_null(keys);
	assert_int_equal(ztg_api_keys_find(keys, "the-real-key", 12), 0);
	ztg_api_keys_free(keys);
}

/* The largest table: every key still found, and the build is not refused. */
static void test_max_keys(void **state)
{
	uint8_t (*digests)[32] = malloc(ZTG_API_KEY_MAX_KEYS * sizeof(*digests));
	struct ztg_api_keys *keys;
	char err[128], key[64];

	(void)state;
	for (unsigned int i = 0; i < ZTG_API_KEY_MAX_KEYS; i++) {
		key_name(i, key, sizeof(key));
		sha256(key, strlen(key), digests[i]);
	}
	keys = ztg_api_keys_build((const uint8_t (*)[32])digests, ZTG_API_KEY_MAX_KEYS, err, sizeof(err));
	assert_non_null(keys);
	for (unsigned int i = 0; i < ZTG_API_KEY_MAX_KEYS; i += 97) {
		key_name(i, key, sizeof(key));
		assert_int_equal(ztg_api_keys_find(keys, key, strlen(key)), (int)i);
	}
	assert_int_equal(ztg_api_keys_find(keys, "not-a-key", 9), -1);
	ztg_api_keys_free(keys);
	free(digests);
}

static void test_hex(void **state)
{
	const char *upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
	const char *mixed = "Ba7816bF8f01CfEa414140dE5dAe2223b00361a396177a9cB410Ff61F20015aD";
	uint8_t lower_d[32], d[32], before[32];
	char bad[80];

	(void)state;
	assert_int_equal(ztg_api_key_digest_from_hex(ABC_SHA256, 64, lower_d), 0);
	assert_int_equal(lower_d[0], 0xba);
	assert_int_equal(lower_d[31], 0xad);
	sha256("abc", 3, d);
	assert_memory_equal(lower_d, d, 32);
	assert_int_equal(ztg_api_key_digest_from_hex(upper, 64, d), 0);
	assert_memory_equal(lower_d, d, 32);
	assert_int_equal(ztg_api_key_digest_from_hex(mixed, 64, d), 0);
	assert_memory_equal(lower_d, d, 32);

	/* Refused, and the output is left as it was. */
	memset(d, 0x5a, 32);
	memcpy(before, d, 32);
	assert_int_equal(ztg_api_key_digest_from_hex(ABC_SHA256, 63, d), -1);
	assert_int_equal(ztg_api_key_digest_from_hex(ABC_SHA256, 0, d), -1);
	assert_int_equal(ztg_api_key_digest_from_hex(NULL, 64, d), -1);
	snprintf(bad, sizeof(bad), "%s0", ABC_SHA256);
	assert_int_equal(ztg_api_key_digest_from_hex(bad, 65, d), -1);
	for (const char *c = "gG xz-:\x01\xff"; *c != '\0'; c++) {
		for (size_t at = 0; at < 64; at += 21) {
			memcpy(bad, ABC_SHA256, 65);
			bad[at] = *c;
			assert_int_equal(ztg_api_key_digest_from_hex(bad, 64, d), -1);
		}
	}
	memcpy(bad, ABC_SHA256, 65);
	bad[63] = '\0';
	assert_int_equal(ztg_api_key_digest_from_hex(bad, 64, d), -1);
	assert_memory_equal(d, before, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_among_1000),
		cmocka_unit_test(test_known_vector_through_hex),
		cmocka_unit_test(test_empty_and_oversized),
		cmocka_unit_test(test_build_refusals),
		cmocka_unit_test(test_shared_prefix_resolves_exactly),
		cmocka_unit_test(test_max_keys),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
