#!/usr/bin/env bash
# The whole daemon with BFD against BIRD (`bfd on` in its BGP protocol), on this host's kernel: anycastd
# runs with interface.kind "existing" on lo in one namespace, BIRD in another, joined by a veth.
# Checks: BFD comes Up at both ends next to the BGP session; when the host's egress is silently dropped
# (tc pfifo limit 0) BIRD loses the route within about 3 x 100 ms, long before the 9 s hold time, and the
# agent ends its BGP session (Cease/BFD Down); in the other direction the agent's own BFD detects the
# failure and ends the session; each time both come back when the link heals; taking bfd out of the
# configuration stops BFD with AdminDown and BGP runs on without it.
# Usage: sudo Tests/interop/daemon-bfd.sh [--bin PATH]. Prints TAP lines and `daemon-bfd: N passed, N failed`.
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
IO_TAG=daemon-bfd

now_ms() { date +%s%3N; }

host=acd-io-bf-h router=acd-io-bf-r
for ns in $host $router; do
    ip netns delete "$ns" 2>/dev/null
    ip netns add "$ns" && echo "$ns" >>"$IO_ROOT/netns"
    ip -n "$ns" link set lo up
done
ip link add bfr netns "$router" type veth peer name bfh netns "$host"
ip -n "$router" addr add 10.79.1.1/24 dev bfr
ip -n "$host" addr add 10.79.1.2/24 dev bfh
ip -n "$router" link set bfr up
ip -n "$host" link set bfh up

bdir=$IO_ROOT/bird
mkdir -p "$bdir"
cat >"$bdir/bird.conf" <<CONF
router id 10.79.1.1;
log "$bdir/bird.log" all;
protocol device { scan time 10; }
protocol bfd { interface "bfr" { interval 100 ms; multiplier 3; }; }
protocol bgp h {
  local 10.79.1.1 as 65000;
  neighbor 10.79.1.2 as 65011;
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;
  error wait time 1, 5; error forget time 10;
  bfd on;
  ipv4 { import all; export none; };
}
CONF
ip netns exec "$router" bird -c "$bdir/bird.conf" -s "$bdir/bird.ctl" -P "$bdir/bird.pid" || io_die "bird failed"
for _ in $(seq 50); do [ -s "$bdir/bird.pid" ] && break; sleep 0.1; done
echo "$(cat "$bdir/bird.pid")" >>"$IO_ROOT/pids"

write_config() { # write_config with-bfd|no-bfd
    local bfd=''
    [ "$1" = with-bfd ] && bfd=', "bfd": { "minInterval": "100ms", "multiplier": 3 }'
    cat >"$IO_ROOT/new.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.79.1.2", "holdTime": "9s",
           "peers": [ { "name": "r1", "address": "10.79.1.1", "asn": 65000, "localAddress": "10.79.1.2"$bfd } ] },
  "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32"] } ],
  "drain": { "delay": "1s" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" },
  "metrics": { "listen": "10.79.1.2:9477" }
}
JSON
    mv "$IO_ROOT/new.json" "$IO_ROOT/anycastd.json"
}

birdc_() { birdc -s "$bdir/bird.ctl" "$@"; }
bird_bfd() { birdc_ show bfd sessions | awk '$1 == "10.79.1.2" { print $3 }'; }
bird_bfd_is() { [ "$(bird_bfd)" = "$1" ]; }
bgp_up() { birdc_ show protocols h | grep -q Established; }
has_route() { birdc_ show route 192.0.2.53/32 | grep -q 192.0.2.53/32; }
no_route() { ! has_route; }
since() { birdc_ show protocols h | awk '$1 == "h" { print $4 " " $5 }'; }
scrape() { ip netns exec "$host" curl -sf --max-time 2 http://10.79.1.2:9477/metrics; }
metric_is() { scrape | grep -qxF "$1 $2"; }
logged() { grep -q "$1" "$IO_ROOT/anycastd.log"; }
# wait_ms LIMIT_S COMMAND...: polls every 10 ms; prints the milliseconds it took, returns 1 on timeout.
wait_ms() {
    local limit=$1 t0
    shift
    t0=$(now_ms)
    while [ $(($(now_ms) - t0)) -lt $((limit * 1000)) ]; do
        if "$@"; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.01
    done
    return 1
}

write_config with-bfd
ip netns exec "$host" "$BIN" reconcile -c "$IO_ROOT/anycastd.json" >"$IO_ROOT/anycastd.log" 2>&1 &
pid=$!
io_track_pid $pid

check "BGP established with BIRD" io_wait 20 bgp_up
check "BIRD has the route" io_wait 5 has_route
check "BIRD's BFD session to the agent is Up" io_wait 10 bird_bfd_is Up
check "the agent's metrics say BFD up" io_wait 5 metric_is 'anycastd_bfd_up{address="10.79.1.1",peer="r1"}' 1
check "the agent logged BFD up" logged "peer r1: BFD up"

# 1. The host's egress silently dropped: BIRD's BFD times out, BIRD drops the session and the route.
ip netns exec "$host" tc qdisc replace dev bfh root pfifo limit 0
if ms=$(wait_ms 5 no_route); then
    if [ "$ms" -lt 1000 ]; then ok "host egress cut: BIRD drops the route in $ms ms (BFD 3 x 100 ms; hold time 9 s)"; else not_ok "host egress cut: BIRD drops the route in $ms ms, want < 1000"; fi
else
    not_ok "host egress cut: BIRD still has the route after 5 s"
fi
check "BIRD says why: BFD" sh -c "birdc -s $bdir/bird.ctl show protocols all h | grep -qi 'BFD'"
check "the agent's BFD goes down too (BIRD tells it Down)" io_wait 3 logged "peer r1: BFD down"
# BIRD's Cease (which still reaches the agent) or the agent's own Cease/BFD Down, whichever comes first.
check "the agent's BGP session is down within 1 s" io_wait 1 metric_is 'anycastd_bgp_peer_up{address="10.79.1.1",peer="r1"}' 0
ip netns exec "$host" tc qdisc del dev bfh root
check "healed: BFD Up again at BIRD" io_wait 10 bird_bfd_is Up
check "healed: BGP re-established and the route is back" io_wait 20 has_route
r1_since=$(since)

# 2. The router's egress dropped: the agent's own BFD detects the silence and ends the session.
lines_before=$(wc -l <"$IO_ROOT/anycastd.log")
ip netns exec "$router" tc qdisc replace dev bfr root pfifo limit 0
new_log() { tail -n +$((lines_before + 1)) "$IO_ROOT/anycastd.log"; }
detected() { new_log | grep -q "peer r1: BFD down (Control Detection Time Expired"; }
if ms=$(wait_ms 5 detected); then
    if [ "$ms" -lt 1000 ]; then ok "router egress cut: the agent's BFD detects it in $ms ms (3 x 100 ms)"; else not_ok "router egress cut: detected in $ms ms, want < 1000"; fi
else
    not_ok "router egress cut: the agent's BFD did not detect it in 5 s: $(new_log | tail -3 | tr '\n' '|')"
fi
check "the agent ends its BGP session with Cease/BFD Down" io_wait 2 sh -c "tail -n +$((lines_before + 1)) $IO_ROOT/anycastd.log | grep -q 'BFD session down: resetting'"
check "BIRD drops the route (our Down reaches it)" io_wait 3 no_route
check "the agent's metrics say BFD down" io_wait 3 metric_is 'anycastd_bfd_up{address="10.79.1.1",peer="r1"}' 0
ip netns exec "$router" tc qdisc del dev bfr root
check "healed: BFD Up again" io_wait 10 bird_bfd_is Up
check "healed: the route is back" io_wait 20 has_route
sleep 1
r1_since=$(since)

# 3. bfd taken out of the configuration: the agent stops BFD with AdminDown. RFC 5882 §3.2 says a peer
# should not take that as a failure, but BIRD 2.0.12 does (its bfd_request_notify treats any Up -> Down as
# down), so BIRD resets the session once; it must come back without BFD, since BGP never waits for it.
write_config no-bfd
check "BIRD's BFD session leaves Up (AdminDown from the agent)" io_wait 5 sh -c "! birdc -s $bdir/bird.ctl show bfd sessions | awk '\$1 == \"10.79.1.2\" { print \$3 }' | grep -qx Up"
check "the agent logged BFD stopped" io_wait 3 logged "peer r1: BFD stopped"
check "the BGP session runs without BFD: BIRD has the route" io_wait 20 has_route
check "the agent's metrics have no BFD series any more" sh -c "! ip netns exec $host curl -sf --max-time 2 http://10.79.1.2:9477/metrics | grep -q '^anycastd_bfd_up{'"

kill -TERM $pid
wait $pid
check "SIGTERM: the agent exits 0" [ $? = 0 ]

[ "$failed" = 0 ] || { echo "# anycastd log:"; sed 's/^/#   /' "$IO_ROOT/anycastd.log"; echo "# bird:"; birdc_ show protocols all h | sed 's/^/#   /'; grep -i bfd "$bdir/bird.log" | tail -15 | sed 's/^/#   /'; }
echo "1..$n"
echo "daemon-bfd: $passed passed, $failed failed"
[ "$failed" = 0 ]
