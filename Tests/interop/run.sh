#!/usr/bin/env bash
# Interop tier: the anycastd BGP speaker (through the bgp-probe test executable) against BIRD, FRR,
# GoBGP and ExaBGP in network namespaces on this host kernel. Each peer gets its own lab (namespaces,
# one router process with several neighbors, one bgp-probe per session), the labs run in parallel,
# and each matrix cell passes, fails, or says why that peer cannot do it. Then two resilience tests
# against BIRD: a silently dropping peer (hold timer) and a BIRD kill/restart (full set, no duplicates).
# Usage: sudo Tests/interop/run.sh [--probe PATH] [--keep]   (needs root; builds bgp-probe if no --probe)
# Ends with the matrix and one line `interop: N passed, N failed`; exits 1 on any failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

PROBE=""
KEEP=0
PEERS="bird frr gobgp exabgp"
while [ $# -gt 0 ]; do
    case $1 in
    --probe) PROBE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --peers) PEERS=$2; shift 2 ;;
    *) echo "usage: $0 [--probe PATH] [--keep] [--peers 'bird frr gobgp exabgp']" >&2; exit 2 ;;
    esac
done

io_require
if [ -z "$PROBE" ]; then
    (cd "$REPO" && swift build --product bgp-probe >/dev/null 2>&1) ||
        io_die "swift build --product bgp-probe failed (run it by hand to see why)"
    PROBE="$(cd "$REPO" && swift build --show-bin-path)/bgp-probe"
fi
[ -x "$PROBE" ] || io_die "no bgp-probe at $PROBE"
io_init
if [ $KEEP = 0 ]; then trap io_cleanup EXIT; else trap 'io_log "kept $IO_ROOT"' EXIT; fi
START=$(date +%s)
io_log "lab folder $IO_ROOT"

CELLS="v4-over-v4 v6-over-v6 v6-over-v4-nh v6-link-local asn4 asn2 md5-active md5-passive communities med-prepend withdraw route-refresh shutdown-msg"

# result KIND CELL pass|fail|n/a TEXT: one line per cell in $IO_ROOT/results.
result() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$IO_ROOT/results"
    io_log "$1 $2: $3 ${4:-}"
}

# probe_start DIR NS ARGS...: bgp-probe with its stdin on a FIFO (commands) and stdout in DIR/out.
declare -A PROBE_FD
probe_start() {
    local dir=$1 ns=$2
    shift 2
    mkdir -p "$dir"
    rm -f "$dir/ctl"
    mkfifo "$dir/ctl"
    ip netns exec "$ns" "$PROBE" "$@" <"$dir/ctl" >"$dir/out" 2>"$dir/log" &
    local pid=$!
    echo "$pid" >"$dir/probe.pid"
    io_track_pid "$pid"
    local fd
    exec {fd}>"$dir/ctl"
    PROBE_FD[$dir]=$fd
}
probe_send() { echo "$2" >&"${PROBE_FD[$1]}" 2>/dev/null; }
probe_stop() { # sends "stop" and waits for the process to exit
    local dir=$1 pid
    pid=$(cat "$dir/probe.pid")
    probe_send "$dir" stop
    local i
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    io_kill "$pid"
    return 1
}
probe_event() { grep -q -- "$2" "$1/out"; } # probe_event DIR REGEX
probe_status() { # last status JSON line after asking for one
    local dir=$1 before
    before=$(grep -c '^status ' "$dir/out")
    probe_send "$dir" status
    io_wait 3 bash -c "[ \$(grep -c '^status ' '$dir/out') -gt $before ]" || return 1
    grep '^status ' "$dir/out" | tail -1 | cut -d' ' -f2-
}

# has_route KIND RDIR NBR_ADDR NBR_NAME REGEX: the router holds a route from that neighbor matching REGEX.
has_route() { io_peer_routes "$1" "$2" "$3" "$4" | grep -Eq -- "$5"; }
lacks_route() { ! io_peer_routes "$1" "$2" "$3" "$4" | grep -Eq -- "$5"; }

# One lab per peer kind: 4 sessions in parallel on one link.
#   s4: IPv4 session, 4-octet local ASN, IPv4 + IPv6 routes (configured IPv6 next hop), attributes.
#   s6: IPv6 session, 2-octet local ASN, IPv6 route.
#   m1: TCP MD5, the speaker connects (router passive).
#   m2: TCP MD5, the speaker is passive (router connects in).
run_lab() {
    local kind=$1 n=$2
    IO_TAG=$kind
    local rns sns rdir
    rns=$(io_rns "$kind")
    sns=$(io_sns "$kind")
    rdir=$IO_ROOT/$kind
    io_lab "$kind" "$n"
    local r4 r6 a4 a6 a4m1 a4m2
    r4=$(io_raddr4 "$n")
    r6=$(io_raddr6 "$n")
    a4=$(io_saddr4 "$n" 2)
    a6=$(io_saddr6 "$n" 3)
    a4m1=$(io_saddr4 "$n" 4)
    a4m2=$(io_saddr4 "$n" 5)
    local nh6
    nh6=$(io_saddr6 "$n" 2)
    local specs=(
        "name=s4 addr=$a4 as=4200000011 families=ipv4,ipv6"
        "name=s6 addr=$a6 as=65011 families=ipv6"
        "name=m1 addr=$a4m1 as=65012 families=ipv4 password=acd-md5-$n passive=1"
        "name=m2 addr=$a4m2 as=65013 families=ipv4 password=acd-md5p-$n"
    )
    case $kind in
    bird) io_bird_start "$rdir" "$rns" 65000 "$r4" "$r4" "$r6" "${specs[@]}" ;;
    frr) io_frr_start "$rdir" "$rns" 65000 "$r4" "${specs[@]}" ;;
    gobgp) io_gobgp_start "$rdir" "$rns" 65000 "$r4" "$r4" "$r6" "${specs[@]}" ;;
    exabgp) io_exabgp_start "$rdir" "$rns" 65000 "$r4" "$r4" "$r6" "${specs[@]}" ;;
    esac
    local p4=192.0.2.$n/32 p6=2001:db8:aa:$n::1/128 p6b=2001:db8:bb:$n::1/128 pm1=198.51.100.$n/32
    local pm2=198.51.100.$((100 + n))/32
    local d=$IO_ROOT/$kind-probe
    local common=(--peer-as 65000 --hold 9 --connect-retry 1 --router-id "$a4")
    probe_start "$d-s4" "$sns" "${common[@]}" --peer "$r4" --local "$a4" --local-as 4200000011 \
        --route "$p4" --route "$p6" --ipv6-next-hop "$nh6" --community 65011:53 --community 65011:54 \
        --large-community 4200000011:1:2 --med 50 --prepend 2
    probe_start "$d-s6" "$sns" "${common[@]}" --peer "$r6" --local "$a6" --local-as 65011 --families ipv6 \
        --route "$p6b"
    probe_start "$d-m1" "$sns" "${common[@]}" --peer "$r4" --local "$a4m1" --local-as 65012 --families ipv4 \
        --md5 "acd-md5-$n" --route "$pm1"
    probe_start "$d-m2" "$sns" "${common[@]}" --peer "$r4" --local "$a4m2" --local-as 65013 --families ipv4 \
        --md5 "acd-md5p-$n" --passive --route "$pm2"

    local x4=${p4//./\\.} x6=${p6//./\\.} x6b=${p6b//./\\.} xm1=${pm1//./\\.} xm2=${pm2//./\\.}
    # Everything the routers should hold once the sessions are up.
    io_wait 25 has_route "$kind" "$rdir" "$a4" s4 "^$x4 " || io_log "s4 IPv4 route not seen"
    io_wait 10 has_route "$kind" "$rdir" "$a4" s4 "^$x6 " || io_log "s4 IPv6 route not seen"
    io_wait 10 has_route "$kind" "$rdir" "$a6" s6 "^$x6b " || io_log "s6 route not seen"
    io_wait 10 has_route "$kind" "$rdir" "$a4m1" m1 "^$xm1 " || io_log "m1 route not seen"
    io_wait 15 has_route "$kind" "$rdir" "$a4m2" m2 "^$xm2 " || io_log "m2 route not seen"
    io_peer_routes "$kind" "$rdir" "" "" >"$rdir/routes-initial" 2>&1
    # What the router printed, for reading when a cell fails.
    case $kind in
    bird) birdc -s "$rdir/bird.ctl" show route all >"$rdir/routes-initial.raw" 2>&1 ;;
    gobgp) gobgp --target "unix://$rdir/gobgp.sock" global rib -a ipv6 -j >"$rdir/routes-initial.raw" 2>&1 ;;
    esac
    local r4line r6line r6bline
    r4line=$(io_peer_routes "$kind" "$rdir" "$a4" s4 | grep -E "^$x4 " | head -1)
    r6line=$(io_peer_routes "$kind" "$rdir" "$a4" s4 | grep -E "^$x6 " | head -1)
    r6bline=$(io_peer_routes "$kind" "$rdir" "$a6" s6 | grep -E "^$x6b " | head -1)

    case "$r4line" in
    *" nh=$a4 "*) result "$kind" v4-over-v4 pass "$r4line" ;;
    *) result "$kind" v4-over-v4 fail "expected $p4 nh=$a4, router has: ${r4line:-nothing}" ;;
    esac
    case "$r6bline" in
    *" nh=$a6 "*) result "$kind" v6-over-v6 pass "$r6bline" ;;
    *) result "$kind" v6-over-v6 fail "expected $p6b nh=$a6, router has: ${r6bline:-nothing}" ;;
    esac
    case "$r6line" in
    *" nh=$nh6 "*) result "$kind" v6-over-v4-nh pass "$r6line" ;;
    *) result "$kind" v6-over-v4-nh fail "expected $p6 nh=$nh6, router has: ${r6line:-nothing}" ;;
    esac
    # RFC 2545 §3: "next hop self" over the on-link IPv6 session carries the interface's link-local
    # address too; the route with a configured next hop (over IPv4) carries none.
    local ll6
    ll6=$(ip -n "$sns" -6 -o addr show dev "$(io_sif "$kind" "$n")" scope link | awk '{ print $4 }' | cut -d/ -f1 |
        head -1)
    case "$kind|$r6bline|$r6line" in
    *" ll=$ll6 "*"|"*" ll=- "*) result "$kind" v6-link-local pass "next hop $a6 + $ll6; configured next hop alone" ;;
    gobgp"|"*" nh=$a6 ll=- "*)
        # GoBGP keeps one IPv6 next hop per path: its RIB (JSON and text) has no place for the second.
        result "$kind" v6-link-local n/a "GoBGP shows only the global next hop $a6 (no link-local field in its RIB)" ;;
    *) result "$kind" v6-link-local fail "expected ll=${ll6:-?} on $p6b and none on $p6, router has: $r6bline | $r6line" ;;
    esac
    case "$r4line" in
    *" path=4200000011,4200000011,4200000011 "*) result "$kind" asn4 pass "AS path 4200000011 x3" ;;
    *) result "$kind" asn4 fail "expected path 4200000011 x3, router has: ${r4line:-nothing}" ;;
    esac
    case "$r6bline" in
    *" path=65011 "*) result "$kind" asn2 pass "AS path 65011" ;;
    *) result "$kind" asn2 fail "expected path=65011, router has: ${r6bline:-nothing}" ;;
    esac
    if has_route "$kind" "$rdir" "$a4m1" m1 "^$xm1 " && probe_event "$d-m1" "^established outbound"; then
        result "$kind" md5-active pass "speaker connected with MD5, route present"
    else
        result "$kind" md5-active fail "no route from the MD5 session (see $d-m1/log)"
    fi
    if has_route "$kind" "$rdir" "$a4m2" m2 "^$xm2 " && probe_event "$d-m2" "^established inbound"; then
        result "$kind" md5-passive pass "router connected in with MD5, route present"
    else
        result "$kind" md5-passive fail "no inbound MD5 session with a route (see $d-m2/log)"
    fi
    case "$r4line" in
    *" comm=65011:53,65011:54 lcomm=4200000011:1:2 "*) result "$kind" communities pass "65011:53 65011:54 + 4200000011:1:2" ;;
    *) result "$kind" communities fail "router has: ${r4line:-nothing}" ;;
    esac
    case "$r4line" in
    *" path=4200000011,4200000011,4200000011 med=50 "*) result "$kind" med-prepend pass "MED 50, path length 3" ;;
    *) result "$kind" med-prepend fail "router has: ${r4line:-nothing}" ;;
    esac

    # Route refresh: the router asks, the speaker re-sends the family, the router still has it.
    local before trigger=""
    before=$(grep -c '^refresh ipv4' "$d-s4/out")
    case $kind in
    bird) io_birdc "$rdir" reload in s4 >/dev/null && trigger="birdc reload in s4" ;;
    frr) io_vtysh "$rdir" -c "clear bgp ipv4 unicast $a4 soft in" >/dev/null && trigger="clear bgp ipv4 unicast $a4 soft in" ;;
    gobgp) io_gobgp "$rdir" neighbor "$a4" softresetin -a ipv4 >/dev/null && trigger="gobgp neighbor $a4 softresetin -a ipv4" ;;
    exabgp) io_exabgp_cmd "$rdir" "neighbor $a4 announce route-refresh ipv4 unicast" && trigger="API: announce route-refresh ipv4 unicast" ;;
    esac
    if [ "$kind" = gobgp ] &&
        [ "$(io_gobgp "$rdir" neighbor "$a4" -j | jq -r '.state.messages.sent.refresh // 0')" = 0 ] &&
        sleep 1 && [ "$(io_gobgp "$rdir" neighbor "$a4" -j | jq -r '.state.messages.sent.refresh // 0')" = 0 ]; then
        # GoBGP keeps its Adj-RIB-In: softresetin re-runs import policy and sends no ROUTE-REFRESH
        # (its "sent refresh" counter stays 0), and its CLI has no command that sends one.
        result "$kind" route-refresh n/a "GoBGP 3.10 sends no ROUTE-REFRESH (softresetin uses its Adj-RIB-In; sent refresh = 0)"
    elif [ -z "$trigger" ]; then
        result "$kind" route-refresh fail "could not trigger a route refresh on $kind"
    elif io_wait 5 bash -c "[ \$(grep -c '^refresh ipv4' '$d-s4/out') -gt $before ]" &&
        io_wait 5 has_route "$kind" "$rdir" "$a4" s4 "^$x4 "; then
        result "$kind" route-refresh pass "$trigger -> ROUTE-REFRESH answered, route kept"
    else
        result "$kind" route-refresh fail "$trigger: speaker saw no ROUTE-REFRESH or the route went (see $d-s4/out)"
    fi

    # Withdraw one route; the other stays.
    probe_send "$d-s4" "withdraw $p4"
    if io_wait 5 lacks_route "$kind" "$rdir" "$a4" s4 "^$x4 " && has_route "$kind" "$rdir" "$a4" s4 "^$x6 "; then
        result "$kind" withdraw pass "$p4 gone, $p6 kept"
    else
        result "$kind" withdraw fail "$p4 still present or $p6 gone"
    fi

    # Shutdown with an RFC 9003 message: the router shows the text.
    local msg="anycastd-io stopping $kind"
    probe_send "$d-s4" "shutdown $msg"
    probe_stop "$d-s4"
    local seen=""
    check_msg() {
        case $kind in
        bird) io_birdc "$rdir" show protocols all s4 | grep -F -- "$msg" ;;
        frr) io_vtysh "$rdir" -c "show bgp neighbors $a4 json" | jq -r --arg n "$a4" '.[$n].lastShutdownDescription // empty' |
            grep -F -- "$msg" ;;
        gobgp) grep -F -- "$msg" "$rdir/gobgpd.log" ;;
        exabgp) grep '"state": "down"' "$rdir/received.jsonl" | grep -F -- "$msg" ;;
        esac
    }
    if seen=$(io_wait 5 check_msg) || seen=$(check_msg); then
        result "$kind" shutdown-msg pass "router shows: $(echo "$seen" | head -1 | tr -s ' ' | cut -c1-80)"
    elif [ "$kind" = exabgp ] && jq -r --arg n "$a4" 'select(.type == "state" and .neighbor.address.peer == $n) | .neighbor.reason // empty' \
        "$rdir/received.jsonl" | grep -q 'can not decode update message of type "3"'; then
        # ExaBGP 4.2.21 formats the text with bytes % str (notification.py), a TypeError for any
        # non-empty RFC 9003 message; it reports the NOTIFICATION (type 3) as undecodable.
        result "$kind" shutdown-msg n/a "ExaBGP 4.2.21 cannot parse any RFC 9003 text (TypeError in notification.py); it saw the NOTIFICATION"
    else
        result "$kind" shutdown-msg fail "router does not show \"$msg\""
    fi
    if io_wait 5 lacks_route "$kind" "$rdir" "$a4" s4 "^$x6 "; then
        io_log "after shutdown the s4 routes are gone"
    else
        result "$kind" shutdown-msg fail "routes of s4 still present after shutdown"
    fi
    local dd
    for dd in "$d-s6" "$d-m1" "$d-m2"; do probe_stop "$dd"; done
}

# Resilience against BIRD: (a) silent drop → hold timer → re-established after the drop ends;
# (b) BIRD killed and restarted → re-established, full set present, no duplicate UPDATEs.
run_resilience() {
    local kind=bird n=9
    IO_TAG=resilience
    local rns sns rdir
    rns=$(io_rns res)
    sns=$(io_sns res)
    rdir=$IO_ROOT/res-bird
    io_lab res "$n"
    local r4 a4
    r4=$(io_raddr4 "$n")
    a4=$(io_saddr4 "$n" 2)
    local spec="name=h1 addr=$a4 as=65020 families=ipv4"
    io_bird_start "$rdir" "$rns" 65000 "$r4" "$r4" "$(io_raddr6 "$n")" "$spec"
    local routes=$IO_ROOT/res-routes
    local i
    for i in $(seq 0 99); do echo "203.0.113.$i/32"; done >"$routes"
    local d=$IO_ROOT/res-probe
    probe_start "$d" "$sns" --peer "$r4" --peer-as 65000 --local "$a4" --local-as 65020 --router-id "$a4" \
        --families ipv4 --hold 3 --connect-retry 1 --routes-file "$routes"
    count_routes() { io_bird_routes "$rdir" h1 | grep -c '^203\.0\.113\.'; }
    has_all() { [ "$(count_routes)" = 100 ]; }
    io_wait 20 has_all || io_log "not all 100 routes at BIRD before the hold test"

    # (a) the router's side of the link drops everything, carrier stays up.
    local rif
    rif=$(io_rif res "$n")
    local t0 t1
    t0=$(date +%s%N)
    tc -n "$rns" qdisc replace dev "$rif" root pfifo limit 0
    if io_wait 10 probe_event "$d" "^state Idle.*[Hh]old"; then
        t1=$(date +%s%N)
        local detect_ms=$(((t1 - t0) / 1000000))
        tc -n "$rns" qdisc del dev "$rif" root
        local est_before
        est_before=$(grep -c '^established' "$d/out")
        if io_wait 20 bash -c "[ \$(grep -c '^established' '$d/out') -gt $est_before ]" && io_wait 10 has_all; then
            result resilience hold-timer pass "silent peer detected in ${detect_ms} ms (hold 3 s), re-established by itself, 100 routes"
        else
            result resilience hold-timer fail "no re-establishment after the drop ended (see $d/out)"
        fi
    else
        tc -n "$rns" qdisc del dev "$rif" root 2>/dev/null
        result resilience hold-timer fail "hold timer did not fire within 10 s (see $d/out)"
    fi

    # (b) kill BIRD (no NOTIFICATION), start it again.
    io_wait 10 has_all
    local status_before updates_before
    status_before=$(probe_status "$d")
    updates_before=$(echo "$status_before" | jq -r '.updatesOut')
    io_kill "$(cat "$rdir/bird.pid")"
    io_wait 10 probe_event "$d" "^state Idle" || true
    local est_before
    est_before=$(grep -c '^established' "$d/out")
    io_bird_start "$rdir" "$rns" 65000 "$r4" "$r4" "$(io_raddr6 "$n")" "$spec"
    if io_wait 20 bash -c "[ \$(grep -c '^established' '$d/out') -gt $est_before ]" && io_wait 10 has_all; then
        sleep 1
        local status_after updates_after received
        status_after=$(probe_status "$d")
        updates_after=$(echo "$status_after" | jq -r '.updatesOut')
        received=$(io_birdc "$rdir" show protocols all h1 | awk '/Import updates:/ { print $3 }')
        local sent=$((updates_after - updates_before))
        # 100 /32s with one attribute set fit one UPDATE, plus End-of-RIB: exactly 2.
        if [ "$sent" = 2 ] && [ "$received" = 100 ]; then
            result resilience bird-restart pass "re-established, 100 routes, $sent UPDATEs (1 + End-of-RIB), BIRD counted $received prefix updates"
        else
            result resilience bird-restart fail "UPDATEs sent after restart: $sent (want 2), BIRD import updates: $received (want 100)"
        fi
    else
        result resilience bird-restart fail "not re-established with 100 routes after BIRD restart (see $d/out)"
    fi
    probe_stop "$d"
}

n=0
pids=()
for kind in $PEERS; do
    n=$((n + 1))
    case $kind in bird) n=1 ;; frr) n=2 ;; gobgp) n=3 ;; exabgp) n=4 ;; esac
    run_lab "$kind" "$n" >"$IO_ROOT/lab-$kind.log" 2>&1 &
    pids+=($!)
done
run_resilience >"$IO_ROOT/lab-resilience.log" 2>&1 &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done

# The matrix: one row per cell, one column per peer.
passed=0
failed=0
printf '\n%-16s' cell
for kind in $PEERS; do printf '%-10s' "$kind"; done
printf '\n'
for cell in $CELLS; do
    printf '%-16s' "$cell"
    for kind in $PEERS; do
        r=$(awk -F'\t' -v k="$kind" -v c="$cell" '$1 == k && $2 == c { print $3 }' "$IO_ROOT/results" | sort -u)
        case "$r" in
        pass) printf '%-10s' pass; passed=$((passed + 1)) ;;
        n/a) printf '%-10s' n/a ;;
        "") printf '%-10s' MISSING; failed=$((failed + 1)) ;;
        *) printf '%-10s' FAIL; failed=$((failed + 1)) ;;
        esac
    done
    printf '\n'
done
for cell in hold-timer bird-restart; do
    r=$(awk -F'\t' -v c="$cell" '$1 == "resilience" && $2 == c { print $3 }' "$IO_ROOT/results" | sort -u)
    printf '%-16s%s\n' "$cell" "${r:-MISSING}"
    if [ "$r" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo
echo "details (failures and n/a first):"
{ awk -F'\t' '$3 != "pass"' "$IO_ROOT/results"; awk -F'\t' '$3 == "pass"' "$IO_ROOT/results"; } |
    awk -F'\t' '{ printf "  %-10s %-16s %-5s %s\n", $1, $2, $3, $4 }'
echo "elapsed: $(($(date +%s) - START)) s; logs in $IO_ROOT"
echo "interop: $passed passed, $failed failed"
[ $failed = 0 ]
