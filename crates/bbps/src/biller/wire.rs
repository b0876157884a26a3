//! The JSON profile's request bodies (bound case-insensitively, unknown fields ignored) and
//! the checks on their shape. A malformed request is a 400 with a DIGIT error body; a
//! well-formed request that BBPS refuses gets a BBPS `reason` instead (see `super`).

use kosh_platform::{DigitError, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::amount::Paise;
use crate::lookup::Param;
use crate::service::{BillAmount, Posting, Reversal};

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamWire {
    pub name: Option<String>,
    pub value: Option<String>,
}

/// Bill fetch (and validation, with `amount`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FetchRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    /// The BBPS biller id (MDMS `BBPS.Billers`).
    pub biller_id: Option<String>,
    /// BBPS's `refId`, echoed.
    pub ref_id: Option<String>,
    /// The customer parameters: `[{"name": "City", "value": "pb.amritsar"}, ...]`.
    pub customer_params: Option<Vec<ParamWire>>,
    /// Validation only: the amount the customer means to pay, in paise.
    #[schema(value_type = Option<i64>)]
    pub amount: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillAmountWire {
    pub biller_bill_id: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub amount: Option<Value>,
}

/// A payment posting.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentWire {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    pub biller_id: Option<String>,
    /// The BBPS transaction reference: the idempotency key (1-35 letters or digits).
    pub txn_reference_id: Option<String>,
    pub ref_id: Option<String>,
    pub msg_id: Option<String>,
    /// The payment instrument's reference (UPI RRN, ...).
    pub payment_ref_id: Option<String>,
    pub customer_params: Option<Vec<ParamWire>>,
    pub customer_mobile: Option<String>,
    /// Paise.
    #[schema(value_type = Option<i64>)]
    pub amount: Option<Value>,
    /// The bill paid (its `billerBillId` from the fetch); optional when the parameters
    /// find one bill.
    pub biller_bill_id: Option<String>,
    /// The amount per bill, for a payment of several bills.
    pub bills: Option<Vec<BillAmountWire>>,
    /// BBPS's payment mode (UPI, Internet Banking, Cash, ...).
    pub payment_mode: Option<String>,
    /// BBPS's initiating channel (INT, MOB, AGT, BNKBRNCH, ...).
    pub payment_channel: Option<String>,
    pub agent_id: Option<String>,
    /// The transaction time at the operating unit.
    pub txn_timestamp: Option<String>,
}

/// A transaction status query.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    pub txn_reference_id: Option<String>,
}

/// A reversal.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReverseRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    pub txn_reference_id: Option<String>,
    pub biller_id: Option<String>,
    pub reason: Option<String>,
    /// Paise (recorded when kosh never received the posting).
    #[schema(value_type = Option<i64>)]
    pub amount: Option<Value>,
}

/// A complaint registration.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplaintRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    /// The central unit's complaint id, if the unit has one (else kosh makes one).
    pub complaint_id: Option<String>,
    /// Transaction or Service.
    pub complaint_type: Option<String>,
    pub txn_reference_id: Option<String>,
    pub biller_id: Option<String>,
    /// BBPS's disposition ("Transaction Successful, account not updated", ...).
    pub disposition: Option<String>,
    pub description: Option<String>,
    pub customer_mobile: Option<String>,
    pub participation_type: Option<String>,
}

/// Complaint tracking.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplaintSearch {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    pub complaint_id: Option<String>,
    pub txn_reference_id: Option<String>,
}

/// A complaint's status change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplaintUpdate {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    pub complaint_id: Option<String>,
    /// RE_ASSIGNED, ESCALATED, RESOLVED, REJECTED or UNRESOLVED.
    pub status: Option<String>,
    pub remarks: Option<String>,
}

/// The daily report's query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ReportQuery {
    /// The business day, `YYYY-MM-DD` (India Standard Time); today by default.
    pub date: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

pub fn invalid(field: &str, message: impl Into<String>) -> DigitError {
    DigitError::item(
        ErrorItem::new("BBPS_INVALID_REQUEST", message.into()).with_params(vec![field.to_string()]),
    )
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub fn required(v: &Option<String>, field: &str) -> Result<String, DigitError> {
    text(v).ok_or_else(|| invalid(field, format!("{field} is required")))
}

/// A BBPS id (`txnReferenceId`, `refId`, `msgId`): 1-35 ASCII letters or digits.
pub fn id(v: &Option<String>, field: &str) -> Result<Option<String>, DigitError> {
    match text(v) {
        None => Ok(None),
        Some(s) if s.len() <= 35 && s.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(Some(s)),
        Some(_) => Err(invalid(
            field,
            format!("{field} must be 1-35 letters or digits"),
        )),
    }
}

/// An amount in paise: a whole non-negative JSON number, or a string of digits.
pub fn paise(v: &Value, field: &str) -> Result<i64, DigitError> {
    let bad = || {
        invalid(
            field,
            format!("{field} must be a whole number of paise (100000 is ₹1,000)"),
        )
    };
    match v {
        Value::Number(n) => n.as_i64().filter(|p| *p >= 0).ok_or_else(bad),
        Value::String(s) => Paise::parse(s.trim()).map(Paise::as_i64).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

pub fn params(list: &Option<Vec<ParamWire>>) -> Result<Vec<Param>, DigitError> {
    let Some(list) = list else {
        return Err(invalid("customerParams", "customerParams is required"));
    };
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(Param {
                name: required(&p.name, &format!("customerParams[{i}].name"))?,
                value: required(&p.value, &format!("customerParams[{i}].value"))?,
            })
        })
        .collect()
}

fn short(v: &Option<String>, field: &str, max: usize) -> Result<Option<String>, DigitError> {
    match text(v) {
        Some(s) if s.chars().count() > max => Err(invalid(
            field,
            format!("{field} is longer than {max} characters"),
        )),
        other => Ok(other),
    }
}

impl PaymentWire {
    /// The posting, or why the request is malformed.
    pub fn posting(&self) -> Result<(String, Posting), DigitError> {
        let biller_id = required(&self.biller_id, "billerId")?;
        let txn_reference_id = id(&self.txn_reference_id, "txnReferenceId")?
            .ok_or_else(|| invalid("txnReferenceId", "txnReferenceId is required"))?;
        let amount = paise(
            self.amount
                .as_ref()
                .ok_or_else(|| invalid("amount", "amount is required"))?,
            "amount",
        )?;
        let mut bills = Vec::new();
        for (i, b) in self.bills.iter().flatten().enumerate() {
            bills.push(BillAmount {
                bill_number: required(&b.biller_bill_id, &format!("bills[{i}].billerBillId"))?,
                amount: paise(
                    b.amount.as_ref().ok_or_else(|| {
                        invalid(
                            &format!("bills[{i}].amount"),
                            format!("bills[{i}].amount is required"),
                        )
                    })?,
                    &format!("bills[{i}].amount"),
                )?,
            });
        }
        Ok((
            biller_id,
            Posting {
                profile: "JSON",
                txn_reference_id,
                ref_id: id(&self.ref_id, "refId")?,
                msg_id: id(&self.msg_id, "msgId")?,
                payment_ref_id: short(&self.payment_ref_id, "paymentRefId", 128)?,
                params: params(&self.customer_params)?,
                customer_mobile: short(&self.customer_mobile, "customerMobile", 32)?,
                amount,
                bill_number: short(&self.biller_bill_id, "billerBillId", 256)?,
                bills,
                payment_mode: short(&self.payment_mode, "paymentMode", 64)?,
                payment_channel: short(&self.payment_channel, "paymentChannel", 32)?,
                agent_id: short(&self.agent_id, "agentId", 64)?,
                txn_ts: short(&self.txn_timestamp, "txnTimestamp", 64)?,
            },
        ))
    }
}

impl ReverseRequest {
    pub fn reversal(&self) -> Result<Reversal, DigitError> {
        Ok(Reversal {
            txn_reference_id: id(&self.txn_reference_id, "txnReferenceId")?
                .ok_or_else(|| invalid("txnReferenceId", "txnReferenceId is required"))?,
            biller_id: text(&self.biller_id),
            reason: short(&self.reason, "reason", 1024)?,
            amount: match &self.amount {
                Some(v) => Some(paise(v, "amount")?),
                None => None,
            },
            params: Vec::new(),
        })
    }
}
