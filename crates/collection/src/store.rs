//! Payments in the database.

use kosh_platform::DigitError;
use kosh_platform::audit_chain::{self, AuditRow, AuditTable, Kind};
use kosh_platform::money::Paise;
use kosh_platform::pii::{self, Vault, table::PAYMENTS};
use kosh_platform::sql::{Arg, SqlBuilder, rows_per_statement};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::model::{Audit, Payment, PaymentDetail};

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

fn json_value(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// Inserts a payment and its details. A second live payment of a bill violates
/// `egcl_paymentdetail_live_bill`: that is `Ok(false)`.
pub async fn insert(conn: &mut AnyConnection, p: &Payment) -> Result<bool, DigitError> {
    insert_many(conn, std::slice::from_ref(p)).await
}

/// [`insert`] for many payments (a batch): multi-row statements of a few dozen rows. A
/// second live payment of any of their bills is `Ok(false)`; the caller rolls back.
pub async fn insert_many(
    conn: &mut AnyConnection,
    payments: &[Payment],
) -> Result<bool, DigitError> {
    let vault = pii::vault();
    let mut payment_rows = Vec::with_capacity(payments.len());
    let mut detail_rows = Vec::new();
    for p in payments {
        let mut bills = Map::new();
        for d in &p.details {
            let (snapshot, personal) = strip_snapshot(&d.bill);
            if !personal.is_empty() {
                bills.insert(d.id.clone(), Value::Object(personal));
            }
            detail_rows.push(detail_row(d, snapshot.to_string()));
        }
        payment_rows.push(payment_row(p, &seal_payment(&vault, p, bills)));
    }
    for chunk in payment_rows.chunks(rows_per_statement(PAYMENT_WIDTH)) {
        let mut q = SqlBuilder::new("INSERT INTO egcl_payment (");
        q.push(PAYMENT_COLUMNS).push(") VALUES ");
        push_rows(&mut q, chunk);
        q.build().execute(&mut *conn).await?;
    }
    for chunk in detail_rows.chunks(rows_per_statement(DETAIL_WIDTH)) {
        let mut q = SqlBuilder::new("INSERT INTO egcl_paymentdetail (");
        q.push(DETAIL_COLUMNS).push(") VALUES ");
        push_rows(&mut q, chunk);
        q.push(" ON CONFLICT (tenant_id, bill_id) WHERE live = 1 DO NOTHING");
        let inserted = q.build().execute(&mut *conn).await?;
        if inserted.rows_affected() != chunk.len() as u64 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `(v, v, ...), (v, v, ...)`: the VALUES of a multi-row insert.
fn push_rows(q: &mut SqlBuilder, rows: &[Vec<Arg>]) {
    for (i, row) in rows.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" });
        for (j, value) in row.iter().enumerate() {
            if j > 0 {
                q.push(", ");
            }
            q.bind(value.clone());
        }
        q.push(")");
    }
}

/// The columns of [`PAYMENT_COLUMNS`], in order.
const PAYMENT_WIDTH: usize = 25;
/// The columns of [`DETAIL_COLUMNS`], in order.
const DETAIL_WIDTH: usize = 20;

fn payment_row(p: &Payment, sealed: &pii::table::Sealed) -> Vec<Arg> {
    let text = |v: Option<&str>| Arg::from(v.map(str::to_string));
    vec![
        p.id.as_str().into(),
        p.tenant_id.as_str().into(),
        p.total_due.get().into(),
        p.total_amount_paid.get().into(),
        p.transaction_number.clone().into(),
        p.transaction_date.into(),
        p.payment_mode.as_str().into(),
        p.instrument_date.into(),
        p.instrument_number.clone().into(),
        p.instrument_status.as_str().into(),
        p.ifsc_code.clone().into(),
        json_text(&p.additional_details).into(),
        text(sealed.column(0)),
        text(sealed.column(1)),
        text(sealed.column(2)),
        text(sealed.column(3)),
        text(sealed.column(4)),
        p.payer_id.clone().into(),
        p.payment_status.as_str().into(),
        p.file_store_id.clone().into(),
        p.audit.created_by.as_str().into(),
        p.audit.created_ms.into(),
        p.audit.last_modified_by.as_str().into(),
        p.audit.last_modified_ms.into(),
        sealed.pii.as_str().into(),
    ]
}

fn detail_row(d: &PaymentDetail, snapshot: String) -> Vec<Arg> {
    vec![
        d.id.as_str().into(),
        d.tenant_id.as_str().into(),
        d.payment_id.as_str().into(),
        d.due.get().into(),
        d.amount_paid.get().into(),
        d.receipt_number.as_str().into(),
        d.receipt_date.into(),
        d.receipt_type.as_str().into(),
        d.business_service.as_str().into(),
        d.bill_id.as_str().into(),
        d.consumer_code.as_str().into(),
        d.manual_receipt_number.clone().into(),
        d.manual_receipt_date.into(),
        json_text(&d.additional_details).into(),
        snapshot.into(),
        i64::from(d.live).into(),
        d.audit.created_by.as_str().into(),
        d.audit.created_ms.into(),
        d.audit.last_modified_by.as_str().into(),
        d.audit.last_modified_ms.into(),
    ]
}

/// Writes a payment's statuses (and its details' liveness and bills) after a workflow action.
pub async fn update_status(conn: &mut AnyConnection, p: &Payment) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE egcl_payment SET payment_status = $1, instrument_status = $2, additional_details = $3, \
         last_modified_by = $4, last_modified_ms = $5 WHERE tenant_id = $6 AND id = $7",
    )
    .bind(&p.payment_status)
    .bind(&p.instrument_status)
    .bind(json_text(&p.additional_details))
    .bind(&p.audit.last_modified_by)
    .bind(p.audit.last_modified_ms)
    .bind(&p.tenant_id)
    .bind(&p.id)
    .execute(&mut *conn)
    .await?;
    for d in &p.details {
        sqlx::query(
            "UPDATE egcl_paymentdetail SET live = $1, bill = $2, last_modified_by = $3, last_modified_ms = $4 \
             WHERE tenant_id = $5 AND id = $6",
        )
        .bind(i64::from(d.live))
        .bind(strip_snapshot(&d.bill).0.to_string())
        .bind(&d.audit.last_modified_by)
        .bind(d.audit.last_modified_ms)
        .bind(&d.tenant_id)
        .bind(&d.id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `egcl_payment_audit` as the audit chain sees it (shared with `kosh audit verify`).
pub static PAYMENT_AUDIT: AuditTable = AuditTable {
    name: "egcl_payment_audit",
    key: "audit_id",
    columns: &[
        ("audit_id", Kind::Text),
        ("tenant_id", Kind::Text),
        ("payment_id", Kind::Text),
        ("action", Kind::Text),
        ("payment", Kind::Text),
        ("changed_by", Kind::Text),
        ("changed_ms", Kind::Int),
    ],
};

/// Records the payment as it now is (DIGIT's *_audit tables), chained for `kosh audit
/// verify`.
pub async fn audit(
    conn: &mut AnyConnection,
    p: &Payment,
    action: &str,
    by: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    audit_chain::insert(conn, &[audit_row(p, action, by, now_ms)]).await
}

/// The row [`audit`] inserts, for a caller that chains it with others in one append.
pub fn audit_row(p: &Payment, action: &str, by: &str, now_ms: i64) -> AuditRow {
    AuditRow::new(
        &PAYMENT_AUDIT,
        vec![
            uuid::Uuid::now_v7().to_string().into(),
            (&p.tenant_id).into(),
            (&p.id).into(),
            action.into(),
            redacted_json(p).to_string().into(),
            by.into(),
            now_ms.into(),
        ],
    )
}

/// The bills among `bill_ids` that already carry a live payment.
pub async fn paid_bill_ids(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_ids: &[String],
) -> Result<Vec<String>, DigitError> {
    let mut q =
        SqlBuilder::new("SELECT bill_id FROM egcl_paymentdetail WHERE live = 1 AND tenant_id = ");
    q.bind(tenant_id)
        .push(" AND bill_id IN ")
        .bind_list(bill_ids);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(DigitError::from))
        .collect()
}

const PAYMENT_COLUMNS: &str = "id, tenant_id, total_due, total_amount_paid, transaction_number, transaction_date, payment_mode, \
     instrument_date, instrument_number, instrument_status, ifsc_code, additional_details, paid_by, mobile_number, payer_name, \
     payer_address, payer_email, payer_id, payment_status, file_store_id, created_by, created_ms, last_modified_by, last_modified_ms, pii";

const DETAIL_COLUMNS: &str = "id, tenant_id, payment_id, due, amount_paid, receipt_number, receipt_date, receipt_type, \
     business_service, bill_id, consumer_code, manual_receipt_number, manual_receipt_date, additional_details, bill, live, \
     created_by, created_ms, last_modified_by, last_modified_ms";

fn audit_of(row: &AnyRow) -> Result<Audit, sqlx::Error> {
    Ok(Audit {
        created_by: row.try_get("created_by")?,
        created_ms: row.try_get("created_ms")?,
        last_modified_by: row.try_get("last_modified_by")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
    })
}

/// A payment row and the payer fields of its details' bill snapshots, by detail id.
fn payment_of(vault: &Vault, row: &AnyRow) -> Result<(Payment, Map<String, Value>), sqlx::Error> {
    let mut personal = PAYMENTS.open(vault, row)?;
    let bills = match personal.take_value("bills") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let payment = Payment {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        total_due: Paise::new(row.try_get("total_due")?),
        total_amount_paid: Paise::new(row.try_get("total_amount_paid")?),
        transaction_number: row.try_get("transaction_number")?,
        transaction_date: row.try_get("transaction_date")?,
        payment_mode: row.try_get("payment_mode")?,
        instrument_date: row.try_get("instrument_date")?,
        instrument_number: row.try_get("instrument_number")?,
        instrument_status: row.try_get("instrument_status")?,
        ifsc_code: row.try_get("ifsc_code")?,
        additional_details: json_value(row.try_get("additional_details")?),
        paid_by: personal.take("paid_by"),
        mobile_number: personal.take("mobile_number"),
        payer_name: personal.take("payer_name"),
        payer_address: personal.take("payer_address"),
        payer_email: personal.take("payer_email"),
        payer_id: row.try_get("payer_id")?,
        payment_status: row.try_get("payment_status")?,
        file_store_id: row.try_get("file_store_id")?,
        audit: audit_of(row)?,
        details: Vec::new(),
    };
    Ok((payment, bills))
}

fn detail_of(row: &AnyRow) -> Result<PaymentDetail, sqlx::Error> {
    let bill: String = row.try_get("bill")?;
    Ok(PaymentDetail {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        payment_id: row.try_get("payment_id")?,
        due: Paise::new(row.try_get("due")?),
        amount_paid: Paise::new(row.try_get("amount_paid")?),
        receipt_number: row.try_get("receipt_number")?,
        receipt_date: row.try_get("receipt_date")?,
        receipt_type: row.try_get("receipt_type")?,
        business_service: row.try_get("business_service")?,
        bill_id: row.try_get("bill_id")?,
        consumer_code: row.try_get("consumer_code")?,
        manual_receipt_number: row.try_get("manual_receipt_number")?,
        manual_receipt_date: row.try_get("manual_receipt_date")?,
        additional_details: json_value(row.try_get("additional_details")?),
        bill: serde_json::from_str(&bill).unwrap_or(Value::Null),
        live: row.try_get::<i64, _>("live")? != 0,
        audit: audit_of(row)?,
    })
}

/// The payments of `tenant` with these ids, newest first, with their details. The tenant
/// leads every key of the payment tables: without it, the ids are looked for in every row.
pub async fn load(
    conn: &mut AnyConnection,
    tenant: &str,
    ids: &[String],
) -> Result<Vec<Payment>, DigitError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new("SELECT ");
    q.push(PAYMENT_COLUMNS)
        .push(" FROM egcl_payment WHERE tenant_id = ")
        .bind(tenant)
        .push(" AND id IN ")
        .bind_list(ids)
        .push(" ORDER BY transaction_date DESC, id");
    let rows = q.build().fetch_all(&mut *conn).await?;
    let vault = pii::vault();
    let mut payments = rows
        .iter()
        .map(|r| payment_of(&vault, r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut q = SqlBuilder::new("SELECT ");
    q.push(DETAIL_COLUMNS)
        .push(" FROM egcl_paymentdetail WHERE tenant_id = ")
        .bind(tenant)
        .push(" AND payment_id IN ")
        .bind_list(ids)
        .push(" ORDER BY created_ms, receipt_number");
    let rows = q.build().fetch_all(&mut *conn).await?;
    for row in &rows {
        let mut detail = detail_of(row)?;
        if let Some((p, bills)) = payments.iter_mut().find(|(p, _)| p.id == detail.payment_id) {
            if let (Some(Value::Object(personal)), Value::Object(bill)) =
                (bills.remove(&detail.id), &mut detail.bill)
            {
                bill.extend(personal);
            }
            p.details.push(detail);
        }
    }
    Ok(payments.into_iter().map(|(p, _)| p).collect())
}

/// The keys of a bill snapshot that hold the payer's personal data.
const SNAPSHOT_PERSONAL: [&str; 5] = [
    "mobileNumber",
    "payerName",
    "payerAddress",
    "payerEmail",
    "paidBy",
];

/// A bill snapshot without its personal fields, and those fields.
fn strip_snapshot(bill: &Value) -> (Value, Map<String, Value>) {
    let mut snapshot = bill.clone();
    let mut personal = Map::new();
    if let Value::Object(m) = &mut snapshot {
        for key in SNAPSHOT_PERSONAL {
            if let Some(v) = m.remove(key)
                && !v.is_null()
            {
                personal.insert(key.to_string(), v);
            }
        }
    }
    (snapshot, personal)
}

/// The payer of a payment, sealed with its details' snapshot fields (`bills`).
fn seal_payment(vault: &Vault, p: &Payment, bills: Map<String, Value>) -> pii::table::Sealed {
    let mut extra = Map::new();
    if !bills.is_empty() {
        extra.insert("bills".into(), Value::Object(bills));
    }
    PAYMENTS.seal(
        vault,
        &[
            p.paid_by.as_deref(),
            p.mobile_number.as_deref(),
            p.payer_name.as_deref(),
            p.payer_address.as_deref(),
            p.payer_email.as_deref(),
        ],
        Some(extra),
    )
}

/// The payment as its audit rows keep it: without the payer's personal data (the payer
/// never changes after creation; it is kept sealed in the payment itself). An audit row is
/// chained and may not change, so it never holds what a key rotation would re-seal.
fn redacted_json(p: &Payment) -> Value {
    let mut json = p.to_json();
    if let Value::Object(m) = &mut json {
        for key in SNAPSHOT_PERSONAL {
            m.remove(key);
        }
        if let Some(Value::Array(details)) = m.get_mut("paymentDetails") {
            for d in details {
                if let Some(bill) = d.get_mut("bill") {
                    *bill = strip_snapshot(bill).0;
                }
            }
        }
    }
    json
}

/// Seals up to `batch` payments written before sealing began (with their details' bill
/// snapshots), in the caller's transaction. Returns how many.
pub async fn seal_existing(
    conn: &mut AnyConnection,
    vault: &Vault,
    batch: i64,
) -> Result<u64, DigitError> {
    let mut q = SqlBuilder::new("SELECT tenant_id, id FROM egcl_payment WHERE pii IS NULL LIMIT ");
    q.bind(batch);
    let keys: Vec<(String, String)> = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let mut payments = Vec::with_capacity(keys.len());
    for (tenant, id) in &keys {
        payments.extend(load(conn, tenant, std::slice::from_ref(id)).await?);
    }
    // Read as they are (unsealed rows read their plain columns), then written sealed.
    for p in payments {
        let mut bills = Map::new();
        for d in &p.details {
            let (snapshot, personal) = strip_snapshot(&d.bill);
            if !personal.is_empty() {
                bills.insert(d.id.clone(), Value::Object(personal));
            }
            sqlx::query("UPDATE egcl_paymentdetail SET bill = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(snapshot.to_string())
                .bind(&d.tenant_id)
                .bind(&d.id)
                .execute(&mut *conn)
                .await?;
        }
        let sealed = seal_payment(vault, &p, bills);
        sqlx::query(
            "UPDATE egcl_payment SET pii = $1, paid_by = $2, mobile_number = $3, payer_name = $4, \
             payer_address = $5, payer_email = $6 WHERE tenant_id = $7 AND id = $8 AND pii IS NULL",
        )
        .bind(&sealed.pii)
        .bind(sealed.column(0))
        .bind(sealed.column(1))
        .bind(sealed.column(2))
        .bind(sealed.column(3))
        .bind(sealed.column(4))
        .bind(&p.tenant_id)
        .bind(&p.id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(keys.len() as u64)
}
