#!/bin/bash
# ztgate starts, forwards and stops cleanly on each virtual device the lab
# and the benchmarks rely on: net_null, net_ring, net_memif (testpmd as the
# memif server sending traffic). net_pcap and net_af_packet have their own
# pipeline and lab tests; net_af_xdp is tried by the lab.
#   vdev_smoke.sh ZTGATE
set -euo pipefail

ztgate=$1
work=$(mktemp -d)
testpmd_pid=
cleanup() {
	exec 3>&- 2>/dev/null || true
	[ -z "$testpmd_pid" ] || kill "$testpmd_pid" 2>/dev/null || true
	rm -rf "$work" /var/run/dpdk/ztg-smoke-*-$$
}
trap cleanup EXIT
eal=(-l 0-1 --no-huge -m 512 --no-pci --no-shconf --log-level=lib.eal:warning)

check() { # check NAME STATS-JSON PYTHON-EXPRESSION-OVER-totals
	if /usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3"; then
		echo "ok: $1"
	else
		echo "FAIL: $1: $3 does not hold; totals:"; cat "$2"; exit 1
	fi
}

# net_null generates frames on rx; the second port only sinks.
for mode in --forward-only --tcp-midstream=drop; do
	"$ztgate" "${eal[@]}" --file-prefix "ztg-smoke-null-$$" --vdev net_null0 --vdev net_null1,no-rx=1 \
		-- -p 0:1 --duration 1 "$mode" --stats-json "$work/null.json" > "$work/null.log" 2>&1 ||
		{ cat "$work/null.log"; exit 1; }
	check "net_null $mode forwards" "$work/null.json" 't["rx_packets"] > 1000 and t["tx_packets"] + t["dropped"] == t["rx_packets"]'
done

# net_ring: rings inside the process; nothing arrives, start and stop must be clean.
"$ztgate" "${eal[@]}" --file-prefix "ztg-smoke-ring-$$" --vdev net_ring0 --vdev net_ring1 \
	-- -p 0:1 --duration 1 --stats-json "$work/ring.json" > "$work/ring.log" 2>&1 || { cat "$work/ring.log"; exit 1; }
check "net_ring starts and stops" "$work/ring.json" 't["dropped"] == 0'

# net_memif: testpmd is the server and sends UDP; ztgate, the client, bridges it.
if ! command -v dpdk-testpmd >/dev/null; then
	echo "dpdk-testpmd not installed (package dpdk): cannot test net_memif" >&2
	exit 1
fi
# testpmd quits when its stdin ends: it reads a FIFO whose write end this script holds.
mkfifo "$work/testpmd.stdin"
dpdk-testpmd -l 0-1 --no-huge -m 512 --no-pci --no-shconf --file-prefix "ztg-smoke-tp-$$" \
	--vdev="net_memif0,role=server,socket=$work/m0.sock" --vdev="net_memif1,role=server,socket=$work/m1.sock" \
	-- --forward-mode=txonly --txpkts=64 --auto-start --total-num-mbufs=16384 \
	< "$work/testpmd.stdin" > "$work/testpmd.log" 2>&1 &
testpmd_pid=$!
exec 3> "$work/testpmd.stdin"
# The sockets exist before testpmd listens on them: wait for it to start forwarding.
for _ in $(seq 100); do grep -q "Start automatic packet forwarding" "$work/testpmd.log" && break; sleep 0.1; done
"$ztgate" "${eal[@]}" --file-prefix "ztg-smoke-memif-$$" \
	--vdev="net_memif0,role=client,socket=$work/m0.sock" --vdev="net_memif1,role=client,socket=$work/m1.sock" \
	-- -p 0:1 --duration 2 --stats-json "$work/memif.json" > "$work/memif.log" 2>&1 || { cat "$work/memif.log"; exit 1; }
# testpmd in txonly never reads what it is sent back, so its rings fill: tx_full is expected here.
check "net_memif receives and forwards" "$work/memif.json" 't["rx_packets"] > 1000 and t["tx_packets"] > 0 and t["udp"] == t["rx_packets"] and t["flows_created"] >= 1'
echo "vdev smoke: all passed"
