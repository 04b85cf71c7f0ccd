#!/usr/bin/env bash
# `make test`: every tier, in order, with one summary line at the end: "N passed, N failed".
#   1. unit + namespace tests (swift test, as root)
#   2. fuzz replay (the decoder's corpus and past crashes, briefly)
#   3. interop tests against BIRD, FRR, GoBGP and ExaBGP in namespaces (BFD against BIRD too)
#   4. system tests in the kernel lab (a stock Debian kernel under qemu), the package under systemd too
# A tier that cannot run counts as failed and says why; nothing is skipped quietly.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
logs=${ANYCASTD_TEST_LOGS:-$root/.build/test-logs}
mkdir -p "$logs"
passed=0
failed=0
tier_result=()

count() { # tier-name passed failed
    passed=$((passed + $2))
    failed=$((failed + $3))
    tier_result+=("$1: $2 passed, $3 failed")
}

# Reads the last "NAME: N passed, N failed" line a tier printed.
tier_counts() {
    local line
    line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    if [[ -z $line ]]; then echo "0 1"; return; fi
    sed -E 's/^[a-z-]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' <<<"$line"
}

run_tier() { # name command...
    local name=$1; shift
    echo "=== $name"
    "$@" 2>&1 | tee "$logs/$name.log"
    local status=${PIPESTATUS[0]}
    read -r p f < <(tier_counts "$logs/$name.log")
    if ((status != 0 && f == 0)); then f=1; echo "$name: exited $status without reporting a failure; counted as one"; fi
    count "$name" "$p" "$f"
}

Tests/tools/deps.sh || { echo "deps: installation failed"; exit 1; }

echo "=== build"
swift build --build-tests >"$logs/build.log" 2>&1
grep -E 'error:|warning:|Build complete' "$logs/build.log" | sort -u | head -40
if ! grep -q 'Build complete' "$logs/build.log"; then
    echo "build failed; see $logs/build.log"
    echo "0 passed, 1 failed"
    exit 1
fi

echo "=== unit"
# One test at a time: several tests block on sockets and processes, and in parallel they starve the
# 2-thread cooperative pool that the timing-sensitive ones need (16 s in all here).
swift test --skip-build --no-parallel 2>&1 | tee "$logs/unit.log" >/dev/null
unit_status=${PIPESTATUS[0]}
grep -E '^✘' "$logs/unit.log" | head -40
unit_total=$(grep -Eo 'Test run with [0-9]+ tests?' "$logs/unit.log" | grep -Eo '[0-9]+' | tail -1)
unit_failed=$(grep -E '^✘ Test [^ ]+.* failed' "$logs/unit.log" | sort -u | wc -l)
unit_total=${unit_total:-0}
if ((unit_status != 0 && unit_failed == 0)); then unit_failed=1; fi
echo "unit: $((unit_total - unit_failed)) passed, $unit_failed failed"
count unit $((unit_total - unit_failed)) "$unit_failed"

run_tier packaging Tests/packaging/run.sh

echo "=== fuzz (30 s; the corpus of past crashes is replayed by BGPTests; \`make fuzz\` runs longer)"
if Tests/fuzz/run.sh 30 >"$logs/fuzz.log" 2>&1; then
    tail -1 "$logs/fuzz.log"
    count fuzz 1 0
else
    tail -20 "$logs/fuzz.log"
    count fuzz 0 1
fi
run_tier interop Tests/interop/run.sh
run_tier daemon Tests/interop/daemon-reload.sh
run_tier drift Tests/interop/daemon-drift.sh
run_tier bfd Tests/interop/bfd.sh
run_tier daemon-bfd Tests/interop/daemon-bfd.sh
run_tier core-dryrun Tests/interop/core-dryrun.sh
run_tier harden-bfd Tests/interop/harden-bfd.sh
run_tier unnumbered Tests/interop/unnumbered.sh
run_tier azure Tests/interop/azure.sh
# Issue 9: last resort, degraded and dampening against BIRD (ADD-PATH tx) and FRR.
run_tier policy Tests/interop/policy.sh
run_tier gr Tests/interop/gr.sh
# The system tests' own helpers, checked on this host (no VM).
run_tier system-lib Tests/system/lib-selftest.sh
# The hardening tiers attack the binary that ships: the release build that `make deb` packages.
echo "=== deb (the release build the hardening tiers attack; the system tier installs the package in the kernel lab)"
if make deb >"$logs/deb.log" 2>&1; then
    tail -3 "$logs/deb.log"
else
    tail -30 "$logs/deb.log"
    echo "deb: make deb failed; the hardening tiers and t-deb will fail for want of the release binary"
fi
release=.build/release/anycastd
run_tier harden-bgp Tests/interop/harden-bgp.sh --bin "$release"
run_tier harden-clients Tests/interop/harden-clients.sh --bin "$release"
run_tier harden-files Tests/interop/harden-files.sh --bin "$release"
run_tier harden-checks Tests/interop/harden-checks.sh --bin "$release"
run_tier harden-state Tests/interop/harden-state.sh --bin "$release"
run_tier fleet Tests/interop/fleet.sh --bin "$release"
# Installing and purging the package under TCG takes minutes (t-deb: about 200 s of the tier with other
# builds running, 35 s of it per apt-get install; man-db's trigger and apt's lists are off in the lab);
# give each system test file room.
ANYCASTD_SYSTEM_TIMEOUT=${ANYCASTD_SYSTEM_TIMEOUT:-420} run_tier system Tests/system/run.sh
# The package under systemd as PID 1 (a second lab boot): install, notify, reload, watchdog, stop, restart,
# upgrade. 4-6 minutes here with other builds running (6 at a lower load before the lab turned off man-db's
# trigger and apt's lists), most of it boot, apt-get and dpkg under TCG (install 40-110 s, upgrade 48 s).
run_tier system-systemd Tests/system/systemd.sh

echo "=== summary"
for line in "${tier_result[@]}"; do echo "  $line"; done
echo "$passed passed, $failed failed"
((failed == 0))
