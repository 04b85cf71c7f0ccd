#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other, each comparison measured in the same run, in the same
# lab, against the same router and with the same number of trials (TRIALS, default 20). Rewrites
# Tests/bench/results.md (date, commit, machine, one row per figure) and the README's Figures table from it.
# Benchmarks are not tests: a benchmark fails only when it cannot run, and its rows then say so.
# Run it alone on the machine (it uses network namespaces and port 179): `flock /tmp/anycastd-lab.lock make bench`.
set -u
cd "$(dirname "$0")/../.."
export TRIALS=${TRIALS:-20}
results=Tests/bench/results.md
work=$(mktemp -d /tmp/acd-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export BENCH_ROWS=$work/rows
: >"$BENCH_ROWS"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
status=0
for bench in health.sh stop.sh bgp-10k.sh addresses.sh footprint.sh fleet.sh lastresort.sh; do
    echo "=== Tests/bench/$bench"
    if ! "Tests/bench/$bench"; then
        echo "Tests/bench/$bench could not run"
        printf '| %s | could not run (see the make bench output) | not run | - |\n' "Tests/bench/$bench" >>"$BENCH_ROWS"
        status=1
    fi
done
version() { "$@" 2>&1 | grep -Eo '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -1; }
{
    echo "# Benchmark results"
    echo
    echo "Written by \`make bench\` (Tests/bench/run.sh); do not edit by hand. Every comparison was measured in"
    echo "the same run, in the same lab, against the same router, with the same number of trials."
    echo
    echo "- date: $started"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- Sources Tests ':!Tests/bench/results.md' 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "- machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), load at start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- build: ${BENCH_BIN_DIR:-release, static Swift runtime (as in the .deb)}"
    echo "- trials: $TRIALS; BIRD $(version bird --version), ExaBGP $(version /usr/sbin/exabgp --version), GoBGP $(version gobgpd --version)"
    echo
    echo "| figure | anycastd | comparison, same run | ratio anycastd / comparison |"
    echo "| --- | --- | --- | --- |"
    cat "$BENCH_ROWS"
} >"$results"
Tests/bench/readme-table.sh "$results" README.md
echo "wrote $results and the README's Figures table"
exit $status
