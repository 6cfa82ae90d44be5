/*
 * ztgatectl: the ztgate operator CLI.
 *
 *   ztgatectl [--json] COMMAND [COMMAND OPTIONS] [ARGS]
 *   ztgatectl help [COMMAND] | --help | --version
 *
 * Commands live in one constant table (ctl_commands below): name, argument
 * synopsis, one-line summary, options, argument count and handler. Usage,
 * `help` and `COMMAND --help` are printed from that table, and the common
 * argument handling (--json and --help anywhere after the command, the
 * command's own flags, "--", the argument count) is done once before the
 * handler runs, so adding a command is one table entry and its handler.
 *
 * --json, before or after the command name, makes a read command print one
 * JSON document on stdout instead of text (help and --version stay text).
 *
 * Exit status, for every command:
 *   0  success
 *   1  the command ran and the answer is negative (the policy has errors,
 *      or warnings under --strict)
 *   2  usage error: unknown command or option, missing or extra argument
 *   3  cannot reach or talk to ztgate (commands using its control socket)
 *   4  internal error: out of memory, output could not be written
 *
 * The answer of a command goes to stdout, usage errors to stderr. An
 * unreadable policy file is an answer (exit 1 with its diagnostic), not an
 * internal error.
 *
 * Nothing here is global but constant tables; all a command needs is in the
 * struct ctl_call handed to its handler.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwk.h"
#include "bundle.h"
#include "policy/route_match.h"
#include "policy_compile.h"
#include "sig_compile.h"
#include "signatures.h"
#include "control_socket.h"
#include "policy.h"
#include "policy_load.h"
#include "policy_source.h"

#ifndef ZTG_VERSION
#define ZTG_VERSION "0.1.0-dev"
#endif

#define CTL_NAME "ztgatectl"

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_NEGATIVE = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNREACHABLE = 3,
	CTL_EXIT_INTERNAL = 4,
};

/* Flags set by options; a command's option table maps its options to these. */
enum ctl_flag {
	CTL_F_JSON = 1u << 0,     /* every command: one JSON document on stdout */
	CTL_F_HELP = 1u << 1,     /* every command: print its help, exit 0 */
	CTL_F_STRICT = 1u << 2,   /* validate: warnings fail too */
	CTL_F_FOLLOW = 1u << 3,   /* events: keep printing new ones */
};

struct ctl_option {
	const char *name;         /* "--strict"; NULL ends a table */
	unsigned flag;            /* enum ctl_flag */
	const char *help;
};

struct ctl_command;

/* One parsed invocation, what a handler gets. args holds the positionals only. */
struct ctl_call {
	const struct ctl_command *cmd;
	const char *socket;       /* --socket, $ZTGATE_SOCKET, or ZTG_CONTROL_DEFAULT_PATH */
	unsigned flags;           /* enum ctl_flag, global and command options together */
	int argc;
	char **args;
};

struct ctl_command {
	const char *name;
	const char *synopsis;     /* what follows the name in usage, its options included */
	const char *summary;      /* one line for the command list */
	const char *description;  /* a paragraph for `help COMMAND`, or NULL */
	const struct ctl_option *options;   /* the command's own, ended by { NULL }; or NULL */
	int min_args;
	int max_args;
	bool passthrough;         /* options go to ztgate as they are (only --json and --help are ours) */
	int (*run)(const struct ctl_call *call);   /* returns an enum ctl_exit */
};

static int cmd_help(const struct ctl_call *call);
static int cmd_validate(const struct ctl_call *call);
static int cmd_show(const struct ctl_call *call);
static int cmd_apply(const struct ctl_call *call);
static int cmd_explain(const struct ctl_call *call);
static int cmd_events(const struct ctl_call *call);
static int cmd_top(const struct ctl_call *call);
static int cmd_passthrough(const struct ctl_call *call);
static int cmd_policy(const struct ctl_call *call);
static int cmd_compile(const struct ctl_call *call);
static int cmd_capture(const struct ctl_call *call);

/*
 * The commands, in the order help lists them. Those that talk to a running
 * ztgate go over its control socket (control_socket.h) and return
 * CTL_EXIT_UNREACHABLE when it does not answer.
 */
static const struct ctl_command ctl_commands[] = {
	{
		.name = "help",
		.synopsis = "[COMMAND]",
		.summary = "show this help, or a command's",
		.min_args = 0,
		.max_args = 1,
		.run = cmd_help,
	},
	{
		.name = "validate",
		.synopsis = "[--strict] FILE",
		.summary = "check a policy file offline and report every problem in it",
		.description =
			"Load the policy FILE (and the files it @includes) as ztgate would, print\n"
			"every error and warning as `file:line: error|warning: message`, then a\n"
			"summary line. Exits 0 when the policy is valid, even with warnings, and 1\n"
			"when it has errors (or, with --strict, warnings).\n"
			"\n"
			"--json prints {file, valid, strict, errors, warnings, dropped,\n"
			"diagnostics: [{severity, file, line, message}], policy: {name, version,\n"
			"mode, segments, services, routes, access} or null}: valid is the verdict\n"
			"the exit status gives, policy counts elements and is null when the\n"
			"policy has errors, dropped counts diagnostics beyond those listed.",
		.options = (const struct ctl_option[]){
			{ "--strict", CTL_F_STRICT, "warnings fail too (exit 1)" },
			{ NULL, 0, NULL },
		},
		.min_args = 1,
		.max_args = 1,
		.run = cmd_validate,
	},
	{
		.name = "show",
		.synopsis = "FILE",
		.summary = "print a policy file as ztgate would enforce it",
		.description =
			"Load the policy FILE and print its mode, defaults, behaviour section,\n"
			"segments, services with their routes, and the access matrix, each element\n"
			"with the file:line it was written at. Diagnostics go to stderr; a policy\n"
			"with errors prints only those and exits 1.\n"
			"\n"
			"--json prints the document validate --json prints (without strict), with\n"
			"the whole policy model under \"policy\".",
		.min_args = 1,
		.max_args = 1,
		.run = cmd_show,
	},
	{
		.name = "compile",
		.synopsis = "FILE -o BUNDLE",
		.summary = "validate FILE and write it, with every file it includes, as one bundle with a content hash",
		.description =
			"The bundle is the unit to ship and apply: `ztgatectl apply BUNDLE` and\n"
			"`ztgate --policy BUNDLE` take it like a policy file, check its SHA-256,\n"
			"and report the hash as the policy's identity (status). A policy with\n"
			"errors writes nothing and exits 1.",
		.min_args = 3,
		.max_args = 3,
		.passthrough = true,
		.run = cmd_compile,
	},
	{
		.name = "status",
		.synopsis = "",
		.summary = "the running ztgate: version, uptime, workers, ports, the policy in force",
		.run = cmd_passthrough,
	},
	{
		.name = "stats",
		.synopsis = "",
		.summary = "the running ztgate's counters (--json: the schema of ztgate --stats-json)",
		.run = cmd_passthrough,
	},
	{
		.name = "top",
		.synopsis = "[--interval SECONDS] [--once]",
		.summary = "a live view: requests/s by verdict, the busiest services, stop reasons and identities",
		.description =
			"Polls the running ztgate every --interval SECONDS and redraws in place\n"
			"until Ctrl-C: requests per second by verdict (allow, deny, reset, drop,\n"
			"monitored), then the services, the stop reasons and the identities with\n"
			"the most requests per second, each with its total since start. ztgate\n"
			"samples its counters once a second: a rate covers the last complete\n"
			"interval between two samples. Identities come from logged events only\n"
			"(denied requests, and allowed ones when --event-sample-allowed logs\n"
			"them), counted in a table of 256 where the least seen gives way. When\n"
			"stdout is not a terminal, frames follow each other separated by a blank\n"
			"line.\n"
			"\n"
			"--json prints each frame as one JSON document: {samples, interval_seconds,\n"
			"requests, verdicts: {allow: {rate, total}, ...}, services: {count, top:\n"
			"[{service, rate, total}]}, reasons: {count, top: [{reason, verdict,\n"
			"rate, total}]}, identities: {tracked, events, anonymous, top: [{issuer,\n"
			"subject, rate, denied_rate, events, error, denied, total}]}}; rates are\n"
			"null until ztgate has two samples.",
		/* Listed for help only: --interval takes a value, so cmd_top parses both (passthrough). */
		.options = (const struct ctl_option[]){
			{ "--interval", 0, "SECONDS between frames, 1 to 3600 (default 1)" },
			{ "--once", 0, "print one frame and exit" },
			{ NULL, 0, NULL },
		},
		.min_args = 0,
		.max_args = 3,
		.passthrough = true,
		.run = cmd_top,
	},
	{
		.name = "policy",
		.synopsis = "[show]",
		.summary = "the policy in force: services and routes with their file:line",
		.max_args = 1,
		.run = cmd_policy,
	},
	{
		.name = "flows",
		.synopsis = "[--top N] [--by bytes|requests]",
		.summary = "the busiest flows of every worker (20 by bytes unless told)",
		.min_args = 0,
		.max_args = 4,
		.passthrough = true,
		.run = cmd_passthrough,
	},
	{
		.name = "events",
		.synopsis = "[--follow]",
		.summary = "the latest decisions as JSON lines (the last 1,024); --follow keeps printing new ones",
		.options = (const struct ctl_option[]){
			{ "--follow", CTL_F_FOLLOW, "poll for new events every 200 ms until interrupted" },
			{ NULL, 0, NULL },
		},
		.run = cmd_events,
	},
	{
		.name = "inventory",
		.synopsis = "",
		.summary = "endpoints clients call that no route describes (shadow APIs), by path shape",
		.run = cmd_passthrough,
	},
	{
		.name = "explain",
		.synopsis = "[--policy FILE] --src ADDR --dst ADDR [--port N] (--request FILE | [--host HOST] METHOD TARGET)",
		.summary = "which step of the policy lets a request through or stops it, and why",
		.description =
			"The running ztgate judges the request with the code its workers run and\n"
			"prints every step: the source's segment, the services at the destination\n"
			"and port (80 unless --port), the access matrix, the service its Host\n"
			"selects (--host, else the target's authority, else the address), the\n"
			"normalised path, the route with its captured parameters and file:line,\n"
			"and the verdict with its reason. --policy FILE judges by FILE instead of\n"
			"the policy in force, without applying it. TARGET is the request-target:\n"
			"\"/api/v1/orders/42?x=1\" or \"http://api.example/path\". --request FILE\n"
			"takes method, target and Host from a raw HTTP request in FILE, parsed by\n"
			"the workers' HTTP parser (a request it refuses is said so), and judges its\n"
			"credentials for the route: whose they are, and what the route refuses.",
		.min_args = 0,
		.max_args = 16,
		.passthrough = true,
		.run = cmd_explain,
	},
	{
		.name = "apply",
		.synopsis = "FILE",
		.summary = "validate FILE and make it the policy in force, without a restart",
		.description =
			"ztgate loads FILE itself (the path is made absolute here), compiles it and\n"
			"publishes it to every worker with one pointer store; the policy it replaces\n"
			"is kept for rollback. Flows keep their state; each request is judged by\n"
			"one policy, the old or the new. A policy with errors is refused with every\n"
			"error at its file:line and exit status 1: the running policy stays.",
		.min_args = 1,
		.max_args = 1,
		.run = cmd_apply,
	},
	{
		.name = "rollback",
		.synopsis = "",
		.summary = "go back to the policy the last apply replaced (again: undo the rollback)",
		.run = cmd_passthrough,
	},
	{
		.name = "keys",
		.synopsis = "",
		.summary = "each issuer's keys in use (kids) and, for a jwks_url, its fetches and last error",
		.run = cmd_passthrough,
	},
	{
		.name = "revoke",
		.synopsis = "jti ID | sub ISSUER SUBJECT | key API_KEY_ID",
		.summary = "refuse a token id, an issuer's subject or an API key from the next request on",
		.description =
			"The revocation takes effect on every worker with one pointer store, without\n"
			"touching the policy, and is checked on every request (cached tokens too).\n"
			"ISSUER is the issuer's name in the policy. With --state-dir, ztgate keeps\n"
			"the list in DIR/revocations across restarts; every change is audited.",
		.min_args = 2,
		.max_args = 3,
		.passthrough = true,
		.run = cmd_passthrough,
	},
	{
		.name = "unrevoke",
		.synopsis = "jti ID | sub ISSUER SUBJECT | key API_KEY_ID",
		.summary = "take a revocation back (exit 1 if it was not there)",
		.min_args = 2,
		.max_args = 3,
		.passthrough = true,
		.run = cmd_passthrough,
	},
	{
		.name = "revocations",
		.synopsis = "",
		.summary = "the revocations in force",
		.run = cmd_passthrough,
	},
	{
		.name = "quarantine",
		.synopsis = "[list] | add (identity ISSUER SUBJECT | source ADDR[/PREFIX]) [--for SECONDS] [--reason TEXT] | "
			    "del (identity ISSUER SUBJECT | source ADDR[/PREFIX])",
		.summary = "identities and sources refused with reason quarantined: list, add, release",
		.description =
			"Entries come from the policy's behaviour section (the risk score of an\n"
			"identity or a source crossed its threshold: automatic), from this command\n"
			"(operator) and from `block` (block). A quarantined identity's requests get\n"
			"a 403 with reason quarantined from the next request on, whatever its source;\n"
			"a quarantined source's new connections are dropped (by the NIC where its\n"
			"PMD takes rte_flow rules, else by the workers) and its open ones refused at\n"
			"their next request. ISSUER is the issuer's name in the policy, or api-key.\n"
			"--for SECONDS ends it by itself (default: until deleted); --reason is kept\n"
			"with it. Workers share one table, which a policy swap keeps; with\n"
			"--state-dir the operator's entries and blocks survive restarts. Every\n"
			"change is audited in the event log, expiry included. list --json prints\n"
			"{capacity, active, full, refused, nic_rules, nic_refusals, entries: [{kind,\n"
			"origin, issuer, subject | source, hardware, reason, since, until,\n"
			"expires_in, refused}]}.",
		.min_args = 0,
		.max_args = 8,
		.passthrough = true,
		.run = cmd_passthrough,
	},
	{
		.name = "block",
		.synopsis = "[list] | add ADDR[/PREFIX] [--for SECONDS] [--reason TEXT] | del ADDR[/PREFIX]",
		.summary = "drop every packet from a source prefix, in the NIC where it can (rte_flow)",
		.description =
			"A block is a source quarantine an operator gives a prefix to: new\n"
			"connections from it are dropped and open ones refused at their next\n"
			"request. ztgate also programs it as an rte_flow drop rule on every port;\n"
			"`block list` says for each port whether the NIC drops it (nic) or the\n"
			"workers do (software, with the PMD's reason). Host bits past the prefix\n"
			"must be zero.",
		.min_args = 0,
		.max_args = 6,
		.passthrough = true,
		.run = cmd_passthrough,
	},
	{
		.name = "capture",
		.synopsis = "--output FILE [--count N] [--duration SECONDS] [--snaplen N] | status | stop",
		.summary = "write the packets of denied flows to a pcapng file, until N packets, SECONDS or Ctrl-C",
		.description =
			"From the start of the capture, ztgate copies every packet of each flow it\n"
			"denies: the request it stops the flow at, the 403 and RSTs it injects, and\n"
			"what the flow sends afterwards; a flow the policy refuses outright (segment,\n"
			"non-HTTP) by its first packet. Packets of allowed flows are never copied.\n"
			"ztgate writes FILE itself (pcapng, mode 0600, the path made absolute here),\n"
			"one interface per port, with each packet's direction. The capture ends\n"
			"after N packets (--count), SECONDS (--duration) or at Ctrl-C; then the\n"
			"command prints what was written (--json: {running, file, state, seconds,\n"
			"packets, bytes, dropped, snaplen, count, duration, error}). --snaplen keeps\n"
			"the first N bytes of each packet (64 to 9216; 2048, whole frames, unless\n"
			"told). Workers never wait for the capture: a packet they cannot copy (ring\n"
			"full, capture pool empty) counts as dropped here and as capture_dropped in\n"
			"stats. One capture runs at a time: `capture status` shows it (exit 1 when\n"
			"none runs), `capture stop` ends it. dpdk-dumpcap captures every packet of\n"
			"a port instead, when ztgate runs with hugepages (see its startup lines).",
		.min_args = 0,
		.max_args = 8,
		.passthrough = true,
		.run = cmd_capture,
	},
};

#define CTL_COMMAND_COUNT (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/* Options every command accepts; help lists them after the command's own. */
static const struct ctl_option ctl_common_options[] = {
	{ "--json", CTL_F_JSON, "print one JSON document on stdout instead of text" },
	{ "--help", CTL_F_HELP, "show this help (also -h)" },
	{ NULL, 0, NULL },
};

/* ------------------------------------------------------------------ usage */

static const struct ctl_command *find_command(const char *name)
{
	for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

static void print_exit_statuses(FILE *out)
{
	fputs("Exit status:\n"
	      "  0  success\n"
	      "  1  the command ran and the answer is negative (e.g. the policy has errors)\n"
	      "  2  usage error (unknown command or option, missing argument)\n"
	      "  3  cannot reach or talk to ztgate\n"
	      "  4  internal error (out of memory, I/O)\n",
	      out);
}

static void print_usage(FILE *out)
{
	int width = 0;

	for (size_t i = 0; i < CTL_COMMAND_COUNT; i++) {
		int w = (int)(strlen(ctl_commands[i].name) + 1 + strlen(ctl_commands[i].synopsis));
		if (w > width)
			width = w;
	}
	fprintf(out, "Usage: %s [--json] COMMAND [OPTIONS] [ARGS]\n"
		     "       %s --help | --version\n\n"
		     "The ztgate operator CLI.\n\nCommands:\n", CTL_NAME, CTL_NAME);
	for (size_t i = 0; i < CTL_COMMAND_COUNT; i++) {
		const struct ctl_command *c = &ctl_commands[i];
		int w = (int)(strlen(c->name) + 1 + strlen(c->synopsis));

		fprintf(out, "  %s %s%*s  %s\n", c->name, c->synopsis, width - w, "", c->summary);
	}
	fprintf(out, "\nGlobal options:\n"
		     "  --socket PATH  the running ztgate's control socket (default $ZTGATE_SOCKET, else\n"
		     "                 " ZTG_CONTROL_DEFAULT_PATH ")\n"
		     "  --json         read commands print one JSON document on stdout (also after COMMAND)\n"
		     "  --help         show this help; `%s COMMAND --help` shows a command's\n"
		     "  --version      print the version\n\n", CTL_NAME);
	print_exit_statuses(out);
}

static void print_option_list(FILE *out, const struct ctl_option *opts)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		fprintf(out, "  %-10s  %s\n", opts->name, opts->help);
}

static void print_command_help(FILE *out, const struct ctl_command *c)
{
	fprintf(out, "Usage: %s [--json] %s %s\n\n%s.\n", CTL_NAME, c->name, c->synopsis, c->summary);
	if (c->description != NULL)
		fprintf(out, "\n%s\n", c->description);
	fputs("\nOptions:\n", out);
	print_option_list(out, c->options);
	print_option_list(out, ctl_common_options);
	fputc('\n', out);
	print_exit_statuses(out);
}

/*
 * Print `ztgatectl: MESSAGE`, then the command's usage line (c not NULL) and
 * where help is, on stderr. Returns CTL_EXIT_USAGE.
 */
static int usage_error(const struct ctl_command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct ctl_command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", CTL_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c != NULL)
		fprintf(stderr, "\nUsage: %s [--json] %s %s\nSee '%s %s --help'.\n", CTL_NAME, c->name,
			c->synopsis, CTL_NAME, c->name);
	else
		fprintf(stderr, "\nSee '%s --help'.\n", CTL_NAME);
	return CTL_EXIT_USAGE;
}

static int cmd_help(const struct ctl_call *call)
{
	const struct ctl_command *c;

	if (call->argc == 0) {
		print_usage(stdout);
		return CTL_EXIT_OK;
	}
	c = find_command(call->args[0]);
	if (c == NULL)
		return usage_error(NULL, "unknown command '%s'", call->args[0]);
	print_command_help(stdout, c);
	return CTL_EXIT_OK;
}

static const struct ctl_option *find_option(const struct ctl_option *opts, const char *name)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

/*
 * Parse what follows the command name into call: options (the command's own
 * and the common ones) anywhere until "--", positionals kept in order at the
 * front of argv. Returns CTL_EXIT_OK (with CTL_F_HELP set, the argument
 * count is not checked) or CTL_EXIT_USAGE, message printed.
 */
static int parse_command_args(const struct ctl_command *c, int argc, char **argv, struct ctl_call *call)
{
	bool options_done = false;

	call->cmd = c;
	call->argc = 0;
	call->args = argv;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct ctl_option *o;

		if (c->passthrough && !options_done && strcmp(a, "--json") && strcmp(a, "--help") && strcmp(a, "-h")) {
			argv[call->argc++] = argv[i];
			continue;
		}

		if (options_done || a[0] != '-' || a[1] == '\0') {   /* "-" is an argument */
			argv[call->argc++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strcmp(a, "-h") == 0)
			a = "--help";
		o = find_option(c->options, a);
		if (o == NULL)
			o = find_option(ctl_common_options, a);
		if (o == NULL)
			return usage_error(c, "%s: unknown option '%s'", c->name, argv[i]);
		call->flags |= o->flag;
	}
	if (call->flags & CTL_F_HELP)
		return CTL_EXIT_OK;
	if (call->argc < c->min_args)
		return usage_error(c, "%s: missing argument", c->name);
	if (call->argc > c->max_args)
		return usage_error(c, "%s: unexpected argument '%s'", c->name, call->args[c->max_args]);
	return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------- JSON */

/*
 * A small pretty-printing JSON writer: callers say begin, key, value, end;
 * commas and indentation are its business. json_escape() writes a string
 * with quote, backslash and control characters escaped (\u00XX) and any
 * byte that is not part of valid UTF-8 replaced by U+FFFD, so the document
 * is valid JSON whatever a file name or a quoted piece of policy holds.
 */
struct json {
	FILE *out;
	unsigned depth;
	bool need_comma;          /* the open container already holds a value */
	bool after_key;           /* a key was written, its value comes next */
};

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when there is none. */
static size_t utf8_sequence(const unsigned char *s)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;   /* a continuation byte, an overlong lead (c0, c1) or beyond U+10FFFF */
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)   /* also stops at the terminating NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||   /* overlong */
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)               /* surrogate, too large */
		return 0;
	return len;
}

static void json_escape(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', out);
	while (*s != '\0') {
		size_t len = utf8_sequence(s);

		if (len == 0) {
			fputs("\\ufffd", out);
			s++;
		} else if (*s == '"' || *s == '\\') {
			fputc('\\', out);
			fputc(*s++, out);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(out, "\\u%04x", *s++);
		} else {
			fwrite(s, 1, len, out);
			s += len;
		}
	}
	fputc('"', out);
}

/* The separator and indentation before a value or a key. */
static void json_next(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0)
		return;
	if (j->need_comma)
		fputc(',', j->out);
	fprintf(j->out, "\n%*s", (int)(2 * j->depth), "");
}

static void json_begin(struct json *j, char open)
{
	json_next(j);
	fputc(open, j->out);
	j->depth++;
	j->need_comma = false;
}

static void json_end(struct json *j, char close)
{
	j->depth--;
	if (j->need_comma)   /* not empty: the bracket goes on its own line */
		fprintf(j->out, "\n%*s", (int)(2 * j->depth), "");
	fputc(close, j->out);
	j->need_comma = true;
	if (j->depth == 0)
		fputc('\n', j->out);
}

static void json_key(struct json *j, const char *key)
{
	json_next(j);
	json_escape(j->out, key);
	fputs(": ", j->out);
	j->after_key = true;
}

/* A string, or null when value is NULL. */
static void json_string(struct json *j, const char *value)
{
	json_next(j);
	if (value == NULL)
		fputs("null", j->out);
	else
		json_escape(j->out, value);
	j->need_comma = true;
}

static void json_uint(struct json *j, uint64_t value)
{
	json_next(j);
	fprintf(j->out, "%llu", (unsigned long long)value);
	j->need_comma = true;
}

/*
 * The shortest text that reads back as the same double (15 digits suffice
 * for what a policy writes, 2.5 or 100, and print as written); null for
 * what JSON cannot hold.
 */
static void json_double(struct json *j, double value)
{
	char text[32];

	json_next(j);
	if (!isfinite(value)) {
		fputs("null", j->out);
	} else {
		for (int digits = 15; digits <= 17; digits++) {
			snprintf(text, sizeof(text), "%.*g", digits, value);
			if (strtod(text, NULL) == value)
				break;
		}
		fputs(text, j->out);
	}
	j->need_comma = true;
}

static void json_kv_double(struct json *j, const char *key, double value)
{
	json_key(j, key);
	json_double(j, value);
}

static void json_kv_string(struct json *j, const char *key, const char *value)
{
	json_key(j, key);
	json_string(j, value);
}

static void json_kv_uint(struct json *j, const char *key, uint64_t value)
{
	json_key(j, key);
	json_uint(j, value);
}

static void json_kv_bool(struct json *j, const char *key, bool value)
{
	json_key(j, key);
	json_next(j);
	fputs(value ? "true" : "false", j->out);
	j->need_comma = true;
}

/* ------------------------------------------------------------- formatting */

/* "ADDRESS/LEN": INET6_ADDRSTRLEN (46, its NUL included) and "/128". */
#define CIDR_STR_MAX (INET6_ADDRSTRLEN + 4)

static const char *format_cidr(const struct ztg_cidr *c, char buf[CIDR_STR_MAX])
{
	char addr[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, CIDR_STR_MAX, "%s/%u", addr, c->prefix_len);
	return buf;
}

/* "GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS,CONNECT,TRACE" is 52 characters. */
#define METHODS_STR_MAX 64

/* "ANY", or the methods of the mask in enum ztg_http_method order, comma-joined: as the matcher says them. */
static const char *format_methods(uint16_t mask, char buf[METHODS_STR_MAX])
{
	if (ztg_route_methods_format(mask, buf, METHODS_STR_MAX) < 0)
		buf[0] = '\0';
	return buf;
}

/* "file:line" of an element ("file" for line 0), cut to fit buf. */
static const char *format_loc(const struct ztg_policy_loc *loc, char *buf, size_t len)
{
	if (loc->line > 0)
		snprintf(buf, len, "%s:%u", loc->file, loc->line);
	else
		snprintf(buf, len, "%s", loc->file);
	return buf;
}

/* A path and a line; only an absurdly long path is cut, and only in text. */
#define LOC_STR_MAX 4200

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static uint64_t route_total(const struct ztg_policy *p)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < p->service_count; i++)
		n += p->services[i].route_count;
	return n;
}

static int width_max(int width, const char *s)
{
	int len = (int)strlen(s);

	return len > width ? len : width;
}

/* ---------------------------------------------------------------- loading */

/*
 * Load path into *policy and diag. Returns CTL_EXIT_OK when the loader ran
 * to the end (the policy may have errors: *policy is NULL then), or
 * CTL_EXIT_INTERNAL when memory ran out (message printed).
 */
static int load_policy(const char *path, struct ztg_policy **policy, struct ztg_policy_diag *diag)
{
	int rc = ztg_policy_load(path, policy, diag);

	if (rc == 0 || rc == -EINVAL)
		return CTL_EXIT_OK;
	fprintf(stderr, "%s: %s: cannot load: %s\n", CTL_NAME, path, strerror(-rc));
	return CTL_EXIT_INTERNAL;
}

/* `FILE: 2 errors, 1 warning` and tail. */
static void print_counts(FILE *out, const char *path, const struct ztg_policy_diag *diag, const char *tail)
{
	fprintf(out, "%s: %u %s, %u %s%s\n", path, diag->errors, plural(diag->errors, "error", "errors"),
		diag->warnings, plural(diag->warnings, "warning", "warnings"), tail);
}

/* The members validate and show share: file, valid, [strict], counts, diagnostics. */
static void json_load_result(struct json *j, const char *path, bool valid, const struct ztg_policy_diag *diag)
{
	json_kv_string(j, "file", path);
	json_kv_bool(j, "valid", valid);
	json_kv_uint(j, "errors", diag->errors);
	json_kv_uint(j, "warnings", diag->warnings);
	json_kv_uint(j, "dropped", diag->dropped);
	json_key(j, "diagnostics");
	json_begin(j, '[');
	for (uint32_t i = 0; i < diag->count; i++) {
		const struct ztg_policy_diag_entry *e = &diag->entries[i];

		json_begin(j, '{');
		json_kv_string(j, "severity", ztg_policy_severity_name(e->severity));
		json_kv_string(j, "file", e->file);
		json_kv_uint(j, "line", e->line);
		json_kv_string(j, "message", e->message);
		json_end(j, '}');
	}
	json_end(j, ']');
}

/* --------------------------------------------------------------- validate */

static void json_policy_summary(struct json *j, const struct ztg_policy *p)
{
	json_begin(j, '{');
	json_kv_string(j, "name", p->name);
	json_kv_uint(j, "version", p->version);
	json_kv_string(j, "mode", ztg_policy_mode_name(p->mode));
	json_kv_uint(j, "segments", p->segment_count);
	json_kv_uint(j, "services", p->service_count);
	json_kv_uint(j, "routes", route_total(p));
	json_kv_uint(j, "access", p->access_count);
	json_end(j, '}');
}

static void print_valid_summary(FILE *out, const char *path, const struct ztg_policy *p,
				const struct ztg_policy_diag *diag)
{
	uint64_t routes = route_total(p);

	fprintf(out, "%s: policy \"%s\" valid: %u %s, %u %s, %llu %s, %u %s", path, p->name,
		p->segment_count, plural(p->segment_count, "segment", "segments"),
		p->service_count, plural(p->service_count, "service", "services"),
		(unsigned long long)routes, plural(routes, "route", "routes"),
		p->access_count, plural(p->access_count, "access entry", "access entries"));
	if (diag->warnings > 0)
		fprintf(out, " (%u %s)", diag->warnings, plural(diag->warnings, "warning", "warnings"));
	fputc('\n', out);
}

static int cmd_validate(const struct ctl_call *call)
{
	const char *path = call->args[0];
	bool strict = call->flags & CTL_F_STRICT;
	struct ztg_policy *p = NULL;
	struct ztg_policy_diag diag;
	bool valid;
	int rc;

	ztg_policy_diag_init(&diag);
	rc = load_policy(path, &p, &diag);
	if (rc != CTL_EXIT_OK)
		goto out;
	valid = p != NULL && !(strict && diag.warnings > 0);
	rc = valid ? CTL_EXIT_OK : CTL_EXIT_NEGATIVE;

	if (call->flags & CTL_F_JSON) {
		struct json j = { .out = stdout };

		json_begin(&j, '{');
		json_load_result(&j, path, valid, &diag);
		json_kv_bool(&j, "strict", strict);
		json_key(&j, "policy");
		if (p != NULL)
			json_policy_summary(&j, p);
		else
			json_string(&j, NULL);
		json_end(&j, '}');
	} else {
		ztg_policy_diag_print(stdout, &diag);
		if (p == NULL)
			print_counts(stdout, path, &diag, "");
		else if (!valid)
			print_counts(stdout, path, &diag, " (warnings fail under --strict)");
		else
			print_valid_summary(stdout, path, p, &diag);
	}
out:
	ztg_policy_free(p);
	ztg_policy_diag_free(&diag);
	return rc;
}

/* ------------------------------------------------------------------- show */

/* Addresses joined by ", ". */
static void print_addresses(FILE *out, const struct ztg_policy_address *a, uint32_t count)
{
	char cidr[CIDR_STR_MAX];

	for (uint32_t i = 0; i < count; i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "", format_cidr(&a[i].cidr, cidr));
}

static void show_segments(FILE *out, const struct ztg_policy *p)
{
	char loc[LOC_STR_MAX];
	int width = 0;

	for (uint32_t i = 0; i < p->segment_count; i++)
		width = width_max(width, p->segments[i].name);
	fprintf(out, "\nsegments (%u)\n", p->segment_count);
	for (uint32_t i = 0; i < p->segment_count; i++) {
		const struct ztg_policy_segment *s = &p->segments[i];

		fprintf(out, "  %-*s  ", width, s->name);
		print_addresses(out, s->addresses, s->address_count);
		fprintf(out, "  (%s)\n", format_loc(&s->loc, loc, sizeof(loc)));
	}
}

static void show_signatures(FILE *out, const struct ztg_policy *p)
{
	char loc[LOC_STR_MAX];

	if (p->signature_set_count > 0)
		fprintf(out, "\nsignature sets (%u)\n", p->signature_set_count);
	for (uint32_t i = 0; i < p->signature_set_count; i++) {
		const struct ztg_sig_set *set = p->signature_sets[i];

		fprintf(out, "  %s  %u rules from %s  (%s)\n", set->name, set->rule_count, p->signature_files[i].name,
			format_loc(&p->signature_files[i].loc, loc, sizeof(loc)));
	}
}

/* Which rule sets a service or route matches, on a line of its own. */
static void show_detect(FILE *out, const struct ztg_policy *p, const struct ztg_policy_detect *d, const char *indent)
{
	bool any = false;

	if (!d->present)
		return;
	fprintf(out, "%ssignatures", indent);
	for (uint32_t i = 0; i < p->signature_set_count; i++) {
		if (d->sets >> i & 1) {
			fprintf(out, "%s%s", any ? ", " : " ", p->signature_sets[i]->name);
			any = true;
		}
	}
	if (!any)
		fputs(" none", out);
	any = false;
	for (uint32_t i = 0; i < p->signature_set_count; i++) {
		if (d->block_sets >> i & 1) {
			fprintf(out, "%s%s", any ? ", " : "; every rule blocks in ", p->signature_sets[i]->name);
			any = true;
		}
	}
	fprintf(out, "; threshold %u; bodies scanned to %u (request), %u (response) bytes; %s\n", d->threshold,
		d->request_body_depth, d->response_body_depth, d->monitor ? "monitor" : "enforce");
}

/* A list of rate limits, one line each; a route's inherited list is its service's, shown there. */
static void show_rate_limits(FILE *out, const struct ztg_policy_rate_limit *rl, uint32_t count, const char *indent)
{
	char loc[LOC_STR_MAX];

	for (uint32_t i = 0; i < count; i++) {
		fputs(indent, out);
		ztg_policy_rate_limit_print(out, &rl[i]);
		fprintf(out, "  (%s)\n", format_loc(&rl[i].loc, loc, sizeof(loc)));
	}
}

/* Who may use an allow route, on a line of its own under it. */
static void show_requirement(FILE *out, const struct ztg_policy_requirement *q)
{
	if (q->anonymous) {
		fputs("      who: anyone (anonymous)\n", out);
		return;
	}
	fputs("      who: an identity", out);
	for (uint32_t i = 0; i < q->scope_count; i++)
		fprintf(out, "%s%s", i ? ", " : (q->scopes_any ? " with any of scopes " : " with scopes "), q->scopes[i]);
	for (uint32_t i = 0; i < q->claim_count; i++)
		fprintf(out, "%s%s=%s", i ? ", " : "; claims ", q->claims[i].claim, q->claims[i].value);
	for (uint32_t i = 0; i < q->binding_count; i++)
		fprintf(out, "%s{%s}=%s", i ? ", " : "; binds ", q->bindings[i].param, q->bindings[i].claim);
	fputc('\n', out);
}

/* The routes of one service, a table whose columns fit their contents. */
static void show_routes(FILE *out, const struct ztg_policy *p, const struct ztg_policy_service *s)
{
	char methods[METHODS_STR_MAX];
	char loc[LOC_STR_MAX];
	int w_name = (int)strlen("NAME"), w_methods = (int)strlen("METHODS"), w_path = (int)strlen("PATH");
	int w_action = (int)strlen("ACTION"), w_mode = (int)strlen("MODE");

	if (s->route_count == 0) {
		fputs("  routes     none: every request to it gets the default action\n", out);
		return;
	}
	for (uint32_t i = 0; i < s->route_count; i++) {
		const struct ztg_policy_route *r = &s->routes[i];

		w_name = width_max(w_name, r->name);
		w_methods = width_max(w_methods, format_methods(r->methods, methods));
		w_path = width_max(w_path, r->path);
		w_action = width_max(w_action, ztg_policy_action_name(r->action));
		w_mode = width_max(w_mode, ztg_policy_mode_name(r->mode));
	}
	fprintf(out, "  routes (%u)\n    %-*s  %-*s  %-*s  %-*s  %-*s  WHERE\n", s->route_count,
		w_name, "NAME", w_methods, "METHODS", w_path, "PATH", w_action, "ACTION", w_mode, "MODE");
	for (uint32_t i = 0; i < s->route_count; i++) {
		const struct ztg_policy_route *r = &s->routes[i];

		fprintf(out, "    %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_name, r->name,
			w_methods, format_methods(r->methods, methods), w_path, r->path,
			w_action, ztg_policy_action_name(r->action), w_mode, ztg_policy_mode_name(r->mode),
			format_loc(&r->loc, loc, sizeof(loc)));
		if (r->action == ZTG_POLICY_ACTION_ALLOW)
			show_requirement(out, &r->require);
		/* Only where the route says otherwise than its service. */
		if (memcmp(&r->detect, &s->detect, sizeof(r->detect)) != 0)
			show_detect(out, p, &r->detect, "      ");
		if (r->rate_limit_count > 0 && !r->rate_limits[0].from_service)
			show_rate_limits(out, r->rate_limits, r->rate_limit_count, "      ");
		else if (r->action == ZTG_POLICY_ACTION_ALLOW && r->rate_limit_count == 0 && s->rate_limit_count > 0)
			fputs("      rate limits: none (the service's do not apply)\n", out);
	}
}

static void show_service(FILE *out, const struct ztg_policy *p, const struct ztg_policy_service *s)
{
	char loc[LOC_STR_MAX];

	fprintf(out, "\nservice %s  (%s)\n  hosts      ", s->name, format_loc(&s->loc, loc, sizeof(loc)));
	for (uint32_t i = 0; i < s->host_count; i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "", s->hosts[i].pattern);
	fputs("\n  addresses  ", out);
	print_addresses(out, s->addresses, s->address_count);
	fputs("\n  ports      ", out);
	for (uint32_t i = 0; i < s->port_count; i++)
		fprintf(out, "%s%u", i > 0 ? ", " : "", s->ports[i]);
	fprintf(out, "\n  segment    %s\n  mode       %s%s\n", p->segments[s->segment].name,
		ztg_policy_mode_name(s->mode), s->mode_set ? "" : " (the policy's)");
	if (s->authentication.present) {
		const struct ztg_policy_authentication *a = &s->authentication;

		fputs("  credentials", out);
		for (uint32_t i = 0; i < a->issuer_count; i++)
			fprintf(out, "%s%s", i ? ", " : " tokens of ", p->issuers[a->issuers[i]].name);
		if (a->issuer_count)
			fprintf(out, " in %s%s%s%s%s", a->header, a->scheme[0] ? " (" : "", a->scheme,
				a->scheme[0] ? ")" : "", a->query ? " or query " : "");
		if (a->query)
			fputs(a->query, out);
		if (a->api_key_header || a->api_key_query)
			fprintf(out, "%sAPI keys in %s%s%s", a->issuer_count ? "; " : " ",
				a->api_key_header ? a->api_key_header : "", a->api_key_header && a->api_key_query ? " or query " :
				(a->api_key_query ? "query " : ""), a->api_key_query ? a->api_key_query : "");
		fputc('\n', out);
	}
	show_detect(out, p, &s->detect, "  ");
	show_rate_limits(out, s->rate_limits, s->rate_limit_count, "  ");
	show_routes(out, p, s);
}

/* The access matrix, one line per entry: FROM -> services. */
static void show_access(FILE *out, const struct ztg_policy *p)
{
	char loc[LOC_STR_MAX];
	int width = 0;

	for (uint32_t i = 0; i < p->access_count; i++)
		width = width_max(width, p->segments[p->access[i].from].name);
	fprintf(out, "\naccess (%u)\n", p->access_count);
	for (uint32_t i = 0; i < p->access_count; i++) {
		const struct ztg_policy_access *a = &p->access[i];

		fprintf(out, "  %-*s  -> ", width, p->segments[a->from].name);
		for (uint32_t t = 0; t < a->to_count; t++)
			fprintf(out, "%s%s", t > 0 ? ", " : "", p->services[a->to[t]].name);
		fprintf(out, "  (%s)\n", format_loc(&a->loc, loc, sizeof(loc)));
	}
	fprintf(out, "  anything else: %s\n", ztg_policy_action_name(p->defaults.action));
}

static void show_identity(FILE *out, const struct ztg_policy *p)
{
	char loc[LOC_STR_MAX];

	if (p->issuer_count > 0)
		fprintf(out, "\nissuers (%u)\n", p->issuer_count);
	for (uint32_t i = 0; i < p->issuer_count; i++) {
		const struct ztg_policy_issuer *is = &p->issuers[i];

		fprintf(out, "  %s  iss %s  (%s)\n    keys  ", is->name, is->iss, format_loc(&is->loc, loc, sizeof(loc)));
		if (is->jwks_url != NULL)
			fprintf(out, "%s every %us%s%s\n", is->jwks_url, is->jwks_refresh,
				is->has_jwks_ca ? ", CA " : "", is->has_jwks_ca ? is->jwks_ca.name : "");
		else if (is->has_jwks_file)
			fprintf(out, "%s\n", is->jwks_file.name);
		else
			for (uint32_t k = 0; k < is->pem_key_count; k++)
				fprintf(out, "%s%s%s%s", k ? ", " : "", is->pem_keys[k].file.name,
					is->pem_keys[k].kid[0] ? " as " : "", is->pem_keys[k].kid);
		if (is->jwks_url == NULL && !is->has_jwks_file)
			fputc('\n', out);
		fputs("    algs ", out);
		for (unsigned a = 0; a < ZTG_JWT_ALG_COUNT; a++)
			if (is->algorithms & ZTG_JWT_ALG_BIT(a))
				fprintf(out, " %s", ztg_jwt_alg_name((enum ztg_jwt_alg)a));
		fputs("\n    aud  ", out);
		for (uint32_t a = 0; a < is->audience_count; a++)
			fprintf(out, " %s", is->audiences[a]);
		if (is->audience_count == 0)
			fputs(" (not checked)", out);
		fprintf(out, "\n    leeway %us, tokens up to %u bytes, typ %s, identity %s\n", is->leeway,
			is->max_token_bytes, is->typ ? is->typ : "(any)", is->identity_claim);
	}
	if (p->api_key_count > 0)
		fprintf(out, "\napi keys (%u)\n", p->api_key_count);
	for (uint32_t i = 0; i < p->api_key_count; i++) {
		const struct ztg_policy_api_key *k = &p->api_keys[i];

		fprintf(out, "  %s  subject %s", k->id, k->subject);
		for (uint32_t c = 0; c < k->scope_count; c++)
			fprintf(out, "%s%s", c ? ", " : "  scopes ", k->scopes[c]);
		fprintf(out, "  (%s)\n", format_loc(&k->loc, loc, sizeof(loc)));
	}
}

static void show_text(FILE *out, const struct ztg_policy *p)
{
	fprintf(out, "policy %s  (version %u, %s)\n", p->name, p->version, p->path);
	fprintf(out, "  mode      %s\n", ztg_policy_mode_name(p->mode));
	fprintf(out, "  defaults  action %s, non_http %s, unknown_host %s\n",
		ztg_policy_action_name(p->defaults.action), ztg_policy_action_name(p->defaults.non_http),
		ztg_policy_action_name(p->defaults.unknown_host));
	ztg_policy_behaviour_print(out, &p->behaviour, "  ");
	show_segments(out, p);
	show_identity(out, p);
	show_signatures(out, p);
	for (uint32_t i = 0; i < p->service_count; i++)
		show_service(out, p, &p->services[i]);
	show_access(out, p);
}

static void json_loc(struct json *j, const struct ztg_policy_loc *loc)
{
	json_kv_string(j, "file", loc->file);
	json_kv_uint(j, "line", loc->line);
}

static void json_addresses(struct json *j, const struct ztg_policy_address *a, uint32_t count)
{
	char cidr[CIDR_STR_MAX];

	json_key(j, "addresses");
	json_begin(j, '[');
	for (uint32_t i = 0; i < count; i++)
		json_string(j, format_cidr(&a[i].cidr, cidr));
	json_end(j, ']');
}

/* from_service only in a route's list: a service's own entries never are. */
static void json_rate_limits(struct json *j, const struct ztg_policy_rate_limit *rl, uint32_t count, bool route)
{
	json_key(j, "rate_limits");
	json_begin(j, '[');
	for (uint32_t i = 0; i < count; i++) {
		json_begin(j, '{');
		json_kv_string(j, "name", rl[i].name);
		json_kv_string(j, "per", ztg_policy_rate_key_name(rl[i].key));
		if (rl[i].key == ZTG_POLICY_RATE_SOURCE) {
			json_kv_uint(j, "prefix4", rl[i].prefix4);
			json_kv_uint(j, "prefix6", rl[i].prefix6);
		}
		json_kv_uint(j, "rate", rl[i].rate);
		json_kv_string(j, "period", ztg_policy_rate_period_name(rl[i].period));
		json_kv_uint(j, "period_seconds", rl[i].period);
		json_kv_uint(j, "burst", rl[i].burst);
		json_kv_string(j, "action", ztg_policy_rate_action_name(rl[i].action));
		json_kv_string(j, "mode", rl[i].monitor ? "monitor" : "enforce");
		if (route)
			json_kv_bool(j, "from_service", rl[i].from_service);
		json_loc(j, &rl[i].loc);
		json_end(j, '}');
	}
	json_end(j, ']');
}

static void json_route(struct json *j, const struct ztg_policy_route *r)
{
	json_begin(j, '{');
	json_kv_string(j, "name", r->name);
	json_key(j, "methods");
	json_begin(j, '[');
	if (r->methods == ZTG_POLICY_METHODS_ANY)
		json_string(j, "ANY");
	else
		for (unsigned m = ZTG_HTTP_METHOD_GET; m <= ZTG_HTTP_METHOD_TRACE; m++)
			if (r->methods & ZTG_POLICY_METHOD_BIT(m))
				json_string(j, ztg_policy_method_name((enum ztg_http_method)m));
	json_end(j, ']');
	json_kv_string(j, "path", r->path);
	json_kv_string(j, "action", ztg_policy_action_name(r->action));
	json_kv_string(j, "mode", ztg_policy_mode_name(r->mode));
	json_kv_bool(j, "mode_set", r->mode_set);
	if (r->action == ZTG_POLICY_ACTION_ALLOW) {
		const struct ztg_policy_requirement *q = &r->require;

		json_kv_bool(j, "anonymous", q->anonymous);
		json_key(j, "require");
		json_begin(j, '{');
		json_kv_string(j, "scopes_match", q->scopes_any ? "any" : "all");
		json_key(j, "scopes");
		json_begin(j, '[');
		for (uint32_t i = 0; i < q->scope_count; i++)
			json_string(j, q->scopes[i]);
		json_end(j, ']');
		json_key(j, "claims");
		json_begin(j, '{');
		for (uint32_t i = 0; i < q->claim_count; i++)
			json_kv_string(j, q->claims[i].claim, q->claims[i].value);
		json_end(j, '}');
		json_key(j, "bind");
		json_begin(j, '{');
		for (uint32_t i = 0; i < q->binding_count; i++)
			json_kv_string(j, q->bindings[i].param, q->bindings[i].claim);
		json_end(j, '}');
		json_end(j, '}');
	}
	json_rate_limits(j, r->rate_limits, r->rate_limit_count, true);
	json_loc(j, &r->loc);
	json_end(j, '}');
}

static void json_service(struct json *j, const struct ztg_policy *p, const struct ztg_policy_service *s)
{
	json_begin(j, '{');
	json_kv_string(j, "name", s->name);
	json_key(j, "hosts");
	json_begin(j, '[');
	for (uint32_t i = 0; i < s->host_count; i++)
		json_string(j, s->hosts[i].pattern);
	json_end(j, ']');
	json_addresses(j, s->addresses, s->address_count);
	json_key(j, "ports");
	json_begin(j, '[');
	for (uint32_t i = 0; i < s->port_count; i++)
		json_uint(j, s->ports[i]);
	json_end(j, ']');
	json_kv_string(j, "segment", p->segments[s->segment].name);
	json_kv_string(j, "mode", ztg_policy_mode_name(s->mode));
	json_kv_bool(j, "mode_set", s->mode_set);
	if (s->authentication.present) {
		const struct ztg_policy_authentication *a = &s->authentication;

		json_key(j, "authentication");
		json_begin(j, '{');
		json_key(j, "issuers");
		json_begin(j, '[');
		for (uint32_t i = 0; i < a->issuer_count; i++)
			json_string(j, p->issuers[a->issuers[i]].name);
		json_end(j, ']');
		json_kv_string(j, "header", a->header);
		json_kv_string(j, "scheme", a->scheme);
		if (a->query)
			json_kv_string(j, "query", a->query);
		if (a->api_key_header)
			json_kv_string(j, "api_key_header", a->api_key_header);
		if (a->api_key_query)
			json_kv_string(j, "api_key_query", a->api_key_query);
		json_end(j, '}');
	}
	json_rate_limits(j, s->rate_limits, s->rate_limit_count, false);
	json_loc(j, &s->loc);
	json_key(j, "routes");
	json_begin(j, '[');
	for (uint32_t i = 0; i < s->route_count; i++)
		json_route(j, &s->routes[i]);
	json_end(j, ']');
	json_end(j, '}');
}

static void json_access(struct json *j, const struct ztg_policy *p, const struct ztg_policy_access *a)
{
	json_begin(j, '{');
	json_kv_string(j, "from", p->segments[a->from].name);
	json_key(j, "to");
	json_begin(j, '[');
	for (uint32_t t = 0; t < a->to_count; t++)
		json_string(j, p->services[a->to[t]].name);
	json_end(j, ']');
	json_loc(j, &a->loc);
	json_end(j, '}');
}

/* behaviour as the policy writes it, every field with its default filled in; null when absent. */
static void json_behaviour(struct json *j, const struct ztg_policy_behaviour *b)
{
	json_key(j, "behaviour");
	if (!b->present) {
		json_string(j, NULL);
		return;
	}
	json_begin(j, '{');
	json_kv_string(j, "mode", b->monitor ? "monitor" : "enforce");
	json_kv_uint(j, "window", b->window);
	json_kv_uint(j, "history", b->history);
	json_kv_double(j, "factor", b->factor);
	json_key(j, "floors");
	json_begin(j, '{');
	for (unsigned f = 0; f < ZTG_POLICY_FLOOR_COUNT; f++)
		json_kv_uint(j, ztg_policy_behaviour_floor_name((enum ztg_policy_behaviour_floor)f), b->floors[f]);
	json_end(j, '}');
	json_key(j, "signals");
	json_begin(j, '{');
	/* ANOMALY has no count: the floors and the factor say when one happens. */
	for (unsigned s = ZTG_POLICY_SIGNAL_AUTH_FAILURES; s < ZTG_POLICY_SIGNAL_COUNT; s++)
		json_kv_uint(j, ztg_policy_behaviour_signal_name((enum ztg_policy_behaviour_signal)s), b->limits[s]);
	json_end(j, '}');
	json_key(j, "risk");
	json_begin(j, '{');
	json_kv_double(j, "threshold", b->threshold);
	json_kv_uint(j, "half_life", b->half_life);
	json_kv_uint(j, "quarantine", b->quarantine);
	json_key(j, "weights");
	json_begin(j, '{');
	for (unsigned s = 0; s < ZTG_POLICY_SIGNAL_COUNT; s++)
		json_kv_double(j, ztg_policy_behaviour_signal_name((enum ztg_policy_behaviour_signal)s), b->weights[s]);
	json_end(j, '}');
	json_end(j, '}');
	json_loc(j, &b->loc);
	json_end(j, '}');
}

/* The whole model; references are names, not indexes. */
static void json_policy(struct json *j, const struct ztg_policy *p)
{
	json_begin(j, '{');
	json_kv_string(j, "name", p->name);
	json_kv_uint(j, "version", p->version);
	json_kv_string(j, "file", p->path);
	json_kv_string(j, "mode", ztg_policy_mode_name(p->mode));
	json_key(j, "defaults");
	json_begin(j, '{');
	json_kv_string(j, "action", ztg_policy_action_name(p->defaults.action));
	json_kv_string(j, "non_http", ztg_policy_action_name(p->defaults.non_http));
	json_kv_string(j, "unknown_host", ztg_policy_action_name(p->defaults.unknown_host));
	json_end(j, '}');
	json_behaviour(j, &p->behaviour);

	json_key(j, "segments");
	json_begin(j, '[');
	for (uint32_t i = 0; i < p->segment_count; i++) {
		const struct ztg_policy_segment *s = &p->segments[i];

		json_begin(j, '{');
		json_kv_string(j, "name", s->name);
		json_addresses(j, s->addresses, s->address_count);
		json_loc(j, &s->loc);
		json_end(j, '}');
	}
	json_end(j, ']');

	json_key(j, "issuers");
	json_begin(j, '[');
	for (uint32_t i = 0; i < p->issuer_count; i++) {
		const struct ztg_policy_issuer *is = &p->issuers[i];

		json_begin(j, '{');
		json_kv_string(j, "name", is->name);
		json_kv_string(j, "iss", is->iss);
		if (is->jwks_url)
			json_kv_string(j, "jwks_url", is->jwks_url);
		if (is->has_jwks_file)
			json_kv_string(j, "jwks_file", is->jwks_file.name);
		json_key(j, "algorithms");
		json_begin(j, '[');
		for (unsigned a = 0; a < ZTG_JWT_ALG_COUNT; a++)
			if (is->algorithms & ZTG_JWT_ALG_BIT(a))
				json_string(j, ztg_jwt_alg_name((enum ztg_jwt_alg)a));
		json_end(j, ']');
		json_key(j, "audiences");
		json_begin(j, '[');
		for (uint32_t a = 0; a < is->audience_count; a++)
			json_string(j, is->audiences[a]);
		json_end(j, ']');
		json_kv_uint(j, "leeway", is->leeway);
		json_kv_string(j, "identity_claim", is->identity_claim);
		json_loc(j, &is->loc);
		json_end(j, '}');
	}
	json_end(j, ']');

	json_key(j, "api_keys");
	json_begin(j, '[');
	for (uint32_t i = 0; i < p->api_key_count; i++) {
		json_begin(j, '{');
		json_kv_string(j, "id", p->api_keys[i].id);
		json_kv_string(j, "subject", p->api_keys[i].subject);
		json_loc(j, &p->api_keys[i].loc);
		json_end(j, '}');
	}
	json_end(j, ']');

	json_key(j, "services");
	json_begin(j, '[');
	for (uint32_t i = 0; i < p->service_count; i++)
		json_service(j, p, &p->services[i]);
	json_end(j, ']');

	json_key(j, "access");
	json_begin(j, '[');
	for (uint32_t i = 0; i < p->access_count; i++)
		json_access(j, p, &p->access[i]);
	json_end(j, ']');
	json_end(j, '}');
}

static int cmd_show(const struct ctl_call *call)
{
	const char *path = call->args[0];
	struct ztg_policy *p = NULL;
	struct ztg_policy_diag diag;
	int rc;

	ztg_policy_diag_init(&diag);
	rc = load_policy(path, &p, &diag);
	if (rc != CTL_EXIT_OK)
		goto out;
	rc = p != NULL ? CTL_EXIT_OK : CTL_EXIT_NEGATIVE;

	if (call->flags & CTL_F_JSON) {
		struct json j = { .out = stdout };

		json_begin(&j, '{');
		json_load_result(&j, path, p != NULL, &diag);
		json_key(&j, "policy");
		if (p != NULL)
			json_policy(&j, p);
		else
			json_string(&j, NULL);
		json_end(&j, '}');
	} else {
		ztg_policy_diag_print(stderr, &diag);
		if (p != NULL)
			show_text(stdout, p);
		else
			print_counts(stderr, path, &diag, "");
	}
out:
	ztg_policy_free(p);
	ztg_policy_diag_free(&diag);
	return rc;
}

/* ------------------------------------------------------- running ztgate */

/* The command's answer in *body (caller frees); the status ztgate gave, or UNREACHABLE with err printed. */
static int fetch(const struct ctl_call *call, int argc, const char *const *argv, char **body, size_t *len)
{
	char err[512];
	FILE *out = open_memstream(body, len);
	enum ztg_control_status status;

	if (out == NULL)
		return CTL_EXIT_INTERNAL;
	status = ztg_control_call(call->socket, argc, argv, out, err, sizeof(err));
	fclose(out);
	if (status == ZTG_CONTROL_UNREACHABLE && *len == 0)
		fprintf(stderr, "%s: %s\n", CTL_NAME, err);
	return (int)status;
}

/* Send the command and its arguments; the body goes to stdout on success, stderr otherwise. */
static int remote(const struct ctl_call *call, int argc, const char *const *argv)
{
	char *body = NULL;
	size_t body_len = 0;
	int status = fetch(call, argc, argv, &body, &body_len);

	fwrite(body, 1, body_len, status == CTL_EXIT_OK ? stdout : stderr);
	free(body);
	return status;
}

/* Print the event lines of a text answer; return the "#next N" cursor it ends with. */
static unsigned long long print_events(const char *body)
{
	const char *cursor = strstr(body, "#next ");

	fwrite(body, 1, cursor ? (size_t)(cursor - body) : strlen(body), stdout);
	fflush(stdout);
	return cursor ? strtoull(cursor + 6, NULL, 10) : 0;
}

static int cmd_events(const struct ctl_call *call)
{
	char since[32];
	const char *argv[3] = {"events", "--since", since};
	bool json = call->flags & CTL_F_JSON, follow = call->flags & CTL_F_FOLLOW;
	unsigned long long next;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (json && follow) {
		fprintf(stderr, "%s: events: --follow prints JSON lines already; --json is for one snapshot\n", CTL_NAME);
		return CTL_EXIT_USAGE;
	}
	if (json) {
		argv[1] = "--json";
		return remote(call, 2, argv);
	}
	rc = fetch(call, 1, argv, &body, &len);
	if (rc != CTL_EXIT_OK) {
		fwrite(body, 1, len, stderr);
		free(body);
		return rc;
	}
	next = print_events(body);
	free(body);
	while (follow) {
		struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};

		nanosleep(&pause, NULL);
		snprintf(since, sizeof(since), "%llu", next);
		body = NULL;
		len = 0;
		rc = fetch(call, 3, argv, &body, &len);
		if (rc != CTL_EXIT_OK) {
			fwrite(body, 1, len, stderr);
			free(body);
			return rc;
		}
		next = print_events(body);
		free(body);
	}
	return CTL_EXIT_OK;
}

/* Wait up to seconds for one of the signals in stop (blocked): whether one came. Others end the wait early. */
static bool wait_for_stop(const sigset_t *stop, double seconds)
{
	struct timespec t = {.tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};

	return sigtimedwait(stop, NULL, &t) >= 0;
}

/*
 * top: one frame per interval until Ctrl-C (or SIGTERM), which is blocked and
 * waited for between frames, so it ends the loop at a frame's edge, never in
 * the middle of one. The polls after the first say --again: ztgate audits
 * the first only.
 */
static int cmd_top(const struct ctl_call *call)
{
	const char *argv[3] = {"top"};
	int argc = 1, rc = CTL_EXIT_OK;
	double interval = 1;
	bool once = false, tty = isatty(STDOUT_FILENO);
	sigset_t stop, saved;

	for (int i = 0; i < call->argc; i++) {
		const char *a = call->args[i];

		if (strcmp(a, "--once") == 0) {
			once = true;
		} else if (strcmp(a, "--interval") == 0) {
			char *end;

			if (++i == call->argc)
				return usage_error(call->cmd, "top: --interval needs SECONDS");
			errno = 0;
			interval = strtod(call->args[i], &end);
			if (end == call->args[i] || *end != '\0' || errno != 0 || !(interval >= 1 && interval <= 3600))
				return usage_error(call->cmd, "top: --interval %s: expected seconds from 1 to 3600",
						   call->args[i]);
		} else {
			return usage_error(call->cmd, "top: unexpected argument '%s'", a);
		}
	}
	if (call->flags & CTL_F_JSON)
		argv[argc++] = "--json";
	/* --once keeps the default: Ctrl-C ends it at once, even in the middle of a call. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (!once)
		sigprocmask(SIG_BLOCK, &stop, &saved);
	for (unsigned long frame = 0;; frame++) {
		char *body = NULL;
		size_t len = 0;

		rc = fetch(call, argc, argv, &body, &len);
		if (rc != CTL_EXIT_OK) {
			fwrite(body, 1, len, stderr);
			free(body);
			break;
		}
		if (tty && !once)
			printf("\x1b[H\x1b[2J%s top: every %g s; Ctrl-C quits\n\n", CTL_NAME, interval);
		else if (frame > 0)
			putchar('\n');
		fwrite(body, 1, len, stdout);
		free(body);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "%s: cannot write the output: %s\n", CTL_NAME, strerror(errno));
			rc = CTL_EXIT_INTERNAL;
			break;
		}
		if (once || wait_for_stop(&stop, interval))
			break;
		if (frame == 0)
			argv[argc++] = "--again";
	}
	if (!once)
		sigprocmask(SIG_SETMASK, &saved, NULL);
	return rc;
}

/* The command and its arguments as they are, --json if asked. */
static int cmd_passthrough(const struct ctl_call *call)
{
	const char *argv[20];
	int argc = 0;

	argv[argc++] = call->cmd->name;
	for (int i = 0; i < call->argc && argc < 18; i++)
		argv[argc++] = call->args[i];
	if (call->flags & CTL_F_JSON)
		argv[argc++] = "--json";
	return remote(call, argc, argv);
}

static int cmd_compile(const struct ctl_call *call)
{
	const char *file = NULL, *bundle = NULL;
	struct ztg_policy_diag diag;
	struct ztg_policy_source src;
	char err[512];
	uint32_t matchers = 0, databases = 0;
	int rc;

	for (int i = 0; i < call->argc; i++) {
		if (strcmp(call->args[i], "-o") == 0 && i + 1 < call->argc)
			bundle = call->args[++i];
		else if (file == NULL && call->args[i][0] != '-')
			file = call->args[i];
		else
			return usage_error(call->cmd, "compile: unexpected argument '%s'", call->args[i]);
	}
	if (file == NULL || bundle == NULL)
		return usage_error(call->cmd, "compile: FILE and -o BUNDLE are both needed");
	/* The sources, and the route matchers compiled as ztgate runs them: what ztgate takes as shipped. */
	ztg_policy_diag_init(&diag);
	rc = ztg_policy_source_load(file, &src, &diag, err, sizeof(err));
	ztg_policy_diag_print(stderr, &diag);
	ztg_policy_diag_free(&diag);
	if (rc == 0)
		rc = ztg_policy_source_save(&src, bundle, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s: %s: no bundle written\n", CTL_NAME, err);
		ztg_policy_source_release(&src);
		return rc == -ENOMEM || rc == -EIO ? CTL_EXIT_INTERNAL : CTL_EXIT_NEGATIVE;
	}
	/* The compiled records are route matchers and signature databases: count each kind. */
	for (uint32_t i = 0; i < src.compiled.count; i++) {
		if (strncmp(src.compiled.files[i].name, ZTG_POLICY_COMPILED_ROUTES,
			    strlen(ZTG_POLICY_COMPILED_ROUTES)) == 0)
			matchers++;
		else if (strncmp(src.compiled.files[i].name, ZTG_SIG_COMPILED_RECORD,
				 strlen(ZTG_SIG_COMPILED_RECORD)) == 0)
			databases++;
	}
	if (call->flags & CTL_F_JSON) {
		struct json j = { .out = stdout };

		json_begin(&j, '{');
		json_kv_string(&j, "bundle", bundle);
		json_kv_string(&j, "policy", src.policy->name);
		json_kv_string(&j, "sha256", src.hash);
		json_kv_uint(&j, "compiled_route_matchers", matchers);
		json_kv_uint(&j, "compiled_signature_databases", databases);
		json_end(&j, '}');
	} else {
		printf("%s: policy \"%s\", %u compiled route matcher(s), %u signature database(s), sha256 %s\n",
		       bundle, src.policy->name, matchers, databases, src.hash);
	}
	ztg_policy_source_release(&src);
	return CTL_EXIT_OK;
}

/* "policy" and "policy show" are the same question. */
static int cmd_policy(const struct ctl_call *call)
{
	struct ctl_call plain = *call;

	if (call->argc == 1 && strcmp(call->args[0], "show") != 0)
		return usage_error(call->cmd, "policy: unknown subcommand '%s' (show)", call->args[0]);
	plain.argc = 0;
	return cmd_passthrough(&plain);
}


static int cmd_explain(const struct ctl_call *call)
{
	const char *argv[20];
	char *paths[2] = {NULL, NULL};
	int argc = 0, npaths = 0, rc;

	argv[argc++] = "explain";
	for (int i = 0; i < call->argc && argc < 18; i++) {
		argv[argc++] = call->args[i];
		/* ztgate reads these files itself, from its own directory. */
		if ((strcmp(call->args[i], "--policy") == 0 || strcmp(call->args[i], "--request") == 0) &&
		    i + 1 < call->argc && npaths < 2) {
			char *path = realpath(call->args[i + 1], NULL);

			if (path == NULL) {
				fprintf(stderr, "%s: explain: %s: %s\n", CTL_NAME, call->args[i + 1], strerror(errno));
				free(paths[0]);
				return CTL_EXIT_NEGATIVE;
			}
			paths[npaths++] = path;
			argv[argc++] = path;
			i++;
		}
	}
	if (call->flags & CTL_F_JSON)
		argv[argc++] = "--json";
	rc = remote(call, argc, argv);
	free(paths[0]);
	free(paths[1]);
	return rc;
}

static int cmd_apply(const struct ctl_call *call)
{
	char *path = realpath(call->args[0], NULL);
	const char *argv[3] = {"apply", NULL, "--json"};
	int rc;

	/* ztgate runs elsewhere: it needs a path that does not depend on our directory. */
	if (path == NULL) {
		fprintf(stderr, "%s: apply: %s: %s\n", CTL_NAME, call->args[0], strerror(errno));
		return CTL_EXIT_NEGATIVE;
	}
	argv[1] = path;
	rc = remote(call, call->flags & CTL_F_JSON ? 3 : 2, argv);
	free(path);
	return rc;
}

/* FILE as an absolute path (its directory must exist), for ztgate to open from its own directory. */
static char *capture_path(const char *file)
{
	const char *slash = strrchr(file, '/');
	char *dir = slash == NULL ? strdup(".") : strndup(file, (size_t)(slash - file));
	char *real = NULL, *path = NULL;

	if (dir == NULL)
		return NULL;
	/* "/name": the directory is the root. */
	real = realpath(dir[0] != '\0' ? dir : "/", NULL);
	if (real == NULL)
		fprintf(stderr, "%s: capture: --output %s: %s\n", CTL_NAME, file, strerror(errno));
	else if (asprintf(&path, "%s/%s", strcmp(real, "/") == 0 ? "" : real, slash ? slash + 1 : file) < 0)
		path = NULL;
	free(dir);
	free(real);
	return path;
}

/*
 * capture: start ztgate's capture, poll it every 200 ms until it ends by
 * itself (--count, --duration) or Ctrl-C / SIGTERM, stop it and print what it
 * wrote. The signals are blocked and waited for between polls, so the
 * capture is always stopped. ztgate checks the numbers' ranges.
 */
static int cmd_capture(const struct ctl_call *call)
{
	const char *argv[10] = {"capture", "start"}, *stop_argv[3] = {"capture", "stop", "--json"};
	const char *output = NULL;
	char *path, *body = NULL;
	size_t len = 0;
	sigset_t stop, saved;
	int argc = 3, rc;

	if (call->argc == 1 && (strcmp(call->args[0], "status") == 0 || strcmp(call->args[0], "stop") == 0))
		return cmd_passthrough(call);
	for (int i = 0; i < call->argc; i++) {
		const char *a = call->args[i];
		char *end;

		if (strcmp(a, "--output") != 0 && strcmp(a, "--count") != 0 && strcmp(a, "--duration") != 0 &&
		    strcmp(a, "--snaplen") != 0)
			return usage_error(call->cmd, "capture: unexpected argument '%s'", a);
		if (++i == call->argc)
			return usage_error(call->cmd, "capture: %s needs a value", a);
		if (strcmp(a, "--output") == 0) {
			output = call->args[i];
			continue;
		}
		if (strtoull(call->args[i], &end, 10) == 0 || *end != '\0' || call->args[i][0] == '-')
			return usage_error(call->cmd, "capture: %s %s: expected a positive number", a, call->args[i]);
		argv[argc++] = a;
		argv[argc++] = call->args[i];
	}
	if (output == NULL)
		return usage_error(call->cmd, "capture: --output FILE is needed");
	path = capture_path(output);
	if (path == NULL)
		return CTL_EXIT_NEGATIVE;
	argv[2] = path;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &saved);
	rc = fetch(call, argc, argv, &body, &len);
	/* What starts, or why it cannot: on stderr, so stdout holds only the result. */
	fwrite(body, 1, len, stderr);
	free(body);
	if (rc == CTL_EXIT_OK) {
		fprintf(stderr, "%s: capturing; Ctrl-C stops\n", CTL_NAME);
		do {
			const char *status_argv[2] = {"capture", "status"};

			if (wait_for_stop(&stop, 0.2))
				break;
			body = NULL;
			len = 0;
			rc = fetch(call, 2, status_argv, &body, &len);
			free(body);
		} while (rc == CTL_EXIT_OK);
		/* Whether it ended by itself (status said NEGATIVE) or not, stop ends it and reports. */
		if (rc == CTL_EXIT_UNREACHABLE)
			fprintf(stderr, "%s: capture: ztgate went away; %s holds what it wrote before\n", CTL_NAME, path);
		else
			rc = remote(call, call->flags & CTL_F_JSON ? 3 : 2, stop_argv);
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------- main */

/* Output still in stdio's buffer must reach its file too, or the answer is lost. */
static int flush_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output: %s\n", CTL_NAME, strerror(errno));
		return CTL_EXIT_INTERNAL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl_call call = { .flags = 0 };
	const struct ctl_command *c;
	int i, rc;

	call.socket = getenv("ZTGATE_SOCKET");
	if (call.socket == NULL || call.socket[0] == '\0')
		call.socket = ZTG_CONTROL_DEFAULT_PATH;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--socket") == 0) {
			if (++i == argc)
				return usage_error(NULL, "--socket needs a PATH");
			call.socket = argv[i];
		} else if (strcmp(a, "--json") == 0) {
			call.flags |= CTL_F_JSON;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_usage(stdout);
			return flush_stdout(CTL_EXIT_OK);
		} else if (strcmp(a, "--version") == 0) {
			printf("%s %s\n", CTL_NAME, ZTG_VERSION);
			return flush_stdout(CTL_EXIT_OK);
		} else {
			return usage_error(NULL, "unknown option '%s'", a);
		}
	}
	if (i == argc)
		return usage_error(NULL, "missing COMMAND");
	c = find_command(argv[i]);
	if (c == NULL)
		return usage_error(NULL, "unknown command '%s'", argv[i]);

	rc = parse_command_args(c, argc - i - 1, argv + i + 1, &call);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (call.flags & CTL_F_HELP) {
		print_command_help(stdout, c);
		return flush_stdout(CTL_EXIT_OK);
	}
	return flush_stdout(c->run(&call));
}
