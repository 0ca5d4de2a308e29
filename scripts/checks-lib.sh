# shellcheck shell=bash
# The harness the CI check scripts share (ci-packaging.sh, ci-deb.sh,
# ci-container.sh): source it after `cd` to the repository.
#
#   ok NAME / notok NAME     a check passed / failed ("ok NAME", "not ok NAME")
#   check NAME CMD...        ok or notok by CMD's exit status
#   phase TEXT               a heading with the seconds since the start
#   finish                   "N passed, M failed"; exits 1 if any failed
#   $work                    a temporary directory, removed at exit
#   pids+=(PID)              processes killed and reaped at exit
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

work="$(mktemp -d)"
pids=()
stop_pids() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null; done
}
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    stop_pids
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
