#!/usr/bin/env bash
# Proves the kernel lab works: in one VM boot, `ip link add anycast0 type dummy` succeeds (the module
# autoloads), `ip -d link` calls it dummy, the working directory and ANYCASTD_* variables arrive, a
# script from the host's /tmp runs, the shared folder carries a file back, and the command's exit
# status (3) becomes run.sh's; then a VM that outlives --timeout makes run.sh fail with 124; then a boot
# with --systemd runs its command under systemd as PID 1.
# Prints TAP-style lines and exits non-zero on failure.
set -euo pipefail
lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
failed=0
n=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    [[ -z ${2:-} ]] || printf '#   %s\n' "${2//$'\n'/$'\n'#   }"
}
check() { # check DESCRIPTION EXPECTED SEEN
    if [[ $3 == "$2" ]]; then ok "$1"; else not_ok "$1" "expected: $2"$'\n'"seen:     $3"; fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/inside.sh" <<'INSIDE'
set -u
fail() { echo "inside: $*"; exit 1; }
ip link add anycast0 type dummy || fail "ip link add anycast0 type dummy failed"
ip -d link show anycast0 | grep -qw dummy || fail "ip -d link show anycast0 does not say dummy"
echo "kind=$(ip -d -o link show anycast0 | grep -o 'dummy' | head -n 1)"
echo "arg=$1"
echo "pwd=$PWD"
echo "var=${ANYCASTD_SELFTEST_VAR:-unset}"
echo "inlab=${ANYCASTD_LAB:-0}"
echo "from the vm" >"$ANYCASTD_LAB_SHARE/result.txt"
exit 3
INSIDE

cd "$lab/../.."
start=$EPOCHREALTIME
rc=0
out=$(ANYCASTD_SELFTEST_VAR=passed "$lab/run.sh" --timeout 300 --share "$work" "$work/inside.sh" hello 2>"$work/stderr") || rc=$?
seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "# $(cat "$work/stderr")"
echo "# whole run: ${seconds}s"
check "exit status 3 of the command is run.sh's exit status" 3 "$rc"
check "ip link add anycast0 type dummy works; ip -d link says dummy" "kind=dummy" "$(grep '^kind=' <<<"$out" || true)"
check "script arguments arrive" "arg=hello" "$(grep '^arg=' <<<"$out" || true)"
check "the working directory is the caller's" "pwd=$PWD" "$(grep '^pwd=' <<<"$out" || true)"
check "ANYCASTD_* variables arrive" "var=passed" "$(grep '^var=' <<<"$out" || true)"
check "ANYCASTD_LAB=1 inside" "inlab=1" "$(grep '^inlab=' <<<"$out" || true)"
check "the shared folder carries a file back" "from the vm" "$(cat "$work/result.txt" 2>/dev/null || true)"
check "run.sh prints one lab line on stderr" "1" "$(grep -c '^lab: booted 6\.1\.0-[0-9]*-amd64 in [0-9.]*s$' "$work/stderr" || true)"
[[ $rc == 3 ]] || echo "# output was: $out"

rc=0
"$lab/run.sh" --timeout 3 -- sleep 100 >"$work/out2" 2>&1 || rc=$?
check "a VM outliving --timeout makes run.sh exit 124" 124 "$rc"
check "and says so" "1" "$(grep -c 'timed out after 3s' "$work/out2" || true)"

rc=0
"$lab/run.sh" --systemd --timeout 300 -- bash -c 'echo "pid1=$(cat /proc/1/comm)"; systemctl is-active acdlab-run.service; exit 5' \
    >"$work/out3" 2>&1 || rc=$?
check "--systemd: the command's exit status 5 is run.sh's" 5 "$rc"
check "--systemd: systemd is PID 1" "pid1=systemd" "$(grep '^pid1=' "$work/out3" || true)"
check "--systemd: the command runs as the unit acdlab-run.service" "activating" "$(grep -x 'activating' "$work/out3" || true)"
[[ $rc == 5 ]] || echo "# output was: $(cat "$work/out3")"

echo "1..$n"
if ((failed > 0)); then
    echo "lab selftest: $failed of $n failed"
    exit 1
fi
echo "lab selftest: all $n passed"
