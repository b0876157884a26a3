//! Biller master data: MDMS `BBPS.Billers` at the state, one record per business service
//! offered through BBPS, read and checked once at start-up.
//!
//! ```json
//! {"billerId": "PBMT00000PUN01", "billerName": "Punjab Municipal Property Tax",
//!  "businessService": "PT", "category": "Municipal Taxes", "active": true,
//!  "complaintTatDays": 5, "tenantId": "pb.amritsar",
//!  "customerParams": [
//!    {"name": "City", "field": "tenantId", "dataType": "ALPHANUMERIC", "optional": false},
//!    {"name": "Property ID", "field": "consumerCode", "dataType": "ALPHANUMERIC",
//!     "optional": true, "minLength": 1, "maxLength": 64, "regex": "^[A-Za-z0-9/_.-]+$"},
//!    {"name": "Registered Mobile Number", "field": "mobileNumber", "dataType": "NUMERIC",
//!     "optional": true, "minLength": 10, "maxLength": 10}]}
//! ```
//!
//! - `billerId`: the biller id NBBL registered (14 letters or digits), unique in the state.
//! - `category`: the BBPS biller category (NBBL's published categories; a municipal biller
//!   is one of [`CATEGORIES`]: property tax under "Municipal Taxes", water under "Water",
//!   trade licences and other fees under "Municipal Services").
//! - `customerParams`: BBPS's ParamConfig, in the order the payer is asked. `name` is the
//!   label the operating unit sends as the tag name; `field` says what kosh does with the
//!   value: `tenantId` (the city: its tenant code, `pb.amritsar`, or its name, `Amritsar`),
//!   `consumerCode` (the property id, connection or licence number) or `mobileNumber` (the
//!   payer's mobile, which finds every bill of the service under that number). A biller
//!   has one `consumerCode` parameter, at most one of the others, and a city either from a
//!   `tenantId` parameter or fixed by its own `tenantId` (one biller per city). A request
//!   gives the consumer code or the mobile number (both optional in BBPS's sense, one
//!   required) — BBPS's "customer parameter groups".
//! - `complaintTatDays`: the turnaround a complaint about this biller gets (default 5).
//!
//! The business service's part-payment and advance flags decide the amount exactness
//! ([`Exactness`]); they are read from the bill (which copies them from
//! `BillingService.BusinessService`), not repeated here. A biller whose business service
//! refuses ONLINE payments (`collectionModesNotAllowed`) is a configuration error, since
//! every BBPS payment is posted as ONLINE.

use std::collections::{BTreeMap, HashSet};

use kosh_mdms::Mdms;
use kosh_platform::money::Paise;
use regex::Regex;
use serde_json::Value;

pub const MODULE: &str = "BBPS";
pub const MASTER: &str = "Billers";

/// The biller categories NBBL publishes that a municipal body's services fall in, and the
/// common others (as bharatbillpay.com lists them); the `category` of a biller must be one of
/// them.
pub const CATEGORIES: &[&str] = &[
    "Municipal Taxes",
    "Municipal Services",
    "Water",
    "Electricity",
    "Gas",
    "Housing Society",
    "Education Fees",
    "Donation",
    "Subscription",
];

/// Turnaround time of a complaint when the biller names none.
pub const DEFAULT_COMPLAINT_TAT_DAYS: i64 = 5;

/// What a customer parameter's value is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    TenantId,
    ConsumerCode,
    MobileNumber,
}

impl Field {
    fn parse(text: &str) -> Option<Field> {
        match text {
            "tenantId" => Some(Field::TenantId),
            "consumerCode" => Some(Field::ConsumerCode),
            "mobileNumber" => Some(Field::MobileNumber),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Field::TenantId => "tenantId",
            Field::ConsumerCode => "consumerCode",
            Field::MobileNumber => "mobileNumber",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Numeric,
    Alphanumeric,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Numeric => "NUMERIC",
            DataType::Alphanumeric => "ALPHANUMERIC",
        }
    }
}

/// One customer parameter (BBPS ParamConfig).
#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub field: Field,
    pub data_type: DataType,
    pub optional: bool,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub regex: Option<Regex>,
}

impl ParamDef {
    /// Why `value` is not acceptable for this parameter, if it is not.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let len = value.chars().count();
        if value.trim().is_empty() {
            return Err(format!("{} is empty", self.name));
        }
        if self.data_type == DataType::Numeric && !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{} must be digits only", self.name));
        }
        if self.min_length.is_some_and(|m| len < m) || self.max_length.is_some_and(|m| len > m) {
            return Err(format!(
                "{} must be {} to {} characters",
                self.name,
                self.min_length.unwrap_or(1),
                self.max_length
                    .map(|m| m.to_string())
                    .unwrap_or("any".into())
            ));
        }
        if let Some(re) = &self.regex
            && !re.is_match(value)
        {
            return Err(format!("{} does not match {}", self.name, re.as_str()));
        }
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "field": self.field.as_str(),
            "dataType": self.data_type.as_str(),
            "optional": self.optional,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "regex": self.regex.as_ref().map(Regex::as_str),
        })
    }
}

/// One BBPS biller: a business service of a state (or of one city).
#[derive(Debug, Clone)]
pub struct Biller {
    pub biller_id: String,
    pub name: String,
    pub business_service: String,
    pub category: String,
    /// Set when the biller serves one city only.
    pub tenant_id: Option<String>,
    pub active: bool,
    pub complaint_tat_days: i64,
    pub params: Vec<ParamDef>,
}

impl Biller {
    pub fn param(&self, field: Field) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.field == field)
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "billerId": self.biller_id,
            "billerName": self.name,
            "businessService": self.business_service,
            "category": self.category,
            "tenantId": self.tenant_id,
            "active": self.active,
            "complaintTatDays": self.complaint_tat_days,
            "amountMultiple": 100,
            "customerParams": self.params.iter().map(ParamDef::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Every state's billers.
#[derive(Debug, Default)]
pub struct Billers {
    by_state: BTreeMap<String, Vec<Biller>>,
}

/// The BBPS amount exactness of a bill (BBPS's rules on the amount paid against the bill's:
/// EXACT, EXACT UP, EXACT DOWN, ADHOC/ANY), from its business service's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exactness {
    /// Neither part payment nor advance: the bill amount exactly.
    Exact,
    /// Advance but no part payment: at least the bill amount.
    ExactUp,
    /// Part payment but no advance: at most the bill amount, at least its minimum.
    ExactDown,
    /// Both: any amount from the minimum up.
    Any,
}

impl Exactness {
    pub fn of(part_payment_allowed: bool, advance_allowed: bool) -> Exactness {
        match (part_payment_allowed, advance_allowed) {
            (false, false) => Exactness::Exact,
            (false, true) => Exactness::ExactUp,
            (true, false) => Exactness::ExactDown,
            (true, true) => Exactness::Any,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Exactness::Exact => "EXACT",
            Exactness::ExactUp => "EXACT_UP",
            Exactness::ExactDown => "EXACT_DOWN",
            Exactness::Any => "ANY",
        }
    }

    /// The smallest amount accepted for a bill of `due` with minimum `minimum`.
    pub fn min_amount(self, due: Paise, minimum: Paise) -> Paise {
        let one = Paise::new(1);
        match self {
            Exactness::Exact | Exactness::ExactUp => due,
            // Paying the whole bill is always allowed, even below a larger minimum.
            Exactness::ExactDown | Exactness::Any => minimum.clamp(one, due.max(one)),
        }
    }

    /// The largest amount accepted, if there is one.
    pub fn max_amount(self, due: Paise) -> Option<Paise> {
        match self {
            Exactness::Exact | Exactness::ExactDown => Some(due),
            Exactness::ExactUp | Exactness::Any => None,
        }
    }

    /// Why `amount` cannot pay a bill of `due` with minimum `minimum`, if it cannot.
    /// Amounts are whole rupees, as collection takes them.
    pub fn check(self, amount: Paise, due: Paise, minimum: Paise) -> Result<(), String> {
        if amount.whole_rupees().is_none() {
            return Err(format!(
                "{} paise is not a whole number of rupees; this biller takes multiples of 100 paise",
                amount.get()
            ));
        }
        if amount <= Paise::ZERO {
            return Err("the amount must be positive".into());
        }
        let min = self.min_amount(due, minimum);
        if amount < min {
            return Err(format!(
                "{} paise is less than the {} paise this bill accepts ({})",
                amount.get(),
                min.get(),
                self.as_str()
            ));
        }
        if let Some(max) = self.max_amount(due)
            && amount > max
        {
            return Err(format!(
                "{} paise is more than the {} paise this bill accepts ({})",
                amount.get(),
                max.get(),
                self.as_str()
            ));
        }
        Ok(())
    }
}

fn text(record: &Value, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn flag(record: &Value, key: &str, default: bool) -> Result<bool, String> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(format!("\"{key}\" must be true or false, not {other}")),
    }
}

fn count(record: &Value, key: &str) -> Result<Option<i64>, String> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" must be a non-negative whole number, not {v}")),
    }
}

fn param(record: &Value) -> Result<ParamDef, String> {
    let name = text(record, "name").ok_or("a customer parameter has no \"name\"")?;
    let field_text =
        text(record, "field").ok_or_else(|| format!("parameter {name:?} has no \"field\""))?;
    let field = Field::parse(&field_text).ok_or_else(|| {
        format!(
            "parameter {name:?}: field {field_text:?} is not tenantId, consumerCode or mobileNumber"
        )
    })?;
    let data_type = match text(record, "dataType").as_deref() {
        None | Some("ALPHANUMERIC") => DataType::Alphanumeric,
        Some("NUMERIC") => DataType::Numeric,
        Some(other) => {
            return Err(format!(
                "parameter {name:?}: dataType {other:?} is not NUMERIC or ALPHANUMERIC"
            ));
        }
    };
    let regex = match text(record, "regex") {
        Some(pattern) => Some(
            Regex::new(&pattern)
                .map_err(|e| format!("parameter {name:?}: regex {pattern:?} is invalid: {e}"))?,
        ),
        None => None,
    };
    let min_length = count(record, "minLength")
        .map_err(|e| format!("parameter {name:?}: {e}"))?
        .map(|n| n as usize);
    let max_length = count(record, "maxLength")
        .map_err(|e| format!("parameter {name:?}: {e}"))?
        .map(|n| n as usize);
    if let (Some(min), Some(max)) = (min_length, max_length)
        && min > max
    {
        return Err(format!(
            "parameter {name:?}: minLength {min} is above maxLength {max}"
        ));
    }
    Ok(ParamDef {
        optional: flag(record, "optional", false)
            .map_err(|e| format!("parameter {name:?}: {e}"))?,
        name,
        field,
        data_type,
        min_length,
        max_length,
        regex,
    })
}

fn biller(mdms: &Mdms, state: &str, record: &Value) -> Result<Biller, String> {
    let biller_id = text(record, "billerId").ok_or("a biller has no \"billerId\"")?;
    let fail = |fault: String| format!("biller {biller_id}: {fault}");
    if biller_id.len() > 35 || !biller_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(fail("billerId must be 1-35 letters or digits".into()));
    }
    let business_service =
        text(record, "businessService").ok_or_else(|| fail("no \"businessService\"".into()))?;
    let category = text(record, "category").ok_or_else(|| fail("no \"category\"".into()))?;
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(fail(format!(
            "category {category:?} is not a BBPS category kosh knows ({})",
            CATEGORIES.join(", ")
        )));
    }
    let tenant_id = text(record, "tenantId");
    if let Some(t) = &tenant_id
        && (!mdms.is_known_tenant(t) || kosh_platform::tenant::state_of(t) != state)
    {
        return Err(fail(format!("tenantId {t:?} is not a city of {state}")));
    }
    let service_at = tenant_id.as_deref().unwrap_or(state);
    let Some(service) = mdms
        .master(service_at, "BillingService", "BusinessService")
        .unwrap_or_default()
        .iter()
        .find(|r| r.get("code").and_then(Value::as_str) == Some(business_service.as_str()))
    else {
        return Err(fail(format!(
            "business service {business_service:?} is not in BillingService.BusinessService"
        )));
    };
    let online_refused = service
        .get("collectionModesNotAllowed")
        .and_then(Value::as_array)
        .is_some_and(|modes| {
            modes
                .iter()
                .any(|m| m.as_str().is_some_and(|m| m.eq_ignore_ascii_case("ONLINE")))
        });
    if online_refused {
        return Err(fail(format!(
            "business service {business_service} refuses ONLINE payments, which is how BBPS payments are posted"
        )));
    }
    let params: Vec<ParamDef> = match record.get("customerParams") {
        Some(Value::Array(list)) => list.iter().map(param).collect::<Result<_, _>>(),
        _ => Err("\"customerParams\" must be a list".into()),
    }
    .map_err(fail)?;
    let mut names = HashSet::new();
    for p in &params {
        if !names.insert(p.name.as_str()) {
            return Err(fail(format!("customer parameter {:?} twice", p.name)));
        }
    }
    let of = |field: Field| params.iter().filter(|p| p.field == field).count();
    if of(Field::ConsumerCode) != 1 {
        return Err(fail("needs exactly one consumerCode parameter".into()));
    }
    if of(Field::MobileNumber) > 1 || of(Field::TenantId) > 1 {
        return Err(fail(
            "has more than one tenantId or mobileNumber parameter".into(),
        ));
    }
    match (of(Field::TenantId), &tenant_id) {
        (0, None) => {
            return Err(fail(
                "needs a tenantId parameter (the city) or a fixed tenantId".into(),
            ));
        }
        (1, Some(_)) => {
            return Err(fail(
                "has a fixed tenantId and a tenantId parameter; keep one".into(),
            ));
        }
        _ => {}
    }
    let tat = count(record, "complaintTatDays")
        .map_err(fail)?
        .unwrap_or(DEFAULT_COMPLAINT_TAT_DAYS);
    if tat == 0 {
        return Err(fail("complaintTatDays must be at least 1".into()));
    }
    Ok(Biller {
        name: text(record, "billerName").unwrap_or_else(|| biller_id.clone()),
        active: flag(record, "active", true).map_err(fail)?,
        biller_id,
        business_service,
        category,
        tenant_id,
        complaint_tat_days: tat,
        params,
    })
}

impl Billers {
    /// Reads and checks `BBPS.Billers` of every state; the first fault found stops
    /// start-up, naming the state, the biller and the fault.
    pub fn load(mdms: &Mdms) -> Result<Billers, String> {
        let mut by_state = BTreeMap::new();
        for state in mdms.states() {
            let records = mdms.master(state, MODULE, MASTER).unwrap_or_default();
            let mut billers: Vec<Biller> = Vec::new();
            for (index, record) in records.iter().enumerate() {
                let b = biller(mdms, state, record).map_err(|fault| {
                    format!(
                        "invalid master data {MODULE}.{MASTER} of {state}, record {index}: {fault}"
                    )
                })?;
                if billers.iter().any(|o| o.biller_id == b.biller_id) {
                    return Err(format!(
                        "invalid master data {MODULE}.{MASTER} of {state}: billerId {} twice",
                        b.biller_id
                    ));
                }
                billers.push(b);
            }
            by_state.insert(state.to_string(), billers);
        }
        Ok(Billers { by_state })
    }

    /// The billers of `state`.
    pub fn of_state(&self, state: &str) -> &[Biller] {
        self.by_state.get(state).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The biller `biller_id` of `state`.
    pub fn find(&self, state: &str, biller_id: &str) -> Option<&Biller> {
        self.of_state(state)
            .iter()
            .find(|b| b.biller_id == biller_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactness_follows_the_flags() {
        assert_eq!(Exactness::of(false, false), Exactness::Exact);
        assert_eq!(Exactness::of(false, true), Exactness::ExactUp);
        assert_eq!(Exactness::of(true, false), Exactness::ExactDown);
        assert_eq!(Exactness::of(true, true), Exactness::Any);
        let p = Paise::new;
        let due = 1000_00;
        assert!(Exactness::Exact.check(p(due), p(due), p(0)).is_ok());
        assert!(Exactness::Exact.check(p(due - 100), p(due), p(0)).is_err());
        assert!(Exactness::Exact.check(p(due + 100), p(due), p(0)).is_err());
        assert!(Exactness::ExactUp.check(p(due + 100), p(due), p(0)).is_ok());
        assert!(
            Exactness::ExactUp
                .check(p(due - 100), p(due), p(0))
                .is_err()
        );
        assert!(
            Exactness::ExactDown
                .check(p(100_00), p(due), p(100_00))
                .is_ok()
        );
        assert!(
            Exactness::ExactDown
                .check(p(99_00), p(due), p(100_00))
                .is_err()
        );
        assert!(
            Exactness::ExactDown
                .check(p(due + 100), p(due), p(100_00))
                .is_err()
        );
        // the whole bill is always payable, even below a larger minimum
        assert!(
            Exactness::ExactDown
                .check(p(50_00), p(50_00), p(100_00))
                .is_ok()
        );
        assert!(Exactness::Any.check(p(5000_00), p(due), p(100_00)).is_ok());
        assert!(Exactness::Any.check(p(50_00), p(due), p(100_00)).is_err());
        // whole rupees only, and something must be paid
        assert!(Exactness::Any.check(p(100_50), p(due), p(0)).is_err());
        assert!(Exactness::Any.check(p(0), p(due), p(0)).is_err());
    }

    #[test]
    fn the_demo_billers_load() {
        let mdms = Mdms::from_files(&kosh_mdms::embedded_demo_files()).unwrap();
        let billers = Billers::load(&mdms).unwrap();
        let pt = billers.find("pb", "PBMT00000PUN01").unwrap();
        assert_eq!(pt.business_service, "PT");
        assert_eq!(pt.category, "Municipal Taxes");
        assert!(pt.param(Field::ConsumerCode).is_some());
        assert!(billers.find("pb", "NOPE").is_none());
    }

    #[test]
    fn faults_are_named() {
        let base = |biller: &str| {
            let files = vec![
                (
                    "pb/tenant/tenants.json".to_string(),
                    br#"{"tenantId":"pb","moduleName":"tenant","tenants":[{"code":"pb"},{"code":"pb.amritsar"}]}"#.to_vec(),
                ),
                (
                    "pb/BillingService/BusinessService.json".to_string(),
                    br#"{"tenantId":"pb","moduleName":"BillingService","BusinessService":[{"code":"PT"},{"code":"X","collectionModesNotAllowed":["ONLINE"]}]}"#.to_vec(),
                ),
                (
                    "pb/BBPS/Billers.json".to_string(),
                    format!(r#"{{"tenantId":"pb","moduleName":"BBPS","Billers":[{biller}]}}"#)
                        .into_bytes(),
                ),
            ];
            Billers::load(&Mdms::from_files(&files).unwrap())
        };
        let params =
            r#"[{"name":"City","field":"tenantId"},{"name":"Property ID","field":"consumerCode"}]"#;
        assert!(
            base(&format!(
                r#"{{"billerId":"B1","businessService":"PT","category":"Municipal Taxes","customerParams":{params}}}"#
            ))
            .is_ok()
        );
        for (biller, fault) in [
            (
                format!(
                    r#"{{"billerId":"B1","businessService":"PT","category":"Roads","customerParams":{params}}}"#
                ),
                "category",
            ),
            (
                format!(
                    r#"{{"billerId":"B1","businessService":"ZZ","category":"Water","customerParams":{params}}}"#
                ),
                "business service",
            ),
            (
                format!(
                    r#"{{"billerId":"B1","businessService":"X","category":"Water","customerParams":{params}}}"#
                ),
                "ONLINE",
            ),
            (
                r#"{"billerId":"B1","businessService":"PT","category":"Water","customerParams":[{"name":"P","field":"consumerCode"}]}"#.into(),
                "tenantId parameter",
            ),
            (
                r#"{"billerId":"B1","businessService":"PT","category":"Water","customerParams":[{"name":"C","field":"tenantId"},{"name":"P","field":"consumerCode","regex":"("}]}"#.into(),
                "regex",
            ),
        ] {
            let err = base(&biller).unwrap_err();
            assert!(err.contains(fault), "{err} should mention {fault}");
            assert!(err.contains("BBPS.Billers of pb"), "{err}");
        }
    }
}
