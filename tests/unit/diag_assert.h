/*
 * The loaders' tests ask one thing of a diagnostics list again and again:
 * is there an entry of this severity at this file:line saying this? When
 * there is not, the whole list is printed before the test fails.
 */
#ifndef ZTG_TEST_DIAG_ASSERT_H
#define ZTG_TEST_DIAG_ASSERT_H

#include <stdint.h>

#include "policy_load.h"

/* Fails the cmocka test unless diag holds an entry of severity at path:line whose message holds text. */
void ztg_test_expect_diag(const struct ztg_policy_diag *diag, enum ztg_policy_severity severity, const char *path,
			  uint32_t line, const char *text);

#endif
