#!/usr/bin/env bash
# Builds build/anycastd_VERSION_amd64.deb with plain dpkg-deb from the release binary (`make release`:
# Swift runtime linked statically, PIE, BIND_NOW) and the files under packaging/ and man/. Depends is
# computed by dpkg-shlibdeps. `make deb` runs it after `make release`.
#
#   packaging/build-deb.sh [--binary PATH] [--out DIR]
#
# The binary defaults to .build/release/anycastd, the output folder to build/. The package is
# reproducible: every timestamp is the date of the newest packaging/debian/changelog entry.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
binary=.build/release/anycastd
out=build

die() {
    echo "build-deb: $*" >&2
    exit 1
}

while (($# > 0)); do
    case $1 in
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    -h | --help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

for tool in dpkg-deb dpkg-shlibdeps readelf strip gzip ldd; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install dpkg-dev binutils"
done
[[ -x $binary ]] || die "$binary not found: build it with 'make release'"

# --- the binary must run without a Swift toolchain and be hardened ----------------------------------
if ldd "$binary" | grep -q 'libswift\|libFoundation\|libdispatch\|libBlocksRuntime'; then
    die "$binary links Swift libraries dynamically (build with --static-swift-stdlib):"$'\n'"$(ldd "$binary")"
fi
readelf -h "$binary" | grep -q 'Type:[[:space:]]*DYN' || die "$binary is not a position-independent executable"
readelf -d "$binary" | grep -qE 'BIND_NOW|FLAGS_1.*NOW' || die "$binary lacks BIND_NOW (link with -z now)"
readelf -l "$binary" | grep -q 'GNU_RELRO' || die "$binary lacks RELRO"
# packaging/debian/copyright names what is linked in; ICU (Unicode licence) is not, since the program
# uses FoundationEssentials only. Linking full Foundation again must update the copyright file.
if readelf -sW "$binary" | grep -q 'icudt[0-9]*_dat' && ! grep -q '^License: Unicode' packaging/debian/copyright; then
    die "$binary contains ICU data (full Foundation is linked): add ICU and its Unicode licence to packaging/debian/copyright"
fi

# --- versions ---------------------------------------------------------------------------------------
changelog=packaging/debian/changelog
version=$(sed -n '1s/^anycastd (\([^)]*\)).*/\1/p' "$changelog")
[[ -n $version ]] || die "$changelog: first line must be 'anycastd (VERSION) ...'"
upstream=${version%-*}
program_version=$("$binary" version | awk '{print $2}')
[[ $program_version == "$upstream" ]] ||
    die "the binary says version $program_version but $changelog says $version; add a changelog entry"
changelog_date=$(sed -n 's/^ -- .*>  \(.*\)$/\1/p' "$changelog" | head -1)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date -d "$changelog_date" +%s)}
arch=amd64

# --- the tree ----------------------------------------------------------------------------------------
stage=$out/deb/anycastd_${version}_$arch
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
doc=$stage/usr/share/doc/anycastd

install -D -m 0755 "$binary" "$stage/usr/sbin/anycastd"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/anycastd"
install -D -m 0644 packaging/anycastd.service "$stage/usr/lib/systemd/system/anycastd.service"
install -D -m 0644 packaging/anycastd.json "$stage/etc/anycastd/anycastd.json"
mkdir -p "$stage/usr/share/anycastd"
"$binary" schema >"$stage/usr/share/anycastd/anycastd.schema.json"
chmod 0644 "$stage/usr/share/anycastd/anycastd.schema.json"
cmp -s "$stage/usr/share/anycastd/anycastd.schema.json" packaging/anycastd.schema.json ||
    die "'anycastd schema' differs from packaging/anycastd.schema.json: run packaging/sync-schema.sh and rebuild"

install -D -m 0644 man/anycastd.8 "$stage/usr/share/man/man8/anycastd.8"
install -D -m 0644 man/anycastd.json.5 "$stage/usr/share/man/man5/anycastd.json.5"
gzip -9n "$stage/usr/share/man/man8/anycastd.8" "$stage/usr/share/man/man5/anycastd.json.5"

install -D -m 0644 packaging/debian/copyright "$doc/copyright"
install -m 0644 packaging/debian/changelog "$doc/changelog.Debian"
install -m 0644 CHANGELOG.md "$doc/changelog"
gzip -9n "$doc/changelog.Debian" "$doc/changelog"
mkdir -p "$doc/examples/routers"
install -m 0644 packaging/examples/*.json "$doc/examples/"
install -m 0644 packaging/examples/routers/* "$doc/examples/routers/"

"$binary" --generate-completion-script bash >"$out/completion.bash"
"$binary" --generate-completion-script zsh >"$out/completion.zsh"
"$binary" --generate-completion-script fish >"$out/completion.fish"
# bash-completion sources the file; a #! line would make it look like a program (lintian).
sed -i '1{/^#!/d}' "$out/completion.bash"
install -D -m 0644 "$out/completion.bash" "$stage/usr/share/bash-completion/completions/anycastd"
install -D -m 0644 "$out/completion.zsh" "$stage/usr/share/zsh/vendor-completions/_anycastd"
install -D -m 0644 "$out/completion.fish" "$stage/usr/share/fish/vendor_completions.d/anycastd.fish"
rm -f "$out"/completion.*

if [[ -s packaging/debian/lintian-overrides ]]; then
    install -D -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/anycastd"
fi

# --- control files -----------------------------------------------------------------------------------
# dpkg-shlibdeps reads debian/control of a source package; give it a minimal one in a scratch folder.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/anycastd-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/debian"
printf 'Source: anycastd\n\nPackage: anycastd\nArchitecture: %s\n' "$arch" >"$scratch/debian/control"
shlibs=$(cd "$scratch" && dpkg-shlibdeps -O -e"$root/$stage/usr/sbin/anycastd" 2>"$scratch/shlibdeps.err") ||
    die "dpkg-shlibdeps failed: $(cat "$scratch/shlibdeps.err")"
shlibs=${shlibs#shlibs:Depends=}
# libmnl0 comes from dpkg-shlibdeps already (the binary links libmnl.so.0); it is named again so that a
# change in linking cannot drop it silently. adduser is used by postinst.
depends=$(printf '%s\n' "$shlibs" | tr ',' '\n' | sed 's/^ *//; /^$/d')
grep -q '^libmnl0\b' <<<"$depends" || depends+=$'\n'"libmnl0"
depends+=$'\n'"adduser"
depends=$(sort -u <<<"$depends" | paste -sd, | sed 's/,/, /g')

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@DEPENDS@/$depends/" \
    packaging/debian/control >"$stage/DEBIAN/control"
echo /etc/anycastd/anycastd.json >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/debian/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

deb=$out/anycastd_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "build-deb: $deb"
dpkg-deb --field "$deb" Version Depends Installed-Size | sed 's/^/build-deb:   /'

# --- lintian: no errors, no warnings (overrides in packaging/debian/lintian-overrides say why) -----
if [[ ${ANYCASTD_DEB_LINTIAN:-1} == 1 ]]; then
    command -v lintian >/dev/null || die "lintian is missing: apt-get install lintian (or ANYCASTD_DEB_LINTIAN=0)"
    report=$(lintian --pedantic --display-info --show-overrides "$deb" 2>&1 | grep -v '^running with root privileges' || true)
    [[ -z $report ]] || printf '%s\n' "$report" | sed 's/^/build-deb: lintian: /'
    if grep -qE '^[EW]: ' <<<"$report"; then
        die "lintian reports errors or warnings for $deb"
    fi
    echo "build-deb: lintian: no errors, no warnings"
fi
