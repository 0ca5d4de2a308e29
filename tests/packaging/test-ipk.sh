#!/usr/bin/env bash
# Checks the OpenWrt package that scripts/build-ipk.sh makes, with plain tar:
# layout, every control field, conffiles, maintainer scripts, modes, owners,
# times, the binary inside, and that two builds give the same bytes.
#
# usage: tests/packaging/test-ipk.sh BINARY
#   BINARY  a static aarch64 linxdot-exporter (from scripts/build-static.sh)
# Prints "ok NAME" / "not ok NAME" per check; exits 1 on any failure.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
binary="${1:?usage: test-ipk.sh BINARY}"
files="$repo/openwrt/linxdot-exporter/files"

failed=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; failed=1; }
check() { # check NAME COMMAND...: ok when COMMAND succeeds
    local name="$1"
    shift
    if "$@"; then ok "$name"; else notok "$name"; fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo_field() {
    awk -v key="$1" '/^\[/ { s = $0; next }
        s == "[package]" && $1 == key { sub(/^[^=]*=[ \t]*"/, ""); sub(/"[ \t]*$/, ""); print; exit }' \
        "$repo/Cargo.toml"
}
version="$(cargo_field version)"
arch=aarch64_generic
epoch=1700000000
name="linxdot-exporter_${version}-3_${arch}.ipk"

# --- two builds, under different umasks, must be identical -------------------
build() { # build OUTDIR UMASK
    (umask "$2" && SOURCE_DATE_EPOCH=$epoch "$repo/scripts/build-ipk.sh" \
        --binary "$binary" --arch "$arch" --release 3 --out-dir "$1") > "$work/build.log" 2>&1
}
if build "$work/a" 022 && build "$work/b" 077; then
    ok "ipk: builds"
else
    notok "ipk: build failed: $(cat "$work/build.log")"
    exit 1
fi
ipk="$work/a/$name"
check "ipk: named linxdot-exporter_VERSION-RELEASE_ARCH.ipk" test -f "$ipk"
check "ipk: two builds are byte-identical (cmp)" cmp "$ipk" "$work/b/$name"

SOURCE_DATE_EPOCH=$((epoch + 1)) "$repo/scripts/build-ipk.sh" --binary "$binary" \
    --arch "$arch" --release 3 --out-dir "$work/c" > /dev/null 2>&1
if cmp -s "$ipk" "$work/c/$name"; then
    notok "ipk: SOURCE_DATE_EPOCH is not used (another time gave the same bytes)"
else
    ok "ipk: SOURCE_DATE_EPOCH sets the file times"
fi

# --- outer archive -------------------------------------------------------------
# shellcheck disable=SC2317 # called through check
gzip_header_ok() { # gzip -n: no file name (FLG bit 3) and MTIME 0
    local head
    head="$(od -An -tx1 -N8 "$1" | tr -d ' \n')"
    [ "${head:0:6}" = 1f8b08 ] && [ $((0x${head:6:2} & 0x08)) = 0 ] && [ "${head:8:8}" = 00000000 ]
}
check "ipk: gzip without name or time" gzip_header_ok "$ipk"
listing() { tar --numeric-owner --full-time -tvzf "$1" | awk '{ print $1, $2, $4, $5, $6 }'; }
listing "$ipk" > "$work/outer.list"
{
    echo "-rw-r--r-- 0/0 2023-11-14 22:13:20 ./debian-binary"
    echo "-rw-r--r-- 0/0 2023-11-14 22:13:20 ./control.tar.gz"
    echo "-rw-r--r-- 0/0 2023-11-14 22:13:20 ./data.tar.gz"
} > "$work/outer.want"
if TZ=UTC diff -u "$work/outer.want" <(TZ=UTC listing "$ipk") > "$work/diff"; then
    ok "ipk: ./debian-binary ./control.tar.gz ./data.tar.gz, 0644 root:root, fixed time"
else
    notok "ipk: outer members"; sed 's/^/    /' "$work/diff"
fi
mkdir -p "$work/x/control" "$work/x/data"
tar -xzf "$ipk" -C "$work/x"
check "ipk: debian-binary is '2.0\\n'" cmp -s "$work/x/debian-binary" <(printf '2.0\n')
check "ipk: control.tar.gz gzip without name or time" gzip_header_ok "$work/x/control.tar.gz"
check "ipk: data.tar.gz gzip without name or time" gzip_header_ok "$work/x/data.tar.gz"

# --- control.tar.gz ------------------------------------------------------------
cat > "$work/control.list.want" <<'EOF'
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./
-rw-r--r-- 0/0 2023-11-14 22:13:20 ./conffiles
-rw-r--r-- 0/0 2023-11-14 22:13:20 ./control
-rwxr-xr-x 0/0 2023-11-14 22:13:20 ./postinst
-rwxr-xr-x 0/0 2023-11-14 22:13:20 ./prerm
EOF
if TZ=UTC diff -u "$work/control.list.want" <(TZ=UTC listing "$work/x/control.tar.gz") > "$work/diff"; then
    ok "control.tar.gz: members, modes, owners 0/0, sorted, fixed time"
else
    notok "control.tar.gz: members"; sed 's/^/    /' "$work/diff"
fi
tar -xzf "$work/x/control.tar.gz" -C "$work/x/control"
tar -xzf "$work/x/data.tar.gz" -C "$work/x/data"

data_size="$(find "$work/x/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')"
cat > "$work/control.want" <<EOF
Package: linxdot-exporter
Version: ${version}-3
Source: feeds/linxdot/linxdot-exporter
License: $(cargo_field license)
Section: utils
Maintainer: linxdot-exporter developers
Architecture: aarch64_generic
Installed-Size: $data_size
Description: $(cargo_field description)
EOF
if diff -u "$work/control.want" "$work/x/control/control" > "$work/diff"; then
    ok "control: every field as expected"
else
    notok "control: fields differ"; sed 's/^/    /' "$work/diff"
fi
check "control: Version is Cargo.toml's version plus release" \
    grep -qx "Version: ${version}-3" "$work/x/control/control"
check "control: License MIT" grep -qx 'License: MIT' "$work/x/control/control"
check "control: no Depends (static binary)" bash -c "! grep -q '^Depends' '$work/x/control/control'"
check "control: Installed-Size is the data's size in bytes ($data_size)" \
    grep -qx "Installed-Size: $data_size" "$work/x/control/control"
check "conffiles: /etc/config/linxdot-exporter" \
    cmp -s "$work/x/control/conffiles" <(printf '/etc/config/linxdot-exporter\n')
for script in postinst prerm; do
    # shellcheck disable=SC2016 # the $ are literal: the script's text
    printf '%s\n' '#!/bin/sh' \
        '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0' \
        '[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0' \
        '. ${IPKG_INSTROOT}/lib/functions.sh' \
        "default_$script \$0 \$@" > "$work/$script.want"
    check "control: $script is OpenWrt's default_$script wrapper" \
        cmp -s "$work/$script.want" "$work/x/control/$script"
done
# The wrappers behave: IPKG_NO_SCRIPT=1 skips them, a root without
# /lib/functions.sh makes them a no-op, and otherwise they call default_*.
mkdir -p "$work/root/lib"
printf 'default_postinst() { echo "postinst:$*"; }\ndefault_prerm() { echo "prerm:$*"; }\n' \
    > "$work/root/lib/functions.sh"
check "postinst: calls default_postinst with its arguments" test \
    "$(IPKG_INSTROOT="$work/root" sh "$work/x/control/postinst" configure)" = \
    "postinst:$work/x/control/postinst configure"
check "prerm: calls default_prerm" test \
    "$(IPKG_INSTROOT="$work/root" sh "$work/x/control/prerm" remove)" = \
    "prerm:$work/x/control/prerm remove"
check "postinst: IPKG_NO_SCRIPT=1 skips it" test \
    "$(IPKG_NO_SCRIPT=1 IPKG_INSTROOT="$work/root" sh "$work/x/control/postinst")" = ""
check "postinst: no-op without /lib/functions.sh" test \
    "$(IPKG_INSTROOT="$work/empty" sh "$work/x/control/postinst")" = ""
# OpenWrt's text, kept verbatim: its unquoted $@ and ${IPKG_INSTROOT} are
# what every OpenWrt package ships, so those three findings are excluded.
check "control: shellcheck postinst prerm" \
    shellcheck -s sh -e SC1091,SC2068,SC2086 "$work/x/control/postinst" "$work/x/control/prerm"

# --- data.tar.gz ---------------------------------------------------------------
cat > "$work/data.list.want" <<'EOF'
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./etc/
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./etc/config/
-rw------- 0/0 2023-11-14 22:13:20 ./etc/config/linxdot-exporter
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./etc/init.d/
-rwxr-xr-x 0/0 2023-11-14 22:13:20 ./etc/init.d/linxdot-exporter
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./usr/
drwxr-xr-x 0/0 2023-11-14 22:13:20 ./usr/bin/
-rwxr-xr-x 0/0 2023-11-14 22:13:20 ./usr/bin/linxdot-exporter
EOF
if TZ=UTC diff -u "$work/data.list.want" <(TZ=UTC listing "$work/x/data.tar.gz") > "$work/diff"; then
    ok "data.tar.gz: members, modes (config 0600), owners 0/0, sorted, fixed time"
else
    notok "data.tar.gz: members"; sed 's/^/    /' "$work/diff"
fi
info="$(file -b "$work/x/data/usr/bin/linxdot-exporter")"
if [[ "$info" =~ ^ELF\ 64-bit\ LSB\ .*ARM\ aarch64.*statically\ linked ]]; then
    ok "data: /usr/bin/linxdot-exporter is a static aarch64 ELF"
else
    notok "data: /usr/bin/linxdot-exporter is not static aarch64: $info"
fi
check "data: the binary is the one given" cmp -s "$binary" "$work/x/data/usr/bin/linxdot-exporter"
check "data: /etc/init.d/linxdot-exporter is openwrt/.../linxdot-exporter.init" \
    cmp -s "$files/linxdot-exporter.init" "$work/x/data/etc/init.d/linxdot-exporter"
check "data: /etc/config/linxdot-exporter is openwrt/.../linxdot-exporter.config" \
    cmp -s "$files/linxdot-exporter.config" "$work/x/data/etc/config/linxdot-exporter"

# --- what build-ipk.sh must refuse ---------------------------------------------
refuses() { # refuses NAME ARGS...: build-ipk.sh must exit non-zero
    local name="$1"
    shift
    if SOURCE_DATE_EPOCH=$epoch "$repo/scripts/build-ipk.sh" --out-dir "$work/bad" "$@" \
        > "$work/bad.log" 2>&1; then
        notok "build-ipk: accepts $name"
    else
        ok "build-ipk: refuses $name ($(tail -n1 "$work/bad.log" | sed 's/^build-ipk: error: //'))"
    fi
}
refuses "a binary for another architecture" --binary "$binary" --arch mipsel_24kc
refuses "a dynamically linked binary" --binary "$(readlink -f "$(command -v sh)")" --arch x86_64
refuses "a bad architecture name" --binary "$binary" --arch 'aarch64 generic'
refuses "a bad release" --binary "$binary" --release x1
refuses "a missing binary" --binary "$work/nonexistent"
check "build-ipk: nothing written by refused builds" bash -c "! ls '$work/bad'/*.ipk 2>/dev/null | grep -q ."

exit "$failed"
