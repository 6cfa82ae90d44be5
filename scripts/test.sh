#!/bin/bash
# The whole test suite: installs what it needs, builds, runs every meson test
# (unit, pipeline, end-to-end lab), then the fuzz stage (each libFuzzer target
# on its corpus for a bounded time, built by clang in its own directory), and
# closes with one "N passed, N failed" line counting both.
#   scripts/test.sh                 everything
#   scripts/test.sh --suite unit    any other arguments go to `meson test` (no fuzz stage)
#   ZTG_FUZZ=0 scripts/test.sh      everything but the fuzz stage
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${ZTG_BUILD:-$root/build}
fuzz_build=${ZTG_FUZZ_BUILD:-$build-fuzz}

"$root/scripts/setup.sh"

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root"
fi
ninja -C "$build"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?
logs=("$build/meson-logs/testlog.json")

# Fuzz stage (tests/fuzz/meson.build lists the targets, behind its alias
# fuzz-targets, and sets the time per target). Only the fuzz targets are built
# here; a stage that cannot configure or build counts as one failure instead
# of ending the script before the summary.
fuzz_broken=0
if (($# == 0)) && [ "${ZTG_FUZZ:-1}" != 0 ]; then
	echo "test.sh: fuzz stage in $fuzz_build"
	if { [ -f "$fuzz_build/build.ninja" ] ||
	     CC=clang meson setup "$fuzz_build" "$root" -Dfuzz=true -Dtests=false -Dlab_tests=false; } &&
	   ninja -C "$fuzz_build" fuzz-targets; then
		meson test -C "$fuzz_build" --no-rebuild --suite fuzz --print-errorlogs \
			--num-processes 2 || status=$?
		logs+=("$fuzz_build/meson-logs/testlog.json")
	else
		echo "test.sh: error: the fuzz stage did not configure or build (see above)" >&2
		fuzz_broken=1
		status=1
	fi
fi

# meson's own summary is not one every CI reads; say it plainly too.
/usr/bin/python3 - "$fuzz_broken" "${logs[@]}" <<'PY'
import json, sys
counts = {}
for log in sys.argv[2:]:
    for line in open(log):
        r = json.loads(line)["result"]
        counts[r] = counts.get(r, 0) + 1
passed = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
failed = sum(v for k, v in counts.items() if k in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"))
failed += int(sys.argv[1])
skipped = counts.get("SKIP", 0)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
