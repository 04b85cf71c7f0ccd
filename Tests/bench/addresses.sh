#!/usr/bin/env bash
# Benchmark: 10,000 /32s added to and deleted from a fresh link, anycastd (`reconcile --once`: the whole
# process, parse, plan and one libmnl batch, link creation included) versus `ip -batch` (link created and
# set up beforehand), alternating, TRIALS times each, in one namespace on this host's kernel. This kernel
# has no dummy link type, so both use an ifb link (`--test-link-kind ifb`).
# Usage: sudo Tests/bench/addresses.sh [--bin PATH] [--count N]   (TRIALS=N, default 20)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../interop/lib.sh
source "$REPO/Tests/interop/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=''
COUNT=10000
while [ $# -gt 0 ]; do
    case $1 in
    --bin) BIN=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--count N]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || io_die "needs root (network namespaces)"
[ -n "$BIN" ] || BIN=$(bench_build anycastd)
io_init
trap io_cleanup EXIT
IO_TAG=bench-addresses
NS=acd-bench-addresses-$$
ip netns add "$NS" || io_die "ip netns add $NS failed"
echo "$NS" >>"$IO_ROOT/netns"
D=$IO_ROOT
addr() { echo "10.200.$(($1 / 250)).$(($1 % 250 + 1))/32"; }
for i in $(seq 0 $((COUNT - 1))); do echo "addr add $(addr "$i") dev bench0"; done >"$D/add.batch"
sed 's/^addr add/addr del/' "$D/add.batch" >"$D/del.batch"
list=$(for i in $(seq 0 $((COUNT - 1))); do printf '"%s",' "$(addr "$i")"; done)
cat >"$D/many.json" <<JSON
{ "interface": { "name": "bench0" }, "services": [ { "name": "many", "prefixes": [${list%,}] } ],
  "stateDirectory": "$D/state", "control": { "socket": "$D/anycastd.sock" } }
JSON
cat >"$D/none.json" <<JSON
{ "interface": { "name": "bench0" }, "services": [],
  "stateDirectory": "$D/state", "control": { "socket": "$D/anycastd.sock" } }
JSON
count() { ip -n "$NS" -o addr show dev bench0 2>/dev/null | grep -c 'inet 10\.200\.'; }
ms_since() { echo $((($(bench_now_ns) - $1) / 1000000)); }
ip_add=() ip_del=() acd_add=() acd_del=()
for trial in $(seq "$TRIALS"); do
    ip -n "$NS" link del bench0 2>/dev/null
    ip -n "$NS" link add bench0 type ifb && ip -n "$NS" link set bench0 up || io_die "ifb link failed"
    t=$(bench_now_ns); ip -n "$NS" -batch "$D/add.batch" || io_die "ip -batch add failed"; ip_add+=("$(ms_since "$t")")
    [ "$(count)" = "$COUNT" ] || io_die "trial $trial: ip -batch left $(count) of $COUNT addresses"
    t=$(bench_now_ns); ip -n "$NS" -batch "$D/del.batch" || io_die "ip -batch del failed"; ip_del+=("$(ms_since "$t")")
    ip -n "$NS" link del bench0
    t=$(bench_now_ns)
    ip netns exec "$NS" "$BIN" reconcile -c "$D/many.json" --once --test-link-kind ifb 2>"$D/anycastd.log" ||
        io_die "anycastd --once failed (see $D/anycastd.log)"
    acd_add+=("$(ms_since "$t")")
    [ "$(count)" = "$COUNT" ] || io_die "trial $trial: anycastd left $(count) of $COUNT addresses"
    t=$(bench_now_ns)
    ip netns exec "$NS" "$BIN" reconcile -c "$D/none.json" --once --test-link-kind ifb 2>"$D/anycastd.log" ||
        io_die "anycastd --once failed (see $D/anycastd.log)"
    acd_del+=("$(ms_since "$t")")
    [ "$(count)" = 0 ] || io_die "trial $trial: anycastd left $(count) addresses after deleting"
done
echo "ip -batch add: ${ip_add[*]} ms; del: ${ip_del[*]} ms"
echo "anycastd add: ${acd_add[*]} ms; del: ${acd_del[*]} ms"
label=$(printf "%'d" "$COUNT" 2>/dev/null || echo "$COUNT")
bench_row "$label /32s added to a fresh link (whole \`--once\` run vs \`ip -batch\`, link up)" \
    "$(bench_stats ms "${acd_add[@]}")" "\`ip -batch\` $(bench_stats ms "${ip_add[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${acd_add[@]}")" "$(bench_p50 "${ip_add[@]}")")"
bench_row "$label /32s deleted" \
    "$(bench_stats ms "${acd_del[@]}")" "\`ip -batch\` $(bench_stats ms "${ip_del[@]}")" \
    "p50 $(bench_ratio "$(bench_p50 "${acd_del[@]}")" "$(bench_p50 "${ip_del[@]}")")"
