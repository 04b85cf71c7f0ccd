#!/usr/bin/env bash
# BGP unnumbered (issue 12): the whole daemon with two peers given by "interface" and no address on
# either link but the kernel's link-local one. FRR (`neighbor IF interface remote-as external`, with its
# Router Advertisements, passive) learns the host from the agent's advertisements and waits for the agent,
# which must connect to the address it learnt from FRR's advertisements; BIRD (`extended next hop on`, a
# link-local session to the host's fe80:: address) connects in and the agent takes it from the link.
# FRR must install 192.0.2.53/32 via the host's fe80:: address in its kernel table (RFC 8950) and the
# IPv6 route too, and a DNS client in FRR's namespace must be answered by a dnsmasq on the anycast
# address in the host's namespace; BIRD must show the IPv4 route with the IPv6 next hop.
# Prints TAP lines and `unnumbered: N passed, N failed`.
# Usage: sudo Tests/interop/unnumbered.sh [--bin PATH]   (run under flock /tmp/anycastd-lab.lock)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/debug/anycastd
[ "${1:-}" = --bin ] && BIN=$2
[ -x "$BIN" ] || io_die "$BIN not built (swift build)"
io_require
command -v dnsmasq >/dev/null && command -v dig >/dev/null || io_die "needs dnsmasq and dig (Tests/tools/deps.sh)"
io_init
trap io_cleanup EXIT
IO_TAG=unnumbered

host=acd-io-un-h
frr=acd-io-un-f
bird=acd-io-un-b
for ns in "$host" "$frr" "$bird"; do
    ip netns delete "$ns" 2>/dev/null
    ip netns add "$ns" && echo "$ns" >>"$IO_ROOT/netns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
# Two links, no addresses: the kernel gives each end its fe80:: address when it comes up.
ip link add unh1 netns "$host" type veth peer name unf1 netns "$frr"
ip link add unh2 netns "$host" type veth peer name unb1 netns "$bird"
ip -n "$host" link set unh1 up
ip -n "$host" link set unh2 up
ip -n "$frr" link set unf1 up
ip -n "$bird" link set unb1 up
linklocal() { ip -n "$1" -6 addr show dev "$2" scope link | awk '/inet6 fe80/ { sub("/.*", "", $2); print $2; exit }'; }
io_wait 5 sh -c "[ -n \"\$(ip -n $host -6 addr show dev unh2 scope link)\" ]" || io_log "no link-local address on unh2"
io_wait 5 sh -c "[ -n \"\$(ip -n $frr -6 addr show dev unf1 scope link)\" ]" || io_log "no link-local address on unf1"
host_ll1=$(linklocal "$host" unh1)
host_ll2=$(linklocal "$host" unh2)
frr_ll=$(linklocal "$frr" unf1)
io_log "host unh1 $host_ll1, unh2 $host_ll2; FRR unf1 $frr_ll"

# FRR: RAs every 3 s from zebra, the unnumbered neighbor in bgpd; nothing exported to the host.
mkdir -p "$IO_ROOT/frr"
cat >"$IO_ROOT/frr/zebra.conf" <<EOF
hostname acd-un-frr
interface unf1
 ipv6 nd ra-interval 3
 no ipv6 nd suppress-ra
EOF
cat >"$IO_ROOT/frr/bgpd.conf" <<EOF
frr defaults traditional
hostname acd-un-frr
log file $IO_ROOT/frr/bgpd.log
route-map NONE deny 10
router bgp 65000
 bgp router-id 10.255.0.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor unf1 interface remote-as external
 neighbor unf1 timers 3 9
 neighbor unf1 timers connect 2
 neighbor unf1 passive
 address-family ipv4 unicast
  neighbor unf1 activate
  neighbor unf1 route-map NONE out
 exit-address-family
 address-family ipv6 unicast
  neighbor unf1 activate
  neighbor unf1 route-map NONE out
 exit-address-family
EOF
chown -R frr:frr "$IO_ROOT/frr"
ip netns exec "$frr" /usr/lib/frr/zebra -d -f "$IO_ROOT/frr/zebra.conf" -i "$IO_ROOT/frr/zebra.pid" \
    -z "$IO_ROOT/frr/zserv.api" --vty_socket "$IO_ROOT/frr" >"$IO_ROOT/frr/zebra.out" 2>&1 ||
    io_die "zebra failed (see $IO_ROOT/frr/zebra.out)"
io_wait 5 test -S "$IO_ROOT/frr/zserv.api" || io_die "zebra has no zserv socket"
ip netns exec "$frr" /usr/lib/frr/bgpd -d -f "$IO_ROOT/frr/bgpd.conf" -i "$IO_ROOT/frr/bgpd.pid" \
    -z "$IO_ROOT/frr/zserv.api" --vty_socket "$IO_ROOT/frr" >"$IO_ROOT/frr/bgpd.out" 2>&1 ||
    io_die "bgpd failed (see $IO_ROOT/frr/bgpd.out)"

# BIRD: a link-local session to the host's fe80:: on unb1, IPv4 with extended next hop, its own RAs.
mkdir -p "$IO_ROOT/bird"
cat >"$IO_ROOT/bird/bird.conf" <<EOF
router id 10.255.0.2;
protocol device { scan time 1; }
protocol radv {
    ipv6 { export none; };
    interface "unb1" { min ra interval 3; max ra interval 4; default lifetime 0; };
}
protocol bgp h {
    local as 65000;
    neighbor $host_ll2 % 'unb1' as 65011;
    hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 10;
    ipv4 { extended next hop on; import all; export none; };
    ipv6 { import all; export none; };
}
EOF
ip netns exec "$bird" bird -c "$IO_ROOT/bird/bird.conf" -s "$IO_ROOT/bird/bird.ctl" -P "$IO_ROOT/bird/bird.pid" \
    >"$IO_ROOT/bird/bird.out" 2>&1 || io_die "bird failed: $(cat "$IO_ROOT/bird/bird.out")"

cat >"$IO_ROOT/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.255.0.11", "holdTime": "9s", "peers": [
    { "name": "frr", "interface": "unh1", "asn": 65000 },
    { "name": "bird", "interface": "unh2", "asn": 65000 }
  ] },
  "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32", "2001:db8:53::53/128"] } ],
  "drain": { "delay": "0s" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" }
}
JSON
check "anycastd check accepts the unnumbered peers" "$BIN" check -c "$IO_ROOT/anycastd.json"
ip netns exec "$host" "$BIN" reconcile -c "$IO_ROOT/anycastd.json" >"$IO_ROOT/anycastd.log" 2>&1 &
agent=$!
io_track_pid $agent

frr_state() { vtysh --vty_socket "$IO_ROOT/frr" -c "show bgp neighbors unf1 json" 2>/dev/null | jq -r '.unf1.bgpState // "none"'; }
frr_established() { [ "$(frr_state)" = Established ]; }
bird_established() { birdc -s "$IO_ROOT/bird/bird.ctl" show protocols h | grep -q Established; }
check "FRR: unnumbered session on unf1 established" io_wait 40 frr_established
check "BIRD: link-local session established" io_wait 30 bird_established

frr_v4() { ip -n "$frr" route show 192.0.2.53/32; }
frr_v6() { ip -n "$frr" -6 route show 2001:db8:53::53/128; }
check "FRR's kernel table: 192.0.2.53/32 via inet6 $host_ll1 (RFC 8950)" \
    io_wait 10 sh -c "ip -n $frr route show 192.0.2.53/32 | grep -q 'via inet6 $host_ll1 dev unf1'"
io_log "FRR: $(frr_v4)"
check "FRR's kernel table: 2001:db8:53::53/128 via $host_ll1" \
    io_wait 10 sh -c "ip -n $frr -6 route show 2001:db8:53::53/128 | grep -q 'via $host_ll1 dev unf1'"
io_log "FRR: $(frr_v6)"
check "the agent connected out to the FRR address it learnt from FRR's Router Advertisements" \
    grep -q "established (outbound).*peer=frr" "$IO_ROOT/anycastd.log"
check "BIRD's connection from fe80:: on unh2 was taken as peer bird" \
    grep -q "established (inbound).*peer=bird" "$IO_ROOT/anycastd.log"
ra=$(ip netns exec "$host" timeout 10 tcpdump -c 1 -n -v -i unh1 "icmp6 and src $host_ll1 and ip6[40] == 134" 2>/dev/null)
io_log "agent's RA: $(echo "$ra" | tr -s ' \n' ' ')"
check "the agent's Router Advertisement: from $host_ll1 to ff02::1, hop limit 255, router lifetime 0" sh -c \
    "echo '$ra' | grep -q 'hlim 255' && echo '$ra' | grep -q '$host_ll1 > ff02::1' && echo '$ra' | grep -q 'router lifetime 0s'"
check "FRR negotiated the extended next hop capability" sh -c \
    "vtysh --vty_socket $IO_ROOT/frr -c 'show bgp neighbors unf1' | grep -q 'Extended nexthop: advertised and received'"
bird_route() { birdc -s "$IO_ROOT/bird/bird.ctl" show route "$1" all; }
check "BIRD: 192.0.2.53/32 with the IPv6 next hop $host_ll2" \
    io_wait 10 sh -c "birdc -s $IO_ROOT/bird/bird.ctl show route 192.0.2.53/32 all | grep -q 'via $host_ll2 on unb1'"
io_log "BIRD: $(bird_route 192.0.2.53/32 | tr '\n' ' ')"
check "BIRD: 2001:db8:53::53/128 too" \
    sh -c "birdc -s $IO_ROOT/bird/bird.ctl show route 2001:db8:53::53/128 | grep -q 'via $host_ll2 on unb1'"

no_numbered() { ! ip -n "$1" addr show dev "$2" | grep -v 'inet6 fe80' | grep -q 'inet'; }
check "the host's links carry no address but link-local" sh -c "$(declare -f no_numbered); no_numbered $host unh1 && no_numbered $host unh2"
check "FRR's link carries no address but link-local" sh -c "$(declare -f no_numbered); no_numbered $frr unf1"
check "status shows the neighbor learnt on unh2 (BIRD's RA or connection)" sh -c \
    "'$BIN' status --socket '$IO_ROOT/anycastd.sock' | grep -q 'bird fe80::'"

# A client in FRR's namespace (its source address on FRR's loopback, routed back by the test) is
# answered by a DNS server on the anycast address in the host's namespace, through FRR's route.
ip -n "$frr" addr add 198.51.100.1/32 dev lo
ip -n "$host" route add 198.51.100.1/32 via inet6 "$frr_ll" dev unh1
ip netns exec "$host" dnsmasq --conf-file=/dev/null --listen-address=192.0.2.53 --bind-interfaces --no-resolv \
    --no-hosts --txt-record=id.lab,served-by-unnumbered --pid-file="$IO_ROOT/dnsmasq.pid" --port=53 ||
    io_log "dnsmasq did not start"
io_wait 5 test -s "$IO_ROOT/dnsmasq.pid" && io_track_pid "$(cat "$IO_ROOT/dnsmasq.pid")"
answer=$(ip netns exec "$frr" dig +short +time=1 +tries=3 -b 198.51.100.1 @192.0.2.53 id.lab TXT 2>&1)
check "a client in FRR's namespace is answered through the unnumbered route ($answer)" \
    [ "$answer" = '"served-by-unnumbered"' ]

# The agent stops: both routers lose the routes (Cease, not the hold timer).
kill -TERM "$agent" 2>/dev/null
gone_v4() { ! ip -n "$frr" route show 192.0.2.53/32 | grep -q via; }
check "FRR withdraws 192.0.2.53/32 when the agent stops" io_wait 10 gone_v4

echo "unnumbered: $passed passed, $failed failed"
[ "$failed" = 0 ]
