#!/usr/bin/env bash
# Memory of the agent, idle with 4 peers and 100 prefixes (as in footprint.sh): RSS and PSS from
# /proc/PID/smaps_rollup, the mappings grouped (the binary's code and data, libc, heap, thread stacks), and
# the binary's resident pages by section and by the module whose code or data they hold
# (Tests/bench/memory-map.py). With several --bin (builds of the same commit with other flags), each runs
# in turn in the same lab and a last table puts them side by side. Findings: Tests/bench/memory.md.
# Usage: sudo Tests/bench/memory.sh [--bin PATH]...   (default: the release build, as `make release`;
# MEMORY_SETTLE_S: seconds idle before measuring, default 10)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BINS=()
SETTLE=${MEMORY_SETTLE_S:-10}
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BINS+=("$2"); shift 2 ;;
    *) echo "usage: $0 [--bin PATH]..." >&2; exit 2 ;;
    esac
done
io_require
command -v dnsmasq >/dev/null || io_die "dnsmasq missing (apt-get install dnsmasq-base)"
[ ${#BINS[@]} -gt 0 ] || BINS=("$(bench_build anycastd)")
io_init
trap io_cleanup EXIT
IO_TAG=bench-memory
n=36
io_lab bench-memory $n
RNS=$(io_rns bench-memory)
HNS=$(io_sns bench-memory)
ROUTERS=("10.77.$n.1" "10.77.$n.11" "10.77.$n.12" "10.77.$n.13")
for r in "${ROUTERS[@]:1}"; do ip -n "$RNS" addr add "$r/24" dev "$(io_rif bench-memory $n)"; done
A4=10.77.$n.2
for k in 1 2 3 4; do
    r=${ROUTERS[$((k - 1))]}
    bench_bird_start "$IO_ROOT/router$k" "$RNS" "$r" "name=acd local=$r addr=$A4 as=65011"
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
routes_of() { birdc -s "$IO_ROOT/router$1/bird.ctl" show route protocol acd count | awk '/routes for/ { print $1; exit }'; }
all_in() { local k; for k in 1 2 3 4; do [ "$(routes_of $k)" = 100 ] || return 1; done; }
none_in() { local k; for k in 1 2 3 4; do [ "$(routes_of $k)" = 0 ] || return 1; done; }

summary=()
for bin in "${BINS[@]}"; do
    [ -x "$bin" ] || io_die "$bin is not an executable"
    ip netns exec "$HNS" "$bin" reconcile -c "$D/anycastd.json" >"$D/anycastd.log" 2>&1 &
    acd=$!
    io_track_pid $acd
    io_wait 60 all_in || io_die "$bin: the 100 routes never reached the 4 routers (see $D/anycastd.log)"
    sleep "$SETTLE"
    echo "=== $bin: idle with 4 peers and 100 prefixes, ${SETTLE} s after all routes were in"
    grep -E '^(VmRSS|RssAnon|RssFile|VmHWM|Threads)' "/proc/$acd/status" | tr -s '\t ' ' ' | paste -sd';' -
    python3 "$HERE/memory-map.py" $acd || io_die "memory-map.py failed"
    roll() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$acd/smaps_rollup"; }
    priv=$(awk '$1 == "Private_Clean:" || $1 == "Private_Dirty:" { s += $2 } END { printf "%.1f", s / 1024 }' \
        "/proc/$acd/smaps_rollup")
    summary+=("$(printf '%-60s RSS %5s MB  PSS %5s MB  private %5s MB  file %6s' "$bin" "$(roll Rss)" "$(roll Pss)" \
        "$priv" "$(du -m "$bin" | cut -f1) MB")")
    kill -TERM $acd
    wait $acd 2>/dev/null
    io_wait 30 none_in || io_die "$bin: routes stayed after the agent stopped"
done
echo "=== side by side"
printf '%s\n' "${summary[@]}"
