/*
 * Fuzz target for the policy bundle parser (control/bundle.h).
 *
 * The format is canonical: a bundle that parses re-encodes, from its files
 * and name, to exactly its own bytes. So besides "no crash, no sanitizer
 * report", every accepted input must round-trip byte for byte with the same
 * hash, and a rejected one must leave a one-line error.
 */
#include <string.h>

#include "bundle.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ztg_bundle_files files = {0};
	char hash[ZTG_BUNDLE_HASH_HEX_LEN + 1], again[ZTG_BUNDLE_HASH_HEX_LEN + 1];
	char name[ZTG_BUNDLE_POLICY_NAME_MAX + 1], err[512] = "";
	uint8_t *encoded = NULL;
	size_t encoded_len = 0;
	int rc;

	rc = ztg_bundle_parse(data, size, "fuzz", &files, hash, name, sizeof(name), err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc < 0 && err[0] != '\0' && strchr(err, '\n') == NULL);
		ztg_bundle_files_free(&files);
		return 0;
	}
	FUZZ_CHECK(strlen(hash) == ZTG_BUNDLE_HASH_HEX_LEN);
	FUZZ_CHECK(ztg_bundle_encode(&files, name, &encoded, &encoded_len, again, err, sizeof(err)) == 0);
	FUZZ_CHECK(encoded_len == size && memcmp(encoded, data, size) == 0);
	FUZZ_CHECK(strcmp(hash, again) == 0);
	free(encoded);
	ztg_bundle_files_free(&files);
	return 0;
}
