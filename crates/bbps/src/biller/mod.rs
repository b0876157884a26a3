//! The JSON biller API under `/bbps/v1/`: the common shape of BBPS biller APIs (NPCI does not
//! standardise the operating unit's calls to a biller; this is the common ground of the
//! units' biller APIs: Setu BillCollect, Cashfree, digiledge) — bill fetch by customer
//! parameters, bill validation, payment posting, transaction status, reversal, complaints,
//! and the daily reconciliation report.
//!
//! Amounts are integers of paise. Every BBPS outcome is an HTTP 200 whose `reason` is
//! BBPS's: `responseCode` `000` with the biller's `approvalRefNum`, or `200` with a
//! compliance code (`BFR…` fetch, `BVR…` validation, `BPR…` payment) and its reason, plus a
//! `detail` for people. A request that is not well-formed is a 400 with a DIGIT error body.
//!
//! The operating-unit routes (fetch, validation, payment, reversal, complaint registration,
//! and the XML profile) answer only a SYSTEM user with the BBPS role; the biller list,
//! transaction status, complaint tracking and updates and the report also answer the
//! municipality's SUPERUSER. The gateway has already checked the token, the address (a
//! SYSTEM user's allow-list) and the role-action mapping.

pub mod wire;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kosh_mdms::Mdms;
use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::{
    AuthUser, Clock, Db, DigitError, DigitJson, DigitQuery, RequestInfo, ResponseInfo,
};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::codes::{BillerFault, ComplianceCode, ResponseCode, Stage};
use crate::complaint::{self, NewComplaint};
use crate::config::Bbps;
use crate::lookup::{Presented, Refusal};
use crate::service::{self, Answer, Ctx};
use crate::store::{TxnRow, TxnStatus};
use crate::visibility::Visibility;
use crate::{report, store};
use wire::{
    ComplaintRequest, ComplaintSearch, ComplaintUpdate, FetchRequest, PaymentWire, ReportQuery,
    ReverseRequest, StatusRequest,
};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Arc<Bbps>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(billers))
        .routes(routes!(fetch))
        .routes(routes!(validate))
        .routes(routes!(pay))
        .routes(routes!(status))
        .routes(routes!(reverse))
        .routes(routes!(register_complaint))
        .routes(routes!(complaint_status))
        .routes(routes!(update_complaint))
        .routes(routes!(daily_report_get, daily_report_post))
        .routes(routes!(health))
}

/// What every operating-unit handler needs: the shared state and the signed-in caller,
/// taken from the request in one extractor.
struct Env {
    db: Db,
    mdms: Arc<Mdms>,
    clock: Clock,
    bbps: Arc<Bbps>,
    user: AuthUser,
}

impl<S> FromRequestParts<S> for Env
where
    S: Send + Sync,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Arc<Bbps>: FromRef<S>,
{
    type Rejection = DigitError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Env {
            db: Db::from_ref(state),
            mdms: Arc::<Mdms>::from_ref(state),
            clock: Clock::from_ref(state),
            bbps: Arc::<Bbps>::from_ref(state),
            user: AuthUser::from_request_parts(parts, state).await?,
        })
    }
}

impl Env {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: &self.db,
            mdms: &self.mdms,
            clock: &self.clock,
            bbps: &self.bbps,
            user: &self.user,
        }
    }

    fn info(&self, request: Option<&RequestInfo>) -> ResponseInfo {
        ResponseInfo::from_request(request, "successful", self.clock.now_ms())
    }
}

/// Only an operating unit: a SYSTEM user with the BBPS role.
pub fn require_unit(user: &AuthUser) -> Result<(), DigitError> {
    if user.is_bbps_unit() {
        Ok(())
    } else {
        Err(DigitError::new(
            "BBPS_UNIT_ONLY",
            "Only a BBPS operating unit (a SYSTEM user with the BBPS role) may call this",
        )
        .with_status(StatusCode::FORBIDDEN))
    }
}

/// An operating unit, or the municipality's SUPERUSER (the report, the billers, status and
/// complaint tracking).
pub fn require_unit_or_superuser(user: &AuthUser) -> Result<(), DigitError> {
    if user.has_role("SUPERUSER") {
        Ok(())
    } else {
        require_unit(user)
    }
}

/// BBPS's `Reason` as JSON.
pub fn reason_ok(approval_ref_num: &str) -> Value {
    json!({
        "responseCode": ResponseCode::Success.code(),
        "responseReason": ResponseCode::Success.reason(),
        "approvalRefNum": approval_ref_num,
        "complianceRespCd": null,
        "complianceReason": null,
    })
}

pub fn reason_failed(code: ComplianceCode) -> Value {
    json!({
        "responseCode": ResponseCode::Failure.code(),
        "responseReason": ResponseCode::Failure.reason(),
        "approvalRefNum": null,
        "complianceRespCd": code.code(),
        "complianceReason": code.reason(),
    })
}

/// The compliance code of a refusal at `stage`.
pub fn code_of(refusal: &Refusal, stage: Stage) -> ComplianceCode {
    refusal.fault.code(stage).unwrap_or(match stage {
        Stage::Fetch => ComplianceCode::Bfr008UnableToFetch,
        Stage::Validation => ComplianceCode::Bvr009TechnicalError,
        Stage::Payment => ComplianceCode::Bpr005CannotAcceptNow,
    })
}

/// What a recorded transaction answers, to a repeat of its posting and to a status query
/// alike: the original receipt for a live posting, the original refusal for one that was
/// refused. A reversed posting (REVERSED, or REFUND_PENDING: BBPS took the money back
/// and the receipt could not be cancelled) is final and answers the reversal — a failure
/// (BPR007, the reference is spent) with `status` saying which — never the success with
/// a receipt that no longer stands.
pub fn txn_reason(t: &TxnRow) -> Value {
    if t.status.is_reversed() {
        return reason_failed(ComplianceCode::Bpr007RepeatPaymentRequest);
    }
    match (&t.approval_ref_num, t.status) {
        (Some(approval), _) => reason_ok(approval),
        (None, TxnStatus::Failed) => {
            let code = t
                .compliance_code
                .as_deref()
                .and_then(ComplianceCode::from_code)
                .unwrap_or(ComplianceCode::Bpr005CannotAcceptNow);
            reason_failed(code)
        }
        // Reversed before any posting.
        _ => reason_failed(ComplianceCode::Bpr007RepeatPaymentRequest),
    }
}

fn bills_json(bills: &[Presented]) -> Vec<Value> {
    bills.iter().map(Presented::to_json).collect()
}

fn customer_json(bills: &[Presented]) -> Value {
    json!({"name": bills.iter().find_map(|b| b.customer_name.clone())})
}

/// The biller's approval reference of a fetch or validation: the first bill's number.
fn fetch_approval(bills: &[Presented]) -> String {
    bills
        .first()
        .map(|b| b.bill_number.clone().unwrap_or_else(|| b.bill_id.clone()))
        .unwrap_or_default()
}

/// The billers of the caller's state, with their categories and customer parameters.
#[utoipa::path(post, path = "/bbps/v1/billers", tag = "bbps", request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Billers")))]
async fn billers(
    State(clock): State<Clock>,
    State(bbps): State<Arc<Bbps>>,
    user: AuthUser,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    require_unit_or_superuser(&user)?;
    let state = kosh_platform::tenant::state_of(&user.tenant_id);
    let list: Vec<Value> = bbps
        .billers
        .of_state(state)
        .iter()
        .map(|b| b.to_json())
        .collect();
    Ok(Json(json!({
        "ResponseInfo": ResponseInfo::from_request(body.request_info.as_ref(), "successful", clock.now_ms()),
        "Billers": list,
    })))
}

/// Bill fetch: the customer's current bills, amounts in paise, with their exactness.
#[utoipa::path(post, path = "/bbps/v1/bills/fetch", tag = "bbps", request_body = FetchRequest,
    responses((status = 200, description = "reason, customer and bills; or reason with a BFR code")))]
async fn fetch(
    env: Env,
    DigitJson(request): DigitJson<FetchRequest>,
) -> Result<Json<Value>, DigitError> {
    require_unit(&env.user)?;
    let biller_id = wire::required(&request.biller_id, "billerId")?;
    let ref_id = wire::id(&request.ref_id, "refId")?;
    let params = wire::params(&request.customer_params)?;
    let ctx = env.ctx();
    let biller = ctx.biller(&biller_id)?;
    let info = env.info(request.request_info.as_ref());
    let outcome = service::fetch(ctx, biller, &params).await?;
    if let Some(ref_id) = &ref_id {
        service::remember_fetch(ctx, biller, ref_id, "JSON", &outcome).await?;
    }
    Ok(Json(match outcome {
        Ok(bills) => json!({
            "ResponseInfo": info,
            "reason": reason_ok(&fetch_approval(&bills)),
            "billerId": biller.biller_id,
            "refId": ref_id,
            "billFetchStatus": "AVAILABLE",
            "customer": customer_json(&bills),
            "bills": bills_json(&bills),
        }),
        Err(refusal) => json!({
            "ResponseInfo": info,
            "reason": reason_failed(code_of(&refusal, Stage::Fetch)),
            "detail": refusal.detail,
            "billerId": biller.biller_id,
            "refId": ref_id,
            "billFetchStatus": if refusal.fault == BillerFault::AlreadyPaid { "NO_OUTSTANDING" } else { "NOT_AVAILABLE" },
            "bills": [],
        }),
    }))
}

/// Bill validation (validate-and-pay billers): the account and its bill; with `amount`,
/// whether the amount fits the bill's exactness.
#[utoipa::path(post, path = "/bbps/v1/bills/validate", tag = "bbps", request_body = FetchRequest,
    responses((status = 200, description = "reason, customer and bills; or reason with a BVR code")))]
async fn validate(
    env: Env,
    DigitJson(request): DigitJson<FetchRequest>,
) -> Result<Json<Value>, DigitError> {
    require_unit(&env.user)?;
    let biller_id = wire::required(&request.biller_id, "billerId")?;
    let params = wire::params(&request.customer_params)?;
    let amount = match &request.amount {
        Some(v) => Some(wire::payable(v, "amount", false)?),
        None => None,
    };
    let ctx = env.ctx();
    let biller = ctx.biller(&biller_id)?;
    let info = env.info(request.request_info.as_ref());
    let answer = match amount {
        // An amount no bill can take: refused before the bills are looked up.
        Some(Err(e)) => Err(wire::amount_refusal("amount", &e)),
        Some(Ok(p)) => service::validate(ctx, biller, &params, Some(p)).await?,
        None => service::validate(ctx, biller, &params, None).await?,
    };
    Ok(Json(match answer {
        Ok(bills) => json!({
            "ResponseInfo": info,
            "reason": reason_ok(&fetch_approval(&bills)),
            "billerId": biller.biller_id,
            "customer": customer_json(&bills),
            "bills": bills_json(&bills),
        }),
        Err(refusal) => json!({
            "ResponseInfo": info,
            "reason": reason_failed(code_of(&refusal, Stage::Validation)),
            "detail": refusal.detail,
            "billerId": biller.biller_id,
            "bills": [],
        }),
    }))
}

/// The answer to a posting, a status query or a reversal that found its transaction.
fn txn_answer(info: &ResponseInfo, t: &TxnRow) -> Value {
    json!({
        "ResponseInfo": info,
        "reason": txn_reason(t),
        "detail": txn_detail(t),
        "txnReferenceId": t.txn_reference_id,
        "status": t.status.as_str(),
        "transaction": t.to_json(),
    })
}

/// The words for people that go with [`txn_reason`].
pub fn txn_detail(t: &TxnRow) -> Option<String> {
    let receipts = t.receipt_numbers().join(", ");
    match t.status {
        TxnStatus::Reversed if t.payment_id.is_some() => Some(format!(
            "transaction {} was reversed and its receipt {receipts} cancelled; a reversed transaction is final",
            t.txn_reference_id
        )),
        TxnStatus::Reversed => Some(format!(
            "transaction {} was reversed before any posting of it; a reversed transaction is final",
            t.txn_reference_id
        )),
        TxnStatus::RefundPending => Some(format!(
            "transaction {} was reversed; its receipt {receipts} stands and the amount is a refund due; a reversed transaction is final",
            t.txn_reference_id
        )),
        _ => t.compliance_reason.clone(),
    }
}

/// Payment posting: the payment becomes a DIGIT payment (mode ONLINE, transaction number
/// = `txnReferenceId`, a receipt per bill) and the receipt number comes back as the
/// approval reference. Exactly once per `txnReferenceId`: a repeat gets the first answer,
/// another payment under the same reference BPR007. Every well-formed posting gets a BBPS
/// answer and a record, whatever its values: an unknown biller is BPR002, a biller that is
/// off BPR009, an amount that cannot be paid (negative, above kosh's ceilings, not whole
/// rupees, shares whose sum cannot be computed) BPR011 — recorded FAILED, nothing
/// collected. Only a request that is not well-formed is a 400.
#[utoipa::path(post, path = "/bbps/v1/payments", tag = "bbps", request_body = PaymentWire,
    responses((status = 200, description = "reason and transaction; or reason with a BPR code")))]
async fn pay(
    env: Env,
    DigitJson(request): DigitJson<PaymentWire>,
) -> Result<Json<Value>, DigitError> {
    require_unit(&env.user)?;
    let (biller_id, posting, amounts_refused) = request.posting()?;
    let ctx = env.ctx();
    let info = env.info(request.request_info.as_ref());
    let refused = |refusal: Refusal| {
        json!({
            "ResponseInfo": info,
            "reason": reason_failed(code_of(&refusal, Stage::Payment)),
            "detail": refusal.detail,
            "txnReferenceId": request.txn_reference_id.as_deref().map(str::trim),
            "status": "REFUSED",
            "transaction": null,
        })
    };
    Ok(Json(
        match service::post(ctx, &biller_id, &posting, amounts_refused).await {
            Ok(Answer::Txn(t)) => txn_answer(&info, &t),
            Ok(Answer::Refused(refusal)) => refused(refusal),
            // kosh or its database cannot take the payment now: BBPS's retriable refusal
            // (BPR005), deliberately not recorded (kosh could not decide the posting, and
            // could not write the record either), so that the same posting, retried under the
            // same txnReferenceId, may succeed.
            Err(e) if e.status.is_server_error() || e.retryable => {
                tracing::warn!(error = %e, "BBPS posting could not be served");
                refused(Refusal::new(
                    BillerFault::TemporarilyUnavailable,
                    "the biller cannot take the payment now; post it again",
                ))
            }
            Err(e) => return Err(e),
        },
    ))
}

/// Transaction status (BBPS "402"): SUCCESS with the receipt, FAILED with the code,
/// REVERSED, REFUND_PENDING, or NOT_FOUND when kosh never received the posting.
#[utoipa::path(post, path = "/bbps/v1/payments/status", tag = "bbps", request_body = StatusRequest,
    responses((status = 200, description = "status, reason and transaction")))]
async fn status(
    env: Env,
    DigitJson(request): DigitJson<StatusRequest>,
) -> Result<Json<Value>, DigitError> {
    require_unit_or_superuser(&env.user)?;
    let reference = wire::id(&request.txn_reference_id, "txnReferenceId")?
        .ok_or_else(|| wire::invalid("txnReferenceId", "txnReferenceId is required"))?;
    let info = env.info(request.request_info.as_ref());
    Ok(Json(match service::status(env.ctx(), &reference).await? {
        Some(t) => txn_answer(&info, &t),
        None => json!({
            "ResponseInfo": info,
            "reason": null,
            "detail": "kosh has no posting with this transaction reference",
            "txnReferenceId": reference,
            "status": "NOT_FOUND",
            "transaction": null,
        }),
    }))
}

/// Reversal: cancels the receipt when it is the latest of its consumer code (DIGIT's
/// rule), else keeps it and records a refund due (REFUND_PENDING). A reversal of a
/// reference kosh never received is recorded, and a late posting of it refused.
#[utoipa::path(post, path = "/bbps/v1/payments/reverse", tag = "bbps", request_body = ReverseRequest,
    responses((status = 200, description = "reason and the transaction as it now is")))]
async fn reverse(
    env: Env,
    DigitJson(request): DigitJson<ReverseRequest>,
) -> Result<Json<Value>, DigitError> {
    require_unit(&env.user)?;
    let reversal = request.reversal()?;
    let t = service::reverse(env.ctx(), &reversal).await?;
    let info = env.info(request.request_info.as_ref());
    let approval = t
        .approval_ref_num
        .clone()
        .unwrap_or_else(|| t.txn_reference_id.clone());
    Ok(Json(json!({
        "ResponseInfo": info,
        "reason": reason_ok(&approval),
        "detail": match t.status {
            TxnStatus::Reversed if t.payment_id.is_some() => "the receipt is cancelled",
            TxnStatus::Reversed => "nothing was posted under this reference; a later posting of it will be refused",
            TxnStatus::RefundPending => "the receipt is not the latest of its consumer code, so it stands; a refund is due",
            TxnStatus::Failed => "the posting was refused; nothing to reverse",
            _ => "",
        },
        "txnReferenceId": t.txn_reference_id,
        "status": t.status.as_str(),
        "transaction": t.to_json(),
    })))
}

/// Registers a complaint (Transaction or Service) with its turnaround deadline.
#[utoipa::path(post, path = "/bbps/v1/complaints", tag = "bbps", request_body = ComplaintRequest,
    responses((status = 200, description = "ResponseInfo and Complaint")))]
async fn register_complaint(
    env: Env,
    DigitJson(request): DigitJson<ComplaintRequest>,
) -> Result<Json<Value>, DigitError> {
    require_unit(&env.user)?;
    let new = NewComplaint {
        complaint_id: request.complaint_id.clone(),
        complaint_type: wire::required(&request.complaint_type, "complaintType")?,
        txn_reference_id: request.txn_reference_id.clone(),
        biller_id: request.biller_id.clone(),
        disposition: wire::required(&request.disposition, "disposition")?,
        description: request.description.clone(),
        customer_mobile: request.customer_mobile.clone(),
        participation_type: request.participation_type.clone(),
    };
    let ctx = env.ctx();
    let c = complaint::register(ctx, &new).await?;
    let txn_status = match &c.txn_reference_id {
        Some(r) => service::status(ctx, r)
            .await?
            .map(|t| t.status.as_str().to_string()),
        None => None,
    };
    let now = env.clock.now_ms();
    Ok(Json(json!({
        "ResponseInfo": env.info(request.request_info.as_ref()),
        "Complaint": c.to_json(now, txn_status.as_deref()),
    })))
}

/// Complaint tracking: by complaint id, or every complaint about a transaction reference.
#[utoipa::path(post, path = "/bbps/v1/complaints/status", tag = "bbps", request_body = ComplaintSearch,
    responses((status = 200, description = "ResponseInfo and Complaints")))]
async fn complaint_status(
    env: Env,
    DigitJson(request): DigitJson<ComplaintSearch>,
) -> Result<Json<Value>, DigitError> {
    require_unit_or_superuser(&env.user)?;
    let id = request
        .complaint_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let reference = wire::id(&request.txn_reference_id, "txnReferenceId")?;
    let found = complaint::find(env.ctx(), id, reference.as_deref()).await?;
    let now = env.clock.now_ms();
    Ok(Json(json!({
        "ResponseInfo": env.info(request.request_info.as_ref()),
        "Complaints": found.iter().map(|(c, s)| c.to_json(now, s.as_deref())).collect::<Vec<_>>(),
    })))
}

/// Moves a complaint on (RE_ASSIGNED, ESCALATED, RESOLVED, REJECTED, UNRESOLVED).
#[utoipa::path(post, path = "/bbps/v1/complaints/update", tag = "bbps", request_body = ComplaintUpdate,
    responses((status = 200, description = "ResponseInfo and Complaint")))]
async fn update_complaint(
    env: Env,
    DigitJson(request): DigitJson<ComplaintUpdate>,
) -> Result<Json<Value>, DigitError> {
    require_unit_or_superuser(&env.user)?;
    let id = wire::required(&request.complaint_id, "complaintId")?;
    let status = wire::required(&request.status, "status")?;
    let c = complaint::update(env.ctx(), &id, &status, request.remarks.as_deref()).await?;
    let now = env.clock.now_ms();
    Ok(Json(json!({
        "ResponseInfo": env.info(request.request_info.as_ref()),
        "Complaint": c.to_json(now, None),
    })))
}

async fn daily_report(
    db: &Db,
    clock: &Clock,
    user: &AuthUser,
    query: &ReportQuery,
) -> Result<Response, DigitError> {
    require_unit_or_superuser(user)?;
    let date = match query.date.as_deref() {
        Some(d) => {
            report::parse_date(d).ok_or_else(|| wire::invalid("date", "date must be YYYY-MM-DD"))?
        }
        None => crate::lookup::ist_date(clock.now_ms()),
    };
    let csv = match query
        .format
        .as_deref()
        .map(|f| f.trim().to_ascii_lowercase())
    {
        None => false,
        Some(f) if f == "json" => false,
        Some(f) if f == "csv" => true,
        Some(_) => return Err(wire::invalid("format", "format must be json or csv")),
    };
    let state = kosh_platform::tenant::state_of(&user.tenant_id).to_string();
    let mut conn = db.pool().acquire().await?;
    let visibility = Visibility::of(user);
    let mut transactions = store::of_day(&mut conn, &state, &date).await?;
    drop(conn);
    transactions.retain(|t| visibility.sees_txn(t));
    if csv {
        let disposition = format!("attachment; filename=\"bbps-{state}-{date}.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            report::csv(&transactions),
        )
            .into_response());
    }
    let mut body = report::json(&state, &date, &transactions)?;
    body["ResponseInfo"] = json!(ResponseInfo::from_request(
        None,
        "successful",
        clock.now_ms()
    ));
    Ok(Json(body).into_response())
}

/// The daily reconciliation report: every BBPS transaction of a business day (IST) with
/// amounts, receipt numbers and status, as JSON or CSV (`format=csv`).
#[utoipa::path(get, path = "/bbps/v1/reports/daily", tag = "bbps", params(ReportQuery),
    responses((status = 200, description = "the day's transactions and totals (JSON), or CSV")))]
async fn daily_report_get(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitQuery(query): DigitQuery<ReportQuery>,
) -> Result<Response, DigitError> {
    daily_report(&db, &clock, &user, &query).await
}

/// The daily reconciliation report (POST, for DIGIT-style clients; the criteria are query
/// parameters).
#[utoipa::path(post, path = "/bbps/v1/reports/daily", tag = "bbps", params(ReportQuery),
    responses((status = 200, description = "the day's transactions and totals (JSON), or CSV")))]
async fn daily_report_post(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitQuery(query): DigitQuery<ReportQuery>,
) -> Result<Response, DigitError> {
    daily_report(&db, &clock, &user, &query).await
}

/// The adapter's health, for the operating unit's monitoring: whether kosh reaches its
/// database, whether the NPCI XML profile is on (and where asynchronous answers go), and
/// which billers take requests. Asked with the unit's own token, from its own addresses,
/// so an `UP` also tells the unit that its credentials, allow-list and role work end to
/// end (kosh's open `/health` says only that the process is up). 503 when the database
/// does not answer.
#[utoipa::path(get, path = "/bbps/v1/health", tag = "bbps",
    responses((status = 200, description = "status UP, the database, the XML profile and the billers"),
              (status = 503, description = "status DOWN: the database does not answer")))]
async fn health(env: Env) -> Result<Response, DigitError> {
    require_unit_or_superuser(&env.user)?;
    let database = match env.db.pool().acquire().await {
        Ok(mut conn) => sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok(),
        Err(_) => false,
    };
    let state = kosh_platform::tenant::state_of(&env.user.tenant_id);
    let billers: Vec<Value> = env
        .bbps
        .billers
        .of_state(state)
        .iter()
        .map(|b| json!({"billerId": b.biller_id, "businessService": b.business_service, "active": b.active}))
        .collect();
    let now = env.clock.now_ms();
    let body = json!({
        "status": if database { "UP" } else { "DOWN" },
        "database": if database { "UP" } else { "DOWN" },
        "time": crate::codec::timestamp(now),
        "institutionId": env.bbps.institution_id,
        "xmlProfile": if env.bbps.xml.is_some() { "ON" } else { "OFF" },
        "exchange": if env.bbps.callback.is_some() { "ASYNC" } else { "SYNC" },
        "callbacks": env.bbps.callback.as_ref().map(|c| {
            let stats = c.stats();
            json!({"url": c.base_url, "delivered": stats.delivered, "pending": stats.pending, "failed": stats.failed})
        }),
        "billers": billers,
    });
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(body)).into_response())
}
