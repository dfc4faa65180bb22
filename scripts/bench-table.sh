#!/usr/bin/env bash
# Runs resil's benches and prints one table: ns/call, overhead vs the bare
# call, resil's overhead against each peer's, the policies' memory
# footprints, and which performance targets hold.
#
#   scripts/bench-table.sh                # run everything, then print
#   scripts/bench-table.sh --table-only   # print the last run's results
#   scripts/bench-table.sh -- breaker     # pass a filter on to criterion
#
# Honours CARGO_TARGET_DIR. Takes a few minutes: each benchmark measures
# for about 2.5 s, and there are about 60 of them.
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
log="$target_dir/bench-table.log"
since_args=()
alloc_args=()

if [[ "${1:-}" == "--table-only" ]]; then
    shift
else
    [[ "${1:-}" == "--" ]] && shift
    since="$(date +%s)"
    since_args=(--since "$since")
    # The allocation checks are a plain test; their verdict joins the table.
    if cargo test --release --test alloc >"$target_dir/bench-table-alloc.log" 2>&1; then
        alloc_args=(--alloc pass)
    else
        alloc_args=(--alloc fail)
        echo "tests/alloc.rs failed; see $target_dir/bench-table-alloc.log" >&2
    fi
    cargo bench --bench policies --bench contention -- "$@" 2>&1 | tee "$log" >&2
fi

python3 scripts/bench-table.py "$target_dir/criterion" --log "$log" \
    "${since_args[@]}" "${alloc_args[@]}"
