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
use kosh_platform::money::Paise;
use kosh_platform::{Clock, DigitError, DigitJson, DigitQuery};
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
    /// Zero when the master sets none.
    pub min_amount_payable: Paise,
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
            .and_then(|v| Paise::from_json(v).ok())
            .unwrap_or(Paise::ZERO)
            .max(Paise::ZERO),
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

/// Which sign a tax head's amounts may take: kosh's rule, stricter than DIGIT (which takes
/// any amount on any head), decided from `BillingService.TaxHeadMaster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadSign {
    /// A credit to the payer, which may be negative: category REBATE, EXEMPTION or
    /// ADVANCE_COLLECTION, or `isDebit` true. DIGIT's contract describes `isDebit` only as
    /// "particular demand goes as credit or debit"; the side is the municipality's ledger, a
    /// debit to its revenue, i.e. an amount that lowers what the payer owes. The shipped
    /// masters bear that out: every rebate and exemption head (PT_TIME_REBATE,
    /// PT_OWNER_EXEMPTION, PT_ADHOC_REBATE, TL_ADHOC_REBATE, WS_TIME_REBATE, ...) and every
    /// ADVANCE_CARRYFORWARD head is `isDebit` true, and no tax, cess, penalty or interest
    /// head is. (WS_CHARGE, SW_CHARGE and their AMENDMENT_CHARGES are `isDebit` true too:
    /// DIGIT's bill amendments put negative amounts on them.)
    Credit,
    /// A round-off head (code ending ROUNDOFF or ROUND_OFF, e.g. PT_ROUNDOFF, TL_ROUNDOFF,
    /// WS_Round_Off): DIGIT's calculators put a bill's rounding there, of either sign and
    /// under one rupee, so a negative amount is allowed only above [`ROUND_OFF_FLOOR`].
    RoundOff,
    /// Anything else (TAX, FEE, PENALTY, FINES, CHARGES not marked as credits): never
    /// negative.
    Charge,
}

/// The most negative amount a round-off head takes (exclusive): −₹1.
pub const ROUND_OFF_FLOOR: Paise = Paise::new(-100);

impl HeadSign {
    /// Whether `tax` may stand on a head of this kind.
    pub fn allows(self, tax: Paise) -> bool {
        match self {
            _ if !tax.is_negative() => true,
            HeadSign::Credit => true,
            HeadSign::RoundOff => tax > ROUND_OFF_FLOOR,
            HeadSign::Charge => false,
        }
    }
}

const CREDIT_CATEGORIES: [&str; 3] = ["REBATE", "EXEMPTION", "ADVANCE_COLLECTION"];

fn is_round_off(code: &str) -> bool {
    code.to_ascii_uppercase()
        .replace('_', "")
        .ends_with("ROUNDOFF")
}

/// The sign rule of each tax head of a service, by code (an unknown head has none).
pub fn head_signs(
    mdms: &Mdms,
    tenant_id: &str,
    service: &str,
) -> std::collections::HashMap<String, HeadSign> {
    records(mdms, tenant_id, "TaxHeadMaster")
        .iter()
        .filter(|r| r.get("service").and_then(Value::as_str) == Some(service))
        .map(|r| {
            let code = str_field(r, "code");
            let category = str_field(r, "category").trim().to_ascii_uppercase();
            let sign = if CREDIT_CATEGORIES.contains(&category.as_str()) || flag(r.get("isDebit")) {
                HeadSign::Credit
            } else if is_round_off(&code) {
                HeadSign::RoundOff
            } else {
                HeadSign::Charge
            };
            (code, sign)
        })
        .collect()
}

/// The tax head that holds advance for a service (category `ADVANCE_COLLECTION`).
/// A service's advance heads: those master data files under ADVANCE_COLLECTION, not any
/// head whose code merely says "ADVANCE" (`FN.ADVANCE_PROVIDENT_FUND_TAX` is a tax).
pub fn advance_tax_heads(
    mdms: &Mdms,
    tenant_id: &str,
    service: &str,
) -> std::collections::HashSet<String> {
    tax_heads(mdms, tenant_id, service)
        .into_iter()
        .filter(|h| h.category == "ADVANCE_COLLECTION")
        .map(|h| h.code)
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Mdms {
        Mdms::from_files(&kosh_mdms::embedded_demo_files()).expect("shipped master data")
    }

    #[test]
    fn negative_amounts_only_on_credit_heads_of_the_shipped_data() {
        let mdms = shipped();
        let pt = head_signs(&mdms, "pb.amritsar", "PT");
        for code in [
            "PT_TIME_REBATE",
            "PT_OWNER_EXEMPTION",
            "PT_UNIT_USAGE_EXEMPTION",
            "PT_ADHOC_REBATE",
            "PT_ADVANCE_CARRYFORWARD",
            "PT_DECIMAL_CEILING_DEBIT",
        ] {
            assert_eq!(pt.get(code), Some(&HeadSign::Credit), "{code}");
            assert!(pt[code].allows(Paise::new(-5000_00)), "{code}");
        }
        for code in [
            "PT_TAX",
            "PT_FIRE_CESS",
            "PT_CANCER_CESS",
            "PT_TIME_PENALTY",
            "PT_TIME_INTEREST",
            "PT_ADHOC_PENALTY",
        ] {
            assert_eq!(pt.get(code), Some(&HeadSign::Charge), "{code}");
            assert!(!pt[code].allows(Paise::new(-1)), "{code}");
            assert!(
                pt[code].allows(Paise::new(0)) && pt[code].allows(Paise::new(5000_00)),
                "{code}"
            );
        }
        assert_eq!(pt.get("PT_ROUNDOFF"), Some(&HeadSign::RoundOff));
        assert!(pt["PT_ROUNDOFF"].allows(Paise::new(-50)));
        assert!(pt["PT_ROUNDOFF"].allows(Paise::new(-99)));
        assert!(!pt["PT_ROUNDOFF"].allows(Paise::new(-100)));
        assert!(!pt["PT_ROUNDOFF"].allows(Paise::new(-5000_00)));

        let tl = head_signs(&mdms, "pb.amritsar", "TL");
        assert_eq!(tl.get("TL_TAX"), Some(&HeadSign::Charge));
        assert_eq!(tl.get("TL_ADHOC_REBATE"), Some(&HeadSign::Credit));
        assert_eq!(tl.get("TL_RENEWAL_REBATE"), Some(&HeadSign::Credit));
        let ws = head_signs(&mdms, "pb.amritsar", "WS");
        assert_eq!(ws.get("WS_ADVANCE_CARRYFORWARD"), Some(&HeadSign::Credit));
        assert_eq!(ws.get("WS_Round_Off"), Some(&HeadSign::RoundOff));
        let grants = head_signs(&mdms, "pb.amritsar", "REV_GRANTS");
        assert_eq!(
            grants.get("REV_GRANTS_EDU_CESS_GRANTS"),
            Some(&HeadSign::Credit)
        );
    }
}
