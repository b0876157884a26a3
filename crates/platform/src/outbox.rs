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

/// One event for [`record_many`].
pub struct Event<'a> {
    pub tenant_id: &'a str,
    pub topic: &'a str,
    pub event_key: &'a str,
    pub payload: &'a Value,
}

/// [`record`] for many events (a batch of payments): multi-row inserts.
pub async fn record_many(
    conn: &mut AnyConnection,
    events: &[Event<'_>],
    now_ms: i64,
) -> Result<(), DigitError> {
    let vault = crate::pii::vault();
    for chunk in events.chunks(crate::sql::rows_per_statement(7)) {
        let mut q = crate::sql::SqlBuilder::new(
            "INSERT INTO kosh_outbox (id, tenant_id, topic, event_key, payload, created_ms, published_ms) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(uuid::Uuid::now_v7().to_string())
                .push(", ")
                .bind(e.tenant_id)
                .push(", ")
                .bind(e.topic)
                .push(", ")
                .bind(e.event_key)
                .push(", ")
                .bind(vault.seal_str(&e.payload.to_string()))
                .push(", ")
                .bind(now_ms)
                .push(", NULL)");
        }
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// An event's payload as [`record`] kept it.
pub fn open_payload(stored: &str) -> Result<Value, DigitError> {
    let text = crate::pii::vault()
        .open_or_plain(stored)
        .map_err(|e| sqlx::Error::Decode(format!("kosh_outbox.payload: {e}").into()))?;
    Ok(serde_json::from_str(&text)
        .map_err(|e| sqlx::Error::Decode(format!("kosh_outbox.payload: {e}").into()))?)
}
