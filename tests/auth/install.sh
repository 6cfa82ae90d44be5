#!/bin/bash
# Install the pinned jose (package-lock.json beside this script) into DIR/node_modules,
# for mint.mjs (ZTG_JOSE_DIR=DIR). Never touches the source tree: package.json and the
# lock are copied to DIR and `npm ci --prefix DIR` installs there.
#
# Usage: tests/auth/install.sh DIR
# Idempotent: does nothing when DIR/node_modules/jose is already the lock's version (that
# check needs no lock, so a reader without write access to DIR passes it too).
# Concurrent installs into one DIR (meson runs cases in parallel) take turns through a lock
# file, and each checks again once it holds the lock.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$0: $tool not found: the identity tests mint their tokens with the npm package jose;" \
		     "install Node.js and npm (apt-get install nodejs npm)" >&2
		exit 1
	fi
done
here=$(cd "$(dirname "$0")" && pwd)
dir=$1

# The version the lock pins, and the one installed in DIR (empty when none).
version_of() {
	node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	                process.stdout.write((j.packages ? j.packages["node_modules/jose"] : j).version); }
	         catch (e) {}' "$1"
}
want=$(version_of "$here/package-lock.json")
if [ -z "$want" ]; then
	echo "$0: no jose version in $here/package-lock.json" >&2
	exit 1
fi

installed() {
	[ "$(version_of "$dir/node_modules/jose/package.json")" = "$want" ]
}
# Without the lock, another run may be in the middle of `npm ci` into DIR: npm writes
# node_modules/.package-lock.json once every package is in place, so both must name the
# lock's version before this run leaves without installing.
if installed && [ "$(version_of "$dir/node_modules/.package-lock.json")" = "$want" ]; then
	exit 0
fi

mkdir -p "$dir"
install() {
	if installed; then   # DIR already had it, or another run installed it while this one waited
		return 0
	fi
	cp "$here/package.json" "$here/package-lock.json" "$dir/"
	if ! npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2; then
		echo "$0: npm ci into $dir failed (is the npm registry reachable?)" >&2
		return 1
	fi
	local got
	got=$(version_of "$dir/node_modules/jose/package.json")
	if [ "$got" != "$want" ]; then
		echo "$0: installed jose '$got' in $dir, expected $want" >&2
		return 1
	fi
	echo "installed jose $want in $dir/node_modules" >&2
}

if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir/.install.lock"
	flock 9
fi
install
