//! Bill cancellation (DIGIT's `/bill/v2/_cancelbill`): the latest bill of one consumer code
//! of a service is cancelled when it is ACTIVE, with the reason merged into its
//! `additionalDetails`. A latest bill that carries a payment cannot be cancelled ("in the
//! workflow"); anything else is "no active bill".

use kosh_platform::bean;
use kosh_platform::{DigitError, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::{BillStatus, store};
use crate::demand::store as demand_store;
use crate::wire::{self, blank, not_null};

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateBillRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "UpdateBillCriteria")]
    pub update_bill_criteria: Option<UpdateBillCriteria>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBillCriteria {
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    pub consumer_codes: Option<Vec<String>>,
    pub business_service: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    pub bill_ids: Option<Vec<String>>,
    #[schema(value_type = Object)]
    pub additional_details: Option<Value>,
}

/// A cancellation request that passed validation.
#[derive(Debug, Clone)]
pub struct Cancellation {
    pub tenant_id: String,
    pub business_service: String,
    pub consumer_code: String,
    pub bill_ids: Option<Vec<String>>,
    pub additional_details: Map<String, Value>,
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Cancelled(u64),
    /// No ACTIVE latest bill (DIGIT's count 0).
    NoActiveBill,
    /// The latest bill is PAID or PARTIALLY_PAID (DIGIT's count -1).
    InWorkflow,
}

/// Bean validation, DIGIT's reason checks, and the one-consumer-code rule.
/// DIGIT's `UpdateBillRequest` requires its `RequestInfo` (`@NotNull` on a field spelled
/// `RequestInfo`, hence `NotNull.updateBillRequest.RequestInfo`).
pub fn validate(request: &UpdateBillRequest) -> Result<Cancellation, DigitError> {
    bean::with_request_info(
        bean::request_info_missing(&request.request_info, "updateBillRequest.RequestInfo"),
        validate_criteria(request),
    )
}

fn validate_criteria(request: &UpdateBillRequest) -> Result<Cancellation, DigitError> {
    let Some(criteria) = &request.update_bill_criteria else {
        return Err(DigitError::item(not_null(
            "updateBillRequest.updateBillCriteria",
        )));
    };
    let path = "updateBillRequest.updateBillCriteria";
    let mut errors: Vec<ErrorItem> = Vec::new();
    if blank(&criteria.tenant_id) {
        errors.push(not_null(&format!("{path}.tenantId")));
    }
    if criteria.consumer_codes.is_none() {
        errors.push(not_null(&format!("{path}.consumerCodes")));
    }
    if blank(&criteria.business_service) {
        errors.push(not_null(&format!("{path}.businessService")));
    }
    let details = match &criteria.additional_details {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::Null) | None => {
            errors.push(not_null(&format!("{path}.additionalDetails")));
            Map::new()
        }
        Some(_) => Map::new(),
    };
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }

    let mut reasons = kosh_platform::error::ErrorMap::new();
    match details.get("reason") {
        Some(Value::String(s)) if s.is_empty() => {
            reasons.put("EG_BS_CANCELL_REASON_CODE_NOT", "Cancell Reason code cannot be empty")
        }
        Some(Value::String(_)) => {}
        _ => reasons.put(
            "EG_BS_CANCELL_REASON_CODE_NOT",
            "Cancellation Reason with key 'reason' is a madnatory Text field in additionalDetails of Bill cancell Request",
        ),
    }
    match details.get("reasonMessage") {
        Some(Value::String(s)) if s.is_empty() => reasons.put(
            "EG_BS_CANCELL_REASON_MSG_NOT",
            "Cancell Reason message cannot be empty",
        ),
        Some(Value::String(_)) => {}
        _ => reasons.put(
            "EG_BS_CANCELL_REASON_MSG_NOT",
            "Cancell Reason message with key 'reasonMessage' is madnatory Text field in additionalDetails of Bill cancell Request",
        ),
    }
    reasons.into_result()?;

    let codes = criteria.consumer_codes.clone().unwrap_or_default();
    if codes.len() > 1 {
        return Err(DigitError::new(
            "EG_BS_CANCEL_BILL_ERROR",
            "Only one consumer code can be provided in the Cancel request",
        ));
    }
    Ok(Cancellation {
        tenant_id: wire::text(&criteria.tenant_id).unwrap_or_default(),
        business_service: wire::text(&criteria.business_service).unwrap_or_default(),
        consumer_code: codes.into_iter().next().unwrap_or_default(),
        bill_ids: criteria.bill_ids.clone(),
        additional_details: details,
    })
}

/// Cancels the latest bill of the consumer code when it is ACTIVE (and among `bill_ids`,
/// when given).
pub async fn cancel(
    conn: &mut AnyConnection,
    request: &Cancellation,
    actor: &str,
    now_ms: i64,
) -> Result<Outcome, DigitError> {
    if request.consumer_code.is_empty() {
        return Ok(Outcome::NoActiveBill);
    }
    // A payment being applied to this consumer code's bill finishes first.
    demand_store::lock_consumer(
        conn,
        &request.tenant_id,
        &request.business_service,
        &request.consumer_code,
    )
    .await?;
    let Some((id, status)) = store::latest(
        conn,
        &request.tenant_id,
        &request.business_service,
        &request.consumer_code,
    )
    .await?
    else {
        return Ok(Outcome::NoActiveBill);
    };
    if status.is_paid() {
        return Ok(Outcome::InWorkflow);
    }
    let listed = request
        .bill_ids
        .as_ref()
        .is_none_or(|ids| ids.contains(&id));
    if status != BillStatus::Active || !listed {
        return Ok(Outcome::NoActiveBill);
    }
    let Some(bill) = store::load_one(conn, &request.tenant_id, &id).await? else {
        return Ok(Outcome::NoActiveBill);
    };
    let mut merged = match bill.additional_details.clone() {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    merged.extend(request.additional_details.clone());
    let cancelled = store::cancel(conn, &bill, &Value::Object(merged), actor, now_ms).await?;
    Ok(if cancelled {
        Outcome::Cancelled(1)
    } else {
        Outcome::NoActiveBill
    })
}
