#!/usr/bin/env bash
# Installs everything the build and every test tier need, from Debian's archive. Quick when all is there.
set -euo pipefail
packages=(
    libmnl-dev pkg-config iproute2 kmod cpio busybox-static qemu-system-x86
    bird2 frr gobgpd exabgp dnsmasq-base bind9-dnsutils tcpdump procps psmisc
    jq curl python3 python3-jsonschema mandoc groff man-db systemd lintian dpkg-dev fakeroot prometheus
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "deps: no Swift toolchain on PATH (swift 6.x is needed to build)" >&2; exit 1; }
