# Shared helpers for the kernel lab scripts (kernel.sh, initramfs.sh, run.sh): logging, the cache
# folder, and installing missing Debian packages once. Sourced, never run.
# shellcheck shell=bash

# The cache lives outside the clone so later runs on this machine skip the 70 MB kernel download;
# nothing assumes it exists.
LAB_CACHE=${ANYCASTD_LAB_CACHE:-/var/cache/anycastd-lab}
# shellcheck disable=SC2034 # used by the scripts that source this file
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

lab_log() { printf 'lab: %s\n' "$*" >&2; }

lab_die() {
    printf 'lab: error: %s\n' "$*" >&2
    exit 1
}

# Whether ANYCASTD_LAB_VERBOSE asks for the details (kernel console, apt output).
lab_verbose() { [[ ${ANYCASTD_LAB_VERBOSE:-0} != 0 ]]; }

# Installs the named Debian packages that are not installed yet. `dpkg -s` is quick, so repeated runs
# cost nothing; `apt-get update` runs at most once per process and only when something is missing.
LAB_APT_UPDATED=0
lab_need_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    ((EUID == 0)) || lab_die "packages missing: ${missing[*]} (run as root, or: apt-get install -y ${missing[*]})"
    lab_log "installing ${missing[*]}"
    local out=/dev/null
    lab_verbose && out=/dev/stderr
    if ((LAB_APT_UPDATED == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update >"$out" 2>&1 \
            || lab_die "apt-get update failed (network? rerun with ANYCASTD_LAB_VERBOSE=1)"
        LAB_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
        "${missing[@]}" >"$out" 2>&1 \
        || lab_die "apt-get install ${missing[*]} failed (rerun with ANYCASTD_LAB_VERBOSE=1)"
}

# Creates the cache folder. It is world-writable because `apt-get download` drops to the `_apt` user.
lab_cache_dir() {
    mkdir -p "$LAB_CACHE" || lab_die "cannot create cache folder $LAB_CACHE (set ANYCASTD_LAB_CACHE)"
    chmod 1777 "$LAB_CACHE" 2>/dev/null || true
}
