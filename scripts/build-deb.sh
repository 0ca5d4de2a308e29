#!/usr/bin/env bash
# Build Debian packages of linxdot-exporter from the static musl binaries of
# scripts/build-static.sh, with dpkg-deb and the files in packaging/debian/:
# the binary, a hardened systemd unit, /etc/default/linxdot-exporter (a
# conffile, 0600), the udev rule for the TEMPer sensors, a sysusers.d file
# (group linxdot-exporter), a man page made from --help, copyright and the
# maintainer scripts.
#
# usage: scripts/build-deb.sh [--arch ARCH]... [--revision N] [--out-dir DIR]
#                             [--no-build] [--install|--no-install]
#   --arch ARCH    Debian architecture (default: all four): amd64, i386,
#                  arm64 (64-bit Raspberry Pi OS), armhf (32-bit Raspberry Pi
#                  OS on any Pi, the Zero and 1 included: the ARMv6 binary)
#   --revision N   Debian revision (default 1): VERSION is CARGO_VERSION-N
#   --out-dir DIR  where the packages go (default dist/)
#   --no-build     use the binaries already built, do not run build-static.sh
#   --install, --no-install  passed to build-static.sh (what it may install)
# Environment: CARGO_TARGET_DIR (default target/) is where build-static.sh
# builds, so binaries it already built are reused (cargo finds them fresh);
# SOURCE_DATE_EPOCH (default: the last commit's time) sets every file time,
# so two builds give the same bytes; DEB_MAINTAINER the Maintainer field.
#
# Output: DIR/linxdot-exporter_VERSION_ARCH.deb, one per architecture; prints
# each path and size.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
deb="$repo/packaging/debian"

arches=()
revision=1
out_dir="$repo/dist"
build=1
static_opts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) [ $# -ge 2 ] || { usage >&2; exit 2; }; arches+=("$2"); shift ;;
        --arch=*) arches+=("${1#*=}") ;;
        --revision) [ $# -ge 2 ] || { usage >&2; exit 2; }; revision="$2"; shift ;;
        --revision=*) revision="${1#*=}" ;;
        --out-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; out_dir="$2"; shift ;;
        --out-dir=*) out_dir="${1#*=}" ;;
        --no-build) build=0 ;;
        --install|--no-install) static_opts+=("$1") ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-deb.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
# shellcheck source=scripts/platforms.sh
source "$repo/scripts/platforms.sh"
[ ${#arches[@]} -gt 0 ] || mapfile -t arches < <(platform_rows | awk '$4 != "-" { print $4 }')
[[ "$revision" =~ ^[0-9][0-9a-z.+~]*$ ]] ||
    { echo "build-deb.sh: revision '$revision' is not a Debian revision" >&2; exit 2; }

die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'build-deb: %s\n' "$*" >&2; }

command -v dpkg-deb > /dev/null || die "dpkg-deb is missing (Debian package dpkg)"

cargo_version="$(cargo_field version)"
[ -n "$cargo_version" ] || die "no version in Cargo.toml"
version="$cargo_version-$revision"
maintainer="${DEB_MAINTAINER:-linxdot-exporter maintainers <linxdot-exporter@users.noreply.github.com>}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || date +%s)}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Directories that install -d makes on the way get the umask's modes: fix it.
umask 022

rust_target() {
    platform_field deb "$1" target ||
        die "architecture '$1' is not one of $(platform_rows | awk '$4 != "-" { print $4 }' | paste -sd' ' -)"
}
for arch in "${arches[@]}"; do rust_target "$arch" > /dev/null; done

# --help of one of the binaries, run natively or under qemu-user.
help_text() {
    local arch bin
    for arch in "${arches[@]}"; do
        bin="$target_dir/$(rust_target "$arch")/release/linxdot-exporter"
        "$bin" --help 2> /dev/null && return 0
        q="$(platform_field deb "$arch" qemu)" || continue
        command -v "$q" > /dev/null && "$q" "$bin" --help 2> /dev/null && return 0
    done
    return 1
}

# The man page: --help as it is, and what the package adds.
man_page() {
    local date
    date="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)"
    printf '.TH LINXDOT-EXPORTER 1 "%s" "linxdot-exporter %s" "User Commands"\n' "$date" "$cargo_version"
    printf '.SH NAME\nlinxdot-exporter \\- Prometheus exporter for PCsensor TEMPer USB sensors and Linxdot miners\n'
    printf '.SH SYNOPSIS\n.B linxdot-exporter\n.RI [ options ]\n'
    printf '.SH DESCRIPTION\nServes Prometheus metrics of PCsensor TEMPer USB sensors and, with a\n'
    printf 'login, of a Linxdot miner'"'"'s dashboard on http://HOST:8061/metrics.\n'
    printf 'The options, as \\fBlinxdot-exporter \\-\\-help\\fR prints them:\n.PP\n.nf\n'
    # Backslashes as \e; a leading . or ' must not start a request.
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" "$work/help.txt"
    printf '.fi\n.SH FILES\n.TP\n.I /etc/default/linxdot-exporter\n'
    printf 'Settings of the service (environment variables; may hold the password).\n'
    printf '.TP\n.I /usr/lib/systemd/system/linxdot-exporter.service\nThe systemd unit.\n'
    printf '.TP\n.I /usr/lib/udev/rules.d/60-linxdot-exporter.rules\n'
    printf 'Gives the sensors'"'"' hidraw nodes to group linxdot-exporter.\n'
    printf '.SH SEE ALSO\n.BR systemctl (1),\n.BR journalctl (1)\n'
}

changelog() {
    printf 'linxdot-exporter (%s) unstable; urgency=medium\n\n' "$version"
    printf '  * Built by scripts/build-deb.sh from linxdot-exporter %s.\n\n' "$cargo_version"
    printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
}

for arch in "${arches[@]}"; do
    target="$(rust_target "$arch")"
    if [ "$build" = 1 ]; then
        log "static binary for $target (build-static.sh; reused when fresh)"
        CARGO_TARGET_DIR="$target_dir" "$repo/scripts/build-static.sh" "${static_opts[@]}" "$target" > "$work/build.log" 2>&1 ||
            { tail -n 30 "$work/build.log" >&2; die "build-static.sh $target failed"; }
    fi
    [ -f "$target_dir/$target/release/linxdot-exporter" ] ||
        die "no $target_dir/$target/release/linxdot-exporter (run scripts/build-static.sh $target)"
done
help_text > "$work/help.txt" || die "no binary could print --help (for the man page)"

for arch in "${arches[@]}"; do
    target="$(rust_target "$arch")"
    tree="$work/$arch"
    rm -rf "$tree"
    doc="$tree/usr/share/doc/linxdot-exporter"
    install -d -m 0755 "$tree/DEBIAN" "$tree/usr/bin" "$tree/etc/default" "$doc" \
        "$tree/usr/lib/systemd/system" "$tree/usr/lib/udev/rules.d" "$tree/usr/lib/sysusers.d" \
        "$tree/usr/lib/modules-load.d" "$tree/usr/share/man/man1" "$tree/usr/share/lintian/overrides"
    install -m 0755 "$target_dir/$target/release/linxdot-exporter" "$tree/usr/bin/linxdot-exporter"
    install -m 0644 "$deb/linxdot-exporter.service" "$tree/usr/lib/systemd/system/"
    install -m 0644 "$deb/60-linxdot-exporter.rules" "$tree/usr/lib/udev/rules.d/"
    install -m 0644 "$deb/linxdot-exporter.sysusers" "$tree/usr/lib/sysusers.d/linxdot-exporter.conf"
    install -m 0644 "$deb/linxdot-exporter.modules-load" "$tree/usr/lib/modules-load.d/linxdot-exporter.conf"
    install -m 0600 "$deb/linxdot-exporter.default" "$tree/etc/default/linxdot-exporter"
    install -m 0644 "$deb/copyright" "$doc/copyright"
    changelog | gzip -9n > "$doc/changelog.Debian.gz"
    man_page | gzip -9n > "$tree/usr/share/man/man1/linxdot-exporter.1.gz"
    install -m 0644 "$deb/lintian-overrides" "$tree/usr/share/lintian/overrides/linxdot-exporter"
    chmod 0644 "$doc/changelog.Debian.gz" "$tree/usr/share/man/man1/linxdot-exporter.1.gz"

    install -m 0755 "$deb/postinst" "$deb/prerm" "$deb/postrm" "$tree/DEBIAN/"
    printf '/etc/default/linxdot-exporter\n' > "$tree/DEBIAN/conffiles"
    (cd "$tree" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
        LC_ALL=C sort -z | xargs -0 md5sum) > "$tree/DEBIAN/md5sums"
    installed_size="$(du -k -s --apparent-size --exclude=DEBIAN "$tree" | cut -f1)"
    sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
        -e "s|@MAINTAINER@|$maintainer|" "$deb/control.in" > "$tree/DEBIAN/control"
    chmod 0644 "$tree/DEBIAN/control" "$tree/DEBIAN/conffiles" "$tree/DEBIAN/md5sums"
    find "$tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

    out="$out_dir/linxdot-exporter_${version}_${arch}.deb"
    dpkg-deb --root-owner-group -Zxz --build "$tree" "$out" > /dev/null
    echo "$out $(stat -c %s "$out") bytes"
done
