//! Payment gateways behind one trait.
//!
//! Each gateway is a module with its own request/response transformers (the hyperswitch
//! shape): [`axis`] (MasterCard MIGS "vpc"), [`paytm`], [`payu`], [`phonepe`], [`razorpay`]
//! and kosh's own [`sandbox`]. The pg-service asks a gateway for two things, as DIGIT's
//! `Gateway` interface does (egov-pg-service's `Gateway.java`, every implementation registered by
//! `GatewayService.java`):
//!
//! - [`Gateway::redirect`]: where to send the payer (DIGIT's `generateRedirectURI`);
//! - [`Gateway::fetch_status`]: what the gateway says about a transaction, given the parameters
//!   of its callback, or none at all when reconciliation asks (DIGIT's `fetchStatus`).
//!
//! The [`GatewayRegistry`] is built from [`GatewaysConfig`] and answers DIGIT's questions:
//! which gateways exist (`/gateway/v1/_search` lists inactive ones too), whether one is active,
//! and which callback parameter carries kosh's transaction id.
//!
//! # Where kosh differs from DIGIT, on purpose
//!
//! - A gateway that times out, answers 5xx or answers something unreadable gives
//!   [`GatewayError::Unavailable`] / [`GatewayError::Malformed`], and a gateway that says
//!   "pending" or "I have no record of it" gives [`TxnStatus::Pending`]. DIGIT's `_update` turns
//!   every non-SUCCESS answer into FAILURE, and its gateways map several "don't know" answers to
//!   FAILURE too (PhonePe `INTERNAL_SERVER_ERROR`, PayU `Not Found`, MIGS code `?`). kosh never
//!   does: money a gateway may have taken is never marked FAILURE.
//! - SUCCESS is only ever reported from the gateway's own status API, called server to server,
//!   never from callback parameters, even signed ones. The registry's wrapper enforces that.
//! - A verified callback is only trusted for the transaction it names: a signed FAILURE
//!   callback of one transaction replayed against another is ignored (DIGIT does not compare).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kosh_platform::money::Paise;
use serde::{Deserialize, Serialize};

pub mod axis;
pub(crate) mod http;
pub mod paytm;
pub mod payu;
pub mod phonepe;
pub mod razorpay;
pub mod sandbox;

pub use axis::{AxisConfig, AxisGateway};
pub use paytm::{PaytmConfig, PaytmGateway};
pub use payu::{PayuConfig, PayuGateway};
pub use phonepe::{PhonepeConfig, PhonepeGateway};
pub use razorpay::{RazorpayConfig, RazorpayGateway};
pub use sandbox::{SandboxConfig, SandboxGateway};

/// The parameter kosh appends to every callback URL (`callbackUrl?eg_pg_txnid=<txnId>`), and
/// the first key [`GatewayRegistry::find_txn_id`] looks for (DIGIT's `PG_TXN_IN_LABEL`).
pub const PG_TXN_ID_KEY: &str = "eg_pg_txnid";

/// Every gateway kosh knows, with the callback key carrying kosh's transaction id (DIGIT's
/// `transactionIdKeyInResponse`): `_update` looks for all of them, configured or not.
pub const KNOWN_GATEWAYS: &[(&str, &str)] = &[
    (axis::NAME, axis::TXN_ID_KEY),
    (paytm::NAME, paytm::TXN_ID_KEY),
    (payu::NAME, payu::TXN_ID_KEY),
    (phonepe::NAME, phonepe::TXN_ID_KEY),
    (razorpay::NAME, razorpay::TXN_ID_KEY),
    (sandbox::NAME, sandbox::TXN_ID_KEY),
];

/// Default timeout of one HTTP call to a gateway.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// A transaction's status as kosh stores it (DIGIT's `TxnStatusEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TxnStatus {
    /// The gateway's status API confirmed the money was taken.
    Success,
    /// The gateway says the payment did not happen.
    Failure,
    /// Not settled yet, or the gateway could not say: keep the transaction PENDING.
    Pending,
}

impl TxnStatus {
    /// DIGIT's wire name: `SUCCESS`, `FAILURE`, `PENDING`.
    pub fn as_str(self) -> &'static str {
        match self {
            TxnStatus::Success => "SUCCESS",
            TxnStatus::Failure => "FAILURE",
            TxnStatus::Pending => "PENDING",
        }
    }
}

impl fmt::Display for TxnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a gateway needs to know about a transaction. Built by the pg-service from its
/// `Transaction` row; amounts are integer paise, never floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayTxn {
    /// kosh's transaction id (idgen `pg.txnid`); the gateway's order/merchant reference.
    pub txn_id: String,
    /// The amount to collect (`txnAmount`, exactly).
    pub amount_paise: Paise,
    /// The (first) bill being paid; PhonePe's `merchantOrderId`.
    pub bill_id: String,
    /// The consumer code of the bill.
    pub consumer_code: String,
    /// `productInfo` of the transaction; PayU's `productinfo`, PhonePe's `message`.
    pub product_info: String,
    /// The payer's name (`user.name`); PayU's `firstname`.
    pub payer_name: String,
    /// The payer's login (`user.userName`); Paytm's `CUST_ID`, PhonePe's `merchantUserId`.
    pub payer_user_name: String,
    /// The payer's mobile number.
    pub payer_mobile: String,
    /// The payer's e-mail, when known.
    pub payer_email: Option<String>,
    /// Where the gateway sends the payer back; already carries `?eg_pg_txnid=<txnId>`.
    pub callback_url: String,
    /// The tenant (city) of the transaction.
    pub tenant_id: String,
    /// When the transaction was created, epoch milliseconds.
    pub created_time: i64,
    /// The tenant's bank account number, which DIGIT sends as MIGS `vpc_OrderInfo`; when absent
    /// the consumer code is sent instead.
    pub bank_account_number: Option<String>,
}

/// Where to send the payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// An absolute URL the payer's browser opens with GET (DIGIT's `redirectUrl`).
    pub url: String,
}

/// Where a [`GatewayStatus`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusSource {
    /// The callback parameters, after their signature was verified (FAILURE or PENDING only).
    Callback,
    /// The gateway's status API, called server to server.
    StatusApi,
}

/// What a gateway says about a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// SUCCESS, FAILURE or PENDING as kosh understands the gateway's answer.
    pub status: TxnStatus,
    /// The amount as the gateway reports it, parsed exactly; always present on SUCCESS. The
    /// caller compares it with the transaction's amount (DIGIT: "Transaction failed, amount
    /// mismatch"); the gateway layer reports it faithfully and decides nothing.
    pub amount_paise: Option<Paise>,
    /// The gateway's own transaction id (`gatewayTxnId`).
    pub gateway_txn_id: Option<String>,
    /// The payment mode the gateway reports (`gatewayPaymentMode`).
    pub payment_mode: Option<String>,
    /// The gateway's status or response code (`gatewayStatusCode`).
    pub status_code: Option<String>,
    /// The gateway's message (`gatewayStatusMsg`).
    pub status_msg: Option<String>,
    /// `false` when the gateway's status API says it has no record of the transaction (the
    /// payer never reached it, or the gateway has not caught up yet). The status is then
    /// PENDING; reconciliation may settle such a transaction as FAILURE once it is old enough,
    /// which is the caller's decision, not the gateway's.
    pub found_at_gateway: bool,
    /// Whether this came from a verified callback or from the status API.
    pub source: StatusSource,
    /// The gateway's answer as JSON (urlencoded answers become an object of strings), for the
    /// transaction dump (`txnResponse`).
    pub raw: serde_json::Value,
}

impl GatewayStatus {
    /// A status with nothing but the essentials; gateway modules fill in the rest.
    pub fn new(status: TxnStatus, source: StatusSource, raw: serde_json::Value) -> Self {
        GatewayStatus {
            status,
            amount_paise: None,
            gateway_txn_id: None,
            payment_mode: None,
            status_code: None,
            status_msg: None,
            found_at_gateway: true,
            source,
            raw,
        }
    }

    /// Whether the gateway reported exactly the transaction's amount.
    pub fn amount_matches(&self, txn: &GatewayTxn) -> bool {
        self.amount_paise == Some(txn.amount_paise)
    }
}

/// A form the payer's browser posts to a gateway's hosted page (Razorpay's Hosted Checkout),
/// which kosh serves from a page of its own because DIGIT's `redirectUrl` is a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedForm {
    /// Where the form is posted.
    pub action: String,
    /// The form's fields, in order.
    pub fields: Vec<(String, String)>,
}

/// What a gateway's verified webhook says. kosh takes it only as a cue to ask the gateway's
/// status API about the transaction, never as a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookNotice {
    /// The gateway's event name (`payment.captured`, `order.paid`, ...).
    pub event: String,
    /// kosh's transaction id, when the notice names it.
    pub txn_id: Option<String>,
    /// The gateway's own payment id, when given.
    pub gateway_ref: Option<String>,
}

/// Why a gateway could not give a status or a redirect. None of these is a payment status: the
/// caller keeps the transaction PENDING (and answers the client with an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Timeout, connection failure, 5xx, 408 or 429: try again later.
    #[error("payment gateway {gateway} is unavailable: {detail}")]
    Unavailable {
        /// Registry name of the gateway.
        gateway: &'static str,
        /// What happened.
        detail: String,
    },
    /// An answer kosh cannot read (garbage, missing fields, a bad signature on an answer that
    /// should be signed, an answer about another transaction).
    #[error("payment gateway {gateway} gave an answer that cannot be read: {detail}")]
    Malformed {
        /// Registry name of the gateway.
        gateway: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The gateway refused kosh's request (4xx, "checksum mismatch", "authorization failed"):
    /// kosh's configuration or request is wrong.
    #[error("payment gateway {gateway} refused the request: {detail}")]
    Rejected {
        /// Registry name of the gateway.
        gateway: &'static str,
        /// What the gateway said.
        detail: String,
    },
    /// The gateway's configuration is unusable (missing merchant id, a key of the wrong form).
    #[error("payment gateway {gateway} is misconfigured: {detail}")]
    Config {
        /// Registry name of the gateway.
        gateway: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The transaction cannot be sent to this gateway (for example a non-positive amount).
    #[error("transaction cannot be sent to payment gateway {gateway}: {detail}")]
    InvalidTxn {
        /// Registry name of the gateway.
        gateway: &'static str,
        /// Why.
        detail: String,
    },
}

impl GatewayError {
    /// A stable error code for DIGIT-style `Errors` bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Unavailable { .. } => "GATEWAY_UNAVAILABLE",
            GatewayError::Malformed { .. } => "GATEWAY_MALFORMED_RESPONSE",
            GatewayError::Rejected { .. } => "GATEWAY_REJECTED_REQUEST",
            GatewayError::Config { .. } => "GATEWAY_CONFIG_ERROR",
            GatewayError::InvalidTxn { .. } => "GATEWAY_INVALID_TXN",
        }
    }

    /// The registry name of the gateway that failed.
    pub fn gateway(&self) -> &'static str {
        match self {
            GatewayError::Unavailable { gateway, .. }
            | GatewayError::Malformed { gateway, .. }
            | GatewayError::Rejected { gateway, .. }
            | GatewayError::Config { gateway, .. }
            | GatewayError::InvalidTxn { gateway, .. } => gateway,
        }
    }

    /// Whether asking again later may succeed (timeouts, 5xx).
    pub fn is_transient(&self) -> bool {
        matches!(self, GatewayError::Unavailable { .. })
    }
}

/// A payment gateway.
///
/// # The rule every implementation keeps
///
/// **A gateway that times out, answers 5xx, or answers something unreadable yields
/// `Err(GatewayError::Unavailable | GatewayError::Malformed)` or `Ok` with
/// [`TxnStatus::Pending`], never [`TxnStatus::Failure`].** Money a gateway may have taken is
/// never marked FAILURE; the caller keeps the transaction PENDING and reconciliation asks again.
/// FAILURE is returned only when the gateway itself says, in a readable and (where the gateway
/// signs it) verified answer about this very transaction, that the payment did not happen.
///
/// SUCCESS is returned only from the gateway's status API, called server to server (as DIGIT's
/// own gateways do in `fetchStatus`: `AxisGateway` and `PayuGateway` accept only PENDING/FAILURE
/// from a verified callback and query the gateway for SUCCESS; `PaytmGateway` and
/// `PhonepeGateway` always query). A SUCCESS always carries the amount the gateway reports;
/// comparing it with the transaction's amount is the caller's job.
#[async_trait]
pub trait Gateway: Send + Sync + fmt::Debug {
    /// Registry key, upper case: `AXIS`, `PAYTM`, `PAYU`, `PHONEPE`, `SANDBOX`.
    fn name(&self) -> &'static str;

    /// The callback parameter carrying kosh's transaction id (AXIS `vpc_MerchTxnRef`, PAYTM
    /// `ORDERID`, PAYU `txnid`, PHONEPE `transactionId`, SANDBOX `sandbox_txnid`).
    fn txn_id_key(&self) -> &'static str;

    /// Whether new transactions may use this gateway (`<gateway>.active`).
    fn is_active(&self) -> bool;

    /// The URL to send the payer to. AXIS, PAYTM and SANDBOX build a signed GET URL; PAYU and
    /// PHONEPE call the gateway to obtain it.
    async fn redirect(&self, txn: &GatewayTxn) -> Result<Redirect, GatewayError>;

    /// The transaction's status at the gateway, given the callback's parameters (empty when
    /// reconciliation asks). See the trait documentation for the rules.
    async fn fetch_status(
        &self,
        txn: &GatewayTxn,
        callback: &BTreeMap<String, String>,
    ) -> Result<GatewayStatus, GatewayError>;

    /// For a gateway whose payer's page is a form POST (RAZORPAY): the form kosh's own page
    /// posts, given that page's (signed) query. `None`: the gateway has no such page.
    fn hosted_form(
        &self,
        _query: &BTreeMap<String, String>,
    ) -> Option<Result<HostedForm, GatewayError>> {
        None
    }

    /// For a gateway that sends webhooks (RAZORPAY): checks the signature of a webhook's raw
    /// body and reads which transaction it concerns. `None`: the gateway sends none.
    fn verify_webhook(
        &self,
        _signature: Option<&str>,
        _body: &[u8],
    ) -> Option<Result<WebhookNotice, GatewayError>> {
        None
    }
}

/// A configuration secret (key, salt, password). Its `Debug` output never shows the value.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (not configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// Configuration of every gateway; a gateway without a section is not registered.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaysConfig {
    /// Timeout of one HTTP call to a gateway, in milliseconds, unless the gateway's own section
    /// sets `timeout_ms` (default 5000).
    pub timeout_ms: u64,
    /// AXIS (MIGS vpc).
    pub axis: Option<AxisConfig>,
    /// PAYTM.
    pub paytm: Option<PaytmConfig>,
    /// PAYU.
    pub payu: Option<PayuConfig>,
    /// PHONEPE.
    pub phonepe: Option<PhonepeConfig>,
    /// RAZORPAY.
    pub razorpay: Option<RazorpayConfig>,
    /// SANDBOX, kosh's own test gateway.
    pub sandbox: Option<SandboxConfig>,
}

impl Default for GatewaysConfig {
    fn default() -> Self {
        GatewaysConfig {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            axis: None,
            paytm: None,
            payu: None,
            phonepe: None,
            razorpay: None,
            sandbox: None,
        }
    }
}

impl GatewaysConfig {
    fn timeout(&self, own: Option<u64>) -> Duration {
        Duration::from_millis(own.unwrap_or(self.timeout_ms).max(1))
    }
}

pub(crate) fn require(gateway: &'static str, field: &str, value: &str) -> Result<(), GatewayError> {
    if value.trim().is_empty() {
        Err(GatewayError::Config {
            gateway,
            detail: format!("{field} is not set"),
        })
    } else {
        Ok(())
    }
}

pub(crate) fn require_url(
    gateway: &'static str,
    field: &str,
    value: &str,
) -> Result<reqwest::Url, GatewayError> {
    let url = reqwest::Url::parse(value).map_err(|e| GatewayError::Config {
        gateway,
        detail: format!("{field} {value:?} is not a URL: {e}"),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(GatewayError::Config {
            gateway,
            detail: format!("{field} must be an http(s) URL"),
        });
    }
    Ok(url)
}

pub(crate) fn positive_amount(gateway: &'static str, txn: &GatewayTxn) -> Result<(), GatewayError> {
    if txn.amount_paise > Paise::ZERO {
        Ok(())
    } else {
        Err(GatewayError::InvalidTxn {
            gateway,
            detail: format!(
                "amount must be positive, not {} paise (a zero-amount transaction skips the gateway)",
                txn.amount_paise.get()
            ),
        })
    }
}

/// Turns string pairs into a JSON object, for `raw`.
pub(crate) fn pairs_json<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> serde_json::Value {
    serde_json::Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
}

/// Every gateway, by name, with DIGIT's lookups.
#[derive(Debug, Clone, Default)]
pub struct GatewayRegistry {
    gateways: BTreeMap<&'static str, Arc<dyn Gateway>>,
}

impl GatewayRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        GatewayRegistry::default()
    }

    /// Builds every gateway that has a configuration section, active or not.
    pub fn from_config(config: &GatewaysConfig) -> Result<Self, GatewayError> {
        let mut registry = GatewayRegistry::new();
        if let Some(c) = &config.axis {
            registry.register(Arc::new(AxisGateway::new(
                c.clone(),
                config.timeout(c.timeout_ms),
            )?));
        }
        if let Some(c) = &config.paytm {
            registry.register(Arc::new(PaytmGateway::new(
                c.clone(),
                config.timeout(c.timeout_ms),
            )?));
        }
        if let Some(c) = &config.payu {
            registry.register(Arc::new(PayuGateway::new(
                c.clone(),
                config.timeout(c.timeout_ms),
            )?));
        }
        if let Some(c) = &config.phonepe {
            registry.register(Arc::new(PhonepeGateway::new(
                c.clone(),
                config.timeout(c.timeout_ms),
            )?));
        }
        if let Some(c) = &config.razorpay {
            registry.register(Arc::new(RazorpayGateway::new(
                c.clone(),
                config.timeout(c.timeout_ms),
            )?));
        }
        if let Some(c) = &config.sandbox {
            registry.register(Arc::new(SandboxGateway::new(
                c.clone(),
                config.timeout(c.timeout_ms),
            )?));
        }
        Ok(registry)
    }

    /// Adds (or replaces) a gateway under its [`Gateway::name`]. Every registered gateway is
    /// wrapped so that its answers keep the trait's rules: a SUCCESS that did not come from the
    /// status API, or that has no amount, becomes a [`GatewayError::Malformed`].
    pub fn register(&mut self, gateway: Arc<dyn Gateway>) {
        let name = gateway.name();
        self.gateways.insert(name, Arc::new(Guarded(gateway)));
    }

    /// The gateway registered under `name`. Names are upper case and matched exactly, as
    /// DIGIT's map lookup does (`"axis"` is not a gateway). Inactive gateways are returned too;
    /// check [`Gateway::is_active`] (or [`GatewayRegistry::is_active`]) before creating a
    /// transaction.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Gateway>> {
        self.gateways.get(name).cloned()
    }

    /// Whether `name` is registered and active (DIGIT's `isGatewayActive`; when false, `_create`
    /// answers `INVALID_PAYMENT_GATEWAY`).
    pub fn is_active(&self, name: &str) -> bool {
        self.gateways.get(name).is_some_and(|g| g.is_active())
    }

    /// Every registered gateway's name, active or not, sorted (DIGIT's `/gateway/v1/_search`
    /// lists inactive gateways too).
    pub fn names(&self) -> Vec<&'static str> {
        self.gateways.keys().copied().collect()
    }

    /// The callback keys that may carry kosh's transaction id, in the order they are tried:
    /// [`PG_TXN_ID_KEY`] first, then the key of every gateway kosh knows ([`KNOWN_GATEWAYS`]),
    /// configured or not, active or not, and of any other registered gateway, in name order,
    /// without case-insensitive duplicates. DIGIT's `GatewayService` does the same: every
    /// gateway bean adds its key, whatever its `active` flag, so DIGIT's UI and Postman
    /// collection (which send PHONEPE's `transactionId`) find their transaction whichever
    /// gateways a deployment configures.
    pub fn txn_id_keys(&self) -> Vec<&'static str> {
        let mut by_name: BTreeMap<&'static str, &'static str> =
            KNOWN_GATEWAYS.iter().copied().collect();
        for (name, gateway) in &self.gateways {
            by_name.insert(name, gateway.txn_id_key());
        }
        let mut keys: Vec<&'static str> = vec![PG_TXN_ID_KEY];
        for key in by_name.into_values() {
            if !keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                keys.push(key);
            }
        }
        keys
    }

    /// DIGIT's rule for finding the transaction id in `_update`'s parameters: the value of the
    /// first key of [`GatewayRegistry::txn_id_keys`] present in `params`, keys matched
    /// case-insensitively. The value is returned as found, even when empty (DIGIT then answers
    /// "Transaction not found"); `None` means no key is present (`MISSING_UPDATE_TXN_ID`).
    pub fn find_txn_id(&self, params: &BTreeMap<String, String>) -> Option<String> {
        self.txn_id_keys().into_iter().find_map(|key| {
            params
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(key))
                .map(|(_, value)| value.clone())
        })
    }
}

/// Keeps a gateway's answers within the trait's rules (invariants asserted in code).
#[derive(Debug)]
struct Guarded(Arc<dyn Gateway>);

#[async_trait]
impl Gateway for Guarded {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn txn_id_key(&self) -> &'static str {
        self.0.txn_id_key()
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    async fn redirect(&self, txn: &GatewayTxn) -> Result<Redirect, GatewayError> {
        self.0.redirect(txn).await
    }

    async fn fetch_status(
        &self,
        txn: &GatewayTxn,
        callback: &BTreeMap<String, String>,
    ) -> Result<GatewayStatus, GatewayError> {
        let status = self.0.fetch_status(txn, callback).await?;
        if status.status == TxnStatus::Success {
            let broken = if status.source != StatusSource::StatusApi {
                Some("SUCCESS that was not confirmed by the status API")
            } else if status.amount_paise.is_none() {
                Some("SUCCESS without an amount")
            } else {
                None
            };
            if let Some(broken) = broken {
                tracing::error!(gateway = self.name(), txn_id = %txn.txn_id, "gateway broke the rules: {broken}");
                return Err(GatewayError::Malformed {
                    gateway: self.name(),
                    detail: broken.to_string(),
                });
            }
        }
        Ok(status)
    }

    fn hosted_form(
        &self,
        query: &BTreeMap<String, String>,
    ) -> Option<Result<HostedForm, GatewayError>> {
        self.0.hosted_form(query)
    }

    fn verify_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Option<Result<WebhookNotice, GatewayError>> {
        self.0.verify_webhook(signature, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fake {
        name: &'static str,
        key: &'static str,
        active: bool,
        answer: GatewayStatus,
    }

    #[async_trait]
    impl Gateway for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        fn txn_id_key(&self) -> &'static str {
            self.key
        }
        fn is_active(&self) -> bool {
            self.active
        }
        async fn redirect(&self, _txn: &GatewayTxn) -> Result<Redirect, GatewayError> {
            Ok(Redirect {
                url: "https://example.invalid/pay".into(),
            })
        }
        async fn fetch_status(
            &self,
            _txn: &GatewayTxn,
            _callback: &BTreeMap<String, String>,
        ) -> Result<GatewayStatus, GatewayError> {
            Ok(self.answer.clone())
        }
    }

    fn fake(name: &'static str, key: &'static str, active: bool) -> Arc<dyn Gateway> {
        Arc::new(Fake {
            name,
            key,
            active,
            answer: GatewayStatus::new(TxnStatus::Pending, StatusSource::StatusApi, json!({})),
        })
    }

    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn registry() -> GatewayRegistry {
        let mut r = GatewayRegistry::new();
        r.register(fake("PHONEPE", "transactionId", false));
        r.register(fake("AXIS", "vpc_MerchTxnRef", true));
        r.register(fake("PAYU", "txnid", true));
        r.register(fake("PAYTM", "ORDERID", false));
        r
    }

    #[test]
    fn names_list_inactive_gateways_too() {
        let r = registry();
        assert_eq!(r.names(), vec!["AXIS", "PAYTM", "PAYU", "PHONEPE"]);
        assert!(r.is_active("AXIS"));
        assert!(!r.is_active("PAYTM"));
        assert!(!r.is_active("NOPE"));
        assert!(r.get("PAYTM").is_some());
        assert!(
            r.get("axis").is_none(),
            "names are matched exactly, as DIGIT does"
        );
    }

    #[test]
    fn txn_id_keys_start_with_eg_pg_txnid() {
        let every_key = vec![
            "eg_pg_txnid",
            "vpc_MerchTxnRef",
            "ORDERID",
            "txnid",
            "transactionId",
            "sandbox_txnid",
        ];
        assert_eq!(registry().txn_id_keys(), every_key);
        // Every gateway kosh knows, configured or not (DIGIT registers every gateway's key).
        assert_eq!(GatewayRegistry::new().txn_id_keys(), every_key);
        let mut other = GatewayRegistry::new();
        other.register(fake("NIC", "ApplicationNumber", true));
        assert_eq!(
            other.txn_id_keys(),
            vec![
                "eg_pg_txnid",
                "vpc_MerchTxnRef",
                "ApplicationNumber",
                "ORDERID",
                "txnid",
                "transactionId",
                "sandbox_txnid",
            ]
        );
    }

    #[test]
    fn find_txn_id_takes_the_first_key_present_case_insensitively() {
        let r = registry();
        assert_eq!(
            r.find_txn_id(&params(&[("EG_PG_TXNID", "PB_PG_1"), ("txnid", "PB_PG_2")])),
            Some("PB_PG_1".into())
        );
        assert_eq!(
            r.find_txn_id(&params(&[("TXNID", "PB_PG_2"), ("orderid", "PB_PG_3")])),
            Some("PB_PG_3".into()),
            "ORDERID comes before txnid in the key order"
        );
        assert_eq!(
            r.find_txn_id(&params(&[("VPC_MERCHTXNREF", "PB_PG_4")])),
            Some("PB_PG_4".into())
        );
        assert_eq!(
            r.find_txn_id(&params(&[("eg_pg_txnid", ""), ("txnid", "x")])),
            Some(String::new())
        );
        assert_eq!(r.find_txn_id(&params(&[("amount", "1.00")])), None);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
        let config = GatewaysConfig {
            payu: Some(PayuConfig {
                merchant_key: "key".into(),
                salt: Secret::new("very-secret-salt"),
                ..PayuConfig::default()
            }),
            ..GatewaysConfig::default()
        };
        assert!(!format!("{config:?}").contains("very-secret-salt"));
    }

    #[tokio::test]
    async fn the_registry_refuses_a_success_that_the_status_api_did_not_confirm() {
        let mut r = GatewayRegistry::new();
        let mut answer = GatewayStatus::new(TxnStatus::Success, StatusSource::StatusApi, json!({}));
        answer.amount_paise = Some(Paise::new(100));
        r.register(Arc::new(Fake {
            name: "GOOD",
            key: "k",
            active: true,
            answer,
        }));
        let txn = GatewayTxn {
            txn_id: "T".into(),
            amount_paise: Paise::new(100),
            bill_id: "B".into(),
            consumer_code: "C".into(),
            product_info: "P".into(),
            payer_name: "N".into(),
            payer_user_name: "U".into(),
            payer_mobile: "9999999999".into(),
            payer_email: None,
            callback_url: "https://example.invalid/cb".into(),
            tenant_id: "pb.amritsar".into(),
            created_time: 0,
            bank_account_number: None,
        };
        let good = r.get("GOOD").unwrap();
        let status = good.fetch_status(&txn, &BTreeMap::new()).await.unwrap();
        assert!(status.amount_matches(&txn));

        let mut from_callback =
            GatewayStatus::new(TxnStatus::Success, StatusSource::Callback, json!({}));
        from_callback.amount_paise = Some(Paise::new(100));
        let no_amount = GatewayStatus::new(TxnStatus::Success, StatusSource::StatusApi, json!({}));
        for (name, answer) in [("CALLBACK", from_callback), ("NOAMOUNT", no_amount)] {
            r.register(Arc::new(Fake {
                name,
                key: "k",
                active: true,
                answer,
            }));
            let err = r
                .get(name)
                .unwrap()
                .fetch_status(&txn, &BTreeMap::new())
                .await
                .unwrap_err();
            assert_eq!(err.code(), "GATEWAY_MALFORMED_RESPONSE", "{name}");
        }
    }

    #[test]
    fn config_reads_from_json_with_defaults() {
        let config: GatewaysConfig = serde_json::from_value(json!({
            "timeout_ms": 1500,
            "payu": {"merchant_key": "gtKFFx", "salt": "eCwWELxi", "active": false},
            "axis": {"merchant_id": "M", "access_code": "A", "secret_key": "00ff",
                     "user": "u", "password": "p"}
        }))
        .unwrap();
        assert_eq!(config.timeout_ms, 1500);
        let payu = config.payu.as_ref().unwrap();
        assert!(!payu.active);
        assert_eq!(payu.pay_url, "https://test.payu.in/_payment");
        let axis = config.axis.as_ref().unwrap();
        assert!(axis.active);
        assert_eq!(axis.pay_url, "https://migs.mastercard.com.au/vpcpay");
        let registry = GatewayRegistry::from_config(&config).unwrap();
        assert_eq!(registry.names(), vec!["AXIS", "PAYU"]);
        assert!(!registry.is_active("PAYU"));
        assert!(
            serde_json::from_value::<GatewaysConfig>(json!({"paypal": {}})).is_err(),
            "unknown gateways are a configuration error"
        );
    }
}
