//! Bills with an online payment in progress (`egcl_bill_hold`).
//!
//! A payment-gateway transaction holds its bills from its creation until it settles (or is
//! closed because the gateway has no record of it). While a bill is held, a counter payment
//! of it is refused with an error naming the transaction and when reconciliation will have
//! asked the gateway about it: the payer may be paying online at that very moment, and the
//! bill would be paid twice. An employee may override the hold (the payment is audited as
//! such); should the online payment then succeed, its money becomes a refund due.
//!
//! BBPS postings and the online transaction's own receipt are never held back: BBPS money
//! is already taken by the operating unit, so the posting is accepted and whichever of the
//! two settles second becomes a refund due.

use kosh_platform::DigitError;
use kosh_platform::sql::SqlBuilder;
use sqlx::{AnyConnection, Row};

/// The channel that holds a bill.
pub const ONLINE: &str = "ONLINE";

/// One hold of one bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub tenant_id: String,
    pub bill_id: String,
    pub channel: String,
    /// The pg transaction id.
    pub holder_ref: String,
    pub held_by: String,
    pub created_ms: i64,
    pub settle_by_ms: i64,
}

/// Holds `bill_ids` for the online transaction `txn_id` (in the caller's transaction), once
/// no live payment is on them. The bills' consumer codes are locked first, as a counter
/// payment locks them before it looks for holds: of a counter payment and a transaction
/// begun at the same moment, one sees the other (a payment made between the transaction's
/// checks and this write refuses the transaction with `BILL_ALREADY_PAID`).
#[allow(clippy::too_many_arguments)]
pub async fn place(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_ids: &[String],
    txn_id: &str,
    held_by: &str,
    now_ms: i64,
    settle_by_ms: i64,
) -> Result<(), DigitError> {
    let mut sorted = bill_ids.to_vec();
    sorted.sort();
    kosh_billing::demand::store::lock_consumers_of_bills(conn, tenant_id, &sorted).await?;
    let paid = crate::store::paid_bill_ids(conn, tenant_id, bill_ids).await?;
    if !paid.is_empty() {
        return Err(DigitError::item(
            kosh_platform::ErrorItem::new(
                "BILL_ALREADY_PAID",
                "Bill has already been paid or is in pending state",
            )
            .with_params(paid),
        ));
    }
    for bill_id in bill_ids {
        sqlx::query(
            "INSERT INTO egcl_bill_hold (tenant_id, bill_id, channel, holder_ref, held_by, created_ms, settle_by_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, bill_id, holder_ref) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(bill_id)
        .bind(ONLINE)
        .bind(txn_id)
        .bind(held_by)
        .bind(now_ms)
        .bind(settle_by_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Releases every hold of the transaction `txn_id`.
pub async fn release(
    conn: &mut AnyConnection,
    tenant_id: &str,
    txn_id: &str,
) -> Result<(), DigitError> {
    sqlx::query("DELETE FROM egcl_bill_hold WHERE tenant_id = $1 AND holder_ref = $2")
        .bind(tenant_id)
        .bind(txn_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The holds on any of `bill_ids`, oldest first.
pub async fn on_bills(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_ids: &[String],
) -> Result<Vec<Hold>, DigitError> {
    if bill_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new(
        "SELECT tenant_id, bill_id, channel, holder_ref, held_by, created_ms, settle_by_ms \
         FROM egcl_bill_hold WHERE tenant_id = ",
    );
    q.bind(tenant_id)
        .push(" AND bill_id IN ")
        .bind_list(bill_ids)
        .push(" ORDER BY created_ms, holder_ref");
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(Hold {
                tenant_id: r.try_get("tenant_id")?,
                bill_id: r.try_get("bill_id")?,
                channel: r.try_get("channel")?,
                holder_ref: r.try_get("holder_ref")?,
                held_by: r.try_get("held_by")?,
                created_ms: r.try_get("created_ms")?,
                settle_by_ms: r.try_get("settle_by_ms")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(DigitError::from)
}

/// The refusal of a counter payment of a held bill.
pub fn refusal(hold: &Hold, bill_number: &str) -> DigitError {
    DigitError::item(
        kosh_platform::ErrorItem::new(
            "BILL_ONLINE_PAYMENT_PENDING",
            format!(
                "An online payment of bill {bill_number} is in progress (transaction {}); it will be settled by {}. \
                 Collect only after that, or, as an employee, override the hold with \
                 additionalDetails.overridePendingOnlinePayment = true",
                hold.holder_ref,
                ist(hold.settle_by_ms)
            ),
        )
        .with_params(vec![hold.holder_ref.clone(), hold.settle_by_ms.to_string()]),
    )
}

/// A time as India Standard Time, as a counter clerk reads it.
fn ist(ms: i64) -> String {
    use chrono::{FixedOffset, TimeZone};
    let offset = FixedOffset::east_opt(5 * 3600 + 1800).expect("IST offset");
    match offset.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M IST").to_string(),
        None => ms.to_string(),
    }
}
