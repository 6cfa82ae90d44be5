#!/bin/bash
# ztgatectl block on net_tap: the block becomes an rte_flow drop rule on the
# ingress tap where the kernel can hold one (tc flower, seen with
# `tc filter show`), and traffic from the blocked source then never reaches
# the workers (their rx counter stays flat); where the PMD refuses the rule,
# `block list` says "software" with the PMD's reason and the workers drop the
# source's packets themselves (drops by reason "quarantined"). Either way,
# `block del` lets the traffic through again.
#
# Everything runs in a network namespace of its own: ztgate creates its taps
# there, and the test sends UDP from 192.0.2.1 out of the first tap.
#   flow_drop_tap.sh ZTGATE ZTGATECTL
set -euo pipefail

ztgate=$1
ztgatectl=$2
ns=ztg-fdtap-$$
work=$(mktemp -d)
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work" /var/run/dpdk/ztg-fdtap-$$
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- ztgate log"; cat "$work/ztgate.log"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }
ctl() { in_ns "$ztgatectl" --socket "$work/ztgate.sock" "$@"; }
total() { ctl --json stats | /usr/bin/python3 -c 'import json,sys; t=json.load(sys.stdin)["totals"]; print(eval(sys.argv[1]))' "$1"; }
send() { # send N: N UDP datagrams from 192.0.2.1 to 192.0.2.2 out of the first tap
	in_ns /usr/bin/python3 - "$1" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind(('192.0.2.1', 0))
		for i in range(int(sys.argv[1])):
		    s.sendto(b'ztgate flow drop %d' % i, ('192.0.2.2', 9000))
	EOF
	sleep 0.5
}

ip netns add "$ns"
in_ns ip link set lo up
# Not through in_ns: $! must be ztgate itself (ip netns exec execs it) for the TERM at the end.
ip netns exec "$ns" "$ztgate" -l 0-1 --no-huge -m 256 --no-pci --no-shconf --file-prefix "ztg-fdtap-$$" --log-level=lib.eal:warning \
	--vdev net_tap0,iface=ztgfd0 --vdev net_tap1,iface=ztgfd1 \
	-- -p 0:1 --control-socket "$work/ztgate.sock" --ready-file "$work/ready" --duration 120 \
	> "$work/ztgate.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || fail "ztgate not ready"
in_ns ip addr add 192.0.2.1/24 dev ztgfd0
in_ns ip link set ztgfd0 up
in_ns ip link set ztgfd1 up
# No ARP: the datagrams go straight out of the tap.
in_ns ip neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev ztgfd0 nud permanent

send 50
rx_before=$(total 't["rx_packets"]')
[ "$rx_before" -ge 50 ] || fail "only $rx_before packets reached the workers before the block"
echo "ok: $rx_before packets reach the workers before the block"

ctl block add 192.0.2.1/32 --reason "flow drop test" || fail "block add"
sleep 0.3
status=$(ctl --json block list | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"][0]["hardware"])')
echo "block list: hardware: $status"
rx_blocked=$(total 't["rx_packets"]')
quarantined_blocked=$(total 't["drops"].get("quarantined", 0)')
send 50
rx_after=$(total 't["rx_packets"]')
quarantined_after=$(total 't["drops"].get("quarantined", 0)')
case "$status" in
nic\ on\ port\ 0*)
	rules=$(in_ns tc filter show dev ztgfd0 ingress)
	echo "$rules"
	grep -q "192.0.2.1" <<< "$rules" || fail "no tc rule for 192.0.2.1 on ztgfd0: $rules"
	[ "$rx_after" -eq "$rx_blocked" ] || fail "the NIC rule let $((rx_after - rx_blocked)) packets reach the workers"
	echo "ok: the rule is on the tap and the workers' rx stays at $rx_after"
	;;
software*)
	echo "SKIP (hardware half): net_tap holds no rte_flow rule on this kernel ($status)"
	[ $((quarantined_after - quarantined_blocked)) -ge 50 ] ||
		fail "software drop: $((quarantined_after - quarantined_blocked)) of 50 packets dropped as quarantined"
	echo "ok: the workers drop the blocked source's packets: $((quarantined_after - quarantined_blocked)) quarantined"
	;;
*)
	fail "block list hardware status '$status' says neither nic nor software"
	;;
esac

ctl block del 192.0.2.1/32 || fail "block del"
sleep 0.3
[ -z "$(in_ns tc filter show dev ztgfd0 ingress | grep 192.0.2.1 || true)" ] || fail "the tc rule outlived block del"
rx_released=$(total 't["rx_packets"]')
quarantined_released=$(total 't["drops"].get("quarantined", 0)')
send 50
[ $(( $(total 't["rx_packets"]') - rx_released )) -ge 50 ] || fail "traffic did not come back after block del"
[ "$(total 't["drops"].get("quarantined", 0)')" -eq "$quarantined_released" ] || fail "still dropped after block del"
echo "ok: block del lets the source through again"
kill -TERM "$pid"
wait "$pid" || fail "ztgate exited $?"
pid=
