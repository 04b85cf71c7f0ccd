#!/usr/bin/env bash
# The state directory as hostile input, against the release binary next to BIRD (interface.kind "existing"
# on lo, in a namespace): a drain that cannot be saved (`drained` a directory, a read-only bind mount of the
# state directory) fails with a non-zero exit and status "not persisted" while the route is withdrawn; a
# corrupt or linked `drained` keeps the host drained after a restart without logging the file's content; a
# `drained.tmp` link is never written through; loopback addresses in `owned-addresses` stay on lo; a second
# agent with the same configuration is refused. Prints TAP lines and `harden-state: N passed, N failed`.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/harden-state.sh [--bin PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/release/anycastd
[ "${1:-}" = --bin ] && BIN=$2
[ -x "$BIN" ] || io_die "$BIN not built (swift build -c release)"
[ "$(id -u)" = 0 ] || io_die "needs root (network namespaces, mounts)"
command -v bird >/dev/null || io_die "bird2 is not installed (Tests/tools/deps.sh)"
command -v jq >/dev/null || io_die "jq is not installed (Tests/tools/deps.sh)"
io_init "$(mktemp -d /tmp/hstate.XXXXXX)"
trap io_cleanup EXIT
IO_TAG=harden-state
t0=$(date +%s)

host=hstate-h
router=hstate-r
io_veth_pair "$host" "$router" hsth hstr 10.81.1.2/24 10.81.1.1/24
io_bird_start "$IO_ROOT/r" "$router" 65000 10.81.1.1 10.81.1.1 ::1 "name=h addr=10.81.1.2 as=65011 families=ipv4"

STATE=$IO_ROOT/state
CONF=$IO_ROOT/anycastd.json
LOG=$IO_ROOT/anycastd.log
mkdir -p "$STATE"
cat >"$CONF" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.81.1.2", "holdTime": "9s",
           "peers": [ { "name": "r", "address": "10.81.1.1", "asn": 65000, "localAddress": "10.81.1.2" } ] },
  "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32"] } ],
  "drain": { "delay": "0s", "gracefulShutdown": false },
  "stateDirectory": "$STATE",
  "control": { "socket": "$IO_ROOT/hstate.sock" }
}
JSON

agent_pid=''
# start_agent [PREFIX...]: the agent in the host namespace, optionally inside a wrapper command.
start_agent() {
    : >"$LOG"
    ip netns exec "$host" "$@" "$BIN" reconcile -c "$CONF" >"$LOG" 2>&1 &
    agent_pid=$!
    io_track_pid "$agent_pid"
    io_wait 10 ctl status >/dev/null 2>&1 || io_log "the agent did not answer on its control socket"
}
stop_agent() {
    kill -TERM "$agent_pid" 2>/dev/null
    io_wait 10 sh -c "! kill -0 $agent_pid 2>/dev/null" || io_kill "$agent_pid"
    wait "$agent_pid" 2>/dev/null
    io_wait 10 sh -c "! birdc -s $IO_ROOT/r/bird.ctl show protocols h | grep -q Established"
}
ctl() { "$BIN" "$@" -c "$CONF"; }
established() { [ "$(io_bird_state "$IO_ROOT/r" h)" = Established ]; }
has_route() { birdc -s "$IO_ROOT/r/bird.ctl" show route 192.0.2.53/32 | grep -q 192.0.2.53; }
no_route() { ! has_route; }
status_is() { [ "$(ctl status --json | jq -r "$1")" = "$2" ]; }
# The agent has decided not to announce (status), and BIRD, with the session up, has no route.
withdrawn_at_bird() {
    established && status_is '.services[0].prefixes[0].announcedTo | length' 0 && io_wait 5 no_route
}
on_lo() { ip -n "$host" addr show dev lo | grep -qw "inet6\? $1"; }

# 1. Loopback addresses in the ownership file stay on lo; a true leftover goes. drained.tmp is a link.
ip -n "$host" addr add 192.0.2.99/32 dev lo
printf '127.0.0.1/8\n::1/128\n192.0.2.99/32\n' >"$STATE/owned-addresses"
echo "keep me" >"$IO_ROOT/victim"
ln -s "$IO_ROOT/victim" "$STATE/drained.tmp"
start_agent
check "the route reaches BIRD" io_wait 20 has_route
check "127.0.0.1/8 is still on lo" on_lo 127.0.0.1/8
check "::1/128 is still on lo" on_lo ::1/128
check "the owned leftover 192.0.2.99/32 was removed" io_wait 5 sh -c "! ip -n $host addr show dev lo | grep -qw 192.0.2.99/32"
check "the reserved entries are reported as ignored" grep -q "127.0.0.1/8 is not a host prefix (/32), never removed; ignored" "$LOG"
check "::1/128 reported as loopback" grep -q "::1/128 is loopback (::1), never removed; ignored" "$LOG"

# 2. A drain with drained.tmp a link: saved, the link's target untouched.
check "drain succeeds (exit 0)" ctl drain
check "the link's target is unchanged" [ "$(cat "$IO_ROOT/victim")" = "keep me" ]
check "drained holds the drain" [ "$(cat "$STATE/drained")" = "*" ]
check "the route is withdrawn" io_wait 5 no_route
check "undrain succeeds" ctl undrain
check "the route is back" io_wait 5 has_route

# 3. drained replaced by a directory: the drain takes effect but is reported as not persisted.
rm -f "$STATE/drained"
mkdir "$STATE/drained"
out=$(ctl drain 2>&1)
code=$?
check "drain onto a directory exits non-zero (status $code)" [ "$code" != 0 ]
check "and says why: $out" grep -q "NOT persisted.*$STATE/drained: Is a directory" <<<"$out"
check "status: not persisted" status_is .statePersisted false
check "status text: NOT PERSISTED" sh -c "'$BIN' status -c '$CONF' | grep -q 'state: NOT PERSISTED'"
check "the drain is in effect all the same" io_wait 5 no_route
check "the failure is logged with operation, path and reason" grep -qF "cannot save drains: rename $STATE/drained.tmp.XXXXXX to $STATE/drained: Is a directory" "$LOG"
check "no CocoaError dump in the log" sh -c "! grep -q CocoaError '$LOG'"
stop_agent
rmdir "$STATE/drained"

# 4. A read-only state directory (a read-only bind mount in the agent's own mount namespace).
start_agent unshare -m --propagation private sh -c "mount --bind '$STATE' '$STATE' && mount -o remount,bind,ro '$STATE' && exec \"\$@\"" ro
check "read-only state: the route reaches BIRD" io_wait 20 has_route
out=$(ctl drain 2>&1)
code=$?
check "drain on a read-only state directory exits non-zero (status $code)" [ "$code" != 0 ]
check "and says why: $out" grep -q "NOT persisted.*Read-only file system" <<<"$out"
check "status: not persisted" status_is .statePersisted false
check "the route is withdrawn all the same" io_wait 5 no_route
stop_agent
check "nothing was written under the read-only mount" [ ! -e "$STATE/drained" ]

# 4b. A full state directory (a tiny tmpfs over it, filled, in the agent's own mount namespace).
start_agent unshare -m --propagation private sh -c "mount -t tmpfs -o size=16k hstate-full '$STATE' && { head -c 1M /dev/zero >'$STATE/fill'; exec \"\$@\"; }" full
check "full state: the route reaches BIRD" io_wait 20 has_route
out=$(ctl drain 2>&1)
code=$?
check "drain on a full state directory exits non-zero (status $code)" [ "$code" != 0 ]
check "and says why: $out" grep -q "NOT persisted.*No space left on device" <<<"$out"
check "status: not persisted" status_is .statePersisted false
check "the route is withdrawn all the same" io_wait 5 no_route
stop_agent

# 5. A corrupt drained file keeps the host drained after a restart, and its content is not logged.
printf '*\nhunter2\377\n' >"$STATE/drained"
start_agent
check "corrupt drained: session up" io_wait 20 established
check "corrupt drained: the host stays drained" status_is .hostDrained true
check "corrupt drained: no route at BIRD" withdrawn_at_bird
check "corrupt drained: status says not persisted" status_is .statePersisted false
check "corrupt drained: logged with the reason" grep -q "drain state unreadable: $STATE/drained: not valid UTF-8" "$LOG"
check "corrupt drained: the content is not logged" sh -c "! grep -q hunter2 '$LOG'"
stop_agent

# 6. drained as a link to a copy of a password file: not followed, the host is drained (fail safe).
printf 'root:x:0:0:root:/root:/bin/bash\nsecretuser:x:1000:1000::/home/s:/bin/sh\n' >"$IO_ROOT/passwd-copy"
rm -f "$STATE/drained"
ln -s "$IO_ROOT/passwd-copy" "$STATE/drained"
start_agent
check "linked drained: session up" io_wait 20 established
check "linked drained: the host is drained" status_is .hostDrained true
check "linked drained: no route at BIRD" withdrawn_at_bird
check "linked drained: logged as a link" grep -q "drain state unreadable: $STATE/drained: is a symbolic link (not followed)" "$LOG"
check "linked drained: no line of the target is logged" sh -c "! grep -Eq 'secretuser|root:x' '$LOG'"
check "undrain replaces the link" ctl undrain
check "the link's target is unchanged" grep -q secretuser "$IO_ROOT/passwd-copy"
check "drained is now a regular empty file" sh -c "[ -f '$STATE/drained' ] && [ ! -L '$STATE/drained' ] && [ ! -s '$STATE/drained' ]"
check "the route is back" io_wait 5 has_route
check "status: persisted again" status_is .statePersisted true

# 7. A second agent with the same configuration is refused, naming the first; the first keeps its socket.
second=$(ip netns exec "$host" timeout 10 "$BIN" reconcile -c "$CONF" 2>&1)
code=$?
check "a second agent exits non-zero at once (status $code)" [ "$code" != 0 -a "$code" != 124 ]
check "and names the running agent's pid" grep -q "another anycastd (pid $agent_pid) is running" <<<"$second"
check "the first agent still answers" status_is .hostDrained false
stop_agent

[ "$failed" = 0 ] || { echo "# anycastd log:"; sed 's/^/#   /' "$LOG"; }
echo "# $(($(date +%s) - t0)) s"
echo "1..$n"
echo "harden-state: $passed passed, $failed failed"
[ "$failed" = 0 ]
