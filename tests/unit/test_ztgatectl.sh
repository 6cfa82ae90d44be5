#!/bin/bash
# ztgatectl's offline commands (validate, show), its usage errors, exit
# statuses and JSON output, over the policy loader's fixtures.
#   test_ztgatectl.sh ZTGATECTL SOURCE_ROOT
# Prints TAP (`ok N - ...`, the plan last); exits 0 when every check passed.
# ZTG_TEST_WRAPPER runs each ztgatectl under a tool, e.g.
#   ZTG_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99"
# (any exit status the check does not expect then fails it).
set -uo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 ZTGATECTL SOURCE_ROOT" >&2
	exit 2
fi
for tool in jq; do
	command -v "$tool" >/dev/null || { echo "$tool not installed (apt-get install $tool)" >&2; exit 1; }
done

read -r -a wrapper <<< "${ZTG_TEST_WRAPPER:-}"
ctl=("${wrapper[@]}" "$1")
fixtures=$2/tests/unit/policy
example=$2/rules/policy.example.conf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

n=0
failed=0

# run ARGS...: runs ztgatectl, leaving $rc, $work/out and $work/err.
run() {
	"${ctl[@]}" "$@" > "$work/out" 2> "$work/err"
	rc=$?
}

pass() { n=$((n + 1)); echo "ok $n - $1"; }

# fail NAME WHY: reports the last run's output too.
fail() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	echo "#   $2"
	echo "#   command exit status: $rc; stdout:"
	sed 's/^/#     /' "$work/out"
	echo "#   stderr:"
	sed 's/^/#     /' "$work/err"
}

# check NAME EXPECTED-STATUS [--out LINE]... [--err LINE]... [--jq EXPR]...
# Judges the last run: its exit status, whole lines it printed on stdout or
# stderr, and jq expressions that must be true of its stdout, which must be
# exactly one JSON document.
check() {
	local name=$1 want=$2
	shift 2
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "expected exit status $want, got $rc"
		return
	fi
	while [ $# -gt 0 ]; do
		case $1 in
		--out | --err)
			if ! grep -qxF -- "$2" "$work/${1#--}"; then
				fail "$name" "std${1#--} lacks the line: $2"
				return
			fi ;;
		--out-prefix)
			if ! grep -q "^$(printf '%s' "$2" | sed 's/[][\.*^$/]/\\&/g')" "$work/out"; then
				fail "$name" "no stdout line starts with: $2"
				return
			fi ;;
		--jq)
			if ! jq -e --slurp "length == 1 and (.[0] | $2)" "$work/out" > /dev/null 2>&1; then
				fail "$name" "stdout is not one JSON document, or this is not true of it: $2"
				return
			fi ;;
		*)
			echo "check: unknown argument $1" >&2
			exit 2 ;;
		esac
		shift 2
	done
	pass "$name"
}

# ---------------------------------------------------------------- validate

run validate "$example"
check "validate of the example policy exits 0 with its summary" 0 \
	--out "$example: policy \"lab-default\" valid: 3 segments, 2 services, 9 routes, 2 access entries"

run validate "$fixtures/missing_key.conf"
check "validate of a policy with errors exits 1 and prints each at its file:line" 1 \
	--out-prefix "$fixtures/missing_key.conf:7: error: services[0]: missing required key \"ports\"" \
	--out-prefix "$fixtures/missing_key.conf:11: error: services[0].routes[0]: missing required key \"methods\"" \
	--out "$fixtures/missing_key.conf: 3 errors, 1 warning"

run validate "$fixtures/include_error.conf"
check "an error in an included file names that file and its line" 1 \
	--out-prefix "$fixtures/include_error_routes.conf:3: error: services[0].routes[1].methods[0]: unknown method \"GETT\"" \
	--out "$fixtures/include_error.conf: 1 error, 0 warnings"

run validate "$fixtures/syntax_error.conf"
check "a syntax error exits 1 at its line" 1 --out-prefix "$fixtures/syntax_error.conf:5: error: "

run validate "$work/no-such.conf"
check "an unreadable policy file is a negative answer (1), not a usage error" 1 \
	--out-prefix "$work/no-such.conf: error: "

run validate "$fixtures/warnings.conf"
check "warnings alone do not fail validate" 0 \
	--out-prefix "$fixtures/warnings.conf:7: warning: segments[2]: " \
	--out "$fixtures/warnings.conf: policy \"warnings\" valid: 3 segments, 3 services, 2 routes, 1 access entry (4 warnings)"

run validate --strict "$fixtures/warnings.conf"
check "validate --strict fails on warnings" 1 \
	--out "$fixtures/warnings.conf: 0 errors, 4 warnings (warnings fail under --strict)"

run validate --strict "$fixtures/include_ok.conf"
check "validate --strict passes a policy without warnings" 0 \
	--out "$fixtures/include_ok.conf: policy \"include-ok\" valid: 2 segments, 1 service, 2 routes, 1 access entry"

# ------------------------------------------------------------ validate --json

run --json validate "$fixtures/warnings.conf"
check "validate --json (global) of a policy with warnings" 0 \
	--jq '.file == "'"$fixtures"'/warnings.conf" and .valid == true and .strict == false' \
	--jq '.errors == 0 and .warnings == 4 and .dropped == 0 and (.diagnostics | length) == 4' \
	--jq '.diagnostics | any(.severity == "warning" and .line == 7 and (.message | startswith("segments[2]: ")))' \
	--jq '.policy == {name: "warnings", version: 1, mode: "monitor", segments: 3, services: 3, routes: 2, access: 1}'

run validate "$fixtures/missing_key.conf" --json
check "validate FILE --json of a policy with errors exits 1" 1 \
	--jq '.valid == false and .errors == 3 and .warnings == 1 and .policy == null' \
	--jq '.diagnostics | any(.severity == "error" and .file == "'"$fixtures"'/missing_key.conf" and .line == 11)'

run validate --strict --json "$fixtures/warnings.conf"
check "validate --strict --json says invalid and keeps the policy summary" 1 \
	--jq '.valid == false and .strict == true and .warnings == 4 and .policy.name == "warnings"'

# A file name with a quote, a backslash, a tab, a control byte, a byte that
# is not UTF-8 and a multibyte character must come back as the same text.
odd=$work/$'q"b\\t\tc\001x\xffy\xc3\xa9.conf'
cp "$fixtures/include_error.conf" "$fixtures/include_error_routes.conf" "$work/"
mv "$work/include_error.conf" "$odd"
run --json validate "$odd"
check "JSON strings are escaped: quote, backslash, control characters, invalid UTF-8" 1 \
	--jq '.file == "'"$work"'/q\"b\\t\tc\u0001x\ufffdy\u00e9.conf"' \
	--jq '.diagnostics[0].file == "'"$work"'/include_error_routes.conf" and .diagnostics[0].line == 3'

# -------------------------------------------------------------------- show

# Lines of the example's elements, so editing its comments does not break these checks.
line_of() { grep -n -m1 -F "$1" "$example" | cut -d: -f1; }
l_clients=$(line_of '{ name = "clients";')
l_admins=$(line_of '{ from = "admins";')
l_get_order=$(line_of '{ name = "get-order";')
l_static=$(line_of '{ name = "static";')

run show "$example"
check "show prints the policy, segments with CIDRs and the access matrix" 0 \
	--out "policy lab-default  (version 1, $example)" \
	--out "  defaults  action deny, non_http drop, unknown_host deny" \
	--out "  clients  198.18.0.0/24, 2001:db8::/64  ($example:$l_clients)" \
	--out "  addresses  198.18.1.2/32, 2001:db8:1::2/128" \
	--out "  admins   -> shop-api, inventory  ($example:$l_admins)"
if grep -qE "^ +get-order +GET,HEAD +/api/v1/orders/\{id\} +allow +enforce +$example:$l_get_order$" "$work/out" &&
   grep -qE "^ +static +ANY +/static/\* +allow +monitor +$example:$l_static$" "$work/out"; then
	pass "show lists each route: name, methods, path, action, mode, file:line"
else
	fail "show lists each route: name, methods, path, action, mode, file:line" "no route row for get-order or static"
fi

if grep -qxF "      who: an identity with scopes orders:read; binds {tenant}=tenant" "$work/out" &&
   grep -qxF "  credentials tokens of shop-idp in authorization (Bearer); API keys in x-api-key" "$work/out" &&
   grep -qxF "  shop-idp  iss https://idp.shop.test  ($example:$(line_of '{ name = "shop-idp";'))" "$work/out"; then
	pass "show lists issuers, a service's credentials and who may use each allow route"
else
	fail "show lists issuers, a service's credentials and who may use each allow route" "no issuer, credentials or who line"
fi

sigpolicy=${fixtures%/unit/policy}/pipeline/signatures/policy.conf
run show "$sigpolicy"
check "show lists the signature sets and which ones each service and route matches" 0 \
	--out "  pipeline  7 rules from pipeline.rules  ($sigpolicy:7)" \
	--out "  signatures pipeline; threshold 5; bodies scanned to 1048576 (request), 1048576 (response) bytes; enforce" \
	--out "      signatures pipeline; threshold 5; bodies scanned to 1048576 (request), 1048576 (response) bytes; monitor" \
	--out "      signatures none; threshold 5; bodies scanned to 1048576 (request), 1048576 (response) bytes; enforce"

run --json compile "$sigpolicy" -o "$work/q\"x.bundle"
check "compile --json counts route matchers and signature databases apart, and escapes the bundle's name" 0 \
	--jq '.bundle == "'"$work"'/q\"x.bundle" and .policy == "pipeline-signatures"' \
	--jq '.compiled_route_matchers == 1 and .compiled_signature_databases == 7'

run show "$fixtures/include_ok.conf"
check "show gives an included route the included file's line" 0 \
	--out-prefix "    purge  DELETE   /items/{sku}  drop    enforce  $fixtures/include_ok_routes.conf:2"

l_behaviour=$(line_of 'behaviour = {')
run show "$example"
check "show prints the behaviour section under the defaults" 0 \
	--out "  behaviour: enforce, window 10 s, baseline over 6 windows, factor 10" \
	--out "    floors per window: requests 100, errors 20, objects 50, bytes 10485760" \
	--out "    signals per window: auth_failures 20, token_sources 5, source_identities 10" \
	--out "    risk: threshold 100, half-life 60 s, quarantine 300 s; weights anomaly 100, auth_failures 100, token_sources 100, source_identities 100"

run show "$fixtures/behaviour_ok.conf"
check "show says off for a signal at 0, until deleted for quarantine 0, and floating values as written" 0 \
	--out "  behaviour: monitor, window 30 s, baseline over 12 windows, factor 2.5" \
	--out "    signals per window: auth_failures off, token_sources 3, source_identities 4000000000" \
	--out "    risk: threshold 250.5, half-life 120 s, quarantine until deleted; weights anomaly 50.5, auth_failures 0, token_sources 0, source_identities 1000"

run show --json "$fixtures/behaviour_ok.conf"
check "show --json prints every behaviour field, 64-bit floors and fractions exactly" 0 \
	--jq '.policy.behaviour | .mode == "monitor" and .window == 30 and .history == 12 and .factor == 2.5' \
	--jq '.policy.behaviour.floors == {requests: 0, errors: 5, objects: 64, bytes: 10000000000}' \
	--jq '.policy.behaviour.signals == {auth_failures: 0, token_sources: 3, source_identities: 4000000000}' \
	--jq '.policy.behaviour.risk == {threshold: 250.5, half_life: 120, quarantine: 0, weights: {anomaly: 50.5, auth_failures: 0, token_sources: 0, source_identities: 1000}}' \
	--jq '.policy.behaviour | .file == "'"$fixtures"'/behaviour_ok.conf" and .line == 9'

run show --json "$fixtures/include_ok.conf"
check "show --json gives behaviour null when the policy has none" 0 --jq '.policy | has("behaviour") and .behaviour == null'

run show "$fixtures/include_ok.conf"
if [ "$rc" -eq 0 ] && ! grep -q "behaviour" "$work/out"; then
	pass "show prints no behaviour lines when the policy has none"
else
	fail "show prints no behaviour lines when the policy has none" "expected status 0 and no behaviour line"
fi

run validate "$fixtures/behaviour_values.conf"
check "validate names each bad behaviour value at its file:line" 1 \
	--out "$fixtures/behaviour_values.conf:14: error: behaviour.floors.requests: -1 is out of range (expected at least 0)" \
	--out "$fixtures/behaviour_values.conf: 15 errors, 0 warnings"

run show "$fixtures/missing_key.conf"
if [ "$rc" -eq 1 ] && [ ! -s "$work/out" ] && grep -qxF "$fixtures/missing_key.conf: 3 errors, 1 warning" "$work/err"; then
	pass "show of a policy with errors exits 1, diagnostics on stderr only"
else
	fail "show of a policy with errors exits 1, diagnostics on stderr only" "expected status 1, empty stdout, the counts on stderr"
fi

run show --json "$example"
check "show --json prints the whole model" 0 \
	--jq '.valid == true and .errors == 0 and .policy.name == "lab-default" and .policy.mode == "enforce"' \
	--jq '.policy.defaults == {action: "deny", non_http: "drop", unknown_host: "deny"}' \
	--jq '.policy.segments[0] == {name: "clients", addresses: ["198.18.0.0/24", "2001:db8::/64"], file: "'"$example"'", line: '"$l_clients"'}' \
	--jq '.policy.services[0].ports == [80, 8080] and .policy.services[0].segment == "servers"' \
	--jq '.policy.services[0].routes[0] | .path == "/api/v1/orders/{id}" and .methods == ["GET", "HEAD"] and .line == '"$l_get_order"'' \
	--jq '.policy.services[0].routes[2] | .methods == ["ANY"] and .mode == "monitor" and .mode_set == true' \
	--jq '[.policy.services[].routes | length] == [6, 3]' \
	--jq '.policy.services[0].routes[5].require == {scopes_match: "all", scopes: ["orders:read"], claims: {}, bind: {tenant: "tenant"}}' \
	--jq '.policy.services[0].authentication.issuers == ["shop-idp"] and .policy.issuers[0].jwks_file == "keys/example-idp.jwks"' \
	--jq '.policy.api_keys[0] | .id == "nightly-export" and .subject == "svc-export" and (has("sha256") | not)' \
	--jq '.policy.access[1] | .from == "admins" and .to == ["shop-api", "inventory"]' \
	--jq '.policy.behaviour | .mode == "enforce" and .window == 10 and .history == 6 and .factor == 10 and .line == '"$l_behaviour"'' \
	--jq '.policy.behaviour.risk.weights == {anomaly: 100, auth_failures: 100, token_sources: 100, source_identities: 100}'

run show "$fixtures/syntax_error.conf" --json
check "show --json of a policy with errors exits 1 with policy null" 1 \
	--jq '.valid == false and .policy == null and .diagnostics[0].line == 5'

# ------------------------------------------------------------------- usage

run frobnicate
check "an unknown command exits 2" 2 --err "ztgatectl: unknown command 'frobnicate'"

run
check "no command exits 2" 2

run --frob validate "$example"
check "an unknown global option exits 2" 2 --err "ztgatectl: unknown option '--frob'"

run validate --frob "$example"
check "an unknown command option exits 2" 2 --err "ztgatectl: validate: unknown option '--frob'"

run validate
check "validate without FILE exits 2" 2 --err "ztgatectl: validate: missing argument"

run show --json
check "show without FILE exits 2, even with --json" 2 --err "ztgatectl: show: missing argument"

run validate "$example" "$example"
check "an extra argument exits 2" 2

run --help
check "--help exits 0 and lists the commands and exit statuses" 0 \
	--out-prefix "  validate [--strict] FILE  " --out-prefix "  show FILE  " \
	--out "  3  cannot reach or talk to ztgate"

run validate --help
check "COMMAND --help exits 0 with the command's usage and options" 0 \
	--out "Usage: ztgatectl [--json] validate [--strict] FILE" --out-prefix "  --strict  "

run help show
check "help COMMAND is COMMAND --help" 0 --out "Usage: ztgatectl [--json] show FILE"

run help frobnicate
check "help of an unknown command exits 2" 2

run --version
check "--version prints the version" 0 --out-prefix "ztgatectl "

# ------------------------------------------------------------------- top

run top --interval 0
check "top --interval out of range exits 2" 2 --err "ztgatectl: top: --interval 0: expected seconds from 1 to 3600"

run top --once extra
check "top with an unexpected argument exits 2" 2 --err "ztgatectl: top: unexpected argument 'extra'"

run --socket "$work/no-such.sock" top --once
if [ "$rc" -eq 3 ] && [ ! -s "$work/out" ] && grep -q "^ztgatectl: " "$work/err"; then
	pass "top without a ztgate to ask exits 3, the reason on stderr"
else
	fail "top without a ztgate to ask exits 3, the reason on stderr" "expected status 3 and a message"
fi

echo "1..$n"
if [ "$failed" -gt 0 ]; then
	echo "# $failed of $n checks failed" >&2
	exit 1
fi
exit 0
