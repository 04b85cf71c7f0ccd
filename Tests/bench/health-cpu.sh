#!/usr/bin/env bash
# Microbenchmark of the DNS health check alone (no BGP, in one process): CPU used while checking dnsmasq
# every 100 ms for 30 s (getrusage, as % of one core), and the time from stopping dnsmasq (SIGKILL: dead;
# SIGSTOP: hung) to the down event with fall 3. Not part of `make bench`: Tests/bench/health.sh measures
# the whole agent side by side with ExaBGP's healthcheck.
# Usage: Tests/bench/health-cpu.sh [--seconds 30] [--trials 20] [--interval-ms 100] [--timeout-ms 50] [--fall 3]
set -euo pipefail
cd "$(dirname "$0")/../.."

dnsmasq=${DNSMASQ:-$(command -v dnsmasq || true)}
[ -n "$dnsmasq" ] || dnsmasq=/usr/sbin/dnsmasq
if [ ! -x "$dnsmasq" ]; then
    echo "health-cpu: dnsmasq not found (install it: apt-get install -y dnsmasq-base)" >&2
    exit 1
fi

swift build -c release --product health-bench >&2
bin=$(swift build -c release --show-bin-path)/health-bench
exec "$bin" --dnsmasq "$dnsmasq" "$@"
