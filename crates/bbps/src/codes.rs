//! The response codes a biller sends in the BBPS `Reason` element.
//!
//! `Reason@responseCode` is `000` for success and `200` for failure; a failure names its
//! cause in `complianceRespCd` with a reason text in `complianceReason`. The compliance
//! codes are NBBL's catalogue as published for BBPS traffic: `BFR…` for bill fetch, `BVR…`
//! for bill validation, `BPR…` for payment. Only the codes a municipal biller can meet are
//! here; the category-specific ones (LPG, FASTag, credit cards: BFR012–023, BFR030,
//! BPR012) and the operating units' own transport codes (BOU…, COU…) are not a biller's to
//! send. The reason texts are kosh's wording of each code's meaning.
//!
//! [`BillerFault`] is the one place that decides which code a biller-side outcome gets, so
//! that fetch and payment answer the same situation consistently.

use std::fmt;

/// `Reason@responseCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `000`
    Success,
    /// `200`
    Failure,
}

impl ResponseCode {
    /// The code on the wire.
    pub const fn code(self) -> &'static str {
        match self {
            ResponseCode::Success => "000",
            ResponseCode::Failure => "200",
        }
    }

    /// The `responseReason` that goes with it (the words NPCI's samples use).
    pub const fn reason(self) -> &'static str {
        match self {
            ResponseCode::Success => "Successful",
            ResponseCode::Failure => "Failure",
        }
    }

    /// Reads the wire code.
    pub fn from_code(code: &str) -> Option<ResponseCode> {
        match code {
            "000" => Some(ResponseCode::Success),
            "200" => Some(ResponseCode::Failure),
            _ => None,
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Which exchange a compliance code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `BillFetchResponse` (`BFR…`).
    Fetch,
    /// `BillValidationResponse` (`BVR…`).
    Validation,
    /// `BillPaymentResponse` (`BPR…`).
    Payment,
}

macro_rules! compliance_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $stage:ident, $retriable:literal, $reason:literal; )*) => {
        /// `Reason@complianceRespCd`: why a fetch, validation or payment failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ComplianceCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ComplianceCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ComplianceCode] = &[$(ComplianceCode::$variant),*];

            /// The code on the wire (`"BPR007"`).
            pub const fn code(self) -> &'static str {
                match self { $(ComplianceCode::$variant => $code,)* }
            }

            /// The `complianceReason` text kosh sends with it.
            pub const fn reason(self) -> &'static str {
                match self { $(ComplianceCode::$variant => $reason,)* }
            }

            /// The exchange the code belongs to.
            pub const fn stage(self) -> Stage {
                match self { $(ComplianceCode::$variant => Stage::$stage,)* }
            }

            /// `true` when the same request may succeed later (downtime, a biller that
            /// cannot answer now); `false` when it will fail again as it stands.
            pub const fn retriable(self) -> bool {
                match self { $(ComplianceCode::$variant => $retriable,)* }
            }

            /// Reads a wire code.
            pub fn from_code(code: &str) -> Option<ComplianceCode> {
                match code {
                    $($code => Some(ComplianceCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

compliance_codes! {
    /// BFR001: no customer account matches the customer parameters.
    Bfr001InvalidCustomer = "BFR001", Fetch, false, "Invalid customer account: no account matches the customer parameters";
    /// BFR002: the parameters do not identify one account (an ambiguous or incomplete set).
    Bfr002InvalidParamCombination = "BFR002", Fetch, false, "Invalid combination of customer parameters";
    /// BFR003: the account exists but the biller has no bill data for it.
    Bfr003NoBillData = "BFR003", Fetch, false, "No bill data available for the customer";
    /// BFR004: the bill for the period is paid; nothing is due.
    Bfr004NoBillDue = "BFR004", Fetch, false, "Payment received for the billing period, no bill due";
    /// BFR005: the account is blocked or closed.
    Bfr005AccountBlockedOrClosed = "BFR005", Fetch, false, "Customer account is blocked or closed";
    /// BFR006: the account is not activated yet.
    Bfr006AccountNotActivated = "BFR006", Fetch, false, "Customer account is not activated";
    /// BFR007: the bill's due date has passed and it can no longer be paid through BBPS.
    Bfr007DueDateExpired = "BFR007", Fetch, false, "Bill due date has expired";
    /// BFR008: the biller could not produce the bill now (retriable).
    Bfr008UnableToFetch = "BFR008", Fetch, true, "Unable to get bill details from the biller, try again later";
    /// BFR009: the biller is in scheduled downtime.
    Bfr009ScheduledDowntime = "BFR009", Fetch, true, "Biller is in scheduled downtime";
    /// BFR010: the biller is in unscheduled downtime.
    Bfr010UnscheduledDowntime = "BFR010", Fetch, true, "Biller is in unscheduled downtime";
    /// BFR011: the customer's profile with the biller is incomplete.
    Bfr011IncompleteProfile = "BFR011", Fetch, false, "Customer profile with the biller is incomplete";
    /// BVR001: no customer account matches the customer parameters.
    Bvr001InvalidCustomer = "BVR001", Validation, false, "Invalid customer account: no account matches the customer parameters";
    /// BVR005: the amount is not acceptable for this account.
    Bvr005InvalidAmount = "BVR005", Validation, false, "Invalid amount for the customer account";
    /// BVR008: the account is valid but nothing is due.
    Bvr008NoBillDue = "BVR008", Validation, false, "Customer account is valid but no bill is due";
    /// BVR009: a technical failure at the biller (retriable).
    Bvr009TechnicalError = "BVR009", Validation, true, "Technical error at the biller, try again later";
    /// BPR001: no customer account matches the customer parameters.
    Bpr001InvalidCustomer = "BPR001", Payment, false, "Invalid customer account: no account matches the customer parameters";
    /// BPR002: the parameters do not identify one account.
    Bpr002InvalidParamCombination = "BPR002", Payment, false, "Invalid combination of customer parameters";
    /// BPR003: the account is blocked or closed.
    Bpr003AccountBlockedOrClosed = "BPR003", Payment, false, "Customer account is blocked or closed";
    /// BPR004: the account is not activated.
    Bpr004AccountNotActivated = "BPR004", Payment, false, "Customer account is not activated";
    /// BPR005: the biller cannot accept the payment now (retriable).
    Bpr005CannotAcceptNow = "BPR005", Payment, true, "Biller cannot accept the payment now, try again later";
    /// BPR006: the account's daily payment limit is exceeded.
    Bpr006DailyLimitExceeded = "BPR006", Payment, false, "Daily payment limit for the customer account exceeded";
    /// BPR007: the transaction reference was already used for a different payment
    /// (same `txnReferenceId`, different amount or bill), or for a payment that was since
    /// reversed (REVERSED is final: a repeat is answered as a status query, never as a
    /// success). A repeat of the *same* live payment is not a failure: it gets the
    /// original answer again.
    Bpr007RepeatPaymentRequest = "BPR007", Payment, false, "Repeat payment request: this transaction reference was already used, for a different payment or for one since reversed";
    /// BPR008: the bill's due date has passed; fetch it again.
    Bpr008DueDateExpired = "BPR008", Payment, false, "Bill due date has expired, fetch the bill again";
    /// BPR009: the biller is in scheduled downtime.
    Bpr009ScheduledDowntime = "BPR009", Payment, true, "Biller is in scheduled downtime";
    /// BPR010: the biller is in unscheduled downtime.
    Bpr010UnscheduledDowntime = "BPR010", Payment, true, "Biller is in unscheduled downtime";
    /// BPR011: the amount paid is not acceptable against the current outstanding amount
    /// (the bill changed, was already paid, or exactness forbids this amount).
    Bpr011AmountMismatch = "BPR011", Payment, false, "Payment amount differs from the current outstanding amount";
}

impl fmt::Display for ComplianceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What went wrong on the biller's side, independent of the exchange; [`BillerFault::code`]
/// picks the compliance code for a fetch or a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillerFault {
    /// No account matches the customer parameters (unknown consumer code).
    UnknownCustomer,
    /// The parameters are ambiguous or incomplete (several accounts, missing tenant).
    InvalidParams,
    /// The account exists but has no bill.
    NoBillData,
    /// Nothing is due: the bill was already paid.
    AlreadyPaid,
    /// The account is closed or blocked (inactive property, disconnected connection).
    AccountClosed,
    /// The account is not active yet.
    NotActivated,
    /// The bill expired.
    BillExpired,
    /// The amount does not fit the current outstanding amount (bill changed, exactness).
    AmountMismatch,
    /// The transaction reference was used before for a different payment.
    RepeatedReference,
    /// The biller cannot answer now (database unavailable, dependency timeout).
    TemporarilyUnavailable,
    /// Planned maintenance.
    ScheduledDowntime,
    /// Unplanned outage.
    UnscheduledDowntime,
}

impl BillerFault {
    /// The compliance code for this fault in a fetch or payment response; `None` when the
    /// fault cannot arise in that exchange (a fetch carries no amount or transaction
    /// reference; validation is answered with the fetch-like codes it has).
    pub const fn code(self, stage: Stage) -> Option<ComplianceCode> {
        use BillerFault as F;
        use ComplianceCode as C;
        match stage {
            Stage::Fetch => match self {
                F::UnknownCustomer => Some(C::Bfr001InvalidCustomer),
                F::InvalidParams => Some(C::Bfr002InvalidParamCombination),
                F::NoBillData => Some(C::Bfr003NoBillData),
                F::AlreadyPaid => Some(C::Bfr004NoBillDue),
                F::AccountClosed => Some(C::Bfr005AccountBlockedOrClosed),
                F::NotActivated => Some(C::Bfr006AccountNotActivated),
                F::BillExpired => Some(C::Bfr007DueDateExpired),
                F::TemporarilyUnavailable => Some(C::Bfr008UnableToFetch),
                F::ScheduledDowntime => Some(C::Bfr009ScheduledDowntime),
                F::UnscheduledDowntime => Some(C::Bfr010UnscheduledDowntime),
                F::AmountMismatch | F::RepeatedReference => None,
            },
            Stage::Validation => match self {
                F::UnknownCustomer | F::InvalidParams => Some(C::Bvr001InvalidCustomer),
                F::AlreadyPaid | F::NoBillData => Some(C::Bvr008NoBillDue),
                F::AmountMismatch => Some(C::Bvr005InvalidAmount),
                F::TemporarilyUnavailable | F::ScheduledDowntime | F::UnscheduledDowntime => {
                    Some(C::Bvr009TechnicalError)
                }
                F::AccountClosed | F::NotActivated | F::BillExpired | F::RepeatedReference => None,
            },
            Stage::Payment => match self {
                F::UnknownCustomer => Some(C::Bpr001InvalidCustomer),
                F::InvalidParams => Some(C::Bpr002InvalidParamCombination),
                F::AccountClosed => Some(C::Bpr003AccountBlockedOrClosed),
                F::NotActivated => Some(C::Bpr004AccountNotActivated),
                F::TemporarilyUnavailable => Some(C::Bpr005CannotAcceptNow),
                F::RepeatedReference => Some(C::Bpr007RepeatPaymentRequest),
                F::BillExpired => Some(C::Bpr008DueDateExpired),
                F::ScheduledDowntime => Some(C::Bpr009ScheduledDowntime),
                F::UnscheduledDowntime => Some(C::Bpr010UnscheduledDowntime),
                // Paying a bill that is already paid is paying an amount the outstanding
                // (now nothing) does not accept.
                F::AmountMismatch | F::AlreadyPaid | F::NoBillData => Some(C::Bpr011AmountMismatch),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for &c in ComplianceCode::ALL {
            assert!(seen.insert(c.code()), "duplicate {}", c.code());
            assert_eq!(ComplianceCode::from_code(c.code()), Some(c));
            let prefix = match c.stage() {
                Stage::Fetch => "BFR",
                Stage::Validation => "BVR",
                Stage::Payment => "BPR",
            };
            assert!(c.code().starts_with(prefix));
            assert_eq!(c.code().len(), 6);
            assert!(!c.reason().is_empty());
        }
        assert_eq!(ComplianceCode::from_code("BPR999"), None);
        assert_eq!(ResponseCode::from_code("000"), Some(ResponseCode::Success));
        assert_eq!(ResponseCode::Failure.code(), "200");
        assert_eq!(ResponseCode::Failure.reason(), "Failure");
    }

    #[test]
    fn faults_map_to_their_stage() {
        assert_eq!(
            BillerFault::RepeatedReference.code(Stage::Payment),
            Some(ComplianceCode::Bpr007RepeatPaymentRequest)
        );
        assert_eq!(
            BillerFault::AlreadyPaid.code(Stage::Fetch),
            Some(ComplianceCode::Bfr004NoBillDue)
        );
        assert_eq!(
            BillerFault::AlreadyPaid.code(Stage::Payment),
            Some(ComplianceCode::Bpr011AmountMismatch)
        );
        assert_eq!(
            BillerFault::UnknownCustomer
                .code(Stage::Fetch)
                .map(|c| c.code()),
            Some("BFR001")
        );
        assert_eq!(BillerFault::AmountMismatch.code(Stage::Fetch), None);
        for stage in [Stage::Fetch, Stage::Validation, Stage::Payment] {
            for fault in [
                BillerFault::UnknownCustomer,
                BillerFault::InvalidParams,
                BillerFault::NoBillData,
                BillerFault::AlreadyPaid,
                BillerFault::AccountClosed,
                BillerFault::NotActivated,
                BillerFault::BillExpired,
                BillerFault::AmountMismatch,
                BillerFault::RepeatedReference,
                BillerFault::TemporarilyUnavailable,
                BillerFault::ScheduledDowntime,
                BillerFault::UnscheduledDowntime,
            ] {
                if let Some(code) = fault.code(stage) {
                    assert_eq!(code.stage(), stage, "{fault:?} at {stage:?}");
                }
            }
        }
    }
}
