//! Cancelling the DIGIT payment of a reversed BBPS posting.
//!
//! DIGIT cancels a receipt only when it is the latest live receipt of every consumer code
//! it covers (`RECEIPT_WORKFLOW_ACTION_NOT_APPLICABLE` otherwise), and its employee
//! workflow cancels only APPROVED instruments — which an ONLINE payment never is: it is
//! REMITTED from creation, because the money is already in the bank (collection-services
//! `PaymentWorkflowValidator`: CANCEL takes only APPROVED instruments). A BBPS reversal is
//! the other case: the money goes back to the payer through BBPS's own settlement, so there
//! is nothing the municipality must refund and the receipt must not stand. So a reversal
//! cancels the payment under the "latest receipt" rule alone, through collection's one
//! cancel path (`kosh_collection::cancel`, which the CANCEL workflow uses too): the money
//! taken back off the demands and the bills re-opened, payment and instrument CANCELLED, an
//! audit row, and `egov.collection.payment-cancel` in the outbox, all in the caller's
//! transaction. A receipt that is not the latest is left standing and the caller records a
//! refund due.

use kosh_collection::cancel::{self, Outcome};
use kosh_collection::command::{CancelAction, CancelPayment};
use kosh_platform::{AuthUser, DigitError, RequestInfo};
use serde_json::json;
use sqlx::AnyConnection;

/// Cancels payment `payment_id` of `tenant_id` through collection's one cancel path when it
/// is live and the latest receipt of each consumer code it covers; `false` (nothing
/// written) when it is not.
pub async fn cancel(
    conn: &mut AnyConnection,
    requester: &AuthUser,
    tenant_id: &str,
    payment_id: &str,
    reason: &str,
    reference: &str,
    now_ms: i64,
) -> Result<bool, DigitError> {
    let command = CancelPayment {
        tenant_id: tenant_id.to_string(),
        payment_id: payment_id.to_string(),
        action: CancelAction::Cancel,
        reason: Some(reason.to_string()),
        additional_details: Some(json!({"bbpsReversal": reference})),
        request_info: RequestInfo {
            api_id: Some("bbps".into()),
            ..RequestInfo::default()
        },
    };
    Ok(matches!(
        cancel::cancel(conn, requester, &command, now_ms).await?,
        Outcome::Cancelled(_)
    ))
}
