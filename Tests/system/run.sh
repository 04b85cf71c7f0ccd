#!/usr/bin/env bash
# Runs the system tests (Tests/system/t-*.sh) and prints one summary line
# `system: N passed, N failed` (N counts test files); exits non-zero if any failed.
#
#   Tests/system/run.sh [--host] [--each] [t-NAME...]
#
# By default all tests run in ONE boot of the kernel lab (Tests/lab/run.sh: a stock Debian kernel under
# qemu; one boot costs 8-15 s under TCG and every test makes its own namespace, so one boot is
# enough isolation). --each boots once per test file instead. --host runs them on this machine's
# kernel directly (only useful where the kernel has the dummy link type). The binary is
# ANYCASTD_BIN (default .build/debug/anycastd under the repository root); each test file gets
# ANYCASTD_SYSTEM_TIMEOUT seconds (default 180). ANYCASTD_SYSTEM_DAEMON_ARGS replaces the extra
# daemon arguments (default "--resync-interval 60", seconds).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

usage() {
    sed -n '5,15s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

mode=vm
names=()
while (($# > 0)); do
    case $1 in
    --host) mode=host ;;
    --each) mode=each ;;
    --inside) mode=inside ;; # used by the VM run itself
    -h | --help) usage ;;
    -*) usage 2 ;;
    *) names+=("${1%.sh}") ;;
    esac
    shift
done

tests=()
if ((${#names[@]} == 0)); then
    for f in "$here"/t-*.sh; do
        [[ -e $f ]] && tests+=("$f")
    done
else
    for n in "${names[@]}"; do
        f=$here/$(basename "$n").sh
        [[ -f $f ]] || { echo "system: no test $f" >&2; exit 2; }
        tests+=("$f")
    done
fi
((${#tests[@]} > 0)) || { echo "system: no tests in $here" >&2; exit 2; }

export ANYCASTD_BIN=${ANYCASTD_BIN:-.build/debug/anycastd}
[[ $ANYCASTD_BIN == /* ]] || ANYCASTD_BIN=$root/$ANYCASTD_BIN

# Runs the given test files here, prints their TAP and the summary line.
run_here() {
    local passed=0 failed=0 f name rc start ms
    if [[ $ANYCASTD_BIN != "$root"/* && ! -x $ANYCASTD_BIN ]]; then
        echo "# note: $ANYCASTD_BIN is not executable here"
    fi
    for f in "$@"; do
        name=$(basename "$f" .sh)
        echo "# === $name"
        start=${EPOCHREALTIME/./}
        rc=0
        timeout --kill-after=10 "${ANYCASTD_SYSTEM_TIMEOUT:-180}" bash "$f" 2>&1 || rc=$?
        ms=$(((${EPOCHREALTIME/./} - start) / 1000))
        if ((rc == 0)); then
            passed=$((passed + 1))
            echo "# === $name: passed (${ms} ms)"
        else
            failed=$((failed + 1))
            ((rc == 124)) && echo "# $name: killed after ${ANYCASTD_SYSTEM_TIMEOUT:-180}s"
            echo "# === $name: FAILED (status $rc, ${ms} ms)"
        fi
    done
    echo "system: $passed passed, $failed failed"
    ((failed == 0))
}

if [[ $mode != inside ]]; then
    # shellcheck source=Tests/lab/common.sh
    source "$root/Tests/lab/common.sh"
    lab_need_packages iproute2 procps coreutils
    if [[ ! -x $ANYCASTD_BIN ]]; then
        echo "system: $ANYCASTD_BIN is missing or not executable; build it first (swift build) or set ANYCASTD_BIN" >&2
        echo "system: 0 passed, ${#tests[@]} failed"
        exit 1
    fi
fi

case $mode in
host | inside)
    run_here "${tests[@]}"
    ;;
vm)
    timeout=$((${ANYCASTD_SYSTEM_TIMEOUT:-180} * ${#tests[@]} + 120))
    exec "$root/Tests/lab/run.sh" --timeout "$timeout" -- "$here/run.sh" --inside "${tests[@]##*/}"
    ;;
each)
    passed=0
    failed=0
    for f in "${tests[@]}"; do
        rc=0
        "$root/Tests/lab/run.sh" --timeout $((${ANYCASTD_SYSTEM_TIMEOUT:-180} + 120)) -- "$here/run.sh" --inside "${f##*/}" \
            | grep -v '^system: ' || rc=$?
        if ((rc == 0)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    echo "system: $passed passed, $failed failed"
    ((failed == 0))
    ;;
esac
