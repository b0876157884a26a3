//! A demand request as DIGIT's clients send it (`{"RequestInfo", "Demands": [...]}`), and its
//! bean validation: required fields, at least one detail, and amounts that are exact paise
//! and no larger than kosh's single-amount ceiling (`KOSH_MAX_AMOUNT_RUPEES`), and text no
//! longer than DIGIT's columns hold (`wire::LIMITS`).

use kosh_platform::bean;
use kosh_platform::money::Paise;
use kosh_platform::{DigitError, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::DemandStatus;
use crate::wire::{self, blank, mapping_error, not_null};

#[derive(Debug, Deserialize, ToSchema)]
pub struct DemandRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "Demands")]
    pub demands: Option<Vec<DemandInput>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemandInput {
    pub id: Option<String>,
    pub tenant_id: Option<String>,
    pub consumer_code: Option<String>,
    pub consumer_type: Option<String>,
    pub business_service: Option<String>,
    pub payer: Option<PayerInput>,
    pub tax_period_from: Option<i64>,
    pub tax_period_to: Option<i64>,
    pub demand_details: Option<Vec<DetailInput>>,
    pub bill_expiry_time: Option<i64>,
    pub fixed_bill_expiry_date: Option<i64>,
    #[schema(value_type = Object)]
    pub additional_details: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub minimum_amount_payable: Option<Value>,
    pub status: Option<String>,
}

/// DIGIT's payer is a whole user; billing reads its uuid.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayerInput {
    pub uuid: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetailInput {
    pub id: Option<String>,
    pub tax_head_master_code: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub tax_amount: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub collection_amount: Option<Value>,
    #[schema(value_type = Object)]
    pub additional_details: Option<Value>,
}

/// A demand that passed bean validation.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandDraft {
    pub id: Option<String>,
    pub tenant_id: String,
    pub consumer_code: String,
    pub consumer_type: String,
    pub business_service: String,
    pub payer: Option<String>,
    pub tax_period_from: i64,
    pub tax_period_to: i64,
    pub minimum_amount_payable: Paise,
    pub bill_expiry_time: Option<i64>,
    pub fixed_bill_expiry_date: Option<i64>,
    pub additional_details: Option<Value>,
    pub status: Option<DemandStatus>,
    pub details: Vec<DetailDraft>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetailDraft {
    pub id: Option<String>,
    pub tax_head_code: String,
    pub tax_amount: Paise,
    pub collection_amount: Paise,
    pub additional_details: Option<Value>,
}

/// An amount: exact (DIGIT's decimal, [`wire::paise`]) and, either sign, within the
/// single-amount ceiling, so that no sum of a demand's amounts comes near `i64`'s limits.
fn amount(value: &Value, field: &str) -> Result<Paise, ErrorItem> {
    wire::paise(value, field)?
        .within_ceiling()
        .map_err(|e| ErrorItem::new("EG_BS_INVALID_AMOUNT", format!("{field}: {e}")))
}

fn trimmed(value: &Option<String>) -> String {
    value.as_deref().unwrap_or_default().trim().to_string()
}

/// Bean validation of a `demand/_create` or `_update` request: DIGIT's `DemandRequest`
/// requires its `RequestInfo` (`@NotNull`, `NotNull.demandRequest.requestInfo`), reported
/// with the demands' own failures.
pub fn checked(request: &DemandRequest) -> Result<Vec<DemandDraft>, DigitError> {
    bean::with_request_info(
        bean::request_info_missing(&request.request_info, "demandRequest.requestInfo"),
        drafts(request),
    )
}

/// Bean validation of every demand, all failures together (Spring reports them together).
pub fn drafts(request: &DemandRequest) -> Result<Vec<DemandDraft>, DigitError> {
    let demands = match &request.demands {
        None => return Err(DigitError::item(not_null("demandRequest.demands"))),
        Some(list) if list.is_empty() => {
            return Err(DigitError::item(ErrorItem::new(
                "Size.demandRequest.demands",
                "size must be between 1 and 2147483647",
            )));
        }
        Some(list) => list,
    };
    let mut errors: Vec<ErrorItem> = Vec::new();
    let mut out = Vec::new();
    for (i, d) in demands.iter().enumerate() {
        let path = format!("demandRequest.demands[{i}]");
        for (field, value) in [
            ("tenantId", &d.tenant_id),
            ("consumerCode", &d.consumer_code),
            ("consumerType", &d.consumer_type),
            ("businessService", &d.business_service),
        ] {
            if blank(value) {
                errors.push(not_null(&format!("{path}.{field}")));
            }
        }
        for (key, field, value) in [
            ("Demand.tenantId", "tenantId", &d.tenant_id),
            ("Demand.consumerCode", "consumerCode", &d.consumer_code),
            ("Demand.consumerType", "consumerType", &d.consumer_type),
            (
                "Demand.businessService",
                "businessService",
                &d.business_service,
            ),
        ] {
            wire::check_length(
                &mut errors,
                key,
                &format!("{path}.{field}"),
                value.as_deref(),
            );
        }
        if let Some(payer) = &d.payer {
            wire::check_length(
                &mut errors,
                "Demand.payer.uuid",
                &format!("{path}.payer.uuid"),
                payer.uuid.as_deref(),
            );
        }
        if d.tax_period_from.is_none() {
            errors.push(not_null(&format!("{path}.taxPeriodFrom")));
        }
        if d.tax_period_to.is_none() {
            errors.push(not_null(&format!("{path}.taxPeriodTo")));
        }
        let minimum = match &d.minimum_amount_payable {
            None | Some(Value::Null) => Paise::ZERO,
            Some(v) => {
                amount(v, &format!("Demands[{i}].minimumAmountPayable")).unwrap_or_else(|e| {
                    errors.push(e);
                    Paise::ZERO
                })
            }
        };
        let status = match wire::text(&d.status) {
            None => None,
            Some(s) => match DemandStatus::parse(&s) {
                Some(status) => Some(status),
                None => {
                    errors.push(mapping_error(format!(
                        "Demands[{i}].status: \"{s}\" is not one of ACTIVE, CANCELLED, ADJUSTED"
                    )));
                    None
                }
            },
        };
        let details = match &d.demand_details {
            None => {
                errors.push(not_null(&format!("{path}.demandDetails")));
                Vec::new()
            }
            Some(list) if list.is_empty() => {
                errors.push(ErrorItem::new(
                    format!("Size.{path}.demandDetails"),
                    "size must be between 1 and 2147483647",
                ));
                Vec::new()
            }
            Some(list) => detail_drafts(list, i, &path, &mut errors),
        };
        out.push(DemandDraft {
            id: wire::text(&d.id),
            tenant_id: trimmed(&d.tenant_id),
            consumer_code: trimmed(&d.consumer_code),
            consumer_type: trimmed(&d.consumer_type),
            business_service: trimmed(&d.business_service),
            payer: d.payer.as_ref().and_then(|p| wire::text(&p.uuid)),
            tax_period_from: d.tax_period_from.unwrap_or_default(),
            tax_period_to: d.tax_period_to.unwrap_or_default(),
            minimum_amount_payable: minimum,
            bill_expiry_time: d.bill_expiry_time,
            fixed_bill_expiry_date: d.fixed_bill_expiry_date,
            additional_details: d.additional_details.clone().filter(|v| !v.is_null()),
            status,
            details,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(DigitError::many(errors))
    }
}

fn detail_drafts(
    list: &[DetailInput],
    demand_index: usize,
    path: &str,
    errors: &mut Vec<ErrorItem>,
) -> Vec<DetailDraft> {
    let mut out = Vec::new();
    for (j, detail) in list.iter().enumerate() {
        let field = |name: &str| format!("Demands[{demand_index}].demandDetails[{j}].{name}");
        if blank(&detail.tax_head_master_code) {
            errors.push(not_null(&format!(
                "{path}.demandDetails[{j}].taxHeadMasterCode"
            )));
        }
        wire::check_length(
            errors,
            "DemandDetail.taxHeadMasterCode",
            &format!("{path}.demandDetails[{j}].taxHeadMasterCode"),
            detail.tax_head_master_code.as_deref(),
        );
        let tax = match &detail.tax_amount {
            None | Some(Value::Null) => {
                errors.push(not_null(&format!("{path}.demandDetails[{j}].taxAmount")));
                Paise::ZERO
            }
            Some(v) => amount(v, &field("taxAmount")).unwrap_or_else(|e| {
                errors.push(e);
                Paise::ZERO
            }),
        };
        // DIGIT defaults a missing collection amount to zero.
        let collection = match &detail.collection_amount {
            None | Some(Value::Null) => Paise::ZERO,
            Some(v) => amount(v, &field("collectionAmount")).unwrap_or_else(|e| {
                errors.push(e);
                Paise::ZERO
            }),
        };
        out.push(DetailDraft {
            id: wire::text(&detail.id),
            tax_head_code: trimmed(&detail.tax_head_master_code),
            tax_amount: tax,
            collection_amount: collection,
            additional_details: detail.additional_details.clone().filter(|v| !v.is_null()),
        });
    }
    out
}
