//! Who sees which payment-gateway transactions: the one place pg-service decides it.
//! `transaction/v1/_search` adds the caller's [`Visibility`] to its criteria; a transaction
//! outside it is not found.
//!
//! - A citizen sees the transactions they created (the transaction's user uuid is theirs),
//!   whatever else the search names; naming someone else's uuid, bill or consumer code
//!   finds nothing.
//! - A BBPS operating unit, and any other user who is not an employee, likewise sees only
//!   the transactions it created: never a citizen's.
//! - An employee (or an integrator's SYSTEM user without the BBPS role) sees the
//!   transactions of the tenants it reaches ([`AuthUser::reaches`]). A
//!   search naming a tenant was checked by the gateway; one naming none searches the
//!   tenants the caller reaches, not every city (DIGIT would search them all).

use kosh_platform::AuthUser;

/// What one caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// The transactions this user created.
    Own(String),
    /// The transactions of these tenants (a state stands for itself and its cities).
    Tenants(Vec<String>),
}

/// The tenants `user` holds a role at; a state-level tenant stands for its cities too.
pub fn reach(user: &AuthUser) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for role in &user.roles {
        if let Some(t) = role.tenant_id.as_deref().map(str::trim)
            && !t.is_empty()
            && !out.iter().any(|o| o == t)
        {
            out.push(t.to_string());
        }
    }
    out
}

impl Visibility {
    pub fn of(user: &AuthUser) -> Visibility {
        let employee_like = user.user_type.eq_ignore_ascii_case("EMPLOYEE")
            || (user.user_type.eq_ignore_ascii_case("SYSTEM") && !user.is_bbps_unit());
        if employee_like {
            Visibility::Tenants(reach(user))
        } else {
            Visibility::Own(user.uuid.clone())
        }
    }

    /// Narrows `criteria` to what the caller may see: `false` when nothing can match
    /// (a tenant named that the caller does not reach).
    pub fn restrict(&self, criteria: &mut crate::txn::store::Criteria, user: &AuthUser) -> bool {
        match self {
            Visibility::Own(uuid) => {
                criteria.owner = Some(uuid.clone());
                true
            }
            Visibility::Tenants(tenants) => match &criteria.tenant_id {
                Some(named) => user.reaches(named),
                None => {
                    criteria.tenants = Some(tenants.clone());
                    true
                }
            },
        }
    }
}
