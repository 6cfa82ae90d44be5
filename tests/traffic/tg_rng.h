/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Deterministic pseudo-random numbers for the traffic generator.
 *
 * xoshiro256** seeded through splitmix64: fast, good enough statistically for
 * traffic shapes, and byte-for-byte reproducible on every platform (only
 * 64-bit integer arithmetic, no floating point in the state).  Never used
 * for anything cryptographic.
 */
#ifndef ZTG_TRAFFIC_TG_RNG_H
#define ZTG_TRAFFIC_TG_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct tg_rng {
	uint64_t s[4];
};

static inline uint64_t tg_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Seed from a master seed and a stream number, so that independent streams
 * (one per session, one for the scheduler) never share state. */
static inline void tg_rng_seed(struct tg_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * UINT64_C(0xd1342543de82ef95));

	for (int i = 0; i < 4; i++)
		r->s[i] = tg_splitmix64(&x);
}

static inline uint64_t tg_rotl(uint64_t v, int k)
{
	return (v << k) | (v >> (64 - k));
}

static inline uint64_t tg_next(struct tg_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = tg_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = tg_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n); n == 0 gives 0.  Lemire's multiply-shift, the tiny
 * bias is irrelevant for traffic shapes. */
static inline uint64_t tg_below(struct tg_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)tg_next(r) * n) >> 64);
}

/* Uniform in [lo, hi] inclusive. */
static inline uint64_t tg_range(struct tg_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + tg_below(r, hi - lo + 1);
}

/* True with probability p (0 <= p <= 1), decided on 53 random bits. */
static inline bool tg_chance(struct tg_rng *r, double p)
{
	return (double)(tg_next(r) >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* Pick an index by integer weights (sum must be > 0). */
static inline unsigned tg_weighted(struct tg_rng *r, const unsigned *w, unsigned n)
{
	unsigned total = 0, i;

	for (i = 0; i < n; i++)
		total += w[i];
	uint64_t x = tg_below(r, total);
	for (i = 0; i + 1 < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

#endif
