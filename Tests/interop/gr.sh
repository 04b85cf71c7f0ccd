#!/usr/bin/env bash
# BGP Graceful Restart (RFC 4724) of the whole daemon against BIRD (`graceful restart on`) and FRR
# (`bgp graceful-restart`), both installing the route into their namespace's kernel table:
#  1. the capability is negotiated (restart time, forwarding state preserved);
#  2. kill -9 and start again: a poller reading both routers' kernel tables every 10 ms never sees the
#     route missing, both mark it stale while the agent is away, both hold it fresh afterwards, and
#     End-of-RIB arrives after the route (the routers' logs);
#  3. a restart while the service is unhealthy: the route stays stale, never re-announced, and is
#     withdrawn once the first verdict (two failed checks) is known;
#  4. `anycastd restart` then SIGTERM: no withdraw, no Cease, the route stays throughout;
#  5. without gracefulRestart, kill -9 withdraws at once, as before.
# Prints TAP lines and `gr: N passed, N failed`.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/gr.sh [--bin PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
io_start gr "$@"

host=acd-io-gr-h
bns=acd-io-gr-b
fns=acd-io-gr-f
io_veth_pair "$host" "$bns" grh1 grb1 10.79.1.2/24 10.79.1.1/24
# The FRR router's namespace joins the same host namespace (io_veth_pair would make the host's anew).
ip netns delete "$fns" 2>/dev/null
ip netns add "$fns" && echo "$fns" >>"$IO_ROOT/netns"
ip -n "$fns" link set lo up
ip link add grh2 netns "$host" type veth peer name grf2 netns "$fns"
ip -n "$fns" addr add 10.79.2.1/24 dev grf2
ip -n "$host" addr add 10.79.2.2/24 dev grh2
ip -n "$fns" link set grf2 up
ip -n "$host" link set grh2 up

prefix=192.0.2.53/32
bird=$IO_ROOT/bird
frr=$IO_ROOT/frr
mkdir -p "$bird"
cat >"$bird/bird.conf" <<EOF
router id 10.79.1.1;
log "$bird/bird.log" all;
protocol device { scan time 10; }
protocol kernel { ipv4 { export where source = RTS_BGP; }; }
protocol bgp h {
  local 10.79.1.1 as 65000;
  neighbor 10.79.1.2 as 65011;
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;
  error wait time 1, 5; error forget time 10;
  graceful restart on;
  debug { states, events, packets, routes };
  ipv4 { import all; export none; };
}
EOF
ip netns exec "$bns" bird -c "$bird/bird.conf" -s "$bird/bird.ctl" -P "$bird/bird.pid" || io_die "bird failed"
io_wait 5 test -S "$bird/bird.ctl" || io_die "bird has no control socket"
io_frr_start "$frr" "$fns" 65000 10.79.2.1 "name=h addr=10.79.2.2 as=65011 families=ipv4"
io_vtysh "$frr" -c 'configure terminal' -c 'router bgp 65000' -c 'bgp graceful-restart' \
    -c 'exit' -c 'debug bgp updates in' -c 'debug bgp graceful-restart' -c 'debug bgp neighbor-events' >/dev/null ||
    io_die "cannot enable graceful restart in FRR"

write_config() { # write_config GRACEFUL(yes|no)
    local gr=''
    [ "$1" = yes ] && gr='"gracefulRestart": { "restartTime": "30s" },'
    cat >"$IO_ROOT/new.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.79.1.2", "holdTime": "9s", $gr
    "peers": [
      { "name": "bird", "address": "10.79.1.1", "asn": 65000, "localAddress": "10.79.1.2" },
      { "name": "frr", "address": "10.79.2.1", "asn": 65000, "localAddress": "10.79.2.2" }
    ] },
  "services": [
    { "name": "dns", "prefixes": ["$prefix"],
      "checks": [ { "exec": { "command": ["/usr/bin/test", "-e", "$IO_ROOT/healthy"] },
                    "interval": "100ms", "timeout": "80ms", "rise": 1, "fall": 2 } ] }
  ],
  "drain": { "delay": "1s" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" }
}
JSON
    mv "$IO_ROOT/new.json" "$IO_ROOT/anycastd.json"
}

pid=''
start_agent() {
    ip netns exec "$host" "$BIN" reconcile -c "$IO_ROOT/anycastd.json" >>"$IO_ROOT/anycastd.log" 2>&1 &
    pid=$!
    io_track_pid "$pid"
}
bird_established() { [ "$(io_bird_state "$bird" h)" = Established ]; }
frr_established() { [ "$(io_frr_state "$frr" 10.79.2.2)" = Established ]; }
in_fib() { ip -n "$1" -4 route show "${prefix%/32}" | grep -q via; }
not_in_fib() { ! in_fib "$1"; }
bird_route() { birdc -s "$bird/bird.ctl" show route "$prefix" | grep -F "$prefix"; }
bird_has() { bird_route >/dev/null; }
bird_gone() { ! bird_has; }
frr_path() { io_vtysh "$frr" -c "show bgp ipv4 unicast $prefix json" 2>/dev/null | jq -c '.paths[0] // empty'; }
frr_stale() { local p; p=$(frr_path); [ -n "$p" ] && jq -e '.stale == true' <<<"$p" >/dev/null; }
frr_fresh() { local p; p=$(frr_path); [ -n "$p" ] && jq -e '(.stale // false) == false' <<<"$p" >/dev/null; }
frr_gone() { [ -z "$(frr_path)" ]; }
bird_gr_active() { birdc -s "$bird/bird.ctl" show protocols all h | grep -q "graceful restart active"; }
bird_gr_done() { ! bird_gr_active && bird_established; }

# poll_start: one poller per router, each reading its kernel table at least every 10 ms (a read, then 5 ms
# of sleep) and writing one line a poll, "ms 1" (route there) or "ms 0", to poll.NS.
poll_start() {
    rm -f "$IO_ROOT/poll.stop"
    pollers=()
    local ns
    for ns in "$bns" "$fns"; do
        : >"$IO_ROOT/poll.$ns"
        (
            while [ ! -e "$IO_ROOT/poll.stop" ]; do
                now=${EPOCHREALTIME/./}
                if in_fib "$ns"; then echo "${now:0:13} 1"; else echo "${now:0:13} 0"; fi
                sleep 0.005
            done >>"$IO_ROOT/poll.$ns"
        ) &
        pollers+=($!)
        io_track_pid "$!"
    done
}
poll_stop() { touch "$IO_ROOT/poll.stop"; wait "${pollers[@]}"; }
polls() { cat "$IO_ROOT/poll.$bns" "$IO_ROOT/poll.$fns" | wc -l; }
missing_polls() { cat "$IO_ROOT/poll.$bns" "$IO_ROOT/poll.$fns" | awk '$2 != 1' | wc -l; }
# The mean gap between one router's polls, in ms.
poll_gap() {
    awk 'NR == 1 { first = $1 } { last = $1 } END { printf "%d", (NR > 1 ? (last - first) / (NR - 1) : 0) }' \
        "$IO_ROOT/poll.$1"
}
not() { ! "$@"; }
polls_all_had_it() { [ "$(missing_polls)" = 0 ] && [ "$(polls)" -ge 20 ]; }
# before A B: both are line numbers and A comes first.
before() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -lt "$2" ]; }

touch "$IO_ROOT/healthy"
write_config yes
start_agent
check "BIRD session established" io_wait 20 bird_established
check "FRR session established" io_wait 20 frr_established
check "route in BIRD's kernel table" io_wait 10 in_fib "$bns"
check "route in FRR's kernel table" io_wait 10 in_fib "$fns"
caps=$(birdc -s "$bird/bird.ctl" show protocols all h)
neighbor_caps=$(echo "$caps" | sed -n '/Neighbor capabilities/,/Session/p')
check "BIRD sees our Graceful Restart capability, restart time 30" \
    grep -q "Restart time: 30" <<<"$neighbor_caps"
check "BIRD sees forwarding state preserved for IPv4" grep -q "AF preserved:.*ipv4" <<<"$neighbor_caps"
frr_sees_capability() {
    io_vtysh "$frr" -c 'show bgp neighbors 10.79.2.2 json' | jq -e '.["10.79.2.2"].neighborCapabilities |
        (.gracefulRestart // .gracefulRestartCapability) == "advertisedAndReceived"' >/dev/null
}
check "FRR sees our Graceful Restart capability" io_wait 5 frr_sees_capability

# 2. kill -9, then start again.
mark=$(wc -l <"$bird/bird.log")
frr_mark=$(wc -l <"$frr/bgpd.log")
poll_start
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "BIRD keeps the route while the agent is away (graceful restart active)" io_wait 5 bird_gr_active
check "FRR keeps the route, stale, while the agent is away" io_wait 5 frr_stale
check "BIRD still has the route" bird_has
start_agent
check "BIRD: graceful restart done after the agent is back" io_wait 20 bird_gr_done
check "FRR: the route is fresh again" io_wait 20 frr_fresh
sleep 0.3
poll_stop
gaps="$(poll_gap "$bns")/$(poll_gap "$fns") ms"
check "the route never left either kernel table ($(polls) polls, every $gaps, $(missing_polls) without)" \
    polls_all_had_it
check "the agent knew it restarted (restart marker)" \
    grep -q "restarted after leaving the sessions" "$IO_ROOT/anycastd.log"
neighbor_caps() { birdc -s "$bird/bird.ctl" show protocols all h | sed -n '/Neighbor capabilities/,/Session/p'; }
check "BIRD saw the R bit in the new OPEN (Restart recovery)" grep -q "Restart recovery" <<<"$(neighbor_caps)"
after=$(tail -n +"$((mark + 1))" "$bird/bird.log")
route_line=$(grep -n "$prefix" <<<"$after" | head -1 | cut -d: -f1)
eor_line=$(grep -n "END-OF-RIB" <<<"$after" | grep -iv "send\|sending" | head -1 | cut -d: -f1)
check "BIRD got the route (log line ${route_line:-none}) before End-of-RIB (line ${eor_line:-none})" \
    before "$route_line" "$eor_line"
frr_after=$(tail -n +"$((frr_mark + 1))" "$frr/bgpd.log")
frr_route=$(grep -n "rcvd.*${prefix}" <<<"$frr_after" | head -1 | cut -d: -f1)
frr_eor=$(grep -n -i "rcvd End-of-RIB" <<<"$frr_after" | head -1 | cut -d: -f1)
check "FRR got the route (log line ${frr_route:-none}) before End-of-RIB (line ${frr_eor:-none})" \
    before "$frr_route" "$frr_eor"

# 3. A restart while the service is unhealthy: stale, never re-announced, then withdrawn by End-of-RIB.
check "route at BIRD before the unhealthy restart" io_wait 5 bird_has
stale_line=$(bird_route)
mark=$(wc -l <"$bird/bird.log")
kill -KILL "$pid"
wait "$pid" 2>/dev/null
rm -f "$IO_ROOT/healthy"
io_wait 5 bird_gr_active
: >"$IO_ROOT/seen"
t0=$(date +%s%N)
start_agent
gone_ms=''
while [ $(($(date +%s%N) - t0)) -lt 15000000000 ]; do
    line=$(bird_route)
    if [ -z "$line" ]; then
        gone_ms=$((($(date +%s%N) - t0) / 1000000))
        break
    fi
    echo "$line" >>"$IO_ROOT/seen"
    sleep 0.01
done
withdrawn_in_time() { [ -n "$stale_line" ] && before "${gone_ms:-}" 10000; }
check "unhealthy restart: the route is withdrawn once the first verdict is known (${gone_ms:-never} ms after start)" \
    withdrawn_in_time
other_readings() { [ -z "$stale_line" ] || sort -u "$IO_ROOT/seen" | grep -qvxF "$stale_line"; }
check "unhealthy restart: never re-announced in between ($(sort -u "$IO_ROOT/seen" | wc -l) distinct readings)" \
    not other_readings
imported_since() { tail -n +"$(($1 + 1))" "$bird/bird.log" | grep -F "$prefix" | grep -qi "added\|updated"; }
check "unhealthy restart: BIRD's route trace shows no import of it from the new session" not imported_since "$mark"
check "FRR drops it too" io_wait 5 frr_gone
check "the agent logged the verdict before End-of-RIB" \
    grep -q "End-of-RIB to the routers (every service has its first health verdict)" "$IO_ROOT/anycastd.log"
touch "$IO_ROOT/healthy"
check "healthy again: BIRD has the route" io_wait 10 bird_has
check "healthy again: FRR has the route" io_wait 10 frr_fresh

# 4. anycastd restart, then SIGTERM, then start: no withdraw, no Cease.
reply=$(ip netns exec "$host" "$BIN" restart --socket "$IO_ROOT/anycastd.sock" 2>&1)
check "anycastd restart is accepted ($reply)" grep -q "is a restart" <<<"$reply"
mark=$(wc -l <"$bird/bird.log")
poll_start
kill -TERM "$pid"
wait "$pid"
status=$?
check "the agent exits 0 at once for the restart (status $status)" [ "$status" = 0 ]
check "the agent logged a restart stop" grep -q "stopping for a restart" "$IO_ROOT/anycastd.log"
start_agent
check "BIRD: graceful restart done after anycastd restart" io_wait 20 bird_gr_done
check "FRR: fresh after anycastd restart" io_wait 20 frr_fresh
sleep 0.3
poll_stop
check "anycastd restart: the route never left either kernel table ($(polls) polls, $(missing_polls) without)" \
    polls_all_had_it
notification_since() { tail -n +"$(($1 + 1))" "$bird/bird.log" | grep -qi 'Received: Administrative\|Received: Cease'; }
check "anycastd restart: BIRD received no NOTIFICATION" not notification_since "$mark"

# 5. Without gracefulRestart: a plain SIGTERM drains (marker removed), and kill -9 withdraws at once.
check "the restart marker is there while the agent runs" [ -e "$IO_ROOT/state/restarting" ]
kill -TERM "$pid"
wait "$pid"
check "a plain stop drains and removes the restart marker" [ ! -e "$IO_ROOT/state/restarting" ]
write_config no
start_agent
check "without gracefulRestart: BIRD established" io_wait 20 bird_established
check "without gracefulRestart: route at BIRD" io_wait 10 in_fib "$bns"
bird_neighbor_has_gr() {
    birdc -s "$bird/bird.ctl" show protocols all h | sed -n '/Neighbor capabilities/,/Session/p' |
        grep -q 'Graceful restart'
}
check "without gracefulRestart: no capability at BIRD" not bird_neighbor_has_gr
reply=$(ip netns exec "$host" "$BIN" restart --socket "$IO_ROOT/anycastd.sock" 2>&1)
check "anycastd restart is refused without gracefulRestart" grep -q "no peer has Graceful Restart" <<<"$reply"
t0=$(date +%s%N)
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "without gracefulRestart: kill -9 withdraws at once at BIRD" io_wait 2 not_in_fib "$bns"
ms=$((($(date +%s%N) - t0) / 1000000))
check "without gracefulRestart: kill -9 withdraws at once at FRR" io_wait 2 not_in_fib "$fns"
echo "# withdrawn at BIRD within $ms ms of kill -9"

echo "# the tier took $SECONDS s"
[ "$failed" = 0 ] || {
    echo "# anycastd log:"
    sed 's/^/#   /' "$IO_ROOT/anycastd.log" | tail -80
}
echo "1..$n"
echo "gr: $passed passed, $failed failed"
[ "$failed" = 0 ]
