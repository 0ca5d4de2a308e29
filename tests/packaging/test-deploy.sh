#!/usr/bin/env bash
# Checks scripts/deploy.sh: its --dry-run output, and real runs against a
# fake device. The fake device is a chroot with Debian's busybox as its shell
# and tools; "ssh" into it is a script that runs the remote command there.
# It has a stand-in opkg (print-architecture; install that checks the
# architecture, unpacks data.tar.gz, keeps an existing conffile) and a
# stand-in /etc/rc.common that records init script actions.
#
# usage: tests/packaging/test-deploy.sh IPK BINARY   (aarch64_generic ipk)
# Prints "ok NAME" / "not ok NAME" per check; exits 1 on any failure.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ipk="$(readlink -f "${1:?usage: test-deploy.sh IPK BINARY}")"
binary="$(readlink -f "${2:?usage: test-deploy.sh IPK BINARY}")"
deploy="$repo/scripts/deploy.sh"
files="$repo/openwrt/linxdot-exporter/files"

failed=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; failed=1; }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- dry run ------------------------------------------------------------------
out="$(SSH=ssh SSH_OPTS='' "$deploy" --dry-run --binary --file /b/linxdot-exporter root@miner 2>&1)"
cat > "$work/want" <<EOF
deploy: dry run: not asking the device; assuming --arch aarch64_generic
ssh root@miner 'cat > /usr/bin/linxdot-exporter.new && chmod 0755 /usr/bin/linxdot-exporter.new && mv -f /usr/bin/linxdot-exporter.new /usr/bin/linxdot-exporter' < /b/linxdot-exporter
ssh root@miner 'cat > /etc/init.d/linxdot-exporter.new && chmod 0755 /etc/init.d/linxdot-exporter.new && mv -f /etc/init.d/linxdot-exporter.new /etc/init.d/linxdot-exporter' < $files/linxdot-exporter.init
ssh root@miner 'if [ -e /etc/config/linxdot-exporter ]; then cat > /dev/null; else umask 077 && cat > /etc/config/linxdot-exporter; fi' < $files/linxdot-exporter.config
ssh root@miner '/etc/init.d/linxdot-exporter enable && /etc/init.d/linxdot-exporter restart'
EOF
if diff -u "$work/want" - <<< "$out" > "$work/diff"; then
    ok "deploy --dry-run --binary: prints the commands"
else
    notok "deploy --dry-run --binary"; sed 's/^/    /' "$work/diff"
fi
out="$(SSH=ssh SSH_OPTS='' "$deploy" --dry-run --arch arm_cortex-a7_neon-vfpv4 root@miner 2>&1)"
version="$(awk '/^\[/ { s = $0; next } s == "[package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' "$repo/Cargo.toml")"
f="linxdot-exporter_${version}-1_arm_cortex-a7_neon-vfpv4.ipk"
cat > "$work/want" <<EOF
$repo/scripts/build-ipk.sh --arch arm_cortex-a7_neon-vfpv4 --target armv7-unknown-linux-musleabihf
ssh root@miner 'cat > /tmp/$f' < $repo/dist/$f
ssh root@miner 'opkg install /tmp/$f; status=\$?; rm -f /tmp/$f; exit \$status'
EOF
if diff -u "$work/want" - <<< "$out" > "$work/diff"; then
    ok "deploy --dry-run --ipk --arch: builds for the arch's target, copies, opkg install"
else
    notok "deploy --dry-run --ipk --arch"; sed 's/^/    /' "$work/diff"
fi
if [ -n "$(find "$repo/dist" -newer "$work/want" -name '*.ipk' 2>/dev/null)" ]; then
    notok "deploy --dry-run built something"
else
    ok "deploy --dry-run runs nothing"
fi

# --- fake device --------------------------------------------------------------
if ! command -v busybox >/dev/null || ! chroot / true 2>/dev/null; then
    notok "deploy: fake device needs busybox and chroot"
    exit 1
fi
root="$work/root"
make_device() { # make_device ARCH
    rm -rf "$root"
    mkdir -p "$root"/{bin,tmp,usr/bin,etc/init.d,etc/config,lib,lib64,dev}
    cp "$(readlink -f "$(command -v busybox)")" "$root/bin/busybox"
    local lib
    for lib in $(ldd "$(command -v busybox)" | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")"
        cp "$(readlink -f "$lib")" "$root$lib"
    done
    for tool in sh cat chmod mv rm mkdir tar gzip grep awk sed ls basename; do ln -s busybox "$root/bin/$tool"; done
    : > "$root/dev/null"
    chmod 0666 "$root/dev/null"
    echo "$1" > "$root/etc/fake-arch"
    cat > "$root/bin/opkg" <<'SH'
#!/bin/sh
case "$1" in
print-architecture)
    printf 'arch all 1\narch noarch 1\narch %s 10\n' "$(cat /etc/fake-arch)" ;;
install)
    t=/tmp/opkg.unpack; rm -rf $t; mkdir -p $t/c $t/d
    (cd $t && tar -xzf "$2" && tar -xzf control.tar.gz -C c && tar -xzf data.tar.gz -C d) || exit 1
    a="$(sed -n 's/^Architecture: //p' $t/c/control)"
    [ "$a" = "$(cat /etc/fake-arch)" ] || { echo "incompatible architecture $a" >&2; exit 255; }
    for f in $(cat $t/c/conffiles); do [ -e "$f" ] && rm "$t/d$f"; done
    (cd $t/d && tar -cf - .) | (cd / && tar -xpf -)
    echo "installed $(sed -n 's/^Package: //p' $t/c/control)" >> /opkg.log
    IPKG_INSTROOT= sh $t/c/postinst configure ;;
*) exit 1 ;;
esac
SH
    # shellcheck disable=SC2016 # for the fake device's shell
    printf '#!/bin/sh\necho "$(basename "$1") $2" >> /rc.log\n' > "$root/etc/rc.common"
    chmod 0755 "$root/bin/opkg" "$root/etc/rc.common"
    # The wrapper postinst calls default_postinst, as on OpenWrt: enable + start.
    printf 'default_postinst() { /etc/init.d/linxdot-exporter enable; /etc/init.d/linxdot-exporter start; }\n' \
        > "$root/lib/functions.sh"
}
cat > "$work/ssh" <<EOF
#!/bin/sh
# fake ssh HOST COMMAND...: runs COMMAND in the fake device's chroot.
shift
exec chroot "$root" /bin/sh -c "\$*"
EOF
chmod 0755 "$work/ssh"
export SSH="$work/ssh" SSH_OPTS=

make_device aarch64_generic
if "$deploy" --binary --file "$binary" root@device > "$work/log" 2>&1; then
    ok "deploy --binary: runs against a device"
else
    notok "deploy --binary: $(cat "$work/log")"
fi
check "deploy --binary: asks the device for its arch" grep -q 'root@device is aarch64_generic' "$work/log"
check "deploy --binary: binary in /usr/bin, 0755" \
    bash -c "cmp -s '$binary' '$root/usr/bin/linxdot-exporter' && [ \"\$(stat -c %a '$root/usr/bin/linxdot-exporter')\" = 755 ]"
check "deploy --binary: init script in /etc/init.d, 0755" \
    bash -c "cmp -s '$files/linxdot-exporter.init' '$root/etc/init.d/linxdot-exporter' && [ \"\$(stat -c %a '$root/etc/init.d/linxdot-exporter')\" = 755 ]"
check "deploy --binary: default config installed 0600" \
    bash -c "cmp -s '$files/linxdot-exporter.config' '$root/etc/config/linxdot-exporter' && [ \"\$(stat -c %a '$root/etc/config/linxdot-exporter')\" = 600 ]"
check "deploy --binary: service enabled and restarted" \
    cmp -s "$root/rc.log" <(printf 'linxdot-exporter enable\nlinxdot-exporter restart\n')
check "deploy --binary: no temporary files left" \
    bash -c "! ls '$root/usr/bin' '$root/etc/init.d' | grep -q '\\.new\$'"

printf "config linxdot-exporter 'main'\n\toption username 'mine'\n" > "$root/etc/config/linxdot-exporter"
chmod 0600 "$root/etc/config/linxdot-exporter"
cp "$root/etc/config/linxdot-exporter" "$work/my-config"
printf 'old\n' > "$root/usr/bin/linxdot-exporter"
"$deploy" --binary --arch aarch64_generic --file "$binary" root@device > "$work/log" 2>&1
check "deploy --binary again: keeps the existing config" cmp -s "$work/my-config" "$root/etc/config/linxdot-exporter"
check "deploy --binary again: replaces the binary" cmp -s "$binary" "$root/usr/bin/linxdot-exporter"

make_device aarch64_generic
if "$deploy" --ipk --file "$ipk" root@device > "$work/log" 2>&1; then
    ok "deploy --ipk: runs against a device"
else
    notok "deploy --ipk: $(cat "$work/log")"
fi
check "deploy --ipk: opkg installed the package" grep -qx 'installed linxdot-exporter' "$root/opkg.log"
check "deploy --ipk: binary, init script and config in place" \
    bash -c "cmp -s '$binary' '$root/usr/bin/linxdot-exporter' && [ -x '$root/etc/init.d/linxdot-exporter' ] && [ \"\$(stat -c %a '$root/etc/config/linxdot-exporter')\" = 600 ]"
check "deploy --ipk: postinst enabled and started the service" \
    cmp -s "$root/rc.log" <(printf 'linxdot-exporter enable\nlinxdot-exporter start\n')
check "deploy --ipk: the copied .ipk is removed from /tmp" bash -c "! ls '$root/tmp'/*.ipk 2>/dev/null | grep -q ."

make_device mipsel_24kc
if "$deploy" --ipk --arch aarch64_generic --file "$ipk" root@device > "$work/log" 2>&1; then
    notok "deploy --ipk: installs an aarch64 package on a mipsel_24kc device"
else
    check "deploy --ipk: refuses a package the device's opkg would refuse" \
        grep -q "does not accept 'aarch64_generic' packages" "$work/log"
fi
check "deploy --ipk: nothing installed on the wrong device" test ! -e "$root/opkg.log"

exit "$failed"
