//! The transaction tables (migrations/0005_pg.sql). Every function works on the caller's
//! connection, inside or outside its transaction; the settle-once rule is the `WHERE
//! txn_status = 'PENDING'` of [`settle`], which the database applies under the row's lock.

use kosh_platform::db::native::Cells;
use kosh_platform::money::Paise;
use kosh_platform::pii::{self, Vault, table::PG_TRANSACTIONS};
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{Db, DigitError};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Transaction, TxnUser, parse_status};
use crate::gateways::{GatewayStatus, TxnStatus};

const COLUMNS: &str = "txn_id, tenant_id, txn_amount, txn_status, txn_status_msg, gateway, bill_id, module, \
     consumer_code, product_info, callback_url, redirect_url, user_uuid, user_id, user_type, user_name, \
     user_tenant_id, name, mobile_number, email_id, gateway_txn_id, gateway_payment_mode, \
     gateway_status_code, gateway_status_msg, receipt, payment_id, tax_and_payments, additional_details, \
     created_by, created_time, last_modified_by, last_modified_time, settled_by, settled_time, closed_time, refund_id, pii";

fn from_row(row: &AnyRow) -> Result<Transaction, sqlx::Error> {
    from_row_with(&pii::vault(), row)
}

fn from_row_with<R: Cells>(vault: &Vault, row: &R) -> Result<Transaction, sqlx::Error> {
    let mut personal = PG_TRANSACTIONS.open(vault, row)?;
    let status: String = row.cell("txn_status")?;
    let tax_and_payments: String = row.cell("tax_and_payments")?;
    let additional: Option<String> = row.cell("additional_details")?;
    Ok(Transaction {
        txn_id: row.cell("txn_id")?,
        tenant_id: row.cell("tenant_id")?,
        amount: Paise::new(row.cell("txn_amount")?),
        status: parse_status(&status),
        status_msg: row.cell("txn_status_msg")?,
        gateway: row.cell("gateway")?,
        bill_id: row.cell("bill_id")?,
        module: row.cell("module")?,
        consumer_code: row.cell("consumer_code")?,
        product_info: row.cell("product_info")?,
        callback_url: row.cell("callback_url")?,
        // Sealed whole: a gateway's redirect may carry the payer's name, mobile and email.
        redirect_url: row
            .cell::<Option<String>>("redirect_url")?
            .map(|u| vault.open_or_plain(&u))
            .transpose()
            .map_err(|e| {
                sqlx::Error::Decode(format!("eg_pg_transactions.redirect_url: {e}").into())
            })?,
        user: TxnUser {
            id: row.cell("user_id")?,
            uuid: row.cell("user_uuid")?,
            user_type: row.cell("user_type")?,
            user_name: personal.take("user_name").unwrap_or_default(),
            tenant_id: row.cell("user_tenant_id")?,
            name: personal.take("name").unwrap_or_default(),
            mobile_number: personal.take("mobile_number").unwrap_or_default(),
            email_id: personal.take("email_id"),
        },
        gateway_txn_id: row.cell("gateway_txn_id")?,
        gateway_payment_mode: row.cell("gateway_payment_mode")?,
        gateway_status_code: row.cell("gateway_status_code")?,
        gateway_status_msg: row.cell("gateway_status_msg")?,
        receipt: row.cell("receipt")?,
        payment_id: row.cell("payment_id")?,
        tax_and_payments: Transaction::tax_and_payments_from_stored(&tax_and_payments),
        additional_details: additional.and_then(|a| serde_json::from_str(&a).ok()),
        created_by: row.cell("created_by")?,
        created_time: row.cell("created_time")?,
        last_modified_by: row.cell("last_modified_by")?,
        last_modified_time: row.cell("last_modified_time")?,
        settled_by: row.cell("settled_by")?,
        settled_time: row.cell("settled_time")?,
        closed_time: row.cell("closed_time")?,
        refund_id: row.cell("refund_id")?,
    })
}

fn rows_to_txns(rows: &[AnyRow]) -> Result<Vec<Transaction>, DigitError> {
    let vault = pii::vault();
    Ok(rows
        .iter()
        .map(|r| from_row_with(&vault, r))
        .collect::<Result<_, _>>()?)
}

/// Inserts a new transaction.
pub async fn insert(conn: &mut AnyConnection, t: &Transaction) -> Result<(), DigitError> {
    let sealed = PG_TRANSACTIONS.seal(
        &pii::vault(),
        &[
            Some(&t.user.user_name),
            Some(&t.user.name),
            Some(&t.user.mobile_number),
            t.user.email_id.as_deref(),
        ],
        None,
    );
    sqlx::query(
        "INSERT INTO eg_pg_transactions (txn_id, tenant_id, txn_amount, txn_status, txn_status_msg, gateway, \
         bill_id, module, consumer_code, product_info, callback_url, redirect_url, user_uuid, user_id, user_type, \
         user_name, user_tenant_id, name, mobile_number, email_id, tax_and_payments, additional_details, \
         created_by, created_time, last_modified_by, last_modified_time, pii) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)",
    )
    .bind(&t.txn_id)
    .bind(&t.tenant_id)
    .bind(t.amount.get())
    .bind(t.status.as_str())
    .bind(&t.status_msg)
    .bind(&t.gateway)
    .bind(&t.bill_id)
    .bind(&t.module)
    .bind(&t.consumer_code)
    .bind(&t.product_info)
    .bind(&t.callback_url)
    .bind(t.redirect_url.as_deref().map(|u| pii::vault().seal_str(u)))
    .bind(&t.user.uuid)
    .bind(t.user.id)
    .bind(&t.user.user_type)
    .bind(sealed.column(0))
    .bind(&t.user.tenant_id)
    .bind(sealed.column(1))
    .bind(sealed.column(2))
    .bind(sealed.column(3))
    .bind(t.tax_and_payments_stored())
    .bind(t.additional_details.as_ref().map(Value::to_string))
    .bind(&t.created_by)
    .bind(t.created_time)
    .bind(&t.last_modified_by)
    .bind(t.last_modified_time)
    .bind(&sealed.pii)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Links the transaction to each bill it pays. `Ok(false)` when a bill is already in another
/// live (PENDING or SUCCESS) transaction: the unique index refused it, and the caller must
/// roll back (on PostgreSQL the transaction cannot go on after the refusal).
pub async fn insert_bills(conn: &mut AnyConnection, t: &Transaction) -> Result<bool, DigitError> {
    for tp in &t.tax_and_payments {
        let result = sqlx::query(
            "INSERT INTO eg_pg_txn_bills (tenant_id, txn_id, bill_id, amount_paid, live, user_uuid) VALUES ($1, $2, $3, $4, 1, $5)",
        )
        .bind(&t.tenant_id)
        .bind(&t.txn_id)
        .bind(&tp.bill_id)
        .bind(tp.amount_paid.get())
        .bind(&t.user.uuid)
        .execute(&mut *conn)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if kosh_platform::db::is_unique_violation(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// The PENDING and SUCCESS transactions that pay any of `bill_ids`: (txn id, status).
pub async fn live_for_bills(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_ids: &[String],
) -> Result<Vec<LiveTxn>, DigitError> {
    let mut q = SqlBuilder::new(
        "SELECT t.txn_id, t.txn_status, t.user_uuid FROM eg_pg_txn_bills b JOIN eg_pg_transactions t \
         ON t.tenant_id = b.tenant_id AND t.txn_id = b.txn_id WHERE b.live = 1 AND b.tenant_id = ",
    );
    q.bind(tenant_id)
        .push(" AND b.bill_id IN ")
        .bind_list(bill_ids)
        .push(" ORDER BY t.created_time");
    let rows = q.build().fetch_all(&mut *conn).await?;
    let mut out = Vec::new();
    for row in &rows {
        let status: String = row.try_get(1)?;
        out.push(LiveTxn {
            txn_id: row.try_get(0)?,
            status: parse_status(&status),
            user_uuid: row.try_get(2)?,
        });
    }
    Ok(out)
}

/// A PENDING or SUCCESS transaction that pays a bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTxn {
    pub txn_id: String,
    pub status: TxnStatus,
    pub user_uuid: String,
}

/// Closes a PENDING transaction the gateway has no record of: it stays PENDING, with
/// `status_msg`, and frees its bills. `false` when it was settled or closed already.
pub async fn close(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    status_msg: &str,
    now_ms: i64,
) -> Result<bool, DigitError> {
    let closed = sqlx::query(
        "UPDATE eg_pg_transactions SET closed_time = $1, txn_status_msg = $2, last_modified_time = $1 \
         WHERE tenant_id = $3 AND txn_id = $4 AND txn_status = 'PENDING' AND closed_time IS NULL",
    )
    .bind(now_ms)
    .bind(status_msg)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    if closed.rows_affected() == 1 {
        release_bills(conn, tenant_id, txn_id).await?;
    }
    Ok(closed.rows_affected() == 1)
}

/// Records the refund due a SUCCESS became, with the status message that names it.
pub async fn record_refund(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    refund_id: &str,
    status_msg: &str,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE eg_pg_transactions SET refund_id = $1, txn_status_msg = $2 WHERE tenant_id = $3 AND txn_id = $4",
    )
    .bind(refund_id)
    .bind(status_msg)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The transaction with this id, in any tenant (a gateway's callback names the id alone).
pub async fn load(
    conn: &mut AnyConnection,
    txn_id: &str,
) -> Result<Option<Transaction>, DigitError> {
    let row = by_id(txn_id).build().fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The transaction with this id, whole.
fn by_id(txn_id: &str) -> SqlBuilder {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM eg_pg_transactions WHERE txn_id = ")
        .bind(txn_id);
    q
}

/// [`load`] outside any transaction, through the database's own driver unless it is turned
/// off (`kosh_platform::db::native`): `_update`'s first look at the transaction.
pub async fn load_outside(db: &Db, txn_id: &str) -> Result<Option<Transaction>, DigitError> {
    let rows = db.read_outside(&by_id(txn_id)).await?;
    Ok(rows
        .first()
        .map(|row| from_row_with(&pii::vault(), row))
        .transpose()?)
}

/// The gateway's answer as the transaction keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFields {
    pub gateway_txn_id: Option<String>,
    pub payment_mode: Option<String>,
    pub status_code: Option<String>,
    pub status_msg: Option<String>,
}

impl From<&GatewayStatus> for GatewayFields {
    fn from(s: &GatewayStatus) -> Self {
        let clip = |v: &Option<String>, max: usize| {
            v.as_ref().map(|s| s.chars().take(max).collect::<String>())
        };
        GatewayFields {
            gateway_txn_id: clip(&s.gateway_txn_id, 256),
            payment_mode: clip(&s.payment_mode, 256),
            status_code: clip(&s.status_code, 256),
            status_msg: clip(&s.status_msg, 512),
        }
    }
}

/// A change to a PENDING transaction.
pub struct Change<'a> {
    pub status: TxnStatus,
    pub status_msg: &'a str,
    pub gateway: Option<&'a GatewayFields>,
    pub modified_by: Option<&'a str>,
    /// Who settled it, when `status` is not PENDING.
    pub settled_by: &'a str,
    pub now_ms: i64,
}

/// Applies `change` if, and only if, the transaction is still PENDING: the settle-once rule.
/// `false` when it was not (another request settled it first; the database made this one wait
/// for that one's commit, then saw the settled row).
pub async fn settle(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    change: &Change<'_>,
) -> Result<bool, DigitError> {
    let settled = change.status != TxnStatus::Pending;
    let empty = GatewayFields::default();
    let g = change.gateway.unwrap_or(&empty);
    let keep_gateway = i64::from(change.gateway.is_none());
    let result = sqlx::query(
        "UPDATE eg_pg_transactions SET txn_status = $1, txn_status_msg = $2, \
         gateway_txn_id = CASE WHEN $3 = 1 THEN gateway_txn_id ELSE $4 END, \
         gateway_payment_mode = CASE WHEN $3 = 1 THEN gateway_payment_mode ELSE $5 END, \
         gateway_status_code = CASE WHEN $3 = 1 THEN gateway_status_code ELSE $6 END, \
         gateway_status_msg = CASE WHEN $3 = 1 THEN gateway_status_msg ELSE $7 END, \
         last_modified_by = $8, last_modified_time = $9, settled_by = $10, settled_time = $11 \
         WHERE tenant_id = $12 AND txn_id = $13 AND txn_status = 'PENDING'",
    )
    .bind(change.status.as_str())
    .bind(change.status_msg)
    .bind(keep_gateway)
    .bind(&g.gateway_txn_id)
    .bind(&g.payment_mode)
    .bind(&g.status_code)
    .bind(&g.status_msg)
    .bind(change.modified_by)
    .bind(change.now_ms)
    .bind(settled.then_some(change.settled_by))
    .bind(settled.then_some(change.now_ms))
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A failed transaction no longer holds its bills.
pub async fn release_bills(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
) -> Result<(), DigitError> {
    sqlx::query("UPDATE eg_pg_txn_bills SET live = 0 WHERE tenant_id = $1 AND txn_id = $2")
        .bind(tenant_id)
        .bind(txn_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the payment a SUCCESS made. The primary key refuses a second payment for the
/// same transaction.
pub async fn record_payment(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    payment_id: &str,
    receipt_numbers: &[String],
    receipt_date: i64,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query(
        "INSERT INTO eg_pg_txn_payment (tenant_id, txn_id, payment_id, receipt_numbers, receipt_date, created_time) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(txn_id)
    .bind(payment_id)
    .bind(Value::from(receipt_numbers.to_vec()).to_string())
    .bind(receipt_date)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE eg_pg_transactions SET receipt = $1, payment_id = $2 WHERE tenant_id = $3 AND txn_id = $4",
    )
    .bind(receipt_numbers.first())
    .bind(payment_id)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Notes the redirect kosh obtained from the gateway.
pub async fn set_redirect(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    redirect_url: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE eg_pg_transactions SET redirect_url = $1, last_modified_time = $2 WHERE tenant_id = $3 AND txn_id = $4",
    )
    .bind(pii::vault().seal_str(redirect_url))
    .bind(now_ms)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE eg_pg_transactions_dump SET txn_request = $1, last_modified_time = $2 WHERE tenant_id = $3 AND txn_id = $4",
    )
    // The gateway's form may carry the payer's name, mobile and email: the dump is sealed.
    .bind(pii::vault().seal_str(redirect_url))
    .bind(now_ms)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Notes the status message of a PENDING transaction, keeping it PENDING.
pub async fn note_pending(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    status_msg: &str,
    gateway: Option<&GatewayFields>,
    now_ms: i64,
) -> Result<(), DigitError> {
    settle(
        conn,
        tenant_id,
        txn_id,
        &Change {
            status: TxnStatus::Pending,
            status_msg,
            gateway,
            modified_by: None,
            settled_by: "",
            now_ms,
        },
    )
    .await
    .map(|_| ())
}

pub async fn insert_dump(
    conn: &mut AnyConnection,
    t: &Transaction,
    request: Option<&str>,
) -> Result<(), DigitError> {
    sqlx::query(
        "INSERT INTO eg_pg_transactions_dump (tenant_id, txn_id, txn_request, txn_response, created_by, created_time, \
         last_modified_by, last_modified_time) VALUES ($1, $2, $3, NULL, $4, $5, $4, $5)",
    )
    .bind(&t.tenant_id)
    .bind(&t.txn_id)
    .bind(request.map(|r| pii::vault().seal_str(r)))
    .bind(&t.created_by)
    .bind(t.created_time)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the gateway's latest answer.
pub async fn dump_response(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    response: &Value,
    modified_by: Option<&str>,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE eg_pg_transactions_dump SET txn_response = $1, last_modified_by = $2, last_modified_time = $3 \
         WHERE tenant_id = $4 AND txn_id = $5",
    )
    .bind(pii::vault().seal_str(&response.to_string()))
    .bind(modified_by)
    .bind(now_ms)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// DIGIT's search criteria (query parameters of `/transaction/v1/_search`).
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    pub tenant_id: Option<String>,
    pub txn_id: Option<String>,
    pub bill_id: Option<String>,
    pub user_uuid: Option<String>,
    pub receipt: Option<String>,
    pub consumer_code: Option<String>,
    pub txn_status: Option<String>,
    /// The transaction's `module` (the Swagger's criterion that goes with `billId`).
    pub module: Option<String>,
    pub limit: i64,
    /// Only the transactions this user created ([`crate::visibility`]).
    pub owner: Option<String>,
    /// Only the transactions of these tenants, a state standing for its cities too
    /// ([`crate::visibility`]).
    pub tenants: Option<Vec<String>>,
}

/// Newest first. A bill is found in any transaction that pays it, not only as the top billId.
pub async fn search(
    conn: &mut AnyConnection,
    c: &Criteria,
) -> Result<Vec<Transaction>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS).push(" FROM eg_pg_transactions WHERE 1 = 1");
    if let Some(v) = &c.tenant_id {
        q.push(" AND tenant_id = ").bind(v);
    }
    if let Some(v) = &c.txn_id {
        q.push(" AND txn_id = ").bind(v);
    }
    if let Some(v) = &c.bill_id {
        q.push(" AND txn_id IN (SELECT txn_id FROM eg_pg_txn_bills WHERE bill_id = ")
            .bind(v)
            .push(")");
    }
    if let Some(v) = &c.user_uuid {
        q.push(" AND user_uuid = ").bind(v);
    }
    if let Some(v) = &c.receipt {
        q.push(" AND receipt = ").bind(v);
    }
    if let Some(v) = &c.consumer_code {
        q.push(" AND consumer_code = ").bind(v);
    }
    if let Some(v) = &c.txn_status {
        q.push(" AND txn_status = ").bind(v);
    }
    if let Some(v) = &c.module {
        q.push(" AND module = ").bind(v);
    }
    if let Some(v) = &c.owner {
        q.push(" AND user_uuid = ").bind(v);
    }
    if let Some(tenants) = &c.tenants {
        q.push(" AND (1 = 0");
        for t in tenants {
            q.push(" OR tenant_id = ").bind(t);
            if kosh_platform::tenant::is_state_level(t) {
                q.push(" OR tenant_id LIKE ").bind(format!("{t}.%"));
            }
        }
        q.push(")");
    }
    q.push(" ORDER BY created_time DESC, txn_id DESC LIMIT ")
        .bind(c.limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows_to_txns(&rows)
}

/// PENDING transactions reconciliation should ask about now: at least `after_ms` old, and not
/// asked about within the last `after_ms` (during their first day) or `sweep_ms` (after it).
/// A closed one (the gateway had no record of it) is asked about until it is `late_ms` old.
pub async fn due_for_reconciliation(
    conn: &mut AnyConnection,
    now_ms: i64,
    after_ms: i64,
    sweep_ms: i64,
    late_ms: i64,
    limit: i64,
) -> Result<Vec<Transaction>, DigitError> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM eg_pg_transactions WHERE txn_status = 'PENDING' AND created_time <= ")
        .bind(now_ms - after_ms)
        .push(" AND (closed_time IS NULL OR created_time > ")
        .bind(now_ms - late_ms)
        .push(")")
        .push(" AND (reconciled_time IS NULL OR (created_time > ")
        .bind(now_ms - DAY_MS)
        .push(" AND reconciled_time <= ")
        .bind(now_ms - after_ms)
        .push(") OR reconciled_time <= ")
        .bind(now_ms - sweep_ms)
        .push(") ORDER BY created_time, txn_id LIMIT ")
        .bind(limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows_to_txns(&rows)
}

/// Notes that reconciliation asked the gateway about a transaction.
pub async fn mark_reconciled(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE eg_pg_transactions SET reconciled_time = $1 WHERE tenant_id = $2 AND txn_id = $3",
    )
    .bind(now_ms)
    .bind(tenant_id)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
