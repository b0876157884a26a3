//! Loading the demo demands straight into the database with the benchmark's bulk loader
//! ([`kosh_bench::loader`]).

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kosh_platform::Db;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct LoadStats {
    /// Loaded demands already in the database before this run.
    pub existing: u64,
    /// Demands loaded by this run.
    pub loaded: u64,
    pub seconds: f64,
    pub demands_per_second: f64,
    /// Demand rows plus demand detail rows.
    pub rows: u64,
    pub rows_per_second: f64,
}

/// Brings the database up to `target` loaded demands (resuming after any already there).
pub async fn load(db: &Db, target: u64) -> anyhow::Result<LoadStats> {
    let settings = crate::server_settings()?;
    let mdms = kosh_server::load_mdms(&settings)?;
    let existing: i64 = sqlx::query("SELECT COUNT(*) FROM egbs_demand WHERE created_by = 'loader'")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let existing = existing as u64;
    let count = target.saturating_sub(existing);
    let bar = ProgressBar::new(count);
    bar.set_style(ProgressStyle::with_template(
        "loading demands {bar:40} {pos}/{len} {per_sec} eta {eta}",
    )?);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let started = Instant::now();
    kosh_bench::loader::load(db, &mdms, existing, count, now_ms, |done| {
        bar.set_position(done)
    })
    .await
    .map_err(|e| anyhow::anyhow!("loader: {e:?}"))?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    // PT demands carry two tax heads, WS and TL one (see the loader).
    let pt = (existing..existing + count).filter(|n| n % 3 == 0).count() as u64;
    let rows = count * 2 + pt;
    let rate = |x: u64| {
        if seconds > 0.0 {
            x as f64 / seconds
        } else {
            0.0
        }
    };
    Ok(LoadStats {
        existing,
        loaded: count,
        seconds,
        demands_per_second: rate(count),
        rows,
        rows_per_second: rate(rows),
    })
}
