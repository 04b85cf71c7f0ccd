#!/usr/bin/env bash
# Benchmark: 10,000 /32s with one attribute set from this host to BIRD. Measures, in one run and on the
# same link, bgp-probe (anycastd's speaker) and ExaBGP 4.2 as the comparison: time from handing the
# routes to the speaker (session already Established) until BIRD holds all 10,000, and the number of
# UPDATE messages it took (tcpdump on the router side; bgp-probe's own counter as well).
# Usage: sudo Tests/bench/bgp-10k.sh [--probe PATH] [--count N] [--keep]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
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
if [ -z "$PROBE" ]; then
    (cd "$REPO" && swift build -c release --product bgp-probe >/dev/null 2>&1) || io_die "swift build -c release failed"
    PROBE="$(cd "$REPO" && swift build -c release --show-bin-path)/bgp-probe"
fi
io_init
if [ $KEEP = 0 ]; then trap io_cleanup EXIT; else trap 'io_log "kept $IO_ROOT (run io_cleanup by hand)"' EXIT; fi
IO_TAG=bench
n=20
io_lab bench $n
RNS=$(io_rns bench)
SNS=$(io_sns bench)
R4=$(io_raddr4 $n)
P4=$(io_saddr4 $n 2)
E4=$(io_saddr4 $n 3)
RDIR=$IO_ROOT/bird
io_bird_start "$RDIR" "$RNS" 65000 "$R4" "$R4" "$(io_raddr6 $n)" \
    "name=probe addr=$P4 as=65011 families=ipv4" "name=exa addr=$E4 as=65021 families=ipv4"

seq 0 $((COUNT - 1)) | awk '{ printf "10.%d.%d.%d/32\n", 100 + int($1 / 65536), int($1 / 256) % 256, $1 % 256 }' \
    >"$IO_ROOT/routes"
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
capture_start() { # tcpdump on the router's interface, BGP from one source
    ip netns exec "$RNS" tcpdump -U -i "$(io_rif bench $n)" -nn -s0 -w "$IO_ROOT/$1.pcap" "tcp port 179 and src host $2" \
        >/dev/null 2>&1 &
    CAP=$!
    io_track_pid $CAP
    sleep 0.5
}
capture_updates() { # UPDATE messages in a capture, TCP reassembled (bgp-count.py)
    sleep 0.5
    io_kill "$CAP"
    "$IO_PY" "$HERE/bgp-count.py" "$IO_ROOT/$1.pcap" | sed 's/.*updates=\([0-9]*\).*wire_ms=\([0-9.]*\).*first_ms=\([0-9]*\).*/\1 \2 \3/'
}

# 1. bgp-probe: establish with no routes, then hand it all of them at once.
mkdir -p "$IO_ROOT/probe"
mkfifo "$IO_ROOT/probe/ctl"
ip netns exec "$SNS" "$PROBE" --peer "$R4" --peer-as 65000 --local "$P4" --local-as 65011 --router-id "$P4" \
    --families ipv4 --hold 9 --community 65011:100 <"$IO_ROOT/probe/ctl" >"$IO_ROOT/probe/out" 2>"$IO_ROOT/probe/log" &
PROBE_PID=$!
io_track_pid $PROBE_PID
exec {CTL}>"$IO_ROOT/probe/ctl"
io_wait 20 grep -q '^state Established' "$IO_ROOT/probe/out" || io_die "bgp-probe did not establish (see $IO_ROOT/probe)"
sleep 1
echo status >&$CTL
sleep 0.3
before=$(grep '^status ' "$IO_ROOT/probe/out" | tail -1 | cut -d' ' -f2- | jq -r .updatesOut)
capture_start probe "$P4"
T0=$(now_ms)
echo "load $IO_ROOT/routes" >&$CTL
probe_ms=$(wait_count probe "$COUNT" 60)
# Count from the moment bgp-probe handed the routes to the speaker (its file parsing excluded).
io_wait 5 grep -q '^loaded ' "$IO_ROOT/probe/out"
handed=$(sed -n 's/^loaded .* at_ms=\([0-9]*\).*/\1/p' "$IO_ROOT/probe/out" | tail -1)
[ "$probe_ms" != timeout ] && [ -n "$handed" ] && probe_ms=$((probe_ms + T0 - handed))
T0=${handed:-$T0}
read -r probe_wire probe_span probe_first < <(capture_updates probe)
probe_start_ms=$((probe_first - T0))
echo status >&$CTL
sleep 0.3
after=$(grep '^status ' "$IO_ROOT/probe/out" | tail -1 | cut -d' ' -f2- | jq -r .updatesOut)
probe_counter=$((after - before))
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$PROBE_PID/status" 2>/dev/null)
echo stop >&$CTL

# 2. ExaBGP 4.2 from another address on the same link: one API command with every prefix.
EDIR=$IO_ROOT/exabgp
io_exabgp_start "$EDIR" "$SNS" 65021 "$E4" "$E4" "$(io_saddr6 $n 3)" "name=bird addr=$R4 as=65000 families=ipv4"
io_wait 30 bash -c "io_birdc() { birdc -s '$RDIR/bird.ctl' \"\$@\"; }; birdc -s '$RDIR/bird.ctl' show protocols exa | grep -q Established" ||
    io_die "ExaBGP did not establish (see $EDIR)"
sleep 1
capture_start exabgp "$E4"
T0=$(now_ms)
{
    printf 'neighbor %s announce attributes next-hop %s origin igp community [ 65021:100 ] nlri ' "$R4" "$E4"
    tr '\n' ' ' <"$IO_ROOT/routes"
    echo
} >>"$EDIR/commands"
exa_ms=$(wait_count exa "$COUNT" 60)
read -r exa_wire exa_span exa_first < <(capture_updates exabgp)
exa_start_ms=$((exa_first - T0))

echo
printf '%-22s %-13s %-15s %-16s %-15s %s\n' speaker "all at BIRD" "first UPDATE" "on the wire for" "UPDATEs (wire)" "UPDATEs (counter)"
printf '%-22s %-13s %-15s %-16s %-15s %s\n' "anycastd (bgp-probe)" "${probe_ms} ms" "${probe_start_ms} ms" "${probe_span} ms" "$probe_wire" "$probe_counter"
printf '%-22s %-13s %-15s %-16s %-15s %s\n' "ExaBGP 4.2 (API)" "${exa_ms} ms" "${exa_start_ms} ms" "${exa_span} ms" "$exa_wire" "-"
echo "times from handing the routes to the speaker; 'all at BIRD' polls birdc every 5 ms"
echo "prefixes: $COUNT /32 with one attribute set; bgp-probe RSS ${rss_kb:-?} kB"
