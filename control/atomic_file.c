#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error_text.h"

/* The directory part of path ("." when it has none), for fsync after a rename. */
static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

int ztg_atomic_file_write(const char *path, const void *data, size_t len, char *err, size_t err_len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *p = data;
	int fd, dfd, rc = 0;

	if (path == NULL || (data == NULL && len > 0)) {
		ztg_error_set(err, err_len, "no path or no data to write");
		return -EINVAL;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		ztg_error_set(err, err_len, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		ztg_error_set(err, err_len, "cannot create %s: %s", tmp, strerror(-rc));
		return rc;
	}
	/* An existing PATH.tmp keeps its mode through O_TRUNC: these files hold keys and policies. */
	if (fchmod(fd, 0600) < 0)
		rc = -errno;
	for (size_t done = 0; rc == 0 && done < len;) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc != 0) {
		ztg_error_set(err, err_len, "cannot write %s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		ztg_error_set(err, err_len, "cannot rename %s to %s: %s", tmp, path, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* The rename is durable once the directory holding it is. */
	dir_of(path, dir, sizeof(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		rc = -errno;
		ztg_error_set(err, err_len, "wrote %s, but cannot sync its directory %s: %s", path, dir, strerror(-rc));
	}
	if (dfd >= 0)
		close(dfd);
	return rc;
}
