#!/usr/bin/env bash
# A prefix removed from the configuration is withdrawn at BIRD first; its address stays on anycast0
# for the drain delay (so routers converge before packets for it would be refused), then goes. The
# other service's prefix is untouched. The second service, "web", has no checks, so it is healthy.
source "$(dirname "${BASH_SOURCE[0]}")/lib-bgp.sh"
web=192.0.2.54/32
bgp_write_config h1 "{\"name\": \"web\", \"prefixes\": [\"$web\"]}"
bgp_lab_require
if wait_until 30000 bird_has_path h1 "$web" >/dev/null; then
    ok "BIRD has h1's path for $web (service web, no checks)"
else
    bail "BIRD has h1's path for $web (service web, no checks)" "$(bird_paths "$web")"
fi
assert_ok "h1 has $web on anycast0" host_has_addr h1 "$web"

bird_watch_begin absent:h1 "$web" 15000 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
bgp_write_config h1
if bird_watch_end "$start"; then
    assert_le "$web is withdrawn at BIRD within 1000 ms of the edit (took ${WATCH_MS} ms)" 1000 "$WATCH_MS"
else
    not_ok "$web is withdrawn at BIRD after the edit" "$(bird_watch_log)"
fi
withdrawn=$WATCH_MS
host_has_addr h1 "$web" && present=present || present=absent
assert_eq "$web is still on h1's anycast0 when BIRD has withdrawn it" present "$present"
if wait_until 15000 host_lacks_addr h1 "$web" >/dev/null; then
    removed=$(((${EPOCHREALTIME/./} - start) / 1000))
    diag "withdrawn at BIRD after ${withdrawn} ms, address removed after ${removed} ms (drain delay ${BGP_DRAIN_MS} ms)"
    assert_ge "the address goes no sooner than the drain delay after the withdrawal" \
        $((withdrawn + BGP_DRAIN_MS - 200)) "$removed"
    # Polling the address costs a process start (a few hundred ms in the lab VM), hence the margin.
    assert_le "  ... and within drain delay + 1500 ms of the withdrawal" $((withdrawn + BGP_DRAIN_MS + 1500)) "$removed"
else
    not_ok "$web is removed from h1's anycast0 after the drain delay" "$(bgp_ns h1 ip -o addr show dev anycast0)"
fi
assert_ok "BIRD still has both hosts' paths for $BGP_PREFIX" bird_both_paths
assert_ok "h1 keeps $BGP_PREFIX on anycast0" host_has_addr h1
sys_finish
