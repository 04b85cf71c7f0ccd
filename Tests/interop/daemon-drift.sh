#!/usr/bin/env bash
# Drift repair and reload latency of the real daemon on this host's kernel, where timing is not distorted
# by emulation. This kernel has no dummy link type, so the daemon runs with the hidden
# `--test-link-kind ifb` (ifb links behave like dummy ones for everything anycastd does); the kernel lab
# repeats these checks with a real dummy link, with bounds loose enough for TCG emulation.
# Each repair must be back within 100 ms, event-driven (the resync interval is 60 s).
# Prints TAP lines, the measured figures, and `drift: N passed, N failed`.
# Usage: sudo Tests/interop/daemon-drift.sh [--bin PATH] [--rounds N]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
IO_TAG=drift
BIN=$REPO/.build/debug/anycastd
ROUNDS=5
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--rounds N]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "drift: needs root"; echo "drift: 0 passed, 1 failed"; exit 1; }
[ -x "$BIN" ] || { echo "drift: $BIN not built"; echo "drift: 0 passed, 1 failed"; exit 1; }
LIMIT_MS=${ANYCASTD_DRIFT_LIMIT_MS:-100}

ns=acd-drift-$$
dir=$(mktemp -d /tmp/acd-drift.XXXXXX)
pid=''
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    ip netns delete "$ns" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add up0 type veth peer name up0-p
ip -n "$ns" link set up0 up


config() { # config PREFIX...
    local list='' p
    for p in "$@"; do list="$list${list:+, }\"$p\""; done
    cat >"$dir/new.json" <<JSON
{
  "interface": { "name": "anycast0", "uplinks": ["up0"] },
  "services": [ { "name": "dns", "prefixes": [$list] } ],
  "stateDirectory": "$dir/state",
  "control": { "socket": "$dir/anycastd.sock" }
}
JSON
    mv "$dir/new.json" "$dir/anycastd.json"
}

now_ns() { date +%s%N; }
has_all() { # has_all PREFIX...: anycast0 up and carrying every prefix
    local out
    out=$(ip -n "$ns" -o addr show dev anycast0 2>/dev/null) || return 1
    ip -n "$ns" -o link show dev anycast0 2>/dev/null | grep -q '<[^>]*,UP' || return 1
    local p
    for p in "$@"; do grep -q " ${p} " <<<"$out" || grep -q " ${p%/*}/" <<<"$out" || return 1; done
}
lacks() { ! ip -n "$ns" -o addr show dev anycast0 2>/dev/null | grep -q " ${1%/*}/"; }
# measure NAME CONDITION...: waits up to 5 s for CONDITION after the change just made; records the ms.
measure() {
    local name=$1 start=$2 end
    shift 2
    local deadline=$((start + 5000000000))
    while ! "$@"; do
        [ "$(now_ns)" -gt $deadline ] && { echo "timeout"; return; }
        # A breath between polls: back-to-back `ip` processes would take a whole core of the two from the
        # daemon being measured. It costs at most 5 ms of resolution.
        sleep 0.005
    done
    end=$(now_ns)
    echo $(((end - start) / 1000000))
}
declare -A figures
record() { figures[$1]="${figures[$1]:-} $2"; }

v4=192.0.2.53/32 v6=2001:db8:53::53/128
config $v4 $v6
ip netns exec "$ns" "$BIN" reconcile -c "$dir/anycastd.json" --resync-interval 60s --test-link-kind ifb \
    >"$dir/log" 2>&1 &
pid=$!
started=$(date +%s)
for _ in $(seq 100); do has_all $v4 $v6 && break; sleep 0.05; done
if has_all $v4 $v6; then ok "the daemon creates anycast0 with both addresses"; else not_ok "the daemon creates anycast0"; fi

# One change of each kind and its measurement; `trial KIND ROUND` prints the milliseconds.
trial() {
    local t extra=192.0.2.$((100 + $2))/32
    case $1 in
    "IPv4 address deleted") t=$(now_ns); ip -n "$ns" addr del $v4 dev anycast0; measure x "$t" has_all $v4 $v6 ;;
    "IPv6 address deleted") t=$(now_ns); ip -n "$ns" addr del $v6 dev anycast0; measure x "$t" has_all $v4 $v6 ;;
    "link set down") t=$(now_ns); ip -n "$ns" link set anycast0 down; measure x "$t" has_all $v4 $v6 ;;
    "link deleted") t=$(now_ns); ip -n "$ns" link del anycast0; measure x "$t" has_all $v4 $v6 ;;
    "config renamed over: prefix added") t=$(now_ns); config $v4 $v6 $extra; measure x "$t" has_all $extra ;;
    "config renamed over: prefix removed") t=$(now_ns); config $v4 $v6; measure x "$t" lacks $extra ;;
    esac
}
kinds=("IPv4 address deleted" "IPv6 address deleted" "link set down" "link deleted"
    "config renamed over: prefix added" "config renamed over: prefix removed")
for round in $(seq "$ROUNDS"); do
    for kind in "${kinds[@]}"; do record "$kind" "$(trial "$kind" "$round")"; done
done

# Every sample must be within the limit. A single sample over it (seen about once in 60 on this 2-core
# machine, in any kind, and not yet attributed: process start-up of the measuring `ip` calls or the
# agent) is measured again, once, with the same change; the outlier is printed either way, and a second
# one in the same kind, a timeout, or a slow re-measurement fails.
for name in "${kinds[@]}"; do
    values=${figures[$name]}
    over=0 bad=0
    for v in $values; do
        if [ "$v" = timeout ]; then bad=1; elif [ "$v" -gt "$LIMIT_MS" ]; then over=$((over + 1)); fi
    done
    sorted=$(tr ' ' '\n' <<<"$values" | grep -v '^$' | sort -n | tr '\n' ' ')
    note=''
    if [ $bad = 0 ] && [ $over = 1 ]; then
        [ "$name" = "config renamed over: prefix removed" ] && trial "config renamed over: prefix added" 99 >/dev/null
        again=$(trial "$name" 99)
        note=", one over ${LIMIT_MS} ms, measured again: $again ms"
        { [ "$again" = timeout ] || [ "$again" -gt "$LIMIT_MS" ]; } && bad=1
        over=0
    fi
    if [ $bad = 0 ] && [ $over = 0 ]; then
        ok "$name: repaired within ${LIMIT_MS} ms (ms: $sorted$note)"
    else
        not_ok "$name: repaired within ${LIMIT_MS} ms (ms: $sorted$note)"
    fi
done
# The resync timer first fires 60 s after the start (it logs nothing of its own): every repair above was
# event-driven only if the trials ended before that.
elapsed=$(($(date +%s) - started))
if [ "$elapsed" -lt 60 ]; then
    ok "no repair came from the resync timer (the trials took ${elapsed} s, the interval is 60 s)"
else
    not_ok "no repair came from the resync timer (the trials took ${elapsed} s, not under the 60 s interval)"
fi
kill -TERM "$pid"
wait "$pid"
status=$?
pid=''
if [ $status = 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit $status"; fi
[ "$failed" = 0 ] || { echo "# anycastd log:"; sed 's/^/#   /' "$dir/log" | tail -60; }
echo "1..$n"
echo "drift: $passed passed, $failed failed"
[ "$failed" = 0 ]
