//! Every table that holds personal data, described once: which columns are personal and what
//! each keeps once the row is sealed. The services' inserts and row mappings go through
//! [`PiiTable::seal`] and [`PiiTable::open`]; the start-up sealing of rows written before
//! (`seal_existing`) and `kosh keys rotate` ([`rotate`]) walk the same descriptions.
//!
//! The sealed JSON of a row is an object keyed by column name (plus, for a table that needs
//! it, extra keys such as a payment's bill snapshots), so the row's personal values come
//! back exactly as they were written.

use crate::db::native::Cells;
use serde_json::{Map, Value};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::Vault;
use crate::error::DigitError;

/// What a personal column keeps once its row is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The blind index of the value (searched by equality); NULL stays NULL, '' stays ''.
    Index,
    /// A user name: its blind index when it is a mobile number, else the name itself.
    UserName,
    /// NULL.
    Null,
    /// This text (for a NOT NULL column).
    Placeholder(&'static str),
}

/// A table with personal columns.
#[derive(Debug)]
pub struct PiiTable {
    pub name: &'static str,
    /// The columns that identify a row.
    pub key: &'static [&'static str],
    pub columns: &'static [(&'static str, Stored)],
}

/// A row's personal values, sealed: the `pii` column and what each personal column keeps,
/// in [`PiiTable::columns`] order.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub pii: String,
    pub columns: Vec<Option<String>>,
}

impl Sealed {
    /// What column `i` keeps.
    pub fn column(&self, i: usize) -> Option<&str> {
        self.columns[i].as_deref()
    }
}

/// A row's personal values, opened.
#[derive(Debug, Clone, Default)]
pub struct Personal(pub Map<String, Value>);

impl Personal {
    /// A column's value (taken out).
    pub fn take(&mut self, column: &str) -> Option<String> {
        match self.0.remove(column) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// An extra value (taken out).
    pub fn take_value(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }
}

/// What a personal column keeps for `value`.
pub fn stored_value(vault: &Vault, how: Stored, value: Option<&str>) -> Option<String> {
    match how {
        Stored::Index => vault.index_opt(value),
        Stored::UserName => value.map(|v| vault.stored_user_name(v)),
        Stored::Null => None,
        Stored::Placeholder(p) => Some(p.to_string()),
    }
}

impl PiiTable {
    /// Seals a row's personal values (given in [`columns`](Self::columns) order), with
    /// `extra` keys beside them.
    pub fn seal(
        &self,
        vault: &Vault,
        values: &[Option<&str>],
        extra: Option<Map<String, Value>>,
    ) -> Sealed {
        debug_assert_eq!(values.len(), self.columns.len(), "{}", self.name);
        let mut map = extra.unwrap_or_default();
        let mut columns = Vec::with_capacity(values.len());
        for ((column, how), value) in self.columns.iter().zip(values) {
            if let Some(v) = value {
                map.insert((*column).to_string(), Value::String((*v).to_string()));
            }
            columns.push(stored_value(vault, *how, *value));
        }
        Sealed {
            pii: vault.seal_json(&Value::Object(map)),
            columns,
        }
    }

    /// The personal values of a row read with its `pii` column and its personal columns: the
    /// sealed ones, or, for a row not sealed yet, the columns as they are.
    pub fn open<R: Cells>(&self, vault: &Vault, row: &R) -> Result<Personal, sqlx::Error> {
        let pii: Option<String> = row.cell("pii")?;
        match pii {
            Some(sealed) => match vault.open_json::<Value>(&sealed) {
                Ok(Value::Object(map)) => Ok(Personal(map)),
                Ok(_) => Err(sqlx::Error::Decode(
                    format!("{}.pii is not a JSON object", self.name).into(),
                )),
                Err(e) => Err(sqlx::Error::Decode(
                    format!("{}.pii: {e}", self.name).into(),
                )),
            },
            None => {
                let mut map = Map::new();
                for (column, _) in self.columns {
                    if let Some(v) = row.cell::<Option<String>>(column)? {
                        map.insert((*column).to_string(), Value::String(v));
                    }
                }
                Ok(Personal(map))
            }
        }
    }

    /// Seals up to `batch` rows whose `pii` is NULL (written before sealing began), in the
    /// caller's transaction; `extra` may add keys to a row's sealed JSON (and do its own
    /// writes). Returns how many rows it sealed: 0 when none is left.
    pub async fn seal_batch(
        &self,
        conn: &mut AnyConnection,
        vault: &Vault,
        batch: i64,
    ) -> Result<u64, DigitError> {
        let cols: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
        let select = format!(
            "SELECT {}, {} FROM {} WHERE pii IS NULL LIMIT {batch}",
            key_select(self.key),
            cols.join(", "),
            self.name
        );
        let rows = sqlx::query(AssertSqlSafe(select))
            .fetch_all(&mut *conn)
            .await?;
        let set: Vec<String> = std::iter::once("pii".to_string())
            .chain(cols.iter().map(|c| (*c).to_string()))
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let n = 1 + cols.len();
        let update = format!(
            "UPDATE {} SET {} WHERE {} AND pii IS NULL",
            self.name,
            set.join(", "),
            key_where(self.key, n + 1)
        );
        for row in &rows {
            let keys: Vec<String> = (0..self.key.len())
                .map(|i| row.try_get::<String, _>(i))
                .collect::<Result<_, _>>()?;
            let values: Vec<Option<String>> = (0..cols.len())
                .map(|i| row.try_get::<Option<String>, _>(self.key.len() + i))
                .collect::<Result<_, _>>()?;
            let refs: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
            let sealed = self.seal(vault, &refs, None);
            let mut q = sqlx::query(AssertSqlSafe(update.clone())).bind(sealed.pii);
            for c in sealed.columns {
                q = q.bind(c);
            }
            for k in keys {
                q = q.bind(k);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(rows.len() as u64)
    }
}

/// The users (identity): a citizen's user name is their mobile number; user search finds
/// users by name, mobile number and email, so those keep their indexes. The profile (PAN,
/// Aadhaar, addresses, guardian, ...) is sealed whole.
pub static USERS: PiiTable = PiiTable {
    name: "eg_user",
    key: &["uuid"],
    columns: &[
        ("user_name", Stored::UserName),
        ("name", Stored::Index),
        ("mobile_number", Stored::Index),
        ("email_id", Stored::Index),
        ("profile", Stored::Placeholder("{}")),
    ],
};

/// Bills (billing): the payer copied from the user.
pub static BILLS: PiiTable = PiiTable {
    name: "egbs_bill",
    key: &["tenant_id", "id"],
    columns: &[
        ("payer_name", Stored::Null),
        ("payer_address", Stored::Null),
        ("payer_email", Stored::Index),
        ("mobile_number", Stored::Index),
    ],
};

/// Payments (collection); the sealed JSON also holds the payer fields of each detail's
/// bill snapshot, under `bills` by detail id.
pub static PAYMENTS: PiiTable = PiiTable {
    name: "egcl_payment",
    key: &["tenant_id", "id"],
    columns: &[
        ("paid_by", Stored::Null),
        ("mobile_number", Stored::Index),
        ("payer_name", Stored::Null),
        ("payer_address", Stored::Null),
        ("payer_email", Stored::Index),
    ],
};

/// Refunds due (collection).
pub static REFUNDS_DUE: PiiTable = PiiTable {
    name: "egcl_refund_due",
    key: &["tenant_id", "id"],
    columns: &[
        ("payer_name", Stored::Null),
        ("mobile_number", Stored::Index),
    ],
};

/// Payment-gateway transactions (pg): the payer and the creating user's name.
pub static PG_TRANSACTIONS: PiiTable = PiiTable {
    name: "eg_pg_transactions",
    key: &["tenant_id", "txn_id"],
    columns: &[
        ("user_name", Stored::UserName),
        ("name", Stored::Placeholder("")),
        ("mobile_number", Stored::Index),
        ("email_id", Stored::Index),
    ],
};

/// BBPS postings: the customer's mobile and the parameters the operating unit sent.
pub static BBPS_TXNS: PiiTable = PiiTable {
    name: "bbps_txn",
    key: &["tenant_id", "txn_reference_id"],
    columns: &[
        ("customer_mobile", Stored::Index),
        ("customer_params", Stored::Placeholder("[]")),
    ],
};

/// The bills of BBPS postings: the customer's name.
pub static BBPS_TXN_BILLS: PiiTable = PiiTable {
    name: "bbps_txn_bill",
    key: &["tenant_id", "txn_reference_id", "seq"],
    columns: &[("customer_name", Stored::Null)],
};

/// BBPS complaints: the customer's mobile.
pub static BBPS_COMPLAINTS: PiiTable = PiiTable {
    name: "bbps_complaint",
    key: &["tenant_id", "complaint_id"],
    columns: &[("customer_mobile", Stored::Index)],
};

/// Every table with a `pii` column.
pub static ALL: &[&PiiTable] = &[
    &USERS,
    &BILLS,
    &PAYMENTS,
    &REFUNDS_DUE,
    &PG_TRANSACTIONS,
    &BBPS_TXNS,
    &BBPS_TXN_BILLS,
    &BBPS_COMPLAINTS,
];

/// Columns sealed whole (`v1.…` in place of the text): (table, key columns, column).
pub static SEALED_COLUMNS: &[(&str, &[&str], &str)] = &[
    ("kosh_idempotency", &["scope", "idem_key"], "response_body"),
    ("kosh_outbox", &["id"], "payload"),
    (
        "eg_pg_transactions",
        &["tenant_id", "txn_id"],
        "redirect_url",
    ),
    (
        "eg_pg_transactions_dump",
        &["tenant_id", "txn_id"],
        "txn_request",
    ),
    (
        "eg_pg_transactions_dump",
        &["tenant_id", "txn_id"],
        "txn_response",
    ),
];

/// Re-seals under the current key every sealed value of `table.column` that another key
/// sealed, up to `batch` of them, in the caller's transaction. Returns how many.
pub async fn reseal_batch(
    conn: &mut AnyConnection,
    vault: &Vault,
    table: &str,
    key: &[&str],
    column: &str,
    batch: i64,
) -> Result<u64, DigitError> {
    let current = format!("{}{}.%", super::SEALED_PREFIX, vault.current_key_id());
    let select = format!(
        "SELECT {}, {column} FROM {table} WHERE {column} LIKE 'v1.%' AND {column} NOT LIKE $1 LIMIT {batch}",
        key_select(key)
    );
    let rows = sqlx::query(AssertSqlSafe(select))
        .bind(&current)
        .fetch_all(&mut *conn)
        .await?;
    let update = format!(
        "UPDATE {table} SET {column} = $1 WHERE {}",
        key_where(key, 2)
    );
    for row in &rows {
        let sealed: String = row.try_get(key.len())?;
        let resealed = vault
            .reseal(&sealed)
            .map_err(|e| sqlx::Error::Decode(format!("{table}.{column}: {e}").into()))?;
        let mut q = sqlx::query(AssertSqlSafe(update.clone())).bind(resealed);
        for i in 0..key.len() {
            q = q.bind(row.try_get::<String, _>(i)?);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(rows.len() as u64)
}

/// Key columns read as text: `seq` (bbps_txn_bill's place of a bill) is the one number.
fn key_select(key: &[&str]) -> String {
    key.iter()
        .map(|k| {
            if *k == "seq" {
                format!("CAST({k} AS VARCHAR(32))")
            } else {
                (*k).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `k1 = $first AND k2 = $first+1 ...`, comparing text.
fn key_where(key: &[&str], first: usize) -> String {
    key.iter()
        .enumerate()
        .map(|(i, k)| {
            if *k == "seq" {
                format!("CAST({k} AS VARCHAR(32)) = ${}", first + i)
            } else {
                format!("{k} = ${}", first + i)
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Seals, up to `batch` at a time, the values of a column sealed whole ([`SEALED_COLUMNS`])
/// that were written before sealing began. Returns how many.
pub async fn seal_column_batch(
    conn: &mut AnyConnection,
    vault: &Vault,
    table: &str,
    key: &[&str],
    column: &str,
    batch: i64,
) -> Result<u64, DigitError> {
    let select = format!(
        "SELECT {}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> '' AND {column} NOT LIKE 'v1.%' LIMIT {batch}",
        key_select(key)
    );
    let rows = sqlx::query(AssertSqlSafe(select))
        .fetch_all(&mut *conn)
        .await?;
    let update = format!(
        "UPDATE {table} SET {column} = $1 WHERE {}",
        key_where(key, 2)
    );
    for row in &rows {
        let plain: String = row.try_get(key.len())?;
        let mut q = sqlx::query(AssertSqlSafe(update.clone())).bind(vault.seal_str(&plain));
        for i in 0..key.len() {
            q = q.bind(row.try_get::<String, _>(i)?);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(rows.len() as u64)
}

/// Whether the vault fits the database: one sealed row of each table opens, and a user's
/// mobile number has the blind index its row keeps. The reason when not.
pub async fn check_keys(conn: &mut AnyConnection, vault: &Vault) -> Result<(), String> {
    let db_err = |e: sqlx::Error| format!("reading the database: {e}");
    for t in ALL {
        let sql = format!("SELECT pii FROM {} WHERE pii IS NOT NULL LIMIT 1", t.name);
        let sealed: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if let Some(sealed) = sealed
            && let Err(e) = vault.open(&sealed)
        {
            return Err(format!(
                "the personal-data keys do not open the database's data ({}: {e}); give the keys it was sealed with (KOSH_PII_KEYS and KOSH_PII_INDEX_KEY, or KOSH_PII_KEY_FILE)",
                t.name
            ));
        }
    }
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT mobile_number, pii FROM eg_user WHERE pii IS NOT NULL AND mobile_number IS NOT NULL \
         AND mobile_number <> '' LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some((index, sealed)) = row {
        let personal: Value = vault
            .open_json(&sealed)
            .map_err(|e| format!("eg_user.pii: {e}"))?;
        if let Some(mobile) = personal.get("mobile_number").and_then(Value::as_str)
            && vault.index(mobile) != index
        {
            return Err("KOSH_PII_INDEX_KEY is not the key the database's blind indexes were made with: searches by mobile number, email and user name would find nothing".into());
        }
    }
    Ok(())
}

/// The `kosh_pii_state` row set once no row written before sealing began is left.
const SEALED_EXISTING: &str = "sealed_existing";

/// Whether an earlier start sealed every row written before sealing began.
pub async fn sealing_done(conn: &mut AnyConnection) -> Result<bool, DigitError> {
    let row: Option<i64> = sqlx::query_scalar("SELECT done_ms FROM kosh_pii_state WHERE name = $1")
        .bind(SEALED_EXISTING)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Notes that no row written before sealing began is left.
pub async fn mark_sealing_done(conn: &mut AnyConnection, now_ms: i64) -> Result<(), DigitError> {
    sqlx::query(
        "INSERT INTO kosh_pii_state (name, done_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(SEALED_EXISTING)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
