//! Request extractors that bind the way DIGIT's Spring services do, and fail with DIGIT's
//! error bodies instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ci_json;
use crate::error::{DigitError, ErrorItem};

/// A JSON body bound case-insensitively, unknown fields ignored.
#[derive(Debug, Clone)]
pub struct DigitJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for DigitJson<T> {
    type Rejection = DigitError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            // Over KOSH_MAX_BODY_BYTES: the same answer the gateway gives on routes that
            // need a token, so a client sees one error whichever route it called.
            let item = if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ErrorItem::new("PAYLOAD_TOO_LARGE", "The request body is too large")
            } else {
                ErrorItem::new("JsonParseException", "JSON body has errors or is missing")
            };
            DigitError::item(item.with_description(e.body_text())).with_status(e.status())
        })?;
        let value = parse_body(&bytes)?;
        bind(value).map(DigitJson)
    }
}

/// Parses a request body as JSON. An empty body, or `null`, is DIGIT's MissingJsonException;
/// a NUL character anywhere in it is [`nul_refused`] (no database stores it as text).
pub fn parse_body(bytes: &[u8]) -> Result<Value, DigitError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(missing_json());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Null) => Err(missing_json()),
        Ok(value) if holds_nul(&value) => Err(nul_refused()),
        Ok(value) => Ok(value),
        Err(e) => Err(malformed_json(&e)),
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Form or query pairs (already decoded) with a NUL character are [`nul_refused`].
pub fn check_pairs<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), DigitError> {
    let mut pairs = pairs.into_iter();
    if pairs.any(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(nul_refused());
    }
    Ok(())
}

/// A NUL character in a request: refused before it reaches the database (PostgreSQL cannot
/// store it in text, and a value cut at it would not be the value sent).
pub fn nul_refused() -> DigitError {
    DigitError::new(
        "INVALID_INPUT",
        "The request carries a NUL character, which no field accepts",
    )
}

/// No body where one is required (Spring's "Required request body is missing").
pub fn missing_json() -> DigitError {
    DigitError::new("MissingJsonException", "JSON body has errors or is missing")
}

/// Binds an already parsed body into `T`.
pub fn bind<T: DeserializeOwned>(value: Value) -> Result<T, DigitError> {
    ci_json::from_value(value).map_err(|e| mapping_error(&e))
}

/// The body is not JSON at all (Jackson's JsonParseException).
pub fn malformed_json(err: &serde_json::Error) -> DigitError {
    DigitError::item(
        ErrorItem::new(
            "JsonParseException",
            "Failed to deserialize certain JSON fields",
        )
        .with_description(err.to_string()),
    )
}

/// The body is JSON but a field has the wrong shape (Jackson's JsonMappingException).
pub fn mapping_error(err: &serde_json::Error) -> DigitError {
    DigitError::item(
        ErrorItem::new(
            "JsonMappingException",
            "Failed to deserialize certain JSON fields",
        )
        .with_description(err.to_string()),
    )
}

/// Query parameters bound case-insensitively. Repeated keys are joined with commas, so a
/// list field reads both `?id=a&id=b` and `?id=a,b`. Unknown parameters (the web UI's `_`
/// cache buster) are ignored.
#[derive(Debug, Clone)]
pub struct DigitQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for DigitQuery<T> {
    type Rejection = DigitError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = query_object(parts.uri.query().unwrap_or(""));
        ci_json::from_value(value).map(DigitQuery).map_err(|e| {
            DigitError::item(
                ErrorItem::new("INVALID_QUERY_PARAMETER", "Invalid query parameter")
                    .with_description(e.to_string()),
            )
        })
    }
}

/// The query string as a JSON object of strings.
pub fn query_object(query: &str) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut map = Map::new();
    for (key, value) in pairs {
        match map.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                map.insert(key, Value::String(value));
            }
        }
    }
    Value::Object(map)
}

/// Serde helper for DIGIT's set-valued criteria: accepts `"a,b"`, `["a","b"]` or nothing,
/// trimming blanks.
pub mod comma_list {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let value = Option::<Value>::deserialize(d)?;
        let mut out = Vec::new();
        let mut push = |s: &str| {
            for part in s.split(',') {
                let part = part.trim();
                if !part.is_empty() {
                    out.push(part.to_string());
                }
            }
        };
        match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => push(&s),
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => push(&s),
                        Value::Null => {}
                        other => push(&other.to_string()),
                    }
                }
            }
            Some(other) => push(&other.to_string()),
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_query_keys_join() {
        let v = query_object("a=1&b=x&a=2&_=123");
        assert_eq!(v["a"], "1,2");
        assert_eq!(v["b"], "x");
    }

    #[test]
    fn empty_body_is_missing_json() {
        assert_eq!(
            parse_body(b"  ").unwrap_err().first_code(),
            Some("MissingJsonException")
        );
        assert_eq!(
            parse_body(b"null").unwrap_err().first_code(),
            Some("MissingJsonException")
        );
        assert_eq!(
            parse_body(b"{bad").unwrap_err().first_code(),
            Some("JsonParseException")
        );
        assert_eq!(parse_body(b"{}").unwrap(), Value::Object(Map::new()));
    }
}
