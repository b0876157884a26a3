//! The first administrator, and users made from the command line (`kosh user create`).

use kosh_mdms::Mdms;
use kosh_platform::{AuthUser, Clock, Db, DigitError};
use serde_json::{Map, Value, json};

use crate::password;
use crate::rules::{Granter, new_user};
use crate::users::{self, User};

/// What `kosh user create` and the bootstrap ask for.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub tenant_id: String,
    pub user_name: String,
    pub name: String,
    pub user_type: String,
    pub password: String,
    pub roles: Vec<String>,
    pub mobile_number: Option<String>,
    pub allowed_ips: Vec<String>,
}

/// The requester recorded for users made by kosh itself.
fn system_requester(tenant_id: &str) -> AuthUser {
    AuthUser {
        id: 0,
        uuid: "kosh".into(),
        user_name: "kosh".into(),
        name: None,
        user_type: "SYSTEM".into(),
        mobile_number: None,
        email_id: None,
        tenant_id: tenant_id.into(),
        roles: Vec::new(),
    }
}

/// Creates a user from the command line, with the same checks as `_createnovalidate`.
pub async fn create(
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    spec: &NewUser,
) -> Result<User, DigitError> {
    let state = kosh_platform::tenant::state_of(&spec.tenant_id);
    let role_tenant = if spec.user_type.eq_ignore_ascii_case("CITIZEN") {
        state
    } else {
        spec.tenant_id.as_str()
    };
    let mut object = Map::new();
    object.insert("tenantId".into(), json!(spec.tenant_id));
    object.insert("userName".into(), json!(spec.user_name));
    object.insert("name".into(), json!(spec.name));
    object.insert("type".into(), json!(spec.user_type));
    object.insert("active".into(), json!(true));
    object.insert("password".into(), json!(spec.password));
    object.insert(
        "roles".into(),
        Value::Array(
            spec.roles
                .iter()
                .map(|code| json!({"code": code, "tenantId": role_tenant}))
                .collect(),
        ),
    );
    if let Some(mobile) = &spec.mobile_number {
        object.insert("mobileNumber".into(), json!(mobile));
    }
    if !spec.allowed_ips.is_empty() {
        object.insert("allowedIps".into(), json!(spec.allowed_ips));
    }
    let requester = system_requester(&spec.tenant_id);
    let user = new_user(mdms, clock, &requester, Granter::Kosh, &object).await?;
    users::create(db, user).await
}

/// On an empty database, creates an EMPLOYEE superuser at the state tenant with roles
/// SUPERUSER and EMPLOYEE. Returns the password when kosh generated it (to print once).
pub async fn ensure_admin(
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    username: &str,
    given_password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    {
        let mut conn = db.pool().acquire().await?;
        if users::any_exists(&mut conn).await? {
            return Ok(None);
        }
    }
    let state = mdms
        .states()
        .first()
        .map(|s| s.to_string())
        .ok_or_else(|| anyhow::anyhow!("no state in master data"))?;
    let (password, generated) = match given_password.filter(|p| !p.is_empty()) {
        Some(p) => (p.to_string(), false),
        None => (password::generate(), true),
    };
    let spec = NewUser {
        tenant_id: state,
        user_name: username.to_string(),
        name: "Administrator".into(),
        user_type: "EMPLOYEE".into(),
        password: password.clone(),
        roles: vec!["SUPERUSER".into(), "EMPLOYEE".into()],
        mobile_number: None,
        allowed_ips: Vec::new(),
    };
    match create(db, mdms, clock, &spec).await {
        Ok(_) => Ok(generated.then_some(password)),
        // Another kosh instance made it first.
        Err(e) if e.first_code() == Some("DuplicateUserNameException") => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "creating the administrator {username}: {e}"
        )),
    }
}
