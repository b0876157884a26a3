//! egov-user's HTTP API: `/user/oauth/token`, `/user/users/_createnovalidate`,
//! `/user/users/_updatenovalidate`, `/user/_search`, `/user/v1/_search`, `/user/_details`,
//! `/user/_logout` and `/user/password/_update`, in DIGIT's request and response shapes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kosh_mdms::Mdms;
use kosh_platform::error::ErrorMap;
use kosh_platform::extract::{bind, parse_body, query_object};
use kosh_platform::{
    AuthUser, Clock, Db, DigitError, DigitJson, ErrorItem, RequestInfo, Role, write_tx,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::login::{self, LoginOutcome, LoginRefused, PasswordLogin};
use crate::users::{self, PROFILE_FIELDS, User};
use crate::{IdentityConfig, ip, password, tokens};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Arc<IdentityConfig>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(oauth_token))
        .routes(routes!(create_novalidate))
        .routes(routes!(update_novalidate))
        .routes(routes!(search))
        .routes(routes!(search_v1))
        .routes(routes!(details))
        .routes(routes!(logout))
        .routes(routes!(update_password))
}

/// DIGIT's egov-user reports domain failures through its tracer: the exception's class name
/// as the code, a generic message, and the reason in the description.
fn user_error(code: &str, description: impl Into<String>) -> DigitError {
    DigitError::item(
        ErrorItem::new(code, "An unhandled exception occurred on the server")
            .with_description(description),
    )
}

// ---------------------------------------------------------------------------------------
// OAuth
// ---------------------------------------------------------------------------------------

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
async fn oauth_token(
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
            user = user_name,
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
                user = param("username").unwrap_or(""),
                address = %client_ip,
                route = "/user/oauth/token",
                reason,
                "login refused"
            );
            Ok(oauth_error(StatusCode::BAD_REQUEST, error, &description))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Create and update
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRequestBody {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[schema(value_type = Object)]
    pub user: Option<Value>,
}

/// The fields of a user kosh reads; the rest of DIGIT's profile is kept as given.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserFields {
    id: Option<i64>,
    uuid: Option<String>,
    user_name: Option<String>,
    name: Option<String>,
    mobile_number: Option<String>,
    email_id: Option<String>,
    locale: Option<String>,
    #[serde(rename = "type")]
    user_type: Option<String>,
    active: Option<bool>,
    password: Option<String>,
    tenant_id: Option<String>,
    roles: Option<Vec<RoleFields>>,
    allowed_ips: Option<Vec<String>>,
    account_locked: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleFields {
    code: Option<String>,
    tenant_id: Option<String>,
}

const NAME_PATTERN: &str = r#"^[^\"$<>?\\~`!@#$%^()+={}\[\]*,:;“”‘’]*$"#;
const MOBILE_PATTERN: &str = "^[6-9][0-9]{9}$";

fn profile_from(user: &Map<String, Value>) -> Map<String, Value> {
    let mut profile = Map::new();
    for field in PROFILE_FIELDS {
        if let Some((_, value)) = user.iter().find(|(k, _)| k.eq_ignore_ascii_case(field))
            && !value.is_null()
        {
            profile.insert(field.to_string(), value.clone());
        }
    }
    profile
}

/// `dd/MM/yyyy` (DIGIT's create format) or `yyyy-MM-dd` → `yyyy-MM-dd`.
fn normalize_dob(profile: &mut Map<String, Value>, errors: &mut ErrorMap) {
    let Some(Value::String(dob)) = profile.get("dob").cloned() else {
        return;
    };
    let parsed = chrono::NaiveDate::parse_from_str(&dob, "%d/%m/%Y")
        .or_else(|_| chrono::NaiveDate::parse_from_str(&dob, "%Y-%m-%d"));
    match parsed {
        Ok(date) => {
            profile.insert(
                "dob".into(),
                Value::String(date.format("%Y-%m-%d").to_string()),
            );
        }
        Err(_) => errors.put(
            "InvalidUserCreateException",
            format!("dob \"{dob}\" is not a date (dd/MM/yyyy)"),
        ),
    }
}

fn check_common(fields: &UserFields, errors: &mut Vec<ErrorItem>, object: &str) {
    let name_pattern = regex::Regex::new(NAME_PATTERN).expect("name pattern");
    if let Some(name) = &fields.name {
        if !name_pattern.is_match(name) {
            errors.push(ErrorItem::new(
                format!("Pattern.{object}.user.name"),
                format!("must match \"{NAME_PATTERN}\""),
            ));
        }
        if name.chars().count() > 50 {
            errors.push(ErrorItem::new(
                format!("Size.{object}.user.name"),
                "size must be between 0 and 50",
            ));
        }
    }
    if let Some(email) = fields.email_id.as_deref().filter(|e| !e.is_empty())
        && !is_email(email)
    {
        errors.push(ErrorItem::new(
            format!("Email.{object}.user.emailId"),
            "must be a well-formed email address",
        ));
    }
    if let Some(mobile) = fields.mobile_number.as_deref().filter(|m| !m.is_empty())
        && !regex::Regex::new(MOBILE_PATTERN)
            .expect("mobile pattern")
            .is_match(mobile)
    {
        errors.push(ErrorItem::new(
            "INVALID_MOBILE_NUMBER",
            format!("Mobile number must match the configured pattern: {MOBILE_PATTERN}"),
        ));
    }
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Roles named in a request, checked against MDMS; a role without a tenant gets the user's.
fn resolve_roles(
    mdms: &Mdms,
    roles: &[RoleFields],
    user_tenant: &str,
) -> Result<Vec<Role>, DigitError> {
    let state = kosh_platform::tenant::state_of(user_tenant);
    let mut out: Vec<Role> = Vec::new();
    for role in roles {
        let code = role.code.as_deref().unwrap_or_default().trim();
        if code.is_empty() {
            return Err(user_error(
                "InvalidUserCreateException",
                "every role needs a code",
            ));
        }
        let Some(name) = users::role_name(mdms, state, code) else {
            return Err(
                DigitError::new("INVALID_ROLE", "Unable to validate role from MDMS")
                    .with_status(StatusCode::BAD_REQUEST),
            );
        };
        let tenant = role
            .tenant_id
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(user_tenant)
            .trim()
            .to_string();
        let role = Role {
            id: None,
            name: Some(name),
            code: code.to_string(),
            tenant_id: Some(tenant),
        };
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

fn check_allowed_ips(user_type: &str, allowed: &[String]) -> Result<(), DigitError> {
    if let Err(fault) = ip::parse_list(allowed) {
        return Err(DigitError::new("INVALID_ALLOWED_IPS", fault));
    }
    if user_type == "SYSTEM" && allowed.iter().all(|s| s.trim().is_empty()) {
        return Err(DigitError::new(
            "INVALID_ALLOWED_IPS",
            "A SYSTEM user needs allowedIps: the addresses or CIDR ranges it may call from",
        ));
    }
    Ok(())
}

fn require_superuser(requester: &AuthUser) -> Result<(), DigitError> {
    if requester.has_role("SUPERUSER") {
        Ok(())
    } else {
        Err(DigitError::forbidden())
    }
}

fn user_object(body: &UserRequestBody) -> Result<Map<String, Value>, DigitError> {
    match &body.user {
        Some(Value::Object(map)) => Ok(map.clone()),
        _ => Err(DigitError::new(
            "NotNull.createUserRequest.user",
            "must not be null",
        )),
    }
}

pub(crate) async fn new_user(
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    object: &Map<String, Value>,
) -> Result<User, DigitError> {
    let fields: UserFields = bind(Value::Object(object.clone()))?;
    let mut bean_errors = Vec::new();
    check_common(&fields, &mut bean_errors, "createUserRequest");
    if !bean_errors.is_empty() {
        return Err(DigitError::many(bean_errors));
    }
    let mut missing = Vec::new();
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let user_name = text(&fields.user_name);
    let name = text(&fields.name);
    let tenant_id = text(&fields.tenant_id);
    let user_type = text(&fields.user_type).map(|t| t.to_ascii_uppercase());
    for (field, present) in [
        ("userName", user_name.is_some()),
        ("name", name.is_some()),
        ("tenantId", tenant_id.is_some()),
        ("type", user_type.is_some()),
        ("active", fields.active.is_some()),
        (
            "roles",
            fields.roles.as_ref().is_some_and(|r| !r.is_empty()),
        ),
    ] {
        if !present {
            missing.push(field);
        }
    }
    if !missing.is_empty() {
        return Err(user_error(
            "InvalidUserCreateException",
            format!("mandatory fields missing: {}", missing.join(", ")),
        ));
    }
    let (user_name, name, mut tenant_id, user_type) = (
        user_name.unwrap_or_default(),
        name,
        tenant_id.unwrap_or_default(),
        user_type.unwrap_or_default(),
    );
    if !["CITIZEN", "EMPLOYEE", "SYSTEM", "BUSINESS"].contains(&user_type.as_str()) {
        return Err(user_error(
            "InvalidUserCreateException",
            format!("type \"{user_type}\" is not CITIZEN, EMPLOYEE, SYSTEM or BUSINESS"),
        ));
    }
    if !mdms.is_known_tenant(&tenant_id) {
        return Err(user_error(
            "InvalidUserCreateException",
            format!("tenantId \"{tenant_id}\" is not a known tenant"),
        ));
    }
    if user_type == "CITIZEN" {
        if text(&fields.mobile_number).is_none() {
            return Err(user_error(
                "InvalidUserCreateException",
                "mobileNumber is mandatory for a citizen",
            ));
        }
        tenant_id = kosh_platform::tenant::state_of(&tenant_id).to_string();
    }
    let roles = resolve_roles(
        mdms,
        fields.roles.as_deref().unwrap_or_default(),
        &tenant_id,
    )?;
    let allowed_ips: Vec<String> = fields
        .allowed_ips
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    check_allowed_ips(&user_type, &allowed_ips)?;
    let password_hash = match fields.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            password::check_policy(p)?;
            Some(password::hash(p).await.map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                DigitError::internal("password-hash")
            })?)
        }
        None => None,
    };
    let mut errors = ErrorMap::new();
    let mut profile = profile_from(object);
    normalize_dob(&mut profile, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into_result().unwrap_err());
    }
    let now = clock.now_ms();
    Ok(User {
        id: 0,
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant_id,
        user_name,
        user_type,
        name,
        mobile_number: text(&fields.mobile_number),
        email_id: text(&fields.email_id),
        locale: text(&fields.locale),
        active: fields.active.unwrap_or(false),
        password_hash,
        account_locked: fields.account_locked.unwrap_or(false),
        account_locked_ms: None,
        allowed_ips,
        profile,
        created_by: Some(requester.id.to_string()),
        created_ms: now,
        last_modified_by: Some(requester.id.to_string()),
        last_modified_ms: now,
        pwd_expiry_ms: None,
        roles,
    })
}

/// Stores a new user; `DuplicateUserNameException` when the name is taken at the tenant for
/// that type.
pub async fn store_new_user(db: &Db, mut user: User) -> Result<User, DigitError> {
    let created = write_tx!(db, |conn| {
        user.id = users::next_id(conn).await?;
        let inserted = users::insert(conn, &user).await?;
        if inserted {
            Ok::<_, DigitError>(true)
        } else {
            Err(duplicate_user(&user))
        }
    });
    created.map(|_| user)
}

fn duplicate_user(user: &User) -> DigitError {
    user_error(
        "DuplicateUserNameException",
        format!(
            "User {} of type {} already exists at {}",
            user.user_name, user.user_type, user.tenant_id
        ),
    )
}

fn respond_user(request_info: Option<&RequestInfo>, user: &User) -> Json<Value> {
    Json(json!({
        "responseInfo": response_info(request_info),
        "user": [user.request_json()],
    }))
}

/// egov-user answers `status: "200"` and copies nothing else.
fn response_info(_request_info: Option<&RequestInfo>) -> Value {
    json!({"apiId": null, "ver": null, "ts": null, "resMsgId": null, "msgId": null, "status": "200"})
}

/// Create a user of any type (SUPERUSER only); a SYSTEM user needs `allowedIps`.
#[utoipa::path(
    post,
    path = "/user/users/_createnovalidate",
    tag = "egov-user",
    request_body = UserRequestBody,
    responses((status = 200, description = "responseInfo and user [UserRequest]"))
)]
async fn create_novalidate(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitJson(body): DigitJson<UserRequestBody>,
) -> Result<Json<Value>, DigitError> {
    require_superuser(&requester)?;
    let object = user_object(&body)?;
    let user = new_user(&mdms, &clock, &requester, &object).await?;
    let user = store_new_user(&db, user).await?;
    tracing::info!(user = %user.user_name, user_type = %user.user_type, tenant = %user.tenant_id, by = %requester.user_name, "user created");
    Ok(respond_user(body.request_info.as_ref(), &user))
}

/// Update a user found by `id` or `uuid` (SUPERUSER only): the fields given replace the
/// stored ones; `roles`, when given, replace all roles.
#[utoipa::path(
    post,
    path = "/user/users/_updatenovalidate",
    tag = "egov-user",
    request_body = UserRequestBody,
    responses((status = 200, description = "responseInfo and user [UserRequest]"))
)]
#[allow(clippy::too_many_arguments)] // axum extractors
async fn update_novalidate(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(config): State<Arc<IdentityConfig>>,
    requester: AuthUser,
    DigitJson(body): DigitJson<UserRequestBody>,
) -> Result<Json<Value>, DigitError> {
    require_superuser(&requester)?;
    let object = user_object(&body)?;
    let fields: UserFields = bind(Value::Object(object.clone()))?;
    let mut bean_errors = Vec::new();
    check_common(&fields, &mut bean_errors, "createUserRequest");
    if !bean_errors.is_empty() {
        return Err(DigitError::many(bean_errors));
    }
    let now = clock.now_ms();
    let mdms_ref: &Mdms = &mdms;
    let user = write_tx!(db, |conn| {
        let found = match (&fields.id, &fields.uuid) {
            (Some(id), _) => users::find_by_id(conn, *id).await?,
            (None, Some(uuid)) => users::find_by_uuid(conn, uuid).await?,
            (None, None) => None,
        };
        let mut user = found.ok_or_else(|| {
            user_error("UserNotFoundException", "No user with the given id or uuid")
        })?;
        if let Some(name) = fields.name.clone() {
            user.name = Some(name);
        }
        if let Some(mobile) = fields.mobile_number.clone() {
            user.mobile_number = Some(mobile).filter(|m| !m.is_empty());
        }
        if let Some(email) = fields.email_id.clone() {
            user.email_id = Some(email).filter(|e| !e.is_empty());
        }
        if let Some(locale) = fields.locale.clone() {
            user.locale = Some(locale);
        }
        if let Some(active) = fields.active {
            user.active = active;
        }
        if let Some(locked) = fields.account_locked {
            user.account_locked = locked;
            if !locked {
                user.account_locked_ms = None;
            }
        }
        if let Some(roles) = &fields.roles {
            if roles.is_empty() {
                return Err(user_error(
                    "InvalidUserUpdateException",
                    "a user needs at least one role",
                ));
            }
            user.roles = resolve_roles(mdms_ref, roles, &user.tenant_id)?;
        }
        if let Some(allowed) = &fields.allowed_ips {
            user.allowed_ips = allowed
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        check_allowed_ips(&user.user_type, &user.allowed_ips)?;
        let mut errors = ErrorMap::new();
        for (key, value) in profile_from(&object) {
            user.profile.insert(key, value);
        }
        normalize_dob(&mut user.profile, &mut errors);
        errors.into_result()?;
        user.last_modified_by = Some(requester.id.to_string());
        user.last_modified_ms = now;
        users::update(conn, &user).await?;
        Ok::<_, DigitError>(user)
    })?;
    // Active, roles and allowed addresses may have changed: cached tokens must see it.
    config.token_cache.forget_all();
    let mut user = user;
    users::name_roles(&mdms, std::slice::from_mut(&mut user));
    tracing::info!(user = %user.user_name, by = %requester.user_name, "user updated");
    Ok(respond_user(body.request_info.as_ref(), &user))
}

// ---------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSearchCriteria {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    pub id: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    pub uuid: Option<Vec<String>>,
    pub user_name: Option<String>,
    pub name: Option<String>,
    pub mobile_number: Option<String>,
    pub email_id: Option<String>,
    pub active: Option<bool>,
    pub tenant_id: Option<String>,
    pub page_size: Option<i64>,
    pub page_number: Option<i64>,
    pub user_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    pub role_codes: Option<Vec<String>>,
}

async fn run_search(
    db: &Db,
    mdms: &Mdms,
    criteria: &UserSearchCriteria,
    default_active: bool,
) -> Result<Json<Value>, DigitError> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (user_name, name, mobile, email, tenant) = (
        text(&criteria.user_name),
        text(&criteria.name),
        text(&criteria.mobile_number),
        text(&criteria.email_id),
        text(&criteria.tenant_id),
    );
    let has_key = user_name.is_some()
        || name.is_some()
        || mobile.is_some()
        || email.is_some()
        || criteria.uuid.is_some()
        || criteria.id.is_some()
        || criteria.role_codes.is_some();
    if !has_key {
        return Err(user_error(
            "InvalidUserSearchCriteriaException",
            "Give one of userName, name, mobileNumber, emailId, uuid, id or roleCodes",
        ));
    }
    if (user_name.is_some() || name.is_some() || mobile.is_some() || criteria.role_codes.is_some())
        && tenant.is_none()
    {
        return Err(user_error(
            "InvalidUserSearchCriteriaException",
            "tenantId is mandatory with userName, name, mobileNumber or roleCodes",
        ));
    }
    let mut q = kosh_platform::sql::SqlBuilder::new("SELECT ");
    q.push(users::select_columns())
        .push(" FROM eg_user WHERE 1 = 1");
    if let Some(tenant) = &tenant {
        // Citizens live at the state tenant: a city search finds them too.
        q.push(" AND (tenant_id = ")
            .bind(tenant.as_str())
            .push(" OR (user_type = 'CITIZEN' AND tenant_id = ")
            .bind(kosh_platform::tenant::state_of(tenant))
            .push("))");
    }
    if let Some(v) = &user_name {
        q.push(" AND user_name = ").bind(v.as_str());
    }
    if let Some(v) = &name {
        q.push(" AND name = ").bind(v.as_str());
    }
    if let Some(v) = &mobile {
        q.push(" AND mobile_number = ").bind(v.as_str());
    }
    if let Some(v) = &email {
        q.push(" AND email_id = ").bind(v.as_str());
    }
    if let Some(uuids) = &criteria.uuid {
        q.push(" AND uuid IN ").bind_list(uuids);
    }
    if let Some(ids) = &criteria.id {
        let ids: Vec<i64> = ids.iter().filter_map(|i| i.parse().ok()).collect();
        q.push(" AND id IN ").bind_list(&ids);
    }
    if let Some(t) = text(&criteria.user_type) {
        q.push(" AND user_type = ").bind(t.to_ascii_uppercase());
    }
    if let Some(active) = criteria.active.or(default_active.then_some(true)) {
        q.push(" AND active = ").bind(i64::from(active));
    }
    if let Some(codes) = &criteria.role_codes {
        q.push(" AND id IN (SELECT user_id FROM eg_user_role WHERE role_code IN ")
            .bind_list(codes)
            .push(")");
    }
    let size = criteria.page_size.filter(|s| *s > 0).unwrap_or(20).min(500);
    let page = criteria.page_number.filter(|p| *p >= 0).unwrap_or(0);
    q.push(" ORDER BY id LIMIT ")
        .bind(size)
        .push(" OFFSET ")
        // A page past any data is empty; a page number too large to multiply is one too.
        .bind(page.saturating_mul(size));
    let mut conn = db.pool().acquire().await?;
    let mut found = users::many(&mut conn, q).await?;
    users::name_roles(mdms, &mut found);
    Ok(Json(json!({
        "responseInfo": response_info(criteria.request_info.as_ref()),
        "user": found.iter().map(User::search_json).collect::<Vec<_>>(),
    })))
}

/// Search users (`active` defaults to true).
#[utoipa::path(post, path = "/user/_search", tag = "egov-user", request_body = UserSearchCriteria,
    responses((status = 200, description = "responseInfo and user [...]")))]
async fn search(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    DigitJson(criteria): DigitJson<UserSearchCriteria>,
) -> Result<Json<Value>, DigitError> {
    run_search(&db, &mdms, &criteria, true).await
}

/// Search users (no default for `active`).
#[utoipa::path(post, path = "/user/v1/_search", tag = "egov-user", request_body = UserSearchCriteria,
    responses((status = 200, description = "responseInfo and user [...]")))]
async fn search_v1(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    DigitJson(criteria): DigitJson<UserSearchCriteria>,
) -> Result<Json<Value>, DigitError> {
    run_search(&db, &mdms, &criteria, false).await
}

// ---------------------------------------------------------------------------------------
// Token details and logout
// ---------------------------------------------------------------------------------------

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
async fn details(
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
async fn logout(
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

// ---------------------------------------------------------------------------------------
// Password change
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordUpdate {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    pub existing_password: Option<String>,
    pub new_password: Option<String>,
    pub tenant_id: Option<String>,
    #[serde(rename = "type")]
    pub user_type: Option<String>,
}

/// Change the signed-in user's password; every token of the user is revoked.
#[utoipa::path(post, path = "/user/password/_update", tag = "egov-user", request_body = PasswordUpdate,
    responses((status = 200, description = "responseInfo")))]
async fn update_password(
    State(db): State<Db>,
    State(clock): State<Clock>,
    State(config): State<Arc<IdentityConfig>>,
    requester: AuthUser,
    DigitJson(body): DigitJson<PasswordUpdate>,
) -> Result<Json<Value>, DigitError> {
    let (Some(existing), Some(new)) = (
        body.existing_password.as_deref().filter(|s| !s.is_empty()),
        body.new_password.as_deref().filter(|s| !s.is_empty()),
    ) else {
        return Err(user_error(
            "InvalidLoggedInUserUpdatePasswordRequestException",
            "existingPassword and newPassword are mandatory",
        ));
    };
    let stored = {
        let mut conn = db.pool().acquire().await?;
        users::find_by_id(&mut conn, requester.id)
            .await?
            .and_then(|u| u.password_hash)
    };
    let matches = match &stored {
        Some(hash) => password::verify(existing, hash).await,
        None => false,
    };
    if !matches {
        return Err(user_error(
            "PasswordMismatchException",
            "Invalid username or password",
        ));
    }
    password::check_policy(new)?;
    let hash = password::hash(new)
        .await
        .map_err(|_| DigitError::internal("password-hash"))?;
    let now = clock.now_ms();
    let user_id = requester.id;
    write_tx!(db, |conn| {
        sqlx::query("UPDATE eg_user SET password_hash = $1, last_modified_ms = $2 WHERE id = $3")
            .bind(&hash)
            .bind(now)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        tokens::revoke_all(conn, user_id).await
    })?;
    config.token_cache.forget_all();
    Ok(Json(
        json!({"responseInfo": response_info(body.request_info.as_ref())}),
    ))
}
