#include "eal_fixture.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>

/* The EAL itself is process-wide state, so its lifecycle has to be too. */
static enum { EAL_DOWN, EAL_UP, EAL_CLEANED } eal_state = EAL_DOWN;

/* The first CPU this process may run on: CI containers rarely grant CPU 0 for certain. */
static int first_allowed_cpu(void)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return 0;
}

int ztg_eal_fixture_setup(void **state)
{
	char lcore[16];
	/* rte_eal_init() may reorder argv, so it gets a writable copy. */
	char *argv[] = {
		(char *)"test", (char *)"--no-huge", (char *)"-m", (char *)"128", (char *)"--no-pci",
		(char *)"--no-shconf", (char *)"--no-telemetry", (char *)"--log-level=lib.eal:error",
		(char *)"-l", lcore,
	};

	if (eal_state == EAL_UP)
		return 0;
	if (eal_state == EAL_CLEANED) {
		fprintf(stderr, "eal_fixture: the EAL cannot be started again after cleanup\n");
		return -1;
	}
	snprintf(lcore, sizeof(lcore), "%d", first_allowed_cpu());
	if (rte_eal_init((int)RTE_DIM(argv), argv) < 0) {
		fprintf(stderr, "eal_fixture: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	eal_state = EAL_UP;
	return 0;
}

int ztg_eal_fixture_teardown(void **state)
{
	if (eal_state == EAL_UP) {
		rte_eal_cleanup();
		eal_state = EAL_CLEANED;
	}
	return 0;
}
