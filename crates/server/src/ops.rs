//! Operations endpoints: liveness, readiness, metrics, and (with the manual test clock) the
//! clock control that tests use.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use kosh_platform::{Clock, Db, DigitError, DigitJson, ErrorItem};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "{\"status\":\"UP\"}")))]
async fn health() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

/// Ready: the database answers.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "database unreachable"))
)]
async fn ready(State(db): State<Db>) -> impl IntoResponse {
    if db.ping().await {
        (
            StatusCode::OK,
            Json(json!({"status": "UP", "database": "UP"})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "DOWN", "database": "DOWN"})),
        )
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::middleware::metrics_handle().render(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockChange {
    now_ms: Option<i64>,
    advance_ms: Option<i64>,
}

/// Only served when kosh runs with `KOSH_CLOCK=manual`.
pub fn test_clock_router() -> axum::Router<AppState> {
    axum::Router::new().route("/_kosh/clock", post(set_clock).get(get_clock))
}

async fn get_clock(State(clock): State<Clock>) -> Json<Value> {
    Json(json!({"nowMs": clock.now_ms()}))
}

async fn set_clock(
    State(clock): State<Clock>,
    DigitJson(change): DigitJson<ClockChange>,
) -> Result<Json<Value>, DigitError> {
    match (change.now_ms, change.advance_ms) {
        (Some(ms), None) => clock.set_ms(ms),
        (None, Some(delta)) => clock.advance_ms(delta),
        _ => {
            return Err(DigitError::item(ErrorItem::new(
                "INVALID_CLOCK_CHANGE",
                "Give exactly one of nowMs and advanceMs",
            )));
        }
    };
    Ok(Json(json!({"nowMs": clock.now_ms()})))
}
