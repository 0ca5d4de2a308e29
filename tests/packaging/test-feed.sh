#!/usr/bin/env bash
# Checks the OpenWrt feed Makefile (openwrt/linxdot-exporter/Makefile) in a
# mock OpenWrt tree: minimal rules.mk, package.mk and rust-package.mk that
# define what the Makefile uses, with the same symbolic-link chain that
# `scripts/feeds install` makes. Its version must be Cargo.toml's; its
# Build/Prepare must find the sources; its install recipe must lay out the
# same files with the same modes as the .ipk of scripts/build-ipk.sh.
# Prints "ok NAME" / "not ok NAME" per check; exits 1 on any failure.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

failed=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; failed=1; }

top="$(mktemp -d)"
trap 'rm -rf "$top"' EXIT
mkdir -p "$top/include" "$top/feeds/packages/lang/rust" "$top/package/feeds/linxdot"
cat > "$top/rules.mk" <<'MK'
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build_dir
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_CONF:=install -m0600
CP:=cp -fpR
MK
cat > "$top/include/package.mk" <<'MK'
PKG_BUILD_DIR:=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
PKG_INSTALL_DIR:=$(PKG_BUILD_DIR)/ipkg-install
define BuildPackage
$$(eval $$(Package/$(1)))
prepare:
	$$(Build/Prepare)
install:
	$$(call Package/$(1)/install,$$(DESTDIR))
info:
	@echo 'PKG_VERSION=$$(PKG_VERSION)'
	@echo 'PKG_RELEASE=$$(PKG_RELEASE)'
	@echo 'PKG_LICENSE=$$(PKG_LICENSE)'
	@echo 'PKG_BUILD_DEPENDS=$$(PKG_BUILD_DEPENDS)'
	@echo 'DEPENDS=$$(strip $$(DEPENDS))'
	@echo 'RUST_BIN_PACKAGE=$$(RUST_BIN_PACKAGE)'
	$$(info CONFFILES=$$(strip $$(Package/$(1)/conffiles)))
endef
MK
cat > "$top/feeds/packages/lang/rust/rust-package.mk" <<'MK'
RUST_ARCH_DEPENDS:=@(aarch64||arm||mipsel||x86_64)
define RustBinPackage
RUST_BIN_PACKAGE:=$(1)
endef
MK
ln -s "$repo/openwrt" "$top/feeds/linxdot"
ln -s ../../../feeds/linxdot/linxdot-exporter "$top/package/feeds/linxdot/linxdot-exporter"
pkg="$top/package/feeds/linxdot/linxdot-exporter"

mk() { make --no-print-directory -C "$pkg" TOPDIR="$top" "$@"; }

if info="$(mk info 2>&1)"; then
    ok "feed: the Makefile evaluates in an OpenWrt-like tree"
else
    notok "feed: make info failed: $info"
    exit 1
fi
version="$(awk '/^\[/ { s = $0; next } s == "[package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' "$repo/Cargo.toml")"
want() { # want NAME LINE: LINE must be in the Makefile's info
    if grep -qxF -- "$2" <<< "$info"; then ok "feed: $1"; else notok "feed: $1 (want '$2' in: $info)"; fi
}
want "PKG_VERSION is Cargo.toml's ($version)" "PKG_VERSION=$version"
want "PKG_LICENSE MIT" "PKG_LICENSE=MIT"
want "builds with the host Rust" "PKG_BUILD_DEPENDS=rust/host"
want "depends only on an architecture Rust supports" 'DEPENDS=@(aarch64||arm||mipsel||x86_64)'
want "is a RustBinPackage" "RUST_BIN_PACKAGE=linxdot-exporter"
want "conffiles /etc/config/linxdot-exporter" "CONFFILES=/etc/config/linxdot-exporter"

build_dir="$top/build_dir/linxdot-exporter-$version"
if mk prepare > "$top/prepare.log" 2>&1 && [ -f "$build_dir/Cargo.toml" ] &&
    [ -f "$build_dir/Cargo.lock" ] && [ -f "$build_dir/src/main.rs" ]; then
    ok "feed: Build/Prepare copies the crate from the checkout"
else
    notok "feed: Build/Prepare: $(cat "$top/prepare.log")"
fi
# The copy must load as a workspace on its own (every member's manifest).
if cargo metadata --no-deps --offline --format-version 1 \
    --manifest-path "$build_dir/Cargo.toml" > /dev/null 2> "$top/metadata.log"; then
    ok "feed: the copied crate loads as a whole workspace (cargo metadata)"
else
    notok "feed: the copied crate does not load: $(cat "$top/metadata.log")"
fi

mkdir -p "$build_dir/ipkg-install/bin"
printf 'fake binary\n' > "$build_dir/ipkg-install/bin/linxdot-exporter"
if mk install DESTDIR="$top/root" > "$top/install.log" 2>&1; then
    ok "feed: the install recipe runs"
else
    notok "feed: install recipe: $(cat "$top/install.log")"
fi
(cd "$top/root" && find . -mindepth 1 -printf '%M %p\n' | LC_ALL=C sort -k2) > "$top/got"
cat > "$top/want" <<'LIST'
drwxr-xr-x ./etc
drwxr-xr-x ./etc/config
-rw------- ./etc/config/linxdot-exporter
drwxr-xr-x ./etc/init.d
-rwxr-xr-x ./etc/init.d/linxdot-exporter
drwxr-xr-x ./usr
drwxr-xr-x ./usr/bin
-rwxr-xr-x ./usr/bin/linxdot-exporter
LIST
if diff -u "$top/want" "$top/got" > "$top/diff"; then
    ok "feed: installs the .ipk's files with its modes"
else
    notok "feed: installed files differ from the .ipk's"; sed 's/^/    /' "$top/diff"
fi
if cmp -s "$repo/openwrt/linxdot-exporter/files/linxdot-exporter.init" "$top/root/etc/init.d/linxdot-exporter" &&
    cmp -s "$repo/openwrt/linxdot-exporter/files/linxdot-exporter.config" "$top/root/etc/config/linxdot-exporter"; then
    ok "feed: installs the init script and config of openwrt/linxdot-exporter/files"
else
    notok "feed: installed init script or config differ from openwrt/linxdot-exporter/files"
fi

exit "$failed"
