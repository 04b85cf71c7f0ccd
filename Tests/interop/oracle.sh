#!/usr/bin/env bash
# Encoder oracle: the UPDATEs the speaker would send (bgp-probe --print-updates) are decoded by ExaBGP's
# own decoder (`exabgp --decode HEX CONF`) and must read back as the intended routes and attributes.
# Independent of our decoder, so an encoder bug cannot hide behind a symmetric decoder bug.
# Usage: Tests/interop/oracle.sh [--probe PATH]; ends with `oracle: N passed, N failed`.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROBE=""
[ "${1:-}" = --probe ] && PROBE=$2
if [ -z "$PROBE" ]; then
    (cd "$REPO" && swift build --product bgp-probe >/dev/null 2>&1) || { echo "oracle: swift build failed" >&2; exit 2; }
    PROBE="$(cd "$REPO" && swift build --show-bin-path)/bgp-probe"
fi
[ -x /usr/sbin/exabgp ] || { echo "oracle: /usr/sbin/exabgp missing (apt-get install exabgp)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/acd-io-oracle.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/exabgp.conf" <<'EOF'
neighbor 192.0.2.1 {
  router-id 192.0.2.2;
  local-address 192.0.2.2;
  local-as 65000;
  peer-as 65000;
  family { ipv4 unicast; ipv6 unicast; }
  capability { asn4 enable; }
}
EOF
passed=0
failed=0

# decode HEX -> ExaBGP's JSON for one message (its parser logs "update json {...}").
decode() {
    env exabgp.api.cli=false /usr/sbin/exabgp --decode "$1" "$TMP/exabgp.conf" 2>&1 |
        grep -o 'update json {.*' | sed 's/^update json //' | head -1
}

# check NAME JQ_FILTER PROBE_ARGS...: every UPDATE is decoded; the jq filter runs over the array of
# decoded messages and must print "true".
check() {
    local name=$1 filter=$2
    shift 2
    local hexes
    if ! hexes=$("$PROBE" --local-as 4200000011 --router-id 192.0.2.2 --peer 192.0.2.1 --peer-as 65000 \
        --local 192.0.2.2 --print-updates "$@" 2>"$TMP/err"); then
        echo "FAIL $name: bgp-probe --print-updates failed: $(cat "$TMP/err")"
        failed=$((failed + 1))
        return
    fi
    local all="[" first=1 hex json
    for hex in $hexes; do
        json=$(decode "$hex")
        if [ -z "$json" ]; then
            echo "FAIL $name: exabgp could not decode $hex"
            failed=$((failed + 1))
            return
        fi
        [ $first = 1 ] || all="$all,"
        all="$all$json"
        first=0
    done
    all="$all]"
    if [ "$(echo "$all" | jq -r "$filter" 2>&1)" = true ]; then
        echo "pass $name ($(echo "$hexes" | wc -l) messages)"
        passed=$((passed + 1))
    else
        echo "FAIL $name: filter $filter is not true for:"
        echo "$all" | jq -c '.[] | .neighbor.message' | head -5
        failed=$((failed + 1))
    fi
}

U='[.[] | .neighbor.message.update | select(. != null)]'
check "ipv4 route with all attributes" \
    "$U | .[0] as \$u | (\$u.announce[\"ipv4 unicast\"][\"192.0.2.2\"] | map(.nlri)) == [\"192.0.2.10/32\"]
     and \$u.attribute.origin == \"igp\" and \$u.attribute[\"as-path\"] == [4200000011,4200000011,4200000011]
     and \$u.attribute.med == 50 and \$u.attribute.community == [[65011,53],[65011,54]]
     and \$u.attribute[\"large-community\"] == [[4200000011,1,2]]" \
    --route 192.0.2.10/32 --med 50 --prepend 2 --community 65011:53 --community 65011:54 \
    --large-community 4200000011:1:2 --families ipv4
check "ipv6 route in MP_REACH with configured next hop" \
    "$U | map(select(.announce != null)) | .[0].announce[\"ipv6 unicast\"] | keys == [\"2001:db8::11\"]
     and (.[\"2001:db8::11\"] | map(.nlri)) == [\"2001:db8:aa::10/128\"]" \
    --route 2001:db8:aa::10/128 --ipv6-next-hop 2001:db8::11 --families ipv4,ipv6
check "End-of-RIB for both families" \
    "[.[] | .neighbor.message.eor | select(. != null) | .afi] | sort == [\"ipv4\",\"ipv6\"]" \
    --route 192.0.2.10/32 --route 2001:db8:aa::10/128 --ipv6-next-hop 2001:db8::11
# 1000 /32s with one attribute set: few UPDATEs, every prefix exactly once.
seq 0 999 | awk '{ printf "10.%d.%d.%d/32\n", 1, int($1 / 256), $1 % 256 }' >"$TMP/routes"
check "1000 prefixes packed, each once" \
    "$U | map(select(.announce != null) | .announce[\"ipv4 unicast\"][] | map(.nlri)) | add | (length == 1000 and (unique | length) == 1000)" \
    --routes-file "$TMP/routes" --families ipv4
echo "oracle: $passed passed, $failed failed"
[ $failed = 0 ]
