//! Stable-Rust regression run of the cargo-fuzz targets over this crate's parsers: each
//! target's seed corpus (fuzz/seeds/<target>, which also keeps every input a fuzzer ever
//! crashed on) plus a few thousand deterministic mutations of it, through the same harness
//! code the fuzz targets run (fuzz/harness/mdms.rs). A panic fails the test. The long,
//! coverage-guided runs are `cargo fuzz` (RELIABILITY.md, "Fuzzing").

#[path = "../../../fuzz/harness/mdms.rs"]
mod harness;
#[path = "../../../fuzz/harness/mutate.rs"]
mod mutate;

use std::path::Path;

/// Mutations per target; `KOSH_FUZZ_MUTATIONS` raises it for a longer run.
fn mutations() -> usize {
    std::env::var("KOSH_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn run(target: &str, seed: u64, check: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    mutate::run(&dir, mutations(), seed, check);
}

#[test]
fn mdms_load() {
    run("mdms_load", 2, harness::load);
}

#[test]
fn mdms_filter() {
    run("mdms_filter", 3, harness::filter);
}
