//! PAYU: PayU India's hosted checkout (DIGIT's egov-pg-service `gateways/payu/PayuGateway.java`).
//!
//! # Protocol
//!
//! - **Redirect**: kosh POSTs a form to `pay_url` (`https://test.payu.in/_payment`) with `key`,
//!   `txnid`, `amount` (rupees, two decimals), `productinfo`, `firstname`, `email`, `phone`,
//!   `surl` = `furl` = the callback, and `hash`. PayU answers with a redirect; its `Location` is
//!   the payer's page (no `Location` is DIGIT's `PAYU_REDIRECT_URI_GEN_FAILED`).
//! - **Request hash**: SHA-512, lower-case hex, of
//!   `key|txnid|amount|productinfo|firstname|email|||||||||||SALT` (the eleven `|` after `email`
//!   delimit the empty `udf1`–`udf5` and five reserved fields).
//! - **Callback**: PayU posts the result to `surl`/`furl` with `status`, `txnid`, `amount`,
//!   `mihpayid`, `mode`, `unmappedstatus`, `udf1`–`udf5`, `error_code`, `error_Message`, … and
//!   `hash` = SHA-512 of the reverse sequence
//!   `SALT|status||||||udf5|udf4|udf3|udf2|udf1|email|firstname|productinfo|amount|txnid|key`
//!   (prefixed with `additionalCharges|` when PayU sends `additionalCharges`), compared
//!   case-insensitively. A verified callback about this transaction is trusted for `failure` and
//!   `pending`; anything else goes to the status call.
//! - **Status**: POST form to `status_url` (`…/merchant/postservice.php?form=2`) with `key`,
//!   `command=verify_payment`, `var1` = txn id and `hash` = SHA-512 of
//!   `key|verify_payment|txnid|SALT`; the JSON answer's `transaction_details.<txnid>` holds
//!   `status` (`success`, `failure`, `pending`, `Not Found`), `transaction_amount`/`amt`,
//!   `mihpayid`, `mode`, `unmappedstatus`, `error_code`, `error_Message`.
//!
//! # Where kosh differs from DIGIT
//!
//! - The hashes are built by joining the values with `|`. DIGIT fills a template with
//!   `String.replace("key", …)`, `replace("amount", …)`, … one placeholder after another, so a
//!   value or salt that contains a later placeholder word ("amount", "email", "txnid", …) gets
//!   rewritten, and the hash no longer matches what PayU computes. kosh hashes what PayU
//!   documents, so it agrees with PayU where DIGIT does not.
//! - `additionalCharges` (PayU's convenience fee) is honoured in the callback hash; DIGIT
//!   ignores it, so such callbacks never verify there.
//! - `pending`, `Not Found` and unknown statuses are PENDING (`Not Found` with
//!   `found_at_gateway = false`); DIGIT makes everything but `success` FAILURE. An answer with
//!   top-level `status: 0` and no transaction details (e.g. "Invalid Hash.") is
//!   [`GatewayError::Rejected`], not a failed payment.
//! - A signed callback is trusted only when its `txnid` is this transaction and its `key` (when
//!   present) is kosh's merchant key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::http;
use super::{
    Gateway, GatewayError, GatewayStatus, GatewayTxn, Redirect, Secret, StatusSource, TxnStatus,
    pairs_json, positive_amount, require, require_url,
};
use crate::crypto::{hex_eq_ignore_case, sha512_hex};
use kosh_platform::money::wire;

/// Registry name.
pub const NAME: &str = "PAYU";
/// Callback parameter carrying kosh's txn id.
pub const TXN_ID_KEY: &str = "txnid";

/// PAYU configuration (DIGIT's `payu.*` properties).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PayuConfig {
    /// `payu.active` (default true).
    pub active: bool,
    /// The merchant key (`payu.merchant.key`).
    pub merchant_key: String,
    /// The merchant salt (`payu.merchant.salt`).
    pub salt: Secret,
    /// Payment endpoint (`https://{payu.url}/{payu.path.pay}`).
    pub pay_url: String,
    /// Status endpoint (`https://{payu.url.status}/{payu.path.status}?form=2`).
    pub status_url: String,
    /// Timeout of one call, ms (default: the registry's).
    pub timeout_ms: Option<u64>,
}

impl Default for PayuConfig {
    fn default() -> Self {
        PayuConfig {
            active: true,
            merchant_key: String::new(),
            salt: Secret::default(),
            pay_url: "https://test.payu.in/_payment".to_string(),
            status_url: "https://test.payu.in/merchant/postservice.php?form=2".to_string(),
            timeout_ms: None,
        }
    }
}

/// The payment request's hash: SHA-512 hex of
/// `key|txnid|amount|productinfo|firstname|email|||||||||||salt`.
pub fn request_hash(
    key: &str,
    txnid: &str,
    amount: &str,
    productinfo: &str,
    firstname: &str,
    email: &str,
    salt: &str,
) -> String {
    let mut parts: Vec<&str> = vec![key, txnid, amount, productinfo, firstname, email];
    parts.extend([""; 10]); // udf1..udf5 and five reserved fields
    parts.push(salt);
    sha512_hex(parts.join("|").as_bytes())
}

/// The fields of a PayU answer that its reverse hash covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHashFields<'a> {
    /// `additionalCharges`, when PayU sent it.
    pub additional_charges: Option<&'a str>,
    /// `status`.
    pub status: &'a str,
    /// `udf1`..`udf5`.
    pub udf: [&'a str; 5],
    /// `email`.
    pub email: &'a str,
    /// `firstname`.
    pub firstname: &'a str,
    /// `productinfo`.
    pub productinfo: &'a str,
    /// `amount`.
    pub amount: &'a str,
    /// `txnid`.
    pub txnid: &'a str,
    /// `key`.
    pub key: &'a str,
}

/// The callback's reverse hash: SHA-512 hex of
/// `[additionalCharges|]salt|status||||||udf5|udf4|udf3|udf2|udf1|email|firstname|productinfo|amount|txnid|key`.
pub fn response_hash(fields: &ResponseHashFields<'_>, salt: &str) -> String {
    let mut parts: Vec<&str> = Vec::with_capacity(19);
    if let Some(charges) = fields.additional_charges {
        parts.push(charges);
    }
    parts.extend([salt, fields.status]);
    parts.extend([""; 5]);
    let [udf1, udf2, udf3, udf4, udf5] = fields.udf;
    parts.extend([udf5, udf4, udf3, udf2, udf1]);
    parts.extend([
        fields.email,
        fields.firstname,
        fields.productinfo,
        fields.amount,
        fields.txnid,
        fields.key,
    ]);
    sha512_hex(parts.join("|").as_bytes())
}

/// The status call's hash: SHA-512 hex of `key|command|var1|salt`.
pub fn command_hash(key: &str, command: &str, var1: &str, salt: &str) -> String {
    sha512_hex(format!("{key}|{command}|{var1}|{salt}").as_bytes())
}

/// The PAYU gateway.
pub struct PayuGateway {
    config: PayuConfig,
    pay_url: Url,
    status_url: Url,
    client: reqwest::Client,
}

impl fmt::Debug for PayuGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayuGateway")
            .field("merchant_key", &self.config.merchant_key)
            .field("active", &self.config.active)
            .field("pay_url", &self.config.pay_url)
            .field("status_url", &self.config.status_url)
            .finish_non_exhaustive()
    }
}

fn malformed(detail: String) -> GatewayError {
    GatewayError::Malformed {
        gateway: NAME,
        detail,
    }
}

impl PayuGateway {
    /// Checks the configuration and builds the gateway.
    pub fn new(config: PayuConfig, timeout: Duration) -> Result<Self, GatewayError> {
        require(NAME, "merchant_key", &config.merchant_key)?;
        require(NAME, "salt", config.salt.expose())?;
        let pay_url = require_url(NAME, "pay_url", &config.pay_url)?;
        let status_url = require_url(NAME, "status_url", &config.status_url)?;
        Ok(PayuGateway {
            pay_url,
            status_url,
            client: http::client(NAME, timeout)?,
            config,
        })
    }

    /// A callback that verifies, names this transaction and says FAILURE or PENDING; `None`
    /// for anything else (the status API is asked then). Public so the fuzz targets reach it.
    pub fn trusted_callback(
        &self,
        txn: &GatewayTxn,
        callback: &BTreeMap<String, String>,
    ) -> Option<GatewayStatus> {
        let get = |name: &str| callback.get(name).map(String::as_str);
        // DIGIT's precondition: these must be present for the hash to be checked at all.
        let (
            Some(hash),
            Some(status),
            Some(txnid),
            Some(amount),
            Some(productinfo),
            Some(firstname),
        ) = (
            get("hash"),
            get("status"),
            get("txnid"),
            get("amount"),
            get("productinfo"),
            get("firstname"),
        )
        else {
            return None;
        };
        let key = get("key").unwrap_or(&self.config.merchant_key);
        if key != self.config.merchant_key {
            tracing::warn!(gateway = NAME, txn_id = %txn.txn_id, "callback is for another merchant key; asking PayU");
            return None;
        }
        let fields = ResponseHashFields {
            additional_charges: get("additionalCharges").filter(|c| !c.is_empty()),
            status,
            udf: [
                get("udf1").unwrap_or(""),
                get("udf2").unwrap_or(""),
                get("udf3").unwrap_or(""),
                get("udf4").unwrap_or(""),
                get("udf5").unwrap_or(""),
            ],
            email: get("email").unwrap_or(""),
            firstname,
            productinfo,
            amount,
            txnid,
            key,
        };
        if !hex_eq_ignore_case(hash, &response_hash(&fields, self.config.salt.expose())) {
            tracing::warn!(gateway = NAME, txn_id = %txn.txn_id, "callback hash does not verify; asking PayU");
            return None;
        }
        if txnid != txn.txn_id {
            tracing::warn!(gateway = NAME, txn_id = %txn.txn_id, "signed callback is about another transaction; asking PayU");
            return None;
        }
        let status = match status.to_ascii_lowercase().as_str() {
            "failure" => TxnStatus::Failure,
            "pending" => TxnStatus::Pending,
            _ => return None,
        };
        let mut out = GatewayStatus::new(status, StatusSource::Callback, pairs_json(callback));
        out.amount_paise = wire::parse_rupees_text(amount).ok();
        fill_details(&mut out, |name| get(name));
        Some(out)
    }

    async fn verify_payment(&self, txn: &GatewayTxn) -> Result<GatewayStatus, GatewayError> {
        let key = self.config.merchant_key.as_str();
        let hash = command_hash(
            key,
            "verify_payment",
            &txn.txn_id,
            self.config.salt.expose(),
        );
        let form = [
            ("key", key),
            ("command", "verify_payment"),
            ("var1", txn.txn_id.as_str()),
            ("hash", hash.as_str()),
        ];
        let answer =
            http::send(NAME, self.client.post(self.status_url.clone()).form(&form)).await?;
        if !answer.status.is_success() {
            return Err(if answer.status.is_client_error() {
                http::rejected(NAME, &answer)
            } else {
                malformed(format!("verify_payment answered HTTP {}", answer.status))
            });
        }
        read_verify_payment(txn, &answer.body)
    }
}

/// Reads a verify_payment answer (HTTP 2xx, JSON) about `txn`.
pub fn read_verify_payment(txn: &GatewayTxn, body: &str) -> Result<GatewayStatus, GatewayError> {
    let json: Value = serde_json::from_str(body).map_err(|_| {
        malformed(format!(
            "verify_payment answer is not JSON: {}",
            http::snippet(body)
        ))
    })?;
    let details = json
        .get("transaction_details")
        .and_then(|d| d.get(&txn.txn_id))
        .filter(|d| d.is_object());
    let Some(details) = details else {
        let top = json.get("status").map(json_text);
        let msg = json.get("msg").map(json_text).unwrap_or_default();
        return Err(if top.as_deref() == Some("0") {
            GatewayError::Rejected {
                gateway: NAME,
                detail: format!("verify_payment: {msg}"),
            }
        } else {
            malformed(format!(
                "verify_payment answer has no details for {}: {}",
                txn.txn_id,
                http::snippet(body)
            ))
        });
    };
    let text = |name: &str| details.get(name).map(json_text).filter(|s| !s.is_empty());
    if let Some(txnid) = text("txnid")
        && txnid != txn.txn_id
    {
        return Err(malformed(format!(
            "verify_payment answered about {txnid}, not {}",
            txn.txn_id
        )));
    }
    let gateway_status = text("status").unwrap_or_default();
    let mut out = GatewayStatus::new(TxnStatus::Pending, StatusSource::StatusApi, json.clone());
    match gateway_status.to_ascii_lowercase().as_str() {
        "success" => out.status = TxnStatus::Success,
        "failure" => out.status = TxnStatus::Failure,
        "not found" => out.found_at_gateway = false,
        _ => {}
    }
    let amount = text("transaction_amount").or_else(|| text("amt"));
    out.amount_paise = match amount {
        Some(a) => Some(
            wire::parse_rupees_text(&a)
                .map_err(|e| malformed(format!("amount {a:?} is not a rupee amount: {e}")))?,
        ),
        None => None,
    };
    if out.status == TxnStatus::Success && out.amount_paise.is_none() {
        return Err(malformed("success without transaction_amount".to_string()));
    }
    let owned: BTreeMap<String, String> = [
        "mihpayid",
        "mode",
        "unmappedstatus",
        "error_code",
        "error_Message",
        "status",
        "field9",
    ]
    .iter()
    .filter_map(|name| text(name).map(|v| (name.to_string(), v)))
    .collect();
    fill_details(&mut out, |name| owned.get(name).map(String::as_str));
    if !out.found_at_gateway {
        out.gateway_txn_id = None;
    }
    Ok(out)
}

/// Gateway txn id, mode, code and message, as DIGIT maps them: on success the code is
/// `unmappedstatus` and the message `status`; otherwise `error_code` and `error_Message`.
fn fill_details<'a>(out: &mut GatewayStatus, get: impl Fn(&str) -> Option<&'a str>) {
    let non_empty = |name: &str| get(name).filter(|v| !v.is_empty()).map(str::to_string);
    out.gateway_txn_id = non_empty("mihpayid");
    out.payment_mode = non_empty("mode");
    if out.status == TxnStatus::Success {
        out.status_code = non_empty("unmappedstatus");
        out.status_msg = non_empty("status");
    } else {
        out.status_code = non_empty("error_code").or_else(|| non_empty("unmappedstatus"));
        out.status_msg = non_empty("error_Message")
            .or_else(|| non_empty("field9"))
            .or_else(|| non_empty("status"));
    }
}

/// A JSON scalar as text (PayU writes some numbers as numbers, some as strings).
fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Gateway for PayuGateway {
    fn name(&self) -> &'static str {
        NAME
    }

    fn txn_id_key(&self) -> &'static str {
        TXN_ID_KEY
    }

    fn is_active(&self) -> bool {
        self.config.active
    }

    async fn redirect(&self, txn: &GatewayTxn) -> Result<Redirect, GatewayError> {
        positive_amount(NAME, txn)?;
        let key = self.config.merchant_key.as_str();
        let amount = wire::rupees_text(txn.amount_paise);
        let email = txn.payer_email.as_deref().unwrap_or("");
        let hash = request_hash(
            key,
            &txn.txn_id,
            &amount,
            &txn.product_info,
            &txn.payer_name,
            email,
            self.config.salt.expose(),
        );
        let form = [
            ("key", key),
            ("txnid", txn.txn_id.as_str()),
            ("amount", amount.as_str()),
            ("productinfo", txn.product_info.as_str()),
            ("firstname", txn.payer_name.as_str()),
            ("email", email),
            ("phone", txn.payer_mobile.as_str()),
            ("surl", txn.callback_url.as_str()),
            ("furl", txn.callback_url.as_str()),
            ("hash", hash.as_str()),
        ];
        let answer = http::send(NAME, self.client.post(self.pay_url.clone()).form(&form)).await?;
        if answer.status.is_client_error() {
            return Err(http::rejected(NAME, &answer));
        }
        let Some(location) = answer
            .location
            .as_deref()
            .filter(|_| answer.status.is_redirection())
        else {
            return Err(malformed(format!(
                "PAYU_REDIRECT_URI_GEN_FAILED: no redirect in the answer (HTTP {}): {}",
                answer.status,
                answer.snippet()
            )));
        };
        let url = self
            .pay_url
            .join(location)
            .map_err(|_| malformed(format!("redirect {location:?} is not a URL")))?;
        Ok(Redirect { url: url.into() })
    }

    async fn fetch_status(
        &self,
        txn: &GatewayTxn,
        callback: &BTreeMap<String, String>,
    ) -> Result<GatewayStatus, GatewayError> {
        if let Some(status) = self.trusted_callback(txn, callback) {
            return Ok(status);
        }
        self.verify_payment(txn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PayU's documented request formula, with PayU's public test merchant ("gtKFFx" /
    // "eCwWELxi"). The expected digest was computed independently with Python:
    // hashlib.sha512(b"gtKFFx|PB_PG_2026_11_21_000001_42|1250.50|Property Tax|Asha Devi|asha@example.com|||||||||||eCwWELxi").hexdigest()
    #[test]
    fn request_hash_follows_payus_formula() {
        let hash = request_hash(
            "gtKFFx",
            "PB_PG_2026_11_21_000001_42",
            "1250.50",
            "Property Tax",
            "Asha Devi",
            "asha@example.com",
            "eCwWELxi",
        );
        assert_eq!(
            hash,
            "a7e7b040ca4d658e6ce9e5df598255dca3bd817970aedaa26bd5f4c29b4983400c349ba28f2d7ab31dce6adb5bbcaea13b1a1a2bed6a3bd8ee296dddeb0157b1"
        );
        let by_hand = sha512_hex(
            b"gtKFFx|PB_PG_2026_11_21_000001_42|1250.50|Property Tax|Asha Devi|asha@example.com|||||||||||eCwWELxi",
        );
        assert_eq!(hash, by_hand);
    }

    // Python: hashlib.sha512(b"eCwWELxi|failure|||||||||||asha@example.com|Asha Devi|Property Tax|1250.50|PB_PG_2026_11_21_000001_42|gtKFFx").hexdigest()
    #[test]
    fn response_hash_is_the_reverse_sequence() {
        let fields = ResponseHashFields {
            additional_charges: None,
            status: "failure",
            udf: [""; 5],
            email: "asha@example.com",
            firstname: "Asha Devi",
            productinfo: "Property Tax",
            amount: "1250.50",
            txnid: "PB_PG_2026_11_21_000001_42",
            key: "gtKFFx",
        };
        assert_eq!(
            response_hash(&fields, "eCwWELxi"),
            "c63240a166f81ce4eb775032238123ca1092d74e3aae08c74cb41049f0cc6086daa1cfc19ec00ce19c8353df6f7965441f80740b095bc614acc2beb86a4ac5cc"
        );
        let with_udfs = ResponseHashFields {
            udf: ["u1", "u2", "u3", "u4", "u5"],
            additional_charges: Some("10.00"),
            ..fields.clone()
        };
        assert_eq!(
            response_hash(&with_udfs, "eCwWELxi"),
            sha512_hex(
                b"10.00|eCwWELxi|failure||||||u5|u4|u3|u2|u1|asha@example.com|Asha Devi|Property Tax|1250.50|PB_PG_2026_11_21_000001_42|gtKFFx"
            )
        );
    }

    // DIGIT's String.replace template would rewrite "amount" inside the product info with the
    // amount itself; kosh hashes the value as given.
    #[test]
    fn values_containing_placeholder_words_are_hashed_as_given() {
        let hash = request_hash(
            "key1",
            "txnid1",
            "10.00",
            "amount due email",
            "firstname",
            "",
            "SALT",
        );
        assert_eq!(
            hash,
            sha512_hex(b"key1|txnid1|10.00|amount due email|firstname||||||||||||SALT")
        );
    }

    #[test]
    fn command_hash_for_verify_payment() {
        assert_eq!(
            command_hash("gtKFFx", "verify_payment", "T1", "eCwWELxi"),
            sha512_hex(b"gtKFFx|verify_payment|T1|eCwWELxi")
        );
    }
}
