# Interop lab library: network namespaces joined by veth pairs, and real BGP peers (BIRD, FRR, GoBGP,
# ExaBGP) started per test in their own folder, plus query helpers that print the routes each peer holds
# in one canonical line format (see routes.py). Sourced by run.sh and the benchmarks; everything it
# starts is recorded by pid and stopped by pid, never by name.
#
# Layout of one lab (index N, 1..250):
#   router namespace  acd-io-<tag>-r   10.77.N.1/24  2001:db8:77:N::1/64
#   speaker namespace acd-io-<tag>-s   10.77.N.2-9   2001:db8:77:N::2-9   (one address per session)

IO_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IO_PY=/usr/bin/python3
[ -x "$IO_PY" ] || IO_PY=python3

io_log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S.%3N)" "${IO_TAG:-lab}" "$*" >&2; }
io_die() { io_log "FATAL: $*"; exit 2; }

# io_require: fails (never skips) when not root; installs missing peers with apt when it can.
io_require() {
    [ "$(id -u)" = 0 ] || io_die "interop tests need root (network namespaces, port 179)"
    local missing=()
    command -v ip >/dev/null || missing+=(iproute2)
    command -v tc >/dev/null || missing+=(iproute2)
    command -v bird >/dev/null && command -v birdc >/dev/null || missing+=(bird2)
    [ -x /usr/lib/frr/bgpd ] && command -v vtysh >/dev/null || missing+=(frr)
    command -v gobgpd >/dev/null && command -v gobgp >/dev/null || missing+=(gobgpd)
    [ -x /usr/sbin/exabgp ] || missing+=(exabgp)
    command -v jq >/dev/null || missing+=(jq)
    command -v tcpdump >/dev/null || missing+=(tcpdump)
    if [ ${#missing[@]} -gt 0 ]; then
        io_log "installing missing packages: ${missing[*]}"
        command -v apt-get >/dev/null || io_die "missing ${missing[*]} and no apt-get to install them"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1; } ||
            io_die "apt-get install ${missing[*]} failed"
    fi
}

# io_init [ROOT]: one folder for the whole run; every pid started goes into $IO_ROOT/pids.
io_init() {
    IO_ROOT=${1:-$(mktemp -d /tmp/acd-io.XXXXXX)}
    mkdir -p "$IO_ROOT"
    # FRR daemons drop to user frr and must reach their folders inside.
    chmod 755 "$IO_ROOT"
    : >>"$IO_ROOT/pids"
    : >>"$IO_ROOT/netns"
    export IO_ROOT
}

io_track_pid() { echo "$1" >>"$IO_ROOT/pids"; }

# io_kill PID...: TERM, wait up to 3 s, then KILL. Only pids we started.
io_kill() {
    local pid
    for pid in "$@"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    local i
    for i in $(seq 30); do
        local alive=0
        for pid in "$@"; do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && return 0
        sleep 0.1
    done
    for pid in "$@"; do [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; done
    return 0
}

# io_cleanup: stops every recorded pid and deletes every namespace this run created.
# The start of a daemon tier: the binary (`--bin PATH`, else the debug build), the tools, the lab, the
# cleanup on exit, and TAG in the log lines. Needs REPO. Usage: io_start TAG "$@"
io_start() {
    local tag=$1
    shift
    BIN=$REPO/.build/debug/anycastd
    [ "${1:-}" = --bin ] && BIN=$2
    [ -x "$BIN" ] || io_die "$BIN not built (swift build)"
    io_require
    io_init
    trap io_cleanup EXIT
    IO_TAG=$tag
}

io_cleanup() {
    [ -n "${IO_ROOT:-}" ] || return 0
    local pids
    pids=$(sort -u "$IO_ROOT/pids" 2>/dev/null | tr '\n' ' ')
    # pid files of forking daemons (BIRD, FRR) are read at cleanup time: they may have restarted.
    local f
    for f in "$IO_ROOT"/*/*.pid; do
        [ -f "$f" ] && pids="$pids $(cat "$f" 2>/dev/null)"
    done
    # shellcheck disable=SC2086
    io_kill $pids
    local ns
    while read -r ns; do
        [ -n "$ns" ] && ip netns delete "$ns" 2>/dev/null
    done <"$IO_ROOT/netns"
    : >"$IO_ROOT/netns"
    : >"$IO_ROOT/pids"
}

# io_lab TAG N: creates namespaces acd-io-TAG-r / acd-io-TAG-s and the veth between them.
# Sets nothing global; names derive from TAG and N (io_rns, io_sns, io_rif, io_sif, io_raddr4...).
io_rns() { echo "acd-io-$1-r"; }
io_sns() { echo "acd-io-$1-s"; }
io_rif() { echo "acd-io-$2r"; }
io_sif() { echo "acd-io-$2s"; }
io_raddr4() { echo "10.77.$1.1"; }
io_raddr6() { echo "2001:db8:77:$1::1"; }
io_saddr4() { echo "10.77.$1.$2"; }
io_saddr6() { echo "2001:db8:77:$1::$2"; }

io_lab() {
    local tag=$1 n=$2 rns sns rif sif
    rns=$(io_rns "$tag")
    sns=$(io_sns "$tag")
    rif=$(io_rif "$tag" "$n")
    sif=$(io_sif "$tag" "$n")
    ip netns delete "$rns" 2>/dev/null
    ip netns delete "$sns" 2>/dev/null
    ip netns add "$rns" || io_die "ip netns add $rns failed"
    echo "$rns" >>"$IO_ROOT/netns"
    ip netns add "$sns" || io_die "ip netns add $sns failed"
    echo "$sns" >>"$IO_ROOT/netns"
    ip link add "$rif" netns "$rns" type veth peer name "$sif" netns "$sns" ||
        io_die "veth $rif/$sif failed"
    local ns
    for ns in "$rns" "$sns"; do
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    ip -n "$rns" addr add "$(io_raddr4 "$n")/24" dev "$rif"
    ip -n "$rns" addr add "$(io_raddr6 "$n")/64" dev "$rif" nodad
    local i
    for i in 2 3 4 5 6 7 8 9; do
        ip -n "$sns" addr add "$(io_saddr4 "$n" "$i")/24" dev "$sif"
        ip -n "$sns" addr add "$(io_saddr6 "$n" "$i")/64" dev "$sif" nodad
    done
    ip -n "$rns" link set "$rif" up
    ip -n "$sns" link set "$sif" up
    # The speaker side's link-local address (sent as the second IPv6 next hop, RFC 2545) exists once the
    # link is up and DAD is done: wait for it, as a real uplink has it long before a session starts.
    io_wait 5 sh -c "ip -n $sns -6 addr show dev $sif scope link | grep -q fe80 &&
        ! ip -n $sns -6 addr show dev $sif scope link | grep -q tentative" ||
        io_log "no link-local address on $sif after 5 s"
}

# ---------------------------------------------------------------------------------------------------
# Neighbor specs. Each router is started with a list of neighbors, one word list per neighbor:
#   "name=v4a addr=10.77.1.2 as=4200000011 families=ipv4,ipv6 password=secret passive=1"
# passive=1 means the ROUTER waits for the speaker to connect.
io_spec_get() { # io_spec_get SPEC KEY [DEFAULT]
    local kv
    for kv in $1; do
        if [ "${kv%%=*}" = "$2" ]; then
            echo "${kv#*=}"
            return
        fi
    done
    echo "${3:-}"
}

io_is_v6() { case "$1" in *:*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------------------------------------------
# BIRD 2
# io_bird_start DIR NS ROUTER_AS ROUTER_ID LOCAL4 LOCAL6 SPEC...
io_bird_start() {
    local dir=$1 ns=$2 as=$3 id=$4 local4=$5 local6=$6
    shift 6
    mkdir -p "$dir"
    {
        echo "router id $id;"
        echo "log \"$dir/bird.log\" all;"
        echo "protocol device { scan time 10; }"
        local spec
        for spec in "$@"; do
            local name addr pas pw fam local
            name=$(io_spec_get "$spec" name)
            addr=$(io_spec_get "$spec" addr)
            pas=$(io_spec_get "$spec" as)
            pw=$(io_spec_get "$spec" password)
            fam=$(io_spec_get "$spec" families ipv4,ipv6)
            local=$local4
            io_is_v6 "$addr" && local=$local6
            echo "protocol bgp $name {"
            echo "  local $local as $as;"
            echo "  neighbor $addr as $pas;"
            echo "  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;"
            echo "  error wait time 1, 5; error forget time 10;"
            [ -n "$pw" ] && echo "  password \"$pw\";"
            [ "$(io_spec_get "$spec" passive)" = 1 ] && echo "  passive on;"
            case ",$fam," in *,ipv4,*) echo "  ipv4 { import all; export none; };" ;; esac
            case ",$fam," in *,ipv6,*) echo "  ipv6 { import all; export none; };" ;; esac
            echo "}"
        done
    } >"$dir/bird.conf"
    ip netns exec "$ns" bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" ||
        io_die "bird failed to start in $ns (see $dir/bird.conf)"
    local i
    for i in $(seq 50); do [ -S "$dir/bird.ctl" ] && [ -s "$dir/bird.pid" ] && break; sleep 0.1; done
    [ -s "$dir/bird.pid" ] || io_die "bird in $ns wrote no pid file"
}

io_bird_stop() { [ -f "$1/bird.pid" ] && io_kill "$(cat "$1/bird.pid")"; rm -f "$1/bird.pid"; }
io_birdc() { local dir=$1; shift; birdc -s "$dir/bird.ctl" "$@"; }

# io_bird_routes DIR [PROTOCOL]: canonical route lines (see routes.py).
io_bird_routes() {
    local dir=$1 proto=${2:-}
    if [ -n "$proto" ]; then
        birdc -s "$dir/bird.ctl" show route all protocol "$proto" | "$IO_PY" "$IO_LIB_DIR/routes.py" bird
    else
        birdc -s "$dir/bird.ctl" show route all | "$IO_PY" "$IO_LIB_DIR/routes.py" bird
    fi
}

io_bird_state() { # "Established" or another BIRD BGP state
    birdc -s "$1/bird.ctl" show protocols "$2" | awk -v p="$2" '$1 == p { print $NF == "Established" ? "Established" : $6 }'
}

# ---------------------------------------------------------------------------------------------------
# FRR (zebra + bgpd)
# io_frr_start DIR NS ROUTER_AS ROUTER_ID SPEC...
io_frr_start() {
    local dir=$1 ns=$2 as=$3 id=$4
    shift 4
    mkdir -p "$dir"
    {
        echo "frr defaults traditional"
        echo "hostname acd-io-frr"
        echo "log file $dir/bgpd.log"
        echo "route-map ACD-IO-NONE deny 10"
        echo "router bgp $as"
        echo " bgp router-id $id"
        echo " no bgp ebgp-requires-policy"
        echo " no bgp default ipv4-unicast"
        echo " no bgp network import-check"
        echo " bgp log-neighbor-changes"
        local spec
        for spec in "$@"; do
            local addr pw
            addr=$(io_spec_get "$spec" addr)
            pw=$(io_spec_get "$spec" password)
            echo " neighbor $addr remote-as $(io_spec_get "$spec" as)"
            echo " neighbor $addr description $(io_spec_get "$spec" name)"
            echo " neighbor $addr timers 3 9"
            echo " neighbor $addr timers connect 2"
            [ -n "$pw" ] && echo " neighbor $addr password $pw"
            [ "$(io_spec_get "$spec" passive)" = 1 ] && echo " neighbor $addr passive"
        done
        local fam
        for fam in ipv4 ipv6; do
            echo " address-family $fam unicast"
            for spec in "$@"; do
                case ",$(io_spec_get "$spec" families ipv4,ipv6)," in
                *,$fam,*)
                    addr=$(io_spec_get "$spec" addr)
                    echo "  neighbor $addr activate"
                    echo "  neighbor $addr route-map ACD-IO-NONE out"
                    ;;
                esac
            done
            echo " exit-address-family"
        done
    } >"$dir/bgpd.conf"
    echo "hostname acd-io-frr" >"$dir/zebra.conf"
    chown -R frr:frr "$dir" 2>/dev/null
    chmod 755 "$dir"
    ip netns exec "$ns" /usr/lib/frr/zebra -d -f "$dir/zebra.conf" -i "$dir/zebra.pid" -z "$dir/zserv.api" \
        --vty_socket "$dir" >"$dir/zebra.out" 2>&1 || io_die "zebra failed in $ns (see $dir/zebra.out)"
    local i
    for i in $(seq 50); do [ -S "$dir/zserv.api" ] && break; sleep 0.1; done
    ip netns exec "$ns" /usr/lib/frr/bgpd -d -f "$dir/bgpd.conf" -i "$dir/bgpd.pid" -z "$dir/zserv.api" \
        --vty_socket "$dir" >"$dir/bgpd.out" 2>&1 || io_die "bgpd failed in $ns (see $dir/bgpd.out)"
    for i in $(seq 50); do [ -S "$dir/bgpd.vty" ] && break; sleep 0.1; done
    [ -s "$dir/bgpd.pid" ] || io_die "bgpd in $ns wrote no pid file (see $dir/bgpd.out)"
}

io_frr_stop() {
    local f
    for f in "$1/bgpd.pid" "$1/zebra.pid"; do [ -f "$f" ] && io_kill "$(cat "$f")"; rm -f "$f"; done
}
io_vtysh() { local dir=$1; shift; vtysh --vty_socket "$dir" "$@"; }

# io_frr_routes DIR [NEIGHBOR]: canonical route lines; per-prefix JSON carries communities and MED.
io_frr_routes() {
    local dir=$1 nbr=${2:-} fam p
    for fam in ipv4 ipv6; do
        for p in $(vtysh --vty_socket "$dir" -c "show bgp $fam unicast json" 2>/dev/null |
            jq -r '.routes // {} | keys[]' 2>/dev/null); do
            vtysh --vty_socket "$dir" -c "show bgp $fam unicast $p json" 2>/dev/null |
                "$IO_PY" "$IO_LIB_DIR/routes.py" frr
        done
    done | { if [ -n "$nbr" ]; then grep " from=$nbr\$" || true; else cat; fi; }
}

io_frr_state() { # io_frr_state DIR NEIGHBOR_ADDR
    vtysh --vty_socket "$1" -c "show bgp neighbors $2 json" 2>/dev/null | jq -r --arg n "$2" '.[$n].bgpState // "none"'
}

# ---------------------------------------------------------------------------------------------------
# GoBGP
# io_gobgp_start DIR NS ROUTER_AS ROUTER_ID LOCAL4 LOCAL6 SPEC...
io_gobgp_start() {
    local dir=$1 ns=$2 as=$3 id=$4 local4=$5 local6=$6
    shift 6
    mkdir -p "$dir"
    {
        echo "[global.config]"
        echo "  as = $as"
        echo "  router-id = \"$id\""
        echo "  port = 179"
        echo "  local-address-list = [\"$local4\", \"$local6\"]"
        echo "[global.apply-policy.config]"
        echo "  default-export-policy = \"reject-route\""
        local spec
        for spec in "$@"; do
            local addr pw local fam f
            addr=$(io_spec_get "$spec" addr)
            pw=$(io_spec_get "$spec" password)
            local=$local4
            io_is_v6 "$addr" && local=$local6
            echo "[[neighbors]]"
            echo "  [neighbors.config]"
            echo "    neighbor-address = \"$addr\""
            echo "    peer-as = $(io_spec_get "$spec" as)"
            [ -n "$pw" ] && echo "    auth-password = \"$pw\""
            echo "  [neighbors.timers.config]"
            echo "    hold-time = 9"
            echo "    keepalive-interval = 3"
            echo "    connect-retry = 2"
            echo "  [neighbors.transport.config]"
            echo "    local-address = \"$local\""
            [ "$(io_spec_get "$spec" passive)" = 1 ] && echo "    passive-mode = true"
            fam=$(io_spec_get "$spec" families ipv4,ipv6)
            for f in ${fam//,/ }; do
                echo "  [[neighbors.afi-safis]]"
                echo "    [neighbors.afi-safis.config]"
                echo "      afi-safi-name = \"$f-unicast\""
            done
        done
    } >"$dir/gobgpd.toml"
    ip netns exec "$ns" gobgpd -f "$dir/gobgpd.toml" -p --api-hosts "unix://$dir/gobgp.sock" --pprof-disable \
        >"$dir/gobgpd.log" 2>&1 &
    echo $! >"$dir/gobgpd.pid"
    io_track_pid "$!"
    local i
    for i in $(seq 50); do [ -S "$dir/gobgp.sock" ] && break; sleep 0.1; done
    [ -S "$dir/gobgp.sock" ] || io_die "gobgpd in $ns did not start (see $dir/gobgpd.log)"
}

io_gobgp_stop() { [ -f "$1/gobgpd.pid" ] && io_kill "$(cat "$1/gobgpd.pid")"; rm -f "$1/gobgpd.pid"; }
io_gobgp() { local dir=$1; shift; gobgp --target "unix://$dir/gobgp.sock" "$@"; }

# io_gobgp_routes DIR [NEIGHBOR]
io_gobgp_routes() {
    local dir=$1 nbr=${2:-} fam
    for fam in ipv4 ipv6; do
        gobgp --target "unix://$dir/gobgp.sock" global rib -a "$fam" -j 2>/dev/null |
            "$IO_PY" "$IO_LIB_DIR/routes.py" gobgp
    done | { if [ -n "$nbr" ]; then grep " from=$nbr\$" || true; else cat; fi; }
}

io_gobgp_state() { # io_gobgp_state DIR NEIGHBOR_ADDR -> ESTABLISHED, ACTIVE, ...
    gobgp --target "unix://$1/gobgp.sock" neighbor "$2" -j 2>/dev/null | jq -r '.state.session_state // "none"' |
        tr '[:lower:]' '[:upper:]' | sed 's/^6$/ESTABLISHED/'
}

# ---------------------------------------------------------------------------------------------------
# ExaBGP: an API process logs every message it receives as JSON lines in DIR/received.jsonl.
# io_exabgp_start DIR NS ROUTER_AS ROUTER_ID LOCAL4 LOCAL6 SPEC...
io_exabgp_start() {
    local dir=$1 ns=$2 as=$3 id=$4 local4=$5 local6=$6
    shift 6
    mkdir -p "$dir"
    : >"$dir/received.jsonl"
    {
        echo "process acdlog {"
        echo "  run $IO_PY $IO_LIB_DIR/exabgp-api.py $dir;"
        echo "  encoder json;"
        echo "}"
        local spec
        for spec in "$@"; do
            local addr pw local fam f
            addr=$(io_spec_get "$spec" addr)
            pw=$(io_spec_get "$spec" password)
            local=$local4
            io_is_v6 "$addr" && local=$local6
            echo "neighbor $addr {"
            echo "  description \"$(io_spec_get "$spec" name)\";"
            echo "  router-id $id;"
            echo "  local-address $local;"
            echo "  local-as $as;"
            echo "  peer-as $(io_spec_get "$spec" as);"
            echo "  hold-time 9;"
            [ -n "$pw" ] && echo "  md5-password \"$pw\";"
            if [ "$(io_spec_get "$spec" passive)" = 1 ]; then
                echo "  passive true;"
            fi
            echo "  capability { route-refresh; asn4 enable; }"
            echo "  family {"
            fam=$(io_spec_get "$spec" families ipv4,ipv6)
            for f in ${fam//,/ }; do echo "    $f unicast;"; done
            echo "  }"
            echo "  api { processes [ acdlog ]; neighbor-changes; receive { parsed; update; refresh; } }"
            echo "}"
        done
    } >"$dir/exabgp.conf"
    local env=(exabgp.daemon.user=root exabgp.api.cli=false exabgp.log.destination="$dir/exabgp.log"
        exabgp.log.level=INFO exabgp.daemon.drop=false exabgp.api.ack=false exabgp.api.respawn=false)
    # Always listen as well, as routers do; passive neighbors only never connect out.
    env+=(exabgp.tcp.bind="$local4 $local6" exabgp.tcp.port=179)
    ip netns exec "$ns" env "${env[@]}" /usr/sbin/exabgp "$dir/exabgp.conf" >"$dir/exabgp.out" 2>&1 &
    echo $! >"$dir/exabgp.pid"
    io_track_pid "$!"
    sleep 0.5
    kill -0 "$(cat "$dir/exabgp.pid")" 2>/dev/null || io_die "exabgp in $ns exited at once (see $dir/exabgp.out)"
}

io_exabgp_stop() { [ -f "$1/exabgp.pid" ] && io_kill "$(cat "$1/exabgp.pid")"; rm -f "$1/exabgp.pid"; }

# io_exabgp_cmd DIR COMMAND: sends an API command (for example "announce route-refresh ipv4 unicast").
io_exabgp_cmd() { echo "$2" >>"$1/commands"; }

# io_exabgp_routes DIR [NEIGHBOR]: the routes per neighbor, replayed from the JSON log.
io_exabgp_routes() {
    "$IO_PY" "$IO_LIB_DIR/routes.py" exabgp <"$1/received.jsonl" |
        { if [ -n "${2:-}" ]; then grep " from=$2\$" || true; else cat; fi; }
}

io_exabgp_state() { # io_exabgp_state DIR NEIGHBOR -> up / down / none
    jq -r --arg n "$2" 'select(.type == "state" and .neighbor.address.peer == $n) | .neighbor.state' \
        "$1/received.jsonl" 2>/dev/null | tail -1
}

# ---------------------------------------------------------------------------------------------------
# Generic helpers over the four peers: KIND is bird, frr, gobgp or exabgp.
io_peer_routes() { # io_peer_routes KIND DIR NEIGHBOR_ADDR NEIGHBOR_NAME
    case $1 in
    bird) io_bird_routes "$2" "$4" ;;
    frr) io_frr_routes "$2" "$3" ;;
    gobgp) io_gobgp_routes "$2" "$3" ;;
    exabgp) io_exabgp_routes "$2" "$3" ;;
    esac
}

io_peer_established() { # io_peer_established KIND DIR NEIGHBOR_ADDR NEIGHBOR_NAME
    case $1 in
    bird) [ "$(io_bird_state "$2" "$4")" = Established ] ;;
    frr) [ "$(io_frr_state "$2" "$3")" = Established ] ;;
    gobgp) [ "$(io_gobgp_state "$2" "$3")" = ESTABLISHED ] ;;
    exabgp) [ "$(io_exabgp_state "$2" "$3")" = up ] ;;
    esac
}

# TAP lines for the scripts that end with `NAME: N passed, N failed`: ok TEXT, not_ok TEXT, and
# check TEXT COMMAND... (ok when COMMAND succeeds).
passed=0 failed=0 n=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# io_wait SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds; returns 1 on timeout.
io_wait() {
    local limit=$1
    shift
    local end=$(($(date +%s%N) + limit * 1000000000))
    while [ "$(date +%s%N)" -lt $end ]; do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# io_veth_pair HOST_NS ROUTER_NS HOST_IF ROUTER_IF HOST_ADDR ROUTER_ADDR: two fresh namespaces (recorded
# for cleanup, loopback up) joined by a veth pair, each end addressed (ADDR with its /len) and up.
io_veth_pair() {
    local ns
    for ns in "$1" "$2"; do
        ip netns delete "$ns" 2>/dev/null
        ip netns add "$ns" && echo "$ns" >>"$IO_ROOT/netns"
        ip -n "$ns" link set lo up
    done
    ip link add "$4" netns "$2" type veth peer name "$3" netns "$1"
    ip -n "$2" addr add "$6" dev "$4"
    ip -n "$1" addr add "$5" dev "$3"
    ip -n "$2" link set "$4" up
    ip -n "$1" link set "$3" up
}
