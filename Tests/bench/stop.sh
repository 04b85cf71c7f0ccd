#!/usr/bin/env bash
# Benchmark: planned stop with two hosts. Both hosts run dnsmasq on the anycast /32 192.0.2.53 and announce
# it to one BIRD, which installs both paths in its namespace's FIB (ECMP, L4 hash); a client in the router
# namespace sends a DNS query every 5 ms from a new source port (dns-client.py, 300 ms to answer). Host 2
# runs anycastd throughout. On host 1, in turn, each trial stops the agent one way and, once it has
# exited, stops dnsmasq (as a host being taken down does), then counts the queries lost:
#   anycastd SIGTERM (GRACEFUL_SHUTDOWN for the drain delay of 500 ms, then withdraw and NOTIFICATION; this
#   BIRD has no policy for the community, the worst case), ExaBGP SIGTERM (its healthcheck helper withdraws,
#   ExaBGP sends NOTIFICATION), and kill -9 of each (the kernel closes the TCP connection);
# and, for each agent, the agent and dnsmasq sent SIGTERM at the same moment (a host going down unordered:
# anycastd's checks run every 10 ms during the stop and the first failure withdraws).
# Usage: sudo Tests/bench/stop.sh [--bin PATH]   (TRIALS=N, default 20)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=''
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH]" >&2; exit 2 ;;
    esac
done
io_require
command -v dnsmasq >/dev/null || io_die "dnsmasq missing (apt-get install dnsmasq-base)"
[ -n "$BIN" ] || BIN=$(bench_build anycastd)
io_init
trap io_cleanup EXIT
IO_TAG=bench-stop
RNS=acd-bench-stop-r
VIP=192.0.2.53/32
for ns in $RNS acd-bench-stop-h1 acd-bench-stop-h2; do
    ip netns delete $ns 2>/dev/null
    ip netns add $ns || io_die "ip netns add $ns failed"
    echo $ns >>"$IO_ROOT/netns"
    ip -n $ns link set lo up
done
ip netns exec $RNS sysctl -qw net.ipv4.fib_multipath_hash_policy=1
for h in 1 2; do
    ip link add bst-r$h netns $RNS type veth peer name bst-h$h netns acd-bench-stop-h$h || io_die "veth failed"
    ip -n $RNS addr add 10.77.$((40 + h)).1/24 dev bst-r$h
    ip -n acd-bench-stop-h$h addr add 10.77.$((40 + h)).2/24 dev bst-h$h
    ip -n $RNS link set bst-r$h up
    ip -n acd-bench-stop-h$h link set bst-h$h up
    ip -n acd-bench-stop-h$h addr add $VIP dev lo
done
# On host 1 ExaBGP speaks from its own address: BIRD tells sessions apart by the neighbor's address.
ip -n acd-bench-stop-h1 addr add 10.77.41.3/24 dev bst-h1
RDIR=$IO_ROOT/bird
BENCH_BIRD_KERNEL=1 bench_bird_start "$RDIR" "$RNS" 10.77.41.1 \
    "name=h1acd local=10.77.41.1 addr=10.77.41.2 as=65011" "name=h1exa local=10.77.41.1 addr=10.77.41.3 as=65021" \
    "name=h2acd local=10.77.42.1 addr=10.77.42.2 as=65012"

start_dnsmasq() { # start_dnsmasq HOST
    local d=$IO_ROOT/h$1
    mkdir -p "$d"
    rm -f "$d/dnsmasq.pid"
    ip netns exec acd-bench-stop-h$1 dnsmasq --conf-file=/dev/null --listen-address=192.0.2.53 --bind-dynamic \
        --no-resolv --no-hosts --txt-record=id.lab,h$1 --pid-file="$d/dnsmasq.pid" --user=root
    for _ in $(seq 100); do [ -s "$d/dnsmasq.pid" ] && break; sleep 0.02; done
    io_track_pid "$(cat "$d/dnsmasq.pid")"
}
start_anycastd() { # start_anycastd HOST ASN -> sets AGENT
    local d=$IO_ROOT/h$1 me=10.77.$((40 + $1)).2
    mkdir -p "$d"
    cat >"$d/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": $2, "routerId": "$me", "holdTime": "9s",
           "peers": [ { "name": "r", "address": "10.77.$((40 + $1)).1", "asn": 65000, "localAddress": "$me" } ] },
  "services": [ { "name": "dns", "prefixes": ["$VIP"],
    "checks": [ { "dns": { "name": "id.lab", "type": "TXT" }, "interval": "100ms", "timeout": "50ms",
                  "rise": 1, "fall": 3 } ] } ],
  "drain": { "delay": "500ms" },
  "stateDirectory": "$d/state",
  "control": { "socket": "$d/anycastd.sock" }
}
JSON
    ip netns exec acd-bench-stop-h$1 "$BIN" reconcile -c "$d/anycastd.json" >>"$d/anycastd.log" 2>&1 &
    AGENT=$!
    io_track_pid $AGENT
}
start_exabgp() { # host 1 only -> sets AGENT
    local e=$IO_ROOT/h1/exabgp
    mkdir -p "$e"
    cat >"$e/healthcheck.sh" <<SH
#!/bin/sh
exec /usr/bin/python3 -m exabgp.application.healthcheck --no-syslog --no-ack --pid $e/healthcheck.pid \\
    --interval 0.1 --fast-interval 0.1 --rise 1 --fall 3 --timeout 1 --withdraw-on-down \\
    --no-ip-setup --ip $VIP --next-hop 10.77.41.3 --cmd 'dig +time=1 +tries=1 @192.0.2.53 id.lab TXT' 2>>$e/healthcheck.log
SH
    chmod +x "$e/healthcheck.sh"
    cat >"$e/exabgp.conf" <<CONF
process healthcheck {
  run $e/healthcheck.sh;
  encoder text;
}
neighbor 10.77.41.1 {
  router-id 10.77.41.3;
  local-address 10.77.41.3;
  local-as 65021;
  peer-as 65000;
  hold-time 9;
  family { ipv4 unicast; }
  api { processes [ healthcheck ]; }
}
CONF
    ip netns exec acd-bench-stop-h1 env exabgp.daemon.user=root exabgp.api.cli=false exabgp.daemon.drop=false \
        exabgp.api.ack=false exabgp.log.destination="$e/exabgp.log" exabgp.tcp.bind=10.77.41.3 \
        /usr/sbin/exabgp "$e/exabgp.conf" >>"$e/exabgp.out" 2>&1 &
    AGENT=$!
    io_track_pid $AGENT
}

start_dnsmasq 1
start_dnsmasq 2
start_anycastd 2 65012
io_wait 30 bench_bird_has "$RDIR" h2acd $VIP || io_die "host 2's route never reached BIRD (see $IO_ROOT/h2)"
echo "planned stop, two hosts, a query every 5 ms, BIRD $(bird --version 2>&1 | awk '{ print $NF }'), $TRIALS trials," \
    "$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# trial AGENT_KIND SIGNAL -> prints the queries lost (or "error: ...")
trial() {
    local kind=$1 signal=$2 proto stop=$IO_ROOT/client.stop out
    if [ "$kind" = anycastd ]; then start_anycastd 1 65011; proto=h1acd; else start_exabgp; proto=h1exa; fi
    io_wait 30 bench_bird_has "$RDIR" $proto $VIP || { echo "error: host 1's $kind route never reached BIRD"; return; }
    # Both paths in the router's FIB before the client starts.
    io_wait 5 bash -c "ip -n $RNS route show $VIP | grep -q 'via 10.77.41'" ||
        { echo "error: no ECMP route in the router's FIB"; return; }
    rm -f "$stop"
    ip netns exec $RNS "$IO_PY" "$HERE/dns-client.py" 192.0.2.53 5 300 "$stop" 30 >"$IO_ROOT/client.out" &
    local client=$!
    sleep 0.5
    if [ "$signal" = TOGETHER ]; then
        # The host going down without ordering: the agent and the service get SIGTERM at the same moment.
        kill -TERM "$AGENT" "$(cat "$IO_ROOT/h1/dnsmasq.pid")"
        signal=TERM
    else
        kill -"$signal" "$AGENT"
    fi
    for _ in $(seq 300); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.01; done
    kill -0 "$AGENT" 2>/dev/null && { kill -KILL "$AGENT"; echo "error: $kind did not exit within 3 s of SIG$signal"; }
    wait "$AGENT" 2>/dev/null
    kill -KILL "$(cat "$IO_ROOT/h1/dnsmasq.pid" 2>/dev/null)" 2>/dev/null
    # Queries sent until then are answered or lost within the client's 300 ms.
    sleep 0.5
    touch "$stop"
    wait $client
    out=$(cat "$IO_ROOT/client.out")
    # Host 1 must have served some queries, or the trial measured nothing.
    grep -q 'h1=' <<<"$out" || { echo "error: host 1 served no query ($out)"; return; }
    sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$out"
    # ExaBGP's helper outlives a kill -9 of ExaBGP (reparented, it notices within one interval); make sure.
    local hc
    hc=$(cat "$IO_ROOT/h1/exabgp/healthcheck.pid" 2>/dev/null)
    [ -n "$hc" ] && grep -q healthcheck "/proc/$hc/cmdline" 2>/dev/null && kill -KILL "$hc"
    rm -f "$IO_ROOT/h1/exabgp/healthcheck.pid"
    start_dnsmasq 1
    io_wait 10 bash -c "! birdc -s '$RDIR/bird.ctl' show protocols $proto | grep -q Established" ||
        { echo "error: BIRD still has a session with host 1"; return; }
}

declare -A lost
variants=("anycastd TERM" "exabgp TERM" "anycastd KILL" "exabgp KILL" "anycastd TOGETHER" "exabgp TOGETHER")
for t in $(seq "$TRIALS"); do
    for v in "${variants[@]}"; do
        r=$(trial $v)
        case $r in error:*) io_die "$v, trial $t: ${r#error: }" ;; esac
        lost[$v]="${lost[$v]:-} $r"
    done
done
for v in "${variants[@]}"; do echo "$v: lost ${lost[$v]}"; done
sum() { local s=0 v; for v in "$@"; do s=$((s + v)); done; echo $s; }
# shellcheck disable=SC2086
{
    bench_row "planned stop (SIGTERM), then the service; queries lost of one every 5 ms, two hosts" \
        "$(bench_stats queries ${lost[anycastd TERM]}), $(sum ${lost[anycastd TERM]}) in all" \
        "ExaBGP + healthcheck $(bench_stats queries ${lost[exabgp TERM]}), $(sum ${lost[exabgp TERM]}) in all" \
        "$(bench_ratio "$(sum ${lost[anycastd TERM]})" "$(sum ${lost[exabgp TERM]})") (sums)"
    bench_row "agent killed (kill -9), then the service; queries lost" \
        "$(bench_stats queries ${lost[anycastd KILL]}), $(sum ${lost[anycastd KILL]}) in all" \
        "ExaBGP + healthcheck $(bench_stats queries ${lost[exabgp KILL]}), $(sum ${lost[exabgp KILL]}) in all" \
        "$(bench_ratio "$(sum ${lost[anycastd KILL]})" "$(sum ${lost[exabgp KILL]})") (sums)"
    bench_row "agent and service stopped together (SIGTERM to both at once); queries lost" \
        "$(bench_stats queries ${lost[anycastd TOGETHER]}), $(sum ${lost[anycastd TOGETHER]}) in all" \
        "ExaBGP + healthcheck $(bench_stats queries ${lost[exabgp TOGETHER]}), $(sum ${lost[exabgp TOGETHER]}) in all" \
        "$(bench_ratio "$(sum ${lost[anycastd TOGETHER]})" "$(sum ${lost[exabgp TOGETHER]})") (sums)"
}
