//! PostgreSQL reads through tokio-postgres: a few connections, each shared by every request
//! that reads on it, so concurrent reads are pipelined on the connection (sent without
//! waiting for the answers before them) instead of each waiting for a pool slot, and each
//! statement is prepared once per connection. Parameters are typed as sqlx types them (text,
//! int8), so a statement means the same on both paths. A connection the server closed is
//! opened again by the next read.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::row::{Cell, NativeRow};
use crate::error::DigitError;
use crate::sql::Arg;

/// Prepared statements kept per connection; past it the cache starts again (the hot reads
/// are a handful; this bounds a connection's memory whatever reads come).
const STATEMENTS_PER_CONNECTION: usize = 64;

/// The `application_name` of these connections.
pub(crate) const APPLICATION_NAME: &str = "kosh-native-reads";

#[derive(Debug)]
pub(crate) struct PostgresReads {
    config: Config,
    connections: Vec<Mutex<Option<Arc<Shared>>>>,
    next: AtomicUsize,
}

/// One connection and its prepared statements (by SQL text and parameter types).
#[derive(Debug)]
struct Shared {
    client: Client,
    statements: Mutex<HashMap<(String, Vec<Type>), Statement>>,
}

impl PostgresReads {
    /// `count` connections to `url` (a `postgres://` URL, as sqlx reads it), the first
    /// opened now so that a wrong URL fails the start.
    pub(crate) async fn open(url: &str, count: usize) -> anyhow::Result<PostgresReads> {
        let mut config = Config::from_str(url)?;
        // So that an operator sees in pg_stat_activity which connections these are.
        config.application_name(APPLICATION_NAME);
        let reads = PostgresReads {
            config,
            connections: (0..count.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        let first = reads.connect().await?;
        *reads.connections[0]
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(first);
        Ok(reads)
    }

    async fn connect(&self) -> Result<Arc<Shared>, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "native PostgreSQL read connection closed");
            }
        });
        Ok(Arc::new(Shared {
            client,
            statements: Mutex::new(HashMap::new()),
        }))
    }

    /// The connection in slot `at`, opened (again) when it is missing or closed.
    async fn connection(&self, at: usize) -> Result<Arc<Shared>, tokio_postgres::Error> {
        let slot = &self.connections[at];
        let current = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match current {
            Some(shared) if !shared.client.is_closed() => Ok(shared),
            _ => {
                let fresh = self.connect().await?;
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }

    /// The rows of `sql` with `args`, on the next connection in turn. A read that finds its
    /// connection closed (the server restarted, or ended it) is tried once more on a new
    /// one, so a restart costs the reader nothing once the server is back.
    pub(crate) async fn fetch_all(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<NativeRow>, DigitError> {
        let at = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        match self.read_on(at, sql, args).await {
            Err(e) if ended(&e) => {
                // The client may not know yet that its connection is gone (the socket
                // failed before the connection task ended): open a new one regardless.
                *self.connections[at]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
                self.read_on(at, sql, args).await
            }
            other => other,
        }
        .map_err(classify)
    }

    async fn read_on(
        &self,
        at: usize,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<NativeRow>, tokio_postgres::Error> {
        let shared = self.connection(at).await?;
        let types: Vec<Type> = args.iter().map(type_of).collect();
        let key = (sql.to_string(), types);
        let cached = shared
            .statements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let statement = match cached {
            Some(s) => s,
            None => {
                let s = shared.client.prepare_typed(sql, &key.1).await?;
                let mut statements = shared.statements.lock().unwrap_or_else(|p| p.into_inner());
                if statements.len() >= STATEMENTS_PER_CONNECTION {
                    statements.clear();
                }
                statements.insert(key, s.clone());
                s
            }
        };
        let params: Vec<Box<dyn ToSql + Sync + Send>> = args.iter().map(param_of).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = shared.client.query(&statement, &refs).await?;
        let names: Arc<[Box<str>]> = statement
            .columns()
            .iter()
            .map(|c| Box::from(c.name()))
            .collect();
        rows.iter()
            .map(|row| {
                let cells = statement
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, column)| cell_of(row, i, column.type_()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(NativeRow {
                    names: names.clone(),
                    cells,
                })
            })
            .collect()
    }
}

/// Whether the connection under a read has ended: closed, its socket failed, or ended by
/// the server (57P01, admin_shutdown: a restart or `pg_terminate_backend`).
fn ended(err: &tokio_postgres::Error) -> bool {
    socket_gone(err)
        || err
            .as_db_error()
            .is_some_and(|db| db.code().code() == "57P01")
}

/// Without a server error: a closed connection or a failed socket.
fn socket_gone(err: &tokio_postgres::Error) -> bool {
    err.is_closed() || std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>())
}

/// The type sqlx gives each kind of argument (sqlx binds `String` as TEXT, `i64` as INT8).
fn type_of(arg: &Arg) -> Type {
    match arg {
        Arg::Text(_) | Arg::NullText => Type::TEXT,
        Arg::Int(_) | Arg::NullInt => Type::INT8,
    }
}

fn param_of(arg: &Arg) -> Box<dyn ToSql + Sync + Send> {
    match arg {
        Arg::Text(s) => Box::new(s.clone()),
        Arg::Int(n) => Box::new(*n),
        Arg::NullText => Box::new(None::<String>),
        Arg::NullInt => Box::new(None::<i64>),
    }
}

/// One column's value; kosh's schema has integers, text and (in old rows of a few tables)
/// booleans, read as 0/1 the way SQLite stores them.
fn cell_of(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<Cell, tokio_postgres::Error> {
    Ok(match *ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Cell::Null, Cell::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Cell::Null, |n| Cell::Int(n.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Cell::Null, |n| Cell::Int(n.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Cell::Null, |b| Cell::Int(b.into())),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text),
    })
}

/// A tokio-postgres error as the client's answer, by the same rules as sqlx's.
fn classify(err: tokio_postgres::Error) -> DigitError {
    let code = err
        .as_db_error()
        .map(|db| super::Code::Postgres(db.code().code().to_string()));
    super::classify(code, socket_gone(&err), &err)
}
