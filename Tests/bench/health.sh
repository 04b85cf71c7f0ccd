#!/usr/bin/env bash
# Benchmark: health failure -> route gone at BIRD, anycastd next to ExaBGP 4.2 with its healthcheck helper,
# side by side: one dnsmasq on the anycast /32 192.0.2.53 in the host namespace, both speakers announcing
# that /32 to the same BIRD (two sessions), both checking it with a DNS query at the same settings
# (every 100 ms, fall 3, rise 1; ExaBGP: `--interval 0.1 --fast-interval 0.1 --rise 1 --fall 3
# --withdraw-on-down`, `dig` as its --cmd). Each trial kills dnsmasq once; both speakers see the same
# outage. Times are from the kill to BIRD's own trace of the removal (BIRD's log, microseconds), so the
# benchmark's waiting adds nothing. Also: CPU of each speaker during the trials (ExaBGP: the daemon plus
# its helper and the helper's reaped sh/dig), and the withdraws BIRD received while the service stayed
# down (BIRD's import statistics). Then the same with a hung server (SIGSTOP), and a configuration edit
# until the new route is at BIRD: anycastd's file saved (rename-write), against a BIRD on the host as the
# speaker whose include file of static routes is saved the same way and then `birdc configure` run (what
# anycast-healthchecker and most scripts around BIRD do). Last, anycastd alone with `fastInterval` (issue 11):
# the same check with "fastInterval": "10ms"; the kill trials again, the time split into its parts from
# packet timestamps (tcpdump: kill → first failed query → third → withdraw UPDATE on the wire → BIRD), and
# the agent's CPU at steady state (service up, nothing failing) without and with fastInterval.
# Usage: sudo Tests/bench/health.sh [--bin PATH] [--fast-ms N]   (TRIALS=N, default 20; DOWN_MS: outage
# after both withdrew, default 1000; STEADY_S: each steady-state CPU window, default 30)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=''
DOWN_MS=${DOWN_MS:-1000}
# Trials of the comparison with ExaBGP (0 skips it, for the fastInterval rows alone).
CMP_TRIALS=${CMP_TRIALS:-$TRIALS}
STEADY_S=${STEADY_S:-30}
FAST_MS=10
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    --fast-ms) FAST_MS=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--fast-ms N]" >&2; exit 2 ;;
    esac
done
io_require
command -v dnsmasq >/dev/null || io_die "dnsmasq missing (apt-get install dnsmasq-base)"
command -v dig >/dev/null || io_die "dig missing (apt-get install bind9-dnsutils)"
command -v tcpdump >/dev/null || io_die "tcpdump missing (apt-get install tcpdump)"
[ -n "$BIN" ] || BIN=$(bench_build anycastd)
io_init
trap io_cleanup EXIT
IO_TAG=bench-health
n=31
io_lab bench-health $n
RNS=$(io_rns bench-health)
HNS=$(io_sns bench-health)
R4=$(io_raddr4 $n)
A4=$(io_saddr4 $n 2)
E4=$(io_saddr4 $n 3)
F4=$(io_saddr4 $n 4)
VIP=192.0.2.53/32
RDIR=$IO_ROOT/bird
bench_bird_start "$RDIR" "$RNS" "$R4" "name=acd local=$R4 addr=$A4 as=65011" "name=exa local=$R4 addr=$E4 as=65021" \
    "name=birdspk local=$R4 addr=$F4 as=65041"

D=$IO_ROOT/host
mkdir -p "$D"
ip -n "$HNS" addr add $VIP dev lo
start_dnsmasq() {
    rm -f "$D/dnsmasq.pid"
    ip netns exec "$HNS" dnsmasq --conf-file=/dev/null --listen-address=192.0.2.53 --bind-dynamic --no-resolv \
        --no-hosts --txt-record=id.lab,bench --pid-file="$D/dnsmasq.pid" --user=root
    for _ in $(seq 100); do [ -s "$D/dnsmasq.pid" ] && break; sleep 0.02; done
    io_track_pid "$(cat "$D/dnsmasq.pid")"
}
start_dnsmasq

cat >"$D/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "$A4", "holdTime": "9s",
           "peers": [ { "name": "r", "address": "$R4", "asn": 65000, "localAddress": "$A4" } ] },
  "services": [ { "name": "dns", "prefixes": ["$VIP"],
    "checks": [ { "dns": { "server": "192.0.2.53", "name": "id.lab", "type": "TXT" },
                  "interval": "100ms", "timeout": "50ms", "rise": 1, "fall": 3 } ] } ],
  "stateDirectory": "$D/state",
  "control": { "socket": "$D/anycastd.sock" }
}
JSON
ip netns exec "$HNS" "$BIN" reconcile -c "$D/anycastd.json" >"$D/anycastd.log" 2>&1 &
ACD=$!
io_track_pid $ACD

# ExaBGP with its healthcheck helper as API process, as its documentation shows, at its fastest settings.
E=$IO_ROOT/exabgp
mkdir -p "$E"
cat >"$E/healthcheck.sh" <<SH
#!/bin/sh
exec /usr/bin/python3 -m exabgp.application.healthcheck --no-syslog --no-ack --pid $E/healthcheck.pid \\
    --interval 0.1 --fast-interval 0.1 --rise 1 --fall 3 --timeout 1 --withdraw-on-down \\
    --no-ip-setup --ip $VIP --next-hop $E4 --cmd 'dig +time=1 +tries=1 @192.0.2.53 id.lab TXT' 2>>$E/healthcheck.log
SH
chmod +x "$E/healthcheck.sh"
cat >"$E/exabgp.conf" <<CONF
process healthcheck {
  run $E/healthcheck.sh;
  encoder text;
}
neighbor $R4 {
  router-id $E4;
  local-address $E4;
  local-as 65021;
  peer-as 65000;
  hold-time 9;
  family { ipv4 unicast; }
  api { processes [ healthcheck ]; }
}
CONF
ip netns exec "$HNS" env exabgp.daemon.user=root exabgp.api.cli=false exabgp.daemon.drop=false \
    exabgp.api.ack=false exabgp.log.destination="$E/exabgp.log" exabgp.tcp.bind="$E4" \
    /usr/sbin/exabgp "$E/exabgp.conf" >"$E/exabgp.out" 2>&1 &
EXA=$!
io_track_pid $EXA

# BIRD as the host's speaker, for the configuration edit: static routes from an include file.
F=$IO_ROOT/bird-speaker
mkdir -p "$F"
bird_routes() { echo "protocol static edits { ipv4;"; cat; echo "}"; } # stdin: route lines
bird_routes </dev/null >"$F/routes.conf"
: >"$F/routes.list"
cat >"$F/bird.conf" <<CONF
router id $F4;
protocol device { scan time 10; }
include "$F/routes.conf";
protocol bgp r {
  local $F4 as 65041;
  neighbor $R4 as 65000;
  hold time 9;
  strict bind on;
  ipv4 { import none; export where source = RTS_STATIC; };
}
CONF
ip netns exec "$HNS" bird -c "$F/bird.conf" -s "$F/bird.ctl" -P "$F/bird.pid" || io_die "speaker BIRD failed (see $F)"
io_wait 5 test -s "$F/bird.pid" || io_die "speaker BIRD wrote no pid file"
io_track_pid "$(cat "$F/bird.pid")"
io_wait 30 bash -c "birdc -s '$RDIR/bird.ctl' show protocols birdspk | grep -q Established" ||
    io_die "the speaker BIRD's session never came up (see $F)"

io_wait 30 bench_bird_has "$RDIR" acd $VIP || io_die "anycastd's route never reached BIRD (see $D/anycastd.log)"
io_wait 30 bench_bird_has "$RDIR" exa $VIP || io_die "ExaBGP's route never reached BIRD (see $E)"
io_wait 5 test -s "$E/healthcheck.pid" || io_die "the ExaBGP healthcheck helper wrote no pid file (see $E)"
HC=$(cat "$E/healthcheck.pid")
echo "health failure -> route gone at BIRD $(bird --version 2>&1 | awk '{ print $NF }'): anycastd vs ExaBGP" \
    "$(/usr/sbin/exabgp --version 2>&1 | awk '/ExaBGP/ { print $NF; exit }') healthcheck, $TRIALS trials," \
    "$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

acd_upd0=$(bench_bird_counter "$RDIR" acd updates) acd_wd0=$(bench_bird_counter "$RDIR" acd withdraws)
exa_upd0=$(bench_bird_counter "$RDIR" exa updates) exa_wd0=$(bench_bird_counter "$RDIR" exa withdraws)
acd_t0=$(bench_ticks $ACD) exa_t0=$(bench_ticks $EXA "$HC") wall0=$(bench_now_ns)
acd_gone=() exa_gone=() acd_back=() exa_back=() acd_wd=() exa_wd=()
for trial in $(seq "$CMP_TRIALS"); do
    # A random phase against the 100 ms check intervals of both.
    sleep "0.0$((RANDOM % 10))"
    from=$(bench_bird_lines "$RDIR")
    a_w=$(bench_bird_counter "$RDIR" acd withdraws) e_w=$(bench_bird_counter "$RDIR" exa withdraws)
    t=$(bench_now_ns)
    kill -KILL "$(cat "$D/dnsmasq.pid")"
    bench_bird_wait 10 "$RDIR" "$from" acd removed $VIP || io_die "trial $trial: anycastd never withdrew"
    bench_bird_wait 10 "$RDIR" "$from" exa removed $VIP || io_die "trial $trial: ExaBGP never withdrew"
    acd_gone+=($((($(bench_bird_event "$RDIR" "$from" acd removed $VIP) - t) / 1000000)))
    exa_gone+=($((($(bench_bird_event "$RDIR" "$from" exa removed $VIP) - t) / 1000000)))
    # The service stays down a while: withdraws re-sent meanwhile are counted.
    sleep "$(awk -v m="$DOWN_MS" 'BEGIN { print m / 1000 }')"
    acd_wd+=($(($(bench_bird_counter "$RDIR" acd withdraws) - a_w)))
    exa_wd+=($(($(bench_bird_counter "$RDIR" exa withdraws) - e_w)))
    from=$(bench_bird_lines "$RDIR")
    t=$(bench_now_ns)
    start_dnsmasq
    bench_bird_wait 10 "$RDIR" "$from" acd added $VIP || io_die "trial $trial: anycastd never re-announced"
    bench_bird_wait 10 "$RDIR" "$from" exa added $VIP || io_die "trial $trial: ExaBGP never re-announced"
    acd_back+=($((($(bench_bird_event "$RDIR" "$from" acd added $VIP) - t) / 1000000)))
    exa_back+=($((($(bench_bird_event "$RDIR" "$from" exa added $VIP) - t) / 1000000)))
done
wall=$((($(bench_now_ns) - wall0) / 1000000))
acd_cpu=$(awk -v t=$(($(bench_ticks $ACD) - acd_t0)) -v hz="$bench_hz" -v w="$wall" 'BEGIN { printf "%.2f", t / hz * 100000 / w }')
exa_cpu=$(awk -v t=$(($(bench_ticks $EXA "$HC") - exa_t0)) -v hz="$bench_hz" -v w="$wall" 'BEGIN { printf "%.2f", t / hz * 100000 / w }')
acd_upd=$(($(bench_bird_counter "$RDIR" acd updates) - acd_upd0))
exa_upd=$(($(bench_bird_counter "$RDIR" exa updates) - exa_upd0))
acd_wd_all=$(($(bench_bird_counter "$RDIR" acd withdraws) - acd_wd0))
exa_wd_all=$(($(bench_bird_counter "$RDIR" exa withdraws) - exa_wd0))
sum() { local s=0 v; for v in "$@"; do s=$((s + v)); done; echo $s; }

# Hung server: dnsmasq stopped (SIGSTOP), so it keeps its port and never answers; only timeouts tell.
acd_hung=() exa_hung=()
for trial in $(seq "$CMP_TRIALS"); do
    sleep "0.0$((RANDOM % 10))"
    from=$(bench_bird_lines "$RDIR")
    t=$(bench_now_ns)
    kill -STOP "$(cat "$D/dnsmasq.pid")"
    bench_bird_wait 20 "$RDIR" "$from" acd removed $VIP || io_die "hung trial $trial: anycastd never withdrew"
    bench_bird_wait 20 "$RDIR" "$from" exa removed $VIP || io_die "hung trial $trial: ExaBGP never withdrew"
    acd_hung+=($((($(bench_bird_event "$RDIR" "$from" acd removed $VIP) - t) / 1000000)))
    exa_hung+=($((($(bench_bird_event "$RDIR" "$from" exa removed $VIP) - t) / 1000000)))
    from=$(bench_bird_lines "$RDIR")
    kill -CONT "$(cat "$D/dnsmasq.pid")"
    bench_bird_wait 20 "$RDIR" "$from" acd added $VIP || io_die "hung trial $trial: anycastd never re-announced"
    bench_bird_wait 20 "$RDIR" "$from" exa added $VIP || io_die "hung trial $trial: ExaBGP never re-announced"
done
echo "hung: anycastd ${acd_hung[*]} ms; ExaBGP ${exa_hung[*]} ms"

# Configuration edit (rename-write, as editors save) -> the new route at BIRD, for anycastd (which watches
# its file) and for the speaker BIRD (the same save of its include file, then `birdc configure`).
edits=() bird_edits=()
for i in $(seq "$CMP_TRIALS"); do
    from=$(bench_bird_lines "$RDIR")
    sed "s|\"prefixes\": \[\"$VIP\"|\"prefixes\": [\"$VIP\", \"203.0.113.$i/32\"|" "$D/anycastd.json" >"$D/edit.json"
    t=$(bench_now_ns)
    mv "$D/edit.json" "$D/anycastd.json"
    bench_bird_wait 10 "$RDIR" "$from" acd added "203.0.113.$i/32" || io_die "edit $i: the new route never reached BIRD"
    edits+=($((($(bench_bird_event "$RDIR" "$from" acd added "203.0.113.$i/32") - t) / 1000000)))
    from=$(bench_bird_lines "$RDIR")
    echo "  route 203.0.113.$i/32 blackhole;" >>"$F/routes.list"
    bird_routes <"$F/routes.list" >"$F/edit.conf"
    t=$(bench_now_ns)
    mv "$F/edit.conf" "$F/routes.conf"
    birdc -s "$F/bird.ctl" configure >/dev/null || io_die "edit $i: birdc configure failed (see $F)"
    bench_bird_wait 10 "$RDIR" "$from" birdspk added "203.0.113.$i/32" ||
        io_die "edit $i: the speaker BIRD's new route never reached BIRD"
    bird_edits+=($((($(bench_bird_event "$RDIR" "$from" birdspk added "203.0.113.$i/32") - t) / 1000000)))
done

echo "anycastd: gone ${acd_gone[*]} ms; back ${acd_back[*]} ms; withdraws per outage ${acd_wd[*]}"
echo "ExaBGP:   gone ${exa_gone[*]} ms; back ${exa_back[*]} ms; withdraws per outage ${exa_wd[*]}"
bench_row "DNS server killed → route gone at BIRD (checks every 100 ms, fall 3)" \
    "$(bench_stats ms "${acd_gone[@]}")" "ExaBGP healthcheck $(bench_stats ms "${exa_gone[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${acd_gone[@]}")" "$(bench_p50 "${exa_gone[@]}")"), max $(bench_ratio "$(bench_max "${acd_gone[@]}")" "$(bench_max "${exa_gone[@]}")")"
bench_row "DNS server back → route at BIRD (rise 1)" \
    "$(bench_stats ms "${acd_back[@]}")" "ExaBGP healthcheck $(bench_stats ms "${exa_back[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${acd_back[@]}")" "$(bench_p50 "${exa_back[@]}")")"
bench_row "CPU while checking every 100 ms (during the trials, $((wall / 1000)) s)" "${acd_cpu} % of a core" \
    "ExaBGP + healthcheck (sh + dig per check) ${exa_cpu} % of a core" "$(bench_ratio "$acd_cpu" "$exa_cpu")"
bench_row "withdraws received by BIRD in $TRIALS outages of $((DOWN_MS / 1000)).$((DOWN_MS % 1000 / 100)) s after the route went" \
    "$(sum "${acd_wd[@]}")" "ExaBGP healthcheck $(sum "${exa_wd[@]}")" \
    "$(bench_ratio "$(sum "${acd_wd[@]}")" "$(sum "${exa_wd[@]}")")"
bench_row "UPDATEs received by BIRD over the $TRIALS trials (announces / withdraws)" \
    "$acd_upd / $acd_wd_all" "ExaBGP healthcheck $exa_upd / $exa_wd_all" \
    "$(bench_ratio $((acd_upd + acd_wd_all)) $((exa_upd + exa_wd_all)))"
bench_row "DNS server hung (SIGSTOP) → route gone at BIRD (timeout 50 ms; ExaBGP: \`--timeout 1\`, dig +time=1)" \
    "$(bench_stats ms "${acd_hung[@]}")" "ExaBGP healthcheck $(bench_stats ms "${exa_hung[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${acd_hung[@]}")" "$(bench_p50 "${exa_hung[@]}")")"
bench_row "configuration edit (rename-write) → route at BIRD" "$(bench_stats ms "${edits[@]}")" \
    "BIRD as the host's speaker, include file + \`birdc configure\` $(bench_stats ms "${bird_edits[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${edits[@]}")" "$(bench_p50 "${bird_edits[@]}")")"

# fastInterval (anycastd alone; ExaBGP keeps running, but the trials no longer wait for it, as its slower
# withdraw may not happen within a short outage). First the agent's CPU at steady state on the configuration
# above, then the same with "fastInterval", then the kill and hung trials again.
steady_cpu() { # steady_cpu -> % of a core used by anycastd over STEADY_S seconds with the service up
    local t0 w0
    t0=$(bench_ticks $ACD) w0=$(bench_now_ns)
    sleep "$STEADY_S"
    awk -v t=$(($(bench_ticks $ACD) - t0)) -v hz="$bench_hz" -v w=$((($(bench_now_ns) - w0) / 1000000)) \
        'BEGIN { printf "%.2f", t / hz * 100000 / w }'
}
cpu_plain=$(steady_cpu)
from=$(bench_bird_lines "$RDIR")
sed "s|\"fall\": 3 }|\"fall\": 3, \"fastInterval\": \"${FAST_MS}ms\" }|" "$D/anycastd.json" >"$D/edit.json"
grep -q fastInterval "$D/edit.json" || io_die "could not add fastInterval to $D/anycastd.json"
mv "$D/edit.json" "$D/anycastd.json"
# The changed check starts over (down, then rise 1): the route goes and comes back.
bench_bird_wait 10 "$RDIR" "$from" acd added $VIP || io_die "the route never came back with fastInterval"
cpu_fast=$(steady_cpu)

# Packet timestamps split each trial: anycastd's DNS queries on lo (dig's carry EDNS, "[1au]", and are left
# out), its UPDATEs on the veth (longer than a 19-byte KEEPALIVE), and BIRD's trace.
SIF=$(io_sif bench-health $n)
ip netns exec "$HNS" tcpdump -i lo -n -tt -l -U 'udp dst port 53' >"$D/dns.pcap.txt" 2>"$D/tcpdump-dns.err" &
io_track_pid $!
ip netns exec "$HNS" tcpdump -i "$SIF" -n -tt -l -U "tcp port 179 and src host $A4" >"$D/bgp.pcap.txt" \
    2>"$D/tcpdump-bgp.err" &
io_track_pid $!
io_wait 5 grep -q "listening on lo" "$D/tcpdump-dns.err" || io_die "tcpdump on lo did not start"
io_wait 5 grep -q "listening on $SIF" "$D/tcpdump-bgp.err" || io_die "tcpdump on $SIF did not start"
# packet_times FILE FROM_NS [FILTER]: epoch microseconds of the packets in FILE after FROM_NS, one a line
# (microseconds: epoch nanoseconds do not fit in awk's doubles).
packet_times() {
    awk -v from="$(($2 / 1000))" -v filter="${3:-}" '{
        split($1, t, "."); us = t[1] * 1000000 + substr(t[2] "000000", 1, 6)
        if (us < from) next
        if (filter == "dns" && index($0, "[1au]")) next
        if (filter == "bgp" && !match($0, /length [0-9]+/)) next
        if (filter == "bgp" && substr($0, RSTART + 7, RLENGTH - 7) + 0 <= 19) next
        printf "%.0f\n", us
    }' "$1"
}
fast_gone=() fast_first=() fast_runs=() fast_verdict=() fast_bird=()
for trial in $(seq "$TRIALS"); do
    sleep "0.0$((RANDOM % 10))"
    from=$(bench_bird_lines "$RDIR")
    t=$(bench_now_ns)
    kill -KILL "$(cat "$D/dnsmasq.pid")"
    bench_bird_wait 10 "$RDIR" "$from" acd removed $VIP || io_die "fast trial $trial: anycastd never withdrew"
    gone=$(bench_bird_event "$RDIR" "$from" acd removed $VIP)
    fast_gone+=($(((gone - t) / 1000000)))
    sleep 0.1
    mapfile -t q < <(packet_times "$D/dns.pcap.txt" "$t" dns)
    mapfile -t u < <(packet_times "$D/bgp.pcap.txt" "$t" bgp)
    if [ ${#q[@]} -ge 3 ] && [ ${#u[@]} -ge 1 ]; then
        # kill → first failed query; first → third (the fast runs); third → UPDATE on the wire (verdict, core,
        # speaker); UPDATE → BIRD's trace. Microseconds.
        fast_first+=($((q[0] - t / 1000)))
        fast_runs+=($((q[2] - q[0])))
        fast_verdict+=($((u[0] - q[2])))
        fast_bird+=($((gone / 1000 - u[0])))
    fi
    from=$(bench_bird_lines "$RDIR")
    start_dnsmasq
    bench_bird_wait 10 "$RDIR" "$from" acd added $VIP || io_die "fast trial $trial: anycastd never re-announced"
done
fast_hung=()
for trial in $(seq "$TRIALS"); do
    sleep "0.0$((RANDOM % 10))"
    from=$(bench_bird_lines "$RDIR")
    t=$(bench_now_ns)
    kill -STOP "$(cat "$D/dnsmasq.pid")"
    bench_bird_wait 20 "$RDIR" "$from" acd removed $VIP || io_die "fast hung trial $trial: anycastd never withdrew"
    fast_hung+=($((($(bench_bird_event "$RDIR" "$from" acd removed $VIP) - t) / 1000000)))
    from=$(bench_bird_lines "$RDIR")
    kill -CONT "$(cat "$D/dnsmasq.pid")"
    bench_bird_wait 20 "$RDIR" "$from" acd added $VIP || io_die "fast hung trial $trial: anycastd never re-announced"
done
us_stats() { # us_stats MICROSECONDS... -> "p50 X ms, max Y ms" with one decimal
    [ $# -gt 0 ] || { echo "no samples"; return; }
    awk -v p="$(bench_p50 "$@")" -v m="$(bench_max "$@")" 'BEGIN { printf "p50 %.1f ms, max %.1f ms", p / 1000, m / 1000 }'
}
echo "fastInterval ${FAST_MS} ms: gone ${fast_gone[*]} ms; hung ${fast_hung[*]} ms"
echo "fastInterval ${FAST_MS} ms, where the time goes (n=${#fast_first[@]}): kill → first failed query" \
    "$(us_stats "${fast_first[@]}"); first → third $(us_stats "${fast_runs[@]}"); third → withdraw on the wire" \
    "$(us_stats "${fast_verdict[@]}"); wire → BIRD's trace $(us_stats "${fast_bird[@]}")"
bench_row "DNS server killed → route gone at BIRD, fastInterval ${FAST_MS} ms (checks every 100 ms, fall 3)" \
    "$(bench_stats ms "${fast_gone[@]}")" "anycastd without fastInterval (above) $(bench_stats ms "${acd_gone[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${fast_gone[@]}")" "$(bench_p50 "${acd_gone[@]}")"), max $(bench_ratio "$(bench_max "${fast_gone[@]}")" "$(bench_max "${acd_gone[@]}")")"
bench_row "  where it goes (p50 of each part): kill → first failed check; its ${FAST_MS} ms fast runs; verdict → UPDATE on the wire; wire → BIRD" \
    "$(awk -v a="$(bench_p50 "${fast_first[@]}")" -v b="$(bench_p50 "${fast_runs[@]}")" -v c="$(bench_p50 "${fast_verdict[@]}")" -v d="$(bench_p50 "${fast_bird[@]}")" \
        'BEGIN { printf "%.1f + %.1f + %.1f + %.1f ms", a / 1000, b / 1000, c / 1000, d / 1000 }')" \
    "the first part is the phase against the 100 ms grid: uniform in 0-100 ms" "-"
bench_row "DNS server hung (SIGSTOP) → route gone at BIRD, fastInterval ${FAST_MS} ms (timeout 50 ms)" \
    "$(bench_stats ms "${fast_hung[@]}")" "anycastd without fastInterval (above) $(bench_stats ms "${acd_hung[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${fast_hung[@]}")" "$(bench_p50 "${acd_hung[@]}")")"
bench_row "anycastd CPU at steady state (service up, DNS check every 100 ms, ${STEADY_S} s), with fastInterval ${FAST_MS} ms" \
    "${cpu_fast} % of a core" "without fastInterval ${cpu_plain} % of a core" "$(bench_ratio "$cpu_fast" "$cpu_plain")"
