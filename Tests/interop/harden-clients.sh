#!/usr/bin/env bash
# Clients that misbehave cannot hurt the agent (issue 13): the release binary, under `ulimit -n 1024` (both
# limits, as a unit without LimitNOFILE would give it), next to BIRD in namespaces, with an exec check
# /bin/true. A scraper pipelining 100,000 requests without reading, 1,100 idle scrapers, 200 idle control
# clients, forged and unknown service names: RSS, descriptors, CPU, the route at BIRD and `anycastd
# status` are checked throughout. Prints TAP lines and `harden-clients: N passed, N failed`.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/harden-clients.sh [--bin PATH]
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
trap io_cleanup EXIT
IO_TAG=harden-clients
n=0 passed=0 failed=0
CLIENT=$HERE/harden-clients.py
# The RSS bound: the agent with one peer and one service uses about 20 MB here; a scraper may add its one
# response in flight and NIO's buffers, never hundreds of megabytes.
RSS_LIMIT_KB=${RSS_LIMIT_KB:-65536}

host=acd-hc-h
router=acd-hc-r
io_veth_pair "$host" "$router" hch hcr 10.81.1.2/24 10.81.1.1/24
io_bird_start "$IO_ROOT/r" "$router" 65000 10.81.1.1 10.81.1.1 "::1" "name=h addr=10.81.1.2 as=65011 families=ipv4"

cat >"$IO_ROOT/anycastd.json" <<JSON
{
  "interface": { "name": "lo", "kind": "existing" },
  "bgp": { "asn": 65011, "routerId": "10.81.1.2", "holdTime": "9s",
           "peers": [ { "name": "r", "address": "10.81.1.1", "asn": 65000, "localAddress": "10.81.1.2" } ] },
  "services": [
    { "name": "dns", "prefixes": ["192.0.2.153/32"],
      "checks": [ { "exec": { "command": ["/bin/true"] }, "interval": "300ms", "timeout": "250ms" } ] }
  ],
  "drain": { "delay": "1s" },
  "stateDirectory": "$IO_ROOT/state",
  "control": { "socket": "$IO_ROOT/anycastd.sock" },
  "metrics": { "listen": "10.81.1.2:9479" }
}
JSON
ip netns exec "$host" bash -c "ulimit -n 1024; exec $BIN reconcile -c $IO_ROOT/anycastd.json" >"$IO_ROOT/anycastd.log" 2>&1 &
pid=$!
io_track_pid $pid

has_route() { birdc -s "$IO_ROOT/r/bird.ctl" show route 192.0.2.153/32 | grep -q 192.0.2.153; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
status_json() { timeout 5 "$BIN" status --json --socket "$IO_ROOT/anycastd.sock"; }
healthy() { status_json | jq -e '.services[] | select(.name == "dns") | .healthy' >/dev/null; }
client() { ip netns exec "$host" bash -c "ulimit -n 4096; exec $CLIENT $*"; }
# The highest RSS and descriptor count sampled while a client runs in the background (pid $1).
peak_rss=0 peak_fds=0
watch_while() {
    peak_rss=0 peak_fds=0
    while kill -0 "$1" 2>/dev/null; do
        local r f
        r=$(rss_kb) f=$(fds)
        [ "${r:-0}" -gt $peak_rss ] && peak_rss=$r
        [ "${f:-0}" -gt $peak_fds ] && peak_fds=$f
        sleep 0.1
    done
}

check "the route is at BIRD" io_wait 30 has_route
check "the exec check is healthy" io_wait 10 healthy
if ! kill -0 "$pid" 2>/dev/null || ! has_route; then
    not_ok "the agent runs and announces; nothing more can be tested"
    sed 's/^/#   /' "$IO_ROOT/anycastd.log"
    echo "1..$n"
    echo "harden-clients: $passed passed, $failed failed"
    exit 1
fi
check "the soft descriptor limit stays 1024 under ulimit -n 1024" \
    grep -q "^Max open files *1024 *1024" "/proc/$pid/limits"
base_rss=$(rss_kb) base_fds=$(fds)
echo "# ready after $SECONDS s"
echo "# baseline: VmRSS $base_rss kB, $base_fds descriptors"

# 1. 100,000 pipelined GET /metrics from a client that never reads.
client pipeline 10.81.1.2 9479 100000 15 >"$IO_ROOT/pipeline.out" &
watcher=$!
watch_while $watcher
wait $watcher
echo "# pipeline: $(cat "$IO_ROOT/pipeline.out"); peak VmRSS $peak_rss kB, $peak_fds descriptors"
check "pipelining without reading: VmRSS stayed under $RSS_LIMIT_KB kB (peak $peak_rss kB)" \
    [ "$peak_rss" -lt "$RSS_LIMIT_KB" ]
check "the server closed the connection of the client that does not read" grep -q "closed=1" "$IO_ROOT/pipeline.out"
check "the route stayed at BIRD" has_route

echo "# $SECONDS s"

# 2. 1,100 idle metrics connections under a 1,024-descriptor limit.
ticks0=$(cpu_ticks) t0=$(date +%s%N)
client idle 10.81.1.2 9479 1100 7 >"$IO_ROOT/idle.out" &
watcher=$!
sleep 3
check "during 1,100 idle scrapers: anycastd status answers" sh -c "timeout 5 $BIN status --socket $IO_ROOT/anycastd.sock >/dev/null"
check "during 1,100 idle scrapers: the exec check stays healthy" healthy
check "during 1,100 idle scrapers: the route stays at BIRD" has_route
watch_while $watcher
wait $watcher
ticks1=$(cpu_ticks) t1=$(date +%s%N)
cpu_pct=$(( (ticks1 - ticks0) * 100 * 1000000000 / $(getconf CLK_TCK) / (t1 - t0) ))
echo "# idle scrapers: $(tr '\n' ' ' <"$IO_ROOT/idle.out"); peak $peak_fds descriptors; CPU $cpu_pct % of a core"
check "idle scrapers held at most 64 + $base_fds + 16 descriptors (peak $peak_fds)" [ "$peak_fds" -le $((base_fds + 64 + 16)) ]
check "connections above the cap were closed at once" grep -Eq "closed_within_1s=10[0-9][0-9]" "$IO_ROOT/idle.out"
check "every idle scraper was closed by the timeout" grep -q "closed_within_7s=1100" "$IO_ROOT/idle.out"
check "the agent did not spin ($cpu_pct % of a core over the idle test)" [ "$cpu_pct" -lt 50 ]
check "no check failed for want of descriptors" sh -c "kill -0 $pid && ! grep -q 'Too many open files' '$IO_ROOT/anycastd.log'"
check "still healthy after the idle scrapers" healthy

echo "# $SECONDS s"

# 3. 200 idle control clients.
client unix-idle "$IO_ROOT/anycastd.sock" 200 7 >"$IO_ROOT/control.out"
echo "# idle control clients: $(tr '\n' ' ' <"$IO_ROOT/control.out")"
check "200 idle control clients are all closed (above the cap at once, the rest by the timeout)" \
    grep -q "closed_within_7s=200" "$IO_ROOT/control.out"
check "descriptors back to the baseline after the idle clients ($(fds), baseline $base_fds)" io_wait 5 sh -c "[ \$(ls /proc/$pid/fd | wc -l) -le $((base_fds + 4)) ]"

echo "# $SECONDS s"

# 4. A service name with a newline is rejected and forges no line.
forged=$(printf 'dns\nerror: forged by a client')
out=$("$BIN" undrain --socket "$IO_ROOT/anycastd.sock" "$forged" 2>&1)
echo "# undrain of a forged name: $out" | head -2
check "undrain of a name with a newline is an error" sh -c "! '$BIN' undrain --socket '$IO_ROOT/anycastd.sock' '$forged' >/dev/null 2>&1"
check "drain of a name with a newline is an error" sh -c "! '$BIN' drain --socket '$IO_ROOT/anycastd.sock' '$forged' >/dev/null 2>&1"
check "no forged line in the log" sh -c "kill -0 $pid && ! grep -q '^error: forged by a client' '$IO_ROOT/anycastd.log'"

echo "# $SECONDS s"

# 5. 6,000 unknown names: errors, not 6,000 lines.
lines0=$(wc -l <"$IO_ROOT/anycastd.log")
client unknown "$IO_ROOT/anycastd.sock" 6000 >"$IO_ROOT/unknown.out"
lines1=$(wc -l <"$IO_ROOT/anycastd.log")
echo "# unknown names: $(cat "$IO_ROOT/unknown.out"); log lines added: $((lines1 - lines0))"
check "6,000 unknown names: 6,000 errors" grep -q "errors=6000 ok=0 other=0" "$IO_ROOT/unknown.out"
check "6,000 unknown names: fewer than 10 log lines ($((lines1 - lines0)))" [ $((lines1 - lines0)) -lt 10 ]
check "no 'undrained' line for an unknown name" sh -c "kill -0 $pid && ! grep -q 'nosuch.*undrained' '$IO_ROOT/anycastd.log'"

echo "# $SECONDS s"

# 6. The refused connections were logged rate-limited, with a summary line.
refused=$(grep "^warning: metrics .*refused a connection" "$IO_ROOT/anycastd.log" | grep -vc suppressed)
check "refused scrapers: at most 10 lines per 10 s ($refused lines for about 1,036 refused)" [ "$refused" -le 20 ]
check "a 'more lines like this suppressed' line follows" io_wait 15 grep -q "more lines like this suppressed" "$IO_ROOT/anycastd.log"
check "the route is still at BIRD at the end" has_route
check "the agent is still running" kill -0 "$pid"

echo "# $SECONDS s in all"
[ "$failed" = 0 ] || { echo "# anycastd log (last 40 lines):"; tail -40 "$IO_ROOT/anycastd.log" | sed 's/^/#   /'; }
echo "1..$n"
echo "harden-clients: $passed passed, $failed failed"
[ "$failed" = 0 ]
