#!/usr/bin/env bash
# `anycastd reconcile --dry-run` changes nothing, on this host's kernel: in a fresh namespace, with lo as
# an "existing" interface and an exec check whose program writes a file, the dry run prints the plan and
# each prefix with health "not checked", exits 0, and leaves no file, no address and no state behind.
# `--once` afterwards applies the address and records it as owned, still without running the check.
# Usage: sudo Tests/interop/core-dryrun.sh [--bin PATH]. Prints TAP lines and `core-dryrun: N passed, N failed`.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/debug/anycastd
[ "${1:-}" = --bin ] && BIN=$2
[ -x "$BIN" ] || io_die "$BIN not built (swift build)"
[ "$(id -u)" = 0 ] || io_die "needs root (network namespaces)"
io_init
trap io_cleanup EXIT
IO_TAG=core-dryrun
n=0 passed=0 failed=0

ns=acd-io-core-dryrun
ip netns delete "$ns" 2>/dev/null
ip netns add "$ns" && echo "$ns" >>"$IO_ROOT/netns"
ip -n "$ns" link set lo up

marker=$IO_ROOT/check-ran
cat >"$IO_ROOT/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "services": [ { "name": "dns", "prefixes": ["192.0.2.153/32"],
    "checks": [ { "exec": { "command": ["/bin/sh", "-c", "echo ran > $marker"] },
                  "interval": "100ms", "timeout": "50ms", "rise": 1 } ] } ],
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" }
}
JSON

has_address() { ip -n "$ns" -o addr show dev lo | grep -q ' 192\.0\.2\.153/32 '; }

out=$(ip netns exec "$ns" timeout 20 "$BIN" reconcile -c "$IO_ROOT/anycastd.json" --dry-run 2>&1)
status=$?
check "--dry-run exits 0" [ "$status" = 0 ]
check "--dry-run prints the address it would add" grep -q 'ip addr replace 192.0.2.153/32 dev lo' <<<"$out"
check "--dry-run shows health as not checked" grep -q 'dns 192.0.2.153/32: .*health not checked' <<<"$out"
check "--dry-run ran no check (no file)" [ ! -e "$marker" ]
check "--dry-run added no address" sh -c "! ip -n $ns -o addr show dev lo | grep -q ' 192\.0\.2\.153/32 '"
check "--dry-run wrote no state" [ ! -e "$IO_ROOT/state" ]

out2=$(ip netns exec "$ns" timeout 20 "$BIN" reconcile -c "$IO_ROOT/anycastd.json" --once 2>&1)
status=$?
check "--once exits 0" [ "$status" = 0 ]
check "--once added the address" has_address
check "--once recorded it as owned" grep -qx '192.0.2.153/32' "$IO_ROOT/state/owned-addresses"
check "--once ran no check either" [ ! -e "$marker" ]

[ "$failed" = 0 ] || { echo "# dry run:"; sed 's/^/#   /' <<<"$out"; echo "# once:"; sed 's/^/#   /' <<<"$out2"; }
echo "1..$n"
echo "core-dryrun: $passed passed, $failed failed"
[ "$failed" = 0 ]
