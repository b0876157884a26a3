//! SANDBOX: kosh's own test gateway, so that the whole payment flow (redirect, payment page,
//! callback, status query, reconciliation) can be exercised without a bank. It is not a DIGIT
//! gateway; its protocol is defined here, and the pg-service will host its payment page and
//! status endpoint under `/pg-service/sandbox/...` (the simulator in `kosh_pg::sim` hosts them
//! for this crate's tests). Everything is signed with HMAC-SHA256 under a configured secret,
//! written as lower-case hex.
//!
//! # Protocol
//!
//! - **Redirect**: GET `{base_url}/pay` with `txnId`, `amount` (rupees, two decimals),
//!   `billId`, `consumerCode`, `productInfo`, `tenantId`, `callbackUrl` and
//!   `signature = HMAC(secret, "PAY|{txnId}|{amount}|{callbackUrl}")`. The page lets a tester
//!   choose the outcome.
//! - **Callback**: the page sends the payer to `callbackUrl` with `sandbox_txnid`, `status`
//!   (`SUCCESS`, `FAILURE`, `PENDING`), `amount` (rupees), `sandbox_ref`, `mode`, `message` and
//!   `signature = HMAC(secret, "{sandbox_txnid}|{status}|{amount}")`. As for the real gateways,
//!   a verified callback about this transaction is trusted for FAILURE and PENDING; SUCCESS is
//!   confirmed with the status query.
//! - **Status**: POST `{base_url}/status` with JSON `{"txnId"}` and header
//!   `X-Sandbox-Signature: HMAC(secret, "STATUS|{txnId}")`. The answer is JSON `{"txnId",
//!   "status" (SUCCESS, FAILURE, PENDING or NOT_FOUND), "amount" (rupees, empty when not
//!   found), "sandboxRef", "mode", "message", "signature"}` with the callback's signature over
//!   `txnId|status|amount`; an answer whose signature does not verify is not trusted (an
//!   error). A request with a bad signature is answered 401.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http;
use super::{
    Gateway, GatewayError, GatewayStatus, GatewayTxn, Redirect, Secret, StatusSource, TxnStatus,
    pairs_json, positive_amount, require, require_url,
};
use crate::crypto::{hex_eq_ignore_case, hmac_sha256};
use kosh_platform::money::{Paise, wire};

/// Registry name.
pub const NAME: &str = "SANDBOX";
/// Callback parameter carrying kosh's txn id.
pub const TXN_ID_KEY: &str = "sandbox_txnid";
/// Header carrying the status request's signature.
pub const SIGNATURE_HEADER: &str = "X-Sandbox-Signature";

/// SANDBOX configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Whether new transactions may use it (default true).
    pub active: bool,
    /// The HMAC secret shared by kosh and the sandbox page.
    pub secret: Secret,
    /// Where the sandbox lives; `/pay` and `/status` are appended
    /// (default `http://127.0.0.1:8080/pg-service/sandbox`).
    pub base_url: String,
    /// Timeout of one call, ms (default: the registry's).
    pub timeout_ms: Option<u64>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            active: true,
            secret: Secret::default(),
            base_url: "http://127.0.0.1:8080/pg-service/sandbox".to_string(),
            timeout_ms: None,
        }
    }
}

fn sign(secret: &str, text: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), text.as_bytes()))
}

/// The redirect's signature: HMAC of `PAY|txnId|amount|callbackUrl`.
pub fn pay_signature(secret: &str, txn_id: &str, amount: &str, callback_url: &str) -> String {
    sign(secret, &format!("PAY|{txn_id}|{amount}|{callback_url}"))
}

/// The signature of a callback or a status answer: HMAC of `txnId|status|amount`.
pub fn result_signature(secret: &str, txn_id: &str, status: &str, amount: &str) -> String {
    sign(secret, &format!("{txn_id}|{status}|{amount}"))
}

/// The status request's signature: HMAC of `STATUS|txnId`.
pub fn status_request_signature(secret: &str, txn_id: &str) -> String {
    sign(secret, &format!("STATUS|{txn_id}"))
}

/// A payment page request, as the sandbox page reads it from the redirect URL's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRequest {
    /// kosh's txn id.
    pub txn_id: String,
    /// The amount, rupees text as signed.
    pub amount: String,
    /// The amount, read from `amount`.
    pub amount_paise: Paise,
    /// Where to send the payer back.
    pub callback_url: String,
    /// `billId`.
    pub bill_id: String,
    /// `consumerCode`.
    pub consumer_code: String,
    /// `productInfo`.
    pub product_info: String,
    /// `tenantId`.
    pub tenant_id: String,
}

/// Host side: reads and verifies a payment page request (the redirect URL's query).
pub fn parse_pay_request(
    secret: &str,
    params: &BTreeMap<String, String>,
) -> Result<PayRequest, String> {
    let get = |name: &str| {
        params
            .get(name)
            .cloned()
            .ok_or_else(|| format!("missing {name}"))
    };
    let request = PayRequest {
        txn_id: get("txnId")?,
        amount: get("amount")?,
        amount_paise: Paise::ZERO,
        callback_url: get("callbackUrl")?,
        bill_id: params.get("billId").cloned().unwrap_or_default(),
        consumer_code: params.get("consumerCode").cloned().unwrap_or_default(),
        product_info: params.get("productInfo").cloned().unwrap_or_default(),
        tenant_id: params.get("tenantId").cloned().unwrap_or_default(),
    };
    let expected = pay_signature(
        secret,
        &request.txn_id,
        &request.amount,
        &request.callback_url,
    );
    if !hex_eq_ignore_case(&get("signature")?, &expected) {
        return Err("signature does not verify".to_string());
    }
    let amount_paise = wire::parse_rupees_text(&request.amount)
        .map_err(|e| format!("amount is not rupees: {e}"))?;
    Ok(PayRequest {
        amount_paise,
        ..request
    })
}

/// Host side: the parameters the payment page appends to the callback URL.
pub fn callback_params(
    secret: &str,
    txn_id: &str,
    status: TxnStatus,
    amount: &str,
    sandbox_ref: &str,
) -> BTreeMap<String, String> {
    let status = status.as_str();
    [
        ("sandbox_txnid", txn_id.to_string()),
        ("status", status.to_string()),
        ("amount", amount.to_string()),
        ("sandbox_ref", sandbox_ref.to_string()),
        ("mode", "SANDBOX".to_string()),
        (
            "message",
            format!("Sandbox payment {}", status.to_ascii_lowercase()),
        ),
        (
            "signature",
            result_signature(secret, txn_id, status, amount),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Host side: the status endpoint's answer. `status` is `None` when the sandbox has no record
/// of the transaction (`NOT_FOUND`, empty amount).
pub fn status_answer(
    secret: &str,
    txn_id: &str,
    status: Option<TxnStatus>,
    amount: &str,
    sandbox_ref: &str,
) -> Value {
    let status = status.map_or("NOT_FOUND", TxnStatus::as_str);
    let amount = if status == "NOT_FOUND" { "" } else { amount };
    json!({
        "txnId": txn_id,
        "status": status,
        "amount": amount,
        "sandboxRef": sandbox_ref,
        "mode": "SANDBOX",
        "message": format!("Sandbox payment {}", status.to_ascii_lowercase()),
        "signature": result_signature(secret, txn_id, status, amount),
    })
}

/// The SANDBOX gateway.
pub struct SandboxGateway {
    config: SandboxConfig,
    pay_url: Url,
    status_url: Url,
    client: reqwest::Client,
}

impl fmt::Debug for SandboxGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxGateway")
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

impl SandboxGateway {
    /// Checks the configuration and builds the gateway.
    pub fn new(config: SandboxConfig, timeout: Duration) -> Result<Self, GatewayError> {
        require(NAME, "secret", config.secret.expose())?;
        let base = config.base_url.trim_end_matches('/');
        let pay_url = require_url(NAME, "base_url", &format!("{base}/pay"))?;
        let status_url = require_url(NAME, "base_url", &format!("{base}/status"))?;
        Ok(SandboxGateway {
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
        let signature = callback.get("signature")?;
        let txn_id = callback.get(TXN_ID_KEY)?;
        let status = callback.get("status")?;
        let amount = callback.get("amount")?;
        let expected = result_signature(self.config.secret.expose(), txn_id, status, amount);
        if !hex_eq_ignore_case(signature, &expected) {
            tracing::warn!(gateway = NAME, txn_id = %txn.txn_id, "callback signature does not verify; asking the sandbox");
            return None;
        }
        if txn_id != &txn.txn_id {
            tracing::warn!(gateway = NAME, txn_id = %txn.txn_id, "signed callback is about another transaction; asking the sandbox");
            return None;
        }
        let status = match status.as_str() {
            "FAILURE" => TxnStatus::Failure,
            "PENDING" => TxnStatus::Pending,
            _ => return None,
        };
        let mut out = GatewayStatus::new(status, StatusSource::Callback, pairs_json(callback));
        out.amount_paise = wire::parse_rupees_text(amount).ok();
        out.gateway_txn_id = callback
            .get("sandbox_ref")
            .filter(|s| !s.is_empty())
            .cloned();
        out.payment_mode = callback.get("mode").filter(|s| !s.is_empty()).cloned();
        out.status_code = Some(status.as_str().to_string());
        out.status_msg = callback.get("message").cloned();
        Some(out)
    }

    async fn query(&self, txn: &GatewayTxn) -> Result<GatewayStatus, GatewayError> {
        let secret = self.config.secret.expose();
        let request = self
            .client
            .post(self.status_url.clone())
            .header(
                SIGNATURE_HEADER,
                status_request_signature(secret, &txn.txn_id),
            )
            .json(&json!({ "txnId": txn.txn_id }));
        let answer = http::send(NAME, request).await?;
        if !answer.status.is_success() {
            return Err(if answer.status.is_client_error() {
                http::rejected(NAME, &answer)
            } else {
                malformed(format!("status answered HTTP {}", answer.status))
            });
        }
        self.read_status_answer(txn, &answer.body)
    }

    /// Reads the sandbox's status answer (HTTP 2xx, signed JSON) about `txn`.
    pub fn read_status_answer(
        &self,
        txn: &GatewayTxn,
        body: &str,
    ) -> Result<GatewayStatus, GatewayError> {
        let secret = self.config.secret.expose();
        let json: Value = serde_json::from_str(body).map_err(|_| {
            malformed(format!(
                "status answer is not JSON: {}",
                http::snippet(body)
            ))
        })?;
        let text = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (txn_id, status, amount) = (text("txnId"), text("status"), text("amount"));
        if !hex_eq_ignore_case(
            &text("signature"),
            &result_signature(secret, &txn_id, &status, &amount),
        ) {
            return Err(malformed(
                "status answer's signature does not verify".to_string(),
            ));
        }
        if txn_id != txn.txn_id {
            return Err(malformed(format!(
                "status answered about {txn_id}, not {}",
                txn.txn_id
            )));
        }
        let mut out = GatewayStatus::new(TxnStatus::Pending, StatusSource::StatusApi, json.clone());
        match status.as_str() {
            "SUCCESS" => out.status = TxnStatus::Success,
            "FAILURE" => out.status = TxnStatus::Failure,
            "NOT_FOUND" => out.found_at_gateway = false,
            _ => {}
        }
        if !amount.is_empty() {
            out.amount_paise = Some(
                wire::parse_rupees_text(&amount)
                    .map_err(|e| malformed(format!("amount {amount:?} is not rupees: {e}")))?,
            );
        }
        if out.status == TxnStatus::Success && out.amount_paise.is_none() {
            return Err(malformed("SUCCESS without amount".to_string()));
        }
        out.gateway_txn_id = Some(text("sandboxRef")).filter(|s| !s.is_empty());
        out.payment_mode = Some(text("mode")).filter(|s| !s.is_empty());
        out.status_code = Some(status);
        out.status_msg = Some(text("message")).filter(|s| !s.is_empty());
        Ok(out)
    }
}

#[async_trait]
impl Gateway for SandboxGateway {
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
        let amount = wire::rupees_text(txn.amount_paise);
        let signature = pay_signature(
            self.config.secret.expose(),
            &txn.txn_id,
            &amount,
            &txn.callback_url,
        );
        let mut url = self.pay_url.clone();
        url.query_pairs_mut()
            .append_pair("txnId", &txn.txn_id)
            .append_pair("amount", &amount)
            .append_pair("billId", &txn.bill_id)
            .append_pair("consumerCode", &txn.consumer_code)
            .append_pair("productInfo", &txn.product_info)
            .append_pair("tenantId", &txn.tenant_id)
            .append_pair("callbackUrl", &txn.callback_url)
            .append_pair("signature", &signature);
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
        self.query(txn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python: hmac.new(b"sandbox-secret", b"T1|FAILURE|12.50", hashlib.sha256).hexdigest()
    #[test]
    fn signatures_match_an_independent_computation() {
        assert_eq!(
            result_signature("sandbox-secret", "T1", "FAILURE", "12.50"),
            "8ed1adaf9569f814e16f4a466c67f45f45e4f7459878f90dfd2249fc6b697768"
        );
    }

    #[test]
    fn pay_requests_verify_and_tampering_is_caught() {
        let secret = "s3cret";
        let mut params: BTreeMap<String, String> = [
            ("txnId", "T1"),
            ("amount", "12.50"),
            ("callbackUrl", "https://kosh.example/cb?eg_pg_txnid=T1"),
            ("billId", "B1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        params.insert(
            "signature".into(),
            pay_signature(
                secret,
                "T1",
                "12.50",
                "https://kosh.example/cb?eg_pg_txnid=T1",
            ),
        );
        let request = parse_pay_request(secret, &params).unwrap();
        assert_eq!(request.amount_paise, Paise::new(1250));
        assert_eq!(request.bill_id, "B1");
        params.insert("amount".into(), "1.00".into());
        assert!(parse_pay_request(secret, &params).is_err());
    }

    #[test]
    fn not_found_answers_carry_no_amount() {
        let answer = status_answer("s", "T1", None, "12.50", "");
        assert_eq!(answer["status"], "NOT_FOUND");
        assert_eq!(answer["amount"], "");
        assert_eq!(
            answer["signature"],
            result_signature("s", "T1", "NOT_FOUND", "")
        );
    }
}
