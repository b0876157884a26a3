//! Table statistics: kosh analyses the tables it grows, so the query planner knows their sizes
//! from the first minute instead of after the database's own housekeeping.
//!
//! Why: both planners pick an index by the statistics of the tables. A PostgreSQL table that
//! was never analysed is planned from guesses, and one analysed while nearly empty is
//! planned as if it still were; autovacuum fixes that only when it runs (and it may be off).
//! Measured on a fresh PostgreSQL: payments ran at 24.5/s and bill making at 49/s before an
//! `ANALYZE`, 253/s and 502/s after. SQLite has no autovacuum at all: its planner reads
//! `sqlite_stat1`, which only `ANALYZE` (or `PRAGMA optimize`, which runs it) writes.
//!
//! When:
//! - after [`Db::migrate`] applied a migration (a fresh or upgraded database): every kosh
//!   table ([`Db::analyze_all`]);
//! - after a bulk load (`kosh import demands`, the benchmark's loader): the tables that grew
//!   ([`Db::analyze_grown`]), also during a long load so its own lookups stay indexed;
//! - while `kosh serve` runs: every `KOSH_ANALYZE_EVERY_SECONDS` a cheap check ([`spawn`],
//!   [`GrowthWatch`]) analyses the tables that grew past the [`Threshold`].
//!
//! How growth is measured, cheaply:
//! - PostgreSQL: `pg_stat_user_tables.n_mod_since_analyze` (rows inserted, updated or
//!   deleted since the last analysis) against `pg_class.reltuples`, the figures autovacuum
//!   decides by. `ANALYZE` samples a fixed number of rows and does not block writes.
//! - SQLite: `MAX(rowid)` of each table (one index probe: kosh never deletes many rows, so
//!   it follows the rows written) against its value at this process's last analysis, or,
//!   before that, the row count `sqlite_stat1` holds. SQLite's `ANALYZE` holds the single
//!   writer while it reads, so it runs one table per write transaction with
//!   `PRAGMA analysis_limit` = [`SQLITE_ANALYSIS_LIMIT`]: tens of milliseconds for a table of
//!   a million rows instead of a second.
//!
//! One instance at a time: the periodic pass takes the `kosh_job_lease` row [`JOB_NAME`]; an
//! instance that finds it taken skips its turn (the other's analysis serves all instances).

use std::collections::HashMap;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Db, lease};
use crate::{DigitError, write_tx};

/// The lease row of the periodic pass.
pub const JOB_NAME: &str = "analyze-grown-tables";
/// How long a pass may hold the lease before another instance may take it over: far longer
/// than a pass takes (it samples), short enough that a crashed instance delays the next
/// pass by minutes only.
pub const LEASE_MS: i64 = 10 * 60 * 1000;

/// SQLite: the rows of each index `ANALYZE` reads (`PRAGMA analysis_limit`). Measured on a
/// table of 1,000,000 rows and four indexes: 0 (no limit) took 756 ms of the writer; 10,000
/// took 20 ms and still counts up to 10,000 rows per key prefix, which keeps a city's whole
/// service (thousands of bills) apart from one consumer code (one); 400, SQLite's suggestion,
/// took 4 ms but rated a city prefix as selective as 400 rows.
pub const SQLITE_ANALYSIS_LIMIT: i64 = 10_000;

/// When a table counts as grown: more than `min_rows` plus `percent` of the rows it had at
/// its last analysis were written since. The same shape as autovacuum's threshold (50 rows +
/// 10%); the floor is higher because a table of a few hundred rows is read whole anyway, and
/// kosh's counter rows (`id_counter`, `kosh_audit_head`) change at every payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub min_rows: i64,
    pub percent: i64,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold {
            min_rows: 1_000,
            percent: 10,
        }
    }
}

impl Threshold {
    /// Whether `written` rows since an analysis that saw `rows` rows make a table grown.
    pub fn grown(self, written: i64, rows: i64) -> bool {
        let allowed = self
            .min_rows
            .saturating_add(rows.max(0).saturating_mul(self.percent) / 100);
        written > allowed
    }
}

/// One table's size figures, as the growth check reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sizes {
    table: String,
    /// PostgreSQL: rows changed since the last analysis. SQLite: `MAX(rowid)` now.
    mark: i64,
    /// Rows at the last analysis as the database's statistics say (0: never analysed).
    analysed_rows: i64,
}

/// The growth check with its memory: SQLite's `MAX(rowid)` of each table at this watch's last
/// analysis of it (one entry per kosh table, so it cannot grow past the schema).
#[derive(Debug, Default)]
pub struct GrowthWatch {
    threshold: Threshold,
    analysed_at: HashMap<String, i64>,
}

impl GrowthWatch {
    pub fn new(threshold: Threshold) -> GrowthWatch {
        GrowthWatch {
            threshold,
            analysed_at: HashMap::new(),
        }
    }

    /// Analyses the tables grown past the threshold since their last analysis; returns
    /// their names (sorted).
    pub async fn analyze_grown(&mut self, db: &Db) -> Result<Vec<String>, DigitError> {
        let sizes = sizes(db).await?;
        let grown: Vec<&Sizes> = sizes
            .iter()
            .filter(|s| match db.backend {
                Backend::Postgres => self.threshold.grown(s.mark, s.analysed_rows),
                Backend::Sqlite => {
                    let base = self
                        .analysed_at
                        .get(&s.table)
                        .copied()
                        .unwrap_or(s.analysed_rows);
                    self.threshold.grown(s.mark.saturating_sub(base), base)
                }
            })
            .collect();
        let names: Vec<String> = grown.iter().map(|s| s.table.clone()).collect();
        analyze(db, &names).await?;
        for s in grown {
            self.analysed_at.insert(s.table.clone(), s.mark);
        }
        Ok(names)
    }
}

impl Db {
    /// Analyses every kosh table; returns their names (sorted). Run after migrations and
    /// after a bulk load that changed most tables.
    pub async fn analyze_all(&self) -> Result<Vec<String>, DigitError> {
        let tables = tables(self).await?;
        analyze(self, &tables).await?;
        Ok(tables)
    }

    /// Analyses the tables grown past the default [`Threshold`] since their last analysis
    /// (as the database's statistics record it); returns their names. For bulk loads:
    /// call it as the load goes (each time it has grown the tables by a good part) and at
    /// its end.
    pub async fn analyze_grown(&self) -> Result<Vec<String>, DigitError> {
        GrowthWatch::default().analyze_grown(self).await
    }
}

/// The kosh tables (sqlx's migration ledger and the databases' own tables left out), sorted.
async fn tables(db: &Db) -> Result<Vec<String>, DigitError> {
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT CAST(relname AS TEXT) FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() AND relname <> '_sqlx_migrations' ORDER BY 1"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' ORDER BY 1"
        }
    };
    Ok(sqlx::query_scalar(sql).fetch_all(&db.read).await?)
}

/// Each kosh table's growth figures.
async fn sizes(db: &Db) -> Result<Vec<Sizes>, DigitError> {
    match db.backend {
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT CAST(s.relname AS TEXT) AS name, s.n_mod_since_analyze AS changed, \
                 CAST(GREATEST(c.reltuples, 0) AS BIGINT) AS analysed \
                 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
                 WHERE s.schemaname = current_schema() AND s.relname <> '_sqlx_migrations' \
                 ORDER BY 1",
            )
            .fetch_all(&db.read)
            .await?;
            Ok(rows
                .iter()
                .map(|r| Sizes {
                    table: r.get("name"),
                    mark: r.get("changed"),
                    analysed_rows: r.get("analysed"),
                })
                .collect())
        }
        Backend::Sqlite => {
            let analysed = sqlite_stat_rows(db).await?;
            let mut out = Vec::new();
            for table in tables(db).await? {
                let max: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT MAX(rowid) FROM {}",
                    quoted(&table)
                )))
                .fetch_one(&db.read)
                .await?;
                out.push(Sizes {
                    analysed_rows: analysed.get(&table).copied().unwrap_or(0),
                    table,
                    mark: max.unwrap_or(0),
                });
            }
            Ok(out)
        }
    }
}

/// SQLite: the row count `sqlite_stat1` holds for each analysed table (the first figure of
/// its index rows); none before the first `ANALYZE` creates the table.
async fn sqlite_stat_rows(db: &Db) -> Result<HashMap<String, i64>, DigitError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'",
    )
    .fetch_one(&db.read)
    .await?;
    if exists == 0 {
        return Ok(HashMap::new());
    }
    // `stat` is "rows rows-per-key..."; CAST keeps its leading integer.
    let rows = sqlx::query(
        "SELECT tbl, MAX(CAST(stat AS INTEGER)) AS analysed FROM sqlite_stat1 GROUP BY tbl",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<String, _>("tbl"), r.get::<i64, _>("analysed")))
        .collect())
}

/// Analyses `tables` (names from the database's catalogue).
async fn analyze(db: &Db, tables: &[String]) -> Result<(), DigitError> {
    if tables.is_empty() {
        return Ok(());
    }
    match db.backend {
        Backend::Postgres => {
            // Outside any write transaction: ANALYZE takes no lock that blocks writes, and
            // commits each table's statistics as it goes.
            let list: Vec<String> = tables.iter().map(|t| quoted(t)).collect();
            sqlx::raw_sql(AssertSqlSafe(format!("ANALYZE {}", list.join(", "))))
                .execute(&db.read)
                .await?;
        }
        Backend::Sqlite => {
            // One table per write transaction, so waiting writes get their turn between them.
            for table in tables {
                let sql = format!(
                    "PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}; ANALYZE {}",
                    quoted(table)
                );
                write_tx!(*db, |conn| {
                    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                        .execute(&mut *conn)
                        .await?;
                    Ok::<_, DigitError>(())
                })?;
            }
            // The reader connections loaded the statistics with the schema and would keep the
            // old ones (ANALYZE does not change the schema's version): an empty change of the
            // schema makes each reload both before its next statement.
            write_tx!(*db, |conn| {
                sqlx::raw_sql(
                    "CREATE TABLE kosh_statistics_reload (x INTEGER); DROP TABLE kosh_statistics_reload",
                )
                .execute(&mut *conn)
                .await?;
                Ok::<_, DigitError>(())
            })?;
        }
    }
    metrics::counter!("kosh_tables_analysed_total").increment(tables.len() as u64);
    tracing::debug!(tables = %tables.join(", "), "table statistics refreshed");
    Ok(())
}

/// A table name as an SQL identifier (both databases quote with `"`).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One pass of the periodic check, under the lease; `None` when another instance holds it.
pub async fn pass(
    db: &Db,
    watch: &mut GrowthWatch,
    holder: &str,
) -> Result<Option<Vec<String>>, DigitError> {
    if !lease::try_take(db, JOB_NAME, holder, LEASE_MS).await? {
        return Ok(None);
    }
    let result = watch.analyze_grown(db).await;
    let released = lease::release(db, JOB_NAME, holder).await;
    let tables = result?;
    released?;
    Ok(Some(tables))
}

/// The periodic check of `kosh serve`: every `every`, analyses the tables grown past
/// `threshold`. A failed pass is logged and tried again at the next turn.
pub fn spawn(db: Db, every: Duration, threshold: Threshold) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let holder = format!("analyze:{}", uuid::Uuid::new_v4().simple());
        let mut watch = GrowthWatch::new(threshold);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match pass(&db, &mut watch, &holder).await {
                Ok(Some(tables)) if !tables.is_empty() => {
                    tracing::info!(tables = %tables.join(", "), "analysed the tables that grew");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the growth check of table statistics failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_grown_past_the_floor_plus_its_share() {
        let t = Threshold::default();
        assert!(!t.grown(1_000, 0));
        assert!(t.grown(1_001, 0));
        // 1,000 + 10% of 100,000.
        assert!(!t.grown(11_000, 100_000));
        assert!(t.grown(11_001, 100_000));
    }

    #[test]
    fn names_are_quoted_as_identifiers() {
        assert_eq!(quoted("egbs_bill"), "\"egbs_bill\"");
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }
}
