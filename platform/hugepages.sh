#!/bin/bash
# Reserve 2 MiB hugepages and make sure hugetlbfs is mounted, for runs that
# want hugepages (benchmarks, real NICs). Tests run with --no-huge instead.
#   platform/hugepages.sh MEGABYTES     reserve at least this much; prints the EAL memory options to use
#   platform/hugepages.sh --release     give the pages back
# Prints "--no-huge -m MEGABYTES" instead (and says why on stderr) when the
# pages cannot be had, so callers always get options that work.
set -euo pipefail

mount_point=/dev/hugepages
nr=/proc/sys/vm/nr_hugepages

if [ "${1-}" = "--release" ]; then
	echo 0 > "$nr"
	exit 0
fi
megabytes=${1:?usage: hugepages.sh MEGABYTES | --release}
[[ $megabytes =~ ^[0-9]+$ ]] && [ "$megabytes" -gt 0 ] || { echo "hugepages: '$megabytes' is not a size in MB" >&2; exit 2; }

fallback() {
	echo "hugepages: $1; using --no-huge" >&2
	echo "--no-huge -m $megabytes"
	exit 0
}

[ "$(id -u)" -eq 0 ] || fallback "not root"
page_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
[ "$page_kb" = 2048 ] || fallback "default hugepage size is ${page_kb} kB, not 2048"
# 64 pages of headroom for EAL's own tables.
wanted=$(( megabytes / 2 + 64 ))
mkdir -p "$mount_point"
mountpoint -q "$mount_point" || mount -t hugetlbfs nodev "$mount_point" || fallback "cannot mount hugetlbfs on $mount_point"
[ "$(cat "$nr")" -ge "$wanted" ] || echo "$wanted" > "$nr" || true
have=$(cat "$nr")
[ "$have" -ge "$wanted" ] || fallback "only $have of $wanted hugepages could be reserved (memory fragmented?)"
echo "--socket-mem $megabytes --huge-unlink"
