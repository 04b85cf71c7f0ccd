#!/usr/bin/env bash
# The whole daemon against two BIRD routers on this host kernel (interface.kind "existing" on lo, so no
# dummy link type is needed): reloads keep sessions. Changing a service's prefixes or attributes sends
# only the difference; changing one peer's session settings resets that peer only; removing a peer
# touches no other session. Prints TAP lines and `daemon: N passed, N failed`.
# Usage: sudo Tests/interop/daemon-reload.sh [--bin PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/debug/anycastd
[ "${1:-}" = --bin ] && BIN=$2
[ -x "$BIN" ] || io_die "$BIN not built (swift build)"
io_require
io_init
trap io_cleanup EXIT
IO_TAG=daemon


host=acd-io-dm-h
ip netns delete "$host" 2>/dev/null
ip netns add "$host" && echo "$host" >>"$IO_ROOT/netns"
ip -n "$host" link set lo up
for i in 1 2; do
    r=acd-io-dm-r$i
    ip netns delete "$r" 2>/dev/null
    ip netns add "$r" && echo "$r" >>"$IO_ROOT/netns"
    ip link add "dmr$i" netns "$r" type veth peer name "dmh$i" netns "$host"
    ip -n "$r" addr add "10.78.$i.1/24" dev "dmr$i"
    ip -n "$host" addr add "10.78.$i.2/24" dev "dmh$i"
    ip -n "$r" link set lo up
    ip -n "$r" link set "dmr$i" up
    ip -n "$host" link set "dmh$i" up
    io_bird_start "$IO_ROOT/r$i" "$r" 65000 "10.78.$i.1" "10.78.$i.1" "::1" \
        "name=h addr=10.78.$i.2 as=65011 families=ipv4"
done

write_config() { # write_config R2_HOLD WEB_COMMUNITY EXTRA_PREFIX WITH_R2 [METRICS_PORT]
    local peers='{ "name": "r1", "address": "10.78.1.1", "asn": 65000, "localAddress": "10.78.1.2" }'
    [ "$4" = yes ] && peers="$peers, { \"name\": \"r2\", \"address\": \"10.78.2.1\", \"asn\": 65000, \"localAddress\": \"10.78.2.2\", \"holdTime\": \"$1\" }"
    local extra=''
    [ -n "$3" ] && extra=", \"$3\""
    cat >"$IO_ROOT/new.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.78.1.2", "holdTime": "9s", "peers": [ $peers ] },
  "services": [
    { "name": "dns", "prefixes": ["192.0.2.53/32"$extra] },
    { "name": "web", "prefixes": ["192.0.2.80/32"], "communities": ["$2"] }
  ],
  "drain": { "delay": "${DRAIN_DELAY:-1s}" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" },
  "metrics": { "listen": "10.78.1.2:${5:-9477}" }
}
JSON
    mv "$IO_ROOT/new.json" "$IO_ROOT/anycastd.json"
}

# The protocol's state and "since" time; a birdc call that gets no answer (control socket busy) is retried, so
# only a real state change can make two readings differ.
since() {
    local out='' try
    for try in 1 2 3 4 5; do
        out=$(birdc -s "$IO_ROOT/r$1/bird.ctl" show protocols h 2>/dev/null | awk '$1 == "h" { print $4 " " $5 }')
        [ -n "$out" ] && break
        sleep 0.2
    done
    echo "$out"
}
# same_since A B: the same state and a "since" time within 5 ms (BIRD derives the wall-clock time it shows
# from a monotonic age at each query, so one unchanged session can read .535 and then .534).
same_since() {
    local a=$1 b=$2
    [ "${a%% *}" = "${b%% *}" ] || return 1
    local ta tb
    ta=$(date -d "${a#* }" +%s%3N 2>/dev/null) || return 1
    tb=$(date -d "${b#* }" +%s%3N 2>/dev/null) || return 1
    local d=$((ta - tb))
    [ "${d#-}" -le 5 ]
}
established() { [ "$(io_bird_state "$IO_ROOT/r$1" h)" = Established ]; }
# The Prometheus endpoint, scraped from inside the host namespace; metric_is SAMPLE VALUE [PORT].
scrape() { ip netns exec "$host" curl -sf --max-time 2 "http://10.78.1.2:${1:-9477}/metrics"; }
metric_is() { scrape "${3:-9477}" | grep -qxF "$1 $2"; }
updates_received() {
    birdc -s "$IO_ROOT/r$1/bird.ctl" show protocols all h | awk '/Import updates:/ { print $3; exit }'
}
has_route() { birdc -s "$IO_ROOT/r$1/bird.ctl" show route "$2" | grep -q "$2"; }
no_route() { ! has_route "$@"; }
route_has_community() { birdc -s "$IO_ROOT/r$1/bird.ctl" show route "$2" all | grep -q "BGP.community:.*$3"; }

write_config 9s 65011:80 "" yes
ip netns exec "$host" "$BIN" reconcile -c "$IO_ROOT/anycastd.json" >"$IO_ROOT/anycastd.log" 2>&1 &
io_track_pid $!

check "r1 established" io_wait 20 established 1
check "r2 established" io_wait 20 established 2
check "r1 has both prefixes" io_wait 5 has_route 1 192.0.2.80/32
check "r2 has both prefixes" io_wait 5 has_route 2 192.0.2.53/32
check "metrics: r1 up" io_wait 5 metric_is 'anycastd_bgp_peer_up{address="10.78.1.1",peer="r1"}' 1
check "metrics: r2 up" metric_is 'anycastd_bgp_peer_up{address="10.78.2.1",peer="r2"}' 1
check "metrics: 192.0.2.53/32 announced to 2 peers" \
    metric_is 'anycastd_prefix_announced_peers{prefix="192.0.2.53/32",service="dns"}' 2
check "metrics: 192.0.2.53/32 present on lo" \
    metric_is 'anycastd_prefix_address_present{prefix="192.0.2.53/32",service="dns"}' 1
check "metrics: configuration valid" metric_is anycastd_config_valid 1
sleep 1
r1_since=$(since 1)
r2_since=$(since 2)
r1_updates=$(updates_received 1)

# 1. A prefix added and a community changed: two routes change, sessions stay.
write_config 9s 65011:81 192.0.2.54/32 yes
check "added prefix reaches r1" io_wait 5 has_route 1 192.0.2.54/32
check "changed community reaches r2" io_wait 5 route_has_community 2 192.0.2.80/32 "(65011,81)"
sleep 0.5
delta=$(($(updates_received 1) - r1_updates))
check "r1 received exactly 2 route updates for 2 changed routes (got $delta)" [ "$delta" = 2 ]
check "r1 session not reset by a service change" same_since "$(since 1)" "$r1_since"
check "r2 session not reset by a service change" same_since "$(since 2)" "$r2_since"

# 2. r2's hold time changes: r2 alone is reset.
write_config 12s 65011:81 192.0.2.54/32 yes
check "r2 re-established after its settings changed" io_wait 20 sh -c "[ \"\$(birdc -s $IO_ROOT/r2/bird.ctl show protocols h | awk '\$1 == \"h\" { print \$4 \" \" \$5 }')\" != \"$r2_since\" ] && birdc -s $IO_ROOT/r2/bird.ctl show protocols h | grep -q Established"
now=$(since 1)
check "r1 untouched by r2's change (since: '$r1_since' then '$now')" same_since "$now" "$r1_since"
check "r2 has the full set again" io_wait 5 has_route 2 192.0.2.54/32

# 3. r2 removed: its routes go, r1 untouched. The metrics endpoint moves to another port meanwhile.
write_config 12s 65011:81 192.0.2.54/32 no 9478
check "r2 loses the routes when removed" io_wait 5 no_route 2 192.0.2.53/32
check "metrics: served on the new port after the reload, 192.0.2.53/32 announced to 1 peer" io_wait 5 \
    metric_is 'anycastd_prefix_announced_peers{prefix="192.0.2.53/32",service="dns"}' 1 9478
check "metrics: nothing on the old port" sh -c "! ip netns exec $host curl -s --max-time 2 http://10.78.1.2:9477/metrics"
check "metrics: r2 gone from the metrics" sh -c "! ip netns exec $host curl -sf --max-time 2 http://10.78.1.2:9478/metrics | grep -q 'peer=\"r2\"'"
now=$(since 1)
check "r1 untouched by r2's removal (since: '$r1_since' then '$now')" same_since "$now" "$r1_since"
check "r1 still has every prefix" has_route 1 192.0.2.54/32

# 4. A broken edit changes nothing.
echo '{ "bgp": { "asn": 65011, }' >"$IO_ROOT/bad.json"
mv "$IO_ROOT/bad.json" "$IO_ROOT/anycastd.json"
check "the broken edit is logged with its position" \
    io_wait 5 grep -Eq "anycastd.json:1:[0-9]+: bgp: " "$IO_ROOT/anycastd.log"
check "r1 keeps every route after a broken edit" has_route 1 192.0.2.54/32
check "the broken edit kept r1's session" same_since "$(since 1)" "$r1_since"
check "metrics: the broken edit shows as anycastd_config_valid 0" metric_is anycastd_config_valid 0 9478
check "metrics: and the routes are still announced" \
    metric_is 'anycastd_prefix_announced_peers{prefix="192.0.2.54/32",service="dns"}' 1 9478

# 5. A stop with a long drain delay: the first SIGTERM starts the drain, a second one exits at once.
loads=$(grep -c "configuration loaded" "$IO_ROOT/anycastd.log")
DRAIN_DELAY=30s write_config 12s 65011:81 192.0.2.54/32 no
check "the 30 s drain delay is loaded" \
    io_wait 5 sh -c "[ \$(grep -c 'configuration loaded' '$IO_ROOT/anycastd.log') -gt $loads ]"
pid=$(tail -1 "$IO_ROOT/pids")
kill -TERM "$pid"
check "the first SIGTERM starts the drain" io_wait 5 grep -q "stopping: GRACEFUL_SHUTDOWN now" "$IO_ROOT/anycastd.log"
check "after one SIGTERM the agent is still draining" kill -0 "$pid"
check "routes still at r1 during a GRACEFUL_SHUTDOWN drain" has_route 1 192.0.2.53/32
t0=$(date +%s%N)
kill -TERM "$pid"
wait "$pid"
status=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "a second SIGTERM exits at once ($ms ms, status $status)" [ "$ms" -lt 1000 ]

[ "$failed" = 0 ] || { echo "# anycastd log:"; sed 's/^/#   /' "$IO_ROOT/anycastd.log"; }
echo "1..$n"
echo "daemon: $passed passed, $failed failed"
[ "$failed" = 0 ]
