#!/usr/bin/env bash
# Issue 9 against real routers: two hosts run anycastd (interface kind "existing" on lo) with the same
# service (192.0.2.53/32, dnsmasq on it, an exec check that fails while a file exists) with lastResort,
# degraded {asPathPrepend, communities} and dampening; BIRD is a router that sends the hosts every path
# (`add paths tx`, so the hosts receive with ADD-PATH) and FRR a router without ADD-PATH (its best path).
# All four share one L2 segment (a bridge in a namespace of its own).
# Cells: one host fails → its route leaves both routers; both fail → the routers keep at least one route,
# degraded (prepend and community visible at BIRD) and a client in BIRD's namespace is still answered;
# one recovers → the other's degraded route is withdrawn; a flapping check on a second service is
# suppressed after the third withdraw and its route comes back after the decay.
# With --bench N it instead runs N trials of "both fail at once → a route back at BIRD" and "one
# recovers → the degraded one gone at BIRD" and prints their p50/max (Tests/bench/lastresort.sh).
# Usage: sudo Tests/interop/policy.sh [--bin PATH] [--bench N]. Prints TAP lines and
# `policy: N passed, N failed`.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/debug/anycastd
BENCH=0
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--bench N]" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || io_die "$BIN not built (swift build)"
io_require
command -v dnsmasq >/dev/null || io_die "dnsmasq missing (apt-get install dnsmasq-base)"
command -v dig >/dev/null || io_die "dig missing (apt-get install bind9-dnsutils)"
io_init "$(mktemp -d /tmp/acd-policy.XXXXXX)"
trap io_cleanup EXIT
# A tier stopped by its timeout still cleans up (bash runs no EXIT trap when a signal kills it).
trap 'exit 143' TERM INT
IO_TAG=policy

now_ms() { date +%s%3N; }
started=$(date +%s)
SW=acd-pol-sw BIRDNS=acd-pol-bird FRRNS=acd-pol-frr
NET=10.86.0
BIRD_ADDR=$NET.1 FRR_ADDR=$NET.2
VIP=192.0.2.53 FLAP=192.0.2.54
# Host i: namespace acd-pol-hi, address 10.86.0.1i, ASN 6501i; the degraded community is 65000:666.
host_ns() { echo "acd-pol-h$1"; }
host_addr() { echo "$NET.1$1"; }

ip netns delete $SW 2>/dev/null
ip netns add $SW && echo $SW >>"$IO_ROOT/netns"
ip -n $SW link set lo up
ip -n $SW link add apol-br type bridge
ip -n $SW link set apol-br up
join() { # join NS ADDR SUFFIX: NS on the segment with ADDR/24 through a veth apol-SUFFIX / apol-SUFFIX-p
    ip netns delete "$1" 2>/dev/null
    ip netns add "$1" && echo "$1" >>"$IO_ROOT/netns"
    ip -n "$1" link set lo up
    ip link add "apol-$3" netns "$1" type veth peer name "apol-$3-p" netns $SW || io_die "veth apol-$3 failed"
    ip -n $SW link set "apol-$3-p" master apol-br
    ip -n $SW link set "apol-$3-p" up
    ip -n "$1" addr add "$2/24" dev "apol-$3"
    ip -n "$1" link set "apol-$3" up
}
join $BIRDNS $BIRD_ADDR bird
join $FRRNS $FRR_ADDR frr
for h in 1 2; do join "$(host_ns $h)" "$(host_addr $h)" "h$h"; done
ip netns exec $BIRDNS sysctl -qw net.ipv4.fib_multipath_hash_policy=1

# --- BIRD: imports the hosts' anycast routes, ranks degraded ones lower, sends every path back ----------
bdir=$IO_ROOT/bird
mkdir -p "$bdir"
{
    echo "router id $BIRD_ADDR;"
    echo "log \"$bdir/bird.log\" all;"
    echo "protocol device { scan time 10; }"
    echo "protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }"
    echo "filter hosts_in { if net !~ [ 192.0.2.0/24{32,32} ] then reject;"
    echo "  if (65000, 666) ~ bgp_community then bgp_local_pref = 50; accept; }"
    echo "filter hosts_out { if net ~ [ 192.0.2.0/24{32,32} ] then accept; reject; }"
    for h in 1 2; do
        echo "protocol bgp h$h {"
        echo "  local $BIRD_ADDR as 65000; neighbor $(host_addr $h) as 6501$h;"
        echo "  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;"
        echo "  error wait time 1, 5; error forget time 10;"
        echo "  ipv4 { import filter hosts_in; export filter hosts_out; add paths tx; };"
        echo "}"
    done
} >"$bdir/bird.conf"
ip netns exec $BIRDNS bird -c "$bdir/bird.conf" -s "$bdir/bird.ctl" -P "$bdir/bird.pid" || io_die "bird failed"
for _ in $(seq 50); do [ -s "$bdir/bird.pid" ] && break; sleep 0.1; done
birdc_() { birdc -s "$bdir/bird.ctl" "$@"; }

# --- FRR: the same without ADD-PATH (its best path) ----------------------------------------------------
fdir=$IO_ROOT/frr
mkdir -p "$fdir"
{
    echo "hostname acd-pol-frr"
    echo "bgp community-list standard DEGRADED seq 5 permit 65000:666"
    echo "ip prefix-list ANYCAST seq 10 permit 192.0.2.0/24 ge 32"
    echo "route-map HOSTS-IN permit 10"
    echo " match ip address prefix-list ANYCAST"
    echo " match community DEGRADED"
    echo " set local-preference 50"
    echo "route-map HOSTS-IN permit 20"
    echo " match ip address prefix-list ANYCAST"
    echo "route-map HOSTS-OUT permit 10"
    echo " match ip address prefix-list ANYCAST"
    echo "router bgp 65000"
    echo " bgp router-id $FRR_ADDR"
    echo " no bgp default ipv4-unicast"
    echo " bgp bestpath as-path multipath-relax"
    for h in 1 2; do
        echo " neighbor $(host_addr $h) remote-as 6501$h"
        echo " neighbor $(host_addr $h) timers 3 9"
        echo " neighbor $(host_addr $h) timers connect 2"
    done
    echo " address-family ipv4 unicast"
    echo "  maximum-paths 4"
    for h in 1 2; do
        echo "  neighbor $(host_addr $h) activate"
        echo "  neighbor $(host_addr $h) route-map HOSTS-IN in"
        echo "  neighbor $(host_addr $h) route-map HOSTS-OUT out"
    done
    echo " exit-address-family"
} >"$fdir/bgpd.conf"
echo "hostname acd-pol-frr" >"$fdir/zebra.conf"
chown -R frr:frr "$fdir" 2>/dev/null
chmod 755 "$fdir"
ip netns exec $FRRNS /usr/lib/frr/zebra -d -f "$fdir/zebra.conf" -i "$fdir/zebra.pid" -z "$fdir/zserv.api" \
    --vty_socket "$fdir" >"$fdir/zebra.out" 2>&1 || io_die "zebra failed"
for _ in $(seq 50); do [ -S "$fdir/zserv.api" ] && break; sleep 0.1; done
ip netns exec $FRRNS /usr/lib/frr/bgpd -d -f "$fdir/bgpd.conf" -i "$fdir/bgpd.pid" -z "$fdir/zserv.api" \
    --vty_socket "$fdir" >"$fdir/bgpd.out" 2>&1 || io_die "bgpd failed"
for _ in $(seq 50); do [ -s "$fdir/bgpd.pid" ] && break; sleep 0.1; done
vtysh_() { vtysh --vty_socket "$fdir" "$@"; }

# --- the hosts --------------------------------------------------------------------------------------
write_config() { # write_config HOST
    local h=$1 d=$IO_ROOT/h$1
    mkdir -p "$d"
    cat >"$d/new.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 6501$h, "routerId": "$(host_addr "$h")", "holdTime": "9s",
           "peers": [ { "name": "bird", "address": "$BIRD_ADDR", "asn": 65000, "localAddress": "$(host_addr "$h")" },
                      { "name": "frr", "address": "$FRR_ADDR", "asn": 65000, "localAddress": "$(host_addr "$h")" } ] },
  "services": [
    { "name": "dns", "prefixes": ["$VIP/32"], "lastResort": true,
      "degraded": { "asPathPrepend": 3, "communities": ["65000:666"] },
      "checks": [ { "exec": { "command": ["/bin/sh", "-c", "test ! -e $d/fail"] },
                    "interval": "100ms", "timeout": "90ms", "rise": 1, "fall": 1 } ] },
    { "name": "flap", "prefixes": ["$FLAP/32"], "peers": ["bird"],
      "dampening": { "halfLife": "8s", "suppress": 2.5, "reuse": 1, "maxSuppress": "60s" },
      "checks": [ { "exec": { "command": ["/bin/sh", "-c", "test ! -e $d/flap"] },
                    "interval": "100ms", "timeout": "90ms", "rise": 1, "fall": 1 } ] }
  ],
  "drain": { "delay": "1s" },
  "stateDirectory": "$d/state",
  "control": { "socket": "$d/anycastd.sock" }
}
JSON
    mv "$d/new.json" "$d/anycastd.json"
}
declare -A agent
start_host() { # start_host HOST: the agent and dnsmasq (which says who answered)
    local h=$1 d=$IO_ROOT/h$1 ns
    ns=$(host_ns "$h")
    write_config "$h"
    ip netns exec "$ns" dnsmasq --conf-file=/dev/null --listen-address=$VIP --bind-dynamic --no-resolv \
        --no-hosts --txt-record=id.lab,served-by-h$h --pid-file="$d/dnsmasq.pid" --user=root ||
        io_die "dnsmasq failed in $ns"
    for _ in $(seq 50); do [ -s "$d/dnsmasq.pid" ] && break; sleep 0.1; done
    io_track_pid "$(cat "$d/dnsmasq.pid")"
    ip netns exec "$ns" "$BIN" reconcile -c "$d/anycastd.json" >"$d/anycastd.log" 2>&1 &
    agent[$h]=$!
    io_track_pid "${agent[$h]}"
}
start_host 1
start_host 2
check "anycastd check accepts the hosts' configuration (lastResort, degraded, dampening)" \
    "$BIN" check "$IO_ROOT/h1/anycastd.json"
fail() { touch "$IO_ROOT/h$1/fail"; }
heal() { rm -f "$IO_ROOT/h$1/fail"; }

# --- what the routers hold --------------------------------------------------------------------------
# bird_paths PREFIX: one line per path, "FROM ASPATH COMMUNITIES" (FROM = h1/h2).
bird_paths() {
    birdc_ show route "$1/32" all | awk '
        / unicast \[/ { if (from != "") print from, path, comm
            from = ""; path = "-"; comm = "-"
            for (i = 1; i <= NF; i++) if ($i ~ /^\[h[12]$/) from = substr($i, 2) }
        /BGP.as_path:/ { sub(/.*BGP.as_path: */, ""); path = $0; gsub(/ /, "-", path) }
        /BGP.community:/ { sub(/.*BGP.community: */, ""); comm = $0; gsub(/ /, "", comm) }
        END { if (from != "") print from, path, comm }'
}
bird_has_from() { bird_paths "$1" | grep -q "^$2 "; }
bird_lacks() { ! bird_has_from "$@"; }
bird_count() { bird_paths "$1" | grep -c .; }
bird_degraded_only() { # every path BIRD has for the prefix is degraded, and there is one
    local paths
    paths=$(bird_paths "$1")
    [ -n "$paths" ] && ! echo "$paths" | grep -vq "(65000,666)"
}
bird_none_degraded() { ! bird_paths "$1" | grep -q "(65000,666)"; }
frr_json() { vtysh_ -c "show bgp ipv4 unicast $1/32 json" 2>/dev/null; }
frr_from() { frr_json "$1" | jq -r '.paths[]? | .peer.peerId // empty' 2>/dev/null; }
frr_has_from() { frr_from "$1" | grep -qx "$(host_addr "$2")"; }
frr_lacks() { ! frr_has_from "$@"; }
frr_only() { frr_has_from "$1" "$2" && frr_lacks "$1" "$3"; }
frr_count_is() { [ "$(frr_count "$1")" = "$2" ]; }
frr_count() { frr_from "$1" | grep -c .; }
frr_best_degraded() {
    frr_json "$1" | jq -e '[.paths[]? | select(.bestpath.overall == true) | .community.string // ""]
        | .[0] // "" | contains("65000:666")' >/dev/null 2>&1
}
served_by() { ip netns exec $BIRDNS dig +short +time=1 +tries=1 @$VIP id.lab TXT 2>/dev/null | tr -d '"'; }
answered() { case "$(served_by)" in served-by-h1 | served-by-h2) return 0 ;; *) return 1 ;; esac; }
# svc_state HOST SERVICE: the service's state in `anycastd status --json` (up, degraded, down, suppressed,
# lastResort).
svc_state() {
    "$BIN" status --json --socket "$IO_ROOT/h$1/anycastd.sock" 2>/dev/null |
        jq -r --arg s "$2" '.services[]? | select(.name == $s) | .state // empty' 2>/dev/null
}
svc_state_is() { [ "$(svc_state "$1" "$2")" = "$3" ]; }
either_last_resort() { svc_state_is 1 dns lastResort || svc_state_is 2 dns lastResort; }
served_by_is() { [ "$(served_by)" = "$1" ]; }
healthy_both() { bird_has_from $VIP h1 && bird_has_from $VIP h2 && bird_none_degraded $VIP; }
healthy_only() { bird_has_from "$1" "$2" && [ "$(bird_count "$1")" = 1 ] && bird_none_degraded "$1"; }

check "BIRD: both hosts established" io_wait 30 sh -c "birdc -s $bdir/bird.ctl show protocols | grep -E '^h[12] ' | grep -c Established | grep -qx 2"
host_addpath_rx() { # the host offered ADD-PATH receive for IPv4, as BIRD saw it
    birdc_ show protocols all "h$1" | sed -n '/Neighbor capabilities/,/Session:/p' | grep -A2 'ADD-PATH' |
        grep -q 'RX:.*ipv4'
}
both_addpath_rx() { host_addpath_rx 1 && host_addpath_rx 2; }
check "BIRD sees ADD-PATH receive from both hosts (a lastResort service is announced to it)" \
    both_addpath_rx
check "FRR: both hosts established" io_wait 30 sh -c "[ \$(vtysh --vty_socket $fdir -c 'show bgp summary json' | jq '[.ipv4Unicast.peers[] | select(.state == \"Established\")] | length') = 2 ]"
check "BIRD has both hosts' routes, not degraded" io_wait 15 healthy_both
check "FRR has both hosts' routes" io_wait 15 frr_count_is $VIP 2
check "a client in BIRD's namespace is answered" io_wait 10 answered
check "host 1 receives host 2's path (ADD-PATH from BIRD, best path from FRR)" io_wait 10 \
    sh -c "grep -q 'paths for $VIP/32' $IO_ROOT/h1/anycastd.log || [ -n \"\$(birdc -s $bdir/bird.ctl show route export h1 $VIP/32)\" ]"

if [ "$BENCH" -gt 0 ]; then
    back=() gone=() gaps=()
    for t in $(seq "$BENCH"); do
        heal 1
        heal 2
        io_wait 20 healthy_both || { io_log "trial $t: not healthy at the start"; continue; }
        sleep 0.5
        # Both fail at once. A route "back" is BIRD holding only degraded routes for the prefix; the gap is
        # how long BIRD held none on the way there (0 when a route never left).
        t0=$(now_ms)
        fail 1
        fail 2
        gap_start='' gap=0 back_ms=''
        while [ $(($(now_ms) - t0)) -lt 15000 ]; do
            c=$(bird_count $VIP)
            [ "$c" = 0 ] && [ -z "$gap_start" ] && gap_start=$(now_ms)
            if [ "$c" -gt 0 ] && bird_degraded_only $VIP; then
                back_ms=$(($(now_ms) - t0))
                [ -n "$gap_start" ] && gap=$(($(now_ms) - gap_start))
                break
            fi
            sleep 0.01
        done
        if [ -n "$back_ms" ]; then back+=("$back_ms"); gaps+=("$gap"); fi
        sleep 0.5
        # One recovers: the other's degraded route must go.
        t0=$(now_ms)
        heal 1
        gone_ms=''
        while [ $(($(now_ms) - t0)) -lt 15000 ]; do
            if healthy_only $VIP h1; then gone_ms=$(($(now_ms) - t0)); break; fi
            sleep 0.01
        done
        [ -n "$gone_ms" ] && gone+=("$gone_ms")
        io_log "trial $t: both failed -> only degraded at BIRD ${back_ms:-never} ms (no route for $gap ms); one recovered -> degraded gone ${gone_ms:-never} ms"
    done
    heal 2
    echo "BENCH back ${back[*]:-}"
    echo "BENCH gap ${gaps[*]:-}"
    echo "BENCH gone ${gone[*]:-}"
    [ ${#back[@]} = "$BENCH" ] && [ ${#gone[@]} = "$BENCH" ]
    exit $?
fi

# 1. Host 1 fails: host 2 still offers a healthy path, so host 1's route leaves both routers.
fail 1
check "one host fails: its route leaves BIRD" io_wait 10 bird_lacks $VIP h1
check "one host fails: its route leaves FRR" io_wait 10 frr_lacks $VIP 1
check "one host fails: host 2's route stays, not degraded" healthy_only $VIP h2
check "one host fails: its status says down (another host offers a healthy path), not last resort" \
    io_wait 5 svc_state_is 1 dns down

# 2. Both fail: neither sees a healthy path elsewhere, so at least one stays, degraded.
fail 2
check "both fail: BIRD keeps a route, all of them degraded" io_wait 10 bird_degraded_only $VIP
check "both fail: the degraded route carries the prepend at BIRD" sh -c "birdc -s $bdir/bird.ctl show route $VIP/32 all | grep -Eq 'BGP.as_path: (6501[12]) \\1 \\1 \\1'"
check "both fail: FRR keeps a route and its best is degraded" io_wait 10 frr_best_degraded $VIP
check "both fail: a client is still answered" io_wait 5 answered
check "both fail: a host's status says it is kept as the last resort" io_wait 5 either_last_resort
sleep 2
check "both fail: still kept 2 s later (no oscillation)" bird_degraded_only $VIP

# 3. Host 1 recovers: host 2 sees a healthy path again and withdraws its degraded route.
heal 1
check "one recovers: its route is back at BIRD, not degraded" io_wait 10 bird_has_from $VIP h1
check "one recovers: the other's degraded route leaves BIRD" io_wait 10 healthy_only $VIP h1
check "one recovers: FRR has host 1's route only" io_wait 10 frr_only $VIP 1 2
check "one recovers: a client is answered by host 1" io_wait 5 served_by_is served-by-h1
heal 2
check "both healthy again" io_wait 10 healthy_both

# 4. A flapping check (service flap on host 1, dampening halfLife 8 s, suppress 2.5, reuse 1): each withdraw
# adds 1 and the penalty decays between them, so the second (about 1.9) stays below 2.5 and the third
# (about 2.8) suppresses; the route then stays away while healthy and comes back once the penalty is below
# 1 (about log2(2.8) x 8 s ≈ 12 s later).
check "flap: BIRD has host 1's route" io_wait 10 bird_has_from $FLAP h1
for i in 1 2 3; do
    touch "$IO_ROOT/h1/flap"
    check "flap: withdraw $i reaches BIRD" io_wait 5 bird_lacks $FLAP h1
    rm -f "$IO_ROOT/h1/flap"
    [ $i -lt 3 ] && check "flap: back after withdraw $i" io_wait 5 bird_has_from $FLAP h1
done
t0=$(now_ms)
sleep 5
check "flap: suppressed after the third withdraw (healthy, no route 5 s later)" bird_lacks $FLAP h1
check "flap: host 1's status says suppressed" svc_state_is 1 flap suppressed
if io_wait 30 bird_has_from $FLAP h1; then
    ok "flap: the route comes back after the decay ($(($(now_ms) - t0)) ms after the last recovery; about 12000 expected)"
else
    not_ok "flap: the route did not come back within 35 s"
fi

[ "$failed" = 0 ] || for h in 1 2; do
    echo "# status h$h:"
    "$BIN" status --socket "$IO_ROOT/h$h/anycastd.sock" 2>&1 | sed 's/^/#   /'
done
for h in 1 2; do kill -TERM "${agent[$h]}"; done
for h in 1 2; do
    wait "${agent[$h]}"
    check "SIGTERM: agent $h exits 0" [ $? = 0 ]
done

[ "$failed" = 0 ] || {
    for h in 1 2; do echo "# anycastd h$h log (last 40 lines):"; tail -40 "$IO_ROOT/h$h/anycastd.log" | sed 's/^/#   /'; done
    echo "# bird:"; birdc_ show route all | sed 's/^/#   /'
    echo "# frr:"; vtysh_ -c "show bgp ipv4 unicast" | sed 's/^/#   /'
}
echo "1..$n"
echo "# took $(($(date +%s) - started)) s"
echo "policy: $passed passed, $failed failed"
[ "$failed" = 0 ]
