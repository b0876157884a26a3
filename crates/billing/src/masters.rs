//! Billing's masters (MDMS `BillingService`): business services, tax heads and tax periods,
//! read as typed rules for demands and bills, and served by `/taxheads/_search`,
//! `/businessservices/_search` and `/taxperiods/_search` as DIGIT answers them from MDMS.
//!
//! MDMS records are hand-written JSON: flags come as `true` or `"true"`, orders as `0` or
//! `"0"`, so every field is read leniently.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use kosh_mdms::Mdms;
use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::{Clock, DigitError, DigitJson, DigitQuery, money};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::wire::{self, blank, not_null};

const MODULE: &str = "BillingService";

/// A business service's payment rules (`BillingService.BusinessService`).
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessService {
    pub code: String,
    pub part_payment_allowed: bool,
    pub is_advance_allowed: bool,
    /// Paise; 0 when the master sets none.
    pub min_amount_payable: i64,
    pub collection_modes_not_allowed: Vec<String>,
}

/// A tax head (`BillingService.TaxHeadMaster`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaxHead {
    pub code: String,
    pub service: String,
    pub category: String,
    pub order: i64,
}

/// A tax period (`BillingService.TaxPeriod`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaxPeriod {
    pub code: String,
    pub service: String,
    pub from_date: i64,
    pub to_date: i64,
}

fn records<'m>(mdms: &'m Mdms, tenant_id: &str, master: &str) -> &'m [Value] {
    mdms.master(tenant_id, MODULE, master).unwrap_or(&[])
}

fn str_field(record: &Value, key: &str) -> String {
    record
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn number(value: Option<&Value>) -> Option<i64> {
    match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn business_service(mdms: &Mdms, tenant_id: &str, code: &str) -> Option<BusinessService> {
    let record = records(mdms, tenant_id, "BusinessService")
        .iter()
        .find(|r| r.get("code").and_then(Value::as_str) == Some(code))?;
    Some(BusinessService {
        code: code.to_string(),
        part_payment_allowed: flag(record.get("partPaymentAllowed")),
        is_advance_allowed: flag(record.get("isAdvanceAllowed")),
        min_amount_payable: record
            .get("minAmountPayable")
            .and_then(money::paise_from_json)
            .unwrap_or(0)
            .max(0),
        collection_modes_not_allowed: record
            .get("collectionModesNotAllowed")
            .and_then(Value::as_array)
            .map(|modes| {
                modes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

pub fn tax_heads(mdms: &Mdms, tenant_id: &str, service: &str) -> Vec<TaxHead> {
    records(mdms, tenant_id, "TaxHeadMaster")
        .iter()
        .filter(|r| r.get("service").and_then(Value::as_str) == Some(service))
        .map(|r| TaxHead {
            code: str_field(r, "code"),
            service: service.to_string(),
            category: str_field(r, "category"),
            order: number(r.get("order")).unwrap_or(0),
        })
        .collect()
}

pub fn tax_periods(mdms: &Mdms, tenant_id: &str, service: &str) -> Vec<TaxPeriod> {
    records(mdms, tenant_id, "TaxPeriod")
        .iter()
        .filter(|r| r.get("service").and_then(Value::as_str) == Some(service))
        .filter_map(|r| {
            Some(TaxPeriod {
                code: str_field(r, "code"),
                service: service.to_string(),
                from_date: number(r.get("fromDate"))?,
                to_date: number(r.get("toDate"))?,
            })
        })
        .collect()
}

/// The tax head that holds advance for a service (category `ADVANCE_COLLECTION`).
pub fn advance_tax_head(mdms: &Mdms, tenant_id: &str, service: &str) -> Option<String> {
    tax_heads(mdms, tenant_id, service)
        .into_iter()
        .find(|h| h.category == "ADVANCE_COLLECTION")
        .map(|h| h.code)
}

/// DIGIT's answer when MDMS has nothing for a tenant.
pub fn invalid_tenant() -> DigitError {
    DigitError::new("INVALID TENANTID", "No data found for this tenentID")
}

// ---------------------------------------------------------------------------------------
// HTTP: the three master searches
// ---------------------------------------------------------------------------------------

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(search_tax_heads))
        .routes(routes!(search_business_services))
        .routes(routes!(search_tax_periods))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct TaxHeadCriteria {
    pub tenant_id: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub code: Option<Vec<String>>,
    pub is_debit: Option<bool>,
    pub is_actual_demand: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct BusinessServiceCriteria {
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub business_service: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct TaxPeriodCriteria {
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub service: Option<Vec<String>>,
    pub period_cycle: Option<String>,
    pub code: Option<String>,
    pub from_date: Option<i64>,
    pub to_date: Option<i64>,
    pub date: Option<i64>,
}

/// Checks the tenant and the mandatory criteria; the tenant id on success.
fn required(
    tenant_id: &Option<String>,
    other: (&str, bool),
    object: &str,
    mdms: &Mdms,
) -> Result<String, DigitError> {
    let mut errors = Vec::new();
    if blank(tenant_id) {
        errors.push(not_null(&format!("{object}.tenantId")));
    }
    if other.1 {
        errors.push(not_null(&format!("{object}.{}", other.0)));
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let tenant_id = tenant_id.as_deref().unwrap_or_default().trim().to_string();
    if !mdms.is_known_tenant(&tenant_id) {
        return Err(invalid_tenant());
    }
    Ok(tenant_id)
}

fn with_tenant(record: &Value, tenant_id: &str) -> Value {
    let mut out = record.clone();
    if let Some(object) = out.as_object_mut() {
        object.insert("tenantId".into(), json!(tenant_id));
    }
    out
}

/// Search tax heads of a service.
#[utoipa::path(post, path = "/billing-service/taxheads/_search", tag = "billing-service",
    params(TaxHeadCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and TaxHeadMasters")))]
async fn search_tax_heads(
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    DigitQuery(criteria): DigitQuery<TaxHeadCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let tenant_id = required(
        &criteria.tenant_id,
        ("service", blank(&criteria.service)),
        "taxHeadMasterCriteria",
        &mdms,
    )?;
    let service = criteria.service.as_deref().unwrap_or_default().trim();
    let found: Vec<Value> = records(&mdms, &tenant_id, "TaxHeadMaster")
        .iter()
        .filter(|r| r.get("service").and_then(Value::as_str) == Some(service))
        .filter(|r| {
            wire::text(&criteria.category)
                .is_none_or(|c| r.get("category").and_then(Value::as_str) == Some(c.as_str()))
        })
        .filter(|r| {
            wire::text(&criteria.name)
                .is_none_or(|n| r.get("name").and_then(Value::as_str) == Some(n.as_str()))
        })
        .filter(|r| {
            criteria.code.as_ref().is_none_or(|codes| {
                codes
                    .iter()
                    .any(|c| r.get("code").and_then(Value::as_str) == Some(c.as_str()))
            })
        })
        .filter(|r| {
            criteria
                .is_debit
                .is_none_or(|d| flag(r.get("isDebit")) == d)
        })
        .filter(|r| {
            criteria
                .is_actual_demand
                .is_none_or(|d| flag(r.get("isActualDemand")) == d)
        })
        .map(|r| {
            let mut out = with_tenant(r, &tenant_id);
            out["order"] = json!(number(r.get("order")));
            out["isDebit"] = json!(flag(r.get("isDebit")));
            out["isActualDemand"] = json!(flag(r.get("isActualDemand")));
            out["isRequired"] = json!(flag(r.get("isRequired")));
            out
        })
        .collect();
    Ok(Json(json!({
        "ResponseInfo": wire::response_info(body.request_info.as_ref(), wire::OK, clock.now_ms()),
        "TaxHeadMasters": found,
    })))
}

/// Search business services (their payment rules).
#[utoipa::path(post, path = "/billing-service/businessservices/_search", tag = "billing-service",
    params(BusinessServiceCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and BusinessServiceDetails")))]
async fn search_business_services(
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    DigitQuery(criteria): DigitQuery<BusinessServiceCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let tenant_id = required(
        &criteria.tenant_id,
        ("businessService", criteria.business_service.is_none()),
        "businessServiceDetailCriteria",
        &mdms,
    )?;
    let codes = criteria.business_service.unwrap_or_default();
    let found: Vec<Value> = records(&mdms, &tenant_id, "BusinessService")
        .iter()
        .filter(|r| {
            codes
                .iter()
                .any(|c| r.get("code").and_then(Value::as_str) == Some(c.as_str()))
        })
        .map(|r| {
            let mut out = with_tenant(r, &tenant_id);
            out["partPaymentAllowed"] = json!(flag(r.get("partPaymentAllowed")));
            out["isAdvanceAllowed"] = json!(flag(r.get("isAdvanceAllowed")));
            out
        })
        .collect();
    Ok(Json(json!({
        "ResponseInfo": wire::response_info(body.request_info.as_ref(), wire::OK, clock.now_ms()),
        "BusinessServiceDetails": found,
    })))
}

/// Search tax periods of services.
#[utoipa::path(post, path = "/billing-service/taxperiods/_search", tag = "billing-service",
    params(TaxPeriodCriteria), request_body = RequestInfoWrapper,
    responses((status = 200, description = "ResponseInfo and TaxPeriods")))]
async fn search_tax_periods(
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    DigitQuery(criteria): DigitQuery<TaxPeriodCriteria>,
    DigitJson(body): DigitJson<RequestInfoWrapper>,
) -> Result<Json<Value>, DigitError> {
    let tenant_id = required(
        &criteria.tenant_id,
        ("service", criteria.service.is_none()),
        "taxPeriodCriteria",
        &mdms,
    )?;
    let services = criteria.service.clone().unwrap_or_default();
    let found: Vec<Value> = records(&mdms, &tenant_id, "TaxPeriod")
        .iter()
        .filter(|r| {
            services
                .iter()
                .any(|s| r.get("service").and_then(Value::as_str) == Some(s.as_str()))
        })
        .filter(|r| {
            wire::text(&criteria.period_cycle).is_none_or(|c| {
                r.get("periodCycle")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.eq_ignore_ascii_case(&c))
            })
        })
        .filter(|r| {
            wire::text(&criteria.code)
                .is_none_or(|c| r.get("code").and_then(Value::as_str) == Some(c.as_str()))
        })
        .filter(|r| {
            let from = number(r.get("fromDate")).unwrap_or(i64::MIN);
            let to = number(r.get("toDate")).unwrap_or(i64::MAX);
            criteria.from_date.is_none_or(|f| from >= f)
                && criteria.to_date.is_none_or(|t| to <= t)
                && criteria.date.is_none_or(|d| from <= d && d <= to)
        })
        .map(|r| with_tenant(r, &tenant_id))
        .collect();
    Ok(Json(json!({
        "ResponseInfo": wire::response_info(body.request_info.as_ref(), wire::OK, clock.now_ms()),
        "TaxPeriods": found,
    })))
}
