#!/bin/sh
# /init of the lab initramfs (busybox sh, PID 1). It mounts the host's / (9p, read-only) under a tmpfs
# overlay, makes the full modules tree reachable for module autoload, mounts the control share that
# run.sh filled, runs its command in a chroot, prints the exit marker run.sh parses, and powers off.
# With acdlab.init=systemd it instead writes a small set of units into the overlay and switch_roots
# into the host's systemd as PID 1; the command then runs as the oneshot unit acdlab-run.service,
# which prints the same markers and powers the VM off.
# Settings come from the kernel command line (acdlab.*), written by run.sh.
export PATH=/sbin:/bin
umask 022

fail() {
    echo "ACDLAB-FAIL $*"
    poweroff -f
    sleep 60
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

nonce='' modules='' share='' verbose=0 msize=262144 init=chroot
# shellcheck disable=SC2013 # the command line is words
for arg in $(cat /proc/cmdline); do
    case $arg in
    acdlab.nonce=*) nonce=${arg#*=} ;;
    acdlab.modules=*) modules=${arg#*=} ;;
    acdlab.share=*) share=${arg#*=} ;;
    acdlab.verbose=*) verbose=${arg#*=} ;;
    acdlab.init=*) init=${arg#*=} ;;
    esac
done
version=$(uname -r)
# Keep kernel messages (link up, module loads) out of the command's output unless asked for.
[ "$verbose" = 1 ] || echo 1 >/proc/sys/kernel/printk

# shellcheck disable=SC2013 # one module name per line
for ko in $(cat /etc/lab-modules); do
    insmod "/lib/early/$ko" || fail "insmod $ko failed"
done

nine="trans=virtio,version=9p2000.L,msize=$msize"
mkdir -p /lower /upper /newroot
mount -t 9p -o "$nine,ro,cache=loose" hostroot /lower || fail "cannot mount the host's / over 9p"
mount -t tmpfs -o mode=0755 upper /upper || fail "cannot mount tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot \
    || fail "cannot mount the overlay on the host's /"

# The kernel's module helper runs in this initial root, not in the chroot: give it the full tree.
mkdir -p "/lib/modules/$version"
if [ -z "$modules" ] || [ ! -f "/lower$modules/modules.dep" ]; then
    fail "no modules tree at '$modules' on the host"
fi
mount --bind "/lower$modules" "/lib/modules/$version" || fail "cannot bind the modules tree"
echo /sbin/modprobe >/proc/sys/kernel/modprobe

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
# What udev would add: bash process substitution needs /dev/fd.
ln -sf /proc/self/fd $r/dev/fd
ln -sf /proc/self/fd/0 $r/dev/stdin
ln -sf /proc/self/fd/1 $r/dev/stdout
ln -sf /proc/self/fd/2 $r/dev/stderr
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 shm $r/dev/shm
mount -t tmpfs -o mode=1777 tmp $r/tmp
mount -t tmpfs -o mode=0755 run $r/run
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
mkdir -p $r/run/lab
mount -t 9p -o "$nine" labctl $r/run/lab || fail "cannot mount the control share"
if [ -n "$share" ]; then
    mkdir -p "$r$share"
    mount -t 9p -o "$nine" labshare "$r$share" || fail "cannot mount the shared folder $share"
fi

# Package operations in the lab (Tests/system/t-deb.sh, systemd.sh) without the costs that are not the
# package's: man-db's trigger rebuilds the whole manual index unless its auto-update flag is gone
# (minutes under TCG; `man PAGE` still finds pages by path), and apt parses every downloaded package
# list although the lab installs local .deb files whose dependencies the host already has (tens of
# seconds). Both only in the overlay: the host keeps its files.
rm -f $r/var/lib/man-db/auto-update
mkdir -p $r/etc/apt/apt.conf.d $r/var/lib/acdlab-apt-lists/partial
cat >$r/etc/apt/apt.conf.d/00acdlab <<'APT'
Dir::State::Lists "/var/lib/acdlab-apt-lists";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT

if [ "$init" = systemd ]; then
    # shellcheck source=Tests/lab/init-systemd.sh
    . /lib/init-systemd.sh
    boot_systemd # does not return
fi
ip link set lo up 2>/dev/null

echo "ACDLAB-READY $nonce"
chroot $r /usr/bin/env -i /bin/bash /run/lab/cmd </dev/null
rc=$?
echo "$rc" >$r/run/lab/exit
sync
echo "ACDLAB-EXIT-$nonce $rc"
poweroff -f
sleep 60
