//! What a user request may carry: the profile checks (names, mobile numbers, emails, dates
//! of birth), the roles it names (checked against MDMS), a SYSTEM user's allowed addresses,
//! and who may manage users at all.

use axum::http::StatusCode;
use kosh_mdms::Mdms;
use kosh_platform::bean::{self, Limit};
use kosh_platform::error::ErrorMap;
use kosh_platform::extract::bind;
use kosh_platform::{AuthUser, Clock, DigitError, ErrorItem, Role};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::user_error;
use crate::users::{self, PROFILE_FIELDS, User};

pub mod tenancy;
use crate::{ip, password};

/// The user patterns, compiled once (every user create and update is checked against them).
static NAME: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(NAME_PATTERN).expect("name pattern"));
static GENDER: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(GENDER_PATTERN).expect("gender pattern"));
static MOBILE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(MOBILE_PATTERN).expect("mobile pattern"));

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserFields {
    /// Bound for its type (DIGIT's `Long`); an update finds its user by `uuid` only.
    #[allow(dead_code)]
    pub(crate) id: Option<i64>,
    pub(crate) uuid: Option<String>,
    pub(crate) user_name: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) mobile_number: Option<String>,
    pub(crate) email_id: Option<String>,
    pub(crate) gender: Option<String>,
    pub(crate) locale: Option<String>,
    #[serde(rename = "type")]
    pub(crate) user_type: Option<String>,
    pub(crate) active: Option<bool>,
    pub(crate) password: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) roles: Option<Vec<RoleFields>>,
    pub(crate) allowed_ips: Option<Vec<String>>,
    pub(crate) account_locked: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleFields {
    pub(crate) code: Option<String>,
    pub(crate) tenant_id: Option<String>,
}

const NAME_PATTERN: &str = r#"^[^\"$<>?\\~`!@#$%^()+={}\[\]*,:;“”‘’]*$"#;
const MOBILE_PATTERN: &str = "^[6-9][0-9]{9}$";
/// DIGIT's `UserServiceConstants.PATTERN_GENDER`, checked (with `@Size(max = 15)`) before the
/// value is read as its `Gender` enum.
const GENDER_PATTERN: &str = "^[a-zA-Z ]*$";
/// DIGIT's `org.egov.user.domain.model.enums.Gender`.
pub(crate) const GENDERS: &[&str] = &["FEMALE", "MALE", "OTHERS", "TRANSGENDER"];

/// The gender as DIGIT stores and answers it: the request's value in upper case, which must
/// name one of the enum's constants (`Gender.valueOf(gender.toUpperCase())` in DIGIT's
/// `UserRequest.toDomain`; another value is its `IllegalArgumentException`).
pub(crate) fn gender_enum(fields: &mut UserFields) -> Result<(), DigitError> {
    let Some(given) = &fields.gender else {
        return Ok(());
    };
    let upper = given.to_uppercase();
    if !GENDERS.contains(&upper.as_str()) {
        return Err(user_error(
            "IllegalArgumentException",
            format!("No enum constant org.egov.user.domain.model.enums.Gender.{upper}"),
        ));
    }
    fields.gender = Some(upper);
    Ok(())
}

pub(crate) fn profile_from(user: &Map<String, Value>) -> Map<String, Value> {
    let mut profile = Map::new();
    for field in PROFILE_FIELDS {
        if let Some((_, value)) = user.iter().find(|(k, _)| k.eq_ignore_ascii_case(field))
            && !value.is_null()
        {
            profile.insert(field.to_string(), value.clone());
        }
    }
    profile
}

/// `dd/MM/yyyy` (DIGIT's create format) or `yyyy-MM-dd` → `yyyy-MM-dd`.
pub(crate) fn normalize_dob(profile: &mut Map<String, Value>, errors: &mut ErrorMap) {
    let Some(Value::String(dob)) = profile.get("dob").cloned() else {
        return;
    };
    let parsed = chrono::NaiveDate::parse_from_str(&dob, "%d/%m/%Y")
        .or_else(|_| chrono::NaiveDate::parse_from_str(&dob, "%Y-%m-%d"));
    match parsed {
        Ok(date) => {
            profile.insert(
                "dob".into(),
                Value::String(date.format("%Y-%m-%d").to_string()),
            );
        }
        Err(_) => errors.put(
            "InvalidUserCreateException",
            format!("dob \"{dob}\" is not a date (dd/MM/yyyy)"),
        ),
    }
}

/// Identity's length limits, the one table of them: DIGIT's `@Size` on egov-user's
/// `UserRequest` (web/contract/UserRequest.java). Checked on create and update before
/// anything is written; a failure is `Size.createUserRequest.user.<field>`, "size must be
/// between 0 and <max>".
pub const LIMITS: &[Limit] = &[
    Limit::max("User.userName", 64),
    Limit::max("User.salutation", 5),
    Limit::max("User.name", 50),
    Limit::max("User.gender", 15),
    Limit::max("User.emailId", 128),
    Limit::max("User.altContactNumber", 50),
    Limit::max("User.pan", 10),
    Limit::max("User.aadhaarNumber", 20),
    Limit::max("User.permanentAddress", 300),
    Limit::max("User.permanentCity", 50),
    Limit::max("User.permanentPinCode", 10),
    Limit::max("User.correspondenceAddress", 300),
    Limit::max("User.correspondenceCity", 50),
    Limit::max("User.correspondencePinCode", 10),
    Limit::max("User.locale", 16),
    Limit::max("User.fatherOrHusbandName", 50),
    Limit::max("User.signature", 36),
    Limit::max("User.bloodGroup", 32),
    Limit::max("User.photo", 36),
    Limit::max("User.identificationMark", 300),
    Limit::max("User.password", 64),
    Limit::max("User.tenantId", 50),
    Limit::max("User.uuid", 36),
];

/// Every text field of the request's user against [`LIMITS`] (its keys in any letter case,
/// as DIGIT binds them).
pub(crate) fn check_lengths(user: &Map<String, Value>, errors: &mut Vec<ErrorItem>, object: &str) {
    for limit in LIMITS {
        let field = limit.key.trim_start_matches("User.");
        let value = user
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .and_then(|(_, v)| v.as_str());
        bean::check_length(
            errors,
            LIMITS,
            limit.key,
            &format!("{object}.user.{field}"),
            value,
        );
    }
}

pub(crate) fn check_common(fields: &UserFields, errors: &mut Vec<ErrorItem>, object: &str) {
    let name_pattern = &*NAME;
    if let Some(name) = &fields.name
        && !name_pattern.is_match(name)
    {
        errors.push(ErrorItem::new(
            format!("Pattern.{object}.user.name"),
            format!("must match \"{NAME_PATTERN}\""),
        ));
    }
    if let Some(gender) = &fields.gender
        && !GENDER.is_match(gender)
    {
        errors.push(ErrorItem::new(
            format!("Pattern.{object}.user.gender"),
            format!("must match \"{GENDER_PATTERN}\""),
        ));
    }
    if let Some(email) = fields.email_id.as_deref().filter(|e| !e.is_empty())
        && !is_email(email)
    {
        errors.push(ErrorItem::new(
            format!("Email.{object}.user.emailId"),
            "must be a well-formed email address",
        ));
    }
    if let Some(mobile) = fields.mobile_number.as_deref().filter(|m| !m.is_empty())
        && !MOBILE.is_match(mobile)
    {
        errors.push(ErrorItem::new(
            "INVALID_MOBILE_NUMBER",
            format!("Mobile number must match the configured pattern: {MOBILE_PATTERN}"),
        ));
    }
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Who grants the roles of a request: a signed-in caller, whose reach bounds them (see
/// [`tenancy`]), or kosh itself (the first administrator, `kosh user create`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Granter<'a> {
    Caller(&'a AuthUser),
    Kosh,
}

/// Roles named in a request for a user of `user_type`, checked against MDMS. A role without
/// a tenant gets the first of `default_tenants` (the user's own tenant first) that the
/// granter may grant it at, never a wider one; a caller's grant beyond its reach is refused.
pub(crate) fn resolve_roles(
    mdms: &Mdms,
    roles: &[RoleFields],
    user_type: &str,
    default_tenants: &[&str],
    granter: Granter<'_>,
) -> Result<Vec<Role>, DigitError> {
    let user_tenant = default_tenants.first().copied().unwrap_or_default();
    let state = kosh_platform::tenant::state_of(user_tenant);
    let may_grant = |code: &str, tenant: &str| match granter {
        Granter::Caller(caller) => tenancy::may_grant(caller, user_type, code, tenant),
        Granter::Kosh => true,
    };
    let mut out: Vec<Role> = Vec::new();
    for role in roles {
        let code = role.code.as_deref().unwrap_or_default().trim();
        if code.is_empty() {
            return Err(user_error(
                "InvalidUserCreateException",
                "every role needs a code",
            ));
        }
        let Some(name) = users::role_name(mdms, state, code) else {
            return Err(
                DigitError::new("INVALID_ROLE", "Unable to validate role from MDMS")
                    .with_status(StatusCode::BAD_REQUEST),
            );
        };
        let tenant = match role.tenant_id.as_deref().map(str::trim) {
            Some(given) if !given.is_empty() => {
                if !may_grant(code, given) {
                    return Err(tenancy::role_tenant_refused(code, given));
                }
                given.to_string()
            }
            _ => default_tenants
                .iter()
                .map(|t| t.trim())
                .find(|t| !t.is_empty() && may_grant(code, t))
                .ok_or_else(|| tenancy::role_tenant_refused(code, user_tenant))?
                .to_string(),
        };
        let role = Role {
            id: None,
            name: Some(name),
            code: code.to_string(),
            tenant_id: Some(tenant),
        };
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

pub(crate) fn check_allowed_ips(user_type: &str, allowed: &[String]) -> Result<(), DigitError> {
    if let Err(fault) = ip::parse_list(allowed) {
        return Err(DigitError::new("INVALID_ALLOWED_IPS", fault));
    }
    if user_type == "SYSTEM" && allowed.iter().all(|s| s.trim().is_empty()) {
        return Err(DigitError::new(
            "INVALID_ALLOWED_IPS",
            "A SYSTEM user needs allowedIps: the addresses or CIDR ranges it may call from",
        ));
    }
    Ok(())
}

pub(crate) fn require_superuser(requester: &AuthUser) -> Result<(), DigitError> {
    if requester.has_role("SUPERUSER") {
        Ok(())
    } else {
        Err(DigitError::forbidden())
    }
}

/// The user a create request describes, checked: its profile, its roles (within the
/// granter's reach), its allowed addresses and its password policy.
pub(crate) async fn new_user(
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    granter: Granter<'_>,
    object: &Map<String, Value>,
) -> Result<User, DigitError> {
    let mut fields: UserFields = bind(Value::Object(object.clone()))?;
    let mut bean_errors = Vec::new();
    check_common(&fields, &mut bean_errors, "createUserRequest");
    check_lengths(object, &mut bean_errors, "createUserRequest");
    if !bean_errors.is_empty() {
        return Err(DigitError::many(bean_errors));
    }
    gender_enum(&mut fields)?;
    let mut missing = Vec::new();
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let user_name = text(&fields.user_name);
    let name = text(&fields.name);
    let tenant_id = text(&fields.tenant_id);
    let user_type = text(&fields.user_type).map(|t| t.to_ascii_uppercase());
    for (field, present) in [
        ("userName", user_name.is_some()),
        ("name", name.is_some()),
        ("tenantId", tenant_id.is_some()),
        ("type", user_type.is_some()),
        ("active", fields.active.is_some()),
        (
            "roles",
            fields.roles.as_ref().is_some_and(|r| !r.is_empty()),
        ),
    ] {
        if !present {
            missing.push(field);
        }
    }
    if !missing.is_empty() {
        return Err(user_error(
            "InvalidUserCreateException",
            format!("mandatory fields missing: {}", missing.join(", ")),
        ));
    }
    let (user_name, name, mut tenant_id, user_type) = (
        user_name.unwrap_or_default(),
        name,
        tenant_id.unwrap_or_default(),
        user_type.unwrap_or_default(),
    );
    let requested_tenant = tenant_id.clone();
    if !["CITIZEN", "EMPLOYEE", "SYSTEM", "BUSINESS"].contains(&user_type.as_str()) {
        return Err(user_error(
            "InvalidUserCreateException",
            format!("type \"{user_type}\" is not CITIZEN, EMPLOYEE, SYSTEM or BUSINESS"),
        ));
    }
    if !mdms.is_known_tenant(&tenant_id) {
        return Err(user_error(
            "InvalidUserCreateException",
            format!("tenantId \"{tenant_id}\" is not a known tenant"),
        ));
    }
    if user_type == "CITIZEN" {
        if text(&fields.mobile_number).is_none() {
            return Err(user_error(
                "InvalidUserCreateException",
                "mobileNumber is mandatory for a citizen",
            ));
        }
        tenant_id = kosh_platform::tenant::state_of(&tenant_id).to_string();
    }
    // A role without a tenant: the user's tenant, else (a citizen made by a city account)
    // the tenant the request names, which the gateway has checked.
    let roles = resolve_roles(
        mdms,
        fields.roles.as_deref().unwrap_or_default(),
        &user_type,
        &[&tenant_id, &requested_tenant],
        granter,
    )?;
    let allowed_ips: Vec<String> = fields
        .allowed_ips
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    check_allowed_ips(&user_type, &allowed_ips)?;
    let password_hash = match fields.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            password::check_policy(p)?;
            Some(password::hash(p).await.map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                DigitError::internal("password-hash")
            })?)
        }
        None => None,
    };
    let mut errors = ErrorMap::new();
    let mut profile = profile_from(object);
    if let Some(gender) = &fields.gender {
        profile.insert("gender".into(), Value::String(gender.clone()));
    }
    normalize_dob(&mut profile, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into_result().unwrap_err());
    }
    let now = clock.now_ms();
    let user = User {
        id: 0,
        uuid: uuid::Uuid::new_v4().to_string(),
        tenant_id,
        user_name,
        user_type,
        name,
        mobile_number: text(&fields.mobile_number),
        email_id: text(&fields.email_id),
        locale: text(&fields.locale),
        active: fields.active.unwrap_or(false),
        password_hash,
        account_locked: fields.account_locked.unwrap_or(false),
        account_locked_ms: None,
        allowed_ips,
        profile,
        created_by: Some(requester.id.to_string()),
        created_ms: now,
        last_modified_by: Some(requester.id.to_string()),
        last_modified_ms: now,
        pwd_expiry_ms: None,
        roles,
    };
    if let Granter::Caller(caller) = granter
        && !tenancy::within_reach(caller, &user)
    {
        return Err(tenancy::user_out_of_reach());
    }
    Ok(user)
}

/// The fields of an update request, with the same profile checks as a create.
pub(crate) fn update_fields(object: &Map<String, Value>) -> Result<UserFields, DigitError> {
    let mut fields: UserFields = bind(Value::Object(object.clone()))?;
    let mut bean_errors = Vec::new();
    check_common(&fields, &mut bean_errors, "createUserRequest");
    check_lengths(object, &mut bean_errors, "createUserRequest");
    if !bean_errors.is_empty() {
        return Err(DigitError::many(bean_errors));
    }
    gender_enum(&mut fields)?;
    Ok(fields)
}

/// The fields given replace the stored ones; `roles`, when given, replace all roles (each
/// within the caller's reach).
pub(crate) fn apply_update(
    mdms: &Mdms,
    caller: &AuthUser,
    user: &mut User,
    fields: &UserFields,
    object: &Map<String, Value>,
) -> Result<(), DigitError> {
    if let Some(name) = fields.name.clone() {
        user.name = Some(name);
    }
    if let Some(mobile) = fields.mobile_number.clone() {
        user.mobile_number = Some(mobile).filter(|m| !m.is_empty());
    }
    if let Some(email) = fields.email_id.clone() {
        user.email_id = Some(email).filter(|e| !e.is_empty());
    }
    if let Some(locale) = fields.locale.clone() {
        user.locale = Some(locale);
    }
    if let Some(active) = fields.active {
        user.active = active;
    }
    if let Some(locked) = fields.account_locked {
        user.account_locked = locked;
        if !locked {
            user.account_locked_ms = None;
        }
    }
    if let Some(roles) = &fields.roles {
        if roles.is_empty() {
            return Err(user_error(
                "InvalidUserUpdateException",
                "a user needs at least one role",
            ));
        }
        user.roles = resolve_roles(
            mdms,
            roles,
            &user.user_type,
            &[&user.tenant_id],
            Granter::Caller(caller),
        )?;
    }
    if let Some(allowed) = &fields.allowed_ips {
        user.allowed_ips = allowed
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    check_allowed_ips(&user.user_type, &user.allowed_ips)?;
    let mut errors = ErrorMap::new();
    for (key, value) in profile_from(object) {
        user.profile.insert(key, value);
    }
    if let Some(gender) = &fields.gender {
        user.profile
            .insert("gender".into(), Value::String(gender.clone()));
    }
    normalize_dob(&mut user.profile, &mut errors);
    errors.into_result()
}
