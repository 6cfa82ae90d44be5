/*
 * A private directory per test for the modules that keep a state file
 * (revocations, quarantine): /tmp/ztg-NAME-XXXXXX and the path of FILE in
 * it. Teardown removes the file, the ".tmp" an atomic write may leave, and
 * the directory.
 */
#ifndef ZTG_TEST_FILE_FIXTURE_H
#define ZTG_TEST_FILE_FIXTURE_H

struct ztg_file_fixture {
	char dir[64];
	char path[128];
};

/* *state becomes a struct ztg_file_fixture. 0, or -1 when the directory cannot be made. */
int ztg_file_fixture_setup(void **state, const char *name, const char *file);
int ztg_file_fixture_teardown(void **state);

#endif
