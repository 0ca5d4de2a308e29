#!/usr/bin/env bash
# Build an OpenWrt package (.ipk) of linxdot-exporter, in the layout of
# OpenWrt's ipkg-build, byte for byte reproducible.
#
# usage: scripts/build-ipk.sh [--arch ARCH] [--target TRIPLE] [--release N]
#                             [--binary PATH] [--out-dir DIR]
#   --arch ARCH      opkg architecture (default aarch64_generic); the device
#                    tells its own with `opkg print-architecture`. The ones
#                    scripts/platforms.sh lists (IPK_ARCHES) need no --target
#   --target TRIPLE  Rust target to build with scripts/build-static.sh
#                    (default: the architecture's row in scripts/platforms.sh)
#   --release N      package release, the N of VERSION-N (default 1)
#   --binary PATH    package this static binary instead of building one
#   --out-dir DIR    where the .ipk goes (default dist/)
#   --install, --no-install  passed to build-static.sh (what it may install)
#
# Result: DIR/linxdot-exporter_VERSION-N_ARCH.ipk, VERSION from Cargo.toml.
# File times are SOURCE_DATE_EPOCH, or the time of the last git commit.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { printf 'build-ipk: error: %s\n' "$*" >&2; exit 1; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
arch=aarch64_generic
target=""
static_opts=()
release=1
binary=""
out_dir="$repo/dist"

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi; }
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) need_value "$@"; arch="$2"; shift ;;
        --arch=*) arch="${1#*=}" ;;
        --target) need_value "$@"; target="$2"; shift ;;
        --target=*) target="${1#*=}" ;;
        --release) need_value "$@"; release="$2"; shift ;;
        --release=*) release="${1#*=}" ;;
        --binary) need_value "$@"; binary="$2"; shift ;;
        --binary=*) binary="${1#*=}" ;;
        --out-dir) need_value "$@"; out_dir="$2"; shift ;;
        --out-dir=*) out_dir="${1#*=}" ;;
        --install|--no-install) static_opts+=("$1") ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift
done

[[ "$arch" =~ ^[a-z0-9_-]+$ ]] || die "--arch '$arch' is not an opkg architecture (e.g. aarch64_generic)"
[[ "$release" =~ ^[0-9]+$ ]] || die "--release '$release' is not a number"
# shellcheck source=scripts/platforms.sh
source "$repo/scripts/platforms.sh"
if [ -z "$target" ] && [ -z "$binary" ]; then
    target="$(ipk_target "$arch")" ||
        die "no Rust target known for '$arch' (scripts/platforms.sh, IPK_ARCHES): give --target or --binary"
fi

# --- metadata from Cargo.toml ---------------------------------------------------
name="$(cargo_field name)"
version="$(cargo_field version)"
license="$(cargo_field license)"
url="$(cargo_field repository)"
description="$(cargo_field description)"
[ "$name" = linxdot-exporter ] || die "Cargo.toml: package name '$name' is not linxdot-exporter"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "Cargo.toml: no usable version ('$version')"
# Cargo.toml names no repository until the project has one it can vouch
# for; then the package gets a URL field and a contact address.
maintainer="${IPK_MAINTAINER:-linxdot-exporter developers${url:+ <${url}/issues>}}"
url_field="${url:+URL: $url
}"

# --- the binary -----------------------------------------------------------------
if [ -z "$binary" ]; then
    "$repo/scripts/build-static.sh" "${static_opts[@]}" "$target" >&2
    binary="${CARGO_TARGET_DIR:-$repo/target}/$target/release/linxdot-exporter"
fi
[ -f "$binary" ] || die "no binary at $binary"
command -v file >/dev/null || die "'file' is needed to check the binary (Debian package file)"
info="$(file -b "$binary")"
case "$info" in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) die "$binary is not a static executable: $info" ;;
esac
# The machine the binary is for must be the one the architecture names: opkg
# installs whatever the Architecture field says.
case "$arch" in
    aarch64*) want='ELF 64-bit LSB .*ARM aarch64' ;;
    arm_*) want='ELF 32-bit LSB .*ARM,' ;;
    mipsel_*|mips64el_*) want='ELF (32|64)-bit LSB .*MIPS' ;;
    mips_*|mips64_*) want='ELF (32|64)-bit MSB .*MIPS' ;;
    x86_64) want='ELF 64-bit LSB .*x86-64' ;;
    i386_*) want='ELF 32-bit LSB .*Intel 80386' ;;
    *) want='' ; echo "build-ipk: warning: cannot check that the binary suits '$arch'" >&2 ;;
esac
if [ -n "$want" ] && ! [[ "$info" =~ $want ]]; then
    die "$binary ($info) does not run on $arch"
fi
# An ARMv7 binary does not run on an ARMv6 (ARM11) device: the ELF's
# attributes say which architecture the code needs.
case "$arch" in
    arm_arm1176*|arm_arm11*|arm_arm926*|arm_xscale*)
        if command -v readelf >/dev/null; then
            cpu="$(readelf -A "$binary" 2>/dev/null | sed -n 's/^ *Tag_CPU_arch: //p')"
            case "$cpu" in
                v4*|v5*|v6*) ;;
                *) die "$binary needs ARM $cpu; $arch is older (build arm-unknown-linux-musleabihf)" ;;
            esac
        fi ;;
esac

# --- reproducible time ----------------------------------------------------------
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH="$(git -C "$repo" log -1 --format=%ct 2>/dev/null)" ||
        die "set SOURCE_DATE_EPOCH (not in a git checkout)"
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number"

# --- staging --------------------------------------------------------------------
files="$repo/openwrt/linxdot-exporter/files"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
data="$stage/data"
control="$stage/control"
mkdir -p "$data/usr/bin" "$data/etc/init.d" "$data/etc/config" "$control"
install -m 0755 "$binary" "$data/usr/bin/$name"
install -m 0755 "$files/$name.init" "$data/etc/init.d/$name"
# May hold the dashboard password.
install -m 0600 "$files/$name.config" "$data/etc/config/$name"

installed_size="$(find "$data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')"

# No Depends: the binary is static and needs no library, not even libc, and
# opkg would refuse the package on a firmware whose libc is not an opkg
# package. OpenWrt omits the field when a package has no dependency.
cat > "$control/control" <<EOF
Package: $name
Version: $version-$release
Source: feeds/linxdot/$name
License: $license
Section: utils
${url_field}Maintainer: $maintainer
Architecture: $arch
Installed-Size: $installed_size
Description: $description
EOF
printf '/etc/config/%s\n' "$name" > "$control/conffiles"
# OpenWrt's own wrappers (include/package-ipkg.mk): default_postinst runs
# uci-defaults and enables and starts the init script; default_prerm stops
# and disables it.
for script in postinst prerm; do
    cat > "$control/$script" <<EOF
#!/bin/sh
[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s \${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. \${IPKG_INSTROOT}/lib/functions.sh
default_$script \$0 \$@
EOF
done
chmod 0644 "$control/control" "$control/conffiles"
chmod 0755 "$control/postinst" "$control/prerm"
find "$stage" -type d -exec chmod 0755 {} +
printf '2.0\n' > "$stage/debian-binary"
chmod 0644 "$stage/debian-binary"

# GNU tar, sorted, root:root by number, one fixed mtime; gzip without name or
# time: the same input gives the same bytes.
reproducible_tar() {
    local dir="$1"
    shift
    LC_ALL=C tar --format=gnu --sort=name --numeric-owner --owner=0 --group=0 \
        --mtime="@$SOURCE_DATE_EPOCH" -C "$dir" -cf - "$@" | gzip -n -9
}
reproducible_tar "$control" . > "$stage/control.tar.gz"
reproducible_tar "$data" . > "$stage/data.tar.gz"
chmod 0644 "$stage/control.tar.gz" "$stage/data.tar.gz"

mkdir -p "$out_dir"
ipk="$out_dir/${name}_${version}-${release}_${arch}.ipk"
reproducible_tar "$stage" ./debian-binary ./control.tar.gz ./data.tar.gz > "$ipk.tmp"
mv -f "$ipk.tmp" "$ipk"

echo "ipk:    $ipk"
echo "size:   $(stat -c %s "$ipk") bytes, installed $installed_size bytes"
echo "sha256: $(sha256sum "$ipk" | cut -d' ' -f1)"
