# Helpers for the system tests (Tests/system/t-*.sh): a fresh network namespace per test, the
# anycastd binary started and stopped in it, polling with measured waits, and TAP-style assertions
# that print what was expected and what was seen. Sourced by each test; runs on the lab's Debian
# kernel (Tests/system/run.sh boots it) or on any host whose kernel has the dummy link type.
# shellcheck shell=bash
# shellcheck disable=SC2034 # RUN_OUT, RUN_STATUS, STOP_STATUS, WAITED_MS are read by the tests
set -uo pipefail

SYS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ANYCASTD_BIN=${ANYCASTD_BIN:-.build/debug/anycastd}
[[ $ANYCASTD_BIN == /* ]] || ANYCASTD_BIN=$SYS_ROOT/$ANYCASTD_BIN
SYS_NAME=$(basename "$0" .sh)
SYS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/acd-sys-$SYS_NAME.XXXXXX")
# The daemon's periodic resync is set far away so that only event-driven repair can pass the tests.
read -r -a SYS_DAEMON_ARGS <<<"${ANYCASTD_SYSTEM_DAEMON_ARGS:---resync-interval 60}"

_sys_tests=0
_sys_failures=0
_sys_namespaces=()
_sys_daemon_pids=()
ANYCASTD_PID=''
ANYCASTD_LOG=$SYS_WORK/anycastd.log
WAITED_MS=0
LAST_MARK_US=0

# --- TAP output --------------------------------------------------------------------------------

# diag TEXT...: a TAP comment; multi-line text gets `#   ` on every line.
diag() {
    local text="$*"
    printf '#   %s\n' "${text//$'\n'/$'\n'#   }"
}

ok() {
    _sys_tests=$((_sys_tests + 1))
    printf 'ok %d - %s\n' "$_sys_tests" "$1"
}

# not_ok DESCRIPTION [DETAIL]
not_ok() {
    _sys_tests=$((_sys_tests + 1))
    _sys_failures=$((_sys_failures + 1))
    printf 'not ok %d - %s\n' "$_sys_tests" "$1"
    [[ -z ${2:-} ]] || diag "$2"
}

# assert_eq DESCRIPTION EXPECTED SEEN
assert_eq() {
    if [[ $3 == "$2" ]]; then
        ok "$1"
    else
        not_ok "$1" "expected: $2"$'\n'"seen:     $3"
    fi
}

# assert_match DESCRIPTION EXTENDED-REGEX SEEN (grep -E, any line of SEEN may match)
assert_match() {
    if grep -qE -- "$2" <<<"$3"; then
        ok "$1"
    else
        not_ok "$1" "expected to match: $2"$'\n'"seen: $3"
    fi
}

# assert_no_match DESCRIPTION EXTENDED-REGEX SEEN
assert_no_match() {
    if grep -qE -- "$2" <<<"$3"; then
        not_ok "$1" "expected no match for: $2"$'\n'"seen: $3"
    else
        ok "$1"
    fi
}

# assert_le DESCRIPTION LIMIT SEEN (integers)
assert_le() {
    if [[ $3 =~ ^-?[0-9]+$ ]] && (($3 <= $2)); then
        ok "$1"
    else
        not_ok "$1" "expected at most: $2"$'\n'"seen:             $3"
    fi
}

# assert_ok DESCRIPTION COMMAND...: the command succeeds (its output is shown if not).
assert_ok() {
    local desc=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if ((rc == 0)); then
        ok "$desc"
    else
        not_ok "$desc" "command failed with status $rc: $*"$'\n'"$out"
    fi
}

# assert_fails DESCRIPTION COMMAND...: the command fails.
assert_fails() {
    local desc=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if ((rc != 0)); then
        ok "$desc"
    else
        not_ok "$desc" "command succeeded but should have failed: $*"$'\n'"$out"
    fi
}

# sys_finish: prints the plan line and exits non-zero if any assertion failed. Tests end with it.
sys_finish() {
    printf '1..%d\n' "$_sys_tests"
    if ((_sys_failures > 0)); then
        printf '# %s: %d of %d failed\n' "$SYS_NAME" "$_sys_failures" "$_sys_tests"
        exit 1
    fi
    ((_sys_tests > 0)) || {
        echo "# $SYS_NAME: no assertion ran"
        exit 1
    }
    exit 0
}

# bail DESCRIPTION [DETAIL]: a prerequisite failed; report it and stop the test.
bail() {
    not_ok "$1" "${2:-}"
    sys_finish
}

# --- time --------------------------------------------------------------------------------------

# now_us: microseconds since the epoch, without forking; sets NOW_US.
now_us() { NOW_US=$((10#${EPOCHREALTIME/./})); }

# A FIFO nobody writes to: `read -t` on it sleeps without forking `sleep` (slow under TCG).
mkfifo "$SYS_WORK/.sleep"
exec {_sys_sleep_fd}<>"$SYS_WORK/.sleep"
sleep_ms() {
    local t
    printf -v t '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
    read -r -t "$t" -u "$_sys_sleep_fd" || true
}

# mark: remembers now (MARK_US), just before a change whose effect the next wait_until times.
MARK_US=''
mark() {
    now_us
    MARK_US=$NOW_US
    LAST_MARK_US=$NOW_US
}

# wait_until TIMEOUT_MS COMMAND...: runs COMMAND every 10 ms until it succeeds; sets WAITED_MS to
# the milliseconds until success (from `mark` if it was called just before, else from the call)
# and prints them. Returns 1 on timeout.
wait_until() {
    local timeout_ms=$1 start
    shift
    now_us
    start=${MARK_US:-$NOW_US}
    LAST_MARK_US=$start
    MARK_US=''
    while true; do
        if "$@" >/dev/null 2>&1; then
            now_us
            WAITED_MS=$(((NOW_US - start) / 1000))
            printf '# wait_until: %d ms: %s\n' "$WAITED_MS" "$*"
            return 0
        fi
        now_us
        if (((NOW_US - start) / 1000 >= timeout_ms)); then
            WAITED_MS=$(((NOW_US - start) / 1000))
            printf '# wait_until: gave up after %d ms: %s\n' "$WAITED_MS" "$*"
            return 1
        fi
        sleep_ms 10
    done
}

# --- namespaces --------------------------------------------------------------------------------

# netns_new: creates a fresh namespace acd-sys-NAME-PID (removed at exit) with lo up; sets NS.
netns_new() {
    NS="acd-sys-${SYS_NAME#t-}-$$-${#_sys_namespaces[@]}"
    ip netns add "$NS" || bail "create network namespace $NS" "ip netns add $NS failed (run as root)"
    _sys_namespaces+=("$NS")
    ip -n "$NS" link set lo up
}

# in_ns COMMAND...: runs COMMAND in the test's namespace.
in_ns() { ip netns exec "$NS" "$@"; }

# veth_new NAME: a veth pair NAME / NAME-p inside the namespace, both up (an uplink stand-in).
veth_new() {
    in_ns ip link add "$1" type veth peer name "$1-p" || bail "create veth $1" "ip link add $1 type veth failed"
    in_ns ip link set "$1" up
    in_ns ip link set "$1-p" up
}

# sysctl_ns IF KEY: net.ipv4.conf.IF.KEY as seen in the namespace.
sysctl_ns() { in_ns sysctl -n "net.ipv4.conf.$1.$2" 2>&1; }

# dummy_available: whether this kernel can create dummy links (it loads the module if needed).
require_dummy() {
    if ! in_ns ip link add acd-sys-probe type dummy 2>/dev/null; then
        bail "kernel has the dummy link type" "ip link add type dummy fails on $(uname -r); run the system tests through Tests/system/run.sh (kernel lab)"
    fi
    in_ns ip link del acd-sys-probe
}

# --- anycastd ----------------------------------------------------------------------------------

require_binary() {
    [[ -x $ANYCASTD_BIN ]] || bail "anycastd binary at $ANYCASTD_BIN" "not found or not executable: build it (swift build) or set ANYCASTD_BIN"
}

# write_config PATH PREFIX...: the minimal config (one service "dns" with PREFIXes, uplink veth-up,
# arp_ignore 1, arp_announce 2, rp_filter 2), written by rename as editors do.
write_config() {
    local path=$1 first=1 p list=''
    shift
    for p in "$@"; do
        ((first)) || list+=', '
        list+="\"$p\""
        first=0
    done
    write_file_atomic "$path" <<JSON
{
  "interface": {
    "name": "anycast0",
    "uplinks": ["veth-up"],
    "sysctl": {"arpIgnore": 1, "arpAnnounce": 2, "rpFilter": 2}
  },
  "services": [
    {"name": "dns", "prefixes": [$list]}
  ],
  "stateDirectory": "$SYS_WORK/state",
  "control": {"socket": "$SYS_WORK/anycastd.sock"}
}
JSON
}

# write_file_atomic PATH: stdin to PATH.tmp, then rename over PATH.
write_file_atomic() {
    cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

# anycastd_run ARG...: runs the binary once in the namespace; sets RUN_OUT (stdout+stderr) and
# RUN_STATUS. Killed after 60 s so that a hang is a failure, not a stuck suite.
anycastd_run() {
    RUN_STATUS=0
    RUN_OUT=$(in_ns timeout --kill-after=5 60 "$ANYCASTD_BIN" "$@" 2>&1) || RUN_STATUS=$?
}

# anycastd_start ARG...: starts `anycastd reconcile ARG... SYS_DAEMON_ARGS` in the background in
# the namespace, logging to ANYCASTD_LOG; sets ANYCASTD_PID.
anycastd_start() {
    # Not through in_ns: a backgrounded function is a subshell, and $! would be that shell, not
    # the daemon (ip netns exec execs the binary in place).
    ip netns exec "$NS" "$ANYCASTD_BIN" reconcile "$@" "${SYS_DAEMON_ARGS[@]}" >>"$ANYCASTD_LOG" 2>&1 &
    ANYCASTD_PID=$!
    _sys_daemon_pids+=("$ANYCASTD_PID")
    printf '# started: anycastd reconcile %s %s (pid %d)\n' "$*" "${SYS_DAEMON_ARGS[*]}" "$ANYCASTD_PID"
}

anycastd_running() { [[ -n $ANYCASTD_PID ]] && kill -0 "$ANYCASTD_PID" 2>/dev/null; }

# anycastd_stop: SIGTERM, wait (15 s, the drain delay comes first), then
# SIGKILL. Sets STOP_STATUS to the exit status (or "killed").
anycastd_stop() {
    local timeout_ms=15000
    STOP_STATUS=''
    [[ -n $ANYCASTD_PID ]] || return 0
    kill -TERM "$ANYCASTD_PID" 2>/dev/null
    if wait_until "$timeout_ms" _sys_exited "$ANYCASTD_PID"; then
        wait "$ANYCASTD_PID" 2>/dev/null
        STOP_STATUS=$?
    else
        kill -KILL "$ANYCASTD_PID" 2>/dev/null
        wait "$ANYCASTD_PID" 2>/dev/null
        STOP_STATUS=killed
    fi
    ANYCASTD_PID=''
}
_sys_exited() { ! kill -0 "$1" 2>/dev/null; }

# anycastd_log: the daemon's log so far, as TAP comments.
anycastd_log() {
    echo "# --- $ANYCASTD_LOG"
    sed 's/^/#   /' "$ANYCASTD_LOG" 2>/dev/null
}

# --- netlink event log ------------------------------------------------------------------------

# monitor_start: records link and address events of the namespace with timestamps (ip -ts monitor),
# so a repair can be timed by when the kernel announced it rather than by polling.
monitor_start() {
    TZ=UTC ip -n "$NS" -ts monitor link address >"$SYS_WORK/monitor.log" 2>&1 &
    _sys_monitor_pid=$!
    # ip must be listening before the first change: wait until it reports a throwaway link.
    local i
    for ((i = 0; i < 100; i++)); do
        in_ns ip link add acd-mon-ready type veth peer name acd-mon-ready-p 2>/dev/null
        in_ns ip link del acd-mon-ready 2>/dev/null
        wait_until 200 grep -q acd-mon-ready "$SYS_WORK/monitor.log" >/dev/null && return 0
    done
    bail "ip monitor records events" "no event in $SYS_WORK/monitor.log after 20 s"
}

# event_ms REGEX: milliseconds from MARK_US (kept by the last wait_until as LAST_MARK_US) to the
# first recorded event after it whose first line matches REGEX (grep -E); empty if none.
event_ms() {
    local sod_us=$((LAST_MARK_US % 86400000000))
    RE=$1 awk -v start="$sod_us" '
        /^\[[0-9-]+T[0-9:.]+\]/ {
            split(substr($1, 2, length($1) - 2), dt, "T")
            split(dt[2], t, ":")
            us = (t[1] * 3600 + t[2] * 60 + t[3]) * 1000000
            d = us - start
            if (d < -43200000000) d += 86400000000
            if (d >= 0 && $0 ~ ENVIRON["RE"]) { printf "%d", d / 1000; exit }
        }' "$SYS_WORK/monitor.log"
}

# Event regexes for event_ms (the first line of an `ip -ts monitor` event; deletions start with
# "Deleted" and match none of these).
ev_addr() { printf '^\\[[^]]*\\] [0-9]+: %s +inet6? %s ' "$1" "${2//./\\.}"; }
ev_up() { printf '^\\[[^]]*\\] [0-9]+: %s(@[^:]*)?: <([^>]*,)?UP[,>]' "$1"; }

# assert_repaired LIMIT_MS DESCRIPTION EVENT_REGEXES PROBE...: after a change made just after
# `mark`, waits (5 s at most) until PROBE succeeds and asserts the repair took at most LIMIT_MS.
# The time is that of the last of the events (EVENT_REGEXES, one per line) in the monitor log when
# all were seen, else the polled time; both are upper bounds, polling adds the cost of `ip` runs.
assert_repaired() {
    local limit=$1 desc=$2 regexes=$3 polled ev took worst='' re
    shift 3
    if ! wait_until 5000 "$@"; then
        not_ok "$desc within $limit ms" "not repaired after $WAITED_MS ms: $*"
        return
    fi
    polled=$WAITED_MS
    while IFS= read -r re; do
        ev=$(event_ms "$re")
        if [[ -z $ev ]]; then
            worst=''
            break
        fi
        [[ -n $worst ]] && ((worst >= ev)) || worst=$ev
    done <<<"$regexes"
    took=$polled
    [[ -n $worst ]] && ((worst < took)) && took=$worst
    assert_le "$desc within $limit ms (took $took ms: netlink event ${worst:-not seen}, polled $polled)" "$limit" "$took"
}

# --- link and address probes (succeed or fail, for wait_until) ---------------------------------
# They capture `ip` output before matching: `ip ... | grep -q` fails at random under pipefail when
# grep exits early and ip dies of SIGPIPE.

# has_addr IF PREFIX: PREFIX (e.g. 192.0.2.53/32) is on IF in the namespace.
has_addr() {
    local out
    out=$(in_ns ip -o addr show dev "$1" 2>/dev/null) || return 1
    [[ $out =~ inet6?\ ${2//./\\.}\  ]]
}
# lacks_addr IF PREFIX: IF exists and PREFIX is not on it.
lacks_addr() {
    local out
    out=$(in_ns ip -o addr show dev "$1" 2>/dev/null) || return 1
    [[ ! $out =~ inet6?\ ${2//./\\.}\  ]]
}
# link_up IF: IF exists with the UP flag.
link_up() {
    local out
    out=$(in_ns ip -o link show "$1" 2>/dev/null) || return 1
    [[ $out =~ \<([^>]*,)?UP(,[^>]*)?\> ]]
}
# link_has_all IF PREFIX...: IF exists, is up and has every PREFIX (one `ip` run: each costs
# tens of milliseconds under TCG).
link_has_all() {
    local ifname=$1 out p
    shift
    out=$(in_ns ip addr show dev "$ifname" 2>/dev/null) || return 1
    [[ ${out%%$'\n'*} =~ \<([^>]*,)?UP(,[^>]*)?\> ]] || return 1
    for p in "$@"; do
        [[ $out =~ inet6?\ ${p//./\\.}\  ]] || return 1
    done
}

# --- cleanup -----------------------------------------------------------------------------------

_sys_cleanup() {
    local pid ns
    for pid in "${_sys_daemon_pids[@]}" ${_sys_monitor_pid:-}; do
        {
            kill -KILL "$pid" && wait "$pid"
        } 2>/dev/null
    done
    for ns in "${_sys_namespaces[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    if ((_sys_failures > 0)) && [[ -s $ANYCASTD_LOG ]]; then
        anycastd_log
    fi
    [[ -n ${ANYCASTD_SYSTEM_KEEP:-} ]] || rm -rf "$SYS_WORK"
}
trap _sys_cleanup EXIT
