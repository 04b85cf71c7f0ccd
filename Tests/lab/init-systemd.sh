# Sourced by the lab's /init (busybox sh) when the kernel command line says acdlab.init=systemd: the
# host's systemd becomes PID 1 on the overlay root that init.sh prepared at $r, so that a package's unit
# runs the way it does on a real host (Type=notify, watchdog, journald, systemctl, dpkg's maintainer
# scripts seeing /run/systemd/system). It boots acdlab.target: journald and acdlab-run.service, a
# oneshot that runs /run/lab/cmd, prints the markers run.sh parses, writes /run/lab/exit and powers the
# VM off. Whatever a unit the command starts pulls in (sysinit.target, dbus.socket) still works; what a
# lab never needs (udev, getty, timers, time sync, the persistent journal) is masked, for boot time.
# Uses $r, $nonce, $version, $modules, $verbose and fail() from init.sh.
# shellcheck shell=sh

boot_systemd() {
    [ -x "$r/lib/systemd/systemd" ] || fail "systemd is not installed on the host's / (apt-get install systemd)"
    # After switch_root the kernel's module helper resolves /sbin/modprobe in the new root, which then
    # needs the lab kernel's modules at /lib/modules/VERSION (the host's own kernel is another one).
    mkdir -p "$r/lib/modules/$version"
    mount --bind "/lower$modules" "$r/lib/modules/$version" || fail "cannot bind the modules tree into the new root"
    [ -L "$r/sbin/modprobe" ] || [ -x "$r/sbin/modprobe" ] || fail "no /sbin/modprobe on the host's / (apt-get install kmod)"

    etc=$r/etc/systemd/system
    mkdir -p "$etc"
    # A booted host has no policy-rc.d: dpkg's maintainer scripts start and restart units here. Nor is it
    # a container: with /.dockerenv systemd would think so and ignore the kernel command line.
    rm -f "$r/usr/sbin/policy-rc.d" "$r/.dockerenv" "$r/run/.containerenv"
    for unit in getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service systemd-pstore.service \
        systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
        systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
        systemd-random-seed.service systemd-firstboot.service systemd-machine-id-commit.service \
        systemd-remount-fs.service systemd-fsck-root.service systemd-binfmt.service \
        proc-sys-fs-binfmt_misc.automount sys-kernel-debug.mount sys-kernel-tracing.mount \
        sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
        systemd-update-utmp.service systemd-journal-catalog-update.service systemd-update-done.service \
        systemd-journal-flush.service systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer \
        modprobe@dm_mod.service modprobe@drm.service modprobe@loop.service modprobe@efi_pstore.service \
        modprobe@configfs.service modprobe@fuse.service systemd-pcrphase-sysinit.service systemd-repart.service \
        ldconfig.service e2scrub_reap.service apt-daily.timer apt-daily-upgrade.timer \
        systemd-networkd-wait-online.service networking.service ifupdown-wait-online.service \
        remote-fs.target timers.target; do
        ln -sf /dev/null "$etc/$unit"
    done

    # Generators (fstab, getty, sysv scripts, postgresql...) each cost a process start under TCG and
    # produce nothing a lab needs: mask them all (a /dev/null link of the same name in /etc).
    mkdir -p "$r/etc/systemd/system-generators"
    for gen in "$r"/lib/systemd/system-generators/*; do
        [ -e "$gen" ] && ln -sf /dev/null "$r/etc/systemd/system-generators/${gen##*/}"
    done

    cat >"$r/etc/acdlab-run.sh" <<EOF
#!/bin/sh
echo "ACDLAB-READY $nonce"
/usr/bin/env -i /bin/bash /run/lab/cmd </dev/null
rc=\$?
echo "\$rc" >/run/lab/exit
sync
echo "ACDLAB-EXIT-$nonce \$rc"
EOF
    chmod 0755 "$r/etc/acdlab-run.sh"
    cat >"$etc/acdlab.target" <<'EOF'
[Unit]
Description=anycastd kernel lab
Requires=acdlab-run.service
AllowIsolate=yes
EOF
    cat >"$etc/acdlab-run.service" <<'EOF'
[Unit]
Description=anycastd kernel lab: the test command
DefaultDependencies=no
Wants=systemd-journald.socket
After=systemd-journald.socket
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate

[Service]
Type=oneshot
ExecStart=/etc/acdlab-run.sh
TimeoutStartSec=infinity
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no
EOF
    echo "acdlab: switch_root into systemd"
    # The unit and quiet console as arguments too: systemd ignores the kernel command line when it
    # believes it runs in a container.
    exec switch_root "$r" /lib/systemd/systemd --unit=acdlab.target --show-status=0
}
