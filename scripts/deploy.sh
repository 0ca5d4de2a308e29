#!/usr/bin/env bash
# Put linxdot-exporter on an OpenWrt device (a Linxdot miner) over ssh.
#
# usage: scripts/deploy.sh [--ipk | --binary] [--dry-run] [--arch ARCH]
#                          [--target TRIPLE] [--file PATH] HOST
#   HOST            ssh destination, e.g. root@192.168.1.20 (ssh's config applies)
#   --ipk           (default) copy the .ipk and `opkg install` it
#   --binary        copy the static binary and the init script, install the
#                   default config only where none exists, enable and
#                   (re)start the service: no opkg involved
#   --dry-run       print the commands instead of running them
#   --arch ARCH     opkg architecture (default: asked from the device with
#                   `opkg print-architecture`; aarch64_generic with --dry-run)
#   --target TRIPLE Rust target (default: from ARCH, e.g. aarch64_* ->
#                   aarch64-unknown-linux-musl)
#   --file PATH     deploy this .ipk (--ipk) or binary (--binary) instead of
#                   building one with scripts/build-ipk.sh / build-static.sh
# Environment: SSH (default ssh) and SSH_OPTS (extra words for ssh).
#
# Files go through `ssh HOST 'cat > PATH' < FILE`: OpenWrt's dropbear often
# has no sftp server, which scp needs unless given -O.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { printf 'deploy: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'deploy: %s\n' "$*" >&2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
mode=ipk
dry_run=0
arch=""
target=""
file=""
host=""

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi; }
while [ $# -gt 0 ]; do
    case "$1" in
        --ipk) mode=ipk ;;
        --binary) mode=binary ;;
        --dry-run|-n) dry_run=1 ;;
        --arch) need_value "$@"; arch="$2"; shift ;;
        --arch=*) arch="${1#*=}" ;;
        --target) need_value "$@"; target="$2"; shift ;;
        --target=*) target="${1#*=}" ;;
        --file) need_value "$@"; file="$2"; shift ;;
        --file=*) file="${1#*=}" ;;
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option '$1'" ;;
        *) [ -z "$host" ] || die "more than one HOST ('$host', '$1')"; host="$1" ;;
    esac
    shift
done
[ -n "$host" ] || { usage >&2; die "no HOST"; }
if [ -n "$arch" ] && ! [[ "$arch" =~ ^[a-z0-9_-]+$ ]]; then
    die "--arch '$arch' is not an opkg architecture"
fi

read -r -a ssh_cmd <<< "${SSH:-ssh} ${SSH_OPTS:-}"

# A word as the shell reads it: bare when safe, else in single quotes.
quote() {
    if [[ "$1" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}
# Prints a command in shell syntax; "<" FILE at the end is shown as a redirect.
show() {
    local out="" word redirect=""
    if [ $# -ge 2 ] && [ "${*: -2:1}" = "<" ]; then
        redirect=" < $(quote "${*: -1}")"
        set -- "${@:1:$#-2}"
    fi
    for word in "$@"; do out="$out${out:+ }$(quote "$word")"; done
    printf '%s%s\n' "$out" "$redirect"
}
# run CMD... [< FILE]: runs it, or prints it with --dry-run.
run() {
    if [ "$dry_run" = 1 ]; then
        show "$@"
        return 0
    fi
    if [ $# -ge 2 ] && [ "${*: -2:1}" = "<" ]; then
        local input="${*: -1}"
        "${@:1:$#-2}" < "$input"
    else
        "$@"
    fi
}
remote() { run "${ssh_cmd[@]}" "$host" "$@"; }

# --- architecture and target --------------------------------------------------
if [ -z "$arch" ]; then
    if [ "$dry_run" = 1 ]; then
        arch=aarch64_generic
        say "dry run: not asking the device; assuming --arch $arch"
    else
        # "arch NAME PRIORITY" lines; the highest priority is the device's own.
        arch="$("${ssh_cmd[@]}" "$host" opkg print-architecture |
            awk '$1 == "arch" && $2 != "all" && $2 != "noarch" && $3 + 0 >= best { best = $3 + 0; a = $2 }
                 END { print a }')" || die "cannot ask $host for its architecture"
        [ -n "$arch" ] || die "$host did not name its architecture (opkg print-architecture)"
        say "$host is $arch"
    fi
fi
# shellcheck source=scripts/platforms.sh
source "$repo/scripts/platforms.sh"
if [ -z "$target" ] && ! target="$(ipk_target "$arch")"; then
    case "$arch" in
        aarch64*) target=aarch64-unknown-linux-musl ;;
        arm_arm11*) target=arm-unknown-linux-musleabihf ;;
        arm_cortex-a7*|arm_cortex-a9*|arm_cortex-a15*|arm_cortex-a53*|arm_*neon*|arm_*vfp*)
            target=armv7-unknown-linux-musleabihf ;;
        mipsel_*) target=mipsel-unknown-linux-musl ;;
        x86_64) target=x86_64-unknown-linux-musl ;;
        *) die "no Rust target known for '$arch': give --target" ;;
    esac
fi

name=linxdot-exporter
files="$repo/openwrt/$name/files"

# --- build (unless given a file) ----------------------------------------------
if [ -z "$file" ]; then
    if [ "$mode" = ipk ]; then
        version="$(cargo_field version)"
        file="$repo/dist/${name}_${version}-1_${arch}.ipk"
        run "$repo/scripts/build-ipk.sh" --arch "$arch" --target "$target"
    else
        file="${CARGO_TARGET_DIR:-$repo/target}/$target/release/$name"
        run "$repo/scripts/build-static.sh" "$target"
    fi
fi
if [ "$dry_run" = 0 ] && [ ! -f "$file" ]; then
    die "no file at $file"
fi

# --- deploy -------------------------------------------------------------------
if [ "$mode" = ipk ]; then
    remote_ipk="/tmp/$(basename "$file")"
    if [ "$dry_run" = 0 ]; then
        # opkg refuses an architecture the device does not list; say why early.
        "${ssh_cmd[@]}" "$host" opkg print-architecture | awk '{ print $2 }' | grep -qxF "$arch" ||
            die "$host does not accept '$arch' packages (see: ssh $host opkg print-architecture)"
    fi
    remote "cat > $remote_ipk" "<" "$file"
    remote "opkg install $remote_ipk; status=\$?; rm -f $remote_ipk; exit \$status"
else
    # Replace files through a temporary name and mv: a running binary cannot
    # be overwritten in place ("text file busy"), but it can be replaced.
    remote "cat > /usr/bin/$name.new && chmod 0755 /usr/bin/$name.new && mv -f /usr/bin/$name.new /usr/bin/$name" "<" "$file"
    remote "cat > /etc/init.d/$name.new && chmod 0755 /etc/init.d/$name.new && mv -f /etc/init.d/$name.new /etc/init.d/$name" "<" "$files/$name.init"
    # The default config only where there is none: an existing one is kept.
    remote "if [ -e /etc/config/$name ]; then cat > /dev/null; else umask 077 && cat > /etc/config/$name; fi" "<" "$files/$name.config"
    remote "/etc/init.d/$name enable && /etc/init.d/$name restart"
fi
if [ "$dry_run" = 0 ]; then
    say "deployed to $host; metrics on port 8061 unless configured otherwise (logread -e $name)"
fi
