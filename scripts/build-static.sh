#!/usr/bin/env bash
# Build a fully static linxdot-exporter for a musl target, without Docker and
# without rustup targets: Debian's rustc-web/cargo-web rebuild std from
# Debian's rust-web-src (-Zbuild-std), and zig (PyPI "ziglang", driven by
# PyPI "cargo-zigbuild") is the cross linker and brings musl's C runtime.
#
# usage: scripts/build-static.sh [--install|--no-install]
#                                [--size|--panic-messages|--no-size|--std-features LIST]
#                                [TARGET]
#   TARGET       Rust target triple (default aarch64-unknown-linux-musl):
#                  x86_64-unknown-linux-musl        PCs, NAS (amd64)
#                  i686-unknown-linux-musl          32-bit PCs (i386)
#                  aarch64-unknown-linux-musl       Linxdot (RK3566), Pi 3/4/5 64-bit
#                  armv7-unknown-linux-musleabihf   Pi 2/3/4 32-bit, Cortex-A7/A9 routers
#                  arm-unknown-linux-musleabihf     Pi Zero/1 (ARMv6, hard-float)
#                  mipsel-unknown-linux-musl        MIPS routers (tier 3, not in CI)
#   --install    install what is missing (below) without asking
#   --no-install never install: fail and name what is missing
#                Neither: ask (y/N) when run from a terminal; otherwise
#                fail naming what is missing. CI=true counts as --install.
#   --size       (default) build std with its optimize_for_size and
#                panic_immediate_abort features: smaller code paths; none of
#                the default "backtrace" feature (symbolizing backtraces;
#                useless in a stripped binary that aborts on panic, ~150 KiB);
#                and a panic aborts at once, without printing its message
#                (~47 KiB less: what keeps every platform under 512 KiB). Bad
#                input never panics; a panic is a bug, and procd or systemd
#                restart the exporter
#   --panic-messages  the same, but a panic prints its message first (a
#                build to chase a panic with; ~45 KiB larger)
#   --no-size    build std with cargo's default features
#   --std-features LIST  build std with these features (comma-separated)
# LXE_STD_FEATURES sets the default of --std-features ("default" means
# cargo's defaults).
#
# What it needs, and what it installs when allowed (only what is missing):
#   Debian packages  rustc-web cargo-web rust-web-src file
#                    (apt-get install, as root or with sudo; apt-get update
#                    first on a machine without package lists)
#   PyPI packages    ziglang 0.17.1 and cargo-zigbuild 0.24.0 (other versions:
#                    ZIGLANG_VERSION, CARGO_ZIGBUILD_VERSION), used from PATH
#                    (or python3 -m ziglang) when there; else installed with
#                    `python3 -m pip install --target $LXE_TOOLS_DIR` (default
#                    ~/.cache/linxdot-exporter/pypi): never into a Python
#                    installation, no --break-system-packages
#
# Output: $CARGO_TARGET_DIR/TARGET/release/linxdot-exporter (CARGO_TARGET_DIR
# defaults to target/ in the repository). Prints its path, size and `file`.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

target=aarch64-unknown-linux-musl
std_features="${LXE_STD_FEATURES:-optimize_for_size,panic_immediate_abort}"
# 1: install, 0: never, "": ask on a terminal (CI=true: install).
install=""
while [ $# -gt 0 ]; do
    case "$1" in
        --size) std_features=optimize_for_size,panic_immediate_abort ;;
        --panic-messages) std_features=optimize_for_size ;;
        --no-size) std_features=default ;;
        --std-features)
            [ $# -ge 2 ] || { echo "build-static.sh: --std-features needs a value" >&2; exit 2; }
            std_features="$2"; shift ;;
        --std-features=*) std_features="${1#*=}" ;;
        --install) install=1 ;;
        --no-install) install=0 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "build-static.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        *) target="$1" ;;
    esac
    shift
done

case "$target" in
    *-linux-musl|*-linux-musleabi|*-linux-musleabihf) ;;
    *) echo "build-static.sh: '$target' is not a Linux musl target" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

# Versions of the PyPI tools; override to try others.
ZIGLANG_VERSION="${ZIGLANG_VERSION:-0.17.1}"
CARGO_ZIGBUILD_VERSION="${CARGO_ZIGBUILD_VERSION:-0.24.0}"

log() { printf 'build-static: %s\n' "$*" >&2; }
die() { printf 'build-static: error: %s\n' "$*" >&2; exit 1; }

deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

[ -n "$install" ] || { [ "${CI:-}" = true ] && install=1; }
# may_install WHAT: whether WHAT may be installed now (asks on a terminal once).
may_install() {
    case "$install" in
        1) return 0 ;;
        0) return 1 ;;
    esac
    if [ -t 0 ] && { : > /dev/tty; } 2>/dev/null; then
        local answer
        printf 'build-static: %s is missing. Install it now? [y/N] ' "$1" > /dev/tty
        read -r answer < /dev/tty || answer=
        case "$answer" in
            [yY]|[yY][eE][sS]) install=1; return 0 ;;
            *) install=0; return 1 ;;
        esac
    fi
    return 1
}

apt_updated=0
apt_install() {
    local missing=() p
    for p in "$@"; do deb_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    may_install "Debian packages: ${missing[*]} (apt-get install)" ||
        die "missing Debian packages: ${missing[*]}: install them (apt-get install ${missing[*]}) or run with --install"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get on this machine"
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    log "installing Debian packages: ${missing[*]}"
    # A fresh machine has no package lists: update once, then install.
    if [ "$apt_updated" = 0 ] && ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update -qq >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
}

# PyPI tools go into a directory of their own, never into a Python installation.
tools_dir="${LXE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/linxdot-exporter/pypi}"
pip_install() {
    may_install "PyPI packages: $* (pip install --target $tools_dir)" ||
        die "missing PyPI packages: $*: run with --install (they go into $tools_dir), or put zig and cargo-zigbuild on PATH"
    command -v python3 >/dev/null || die "python3 (with pip) is needed for the PyPI packages $*"
    log "installing PyPI packages into $tools_dir: $*"
    mkdir -p "$tools_dir"
    python3 -m pip install -q --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
        --upgrade --target "$tools_dir" "$@" >&2
}

# --- toolchain -------------------------------------------------------------
RUSTC=/usr/bin/rustc
CARGO=/usr/bin/cargo
apt_install rustc-web cargo-web rust-web-src file
if [ ! -x "$RUSTC" ] || [ ! -x "$CARGO" ]; then die "$RUSTC or $CARGO missing after install"; fi
sysroot="$("$RUSTC" --print sysroot)"
std_src="$sysroot/lib/rustlib/src/rust/library"
if [ ! -f "$std_src/Cargo.lock" ] || [ ! -d "$std_src/std" ]; then
    die "no std sources at $std_src (package rust-web-src)"
fi
rustc_ver="$("$RUSTC" --version | awk '{print $2}')"
src_ver="$(dpkg-query -W -f='${Version}' rust-web-src 2>/dev/null | sed 's/[+~].*//')"
[ "$rustc_ver" = "$src_ver" ] ||
    die "rustc $rustc_ver and rust-web-src $src_ver differ: -Zbuild-std needs the same version"

# zig: on PATH, from a Python that has ziglang, or in $tools_dir.
export PATH="$tools_dir/bin:$PATH" PYTHONPATH="$tools_dir${PYTHONPATH:+:$PYTHONPATH}"
zig_version() {
    if command -v zig >/dev/null; then zig version; else python3 -m ziglang version; fi 2>/dev/null
}
zig_version >/dev/null || pip_install "ziglang==$ZIGLANG_VERSION"
zig_version >/dev/null || die "no zig after installing ziglang into $tools_dir"
if ! command -v cargo-zigbuild >/dev/null; then
    pip_install "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
    hash -r
    command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild not on PATH after installing it into $tools_dir"
fi

# --- build -----------------------------------------------------------------
# Rust's musl targets link their own copy of musl's crt objects by default
# ("self-contained"); those ship with rustup's target component, which we do
# not have. zig brings musl's C runtime itself, so turn self-contained off.
rustflags="-C link-self-contained=no"
# panic = "abort" and a std without backtraces: nothing ever unwinds or walks
# the stack, so the unwind tables (.eh_frame and its index, ~80 KiB of a
# ~540 KiB aarch64 binary) are dead weight.
rustflags="$rustflags -C force-unwind-tables=no"
# No file/line/column in panic locations (-Zlocation-detail=none): ~19 KiB of
# strings less on x86_64 when panics print their message (--panic-messages:
# 523,400 -> 504,336 bytes before the radio collector). Nothing in the
# exporter reads a Location.
rustflags="$rustflags -Zlocation-detail=none"
# Paths of the checkout and of cargo's registry end up in panic messages:
# map them to fixed names so that the binary does not depend on where it was
# built (reproducible packages) and does not show the builder's home.
for remap in "$repo=/src" "${CARGO_HOME:-$HOME/.cargo}=/cargo"; do
    case "$remap" in *[[:space:]]*) ;; *) rustflags="$rustflags --remap-path-prefix=$remap" ;; esac
done
build_std_features=()
case "$target" in
    mips*)
        # Tier 3: no prebuilt std anywhere, -Zbuild-std makes it. Without
        # this flag the result is a static-pie (it runs too); non-PIC code
        # is ~9% smaller and needs no self-relocation at start-up.
        rustflags="$rustflags -C relocation-model=static" ;;
esac
[ "$std_features" = default ] || build_std_features=("-Zbuild-std-features=$std_features")

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
# Keep rustup's proxies out of it: the std sources must match this rustc.
export RUSTC RUSTC_BOOTSTRAP=1
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$rustflags"
unset RUSTC_WRAPPER CARGO_BUILD_TARGET
log "building $target (std features: $std_features) with $("$RUSTC" --version), zig $(zig_version)"
# LXE_BUILD_TARGETS: what cargo builds (default "--bin linxdot-exporter");
# scripts/bench.sh adds its reference server ("--example reference-server").
read -ra build_targets <<<"${LXE_BUILD_TARGETS:---bin linxdot-exporter}"
"$CARGO" zigbuild --release --locked --target "$target" "${build_targets[@]}" \
    -Zbuild-std=std,panic_abort "${build_std_features[@]}"

bin="$CARGO_TARGET_DIR/$target/release/linxdot-exporter"
[ -f "$bin" ] || die "build finished but $bin is missing"
size=$(stat -c %s "$bin")
echo "binary: $bin"
echo "size:   $size bytes ($(( (size + 1023) / 1024 )) KiB)"
echo "file:   $(file -b "$bin")"
