//! The database: embedded SQLite by default, PostgreSQL in production, one body of portable
//! SQL for both. The portable-SQL rule: money as BIGINT paise, times as BIGINT epoch
//! milliseconds (as DIGIT sends them), JSON as TEXT, tenant-scoped unique keys (uniqueness is
//! the database's, never a read-then-write check), counter rows instead of database
//! sequences, and no advisory locks, LISTEN/NOTIFY or SKIP LOCKED, so that a deployment that
//! outgrows one PostgreSQL can move to a distributed PostgreSQL-compatible engine (Citus,
//! CockroachDB, YugabyteDB). A job that must run once across instances takes a lease row.
//!
//! Writes go through [`Db::write`], which runs a closure in one transaction and retries it
//! when the database reports a serialization failure, a deadlock or a busy SQLite file.
//! On SQLite all writers share one connection, so writers queue instead of failing.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use axum::http::StatusCode;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Executor};

use crate::error::DigitError;

pub mod analyze;
mod fault;
mod group;
pub mod lease;
pub mod native;

pub use group::{Work, WriteSlot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    /// Reads, and on PostgreSQL writes too.
    read: AnyPool,
    /// On SQLite, the single writer connection; on PostgreSQL the same pool as `read`.
    write: AnyPool,
    /// On SQLite, the group commit over the writer (see [`group`]).
    group: Option<std::sync::Arc<group::Group>>,
    /// Hot reads through the database's own driver ([`native`]); `None` when turned off
    /// (KOSH_NATIVE_READS=false), and they go through sqlx.
    native: Option<std::sync::Arc<native::NativeReads>>,
    /// Whether statements are logged (KOSH_LOG_SQL), for the native reads too.
    log_sql: bool,
}

/// How many times a transaction is tried when the database asks for a retry. At
/// SERIALIZABLE (a distributed engine's isolation, and PostgreSQL's when so configured),
/// writers racing for one hot row (a counter, an audit chain's head) fail with 40001 rather
/// than wait, so a burst of them needs more attempts than a lock wait would; eight ran out
/// under twenty parallel writers.
const MAX_ATTEMPTS: u32 = 30;

impl Db {
    /// Opens `url` (`sqlite://path` or `postgres://...`). The SQLite file and its folder are
    /// created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Self::connect_logging(url, max_connections, false).await
    }

    /// [`Db::connect`]; with `log_sql` (KOSH_LOG_SQL) every statement's text is an event at
    /// DEBUG of target `sqlx::query` (field `db.statement`, or `summary` for a short one), and
    /// one slower than a second a WARN, for whoever must see the SQL each request runs.
    pub async fn connect_logging(
        url: &str,
        max_connections: u32,
        log_sql: bool,
    ) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        if is_sqlite(url) {
            let path = sqlite_path(url);
            if let Some(parent) = Path::new(&path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let url = format!("sqlite://{path}?mode=rwc");
            let options = statement_logging(AnyConnectOptions::from_str(&url)?, log_sql);
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(sqlite_pragmas)
                .connect_with(options.clone())
                .await?;
            let read = AnyPoolOptions::new()
                .max_connections(sqlite_readers(max_connections))
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(sqlite_pragmas)
                .connect_with(options)
                .await?;
            let native = native_or_sqlx(native::NativeReads::sqlite(
                &path,
                sqlite_readers(max_connections) as usize,
            ));
            Ok(Db {
                backend: Backend::Sqlite,
                read,
                group: Some(std::sync::Arc::new(group::Group::new(write.clone()))),
                write,
                native,
                log_sql,
            })
        } else {
            let options = statement_logging(AnyConnectOptions::from_str(url)?, log_sql);
            let pool = match AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.clone())
                .await
            {
                Ok(pool) => pool,
                // The pool retries a refused connection until its timeout and then says only
                // that it timed out; one connection of our own says why.
                Err(sqlx::Error::PoolTimedOut) => {
                    let why = match tokio::time::timeout(Duration::from_secs(5), options.connect())
                        .await
                    {
                        Ok(Err(e)) => e,
                        _ => sqlx::Error::PoolTimedOut,
                    };
                    return Err(why.into());
                }
                Err(e) => return Err(e.into()),
            };
            let native = native_or_sqlx(native::NativeReads::postgres(url, cores()).await);
            Ok(Db {
                backend: Backend::Postgres,
                read: pool.clone(),
                write: pool,
                group: None,
                native,
                log_sql,
            })
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.read
    }

    /// The rows of `q`, read outside any transaction through the database's own driver
    /// ([`native`]): for the hot reads, which skip sqlx's per-statement costs. `None` when
    /// the native reads are off ([`Db::without_native_reads`]): the caller reads through
    /// [`Db::pool`].
    pub async fn read_native(
        &self,
        q: &crate::sql::SqlBuilder,
    ) -> Option<Result<Vec<native::NativeRow>, DigitError>> {
        match &self.native {
            Some(native) => Some(native.fetch_all(q, self.log_sql).await),
            None => None,
        }
    }

    /// The rows of `q`, read outside any transaction: through the native readers
    /// ([`Db::read_native`]), or through sqlx's read pool when they are off. The hot reads
    /// call this and decode [`native::NativeRow`]s either way.
    pub async fn read_outside(
        &self,
        q: &crate::sql::SqlBuilder,
    ) -> Result<Vec<native::NativeRow>, DigitError> {
        match self.read_native(q).await {
            Some(rows) => rows,
            None => Ok(native::NativeRow::from_any(
                &q.build().fetch_all(&self.read).await?,
            )?),
        }
    }

    /// This database with the hot reads through sqlx, as every other statement
    /// (KOSH_NATIVE_READS=false).
    pub fn without_native_reads(mut self) -> Db {
        self.native = None;
        self
    }

    /// Applies every pending migration. Migrations take no advisory lock (the portable-SQL
    /// rule above). When one was applied (a fresh or upgraded database), every table is
    /// analysed, so the planner has statistics from the first request ([`analyze`]).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut migrator = sqlx::migrate!("../../migrations");
        migrator.set_locking(false);
        let before = self.applied_migrations().await;
        migrator.run(&self.write).await?;
        if self.applied_migrations().await != before {
            self.analyze_all().await?;
        }
        Ok(())
    }

    /// How many migrations the database records as applied (0 before the first).
    async fn applied_migrations(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&self.write)
            .await
            .unwrap_or(0)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    /// Begins a write transaction of its own on the writer (on SQLite, the single writer
    /// connection), outside the group commit: for tests and the benchmark's floor driver.
    /// Request handlers use [`crate::write_tx!`], which groups, commits and retries.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DigitError> {
        Ok(self.write.begin().await?)
    }

    /// A place for one write transaction: on SQLite a member of the shared, group-committed
    /// transaction, on PostgreSQL a transaction of its own. Use it through
    /// [`crate::write_tx!`].
    pub async fn write_slot(&self) -> Result<WriteSlot, DigitError> {
        match &self.group {
            Some(group) => WriteSlot::join(group).await,
            None => WriteSlot::own(&self.write).await,
        }
    }

    /// Writes waiting to join SQLite's shared write transaction (0 on PostgreSQL).
    pub fn queued_writes(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.queued())
    }

    /// Shared write transactions SQLite has committed since start (0 on PostgreSQL).
    pub fn group_commits(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.commits())
    }

    /// Waits before another attempt of a transaction the database asked to retry; `false`
    /// when the attempts are used up.
    pub async fn pause_before_retry(&self, attempt: u32) -> bool {
        if attempt >= MAX_ATTEMPTS {
            return false;
        }
        metrics::counter!("kosh_db_retries_total").increment(1);
        // Full jitter: a random pause up to a bound that doubles each attempt (to 128 ms),
        // so writers that failed together do not come back together.
        let pause = 1 + rand::random_range(0..=2u64.pow(attempt.min(7)));
        tokio::time::sleep(Duration::from_millis(pause)).await;
        true
    }
}

/// The connection a transaction body works on.
pub type Conn = AnyConnection;

/// A transaction attempt's value after its commit (what [`write_tx!`]'s attempt yields).
pub struct Committed<T>(pub T);

/// Runs a block in one write transaction: commits when it evaluates to `Ok`, rolls back on
/// `Err` (or an early `?`), and runs it again when the database reports a serialization
/// failure, a deadlock or a busy file. On SQLite the transaction is a savepoint in a shared,
/// group-committed one ([`WriteSlot`], `db/group.rs`); either way the value is returned
/// only after the COMMIT that makes it durable.
///
/// ```ignore
/// let ids = write_tx!(db, |conn| {
///     let id = next_number(conn).await?;
///     Ok::<_, DigitError>(id)
/// })?;
/// ```
#[macro_export]
macro_rules! write_tx {
    ($db:expr, |$conn:ident| $body:block) => {{
        let db: &$crate::Db = &$db;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (result, touched): (
                ::core::result::Result<$crate::db::Committed<_>, $crate::DigitError>,
                _,
            ) = $crate::changes::collect(async {
                let mut slot = db.write_slot().await?;
                let value: ::core::result::Result<_, $crate::DigitError> = {
                    let mut work = slot.work().await?;
                    let value: ::core::result::Result<_, $crate::DigitError> = async {
                        let $conn: &mut $crate::db::Conn = work.conn();
                        $body
                    }
                    .await;
                    work.end(value.is_ok()).await?;
                    value
                };
                let value = slot.finish(value).await?;
                Ok($crate::db::Committed(value))
            })
            .await;
            match result {
                Ok($crate::db::Committed(value)) => {
                    // After the commit: read caches drop what this transaction changed.
                    $crate::changes::committed(&touched);
                    break Ok(value);
                }
                Err(err) if err.retryable && db.pause_before_retry(attempt).await => continue,
                Err(err) => break Err(err),
            }
        }
    }};
}

/// How many SQLite read connections to keep: two per core, at most `max_connections`, at
/// least two. A SQLite read runs in-process on its connection's worker thread, so readers
/// beyond a couple per core add no throughput, only memory: each keeps its own page cache,
/// prepared statements and malloc arena. Measured (BENCHMARKS.md): with fetch-bill served
/// by the readers, 16 of them took kosh to 96 MiB at 200,000 demands and 121 MiB at
/// 1,000,000; 4 held 62 MiB at the same fetch-bill rate.
fn sqlite_readers(max_connections: u32) -> u32 {
    let per_cores = u32::try_from(cores().saturating_mul(2)).unwrap_or(u32::MAX);
    max_connections.min(per_cores).max(2)
}

/// The native readers, or `None` (the hot reads then go through sqlx, as every other
/// statement) when they cannot be opened: a URL option only sqlx reads, say. kosh still
/// serves; the log says why it is slower than it could be.
fn native_or_sqlx(
    opened: anyhow::Result<native::NativeReads>,
) -> Option<std::sync::Arc<native::NativeReads>> {
    match opened {
        Ok(native) => Some(std::sync::Arc::new(native)),
        Err(e) => {
            tracing::warn!(error = %e, "native reads are off: the hot reads go through sqlx");
            None
        }
    }
}

/// The machine's cores: native readers kept per database (SQLite reads run on the
/// requests' own threads, one per core; PostgreSQL pipelines on each connection).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// sqlx logs every statement unless told not to; kosh only when asked (KOSH_LOG_SQL).
fn statement_logging(options: AnyConnectOptions, log_sql: bool) -> AnyConnectOptions {
    if log_sql {
        options
    } else {
        options.disable_statement_logging()
    }
}

/// Durability on for every SQLite connection: WAL with a full fsync at every commit.
fn sqlite_pragmas(
    conn: &mut AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        conn.execute("PRAGMA journal_mode=WAL").await?;
        conn.execute("PRAGMA synchronous=FULL").await?;
        conn.execute("PRAGMA busy_timeout=10000").await?;
        conn.execute("PRAGMA foreign_keys=ON").await?;
        Ok(())
    })
}

pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn sqlite_path(url: &str) -> String {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    rest.split('?').next().unwrap_or(rest).to_string()
}

/// A database's own error code, whichever driver reported it: PostgreSQL's SQLSTATE or
/// SQLite's extended result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
    Postgres(String),
    Sqlite(i32),
}

impl Code {
    /// Whether the client may try again: PostgreSQL's serialization failure (40001) and
    /// deadlock (40P01), SQLite's BUSY and LOCKED families (low byte 5 and 6).
    fn is_retryable(&self) -> bool {
        match self {
            Code::Postgres(c) => c == "40001" || c == "40P01",
            Code::Sqlite(c) => matches!(c & 0xff, 5 | 6),
        }
    }

    /// Whether the database refused a value of the request itself: PostgreSQL's class 22
    /// (data exception: a string too long for its column, a NUL byte or an invalid byte
    /// sequence in text, a number out of range).
    fn is_bad_value(&self) -> bool {
        matches!(self, Code::Postgres(c) if c.starts_with("22"))
    }
}

/// The database's code in a sqlx error, if it carries one. Only SQLite's codes are read as
/// SQLite's: PostgreSQL's SQLSTATE 22021 (a NUL byte in text) also parses to a number whose
/// low byte is 5, and is bad input, not a busy database.
fn code_of(err: &sqlx::Error) -> Option<Code> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        Some(Code::Postgres(pg.code().to_string()))
    } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        db.code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(Code::Sqlite)
    } else {
        None
    }
}

/// Turns a database error into the answer the client gets: a conflict the transaction may
/// retry; an outage, a full disk or an unwritable file as a 503/507 the client may retry
/// later (see [`fault`]); anything else is a fault of kosh, logged and answered with a 500.
pub(crate) fn classify(err: sqlx::Error) -> DigitError {
    answer(code_of(&err).as_ref(), fault::fault_of(&err), &err)
}

/// [`classify`]'s rules for an error of either driver: its database code, the environment's
/// fault behind it (if any), and its words (for the log only: they can name tables,
/// columns and values).
pub(crate) fn answer(
    code: Option<&Code>,
    fault: Option<fault::Fault>,
    err: &dyn std::fmt::Display,
) -> DigitError {
    if code.is_some_and(Code::is_retryable) {
        // The driver's words stay in the log; the client learns only that it may retry.
        tracing::debug!(error = %err, "database busy");
        let mut e = DigitError::unavailable("the database is busy; retry the request");
        e.retryable = true;
        return e;
    }
    if code.is_some_and(Code::is_bad_value) {
        tracing::warn!(error = %err, "the database refused a value of the request");
        return DigitError::new(
            "INVALID_INPUT",
            "A value in the request cannot be stored: it is too long, out of range or not valid text",
        );
    }
    if let Some(f) = fault {
        metrics::counter!("kosh_db_faults_total").increment(1);
        tracing::warn!(error = %err, fault = ?f, "database fault");
        return fault::error_for(f);
    }
    tracing::error!(error = %err, "database error");
    DigitError::new(
        "QUERY_EXECUTION_ERROR",
        "An error occurred while executing the query",
    )
    .with_status(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Whether an insert failed on a unique key (PostgreSQL 23505, SQLite CONSTRAINT_UNIQUE or
/// CONSTRAINT_PRIMARYKEY).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("23505") | Some("2067") | Some("1555")
        ),
        _ => false,
    }
}
