//! Masking personal data in answers.
//!
//! Who sees which attribute plain is master data, DIGIT's `DataSecurity.SecurityPolicy`
//! (data/mdms/pb/DataSecurity/SecurityPolicy.json): per model (`User` for user records,
//! `Payer` for the payer of bills, payments, refunds due, payment-gateway transactions and
//! BBPS postings) each attribute has a `defaultVisibility` (PLAIN or MASKED) and
//! `roleBasedDecryptionPolicy` lists the roles that see it PLAIN. A caller holding any such
//! role sees it plain; everyone else sees it masked (`******3210`). A user always sees their
//! own record plain (the handlers decide "own").
//!
//! The policies are read once per master-data load ([`install_policies`]) and resolved once
//! per request into a [`Masking`], which the handlers apply to the records they answer with.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::Value;

/// A kind of personal attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attr {
    Mobile,
    Email,
    Name,
    Address,
    Pan,
    Aadhaar,
}

impl Attr {
    const ALL: [Attr; 6] = [
        Attr::Mobile,
        Attr::Email,
        Attr::Name,
        Attr::Address,
        Attr::Pan,
        Attr::Aadhaar,
    ];

    /// The attribute's name in the SecurityPolicy master.
    pub fn policy_name(self) -> &'static str {
        match self {
            Attr::Mobile => "mobileNumber",
            Attr::Email => "emailId",
            Attr::Name => "name",
            Attr::Address => "address",
            Attr::Pan => "pan",
            Attr::Aadhaar => "aadhaarNumber",
        }
    }

    fn from_policy_name(name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|a| a.policy_name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The record kinds of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// A user record (user search).
    User,
    /// The payer of a bill, payment, refund due, gateway transaction or BBPS posting.
    Payer,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::User => "User",
            Model::Payer => "Payer",
        }
    }
}

/// One model's policy: the attributes masked by default and, per role, those it sees plain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPolicy {
    masked_by_default: u8,
    plain_for_role: HashMap<String, u8>,
}

/// A state's SecurityPolicy master, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    models: HashMap<String, ModelPolicy>,
}

impl Policy {
    /// Parses the elements of the `SecurityPolicy` master. Unknown attributes are ignored;
    /// a visibility other than PLAIN counts as MASKED.
    pub fn from_master(entries: &[Value]) -> Policy {
        let mut models = HashMap::new();
        for entry in entries {
            let Some(model) = entry.get("model").and_then(Value::as_str) else {
                continue;
            };
            let mut p = ModelPolicy::default();
            for a in entry
                .get("attributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(attr), vis) = (
                    a.get("name")
                        .and_then(Value::as_str)
                        .and_then(Attr::from_policy_name),
                    a.get("defaultVisibility").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if vis != Some("PLAIN") {
                    p.masked_by_default |= attr.bit();
                }
            }
            for rule in entry
                .get("roleBasedDecryptionPolicy")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut plain = 0u8;
                for a in rule
                    .get("attributeAccessList")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let attr = a
                        .get("attribute")
                        .and_then(Value::as_str)
                        .and_then(Attr::from_policy_name);
                    let vis = a.get("firstLevelVisibility").and_then(Value::as_str);
                    if let (Some(attr), Some("PLAIN")) = (attr, vis) {
                        plain |= attr.bit();
                    }
                }
                for role in rule
                    .get("roles")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    *p.plain_for_role.entry(role.to_string()).or_default() |= plain;
                }
            }
            models.insert(model.to_string(), p);
        }
        Policy { models }
    }

    /// The policy shipped with kosh (the pb demo master), for a state without one.
    pub fn shipped() -> Policy {
        static TEXT: &str =
            include_str!("../../../../data/mdms/pb/DataSecurity/SecurityPolicy.json");
        let doc: Value = serde_json::from_str(TEXT).expect("the shipped SecurityPolicy parses");
        Policy::from_master(
            doc.get("SecurityPolicy")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
    }

    /// What a caller with these roles sees of a model.
    pub fn masking<'a>(&self, model: Model, roles: impl IntoIterator<Item = &'a str>) -> Masking {
        let Some(p) = self.models.get(model.name()) else {
            return Masking::PLAIN;
        };
        let mut masked = p.masked_by_default;
        for role in roles {
            if let Some(plain) = p.plain_for_role.get(role) {
                masked &= !plain;
            }
        }
        Masking { masked }
    }
}

static POLICIES: RwLock<Option<HashMap<String, Policy>>> = RwLock::new(None);

/// Puts each state's policy in force (at start-up, from master data).
pub fn install_policies(by_state: HashMap<String, Policy>) {
    *POLICIES.write().unwrap_or_else(|e| e.into_inner()) = Some(by_state);
}

/// What a caller with these roles sees of `model` at `tenant_id` (its state's policy, or the
/// shipped one).
pub fn masking_for<'a>(
    tenant_id: &str,
    model: Model,
    roles: impl IntoIterator<Item = &'a str>,
) -> Masking {
    let state = tenant_id.split('.').next().unwrap_or(tenant_id);
    let guard = POLICIES.read().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = guard.as_ref().and_then(|m| m.get(state)) {
        return p.masking(model, roles);
    }
    drop(guard);
    static SHIPPED: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(Policy::shipped).masking(model, roles)
}

/// The attributes a caller sees masked, resolved once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masking {
    masked: u8,
}

impl Masking {
    /// Everything plain (the record's owner; a role the policy lets see all).
    pub const PLAIN: Masking = Masking { masked: 0 };

    /// Whether nothing is masked.
    pub fn is_plain(self) -> bool {
        self.masked == 0
    }

    /// Whether `attr` is masked.
    pub fn masks(self, attr: Attr) -> bool {
        self.masked & attr.bit() != 0
    }

    /// Masks a value of `attr` in place, when the caller may not see it.
    pub fn apply(self, attr: Attr, value: &mut String) {
        if self.masks(attr) {
            *value = mask(attr, value);
        }
    }

    /// [`apply`](Self::apply) for an optional value.
    pub fn apply_opt(self, attr: Attr, value: &mut Option<String>) {
        if let Some(v) = value {
            self.apply(attr, v);
        }
    }

    /// Masks a JSON string of `attr` in place.
    pub fn apply_json(self, attr: Attr, value: &mut Value) {
        if let Value::String(s) = value {
            self.apply(attr, s);
        }
    }
}

/// A value of `attr`, masked.
pub fn mask(attr: Attr, value: &str) -> String {
    match attr {
        Attr::Mobile | Attr::Pan | Attr::Aadhaar => mask_keep_last(value, 4),
        Attr::Email => mask_email(value),
        Attr::Name | Attr::Address => mask_words(value),
    }
}

/// Every character but the last `keep` becomes `*`: `9876543210` → `******3210`. A value
/// no longer than `keep` is masked whole.
pub fn mask_keep_last(value: &str, keep: usize) -> String {
    let n = value.chars().count();
    if n <= keep {
        return "*".repeat(n);
    }
    let mut out = "*".repeat(n - keep);
    out.extend(value.chars().skip(n - keep));
    out
}

/// The first character of the local part, `****`, and the domain: `a****@example.com`.
pub fn mask_email(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}****@{domain}")
        }
        None => mask_keep_last(value, 0),
    }
}

/// The first character of each word, the rest `*`: `Asha Kumari` → `A*** K*****`.
pub fn mask_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut at_word_start = true;
    for c in value.chars() {
        if c.is_whitespace() || c == ',' {
            out.push(c);
            at_word_start = true;
        } else if at_word_start {
            out.push(c);
            at_word_start = false;
        } else {
            out.push('*');
        }
    }
    out
}

/// The attribute a key of DIGIT's JSON records holds (user, bill, payment, transaction,
/// BBPS posting), when it is personal.
fn attr_of_key(key: &str) -> Option<Attr> {
    Some(match key {
        "mobileNumber" | "altContactNumber" | "alternatemobilenumber" | "customerMobile" => {
            Attr::Mobile
        }
        "emailId" | "payerEmail" => Attr::Email,
        "pan" => Attr::Pan,
        "aadhaarNumber" => Attr::Aadhaar,
        "name" | "payerName" | "paidBy" | "fatherOrHusbandName" | "customerName" => Attr::Name,
        "permanentAddress" | "correspondenceAddress" | "payerAddress" => Attr::Address,
        _ => return None,
    })
}

/// Masks, in a DIGIT JSON record and the records nested in it, every personal value the
/// caller may not see. A user name made of digits is a citizen's mobile number and is masked
/// as one. Roles and client-supplied `additionalDetails` are not personal data and are left.
pub fn mask_json(m: Masking, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "roles" | "additionalDetails" | "auditDetails" => {}
                    "userName" => {
                        if let Value::String(s) = v
                            && super::is_mobile_like(s)
                        {
                            m.apply(Attr::Mobile, s);
                        }
                    }
                    k => match attr_of_key(k) {
                        Some(attr) if v.is_string() => m.apply_json(attr, v),
                        _ => mask_json(m, v),
                    },
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                mask_json(m, v);
            }
        }
        _ => {}
    }
}

/// Whether a record is the caller's own: it names the caller's uuid (as `uuid`, `userId`,
/// `payerId`, or its `user`'s or `payer`'s uuid) or carries the caller's registered mobile number.
pub fn is_own(caller: &crate::AuthUser, record: &Value) -> bool {
    let uuid_is = |v: Option<&Value>| v.and_then(Value::as_str) == Some(caller.uuid.as_str());
    if uuid_is(record.get("uuid"))
        || uuid_is(record.get("userId"))
        || uuid_is(record.get("payerId"))
        || uuid_is(record.get("user").and_then(|u| u.get("uuid")))
        || uuid_is(record.get("payer").and_then(|u| u.get("uuid")))
    {
        return true;
    }
    match (
        &caller.mobile_number,
        record.get("mobileNumber").and_then(Value::as_str),
    ) {
        (Some(mine), Some(theirs)) => !mine.is_empty() && mine == theirs,
        _ => false,
    }
}

/// Masks the records of an answer for `caller`, by the policy of `tenant_id`'s state for
/// `model`: nothing when the caller's roles see every attribute plain (employees, by the
/// shipped policy: no cost on their hot paths), and never the caller's own records.
pub fn mask_records(
    caller: &crate::AuthUser,
    tenant_id: &str,
    model: Model,
    records: &mut [Value],
) {
    let m = masking_for(
        tenant_id,
        model,
        caller.roles.iter().map(|r| r.code.as_str()),
    );
    if m.is_plain() {
        return;
    }
    for record in records {
        if !is_own(caller, record) {
            mask_json(m, record);
        }
    }
}

/// A user name as log lines carry it: a citizen's (their mobile number) masked as a mobile
/// number (`******3210`), any other as it is. Logs never hold a plain mobile number.
pub fn log_name(user_name: &str) -> std::borrow::Cow<'_, str> {
    if super::is_mobile_like(user_name) {
        std::borrow::Cow::Owned(mask_keep_last(user_name, 4))
    } else {
        std::borrow::Cow::Borrowed(user_name)
    }
}
