//! The payer of a demand is a user of identity (egov-user). Billing finds users only here,
//! and only through identity's store functions: it never queries identity's tables.

use kosh_identity::users::{self, User};
use kosh_platform::DigitError;
use serde_json::{Value, json};
use sqlx::AnyConnection;

pub async fn find(conn: &mut AnyConnection, uuid: &str) -> Result<Option<User>, DigitError> {
    users::find_by_uuid(conn, uuid).await
}

/// The users with these uuids (those that exist), from identity's store.
pub async fn find_many(conn: &mut AnyConnection, uuids: &[&str]) -> Result<Vec<User>, DigitError> {
    users::find_by_uuids(conn, uuids).await
}

/// The uuids of the users with this mobile number or email in `tenant_id`'s state (citizens
/// live at the state tenant, employees at cities), from identity's store.
pub async fn uuids_with_contact(
    conn: &mut AnyConnection,
    tenant_id: &str,
    mobile_number: Option<&str>,
    email: Option<&str>,
) -> Result<Vec<String>, DigitError> {
    users::uuids_with_contact(conn, tenant_id, mobile_number, email).await
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
