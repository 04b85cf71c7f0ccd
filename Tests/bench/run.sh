#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other; each prints its figures and the comparison measured
# in the same run. Benchmarks are not tests: they fail only when they cannot run.
set -u
cd "$(dirname "$0")/../.."
status=0
for bench in Tests/bench/daemon.sh Tests/bench/bgp-10k.sh Tests/bench/health-cpu.sh; do
    echo "=== $bench"
    "$bench" || { echo "$bench could not run"; status=1; }
done
exit $status
