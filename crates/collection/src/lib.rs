//! Collection (collection-services): payments against bills, a receipt per bill, DIGIT's
//! apportionment of each payment over the bill's tax heads, and the demand back-update in the
//! same database transaction as the payment.

pub mod api;
pub mod apportion;
pub mod batch;
pub mod cancel;
pub mod command;
pub mod hold;
pub mod mode;
pub mod model;
pub mod queue;
pub mod refund;
pub mod search;
pub mod service;
pub mod store;
pub mod validate;
pub mod visibility;
pub mod wire;
pub mod workflow;
