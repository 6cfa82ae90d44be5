/*
 * Signature compilation: the rules of every set a policy selects, compiled
 * with Hyperscan into one database per field (one per header name for the
 * "header" field): block mode for fields matched whole, streaming mode for
 * bodies (signatures.h, ZTG_SIG_STREAM_FIELDS). A pattern's Hyperscan id is
 * the rule's index in the compiled rule table, so a match maps back to its
 * rule and field with no search.
 *
 * A pattern Hyperscan refuses fails the whole compilation with the rule's
 * file:line, id, pattern and Hyperscan's message: never silently dropped.
 * Databases serialize into bundle records (policy_compile.h's way) so a
 * bundle carries them compiled; a record is taken back only when its rule
 * digest matches the rules loaded from the same bundle and Hyperscan
 * accepts the bytes for this platform.
 *
 * The compiled form is immutable; scanning needs a per-worker scratch
 * (ztg_sig_scratch_alloc) sized for every database of it.
 *
 * Plain C with Hyperscan; no DPDK.
 */
#ifndef ZTG_SIG_COMPILE_H
#define ZTG_SIG_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs.h>

#include "bundle.h"
#include "signatures.h"

/* Bundle record names: this prefix, then the database's field name (and ":" and the header name). */
#define ZTG_SIG_COMPILED_RECORD "compiled/signatures/"

struct ztg_sig_db {
	enum ztg_sig_field field;
	const char *header;           /* HEADER: lowercase header name; else NULL */
	bool streaming;
	hs_database_t *db;
	uint32_t pattern_count;
	size_t bytes;                 /* hs_database_size() */
};

struct ztg_sig_compiled {
	const struct ztg_sig_rule **rules;   /* by pattern id; point into the sets, which must outlive this */
	uint32_t rule_count;
	struct ztg_sig_db *dbs;
	uint32_t db_count;
	double compile_seconds;       /* wall time in Hyperscan's compile calls, all databases; 0 from records */
	size_t bytes;                 /* sum of the databases */
	char digest[65];              /* SHA-256 over the rules compiled (ids, fields, header, flags, literal bit,
					 validator, pattern bytes, in table order), lowercase hex */
};

/*
 * Compile the rules of sets[0..set_count). Ids must be unique across the
 * sets (a duplicate is reported at both places). Errors go to diag with
 * file:line (diag may be NULL); every database is tried, so one run reports
 * a refused pattern in each. Returns 0 with *out set, -EINVAL (reported),
 * -ENOMEM, -EIO (OpenSSL).
 */
int ztg_sig_compile(const struct ztg_sig_set *const *sets, uint32_t set_count, struct ztg_sig_compiled **out,
		    struct ztg_policy_diag *diag);

void ztg_sig_compiled_free(struct ztg_sig_compiled *compiled);

/* The database for a field (and header name for HEADER, compared case-insensitively), or NULL when no rule uses it. */
const struct ztg_sig_db *ztg_sig_compiled_db(const struct ztg_sig_compiled *compiled, enum ztg_sig_field field,
					     const char *header, size_t header_len);

/*
 * Append one bundle record per database to files (format: sig_compile.c).
 * 0, or -ENOMEM / -EIO with err, or -EINVAL when a header name is not an
 * HTTP token (it could not name a record) or a record would be larger than
 * ZTG_BUNDLE_MAX_FILE_BYTES; on failure files is as it was.
 */
int ztg_sig_compiled_records(const struct ztg_sig_compiled *compiled, struct ztg_bundle_files *files, char *err,
			     size_t err_len);

/*
 * The compiled form of sets from the records among files, when every
 * database the rules need is there, its digest matches and Hyperscan takes
 * its bytes: 0 with *out. 1 when the files hold no such records, or hold
 * them compiled for another CPU or Hyperscan version (compile then; err
 * says why when there were records); -EINVAL with err when a record is
 * there but unusable.
 */
int ztg_sig_compiled_from_records(const struct ztg_sig_set *const *sets, uint32_t set_count,
				  const struct ztg_bundle_files *files, struct ztg_sig_compiled **out, char *err,
				  size_t err_len);

/*
 * A new scratch for one worker, large enough for every database of compiled
 * (*scratch is NULL when compiled has none). 0, or -ENOMEM, or -EINVAL when
 * Hyperscan refuses a database.
 */
int ztg_sig_scratch_alloc(const struct ztg_sig_compiled *compiled, hs_scratch_t **scratch);

#endif
