/*
 * Tally: one worker's labelled counters (requests by route, verdict and
 * reason; signature hits by rule id; authentication failures by reason) in
 * a fixed table sized at start, so counting never allocates and its label
 * sets stay bounded.
 *
 * An entry is a tag (kind, a, b: numbers only, never an identity or a path)
 * and a name: a string with static storage (a reason name from one of the
 * reason tables), or NULL. Entries are compared by the name's address, so
 * one name may appear under two addresses; readers merge by the text.
 *
 * One writer per table (its worker), any number of readers on other threads:
 * an entry's fields are written before its tag is published (release) and a
 * reader sees an entry only once its tag is (acquire). Counts are read racily,
 * as stats.h describes for the scalar counters. An entry is never removed; a
 * full table (or a long probe) counts into `overflow` instead.
 */
#ifndef ZTG_TALLY_H
#define ZTG_TALLY_H

#include <stddef.h>
#include <stdint.h>

enum ztg_tally_kind {
	ZTG_TALLY_REQUEST = 1,        /* a = route label slot, b = enum ztg_tally_verdict, name = reason */
	ZTG_TALLY_RULE,               /* b = signature rule id, name NULL */
	ZTG_TALLY_AUTH_FAILURE,       /* name = the authentication reason (credentials_missing, expired, ...) */
	ZTG_TALLY_RESPONSE_BLOCKED,   /* a = route label slot, name = reason */
};

/* What happened to a request, as the label verdict="..." says it. */
#define ZTG_TALLY_VERDICTS(X)                                              \
	X(ALLOW, "allow")                                                  \
	X(DENY, "deny")          /* 403 (or 401) to the client */          \
	X(RESET, "reset")                                                  \
	X(DROP, "drop")                                                    \
	X(MONITORED, "monitored") /* would have been stopped: monitor mode */

enum ztg_tally_verdict {
#define ZTG_TALLY_VERDICT_ENUM(sym, name) ZTG_TALLY_##sym,
	ZTG_TALLY_VERDICTS(ZTG_TALLY_VERDICT_ENUM)
#undef ZTG_TALLY_VERDICT_ENUM
	ZTG_TALLY_VERDICT_COUNT
};

const char *ztg_tally_verdict_name(enum ztg_tally_verdict verdict);

struct ztg_tally_entry {
	uint64_t tag;                  /* 0: free; written last, read first */
	const char *name;
	uint64_t count;
};

struct ztg_tally {
	uint32_t mask;                 /* capacity - 1 */
	uint64_t overflow;             /* counts that found no entry */
	struct ztg_tally_entry entries[];
};

/* a must fit 24 bits; kind is never 0, so a tag never is. */
static inline uint64_t ztg_tally_tag(enum ztg_tally_kind kind, uint32_t a, uint32_t b)
{
	return (uint64_t)kind << 56 | (uint64_t)(a & 0xffffff) << 32 | b;
}

static inline enum ztg_tally_kind ztg_tally_tag_kind(uint64_t tag) { return (enum ztg_tally_kind)(tag >> 56); }
static inline uint32_t ztg_tally_tag_a(uint64_t tag) { return (uint32_t)(tag >> 32) & 0xffffff; }
static inline uint32_t ztg_tally_tag_b(uint64_t tag) { return (uint32_t)tag; }

/* Bytes a table of `capacity` entries (a power of two, >= 16) takes. */
size_t ztg_tally_size(uint32_t capacity);

/* Make mem (ztg_tally_size(capacity) bytes, any content) an empty table. */
struct ztg_tally *ztg_tally_init(void *mem, uint32_t capacity);

/* The writer: count n more under (tag, name). Never allocates, never fails: overflow counts the rest. */
void ztg_tally_add(struct ztg_tally *t, uint64_t tag, const char *name, uint64_t n);

/* Readers: one merged row per (tag, name text), summed over the tables given. */
struct ztg_tally_row {
	uint64_t tag;
	const char *name;              /* NULL when the entries had none */
	uint64_t count;
};

/*
 * The rows of one kind (0: every kind) across `count` tables, merged and
 * sorted by tag, then name. *rows is malloc'd (free() it; NULL when there are
 * none); *overflow (may be NULL) gets the summed overflow. Returns the number
 * of rows, or -1 when memory ran out.
 */
long ztg_tally_collect(const struct ztg_tally *const *tables, unsigned int count, enum ztg_tally_kind kind,
		       struct ztg_tally_row **rows, uint64_t *overflow);

#endif
