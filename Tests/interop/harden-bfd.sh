#!/usr/bin/env bash
# Issue 14's BFD attacks, against anycastd's BFD speaker (bfd-probe) with BIRD as the router, in two
# namespaces joined by a veth (10.77.N.1 router, 10.77.N.2 speaker), 100 ms × 3, Meticulous Keyed SHA1
# on both sides. Checks: the authenticated session comes Up at both ends; an unprivileged user can bind
# neither the speaker's address:3784 nor the wildcard (bug 8); a flood of TTL-64 Control packets from the
# router's address leaves the session Up, with no Down at either end and none of them read by the
# speaker (the kernel filter drops them, bug 9); spoofed unauthenticated AdminDowns with TTL 255, the
# router's address and the right discriminators are dropped and the session stays Up; a Poll flood at a
# probe without authentication is answered by at most one Final per interval, not one per Poll; Keyed
# SHA1 comes Up with BIRD as well.
# Usage: sudo flock /tmp/anycastd-lab.lock Tests/interop/harden-bfd.sh [--probe PATH] [--keep]
# Prints TAP lines, the measured figures, and `harden-bfd: N passed, N failed`; exits 1 on any failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
IO_TAG=harden-bfd

PROBE=""
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
    --probe) PROBE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--probe PATH] [--keep]" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" = 0 ] || { echo "harden-bfd: needs root"; echo "harden-bfd: 0 passed, 1 failed"; exit 1; }
for tool in bird birdc ip setpriv /usr/bin/python3; do
    command -v $tool >/dev/null || io_die "$tool is missing (apt-get install bird2 iproute2 util-linux python3)"
done
if [ -z "$PROBE" ]; then
    (cd "$REPO" && swift build --product bfd-probe >/dev/null 2>&1) ||
        io_die "swift build --product bfd-probe failed (run it by hand to see why)"
    PROBE="$(cd "$REPO" && swift build --show-bin-path)/bfd-probe"
fi
[ -x "$PROBE" ] || io_die "no bfd-probe at $PROBE"
io_init
if [ $KEEP = 0 ]; then trap io_cleanup EXIT; else trap 'io_log "kept $IO_ROOT"' EXIT; fi

N=214
io_lab hbfd $N
RNS=$(io_rns hbfd) SNS=$(io_sns hbfd) RIF=$(io_rif hbfd $N)
ROUTER=$(io_raddr4 $N) SPEAKER=$(io_saddr4 $N 2)
KEY="hbfd-Key-14"
now_ms() { date +%s%3N; }
wait_for() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -gt $deadline ] && return 1
        sleep 0.02
    done
}

BDIR=$IO_ROOT/bird
mkdir -p "$BDIR"
cat >"$BDIR/bird.conf" <<CONF
router id $ROUTER;
log "$BDIR/bird.log" all;
protocol device { scan time 10; }
protocol bfd {
  interface "$RIF" {
    interval 100 ms; multiplier 3;
    authentication meticulous keyed sha1;
    password "$KEY" { id 1; };
  };
  neighbor $SPEAKER dev "$RIF" local $ROUTER;
}
CONF
ip netns exec "$RNS" bird -c "$BDIR/bird.conf" -s "$BDIR/bird.ctl" -P "$BDIR/bird.pid" ||
    io_die "bird failed to start (see $BDIR/bird.conf)"
wait_for 5 test -S "$BDIR/bird.ctl" -a -s "$BDIR/bird.pid" || io_die "bird did not come up"
bird_state() { birdc -s "$BDIR/bird.ctl" show bfd sessions | awk -v a="$SPEAKER" '$1 == a { print $3 }'; }

PDIR=$IO_ROOT/probe
mkdir -p "$PDIR"
printf '%s\n' "$KEY" >"$PDIR/key"
mkfifo "$PDIR/ctl"
ip netns exec "$SNS" "$PROBE" --peer "$ROUTER" --local "$SPEAKER" --tx-ms 100 --rx-ms 100 --multiplier 3 \
    --auth meticulous-keyed-sha1 --key-id 1 --key-file "$PDIR/key" <"$PDIR/ctl" >"$PDIR/out" 2>"$PDIR/log" &
io_track_pid $!
exec {PROBE_FD}>"$PDIR/ctl"
probe() { echo "$*" >&"$PROBE_FD"; }
probe_state() { awk '$1 == "state" { s = $3 } END { print s }' "$PDIR/out"; }
probe_status() {
    local before
    before=$(grep -c '^status' "$PDIR/out")
    probe status
    wait_for 3 sh -c "[ \$(grep -c '^status' '$PDIR/out') -gt $before ]"
    grep '^status' "$PDIR/out" | tail -n 1
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
downs() { grep -c '^state Up Down\|^state Up AdminDown' "$PDIR/out"; }
both_up() { [ "$(probe_state)" = Up ] && [ "$(bird_state)" = Up ]; }

# 1. The authenticated session.
check "Meticulous Keyed SHA1 session Up at both ends" wait_for 10 both_up
io_log "BIRD: $(birdc -s "$BDIR/bird.ctl" show bfd sessions | tail -n 1)"

# 2. Bug 8: nobody else binds the BFD port.
for target in "$SPEAKER" 0.0.0.0; do
    for option in SO_REUSEADDR SO_REUSEPORT; do
        ip netns exec "$SNS" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$target" "$option" <<'PY'
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, getattr(socket, sys.argv[2]), 1)
try:
    s.bind((sys.argv[1], 3784))
except OSError as e:
    sys.exit(0 if e.errno == errno.EADDRINUSE else 2)
sys.exit(1)
PY
        check "user 65534 cannot bind $target:3784 with $option (exit $?, 0 = EADDRINUSE)" test $? = 0
    done
done

# 3. Bug 9: a TTL-64 flood from the router's address, Down packets to the speaker, for 5 s.
status=$(probe_status)
wrong_before=$(field wrong-ttl <<<"$status") received_before=$(field received <<<"$status")
downs_before=$(downs)
bird_samples=0 bird_not_up=0
ip netns exec "$RNS" /usr/bin/python3 - "$SPEAKER" >"$IO_ROOT/flood.out" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
packet = struct.pack("!BBBBIIIII", 0x20, 0x40, 3, 24, 7, 0, 1000000, 1000000, 0)
sent, end = 0, time.monotonic() + 5
while time.monotonic() < end:
    for _ in range(1000):
        try:
            s.sendto(packet, (sys.argv[1], 3784))
            sent += 1
        except OSError:
            pass
print(sent)
PY
FLOOD=$!
io_track_pid $FLOOD
while kill -0 $FLOOD 2>/dev/null; do
    bird_samples=$((bird_samples + 1))
    [ "$(bird_state)" = Up ] || bird_not_up=$((bird_not_up + 1))
    sleep 0.1
done
wait $FLOOD
sent=$(cat "$IO_ROOT/flood.out")
status=$(probe_status)
wrong_after=$(field wrong-ttl <<<"$status")
io_log "flood: $sent TTL-64 packets in 5 s; BIRD not Up in $bird_not_up of $bird_samples samples; $status"
check "the flood was sent (${sent:-0} packets)" test "${sent:-0}" -gt 10000
check "no Down at the speaker during the TTL-64 flood ($(($(downs) - downs_before)))" test "$(downs)" = "$downs_before"
check "BIRD saw the session Up in all $bird_samples samples during the flood" test $bird_not_up = 0
check "no TTL-64 packet reached the speaker's thread (wrong-ttl $wrong_before -> $wrong_after)" \
    test "$wrong_after" = "$wrong_before"
check "the session is Up after the flood" both_up

# 4. Spoofed AdminDown, TTL 255, the router's address and discriminators, no authentication: 5 a second
# for 3 s. The speaker drops them (counted as discarded by the session) and stays Up.
local_discr=$(field local-discr <<<"$status") remote_discr=$(field remote-discr <<<"$status")
discarded_before=$(field discarded <<<"$status")
downs_before=$(downs)
ip netns exec "$RNS" /usr/bin/python3 - "$SPEAKER" "$remote_discr" "$local_discr" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
# diagnostic 7 (administratively down), state AdminDown (0), multiplier 3, length 24
packet = struct.pack("!BBBBIIIII", 0x27, 0x00, 3, 24, int(sys.argv[2]), int(sys.argv[3]), 100000, 100000, 0)
for _ in range(15):
    s.sendto(packet, (sys.argv[1], 3784))
    time.sleep(0.2)
PY
status=$(probe_status)
discarded_after=$(field discarded <<<"$status")
io_log "spoof: $status"
check "15 spoofed AdminDowns discarded by the session (discarded $discarded_before -> $discarded_after)" \
    test "$discarded_after" -ge $((discarded_before + 15))
check "no Down at the speaker from spoofed AdminDowns" test "$(downs)" = "$downs_before"
check "the session is Up at both ends after the spoofing" both_up

# 5. A Poll flood (TTL 255, the router's address, no authentication) at a second probe without
# authentication: it answers at most one Final per interval (1 s while not Up, RFC 5880 §6.8.7), not one
# per Poll. Its sent counter and CPU time over 3 s are the figures.
QDIR=$IO_ROOT/probe-noauth
mkdir -p "$QDIR"
mkfifo "$QDIR/ctl"
ip netns exec "$SNS" "$PROBE" --peer "$ROUTER" --local "$(io_saddr4 $N 3)" --tx-ms 100 --rx-ms 100 \
    --multiplier 3 <"$QDIR/ctl" >"$QDIR/out" 2>"$QDIR/log" &
QPID=$!
io_track_pid $QPID
exec {QFD}>"$QDIR/ctl"
qstatus() {
    local before
    before=$(grep -c '^status' "$QDIR/out")
    echo status >&"$QFD"
    wait_for 3 sh -c "[ \$(grep -c '^status' '$QDIR/out') -gt $before ]"
    grep '^status' "$QDIR/out" | tail -n 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# The probe may still be starting: ask until it reports its discriminator.
status=''
for _ in $(seq 10); do
    status=$(qstatus)
    [ -n "$(field local-discr <<<"$status")" ] && break
done
qdiscr=$(field local-discr <<<"$status") sent_before=$(field sent <<<"$status") ticks_before=$(cpu_ticks $QPID)
ip netns exec "$RNS" /usr/bin/python3 - "$(io_saddr4 $N 3)" "$qdiscr" >"$IO_ROOT/polls.out" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
# state Up with P, multiplier 3, length 24, my discriminator 7, your discriminator the probe's
packet = struct.pack("!BBBBIIIII", 0x20, 0xE0, 3, 24, 7, int(sys.argv[2]), 100000, 100000, 0)
sent, end = 0, time.monotonic() + 3
while time.monotonic() < end:
    for _ in range(1000):
        try:
            s.sendto(packet, (sys.argv[1], 3784))
            sent += 1
        except OSError:
            pass
print(sent)
PY
polls=$(cat "$IO_ROOT/polls.out")
status=$(qstatus)
answers=$(($(field sent <<<"$status") - sent_before))
cpu_ms=$((($(cpu_ticks $QPID) - ticks_before) * 1000 / $(getconf CLK_TCK)))
io_log "poll flood: $polls Polls in 3 s, $answers packets sent back, probe CPU $cpu_ms ms; $status"
check "the Poll flood was sent ($polls Polls)" test "${polls:-0}" -gt 10000
check "at most 10 packets answer $polls Polls in 3 s (sent $answers)" test "$answers" -le 10
echo stop >&"$QFD"

probe stop
wait_for 5 grep -q '^stopped' "$PDIR/out"
check "the probe's authenticated AdminDown takes BIRD's session Down" wait_for 5 sh -c "[ \"\$(birdc -s '$BDIR/bird.ctl' show bfd sessions | awk '\$1 == \"$SPEAKER\" { print \$3 }')\" = Down ]"

# 6. Keyed SHA1 (the sequence number may repeat) with BIRD too: reconfigure BIRD, a new probe.
sed -i 's/authentication meticulous keyed sha1;/authentication keyed sha1;/' "$BDIR/bird.conf"
birdc -s "$BDIR/bird.ctl" configure >/dev/null
KDIR=$IO_ROOT/probe-keyed
mkdir -p "$KDIR"
mkfifo "$KDIR/ctl"
ip netns exec "$SNS" "$PROBE" --peer "$ROUTER" --local "$SPEAKER" --tx-ms 100 --rx-ms 100 --multiplier 3 \
    --auth keyed-sha1 --key-id 1 --key-file "$PDIR/key" <"$KDIR/ctl" >"$KDIR/out" 2>"$KDIR/log" &
io_track_pid $!
exec {KFD}>"$KDIR/ctl"
keyed_up() {
    [ "$(awk '$1 == "state" { s = $3 } END { print s }' "$KDIR/out")" = Up ] && [ "$(bird_state)" = Up ]
}
check "Keyed SHA1 session Up at both ends" wait_for 10 keyed_up
echo stop >&"$KFD"

io_log "figures: TTL-64 flood ${sent:-0} packets / 5 s, BIRD Up in $((bird_samples - bird_not_up))/$bird_samples samples;" \
    "Poll flood ${polls:-0} / 3 s answered by ${answers:-?} packets, ${cpu_ms:-?} ms CPU"
echo "harden-bfd: $passed passed, $failed failed"
[ $failed = 0 ]
