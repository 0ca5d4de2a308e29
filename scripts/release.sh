#!/usr/bin/env bash
# Build every release artifact of linxdot-exporter into one folder, with
# their SHA-256 checksums:
#
#   linxdot-exporter-VERSION-TARGET.tar.gz   one per platform of
#       scripts/platforms.sh: the static binary, README.md, LICENSE and the
#       udev rule for the TEMPer sensors, in a folder of the same name
#   linxdot-exporter_VERSION-1_ARCH.ipk      one per OpenWrt architecture
#       the binaries serve (IPK_ARCHES in scripts/platforms.sh)
#   linxdot-exporter_VERSION-1_ARCH.deb      amd64, i386, arm64, armhf
#   linxdot-exporter-VERSION-oci.tar         the container image of all five
#       platforms (manifest list) as an OCI image layout (podman)
#   SHA256SUMS                               `sha256sum -c SHA256SUMS` checks
#
# usage: scripts/release.sh [--out-dir DIR] [--no-build] [--no-image]
#                           [--install|--no-install]
#   --out-dir DIR  where the artifacts go (default dist/); files of an earlier
#                  release of the same version there are replaced
#   --no-build     use the binaries already in $CARGO_TARGET_DIR, do not run
#                  scripts/build-static.sh (fails when one is missing)
#   --no-image     no OCI archive (a machine without podman)
#   --install, --no-install  passed to build-static.sh (what it may install)
#
# Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) is every
# file time; tar entries are sorted, owned by 0:0, with fixed modes; gzip
# writes no name or time. The same commit gives the same bytes (CI builds
# everything twice and compares: scripts/ci-release.sh).
# Environment: CARGO_TARGET_DIR (default target/), SOURCE_DATE_EPOCH.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { printf 'release: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'release: %s\n' "$*" >&2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
out_dir="$repo/dist"
build=1
image=1
static_opts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out-dir) [ $# -ge 2 ] || die "--out-dir needs a value"; out_dir="$2"; shift ;;
        --out-dir=*) out_dir="${1#*=}" ;;
        --no-build) build=0 ;;
        --no-image) image=0 ;;
        --install|--no-install) static_opts+=("$1") ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift
done

cd "$repo"
# shellcheck source=scripts/platforms.sh
source scripts/platforms.sh
name=linxdot-exporter
version="$(cargo_field version)"
[ -n "$version" ] || die "no version in Cargo.toml"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null)}"
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "set SOURCE_DATE_EPOCH (not in a git checkout)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
for f in README.md LICENSE packaging/debian/60-linxdot-exporter.rules; do
    [ -f "$f" ] || die "$f is missing"
done
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
umask 022

# --- binaries ------------------------------------------------------------------
mapfile -t targets < <(platform_targets)
for t in "${targets[@]}"; do
    bin="$CARGO_TARGET_DIR/$t/release/$name"
    if [ "$build" = 1 ]; then
        log "$t: scripts/build-static.sh"
        scripts/build-static.sh "${static_opts[@]}" "$t" > /dev/null
    fi
    [ -f "$bin" ] || die "no $bin (run without --no-build)"
done

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
artifacts=()

# GNU tar, sorted, 0:0 by number, one fixed mtime, no pax headers with
# times; gzip without name or time: the same input gives the same bytes.
reproducible_tar_gz() { # OUT DIR ENTRY...
    local out="$1" dir="$2"
    shift 2
    LC_ALL=C tar --format=gnu --sort=name --numeric-owner --owner=0 --group=0 \
        --mtime="@$SOURCE_DATE_EPOCH" -C "$dir" -cf - "$@" | gzip -n -9 > "$out.tmp"
    mv -f "$out.tmp" "$out"
}

# --- one tarball per platform -------------------------------------------------------
for t in "${targets[@]}"; do
    dir="$name-$version-$t"
    rm -rf "${stage:?}/$dir"
    mkdir -p "$stage/$dir"
    install -m 0755 "$CARGO_TARGET_DIR/$t/release/$name" "$stage/$dir/$name"
    install -m 0644 README.md LICENSE packaging/debian/60-linxdot-exporter.rules "$stage/$dir/"
    chmod 0755 "$stage/$dir"
    reproducible_tar_gz "$out_dir/$dir.tar.gz" "$stage" "$dir"
    artifacts+=("$dir.tar.gz")
    log "$dir.tar.gz"
done

# --- OpenWrt packages ----------------------------------------------------------------
while read -r arch t _; do
    scripts/build-ipk.sh --arch "$arch" --binary "$CARGO_TARGET_DIR/$t/release/$name" \
        --out-dir "$out_dir" > /dev/null
    artifacts+=("${name}_${version}-1_$arch.ipk")
    log "${name}_${version}-1_$arch.ipk"
done < <(ipk_rows)

# --- Debian packages ------------------------------------------------------------------
mapfile -t deb_arches < <(platform_rows | awk '$4 != "-" { print $4 }')
deb_args=()
for arch in "${deb_arches[@]}"; do
    deb_args+=(--arch "$arch")
    artifacts+=("${name}_${version}-1_$arch.deb")
done
scripts/build-deb.sh --no-build "${deb_args[@]}" --out-dir "$out_dir" > /dev/null
log "debs: ${deb_arches[*]}"

# --- the container image ------------------------------------------------------------
if [ "$image" = 1 ]; then
    scripts/build-image.sh --engine podman --oci-archive "$out_dir/$name-$version-oci.tar" > /dev/null
    artifacts+=("$name-$version-oci.tar")
    log "$name-$version-oci.tar"
fi

# --- checksums ---------------------------------------------------------------------------
(cd "$out_dir" && printf '%s\n' "${artifacts[@]}" | LC_ALL=C sort | xargs sha256sum > SHA256SUMS.tmp &&
    mv -f SHA256SUMS.tmp SHA256SUMS)
(cd "$out_dir" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not check"
for f in $(printf '%s\n' "${artifacts[@]}" | LC_ALL=C sort) SHA256SUMS; do
    printf '%-60s %9s bytes\n' "$out_dir/$f" "$(stat -c %s "$out_dir/$f")"
done
