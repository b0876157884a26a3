//! Hot reads through each database's own driver, without sqlx's generic `Any` layer: on
//! SQLite rusqlite on the calling thread (no hand-over to a worker thread per statement),
//! on PostgreSQL tokio-postgres with statements prepared once per connection and reads
//! pipelined on a few shared connections. The SQL is the same portable text as everywhere
//! else ([`crate::sql::SqlBuilder`], `$N` placeholders), and the rows come back as
//! [`NativeRow`]s that a table's decoder reads through [`Cells`], the same code that reads
//! sqlx's rows inside write transactions.
//!
//! Only reads outside transactions go this way (fetch-bill's reuse of a valid bill first);
//! writes stay on sqlx, in [`crate::write_tx!`]'s transactions.

mod postgres;
mod row;
mod sqlite;

pub use row::{Cell, Cells, FromCell, NativeRow};

use super::Code;
use super::fault::{self, Fault};
use crate::error::DigitError;
use crate::sql::SqlBuilder;

/// The native readers of one database.
#[derive(Debug)]
pub(crate) enum NativeReads {
    Sqlite(sqlite::SqliteReads),
    Postgres(Box<postgres::PostgresReads>),
}

impl NativeReads {
    /// Readers of the SQLite file at `path`, at most `idle_max` kept open while idle.
    pub(crate) fn sqlite(path: &str, idle_max: usize) -> anyhow::Result<NativeReads> {
        sqlite::SqliteReads::open(path, idle_max)
            .map(NativeReads::Sqlite)
            .map_err(|e| anyhow::anyhow!("cannot open SQLite readers on {path}: {e:?}"))
    }

    /// `connections` shared read connections to the PostgreSQL at `url`.
    pub(crate) async fn postgres(url: &str, connections: usize) -> anyhow::Result<NativeReads> {
        Ok(NativeReads::Postgres(Box::new(
            postgres::PostgresReads::open(url, connections).await?,
        )))
    }

    /// The rows of `q`, outside any transaction.
    pub(crate) async fn fetch_all(
        &self,
        q: &SqlBuilder,
        log_sql: bool,
    ) -> Result<Vec<NativeRow>, DigitError> {
        if log_sql {
            // As sqlx logs its statements (KOSH_LOG_SQL), under the same target.
            let statement = q.sql();
            tracing::event!(target: "sqlx::query", tracing::Level::DEBUG, { db.statement = statement, driver = "native" }, "native read");
        }
        match self {
            NativeReads::Sqlite(reads) => reads.fetch_all(q.sql(), q.args()),
            NativeReads::Postgres(reads) => reads.fetch_all(q.sql(), q.args()).await,
        }
    }
}

/// A native driver's error as the client's answer: `code` the database's, `gone` whether
/// the connection itself failed (the server went away or could not be reached).
fn classify(code: Option<Code>, gone: bool, err: &dyn std::fmt::Display) -> DigitError {
    let fault = match &code {
        Some(code) => fault::fault_of_code(code),
        None if gone => Some(Fault::Unavailable),
        None => None,
    };
    super::answer(code.as_ref(), fault, err)
}
