#!/usr/bin/env bash
# Benchmark: 10,000 /32s with one attribute set from this host to BIRD, three speakers side by side on the
# same link to the same BIRD, trial after trial in turn: bgp-probe (anycastd's speaker), ExaBGP 4.2 (one API
# command with every prefix) and GoBGP (`gobgp mrt inject global`: one gRPC AddPathStream from an MRT
# file, the fastest path its CLI has; it drops the end of its stream, so it is repeated, reversed, until
# all arrived). Each trial: time from handing the routes to the speaker (sessions
# already Established) until BIRD holds all of them, then everything is withdrawn and BIRD is back at 0.
# UPDATE messages of the first trial are counted on the wire (tcpdump on the router side, bgp-count.py).
# Usage: sudo Tests/bench/bgp-10k.sh [--probe PATH] [--count N] [--keep]   (TRIALS=N, default 20)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
PROBE=""
COUNT=10000
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
    --keep) KEEP=1; shift ;;
    --probe) PROBE=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    *) echo "usage: $0 [--probe PATH] [--count N]" >&2; exit 2 ;;
    esac
done
io_require
[ -n "$PROBE" ] || PROBE=$(bench_build bgp-probe)
io_init
if [ $KEEP = 0 ]; then trap io_cleanup EXIT; else trap 'io_log "kept $IO_ROOT (run io_cleanup by hand)"' EXIT; fi
IO_TAG=bench-10k
n=32
io_lab bench-10k $n
RNS=$(io_rns bench-10k)
SNS=$(io_sns bench-10k)
R4=$(io_raddr4 $n)
P4=$(io_saddr4 $n 2)
E4=$(io_saddr4 $n 3)
G4=$(io_saddr4 $n 4)
RDIR=$IO_ROOT/bird
io_bird_start "$RDIR" "$RNS" 65000 "$R4" "$R4" "$(io_raddr6 $n)" \
    "name=probe addr=$P4 as=65011 families=ipv4" "name=exa addr=$E4 as=65021 families=ipv4" \
    "name=gobgp addr=$G4 as=65031 families=ipv4"
io_track_pid "$(cat "$RDIR/bird.pid")"

seq 0 $((COUNT - 1)) | awk '{ printf "10.%d.%d.%d/32\n", 100 + int($1 / 65536), int($1 / 256) % 256, $1 % 256 }' \
    >"$IO_ROOT/routes"
: >"$IO_ROOT/empty"
count_at_bird() { # routes BIRD holds from one protocol
    io_birdc "$RDIR" show route protocol "$1" count | awk '/routes for/ { print $1; exit }'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_count() { # wait_count PROTO N TIMEOUT_S -> prints elapsed ms since $T0 or "timeout"
    local end=$(($(now_ms) + $3 * 1000))
    while [ "$(now_ms)" -lt $end ]; do
        if [ "$(count_at_bird "$1")" = "$2" ]; then
            echo $(($(now_ms) - T0))
            return 0
        fi
        sleep 0.005
    done
    echo timeout
    return 1
}
wait_count_or_stall() { # wait_count_or_stall PROTO N -> elapsed ms since $T0, or "timeout" once the count
    # has not moved for 300 ms (or after 60 s)
    local end=$(($(now_ms) + 60000)) last=-1 since
    since=$(now_ms)
    while [ "$(now_ms)" -lt $end ]; do
        local c
        c=$(count_at_bird "$1")
        if [ "$c" = "$2" ]; then
            echo $(($(now_ms) - T0))
            return 0
        fi
        if [ "$c" != "$last" ]; then
            last=$c
            since=$(now_ms)
        elif [ $(($(now_ms) - since)) -gt 300 ]; then
            break
        fi
        sleep 0.005
    done
    echo timeout
    return 1
}
capture_start() { # tcpdump on the router's interface, BGP from one source; returns once it listens
    ip netns exec "$RNS" tcpdump --immediate-mode -U -i "$(io_rif bench-10k $n)" -nn -s0 -w "$IO_ROOT/$1.pcap" \
        "tcp port 179 and src host $2" >/dev/null 2>"$IO_ROOT/$1.tcpdump" &
    CAP=$!
    io_track_pid $CAP
    io_wait 10 grep -q 'listening on' "$IO_ROOT/$1.tcpdump" || io_die "tcpdump did not start (see $IO_ROOT/$1.tcpdump)"
}
capture_updates() { # UPDATE messages in a capture, TCP reassembled (bgp-count.py); --immediate-mode hands
    # tcpdump each packet at once (else up to 1 s later, after it was stopped)
    sleep 0.5
    io_kill "$CAP"
    "$IO_PY" "$HERE/bgp-count.py" "$IO_ROOT/$1.pcap" | sed 's/.*updates=\([0-9]*\).*/\1/'
}

# bgp-probe: established with no routes; "load FILE" hands it exactly the prefixes in FILE.
mkdir -p "$IO_ROOT/probe"
mkfifo "$IO_ROOT/probe/ctl"
ip netns exec "$SNS" "$PROBE" --peer "$R4" --peer-as 65000 --local "$P4" --local-as 65011 --router-id "$P4" \
    --families ipv4 --hold 9 --community 65011:100 <"$IO_ROOT/probe/ctl" >"$IO_ROOT/probe/out" 2>"$IO_ROOT/probe/log" &
PROBE_PID=$!
io_track_pid $PROBE_PID
exec {CTL}>"$IO_ROOT/probe/ctl"

# ExaBGP: routes through its API (the commands file of the interop library's API process).
EDIR=$IO_ROOT/exabgp
io_exabgp_start "$EDIR" "$SNS" 65021 "$E4" "$E4" "$(io_saddr6 $n 3)" "name=bird addr=$R4 as=65000 families=ipv4"
{
    printf 'neighbor %s announce attributes next-hop %s origin igp community [ 65021:100 ] nlri ' "$R4" "$E4"
    tr '\n' ' ' <"$IO_ROOT/routes"
    echo
} >"$EDIR/announce"
{
    printf 'neighbor %s withdraw attributes next-hop %s nlri ' "$R4" "$E4"
    tr '\n' ' ' <"$IO_ROOT/routes"
    echo
} >"$EDIR/withdraw"

# GoBGP: its own config (the interop library's rejects exports), routes from an MRT TABLE_DUMP_V2 file.
GDIR=$IO_ROOT/gobgp
mkdir -p "$GDIR"
cat >"$GDIR/gobgpd.toml" <<TOML
[global.config]
  as = 65031
  router-id = "$G4"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$R4"
    peer-as = 65000
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [neighbors.transport.config]
    local-address = "$G4"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
TOML
ip netns exec "$SNS" gobgpd -f "$GDIR/gobgpd.toml" -p --api-hosts "unix://$GDIR/gobgp.sock" --pprof-disable \
    >"$GDIR/gobgpd.log" 2>&1 &
io_track_pid $!
"$IO_PY" "$HERE/mrt-routes.py" "$IO_ROOT/routes" "$G4" 65031 65031:100 >"$GDIR/routes.mrt" ||
    io_die "mrt-routes.py failed"
"$IO_PY" "$HERE/mrt-routes.py" <(tac "$IO_ROOT/routes") "$G4" 65031 65031:100 >"$GDIR/routes-reversed.mrt" ||
    io_die "mrt-routes.py failed"
gobgp_cli() { gobgp --target "unix://$GDIR/gobgp.sock" "$@"; }

for proto in probe exa gobgp; do
    io_wait 30 bench_bird_established "$RDIR" $proto || io_die "$proto did not establish with BIRD (see $IO_ROOT)"
done
echo "$COUNT /32s to BIRD $(bird --version 2>&1 | awk '{ print $NF }'), $TRIALS trials, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

probe_ms=() exa_ms=() gobgp_ms=() gobgp_injects=() probe_updates='' exa_updates='' gobgp_updates=''
for trial in $(seq "$TRIALS"); do
    # anycastd's speaker; counted from the moment bgp-probe handed the routes over (its file parsing excluded).
    [ "$trial" = 1 ] && capture_start probe "$P4"
    loads=$(grep -c '^loaded ' "$IO_ROOT/probe/out")
    T0=$(now_ms)
    echo "load $IO_ROOT/routes" >&$CTL
    ms=$(wait_count probe "$COUNT" 60)
    io_wait 5 bash -c "[ \$(grep -c '^loaded ' '$IO_ROOT/probe/out') -gt $loads ]"
    handed=$(sed -n 's/^loaded .* at_ms=\([0-9]*\).*/\1/p' "$IO_ROOT/probe/out" | tail -1)
    [ "$ms" != timeout ] && [ -n "$handed" ] && ms=$((ms + T0 - handed))
    probe_ms+=("$ms")
    [ "$trial" = 1 ] && probe_updates=$(capture_updates probe)
    echo "load $IO_ROOT/empty" >&$CTL
    wait_count probe 0 60 >/dev/null || io_die "bgp-probe's routes were not withdrawn"

    [ "$trial" = 1 ] && capture_start exa "$E4"
    T0=$(now_ms)
    cat "$EDIR/announce" >>"$EDIR/commands"
    exa_ms+=("$(wait_count exa "$COUNT" 60)")
    [ "$trial" = 1 ] && exa_updates=$(capture_updates exa)
    cat "$EDIR/withdraw" >>"$EDIR/commands"
    wait_count exa 0 60 >/dev/null || io_die "ExaBGP's routes were not withdrawn"

    [ "$trial" = 1 ] && capture_start gobgp "$G4"
    # `gobgp mrt inject` exits before gobgpd has read the end of its stream (here the last 300-700 of
    # 10,000 routes never arrive, every time), so when BIRD's count stops short for 300 ms it is run again
    # with the file in reverse order, whose start is that lost end; the runs and the wait are counted.
    T0=$(now_ms)
    injects=0 ms=timeout
    while [ $injects -lt 4 ] && [ "$ms" = timeout ]; do
        file=$GDIR/routes.mrt
        [ $((injects % 2)) = 1 ] && file=$GDIR/routes-reversed.mrt
        injects=$((injects + 1))
        gobgp_cli mrt inject global "$file" >>"$GDIR/inject.log" 2>&1 || io_die "gobgp mrt inject failed"
        ms=$(wait_count_or_stall gobgp "$COUNT")
    done
    gobgp_ms+=("$ms")
    gobgp_injects+=("$injects")
    [ "$trial" = 1 ] && gobgp_updates=$(capture_updates gobgp)
    gobgp_cli global rib -a ipv4 del all >>"$GDIR/inject.log" 2>&1
    wait_count gobgp 0 60 >/dev/null || io_die "GoBGP's routes were not withdrawn"
done
echo stop >&$CTL
echo "bgp-probe: ${probe_ms[*]} ms; ExaBGP: ${exa_ms[*]} ms; GoBGP: ${gobgp_ms[*]} ms (mrt inject runs: ${gobgp_injects[*]})"
label=$(printf "%'d" "$COUNT" 2>/dev/null || echo "$COUNT")
bench_row "$label /32s until all at BIRD (anycastd's speaker, bgp-probe; UPDATEs on the wire)" \
    "$(bench_stats ms "${probe_ms[@]}"), $probe_updates UPDATEs" \
    "ExaBGP 4.2 API $(bench_stats ms "${exa_ms[@]}"), $exa_updates UPDATEs" \
    "p50 $(bench_ratio "$(bench_p50 "${probe_ms[@]}")" "$(bench_p50 "${exa_ms[@]}")")"
bench_row "$label /32s until all at BIRD, against GoBGP" \
    "$(bench_stats ms "${probe_ms[@]}"), $probe_updates UPDATEs" \
    "GoBGP (mrt inject, gRPC stream; runs until all arrived: p50 $(bench_p50 "${gobgp_injects[@]}"), max $(bench_max "${gobgp_injects[@]}")) $(bench_stats ms "${gobgp_ms[@]}"), $gobgp_updates UPDATEs" \
    "p50 $(bench_ratio "$(bench_p50 "${probe_ms[@]}")" "$(bench_p50 "${gobgp_ms[@]}")")"
