#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 60 s each) on stable Rust
# (RUSTC_BOOTSTRAP=1 unlocks the nightly flags cargo-fuzz needs) and prints one summary line
# per target. Without a sanitizer (-s none: kosh is safe Rust, and it is twice as fast), with
# debug assertions (-a: integer overflow panics, as it must not happen on outside input).
#
#   fuzz/run.sh            # every target, 60 s each
#   fuzz/run.sh 600 bbps_sig pg_axis
#
# The working corpus is fuzz/corpus/<target> (not committed), started from fuzz/seeds/<target>.
# A crash leaves its input in fuzz/artifacts/<target>/: fix it, then copy the input into
# fuzz/seeds/<target>/ so that the stable regression tests (crates/*/tests/fuzz_corpus.rs)
# keep it fixed.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -a
# The binaries are run directly: `cargo fuzz run` would rebuild whenever a kosh crate
# changed in between, and the figures should come from one build.
bin=target/x86_64-unknown-linux-gnu/release
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="target/fuzz-$t.log"
    if "$bin/$t" "corpus/$t" "seeds/$t" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="CRASH (see fuzz/$log and fuzz/artifacts/$t/)"
        status=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "$t: ${seconds}s, $runs executions, coverage $cov edges, corpus $(ls "corpus/$t" | wc -l) inputs: $result"
done
exit "$status"
