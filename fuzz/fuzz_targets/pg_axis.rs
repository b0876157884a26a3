#![no_main]

#[path = "../harness/pg.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::axis(data));
