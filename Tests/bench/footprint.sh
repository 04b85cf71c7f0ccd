#!/usr/bin/env bash
# Benchmark: footprint with 4 peers and 100 prefixes, four speakers side by side in one host namespace,
# each with 4 sessions to 4 BIRD routers (one namespace, four addresses) and the same 100 /32s: anycastd, ExaBGP 4.2
# with its healthcheck helper (the helper announces the 100 prefixes), gobgpd (routes added through its
# API) and BIRD (static routes). anycastd and the ExaBGP helper both check dnsmasq every second (the same
# DNS query); gobgpd and BIRD check nothing, and are compared with a second anycastd that checks nothing
# either (a service without checks, the same 4 peers and 100 prefixes). Measured once everything is at the router: RSS at the end
# and CPU (user + system, plus reaped children: the helper's sh and dig) over FOOTPRINT_SECONDS (60).
# Usage: sudo Tests/bench/footprint.sh [--bin PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=''
SECONDS_MEASURED=${FOOTPRINT_SECONDS:-60}
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
IO_TAG=bench-footprint
n=35
io_lab bench-footprint $n
RNS=$(io_rns bench-footprint)
HNS=$(io_sns bench-footprint)
ROUTERS=("10.77.$n.1" "10.77.$n.11" "10.77.$n.12" "10.77.$n.13")
for r in "${ROUTERS[@]:1}"; do ip -n "$RNS" addr add "$r/24" dev "$(io_rif bench-footprint $n)"; done
A4=10.77.$n.2 E4=10.77.$n.3 G4=10.77.$n.4 B4=10.77.$n.5 N4=10.77.$n.6
# Four routers (one BIRD each, on its own address of the router namespace): BIRD tells sessions apart by
# the neighbor's address only, so one BIRD cannot take four sessions from one speaker address.
for k in 1 2 3 4; do
    r=${ROUTERS[$((k - 1))]}
    bench_bird_start "$IO_ROOT/router$k" "$RNS" "$r" "name=acd local=$r addr=$A4 as=65011" \
        "name=exa local=$r addr=$E4 as=65021" "name=gobgp local=$r addr=$G4 as=65031" "name=birdspk local=$r addr=$B4 as=65041" \
        "name=acdnc local=$r addr=$N4 as=65051"
done

PREFIXES=(192.0.2.53/32)
for i in $(seq 2 100); do PREFIXES+=("198.51.100.$i/32"); done
ip -n "$HNS" addr add 192.0.2.53/32 dev lo
D=$IO_ROOT/host
mkdir -p "$D"
ip netns exec "$HNS" dnsmasq --conf-file=/dev/null --listen-address=192.0.2.53 --bind-dynamic --no-resolv \
    --no-hosts --txt-record=id.lab,bench --pid-file="$D/dnsmasq.pid" --user=root
for _ in $(seq 100); do [ -s "$D/dnsmasq.pid" ] && break; sleep 0.02; done
io_track_pid "$(cat "$D/dnsmasq.pid")"

# anycastd
peers='' list=''
for k in 1 2 3 4; do
    peers="$peers${peers:+, }{ \"name\": \"r$k\", \"address\": \"${ROUTERS[$((k - 1))]}\", \"asn\": 65000, \"localAddress\": \"$A4\" }"
done
for p in "${PREFIXES[@]}"; do list="$list${list:+, }\"$p\""; done
cat >"$D/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "$A4", "holdTime": "9s", "peers": [ $peers ] },
  "services": [ { "name": "dns", "prefixes": [ $list ],
    "checks": [ { "dns": { "server": "192.0.2.53", "name": "id.lab", "type": "TXT" }, "interval": "1s",
                  "timeout": "500ms", "rise": 1, "fall": 3 } ] } ],
  "stateDirectory": "$D/state",
  "control": { "socket": "$D/anycastd.sock" }
}
JSON
ip netns exec "$HNS" "$BIN" reconcile -c "$D/anycastd.json" >"$D/anycastd.log" 2>&1 &
ACD=$!
io_track_pid $ACD
# The same agent without a check, for the speakers that check nothing.
N=$IO_ROOT/nocheck
mkdir -p "$N"
sed -e "s/$A4/$N4/g" -e 's/"asn": 65011/"asn": 65051/' -e "s|$D/|$N/|g" "$D/anycastd.json" |
    python3 -c 'import json, sys; c = json.load(sys.stdin); c["services"][0].pop("checks"); print(json.dumps(c))' \
        >"$N/anycastd.json"
ip netns exec "$HNS" "$BIN" reconcile -c "$N/anycastd.json" >"$N/anycastd.log" 2>&1 &
ACDNC=$!
io_track_pid $ACDNC

# ExaBGP with its healthcheck helper announcing the 100 prefixes
E=$IO_ROOT/exabgp
mkdir -p "$E"
{
    echo "#!/bin/sh"
    printf 'exec /usr/bin/python3 -m exabgp.application.healthcheck --no-syslog --no-ack --pid %s/healthcheck.pid' "$E"
    printf ' --interval 1 --fast-interval 1 --rise 1 --fall 3 --timeout 1 --withdraw-on-down --no-ip-setup --next-hop %s' "$E4"
    for p in "${PREFIXES[@]}"; do printf ' --ip %s' "$p"; done
    printf " --cmd 'dig +time=1 +tries=1 @192.0.2.53 id.lab TXT' 2>>%s/healthcheck.log\n" "$E"
} >"$E/healthcheck.sh"
chmod +x "$E/healthcheck.sh"
{
    printf 'process healthcheck {\n  run %s/healthcheck.sh;\n  encoder text;\n}\n' "$E"
    for r in "${ROUTERS[@]}"; do
        printf 'neighbor %s {\n  router-id %s;\n  local-address %s;\n  local-as 65021;\n  peer-as 65000;\n' "$r" "$E4" "$E4"
        printf '  hold-time 9;\n  family { ipv4 unicast; }\n  api { processes [ healthcheck ]; }\n}\n'
    done
} >"$E/exabgp.conf"
ip netns exec "$HNS" env exabgp.daemon.user=root exabgp.api.cli=false exabgp.daemon.drop=false \
    exabgp.api.ack=false exabgp.log.destination="$E/exabgp.log" exabgp.tcp.bind="$E4" \
    /usr/sbin/exabgp "$E/exabgp.conf" >"$E/exabgp.out" 2>&1 &
EXA=$!
io_track_pid $EXA

# gobgpd
G=$IO_ROOT/gobgp
mkdir -p "$G"
{
    printf '[global.config]\n  as = 65031\n  router-id = "%s"\n  port = -1\n' "$G4"
    for r in "${ROUTERS[@]}"; do
        printf '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "%s"\n    peer-as = 65000\n' "$r"
        printf '  [neighbors.timers.config]\n    hold-time = 9\n    keepalive-interval = 3\n'
        printf '  [neighbors.transport.config]\n    local-address = "%s"\n' "$G4"
        printf '  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "ipv4-unicast"\n'
    done
} >"$G/gobgpd.toml"
ip netns exec "$HNS" gobgpd -f "$G/gobgpd.toml" -p --api-hosts "unix://$G/gobgp.sock" --pprof-disable \
    >"$G/gobgpd.log" 2>&1 &
GOBGP=$!
io_track_pid $GOBGP
io_wait 10 test -S "$G/gobgp.sock" || io_die "gobgpd did not start (see $G)"
for p in "${PREFIXES[@]}"; do
    gobgp --target "unix://$G/gobgp.sock" global rib add "$p" nexthop "$G4" origin igp -a ipv4 ||
        io_die "gobgp global rib add $p failed"
done

# BIRD as the speaker
B=$IO_ROOT/bird-speaker
mkdir -p "$B"
{
    printf 'router id %s;\nlog "%s/bird.log" all;\nprotocol device { scan time 10; }\nprotocol static { ipv4;\n' "$B4" "$B"
    for p in "${PREFIXES[@]}"; do printf '  route %s blackhole;\n' "$p"; done
    printf '}\n'
    k=0
    for r in "${ROUTERS[@]}"; do
        k=$((k + 1))
        printf 'protocol bgp r%d {\n  local %s as 65041;\n  neighbor %s as 65000;\n  hold time 9;\n' $k "$B4" "$r"
        printf '  strict bind on;\n  ipv4 { import none; export where source = RTS_STATIC; };\n}\n'
    done
} >"$B/bird.conf"
ip netns exec "$HNS" bird -c "$B/bird.conf" -s "$B/bird.ctl" -P "$B/bird.pid" || io_die "speaker BIRD failed (see $B)"
io_wait 5 test -s "$B/bird.pid" || io_die "speaker BIRD wrote no pid file"
BIRD=$(cat "$B/bird.pid")
io_track_pid "$BIRD"

routes_of() { # routes_of ROUTER PROTOCOL
    birdc -s "$IO_ROOT/router$1/bird.ctl" show route protocol "$2" count | awk '/routes for/ { print $1; exit }'
}
all_in() { local s k; for s in acd acdnc exa gobgp birdspk; do for k in 1 2 3 4; do [ "$(routes_of $k $s)" = 100 ] || return 1; done; done; }
io_wait 60 all_in || io_die "not every speaker has its 100 routes at BIRD on 4 sessions (see $IO_ROOT)"
io_wait 5 test -s "$E/healthcheck.pid" || io_die "the ExaBGP helper wrote no pid file"
HC=$(cat "$E/healthcheck.pid")
echo "footprint, 4 peers, 100 prefixes, ${SECONDS_MEASURED} s, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
sleep 5
t_acd=$(bench_ticks $ACD) t_acdnc=$(bench_ticks $ACDNC) t_exa=$(bench_ticks $EXA "$HC") t_gobgp=$(bench_ticks $GOBGP) t_bird=$(bench_ticks "$BIRD")
sleep "$SECONDS_MEASURED"
per_min() { awk -v t="$1" -v hz="$bench_hz" -v s="$SECONDS_MEASURED" 'BEGIN { printf "%.2f", t / hz * 60 / s }'; }
c_acd=$(per_min $(($(bench_ticks $ACD) - t_acd)))
c_acdnc=$(per_min $(($(bench_ticks $ACDNC) - t_acdnc)))
c_exa=$(per_min $(($(bench_ticks $EXA "$HC") - t_exa)))
c_gobgp=$(per_min $(($(bench_ticks $GOBGP) - t_gobgp)))
c_bird=$(per_min $(($(bench_ticks "$BIRD") - t_bird)))
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
m_acd=$(mb "$(bench_rss_kb $ACD)") m_acdnc=$(mb "$(bench_rss_kb $ACDNC)") m_exa=$(mb "$(bench_rss_kb $EXA "$HC")")
m_gobgp=$(mb "$(bench_rss_kb $GOBGP)") m_bird=$(mb "$(bench_rss_kb "$BIRD")")
all_in || io_die "a speaker lost routes during the measurement"
ours="RSS $m_acd MB, CPU $c_acd s/min (DNS check every 1 s)"
bench_row "footprint, 4 peers, 100 prefixes, vs ExaBGP + healthcheck (same check)" "$ours" \
    "RSS $m_exa MB, CPU $c_exa s/min" "RSS $(bench_ratio "$m_acd" "$m_exa"), CPU $(bench_ratio "$c_acd" "$c_exa")"
unchecked="RSS $m_acdnc MB, CPU $c_acdnc s/min (no check)"
bench_row "footprint, 4 peers, 100 prefixes, vs gobgpd (neither checks)" "$unchecked" \
    "RSS $m_gobgp MB, CPU $c_gobgp s/min" "RSS $(bench_ratio "$m_acdnc" "$m_gobgp"), CPU $(bench_ratio "$c_acdnc" "$c_gobgp")"
bench_row "footprint, 4 peers, 100 prefixes, vs BIRD (neither checks)" "$unchecked" \
    "RSS $m_bird MB, CPU $c_bird s/min" "RSS $(bench_ratio "$m_acdnc" "$m_bird"), CPU $(bench_ratio "$c_acdnc" "$c_bird")"
