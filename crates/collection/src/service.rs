//! Making a payment: DIGIT's validation, apportionment over each bill, the demand and bill
//! back-update, receipt numbers, the payment rows, its audit row and its outbox event — all
//! on the caller's open transaction, so they commit together or not at all. The HTTP
//! handlers (crates/collection/src/api.rs) and the payment-gateway service call these.

use kosh_billing::bill::{Bill, BillStatus, store as bill_store};
use kosh_mdms::Mdms;
use kosh_platform::error::ErrorMap;
use kosh_platform::money::Paise;
use kosh_platform::{AuthUser, Clock, DigitError, RequestInfo};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::apportion::{Head, Period};
use crate::batch::{self, Order, Outcome};
use crate::command::{Channel, NewPayment};
use crate::hold;
use crate::model::{Audit, Payment, PaymentDetail};
use crate::store;
use crate::validate::{self, BillView, Expiry, PaymentInput};
use crate::wire::{PayerFields, PaymentRequest};

pub const TOPIC_CREATE: &str = "egov.collection.payment-create";
pub const TOPIC_CANCEL: &str = "egov.collection.payment-cancel";

/// DIGIT's receipt format when the business service has none of its own.
pub const DEFAULT_RECEIPT_FORMAT: &str = "[cy:MM]/[fy:yyyy-yy]/[SEQ_COLL_RCPT_NUM]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentOptions {
    pub expiry: Expiry,
    /// The receipt and transaction date to record; now when `None`. The payment-gateway
    /// service passes its transaction's creation time.
    pub receipt_date_ms: Option<i64>,
}

impl Default for PaymentOptions {
    fn default() -> Self {
        PaymentOptions {
            expiry: Expiry::Enforced,
            receipt_date_ms: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreatedPayment {
    pub id: String,
    pub payment: Value,
    /// One per payment detail, in the request's order.
    pub receipt_numbers: Vec<String>,
}

/// The checked request and the bills it pays.
pub(crate) struct Prepared {
    pub(crate) input: PaymentInput,
    pub(crate) payer: PayerFields,
    pub(crate) bills: Vec<Bill>,
    /// The online transactions whose hold on these bills an employee overrode.
    pub(crate) overridden_holds: Vec<String>,
}

fn view(bill: &Bill) -> BillView {
    BillView {
        id: bill.id.clone(),
        bill_number: bill.bill_number.clone().unwrap_or_default(),
        business_service: bill.business_service.clone(),
        status: bill.status.as_str().to_string(),
        total_amount: bill.total_amount,
        part_payment_allowed: bill.part_payment_allowed,
        advance_allowed: bill.is_advance_allowed,
        minimum_amount: bill.minimum_amount_to_be_paid,
        modes_not_allowed: bill.collection_modes_not_allowed.clone(),
        expiry: bill.details.iter().map(|d| d.expiry_date).min(),
        has_details: !bill.details.is_empty(),
    }
}

async fn prepare(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    payment: &NewPayment,
    options: &PaymentOptions,
) -> Result<Prepared, DigitError> {
    check_alone(mdms, payment)?;
    let tenant_id = &payment.input.tenant_id;
    let bill_ids: Vec<String> = bill_ids(payment);
    let bills = bill_store::load(conn, tenant_id, &bill_ids).await?;
    let paid = store::paid_bill_ids(conn, tenant_id, &bill_ids).await?;
    let holds = match payment.channel {
        Channel::Counter { .. } => hold::on_bills(conn, tenant_id, &bill_ids).await?,
        _ => Vec::new(),
    };
    check_order(
        mdms, clock, requester, payment, options, bills, &paid, &holds,
    )
}

/// The bills a payment names, in its order.
pub(crate) fn bill_ids(payment: &NewPayment) -> Vec<String> {
    payment
        .input
        .details
        .iter()
        .map(|d| d.bill_id.clone())
        .collect()
}

/// The checks of a payment that need no bill: its payer, no bill twice, a known tenant.
pub(crate) fn check_alone(mdms: &Mdms, payment: &NewPayment) -> Result<(), DigitError> {
    if !matches!(payment.channel, Channel::Counter { .. }) {
        payment.check_payer()?;
    }
    validate::check_repeated_bills(&payment.input)?;
    if !mdms.is_known_tenant(&payment.input.tenant_id) {
        return Err(DigitError::new("INVALID_TENANT_ID", "Invalid Tenant Id"));
    }
    Ok(())
}

/// Every check of a payment against its bills (read under their consumer codes' locks when
/// the payment is to be made), the bills that already carry a live payment, and the online
/// holds on them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_order(
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    payment: &NewPayment,
    options: &PaymentOptions,
    bills: Vec<Bill>,
    paid: &[String],
    holds: &[hold::Hold],
) -> Result<Prepared, DigitError> {
    let input = payment.input.clone();
    let views: Vec<BillView> = bills.iter().map(view).collect();
    validate::check_bills_found(&input, &views)?;
    for bill in &bills {
        if kosh_billing::masters::business_service(mdms, &bill.tenant_id, &bill.business_service)
            .is_none()
        {
            return Err(DigitError::new(
                "INVALID_BILL_BUSINESSSERVICE",
                format!(
                    "The business service {} of bill {} is not in master data",
                    bill.business_service, bill.id
                ),
            ));
        }
    }
    let mut errors = ErrorMap::new();
    validate::check_instrument(&input, clock.now_ms(), &mut errors);
    validate::check_against_bills(
        &input,
        &views,
        paid,
        clock.now_ms(),
        options.expiry,
        &mut errors,
    );
    errors.into_result()?;
    let overridden_holds = check_holds(requester, payment, &bills, holds)?;
    Ok(Prepared {
        input,
        payer: payment.payer.clone(),
        bills,
        overridden_holds,
    })
}

/// A counter payment of a bill that an online payment holds is refused, naming the
/// transaction, unless an employee overrides the hold; the overridden transactions are
/// returned for the audit. The online transaction's own receipt and BBPS postings are not
/// held back. `holds` may name other payments' bills too.
fn check_holds(
    requester: &AuthUser,
    payment: &NewPayment,
    bills: &[Bill],
    holds: &[hold::Hold],
) -> Result<Vec<String>, DigitError> {
    let Channel::Counter { override_hold } = payment.channel else {
        return Ok(Vec::new());
    };
    let holds: Vec<&hold::Hold> = holds
        .iter()
        .filter(|h| bills.iter().any(|b| b.id == h.bill_id))
        .collect();
    let Some(first) = holds.first() else {
        return Ok(Vec::new());
    };
    if override_hold && requester.user_type.eq_ignore_ascii_case("EMPLOYEE") {
        tracing::warn!(user = %requester.uuid, txns = ?holds.iter().map(|h| &h.holder_ref).collect::<Vec<_>>(),
            "counter payment overrides a pending online payment");
        metrics::counter!("kosh_collection_hold_overrides_total").increment(1);
        let mut refs: Vec<String> = holds.iter().map(|h| h.holder_ref.clone()).collect();
        refs.dedup();
        return Ok(refs);
    }
    let number = bills
        .iter()
        .find(|b| b.id == first.bill_id)
        .and_then(|b| b.bill_number.clone())
        .unwrap_or_else(|| first.bill_id.clone());
    Err(hold::refusal(first, &number))
}

/// DIGIT's `_validate`: every check of a payment, nothing written. Answers the payment as
/// it would be made, without receipt numbers.
pub async fn validate(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    request: &PaymentRequest,
    options: &PaymentOptions,
) -> Result<Value, DigitError> {
    let payment = NewPayment::from_request(request)?;
    validate_payment(conn, mdms, clock, requester, &payment, options).await
}

/// [`validate`] of a payment another service would make (the payment gateway's provisional
/// check at `_create`).
pub async fn validate_payment(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    payment: &NewPayment,
    options: &PaymentOptions,
) -> Result<Value, DigitError> {
    let prepared = prepare(conn, mdms, clock, requester, payment, options).await?;
    let now = clock.now_ms();
    let payment = draft(
        &prepared,
        requester,
        now,
        options,
        uuid::Uuid::now_v7().to_string(),
        None,
    )?;
    Ok(payment.to_json())
}

/// The payment before its bills are touched.
pub(crate) fn draft(
    prepared: &Prepared,
    requester: &AuthUser,
    now: i64,
    options: &PaymentOptions,
    id: String,
    txn_number: Option<String>,
) -> Result<Payment, DigitError> {
    let input = &prepared.input;
    let date = options.receipt_date_ms.unwrap_or(now);
    let actor = requester.uuid.clone();
    let details = input
        .details
        .iter()
        .zip(&prepared.payer.detail_extras)
        .map(|(d, extra)| {
            let bill = prepared
                .bills
                .iter()
                .find(|b| b.id == d.bill_id)
                .expect("bill checked");
            PaymentDetail {
                id: uuid::Uuid::now_v7().to_string(),
                tenant_id: input.tenant_id.clone(),
                payment_id: id.clone(),
                due: bill.total_amount,
                amount_paid: d.total_amount_paid,
                receipt_number: String::new(),
                receipt_date: date,
                receipt_type: "BILLBASED".into(),
                business_service: bill.business_service.clone(),
                bill_id: bill.id.clone(),
                consumer_code: bill.consumer_code.clone(),
                manual_receipt_number: extra.manual_receipt_number.clone(),
                manual_receipt_date: extra.manual_receipt_date,
                additional_details: extra.additional_details.clone(),
                bill: bill_json(bill, &prepared.payer),
                live: true,
                audit: Audit::new(&actor, now),
            }
        })
        .collect();
    let mode = input.mode;
    let total_due =
        Paise::sum(prepared.bills.iter().map(|b| b.total_amount)).map_err(|e| amount_error(&e))?;
    let mut additional_details = prepared.payer.additional_details.clone();
    if !prepared.overridden_holds.is_empty() {
        let mut object = additional_details
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        object["overriddenOnlineTransactions"] = json!(prepared.overridden_holds);
        additional_details = Some(object);
    }
    Ok(Payment {
        id,
        tenant_id: input.tenant_id.clone(),
        total_due,
        total_amount_paid: input.total_amount_paid,
        transaction_number: txn_number.or_else(|| input.transaction_number.clone()),
        transaction_date: date,
        payment_mode: mode.as_str().into(),
        instrument_date: if mode.instrument_dated_now() {
            Some(date)
        } else {
            input.instrument_date
        },
        instrument_number: input.instrument_number.clone(),
        instrument_status: mode.initial_instrument_status().into(),
        ifsc_code: prepared.payer.ifsc_code.clone(),
        additional_details,
        paid_by: prepared.payer.paid_by.clone(),
        mobile_number: prepared.payer.mobile_number.clone(),
        payer_name: prepared.payer.payer_name.clone(),
        payer_address: prepared.payer.payer_address.clone(),
        payer_email: prepared.payer.payer_email.clone(),
        payer_id: payer_id(prepared, requester),
        payment_status: mode.initial_payment_status().into(),
        file_store_id: None,
        audit: Audit::new(&actor, now),
        details,
    })
}

/// An amount that cannot be computed is a refusal of the payment, never a wrap.
pub(crate) fn amount_error(e: &kosh_platform::money::MoneyError) -> DigitError {
    DigitError::new(
        "INVALID_PAYMENT_AMOUNT",
        format!("The payment's amounts cannot be accepted: {e}"),
    )
}

/// A citizen pays for themselves; otherwise the payer given, else the bill's payer.
fn payer_id(prepared: &Prepared, requester: &AuthUser) -> Option<String> {
    if requester.is_citizen() {
        return Some(requester.uuid.clone());
    }
    prepared
        .payer
        .payer_id
        .clone()
        .or_else(|| prepared.bills.first().and_then(|b| b.user_id.clone()))
}

/// The bill in collection's shape: billing's bill plus the payer fields collection adds.
pub(crate) fn bill_json(bill: &Bill, payer: &PayerFields) -> Value {
    let mut json = bill.to_json();
    if let Some(object) = json.as_object_mut() {
        object.insert("paidBy".into(), json!(payer.paid_by));
        object.insert("payerId".into(), json!(bill.user_id));
        object.insert(
            "isCancelled".into(),
            json!(bill.status == BillStatus::Cancelled),
        );
        object.insert("reasonForCancellation".into(), Value::Null);
    }
    json
}

/// The periods of a bill as apportionment sees them.
pub(crate) fn periods(mdms: &Mdms, bill: &Bill) -> Vec<Period> {
    let advance =
        kosh_billing::masters::advance_tax_heads(mdms, &bill.tenant_id, &bill.business_service);
    bill.details
        .iter()
        .map(|d| Period {
            id: d.id.clone(),
            from_period: d.from_period,
            heads: d
                .account_details
                .iter()
                .map(|a| Head {
                    id: a.id.clone(),
                    tax_head_code: a.tax_head_code.clone(),
                    amount: a.amount,
                    adjusted: a.adjusted_amount,
                    order: a.order,
                    is_advance: advance.contains(&a.tax_head_code),
                })
                .collect(),
        })
        .collect()
}

/// The id name of a receipt number of `service`: the business service's own format
/// (`<service>.receipt.id` in IdFormat), else DIGIT's default.
pub(crate) fn receipt_id_name(mdms: &Mdms, tenant_id: &str, service: &str) -> String {
    let service_id = format!("{}.receipt.id", service.to_ascii_lowercase());
    if kosh_idgen::mdms_format(mdms, tenant_id, &service_id).is_some() {
        service_id
    } else {
        "receipt.id".to_string()
    }
}

/// DIGIT's CASH transaction number: the city part of the tenant and ten random digits.
pub(crate) fn cash_transaction_number(tenant_id: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let digits: String = (0..10)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    format!("{}{digits}", kosh_platform::tenant::city_part(tenant_id))
}

/// Makes the payment `payments/_create` asked for, inside the caller's transaction.
pub async fn create(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    request: &PaymentRequest,
    options: &PaymentOptions,
) -> Result<CreatedPayment, DigitError> {
    let payment = NewPayment::from_request(request)?;
    create_payment(conn, mdms, clock, requester, &payment, options).await
}

/// Makes a payment, inside the caller's transaction: the counter's, an online
/// transaction's receipt, a BBPS posting's. A refusal is an error (the caller rolls back).
pub async fn create_payment(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    requester: &AuthUser,
    command: &NewPayment,
    options: &PaymentOptions,
) -> Result<CreatedPayment, DigitError> {
    let order = Order {
        requester,
        command,
        options,
    };
    match batch::make_payments(conn, mdms, clock, std::slice::from_ref(&order))
        .await?
        .pop()
    {
        Some(Outcome::Made(created)) => Ok(created),
        Some(Outcome::Refused(error)) => Err(error),
        // One payment alone is never deferred; no answer is a fault in kosh.
        Some(Outcome::Deferred) | None => {
            let id = uuid::Uuid::now_v7().to_string();
            tracing::error!(correlation = %id, "a payment made alone was not answered");
            Err(DigitError::internal(&id))
        }
    }
}

/// The books of a payment about to be written: every amount within the ceiling, the
/// details adding up to the payment's total, one receipt number per detail. A failure here
/// is a bug in kosh, refused rather than written.
pub(crate) fn check_books(payment: &Payment) -> Result<(), DigitError> {
    let broken = |why: String| {
        tracing::error!(payment = %payment.id, %why, "a payment's books do not add up; refused");
        DigitError::new(
            "PAYMENT_BOOKS_INVALID",
            format!("The payment cannot be recorded: {why}"),
        )
    };
    let total = Paise::sum(payment.details.iter().map(|d| d.amount_paid))
        .map_err(|e| broken(e.to_string()))?;
    if total != payment.total_amount_paid {
        return Err(broken(format!(
            "its details add up to {} paise, not its total of {}",
            total.get(),
            payment.total_amount_paid.get()
        )));
    }
    payment
        .total_amount_paid
        .payable()
        .and_then(Paise::total_within_ceiling)
        .map_err(|e| broken(e.to_string()))?;
    for detail in &payment.details {
        detail
            .amount_paid
            .payable()
            .map_err(|e| broken(e.to_string()))?;
        if detail.receipt_number.is_empty() {
            return Err(broken(format!(
                "bill {} has no receipt number",
                detail.bill_id
            )));
        }
    }
    Ok(())
}

/// The RequestInfo carried by events: the caller's, with the authenticated user.
pub fn request_info(request: &PaymentRequest, requester: &AuthUser) -> Value {
    event_request_info(&request.request_info.clone().unwrap_or_default(), requester)
}

pub(crate) fn event_request_info(info: &RequestInfo, requester: &AuthUser) -> Value {
    let mut info = info.clone();
    info.auth_token = None;
    info.user_info = Some(requester.user_info());
    serde_json::to_value(info).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_heads_come_from_master_data_not_from_their_names() {
        let mdms = Mdms::from_files(&kosh_mdms::embedded_demo_files()).expect("master data");
        let ws = kosh_billing::masters::advance_tax_heads(&mdms, "pb.amritsar", "WS");
        assert!(ws.contains("WS_ADVANCE_CARRYFORWARD"), "{ws:?}");
        assert_eq!(ws.len(), 1, "{ws:?}");
        let fund = kosh_billing::masters::advance_tax_heads(
            &mdms,
            "pb.amritsar",
            "FN.Advance_Provident_Fund",
        );
        assert!(fund.is_empty(), "{fund:?}");
    }
}
