#!/usr/bin/env bash
# Install what ztgate needs on a fresh Debian 12 (bookworm) machine.
#
#   scripts/setup.sh [--build-only] [--check] [-h]
#
#   (default)     build dependencies and the lab / test tools
#   --build-only  only what `meson setup build && ninja -C build` needs
#   --check       install nothing: list what is missing, exit 1 if anything is
#
# Idempotent: packages are checked with dpkg-query first; when everything is
# present it does nothing (no apt-get update, no network). Otherwise it runs
# `apt-get update` once and installs only the missing packages, without
# recommends. Needs root only when something has to be installed.
set -euo pipefail

# Build: compiler, meson/ninja, and the libraries meson.build asks pkg-config
# for. The dpdk package brings dpdk-testpmd, dpdk-telemetry.py, dpdk-dumpcap.
BUILD_PKGS=(
	build-essential pkg-config meson ninja-build
	libdpdk-dev dpdk
	libhyperscan-dev libssl-dev libconfig-dev libcmocka-dev libpcap-dev libcurl4-openssl-dev
	libmicrohttpd-dev
	libbpf-dev libxdp-dev
)
# Lab and tests: namespaces and veths (iproute2, ethtool), the server and
# clients that talk through the appliance, capture, JSON tooling, clang
# with libFuzzer's runtime (libclang-rt-dev: libclang_rt.fuzzer) for the fuzz
# stage of scripts/test.sh, and Node.js with npm for the npm package jose that
# mints the identity tests' tokens (tests/auth); promtool (prometheus) checks
# the /metrics page in the metrics pipeline test, and the lab test scrapes
# ztgate with a real Prometheus server.
LAB_PKGS=(
	iproute2 ethtool nginx-light curl wrk tcpdump
	python3 python3-scapy jq procps iputils-ping
	clang libclang-rt-dev
	prometheus
)

usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0"
}

die() {
	printf 'setup.sh: error: %s\n' "$*" >&2
	exit 1
}

mode=all
check_only=0
while (($#)); do
	case "$1" in
	--build-only) mode=build ;;
	--check) check_only=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
	shift
done

if [[ ! -r /etc/debian_version ]] || ! command -v dpkg-query >/dev/null 2>&1; then
	die "this script installs Debian packages (written for Debian 12); install the equivalents of: ${BUILD_PKGS[*]} ${LAB_PKGS[*]}"
fi

wanted=("${BUILD_PKGS[@]}")
[[ $mode == all ]] && wanted+=("${LAB_PKGS[@]}")

# A package counts as present only when dpkg says "install ok installed"
# (not "deinstall ok config-files", not half-configured).
is_installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${wanted[@]}"; do
	is_installed "$pkg" || missing+=("$pkg")
done
# Node.js may come from elsewhere (nodesource's nodejs bundles npm and
# conflicts with Debian's npm package): only a missing command counts.
if [[ $mode == all ]]; then
	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

scope="build dependencies"
[[ $mode == all ]] && scope="build dependencies and lab/test tools"

if ((${#missing[@]} == 0)); then
	echo "setup.sh: all ${#wanted[@]} packages ($scope) already installed, nothing to do"
	exit 0
fi

flag=""
[[ $mode == build ]] && flag=" --build-only"

echo "setup.sh: missing ($scope): ${missing[*]}"
if ((check_only)); then
	echo "setup.sh: run 'sudo $0$flag' to install them"
	exit 1
fi

if ((EUID != 0)); then
	die "installing packages needs root: run 'sudo $0$flag' (missing: ${missing[*]})"
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup.sh: apt-get update"
if ! apt-get update -q; then
	die "apt-get update failed (check /etc/apt/sources.list and the network)"
fi

echo "setup.sh: apt-get install -y --no-install-recommends ${missing[*]}"
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
	die "apt-get install failed for: ${missing[*]}"
fi

# Verify: a package apt did not manage to configure must not pass silently.
still=()
for pkg in "${missing[@]}"; do
	is_installed "$pkg" || still+=("$pkg")
done
if ((${#still[@]})); then
	die "still not installed after apt-get: ${still[*]}"
fi
echo "setup.sh: installed ${#missing[@]} package(s): ${missing[*]}"
