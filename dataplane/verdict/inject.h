/*
 * Verdict packets: the TCP segments ztgate forges to end a connection it
 * refuses (reset: RST to both ends) or to answer a refused request (deny: an
 * HTTP 403, 401 or 429 to the client, RST to the server).
 *
 * Plain C over bytes, like the decoder: the caller passes the frame of a TCP
 * packet P that ztg_decode_packet() accepted, and an output buffer; nothing
 * is allocated and nothing is read beyond P's L2 header and the payload
 * given. A forged frame carries P's Ethernet addresses and VLAN tags (the
 * same TPIDs, PCP and VIDs; MACs swapped when it goes back to P's sender),
 * a fresh IP header (IPv4: 20 bytes, no options, DF, ID 0, TTL 64; IPv6: 40
 * bytes, no extension headers, hop limit 64), a 20-byte TCP header without
 * options, and correct IPv4 header and TCP checksums.
 *
 * Frames are not padded to the 60-byte Ethernet minimum (an IPv4 RST is 54
 * bytes untagged): the PMD or the NIC pads on transmit, and the functions
 * write exactly the length they return, never beyond it.
 *
 * Sequence numbers. P is the packet the verdict was taken on and it is never
 * forwarded, so P's receiver still expects P.seq, and P's sender has sent
 * everything up to the end of P. struct ztg_inject_seq holds the three
 * numbers a forged segment needs; ztg_inject_seq_from_packet() fills them
 * from P alone, and the caller may improve receiver_next with what the flow
 * knows (see the struct).
 */
#ifndef ZTG_INJECT_H
#define ZTG_INJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "../decode/decode.h"

/* TTL / hop limit of every forged packet. */
#define ZTG_INJECT_TTL 64
/* Largest header stack a forged frame has: Ethernet, two VLAN tags, IPv6, TCP. */
#define ZTG_INJECT_MAX_HEADERS (14u + 4u * ZTG_DECODE_MAX_VLANS + 40u + 20u)
/*
 * The reason and the request id each take at most this many bytes of the
 * denial's body once JSON-escaped; longer values are cut at an escape boundary.
 */
#define ZTG_INJECT_FIELD_MAX 64u
/*
 * Bound on the whole 403, 401 or 429 response, head and body. It stays below 536,
 * the smallest MSS a TCP peer may assume (RFC 9293), so it always fits one
 * segment.
 */
#define ZTG_INJECT_DENIAL_MAX 384u
/* Buffer size that holds any frame these functions build. */
#define ZTG_INJECT_FRAME_MAX (ZTG_INJECT_MAX_HEADERS + ZTG_INJECT_DENIAL_MAX)

/* Which answer a denied client gets. */
enum ztg_inject_denial {
	ZTG_INJECT_FORBIDDEN = 0,      /* 403: the request may not do this */
	ZTG_INJECT_UNAUTHORIZED,       /* 401 with WWW-Authenticate: Bearer: no or bad credentials */
	ZTG_INJECT_TOO_MANY_REQUESTS,  /* 429 with Retry-After: over a rate limit */
};
/* Window advertised in the denial segment (RSTs advertise 0). */
#define ZTG_INJECT_DENY_WINDOW 8192

/* Direction of a forged packet, relative to P. */
enum ztg_inject_toward {
	/* From P's receiver back to P's sender: MACs, addresses and ports swapped. */
	ZTG_INJECT_TO_SENDER = 0,
	/* From P's sender on to P's receiver: the same MACs, addresses and ports as P. */
	ZTG_INJECT_TO_RECEIVER = 1,
};

/*
 * Build one TCP segment as if sent by one end of P's connection.
 *
 *   frame        P's frame; only its L2 header (frame[0..pkt->l3_offset)) is read.
 *   pkt          P as ztg_decode_packet() filled it for frame (ZTG_DROP_NONE,
 *                IPv4 or IPv6, TCP with its header decoded).
 *   toward       ZTG_INJECT_TO_SENDER or ZTG_INJECT_TO_RECEIVER.
 *   tcp_flags    ZTG_TCP_* bits of the new segment.
 *   seq, ack     its sequence and acknowledgement numbers (host order); ack is
 *                written as given even without ZTG_TCP_ACK (pass 0 then).
 *   window       its window field, unscaled (host order).
 *   payload      payload_len bytes of TCP payload; NULL only when payload_len is 0.
 *   out          where the frame is written. It may be frame itself (P's buffer
 *                reused in place): the L2 header is read before anything is written.
 *   out_cap      bytes available at out.
 *
 * Returns the frame length, or 0 (nothing usable written) when pkt is not a
 * decoded IPv4/IPv6 TCP packet, its L2 header is inconsistent, payload is
 * NULL with a non-zero length, or the frame would not fit in out_cap bytes
 * (or in 65535).
 */
uint16_t ztg_inject_build_tcp(const uint8_t *frame, const struct ztg_packet *pkt,
			      enum ztg_inject_toward toward, uint8_t tcp_flags, uint32_t seq,
			      uint32_t ack, uint16_t window, const uint8_t *payload,
			      uint16_t payload_len, uint8_t *out, uint16_t out_cap);

/*
 * What a verdict on P needs to know about both ends' sequence spaces.
 *
 * receiver_next is the number P's sender must see in a RST for its stack to
 * accept it: exactly its RCV.NXT (RFC 5961 3.2 turns anything else in the
 * window into a challenge ACK). P.ack was RCV.NXT when P left; a forged
 * segment arrives after every byte of the receiver that ztgate already
 * forwarded, so when the flow tracks the receiver's stream the caller should
 * set receiver_next = ztg_stream_next_seq(stream, receiver) and
 * receiver_known = true. Without ACK in P and without flow knowledge the
 * receiver's numbers are unknown (P opens the connection).
 */
struct ztg_inject_seq {
	uint32_t sender_next;    /* next byte P's receiver expects from P's sender: P.seq */
	uint32_t sender_end;     /* P.seq + P's sequence length (payload, +1 for SYN, +1 for FIN) */
	uint32_t receiver_next;  /* next byte P's sender expects from P's receiver */
	bool receiver_known;     /* receiver_next is meaningful */
};

/* Fill *seq from P alone: receiver_next = P.ack when P carries ACK. */
void ztg_inject_seq_from_packet(const struct ztg_packet *pkt, struct ztg_inject_seq *seq);

/*
 * Reset: build the RST that ends the connection at one end.
 *
 *   toward ZTG_INJECT_TO_SENDER:   RST|ACK, seq = receiver_next, ack = sender_end,
 *                                  so P's sender accepts it and knows P arrived.
 *                                  When receiver_next is unknown (P is a SYN),
 *                                  seq = 0 with ack = sender_end, the RFC 9293
 *                                  answer to a segment without ACK.
 *   toward ZTG_INJECT_TO_RECEIVER: seq = sender_next, where the receiver waits
 *                                  since P never reached it; RST|ACK with ack =
 *                                  receiver_next when known (a receiver in
 *                                  SYN-SENT only accepts a RST that acknowledges
 *                                  its SYN), plain RST otherwise.
 *
 * frame, pkt, out, out_cap as for ztg_inject_build_tcp(); seq from
 * ztg_inject_seq_from_packet() (maybe improved by the caller).
 * Returns the frame length (54 to 82 bytes) or 0 as ztg_inject_build_tcp().
 */
uint16_t ztg_inject_reset(const uint8_t *frame, const struct ztg_packet *pkt,
			  const struct ztg_inject_seq *seq, enum ztg_inject_toward toward,
			  uint8_t *out, uint16_t out_cap);

/*
 * Format the denial into out; for ZTG_INJECT_FORBIDDEN:
 *
 *   HTTP/1.1 403 Forbidden\r\n
 *   Content-Type: application/json\r\n
 *   Content-Length: <n>\r\n
 *   Connection: close\r\n
 *   \r\n
 *   {"error":"forbidden","reason":"<reason>","request_id":"<request_id>"}
 *
 * ZTG_INJECT_UNAUTHORIZED answers "HTTP/1.1 401 Unauthorized" with
 * `WWW-Authenticate: Bearer realm="ztgate", error="invalid_token"` and
 * "error":"unauthorized"; ZTG_INJECT_TOO_MANY_REQUESTS answers
 * "HTTP/1.1 429 Too Many Requests" with `Retry-After: <retry_after>` and
 * "error":"too_many_requests"; the rest alike. Any other value answers 403.
 *
 *   reason       why (a verdict reason name); NULL means "".
 *   request_id   the id logged with the verdict; NULL means "".
 *   retry_after  seconds until the limit admits again, for 429 only (ignored
 *                otherwise); 0 is sent as 1, never as "retry now".
 *   out          output buffer; no NUL terminator is written.
 *   out_cap      its size; ZTG_INJECT_DENIAL_MAX always suffices.
 *
 * Both strings are JSON-escaped: '"' and '\\' get a backslash, control
 * characters and every byte >= 0x7f become \u00XX, so the body is ASCII and
 * valid JSON whatever the input. Each escaped value is cut at
 * ZTG_INJECT_FIELD_MAX bytes, never inside an escape.
 * Returns the response length, or 0 when it does not fit in out_cap.
 */
uint16_t ztg_inject_format_denial(enum ztg_inject_denial denial, const char *reason, const char *request_id,
				  uint32_t retry_after, char *out, uint16_t out_cap);

/*
 * Deny, client side: the answer from ztg_inject_format_denial() in one PSH|ACK|FIN
 * segment to P's sender (the client), seq = receiver_next, ack = sender_end:
 * the client sees its request acknowledged, reads the answer, and sees the
 * server close. The server side of a deny is
 * ztg_inject_reset(..., ZTG_INJECT_TO_RECEIVER, ...).
 *
 * Parameters as for ztg_inject_reset() and ztg_inject_format_denial().
 * Returns the frame length, or 0 when receiver_next is unknown (there is no
 * place for data in the client's sequence space) or as ztg_inject_build_tcp();
 * out_cap = ZTG_INJECT_FRAME_MAX always suffices.
 */
uint16_t ztg_inject_deny(const uint8_t *frame, const struct ztg_packet *pkt,
			 const struct ztg_inject_seq *seq, enum ztg_inject_denial denial, const char *reason,
			 const char *request_id, uint32_t retry_after, uint8_t *out, uint16_t out_cap);

#endif
