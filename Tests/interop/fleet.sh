#!/usr/bin/env bash
# The `fleet` tier of `make test`: Tests/bench/fleet.sh --check, a short run of the fleet benchmark. 16 agents
# in namespaces, iBGP clients of two BIRD route reflectors, all announcing one anycast /32 and /128 and a
# unicast /32 each: cold start until both reflectors hold every path and the client's FIB every next hop; the
# DNS servers of 8 agents killed at once until both reflectors and the FIB converge (one withdraw per agent,
# prefix and reflector), and back; a rolling drain of 3 agents with a query every 5 ms, 0 lost.
# Prints TAP lines, the figures, and `fleet: N passed, N failed`.
# Usage: sudo Tests/interop/fleet.sh [--bin PATH] [--agents N] [--fail N] [--drain N]
exec "$(cd "$(dirname "$0")/../bench" && pwd)/fleet.sh" --check "$@"
