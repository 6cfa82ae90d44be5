#include "tcp_state.h"

#include "../decode/decode.h"

/* Local names so each transition below reads as one line. */
#define SYN(f)     (((f) & ZTG_TCP_SYN) != 0)
#define ACK(f)     (((f) & ZTG_TCP_ACK) != 0)
#define RST(f)     (((f) & ZTG_TCP_RST) != 0)
#define FIN(f)     (((f) & ZTG_TCP_FIN) != 0)
#define SYN_ONLY(f) (SYN(f) && !ACK(f))
#define SYN_ACK(f)  (SYN(f) && ACK(f))

/*
 * Flag sets no TCP stack sends. The decoder already drops them; the tracker
 * refuses them as well because it is also fed by tests, fuzzers and future
 * callers that never went through the decoder.
 */
static int flags_impossible(uint8_t f)
{
	if (SYN(f) && (RST(f) || FIN(f)))
		return 1;
	if (FIN(f) && !ACK(f))
		return 1;
	return !(SYN(f) || ACK(f) || RST(f));
}

/*
 * The transitions shared by ESTABLISHED and a mid-stream pickup: the caller
 * has already handled RST. Returns 0 and updates *n, or -1 when invalid.
 */
static int track_established(struct ztg_tcp_tracker *n, unsigned int sender, uint8_t f)
{
	if (SYN(f)) {
		/* Only the responder's SYN-ACK can still be in flight after the handshake. */
		if (SYN_ACK(f) && sender != n->initiator)
			return 0;
		return -1;
	}
	if (FIN(f)) {
		n->fin_sent |= (uint8_t)(1u << sender);
		n->state = ZTG_TCP_STATE_FIN_WAIT;
	}
	return 0;
}

enum ztg_tcp_verdict ztg_tcp_track(struct ztg_tcp_tracker *t, unsigned int sender,
				   uint8_t tcp_flags, int allow_midstream)
{
	/* Work on a copy and publish it only when valid: INVALID leaves *t untouched. */
	struct ztg_tcp_tracker n = *t;
	enum ztg_tcp_verdict verdict = ZTG_TCP_ACCEPT;
	uint8_t f = tcp_flags;
	int from_initiator;

	if (sender > 1 || flags_impossible(f))
		return ZTG_TCP_INVALID;
	from_initiator = sender == t->initiator;

	switch (t->state) {
	case ZTG_TCP_STATE_NONE:
		if (SYN_ONLY(f)) {
			n.state = ZTG_TCP_STATE_SYN_SENT;
			n.initiator = (uint8_t)sender;
			n.fin_sent = 0;
			break;
		}
		if (!allow_midstream)
			return ZTG_TCP_INVALID;
		n.fin_sent = 0;
		if (SYN_ACK(f)) {
			/* A SYN-ACK names the client for certain: it is the receiver, not the sender. */
			n.state = ZTG_TCP_STATE_SYN_RECEIVED;
			n.initiator = (uint8_t)(sender ^ 1);
			break;
		}
		n.initiator = (uint8_t)sender;
		if (RST(f)) {
			n.state = ZTG_TCP_STATE_CLOSED;
			break;
		}
		n.state = ZTG_TCP_STATE_ESTABLISHED;
		if (track_established(&n, sender, f) != 0)
			return ZTG_TCP_INVALID;
		break;

	case ZTG_TCP_STATE_SYN_SENT:
		if (RST(f))
			n.state = ZTG_TCP_STATE_CLOSED;
		else if (!from_initiator && SYN_ACK(f))
			n.state = ZTG_TCP_STATE_SYN_RECEIVED;
		else if (!(from_initiator && SYN_ONLY(f)))
			return ZTG_TCP_INVALID;
		/* else a retransmitted SYN */
		break;

	case ZTG_TCP_STATE_SYN_RECEIVED:
		if (RST(f)) {
			n.state = ZTG_TCP_STATE_CLOSED;
		} else if (from_initiator) {
			/* A retransmitted SYN (the SYN-ACK was lost beyond us) changes nothing. */
			if (SYN_ACK(f))
				return ZTG_TCP_INVALID;
			if (FIN(f)) {
				n.fin_sent |= (uint8_t)(1u << sender);
				n.state = ZTG_TCP_STATE_FIN_WAIT;
			} else if (!SYN(f)) {
				n.state = ZTG_TCP_STATE_ESTABLISHED;
			}
		} else if (!SYN_ACK(f)) {
			/* The responder may send nothing but its SYN-ACK before the initiator's ACK. */
			return ZTG_TCP_INVALID;
		}
		break;

	case ZTG_TCP_STATE_ESTABLISHED:
		if (RST(f))
			n.state = ZTG_TCP_STATE_CLOSED;
		else if (track_established(&n, sender, f) != 0)
			return ZTG_TCP_INVALID;
		break;

	case ZTG_TCP_STATE_FIN_WAIT:
		if (RST(f)) {
			n.state = ZTG_TCP_STATE_CLOSED;
		} else if (SYN(f)) {
			return ZTG_TCP_INVALID;
		} else if (FIN(f) && !(t->fin_sent & (1u << sender))) {
			n.fin_sent |= (uint8_t)(1u << sender);
			n.state = ZTG_TCP_STATE_CLOSING;
		}
		/* Otherwise a retransmitted FIN, or ACKs and data from the half still open. */
		break;

	case ZTG_TCP_STATE_CLOSING:
		if (RST(f))
			n.state = ZTG_TCP_STATE_CLOSED;
		else if (SYN(f))
			return ZTG_TCP_INVALID;
		else if (!FIN(f))
			n.state = ZTG_TCP_STATE_CLOSED; /* the last ACK */
		break;

	case ZTG_TCP_STATE_CLOSED:
		if (SYN_ONLY(f)) {
			n.state = ZTG_TCP_STATE_SYN_SENT;
			n.initiator = (uint8_t)sender;
			n.fin_sent = 0;
			verdict = ZTG_TCP_REOPEN;
		}
		/* Anything else is a straggler from the connection that just ended. */
		break;

	default:
		/* A corrupted state byte: refuse rather than guess. */
		return ZTG_TCP_INVALID;
	}

	*t = n;
	return verdict;
}

const char *ztg_tcp_state_name(enum ztg_tcp_state state)
{
	static const char *const names[ZTG_TCP_STATE_COUNT] = {
		[ZTG_TCP_STATE_NONE] = "none",
		[ZTG_TCP_STATE_SYN_SENT] = "syn_sent",
		[ZTG_TCP_STATE_SYN_RECEIVED] = "syn_received",
		[ZTG_TCP_STATE_ESTABLISHED] = "established",
		[ZTG_TCP_STATE_FIN_WAIT] = "fin_wait",
		[ZTG_TCP_STATE_CLOSING] = "closing",
		[ZTG_TCP_STATE_CLOSED] = "closed",
	};

	if ((unsigned int)state >= ZTG_TCP_STATE_COUNT)
		return "unknown";
	return names[state];
}
