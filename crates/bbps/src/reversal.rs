//! Cancelling the DIGIT payment of a reversed BBPS posting.
//!
//! DIGIT cancels a receipt only when it is the latest live receipt of every consumer code
//! it covers (`RECEIPT_WORKFLOW_ACTION_NOT_APPLICABLE` otherwise), and its employee
//! workflow cancels only APPROVED instruments — which an ONLINE payment never is: it is
//! REMITTED from creation, because the money is already in the bank (BEHAVIOUR.md, payment
//! workflow). A BBPS reversal is the other case: the money goes back to the payer through
//! BBPS's own settlement, so there is nothing the municipality must refund and the receipt
//! must not stand. So a reversal cancels the payment under the "latest receipt" rule alone,
//! with the same effects as collection's CANCEL (`kosh_collection::workflow`): the money
//! taken back off the demands and the bills re-opened (`kosh_billing::reverse_payment`),
//! payment and instrument CANCELLED, an audit row, and `egov.collection.payment-cancel` in
//! the outbox — all in the caller's transaction. A receipt that is not the latest is left
//! standing and the caller records a refund due.

use kosh_collection::search::{self, PaymentSearchCriteria};
use kosh_collection::service::TOPIC_CANCEL;
use kosh_collection::store as payments;
use kosh_platform::{AuthUser, DigitError, outbox};
use serde_json::json;
use sqlx::AnyConnection;

/// Statuses of a payment that stands.
const LIVE: [&str; 3] = ["NEW", "DEPOSITED", "RECONCILED"];

/// Cancels payment `payment_id` of `tenant_id` when it is live and the latest receipt of
/// each consumer code it covers; `false` (nothing written) when it is not.
pub async fn cancel(
    conn: &mut AnyConnection,
    requester: &AuthUser,
    tenant_id: &str,
    payment_id: &str,
    reason: &str,
    reference: &str,
    now_ms: i64,
) -> Result<bool, DigitError> {
    let Some(mut payment) = payments::load(conn, &[payment_id.to_string()])
        .await?
        .into_iter()
        .find(|p| p.tenant_id == tenant_id)
    else {
        return Ok(false);
    };
    if !LIVE.contains(&payment.payment_status.as_str()) || payment.details.iter().any(|d| !d.live) {
        return Ok(false);
    }
    for detail in &payment.details {
        let criteria = PaymentSearchCriteria {
            tenant_id: Some(detail.tenant_id.clone()),
            consumer_codes: Some(vec![detail.consumer_code.clone()]),
            business_services: Some(vec![detail.business_service.clone()]),
            status: Some(LIVE.iter().map(|s| s.to_string()).collect()),
            limit: Some(search::MAX_LIMIT),
            ..PaymentSearchCriteria::default()
        };
        let key = |p: &kosh_collection::model::Payment| (p.transaction_date, p.audit.created_ms);
        let mine = key(&payment);
        let later = search::search(conn, &criteria, requester)
            .await?
            .iter()
            .any(|p| p.id != payment.id && key(p) > mine);
        if later {
            return Ok(false);
        }
    }
    payment.payment_status = "CANCELLED".into();
    payment.instrument_status = "CANCELLED".into();
    payment.audit.last_modified_by = requester.uuid.clone();
    payment.audit.last_modified_ms = now_ms;
    let mut extra = payment
        .additional_details
        .clone()
        .unwrap_or_else(|| json!({}));
    if let Some(object) = extra.as_object_mut() {
        object.insert("bbpsReversal".into(), json!(reference));
    }
    payment.additional_details = Some(extra);
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
            object.insert("reasonForCancellation".into(), json!(reason));
            object.insert(
                "billStatusAfterReversal".into(),
                json!(bill.status.as_str()),
            );
        }
        detail.audit.last_modified_by = requester.uuid.clone();
        detail.audit.last_modified_ms = now_ms;
    }
    payments::update_status(conn, &payment).await?;
    payments::audit(conn, &payment, "CANCEL", &requester.uuid, now_ms).await?;
    let event = json!({
        "RequestInfo": {"apiId": "bbps", "userInfo": requester.user_info()},
        "Payment": payment.to_json(),
    });
    outbox::record(
        conn,
        &payment.tenant_id,
        TOPIC_CANCEL,
        &payment.id,
        &event,
        now_ms,
    )
    .await?;
    Ok(true)
}
