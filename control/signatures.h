/*
 * Signature rules: the rule language ztgate's Hyperscan matching reads
 * (issue 6). A rule set is one libconfig file:
 *
 *   name = "sqli";                       # the set's name; policies select sets by it
 *   rules = (
 *     { id = 100101;                     # unique among every set a policy loads, 1..2^31-1
 *       message = "SQL injection: UNION-based SELECT";
 *       severity = "high";               # info | low | medium | high | critical
 *       action = "score"; score = 5;     # block | alert | score (score = 1..1000 toward the route's threshold)
 *       fields = [ "query", "arg_values", "request_body" ];
 *       pattern = "\\bunion\\b[^a-z]{1,40}\\bselect\\b";   # Hyperscan regex syntax
 *       flags = "i";                     # i caseless, s dotall, m multiline, u UTF-8, p UCP
 *       # or: literal = "${jndi:";       # exact bytes, Hyperscan's literal path (flags i allowed)
 *       tags = [ "sqli", "owasp-a03" ];
 *       mode = "monitor";                # optional: log what the rule would do, never block
 *     }
 *   );
 *
 * Fields (what part of a message a pattern is matched against):
 *   method            the request method as sent
 *   path              the canonical path (decoded, dot segments removed)
 *   query_raw         the query string as sent
 *   query             the decoded query string
 *   arg_names         each query (and form) argument name, decoded, one at a time
 *   arg_values        each argument value, decoded, one at a time
 *   header            one named header's values: the rule says header = "User-Agent"
 *   headers           every request header line, "name: value", one at a time
 *   cookies           each Cookie header's value
 *   request_body      the request body, streamed across segments and chunks
 *   response_status   the response status code as three digits
 *   response_headers  every response header line, one at a time
 *   response_body     the response body, streamed
 * "header" needs the rule's header key; no other field takes it.
 *
 * Keys of a rule, as the loader checks them (any other key is an error):
 *   id        required; an integer 1..2^31-1, unique in the set
 *   message   required; 1..ZTG_SIG_MESSAGE_MAX bytes, no control characters
 *   severity, action   required; the names of ZTG_SIG_SEVERITIES / ZTG_SIG_ACTIONS
 *   score     required with action "score" (1..ZTG_SIG_SCORE_MAX), refused with any other
 *   fields    required; a non-empty list of the field names above, each once
 *   header    required with the field "header", refused without it: an HTTP
 *             field name (1..ZTG_POLICY_HEADER_NAME_MAX token characters),
 *             stored lowercase
 *   pattern | literal   exactly one; 1..ZTG_SIG_PATTERN_MAX bytes
 *   flags     optional; letters of i s m u p, each once; p needs u; a literal takes only i
 *   validator optional, with pattern only: "luhn" or "iban" (ZTG_SIG_VALIDATORS);
 *             a match then counts only when the candidate ending at it
 *             passes that check (dataplane/detect/validator.h). Refused
 *             with literal: exact bytes leave nothing to validate
 *   tags      optional; 1..ZTG_SIG_MAX_TAGS distinct tags of 1..64 of a-z 0-9 _ . : -
 *   mode      optional; "enforce" (the default) or "monitor"
 * The top level holds exactly name (1..64 of A-Z a-z 0-9 _ . -) and rules;
 * a set with no rules loads with a warning.
 *
 * A rule file is one file: "@include" lines are refused (libconfig 1.5
 * would open what they name). No value can hold a NUL byte: libconfig 1.5
 * drops a "\x00" escape without a word, so the loader refuses it; a pattern
 * matches a NUL with Hyperscan's own escape, written "\\x00". An integer
 * written without the L suffix that does not fit 32 bits (which libconfig
 * 1.5 silently truncates) is reported out of range, not truncated.
 *
 * Invariants of a set handed out by ztg_sig_set_load(): every key was known
 * and of the right type; ids are unique within the set; exactly one of
 * pattern and literal; flags are known letters; a validator only on a
 * pattern; every rule has at least one field; strings are owned by the set
 * (one arena); every rule carries the file:line it came from. Whether
 * Hyperscan accepts a pattern is the compiler's question (sig_compile.h),
 * reported at the same file:line.
 *
 * Plain C over libconfig, no DPDK.
 */
#ifndef ZTG_SIGNATURES_H
#define ZTG_SIGNATURES_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "policy_load.h"

#define ZTG_SIG_MAX_RULES        100000   /* per set */
#define ZTG_SIG_MESSAGE_MAX      256
#define ZTG_SIG_PATTERN_MAX      8192
#define ZTG_SIG_MAX_TAGS         16
#define ZTG_SIG_SCORE_MAX        1000
#define ZTG_SIG_FILE_MAX         (256u * 1024u * 1024u)   /* bytes of one rule file */

#define ZTG_SIG_FIELDS(X)                         \
	X(METHOD,           "method")             \
	X(PATH,             "path")               \
	X(QUERY_RAW,        "query_raw")          \
	X(QUERY,            "query")              \
	X(ARG_NAMES,        "arg_names")          \
	X(ARG_VALUES,       "arg_values")         \
	X(HEADER,           "header")             \
	X(HEADERS,          "headers")            \
	X(COOKIES,          "cookies")            \
	X(REQUEST_BODY,     "request_body")       \
	X(RESPONSE_STATUS,  "response_status")    \
	X(RESPONSE_HEADERS, "response_headers")   \
	X(RESPONSE_BODY,    "response_body")

enum ztg_sig_field {
#define ZTG_SIG_FIELD_ENUM(sym, name) ZTG_SIG_FIELD_##sym,
	ZTG_SIG_FIELDS(ZTG_SIG_FIELD_ENUM)
#undef ZTG_SIG_FIELD_ENUM
	ZTG_SIG_FIELD_COUNT
};

#define ZTG_SIG_FIELD_BIT(f) (1u << (f))
/* Fields matched in Hyperscan's streaming mode; the others in block mode. */
#define ZTG_SIG_STREAM_FIELDS (ZTG_SIG_FIELD_BIT(ZTG_SIG_FIELD_REQUEST_BODY) | \
			       ZTG_SIG_FIELD_BIT(ZTG_SIG_FIELD_RESPONSE_BODY))

#define ZTG_SIG_SEVERITIES(X) X(INFO, "info") X(LOW, "low") X(MEDIUM, "medium") X(HIGH, "high") X(CRITICAL, "critical")

enum ztg_sig_severity {
#define ZTG_SIG_SEVERITY_ENUM(sym, name) ZTG_SIG_SEVERITY_##sym,
	ZTG_SIG_SEVERITIES(ZTG_SIG_SEVERITY_ENUM)
#undef ZTG_SIG_SEVERITY_ENUM
	ZTG_SIG_SEVERITY_COUNT
};

#define ZTG_SIG_ACTIONS(X) X(BLOCK, "block") X(ALERT, "alert") X(SCORE, "score")

enum ztg_sig_action {
#define ZTG_SIG_ACTION_ENUM(sym, name) ZTG_SIG_ACTION_##sym,
	ZTG_SIG_ACTIONS(ZTG_SIG_ACTION_ENUM)
#undef ZTG_SIG_ACTION_ENUM
	ZTG_SIG_ACTION_COUNT
};

/*
 * Checks a match must pass before it counts (dataplane/detect/validator.h):
 * card numbers (Luhn) and IBANs (ISO 13616 mod-97). NONE, the default, is no
 * check and has no name a rule could give.
 */
#define ZTG_SIG_VALIDATORS(X) X(LUHN, "luhn") X(IBAN, "iban")

enum ztg_sig_validator {
	ZTG_SIG_VALIDATOR_NONE = 0,
#define ZTG_SIG_VALIDATOR_ENUM(sym, name) ZTG_SIG_VALIDATOR_##sym,
	ZTG_SIG_VALIDATORS(ZTG_SIG_VALIDATOR_ENUM)
#undef ZTG_SIG_VALIDATOR_ENUM
	ZTG_SIG_VALIDATOR_COUNT
};

/* Pattern flags, as letters in a rule and as bits here. */
#define ZTG_SIG_FLAG_CASELESS  0x01   /* i */
#define ZTG_SIG_FLAG_DOTALL    0x02   /* s */
#define ZTG_SIG_FLAG_MULTILINE 0x04   /* m */
#define ZTG_SIG_FLAG_UTF8      0x08   /* u */
#define ZTG_SIG_FLAG_UCP       0x10   /* p: Unicode properties; needs u */

struct ztg_sig_rule {
	uint32_t id;
	const char *message;
	enum ztg_sig_severity severity;
	enum ztg_sig_action action;
	uint32_t score;               /* SCORE only */
	uint32_t fields;              /* ZTG_SIG_FIELD_BIT()s, at least one */
	const char *header;           /* HEADER: the header's name, lowercase; else NULL */
	const char *pattern;          /* the regex, or the literal's bytes */
	uint32_t pattern_len;         /* strlen(pattern) */
	bool literal;
	uint32_t flags;               /* ZTG_SIG_FLAG_* */
	enum ztg_sig_validator validator;   /* NONE unless the rule names one; always NONE for a literal */
	const char **tags;
	uint32_t tag_count;
	bool monitor;                 /* mode = "monitor" */
	struct ztg_policy_loc loc;
};

struct ztg_arena;

struct ztg_sig_set {
	const char *name;
	const char *path;             /* as given to the loader */
	struct ztg_sig_rule *rules;
	uint32_t rule_count;
	struct ztg_policy_loc loc;    /* the file, and the line of its name */
	struct ztg_arena *arena;  /* private: owns everything above */
};

/* Names: "?" for a value out of range, never NULL; from_name 0 or -1. */
const char *ztg_sig_field_name(enum ztg_sig_field field);
int ztg_sig_field_from_name(const char *name, enum ztg_sig_field *out);
const char *ztg_sig_severity_name(enum ztg_sig_severity severity);
const char *ztg_sig_action_name(enum ztg_sig_action action);
const char *ztg_sig_validator_name(enum ztg_sig_validator validator);   /* "none" for NONE */

/*
 * Load the rule set at path; every problem goes to diag (policy_load.h's
 * diagnostics: file:line, severity, message; appended to what diag holds,
 * NULL to discard them). Returns 0 with *out set (warnings allowed), or
 * -EINVAL (errors reported), -ENOMEM, or another negative errno when the
 * file cannot be read (reported too): open's or read's (-ENOENT, -EACCES,
 * ...), -EISDIR for a directory, -EINVAL for another file that is not a
 * regular one (a FIFO would block: refused before it is opened), -EFBIG
 * beyond ZTG_SIG_FILE_MAX. *out is NULL on failure.
 */
int ztg_sig_set_load(const char *path, struct ztg_sig_set **out, struct ztg_policy_diag *diag);

/*
 * The same for a rule file already read: text holds its len bytes and a NUL
 * after them; path names it in messages. What the policy loader uses, so
 * the rules parsed are the bytes its bundle carries.
 */
int ztg_sig_set_parse(const char *path, const char *text, size_t len, struct ztg_sig_set **out,
		      struct ztg_policy_diag *diag);

/* Frees a set and everything it owns. NULL is a no-op. */
void ztg_sig_set_free(struct ztg_sig_set *set);

#endif
