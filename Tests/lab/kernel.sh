#!/usr/bin/env bash
# Makes sure a stock Debian 12 kernel (linux-image-6.1.0-N-amd64, the generic flavour, which has
# dummy, veth, 9p and overlay as modules) is unpacked in the lab cache, and prints where it is as
# shell assignments for run.sh and initramfs.sh: eval "$(Tests/lab/kernel.sh)".
#   KERNEL_VERSION  e.g. 6.1.0-56-amd64
#   KERNEL_ROOT     the unpacked package (boot/, lib/modules/)
#   KERNEL_IMAGE    KERNEL_ROOT/boot/vmlinuz-VERSION
#   KERNEL_MODULES  KERNEL_ROOT/lib/modules/VERSION, with modules.dep and modules.alias from depmod
# Fast when cached; downloads about 70 MB otherwise. ANYCASTD_LAB_CACHE moves the cache.
set -euo pipefail
# shellcheck source=Tests/lab/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}
[[ ${1:-} == -h || ${1:-} == --help ]] && usage
(($# == 0)) || usage 2

# The package that linux-image-amd64 currently depends on, e.g. linux-image-6.1.0-56-amd64.
current_package() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9][^ ]*-amd64$/ { print $2; exit }'
}

# The newest kernel already unpacked in the cache, for machines that cannot reach the mirror.
newest_cached() {
    local d
    for d in "$LAB_CACHE"/kernel-*/.ready; do
        [[ -e $d ]] && basename "$(dirname "$d")"
    done | sed 's/^kernel-//' | sort -V | tail -n 1
}

print_paths() {
    local version=$1 root=$LAB_CACHE/kernel-$1
    printf 'KERNEL_VERSION=%q\n' "$version"
    printf 'KERNEL_ROOT=%q\n' "$root"
    printf 'KERNEL_IMAGE=%q\n' "$root/boot/vmlinuz-$version"
    printf 'KERNEL_MODULES=%q\n' "$root/lib/modules/$version"
}

lab_need_packages kmod util-linux

package=$(current_package || true)
if [[ -z $package ]]; then
    # A fresh machine has no package lists yet.
    if ((EUID == 0)) && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update >/dev/null 2>&1; then
        package=$(current_package || true)
    fi
fi
if [[ -z $package ]]; then
    version=$(newest_cached || true)
    [[ -n $version ]] || lab_die "cannot find the Debian kernel package: 'apt-cache depends linux-image-amd64' names none (is a Debian 12 (bookworm) apt source configured? run apt-get update)"
    lab_log "apt does not name a kernel; using cached $version"
    print_paths "$version"
    exit 0
fi
version=${package#linux-image-}
root=$LAB_CACHE/kernel-$version

if [[ ! -e $root/.ready ]]; then
    lab_cache_dir
    exec 9>"$LAB_CACHE/.kernel.lock"
    flock 9 # another run may be unpacking the same kernel
    if [[ ! -e $root/.ready ]]; then
        download=$LAB_CACHE/download
        mkdir -p "$download"
        chmod 1777 "$download"
        lab_log "downloading $package (about 70 MB, once per machine) into $download"
        out=/dev/null
        lab_verbose && out=/dev/stderr
        (cd "$download" && apt-get download "$package" >"$out" 2>&1) \
            || lab_die "apt-get download $package failed (network? rerun with ANYCASTD_LAB_VERBOSE=1)"
        debs=("$download/${package}"_*.deb)
        deb=${debs[-1]}
        [[ -f $deb ]] || lab_die "apt-get download left no ${package}_*.deb in $download"
        tmp=$root.tmp.$$
        rm -rf "$tmp"
        dpkg -x "$deb" "$tmp" || lab_die "dpkg -x $deb failed"
        # Debian may ship the modules under usr/lib (merged /usr); depmod -b wants lib/modules.
        if [[ ! -d $tmp/lib/modules/$version && -d $tmp/usr/lib/modules/$version ]]; then
            mkdir -p "$tmp/lib/modules"
            mv "$tmp/usr/lib/modules/$version" "$tmp/lib/modules/$version"
        fi
        [[ -f $tmp/boot/vmlinuz-$version ]] || lab_die "$deb has no boot/vmlinuz-$version"
        [[ -d $tmp/lib/modules/$version ]] || lab_die "$deb has no lib/modules/$version"
        depmod -b "$tmp" "$version" || lab_die "depmod -b $tmp $version failed"
        touch "$tmp/.ready"
        rm -rf "$root"
        mv "$tmp" "$root"
        rm -f "$deb"
    fi
    exec 9>&-
fi
print_paths "$version"
