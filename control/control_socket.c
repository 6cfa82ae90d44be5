#include "control_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct ztg_control {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct ztg_control *ztg_control_open(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct ztg_control *c;
	char dir[sizeof(addr.sun_path)];
	mode_t old_mask;
	int rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "control socket path %s is longer than %zu bytes", path, sizeof(addr.sun_path) - 1);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	strcpy(c->path, path);
	strcpy(addr.sun_path, path);
	strcpy(dir, path);
	if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST) {
		snprintf(err, err_len, "cannot create the directory of %s: %s", path, strerror(errno));
		free(c);
		return NULL;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		snprintf(err, err_len, "control socket: %s", strerror(errno));
		free(c);
		return NULL;
	}
	/* A socket left by a ztgate that died: nothing listens on it any more. */
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		snprintf(err, err_len, "%s: another ztgate is listening there", path);
		close(c->fd);
		free(c);
		return NULL;
	}
	unlink(path);
	/* The mode is set at bind time through the umask, so there is no moment it is wider than 0600. */
	old_mask = umask(0177);
	rc = bind(c->fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (rc < 0 || listen(c->fd, 8) < 0) {
		snprintf(err, err_len, "control socket %s: %s", path, strerror(errno));
		close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

void ztg_control_close(struct ztg_control *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	unlink(c->path);
	free(c);
}

/* Read the request: arguments one per line, an empty line at the end. Returns argc or -1. */
static int read_request(int fd, char *buf, size_t cap, char **argv)
{
	size_t len = 0;
	int argc = 0;

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap)
			return -1;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 2 && strstr(buf, "\n\n") != NULL)
			break;
		if (len == 1 && buf[0] == '\n')
			break;
	}
	for (char *line = buf; *line != '\n' && *line != '\0';) {
		char *end = strchr(line, '\n');

		if (end == NULL || argc == ZTG_CONTROL_MAX_ARGS)
			return -1;
		*end = '\0';
		argv[argc++] = line;
		line = end + 1;
	}
	return argc;
}

/* send(), not write(): a peer that hangs up must cost an error, not a SIGPIPE that kills us. */
static void write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

int ztg_control_serve(struct ztg_control *c, int timeout_ms, ztg_control_handler handler, void *arg)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	struct timeval stall = {.tv_sec = 1};
	struct ztg_control_peer peer = {0};
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	char request[ZTG_CONTROL_MAX_REQUEST], *argv[ZTG_CONTROL_MAX_ARGS + 1], *body = NULL;
	size_t body_len = 0;
	enum ztg_control_status status;
	FILE *out;
	int fd, argc;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof(stall));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0) {
		close(fd);
		return 1;
	}
	peer = (struct ztg_control_peer){.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
	out = open_memstream(&body, &body_len);
	if (out == NULL) {
		close(fd);
		return -1;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		fprintf(out, "permission denied: uid %u may not control this ztgate\n", (unsigned int)cred.uid);
		status = ZTG_CONTROL_NEGATIVE;
	} else if ((argc = read_request(fd, request, sizeof(request), argv)) <= 0) {
		fprintf(out, "malformed request: arguments one per line, then an empty line\n");
		status = ZTG_CONTROL_USAGE;
	} else {
		argv[argc] = NULL;
		status = handler(arg, &peer, argc, argv, out);
	}
	fclose(out);
	{
		char head[32];
		int n = snprintf(head, sizeof(head), "ztg-status %d\n", (int)status);

		write_all(fd, head, (size_t)n);
	}
	write_all(fd, body, body_len);
	free(body);
	close(fd);
	return 1;
}

enum ztg_control_status ztg_control_call(const char *path, int argc, const char *const *argv, FILE *out,
					 char *err, size_t err_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char buf[4096], head[32];
	size_t head_len = 0;
	int fd, status = -1;
	ssize_t n;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "socket path %s is too long", path);
		return ZTG_CONTROL_UNREACHABLE;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, err_len, "cannot reach ztgate at %s: %s (is it running with --control-socket %s?)", path,
			 strerror(errno), path);
		if (fd >= 0)
			close(fd);
		return ZTG_CONTROL_UNREACHABLE;
	}
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], '\n') != NULL) {
			snprintf(err, err_len, "an argument holds a newline");
			close(fd);
			return ZTG_CONTROL_USAGE;
		}
		write_all(fd, argv[i], strlen(argv[i]));
		write_all(fd, "\n", 1);
	}
	write_all(fd, "\n", 1);
	/* "ztg-status N\n", then the body until the server closes. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t used = 0;

		while (status < 0 && used < (size_t)n) {
			char ch = buf[used++];

			if (ch == '\n') {
				head[head_len] = '\0';
				if (sscanf(head, "ztg-status %d", &status) != 1 || status < 0)
					break;
			} else if (head_len + 1 < sizeof(head)) {
				head[head_len++] = ch;
			}
		}
		if (status < 0 && used == (size_t)n)
			continue;
		if (status < 0)
			break;
		fwrite(buf + used, 1, (size_t)n - used, out);
	}
	close(fd);
	if (status < 0) {
		snprintf(err, err_len, "%s: no answer, or not one ztgate gives", path);
		return ZTG_CONTROL_UNREACHABLE;
	}
	return (enum ztg_control_status)status;
}
