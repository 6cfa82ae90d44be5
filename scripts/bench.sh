#!/bin/bash
# Throughput benchmark: ztgate on net_pcap (infinite_rx=1, the generated API
# traffic replayed from memory) into net_null, for a fixed time, in one run on
# the same harness: plain forwarding (--forward-only, the baseline) and full
# inspection, interleaved over several rounds so that a noisy neighbour slows
# both alike. Writes a JSON report: every run, the medians, and the ratio.
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
ninja -C "$build" dataplane/ztgate tests/traffic/ztg-trafgen >/dev/null
ztgate=$build/dataplane/ztgate
trafgen=$build/tests/traffic/ztg-trafgen

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
for round in $(seq "$rounds"); do
	run "forward-only-$round" --forward-only
	run "inspect-$round"
done

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
base, full = median_of(base_runs), median_of(full_runs)
per_round = [round(f["mpps"] / b["mpps"], 3) for b, f in zip(base_runs, full_runs)]
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
    "ratio": {
        "mpps_inspect_over_forward": round(full["mpps"] / base["mpps"], 3),
        "mpps_inspect_over_forward_per_round": per_round,
        "cycles_per_packet_inspect_over_forward":
            round(full["cycles_per_packet"] / base["cycles_per_packet"], 3),
        "inspect_extra_cycles_per_packet":
            round(full["cycles_per_packet"] - base["cycles_per_packet"], 1),
    },
}
with open(report, "w") as f:
    json.dump(result, f, indent=2)
print(json.dumps({"baseline": base, "inspect": full, "ratio": result["ratio"]}, indent=2))
print("bench: report written to", report)
PY
