//! The payer of a demand is a user of identity (egov-user). Billing reads users only here.

use kosh_identity::users::{self, User};
use kosh_platform::DigitError;
use kosh_platform::sql::SqlBuilder;
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

pub async fn find(conn: &mut AnyConnection, uuid: &str) -> Result<Option<User>, DigitError> {
    users::find_by_uuid(conn, uuid).await
}

/// The uuids of the users with this mobile number or email in `tenant_id`'s state (citizens
/// live at the state tenant, employees at cities).
///
/// kosh-identity offers no lookup by contact yet, so this is the one query billing makes on
/// identity's `eg_user` table; it belongs in `kosh_identity::users` once that exists.
pub async fn uuids_with_contact(
    conn: &mut AnyConnection,
    tenant_id: &str,
    mobile_number: Option<&str>,
    email: Option<&str>,
) -> Result<Vec<String>, DigitError> {
    if mobile_number.is_none() && email.is_none() {
        return Ok(Vec::new());
    }
    let state = kosh_platform::tenant::state_of(tenant_id);
    let mut q = SqlBuilder::new("SELECT uuid FROM eg_user WHERE (tenant_id = ");
    q.bind(state)
        .push(" OR tenant_id LIKE ")
        .bind(format!("{state}.%"))
        .push(")");
    if let Some(mobile) = mobile_number {
        q.push(" AND mobile_number = ").bind(mobile);
    }
    if let Some(email) = email {
        q.push(" AND email_id = ").bind(email);
    }
    q.push(" ORDER BY uuid");
    let rows = q.build().fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("uuid"))
        .collect::<Result<_, _>>()?)
}

/// The payer's postal address for the bill (DIGIT: `permanentAddress`).
pub fn address(user: &User) -> Option<String> {
    user.profile
        .get("permanentAddress")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The payer as a demand shows it (DIGIT's `User` contract, the fields billing fills).
pub fn demand_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "uuid": user.uuid,
        "userName": user.user_name,
        "name": user.name,
        "mobileNumber": user.mobile_number,
        "emailId": user.email_id,
        "type": user.user_type,
        "tenantId": user.tenant_id,
        "permanentAddress": address(user),
        "active": user.active,
    })
}
