//! Fetch-bill (DIGIT's `BillServicev2.fetchBill`): for each consumer code asked about, the
//! ACTIVE bill while nothing in it has expired; otherwise that bill is expired and a new one
//! is made from the unpaid ACTIVE demands.
//!
//! Concurrency: reusing a valid bill only reads, on a read connection outside any write
//! transaction ([`reuse_existing`]). Making one takes the consumer code's demand
//! row locks ([`demand::store::lock_consumer`]) and looks again, so concurrent fetches queue
//! and all but the first find the first one's bill. Behind that, the partial unique index
//! lets only one ACTIVE bill exist; an insert that loses to another ACTIVE bill
//! ([`store::claim_next`] returns false) reads and returns the winner.
//!
//! Reads that never scan: a fetch by consumer codes of one city (the common one) is
//! answered, when every code has a valid ACTIVE bill, by ONE statement
//! ([`store::active_for_codes`]: the partial unique index of ACTIVE bills with every term an
//! equality, then each bill's details by their parent's index), whatever the number of
//! bills. Any other fetch (by demand id, mobile number or email, or at a state) first finds
//! which codes to bill ([`consumer_keys`]), then reads each code's bill the same way.
//!
//! Making a bill (the first fetch of a code with demands), in statements: the read above
//! (on the read pool), then in the write transaction: the demand locks, the ACTIVE bill
//! under the locks (one read; when it has expired, one update expires it), the unpaid
//! demands and their details (two reads), the payer (one read, when the demands name one),
//! the bill's insert (which takes its place among the code's bills inside the statement),
//! its number from the counter and onto the bill (two), its details and account details
//! (one multi-row insert each): ten, besides BEGIN and COMMIT.

use std::collections::BTreeSet;

use kosh_idgen::IdRequest;
use kosh_mdms::Mdms;
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{Clock, Db, DigitError};
use sqlx::{AnyConnection, Row};

use super::generate::{self, BillContext};
use super::{Bill, BillStatus, store};
use crate::demand::DemandStatus;
use crate::demand::store::{self as demand_store, DemandFilter};
use crate::query::push_tenant;
use crate::visibility::{self, Scope};
use crate::{masters, payer};

/// What a fetch asks for (DIGIT's GenerateBillCriteria).
#[derive(Debug, Clone, Default)]
pub struct FetchCriteria {
    pub tenant_id: String,
    pub business_service: String,
    pub consumer_codes: Vec<String>,
    pub demand_id: Option<String>,
    pub mobile_number: Option<String>,
    pub email: Option<String>,
    /// Whose bills the caller may see ([`Scope`]); kosh's own lookups see the tenant's.
    pub scope: Scope,
}

/// The id format billing sends to idgen when MDMS has no `billnumberid` format (DIGIT's
/// `bs.bill.billnumber.format` with tenant-level numbering off).
fn bill_number_format(business_service: &str) -> String {
    format!("BILLNO-{business_service}-[SEQ_egbs_billnumber]")
}

pub fn no_demands() -> DigitError {
    DigitError::new(
        "EG_BS_BILL_NO_DEMANDS_FOUND",
        "No Demands Found for the given bill generate criteria",
    )
}

/// The bills of every consumer code the criteria name, made or reused, inside the caller's
/// transaction. `actor` is the requesting user's uuid.
pub async fn fetch(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    criteria: &FetchCriteria,
    actor: &str,
) -> Result<Vec<Bill>, DigitError> {
    fetch_with(conn, mdms, clock, criteria, actor, Look::First).await
}

/// [`fetch`] right after [`reuse_existing`] answered `None` for the same criteria: a valid
/// bill was just looked for and not found, so each code goes straight to its locks (and the
/// look under them) instead of looking once more before them.
pub async fn fetch_after_miss(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    criteria: &FetchCriteria,
    actor: &str,
) -> Result<Vec<Bill>, DigitError> {
    fetch_with(conn, mdms, clock, criteria, actor, Look::UnderLocksOnly).await
}

/// Whether a code's valid bill is looked for before its demand locks are taken: that spares
/// the locks (a write) when the bill exists; it is wasted when the caller just looked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    First,
    UnderLocksOnly,
}

async fn fetch_with(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    criteria: &FetchCriteria,
    actor: &str,
    look: Look,
) -> Result<Vec<Bill>, DigitError> {
    let keys = match codes_alone(criteria) {
        // Every code asked about is billed if it has a valid bill or unpaid demands and
        // skipped otherwise ([`bill_for`] answers `None`): the same codes
        // [`consumer_keys`] would find, without reading them first. Not for a citizen,
        // whose codes are only those of their own demands and bills.
        Some(codes) if !matches!(criteria.scope, Scope::Own(_)) => codes
            .into_iter()
            .map(|code| (criteria.tenant_id.clone(), code))
            .collect(),
        _ => consumer_keys(conn, criteria).await?,
    };
    let mut bills = Vec::new();
    for (tenant_id, consumer_code) in &keys {
        let key = Key {
            tenant_id,
            business_service: &criteria.business_service,
            consumer_code,
        };
        if let Some(bill) = bill_for(conn, mdms, clock, &key, actor, look).await? {
            bills.push(bill);
        }
    }
    if bills.is_empty() {
        return Err(no_demands());
    }
    Ok(bills)
}

/// The bills [`fetch`] would answer with when every consumer code the criteria name already
/// has an ACTIVE bill that has not expired, read with plain reads on `conn` (the read pool:
/// no write transaction, so on SQLite it does not queue behind the single writer). `None`
/// when some code has no bill, an expired one, or nothing matches: the caller then runs
/// [`fetch`] in a write transaction, which makes, expires or regenerates under the locks.
///
/// The answer is [`fetch`]'s for the same data: the same sorted keys, and for each the bill
/// [`fetch`] returns before it takes any lock (its first `active_for`). A bill that expires
/// or is paid between these reads is a race [`fetch`] has too; a payment checks its bill
/// again in its own transaction.
///
/// By consumer codes of one city, this is one statement ([`store::active_for_codes`]): the
/// codes [`fetch`] bills are exactly those asked about that have a valid bill or unpaid
/// demands, so when every code asked about has a valid ACTIVE bill the caller may see, those
/// bills are the answer; when one has none, `None`.
pub async fn reuse_existing(
    db: &Db,
    clock: &Clock,
    criteria: &FetchCriteria,
) -> Result<Option<Vec<Bill>>, DigitError> {
    if let Some(codes) = codes_alone(criteria) {
        let bills = store::active_for_codes_outside(
            db,
            &criteria.tenant_id,
            &criteria.business_service,
            &codes,
            &criteria.scope,
        )
        .await?;
        let now = clock.now_ms();
        let all_valid = bills.len() == codes.len() && bills.iter().all(|b| !b.has_expired(now));
        return Ok(all_valid.then_some(bills));
    }
    let mut conn = db.pool().acquire().await?;
    let conn = &mut *conn;
    let keys = consumer_keys(conn, criteria).await?;
    if keys.is_empty() {
        return Ok(None);
    }
    let mut bills = Vec::with_capacity(keys.len());
    for (tenant_id, consumer_code) in &keys {
        let active =
            store::active_for(conn, tenant_id, &criteria.business_service, consumer_code).await?;
        match active {
            Some(bill) if !bill.has_expired(clock.now_ms()) => bills.push(bill),
            _ => return Ok(None),
        }
    }
    Ok(Some(bills))
}

/// The consumer codes asked about, sorted and without repeats, when the criteria are
/// consumer codes alone at a city (not a state, whose fetch covers its cities' bills).
fn codes_alone(criteria: &FetchCriteria) -> Option<Vec<String>> {
    let alone = !criteria.consumer_codes.is_empty()
        && criteria.demand_id.is_none()
        && criteria.mobile_number.is_none()
        && criteria.email.is_none()
        && !kosh_platform::tenant::is_state_level(&criteria.tenant_id)
        && criteria.scope.may_search(true, false);
    alone.then(|| {
        let codes: BTreeSet<String> = criteria.consumer_codes.iter().cloned().collect();
        codes.into_iter().collect()
    })
}

/// The (tenant, consumer code) pairs to bill: the codes asked for, the code of the demand
/// asked for, and the codes with ACTIVE demands or bills of the payers with the mobile
/// number or email asked for; sorted, so concurrent fetches lock in one order.
async fn consumer_keys(
    conn: &mut AnyConnection,
    criteria: &FetchCriteria,
) -> Result<BTreeSet<(String, String)>, DigitError> {
    let mut keys = BTreeSet::new();
    let scope = &criteria.scope;
    let by_account = !criteria.consumer_codes.is_empty() || criteria.demand_id.is_some();
    let by_contact = criteria.mobile_number.is_some() || criteria.email.is_some();
    if !scope.may_search(by_account, by_contact) {
        return Ok(keys);
    }
    let mut filters = Vec::new();
    let base = DemandFilter {
        tenant_id: criteria.tenant_id.clone(),
        business_service: Some(criteria.business_service.clone()),
        status: Some(DemandStatus::Active),
        ..DemandFilter::default()
    };
    if !criteria.consumer_codes.is_empty() {
        filters.push(DemandFilter {
            consumer_codes: Some(criteria.consumer_codes.clone()),
            ..base.clone()
        });
    }
    if let Some(id) = &criteria.demand_id {
        filters.push(DemandFilter {
            ids: Some(vec![id.clone()]),
            ..base.clone()
        });
    }
    let mut payers = Vec::new();
    if criteria.mobile_number.is_some() || criteria.email.is_some() {
        payers = payer::uuids_with_contact(
            conn,
            &criteria.tenant_id,
            criteria.mobile_number.as_deref(),
            criteria.email.as_deref(),
        )
        .await?;
        if !payers.is_empty() {
            filters.push(DemandFilter {
                payers: Some(payers.clone()),
                is_payment_completed: Some(false),
                ..base.clone()
            });
        }
    }
    for filter in &mut filters {
        filter.payers = scope.payers(filter.payers.take());
        keys.extend(demand_store::consumer_keys(conn, filter).await?);
    }
    // Codes whose ACTIVE bill matches, even when no unpaid demand does any more: one query
    // per kind of criterion, each on its own index. Joined with OR in one query they kept
    // SQLite on the (tenant, service) prefix of the consumer index, every bill of the
    // service in the city.
    enum Criterion<'c> {
        Codes(&'c [String]),
        Payers(&'c [String]),
        Mobile(&'c str),
        EmailIndex(String),
    }
    let mut alternatives = Vec::new();
    if !criteria.consumer_codes.is_empty() {
        alternatives.push(Criterion::Codes(&criteria.consumer_codes));
    }
    if !payers.is_empty() {
        alternatives.push(Criterion::Payers(&payers));
    }
    if let Some(mobile) = &criteria.mobile_number {
        alternatives.push(Criterion::Mobile(mobile));
    }
    if let Some(email) = &criteria.email {
        alternatives.push(Criterion::EmailIndex(
            kosh_platform::pii::vault().index(email),
        ));
    }
    for alternative in &alternatives {
        let mut q = SqlBuilder::new(
            "SELECT tenant_id, consumer_code FROM egbs_bill WHERE status = 'ACTIVE' AND business_service = ",
        );
        q.bind(&criteria.business_service).push(" AND ");
        push_tenant(&mut q, "tenant_id", &criteria.tenant_id);
        match alternative {
            Criterion::Codes(codes) => {
                q.push(" AND consumer_code IN ").bind_list(codes);
            }
            Criterion::Payers(payers) => {
                q.push(" AND user_id IN ").bind_list(payers);
            }
            Criterion::Mobile(mobile) => {
                q.push(" AND ");
                visibility::push_mobile_is(&mut q, "", mobile);
            }
            Criterion::EmailIndex(index) => {
                q.push(" AND payer_email = ").bind(index.clone());
            }
        }
        scope.push_bill_filter(&mut q, "");
        for row in q.build().fetch_all(&mut *conn).await? {
            keys.insert((row.try_get("tenant_id")?, row.try_get("consumer_code")?));
        }
    }
    Ok(keys)
}

struct Key<'a> {
    tenant_id: &'a str,
    business_service: &'a str,
    consumer_code: &'a str,
}

/// The valid ACTIVE bill of one consumer code, or a new one; `None` when it has nothing to
/// bill.
async fn bill_for(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    key: &Key<'_>,
    actor: &str,
    look: Look,
) -> Result<Option<Bill>, DigitError> {
    let now = clock.now_ms();
    if look == Look::First {
        let active =
            store::active_for(conn, key.tenant_id, key.business_service, key.consumer_code).await?;
        if let Some(bill) = active.filter(|b| !b.has_expired(now)) {
            return Ok(Some(bill));
        }
    }

    demand_store::lock_consumer(conn, key.tenant_id, key.business_service, key.consumer_code)
        .await?;
    // Someone may have made the bill while this request waited for the locks.
    if let Some(bill) =
        store::active_for(conn, key.tenant_id, key.business_service, key.consumer_code).await?
    {
        if !bill.has_expired(now) {
            return Ok(Some(bill));
        }
        store::set_status(
            conn,
            &bill,
            &[BillStatus::Active],
            BillStatus::Expired,
            actor,
            now,
        )
        .await?;
    }

    let demands = demand_store::search(
        conn,
        &DemandFilter {
            tenant_id: key.tenant_id.to_string(),
            business_service: Some(key.business_service.to_string()),
            consumer_codes: Some(vec![key.consumer_code.to_string()]),
            status: Some(DemandStatus::Active),
            is_payment_completed: Some(false),
            ..DemandFilter::default()
        },
    )
    .await?;
    // A state-level search matches cities too; a bill belongs to one tenant.
    let demands: Vec<_> = demands
        .into_iter()
        .filter(|d| d.tenant_id == key.tenant_id)
        .collect();
    if demands.is_empty() {
        return Ok(None);
    }
    let business = masters::business_service(mdms, key.tenant_id, key.business_service)
        .ok_or_else(|| {
            DigitError::new(
                "EG_BS_BUSINESSSERVICE_NOTFOUND",
                format!(
                    "No Business Service masters found for give codes [{}]",
                    key.business_service
                ),
            )
        })?;
    let tax_heads = masters::tax_heads(mdms, key.tenant_id, key.business_service);
    let payer = match demands.iter().find_map(|d| d.payer.as_deref()) {
        Some(uuid) => payer::find(conn, uuid).await?,
        None => None,
    };
    let tz = mdms
        .tenant(key.tenant_id)
        .map(|t| t.tz())
        .unwrap_or(kosh_platform::clock::DEFAULT_TZ);
    let context = BillContext {
        tenant_id: key.tenant_id,
        business: &business,
        tax_heads: &tax_heads,
        payer: payer.as_ref(),
        now_ms: now,
        tz,
        actor,
    };
    let Some(mut bill) = generate::make(&demands, &context)? else {
        return Ok(None);
    };
    if !store::claim_next(conn, &mut bill).await? {
        // Another request's bill is the ACTIVE one: answer with it.
        return store::active_for(conn, key.tenant_id, key.business_service, key.consumer_code)
            .await;
    }
    let format = bill_number_format(key.business_service);
    let number = kosh_idgen::generate(
        conn,
        mdms,
        clock,
        &IdRequest {
            id_name: "billnumberid",
            tenant_id: key.tenant_id,
            format: Some(&format),
            count: 1,
        },
    )
    .await?;
    bill.bill_number = number.into_iter().next();
    store::set_number(conn, &bill).await?;
    store::insert_details(conn, &bill).await?;
    Ok(Some(bill))
}
