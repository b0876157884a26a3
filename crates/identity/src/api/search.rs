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

/// DIGIT's default page size for a search without `id` or `uuid` from outside
/// (`egov.user.search.default.size`); it only shows in a refusal's description here.
const DIGIT_DEFAULT_SEARCH_SIZE: i64 = 10;

/// The criteria as a query, or DIGIT's refusal (`UserSearchCriteria.validate` for a request
/// from outside, which every HTTP request to kosh is: it comes through the gateway): one of
/// userName, name, mobileNumber, emailId or uuid is needed (`id` or `roleCodes` alone lets a
/// caller walk the users), and tenantId with userName, name or mobileNumber.
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
        uuids: criteria.uuid.clone().filter(|u| !u.is_empty()),
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
        || query.uuids.is_some();
    let needs_tenant =
        query.user_name.is_some() || query.name.is_some() || query.mobile_number.is_some();
    if !has_key || (needs_tenant && query.tenant_id.is_none()) {
        return Err(user_error(
            "InvalidUserSearchCriteriaException",
            format!(
                "Insufficient or invalid search criteria: {}",
                digit_criteria(criteria, default_active)
            ),
        ));
    }
    Ok(query)
}

/// The criteria as DIGIT's exception message shows them (Lombok's `toString` of its
/// `UserSearchCriteria`, after the page size it sets for a search without id or uuid).
fn digit_criteria(criteria: &UserSearchCriteria, default_active: bool) -> String {
    fn list(items: &Option<Vec<String>>) -> String {
        match items {
            Some(items) => format!("[{}]", items.join(", ")),
            None => "null".into(),
        }
    }
    fn text(value: &Option<String>) -> String {
        value.clone().unwrap_or_else(|| "null".into())
    }
    let by_key = criteria.id.as_ref().is_some_and(|i| !i.is_empty())
        || criteria.uuid.as_ref().is_some_and(|u| !u.is_empty());
    let mut limit = criteria.page_size.unwrap_or(0);
    if !by_key && (limit <= 0 || limit > DIGIT_DEFAULT_SEARCH_SIZE) {
        limit = DIGIT_DEFAULT_SEARCH_SIZE;
    }
    let user_type = criteria
        .user_type
        .as_deref()
        .map(str::to_ascii_uppercase)
        .filter(|t| ["CITIZEN", "EMPLOYEE", "SYSTEM", "BUSINESS"].contains(&t.as_str()));
    let active = criteria.active.or(default_active.then_some(true));
    format!(
        "UserSearchCriteria(id={}, uuid={}, userName={}, name={}, mobileNumber={}, emailId={}, \
         fuzzyLogic=false, active={}, offset={}, limit={limit}, sort=[name], type={}, \
         tenantId={}, roleCodes={}, alternatemobilenumber=null)",
        list(&criteria.id),
        list(&criteria.uuid),
        text(&criteria.user_name),
        text(&criteria.name),
        text(&criteria.mobile_number),
        text(&criteria.email_id),
        active.map_or("null".into(), |a| a.to_string()),
        criteria.page_number.unwrap_or(0),
        user_type.unwrap_or_else(|| "null".into()),
        text(&criteria.tenant_id),
        list(&criteria.role_codes),
    )
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

/// Search users (`active` defaults to true). One of userName, name, mobileNumber, emailId
/// or uuid is needed (tenantId with the first three); id, roleCodes, userType and active
/// narrow such a search.
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

/// Search users (no default for `active`); the same criteria as `/user/_search`.
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
