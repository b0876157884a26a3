//! Tenancy of roles and users: which roles a caller may grant where, and which users it may
//! see or change. Every decision goes through [`AuthUser::reaches`] (a role at the tenant or
//! at one of its ancestors), with one addition DIGIT's model needs: citizens belong to the
//! whole state (they live at the state tenant and every city serves them), so a citizen's
//! home and its CITIZEN role at the state are within the reach of anyone who serves a city
//! of that state. Any other role at the state (a citizen made SUPERUSER at `pb`) is not.

use axum::http::StatusCode;
use kosh_platform::tenant::{is_state_level, state_of};
use kosh_platform::{AuthUser, DigitError, ErrorItem};

use crate::users::User;

/// Roles that let a SYSTEM user (an integrator, a BBPS unit) search users as an employee
/// does; without one it finds only itself.
pub const USER_ADMIN_ROLES: &[&str] = &["SUPERUSER", "EMPLOYEE ADMIN", "HRMS_ADMIN"];

/// Whether the caller holds a role at `state` or at one of its cities.
fn serves_state(caller: &AuthUser, state: &str) -> bool {
    caller.roles.iter().any(|role| {
        role.tenant_id
            .as_deref()
            .is_some_and(|held| state_of(held.trim()) == state)
    })
}

/// A citizen's place in its state's pool: its home tenant (`role_code` None) or its CITIZEN
/// role, at a state the caller serves.
fn in_citizen_pool(
    caller: &AuthUser,
    user_type: &str,
    role_code: Option<&str>,
    tenant: &str,
) -> bool {
    user_type == "CITIZEN"
        && role_code.is_none_or(|code| code == "CITIZEN")
        && is_state_level(tenant)
        && serves_state(caller, tenant)
}

/// Whether `caller` may grant the role `code` at `tenant` to a user of `user_type`.
pub fn may_grant(caller: &AuthUser, user_type: &str, code: &str, tenant: &str) -> bool {
    caller.reaches(tenant) || in_citizen_pool(caller, user_type, Some(code), tenant)
}

/// Whether `caller` may see or change `user`: the user's own tenant and the tenant of every
/// role it holds are within the caller's reach (a city account never sees or changes a state
/// administrator, nor an employee of another city).
pub fn within_reach(caller: &AuthUser, user: &User) -> bool {
    (caller.reaches(&user.tenant_id)
        || in_citizen_pool(caller, &user.user_type, None, &user.tenant_id))
        && user.roles.iter().all(|role| {
            may_grant(
                caller,
                &user.user_type,
                &role.code,
                role.tenant_id.as_deref().unwrap_or_default(),
            )
        })
}

/// Whom a user search may return to `caller`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// Only the caller's own record: citizens, and SYSTEM users without a
    /// [`USER_ADMIN_ROLES`] role.
    OnlySelf(i64),
    /// The users [`within_reach`] of the caller.
    WithinReach,
}

pub fn search_scope(caller: &AuthUser) -> SearchScope {
    let admin = || USER_ADMIN_ROLES.iter().any(|code| caller.has_role(code));
    if caller.is_citizen() || (caller.user_type == "SYSTEM" && !admin()) {
        SearchScope::OnlySelf(caller.id)
    } else {
        SearchScope::WithinReach
    }
}

/// The refusal of a role granted at a tenant beyond the granter's reach.
pub fn role_tenant_refused(code: &str, tenant: &str) -> DigitError {
    DigitError::item(
        ErrorItem::new(
            "ROLE_TENANT_NOT_ALLOWED",
            "A role may be granted only at a tenant within the granting user's reach",
        )
        .with_description(format!(
            "role {code} at tenant \"{tenant}\" is outside the tenants this account holds roles at"
        )),
    )
    .with_status(StatusCode::FORBIDDEN)
}

/// The refusal of an act on a user beyond the caller's reach.
pub fn user_out_of_reach() -> DigitError {
    DigitError::item(
        ErrorItem::new(
            "USER_OUT_OF_REACH",
            "The user is outside the tenants this account may act on",
        )
        .with_description(
            "the user's tenant or one of its roles' tenants is not within this account's roles",
        ),
    )
    .with_status(StatusCode::FORBIDDEN)
}

#[cfg(test)]
mod tests {
    use kosh_platform::Role;

    use super::*;

    fn role(code: &str, tenant: &str) -> Role {
        Role {
            id: None,
            name: None,
            code: code.into(),
            tenant_id: Some(tenant.into()),
        }
    }

    fn caller(user_type: &str, roles: &[(&str, &str)]) -> AuthUser {
        AuthUser {
            id: 9,
            uuid: "u-9".into(),
            user_name: "caller".into(),
            name: None,
            user_type: user_type.into(),
            mobile_number: None,
            email_id: None,
            tenant_id: "pb.amritsar".into(),
            roles: roles.iter().map(|(c, t)| role(c, t)).collect(),
        }
    }

    fn user(user_type: &str, tenant: &str, roles: &[(&str, &str)]) -> User {
        User {
            id: 1,
            uuid: "u-1".into(),
            tenant_id: tenant.into(),
            user_name: "target".into(),
            user_type: user_type.into(),
            name: None,
            mobile_number: None,
            email_id: None,
            locale: None,
            active: true,
            password_hash: None,
            account_locked: false,
            account_locked_ms: None,
            allowed_ips: Vec::new(),
            profile: Default::default(),
            created_by: None,
            created_ms: 0,
            last_modified_by: None,
            last_modified_ms: 0,
            pwd_expiry_ms: None,
            roles: roles.iter().map(|(c, t)| role(c, t)).collect(),
        }
    }

    #[test]
    fn a_city_superuser_grants_at_its_city_only() {
        let city = caller("EMPLOYEE", &[("SUPERUSER", "pb.amritsar")]);
        assert!(may_grant(&city, "EMPLOYEE", "SUPERUSER", "pb.amritsar"));
        assert!(!may_grant(&city, "EMPLOYEE", "SUPERUSER", "pb"));
        assert!(!may_grant(&city, "CITIZEN", "SUPERUSER", "pb"));
        assert!(!may_grant(&city, "EMPLOYEE", "EMPLOYEE", "pb.jalandhar"));
        // Citizens belong to the state: their CITIZEN role there is any city's to give.
        assert!(may_grant(&city, "CITIZEN", "CITIZEN", "pb"));
        assert!(!may_grant(&city, "EMPLOYEE", "CITIZEN", "pb"));
        assert!(!may_grant(&city, "CITIZEN", "CITIZEN", "hp"));
    }

    #[test]
    fn a_city_account_cannot_reach_a_state_administrator() {
        let city = caller("EMPLOYEE", &[("SUPERUSER", "pb.amritsar")]);
        let state_admin = user("EMPLOYEE", "pb", &[("SUPERUSER", "pb"), ("EMPLOYEE", "pb")]);
        assert!(!within_reach(&city, &state_admin));
        let other_city = user("EMPLOYEE", "pb.jalandhar", &[("EMPLOYEE", "pb.jalandhar")]);
        assert!(!within_reach(&city, &other_city));
        // Living in the city is not enough when a role reaches beyond it.
        let mixed = user(
            "EMPLOYEE",
            "pb.amritsar",
            &[("EMPLOYEE", "pb.amritsar"), ("EMPLOYEE", "pb")],
        );
        assert!(!within_reach(&city, &mixed));
        let own = user("EMPLOYEE", "pb.amritsar", &[("EMPLOYEE", "pb.amritsar")]);
        assert!(within_reach(&city, &own));
        let citizen = user("CITIZEN", "pb", &[("CITIZEN", "pb")]);
        assert!(within_reach(&city, &citizen));
        let promoted = user("CITIZEN", "pb", &[("CITIZEN", "pb"), ("SUPERUSER", "pb")]);
        assert!(!within_reach(&city, &promoted));
        let state = caller("EMPLOYEE", &[("SUPERUSER", "pb")]);
        for target in [&state_admin, &other_city, &mixed, &own, &citizen, &promoted] {
            assert!(within_reach(&state, target));
        }
    }

    #[test]
    fn citizens_and_plain_system_users_search_only_themselves() {
        assert_eq!(
            search_scope(&caller("CITIZEN", &[("CITIZEN", "pb")])),
            SearchScope::OnlySelf(9)
        );
        assert_eq!(
            search_scope(&caller(
                "CITIZEN",
                &[("CITIZEN", "pb"), ("SUPERUSER", "pb")]
            )),
            SearchScope::OnlySelf(9)
        );
        assert_eq!(
            search_scope(&caller("SYSTEM", &[("BBPS", "pb"), ("EMPLOYEE", "pb")])),
            SearchScope::OnlySelf(9)
        );
        assert_eq!(
            search_scope(&caller("SYSTEM", &[("SUPERUSER", "pb")])),
            SearchScope::WithinReach
        );
        assert_eq!(
            search_scope(&caller("EMPLOYEE", &[("EMPLOYEE", "pb.amritsar")])),
            SearchScope::WithinReach
        );
    }
}
