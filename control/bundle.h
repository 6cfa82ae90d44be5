/*
 * Policy bundles: one file holding a policy and every file it includes,
 * under a SHA-256 content hash. An operator validates a policy once, ships
 * the bundle, applies it anywhere; ztgate keeps the last good one on disk and
 * enforces it again after a restart.
 *
 * Format, version 1. Binary-safe (file bodies are raw bytes of a given
 * length); every integer is ASCII decimal, so `head` shows the header:
 *
 *     ztgate-bundle 1\n
 *     sha256 <64 lowercase hex digits>\n
 *     name <policy name>\n
 *     files <N>\n
 *     \n
 *   then N records:
 *     file <relative name> <length>\n
 *     <length bytes>\n
 *
 *  - sha256 covers every byte after the empty line ending the header: the N
 *    records, exactly as stored, to the end of the file. The header lines
 *    themselves are not covered: `name` is informational only.
 *  - name: the policy's name, 1 to 64 of A-Z a-z 0-9 _ . - (the policy
 *    language's name syntax).
 *  - N: 1 to ZTG_BUNDLE_MAX_FILES. The first record is the main policy file,
 *    named by its file name alone (no '/'); the others are the files it
 *    includes, directly or not, each once, in the order a depth-first walk of
 *    the @include directives first meets them; then the files the policy
 *    names (issuers' JWKS, PEM and CA files, signature rule sets) and the compiled records
 *    (policy_source.h, policy_compile.h).
 *  - A record's name is the @include name as written, relative to the main
 *    file's directory (libconfig resolves every include, nested ones too,
 *    against that one directory). It is the record's text from after
 *    "file " to its last space: 1 to 255 bytes, '/'-separated components
 *    that are never empty, "." or ".." (so no leading '/', no "//", no
 *    trailing '/'), and no byte below 0x20, 0x7f, '"' or '\\'. Names are
 *    unique, and no name is a directory of another ("a" and "a/b").
 *  - length: decimal, no sign, no leading zero, at most
 *    ZTG_BUNDLE_MAX_FILE_BYTES. The body is followed by exactly one '\n'.
 *  - Nothing follows the last record; the whole file is at most
 *    ZTG_BUNDLE_MAX_BYTES.
 * A reader accepts exactly this: any other byte is an error that says what
 * was expected and at which byte (and header line).
 *
 * The same input files and name always give the same bundle, byte for byte.
 *
 * Errors: every function that can fail returns 0 or a negative errno value
 * and, when err is not NULL, writes one line (no trailing newline) saying
 * what is wrong into err (err_len bytes, truncated to fit). Messages about a
 * policy file start with `file:line:`, the file shown as the policy path's
 * directory plus the include name; messages about a bundle start with the
 * bundle's path. Codes:
 *   -EINVAL     bad input: a bad include, a format error, a hash mismatch,
 *               a bound exceeded, a bad argument;
 *   -ENOMEM     out of memory;
 *   -ENOTEMPTY  ztg_bundle_extract(): the target directory holds files;
 *   -ENAMETOOLONG a path does not fit PATH_MAX or the caller's buffer;
 *   other       the errno of a failed system call (ENOENT, EACCES, EIO, ...).
 *
 * Plain C over files and bytes (libc, OpenSSL's EVP for SHA-256). Nothing
 * here is global; calls on different objects may run in parallel.
 */
#ifndef ZTG_BUNDLE_H
#define ZTG_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define ZTG_BUNDLE_MAGIC             "ztgate-bundle "
#define ZTG_BUNDLE_VERSION           1
#define ZTG_BUNDLE_MAX_FILES         256
#define ZTG_BUNDLE_MAX_FILE_BYTES    (32u << 20)    /* one file's body: a compiled signature database of 10,000 rules is 4 MiB */
#define ZTG_BUNDLE_MAX_BYTES         (256u << 20)   /* the whole bundle */
#define ZTG_BUNDLE_FILE_NAME_MAX     255            /* a record's name, in bytes */
#define ZTG_BUNDLE_POLICY_NAME_MAX   64             /* the header's name; as ZTG_POLICY_NAME_MAX */
#define ZTG_BUNDLE_MAX_INCLUDE_DEPTH 10             /* libconfig's own limit on nested includes */
#define ZTG_BUNDLE_HASH_HEX_LEN      64             /* hash_hex buffers hold this plus a NUL */

/* One file of a bundle: name as described above, NUL-terminated; len bytes of data. Both owned. */
struct ztg_bundle_file {
	char *name;
	uint8_t *data;
	size_t len;
};

/* The files of one bundle, main policy file first. All-zero is a valid empty set. */
struct ztg_bundle_files {
	struct ztg_bundle_file *files;
	uint32_t count;
};

/* Frees every file and leaves files empty. NULL is a no-op. */
void ztg_bundle_files_free(struct ztg_bundle_files *files);

/*
 * Read the policy file at policy_path and, recursively, every file an
 * `@include "name"` directive of it names, as libconfig would: a directive
 * counts only where libconfig's scanner sees one (at the start of a line
 * after optional blanks, `@include`, blanks, a double-quoted name; never in
 * a #, // or block comment or inside a string). Names resolve against the
 * directory of policy_path. A file included more than once is stored once.
 *
 * out: receives the files (free with ztg_bundle_files_free()); left empty on
 *      failure. Must not be NULL.
 *
 * Fails with -EINVAL for: an include name that is not a bundle name (see
 * above; ".." and absolute names included), an unterminated or escaped
 * (backslash) include name, an include cycle, includes nested deeper than
 * ZTG_BUNDLE_MAX_INCLUDE_DEPTH, a file that is not a regular file, more than
 * ZTG_BUNDLE_MAX_FILES files, a file over ZTG_BUNDLE_MAX_FILE_BYTES, files
 * that would not fit ZTG_BUNDLE_MAX_BYTES. An unreadable file fails with its
 * errno; the message names it, and the includer's file:line when an include
 * named it.
 */
int ztg_bundle_collect(const char *policy_path, struct ztg_bundle_files *out, char *err, size_t err_len);

/*
 * Lay files out as a bundle named name (the policy's name) in memory.
 * out/out_len: the bundle, malloc'd (free() it). hash_hex: receives its
 * content hash, lowercase, NUL-terminated; NULL if not wanted. The files are
 * checked as a reader would check them (-EINVAL).
 */
int ztg_bundle_encode(const struct ztg_bundle_files *files, const char *name, uint8_t **out, size_t *out_len,
		      char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len);

/*
 * Parse and verify a bundle held in memory, strictly (see the format).
 *
 * source:   what to call the bundle in messages (its path); NULL: "bundle".
 * out:      receives copies of its files; NULL to only verify.
 * hash_hex: receives the verified content hash; NULL if not wanted.
 * name/name_len: receive the header's policy name; NULL if not wanted.
 * Returns 0, -EINVAL (with what and where) or -ENOMEM. Nothing is handed out
 * unless the hash matches.
 */
int ztg_bundle_parse(const uint8_t *data, size_t len, const char *source, struct ztg_bundle_files *out,
		     char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *name, size_t name_len, char *err,
		     size_t err_len);

/*
 * ztg_bundle_collect() policy_path, encode it as name, and write it to
 * out_path atomically: to out_path.tmp (mode 0600, created or truncated),
 * fsync, rename over out_path, fsync out_path's directory. On failure
 * out_path is untouched and out_path.tmp removed. hash_hex: as in encode.
 * The policy is not validated here: load it with ztg_policy_load() first.
 */
int ztg_bundle_write(const char *policy_path, const char *name, const char *out_path,
		     char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len);

/* 1 if the file at path starts with ZTG_BUNDLE_MAGIC, 0 if not (shorter files too), -1 if it cannot be read. */
int ztg_bundle_is_bundle(const char *path);

/*
 * Parse and verify the bundle at bundle_path, then write its files under
 * dir, so that ztg_policy_load(main_path) loads the policy and names each
 * file as dir/<its include name>.
 *
 * dir:       created (mode 0700) when missing, its parent must exist; an
 *            existing directory must be empty (-ENOTEMPTY otherwise). Files
 *            are created mode 0600, subdirectories 0700.
 * main_path: receives dir/<main file name> (main_len bytes; -ENAMETOOLONG
 *            when it does not fit, checked before anything is written).
 * hash_hex:  receives the verified content hash; NULL if not wanted.
 * Nothing is written unless the whole bundle is valid; when writing fails
 * halfway, what was written is removed again (dir too, if it was created).
 */
int ztg_bundle_extract(const char *bundle_path, const char *dir, char *main_path, size_t main_len,
		       char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len);

/*
 * ztg_bundle_extract() of a bundle already in memory (len bytes at data),
 * named source in messages (NULL: "bundle"): extracts exactly the bytes a
 * caller also keeps or persists, with no second read of a file that may have
 * changed in between.
 */
int ztg_bundle_extract_data(const uint8_t *data, size_t len, const char *source, const char *dir, char *main_path,
			    size_t main_len, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *err, size_t err_len);

/*
 * The content hash of the bundle at path, after a full parse and
 * verification (as extract does, without writing anything): what identifies
 * a persisted bundle. name/name_len: receive its policy name; NULL if not
 * wanted.
 */
int ztg_bundle_hash_file(const char *path, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1], char *name, size_t name_len,
			 char *err, size_t err_len);

/* SHA-256 of len bytes as 64 lowercase hex digits and a NUL. 0, or -EIO if OpenSSL fails. */
int ztg_bundle_sha256_hex(const void *data, size_t len, char hash_hex[ZTG_BUNDLE_HASH_HEX_LEN + 1]);

#endif /* ZTG_BUNDLE_H */
