#!/usr/bin/env bash
# While `anycastd reconcile` runs, drift made behind its back is repaired from netlink events, well
# before the periodic resync (60 s here): a deleted address, the link set down, the link deleted.
# Each repair is timed from the change to the moment `ip` sees it repaired; the bound is
# ANYCASTD_SYSTEM_REPAIR_MS (default 3000 ms in the lab). Polling with `ip` under TCG adds its own delay.
# shellcheck source=Tests/system/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_binary
netns_new
require_dummy
veth_new veth-up
# Under TCG emulation a process runs many times slower than on a real CPU, so the lab only proves the
# repair is event-driven (far inside the 60 s resync); the 100 ms figure itself is asserted on the host
# kernel by Tests/interop/daemon-drift.sh.
limit=${ANYCASTD_SYSTEM_REPAIR_MS:-3000}
config=$SYS_WORK/anycastd.json
write_config "$config" 192.0.2.53/32 2001:db8:53::53/128
all=(192.0.2.53/32 2001:db8:53::53/128)

anycastd_start --config "$config"
wait_until 20000 link_has_all anycast0 "${all[@]}" \
    || bail "the daemon brings anycast0 up with both addresses" "$(anycastd_log)"
ok "the daemon brings anycast0 up with both addresses (${WAITED_MS} ms after start)"

wait_until 1000 link_has_all anycast0 "${all[@]}"
diag "one probe (link_has_all: three ip runs) costs about ${WAITED_MS} ms here"
monitor_start
v4=$(ev_addr anycast0 192.0.2.53/32)
v6=$(ev_addr anycast0 2001:db8:53::53/128)
up=$(ev_up anycast0)

mark
in_ns ip addr del 192.0.2.53/32 dev anycast0
assert_repaired "$limit" "deleted 192.0.2.53/32 is back" "$v4" has_addr anycast0 192.0.2.53/32

mark
in_ns ip addr del 2001:db8:53::53/128 dev anycast0
assert_repaired "$limit" "deleted 2001:db8:53::53/128 is back" "$v6" has_addr anycast0 2001:db8:53::53/128

# Setting a link down also flushes its IPv6 addresses (IPv4 ones stay); they must come back with it.
mark
in_ns ip link set anycast0 down
assert_repaired "$limit" "anycast0 set down is up again, with both addresses" "$up"$'\n'"$v6" \
    link_has_all anycast0 "${all[@]}"

mark
in_ns ip link del anycast0
assert_repaired "$limit" "deleted anycast0 is recreated, up, with both addresses" "$up"$'\n'"$v4"$'\n'"$v6" \
    link_has_all anycast0 "${all[@]}"
assert_match "recreated anycast0 is a dummy link" '^ +dummy( |$)' "$(in_ns ip -d link show anycast0 2>&1)"
assert_no_match "recreated anycast0 has no fe80:: address" 'inet6 fe80:' "$(in_ns ip -6 addr show dev anycast0 2>&1)"

assert_ok "the daemon is still running" anycastd_running
anycastd_stop
assert_eq "SIGTERM stops the daemon with status 0" 0 "$STOP_STATUS"
assert_ok "a stopped daemon leaves anycast0 and its addresses in place" link_has_all anycast0 "${all[@]}"
sys_finish
