//! DIGIT's payment validation (collection-services `PaymentValidator`,
//! `validatePaymentForCreate`), in DIGIT's codes and messages, plus kosh's stricter rules:
//! a CANCELLED or already PAID bill cannot be paid, and the bill's minimum amount is enforced.
//!
//! DIGIT collects these failures in a map keyed by code, so several rules that share
//! `INVALID_PAYMENTDETAIL` leave only the last one standing; [`ErrorMap`] keeps that.
//!
//! kosh's ceilings on amounts apply to every payment, whichever service made it: no amount
//! paid for a bill above the single-amount ceiling, no payment total that is negative or
//! above the total ceiling, and every sum computed exactly (`kosh_platform::money`).

use kosh_platform::error::ErrorMap;
use kosh_platform::money::{MoneyError, Paise};
use kosh_platform::{DigitError, ErrorItem};

use crate::mode::PaymentMode;

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A payment as the client asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentInput {
    pub tenant_id: String,
    pub total_due: Option<Paise>,
    pub total_amount_paid: Paise,
    pub mode: PaymentMode,
    pub transaction_number: Option<String>,
    /// The manual receipt date, when the clerk gives one.
    pub transaction_date: Option<i64>,
    pub instrument_date: Option<i64>,
    pub instrument_number: Option<String>,
    pub details: Vec<DetailInput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetailInput {
    pub bill_id: String,
    pub total_due: Option<Paise>,
    pub total_amount_paid: Paise,
    /// Set when the client sent more than two decimal places.
    pub sub_paise: bool,
}

/// What validation needs to know of a bill.
#[derive(Debug, Clone, PartialEq)]
pub struct BillView {
    pub id: String,
    pub bill_number: String,
    pub business_service: String,
    pub status: String,
    pub total_amount: Paise,
    pub part_payment_allowed: bool,
    pub advance_allowed: bool,
    /// Zero when there is none.
    pub minimum_amount: Paise,
    pub modes_not_allowed: Vec<String>,
    /// The earliest expiry among the bill's details; `None` when a detail has none.
    pub expiry: Option<i64>,
    pub has_details: bool,
}

/// Whether the bill's expiry is checked. A payment-gateway transaction that began before
/// the bill expired is receipted all the same (the amount was locked when it began).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Enforced,
    Waived,
}

fn is_whole_rupees(amount: Paise) -> bool {
    amount.whole_rupees().is_some()
}

/// Why a payment's `totalAmountPaid` cannot be accepted whatever its bills: it is negative
/// or above the total ceiling.
pub fn total_paid_refusal(total: Paise) -> Option<ErrorItem> {
    if total.is_negative() {
        return Some(ErrorItem::new(
            "INVALID_PAYMENT_AMOUNT",
            "Payment totalAmountPaid cannot be negative",
        ));
    }
    total
        .total_within_ceiling()
        .err()
        .map(|e| total_paid_too_large(&e))
}

pub fn total_paid_too_large(why: &MoneyError) -> ErrorItem {
    ErrorItem::new(
        "INVALID_PAYMENT_AMOUNT",
        format!("Payment totalAmountPaid cannot be accepted: {why}"),
    )
}

/// A paymentDetail's amount above the single-amount ceiling (or too large to compute);
/// `bill` names the bill (its id before the bill is read, its number after).
pub fn detail_paid_refusal(bill: &str, why: &MoneyError) -> ErrorItem {
    ErrorItem::new(
        "INVALID_PAYMENTDETAIL",
        format!("The amount paid for the paymentDetail with bill {bill} cannot be accepted: {why}"),
    )
}

/// DIGIT's answer when a paymentDetail's totalDue is not its bill's total.
pub fn due_mismatch(bill_id: &str) -> ErrorItem {
    ErrorItem::new(
        "INVALID_PAYMENTDETAIL",
        format!(
            "The amount to be paid is mismatching with bill for paymentDetial with bill id: {bill_id}"
        ),
    )
}

/// The rules on the payment itself and its instrument.
pub fn check_instrument(input: &PaymentInput, now_ms: i64, errors: &mut ErrorMap) {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    let mode = input.mode;
    if mode.needs_instrument() {
        if input.instrument_date.is_none() {
            errors.put(
                "INVALID_INST_DATE",
                "Instrument Date Input is mandatory for cheque and DD",
            );
        }
        if blank(&input.instrument_number) {
            errors.put(
                "INVALID_INST_NUMBER",
                "Instrument Number is mandatory for Cheque, DD, Card",
            );
        }
        if let Some(instrument) = input.instrument_date {
            if mode.is_cheque_or_dd() {
                match input.transaction_date {
                    Some(receipt) => {
                        if instrument > receipt {
                            errors.put(
                                "INVALID_CHEQUE_DD_DATE",
                                "Cheque/DD date should not be greater than Manual Receipt Date ",
                            );
                        }
                        // Saturating: the dates are the client's and may be anything.
                        if receipt.saturating_sub(instrument) > 90 * DAY_MS {
                            errors.put(
                                "CHEQUE_DD_DATE_WITH_MANUAL_RECEIPT_DATE",
                                "Cheque/DD date should be less than and within 90 days of Manual Receipt Date",
                            );
                        }
                    }
                    None => {
                        if now_ms.saturating_sub(instrument) > 90 * DAY_MS {
                            errors.put(
                                "CHEQUE_DD_DATE_WITH_RECEIPT_DATE",
                                "Cheque/DD date should be less than and within 90 days of Current Date",
                            );
                        }
                        if instrument > now_ms {
                            errors.put(
                                "CHEQUE_DD_DATE_WITH_FUTURE_DATE",
                                "Cheque/DD date can not be future Date",
                            );
                        }
                    }
                }
            } else if instrument > now_ms {
                errors.put(
                    "INVALID_NEFT_RTGS_DATE",
                    "NEFT/RTGS/Postal order date can not be future Date",
                );
            }
        }
    }
    if mode.is_online() {
        if blank(&input.transaction_number) {
            errors.put(
                "INVALID_TXN_NUMBER",
                "Transaction Number is mandatory for Card and online payment",
            );
        }
        if blank(&input.instrument_number) {
            errors.put(
                "INVALID_INSTRUMENT_NUMBER",
                "Instrument Number is mandatory for Card",
            );
        }
    }
}

/// Bill ids repeated across payment details (checked before the bills are read).
pub fn check_repeated_bills(input: &PaymentInput) -> Result<(), DigitError> {
    let mut seen = std::collections::HashSet::new();
    if input
        .details
        .iter()
        .all(|d| seen.insert(d.bill_id.as_str()))
    {
        Ok(())
    } else {
        Err(DigitError::new(
            "DUPLICATE_BILLID",
            "The Bill ids have been repeated for multiple payment details",
        ))
    }
}

/// Every bill must exist, with details.
pub fn check_bills_found(input: &PaymentInput, bills: &[BillView]) -> Result<(), DigitError> {
    if bills.is_empty() {
        return Err(DigitError::new(
            "INVALID_BILL_ID",
            "Bill IDs provided does not exist or is in an invalid state",
        ));
    }
    for detail in &input.details {
        match bills.iter().find(|b| b.id == detail.bill_id) {
            Some(bill) if bill.has_details => {}
            _ => {
                return Err(DigitError::new(
                    "INVALID_BILL_ID",
                    format!(
                        "Bill IDs provided does not exist or is in an invalid state: {}",
                        detail.bill_id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The rules on each payment detail against its bill. `paid_bill_ids` are the bills that
/// already have a live payment.
pub fn check_against_bills(
    input: &PaymentInput,
    bills: &[BillView],
    paid_bill_ids: &[String],
    now_ms: i64,
    expiry: Expiry,
    errors: &mut ErrorMap,
) {
    let mut total_paid = Ok(Paise::ZERO);
    for detail in &input.details {
        let Some(bill) = bills.iter().find(|b| b.id == detail.bill_id) else {
            continue;
        };
        total_paid = total_paid.and_then(|t| t.checked_add(detail.total_amount_paid));
        if paid_bill_ids.contains(&bill.id) || bill.status == "PAID" {
            errors.put(
                "BILL_ALREADY_PAID",
                "Bill has already been paid or is in pending state",
            );
            continue;
        }
        if bill.status == "CANCELLED" {
            errors.put(
                "INVALID_BILL_ID",
                format!(
                    "Bill IDs provided does not exist or is in an invalid state: {} is CANCELLED",
                    bill.id
                ),
            );
            continue;
        }
        if bill.business_service.trim().is_empty() {
            errors.put(
                "INVALID_BUSINESS_DETAILS",
                "Business details code cannot be empty",
            );
        }
        let paid = detail.total_amount_paid;
        let due = bill.total_amount;
        if let Some(given_due) = detail.total_due
            && given_due != due
        {
            let e = due_mismatch(&bill.id);
            errors.put(e.code, e.message);
        }
        if !bill.advance_allowed && (due.is_negative() || !is_whole_rupees(due)) {
            errors.put(
                "INVALID_BILL_AMOUNT",
                format!(
                    "The bill amount of bill {} must be a non-negative whole number of rupees",
                    bill.id
                ),
            );
        }
        // kosh fills DIGIT's dormant minimum; paying the whole bill is always allowed.
        if bill.minimum_amount > Paise::ZERO && paid < bill.minimum_amount && paid < due {
            errors.put(
                "INVALID_PAYMENTDETAIL",
                "The amount to be paid cannot be less than minimum amount to be paid",
            );
        }
        if !bill.part_payment_allowed && paid < due {
            errors.put(
                "INVALID_PAYMENTDETAIL",
                "The amount to be paid is less than amount due",
            );
        }
        if !bill.advance_allowed && paid > due {
            errors.put(
                "INVALID_PAYMENTDETAIL",
                "The amount to be paid is more than amount due",
            );
        }
        if bill
            .modes_not_allowed
            .iter()
            .any(|m| m.eq_ignore_ascii_case(input.mode.as_str()))
        {
            errors.put(
                "INVALID_PAYMENTDETAIL",
                format!(
                    "The paymentMode: {} is not allowed for the bill: {}",
                    input.mode.as_str(),
                    bill.id
                ),
            );
        }
        // DIGIT's `Utils.isPositiveInteger` (negative or fractional) and a zero paid
        // against a positive due; DIGIT names the detail's billId, not the bill number.
        if paid.is_negative()
            || detail.sub_paise
            || !is_whole_rupees(paid)
            || (paid.is_zero() && due > Paise::ZERO)
        {
            errors.put(
                "INVALID_PAYMENTDETAIL",
                format!(
                    "The amount paid for the paymentDetail with bill number: {}",
                    detail.bill_id
                ),
            );
        }
        if !is_whole_rupees(due) {
            errors.put("INVALID_BILL", "The due amount cannot be fractional");
        }
        if detail.sub_paise || !is_whole_rupees(paid) {
            errors.put(
                "INVALID_PAYMENTDETAIL",
                "The amount paid cannot be fractional",
            );
        }
        // Last of the paymentDetail rules, so that it is the one that stands.
        if let Err(e) = paid.within_ceiling() {
            let e = detail_paid_refusal(&bill.bill_number, &e);
            errors.put(e.code, e.message);
        }
        let expired = bill.status == "EXPIRED" || bill.expiry.is_none_or(|e| e <= now_ms);
        if expiry == Expiry::Enforced && expired {
            errors.put("BILL_EXPIRED", "Bill expired or invalid, regenerate bill!");
        }
    }
    match total_paid {
        Ok(sum) if sum == input.total_amount_paid => {}
        Ok(_) => errors.put(
            "INVALID_PAYMENT_AMOUNT",
            "Payment totalAmountPaid must equal the sum of totalAmountPaid of its paymentDetails",
        ),
        Err(e) => {
            let e = total_paid_too_large(&e);
            errors.put(e.code, e.message);
        }
    }
    if let Some(e) = total_paid_refusal(input.total_amount_paid) {
        errors.put(e.code, e.message);
    }
}

/// One DIGIT validation error for a field the client left out.
pub fn not_null(path: &str) -> ErrorItem {
    ErrorItem::new(
        format!("NotNull.paymentRequest.payment.{path}"),
        "must not be null",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bill(total: i64) -> BillView {
        BillView {
            id: "b1".into(),
            bill_number: "BILL-1".into(),
            business_service: "PT".into(),
            status: "ACTIVE".into(),
            total_amount: Paise::new(total),
            part_payment_allowed: false,
            advance_allowed: false,
            minimum_amount: Paise::ZERO,
            modes_not_allowed: vec!["DD".into()],
            expiry: Some(10_000),
            has_details: true,
        }
    }

    fn input(mode: PaymentMode, paid: i64) -> PaymentInput {
        PaymentInput {
            tenant_id: "pb.amritsar".into(),
            total_due: None,
            total_amount_paid: Paise::new(paid),
            mode,
            transaction_number: None,
            transaction_date: None,
            instrument_date: None,
            instrument_number: None,
            details: vec![DetailInput {
                bill_id: "b1".into(),
                total_due: None,
                total_amount_paid: Paise::new(paid),
                sub_paise: false,
            }],
        }
    }

    fn codes(errors: ErrorMap) -> Vec<(String, String)> {
        match errors.into_result() {
            Ok(()) => vec![],
            Err(e) => e.errors.into_iter().map(|i| (i.code, i.message)).collect(),
        }
    }

    fn run(input: &PaymentInput, bill: &BillView, now: i64) -> Vec<(String, String)> {
        let mut errors = ErrorMap::new();
        check_instrument(input, now, &mut errors);
        check_against_bills(
            input,
            std::slice::from_ref(bill),
            &[],
            now,
            Expiry::Enforced,
            &mut errors,
        );
        codes(errors)
    }

    #[test]
    fn amounts_beyond_the_limits_are_refused_whoever_made_the_payment() {
        let ceiling = kosh_platform::money::limits().max_amount.get();
        let mut advance = bill(500_00);
        advance.advance_allowed = true;
        // Two huge shares whose i64 sum wraps to -16 paise.
        let huge = 9_223_372_036_854_775_800;
        let mut wrap = input(PaymentMode::Cash, -16);
        wrap.details = vec![
            DetailInput {
                bill_id: "b1".into(),
                total_due: None,
                total_amount_paid: Paise::new(huge),
                sub_paise: false,
            },
            DetailInput {
                bill_id: "b2".into(),
                total_due: None,
                total_amount_paid: Paise::new(huge),
                sub_paise: false,
            },
        ];
        let second = BillView {
            id: "b2".into(),
            bill_number: "BILL-2".into(),
            ..advance.clone()
        };
        let mut errors = ErrorMap::new();
        check_against_bills(
            &wrap,
            &[advance.clone(), second],
            &[],
            1_000,
            Expiry::Enforced,
            &mut errors,
        );
        let errs = codes(errors);
        assert!(
            errs.iter()
                .any(|(c, m)| c == "INVALID_PAYMENTDETAIL" && m.contains("largest amount")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|(c, _)| c == "INVALID_PAYMENT_AMOUNT"),
            "{errs:?}"
        );
        // Negative: DIGIT's message, with the detail's billId.
        let errs = run(&input(PaymentMode::Cash, -100), &advance, 1_000);
        assert!(
            errs.contains(&(
                "INVALID_PAYMENTDETAIL".into(),
                "The amount paid for the paymentDetail with bill number: b1".into()
            )),
            "{errs:?}"
        );
        assert!(
            errs.contains(&(
                "INVALID_PAYMENT_AMOUNT".into(),
                "Payment totalAmountPaid cannot be negative".into()
            )),
            "{errs:?}"
        );
        // At the ceiling it passes; a paisa over (whole rupees over) it does not.
        let mut at = bill(ceiling);
        at.advance_allowed = true;
        assert!(run(&input(PaymentMode::Cash, ceiling), &at, 1_000).is_empty());
        let errs = run(&input(PaymentMode::Cash, ceiling + 100), &at, 1_000);
        assert!(
            errs.iter()
                .any(|(c, m)| c == "INVALID_PAYMENTDETAIL" && m.contains("largest amount")),
            "{errs:?}"
        );
        // Client dates at the ends of i64 do not overflow.
        let mut cheque = input(PaymentMode::Cheque, 500_00);
        cheque.instrument_number = Some("1".into());
        cheque.instrument_date = Some(i64::MIN);
        cheque.transaction_date = Some(i64::MAX);
        assert!(!run(&cheque, &bill(500_00), 1_000).is_empty());
        cheque.transaction_date = None;
        assert!(!run(&cheque, &bill(500_00), 1_000).is_empty());
    }

    #[test]
    fn a_full_cash_payment_passes() {
        assert!(run(&input(PaymentMode::Cash, 500_00), &bill(500_00), 1_000).is_empty());
    }

    #[test]
    fn part_payment_and_overpayment() {
        let errs = run(&input(PaymentMode::Cash, 100_00), &bill(500_00), 1_000);
        assert_eq!(
            errs,
            vec![(
                "INVALID_PAYMENTDETAIL".into(),
                "The amount to be paid is less than amount due".into()
            )]
        );
        let errs = run(&input(PaymentMode::Cash, 600_00), &bill(500_00), 1_000);
        assert_eq!(
            errs,
            vec![(
                "INVALID_PAYMENTDETAIL".into(),
                "The amount to be paid is more than amount due".into()
            )]
        );
        let mut part = bill(500_00);
        part.part_payment_allowed = true;
        part.minimum_amount = Paise::new(200_00);
        let errs = run(&input(PaymentMode::Cash, 100_00), &part, 1_000);
        assert_eq!(
            errs,
            vec![(
                "INVALID_PAYMENTDETAIL".into(),
                "The amount to be paid cannot be less than minimum amount to be paid".into()
            )]
        );
        assert!(run(&input(PaymentMode::Cash, 200_00), &part, 1_000).is_empty());
    }

    #[test]
    fn fractional_expired_and_forbidden_modes() {
        let errs = run(&input(PaymentMode::Cash, 500_50), &bill(500_00), 1_000);
        assert!(
            errs.contains(&(
                "INVALID_PAYMENTDETAIL".into(),
                "The amount paid cannot be fractional".into()
            )),
            "{errs:?}"
        );
        let errs = run(&input(PaymentMode::Cash, 500_00), &bill(500_00), 20_000);
        assert_eq!(
            errs,
            vec![(
                "BILL_EXPIRED".into(),
                "Bill expired or invalid, regenerate bill!".into()
            )]
        );
        let mut dd = input(PaymentMode::Dd, 500_00);
        dd.instrument_number = Some("123".into());
        dd.instrument_date = Some(500);
        let errs = run(&dd, &bill(500_00), 1_000);
        assert_eq!(
            errs,
            vec![(
                "INVALID_PAYMENTDETAIL".into(),
                "The paymentMode: DD is not allowed for the bill: b1".into()
            )]
        );
    }

    #[test]
    fn cheque_rules() {
        let now = 200 * DAY_MS;
        let cheque = input(PaymentMode::Cheque, 500_00);
        let errs = run(
            &cheque,
            &BillView {
                expiry: Some(now + 1),
                ..bill(500_00)
            },
            now,
        );
        assert!(errs.iter().any(|(c, _)| c == "INVALID_INST_DATE"));
        assert!(errs.iter().any(|(c, m)| c == "INVALID_INST_NUMBER"
            && m == "Instrument Number is mandatory for Cheque, DD, Card"));
        let mut old = cheque.clone();
        old.instrument_number = Some("000123".into());
        old.instrument_date = Some(now - 91 * DAY_MS);
        let errs = run(
            &old,
            &BillView {
                expiry: Some(now + 1),
                ..bill(500_00)
            },
            now,
        );
        assert_eq!(
            errs,
            vec![(
                "CHEQUE_DD_DATE_WITH_RECEIPT_DATE".into(),
                "Cheque/DD date should be less than and within 90 days of Current Date".into()
            )]
        );
        old.instrument_date = Some(now + DAY_MS);
        let errs = run(
            &old,
            &BillView {
                expiry: Some(now + 1),
                ..bill(500_00)
            },
            now,
        );
        assert_eq!(
            errs,
            vec![(
                "CHEQUE_DD_DATE_WITH_FUTURE_DATE".into(),
                "Cheque/DD date can not be future Date".into()
            )]
        );
    }

    #[test]
    fn online_needs_numbers() {
        let errs = run(&input(PaymentMode::Online, 500_00), &bill(500_00), 1_000);
        assert!(errs.contains(&(
            "INVALID_TXN_NUMBER".into(),
            "Transaction Number is mandatory for Card and online payment".into()
        )));
        assert!(errs.contains(&(
            "INVALID_INSTRUMENT_NUMBER".into(),
            "Instrument Number is mandatory for Card".into()
        )));
    }

    #[test]
    fn paid_and_cancelled_bills_cannot_be_paid() {
        let errs = run(
            &input(PaymentMode::Cash, 500_00),
            &BillView {
                status: "PAID".into(),
                ..bill(500_00)
            },
            1_000,
        );
        assert_eq!(
            errs,
            vec![(
                "BILL_ALREADY_PAID".into(),
                "Bill has already been paid or is in pending state".into()
            )]
        );
        let errs = run(
            &input(PaymentMode::Cash, 500_00),
            &BillView {
                status: "CANCELLED".into(),
                ..bill(500_00)
            },
            1_000,
        );
        assert_eq!(errs[0].0, "INVALID_BILL_ID");
        let mut repeated = input(PaymentMode::Cash, 500_00);
        repeated.details.push(repeated.details[0].clone());
        assert_eq!(
            check_repeated_bills(&repeated).unwrap_err().first_code(),
            Some("DUPLICATE_BILLID")
        );
    }
}
