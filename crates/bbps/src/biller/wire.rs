//! The JSON profile's request bodies (bound case-insensitively, unknown fields ignored) and
//! the checks on their shape. A malformed request is a 400 with a DIGIT error body; a
//! well-formed request that BBPS refuses gets a BBPS `reason` instead (see `super`).
//!
//! An amount is an integer of paise: a JSON integer or a string of digits. One written
//! that way but out of range (negative, above kosh's ceilings, too large to compute) is a
//! well-formed request BBPS refuses: a posting's amount and each bill's share are checked
//! here ([`PaymentWire::posting`]) and refused with the amount code (BPR011) before any
//! bill is read or money moves; the refusal is recorded like any other (so a repeat and a
//! status query answer it). A posting's `amount` is within the total ceiling, and within the
//! single-amount ceiling when it pays one bill; each bill's share within the single-amount
//! ceiling; the shares' sum computed exactly and within the total ceiling.

use kosh_platform::money::{MoneyError, Paise, wire};
use kosh_platform::{DigitError, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::codes::BillerFault;
use crate::lookup::{Param, Refusal};
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

/// An amount in paise, read: `Err` when it is not written as an integer of paise (a 400);
/// `Ok(Err(_))` when it is, but is too large to compute. The sign and the ceilings are the
/// caller's to check ([`payable`], [`Paise::payable`]).
pub fn paise(v: &Value, field: &str) -> Result<Result<Paise, MoneyError>, DigitError> {
    let bad = || {
        invalid(
            field,
            format!("{field} must be a whole number of paise (100000 is ₹1,000)"),
        )
    };
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(p) => Ok(Ok(Paise::new(p))),
            None if n.is_u64() => Ok(Err(MoneyError::Overflow)),
            // A whole number beyond any integer (1e30).
            None => match n.as_f64() {
                Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(Err(MoneyError::Overflow)),
                _ => Err(bad()),
            },
        },
        Value::String(s) => {
            let s = s.trim();
            let (negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s),
            };
            match wire::parse_paise_digits(digits) {
                Ok(p) if negative => Ok(p.checked_neg()),
                Ok(p) => Ok(Ok(p)),
                Err(MoneyError::Overflow) => Ok(Err(MoneyError::Overflow)),
                Err(_) => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// An amount that may be paid: read, not negative, and within the single-amount ceiling
/// (or, for a total over several bills, the total ceiling).
pub fn payable(
    v: &Value,
    field: &str,
    total: bool,
) -> Result<Result<Paise, MoneyError>, DigitError> {
    Ok(paise(v, field)?.and_then(|p| {
        if p.is_negative() {
            Err(MoneyError::Negative(p))
        } else if total {
            p.total_within_ceiling()
        } else {
            p.payable()
        }
    }))
}

/// BBPS's refusal of an amount that cannot be paid: the amount code, with the reason.
pub fn amount_refusal(field: &str, why: &MoneyError) -> Refusal {
    Refusal::new(BillerFault::AmountMismatch, format!("{field}: {why}"))
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
    /// The biller id, the posting and, when its amounts cannot be paid, their refusal
    /// (BPR011, recorded without touching a bill); `Err` when the request is malformed (a
    /// 400). A refused posting's `amount` is the amount as sent when it fits kosh's money
    /// (0 when it does not), and its `amounts_as_written` tell it apart from another.
    pub fn posting(&self) -> Result<(String, Posting, Option<Refusal>), DigitError> {
        let biller_id = required(&self.biller_id, "billerId")?;
        let txn_reference_id = id(&self.txn_reference_id, "txnReferenceId")?
            .ok_or_else(|| invalid("txnReferenceId", "txnReferenceId is required"))?;
        let split = self.bills.as_ref().is_some_and(|b| !b.is_empty());
        let amount = payable(
            self.amount
                .as_ref()
                .ok_or_else(|| invalid("amount", "amount is required"))?,
            "amount",
            split,
        )?;
        let mut refusal = amount.as_ref().err().map(|e| amount_refusal("amount", e));
        let mut written = vec![written_amount(self.amount.as_ref())];
        let mut bills = Vec::new();
        let mut shares: Result<Paise, MoneyError> = Ok(Paise::ZERO);
        for (i, b) in self.bills.iter().flatten().enumerate() {
            let field = format!("bills[{i}].amount");
            let share = payable(
                b.amount
                    .as_ref()
                    .ok_or_else(|| invalid(&field, format!("bills[{i}].amount is required")))?,
                &field,
                false,
            )?;
            shares = match (shares, &share) {
                (Ok(sum), Ok(p)) => sum.checked_add(*p),
                (Err(e), _) => Err(e),
                (_, Err(e)) => Err(e.clone()),
            };
            if let (None, Err(e)) = (&refusal, &share) {
                refusal = Some(amount_refusal(&field, e));
            }
            written.push(written_amount(b.amount.as_ref()));
            bills.push(BillAmount {
                bill_number: required(&b.biller_bill_id, &format!("bills[{i}].billerBillId"))?,
                amount: share
                    .or_else(|_| sent(b.amount.as_ref(), &field))
                    .unwrap_or_default(),
            });
        }
        // Whether the shares make the amount is the posting's check (a recorded refusal);
        // a sum that cannot be computed, or passes the total ceiling, never reaches it.
        if refusal.is_none()
            && let Err(e) = shares.and_then(Paise::total_within_ceiling)
        {
            refusal = Some(amount_refusal("bills", &e));
        }
        let posting = Posting {
            profile: "JSON",
            txn_reference_id,
            ref_id: id(&self.ref_id, "refId")?,
            msg_id: id(&self.msg_id, "msgId")?,
            payment_ref_id: short(&self.payment_ref_id, "paymentRefId", 128)?,
            params: params(&self.customer_params)?,
            customer_mobile: short(&self.customer_mobile, "customerMobile", 32)?,
            amount: amount
                .or_else(|_| sent(self.amount.as_ref(), "amount"))
                .unwrap_or_default(),
            bill_number: short(&self.biller_bill_id, "billerBillId", 256)?,
            bills,
            payment_mode: short(&self.payment_mode, "paymentMode", 64)?,
            payment_channel: short(&self.payment_channel, "paymentChannel", 32)?,
            agent_id: short(&self.agent_id, "agentId", 64)?,
            txn_ts: short(&self.txn_timestamp, "txnTimestamp", 64)?,
            amounts_as_written: refusal.as_ref().map(|_| written.join(",")),
        };
        Ok((biller_id, posting, refusal))
    }
}

/// An amount as sent, when it fits kosh's money at all (whatever its sign or ceiling).
fn sent(v: Option<&Value>, field: &str) -> Result<Paise, MoneyError> {
    match v.map(|v| paise(v, field)) {
        Some(Ok(p)) => p,
        _ => Err(MoneyError::Overflow),
    }
}

/// An amount as the request wrote it (digits as sent, a string's quotes dropped).
fn written_amount(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
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
                Some(v) => Some(
                    payable(v, "amount", true)?
                        .map_err(|e| invalid("amount", format!("amount: {e}")))?,
                ),
                None => None,
            },
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(amount: Value, bills: Option<Value>) -> PaymentWire {
        let mut v = json!({"billerId": "PBMT00000PUN01", "txnReferenceId": "AU01KOSH1",
            "customerParams": [{"name": "Property ID", "value": "PT-1"}], "amount": amount});
        if let Some(b) = bills {
            v["bills"] = b;
        }
        kosh_platform::extract::bind(v).unwrap()
    }

    /// `Ok(Ok(paise))` accepted, `Ok(Err(detail))` refused with BPR011, `Err(code)` a 400.
    fn verdict(amount: Value, bills: Option<Value>) -> Result<Result<i64, String>, String> {
        match wire(amount, bills).posting() {
            Ok((_, p, None)) => Ok(Ok(p.amount.get())),
            Ok((_, _, Some(r))) => {
                assert_eq!(r.fault, BillerFault::AmountMismatch);
                Ok(Err(r.detail))
            }
            Err(e) => Err(e.first_code().unwrap_or_default().to_string()),
        }
    }

    fn shares(amounts: &[Value]) -> Option<Value> {
        Some(Value::Array(
            amounts
                .iter()
                .enumerate()
                .map(|(i, a)| json!({"billerBillId": format!("B{i}"), "amount": a}))
                .collect(),
        ))
    }

    #[test]
    fn the_reported_wrapping_split_is_refused() {
        for split in [
            [
                json!("92233720368547758"),
                json!("92233720368547758"),
                json!("100"),
            ],
            // The same split in paise that wraps i64 to 9984.
            [
                json!("9223372036854775800"),
                json!("9223372036854775800"),
                json!(10000),
            ],
        ] {
            let v = verdict(json!(9984), shares(&split));
            assert!(
                matches!(&v, Ok(Err(d)) if d.contains("bills[0].amount")),
                "{v:?}"
            );
        }
    }

    #[test]
    fn amounts_are_read_or_refused_at_and_around_the_limits() {
        let ceiling = kosh_platform::money::limits().max_amount.get();
        let total = kosh_platform::money::limits().max_total.get();
        assert_eq!(verdict(json!(100000), None), Ok(Ok(100000)));
        assert_eq!(verdict(json!("0100000"), None), Ok(Ok(100000)));
        assert_eq!(verdict(json!(0), None), Ok(Ok(0)));
        assert_eq!(verdict(json!(ceiling), None), Ok(Ok(ceiling)));
        for refused in [
            json!(-1),
            json!("-1"),
            json!(ceiling + 1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!("-9223372036854775808"),
            json!("92233720368547758080"),
            json!(1e30),
        ] {
            assert!(
                matches!(verdict(refused.clone(), None), Ok(Err(_))),
                "{refused}"
            );
        }
        for malformed in [
            json!(1.5),
            json!("1.00"),
            json!("1e3"),
            json!("abc"),
            json!(true),
        ] {
            assert_eq!(
                verdict(malformed.clone(), None),
                Err("BBPS_INVALID_REQUEST".into()),
                "{malformed}"
            );
        }
        // A total over several bills answers to the total ceiling, each share to the
        // single-amount one, their sum to the total one.
        assert_eq!(
            verdict(
                json!(2 * ceiling),
                shares(&[json!(ceiling), json!(ceiling)])
            ),
            Ok(Ok(2 * ceiling))
        );
        assert!(matches!(
            verdict(json!(total + 1), shares(&[json!(1)])),
            Ok(Err(_))
        ));
        let eleven = vec![json!(ceiling); 11];
        let v = verdict(json!(total), shares(&eleven));
        assert!(matches!(&v, Ok(Err(d)) if d.starts_with("bills:")), "{v:?}");
        // A malformed share is a 400 even when the amount is refused.
        assert_eq!(
            verdict(json!(-1), shares(&[json!("x")])),
            Err("BBPS_INVALID_REQUEST".into())
        );
    }

    #[test]
    fn a_reversal_amount_must_be_payable() {
        let reverse = |amount: Value| {
            kosh_platform::extract::bind::<ReverseRequest>(
                json!({"txnReferenceId": "AU01KOSH1", "amount": amount}),
            )
            .unwrap()
            .reversal()
        };
        assert_eq!(reverse(json!(100)).unwrap().amount, Some(Paise::new(100)));
        for bad in [json!(-1), json!(i64::MAX), json!("1e3")] {
            assert_eq!(
                reverse(bad.clone()).unwrap_err().first_code(),
                Some("BBPS_INVALID_REQUEST"),
                "{bad}"
            );
        }
    }
}
