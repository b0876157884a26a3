//! Filling the database before kosh starts: the demo demands with the benchmark's bulk
//! loader ([`kosh_bench::loader`]), their bills made by kosh's own fetch-bill in-process
//! ([`kosh_bench::bills`]), and fresh planner statistics.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db};
use serde::Serialize;
use sqlx::Row;

/// What one loading step did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStats {
    pub what: String,
    /// Already in the database before this step.
    pub existing: u64,
    /// Added by this step.
    pub loaded: u64,
    pub seconds: f64,
    pub per_second: f64,
}

impl LoadStats {
    fn new(what: &str, existing: u64, loaded: u64, started: Instant) -> LoadStats {
        let seconds = started.elapsed().as_secs_f64();
        LoadStats {
            what: what.to_string(),
            existing,
            loaded,
            seconds,
            per_second: if seconds > 0.0 {
                loaded as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

fn bar(what: &str, count: u64) -> anyhow::Result<ProgressBar> {
    let bar = ProgressBar::new(count);
    bar.set_style(ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}"
    ))?);
    Ok(bar)
}

/// Brings the database up to `target` loaded demands (resuming after any already there).
pub async fn demands(db: &Db, mdms: &Mdms, target: u64) -> anyhow::Result<LoadStats> {
    let existing: i64 = sqlx::query("SELECT COUNT(*) FROM egbs_demand WHERE created_by = 'loader'")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let existing = existing as u64;
    let count = target.saturating_sub(existing);
    let bar = bar("loading demands", count)?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let started = Instant::now();
    kosh_bench::loader::load(db, mdms, existing, count, now_ms, |done| {
        bar.set_position(done)
    })
    .await
    .map_err(|e| anyhow::anyhow!("loader: {e:?}"))?;
    bar.finish();
    Ok(LoadStats::new("demands", existing, count, started))
}

/// Bills for the first `target` loaded demands (resuming after those already made): the
/// first `typed` made by kosh's fetch-bill in-process, the rest copied from those
/// ([`kosh_bench::bills`]). Answers a step for each way used.
pub async fn bills(
    db: &Db,
    mdms: &Mdms,
    target: u64,
    typed: u64,
) -> anyhow::Result<Vec<LoadStats>> {
    let existing = kosh_bench::bills::existing(db)
        .await
        .map_err(|e| anyhow::anyhow!("counting bills: {e:?}"))?;
    let mut steps = Vec::new();
    let typed_end = target.min(typed).max(existing);
    if typed_end > existing {
        let count = typed_end - existing;
        let bar = bar("making bills (kosh's fetch-bill, in-process)", count)?;
        let started = Instant::now();
        kosh_bench::bills::make(db, mdms, &Clock::System, existing, count, |done| {
            bar.set_position(done)
        })
        .await
        .map_err(|e| anyhow::anyhow!("making bills: {e:?}"))?;
        bar.finish();
        steps.push(LoadStats::new(
            "bills made by kosh's fetch-bill in-process",
            existing,
            count,
            started,
        ));
    }
    let from = typed_end.max(existing);
    if target > from {
        let count = target - from;
        let bar = bar("copying bills kosh made", count)?;
        let started = Instant::now();
        kosh_bench::bills::clone_made(db, mdms, &Clock::System, from, count, |done| {
            bar.set_position(done)
        })
        .await
        .map_err(|e| anyhow::anyhow!("copying bills: {e:?}"))?;
        bar.finish();
        steps.push(LoadStats::new(
            "bills copied from kosh-made ones (set-based)",
            from,
            count,
            started,
        ));
    }
    Ok(steps)
}

/// Fresh planner statistics for every table after a load, with kosh's own
/// [`Db::analyze_all`] (PostgreSQL's autovacuum is off on this machine, and SQLite keeps none
/// until asked).
pub async fn analyze(db: &Db) -> anyhow::Result<LoadStats> {
    let started = Instant::now();
    db.analyze_all()
        .await
        .map_err(|e| anyhow::anyhow!("analysing: {e:?}"))?;
    Ok(LoadStats::new(
        "ANALYZE (kosh's Db::analyze_all)",
        0,
        0,
        started,
    ))
}
