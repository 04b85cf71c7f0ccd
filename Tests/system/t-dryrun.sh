#!/usr/bin/env bash
# `anycastd reconcile --dry-run` prints the plan (the link to create, the addresses to add) and
# changes nothing; `--once` afterwards applies it and exits 0.
# shellcheck source=Tests/system/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_binary
netns_new
require_dummy
veth_new veth-up
config=$SYS_WORK/anycastd.json
write_config "$config" 192.0.2.53/32 2001:db8:53::53/128

anycastd_run reconcile --config "$config" --once --dry-run
assert_eq "reconcile --once --dry-run exits 0" 0 "$RUN_STATUS"
diag "plan: $RUN_OUT"
assert_match "the plan creates the link (ip link add anycast0 ...)" 'ip link add anycast0' "$RUN_OUT"
assert_match "the plan adds 192.0.2.53/32" '192\.0\.2\.53/32' "$RUN_OUT"
assert_match "the plan adds 2001:db8:53::53/128" '2001:db8:53::53/128' "$RUN_OUT"
assert_match "the plan sets rp_filter on the uplink" 'veth-up.*rp_filter|rp_filter.*veth-up' "$RUN_OUT"

links=$(in_ns ip -o link show 2>&1)
assert_no_match "no anycast0 after --dry-run" '^[0-9]+: anycast0[:@]' "$links"
assert_eq "uplink arp_ignore unchanged after --dry-run" 0 "$(sysctl_ns veth-up arp_ignore)"
assert_eq "uplink rp_filter unchanged after --dry-run" 0 "$(sysctl_ns veth-up rp_filter)"

anycastd_run reconcile --config "$config" --once
assert_eq "reconcile --once then exits 0" 0 "$RUN_STATUS"
((RUN_STATUS == 0)) || diag "output: $RUN_OUT"
assert_ok "and anycast0 is up with both addresses" link_has_all anycast0 192.0.2.53/32 2001:db8:53::53/128
assert_eq "and uplink rp_filter is 2" 2 "$(sysctl_ns veth-up rp_filter)"
sys_finish
