/*
 * Corpus replay without libFuzzer: a main() that feeds every file named on
 * the command line, or found directly inside a directory named there, to
 * LLVMFuzzerTestOneInput once, in name order. It lets an ordinary gcc build
 * run each fuzz target over its seeds and regression inputs as a unit test.
 *
 * Each input sits in a heap block of exactly its size, as under libFuzzer.
 * Exit status: 0 when every input ran (a failed check aborts), 1 when a path
 * cannot be read or no input was found at all (an empty replay proves
 * nothing, so a wrong path must not pass).
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_check.h"

static int run_file(const char *path, unsigned int *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;
	int ok = 0;

	if (f == NULL) {
		fprintf(stderr, "standalone: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		/* malloc(0) may return NULL; one spare byte keeps empty files simple. */
		buf = malloc((size_t)size + 1);
		if (buf != NULL && fread(buf, 1, (size_t)size, f) == (size_t)size) {
			LLVMFuzzerTestOneInput(buf, (size_t)size);
			(*count)++;
			ok = 1;
		}
	}
	if (!ok)
		fprintf(stderr, "standalone: %s: cannot read\n", path);
	free(buf);
	fclose(f);
	return ok ? 0 : -1;
}

static int only_files(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int run_dir(const char *dir, unsigned int *count)
{
	struct dirent **names;
	int n, i, rc = 0;

	n = scandir(dir, &names, only_files, alphasort);
	if (n < 0) {
		fprintf(stderr, "standalone: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >= (int)sizeof(path)) {
			fprintf(stderr, "standalone: %s/%s: path too long\n", dir, names[i]->d_name);
			rc = -1;
		} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path, count) < 0) {
			rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned int count = 0;
	int rc = 0, i;

	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "standalone: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) < 0 :
						 run_file(argv[i], &count) < 0) {
			rc = 1;
		}
	}
	printf("standalone: %u input(s) replayed from %d path(s)\n", count, argc - 1);
	if (count == 0) {
		fprintf(stderr, "standalone: no input found\n");
		rc = 1;
	}
	return rc;
}
