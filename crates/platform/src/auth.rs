//! The authenticated caller. The gateway layer (crates/server/src/gateway.rs) checks the
//! token, puts the user here, and writes it over `RequestInfo.userInfo` in the body, so no
//! handler ever trusts a user a client claims to be.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::envelope::{Role, UserInfo};
use crate::error::DigitError;

#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    pub id: i64,
    pub uuid: String,
    pub user_name: String,
    pub name: Option<String>,
    /// CITIZEN, EMPLOYEE or SYSTEM.
    pub user_type: String,
    pub mobile_number: Option<String>,
    pub email_id: Option<String>,
    pub tenant_id: String,
    pub roles: Vec<Role>,
}

impl AuthUser {
    pub fn has_role(&self, code: &str) -> bool {
        self.roles.iter().any(|r| r.code == code)
    }

    pub fn is_citizen(&self) -> bool {
        self.user_type == "CITIZEN"
    }

    pub fn user_info(&self) -> UserInfo {
        UserInfo {
            id: Some(self.id),
            uuid: Some(self.uuid.clone()),
            user_name: Some(self.user_name.clone()),
            name: self.name.clone(),
            user_type: Some(self.user_type.clone()),
            mobile_number: self.mobile_number.clone(),
            email_id: self.email_id.clone(),
            roles: self.roles.clone(),
            tenant_id: Some(self.tenant_id.clone()),
        }
    }
}

/// A handler that takes `AuthUser` needs a signed-in caller (401 otherwise).
impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = DigitError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthUser>()
            .cloned()
            .ok_or_else(DigitError::unauthorized)
    }
}
