//! The typed commands other kosh services give collection: a payment to make and a payment
//! to cancel. The payment gateway service and the BBPS adapter build these in paise; they
//! never build collection's HTTP JSON and parse it back.

use kosh_platform::money::Paise;
use kosh_platform::{DigitError, RequestInfo};
use serde_json::Value;

use crate::mode::PaymentMode;
use crate::validate::{DetailInput, PaymentInput};
use crate::wire::{self, DetailExtras, PayerFields, PaymentRequest};

/// Where a payment's money comes from, which decides the cross-channel rules: a counter
/// payment of a bill that an online payment holds is refused unless an employee overrides
/// the hold; the online transaction's own receipt and a BBPS posting are never held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// `payments/_create`: a counter clerk or an integrator's server.
    Counter { override_hold: bool },
    /// The receipt of a payment-gateway transaction the gateway confirmed.
    Online { txn_id: String },
    /// A BBPS posting.
    Bbps { txn_reference_id: String },
}

/// A payment to make.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub input: PaymentInput,
    pub payer: PayerFields,
    pub channel: Channel,
    /// Carried into the payment's event.
    pub request_info: RequestInfo,
}

/// One bill's share of a payment made by another service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillShare {
    pub bill_id: String,
    pub amount: Paise,
    /// The bill's total as the payer was shown it, checked against the bill when given.
    pub total_due: Option<Paise>,
}

/// The payer, as another service knows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payer {
    pub paid_by: Option<String>,
    pub payer_name: Option<String>,
    pub mobile_number: Option<String>,
    pub payer_email: Option<String>,
    pub additional_details: Option<Value>,
}

/// The key of `Payment.additionalDetails` by which an employee overrides a bill's online
/// hold at the counter.
pub const OVERRIDE_KEY: &str = "overridePendingOnlinePayment";

impl NewPayment {
    /// A payment from `payments/_create` (DIGIT's wire).
    pub fn from_request(request: &PaymentRequest) -> Result<NewPayment, DigitError> {
        let (input, payer) = wire::parse(request)?;
        let override_hold = payer
            .additional_details
            .as_ref()
            .and_then(|d| d.get(OVERRIDE_KEY))
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
        Ok(NewPayment {
            input,
            payer,
            channel: Channel::Counter { override_hold },
            request_info: request.request_info.clone().unwrap_or_default(),
        })
    }

    /// An ONLINE payment made by another service: the instrument and transaction number are
    /// the channel's reference (the pg txnId, the BBPS txnReferenceId).
    pub fn online(
        tenant_id: &str,
        channel: Channel,
        total: Paise,
        shares: &[BillShare],
        payer: Payer,
        instrument_date: Option<i64>,
        request_info: RequestInfo,
    ) -> NewPayment {
        let reference = match &channel {
            Channel::Online { txn_id } => Some(txn_id.clone()),
            Channel::Bbps { txn_reference_id } => Some(txn_reference_id.clone()),
            Channel::Counter { .. } => None,
        };
        NewPayment {
            input: PaymentInput {
                tenant_id: tenant_id.to_string(),
                total_due: None,
                total_amount_paid: total,
                mode: PaymentMode::Online,
                transaction_number: reference.clone(),
                transaction_date: None,
                instrument_date,
                instrument_number: reference,
                details: shares
                    .iter()
                    .map(|s| DetailInput {
                        bill_id: s.bill_id.clone(),
                        total_due: s.total_due,
                        total_amount_paid: s.amount,
                        sub_paise: false,
                    })
                    .collect(),
            },
            payer: PayerFields {
                paid_by: payer.paid_by,
                mobile_number: payer.mobile_number,
                payer_name: payer.payer_name,
                payer_email: payer.payer_email,
                additional_details: payer.additional_details,
                detail_extras: vec![DetailExtras::default(); shares.len()],
                ..PayerFields::default()
            },
            channel,
            request_info,
        }
    }
}

impl NewPayment {
    /// DIGIT's bean validation of the payer fields, for a command that did not come through
    /// `payments/_create` (the payment gateway's payer name and mobile number): the same
    /// patterns and the same error codes.
    pub fn check_payer(&self) -> Result<(), DigitError> {
        let mut errors = Vec::new();
        let name = &*wire::NAME;
        for (field, value) in [
            ("paidBy", &self.payer.paid_by),
            ("payerName", &self.payer.payer_name),
        ] {
            if value.as_deref().is_some_and(|v| !name.is_match(v.trim())) {
                errors.push(kosh_platform::ErrorItem::new(
                    format!("Pattern.paymentRequest.payment.{field}"),
                    format!("must match \"{}\"", wire::NAME_PATTERN),
                ));
            }
        }
        let mobile = &*wire::MOBILE;
        if let Some(m) = &self.payer.mobile_number
            && !mobile.is_match(m.trim())
        {
            errors.push(kosh_platform::ErrorItem::new(
                "Pattern.paymentRequest.payment.mobileNumber",
                format!("must match \"{}\"", wire::MOBILE_PATTERN),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DigitError::many(errors))
        }
    }
}

/// What cancelling does to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAction {
    /// CANCELLED: the receipt is void, the money taken back off the demands.
    Cancel,
    /// DISHONOURED: the cheque or DD bounced.
    Dishonour,
}

/// A payment to cancel.
#[derive(Debug, Clone)]
pub struct CancelPayment {
    pub tenant_id: String,
    pub payment_id: String,
    pub action: CancelAction,
    pub reason: Option<String>,
    /// Merged into the payment's additionalDetails (the BBPS reversal's reference, the
    /// workflow's own details).
    pub additional_details: Option<Value>,
    /// Carried into the cancellation's event.
    pub request_info: RequestInfo,
}
