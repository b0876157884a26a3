//! Billing (billing-service): demands (what a citizen owes, per consumer code, business
//! service and tax period), bills (what is due today, with an expiry), fetch-bill, bill search
//! and cancellation, and the functions collection calls to put a payment on a bill and take
//! it off again inside its own database transaction.
//!
//! DIGIT does the payment back-update over Kafka and can lose or repeat it; here it is a
//! function on the caller's open transaction ([`payment::apply_payment`],
//! [`payment::reverse_payment`]), so a payment and its effect on demand and bill commit
//! together.

pub mod api;
pub mod bill;
pub mod demand;
pub mod import;
pub mod masters;
pub mod payer;
pub mod payment;
mod query;
pub mod rules;
pub mod visibility;
pub mod wire;

pub use bill::{Bill, BillStatus};
pub use demand::Demand;
pub use payment::{
    AccountDetailPayment, AdvancePayment, BillPayment, PlannedPayment, apply_payment, plan_payment,
    reverse_payment, write_payments,
};
