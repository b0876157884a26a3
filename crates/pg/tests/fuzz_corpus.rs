//! Stable-Rust regression run of the cargo-fuzz targets over this crate's parsers: each
//! target's seed corpus (fuzz/seeds/<target>, which also keeps every input a fuzzer ever
//! crashed on) plus a few thousand deterministic mutations of it, through the same harness
//! code the fuzz targets run (fuzz/harness/pg.rs). A panic fails the test. The long,
//! coverage-guided runs are `cargo fuzz` (RELIABILITY.md, "Fuzzing").

#[path = "../../../fuzz/harness/pg.rs"]
mod harness;
#[path = "../../../fuzz/harness/mutate.rs"]
mod mutate;

use mutate::run_target as run;

#[test]
fn pg_axis() {
    run("pg_axis", 2, harness::axis);
}

#[test]
fn pg_paytm() {
    run("pg_paytm", 3, harness::paytm);
}

#[test]
fn pg_payu() {
    run("pg_payu", 4, harness::payu);
}

#[test]
fn pg_phonepe() {
    run("pg_phonepe", 5, harness::phonepe);
}

#[test]
fn pg_sandbox() {
    run("pg_sandbox", 6, harness::sandbox);
}
