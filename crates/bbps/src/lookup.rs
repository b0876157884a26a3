//! From customer parameters to bills: the part of fetch, validation and payment that both
//! profiles share. The parameters are checked against the biller's definitions, the city
//! and the consumer code (or mobile number) are read from them, and billing's fetch-bill
//! gives the current bills — inside the caller's transaction, since fetch-bill may make a
//! bill.

use chrono::{DateTime, FixedOffset};
use kosh_billing::bill::Bill;
use kosh_billing::bill::fetch::{self, FetchCriteria};
use kosh_billing::demand::store::{self as demand_store, DemandFilter};
use kosh_mdms::Mdms;
use kosh_platform::money::Paise;
use kosh_platform::{Clock, Db, DigitError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::codes::BillerFault;
use crate::master::{Biller, Exactness, Field};

/// A customer parameter as the operating unit sends it (a `Tag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Param {
    pub name: String,
    pub value: String,
}

/// A BBPS-level refusal: what went wrong and, for people, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub fault: BillerFault,
    pub detail: String,
}

impl Refusal {
    pub fn new(fault: BillerFault, detail: impl Into<String>) -> Refusal {
        Refusal {
            fault,
            detail: detail.into(),
        }
    }
}

/// A failure of a step: refused for a BBPS reason, or a fault of kosh or its database
/// (which the caller passes on, retries or answers as "try again").
#[derive(Debug)]
pub enum Failure {
    Refused(Refusal),
    Digit(DigitError),
}

impl From<DigitError> for Failure {
    fn from(e: DigitError) -> Self {
        Failure::Digit(e)
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

/// What the customer parameters ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub tenant_id: String,
    pub consumer_code: Option<String>,
    pub mobile_number: Option<String>,
}

/// The city a `tenantId` parameter names: a tenant code or a city name of `state`.
fn city(mdms: &Mdms, state: &str, value: &str) -> Option<String> {
    let value = value.trim();
    let tenants = mdms.master(state, "tenant", "tenants").unwrap_or_default();
    tenants.iter().find_map(|t| {
        let code = t.get("code").and_then(Value::as_str)?;
        if code == state || kosh_platform::tenant::state_of(code) != state {
            return None;
        }
        let names = [
            Some(code),
            t.get("name").and_then(Value::as_str),
            t.get("city")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str),
        ];
        names
            .into_iter()
            .flatten()
            .any(|n| n.eq_ignore_ascii_case(value))
            .then(|| code.to_string())
    })
}

/// Checks `params` against the biller's definitions and reads what they ask for.
pub fn resolve(
    mdms: &Mdms,
    state: &str,
    biller: &Biller,
    params: &[Param],
) -> Result<Lookup, Refusal> {
    let invalid = |detail: String| Refusal::new(BillerFault::InvalidParams, detail);
    let mut values: Vec<(&crate::master::ParamDef, &str)> = Vec::new();
    for p in params {
        let Some(def) = biller
            .params
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(p.name.trim()))
        else {
            return Err(invalid(format!(
                "{:?} is not a customer parameter of biller {}",
                p.name, biller.biller_id
            )));
        };
        if values.iter().any(|(d, _)| d.name == def.name) {
            return Err(invalid(format!("{} is given twice", def.name)));
        }
        def.check(p.value.trim()).map_err(invalid)?;
        values.push((def, p.value.trim()));
    }
    for def in biller.params.iter().filter(|d| !d.optional) {
        if !values.iter().any(|(d, _)| d.name == def.name) {
            return Err(invalid(format!("{} is required", def.name)));
        }
    }
    let value_of = |field: Field| {
        values
            .iter()
            .find(|(d, _)| d.field == field)
            .map(|(_, v)| v.to_string())
    };
    let tenant_id = match (&biller.tenant_id, value_of(Field::TenantId)) {
        (Some(fixed), _) => fixed.clone(),
        (None, Some(given)) => city(mdms, state, &given)
            .ok_or_else(|| invalid(format!("{given:?} is not a city of {state}")))?,
        (None, None) => {
            let name = biller
                .param(Field::TenantId)
                .map(|d| d.name.as_str())
                .unwrap_or("the city");
            return Err(invalid(format!("{name} is required")));
        }
    };
    let consumer_code = value_of(Field::ConsumerCode);
    let mobile_number = value_of(Field::MobileNumber);
    if consumer_code.is_none() && mobile_number.is_none() {
        let names: Vec<&str> = [Field::ConsumerCode, Field::MobileNumber]
            .into_iter()
            .filter_map(|f| biller.param(f).map(|d| d.name.as_str()))
            .collect();
        return Err(invalid(format!("give one of {}", names.join(" or "))));
    }
    Ok(Lookup {
        tenant_id,
        // A consumer code identifies the account; a mobile number alongside it is not
        // needed to find it.
        mobile_number: if consumer_code.is_some() {
            None
        } else {
            mobile_number
        },
        consumer_code,
    })
}

/// Fetch-bill's criteria for a lookup at a biller.
pub fn criteria(biller: &Biller, lookup: &Lookup) -> FetchCriteria {
    FetchCriteria {
        tenant_id: lookup.tenant_id.clone(),
        business_service: biller.business_service.clone(),
        consumer_codes: lookup.consumer_code.iter().cloned().collect(),
        demand_id: None,
        mobile_number: lookup.mobile_number.clone(),
        email: None,
        // The unit presented the customer's own parameters to the biller.
        scope: kosh_billing::visibility::Scope::Tenant,
    }
}

/// The bills the lookup finds when each is a valid bill already made, read outside any
/// transaction (fetch-bill's common case: one indexed read); `None` when one must be made,
/// expired or regenerated, or none is due: then [`current_bills`] in a write transaction.
pub async fn existing_bills(
    db: &Db,
    clock: &Clock,
    biller: &Biller,
    lookup: &Lookup,
) -> Result<Option<Vec<Bill>>, DigitError> {
    fetch::reuse_existing(db, clock, &criteria(biller, lookup)).await
}

/// The current bills the lookup finds (made or reused by fetch-bill), or why there are none.
/// `after_miss`: [`existing_bills`] has just answered `None` for this lookup, so each code
/// goes straight to its locks.
pub async fn current_bills(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    biller: &Biller,
    lookup: &Lookup,
    actor: &str,
    after_miss: bool,
) -> Result<Vec<Bill>, Failure> {
    let criteria = criteria(biller, lookup);
    let no_demands = fetch::no_demands();
    let fetched = if after_miss {
        fetch::fetch_after_miss(conn, mdms, clock, &criteria, actor).await
    } else {
        fetch::fetch(conn, mdms, clock, &criteria, actor).await
    };
    match fetched {
        Ok(bills) => Ok(bills),
        Err(e) if e.first_code() == no_demands.first_code() => {
            Err(nothing_due(conn, biller, lookup).await?.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Why a lookup found no bill: the account is known and paid up, or not known at all.
async fn nothing_due(
    conn: &mut AnyConnection,
    biller: &Biller,
    lookup: &Lookup,
) -> Result<Refusal, DigitError> {
    let mut filter = DemandFilter {
        tenant_id: lookup.tenant_id.clone(),
        business_service: Some(biller.business_service.clone()),
        ..DemandFilter::default()
    };
    if let Some(code) = &lookup.consumer_code {
        filter.consumer_codes = Some(vec![code.clone()]);
    } else {
        let payers = kosh_billing::payer::uuids_with_contact(
            conn,
            &lookup.tenant_id,
            lookup.mobile_number.as_deref(),
            None,
        )
        .await?;
        if payers.is_empty() {
            return Ok(unknown(lookup));
        }
        filter.payers = Some(payers);
    }
    let demands = demand_store::search(conn, &filter).await?;
    if demands.is_empty() {
        return Ok(unknown(lookup));
    }
    Ok(Refusal::new(
        BillerFault::AlreadyPaid,
        "nothing is due: the bills of this account are paid",
    ))
}

fn unknown(lookup: &Lookup) -> Refusal {
    let what = match (&lookup.consumer_code, &lookup.mobile_number) {
        (Some(code), _) => format!("consumer code {code}"),
        (None, Some(mobile)) => format!("mobile number {mobile}"),
        _ => "these parameters".into(),
    };
    Refusal::new(
        BillerFault::UnknownCustomer,
        format!("no account with {what} in {}", lookup.tenant_id),
    )
}

/// India Standard Time, BBPS's zone for dates and business days.
pub fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("+05:30 is a valid offset")
}

/// `YYYY-MM-DD` of an epoch-ms time in India.
pub fn ist_date(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&ist())
        .format("%Y-%m-%d")
        .to_string()
}

/// A bill as BBPS presents it: amounts (paise on the wire), its exactness and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Presented {
    pub bill_id: String,
    pub tenant_id: String,
    pub business_service: String,
    pub consumer_code: String,
    pub bill_number: Option<String>,
    pub customer_name: Option<String>,
    pub amount: Paise,
    pub bill_date: i64,
    pub expiry: Option<i64>,
    pub period_from: Option<i64>,
    pub period_to: Option<i64>,
    pub exactness: Exactness,
    pub min_amount: Paise,
    pub max_amount: Option<Paise>,
    /// (tax head, amount), summed over the bill's periods, in the bill's order.
    pub items: Vec<(String, Paise)>,
}

/// The amounts collection will take for `bill`, as BBPS's exactness: part payment when the
/// business service allows it (`partPaymentAllowed`, copied onto the bill); more than the
/// bill only when the service allows advance (`isAdvanceAllowed`) *and* has an
/// `ADVANCE_COLLECTION` tax head in `BillingService.TaxHeadMaster` to hold it — without
/// one, collection refuses every amount above the bill, so the biller must not advertise
/// EXACT_UP or ANY. Fetch, validation and posting all ask this one function, so what is
/// advertised, what validation accepts and what posting takes are the same.
pub fn exactness(mdms: &Mdms, bill: &Bill) -> Exactness {
    let advance = bill.is_advance_allowed
        && kosh_billing::masters::advance_tax_head(mdms, &bill.tenant_id, &bill.business_service)
            .is_some();
    Exactness::of(bill.part_payment_allowed, advance)
}

impl Presented {
    /// The bill as BBPS sees it; refused (the biller cannot present it now) when a tax
    /// head's amounts over the bill's periods cannot be added up. Each is within the
    /// ceiling (bill generation checks them), so that cannot happen with a few of them.
    pub fn of(mdms: &Mdms, bill: &Bill) -> Result<Presented, Refusal> {
        let exactness = exactness(mdms, bill);
        let total = bill.total_amount;
        let mut items: Vec<(String, Paise)> = Vec::new();
        for detail in &bill.details {
            for head in &detail.account_details {
                let paise = head.amount;
                match items
                    .iter_mut()
                    .find(|(code, _)| *code == head.tax_head_code)
                {
                    Some((_, amount)) => {
                        *amount = amount.checked_add(paise).map_err(|e| {
                            Refusal::new(
                                BillerFault::TemporarilyUnavailable,
                                format!(
                                    "bill {}: tax head {}: {e}",
                                    bill.bill_number.as_deref().unwrap_or(&bill.id),
                                    head.tax_head_code
                                ),
                            )
                        })?
                    }
                    None => items.push((head.tax_head_code.clone(), paise)),
                }
            }
        }
        Ok(Presented {
            bill_id: bill.id.clone(),
            tenant_id: bill.tenant_id.clone(),
            business_service: bill.business_service.clone(),
            consumer_code: bill.consumer_code.clone(),
            bill_number: bill.bill_number.clone(),
            customer_name: bill.payer_name.clone(),
            amount: total,
            bill_date: bill.bill_date,
            expiry: bill.details.iter().map(|d| d.expiry_date).min(),
            period_from: bill.details.iter().map(|d| d.from_period).min(),
            period_to: bill.details.iter().map(|d| d.to_period).max(),
            exactness,
            min_amount: exactness.min_amount(total, bill.minimum_amount_to_be_paid),
            max_amount: exactness.max_amount(total),
            items,
        })
    }

    /// BBPS's `billPeriod` word for the bill's span.
    pub fn bill_period(&self) -> &'static str {
        bill_period(self.period_from, self.period_to)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "billerBillId": self.bill_number,
            "billId": self.bill_id,
            "tenantId": self.tenant_id,
            "businessService": self.business_service,
            "consumerCode": self.consumer_code,
            "customerName": self.customer_name,
            "amount": self.amount,
            "billDate": ist_date(self.bill_date),
            "billExpiry": self.expiry.map(ist_date),
            "billPeriod": self.bill_period(),
            "periodFrom": self.period_from.map(ist_date),
            "periodTo": self.period_to.map(ist_date),
            "amountExactness": self.exactness.as_str(),
            "minAmount": self.min_amount,
            "maxAmount": self.max_amount,
            "amountMultiple": 100,
            "items": self.items.iter().map(|(code, amount)| json!({"name": code, "amount": amount})).collect::<Vec<_>>(),
        })
    }
}

/// `MONTHLY`, `QUARTERLY`, `HALFYEARLY`, `YEARLY` when the span is one such period, else
/// `ONETIME`.
pub fn bill_period(from: Option<i64>, to: Option<i64>) -> &'static str {
    let (Some(from), Some(to)) = (from, to) else {
        return "ONETIME";
    };
    let days = (to - from + 1) / 86_400_000;
    match days {
        27..=31 => "MONTHLY",
        89..=92 => "QUARTERLY",
        180..=184 => "HALFYEARLY",
        364..=366 => "YEARLY",
        _ => "ONETIME",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::Billers;

    fn demo() -> (Mdms, Billers) {
        let mdms = Mdms::from_files(&kosh_mdms::embedded_demo_files()).unwrap();
        let billers = Billers::load(&mdms).unwrap();
        (mdms, billers)
    }

    fn p(name: &str, value: &str) -> Param {
        Param {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn params_resolve_to_a_lookup() {
        let (mdms, billers) = demo();
        let pt = billers.find("pb", "PBMT00000PUN01").unwrap();
        let lookup = resolve(
            &mdms,
            "pb",
            pt,
            &[p("City", "Amritsar"), p("property id", "PT-1")],
        )
        .unwrap();
        assert_eq!(lookup.tenant_id, "pb.amritsar");
        assert_eq!(lookup.consumer_code.as_deref(), Some("PT-1"));
        let lookup = resolve(
            &mdms,
            "pb",
            pt,
            &[
                p("City", "pb.amritsar"),
                p("Registered Mobile Number", "9876543210"),
            ],
        )
        .unwrap();
        assert_eq!(lookup.mobile_number.as_deref(), Some("9876543210"));
        for (params, fault) in [
            (vec![p("Property ID", "PT-1")], "City is required"),
            (
                vec![p("City", "Atlantis"), p("Property ID", "PT-1")],
                "not a city",
            ),
            (vec![p("City", "Amritsar")], "give one of"),
            (
                vec![
                    p("City", "Amritsar"),
                    p("Registered Mobile Number", "12345"),
                ],
                "10 to 10",
            ),
            (
                vec![p("City", "Amritsar"), p("Colour", "red")],
                "not a customer parameter",
            ),
            (
                vec![p("City", "Amritsar"), p("Property ID", "PT 1")],
                "does not match",
            ),
        ] {
            let err = resolve(&mdms, "pb", pt, &params).unwrap_err();
            assert_eq!(err.fault, BillerFault::InvalidParams);
            assert!(err.detail.contains(fault), "{} / {fault}", err.detail);
        }
    }

    #[test]
    fn periods_and_dates() {
        assert_eq!(
            bill_period(Some(1_554_076_800_000), Some(1_585_679_399_000)),
            "YEARLY"
        );
        assert_eq!(bill_period(Some(0), Some(30 * 86_400_000 - 1)), "MONTHLY");
        assert_eq!(bill_period(None, None), "ONETIME");
        // 2019-06-15 10:00 IST
        assert_eq!(ist_date(1_560_573_000_000), "2019-06-15");
        // 2019-06-14 19:00 UTC is already the 15th in India
        assert_eq!(ist_date(1_560_538_800_000), "2019-06-15");
    }
}
