#include "tcp_stream.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../decode/decode.h"

/* The stream is embedded in every flow: keep it within two cache lines. */
_Static_assert(sizeof(struct ztg_stream) <= 128, "struct ztg_stream grew past 128 bytes");
/* Chunk lengths and offsets are 16-bit. */
_Static_assert(ZTG_STREAM_CHUNK_SIZE <= UINT16_MAX, "chunk size must fit a uint16_t");

/* RFC 7323 §2.3: a shift above 14 is read as 14. */
#define WSCALE_MAX 14u
#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_WSCALE 3
#define OPT_WSCALE_LEN 3

/*
 * Longest payload taken as one segment. Far above any real segment (even
 * LRO); it keeps every seq + len well inside half the sequence space, where
 * modular comparisons mean what they say.
 */
#define MAX_SEGMENT_LEN (1u << 30)

/*
 * Floor for the "maximum window" used to judge how far back a segment or an
 * ACK may legitimately reach: a peer that only ever advertised tiny windows
 * must not turn an ordinary reordered ACK into a drop.
 */
#define MIN_MAX_WINDOW 65535u

/* stream->state: the handshake as the stream sees it (the tracker owns the rest). */
enum {
	SS_NONE = 0,
	SS_SYN_SENT,
	SS_SYN_RECEIVED,
	SS_ESTABLISHED,
};

/* stream->flags */
#define SF_MIDSTREAM 0x01      /* picked up without a handshake: sequence positions are guesses */

/* dir->flags */
#define DF_SYNCED     0x01     /* next_seq is known */
#define DF_SYN        0x02     /* isn comes from a SYN */
#define DF_WS_OFFERED 0x04     /* the SYN carried a window scale option (wscale holds the shift) */
#define DF_ACKED      0x08     /* the receiver has acknowledged: acked, window_end, max_window valid */
#define DF_FIN        0x10     /* fin_seq is known */
#define DF_DEPTH      0x20     /* depth reached: nothing more is buffered, retained or delivered */

struct stream_chunk {
	uint32_t next;         /* reference (pool index + 1) of the next chunk in its list; 0 ends it */
	uint32_t seq;          /* sequence number of data[off] */
	uint16_t off;          /* first byte in use: trimming the front of a chunk costs no copy */
	uint16_t len;          /* bytes in use from off */
	uint16_t runs;         /* out-of-order runs that begin in this chunk (ooo_segments accounting) */
	uint16_t pad;
	uint8_t data[ZTG_STREAM_CHUNK_SIZE];
};

struct ztg_stream_pool {
	uint32_t count;
	uint32_t in_use;
	uint32_t free_head;    /* reference of the first free chunk */
	struct stream_chunk chunks[];
};

/* Sequence comparisons modulo 2^32 (RFC 9293 §3.4): a is before b when b - a is below 2^31. */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) < 0;
}

static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) > 0;
}

static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) >= 0;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
	return seq_gt(a, b) ? a : b;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
	return seq_lt(a, b) ? a : b;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

void ztg_stream_config_default(struct ztg_stream_config *config)
{
	*config = (struct ztg_stream_config){
		.buffer_out_of_order = true,
		.max_ooo_segments = ZTG_STREAM_MAX_OOO_CHUNKS,
		.max_ooo_bytes = ZTG_STREAM_MAX_OOO_CHUNKS * ZTG_STREAM_CHUNK_SIZE,
		.retain_bytes = 16384,
		.depth = 0,
	};
}

/* ---- pool ---------------------------------------------------------------- */

struct ztg_stream_pool *ztg_stream_pool_create(uint32_t chunks)
{
	struct ztg_stream_pool *pool;
	uint64_t bytes = (uint64_t)chunks * sizeof(struct stream_chunk);

	/* References are index + 1 in 32 bits; the size must not wrap either (32-bit hosts). */
	if (chunks == 0 || chunks == UINT32_MAX || bytes > SIZE_MAX - sizeof(*pool))
		return NULL;
	/* calloc, not malloc: the pages are touched once here rather than on the first packets. */
	pool = calloc(1, sizeof(*pool) + (size_t)bytes);
	if (pool == NULL)
		return NULL;
	pool->count = chunks;
	for (uint32_t i = 0; i + 1 < chunks; i++)
		pool->chunks[i].next = i + 2;
	pool->free_head = 1;
	return pool;
}

void ztg_stream_pool_free(struct ztg_stream_pool *pool)
{
	free(pool);
}

uint32_t ztg_stream_pool_in_use(const struct ztg_stream_pool *pool)
{
	return pool->in_use;
}

static inline struct stream_chunk *chunk_at(struct ztg_stream_pool *pool, uint32_t ref)
{
	return &pool->chunks[ref - 1];
}

static inline uint32_t chunk_end(const struct stream_chunk *c)
{
	return c->seq + c->len;
}

/* A chunk's reference, or 0 when the pool is empty. */
static uint32_t chunk_alloc(struct ztg_stream_pool *pool)
{
	uint32_t ref = pool->free_head;
	struct stream_chunk *c;

	if (ref == 0)
		return 0;
	c = chunk_at(pool, ref);
	pool->free_head = c->next;
	pool->in_use++;
	c->next = 0;
	c->off = 0;
	c->len = 0;
	c->runs = 0;
	return ref;
}

static void chunk_free(struct ztg_stream_pool *pool, uint32_t ref)
{
	chunk_at(pool, ref)->next = pool->free_head;
	pool->free_head = ref;
	pool->in_use--;
}

static void list_free(struct ztg_stream_pool *pool, uint32_t head)
{
	while (head != 0) {
		uint32_t next = chunk_at(pool, head)->next;

		chunk_free(pool, head);
		head = next;
	}
}

/*
 * Compare the len bytes at seq with the chunks of a sorted list that overlap
 * them. True on the first difference; otherwise *covered counts the bytes
 * the list holds.
 */
static bool list_differs(struct ztg_stream_pool *pool, uint32_t head, uint32_t seq, const uint8_t *data,
			 uint32_t len, uint32_t *covered)
{
	uint32_t end = seq + len;

	*covered = 0;
	for (uint32_t ref = head; ref != 0;) {
		const struct stream_chunk *c = chunk_at(pool, ref);
		uint32_t from, to;

		ref = c->next;
		if (seq_leq(chunk_end(c), seq))
			continue;
		if (seq_geq(c->seq, end))
			break;
		from = seq_max(c->seq, seq);
		to = seq_min(chunk_end(c), end);
		if (memcmp(data + (from - seq), c->data + c->off + (from - c->seq), to - from) != 0)
			return true;
		*covered += to - from;
	}
	return false;
}

/* Bytes free after the chunk's data, if the next byte to store (at seq) would continue it. */
static uint32_t tail_room(const struct stream_chunk *c, uint32_t seq)
{
	if (c == NULL || chunk_end(c) != seq)
		return 0;
	return ZTG_STREAM_CHUNK_SIZE - c->off - c->len;
}

/* Chunks the stream lent to the last delivery: only now may the pool hand them to another stream. */
static void spent_free(struct ztg_stream *stream, struct ztg_stream_pool *pool)
{
	list_free(pool, stream->spent_head);
	stream->spent_head = 0;
}

static void spent_push(struct ztg_stream *stream, struct ztg_stream_pool *pool, uint32_t ref)
{
	chunk_at(pool, ref)->next = stream->spent_head;
	stream->spent_head = ref;
}

/* ---- retained bytes (delivered, not yet acknowledged) -------------------- */

static uint32_t retained_pop(struct ztg_stream_pool *pool, struct ztg_stream_dir *d)
{
	uint32_t ref = d->retained_head;
	struct stream_chunk *c = chunk_at(pool, ref);

	d->retained_head = c->next;
	if (d->retained_head == 0)
		d->retained_tail = 0;
	d->retained_bytes -= c->len;
	c->next = 0;
	return ref;
}

static void retained_append(struct ztg_stream_pool *pool, struct ztg_stream_dir *d, uint32_t ref)
{
	struct stream_chunk *c = chunk_at(pool, ref);

	c->next = 0;
	c->runs = 0;
	if (d->retained_tail != 0)
		chunk_at(pool, d->retained_tail)->next = ref;
	else
		d->retained_head = ref;
	d->retained_tail = ref;
	d->retained_bytes += c->len;
}

static void chunk_trim_front(struct stream_chunk *c, uint32_t n)
{
	c->off = (uint16_t)(c->off + n);
	c->len = (uint16_t)(c->len - n);
	c->seq += n;
}

/* The receiver holds everything before upto: a retransmission of it cannot change what it assembles. */
static void retained_release_upto(struct ztg_stream_pool *pool, struct ztg_stream_dir *d, uint32_t upto)
{
	while (d->retained_head != 0) {
		struct stream_chunk *c = chunk_at(pool, d->retained_head);

		if (seq_leq(chunk_end(c), upto)) {
			chunk_free(pool, retained_pop(pool, d));
			continue;
		}
		if (seq_lt(c->seq, upto)) {
			uint32_t n = upto - c->seq;

			chunk_trim_front(c, n);
			d->retained_bytes -= n;
		}
		break;
	}
}

/*
 * Keep at most cap bytes, dropping the oldest. Chunks from lent_first on
 * back the delivery being returned, so they go to the spent list instead of
 * the pool.
 */
static void retained_cap(struct ztg_stream *stream, struct ztg_stream_pool *pool, struct ztg_stream_dir *d,
			 uint32_t cap, uint32_t lent_first)
{
	bool lent = false;

	while (d->retained_bytes > cap) {
		struct stream_chunk *c = chunk_at(pool, d->retained_head);
		uint32_t excess = d->retained_bytes - cap;
		uint32_t ref;

		if (d->retained_head == lent_first)
			lent = true;
		if (c->len > excess) {
			chunk_trim_front(c, excess);
			d->retained_bytes -= excess;
			break;
		}
		ref = retained_pop(pool, d);
		if (lent)
			spent_push(stream, pool, ref);
		else
			chunk_free(pool, ref);
	}
}

/*
 * Copy delivered bytes behind the retained ones, packing chunks. An empty
 * pool stops the copy: the bytes not kept later compare as unverified.
 */
static void retained_copy(struct ztg_stream_pool *pool, struct ztg_stream_dir *d, uint32_t seq,
			  const uint8_t *data, uint32_t len)
{
	while (len > 0) {
		struct stream_chunk *tail = d->retained_tail != 0 ? chunk_at(pool, d->retained_tail) : NULL;
		uint32_t room = tail_room(tail, seq);
		uint32_t n;

		if (room == 0) {
			uint32_t ref = chunk_alloc(pool);

			if (ref == 0)
				return;
			chunk_at(pool, ref)->seq = seq;
			retained_append(pool, d, ref);
			continue;
		}
		n = min_u32(room, len);
		memcpy(tail->data + tail->off + tail->len, data, n);
		tail->len = (uint16_t)(tail->len + n);
		d->retained_bytes += n;
		seq += n;
		data += n;
		len -= n;
	}
}

/* ---- out-of-order bytes --------------------------------------------------- */

static uint32_t ooo_pop(struct ztg_stream_pool *pool, struct ztg_stream_dir *d)
{
	uint32_t ref = d->ooo_head;
	struct stream_chunk *c = chunk_at(pool, ref);

	d->ooo_head = c->next;
	d->ooo_bytes -= c->len;
	d->ooo_segments = (uint16_t)(d->ooo_segments - c->runs);
	d->ooo_chunks--;
	c->next = 0;
	return ref;
}

static void ooo_free_all(struct ztg_stream_pool *pool, struct ztg_stream_dir *d)
{
	list_free(pool, d->ooo_head);
	d->ooo_head = 0;
	d->ooo_bytes = 0;
	d->ooo_segments = 0;
	d->ooo_chunks = 0;
}

static void retained_free_all(struct ztg_stream_pool *pool, struct ztg_stream_dir *d)
{
	list_free(pool, d->retained_head);
	d->retained_head = 0;
	d->retained_tail = 0;
	d->retained_bytes = 0;
}

/* Past the depth nothing is compared or delivered again: give the memory back now. */
static void depth_reached(struct ztg_stream_pool *pool, struct ztg_stream_dir *d)
{
	d->flags |= DF_DEPTH;
	ooo_free_all(pool, d);
	retained_free_all(pool, d);
}

/* One past the last buffered byte, or next_seq when nothing is buffered. */
static uint32_t ooo_end(struct ztg_stream_pool *pool, const struct ztg_stream_dir *d)
{
	uint32_t end = d->next_seq;

	for (uint32_t ref = d->ooo_head; ref != 0; ref = chunk_at(pool, ref)->next)
		end = chunk_end(chunk_at(pool, ref));
	return end;
}

struct ooo_plan {
	uint32_t runs;         /* holes the segment fills */
	uint32_t bytes;        /* new bytes */
	uint32_t chunks;       /* chunks to take from the pool */
};

static void plan_run(struct ooo_plan *plan, const struct stream_chunk *prev, uint32_t start, uint32_t n)
{
	uint32_t room = tail_room(prev, start);

	plan->runs++;
	plan->bytes += n;
	if (n > room)
		plan->chunks += (n - room + ZTG_STREAM_CHUNK_SIZE - 1) / ZTG_STREAM_CHUNK_SIZE;
}

/*
 * What storing [seq, seq + len) would cost: only the holes between buffered
 * chunks take room (the rest was compared equal), and a hole that continues
 * a chunk first fills that chunk's free tail.
 */
static void ooo_plan(struct ztg_stream_pool *pool, const struct ztg_stream_dir *d, uint32_t seq, uint32_t len,
		     struct ooo_plan *plan)
{
	const struct stream_chunk *prev = NULL;
	uint32_t pos = seq;
	uint32_t end = seq + len;

	*plan = (struct ooo_plan){ 0 };
	for (uint32_t ref = d->ooo_head; ref != 0 && seq_lt(pos, end);) {
		const struct stream_chunk *c = chunk_at(pool, ref);

		ref = c->next;
		if (seq_leq(chunk_end(c), pos)) {
			prev = c;
			continue;
		}
		if (seq_geq(c->seq, end))
			break;
		if (seq_lt(pos, c->seq))
			plan_run(plan, prev, pos, c->seq - pos);
		pos = chunk_end(c);
		prev = c;
	}
	if (seq_lt(pos, end))
		plan_run(plan, prev, pos, end - pos);
}

/* Store one hole's n bytes at start, right after chunk prev (0: at the head). Returns the last chunk written. */
static uint32_t ooo_store_run(struct ztg_stream_pool *pool, struct ztg_stream_dir *d, uint32_t prev,
			      uint32_t start, const uint8_t *data, uint32_t n)
{
	struct stream_chunk *p = prev != 0 ? chunk_at(pool, prev) : NULL;
	uint32_t room = tail_room(p, start);
	bool counted = false;

	d->ooo_segments++;
	if (room > 0) {
		uint32_t k = min_u32(room, n);

		memcpy(p->data + p->off + p->len, data, k);
		p->len = (uint16_t)(p->len + k);
		p->runs++;
		counted = true;
		d->ooo_bytes += k;
		start += k;
		data += k;
		n -= k;
	}
	while (n > 0) {
		/* ooo_plan reserved these chunks: the allocation cannot fail. */
		uint32_t ref = chunk_alloc(pool);
		uint32_t *link = prev != 0 ? &chunk_at(pool, prev)->next : &d->ooo_head;
		struct stream_chunk *c;
		uint32_t k = min_u32(n, ZTG_STREAM_CHUNK_SIZE);

		if (ref == 0)
			break;
		c = chunk_at(pool, ref);
		c->seq = start;
		c->len = (uint16_t)k;
		c->runs = counted ? 0 : 1;
		counted = true;
		memcpy(c->data, data, k);
		c->next = *link;
		*link = ref;
		d->ooo_chunks++;
		d->ooo_bytes += k;
		prev = ref;
		start += k;
		data += k;
		n -= k;
	}
	return prev;
}

/* Fill the holes ooo_plan counted, keeping the list sorted and non-overlapping. */
static void ooo_store(struct ztg_stream_pool *pool, struct ztg_stream_dir *d, uint32_t seq, const uint8_t *data,
		      uint32_t len)
{
	uint32_t prev = 0;
	uint32_t pos = seq;
	uint32_t end = seq + len;
	uint32_t ref = d->ooo_head;

	while (ref != 0 && seq_lt(pos, end)) {
		const struct stream_chunk *c = chunk_at(pool, ref);

		if (seq_leq(chunk_end(c), pos)) {
			prev = ref;
			ref = c->next;
			continue;
		}
		if (seq_geq(c->seq, end))
			break;
		if (seq_lt(pos, c->seq))
			ooo_store_run(pool, d, prev, pos, data + (pos - seq), c->seq - pos);
		pos = chunk_end(c);
		prev = ref;
		ref = c->next;
	}
	if (seq_lt(pos, end))
		ooo_store_run(pool, d, prev, pos, data + (pos - seq), end - pos);
}

/* ---- segments ------------------------------------------------------------- */

/* The shift a SYN's window scale option asks for (capped), or -1 without one. */
static int syn_wscale(const uint8_t *opt, uint32_t len)
{
	uint32_t i = 0;

	if (opt == NULL)
		return -1;
	while (i < len) {
		uint8_t kind = opt[i];

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		/* A malformed length ends the walk: the options after it cannot be trusted. */
		if (len - i < 2 || opt[i + 1] < 2 || opt[i + 1] > len - i)
			break;
		if (kind == OPT_WSCALE && opt[i + 1] == OPT_WSCALE_LEN)
			return opt[i + 2] > WSCALE_MAX ? (int)WSCALE_MAX : opt[i + 2];
		i += opt[i + 1];
	}
	return -1;
}

static inline bool result_forwards(enum ztg_stream_result result)
{
	return result == ZTG_STREAM_DELIVER || result == ZTG_STREAM_BUFFERED || result == ZTG_STREAM_DUPLICATE ||
	       result == ZTG_STREAM_UNVERIFIED || result == ZTG_STREAM_PASS_DEPTH;
}

static inline uint32_t judged_max_window(const struct ztg_stream_dir *d)
{
	return d->max_window > MIN_MAX_WINDOW ? d->max_window : MIN_MAX_WINDOW;
}

/* Direction d starts at a SYN: a new sequence space, nothing known about the receiver yet. */
static void dir_sync_syn(struct ztg_stream_dir *d, uint32_t seq, int wscale)
{
	d->isn = seq;
	d->next_seq = seq + 1;
	d->flags = DF_SYNCED | DF_SYN;
	d->wscale = 0;
	if (wscale >= 0) {
		d->flags |= DF_WS_OFFERED;
		d->wscale = (uint8_t)wscale;
	}
}

/* The receiver of direction d acknowledged ack and advertised win (already scaled). */
static void apply_ack(struct ztg_stream_pool *pool, struct ztg_stream_dir *d, uint32_t ack, uint32_t win)
{
	if (!(d->flags & DF_ACKED)) {
		d->flags |= DF_ACKED;
		d->acked = ack;
		d->window_end = ack + win;
		d->max_window = win;
	} else {
		if (seq_gt(ack, d->acked))
			d->acked = ack;
		/*
		 * The right edge never moves left: a sender may already have
		 * filled a window the receiver then shrank (RFC 9293 §3.8.6.2.2).
		 */
		if (seq_gt(ack + win, d->window_end))
			d->window_end = ack + win;
		if (win > d->max_window)
			d->max_window = win;
	}
	retained_release_upto(pool, d, d->acked);
}

/*
 * An ACK the sender's peer would refuse (RFC 9293 §3.10.7.4, RFC 5961 §5.2):
 * it acknowledges bytes never sent, or is older than any window. The peer
 * drops the whole segment, text included, so delivering its bytes would
 * inspect what the receiver never assembles.
 */
static bool ack_unacceptable(const struct ztg_stream_dir *d, uint32_t ack)
{
	if (!(d->flags & DF_SYNCED))
		return false;
	if (seq_gt(ack, d->next_seq))
		return true;
	return (d->flags & DF_ACKED) && seq_lt(ack, d->acked - judged_max_window(d));
}

static enum ztg_stream_result syn_segment(struct ztg_stream *stream, struct ztg_stream_pool *pool,
					  unsigned int sender, uint8_t tcp_flags, uint32_t seq, uint32_t ack,
					  uint16_t window, const uint8_t *tcp_options, uint32_t tcp_options_len,
					  uint32_t payload_len)
{
	struct ztg_stream_dir *d = &stream->dir[sender];
	struct ztg_stream_dir *r = &stream->dir[sender ^ 1];
	int wscale = syn_wscale(tcp_options, tcp_options_len);
	/* Data on a SYN (TCP Fast Open) arrives before any handshake: never delivered. */
	enum ztg_stream_result result = payload_len > 0 ? ZTG_STREAM_DROP_WINDOW : ZTG_STREAM_DELIVER;
	bool forwarded = result_forwards(result);

	if (!(tcp_flags & ZTG_TCP_ACK)) {
		/* The initiator's SYN, or its retransmission before any answer. */
		if (stream->state == SS_NONE || (stream->state == SS_SYN_SENT && sender == stream->initiator)) {
			stream->state = SS_SYN_SENT;
			stream->initiator = (uint8_t)sender;
			stream->flags = 0;
			dir_sync_syn(d, seq, wscale);
		}
		/* Any other SYN changes nothing here: the tracker has judged it. */
		return result;
	}

	if (stream->state == SS_NONE) {
		/*
		 * Picked up at the SYN-ACK: it names both sequence spaces exactly
		 * (its own ISN and, in its ACK, the initiator's next byte). Only
		 * the initiator's window scale is unknown.
		 */
		stream->state = SS_SYN_RECEIVED;
		stream->initiator = (uint8_t)(sender ^ 1);
		stream->flags = 0;
		dir_sync_syn(d, seq, wscale);
		r->isn = ack - 1;
		r->next_seq = ack;
		r->flags = DF_SYNCED;
		/*
		 * Without the option here scaling is off for certain. With it,
		 * the initiator's shift is unknown: read its windows with the
		 * largest, and the responder's with its own (too generous only
		 * if the initiator in fact offered none).
		 */
		r->wscale = wscale >= 0 ? (uint8_t)WSCALE_MAX : 0;
		if (forwarded)
			apply_ack(pool, r, ack, window);
		return result;
	}

	if (sender == stream->initiator)
		return result;

	if (stream->state == SS_SYN_SENT) {
		dir_sync_syn(d, seq, wscale);
		/* RFC 7323 §1.3: scaling is on only when both SYNs carry the option. */
		if ((r->flags & DF_WS_OFFERED) && wscale >= 0) {
			d->wscale = (uint8_t)wscale;
		} else {
			d->wscale = 0;
			r->wscale = 0;
		}
		stream->state = SS_SYN_RECEIVED;
	} else if (stream->state == SS_SYN_RECEIVED && seq != d->isn) {
		/* A new ISN before the handshake completed: the initiator will answer the latest. */
		d->isn = seq;
		d->next_seq = seq + 1;
	} else {
		/* A retransmitted SYN-ACK after the handshake: nothing new. */
		return result;
	}
	/* The window of a SYN is never scaled (RFC 7323 §2.2). */
	if (forwarded && ack == r->next_seq)
		apply_ack(pool, r, ack, window);
	return result;
}

/* Consume the FIN's sequence number once every byte before it is in. */
static void fin_consume(struct ztg_stream_dir *d)
{
	if ((d->flags & DF_FIN) && d->next_seq == d->fin_seq)
		d->next_seq++;
}

static inline bool fin_consumed(const struct ztg_stream_dir *d)
{
	return (d->flags & DF_FIN) && d->next_seq == d->fin_seq + 1;
}

/* A forwarded FIN at fin: the end of the sender's stream, unless already passed. */
static void fin_record(struct ztg_stream_dir *d, uint32_t fin)
{
	if (!(d->flags & DF_FIN)) {
		/* Bytes past it were already accepted: an old FIN the receiver ignores. */
		if (seq_lt(fin, d->next_seq))
			return;
		d->fin_seq = fin;
		d->flags |= DF_FIN;
	}
	fin_consume(d);
}

static void delivery_add(struct ztg_stream_delivery *delivery, const uint8_t *data, uint32_t len)
{
	struct ztg_stream_piece *piece = &delivery->pieces[delivery->count++];

	piece->data = data;
	piece->len = len;
	delivery->bytes += len;
}

/*
 * [seq, seq + len) reaches past next_seq and starts at or before it:
 * compare what it repeats, then deliver its new bytes and every buffered
 * byte they make contiguous.
 */
static enum ztg_stream_result deliver_in_order(struct ztg_stream *stream, struct ztg_stream_pool *pool,
					       const struct ztg_stream_config *config, struct ztg_stream_dir *d,
					       uint32_t seq, const uint8_t *payload, uint32_t len,
					       struct ztg_stream_delivery *delivery)
{
	uint32_t start = d->next_seq;
	uint32_t skip = start - seq;
	uint32_t end = seq + len;
	uint32_t budget = UINT32_MAX;
	uint32_t cursor = end;
	uint32_t lent_head = 0;
	uint32_t lent_tail = 0;
	uint32_t covered;
	uint32_t take;
	uint64_t delivered;
	bool at_depth;

	/* The receiver may keep either copy of a byte it gets twice: both must agree. */
	if (skip > 0 && list_differs(pool, d->retained_head, seq, payload, skip, &covered))
		return ZTG_STREAM_BLOCK_OVERLAP;
	if (list_differs(pool, d->ooo_head, start, payload + skip, len - skip, &covered))
		return ZTG_STREAM_BLOCK_OVERLAP;

	if (config->depth != 0)
		budget = config->depth - d->delivered;
	take = min_u32(len - skip, budget);
	delivery->seq = start;
	delivery_add(delivery, payload + skip, take);
	budget -= take;

	/* Buffered bytes this segment repeated were compared equal: it delivered them itself. */
	while (d->ooo_head != 0) {
		struct stream_chunk *c = chunk_at(pool, d->ooo_head);

		if (seq_leq(chunk_end(c), end)) {
			chunk_free(pool, ooo_pop(pool, d));
			continue;
		}
		if (seq_lt(c->seq, end)) {
			d->ooo_bytes -= end - c->seq;
			chunk_trim_front(c, end - c->seq);
		}
		break;
	}
	/* ZTG_STREAM_MAX_OOO_CHUNKS leaves room for every contiguous chunk; the count check only guards it. */
	while (d->ooo_head != 0 && chunk_at(pool, d->ooo_head)->seq == cursor && budget > 0 &&
	       delivery->count < ZTG_STREAM_MAX_PIECES) {
		uint32_t ref = ooo_pop(pool, d);
		struct stream_chunk *c = chunk_at(pool, ref);
		uint32_t n = min_u32(c->len, budget);

		delivery_add(delivery, c->data + c->off, n);
		budget -= n;
		cursor += c->len;
		if (lent_tail != 0)
			chunk_at(pool, lent_tail)->next = ref;
		else
			lent_head = ref;
		lent_tail = ref;
	}

	d->next_seq = cursor;
	delivered = (uint64_t)d->delivered + delivery->bytes;
	d->delivered = delivered > UINT32_MAX ? UINT32_MAX : (uint32_t)delivered;
	at_depth = config->depth != 0 && d->delivered >= config->depth;

	if (!at_depth && config->retain_bytes > 0) {
		uint32_t keep = min_u32(take, config->retain_bytes);

		retained_copy(pool, d, start + take - keep, payload + skip + take - keep, keep);
		for (uint32_t ref = lent_head; ref != 0;) {
			uint32_t next = chunk_at(pool, ref)->next;

			retained_append(pool, d, ref);
			ref = next;
		}
		retained_cap(stream, pool, d, config->retain_bytes, lent_head);
	} else {
		for (uint32_t ref = lent_head; ref != 0;) {
			uint32_t next = chunk_at(pool, ref)->next;

			spent_push(stream, pool, ref);
			ref = next;
		}
		if (at_depth)
			depth_reached(pool, d);
	}
	fin_consume(d);
	return ZTG_STREAM_DELIVER;
}

/* seq is past next_seq: keep the bytes until the gap fills, or refuse them. */
static enum ztg_stream_result buffer_out_of_order(struct ztg_stream_pool *pool,
						  const struct ztg_stream_config *config, struct ztg_stream_dir *d,
						  uint32_t seq, const uint8_t *payload, uint32_t len)
{
	struct ooo_plan plan;
	uint32_t covered;

	if (!config->buffer_out_of_order)
		return ZTG_STREAM_DROP_OOO;
	if (list_differs(pool, d->ooo_head, seq, payload, len, &covered))
		return ZTG_STREAM_BLOCK_OVERLAP;
	if (covered == len)
		return ZTG_STREAM_DUPLICATE;
	ooo_plan(pool, d, seq, len, &plan);
	if (d->ooo_segments + plan.runs > config->max_ooo_segments ||
	    d->ooo_bytes + plan.bytes > config->max_ooo_bytes ||
	    d->ooo_chunks + plan.chunks > ZTG_STREAM_MAX_OOO_CHUNKS ||
	    plan.chunks > pool->count - pool->in_use)
		return ZTG_STREAM_DROP_OOO;
	ooo_store(pool, d, seq, payload, len);
	return ZTG_STREAM_BUFFERED;
}

/* A segment occupying sequence space (bytes or a FIN) in an established direction. */
static enum ztg_stream_result data_segment(struct ztg_stream *stream, struct ztg_stream_pool *pool,
					   const struct ztg_stream_config *config, struct ztg_stream_dir *d,
					   bool fin, uint32_t seq, const uint8_t *payload, uint32_t len,
					   struct ztg_stream_delivery *delivery)
{
	uint32_t end = seq + len;
	enum ztg_stream_result result;
	uint32_t covered;

	/*
	 * A receiver ignores text after the FIN it has taken; and a second
	 * FIN elsewhere, or one before bytes already buffered, leaves the end
	 * of the stream to the receiver's choice.
	 */
	if (d->flags & DF_FIN) {
		if (seq_gt(end, d->fin_seq))
			return ZTG_STREAM_DROP_WINDOW;
		if (fin && end != d->fin_seq && seq_geq(end, d->next_seq))
			return ZTG_STREAM_DROP_WINDOW;
	} else if (fin && seq_geq(end, d->next_seq) && seq_gt(ooo_end(pool, d), end)) {
		return ZTG_STREAM_DROP_WINDOW;
	}

	/*
	 * RFC 9293 §3.10.7.4 acceptability, as the appliance can judge it:
	 * every byte must lie left of the furthest right edge the receiver
	 * advertised (a segment that only starts inside would leave the
	 * receiver to trim or keep its tail: Linux keeps it, BSD trims it).
	 * On the left, the receiver merely re-acknowledges old bytes, and
	 * forwarding that retransmission is what recovers an ACK lost beyond
	 * the appliance; only a segment ending more than a maximum window
	 * behind is refused, as no sender still holds such bytes.
	 */
	if (d->flags & DF_ACKED) {
		if (seq_gt(end, d->window_end))
			return ZTG_STREAM_DROP_WINDOW;
		if (seq_leq(end, d->next_seq - judged_max_window(d)))
			return ZTG_STREAM_DROP_WINDOW;
	}

	/* The depth may have been lowered below what this direction delivered already. */
	if (config->depth != 0 && d->delivered >= config->depth && !(d->flags & DF_DEPTH))
		depth_reached(pool, d);
	if (d->flags & DF_DEPTH) {
		/* Uninspected, but tracked: the next sequence number still serves forged resets. */
		if (seq_gt(end, d->next_seq))
			d->next_seq = end;
		if (fin)
			fin_record(d, end);
		return len > 0 ? ZTG_STREAM_PASS_DEPTH : ZTG_STREAM_DELIVER;
	}

	if (len == 0) {
		/* A FIN alone. Beyond a gap it waits with the buffered bytes (the receiver queues it too). */
		if (seq_gt(seq, d->next_seq)) {
			if (!config->buffer_out_of_order)
				return ZTG_STREAM_DROP_OOO;
			fin_record(d, end);
			return ZTG_STREAM_BUFFERED;
		}
		fin_record(d, end);
		return ZTG_STREAM_DELIVER;
	}

	if (seq_leq(end, d->next_seq)) {
		/* Every byte was delivered before: a retransmission, to compare with what was kept. */
		if (list_differs(pool, d->retained_head, seq, payload, len, &covered))
			result = ZTG_STREAM_BLOCK_OVERLAP;
		else
			result = covered == len ? ZTG_STREAM_DUPLICATE : ZTG_STREAM_UNVERIFIED;
	} else if (seq_leq(seq, d->next_seq)) {
		result = deliver_in_order(stream, pool, config, d, seq, payload, len, delivery);
	} else {
		result = buffer_out_of_order(pool, config, d, seq, payload, len);
	}
	if (fin && result_forwards(result))
		fin_record(d, end);
	return result;
}

enum ztg_stream_result ztg_stream_segment(struct ztg_stream *stream, struct ztg_stream_pool *pool,
					  const struct ztg_stream_config *config, unsigned int sender,
					  uint8_t tcp_flags, uint32_t seq, uint32_t ack, uint16_t window,
					  const uint8_t *tcp_options, uint32_t tcp_options_len,
					  const uint8_t *payload, uint32_t payload_len,
					  struct ztg_stream_delivery *delivery)
{
	struct ztg_stream_dir *d;
	struct ztg_stream_dir *r;
	bool fin = (tcp_flags & ZTG_TCP_FIN) != 0;
	bool has_ack = (tcp_flags & ZTG_TCP_ACK) != 0;
	bool fresh_sync = false;
	enum ztg_stream_result result;

	delivery->count = 0;
	delivery->bytes = 0;
	delivery->seq = seq;
	delivery->fin = false;
	/* The previous delivery's pieces expire with this call. */
	spent_free(stream, pool);

	if (sender > 1 || (payload_len > 0 && payload == NULL) || payload_len >= MAX_SEGMENT_LEN)
		return ZTG_STREAM_DROP_WINDOW;
	d = &stream->dir[sender];
	r = &stream->dir[sender ^ 1];

	/* The tracker closes the flow on a reset; the caller decides when to release. */
	if (tcp_flags & ZTG_TCP_RST)
		return ZTG_STREAM_DELIVER;

	if (tcp_flags & ZTG_TCP_SYN)
		return syn_segment(stream, pool, sender, tcp_flags, seq, ack, window, tcp_options, tcp_options_len,
				   payload_len);

	switch (stream->state) {
	case SS_NONE:
		/*
		 * Mid-stream pickup (the tracker allowed it): without the SYNs the
		 * window scales are unknown, so windows are read with the largest.
		 */
		stream->state = SS_ESTABLISHED;
		stream->flags = SF_MIDSTREAM;
		stream->initiator = (uint8_t)sender;
		stream->dir[0].wscale = WSCALE_MAX;
		stream->dir[1].wscale = WSCALE_MAX;
		break;
	case SS_SYN_SENT:
		/* Nothing but the answer to the SYN can come yet. */
		return payload_len > 0 || fin ? ZTG_STREAM_DROP_WINDOW : ZTG_STREAM_DELIVER;
	case SS_SYN_RECEIVED:
		/* The handshake completes with the initiator's acknowledgement of the SYN-ACK, data or not. */
		if (sender != stream->initiator || !has_ack || ack != r->next_seq)
			return payload_len > 0 || fin ? ZTG_STREAM_DROP_WINDOW : ZTG_STREAM_DELIVER;
		stream->state = SS_ESTABLISHED;
		break;
	default:
		break;
	}

	if (!(d->flags & DF_SYNCED)) {
		/* Mid-stream: this direction starts with the first segment its sender is seen to send. */
		d->next_seq = seq;
		d->isn = seq - 1;
		d->flags |= DF_SYNCED;
		fresh_sync = true;
	}

	if (has_ack && !(stream->flags & SF_MIDSTREAM) && ack_unacceptable(r, ack)) {
		if (payload_len > 0 || fin)
			return ZTG_STREAM_DROP_WINDOW;
		has_ack = false;
	}

	if (payload_len > 0 || fin) {
		bool ended = fin_consumed(d);

		result = data_segment(stream, pool, config, d, fin, seq, payload, payload_len, delivery);
		/*
		 * The end of the stream is news for the layer above even when the
		 * segment's bytes are old (data repeated with a FIN added).
		 */
		if (!ended && fin_consumed(d) &&
		    (result == ZTG_STREAM_DELIVER || result == ZTG_STREAM_DUPLICATE || result == ZTG_STREAM_UNVERIFIED)) {
			result = ZTG_STREAM_DELIVER;
			delivery->fin = true;
		}
	} else {
		result = ZTG_STREAM_DELIVER;
	}

	if (!result_forwards(result)) {
		if (fresh_sync)
			d->flags &= (uint8_t)~DF_SYNCED;
		return result;
	}
	if (has_ack)
		apply_ack(pool, r, ack, (uint32_t)window << d->wscale);
	return result;
}

uint32_t ztg_stream_next_seq(const struct ztg_stream *stream, unsigned int sender)
{
	if (sender > 1)
		return 0;
	return stream->dir[sender].next_seq;
}

void ztg_stream_init(struct ztg_stream *stream)
{
	memset(stream, 0, sizeof(*stream));
}

void ztg_stream_release(struct ztg_stream *stream, struct ztg_stream_pool *pool)
{
	spent_free(stream, pool);
	for (unsigned int i = 0; i < 2; i++) {
		ooo_free_all(pool, &stream->dir[i]);
		retained_free_all(pool, &stream->dir[i]);
	}
}

const char *ztg_stream_result_name(enum ztg_stream_result result)
{
	switch (result) {
	case ZTG_STREAM_DELIVER:
		return "deliver";
	case ZTG_STREAM_BUFFERED:
		return "buffered";
	case ZTG_STREAM_DUPLICATE:
		return "duplicate";
	case ZTG_STREAM_UNVERIFIED:
		return "unverified";
	case ZTG_STREAM_DROP_OOO:
		return "drop_ooo";
	case ZTG_STREAM_DROP_WINDOW:
		return "drop_window";
	case ZTG_STREAM_BLOCK_OVERLAP:
		return "block_overlap";
	case ZTG_STREAM_PASS_DEPTH:
		return "pass_depth";
	}
	return "unknown";
}
