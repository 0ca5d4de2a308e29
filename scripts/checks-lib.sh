# shellcheck shell=bash
# The harness the check scripts share (ci-packaging.sh, ci-deb.sh,
# ci-container.sh, tests/packaging/test-syslog.sh): source it.
#
#   ok NAME / notok NAME     a check passed / failed ("ok NAME", "not ok NAME")
#   check NAME CMD...        ok or notok by CMD's exit status
#   phase TEXT               a heading with the seconds since the start
#   finish                   "N passed, M failed"; exits 1 if any failed
#   $work                    a temporary directory, removed at exit
#   pids+=(PID)              processes killed and reaped at exit
#   free_port                a loopback TCP port that was free a moment ago
#   wait_for SECONDS CMD...  retries CMD every 0.2 s until it succeeds or
#                            SECONDS pass (then fails)
#   cargo_target_dir         the directory cargo builds into
#
# A script with more to clean up defines its own `cleanup` after sourcing
# this file and calls `stop_pids` and `rm -rf "$work"` from it.

passed=0
failed=0
ok() { echo "ok $*"; passed=$((passed + 1)); }
notok() { echo "not ok $*"; failed=$((failed + 1)); }
check() {
    local name="$1"
    shift
    if "$@"; then ok "$name"; else notok "$name"; fi
}
checks_started=$SECONDS
phase() { echo "== $* (at $((SECONDS - checks_started))s)"; }
finish() {
    echo "== done in $((SECONDS - checks_started))s"
    echo "$passed passed, $failed failed"
    exit $((failed > 0))
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

work="$(mktemp -d)"
pids=()
stop_pids() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null; done
}
# podman_conf: podman's settings for this machine (no ulimits to copy, cgroupfs,
# runc: crun fails on hybrid cgroups, where podman runs inside a container),
# in $work/containers.conf, exported as CONTAINERS_CONF.
podman_conf() {
    cat > "$work/containers.conf" << 'EOF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
    export CONTAINERS_CONF="$work/containers.conf"
}
# shellcheck disable=SC2317 # run by the trap
cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

cleanup() {
    stop_pids
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
