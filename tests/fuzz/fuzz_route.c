/*
 * Fuzz target for the route matcher (dataplane/policy/route_match.h).
 *
 * Input: lines. A line "T<m>template" adds a route with template and the
 * methods of byte m: '*' is ANY, any other byte is a mask of methods
 * (shifted past OTHER, widened to the valid bits; none left means ANY). Any
 * other line is a request path. The routes are compiled (which may refuse them),
 * then every path is matched with every method.
 *
 * Checked: no crash and no sanitizer report, whatever the templates and
 * paths; a build that fails says why; a match names a route of the matcher
 * whose methods allow the method; captures and the tail lie inside the path;
 * the path shape never overflows its buffer and is a prefix-free rewrite
 * (never longer than the buffer it was given).
 */
#include <string.h>

#include "fuzz_check.h"
#include "policy/route_match.h"

#define MAX_ROUTES 64
#define MAX_PATHS  16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ztg_route_spec specs[MAX_ROUTES];
	const char *paths[MAX_PATHS];
	size_t path_len[MAX_PATHS];
	uint32_t nspecs = 0, npaths = 0;
	struct ztg_route_diag diag;
	struct ztg_route_matcher *m;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *line = text, *next; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == 'T' && line[1] != '\0' && nspecs < MAX_ROUTES) {
			uint32_t mask = line[1] == '*' ? 0 : ((uint32_t)(uint8_t)line[1] << 1) & ZTG_ROUTE_METHOD_ANY;

			specs[nspecs] = (struct ztg_route_spec){.template = line + 2,
								.methods = mask ? mask : ZTG_ROUTE_METHOD_ANY,
								.route_id = nspecs};
			nspecs++;
		} else if (npaths < MAX_PATHS) {
			paths[npaths] = line;
			path_len[npaths++] = strlen(line);
		}
	}
	m = ztg_route_matcher_build(specs, nspecs, NULL, &diag);
	if (m == NULL)
		FUZZ_CHECK(diag.code != ZTG_ROUTE_E_NONE && diag.message[0] != '\0');
	for (uint32_t p = 0; p < npaths; p++) {
		char shape[64];
		ssize_t n = ztg_route_path_shape(paths[p], path_len[p], shape, sizeof(shape));

		FUZZ_CHECK(n < (ssize_t)sizeof(shape));
		for (unsigned int method = 0; m != NULL && method <= ZTG_ROUTE_METHOD_LAST + 1; method++) {
			struct ztg_route_match out;
			enum ztg_route_result r = ztg_route_matcher_match(m, method, paths[p], path_len[p], &out);

			if (r != ZTG_ROUTE_MATCH)
				continue;
			FUZZ_CHECK(out.route_index < nspecs);
			FUZZ_CHECK(out.param_count <= ZTG_ROUTE_MAX_PARAMS);
			for (uint32_t c = 0; c < out.param_count; c++)
				FUZZ_CHECK(out.params[c].off + out.params[c].len <= path_len[p] && out.params[c].len > 0);
			FUZZ_CHECK(!out.has_tail || out.tail_off + out.tail_len <= path_len[p]);
		}
	}
	ztg_route_matcher_free(m);
	free(text);
	return 0;
}
