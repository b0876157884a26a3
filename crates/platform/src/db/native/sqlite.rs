//! SQLite reads through rusqlite, on the calling thread: a hot read is a few dozen
//! microseconds of in-process work, less than the hand-over to a driver's worker thread and
//! back that sqlx pays for every statement. Connections wait in a small idle list; one is
//! taken for one read and put back, so no more are open than threads reading at once, and
//! at most [`SqliteReads::idle_max`] stay open when idle. Each keeps its prepared
//! statements (`prepare_cached`), bounded.

use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::row::{Cell, NativeRow};
use crate::error::DigitError;
use crate::sql::Arg;

/// Prepared statements kept per connection (rusqlite's LRU): the hot reads are a handful.
const STATEMENTS_PER_CONNECTION: usize = 32;

#[derive(Debug)]
pub(crate) struct SqliteReads {
    path: String,
    idle: Mutex<Vec<Connection>>,
    idle_max: usize,
}

impl SqliteReads {
    /// Readers of the SQLite file at `path` (which the writer has already created in WAL
    /// mode), at most `idle_max` kept open while idle.
    pub(crate) fn open(path: &str, idle_max: usize) -> Result<SqliteReads, DigitError> {
        let reads = SqliteReads {
            path: path.to_string(),
            idle: Mutex::new(Vec::new()),
            idle_max: idle_max.max(1),
        };
        // One connection now, so a file that cannot be opened fails the start, not a request.
        let conn = reads.connect()?;
        reads.put_back(conn);
        Ok(reads)
    }

    fn connect(&self) -> Result<Connection, DigitError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(classify)?;
        // A reader never writes (query_only); it waits for a checkpoint's brief lock rather
        // than failing (busy_timeout, as the sqlx connections).
        conn.execute_batch("PRAGMA query_only=1; PRAGMA busy_timeout=10000;")
            .map_err(classify)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_PER_CONNECTION);
        Ok(conn)
    }

    fn take(&self) -> Result<Connection, DigitError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.idle_max {
            idle.push(conn);
        }
    }

    /// The rows of `sql` (numbered `$N` placeholders) with `args`.
    pub(crate) fn fetch_all(&self, sql: &str, args: &[Arg]) -> Result<Vec<NativeRow>, DigitError> {
        let conn = self.take()?;
        let rows = read(&conn, sql, args);
        // A connection that failed is closed rather than reused: its state is unknown.
        if rows.is_ok() {
            self.put_back(conn);
        }
        rows.map_err(classify)
    }
}

fn read(conn: &Connection, sql: &str, args: &[Arg]) -> Result<Vec<NativeRow>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(&numbered(sql))?;
    for (i, arg) in args.iter().enumerate() {
        let at = i + 1;
        match arg {
            Arg::Text(s) => stmt.raw_bind_parameter(at, s.as_str())?,
            Arg::Int(n) => stmt.raw_bind_parameter(at, n)?,
            Arg::NullText | Arg::NullInt => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
        }
    }
    let names: Arc<[Box<str>]> = stmt.column_names().into_iter().map(Box::from).collect();
    let width = names.len();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(match row.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(n) => Cell::Int(n),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Real(_) | ValueRef::Blob(_) => {
                    return Err(rusqlite::Error::InvalidColumnType(
                        i,
                        names[i].to_string(),
                        row.get_ref(i)?.data_type(),
                    ));
                }
            });
        }
        out.push(NativeRow {
            names: names.clone(),
            cells,
        });
    }
    Ok(out)
}

/// `$N` placeholders (what [`crate::sql::SqlBuilder`] writes, and PostgreSQL reads) as
/// SQLite's `?N`, which binds by number whatever the order in which the placeholders appear.
/// Text inside quotes is left as it is.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

/// A rusqlite error as the client's answer, by the same rules as sqlx's (`db::classify`):
/// BUSY and LOCKED may be retried, the environment's faults are 503/507, anything else is
/// a fault of kosh (500), with the driver's words only in the log.
fn classify(err: rusqlite::Error) -> DigitError {
    let code = match &err {
        rusqlite::Error::SqliteFailure(e, _) => Some(super::Code::Sqlite(e.extended_code)),
        _ => None,
    };
    super::classify(code, false, &err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b IN ($12, $3) AND c = '$'"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ?1 AND b IN (?12, ?3) AND c = '$'"
        );
    }
}

#[cfg(test)]
mod reads {
    use super::*;

    #[test]
    fn binds_and_reads_every_kind_of_value_on_a_wal_file() {
        let dir = std::env::temp_dir().join(format!("kosh-native-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("reads.db");
        let _ = std::fs::remove_file(&path);
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE t(a TEXT, n BIGINT); \
                 INSERT INTO t VALUES ('x', 5);",
            )
            .unwrap();
        let reads = SqliteReads::open(path.to_str().unwrap(), 2).unwrap();
        let rows = reads
            .fetch_all(
                "SELECT a, n, '$1' AS literal, CAST(NULL AS TEXT) AS absent FROM t \
                 WHERE a = $1 AND ($2 IS NULL) AND ($3 IS NULL) AND n > $4",
                &[
                    Arg::Text("x".into()),
                    Arg::NullText,
                    Arg::NullInt,
                    Arg::Int(0),
                ],
            )
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].cells,
            vec![
                Cell::Text("x".into()),
                Cell::Int(5),
                Cell::Text("$1".into()),
                Cell::Null
            ]
        );
        // A reader never writes (query_only: SQLite's READONLY).
        let err = reads
            .fetch_all("DELETE FROM t RETURNING a", &[])
            .unwrap_err();
        assert_eq!(err.first_code(), Some("DATABASE_READ_ONLY"));
        let count: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
        // A write the writer commits is seen by the next read.
        writer.execute("INSERT INTO t VALUES ('y', 6)", []).unwrap();
        let rows = reads
            .fetch_all("SELECT a FROM t WHERE n = $1", &[Arg::Int(6)])
            .unwrap();
        assert_eq!(rows[0].cells, vec![Cell::Text("y".into())]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
