//! The transactional outbox: events that DIGIT publishes on Kafka
//! (`egov.collection.payment-create`, ...) are written here in the same transaction as the
//! change they report, so an event exists exactly when its change does. A relay publishes
//! them later and marks them, polling the table: no LISTEN/NOTIFY (the portable-SQL rule of
//! [`crate::db`]).

use serde_json::Value;
use sqlx::AnyConnection;

use crate::DigitError;

/// Records `payload` for `topic`, keyed (for ordering in the broker) by `event_key`. The
/// payload (a payment, a transaction: personal data) is kept sealed; the relay opens it with
/// [`open_payload`].
pub async fn record(
    conn: &mut AnyConnection,
    tenant_id: &str,
    topic: &str,
    event_key: &str,
    payload: &Value,
    now_ms: i64,
) -> Result<String, DigitError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO kosh_outbox (id, tenant_id, topic, event_key, payload, created_ms, published_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(topic)
    .bind(event_key)
    .bind(crate::pii::vault().seal_str(&payload.to_string()))
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// An event's payload as [`record`] kept it.
pub fn open_payload(stored: &str) -> Result<Value, DigitError> {
    let text = crate::pii::vault()
        .open_or_plain(stored)
        .map_err(|e| sqlx::Error::Decode(format!("kosh_outbox.payload: {e}").into()))?;
    Ok(serde_json::from_str(&text)
        .map_err(|e| sqlx::Error::Decode(format!("kosh_outbox.payload: {e}").into()))?)
}
