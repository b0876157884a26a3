//! The DIGIT envelope: a request body as `DigitJson` reads it (JSON parse, then the
//! case-insensitive, Jackson-tolerant binding of `ci_json`), query strings as `DigitQuery`
//! reads them, and DIGIT decimal amounts. Any panic is a bug: outside bytes must become a
//! DIGIT error (`JsonParseException`, `JsonMappingException`, `INVALID_QUERY_PARAMETER`).
#![allow(dead_code)]

use std::collections::BTreeMap;

use kosh_platform::envelope::RequestInfoWrapper;
use kosh_platform::extract::{bind, comma_list, parse_body, query_object};
use kosh_platform::{DigitError, RequestInfo, money};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Status {
    Active,
    Cancelled,
    PartiallyPaid,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    tax_head_code: String,
    tax_amount: Option<f64>,
    collection_amount: Option<i64>,
    order: Option<u32>,
    is_debit: Option<bool>,
    status: Option<Status>,
    additional_details: Option<Value>,
}

/// A request shaped like DIGIT's own: envelope, lists of nested records, every scalar kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shaped {
    #[serde(rename = "RequestInfo")]
    request_info: Option<RequestInfo>,
    tenant_id: Option<String>,
    #[serde(default, with = "comma_list")]
    consumer_code: Option<Vec<String>>,
    #[serde(default)]
    details: Vec<Detail>,
    limit: Option<u16>,
    offset: Option<i32>,
    from_date: Option<i64>,
    amount: Option<Value>,
    tags: Option<BTreeMap<String, String>>,
    pair: Option<(String, i64)>,
    unit: Option<()>,
}

/// Query criteria as search endpoints declare them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Criteria {
    tenant_id: Option<String>,
    #[serde(default, with = "comma_list")]
    ids: Option<Vec<String>>,
    #[serde(default, with = "comma_list")]
    consumer_code: Option<Vec<String>>,
    limit: Option<i64>,
    offset: Option<u32>,
    is_active: Option<bool>,
    status: Option<Status>,
}

/// An error kosh answers with must itself serialize.
fn answer(e: DigitError) {
    let body = e.body();
    assert!(
        body.get("Errors").is_some(),
        "DIGIT error body without Errors: {body}"
    );
}

fn bind_all(value: &Value) {
    for result in [
        bind::<RequestInfoWrapper>(value.clone()).map(drop),
        bind::<RequestInfo>(value.clone()).map(drop),
        bind::<Shaped>(value.clone()).map(drop),
        bind::<Vec<Shaped>>(value.clone()).map(drop),
        bind::<Criteria>(value.clone()).map(drop),
    ] {
        if let Err(e) = result {
            answer(e);
        }
    }
}

/// A request body: `DigitJson<T>` for several `T`.
pub fn json(data: &[u8]) {
    match parse_body(data) {
        Ok(value) => bind_all(&value),
        Err(e) => answer(e),
    }
}

/// A query string: `DigitQuery<T>`; then the same text as a DIGIT decimal amount.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let value = query_object(&text);
    assert!(value.is_object());
    bind_all(&value);
    amount(&text);
}

/// DIGIT decimal amounts (`"12.50"`): exact, and what kosh writes back reads the same.
pub fn amount(text: &str) {
    if let Some(paise) = money::parse_rupees(text) {
        assert_eq!(
            money::parse_rupees(&money::format_rupees(paise)),
            Some(paise)
        );
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = money::paise_from_json(&value);
    }
}
