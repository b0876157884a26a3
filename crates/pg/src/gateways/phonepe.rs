//! PHONEPE: PhonePe's v3 "debit" web flow (DIGIT's egov-pg-service
//! `gateways/phonepe/PhonepeGateway.java` and `PhonepeUtils.java`).
//!
//! # Protocol
//!
//! - **Redirect**: kosh POSTs `{"request": <base64 of the JSON payload>}` to
//!   `base_url + debit_path` (`https://mercury-uat.phonepe.com/v3/debit`). The payload's keys
//!   are in sorted order (DIGIT builds it from a `TreeMap`): `amount` (paise, a number),
//!   `merchantId`, `merchantOrderId` (the bill id), `merchantUserId` (the payer's login),
//!   `message` (product info), `mobileNumber`, `transactionId` (kosh's txn id). Headers:
//!   `X-VERIFY: SHA256_HEX(base64 + "/v3/debit" + salt) + "###" + saltIndex`,
//!   `X-REDIRECT-URL` (the callback) and `X-REDIRECT-MODE: POST`. PhonePe answers with a
//!   redirect whose `Location` is the payer's page (DIGIT's reading); an answer of
//!   `{"success": true, "data": {"redirectURL": …}}` is accepted too.
//! - **Status**: **always** server to server, whatever the callback says: GET
//!   `base_url + /v3/transaction/{merchantId}/{transactionId}/status` with
//!   `X-VERIFY: SHA256_HEX("/v3/transaction/{merchantId}/{transactionId}/status" + salt) + "###" + saltIndex`.
//!   The JSON answer has `success`, `code`, `message` and the transaction's `transactionId`,
//!   `amount` (paise), `providerReferenceId`, `paymentState`, `payResponseCode`, either at the
//!   top level (DIGIT's reading) or under `data` (PhonePe's reference); both are read.
//! - The signed path is the API path (`/v3/…`) even when `base_url` has a path prefix of its
//!   own. X-VERIFY hex is upper case, as DIGIT sends it (PhonePe compares it case-insensitively).
//!
//! # Where kosh differs from DIGIT
//!
//! DIGIT: `success: true` → SUCCESS, `PAYMENT_PENDING` → PENDING, **anything else → FAILURE**,
//! including `INTERNAL_SERVER_ERROR`, `AUTHORIZATION_FAILED` and `TRANSACTION_NOT_FOUND`. kosh
//! decides on `code`, as PhonePe's documentation asks: `PAYMENT_SUCCESS` (with `success: true`)
//! → SUCCESS; `PAYMENT_ERROR`, `PAYMENT_DECLINED`, `PAYMENT_CANCELLED` → FAILURE;
//! `PAYMENT_PENDING` → PENDING; `TRANSACTION_NOT_FOUND` → PENDING with
//! `found_at_gateway = false`; `INTERNAL_SERVER_ERROR` → [`GatewayError::Unavailable`];
//! `AUTHORIZATION_FAILED`, `BAD_REQUEST`, `INVALID_TRANSACTION_ID` →
//! [`GatewayError::Rejected`]; any other code → PENDING.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::http;
use super::{
    Gateway, GatewayError, GatewayStatus, GatewayTxn, Redirect, Secret, StatusSource, TxnStatus,
    positive_amount, require, require_url,
};
use crate::crypto::sha256_hex;
use kosh_platform::money::wire;

/// Registry name.
pub const NAME: &str = "PHONEPE";
/// Callback parameter carrying kosh's txn id.
pub const TXN_ID_KEY: &str = "transactionId";

/// PHONEPE configuration (DIGIT's `phonepe.*` properties).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhonepeConfig {
    /// `phonepe.active` (default true here; DIGIT ships it false).
    pub active: bool,
    /// `merchantId` (`phonepe.merchant.id`).
    pub merchant_id: String,
    /// The salt key (`phonepe.merchant.secret.key`).
    pub salt_key: Secret,
    /// The salt index (`phonepe.merchant.secret.index`, default `1`).
    pub salt_index: String,
    /// Scheme, host and optional path prefix (`https://{phonepe.merchant.host}`).
    pub base_url: String,
    /// The debit API path, also the signed path (`phonepe.url.debit`, default `/v3/debit`).
    pub debit_path: String,
    /// The status API path prefix (`phonepe.url.status`, default `/v3/transaction`).
    pub status_path: String,
    /// Timeout of one call, ms (default: the registry's).
    pub timeout_ms: Option<u64>,
}

impl Default for PhonepeConfig {
    fn default() -> Self {
        PhonepeConfig {
            active: true,
            merchant_id: String::new(),
            salt_key: Secret::default(),
            salt_index: "1".to_string(),
            base_url: "https://mercury-uat.phonepe.com".to_string(),
            debit_path: "/v3/debit".to_string(),
            status_path: "/v3/transaction".to_string(),
            timeout_ms: None,
        }
    }
}

/// `X-VERIFY` for a signed text (base64 payload + path, or a path): upper-case SHA-256 hex of
/// `text + salt`, then `###` and the salt index.
pub fn x_verify(text: &str, salt_key: &str, salt_index: &str) -> String {
    format!(
        "{}###{salt_index}",
        sha256_hex(format!("{text}{salt_key}").as_bytes()).to_ascii_uppercase()
    )
}

/// The debit payload (keys in sorted order), as JSON text.
pub fn debit_payload(merchant_id: &str, txn: &GatewayTxn) -> String {
    let mut payload = Map::new();
    payload.insert("amount".into(), json!(txn.amount_paise));
    payload.insert("merchantId".into(), json!(merchant_id));
    payload.insert("merchantOrderId".into(), json!(txn.bill_id));
    payload.insert("merchantUserId".into(), json!(txn.payer_user_name));
    payload.insert("message".into(), json!(txn.product_info));
    payload.insert("mobileNumber".into(), json!(txn.payer_mobile));
    payload.insert("transactionId".into(), json!(txn.txn_id));
    Value::Object(payload).to_string()
}

/// The PHONEPE gateway.
pub struct PhonepeGateway {
    config: PhonepeConfig,
    debit_url: Url,
    client: reqwest::Client,
}

impl fmt::Debug for PhonepeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhonepeGateway")
            .field("merchant_id", &self.config.merchant_id)
            .field("active", &self.config.active)
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

fn malformed(detail: String) -> GatewayError {
    GatewayError::Malformed {
        gateway: NAME,
        detail,
    }
}

/// PhonePe allows letters, digits, `_` and `-` in ids; anything else would change the signed
/// status path.
fn check_id(field: &str, value: &str) -> Result<(), GatewayError> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(GatewayError::InvalidTxn {
            gateway: NAME,
            detail: format!("{field} {value:?} may hold only letters, digits, '_' and '-'"),
        })
    }
}

impl PhonepeGateway {
    /// Checks the configuration and builds the gateway.
    pub fn new(config: PhonepeConfig, timeout: Duration) -> Result<Self, GatewayError> {
        require(NAME, "merchant_id", &config.merchant_id)?;
        require(NAME, "salt_key", config.salt_key.expose())?;
        require(NAME, "salt_index", &config.salt_index)?;
        check_id("merchant_id", &config.merchant_id).map_err(|e| GatewayError::Config {
            gateway: NAME,
            detail: e.to_string(),
        })?;
        require_url(NAME, "base_url", &config.base_url)?;
        let debit_url = require_url(
            NAME,
            "debit_path",
            &format!(
                "{}{}",
                config.base_url.trim_end_matches('/'),
                config.debit_path
            ),
        )?;
        Ok(PhonepeGateway {
            debit_url,
            client: http::client(NAME, timeout)?,
            config,
        })
    }

    fn url(&self, path: &str) -> Result<Url, GatewayError> {
        require_url(
            NAME,
            "url",
            &format!("{}{path}", self.config.base_url.trim_end_matches('/')),
        )
    }

    /// The signed status path for a transaction.
    pub fn status_path(&self, txn_id: &str) -> String {
        format!(
            "{}/{}/{txn_id}/status",
            self.config.status_path.trim_end_matches('/'),
            self.config.merchant_id
        )
    }
}

/// Reads a redirect out of the debit call's answer.
fn redirect_from(base: &Url, answer: &http::Answer) -> Result<Url, GatewayError> {
    if answer.status.is_redirection()
        && let Some(location) = answer.location.as_deref()
    {
        return base
            .join(location)
            .map_err(|_| malformed(format!("redirect {location:?} is not a URL")));
    }
    let json: Option<Value> = serde_json::from_str(&answer.body).ok();
    if let Some(json) = &json {
        if json.get("success") == Some(&Value::Bool(false)) {
            return Err(GatewayError::Rejected {
                gateway: NAME,
                detail: format!(
                    "{}: {}",
                    json.get("code").and_then(Value::as_str).unwrap_or("?"),
                    json.get("message").and_then(Value::as_str).unwrap_or("")
                ),
            });
        }
        let data = json.get("data").unwrap_or(&Value::Null);
        for key in ["redirectURL", "redirectUrl", "url"] {
            if let Some(url) = data.get(key).and_then(Value::as_str) {
                return base
                    .join(url)
                    .map_err(|_| malformed(format!("redirect {url:?} is not a URL")));
            }
        }
    }
    if answer.status.is_client_error() {
        return Err(http::rejected(NAME, answer));
    }
    Err(malformed(format!(
        "debit answer has no redirect (HTTP {}): {}",
        answer.status,
        answer.snippet()
    )))
}

/// Reads PhonePe's status answer (public so the fuzz targets reach it).
pub fn map_status(txn: &GatewayTxn, json: Value) -> Result<GatewayStatus, GatewayError> {
    let Some(code) = json.get("code").and_then(Value::as_str).map(str::to_string) else {
        return Err(malformed(format!("status answer has no code: {json}")));
    };
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string);
    let success = json
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let data = json
        .get("data")
        .filter(|d| d.is_object())
        .unwrap_or(&json)
        .clone();
    let mut out = GatewayStatus::new(TxnStatus::Pending, StatusSource::StatusApi, json);
    match code.as_str() {
        "PAYMENT_SUCCESS" if success => out.status = TxnStatus::Success,
        "PAYMENT_ERROR" | "PAYMENT_DECLINED" | "PAYMENT_CANCELLED" => {
            out.status = TxnStatus::Failure;
        }
        "TRANSACTION_NOT_FOUND" => out.found_at_gateway = false,
        "INTERNAL_SERVER_ERROR" => {
            return Err(GatewayError::Unavailable {
                gateway: NAME,
                detail: format!("{code}: {}", message.unwrap_or_default()),
            });
        }
        "AUTHORIZATION_FAILED" | "BAD_REQUEST" | "INVALID_TRANSACTION_ID" => {
            return Err(GatewayError::Rejected {
                gateway: NAME,
                detail: format!("{code}: {}", message.unwrap_or_default()),
            });
        }
        _ => {}
    }
    if let Some(id) = data.get("transactionId").and_then(Value::as_str)
        && out.found_at_gateway
        && id != txn.txn_id
    {
        return Err(malformed(format!(
            "status answered about {id}, not {}",
            txn.txn_id
        )));
    }
    out.amount_paise = match data.get("amount") {
        None | Some(Value::Null) => None,
        Some(amount) => Some(
            wire::paise_from_json(amount)
                .map_err(|e| malformed(format!("amount {amount} is not paise: {e}")))?,
        ),
    };
    if out.status == TxnStatus::Success && out.amount_paise.is_none() {
        return Err(malformed("PAYMENT_SUCCESS without amount".to_string()));
    }
    out.gateway_txn_id = data
        .get("providerReferenceId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    out.payment_mode = data
        .get("paymentInstrument")
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string);
    out.status_code = Some(code);
    out.status_msg = message;
    Ok(out)
}

#[async_trait]
impl Gateway for PhonepeGateway {
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
        check_id("txn_id", &txn.txn_id)?;
        let encoded = BASE64.encode(debit_payload(&self.config.merchant_id, txn));
        let verify = x_verify(
            &format!("{encoded}{}", self.config.debit_path),
            self.config.salt_key.expose(),
            &self.config.salt_index,
        );
        let request = self
            .client
            .post(self.debit_url.clone())
            .header("X-VERIFY", verify)
            .header("X-REDIRECT-URL", &txn.callback_url)
            .header("X-REDIRECT-MODE", "POST")
            .json(&json!({ "request": encoded }));
        let answer = http::send(NAME, request).await?;
        let url = redirect_from(&self.debit_url, &answer)?;
        Ok(Redirect { url: url.into() })
    }

    /// Always asks PhonePe's status API; the callback's parameters are not used.
    async fn fetch_status(
        &self,
        txn: &GatewayTxn,
        _callback: &BTreeMap<String, String>,
    ) -> Result<GatewayStatus, GatewayError> {
        check_id("txn_id", &txn.txn_id)?;
        let path = self.status_path(&txn.txn_id);
        let verify = x_verify(
            &path,
            self.config.salt_key.expose(),
            &self.config.salt_index,
        );
        let request = self
            .client
            .get(self.url(&path)?)
            .header("X-VERIFY", verify)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let answer = http::send(NAME, request).await?;
        let json: Option<Value> = serde_json::from_str(&answer.body).ok();
        match json {
            Some(json) if json.get("code").is_some() => map_status(txn, json),
            _ if answer.status.is_client_error() => Err(http::rejected(NAME, &answer)),
            _ => Err(malformed(format!(
                "status answer is not PhonePe JSON (HTTP {}): {}",
                answer.status,
                answer.snippet()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kosh_platform::money::Paise;

    fn txn() -> GatewayTxn {
        GatewayTxn {
            txn_id: "PB_PG_2026_11_21_000001_42".into(),
            amount_paise: Paise::new(125050),
            bill_id: "b7c2d6f0-1".into(),
            consumer_code: "PT-107-001".into(),
            product_info: "Property Tax".into(),
            payer_name: "Asha Devi".into(),
            payer_user_name: "9876543210".into(),
            payer_mobile: "9876543210".into(),
            payer_email: None,
            callback_url: "https://kosh.example/cb?eg_pg_txnid=PB_PG_2026_11_21_000001_42".into(),
            tenant_id: "pb.amritsar".into(),
            created_time: 0,
            bank_account_number: None,
        }
    }

    #[test]
    fn payload_keys_are_sorted_and_amount_is_a_number_of_paise() {
        assert_eq!(
            debit_payload("M1", &txn()),
            r#"{"amount":125050,"merchantId":"M1","merchantOrderId":"b7c2d6f0-1","merchantUserId":"9876543210","message":"Property Tax","mobileNumber":"9876543210","transactionId":"PB_PG_2026_11_21_000001_42"}"#
        );
    }

    // Python: hashlib.sha256(b"/v3/transaction/M1/T1/status" + b"salt-key").hexdigest().upper() + "###1"
    #[test]
    fn x_verify_matches_an_independent_computation() {
        assert_eq!(
            x_verify("/v3/transaction/M1/T1/status", "salt-key", "1"),
            "E35B22AF37FA7104E8F567146AB2472D9C8F96BB224BDB7C3115DB5B4D783CF4###1"
        );
    }

    #[test]
    fn status_codes_decide_and_errors_are_never_failures() {
        let t = txn();
        let ok = |v: Value| map_status(&t, v).unwrap();
        let s = ok(
            json!({"success": true, "code": "PAYMENT_SUCCESS", "data": {"transactionId": t.txn_id, "amount": 125050, "providerReferenceId": "P1"}}),
        );
        assert_eq!(
            (s.status, s.amount_paise),
            (TxnStatus::Success, Some(Paise::new(125050)))
        );
        // DIGIT's top-level layout reads the same.
        let s = ok(
            json!({"success": true, "code": "PAYMENT_SUCCESS", "transactionId": t.txn_id, "amount": "125050"}),
        );
        assert_eq!(s.amount_paise, Some(Paise::new(125050)));
        assert_eq!(
            ok(json!({"success": false, "code": "PAYMENT_PENDING"})).status,
            TxnStatus::Pending
        );
        assert_eq!(
            ok(json!({"success": false, "code": "PAYMENT_ERROR"})).status,
            TxnStatus::Failure
        );
        let s = ok(json!({"success": false, "code": "TRANSACTION_NOT_FOUND"}));
        assert_eq!((s.status, s.found_at_gateway), (TxnStatus::Pending, false));
        assert_eq!(
            ok(json!({"success": false, "code": "SOMETHING_NEW"})).status,
            TxnStatus::Pending
        );
        assert!(
            map_status(
                &t,
                json!({"success": false, "code": "INTERNAL_SERVER_ERROR"})
            )
            .unwrap_err()
            .is_transient()
        );
        assert_eq!(
            map_status(
                &t,
                json!({"success": false, "code": "AUTHORIZATION_FAILED"})
            )
            .unwrap_err()
            .code(),
            "GATEWAY_REJECTED_REQUEST"
        );
        assert!(
            map_status(&t, json!({"success": true, "code": "PAYMENT_SUCCESS"})).is_err(),
            "no amount"
        );
        assert!(map_status(&t, json!({"success": true, "code": "PAYMENT_SUCCESS", "data": {"transactionId": "OTHER", "amount": 1}})).is_err());
        assert!(
            map_status(
                &t,
                json!({"success": true, "code": "PAYMENT_SUCCESS", "data": {"amount": 1250.5}})
            )
            .is_err()
        );
    }

    #[test]
    fn ids_that_would_change_the_signed_path_are_refused() {
        assert!(check_id("txn_id", "PB_PG-1").is_ok());
        assert!(check_id("txn_id", "a/b").is_err());
        assert!(check_id("txn_id", "").is_err());
    }
}
