#!/usr/bin/env bash
# `make demo`: anycastd in a sandbox lab, in numbered steps. A router (BIRD) learns 192.0.2.53/32 from
# two hosts that each run anycastd and a DNS server; a client behind the router is answered. Then a
# failover, a drain, an undrain and a clean stop. Every step checks what it printed; the demo exits 0
# only when every step behaved as shown, and says which step did not otherwise.
#
#   Tests/demo/demo.sh            installs what it needs, then runs the lab (in the kernel lab VM when
#                                 this kernel has no dummy link type)
#   Tests/demo/demo.sh --inside   runs the lab right here (as root, on a kernel with dummy links)
#
# The topology and helpers are Tests/system/lib-bgp.sh, shared with the system tests.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1

die() {
    printf 'demo: %s\n' "$*" >&2
    exit 1
}

# Whether this kernel can create dummy links (probed in a throwaway namespace).
host_has_dummy() {
    local ns=acd-demo-probe-$$ rc=1
    ip netns add "$ns" 2>/dev/null || return 1
    ip -n "$ns" link add probe0 type dummy 2>/dev/null && rc=0
    ip netns del "$ns"
    return "$rc"
}

if [[ ${1:-} != --inside ]]; then
    ((EUID == 0)) || die "run as root (it creates network namespaces and installs packages): sudo make demo"
    Tests/tools/deps.sh || die "installing the dependencies failed (Tests/tools/deps.sh)"
    bin=${ANYCASTD_BIN:-.build/debug/anycastd}
    if [[ ! -x $bin ]]; then
        swift build || die "swift build failed"
    fi
    if host_has_dummy; then
        exec "$0" --inside
    fi
    echo "This kernel ($(uname -r)) has no dummy link type: running the demo in the kernel lab (a stock Debian kernel under qemu)."
    exec Tests/lab/run.sh --timeout 600 -- "$root/Tests/demo/demo.sh" --inside
fi

# --- inside the lab ----------------------------------------------------------------------------
# shellcheck source=Tests/system/lib-bgp.sh
source "$root/Tests/system/lib-bgp.sh"
# After a failed check, and after a good one while down, the check repeats 20 ms later (fastInterval).
BGP_CHECK_FAST_MS=20
demo_start=${EPOCHREALTIME/./}
step_no=0

step() {
    step_no=$((step_no + 1))
    printf '\n%d. %s\n' "$step_no" "$1"
    shift
    local line
    for line in "$@"; do printf '   %s\n' "$line"; done
}
show() { sed 's/^/      /'; }
# fail WHAT [DETAIL]: the step did not behave as printed; print why and the lab's logs, exit 1.
fail() {
    printf '\ndemo: step %d FAILED: %s\n' "$step_no" "$1" >&2
    [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/  /' >&2
    _sys_failures=1 # so the exit trap shows the lab's logs
    exit 1
}
good() { printf '   ✓ %s\n' "$*"; }
routes() { birdc_r1 show route for "$BGP_PREFIX" | sed -n '3,$p' | show; }

step "Build the lab" \
    "router r1: BIRD, AS 65000, installs every BGP path it learns as an ECMP route" \
    "hosts h1 (AS 65011) and h2 (AS 65012): anycastd + a DNS server (dnsmasq) on 192.0.2.53 that answers" \
    "  'id.lab TXT' with its own name; anycastd checks it every 200 ms (every 20 ms while a result differs" \
    "  from the state) and announces 192.0.2.53/32 while it answers; client c1 behind the router"
bgp_lab_up 2>"$BGP_DIR/up.err" || fail "the lab did not come up" "$(cat "$BGP_DIR/up.err")"
good "both hosts' anycastd announced 192.0.2.53/32 (${BGP_UP_MS} ms after they started)"

step "The router learned the route from both hosts (birdc show route):"
routes
bird_both_paths "$BGP_PREFIX" || fail "BIRD should have a path from h1 and from h2" "$(bird_paths "$BGP_PREFIX")"
fib=$(bgp_ns r1 ip route show "$BGP_PREFIX")
printf '   and installed it with two next hops (ip route on r1):\n'
show <<<"$fib"
[[ $fib == *"via ${BGP_NET[h1]}.2"*"via ${BGP_NET[h2]}.2"* ]] || fail "r1's kernel route should have both next hops" "$fib"
good "two paths, one ECMP route"

# paths_text PATHS: bgplab.py's `h1:100:- h2:0:(65535,0)` as words.
paths_text() {
    local w out='' host lp comm
    for w in $1; do
        [[ $w == none ]] && { out='no route'; break; }
        IFS=: read -r host lp comm <<<"$w"
        [[ -z $out ]] || out+='; '
        out+="$host local pref $lp"
        [[ $comm == - ]] || out+=" community $comm"
    done
    printf '%s' "$out"
}
# timeline START_US: what the router's table did since START_US.
timeline() {
    local ms paths
    while read -r ms _ paths; do
        printf '      %6s ms  %s\n' "${ms#+}" "$(paths_text "$paths")"
    done < <(bird_record_since "$1")
}

bird_record_start || fail "the BIRD recorder did not start"

step "The client asks 192.0.2.53 who answers (dig @192.0.2.53 id.lab TXT):"
for _ in 1 2 3; do
    answer=$(client_query)
    printf '      %s\n' "$answer"
    [[ $answer == served-by-h[12] ]] || fail "the client should be answered" "$answer"
done
printf '   from now on the client also sends a query every 10 ms, each from its own source port\n'
t0=${EPOCHREALTIME/./}
bgp_query_loop_start 10 || fail "the query loop did not start"
wait_until 30000 bgp_loop_has 100 >/dev/null
bgp_loop_window "$t0" "${EPOCHREALTIME/./}"
printf '   %d answered so far: h1 answered %d, h2 answered %d, %d lost\n' "$WIN_SENT" "$WIN_H1" "$WIN_H2" "$WIN_LOST"
((WIN_SENT >= 100 && WIN_LOST == 0)) || fail "100 queries should be answered" "$(bgp_loop_losses)"
good "all answered; the router spreads clients over both hosts"

step "Failover: kill h1's DNS server." \
    "anycastd on h1 sees a failed check, checks again 20 ms later (fastInterval), and after the second" \
    "failure in a row withdraws the route."
t0=${EPOCHREALTIME/./}
bgp_dnsmasq_stop h1
bird_record_wait absent:h1 "$t0" 15000 || fail "h1's path should be withdrawn" "$(bird_paths "$BGP_PREFIX")"
gone=$((t0 + WATCH_MS * 1000))
printf '   the route from h1 is withdrawn at the router %d ms after the kill; the router now has:\n' "$WATCH_MS"
routes
answer=$(client_query)
printf '   the client asks again: %s\n' "$answer"
sleep_ms 1200
bgp_loop_window "$t0" $((gone + 100000))
during=$WIN_LOST
bgp_loop_window $((gone + 100000)) $((${EPOCHREALTIME/./} - 1100000))
printf '   query loop: %d lost while h1 was dead but still announced (%d ms), %d of %d lost after\n' \
    "$during" "$WATCH_MS" "$WIN_LOST" "$WIN_SENT"
if ! bird_lacks_path h1 || ! bird_has_path h2; then
    fail "only h2's path should be left" "$(bird_paths "$BGP_PREFIX")"
fi
[[ $answer == served-by-h2 ]] || fail "h2 should answer" "$answer"
((WIN_LOST == 0)) || fail "no query should be lost after the withdrawal" "$(bgp_loop_losses)"
good "h1 out of service, clients served by h2"
printf "   start h1's DNS server again:\n"
t0=${EPOCHREALTIME/./}
bgp_dnsmasq_start h1
bird_record_wait present:h1 "$t0" 30000 || fail "h1's path should come back" "$(bird_paths "$BGP_PREFIX")"
printf '   two good checks (20 ms apart) later h1 announces again (%d ms after the start):\n' "$WATCH_MS"
routes
good "h1 back in service"

step "Drain h2 for maintenance: anycastd drain" \
    "anycastd first re-announces with the GRACEFUL_SHUTDOWN community (65535:0, RFC 8326), which the router" \
    "turns into local preference 0, so traffic moves to h1 while h2 still answers; after the 2 s drain delay" \
    "it withdraws. The drain is written to disk and survives restarts."
t0=${EPOCHREALTIME/./}
out=$(bgp_ctl h2 drain 2>&1) || fail "anycastd drain failed" "$out"
printf '   $ anycastd drain\n'
show <<<"$out"
bird_record_wait absent:h2 "$t0" 20000 || fail "h2's path should be withdrawn" "$(bird_paths "$BGP_PREFIX")"
withdrawn=$WATCH_MS
if ! bird_record_find graceful:h2 "$t0" || ((WATCH_MS >= withdrawn)); then
    fail "GRACEFUL_SHUTDOWN should be seen before the withdrawal" "$(bird_record_since "$t0")"
fi
gs=$WATCH_MS
printf '   what the router saw, polled every 10 ms (ms since the command was started):\n'
timeline "$t0"
sleep_ms 1200
bgp_loop_window "$t0" $((${EPOCHREALTIME/./} - 1100000))
printf '   GRACEFUL_SHUTDOWN, then the withdrawal %d ms later; query loop meanwhile: %d sent, %d lost\n' \
    $((withdrawn - gs)) "$WIN_SENT" "$WIN_LOST"
((withdrawn >= BGP_DRAIN_MS - 50)) || fail "the withdrawal should wait for the drain delay (${BGP_DRAIN_MS} ms)"
((WIN_LOST == 0)) || fail "no query should be lost during a drain" "$(bgp_loop_losses)"
good "h2 drained without losing a query"

step "Undrain h2: anycastd undrain"
t0=${EPOCHREALTIME/./}
out=$(bgp_ctl h2 undrain 2>&1) || fail "anycastd undrain failed" "$out"
printf '   $ anycastd undrain\n'
show <<<"$out"
bird_record_wait present:h2 "$t0" 15000 || fail "h2's path should come back" "$(bird_paths "$BGP_PREFIX")"
printf '   h2 announces again; the router has:\n'
routes
good "both hosts in service"

step "Clean shutdown of h1's anycastd (SIGTERM, as systemctl stop does), the client still querying every 10 ms." \
    "It drains (GRACEFUL_SHUTDOWN, withdraw), then closes the session with a Cease NOTIFICATION carrying" \
    "a shutdown message (RFC 9003). The address stays, so queries already on their way are answered."
t0=${EPOCHREALTIME/./}
bgp_anycastd_stop h1
if [[ $STOP_STATUS == killed ]]; then
    printf '   anycastd did not exit within 15 s of SIGTERM (killed); what the router saw (ms since SIGTERM):\n'
else
    printf '   anycastd exited with status %s after %d ms; what the router saw (ms since SIGTERM):\n' "$STOP_STATUS" "$STOP_MS"
fi
timeline "$t0"
[[ $STOP_STATUS == 0 ]] || fail "anycastd should exit 0 after SIGTERM (it exited: $STOP_STATUS)"
sleep_ms 1500
bgp_query_loop_stop
bgp_loop_window "$t0" $((${EPOCHREALTIME/./} - 1100000))
printf '   the router says (birdc show protocols all h1):\n'
birdc_r1 show protocols all h1 | grep -E '^h1 |Message:|Last error' | show
printf '   query loop since SIGTERM: %d sent, %d answered, %d lost (all demo long: %d sent, %d lost)\n' \
    "$WIN_SENT" "$WIN_ANSWERED" "$WIN_LOST" "$LOOP_SENT" "$LOOP_LOST"
[[ $(birdc_r1 show protocols all h1) =~ anycastd\ stopping|Administrative\ shutdown ]] \
    || fail "BIRD should show the Cease/Administrative shutdown" "$(birdc_r1 show protocols all h1)"
bird_lacks_path h1 || fail "h1's path should be gone" "$(bird_paths "$BGP_PREFIX")"
((WIN_LOST == 0)) || fail "no query should be lost on a planned stop" "$(bgp_loop_losses)"
good "stopped cleanly, 0 queries lost"

printf '\ndemo: all %d steps behaved as shown (%d s).\n' "$step_no" $(((${EPOCHREALTIME/./} - demo_start) / 1000000))
