//! DIGIT's request and response envelope (services-common `RequestInfo`, `ResponseInfo`,
//! `User`, `Role`). Every field is optional on the way in: DIGIT's clients send anything from
//! a full RequestInfo to `{}`; identity is never taken from here but from the token.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestInfo {
    pub api_id: Option<String>,
    pub ver: Option<String>,
    pub ts: Option<i64>,
    pub action: Option<String>,
    pub did: Option<String>,
    pub key: Option<String>,
    pub msg_id: Option<String>,
    pub auth_token: Option<String>,
    pub correlation_id: Option<String>,
    #[schema(value_type = Object)]
    pub plain_access_request: Option<Value>,
    pub user_info: Option<UserInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    pub user_name: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub user_type: Option<String>,
    pub mobile_number: Option<String>,
    pub email_id: Option<String>,
    #[serde(default)]
    pub roles: Vec<Role>,
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub code: String,
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseInfo {
    pub api_id: Option<String>,
    pub ver: Option<String>,
    pub ts: Option<i64>,
    pub res_msg_id: Option<String>,
    pub msg_id: Option<String>,
    pub status: Option<String>,
}

/// DIGIT's services hard-code this response message id.
pub const RES_MSG_ID: &str = "uief87324";

impl ResponseInfo {
    /// Copies apiId, ver, ts and msgId from the request, as DIGIT's ResponseInfoFactory does;
    /// `status` differs by service ("200 OK", "SUCCESSFUL", "successful", ...).
    pub fn from_request(
        request: Option<&RequestInfo>,
        status: impl Into<String>,
        now_ms: i64,
    ) -> Self {
        ResponseInfo {
            api_id: request.and_then(|r| r.api_id.clone()),
            ver: request.and_then(|r| r.ver.clone()),
            ts: Some(request.and_then(|r| r.ts).unwrap_or(now_ms)),
            res_msg_id: Some(RES_MSG_ID.to_string()),
            msg_id: request.and_then(|r| r.msg_id.clone()),
            status: Some(status.into()),
        }
    }
}

/// The body every DIGIT search request carries: `{"RequestInfo": {...}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RequestInfoWrapper {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
}
