#!/usr/bin/env bash
# The packaging tier: the man pages are clean (mandoc and groff) and list exactly the program's
# options; the JSON Schema accepts every valid example and golden file; every shipped example passes
# `anycastd check`; the router configurations parse (BIRD, FRR); the Prometheus rules pass `promtool check
# rules` and `promtool test rules`, and the Grafana dashboard queries only metrics anycastd exports; the
# systemd unit verifies and its `systemd-analyze security` exposure is at most 2.0. Ends with
# `packaging: N passed, N failed`.
#
#   Tests/packaging/run.sh          (ANYCASTD_BIN: the binary, default .build/debug/anycastd)
#
# Missing tools are failures that say what to install, never skips.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
bin=${ANYCASTD_BIN:-.build/debug/anycastd}
[[ $bin == /* ]] || bin=$root/$bin
work=$(mktemp -d "${TMPDIR:-/tmp}/acd-packaging.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
n=0

ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    [[ -z ${2:-} ]] || printf '#   %s\n' "${2//$'\n'/$'\n'#   }"
}
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0 and prints nothing on stderr.
check() {
    local desc=$1 out rc=0
    shift
    out=$("$@" 2>&1 >"$work/stdout") || rc=$?
    if ((rc == 0)) && [[ -z $out ]]; then ok "$desc"; else not_ok "$desc" "status $rc: $*"$'\n'"$out$(cat "$work/stdout")"; fi
}
need() { # need TOOL PACKAGE
    command -v "$1" >/dev/null && return 0
    not_ok "$1 is installed" "apt-get install $2"
    return 1
}

# --- man pages ---------------------------------------------------------------------------------------
if need mandoc mandoc; then
    for page in man/anycastd.8 man/anycastd.json.5; do
        check "mandoc -T lint -W warning $page" mandoc -T lint -W warning "$page"
    done
fi
if need man man-db && need groff groff; then
    for page in man/anycastd.8 man/anycastd.json.5; do
        # groff's warnings go to stderr; the rendered page is discarded.
        check "man --warnings -l $page (groff)" env MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page"
    done
fi
if [[ -x $bin ]]; then
    desc="anycastd(8) lists exactly the options of every subcommand"
    if out=$(python3 Tests/packaging/man-options.py "$bin" man/anycastd.8 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
else
    not_ok "anycastd binary at $bin" "build it (swift build) or set ANYCASTD_BIN"
fi

# --- schema and examples ------------------------------------------------------------------------------
if python3 -c 'import jsonschema' 2>/dev/null; then
    desc="the JSON Schema (2020-12) accepts every example and valid golden file"
    if out=$(python3 - <<'PY' 2>&1
import glob, json, sys
import jsonschema
schema = json.load(open("packaging/anycastd.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
valid = ["packaging/anycastd.json"] + sorted(glob.glob("packaging/examples/*.json"))
valid += sorted(glob.glob("Tests/ConfigTests/Golden/*.ok"))
valid += [f[:-3] + ".json" for f in sorted(glob.glob("Tests/ConfigTests/Golden/*.ok"))]
bad = 0
for name in valid:
    for error in validator.iter_errors(json.load(open(name))):
        bad += 1
        print(f"{name}: {error.json_path}: {error.message}")
rejected = total = 0
for err in sorted(glob.glob("Tests/ConfigTests/Golden/*.err")):
    try:
        document = json.load(open(err[:-4] + ".json"))
    except ValueError:
        continue
    total += 1
    rejected += not validator.is_valid(document)
print(f"{len(valid)} valid files checked; the schema alone rejects {rejected} of {total} invalid golden files")
sys.exit(1 if bad or len(valid) < 10 else 0)
PY
    ); then ok "$desc"; else not_ok "$desc" "$out"; fi
    echo "# ${out##*$'\n'}"
else
    not_ok "python3 jsonschema is installed" "apt-get install python3-jsonschema"
fi
if [[ -x $bin ]]; then
    for file in packaging/anycastd.json packaging/examples/*.json; do
        if out=$("$bin" check "$file" 2>&1); then ok "anycastd check $file"; else not_ok "anycastd check $file" "$out"; fi
    done
fi

# --- router configurations -------------------------------------------------------------------------
if need bird bird2; then
    check "bird -p accepts packaging/examples/routers/bird.conf" bird -p -c packaging/examples/routers/bird.conf
    check "bird -p accepts packaging/examples/routers/bird-last-resort.conf" \
        bird -p -c packaging/examples/routers/bird-last-resort.conf
fi
if need vtysh frr; then
    check "vtysh --dryrun accepts packaging/examples/routers/frr.conf" vtysh --dryrun -f packaging/examples/routers/frr.conf
    check "vtysh --dryrun accepts packaging/examples/routers/frr-last-resort.conf" \
        vtysh --dryrun -f packaging/examples/routers/frr-last-resort.conf
fi

# --- alerting rules and dashboard --------------------------------------------------------------------
if need promtool prometheus; then
    check "promtool check rules packaging/examples/prometheus/anycastd-rules.yml" \
        promtool check rules packaging/examples/prometheus/anycastd-rules.yml
    # promtool prints SUCCESS on stdout; failures go to stdout too, hence the exit status only.
    desc="promtool test rules packaging/examples/prometheus/anycastd-rules.test.yml"
    if out=$(cd packaging/examples/prometheus && promtool test rules anycastd-rules.test.yml 2>&1); then
        ok "$desc"
    else
        not_ok "$desc" "$out"
    fi
fi
check "the Grafana dashboard is JSON and queries only metrics anycastd exports" \
    python3 Tests/packaging/dashboard-metrics.py packaging/examples/grafana/anycastd-dashboard.json \
    Sources/Daemon/Metrics.swift

# --- the systemd unit -------------------------------------------------------------------------------
if need systemd-analyze systemd; then
    # verify resolves ExecStart= and Documentation=: give it the built binary and the man pages.
    mkdir -p "$work/man/man8" "$work/man/man5"
    cp man/anycastd.8 "$work/man/man8/" && cp man/anycastd.json.5 "$work/man/man5/"
    sed "s|/usr/sbin/anycastd|$bin|g" packaging/anycastd.service >"$work/anycastd.service"
    if [[ -x $bin ]]; then
        check "systemd-analyze verify anycastd.service" env MANPATH="$work/man" systemd-analyze verify "$work/anycastd.service"
    fi
    report=$(systemd-analyze security --offline=true packaging/anycastd.service 2>&1)
    score=$(sed -n 's/.*Overall exposure level for anycastd.service: \([0-9.]*\).*/\1/p' <<<"$report")
    echo "# systemd-analyze security: exposure $score"
    if [[ -n $score ]] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
        ok "systemd-analyze security exposure $score <= 2.0"
    else
        not_ok "systemd-analyze security exposure <= 2.0" "$(grep '✗' <<<"$report")"$'\n'"${report##*$'\n'}"
    fi
fi

echo "1..$n"
echo "packaging: $passed passed, $failed failed"
((failed == 0))
