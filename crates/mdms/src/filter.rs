//! The JSONPath filters DIGIT's clients send with a master (`[?(@.code=='PT')]`,
//! `$.*.code`), applied to the master's array of records. DIGIT uses Jayway JsonPath, which
//! accepts paths without the leading `$`; kosh evaluates RFC 9535 JSONPath after adding it.

use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

/// Applies `filter` to `records`; the matches, in document order.
pub fn apply_filter(records: &[Value], filter: &str) -> Result<Vec<Value>, FilterError> {
    let path = normalize(filter);
    let compiled = JsonPath::parse(&path).map_err(|e| FilterError(format!("{filter}: {e}")))?;
    let array = Value::Array(records.to_vec());
    Ok(compiled.query(&array).all().into_iter().cloned().collect())
}

fn normalize(filter: &str) -> String {
    let filter = filter.trim();
    if filter.starts_with('$') {
        filter.to_string()
    } else if filter.starts_with('[') || filter.starts_with('.') {
        format!("${filter}")
    } else {
        format!("$.{filter}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records() -> Vec<Value> {
        vec![json!({"code": "PT", "x": 1}), json!({"code": "WS", "x": 2})]
    }

    #[test]
    fn filter_without_dollar() {
        let out = apply_filter(&records(), "[?(@.code=='PT')]").unwrap();
        assert_eq!(out, vec![json!({"code": "PT", "x": 1})]);
    }

    #[test]
    fn projection() {
        let out = apply_filter(&records(), "$.*.code").unwrap();
        assert_eq!(out, vec![json!("PT"), json!("WS")]);
    }

    #[test]
    fn bad_filter_is_an_error() {
        assert!(apply_filter(&records(), "[?(@.code==").is_err());
    }
}
