//! egov-accesscontrol's routes:
//! - `POST /access/v1/actions/_authorize`: `{"RequestInfo", "AuthorizationRequest": {roles,
//!   uri, tenantIds}}` → an empty 200 when the roles may call the uri, an empty 401 when not
//!   (DIGIT's gateways read only the status). Validation failures and missing role-action
//!   data are DIGIT's 400 error body.
//! - `POST /access/v1/roles/_search?code=A,B&tenantId=pb`: the roles of master data
//!   (`RoleController.getMDMSRoles`), `{"responseInfo", "roles": [{name, code,
//!   description}]}`.
//! - `POST /access/v1/actions/_get` and `/access/v1/actions/mdms/_get`: `{"RequestInfo",
//!   "roleCodes", "tenantId", "enabled"?, "actionMaster"?}` → the actions those roles are
//!   given (`ActionController.getAllActions` / `getAllMDMSActions`), `{"responseInfo",
//!   "modules": null, "actions": [...]}`.
//!
//! The reads answer from master data as [`crate::reads`] describes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use kosh_mdms::Mdms;
use kosh_platform::envelope::RES_MSG_ID;
use kosh_platform::{
    Clock, DigitError, DigitJson, DigitQuery, ErrorItem, RequestInfo, ResponseInfo, Role,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AccessIndex;
use crate::reads::{self, Action, ActionMaster, RoleContract, unhandled};

#[derive(Debug, Deserialize, ToSchema)]
pub struct AuthorizationRequestWrapper {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "AuthorizationRequest")]
    pub authorization_request: Option<AuthorizationRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRequest {
    pub roles: Option<Vec<AuthorizationRole>>,
    /// The request path to authorize, without its query string.
    pub uri: Option<String>,
    /// The tenants the request acts on; the first one (and its state) is checked.
    pub tenant_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRole {
    pub code: Option<String>,
    pub name: Option<String>,
    pub tenant_id: Option<String>,
}

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<AccessIndex>: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .routes(routes!(search_roles))
        .routes(routes!(get_actions))
        .routes(routes!(get_mdms_actions))
}

/// Bean-validation paths of DIGIT's `AuthorizationRequestWrapper`.
const REQUEST: &str = "authorizationRequestWrapper.authorizationRequest";

fn not_null(field: &str) -> ErrorItem {
    ErrorItem::new(format!("NotNull.{REQUEST}{field}"), "must not be null")
}

fn not_empty(field: &str) -> ErrorItem {
    ErrorItem::new(
        format!("Size.{REQUEST}{field}"),
        "size must be between 1 and 2147483647",
    )
}

/// DIGIT's `@NotNull @Size(min = 1)` on a list.
fn check_list<T>(list: &Option<Vec<T>>, field: &str, errors: &mut Vec<ErrorItem>) {
    match list {
        None => errors.push(not_null(field)),
        Some(items) if items.is_empty() => errors.push(not_empty(field)),
        Some(_) => {}
    }
}

/// Whether roles may call a uri at a tenant.
#[utoipa::path(
    post,
    path = "/access/v1/actions/_authorize",
    tag = "egov-accesscontrol",
    request_body = AuthorizationRequestWrapper,
    responses(
        (status = 200, description = "Authorized; empty body"),
        (status = 401, description = "Not authorized; empty body"),
        (status = 400, description = "Validation failure, or DATA_NOT_AVAILABLE when the tenant has no role-action master data")
    )
)]
async fn authorize(
    State(index): State<Arc<AccessIndex>>,
    DigitJson(req): DigitJson<AuthorizationRequestWrapper>,
) -> Result<StatusCode, DigitError> {
    let Some(request) = req.authorization_request else {
        return Err(DigitError::item(not_null("")));
    };
    let mut errors = Vec::new();
    check_list(&request.roles, ".roles", &mut errors);
    if request.uri.is_none() {
        errors.push(not_null(".uri"));
    }
    check_list(&request.tenant_ids, ".tenantIds", &mut errors);
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let roles: Vec<Role> = request
        .roles
        .unwrap_or_default()
        .into_iter()
        .map(|r| Role {
            id: None,
            code: r.code.unwrap_or_default(),
            name: r.name,
            tenant_id: r.tenant_id,
        })
        .collect();
    let uri = request.uri.unwrap_or_default();
    let tenant_ids = request.tenant_ids.unwrap_or_default();
    Ok(if index.authorize(&roles, &uri, &tenant_ids)? {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    })
}

/// DIGIT's `RoleRequest`: only `RequestInfo` (`@NotNull`) is read by `roles/_search`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RoleSearchParams {
    /// Role codes, comma separated; none: every role. At most 50 characters.
    pub code: Option<String>,
    /// The tenant whose state's roles are read; required. At most 50 characters.
    pub tenant_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleResponse {
    pub response_info: ResponseInfo,
    pub roles: Vec<RoleContract>,
}

/// DIGIT's `ActionRequest` as the action reads use it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    /// Required, at least one.
    pub role_codes: Option<Vec<String>>,
    /// Required, at most 50 characters: the role-actions are this tenant's (city, then
    /// state), the actions its state's.
    pub tenant_id: Option<String>,
    /// Only actions whose `enabled` is this.
    #[serde(default, deserialize_with = "java_boolean")]
    #[schema(value_type = Option<bool>)]
    pub enabled: Option<bool>,
    /// `mdms/_get` only: the `ACCESSCONTROL-ACTIONS-TEST` master to read (`actions-test`).
    pub action_master: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionSearchResponse {
    pub response_info: ResponseInfo,
    /// Always null here (`actions/_list` fills it in DIGIT).
    #[schema(value_type = Option<Object>)]
    pub modules: Option<Value>,
    pub actions: Vec<Action>,
}

/// A Boolean as Jackson binds one: true/false, their strings in three cases, 0 and 1;
/// null or "" is no value.
fn java_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) => match s.as_str() {
            "" | "null" => Ok(None),
            "true" | "True" | "TRUE" => Ok(Some(true)),
            "false" | "False" | "FALSE" => Ok(Some(false)),
            _ => Err(D::Error::custom(format!(
                "Cannot deserialize value of type `java.lang.Boolean` from String \"{s}\""
            ))),
        },
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i != 0)),
            None => Err(D::Error::custom(
                "Cannot coerce a floating-point value to Boolean",
            )),
        },
        Some(other) => Err(D::Error::custom(format!(
            "Cannot deserialize value of type `java.lang.Boolean` from {other}"
        ))),
    }
}

/// A `@Size(max = 50)` field: Java counts UTF-16 units.
fn over_50(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| v.encode_utf16().count() > 50)
}

const SIZE_50: &str = "size must be between 0 and 50";

/// Roles from master data.
///
/// DIGIT's `RoleController.getMDMSRoles`: the `code` query parameter is split at commas
/// (none: every role), the roles are the `ACCESSCONTROL-ROLES.roles` master of the
/// `tenantId`'s state. Without `tenantId` DIGIT fails with a NullPointerException (a 400).
#[utoipa::path(
    post,
    path = "/access/v1/roles/_search",
    tag = "egov-accesscontrol",
    params(RoleSearchParams),
    request_body = RoleRequest,
    responses(
        (status = 200, body = RoleResponse, description = "responseInfo (status \"200 OK\") and roles [{name, code, description}]; an unknown code matches nothing"),
        (status = 400, description = "DIGIT's error body: NotNull.roleRequest.requestInfo, ConstraintViolationException (a parameter over 50 characters), NullPointerException (no tenantId), IllegalArgumentException (a tenant master data does not know)")
    )
)]
async fn search_roles(
    State(mdms): State<Arc<Mdms>>,
    DigitQuery(params): DigitQuery<RoleSearchParams>,
    DigitJson(req): DigitJson<RoleRequest>,
) -> Result<Json<RoleResponse>, DigitError> {
    kosh_platform::bean::require_request_info(&req.request_info, "roleRequest.requestInfo")?;
    // The controller's method validation (`@Validated`, `@Size(max = 50)` on both
    // parameters): a ConstraintViolationException, which DIGIT's tracer does not know.
    let violations: Vec<String> = [("code", &params.code), ("tenantId", &params.tenant_id)]
        .into_iter()
        .filter(|(_, value)| over_50(value))
        .map(|(name, _)| format!("getMDMSRoles.{name}: {SIZE_50}"))
        .collect();
    if !violations.is_empty() {
        return Err(unhandled(
            "ConstraintViolationException",
            violations.join(", "),
        ));
    }
    let Some(tenant_id) = params.tenant_id else {
        // RoleRepository.getRoleMDMSCriteria calls tenantId.contains(".").
        return Err(unhandled(
            "NullPointerException",
            "Cannot invoke \"String.contains(java.lang.CharSequence)\" because \"tenantId\" is null",
        ));
    };
    let codes = reads::role_codes(params.code.as_deref());
    let roles = reads::search_roles(&mdms, &codes, &tenant_id)?;
    Ok(Json(RoleResponse {
        // DIGIT builds this ResponseInfo from nothing but the status.
        response_info: ResponseInfo {
            status: Some(ok_status()),
            ..ResponseInfo::default()
        },
        roles,
    }))
}

/// The actions of roles, from master data.
///
/// DIGIT's `ActionController.getAllActions` (which reads the same role-actions from its
/// database tables): the actions the `tenantId`'s role-actions give `roleCodes`, from
/// `ACCESSCONTROL-ACTIONS-TEST.actions-test`, by id.
#[utoipa::path(
    post,
    path = "/access/v1/actions/_get",
    tag = "egov-accesscontrol",
    request_body = ActionRequest,
    responses(
        (status = 200, body = ActionSearchResponse, description = "responseInfo (status \"200 OK\"), modules null and actions; roles with no actions get []"),
        (status = 400, description = "No tenantId or no roleCodes: DIGIT's array [{responseInfo, error: {code: 400, message: \"Action is invalid\", errorFields: [{code, message, field}]}}]; otherwise DIGIT's error body")
    )
)]
async fn get_actions(
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    DigitJson(req): DigitJson<ActionRequest>,
) -> Result<Json<ActionSearchResponse>, DigitError> {
    let mut response = actions(
        &mdms,
        &clock,
        &req,
        ActionMaster::Test(reads::ACTIONS_TEST_MASTER),
    )?;
    // DIGIT's query orders by id.
    response.actions.sort_by_key(|a| a.id);
    Ok(Json(response))
}

/// The actions of roles, from a named master.
///
/// DIGIT's `ActionController.getAllMDMSActions`, which DIGIT's own API tests and web
/// clients call with `"actionMaster": "actions-test"`: as `actions/_get`, from the
/// `ACCESSCONTROL-ACTIONS-TEST` master `actionMaster` names (without one, the
/// `ACCESSCONTROL-ACTIONS.actions` master, which kosh does not ship), in data order.
#[utoipa::path(
    post,
    path = "/access/v1/actions/mdms/_get",
    tag = "egov-accesscontrol",
    request_body = ActionRequest,
    responses(
        (status = 200, body = ActionSearchResponse, description = "responseInfo (status \"200 OK\"), modules null and actions"),
        (status = 400, description = "As actions/_get; an unknown actionMaster is PathNotFoundException")
    )
)]
async fn get_mdms_actions(
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    DigitJson(req): DigitJson<ActionRequest>,
) -> Result<Json<ActionSearchResponse>, DigitError> {
    let master = match req.action_master.as_deref() {
        Some(name) => ActionMaster::Test(name),
        None => ActionMaster::Default,
    };
    actions(&mdms, &clock, &req, master).map(Json)
}

fn actions(
    mdms: &Mdms,
    clock: &Clock,
    req: &ActionRequest,
    master: ActionMaster<'_>,
) -> Result<ActionSearchResponse, DigitError> {
    // Bean validation of the body first (`@Size(max = 50)` on tenantId) ...
    if over_50(&req.tenant_id) {
        return Err(DigitError::item(ErrorItem::new(
            "Size.actionRequest.tenantId",
            SIZE_50,
        )));
    }
    // ... then the controller's own checks, in its own error shape.
    let mut fields = Vec::new();
    let tenant_id = req.tenant_id.as_deref().filter(|t| !t.is_empty());
    if tenant_id.is_none() {
        fields.push(("accesscontrol.0001", "Tenant Id is required", "tenantId"));
    }
    let role_codes = req.role_codes.as_deref().filter(|c| !c.is_empty());
    if role_codes.is_none() {
        fields.push(("accesscontrol.0012", "Atleast One Role is Required", "role"));
    }
    let (Some(tenant_id), Some(role_codes)) = (tenant_id, role_codes) else {
        return Err(invalid_action_request(&fields));
    };
    let actions = reads::actions_of_roles(mdms, role_codes, tenant_id, req.enabled, master)?;
    let request = req.request_info.as_ref();
    let text =
        |field: fn(&RequestInfo) -> Option<String>| request.map_or(Some(String::new()), field);
    Ok(ActionSearchResponse {
        // DIGIT's ResponseInfoFactory: the request's ver, ts and msgId (an absent
        // RequestInfo gives "", now and ""), then the status.
        response_info: ResponseInfo {
            api_id: Some("org.egov.accesscontrol".into()),
            ver: text(|r| r.ver.clone()),
            ts: request.map_or(Some(clock.now_ms()), |r| r.ts),
            res_msg_id: Some(RES_MSG_ID.into()),
            msg_id: text(|r| r.msg_id.clone()),
            status: Some(ok_status()),
        },
        modules: None,
        actions,
    })
}

/// Spring's `HttpStatus.OK.toString()`.
fn ok_status() -> String {
    "200 OK".into()
}

/// `ActionController.validateActionRequest`'s answer: HTTP 400 with a JSON array of one
/// `ErrorResponse`, not the tracer's error body.
fn invalid_action_request(fields: &[(&str, &str, &str)]) -> DigitError {
    let error_fields: Vec<Value> = fields
        .iter()
        .map(|(code, message, field)| json!({"code": code, "message": message, "field": field}))
        .collect();
    DigitError::passthrough(
        StatusCode::BAD_REQUEST,
        json!([{
            "responseInfo": null,
            "error": {
                "code": 400,
                "message": "Action is invalid",
                "description": null,
                "errorFields": error_fields,
                "fields": {},
            },
        }]),
    )
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[derive(Clone, FromRef)]
    struct TestState {
        access: Arc<AccessIndex>,
        mdms: Arc<Mdms>,
        clock: Clock,
    }

    fn app() -> Router {
        let mdms = Mdms::from_files(&kosh_mdms::embedded_demo_files()).unwrap();
        let state = TestState {
            access: Arc::new(AccessIndex::build(&mdms)),
            mdms: Arc::new(mdms),
            clock: Clock::manual(1_700_000_000_000),
        };
        let (router, _) = router::<TestState>().split_for_parts();
        router.with_state(state)
    }

    /// (status, body text)
    async fn post(body: &str) -> (StatusCode, String) {
        post_to("/access/v1/actions/_authorize", body).await
    }

    async fn post_to(path: &str, body: &str) -> (StatusCode, String) {
        let response = app()
            .oneshot(
                Request::post(path)
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn post_json(body: Value) -> (StatusCode, String) {
        post(&body.to_string()).await
    }

    fn codes(body: &str) -> Vec<(String, String)> {
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["ResponseInfo"], Value::Null);
        body["Errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap().to_string(),
                    e["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn request(roles: Value, uri: &str, tenant_ids: Value) -> Value {
        json!({"RequestInfo": {"apiId": "Rainmaker"}, "AuthorizationRequest": {
            "roles": roles, "uri": uri, "tenantIds": tenant_ids}})
    }

    #[tokio::test]
    async fn authorized_is_an_empty_200() {
        let (status, body) = post_json(request(
            json!([{"code": "BBPS", "name": "BBPS Operating Unit", "tenantId": "pb"}]),
            "/billing-service/bill/v2/_fetchbill",
            json!(["pb.amritsar"]),
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "");
        // any key case, as DIGIT's Jackson binding
        let (status, _) = post(
            r#"{"requestInfo": {}, "authorizationRequest": {"Roles": [{"CODE": "CITIZEN", "tenantid": "pb"}],
                "URI": "/collection-services/payments/PT/_search", "tenantids": ["pb.amritsar"]}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn not_authorized_is_an_empty_401() {
        for (roles, uri, tenants) in [
            (
                json!([{"code": "BBPS", "tenantId": "pb"}]),
                "/billing-service/bill/v2/_generate",
                json!(["pb.amritsar"]),
            ),
            (
                json!([{"code": "BBPS", "tenantId": "pb.jalandhar"}]),
                "/billing-service/bill/v2/_fetchbill",
                json!(["pb.amritsar"]),
            ),
            (
                json!([{"code": "BBPS"}]),
                "/billing-service/bill/v2/_fetchbill",
                json!(["pb.amritsar"]),
            ),
            (
                json!([{"name": "no code", "tenantId": "pb"}]),
                "/billing-service/bill/v2/_fetchbill",
                json!(["pb.amritsar"]),
            ),
            (
                json!([{"code": "CITIZEN", "tenantId": "pb"}]),
                "",
                json!(["pb.amritsar"]),
            ),
        ] {
            let (status, body) = post_json(request(roles.clone(), uri, tenants)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{roles} {uri}");
            assert_eq!(body, "");
        }
    }

    #[tokio::test]
    async fn validation_failures_are_digit_400s() {
        let (status, body) = post_json(json!({"RequestInfo": {}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            codes(&body),
            vec![(
                "NotNull.authorizationRequestWrapper.authorizationRequest".into(),
                "must not be null".into()
            )]
        );

        let (status, body) = post_json(json!({"AuthorizationRequest": {}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let not_null = |f: &str| {
            (
                format!("NotNull.authorizationRequestWrapper.authorizationRequest.{f}"),
                "must not be null".to_string(),
            )
        };
        assert_eq!(
            codes(&body),
            vec![not_null("roles"), not_null("uri"), not_null("tenantIds")]
        );

        let (status, body) = post_json(request(json!([]), "/x", json!([]))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let size = |f: &str| {
            (
                format!("Size.authorizationRequestWrapper.authorizationRequest.{f}"),
                "size must be between 1 and 2147483647".to_string(),
            )
        };
        assert_eq!(codes(&body), vec![size("roles"), size("tenantIds")]);

        let (status, body) = post("").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(codes(&body)[0].0, "MissingJsonException");
    }

    #[tokio::test]
    async fn a_tenant_without_role_action_data_is_data_not_available() {
        let (status, body) = post_json(request(
            json!([{"code": "SUPERUSER", "tenantId": "hr"}]),
            "/user/_search",
            json!(["hr.karnal"]),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            codes(&body),
            vec![(
                "DATA_NOT_AVAILABLE".into(),
                "Data not available for this tenant".into()
            )]
        );
    }

    async fn read(path: &str, body: Value) -> (StatusCode, Value) {
        let (status, text) = post_to(path, &body.to_string()).await;
        (status, serde_json::from_str(&text).unwrap())
    }

    #[tokio::test]
    async fn roles_search_answers_digits_role_response() {
        let ri = json!({"RequestInfo": {"apiId": "Rainmaker", "ts": 5, "msgId": "m"}});
        let (status, body) = read(
            "/access/v1/roles/_search?code=SUPERUSER,%20CITIZEN&tenantId=pb.amritsar",
            ri.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["responseInfo"],
            json!({"apiId": null, "ver": null, "ts": null, "resMsgId": null, "msgId": null, "status": "200 OK"})
        );
        assert_eq!(
            body["roles"],
            json!([
                {"name": "Citizen", "code": "CITIZEN", "description": "Citizen who can raise complaint"},
                {"name": "Super User", "code": "SUPERUSER", "description": "System Administrator. Can change all master data and has access to all the system screens."}
            ])
        );
        let (_, all) = read("/access/v1/roles/_search?tenantId=pb", ri.clone()).await;
        assert!(all["roles"].as_array().unwrap().len() > 100);
        let (status, none) = read(
            "/access/v1/roles/_search?tenantId=pb&code=NOBODY",
            ri.clone(),
        )
        .await;
        assert_eq!((status, &none["roles"]), (StatusCode::OK, &json!([])));
    }

    #[tokio::test]
    async fn roles_search_failures_are_digits() {
        let (status, body) = read("/access/v1/roles/_search?tenantId=pb", json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            codes(&body.to_string()),
            vec![(
                "NotNull.roleRequest.requestInfo".into(),
                "must not be null".into()
            )]
        );
        let ri = json!({"RequestInfo": {}});
        let (status, body) = read("/access/v1/roles/_search?code=CITIZEN", ri.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["Errors"][0]["code"], "NullPointerException");
        let long = "A".repeat(51);
        let (_, body) = read(
            &format!("/access/v1/roles/_search?tenantId=pb&code={long}"),
            ri.clone(),
        )
        .await;
        assert_eq!(body["Errors"][0]["code"], "ConstraintViolationException");
        assert_eq!(
            body["Errors"][0]["description"],
            "getMDMSRoles.code: size must be between 0 and 50"
        );
        let (_, body) = read("/access/v1/roles/_search?tenantId=hr", ri).await;
        assert_eq!(body["Errors"][0]["code"], "IllegalArgumentException");
    }

    #[tokio::test]
    async fn actions_get_answers_the_roles_actions() {
        let request = json!({"RequestInfo": {"apiId": "Rainmaker", "ver": "1.0", "ts": 7, "msgId": "m-1"},
            "roleCodes": ["SUPERUSER"], "tenantId": "pb.amritsar"});
        let (status, body) = read("/access/v1/actions/_get", request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["responseInfo"],
            json!({"apiId": "org.egov.accesscontrol", "ver": "1.0", "ts": 7, "resMsgId": "uief87324", "msgId": "m-1", "status": "200 OK"})
        );
        assert_eq!(body["modules"], Value::Null);
        let actions = body["actions"].as_array().unwrap();
        let get = actions
            .iter()
            .find(|a| a["url"] == "/access/v1/actions/_get")
            .expect("SUPERUSER has actions/_get");
        assert_eq!(
            get,
            &json!({"id": 594, "name": "Get All Actions", "url": "/access/v1/actions/_get",
                "displayName": "Get All Actions", "orderNumber": 1, "queryParams": "",
                "parentModule": "", "enabled": false, "serviceCode": "AccessControl",
                "tenantId": "pb.amritsar", "createdDate": null, "createdBy": null,
                "lastModifiedDate": null, "lastModifiedBy": null,
                "path": "Access Control.Get All Actions", "navigationURL": "", "leftIcon": "",
                "rightIcon": ""})
        );
        let ids: Vec<i64> = actions.iter().map(|a| a["id"].as_i64().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        // the same from mdms/_get with DIGIT's actionMaster
        let mut named = request.clone();
        named["actionMaster"] = json!("actions-test");
        let (status, body) = read("/access/v1/actions/mdms/_get", named).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["actions"].as_array().unwrap().len(), ids.len());
        // without RequestInfo, DIGIT's factory fills "" and now
        let (_, body) = read(
            "/access/v1/actions/_get",
            json!({"roleCodes": ["NOBODY"], "tenantId": "pb", "enabled": "true"}),
        )
        .await;
        assert_eq!(body["responseInfo"]["ver"], "");
        assert_eq!(body["responseInfo"]["ts"], 1_700_000_000_000_i64);
        assert_eq!(body["actions"], json!([]));
    }

    #[tokio::test]
    async fn actions_get_validation_is_the_controllers_array() {
        let (status, body) = read(
            "/access/v1/actions/_get",
            json!({"RequestInfo": {}, "roleCodes": []}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!([{"responseInfo": null, "error": {"code": 400, "message": "Action is invalid",
                "description": null, "errorFields": [
                    {"code": "accesscontrol.0001", "message": "Tenant Id is required", "field": "tenantId"},
                    {"code": "accesscontrol.0012", "message": "Atleast One Role is Required", "field": "role"}],
                "fields": {}}}])
        );
        let (status, body) = read(
            "/access/v1/actions/_get",
            json!({"roleCodes": ["X"], "tenantId": "p".repeat(51)}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            codes(&body.to_string()),
            vec![(
                "Size.actionRequest.tenantId".into(),
                "size must be between 0 and 50".into()
            )]
        );
        let (_, body) = read(
            "/access/v1/actions/_get",
            json!({"roleCodes": ["X"], "tenantId": "pb", "enabled": "maybe"}),
        )
        .await;
        assert_eq!(body["Errors"][0]["code"], "JsonMappingException");
        let (_, body) = read(
            "/access/v1/actions/mdms/_get",
            json!({"roleCodes": ["SUPERUSER"], "tenantId": "pb", "actionMaster": "nothing"}),
        )
        .await;
        assert_eq!(body["Errors"][0]["code"], "PathNotFoundException");
    }
}
