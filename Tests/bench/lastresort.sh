#!/usr/bin/env bash
# Benchmark: last resort (issue 9). Two hosts with the same lastResort service announce it to BIRD, which
# sends them every path (`add paths tx`); Tests/interop/policy.sh --bench builds the lab. Each trial makes
# both hosts fail their checks at the same moment and times how long until BIRD holds the route again,
# degraded (and how long it held none on the way), then heals one host and times how long until the
# other's degraded route is gone. Checks every 100 ms, fall 1, rise 1. No comparison: no other tool has
# the rule.
# Usage: sudo Tests/bench/lastresort.sh [--bin PATH]   (TRIALS=N, default 20)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=''
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH]" >&2; exit 2 ;;
    esac
done
[ -n "$BIN" ] || BIN=$(bench_build anycastd)
out=$(mktemp /tmp/acd-bench-lastresort.XXXXXX)
trap 'rm -f "$out"' EXIT
"$REPO/Tests/interop/policy.sh" --bin "$BIN" --bench "$TRIALS" | tee "$out"
status=${PIPESTATUS[0]}
samples() { sed -n "s/^BENCH $1 *//p" "$out"; }
# shellcheck disable=SC2046
{
    bench_row "both hosts fail at once → a route back at BIRD, degraded (lastResort, checks every 100 ms, fall 1)" \
        "$(bench_stats ms $(samples back)); no route at BIRD for $(bench_stats ms $(samples gap))" \
        "not run (no other tool keeps a last resort)" "-"
    bench_row "one host recovers → the other's degraded route gone at BIRD (rise 1, ADD-PATH from BIRD)" \
        "$(bench_stats ms $(samples gone))" "not run (no other tool keeps a last resort)" "-"
}
exit "$status"
