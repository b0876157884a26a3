//! Billing's wire conventions: Spring's status strings in `ResponseInfo`, bean-validation
//! error codes, and money as decimal rupees that must convert to paise exactly.

use kosh_platform::bean::{self, Limit};
use kosh_platform::money::{self, Paise};
use kosh_platform::{ErrorItem, RequestInfo, ResponseInfo};
use serde_json::Value;

/// `HttpStatus.toString()`, which billing-service writes into `ResponseInfo.status`.
pub const OK: &str = "200 OK";
pub const CREATED: &str = "201 CREATED";
pub const BAD_REQUEST: &str = "400 BAD_REQUEST";

/// The largest amount DIGIT's `numeric(12,2)` columns hold, in paise.
pub const MAX_AMOUNT_PAISE: i64 = 999_999_999_999;

pub fn response_info(request: Option<&RequestInfo>, status: &str, now_ms: i64) -> Value {
    serde_json::to_value(ResponseInfo::from_request(request, status, now_ms)).unwrap_or(Value::Null)
}

/// Spring's bean-validation failure for a missing field: code `NotNull.<object path>`.
pub fn not_null(path: &str) -> ErrorItem {
    bean::not_null(path)
}

/// Billing's length limits, the one table of them. DIGIT's `Demand` and `DemandDetail`
/// carry no `@Size`; the limits are the widths of the columns billing-service stores them in
/// (`egbs_demand_v1`, `egbs_demanddetail_v1`: `character varying(250)`), whose insert DIGIT
/// fails on a longer value. kosh refuses such a value before anything is written, in the
/// form of a bean-validation failure (`Size.demandRequest.demands[0].consumerCode`, "size
/// must be between 0 and 250").
pub const LIMITS: &[Limit] = &[
    Limit::max("Demand.tenantId", 250),
    Limit::max("Demand.consumerCode", 250),
    Limit::max("Demand.consumerType", 250),
    Limit::max("Demand.businessService", 250),
    // egbs_demand_v1.payer holds the payer's uuid.
    Limit::max("Demand.payer.uuid", 250),
    Limit::max("DemandDetail.taxHeadMasterCode", 250),
];

/// Checks `value` against billing's limit of `key` (a key of [`LIMITS`]).
pub fn check_length(errors: &mut Vec<ErrorItem>, key: &str, path: &str, value: Option<&str>) {
    bean::check_length(errors, LIMITS, key, path, value);
}

/// A field Jackson could not bind (text where a number belongs).
pub fn mapping_error(description: String) -> ErrorItem {
    ErrorItem::new(
        "JsonMappingException",
        "Failed to deserialize certain JSON fields",
    )
    .with_description(description)
}

/// Whether a text field was left out or blank; DIGIT's clients send both for "none".
pub fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

/// The trimmed text of a field that is present and not blank.
pub fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Reads a rupee amount (a JSON number or a numeric string) as paise, exactly. `field` names
/// the field in the error (`Demands[0].demandDetails[1].taxAmount`).
pub fn paise(value: &Value, field: &str) -> Result<Paise, ErrorItem> {
    let text = match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => n.as_f64().map(|f| f.to_string()).unwrap_or_default(),
        Value::String(s) => s.trim().to_string(),
        other => {
            return Err(mapping_error(format!(
                "{field}: expected a decimal amount, got {other}"
            )));
        }
    };
    if !is_decimal(&text) {
        return Err(mapping_error(format!(
            "{field}: \"{text}\" is not a decimal amount"
        )));
    }
    let invalid = |why: String| ErrorItem::new("EG_BS_INVALID_AMOUNT", why);
    match money::parse_rupees(&text) {
        Some(p) if p.abs() <= MAX_AMOUNT_PAISE => Ok(Paise::new(p)),
        Some(_) => Err(invalid(format!(
            "{field} must be less than 10000000000, got {text}"
        ))),
        None if too_precise(&text) => Err(invalid(format!(
            "{field} must have at most two decimal places (paise), got {text}"
        ))),
        None => Err(invalid(format!(
            "{field} must be less than 10000000000, got {text}"
        ))),
    }
}

fn is_decimal(text: &str) -> bool {
    let digits = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn too_precise(text: &str) -> bool {
    text.split_once('.')
        .is_some_and(|(_, f)| f.trim_end_matches('0').len() > 2)
}

/// Rupees in the shortest decimal form, as a BigDecimal the client sent prints in DIGIT's
/// messages: `20000` paise → `200`, `20050` → `200.5`, `20005` → `200.05`.
pub fn plain(amount: Paise) -> String {
    let formatted = amount.rupees();
    formatted
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// Java's `Set.toString()` of sorted values: `[a, b]`.
pub fn java_set<'a>(values: impl IntoIterator<Item = &'a String>) -> String {
    let sorted: std::collections::BTreeSet<&String> = values.into_iter().collect();
    format!(
        "[{}]",
        sorted
            .into_iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_convert_exactly() {
        assert_eq!(paise(&json!(100), "x"), Ok(Paise::new(10000)));
        assert_eq!(paise(&json!(100.5), "x"), Ok(Paise::new(10050)));
        assert_eq!(paise(&json!("99.99"), "x"), Ok(Paise::new(9999)));
        assert_eq!(paise(&json!(-12.25), "x"), Ok(Paise::new(-1225)));
        assert_eq!(paise(&json!("10.500"), "x"), Ok(Paise::new(1050)));
    }

    #[test]
    fn amounts_refuse_fractions_of_paise_and_text() {
        let err = paise(&json!(100.005), "Demands[0].x").unwrap_err();
        assert_eq!(err.code, "EG_BS_INVALID_AMOUNT");
        assert!(
            err.message.contains("two decimal places"),
            "{}",
            err.message
        );
        assert_eq!(
            paise(&json!("abc"), "x").unwrap_err().code,
            "JsonMappingException"
        );
        assert_eq!(
            paise(&json!(true), "x").unwrap_err().code,
            "JsonMappingException"
        );
        assert_eq!(
            paise(&json!(20020020012u64), "x").unwrap_err().code,
            "EG_BS_INVALID_AMOUNT"
        );
    }

    #[test]
    fn plain_prints_like_bigdecimal() {
        let plain = |paise| plain(Paise::new(paise));
        assert_eq!(plain(20000), "200");
        assert_eq!(plain(20050), "200.5");
        assert_eq!(plain(20005), "200.05");
        assert_eq!(plain(0), "0");
        assert_eq!(plain(-150), "-1.5");
    }

    #[test]
    fn sets_print_like_java() {
        let v = vec!["b".to_string(), "a".to_string()];
        assert_eq!(java_set(&v), "[a, b]");
    }
}
