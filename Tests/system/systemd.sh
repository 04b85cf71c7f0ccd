#!/usr/bin/env bash
# Tier system-systemd: the Debian package the way it runs, under the host's systemd as PID 1 in the
# kernel lab (Tests/lab/run.sh --systemd). One boot:
#   install    apt-get install ./anycastd_*.deb starts the unit (postinst, no policy-rc.d in the VM)
#   ready      Type=notify: `systemctl start` returns only once anycast0 has its addresses (READY=1
#              after the first reconcile), ActiveState/SubState active/running
#   reload     `systemctl reload` applies an edited file without resetting the BGP session at BIRD
#   watchdog   SIGSTOP of the agent: systemd's watchdog kills it and Restart=on-failure brings it back
#   stop       `systemctl stop` with a second host announcing: the route leaves BIRD before the agent
#              exits, a client querying every 10 ms loses nothing
#   restart    `anycastd restart` + `systemctl restart`, then an upgrade to a locally made next version
#              (dpkg runs the old prerm `upgrade`, the new postinst `configure`), as the only host:
#              0 queries lost, no withdrawal at BIRD (graceful restart on), a new agent PID
#   journal    `journalctl -u anycastd` shows the state changes; `systemd-analyze security` scores the unit
# The agent's unit runs in the lab host h1's network namespace through a drop-in (NetworkNamespacePath=),
# the only change to the shipped unit besides a shorter WatchdogSec for the watchdog cell.
#
#   Tests/system/systemd.sh [--deb PATH]      (default: ANYCASTD_DEB, else the newest build/anycastd_*_amd64.deb)
#
# Ends with `system-systemd: N passed, N failed` (N counts assertions). A cell that cannot run fails
# and says why.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

if [[ ${1:-} != --inside ]]; then
    deb=${ANYCASTD_DEB:-}
    [[ ${1:-} == --deb ]] && deb=${2:-}
    [[ -n $deb ]] || deb=$(ls -t "$root"/build/anycastd_*_amd64.deb 2>/dev/null | head -1)
    if [[ -z $deb || ! -f $deb ]]; then
        echo "not ok 1 - the Debian package exists: no package at ${deb:-$root/build/anycastd_*_amd64.deb} (make deb, or ANYCASTD_DEB)"
        echo "system-systemd: 0 passed, 1 failed"
        exit 1
    fi
    deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
    # The lab shares one folder read-write at its own path. A checkout under /tmp or /run (a CI clone) must
    # itself be shared (the VM's /tmp is fresh), so the work folder then goes inside it.
    case $root in
    /tmp/* | /run/*)
        mkdir -p "$root/.build"
        work=$(mktemp -d "$root/.build/acd-systemd.XXXXXX")
        share=$root
        ;;
    *)
        work=$(mktemp -d "${TMPDIR:-/tmp}/acd-systemd.XXXXXX")
        share=$work
        ;;
    esac
    trap 'rm -rf "$work"' EXIT
    # The upgrade's "next version": the same files repacked as upstream patch + 1 with a changelog entry
    # (a release build costs minutes; the binary inside still says the old version, and dpkg runs the
    # maintainer scripts exactly as for a real new version).
    version=$(dpkg-deb --field "$deb" Version)
    upstream=${version%-*}
    next="${upstream%.*}.$((${upstream##*.} + 1))-1"
    dpkg-deb -R "$deb" "$work/pkg" || { echo "system-systemd: 0 passed, 1 failed (dpkg-deb -R $deb failed)"; exit 1; }
    sed -i "s/^Version: .*/Version: $next/" "$work/pkg/DEBIAN/control"
    log=$work/pkg/usr/share/doc/anycastd/changelog.Debian.gz
    {
        printf 'anycastd (%s) unstable; urgency=medium\n\n  * Test build for the upgrade cell of Tests/system/systemd.sh.\n\n' "$next"
        printf ' -- anycastd tests <tests@invalid>  %s\n\n' "$(date -R)"
        zcat "$log"
    } | gzip -9n >"$log.new" && mv "$log.new" "$log"
    (cd "$work/pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z |
        xargs -0 md5sum) >"$work/pkg/DEBIAN/md5sums"
    # gzip -1: xz on the emulated CPU costs more than the larger file.
    dpkg-deb --root-owner-group -Zgzip -z1 --build "$work/pkg" "$work/anycastd_${next}_amd64.deb" >/dev/null ||
        { echo "system-systemd: 0 passed, 1 failed (cannot repack $deb as $next)"; exit 1; }
    rm -rf "$work/pkg"
    echo "# package $deb ($version); upgrade to $work/anycastd_${next}_amd64.deb ($next)"
    out=$work/console
    rc=0
    "$root/Tests/lab/run.sh" --systemd --share "$share" --timeout "${ANYCASTD_SYSTEMD_TIMEOUT:-900}" \
        --env "ANYCASTD_DEB=$deb" --env "ANYCASTD_DEB_NEXT=$work/anycastd_${next}_amd64.deb" \
        -- bash "$here/systemd.sh" --inside 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    if ! grep -qE '^system-systemd: [0-9]+ passed, [0-9]+ failed' "$out"; then
        echo "system-systemd: the lab run ended (status $rc) before the tier reported"
        echo "system-systemd: 0 passed, 1 failed"
        exit 1
    fi
    exit "$rc"
fi

# --- inside the VM, under systemd -----------------------------------------------------------------
# shellcheck source=Tests/system/lib-bgp.sh
source "$here/lib-bgp.sh"
SYS_NAME=system-systemd
export DEBIAN_FRONTEND=noninteractive
deb=${ANYCASTD_DEB:?}
deb_next=${ANYCASTD_DEB_NEXT:?}
unit=anycastd.service

finish() {
    printf 'system-systemd: %d passed, %d failed\n' $((_sys_tests - _sys_failures)) "$_sys_failures"
    sys_finish
}
now_us
_phase_start=$NOW_US
_tier_start=$NOW_US
phase() {
    now_us
    diag "phase took $(((NOW_US - _phase_start) / 1000)) ms; next: $1"
    _phase_start=$NOW_US
}
prop() { systemctl show -p "$1" --value "$unit" 2>&1; }
main_pid() { prop MainPID; }
unit_running() { [[ $(prop ActiveState)/$(prop SubState) == active/running ]]; }
h1_ctl() { /usr/sbin/anycastd "$@" 2>&1; }
# bird_ups: how often BIRD's session with h1 came up (its log says so at every Established).
bird_ups() { grep -c 'h1: State changed to up' "$BGP_DIR/r1/bird.log" 2>/dev/null; }

[[ $(cat /proc/1/comm) == systemd ]] || bail "systemd is PID 1" "PID 1 is $(cat /proc/1/comm); run through Tests/system/systemd.sh"
ok "systemd is PID 1 ($(systemctl --version | head -1))"

# --- the lab: BIRD (graceful restart on), h1 for the unit, h2 a second host, c1 the client -----------
phase "lab"
bird_start() {
    local dir=$BGP_DIR/r1
    cat >"$dir/bird.conf" <<EOF
log "$dir/bird.log" all;
router id 10.0.9.1;
protocol device { scan time 10; }
protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }
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
    graceful restart on;
    debug { states };
    ipv4 { import filter anycast_in; export none; };
}
protocol bgp h1 from anycast_host { neighbor ${BGP_NET[h1]}.2 as ${BGP_ASN[h1]}; }
protocol bgp h2 from anycast_host { neighbor ${BGP_NET[h2]}.2 as ${BGP_ASN[h2]}; }
EOF
    bgp_ns r1 bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" >"$dir/bird.out" 2>&1 ||
        { echo "bird did not start: $(cat "$dir/bird.out")" >&2; return 1; }
    wait_until 5000 birdc -s "$dir/bird.ctl" show status >/dev/null ||
        { echo "bird does not answer on $dir/bird.ctl" >&2; return 1; }
    BGP_PIDS[bird]=$(<"$dir/bird.pid")
}
bgp_topology 2>"$BGP_DIR/topology.err" || bail "the lab's namespaces" "$(cat "$BGP_DIR/topology.err")"
bird_start 2>"$BGP_DIR/bird.err" || bail "BIRD starts" "$(cat "$BGP_DIR/bird.err")"
bgp_dnsmasq_start h1
bgp_dnsmasq_start h2

# --- install ---------------------------------------------------------------------------------------
phase install
# man-db's trigger and apt's package lists are off in the lab (Tests/lab/init.sh): neither is the package's.
out=$(apt-get install -y --no-install-recommends "$deb" 2>&1)
status=$?
assert_eq "apt-get install $(basename "$deb") exits 0" 0 "$status"
((status == 0)) || bail "package installed" "$out"
ANYCASTD_BIN=/usr/sbin/anycastd
if wait_until 60000 unit_running; then
    ok "postinst started $unit (ActiveState/SubState active/running after ${WAITED_MS} ms)"
else
    not_ok "postinst started $unit" "$(systemctl status "$unit" 2>&1)"
fi
assert_eq "the unit is enabled" enabled "$(systemctl is-enabled "$unit" 2>&1)"
assert_eq "Type=notify" notify "$(prop Type)"
assert_eq "the shipped unit has WatchdogSec=30s" 30s "$(prop WatchdogUSec)"
assert_eq "Restart=on-failure" on-failure "$(prop Restart)"

gr='"gracefulRestart": {"restartTime": "120s"},'
h1_config() {
    cat <<EOF
{
  "interface": {"name": "anycast0", "kind": "dummy", "uplinks": ["h1-r1"]},
  "bgp": {
    "asn": ${BGP_ASN[h1]}, "routerId": "${BGP_NET[h1]}.2", "holdTime": "${BGP_HOLD_S}s", $gr
    "peers": [{"name": "r1", "address": "${BGP_NET[h1]}.1", "asn": 65000}]
  },
  "services": [
    {"name": "dns", "prefixes": [$1],
     "checks": [{"dns": {"name": "id.lab", "type": "TXT"}, "interval": "${BGP_CHECK_INTERVAL_MS}ms", "timeout": "150ms",
                 "rise": $BGP_CHECK_RISE, "fall": $BGP_CHECK_FALL}]}
  ],
  "drain": {"delay": "${BGP_DRAIN_MS}ms", "gracefulShutdown": true}
}
EOF
}

# A build without Graceful Restart (issue 10, branch s3-gr) refuses the key: run without it; the restart
# and upgrade cells then fail, as they must.
h1_config "\"$BGP_PREFIX\"" >"$SYS_WORK/gr.json"
if ! out=$(/usr/sbin/anycastd check "$SYS_WORK/gr.json" 2>&1); then
    diag "this build refuses bgp.gracefulRestart ($out): the restart and upgrade cells will fail"
    gr=''
fi

# --- Type=notify: READY only once anycast0 has its addresses ------------------------------------------
phase ready
mkdir -p /etc/systemd/system/$unit.d
cat >/etc/systemd/system/$unit.d/lab.conf <<EOF
# The lab's host h1 is a network namespace; the watchdog cell wants a shorter wait than 30 s.
[Service]
NetworkNamespacePath=/run/netns/${BGP_NS[h1]}
WatchdogSec=10s
EOF
systemctl stop "$unit"
h1_config "\"$BGP_PREFIX\"" | write_file_atomic /etc/anycastd/anycastd.json
systemctl daemon-reload
now_us
t0=$NOW_US
out=$(systemctl start "$unit" 2>&1)
status=$?
now_us
# Straight after `systemctl start` returned: READY=1 has arrived, so the address must already be there.
addrs=$(bgp_ns h1 ip -o addr show dev anycast0 2>&1)
assert_eq "systemctl start $unit exits 0 ($(((NOW_US - t0) / 1000)) ms)" 0 "$status"
((status == 0)) || diag "$out"$'\n'"$(journalctl -u "$unit" --no-pager -n 30 2>&1)"
assert_match "when systemctl start returns (READY=1), anycast0 in h1 already has $BGP_PREFIX" \
    " inet ${BGP_PREFIX//./\\.} " "$addrs"
assert_eq "ActiveState/SubState active/running" active/running "$(prop ActiveState)/$(prop SubState)"
assert_eq "the agent runs as user anycastd" anycastd "$(stat -c %U "/proc/$(main_pid)" 2>&1)"
bgp_anycastd_start h2
if wait_until 60000 bird_both_paths; then
    ok "BIRD has paths from the unit's agent (h1) and h2"
else
    not_ok "BIRD has paths from the unit's agent (h1) and h2" "$(bird_paths; birdc_r1 show protocols all h1)"
fi
bird_record_start || bail "the BIRD recorder starts"

# --- systemctl reload: new prefix, same session --------------------------------------------------------
phase reload
ups=$(bird_ups)
h1_config "\"$BGP_PREFIX\", \"192.0.2.54/32\"" | write_file_atomic /etc/anycastd/anycastd.json
pid=$(main_pid)
assert_ok "systemctl reload $unit" systemctl reload "$unit"
if wait_until 30000 bash -c "birdc -s $BGP_DIR/r1/bird.ctl show route for 192.0.2.54/32 | grep -q '\[h1 '"; then
    ok "after the reload BIRD has the added 192.0.2.54/32 from h1 (${WAITED_MS} ms)"
else
    not_ok "after the reload BIRD has the added 192.0.2.54/32 from h1" "$(birdc_r1 show route all 2>&1)"
fi
assert_eq "the reload kept the BGP session (BIRD saw it come up $ups times before, as after)" "$ups" "$(bird_ups)"
assert_eq "the reload kept the agent's PID" "$pid" "$(main_pid)"

# --- watchdog: SIGSTOP, systemd kills and restarts ------------------------------------------------------
phase watchdog
pid=$(main_pid)
restarts=$(prop NRestarts)
# MainPID is 0 when the unit is not running: kill -STOP 0 would stop this test's own process group.
((pid > 1)) && kill -STOP "$pid"
restarted() { [[ $(prop NRestarts) != "$restarts" && $(main_pid) != "$pid" && $(main_pid) != 0 ]] && unit_running; }
if wait_until 90000 restarted; then
    ok "the stopped agent was killed by the watchdog and restarted (${WAITED_MS} ms; WatchdogSec=10s, RestartSec=2s)"
else
    not_ok "the stopped agent was killed by the watchdog and restarted" "$(systemctl status "$unit" 2>&1)"
    kill -CONT "$pid" 2>/dev/null
fi
assert_match "the journal says the watchdog fired" 'Watchdog timeout' "$(journalctl -u "$unit" --no-pager 2>&1)"
if wait_until 60000 bird_has_path h1; then
    ok "h1's path is back at BIRD after the watchdog restart (${WAITED_MS} ms)"
else
    not_ok "h1's path is back at BIRD after the watchdog restart" "$(bird_paths)"
fi

# --- systemctl stop: drain while h2 serves ----------------------------------------------------------------
phase stop
wait_until 60000 bird_both_paths >/dev/null || diag "BIRD lacks a path before the stop: $(bird_paths)"
bgp_query_loop_start 10 || bail "the query loop starts"
sleep_ms 1000
now_us
start=$NOW_US
out=$(systemctl stop "$unit" 2>&1)
status=$?
now_us
stopped_ms=$(((NOW_US - start) / 1000))
assert_eq "systemctl stop exits 0 (${stopped_ms} ms)" 0 "$status"
assert_eq "the agent exited with status 0 (Result=success)" success "$(prop Result)"
if bird_record_find absent:h1 "$start"; then
    assert_le "h1's path left BIRD (${WATCH_MS} ms) before the agent had exited (${stopped_ms} ms)" "$stopped_ms" "$WATCH_MS"
else
    not_ok "h1's path left BIRD before the agent exited" "$(bird_record_since "$start")"
fi
sleep_ms 1500
bgp_query_loop_stop
diag "queries: $LOOP_SENT sent, $LOOP_ANSWERED answered (h1 $LOOP_H1, h2 $LOOP_H2), $LOOP_LOST lost"
assert_ge "the loop sent queries all along (at least 100)" 100 "$LOOP_SENT"
assert_eq "systemctl stop with h2 announcing: 0 queries lost" 0 "$LOOP_LOST"
((LOOP_LOST == 0)) || diag "$(bgp_loop_losses)"
assert_ok "h1 keeps $BGP_PREFIX on anycast0 after the stop" host_has_addr h1

# --- restart and upgrade as the only host: routes never leave BIRD -----------------------------------------
phase "restart"
bgp_anycastd_stop h2
systemctl start "$unit" || not_ok "systemctl start after the stop" "$(systemctl status "$unit" 2>&1)"
if wait_until 60000 bird_has_path h1 && wait_until 15000 bird_lacks_path h2; then
    ok "h1 alone announces at BIRD"
else
    not_ok "h1 alone announces at BIRD" "$(bird_paths)"
fi

# hitless NAME COMMAND...: with a client querying every 10 ms, runs COMMAND and asserts 0 queries lost,
# h1's path never absent at BIRD, and a new agent PID.
hitless() {
    local name=$1 pid start lost changes
    shift
    pid=$(main_pid)
    bgp_query_loop_start 10 || { not_ok "$name: the query loop starts"; return; }
    sleep_ms 1000
    now_us
    start=$NOW_US
    out=$("$@" 2>&1)
    status=$?
    assert_eq "$name: '$*' exits 0" 0 "$status"
    [[ -z $out ]] || diag "$out"
    if ((status != 0)); then
        # Nothing restarted: a route that stayed and queries answered would prove nothing.
        not_ok "$name: hitless (not checked: the command failed)"
        bgp_query_loop_stop
        return
    fi
    if wait_until 60000 restarted_after "$pid"; then
        ok "$name: a new agent runs (PID $pid → $(main_pid), ${WAITED_MS} ms)"
    else
        not_ok "$name: a new agent runs" "$(systemctl status "$unit" 2>&1)"
    fi
    # The new agent re-announces after its first health verdict; give it that, and the client its timeout.
    wait_until 30000 bird_has_path h1 >/dev/null
    sleep_ms 2000
    bgp_query_loop_stop
    changes=$(bird_record_since "$start")
    diag "BIRD's paths since: ${changes:-no change}"
    if bird_record_find absent:h1 "$start"; then
        not_ok "$name: h1's path never left BIRD (graceful restart)" "gone ${WATCH_MS} ms after the start"$'\n'"$changes"
    else
        ok "$name: h1's path never left BIRD (graceful restart)"
    fi
    diag "queries: $LOOP_SENT sent, $LOOP_ANSWERED answered, $LOOP_LOST lost"
    assert_ge "$name: the loop sent queries all along (at least 100)" 100 "$LOOP_SENT"
    assert_eq "$name: 0 queries lost" 0 "$LOOP_LOST"
    ((LOOP_LOST == 0)) || diag "$(bgp_loop_losses)"
}
restarted_after() { [[ $(main_pid) != "$1" && $(main_pid) != 0 ]] && unit_running; }
restart_cmd() { /usr/sbin/anycastd restart && systemctl restart "$unit"; }
hitless "restart" restart_cmd
ANYCASTD_BIN=/usr/sbin/anycastd

phase upgrade
before=$(dpkg-query -W -f='${Version}' anycastd)
hitless "upgrade $before → $(dpkg-deb --field "$deb_next" Version)" \
    apt-get install -y --no-install-recommends "$deb_next"
assert_eq "dpkg has the new version" "$(dpkg-deb --field "$deb_next" Version)" "$(dpkg-query -W -f='${Version}' anycastd)"

# --- journal and security ------------------------------------------------------------------------------
phase journal
journal=$(journalctl -u "$unit" --no-pager -o cat 2>&1)
assert_match "journalctl -u anycastd: the session with r1 came up" 'r1.*[Ee]stablished|[Ee]stablished.*r1' "$journal"
assert_match "journalctl -u anycastd: announced $BGP_PREFIX" "[Aa]nnounc.*192\\.0\\.2\\.53|192\\.0\\.2\\.53.*[Aa]nnounc" "$journal"
assert_match "journalctl -u anycastd: withdrew on stop" "[Ww]ithdr" "$journal"
assert_match "journalctl -u anycastd: systemd's own lines (Started/Stopped)" "Started anycastd|Stopped anycastd" \
    "$(journalctl -u "$unit" --no-pager 2>&1)"
diag "journal (last 25 lines):"$'\n'"$(journalctl -u "$unit" --no-pager -n 25 2>&1)"

phase security
# systemd-analyze talks to the manager over D-Bus.
systemctl start dbus.socket 2>/dev/null || diag "dbus.socket did not start"
security=$(systemd-analyze security --no-pager "$unit" 2>&1)
score=$(grep -Eo 'Overall exposure level for anycastd.service: [0-9.]+ [A-Z]+' <<<"$security")
if [[ -n $score ]]; then
    ok "systemd-analyze security: $score"
else
    not_ok "systemd-analyze security prints a score" "$security"
fi
exposure=$(grep -Eo '[0-9]+\.[0-9]+ [A-Z]+' <<<"$score" | cut -d' ' -f1)
assert_le "the exposure is at most 2.5 (OK) (×10: ${exposure:-none})" 25 "$(awk -v e="${exposure:-99}" 'BEGIN { printf "%d", e * 10 + 0.5 }')"
diag "$(grep -E '^✗' <<<"$security" | head -30)"

now_us
diag "the tier took $(((NOW_US - _tier_start) / 1000)) ms inside the VM"
finish
