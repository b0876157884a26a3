//! The payment as DIGIT's clients send it (`{"RequestInfo", "Payment": {...}}`), bound
//! case-insensitively, and turned into a [`PaymentInput`] with amounts in paise. Bean
//! validation failures come back in DIGIT's form (`NotNull.paymentRequest.payment.x`,
//! "must not be null"; `Pattern...`, "must match ...").
//!
//! Amounts are refused here, before any bill is read, when they cannot be an amount paid:
//! a negative `totalAmountPaid` or one above the total ceiling (`INVALID_PAYMENT_AMOUNT`), a
//! paymentDetail's `totalAmountPaid` above the single-amount ceiling
//! (`INVALID_PAYMENTDETAIL`), and any amount too large to compute. A negative paymentDetail
//! amount is DIGIT's own rule, answered with the detail's billId once the bill is read
//! ([`crate::validate::check_against_bills`]).

use kosh_platform::bean::{self, Limit};
use kosh_platform::money::{MoneyError, Paise};
use kosh_platform::{DigitError, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::mode::PaymentMode;
use crate::validate::{self, DetailInput, PaymentInput, not_null};

/// The payer patterns, compiled once (a payment is checked against them on every call).
pub(crate) static NAME: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(NAME_PATTERN).expect("name pattern"));
pub(crate) static MOBILE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(MOBILE_PATTERN).expect("mobile pattern"));

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PaymentRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "Payment")]
    pub payment: Option<PaymentWire>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentWire {
    pub tenant_id: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub total_due: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub total_amount_paid: Option<Value>,
    pub transaction_number: Option<String>,
    pub transaction_date: Option<i64>,
    pub payment_mode: Option<String>,
    pub instrument_date: Option<i64>,
    pub instrument_number: Option<String>,
    pub ifsc_code: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub additional_details: Option<Value>,
    pub payment_details: Option<Vec<PaymentDetailWire>>,
    pub paid_by: Option<String>,
    pub mobile_number: Option<String>,
    pub payer_name: Option<String>,
    pub payer_address: Option<String>,
    pub payer_email: Option<String>,
    pub payer_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetailWire {
    pub bill_id: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub total_due: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub total_amount_paid: Option<Value>,
    pub business_service: Option<String>,
    pub manual_receipt_number: Option<String>,
    pub manual_receipt_date: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub additional_details: Option<Value>,
}

/// The payer and instrument fields kosh stores as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayerFields {
    pub paid_by: Option<String>,
    pub mobile_number: Option<String>,
    pub payer_name: Option<String>,
    pub payer_address: Option<String>,
    pub payer_email: Option<String>,
    pub payer_id: Option<String>,
    pub ifsc_code: Option<String>,
    pub additional_details: Option<Value>,
    pub detail_extras: Vec<DetailExtras>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailExtras {
    pub manual_receipt_number: Option<String>,
    pub manual_receipt_date: Option<i64>,
    pub additional_details: Option<Value>,
}

pub(crate) const NAME_PATTERN: &str = r"^[a-zA-Z]+(([_\-'`\. ][a-zA-Z ])?[a-zA-Z]*)*$";
pub(crate) const MOBILE_PATTERN: &str = "^[6-9][0-9]{9}$";

enum Amount {
    Missing,
    Paise(Paise),
    /// More than two decimal places: a fraction of a paisa, which DIGIT calls fractional.
    SubPaise,
    /// A number too large for any amount kosh can compute.
    TooLarge,
    NotANumber,
}

fn amount(value: &Option<Value>) -> Amount {
    match value {
        None | Some(Value::Null) => Amount::Missing,
        Some(v) => match Paise::from_json(v) {
            Ok(p) => Amount::Paise(p),
            Err(MoneyError::SubPaise(_)) => Amount::SubPaise,
            Err(MoneyError::Overflow) => Amount::TooLarge,
            Err(_) => {
                // DIGIT binds amounts to BigDecimal, which also takes exponents ("1e3").
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Amount::NotANumber,
                };
                match text.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() && (f * 100.0).abs() >= i64::MAX as f64 => {
                        Amount::TooLarge
                    }
                    Ok(f) if f.is_finite() => Amount::SubPaise,
                    _ => Amount::NotANumber,
                }
            }
        },
    }
}

fn mapping_error() -> DigitError {
    DigitError::new(
        "JsonMappingException",
        "Failed to deserialize certain JSON fields",
    )
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Collection's length limits, the one table of them: DIGIT's `@Size` on `Payment` and
/// `PaymentDetail` (collection-services `model/Payment.java`, `model/PaymentDetail.java`),
/// each tighter than its `egcl_payment` / `egcl_paymentdetail` column. Checked by [`parse`]
/// before anything is read or written; a failure is `Size.paymentRequest.payment.<field>`,
/// "size must be between 0 and <max>".
pub const LIMITS: &[Limit] = &[
    Limit::max("Payment.tenantId", 64),
    Limit::max("Payment.transactionNumber", 128),
    Limit::max("Payment.instrumentNumber", 128),
    Limit::max("Payment.ifscCode", 64),
    Limit::max("Payment.paidBy", 128),
    Limit::max("Payment.mobileNumber", 64),
    Limit::max("Payment.payerName", 128),
    Limit::max("Payment.payerAddress", 1024),
    Limit::max("Payment.payerEmail", 64),
    Limit::max("Payment.payerId", 64),
    Limit::max("PaymentDetail.billId", 64),
    Limit::max("PaymentDetail.manualReceiptNumber", 64),
];

/// Checks the shape of the payment and turns it into the domain input. DIGIT's
/// `PaymentRequest` requires both its `RequestInfo` and its `Payment` (`@NotNull`).
pub fn parse(request: &PaymentRequest) -> Result<(PaymentInput, PayerFields), DigitError> {
    bean::with_request_info(
        bean::request_info_missing(&request.request_info, "paymentRequest.requestInfo"),
        parse_payment(request),
    )
}

fn parse_payment(request: &PaymentRequest) -> Result<(PaymentInput, PayerFields), DigitError> {
    let Some(payment) = &request.payment else {
        return Err(DigitError::item(bean::not_null("paymentRequest.payment")));
    };
    let mut errors: Vec<ErrorItem> = Vec::new();
    if blank(&payment.tenant_id) {
        errors.push(not_null("tenantId"));
    }
    let total_paid = match amount(&payment.total_amount_paid) {
        Amount::Missing => {
            errors.push(not_null("totalAmountPaid"));
            Paise::ZERO
        }
        Amount::Paise(p) => {
            if let Some(refusal) = validate::total_paid_refusal(p) {
                errors.push(refusal);
            }
            p
        }
        Amount::SubPaise => Paise::new(1),
        Amount::TooLarge => {
            errors.push(validate::total_paid_too_large(&MoneyError::Overflow));
            Paise::ZERO
        }
        Amount::NotANumber => return Err(mapping_error()),
    };
    let total_due = match amount(&payment.total_due) {
        Amount::Paise(p) => Some(p),
        Amount::NotANumber => return Err(mapping_error()),
        _ => None,
    };
    let mode = payment.payment_mode.as_deref().and_then(PaymentMode::parse);
    if mode.is_none() {
        errors.push(not_null("paymentMode"));
    }
    if blank(&payment.paid_by) {
        errors.push(not_null("paidBy"));
    }
    let name_pattern = &*NAME;
    for (field, value) in [
        ("paidBy", &payment.paid_by),
        ("payerName", &payment.payer_name),
    ] {
        if let Some(v) = text(value)
            && !name_pattern.is_match(&v)
        {
            errors.push(ErrorItem::new(
                format!("Pattern.paymentRequest.payment.{field}"),
                format!("must match \"{NAME_PATTERN}\""),
            ));
        }
    }
    if let Some(mobile) = text(&payment.mobile_number)
        && !MOBILE.is_match(&mobile)
    {
        errors.push(ErrorItem::new(
            "Pattern.paymentRequest.payment.mobileNumber",
            format!("must match \"{MOBILE_PATTERN}\""),
        ));
    }
    if let Some(email) = text(&payment.payer_email)
        && !email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
    {
        errors.push(ErrorItem::new(
            "Email.paymentRequest.payment.payerEmail",
            "must be a well-formed email address",
        ));
    }
    for (field, value) in [
        ("tenantId", &payment.tenant_id),
        ("transactionNumber", &payment.transaction_number),
        ("instrumentNumber", &payment.instrument_number),
        ("ifscCode", &payment.ifsc_code),
        ("paidBy", &payment.paid_by),
        ("mobileNumber", &payment.mobile_number),
        ("payerName", &payment.payer_name),
        ("payerAddress", &payment.payer_address),
        ("payerEmail", &payment.payer_email),
        ("payerId", &payment.payer_id),
    ] {
        bean::check_length(
            &mut errors,
            LIMITS,
            &format!("Payment.{field}"),
            &format!("paymentRequest.payment.{field}"),
            value.as_deref(),
        );
    }
    let details_wire = payment.payment_details.clone().unwrap_or_default();
    if details_wire.is_empty() {
        errors.push(not_null("paymentDetails"));
    }
    let mut details = Vec::new();
    let mut extras = Vec::new();
    for (i, d) in details_wire.iter().enumerate() {
        if blank(&d.bill_id) {
            errors.push(not_null(&format!("paymentDetails[{i}].billId")));
        }
        for (field, value) in [
            ("billId", &d.bill_id),
            ("manualReceiptNumber", &d.manual_receipt_number),
        ] {
            bean::check_length(
                &mut errors,
                LIMITS,
                &format!("PaymentDetail.{field}"),
                &format!("paymentRequest.payment.paymentDetails[{i}].{field}"),
                value.as_deref(),
            );
        }
        let bill_id = text(&d.bill_id).unwrap_or_default();
        let (paid, sub_paise) = match amount(&d.total_amount_paid) {
            Amount::Missing => {
                errors.push(not_null(&format!("paymentDetails[{i}].totalAmountPaid")));
                (Paise::ZERO, false)
            }
            Amount::Paise(p) => {
                if let Err(e) = p.within_ceiling() {
                    errors.push(validate::detail_paid_refusal(&bill_id, &e));
                }
                (p, false)
            }
            Amount::SubPaise => (Paise::new(1), true),
            Amount::TooLarge => {
                errors.push(validate::detail_paid_refusal(
                    &bill_id,
                    &MoneyError::Overflow,
                ));
                (Paise::ZERO, false)
            }
            Amount::NotANumber => return Err(mapping_error()),
        };
        let due = match amount(&d.total_due) {
            Amount::Paise(p) => Some(p),
            Amount::NotANumber => return Err(mapping_error()),
            // No bill's total is that large.
            Amount::TooLarge => {
                errors.push(validate::due_mismatch(&bill_id));
                None
            }
            _ => None,
        };
        details.push(DetailInput {
            bill_id,
            total_due: due,
            total_amount_paid: paid,
            sub_paise,
        });
        extras.push(DetailExtras {
            manual_receipt_number: text(&d.manual_receipt_number),
            manual_receipt_date: d.manual_receipt_date,
            additional_details: d.additional_details.clone(),
        });
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let input = PaymentInput {
        tenant_id: text(&payment.tenant_id).unwrap_or_default(),
        total_due,
        total_amount_paid: total_paid,
        mode: mode.unwrap_or(PaymentMode::Cash),
        transaction_number: text(&payment.transaction_number),
        transaction_date: payment.transaction_date,
        instrument_date: payment.instrument_date,
        instrument_number: text(&payment.instrument_number),
        details,
    };
    let payer = PayerFields {
        paid_by: text(&payment.paid_by),
        mobile_number: text(&payment.mobile_number),
        payer_name: text(&payment.payer_name),
        payer_address: text(&payment.payer_address),
        payer_email: text(&payment.payer_email),
        payer_id: text(&payment.payer_id),
        ifsc_code: text(&payment.ifsc_code),
        additional_details: payment.additional_details.clone(),
        detail_extras: extras,
    };
    Ok((input, payer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(payment: Value) -> PaymentRequest {
        kosh_platform::extract::bind(json!({"RequestInfo": {}, "Payment": payment})).unwrap()
    }

    #[test]
    fn reads_digits_payment() {
        let r = request(
            json!({"tenantId": "pb.amritsar", "totalDue": 500, "totalAmountPaid": "500.00", "paymentMode": "Cash",
            "paidBy": "Asha", "mobileNumber": "9876543210", "paymentDetails": [{"billId": "b1", "totalDue": 500, "totalAmountPaid": 500}]}),
        );
        let (input, payer) = parse(&r).unwrap();
        assert_eq!(input.total_amount_paid, Paise::new(500_00));
        assert_eq!(input.mode, PaymentMode::Cash);
        assert_eq!(input.details[0].total_due, Some(Paise::new(500_00)));
        assert_eq!(payer.paid_by.as_deref(), Some("Asha"));
    }

    #[test]
    fn bean_validation_in_digits_words() {
        let r = request(
            json!({"tenantId": "pb.amritsar", "paymentMode": "BITCOIN", "paidBy": "Asha 9",
            "mobileNumber": "12345", "paymentDetails": [{"billId": "b1"}]}),
        );
        let err = parse(&r).unwrap_err();
        let codes: Vec<&str> = err.errors.iter().map(|e| e.code.as_str()).collect();
        assert!(
            codes.contains(&"NotNull.paymentRequest.payment.totalAmountPaid"),
            "{codes:?}"
        );
        assert!(
            codes.contains(&"NotNull.paymentRequest.payment.paymentMode"),
            "{codes:?}"
        );
        assert!(
            codes.contains(&"Pattern.paymentRequest.payment.paidBy"),
            "{codes:?}"
        );
        assert!(
            codes.contains(&"Pattern.paymentRequest.payment.mobileNumber"),
            "{codes:?}"
        );
        assert!(
            codes.contains(&"NotNull.paymentRequest.payment.paymentDetails[0].totalAmountPaid"),
            "{codes:?}"
        );
        assert!(err.errors.iter().all(|e| e.message.starts_with("must")));
        let r = request(
            json!({"tenantId": "pb", "totalAmountPaid": "abc", "paymentMode": "CASH", "paidBy": "A", "paymentDetails": []}),
        );
        assert_eq!(
            parse(&r).unwrap_err().errors[0].message,
            "Failed to deserialize certain JSON fields"
        );
        let r = request(
            json!({"tenantId": "pb", "totalAmountPaid": 100.005, "paymentMode": "CASH", "paidBy": "A",
            "paymentDetails": [{"billId": "b", "totalAmountPaid": 100.005}]}),
        );
        assert!(parse(&r).unwrap().0.details[0].sub_paise);
    }

    fn cash(total: Value, details: &[Value]) -> PaymentRequest {
        request(
            json!({"tenantId": "pb.amritsar", "totalAmountPaid": total, "paymentMode": "CASH",
            "paidBy": "Asha", "paymentDetails": details.iter().enumerate()
                .map(|(i, a)| json!({"billId": format!("b{i}"), "totalAmountPaid": a}))
                .collect::<Vec<_>>()}),
        )
    }

    fn refusal(r: &PaymentRequest) -> Vec<(String, String)> {
        match parse(r) {
            Ok(_) => vec![],
            Err(e) => e.errors.into_iter().map(|e| (e.code, e.message)).collect(),
        }
    }

    #[test]
    fn negative_and_huge_amounts_are_refused_before_any_bill_is_read() {
        let ceiling = kosh_platform::money::limits().max_amount;
        let total_ceiling = kosh_platform::money::limits().max_total;
        // The reported wrap: two advance-allowed bills paid 92233720368547758 rupees each
        // add up to -0.16 rupees in wrapping i64 paise.
        let errs = refusal(&cash(
            json!("-0.16"),
            &[json!("92233720368547758"), json!("92233720368547758")],
        ));
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(errs[0].0, "INVALID_PAYMENT_AMOUNT");
        assert!(errs[1..].iter().all(|(c, m)| c == "INVALID_PAYMENTDETAIL"
            && m.contains("above the largest amount kosh accepts")));
        for (total, detail, codes) in [
            (json!(-1), json!(-1), vec!["INVALID_PAYMENT_AMOUNT"]),
            (json!(i64::MAX), json!(1), vec!["INVALID_PAYMENT_AMOUNT"]),
            (json!(i64::MIN), json!(1), vec!["INVALID_PAYMENT_AMOUNT"]),
            (json!("1e30"), json!(1), vec!["INVALID_PAYMENT_AMOUNT"]),
            (
                json!(1e30),
                json!(1e30),
                vec!["INVALID_PAYMENT_AMOUNT", "INVALID_PAYMENTDETAIL"],
            ),
            (json!(1), json!(i64::MIN), vec!["INVALID_PAYMENTDETAIL"]),
            (
                json!(1),
                json!(i64::MAX / 100),
                vec!["INVALID_PAYMENTDETAIL"],
            ),
            (json!(ceiling.rupees()), json!(ceiling.rupees()), vec![]),
            (
                json!(1),
                json!(Paise::new(ceiling.get() + 1).rupees()),
                vec!["INVALID_PAYMENTDETAIL"],
            ),
            (
                json!(Paise::new(total_ceiling.get() + 1).rupees()),
                json!(1),
                vec!["INVALID_PAYMENT_AMOUNT"],
            ),
            // A negative detail is DIGIT's rule, answered with the bill's number.
            (json!(0), json!(-1), vec![]),
            (json!(0), json!(0), vec![]),
        ] {
            let errs = refusal(&cash(total.clone(), std::slice::from_ref(&detail)));
            let got: Vec<&str> = errs.iter().map(|(c, _)| c.as_str()).collect();
            assert_eq!(got, codes, "{total} {detail}: {errs:?}");
        }
        let r = request(
            json!({"tenantId": "pb", "totalAmountPaid": 1, "paymentMode": "CASH",
            "paidBy": "A", "paymentDetails": [{"billId": "b", "totalAmountPaid": 1, "totalDue": 1e30}]}),
        );
        assert_eq!(
            refusal(&r),
            vec![(
                "INVALID_PAYMENTDETAIL".into(),
                "The amount to be paid is mismatching with bill for paymentDetial with bill id: b"
                    .into()
            )]
        );
    }
}
