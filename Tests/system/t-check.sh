#!/usr/bin/env bash
# `anycastd check` reports every error of a config file at once, one `FILE:LINE:COL: path: message`
# line each on stderr, and exits 78 (EX_CONFIG); a valid file passes with 0.
# shellcheck source=Tests/system/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_binary

bad=$SYS_WORK/bad.json
# Three distinct errors on lines 3, 10 and 15: a name over 15 bytes, an IPv4 octet over 255, and
# a number where a path string belongs.
cat >"$bad" <<JSON
{
  "interface": {
    "name": "anycast0-far-too-long",
    "uplinks": ["veth-up"]
  },
  "services": [
    {
      "name": "dns",
      "prefixes": [
        "192.0.2.300/32",
        "2001:db8:53::53/128"
      ]
    }
  ],
  "stateDirectory": 42,
  "control": {"socket": "$SYS_WORK/anycastd.sock"}
}
JSON

status=0
stderr=$("$ANYCASTD_BIN" check --config "$bad" 2>&1 >/dev/null) || status=$?
diag "stderr: $stderr"
assert_eq "check on a file with three errors exits 78" 78 "$status"
f=${bad//./\\.}
positioned=$(grep -cE "^$f:[0-9]+:[0-9]+: " <<<"$stderr")
assert_eq "three FILE:LINE:COL lines on stderr" 3 "$positioned"
assert_match "interface.name at line 3" "^$f:3:[0-9]+: interface\.name: ." "$stderr"
assert_match "services[0].prefixes[0] at line 10" \
    "^$f:10:[0-9]+: services(\[0\]|\.0)\.prefixes(\[0\]|\.0): ." "$stderr"
assert_match "stateDirectory at line 15" "^$f:15:[0-9]+: stateDirectory: ." "$stderr"

good=$SYS_WORK/good.json
write_config "$good" 192.0.2.53/32 2001:db8:53::53/128
status=0
out=$("$ANYCASTD_BIN" check --config "$good" 2>&1) || status=$?
assert_eq "check on a valid file exits 0" 0 "$status"
((status == 0)) || diag "output: $out"
sys_finish
