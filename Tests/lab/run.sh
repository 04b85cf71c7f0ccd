#!/usr/bin/env bash
# Runs a command inside a stock Debian 12 kernel booted with qemu (TCG), so that what this host's
# kernel lacks (the dummy link type) can be tested. The VM's root is the host's / (read-only 9p,
# tmpfs overlay on top: writes stay in the VM); the working directory is the caller's.
#
#   Tests/lab/run.sh [--timeout SECONDS] [--share DIR] [--env NAME=VALUE]... [--systemd] -- COMMAND [ARG...]
#   Tests/lab/run.sh [options] SCRIPT [ARG...]       (the script is copied in, so it may live in /tmp)
#
#   --timeout SECONDS  kill the VM after this long (default 600); run.sh then exits 124
#   --share DIR        share the host folder DIR read-write, at the same path inside the VM
#   --env NAME=VALUE   set a variable for the command (ANYCASTD_* variables are passed on anyway)
#   --systemd          boot the host's systemd as PID 1 and run the command as a oneshot unit
#
# The command's stdout and stderr appear on stdout, and its exit status is run.sh's. Inside, the
# command sees ANYCASTD_LAB=1, host /tmp and /run are fresh tmpfs, and `ip link add X type dummy`
# loads the module as on a real host. ANYCASTD_LAB_VERBOSE=1 shows the kernel console on stderr.
set -euo pipefail
# shellcheck source=Tests/lab/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '4,18s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

timeout_s=600
share=''
envs=()
script=''
init=chroot
while (($# > 0)); do
    case $1 in
    --timeout)
        [[ ${2:-} =~ ^[0-9]+$ ]] || lab_die "--timeout needs a number of seconds"
        timeout_s=$2
        shift 2
        ;;
    --share)
        [[ -d ${2:-} ]] || lab_die "--share needs an existing folder (got '${2:-}')"
        share=$(cd "$2" && pwd -P)
        shift 2
        ;;
    --env)
        [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || lab_die "--env needs NAME=VALUE (got '${2:-}')"
        envs+=("$2")
        shift 2
        ;;
    --systemd)
        init=systemd
        shift
        ;;
    -h | --help) usage ;;
    --)
        shift
        break
        ;;
    -*) usage 2 ;;
    *)
        script=$1
        [[ -f $script ]] || lab_die "$script: no such script (use -- before a command)"
        shift
        break
        ;;
    esac
done
(($# > 0)) || [[ -n $script ]] || usage 2
# The VM's /tmp and /run are fresh, so a working directory under them (a CI clone in /tmp, say) would
# vanish: share it at the same path instead.
here=$(pwd -P)
if [[ $here == /tmp/* || $here == /run/* ]]; then
    if [[ -z $share ]]; then
        share=$here
    elif [[ $here != "$share" && $here != "$share"/* ]]; then
        lab_die "the working directory $here is under /tmp or /run and must be shared, but --share names $share"
    fi
fi
if [[ $share == *[[:space:],]* ]]; then
    lab_die "--share $share: the path must not contain spaces or commas (qemu and kernel arguments)"
fi

lab_need_packages qemu-system-x86 busybox-static kmod cpio util-linux
eval "$("$LAB_DIR/kernel.sh")"
export KERNEL_VERSION KERNEL_MODULES
eval "$("$LAB_DIR/initramfs.sh")"
[[ $KERNEL_MODULES != *[[:space:],]* ]] || lab_die "the lab cache path must not contain spaces or commas"

ctl=$(mktemp -d "${TMPDIR:-/tmp}/anycastd-lab.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() { rm -rf "$ctl"; }
trap cleanup EXIT
nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# The command file: a clean environment, the caller's directory, then the command itself.
{
    echo '#!/bin/bash'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8'
    printf 'export ANYCASTD_LAB=1 ANYCASTD_LAB_KERNEL=%q\n' "$KERNEL_VERSION"
    [[ -n $share ]] && printf 'export ANYCASTD_LAB_SHARE=%q\n' "$share"
    while IFS='=' read -r name _; do
        [[ $name == ANYCASTD_* && $name != ANYCASTD_LAB* ]] && printf 'export %s=%q\n' "$name" "${!name}"
    done < <(env)
    for kv in "${envs[@]}"; do
        printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
    done
    printf 'cd -- %q 2>/dev/null || { echo "lab: %s is not visible in the VM (host /tmp and /run are not shared); running in /" >&2; cd /; }\n' \
        "$PWD" "$PWD"
    if [[ -n $script ]]; then
        cp -- "$script" "$ctl/script"
        printf 'exec /bin/bash /run/lab/script'
    else
        printf 'exec'
    fi
    printf ' %q' "$@"
    echo
} >"$ctl/cmd"

append="console=ttyS0 quiet panic=-1 no_timer_check acdlab.nonce=$nonce acdlab.modules=$KERNEL_MODULES"
[[ -n $share ]] && append+=" acdlab.share=$share"
lab_verbose && append+=" acdlab.verbose=1"
if [[ $init == systemd ]]; then
    [[ -x /lib/systemd/systemd ]] || lab_die "--systemd: /lib/systemd/systemd is missing on this host (apt-get install systemd)"
    # The lab's own target instead of multi-user.target; no status lines on the console.
    append+=" acdlab.init=systemd systemd.unit=acdlab.target systemd.show_status=0"
fi
# shellcheck disable=SC2054 # the commas are qemu option syntax
qemu=(
    qemu-system-x86_64 -accel tcg,thread=multi -cpu "${ANYCASTD_LAB_CPU:-max}" -smp 2 -m 2048
    -nographic -no-reboot -nic none
    -kernel "$KERNEL_IMAGE" -initrd "$INITRAMFS" -append "$append"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$ctl,mount_tag=labctl,security_model=none,multidevs=remap"
)
[[ -n $share ]] && qemu+=(-virtfs "local,path=$share,mount_tag=labshare,security_model=none,multidevs=remap")

start=$EPOCHREALTIME
exec {console}< <(timeout --kill-after=10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1)
qemu_pid=$!
state=booting
rc=''
failure=''
while IFS= read -r -u "$console" line || [[ -n $line ]]; do
    line=${line%$'\r'}
    case $state in
    booting)
        if [[ $line == *"ACDLAB-READY $nonce" ]]; then  # SeaBIOS escape codes may come first
            state=running
            lab_log "booted $KERNEL_VERSION in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s"
        elif [[ $line == *ACDLAB-FAIL* ]]; then
            failure=${line#*ACDLAB-FAIL }
        elif lab_verbose; then
            printf '%s\n' "$line" >&2
        fi
        ;;
    running)
        if [[ $line == *"ACDLAB-EXIT-$nonce "* ]]; then
            # A last line without a newline shares the marker's line.
            [[ -n ${line%%ACDLAB-EXIT-*} ]] && printf '%s\n' "${line%%ACDLAB-EXIT-*}"
            rc=${line##* }
            state=finished
        else
            printf '%s\n' "$line"
        fi
        ;;
    finished) lab_verbose && printf '%s\n' "$line" >&2 ;;
    esac
done
exec {console}<&-
# SeaBIOS turns off line wrapping on the terminal it printed to; turn it back on.
lab_verbose && [[ -t 2 ]] && printf '\e[?7h' >&2
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?

if [[ ! $rc =~ ^[0-9]+$ && -s $ctl/exit ]]; then
    rc=$(<"$ctl/exit")
fi
if [[ $rc =~ ^[0-9]+$ ]]; then
    exit "$rc"
fi
if [[ -n $failure ]]; then
    lab_log "error: the VM could not start the command: $failure (rerun with ANYCASTD_LAB_VERBOSE=1)"
elif ((qemu_rc == 124 || qemu_rc == 137)); then
    lab_log "error: timed out after ${timeout_s}s; the VM was killed (raise --timeout?)"
    exit 124
elif [[ $state == booting ]]; then
    lab_log "error: the VM stopped before running the command (qemu status $qemu_rc); rerun with ANYCASTD_LAB_VERBOSE=1 to see the kernel console"
else
    lab_log "error: the VM stopped without reporting the command's exit status (kernel panic? qemu status $qemu_rc); rerun with ANYCASTD_LAB_VERBOSE=1"
fi
exit 125
