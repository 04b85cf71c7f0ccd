#!/usr/bin/env bash
# A planned stop loses no query: while a client sends a query every 10 ms, SIGTERM to h1's agent makes
# it announce GRACEFUL_SHUTDOWN, withdraw after the drain delay, then close with Cease/Administrative
# Shutdown ("anycastd stopping", RFC 9003); it exits within drain delay + 2 s and keeps the address,
# so queries still on their way to h1 are answered.
source "$(dirname "${BASH_SOURCE[0]}")/lib-bgp.sh"
bgp_lab_require
limit=$((BGP_DRAIN_MS + 2000))

bgp_query_loop_start 10 || bail "the query loop starts"
sleep_ms 1000
bird_watch_begin absent:h1 "" 20000 graceful:h1 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
bgp_anycastd_stop h1
assert_eq "h1's agent exits with status 0 on SIGTERM" 0 "$STOP_STATUS"
assert_le "the stop takes at most drain delay + 2 s = ${limit} ms (took ${STOP_MS} ms)" "$limit" "$STOP_MS"
if bird_watch_end "$start"; then
    ok "h1's path is gone at BIRD ${WATCH_MS} ms after SIGTERM (GRACEFUL_SHUTDOWN seen at ${WATCH_MARK[graceful:h1]:-never} ms)"
else
    not_ok "h1's path is gone at BIRD after SIGTERM" "$(bird_watch_log)"
fi
bird_watch_log

sleep_ms 3000
bgp_query_loop_stop
diag "queries: $LOOP_SENT sent, $LOOP_ANSWERED answered (h1 $LOOP_H1, h2 $LOOP_H2), $LOOP_LOST lost"
# 10 ms apart for about 6 s; a loaded lab VM sends fewer, which does not weaken the check below.
assert_ge "the loop sent queries all along (at least 100)" 100 "$LOOP_SENT"
assert_eq "every query was answered: 0 lost" 0 "$LOOP_LOST"
((LOOP_LOST == 0)) || diag "$(bgp_loop_losses)"

proto=$(birdc_r1 show protocols all h1 2>&1)
assert_match "BIRD saw the Cease with the shutdown message" 'anycastd stopping|Administrative shutdown' "$proto"
diag "$(grep -E 'Last error|Message|State' <<<"$proto")"
assert_ok "h1 keeps 192.0.2.53/32 on anycast0 after the stop" host_has_addr h1
sys_finish
