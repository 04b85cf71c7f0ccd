#!/usr/bin/env bash
# The Debian package on a machine without a Swift toolchain: `apt install ./anycastd_*.deb` works, the
# man pages render, the shipped configuration passes `anycastd check`, the unit verifies, and the
# installed binary, run as the system user with only the unit's capabilities (CAP_NET_ADMIN,
# CAP_NET_BIND_SERVICE), creates anycast0 (loading the dummy module itself), sets the per-interface
# settings (net.ipv4.conf.all too, with setAll) and answers on the control socket. `apt remove` keeps the edited configuration; `apt purge`
# removes it and the state. The package is ANYCASTD_DEB, else the newest build/anycastd_*_amd64.deb.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

deb=${ANYCASTD_DEB:-}
if [[ -z $deb ]]; then
    deb=$(ls -t "$SYS_ROOT"/build/anycastd_*_amd64.deb 2>/dev/null | head -1)
fi
[[ -n $deb && -f $deb ]] || bail "the Debian package exists" \
    "no package at ${deb:-$SYS_ROOT/build/anycastd_*_amd64.deb}: run 'make deb' or set ANYCASTD_DEB"
[[ $deb == /* ]] || deb=$PWD/$deb
diag "package: $deb"
dpkg-query -W anycastd >/dev/null 2>&1 && bail "anycastd is not installed before the test" \
    "$(dpkg-query -W anycastd 2>&1)"

# A PATH without the Swift toolchain, and (in a private mount namespace) /opt/swift hidden altogether,
# so that only what the package and its Depends bring can be used.
plain_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
no_swift_cmd=(
    unshare --mount --propagation private -- env "PATH=$plain_path" bash -c
    'if [[ -d /opt/swift ]]; then mount -t tmpfs -o ro,mode=0755 none /opt/swift || exit 99; fi; exec "$@"'
    no-swift
)
no_swift() { "${no_swift_cmd[@]}" "$@"; }
export DEBIAN_FRONTEND=noninteractive
now_us
_phase_start=$NOW_US
# phase NAME: how long the previous phase took (the lab runs under TCG; this shows where time goes).
phase() {
    now_us
    diag "phase took $(((NOW_US - _phase_start) / 1000)) ms; next: $1"
    _phase_start=$NOW_US
}

# --- install ---------------------------------------------------------------------------------------
phase install
# A state directory left by an earlier run from a checkout as root: the package must hand it to the service,
# with the agent's state files in it (postinst names them; an empty drain list changes nothing).
install -d -o root -g root -m 0755 /var/lib/anycastd
echo '# left by a run as root' >/var/lib/anycastd/drained
out=$(no_swift apt-get install -y --no-install-recommends "$deb" 2>&1)
status=$?
assert_eq "apt-get install ./$(basename "$deb") exits 0 (no Swift toolchain in PATH)" 0 "$status"
((status == 0)) || bail "package installed" "$out"
assert_match "dpkg says anycastd is installed" '^install ok installed$' \
    "$(dpkg-query -W -f='${Status}' anycastd 2>&1)"
assert_no_match "swift is not found in the plain PATH" . "$(no_swift bash -c 'command -v swift')"

phase "installed files"
libs=$(no_swift ldd /usr/sbin/anycastd 2>&1)
assert_no_match "the installed binary needs no Swift library (ldd)" 'libswift|libFoundation|libdispatch' "$libs"
assert_no_match "every library the binary needs is found (ldd)" 'not found' "$libs"
assert_match "it links libmnl dynamically" 'libmnl\.so\.0 => /' "$libs"

for f in /usr/sbin/anycastd /usr/lib/systemd/system/anycastd.service /etc/anycastd/anycastd.json \
    /usr/share/anycastd/anycastd.schema.json /usr/share/man/man8/anycastd.8.gz \
    /usr/share/man/man5/anycastd.json.5.gz /usr/share/bash-completion/completions/anycastd \
    /usr/share/zsh/vendor-completions/_anycastd /usr/share/fish/vendor_completions.d/anycastd.fish \
    /usr/share/doc/anycastd/copyright /usr/share/doc/anycastd/changelog.Debian.gz \
    /usr/share/doc/anycastd/examples/azure-route-server.json /usr/share/doc/anycastd/examples/routers/bird.conf; do
    if [[ -f $f ]]; then ok "installed: $f"; else not_ok "installed: $f"; fi
done
assert_match "/etc/anycastd/anycastd.json is a conffile" '^ /etc/anycastd/anycastd.json [0-9a-f]{32}$' \
    "$(dpkg-query -W -f='${Conffiles}\n' anycastd)"

user=$(getent passwd anycastd)
assert_match "postinst created the system user anycastd" '^anycastd:x:[0-9]+:[0-9]+:' "$user"
uid=$(cut -d: -f3 <<<"$user")
assert_le "anycastd is a system user (uid below 1000)" 999 "${uid:-99999}"
assert_match "anycastd has no login shell" ':/usr/sbin/nologin$|:/bin/false$' "$user"
assert_match "the group anycastd exists" '^anycastd:' "$(getent group anycastd)"

phase "man pages"
page=$(no_swift env MANPAGER=cat MANWIDTH=80 man anycastd 2>&1)
assert_match "man anycastd renders" '^ +anycastd reconcile ' "$page"
page=$(no_swift env MANPAGER=cat MANWIDTH=80 man anycastd.json 2>&1)
assert_match "man anycastd.json renders" 'anycastd desired-state file' "$page"

phase "check, schema, verify"
out=$(no_swift /usr/sbin/anycastd check /etc/anycastd/anycastd.json 2>&1)
assert_eq "anycastd check /etc/anycastd/anycastd.json exits 0" 0 "$?"
assert_match "the shipped configuration announces nothing" '0 services, 0 prefixes, 0 peers' "$out"
for example in /usr/share/doc/anycastd/examples/*.json; do
    assert_ok "anycastd check $(basename "$example")" no_swift /usr/sbin/anycastd check "$example"
done
assert_eq "anycastd schema prints the installed schema" "$(cat /usr/share/anycastd/anycastd.schema.json)" \
    "$(no_swift /usr/sbin/anycastd schema 2>&1)"
assert_ok "systemd-analyze verify anycastd.service" systemd-analyze verify /usr/lib/systemd/system/anycastd.service
assert_match "the bash completion registers itself" 'complete .* anycastd$' \
    "$(bash -c 'source /usr/share/bash-completion/completions/anycastd && complete -p anycastd' 2>&1)"

# --- the installed agent as the unit runs it, peering with BIRD -----------------------------------
phase "agent and BIRD"
netns_new
veth_new veth-up
# The router: BIRD in its own namespace behind veth-up, with the import filters of the packaged
# routers/bird.conf (RFC 8212 filters; GRACEFUL_SHUTDOWN sets local preference 0).
router_ns=acd-sys-deb-r-$$
ip netns add "$router_ns" || bail "create namespace $router_ns"
_sys_namespaces+=("$router_ns")
ip -n "$router_ns" link set lo up
in_ns ip link set veth-up-p netns "$router_ns"
in_ns ip addr add 10.0.1.11/24 dev veth-up
in_ns ip addr add 2001:db8:1::11/64 dev veth-up nodad
ip -n "$router_ns" addr add 10.0.1.2/24 dev veth-up-p
ip -n "$router_ns" addr add 2001:db8:1::2/64 dev veth-up-p nodad
ip -n "$router_ns" link set veth-up-p up
bird_dir=$SYS_WORK/bird
mkdir -p "$bird_dir"
{
    echo 'router id 10.0.1.2;'
    sed -n '/^define ANYCAST/p; /^filter /,/^}/p' /usr/share/doc/anycastd/examples/routers/bird.conf
    cat <<'BIRD'
protocol device {}
protocol bfd { interface "veth-up-p" { interval 200 ms; multiplier 5; }; }
protocol bgp dc1 {
    local 10.0.1.2 as 65000;
    neighbor 10.0.1.11 as 65001;
    hold time 9;
    bfd on;
    ipv4 { import filter anycast4_in; export none; };
    ipv6 { import filter anycast6_in; export none; };
}
BIRD
} >"$bird_dir/bird.conf"
birdc_r() { birdc -s "$bird_dir/bird.ctl" "$@"; }
if ip netns exec "$router_ns" bird -c "$bird_dir/bird.conf" -s "$bird_dir/bird.ctl" -P "$bird_dir/bird.pid" \
    >"$bird_dir/bird.log" 2>&1; then
    ok "BIRD starts with the packaged import filters"
    _sys_daemon_pids+=("$(cat "$bird_dir/bird.pid")")
else
    not_ok "BIRD starts with the packaged import filters" "$(cat "$bird_dir/bird.log" "$bird_dir/bird.conf")"
fi
# The unit's RuntimeDirectory=anycastd with RuntimeDirectoryMode=0750; postinst made /var/lib/anycastd.
install -d -o anycastd -g anycastd -m 0750 /run/anycastd
assert_match "/var/lib/anycastd belongs to anycastd, mode 0750" '^750 anycastd anycastd$' \
    "$(stat -c '%a %U %G' /var/lib/anycastd 2>&1)"
assert_match "state left in /var/lib/anycastd by a root run belongs to anycastd" '^anycastd$' \
    "$(stat -c '%U' /var/lib/anycastd/drained 2>&1)"
rm -f /var/lib/anycastd/drained
cat >/etc/anycastd/anycastd.json <<'JSON'
{
  "$schema": "file:///usr/share/anycastd/anycastd.schema.json",
  "interface": {
    "name": "anycast0",
    "kind": "dummy",
    "uplinks": ["veth-up"],
    "sysctl": { "arpIgnore": 1, "arpAnnounce": 2, "rpFilter": 2, "setAll": true }
  },
  "bgp": {
    "asn": 65001, "routerId": "10.0.1.11", "holdTime": "9s",
    "peers": [ { "name": "core1", "address": "10.0.1.2", "asn": 65000, "localAddress": "10.0.1.11",
                 "nextHop": { "ipv6": "2001:db8:1::11" }, "bfd": { "minInterval": "200ms", "multiplier": 5 } } ]
  },
  "services": [ { "name": "dns", "prefixes": ["192.0.2.53/32", "2001:db8:53::53/128"],
                  "checks": [ { "exec": { "command": ["/bin/sh", "-c",
                                  "grep ^Cap /proc/self/status >/tmp/acd-check-caps.$$ && mv /tmp/acd-check-caps.$$ /tmp/acd-check-caps"] },
                                "interval": "1s", "timeout": "900ms", "rise": 1, "fall": 2 } ] } ],
  "drain": { "delay": "5s", "gracefulShutdown": true },
  "metrics": { "listen": "127.0.0.1:9477" }
}
JSON
rm -f /tmp/acd-check-caps
edited=$(md5sum /etc/anycastd/anycastd.json | cut -d' ' -f1)
# all.arp_ignore 2 defeats the configured 1 (the kernel uses the larger); with setAll the agent must
# lower it, which a non-root process can do in /proc/sys/net only through CAP_NET_ADMIN.
in_ns sysctl -qw net.ipv4.conf.all.arp_ignore=2

# Let the agent load the dummy module itself, as on a fresh host (earlier tests may have loaded it).
if grep -q '^dummy ' /proc/modules; then
    rmmod dummy 2>/dev/null || diag "rmmod dummy failed; the module stays loaded, so autoloading is not exercised"
fi
grep -q '^dummy ' /proc/modules || diag "the dummy module is not loaded before the agent starts"

caps=+net_admin,+net_bind_service
# Started as a plain command, not through the function, so that $! is the agent itself: unshare, bash,
# ip netns exec and setpriv all exec the next program in place.
"${no_swift_cmd[@]}" ip netns exec "$NS" setpriv --reuid=anycastd --regid=anycastd --init-groups \
    --inh-caps="$caps" --ambient-caps="$caps" --bounding-set=-all,"$caps" --no-new-privs \
    /usr/sbin/anycastd reconcile >>"$ANYCASTD_LOG" 2>&1 &
ANYCASTD_PID=$!
_sys_daemon_pids+=("$ANYCASTD_PID")

if wait_until 60000 link_has_all anycast0 192.0.2.53/32 2001:db8:53::53/128; then
    ok "the agent as user anycastd created anycast0 with both prefixes (${WAITED_MS} ms)"
else
    not_ok "the agent as user anycastd created anycast0 with both prefixes" "$(in_ns ip addr 2>&1)"
fi
assert_match "anycast0 is a dummy link" '^ +dummy( |$)' "$(in_ns ip -d link show anycast0 2>&1)"
assert_match "the dummy module is loaded" '^dummy ' "$(cat /proc/modules)"
for ifname in anycast0 veth-up; do
    assert_eq "net.ipv4.conf.$ifname.arp_ignore = 1" 1 "$(sysctl_ns "$ifname" arp_ignore)"
    assert_eq "net.ipv4.conf.$ifname.arp_announce = 2" 2 "$(sysctl_ns "$ifname" arp_announce)"
    assert_eq "net.ipv4.conf.$ifname.rp_filter = 2" 2 "$(sysctl_ns "$ifname" rp_filter)"
done

all_arp_ignore_lowered() { [[ $(sysctl_ns all arp_ignore) == 1 ]]; }
if wait_until 10000 all_arp_ignore_lowered; then
    ok "setAll: the agent lowered net.ipv4.conf.all.arp_ignore from 2 to 1 through /proc/sys"
else
    not_ok "setAll: the agent lowered net.ipv4.conf.all.arp_ignore from 2 to 1 through /proc/sys" \
        "all.arp_ignore is $(sysctl_ns all arp_ignore)"
fi

# The process that runs is anycastd itself (setpriv execs it), with exactly the two capabilities.
agent_status=$(cat "/proc/$ANYCASTD_PID/status" 2>&1)
assert_match "the agent runs as uid $uid" "^Uid:[[:space:]]+${uid}[[:space:]]+${uid}[[:space:]]" "$agent_status"
assert_match "its effective capabilities are NET_ADMIN and NET_BIND_SERVICE only" \
    '^CapEff:[[:space:]]+0000000000001400$' "$agent_status"
assert_match "its bounding set is NET_ADMIN and NET_BIND_SERVICE only" \
    '^CapBnd:[[:space:]]+0000000000001400$' "$agent_status"

# Port 179 is below 1024: only CAP_NET_BIND_SERVICE lets the non-root agent listen there.
if wait_until 30000 bash -c "ip netns exec $NS ss -Hltn 'sport = :179' | grep -q LISTEN"; then
    ok "the agent listens on port 179 as a non-root user"
else
    not_ok "the agent listens on port 179 as a non-root user" "$(in_ns ss -ltnp 2>&1)"
fi
bird_route() { birdc_r show route "$1" all 2>&1; }
if wait_until 60000 bash -c "birdc -s $bird_dir/bird.ctl show route 192.0.2.53/32 | grep -q 192.0.2.53/32"; then
    ok "BIRD accepted 192.0.2.53/32 from the agent (${WAITED_MS} ms)"
else
    not_ok "BIRD accepted 192.0.2.53/32 from the agent" "$(birdc_r show protocols all dc1 2>&1)"
fi
if wait_until 10000 bash -c "birdc -s $bird_dir/bird.ctl show route 2001:db8:53::53/128 | grep -q 2001:db8:53::53/128"; then
    ok "BIRD accepted 2001:db8:53::53/128 over the IPv4 session"
else
    not_ok "BIRD accepted 2001:db8:53::53/128 over the IPv4 session" "$(birdc_r show route all 2>&1)"
fi
assert_match "the route has BIRD's default local preference 100" 'BGP.local_pref: 100' "$(bird_route 192.0.2.53/32)"

# The exec check ran as the agent's child: it inherits none of the agent's capabilities. (It writes a
# temporary file and renames it, so a reader never sees the file empty while a later run rewrites it.)
check_caps=$(cat /tmp/acd-check-caps 2>&1)
assert_match "an exec health check runs with no capabilities (ambient set not inherited)" \
    '^CapEff:[[:space:]]+0000000000000000$' "$check_caps"
assert_match "  ... and an empty ambient set" '^CapAmb:[[:space:]]+0000000000000000$' "$check_caps"
assert_match "  ... while the agent keeps NET_ADMIN and NET_BIND_SERVICE" \
    '^CapEff:[[:space:]]+0000000000001400$' "$(cat "/proc/$ANYCASTD_PID/status" 2>&1)"

# BFD from the non-root agent: UDP 3784 and TTL 255 need no capability.
if wait_until 30000 bash -c "birdc -s $bird_dir/bird.ctl show bfd sessions | grep -q '^10.0.1.11 .* Up '"; then
    ok "BIRD's BFD session with the non-root agent is Up (${WAITED_MS} ms)"
else
    not_ok "BIRD's BFD session with the non-root agent is Up" "$(birdc_r show bfd sessions 2>&1)"
fi

# Prometheus metrics from the non-root agent, on an unprivileged port.
scrape=$(in_ns curl -sf --max-time 5 http://127.0.0.1:9477/metrics 2>&1)
assert_match "metrics: core1 is up" '^anycastd_bgp_peer_up\{address="10.0.1.2",peer="core1"\} 1$' "$scrape"
if wait_until 10000 bash -c "ip netns exec $NS curl -sf --max-time 5 http://127.0.0.1:9477/metrics | grep -qxF 'anycastd_bfd_up{address=\"10.0.1.2\",peer=\"core1\"} 1'"; then
    ok "metrics: core1's BFD is up (${WAITED_MS} ms)"
else
    not_ok "metrics: core1's BFD is up" "$(in_ns curl -sf --max-time 5 http://127.0.0.1:9477/metrics 2>&1 | grep bfd)"
fi
assert_match "metrics: 192.0.2.53/32 is announced to one peer" \
    '^anycastd_prefix_announced_peers\{prefix="192.0.2.53/32",service="dns"\} 1$' "$scrape"

if wait_until 30000 test -S /run/anycastd/anycastd.sock; then
    ok "the control socket /run/anycastd/anycastd.sock exists"
else
    not_ok "the control socket /run/anycastd/anycastd.sock exists"
fi
out=$(no_swift /usr/sbin/anycastd status 2>&1)
assert_eq "anycastd status answers (root)" 0 "$?"
assert_match "status names the service dns" 'dns' "$out"
diag "status: $out"
out=$(no_swift setpriv --reuid=nobody --regid=anycastd --clear-groups /usr/sbin/anycastd status 2>&1)
assert_eq "anycastd status answers a user of the group anycastd" 0 "$?"
out=$(no_swift setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/sbin/anycastd status 2>&1)
assert_eq "anycastd status refuses other users (exit 69)" 69 "$?"

# A graceful stop: GRACEFUL_SHUTDOWN for drain.delay (the packaged filter makes it local preference 0),
# then the withdraw, then exit 0.
kill -TERM "$ANYCASTD_PID"
if wait_until 4000 bash -c "birdc -s $bird_dir/bird.ctl show route 192.0.2.53/32 all | grep -q 'BGP.local_pref: 0'"; then
    ok "on SIGTERM the route carries GRACEFUL_SHUTDOWN and BIRD ranks it local preference 0 (${WAITED_MS} ms)"
else
    not_ok "on SIGTERM the route carries GRACEFUL_SHUTDOWN and BIRD ranks it local preference 0" "$(bird_route 192.0.2.53/32)"
fi
assert_match "the route has the community (65535,0)" '\(65535,0\)' "$(bird_route 192.0.2.53/32)"
if wait_until 15000 bash -c "! birdc -s $bird_dir/bird.ctl show route 192.0.2.53/32 | grep -q 192.0.2.53/32"; then
    ok "after the drain delay the route is withdrawn (${WAITED_MS} ms later)"
else
    not_ok "after the drain delay the route is withdrawn" "$(bird_route 192.0.2.53/32)"
fi
anycastd_stop
assert_eq "SIGTERM stops the agent with status 0" 0 "$STOP_STATUS"

# --- remove keeps the edited configuration; purge removes it and the state ---------------------------
phase "remove and purge"
echo drained >/var/lib/anycastd/test-state
out=$(no_swift apt-get remove -y anycastd 2>&1)
status=$?
assert_eq "apt-get remove anycastd exits 0" 0 "$status"
((status == 0)) || diag "$out"
assert_match "dpkg keeps only its configuration files" '^deinstall ok config-files$' \
    "$(dpkg-query -W -f='${Status}' anycastd 2>&1)"
assert_eq "remove keeps the edited /etc/anycastd/anycastd.json" "$edited" \
    "$(md5sum /etc/anycastd/anycastd.json 2>&1 | cut -d' ' -f1)"
if [[ -e /usr/sbin/anycastd ]]; then not_ok "remove deletes /usr/sbin/anycastd"; else ok "remove deletes /usr/sbin/anycastd"; fi

out=$(no_swift apt-get purge -y anycastd 2>&1)
status=$?
assert_eq "apt-get purge anycastd exits 0" 0 "$status"
((status == 0)) || diag "$out"
for f in /etc/anycastd/anycastd.json /var/lib/anycastd /run/anycastd /usr/share/anycastd; do
    if [[ -e $f ]]; then not_ok "purge removes $f"; else ok "purge removes $f"; fi
done
assert_eq "dpkg no longer knows anycastd" "" "$(dpkg-query -W -f='${Status}' anycastd 2>/dev/null)"
phase end
sys_finish
