# Helpers shared by the benchmarks (sourced after Tests/interop/lib.sh).
# Every comparison is measured in the same run, in the same lab, against the same router, with the same
# number of trials; a row is written to $BENCH_ROWS (when set) for Tests/bench/results.md. A figure whose
# comparison could not be run says so; no figure is ever copied from notes.

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_HERE/../.." && pwd)
TRIALS=${TRIALS:-20}

bench_now_ns() { date +%s%N; }

# bench_p50 VALUES... / bench_max VALUES...: integers or decimals, one per argument.
bench_p50() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
bench_max() { printf '%s\n' "$@" | sort -g | tail -1; }
# bench_stats UNIT VALUES...: "p50 X UNIT, max Y UNIT (n=N)"
bench_stats() {
    local unit=$1
    shift
    [ $# -gt 0 ] || { echo "no samples"; return; }
    echo "p50 $(bench_p50 "$@") $unit, max $(bench_max "$@") $unit (n=$#)"
}
# bench_ratio A B: A / B with two decimals, or "-" when B is zero or either is missing.
bench_ratio() {
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}
# bench_row FIGURE ANYCASTD COMPARISON RATIO: one row of the results table (markdown; "|" is escaped).
bench_row() {
    local cells=() c
    for c in "$@"; do cells+=("${c//|/\\|}"); done
    echo "row: ${cells[0]}: anycastd ${cells[1]}; ${cells[2]}; ratio ${cells[3]}"
    [ -n "${BENCH_ROWS:-}" ] && printf '| %s | %s | %s | %s |\n' "${cells[@]}" >>"$BENCH_ROWS"
    return 0
}

# CPU time of processes in clock ticks: user + system + reaped children (a health-check helper's sh and
# dig processes count once it has reaped them).
bench_hz=$(getconf CLK_TCK)
bench_ticks() { # bench_ticks PID... -> ticks (user + system + reaped children)
    local pid total=0 t
    for pid in "$@"; do
        t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null) || t=0
        total=$((total + ${t:-0}))
    done
    echo $total
}
bench_rss_kb() { # bench_rss_kb PID... -> summed VmRSS in kB
    local pid total=0 v
    for pid in "$@"; do
        v=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        total=$((total + ${v:-0}))
    done
    echo $total
}

# BIRD with route tracing and microsecond log timestamps: the moment BIRD imported or removed a route is
# read from its log, so the test's own polling adds nothing to the figures.
# bench_bird_start DIR NS ROUTER_ID "name=N local=A addr=B as=X" ... (router AS 65000, passive sessions;
# BENCH_BIRD_KERNEL=1: BGP routes exported to the namespace's FIB, ECMP paths merged)
bench_bird_start() {
    local dir=$1 ns=$2 id=$3
    shift 3
    mkdir -p "$dir"
    {
        echo "router id $id;"
        echo "timeformat log \"%F %T.%6f\";"
        echo "log \"$dir/bird.log\" all;"
        echo "protocol device { scan time 10; }"
        if [ "${BENCH_BIRD_KERNEL:-0}" = 1 ]; then
            echo "protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }"
        fi
        local spec
        for spec in "$@"; do
            echo "protocol bgp $(io_spec_get "$spec" name) {"
            echo "  local $(io_spec_get "$spec" local) as 65000;"
            echo "  neighbor $(io_spec_get "$spec" addr) as $(io_spec_get "$spec" as);"
            echo "  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2;"
            echo "  error wait time 1, 1; error forget time 10;"
            # The speakers connect; a router connecting too makes collisions that ExaBGP can hang on.
            echo "  passive on;"
            # A listening socket per local address: BIRD then tells sessions from one neighbor to several of
            # its addresses apart.
            echo "  strict bind on;"
            echo "  debug { routes };"
            echo "  ipv4 { import all; export none; };"
            echo "}"
        done
    } >"$dir/bird.conf"
    ip netns exec "$ns" bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" ||
        io_die "bird failed to start in $ns (see $dir/bird.conf)"
    local i
    for i in $(seq 50); do [ -S "$dir/bird.ctl" ] && [ -s "$dir/bird.pid" ] && break; sleep 0.1; done
    [ -s "$dir/bird.pid" ] || io_die "bird in $ns wrote no pid file"
    io_track_pid "$(cat "$dir/bird.pid")"
}
bench_bird_lines() { wc -l <"$1/bird.log"; }
# bench_bird_event DIR FROM_LINE PROTO added|removed PREFIX -> epoch ns of the first such trace after
# FROM_LINE, or nothing.
bench_bird_event() {
    local stamp
    stamp=$(tail -n +"$(($2 + 1))" "$1/bird.log" |
        grep -m1 -E "<TRACE> $3\.ipv4 > $4 (\[[a-z]+\] )?${5//./\\.} " | cut -d' ' -f1,2)
    [ -n "$stamp" ] && date -d "$stamp" +%s%N
}
# bench_bird_wait SECONDS DIR FROM_LINE PROTO added|removed PREFIX: waits for that trace (true/false).
bench_bird_wait() {
    local end=$(($(bench_now_ns) + $1 * 1000000000))
    while [ "$(bench_now_ns)" -lt $end ]; do
        tail -n +"$(($3 + 1))" "$2/bird.log" | grep -q -E "<TRACE> $4\.ipv4 > $5 (\[[a-z]+\] )?${6//./\\.} " && return 0
        sleep 0.01
    done
    return 1
}
# bench_bird_counter DIR PROTO updates|withdraws: routes "received" in BIRD's import statistics.
bench_bird_counter() {
    birdc -s "$1/bird.ctl" show protocols all "$2" | awk -v k="Import $3:" 'index($0, k) { print $3; exit }'
}
bench_bird_established() { birdc -s "$1/bird.ctl" show protocols "$2" | grep -q Established; }
bench_bird_has() { birdc -s "$1/bird.ctl" show route "$3" protocol "$2" 2>/dev/null | grep -q "${3%/*}"; }

# The release binaries that ship (static Swift runtime, as in the .deb), built once per run; BENCH_BIN_DIR
# names another build folder (for trying the scripts with a debug build; results.md says which).
bench_build() { # bench_build PRODUCT -> path
    if [ -n "${BENCH_BIN_DIR:-}" ]; then
        [ -x "$BENCH_BIN_DIR/$1" ] || io_die "$BENCH_BIN_DIR/$1 is not built"
        echo "$BENCH_BIN_DIR/$1"
        return
    fi
    (cd "$BENCH_REPO" && swift build -c release --static-swift-stdlib --product "$1" >/dev/null 2>&1) ||
        io_die "swift build -c release --product $1 failed"
    echo "$(cd "$BENCH_REPO" && swift build -c release --show-bin-path)/$1"
}
