# shellcheck shell=bash
# The platforms linxdot-exporter is built, packaged and tested for: one row
# each, read by build-image.sh, build-deb.sh, build-ipk.sh, release.sh and
# the CI scripts. Source it; then:
#
#   platform_rows                 the rows below, without comments
#   platform_field KEY VALUE COL  the COL of the row whose KEY is VALUE
#                                 (prints nothing, status 1, when none is)
#   platform_targets              every Rust target, one per line
#   binary_fresh PATH             PATH exists and no source file is newer
#                                 (then build-static.sh would only spend its
#                                 ~15 s of cargo's freshness checks)
#   cargo_field KEY               KEY of the root Cargo.toml's [package]
#                                 (e.g. version), unquoted; empty when absent
#
# Columns (a "-" is "none"):
#   target  Rust target triple that scripts/build-static.sh builds
#   image   the container image's platform (os/arch[/variant])
#   stage   the folder under dist/image/ the Dockerfile copies the binary
#           from: TARGETARCH and TARGETVARIANT, as podman and docker set them
#   deb     Debian architecture of scripts/build-deb.sh's package
#   qemu    the qemu-user program that runs it on an x86_64 machine
#   file    what `file -b` says about the binary (a regex; the rest of the row)
#
# armhf's package carries the ARMv6 binary: Raspberry Pi OS's 32-bit armhf is
# ARMv6 (the Pi Zero and 1 run it too), and ARMv6 code runs on every ARMv7.
# shellcheck disable=SC2034 # used by the scripts that source this file
PLATFORMS='
# target                          image          stage   deb    qemu                 file
x86_64-unknown-linux-musl         linux/amd64    amd64   amd64  -                    ELF 64-bit LSB .*x86-64
i686-unknown-linux-musl           linux/386      386     i386   qemu-i386-static     ELF 32-bit LSB .*Intel (80386|i386)
aarch64-unknown-linux-musl        linux/arm64    arm64   arm64  qemu-aarch64-static  ELF 64-bit LSB .*ARM aarch64
armv7-unknown-linux-musleabihf    linux/arm/v7   armv7   -      qemu-arm-static      ELF 32-bit LSB .*ARM, EABI5
arm-unknown-linux-musleabihf      linux/arm/v6   armv6   armhf  qemu-arm-static      ELF 32-bit LSB .*ARM, EABI5
'

# OpenWrt package architectures (opkg print-architecture) and the target
# whose binary runs there: one row per architecture, no rebuild.
# shellcheck disable=SC2034
IPK_ARCHES='
# opkg architecture          target                           devices
aarch64_generic              aarch64-unknown-linux-musl       Linxdot LD1001/LD1002 (RK3566), other rockchip
aarch64_cortex-a53           aarch64-unknown-linux-musl       Raspberry Pi 3 (bcm2710), mediatek filogic
aarch64_cortex-a72           aarch64-unknown-linux-musl       Raspberry Pi 4 (bcm2711)
arm_cortex-a7_neon-vfpv4     armv7-unknown-linux-musleabihf   Raspberry Pi 2 (bcm2709), ipq40xx, sunxi
arm_cortex-a9_vfpv3-d16      armv7-unknown-linux-musleabihf   mvebu (Turris Omnia, WRT1900AC)
arm_cortex-a15_neon-vfpv4    armv7-unknown-linux-musleabihf   ipq806x
arm_arm1176jzf-s_vfp         arm-unknown-linux-musleabihf     Raspberry Pi Zero/1 (bcm2708)
x86_64                       x86_64-unknown-linux-musl        x86/64
i386_pentium4                i686-unknown-linux-musl          x86/generic
'

platform_rows() { grep -v -e '^#' -e '^[[:space:]]*$' <<< "$PLATFORMS"; }
ipk_rows() { grep -v -e '^#' -e '^[[:space:]]*$' <<< "$IPK_ARCHES"; }

# platform_field KEY VALUE COLUMN, KEY and COLUMN among target image stage deb qemu file.
platform_field() {
    local cols=" target image stage deb qemu file " k c
    k="${cols%% "$1" *}"; c="${cols%% "$3" *}"
    if [ "$k" = "$cols" ] || [ "$c" = "$cols" ]; then
        echo "platform_field: no column '$1' or '$3'" >&2
        return 2
    fi
    k="$(wc -w <<< "$k")"; c="$(wc -w <<< "$c")"
    platform_rows | awk -v k="$((k + 1))" -v v="$2" -v c="$((c + 1))" '
        $k == v {
            if (c == 6) { for (i = 7; i <= NF; i++) $6 = $6 " " $i }
            if ($c == "-") exit 1
            print $c; found = 1; exit
        }
        END { exit !found }'
}

platform_targets() { platform_rows | awk '{ print $1 }'; }

# ipk_target ARCH: the Rust target of an OpenWrt architecture.
ipk_target() { ipk_rows | awk -v a="$1" '$1 == a { print $2; found = 1 } END { exit !found }'; }

# The repository this file is in, whatever the caller's directory.
platforms_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cargo_field() {
    awk -v key="$1" '
        /^\[/ { section = $0; next }
        section == "[package]" && $1 == key && $2 == "=" {
            sub(/^[^=]*=[ \t]*"/, ""); sub(/"[ \t]*$/, ""); print; exit
        }' "$platforms_repo/Cargo.toml"
}

binary_fresh() {
    [ -f "$1" ] && [ -z "$(find src crates sim/src Cargo.toml Cargo.lock -newer "$1" -print -quit 2> /dev/null)" ]
}
