//! `/user/password/_update`: the signed-in user changes their own password.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use kosh_platform::{AuthUser, Clock, Db, DigitError, DigitJson, RequestInfo, write_tx};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::response_info;
use crate::{IdentityConfig, password, tokens, user_error, users};

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
pub(super) async fn update_password(
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
        users::set_password(conn, user_id, &hash, now).await?;
        tokens::revoke_all(conn, user_id).await
    })?;
    config.token_cache.forget_all();
    Ok(Json(
        json!({"responseInfo": response_info(body.request_info.as_ref())}),
    ))
}
