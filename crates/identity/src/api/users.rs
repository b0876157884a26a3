//! `/user/users/_createnovalidate` and `/user/users/_updatenovalidate`.

use kosh_platform::pii::mask::log_name;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use kosh_mdms::Mdms;
use kosh_platform::{AuthUser, Clock, Db, DigitError, DigitJson, RequestInfo, write_tx};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::respond_user;
use crate::rules::{self, UserFields, tenancy};
use crate::users;
use crate::{IdentityConfig, user_error};

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRequestBody {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[schema(value_type = Object)]
    pub user: Option<Value>,
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

/// Create a user of any type (SUPERUSER only); a SYSTEM user needs `allowedIps`. Every role
/// is granted within the caller's reach (a role without a tenant gets the user's tenant, or
/// the tenant the request names, never a wider one).
#[utoipa::path(
    post,
    path = "/user/users/_createnovalidate",
    tag = "egov-user",
    request_body = UserRequestBody,
    responses((status = 200, description = "responseInfo and user [UserRequest]"))
)]
pub(super) async fn create_novalidate(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    requester: AuthUser,
    DigitJson(body): DigitJson<UserRequestBody>,
) -> Result<Json<Value>, DigitError> {
    rules::require_superuser(&requester)?;
    let object = user_object(&body)?;
    let granter = rules::Granter::Caller(&requester);
    let user = rules::new_user(&mdms, &clock, &requester, granter, &object).await?;
    let user = users::create(&db, user).await?;
    tracing::info!(user = %log_name(&user.user_name), user_type = %user.user_type, tenant = %user.tenant_id, by = %log_name(&requester.user_name), "user created");
    Ok(respond_user(body.request_info.as_ref(), &user))
}

/// DIGIT's `UserNotFoundException` for an update whose uuid is missing or unknown; its
/// message shows the criteria (Lombok's `toString` of a `UserSearchCriteria` with only the
/// uuid).
fn user_not_found(uuid: Option<&str>) -> DigitError {
    user_error(
        "UserNotFoundException",
        format!(
            "User not found for given criteria: UserSearchCriteria(id=null, uuid=[{}], \
             userName=null, name=null, mobileNumber=null, emailId=null, fuzzyLogic=false, \
             active=null, offset=null, limit=null, sort=null, type=null, tenantId=null, \
             roleCodes=null, alternatemobilenumber=null)",
            uuid.unwrap_or("null")
        ),
    )
}

/// Update a user found by `uuid` (SUPERUSER only, and only a user within the
/// caller's reach): the fields given replace the stored ones; `roles`, when given, replace
/// all roles.
#[utoipa::path(
    post,
    path = "/user/users/_updatenovalidate",
    tag = "egov-user",
    request_body = UserRequestBody,
    responses((status = 200, description = "responseInfo and user [UserRequest]"))
)]
#[allow(clippy::too_many_arguments)] // axum extractors
pub(super) async fn update_novalidate(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(config): State<Arc<IdentityConfig>>,
    requester: AuthUser,
    DigitJson(body): DigitJson<UserRequestBody>,
) -> Result<Json<Value>, DigitError> {
    rules::require_superuser(&requester)?;
    let object = user_object(&body)?;
    let fields: UserFields = rules::update_fields(&object)?;
    let now = clock.now_ms();
    let mdms_ref: &Mdms = &mdms;
    let user = write_tx!(db, |conn| {
        // DIGIT (UserService.getUserByUuid) finds the user by uuid only; an `id` is ignored.
        let uuid = fields.uuid.as_deref().unwrap_or_default();
        let found = if uuid.is_empty() {
            None
        } else {
            users::find_by_uuid(conn, uuid).await?
        };
        let mut user = found.ok_or_else(|| user_not_found(fields.uuid.as_deref()))?;
        // Found by uuid alone: the user must be within the caller's reach before anything
        // is changed or told about it.
        if !tenancy::within_reach(&requester, &user) {
            return Err(tenancy::user_out_of_reach());
        }
        rules::apply_update(mdms_ref, &requester, &mut user, &fields, &object)?;
        user.last_modified_by = Some(requester.id.to_string());
        user.last_modified_ms = now;
        users::update(conn, &user).await?;
        Ok::<_, DigitError>(user)
    })?;
    // Active, roles and allowed addresses may have changed: cached tokens must see it.
    config.token_cache.forget_all();
    let mut user = user;
    users::name_roles(&mdms, std::slice::from_mut(&mut user));
    tracing::info!(user = %log_name(&user.user_name), by = %log_name(&requester.user_name), "user updated");
    Ok(respond_user(body.request_info.as_ref(), &user))
}
