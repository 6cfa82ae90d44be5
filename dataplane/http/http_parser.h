/*
 * HTTP/1.1 parser for one connection, both directions, fed incrementally
 * with the in-order bytes the stream layer delivers.
 *
 * It sees what the server will see: strict RFC 9110/9112 framing, with every
 * construct that lets two parsers disagree on where a message ends refused
 * as a violation (request smuggling). It emits events (headers complete, body
 * piece, message complete, tunnel, violation) to one callback; body pieces
 * point into the bytes fed (no copy), and header fields point into the fed
 * bytes when the whole header block arrived in one feed, otherwise into a
 * buffer taken from a per-worker pool only while a header block is split.
 *
 * Invariants: state per connection is fixed-size (struct ztg_http_conn,
 * embedded in the flow, nothing allocated per packet); limits are enforced
 * before any byte is copied; the result of feeding a byte sequence never
 * depends on how it was split across feeds. After a violation or a tunnel
 * the direction accepts no more bytes (feed returns the same state).
 */
#ifndef ZTG_HTTP_PARSER_H
#define ZTG_HTTP_PARSER_H

#include <stdbool.h>
#include <stdint.h>

/* Why a message was refused. Names are stable: they are verdict reasons. */
#define ZTG_HTTP_VIOLATIONS(X)                                                   \
	X(NONE,                     "none")                                      \
	X(REQUEST_LINE_TOO_LONG,    "http_request_line_too_long")                \
	X(STATUS_LINE_TOO_LONG,     "http_status_line_too_long")                 \
	X(HEADER_LINE_TOO_LONG,     "http_header_line_too_long")                 \
	X(TOO_MANY_HEADERS,         "http_too_many_headers")                     \
	X(HEADERS_TOO_LARGE,        "http_headers_too_large")                    \
	X(BAD_REQUEST_LINE,         "http_bad_request_line")                     \
	X(BAD_METHOD,               "http_bad_method")                           \
	X(BAD_TARGET,               "http_bad_target")                           \
	X(BAD_VERSION,              "http_bad_version")                          \
	X(BAD_STATUS_LINE,          "http_bad_status_line")                      \
	X(BAD_HEADER_NAME,          "http_bad_header_name")                      \
	X(BAD_HEADER_VALUE,         "http_bad_header_value")                     \
	X(BARE_LF,                  "http_bare_lf")                              \
	X(BARE_CR,                  "http_bare_cr")                              \
	X(NUL_BYTE,                 "http_nul_byte")                             \
	X(OBS_FOLD,                 "http_obsolete_line_folding")                \
	X(CL_AND_TE,                "http_content_length_and_transfer_encoding") \
	X(DUPLICATE_CONTENT_LENGTH, "http_duplicate_content_length")             \
	X(BAD_CONTENT_LENGTH,       "http_bad_content_length")                   \
	X(BAD_TRANSFER_ENCODING,    "http_bad_transfer_encoding")                \
	X(BAD_CHUNK_SIZE,           "http_bad_chunk_size")                       \
	X(BAD_CHUNK_EXTENSION,      "http_bad_chunk_extension")                  \
	X(BAD_CHUNK_TERMINATOR,     "http_bad_chunk_terminator")                 \
	X(MISSING_HOST,             "http_missing_host")                         \
	X(DUPLICATE_HOST,           "http_duplicate_host")                       \
	X(BAD_HOST,                 "http_bad_host")                             \
	X(HTTP2_PRIOR_KNOWLEDGE,    "http2_prior_knowledge")                     \
	X(RESPONSE_WITHOUT_REQUEST, "http_response_without_request")             \
	X(TOO_MANY_PIPELINED,       "http_too_many_pipelined")                   \
	X(BUFFER_EXHAUSTED,         "http_header_buffer_exhausted")

enum ztg_http_violation {
#define ZTG_HTTP_VIOLATION_ENUM(sym, name) ZTG_HTTP_##sym,
	ZTG_HTTP_VIOLATIONS(ZTG_HTTP_VIOLATION_ENUM)
#undef ZTG_HTTP_VIOLATION_ENUM
	ZTG_HTTP_VIOLATION_COUNT
};

const char *ztg_http_violation_name(enum ztg_http_violation v);

enum ztg_http_method {
	ZTG_HTTP_METHOD_OTHER = 0,   /* a valid token that is none of these */
	ZTG_HTTP_METHOD_GET,
	ZTG_HTTP_METHOD_HEAD,
	ZTG_HTTP_METHOD_POST,
	ZTG_HTTP_METHOD_PUT,
	ZTG_HTTP_METHOD_DELETE,
	ZTG_HTTP_METHOD_PATCH,
	ZTG_HTTP_METHOD_OPTIONS,
	ZTG_HTTP_METHOD_CONNECT,
	ZTG_HTTP_METHOD_TRACE,
};

/* A protocol switch the message asks for (request) or accepts (response). */
enum ztg_http_upgrade {
	ZTG_HTTP_UPGRADE_NONE = 0,
	ZTG_HTTP_UPGRADE_WEBSOCKET,  /* Upgrade: websocket */
	ZTG_HTTP_UPGRADE_H2C,        /* Upgrade: h2c */
	ZTG_HTTP_UPGRADE_OTHER,      /* any other Upgrade token */
	ZTG_HTTP_UPGRADE_CONNECT,    /* the CONNECT method */
};

struct ztg_http_slice {
	const uint8_t *ptr;
	uint32_t len;
};

struct ztg_http_header {
	struct ztg_http_slice name;    /* as sent; compare case-insensitively */
	struct ztg_http_slice value;   /* leading and trailing whitespace removed */
};

#define ZTG_HTTP_MAX_HEADERS 128

/* Longest chunk-size line, extensions included, CRLF excluded; chunk sizes take at most 16 hex digits. */
#define ZTG_HTTP_MAX_CHUNK_LINE 1024

/* A request's or response's head. Valid only during the HEADERS event. */
struct ztg_http_message {
	bool is_request;
	uint8_t version_minor;         /* HTTP/1.<minor>: 0 or 1 */
	uint8_t method;                /* enum ztg_http_method (requests; for responses, the request's) */
	uint8_t upgrade;               /* enum ztg_http_upgrade */
	uint16_t status;               /* responses */
	uint16_t header_count;
	struct ztg_http_slice method_token; /* requests: the method as sent */
	struct ztg_http_slice target;       /* requests: the raw request-target */
	struct ztg_http_slice reason;       /* responses: reason phrase */
	struct ztg_http_slice host;         /* requests: Host header value, port included; empty if absent */
	const struct ztg_http_header *headers;
	int64_t content_length;        /* -1 when absent */
	bool chunked;                  /* Transfer-Encoding ends with chunked */
	bool keep_alive;               /* the connection stays open after this message */
	bool expect_continue;          /* Expect: 100-continue */
	bool has_body;                 /* a body follows (framing by length, chunks, or close) */
	uint32_t head_bytes;           /* start line + headers + blank line */
	uint32_t index;                /* 0-based message number on this connection, per direction;
					* a response carries the number of the request it answers
					* (1xx interim responses share it with the final one) */
};

enum ztg_http_event_type {
	ZTG_HTTP_EV_HEADERS = 1,       /* message: the head is complete */
	ZTG_HTTP_EV_BODY,              /* body: a piece of decoded body (chunk framing removed) */
	ZTG_HTTP_EV_COMPLETE,          /* the message (body included) is complete */
	ZTG_HTTP_EV_TUNNEL,            /* upgrade/CONNECT accepted: later bytes are not HTTP */
	ZTG_HTTP_EV_VIOLATION,         /* violation: the direction stops here */
};

struct ztg_http_event {
	enum ztg_http_event_type type;
	bool is_request;
	uint32_t index;                /* message number, as in ztg_http_message */
	/*
	 * HEADERS: the head. VIOLATION: the head when its start line could be
	 * read (method, target or status valid; fields maybe partial), else NULL.
	 */
	const struct ztg_http_message *message;
	struct ztg_http_slice body;              /* BODY only */
	enum ztg_http_violation violation;       /* VIOLATION only */
	uint8_t upgrade;                         /* TUNNEL only: enum ztg_http_upgrade */
};

/*
 * Called for every event in stream order. Return 0 to go on; any other
 * value stops the feed at once (the caller has taken a verdict) and is
 * returned by ztg_http_feed.
 */
typedef int (*ztg_http_event_fn)(void *ctx, const struct ztg_http_event *event);

struct ztg_http_limits {
	uint32_t max_start_line;       /* request or status line, CRLF excluded (default 8192) */
	uint32_t max_header_line;      /* one field line (default 8192) */
	uint32_t max_headers;          /* field lines per message, <= ZTG_HTTP_MAX_HEADERS (default 100) */
	uint32_t max_head_bytes;       /* whole head, blank line included; <= the pool's buffer size (default 16384) */
	uint32_t max_pipelined;        /* requests sent before their responses (default 16, <= 32) */
};

void ztg_http_limits_default(struct ztg_http_limits *limits);

/*
 * Per-worker pool of header buffers (max_head_bytes each). A connection
 * holds one only while a head is split across feeds.
 */
struct ztg_http_pool;

/* NULL on allocation failure or bad arguments. */
struct ztg_http_pool *ztg_http_pool_create(uint32_t buffers, uint32_t buffer_size);
void ztg_http_pool_free(struct ztg_http_pool *pool);
uint32_t ztg_http_pool_in_use(const struct ztg_http_pool *pool);

/* Parser state of one direction; fields are private to http_parser.c. */
struct ztg_http_dir {
	uint8_t state;
	uint8_t line_phase;            /* where in the current head, trailer or chunk line */
	uint8_t violation;             /* enum ztg_http_violation once stopped */
	uint8_t flags;                 /* of the message in progress */
	uint16_t header_count;         /* field lines so far in the head or trailer section */
	uint16_t pad;
	uint32_t line_len;             /* bytes of the current line so far, LF excluded */
	uint32_t head_len;             /* bytes of the head (or trailer section) so far */
	uint32_t index;                /* number of the message in progress */
	uint32_t buffer;               /* pool buffer index + 1, 0 = none */
	uint64_t remaining;            /* body or chunk bytes left; the chunk size while its line is read */
};

/* One connection: both directions plus the methods of requests awaiting responses. */
struct ztg_http_conn {
	struct ztg_http_dir request;
	struct ztg_http_dir response;
	uint8_t pending_methods[32];   /* ring: enum ztg_http_method | enum ztg_http_upgrade << 4 */
	uint8_t pending_head;
	uint8_t pending_count;
	uint8_t tunnel;                /* enum ztg_http_upgrade once a tunnel is open */
	uint8_t pad;
};

void ztg_http_conn_init(struct ztg_http_conn *conn);

/* Release any pool buffer the connection holds (flow end). */
void ztg_http_conn_release(struct ztg_http_conn *conn, struct ztg_http_pool *pool);

/*
 * Feed in-order bytes of one direction (is_request: client to server).
 * Returns 0 when all bytes were consumed, or the callback's non-zero value.
 * A violation is reported once as an event; later feeds of that direction
 * return ZTG_HTTP_FEED_STOPPED without events. So does the feed in which the
 * direction stopped (violation or tunnel) when the callback returned 0, and
 * every feed of a direction that is a tunnel or was closed. limits NULL means
 * the defaults; pool may be NULL (a head split across feeds is then
 * BUFFER_EXHAUSTED); fn may be NULL.
 */
#define ZTG_HTTP_FEED_STOPPED (-1)
int ztg_http_feed(struct ztg_http_conn *conn, bool is_request, const uint8_t *data, uint32_t len,
		  const struct ztg_http_limits *limits, struct ztg_http_pool *pool, ztg_http_event_fn fn,
		  void *ctx);

/*
 * The sender of that direction closed its side: a response framed by close
 * is complete (emits COMPLETE); a message cut short emits nothing. The
 * direction then takes no more bytes. Returns the callback's value, 0, or
 * ZTG_HTTP_FEED_STOPPED when the direction had already stopped.
 */
int ztg_http_close(struct ztg_http_conn *conn, bool is_request, ztg_http_event_fn fn, void *ctx);

#endif
