//! BBPS transactions in the database (`bbps_txn`, `bbps_txn_bill`, `bbps_refund`).
//!
//! A posting claims its transaction reference with a plain insert on the primary key
//! `(tenant_id, txn_reference_id)` in the same transaction as the collection payment it
//! makes ([`claim`]). A concurrent posting of the same reference waits on that key and,
//! once the first commits, finds the committed row and answers from it; if the first rolls
//! back, the second's insert goes through and it does the work. The row in state POSTING
//! therefore never outlives its own transaction.

use std::collections::BTreeMap;

use kosh_platform::DigitError;
use kosh_platform::money::Paise;
use kosh_platform::pii::{
    self, Vault,
    table::{BBPS_TXN_BILLS, BBPS_TXNS},
};
use kosh_platform::sql::SqlBuilder;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::lookup::{Param, ist_date};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnStatus {
    /// Being posted (only inside the posting's transaction).
    Posting,
    /// Posted: a live receipt.
    Success,
    /// Refused: nothing posted.
    Failed,
    /// Reversed: the receipt was cancelled, or the reference was reversed before any posting.
    Reversed,
    /// A reversal kosh could not apply: the receipt stands and a refund is due.
    RefundPending,
}

impl TxnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TxnStatus::Posting => "POSTING",
            TxnStatus::Success => "SUCCESS",
            TxnStatus::Failed => "FAILED",
            TxnStatus::Reversed => "REVERSED",
            TxnStatus::RefundPending => "REFUND_PENDING",
        }
    }

    /// Reversed by BBPS (whether or not the receipt could be cancelled): final.
    pub fn is_reversed(self) -> bool {
        matches!(self, TxnStatus::Reversed | TxnStatus::RefundPending)
    }

    pub fn parse(text: &str) -> Option<TxnStatus> {
        Some(match text {
            "POSTING" => TxnStatus::Posting,
            "SUCCESS" => TxnStatus::Success,
            "FAILED" => TxnStatus::Failed,
            "REVERSED" => TxnStatus::Reversed,
            "REFUND_PENDING" => TxnStatus::RefundPending,
            _ => return None,
        })
    }
}

/// One bill a posting paid, as it was when paid.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnBill {
    pub bill_tenant_id: String,
    pub bill_id: String,
    pub bill_number: Option<String>,
    pub consumer_code: String,
    pub customer_name: Option<String>,
    pub bill_date: i64,
    pub bill_expiry: Option<i64>,
    pub period_from: Option<i64>,
    pub period_to: Option<i64>,
    pub bill_amount: Paise,
    pub amount_paid: Paise,
    pub receipt_number: String,
}

impl TxnBill {
    pub fn to_json(&self) -> Value {
        json!({
            "billerBillId": self.bill_number,
            "billId": self.bill_id,
            "tenantId": self.bill_tenant_id,
            "consumerCode": self.consumer_code,
            "customerName": self.customer_name,
            "billAmount": self.bill_amount,
            "amountPaid": self.amount_paid,
            "receiptNumber": self.receipt_number,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refund {
    pub amount: Paise,
    pub reason: Option<String>,
    pub status: String,
    pub created_ms: i64,
}

/// A BBPS transaction: a payment posting and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnRow {
    pub tenant_id: String,
    pub txn_reference_id: String,
    pub biller_id: String,
    pub business_service: String,
    pub profile: String,
    pub request_hash: String,
    pub ref_id: Option<String>,
    pub msg_id: Option<String>,
    pub payment_ref_id: Option<String>,
    pub customer_params: Vec<Param>,
    pub customer_mobile: Option<String>,
    pub amount: Paise,
    pub payment_mode: Option<String>,
    pub payment_channel: Option<String>,
    pub agent_id: Option<String>,
    pub txn_ts: Option<String>,
    pub status: TxnStatus,
    pub compliance_code: Option<String>,
    pub compliance_reason: Option<String>,
    pub payment_id: Option<String>,
    pub approval_ref_num: Option<String>,
    pub receipt_date: Option<i64>,
    pub business_date: String,
    pub created_by: String,
    pub created_ms: i64,
    pub reversal_reason: Option<String>,
    pub reversed_ms: Option<i64>,
    pub last_modified_ms: i64,
    pub bills: Vec<TxnBill>,
    pub refund: Option<Refund>,
    /// The unit's bill fetch under the posting's `refId`, when there was one.
    pub fetch: Option<FetchRecord>,
}

/// A bill fetch an operating unit made under a BBPS `refId` (`bbps_fetch`).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRecord {
    pub tenant_id: String,
    pub ref_id: String,
    pub created_by: String,
    pub biller_id: String,
    pub profile: String,
    pub response_code: String,
    pub compliance_code: Option<String>,
    /// `[{billerBillId, consumerCode, tenantId, amount}]`.
    pub bills: Value,
    pub created_ms: i64,
}

impl FetchRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "refId": self.ref_id,
            "billerId": self.biller_id,
            "profile": self.profile,
            "responseCode": self.response_code,
            "complianceRespCd": self.compliance_code,
            "bills": self.bills,
            "fetchedTime": self.created_ms,
        })
    }
}

/// Records (or refreshes) the unit's fetch under its `refId`.
pub async fn record_fetch(conn: &mut AnyConnection, f: &FetchRecord) -> Result<(), DigitError> {
    sqlx::query(
        "INSERT INTO bbps_fetch (tenant_id, ref_id, created_by, biller_id, profile, response_code, compliance_code, bills, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, created_by, ref_id) DO UPDATE SET \
         biller_id = EXCLUDED.biller_id, profile = EXCLUDED.profile, response_code = EXCLUDED.response_code, \
         compliance_code = EXCLUDED.compliance_code, bills = EXCLUDED.bills, created_ms = EXCLUDED.created_ms",
    )
    .bind(&f.tenant_id)
    .bind(&f.ref_id)
    .bind(&f.created_by)
    .bind(&f.biller_id)
    .bind(&f.profile)
    .bind(&f.response_code)
    .bind(&f.compliance_code)
    .bind(f.bills.to_string())
    .bind(f.created_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The fetch `created_by` made under `ref_id` in `tenant_id`.
pub async fn fetch_record(
    conn: &mut AnyConnection,
    tenant_id: &str,
    created_by: &str,
    ref_id: &str,
) -> Result<Option<FetchRecord>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(FETCH_COLUMNS)
        .push(" FROM bbps_fetch WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND created_by = ")
        .bind(created_by)
        .push(" AND ref_id = ")
        .bind(ref_id);
    match q.build().fetch_optional(&mut *conn).await? {
        Some(r) => Ok(Some(fetch_of(&r)?)),
        None => Ok(None),
    }
}

const FETCH_COLUMNS: &str = "tenant_id, ref_id, created_by, biller_id, profile, response_code, compliance_code, bills, created_ms";

fn fetch_of(r: &AnyRow) -> Result<FetchRecord, DigitError> {
    let bills: String = r.try_get("bills")?;
    Ok(FetchRecord {
        tenant_id: r.try_get("tenant_id")?,
        ref_id: r.try_get("ref_id")?,
        created_by: r.try_get("created_by")?,
        biller_id: r.try_get("biller_id")?,
        profile: r.try_get("profile")?,
        response_code: r.try_get("response_code")?,
        compliance_code: text_opt(r, "compliance_code")?,
        bills: serde_json::from_str(&bills).unwrap_or(Value::Null),
        created_ms: r.try_get("created_ms")?,
    })
}

impl TxnRow {
    /// The receipt numbers of the bills paid, in order.
    pub fn receipt_numbers(&self) -> Vec<String> {
        self.bills
            .iter()
            .map(|b| b.receipt_number.clone())
            .collect()
    }

    /// The transaction as the JSON profile shows it (amounts in paise).
    pub fn to_json(&self) -> Value {
        json!({
            "txnReferenceId": self.txn_reference_id,
            "billerId": self.biller_id,
            "businessService": self.business_service,
            "status": self.status.as_str(),
            "amount": self.amount,
            "refId": self.ref_id,
            "msgId": self.msg_id,
            "paymentRefId": self.payment_ref_id,
            "paymentMode": self.payment_mode,
            "paymentChannel": self.payment_channel,
            "agentId": self.agent_id,
            "customerParams": self.customer_params,
            "approvalRefNum": self.approval_ref_num,
            "paymentId": self.payment_id,
            "receiptDate": self.receipt_date.map(ist_date),
            "receipts": self.bills.iter().map(TxnBill::to_json).collect::<Vec<_>>(),
            "complianceRespCd": self.compliance_code,
            "complianceReason": self.compliance_reason,
            "businessDate": self.business_date,
            "createdTime": self.created_ms,
            "reversal": self.reversed_ms.map(|ms| json!({"reversedTime": ms, "reason": self.reversal_reason})),
            "refund": self.refund.as_ref().map(|r| json!({"amount": r.amount, "status": r.status, "reason": r.reason, "createdTime": r.created_ms})),
            "fetch": self.fetch.as_ref().map(FetchRecord::to_json),
        })
    }
}

const COLUMNS: &str = "tenant_id, txn_reference_id, biller_id, business_service, profile, request_hash, ref_id, msg_id, \
     payment_ref_id, customer_params, customer_mobile, amount, payment_mode, payment_channel, agent_id, txn_ts, status, \
     compliance_code, compliance_reason, payment_id, approval_ref_num, receipt_date, business_date, created_by, created_ms, \
     reversal_reason, reversed_ms, last_modified_ms, pii";

/// Inserts `row` unless its reference is taken; `true` when this call inserted it.
pub async fn claim(conn: &mut AnyConnection, row: &TxnRow) -> Result<bool, DigitError> {
    let params = serde_json::to_string(&row.customer_params).unwrap_or_else(|_| "[]".into());
    let sealed = BBPS_TXNS.seal(
        &pii::vault(),
        &[row.customer_mobile.as_deref(), Some(&params)],
        None,
    );
    let done = sqlx::query(
        "INSERT INTO bbps_txn (tenant_id, txn_reference_id, biller_id, business_service, profile, request_hash, ref_id, msg_id, \
         payment_ref_id, customer_params, customer_mobile, amount, payment_mode, payment_channel, agent_id, txn_ts, status, \
         compliance_code, compliance_reason, payment_id, approval_ref_num, receipt_date, business_date, created_by, created_ms, \
         reversal_reason, reversed_ms, last_modified_ms, pii) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, \
         $25, $26, $27, $28, $29) ON CONFLICT (tenant_id, txn_reference_id) DO NOTHING",
    )
    .bind(&row.tenant_id)
    .bind(&row.txn_reference_id)
    .bind(&row.biller_id)
    .bind(&row.business_service)
    .bind(&row.profile)
    .bind(&row.request_hash)
    .bind(&row.ref_id)
    .bind(&row.msg_id)
    .bind(&row.payment_ref_id)
    .bind(sealed.column(1))
    .bind(sealed.column(0))
    .bind(row.amount.get())
    .bind(&row.payment_mode)
    .bind(&row.payment_channel)
    .bind(&row.agent_id)
    .bind(&row.txn_ts)
    .bind(row.status.as_str())
    .bind(&row.compliance_code)
    .bind(&row.compliance_reason)
    .bind(&row.payment_id)
    .bind(&row.approval_ref_num)
    .bind(row.receipt_date)
    .bind(&row.business_date)
    .bind(&row.created_by)
    .bind(row.created_ms)
    .bind(&row.reversal_reason)
    .bind(row.reversed_ms)
    .bind(row.last_modified_ms)
    .bind(&sealed.pii)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the row's lock for the rest of the transaction (a write that changes nothing), so
/// that two reversals of one reference run one after the other.
pub async fn lock(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_reference_id: &str,
) -> Result<bool, DigitError> {
    let done = sqlx::query(
        "UPDATE bbps_txn SET last_modified_ms = last_modified_ms WHERE tenant_id = $1 AND txn_reference_id = $2",
    )
    .bind(tenant_id)
    .bind(txn_reference_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a successful posting: the payment, its receipts, the approval reference.
pub async fn settle_success(
    conn: &mut AnyConnection,
    row: &TxnRow,
    payment_id: &str,
    receipt_date: i64,
    bills: &[TxnBill],
    now_ms: i64,
) -> Result<(), DigitError> {
    let approval = bills.first().map(|b| b.receipt_number.clone());
    sqlx::query(
        "UPDATE bbps_txn SET status = $1, payment_id = $2, approval_ref_num = $3, receipt_date = $4, last_modified_ms = $5 \
         WHERE tenant_id = $6 AND txn_reference_id = $7",
    )
    .bind(TxnStatus::Success.as_str())
    .bind(payment_id)
    .bind(approval)
    .bind(receipt_date)
    .bind(now_ms)
    .bind(&row.tenant_id)
    .bind(&row.txn_reference_id)
    .execute(&mut *conn)
    .await?;
    let vault = pii::vault();
    for (seq, b) in bills.iter().enumerate() {
        let sealed = BBPS_TXN_BILLS.seal(&vault, &[b.customer_name.as_deref()], None);
        sqlx::query(
            "INSERT INTO bbps_txn_bill (tenant_id, txn_reference_id, seq, bill_tenant_id, bill_id, bill_number, consumer_code, \
             customer_name, bill_date, bill_expiry, period_from, period_to, bill_amount, amount_paid, receipt_number, pii) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&row.tenant_id)
        .bind(&row.txn_reference_id)
        .bind(seq as i64)
        .bind(&b.bill_tenant_id)
        .bind(&b.bill_id)
        .bind(&b.bill_number)
        .bind(&b.consumer_code)
        .bind(sealed.column(0))
        .bind(b.bill_date)
        .bind(b.bill_expiry)
        .bind(b.period_from)
        .bind(b.period_to)
        .bind(b.bill_amount.get())
        .bind(b.amount_paid.get())
        .bind(&b.receipt_number)
        .bind(&sealed.pii)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records a refused posting with its compliance code.
pub async fn settle_failure(
    conn: &mut AnyConnection,
    row: &TxnRow,
    code: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE bbps_txn SET status = $1, compliance_code = $2, compliance_reason = $3, last_modified_ms = $4 \
         WHERE tenant_id = $5 AND txn_reference_id = $6",
    )
    .bind(TxnStatus::Failed.as_str())
    .bind(code)
    // The column's size: a detail may quote what the unit sent.
    .bind(match reason.char_indices().nth(1024) {
        Some((at, _)) => &reason[..at],
        None => reason,
    })
    .bind(now_ms)
    .bind(&row.tenant_id)
    .bind(&row.txn_reference_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a reversal: REVERSED when the receipt was cancelled, REFUND_PENDING (with its
/// refund row) when it could not be.
pub async fn set_reversal(
    conn: &mut AnyConnection,
    row: &TxnRow,
    status: TxnStatus,
    reason: Option<&str>,
    by: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE bbps_txn SET status = $1, reversal_reason = $2, reversed_ms = $3, last_modified_ms = $4 \
         WHERE tenant_id = $5 AND txn_reference_id = $6",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(now_ms)
    .bind(now_ms)
    .bind(&row.tenant_id)
    .bind(&row.txn_reference_id)
    .execute(&mut *conn)
    .await?;
    if status == TxnStatus::RefundPending {
        sqlx::query(
            "INSERT INTO bbps_refund (tenant_id, txn_reference_id, amount, reason, status, created_by, created_ms) \
             VALUES ($1, $2, $3, $4, 'DUE', $5, $6) ON CONFLICT (tenant_id, txn_reference_id) DO NOTHING",
        )
        .bind(&row.tenant_id)
        .bind(&row.txn_reference_id)
        .bind(row.amount.get())
        .bind(reason)
        .bind(by)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn text_opt(row: &AnyRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)
}

fn row_of(vault: &Vault, row: &AnyRow) -> Result<TxnRow, DigitError> {
    let status: String = row.try_get("status")?;
    let mut personal = BBPS_TXNS.open(vault, row)?;
    let params = personal.take("customer_params").unwrap_or_default();
    Ok(TxnRow {
        tenant_id: row.try_get("tenant_id")?,
        txn_reference_id: row.try_get("txn_reference_id")?,
        biller_id: row.try_get("biller_id")?,
        business_service: row.try_get("business_service")?,
        profile: row.try_get("profile")?,
        request_hash: row.try_get("request_hash")?,
        ref_id: text_opt(row, "ref_id")?,
        msg_id: text_opt(row, "msg_id")?,
        payment_ref_id: text_opt(row, "payment_ref_id")?,
        customer_params: serde_json::from_str(&params).unwrap_or_default(),
        customer_mobile: personal.take("customer_mobile"),
        amount: Paise::new(row.try_get("amount")?),
        payment_mode: text_opt(row, "payment_mode")?,
        payment_channel: text_opt(row, "payment_channel")?,
        agent_id: text_opt(row, "agent_id")?,
        txn_ts: text_opt(row, "txn_ts")?,
        status: TxnStatus::parse(&status).unwrap_or(TxnStatus::Failed),
        compliance_code: text_opt(row, "compliance_code")?,
        compliance_reason: text_opt(row, "compliance_reason")?,
        payment_id: text_opt(row, "payment_id")?,
        approval_ref_num: text_opt(row, "approval_ref_num")?,
        receipt_date: row.try_get("receipt_date")?,
        business_date: row.try_get("business_date")?,
        created_by: row.try_get("created_by")?,
        created_ms: row.try_get("created_ms")?,
        reversal_reason: text_opt(row, "reversal_reason")?,
        reversed_ms: row.try_get("reversed_ms")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
        bills: Vec::new(),
        refund: None,
        fetch: None,
    })
}

/// Adds each transaction's bills, refund and fetch.
async fn complete(conn: &mut AnyConnection, rows: &mut [TxnRow]) -> Result<(), DigitError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let state = first.tenant_id.clone();
    // A fetch is keyed by its maker and reference: each maker's are read by that key.
    let mut by_maker: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in rows.iter() {
        if let Some(ref_id) = &t.ref_id {
            by_maker
                .entry(t.created_by.clone())
                .or_default()
                .push(ref_id.clone());
        }
    }
    let mut chunks: Vec<(String, Vec<String>)> = Vec::new();
    for (maker, refs) in by_maker {
        for chunk in refs.chunks(500) {
            chunks.push((maker.clone(), chunk.to_vec()));
        }
    }
    for (maker, chunk) in &chunks {
        let mut q = SqlBuilder::new("SELECT ");
        q.push(FETCH_COLUMNS)
            .push(" FROM bbps_fetch WHERE tenant_id = ")
            .bind(state.as_str())
            .push(" AND created_by = ")
            .bind(maker.as_str())
            .push(" AND ref_id IN ")
            .bind_list(chunk.as_slice());
        for r in q.build().fetch_all(&mut *conn).await? {
            let f = fetch_of(&r)?;
            for t in rows.iter_mut().filter(|t| {
                t.ref_id.as_deref() == Some(f.ref_id.as_str()) && t.created_by == f.created_by
            }) {
                t.fetch = Some(f.clone());
            }
        }
    }
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let tenant_id = first.tenant_id.clone();
    let refs: Vec<String> = rows.iter().map(|r| r.txn_reference_id.clone()).collect();
    for chunk in refs.chunks(500) {
        let mut q = SqlBuilder::new(
            "SELECT txn_reference_id, bill_tenant_id, bill_id, bill_number, consumer_code, customer_name, bill_date, \
             bill_expiry, period_from, period_to, bill_amount, amount_paid, receipt_number, pii FROM bbps_txn_bill WHERE tenant_id = ",
        );
        q.bind(tenant_id.as_str())
            .push(" AND txn_reference_id IN ")
            .bind_list(chunk)
            .push(" ORDER BY txn_reference_id, seq");
        let vault = pii::vault();
        for r in q.build().fetch_all(&mut *conn).await? {
            let reference: String = r.try_get("txn_reference_id")?;
            let mut personal = BBPS_TXN_BILLS.open(&vault, &r)?;
            let bill = TxnBill {
                bill_tenant_id: r.try_get("bill_tenant_id")?,
                bill_id: r.try_get("bill_id")?,
                bill_number: text_opt(&r, "bill_number")?,
                consumer_code: r.try_get("consumer_code")?,
                customer_name: personal.take("customer_name"),
                bill_date: r.try_get("bill_date")?,
                bill_expiry: r.try_get("bill_expiry")?,
                period_from: r.try_get("period_from")?,
                period_to: r.try_get("period_to")?,
                bill_amount: Paise::new(r.try_get("bill_amount")?),
                amount_paid: Paise::new(r.try_get("amount_paid")?),
                receipt_number: r.try_get("receipt_number")?,
            };
            if let Some(t) = rows.iter_mut().find(|t| t.txn_reference_id == reference) {
                t.bills.push(bill);
            }
        }
        let mut q = SqlBuilder::new(
            "SELECT txn_reference_id, amount, reason, status, created_ms FROM bbps_refund WHERE tenant_id = ",
        );
        q.bind(tenant_id.as_str())
            .push(" AND txn_reference_id IN ")
            .bind_list(chunk);
        for r in q.build().fetch_all(&mut *conn).await? {
            let reference: String = r.try_get("txn_reference_id")?;
            let refund = Refund {
                amount: Paise::new(r.try_get("amount")?),
                reason: text_opt(&r, "reason")?,
                status: r.try_get("status")?,
                created_ms: r.try_get("created_ms")?,
            };
            if let Some(t) = rows.iter_mut().find(|t| t.txn_reference_id == reference) {
                t.refund = Some(refund);
            }
        }
    }
    Ok(())
}

/// The transaction `txn_reference_id` of `tenant_id`, with its bills and refund.
pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_reference_id: &str,
) -> Result<Option<TxnRow>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM bbps_txn WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND txn_reference_id = ")
        .bind(txn_reference_id);
    let Some(row) = q.build().fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut rows = vec![row_of(&pii::vault(), &row)?];
    complete(conn, &mut rows).await?;
    Ok(rows.pop())
}

/// The transactions of one business day (IST), oldest first.
pub async fn of_day(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_date: &str,
) -> Result<Vec<TxnRow>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM bbps_txn WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND business_date = ")
        .bind(business_date)
        .push(" AND status <> 'POSTING' ORDER BY created_ms, txn_reference_id");
    let rows = q.build().fetch_all(&mut *conn).await?;
    let vault = pii::vault();
    let mut out = rows
        .iter()
        .map(|r| row_of(&vault, r))
        .collect::<Result<Vec<_>, _>>()?;
    complete(conn, &mut out).await?;
    Ok(out)
}

/// The transactions with these references (any day).
pub async fn with_references(
    conn: &mut AnyConnection,
    tenant_id: &str,
    references: &[String],
) -> Result<Vec<TxnRow>, DigitError> {
    let mut out = Vec::new();
    for chunk in references.chunks(500) {
        let mut q = SqlBuilder::new("SELECT ");
        q.push(COLUMNS)
            .push(" FROM bbps_txn WHERE tenant_id = ")
            .bind(tenant_id)
            .push(" AND status <> 'POSTING' AND txn_reference_id IN ")
            .bind_list(chunk);
        let rows = q.build().fetch_all(&mut *conn).await?;
        let vault = pii::vault();
        let mut part = rows
            .iter()
            .map(|r| row_of(&vault, r))
            .collect::<Result<Vec<_>, _>>()?;
        complete(conn, &mut part).await?;
        out.extend(part);
    }
    Ok(out)
}
