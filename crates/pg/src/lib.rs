//! kosh-pg: the payment-gateway layer of kosh's pg-service (DIGIT's `egov-pg-service`).
//!
//! This crate is the library the pg-service calls; it has no database and no HTTP API of its
//! own. It holds:
//!
//! - [`gateways`]: one [`Gateway`] trait and one module per gateway (AXIS/MIGS, PAYTM, PAYU,
//!   PHONEPE and kosh's own SANDBOX), each with its own request/response transformers, and a
//!   [`GatewayRegistry`] built from [`GatewaysConfig`];
//! - [`money`]: exact conversions between integer paise and the rupee text gateways speak;
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

pub mod crypto;
pub mod gateways;
pub mod money;
#[cfg(feature = "sim")]
pub mod sim;

pub use gateways::{
    Gateway, GatewayError, GatewayRegistry, GatewayStatus, GatewayTxn, GatewaysConfig, Redirect,
    Secret, StatusSource, TxnStatus,
};
