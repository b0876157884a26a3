//! The pg-service routes, in DIGIT's shapes (egov-pg-service's
//! `web/controllers/TransactionsApiController.java`):
//!
//! | route | answer |
//! |---|---|
//! | `POST /pg-service/transaction/v1/_create` | `{"ResponseInfo", "Transaction": {...}}` (an object) |
//! | `POST` or `GET /pg-service/transaction/v1/_update` | `{"ResponseInfo", "Transaction": [...]}`; the gateway's callback parameters as query or form fields |
//! | `POST /pg-service/transaction/v1/_search` | `{"ResponseInfo", "Transaction": [...]}`, newest first, at most 5 |
//! | `POST` or `GET /pg-service/gateway/v1/_search` | a bare array of gateway names (open) |
//! | `POST /pg-service/transaction/v1/_reconcile` | kosh: one reconciliation pass now (SUPERUSER) |
//!
//! The same transaction and gateway routes are served under `/egov-pg-service` too (the base
//! path of DIGIT's published `Payment Gateway Service` API reference), with the same handlers,
//! the same visibility and their own role-actions.
//!
//! `_update` is a "mixed" route of the in-process gateway: with a token it must be the
//! creator's (anyone else gets 403 `TXN_UPDATE_NOT_ALLOWED`); without one it is a gateway's
//! callback, which the gateway plugin verifies (SUCCESS is only ever taken from the gateway's
//! status API, server to server).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use kosh_mdms::Mdms;
use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::{
    AuthUser, Clock, Db, DigitError, DigitJson, DigitQuery, RequestInfo, ResponseInfo,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::reconcile;
use crate::service::PgService;
use crate::txn::Transaction;
use crate::txn::store::{self, Criteria};
use crate::txn::wire::TransactionRequest;
use crate::visibility::Visibility;

/// pg-service's ResponseInfo status on success.
pub const SUCCESSFUL: &str = "SUCCESSFUL";
/// DIGIT's fixed page size of `_search`.
pub const SEARCH_LIMIT: i64 = 5;

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<PgService>: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(create_txn))
        .routes(routes!(update_txn_post, update_txn_get))
        .routes(routes!(search_txns))
        .routes(routes!(reconcile_now))
        .routes(routes!(gateways_post, gateways_get))
        .routes(routes!(egov_create_txn))
        .routes(routes!(egov_update_txn_post, egov_update_txn_get))
        .routes(routes!(egov_search_txns))
        .routes(routes!(egov_gateways_post, egov_gateways_get))
}

/// The signed-in caller when there is one: the gateway lets `_update` through without a
/// token (a gateway's callback).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(parts.extensions.get::<AuthUser>().cloned()))
    }
}

/// What `_update` works with, taken from the application state in one extractor.
#[derive(Clone)]
pub struct Ctx {
    pub pg: Arc<PgService>,
    pub db: Db,
    pub mdms: Arc<Mdms>,
    pub clock: Clock,
}

impl<S> FromRequestParts<S> for Ctx
where
    S: Send + Sync,
    Arc<PgService>: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            pg: Arc::<PgService>::from_ref(state),
            db: Db::from_ref(state),
            mdms: Arc::<Mdms>::from_ref(state),
            clock: Clock::from_ref(state),
        })
    }
}

fn response_info(request: Option<&RequestInfo>, clock: &Clock) -> Value {
    serde_json::to_value(ResponseInfo::from_request(
        request,
        SUCCESSFUL,
        clock.now_ms(),
    ))
    .unwrap_or(Value::Null)
}

fn txn_list(txns: &[Transaction]) -> Value {
    Value::Array(txns.iter().map(Transaction::to_json).collect())
}

/// Starts a payment: checks it as DIGIT does (and collection's provisional validation), keeps
/// it PENDING and answers the gateway's redirect; a zero amount settles at once.
#[utoipa::path(post, path = "/pg-service/transaction/v1/_create", tag = "pg-service",
    request_body = TransactionRequest,
    responses((status = 200, description = "ResponseInfo and Transaction (an object) with txnId, redirectUrl, txnStatus")))]
async fn create_txn(
    ctx: Ctx,
    user: AuthUser,
    DigitJson(request): DigitJson<TransactionRequest>,
) -> Result<Json<Value>, DigitError> {
    create(&ctx, &user, &request).await
}

/// `_create` under DIGIT's documented base path.
#[utoipa::path(post, path = "/egov-pg-service/transaction/v1/_create", tag = "pg-service",
    request_body = TransactionRequest,
    responses((status = 200, description = "as /pg-service/transaction/v1/_create")))]
async fn egov_create_txn(
    ctx: Ctx,
    user: AuthUser,
    DigitJson(request): DigitJson<TransactionRequest>,
) -> Result<Json<Value>, DigitError> {
    create(&ctx, &user, &request).await
}

async fn create(
    ctx: &Ctx,
    user: &AuthUser,
    request: &TransactionRequest,
) -> Result<Json<Value>, DigitError> {
    let txn = ctx
        .pg
        .create(&ctx.db, &ctx.mdms, &ctx.clock, user, request)
        .await?;
    Ok(Json(json!({
        "ResponseInfo": response_info(request.request_info.as_ref(), &ctx.clock),
        "Transaction": txn.to_json(),
    })))
}

fn pairs_into(text: &str, params: &mut BTreeMap<String, String>) {
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(text).unwrap_or_default() {
        params.entry(k).or_insert(v);
    }
}

async fn update(
    ctx: &Ctx,
    user: Option<AuthUser>,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, DigitError> {
    let mut params = BTreeMap::new();
    pairs_into(query.as_deref().unwrap_or(""), &mut params);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut request_info = None;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        pairs_into(&String::from_utf8_lossy(body), &mut params);
    } else if let Ok(value) = serde_json::from_slice::<Value>(body) {
        request_info = kosh_platform::extract::bind::<RequestInfoWrapper>(value)
            .ok()
            .and_then(|w| w.request_info);
    }
    kosh_platform::extract::check_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let txn = ctx
        .pg
        .update(&ctx.db, &ctx.mdms, &ctx.clock, user.as_ref(), &params)
        .await?;
    Ok(Json(json!({
        "ResponseInfo": response_info(request_info.as_ref(), &ctx.clock),
        "Transaction": [txn.to_json()],
    })))
}

/// The gateway's answer about a transaction: its callback parameters (query or form fields;
/// the txn id as `eg_pg_txnid` or the gateway's own key). Settles it once; a settled
/// transaction is answered unchanged.
#[utoipa::path(post, path = "/pg-service/transaction/v1/_update", tag = "pg-service",
    request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Transaction [one]"),
        (status = 403, description = "TXN_UPDATE_NOT_ALLOWED: another user's transaction")))]
async fn update_txn_post(
    ctx: Ctx,
    MaybeUser(user): MaybeUser,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, DigitError> {
    update(&ctx, user, query, &headers, &body).await
}

/// `_update` under DIGIT's documented base path.
#[utoipa::path(post, path = "/egov-pg-service/transaction/v1/_update", tag = "pg-service",
    request_body = RequestInfoWrapper,
    responses((status = 200, description = "as /pg-service/transaction/v1/_update")))]
async fn egov_update_txn_post(
    ctx: Ctx,
    MaybeUser(user): MaybeUser,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, DigitError> {
    update(&ctx, user, query, &headers, &body).await
}

/// `_update` by GET under DIGIT's documented base path.
#[utoipa::path(get, path = "/egov-pg-service/transaction/v1/_update", tag = "pg-service",
    responses((status = 200, description = "as /pg-service/transaction/v1/_update")))]
async fn egov_update_txn_get(
    ctx: Ctx,
    MaybeUser(user): MaybeUser,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, DigitError> {
    update(&ctx, user, query, &headers, &[]).await
}

/// `_update` by GET (gateways that call back with a redirect).
#[utoipa::path(get, path = "/pg-service/transaction/v1/_update", tag = "pg-service",
    responses((status = 200, description = "ResponseInfo and Transaction [one]")))]
async fn update_txn_get(
    ctx: Ctx,
    MaybeUser(user): MaybeUser,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, DigitError> {
    update(&ctx, user, query, &headers, &[]).await
}

/// DIGIT's transaction search criteria: `TransactionCriteria` (tenantId, txnId, billId,
/// userUuid, receipt, consumerCode, txnStatus), and the API reference's spellings
/// (`egov-pg-service.yml`): `user_uuid`, `module` (the module `billId` belongs to) and
/// `moduleId` (the id within the module: the consumer code, into which DIGIT's migration
/// `V20190326220501` copied `module_id`). Every criterion given must match.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct SearchCriteria {
    pub tenant_id: Option<String>,
    pub txn_id: Option<String>,
    /// Any bill the transaction pays; with `module`, a bill of that module.
    pub bill_id: Option<String>,
    pub user_uuid: Option<String>,
    /// `userUuid` as the API reference spells it.
    #[serde(rename = "user_uuid")]
    pub user_uuid_snake: Option<String>,
    pub receipt: Option<String>,
    pub consumer_code: Option<String>,
    pub txn_status: Option<String>,
    /// The transaction's module (business service), e.g. `PT`.
    pub module: Option<String>,
    /// The API reference's name for the consumer code.
    pub module_id: Option<String>,
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Transactions by any criterion, newest first, at most 5 (DIGIT), of those the caller may
/// see ([`crate::visibility`]): a citizen or a BBPS unit its own, an employee its tenants'.
#[utoipa::path(post, path = "/pg-service/transaction/v1/_search", tag = "pg-service",
    params(SearchCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Transaction [...]")))]
async fn search_txns(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitQuery(c): DigitQuery<SearchCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    search(&db, &clock, &user, &c, &body).await
}

/// `_search` under DIGIT's documented base path.
#[utoipa::path(post, path = "/egov-pg-service/transaction/v1/_search", tag = "pg-service",
    params(SearchCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "as /pg-service/transaction/v1/_search")))]
async fn egov_search_txns(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitQuery(c): DigitQuery<SearchCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    search(&db, &clock, &user, &c, &body).await
}

/// One criterion given twice (`userUuid` and `user_uuid`, `consumerCode` and `moduleId`):
/// both must match, so two different values match nothing.
fn either(a: &Option<String>, b: &Option<String>) -> Result<Option<String>, ()> {
    match (text(a), text(b)) {
        (Some(a), Some(b)) if a != b => Err(()),
        (a, b) => Ok(a.or(b)),
    }
}

async fn search(
    db: &Db,
    clock: &Clock,
    user: &AuthUser,
    c: &SearchCriteria,
    body: &RequestInfoWrapper,
) -> Result<Json<Value>, DigitError> {
    let user_uuid = either(&c.user_uuid, &c.user_uuid_snake);
    let consumer_code = either(&c.consumer_code, &c.module_id);
    let mut criteria = Criteria {
        tenant_id: text(&c.tenant_id),
        txn_id: text(&c.txn_id),
        bill_id: text(&c.bill_id),
        user_uuid: user_uuid.clone().unwrap_or_default(),
        receipt: text(&c.receipt),
        consumer_code: consumer_code.clone().unwrap_or_default(),
        txn_status: text(&c.txn_status).map(|s| s.to_ascii_uppercase()),
        module: text(&c.module),
        limit: SEARCH_LIMIT,
        ..Criteria::default()
    };
    let satisfiable = user_uuid.is_ok() && consumer_code.is_ok();
    let txns = if satisfiable && Visibility::of(user).restrict(&mut criteria, user) {
        let mut conn = db.pool().acquire().await?;
        store::search(&mut conn, &criteria).await?
    } else {
        Vec::new()
    };
    let mut list = txn_list(&txns);
    // The payer's personal data, masked for roles that may not see it (a user's own
    // transactions stay plain).
    if let Value::Array(records) = &mut list {
        let tenant = criteria.tenant_id.as_deref().unwrap_or(&user.tenant_id);
        kosh_platform::pii::mask::mask_records(
            user,
            tenant,
            kosh_platform::pii::Model::Payer,
            records,
        );
    }
    Ok(Json(json!({
        "ResponseInfo": response_info(body.request_info.as_ref(), clock),
        "Transaction": list,
    })))
}

/// kosh: runs one reconciliation pass now (waiting up to 30 s for a running one), and
/// answers what it did.
#[utoipa::path(post, path = "/pg-service/transaction/v1/_reconcile", tag = "pg-service",
    request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo, Reconciliation {examined, succeeded, failed, pending, closed, errors} and Transaction [...]"),
        (status = 409, description = "RECONCILIATION_BUSY")))]
async fn reconcile_now(
    State(pg): State<Arc<PgService>>,
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let report = reconcile::run_pass_now(&pg, &db, &mdms, &clock, Duration::from_secs(30)).await?;
    tracing::info!(by = %kosh_platform::pii::mask::log_name(&user.user_name), examined = report.examined, "reconciliation pass on request");
    Ok(Json(json!({
        "ResponseInfo": response_info(body.request_info.as_ref(), &clock),
        "Reconciliation": {
            "examined": report.examined,
            "closed": report.closed,
            "succeeded": report.succeeded,
            "failed": report.failed,
            "pending": report.pending,
            "errors": report.errors,
        },
        "Transaction": txn_list(&report.transactions),
    })))
}

/// Every configured gateway's name, active or not, as a bare array (DIGIT).
#[utoipa::path(post, path = "/pg-service/gateway/v1/_search", tag = "pg-service",
    responses((status = 200, description = "[\"AXIS\", \"PAYU\", ...]")))]
async fn gateways_post(State(pg): State<Arc<PgService>>) -> Json<Value> {
    Json(json!(pg.registry().names()))
}

/// The same by GET.
#[utoipa::path(get, path = "/pg-service/gateway/v1/_search", tag = "pg-service",
    responses((status = 200, description = "[\"AXIS\", \"PAYU\", ...]")))]
async fn gateways_get(State(pg): State<Arc<PgService>>) -> Json<Value> {
    Json(json!(pg.registry().names()))
}

/// The gateways' names under DIGIT's documented base path.
#[utoipa::path(post, path = "/egov-pg-service/gateway/v1/_search", tag = "pg-service",
    responses((status = 200, description = "[\"AXIS\", \"PAYU\", ...]")))]
async fn egov_gateways_post(State(pg): State<Arc<PgService>>) -> Json<Value> {
    Json(json!(pg.registry().names()))
}

/// The same by GET.
#[utoipa::path(get, path = "/egov-pg-service/gateway/v1/_search", tag = "pg-service",
    responses((status = 200, description = "[\"AXIS\", \"PAYU\", ...]")))]
async fn egov_gateways_get(State(pg): State<Arc<PgService>>) -> Json<Value> {
    Json(json!(pg.registry().names()))
}
