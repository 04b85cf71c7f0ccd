#!/usr/bin/env bash
# Checks the system-test helpers themselves on this host (veth instead of dummy, no VM, no
# anycastd): the probes answer right both ways, wait_until times and gives up, assertions fail when
# they should, and event_ms reads the ip monitor log. TAP output; non-zero exit on failure.
# shellcheck source=Tests/system/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
netns_new
in_ns ip link add x0 type veth peer name x0p
monitor_start
mark
in_ns ip addr add 192.0.2.53/32 dev x0
in_ns ip addr add 2001:db8::1/128 dev x0 nodad
assert_ok "has_addr sees 192.0.2.53/32" has_addr x0 192.0.2.53/32
assert_ok "has_addr sees 2001:db8::1/128" has_addr x0 2001:db8::1/128
assert_ok "has_addr does not take 192.0.2.5/32 for 192.0.2.53/32" lacks_addr x0 192.0.2.5/32
assert_ok "nor 192.0.2.153/32" lacks_addr x0 192.0.2.153/32
assert_fails "lacks_addr fails on a missing link" lacks_addr nolink 192.0.2.53/32
assert_fails "has_addr fails for a missing address" has_addr x0 192.0.2.54/32
assert_fails "link_has_all fails while the link is down" link_has_all x0 192.0.2.53/32
in_ns ip link set x0 up
assert_ok "link_has_all once up with both" link_has_all x0 192.0.2.53/32 2001:db8::1/128
assert_fails "link_has_all fails when one is missing" link_has_all x0 192.0.2.53/32 2001:db8::2/128
ev=$(event_ms "$(ev_addr x0 192.0.2.53/32)")
assert_match "event_ms finds the address event after mark" '^[0-9]+$' "$ev"
assert_le "and it is recent" 5000 "${ev:-99999}"
assert_eq "event_ms is empty for an event that never came" "" "$(event_ms "$(ev_addr x0 192.0.2.99/32)")"

wait_until 300 false
assert_le "wait_until gives up after about its timeout" 1000 "$WAITED_MS"
assert_ok "wait_until waited at least the timeout" test "$WAITED_MS" -ge 300
out=$(assert_eq "x" 1 2)
assert_match "assert_eq prints not ok, expected and seen" '^not ok .*'$'\n''#   expected: 1'$'\n''#   seen:     2$' "$out"
out=$(assert_le "x" 100 250)
assert_match "assert_le fails above the limit" '^not ok' "$out"
out=$(assert_match "x" '^a+$' "b")
assert_match "assert_match fails on no match" '^not ok' "$out"
# The tier line for Tests/tools/test-all.sh (tier system-lib).
echo "system-lib: $((_sys_tests - _sys_failures)) passed, $_sys_failures failed"
sys_finish
