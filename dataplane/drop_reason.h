/*
 * Drop reasons: the one list every dropped packet is counted under.
 *
 * The X-macro expands into both the enum and the name table, so a counter and
 * its printed name can never drift apart. ZTG_DROP_NONE (0) means "not
 * dropped"; every other value is a reason a packet was discarded. Names are
 * stable: they appear in stats output, JSON reports and tests.
 */
#ifndef ZTG_DROP_REASON_H
#define ZTG_DROP_REASON_H

#define ZTG_DROP_REASONS(X)                                                    \
	X(NONE,                    "none")                                     \
	/* layer 2 */                                                          \
	X(ETH_TRUNCATED,           "eth_truncated")                            \
	X(VLAN_TRUNCATED,          "vlan_truncated")                           \
	X(VLAN_TOO_MANY_TAGS,      "vlan_too_many_tags")                       \
	X(ARP_TRUNCATED,           "arp_truncated")                            \
	X(NON_IP,                  "non_ip_denied")                            \
	/* IPv4 */                                                             \
	X(IPV4_TRUNCATED,          "ipv4_truncated")                           \
	X(IPV4_BAD_VERSION,        "ipv4_bad_version")                         \
	X(IPV4_BAD_IHL,            "ipv4_bad_ihl")                             \
	X(IPV4_BAD_TOTAL_LENGTH,   "ipv4_bad_total_length")                    \
	X(IPV4_BAD_CHECKSUM,       "ipv4_bad_checksum")                        \
	X(IPV4_BAD_OPTIONS,        "ipv4_bad_options")                         \
	X(IPV4_BAD_ADDRESS,        "ipv4_bad_address")                         \
	/* IPv6 */                                                             \
	X(IPV6_TRUNCATED,          "ipv6_truncated")                           \
	X(IPV6_BAD_VERSION,        "ipv6_bad_version")                         \
	X(IPV6_BAD_PAYLOAD_LENGTH, "ipv6_bad_payload_length")                  \
	X(IPV6_BAD_EXT_HEADER,     "ipv6_bad_ext_header")                      \
	X(IPV6_TOO_MANY_EXT_HEADERS, "ipv6_too_many_ext_headers")              \
	X(IPV6_BAD_ADDRESS,        "ipv6_bad_address")                         \
	/* fragments */                                                        \
	X(IP_FRAGMENT,             "ip_fragment_denied")                       \
	X(IP_BAD_FRAGMENT,         "ip_bad_fragment")                          \
	X(IP_FRAGMENT_OVERLAP,     "ip_fragment_overlap")                      \
	X(IP_FRAGMENT_TOO_MANY,    "ip_fragment_too_many")                     \
	X(IP_FRAGMENT_OVERSIZED,   "ip_fragment_oversized")                    \
	X(IP_FRAGMENT_UNSUPPORTED, "ip_fragment_unsupported")                  \
	X(IP_FRAGMENT_TABLE_FULL,  "ip_fragment_table_full")                   \
	X(IP_FRAGMENT_TIMEOUT,     "ip_fragment_timeout")                      \
	/* layer 4 */                                                          \
	X(TCP_TRUNCATED,           "tcp_truncated")                            \
	X(TCP_BAD_DATA_OFFSET,     "tcp_bad_data_offset")                      \
	X(TCP_BAD_FLAGS,           "tcp_bad_flags")                            \
	X(TCP_BAD_PORT,            "tcp_bad_port")                             \
	X(UDP_TRUNCATED,           "udp_truncated")                            \
	X(UDP_BAD_LENGTH,          "udp_bad_length")                           \
	X(UDP_BAD_PORT,            "udp_bad_port")                             \
	X(ICMP_TRUNCATED,          "icmp_truncated")                           \
	X(ICMPV6_TRUNCATED,        "icmpv6_truncated")                         \
	/* flow tracking */                                                    \
	X(FLOW_TABLE_FULL,         "flow_table_full")                          \
	X(TCP_NO_FLOW,             "tcp_no_flow")                              \
	X(TCP_INVALID_STATE,       "tcp_invalid_state")                        \
	/* streams and verdicts */                                             \
	X(TCP_BAD_CHECKSUM,        "tcp_bad_checksum")                         \
	X(STREAM_OUT_OF_WINDOW,    "stream_out_of_window")                     \
	X(STREAM_OUT_OF_ORDER,     "stream_out_of_order_dropped")              \
	X(STREAM_OVERLAP,          "stream_overlap_conflict")                  \
	X(HTTP_VIOLATION,          "http_violation")                           \
	X(HTTP_TUNNEL_DENIED,      "http_tunnel_denied")                       \
	X(FLOW_BLOCKED,            "flow_blocked")                             \
	/* policy */                                                           \
	X(POLICY_SEGMENT_DENIED,   "policy_segment_denied")                    \
	X(POLICY_NON_HTTP,         "policy_non_http")                          \
	X(POLICY_DENIED,           "policy_denied")                            \
	X(RESPONSE_BLOCKED,        "response_blocked")                         \
	X(QUARANTINED,             "quarantined")                              \
	/* mbufs and output */                                                 \
	X(MBUF_CHAINED,            "mbuf_chained")                             \
	X(MBUF_EXHAUSTED,          "mbuf_exhausted")                           \
	X(TX_FULL,                 "tx_full")

enum ztg_drop_reason {
#define ZTG_DROP_ENUM(sym, name) ZTG_DROP_##sym,
	ZTG_DROP_REASONS(ZTG_DROP_ENUM)
#undef ZTG_DROP_ENUM
	ZTG_DROP_REASON_COUNT
};

/* Stable lower-case name of a reason; "unknown" for an out-of-range value. */
const char *ztg_drop_reason_name(enum ztg_drop_reason reason);

#endif
