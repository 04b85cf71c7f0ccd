#!/usr/bin/env bash
# Drift repair and reload latency of the real daemon on this host's kernel, where timing is not distorted
# by emulation. This kernel has no dummy link type, so the daemon runs with the hidden
# `--test-link-kind ifb` (ifb links behave like dummy ones for everything anycastd does); the kernel lab
# repeats these checks with a real dummy link, with bounds loose enough for TCG emulation.
# Each repair must be back within 100 ms, event-driven (the resync interval is 60 s). The figure is taken
# from the kernel's events as `ip -ts monitor address link` timestamps them on arrival (drift-events.awk):
# from the event that broke the state (or, for a configuration edit, the rename) to the event that made
# it whole again, so the test's own polling (one `ip` process every 5 ms) is not in it. The polled figure
# is printed next to it.
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
pid='' monitor=''
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    [ -n "$monitor" ] && kill -KILL "$monitor" 2>/dev/null
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
declare -A figures polled
record() { figures[$1]="${figures[$1]:-} ${2% *}"; polled[$1]="${polled[$1]:-} ${2#* }"; }

v4=192.0.2.53/32 v6=2001:db8:53::53/128
config $v4 $v6
ip netns exec "$ns" "$BIN" reconcile -c "$dir/anycastd.json" --resync-interval 60s --test-link-kind ifb \
    >"$dir/log" 2>&1 &
pid=$!
started=$(date +%s)
for _ in $(seq 100); do has_all $v4 $v6 && break; sleep 0.05; done
if has_all $v4 $v6; then ok "the daemon creates anycast0 with both addresses"; else not_ok "the daemon creates anycast0"; fi

# Every address and link event of the namespace, timestamped on arrival by one process doing nothing else.
# It runs at a real-time priority (it only sleeps in recv), so it reads each event as soon as the kernel
# queues it even on a loaded machine: its timestamps are the kernel's event times to within its wake-up.
chrt -f 10 ip -ts -n "$ns" monitor address link >"$dir/monitor" 2>&1 &
monitor=$!
# The monitor is listening once it reports a change made after it started (changes made before are lost).
for i in $(seq 100); do
    ip -n "$ns" link set up0 mtu $((1400 + i))
    sleep 0.02
    grep -q 'up0.* mtu 14' "$dir/monitor" && break
done
grep -q 'up0.* mtu 14' "$dir/monitor" || not_ok "ip -ts monitor reports events"

# kernel_ms FROM_LINE CHANGE_NS WANT ADDED GONE: milliseconds (one decimal) from the event that broke the
# state (or CHANGE_NS, for an edit) to the one that repaired it, as the monitor saw them; waits up to 2 s
# for the monitor to catch up with what the polling already saw; "timeout" when it never does.
kernel_ms() {
    local from=$1 change_us=$(($2 / 1000)) start end
    for _ in $(seq 200); do
        read -r start end < <(tail -n +"$((from + 1))" "$dir/monitor" |
            awk -v dev=anycast0 -v want="$3" -v added="$4" -v gone="$5" -f "$HERE/drift-events.awk")
        [ "$start" = - ] && start=$change_us
        if [ "$end" != - ]; then
            awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", (e - s) / 1000 }'
            return
        fi
        sleep 0.01
    done
    echo timeout
}

# One change of each kind and its measurement; `trial KIND ROUND` prints "KERNEL_MS POLLED_MS".
trial() {
    local t extra=192.0.2.$((100 + $2))/32 from polled want="$v4 $v6" added='' gone=''
    from=$(wc -l <"$dir/monitor")
    case $1 in
    "IPv4 address deleted") t=$(now_ns); ip -n "$ns" addr del $v4 dev anycast0; polled=$(measure x "$t" has_all $v4 $v6) ;;
    "IPv6 address deleted") t=$(now_ns); ip -n "$ns" addr del $v6 dev anycast0; polled=$(measure x "$t" has_all $v4 $v6) ;;
    "link set down") t=$(now_ns); ip -n "$ns" link set anycast0 down; polled=$(measure x "$t" has_all $v4 $v6) ;;
    "link deleted") t=$(now_ns); ip -n "$ns" link del anycast0; polled=$(measure x "$t" has_all $v4 $v6) ;;
    "config renamed over: prefix added")
        want="$v4 $v6 $extra" added=$extra
        t=$(now_ns); config $v4 $v6 $extra; polled=$(measure x "$t" has_all $extra) ;;
    "config renamed over: prefix removed")
        gone=$extra
        t=$(now_ns); config $v4 $v6; polled=$(measure x "$t" lacks $extra) ;;
    esac
    if [ "$polled" = timeout ]; then echo "timeout timeout"; return; fi
    echo "$(kernel_ms "$from" "$t" "$want" "$added" "$gone") $polled"
}
kinds=("IPv4 address deleted" "IPv6 address deleted" "link set down" "link deleted"
    "config renamed over: prefix added" "config renamed over: prefix removed")
for round in $(seq "$ROUNDS"); do
    for kind in "${kinds[@]}"; do record "$kind" "$(trial "$kind" "$round")"; done
done

# Every sample must be within the limit. Polled from the test, about one sample in sixty was 60-111 ms on
# this 2-core machine (and many were over 100 ms at load 27); the kernel's timestamps put every repair of
# those runs under 55 ms: the outliers were the measuring `ip` processes waiting for a core, not the agent.
over_limit() { [ "$1" = timeout ] || awk -v v="$1" -v l="$LIMIT_MS" 'BEGIN { exit !(v > l) }'; }
for name in "${kinds[@]}"; do
    values=${figures[$name]}
    bad=0
    for v in $values; do over_limit "$v" && bad=1; done
    sorted=$(tr ' ' '\n' <<<"$values" | grep -v '^$' | sort -g | tr '\n' ' ')
    sorted_polled=$(tr ' ' '\n' <<<"${polled[$name]}" | grep -v '^$' | sort -g | tr '\n' ' ')
    text="$name: repaired within ${LIMIT_MS} ms (kernel events, ms: ${sorted% }; polled: ${sorted_polled% })"
    if [ $bad = 0 ]; then ok "$text"; else not_ok "$text"; fi
done
# The resync timer first fires 60 s after the start (it logs nothing of its own): every repair above was
# event-driven only if the trials ended before that.
elapsed=$(($(date +%s) - started))
if [ "$elapsed" -lt 60 ]; then
    ok "no repair came from the resync timer (the trials took ${elapsed} s, the interval is 60 s)"
else
    not_ok "no repair came from the resync timer (the trials took ${elapsed} s, not under the 60 s interval)"
fi
kill -TERM "$monitor"
wait "$monitor" 2>/dev/null
monitor=''
kill -TERM "$pid"
wait "$pid"
status=$?
pid=''
if [ $status = 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit $status"; fi
[ "$failed" = 0 ] || { echo "# anycastd log:"; sed 's/^/#   /' "$dir/log" | tail -60; }
echo "1..$n"
echo "drift: $passed passed, $failed failed"
[ "$failed" = 0 ]
