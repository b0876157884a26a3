//! DIGIT's bean validation (javax.validation on its request classes) as its tracer renders
//! it (tracer `ExceptionAdvise`, MethodArgumentNotValidException): one error per violated
//! constraint, HTTP 400, `code` = Spring's first binding code of the violation
//! (`NotNull.demandRequest.requestInfo`, `Size.paymentRequest.payment.payerName`) and
//! `message` = the constraint's default message ("must not be null", "size must be between
//! 0 and 128").
//!
//! Two rules every service applies through this module:
//! - `RequestInfo` is mandatory where DIGIT's request class marks it `@NotNull`
//!   ([`request_info_missing`]). DIGIT's gateway adds `userInfo` only to a `RequestInfo` the
//!   body already has, so a token sent in the `auth-token` header does not stand in for it.
//! - Text is no longer than DIGIT's `@Size` on the model or, where the model has none, the
//!   width of the column DIGIT stores it in (`character varying(n)`; DIGIT's insert fails on
//!   a longer value). Each service keeps its limits in one [`Limit`] table and checks them
//!   with [`check_length`] before anything is written.

use crate::error::{DigitError, ErrorItem};

/// The default message of `@NotNull`.
pub const MUST_NOT_BE_NULL: &str = "must not be null";

/// `@NotNull` violated at `path` (`demandRequest.demands[0].consumerCode`).
pub fn not_null(path: &str) -> ErrorItem {
    ErrorItem::new(format!("NotNull.{path}"), MUST_NOT_BE_NULL)
}

/// `@Size(min, max)` violated at `path`, with Hibernate Validator's default message.
pub fn size(path: &str, min: usize, max: usize) -> ErrorItem {
    ErrorItem::new(
        format!("Size.{path}"),
        format!("size must be between {min} and {max}"),
    )
}

/// The violation of `@NotNull` on a request class's `requestInfo`, when it is missing;
/// `path` is the binding path of the field, e.g. `demandRequest.requestInfo` (billing's
/// `DemandRequest`), `paymentRequest.requestInfo` (collection's `PaymentRequest`) or
/// `updateBillRequest.RequestInfo` (billing's `UpdateBillRequest`, whose field is spelled
/// so).
pub fn request_info_missing<T>(request_info: &Option<T>, path: &str) -> Option<ErrorItem> {
    request_info.is_none().then(|| not_null(path))
}

/// [`request_info_missing`] as a refusal on its own.
pub fn require_request_info<T>(request_info: &Option<T>, path: &str) -> Result<(), DigitError> {
    match request_info_missing(request_info, path) {
        Some(item) => Err(DigitError::item(item)),
        None => Ok(()),
    }
}

/// The codes of bean-validation failures (`NotNull.x`, `Size.x`, ...), as opposed to the
/// failures of a service's own checks, which never run on a request that fails bean
/// validation.
fn is_bean_code(code: &str) -> bool {
    [
        "NotNull.",
        "Size.",
        "Pattern.",
        "Email.",
        "Min.",
        "Max.",
        "NotEmpty.",
        "NotBlank.",
    ]
    .iter()
    .any(|prefix| code.starts_with(prefix))
}

/// Spring validates the whole request at once, so a missing `RequestInfo` is reported,
/// first, with the request's other bean-validation failures in `result`; the rest of
/// `result`'s failures (the service's own checks) are dropped, as DIGIT never gets to them.
pub fn with_request_info<T>(
    missing: Option<ErrorItem>,
    result: Result<T, DigitError>,
) -> Result<T, DigitError> {
    let Some(item) = missing else {
        return result;
    };
    let code = item.code.clone();
    let mut errors = vec![item];
    if let Err(e) = result {
        errors.extend(
            e.errors
                .into_iter()
                .filter(|x| is_bean_code(&x.code) && x.code != code),
        );
    }
    Err(DigitError::many(errors))
}

/// An exception DIGIT's tracer does not know (a NullPointerException, an
/// IllegalArgumentException): its class name as the code, the exception's own message as
/// the description, HTTP 400.
pub fn unhandled(exception: &str, description: impl Into<String>) -> DigitError {
    DigitError::item(
        ErrorItem::new(exception, "An unhandled exception occurred on the server")
            .with_description(description),
    )
}

/// A length limit on one text field of one of DIGIT's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// `Object.field`, e.g. `Demand.consumerCode`: the key a service looks the limit up by.
    pub key: &'static str,
    pub min: usize,
    pub max: usize,
}

impl Limit {
    /// `@Size(max = max)`, or a `character varying(max)` column.
    pub const fn max(key: &'static str, max: usize) -> Limit {
        Limit { key, min: 0, max }
    }

    /// `@Size(min = min, max = max)`.
    pub const fn between(key: &'static str, min: usize, max: usize) -> Limit {
        Limit { key, min, max }
    }

    /// Whether `value` keeps to the limit. Lengths are counted in characters, as both
    /// Java's `String.length()` (for text of the Basic Multilingual Plane) and PostgreSQL's
    /// `character varying(n)` count them; a missing value is not judged (`@Size` lets null
    /// pass).
    pub fn allows(&self, value: &str) -> bool {
        let n = value.chars().count();
        n >= self.min && n <= self.max
    }
}

/// The limit of `key` in a service's table. A key missing from the table is a bug, and
/// panics: every service looks up each of its keys on every well-formed request, so the
/// black-box tests would find one.
pub fn limit(table: &[Limit], key: &str) -> Limit {
    table
        .iter()
        .copied()
        .find(|l| l.key == key)
        .unwrap_or_else(|| panic!("no length limit for {key}"))
}

/// Checks `value` against the limit of `key`, recording a `Size.<path>` violation.
pub fn check_length(
    errors: &mut Vec<ErrorItem>,
    table: &[Limit],
    key: &str,
    path: &str,
    value: Option<&str>,
) {
    let limit = limit(table, key);
    if let Some(value) = value
        && !limit.allows(value)
    {
        errors.push(size(path, limit.min, limit.max));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Limit] = &[
        Limit::max("Demand.consumerCode", 250),
        Limit::between("Transaction.tenantId", 2, 50),
    ];

    #[test]
    fn lengths_in_characters() {
        let mut errors = Vec::new();
        let code = "क".repeat(250);
        check_length(
            &mut errors,
            TABLE,
            "Demand.consumerCode",
            "d.c",
            Some(&code),
        );
        assert!(errors.is_empty());
        let code = "x".repeat(251);
        check_length(
            &mut errors,
            TABLE,
            "Demand.consumerCode",
            "d.c",
            Some(&code),
        );
        check_length(&mut errors, TABLE, "Transaction.tenantId", "t.t", Some("p"));
        check_length(&mut errors, TABLE, "Transaction.tenantId", "t.t", None);
        assert_eq!(
            errors,
            vec![
                ErrorItem::new("Size.d.c", "size must be between 0 and 250"),
                ErrorItem::new("Size.t.t", "size must be between 2 and 50"),
            ]
        );
    }

    #[test]
    fn request_info_joins_the_other_violations() {
        let missing = request_info_missing(&None::<()>, "demandRequest.requestInfo");
        let other: Result<(), DigitError> = Err(DigitError::many(vec![
            not_null("demandRequest.x"),
            ErrorItem::new("EG_BS_SOMETHING", "a service check"),
        ]));
        let e = with_request_info(missing.clone(), other).unwrap_err();
        let codes: Vec<_> = e.errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "NotNull.demandRequest.requestInfo",
                "NotNull.demandRequest.x"
            ]
        );
        let e = with_request_info(missing, Ok(())).unwrap_err();
        assert_eq!(e.errors[0].message, "must not be null");
        assert!(with_request_info(None, Ok(1)).is_ok());
    }
}
