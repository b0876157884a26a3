//! What collection calls, on its own open transaction, when a payment is made on a bill and
//! when it is cancelled or dishonoured (DIGIT's Kafka back-update, BillingServiceConsumer,
//! done here in the payment's transaction so that it can be neither lost nor repeated).
//!
//! Collection apportions the payment over the bill's account details (one per tax head of
//! a bill detail) and passes the paise each one takes. [`apply_payment`] then
//! - adds them to the collection amounts of the demand details of those heads (several
//!   details of one head are filled smallest tax first, as DIGIT spreads them);
//! - turns money beyond the bill into an advance: a new demand detail of the service's
//!   ADVANCE_COLLECTION head with tax = −advance, which later bills of the consumer code
//!   carry as a credit (DIGIT's representation);
//! - marks each demand `isPaymentCompleted` when Σtax = Σcollection;
//! - marks the bill PAID, or PARTIALLY_PAID when it took less than its total, and expires
//!   any other ACTIVE bill of the consumer code (its amounts assumed the money was owed).
//!
//! [`reverse_payment`] takes exactly that back off and returns the bill to ACTIVE when it is
//! still the consumer code's latest bill and unexpired, else to EXPIRED.
//!
//! Both take the consumer code's demand row locks first, write an audit row for every demand
//! they change, and fail with a [`DigitError`] without writing anything the caller would have
//! to undo (the caller rolls its transaction back).

use std::collections::{BTreeSet, HashMap};

use kosh_mdms::Mdms;
use kosh_platform::DigitError;
use kosh_platform::audit_chain::{self, AuditRow};
use kosh_platform::money::{MoneyError, Paise};
use sqlx::AnyConnection;

use crate::bill::{Bill, BillStatus, store as bill_store};
use crate::demand::store::{self as demand_store, Change};
use crate::demand::{Audit, Demand, DemandDetail, new_id};
use crate::masters;
use crate::wire::plain;

/// What a payment puts on one bill account detail (`billAccountDetails[].id`): what
/// apportionment gave it. Negative on a rebate or advance head consumed by the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDetailPayment {
    pub bill_account_detail_id: String,
    pub amount: Paise,
}

/// What was paid beyond the bill, kept as advance on the demand of one bill detail
/// (`billDetails[].id`, usually the latest period's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvancePayment {
    pub bill_detail_id: String,
    pub amount: Paise,
}

/// One bill's share of a payment, as collection apportioned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillPayment {
    pub tenant_id: String,
    pub bill_id: String,
    /// Collection's payment id; the bill remembers it, and only it can be reversed.
    pub payment_id: String,
    pub account_details: Vec<AccountDetailPayment>,
    pub advance: Option<AdvancePayment>,
}

fn invalid(message: String) -> DigitError {
    DigitError::new("EG_BS_PAYMENT_INVALID", message)
}

/// An amount that cannot be computed refuses the payment; nothing wraps.
fn money(e: MoneyError) -> DigitError {
    invalid(format!("The payment's amounts cannot be computed: {e}"))
}

async fn locked_bill(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_id: &str,
) -> Result<Bill, DigitError> {
    let not_found = || {
        DigitError::new(
            "EG_BS_BILL_NOT_FOUND",
            format!("No bill found with id {bill_id} in tenant {tenant_id}"),
        )
    };
    let bill = bill_store::load_one(conn, tenant_id, bill_id)
        .await?
        .filter(|b| b.tenant_id == tenant_id)
        .ok_or_else(not_found)?;
    demand_store::lock_consumer(conn, tenant_id, &bill.business_service, &bill.consumer_code)
        .await?;
    // Read again under the locks: a concurrent payment may have changed it.
    bill_store::load_one(conn, tenant_id, bill_id)
        .await?
        .ok_or_else(not_found)
}

/// Adds `amount` to the collection of `demand`'s details of `head`: positive money fills
/// positive taxes smallest first; negative money consumes negative taxes (rebates,
/// advance). What cannot be placed is returned; an amount that cannot be computed is an
/// error, never a wrap.
fn collect(demand: &mut Demand, head: &str, amount: Paise) -> Result<Paise, MoneyError> {
    let mut details: Vec<&mut DemandDetail> = demand
        .details
        .iter_mut()
        .filter(|d| d.tax_head_code == head && d.tax_amount.is_negative() == amount.is_negative())
        .collect();
    details.sort_by(|a, b| (a.tax_amount, &a.id).cmp(&(b.tax_amount, &b.id)));
    if amount.is_negative() {
        details.reverse();
    }
    let mut remaining = amount;
    for d in details {
        if remaining.is_zero() {
            break;
        }
        let room = d.tax_amount.checked_sub(d.collection_amount)?;
        let take = if amount.is_negative() {
            room.min(Paise::ZERO).max(remaining)
        } else {
            room.max(Paise::ZERO).min(remaining)
        };
        d.collection_amount = d.collection_amount.checked_add(take)?;
        remaining = remaining.checked_sub(take)?;
    }
    Ok(remaining)
}

/// Takes `amount` back off the collection of `demand`'s details of `head`, the reverse of
/// [`collect`]. What cannot be taken back is returned.
fn uncollect(demand: &mut Demand, head: &str, amount: Paise) -> Result<Paise, MoneyError> {
    let mut details: Vec<&mut DemandDetail> = demand
        .details
        .iter_mut()
        .filter(|d| d.tax_head_code == head && d.tax_amount.is_negative() == amount.is_negative())
        .collect();
    details.sort_by(|a, b| (b.tax_amount, &b.id).cmp(&(a.tax_amount, &a.id)));
    if amount.is_negative() {
        details.reverse();
    }
    let mut remaining = amount;
    for d in details {
        if remaining.is_zero() {
            break;
        }
        let take = if amount.is_negative() {
            d.collection_amount.min(Paise::ZERO).max(remaining)
        } else {
            d.collection_amount.max(Paise::ZERO).min(remaining)
        };
        d.collection_amount = d.collection_amount.checked_sub(take)?;
        remaining = remaining.checked_sub(take)?;
    }
    Ok(remaining)
}

/// Expires the consumer code's ACTIVE bill other than `bill`: its amounts assumed the money
/// `bill` has just taken or given back.
async fn expire_others(
    conn: &mut AnyConnection,
    bill: &Bill,
    actor: &str,
    now_ms: i64,
) -> Result<(), DigitError> {
    bill_store::expire_active(
        conn,
        &bill.tenant_id,
        &bill.business_service,
        &bill.consumer_code,
        Some(&bill.id),
        actor,
        now_ms,
    )
    .await?;
    Ok(())
}

/// Writes the demands a payment or reversal changed, and adds their audit rows to `audit`
/// (the caller inserts them, with its own, in one chain append).
async fn save_demands(
    conn: &mut AnyConnection,
    demands: HashMap<String, Demand>,
    changed: &BTreeSet<String>,
    change: Change,
    actor: &str,
    now_ms: i64,
    audit: &mut Vec<AuditRow>,
) -> Result<(), DigitError> {
    let changed: Vec<Demand> = changed
        .iter()
        .filter_map(|id| demands.get(id).cloned())
        .map(|demand| finished(demand, actor, now_ms))
        .collect();
    demand_store::update_many(conn, &changed).await?;
    for demand in &changed {
        audit.extend(demand_store::audit_rows(demand, change));
    }
    Ok(())
}

/// A changed demand as it is written: completed when Σtax = Σcollection, touched by `actor`.
fn finished(mut demand: Demand, actor: &str, now_ms: i64) -> Demand {
    demand.is_payment_completed = demand.fully_collected();
    demand.audit = demand.audit.touched(actor, now_ms);
    demand
}

/// What a payment does to one bill and to the demands behind it, worked out in memory by
/// [`plan_payment`] and written by [`write_payments`]. Splitting the two lets collection
/// check and apportion many payments against rows read once under their locks, and write
/// them all with a few statements per table.
#[derive(Debug, Clone)]
pub struct PlannedPayment {
    /// The bill as it will be: PAID or PARTIALLY_PAID, with the amounts each head took.
    pub bill: Bill,
    /// The demands the payment changed, as they will be.
    pub demands: Vec<Demand>,
    /// Whether the bill was ACTIVE. An EXPIRED bill paid late may have a newer ACTIVE bill
    /// of its consumer code, which the write expires (its amounts assumed the money owed).
    pub was_active: bool,
}

/// The demands behind these bills' details (all of `tenant_id`), by id: one read.
pub async fn demands_of_bills(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bills: &[&Bill],
) -> Result<HashMap<String, Demand>, DigitError> {
    let ids: Vec<String> = bills
        .iter()
        .flat_map(|b| b.details.iter().map(|d| d.demand_id.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(demand_store::load(conn, tenant_id, &ids)
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect())
}

/// The demands behind a bill's details, by id.
async fn bill_demands(
    conn: &mut AnyConnection,
    bill: &Bill,
) -> Result<HashMap<String, Demand>, DigitError> {
    demands_of_bills(conn, &bill.tenant_id, &[bill]).await
}

/// Puts a payment on a bill, its demands and their details, inside the caller's transaction.
/// The bill must be ACTIVE, or EXPIRED (a bill that expired while its payment was on the
/// way is still paid). Returns the bill as it now is.
pub async fn apply_payment(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    payment: &BillPayment,
    actor: &str,
    now_ms: i64,
) -> Result<Bill, DigitError> {
    let bill = locked_bill(conn, &payment.tenant_id, &payment.bill_id).await?;
    let demands = bill_demands(conn, &bill).await?;
    let planned = plan_payment(mdms, bill, &demands, payment, actor, now_ms)?;
    let mut audit = Vec::new();
    write_payments(conn, std::slice::from_ref(&planned), &mut audit).await?;
    audit_chain::insert(conn, &audit).await?;
    Ok(planned.bill)
}

/// Writes planned payments (of bills of distinct consumer codes, each read after taking its
/// consumer code's locks in this transaction): every changed demand with one statement per
/// table, then every bill likewise. A late-paid EXPIRED bill's newer ACTIVE bill is expired
/// in the name of the payment's actor. The demands' audit rows are added to `audit` for the
/// caller to insert before its commit, with its own, in one chain append.
pub async fn write_payments(
    conn: &mut AnyConnection,
    planned: &[PlannedPayment],
    audit: &mut Vec<AuditRow>,
) -> Result<(), DigitError> {
    // Two bills of one payment may change one demand: its last version is the one written.
    let mut demands: Vec<Demand> = Vec::new();
    for demand in planned.iter().flat_map(|p| &p.demands) {
        match demands.iter_mut().find(|d| d.id == demand.id) {
            Some(earlier) => *earlier = demand.clone(),
            None => demands.push(demand.clone()),
        }
    }
    demand_store::update_many(conn, &demands).await?;
    for demand in &demands {
        audit.extend(demand_store::audit_rows(demand, Change::Payment));
    }
    // An ACTIVE bill is its consumer code's only one (the partial unique index): there is
    // no other to expire. An EXPIRED bill paid late may have a newer ACTIVE one.
    for p in planned.iter().filter(|p| !p.was_active) {
        let touched = &p.bill.audit;
        expire_others(
            conn,
            &p.bill,
            &touched.last_modified_by,
            touched.last_modified_ms,
        )
        .await?;
    }
    let bills: Vec<&Bill> = planned.iter().map(|p| &p.bill).collect();
    bill_store::save_payments(conn, &bills).await
}

/// Works out, in memory, what `payment` does to `bill` (read under its consumer code's
/// locks) and to its demands (`demands`, read likewise; left as they were: the changed
/// ones are returned). Every rule of a payment on a bill is checked here; an error means
/// nothing is to be written.
pub fn plan_payment(
    mdms: &Mdms,
    mut bill: Bill,
    demands: &HashMap<String, Demand>,
    payment: &BillPayment,
    actor: &str,
    now_ms: i64,
) -> Result<PlannedPayment, DigitError> {
    if bill.id != payment.bill_id || bill.tenant_id != payment.tenant_id {
        return Err(DigitError::new(
            "EG_BS_BILL_NOT_FOUND",
            format!(
                "No bill found with id {} in tenant {}",
                payment.bill_id, payment.tenant_id
            ),
        ));
    }
    let was_active = bill.status == BillStatus::Active;
    match bill.status {
        BillStatus::Active | BillStatus::Expired => {}
        BillStatus::Paid | BillStatus::PartiallyPaid => {
            return Err(DigitError::new(
                "BILL_ALREADY_PAID",
                "Bill has already been paid or is in pending state",
            ));
        }
        other => {
            return Err(DigitError::new(
                "EG_BS_BILL_NOT_PAYABLE",
                format!(
                    "The bill {} is {} and cannot be paid",
                    bill.id,
                    other.as_str()
                ),
            ));
        }
    }

    // Every line names an account detail of this bill once, within what that head owes.
    let mut seen = BTreeSet::new();
    let mut lines: Vec<(usize, usize, Paise)> = Vec::new();
    for line in &payment.account_details {
        if !seen.insert(line.bill_account_detail_id.as_str()) {
            return Err(invalid(format!(
                "The bill account detail {} is paid twice",
                line.bill_account_detail_id
            )));
        }
        let position = bill.details.iter().enumerate().find_map(|(i, d)| {
            d.account_details
                .iter()
                .position(|a| a.id == line.bill_account_detail_id)
                .map(|j| (i, j))
        });
        let Some((i, j)) = position else {
            return Err(invalid(format!(
                "The bill account detail {} is not part of the bill {}",
                line.bill_account_detail_id, bill.id
            )));
        };
        let owed = bill.details[i].account_details[j].amount;
        let within = if owed.is_negative() {
            (owed..=Paise::ZERO).contains(&line.amount)
        } else {
            (Paise::ZERO..=owed).contains(&line.amount)
        };
        if !within {
            return Err(invalid(format!(
                "The amount {} for the bill account detail {} is outside what it owes ({})",
                plain(line.amount),
                line.bill_account_detail_id,
                plain(owed)
            )));
        }
        lines.push((i, j, line.amount));
    }
    let advance = payment.advance.as_ref().filter(|a| !a.amount.is_zero());
    if let Some(a) = advance {
        if a.amount.is_negative() {
            return Err(invalid("An advance cannot be negative".into()));
        }
        if !bill.is_advance_allowed {
            return Err(invalid(format!(
                "The business service {} takes no advance",
                bill.business_service
            )));
        }
        if !bill.details.iter().any(|d| d.id == a.bill_detail_id) {
            return Err(invalid(format!(
                "The bill detail {} is not part of the bill {}",
                a.bill_detail_id, bill.id
            )));
        }
    }
    let paid = Paise::sum(lines.iter().map(|l| l.2)).map_err(money)?;
    let advance_amount = advance.map(|a| a.amount).unwrap_or(Paise::ZERO);
    let paid_with_advance = paid.checked_add(advance_amount).map_err(money)?;
    if paid_with_advance <= Paise::ZERO && bill.total_amount > Paise::ZERO {
        return Err(invalid(format!(
            "A payment of {} cannot be put on the bill {} of {}",
            plain(paid_with_advance),
            bill.id,
            plain(bill.total_amount)
        )));
    }

    // The demands: a copy of each one the payment changes.
    let mut touched: HashMap<String, Demand> = HashMap::new();
    let mut changed = BTreeSet::new();
    for &(i, j, amount) in &lines {
        if amount.is_zero() {
            continue;
        }
        let demand_id = bill.details[i].demand_id.clone();
        let head = bill.details[i].account_details[j].tax_head_code.clone();
        let demand = touch(&mut touched, demands, &demand_id, &bill.id)?;
        let left = collect(demand, &head, amount).map_err(money)?;
        if !left.is_zero() {
            return Err(DigitError::new(
                "EG_BS_PAYMENT_EXCEEDS_DEMAND",
                format!(
                    "The payment on tax head {head} is {} more than the demand {demand_id} still owes; fetch a new bill",
                    plain(left)
                ),
            ));
        }
        changed.insert(demand_id);
    }
    if let Some(a) = advance {
        let head = masters::advance_tax_head(mdms, &bill.tenant_id, &bill.business_service)
            .ok_or_else(|| {
                invalid(format!(
                    "The business service {} has no ADVANCE_COLLECTION tax head",
                    bill.business_service
                ))
            })?;
        let demand_id = bill
            .details
            .iter()
            .find(|d| d.id == a.bill_detail_id)
            .map(|d| d.demand_id.clone())
            .unwrap_or_default();
        let demand = touch(&mut touched, demands, &demand_id, &bill.id)?;
        let detail_id = new_id();
        demand.details.push(DemandDetail {
            id: detail_id.clone(),
            demand_id: demand_id.clone(),
            tenant_id: demand.tenant_id.clone(),
            tax_head_code: head,
            tax_amount: a.amount.checked_neg().map_err(money)?,
            collection_amount: Paise::ZERO,
            additional_details: None,
            audit: Audit::new(actor, now_ms),
        });
        bill.advance_amount = a.amount;
        bill.advance_demand_detail_id = Some(detail_id);
        changed.insert(demand_id);
    }
    let demands: Vec<Demand> = changed
        .iter()
        .filter_map(|id| touched.remove(id))
        .map(|demand| finished(demand, actor, now_ms))
        .collect();

    // The bill.
    for detail in &mut bill.details {
        detail.amount_paid = Paise::ZERO;
    }
    for &(i, j, amount) in &lines {
        bill.details[i].account_details[j].adjusted_amount = amount;
        bill.details[i].amount_paid = bill.details[i]
            .amount_paid
            .checked_add(amount)
            .map_err(money)?;
    }
    bill.amount_paid = paid;
    bill.status = if paid >= bill.total_amount {
        BillStatus::Paid
    } else {
        BillStatus::PartiallyPaid
    };
    bill.payment_id = Some(payment.payment_id.clone());
    bill.audit = bill.audit.touched(actor, now_ms);
    Ok(PlannedPayment {
        bill,
        demands,
        was_active,
    })
}

/// The copy of demand `id` that a payment of `bill_id` changes, taken from `demands` the
/// first time it is touched.
fn touch<'a>(
    touched: &'a mut HashMap<String, Demand>,
    demands: &HashMap<String, Demand>,
    id: &str,
    bill_id: &str,
) -> Result<&'a mut Demand, DigitError> {
    if !touched.contains_key(id) {
        let demand = demands
            .get(id)
            .ok_or_else(|| invalid(format!("The demand {id} of the bill {bill_id} is gone")))?;
        touched.insert(id.to_string(), demand.clone());
    }
    Ok(touched.get_mut(id).expect("just inserted"))
}

/// Takes the payment `payment_id` back off a bill and its demands, inside the caller's
/// transaction. Returns the bill as it now is: ACTIVE when it is still the consumer code's
/// latest bill and unexpired, else EXPIRED.
pub async fn reverse_payment(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_id: &str,
    payment_id: &str,
    actor: &str,
    now_ms: i64,
) -> Result<Bill, DigitError> {
    let mut bill = locked_bill(conn, tenant_id, bill_id).await?;
    if !bill.status.is_paid() {
        return Err(DigitError::new(
            "EG_BS_BILL_NOT_PAID",
            format!(
                "The bill {} is {} and carries no payment to reverse",
                bill.id,
                bill.status.as_str()
            ),
        ));
    }
    if bill.payment_id.as_deref() != Some(payment_id) {
        return Err(DigitError::new(
            "EG_BS_PAYMENT_MISMATCH",
            format!(
                "The bill {} was not paid by the payment {payment_id}",
                bill.id
            ),
        ));
    }

    let mut demands = bill_demands(conn, &bill).await?;
    let mut changed = BTreeSet::new();
    for detail in &bill.details {
        for account in &detail.account_details {
            if account.adjusted_amount.is_zero() {
                continue;
            }
            let demand = demands.get_mut(&detail.demand_id).ok_or_else(|| {
                invalid(format!(
                    "The demand {} of the bill {} is gone",
                    detail.demand_id, bill.id
                ))
            })?;
            let left = uncollect(demand, &account.tax_head_code, account.adjusted_amount)
                .map_err(money)?;
            if !left.is_zero() {
                return Err(invalid(format!(
                    "The demand {} no longer holds the {} the payment put on tax head {}",
                    detail.demand_id,
                    plain(account.adjusted_amount),
                    account.tax_head_code
                )));
            }
            changed.insert(detail.demand_id.clone());
        }
    }
    if let Some(advance_id) = bill.advance_demand_detail_id.clone() {
        let holder = demands
            .values_mut()
            .find(|d| d.details.iter().any(|x| x.id == advance_id));
        if let Some(demand) = holder {
            let demand_id = demand.id.clone();
            if let Some(detail) = demand.details.iter_mut().find(|x| x.id == advance_id) {
                if !detail.collection_amount.is_zero() {
                    return Err(invalid(format!(
                        "The advance of {} left by the payment {payment_id} has been used by a later payment",
                        plain(bill.advance_amount)
                    )));
                }
                detail.tax_amount = Paise::ZERO;
                detail.audit = detail.audit.touched(actor, now_ms);
            }
            changed.insert(demand_id);
        }
    }
    let mut audit = Vec::new();
    save_demands(
        conn,
        demands,
        &changed,
        Change::PaymentReversal,
        actor,
        now_ms,
        &mut audit,
    )
    .await?;
    audit_chain::insert(conn, &audit).await?;

    for detail in &mut bill.details {
        detail.amount_paid = Paise::ZERO;
        for account in &mut detail.account_details {
            account.adjusted_amount = Paise::ZERO;
        }
    }
    bill.amount_paid = Paise::ZERO;
    bill.payment_id = None;
    bill.advance_amount = Paise::ZERO;
    bill.advance_demand_detail_id = None;
    bill.audit = bill.audit.touched(actor, now_ms);
    // Any other ACTIVE bill assumed this money was paid.
    expire_others(conn, &bill, actor, now_ms).await?;
    let latest = bill_store::latest(
        conn,
        &bill.tenant_id,
        &bill.business_service,
        &bill.consumer_code,
    )
    .await?;
    let is_latest = latest.is_some_and(|(id, _)| id == bill.id);
    bill.status = if is_latest && !bill.has_expired(now_ms) {
        BillStatus::Active
    } else {
        BillStatus::Expired
    };
    bill_store::save_payment(conn, &bill).await?;
    Ok(bill)
}

/// Keeps `amount` received for a consumer code as its advance (a refund due settled
/// as ADVANCED): a new ADVANCE_COLLECTION detail with tax = −amount on the consumer code's
/// latest ACTIVE demand, which its next bills carry as a credit, as an advance paid with a
/// bill is kept. The consumer code's ACTIVE bill is expired (its amounts assumed no credit).
/// Returns the new demand detail's id.
#[allow(clippy::too_many_arguments)]
pub async fn keep_as_advance(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
    amount: Paise,
    actor: &str,
    now_ms: i64,
) -> Result<String, DigitError> {
    let refused = |why: String| DigitError::new("EG_BS_ADVANCE_NOT_ALLOWED", why);
    if amount <= Paise::ZERO {
        return Err(refused(format!(
            "An advance of {} cannot be kept",
            plain(amount)
        )));
    }
    let allowed = masters::business_service(mdms, tenant_id, business_service)
        .is_some_and(|s| s.is_advance_allowed);
    if !allowed {
        return Err(refused(format!(
            "The business service {business_service} takes no advance"
        )));
    }
    let head = masters::advance_tax_head(mdms, tenant_id, business_service).ok_or_else(|| {
        refused(format!(
            "The business service {business_service} has no ADVANCE_COLLECTION tax head"
        ))
    })?;
    demand_store::lock_consumer(conn, tenant_id, business_service, consumer_code).await?;
    let filter = demand_store::DemandFilter {
        tenant_id: tenant_id.to_string(),
        consumer_codes: Some(vec![consumer_code.to_string()]),
        business_service: Some(business_service.to_string()),
        status: Some(crate::demand::DemandStatus::Active),
        ..demand_store::DemandFilter::default()
    };
    let mut demand = demand_store::search(conn, &filter)
        .await?
        .into_iter()
        .max_by_key(|d| (d.tax_period_from, d.audit.created_ms))
        .ok_or_else(|| {
            refused(format!(
                "The consumer code {consumer_code} of {business_service} has no active demand to keep an advance on"
            ))
        })?;
    let detail_id = new_id();
    demand.details.push(DemandDetail {
        id: detail_id.clone(),
        demand_id: demand.id.clone(),
        tenant_id: demand.tenant_id.clone(),
        tax_head_code: head,
        tax_amount: amount.checked_neg().map_err(money)?,
        collection_amount: Paise::ZERO,
        additional_details: None,
        audit: Audit::new(actor, now_ms),
    });
    demand.is_payment_completed = demand.fully_collected();
    demand.audit = demand.audit.touched(actor, now_ms);
    demand_store::update(conn, &demand).await?;
    audit_chain::insert(conn, &demand_store::audit_rows(&demand, Change::Update)).await?;
    bill_store::expire_active(
        conn,
        tenant_id,
        business_service,
        consumer_code,
        None,
        actor,
        now_ms,
    )
    .await?;
    Ok(detail_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demand::DemandStatus;

    fn detail(id: &str, head: &str, tax: i64, collected: i64) -> DemandDetail {
        DemandDetail {
            id: id.into(),
            demand_id: "d".into(),
            tenant_id: "pb.amritsar".into(),
            tax_head_code: head.into(),
            tax_amount: Paise::new(tax),
            collection_amount: Paise::new(collected),
            additional_details: None,
            audit: Audit::new("x", 0),
        }
    }

    fn demand(details: Vec<DemandDetail>) -> Demand {
        Demand {
            id: "d".into(),
            tenant_id: "pb.amritsar".into(),
            consumer_code: "c".into(),
            consumer_type: "t".into(),
            business_service: "PT".into(),
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
            details,
        }
    }

    #[test]
    fn collect_fills_smallest_tax_first_and_reports_the_excess() {
        let mut d = demand(vec![
            detail("a", "PT_TAX", 5000, 0),
            detail("b", "PT_TAX", 1000, 0),
            detail("c", "PT_CESS", 700, 0),
        ]);
        assert_eq!(
            collect(&mut d, "PT_TAX", Paise::new(3000)),
            Ok(Paise::new(0))
        );
        assert_eq!(d.details[1].collection_amount, Paise::new(1000));
        assert_eq!(d.details[0].collection_amount, Paise::new(2000));
        assert_eq!(d.details[2].collection_amount, Paise::new(0));
        assert_eq!(
            collect(&mut d, "PT_TAX", Paise::new(3500)),
            Ok(Paise::new(500))
        );
        assert_eq!(d.details[0].collection_amount, Paise::new(5000));
    }

    #[test]
    fn uncollect_undoes_collect() {
        let original = demand(vec![
            detail("a", "PT_TAX", 5000, 0),
            detail("b", "PT_TAX", 1000, 0),
            detail("r", "PT_TIME_REBATE", -500, 0),
        ]);
        let mut d = original.clone();
        assert_eq!(
            collect(&mut d, "PT_TAX", Paise::new(4000)),
            Ok(Paise::new(0))
        );
        assert_eq!(
            collect(&mut d, "PT_TIME_REBATE", Paise::new(-500)),
            Ok(Paise::new(0))
        );
        assert_eq!(d.details[2].collection_amount, Paise::new(-500));
        assert_eq!(
            uncollect(&mut d, "PT_TIME_REBATE", Paise::new(-500)),
            Ok(Paise::new(0))
        );
        assert_eq!(
            uncollect(&mut d, "PT_TAX", Paise::new(4000)),
            Ok(Paise::new(0))
        );
        assert_eq!(d, original);
        assert_eq!(
            uncollect(&mut d, "PT_TAX", Paise::new(1)),
            Ok(Paise::new(1))
        );
    }

    #[test]
    fn collect_refuses_what_cannot_be_computed() {
        let mut d = demand(vec![detail("a", "PT_TAX", i64::MAX, -5)]);
        assert_eq!(
            collect(&mut d, "PT_TAX", Paise::new(10)),
            Err(MoneyError::Overflow)
        );
    }
}
