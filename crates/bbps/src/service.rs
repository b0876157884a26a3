//! The biller's operations, whatever the profile (JSON or NPCI XML): bill fetch, bill
//! validation, payment posting, transaction status and reversal. The profiles turn their
//! requests into these calls and the results into their answers.
//!
//! A payment posting, exactly once:
//!
//! 1. claim the transaction reference (insert into `bbps_txn`, state POSTING);
//! 2. if it was taken: the same payment (same request hash) gets the stored answer, another
//!    payment under the reference is refused with BPR007;
//! 3. a posting refused before any bill is read (an unknown biller, a biller that is off,
//!    amounts that cannot be paid) goes straight to step 5 as a refusal;
//! 4. else, in a savepoint: fetch the consumer code's current bill, check exactness and
//!    whole rupees, and make the DIGIT payment (mode ONLINE, transaction and instrument
//!    number = the reference, a receipt per bill) with collection's own function;
//! 5. record SUCCESS with the receipts, or roll the savepoint back and record FAILED with
//!    the compliance code — all in the one transaction that claimed the reference.

use kosh_billing::bill::Bill;
use kosh_billing::bill::search::{self as bill_search, BillSearchCriteria};
use kosh_collection::command::{BillShare, Channel, NewPayment, Payer};
use kosh_collection::service::{self as collection, PaymentOptions};
use kosh_mdms::Mdms;
use kosh_platform::money::Paise;
use kosh_platform::{AuthUser, Clock, Db, DigitError, RequestInfo, write_tx};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Connection};

use crate::codes::BillerFault;
use crate::config::Bbps;
use crate::lookup::{self, Failure, Lookup, Param, Presented, Refusal, ist_date};
use crate::master::Biller;
use crate::store::{self, TxnBill, TxnRow, TxnStatus};
use crate::visibility::Visibility;

/// What every operation needs.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub mdms: &'a Mdms,
    pub clock: &'a Clock,
    pub bbps: &'a Bbps,
    /// The operating unit's user.
    pub user: &'a AuthUser,
}

impl<'a> Ctx<'a> {
    /// The state whose billers the caller reaches (the user's state).
    pub fn state(&self) -> &'a str {
        kosh_platform::tenant::state_of(&self.user.tenant_id)
    }

    /// The biller `biller_id` of the caller's state; a 400 when there is none.
    pub fn biller(&self, biller_id: &str) -> Result<&'a Biller, DigitError> {
        self.bbps
            .billers
            .find(self.state(), biller_id.trim())
            .ok_or_else(|| unknown_biller(biller_id, self.state()))
    }
}

pub fn unknown_biller(biller_id: &str, state: &str) -> DigitError {
    DigitError::new(
        "BBPS_UNKNOWN_BILLER",
        format!("No biller {biller_id} in the BBPS.Billers master data of {state}"),
    )
}

fn inactive(biller: &Biller) -> Option<Refusal> {
    (!biller.active).then(|| {
        Refusal::new(
            BillerFault::ScheduledDowntime,
            format!("biller {} is not taking BBPS requests", biller.biller_id),
        )
    })
}

/// The bills of a fetch, or why there are none.
pub async fn fetch(
    ctx: Ctx<'_>,
    biller: &Biller,
    params: &[Param],
) -> Result<Result<Vec<Presented>, Refusal>, DigitError> {
    if let Some(refusal) = inactive(biller) {
        return Ok(Err(refusal));
    }
    let lookup = match lookup::resolve(ctx.mdms, ctx.state(), biller, params) {
        Ok(l) => l,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let (mdms, clock, actor) = (ctx.mdms, ctx.clock, ctx.user.uuid.as_str());
    // Most fetches find valid bills: read those without a write transaction (on SQLite the
    // single writer), and take one only to make, expire or regenerate a bill.
    if let Some(bills) = lookup::existing_bills(ctx.db, clock, biller, &lookup).await? {
        return Ok(bills.iter().map(|b| Presented::of(mdms, b)).collect());
    }
    let found = write_tx!(*ctx.db, |conn| {
        match lookup::current_bills(conn, mdms, clock, biller, &lookup, actor, true).await {
            Ok(bills) => Ok(Ok(bills)),
            Err(Failure::Refused(r)) => Ok(Err(r)),
            Err(Failure::Digit(e)) => Err(e),
        }
    })?;
    Ok(found.and_then(|bills| bills.iter().map(|b| Presented::of(mdms, b)).collect()))
}

/// Records the operating unit's fetch under its `ref_id` (BBPS's `refId`), so that a
/// payment posted with the same `refId` links to it (shown with the transaction in status
/// answers and the daily report). A fetch again under the same `refId` replaces it.
pub async fn remember_fetch(
    ctx: Ctx<'_>,
    biller: &Biller,
    ref_id: &str,
    profile: &'static str,
    outcome: &Result<Vec<Presented>, Refusal>,
) -> Result<(), DigitError> {
    let (response_code, compliance_code, bills) = match outcome {
        Ok(bills) => (
            crate::codes::ResponseCode::Success,
            None,
            bills
                .iter()
                .map(|b| {
                    json!({"billerBillId": b.bill_number, "consumerCode": b.consumer_code,
                           "tenantId": b.tenant_id, "amount": b.amount})
                })
                .collect::<Vec<_>>(),
        ),
        Err(refusal) => (
            crate::codes::ResponseCode::Failure,
            refusal
                .fault
                .code(crate::codes::Stage::Fetch)
                .map(|c| c.code().to_string()),
            Vec::new(),
        ),
    };
    let record = store::FetchRecord {
        tenant_id: ctx.state().to_string(),
        ref_id: ref_id.to_string(),
        created_by: ctx.user.uuid.clone(),
        biller_id: biller.biller_id.clone(),
        profile: profile.to_string(),
        response_code: response_code.code().to_string(),
        compliance_code,
        bills: Value::Array(bills),
        created_ms: ctx.clock.now_ms(),
    };
    write_tx!(*ctx.db, |conn| { store::record_fetch(conn, &record).await })
}

/// Bill validation: the account exists and has a bill; with an amount, the amount fits it.
pub async fn validate(
    ctx: Ctx<'_>,
    biller: &Biller,
    params: &[Param],
    amount: Option<Paise>,
) -> Result<Result<Vec<Presented>, Refusal>, DigitError> {
    let bills = match fetch(ctx, biller, params).await? {
        Ok(bills) => bills,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Some(amount) = amount {
        let [bill] = bills.as_slice() else {
            return Ok(Err(Refusal::new(
                BillerFault::InvalidParams,
                format!(
                    "{} bills match these parameters; validate an amount against one",
                    bills.len()
                ),
            )));
        };
        if let Err(why) = bill.exactness.check(amount, bill.amount, bill.min_amount) {
            return Ok(Err(Refusal::new(BillerFault::AmountMismatch, why)));
        }
    }
    Ok(Ok(bills))
}

/// One bill's share of a payment, by the bill's number (BBPS `billerBillID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillAmount {
    pub bill_number: String,
    pub amount: Paise,
}

/// A payment as an operating unit posts it (either profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    /// `JSON` or `XML`.
    pub profile: &'static str,
    pub txn_reference_id: String,
    pub ref_id: Option<String>,
    pub msg_id: Option<String>,
    pub payment_ref_id: Option<String>,
    pub params: Vec<Param>,
    pub customer_mobile: Option<String>,
    pub amount: Paise,
    /// The bill paid, when the posting names one.
    pub bill_number: Option<String>,
    /// The amount per bill, when the posting pays several.
    pub bills: Vec<BillAmount>,
    /// BBPS's payment mode (UPI, Cash, ...), kept with the payment; DIGIT's mode is ONLINE.
    pub payment_mode: Option<String>,
    pub payment_channel: Option<String>,
    pub agent_id: Option<String>,
    pub txn_ts: Option<String>,
    /// The amounts as the unit wrote them, when one of them cannot be paid (out of range,
    /// or too large to read): what tells two such postings apart, since `amount` then
    /// holds what kosh could read of it.
    pub amounts_as_written: Option<String>,
}

impl Posting {
    /// What makes two postings the same payment: the biller, the customer parameters, the
    /// amount and the bills named. Instrument details, times and message ids may differ
    /// between retries of one payment.
    pub fn fingerprint(&self, biller_id: &str) -> String {
        let mut params: Vec<(String, String)> = self
            .params
            .iter()
            .map(|p| (p.name.trim().to_lowercase(), p.value.trim().to_string()))
            .collect();
        params.sort();
        let mut identity = json!({
            "billerId": biller_id,
            "params": params,
            "amount": self.amount,
            "billNumber": self.bill_number,
            "bills": self.bills.iter().map(|b| (b.bill_number.as_str(), b.amount)).collect::<Vec<_>>(),
        });
        // Only for amounts that cannot be paid, so a payable posting's identity is what it
        // always was (postings recorded before still match their repeats).
        if let Some(written) = &self.amounts_as_written {
            identity["amountsAsWritten"] = json!(written);
        }
        kosh_platform::digest::sha256_hex(identity.to_string().as_bytes())
    }
}

/// What a posting, status query or reversal answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The transaction as recorded (the first answer, or a repeat's).
    Txn(Box<TxnRow>),
    /// Refused without a record of its own.
    Refused(Refusal),
}

/// The refusal of a posting to a biller id the caller's state does not have: BPR002, the
/// combination of biller and customer parameters names no account kosh serves. (Not
/// BPR001, "no account matches the customer parameters": without the biller kosh cannot
/// judge the parameters, and BPR001 would tell the customer their account number is wrong
/// when the request was routed to the wrong biller id.)
pub fn unknown_biller_refusal(biller_id: &str, state: &str) -> Refusal {
    Refusal::new(
        BillerFault::InvalidParams,
        format!(
            "no biller {} in the BBPS.Billers master data of {state}",
            cut(biller_id.trim(), 64)
        ),
    )
}

/// `text` cut to at most `max` characters (for columns of that size).
fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Posts a payment, exactly once per transaction reference. `biller_id` is the id as the
/// unit sent it; `refused` is the profile's own refusal of the posting's amounts (BPR011).
///
/// Every posting kosh can decide is recorded with its answer, refusals too, so a repeat of
/// the reference and a status query ("402") answer the same and the daily report lists it:
/// an unknown biller (BPR002), a biller that master data has switched off (`active:
/// false`: BPR009, the scheduled downtime the fetch answers too, BFR009), amounts that
/// cannot be paid (BPR011), and whatever the bill or collection refuses. Such a refusal
/// is final for this reference: the customer pays again under a new one. Only when kosh
/// cannot decide — its database fails or is unavailable — is nothing recorded (the error
/// goes back to the profile, which answers BPR005), so that the same posting, retried
/// under the same reference, may still succeed.
pub async fn post(
    ctx: Ctx<'_>,
    biller_id: &str,
    posting: &Posting,
    refused: Option<Refusal>,
) -> Result<Answer, DigitError> {
    let biller_id = biller_id.trim();
    let biller = ctx.bbps.billers.find(ctx.state(), biller_id);
    let refused = match biller {
        None => Some(unknown_biller_refusal(biller_id, ctx.state())),
        Some(b) => inactive(b).or(refused),
    };
    let now = ctx.clock.now_ms();
    let row = TxnRow {
        tenant_id: ctx.state().to_string(),
        txn_reference_id: posting.txn_reference_id.clone(),
        // An unknown id as sent, cut to the column's size (the fingerprint has it whole).
        biller_id: biller.map_or_else(|| cut(biller_id, 64).to_string(), |b| b.biller_id.clone()),
        business_service: biller
            .map(|b| b.business_service.clone())
            .unwrap_or_default(),
        profile: posting.profile.to_string(),
        request_hash: posting.fingerprint(biller.map_or(biller_id, |b| b.biller_id.as_str())),
        ref_id: posting.ref_id.clone(),
        msg_id: posting.msg_id.clone(),
        payment_ref_id: posting.payment_ref_id.clone(),
        customer_params: posting.params.clone(),
        customer_mobile: posting.customer_mobile.clone(),
        amount: posting.amount,
        payment_mode: posting.payment_mode.clone(),
        payment_channel: posting.payment_channel.clone(),
        agent_id: posting.agent_id.clone(),
        txn_ts: posting.txn_ts.clone(),
        status: TxnStatus::Posting,
        compliance_code: None,
        compliance_reason: None,
        payment_id: None,
        approval_ref_num: None,
        receipt_date: None,
        business_date: ist_date(now),
        created_by: ctx.user.uuid.clone(),
        created_ms: now,
        reversal_reason: None,
        reversed_ms: None,
        last_modified_ms: now,
        bills: Vec::new(),
        refund: None,
        fetch: None,
    };
    write_tx!(*ctx.db, |conn| {
        post_in_tx(conn, ctx, biller, posting, refused.clone(), &row, now).await
    })
}

async fn post_in_tx(
    conn: &mut AnyConnection,
    ctx: Ctx<'_>,
    biller: Option<&Biller>,
    posting: &Posting,
    refused: Option<Refusal>,
    row: &TxnRow,
    now: i64,
) -> Result<Answer, DigitError> {
    if !store::claim(conn, row).await? {
        let existing = store::load(conn, &row.tenant_id, &row.txn_reference_id)
            .await?
            .ok_or_else(|| {
                DigitError::unavailable("the transaction reference is being posted; try again")
            })?;
        // Another unit's reference is, to this unit, one used for another payment.
        if existing.request_hash != row.request_hash
            || !Visibility::of(ctx.user).sees_txn(&existing)
        {
            return Ok(Answer::Refused(Refusal::new(
                BillerFault::RepeatedReference,
                format!(
                    "transaction reference {} was already used for another payment",
                    row.txn_reference_id
                ),
            )));
        }
        return Ok(Answer::Txn(Box::new(existing)));
    }
    let outcome = match (refused, biller) {
        // Refused before any bill is read: nothing to undo.
        (Some(refusal), _) => Err(refusal),
        (None, None) => Err(unknown_biller_refusal(&row.biller_id, &row.tenant_id)),
        (None, Some(biller)) => {
            let mut savepoint = conn.begin().await?;
            match apply(&mut savepoint, ctx, biller, posting).await {
                Ok(applied) => {
                    savepoint.commit().await?;
                    Ok(applied)
                }
                Err(Failure::Refused(refusal)) => {
                    savepoint.rollback().await?;
                    Err(refusal)
                }
                // What collection or billing refuses is this posting's refusal, recorded like
                // any other; only a fault of kosh or its database (which a retry may get past)
                // leaves no record.
                Err(Failure::Digit(e)) => match refusal_of(&e) {
                    Some(refusal) => {
                        savepoint.rollback().await?;
                        Err(refusal)
                    }
                    None => return Err(e),
                },
            }
        }
    };
    match outcome {
        Ok((payment_id, receipt_date, bills)) => {
            store::settle_success(conn, row, &payment_id, receipt_date, &bills, now).await?;
        }
        Err(refusal) => {
            let code = refusal
                .fault
                .code(crate::codes::Stage::Payment)
                .unwrap_or(crate::codes::ComplianceCode::Bpr005CannotAcceptNow);
            store::settle_failure(conn, row, code.code(), &refusal.detail, now).await?;
        }
    }
    let settled = store::load(conn, &row.tenant_id, &row.txn_reference_id)
        .await?
        .ok_or_else(|| DigitError::unavailable("the posting vanished; try again"))?;
    Ok(Answer::Txn(Box::new(settled)))
}

/// A bill found by its number in `tenant_id`.
async fn bill_by_number(
    conn: &mut AnyConnection,
    tenant_id: &str,
    number: &str,
) -> Result<Option<Bill>, DigitError> {
    let criteria = BillSearchCriteria {
        bill_number: Some(number.to_string()),
        ..BillSearchCriteria::default()
    };
    // The posting's own lookup, made by kosh for the unit: every bill of the tenant.
    let scope = kosh_billing::visibility::Scope::Tenant;
    Ok(bill_search::search(conn, tenant_id, &criteria, &scope)
        .await?
        .into_iter()
        .find(|b| b.bill_number.as_deref() == Some(number)))
}

/// The current bill that pays what bill `number` asked for: the bill itself while it is
/// current; for an older bill of the same consumer code that nobody paid (it expired, or a
/// demand changed), the consumer code's current bill; refused when that bill was paid.
async fn target(
    conn: &mut AnyConnection,
    lookup: &Lookup,
    current: &[Bill],
    number: &str,
) -> Result<Bill, Failure> {
    if let Some(bill) = current
        .iter()
        .find(|b| b.bill_number.as_deref() == Some(number))
    {
        return Ok(bill.clone());
    }
    let Some(named) = bill_by_number(conn, &lookup.tenant_id, number).await? else {
        return Err(Refusal::new(
            BillerFault::InvalidParams,
            format!("no bill numbered {number} for these parameters"),
        )
        .into());
    };
    if named.status.is_paid() {
        return Err(Refusal::new(
            BillerFault::AlreadyPaid,
            format!("bill {number} is already paid"),
        )
        .into());
    }
    current
        .iter()
        .find(|b| b.consumer_code == named.consumer_code)
        .cloned()
        .ok_or_else(|| {
            Refusal::new(
                BillerFault::InvalidParams,
                format!("bill {number} is not one of these parameters' bills"),
            )
            .into()
        })
}

/// DIGIT's name rule for `paidBy` and `payerName` (letters, with single separators).
fn is_name(text: &str) -> bool {
    static NAME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-zA-Z]+(([_\-'`\. ][a-zA-Z ])?[a-zA-Z]*)*$").expect("name pattern")
    });
    NAME.is_match(text)
}

fn is_mobile(text: &str) -> bool {
    text.len() == 10
        && text.bytes().all(|b| b.is_ascii_digit())
        && matches!(text.as_bytes()[0], b'6'..=b'9')
}

/// The BBPS refusal of a posting that billing or collection refused: every refusal of
/// theirs (a 4xx that is not "try again") is one, so a well-formed posting always gets a
/// BBPS answer and a record, never a DIGIT error. The amount codes are BPR011, a bill that
/// expired BPR008; anything else collection will not take (a master-data fault of the
/// business service, books that are closed, ...) is BPR005, the biller cannot accept the
/// payment, with DIGIT's code and message in the detail.
fn refusal_of(e: &DigitError) -> Option<Refusal> {
    if e.retryable || e.status.is_server_error() {
        return None;
    }
    let fault = match e.first_code().unwrap_or_default() {
        "BILL_ALREADY_PAID" => BillerFault::AlreadyPaid,
        "BILL_EXPIRED" => BillerFault::BillExpired,
        "INVALID_PAYMENTDETAIL"
        | "INVALID_PAYMENT_AMOUNT"
        | "INVALID_BILL_AMOUNT"
        | "INVALID_BILL"
        | "EG_BS_PAYMENT_INVALID"
        | "EG_BS_ADVANCE_NOT_ALLOWED"
        | "EG_BS_PAYMENT_EXCEEDS_DEMAND"
        | "APPORTIONING_ERROR" => BillerFault::AmountMismatch,
        "INVALID_BILL_ID" => BillerFault::NoBillData,
        _ => BillerFault::TemporarilyUnavailable,
    };
    let detail = e
        .errors
        .first()
        .map(|i| format!("{}: {}", i.code, i.message))
        .unwrap_or_default();
    Some(Refusal::new(fault, detail))
}

type Applied = (String, i64, Vec<TxnBill>);

/// Finds the bills, checks the amounts and makes the DIGIT payment.
async fn apply(
    conn: &mut AnyConnection,
    ctx: Ctx<'_>,
    biller: &Biller,
    posting: &Posting,
) -> Result<Applied, Failure> {
    let lookup = lookup::resolve(ctx.mdms, ctx.state(), biller, &posting.params)?;
    let current = lookup::current_bills(
        conn,
        ctx.mdms,
        ctx.clock,
        biller,
        &lookup,
        &ctx.user.uuid,
        false,
    )
    .await?;
    let mut targets: Vec<(Bill, Paise)> = Vec::new();
    if !posting.bills.is_empty() {
        let total = Paise::sum(posting.bills.iter().map(|b| b.amount)).map_err(|e| {
            Refusal::new(
                BillerFault::AmountMismatch,
                format!("the bill amounts cannot be added up: {e}"),
            )
        })?;
        if total != posting.amount {
            return Err(Refusal::new(
                BillerFault::AmountMismatch,
                format!(
                    "the bill amounts add up to {} paise, not the {} paise paid",
                    total.get(),
                    posting.amount.get()
                ),
            )
            .into());
        }
        for share in &posting.bills {
            let bill = target(conn, &lookup, &current, &share.bill_number).await?;
            if targets.iter().any(|(b, _)| b.id == bill.id) {
                return Err(Refusal::new(
                    BillerFault::InvalidParams,
                    format!("bill {} is named twice", share.bill_number),
                )
                .into());
            }
            targets.push((bill, share.amount));
        }
    } else if let Some(number) = &posting.bill_number {
        targets.push((
            target(conn, &lookup, &current, number).await?,
            posting.amount,
        ));
    } else if let [bill] = current.as_slice() {
        targets.push((bill.clone(), posting.amount));
    } else {
        return Err(Refusal::new(
            BillerFault::InvalidParams,
            format!(
                "{} bills match these parameters; name the bill (billerBillId) or give the amount per bill",
                current.len()
            ),
        )
        .into());
    }
    for (bill, amount) in &targets {
        let exactness = lookup::exactness(ctx.mdms, bill);
        if let Err(why) =
            exactness.check(*amount, bill.total_amount, bill.minimum_amount_to_be_paid)
        {
            let number = bill.bill_number.as_deref().unwrap_or(&bill.id);
            return Err(
                Refusal::new(BillerFault::AmountMismatch, format!("bill {number}: {why}")).into(),
            );
        }
    }

    let payer = targets
        .first()
        .and_then(|(b, _)| b.payer_name.as_deref())
        .map(str::trim)
        .filter(|n| is_name(n));
    let mobile = posting
        .customer_mobile
        .as_deref()
        .map(str::trim)
        .filter(|m| is_mobile(m));
    let shares: Vec<BillShare> = targets
        .iter()
        .map(|(b, amount)| BillShare {
            bill_id: b.id.clone(),
            amount: *amount,
            total_due: Some(b.total_amount),
        })
        .collect();
    let command = NewPayment::online(
        &lookup.tenant_id,
        Channel::Bbps {
            txn_reference_id: posting.txn_reference_id.clone(),
        },
        posting.amount,
        &shares,
        Payer {
            paid_by: Some(payer.unwrap_or("BBPS").to_string()),
            payer_name: payer.map(str::to_string),
            mobile_number: mobile.map(str::to_string),
            payer_email: None,
            additional_details: Some(json!({"bbps": {
                "txnReferenceId": posting.txn_reference_id,
                "billerId": biller.biller_id,
                "refId": posting.ref_id,
                "msgId": posting.msg_id,
                "paymentRefId": posting.payment_ref_id,
                "paymentMode": posting.payment_mode,
                "paymentChannel": posting.payment_channel,
                "agentId": posting.agent_id,
                "txnTs": posting.txn_ts,
                "profile": posting.profile,
            }})),
        },
        None,
        RequestInfo {
            api_id: Some("bbps".into()),
            ver: Some("1.0".into()),
            msg_id: Some(posting.txn_reference_id.clone()),
            ..RequestInfo::default()
        },
    );
    let created = match collection::create_payment(
        conn,
        ctx.mdms,
        ctx.clock,
        ctx.user,
        &command,
        &PaymentOptions::default(),
    )
    .await
    {
        Ok(created) => created,
        Err(e) => {
            return Err(match refusal_of(&e) {
                Some(refusal) => refusal.into(),
                None => e.into(),
            });
        }
    };
    let receipt_date = created
        .payment
        .get("transactionDate")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| ctx.clock.now_ms());
    let bills = targets
        .iter()
        .zip(&created.receipt_numbers)
        .map(|((bill, amount), receipt)| {
            let shown = Presented::of(ctx.mdms, bill)?;
            Ok(TxnBill {
                bill_tenant_id: bill.tenant_id.clone(),
                bill_id: bill.id.clone(),
                bill_number: bill.bill_number.clone(),
                consumer_code: bill.consumer_code.clone(),
                customer_name: bill.payer_name.clone(),
                bill_date: bill.bill_date,
                bill_expiry: shown.expiry,
                period_from: shown.period_from,
                period_to: shown.period_to,
                bill_amount: shown.amount,
                amount_paid: *amount,
                receipt_number: receipt.clone(),
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok((created.id, receipt_date, bills))
}

/// The transaction `txn_reference_id`, if kosh has it and the caller may see it
/// ([`Visibility`]).
pub async fn status(ctx: Ctx<'_>, txn_reference_id: &str) -> Result<Option<TxnRow>, DigitError> {
    let mut conn = ctx.db.pool().acquire().await?;
    let found = store::load(&mut conn, ctx.state(), txn_reference_id).await?;
    let visibility = Visibility::of(ctx.user);
    Ok(found.filter(|t| visibility.sees_txn(t)))
}

/// What a reversal names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reversal {
    pub txn_reference_id: String,
    pub biller_id: Option<String>,
    pub reason: Option<String>,
    /// When the operating unit says how much it reverses (kept on a reversal of a
    /// reference kosh never saw).
    pub amount: Option<Paise>,
    /// The customer parameters, when the reversal carries them (kept likewise).
    pub params: Vec<Param>,
}

/// Reverses a posting: cancels its receipt when DIGIT's rules allow (the latest receipt of
/// its consumer codes), else records a refund due. A reversal of a reference kosh never
/// received is recorded, so that a late posting of it is refused. Repeats change nothing.
pub async fn reverse(ctx: Ctx<'_>, reversal: &Reversal) -> Result<TxnRow, DigitError> {
    let now = ctx.clock.now_ms();
    let biller = match &reversal.biller_id {
        Some(id) => Some(ctx.biller(id)?),
        None => None,
    };
    let tombstone = TxnRow {
        tenant_id: ctx.state().to_string(),
        txn_reference_id: reversal.txn_reference_id.clone(),
        biller_id: biller.map(|b| b.biller_id.clone()).unwrap_or_default(),
        business_service: biller
            .map(|b| b.business_service.clone())
            .unwrap_or_default(),
        profile: "JSON".into(),
        // No posting has this hash: any later posting of the reference is refused.
        request_hash: String::new(),
        ref_id: None,
        msg_id: None,
        payment_ref_id: None,
        customer_params: reversal.params.clone(),
        customer_mobile: None,
        amount: reversal.amount.unwrap_or(Paise::ZERO),
        payment_mode: None,
        payment_channel: None,
        agent_id: None,
        txn_ts: None,
        status: TxnStatus::Reversed,
        compliance_code: None,
        compliance_reason: None,
        payment_id: None,
        approval_ref_num: None,
        receipt_date: None,
        business_date: ist_date(now),
        created_by: ctx.user.uuid.clone(),
        created_ms: now,
        reversal_reason: reversal.reason.clone(),
        reversed_ms: Some(now),
        last_modified_ms: now,
        bills: Vec::new(),
        refund: None,
        fetch: None,
    };
    write_tx!(*ctx.db, |conn| {
        reverse_in_tx(conn, ctx, &tombstone, reversal, now).await
    })
}

async fn reverse_in_tx(
    conn: &mut AnyConnection,
    ctx: Ctx<'_>,
    tombstone: &TxnRow,
    reversal: &Reversal,
    now: i64,
) -> Result<TxnRow, DigitError> {
    let (tenant, reference) = (&tombstone.tenant_id, &tombstone.txn_reference_id);
    if !store::claim(conn, tombstone).await? {
        store::lock(conn, tenant, reference).await?;
        let row = store::load(conn, tenant, reference)
            .await?
            .ok_or_else(|| DigitError::unavailable("the transaction vanished; try again"))?;
        if !Visibility::of(ctx.user).sees_txn(&row) {
            return Err(DigitError::new(
                "BBPS_REPEATED_REFERENCE",
                format!("transaction reference {reference} was used by another operating unit"),
            ));
        }
        if row.status == TxnStatus::Success
            && let (Some(payment_id), Some(bill)) = (row.payment_id.clone(), row.bills.first())
        {
            let reason = reversal
                .reason
                .clone()
                .unwrap_or_else(|| "BBPS reversal".into());
            let cancelled = crate::reversal::cancel(
                conn,
                ctx.user,
                &bill.bill_tenant_id,
                &payment_id,
                &reason,
                reference,
                now,
            )
            .await?;
            let status = if cancelled {
                TxnStatus::Reversed
            } else {
                // The receipt stands, so the money BBPS takes back is owed by the city: a
                // refund due, searchable beside every other channel's.
                let why = format!(
                    "BBPS reversed transaction {reference} ({reason}); its receipt is not the latest of its consumer code and stands"
                );
                kosh_collection::refund::record(
                    conn,
                    &kosh_collection::refund::NewRefund {
                        tenant_id: &bill.bill_tenant_id,
                        source: kosh_collection::refund::Source::Bbps,
                        source_ref: reference,
                        bill_id: &bill.bill_id,
                        consumer_code: &bill.consumer_code,
                        business_service: &row.business_service,
                        amount: row.amount,
                        reason: why,
                        payer_name: bill.customer_name.as_deref(),
                        mobile_number: row.customer_mobile.as_deref(),
                        created_by: &ctx.user.uuid,
                    },
                    now,
                )
                .await?;
                TxnStatus::RefundPending
            };
            store::set_reversal(
                conn,
                &row,
                status,
                reversal.reason.as_deref(),
                &ctx.user.uuid,
                now,
            )
            .await?;
        }
    }
    store::load(conn, tenant, reference)
        .await?
        .ok_or_else(|| DigitError::unavailable("the transaction vanished; try again"))
}
