//! `_create`'s request as DIGIT's clients send it (`{"RequestInfo", "Transaction": {...}}`),
//! bound case-insensitively, with DIGIT's bean validation (`NotNull.transactionRequest.
//! transaction.x`, "must not be null"), amounts read exactly into paise whether they come as
//! JSON numbers (the web UI) or strings (the Swagger contract).

use kosh_platform::money::paise_from_json;
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

/// A checked create request, amounts in paise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTransaction {
    pub tenant_id: String,
    pub amount: i64,
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

fn size(path: &str, min: usize, max: usize) -> ErrorItem {
    ErrorItem::new(
        format!("Size.transactionRequest.transaction.{path}"),
        format!("size must be between {min} and {max}"),
    )
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn invalid_amount(path: &str) -> ErrorItem {
    ErrorItem::new(
        "INVALID_TXN_AMOUNT",
        format!("{path} must be a non-negative number of rupees with at most two decimals"),
    )
}

/// An amount in paise: `Err(())` when present but not an exact non-negative rupee amount.
fn amount(value: &Option<Value>) -> Option<Result<i64, ()>> {
    match value {
        None | Some(Value::Null) => None,
        Some(v) => Some(paise_from_json(v).filter(|p| *p >= 0).ok_or(())),
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
        Some(v) if v.len() < 2 || v.len() > 50 => errors.push(size("tenantId", 2, 50)),
        _ => {}
    }
    let txn_amount = match amount(&t.txn_amount) {
        None => {
            errors.push(not_null("txnAmount"));
            0
        }
        Some(Ok(p)) => p,
        Some(Err(())) => {
            errors.push(invalid_amount("txnAmount"));
            0
        }
    };
    let bill_id = text(&t.bill_id);
    if bill_id.is_none() {
        errors.push(not_null("billId"));
    }
    let consumer_code = text(&t.consumer_code);
    match &consumer_code {
        None => errors.push(not_null("consumerCode")),
        Some(v) if v.chars().count() > 128 => errors.push(size("consumerCode", 0, 128)),
        _ => {}
    }
    let mut tax_and_payments = Vec::new();
    match &t.tax_and_payments {
        None => errors.push(not_null("taxAndPayments")),
        Some(list) if list.is_empty() => errors.push(size("taxAndPayments", 1, i32::MAX as usize)),
        Some(list) => {
            for (i, tp) in list.iter().enumerate() {
                let bill = text(&tp.bill_id);
                if bill.is_none() {
                    errors.push(not_null(&format!("taxAndPayments[{i}].billId")));
                }
                let paid = match amount(&tp.amount_paid) {
                    None => {
                        errors.push(not_null(&format!("taxAndPayments[{i}].amountPaid")));
                        0
                    }
                    Some(Ok(p)) => p,
                    Some(Err(())) => {
                        errors.push(invalid_amount(&format!("taxAndPayments[{i}].amountPaid")));
                        0
                    }
                };
                let tax = match amount(&tp.tax_amount) {
                    Some(Ok(p)) => Some(p),
                    Some(Err(())) => {
                        errors.push(invalid_amount(&format!("taxAndPayments[{i}].taxAmount")));
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
        }
    }
    let product_info = t.product_info.clone().filter(|p| !p.trim().is_empty());
    match &product_info {
        None => errors.push(not_null("productInfo")),
        Some(v) if v.chars().count() > 512 => errors.push(size("productInfo", 1, 512)),
        _ => {}
    }
    let gateway = text(&t.gateway);
    if gateway.is_none() {
        errors.push(not_null("gateway"));
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
        assert_eq!(t.amount, 500_50);
        assert_eq!(t.tax_and_payments[0].amount_paid, 500_50);
        assert_eq!(t.payer_name, "Asha");
        let mut v = valid();
        v["TXNAMOUNT"] = json!("0.29");
        v.as_object_mut().unwrap().remove("txnAmount");
        assert_eq!(parse(&request(v)).unwrap().amount, 29);
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
