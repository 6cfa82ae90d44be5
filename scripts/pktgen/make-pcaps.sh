#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build ztg-trafgen (meson/ninja) if needed and write the pcaps the pktgen
# profile (ztgate-bench.lua) replays.  Every pcap holds complete,
# bidirectional TCP connections (handshake, HTTP/1.1 keep-alive exchanges,
# FIN teardown), so a stateful device under test sees real flows rather than
# mid-stream garbage.  Each pcap gets a --describe JSON next to it.
#
# usage: scripts/pktgen/make-pcaps.sh [-o DIR] [-b BUILDDIR] [-n SESSIONS] [-s SEED]
#                                     [-- EXTRA ztg-trafgen OPTIONS]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out_dir="$repo/bench-out/pktgen"
build_dir="$repo/build"
sessions=2000
seed=1

usage() {
	cat <<EOF
usage: $0 [-o DIR] [-b BUILDDIR] [-n SESSIONS] [-s SEED] [-- EXTRA ztg-trafgen OPTIONS]

  -o DIR        where to write the pcaps (default $out_dir)
  -b BUILDDIR   meson build directory, set up if missing (default $build_dir)
  -n SESSIONS   TCP connections per pcap, 1..10000000 (default $sessions; about 19
                packets per connection, and pktgen keeps every packet in an mbuf)
  -s SEED       ztg-trafgen seed (default $seed); the same seed gives the same files
  -h            this text

Writes, each with a .json description:
  ztgate-api.pcap          clean REST API mix (GET majority, POST/PUT/PATCH/DELETE,
                           JWT bearer tokens, 256-byte JSON bodies, varied responses)
  ztgate-api-attacks.pcap  the same mix with 5% attacks (SQLi, XSS, traversal, command
                           injection, JNDI, SSRF); ztgate-api-attacks.csv labels them
  ztgate-api-small.pcap    short connections with small bodies: more packets per byte,
                           more connection setups per second
EOF
}

while getopts ":o:b:n:s:h" opt; do
	case "$opt" in
	o) out_dir=$OPTARG ;;
	b) build_dir=$OPTARG ;;
	n) sessions=$OPTARG ;;
	s) seed=$OPTARG ;;
	h) usage; exit 0 ;;
	:) echo "$0: -$OPTARG needs a value" >&2; exit 2 ;;
	*) echo "$0: unknown option -$OPTARG (try -h)" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
extra=("$@")

# values are range-checked by ztg-trafgen itself; catch the obvious early
[[ "$sessions" =~ ^[0-9]+$ ]] || { echo "$0: -n '$sessions' is not a number" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "$0: -s '$seed' is not a number" >&2; exit 2; }

trafgen="$build_dir/tests/traffic/ztg-trafgen"
if [[ ! -f "$build_dir/build.ninja" ]]; then
	echo "make-pcaps: setting up $build_dir" >&2
	meson setup "$build_dir" "$repo" >/dev/null
fi
ninja -C "$build_dir" tests/traffic/ztg-trafgen >/dev/null
[[ -x "$trafgen" ]] || { echo "$0: $trafgen was not built" >&2; exit 1; }

mkdir -p "$out_dir"

gen() {
	local name=$1
	shift
	"$trafgen" --output "$out_dir/$name.pcap" --describe "$out_dir/$name.json" \
		--sessions "$sessions" --seed "$seed" "$@" "${extra[@]}"
}

gen ztgate-api
gen ztgate-api-attacks --malicious 0.05 --labels "$out_dir/ztgate-api-attacks.csv"
gen ztgate-api-small --requests-per-session 1-2 --body-size 32 --response-size 64

echo "make-pcaps: pcaps and descriptions in $out_dir" >&2
