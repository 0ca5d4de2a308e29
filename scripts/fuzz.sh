#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60) and fails on the
# first crash, leak or timeout libFuzzer reports.
#
#     scripts/fuzz.sh [SECONDS [TARGET...]]
#
# Targets are whatever `cargo fuzz list` names (fuzz/Cargo.toml [[bin]]
# entries), so a new target needs no change here. Seeds in fuzz/seeds/TARGET
# are read; the growing corpus goes to fuzz/corpus/TARGET and a crashing input
# to fuzz/artifacts/TARGET (both ignored by git). Extra libFuzzer flags for
# every target: FUZZ_FLAGS (e.g. FUZZ_FLAGS="-jobs=2 -workers=2").
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
set -euo pipefail

seconds=${1:-60}
case $seconds in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS [TARGET...]]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
# The fuzz builds (sanitizer flags, nightly) must not share the main target dir.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/fuzz"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

shift || true
targets=${*:-$(cargo +nightly fuzz list)}
[ -n "$targets" ] || { echo "fuzz.sh: no targets" >&2; exit 1; }
summary=()
for target in $targets; do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $target: ${seconds}s"
    status=0
    # -max_len: the largest input the exporter reads anywhere but the
    # dashboard body (8 KiB request heads); enough to reach every depth limit.
    # shellcheck disable=SC2086
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 ${FUZZ_FLAGS:-} >"$logs/$target" 2>&1 || status=$?
    runs=$(grep -o 'Done [0-9]* runs' "$logs/$target" | tail -1 | awk '{print $2}' || true)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$target" | awk '{print $2}' | tail -1 || true)
    corpus=$(find "corpus/$target" -type f | wc -l)
    line="$target: ${execs:-${runs:-?}} executions in ${seconds}s, corpus $corpus inputs, exit $status"
    echo "$line"
    summary+=("$line")
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$logs/$target" >&2
        echo "fuzz.sh: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
