//! The database's own floor: the six writes one kosh CASH payment makes
//! (`bench/floor/payment.sql`, captured from PostgreSQL's statement log), each in its own
//! transaction, at the benchmark's concurrency, with no HTTP, JSON or application code around
//! them. PostgreSQL runs the file with `pgbench`; SQLite runs the same file through a small
//! driver here, on one writer connection set up as kosh's (WAL, synchronous=FULL).
//!
//! The file is a pgbench script. The driver understands the subset it uses: `\set v
//! random(lo, hi)`, statements ending in `;`, a `SELECT ... \gset` that sets variables from
//! its columns, and `:name` variables. Each write statement runs alone on the writer
//! connection (autocommit: one transaction each); the `\gset` lookup runs on a reader.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kosh_platform::Db;
use rand::Rng;
use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Row};

use crate::drive::{self, Stats};

pub const SCRIPT: &str = include_str!("../floor/payment.sql");

/// Fills `bench_floor`, one row per bill kosh made: the ids the script's statements touch.
const HELPER: &[&str] = &[
    "DROP TABLE IF EXISTS bench_floor",
    "CREATE TABLE bench_floor (n BIGINT NOT NULL PRIMARY KEY, tenant_id VARCHAR(256) NOT NULL, \
     bill_id VARCHAR(64) NOT NULL, bill_detail_id VARCHAR(64) NOT NULL, account_detail_id VARCHAR(64) NOT NULL, \
     demand_id VARCHAR(64) NOT NULL, demand_detail_id VARCHAR(64) NOT NULL, consumer_code VARCHAR(256) NOT NULL, \
     business_service VARCHAR(256) NOT NULL, seq_name VARCHAR(256) NOT NULL)",
    "INSERT INTO bench_floor (n, tenant_id, bill_id, bill_detail_id, account_detail_id, demand_id, demand_detail_id, \
     consumer_code, business_service, seq_name) \
     SELECT ROW_NUMBER() OVER (ORDER BY b.id), b.tenant_id, b.id, bd.id, bad.id, bd.demand_id, bad.demand_detail_id, \
     b.consumer_code, b.business_service, \
     'SEQ_' || b.business_service || '_BILL_RCPT_' || UPPER(REPLACE(b.tenant_id, '.', '_')) \
     FROM egbs_bill b JOIN egbs_bill_detail bd ON bd.tenant_id = b.tenant_id AND bd.bill_id = b.id \
     JOIN egbs_bill_account_detail bad ON bad.tenant_id = bd.tenant_id AND bad.bill_detail_id = bd.id \
     AND bad.order_no = (SELECT MIN(x.order_no) FROM egbs_bill_account_detail x \
                         WHERE x.tenant_id = bd.tenant_id AND x.bill_detail_id = bd.id)",
    "DROP TABLE IF EXISTS bench_floor_payload",
    "CREATE TABLE bench_floor_payload (k BIGINT NOT NULL PRIMARY KEY, bill_json TEXT NOT NULL, \
     payment_pii TEXT NOT NULL, event_json TEXT NOT NULL)",
];

/// The sizes of what kosh writes with one payment beside its fixed-size columns: the bill's
/// JSON in the payment detail, the payment's sealed personal data, the sealed outbox event
/// (bytes, from the statement log).
const PAYLOAD_SIZES: [usize; 3] = [1_260, 247, 4_237];

#[derive(Debug, Clone, Serialize)]
pub struct FloorStats {
    pub tool: String,
    /// Write statements per payment, each its own transaction.
    pub statements_per_payment: usize,
    pub stats: Stats,
}

/// Prepares the helper table and runs the floor for `duration` at `concurrency`.
pub async fn run(
    url: &str,
    concurrency: usize,
    duration: Duration,
    work_dir: &Path,
) -> anyhow::Result<FloorStats> {
    let db = Db::connect(url, 4).await?;
    let mut conn = db.pool().acquire().await?;
    for sql in HELPER {
        conn.execute(*sql).await.with_context(|| sql.to_string())?;
    }
    let json = |n: usize| format!("{{\"x\":\"{}\"}}", "x".repeat(n - 8));
    sqlx::query(
        "INSERT INTO bench_floor_payload (k, bill_json, payment_pii, event_json) VALUES (1, $1, $2, $3)",
    )
    .bind(json(PAYLOAD_SIZES[0]))
    .bind(json(PAYLOAD_SIZES[1]))
    .bind(json(PAYLOAD_SIZES[2]))
    .execute(&mut *conn)
    .await?;
    let rows: i64 = sqlx::query("SELECT COUNT(*) FROM bench_floor")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    drop(conn);
    if rows == 0 {
        bail!("no bills to run the floor against");
    }
    let script = Script::parse(SCRIPT)?;
    let statements = script.writes();
    if kosh_platform::db::is_sqlite(url) {
        let stats = sqlite(url, db, script, rows, concurrency, duration).await?;
        Ok(FloorStats {
            tool: "kosh-bench's SQLite driver (sqlx, one writer connection in autocommit, WAL, \
                   synchronous=FULL)"
                .into(),
            statements_per_payment: statements,
            stats,
        })
    } else {
        db.pool().close().await;
        let stats = pgbench(url, rows, concurrency, duration, work_dir).await?;
        Ok(FloorStats {
            tool: "pgbench -M prepared".into(),
            statements_per_payment: statements,
            stats,
        })
    }
}

async fn pgbench(
    url: &str,
    rows: i64,
    concurrency: usize,
    duration: Duration,
    work_dir: &Path,
) -> anyhow::Result<Stats> {
    let dir = work_dir.join("pgbench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("payment.sql");
    std::fs::write(&script, SCRIPT)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let out = tokio::process::Command::new("pgbench")
        .current_dir(&dir)
        .args(["-n", "-M", "prepared", "-l", "--log-prefix=txn"])
        .arg(format!("-c{concurrency}"))
        .arg(format!("-j{}", threads.min(concurrency)))
        .arg(format!("-T{}", duration.as_secs()))
        .arg(format!("-Dnbills={rows}"))
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .await
        .context("running pgbench (Debian package postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    std::fs::write(dir.join("pgbench.out"), format!("{stdout}\n{stderr}"))?;
    if !out.status.success() {
        bail!("pgbench failed: {stderr}");
    }
    // Per-transaction log lines: client_id transaction_no time script_no time_epoch time_us;
    // time is the latency in microseconds.
    let mut hist = drive::new_histogram();
    let (mut first, mut last) = (f64::MAX, 0f64);
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with("txn.") {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                continue;
            }
            let us: u64 = f[2].parse().unwrap_or(0);
            let end = f[4].parse::<f64>().unwrap_or(0.0) + f[5].parse::<f64>().unwrap_or(0.0) / 1e6;
            first = first.min(end - us as f64 / 1e6);
            last = last.max(end);
            hist.record(us.clamp(1, 60_000_000)).ok();
        }
    }
    let failed = stdout
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok());
    let seconds = if last > first {
        last - first
    } else {
        duration.as_secs_f64()
    };
    let mut stats = Stats::from_histogram(
        "floor: a payment's six writes, one transaction each (pgbench)",
        concurrency,
        seconds,
        &hist,
        failed,
        false,
        Vec::new(),
    );
    if let Some(tps) = tps {
        stats.per_second = tps;
    }
    Ok(stats)
}

#[derive(Debug, Clone)]
enum Val {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone)]
enum Step {
    /// `\set name random(lo, hi)`; bounds are integers or variables.
    Random(String, String, String),
    /// SQL with positional parameters, the variable names bound to them, and whether its
    /// columns set variables (`\gset`).
    Sql(String, Vec<String>, bool),
}

#[derive(Debug, Clone)]
struct Script {
    steps: Vec<Step>,
}

/// Turns `:name` variables into `$1, $2, ...`, keeping `::` casts.
fn positional(sql: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut names: Vec<String> = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut quoted = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted
            && c == ':'
            && i + 1 < chars.len()
            && (chars[i + 1].is_ascii_alphabetic() || chars[i + 1] == '_')
            && (i == 0 || chars[i - 1] != ':')
        {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            let k = match names.iter().position(|n| *n == name) {
                Some(k) => k,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            out.push_str(&format!("${}", k + 1));
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    (out, names)
}

impl Script {
    fn parse(text: &str) -> anyhow::Result<Script> {
        let mut steps = Vec::new();
        let mut pending = String::new();
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with("--") {
                continue;
            }
            if let Some(rest) = t.strip_prefix("\\set ") {
                let (name, expr) = rest.split_once(' ').context("\\set needs a name")?;
                let inner = expr
                    .trim()
                    .strip_prefix("random(")
                    .and_then(|e| e.strip_suffix(')'))
                    .context("only \\set v random(lo, hi) is understood")?;
                let (lo, hi) = inner.split_once(',').context("random(lo, hi)")?;
                steps.push(Step::Random(
                    name.to_string(),
                    lo.trim().to_string(),
                    hi.trim().to_string(),
                ));
                continue;
            }
            if !pending.is_empty() {
                pending.push(' ');
            }
            pending.push_str(t);
            let gset = pending.ends_with("\\gset");
            if gset || pending.ends_with(';') {
                let sql = pending
                    .trim_end_matches("\\gset")
                    .trim_end_matches(';')
                    .trim()
                    .to_string();
                let (sql, names) = positional(&sql);
                steps.push(Step::Sql(sql, names, gset));
                pending.clear();
            }
        }
        Ok(Script { steps })
    }

    /// The write statements: every statement but the `\gset` lookups.
    fn writes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Sql(_, _, false)))
            .count()
    }
}

fn value(vars: &HashMap<String, Val>, token: &str) -> anyhow::Result<i64> {
    if let Some(name) = token.strip_prefix(':') {
        match vars.get(name) {
            Some(Val::Int(v)) => Ok(*v),
            _ => bail!("variable {name} is not an integer"),
        }
    } else {
        Ok(token.parse()?)
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    names: &[String],
    vars: &HashMap<String, Val>,
) -> anyhow::Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>> {
    for name in names {
        q = match vars
            .get(name)
            .with_context(|| format!("variable {name} unset"))?
        {
            Val::Int(v) => q.bind(*v),
            Val::Text(s) => q.bind(s.clone()),
        };
    }
    Ok(q)
}

/// One payment's writes on SQLite: the lookup on a reader, each write alone on the writer.
async fn one(
    db: &Db,
    writer: &AnyPool,
    script: &Script,
    base: &HashMap<String, Val>,
) -> anyhow::Result<()> {
    let mut vars = base.clone();
    for step in &script.steps {
        match step {
            Step::Random(name, lo, hi) => {
                let (lo, hi) = (value(&vars, lo)?, value(&vars, hi)?);
                let v = rand::rng().random_range(lo..=hi);
                vars.insert(name.clone(), Val::Int(v));
            }
            Step::Sql(sql, names, gset) => {
                // The script is a file of this repository, not input.
                let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), names, &vars)?;
                if *gset {
                    let row = q.fetch_one(db.pool()).await?;
                    for (i, col) in row.columns().iter().enumerate() {
                        use sqlx::Column;
                        let v = match row.try_get::<i64, _>(i) {
                            Ok(v) => Val::Int(v),
                            Err(_) => Val::Text(row.try_get::<String, _>(i)?),
                        };
                        vars.insert(col.name().to_string(), v);
                    }
                } else {
                    q.execute(writer).await?;
                }
            }
        }
    }
    Ok(())
}

/// The floor's one SQLite writer connection: kosh's durability (WAL, a full fsync at every
/// commit), statements in autocommit.
async fn sqlite_writer(url: &str) -> anyhow::Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode=WAL").await?;
                conn.execute("PRAGMA synchronous=FULL").await?;
                conn.execute("PRAGMA busy_timeout=10000").await?;
                conn.execute("PRAGMA foreign_keys=ON").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

async fn sqlite(
    url: &str,
    db: Db,
    script: Script,
    rows: i64,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Stats> {
    let writer = sqlite_writer(url).await?;
    let mut base = HashMap::new();
    base.insert("nbills".to_string(), Val::Int(rows));
    // A trial run: a broken script fails here, not 64 times a second.
    one(&db, &writer, &script, &base).await?;
    let (db, script, base) = (Arc::new(db), Arc::new(script), Arc::new(base));
    let stats = drive::run(
        "floor: a payment's six writes, one transaction each (sqlx)",
        concurrency,
        duration,
        move |worker, _| {
            let (db, writer, script, base) =
                (db.clone(), writer.clone(), script.clone(), base.clone());
            async move {
                let mut vars = (*base).clone();
                vars.insert("client_id".into(), Val::Int(worker as i64));
                one(&db, &writer, &script, &vars)
                    .await
                    .map(|_| true)
                    .map_err(|e| format!("{e:#}"))
            }
        },
    )
    .await;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_become_positional_parameters() {
        let (sql, names) = positional("UPDATE t SET a = :x, b = ':y', c = :x::text WHERE d = :z");
        assert_eq!(
            sql,
            "UPDATE t SET a = $1, b = ':y', c = $1::text WHERE d = $2"
        );
        assert_eq!(names, vec!["x", "z"]);
    }

    #[test]
    fn the_payment_script_parses() {
        let s = Script::parse(SCRIPT).unwrap();
        assert_eq!(s.writes(), 6);
    }
}
