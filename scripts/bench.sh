#!/bin/bash
# Throughput benchmark: ztgate on net_pcap (infinite_rx=1, the generated API
# traffic replayed from memory) into net_null, for a fixed time, in one run on
# the same harness: plain forwarding (--forward-only, the baseline), full
# inspection, inspection judged by rules/bench.conf, and the same while
# ztgatectl applies that policy every 100 ms (the swap's effect on workers),
# interleaved over several rounds so that a noisy neighbour slows all alike.
# Then the route matcher alone at 10, 1,000 and 10,000 routes. Writes a JSON
# report: every run, the medians, and the ratios.
#
#   scripts/bench.sh [--seconds N] [--rounds N] [--sessions N] [--body-size N]
#                    [--malicious F] [--seed N] [--output FILE] [--no-hugepages]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${ZTG_BENCH_BUILD:-$root/build-bench}
out_dir=$root/bench-out
seconds=5
rounds=3
sessions=4000
body_size=256
malicious=0.02
seed=1
report=""
use_hugepages=1

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
number() { [[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench: $1 needs a number, got '$2'" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) number "$1" "${2-}"; seconds=$2; shift 2 ;;
	--rounds) number "$1" "${2-}"; rounds=$2; shift 2 ;;
	--sessions) number "$1" "${2-}"; sessions=$2; shift 2 ;;
	--body-size) number "$1" "${2-}"; body_size=$2; shift 2 ;;
	--malicious) number "$1" "${2-}"; malicious=$2; shift 2 ;;
	--seed) number "$1" "${2-}"; seed=$2; shift 2 ;;
	--output) report=${2:?--output needs a file}; shift 2 ;;
	--no-hugepages) use_hugepages=0; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (hugepages, DPDK)" >&2; exit 1; }
"$root/scripts/setup.sh"

# An optimised build of its own, so the figures never come from a debug build.
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root" -Dbuildtype=release -Dlab_tests=false >/dev/null
fi
ninja -C "$build" dataplane/ztgate tests/traffic/ztg-trafgen control/ztgatectl tests/bench/route_match_bench >/dev/null
ztgate=$build/dataplane/ztgate
trafgen=$build/tests/traffic/ztg-trafgen
ztgatectl=$build/control/ztgatectl
policy=$root/rules/bench.conf

mkdir -p "$out_dir"
pcap=$out_dir/api-traffic-s$seed-n$sessions-b$body_size.pcap
describe=$pcap.json
if [ ! -f "$pcap" ] || [ ! -f "$describe" ]; then
	echo "bench: generating $pcap"
	"$trafgen" --output "$pcap" --sessions "$sessions" --seed "$seed" --body-size "$body_size" \
		--malicious "$malicious" --describe "$describe"
fi
packets=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$describe")

# net_pcap with infinite_rx copies the whole file into mbufs at start.
mbufs=$((packets + 16384))
mem_mb=$(( (mbufs * 2304 / 1048576) + 512 ))
if [ "$use_hugepages" = 1 ]; then
	read -r -a eal_mem <<< "$("$root/platform/hugepages.sh" "$mem_mb")"
else
	eal_mem=(--no-huge -m "$mem_mb")
fi
[ "${eal_mem[0]}" = "--no-huge" ] && use_hugepages=0

run() { # run MODE-NAME [ztgate options...]
	local name=$1; shift
	echo "bench: $name for ${seconds}s"
	"$ztgate" -l 0-1 "${eal_mem[@]}" --no-pci --file-prefix "ztg-bench-$$" --log-level=lib.eal:warning \
		--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null1,no-rx=1 \
		-- -p 0:1 --mbufs "$mbufs" --duration "$seconds" \
		--stats-json "$out_dir/$name.stats.json" "$@" > "$out_dir/$name.log" 2>&1 ||
		{ echo "bench: ztgate ($name) failed:" >&2; tail -20 "$out_dir/$name.log" >&2; exit 1; }
}
# ctl_loop SOCKET LOG COMMAND...: run ztgatectl COMMAND every 100 ms while ztgate runs.
ctl_loop() {
	local sock=$1 log=$2
	shift 2
	: >"$log"
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	while [ -S "$sock" ]; do
		"$ztgatectl" --socket "$sock" "$@" >>"$log" 2>&1 || break
		sleep 0.1
	done
}

for round in $(seq "$rounds"); do
	run "forward-only-$round" --forward-only
	run "inspect-$round"
	run "policy-$round" --policy "$policy"
	# The swap's own cost: against a run where ztgatectl asks only for the status as often,
	# so that starting ztgatectl on a 2-core machine weighs on both alike.
	sock=$out_dir/ztgate-ctl.sock
	ctl_loop "$sock" "$out_dir/status-$round.log" status &
	loop=$!
	run "status-$round" --policy "$policy" --control-socket "$sock"
	wait "$loop" || true
	ctl_loop "$sock" "$out_dir/swap-$round.applies" apply "$policy" &
	loop=$!
	run "swap-$round" --policy "$policy" --control-socket "$sock"
	wait "$loop" || true
done
echo "bench: route matcher at 10, 1,000 and 10,000 routes"
"$build/tests/bench/route_match_bench" --rounds 5 >"$out_dir/route_match.json"

[ -n "$report" ] || report=$out_dir/bench-$(date +%Y%m%d-%H%M%S).json
/usr/bin/python3 - "$out_dir" "$describe" "$report" "$seconds" "$rounds" "$use_hugepages" \
	"$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, os, platform, statistics, sys

out_dir, describe, report, seconds, rounds, huge, commit = sys.argv[1:]
rounds = int(rounds)

def figures(name):
    s = json.load(open(os.path.join(out_dir, name + ".stats.json")))
    t, d = s["totals"], s["duration_seconds"]
    pkts = t["rx_packets"]
    return {
        "duration_seconds": round(d, 3),
        "rx_packets": pkts, "tx_packets": t["tx_packets"], "dropped": t["dropped"],
        "mpps": round(pkts / d / 1e6, 3),
        "gbps": round(t["rx_bytes"] * 8 / d / 1e9, 3),
        "cycles_per_packet": round(t["busy_cycles"] / pkts, 1) if pkts else None,
        "drops": {k: v for k, v in t["drops"].items() if v},
        "flows_created": t["flows_created"], "flows_reopened": t["flows_reopened"],
    }

def median_of(runs):
    keys = ("mpps", "gbps", "cycles_per_packet")
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}

base_runs = [figures("forward-only-%d" % i) for i in range(1, rounds + 1)]
full_runs = [figures("inspect-%d" % i) for i in range(1, rounds + 1)]
policy_runs = [figures("policy-%d" % i) for i in range(1, rounds + 1)]
status_runs = [figures("status-%d" % i) for i in range(1, rounds + 1)]
swap_runs = [figures("swap-%d" % i) for i in range(1, rounds + 1)]
base, full = median_of(base_runs), median_of(full_runs)
pol, status, swap = median_of(policy_runs), median_of(status_runs), median_of(swap_runs)
per_round = [round(f["mpps"] / b["mpps"], 3) for b, f in zip(base_runs, full_runs)]
graces, applies = [], 0
for i in range(1, rounds + 1):
    for line in open(os.path.join(out_dir, "swap-%d.applies" % i)):
        if "grace period of" in line:
            applies += 1
            graces.append(float(line.split("grace period of")[1].split()[0]))
route_match = json.load(open(os.path.join(out_dir, "route_match.json")))
result = {
    "benchmark": "ztgate inline throughput, net_pcap infinite_rx -> net_null, 1 worker",
    "commit": commit,
    "machine": {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                              if l.startswith("model name")), platform.processor()),
                "cores": os.cpu_count(), "kernel": platform.release(),
                "hugepages": huge == "1"},
    "seconds_per_run": float(seconds),
    "rounds": rounds,
    "pcap": json.load(open(describe)),
    "baseline_forward_only": {"median": base, "runs": base_runs},
    "inspect": {"median": full, "runs": full_runs},
    "policy": {"file": "rules/bench.conf", "mode": "monitor", "median": pol, "runs": policy_runs},
    "policy_with_status_every_100ms": {"median": status, "runs": status_runs},
    "policy_with_swaps": {
        "median": swap, "runs": swap_runs, "applies": applies,
        "grace_period_us": {"median": round(statistics.median(graces), 1) if graces else None,
                            "max": round(max(graces), 1) if graces else None},
    },
    "route_match": route_match,
    "ratio": {
        "mpps_inspect_over_forward": round(full["mpps"] / base["mpps"], 3),
        "mpps_inspect_over_forward_per_round": per_round,
        "cycles_per_packet_inspect_over_forward":
            round(full["cycles_per_packet"] / base["cycles_per_packet"], 3),
        "inspect_extra_cycles_per_packet":
            round(full["cycles_per_packet"] - base["cycles_per_packet"], 1),
        "mpps_policy_over_inspect": round(pol["mpps"] / full["mpps"], 3),
        "policy_extra_cycles_per_packet": round(pol["cycles_per_packet"] - full["cycles_per_packet"], 1),
        "mpps_swapping_over_status_loop": round(swap["mpps"] / status["mpps"], 3),
        "cycles_per_packet_swapping_over_status_loop":
            round(swap["cycles_per_packet"] / status["cycles_per_packet"], 3),
        "route_lookup_ns_10_1000_10000": [m["ns_per_lookup_median"] for m in route_match["matchers"]],
        "route_lookup_ratio_to_10_routes": [m["ratio_to_10"] for m in route_match["matchers"]],
    },
}
with open(report, "w") as f:
    json.dump(result, f, indent=2)
print(json.dumps({"baseline": base, "inspect": full, "policy": pol, "policy_with_status_loop": status,
                  "policy_with_swaps": swap,
                  "applies": applies, "grace_period_us": result["policy_with_swaps"]["grace_period_us"],
                  "ratio": result["ratio"]}, indent=2))
print("bench: report written to", report)
PY
