//! Stable-Rust regression run of the cargo-fuzz targets over this crate's parsers: each
//! target's seed corpus (fuzz/seeds/<target>, which also keeps every input a fuzzer ever
//! crashed on) plus a few thousand deterministic mutations of it, through the same harness
//! code the fuzz targets run (fuzz/harness/bbps.rs). A panic fails the test. The long,
//! coverage-guided runs are `cargo fuzz` (RELIABILITY.md, "Fuzzing").

#[path = "../../../fuzz/harness/bbps.rs"]
mod harness;
#[path = "../../../fuzz/harness/mutate.rs"]
mod mutate;

use mutate::run_target as run;

#[test]
fn bbps_dom() {
    run("bbps_dom", 2, harness::dom);
}

#[test]
fn bbps_xml() {
    run("bbps_xml", 3, harness::messages);
}

#[test]
fn bbps_sig() {
    run("bbps_sig", 4, harness::signatures);
}
