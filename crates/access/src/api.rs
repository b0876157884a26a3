//! `POST /access/v1/actions/_authorize`: `{"RequestInfo", "AuthorizationRequest": {roles,
//! uri, tenantIds}}` → an empty 200 when the roles may call the uri, an empty 401 when not
//! (DIGIT's gateways read only the status). Validation failures and missing role-action data
//! are DIGIT's 400 error body.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use kosh_platform::{DigitError, DigitJson, ErrorItem, RequestInfo, Role};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AccessIndex;

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
{
    OpenApiRouter::new().routes(routes!(authorize))
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

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use kosh_mdms::Mdms;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    #[derive(Clone, FromRef)]
    struct TestState {
        access: Arc<AccessIndex>,
    }

    fn app() -> Router {
        let mdms = Mdms::from_files(&kosh_mdms::embedded_demo_files()).unwrap();
        let state = TestState {
            access: Arc::new(AccessIndex::build(&mdms)),
        };
        let (router, _) = router::<TestState>().split_for_parts();
        router.with_state(state)
    }

    /// (status, body text)
    async fn post(body: &str) -> (StatusCode, String) {
        let response = app()
            .oneshot(
                Request::post("/access/v1/actions/_authorize")
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
}
