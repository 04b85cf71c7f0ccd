#!/usr/bin/env bash
# Benchmarks of the whole daemon against BIRD on this host's kernel (design.md "Figures we aim for"),
# each printed with the comparison measured in the same run where one exists here:
#   1. health failure -> route gone at BIRD (DNS check every 100 ms, timeout 50 ms, fall 3)
#   2. CPU used while checking, and idle CPU and memory with 1 peer and 100 prefixes (BIRD's own RSS
#      measured alongside)
#   3. configuration edit (rename-write) -> new route at BIRD
#   4. 10,000 addresses added / deleted by the daemon versus `ip -batch` on the same kind of link
# Usage: sudo Tests/bench/daemon.sh [--bin PATH] [--trials N]   (default: a release build)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
BIN=''
TRIALS=10
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--trials N]" >&2; exit 2 ;;
    esac
done
io_require
if [ -z "$BIN" ]; then
    # The shipped build: static Swift runtime, as in the .deb.
    (cd "$REPO" && swift build -c release --static-swift-stdlib --product anycastd >/dev/null 2>&1) ||
        io_die "swift build -c release failed"
    BIN="$(cd "$REPO" && swift build -c release --show-bin-path)/anycastd"
fi
command -v dnsmasq >/dev/null || io_die "dnsmasq missing (apt-get install dnsmasq-base)"
io_init
trap io_cleanup EXIT
IO_TAG=bench
n=30
io_lab daemon $n
RNS=$(io_rns daemon)
HNS=$(io_sns daemon)
R4=$(io_raddr4 $n)
H4=$(io_saddr4 $n 2)
RDIR=$IO_ROOT/bird
io_bird_start "$RDIR" "$RNS" 65000 "$R4" "$R4" "$(io_raddr6 $n)" "name=h addr=$H4 as=65011 families=ipv4"
D=$IO_ROOT/host
mkdir -p "$D"

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
stats() { # stats VALUES...: "p50 X ms, max Y ms (n=N)"
    sort -n <<<"$(printf '%s\n' "$@")" | awk '{ v[NR] = $1 } END { printf "p50 %d ms, max %d ms (n=%d)", v[int((NR + 1) / 2)], v[NR], NR }'
}
p50() { sort -n <<<"$(printf '%s\n' "$@")" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
route_at_bird() { birdc -s "$RDIR/bird.ctl" show route "$1" 2>/dev/null | grep -q "$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

prefixes() { # prefixes COUNT: the dns prefix plus COUNT-1 extra /32s as a JSON list
    local list='"192.0.2.53/32"' i
    for i in $(seq 2 "$1"); do list="$list, \"198.51.$((i / 250)).$((i % 250 + 1))/32\""; done
    echo "$list"
}
config() { # config PREFIX_LIST_JSON
    cat >"$D/new.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "$H4", "holdTime": "9s",
           "peers": [ { "name": "r", "address": "$R4", "asn": 65000, "localAddress": "$H4" } ] },
  "services": [ { "name": "dns", "prefixes": [$1],
    "checks": [ { "dns": { "name": "id.lab", "type": "TXT" }, "interval": "100ms", "timeout": "50ms", "rise": 1, "fall": 3 } ] } ],
  "drain": { "delay": "1s" },
  "stateDirectory": "$D/state",
  "control": { "socket": "$D/anycastd.sock" }
}
JSON
    mv "$D/new.json" "$D/anycastd.json"
}
start_dnsmasq() {
    ip netns exec "$HNS" dnsmasq --conf-file=/dev/null --listen-address=192.0.2.53 --bind-dynamic --no-resolv \
        --no-hosts --txt-record=id.lab,bench --pid-file="$D/dnsmasq.pid" --user=root
    for _ in $(seq 50); do [ -s "$D/dnsmasq.pid" ] && break; sleep 0.02; done
    io_track_pid "$(cat "$D/dnsmasq.pid")"
}

config "$(prefixes 100)"
ip -n "$HNS" addr add 192.0.2.53/32 dev lo
start_dnsmasq
ip netns exec "$HNS" "$BIN" reconcile -c "$D/anycastd.json" >"$D/anycastd.log" 2>&1 &
pid=$!
io_track_pid $pid
io_wait 30 route_at_bird 192.0.2.53/32 || io_die "the route never reached BIRD (see $D/anycastd.log)"
io_wait 30 route_at_bird 198.51.0.100/32 || io_die "not all 100 prefixes reached BIRD"
echo "anycastd benchmarks against BIRD $(bird --version 2>&1 | awk '{ print $NF }'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# 2a. Idle CPU and memory with 1 peer and 100 prefixes (the health check still runs every 100 ms, so a
#     second figure without checks is taken further down).
sleep 2
t0=$(cpu_ticks $pid)
sleep 30
t1=$(cpu_ticks $pid)
busy_cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz * 2 }')
echo "memory, 1 peer, 100 prefixes: anycastd RSS $(($(rss_kb $pid) / 1024)) MB (private anonymous $(($(anon_kb $pid) / 1024)) MB, the rest clean code pages); BIRD RSS $(($(rss_kb "$(cat "$RDIR/bird.pid")") / 1024)) MB (aim < 15 MB)"
echo "CPU with a DNS check every 100 ms: ${busy_cpu} s per minute = $(awk -v s="$busy_cpu" 'BEGIN { printf "%.2f", s / 60 * 100 }') % of a core (ExaBGP healthcheck: 14 %)"

# 1. Health failure -> route gone at BIRD.
gone=() back=()
for _ in $(seq "$TRIALS"); do
    t=$(now_ns)
    kill -KILL "$(cat "$D/dnsmasq.pid")"
    while route_at_bird 192.0.2.53/32; do :; done
    gone+=("$(ms_since "$t")")
    rm -f "$D/dnsmasq.pid"
    t=$(now_ns)
    start_dnsmasq
    while ! route_at_bird 192.0.2.53/32; do :; done
    back+=("$(ms_since "$t")")
    sleep 0.3
done
echo "dnsmasq killed -> route gone at BIRD (100 ms x fall 3): $(stats "${gone[@]}"); ExaBGP healthcheck here: 342 ms p50, 394 max; ratio $(awk -v a="$(p50 "${gone[@]}")" 'BEGIN { printf "%.2f", a / 342 }')"
echo "dnsmasq restarted -> route back at BIRD (rise 1): $(stats "${back[@]}")"
withdraws=$(grep -c '192.0.2.53/32: withdrawn' "$D/anycastd.log")
echo "withdraws logged for $TRIALS outages: $withdraws (one per transition; ExaBGP re-sent 334 in 15 outages)"

# 3. Configuration edit -> new route at BIRD.
edits=()
for i in $(seq "$TRIALS"); do
    config "$(prefixes 100), \"203.0.113.$i/32\""
    t=$(now_ns)
    while ! route_at_bird "203.0.113.$i/32"; do :; done
    edits+=("$(ms_since "$t")")
done
echo "config edit (rename-write) -> route at BIRD: $(stats "${edits[@]}") (aim p50 < 50 ms; a script reconfiguring BIRD: seconds)"

# 2b. Idle: no checks, nothing changing.
cat >"$D/new.json" <<JSON
{ "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "$H4", "holdTime": "9s",
           "peers": [ { "name": "r", "address": "$R4", "asn": 65000, "localAddress": "$H4" } ] },
  "services": [ { "name": "dns", "prefixes": [$(prefixes 100)] } ],
  "stateDirectory": "$D/state", "control": { "socket": "$D/anycastd.sock" } }
JSON
mv "$D/new.json" "$D/anycastd.json"
sleep 2
t0=$(cpu_ticks $pid)
sleep 30
t1=$(cpu_ticks $pid)
echo "idle CPU, 1 peer, 100 prefixes, no checks: $(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz * 2 }') s per minute (aim < 0.05; ExaBGP 0.7)"
kill -TERM $pid
wait $pid

# 4. 10,000 addresses on a fresh link: the daemon (one libmnl batch) versus ip -batch, same kernel, same run.
ip -n "$HNS" link add bench0 type ifb
ip -n "$HNS" link set bench0 up
for i in $(seq 0 9999); do echo "addr add 10.200.$((i / 250)).$((i % 250 + 1))/32 dev bench0"; done >"$D/add.batch"
sed 's/^addr add/addr del/' "$D/add.batch" >"$D/del.batch"
t=$(now_ns); ip -n "$HNS" -batch "$D/add.batch"; ip_add=$(ms_since "$t")
t=$(now_ns); ip -n "$HNS" -batch "$D/del.batch"; ip_del=$(ms_since "$t")
ip -n "$HNS" link del bench0
list=$(for i in $(seq 0 9999); do printf '"10.200.%d.%d/32",' $((i / 250)) $((i % 250 + 1)); done)
cat >"$D/many.json" <<JSON
{ "interface": { "name": "bench0" }, "services": [ { "name": "many", "prefixes": [${list%,}] } ],
  "stateDirectory": "$D/state2", "control": { "socket": "$D/anycastd2.sock" } }
JSON
cat >"$D/none.json" <<JSON
{ "interface": { "name": "bench0" }, "services": [],
  "stateDirectory": "$D/state2", "control": { "socket": "$D/anycastd2.sock" } }
JSON
t=$(now_ns); ip netns exec "$HNS" "$BIN" reconcile -c "$D/many.json" --once --test-link-kind ifb 2>/dev/null; our_add=$(ms_since "$t")
count=$(ip -n "$HNS" -o addr show dev bench0 | grep -c 'inet 10.200')
t=$(now_ns); ip netns exec "$HNS" "$BIN" reconcile -c "$D/none.json" --once --test-link-kind ifb 2>/dev/null; our_del=$(ms_since "$t")
left=$(ip -n "$HNS" -o addr show dev bench0 | grep -c 'inet 10.200')
echo "10,000 /32s added: anycastd --once $our_add ms (whole process: parse, plan, one batch; $count present) vs ip -batch $ip_add ms (link up): ratio $(awk -v a="$our_add" -v b="$ip_add" 'BEGIN { printf "%.2f", a / b }')"
echo "10,000 /32s deleted: anycastd --once $our_del ms ($left left) vs ip -batch $ip_del ms: ratio $(awk -v a="$our_del" -v b="$ip_del" 'BEGIN { printf "%.2f", a / b }')"
