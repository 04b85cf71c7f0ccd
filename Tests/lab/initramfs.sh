#!/usr/bin/env bash
# Builds the lab's initramfs: busybox-static with its applet links, the modules needed to reach the
# host's / (virtio_pci, 9pnet_virtio, 9p, overlay, plus their dependencies from modules.dep) and
# Tests/lab/init.sh as /init (init-systemd.sh beside it). Cached in the lab cache by a hash of
# everything that goes in; prints
#   INITRAMFS=/path/to/initramfs-HASH.cpio.gz
# Uses KERNEL_VERSION/KERNEL_MODULES from the environment, or runs kernel.sh to get them.
set -euo pipefail
# shellcheck source=Tests/lab/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ -z ${KERNEL_VERSION:-} || -z ${KERNEL_MODULES:-} ]]; then
    eval "$("$LAB_DIR/kernel.sh")"
fi
lab_need_packages busybox-static cpio
busybox=/bin/busybox
"$busybox" --list-full >/dev/null 2>&1 || lab_die "$busybox is not busybox-static (apt-get install busybox-static)"

declare -A seen=()
order=()
# Appends a module's dependencies, then the module, so insmod in list order works.
add_module() {
    local rel=$1 dep
    [[ -n ${seen[$rel]:-} ]] && return 0
    seen[$rel]=1
    local line
    line=$(grep -m1 "^$rel:" "$KERNEL_MODULES/modules.dep") || lab_die "$rel is not in modules.dep"
    for dep in ${line#*:}; do
        add_module "$dep"
    done
    order+=("$rel")
}
for name in virtio_pci 9pnet_virtio 9p overlay; do
    rel=$(grep -m1 -E "^([^:]*/)?$name\.ko(\.[a-z]+)?:" "$KERNEL_MODULES/modules.dep" | cut -d: -f1) \
        || lab_die "module $name not found in $KERNEL_MODULES/modules.dep"
    add_module "$rel"
done

hash=$(
    {
        echo "$KERNEL_VERSION"
        sha256sum "$LAB_DIR/initramfs.sh" "$LAB_DIR/init.sh" "$LAB_DIR/init-systemd.sh" "$busybox" | cut -d' ' -f1
        for rel in "${order[@]}"; do
            echo "$rel $(sha256sum "$KERNEL_MODULES/$rel" | cut -d' ' -f1)"
        done
    } | sha256sum | cut -c1-16
)
out=$LAB_CACHE/initramfs-$KERNEL_VERSION-$hash.cpio.gz
if [[ ! -s $out ]]; then
    lab_cache_dir
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,lib/early,lib/modules}
    cp "$busybox" "$tmp/bin/busybox"
    "$busybox" --list-full | while read -r applet; do
        [[ -e $tmp/$applet ]] || ln -s /bin/busybox "$tmp/$applet"
    done
    for rel in "${order[@]}"; do
        cp "$KERNEL_MODULES/$rel" "$tmp/lib/early/"
        basename "$rel"
    done >"$tmp/etc/lab-modules"
    install -m 0755 "$LAB_DIR/init.sh" "$tmp/init"
    install -m 0644 "$LAB_DIR/init-systemd.sh" "$tmp/lib/init-systemd.sh"
    (cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet | gzip -n -6) \
        >"$out.tmp.$$"
    mv "$out.tmp.$$" "$out"
fi
printf 'INITRAMFS=%q\n' "$out"
