//! The library half of kosh-bench: what the benchmark shares with its tests.

pub mod bills;
pub mod loader;
