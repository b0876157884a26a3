//! The SQL statements a kosh server in this test process runs, captured from sqlx's own
//! statement log (`KOSH_LOG_SQL`, Settings.log_sql): a process-wide subscriber keeps every
//! `sqlx::query` event, and [`statements_of`] returns those logged while a request ran. A
//! test binary that uses it should hold one server at a time with the log on, or the other
//! servers' statements mix in.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capture (once per process): every statement sqlx logs becomes a JSON line.
pub fn capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("sqlx::query=debug"))
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(|| Capture),
            )
            .init();
    });
}

/// The statements logged while `during` ran (their SQL, or sqlx's summary of it), with
/// their whitespace folded.
pub async fn statements_of<T>(during: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
    let (out, statements) = statements_by_driver_of(during).await;
    (out, statements.into_iter().map(|s| s.sql).collect())
}

/// A statement of the log and which path ran it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub sql: String,
    /// Read through the database's own driver (`kosh_platform::db::native`), outside any
    /// transaction; otherwise through sqlx.
    pub native: bool,
}

/// [`statements_of`], each with the path that ran it.
pub async fn statements_by_driver_of<T>(
    during: impl std::future::Future<Output = T>,
) -> (T, Vec<Logged>) {
    LOG.lock().unwrap().clear();
    let out = during.await;
    let text = String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned();
    let statements = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "sqlx::query")
        .map(|event| {
            let fields = &event["fields"];
            let sql = fields["db.statement"]
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .or(fields["summary"].as_str())
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            Logged {
                sql,
                native: fields["driver"] == "native",
            }
        })
        .collect();
    (out, statements)
}

/// BEGIN, COMMIT, ROLLBACK and savepoints: the transaction's own statements, however the
/// write path groups its transactions.
pub fn is_transaction_control(statement: &str) -> bool {
    let first = statement
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "END"
    )
}
