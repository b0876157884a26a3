//! Database faults that are the environment's, not kosh's: the database went away (restart,
//! crash, network), the disk is full, or the file cannot be written. Each becomes a clear
//! DIGIT error the client may retry later (503, or 507 for a full disk) instead of a 500, so an
//! operator sees at once what is wrong and a client knows that nothing is broken in kosh.
//!
//! The request was not carried out in any of these cases, with one exception the messages
//! admit: when the connection breaks during COMMIT the client cannot know whether the commit
//! happened, which is why payment clients resend with the same `Idempotency-Key`.

use axum::http::StatusCode;

use super::Code;
use crate::error::{DigitError, ErrorItem};

/// What went wrong underneath a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The database cannot be reached or is shutting down / starting up.
    Unavailable,
    /// No space left for the database (SQLite's FULL, PostgreSQL's disk_full).
    Full,
    /// The database file or folder cannot be written.
    ReadOnly,
}

/// PostgreSQL SQLSTATEs that mean the server, not the statement, is the problem: class 08
/// (connection exception), 57P01–57P03 (admin shutdown, crash shutdown, cannot connect now),
/// 53300 (too many connections), and the 53100 disk_full / 58030 io_error pair.
fn postgres_fault(code: &str) -> Option<Fault> {
    match code {
        "53100" => Some(Fault::Full),
        "58030" => Some(Fault::Unavailable),
        "57P01" | "57P02" | "57P03" | "53300" => Some(Fault::Unavailable),
        c if c.starts_with("08") => Some(Fault::Unavailable),
        // read_only_sql_transaction: a standby after a failover, still without a primary.
        "25006" => Some(Fault::ReadOnly),
        _ => None,
    }
}

/// SQLite primary result codes (the low byte of the extended code): 13 FULL, 8 READONLY,
/// 10 IOERR (the OS refused a read or write, e.g. EIO, or ENOSPC on some paths), 14 CANTOPEN.
fn sqlite_fault(extended: i32) -> Option<Fault> {
    match extended & 0xff {
        13 => Some(Fault::Full),
        8 => Some(Fault::ReadOnly),
        10 | 14 => Some(Fault::Unavailable),
        _ => None,
    }
}

/// The environmental fault behind `err`, if it is one.
pub(crate) fn fault_of(err: &sqlx::Error) -> Option<Fault> {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(Fault::Unavailable),
        // The server closed the connection mid-message (it was stopped or killed).
        sqlx::Error::Protocol(_) => Some(Fault::Unavailable),
        sqlx::Error::Database(_) => super::code_of(err).as_ref().and_then(fault_of_code),
        _ => None,
    }
}

/// The environmental fault a database's error code names, if it names one.
pub(crate) fn fault_of_code(code: &Code) -> Option<Fault> {
    match code {
        Code::Postgres(c) => postgres_fault(c),
        Code::Sqlite(c) => sqlite_fault(*c),
    }
}

/// DIGIT's error body for a fault. The driver's message is logged by the caller and never
/// sent: it can name tables, columns and values.
pub(crate) fn error_for(fault: Fault) -> DigitError {
    let (status, code, message) = match fault {
        Fault::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
            "The database is unavailable, please retry shortly",
        ),
        Fault::Full => (
            StatusCode::INSUFFICIENT_STORAGE,
            "DATABASE_FULL",
            "The database has no space left; nothing was written, please retry later",
        ),
        Fault::ReadOnly => (
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_READ_ONLY",
            "The database cannot be written at the moment; nothing was written, please retry later",
        ),
    };
    DigitError::item(ErrorItem::new(code, message)).with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_codes() {
        assert_eq!(postgres_fault("57P01"), Some(Fault::Unavailable));
        assert_eq!(postgres_fault("08006"), Some(Fault::Unavailable));
        assert_eq!(postgres_fault("53100"), Some(Fault::Full));
        assert_eq!(postgres_fault("23505"), None);
        assert_eq!(postgres_fault("40001"), None);
    }

    #[test]
    fn sqlite_codes_use_the_primary_byte() {
        assert_eq!(sqlite_fault(13), Some(Fault::Full));
        // SQLITE_READONLY_DBMOVED = 8 | (4 << 8)
        assert_eq!(sqlite_fault(8 | (4 << 8)), Some(Fault::ReadOnly));
        // SQLITE_IOERR_WRITE = 10 | (3 << 8)
        assert_eq!(sqlite_fault(10 | (3 << 8)), Some(Fault::Unavailable));
        assert_eq!(sqlite_fault(2067), None);
    }

    #[test]
    fn pool_timeout_is_a_503_in_digits_shape() {
        let err = error_for(fault_of(&sqlx::Error::PoolTimedOut).expect("fault"));
        assert_eq!(err.errors[0].description, None, "no driver message");
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.first_code(), Some("DATABASE_UNAVAILABLE"));
        assert_eq!(err.body()["ResponseInfo"], serde_json::Value::Null);
    }
}
