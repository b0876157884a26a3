//! The daily reconciliation report: every BBPS transaction of one business day (India
//! Standard Time, as BBPS settles) with its amount, receipt numbers and status, as JSON
//! or CSV. Billers are expected to reconcile their operating unit's remittances daily
//! (NBBL's guidance to billers, bharatbillpay.com/biller); `kosh bbps reconcile` reads this
//! CSV back as a settlement file too.

use chrono::NaiveDate;
use kosh_platform::money::{MoneyError, Paise, wire};
use serde_json::{Value, json};

use crate::store::{TxnRow, TxnStatus};

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "businessDate",
    "txnReferenceId",
    "status",
    "amount",
    "billerId",
    "businessService",
    "tenantId",
    "consumerCodes",
    "billNumbers",
    "receiptNumbers",
    "receiptDate",
    "paymentId",
    "refId",
    "paymentRefId",
    "paymentMode",
    "paymentChannel",
    "agentId",
    "complianceRespCd",
    "createdTime",
    "reversedTime",
    "refundDue",
];

/// Reads a `YYYY-MM-DD` business date.
pub fn parse_date(text: &str) -> Option<String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

fn joined(values: impl Iterator<Item = String>) -> String {
    values.collect::<Vec<_>>().join(";")
}

fn refund_due(t: &TxnRow) -> Paise {
    t.refund
        .as_ref()
        .filter(|r| r.status == "DUE")
        .map(|r| r.amount)
        .unwrap_or(Paise::ZERO)
}

/// One transaction's fields, in [`CSV_COLUMNS`] order.
fn fields(t: &TxnRow) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        t.business_date.clone(),
        t.txn_reference_id.clone(),
        t.status.as_str().to_string(),
        wire::paise_text(t.amount),
        t.biller_id.clone(),
        t.business_service.clone(),
        t.bills
            .first()
            .map(|b| b.bill_tenant_id.clone())
            .unwrap_or_default(),
        joined(t.bills.iter().map(|b| b.consumer_code.clone())),
        joined(
            t.bills
                .iter()
                .map(|b| b.bill_number.clone().unwrap_or_default()),
        ),
        joined(t.bills.iter().map(|b| b.receipt_number.clone())),
        t.receipt_date
            .map(crate::lookup::ist_date)
            .unwrap_or_default(),
        opt(&t.payment_id),
        opt(&t.ref_id),
        opt(&t.payment_ref_id),
        opt(&t.payment_mode),
        opt(&t.payment_channel),
        opt(&t.agent_id),
        opt(&t.compliance_code),
        t.created_ms.to_string(),
        t.reversed_ms.map(|m| m.to_string()).unwrap_or_default(),
        wire::paise_text(refund_due(t)),
    ]
}

/// One CSV field: quoted when it holds a separator, a quote or a line end; a field a
/// spreadsheet would read as a formula gets a leading `'`.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The report as CSV (a header line, then one line per transaction).
pub fn csv(transactions: &[TxnRow]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for t in transactions {
        let line: Vec<String> = fields(t).iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The totals of a day, each sum computed exactly (or refused).
pub fn summary(transactions: &[TxnRow]) -> Result<Value, MoneyError> {
    let of = |status: TxnStatus| transactions.iter().filter(move |t| t.status == status);
    Ok(json!({
        "count": transactions.len(),
        "successCount": of(TxnStatus::Success).count(),
        "successAmount": Paise::sum(of(TxnStatus::Success).map(|t| t.amount))?,
        "failedCount": of(TxnStatus::Failed).count(),
        "reversedCount": of(TxnStatus::Reversed).count(),
        "reversedAmount": Paise::sum(of(TxnStatus::Reversed).filter(|t| t.payment_id.is_some()).map(|t| t.amount))?,
        "refundPendingCount": of(TxnStatus::RefundPending).count(),
        "refundDueAmount": Paise::sum(transactions.iter().map(refund_due))?,
    }))
}

/// The report as JSON.
pub fn json(tenant_id: &str, date: &str, transactions: &[TxnRow]) -> Result<Value, MoneyError> {
    Ok(json!({
        "tenantId": tenant_id,
        "businessDate": date,
        "summary": summary(transactions)?,
        "transactions": transactions.iter().map(TxnRow::to_json).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(parse_date("2019-06-15").as_deref(), Some("2019-06-15"));
        assert_eq!(parse_date("2019-02-30"), None);
        assert_eq!(parse_date("15/06/2019"), None);
    }
}
