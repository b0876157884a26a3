//! Payment workflow (collection-services `PaymentWorkflowService`): CANCEL, DISHONOUR and
//! REMIT, with DIGIT's rules and messages. Cancelling or dishonouring takes the payment back
//! off its demands and re-opens its bills (billing's `reverse_payment`), in the same
//! transaction as the status change and the `egov.collection.payment-cancel` event.
//!
//! DIGIT also publishes REMIT on the cancel topic, which makes billing undo the payment of a
//! remitted receipt; kosh does not: a remittance changes no demand and publishes nothing.

use kosh_platform::{AuthUser, DigitError, RequestInfo};
use serde::Deserialize;
use serde_json::Value;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::cancel;
use crate::command::{CancelAction, CancelPayment};
use crate::model::Payment;
use crate::store;

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WorkflowRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "PaymentWorkflows")]
    pub payment_workflows: Option<Vec<PaymentWorkflow>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentWorkflow {
    pub payment_id: Option<String>,
    pub action: Option<String>,
    pub tenant_id: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub additional_details: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Cancel,
    Dishonour,
    Remit,
}

fn invalid_receipt(id: &str) -> DigitError {
    DigitError::new(
        "RECEIPT_WORKFLOW_INVALID_RECEIPT",
        format!("Payment not found in the system or not in editable state, {id}"),
    )
}

fn not_latest() -> DigitError {
    DigitError::new(
        "RECEIPT_WORKFLOW_ACTION_NOT_APPLICABLE",
        "Can only cancel / dishonour latest receipt for a consumer code. Dishonour of receipt possible only after deposited! ",
    )
}

/// Whether every detail of `payment` is of business service `module`.
fn of_module(payment: &Payment, module: &str) -> bool {
    payment
        .details
        .iter()
        .all(|d| d.business_service.eq_ignore_ascii_case(module.trim()))
}

/// Runs the workflow items in the caller's transaction; the payments as they end up.
///
/// `module` is the business service of `/payments/{moduleName}/_workflow`. Roles are granted
/// that url per module (`/payments/PT/_workflow` to property tax's clerks), so a payment of
/// another business service is not found there: DIGIT ignores the path, which would let a
/// PT clerk cancel a trade licence receipt.
pub async fn run(
    conn: &mut AnyConnection,
    requester: &AuthUser,
    request: &WorkflowRequest,
    module: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Value>, DigitError> {
    let items = request.payment_workflows.as_deref().unwrap_or_default();
    if items.is_empty() {
        return Err(DigitError::new(
            "NotNull.paymentWorkflowRequest.paymentWorkflows",
            "must not be null",
        ));
    }
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        for (field, value) in [
            ("paymentId", &item.payment_id),
            ("action", &item.action),
            ("tenantId", &item.tenant_id),
        ] {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                errors.push(kosh_platform::ErrorItem::new(
                    format!("NotNull.paymentWorkflowRequest.paymentWorkflows[{i}].{field}"),
                    "must not be null",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i.action.as_deref().unwrap_or_default().trim())
        .collect();
    if actions.iter().any(|a| !a.eq_ignore_ascii_case(actions[0])) {
        return Err(DigitError::new(
            "PAYMENT_WORKFLOW_SINGLE_ACTION_ALLOWED",
            "Only one action can be performed per request",
        ));
    }
    let tenants: Vec<&str> = items
        .iter()
        .map(|i| i.tenant_id.as_deref().unwrap_or_default().trim())
        .collect();
    if tenants.iter().any(|t| *t != tenants[0]) {
        return Err(DigitError::new(
            "CROSS_TENANT_OP_NOT_ALLOWED",
            "All workflow items must belong to the same tenant",
        ));
    }
    let action = match actions[0].to_ascii_uppercase().as_str() {
        "CANCEL" => Action::Cancel,
        "DISHONOUR" => Action::Dishonour,
        "REMIT" => Action::Remit,
        other => {
            return Err(DigitError::new(
                "INVALID_ACTION",
                format!("Unknown workflow action {other}: CANCEL, DISHONOUR or REMIT"),
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let id = item.payment_id.as_deref().unwrap_or_default().trim();
        let mut payment = store::load(conn, tenants[0], &[id.to_string()])
            .await?
            .into_iter()
            .next()
            .filter(|p| module.is_none_or(|m| of_module(p, m)))
            .ok_or_else(|| invalid_receipt(id))?;
        let mode = payment.payment_mode.as_str();
        let candidate = match action {
            Action::Cancel => payment.instrument_status == "APPROVED",
            Action::Dishonour => {
                matches!(mode, "CHEQUE" | "DD")
                    && matches!(payment.instrument_status.as_str(), "APPROVED" | "REMITTED")
            }
            Action::Remit => {
                matches!(mode, "CASH" | "CHEQUE" | "DD") && payment.instrument_status == "APPROVED"
            }
        };
        if !candidate {
            return Err(invalid_receipt(id));
        }
        let cancel_action = match action {
            Action::Cancel => CancelAction::Cancel,
            Action::Dishonour => CancelAction::Dishonour,
            Action::Remit => {
                remit(conn, requester, &mut payment, item, now_ms).await?;
                out.push(payment.to_json());
                continue;
            }
        };
        let command = CancelPayment {
            tenant_id: payment.tenant_id.clone(),
            payment_id: payment.id.clone(),
            action: cancel_action,
            reason: item.reason.clone(),
            additional_details: item.additional_details.clone(),
            request_info: request.request_info.clone().unwrap_or_default(),
        };
        let json = match cancel::apply(conn, requester, payment, &command, now_ms).await? {
            cancel::Outcome::Cancelled(payment) => payment.to_json(),
            cancel::Outcome::NotLatest => return Err(not_latest()),
            cancel::Outcome::NotFound | cancel::Outcome::NotLive => {
                return Err(invalid_receipt(id));
            }
        };
        out.push(json);
    }
    Ok(out)
}

/// REMIT: the cash, cheque or DD reached the bank. No demand changes and no event.
async fn remit(
    conn: &mut AnyConnection,
    requester: &AuthUser,
    payment: &mut Payment,
    item: &PaymentWorkflow,
    now_ms: i64,
) -> Result<(), DigitError> {
    payment.payment_status = "DEPOSITED".into();
    payment.instrument_status = "REMITTED".into();
    payment.audit.last_modified_by = requester.uuid.clone();
    payment.audit.last_modified_ms = now_ms;
    cancel::merge_details(payment, item.additional_details.as_ref());
    store::update_status(conn, payment).await?;
    store::audit(conn, payment, "REMIT", &requester.uuid, now_ms).await
}
