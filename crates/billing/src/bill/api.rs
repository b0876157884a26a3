//! `/billing-service/bill/v2/_fetchbill`, `/_search` and `/_cancelbill`, in DIGIT's shapes:
//! criteria as query parameters, bills under `Bill` beside the misspelt `ResposneInfo`, and
//! HTTP 201 from fetch-bill.

use std::borrow::Cow;

use kosh_platform::pii;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kosh_mdms::Mdms;
use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::{AuthUser, Clock, Db, DigitError, DigitJson, DigitQuery, write_tx};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Bill;
use super::cache::{self, BillCache};
use super::cancel::{self, Outcome, UpdateBillRequest};
use super::fetch::{self, FetchCriteria};
use super::search::{self, BillSearchCriteria};
use crate::rules::check_state_level_tenant;
use crate::visibility::Scope;
use crate::wire::{self, blank, not_null};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
    Arc<BillCache>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(fetch_bill))
        .routes(routes!(search_bills))
        .routes(routes!(cancel_bill))
}

/// DIGIT's GenerateBillCriteria.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct GenerateBillCriteria {
    pub tenant_id: Option<String>,
    pub business_service: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub consumer_code: Option<Vec<String>>,
    pub demand_id: Option<String>,
    pub email: Option<String>,
    pub mobile_number: Option<String>,
}

fn bills_body(
    request: Option<&kosh_platform::RequestInfo>,
    status: &str,
    now: i64,
    bills: &[Bill],
) -> Value {
    json!({
        "ResposneInfo": wire::response_info(request, status, now),
        "Bill": bills.iter().map(Bill::to_json).collect::<Vec<_>>(),
    })
}

/// The bills of consumer codes: reused while valid, otherwise made anew (HTTP 201).
#[utoipa::path(post, path = "/billing-service/bill/v2/_fetchbill", tag = "billing-service",
    params(GenerateBillCriteria), request_body = RequestInfoWrapper,
    responses((status = 201, description = "ResposneInfo and Bill [...]")))]
async fn fetch_bill(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(bill_cache): State<Arc<BillCache>>,
    user: AuthUser,
    DigitQuery(criteria): DigitQuery<GenerateBillCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Response, DigitError> {
    let mut errors = Vec::new();
    if blank(&criteria.tenant_id) {
        errors.push(not_null("generateBillCriteria.tenantId"));
    }
    if blank(&criteria.business_service) {
        errors.push(not_null("generateBillCriteria.businessService"));
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let tenant_id = wire::text(&criteria.tenant_id).unwrap_or_default();
    check_state_level_tenant(&user, &tenant_id)?;
    let consumer_codes = criteria.consumer_code.clone().unwrap_or_default();
    let demand_id = wire::text(&criteria.demand_id);
    let mobile_number = wire::text(&criteria.mobile_number);
    let email = wire::text(&criteria.email);
    if demand_id.is_none()
        && mobile_number.is_none()
        && email.is_none()
        && consumer_codes.is_empty()
    {
        return Err(DigitError::new(
            "BILL_GEN_MANDATORY_FIELDS_MISSING",
            "Valid search criteria fields missing, please give some valid criteria like mobileNumber/email OR 'businessService & consumerCode' OR demandId",
        ));
    }
    let scope = Scope::of(&db, &user, &tenant_id).await?;
    let fetch = FetchCriteria {
        tenant_id,
        business_service: wire::text(&criteria.business_service).unwrap_or_default(),
        consumer_codes,
        demand_id,
        mobile_number,
        email,
        scope,
    };
    // By consumer codes alone, a bill that is still valid may be answered from this
    // instance's copy (bill::cache), with no database read at all.
    let key = cache::Key::for_fetch(&fetch);
    if let Some(key) = &key
        && let Some(bills_json) = bill_cache.get(key, clock.now_ms())
    {
        return Ok(fetched(
            body.request_info.as_ref(),
            clock.now_ms(),
            &masked_for(&user, &fetch.tenant_id, &bills_json),
        ));
    }
    let ticket = key.map(|key| bill_cache.ticket(key));
    // Most fetches find a valid bill: answer those from the read pool (by consumer codes, one
    // indexed statement), and take the write transaction (on SQLite, the single writer) only
    // to make, expire or regenerate one.
    let reused = fetch::reuse_existing(&db, &clock, &fetch).await?;
    let bills_json = match (reused, ticket) {
        (Some(bills), Some(ticket)) => bill_cache.put(ticket, &bills, clock.now_ms()),
        (Some(bills), None) => cache::json_array(&bills),
        (None, _) => cache::json_array(&write_tx!(db, |conn| {
            fetch::fetch_after_miss(conn, &mdms, &clock, &fetch, &user.uuid).await
        })?),
    };
    Ok(fetched(
        body.request_info.as_ref(),
        clock.now_ms(),
        &masked_for(&user, &fetch.tenant_id, &bills_json),
    ))
}

/// Serialised bills with the payer's personal data masked for a caller whose roles may not
/// see it (DataSecurity.SecurityPolicy, model Payer); for the roles that see it plain (every
/// employee role, by the shipped policy) the text is answered as it is, with no parsing.
fn masked_for<'a>(user: &AuthUser, tenant_id: &str, bills_json: &'a str) -> Cow<'a, str> {
    let m = pii::masking_for(
        tenant_id,
        pii::Model::Payer,
        user.roles.iter().map(|r| r.code.as_str()),
    );
    if m.is_plain() {
        return Cow::Borrowed(bills_json);
    }
    match serde_json::from_str::<Value>(bills_json) {
        Ok(Value::Array(mut bills)) => {
            pii::mask::mask_records(user, tenant_id, pii::Model::Payer, &mut bills);
            Cow::Owned(Value::Array(bills).to_string())
        }
        _ => Cow::Borrowed(bills_json),
    }
}

/// Fetch-bill's answer around its bills, already serialised: the envelope [`bills_body`]
/// makes for search, key for key, with HTTP 201.
fn fetched(request: Option<&kosh_platform::RequestInfo>, now: i64, bills_json: &str) -> Response {
    let info = wire::response_info(request, wire::CREATED, now);
    let body = format!(r#"{{"ResposneInfo":{info},"Bill":{bills_json}}}"#);
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Search bills by any criterion; the latest bill per consumer code.
#[utoipa::path(post, path = "/billing-service/bill/v2/_search", tag = "billing-service",
    params(BillSearchCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResposneInfo and Bill [...]")))]
async fn search_bills(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitQuery(criteria): DigitQuery<BillSearchCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let tenant_id = search::validate(&criteria, &user)?;
    let scope = Scope::of(&db, &user, &tenant_id).await?;
    let mut conn = db.pool().acquire().await?;
    let bills = search::search(&mut conn, &tenant_id, &criteria, &scope).await?;
    let mut answer = bills_body(body.request_info.as_ref(), wire::OK, clock.now_ms(), &bills);
    if let Some(Value::Array(records)) = answer.get_mut("Bill") {
        pii::mask::mask_records(&user, &tenant_id, pii::Model::Payer, records);
    }
    Ok(Json(answer))
}

/// Cancel the ACTIVE bill of one consumer code.
#[utoipa::path(post, path = "/billing-service/bill/v2/_cancelbill", tag = "billing-service",
    request_body = UpdateBillRequest,
    responses((status = 200, description = "ResponseInfo and Message"),
        (status = 400, description = "ResponseInfo and Message, or Errors")))]
async fn cancel_bill(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitJson(request): DigitJson<UpdateBillRequest>,
) -> Result<(StatusCode, Json<Value>), DigitError> {
    let cancellation = cancel::validate(&request)?;
    let now = clock.now_ms();
    let outcome = write_tx!(db, |conn| {
        cancel::cancel(conn, &cancellation, &user.uuid, now).await
    })?;
    let (status, message) = match outcome {
        Outcome::Cancelled(count) => (
            StatusCode::OK,
            format!("Successfully cancelled {count} Active bills for given consumer codes"),
        ),
        Outcome::InWorkflow => (
            StatusCode::BAD_REQUEST,
            "You cannot cancel the bill in the workflow".to_string(),
        ),
        Outcome::NoActiveBill => (
            StatusCode::BAD_REQUEST,
            "No Active bills found for cancellation for the given criteria".to_string(),
        ),
    };
    let spring_status = if status == StatusCode::OK {
        wire::OK
    } else {
        wire::BAD_REQUEST
    };
    if let Outcome::Cancelled(_) = outcome {
        tracing::info!(consumer_code = %cancellation.consumer_code, by = %user.uuid, "bill cancelled");
    }
    Ok((
        status,
        Json(json!({
            "ResponseInfo": wire::response_info(request.request_info.as_ref(), spring_status, now),
            "Message": message,
        })),
    ))
}
