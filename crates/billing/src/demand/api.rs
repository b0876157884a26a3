//! `/billing-service/demand/_create`, `_update` (both HTTP 201) and `_search`.
//!
//! A create or update takes the demand row locks of each consumer code it touches first,
//! validates inside the same transaction (DIGIT's rules on the request, then kosh's on the
//! demands it would write: `validate::written`), writes the demands and an audit copy of
//! each, and expires the ACTIVE bills of those consumer codes (their amounts no longer hold).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kosh_identity::users::User;
use kosh_mdms::Mdms;
use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::money::Paise;
use kosh_platform::{AuthUser, Clock, Db, DigitError, DigitJson, DigitQuery, write_tx};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::AnyConnection;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{self, DemandDraft, DemandRequest};
use super::store::{self, Change, DemandFilter};
use super::validate;
use super::{Audit, Demand, DemandDetail, DemandStatus, new_id};
use crate::bill::store as bill_store;
use crate::rules::check_state_level_tenant;
use crate::visibility::Scope;
use crate::{payer, wire};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(update))
        .routes(routes!(search))
}

fn demands_body(
    request: Option<&kosh_platform::RequestInfo>,
    status: &str,
    now: i64,
    demands: &[Demand],
    payers: &HashMap<String, User>,
) -> Value {
    json!({
        "ResponseInfo": wire::response_info(request, status, now),
        "Demands": demands
            .iter()
            .map(|d| d.to_json(d.payer.as_ref().and_then(|p| payers.get(p))))
            .collect::<Vec<_>>(),
    })
}

/// [`demands_body`] as the bytes of the answer, written out demand by demand: only one
/// demand's JSON tree exists at a time, not the whole answer's. As whole trees, the answers
/// of the benchmark's calls of 500 demands (eight at once) were the largest part of kosh's
/// heap at its peak: 11-12 MB of 33-36 MB (heaptrack, both databases). On SQLite the calls
/// that share a group commit are answered together, so their trees were built at once.
fn demands_answer(
    request: Option<&kosh_platform::RequestInfo>,
    status: &str,
    now: i64,
    demands: &[Demand],
    payers: &HashMap<String, User>,
) -> Response {
    fn write(out: &mut Vec<u8>, value: &Value) {
        // A JSON value (string keys only) written to memory has nothing that can fail.
        serde_json::to_writer(out, value).expect("a JSON value writes to a Vec");
    }
    // About what one demand with its details takes as JSON text.
    let mut out = Vec::with_capacity(256 + demands.len() * 1024);
    out.extend_from_slice(b"{\"ResponseInfo\":");
    write(&mut out, &wire::response_info(request, status, now));
    out.extend_from_slice(b",\"Demands\":[");
    for (i, d) in demands.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(
            &mut out,
            &d.to_json(d.payer.as_ref().and_then(|p| payers.get(p))),
        );
    }
    out.extend_from_slice(b"]}");
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response()
}

/// The request's RequestInfo, the rest dropped: once checked, the demands as sent (hundreds
/// of kilobytes for a call of 500) go before the transaction, not after the answer.
fn request_info_only(request: DemandRequest) -> Option<kosh_platform::RequestInfo> {
    request.request_info
}

/// (tenant, service, consumer code) of each demand, sorted and without repeats: the order
/// in which locks are taken.
fn consumer_keys<'a>(
    demands: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> BTreeSet<(String, String, String)> {
    demands
        .into_iter()
        .map(|(t, s, c)| (t.to_string(), s.to_string(), c.to_string()))
        .collect()
}

/// The consumer codes of `keys` by (tenant, service), each list sorted: what the set-based
/// statements below take, a few hundred codes per statement.
fn by_service(keys: &BTreeSet<(String, String, String)>) -> BTreeMap<(&str, &str), Vec<String>> {
    let mut out: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for (tenant, service, code) in keys {
        out.entry((tenant.as_str(), service.as_str()))
            .or_default()
            .push(code.clone());
    }
    out
}

/// Locks the ACTIVE demands of every consumer code of `keys`: one statement per tenant and
/// service (and few hundred codes), in key order.
async fn lock_all(
    conn: &mut AnyConnection,
    keys: &BTreeSet<(String, String, String)>,
) -> Result<(), DigitError> {
    for ((tenant, service), codes) in by_service(keys) {
        store::lock_consumers(conn, tenant, service, &codes).await?;
    }
    Ok(())
}

/// Expires the ACTIVE bill of each consumer code of `keys` (its amounts are no longer the
/// demands'): one look-up per tenant and service finds the codes that have one, and only
/// those are written.
async fn expire_bills(
    conn: &mut AnyConnection,
    keys: &BTreeSet<(String, String, String)>,
    actor: &str,
    now: i64,
) -> Result<(), DigitError> {
    for ((tenant, service), codes) in by_service(keys) {
        for code in bill_store::with_active_bill(conn, tenant, service, &codes).await? {
            bill_store::expire_active(conn, tenant, service, &code, None, actor, now).await?;
        }
    }
    Ok(())
}

pub(crate) fn new_demand(draft: &DemandDraft, actor: &str, now: i64) -> Demand {
    let id = new_id();
    let audit = Audit::new(actor, now);
    Demand {
        id: id.clone(),
        tenant_id: draft.tenant_id.clone(),
        consumer_code: draft.consumer_code.clone(),
        consumer_type: draft.consumer_type.clone(),
        business_service: draft.business_service.clone(),
        payer: draft.payer.clone(),
        tax_period_from: draft.tax_period_from,
        tax_period_to: draft.tax_period_to,
        minimum_amount_payable: draft.minimum_amount_payable,
        bill_expiry_time: draft.bill_expiry_time,
        fixed_bill_expiry_date: draft.fixed_bill_expiry_date,
        status: draft.status.unwrap_or(DemandStatus::Active),
        is_payment_completed: false,
        additional_details: draft.additional_details.clone(),
        audit: audit.clone(),
        details: draft
            .details
            .iter()
            .map(|d| DemandDetail {
                id: new_id(),
                demand_id: id.clone(),
                tenant_id: draft.tenant_id.clone(),
                tax_head_code: d.tax_head_code.clone(),
                tax_amount: d.tax_amount,
                collection_amount: d.collection_amount,
                additional_details: d.additional_details.clone(),
                audit: audit.clone(),
            })
            .collect(),
    }
}

/// The stored demand after an update: the request's amounts and fields, the stored
/// collection amounts (only payments move them), new details collected at zero.
fn updated_demand(old: &Demand, draft: &DemandDraft, actor: &str, now: i64) -> Demand {
    let mut details = old.details.clone();
    for d in &draft.details {
        match d
            .id
            .as_ref()
            .and_then(|id| details.iter_mut().find(|x| &x.id == id))
        {
            Some(existing) => {
                existing.tax_amount = d.tax_amount;
                existing.additional_details = d.additional_details.clone();
                existing.audit = existing.audit.touched(actor, now);
            }
            None => details.push(DemandDetail {
                id: new_id(),
                demand_id: old.id.clone(),
                tenant_id: old.tenant_id.clone(),
                tax_head_code: d.tax_head_code.clone(),
                tax_amount: d.tax_amount,
                collection_amount: Paise::ZERO,
                additional_details: d.additional_details.clone(),
                audit: Audit::new(actor, now),
            }),
        }
    }
    let mut demand = Demand {
        payer: draft.payer.clone().or_else(|| old.payer.clone()),
        tax_period_from: draft.tax_period_from,
        tax_period_to: draft.tax_period_to,
        minimum_amount_payable: draft.minimum_amount_payable,
        bill_expiry_time: draft.bill_expiry_time,
        fixed_bill_expiry_date: draft.fixed_bill_expiry_date,
        status: draft.status.unwrap_or(old.status),
        additional_details: draft.additional_details.clone(),
        audit: old.audit.touched(actor, now),
        details,
        ..old.clone()
    };
    // Completed stays completed only while nothing new is owed.
    demand.is_payment_completed = old.is_payment_completed && demand.fully_collected();
    demand
}

/// A duplicate found only by the unique key (a concurrent create) becomes a retry: the next
/// attempt's look-up, under the locks, finds the other create's demand and names its codes.
fn retry_on_duplicate(err: DigitError) -> DigitError {
    if err.first_code() == Some("EG_BS_DUPLICATE_CONSUMERCODE") {
        let mut retry = DigitError::unavailable("a concurrent request created the same demand");
        retry.retryable = true;
        return retry;
    }
    err
}

/// Create demands.
#[utoipa::path(post, path = "/billing-service/demand/_create", tag = "billing-service",
    request_body = DemandRequest,
    responses((status = 201, description = "ResponseInfo and Demands [...]")))]
async fn create(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitJson(request): DigitJson<DemandRequest>,
) -> Result<Response, DigitError> {
    let drafts = input::checked(&request)?;
    let request_info = request_info_only(request);
    let now = clock.now_ms();
    let keys = consumer_keys(drafts.iter().map(|d| {
        (
            d.tenant_id.as_str(),
            d.business_service.as_str(),
            d.consumer_code.as_str(),
        )
    }));
    let (demands, payers) = write_tx!(db, |conn| {
        lock_all(conn, &keys).await?;
        let payers = validate::for_create(conn, &mdms, &drafts).await?;
        let created: Vec<Demand> = drafts
            .iter()
            .map(|draft| new_demand(draft, &user.uuid, now))
            .collect();
        validate::written(&mdms, created.iter().map(|d| (d, None)))?;
        // Multi-row inserts and one audit-chain append for the whole call. The duplicates
        // were looked for under the locks; a clash now is a concurrent create of a code that
        // had no ACTIVE demand to lock, and the retry names it exactly.
        store::insert_many(conn, &created)
            .await
            .map_err(retry_on_duplicate)?;
        store::audit_many(conn, &created, Change::Create).await?;
        expire_bills(conn, &keys, &user.uuid, now).await?;
        Ok::<_, DigitError>((created, payers))
    })?;
    drop((drafts, keys));
    Ok(demands_answer(
        request_info.as_ref(),
        wire::CREATED,
        now,
        &demands,
        &payers,
    ))
}

/// The stored demands the drafts name, by id.
async fn stored_demands(
    conn: &mut AnyConnection,
    drafts: &[DemandDraft],
) -> Result<HashMap<String, Demand>, DigitError> {
    let mut by_tenant: HashMap<&str, Vec<String>> = HashMap::new();
    for draft in drafts {
        if let Some(id) = &draft.id {
            by_tenant
                .entry(draft.tenant_id.as_str())
                .or_default()
                .push(id.clone());
        }
    }
    let mut out = HashMap::new();
    for (tenant, ids) in by_tenant {
        for demand in store::load(conn, tenant, &ids).await? {
            if demand.tenant_id == tenant {
                out.insert(demand.id.clone(), demand);
            }
        }
    }
    Ok(out)
}

/// Update demands (each must carry its id).
#[utoipa::path(post, path = "/billing-service/demand/_update", tag = "billing-service",
    request_body = DemandRequest,
    responses((status = 201, description = "ResponseInfo and Demands [...]")))]
async fn update(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitJson(request): DigitJson<DemandRequest>,
) -> Result<Response, DigitError> {
    let drafts = input::checked(&request)?;
    let request_info = request_info_only(request);
    let now = clock.now_ms();
    let (demands, payers) = write_tx!(db, |conn| {
        // Lock the consumer codes the stored demands belong to, then read them again.
        let before = stored_demands(conn, &drafts).await?;
        let keys = consumer_keys(before.values().map(|d| {
            (
                d.tenant_id.as_str(),
                d.business_service.as_str(),
                d.consumer_code.as_str(),
            )
        }));
        lock_all(conn, &keys).await?;
        let stored = stored_demands(conn, &drafts).await?;
        let payers = validate::for_update(conn, &mdms, &drafts, &stored).await?;
        let mut changes = Vec::new();
        for draft in &drafts {
            let Some(old) = draft.id.as_ref().and_then(|id| stored.get(id)) else {
                continue;
            };
            changes.push((updated_demand(old, draft, &user.uuid, now), old));
        }
        validate::written(&mdms, changes.iter().map(|(new, old)| (new, Some(*old))))?;
        let mut updated = Vec::new();
        for (demand, _) in changes {
            store::update(conn, &demand).await?;
            store::audit(conn, &demand, Change::Update).await?;
            updated.push(demand);
        }
        expire_bills(conn, &keys, &user.uuid, now).await?;
        Ok::<_, DigitError>((updated, payers))
    })?;
    drop(drafts);
    Ok(demands_answer(
        request_info.as_ref(),
        wire::CREATED,
        now,
        &demands,
        &payers,
    ))
}

/// DIGIT's DemandCriteria.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct DemandCriteria {
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub demand_id: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub payer: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub consumer_code: Option<Vec<String>>,
    pub business_service: Option<String>,
    pub demand_from: Option<i64>,
    pub demand_to: Option<i64>,
    pub period_from: Option<i64>,
    pub period_to: Option<i64>,
    #[serde(rename = "type")]
    pub demand_type: Option<String>,
    pub mobile_number: Option<String>,
    pub email: Option<String>,
    pub status: Option<String>,
    pub is_payment_completed: Option<bool>,
    pub receipt_required: Option<bool>,
}

/// Search demands.
#[utoipa::path(post, path = "/billing-service/demand/_search", tag = "billing-service",
    params(DemandCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and Demands [...]")))]
async fn search(
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitQuery(criteria): DigitQuery<DemandCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let Some(tenant_id) = wire::text(&criteria.tenant_id) else {
        return Err(DigitError::item(wire::not_null("demandCriteria.tenantId")));
    };
    check_state_level_tenant(&user, &tenant_id)?;
    let mobile = wire::text(&criteria.mobile_number);
    let email = wire::text(&criteria.email);
    if criteria.demand_id.is_none()
        && criteria.consumer_code.is_none()
        && mobile.is_none()
        && email.is_none()
        && wire::blank(&criteria.business_service)
        && criteria.demand_from.is_none()
        && criteria.demand_to.is_none()
        && wire::blank(&criteria.demand_type)
    {
        return Err(DigitError::new(
            "businessService",
            " Any one of the fields additional to tenantId is mandatory",
        ));
    }
    let scope = Scope::of(&db, &user, &tenant_id).await?;
    let mut conn = db.pool().acquire().await?;
    let by_account = criteria.demand_id.is_some() || criteria.consumer_code.is_some();
    if !scope.may_search(by_account, mobile.is_some() || email.is_some()) {
        return Ok(Json(demands_body(
            body.request_info.as_ref(),
            wire::OK,
            clock.now_ms(),
            &[],
            &HashMap::new(),
        )));
    }
    let mut payers = criteria.payer.clone();
    if mobile.is_some() || email.is_some() {
        let found =
            payer::uuids_with_contact(&mut conn, &tenant_id, mobile.as_deref(), email.as_deref())
                .await?;
        payers = Some(match payers {
            Some(given) => given.into_iter().filter(|p| found.contains(p)).collect(),
            None => found,
        });
    }
    let payers = scope.payers(payers);
    let status = match wire::text(&criteria.status) {
        None => None,
        Some(text) => match DemandStatus::parse(&text) {
            Some(status) => Some(status),
            // An unknown status matches no demand.
            None => {
                return Ok(Json(demands_body(
                    body.request_info.as_ref(),
                    wire::OK,
                    clock.now_ms(),
                    &[],
                    &HashMap::new(),
                )));
            }
        },
    };
    let filter = DemandFilter {
        tenant_id,
        ids: criteria.demand_id.clone(),
        payers,
        consumer_codes: criteria.consumer_code.clone(),
        business_service: wire::text(&criteria.business_service),
        status,
        is_payment_completed: criteria.is_payment_completed,
        period_from: criteria.period_from,
        period_to: criteria.period_to,
        created_from: criteria.demand_from,
        created_to: criteria.demand_to,
    };
    let demands = store::search(&mut conn, &filter).await?;
    let mut users = HashMap::new();
    for uuid in demands.iter().filter_map(|d| d.payer.as_ref()) {
        if !users.contains_key(uuid)
            && let Some(user) = payer::find(&mut conn, uuid).await?
        {
            users.insert(uuid.clone(), user);
        }
    }
    let mut answer = demands_body(
        body.request_info.as_ref(),
        wire::OK,
        clock.now_ms(),
        &demands,
        &users,
    );
    // The payers' personal data, masked for roles that may not see it (a payer's own
    // demands stay plain).
    if let Some(Value::Array(records)) = answer.get_mut("Demands") {
        kosh_platform::pii::mask::mask_records(
            &user,
            &filter.tenant_id,
            kosh_platform::pii::Model::User,
            records,
        );
    }
    Ok(Json(answer))
}
