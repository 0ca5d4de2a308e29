#!/usr/bin/env bash
# The release checks, for CI and by hand: scripts/release.sh twice, from the
# same static binaries, into two folders, with two podman storages (images
# built afresh each time), two umasks and two time zones, must give the same
# SHA256SUMS and the same bytes for every artifact; `sha256sum -c` passes in
# each; the tarballs hold what they should. The binaries themselves are shown
# reproducible apart from that: one target is built again from a copy of the
# tree at another path into another CARGO_TARGET_DIR and compared byte for
# byte (REPRO_TARGET, default aarch64-unknown-linux-musl; REPRO_TARGET=none
# skips it).
#
# usage: scripts/ci-release.sh
# Environment: CARGO_TARGET_DIR (default target/): the static binaries are
# those of its packaging/ subdirectory, which scripts/ci-packaging.sh built
# (build-static.sh builds any that is missing).
# Prints "ok NAME" / "not ok NAME" per check and last "N passed, M failed";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
static_target_dir="${CARGO_TARGET_DIR:-$repo/target}/packaging"
repro_target="${REPRO_TARGET:-aarch64-unknown-linux-musl}"
name=linxdot-exporter

# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh
# shellcheck source=scripts/platforms.sh
source scripts/platforms.sh
version="$(cargo_field version)"
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    stop_pids
    # podman's overlay mounts under $work go before the files.
    if command -v findmnt > /dev/null; then
        findmnt -rn -o TARGET | grep "^$work/" | sort -r | while read -r m; do umount "$m" 2> /dev/null; done
    fi
    rm -rf "$work"
}

if [ "$(id -u)" != 0 ]; then
    notok "run as root (podman builds the image)"
    finish
fi

phase "installing tools"
bash scripts/install-debs.sh podman runc dpkg-dev file
for tool in podman runc dpkg-deb sha256sum; do
    command -v "$tool" > /dev/null || notok "tools: $tool is missing"
done
[ "$failed" = 0 ] || finish
podman_conf

# The binaries, built once (ci-packaging.sh did it already in CI).
phase "the static binaries"
for t in $(platform_targets); do
    if binary_fresh "$static_target_dir/$t/release/$name"; then
        ok "$t: $(stat -c %s "$static_target_dir/$t/release/$name") bytes (built by ci-packaging.sh, newer than the sources)"
    elif CARGO_TARGET_DIR="$static_target_dir" scripts/build-static.sh --install "$t" > "$work/static-$t.log" 2>&1; then
        ok "$t: $(stat -c %s "$static_target_dir/$t/release/$name") bytes"
    else
        notok "build-static.sh $t: $(tail -n 10 "$work/static-$t.log")"
    fi
done
[ "$failed" = 0 ] || finish

# --- release.sh twice ------------------------------------------------------------------
for n in 1 2; do
    phase "scripts/release.sh, run $n"
    cat > "$work/storage-$n.conf" << EOF
[storage]
driver = "overlay"
graphroot = "$work/storage-$n"
runroot = "$work/run-$n"
EOF
    case "$n" in 1) mask=022 zone=UTC ;; 2) mask=077 zone=Pacific/Auckland ;; esac
    start=$SECONDS
    if (umask "$mask" && TZ="$zone" CONTAINERS_STORAGE_CONF="$work/storage-$n.conf" \
        CARGO_TARGET_DIR="$static_target_dir" scripts/release.sh --no-build --out-dir "$work/r$n") \
        > "$work/release-$n.log" 2>&1; then
        ok "release.sh --no-build, umask $mask, TZ $zone ($((SECONDS - start))s)"
    else
        notok "release.sh run $n: $(tail -n 20 "$work/release-$n.log")"
        finish
    fi
    if (cd "$work/r$n" && sha256sum --quiet -c SHA256SUMS) > "$work/sums-$n.log" 2>&1; then
        ok "run $n: sha256sum -c SHA256SUMS: all $(wc -l < "$work/r$n/SHA256SUMS") artifacts"
    else
        notok "run $n: sha256sum -c: $(cat "$work/sums-$n.log")"
    fi
done
grep "^$work/r1/" "$work/release-1.log" | sed "s|^$work/r1/|  |"

phase "the two runs"
if cmp -s "$work/r1/SHA256SUMS" "$work/r2/SHA256SUMS"; then
    ok "SHA256SUMS of the two runs are identical"
else
    notok "SHA256SUMS differ: $(diff "$work/r1/SHA256SUMS" "$work/r2/SHA256SUMS" | head -n 10)"
fi
# One artifact of each kind, byte for byte (SHA256SUMS covers the rest).
for f in "$name-$version-arm-unknown-linux-musleabihf.tar.gz" "${name}_${version}-1_aarch64_generic.ipk" \
    "${name}_${version}-1_armhf.deb" "$name-$version-oci.tar"; do
    check "$f: the same bytes in both runs" cmp -s "$work/r1/$f" "$work/r2/$f"
done
want="$(
    for t in $(platform_targets); do echo "$name-$version-$t.tar.gz"; done
    ipk_rows | awk -v p="${name}_${version}-1_" '{ print p $1 ".ipk" }'
    platform_rows | awk -v p="${name}_${version}-1_" '$4 != "-" { print p $4 ".deb" }'
    echo "$name-$version-oci.tar"
)"
check "SHA256SUMS names the $(wc -l <<< "$want") artifacts: 5 tarballs, $(ipk_rows | wc -l) ipks, 4 debs, the OCI archive" \
    test "$(awk '{ print $2 }' "$work/r1/SHA256SUMS")" = "$(LC_ALL=C sort <<< "$want")"

# --- what a tarball holds ----------------------------------------------------------------
phase "the tarballs"
for t in $(platform_targets); do
    f="$work/r1/$name-$version-$t.tar.gz"
    d="$name-$version-$t"
    listing="$(tar -tvzf "$f" | awk '{ print $1, $2, $6 }')"
    want_listing="drwxr-xr-x 0/0 $d/
-rw-r--r-- 0/0 $d/60-linxdot-exporter.rules
-rw-r--r-- 0/0 $d/LICENSE
-rw-r--r-- 0/0 $d/README.md
-rwxr-xr-x 0/0 $d/linxdot-exporter"
    if [ "$listing" = "$want_listing" ] &&
        tar -xOzf "$f" "$d/linxdot-exporter" | cmp -s - "$static_target_dir/$t/release/$name" &&
        [ "$(tar --full-time -tvzf "$f" | awk '{ print $4, $5 }' | sort -u | wc -l)" = 1 ]; then
        ok "$(basename "$f"): binary, README.md, LICENSE, udev rule; 0:0, one mtime, the built binary"
    else
        notok "$(basename "$f"): '$listing'"
    fi
done
check "gzip headers carry no name and no time" \
    bash -c "for f in '$work'/r1/*.tar.gz; do [ \"\$(od -An -tx1 -j4 -N4 \"\$f\" | tr -d ' ')\" = 00000000 ] || exit 1; done"

# --- the binaries themselves -----------------------------------------------------------
if [ "$repro_target" != none ]; then
    phase "$repro_target built again from a copy of the tree elsewhere"
    mkdir -p "$work/elsewhere/src"
    git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work/elsewhere/src"
    start=$SECONDS
    if CARGO_TARGET_DIR="$work/elsewhere/target" "$work/elsewhere/src/scripts/build-static.sh" --install \
        "$repro_target" > "$work/repro.log" 2>&1; then
        ok "build-static.sh $repro_target in $work/elsewhere ($((SECONDS - start))s)"
        check "$repro_target: the two builds are byte-identical" \
            cmp -s "$work/elsewhere/target/$repro_target/release/$name" "$static_target_dir/$repro_target/release/$name"
    else
        notok "build-static.sh $repro_target elsewhere: $(tail -n 20 "$work/repro.log")"
    fi
fi

finish
