#!/usr/bin/env bash
# Two hosts run anycastd and a dnsmasq on 192.0.2.53: BIRD on the router has a path from each, installs
# an ECMP route, and a client behind the router is answered; its queries (each from its own source
# port) are spread over both hosts by the router's L4 hash.
source "$(dirname "${BASH_SOURCE[0]}")/lib-bgp.sh"
bgp_lab_require

bird_read
for host in h1 h2; do
    assert_match "BIRD has $host's path for $BGP_PREFIX, local pref 100, no GRACEFUL_SHUTDOWN" \
        '^localpref=100 communities=-$' "${BIRD_PATHS[$host]:-none}"
done
diag "$(bird_paths "$BGP_PREFIX")"

fib=$(bgp_ns r1 ip route show "$BGP_PREFIX")
assert_match "r1's kernel route to $BGP_ANYCAST has a next hop via h1" 'nexthop via 10\.0\.1\.2 ' "$fib"
assert_match "r1's kernel route to $BGP_ANYCAST has a next hop via h2" 'nexthop via 10\.0\.2\.2 ' "$fib"

answer=$(client_query)
assert_match "the client is answered (dig @$BGP_ANYCAST id.lab TXT: $answer)" '^served-by-h[12]$' "$answer"

bgp_query_loop_start 10 || bail "the query loop starts"
wait_until 20000 bgp_loop_has 60 >/dev/null
bgp_query_loop_stop
assert_eq "every query of the loop is answered ($LOOP_ANSWERED of $LOOP_SENT)" "$LOOP_SENT" "$LOOP_ANSWERED"
((LOOP_LOST == 0)) || diag "$(bgp_loop_losses)"
diag "split over $LOOP_SENT queries: h1 answered $LOOP_H1, h2 answered $LOOP_H2"
assert_ge "at least 60 queries were sent" 60 "$LOOP_SENT"
if ((LOOP_H1 > 0 && LOOP_H2 > 0)); then
    ok "both hosts served queries (h1 $LOOP_H1, h2 $LOOP_H2)"
else
    not_ok "both hosts served queries" "h1 $LOOP_H1, h2 $LOOP_H2 of $LOOP_SENT: the router did not spread them by source port"
fi
sys_finish
