#!/usr/bin/env bash
# The container image checks, for CI and by hand: installs podman (and what it
# needs), builds the images of the five platforms (amd64, 386, arm64, armv7,
# armv6) and their manifest list with scripts/build-image.sh, checks each
# image's platform, user, labels, size and only file, and the manifest list
# and its OCI archive; runs the amd64 image against the dashboard simulator on
# loopback (host networking) in every documented way; runs the 386 image
# with podman (an x86_64 kernel runs i386 code); takes the binary out of
# every other image and runs it under qemu-user against the simulator (no
# binfmt_misc here, so podman cannot run them itself).
#
# usage: scripts/ci-container.sh
# Podman runs with a containers.conf and a storage of its own in a temporary
# directory (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF): it does not touch the
# machine's images, and everything it starts or builds is removed at the end.
# Environment: CARGO_TARGET_DIR (default target/). The static builds go to
# its subdirectory packaging/, as in ci-packaging.sh and ci-deb.sh: a binary
# they built earlier in the same CI run (packaging/TARGET/release/
# linxdot-exporter, newer than the sources) is reused; otherwise
# build-static.sh builds it, a few minutes per architecture.
# Prints "ok NAME" / "not ok NAME" per check and last "N passed, M failed";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
host_target_dir="${CARGO_TARGET_DIR:-$repo/target}"
static_target_dir="$host_target_dir/packaging"
name=linxdot-exporter
max_size=1000000 # bytes: "well under 1 MB"

# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh
# shellcheck source=scripts/platforms.sh
source scripts/platforms.sh
version="$(cargo_field version)"
chmod 0755 "$work"
containers=()
images=()
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    local c i
    [ -z "${sim_build:-}" ] || { kill "$sim_build" 2> /dev/null; wait "$sim_build" 2> /dev/null; }
    for c in "${containers[@]}"; do podman rm -f -t 0 "$c" > /dev/null 2>&1; done
    for i in "${images[@]}"; do podman rmi -f "$i" > /dev/null 2>&1; done
    stop_pids
    # The storage's layers are overlay mounts only while a container uses
    # them; whatever is left mounted under $work goes before the files.
    if command -v findmnt > /dev/null; then
        findmnt -rn -o TARGET | grep "^$work/" | sort -r | while read -r m; do umount "$m" 2> /dev/null; done
    fi
    rm -rf "$work"
}

# Rootful podman (host networking, device nodes, chown to 65534) and an
# amd64 host: the amd64 image runs natively, the ARM ones' binaries under qemu.
if [ "$(id -u)" != 0 ] || [ "$(uname -m)" != x86_64 ]; then
    notok "run as root on an x86_64 machine (here: uid $(id -u), $(uname -m))"
    finish
fi

# --- tools --------------------------------------------------------------------
phase "installing tools"
# podman (with runc: crun fails on hybrid cgroups, where podman runs inside a
# container), qemu for the ARM binaries, curl for the scrapes.
bash scripts/install-debs.sh podman runc qemu-user-static curl file python3-yaml
for tool in podman runc qemu-aarch64-static qemu-arm-static curl file; do
    command -v "$tool" > /dev/null || notok "tools: $tool is missing"
done
[ "$failed" = 0 ] || finish

podman_conf
cat > "$work/storage.conf" << EOF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
export CONTAINERS_STORAGE_CONF="$work/storage.conf"
if podman info > "$work/podman-info.log" 2>&1; then
    ok "podman $(podman version --format '{{.Client.Version}}') works ($(podman info --format '{{.Host.OCIRuntime.Name}}, {{.Store.GraphDriverName}}, cgroups {{.Host.CgroupsVersion}}'))"
else
    notok "podman info: $(tail -n 5 "$work/podman-info.log")"
    finish
fi


# --- images (and the simulator, at the same time) --------------------------------
phase "building the images with scripts/build-image.sh"
cargo build --release --locked --example dashboard-sim > "$work/sim-build.log" 2>&1 &
sim_build=$!
build_start=$SECONDS
if CARGO_TARGET_DIR="$static_target_dir" scripts/build-image.sh --engine podman --install \
    --oci-archive "$work/image.oci.tar" > "$work/images.txt" 2> "$work/build-image.log"; then
    ok "build-image.sh ($((SECONDS - build_start))s)"
else
    notok "build-image.sh"
    tail -n 30 "$work/build-image.log"
fi
mapfile -t arches < <(platform_rows | awk '{ print $3 }')
images=("$name:$version" "$name:latest")
for arch in "${arches[@]}"; do images+=("$name:$version-$arch"); done
sed 's/^/  /' "$work/images.txt"
grep -E '^build-image: [a-z0-9]+: (using|building|staged)' "$work/build-image.log" | sed 's/^/  /'
# FROM scratch and nothing else: no base image, nothing to pull.
if [ "$(grep -Ei '^[[:space:]]*FROM[[:space:]]' Dockerfile)" = "FROM scratch" ] &&
    ! grep -Eqi 'trying to pull|pulling' "$work/build-image.log"; then
    ok "the Dockerfile's only FROM is scratch and the build pulled nothing"
else
    notok "the Dockerfile has another FROM or the build pulled: $(grep -Ei '^[[:space:]]*FROM|pull' Dockerfile "$work/build-image.log" | head -n 3)"
fi

inspect() { podman image inspect --format "$2" "$1" 2> /dev/null; }
for arch in "${arches[@]}"; do
    image="$name:$version-$arch"
    platform="$(platform_field stage "$arch" image)"
    IFS=/ read -r _ cpu _ <<< "$platform"
    if ! podman image exists "$image"; then
        notok "$image was not built"
        continue
    fi
    got="$(inspect "$image" '{{.Os}}/{{.Architecture}} user={{.Config.User}} entrypoint={{json .Config.Entrypoint}} cmd={{json .Config.Cmd}} ports={{json .Config.ExposedPorts}} layers={{len .RootFS.Layers}}')"
    want="linux/$cpu user=65534:65534 entrypoint=[\"/linxdot-exporter\"] cmd=null ports={\"8061/tcp\":{}} layers=1"
    if [ "$got" = "$want" ]; then
        ok "$image: $got"
    else
        notok "$image: '$got', not '$want'"
    fi
    # shellcheck disable=SC2016 # a Go template, not shell
    labels="$(inspect "$image" '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' | grep '^org\.opencontainers')"
    want_labels="org.opencontainers.image.description=Prometheus exporter for Linxdot LoRaWAN miners and PCsensor TEMPer USB sensors
org.opencontainers.image.licenses=MIT
org.opencontainers.image.title=linxdot-exporter
org.opencontainers.image.version=$version"
    if [ "$labels" = "$want_labels" ]; then
        ok "$image: OCI labels title, description, version $version, licenses MIT (no source)"
    else
        notok "$image: OCI labels are '$labels'"
    fi
    size="$(inspect "$image" '{{.Size}}')"
    if [ -n "$size" ] && [ "$size" -lt "$max_size" ]; then
        ok "$image: size $size bytes < $max_size"
    else
        notok "$image: size '$size' bytes, not < $max_size"
    fi
    # Its only file is the staged binary: list the files, take it out and compare.
    c="lxe-ci-create-$arch-$$"
    containers+=("$c")
    if podman create --arch "$cpu" --name "$c" "$image" > /dev/null 2> "$work/create.log" &&
        podman cp "$c:/linxdot-exporter" "$work/bin-$arch" 2>> "$work/create.log"; then
        podman export "$c" | tar -t | grep -v '/$' | sort > "$work/files-$arch"
        if cmp -s "$work/bin-$arch" "dist/image/$arch/linxdot-exporter"; then
            ok "$image: /linxdot-exporter is the staged dist/image/$arch/linxdot-exporter"
        else
            notok "$image: /linxdot-exporter differs from dist/image/$arch/linxdot-exporter"
        fi
        if [ "$(cat "$work/files-$arch")" = linxdot-exporter ]; then
            ok "$image: the only file in the image is /linxdot-exporter"
        else
            notok "$image: files in the image: $(tr '\n' ' ' < "$work/files-$arch")"
        fi
    else
        notok "$image: podman create/cp: $(cat "$work/create.log")"
    fi
    podman rm -f "$c" > /dev/null 2>&1
done
for tag in "$name:$version" "$name:latest"; do
    if [ "$(inspect "$tag" '{{.Id}}')" = "$(inspect "$name:$version-amd64" '{{.Id}}')" ] &&
        [ -n "$(inspect "$tag" '{{.Id}}')" ]; then
        ok "$tag is the amd64 image (this host's architecture)"
    else
        notok "$tag is not the amd64 image"
    fi
done
# The manifest list: one entry per platform, each the image built for it.
list="$name:$version-multiarch"
podman manifest inspect "$list" > "$work/list.json" 2> "$work/list.log"
want_list="$(for arch in "${arches[@]}"; do
    echo "$(platform_field stage "$arch" image) $(podman image inspect --format '{{.Digest}}' "$name:$version-$arch")"
done)"
got_list="$(python3 -c 'import json, sys
for m in json.load(open(sys.argv[1]))["manifests"]:
    p = m["platform"]
    print("/".join(filter(None, (p["os"], p["architecture"], p.get("variant")))), m["digest"])' "$work/list.json" 2>&1)"
if [ "$got_list" = "$want_list" ]; then
    ok "manifest list $list: $(awk '{ print $1 }' <<< "$got_list" | paste -sd' ' -), each the digest of its image"
else
    notok "manifest list $list: '$got_list', not '$want_list' $(cat "$work/list.log")"
fi
# Its OCI archive: an image index naming the same five platforms.
if [ -f "$work/image.oci.tar" ] && mkdir -p "$work/oci" && tar -xf "$work/image.oci.tar" -C "$work/oci" &&
    got_oci="$(python3 -c 'import json, os, sys
d = sys.argv[1]
top = json.load(open(os.path.join(d, "index.json")))["manifests"][0]
ref = top.get("annotations", {}).get("org.opencontainers.image.ref.name")
idx = json.load(open(os.path.join(d, "blobs", *top["digest"].split(":"))))
for m in idx["manifests"]:
    p = m["platform"]
    blob = os.path.join(d, "blobs", *m["digest"].split(":"))
    assert os.path.exists(blob), blob
    print(ref, "/".join(filter(None, (p["os"], p["architecture"], p.get("variant")))))' "$work/oci" 2>&1)" &&
    [ "$got_oci" = "$(awk -v r="$name:$version" '{ print r, $1 }' <<< "$want_list")" ]; then
    ok "OCI archive ($(stat -c %s "$work/image.oci.tar") bytes): index $name:$version of the five platforms, every blob inside"
else
    notok "OCI archive: ${got_oci:-not written}"
fi

# --- the amd64 image against the dashboard simulator ---------------------------
phase "running the image against the dashboard simulator (host network, loopback)"
sim_build_status=0
wait "$sim_build" || sim_build_status=$?
sim_build=
if [ "$sim_build_status" = 0 ]; then
    ok "cargo build --release --example dashboard-sim"
else
    notok "cargo build --release --example dashboard-sim: $(tail -n 20 "$work/sim-build.log")"
    finish
fi
sim="$host_target_dir/release/examples/dashboard-sim"
sim_port=$(free_port)
"$sim" --listen "127.0.0.1:$sim_port" --username admin --password 'sim secret' > "$work/sim.out" 2> "$work/sim.err" &
pids+=($!)
if wait_for 30 grep -q "^listening on 127.0.0.1:$sim_port" "$work/sim.out"; then
    ok "dashboard simulator listening on 127.0.0.1:$sim_port"
else
    notok "dashboard simulator: $(cat "$work/sim.out" "$work/sim.err")"
    finish
fi

# The values of the simulator's /info/system, as the exporter writes them.
expected_lines='miner_cpu_temp 35.555
miner_cpu_usage 7.169
miner_mem_usage 17.504
miner_sto_usage 39.822
miner_up 1.0'
# shellcheck disable=SC2317 # called through wait_for
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" -o "$2" 2> /dev/null; }
# shellcheck disable=SC2317 # called through wait_for
miner_up() { scrape "$1" "$2" && grep -Eq '^miner_up 1(\.0*)?$' "$2"; }
# check_scrape WHAT PORT: waits for miner_up 1 and checks the simulator's values.
check_scrape() {
    local what="$1" port="$2" out="$work/metrics-$2"
    if ! wait_for 60 miner_up "$port" "$out"; then
        notok "$what: no 'miner_up 1' within 60 s"
        head -n 40 "$out" 2> /dev/null | sed 's/^/    /'
        return 1
    fi
    local got
    got="$(grep -E '^miner_(cpu_temp|cpu_usage|mem_usage|sto_usage|up) ' "$out" | sort)"
    if [ "$got" = "$expected_lines" ]; then
        ok "$what: miner_up 1 and the simulator's values ($(echo "$got" | head -n 1), ...)"
    else
        notok "$what: scrape has '$got', not '$expected_lines'"
    fi
    if grep -q '^miner_exporter_info{.*sn="LD1NTV000000001"' "$out"; then
        ok "$what: miner_exporter_info has the simulator's serial number"
    else
        notok "$what: no miner_exporter_info with sn=\"LD1NTV000000001\""
    fi
}

# 1. Flags after the image name, the password in a mounted file (owned by
#    the container's user, mode 0400: no other user can read it).
printf 'sim secret\n' > "$work/miner_password"
chown 65534:65534 "$work/miner_password"
chmod 0400 "$work/miner_password"
port=$(free_port)
c="lxe-ci-flags-$$"
containers+=("$c")
if podman run -d --name "$c" --network host \
    -v "$work/miner_password:/run/secrets/miner_password:ro" \
    "$name:latest" -o "127.0.0.1:$sim_port" -u admin --password-file /run/secrets/miner_password \
    -r 1 -t "$port" --bind-address 127.0.0.1 > /dev/null 2> "$work/run.log"; then
    ok "podman run IMAGE -o ... -u ... --password-file (mounted file) -t $port"
    check_scrape "flags + password file" "$port"
    pid="$(podman inspect --format '{{.State.Pid}}' "$c")"
    ids="$(awk '$1 == "Uid:" || $1 == "Gid:" { printf "%s %s %s %s %s ", $1, $2, $3, $4, $5 }' "/proc/$pid/status" 2> /dev/null)"
    if [ "$ids" = "Uid: 65534 65534 65534 65534 Gid: 65534 65534 65534 65534 " ]; then
        ok "the exporter runs as 65534:65534, not root (/proc/$pid/status)"
    else
        notok "the exporter's ids are '$ids', not 65534"
    fi
    if podman logs "$c" 2>&1 | grep -q 'sim secret'; then
        notok "the password appears in the container's log"
    else
        ok "the password is not in the container's log"
    fi
    if podman logs "$c" 2>&1 | grep -qi 'can be read by other users'; then
        notok "the exporter warns about the password file's mode: $(podman logs "$c" 2>&1 | grep -i 'other users')"
    fi
    # The exporter is PID 1 in the container, where the kernel ignores a
    # signal that has no handler: it takes SIGTERM itself, so a stop ends it
    # at once (status 0), not after the grace period with SIGKILL.
    if podman stop -t 10 "$c" > /dev/null 2> "$work/stop.log" &&
        [ "$(podman inspect --format '{{.State.Status}}' "$c")" = exited ] &&
        [ "$(podman inspect --format '{{.State.ExitCode}}' "$c")" = 0 ] &&
        podman logs "$c" 2>&1 | grep -q 'INFO stopping on SIGTERM' &&
        ! grep -q 'resorting to SIGKILL' "$work/stop.log"; then
        ok "podman stop ends the container at once with SIGTERM, exit status 0"
    else
        notok "podman stop: $(cat "$work/stop.log"), state $(podman inspect --format '{{.State.Status}}' "$c")"
    fi
else
    notok "podman run (flags): $(cat "$work/run.log")"
fi

# 2. The upstream environment variables.
port=$(free_port)
c="lxe-ci-env-$$"
containers+=("$c")
if podman run -d --name "$c" --network host \
    -e MINER_HOST="127.0.0.1:$sim_port" -e MINER_USERNAME=admin -e MINER_PASSWORD='sim secret' \
    -e EXPORTER_REFRESH=1 -e EXPORTER_PORT="$port" -e EXPORTER_NO_TEMPER=1 \
    "$name:latest" --bind-address 127.0.0.1 > /dev/null 2> "$work/run.log"; then
    ok "podman run -e MINER_HOST -e MINER_USERNAME -e MINER_PASSWORD -e EXPORTER_PORT=$port IMAGE"
    check_scrape "environment variables" "$port"
    if [ -s "$work/metrics-$port" ] && ! grep -q '^temper_devices ' "$work/metrics-$port"; then
        ok "EXPORTER_NO_TEMPER=1 is honoured (no temper_devices)"
    else
        notok "EXPORTER_NO_TEMPER=1: the scrape has temper_devices"
    fi
else
    notok "podman run (env): $(cat "$work/run.log")"
fi
podman rm -f -t 0 "$c" > /dev/null 2>&1

# 3. --list-sensors with no device passed in: a clear answer, status 1.
out="$(podman run --rm "$name:latest" --list-sensors 2>&1)"
status=$?
if [ "$status" = 1 ] && [[ "$out" == "No TEMPer device could be read."* ]]; then
    ok "--list-sensors without a device: status 1, '${out:0:40}...'"
else
    notok "--list-sensors without a device: status $status, '$out'"
fi

# 4. A TEMPer stick passed in: the documented --device + --group-add recipe.
#    No hidraw device here, so a stand-in: a sysfs tree that shows one
#    TEMPer2 at /dev/hidraw7 (mounted over /sys/class and at /fake, as
#    hidapi and the exporter read it), and for the node a character device
#    owned by group 4242, mode 0660, like a udev rule makes it. It is
#    /dev/null's (1,3): opening it tests the permissions; hidapi's first
#    ioctl then fails (not a hidraw node), which is where a real stick
#    would answer.
fake="$work/fake"
fake_node() { # DIR UEVENT SUBSYSTEM
    mkdir -p "$fake/$1" && printf '%b' "$2" > "$fake/$1/uevent" && ln -s "/fake/$3" "$fake/$1/subsystem"
}
usb=devices/usb1/1-1
hid="$usb/1-1:1.1/0003:0C45:7401.0001"
mkdir -p "$fake/bus/usb" "$fake/bus/hid" "$fake/class/hidraw"
fake_node "$usb" 'DEVTYPE=usb_device\n' bus/usb
fake_node "$usb/1-1:1.1" 'DEVTYPE=usb_interface\n' bus/usb
echo 01 > "$fake/$usb/1-1:1.1/bInterfaceNumber"
fake_node "$hid" 'HID_ID=0003:00000C45:00007401\nHID_NAME=RDing TEMPer2_V3.3\nHID_PHYS=usb-ci.0-1/input1\nHID_UNIQ=\n' bus/hid
fake_node "$hid/hidraw/hidraw7" 'MAJOR=1\nMINOR=3\nDEVNAME=hidraw7\n' class/hidraw
ln -s "/fake/$hid" "$fake/$hid/hidraw/hidraw7/device"
ln -s "/fake/$hid/hidraw/hidraw7" "$fake/class/hidraw/hidraw7"
mknod "$work/hidraw7" c 1 3 && chgrp 4242 "$work/hidraw7" && chmod 0660 "$work/hidraw7"
sysfs=(-v "$fake:/fake:ro" -v "$fake/class:/sys/class:ro")
dev="/dev/hidraw7: TEMPer 0c45:7401 at usb-ci.0-1/input1: cannot open"
# list_sensors WHAT EXPECTED PODMAN-RUN-OPTIONS...: status 1 and the line for
# /dev/hidraw7 starts with EXPECTED.
list_sensors() {
    local what="$1" want="$2" out status
    shift 2
    out="$(podman run --rm "${sysfs[@]}" "$@" "$name:latest" --list-sensors 2>&1)"
    status=$?
    if [ "$status" = 1 ] && [[ "$(head -n 1 <<< "$out")" == "$want"* ]]; then
        ok "--list-sensors, $what:$(head -n 1 <<< "$out" | cut -d: -f4-)"
    else
        notok "--list-sensors, $what: status $status, '$out', not '$want...'"
    fi
}
list_sensors "a sensor without --device" "$dev: No such file or directory"
list_sensors "--device without --group-add" "$dev: Permission denied" \
    --device "$work/hidraw7:/dev/hidraw7"
list_sensors "--device with --group-add 4242 (opened; the stand-in is no hidraw node)" \
    "$dev: hidapi error: ioctl(GRDESCSIZE)" --device "$work/hidraw7:/dev/hidraw7" --group-add 4242

# 5. docker-compose.yml: this image, built from this Dockerfile, and only
#    variables the exporter knows (as its --help in the image lists them).
help="$(podman run --rm "$name:latest" --help 2>&1)"
# PyYAML: python3's, or Debian's python3-yaml for /usr/bin/python3.
py=python3
python3 -c 'import yaml' 2> /dev/null || py=/usr/bin/python3
if compose="$("$py" - << 'EOF' 2>&1
import yaml
doc = yaml.safe_load(open("docker-compose.yml"))
svc = doc["services"]["linxdot-exporter"]
build = svc["build"]
assert svc["image"] == "linxdot-exporter:latest", svc["image"]
assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile", build
assert svc["secrets"] == ["miner_password"], svc["secrets"]
assert svc["environment"]["MINER_PASSWORD_FILE"] == "/run/secrets/miner_password"
assert "MINER_PASSWORD" not in svc["environment"], "a password in the compose file"
assert doc["secrets"]["miner_password"]["file"] == "./miner_password"
print(" ".join(sorted(svc["environment"])))
EOF
)"; then
    unknown=()
    for var in $compose; do grep -q "env $var\b" <<< "$help" || unknown+=("$var"); done
    if [ ${#unknown[@]} -eq 0 ]; then
        ok "docker-compose.yml: image $name:latest from ./Dockerfile, password as a secret file, variables $compose"
    else
        notok "docker-compose.yml sets variables that --help does not list: ${unknown[*]}"
    fi
else
    notok "docker-compose.yml: $compose"
fi

# --- the other platforms: 386 with podman, the ARM ones under qemu-user ------------
phase "386 with podman; the ARM images' binaries, taken out, under qemu-user"
# An x86_64 kernel runs i386 code: podman runs the 386 image itself.
port=$(free_port)
c="lxe-ci-386-$$"
containers+=("$c")
if podman run -d --name "$c" --arch 386 --network host -e MINER_PASSWORD='sim secret' "$name:$version-386" \
    -o "127.0.0.1:$sim_port" -u admin -r 1 -t "$port" --bind-address 127.0.0.1 --no-temper \
    > /dev/null 2> "$work/run-386.log"; then
    check_scrape "the 386 image under podman" "$port"
else
    notok "podman run the 386 image: $(cat "$work/run-386.log")"
fi
podman rm -f -t 0 "$c" > /dev/null 2>&1
for arch in "${arches[@]}"; do
    runner="$(platform_field stage "$arch" qemu)" || continue
    [ "$arch" != 386 ] || continue
    bin="$work/bin-$arch"
    [ -f "$bin" ] || { notok "no binary taken out of the $arch image"; continue; }
    got="$(timeout 20 "$runner" "$bin" --version 2>&1)"
    if [ "$got" = "linxdot-exporter $version" ]; then
        ok "$runner ($arch image's binary) --version: $got"
    else
        notok "$runner ($arch image's binary) --version printed '$got'"
    fi
    port=$(free_port)
    MINER_PASSWORD='sim secret' "$runner" "$bin" -o "127.0.0.1:$sim_port" -u admin -r 1 \
        -t "$port" --bind-address 127.0.0.1 --no-temper > "$work/qemu-$arch.log" 2>&1 &
    pids+=($!)
    check_scrape "$arch image's binary under $runner" "$port"
done

finish
