#![no_main]

#[path = "../harness/bbps.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::messages(data));
