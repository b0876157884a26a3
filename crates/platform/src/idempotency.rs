//! `Idempotency-Key`: a write repeated with the same key gets the first answer, and the same
//! key with a different body is refused (422), as the IETF httpapi draft and Stripe do.
//!
//! The key is claimed inside the transaction that does the work, with a plain insert on the
//! key's primary key: a concurrent request with the same key waits on that row and then finds
//! the committed answer; a failed request rolls its claim back, so nothing is remembered for
//! a request that changed nothing. Keys are kept 24 hours.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use crate::{DigitError, ErrorItem};

pub const HEADER: &str = "idempotency-key";
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
const MAX_KEY_LEN: usize = 255;

/// The client's key, if it sent one.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, DigitError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_string();
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(DigitError::new(
            "INVALID_IDEMPOTENCY_KEY",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} characters"),
        ));
    }
    Ok(Some(key))
}

/// A fingerprint of the request body, independent of `RequestInfo` (which carries the token
/// and a timestamp that legitimately change between retries).
pub fn fingerprint(body: &Value) -> String {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.retain(|k, _| !k.eq_ignore_ascii_case("RequestInfo"));
    }
    crate::digest::sha256_hex(body.to_string().as_bytes())
}

/// A stored answer to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub status: StatusCode,
    pub body: Value,
}

/// What a claim found.
pub enum Claim {
    /// The key is new; the caller does the work and calls [`complete`] before committing.
    Fresh,
    /// The key was used before with the same body: answer with this.
    Replay(Replay),
}

/// Claims `key` within `scope` for a request with `hash`.
pub async fn claim(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    hash: &str,
    now_ms: i64,
) -> Result<Claim, DigitError> {
    // A key past its retention is free again.
    sqlx::query(
        "DELETE FROM kosh_idempotency WHERE scope = $1 AND idem_key = $2 AND expires_ms <= $3",
    )
    .bind(scope)
    .bind(key)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO kosh_idempotency (scope, idem_key, request_hash, response_status, response_body, created_ms, expires_ms) \
         VALUES ($1, $2, $3, 0, '', $4, $5) ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(hash)
    .bind(now_ms)
    .bind(now_ms + RETENTION_MS)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query("SELECT request_hash, response_status, response_body FROM kosh_idempotency WHERE scope = $1 AND idem_key = $2")
        .bind(scope)
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    let stored_hash: String = row.try_get(0)?;
    if stored_hash != hash {
        return Err(DigitError::item(
            ErrorItem::new(
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request",
            )
            .with_description("A key may be reused only with the identical request body"),
        )
        .with_status(StatusCode::UNPROCESSABLE_ENTITY));
    }
    let status: i64 = row.try_get(1)?;
    let body: String = row.try_get(2)?;
    // The answer holds the payer's personal data: it is kept sealed (kosh_platform::pii).
    let body = crate::pii::vault()
        .open_or_plain(&body)
        .map_err(|e| sqlx::Error::Decode(format!("kosh_idempotency.response_body: {e}").into()))?;
    Ok(Claim::Replay(Replay {
        status: StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    }))
}

/// Stores the answer for a claimed key (in the same transaction as the work).
pub async fn complete(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    status: StatusCode,
    body: &Value,
) -> Result<(), DigitError> {
    sqlx::query("UPDATE kosh_idempotency SET response_status = $1, response_body = $2 WHERE scope = $3 AND idem_key = $4")
        .bind(i64::from(status.as_u16()))
        .bind(crate::pii::vault().seal_str(&body.to_string()))
        .bind(scope)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_ignores_request_info() {
        let a = json!({"RequestInfo": {"authToken": "a", "ts": 1}, "Payment": {"x": 1}});
        let b = json!({"requestInfo": {"authToken": "b", "ts": 2}, "Payment": {"x": 1}});
        let c = json!({"RequestInfo": {}, "Payment": {"x": 2}});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
