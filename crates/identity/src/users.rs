//! Users and their roles in the database (identity's store: the only code that reads or
//! writes `eg_user` and `eg_user_role`), and their JSON in DIGIT's shapes.

use chrono::{TimeZone, Utc};
use kosh_platform::pii::{self, Vault, table::USERS};
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{AuthUser, Db, DigitError, Role, write_tx};
use serde_json::{Map, Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// The profile fields DIGIT's user has that kosh keeps but never reads.
pub const PROFILE_FIELDS: &[&str] = &[
    "salutation",
    "gender",
    "countryCode",
    "alternatemobilenumber",
    "altContactNumber",
    "pan",
    "aadhaarNumber",
    "permanentAddress",
    "permanentCity",
    "permanentPinCode",
    "correspondenceAddress",
    "correspondenceCity",
    "correspondencePinCode",
    "fatherOrHusbandName",
    "relationship",
    "signature",
    "bloodGroup",
    "photo",
    "identificationMark",
    "dob",
];

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub tenant_id: String,
    pub user_name: String,
    pub user_type: String,
    pub name: Option<String>,
    pub mobile_number: Option<String>,
    pub email_id: Option<String>,
    pub locale: Option<String>,
    pub active: bool,
    pub password_hash: Option<String>,
    pub account_locked: bool,
    pub account_locked_ms: Option<i64>,
    pub allowed_ips: Vec<String>,
    pub profile: Map<String, Value>,
    pub created_by: Option<String>,
    pub created_ms: i64,
    pub last_modified_by: Option<String>,
    pub last_modified_ms: i64,
    pub pwd_expiry_ms: Option<i64>,
    pub roles: Vec<Role>,
}

const COLUMNS: &str = "id, uuid, tenant_id, user_name, user_type, name, mobile_number, email_id, locale, active, \
     password_hash, account_locked, account_locked_ms, allowed_ips, profile, created_by, created_ms, \
     last_modified_by, last_modified_ms, pwd_expiry_ms, pii";

/// A user row; its personal fields come out of the sealed `pii` column.
fn from_row(vault: &Vault, row: &AnyRow) -> Result<User, sqlx::Error> {
    let allowed: Option<String> = row.try_get("allowed_ips")?;
    let mut personal = USERS.open(vault, row)?;
    let profile = personal.take("profile").unwrap_or_default();
    Ok(User {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        tenant_id: row.try_get("tenant_id")?,
        user_name: personal.take("user_name").unwrap_or_default(),
        user_type: row.try_get("user_type")?,
        name: personal.take("name"),
        mobile_number: personal.take("mobile_number"),
        email_id: personal.take("email_id"),
        locale: row.try_get("locale")?,
        active: row.try_get::<i64, _>("active")? != 0,
        password_hash: row.try_get("password_hash")?,
        account_locked: row.try_get::<i64, _>("account_locked")? != 0,
        account_locked_ms: row.try_get("account_locked_ms")?,
        allowed_ips: allowed
            .map(|s| {
                s.split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        profile: serde_json::from_str(&profile).unwrap_or_default(),
        created_by: row.try_get("created_by")?,
        created_ms: row.try_get("created_ms")?,
        last_modified_by: row.try_get("last_modified_by")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
        pwd_expiry_ms: row.try_get("pwd_expiry_ms")?,
        roles: Vec::new(),
    })
}

impl User {
    pub fn auth_user(&self) -> AuthUser {
        AuthUser {
            id: self.id,
            uuid: self.uuid.clone(),
            user_name: self.user_name.clone(),
            name: self.name.clone(),
            user_type: self.user_type.clone(),
            mobile_number: self.mobile_number.clone(),
            email_id: self.email_id.clone(),
            tenant_id: self.tenant_id.clone(),
            roles: self.roles.clone(),
        }
    }

    fn profile(&self, key: &str) -> Value {
        self.profile.get(key).cloned().unwrap_or(Value::Null)
    }

    /// The gender as DIGIT answers it, its enum constant (a value stored before kosh read
    /// it as the enum, `"male"`, answers `"MALE"`).
    fn gender(&self) -> Value {
        match self.profile.get("gender") {
            Some(Value::String(g))
                if crate::rules::GENDERS.contains(&g.to_uppercase().as_str()) =>
            {
                Value::String(g.to_uppercase())
            }
            other => other.cloned().unwrap_or(Value::Null),
        }
    }

    fn roles_json(&self) -> Value {
        Value::Array(
            self.roles
                .iter()
                .map(|r| json!({"code": r.code, "name": r.name, "tenantId": r.tenant_id}))
                .collect(),
        )
    }

    /// `dob` is kept as `yyyy-MM-dd`; create and update answers show it as `dd/MM/yyyy`.
    fn dob_slashed(&self) -> Value {
        match self.profile.get("dob").and_then(Value::as_str) {
            Some(iso) if iso.len() == 10 => {
                Value::String(format!("{}/{}/{}", &iso[8..10], &iso[5..7], &iso[0..4]))
            }
            _ => Value::Null,
        }
    }

    /// The user as `/user/_search` answers it (DIGIT's UserSearchResponseContent, in its
    /// field order), plus kosh's `allowedIps` for SYSTEM users.
    pub fn search_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "userName": self.user_name,
            "salutation": self.profile("salutation"),
            "name": self.name,
            "gender": self.gender(),
            "mobileNumber": self.mobile_number,
            "countryCode": self.profile("countryCode"),
            "emailId": self.email_id,
            "altContactNumber": self.profile("altContactNumber"),
            "pan": self.profile("pan"),
            "aadhaarNumber": self.profile("aadhaarNumber"),
            "permanentAddress": self.profile("permanentAddress"),
            "permanentCity": self.profile("permanentCity"),
            "permanentPinCode": self.profile("permanentPinCode"),
            "correspondenceAddress": self.profile("correspondenceAddress"),
            "correspondenceCity": self.profile("correspondenceCity"),
            "correspondencePinCode": self.profile("correspondencePinCode"),
            "alternatemobilenumber": self.profile("alternatemobilenumber"),
            "active": self.active,
            "locale": self.locale,
            "type": self.user_type,
            "accountLocked": self.account_locked,
            "accountLockedDate": self.account_locked_ms,
            "fatherOrHusbandName": self.profile("fatherOrHusbandName"),
            "relationship": self.profile("relationship"),
            "signature": self.profile("signature"),
            "bloodGroup": self.profile("bloodGroup"),
            "photo": self.profile("photo"),
            "identificationMark": self.profile("identificationMark"),
            "createdBy": self.created_by,
            "lastModifiedBy": self.last_modified_by,
            "tenantId": self.tenant_id,
            "roles": self.roles_json(),
            "uuid": self.uuid,
            "createdDate": digit_date(self.created_ms),
            "lastModifiedDate": digit_date(self.last_modified_ms),
            "dob": self.profile("dob"),
            "pwdExpiryDate": self.pwd_expiry_ms.map(digit_date),
        });
        self.add_allowed_ips(&mut v);
        v
    }

    /// The user as `_createnovalidate` and `_updatenovalidate` answer it (DIGIT's UserRequest).
    pub fn request_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "userName": self.user_name,
            "salutation": self.profile("salutation"),
            "name": self.name,
            "gender": self.gender(),
            "mobileNumber": self.mobile_number,
            "countryCode": self.profile("countryCode"),
            "alternatemobilenumber": self.profile("alternatemobilenumber"),
            "emailId": self.email_id,
            "altContactNumber": self.profile("altContactNumber"),
            "pan": self.profile("pan"),
            "aadhaarNumber": self.profile("aadhaarNumber"),
            "permanentAddress": self.profile("permanentAddress"),
            "permanentCity": self.profile("permanentCity"),
            "permanentPinCode": self.profile("permanentPinCode"),
            "correspondenceAddress": self.profile("correspondenceAddress"),
            "correspondenceCity": self.profile("correspondenceCity"),
            "correspondencePinCode": self.profile("correspondencePinCode"),
            "active": self.active,
            "locale": self.locale,
            "type": self.user_type,
            "accountLocked": self.account_locked,
            "accountLockedDate": self.account_locked_ms,
            "fatherOrHusbandName": self.profile("fatherOrHusbandName"),
            "relationship": self.profile("relationship"),
            "signature": self.profile("signature"),
            "bloodGroup": self.profile("bloodGroup"),
            "photo": self.profile("photo"),
            "identificationMark": self.profile("identificationMark"),
            "createdBy": self.created_by,
            "password": null,
            "otpReference": null,
            "lastModifiedBy": self.last_modified_by,
            "tenantId": self.tenant_id,
            "roles": self.roles_json(),
            "uuid": self.uuid,
            "createdDate": digit_date(self.created_ms),
            "lastModifiedDate": digit_date(self.last_modified_ms),
            "dob": self.dob_slashed(),
            "pwdExpiryDate": self.pwd_expiry_ms.map(digit_date),
        });
        self.add_allowed_ips(&mut v);
        v
    }

    /// The user inside an OAuth token answer (`UserRequest`).
    pub fn token_json(&self) -> Value {
        json!({
            "id": self.id,
            "uuid": self.uuid,
            "userName": self.user_name,
            "name": self.name,
            "mobileNumber": self.mobile_number,
            "emailId": self.email_id,
            "locale": self.locale,
            "type": self.user_type,
            "roles": self.roles.iter().map(|r| json!({"name": r.name, "code": r.code, "tenantId": r.tenant_id})).collect::<Vec<_>>(),
            "active": self.active,
            "tenantId": self.tenant_id,
            "permanentCity": self.profile("permanentCity"),
        })
    }

    /// The user as `/user/_details` answers it (DIGIT's CustomUserDetails).
    pub fn details_json(&self) -> Value {
        json!({
            "id": self.id,
            "userName": self.user_name,
            "name": self.name,
            "mobileNumber": self.mobile_number,
            "emailId": self.email_id,
            "locale": self.locale,
            "type": self.user_type,
            "roles": self.roles.iter().map(|r| json!({"name": r.name, "code": r.code, "tenantId": r.tenant_id})).collect::<Vec<_>>(),
            "active": self.active,
            "actions": null,
            "tenantId": self.tenant_id,
            "uuid": self.uuid,
        })
    }

    fn add_allowed_ips(&self, v: &mut Value) {
        if self.user_type == "SYSTEM" {
            v["allowedIps"] = json!(self.allowed_ips);
        }
    }
}

/// DIGIT's user dates: `dd-MM-yyyy HH:mm:ss` in UTC.
pub fn digit_date(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%d-%m-%Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

async fn with_roles(
    conn: &mut AnyConnection,
    mut users: Vec<User>,
) -> Result<Vec<User>, DigitError> {
    if users.is_empty() {
        return Ok(users);
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let mut q = SqlBuilder::new(
        "SELECT user_id, role_code, role_tenant_id FROM eg_user_role WHERE user_id IN ",
    );
    q.bind_list(&ids)
        .push(" ORDER BY user_id, role_code, role_tenant_id");
    let rows = q.build().fetch_all(&mut *conn).await?;
    for row in rows {
        let user_id: i64 = row.try_get("user_id")?;
        if let Some(user) = users.iter_mut().find(|u| u.id == user_id) {
            user.roles.push(Role {
                id: None,
                name: None,
                code: row.try_get("role_code")?,
                tenant_id: Some(row.try_get("role_tenant_id")?),
            });
        }
    }
    Ok(users)
}

/// Fills role names from MDMS `ACCESSCONTROL-ROLES.roles`.
pub fn name_roles(mdms: &kosh_mdms::Mdms, users: &mut [User]) {
    for user in users {
        let state = kosh_platform::tenant::state_of(&user.tenant_id).to_string();
        for role in &mut user.roles {
            role.name = role_name(mdms, &state, &role.code);
        }
    }
}

pub fn role_name(mdms: &kosh_mdms::Mdms, state: &str, code: &str) -> Option<String> {
    mdms.master(state, "ACCESSCONTROL-ROLES", "roles")?
        .iter()
        .find(|r| r.get("code").and_then(Value::as_str) == Some(code))
        .and_then(|r| r.get("name").and_then(Value::as_str))
        .map(str::to_string)
}

pub async fn find_by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<User>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS).push(" FROM eg_user WHERE id = ").bind(id);
    one(conn, q).await
}

pub async fn find_by_uuid(
    conn: &mut AnyConnection,
    uuid: &str,
) -> Result<Option<User>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM eg_user WHERE uuid = ")
        .bind(uuid);
    one(conn, q).await
}

/// The users with these uuids, a few hundred per statement (a demand call of hundreds of
/// payers looks them up together).
pub async fn find_by_uuids(
    conn: &mut AnyConnection,
    uuids: &[&str],
) -> Result<Vec<User>, DigitError> {
    let mut out = Vec::with_capacity(uuids.len());
    for chunk in uuids.chunks(kosh_platform::sql::rows_per_statement(1)) {
        let mut q = SqlBuilder::new("SELECT ");
        q.push(COLUMNS)
            .push(" FROM eg_user WHERE uuid IN ")
            .bind_list(chunk);
        out.extend(many(conn, q).await?);
    }
    Ok(out)
}

/// The users named `user_name` of `user_type` at `tenant_id`.
pub async fn find_by_login(
    conn: &mut AnyConnection,
    tenant_id: &str,
    user_name: &str,
    user_type: &str,
) -> Result<Vec<User>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM eg_user WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND user_name = ")
        .bind(pii::vault().stored_user_name(user_name))
        .push(" AND user_type = ")
        .bind(user_type);
    many(conn, q).await
}

async fn one(conn: &mut AnyConnection, q: SqlBuilder) -> Result<Option<User>, DigitError> {
    Ok(many(conn, q).await?.into_iter().next())
}

async fn many(conn: &mut AnyConnection, q: SqlBuilder) -> Result<Vec<User>, DigitError> {
    let rows = q.build().fetch_all(&mut *conn).await?;
    let vault = pii::vault();
    let users = rows
        .iter()
        .map(|r| from_row(&vault, r))
        .collect::<Result<Vec<_>, _>>()?;
    with_roles(conn, users).await
}

/// A user search (`/user/_search`, `/user/v1/_search`): every criterion given must hold.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Users at this tenant, and citizens at its state (citizens live at the state tenant: a
    /// city search finds them too).
    pub tenant_id: Option<String>,
    pub user_name: Option<String>,
    pub name: Option<String>,
    pub mobile_number: Option<String>,
    pub email_id: Option<String>,
    pub uuids: Option<Vec<String>>,
    pub ids: Option<Vec<i64>>,
    pub user_type: Option<String>,
    pub active: Option<bool>,
    /// Users holding any of these roles (at any tenant).
    pub role_codes: Option<Vec<String>>,
    /// Only the user with this id, whatever the other criteria (a citizen's own record).
    pub only_id: Option<i64>,
    pub page_size: i64,
    pub page_number: i64,
}

/// The users matching `query`, by id, one page of them.
pub async fn search(conn: &mut AnyConnection, query: &UserQuery) -> Result<Vec<User>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS).push(" FROM eg_user WHERE 1 = 1");
    if let Some(tenant) = &query.tenant_id {
        q.push(" AND (tenant_id = ")
            .bind(tenant.as_str())
            .push(" OR (user_type = 'CITIZEN' AND tenant_id = ")
            .bind(kosh_platform::tenant::state_of(tenant))
            .push("))");
    }
    // Personal columns keep blind indexes (kosh_platform::pii): compare those.
    let vault = pii::vault();
    if let Some(v) = &query.user_name {
        q.push(" AND user_name = ").bind(vault.stored_user_name(v));
    }
    if let Some(v) = &query.name {
        q.push(" AND name = ").bind(vault.index(v));
    }
    if let Some(v) = &query.mobile_number {
        q.push(" AND mobile_number = ").bind(vault.index(v));
    }
    if let Some(v) = &query.email_id {
        q.push(" AND email_id = ").bind(vault.index(v));
    }
    if let Some(uuids) = &query.uuids {
        q.push(" AND uuid IN ").bind_list(uuids);
    }
    if let Some(ids) = &query.ids {
        q.push(" AND id IN ").bind_list(ids);
    }
    if let Some(id) = query.only_id {
        q.push(" AND id = ").bind(id);
    }
    if let Some(t) = &query.user_type {
        q.push(" AND user_type = ").bind(t.as_str());
    }
    if let Some(active) = query.active {
        q.push(" AND active = ").bind(i64::from(active));
    }
    if let Some(codes) = &query.role_codes {
        q.push(" AND id IN (SELECT user_id FROM eg_user_role WHERE role_code IN ")
            .bind_list(codes)
            .push(")");
    }
    q.push(" ORDER BY id LIMIT ")
        .bind(query.page_size)
        .push(" OFFSET ")
        // A page past any data is empty; a page number too large to multiply is one too.
        .bind(query.page_number.saturating_mul(query.page_size));
    many(conn, q).await
}

/// The uuids of the users with this mobile number and/or email in `tenant_id`'s state
/// (citizens live at the state tenant, employees at cities), in uuid order; none when
/// neither is given. Billing finds a demand's or bill's payers by contact through this.
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
    let vault = pii::vault();
    if let Some(mobile) = mobile_number {
        q.push(" AND mobile_number = ").bind(vault.index(mobile));
    }
    if let Some(email) = email {
        q.push(" AND email_id = ").bind(vault.index(email));
    }
    q.push(" ORDER BY uuid");
    let rows = q.build().fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("uuid"))
        .collect::<Result<_, _>>()?)
}

/// Stores a new user in its own transaction; `DuplicateUserNameException` when the name is
/// taken at the tenant for that type.
pub async fn create(db: &Db, mut user: User) -> Result<User, DigitError> {
    let created = write_tx!(db, |conn| {
        user.id = next_id(conn).await?;
        let inserted = insert(conn, &user).await?;
        if inserted {
            Ok::<_, DigitError>(true)
        } else {
            Err(duplicate_user(&user))
        }
    });
    created.map(|_| user)
}

fn duplicate_user(user: &User) -> DigitError {
    crate::user_error(
        "DuplicateUserNameException",
        format!(
            "User {} of type {} already exists at {}",
            user.user_name, user.user_type, user.tenant_id
        ),
    )
}

/// Sets a user's password hash (the caller revokes its tokens in the same transaction).
pub async fn set_password(
    conn: &mut AnyConnection,
    user_id: i64,
    password_hash: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    sqlx::query("UPDATE eg_user SET password_hash = $1, last_modified_ms = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_ms)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts a new user and its roles. A clash on (tenant, user name, type) is `Ok(false)`.
pub async fn insert(conn: &mut AnyConnection, user: &User) -> Result<bool, DigitError> {
    let sealed = seal(user);
    let inserted = sqlx::query(
        "INSERT INTO eg_user (id, uuid, tenant_id, user_name, user_type, name, mobile_number, email_id, locale, active, \
         password_hash, account_locked, account_locked_ms, allowed_ips, profile, created_by, created_ms, \
         last_modified_by, last_modified_ms, pwd_expiry_ms, pii) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
         ON CONFLICT (tenant_id, user_name, user_type) DO NOTHING",
    )
    .bind(user.id)
    .bind(&user.uuid)
    .bind(&user.tenant_id)
    .bind(sealed.column(0))
    .bind(&user.user_type)
    .bind(sealed.column(1))
    .bind(sealed.column(2))
    .bind(sealed.column(3))
    .bind(&user.locale)
    .bind(i64::from(user.active))
    .bind(&user.password_hash)
    .bind(i64::from(user.account_locked))
    .bind(user.account_locked_ms)
    .bind(allowed_ips_text(&user.allowed_ips))
    .bind(sealed.column(4))
    .bind(&user.created_by)
    .bind(user.created_ms)
    .bind(&user.last_modified_by)
    .bind(user.last_modified_ms)
    .bind(user.pwd_expiry_ms)
    .bind(&sealed.pii)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    replace_roles(conn, user.id, &user.roles).await?;
    Ok(true)
}

/// A user's personal fields, sealed (user name, name, mobile number, email, profile).
fn seal(user: &User) -> pii::table::Sealed {
    let profile = Value::Object(user.profile.clone()).to_string();
    USERS.seal(
        &pii::vault(),
        &[
            Some(&user.user_name),
            user.name.as_deref(),
            user.mobile_number.as_deref(),
            user.email_id.as_deref(),
            Some(&profile),
        ],
        None,
    )
}

fn allowed_ips_text(list: &[String]) -> Option<String> {
    if list.is_empty() {
        None
    } else {
        Some(list.join(","))
    }
}

/// Writes every field of `user` over its row, and its roles over its roles.
pub async fn update(conn: &mut AnyConnection, user: &User) -> Result<(), DigitError> {
    // The user name never changes here; it is sealed again with the rest (the row's user
    // name column is left as it is).
    let sealed = seal(user);
    sqlx::query(
        "UPDATE eg_user SET name = $1, mobile_number = $2, email_id = $3, locale = $4, active = $5, \
         account_locked = $6, account_locked_ms = $7, allowed_ips = $8, profile = $9, last_modified_by = $10, \
         last_modified_ms = $11, password_hash = $12, pwd_expiry_ms = $13, pii = $14 WHERE id = $15",
    )
    .bind(sealed.column(1))
    .bind(sealed.column(2))
    .bind(sealed.column(3))
    .bind(&user.locale)
    .bind(i64::from(user.active))
    .bind(i64::from(user.account_locked))
    .bind(user.account_locked_ms)
    .bind(allowed_ips_text(&user.allowed_ips))
    .bind(sealed.column(4))
    .bind(&user.last_modified_by)
    .bind(user.last_modified_ms)
    .bind(&user.password_hash)
    .bind(user.pwd_expiry_ms)
    .bind(&sealed.pii)
    .bind(user.id)
    .execute(&mut *conn)
    .await?;
    replace_roles(conn, user.id, &user.roles).await
}

async fn replace_roles(
    conn: &mut AnyConnection,
    user_id: i64,
    roles: &[Role],
) -> Result<(), DigitError> {
    sqlx::query("DELETE FROM eg_user_role WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for role in roles {
        sqlx::query(
            "INSERT INTO eg_user_role (user_id, role_code, role_tenant_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(&role.code)
        .bind(role.tenant_id.clone().unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Locks an account (too many failed logins) from `now_ms`.
pub async fn lock(conn: &mut AnyConnection, user_id: i64, now_ms: i64) -> Result<(), DigitError> {
    sqlx::query("UPDATE eg_user SET account_locked = 1, account_locked_ms = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Unlocks an account whose lock has run out.
pub async fn unlock(conn: &mut AnyConnection, user_id: i64, now_ms: i64) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE eg_user SET account_locked = 0, account_locked_ms = NULL, last_modified_ms = $1 WHERE id = $2",
    )
    .bind(now_ms)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether any user exists (the bootstrap creates the first administrator otherwise).
pub async fn any_exists(conn: &mut AnyConnection) -> Result<bool, DigitError> {
    let row = sqlx::query("SELECT COUNT(*) FROM eg_user")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// The next user id, from the counter rows idgen uses.
pub async fn next_id(conn: &mut AnyConnection) -> Result<i64, DigitError> {
    kosh_idgen::counter::advance(conn, "*", "SEQ_EG_USER", 1).await
}
