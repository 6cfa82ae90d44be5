/*
 * TCP connection state tracking for one flow: the handshake, the close in
 * each direction, and resets, as an inline device sees them from both sides.
 *
 * Pure function over the flow's state byte and one packet's flags; owns no
 * memory. Sequence-window tracking belongs to the stream layer, not here.
 */
#ifndef ZTG_TCP_STATE_H
#define ZTG_TCP_STATE_H

#include <stdint.h>

enum ztg_tcp_state {
	ZTG_TCP_STATE_NONE = 0,
	ZTG_TCP_STATE_SYN_SENT,      /* initiator's SYN seen */
	ZTG_TCP_STATE_SYN_RECEIVED,  /* responder's SYN-ACK seen */
	ZTG_TCP_STATE_ESTABLISHED,   /* initiator's ACK of the SYN-ACK seen (or picked up mid-stream) */
	ZTG_TCP_STATE_FIN_WAIT,      /* one side has sent FIN */
	ZTG_TCP_STATE_CLOSING,       /* both sides have sent FIN */
	ZTG_TCP_STATE_CLOSED,        /* RST seen, or the last ACK after both FINs */
	ZTG_TCP_STATE_COUNT
};

enum ztg_tcp_verdict {
	ZTG_TCP_ACCEPT = 0,   /* consistent with the state; state may have advanced */
	ZTG_TCP_REOPEN,       /* a SYN on a closed flow: caller resets the flow, sender is the new initiator */
	ZTG_TCP_INVALID,      /* not possible in this state (e.g. SYN-ACK from the initiator): drop */
};

struct ztg_tcp_tracker {
	uint8_t state;        /* enum ztg_tcp_state */
	uint8_t initiator;    /* flow endpoint (0/1) that sent the first SYN */
	uint8_t fin_sent;     /* bit n set when endpoint n has sent FIN */
};

/*
 * Advance *t with a packet carrying tcp_flags (ZTG_TCP_*) sent by flow
 * endpoint `sender`. On ZTG_TCP_INVALID the tracker is unchanged.
 * A flow starts in ZTG_TCP_STATE_NONE: only a SYN without ACK opens it, unless
 * allow_midstream is set, in which case any valid segment opens it as
 * ESTABLISHED with the sender as initiator and then applies (a FIN leaves it
 * in FIN_WAIT, a RST in CLOSED); a SYN-ACK instead opens it as SYN_RECEIVED
 * with the receiver as initiator, since it names the client for certain.
 */
enum ztg_tcp_verdict ztg_tcp_track(struct ztg_tcp_tracker *t, unsigned int sender,
				   uint8_t tcp_flags, int allow_midstream);

/* Stable lower-case state name for stats and tests. */
const char *ztg_tcp_state_name(enum ztg_tcp_state state);

#endif
