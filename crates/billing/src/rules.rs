//! Who may ask billing what, beyond the gateway's role-action check.

use kosh_platform::{AuthUser, DigitError, tenant};

/// Roles that DIGIT's `statelevel.rolecode.excluded.list` exempts from the state-level rule.
pub const STATE_LEVEL_ROLES: &[&str] = &["SUPERUSER"];

/// DIGIT (billing's `Util.validateTenantIdForUserType`): an employee works for a city, so a
/// search or fetch across a whole state (`pb`) is refused unless the employee holds an
/// exempted role.
pub fn check_state_level_tenant(user: &AuthUser, tenant_id: &str) -> Result<(), DigitError> {
    let exempt = STATE_LEVEL_ROLES.iter().any(|role| user.has_role(role));
    if user.user_type.eq_ignore_ascii_case("EMPLOYEE")
        && tenant::is_state_level(tenant_id)
        && !exempt
    {
        return Err(DigitError::new(
            "EG_BS_INVALID_TENANTID",
            "Employees cannot search based on state level tenantid",
        ));
    }
    Ok(())
}
