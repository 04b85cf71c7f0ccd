#!/usr/bin/env bash
# A DNS server that dies is noticed by the agent's check (interval 200 ms, fall 2) and its path is
# withdrawn at BIRD within interval × fall + 500 ms of the kill; the client keeps being answered by
# the other host. When the server is back, the path returns after rise successes.
source "$(dirname "${BASH_SOURCE[0]}")/lib-bgp.sh"
bgp_lab_require
limit=$((BGP_CHECK_INTERVAL_MS * BGP_CHECK_FALL + 500))

bgp_query_loop_start 10 || bail "the query loop starts"
bird_watch_begin absent:h1 "" 15000 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
bgp_dnsmasq_stop h1
if bird_watch_end "$start"; then
    assert_le "h1's path is withdrawn at BIRD within ${limit} ms of killing h1's dnsmasq (took ${WATCH_MS} ms)" \
        "$limit" "$WATCH_MS"
else
    not_ok "h1's path is withdrawn at BIRD after killing h1's dnsmasq" "$(bird_watch_log)"
fi
gone=$((start + WATCH_MS * 1000))
assert_match "h2's path stays at BIRD" '(^| )h2:100:-( |$)' "$WATCH_LINE"

# Keep the loop going a while after the withdrawal, then count.
sleep_ms 1500
answer=$(client_query)
assert_eq "a client query after the withdrawal is answered by h2" served-by-h2 "$answer"
bgp_query_loop_stop
# Queries that hashed to h1 between the kill and the withdrawal are the outage itself; from 100 ms
# after the withdrawal (BIRD's FIB update) every query must be answered.
lost_after=$(bgp_loop_lost_after $((gone + 100000)))
assert_eq "no query sent from 100 ms after the withdrawal on is lost" 0 "$lost_after"
diag "query loop: $LOOP_SENT sent, $LOOP_ANSWERED answered (h1 $LOOP_H1, h2 $LOOP_H2), $LOOP_LOST lost in the detection window"
((lost_after == 0)) || diag "$(bgp_loop_losses)"

bird_watch_begin present:h1 "" 15000 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
bgp_dnsmasq_start h1
if bird_watch_end "$start"; then
    ok "h1's path is back at BIRD after dnsmasq restarts and the check rises (${WATCH_MS} ms after the start)"
else
    not_ok "h1's path is back at BIRD after dnsmasq restarts" "$(bird_watch_log)"
fi
rise_ms=$((BGP_CHECK_INTERVAL_MS * (BGP_CHECK_RISE - 1)))
assert_ge "it is not back before rise ($BGP_CHECK_RISE checks, >= ${rise_ms} ms)" "$rise_ms" "$WATCH_MS"
assert_ok "the client is answered" client_answered
sys_finish
