//! `/user/_search` and `/user/v1/_search`: DIGIT's criteria, narrowed to the users the caller
//! may see ([`tenancy::search_scope`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use kosh_mdms::Mdms;
use kosh_platform::{AuthUser, Db, DigitError, DigitJson, RequestInfo};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::response_info;
use crate::rules::tenancy::{self, SearchScope};
use crate::user_error;
use crate::users::{self, User, UserQuery};

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

/// The criteria as a query, or DIGIT's refusal when they name no key (or a key that needs a
/// tenant without one).
fn user_query(
    criteria: &UserSearchCriteria,
    default_active: bool,
) -> Result<UserQuery, DigitError> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let query = UserQuery {
        tenant_id: text(&criteria.tenant_id),
        user_name: text(&criteria.user_name),
        name: text(&criteria.name),
        mobile_number: text(&criteria.mobile_number),
        email_id: text(&criteria.email_id),
        uuids: criteria.uuid.clone(),
        ids: criteria
            .id
            .as_ref()
            .map(|ids| ids.iter().filter_map(|i| i.parse().ok()).collect()),
        user_type: text(&criteria.user_type).map(|t| t.to_ascii_uppercase()),
        active: criteria.active.or(default_active.then_some(true)),
        role_codes: criteria.role_codes.clone(),
        only_id: None,
        page_size: criteria.page_size.filter(|s| *s > 0).unwrap_or(20).min(500),
        page_number: criteria.page_number.filter(|p| *p >= 0).unwrap_or(0),
    };
    let has_key = query.user_name.is_some()
        || query.name.is_some()
        || query.mobile_number.is_some()
        || query.email_id.is_some()
        || query.uuids.is_some()
        || query.ids.is_some()
        || query.role_codes.is_some();
    if !has_key {
        return Err(user_error(
            "InvalidUserSearchCriteriaException",
            "Give one of userName, name, mobileNumber, emailId, uuid, id or roleCodes",
        ));
    }
    if (query.user_name.is_some()
        || query.name.is_some()
        || query.mobile_number.is_some()
        || query.role_codes.is_some())
        && query.tenant_id.is_none()
    {
        return Err(user_error(
            "InvalidUserSearchCriteriaException",
            "tenantId is mandatory with userName, name, mobileNumber or roleCodes",
        ));
    }
    Ok(query)
}

/// The users matching `criteria` that `requester` may see: citizens and SYSTEM users
/// without a user-administration role find only themselves, whatever the criteria; everyone
/// else finds the users within their reach (a page may then hold fewer than `pageSize`
/// users: those out of reach are left out, not replaced).
async fn run_search(
    db: &Db,
    mdms: &Mdms,
    requester: &AuthUser,
    criteria: &UserSearchCriteria,
    default_active: bool,
) -> Result<Json<Value>, DigitError> {
    let mut query = user_query(criteria, default_active)?;
    let scope = tenancy::search_scope(requester);
    if let SearchScope::OnlySelf(id) = scope {
        query.only_id = Some(id);
    }
    let mut conn = db.pool().acquire().await?;
    let mut found = users::search(&mut conn, &query).await?;
    if scope == SearchScope::WithinReach {
        found.retain(|user| tenancy::within_reach(requester, user));
    }
    users::name_roles(mdms, &mut found);
    let mut records: Vec<Value> = found.iter().map(User::search_json).collect();
    // Personal data masked for roles the SecurityPolicy master does not let see it plain;
    // a user's own record is always plain.
    kosh_platform::pii::mask::mask_records(
        requester,
        &requester.tenant_id,
        kosh_platform::pii::Model::User,
        &mut records,
    );
    Ok(Json(json!({
        "responseInfo": response_info(criteria.request_info.as_ref()),
        "user": records,
    })))
}

/// Search users (`active` defaults to true).
#[utoipa::path(post, path = "/user/_search", tag = "egov-user", request_body = UserSearchCriteria,
    responses((status = 200, description = "responseInfo and user [...]")))]
pub(super) async fn search(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    requester: AuthUser,
    DigitJson(criteria): DigitJson<UserSearchCriteria>,
) -> Result<Json<Value>, DigitError> {
    run_search(&db, &mdms, &requester, &criteria, true).await
}

/// Search users (no default for `active`).
#[utoipa::path(post, path = "/user/v1/_search", tag = "egov-user", request_body = UserSearchCriteria,
    responses((status = 200, description = "responseInfo and user [...]")))]
pub(super) async fn search_v1(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    requester: AuthUser,
    DigitJson(criteria): DigitJson<UserSearchCriteria>,
) -> Result<Json<Value>, DigitError> {
    run_search(&db, &mdms, &requester, &criteria, false).await
}
