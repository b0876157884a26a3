//! kosh-pg: kosh's pg-service (DIGIT's `egov-pg-service`) and its payment-gateway layer.
//!
//! The service:
//!
//! - [`txn`]: the transaction model, its tables and `_create`'s request binding;
//! - [`service`]: create, update and settle-once, with the receipt made through collection in
//!   the same database transaction as the SUCCESS;
//! - [`api`]: DIGIT's routes (`/pg-service/transaction/v1/_create`, `_update`, `_search`,
//!   `/pg-service/gateway/v1/_search`, also under `/egov-pg-service`) and kosh's `_reconcile`;
//! - [`reconcile`]: the job that re-queries PENDING transactions, one instance at a time
//!   through a lease row;
//! - [`sandbox_pages`]: the SANDBOX gateway's payment page, status API and `_complete` (the
//!   page's choice for automated clients), hosted by kosh;
//! - [`razorpay_pages`]: RAZORPAY's checkout page (a form to Razorpay's Hosted Checkout) and
//!   its webhook receiver.
//!
//! The gateway layer:
//!
//! - [`gateways`]: one [`Gateway`] trait and one module per gateway (AXIS/MIGS, PAYTM, PAYU,
//!   PHONEPE, RAZORPAY and kosh's own SANDBOX), each with its own request/response
//!   transformers, and a [`GatewayRegistry`] built from [`GatewaysConfig`];
//! - amounts are `kosh_platform::money::Paise`; the rupee text and integer paise gateways
//!   speak are read and written by `kosh_platform::money::wire`, exactly;
//! - [`crypto`]: the small set of primitives the gateways sign with (HMAC-SHA256, SHA-256,
//!   SHA-512, AES-CBC), wrapped around well-kept crates;
//! - `sim` (cargo feature `sim`): local simulators that speak every gateway's real protocol,
//!   so that the whole flow (redirect, payment, callback, status query) runs here without the
//!   internet. Another crate's tests use them with
//!   `kosh-pg = { workspace = true, features = ["sim"] }` in `[dev-dependencies]`; this crate's
//!   own tests get the feature through a dev-dependency on itself.
//!
//! The one rule that matters most: **a gateway that times out, answers 5xx or answers garbage
//! never yields `Failure`.** Money a gateway took is never marked FAILURE; such answers come
//! back as an error or `Pending`, and the caller keeps the transaction PENDING until
//! reconciliation settles it (see [`Gateway`]).

pub mod api;
pub mod crypto;
pub mod gateways;
pub mod razorpay_pages;
pub mod reconcile;
pub mod sandbox_pages;
pub mod service;
#[cfg(feature = "sim")]
pub mod sim;
pub mod txn;
pub mod visibility;

pub use gateways::{
    Gateway, GatewayError, GatewayRegistry, GatewayStatus, GatewayTxn, GatewaysConfig, Redirect,
    Secret, StatusSource, TxnStatus,
};
pub use service::{PgConfig, PgService};
