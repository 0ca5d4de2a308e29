#!/usr/bin/env bash
# Mutation testing of the core files with cargo-mutants: each file's mutants
# are run against that file's own test targets only (the whole suite per
# mutant is too slow on a small machine), one at a time.
#
#   scripts/mutants.sh [FILE…]      default: every core file below
#
# Run it before a release and after changing one of these files or its
# tests. It takes minutes per file, so CI does not run it. Each file's
# report is left in target/mutants/<name>/mutants.out (missed.txt lists the
# survivors); the summary goes to stdout. Exit status 1 if a mutant was
# missed. Mutants that no test can kill (equivalent ones) are excluded, each
# with its reason, in .cargo/mutants.toml.
#
# Environment: MUTANTS_TIMEOUT (seconds per test run, default 60),
# MUTANTS_JOBS (default 1), MUTANTS_ARGS (more cargo-mutants options,
# e.g. "--re login_backoff" to run the mutants of one function).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is missing: cargo install --locked cargo-mutants" >&2
    exit 2
fi

# (--workspace: the HTTP server's files are in crates/http. cargo-mutants runs
# a file's tests in that file's package only, so their --test=... targets in
# tests/ are not found there yet: those three files fail at the baseline.)
# The test targets that exercise each core file: its unit tests (--lib) and
# the integration tests written for it.
targets() {
    case "$1" in
        src/exposition.rs) echo "--lib --test=exposition" ;;
        src/temper/decode.rs) echo "--lib --test=temper --test=temper_faults" ;;
        src/miner/client.rs) echo "--lib --test=miner --test=faults" ;;
        crates/http/src/request.rs) echo "--lib --test=http --test=abuse" ;;
        crates/http/src/connection.rs) echo "--lib --test=http --test=http_handlers --test=probe" ;;
        crates/http/src/pool.rs) echo "--lib --test=http --test=http_handlers" ;;
        src/config.rs | src/config/*.rs) echo "--lib --test=config --test=cli" ;;
        *) return 1 ;;
    esac
}

if [ $# -eq 0 ]; then
    set -- src/exposition.rs src/temper/decode.rs src/miner/client.rs crates/http/src/request.rs \
        crates/http/src/connection.rs crates/http/src/pool.rs
    for f in src/config.rs src/config/*.rs; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
fi

count() { # FILE: lines in it, 0 if it does not exist
    if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi
}

summary=()
missed_total=0
for file in "$@"; do
    if ! tests=$(targets "$file"); then
        echo "$file: not a core file; known: src/exposition.rs src/temper/decode.rs" \
            "src/miner/client.rs crates/http/src/request.rs crates/http/src/connection.rs crates/http/src/pool.rs" \
            "src/config/*.rs" >&2
        exit 2
    fi
    name=$(basename "${file%.rs}")
    [ "$file" = "${file#src/config/}" ] || name="config-$name"
    out="target/mutants/$name"
    mkdir -p "$out"
    echo "=== $file: cargo test $tests"
    # Passed to the build as well as to the test run (--cargo-arg), so that
    # each mutant builds only these test targets, not all of them.
    cargo_args=()
    for arg in $tests; do cargo_args+=(--cargo-arg="$arg"); done
    status=0
    # shellcheck disable=SC2086 # MUTANTS_ARGS is a word list
    cargo mutants --workspace --file "$file" --jobs "${MUTANTS_JOBS:-1}" \
        --timeout "${MUTANTS_TIMEOUT:-60}" --output "$out" --colors never \
        "${cargo_args[@]}" ${MUTANTS_ARGS:-} || status=$?
    # 0: all caught, 2: some missed, 3: some timed out; anything else failed.
    case $status in
        0 | 2 | 3) ;;
        *) echo "$file: cargo mutants failed (exit $status)" >&2; exit "$status" ;;
    esac
    dir="$out/mutants.out"
    caught=$(count "$dir/caught.txt")
    missed=$(count "$dir/missed.txt")
    unviable=$(count "$dir/unviable.txt")
    timeout=$(count "$dir/timeout.txt")
    missed_total=$((missed_total + missed))
    summary+=("$(printf '%-24s caught %3d  missed %3d  unviable %3d  timeout %3d' \
        "$file" "$caught" "$missed" "$unviable" "$timeout")")
    if [ "$missed" -gt 0 ]; then
        sed 's/^/    missed: /' "$dir/missed.txt"
    fi
done

echo
echo "=== mutants per file"
printf '%s\n' "${summary[@]}"
[ "$missed_total" -eq 0 ]
