#!/usr/bin/env bash
# BFD interop: anycastd's BFD speaker (through the bfd-probe test executable) against BIRD's BFD, in two
# network namespaces joined by a veth (10.77.N.1 router, 10.77.N.2 speaker, and the same over IPv6 with a
# second probe), 100 ms × 3 on both sides.
# Checks: the session comes Up at both ends; when one side's egress is silently dropped
# (`tc qdisc replace dev IF root pfifo limit 0`, carrier stays up) both ends see Down within about
# multiplier × interval, in each direction, and come Up again when the qdisc goes; the probe's AdminDown
# takes BIRD's session down; a packet with TTL 64 is dropped in the kernel (RFC 5881 §5); a timer change while Up
# reaches BIRD (Poll/Final). Over IPv6: Up at both ends, hop limit 64 dropped, stop seen by BIRD.
# Usage: sudo Tests/interop/bfd.sh [--probe PATH] [--keep]   (needs root; builds bfd-probe if no --probe)
# Prints TAP lines, the measured figures, and `bfd: N passed, N failed`; exits 1 on any failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
IO_TAG=bfd

PROBE=""
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
    --probe) PROBE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--probe PATH] [--keep]" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" = 0 ] || { echo "bfd: needs root (network namespaces)"; echo "bfd: 0 passed, 1 failed"; exit 1; }
for tool in bird birdc ip tc; do command -v $tool >/dev/null || io_die "$tool is missing (apt-get install bird2 iproute2)"; done
if [ -z "$PROBE" ]; then
    (cd "$REPO" && swift build --product bfd-probe >/dev/null 2>&1) ||
        io_die "swift build --product bfd-probe failed (run it by hand to see why)"
    PROBE="$(cd "$REPO" && swift build --show-bin-path)/bfd-probe"
fi
[ -x "$PROBE" ] || io_die "no bfd-probe at $PROBE"
io_init
if [ $KEEP = 0 ]; then trap io_cleanup EXIT; else trap 'io_log "kept $IO_ROOT"' EXIT; fi

N=201
io_lab bfd $N
RNS=$(io_rns bfd) SNS=$(io_sns bfd) RIF=$(io_rif bfd $N) SIF=$(io_sif bfd $N)
ROUTER=$(io_raddr4 $N) SPEAKER=$(io_saddr4 $N 2)
ROUTER6=$(io_raddr6 $N) SPEAKER6=$(io_saddr6 $N 2)
INTERVAL_MS=100 MULT=3
# Detection is multiplier × interval after the last packet; allow one more interval for when the cut falls
# between packets, and scheduling on a busy 2-core machine.
LIMIT_MS=$(((MULT + 2) * INTERVAL_MS))

now_ms() { date +%s%3N; }

# BIRD with one BFD neighbor: the speaker.
BDIR=$IO_ROOT/bird
mkdir -p "$BDIR"
cat >"$BDIR/bird.conf" <<CONF
router id $ROUTER;
log "$BDIR/bird.log" all;
protocol device { scan time 10; }
protocol bfd {
  interface "$RIF" { interval $INTERVAL_MS ms; multiplier $MULT; };
  neighbor $SPEAKER dev "$RIF" local $ROUTER;
  neighbor $SPEAKER6 dev "$RIF" local $ROUTER6;
}
CONF
ip netns exec "$RNS" bird -c "$BDIR/bird.conf" -s "$BDIR/bird.ctl" -P "$BDIR/bird.pid" ||
    io_die "bird failed to start (see $BDIR/bird.conf)"
for _ in $(seq 50); do [ -S "$BDIR/bird.ctl" ] && [ -s "$BDIR/bird.pid" ] && break; sleep 0.1; done
bird_sessions() { birdc -s "$BDIR/bird.ctl" show bfd sessions; }
bird_state() { bird_sessions | awk -v a="${1:-$SPEAKER}" '$1 == a { print $3 }'; }

# probe_start DIR PEER LOCAL: a probe with its commands on a FIFO (held open here) and its lines in DIR/out.
probe_start() {
    mkdir -p "$1"
    mkfifo "$1/ctl"
    ip netns exec "$SNS" "$PROBE" --peer "$2" --local "$3" --tx-ms $INTERVAL_MS --rx-ms $INTERVAL_MS \
        --multiplier $MULT <"$1/ctl" >"$1/out" 2>"$1/log" &
    io_track_pid $!
    local fd
    exec {fd}>"$1/ctl"
}
PDIR4=$IO_ROOT/probe4 PDIR6=$IO_ROOT/probe6
probe_start "$PDIR4" "$ROUTER" "$SPEAKER"
probe_start "$PDIR6" "$ROUTER6" "$SPEAKER6"
# The helpers below talk to the probe in $PDIR: the IPv4 one unless said otherwise.
PDIR=$PDIR4
probe() { echo "$*" >"$PDIR/ctl"; }
probe_state() { awk '$1 == "state" { s = $3 } END { print s }' "$PDIR/out"; }
# probe_change_at STATE AFTER_MS: the time of the first change to STATE at or after AFTER_MS.
probe_change_at() {
    awk -v s="$1" -v t="$2" '$1 == "state" && $3 == s { sub("at=", "", $5); if ($5 + 0 >= t) { print $5; exit } }' \
        "$PDIR/out"
}
probe_status() { # prints the newest status line after asking for one
    local before
    before=$(grep -c '^status' "$PDIR/out")
    probe status
    for _ in $(seq 50); do
        [ "$(grep -c '^status' "$PDIR/out")" -gt "$before" ] && break
        sleep 0.05
    done
    grep '^status' "$PDIR/out" | tail -n 1
}
# wait_for SECONDS COMMAND...: polls every 20 ms.
wait_for() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -gt $deadline ] && return 1
        sleep 0.02
    done
}
probe_down_since() { [ -n "$(probe_change_at Down "$1")" ]; }
both_up() { [ "$(probe_state)" = Up ] && [ "$(bird_state)" = Up ]; }
bird_is() { [ "$(bird_state)" = "$1" ]; }
bird_timeout() { bird_sessions | awk -v a="${1:-$SPEAKER}" '$1 == a { print $NF }'; }
# fast_timers: the probe sends every INTERVAL_MS and detects in MULT × INTERVAL_MS, and so does BIRD.
fast_timers() {
    probe_status | grep -q " tx=$INTERVAL_MS detect=$((MULT * INTERVAL_MS)) " &&
        [ "$(bird_timeout)" = "$(awk -v t=$((MULT * INTERVAL_MS)) 'BEGIN { printf "%.3f", t / 1000 }')" ]
}
probe_sent() { probe_status | sed -n 's/.* sent=\([0-9]*\).*/\1/p'; }
# sent_beyond N: the probe has sent more than N packets.
sent_beyond() { [ "$(probe_sent)" -gt "$1" ]; }
# counter NAME: that receive counter from the probe's status line.
counter() { probe_status | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
# counter_beyond NAME N: the counter is above N.
counter_beyond() { [ "$(counter "$1")" -gt "$2" ]; }
# bird_change_at STATE: polls BIRD until STATE, prints the time seen (birdc is the resolution, ~10 ms).
bird_change_at() {
    wait_for 5 bird_is "$1" && now_ms
}

# 1. Handshake, both families.
check "IPv4 session Up at both ends" wait_for 10 both_up
PDIR=$PDIR6
both_up6() { [ "$(probe_state)" = Up ] && [ "$(bird_state "$SPEAKER6")" = Up ]; }
check "IPv6 session Up at both ends" wait_for 10 both_up6
io_log "probe (IPv6): $(probe_status)"
PDIR=$PDIR4
io_log "BIRD: $(bird_sessions | tail -n +2 | tr -s ' ' | tr '\n' '|')"
io_log "probe (IPv4): $(probe_status)"

# cut SIDE: drop all egress of the router's (r) or the speaker's (s) veth end; heal SIDE undoes it.
cut() { if [ "$1" = r ]; then ip netns exec "$RNS" tc qdisc replace dev "$RIF" root pfifo limit 0; else ip netns exec "$SNS" tc qdisc replace dev "$SIF" root pfifo limit 0; fi; }
heal() { if [ "$1" = r ]; then ip netns exec "$RNS" tc qdisc del dev "$RIF" root; else ip netns exec "$SNS" tc qdisc del dev "$SIF" root; fi; }

figures=""
for side in r s; do
    case $side in
    r) what="BIRD's packets lost: the probe detects, BIRD hears its Down" ;;
    s) what="the probe's packets lost: BIRD detects, the probe hears its Down" ;;
    esac
    wait_for 10 both_up || { not_ok "$what (not Up before the cut)"; continue; }
    # Up starts at the slow rate (RFC 5880 §6.8.3): cut only once both ends run the fast timers.
    wait_for 10 fast_timers || { not_ok "$what (fast timers not in use: $(probe_status), BIRD $(bird_timeout))"; continue; }
    t0=$(now_ms)
    cut $side
    bird_at=$(bird_change_at Down)
    wait_for 5 probe_down_since "$t0"
    probe_at=$(probe_change_at Down "$t0")
    if [ -n "$probe_at" ] && [ -n "$bird_at" ]; then
        p=$((probe_at - t0)) b=$((bird_at - t0))
        figures="$figures cut-$side: probe ${p} ms, BIRD ${b} ms;"
        io_log "cut $side: probe Down after $p ms, BIRD Down after $b ms (limit $LIMIT_MS ms)"
        check "$what within $LIMIT_MS ms (probe $p ms, BIRD $b ms)" test $p -le $LIMIT_MS -a $b -le $LIMIT_MS
    else
        not_ok "$what (probe Down at '${probe_at}', BIRD Down at '${bird_at}')"
    fi
    diag=$(awk -v t="$t0" '$1 == "state" && $3 == "Down" { sub("at=", "", $5); if ($5 + 0 >= t) { print $4; exit } }' "$PDIR/out")
    if [ $side = r ]; then want=1; else want=3; fi
    check "probe's diagnostic after cut-$side is $want (got '$diag')" test "$diag" = $want
    heal $side
    check "Up again at both ends after the cut-$side heals" wait_for 10 both_up
done

# 3. AdminDown from the probe: BIRD's session goes down and stays down until admin-up.
probe admin-down
check "probe AdminDown takes BIRD's session Down" wait_for 5 bird_is Down
# Two more AdminDown packets (one a second while not Up) reach BIRD; it must still be Down after them.
sent=$(probe_sent)
check "the probe sends AdminDown packets on" wait_for 5 sent_beyond $((sent + 1))
check "BIRD stays Down while the probe is AdminDown" bird_is Down
check "probe reports AdminDown" test "$(probe_state)" = AdminDown
probe admin-up
check "Up again at both ends after admin-up" wait_for 10 both_up

# 4. A Control packet from one hop further (TTL 64) is dropped before any session sees it.
# Behind it, from the same socket with TTL 255, goes one malformed datagram: once the probe has counted
# that one, the TTL 64 packet before it has been dropped or counted too.
before=$(counter wrong-ttl) malformed=$(counter malformed)
ip netns exec "$RNS" /usr/bin/python3 - "$SPEAKER" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
# version 1, state Down, multiplier 3, length 24, my discriminator 7, your 0, 1 s intervals
s.sendto(struct.pack("!BBBBIIIII", 0x20, 0x40, 3, 24, 7, 0, 1000000, 1000000, 0), (sys.argv[1], 3784))
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
s.sendto(b"\x20", (sys.argv[1], 3784))
PY
check "the TTL 255 marker behind it is counted as malformed" wait_for 5 counter_beyond malformed "$malformed"
after=$(counter wrong-ttl)
# The kernel filter drops it before the speaker's thread reads it: wrong-ttl (counted after recvmsg) stays.
check "a packet with TTL 64 is dropped in the kernel (wrong-ttl $before -> $after)" test "${after:-1}" -eq "${before:-0}"
check "the session stays Up after the TTL 64 packet" both_up
PDIR=$PDIR6
before=$(counter wrong-ttl) malformed=$(counter malformed)
ip netns exec "$RNS" /usr/bin/python3 - "$SPEAKER6" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 64)
s.sendto(struct.pack("!BBBBIIIII", 0x20, 0x40, 3, 24, 7, 0, 1000000, 1000000, 0), (sys.argv[1], 3784))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
s.sendto(b"\x20", (sys.argv[1], 3784))
PY
check "the hop limit 255 marker behind it is counted as malformed" wait_for 5 counter_beyond malformed "$malformed"
after=$(counter wrong-ttl)
check "an IPv6 packet with hop limit 64 is dropped in the kernel (wrong-ttl $before -> $after)" \
    test "${after:-1}" -eq "${before:-0}"
check "the IPv6 session is Up" wait_for 10 both_up6
PDIR=$PDIR4

# 5. A timer change while Up reaches BIRD through a Poll Sequence: BIRD's timeout becomes 3 × 300 ms.
probe timers 300 300 3
timeout_is() { [ "$(bird_timeout)" = "$1" ]; }
wait_for 5 timeout_is 0.900
check "BIRD's timeout follows the new timers (0.900 s, got $(bird_timeout))" timeout_is 0.900
check "still Up after the timer change" both_up
# A longer transmit interval is used only once the peer has answered the Poll with a Final.
tx_is_300() { probe_status | grep -q ' tx=300 '; }
wait_for 5 tx_is_300
check "BIRD answered the Poll: the probe now sends every 300 ms ($(probe_status))" tx_is_300

probe stop
wait_for 5 grep -q '^stopped' "$PDIR/out"
check "probe's stop (AdminDown) takes BIRD's session Down" wait_for 5 bird_is Down
PDIR=$PDIR6
probe stop
bird6_down() { [ "$(bird_state "$SPEAKER6")" = Down ]; }
check "IPv6 probe's stop takes BIRD's session Down" wait_for 5 bird6_down

io_log "figures:$figures"
echo "bfd: $passed passed, $failed failed"
[ $failed = 0 ]
