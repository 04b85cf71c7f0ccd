#!/usr/bin/env bash
# `anycastd reconcile --once` on a fresh namespace creates anycast0 as a dummy link, up, without an
# IPv6 link-local address, with 192.0.2.53/32 and 2001:db8:53::53/128 (nodad, deprecated, so it is
# never a source address), and sets arp_ignore/arp_announce/rp_filter on anycast0 and the uplink.
# shellcheck source=Tests/system/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_binary
netns_new
require_dummy
veth_new veth-up
config=$SYS_WORK/anycastd.json
write_config "$config" 192.0.2.53/32 2001:db8:53::53/128

# The kernel defaults differ from the configured values, so a no-op cannot pass.
assert_eq "uplink starts with arp_ignore 0 (sanity)" 0 "$(sysctl_ns veth-up arp_ignore)"

anycastd_run reconcile --config "$config" --once
assert_eq "reconcile --once exits 0" 0 "$RUN_STATUS"
((RUN_STATUS == 0)) || diag "output: $RUN_OUT"

link=$(in_ns ip -d link show anycast0 2>&1)
assert_match "anycast0 exists and is a dummy link (ip -d link)" '^ +dummy( |$)' "$link"
assert_match "anycast0 is up" '<([^>]*,)?UP(,[^>]*)?>' "$link"

v4=$(in_ns ip -4 addr show dev anycast0 2>&1)
v6=$(in_ns ip -6 addr show dev anycast0 2>&1)
assert_match "192.0.2.53/32 is on anycast0" 'inet 192\.0\.2\.53/32 ' "$v4"
assert_no_match "anycast0 has no fe80:: link-local address" 'inet6 fe80:' "$v6"
line=$(grep 'inet6 2001:db8:53::53/128' <<<"$v6")
assert_match "2001:db8:53::53/128 is on anycast0" 'inet6 2001:db8:53::53/128 ' "$line"
assert_match "2001:db8:53::53/128 has nodad" '(^| )nodad( |$)' "$line"
assert_match "2001:db8:53::53/128 is deprecated (preferred_lft 0)" '(^| )deprecated( |$)' "$line"

for ifname in anycast0 veth-up; do
    assert_eq "net.ipv4.conf.$ifname.arp_ignore = 1" 1 "$(sysctl_ns "$ifname" arp_ignore)"
    assert_eq "net.ipv4.conf.$ifname.arp_announce = 2" 2 "$(sysctl_ns "$ifname" arp_announce)"
    assert_eq "net.ipv4.conf.$ifname.rp_filter = 2" 2 "$(sysctl_ns "$ifname" rp_filter)"
done
sys_finish
