//! A small deterministic mutator for the stable-Rust regression tests: the fuzz targets'
//! seed corpus, plus a few thousand inputs derived from it by byte flips, insertions,
//! deletions, splices and "interesting" tokens. It is no substitute for libFuzzer's coverage
//! guidance (the long `cargo fuzz` runs in RELIABILITY.md are), but it runs on stable Rust in
//! every CI build and keeps every crash the fuzzer ever found fixed.
#![allow(dead_code)]

use std::path::Path;

/// Tokens that tend to reach error paths in JSON, XML, urlencoded and JSONPath parsers.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"<",
    b">",
    b"/>",
    b"</",
    b"&",
    b"&#x",
    b"&amp;",
    b"=",
    b"%",
    b"%zz",
    b"%00",
    b"+",
    b"-",
    b".",
    b"e9999",
    b"1e-400",
    b"-0",
    b"null",
    b"true",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\r\n",
    b"\0",
    b"$",
    b"@",
    b"?(",
    b"..",
    b"*",
    b"==",
    b"'",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"0.001",
    b"<!DOCTYPE",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"xmlns=\"\"",
    b"xmlns:a=\"x\"",
    b"<?xml",
    b"?>",
];

/// A xorshift64* generator: deterministic, so a failure reproduces from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// The files of a seed folder (sorted, so the run is deterministic).
pub fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("seed corpus {}: {e}", dir.display()))
        .map(|e| e.expect("readable seed folder").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// One mutation of `input`, possibly splicing in part of `other`.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 if !out.is_empty() => {
                let len = rng.below(out.len() - at.min(out.len()) + 1).min(64);
                out.drain(at.min(out.len())..(at + len).min(out.len()));
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from + 1);
                out.splice(at..at, other[from..from + len].iter().copied());
            }
            5 if !out.is_empty() => {
                // Repeat a chunk many times: deep nesting, long strings, huge numbers.
                let from = rng.below(out.len());
                let len = (rng.below(8) + 1).min(out.len() - from);
                let chunk = out[from..from + len].to_vec();
                let times = rng.below(400) + 2;
                let repeated: Vec<u8> = chunk.iter().copied().cycle().take(len * times).collect();
                out.splice(at..at, repeated);
            }
            6 => out.truncate(at),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    let end = (i + token.len()).min(out.len());
                    out.splice(i..end, token.iter().copied());
                }
            }
        }
    }
    out
}

/// Mutations per target; `KOSH_FUZZ_MUTATIONS` raises it for a longer run.
fn mutations() -> usize {
    std::env::var("KOSH_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// [`run`] over fuzz/seeds/<target> for a crate under crates/ (every crate that includes
/// this file), with [`mutations`] mutations.
pub fn run_target(target: &str, seed: u64, check: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    run(&dir, mutations(), seed, check);
}

/// Calls `check` on every seed and on `count` mutations of them.
pub fn run(dir: &Path, count: usize, seed: u64, check: impl Fn(&[u8])) {
    let seeds = seeds(dir);
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    for s in &seeds {
        check(s);
    }
    let mut rng = Rng::new(seed);
    let mut pool = seeds.clone();
    for _ in 0..count {
        let a = &pool[rng.below(pool.len())];
        let b = &pool[rng.below(pool.len())];
        let input = mutate(&mut rng, a, b);
        check(&input);
        // Mutations of mutations reach further from the seeds.
        if pool.len() < 4 * seeds.len() + 64 {
            pool.push(input);
        } else {
            let i = rng.below(pool.len());
            pool[i] = input;
        }
    }
}
