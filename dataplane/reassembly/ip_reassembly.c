/* rte_ip_frag_table_del_expired_entries() is still experimental in DPDK 22.11. */
#define ALLOW_EXPERIMENTAL_API

#include "ip_reassembly.h"

#include <string.h>

#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_malloc.h>

#include "../checksum.h"

_Static_assert(ZTG_REASSEMBLY_MAX_PIECES == RTE_LIBRTE_IP_FRAG_MAX_FRAG,
	       "ZTG_REASSEMBLY_MAX_PIECES must follow DPDK's RTE_LIBRTE_IP_FRAG_MAX_FRAG");

#define IPV6_HDR_LEN      40u
#define IPPROTO_FRAGMENT_ 44u
#define IPV4_MF           0x2000u
#define IPV4_OFFSET_MASK  0x1fffu
#define IPV6_FRAG_M       0x0001u
#define IPV6_OFFSET_MASK  0xfff8u
/*
 * rte_ip_frag puts a key in one of two buckets of this many entries: with 8,
 * a table holding its maximum of trains practically never finds both full.
 */
#define BUCKET_ENTRIES    8

struct ztg_ip_reassembly {
	struct rte_ip_frag_tbl *table;
	struct rte_ip_frag_death_row death_row;
	struct ztg_ip_datagram datagram;
	uint8_t frame[ZTG_REASSEMBLY_MAX_FRAME];
};

struct ztg_ip_reassembly *ztg_ip_reassembly_create(uint32_t trains, uint64_t timeout_cycles, int socket_id)
{
	struct ztg_ip_reassembly *r = rte_zmalloc_socket("ztg_reassembly", sizeof(*r), RTE_CACHE_LINE_SIZE,
							 socket_id);

	if (r == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	r->table = rte_ip_frag_table_create(trains, BUCKET_ENTRIES, trains, timeout_cycles, socket_id);
	if (r->table == NULL) {
		rte_free(r);
		return NULL;
	}
	r->datagram.source.frame = r->frame;
	return r;
}

void ztg_ip_reassembly_free(struct ztg_ip_reassembly *r)
{
	if (r == NULL)
		return;
	rte_ip_frag_table_destroy(r->table);
	rte_free(r);
}

const struct ztg_ip_datagram *ztg_ip_reassembly_datagram(const struct ztg_ip_reassembly *r)
{
	return &r->datagram;
}

static inline const uint8_t *ip_header(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, const uint8_t *, m->l2_len);
}

/* Same datagram: the fields rte_ip_frag keys on (RFC 791: addresses, id, protocol; RFC 8200: addresses, id). */
static bool same_datagram(const struct rte_mbuf *a, const struct rte_mbuf *b)
{
	const uint8_t *x = ip_header(a), *y = ip_header(b);

	if ((x[0] >> 4) != (y[0] >> 4))
		return false;
	if ((x[0] >> 4) == 4)
		return memcmp(x + 12, y + 12, 8) == 0 && memcmp(x + 4, y + 4, 2) == 0 && x[9] == y[9];
	return memcmp(x + 8, y + 8, 32) == 0 && memcmp(x + IPV6_HDR_LEN + 4, y + IPV6_HDR_LEN + 4, 4) == 0;
}

/* A piece that is neither the first nor the last. */
static bool is_middle_piece(const struct rte_mbuf *m)
{
	const uint8_t *ip = ip_header(m);
	uint16_t field;

	if ((ip[0] >> 4) == 4) {
		field = (uint16_t)(ip[6] << 8 | ip[7]);
		return (field & IPV4_MF) && (field & IPV4_OFFSET_MASK);
	}
	field = (uint16_t)(ip[IPV6_HDR_LEN + 2] << 8 | ip[IPV6_HDR_LEN + 3]);
	return (field & IPV6_FRAG_M) && (field & IPV6_OFFSET_MASK);
}

static void count_drops(struct ztg_counters *c, enum ztg_drop_reason reason, uint64_t packets)
{
	c->drops[reason] += packets;
	c->dropped += packets;
}

/*
 * rte_ip_frag reports neither why it dropped nor what: read it off the death
 * row, which it filled during this one call. If m is there, m's train failed
 * and took m with it: with none of its pieces held before, the table had no
 * room; with too many middle pieces, rte_ip_frag ran out of slots; otherwise
 * the pieces overlapped, repeated or left a hole. Anything else there belongs
 * to trains that timed out and were evicted to make room. A chained entry is
 * a train that had started to chain before it failed: count every segment.
 */
static bool account_death_row(struct ztg_ip_reassembly *r, const struct rte_mbuf *m, struct ztg_counters *c)
{
	struct rte_ip_frag_death_row *dr = &r->death_row;
	uint64_t train = 0, middles = 0, expired = 0;
	bool dropped = false;

	for (uint32_t i = 0; i < dr->cnt; i++)
		dropped |= dr->row[i] == m;
	for (uint32_t i = 0; i < dr->cnt; i++) {
		const struct rte_mbuf *e = dr->row[i];

		if (e == m)
			continue;
		if (dropped && same_datagram(e, m)) {
			train += e->nb_segs;
			middles += is_middle_piece(e);
		} else {
			expired += e->nb_segs;
		}
	}
	if (dropped) {
		enum ztg_drop_reason reason = ZTG_DROP_IP_FRAGMENT_OVERLAP;

		if (train == 0)
			reason = ZTG_DROP_IP_FRAGMENT_TABLE_FULL;
		else if (is_middle_piece(m) && middles >= ZTG_REASSEMBLY_MAX_PIECES - 2)
			reason = ZTG_DROP_IP_FRAGMENT_TOO_MANY;
		count_drops(c, reason, train + 1);
	}
	if (expired)
		count_drops(c, ZTG_DROP_IP_FRAGMENT_TIMEOUT, expired);
	rte_ip_frag_free_death_row(dr, 0);
	return dropped;
}

/*
 * Copy the chain rte_ip_frag built (one segment per piece) into r->frame.
 * The head is the first piece: its link header is the datagram's.
 */
static bool linearize(struct ztg_ip_reassembly *r, const struct rte_mbuf *head, const struct ztg_packet *pkt)
{
	struct ztg_ip_datagram *d = &r->datagram;
	uint32_t l3 = head->l2_len;
	uint32_t header = pkt->ip_version == 4 ? head->l3_len : IPV6_HDR_LEN;
	uint32_t off = 0;
	uint8_t k = 0;

	if (head->pkt_len > sizeof(r->frame) || head->nb_segs > ZTG_REASSEMBLY_MAX_PIECES ||
	    head->data_len <= l3 + header)
		return false;
	for (const struct rte_mbuf *seg = head; seg != NULL; seg = seg->next, k++) {
		memcpy(r->frame + off, rte_pktmbuf_mtod(seg, const uint8_t *), seg->data_len);
		off += seg->data_len;
		d->piece_len[k] = (uint16_t)(k == 0 ? seg->data_len - l3 - header : seg->data_len);
	}
	d->piece_count = k;
	d->source.frame_len = off;
	d->source.l3_offset = (uint16_t)l3;
	d->source.ip_version = pkt->ip_version;
	d->source.ipv6_id = pkt->fragment_id;
	/* rte_ip_frag leaves the IPv4 checksum to a TX offload; the frame must verify on its own. */
	if (pkt->ip_version == 4)
		ztg_checksum_set_ipv4_header(r->frame + l3, header);
	return true;
}

enum ztg_reassembly_outcome ztg_ip_reassembly_add(struct ztg_ip_reassembly *r, struct rte_mbuf *m,
						  const struct ztg_packet *pkt, uint64_t now,
						  struct ztg_counters *c)
{
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, pkt->l3_offset);
	uint32_t header, data_len;
	enum ztg_drop_reason reason = ZTG_DROP_NONE;
	struct rte_mbuf *done;

	if (pkt->ip_version == 4) {
		header = (ip[0] & 0x0fu) * 4u;
	} else {
		header = IPV6_HDR_LEN + ZTG_IPV6_FRAGMENT_HEADER_LEN;
		/* rte_ip_frag rebuilds the datagram assuming nothing sits between the two headers. */
		if (ip[6] != IPPROTO_FRAGMENT_)
			reason = ZTG_DROP_IP_FRAGMENT_UNSUPPORTED;
	}
	data_len = pkt->l3_len - header;
	/* Checked here so that rte_ip_frag never refuses a piece on its own, unexplained. */
	if (reason == ZTG_DROP_NONE &&
	    pkt->l3_offset + (header - (pkt->ip_version == 6 ? ZTG_IPV6_FRAGMENT_HEADER_LEN : 0)) +
	    pkt->fragment_offset + data_len > ZTG_REASSEMBLY_MAX_FRAME)
		reason = ZTG_DROP_IP_FRAGMENT_OVERSIZED;
	if (reason != ZTG_DROP_NONE) {
		rte_pktmbuf_free(m);
		count_drops(c, reason, 1);
		return ZTG_REASSEMBLY_DROPPED;
	}

	m->l2_len = pkt->l3_offset;
	m->l3_len = header;
	if (pkt->ip_version == 4)
		done = rte_ipv4_frag_reassemble_packet(r->table, &r->death_row, m, now, (struct rte_ipv4_hdr *)ip);
	else
		done = rte_ipv6_frag_reassemble_packet(r->table, &r->death_row, m, now, (struct rte_ipv6_hdr *)ip,
						       (struct rte_ipv6_fragment_ext *)(ip + IPV6_HDR_LEN));
	if (r->death_row.cnt != 0 && account_death_row(r, m, c))
		return ZTG_REASSEMBLY_DROPPED;
	if (done == NULL)
		return ZTG_REASSEMBLY_HELD;
	if (!linearize(r, done, pkt)) {
		count_drops(c, ZTG_DROP_IP_FRAGMENT_OVERSIZED, done->nb_segs);
		rte_pktmbuf_free(done);
		return ZTG_REASSEMBLY_DROPPED;
	}
	rte_pktmbuf_free(done);
	c->datagrams_reassembled++;
	return ZTG_REASSEMBLY_COMPLETE;
}

unsigned int ztg_ip_reassembly_emit(const struct ztg_ip_reassembly *r, struct rte_mempool *pool,
				    struct rte_mbuf **out)
{
	const struct ztg_ip_datagram *d = &r->datagram;
	uint32_t offset = 0;

	for (unsigned int k = 0; k < d->piece_count; k++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint32_t len;

		if (m == NULL) {
			rte_pktmbuf_free_bulk(out, k);
			return 0;
		}
		len = ztg_fragment_build(&d->source, offset, d->piece_len[k], k + 1u < d->piece_count,
					 rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m));
		out[k] = m;
		if (len == 0 || rte_pktmbuf_append(m, (uint16_t)len) == NULL) {
			rte_pktmbuf_free_bulk(out, k + 1);
			return 0;
		}
		offset += d->piece_len[k];
	}
	return d->piece_count;
}

static uint64_t expire_until(struct ztg_ip_reassembly *r, uint64_t tms)
{
	struct rte_ip_frag_death_row *dr = &r->death_row;
	uint64_t fragments = 0;

	rte_ip_frag_table_del_expired_entries(r->table, dr, tms);
	for (uint32_t i = 0; i < dr->cnt; i++)
		fragments += dr->row[i]->nb_segs;
	rte_ip_frag_free_death_row(dr, 0);
	return fragments;
}

void ztg_ip_reassembly_expire(struct ztg_ip_reassembly *r, uint64_t now, struct ztg_counters *c)
{
	uint64_t fragments = expire_until(r, now);

	if (fragments)
		count_drops(c, ZTG_DROP_IP_FRAGMENT_TIMEOUT, fragments);
}

void ztg_ip_reassembly_flush(struct ztg_ip_reassembly *r, struct ztg_counters *c)
{
	uint64_t fragments;

	/* Each call empties only as many trains as the death row holds. */
	while ((fragments = expire_until(r, UINT64_MAX / 2)) != 0)
		count_drops(c, ZTG_DROP_IP_FRAGMENT_TIMEOUT, fragments);
}
