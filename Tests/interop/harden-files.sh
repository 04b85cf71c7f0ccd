#!/usr/bin/env bash
# The configuration file and netlink as hostile inputs, against the release binary next to BIRD (interface
# kind "existing" on lo, so no dummy link type is needed):
# - a FIFO at the configuration path: `anycastd check` fails at once with a clear error (exit 78), and a
#   running agent whose file becomes a FIFO keeps answering status and still withdraws a failing check;
# - the watch does not go deaf: edits after the directory is deleted and created again, and edits of a
#   symbolic link's target, are applied within a second;
# - 3,000 addresses churning on another interface do not hide the agent's own address loss: BIRD sees
#   the withdraw within a second.
# Prints TAP lines and `harden-files: N passed, N failed`.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/harden-files.sh [--bin PATH]
# HARDEN_SKIP_FIFO=1 leaves out the FIFO sections, to run the others against a build that a FIFO freezes.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$REPO/.build/release/anycastd
[ "${1:-}" = --bin ] && BIN=$2
[ -x "$BIN" ] || io_die "$BIN not built (swift build -c release)"
io_require
io_init
trap 'kill $churn_pid 2>/dev/null; io_cleanup' EXIT
IO_TAG=harden-files
churn_pid=''

host=acd-io-hf-h
router=acd-io-hf-r
io_veth_pair "$host" "$router" hfh hfr 10.81.1.2/24 10.81.1.1/24
# The other interface whose addresses churn (no dummy type on this kernel; ifb behaves the same here).
ip -n "$host" link add hfchurn type ifb
ip -n "$host" link set hfchurn up
io_bird_start "$IO_ROOT/r1" "$router" 65000 10.81.1.1 10.81.1.1 "::1" "name=h addr=10.81.1.2 as=65011 families=ipv4"

etc=$IO_ROOT/etc
mkdir -p "$etc" "$IO_ROOT/srv"
config=$etc/anycastd.json
up_file=$IO_ROOT/web-up
touch "$up_file"
# config_text [EXTRA_PREFIX]: dns (no checks) and web (an exec check that passes while $up_file exists).
config_text() {
    local extra=''
    [ -n "${1:-}" ] && extra=", \"$1\""
    cat <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.81.1.2", "holdTime": "9s",
           "peers": [ { "name": "r1", "address": "10.81.1.1", "asn": 65000, "localAddress": "10.81.1.2" } ] },
  "services": [
    { "name": "dns", "prefixes": ["192.0.2.53/32"$extra] },
    { "name": "web", "prefixes": ["192.0.2.80/32"],
      "checks": [ { "exec": { "command": ["/bin/test", "-e", "$up_file"] }, "interval": "100ms", "timeout": "90ms",
                    "rise": 1, "fall": 1 } ] }
  ],
  "drain": { "delay": "0s" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" }
}
JSON
}
# write_at PATH [EXTRA_PREFIX]: rename-write, as editors and configuration management do.
write_at() { config_text "${2:-}" >"$1.tmp" && mv "$1.tmp" "$1"; }

has_route() { birdc -s "$IO_ROOT/r1/bird.ctl" show route "$1" | grep -q "$1"; }
no_route() { ! has_route "$1"; }
established() { [ "$(io_bird_state "$IO_ROOT/r1" h)" = Established ]; }
withdraws() { birdc -s "$IO_ROOT/r1/bird.ctl" show protocols all h | awk '/Import withdraws:/ { print $3; exit }'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# within MS COMMAND...: polls every 20 ms; true if COMMAND succeeded within MS milliseconds. Sets TOOK.
within() {
    local limit=$1 start
    shift
    start=$(now_ms)
    while true; do
        if "$@"; then
            TOOK=$(($(now_ms) - start))
            return 0
        fi
        (($(now_ms) - start > limit)) && { TOOK=$(($(now_ms) - start)); return 1; }
        sleep 0.02
    done
}
# timed WHAT MS COMMAND...: one TAP line, with how long COMMAND took to succeed.
timed() {
    local what=$1 limit=$2
    shift 2
    if within "$limit" "$@"; then ok "$what ($TOOK ms)"; else not_ok "$what (not within $limit ms)"; fi
}
status_ok() { ip netns exec "$host" timeout 2 "$BIN" status --socket "$IO_ROOT/anycastd.sock" >/dev/null 2>&1; }

if [ -z "${HARDEN_SKIP_FIFO:-}" ]; then
# 1. `anycastd check` on a FIFO: a clear error and 78 within a second, with no writer ever opening it.
mkfifo "$IO_ROOT/fifo.json"
start=$(now_ms)
out=$(timeout 5 "$BIN" check "$IO_ROOT/fifo.json" 2>&1)
status=$?
ms=$(($(now_ms) - start))
check "check on a FIFO exits 78 (got $status) within 1 s (took $ms ms)" test "$status" = 78 -a "$ms" -lt 1000
check "check on a FIFO says it is not a regular file: $out" grep -q "FIFO (named pipe), not a regular file" <<<"$out"
fi

write_at "$config"
ip netns exec "$host" "$BIN" reconcile -c "$config" >"$IO_ROOT/anycastd.log" 2>&1 &
agent=$!
io_track_pid "$agent"
check "BIRD session established" io_wait 20 established
check "both prefixes at BIRD" io_wait 5 sh -c "birdc -s $IO_ROOT/r1/bird.ctl show route 192.0.2.80/32 | grep -q 192.0.2.80 && birdc -s $IO_ROOT/r1/bird.ctl show route 192.0.2.53/32 | grep -q 192.0.2.53"

if [ -z "${HARDEN_SKIP_FIFO:-}" ]; then
# 2. The configuration path becomes a FIFO: the agent keeps the last good state and stays responsive.
mkfifo "$etc/fifo.tmp"
mv "$etc/fifo.tmp" "$config"
check "the agent logs the FIFO as a configuration error" \
    io_wait 3 grep -q "anycastd.json: cannot read: is a FIFO" "$IO_ROOT/anycastd.log"
timed "status answers while the configuration path is a FIFO" 2000 status_ok
rm -f "$up_file"
timed "a failing exec check still withdraws 192.0.2.80/32" 2000 no_route 192.0.2.80/32
check "the FIFO changed nothing else: 192.0.2.53/32 stays" has_route 192.0.2.53/32
touch "$up_file"
rm -f "$config"
write_at "$config"
check "a regular file again is applied: 192.0.2.80/32 back" io_wait 5 has_route 192.0.2.80/32
fi

# 3. The configuration directory deleted and created again: the next edit is applied within a second.
rm -rf "$etc"
mkdir -p "$etc"
write_at "$config" 192.0.2.54/32
timed "an edit in the recreated directory is applied" 1000 has_route 192.0.2.54/32
write_at "$config" 192.0.2.55/32
timed "and the edit after it too" 1000 has_route 192.0.2.55/32

# 4. The file a symbolic link: edits of the link's target are applied within a second.
write_at "$IO_ROOT/srv/real.json" 192.0.2.55/32
ln -s "$IO_ROOT/srv/real.json" "$etc/link.tmp"
mv -T "$etc/link.tmp" "$config"
write_at "$IO_ROOT/srv/real.json" 192.0.2.56/32
timed "an edit of the link's target is applied" 1000 has_route 192.0.2.56/32
config_text 192.0.2.57/32 >"$IO_ROOT/srv/real.json"
timed "an in-place write of the target is applied" 1000 has_route 192.0.2.57/32

# 5. 3,000 addresses churn on another interface; the agent's own address is deleted: BIRD sees the withdraw.
for i in $(seq 0 2999); do echo "address add 10.82.$((i / 250)).$((i % 250 + 1))/32 dev hfchurn"; done >"$IO_ROOT/add.batch"
sed 's/^address add/address del/' "$IO_ROOT/add.batch" >"$IO_ROOT/del.batch"
(while true; do
    ip -n "$host" -batch "$IO_ROOT/add.batch" 2>/dev/null
    ip -n "$host" -batch "$IO_ROOT/del.batch" 2>/dev/null
done) &
churn_pid=$!
check "churn is running: addresses appear on the other interface" \
    io_wait 5 sh -c "ip -n $host -4 addr show dev hfchurn | grep -q 10.82."
before=$(withdraws)
ip -n "$host" addr del 192.0.2.53/32 dev lo
timed "deleting 192.0.2.53/32 under churn withdraws it at BIRD within 1 s" 1000 sh -c "[ \"\$(birdc -s $IO_ROOT/r1/bird.ctl show protocols all h | awk '/Import withdraws:/ { print \$3; exit }')\" -gt $before ]"
check "the agent puts the address back and announces it again" io_wait 5 has_route 192.0.2.53/32
kill "$churn_pid" 2>/dev/null
wait "$churn_pid" 2>/dev/null
check "no dump was interrupted for good" sh -c "! grep -q 'interrupted the dump' '$IO_ROOT/anycastd.log'"

kill -TERM "$agent"
start=$(now_ms)
wait "$agent"
status=$?
check "the agent exits 0 on SIGTERM (status $status, $(($(now_ms) - start)) ms)" [ "$status" = 0 ]

[ "$failed" = 0 ] || { echo "# anycastd log:"; tail -60 "$IO_ROOT/anycastd.log" | sed 's/^/#   /'; }
echo "1..$n"
echo "harden-files: $passed passed, $failed failed"
[ "$failed" = 0 ]
