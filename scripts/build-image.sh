#!/usr/bin/env bash
# Build the container images (FROM scratch + the static musl binary) for the
# five platforms of scripts/platforms.sh with docker (buildx) or podman, and
# with podman their manifest list (one name for all five). Nothing is pulled
# or downloaded by the image build: the binaries come from
# scripts/build-static.sh.
#
# usage: scripts/build-image.sh [--arch LIST] [--engine docker|podman]
#                               [--name NAME] [--rebuild] [--install|--no-install]
#                               [--stage-only] [--oci-archive FILE]
#   --arch LIST    image architectures, comma-separated, from amd64, 386,
#                  arm64, armv7 (arm is the same), armv6 (default: all five)
#   --engine E     docker (needs buildx and a running daemon) or podman;
#                  default: docker if it works, else podman
#   --name NAME    image name (default linxdot-exporter)
#   --rebuild      run build-static.sh even when a binary is up to date
#   --install, --no-install  passed to build-static.sh (what it may install)
#   --stage-only   build and stage the binaries, build no image (what
#                  `docker compose build` needs first)
#   --oci-archive FILE  (podman) also write the manifest list and its images
#                  to FILE, an OCI image layout in a reproducible tar
#
# Tags: NAME:VERSION-ARCH for every architecture, NAME:VERSION and
# NAME:latest for the host's architecture (VERSION from Cargo.toml); with
# podman, the manifest list NAME:VERSION-multiarch of all the architectures
# built. Images are stamped with SOURCE_DATE_EPOCH (default: the last
# commit's time), so the same binaries give the same image digests.
#
# Binaries: $CARGO_TARGET_DIR/TARGET/release/linxdot-exporter (build-static.sh's
# output; CARGO_TARGET_DIR defaults to target/). One that is newer than every
# source file (src/, crates/, Cargo.toml, Cargo.lock) is used as it is;
# otherwise build-static.sh builds it (a few minutes per architecture). The
# binaries are staged in dist/image/ARCH/ (the only part of the tree in the
# build context; see .dockerignore) and the Dockerfile copies the one of its
# platform (TARGETARCH and TARGETVARIANT: amd64, 386, arm64, armv7, armv6).
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

archs=amd64,386,arm64,armv7,armv6
engine=
name=linxdot-exporter
rebuild=0
static_opts=()
stage_only=0
oci_archive=
while [ $# -gt 0 ]; do
    case "$1" in
        --arch|--engine|--name|--oci-archive)
            [ $# -ge 2 ] || { echo "build-image.sh: $1 needs a value" >&2; exit 2; }
            case "$1" in
                --arch) archs="$2" ;;
                --engine) engine="$2" ;;
                --name) name="$2" ;;
                --oci-archive) oci_archive="$2" ;;
            esac
            shift ;;
        --arch=*) archs="${1#*=}" ;;
        --engine=*) engine="${1#*=}" ;;
        --name=*) name="${1#*=}" ;;
        --oci-archive=*) oci_archive="${1#*=}" ;;
        --rebuild) rebuild=1 ;;
        --install|--no-install) static_opts+=("$1") ;;
        --stage-only) stage_only=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-image.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/platforms.sh
source scripts/platforms.sh
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
stage="$repo/dist/image"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

version="$(cargo_field version)"
[ -n "$version" ] || die "no version in Cargo.toml"

host_arch() {
    case "$(uname -m)" in
        x86_64|amd64) echo amd64 ;;
        i?86) echo 386 ;;
        aarch64|arm64) echo arm64 ;;
        armv7*|armv8l) echo armv7 ;;
        armv6*) echo armv6 ;;
        *) uname -m ;;
    esac
}

IFS=, read -r -a arch_list <<< "$archs"
for i in "${!arch_list[@]}"; do [ "${arch_list[$i]}" != arm ] || arch_list[i]=armv7; done
[ ${#arch_list[@]} -gt 0 ] || die "--arch: no architecture given"
for arch in "${arch_list[@]}"; do
    platform_field stage "$arch" target >/dev/null ||
        die "--arch: '$arch' is not one of $(platform_rows | awk '{ print $3 }' | paste -sd, -)"
done
[ -z "$oci_archive" ] || [ "$engine" = podman ] || [ -z "$engine" ] ||
    die "--oci-archive needs podman (docker keeps no manifest list locally)"

# --- the engine (before the slow builds, so a missing one is said at once) ---
docker_problem() {
    command -v docker >/dev/null || { echo "no docker command"; return; }
    docker info >/dev/null 2>&1 || { echo "docker cannot reach its daemon (docker info fails)"; return; }
    docker buildx version >/dev/null 2>&1 || { echo "docker has no buildx plugin (package docker-buildx-plugin or docker-buildx)"; return; }
}
podman_problem() {
    command -v podman >/dev/null || { echo "no podman command"; return; }
    podman info >/dev/null 2>&1 || { echo "podman does not work here (podman info fails: $(podman info 2>&1 | tail -n 1))"; return; }
}
if [ "$stage_only" = 0 ]; then
    case "$engine" in
        docker|podman)
            problem="$("${engine}_problem")"
            [ -z "$problem" ] || die "--engine $engine: $problem" ;;
        "")
            docker_why="$(docker_problem)"
            if [ -z "$docker_why" ]; then
                engine=docker
            else
                podman_why="$(podman_problem)"
                [ -z "$podman_why" ] || die "no container engine that works: need docker with buildx
  and a running daemon, or podman (Debian/Ubuntu: apt-get install podman).
  docker: $docker_why
  podman: $podman_why"
                engine=podman
            fi ;;
        *) die "--engine: '$engine' is neither docker nor podman" ;;
    esac
    log "engine: $engine"
fi

# --- binaries ---------------------------------------------------------------
# Up to date: exists and no source file is newer.
up_to_date() {
    [ -f "$1" ] && [ -z "$(find src crates Cargo.toml Cargo.lock -newer "$1" -print -quit 2>/dev/null)" ]
}
for arch in "${arch_list[@]}"; do
    triple="$(platform_field stage "$arch" target)"
    bin="$target_dir/$triple/release/linxdot-exporter"
    if [ "$rebuild" = 0 ] && up_to_date "$bin"; then
        log "$arch: using $bin (newer than the sources)"
    else
        log "$arch: building $triple with scripts/build-static.sh"
        scripts/build-static.sh "${static_opts[@]}" "$triple" >&2
        [ -f "$bin" ] || die "build-static.sh did not make $bin"
    fi
    if command -v file >/dev/null; then
        info="$(file -b "$bin")"
        [[ "$info" =~ $(platform_field stage "$arch" file).*(statically|static-pie)\ linked ]] ||
            die "$bin is not a static $arch binary: $info"
    fi
    mkdir -p "$stage/$arch"
    cp "$bin" "$stage/$arch/linxdot-exporter.tmp"
    chmod 0755 "$stage/$arch/linxdot-exporter.tmp"
    touch -d "@$SOURCE_DATE_EPOCH" "$stage/$arch/linxdot-exporter.tmp"
    mv -f "$stage/$arch/linxdot-exporter.tmp" "$stage/$arch/linxdot-exporter"
    log "$arch: staged dist/image/$arch/linxdot-exporter ($(stat -c %s "$bin") bytes)"
done
if [ "$stage_only" = 1 ]; then
    log "staged; build with: docker compose build (or scripts/build-image.sh)"
    exit 0
fi

# --- images -----------------------------------------------------------------
built=()
for arch in "${arch_list[@]}"; do
    tag="$name:$version-$arch"
    platform="$(platform_field stage "$arch" image)"
    log "$arch: building $tag ($platform)"
    if [ "$engine" = docker ]; then
        docker buildx build --load --platform "$platform" --build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" \
            --build-arg "VERSION=$version" -t "$tag" -f Dockerfile . >&2
    else
        podman build --layers=false --timestamp "$SOURCE_DATE_EPOCH" --platform "$platform" \
            --build-arg "VERSION=$version" -t "$tag" -f Dockerfile . >&2
    fi
    built+=("$tag")
done

host="$(host_arch)"
case " ${arch_list[*]} " in
    *" $host "*)
        "$engine" tag "$name:$version-$host" "$name:$version"
        "$engine" tag "$name:$version-$host" "$name:latest"
        built+=("$name:$version" "$name:latest") ;;
    *) log "the host's architecture ($host) was not built: no $name:$version or $name:latest tag" ;;
esac

for tag in "${built[@]}"; do
    printf '%s\t%s\t%s bytes\n' "$tag" \
        "$("$engine" image inspect --format '{{.Os}}/{{.Architecture}}' "$tag")" \
        "$("$engine" image inspect --format '{{.Size}}' "$tag")"
done

[ "$engine" = podman ] || exit 0
# --- the manifest list (podman) ------------------------------------------------
list="$name:$version-multiarch"
podman manifest rm "$list" >/dev/null 2>&1 || true
podman manifest create "$list" >/dev/null
for arch in "${arch_list[@]}"; do
    IFS=/ read -r os cpu variant <<< "$(platform_field stage "$arch" image)"
    podman manifest add --os "$os" --arch "$cpu" ${variant:+--variant "$variant"} "$list" \
        "containers-storage:$(podman image inspect --format '{{.Id}}' "$name:$version-$arch")" >/dev/null
done
printf '%s\tmanifest list: %s\n' "$list" \
    "$(podman manifest inspect "$list" | python3 -c 'import json, sys
print(" ".join("/".join(filter(None, (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")))) for m in json.load(sys.stdin)["manifests"]))')"

[ -n "$oci_archive" ] || exit 0
# An OCI image layout of the list and its images, in a tar with sorted names,
# fixed owners and times: the same images give the same bytes.
layout="$(mktemp -d)"
trap 'rm -rf "$layout"' EXIT
podman manifest push --all --quiet "$list" "oci:$layout/oci:$name:$version" >&2
mkdir -p "$(dirname "$oci_archive")"
LC_ALL=C tar --format=gnu --sort=name --numeric-owner --owner=0 --group=0 --mode=go-w \
    --mtime="@$SOURCE_DATE_EPOCH" -C "$layout/oci" -cf "$oci_archive.tmp" .
mv -f "$oci_archive.tmp" "$oci_archive"
printf '%s\tOCI archive, %s bytes\n' "$oci_archive" "$(stat -c %s "$oci_archive")"
