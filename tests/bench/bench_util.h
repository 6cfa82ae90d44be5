/*
 * Helpers shared by the micro-benchmarks in tests/bench: a clock reading,
 * the median of a round's measurements, option parsing and the generators'
 * xorshift. Header-only (static inline): each benchmark is one C file.
 */
#ifndef ZTG_BENCH_UTIL_H
#define ZTG_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most measurements median() takes: a benchmark's MAX_ROUNDS must not exceed it. */
#define BENCH_MAX_ROUNDS 1000u

/* Clock id's reading in nanoseconds (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID ...). */
static inline double clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n), 0 < n <= BENCH_MAX_ROUNDS; v is left as it is. */
static inline double median(const double *v, uint32_t n)
{
	double tmp[BENCH_MAX_ROUNDS];

	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/*
 * Option opt's value s as a decimal number in min..max into *out: 0, or -1
 * after telling stderr, prefixed with prog, what was wrong.
 */
static inline int parse_u32(const char *prog, const char *opt, const char *s, uint32_t min, uint32_t max,
			    uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "%s: %s: \"%s\" is not a number in %u..%u\n", prog, opt, s, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* xorshift64 on *state: a number in 0..n-1 (the generators' fixed-seed randomness). */
static inline uint32_t xorshift_below(uint64_t *state, uint32_t n)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)((*state >> 11) % n);
}

#endif
