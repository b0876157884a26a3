//! The JSONPath filters DIGIT's clients send with a master (`[?(@.code=='PT')]`,
//! `$.*.code`), applied to the master's array of records. DIGIT uses Jayway JsonPath, which
//! accepts paths without the leading `$`; kosh evaluates RFC 9535 JSONPath after adding it.

use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

/// Longest filter accepted. DIGIT's clients send a few dozen characters.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting of brackets and parentheses accepted. DIGIT's filters nest two or three
/// levels; the JSONPath parser recurses once per level, so a filter of thousands of `(`
/// (one unauthenticated `_search`) would overflow a worker thread's stack and abort kosh.
pub const MAX_FILTER_NESTING: usize = 32;

/// Applies `filter` to `records`; the matches, in document order.
pub fn apply_filter(records: &[Value], filter: &str) -> Result<Vec<Value>, FilterError> {
    check_shape(filter)?;
    let path = normalize(filter);
    let compiled = JsonPath::parse(&path).map_err(|e| FilterError(format!("{filter}: {e}")))?;
    let array = Value::Array(records.to_vec());
    Ok(compiled.query(&array).all().into_iter().cloned().collect())
}

/// Refuses filters too long or too deeply nested to parse safely; brackets inside string
/// literals do not count.
fn check_shape(filter: &str) -> Result<(), FilterError> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(FilterError(format!(
            "the filter is longer than {MAX_FILTER_LEN} characters"
        )));
    }
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    for c in filter.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' => {
                    depth += 1;
                    if depth > MAX_FILTER_NESTING {
                        return Err(FilterError(format!(
                            "{filter:.80}: nested deeper than {MAX_FILTER_NESTING} levels"
                        )));
                    }
                }
                ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
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
    fn deeply_nested_filters_are_refused_before_parsing() {
        let deep = format!(
            "[?({}@.code=='PT'{})]",
            "(".repeat(20_000),
            ")".repeat(20_000)
        );
        assert!(apply_filter(&records(), &deep).is_err());
        let nested = format!("$.{}x{}", "[".repeat(40), "]".repeat(40));
        assert!(apply_filter(&records(), &nested).is_err());
        // Brackets inside string literals are text, not nesting.
        let quoted = format!("[?(@.code=='{}')]", "((((".repeat(20));
        assert_eq!(
            apply_filter(&records(), &quoted).unwrap(),
            Vec::<Value>::new()
        );
        let long = format!("[?(@.code=='{}')]", "x".repeat(MAX_FILTER_LEN));
        assert!(apply_filter(&records(), &long).is_err());
    }

    #[test]
    fn bad_filter_is_an_error() {
        assert!(apply_filter(&records(), "[?(@.code==").is_err());
    }
}
