#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "diag_assert.h"

void ztg_test_expect_diag(const struct ztg_policy_diag *diag, enum ztg_policy_severity severity, const char *path,
			  uint32_t line, const char *text)
{
	for (uint32_t i = 0; i < diag->count; i++) {
		const struct ztg_policy_diag_entry *e = &diag->entries[i];

		if (e->severity == severity && strcmp(e->file, path) == 0 && e->line == line &&
		    strstr(e->message, text) != NULL)
			return;
	}
	ztg_policy_diag_print(stderr, diag);
	fail_msg("no %s at %s:%u holding \"%s\"", ztg_policy_severity_name(severity), path, line, text);
}
