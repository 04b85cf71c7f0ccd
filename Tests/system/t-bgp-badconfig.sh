#!/usr/bin/env bash
# An invalid configuration saved over a running agent's file (rename, as editors do) changes nothing:
# BIRD never loses the host's path (watched every 10 ms), the address stays, and `anycastd status`
# reports the configuration invalid with the error.
source "$(dirname "${BASH_SOURCE[0]}")/lib-bgp.sh"
bgp_lab_require
config=$(bgp_config h1)
cp "$config" "$BGP_DIR/h1/good.json"

# Valid JSON, invalid value: were it applied, 192.0.2.53/32 would be withdrawn and its address removed.
bird_watch_begin absent:h1 "" 4000 || bail "the BIRD watcher starts"
start=${EPOCHREALTIME/./}
sed 's#"prefixes": \["192.0.2.53/32"\]#"prefixes": ["192.0.2.0/24"]#' "$BGP_DIR/h1/good.json" | write_file_atomic "$config"
grep -q '192.0.2.0/24' "$config" || bail "the invalid configuration was written" "$(cat "$config")"
if wait_until 10000 bgp_config_invalid h1 >/dev/null; then
    ok "anycastd status reports the configuration invalid (${WAITED_MS} ms after the write)"
else
    not_ok "anycastd status reports the configuration invalid" "$(bgp_ctl h1 status 2>&1)"
fi
status=$(bgp_ctl h1 status 2>&1)
assert_match "the status text says INVALID (last good state applied)" 'INVALID \(last good state applied\)' "$status"
assert_match "and shows the error with its position" 'anycastd\.json:[0-9]+:[0-9]+' "$status"
diag "$status"

if bird_watch_end "$start"; then
    not_ok "BIRD keeps h1's path the whole time" "withdrawn ${WATCH_MS} ms after the write"$'\n'"$(bird_watch_log)"
else
    ok "BIRD keeps h1's path the whole time (4 s, polled every 10 ms)"
fi
assert_ok "BIRD still has both hosts' paths" bird_both_paths
assert_ok "h1 still has 192.0.2.53/32 on anycast0" host_has_addr h1
assert_ok "h1's agent is still running" kill -0 "${BGP_PIDS[anycastd-h1]}"
assert_ok "the client is answered" client_answered

# The next valid edit is taken: the status is valid again.
write_file_atomic "$config" <"$BGP_DIR/h1/good.json"
if wait_until 10000 bgp_config_valid h1 >/dev/null; then
    ok "after the file is fixed, anycastd status reports it valid (${WAITED_MS} ms)"
else
    not_ok "after the file is fixed, anycastd status reports it valid" "$(bgp_ctl h1 status 2>&1)"
fi
sys_finish
