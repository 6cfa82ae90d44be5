#!/bin/bash
# Throughput benchmark: ztgate on net_pcap (infinite_rx=1, the generated API
# traffic replayed from memory) into net_null, for a fixed time, in one run on
# the same harness: plain forwarding (--forward-only, the baseline), full
# inspection, inspection judged by rules/bench.conf, and the same while
# ztgatectl applies that policy every 100 ms (the swap's effect on workers),
# interleaved over several rounds so that a noisy neighbour slows all alike.
# Identity: the same API traffic with one valid ES256 token in every request,
# forwarded, judged by an anonymous policy, and by rules/bench-identity.conf
# with the token cache on and off. Signatures (issue 6): the same traffic
# judged by that anonymous policy with 0, 100, 1,000 and 10,000 signature
# rules, each as a ratio to forwarding it, and the full pipeline's cost per
# TCP payload byte as a ratio to raw Hyperscan streaming over the same bytes
# (tests/bench/hs_scan_bench). Audit events (issue 7): the rules/bench.conf
# run with its events in a file, every request logged (--event-sample-allowed
# 1) against denies only (the default), requests/s as a ratio, and how many
# events the writer kept up with. Rate limits (issue 8): rules/bench.conf
# with three limits on every request, never reached, as a ratio to it. Then
# the route matcher alone at 10, 1,000 and 10,000 routes, JWT verification
# per algorithm against `openssl speed`, and the Hyperscan compile time of
# 1,000 and 10,000 signatures. Writes a JSON report: every run, the medians,
# and the ratios.
#
#   scripts/bench.sh [--seconds N] [--rounds N] [--sessions N] [--body-size N]
#                    [--malicious F] [--seed N] [--output FILE] [--no-hugepages]
#   Environment: ZTG_BENCH_BUILD (default build-bench), ZTG_BENCH_OUT (bench-out).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${ZTG_BENCH_BUILD:-$root/build-bench}
out_dir=${ZTG_BENCH_OUT:-$root/bench-out}
seconds=5
rounds=3
sessions=4000
body_size=256
malicious=0.02
seed=1
report=""
use_hugepages=1

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
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
ninja -C "$build" dataplane/ztgate tests/traffic/ztg-trafgen control/ztgatectl tests/bench/route_match_bench \
	tests/bench/jwt_bench tests/bench/sig_compile_bench tests/bench/hs_scan_bench >/dev/null
ztgate=$build/dataplane/ztgate
trafgen=$build/tests/traffic/ztg-trafgen
ztgatectl=$build/control/ztgatectl
policy=$root/rules/bench.conf
ratelimit_policy=$root/rules/bench-ratelimit.conf
behaviour_policy=$root/rules/bench-behaviour.conf

mkdir -p "$out_dir"
pcap=$out_dir/api-traffic-s$seed-n$sessions-b$body_size.pcap
describe=$pcap.json
if [ ! -f "$pcap" ] || [ ! -f "$describe" ]; then
	echo "bench: generating $pcap"
	"$trafgen" --output "$pcap" --sessions "$sessions" --seed "$seed" --body-size "$body_size" \
		--malicious "$malicious" --describe "$describe"
fi
packets=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$describe")

# Identity: a fresh P-256 key, its JWKS and one access token signed with it,
# staged with rules/bench-identity.conf in a private directory (key files are
# relative to the policy), removed at exit. The token expires in 6 hours, and
# the pcap carrying it is made anew each run, never reused.
stage=$(mktemp -d /tmp/ztg-bench-identity.XXXXXX)
trap 'rm -rf "$stage"' EXIT
/usr/bin/python3 - "$stage" api.example.com >"$out_dir/identity-token.json" <<'PY'
import base64, json, os, subprocess, sys, time, uuid

stage, host = sys.argv[1:3]
os.makedirs(os.path.join(stage, "keys"))
key = os.path.join(stage, "bench-idp-es256.key")   # the private key: beside keys/, never in a policy

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def openssl(*args, data=None):
    p = subprocess.run(("openssl",) + args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("bench: openssl %s: %s" % (" ".join(args), p.stderr.decode().strip()))
    return p.stdout

openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
point = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")[-65:]   # SPKI ends with 04 || X || Y
assert point[0] == 4, "not an uncompressed P-256 point"
kid = "bench-es256-" + time.strftime("%Y%m%d")
with open(os.path.join(stage, "keys", "bench-idp.jwks"), "w") as f:
    json.dump({"keys": [{"kty": "EC", "crv": "P-256", "x": b64u(point[1:33]), "y": b64u(point[33:]),
                         "kid": kid, "alg": "ES256", "use": "sig"}]}, f)

# An access token as an IdP issues them (RFC 9068), with the scopes and tenant the routes require.
now = int(time.time())
header = {"alg": "ES256", "kid": kid, "typ": "at+jwt"}
claims = {"iss": "https://idp.bench.example.com", "aud": host, "sub": "usr_0012345",
          "exp": now + 6 * 3600, "iat": now - 60, "nbf": now - 60, "jti": str(uuid.uuid4()),
          "client_id": "shop-mobile-ios", "azp": "shop-mobile-ios",
          "scope": "openid orders:read orders:write inventory:read profile:read payments:write",
          "tenant": "t-042", "auth_time": now - 300, "acr": "urn:example:loa:2"}
compact = lambda o: json.dumps(o, separators=(",", ":")).encode()
signing_input = (b64u(compact(header)) + "." + b64u(compact(claims))).encode()
der = openssl("dgst", "-sha256", "-sign", key, data=signing_input)

def der_int(b, i):   # an INTEGER of the DER ECDSA-Sig-Value: its value and the next offset
    assert b[i] == 2, "not a DER INTEGER"
    return int.from_bytes(b[i + 2:i + 2 + b[i + 1]], "big"), i + 2 + b[i + 1]

r, off = der_int(der, 3 if der[1] & 0x80 else 2)
s, _ = der_int(der, off)
token = signing_input.decode() + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
with open(os.path.join(stage, "token.jwt"), "w") as f:
    f.write(token + "\n")
print(json.dumps({"alg": "ES256", "kid": kid, "iss": claims["iss"], "token_bytes": len(token),
                  "claims_bytes": len(compact(claims)), "expires": claims["exp"]}))
PY
cp "$root/rules/bench-identity.conf" "$stage/"
id_policy=$stage/bench-identity.conf
# The same routes without identity, enforced too: against it, the identity runs differ by identity alone.
sed 's/^mode = "monitor";/mode = "enforce";/' "$policy" >"$stage/bench-anonymous.conf"
grep -q '^mode = "enforce";' "$stage/bench-anonymous.conf" || { echo "bench: cannot make $policy enforce" >&2; exit 1; }
anon_policy=$stage/bench-anonymous.conf
for p in "$id_policy" "$anon_policy"; do
	"$ztgatectl" validate "$p" >/dev/null || { echo "bench: staged policy $p does not validate:" >&2;
		"$ztgatectl" validate "$p" >&2 || true; exit 1; }
done
# No attacks: in enforce mode they would be denied and forward less.
id_pcap=$out_dir/api-traffic-identity-s$seed-n$sessions-b$body_size.pcap
id_describe=$id_pcap.json
"$trafgen" --output "$id_pcap" --sessions "$sessions" --seed "$seed" --body-size "$body_size" --malicious 0 \
	--bearer-file "$stage/token.jwt" --describe "$id_describe"
id_packets=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$id_describe")

# Signatures: one rule file per size, written by sig_compile_bench (its
# generator, fixed seed) and read back through the rule loader. 100: the
# first 100 request-side rules of the shipped ruleset (files in name order,
# rules on no response field), no generated one. 1,000 and 10,000: every
# shipped rule, then generated ones (literals and regexes over the request
# fields, request_body and response_body; none matches this benign traffic,
# which check_signatures verifies). leaks-cards and leaks-iban stay out.
# Each policy is the anonymous one above (enforce) with the file in
# `signatures` and a service-level `detect` selecting it, so 0 signatures is
# $anon_policy itself. Compiled once into a bundle: the 10,000-rule compile
# (tens of seconds) happens before ztgate's timed window anyway, but would
# be paid again at every start.
sig_sizes=(100 1000 10000)
shipped=()
for f in "$root"/rules/signatures/*.rules; do
	case ${f##*/} in
	leaks-cards.rules|leaks-iban.rules) ;;
	*) shipped+=(--shipped "$f") ;;
	esac
done
: >"$out_dir/sig-rulesets.jsonl"
echo "bench: signature rule sets of ${sig_sizes[*]} rules, compiled into bundles"
for n in "${sig_sizes[@]}"; do
	side=()
	[ "$n" -gt 100 ] || side=(--request-side)
	"$build/tests/bench/sig_compile_bench" --write "$stage/bench-sig-$n.rules" --name "bench-$n" --rules "$n" \
		"${shipped[@]}" "${side[@]}" >>"$out_dir/sig-rulesets.jsonl"
	sed -e "/^segments = (/i signatures = [ \"bench-sig-$n.rules\" ];\n" \
		-e "/^    segment = \"servers\";/a\    detect = { sets = [ \"bench-$n\" ]; threshold = 5; };" \
		"$anon_policy" >"$stage/bench-sig-$n.conf"
	[ "$(grep -c -e '^signatures = ' -e '^    detect = ' "$stage/bench-sig-$n.conf")" = 2 ] ||
		{ echo "bench: cannot add signatures and detect to $anon_policy" >&2; exit 1; }
	"$ztgatectl" --json compile "$stage/bench-sig-$n.conf" -o "$stage/bench-sig-$n.bundle" \
		>"$out_dir/sig-bundle-$n.json" ||
		{ echo "bench: ztgatectl compile of $stage/bench-sig-$n.conf failed" >&2; exit 1; }
done

# net_pcap with infinite_rx copies the whole file into mbufs at start.
mbufs=$((packets + 16384))
id_mbufs=$((id_packets + 16384))
mem_mb=$(( ((mbufs > id_mbufs ? mbufs : id_mbufs) * 2304 / 1048576) + 512 ))
if [ "$use_hugepages" = 1 ]; then
	read -r -a eal_mem <<< "$("$root/platform/hugepages.sh" "$mem_mb")"
else
	eal_mem=(--no-huge -m "$mem_mb")
fi
[ "${eal_mem[0]}" = "--no-huge" ] && use_hugepages=0

run_on() { # run_on PCAP MBUFS MODE-NAME [ztgate options...]
	local in=$1 nb=$2 name=$3; shift 3
	echo "bench: $name for ${seconds}s"
	"$ztgate" -l 0-1 "${eal_mem[@]}" --no-pci --file-prefix "ztg-bench-$$" --log-level=lib.eal:warning \
		--vdev "net_pcap0,rx_pcap=$in,infinite_rx=1" --vdev net_null1,no-rx=1 \
		-- -p 0:1 --mbufs "$nb" --duration "$seconds" \
		--stats-json "$out_dir/$name.stats.json" "$@" > "$out_dir/$name.log" 2>&1 ||
		{ echo "bench: ztgate ($name) failed:" >&2; tail -20 "$out_dir/$name.log" >&2; exit 1; }
}
run() { run_on "$pcap" "$mbufs" "$@"; }
run_id() { run_on "$id_pcap" "$id_mbufs" "$@"; }
# check_identity NAME CACHE: every request with the token was let through by
# its identity, none refused; with the cache on, nearly all were cache hits.
# A round whose token ztgate refused would measure the wrong thing: stop.
check_identity() {
	/usr/bin/python3 - "$out_dir/$1.stats.json" "$2" <<'PY' ||
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
cache = sys.argv[2] == "on"
ident, hits, ver = t["auth_identified"], t["auth_cache_hits"], t["auth_verifications"]
bad = []
if ident == 0:
    bad.append("no request was identified")
if ident + t["auth_anonymous"] != t["http_requests"]:
    bad.append("%d identified + %d anonymous of %d requests" % (ident, t["auth_anonymous"], t["http_requests"]))
for k in ("auth_denied", "policy_denied", "verdicts_deny", "verdicts_reset", "verdicts_drop", "http_violations"):
    if t[k]:
        bad.append("%s = %d" % (k, t[k]))
if cache and hits < 0.99 * ident:
    bad.append("cache hits %d of %d identified requests" % (hits, ident))
if not cache and (hits != 0 or ver < ident):
    bad.append("cache off, yet %d hits and %d verifications for %d requests" % (hits, ver, ident))
if bad:
    sys.exit("; ".join(bad))
PY
		{ echo "bench: identity round $1 is not what it claims to measure (see $out_dir/$1.log):" >&2;
		  /usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]
print({k: v for k, v in t.items() if k.startswith(("auth_", "policy_", "verdicts_", "http_"))})' \
			"$out_dir/$1.stats.json" >&2; exit 1; }
}
# check_signatures NAME RULES: the run denied nothing (a denied flow forwards
# less, so the runs would not forward the same packets) and, with RULES > 0,
# judged every request by its signatures: stop otherwise. A match that did
# not block is reported.
check_signatures() {
	/usr/bin/python3 - "$out_dir/$1.stats.json" "$2" <<'PY' ||
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
bad = ["%s = %d" % (k, t.get(k, 0)) for k in
       ("verdicts_deny", "verdicts_reset", "verdicts_drop", "policy_denied", "auth_denied", "http_violations",
        "signature_blocked", "signature_response_blocked") if t.get(k, 0)]
if sys.argv[2] != "0" and t["signature_scans"] < max(t["http_requests"], 1):
    bad.append("%d signature scans for %d requests" % (t["signature_scans"], t["http_requests"]))
if bad:
    sys.exit("; ".join(bad))
if t["signature_matches"] or t["signature_alerts"]:
    print("bench: warning: %d signature matches (%d alerts) in benign traffic, none blocking"
          % (t["signature_matches"], t["signature_alerts"]), file=sys.stderr)
PY
		{ echo "bench: signature run $1 is not what it claims to measure (see $out_dir/$1.log):" >&2;
		  /usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]
print({k: v for k, v in t.items() if k.startswith(("signature_", "policy_", "verdicts_", "http_"))})' \
			"$out_dir/$1.stats.json" >&2; exit 1; }
}
# run_audit NAME [options...]: the policy run with its events in a file (rotated at 100 MiB, one copy
# kept: at most 200 MiB a run), removed after it; the writer's own account of them (its "event log:"
# line at exit) stays in NAME.log.
run_audit() {
	local name=$1 events=$out_dir/audit-events.json
	shift
	rm -f "$events" "$events.1"
	run "$name" --policy "$policy" --event-log "$events" --event-log-max-bytes 100M --event-log-keep 1 "$@"
	rm -f "$events" "$events.1"
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
	# Rate limits (issue 8): the same policy with three limits on every request, none ever reached.
	run "ratelimit-$round" --policy "$ratelimit_policy"
	# Behaviour baselines (issue 8): the same policy watching every caller, source and route, never flagging.
	run "behaviour-$round" --policy "$behaviour_policy"
	# Audit events, back to back so that load drifts between them as little as it can.
	run_audit "audit-denies-$round"
	run_audit "audit-all-$round" --event-sample-allowed 1
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
	# Identity: the token-carrying traffic forwarded, judged without identity, with it (cache hot), cache off.
	run_id "identity-forward-only-$round" --forward-only
	run_id "identity-anonymous-$round" --policy "$anon_policy"
	run_id "identity-$round" --policy "$id_policy"
	check_identity "identity-$round" on
	run_id "identity-no-cache-$round" --policy "$id_policy" --token-cache 0
	check_identity "identity-no-cache-$round" off
	# Signatures on the same pcap: identity-forward-only is their baseline, identity-anonymous their 0 rules.
	check_signatures "identity-anonymous-$round" 0
	for n in "${sig_sizes[@]}"; do
		run_id "signatures-$n-$round" --policy "$stage/bench-sig-$n.bundle"
		check_signatures "signatures-$n-$round" "$n"
	done
done
# Not at 100 rules: they have no response_body rule, so the raw scan would cover the request bytes only.
echo "bench: raw Hyperscan over the signature runs' payload bytes at 1,000 and 10,000 rules"
: >"$out_dir/hs_scan.jsonl"
for n in 1000 10000; do
	"$build/tests/bench/hs_scan_bench" --rules "$stage/bench-sig-$n.rules" --pcap "$id_pcap" --rounds 5 \
		>>"$out_dir/hs_scan.jsonl"
done
echo "bench: route matcher at 10, 1,000 and 10,000 routes"
"$build/tests/bench/route_match_bench" --rounds 5 >"$out_dir/route_match.json"
echo "bench: signature compile at 1,000 and 10,000 rules"
"$build/tests/bench/sig_compile_bench" >"$out_dir/sig_compile.jsonl"

# JWT verification per algorithm against `openssl speed` for the same
# primitive, in this run, each primitive's algorithms right before its openssl
# run so that load drifts between them as little as it can: RSA-2048 verify
# for RS* and PS* (openssl times PKCS#1 only), ECDSA P-256/384/521 verify,
# Ed25519 verify, HMAC over a block as long as the tokens' signing input
# (every jwt_bench token has the same). -mr gives lines to parse; a failing
# openssl run is recorded with its reason and does not stop the bench.
echo "bench: JWT verification per algorithm, each followed by openssl speed of its primitive"
jwt_bench=$build/tests/bench/jwt_bench
"$jwt_bench" --rounds 5 --seconds 0.5 --alg parse_only >"$out_dir/jwt_verify.jsonl"
hmac_bytes=$(/usr/bin/python3 -c 'import json,sys
print(json.loads(open(sys.argv[1]).readline())["signing_input_bytes"])' "$out_dir/jwt_verify.jsonl")
for group in rsa2048:RS256,RS384,RS512,PS256,PS384,PS512 ecdsap256:ES256 ecdsap384:ES384 ecdsap521:ES512 \
	ed25519:EdDSA hmac-sha256:HS256 hmac-sha384:HS384 hmac-sha512:HS512; do
	prim=${group%%:*}
	"$jwt_bench" --rounds 5 --seconds 0.5 --alg "${group#*:}" >>"$out_dir/jwt_verify.jsonl"
	case $prim in
	hmac-*) args=(-bytes "$hmac_bytes" -hmac "${prim#hmac-}") ;;
	*) args=("$prim") ;;
	esac
	echo "openssl speed -mr -seconds 1 ${args[*]}" >"$out_dir/openssl-$prim.cmd"
	openssl speed -mr -seconds 1 "${args[@]}" >"$out_dir/openssl-$prim.txt" 2>&1 ||
		echo "exit status $?" >>"$out_dir/openssl-$prim.txt"
done

[ -n "$report" ] || report=$out_dir/bench-$(date +%Y%m%d-%H%M%S).json
/usr/bin/python3 - "$out_dir" "$describe" "$report" "$seconds" "$rounds" "$use_hugepages" \
	"$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$id_describe" "$hmac_bytes" <<'PY'
import json, os, platform, re, statistics, sys

out_dir, describe, report, seconds, rounds, huge, commit, id_describe, hmac_bytes = sys.argv[1:]
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
sig_compile = [json.loads(l) for l in open(os.path.join(out_dir, "sig_compile.jsonl")) if l.strip()]

# Identity on the token-carrying pcap. Requests per second come from the pcap
# (replayed packets times its requests per packet), so forward-only, which
# parses nothing, is counted like the rest; ztgate's own count is kept beside.
id_pcap = json.load(open(id_describe))
main_pcap = json.load(open(describe))
req_per_pkt = id_pcap["requests"] / id_pcap["packets"]
AUTH = ("http_requests", "auth_identified", "auth_anonymous", "auth_denied", "auth_verifications",
        "auth_cache_hits", "policy_allowed", "policy_denied")

def id_figures(name):
    f = figures(name)
    s = json.load(open(os.path.join(out_dir, name + ".stats.json")))
    t, d = s["totals"], s["duration_seconds"]
    f["requests_per_s"] = round(t["rx_packets"] * req_per_pkt / d)
    f["http_requests_per_s"] = round(t["http_requests"] / d)
    f["auth"] = {k: t[k] for k in AUTH}
    if t["auth_identified"]:
        f["auth"]["cache_hit_ratio"] = round(t["auth_cache_hits"] / t["auth_identified"], 5)
    return f

def id_median(runs):
    m = median_of(runs)
    m["requests_per_s"] = round(statistics.median(r["requests_per_s"] for r in runs))
    return m

id_runs = {k: [id_figures("identity-%s%d" % (p, i)) for i in range(1, rounds + 1)]
           for k, p in (("forward", "forward-only-"), ("anonymous", "anonymous-"), ("hot", ""),
                        ("off", "no-cache-"))}
idm = {k: id_median(v) for k, v in id_runs.items()}
tsc_hz = json.load(open(os.path.join(out_dir, "identity-1.stats.json")))["tsc_hz"]
pkts_per_req = 1 / req_per_pkt
policy_rps = pol["mpps"] * 1e6 * main_pcap["requests"] / main_pcap["packets"]
extra_verify_cycles = (idm["off"]["cycles_per_packet"] - idm["hot"]["cycles_per_packet"]) * pkts_per_req
identity = {
    "what": "the same API traffic with one valid ES256 token in every request but the probes' (no attacks), "
            "forwarded, judged by rules/bench.conf made enforce (every route anonymous), and by "
            "rules/bench-identity.conf (enforce, ES256 issuer, scopes) with the token cache on and off",
    "token": json.load(open(os.path.join(out_dir, "identity-token.json"))),
    "pcap": {k: id_pcap[k] for k in ("file", "packets", "requests", "sessions", "avg_packet_size")},
    "forward_only": {"median": idm["forward"], "runs": id_runs["forward"]},
    "policy_without_identity": {"median": idm["anonymous"], "runs": id_runs["anonymous"]},
    "identity_cache_hot": {"median": idm["hot"], "runs": id_runs["hot"]},
    "identity_cache_off": {"median": idm["off"], "runs": id_runs["off"], "option": "--token-cache 0"},
    "ratio": {
        "rps_identity_over_forward": round(idm["hot"]["requests_per_s"] / idm["forward"]["requests_per_s"], 3),
        "rps_identity_over_forward_per_round": [round(h["requests_per_s"] / f["requests_per_s"], 3)
                                                for h, f in zip(id_runs["hot"], id_runs["forward"])],
        "rps_identity_over_policy_without_identity":
            round(idm["hot"]["requests_per_s"] / idm["anonymous"]["requests_per_s"], 3),
        "identity_extra_cycles_per_request":
            round((idm["hot"]["cycles_per_packet"] - idm["anonymous"]["cycles_per_packet"]) * pkts_per_req),
        "rps_cache_off_over_cache_hot": round(idm["off"]["requests_per_s"] / idm["hot"]["requests_per_s"], 3),
        "cache_off_extra_cycles_per_request": round(extra_verify_cycles),
        "cache_off_extra_us_per_request": round(extra_verify_cycles / tsc_hz * 1e6, 2),
        # Another pcap (random unverifiable tokens, 2% attacks, monitor mode): indicative only.
        "rps_identity_over_policy_round_other_pcap": round(idm["hot"]["requests_per_s"] / policy_rps, 3),
    },
}

# Signatures on the identity pcap (no attacks): judged by the anonymous
# enforce policy with no rules (its identity-anonymous runs) and with 100,
# 1,000 and 10,000; every ratio is taken against the forward-only run of the
# same round, then the median over rounds. Requests/s and bytes/s over
# forwarding coincide (every run forwards the same packets): both are kept.
#
# Cost per payload byte, from each run's stats JSON: worker time is
# totals.busy_cycles / tsc_hz (TSC cycles from each receive burst that
# brought packets to the end of its transmit, summed over workers: receive,
# decode, flow tracking, reassembly, HTTP parsing, policy, signatures,
# transmit; idle polls are not counted); payload bytes are totals.rx_packets
# times the pcap's tcp_payload_bytes / packets (net_pcap replays the whole
# pcap over and over, so its average holds). hs_scan_bench times plain
# Hyperscan streaming over the same pcap's TCP payload bytes with the same
# rule file's request_body and response_body databases, compiled by the
# same compiler. pipeline_over_hs_scan_per_byte = the first over the second:
# how many raw Hyperscan passes over its traffic the whole appliance costs.
# What exceeds 1 is everything ztgate does besides one pass (the packet
# path, HTTP, policy, and scanning bytes again as other fields: a decoded
# query as query and as each argument, each header line); a figure below 1
# means ztgate scans less than every payload byte (body_bytes_scanned says
# how much of the bodies it did). signature_stage_over_hs_scan_per_byte
# charges only what detection adds: the n-rule run's ns per byte less the
# 0-rule run's, in raw passes.
sig_sets = [json.loads(l) for l in open(os.path.join(out_dir, "sig-rulesets.jsonl")) if l.strip()]
for rs in sig_sets:   # ztgatectl compile's account of the bundle (itself removed at exit)
    rs["bundle"] = {k: v for k, v in json.load(open(os.path.join(out_dir, "sig-bundle-%d.json" % rs["rules"]))).items()
                    if k != "bundle"}
sig_sizes = [0] + [rs["rules"] for rs in sig_sets]
hs_scan = {h["rules"]: h for h in (json.loads(l) for l in open(os.path.join(out_dir, "hs_scan.jsonl")) if l.strip())}
payload_per_packet = id_pcap["tcp_payload_bytes"] / id_pcap["packets"]
SIG_KEYS = ("requests_per_s", "bytes_per_s", "mpps", "gbps", "cycles_per_packet", "ns_per_payload_byte")

def sig_figures(name):
    f = id_figures(name)
    s = json.load(open(os.path.join(out_dir, name + ".stats.json")))
    t = s["totals"]
    f["bytes_per_s"] = round(t["rx_bytes"] / s["duration_seconds"])
    f["ns_per_payload_byte"] = round(t["busy_cycles"] / s["tsc_hz"] * 1e9 / (t["rx_packets"] * payload_per_packet), 4)
    f["signatures"] = {k: v for k, v in t.items() if k.startswith("signature_")}
    return f

def sig_median(runs):
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in SIG_KEYS}

sig_fwd = [sig_figures("identity-forward-only-%d" % i) for i in range(1, rounds + 1)]
sig_runs = {n: [sig_figures("identity-anonymous-%d" % i if n == 0 else "signatures-%d-%d" % (n, i))
                for i in range(1, rounds + 1)] for n in sig_sizes}
sigm = {n: sig_median(v) for n, v in sig_runs.items()}
sig_fwd_median = sig_median(sig_fwd)

def over_forward(key, n):
    per_round = [r[key] / f[key] for r, f in zip(sig_runs[n], sig_fwd)]
    return round(statistics.median(per_round), 3), [round(x, 3) for x in per_round]

def per_hs_byte(n, ns):   # ns per payload byte in raw hs_scan passes, where hs_scan covered every payload byte
    h = hs_scan.get(n)
    return round(ns / h["ns_per_byte"], 2) if h and h["bytes_scanned"] == id_pcap["tcp_payload_bytes"] else None

signatures = {
    "what": "the identity section's pcap (no attacks) judged by rules/bench.conf made enforce (0 rules: its "
            "identity-anonymous runs) and by the same with signatures = [ file ] and the service's "
            "detect = { sets = [ file's set ]; threshold = 5; }, each compiled once into a bundle; every run "
            "checked: no request denied, every request scanned",
    "rule_sets": sig_sets,
    "forward_only": {"median": sig_fwd_median, "runs": sig_fwd},
    "runs": {str(n): {"median": sigm[n], "runs": sig_runs[n]} for n in sig_sizes},
    "hs_scan": [hs_scan[n] for n in sorted(hs_scan)],
    "cost_per_byte": "ns_per_payload_byte = totals.busy_cycles / tsc_hz * 1e9 / (totals.rx_packets * "
                     "pcap tcp_payload_bytes / pcap packets); hs_scan ns_per_byte: hs_scan_bench, plain Hyperscan "
                     "streams over the same pcap's TCP payload bytes with the rule file's body databases",
    "ratio": {
        "rps_over_forward": {str(n): over_forward("requests_per_s", n)[0] for n in sig_sizes},
        "rps_over_forward_per_round": {str(n): over_forward("requests_per_s", n)[1] for n in sig_sizes},
        "bytes_per_s_over_forward": {str(n): over_forward("bytes_per_s", n)[0] for n in sig_sizes},
        "rps_over_no_signatures": {str(n): round(sigm[n]["requests_per_s"] / sigm[0]["requests_per_s"], 3)
                                   for n in sig_sizes[1:]},
        "ns_per_payload_byte": dict([("forward_only", sig_fwd_median["ns_per_payload_byte"])] +
                                    [(str(n), sigm[n]["ns_per_payload_byte"]) for n in sig_sizes]),
        "hs_scan_ns_per_byte": {str(n): hs_scan[n]["ns_per_byte"] for n in sorted(hs_scan)},
        "pipeline_over_hs_scan_per_byte": {str(n): per_hs_byte(n, sigm[n]["ns_per_payload_byte"])
                                           for n in sorted(hs_scan)},
        "signature_stage_over_hs_scan_per_byte":
            {str(n): per_hs_byte(n, sigm[n]["ns_per_payload_byte"] - sigm[0]["ns_per_payload_byte"])
             for n in sorted(hs_scan)},
        "body_bytes_scanned_per_payload_byte":
            {str(n): round(statistics.median(r["signatures"].get("signature_body_bytes", 0) /
                                             (r["rx_packets"] * payload_per_packet) for r in sig_runs[n]), 4)
             for n in sig_sizes[1:]},
    },
}

# Audit events: the main pcap judged by rules/bench.conf (monitor mode, so both runs forward the
# same packets), its events in a file: denies only (the default: what the policy would refuse,
# i.e. the generated attacks) and every request (--event-sample-allowed 1: the allowed ones too).
# Requests/s from the pcap's requests per packet, as in the identity section. Every event is either
# written by the event writer (its "event log: N events, M lines written" line at exit) or counted
# in events_dropped (the ring was full: the writer did not keep up), so the logged fraction says
# whether the ratio measured logging everything or dropping part of it.
main_req_per_pkt = main_pcap["requests"] / main_pcap["packets"]

def audit_figures(name):
    f = figures(name)
    s = json.load(open(os.path.join(out_dir, name + ".stats.json")))
    t, d = s["totals"], s["duration_seconds"]
    m = re.search(r"event log: (\d+) events, (\d+) lines written", open(os.path.join(out_dir, name + ".log")).read())
    written = int(m.group(2)) if m else 0
    f["requests_per_s"] = round(t["rx_packets"] * main_req_per_pkt / d)
    f["events_written"] = written
    f["events_dropped"] = t["events_dropped"]
    f["events_written_per_s"] = round(written / d)
    f["events_logged_fraction"] = round(written / (written + t["events_dropped"]), 4) if written else None
    return f

audit_runs = {k: [audit_figures("audit-%s-%d" % (k, i)) for i in range(1, rounds + 1)] for k in ("denies", "all")}
audit_median = {k: dict(median_of(v), requests_per_s=round(statistics.median(r["requests_per_s"] for r in v)),
                        events_written_per_s=round(statistics.median(r["events_written_per_s"] for r in v)))
                for k, v in audit_runs.items()}
audit_per_round = [round(a["requests_per_s"] / d["requests_per_s"], 3)
                   for d, a in zip(audit_runs["denies"], audit_runs["all"])]
audit = {
    "what": "rules/bench.conf (monitor) on the main pcap, events to a file rotated at 100 MiB: denies only "
            "(the default) and every request (--event-sample-allowed 1); each ratio is taken within a round",
    "denies_only": {"median": audit_median["denies"], "runs": audit_runs["denies"]},
    "every_request": {"median": audit_median["all"], "runs": audit_runs["all"],
                      "option": "--event-sample-allowed 1"},
    "ratio": {
        "rps_every_request_over_denies_only": round(statistics.median(audit_per_round), 3),
        "rps_every_request_over_denies_only_per_round": audit_per_round,
        "every_request_events_logged_fraction": [r["events_logged_fraction"] for r in audit_runs["all"]],
    },
}

# Rate limits: rules/bench-ratelimit.conf (bench.conf with three limits per request: by caller, by
# client network, one for the whole service that every worker shares) against bench.conf, in the same
# round. The limits sit far above the traffic, so nothing may be refused: the figure is counting alone.
rl_runs = [figures("ratelimit-%d" % i) for i in range(1, rounds + 1)]
for i in range(1, rounds + 1):
    refused = json.load(open(os.path.join(out_dir, "ratelimit-%d.stats.json" % i)))["totals"]["rate_limited"]
    if refused:
        sys.exit("bench: ratelimit-%d refused %d requests: it must measure counting only" % (i, refused))
rl = median_of(rl_runs)
rl_per_round = [round(r["mpps"] / p["mpps"], 3) for p, r in zip(policy_runs, rl_runs)]
rate_limits = {
    "what": "rules/bench-ratelimit.conf (bench.conf plus 3 rate limits per request, never reached) against "
            "rules/bench.conf, each ratio taken within a round",
    "median": rl, "runs": rl_runs,
    "ratio": {
        "mpps_rate_limited_over_policy": round(statistics.median(rl_per_round), 3),
        "mpps_rate_limited_over_policy_per_round": rl_per_round,
        "extra_cycles_per_packet": round(statistics.median(r["cycles_per_packet"] - p["cycles_per_packet"]
                                                           for p, r in zip(policy_runs, rl_runs)), 1),
    },
}

# Behaviour: rules/bench-behaviour.conf (bench.conf watching every request's source, route and their
# baselines) against bench.conf, in the same round. Floors and limits sit far above the traffic: nothing
# may be flagged, so the figure is the cost of the windows, sketches and baselines alone.
bh_runs = [figures("behaviour-%d" % i) for i in range(1, rounds + 1)]
for i in range(1, rounds + 1):
    t = json.load(open(os.path.join(out_dir, "behaviour-%d.stats.json" % i)))["totals"]
    if t["behaviour_anomalies"] or t["behaviour_signals"]:
        sys.exit("bench: behaviour-%d flagged %d anomalies and %d signals: it must measure watching only"
                 % (i, t["behaviour_anomalies"], t["behaviour_signals"]))
bh = median_of(bh_runs)
bh_per_round = [round(r["mpps"] / p["mpps"], 3) for p, r in zip(policy_runs, bh_runs)]
behaviour = {
    "what": "rules/bench-behaviour.conf (bench.conf plus behaviour baselines per source and route, never flagged) "
            "against rules/bench.conf, each ratio taken within a round",
    "median": bh, "runs": bh_runs,
    "ratio": {
        "mpps_behaviour_over_policy": round(statistics.median(bh_per_round), 3),
        "mpps_behaviour_over_policy_per_round": bh_per_round,
        "extra_cycles_per_packet": round(statistics.median(r["cycles_per_packet"] - p["cycles_per_packet"]
                                                           for p, r in zip(policy_runs, bh_runs)), 1),
    },
}

# JWT verification against openssl speed, both per CPU second.
jwt_lines = [json.loads(l) for l in open(os.path.join(out_dir, "jwt_verify.jsonl")) if l.strip()]
# Which -mr line and field holds the verify rate (HMAC: bytes per second of the -bytes block).
SPEED = {"rsa2048": ("+F2:", 4), "ecdsap256": ("+F4:", 4), "ecdsap384": ("+F4:", 4), "ecdsap521": ("+F4:", 4),
         "ed25519": ("+F6:", 5), "hmac-sha256": ("+F:", 3), "hmac-sha384": ("+F:", 3), "hmac-sha512": ("+F:", 3)}

def openssl_rate(prim):
    base = os.path.join(out_dir, "openssl-" + prim)
    cmd = open(base + ".cmd").read().strip() if os.path.exists(base + ".cmd") else None
    try:
        text = open(base + ".txt").read()
    except OSError as e:
        return None, cmd, "not run: %s" % e
    prefix, field = SPEED[prim]
    for line in text.splitlines():
        if line.startswith(prefix):
            try:
                v = float(line.split(":")[field])
            except (IndexError, ValueError):
                break
            return (v / int(hmac_bytes) if prim.startswith("hmac-") else v), cmd, None
    return None, cmd, "no %s line in its output: %s" % (prefix, text.strip().splitlines()[-1:] or "empty")

algs = []
for j in jwt_lines:
    if j["alg"] == "parse_only":
        continue
    rate, cmd, why = openssl_rate(j["primitive"])
    entry = {"alg": j["alg"], "ztgate_verify_per_s": j["verify_per_s"],
             "openssl_verify_per_s": round(rate) if rate else None,
             "ratio": round(j["verify_per_s"] / rate, 3) if rate else None,
             "openssl": cmd, "ns_per_verify": j["ns_per_verify"], "token_bytes": j["token_bytes"],
             "signing_input_bytes": j["signing_input_bytes"]}
    if why:
        entry["openssl_error"] = why
    algs.append(entry)
jwt_verify = {
    "what": "ztg_jwt_verify on one realistic token per algorithm (no cache) vs `openssl speed` of the primitive, "
            "in this run; both per CPU second (jwt_bench: thread CPU time; openssl speed: user CPU time). "
            "openssl times RSA PKCS#1 only (PS* compare with it too), ECDSA/Ed25519 on a short digest or message, "
            "HMAC with a fixed key on a block of the signing input's length",
    "algorithms": algs,
    "parse_only": next((j for j in jwt_lines if j["alg"] == "parse_only"), None),
    "jwt_bench": jwt_lines,
}

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
    "sig_compile": sig_compile,
    "identity": identity,
    "signatures": signatures,
    "audit_events": audit,
    "rate_limits": rate_limits,
    "behaviour": behaviour,
    "jwt_verify": jwt_verify,
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
        "signatures_rps_over_forward_0_100_1000_10000": list(signatures["ratio"]["rps_over_forward"].values()),
        "signatures_pipeline_over_hs_scan_per_byte_1000":
            signatures["ratio"]["pipeline_over_hs_scan_per_byte"].get("1000"),
        "audit_every_request_rps_over_denies_only": audit["ratio"]["rps_every_request_over_denies_only"],
        "rate_limits_mpps_over_policy": rate_limits["ratio"]["mpps_rate_limited_over_policy"],
        "behaviour_mpps_over_policy": behaviour["ratio"]["mpps_behaviour_over_policy"],
    },
}
with open(report, "w") as f:
    json.dump(result, f, indent=2)
print(json.dumps({"baseline": base, "inspect": full, "policy": pol, "policy_with_status_loop": status,
                  "policy_with_swaps": swap,
                  "applies": applies, "grace_period_us": result["policy_with_swaps"]["grace_period_us"],
                  "ratio": result["ratio"],
                  "identity": {"requests_per_s": {k: v["requests_per_s"] for k, v in idm.items()},
                               "cycles_per_packet": {k: v["cycles_per_packet"] for k, v in idm.items()},
                               "auth_cache_hot_run_1": id_runs["hot"][0]["auth"],
                               "auth_cache_off_run_1": id_runs["off"][0]["auth"],
                               "ratio": identity["ratio"]},
                  "jwt_verify": [{k: a[k] for k in ("alg", "ztgate_verify_per_s", "openssl_verify_per_s", "ratio")}
                                 for a in algs] + [{"parse_only_ns": jwt_verify["parse_only"]["ns_per_verify"]}],
                  "sig_compile": [{k: s[k] for k in ("rules", "compile_seconds", "bytes")} for s in sig_compile],
                  "signatures": {"requests_per_s": dict([("forward_only", sig_fwd_median["requests_per_s"])] +
                                                        [(str(n), sigm[n]["requests_per_s"]) for n in sig_sizes]),
                                 "ratio": signatures["ratio"]}},
                 indent=2))
sr = signatures["ratio"]
print("bench: signatures: requests/s over forwarding %s; full pipeline per payload byte %s x raw hs_scan at 1,000 rules"
      % (", ".join("%s rules %s" % ("{:,}".format(n), sr["rps_over_forward"][str(n)]) for n in sig_sizes),
         sr["pipeline_over_hs_scan_per_byte"].get("1000")))
print("bench: audit events: every request logged %s x the requests/s of denies only (%s requests/s, %s events/s "
      "written, fraction logged %s)" % (audit["ratio"]["rps_every_request_over_denies_only"],
                                        "{:,}".format(audit_median["all"]["requests_per_s"]),
                                        "{:,}".format(audit_median["all"]["events_written_per_s"]),
                                        audit["ratio"]["every_request_events_logged_fraction"]))
print("bench: rate limits: 3 per request cost %s x the packets/s of the same policy without them (%+.1f cycles "
      "per packet)" % (rate_limits["ratio"]["mpps_rate_limited_over_policy"],
                       rate_limits["ratio"]["extra_cycles_per_packet"]))
print("bench: behaviour: baselines per source and route cost %s x the packets/s of the same policy without "
      "them (%+.1f cycles per packet)" % (behaviour["ratio"]["mpps_behaviour_over_policy"],
                                          behaviour["ratio"]["extra_cycles_per_packet"]))
print("bench: report written to", report)
PY
