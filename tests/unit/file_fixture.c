#include "file_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int ztg_file_fixture_setup(void **state, const char *name, const char *file)
{
	struct ztg_file_fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ztg-%s-XXXXXX", name);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, file);
	*state = fx;
	return 0;
}

int ztg_file_fixture_teardown(void **state)
{
	struct ztg_file_fixture *fx = *state;
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->path);
	unlink(tmp);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}
