/*
 * TCP stream reassembly for one flow, both directions: hands the HTTP layer
 * each direction's bytes once, in order, exactly as the receiving host will
 * assemble them, and catches the segments that would make the two views
 * differ.
 *
 * Memory: struct ztg_stream is fixed-size and embedded in the flow. Bytes
 * that must be kept (out-of-order segments awaiting a gap, and delivered
 * bytes not yet acknowledged by the receiver, kept to compare against
 * retransmissions) live in fixed-size chunks of a per-worker pool, bounded
 * per direction by the config and in total by the pool; nothing is allocated
 * per packet. Every byte a stream holds is released by ztg_stream_release.
 *
 * Sequence numbers are compared modulo 2^32. Data is delivered only after
 * the handshake is complete and only inside the receiver's advertised
 * window (window scale from the SYN options honoured).
 *
 * Mid-stream pickup (the tracker opened the flow without a SYN): each
 * direction starts at the first segment seen from its sender, whose bytes
 * are delivered; window scales are unknown and taken as 14 (the largest),
 * so only grossly out-of-window segments are refused; and ACKs are not
 * checked against the bytes seen, since bytes sent before the pickup are
 * unknown. A flow picked up at the SYN-ACK knows both sequence spaces and
 * is checked as fully as one whose SYN was seen.
 */
#ifndef ZTG_TCP_STREAM_H
#define ZTG_TCP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

/* Bytes per pool chunk. */
#define ZTG_STREAM_CHUNK_SIZE 2048
/* Most pieces one segment can deliver: its own bytes plus buffered followers. */
#define ZTG_STREAM_MAX_PIECES 32
/*
 * Most chunks a direction holds out of order, whatever the config says: a
 * segment that fills the gap must be able to deliver every buffered chunk
 * behind it in one call. Contiguous out-of-order bytes share chunks, so this
 * is about 62 KiB of in-order backlog, or this many separate holes.
 */
#define ZTG_STREAM_MAX_OOO_CHUNKS (ZTG_STREAM_MAX_PIECES - 1)

struct ztg_stream_config {
	bool buffer_out_of_order;      /* false: drop out-of-order segments (the sender retransmits) */
	uint16_t max_ooo_segments;     /* per direction (default 31, the chunk cap): runs of bytes held out of order;
					  a segment that fills several holes counts once per hole */
	uint32_t max_ooo_bytes;        /* per direction (default 31 chunks: 63488); see also ZTG_STREAM_MAX_OOO_CHUNKS */
	uint32_t retain_bytes;         /* per direction: delivered, unacknowledged bytes kept to compare
					  retransmissions against (default 16384; 0 = keep none) */
	uint32_t depth;                /* per direction: bytes delivered before reassembly stops and the
					  rest passes uninspected (0 = unlimited, default) */
};

void ztg_stream_config_default(struct ztg_stream_config *config);

struct ztg_stream_pool;

/* chunks of ZTG_STREAM_CHUNK_SIZE bytes; NULL on failure. */
struct ztg_stream_pool *ztg_stream_pool_create(uint32_t chunks);
void ztg_stream_pool_free(struct ztg_stream_pool *pool);
uint32_t ztg_stream_pool_in_use(const struct ztg_stream_pool *pool);

/* One direction (bytes sent by one endpoint); fields are private to tcp_stream.c. */
struct ztg_stream_dir {
	uint32_t isn;                  /* sequence number of the SYN */
	uint32_t next_seq;             /* next byte expected from this sender (a FIN counts one) */
	uint32_t acked;                /* highest ACK the peer sent for this direction */
	uint32_t window_end;           /* furthest right edge the peer has advertised for this direction */
	uint32_t max_window;           /* largest (scaled) window the peer has advertised */
	uint32_t fin_seq;              /* sequence number of this sender's FIN */
	uint32_t delivered;            /* bytes delivered so far (for depth; saturates) */
	uint32_t ooo_bytes;
	uint32_t retained_bytes;
	uint32_t ooo_head;             /* chunk lists: pool index + 1, 0 = empty */
	uint32_t retained_head;
	uint32_t retained_tail;
	uint16_t ooo_segments;         /* runs held out of order */
	uint16_t ooo_chunks;
	uint8_t wscale;                /* this sender's window scale (applies to its window field) */
	uint8_t flags;
};

/* All zeroes is the initial state, so a flow zeroed by its table needs no ztg_stream_init. */
struct ztg_stream {
	struct ztg_stream_dir dir[2];  /* by sending flow endpoint */
	uint32_t spent_head;           /* chunks lent to the last delivery, freed by the next call */
	uint8_t state;
	uint8_t initiator;             /* endpoint that sent the SYN (or was first seen) */
	uint8_t flags;
	uint8_t pad;
};

enum ztg_stream_result {
	ZTG_STREAM_DELIVER = 0,        /* forward the packet; deliver the pieces (maybe none, e.g. pure ACK) */
	ZTG_STREAM_BUFFERED,           /* out of order, copied: forward the packet, nothing to deliver yet */
	ZTG_STREAM_DUPLICATE,          /* retransmission of bytes already seen, identical: forward */
	ZTG_STREAM_UNVERIFIED,         /* retransmission of bytes no longer retained: forward, count */
	ZTG_STREAM_DROP_OOO,           /* out of order and not buffered (mode or bounds): drop the packet */
	ZTG_STREAM_DROP_WINDOW,        /* outside the receiver's window, or data before the handshake: drop */
	ZTG_STREAM_BLOCK_OVERLAP,      /* overlaps bytes already seen with different content: block the flow */
	ZTG_STREAM_PASS_DEPTH,         /* past the inspection depth: forward uninspected */
};

const char *ztg_stream_result_name(enum ztg_stream_result result);

struct ztg_stream_piece {
	const uint8_t *data;
	uint32_t len;
};

struct ztg_stream_delivery {
	uint32_t count;
	struct ztg_stream_piece pieces[ZTG_STREAM_MAX_PIECES];
	uint32_t bytes;
	uint32_t seq;                  /* sequence number of the first delivered byte */
	/*
	 * The sender's FIN came in order with this call: every byte before it
	 * is delivered and the sender's stream has ended. Not the packet's FIN
	 * bit: a FIN that came early is reported when the gap before it fills,
	 * and a repeated one never again.
	 */
	bool fin;
};

/* Both directions empty: the state a new flow starts in. */
void ztg_stream_init(struct ztg_stream *stream);

/*
 * Account one TCP segment sent by flow endpoint `sender` (0/1), whose
 * tracker accepted it. tcp_options/tcp_options_len are the raw option bytes
 * (window scale is read from SYNs; NULL with length 0 when none). On
 * ZTG_STREAM_DELIVER, *delivery holds the bytes now in order: the segment's
 * new bytes first (pointing into payload), then any buffered bytes it made
 * contiguous (pointing into pool chunks, valid until the next call on this
 * stream or its release), and delivery->fin says whether the sender's
 * stream ended with them. Every other result delivers nothing
 * (delivery->count == 0, delivery->fin false).
 *
 * The stream's state only learns from segments it lets through: a dropped
 * or blocking segment changes nothing but the handshake bookkeeping. A
 * sender above 1, or a payload_len without payload, is ZTG_STREAM_DROP_WINDOW.
 */
enum ztg_stream_result ztg_stream_segment(struct ztg_stream *stream, struct ztg_stream_pool *pool,
					  const struct ztg_stream_config *config, unsigned int sender,
					  uint8_t tcp_flags, uint32_t seq, uint32_t ack, uint16_t window,
					  const uint8_t *tcp_options, uint32_t tcp_options_len,
					  const uint8_t *payload, uint32_t payload_len,
					  struct ztg_stream_delivery *delivery);

/* Next sequence number endpoint `sender` will send (for forged RSTs); 0 before it is known. */
uint32_t ztg_stream_next_seq(const struct ztg_stream *stream, unsigned int sender);

/*
 * Give every chunk back to the pool (flow end, reopen, block). Sequence
 * state stays, so ztg_stream_next_seq still answers and later segments are
 * still judged (they buffer and retain again); call ztg_stream_init to
 * start over, as on a reopen.
 */
void ztg_stream_release(struct ztg_stream *stream, struct ztg_stream_pool *pool);

#endif
