//! DIGIT's demand validation (DemandValidatorV1): business service, tax heads and tax period
//! from MDMS, the payer, the amounts, duplicates on create and ids on update. Failures are
//! collected and answered together, keyed by code (the last message of a code wins).
//!
//! Then kosh's own rules, stricter than DIGIT's, on the demands a request would write
//! ([`written`]): a negative taxAmount only on a head whose master data makes it a credit
//! (`masters::HeadSign`), no tax lowered below what has been collected on it, totals within
//! the ceiling, and books that balance (`Demand::check_books`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kosh_identity::users::User;
use kosh_mdms::Mdms;
use kosh_platform::DigitError;
use kosh_platform::error::ErrorMap;
use kosh_platform::money::Paise;
use sqlx::AnyConnection;

use super::input::DemandDraft;
use super::{Demand, OVERCOLLECTED, store, within_sign_bounds};
use crate::masters::{self, HeadSign, invalid_tenant};
use crate::payer;
use crate::wire::{java_set, plain};

/// A negative taxAmount on a head that is not a credit.
pub const NEGATIVE_TAX: &str = "EG_BS_NEGATIVE_TAX_NOT_ALLOWED";
/// An update that would leave a head's tax below what has been collected on it.
pub const TAX_BELOW_COLLECTED: &str = "EG_BS_TAX_BELOW_COLLECTED";
/// DIGIT-exact amounts out of range (also `wire::paise`'s code).
pub const INVALID_AMOUNT: &str = "EG_BS_INVALID_AMOUNT";

/// Payer users by uuid, found while validating, for the answer.
pub type Payers = HashMap<String, User>;

/// Validates demands to be created; the payers found.
pub async fn for_create(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    drafts: &[DemandDraft],
) -> Result<Payers, DigitError> {
    check_tenants(mdms, drafts)?;
    let mut errors = ErrorMap::new();
    let mut sets = MasterFailures::default();
    for draft in drafts {
        check_masters(mdms, draft, &mut errors, &mut sets);
    }
    let payers = check_payers(conn, drafts, &mut errors).await?;
    let amounts: Vec<(Paise, Paise)> = drafts
        .iter()
        .flat_map(|d| {
            d.details
                .iter()
                .map(|x| (x.tax_amount, x.collection_amount))
        })
        .collect();
    check_amounts(&amounts, &mut errors);
    check_duplicates(conn, drafts, &mut errors).await?;
    sets.put(&mut errors);
    errors.into_result()?;
    Ok(payers)
}

/// The checks of [`for_create`] for one demand of a bulk import, except duplicates, which
/// the importer finds for a whole batch at once. `good_payers` remembers payers already
/// found to be citizens, so a file with one payer on many demands looks it up once.
pub async fn for_import(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    draft: &DemandDraft,
    good_payers: &mut BTreeSet<String>,
) -> Result<(), DigitError> {
    let one = std::slice::from_ref(draft);
    check_tenants(mdms, one)?;
    let mut errors = ErrorMap::new();
    let mut sets = MasterFailures::default();
    check_masters(mdms, draft, &mut errors, &mut sets);
    if let Some(payer) = &draft.payer
        && !good_payers.contains(payer)
    {
        let found = check_payers(conn, one, &mut errors).await?;
        good_payers.extend(found.into_keys());
    }
    let amounts: Vec<(Paise, Paise)> = draft
        .details
        .iter()
        .map(|x| (x.tax_amount, x.collection_amount))
        .collect();
    check_amounts(&amounts, &mut errors);
    sets.put(&mut errors);
    errors.into_result()?;
    let demand = super::api::new_demand(draft, "", 0);
    written(mdms, [(&demand, None)])
}

/// Validates an update of stored demands (`stored` by id); the payers found.
pub async fn for_update(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    drafts: &[DemandDraft],
    stored: &HashMap<String, Demand>,
) -> Result<Payers, DigitError> {
    if drafts.iter().any(|d| d.id.is_none()) {
        return Err(DigitError::new(
            "EG_BS_DEMANDS_UNDIDENTIFIABLE",
            "Demands, must contain ids in the update payload",
        ));
    }
    let mut errors = ErrorMap::new();
    let mut missing_demands = Vec::new();
    let mut missing_details = Vec::new();
    for draft in drafts {
        let id = draft.id.clone().unwrap_or_default();
        // DIGIT (DemandValidatorV1.validateDemandUpdate) looks every detail id up among the
        // stored details of the demands it found, so the details of an unknown demand are
        // unknown as well and reported under EG_BS_DEMAND_DETAIL_NOTFOUND too.
        let old = stored.get(&id);
        if old.is_none() {
            missing_demands.push(id);
        }
        for detail in &draft.details {
            if let Some(detail_id) = &detail.id
                && !old.is_some_and(|old| old.details.iter().any(|d| &d.id == detail_id))
            {
                missing_details.push(detail_id.clone());
            }
        }
    }
    if !missing_demands.is_empty() {
        errors.put(
            "EG_BS_DEMANDS_NOT_FOUND",
            format!(
                "No Demands not found in db for following ids : [{}]",
                missing_demands.join(", ")
            ),
        );
    }
    if !missing_details.is_empty() {
        errors.put(
            "EG_BS_DEMAND_DETAIL_NOTFOUND",
            format!(
                "No Demand details found for the given ids :  [{}]",
                missing_details.join(", ")
            ),
        );
    }
    let requested: Vec<(Paise, Paise)> = drafts
        .iter()
        .flat_map(|d| {
            d.details
                .iter()
                .map(|x| (x.tax_amount, x.collection_amount))
        })
        .collect();
    check_amounts(&requested, &mut errors);
    // A client usually sends the stored demand back with a new tax, collection amounts
    // and all, so DIGIT's check above may already have failed on the collection it sent;
    // this says which demand and head, against what the stored detail has collected.
    let mut below = Vec::new();
    for draft in drafts {
        let Some(old) = draft.id.as_ref().and_then(|id| stored.get(id)) else {
            continue;
        };
        for detail in &draft.details {
            if let Some(before) = detail
                .id
                .as_ref()
                .and_then(|id| old.details.iter().find(|d| &d.id == id))
                && before.tax_amount != detail.tax_amount
                && !within_sign_bounds(detail.tax_amount, before.collection_amount)
            {
                below.push(below_collected(
                    old,
                    &before.tax_head_code,
                    detail.tax_amount,
                    before.collection_amount,
                ));
            }
        }
    }
    put_below_collected(&below, &mut errors);
    errors.into_result()?;

    check_tenants(mdms, drafts)?;
    let mut errors = ErrorMap::new();
    let mut sets = MasterFailures::default();
    for draft in drafts {
        check_masters(mdms, draft, &mut errors, &mut sets);
    }
    let payers = check_payers(conn, drafts, &mut errors).await?;
    sets.put(&mut errors);
    errors.into_result()?;
    Ok(payers)
}

/// kosh's rules on the demands a request would write, each with the stored demand it
/// replaces (`None` for a new one), all failures together:
/// - `EG_BS_NEGATIVE_TAX_NOT_ALLOWED`: a negative taxAmount on a head that is not a credit
///   ([`HeadSign`]); only amounts the request sets are judged, a stored detail it leaves
///   alone is not;
/// - `EG_BS_TAX_BELOW_COLLECTED`: a tax set below what its detail has collected (or, for a
///   credit, above what has been used of it); collection amounts move only with payments,
///   so the tax has to stay where the money already is;
/// - `EG_BS_INVALID_AMOUNT`: taxAmounts or collectionAmounts adding up past the total
///   ceiling (`KOSH_MAX_TOTAL_RUPEES`);
/// - then, when those pass, `EG_BS_COLLECTION_EXCEEDS_DEMAND`: books that do not balance
///   ([`Demand::check_books`]), e.g. a rebate added to a demand already paid in full.
pub fn written<'a>(
    mdms: &Mdms,
    changes: impl IntoIterator<Item = (&'a Demand, Option<&'a Demand>)>,
) -> Result<(), DigitError> {
    let changes: Vec<(&Demand, Option<&Demand>)> = changes.into_iter().collect();
    let mut negative = Vec::new();
    let mut below = Vec::new();
    let mut totals = Vec::new();
    for &(demand, old) in &changes {
        let signs = masters::head_signs(mdms, &demand.tenant_id, &demand.business_service);
        for detail in &demand.details {
            let before = old.and_then(|o| o.details.iter().find(|x| x.id == detail.id));
            if before.is_some_and(|b| b.tax_amount == detail.tax_amount) {
                continue;
            }
            let sign = signs
                .get(&detail.tax_head_code)
                .copied()
                .unwrap_or(HeadSign::Charge);
            if !sign.allows(detail.tax_amount) {
                negative.push(format!(
                    "{} : {}",
                    detail.tax_head_code,
                    plain(detail.tax_amount)
                ));
            }
            if before.is_some() && !within_sign_bounds(detail.tax_amount, detail.collection_amount)
            {
                below.push(below_collected(
                    demand,
                    &detail.tax_head_code,
                    detail.tax_amount,
                    detail.collection_amount,
                ));
            }
        }
        for (what, sum) in [
            (
                "taxAmounts",
                Paise::sum(demand.details.iter().map(|d| d.tax_amount)),
            ),
            (
                "collectionAmounts",
                Paise::sum(demand.details.iter().map(|d| d.collection_amount)),
            ),
        ] {
            if let Err(e) = sum.and_then(Paise::total_within_ceiling) {
                totals.push(format!(
                    "the {what} of the demand of consumer code {} : {e}",
                    demand.consumer_code
                ));
            }
        }
    }
    let mut errors = ErrorMap::new();
    if !negative.is_empty() {
        errors.put(
            NEGATIVE_TAX,
            format!(
                "Only rebate, exemption, advance and credit tax heads (TaxHeadMaster category REBATE, EXEMPTION or ADVANCE_COLLECTION, or isDebit true) may have a negative taxAmount, and round-off heads by less than 1 : [{}]",
                negative.join(", ")
            ),
        );
    }
    put_below_collected(&below, &mut errors);
    if !totals.is_empty() {
        errors.put(
            INVALID_AMOUNT,
            format!("Demand totals out of range : [{}]", totals.join(", ")),
        );
    }
    errors.into_result()?;

    let unbalanced: Vec<String> = changes
        .iter()
        .filter_map(|&(demand, old)| {
            let err = demand.check_books().err()?;
            Some(if old.is_some() {
                err.to_string()
            } else {
                err.for_new_demand()
            })
        })
        .collect();
    if !unbalanced.is_empty() {
        return Err(DigitError::new(
            OVERCOLLECTED,
            format!(
                "A demand's collected amounts cannot exceed its tax : [{}]",
                unbalanced.join(", ")
            ),
        ));
    }
    Ok(())
}

fn below_collected(demand: &Demand, head: &str, tax: Paise, collected: Paise) -> String {
    format!(
        "demand {}, tax head {head} : the taxAmount cannot be {} when {} has been collected on it",
        demand.id,
        plain(tax),
        plain(collected)
    )
}

fn put_below_collected(faults: &[String], errors: &mut ErrorMap) {
    if !faults.is_empty() {
        errors.put(
            TAX_BELOW_COLLECTED,
            format!(
                "A demand's taxAmount cannot be lowered below what has been collected on it : [{}]",
                faults.join(", ")
            ),
        );
    }
}

fn check_tenants(mdms: &Mdms, drafts: &[DemandDraft]) -> Result<(), DigitError> {
    if drafts.iter().any(|d| !mdms.is_known_tenant(&d.tenant_id)) {
        return Err(invalid_tenant());
    }
    Ok(())
}

/// Codes that failed a master check, reported once for the whole request.
#[derive(Default)]
struct MasterFailures {
    business_services: BTreeSet<String>,
    without_periods: BTreeSet<String>,
    tax_heads: BTreeSet<String>,
}

impl MasterFailures {
    fn put(self, errors: &mut ErrorMap) {
        if !self.tax_heads.is_empty() {
            errors.put(
                "EG_BS_TAXHEADS_NOTFOUND",
                format!(
                    "No TaxHead masters found for give codes {}",
                    java_set(&self.tax_heads)
                ),
            );
        }
        if !self.business_services.is_empty() {
            errors.put(
                "EG_BS_BUSINESSSERVICE_NOTFOUND",
                format!(
                    "No Business Service masters found for give codes {}",
                    java_set(&self.business_services)
                ),
            );
        }
        if !self.without_periods.is_empty() {
            errors.put(
                "EG_BS_TAXPERIODS_BUINESSSERVICE",
                format!(
                    "No Tax Periods Found for the given BusinessServices value of {}",
                    java_set(&self.without_periods)
                ),
            );
        }
    }
}

fn check_masters(
    mdms: &Mdms,
    draft: &DemandDraft,
    errors: &mut ErrorMap,
    sets: &mut MasterFailures,
) {
    let tenant = &draft.tenant_id;
    let service = &draft.business_service;
    if masters::business_service(mdms, tenant, service).is_none() {
        sets.business_services.insert(service.clone());
    }
    // DIGIT checks tax heads only for a service that has some.
    let heads = masters::tax_heads(mdms, tenant, service);
    if !heads.is_empty() {
        for detail in &draft.details {
            if !heads.iter().any(|h| h.code == detail.tax_head_code) {
                sets.tax_heads.insert(detail.tax_head_code.clone());
            }
        }
    }
    let periods = masters::tax_periods(mdms, tenant, service);
    if periods.is_empty() {
        sets.without_periods.insert(service.clone());
    } else if !periods
        .iter()
        .any(|p| p.from_date <= draft.tax_period_from && draft.tax_period_to <= p.to_date)
    {
        errors.put(
            "EG_BS_TAXPERIODS_DEMAND",
            format!(
                "No Tax Periods Found for the given demand with fromDate : {} and toDate : {}",
                draft.tax_period_from, draft.tax_period_to
            ),
        );
    }
}

/// The payer must be a user, and not an employee (employees never owe demands).
async fn check_payers(
    conn: &mut AnyConnection,
    drafts: &[DemandDraft],
    errors: &mut ErrorMap,
) -> Result<Payers, DigitError> {
    let uuids: BTreeSet<&String> = drafts.iter().filter_map(|d| d.payer.as_ref()).collect();
    let mut found = Payers::new();
    let mut missing = BTreeSet::new();
    let mut employees = BTreeSet::new();
    let wanted: Vec<&str> = uuids.iter().map(|u| u.as_str()).collect();
    let mut users: HashMap<String, User> = payer::find_many(conn, &wanted)
        .await?
        .into_iter()
        .map(|u| (u.uuid.clone(), u))
        .collect();
    for uuid in uuids {
        match users.remove(uuid.as_str()) {
            None => {
                missing.insert(uuid.clone());
            }
            Some(user) if user.user_type.eq_ignore_ascii_case("EMPLOYEE") => {
                employees.insert(uuid.clone());
            }
            Some(user) => {
                found.insert(uuid.clone(), user);
            }
        }
    }
    if !employees.is_empty() {
        errors.put(
            "EG_BS_EMPLOYEE_UUID_NOTALLOWED",
            format!(
                "Employees cannot own a demand in system. The following uuids belonging to employees are rejected : {}",
                java_set(&employees)
            ),
        );
    }
    if !missing.is_empty() {
        errors.put(
            "EG_BS_USER_UUID_NOTFOUND",
            format!("No users found for following uuids  {}", java_set(&missing)),
        );
    }
    Ok(found)
}

/// (tax, collection) pairs: a positive tax is collected between zero and itself; a negative
/// one (rebate, exemption, advance) between itself and zero.
fn check_amounts(amounts: &[(Paise, Paise)], errors: &mut ErrorMap) {
    let mut faults = Vec::new();
    for &(tax, collection) in amounts {
        if !tax.is_negative() && (collection > tax || collection.is_negative()) {
            faults.push(format!(
                "collection amount : {}, cannot not be greater than taxAmount or Negative in case of positive tax : {}",
                plain(collection),
                plain(tax)
            ));
        } else if tax.is_negative() && (collection < tax || collection > Paise::ZERO) {
            faults.push(format!(
                "collection amount : {}, should be equal to 'ZERO' or tax amount : {} in case of negative Tax",
                plain(collection),
                plain(tax)
            ));
        }
    }
    if !faults.is_empty() {
        errors.put(
            "EG_DEMAND_DEATIL_INVALID",
            format!(
                "Invalid demand details found with following Values : [{}]",
                faults.join(", ")
            ),
        );
    }
}

/// A second ACTIVE demand for the same consumer code, service and period, in the database
/// or within the request.
/// A consumer code and the tax period of one of its demands (from, to).
type PeriodKey = (String, i64, i64);

async fn check_duplicates(
    conn: &mut AnyConnection,
    drafts: &[DemandDraft],
    errors: &mut ErrorMap,
) -> Result<(), DigitError> {
    let mut duplicates = BTreeSet::new();
    let mut seen = BTreeSet::new();
    // The stored ones are looked up per tenant and service, all codes at once.
    let mut by_service: BTreeMap<(&str, &str), Vec<PeriodKey>> = BTreeMap::new();
    for d in drafts {
        let key = (
            d.tenant_id.clone(),
            d.business_service.clone(),
            d.consumer_code.clone(),
            d.tax_period_from,
            d.tax_period_to,
        );
        if !seen.insert(key) {
            duplicates.insert(d.consumer_code.clone());
        }
        by_service
            .entry((d.tenant_id.as_str(), d.business_service.as_str()))
            .or_default()
            .push((d.consumer_code.clone(), d.tax_period_from, d.tax_period_to));
    }
    for ((tenant, service), keys) in by_service {
        duplicates.extend(store::active_duplicates(conn, tenant, service, &keys).await?);
    }
    if !duplicates.is_empty() {
        let err = store::duplicate_error(&duplicates);
        for item in err.errors {
            errors.put(item.code, item.message);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Audit, DemandDetail, DemandStatus};
    use super::*;

    fn shipped() -> Mdms {
        Mdms::from_files(&kosh_mdms::embedded_demo_files()).expect("shipped master data")
    }

    fn demand(service: &str, details: &[(&str, &str, i64, i64)]) -> Demand {
        Demand {
            id: "d-1".into(),
            tenant_id: "pb.amritsar".into(),
            consumer_code: "C-1".into(),
            consumer_type: "BUILTUP".into(),
            business_service: service.into(),
            payer: None,
            tax_period_from: 0,
            tax_period_to: 1,
            minimum_amount_payable: Paise::ZERO,
            bill_expiry_time: None,
            fixed_bill_expiry_date: None,
            status: DemandStatus::Active,
            is_payment_completed: false,
            additional_details: None,
            audit: Audit::new("x", 0),
            details: details
                .iter()
                .map(|&(id, head, tax, collected)| DemandDetail {
                    id: id.into(),
                    demand_id: "d-1".into(),
                    tenant_id: "pb.amritsar".into(),
                    tax_head_code: head.into(),
                    tax_amount: Paise::new(tax),
                    collection_amount: Paise::new(collected),
                    additional_details: None,
                    audit: Audit::new("x", 0),
                })
                .collect(),
        }
    }

    fn refusal(result: Result<(), DigitError>) -> Vec<(String, String)> {
        result
            .err()
            .map(|e| e.errors.into_iter().map(|i| (i.code, i.message)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn negative_tax_only_on_credit_heads() {
        let mdms = shipped();
        let bad = demand("PT", &[("a", "PT_TAX", -5000_00, 0)]);
        assert_eq!(
            refusal(written(&mdms, [(&bad, None)])),
            vec![(
                NEGATIVE_TAX.to_string(),
                "Only rebate, exemption, advance and credit tax heads (TaxHeadMaster category REBATE, EXEMPTION or ADVANCE_COLLECTION, or isDebit true) may have a negative taxAmount, and round-off heads by less than 1 : [PT_TAX : -5000]".to_string()
            )]
        );
        let good = demand(
            "PT",
            &[
                ("a", "PT_TAX", 1000_00, 0),
                ("b", "PT_TIME_REBATE", -50_00, 0),
                ("c", "PT_OWNER_EXEMPTION", -100_00, 0),
                ("d", "PT_ADVANCE_CARRYFORWARD", -200_00, 0),
                ("e", "PT_ROUNDOFF", -40, 0),
            ],
        );
        assert_eq!(refusal(written(&mdms, [(&good, None)])), vec![]);
        let rounding = demand(
            "PT",
            &[("a", "PT_TAX", 10_00, 0), ("e", "PT_ROUNDOFF", -1_00, 0)],
        );
        assert_eq!(
            refusal(written(&mdms, [(&rounding, None)]))[0].0,
            NEGATIVE_TAX
        );
        // A service without tax heads in MDMS has no credit heads either.
        let unknown = demand("NOPE", &[("a", "ANY", -1, 0)]);
        assert_eq!(
            refusal(written(&mdms, [(&unknown, None)]))[0].0,
            NEGATIVE_TAX
        );
    }

    #[test]
    fn an_update_is_judged_on_what_it_changes() {
        let mdms = shipped();
        // A stored negative line the update leaves alone is not the update's fault...
        let old = demand(
            "TL",
            &[("a", "TL_TAX", 400_00, 0), ("b", "TL_TAX", -1_00, 0)],
        );
        let mut new = old.clone();
        new.details[0].tax_amount = Paise::new(500_00);
        assert_eq!(refusal(written(&mdms, [(&new, Some(&old))])), vec![]);
        // ...one it sets is.
        let mut new = old.clone();
        new.details[1].tax_amount = Paise::new(-2_00);
        assert_eq!(
            refusal(written(&mdms, [(&new, Some(&old))]))[0].0,
            NEGATIVE_TAX
        );
    }

    #[test]
    fn tax_is_never_lowered_below_what_was_collected() {
        let mdms = shipped();
        let old = demand("PT", &[("a", "PT_TAX", 1000_00, 600_00)]);
        let mut new = old.clone();
        new.details[0].tax_amount = Paise::new(500_00);
        assert_eq!(
            refusal(written(&mdms, [(&new, Some(&old))])),
            vec![(
                TAX_BELOW_COLLECTED.to_string(),
                "A demand's taxAmount cannot be lowered below what has been collected on it : [demand d-1, tax head PT_TAX : the taxAmount cannot be 500 when 600 has been collected on it]".to_string()
            )]
        );
        new.details[0].tax_amount = Paise::new(600_00);
        assert_eq!(refusal(written(&mdms, [(&new, Some(&old))])), vec![]);
    }

    /// The reported update: a fully paid TL demand gets a negative line. On TL_TAX the sign
    /// rule refuses it; on a rebate head, the books do.
    #[test]
    fn a_credit_on_a_paid_demand_is_refused() {
        let mdms = shipped();
        let old = demand("TL", &[("a", "TL_TAX", 400_00, 400_00)]);
        let mut new = old.clone();
        new.details
            .push(demand("TL", &[("b", "TL_TAX", -300_00, 0)]).details[0].clone());
        assert_eq!(
            refusal(written(&mdms, [(&new, Some(&old))]))[0].0,
            NEGATIVE_TAX
        );
        new.details[1].tax_head_code = "TL_ADHOC_REBATE".into();
        let refused = refusal(written(&mdms, [(&new, Some(&old))]));
        assert_eq!(refused[0].0, OVERCOLLECTED);
        assert!(
            refused[0].1.contains("400 is collected against 100 due"),
            "{refused:?}"
        );
    }

    #[test]
    fn totals_stay_under_the_total_ceiling() {
        let mdms = shipped();
        let ceiling = kosh_platform::money::limits().max_amount.get();
        let details: Vec<(&str, &str, i64, i64)> = vec![("a", "PT_TAX", ceiling, 0); 11];
        let big = demand("PT", &details);
        assert_eq!(refusal(written(&mdms, [(&big, None)]))[0].0, INVALID_AMOUNT);
        let ten = demand("PT", &details[..10]);
        assert_eq!(refusal(written(&mdms, [(&ten, None)])), vec![]);
    }

    fn codes(errors: ErrorMap) -> Vec<String> {
        match errors.into_result() {
            Ok(()) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|i| i.message).collect(),
        }
    }

    #[test]
    fn amounts_follow_digit_rules() {
        let check_amounts = |amounts: &[(i64, i64)], e: &mut ErrorMap| {
            let amounts: Vec<(Paise, Paise)> = amounts
                .iter()
                .map(|&(t, c)| (Paise::new(t), Paise::new(c)))
                .collect();
            check_amounts(&amounts, e)
        };
        let mut e = ErrorMap::new();
        check_amounts(
            &[(10000, 0), (10000, 10000), (-500, 0), (-500, -500)],
            &mut e,
        );
        assert!(codes(e).is_empty());

        let mut e = ErrorMap::new();
        check_amounts(&[(10000, 20000)], &mut e);
        assert_eq!(
            codes(e),
            vec![
                "Invalid demand details found with following Values : [collection amount : 200, cannot not be greater than taxAmount or Negative in case of positive tax : 100]"
            ]
        );

        let mut e = ErrorMap::new();
        check_amounts(&[(-500, 100)], &mut e);
        assert!(codes(e)[0].contains("in case of negative Tax"));
    }
}
