#!/bin/bash
# The whole test suite: installs what it needs, builds, runs every meson test
# (unit, pipeline, end-to-end lab), and closes with one "N passed, N failed" line.
#   scripts/test.sh                 everything
#   scripts/test.sh --suite unit    any other arguments go to `meson test`
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${ZTG_BUILD:-$root/build}

"$root/scripts/setup.sh"

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$root"
fi
ninja -C "$build"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?

# meson's own summary is not one every CI reads; say it plainly too.
/usr/bin/python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    counts[r] = counts.get(r, 0) + 1
passed = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
failed = sum(v for k, v in counts.items() if k in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"))
skipped = counts.get("SKIP", 0)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
