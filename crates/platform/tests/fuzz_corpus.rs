//! Stable-Rust regression run of the cargo-fuzz targets over this crate's parsers: each
//! target's seed corpus (fuzz/seeds/<target>, which also keeps every input a fuzzer ever
//! crashed on) plus a few thousand deterministic mutations of it, through the same harness
//! code the fuzz targets run (fuzz/harness/platform.rs). A panic fails the test. The long,
//! coverage-guided runs are `cargo fuzz` (RELIABILITY.md, "Fuzzing").

#[path = "../../../fuzz/harness/platform.rs"]
mod harness;
#[path = "../../../fuzz/harness/mutate.rs"]
mod mutate;

use mutate::run_target as run;

#[test]
fn digit_json() {
    run("digit_json", 2, harness::json);
}

#[test]
fn digit_query() {
    run("digit_query", 3, harness::query);
}
