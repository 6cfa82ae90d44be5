/*
 * A minimal DPDK EAL for unit tests that need rte_malloc or rte_hash: no
 * hugepages, no PCI, no telemetry, one lcore, and no shared runtime files
 * (--no-shconf) so test binaries can run in parallel. DPDK 22.11 refuses
 * --in-memory together with --no-huge (which implies legacy memory), so
 * --no-shconf is what keeps the runs apart.
 *
 * The EAL can be initialised once per process and never again after
 * rte_eal_cleanup(), so use these as the cmocka group setup and teardown:
 *     cmocka_run_group_tests(tests, ztg_eal_fixture_setup, ztg_eal_fixture_teardown);
 */
#ifndef ZTG_TEST_EAL_FIXTURE_H
#define ZTG_TEST_EAL_FIXTURE_H

/* Start the EAL (a no-op when it is already running). Returns 0, or -1 with a message on stderr. */
int ztg_eal_fixture_setup(void **state);

/* Release the EAL's resources; call once, after the last test. Returns 0. */
int ztg_eal_fixture_teardown(void **state);

#endif
