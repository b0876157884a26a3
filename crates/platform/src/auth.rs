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

    /// Whether this caller may act on `tenant_id`: it holds a role at that tenant or at one
    /// of its ancestors (DIGIT's rule: a role at the state applies to all its cities; a role
    /// at `pb.amritsar` reaches neither `pb` nor `pb.jalandhar`). The one test of tenancy:
    /// the gateway applies it to every tenant a request names, and identity to every role it
    /// grants and every user it shows or changes.
    pub fn reaches(&self, tenant_id: &str) -> bool {
        roles_reach(&self.roles, tenant_id)
    }

    pub fn is_citizen(&self) -> bool {
        self.user_type == "CITIZEN"
    }

    /// A BBPS operating unit: a SYSTEM user (a bank's or agent institution's server) holding
    /// the BBPS role. Every service shows such a caller only what it posted itself.
    pub fn is_bbps_unit(&self) -> bool {
        self.user_type.eq_ignore_ascii_case("SYSTEM") && self.has_role("BBPS")
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

/// Whether `roles` reach `tenant_id` (see [`AuthUser::reaches`]): some role is held at the
/// tenant or at one of its ancestors (its [`lineage`](crate::tenant::lineage)). A role
/// without a tenant reaches nothing, and nothing reaches a blank tenant.
pub fn roles_reach(roles: &[Role], tenant_id: &str) -> bool {
    let tenant_id = tenant_id.trim();
    !tenant_id.is_empty()
        && roles.iter().any(|role| {
            role.tenant_id
                .as_deref()
                .is_some_and(|held| crate::tenant::is_within(tenant_id, held.trim()))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: &[(&str, &str)]) -> AuthUser {
        AuthUser {
            id: 1,
            uuid: "u-1".into(),
            user_name: "someone".into(),
            name: None,
            user_type: "EMPLOYEE".into(),
            mobile_number: None,
            email_id: None,
            tenant_id: "pb.amritsar".into(),
            roles: roles
                .iter()
                .map(|(code, tenant)| Role {
                    id: None,
                    name: None,
                    code: code.to_string(),
                    tenant_id: Some(tenant.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn a_state_role_reaches_every_city_of_the_state() {
        let state = caller(&[("SUPERUSER", "pb")]);
        assert!(state.reaches("pb"));
        assert!(state.reaches("pb.amritsar"));
        assert!(state.reaches("pb.jalandhar"));
        assert!(!state.reaches("hp"));
        assert!(!state.reaches("hp.shimla"));
        assert!(!state.reaches("pbx"), "a prefix is not a parent");
    }

    #[test]
    fn a_city_role_reaches_its_city_only() {
        let city = caller(&[("SUPERUSER", "pb.amritsar"), ("EMPLOYEE", "pb.amritsar")]);
        assert!(city.reaches("pb.amritsar"));
        assert!(!city.reaches("pb"), "never the state above it");
        assert!(!city.reaches("pb.jalandhar"), "never a sibling city");
        assert!(city.reaches(" pb.amritsar "));
        assert!(!city.reaches(""));
        assert!(!city.reaches("PB.AMRITSAR"), "tenant ids compare exactly");
    }

    #[test]
    fn roles_at_several_cities_reach_each() {
        let both = caller(&[("EMPLOYEE", "pb.amritsar"), ("EMPLOYEE", "pb.jalandhar")]);
        assert!(both.reaches("pb.amritsar") && both.reaches("pb.jalandhar"));
        assert!(!both.reaches("pb") && !both.reaches("pb.patiala"));
    }

    #[test]
    fn no_roles_or_roles_without_tenants_reach_nothing() {
        assert!(!caller(&[]).reaches("pb"));
        let mut blank = caller(&[("SUPERUSER", "")]);
        assert!(!blank.reaches("pb"));
        blank.roles[0].tenant_id = None;
        assert!(!blank.reaches("pb.amritsar"));
    }
}
