//! `kosh audit verify`: walks every tenant's chain in one read snapshot, re-hashes each
//! referenced audit row from its table, and reports what no longer matches.
//!
//! What each kind of tampering looks like:
//! - a changed audit row: its entry's hash no longer matches ([`Violation::Changed`]);
//! - a deleted audit row: its entry points at nothing ([`Violation::Deleted`]);
//! - a deleted chain entry: a gap in `seq`, or a chain shorter than its head
//!   ([`Violation::Missing`]);
//! - an inserted audit row: a row no entry points at ([`Violation::Unchained`]);
//! - an edited, inserted or renumbered entry: its `prev_hash` does not name the entry before
//!   it, or its hash does not match ([`Violation::Relinked`], [`Violation::Changed`]).
//!
//! Someone who can write the database and knows this scheme can still rebuild a whole chain
//! from some point on; the head (`last_seq`, `last_hash`) in the report is the value to keep
//! outside the database to catch that.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{AuditTable, GENESIS, Kind, Value, canonical, link};
use crate::db::{Backend, Db};

/// Entries read per query.
const PAGE: i64 = 500;
/// Violations kept per tenant; the count goes on.
const MAX_LISTED: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// The row's content (or its entry's hash) changed since it was chained.
    Changed {
        seq: i64,
        table: String,
        key: String,
        detail: String,
    },
    /// The entry's audit row is gone.
    Deleted {
        seq: i64,
        table: String,
        key: String,
    },
    /// Chain entries `from..=to` are gone.
    Missing { from: i64, to: i64 },
    /// The entry's `prev_hash` is not the hash of the entry before it.
    Relinked { seq: i64 },
    /// An audit row that no chain entry covers.
    Unchained { table: String, key: String },
    /// An entry names a table this kosh does not know.
    UnknownTable { seq: i64, table: String },
    /// The chain head disagrees with the chain's last entry.
    Head { detail: String },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Changed {
                seq,
                table,
                key,
                detail,
            } => write!(f, "seq {seq}: changed row {table} {key} ({detail})"),
            Violation::Deleted { seq, table, key } => {
                write!(f, "seq {seq}: deleted row {table} {key}")
            }
            Violation::Missing { from, to } if from == to => {
                write!(f, "seq {from}: chain entry deleted")
            }
            Violation::Missing { from, to } => write!(f, "seq {from}..{to}: chain entries deleted"),
            Violation::Relinked { seq } => write!(
                f,
                "seq {seq}: entry does not follow the one before it (entry inserted, edited or renumbered)"
            ),
            Violation::Unchained { table, key } => {
                write!(f, "inserted row {table} {key}: no chain entry")
            }
            Violation::UnknownTable { seq, table } => {
                write!(f, "seq {seq}: entry names unknown table {table}")
            }
            Violation::Head { detail } => write!(f, "chain head: {detail}"),
        }
    }
}

/// One tenant's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    pub tenant_id: String,
    /// Chain entries walked.
    pub rows: i64,
    /// The head as stored: the value to keep elsewhere.
    pub last_seq: Option<i64>,
    pub last_hash: Option<String>,
    /// How many violations were found; `violations` holds the first [`MAX_LISTED`].
    pub violation_count: usize,
    pub violations: Vec<Violation>,
}

impl TenantReport {
    pub fn ok(&self) -> bool {
        self.violation_count == 0
    }

    fn record(&mut self, v: Violation) {
        self.violation_count += 1;
        if self.violations.len() < MAX_LISTED {
            self.violations.push(v);
        }
    }
}

/// Verifies every tenant's chain against `tables` (every audit table kosh writes). Reads
/// in one snapshot (REPEATABLE READ on PostgreSQL; a SQLite read transaction is one), so
/// writes that commit meanwhile are neither half-seen nor reported.
pub async fn verify(db: &Db, tables: &[&'static AuditTable]) -> anyhow::Result<Vec<TenantReport>> {
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let conn: &mut AnyConnection = &mut tx;
    let mut reports = Vec::new();
    for tenant in tenants(conn, tables).await? {
        reports.push(verify_tenant(conn, tables, &tenant).await?);
    }
    tx.rollback().await?;
    Ok(reports)
}

async fn tenants(
    conn: &mut AnyConnection,
    tables: &[&'static AuditTable],
) -> anyhow::Result<Vec<String>> {
    let mut sql = String::from(
        "SELECT tenant_id FROM kosh_audit_head UNION SELECT tenant_id FROM kosh_audit_chain",
    );
    for t in tables {
        sql.push_str(&format!(" UNION SELECT tenant_id FROM {}", t.name));
    }
    sql.push_str(" ORDER BY 1");
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?)
}

struct Entry {
    seq: i64,
    table: String,
    key: String,
    row_hash: String,
    prev_hash: String,
}

async fn verify_tenant(
    conn: &mut AnyConnection,
    tables: &[&'static AuditTable],
    tenant: &str,
) -> anyhow::Result<TenantReport> {
    let head = sqlx::query("SELECT last_seq, last_hash FROM kosh_audit_head WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?;
    let (last_seq, last_hash) = match &head {
        Some(r) => (
            Some(r.try_get::<i64, _>(0)?),
            Some(r.try_get::<String, _>(1)?),
        ),
        None => (None, None),
    };
    let mut report = TenantReport {
        tenant_id: tenant.to_string(),
        rows: 0,
        last_seq,
        last_hash: last_hash.clone(),
        violation_count: 0,
        violations: Vec::new(),
    };

    let mut expect_seq = 1;
    let mut prev = GENESIS.to_string();
    loop {
        let page = entries_after(conn, tenant, expect_seq - 1).await?;
        if page.is_empty() {
            break;
        }
        let contents = load_rows(conn, tables, tenant, &page).await?;
        for e in page {
            report.rows += 1;
            if e.seq != expect_seq {
                report.record(Violation::Missing {
                    from: expect_seq,
                    to: e.seq - 1,
                });
            } else if e.prev_hash != prev {
                report.record(Violation::Relinked { seq: e.seq });
            }
            check_entry(&mut report, tables, &contents, &e);
            prev = e.row_hash;
            expect_seq = e.seq + 1;
        }
    }

    let chained = expect_seq - 1;
    match (last_seq, last_hash) {
        (None, _) if chained > 0 => report.record(Violation::Head {
            detail: format!("missing, but the chain has {chained} entries"),
        }),
        (Some(s), _) if s > chained => report.record(Violation::Missing {
            from: chained + 1,
            to: s,
        }),
        (Some(s), _) if s < chained => report.record(Violation::Head {
            detail: format!("at seq {s}, but the chain goes on to seq {chained}"),
        }),
        (Some(_), Some(h)) if h != prev => report.record(Violation::Head {
            detail: format!("hash {h} is not the last entry's {prev}"),
        }),
        _ => {}
    }

    for table in tables {
        let (keys, count) = unchained(conn, table, tenant).await?;
        report.violation_count += count - keys.len();
        for key in keys {
            report.record(Violation::Unchained {
                table: table.name.to_string(),
                key,
            });
        }
    }
    Ok(report)
}

fn check_entry(
    report: &mut TenantReport,
    tables: &[&'static AuditTable],
    contents: &HashMap<(String, String), Result<Vec<Value>, String>>,
    e: &Entry,
) {
    let Some(table) = tables.iter().find(|t| t.name == e.table) else {
        report.record(Violation::UnknownTable {
            seq: e.seq,
            table: e.table.clone(),
        });
        return;
    };
    let changed = |detail: String| Violation::Changed {
        seq: e.seq,
        table: e.table.clone(),
        key: e.key.clone(),
        detail,
    };
    match contents.get(&(e.table.clone(), e.key.clone())) {
        None => report.record(Violation::Deleted {
            seq: e.seq,
            table: e.table.clone(),
            key: e.key.clone(),
        }),
        Some(Err(why)) => report.record(changed(why.clone())),
        Some(Ok(values)) => {
            // Re-hashed from the entry's own prev_hash, so one changed row is reported once
            // rather than breaking every entry after it.
            let hash = link(&e.prev_hash, &canonical(table, e.seq, values));
            if hash != e.row_hash {
                report.record(changed("hash mismatch".to_string()));
            }
        }
    }
}

async fn entries_after(
    conn: &mut AnyConnection,
    tenant: &str,
    after: i64,
) -> anyhow::Result<Vec<Entry>> {
    let rows = sqlx::query(
        "SELECT seq, table_name, row_key, row_hash, prev_hash FROM kosh_audit_chain \
         WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(tenant)
    .bind(after)
    .bind(PAGE)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry {
                seq: r.try_get(0)?,
                table: r.try_get(1)?,
                key: r.try_get(2)?,
                row_hash: r.try_get(3)?,
                prev_hash: r.try_get(4)?,
            })
        })
        .collect()
}

/// The audit rows a page of entries points at, by (table, key): their values, or why they
/// could not be read as the table's types (itself a sign of tampering on SQLite).
async fn load_rows(
    conn: &mut AnyConnection,
    tables: &[&'static AuditTable],
    tenant: &str,
    page: &[Entry],
) -> anyhow::Result<HashMap<(String, String), Result<Vec<Value>, String>>> {
    let mut found = HashMap::new();
    for table in tables {
        let keys: Vec<&str> = page
            .iter()
            .filter(|e| e.table == table.name)
            .map(|e| e.key.as_str())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let placeholders: Vec<String> = (2..keys.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE tenant_id = $1 AND {} IN ({})",
            table.column_list(),
            table.name,
            table.key,
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(tenant.to_string());
        for key in &keys {
            query = query.bind(key.to_string());
        }
        let key_at = table.index_of(table.key);
        for row in query.fetch_all(&mut *conn).await? {
            let key: String = row.try_get(key_at)?;
            found.insert((table.name.to_string(), key), decode(table, &row));
        }
    }
    Ok(found)
}

fn decode(table: &AuditTable, row: &AnyRow) -> Result<Vec<Value>, String> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| {
            let value = match kind {
                Kind::Text => row.try_get::<Option<String>, _>(i).map(Value::Text),
                Kind::Int => row.try_get::<Option<i64>, _>(i).map(Value::Int),
            };
            value.map_err(|e| format!("{name} unreadable: {e}"))
        })
        .collect()
}

/// The first [`MAX_LISTED`] keys of the tenant's rows in `table` that no chain entry
/// covers, and how many such rows there are.
async fn unchained(
    conn: &mut AnyConnection,
    table: &AuditTable,
    tenant: &str,
) -> anyhow::Result<(Vec<String>, usize)> {
    let from = format!(
        "FROM {name} a WHERE a.tenant_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM kosh_audit_chain c WHERE c.tenant_id = a.tenant_id \
         AND c.table_name = $2 AND c.row_key = a.{key})",
        key = table.key,
        name = table.name
    );
    let count: i64 = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) {from}")))
        .bind(tenant.to_string())
        .bind(table.name)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if count == 0 {
        return Ok((Vec::new(), 0));
    }
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT a.{key} {from} ORDER BY a.{key} LIMIT $3",
        key = table.key
    )))
    .bind(tenant.to_string())
    .bind(table.name)
    .bind(MAX_LISTED as i64)
    .fetch_all(&mut *conn)
    .await?;
    let keys = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    Ok((keys, count as usize))
}
