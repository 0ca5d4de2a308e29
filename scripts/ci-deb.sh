#!/usr/bin/env bash
# The Debian package checks, for CI and by hand: installs what it needs,
# builds the amd64, i386, arm64 and armhf packages (scripts/build-deb.sh;
# static builds already made in target/packaging/ by scripts/ci-packaging.sh
# are reused),
# checks that a second build gives the same bytes, runs lintian on each,
# installs, upgrades, removes and purges with real dpkg into a scratch root
# (maintainer scripts chrootless with DPKG_ROOT, as with no systemd running),
# checks files, modes, conffiles and the service's enablement there, runs
# systemd-analyze verify and security on the unit, and lets the amd64 binary
# from the package serve a scrape against the dashboard simulator.
#
# usage: scripts/ci-deb.sh
# Environment: CARGO_TARGET_DIR (default target/; the static builds go to
# its subdirectory packaging/, as in ci-packaging.sh).
# Prints "ok NAME" / "not ok NAME" per check and last "N passed, M failed";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
host_target_dir="${CARGO_TARGET_DIR:-$repo/target}"
static_target_dir="$host_target_dir/packaging"
max_score=2.0
# lintian warnings that are kept on purpose (see docs/install.md, "Debian").
kept_warnings=(
    # The package is not uploaded to Debian: there is no ITP bug to close.
    initial-upload-closes-no-bugs
    # /etc/default/linxdot-exporter may hold the dashboard password: 0600.
    non-standard-file-perm
)

# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh
# shellcheck source=scripts/platforms.sh
source scripts/platforms.sh
mapfile -t deb_arches < <(platform_rows | awk '$4 != "-" { print $4 }')

# --- tools --------------------------------------------------------------------
phase "installing tools"
bash scripts/install-debs.sh lintian systemd init-system-helpers passwd man-db curl python3 strace file
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
for tool in lintian systemd-analyze deb-systemd-helper dpkg-deb man curl python3 strace file; do
    command -v "$tool" > /dev/null || notok "tools: $tool is missing"
done
[ "$failed" = 0 ] || finish

# --- build --------------------------------------------------------------------
phase "building the packages (revisions 1 and 2)"
# The simulator at the same time, with the host toolchain.
cargo build --release --locked --workspace --example dashboard-sim > "$work/sim-build.log" 2>&1 &
sim_build=$!
version="$(cargo_field version)"
# One file time for every build below (a commit in between must not matter).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || echo 1700000000)}"
build_start=$SECONDS
# The binaries ci-packaging.sh built are used as they are when no source is newer.
build_opt=--no-build
for arch in "${deb_arches[@]}"; do
    binary_fresh "$static_target_dir/$(platform_field deb "$arch" target)/release/linxdot-exporter" ||
        build_opt=--install
done
if CARGO_TARGET_DIR="$static_target_dir" scripts/build-deb.sh "$build_opt" --out-dir "$work/r1" \
    > "$work/build1.log" 2>&1; then
    ok "build-deb.sh $build_opt: ${deb_arches[*]}, revision 1 ($((SECONDS - build_start))s)"
else
    notok "build-deb.sh: $(tail -n 20 "$work/build1.log")"
    finish
fi
cat "$work/build1.log"
# The same again under another umask must give the same bytes.
for n in 1b 2; do
    (umask 077 && CARGO_TARGET_DIR="$static_target_dir" scripts/build-deb.sh --no-build \
        --revision "${n%b}" --out-dir "$work/r$n") > "$work/build$n.log" 2>&1 ||
        notok "build-deb.sh --revision ${n%b}: $(tail -n 5 "$work/build$n.log")"
done
for arch in "${deb_arches[@]}"; do
    deb="$work/r1/linxdot-exporter_${version}-1_$arch.deb"
    check "$arch: two builds of $(basename "$deb") (umask 022, 077) are byte-identical" cmp -s "$deb" "$work/r1b/$(basename "$deb")"
    check "$arch: revision 2 built" test -f "$work/r2/linxdot-exporter_${version}-2_$arch.deb"
done

# --- lintian and contents ----------------------------------------------------------
phase "lintian and contents"
kept_re="$(IFS='|'; echo "${kept_warnings[*]}")"
for arch in "${deb_arches[@]}"; do
    deb="$work/r1/linxdot-exporter_${version}-1_$arch.deb"
    lintian --fail-on none "$deb" > "$work/lintian-$arch.txt" 2>&1
    sed 's/^/  /' "$work/lintian-$arch.txt"
    if grep -q '^E: ' "$work/lintian-$arch.txt"; then
        notok "$arch: lintian errors"
    else
        ok "$arch: lintian: no errors"
    fi
    if grep '^W: ' "$work/lintian-$arch.txt" | grep -Evq ": ($kept_re)( |$)"; then
        notok "$arch: lintian warnings beyond the kept ones ($kept_re)"
    else
        ok "$arch: lintian: no warnings beyond the kept ones"
    fi
    dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' | sort -k3 > "$work/contents-$arch.txt"
    for want in '-rwxr-xr-x root/root ./usr/bin/linxdot-exporter' \
        '-rw------- root/root ./etc/default/linxdot-exporter' \
        '-rw-r--r-- root/root ./usr/lib/systemd/system/linxdot-exporter.service' \
        '-rw-r--r-- root/root ./usr/lib/udev/rules.d/60-linxdot-exporter.rules' \
        '-rw-r--r-- root/root ./usr/lib/sysusers.d/linxdot-exporter.conf' \
        '-rw-r--r-- root/root ./usr/share/doc/linxdot-exporter/copyright' \
        '-rw-r--r-- root/root ./usr/share/man/man1/linxdot-exporter.1.gz'; do
        check "$arch: contains $want" grep -qxF -- "$want" "$work/contents-$arch.txt"
    done
    check "$arch: conffiles lists /etc/default/linxdot-exporter only" \
        test "$(dpkg-deb -I "$deb" conffiles)" = /etc/default/linxdot-exporter
    mkdir -p "$work/x-$arch"
    dpkg-deb -x "$deb" "$work/x-$arch"
    info="$(file -b "$work/x-$arch/usr/bin/linxdot-exporter")"
    re="$(platform_field deb "$arch" file)"
    if [[ "$info" =~ ^$re.*statically\ linked ]] &&
        cmp -s "$work/x-$arch/usr/bin/linxdot-exporter" \
            "$static_target_dir/$(platform_field deb "$arch" target)/release/linxdot-exporter"; then
        ok "$arch: the binary is the static $(platform_field deb "$arch" target) one (${re##*.\*})"
    else
        notok "$arch: the binary is not the static $(platform_field deb "$arch" target) one: $info"
    fi
done
# The udev rule covers each supported VID:PID of the model table, nothing else.
grep -oE 'const [A-Z0-9_]+: \(u16, u16\) = \(0x[0-9a-fA-F]{4}, 0x[0-9a-fA-F]{4}\)' src/temper/models.rs |
    sed -E 's/.*\(0x(....), 0x(....)\)$/\1:\2/' | tr 'A-F' 'a-f' | sort -u > "$work/ids-models"
sed -nE 's/.*ATTRS\{idVendor\}=="(....)", ATTRS\{idProduct\}=="(....)".*/\1:\2/p' \
    packaging/debian/60-linxdot-exporter.rules | sort -u > "$work/ids-rules"
if [ -s "$work/ids-models" ] && diff -u "$work/ids-models" "$work/ids-rules" > "$work/ids.diff"; then
    ok "udev rule: the $(wc -l < "$work/ids-rules") VID:PIDs of src/temper/models.rs"
else
    notok "udev rule and src/temper/models.rs differ: $(cat "$work/ids.diff")"
fi
check "udev rule: every line gives group linxdot-exporter mode 0660 on hidraw" \
    test "$(grep -c '^SUBSYSTEM=="hidraw", .*GROUP="linxdot-exporter", MODE="0660"$' \
        packaging/debian/60-linxdot-exporter.rules)" = "$(wc -l < "$work/ids-rules")"

# --- dpkg into a scratch root -----------------------------------------------------
phase "install, upgrade, remove, purge into a scratch root"
root="$work/root"
admin="$root/var/lib/dpkg"
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers" "$root/var/log" "$root/etc" \
    "$root/usr/lib" "$root/usr/bin"
: > "$admin/status"
: > "$admin/available"
# --root: files and database under $root; chrootless: the maintainer scripts
# run here with DPKG_ROOT=$root, where no systemd or udev is running for them.
dpkg_root() {
    "${sudo[@]}" dpkg --root="$root" --force-script-chrootless --force-unsafe-io \
        --log="$root/var/log/dpkg.log" "$@" > "$work/dpkg.log" 2>&1
}
state() { dpkg-query --admindir="$admin" -W -f='${db:Status-Abbrev}${Version}' linxdot-exporter 2> /dev/null; }
mode_of() { stat -c '%a %U:%G' "$1" 2> /dev/null; }
wants="$root/etc/systemd/system/multi-user.target.wants/linxdot-exporter.service"
conf="$root/etc/default/linxdot-exporter"
deb1="$work/r1/linxdot-exporter_${version}-1_amd64.deb"
deb2="$work/r2/linxdot-exporter_${version}-2_amd64.deb"

if dpkg_root -i "$deb1"; then ok "dpkg -i revision 1"; else notok "dpkg -i revision 1: $(cat "$work/dpkg.log")"; fi
check "installed: state ii ${version}-1" test "$(state)" = "ii ${version}-1"
check "installed: /usr/bin/linxdot-exporter 755 root:root" test "$(mode_of "$root/usr/bin/linxdot-exporter")" = "755 root:root"
check "installed: /etc/default/linxdot-exporter 600 root:root" test "$(mode_of "$conf")" = "600 root:root"
check "installed: the conffile is registered" \
    bash -c "dpkg-query --admindir='$admin' -W -f='\${Conffiles}' linxdot-exporter | grep -q '^ /etc/default/linxdot-exporter [0-9a-f]\{32\}\$'"
check "installed: group linxdot-exporter created (sysusers.d)" grep -q '^linxdot-exporter:x:[0-9]*:' "$root/etc/group"
check "installed: enabled (multi-user.target.wants symlink)" \
    test "$(readlink "$wants")" = /usr/lib/systemd/system/linxdot-exporter.service
cp "$root/etc/group" "$work/group-before"
find "$root/etc" "$root/var/lib/systemd" -printf '%p %l\n' 2> /dev/null | sort > "$work/etc-before"
if DPKG_ROOT="$root" sh "$admin/info/linxdot-exporter.postinst" configure "${version}-1" > "$work/again.log" 2>&1 &&
    find "$root/etc" "$root/var/lib/systemd" -printf '%p %l\n' 2> /dev/null | sort | cmp -s - "$work/etc-before" &&
    cmp -s "$root/etc/group" "$work/group-before"; then
    ok "postinst configure run again changes nothing (idempotent)"
else
    notok "postinst configure run again: $(cat "$work/again.log")"
fi

# The administrator's change survives upgrade and remove, and purge deletes it.
printf 'MINER_HOST=192.0.2.7\n' >> "$conf"
if dpkg_root -i "$deb2"; then ok "dpkg -i revision 2 (upgrade)"; else notok "upgrade: $(cat "$work/dpkg.log")"; fi
check "upgraded: state ii ${version}-2" test "$(state)" = "ii ${version}-2"
check "upgraded: the changed conffile is kept, mode 600" \
    bash -c "grep -qx 'MINER_HOST=192.0.2.7' '$conf' && [ \"\$(stat -c %a '$conf')\" = 600 ]"
check "upgraded: no .dpkg-new/.dpkg-dist/.dpkg-old left" \
    bash -c "! ls '$root/etc/default' | grep -q '\\.dpkg-'"
check "upgraded: still enabled" test -L "$wants"
if dpkg_root -i "$deb2"; then ok "dpkg -i revision 2 again (reinstall)"; else notok "reinstall: $(cat "$work/dpkg.log")"; fi
if dpkg_root -r linxdot-exporter; then ok "dpkg -r"; else notok "dpkg -r: $(cat "$work/dpkg.log")"; fi
check "removed: state rc (config files kept)" test "$(state)" = "rc ${version}-2"
check "removed: the binary, unit and udev rule are gone" bash -c "! ls '$root/usr/bin/linxdot-exporter' \
    '$root/usr/lib/systemd/system/linxdot-exporter.service' '$root/usr/lib/udev/rules.d/60-linxdot-exporter.rules' 2>/dev/null"
check "removed: the changed conffile is kept" grep -qx 'MINER_HOST=192.0.2.7' "$conf"
check "removed: the unit is masked (it cannot start without its package)" \
    test "$(readlink "$root/etc/systemd/system/linxdot-exporter.service")" = /dev/null
if dpkg_root -P linxdot-exporter; then ok "dpkg -P"; else notok "dpkg -P: $(cat "$work/dpkg.log")"; fi
check "purged: not known to dpkg" test -z "$(state)"
check "purged: /etc/default/linxdot-exporter deleted" test ! -e "$conf"
check "purged: no enablement, mask or deb-systemd-helper state left" bash -c "! find '$root/etc/systemd' \
    '$root/var/lib/systemd' -name '*linxdot-exporter*' 2>/dev/null | grep -q ."
if dpkg_root -i "$deb1" && dpkg_root -P linxdot-exporter; then
    ok "install again after purge, purge again"
else
    notok "install after purge: $(cat "$work/dpkg.log")"
fi
dpkg_root -i "$deb2" || notok "dpkg -i for the checks below: $(cat "$work/dpkg.log")"

# --- the unit ---------------------------------------------------------------------
phase "systemd-analyze verify and security"
unit="$root/usr/lib/systemd/system/linxdot-exporter.service"
# verify checks that ExecStart's program and the man page exist on this
# machine: point them into the scratch root.
mkdir -p "$work/verify"
sed "s|^ExecStart=/usr/bin/|ExecStart=$root/usr/bin/|" "$unit" > "$work/verify/linxdot-exporter.service"
if MANPATH="$root/usr/share/man" systemd-analyze verify "$work/verify/linxdot-exporter.service" \
    > "$work/verify.log" 2>&1 && [ ! -s "$work/verify.log" ]; then
    ok "systemd-analyze verify: clean"
else
    notok "systemd-analyze verify: $(cat "$work/verify.log")"
fi
systemd-analyze security --offline=true --root="$root" linxdot-exporter.service > "$work/security.log" 2>&1
score="$(sed -n 's/.*Overall exposure level for linxdot-exporter.service: \([0-9.]*\).*/\1/p' "$work/security.log")"
grep '✗' "$work/security.log" | sed 's/  */ /g; s/^/  /'
if [ -n "$score" ] && awk -v s="$score" -v m="$max_score" 'BEGIN { exit !(s <= m) }'; then
    ok "systemd-analyze security --offline=true: exposure $score <= $max_score"
else
    notok "systemd-analyze security: exposure '${score:-?}' (max $max_score): $(tail -n 3 "$work/security.log")"
fi

# --- the packaged binary against the dashboard simulator ------------------------
phase "the packaged amd64 binary against the dashboard simulator"
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s while it fails
# with status 1; status 2 means it never will.
wait_for() {
    local deadline=$((SECONDS + $1)) status
    shift
    while :; do
        "$@"
        status=$?
        [ "$status" = 0 ] && return 0
        [ "$status" = 1 ] && [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
if wait "$sim_build"; then
    ok "cargo build --release --example dashboard-sim"
else
    notok "cargo build --example dashboard-sim: $(tail -n 20 "$work/sim-build.log")"
fi
sim="$host_target_dir/release/examples/dashboard-sim"
binary="$root/usr/bin/linxdot-exporter"
if [ -x "$sim" ] && [ -x "$binary" ]; then
    sim_port=$(free_port)
    # The file exists before the grep below (a missing file is grep's status 2: "never").
    : > "$work/sim.out"
    "$sim" --listen "127.0.0.1:$sim_port" > "$work/sim.out" 2> "$work/sim.err" &
    pids+=($!)
    wait_for 30 grep -q "^listening on 127.0.0.1:$sim_port" "$work/sim.out" ||
        notok "dashboard simulator did not start: $(cat "$work/sim.out" "$work/sim.err")"
    port=$(free_port)
    # As the unit runs it: settings from the environment, the log for
    # journald; under strace, to hold its system calls against the unit's
    # SystemCallFilter (TEMPer on: hidraw enumeration is on that path too).
    MINER_HOST="127.0.0.1:$sim_port" MINER_USERNAME=admin MINER_PASSWORD=admin EXPORTER_REFRESH=1 \
        EXPORTER_PORT="$port" strace -f -qq -o "$work/strace.txt" \
        "$binary" --log-target journal --bind-address 127.0.0.1 > "$work/exporter.out" 2> "$work/exporter.err" &
    tracer=$!
    pids+=("$tracer")
    # shellcheck disable=SC2317 # called through wait_for
    miner_up() {
        kill -0 "$tracer" 2> /dev/null || return 2 # exited: no use waiting
        curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" -o "$work/metrics" 2> /dev/null &&
            grep -Eq '^miner_up 1(\.0*)?$' "$work/metrics"
    }
    # The exporter is strace's child: the process whose parent is $tracer.
    # shellcheck disable=SC2317 # called through wait_for
    traced_pid() {
        local dir stat
        for dir in /proc/[0-9]*; do
            stat="$(cat "$dir/stat" 2> /dev/null)" || continue
            stat="${stat##*) }" # after "PID (COMM) ": STATE PPID ...
            [ "$(echo "$stat" | cut -d' ' -f2)" = "$tracer" ] && { exporter="${dir#/proc/}"; return 0; }
        done
        return 1
    }
    wait_for 30 traced_pid && pids+=("$exporter")
    if wait_for 60 miner_up; then
        ok "the packaged binary serves miner_up 1 from the simulator"
    else
        notok "no 'miner_up 1' within 60 s; log: $(tail -n 20 "$work/exporter.err")"
    fi
    check "scrape has miner_cpu_temp" grep -q '^miner_cpu_temp ' "$work/metrics"
    if [ -s "$work/exporter.err" ] && ! grep -qv '^<[0-7]>\(DEBUG\|INFO\|WARN\|ERROR\) ' "$work/exporter.err"; then
        ok "--log-target journal: every line has journald's <N> priority prefix"
    else
        notok "--log-target journal: lines without a <N> prefix: $(head -n 5 "$work/exporter.err")"
    fi
    check "--log-target journal: info lines as <6>INFO" grep -q '^<6>INFO ' "$work/exporter.err"
    # A few more scrapes, then every system call it made must pass the filter.
    for _ in 1 2 3; do curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" -o /dev/null; done
    # SIGTERM to the exporter itself (strace would only detach from it).
    [ -n "${exporter:-}" ] && kill "$exporter" 2> /dev/null
    wait "$tracer" 2> /dev/null
    sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$work/strace.txt" | sort -u > "$work/syscalls-used"
    # The unit's filter, as systemd reads its SystemCallFilter= lines: in
    # order, the first (not "~") an allow list, then each "~" line taking
    # its calls away and each other line adding its calls back.
    expand() { # the system calls of a systemd syscall-filter group, nested groups expanded
        local line
        systemd-analyze syscall-filter "$1" | sed -n 's/^    //p' | grep -v '^#' | while read -r line; do
            case "$line" in @*) expand "$line" ;; *) echo "$line" ;; esac
        done
    }
    : > "$work/permitted"
    sed -n 's/^SystemCallFilter=//p' "$unit" > "$work/filter-lines"
    while read -r value; do
        deny=""
        case "$value" in "~"*) deny=1 value="${value#\~}" ;; esac
        for item in $value; do
            case "$item" in @*) expand "$item" ;; *) echo "$item" ;; esac
        done | sort -u > "$work/these"
        if [ -n "$deny" ]; then
            comm -23 "$work/permitted" "$work/these" > "$work/next"
        else
            sort -u "$work/permitted" "$work/these" > "$work/next"
        fi
        mv "$work/next" "$work/permitted"
    done < "$work/filter-lines"
    outside="$(comm -23 "$work/syscalls-used" "$work/permitted" | tr '\n' ' ')"
    if [ -s "$work/syscalls-used" ] && [ -z "$outside" ]; then
        ok "all $(wc -l < "$work/syscalls-used") system calls the exporter made pass the unit's SystemCallFilter"
    else
        notok "system calls outside the unit's SystemCallFilter: ${outside:-none traced}"
    fi
fi

finish
