/*
 * The one way ztgate replaces a file it keeps (bundles, the last good
 * policy, revocations, fetched key sets): written whole to PATH.tmp (mode
 * 0600, never through a symlink), synced, renamed over PATH, and the
 * directory synced, so a crash leaves the old file or the new one, never
 * half of either. On failure PATH is untouched and PATH.tmp removed.
 */
#ifndef ZTG_ATOMIC_FILE_H
#define ZTG_ATOMIC_FILE_H

#include <stddef.h>

/* 0, or a negative errno with err saying what failed and where (one line). */
int ztg_atomic_file_write(const char *path, const void *data, size_t len, char *err, size_t err_len);

#endif
