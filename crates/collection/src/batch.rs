//! Making many payments in one database transaction, with a few statements per table for
//! the whole batch instead of a score per payment.
//!
//! The payments that arrive together ([`crate::queue`] gathers them) are made like this:
//! 1. the checks that need no bill ([`service::check_alone`]);
//! 2. per tenant, the consumer codes of all their bills are locked with one statement, and
//!    then, under those locks, the bills, the bills already paid, the online holds and the
//!    demands are read with one statement each;
//! 3. each payment is checked against those rows and apportioned, in arrival order, in
//!    memory ([`kosh_billing::plan_payment`]); a refused payment is answered with its error
//!    and writes nothing;
//! 4. receipt numbers: one counter advance per (tenant, receipt format) hands out the numbers
//!    of every payment of the batch, gapless, in arrival order;
//! 5. the writes: demands, bills, payments and their details, one multi-row statement per
//!    table; one audit-chain append per tenant; the events in one insert.
//!
//! Each payment sees the rows as the payments before it in the batch left them, because no
//! two payments of one batch touch one consumer code: a payment whose bill or consumer code
//! an earlier payment of the batch has taken is [`Outcome::Deferred`] to the next batch,
//! where it reads what the first one wrote (a second payment of a bill is then refused as
//! already paid, exactly as if it had come alone).

use std::collections::{BTreeMap, HashMap, HashSet};

use kosh_billing::bill::{Bill, store as bill_store};
use kosh_billing::demand::Demand;
use kosh_billing::demand::store as demand_store;
use kosh_billing::payment::demands_of_bills;
use kosh_billing::{AccountDetailPayment, AdvancePayment, BillPayment, PlannedPayment};
use kosh_idgen::IdRequest;
use kosh_mdms::Mdms;
use kosh_platform::money::Paise;
use kosh_platform::{AuthUser, Clock, DigitError, audit_chain, outbox};
use serde_json::json;
use sqlx::AnyConnection;

use crate::apportion;
use crate::command::{Channel, NewPayment};
use crate::hold::{self, Hold};
use crate::mode::PaymentMode;
use crate::model::Payment;
use crate::service::{self, CreatedPayment, PaymentOptions, Prepared};
use crate::store;

/// One payment to make.
pub struct Order<'a> {
    pub requester: &'a AuthUser,
    pub command: &'a NewPayment,
    pub options: &'a PaymentOptions,
}

/// What became of one payment of a batch.
#[derive(Debug)]
pub enum Outcome {
    /// Made; durable once the caller's transaction commits.
    Made(CreatedPayment),
    /// Refused with this error; nothing of it is written.
    Refused(DigitError),
    /// Not tried: an earlier payment of the batch takes one of its bills or consumer codes.
    /// Make it in a later transaction, after this one commits.
    Deferred,
}

/// What a batch reads of one tenant, under its consumer codes' locks.
#[derive(Default)]
struct TenantRows {
    bills: HashMap<String, Bill>,
    paid: HashSet<String>,
    holds: Vec<Hold>,
    demands: HashMap<String, Demand>,
}

/// A payment worked out in memory, not yet written.
struct Planned {
    index: usize,
    payment: Payment,
    bills: Vec<PlannedPayment>,
    prepared: Prepared,
}

/// Makes `orders` inside the caller's transaction and answers each, in order. An `Err` is a
/// failure of the batch as a whole (the database): the caller rolls back, and may make the
/// payments one by one to find which one it was.
pub async fn make_payments(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    orders: &[Order<'_>],
) -> Result<Vec<Outcome>, DigitError> {
    let mut outcomes: Vec<Option<Outcome>> = orders.iter().map(|_| None).collect();
    defer_repeated_bills(mdms, orders, &mut outcomes);
    let mut rows = read_locked(conn, orders, &outcomes).await?;
    defer_repeated_consumers(orders, &rows, &mut outcomes);
    read_demands(conn, orders, &outcomes, &mut rows).await?;

    let now = clock.now_ms();
    let mut planned: Vec<Planned> = Vec::new();
    for (index, order) in orders.iter().enumerate() {
        if outcomes[index].is_some() {
            continue;
        }
        let tenant = &order.command.input.tenant_id;
        let empty = TenantRows::default();
        let of_tenant = rows.get(tenant).unwrap_or(&empty);
        match plan(mdms, clock, order, of_tenant, now) {
            Ok((payment, bills, prepared)) => planned.push(Planned {
                index,
                payment,
                bills,
                prepared,
            }),
            Err(error) => outcomes[index] = Some(Outcome::Refused(error)),
        }
    }
    let mut answers = Vec::new();
    if !planned.is_empty() {
        number_receipts(conn, mdms, clock, &mut planned).await?;
        answers = write(conn, orders, &planned, now).await?;
    }
    for (p, json) in planned.into_iter().zip(answers) {
        let created = CreatedPayment {
            id: p.payment.id.clone(),
            receipt_numbers: p
                .payment
                .details
                .iter()
                .map(|d| d.receipt_number.clone())
                .collect(),
            payment: json,
        };
        outcomes[p.index] = Some(Outcome::Made(created));
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Deferred))
        .collect())
}

/// Refuses what fails the checks that need no bill, and defers a payment naming a bill an
/// earlier payment of the batch names.
fn defer_repeated_bills(mdms: &Mdms, orders: &[Order<'_>], outcomes: &mut [Option<Outcome>]) {
    let mut taken: HashSet<(&str, &str)> = HashSet::new();
    for (i, order) in orders.iter().enumerate() {
        if let Err(error) = service::check_alone(mdms, order.command) {
            outcomes[i] = Some(Outcome::Refused(error));
            continue;
        }
        let tenant = order.command.input.tenant_id.as_str();
        let bills: Vec<(&str, &str)> = order
            .command
            .input
            .details
            .iter()
            .map(|d| (tenant, d.bill_id.as_str()))
            .collect();
        if bills.iter().any(|b| taken.contains(b)) {
            outcomes[i] = Some(Outcome::Deferred);
        } else {
            taken.extend(bills);
        }
    }
}

/// The payments still to be made, by tenant, with their bill ids sorted.
fn live_bills_by_tenant<'o>(
    orders: &'o [Order<'_>],
    outcomes: &[Option<Outcome>],
) -> BTreeMap<&'o str, Vec<String>> {
    let mut by_tenant: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (order, _) in orders.iter().zip(outcomes).filter(|(_, o)| o.is_none()) {
        by_tenant
            .entry(order.command.input.tenant_id.as_str())
            .or_default()
            .extend(service::bill_ids(order.command));
    }
    for ids in by_tenant.values_mut() {
        ids.sort();
        ids.dedup();
    }
    by_tenant
}

/// Locks the consumer codes of every bill still to be paid, then reads, under those locks,
/// the bills, which of them already carry a live payment, and their online holds: one
/// statement each per tenant.
async fn read_locked(
    conn: &mut AnyConnection,
    orders: &[Order<'_>],
    outcomes: &[Option<Outcome>],
) -> Result<HashMap<String, TenantRows>, DigitError> {
    let mut rows = HashMap::new();
    for (tenant, ids) in live_bills_by_tenant(orders, outcomes) {
        demand_store::lock_consumers_of_bills(conn, tenant, &ids).await?;
        let bills = bill_store::load(conn, tenant, &ids).await?;
        let paid = store::paid_bill_ids(conn, tenant, &ids).await?;
        let counter = orders.iter().zip(outcomes).any(|(o, outcome)| {
            outcome.is_none()
                && o.command.input.tenant_id == tenant
                && matches!(o.command.channel, Channel::Counter { .. })
        });
        let holds = if counter {
            hold::on_bills(conn, tenant, &ids).await?
        } else {
            Vec::new()
        };
        rows.insert(
            tenant.to_string(),
            TenantRows {
                bills: bills.into_iter().map(|b| (b.id.clone(), b)).collect(),
                paid: paid.into_iter().collect(),
                holds,
                demands: HashMap::new(),
            },
        );
    }
    Ok(rows)
}

/// Defers a payment with a bill of a consumer code that an earlier payment of the batch
/// pays too: the two change the same demands, so the later one reads the earlier one's
/// writes in the next batch.
fn defer_repeated_consumers(
    orders: &[Order<'_>],
    rows: &HashMap<String, TenantRows>,
    outcomes: &mut [Option<Outcome>],
) {
    let mut taken: HashSet<(String, String, String)> = HashSet::new();
    for (i, order) in orders.iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        let tenant = &order.command.input.tenant_id;
        let Some(of_tenant) = rows.get(tenant) else {
            continue;
        };
        let keys: Vec<(String, String, String)> = order
            .command
            .input
            .details
            .iter()
            .filter_map(|d| of_tenant.bills.get(&d.bill_id))
            .map(|b| {
                (
                    b.tenant_id.clone(),
                    b.business_service.clone(),
                    b.consumer_code.clone(),
                )
            })
            .collect();
        if keys.iter().any(|k| taken.contains(k)) {
            outcomes[i] = Some(Outcome::Deferred);
        } else {
            taken.extend(keys);
        }
    }
}

/// The demands behind the bills still to be paid: one read per tenant.
async fn read_demands(
    conn: &mut AnyConnection,
    orders: &[Order<'_>],
    outcomes: &[Option<Outcome>],
    rows: &mut HashMap<String, TenantRows>,
) -> Result<(), DigitError> {
    for (tenant, ids) in live_bills_by_tenant(orders, outcomes) {
        let Some(of_tenant) = rows.get_mut(tenant) else {
            continue;
        };
        let bills: Vec<&Bill> = ids
            .iter()
            .filter_map(|id| of_tenant.bills.get(id))
            .collect();
        of_tenant.demands = demands_of_bills(conn, tenant, &bills).await?;
    }
    Ok(())
}

/// Checks one payment against the rows read under the locks, drafts it, and works out what
/// it does to each bill and its demands, in memory.
fn plan(
    mdms: &Mdms,
    clock: &Clock,
    order: &Order<'_>,
    rows: &TenantRows,
    now: i64,
) -> Result<(Payment, Vec<PlannedPayment>, Prepared), DigitError> {
    let command = order.command;
    let ids = service::bill_ids(command);
    let bills: Vec<Bill> = ids
        .iter()
        .filter_map(|id| rows.bills.get(id).cloned())
        .collect();
    let paid: Vec<String> = ids
        .iter()
        .filter(|id| rows.paid.contains(*id))
        .cloned()
        .collect();
    let prepared = service::check_order(
        mdms,
        clock,
        order.requester,
        command,
        order.options,
        bills,
        &paid,
        &rows.holds,
    )?;
    // Time-ordered, as every row id kosh makes (see kosh_billing::demand::new_id).
    let id = uuid::Uuid::now_v7().to_string();
    let txn_number = (prepared.input.mode == PaymentMode::Cash)
        .then(|| service::cash_transaction_number(&prepared.input.tenant_id));
    let payment = service::draft(
        &prepared,
        order.requester,
        now,
        order.options,
        id.clone(),
        txn_number,
    )?;
    // Two bills of one payment may share demands (an EXPIRED bill and the newer one of
    // its consumer code): each bill then sees what the one before it put on them.
    let mut after_earlier: Option<HashMap<String, Demand>> =
        (payment.details.len() > 1).then(|| rows.demands.clone());
    let mut by_bill: Vec<&crate::model::PaymentDetail> = payment.details.iter().collect();
    by_bill.sort_by(|a, b| a.bill_id.cmp(&b.bill_id));
    let mut planned = Vec::with_capacity(by_bill.len());
    for detail in by_bill {
        let bill = prepared
            .bills
            .iter()
            .find(|b| b.id == detail.bill_id)
            .expect("bill checked");
        let share = bill_share(mdms, bill, &id, detail.amount_paid)?;
        let demands = after_earlier.as_ref().unwrap_or(&rows.demands);
        let one = kosh_billing::plan_payment(
            mdms,
            bill.clone(),
            demands,
            &share,
            &order.requester.uuid,
            now,
        )?;
        if let Some(demands) = after_earlier.as_mut() {
            for demand in &one.demands {
                demands.insert(demand.id.clone(), demand.clone());
            }
        }
        planned.push(one);
    }
    Ok((payment, planned, prepared))
}

/// DIGIT's apportionment of `amount` over `bill`'s tax heads, as billing takes it.
fn bill_share(
    mdms: &Mdms,
    bill: &Bill,
    payment_id: &str,
    amount: Paise,
) -> Result<BillPayment, DigitError> {
    let split = apportion::apportion(
        &service::periods(mdms, bill),
        amount,
        bill.is_advance_allowed,
    )
    .map_err(|e| {
        DigitError::new(
            "APPORTIONING_ERROR",
            format!("The payment of bill {} cannot be apportioned: {e}", bill.id),
        )
    })?;
    let mut per_head: BTreeMap<String, Paise> = BTreeMap::new();
    for adjustment in &split.adjustments {
        let head = per_head.entry(adjustment.head_id.clone()).or_default();
        *head = head
            .checked_add(adjustment.adjusted_now)
            .map_err(|e| service::amount_error(&e))?;
    }
    Ok(BillPayment {
        tenant_id: bill.tenant_id.clone(),
        bill_id: bill.id.clone(),
        payment_id: payment_id.to_string(),
        account_details: per_head
            .into_iter()
            .map(|(bill_account_detail_id, amount)| AccountDetailPayment {
                bill_account_detail_id,
                amount,
            })
            .collect(),
        advance: split
            .new_advance
            .map(|(bill_detail_id, amount)| AdvancePayment {
                bill_detail_id,
                amount,
            }),
    })
}

/// Gives every detail of every planned payment its receipt number, with one counter advance
/// per (tenant, receipt id name) for the whole batch: payments in arrival order, each one's
/// bills in id order. Then each detail takes its bill as paid, and the books are checked.
async fn number_receipts(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    planned: &mut [Planned],
) -> Result<(), DigitError> {
    // (tenant, id name) → the (payment, detail) positions that take its numbers, in order.
    let mut wanted: BTreeMap<(String, String), Vec<(usize, usize)>> = BTreeMap::new();
    for (p, planned_payment) in planned.iter().enumerate() {
        let details = &planned_payment.payment.details;
        let mut by_bill: Vec<usize> = (0..details.len()).collect();
        by_bill.sort_by(|&a, &b| details[a].bill_id.cmp(&details[b].bill_id));
        for d in by_bill {
            let tenant = &planned_payment.payment.tenant_id;
            let name = service::receipt_id_name(mdms, tenant, &details[d].business_service);
            wanted
                .entry((tenant.clone(), name))
                .or_default()
                .push((p, d));
        }
    }
    // Counter rows in one order for every batch (two batches of different services and
    // cities would otherwise lock two counters in opposite orders: a deadlock).
    let mut groups = Vec::with_capacity(wanted.len());
    for ((tenant, id_name), positions) in wanted {
        let counters = kosh_idgen::counters(mdms, &receipts(&tenant, &id_name, 0))?;
        groups.push((counters, tenant, id_name, positions));
    }
    groups.sort();
    for (_, tenant, id_name, positions) in groups {
        let count = u32::try_from(positions.len()).unwrap_or(u32::MAX);
        let request = receipts(&tenant, &id_name, count);
        let numbers = kosh_idgen::generate(conn, mdms, clock, &request).await?;
        if numbers.len() != positions.len() {
            return Err(DigitError::new(
                "RECEIPT_NUMBER_ERROR",
                "No receipt number was generated",
            ));
        }
        for ((p, d), number) in positions.into_iter().zip(numbers) {
            planned[p].payment.details[d].receipt_number = number;
        }
    }
    for p in planned.iter_mut() {
        for detail in &mut p.payment.details {
            let paid_bill = &p
                .bills
                .iter()
                .find(|b| b.bill.id == detail.bill_id)
                .expect("every detail's bill is planned")
                .bill;
            detail.bill = service::bill_json(paid_bill, &p.prepared.payer);
            if let Some(object) = detail.bill.as_object_mut() {
                object.insert("amountPaid".into(), detail.amount_paid.rupees_json());
            }
        }
        service::check_books(&p.payment)?;
    }
    Ok(())
}

/// `count` receipt numbers of `id_name` at `tenant_id`, in DIGIT's default receipt format
/// when MDMS names none.
fn receipts<'a>(tenant_id: &'a str, id_name: &'a str, count: u32) -> IdRequest<'a> {
    IdRequest {
        id_name,
        tenant_id,
        format: Some(service::DEFAULT_RECEIPT_FORMAT),
        count,
    }
}

/// Writes every planned payment: demands and bills, the payments, one chain append per
/// tenant for the demands' and payments' audit rows, and the events. Returns each payment's
/// JSON, in order: the one its event carries is the one its caller is answered with.
async fn write(
    conn: &mut AnyConnection,
    orders: &[Order<'_>],
    planned: &[Planned],
    now: i64,
) -> Result<Vec<serde_json::Value>, DigitError> {
    let bills: Vec<PlannedPayment> = planned.iter().flat_map(|p| p.bills.clone()).collect();
    let mut audit = Vec::new();
    kosh_billing::write_payments(conn, &bills, &mut audit).await?;
    let payments: Vec<Payment> = planned.iter().map(|p| p.payment.clone()).collect();
    if !store::insert_many(conn, &payments).await? {
        // The consumer codes' locks make this impossible unless a bill was paid outside
        // them; the caller makes the batch's payments one by one and this one is refused.
        return Err(DigitError::new(
            "BILL_ALREADY_PAID",
            "Bill has already been paid or is in pending state",
        ));
    }
    let mut events = Vec::with_capacity(planned.len());
    let mut answers = Vec::with_capacity(planned.len());
    for p in planned {
        let requester = orders[p.index].requester;
        audit.push(store::audit_row(&p.payment, "CREATE", &requester.uuid, now));
        if !p.prepared.overridden_holds.is_empty() {
            audit.push(store::audit_row(
                &p.payment,
                "OVERRIDE_ONLINE_HOLD",
                &requester.uuid,
                now,
            ));
        }
        let info = service::event_request_info(&orders[p.index].command.request_info, requester);
        let payment = p.payment.to_json();
        events.push(json!({"RequestInfo": info, "Payment": payment}));
        answers.push(payment);
    }
    audit_chain::insert_batch(conn, &audit).await?;
    let records: Vec<outbox::Event<'_>> = planned
        .iter()
        .zip(&events)
        .map(|(p, payload)| outbox::Event {
            tenant_id: &p.payment.tenant_id,
            topic: service::TOPIC_CREATE,
            event_key: &p.payment.id,
            payload,
        })
        .collect();
    outbox::record_many(conn, &records, now).await?;
    Ok(answers)
}
