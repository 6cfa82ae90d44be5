/*
 * What the fuzz targets share: the libFuzzer entry point's prototype and a
 * check that stays on in every build type (assert() vanishes with NDEBUG),
 * printing the failed condition before abort() so libFuzzer saves the input.
 */
#ifndef ZTG_FUZZ_CHECK_H
#define ZTG_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif
