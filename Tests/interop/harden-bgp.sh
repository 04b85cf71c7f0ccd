#!/usr/bin/env bash
# Issue 13's attacks on the release binary next to BIRD, in namespaces (host acd-hb-h, router acd-hb-r):
#   1. a passive peer never connects out, even after an inbound connection closed in OpenSent;
#   2. an idle connection from the router's address does not block the real session, and a connection
#      that sends no OPEN is closed after the OPEN wait (the hold time, 6 s here);
#   3. a peer looping ROUTE-REFRESH without reading: RSS stays within 20 MB of where it was, descriptors
#      come back, and the send hold timer (3 s here) resets the session;
#   4. a peer sending more than maxPrefixes (1000) gets Cease/1 with AFI/SAFI/limit and is refused at once
#      on reconnecting (back-off);
#   5. 500 connections from an address that is no peer: one log line per 10 s, descriptors come back;
# and through all of it BIRD keeps the agent's route and its session. The attackers are
# Tests/interop/harden-peer.py, run in the router namespace from its addresses .1 (BIRD's), .3, .4, .5.
# Prints TAP lines and `harden-bgp: N passed, N failed`; takes about 100 s.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/harden-bgp.sh [--bin PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/release/anycastd
[ "${1:-}" = --bin ] && BIN=$2
[ -x "$BIN" ] || io_die "$BIN not built (swift build -c release, or give --bin PATH)"
io_require
io_init
trap io_cleanup EXIT
IO_TAG=harden-bgp
PEER="$IO_PY $HERE/harden-peer.py"

host=acd-hb-h
router=acd-hb-r
io_veth_pair "$host" "$router" hbh hbr 10.93.1.2/24 10.93.1.1/24
for i in 3 4 5; do ip -n "$router" addr add "10.93.1.$i/24" dev hbr; done

# 1000 prefixes, so that one answer to a ROUTE-REFRESH is a few UPDATEs (about 8 KB).
prefixes=$(for i in $(seq 0 999); do printf '"10.200.%d.%d/32",' $((i / 250)) $((i % 250 + 1)); done)
cat >"$IO_ROOT/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.93.1.2", "holdTime": "6s", "peers": [
    { "name": "r1", "address": "10.93.1.1", "asn": 65000, "localAddress": "10.93.1.2", "passive": true },
    { "name": "refresher", "address": "10.93.1.3", "asn": 65003, "localAddress": "10.93.1.2", "passive": true,
      "holdTime": "3s" },
    { "name": "flooder", "address": "10.93.1.4", "asn": 65004, "localAddress": "10.93.1.2", "passive": true,
      "maxPrefixes": 1000 }
  ] },
  "services": [ { "name": "web", "prefixes": [ ${prefixes%,} ] } ],
  "drain": { "delay": "1s" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" }
}
JSON
ip netns exec "$host" "$BIN" reconcile -c "$IO_ROOT/anycastd.json" >"$IO_ROOT/anycastd.log" 2>&1 &
agent=$!
io_track_pid $agent

status_of() { # status_of PEER FIELD
    "$BIN" status --json --socket "$IO_ROOT/anycastd.sock" 2>/dev/null |
        jq -r --arg p "$1" --arg f "$2" '.peers[] | select(.name == $p) | .[$f] // ""'
}
state_is() { [ "$(status_of "$1" state)" = "$2" ]; }
listening() { ip netns exec "$host" ss -ltnH 'sport = :179' | grep -q .; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$agent/status"; }
fds() { find "/proc/$agent/fd" -mindepth 1 -maxdepth 1 | wc -l; }
bird_established() { [ "$(io_bird_state "$IO_ROOT/r1" h)" = Established ]; }
has_route() { birdc -s "$IO_ROOT/r1/bird.ctl" show route "$1" | grep -q "$1"; }
bird_since() { birdc -s "$IO_ROOT/r1/bird.ctl" show protocols h | awk '$1 == "h" { print $4 " " $5 }'; }
in_router() { ip netns exec "$router" "$@"; }

check "agent listens on port 179" io_wait 15 listening

# 1. Passive: an inbound connection closed in OpenSent; nothing may connect to the router's port 179.
out=$(in_router $PEER open-close 10.93.1.1 10.93.1.2)
check "the agent answered an inbound connection with its OPEN ($out)" [ "$out" = open ]
out=$(in_router $PEER listen 10.93.1.1 6)
check "passive peer: no connection from the agent in 6 s after the close ($out)" [ "$out" = "connections 0" ]
check "r1 back in Active" io_wait 5 state_is r1 Active

io_bird_start "$IO_ROOT/r1" "$router" 65000 10.93.1.1 10.93.1.1 "::1" "name=h addr=10.93.1.2 as=65011 families=ipv4"
check "BIRD established with the agent" io_wait 20 bird_established
check "BIRD has the agent's route" io_wait 10 has_route 10.200.0.1/32

# 2. The router goes away and comes back; meanwhile an idle connection from its address waits in
# OpenSent. The agent's identifier (10.93.1.2) is the higher one, so a §6.8 comparison against the idle
# connection would close every real (inbound) connection.
birdc -s "$IO_ROOT/r1/bird.ctl" disable h >/dev/null
check "r1 Active after BIRD's Cease" io_wait 10 state_is r1 Active
in_router $PEER idle 10.93.1.1 10.93.1.2 20 >"$IO_ROOT/idle1.out" &
idle1=$!
check "the idle connection holds r1 in OpenSent" io_wait 5 state_is r1 OpenSent
t0=$(date +%s%N)
birdc -s "$IO_ROOT/r1/bird.ctl" enable h >/dev/null
check "BIRD established beside the idle connection, within the OPEN wait" io_wait 5 bird_established
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# BIRD re-established $ms ms after enable"
wait $idle1
out=$(cat "$IO_ROOT/idle1.out")
check "the idle connection was closed once the real session was up ($out)" \
    sh -c "echo '$out' | awk '\$1 == \"closed\" && \$2 < 6 { ok = 1 } END { exit !ok }'"
check "BIRD has the agent's route again" io_wait 10 has_route 10.200.0.1/32
since=$(bird_since)

# A connection that never sends an OPEN is closed after the OPEN wait (the hold time, 6 s).
out=$(in_router $PEER idle 10.93.1.1 10.93.1.2 15)
check "an OPEN-less connection is closed after the 6 s OPEN wait ($out)" \
    sh -c "echo '$out' | awk '\$1 == \"closed\" && \$2 >= 5 && \$2 < 9 { ok = 1 } END { exit !ok }'"

# 3. A configured peer loops ROUTE-REFRESH and never reads.
sleep 1
rss0=$(rss_kb)
fd0=$(fds)
in_router $PEER refresh-flood 10.93.1.3 10.93.1.2 65003 10.93.1.3 8 >"$IO_ROOT/refresh.out" &
flood=$!
peak=$rss0
while kill -0 $flood 2>/dev/null; do
    r=$(rss_kb)
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    sleep 0.1
done
wait $flood
echo "# refresh flood: $(cat "$IO_ROOT/refresh.out"); VmRSS ${rss0} kB before, peak ${peak} kB"
check "RSS grew less than 20 MB under the refresh flood (+$(((peak - rss0) / 1024)) MB)" \
    [ $((peak - rss0)) -lt 20480 ]
sent_send_hold() { status_of refresher lastErrorSent | grep -q 'Send Hold Timer Expired'; }
check "the send hold timer reset the refresher (NOTIFICATION 8)" \
    io_wait 5 sent_send_hold
check "descriptors back to $fd0 after the flood (now $(fds))" io_wait 5 sh -c "[ \$(find /proc/$agent/fd -mindepth 1 -maxdepth 1 | wc -l) -le $fd0 ]"

# 4. More prefixes than maxPrefixes (1000): Cease/1 with AFI 1, SAFI 1, limit 1000; back-off after.
out=$(in_router $PEER prefix-flood 10.93.1.4 10.93.1.2 65004 10.93.1.4 1500)
echo "# prefix flood: $(echo "$out" | tr '\n' ';')"
check "Cease/1 with AFI 1, SAFI 1, limit 1000" sh -c "echo '$out' | grep -qx 'notification 6/1 000101000003e8'"
check "an immediate reconnect is refused (back-off)" sh -c "echo '$out' | grep -qx 'reconnect refused'"

# 5. 500 connections from an address that is no peer.
fd0=$(fds)
cpu0=$(awk '{ print $14 + $15 }' "/proc/$agent/stat")
lines0=$(grep -c 'not a configured peer' "$IO_ROOT/anycastd.log")
t0=$(date +%s%N)
out=$(in_router $PEER connect-flood 10.93.1.5 10.93.1.2 500)
ms=$((($(date +%s%N) - t0) / 1000000))
lines=$(($(grep -c 'not a configured peer' "$IO_ROOT/anycastd.log") - lines0))
cpu=$(($(awk '{ print $14 + $15 }' "/proc/$agent/stat") - cpu0))
echo "# connect flood: $out in $ms ms, $lines log lines, agent CPU $((cpu * 1000 / $(getconf CLK_TCK))) ms"
check "500 refused connections in $ms ms: one log line per 10 s ($lines)" [ "$lines" -le $((ms / 10000 + 2)) ]
check "descriptors back to $fd0 after the connect flood" io_wait 5 sh -c "[ \$(find /proc/$agent/fd -mindepth 1 -maxdepth 1 | wc -l) -le $fd0 ]"

# Through all of it the router kept its session and the route.
check "BIRD session never reset during the attacks" [ "$(bird_since)" = "$since" ]
check "BIRD still has the agent's route" has_route 10.200.3.250/32
check "the agent is still running" kill -0 $agent

[ "$failed" = 0 ] || { echo "# anycastd log (tail):"; tail -40 "$IO_ROOT/anycastd.log" | sed 's/^/#   /'; }
echo "1..$n"
echo "harden-bgp: $passed passed, $failed failed"
[ "$failed" = 0 ]
