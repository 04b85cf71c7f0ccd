#!/usr/bin/env bash
# Benchmark (and, with --check, the `fleet` tier of `make test`): a fleet of N agents (default 64) in their own
# namespaces, each an iBGP route-reflector client (RFC 4456) of two BIRD reflectors in one AS, announcing the
# same anycast 192.0.2.53/32 and 2001:db8:53::53/128 (service dns, a DNS check of its own dnsmasq every 100 ms,
# fall 3, rise 1) plus one unicast 198.51.100.I/32 of its own (service host, no check), all on `lo` (interface
# kind existing). One L2: a bridge in its own namespace with one veth per agent, reflector and client.
# A client router (BIRD, a non-client iBGP peer of both reflectors, ADD-PATH receive; the reflectors send it
# every path) installs the anycast /32 in its namespace's FIB as one ECMP route over every agent it learnt
# (L4 hash); a DNS client there (dns-client.py) sends a query every 5 ms from a new source port. A query
# counts as lost when no answer came within 2 s: one routed to nowhere never gets one, and on this shared
# 2-core machine a 300 ms bound (stop.sh's) also counts answers that a loaded scheduler delayed.
# Measured from BIRD's microsecond route traces (the reflectors' imports, the client's FIB writes; polling with
# birdc only says when to read them):
#   cold start: all agents started at once until both reflectors hold all N paths of both anycast prefixes
#     and the N unicast /32s, and until the client's FIB has N next hops;
#   mass event: the DNS servers of FAIL agents (every other one) killed by one kill(1) until both reflectors
#     hold N - FAIL paths (and back, once restarted), with the route updates the reflectors received and
#     sent and the UPDATE messages the agents sent;
#   rolling drain: `anycastd drain` of DRAIN agents one after the other (each: drain, both reflectors and the
#     client's FIB lose its path, undrain, all back), queries lost of one every 5 ms (0 expected);
#   memory (RSS, PSS) and CPU of the agents (sum and per agent) and of the reflectors at steady state.
# Usage: sudo Tests/bench/fleet.sh [--bin PATH] [--agents N] [--fail N] [--drain N] [--idle SECONDS]
#   [--rr-export all|none] [--check]
# --rr-export none: the reflectors send the agents nothing (RFC 4456 reflects every route to every client,
# the default here; hosts need none of them), to show what that reflection costs per event.
# --check: the short tier (defaults 16 agents, 8 failing, 3 drained, 2 s idle): TAP lines for convergence and
# 0 lost queries, the figures, and `fleet: N passed, N failed`. Without it, rows for Tests/bench/results.md.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN='' AGENTS='' FAIL='' DRAIN='' IDLE='' CHECK=0 EXPORT=all
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    --agents) AGENTS=$2; shift 2 ;;
    --fail) FAIL=$2; shift 2 ;;
    --drain) DRAIN=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    --rr-export) EXPORT=$2; shift 2 ;;
    *)
        echo "usage: $0 [--bin PATH] [--agents N] [--fail N] [--drain N] [--idle SECONDS] [--rr-export all|none]" \
            "[--check]" >&2
        exit 2
        ;;
    esac
done
n=0 passed=0 failed=0
if [ $CHECK = 1 ]; then
    AGENTS=${AGENTS:-16} IDLE=${IDLE:-2} TAG=flt
    [ -n "$BIN" ] || BIN=$REPO/.build/debug/anycastd
    # The tier never dies quietly: a fatal error is one more failure in the summary line. The lab folder is
    # kept for a look when anything failed.
    trap 'io_cleanup; [ -n "${summarized:-}" ] || echo "fleet: $passed passed, $((failed + 1)) failed"
        [ -n "${summarized:-}" ] && [ $failed = 0 ] && rm -rf "$IO_ROOT"' EXIT
    [ "$(id -u)" = 0 ] || io_die "needs root (network namespaces)"
    [ -x "$BIN" ] || io_die "$BIN is not built"
else
    AGENTS=${AGENTS:-64} IDLE=${IDLE:-30} TAG=flb
    trap 'io_cleanup; [ -n "${FLEET_KEEP:-}" ] || rm -rf "$IO_ROOT"' EXIT
fi
FAIL=${FAIL:-$((AGENTS / 2))}
DRAIN=${DRAIN:-$([ $CHECK = 1 ] && echo 3 || echo "$AGENTS")}
[ "$AGENTS" -ge 2 ] && [ "$AGENTS" -le 250 ] || io_die "--agents must be 2 to 250"
case $EXPORT in all | none) ;; *) io_die "--rr-export must be all or none" ;; esac
[ "$FAIL" -ge 1 ] && [ "$FAIL" -le $((AGENTS / 2)) ] || io_die "--fail must be 1 to half the agents"
[ "$DRAIN" -ge 1 ] && [ "$DRAIN" -le "$AGENTS" ] || io_die "--drain must be 1 to the number of agents"
io_require
command -v dnsmasq >/dev/null || io_die "dnsmasq missing (apt-get install dnsmasq-base)"
[ -n "$BIN" ] || BIN=$(bench_build anycastd)
io_init
IO_TAG=$TAG
run_start=$(bench_now_ns)
V4=192.0.2.53/32 V6=2001:db8:53::53/128
BR=$TAG-br CL=$TAG-cl
RR_DIRS=("$IO_ROOT/rr1" "$IO_ROOT/rr2")
agent_ns() { echo "$TAG-a$1"; }
agent_v4() { echo "10.88.1.$1"; }
agent_v6() { echo "2001:db8:88::1:$1"; }

# The L2: a bridge, and one veth per member (up0 in the member's namespace).
mkns() {
    ip netns delete "$1" 2>/dev/null
    ip netns add "$1" || io_die "ip netns add $1 failed"
    echo "$1" >>"$IO_ROOT/netns"
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}
join() { # join NS BRIDGE_SIDE_NAME V4 V6
    mkns "$1"
    ip link add up0 netns "$1" type veth peer name "$2" netns $BR || io_die "veth $2 failed"
    ip -n $BR link set "$2" master br0 up
    ip -n "$1" addr add "$3/16" dev up0
    ip -n "$1" addr add "$4/64" dev up0 nodad
    ip -n "$1" link set up0 up
}
mkns $BR
ip -n $BR link add br0 type bridge || io_die "no bridge in $BR"
ip -n $BR link set br0 up
join $TAG-rr1 ${TAG}r1 10.88.0.1 2001:db8:88::1
join $TAG-rr2 ${TAG}r2 10.88.0.2 2001:db8:88::2
join $CL ${TAG}c 10.88.0.3 2001:db8:88::3
ip netns exec $CL sysctl -qw net.ipv4.fib_multipath_hash_policy=1
for i in $(seq "$AGENTS"); do
    join "$(agent_ns "$i")" "${TAG}b$i" "$(agent_v4 "$i")" "$(agent_v6 "$i")"
    # The anycast /32 exists before dnsmasq binds it; the agent adds the /128 and its unicast /32.
    ip -n "$(agent_ns "$i")" addr add $V4 dev lo
done

# The reflectors: every agent an rr client (passive: the agents connect), the client router a non-client
# that gets every path (ADD-PATH send). Next hops are the agents' own addresses, on the bridge's subnet.
rr_start() { # rr_start INDEX
    local dir=${RR_DIRS[$1 - 1]} me=10.88.0.$1 i
    mkdir -p "$dir"
    {
        echo "router id $me;"
        echo "timeformat log \"%F %T.%6f\";"
        echo "log \"$dir/bird.log\" all;"
        echo "protocol device { scan time 10; }"
        echo "filter gshut { if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; }"
        echo "template bgp agent {"
        echo "  local $me as 65000; direct; rr client; passive on;"
        echo "  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;"
        echo "  error wait time 1, 1; error forget time 10;"
        echo "  debug { routes };"
        # RFC 8326, as anycastd.json(5) asks of routers: a draining agent's GRACEFUL_SHUTDOWN re-announce
        # drops its path out of the client's ECMP set before the withdraw.
        echo "  ipv4 { import filter gshut; export $EXPORT; gateway direct; };"
        echo "  ipv6 { import filter gshut; export $EXPORT; gateway direct; };"
        echo "}"
        for i in $(seq "$AGENTS"); do echo "protocol bgp a$i from agent { neighbor $(agent_v4 "$i") as 65000; }"; done
        echo "protocol bgp edge {"
        echo "  local $me as 65000; neighbor 10.88.0.3 as 65000; direct; passive on;"
        echo "  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;"
        echo "  ipv4 { import none; export all; add paths tx; gateway direct; };"
        echo "  ipv6 { import none; export all; add paths tx; gateway direct; };"
        echo "}"
    } >"$dir/bird.conf"
    ip netns exec "$TAG-rr$1" bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" ||
        io_die "bird failed to start in $TAG-rr$1 (see $dir/bird.conf)"
}
rr_start 1
rr_start 2
CDIR=$IO_ROOT/client
mkdir -p "$CDIR"
cat >"$CDIR/bird.conf" <<CONF
router id 10.88.0.3;
timeformat log "%F %T.%6f";
log "$CDIR/bird.log" all;
protocol device { scan time 10; }
protocol kernel kern4 { ipv4 { export where source = RTS_BGP; }; merge paths on limit 250; debug { routes }; }
template bgp reflector {
  local 10.88.0.3 as 65000; direct;
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;
  ipv4 { import all; export none; add paths rx; gateway direct; };
}
protocol bgp rr1 from reflector { neighbor 10.88.0.1 as 65000; }
protocol bgp rr2 from reflector { neighbor 10.88.0.2 as 65000; }
CONF
ip netns exec $CL bird -c "$CDIR/bird.conf" -s "$CDIR/bird.ctl" -P "$CDIR/bird.pid" || io_die "client bird failed"
for d in "${RR_DIRS[@]}" "$CDIR"; do
    io_wait 5 test -s "$d/bird.pid" || io_die "bird in $d wrote no pid file"
    io_track_pid "$(cat "$d/bird.pid")"
done
RR_PIDS="$(cat "${RR_DIRS[0]}/bird.pid") $(cat "${RR_DIRS[1]}/bird.pid")"

# Paths a reflector holds for one prefix (every agent's, best or not); unicast /32s in its table.
rr_paths() { birdc -s "$1/bird.ctl" show route for "$2" all 2>/dev/null | grep -c 'BGP.next_hop:'; }
rr_unicast() { birdc -s "$1/bird.ctl" show route in 198.51.100.0/24 2>/dev/null | grep -c '^198\.51\.100\.'; }
# Next hops of the anycast /32 in the client's FIB.
fib_hops() {
    local out
    out=$(ip -n $CL route show $V4 2>/dev/null)
    if grep -q nexthop <<<"$out"; then grep -c nexthop <<<"$out"; elif [ -n "$out" ]; then echo 1; else echo 0; fi
}
# converged PATHS [UNICAST]: both reflectors hold PATHS paths of each anycast prefix (and UNICAST /32s).
converged() {
    local d
    for d in "${RR_DIRS[@]}"; do
        [ "$(rr_paths "$d" $V4)" = "$1" ] && [ "$(rr_paths "$d" $V6)" = "$1" ] || return 1
        [ -z "${2:-}" ] || [ "$(rr_unicast "$d")" = "$2" ] || return 1
    done
}
fib_is() { [ "$(fib_hops)" = "$1" ]; }
# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it holds (true) or SECONDS pass (false). The
# polling only says when to look: every figure is read from BIRD's microsecond log timestamps (route traces of
# the reflectors' imports and of the client's FIB writes), so the test's own birdc and ip processes add nothing.
wait_for() {
    local end=$(($(bench_now_ns) + $1 * 1000000000))
    shift
    until "$@"; do
        [ "$(bench_now_ns)" -gt $end ] && return 1
        sleep 0.05
    done
}
ANY='(192\.0\.2\.53/32|2001:db8:53::53/128)'
# log_marks: the line counts of both reflectors' logs and the client's, "R1 R2 C".
log_marks() { echo "$(wc -l <"${RR_DIRS[0]}/bird.log") $(wc -l <"${RR_DIRS[1]}/bird.log") $(wc -l <"$CDIR/bird.log")"; }
# last_ms T0 REGEX DIR FROM [DIR FROM]...: ms from T0 (epoch ns) to the last line matching REGEX after line
# FROM in any of those logs, or "none".
last_ms() {
    local t0=$1 re=$2 last=0 stamp ns
    shift 2
    while [ $# -ge 2 ]; do
        stamp=$(tail -n +"$(($2 + 1))" "$1/bird.log" | grep -E "$re" | tail -1 | cut -d' ' -f1,2)
        if [ -n "$stamp" ]; then
            ns=$(date -d "$stamp" +%s%N)
            [ "$ns" -gt $last ] && last=$ns
        fi
        shift 2
    done
    [ $last = 0 ] && { echo none; return; }
    awk -v a="$last" -v b="$t0" 'BEGIN { printf "%.1f\n", (a - b) / 1e6 }'
}
# rr_ms T0 MARKS REGEX: the last such import trace at either reflector; fib_ms T0 MARKS: the client's last FIB
# write of the anycast /32.
rr_ms() {
    local m1 m2 m3
    read -r m1 m2 m3 <<<"$2"
    last_ms "$1" "$3" "${RR_DIRS[0]}" "$m1" "${RR_DIRS[1]}" "$m2"
}
fib_ms() {
    local m1 m2 m3
    read -r m1 m2 m3 <<<"$2"
    last_ms "$1" '<TRACE> kern4\.ipv4 < .*192\.0\.2\.53/32' "$CDIR" "$m3"
}
imported() { echo "<TRACE> $1\\.ipv[46] > $2 (\\[[a-z]+\\] )?$3 "; }
# client_sent: UDP datagrams sent in the client's namespace (the DNS client is the only UDP sender there).
client_sent() { ip netns exec $CL awk '/^Udp:/ { if (h) print $5; h = 1 }' /proc/net/snmp; }
# start_client NAME SECONDS: the DNS client, once it has sent its first 20 queries (python starts slowly on a
# loaded machine); sets CLIENT.
start_client() {
    local base
    base=$(client_sent)
    rm -f "$IO_ROOT/client.stop"
    ip netns exec $CL "$IO_PY" "$HERE/dns-client.py" 192.0.2.53 5 2000 "$IO_ROOT/client.stop" "$2" "$IO_ROOT/$1.lost" \
        >"$IO_ROOT/$1.out" &
    CLIENT=$!
    io_track_pid $CLIENT
    wait_for 30 eval '[ "$(client_sent)" -ge $((base + 20)) ]' || io_die "the DNS client sent nothing in 30 s"
}
stop_client() { touch "$IO_ROOT/client.stop"; wait "$CLIENT"; }
# Route updates the reflectors received (import) and sent (export), summed over both: "IU IW EU EW".
rr_counters() {
    local d
    for d in "${RR_DIRS[@]}"; do birdc -s "$d/bird.ctl" show protocols all; done | awk '
        /Import updates:/ { iu += $3 } /Import withdraws:/ { iw += $3 }
        /Export updates:/ { eu += $NF } /Export withdraws:/ { ew += $NF }
        END { print iu + 0, iw + 0, eu + 0, ew + 0 }'
}
# UPDATE messages the agents sent, summed over agents and both sessions (their metrics).
agent_updates() {
    local i
    for i in $(seq "$AGENTS"); do
        ip netns exec "$(agent_ns "$i")" curl -s -m 2 http://127.0.0.1:9477/metrics
    done | awk '/^anycastd_bgp_peer_updates_sent_total/ { s += $NF } END { print s + 0 }'
}

start_dnsmasq() { # start_dnsmasq I: answers id.lab TXT with the agent's two-digit number
    local d=$IO_ROOT/a$1
    rm -f "$d/dnsmasq.pid"
    ip netns exec "$(agent_ns "$1")" dnsmasq --conf-file=/dev/null --listen-address=192.0.2.53 --bind-interfaces \
        --no-resolv --no-hosts --txt-record=id.lab,"a$(printf %02d "$1")" --pid-file="$d/dnsmasq.pid" --user=root ||
        io_die "dnsmasq failed in $(agent_ns "$1")"
}
dnsmasq_pid() { cat "$IO_ROOT/a$1/dnsmasq.pid" 2>/dev/null; }
declare -a AGENT_PID
for i in $(seq "$AGENTS"); do
    d=$IO_ROOT/a$i
    mkdir -p "$d"
    cat >"$d/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65000, "routerId": "$(agent_v4 "$i")", "holdTime": "9s",
           "peers": [ { "name": "rr1", "address": "10.88.0.1", "asn": 65000, "localAddress": "$(agent_v4 "$i")",
                        "nextHop": { "ipv6": "$(agent_v6 "$i")" } },
                      { "name": "rr2", "address": "10.88.0.2", "asn": 65000, "localAddress": "$(agent_v4 "$i")",
                        "nextHop": { "ipv6": "$(agent_v6 "$i")" } } ] },
  "services": [
    { "name": "dns", "prefixes": ["$V4", "$V6"],
      "checks": [ { "dns": { "name": "id.lab", "type": "TXT" }, "interval": "100ms", "timeout": "50ms",
                    "rise": 1, "fall": 3 } ] },
    { "name": "host", "prefixes": ["198.51.100.$i/32"] } ],
  "drain": { "delay": "500ms" },
  "stateDirectory": "$d/state",
  "control": { "socket": "$d/anycastd.sock" },
  "metrics": { "listen": "127.0.0.1:9477" }
}
JSON
    start_dnsmasq "$i"
done
for i in $(seq "$AGENTS"); do
    io_wait 5 test -s "$IO_ROOT/a$i/dnsmasq.pid" || io_die "dnsmasq of agent $i wrote no pid file"
    io_track_pid "$(dnsmasq_pid "$i")"
done
"$BIN" check -c "$IO_ROOT/a1/anycastd.json" >/dev/null || io_die "agent 1's configuration is invalid"
echo "fleet: $AGENTS agents, 2 BIRD $(bird --version 2>&1 | awk '{ print $NF }') reflectors" \
    "(export $EXPORT to agents), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $BIN"

# --- cold start: every agent at once.
marks=$(log_marks)
t0=$(bench_now_ns)
for i in $(seq "$AGENTS"); do
    ip netns exec "$(agent_ns "$i")" "$BIN" reconcile -c "$IO_ROOT/a$i/anycastd.json" >>"$IO_ROOT/a$i/anycastd.log" 2>&1 &
    AGENT_PID[$i]=$!
    io_track_pid $!
done
launched=$((($(bench_now_ns) - t0) / 1000000))
cold=timeout cold_fib=timeout
if wait_for 120 converged "$AGENTS" "$AGENTS"; then
    cold=$(rr_ms "$t0" "$marks" "$(imported 'a[0-9]+' added "($ANY|198\\.51\\.100\\.[0-9]+/32)")")
fi
wait_for 30 fib_is "$AGENTS" && cold_fib=$(fib_ms "$t0" "$marks")
echo "cold start: $AGENTS agents launched in $launched ms; both reflectors hold all paths after $cold ms;" \
    "the client's FIB has $AGENTS next hops after $cold_fib ms"
if [ $CHECK = 1 ]; then
    check "cold start: both reflectors hold $AGENTS paths of $V4 and $V6 and $AGENTS unicast /32s" \
        test "$cold" != timeout
    check "cold start: the client's FIB has $AGENTS next hops for $V4" test "$cold_fib" != timeout
fi
[ "$cold" != timeout ] && [ "$cold_fib" != timeout ] ||
    io_die "the fleet never converged (reflector 1: $(rr_paths "${RR_DIRS[0]}" $V4) paths, FIB $(fib_hops) hops; see $IO_ROOT)"

# --- steady state: memory and CPU over IDLE seconds.
pids=$(printf '%s ' "${AGENT_PID[@]}")
[ $CHECK = 1 ] || sleep 5
# shellcheck disable=SC2086
{
    a0=$(bench_ticks $pids) r0=$(bench_ticks $RR_PIDS)
    sleep "$IDLE"
    a1=$(bench_ticks $pids) r1=$(bench_ticks $RR_PIDS)
    rss=$(bench_rss_kb $pids) rr_rss=$(bench_rss_kb $RR_PIDS)
}
pss_kb() { # pss_kb PID... -> summed Pss in kB (shared pages divided among the processes that map them)
    local p s=0 v
    for p in "$@"; do
        v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
        s=$((s + ${v:-0}))
    done
    echo $s
}
# shellcheck disable=SC2086
pss=$(pss_kb $pids) rr_pss=$(pss_kb $RR_PIDS)
mem_line=$(awk -v n="$AGENTS" -v rss="$rss" -v pss="$pss" -v rr="$rr_rss" -v rrp="$rr_pss" -v a="$((a1 - a0))" \
    -v r="$((r1 - r0))" -v hz="$bench_hz" -v s="$IDLE" 'BEGIN {
    printf "agents RSS %.1f MB in all, %.1f MB each, PSS %.1f MB in all, %.1f MB each,", rss / 1024, rss / 1024 / n,
        pss / 1024, pss / 1024 / n
    printf " CPU %.1f %% of a core in all, %.2f s/min each;", a / hz / s * 100, a / hz / s * 60 / n
    printf " reflectors RSS %.1f MB each, PSS %.1f MB each, CPU %.2f s/min each\n", rr / 2048, rrp / 2048, r / hz / s * 30 }')
echo "steady state over $IDLE s (checks every 100 ms): $mem_line"

# --- mass event: the DNS servers of every other agent killed at one instant.
left=$((AGENTS - FAIL))
victims=() vpids=()
for i in $(seq 1 2 $((FAIL * 2))); do victims+=("$i"); vpids+=("$(dnsmasq_pid "$i")"); done
read -r iu0 iw0 eu0 ew0 < <(rr_counters)
au0=$(agent_updates)
start_client client-mass 120
marks=$(log_marks)
t0=$(bench_now_ns)
kill -KILL "${vpids[@]}"
mass=timeout mass_fib=timeout
wait_for 30 converged "$left" && mass=$(rr_ms "$t0" "$marks" "$(imported 'a[0-9]+' removed "$ANY")")
wait_for 10 fib_is "$left" && mass_fib=$(fib_ms "$t0" "$marks")
sleep 1
read -r iu1 iw1 eu1 ew1 < <(rr_counters)
au1=$(agent_updates)
stop_client
mass_lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' "$IO_ROOT/client-mass.out")
marks=$(log_marks)
t0=$(bench_now_ns)
for i in "${victims[@]}"; do start_dnsmasq "$i"; done
back=timeout
wait_for 30 converged "$AGENTS" && back=$(rr_ms "$t0" "$marks" "$(imported 'a[0-9]+' added "$ANY")")
for i in "${victims[@]}"; do io_wait 5 test -s "$IO_ROOT/a$i/dnsmasq.pid" && io_track_pid "$(dnsmasq_pid "$i")"; done
read -r iu2 iw2 eu2 ew2 < <(rr_counters)
mass_counts="reflectors received $((iw1 - iw0)) withdraws and $((iu1 - iu0)) updates, sent $((ew1 - ew0)) withdraws"
mass_counts="$mass_counts and $((eu1 - eu0)) updates (routes, both reflectors); agents sent $((au1 - au0)) UPDATE messages"
echo "mass event: $FAIL DNS servers killed: both reflectors at $left paths after $mass ms, the client's FIB after" \
    "$mass_fib ms; $mass_counts; queries lost meanwhile: $mass_lost ($(cat "$IO_ROOT/client-mass.out"));" \
    "restarted: all $AGENTS paths back after $back ms, reflectors received $((iu2 - iu1)) updates and sent $((eu2 - eu1))"
if [ $CHECK = 1 ]; then
    check "mass event: both reflectors converge to $left paths" test "$mass" != timeout
    check "mass event: the client's FIB converges to $left next hops" test "$mass_fib" != timeout
    check "mass event: each reflector received one withdraw per failed agent and anycast prefix" \
        test $((iw1 - iw0)) = $((FAIL * 2 * 2))
    check "mass event: all $AGENTS paths back once the servers restart" test "$back" != timeout
fi

# --- rolling drain of DRAIN agents, one after the other, with the client querying every 5 ms.
ctl() { "$BIN" "$1" --socket "$IO_ROOT/a$2/anycastd.sock" >/dev/null 2>&1; }
fib_lacks() { ! ip -n $CL route show $V4 | grep -q "via $(agent_v4 "$1") "; }
all_back() { converged "$AGENTS" && fib_is "$AGENTS"; }
drain_gone() { converged $((AGENTS - 1)) && fib_lacks "$1"; }
io_wait 10 all_back || io_die "the fleet is not whole before the rolling drain"
read -r iu0 iw0 eu0 ew0 < <(rr_counters)
start_client client-drain 1800
drain_rr=() drain_fib=() undrain_rr=() undrain_fib=() drain_errors=0
rolling_start=$(bench_now_ns)
event() { echo "$(date +%s.%N) $*" >>"$IO_ROOT/events"; }
for i in $(seq "$DRAIN"); do
    marks=$(log_marks)
    t0=$(bench_now_ns)
    event drain "$i"
    ctl drain "$i" || drain_errors=$((drain_errors + 1))
    if wait_for 10 drain_gone "$i"; then
        drain_rr+=("$(rr_ms "$t0" "$marks" "$(imported "a$i" removed "$ANY")")")
        drain_fib+=("$(fib_ms "$t0" "$marks")")
    else
        drain_errors=$((drain_errors + 1))
    fi
    event drained "$i"
    marks=$(log_marks)
    t0=$(bench_now_ns)
    event undrain "$i"
    ctl undrain "$i" || drain_errors=$((drain_errors + 1))
    if wait_for 10 all_back; then
        event back "$i"
        undrain_rr+=("$(rr_ms "$t0" "$marks" "$(imported "a$i" added "$ANY")")")
        undrain_fib+=("$(fib_ms "$t0" "$marks")")
    else
        drain_errors=$((drain_errors + 1))
    fi
done
rolling=$((($(bench_now_ns) - rolling_start) / 1000000))
sleep 0.5
stop_client
read -r iu1 iw1 eu1 ew1 < <(rr_counters)
out=$(cat "$IO_ROOT/client-drain.out")
# Each lost query with the last step of the rolling drain before it was sent (the first 20).
awk 'NR == FNR { t[NR] = $1 + 0; e[NR] = $2 " " $3; n = NR; next }
    { k = 0; for (j = 1; j <= n; j++) if (t[j] <= $1) k = j
      if (k) printf "lost query sent %.0f ms after %s\n", ($1 - t[k]) * 1000, e[k]
      else print "lost query sent before the first drain" }' \
    "$IO_ROOT/events" "$IO_ROOT/client-drain.lost" 2>/dev/null | head -20
lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$out")
served=$(grep -o ' [0-9][0-9]=' <<<"$out" | wc -l)
drain_counts="reflectors received $((iw1 - iw0)) withdraws and $((iu1 - iu0)) updates,"
drain_counts="$drain_counts sent $((ew1 - ew0)) withdraws and $((eu1 - eu0)) updates"
drain_figs="drain until withdrawn at both reflectors $(bench_stats ms "${drain_rr[@]}"), out of the client's FIB"
drain_figs="$drain_figs $(bench_stats ms "${drain_fib[@]}"); undrain until back at both"
drain_figs="$drain_figs $(bench_stats ms "${undrain_rr[@]}"), in the FIB $(bench_stats ms "${undrain_fib[@]}")"
echo "rolling drain of $DRAIN agents in $(awk -v m="$rolling" 'BEGIN { printf "%.1f", m / 1000 }') s: $drain_figs;" \
    "$drain_counts; client: $out ($served agents answered); errors $drain_errors"
if [ $CHECK = 1 ]; then
    check "rolling drain of $DRAIN agents: each drain and undrain converged at both reflectors and the FIB" \
        test "$drain_errors" = 0
    check "rolling drain: 0 queries lost of one every 5 ms ($out)" test "${lost:-x}" = 0
    check "rolling drain: queries spread over the fleet ($served of $AGENTS agents answered)" \
        test "$served" -ge $((AGENTS / 2))
    summarized=1
    echo "fleet: the run took $((($(bench_now_ns) - run_start) / 1000000000)) s"
    echo "fleet: $passed passed, $failed failed"
    [ $failed = 0 ]
    exit
fi

bench_row "fleet of $AGENTS agents, 2 BIRD route reflectors: cold start until both hold all $AGENTS paths (/32, /128, unicast)" \
    "$cold ms from the first start (one shell loop took $launched ms to start them all; client FIB with $AGENTS next hops: $cold_fib ms)" \
    "not run (no comparison in this benchmark)" "-"
bench_row "fleet: checks of $FAIL agents fail at once until both reflectors hold $left paths" \
    "$mass ms (FIB $mass_fib ms; back after restart $back ms); $mass_counts" "not run (no comparison in this benchmark)" "-"
bench_row "fleet: rolling drain of $DRAIN agents, queries lost of one every 5 ms" \
    "$lost of $(sed -n 's/sent=\([0-9]*\).*/\1/p' <<<"$out"); $drain_figs" \
    "not run (no comparison in this benchmark)" "-"
bench_row "fleet: memory and CPU at steady state ($IDLE s)" "$mem_line" "not run (no comparison in this benchmark)" "-"
echo "fleet: the run took $((($(bench_now_ns) - run_start) / 1000000000)) s"
