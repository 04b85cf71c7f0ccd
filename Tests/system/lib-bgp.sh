# The BGP lab for the system tests (t-bgp-*.sh) and `make demo`: a router namespace running BIRD and
# two anycast hosts, each with anycastd, a dnsmasq that says who answered, and a veth to the router;
# a client namespace behind the router. Sourced instead of lib.sh: it sources lib.sh (waits, clock,
# TAP helpers) itself.
#
#   c1 10.0.9.2 ── 10.0.9.1 ┐
#   h1 10.0.1.2 ── 10.0.1.1 ┼ r1: BIRD, AS 65000, ECMP into its kernel table
#   h2 10.0.2.2 ── 10.0.2.1 ┘
#   h1 (AS 65011) and h2 (AS 65012): anycast0 (dummy) with 192.0.2.53/32, a dnsmasq on it, anycastd
#   peering with r1
#
# Everything is stopped by pid and the namespaces are deleted at exit, on success or failure.
# shellcheck shell=bash
# shellcheck disable=SC2034 # WATCH_MS, STOP_MS, LOOP_* and friends are read by the tests

# shellcheck source=Tests/system/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BGP_PREFIX=192.0.2.53/32
BGP_ANYCAST=192.0.2.53
BGP_TOOL=$SYS_ROOT/Tests/system/bgplab.py
BGP_DIR=$SYS_WORK/bgp
# Test-friendly timers and the drain delay the tests measure against.
BGP_HOLD_S=9
BGP_DRAIN_MS=2000
BGP_CHECK_INTERVAL_MS=200
BGP_CHECK_RISE=2
BGP_CHECK_FALL=2
# The check's fastInterval in ms (empty: none, the check keeps its interval; the demo sets it).
BGP_CHECK_FAST_MS=${BGP_CHECK_FAST_MS:-}
# Extra arguments for every agent (ANYCASTD_SYSTEM_DAEMON_ARGS replaces them); the resync is far away
# so that only event-driven behaviour can pass.
# ANYCASTD_BGP_LAB_VETH=1 runs the lab on a kernel without dummy links (a developer's quick loop on the
# host): anycast0 is then a veth the lab creates and the agents use it as an `existing` interface. The
# system tests and the demo run with the default, a dummy link anycastd creates itself.
BGP_IFACE_KIND=dummy
[[ ${ANYCASTD_BGP_LAB_VETH:-0} == 1 ]] && BGP_IFACE_KIND=existing
read -r -a BGP_DAEMON_ARGS <<<"${ANYCASTD_SYSTEM_DAEMON_ARGS:---resync-interval 60}"

declare -A BGP_NS=(
    [r1]=acd-bgp-$$-r1 [h1]=acd-bgp-$$-h1 [h2]=acd-bgp-$$-h2 [c1]=acd-bgp-$$-c1
)
declare -A BGP_ASN=([h1]=65011 [h2]=65012)
declare -A BGP_NET=([h1]=10.0.1 [h2]=10.0.2 [c1]=10.0.9)
# Pids of what we started, by role ("anycastd-h1", "dnsmasq-h2", "loop", ...).
declare -A BGP_PIDS=()
_bgp_namespaces=()
_bgp_extra_pids=()
BGP_LOOP_OUT=''
BGP_WATCH_PID=''
BGP_WATCH_OUT=''
_bgp_seq=0

mkdir -p "$BGP_DIR"/{r1,h1,h2,c1}

# bgp_ns NODE: runs the rest of the command line in NODE's namespace.
bgp_ns() {
    local node=$1
    shift
    ip netns exec "${BGP_NS[$node]}" "$@"
}

# --- topology ----------------------------------------------------------------------------------

# bgp_topology: the four namespaces and three veth pairs, addressed and routed. Every process start
# costs a lot under the lab's emulated CPU, so each namespace is configured by one `ip -batch`.
# Returns 1 with a message on stderr when the kernel refuses something.
bgp_topology() {
    local node host
    {
        for node in r1 h1 h2 c1; do echo "netns add ${BGP_NS[$node]}"; done
        for host in h1 h2 c1; do
            echo "link add r1-$host netns ${BGP_NS[r1]} type veth peer name $host-r1 netns ${BGP_NS[$host]}"
        done
    } | ip -batch - || { echo "cannot create the lab's namespaces and veths (run as root)" >&2; return 1; }
    _bgp_namespaces+=("${BGP_NS[@]}")
    {
        echo "link set lo up"
        for host in h1 h2 c1; do
            echo "addr add ${BGP_NET[$host]}.1/24 dev r1-$host"
            echo "link set r1-$host up"
        done
    } | ip -n "${BGP_NS[r1]}" -batch - || return 1
    for host in h1 h2 c1; do
        {
            printf '%s\n' "link set lo up" "addr add ${BGP_NET[$host]}.2/24 dev $host-r1" "link set $host-r1 up" \
                "route add default via ${BGP_NET[$host]}.1"
            if [[ $BGP_IFACE_KIND == existing && $host != c1 ]]; then
                printf '%s\n' "link add anycast0 type veth peer name anycast0-peer" "link set anycast0-peer up" \
                    "link set anycast0 up"
            fi
        } | ip -n "${BGP_NS[$host]}" -batch - || return 1
    done
    # Loose reverse-path checks on the router: the anycast source of a reply may hash to either host.
    bgp_ns r1 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
}

# --- BIRD on r1 --------------------------------------------------------------------------------

# bird_start: writes r1's BIRD configuration and starts it (it forks; its pid comes from -P).
bird_start() {
    local dir=$BGP_DIR/r1
    cat >"$dir/bird.conf" <<EOF
log "$dir/bird.log" all;
router id 10.0.9.1;
protocol device { scan time 10; }
# ECMP over both hosts into r1's FIB, so the client reaches the anycast address through either.
protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }
# Host routes of the anycast range only; GRACEFUL_SHUTDOWN (RFC 8326) lowers the path's preference.
filter anycast_in {
    if net ~ [ 192.0.2.0/24{32,32} ] then {
        if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
        accept;
    }
    reject;
}
template bgp anycast_host {
    local as 65000;
    hold time $BGP_HOLD_S; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;
    ipv4 { import filter anycast_in; export none; };
}
protocol bgp h1 from anycast_host { neighbor ${BGP_NET[h1]}.2 as ${BGP_ASN[h1]}; }
protocol bgp h2 from anycast_host { neighbor ${BGP_NET[h2]}.2 as ${BGP_ASN[h2]}; }
EOF
    bgp_ns r1 bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" >"$dir/bird.out" 2>&1 \
        || { echo "bird did not start: $(cat "$dir/bird.out")" >&2; return 1; }
    wait_until 5000 birdc -s "$dir/bird.ctl" show status >/dev/null \
        || { echo "bird does not answer on $dir/bird.ctl" >&2; return 1; }
    BGP_PIDS[bird]=$(<"$dir/bird.pid")
}

# birdc_r1 ARG...: birdc on r1's control socket.
birdc_r1() { birdc -s "$BGP_DIR/r1/bird.ctl" "$@"; }

# bird_read [PREFIX]: BIRD's paths for PREFIX (default 192.0.2.53/32), parsed from
# `birdc show route for PREFIX all` into BIRD_PATHS: protocol → "localpref=N communities=(a,b)(c,d)|-".
# Parsed with bash alone: one process start per poll.
declare -A BIRD_PATHS=()
bird_read() {
    local out line proto='' lp='-' comm=''
    BIRD_PATHS=()
    out=$(birdc_r1 show route for "${1:-$BGP_PREFIX}" all 2>&1) || return 1
    while IFS= read -r line; do
        if [[ $line =~ unicast\ \[([^ ]+)\  ]]; then
            [[ -z $proto ]] || BIRD_PATHS[$proto]="localpref=$lp communities=${comm:--}"
            proto=${BASH_REMATCH[1]} lp='-' comm=''
        elif [[ $line =~ BGP\.local_pref:\ ([0-9]+) ]]; then
            lp=${BASH_REMATCH[1]}
        elif [[ $line =~ BGP\.community:\ (.*)$ ]]; then
            comm=${BASH_REMATCH[1]// /}
        fi
    done <<<"$out"
    [[ -z $proto ]] || BIRD_PATHS[$proto]="localpref=$lp communities=${comm:--}"
}

# bird_paths [PREFIX]: one line per path, `PROTOCOL localpref=N communities=...`; nothing when BIRD
# has no route for PREFIX.
bird_paths() {
    local p
    bird_read "${1:-}" || return 1
    for p in $(printf '%s\n' "${!BIRD_PATHS[@]}" | sort); do
        printf '%s %s\n' "$p" "${BIRD_PATHS[$p]}"
    done
}

# Probes for wait_until. bird_has_path HOST [PREFIX]: HOST's path is there without GRACEFUL_SHUTDOWN.
bird_has_path() { bird_read "${2:-}" && [[ -n ${BIRD_PATHS[$1]:-} && ${BIRD_PATHS[$1]} != *"(65535,0)"* ]]; }
bird_lacks_path() { bird_read "${2:-}" && [[ -z ${BIRD_PATHS[$1]:-} ]]; }
bird_graceful_path() {
    bird_read "${2:-}" && [[ ${BIRD_PATHS[$1]:-} == "localpref=0 "*"(65535,0)"* ]]
}
bird_both_paths() {
    bird_read "${1:-}" || return 1
    local h
    for h in h1 h2; do
        [[ -n ${BIRD_PATHS[$h]:-} && ${BIRD_PATHS[$h]} != *"(65535,0)"* ]] || return 1
    done
}

# bird_watch_begin CONDITION [PREFIX] [TIMEOUT_MS] [MARK...]: polls BIRD every 10 ms (bgplab.py
# watch-bird, straight on the control socket) until CONDITION holds: present:HOST (without
# GRACEFUL_SHUTDOWN), absent:HOST or graceful:HOST; the MARK conditions are timed on the way.
# Returns once the first poll is done, so the caller takes its start time after the watcher's start-up.
bird_watch_begin() {
    local until=$1 prefix=${2:-$BGP_PREFIX} timeout=${3:-15000} marks=() m
    shift 3 2>/dev/null || shift $#
    for m in "$@"; do marks+=(--mark "$m"); done
    _bgp_seq=$((_bgp_seq + 1))
    BGP_WATCH_OUT=$BGP_DIR/watch.$_bgp_seq
    python3 -S "$BGP_TOOL" watch-bird --socket "$BGP_DIR/r1/bird.ctl" --until "$until" --prefix "$prefix" \
        --timeout-ms "$timeout" "${marks[@]}" >"$BGP_WATCH_OUT" 2>&1 &
    BGP_WATCH_PID=$!
    _bgp_extra_pids+=("$BGP_WATCH_PID")
    wait_until 30000 grep -q '^ready ' "$BGP_WATCH_OUT" >/dev/null \
        || { echo "watch-bird did not start: $(cat "$BGP_WATCH_OUT")" >&2; return 1; }
}

# bird_watch_end START_US: waits for the watcher; sets WATCH_MS to the milliseconds from START_US to
# the first poll that saw the condition, WATCH_MARK[COND] likewise for each mark seen, and WATCH_LINE
# to its last line. Returns 1 if the condition never held.
declare -A WATCH_MARK=()
bird_watch_end() {
    local start=$1 rc=0 line kind cond t
    wait "$BGP_WATCH_PID" || rc=$?
    WATCH_MARK=()
    WATCH_MS=-1
    while read -r kind cond t _; do
        [[ $kind == mark && $t =~ ^[0-9]+$ ]] && WATCH_MARK[$cond]=$(((t - start) / 1000))
    done <"$BGP_WATCH_OUT"
    line=$(tail -n 1 "$BGP_WATCH_OUT")
    WATCH_LINE=$line
    read -r kind t _ <<<"$line"
    if [[ $kind == met && $t =~ ^[0-9]+$ ]]; then
        WATCH_MS=$(((t - start) / 1000))
        return 0
    fi
    ((rc != 0)) || rc=1
    return "$rc"
}

# bird_watch_log: what the watcher saw, as TAP comments.
bird_watch_log() { sed 's/^/#   watch: /' "$BGP_WATCH_OUT"; }

# bird_record_start: records BIRD's paths for 192.0.2.53/32 (polled every 10 ms) on every change until
# the lab is torn down, in BGP_RECORD as `ready|change WALL_US PATHS` lines. One process for a whole
# session saves a start-up per measurement (seconds each in the lab VM); bird_record_wait reads it.
bird_record_start() {
    BGP_RECORD=$BGP_DIR/bird-record
    python3 -S "$BGP_TOOL" watch-bird --socket "$BGP_DIR/r1/bird.ctl" --until never: --timeout-ms 86400000 \
        >"$BGP_RECORD" 2>&1 &
    _bgp_extra_pids+=("$!")
    wait_until 30000 grep -q '^ready ' "$BGP_RECORD" >/dev/null \
        || { echo "watch-bird did not start: $(cat "$BGP_RECORD")" >&2; return 1; }
}

# _bird_summary_holds CONDITION PATHS: CONDITION (present:H, absent:H, graceful:H) holds for PATHS as
# bgplab.py prints them (H:LOCALPREF:COMMUNITIES ... or none).
_bird_summary_holds() {
    local kind=${1%%:*} host=${1#*:} tok='' w
    for w in $2; do [[ $w == "$host:"* ]] && tok=$w; done
    case $kind in
    present) [[ -n $tok && $tok != *"(65535,0)"* ]] ;;
    absent) [[ -z $tok ]] ;;
    graceful) [[ $tok == "$host:0:"*"(65535,0)"* ]] ;;
    *) return 1 ;;
    esac
}

# bird_record_find CONDITION START_US: whether the record shows CONDITION at START_US or later; sets
# WATCH_MS to when (0: it already held at START_US).
bird_record_find() {
    local kind t rest state=none checked=0
    while read -r kind t rest; do
        [[ $kind == ready || $kind == change ]] || continue
        if ((t <= $2)); then
            state=$rest
            continue
        fi
        if ((!checked)); then
            checked=1
            _bird_summary_holds "$1" "$state" && { WATCH_MS=0; return 0; }
        fi
        _bird_summary_holds "$1" "$rest" && { WATCH_MS=$(((t - $2) / 1000)); return 0; }
    done <"$BGP_RECORD"
    ((checked)) || ! _bird_summary_holds "$1" "$state" || { WATCH_MS=0; return 0; }
    return 1
}

# bird_record_wait CONDITION START_US TIMEOUT_MS: waits until the record shows CONDITION (see
# bird_record_find); WATCH_MS is then measured from START_US. Returns 1 on timeout.
bird_record_wait() {
    local deadline=$((${EPOCHREALTIME/./} + $3 * 1000))
    WATCH_MS=-1
    until bird_record_find "$1" "$2"; do
        ((${EPOCHREALTIME/./} < deadline)) || return 1
        sleep_ms 20
    done
}

# bird_record_since START_US: the record's changes after START_US, as `+MS PATHS` lines.
bird_record_since() {
    local kind t rest
    while read -r kind t rest; do
        [[ $kind == change ]] && ((t > $1)) && printf '+%d ms  %s\n' $(((t - $1) / 1000)) "$rest"
    done <"$BGP_RECORD"
}

# bgp_loop_window FROM_US TO_US: counts the running query loop's queries sent in [FROM_US, TO_US)
# into WIN_SENT, WIN_ANSWERED, WIN_LOST, WIN_H1, WIN_H2. Queries still unanswered are not counted:
# call it at least the loop's timeout (1 s) after TO_US for a complete count.
bgp_loop_window() {
    local counts
    counts=$(awk -v a="$1" -v b="$2" '!/^#/ && $2 >= a && $2 < b { n++; if ($3 ~ /^served-by-/) ok++; else l++
        if ($3 == "served-by-h1") h1++; if ($3 == "served-by-h2") h2++ }
        END { printf "%d %d %d %d %d", n, ok, l, h1, h2 }' "$BGP_LOOP_OUT")
    read -r WIN_SENT WIN_ANSWERED WIN_LOST WIN_H1 WIN_H2 <<<"$counts"
}

# --- the anycast hosts -------------------------------------------------------------------------

# bgp_write_config HOST [SERVICE-JSON...]: HOST's anycastd configuration (rename-written), with the
# dns service and any extra services given as JSON objects.
bgp_write_config() {
    local host=$1 dir=$BGP_DIR/$1 extra='' s
    shift
    for s in "$@"; do extra+=",
    $s"; done
    write_file_atomic "$dir/anycastd.json" <<EOF
{
  "interface": {"name": "anycast0", "kind": "$BGP_IFACE_KIND", "uplinks": ["$host-r1"]},
  "bgp": {
    "asn": ${BGP_ASN[$host]}, "routerId": "${BGP_NET[$host]}.2", "holdTime": "${BGP_HOLD_S}s",
    "peers": [{"name": "r1", "address": "${BGP_NET[$host]}.1", "asn": 65000}]
  },
  "services": [
    {"name": "dns", "prefixes": ["$BGP_PREFIX"],
     "checks": [{"dns": {"name": "id.lab", "type": "TXT"}, "interval": "${BGP_CHECK_INTERVAL_MS}ms", "timeout": "150ms",
                 "rise": $BGP_CHECK_RISE, "fall": $BGP_CHECK_FALL${BGP_CHECK_FAST_MS:+, \"fastInterval\": \"${BGP_CHECK_FAST_MS}ms\"}}]}$extra
  ],
  "drain": {"delay": "${BGP_DRAIN_MS}ms", "gracefulShutdown": true},
  "control": {"socket": "$dir/anycastd.sock"},
  "stateDirectory": "$dir/state"
}
EOF
}

# bgp_config HOST: path of HOST's configuration file.
bgp_config() { printf '%s' "$BGP_DIR/$1/anycastd.json"; }

# bgp_anycastd_start HOST: `anycastd reconcile` in HOST's namespace, log appended to HOST/anycastd.log.
bgp_anycastd_start() {
    local host=$1 dir=$BGP_DIR/$1
    [[ -f $dir/anycastd.json ]] || bgp_write_config "$host"
    # ip netns exec execs the command, so $! is the agent's own pid.
    ip netns exec "${BGP_NS[$host]}" "$ANYCASTD_BIN" reconcile --config "$dir/anycastd.json" "${BGP_DAEMON_ARGS[@]}" \
        >>"$dir/anycastd.log" 2>&1 &
    BGP_PIDS[anycastd-$host]=$!
}

# bgp_anycastd_stop HOST: SIGTERM and wait (15 s, then SIGKILL). Sets STOP_STATUS (exit status or
# "killed") and STOP_MS (from the signal to the exit).
bgp_anycastd_stop() {
    local host=$1 pid=${BGP_PIDS[anycastd-$1]:-} start
    STOP_STATUS='' STOP_MS=-1
    [[ -n $pid ]] || return 0
    start=${EPOCHREALTIME/./}
    kill -TERM "$pid" 2>/dev/null
    if wait_until 15000 _sys_exited "$pid" >/dev/null; then
        STOP_MS=$(((${EPOCHREALTIME/./} - start) / 1000))
        wait "$pid" 2>/dev/null
        STOP_STATUS=$?
    else
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        STOP_STATUS=killed
    fi
    unset "BGP_PIDS[anycastd-$host]"
}

# bgp_anycastd_kill9 HOST: SIGKILL, as a crash.
bgp_anycastd_kill9() {
    local pid=${BGP_PIDS[anycastd-$1]:-}
    [[ -n $pid ]] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "BGP_PIDS[anycastd-$1]"
}

# bgp_ctl HOST ARG...: an anycastd control command (status, drain, undrain) against HOST's agent.
bgp_ctl() {
    local host=$1 cmd=$2
    shift 2
    bgp_ns "$host" timeout 20 "$ANYCASTD_BIN" "$cmd" --socket "$BGP_DIR/$host/anycastd.sock" "$@"
}

# bgp_dnsmasq_start HOST: a dnsmasq answering id.lab TXT "served-by-HOST" on the anycast address.
# --bind-dynamic binds as soon as anycastd puts the address on anycast0.
bgp_dnsmasq_start() {
    local host=$1 dir=$BGP_DIR/$1
    ip netns exec "${BGP_NS[$host]}" dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root \
        --listen-address="$BGP_ANYCAST" --bind-dynamic --no-resolv --no-hosts \
        --txt-record="id.lab,served-by-$host" --pid-file="$dir/dnsmasq.pid" \
        --log-facility="$dir/dnsmasq.log" >>"$dir/dnsmasq.out" 2>&1 &
    BGP_PIDS[dnsmasq-$host]=$!
}

# bgp_dnsmasq_stop HOST: SIGKILL (a crashed server) and wait.
bgp_dnsmasq_stop() {
    local pid=${BGP_PIDS[dnsmasq-$1]:-}
    [[ -n $pid ]] || return 0
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "BGP_PIDS[dnsmasq-$1]"
}

# host_has_addr HOST [PREFIX]: PREFIX (default 192.0.2.53/32) is on HOST's anycast0.
host_has_addr() { [[ $(bgp_ns "$1" ip -o -4 addr show dev anycast0 2>/dev/null) == *" inet ${2:-$BGP_PREFIX} "* ]]; }
host_lacks_addr() { ! host_has_addr "$@"; }
# host_link_up HOST: HOST's anycast0 exists with the UP flag.
host_link_up() { [[ $(bgp_ns "$1" ip -o link show anycast0 2>/dev/null) =~ [\<,]UP[,\>] ]]; }

# bgp_config_invalid HOST / bgp_config_valid HOST: what HOST's `anycastd status --json` says of the
# configuration.
bgp_config_invalid() { [[ $(bgp_ctl "$1" status --json 2>/dev/null) =~ \"valid\"\ *:\ *false ]]; }
bgp_config_valid() { [[ $(bgp_ctl "$1" status --json 2>/dev/null) =~ \"valid\"\ *:\ *true ]]; }

# --- the client --------------------------------------------------------------------------------

# client_query: one query from c1; prints served-by-HOST, or "no answer".
client_query() {
    local out
    out=$(bgp_ns c1 dig +short +time=1 +tries=1 @"$BGP_ANYCAST" id.lab TXT 2>/dev/null | tr -d '"')
    [[ $out == served-by-* ]] && printf '%s\n' "$out" || printf 'no answer\n'
}
client_answered() { [[ $(client_query) == served-by-* ]]; }

# bgp_query_loop_start [INTERVAL_MS]: a query every INTERVAL_MS (default 10) from c1, each from a fresh
# socket (its own source port), every answer and timeout logged.
bgp_query_loop_start() {
    _bgp_seq=$((_bgp_seq + 1))
    BGP_LOOP_OUT=$BGP_DIR/c1/queries.$_bgp_seq
    ip netns exec "${BGP_NS[c1]}" python3 -S "$BGP_TOOL" query-loop --server "$BGP_ANYCAST" --interval-ms "${1:-10}" \
        --out "$BGP_LOOP_OUT" 2>>"$BGP_DIR/c1/query-loop.err" &
    BGP_PIDS[loop]=$!
    wait_until 30000 grep -q '^# started' "$BGP_LOOP_OUT" >/dev/null \
        || { echo "the query loop did not start: $(cat "$BGP_DIR/c1/query-loop.err")" >&2; return 1; }
}

# bgp_query_loop_stop: stops the loop (it waits for answers still on the way) and sets LOOP_SENT,
# LOOP_ANSWERED, LOOP_LOST (timeouts and errors), LOOP_H1, LOOP_H2 from its log.
bgp_query_loop_stop() {
    local pid=${BGP_PIDS[loop]:-} counts
    [[ -n $pid ]] || return 1
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "BGP_PIDS[loop]"
    counts=$(awk '!/^#/ { n++; if ($3 ~ /^served-by-/) a++; else l++; if ($3 == "served-by-h1") h1++; if ($3 == "served-by-h2") h2++ }
        END { printf "%d %d %d %d %d", n, a, l, h1, h2 }' "$BGP_LOOP_OUT")
    read -r LOOP_SENT LOOP_ANSWERED LOOP_LOST LOOP_H1 LOOP_H2 <<<"$counts"
}

# bgp_loop_losses: the log lines of queries that were not answered (for diagnostics).
bgp_loop_losses() { awk '!/^#/ && $3 !~ /^served-by-/' "$BGP_LOOP_OUT" | head -n 20; }

# --- the whole lab -----------------------------------------------------------------------------

# bgp_lab_up: topology, BIRD, both dnsmasqs and both agents; returns when BIRD has both hosts' paths
# (BGP_UP_MS after the agents started). Returns 1 with a message on stderr otherwise.
bgp_lab_up() {
    local host start
    if ! command -v bird >/dev/null || ! command -v birdc >/dev/null; then
        echo "bird2 is not installed (apt-get install bird2)" >&2
        return 1
    fi
    command -v dnsmasq >/dev/null || { echo "dnsmasq is not installed (apt-get install dnsmasq-base)" >&2; return 1; }
    command -v dig >/dev/null || { echo "dig is not installed (apt-get install bind9-dnsutils)" >&2; return 1; }
    command -v python3 >/dev/null || { echo "python3 is not installed" >&2; return 1; }
    [[ -x $ANYCASTD_BIN ]] || { echo "no anycastd binary at $ANYCASTD_BIN (swift build)" >&2; return 1; }
    bgp_topology || return 1
    if [[ $BGP_IFACE_KIND == dummy ]]; then
        bgp_ns h1 ip link add acd-bgp-probe type dummy 2>/dev/null \
            || { echo "kernel $(uname -r) has no dummy link type; run through Tests/system/run.sh (kernel lab)" >&2; return 1; }
        bgp_ns h1 ip link del acd-bgp-probe
    fi
    bird_start || return 1
    start=${EPOCHREALTIME/./}
    for host in h1 h2; do
        [[ -f $(bgp_config "$host") ]] || bgp_write_config "$host"
        bgp_dnsmasq_start "$host"
        bgp_anycastd_start "$host"
    done
    if ! wait_until 60000 bird_both_paths >/dev/null; then
        echo "BIRD did not get both hosts' paths within 60 s; it has:" >&2
        bird_paths "$BGP_PREFIX" >&2
        return 1
    fi
    BGP_UP_MS=$(((${EPOCHREALTIME/./} - start) / 1000))
}


# assert_ge DESCRIPTION MINIMUM SEEN (integers)
assert_ge() {
    if [[ $3 =~ ^-?[0-9]+$ ]] && (($3 >= $2)); then
        ok "$1"
    else
        not_ok "$1" "expected at least: $2"$'\n'"seen:              $3"
    fi
}

# bgp_lab_require: bgp_lab_up as the test's first assertion; stops the test if the lab cannot come up.
bgp_lab_require() {
    local err=$BGP_DIR/lab-up.err
    if bgp_lab_up 2>"$err"; then
        ok "lab up: BIRD has paths from h1 and h2 (${BGP_UP_MS} ms after the agents started)"
    else
        bail "lab up: BIRD has paths from h1 and h2" "$(cat "$err")"
    fi
}

# bird_established HOST: BIRD's session with HOST is Established.
bird_established() { [[ $(birdc_r1 show protocols "$1" 2>&1) == *Established* ]]; }

# bgp_loop_has N: the loop has logged at least N queries (answered or not).
bgp_loop_has() {
    local n=0 line
    while IFS= read -r line; do [[ $line == '#'* ]] || n=$((n + 1)); done <"$BGP_LOOP_OUT"
    ((n >= $1))
}

# bgp_loop_lost_after START_US: how many queries sent at or after START_US were not answered.
bgp_loop_lost_after() {
    awk -v t="$1" '!/^#/ && $2 >= t && $3 !~ /^served-by-/ { n++ } END { print n + 0 }' "$BGP_LOOP_OUT"
}

# bgp_logs: the tail of every log of the lab, as TAP comments.
bgp_logs() {
    local f
    for f in "$BGP_DIR"/r1/bird.log "$BGP_DIR"/h1/anycastd.log "$BGP_DIR"/h2/anycastd.log \
        "$BGP_DIR"/h1/dnsmasq.out "$BGP_DIR"/h2/dnsmasq.out "$BGP_DIR"/c1/query-loop.err; do
        [[ -s $f ]] || continue
        echo "# --- $f"
        tail -n 40 "$f" | sed 's/^/#   /'
    done
}

# bgp_teardown: kills everything by pid and deletes the namespaces.
bgp_teardown() {
    local pid ns
    for pid in "${BGP_PIDS[@]}" "${_bgp_extra_pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${BGP_PIDS[@]}" "${_bgp_extra_pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    BGP_PIDS=()
    _bgp_extra_pids=()
    for ns in "${_bgp_namespaces[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    _bgp_namespaces=()
}

# shellcheck disable=SC2154 # _sys_failures is lib.sh's count of failed assertions
_bgp_exit() {
    if ((_sys_failures > 0)); then
        bgp_logs
    fi
    bgp_teardown
    _sys_cleanup
}
trap _bgp_exit EXIT
