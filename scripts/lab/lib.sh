# shellcheck shell=bash disable=SC2034
# Shared by scripts/lab.sh and tests/e2e/lab_test.sh: the lab's names and
# addresses, message helpers, and readers for ztgate's and wrk's output.
# Source it; it defines only variables and functions.

# Topology:
#
#   ztg-client              ztg-dut (ztgate)               ztg-server
#   eth0 198.18.0.1 --- ztg-c [port 0]   [port 1] ztg-s --- eth0 198.18.0.2
#        2001:db8::1                                            2001:db8::2  nginx :80
#                           ztg-m 10.255.0.1/30 ------------- mgmt0 10.255.0.2/30
#                           (ztgate's control process:          nginx https :8443
#                            JWKS fetches, libcurl)             /jwks.json (lab IdP)
#
# One L2 segment (198.18.0.0/24, RFC 2544 benchmarking range; 2001:db8::/64,
# documentation prefix): ztgate bridges it, the DUT's kernel has no address on
# it and IPv6 is off there so it never speaks on the wire itself.
#
# The management link (10.255.0.0/30, a plain veth pair that never leaves the
# two namespaces) is not bridged: the DUT's own IP stack uses it, so ztgate's
# control process can fetch the lab IdP's JWKS from nginx over TLS, the way it
# would reach a real identity provider, while the DPDK ports stay a bump in
# the wire.
NS_CLIENT=ztg-client
NS_SERVER=ztg-server
NS_DUT=ztg-dut
LAB_NAMESPACES=("$NS_CLIENT" "$NS_SERVER" "$NS_DUT")

HOST_IF=eth0          # client's and server's interface
DUT_IF_CLIENT=ztg-c   # DUT's end towards the client: DPDK port 0
DUT_IF_SERVER=ztg-s   # DUT's end towards the server: DPDK port 1

CLIENT_IP4=198.18.0.1
SERVER_IP4=198.18.0.2
PREFIX4=24
CLIENT_IP6=2001:db8::1
SERVER_IP6=2001:db8::2
PREFIX6=64
CLIENT_MAC=02:00:c6:12:00:01
SERVER_MAC=02:00:c6:12:00:02
DUT_MAC_CLIENT=02:00:c6:12:ff:01
DUT_MAC_SERVER=02:00:c6:12:ff:02
LAB_MTU=1500

SERVER_URL="http://$SERVER_IP4"
SERVER_URL6="http://[$SERVER_IP6]"

# The management link and the lab IdP's JWKS on it (rules/lab.conf names the
# same URL; scripts/lab/nginx.conf.in the same address and port).
MGMT_IF_DUT=ztg-m       # in ztg-dut
MGMT_IF_SERVER=mgmt0    # in ztg-server
MGMT_DUT_IP4=10.255.0.1
MGMT_SERVER_IP4=10.255.0.2
MGMT_PREFIX4=30
MGMT_NET4=10.255.0.0/30
JWKS_PORT=8443
JWKS_URL="https://$MGMT_SERVER_IP4:$JWKS_PORT/jwks.json"

# Identity in the lab (scripts/lab/tokens.mjs mints, rules/lab.conf verifies):
# issuer lab-idp signs with one key per asymmetric algorithm (public JWKS
# served at JWKS_URL), issuer lab-hmac with HMAC secrets (a jwks_file staged
# next to the policy, never published). Their iss and aud values are written
# in rules/lab.conf and in tokens.mjs, nowhere else.
LAB_ALGS=(RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA HS256 HS384 HS512)
# The API key of api_keys entry "lab-export" in rules/lab.conf, which holds
# only its SHA-256. A lab secret, not a real one.
LAB_API_KEY=ztg-lab-export-key-2f6c1d

# The lab's order export (lab.sh writes it at `up`, nginx serves it at LAB_EXPORT_PATH):
# more than 64 KiB of ordinary order records, then one holding LAB_TEST_CARD, a
# Luhn-valid test card number (no real card's). Route card-export of rules/lab.conf
# blocks on rule 200101 of rules/signatures/leaks-cards.rules: the response is cut off
# at the number, after its start was forwarded.
LAB_EXPORT_PATH=/api/v1/exports/orders
LAB_TEST_CARD="4111 1111 1111 1111"

# --- messages ---------------------------------------------------------------

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
	_c_bold=$'\e[1m' _c_red=$'\e[31m' _c_green=$'\e[32m' _c_yellow=$'\e[33m' _c_off=$'\e[0m'
else
	_c_bold='' _c_red='' _c_green='' _c_yellow='' _c_off=''
fi
LAB_PROG=${LAB_PROG:-lab}

info() { printf '%s: %s\n' "$LAB_PROG" "$*"; }
warn() { printf '%s: %swarning:%s %s\n' "$LAB_PROG" "$_c_yellow" "$_c_off" "$*" >&2; }
die() {
	printf '%s: %serror:%s %s\n' "$LAB_PROG" "$_c_red" "$_c_off" "$*" >&2
	exit 1
}
heading() {
	printf '\n%s=== %s ===%s\n' "$_c_bold" "$*" "$_c_off"
}

need_root() {
	((EUID == 0)) || die "needs root (network namespaces, veths, raw sockets): run it with sudo"
}

# need_tools CMD... : fail naming the missing commands and the fix.
need_tools() {
	local missing=() t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	((${#missing[@]} == 0)) ||
		die "missing command(s): ${missing[*]}; install them with scripts/setup.sh"
}

ns_exists() {
	[[ -e /run/netns/$1 ]]
}

# Tail of a log file, indented, for error messages.
log_tail() {
	local file=$1 lines=${2:-25}
	if [[ -s $file ]]; then
		echo "--- last $lines lines of $file ---"
		tail -n "$lines" "$file" | sed 's/^/  | /'
		echo "---"
	else
		echo "(no output in $file)"
	fi
}

# --- the lab IdP's tokens -----------------------------------------------------

# token_field NAME FIELD [TOKENS_JSON]: a field of the lab token NAME in
# tokens.json (scripts/lab/tokens.mjs writes it at `up`); empty when the token
# or the field is not there. The file defaults to $TOKENS_JSON.
token_field() {
	jq -r --arg n "$1" --arg f "$2" '.[] | select(.name == $n) | .[$f] // empty' "${3:-$TOKENS_JSON}"
}

# --- ztgate --stats-json ----------------------------------------------------

# jq definitions for reading --stats-json. ztg_drops: the drop-reason map,
# top level as in the CLI contract, or under "totals" where an early dataplane
# put it.
ZTG_JQ_DEFS='def ztg_drops: (.drops // .totals.drops // {});'

# print_ztgate_stats FILE: the counters a network engineer looks at first:
# packets and bytes each way through the bridge, flows, and every drop reason
# that is not zero. Port 0 faces the client, port 1 the server.
print_ztgate_stats() {
	local file=$1
	[[ -s $file ]] || { echo "(no stats file $file)"; return 1; }
	jq -r "$ZTG_JQ_DEFS"'
	  def pad(n): tostring | . + ((n - length) as $k | if $k > 0 then " " * $k else "" end);
	  def lpad(n): tostring | ((n - length) as $k | if $k > 0 then " " * $k else "" end) + .;
	  (.ports | map({key: (.port | tostring), value: .}) | from_entries) as $p
	  | "mode \(.mode), \(.workers) worker(s), forwarding for \(.duration_seconds) s",
	    "",
	    "ports (rte_eth_stats)     " + ("rx pkts" | lpad(10)) + ("rx bytes" | lpad(12))
	      + ("tx pkts" | lpad(10)) + ("tx bytes" | lpad(12)) + ("missed" | lpad(8)) + ("rx err" | lpad(8)) + ("tx err" | lpad(8)),
	    (.ports[] | "  port \(.port) \(.name)" as $n
	      | ($n | pad(24)) + (.ipackets | lpad(10)) + (.ibytes | lpad(12)) + (.opackets | lpad(10))
	        + (.obytes | lpad(12)) + (.imissed | lpad(8)) + (.ierrors | lpad(8)) + (.oerrors | lpad(8))),
	    "",
	    (if $p["0"] and $p["1"] then
	      "client -> server: \($p["0"].ipackets) packets in on port 0, \($p["1"].opackets) out on port 1",
	      "server -> client: \($p["1"].ipackets) packets in on port 1, \($p["0"].opackets) out on port 0"
	     else empty end),
	    "",
	    (.totals | "worker totals: rx \(.rx_packets) pkts, tx \(.tx_packets) pkts, dropped \(.dropped)",
	      "  by protocol: ipv4 \(.ipv4), ipv6 \(.ipv6), tcp \(.tcp), udp \(.udp), icmp \(.icmp), non-ip \(.non_ip)",
	      "  flows: created \(.flows_created), expired \(.flows_expired), active at stop \(.flows_active)",
	      "  fragments: \(.fragments), reassembled into \(.datagrams_reassembled // 0) datagrams",
	      (if (.rx_packets // 0) > 0 then
	        "  cycles/packet: \((.busy_cycles / .rx_packets) | floor)" else empty end)),
	    "",
	    "drops by reason (non-zero only):",
	    (ztg_drops | to_entries | map(select(.value > 0))
	      | if length == 0 then "  none" else (.[] | "  " + (.key | pad(28)) + (.value | tostring)) end)
	' "$file"
}

# ztgate_nonzero_drops FILE: "reason=count" lines for every non-zero reason.
ztgate_nonzero_drops() {
	jq -r "$ZTG_JQ_DEFS"' ztg_drops | to_entries[] | select(.value > 0) | "\(.key)=\(.value)"' "$1"
}

# --- wrk ----------------------------------------------------------------------

# parse_wrk FILE: sets WRK_REQUESTS, WRK_RPS, WRK_SOCKET_ERRORS (sum of
# connect/read/write/timeout) and WRK_NON2XX from wrk's text output. wrk
# prints the "Socket errors" and "Non-2xx or 3xx" lines only when non-zero.
parse_wrk() {
	local file=$1 line
	WRK_REQUESTS=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$file" | head -n1)
	WRK_RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$file" | head -n1)
	WRK_SOCKET_ERRORS=0
	line=$(grep -E '^ *Socket errors:' "$file" || true)
	if [[ -n $line ]]; then
		WRK_SOCKET_ERRORS=$(grep -oE '[0-9]+' <<<"$line" | awk '{s += $1} END {print s + 0}')
	fi
	WRK_NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$file" | head -n1)
	WRK_NON2XX=${WRK_NON2XX:-0}
	[[ -n $WRK_REQUESTS ]]
}
