#!/usr/bin/env bash
# `anycastd drain` on h2: BIRD first sees h2's path with GRACEFUL_SHUTDOWN (65535,0), local pref 0 (its
# import filter honours the community, RFC 8326), then the path withdrawn after the 2 s drain delay,
# with no client query lost. The drain survives a restart of the agent; `anycastd undrain` brings the
# path back.
source "$(dirname "${BASH_SOURCE[0]}")/lib-bgp.sh"
bgp_lab_require
delay=$BGP_DRAIN_MS

bgp_query_loop_start 10 || bail "the query loop starts"
bird_watch_begin absent:h2 "" 15000 graceful:h2 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
out=$(bgp_ctl h2 drain 2>&1)
# The command's own start-up is slow in the lab VM (seconds for a debug build under TCG): the agent acts
# before the command returns, so BIRD's view is timed from the return.
returned=$(((${EPOCHREALTIME/./} - start) / 1000))
assert_match "anycastd drain answers (\"$out\", returned after ${returned} ms)" 'draining host' "$out"
if bird_watch_end "$start"; then
    graceful=${WATCH_MARK[graceful:h2]:--1}
    diag "GRACEFUL_SHUTDOWN seen at BIRD ${graceful} ms, path withdrawn ${WATCH_MS} ms after the command started"
    assert_ge "GRACEFUL_SHUTDOWN (65535,0), local pref 0 is seen at BIRD before the withdrawal" 0 "$graceful"
    assert_le "  ... within 1000 ms of the drain command's return" $((returned + 1000)) "$graceful"
    # The delay runs from when the agent took the command: after the command started, before it returned.
    assert_ge "the withdrawal comes no sooner than the drain delay (${delay} ms) after the command: ${WATCH_MS} ms" \
        $((delay - 50)) "$WATCH_MS"
    assert_le "  ... and within delay + 1000 ms of the command's return" $((returned + delay + 1000)) "$WATCH_MS"
else
    not_ok "h2's path goes GRACEFUL_SHUTDOWN, then is withdrawn" "$(bird_watch_log)"
fi
bird_watch_log
sleep_ms 500
bgp_query_loop_stop
assert_eq "no client query lost during the drain ($LOOP_ANSWERED of $LOOP_SENT answered)" "$LOOP_SENT" "$LOOP_ANSWERED"
((LOOP_LOST == 0)) || diag "$(bgp_loop_losses)"

bgp_anycastd_stop h2
assert_eq "h2's agent stops with status 0 (${STOP_MS} ms)" 0 "$STOP_STATUS"
bgp_anycastd_start h2
if wait_until 30000 bird_established h2 >/dev/null; then
    ok "h2's session is Established again after the restart (${WAITED_MS} ms)"
else
    not_ok "h2's session is Established again after the restart" "$(birdc_r1 show protocols all h2)"
fi
# Longer than rise (the check would be up by now) so an announcement would have happened.
sleep_ms $((BGP_CHECK_INTERVAL_MS * BGP_CHECK_RISE + 1500))
assert_ok "h2's path is still absent at BIRD: the drain was kept across the restart" bird_lacks_path h2
status=$(bgp_ctl h2 status 2>&1)
assert_match "anycastd status says the host is drained" 'HOST DRAINED' "$status"

bird_watch_begin present:h2 "" 15000 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
out=$(bgp_ctl h2 undrain 2>&1)
returned=$(((${EPOCHREALTIME/./} - start) / 1000))
if bird_watch_end "$start"; then
    assert_le "after anycastd undrain (\"$out\", returned after ${returned} ms), h2's path is back at BIRD within 1000 ms of the return (at ${WATCH_MS} ms)" \
        $((returned + 1000)) "$WATCH_MS"
else
    not_ok "after anycastd undrain, h2's path is back at BIRD" "$out"$'\n'"$(bird_watch_log)"
fi
sys_finish
