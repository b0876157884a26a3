//! SQL fragments billing's searches share.

use kosh_platform::sql::SqlBuilder;
use kosh_platform::tenant;

/// `column` matches the tenant: exactly for a city, and for a state (`pb`) the state and
/// every city in it, as DIGIT's `tenantid LIKE 'pb%'` (without also matching `pbx`).
pub fn push_tenant(q: &mut SqlBuilder, column: &'static str, tenant_id: &str) {
    q.push("(").push(column).push(" = ").bind(tenant_id);
    if tenant::is_state_level(tenant_id) {
        q.push(" OR ")
            .push(column)
            .push(" LIKE ")
            .bind(format!("{tenant_id}.%"));
    }
    q.push(")");
}

/// Parses a JSON column; a value that is not JSON reads as absent.
pub fn json_column(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .filter(|v: &serde_json::Value| !v.is_null())
}

/// A JSON value for a TEXT column.
pub fn json_text(value: &Option<serde_json::Value>) -> Option<String> {
    value.as_ref().map(|v| v.to_string())
}
