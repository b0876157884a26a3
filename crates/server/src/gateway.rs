//! DIGIT's API gateway, in process: which routes are open, who the caller is, and whether
//! the caller's roles may call the route at the request's tenant. It runs before every
//! matched route (unknown routes get their 404 without it).
//!
//! 1. Open routes (sign-in, token details, master data, health, docs) pass untouched.
//! 2. Otherwise the access token is read from `RequestInfo.authToken` in the body, else the
//!    `auth-token` header, else `Authorization: Bearer`. No valid token: 401.
//! 3. A SYSTEM user's token is refused from any address outside its allow-list: 401.
//! 4. Each of the request's tenants (those of the body and of the query string alike) must
//!    be within the user's reach ([`kosh_platform::AuthUser::reaches`]: a role at the tenant
//!    or at one of its ancestors), and the user's roles must cover the route there (MDMS
//!    role-actions, egov-accesscontrol's rules): 403 otherwise.
//! 5. The authenticated user replaces `RequestInfo.userInfo` in the body and is handed to the
//!    handler, so a client cannot act as someone else by writing a userInfo.
//!
//! Mixed routes ([`MIXED_ROUTES`]: pg's `_update`, where gateways call back without a token)
//! take the token as optional: when one is sent, steps 2-5 apply as usual (an invalid token is
//! still a 401); when none is, the request goes on anonymously, with no user for the handler,
//! which must then trust only what it verifies itself.
//!
//! Every refusal is logged with user, address, route and reason, and counted in /metrics.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kosh_platform::{DigitError, ErrorItem};
use serde_json::{Map, Value};

use crate::AppState;

/// Routes anyone may call without a token.
pub const OPEN_ROUTES: &[&str] = &[
    "/user/oauth/token",
    "/user/_details",
    "/user/_logout",
    "/egov-mdms-service/v1/_search",
    "/egov-mdms-service/v1/_get",
    "/pg-service/gateway/v1/_search",
    "/egov-pg-service/gateway/v1/_search",
    // kosh's SANDBOX gateway: the payer's page and the gateway's status query (signed).
    "/pg-service/sandbox/pay",
    "/pg-service/sandbox/status",
    // RAZORPAY: kosh's checkout page (signed link) and Razorpay's webhook (signed body).
    "/pg-service/gateway/razorpay/checkout",
    "/pg-service/gateway/razorpay/_webhook",
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/_kosh/clock",
    // Access control is asked by gateways, not by users: DIGIT's data maps it to no role.
    "/access/v1/actions/_authorize",
];

pub fn is_open(path: &str) -> bool {
    OPEN_ROUTES.contains(&path) || path == "/docs" || path.starts_with("/docs/")
}

/// Routes where a token is optional: a payment gateway's callback arrives without one (its
/// parameters are verified by the gateway plugin), the transaction's creator sends one.
pub const MIXED_ROUTES: &[&str] = &[
    "/pg-service/transaction/v1/_update",
    "/egov-pg-service/transaction/v1/_update",
];

pub fn is_mixed(path: &str) -> bool {
    MIXED_ROUTES.contains(&path)
}

fn refuse(
    error: DigitError,
    user: &str,
    address: &str,
    route: &str,
    reason: &'static str,
) -> Response {
    metrics::counter!("kosh_auth_refusals_total", "reason" => reason).increment(1);
    tracing::warn!(user, address, route, reason, "request refused");
    error.into_response()
}

/// The value of the first key of `object` equal to `name` in any letter case.
fn get_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn token_from(body: Option<&Value>, headers: &axum::http::HeaderMap) -> Option<String> {
    let from_body = body
        .and_then(Value::as_object)
        .and_then(|o| get_ci(o, "RequestInfo"))
        .and_then(Value::as_object)
        .and_then(|ri| get_ci(ri, "authToken"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let from_header = || {
        headers
            .get("auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let from_bearer = || {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::to_string)
    };
    from_body
        .or_else(from_header)
        .or_else(from_bearer)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Writes the authenticated user over `RequestInfo.userInfo`. A body without a
/// `RequestInfo` (or with a null one) is left without one, as DIGIT's gateway leaves it
/// (RequestEnrichmentFilter: "Skipped enriching request body since request info field is
/// not present"): the services whose request classes require it then refuse the request
/// (`NotNull.<request>.requestInfo`), whether the token came in the body or in the
/// `auth-token` header.
fn with_user_info(mut body: Value, user: &kosh_platform::AuthUser) -> Value {
    let Some(object) = body.as_object_mut() else {
        return body;
    };
    let Some(key) = object
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("RequestInfo") && !v.is_null())
        .map(|(k, _)| k.clone())
    else {
        return body;
    };
    let Some(request_info) = object.get_mut(&key) else {
        return body;
    };
    if !request_info.is_object() {
        *request_info = Value::Object(Map::new());
    }
    if let Some(ri) = request_info.as_object_mut() {
        ri.retain(|k, _| !k.eq_ignore_ascii_case("userInfo"));
        ri.insert(
            "userInfo".into(),
            serde_json::to_value(user.user_info()).unwrap_or(Value::Null),
        );
    }
    body
}

/// The tenants a request acts on: those in its body and those in its query string (a
/// service may read either; DIGIT looks at the query only when the body names none), else
/// the caller's own.
fn tenants_acted_on(body: Option<&Value>, query: Option<&str>, user_tenant: &str) -> Vec<String> {
    let mut tenants = kosh_access::request_tenant_ids(body, None, None);
    for tenant in kosh_access::request_tenant_ids(None, query, None) {
        if !tenants.contains(&tenant) {
            tenants.push(tenant);
        }
    }
    if tenants.is_empty() {
        tenants.push(user_tenant.to_string());
    }
    tenants
}

pub async fn gate(
    State(state): State<AppState>,
    connect_info: ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    // The request's body counts against the bytes all requests may hold at once until it
    // is answered (crate::body_budget).
    let budget = state.body_budget.clone();
    let _share = budget.reserve(request.headers()).await;
    gate_within_budget(state, connect_info, request, next).await
}

async fn gate_within_budget(
    state: AppState,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    // Read (at most KOSH_MAX_BODY_BYTES of) the body here for every route, open ones too: a
    // handler that takes raw bytes would otherwise answer axum's plain-text 413.
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return DigitError::item(ErrorItem::new(
                "PAYLOAD_TOO_LARGE",
                "The request body is too large",
            ))
            .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
            .into_response();
        }
    };
    if is_open(&path) {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let client_ip =
        kosh_identity::ip::client_ip(peer.ip(), &parts.headers, &state.identity.trusted_proxies);
    let address = client_ip.to_string();
    let json: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };

    let Some(token) = token_from(json.as_ref(), &parts.headers) else {
        if is_mixed(&path) {
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().remove::<kosh_platform::AuthUser>();
            return next.run(request).await;
        }
        return refuse(DigitError::unauthorized(), "-", &address, &path, "no_token");
    };
    let now = state.clock.now_ms();
    let cache = &state.identity.token_cache;
    let user =
        match kosh_identity::authenticate(&state.db, cache, &state.mdms, &token, client_ip, now)
            .await
        {
            Ok(Ok(user)) => user,
            Ok(Err(kosh_identity::Refusal::AddressNotAllowed)) => {
                return refuse(
                    DigitError::item(
                        ErrorItem::new(
                            "IP_NOT_ALLOWED",
                            "Access from this address is not allowed for this user",
                        )
                        .with_description(format!("{address} is not in the user's allowedIps")),
                    )
                    .with_status(axum::http::StatusCode::UNAUTHORIZED),
                    "-",
                    &address,
                    &path,
                    "address_not_allowed",
                );
            }
            Ok(Err(_)) => {
                return refuse(
                    DigitError::unauthorized(),
                    "-",
                    &address,
                    &path,
                    "invalid_token",
                );
            }
            Err(e) => return e.into_response(),
        };
    let auth = user.auth_user();
    let tenants = tenants_acted_on(json.as_ref(), parts.uri.query(), &auth.tenant_id);
    // Every tenant the request names must be within the caller's reach (a role at it or at
    // one of its ancestors: AuthUser::reaches, the test identity applies too) and covered by
    // the caller's role-actions there, each on its own (DIGIT checks the first and lets a
    // role at any named tenant count, so a request naming the caller's city and another one
    // acted on both).
    let covered = tenants.iter().all(|tenant| {
        auth.reaches(tenant)
            && state
                .access
                .is_authorized(&auth.roles, &path, std::slice::from_ref(tenant))
    });
    if !covered {
        return refuse(
            DigitError::forbidden(),
            &auth.user_name,
            &address,
            &path,
            "no_action",
        );
    }
    tracing::Span::current().record("user", auth.user_name.as_str());

    let body = match json {
        Some(value) if value.is_object() => Body::from(Bytes::from(
            serde_json::to_vec(&with_user_info(value, &auth)).unwrap_or_default(),
        )),
        _ => Body::from(bytes),
    };
    let mut request = Request::from_parts(parts, body);
    request.headers_mut().remove(header::CONTENT_LENGTH);
    request.extensions_mut().insert(auth);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> kosh_platform::AuthUser {
        kosh_platform::AuthUser {
            id: 7,
            uuid: "u-7".into(),
            user_name: "real".into(),
            name: None,
            user_type: "EMPLOYEE".into(),
            mobile_number: None,
            email_id: None,
            tenant_id: "pb.amritsar".into(),
            roles: vec![],
        }
    }

    #[test]
    fn forged_user_info_is_replaced() {
        let body =
            json!({"requestInfo": {"authToken": "t", "USERINFO": {"userName": "forged"}}, "x": 1});
        let out = with_user_info(body, &user());
        assert_eq!(out["requestInfo"]["userInfo"]["userName"], "real");
        assert!(out["requestInfo"].get("USERINFO").is_none());
        assert_eq!(out["x"], 1);
    }

    #[test]
    fn a_body_without_request_info_gets_none() {
        let out = with_user_info(json!({"Demands": []}), &user());
        assert_eq!(out, json!({"Demands": []}));
        let out = with_user_info(json!({"RequestInfo": null}), &user());
        assert_eq!(out, json!({"RequestInfo": null}));
        let out = with_user_info(json!({"requestInfo": {}}), &user());
        assert_eq!(out["requestInfo"]["userInfo"]["userName"], "real");
    }

    #[test]
    fn body_and_query_tenants_both_count() {
        let body = json!({"RequestInfo": {}, "Criteria": {"tenantId": "pb.amritsar"}});
        assert_eq!(
            tenants_acted_on(Some(&body), Some("tenantId=pb.jalandhar"), "pb.patiala"),
            vec!["pb.amritsar", "pb.jalandhar"]
        );
        assert_eq!(
            tenants_acted_on(None, Some("limit=5"), "pb.patiala"),
            vec!["pb.patiala"]
        );
    }

    #[test]
    fn token_sources_in_order() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("auth-token", "from-header".parse().unwrap());
        headers.insert(header::AUTHORIZATION, "Bearer from-bearer".parse().unwrap());
        let body = json!({"RequestInfo": {"authToken": "from-body"}});
        assert_eq!(
            token_from(Some(&body), &headers).as_deref(),
            Some("from-body")
        );
        assert_eq!(token_from(None, &headers).as_deref(), Some("from-header"));
        headers.remove("auth-token");
        assert_eq!(token_from(None, &headers).as_deref(), Some("from-bearer"));
    }
}
