//! `/user/oauth/token`: password and refresh grants behind DIGIT's Basic client header.

use kosh_platform::pii::mask::log_name;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db, DigitError};
use serde_json::json;

use crate::login::{self, LoginOutcome, LoginRefused, PasswordLogin};
use crate::{IdentityConfig, ip};

/// The OAuth clients DIGIT's front ends and integrators use (`egov-user-client` with an empty
/// secret; older tools send `egov-user-secret`).
const CLIENT_ID: &str = "egov-user-client";
const CLIENT_SECRETS: &[&str] = &["", "egov-user-secret"];

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The refusal for a request without DIGIT's client credentials, if any.
fn client_refusal(headers: &HeaderMap) -> Option<Response> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Full authentication is required to access this resource",
        ));
    };
    let decoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|s| s.split_once(':')) {
        Some((id, secret)) if id == CLIENT_ID && CLIENT_SECRETS.contains(&secret) => None,
        _ => Some(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        )),
    }
}

/// Sign in: `grant_type=password` (username, password, tenantId, userType) or
/// `grant_type=refresh_token`, as a form post with DIGIT's Basic client header.
#[utoipa::path(
    post,
    path = "/user/oauth/token",
    tag = "egov-user",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "username, password, grant_type=password|refresh_token, scope, tenantId, userType, refresh_token"),
    responses(
        (status = 200, description = "access_token, token_type, refresh_token, expires_in, scope, ResponseInfo, UserRequest"),
        (status = 400, description = "{error, error_description}"),
        (status = 401, description = "missing or wrong client credentials"),
        (status = 429, description = "too many failed sign-ins from this address or for this user name; Retry-After says when to try again")
    )
)]
#[allow(clippy::too_many_arguments)] // axum extractors
pub(super) async fn oauth_token(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(config): State<Arc<IdentityConfig>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, DigitError> {
    if let Some(refusal) = client_refusal(&headers) {
        return Ok(refusal);
    }
    // Spring reads the parameters from the query string and the form body alike.
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default());
    kosh_platform::extract::check_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let client_ip = ip::client_ip(peer.ip(), &headers, &config.trusted_proxies);
    let grant = param("grant_type").unwrap_or("");
    // A refresh names no user: only its address counts.
    let user_name = if grant == "password" {
        param("username").unwrap_or("")
    } else {
        ""
    };
    if matches!(grant, "password" | "refresh_token")
        && let Some(throttled) = config.throttle.check(client_ip, user_name, clock.now_ms())
    {
        metrics::counter!("kosh_login_failures_total", "reason" => throttled.reason()).increment(1);
        tracing::warn!(
            user = %log_name(user_name),
            address = %client_ip,
            route = "/user/oauth/token",
            reason = throttled.reason(),
            "login refused"
        );
        let mut response = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            &throttled.description(),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(throttled.retry_after_seconds()),
        );
        return Ok(response);
    }

    let outcome = match param("grant_type") {
        None | Some("") => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant type",
            ));
        }
        Some("password") => {
            let login = PasswordLogin {
                username: param("username").unwrap_or(""),
                password: param("password").unwrap_or(""),
                tenant_id: param("tenantId").unwrap_or(""),
                user_type: param("userType").unwrap_or(""),
                client_ip,
            };
            login::password_grant(&db, &mdms, &clock, &config, &login).await?
        }
        Some("refresh_token") => {
            login::refresh_grant(
                &db,
                &mdms,
                &clock,
                &config,
                param("refresh_token").unwrap_or(""),
                client_ip,
            )
            .await?
        }
        Some(other) => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            ));
        }
    };
    match outcome {
        LoginOutcome::Granted(user, issued) => {
            config.throttle.record_success(user_name);
            let scope = param("scope")
                .filter(|s| !s.trim().is_empty())
                .unwrap_or("read")
                .to_string();
            let body = json!({
                "access_token": issued.access_token,
                "token_type": "bearer",
                "refresh_token": issued.refresh_token,
                "expires_in": issued.expires_in,
                "scope": scope,
                "ResponseInfo": {"api_id": "", "ver": "", "ts": "", "res_msg_id": "", "msg_id": "", "status": "Access Token generated successfully"},
                "UserRequest": user.token_json(),
            });
            Ok((
                StatusCode::OK,
                [
                    (header::CACHE_CONTROL, "no-store"),
                    (header::PRAGMA, "no-cache"),
                ],
                Json(body),
            )
                .into_response())
        }
        LoginOutcome::Refused(LoginRefused {
            error,
            description,
            reason,
        }) => {
            config
                .throttle
                .record_failure(client_ip, user_name, clock.now_ms());
            metrics::counter!("kosh_login_failures_total", "reason" => reason).increment(1);
            tracing::warn!(
                user = %log_name(param("username").unwrap_or("")),
                address = %client_ip,
                route = "/user/oauth/token",
                reason,
                "login refused"
            );
            Ok(oauth_error(StatusCode::BAD_REQUEST, error, &description))
        }
    }
}
