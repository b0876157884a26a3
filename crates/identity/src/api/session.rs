//! `/user/_details` (the user behind an access token) and `/user/_logout`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kosh_mdms::Mdms;
use kosh_platform::extract::{parse_body, query_object};
use kosh_platform::{Clock, Db, DigitError, ErrorItem, write_tx};
use serde_json::{Value, json};

use crate::{IdentityConfig, ip, tokens, user_error};

fn invalid_access_token() -> DigitError {
    user_error(
        "InvalidAccessTokenException",
        "Invalid Access Token Exception",
    )
}

fn token_param(query: Option<&str>, body: &Bytes) -> Option<String> {
    let from_query = query_object(query.unwrap_or(""))
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_string);
    let from_body = || {
        parse_body(body).ok().and_then(|v| {
            v.as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("access_token"))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        })
    };
    from_query
        .or_else(from_body)
        .filter(|t| !t.trim().is_empty())
}

/// The user behind an access token (what DIGIT's gateway asks on every request).
#[utoipa::path(post, path = "/user/_details", tag = "egov-user",
    params(("access_token" = String, Query, description = "the access token")),
    request_body(content = Object, description = "RequestInfo (ignored)"),
    responses((status = 200, description = "CustomUserDetails"), (status = 400, description = "InvalidAccessTokenException")))]
#[allow(clippy::too_many_arguments)] // axum extractors
pub(super) async fn details(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(config): State<Arc<IdentityConfig>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, DigitError> {
    let Some(token) = token_param(query.as_deref(), &body) else {
        return Err(DigitError::item(
            ErrorItem::new(
                "",
                "Required String parameter 'access_token' is not present",
            )
            .with_params(vec!["access_token".into()]),
        ));
    };
    let client_ip = ip::client_ip(peer.ip(), &headers, &config.trusted_proxies);
    let cache = &config.token_cache;
    match crate::authenticate(&db, cache, &mdms, &token, client_ip, clock.now_ms()).await? {
        Ok(user) => Ok(Json(user.details_json())),
        Err(_) => Err(invalid_access_token()),
    }
}

/// Revoke an access token (and its refresh token).
#[utoipa::path(post, path = "/user/_logout", tag = "egov-user",
    request_body(content = Object, description = "{\"access_token\": \"...\"} (or ?access_token=)"),
    responses((status = 200, description = "ResponseInfo with status \"Logout successfully\"")))]
pub(super) async fn logout(
    State(db): State<Db>,
    State(clock): State<Clock>,
    State(config): State<Arc<IdentityConfig>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, DigitError> {
    let now = clock.now_ms();
    let info = |status: &str| json!({"apiId": "", "ver": "", "ts": now, "resMsgId": "", "msgId": "", "status": status});
    let revoked = match token_param(query.as_deref(), &body) {
        Some(token) => write_tx!(db, |conn| { tokens::revoke_pair(conn, &token, now).await })?,
        None => false,
    };
    if revoked {
        // After the commit, so that no lookup can cache the token again (token_cache).
        config.token_cache.forget_all();
    }
    if revoked {
        Ok(Json(info("Logout successfully")).into_response())
    } else {
        Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({
                "responseInfo": info("Logout failed"),
                "error": {"code": 400, "message": null, "description": "Logout failed", "fields": null},
            })),
        )
            .into_response())
    }
}
