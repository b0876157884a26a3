//! Tamper-evident audit: every audit row kosh writes is inserted through [`insert`], which
//! also appends it to its tenant's hash chain in `kosh_audit_chain`, in the caller's open
//! transaction. An entry's hash is
//! `SHA-256(previous entry's hash (64 hex chars) || canonical bytes of (table, seq, row))`,
//! so changing, deleting or inserting an audit row, or renumbering the chain, breaks it;
//! [`verify`] walks every chain and says where.
//!
//! One chain per tenant (city): a chain's head is a counter row that every audit write of
//! the tenant updates and holds locked until its transaction ends, so a finer grain would
//! buy nothing (a payment already queues on its state's receipt counter row) and a coarser
//! one (one chain for everything) would make every city wait on every other.
//!
//! The audit tables themselves keep their own shape; each is described once by an
//! [`AuditTable`] that the writer and the verifier share, so the bytes hashed when the row
//! is written are the bytes re-read when it is verified.

mod verify;

pub use verify::{TenantReport, Violation, verify};

use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::digest::sha256_hex;
use crate::error::DigitError;

/// The `prev_hash` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a column is stored: the two portable types the audit tables use (TEXT/VARCHAR and
/// BIGINT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
}

/// An audit table as the chain sees it. `columns` must list every column of the table that
/// carries content (all of them), `key` names the column that identifies a row within a
/// tenant, and the table must have a `tenant_id` column.
#[derive(Debug)]
pub struct AuditTable {
    pub name: &'static str,
    pub key: &'static str,
    pub columns: &'static [(&'static str, Kind)],
}

impl AuditTable {
    fn index_of(&self, column: &str) -> usize {
        self.columns
            .iter()
            .position(|(c, _)| *c == column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.name))
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A column value, typed so that a NULL binds as the column's type (PostgreSQL refuses an
/// untyped NULL for a BIGINT column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Text(_) => Kind::Text,
            Value::Int(_) => Kind::Int,
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Value::Text(t) => json!(t),
            Value::Int(i) => json!(i),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(Some(s.to_string()))
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(Some(s.clone()))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(Some(s))
    }
}

impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Self {
        Value::Text(s)
    }
}

impl From<&Option<String>> for Value {
    fn from(s: &Option<String>) -> Self {
        Value::Text(s.clone())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(Some(i))
    }
}

impl From<Option<i64>> for Value {
    fn from(i: Option<i64>) -> Self {
        Value::Int(i)
    }
}

/// One audit row to write: its table and its values in the table's column order.
#[derive(Debug, Clone)]
pub struct AuditRow {
    table: &'static AuditTable,
    values: Vec<Value>,
}

impl AuditRow {
    /// Panics when the values do not match the table's columns: that is a bug in the writer,
    /// and a row hashed under the wrong shape could never verify.
    pub fn new(table: &'static AuditTable, values: Vec<Value>) -> AuditRow {
        assert_eq!(
            values.len(),
            table.columns.len(),
            "{}: {} values for {} columns",
            table.name,
            values.len(),
            table.columns.len()
        );
        for ((column, kind), value) in table.columns.iter().zip(&values) {
            assert_eq!(*kind, value.kind(), "{}.{column}", table.name);
        }
        let row = AuditRow { table, values };
        assert!(
            matches!(row.value(table.key), Value::Text(Some(_))),
            "{}: the key must be text",
            table.name
        );
        row
    }

    fn value(&self, column: &str) -> &Value {
        &self.values[self.table.index_of(column)]
    }

    fn key(&self) -> &str {
        match self.value(self.table.key) {
            Value::Text(Some(k)) => k,
            _ => unreachable!("checked in AuditRow::new"),
        }
    }

    fn tenant_id(&self) -> Option<&str> {
        match self.value("tenant_id") {
            Value::Text(Some(t)) => Some(t),
            _ => None,
        }
    }
}

/// The bytes a row contributes to its chain entry's hash: its table, its place in the chain
/// and every column with its name, as a JSON array (arrays keep their order, so the bytes
/// are the same whoever computes them).
pub fn canonical(table: &AuditTable, seq: i64, values: &[Value]) -> Vec<u8> {
    let columns: Vec<serde_json::Value> = table
        .columns
        .iter()
        .zip(values)
        .map(|((name, _), value)| json!([name, value.json()]))
        .collect();
    json!([table.name, seq, columns]).to_string().into_bytes()
}

/// An entry's hash from the previous entry's hash and the entry's canonical bytes.
pub fn link(prev_hash: &str, canonical: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(prev_hash.len() + canonical.len());
    bytes.extend_from_slice(prev_hash.as_bytes());
    bytes.extend_from_slice(canonical);
    sha256_hex(&bytes)
}

/// Inserts `rows` (all of one tenant) into their audit tables and appends them, in order, to
/// the tenant's chain, in the caller's transaction. Costs one statement per row, plus three
/// for the chain whatever the number of rows: advance the head, insert the entries, store
/// the head's new hash.
pub async fn insert(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), DigitError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let tenant_id = first
        .tenant_id()
        .expect("an audit row has a tenant")
        .to_string();
    assert!(
        rows.iter().all(|r| r.tenant_id() == Some(&tenant_id)),
        "one chain append is one tenant's"
    );
    for row in rows {
        insert_row(conn, row).await?;
    }
    append(conn, &tenant_id, rows).await
}

/// [`insert`] for many rows of any tenants (a bulk load): the rows go in with multi-row
/// statements, and each tenant's chain takes its rows, in order, with one head update.
pub async fn insert_batch(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), DigitError> {
    // Per table, in the order the rows came, a few hundred parameters per statement.
    let mut tables: Vec<&'static AuditTable> = Vec::new();
    for row in rows {
        if !tables.iter().any(|t| std::ptr::eq(*t, row.table)) {
            tables.push(row.table);
        }
    }
    for table in tables {
        let of_table: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| std::ptr::eq(r.table, table))
            .collect();
        let per_statement = crate::sql::rows_per_statement(table.columns.len());
        for chunk in of_table.chunks(per_statement) {
            insert_rows(conn, table, chunk).await?;
        }
    }
    // Tenants' chain heads in one order for every caller: two batches over the same cities
    // never lock their heads in opposite orders (a deadlock on PostgreSQL).
    let tenants: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|row| row.tenant_id().expect("an audit row has a tenant"))
        .collect();
    for tenant in tenants {
        let of_tenant: Vec<AuditRow> = rows
            .iter()
            .filter(|r| r.tenant_id() == Some(tenant))
            .cloned()
            .collect();
        for chunk in of_tenant.chunks(CHAIN_ROWS_PER_STATEMENT) {
            append(conn, tenant, chunk).await?;
        }
    }
    Ok(())
}

/// Chain entries per INSERT: six parameters each.
const CHAIN_ROWS_PER_STATEMENT: usize = crate::sql::PARAMS_PER_STATEMENT / 6;

async fn insert_rows(
    conn: &mut AnyConnection,
    table: &'static AuditTable,
    rows: &[&AuditRow],
) -> Result<(), DigitError> {
    let width = table.columns.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        table.name,
        table.column_list()
    );
    for i in 0..rows.len() {
        let placeholders: Vec<String> =
            (1..=width).map(|c| format!("${}", i * width + c)).collect();
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders.join(", "));
        sql.push(')');
    }
    // Table and column names come from the `'static` AuditTable, never from input.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for row in rows {
        for value in &row.values {
            query = match value {
                Value::Text(t) => query.bind(t.clone()),
                Value::Int(i) => query.bind(*i),
            };
        }
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

async fn insert_row(conn: &mut AnyConnection, row: &AuditRow) -> Result<(), DigitError> {
    let placeholders: Vec<String> = (1..=row.values.len()).map(|i| format!("${i}")).collect();
    // Table and column names come from the `'static` AuditTable, never from input.
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        row.table.name,
        row.table.column_list(),
        placeholders.join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in &row.values {
        query = match value {
            Value::Text(t) => query.bind(t.clone()),
            Value::Int(i) => query.bind(*i),
        };
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

async fn append(
    conn: &mut AnyConnection,
    tenant_id: &str,
    rows: &[AuditRow],
) -> Result<(), DigitError> {
    let count = rows.len() as i64;
    // Takes the head's row lock until the transaction ends: the tenant's audit writers queue
    // here, and a rolled-back write gives its numbers back.
    let head = sqlx::query(
        "INSERT INTO kosh_audit_head (tenant_id, last_seq, last_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = kosh_audit_head.last_seq + excluded.last_seq \
         RETURNING last_seq, last_hash",
    )
    .bind(tenant_id)
    .bind(count)
    .bind(GENESIS)
    .fetch_one(&mut *conn)
    .await?;
    let last_seq: i64 = head.try_get(0)?;
    let mut prev: String = head.try_get(1)?;

    let mut sql = String::from(
        "INSERT INTO kosh_audit_chain (tenant_id, seq, table_name, row_key, row_hash, prev_hash) VALUES ",
    );
    let mut entries = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let seq = last_seq - count + 1 + i as i64;
        let hash = link(&prev, &canonical(row.table, seq, &row.values));
        if i > 0 {
            sql.push_str(", ");
        }
        let p = i * 6;
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6
        ));
        entries.push((seq, row.table.name, row.key(), hash.clone(), prev));
        prev = hash;
    }
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (seq, table, key, hash, prev_hash) in entries {
        query = query
            .bind(tenant_id.to_string())
            .bind(seq)
            .bind(table)
            .bind(key.to_string())
            .bind(hash)
            .bind(prev_hash);
    }
    query.execute(&mut *conn).await?;

    sqlx::query("UPDATE kosh_audit_head SET last_hash = $1 WHERE tenant_id = $2")
        .bind(&prev)
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
