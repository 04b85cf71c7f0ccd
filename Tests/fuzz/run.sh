#!/bin/sh
# Builds the BGP decoder fuzz target (Sources/BGPFuzz) with libFuzzer and AddressSanitizer and runs it
# for SECONDS (default 60). Seeds come from Tests/fuzz/corpus; new inputs go to .build-fuzz/corpus;
# crashing inputs are kept in Tests/fuzz/crashes/ (BGPTests replays them). Exit status 1 on a crash.
# Usage: Tests/fuzz/run.sh [SECONDS [libFuzzer options...]]
set -eu
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
[ $# -gt 0 ] && shift
build=.build-fuzz
swift build -c debug --product BGPFuzz --build-path "$build" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DBGP_LIBFUZZER
mkdir -p "$build/corpus" Tests/fuzz/crashes
status=0
"$build/debug/BGPFuzz" "$build/corpus" Tests/fuzz/corpus \
    -max_total_time="$seconds" -max_len=4200 -print_final_stats=1 \
    -artifact_prefix=Tests/fuzz/crashes/ "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "fuzz: failure (status $status); crashing inputs:" >&2
    ls -l Tests/fuzz/crashes >&2
    exit 1
fi
echo "fuzz: no crash in $seconds s"
