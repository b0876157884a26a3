//! Counter rows: the portable replacement for DIGIT's PostgreSQL sequences (kosh uses no
//! database sequence: the portable-SQL rule of `kosh_platform::db`).
//! A sequence is shared by the cities of a state, as DIGIT's sequences are shared by the
//! tenants of one deployment.

use kosh_platform::DigitError;
use sqlx::{AnyConnection, Row};

/// Advances the counter `seq_name` of `state` by `by` and returns its new last value. The row
/// stays locked until the caller's transaction ends, so concurrent callers queue on it.
pub async fn advance(
    conn: &mut AnyConnection,
    state: &str,
    seq_name: &str,
    by: i64,
) -> Result<i64, DigitError> {
    let row = sqlx::query(
        "INSERT INTO id_counter (tenant_id, seq_name, last_value) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, seq_name) DO UPDATE SET last_value = id_counter.last_value + excluded.last_value \
         RETURNING last_value",
    )
    .bind(state)
    .bind(seq_name)
    .bind(by)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}
