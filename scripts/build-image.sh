#!/usr/bin/env bash
# Build the container images (FROM scratch + the static musl binary) for
# several architectures with docker (buildx) or podman. Nothing is pulled or
# downloaded by the image build: the binaries come from scripts/build-static.sh.
#
# usage: scripts/build-image.sh [--arch LIST] [--engine docker|podman]
#                               [--name NAME] [--rebuild] [--no-install]
#                               [--stage-only]
#   --arch LIST    image architectures, comma-separated (default amd64,arm64;
#                  also arm = linux/arm/v7)
#   --engine E     docker (needs buildx and a running daemon) or podman;
#                  default: docker if it works, else podman
#   --name NAME    image name (default linxdot-exporter)
#   --rebuild      run build-static.sh even when a binary is up to date
#   --no-install   passed to build-static.sh: fail instead of installing
#   --stage-only   build and stage the binaries, build no image (what
#                  `docker compose build` needs first)
#
# Tags: NAME:VERSION-ARCH for every architecture, and NAME:VERSION and
# NAME:latest for the host's architecture (VERSION from Cargo.toml).
#
# Binaries: $CARGO_TARGET_DIR/TARGET/release/linxdot-exporter (build-static.sh's
# output; CARGO_TARGET_DIR defaults to target/). One that is newer than every
# source file (src/, Cargo.toml, Cargo.lock) is used as it is; otherwise
# build-static.sh builds it (a few minutes per architecture). The binaries are
# staged in dist/image/ARCH/ (the only part of the tree in the build context;
# see .dockerignore) and the Dockerfile copies the one of its TARGETARCH.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

archs=amd64,arm64
engine=
name=linxdot-exporter
rebuild=0
static_opts=()
stage_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --arch|--engine|--name)
            [ $# -ge 2 ] || { echo "build-image.sh: $1 needs a value" >&2; exit 2; }
            case "$1" in
                --arch) archs="$2" ;;
                --engine) engine="$2" ;;
                --name) name="$2" ;;
            esac
            shift ;;
        --arch=*) archs="${1#*=}" ;;
        --engine=*) engine="${1#*=}" ;;
        --name=*) name="${1#*=}" ;;
        --rebuild) rebuild=1 ;;
        --no-install) static_opts+=(--no-install) ;;
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
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
stage="$repo/dist/image"

version="$(awk '/^\[/ { s = $0; next } s == "[package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)"
[ -n "$version" ] || die "no version in Cargo.toml"

# Image architecture -> Rust target, platform, and what `file` says.
triple_of() {
    case "$1" in
        amd64) echo x86_64-unknown-linux-musl ;;
        arm64) echo aarch64-unknown-linux-musl ;;
        arm) echo armv7-unknown-linux-musleabihf ;;
        *) return 1 ;;
    esac
}
platform_of() { case "$1" in arm) echo linux/arm/v7 ;; *) echo "linux/$1" ;; esac; }
file_says() {
    case "$1" in
        amd64) echo 'x86-64' ;;
        arm64) echo 'ARM aarch64' ;;
        arm) echo 'ARM, EABI5' ;;
    esac
}
host_arch() {
    case "$(uname -m)" in
        x86_64|amd64) echo amd64 ;;
        aarch64|arm64) echo arm64 ;;
        armv7*|armv8l) echo arm ;;
        *) uname -m ;;
    esac
}

IFS=, read -r -a arch_list <<< "$archs"
[ ${#arch_list[@]} -gt 0 ] || die "--arch: no architecture given"
for arch in "${arch_list[@]}"; do
    triple_of "$arch" >/dev/null || die "--arch: '$arch' is not one of amd64, arm64, arm"
done

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
    [ -f "$1" ] && [ -z "$(find src Cargo.toml Cargo.lock -newer "$1" -print -quit 2>/dev/null)" ]
}
for arch in "${arch_list[@]}"; do
    triple="$(triple_of "$arch")"
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
        case "$info" in
            *"$(file_says "$arch")"*statically\ linked*|*"$(file_says "$arch")"*static-pie\ linked*) ;;
            *) die "$bin is not a static $arch binary: $info" ;;
        esac
    fi
    mkdir -p "$stage/$arch"
    cp "$bin" "$stage/$arch/linxdot-exporter.tmp"
    chmod 0755 "$stage/$arch/linxdot-exporter.tmp"
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
    log "$arch: building $tag ($(platform_of "$arch"))"
    if [ "$engine" = docker ]; then
        docker buildx build --load --platform "$(platform_of "$arch")" \
            --build-arg "VERSION=$version" -t "$tag" -f Dockerfile . >&2
    else
        podman build --layers=false --platform "$(platform_of "$arch")" \
            --build-arg "VERSION=$version" -t "$tag" -f Dockerfile . >&2
    fi
    built+=("$tag")
done

host="$(host_arch)"
case ",$archs," in
    *",$host,"*)
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
