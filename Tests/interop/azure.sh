#!/usr/bin/env bash
# A fake Azure Route Server: two BIRD instances (ASN 65515) in their own namespaces, one routed hop from
# the host (so only eBGP multihop sessions come up, as in Azure), with import filters that encode Azure's
# rules: IPv6 rejected, a prefix inside the virtual network's own space (10.1.0.0/16 here) rejected, at
# most 1,000 routes received. The agent peers with both as one group with the azure-route-server profile:
# both instances accept the announcements and hold identical routes; one instance silenced → status, the
# metric and the log say "azure: 1 of 2 established" within a hold time. The test runs a 9 s hold time
# to stay short; production Azure uses 180 s (the profile's default, and `check` warns about 9 s). Then
# `anycastd check` on the profile's errors of issue 12's "Must show": a 4-octet local ASN, an IPv6 family
# and a password file, each with FILE:LINE:COL and exit 78.
# Prints TAP lines and `azure: N passed, N failed`.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/azure.sh [--bin PATH]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
io_start azure "$@"

# host (10.79.2.10) -- vnet router -- rs-a (10.79.11.4), rs-b (10.79.12.5)
host=acd-az-h
vnet=acd-az-v
io_veth_pair "$host" "$vnet" azh0 azv0 10.79.2.10/24 10.79.2.1/24
ip netns exec "$vnet" sysctl -qw net.ipv4.ip_forward=1
ip -n "$host" route add default via 10.79.2.1
for rs in a b; do
    ns=acd-az-rs$rs
    if [ $rs = a ]; then net=11 addr=10.79.11.4; else net=12 addr=10.79.12.5; fi
    ip netns delete "$ns" 2>/dev/null
    ip netns add "$ns" && echo "$ns" >>"$IO_ROOT/netns"
    ip -n "$ns" link set lo up
    ip link add "azv$rs" netns "$vnet" type veth peer name "azr$rs" netns "$ns"
    ip -n "$vnet" addr add "10.79.$net.1/24" dev "azv$rs"
    ip -n "$ns" addr add "$addr/24" dev "azr$rs"
    ip -n "$vnet" link set "azv$rs" up
    ip -n "$ns" link set "azr$rs" up
    ip -n "$ns" route add default via "10.79.$net.1"
    dir=$IO_ROOT/rs$rs
    mkdir -p "$dir"
    cat >"$dir/bird.conf" <<BIRD
router id $addr;
log "$dir/bird.log" all;
protocol device { scan time 10; }
# Azure Route Server's rules, as import filters.
filter azure_ipv4 {
  if net ~ [ 10.1.0.0/16+ ] then reject;   # the virtual network's own space never wins
  accept;
}
protocol bgp host {
  local $addr as 65515;
  neighbor 10.79.2.10 as 65010;
  multihop;                                  # eBGP multihop only
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;
  error wait time 1, 5; error forget time 10;
  ipv4 { import filter azure_ipv4; import keep filtered on; receive limit 1000 action disable; export none; };
  ipv6 { import none; export none; };        # IPv4 only
}
BIRD
    ip netns exec "$ns" bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" ||
        io_die "bird failed to start in $ns (see $dir/bird.conf)"
    io_wait 5 test -s "$dir/bird.pid" || io_die "bird in $ns wrote no pid file"
done

cat >"$IO_ROOT/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65010, "routerId": "10.79.2.10",
    "peers": [
      { "name": "ars-a", "address": "10.79.11.4", "asn": 65515, "localAddress": "10.79.2.10", "group": "azure",
        "profile": "azure-route-server", "families": ["ipv4"], "holdTime": "9s", "asPathPrepend": 2 },
      { "name": "ars-b", "address": "10.79.12.5", "asn": 65515, "localAddress": "10.79.2.10", "group": "azure",
        "profile": "azure-route-server", "families": ["ipv4"], "holdTime": "9s", "asPathPrepend": 2 }
    ] },
  "services": [
    { "name": "dns", "prefixes": ["192.0.2.53/32"] },
    { "name": "vnet", "prefixes": ["10.1.5.53/32"] }
  ],
  "drain": { "delay": "1s", "gracefulShutdown": false },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" },
  "metrics": { "listen": "10.79.2.10:9479" }
}
JSON

out=$("$BIN" check "$IO_ROOT/anycastd.json" 2>&1)
status=$?
check "check accepts the group with the profile (status $status)" [ "$status" = 0 ]
check "check warns that a 9 s hold time is not Azure's 180 s, with its position" \
    grep -Eq "anycastd.json:6:[0-9]+: bgp.peers\[0\].holdTime: warning: Azure Route Server uses fixed timers" <<<"$out"

ip netns exec "$host" "$BIN" reconcile -c "$IO_ROOT/anycastd.json" >"$IO_ROOT/anycastd.log" 2>&1 &
io_track_pid $!

rsdir() { echo "$IO_ROOT/rs$1"; }
established() { [ "$(io_bird_state "$(rsdir "$1")" host)" = Established ]; }
has_route() { birdc -s "$(rsdir "$1")/bird.ctl" show route "$2" | grep -q "$2"; }
filtered_route() { birdc -s "$(rsdir "$1")/bird.ctl" show route filtered "$2" | grep -q "$2"; }
scrape() { ip netns exec "$host" curl -sf --max-time 2 "http://10.79.2.10:9479/metrics"; }
metric_is() { scrape | grep -qxF "$1 $2"; }
status_has() { ip netns exec "$host" "$BIN" status --socket "$IO_ROOT/anycastd.sock" "$@" 2>/dev/null; }
status_says() { status_has | grep -qF "$1"; }

check "rs-a established (multihop, one routed hop away)" io_wait 20 established a
check "rs-b established (multihop, one routed hop away)" io_wait 20 established b
check "rs-a has 192.0.2.53/32" io_wait 5 has_route a 192.0.2.53/32
check "rs-b has 192.0.2.53/32" io_wait 5 has_route b 192.0.2.53/32
routes_a=$(io_bird_routes "$(rsdir a)" host)
routes_b=$(io_bird_routes "$(rsdir b)" host)
check "both instances hold identical routes ($(wc -l <<<"$routes_a") line(s))" \
    [ -n "$routes_a" ] && [ "$routes_a" = "$routes_b" ]
check "the prepend lever reaches both: AS path 65010 65010 65010" \
    sh -c "birdc -s '$(rsdir a)/bird.ctl' show route 192.0.2.53/32 all | grep -q 'BGP.as_path: 65010 65010 65010' &&
           birdc -s '$(rsdir b)/bird.ctl' show route 192.0.2.53/32 all | grep -q 'BGP.as_path: 65010 65010 65010'"
check "the VNet-internal 10.1.5.53/32 is filtered at rs-a, as Azure would" io_wait 5 filtered_route a 10.1.5.53/32
check "and at rs-b" filtered_route b 10.1.5.53/32
check "status: azure: 2 of 2 established" io_wait 5 status_says "azure: 2 of 2 established"
check "metrics: anycastd_peer_group_established{group=\"azure\"} 2" \
    metric_is 'anycastd_peer_group_established{group="azure"}' 2
check "metrics: anycastd_peer_group_peers{group=\"azure\"} 2" metric_is 'anycastd_peer_group_peers{group="azure"}' 2

# rs-b lost silently (its link cut behind the VNet router): the hold timer (9 s here) finds it.
ip -n "$vnet" link set azvb down
t0=$(date +%s%N)
check "status says \"azure: 1 of 2 established\" within the 9 s hold time (+2 s)" \
    io_wait 11 status_says "azure: 1 of 2 established  NOT ALL ESTABLISHED (down: ars-b)"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# rs-b silenced → status \"1 of 2\" after $ms ms (hold time 9 s; Azure runs 180 s)"
check "metrics: anycastd_peer_group_established{group=\"azure\"} 1" \
    metric_is 'anycastd_peer_group_established{group="azure"}' 1
json=$(status_has --json)
check "status --json lists ars-a as the one established peer of azure" \
    jq -e '.groups == [{"name": "azure", "peers": ["ars-a", "ars-b"], "established": ["ars-a"]}]' <<<"${json:-null}"
check "the log says \"azure: 1 of 2 established (down: ars-b)\"" \
    io_wait 2 grep -q "azure: 1 of 2 established (down: ars-b)" "$IO_ROOT/anycastd.log"
check "rs-a keeps the routes" has_route a 192.0.2.53/32

# rs-b back: the count returns to 2 and the log says so.
ip -n "$vnet" link set azvb up
check "rs-b re-established once reachable again" io_wait 30 established b
check "the log says \"azure: 2 of 2 established\" again" \
    io_wait 5 sh -c "grep 'azure: ' '$IO_ROOT/anycastd.log' | tail -1 | grep -q 'azure: 2 of 2 established'"

# `anycastd check` on what Azure Route Server refuses (issue 12, Must show): each an error at its position.
bad() { # bad NAME LOCAL_ASN PEER_EXTRA
    cat >"$IO_ROOT/$1.json" <<JSON
{
  "bgp": { "asn": $2, "routerId": "10.79.2.10",
    "peers": [
      { "name": "ars-a", "address": "10.79.11.4", "asn": 65515, "profile": "azure-route-server"$3 }
    ] },
  "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32"] } ],
  "drain": { "gracefulShutdown": false }
}
JSON
}
bad asn4 4200000010 ""
bad ipv6 65010 ', "families": ["ipv4", "ipv6"], "nextHop": { "ipv6": "2001:db8::10" }'
bad password 65010 ', "passwordFile": "/etc/anycastd/ars.key"'
check_error() { # check_error NAME EXPECTED_LINE
    local out status
    out=$("$BIN" check "$IO_ROOT/$1.json" 2>&1)
    status=$?
    echo "# $out"
    [ "$status" = 78 ] && grep -qxF "$2" <<<"$out"
}
check "check: a 4-octet local ASN is an error at bgp.asn, exit 78" check_error asn4 \
    "$IO_ROOT/asn4.json:2:19: bgp.asn: 4200000010 is a 4-octet ASN; Azure Route Server (profile \"azure-route-server\" on peer \"ars-a\") accepts only a 2-octet ASN (1 to 65535) other than 65515 and 65517 to 65520"
check "check: an IPv6 family is an error at the family, exit 78" check_error ipv6 \
    "$IO_ROOT/ipv6.json:4:119: bgp.peers[0].families[1]: Azure Route Server takes IPv4 routes only; remove \"ipv6\" (peer \"ars-a\")"
check "check: a password file is an error at passwordFile, exit 78" check_error password \
    "$IO_ROOT/password.json:4:114: bgp.peers[0].passwordFile: Azure Route Server does not support TCP MD5 passwords (peer \"ars-a\")"

[ "$failed" = 0 ] || { echo "# anycastd log:"; sed 's/^/#   /' "$IO_ROOT/anycastd.log"; }
echo "1..$n"
echo "azure: $passed passed, $failed failed"
[ "$failed" = 0 ]
