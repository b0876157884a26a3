//! Cancelling a payment: the one path for collection's CANCEL and DISHONOUR workflow and for
//! BBPS reversals.
//!
//! DIGIT cancels a receipt only when it is the latest live receipt of every consumer code it
//! covers (`RECEIPT_WORKFLOW_ACTION_NOT_APPLICABLE` otherwise): an older receipt's money
//! has been built on by later bills. Cancelling takes the payment back off its demands and
//! re-opens its bills (billing's `reverse_payment`), marks the payment and its instrument
//! CANCELLED (or DISHONOURED), writes an audit row and the `egov.collection.payment-cancel`
//! event, all in the caller's transaction. Which payments a caller may cancel at all (by
//! mode and instrument status) is the caller's rule; liveness and "latest" are checked here.

use kosh_platform::sql::SqlBuilder;
use kosh_platform::{AuthUser, DigitError, outbox};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::command::{CancelAction, CancelPayment};
use crate::model::Payment;
use crate::service::TOPIC_CANCEL;
use crate::store;

/// Statuses of a payment that stands.
pub const LIVE: [&str; 3] = ["NEW", "DEPOSITED", "RECONCILED"];

/// What became of a cancellation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Cancelled(Box<Payment>),
    /// No such payment in the tenant.
    NotFound,
    /// Already cancelled or dishonoured.
    NotLive,
    /// A later live receipt covers one of its consumer codes.
    NotLatest,
}

/// Whether `payment` is the latest live payment for every consumer code it covers.
pub async fn is_latest(conn: &mut AnyConnection, payment: &Payment) -> Result<bool, DigitError> {
    for detail in &payment.details {
        let mut q = SqlBuilder::new(
            "SELECT p.id FROM egcl_payment p JOIN egcl_paymentdetail d ON d.tenant_id = p.tenant_id AND d.payment_id = p.id \
             WHERE d.live = 1 AND d.tenant_id = ",
        );
        q.bind(detail.tenant_id.as_str())
            .push(" AND d.consumer_code = ")
            .bind(detail.consumer_code.as_str())
            .push(" AND d.business_service = ")
            .bind(detail.business_service.as_str())
            // Ids are time-ordered: of two receipts made in one millisecond, the later made
            // is the latest, every time.
            .push(" ORDER BY p.transaction_date DESC, p.created_ms DESC, p.id DESC LIMIT 1");
        let latest = q.build().fetch_optional(&mut *conn).await?;
        if let Some(row) = latest
            && row.try_get::<String, _>(0)? != payment.id
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Loads the payment the command names and cancels it.
pub async fn cancel(
    conn: &mut AnyConnection,
    requester: &AuthUser,
    command: &CancelPayment,
    now_ms: i64,
) -> Result<Outcome, DigitError> {
    let Some(payment) = store::load(
        conn,
        &command.tenant_id,
        std::slice::from_ref(&command.payment_id),
    )
    .await?
    .into_iter()
    .next() else {
        return Ok(Outcome::NotFound);
    };
    apply(conn, requester, payment, command, now_ms).await
}

/// Cancels `payment` (already loaded by the caller, who has checked its own rules).
pub async fn apply(
    conn: &mut AnyConnection,
    requester: &AuthUser,
    mut payment: Payment,
    command: &CancelPayment,
    now_ms: i64,
) -> Result<Outcome, DigitError> {
    if !LIVE.contains(&payment.payment_status.as_str()) || payment.details.iter().any(|d| !d.live) {
        return Ok(Outcome::NotLive);
    }
    // The consumer codes' locks first, as a payment takes them: no new receipt can become
    // the latest between this check and the reversal.
    for detail in &payment.details {
        kosh_billing::demand::store::lock_consumer(
            conn,
            &detail.tenant_id,
            &detail.business_service,
            &detail.consumer_code,
        )
        .await?;
    }
    if !is_latest(conn, &payment).await? {
        return Ok(Outcome::NotLatest);
    }
    let (status, audit_action) = match command.action {
        CancelAction::Cancel => ("CANCELLED", "CANCEL"),
        CancelAction::Dishonour => ("DISHONOURED", "DISHONOUR"),
    };
    payment.payment_status = status.into();
    payment.instrument_status = status.into();
    payment.audit.last_modified_by = requester.uuid.clone();
    payment.audit.last_modified_ms = now_ms;
    merge_details(&mut payment, command.additional_details.as_ref());
    for detail in &mut payment.details {
        let bill = kosh_billing::payment::reverse_payment(
            conn,
            &detail.tenant_id,
            &detail.bill_id,
            &payment.id,
            &requester.uuid,
            now_ms,
        )
        .await?;
        detail.live = false;
        if let Some(object) = detail.bill.as_object_mut() {
            object.insert("status".into(), json!("CANCELLED"));
            object.insert("isCancelled".into(), json!(true));
            object.insert("reasonForCancellation".into(), json!(command.reason));
            object.insert(
                "billStatusAfterReversal".into(),
                json!(bill.status.as_str()),
            );
        }
        detail.audit.last_modified_by = requester.uuid.clone();
        detail.audit.last_modified_ms = now_ms;
    }
    store::update_status(conn, &payment).await?;
    store::audit(conn, &payment, audit_action, &requester.uuid, now_ms).await?;
    let mut info = command.request_info.clone();
    info.auth_token = None;
    info.user_info = Some(requester.user_info());
    let event = json!({"RequestInfo": info, "Payment": payment.to_json()});
    outbox::record(
        conn,
        &payment.tenant_id,
        TOPIC_CANCEL,
        &payment.id,
        &event,
        now_ms,
    )
    .await?;
    Ok(Outcome::Cancelled(Box::new(payment)))
}

/// Merges a workflow's or a reversal's details into the payment's additionalDetails.
pub(crate) fn merge_details(payment: &mut Payment, extra: Option<&Value>) {
    let Some(extra) = extra.and_then(Value::as_object) else {
        return;
    };
    let mut merged = payment
        .additional_details
        .clone()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    if let Some(target) = merged.as_object_mut() {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
    payment.additional_details = Some(merged);
}
