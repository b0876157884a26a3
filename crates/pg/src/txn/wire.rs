//! `_create`'s request as DIGIT's clients send it (`{"RequestInfo", "Transaction": {...}}`),
//! bound case-insensitively, with DIGIT's bean validation (`NotNull.transactionRequest.
//! transaction.x`, "must not be null"), amounts read exactly into paise whether they come as
//! JSON numbers (the web UI) or strings (the Swagger contract).
//!
//! Every amount is refused here, before anything is read or written, when it is negative or
//! above kosh's ceilings: `txnAmount` and a `taxAmount` (a bill's total) within the total
//! ceiling, each `amountPaid` within the single-amount ceiling, and the sum of the
//! `amountPaid`s computed exactly and within the total ceiling (`INVALID_TXN_AMOUNT`,
//! `TXN_CREATE_INVALID_TXN_AMT`).

use kosh_platform::bean::{self, Limit};
use kosh_platform::money::{MoneyError, Paise};
use kosh_platform::{DigitError, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::TaxAndPayment;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TransactionRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "Transaction")]
    pub transaction: Option<TransactionWire>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionWire {
    pub tenant_id: Option<String>,
    /// Decimal rupees, as a string or a number.
    #[schema(value_type = Option<String>)]
    pub txn_amount: Option<Value>,
    pub bill_id: Option<String>,
    pub module: Option<String>,
    pub consumer_code: Option<String>,
    pub tax_and_payments: Option<Vec<TaxAndPaymentWire>>,
    pub product_info: Option<String>,
    pub gateway: Option<String>,
    pub callback_url: Option<String>,
    pub user: Option<UserWire>,
    #[schema(value_type = Option<Object>)]
    pub additional_details: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaxAndPaymentWire {
    #[schema(value_type = Option<f64>)]
    pub tax_amount: Option<Value>,
    #[schema(value_type = Option<f64>)]
    pub amount_paid: Option<Value>,
    pub bill_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserWire {
    pub uuid: Option<String>,
    pub name: Option<String>,
    pub user_name: Option<String>,
    pub mobile_number: Option<String>,
    pub email_id: Option<String>,
    pub tenant_id: Option<String>,
}

/// A checked create request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTransaction {
    pub tenant_id: String,
    pub amount: Paise,
    pub bill_id: String,
    pub module: Option<String>,
    pub consumer_code: String,
    pub tax_and_payments: Vec<TaxAndPayment>,
    pub product_info: String,
    pub gateway: String,
    pub callback_url: String,
    pub payer_name: String,
    pub payer_mobile: String,
    pub payer_email: Option<String>,
    pub additional_details: Option<Value>,
}

fn not_null(path: &str) -> ErrorItem {
    ErrorItem::new(
        format!("NotNull.transactionRequest.transaction.{path}"),
        "must not be null",
    )
}

/// The payment gateway's length limits, the one table of them: DIGIT's `@Size` on
/// `Transaction` (egov-pg-service `models/Transaction.java`) and, where it has none, the
/// width of its `eg_pg_transactions` column (`bill_id`, `module`, `gateway` 64; the payer's
/// `name` and `email_id` 128, `mobile_number` 50). Failures are
/// `Size.transactionRequest.transaction.<field>`, "size must be between <min> and <max>".
pub const LIMITS: &[Limit] = &[
    Limit::between("Transaction.tenantId", 2, 50),
    Limit::between("Transaction.billId", 1, 64),
    Limit::between("Transaction.module", 1, 64),
    Limit::between("Transaction.consumerCode", 1, 128),
    Limit::between("Transaction.productInfo", 1, 512),
    Limit::between("Transaction.gateway", 2, 64),
    Limit::max("Transaction.user.name", 128),
    Limit::max("Transaction.user.mobileNumber", 50),
    Limit::max("Transaction.user.emailId", 128),
];

fn check_length(errors: &mut Vec<ErrorItem>, field: &str, value: Option<&str>) {
    bean::check_length(
        errors,
        LIMITS,
        &format!("Transaction.{field}"),
        &format!("transactionRequest.transaction.{field}"),
        value,
    );
}

fn size(path: &str, min: usize, max: usize) -> ErrorItem {
    bean::size(&format!("transactionRequest.transaction.{path}"), min, max)
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn invalid_amount(path: &str, why: &MoneyError) -> ErrorItem {
    ErrorItem::new(
        "INVALID_TXN_AMOUNT",
        match why {
            MoneyError::Overflow
            | MoneyError::OverCeiling { .. }
            | MoneyError::TotalOverCeiling { .. } => format!("{path}: {why}"),
            _ => {
                format!("{path} must be a non-negative number of rupees with at most two decimals")
            }
        },
    )
}

/// DIGIT's answer when the parts do not make the whole; also when their sum cannot be
/// computed or passes the total ceiling, since no accepted `txnAmount` can then equal it.
pub fn parts_do_not_add_up() -> ErrorItem {
    ErrorItem::new(
        "TXN_CREATE_INVALID_TXN_AMT",
        "Transaction amount should be equal to sum of all  amountPaids in taxAndPayments",
    )
}

/// Which ceiling an amount answers to.
#[derive(Clone, Copy)]
enum Ceiling {
    /// One bill's share.
    Amount,
    /// A total over bills, or a bill's total.
    Total,
}

/// An amount in paise: `None` when absent, else the exact non-negative amount within its
/// ceiling, or why not.
fn amount(value: &Option<Value>, ceiling: Ceiling) -> Option<Result<Paise, MoneyError>> {
    match value {
        None | Some(Value::Null) => None,
        Some(v) => Some(Paise::from_json(v).and_then(|p| match ceiling {
            Ceiling::Amount => p.payable(),
            Ceiling::Total if p.is_negative() => Err(MoneyError::Negative(p)),
            Ceiling::Total => p.total_within_ceiling(),
        })),
    }
}

/// DIGIT's bean validation of the request, collected into one answer.
pub fn parse(request: &TransactionRequest) -> Result<NewTransaction, DigitError> {
    let Some(t) = &request.transaction else {
        return Err(DigitError::item(ErrorItem::new(
            "NotNull.transactionRequest.transaction",
            "must not be null",
        )));
    };
    let mut errors = Vec::new();
    let tenant_id = text(&t.tenant_id);
    match &tenant_id {
        None => errors.push(not_null("tenantId")),
        Some(v) => check_length(&mut errors, "tenantId", Some(v)),
    }
    let txn_amount = match amount(&t.txn_amount, Ceiling::Total) {
        None => {
            errors.push(not_null("txnAmount"));
            Paise::ZERO
        }
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            errors.push(invalid_amount("txnAmount", &e));
            Paise::ZERO
        }
    };
    let bill_id = text(&t.bill_id);
    match &bill_id {
        None => errors.push(not_null("billId")),
        Some(v) => check_length(&mut errors, "billId", Some(v)),
    }
    check_length(&mut errors, "module", t.module.as_deref());
    let consumer_code = text(&t.consumer_code);
    match &consumer_code {
        None => errors.push(not_null("consumerCode")),
        Some(v) => check_length(&mut errors, "consumerCode", Some(v)),
    }
    let mut tax_and_payments = Vec::new();
    match &t.tax_and_payments {
        None => errors.push(not_null("taxAndPayments")),
        Some(list) if list.is_empty() => errors.push(size("taxAndPayments", 1, i32::MAX as usize)),
        Some(list) => {
            let mut all_read = true;
            for (i, tp) in list.iter().enumerate() {
                let bill = text(&tp.bill_id);
                if bill.is_none() {
                    errors.push(not_null(&format!("taxAndPayments[{i}].billId")));
                }
                let paid = match amount(&tp.amount_paid, Ceiling::Amount) {
                    None => {
                        errors.push(not_null(&format!("taxAndPayments[{i}].amountPaid")));
                        all_read = false;
                        Paise::ZERO
                    }
                    Some(Ok(p)) => p,
                    Some(Err(e)) => {
                        errors.push(invalid_amount(
                            &format!("taxAndPayments[{i}].amountPaid"),
                            &e,
                        ));
                        all_read = false;
                        Paise::ZERO
                    }
                };
                let tax = match amount(&tp.tax_amount, Ceiling::Total) {
                    Some(Ok(p)) => Some(p),
                    Some(Err(e)) => {
                        errors.push(invalid_amount(
                            &format!("taxAndPayments[{i}].taxAmount"),
                            &e,
                        ));
                        None
                    }
                    None => None,
                };
                tax_and_payments.push(TaxAndPayment {
                    bill_id: bill.unwrap_or_default(),
                    tax_amount: tax,
                    amount_paid: paid,
                });
            }
            // Whether the parts equal txnAmount is the service's check, in DIGIT's order;
            // a sum that cannot be computed, or passes the total ceiling, never reaches it.
            if all_read
                && Paise::sum(tax_and_payments.iter().map(|tp| tp.amount_paid))
                    .and_then(Paise::total_within_ceiling)
                    .is_err()
            {
                errors.push(parts_do_not_add_up());
            }
        }
    }
    let product_info = t.product_info.clone().filter(|p| !p.trim().is_empty());
    match &product_info {
        None => errors.push(not_null("productInfo")),
        Some(v) => check_length(&mut errors, "productInfo", Some(v)),
    }
    let gateway = text(&t.gateway);
    match &gateway {
        None => errors.push(not_null("gateway")),
        Some(v) => check_length(&mut errors, "gateway", Some(v)),
    }
    let callback_url = text(&t.callback_url);
    if callback_url.is_none() {
        errors.push(not_null("callbackUrl"));
    }
    let (payer_name, payer_mobile, payer_email) = match &t.user {
        None => {
            errors.push(not_null("user"));
            (None, None, None)
        }
        Some(u) => {
            let name = text(&u.name);
            if name.is_none() {
                errors.push(not_null("user.name"));
            }
            let mobile = text(&u.mobile_number);
            if mobile.is_none() {
                errors.push(not_null("user.mobileNumber"));
            }
            check_length(&mut errors, "user.name", u.name.as_deref());
            check_length(&mut errors, "user.mobileNumber", u.mobile_number.as_deref());
            check_length(&mut errors, "user.emailId", u.email_id.as_deref());
            (name, mobile, text(&u.email_id))
        }
    };
    let additional_details = match &t.additional_details {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(Value::Object(map.clone())),
        Some(_) => {
            errors.push(ErrorItem::new(
                "INVALID_ADDITIONAL_DETAILS",
                "additionalDetails must be a JSON object",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    // DIGIT's TransactionRequest does not require its RequestInfo, but the first check of
    // its service (TransactionValidator.isUserDetailPresent) reads
    // `getRequestInfo().getUserInfo()`: without one, its tracer answers the
    // NullPointerException.
    if request.request_info.is_none() {
        return Err(bean::unhandled(
            "NullPointerException",
            "Cannot invoke \"org.egov.common.contract.request.RequestInfo.getUserInfo()\" because the return value of \"org.egov.pg.web.models.TransactionRequest.getRequestInfo()\" is null",
        ));
    }
    Ok(NewTransaction {
        tenant_id: tenant_id.unwrap_or_default(),
        amount: txn_amount,
        bill_id: bill_id.unwrap_or_default(),
        module: text(&t.module),
        consumer_code: consumer_code.unwrap_or_default(),
        tax_and_payments,
        product_info: product_info.unwrap_or_default(),
        gateway: gateway.unwrap_or_default(),
        callback_url: callback_url.unwrap_or_default(),
        payer_name: payer_name.unwrap_or_default(),
        payer_mobile: payer_mobile.unwrap_or_default(),
        payer_email,
        additional_details,
    })
}

/// `callbackUrl` with `eg_pg_txnid=<txnId>` appended (DIGIT's enrichment); `None` when it is
/// not an absolute http(s) URL.
pub fn callback_with_txn_id(callback_url: &str, txn_id: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(callback_url).ok()?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return None;
    }
    url.query_pairs_mut()
        .append_pair(crate::gateways::PG_TXN_ID_KEY, txn_id);
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(t: Value) -> TransactionRequest {
        kosh_platform::extract::bind(json!({"RequestInfo": {}, "Transaction": t})).unwrap()
    }

    fn valid() -> Value {
        json!({"tenantId": "pb.amritsar", "txnAmount": 500.5, "billId": "b1", "module": "PT",
            "consumerCode": "PT-1", "productInfo": "Property tax", "gateway": "PAYU",
            "callbackUrl": "https://ui.example/pay?x=1",
            "taxAndPayments": [{"billId": "b1", "amountPaid": "500.50"}],
            "user": {"name": "Asha", "mobileNumber": "9876543210", "tenantId": "pb"}})
    }

    #[test]
    fn reads_numbers_and_strings_exactly() {
        let t = parse(&request(valid())).unwrap();
        assert_eq!(t.amount, Paise::new(500_50));
        assert_eq!(t.tax_and_payments[0].amount_paid, Paise::new(500_50));
        assert_eq!(t.payer_name, "Asha");
        let mut v = valid();
        v["TXNAMOUNT"] = json!("0.29");
        v.as_object_mut().unwrap().remove("txnAmount");
        assert_eq!(parse(&request(v)).unwrap().amount, Paise::new(29));
    }

    #[test]
    fn bean_validation_in_digits_words() {
        let err = parse(&request(
            json!({"txnAmount": "abc", "taxAndPayments": [], "user": {}}),
        ))
        .unwrap_err();
        let codes: Vec<&str> = err.errors.iter().map(|e| e.code.as_str()).collect();
        for code in [
            "NotNull.transactionRequest.transaction.tenantId",
            "INVALID_TXN_AMOUNT",
            "NotNull.transactionRequest.transaction.billId",
            "NotNull.transactionRequest.transaction.consumerCode",
            "Size.transactionRequest.transaction.taxAndPayments",
            "NotNull.transactionRequest.transaction.productInfo",
            "NotNull.transactionRequest.transaction.gateway",
            "NotNull.transactionRequest.transaction.callbackUrl",
            "NotNull.transactionRequest.transaction.user.name",
            "NotNull.transactionRequest.transaction.user.mobileNumber",
        ] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        let err = parse(&request(json!({"txnAmount": "10.005"}))).unwrap_err();
        assert!(err.errors.iter().any(|e| e.code == "INVALID_TXN_AMOUNT"));
        let err = parse(&request(json!({"txnAmount": -1}))).unwrap_err();
        assert!(err.errors.iter().any(|e| e.code == "INVALID_TXN_AMOUNT"));
    }

    fn codes(v: Value) -> Vec<(String, String)> {
        match parse(&request(v)) {
            Ok(_) => vec![],
            Err(e) => e.errors.into_iter().map(|e| (e.code, e.message)).collect(),
        }
    }

    #[test]
    fn amounts_at_and_beyond_the_limits_are_refused() {
        let ceiling = kosh_platform::money::limits().max_amount;
        let total_ceiling = kosh_platform::money::limits().max_total;
        // The reported wrap: 92233720368547758 + 92233720368547758 + 100 rupees is 99.84
        // rupees in wrapping i64 paise.
        let mut wrap = valid();
        wrap["txnAmount"] = json!("99.84");
        wrap["taxAndPayments"] = json!([
            {"billId": "b1", "amountPaid": "92233720368547758"},
            {"billId": "b2", "amountPaid": "92233720368547758"},
            {"billId": "b3", "amountPaid": "100"}]);
        let errs = codes(wrap);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().all(|(c, m)| c == "INVALID_TXN_AMOUNT"
            && m.contains("above the largest amount kosh accepts")));
        for (txn, part, code) in [
            (json!(i64::MAX), json!(1), "INVALID_TXN_AMOUNT"),
            (json!(i64::MIN), json!(1), "INVALID_TXN_AMOUNT"),
            (json!("1e30"), json!(1), "INVALID_TXN_AMOUNT"),
            (json!(1e30), json!(1), "INVALID_TXN_AMOUNT"),
            (json!("-0.01"), json!(1), "INVALID_TXN_AMOUNT"),
            (json!(1), json!("-0.01"), "INVALID_TXN_AMOUNT"),
            (json!(1), json!(0.001), "INVALID_TXN_AMOUNT"),
            (json!(1), json!(ceiling.rupees()), ""),
            (
                json!(1),
                json!(Paise::new(ceiling.get() + 1).rupees()),
                "INVALID_TXN_AMOUNT",
            ),
            (json!(total_ceiling.rupees()), json!(1), ""),
            (
                json!(Paise::new(total_ceiling.get() + 1).rupees()),
                json!(1),
                "INVALID_TXN_AMOUNT",
            ),
        ] {
            let mut v = valid();
            v["txnAmount"] = txn.clone();
            v["taxAndPayments"][0]["amountPaid"] = part.clone();
            let errs = codes(v);
            if code.is_empty() {
                assert!(errs.is_empty(), "{txn} {part}: {errs:?}");
            } else {
                assert_eq!(errs.len(), 1, "{txn} {part}: {errs:?}");
                assert_eq!(errs[0].0, code, "{txn} {part}: {errs:?}");
            }
        }
        // Each part within the ceiling, their sum past the total ceiling.
        let mut many = valid();
        many["txnAmount"] = json!(total_ceiling.rupees());
        many["taxAndPayments"] = Value::Array(
            (0..11)
                .map(|i| json!({"billId": format!("b{i}"), "amountPaid": ceiling.rupees()}))
                .collect(),
        );
        assert_eq!(
            codes(many),
            vec![(
                "TXN_CREATE_INVALID_TXN_AMT".to_string(),
                "Transaction amount should be equal to sum of all  amountPaids in taxAndPayments"
                    .to_string()
            )]
        );
    }

    #[test]
    fn callback_gets_the_txn_id() {
        assert_eq!(
            callback_with_txn_id("https://ui.example/pay?x=1", "PB_PG_1").as_deref(),
            Some("https://ui.example/pay?x=1&eg_pg_txnid=PB_PG_1")
        );
        assert_eq!(callback_with_txn_id("not a url", "T"), None);
        assert_eq!(callback_with_txn_id("ftp://x/y", "T"), None);
    }
}
