/*
 * Fuzz target for loading a stored route matcher block
 * (ztg_route_matcher_from_block, dataplane/policy/route_match.h).
 *
 * Input: the bytes of a block, as a policy bundle would carry them. Seed
 * with blocks that build produced: most mutations of a valid block are what
 * the loader has to refuse.
 *
 * Checked: no crash and no sanitizer report whatever the bytes (the loader
 * copies them into an allocation of exactly their length, so ASan sees any
 * read past the block); a refusal says BAD_BLOCK with a message and a byte
 * offset inside the input; an accepted block reports its own length as its
 * size, and on it lookups of fixed paths with every method give answers
 * inside the path, naming routes of the matcher that allow the method;
 * route_info, param_name and methods_format work for every route; and,
 * the loader's strongest promise, building the routes it holds again gives
 * exactly the same bytes.
 */
#include <string.h>

#include "fuzz_check.h"
#include "policy/route_match.h"

static const char *const paths[] = {
	"/", "/a", "/a/", "/a/q", "/a/q/b/", "/a/q/b/t/u", "/q/b", "/a/q/zz/c", "/s/", "/s/x/y",
	"/zz", "/api/v1/res1/7", "/a/b/c/d/e/f/g/h/i/j/k/l", "//", "/a//b", "/%/x",
};

static void check_lookups(const struct ztg_route_matcher *m)
{
	uint32_t n = ztg_route_matcher_route_count(m);

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t len = strlen(paths[i]);
		/* exactly len bytes, so a read past the path is caught too */
		char *p = malloc(len);

		if (p == NULL)
			return;
		memcpy(p, paths[i], len);
		for (unsigned int method = 0; method <= ZTG_ROUTE_METHOD_LAST + 1; method++) {
			struct ztg_route_match out;
			struct ztg_route_info info;
			enum ztg_route_result r = ztg_route_matcher_match(m, method, p, len, &out);
			unsigned int mm = method <= ZTG_ROUTE_METHOD_LAST ? method : ZTG_HTTP_METHOD_OTHER;

			FUZZ_CHECK(ztg_route_matcher_match(m, method, p, len, NULL) == r);
			if (r == ZTG_ROUTE_NO_ROUTE) {
				FUZZ_CHECK(out.route_index == ZTG_ROUTE_NONE && out.param_count == 0 &&
					   out.allowed == 0 && !out.has_tail);
				continue;
			}
			FUZZ_CHECK(r == ZTG_ROUTE_MATCH || r == ZTG_ROUTE_METHOD_NOT_ALLOWED);
			FUZZ_CHECK(out.route_index < n);
			FUZZ_CHECK(ztg_route_matcher_route_info(m, out.route_index, &info) == 0);
			FUZZ_CHECK(out.route_id == info.route_id);
			FUZZ_CHECK(out.param_count == info.param_count && out.param_count <= ZTG_ROUTE_MAX_PARAMS);
			FUZZ_CHECK(out.has_tail == info.has_wildcard);
			if (r == ZTG_ROUTE_MATCH)
				FUZZ_CHECK(out.allowed == info.methods && (info.methods & ZTG_ROUTE_METHOD_BIT(mm)));
			else
				FUZZ_CHECK(!(out.allowed & ZTG_ROUTE_METHOD_BIT(mm)) &&
					   (out.allowed & info.methods) == info.methods);
			for (uint32_t c = 0; c < out.param_count; c++)
				FUZZ_CHECK(out.params[c].param == c && out.params[c].len > 0 && out.params[c].off >= 1 &&
					   out.params[c].off + out.params[c].len <= len);
			FUZZ_CHECK(!out.has_tail || (out.tail_off >= 1 && out.tail_off + out.tail_len == len));
		}
		free(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ztg_route_diag err;
	struct ztg_route_matcher *m = ztg_route_matcher_from_block(data, size, &err);

	if (m == NULL) {
		FUZZ_CHECK(err.code == ZTG_ROUTE_E_BAD_BLOCK || err.code == ZTG_ROUTE_E_NO_MEMORY);
		FUZZ_CHECK(err.message[0] != '\0' && err.message[ZTG_ROUTE_DIAG_LEN - 1] == '\0');
		FUZZ_CHECK(err.code != ZTG_ROUTE_E_BAD_BLOCK || err.position <= size);
		return 0;
	}
	FUZZ_CHECK(err.code == ZTG_ROUTE_E_NONE);
	FUZZ_CHECK(ztg_route_matcher_size(m) == size);
	FUZZ_CHECK(memcmp(ztg_route_matcher_block(m), data, size) == 0);
	check_lookups(m);

	uint32_t n = ztg_route_matcher_route_count(m);
	struct ztg_route_spec *specs = calloc(n ? n : 1, sizeof(*specs));
	FUZZ_CHECK(specs != NULL);
	for (uint32_t r = 0; r < n; r++) {
		struct ztg_route_info info;
		char ms[128];

		FUZZ_CHECK(ztg_route_matcher_route_info(m, r, &info) == 0);
		FUZZ_CHECK(strlen(info.template) == info.template_len);
		FUZZ_CHECK(info.param_count <= ZTG_ROUTE_MAX_PARAMS);
		FUZZ_CHECK(ztg_route_methods_format(info.methods, ms, sizeof(ms)) >= 0);
		for (uint32_t k = 0; k < info.param_count; k++) {
			const char *name = ztg_route_matcher_param_name(m, r, k);
			FUZZ_CHECK(name != NULL && name[0] != '\0' && strlen(name) <= ZTG_ROUTE_MAX_PARAM_NAME);
		}
		FUZZ_CHECK(ztg_route_matcher_param_name(m, r, info.param_count) == NULL);
		specs[r] = (struct ztg_route_spec){ info.template, info.methods, info.route_id };
	}
	FUZZ_CHECK(ztg_route_matcher_route_info(m, n, &(struct ztg_route_info){ 0 }) == -1);

	struct ztg_route_matcher *again = ztg_route_matcher_build(specs, n, NULL, &err);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(ztg_route_matcher_size(again) == size && memcmp(again, m, size) == 0);
	ztg_route_matcher_free(again);
	free(specs);
	ztg_route_matcher_free(m);
	return 0;
}
