//! One error type for every service, rendered as DIGIT's error body:
//! `{"ResponseInfo": null, "Errors": [{"code", "message", "description", "params"}]}`.
//!
//! DIGIT collects validation failures into a map keyed by error code and throws them
//! together, so a second failure with the same code replaces the first; [`ErrorMap`] keeps
//! that rule. The HTTP status is decided here and nowhere else.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorItem {
    pub code: String,
    pub message: String,
    pub description: Option<String>,
    pub params: Option<Vec<String>>,
}

impl ErrorItem {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorItem {
            code: code.into(),
            message: message.into(),
            description: None,
            params: None,
        }
    }

    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn with_params(mut self, params: Vec<String>) -> Self {
        self.params = Some(params);
        self
    }
}

/// Validation failures collected before they are thrown together, keyed by code.
#[derive(Debug, Default, Clone)]
pub struct ErrorMap(Vec<ErrorItem>);

impl ErrorMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure; a failure with the same code replaces the earlier one (DIGIT's map).
    pub fn put(&mut self, code: impl Into<String>, message: impl Into<String>) {
        let item = ErrorItem::new(code, message);
        match self.0.iter_mut().find(|e| e.code == item.code) {
            Some(existing) => *existing = item,
            None => self.0.push(item),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, code: &str) -> bool {
        self.0.iter().any(|e| e.code == code)
    }

    /// `Ok(())` when nothing failed, else a 400 carrying every failure.
    pub fn into_result(self) -> Result<(), DigitError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DigitError::many(self.0))
        }
    }
}

#[derive(Debug, Clone)]
pub struct DigitError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
    /// A body passed through unchanged (DIGIT passes a downstream service's 4xx body on).
    pub raw_body: Option<Box<Value>>,
    /// Set for database conflicts that [`crate::Db::write`] retries.
    pub retryable: bool,
    /// `ResponseInfo` of the body; null unless a service sets it.
    pub response_info: Option<Box<Value>>,
}

impl DigitError {
    /// A validation failure: HTTP 400, as DIGIT answers every `CustomException`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::many(vec![ErrorItem::new(code, message)])
    }

    pub fn many(errors: Vec<ErrorItem>) -> Self {
        DigitError {
            status: StatusCode::BAD_REQUEST,
            errors,
            raw_body: None,
            retryable: false,
            response_info: None,
        }
    }

    pub fn item(item: ErrorItem) -> Self {
        Self::many(vec![item])
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// DIGIT's gateway answer for a path no service serves.
    pub fn not_found_route(path: &str) -> Self {
        Self::new(
            "ResourceNotFoundException",
            format!("The resource - {path} not found"),
        )
        .with_status(StatusCode::NOT_FOUND)
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::item(
            ErrorItem::new(
                "HttpRequestMethodNotSupportedException",
                format!("Request method '{method}' is not supported"),
            )
            .with_description(format!("{path} does not accept {method}")),
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
    }

    /// The gateway's answer to a request without a valid token (zuul's CustomException,
    /// whose description repeats the message).
    pub fn unauthorized() -> Self {
        Self::gateway(
            StatusCode::UNAUTHORIZED,
            "You are not authorized to access this resource",
        )
    }

    /// The gateway's answer when the user's roles do not cover the action.
    pub fn forbidden() -> Self {
        Self::gateway(
            StatusCode::FORBIDDEN,
            "Not authorized to access this resource",
        )
    }

    pub fn gateway(status: StatusCode, message: &str) -> Self {
        Self::item(ErrorItem::new("CustomException", message).with_description(message))
            .with_status(status)
    }

    /// Services whose error body carries a ResponseInfo object instead of null (idgen).
    pub fn with_response_info(mut self, response_info: Value) -> Self {
        self.response_info = Some(Box::new(response_info));
        self
    }

    /// An outage the client may retry: the database cannot be reached.
    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::item(
            ErrorItem::new(
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable, please retry",
            )
            .with_description(description),
        )
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// A fault of kosh itself. The correlation id lets an operator find it in the log.
    pub fn internal(correlation_id: &str) -> Self {
        Self::item(
            ErrorItem::new(
                "INTERNAL_SERVER_ERROR",
                "An unhandled exception occurred on the server",
            )
            .with_description(format!("correlation id {correlation_id}")),
        )
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn passthrough(status: StatusCode, body: Value) -> Self {
        DigitError {
            status,
            errors: Vec::new(),
            raw_body: Some(Box::new(body)),
            retryable: false,
            response_info: None,
        }
    }

    pub fn first_code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }

    pub fn body(&self) -> Value {
        match &self.raw_body {
            Some(body) => (**body).clone(),
            None => json!({ "ResponseInfo": self.response_info, "Errors": self.errors }),
        }
    }
}

impl std::fmt::Display for DigitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)?;
        for e in &self.errors {
            write!(f, " [{}: {}]", e.code, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for DigitError {}

impl IntoResponse for DigitError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, error = %self, "request failed");
        }
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<sqlx::Error> for DigitError {
    fn from(err: sqlx::Error) -> Self {
        crate::db::classify(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_failure_with_a_code_wins() {
        let mut map = ErrorMap::new();
        map.put("A", "first");
        map.put("B", "other");
        map.put("A", "second");
        let err = map.into_result().unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.errors.len(), 2);
        assert_eq!(err.errors[0].message, "second");
    }

    #[test]
    fn body_has_digit_shape() {
        let body = DigitError::new("X", "y").body();
        assert_eq!(body["ResponseInfo"], Value::Null);
        assert_eq!(body["Errors"][0]["code"], "X");
        assert_eq!(body["Errors"][0]["message"], "y");
        assert!(body["Errors"][0].get("description").is_some());
        assert!(body["Errors"][0].get("params").is_some());
    }
}
