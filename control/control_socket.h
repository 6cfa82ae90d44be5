/*
 * The control socket: how ztgatectl talks to a running ztgate.
 *
 * A unix stream socket, created mode 0600, served by the main lcore between
 * its management ticks; workers never see it. One request per connection:
 * the client writes its arguments one per line and an empty line; the
 * server checks the peer's credentials (SO_PEERCRED: root or ztgate's own
 * user only), answers with a first line "ztg-status N" (the exit status the
 * client should return, as ztgatectl documents them) and the body, then
 * closes. Requests are bounded (ZTG_CONTROL_MAX_ARGS arguments,
 * ZTG_CONTROL_MAX_REQUEST bytes) and a client that stalls is dropped after a
 * second, so one bad client cannot stall management.
 */
#ifndef ZTG_CONTROL_SOCKET_H
#define ZTG_CONTROL_SOCKET_H

#include <stdio.h>
#include <sys/types.h>

#define ZTG_CONTROL_DEFAULT_PATH "/run/ztgate/ztgate.sock"
#define ZTG_CONTROL_MAX_ARGS     16
#define ZTG_CONTROL_MAX_REQUEST  8192

/* Exit statuses, shared with ztgatectl. */
enum ztg_control_status {
	ZTG_CONTROL_OK = 0,
	ZTG_CONTROL_NEGATIVE = 1,      /* the command ran; the answer is no (a policy with errors, ...) */
	ZTG_CONTROL_USAGE = 2,
	ZTG_CONTROL_UNREACHABLE = 3,
	ZTG_CONTROL_INTERNAL = 4,
};

struct ztg_control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/*
 * Handle one request: argv[0] is the command. Write the body to out and
 * return the status for the client.
 */
typedef enum ztg_control_status (*ztg_control_handler)(void *arg, const struct ztg_control_peer *peer, int argc,
						    char **argv, FILE *out);

struct ztg_control;

/* Create the socket at path (its directory too, mode 0700). NULL with err filled on failure. */
struct ztg_control *ztg_control_open(const char *path, char *err, size_t err_len);

/* Close and unlink. NULL is a no-op. */
void ztg_control_close(struct ztg_control *control);

/* Wait up to timeout_ms for a client; serve at most one. Returns 1 if one was served, 0 if none, -1 on error. */
int ztg_control_serve(struct ztg_control *control, int timeout_ms, ztg_control_handler handler, void *arg);

/*
 * Client side (ztgatectl): send argv[0..argc) to the ztgate listening at
 * path and copy the answer's body to out. Returns the status ztgate gave,
 * or ZTG_CONTROL_UNREACHABLE with err filled when it cannot be reached or
 * answers nonsense.
 */
enum ztg_control_status ztg_control_call(const char *path, int argc, const char *const *argv, FILE *out,
					 char *err, size_t err_len);

#endif
