/*
 * For the micro-benchmarks that count TSC cycles per call (rate limits,
 * behaviour): what the TSC read inside each call costs. Header-only, like
 * bench_util.h, but for the benchmarks linked with DPDK.
 */
#ifndef ZTG_BENCH_TSC_H
#define ZTG_BENCH_TSC_H

#include <stdint.h>
#include <stdio.h>

#include <rte_cycles.h>

/* Cycles one rte_rdtsc() takes, over `calls` reads. */
static inline double rdtsc_cycles(uint32_t calls)
{
	uint64_t sink = 0, start = rte_rdtsc();

	for (uint32_t i = 0; i < calls; i++)
		sink += rte_rdtsc();
	if (sink == 0)
		puts("");
	return (double)(rte_rdtsc() - start) / calls;
}

#endif
