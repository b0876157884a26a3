//! collection-services' HTTP API: `/collection-services/payments/_create`, `_validate`,
//! `_search`, `{module}/_search`, `_workflow` and `{module}/_workflow`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kosh_mdms::Mdms;
use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::extract::bind;
use kosh_platform::idempotency::{self, Claim};
use kosh_platform::{
    AuthUser, Clock, Db, DigitError, DigitJson, DigitQuery, RequestInfo, ResponseInfo, write_tx,
};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::command::NewPayment;
use crate::queue::PaymentQueue;
use crate::refund::{self, RefundSearchCriteria, Settlement};
use crate::search::{self, PaymentSearchCriteria};
use crate::service::{self, PaymentOptions};
use crate::visibility::Visibility;
use crate::wire::PaymentRequest;
use crate::workflow::{self, WorkflowRequest};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    PaymentQueue: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(validate))
        .routes(routes!(search_all))
        .routes(routes!(search_module))
        .routes(routes!(workflow_all))
        .routes(routes!(workflow_module))
        .routes(routes!(refunds_search))
        .routes(routes!(refunds_settle))
        .routes(routes!(refunds_daily))
}

/// Collection answers with Spring's status text.
fn response_info(request_info: Option<&RequestInfo>, now: i64) -> ResponseInfo {
    ResponseInfo::from_request(request_info, "200 OK", now)
}

/// Record a payment against one or more bills: a receipt per bill. With an
/// `Idempotency-Key` header, a repeated request gets the first answer.
#[utoipa::path(post, path = "/collection-services/payments/_create", tag = "collection-services",
    request_body = PaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key, kept 24 hours")),
    responses((status = 200, description = "ResponseInfo and Payments [payment]"), (status = 422, description = "key reused with another body")))]
async fn create(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(queue): State<PaymentQueue>,
    requester: AuthUser,
    headers: HeaderMap,
    DigitJson(body): DigitJson<Value>,
) -> Result<Response, DigitError> {
    let key = idempotency::key_from(&headers)?;
    let request: PaymentRequest = bind(body.clone())?;
    let Some(key) = key else {
        // Without a key, the payment joins the next batch (crate::queue).
        let command = NewPayment::from_request(&request)?;
        let created = queue.pay(requester, command).await?;
        let answer = json!({
            "ResponseInfo": response_info(request.request_info.as_ref(), clock.now_ms()),
            "Payments": [created.payment],
        });
        return Ok(Json(answer).into_response());
    };
    // With a key, the claim and the payment commit together, so the payment is made alone.
    let fingerprint = idempotency::fingerprint(&body);
    let scope = format!("collection.payment:{}", requester.uuid);
    let now = clock.now_ms();
    let outcome = write_tx!(db, |conn| {
        match idempotency::claim(conn, &scope, &key, &fingerprint, now).await? {
            Claim::Replay(replay) => Ok::<_, DigitError>((replay.status, replay.body)),
            Claim::Fresh => {
                let created = service::create(
                    conn,
                    &mdms,
                    &clock,
                    &requester,
                    &request,
                    &PaymentOptions::default(),
                )
                .await?;
                let answer = json!({
                    "ResponseInfo": response_info(request.request_info.as_ref(), now),
                    "Payments": [created.payment],
                });
                idempotency::complete(conn, &scope, &key, StatusCode::OK, &answer).await?;
                Ok((StatusCode::OK, answer))
            }
        }
    })?;
    Ok((outcome.0, Json(outcome.1)).into_response())
}

/// Every check of `_create`, nothing written.
#[utoipa::path(post, path = "/collection-services/payments/_validate", tag = "collection-services",
    request_body = PaymentRequest, responses((status = 200, description = "ResponseInfo and Payments [payment]")))]
async fn validate(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitJson(request): DigitJson<PaymentRequest>,
) -> Result<Json<Value>, DigitError> {
    let mut conn = db.pool().acquire().await?;
    let payment = service::validate(
        &mut conn,
        &mdms,
        &clock,
        &requester,
        &request,
        &PaymentOptions::default(),
    )
    .await?;
    Ok(Json(
        json!({"ResponseInfo": response_info(request.request_info.as_ref(), clock.now_ms()), "Payments": [payment]}),
    ))
}

async fn run_search(
    db: &Db,
    clock: &Clock,
    requester: &AuthUser,
    mut criteria: PaymentSearchCriteria,
    module: Option<String>,
    body: &RequestInfoWrapper,
) -> Result<Json<Value>, DigitError> {
    let info = response_info(body.request_info.as_ref(), clock.now_ms());
    // `/payments/{moduleName}/_search` is granted per module (`/payments/PT/_search` to
    // property tax's clerks): it finds that business service's payments only, whatever
    // `businessServices` the query adds (other services' payments are simply not found).
    if let Some(module) = module {
        let asked = criteria.business_services.take().unwrap_or_default();
        if !asked.is_empty() && !asked.iter().any(|b| b.eq_ignore_ascii_case(module.trim())) {
            return Ok(Json(if criteria.is_count_request == Some(true) {
                json!({"ResponseInfo": info, "Count": 0})
            } else {
                json!({"ResponseInfo": info, "Payments": []})
            }));
        }
        criteria.business_services = Some(vec![module]);
    }
    let mut conn = db.pool().acquire().await?;
    if criteria.is_count_request == Some(true) {
        let count = search::count(&mut conn, &criteria, requester).await?;
        return Ok(Json(json!({"ResponseInfo": info, "Count": count})));
    }
    let payments = search::search(&mut conn, &criteria, requester).await?;
    let mut records: Vec<Value> = payments.iter().map(|p| p.to_json()).collect();
    // The payer's personal data, masked for roles that may not see it (a payer's own
    // payments stay plain).
    kosh_platform::pii::mask::mask_records(
        requester,
        &requester.tenant_id,
        kosh_platform::pii::Model::Payer,
        &mut records,
    );
    Ok(Json(json!({"ResponseInfo": info, "Payments": records})))
}

/// Search payments (criteria as query parameters).
#[utoipa::path(post, path = "/collection-services/payments/_search", tag = "collection-services",
    params(PaymentSearchCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Payments, or Count with isCountRequest=true")))]
async fn search_all(
    State(db): State<Db>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitQuery(criteria): DigitQuery<PaymentSearchCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    run_search(&db, &clock, &requester, criteria, None, &body).await
}

/// Search the payments of one business service.
#[utoipa::path(post, path = "/collection-services/payments/{moduleName}/_search", tag = "collection-services",
    params(("moduleName" = String, Path, description = "business service"), PaymentSearchCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Payments, or Count")))]
async fn search_module(
    State(db): State<Db>,
    State(clock): State<Clock>,
    requester: AuthUser,
    Path(module): Path<String>,
    DigitQuery(criteria): DigitQuery<PaymentSearchCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    run_search(&db, &clock, &requester, criteria, Some(module), &body).await
}

async fn run_workflow(
    db: &Db,
    clock: &Clock,
    requester: &AuthUser,
    request: &WorkflowRequest,
    module: Option<&str>,
) -> Result<Json<Value>, DigitError> {
    let now = clock.now_ms();
    let payments = write_tx!(db, |conn| {
        workflow::run(conn, requester, request, module, now).await
    })?;
    Ok(Json(
        json!({"ResponseInfo": response_info(request.request_info.as_ref(), now), "Payments": payments}),
    ))
}

/// CANCEL, DISHONOUR or REMIT payments.
#[utoipa::path(post, path = "/collection-services/payments/_workflow", tag = "collection-services",
    request_body = WorkflowRequest, responses((status = 200, description = "ResponseInfo and Payments")))]
async fn workflow_all(
    State(db): State<Db>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitJson(request): DigitJson<WorkflowRequest>,
) -> Result<Json<Value>, DigitError> {
    run_workflow(&db, &clock, &requester, &request, None).await
}

/// CANCEL, DISHONOUR or REMIT payments of one business service.
#[utoipa::path(post, path = "/collection-services/payments/{moduleName}/_workflow", tag = "collection-services",
    params(("moduleName" = String, Path, description = "business service")),
    request_body = WorkflowRequest, responses((status = 200, description = "ResponseInfo and Payments")))]
async fn workflow_module(
    State(db): State<Db>,
    State(clock): State<Clock>,
    requester: AuthUser,
    Path(module): Path<String>,
    DigitJson(request): DigitJson<WorkflowRequest>,
) -> Result<Json<Value>, DigitError> {
    run_workflow(&db, &clock, &requester, &request, Some(&module)).await
}

/// Search refunds due: money received for a bill another channel had already paid
/// (criteria as query parameters).
#[utoipa::path(post, path = "/collection-services/refunds/_search", tag = "collection-services",
    params(RefundSearchCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Refunds")))]
async fn refunds_search(
    State(db): State<Db>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitQuery(criteria): DigitQuery<RefundSearchCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let refunds = if Visibility::of(&requester).sees_refunds() {
        let mut conn = db.pool().acquire().await?;
        refund::search(&mut conn, &criteria).await?
    } else {
        Vec::new()
    };
    let mut records: Vec<Value> = refunds.iter().map(refund::RefundDue::to_json).collect();
    kosh_platform::pii::mask::mask_records(
        &requester,
        &requester.tenant_id,
        kosh_platform::pii::Model::Payer,
        &mut records,
    );
    Ok(Json(json!({
        "ResponseInfo": response_info(body.request_info.as_ref(), clock.now_ms()),
        "Refunds": records,
    })))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    pub tenant_id: Option<String>,
    /// The day, YYYY-MM-DD, India Standard Time.
    pub date: Option<String>,
}

/// One day's refunds due of a city, with totals by channel and status (the daily books).
#[utoipa::path(post, path = "/collection-services/refunds/reports/daily", tag = "collection-services",
    params(DailyQuery), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Report {tenantId, date, count, amount, byChannel, byStatus, refunds}")))]
async fn refunds_daily(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitQuery(query): DigitQuery<DailyQuery>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    if !Visibility::of(&requester).sees_refunds() {
        return Err(DigitError::forbidden());
    }
    let (Some(tenant_id), Some(date)) = (query.tenant_id, query.date) else {
        return Err(DigitError::new(
            "INVALID_SEARCH",
            "tenantId and date (YYYY-MM-DD) are mandatory for the daily refunds report",
        ));
    };
    let tenant_id = tenant_id.trim();
    if !mdms.is_known_tenant(tenant_id) {
        return Err(DigitError::new("INVALID_TENANT_ID", "Invalid Tenant Id"));
    }
    let mut conn = db.pool().acquire().await?;
    let report = refund::daily(&mut conn, tenant_id, &date).await?;
    Ok(Json(json!({
        "ResponseInfo": response_info(body.request_info.as_ref(), clock.now_ms()),
        "Report": report,
    })))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct RefundSettleRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "Refund")]
    pub refund: Option<RefundSettlement>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundSettlement {
    pub tenant_id: Option<String>,
    pub id: Option<String>,
    /// REFUNDED (paid back; `reference` is the bank or cash reference) or ADVANCED (kept
    /// as the consumer code's advance).
    pub action: Option<String>,
    pub reference: Option<String>,
    pub note: Option<String>,
}

/// Settle a refund due, once: REFUNDED or ADVANCED. Employees only.
#[utoipa::path(post, path = "/collection-services/refunds/_settle", tag = "collection-services",
    request_body = RefundSettleRequest, responses((status = 200, description = "ResponseInfo and Refunds [refund]")))]
async fn refunds_settle(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitJson(request): DigitJson<RefundSettleRequest>,
) -> Result<Json<Value>, DigitError> {
    if !requester.user_type.eq_ignore_ascii_case("EMPLOYEE") {
        return Err(DigitError::forbidden());
    }
    let Some(settlement) = &request.refund else {
        return Err(DigitError::new(
            "NotNull.refundSettleRequest.refund",
            "must not be null",
        ));
    };
    let field = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut errors = Vec::new();
    for (name, value) in [
        ("tenantId", &settlement.tenant_id),
        ("id", &settlement.id),
        ("action", &settlement.action),
    ] {
        if field(value).is_none() {
            errors.push(kosh_platform::ErrorItem::new(
                format!("NotNull.refundSettleRequest.refund.{name}"),
                "must not be null",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let tenant_id = field(&settlement.tenant_id).unwrap_or_default();
    let id = field(&settlement.id).unwrap_or_default();
    let how = match field(&settlement.action)
        .unwrap_or_default()
        .to_ascii_uppercase()
        .as_str()
    {
        "REFUNDED" | "REFUND" => Settlement::Refunded,
        "ADVANCED" | "ADVANCE" => Settlement::Advanced,
        other => {
            return Err(DigitError::new(
                "REFUND_INVALID_ACTION",
                format!("Unknown settlement {other}: REFUNDED or ADVANCED"),
            ));
        }
    };
    let reference = field(&settlement.reference);
    if how == Settlement::Refunded && reference.is_none() {
        return Err(DigitError::new(
            "REFUND_REFERENCE_REQUIRED",
            "A refund needs the reference of the bank transfer or cash voucher that paid it back",
        ));
    }
    let note = field(&settlement.note);
    let now = clock.now_ms();
    let settled = write_tx!(db, |conn| {
        refund::settle(
            conn,
            &mdms,
            &tenant_id,
            &id,
            how,
            reference.as_deref(),
            note.as_deref(),
            &requester.uuid,
            now,
        )
        .await
    })?;
    Ok(Json(json!({
        "ResponseInfo": response_info(request.request_info.as_ref(), now),
        "Refunds": [settled.to_json()],
    })))
}
