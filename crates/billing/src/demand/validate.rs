//! DIGIT's demand validation (DemandValidatorV1): business service, tax heads and tax period
//! from MDMS, the payer, the amounts, duplicates on create and ids on update. Failures are
//! collected and answered together, keyed by code (the last message of a code wins).

use std::collections::{BTreeSet, HashMap};

use kosh_identity::users::User;
use kosh_mdms::Mdms;
use kosh_platform::DigitError;
use kosh_platform::error::ErrorMap;
use sqlx::AnyConnection;

use super::Demand;
use super::input::DemandDraft;
use super::store;
use crate::masters::{self, invalid_tenant};
use crate::payer;
use crate::wire::{java_set, plain};

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
    let amounts: Vec<(i64, i64)> = drafts
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
    let amounts: Vec<(i64, i64)> = draft
        .details
        .iter()
        .map(|x| (x.tax_amount, x.collection_amount))
        .collect();
    check_amounts(&amounts, &mut errors);
    sets.put(&mut errors);
    errors.into_result()
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
        let Some(old) = stored.get(&id) else {
            missing_demands.push(id);
            continue;
        };
        for detail in &draft.details {
            if let Some(detail_id) = &detail.id
                && !old.details.iter().any(|d| &d.id == detail_id)
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
    let requested: Vec<(i64, i64)> = drafts
        .iter()
        .flat_map(|d| {
            d.details
                .iter()
                .map(|x| (x.tax_amount, x.collection_amount))
        })
        .collect();
    check_amounts(&requested, &mut errors);
    errors.into_result()?;

    check_tenants(mdms, drafts)?;
    let mut errors = ErrorMap::new();
    let mut sets = MasterFailures::default();
    for draft in drafts {
        check_masters(mdms, draft, &mut errors, &mut sets);
    }
    let payers = check_payers(conn, drafts, &mut errors).await?;
    // Collection amounts only move with payments: the new tax must still cover what the
    // stored detail has collected (new details start at zero).
    let against_stored: Vec<(i64, i64)> = drafts
        .iter()
        .flat_map(|draft| {
            let old = draft.id.as_ref().and_then(|id| stored.get(id));
            draft.details.iter().map(move |x| {
                let collected =
                    x.id.as_ref()
                        .and_then(|id| old?.details.iter().find(|d| &d.id == id))
                        .map(|d| d.collection_amount)
                        .unwrap_or(0);
                (x.tax_amount, collected)
            })
        })
        .collect();
    check_amounts(&against_stored, &mut errors);
    sets.put(&mut errors);
    errors.into_result()?;
    Ok(payers)
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
    for uuid in uuids {
        match payer::find(conn, uuid).await? {
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
fn check_amounts(amounts: &[(i64, i64)], errors: &mut ErrorMap) {
    let mut faults = Vec::new();
    for &(tax, collection) in amounts {
        if tax >= 0 && (collection > tax || collection < 0) {
            faults.push(format!(
                "collection amount : {}, cannot not be greater than taxAmount or Negative in case of positive tax : {}",
                plain(collection),
                plain(tax)
            ));
        } else if tax < 0 && (collection < tax || collection > 0) {
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
async fn check_duplicates(
    conn: &mut AnyConnection,
    drafts: &[DemandDraft],
    errors: &mut ErrorMap,
) -> Result<(), DigitError> {
    let mut duplicates = BTreeSet::new();
    let mut seen = BTreeSet::new();
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
        let found = store::active_duplicates(
            conn,
            &d.tenant_id,
            &d.business_service,
            &[(d.consumer_code.clone(), d.tax_period_from, d.tax_period_to)],
        )
        .await?;
        duplicates.extend(found);
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
    use super::*;

    fn codes(errors: ErrorMap) -> Vec<String> {
        match errors.into_result() {
            Ok(()) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|i| i.message).collect(),
        }
    }

    #[test]
    fn amounts_follow_digit_rules() {
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
