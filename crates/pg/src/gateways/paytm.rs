//! PAYTM: Paytm's legacy "theia" checkout with the PaytmChecksum library (DIGIT's
//! egov-pg-service `gateways/paytm/PaytmGateway.java`, with `com.paytm.pg:paytm-checksum:1.2.1`).
//!
//! # Protocol
//!
//! - **Redirect**: a GET to `debit_url` (`https://securegw-stage.paytm.in/theia/processTransaction`)
//!   with `MID`, `ORDER_ID` (kosh's txn id), `CUST_ID` (the payer's login), `INDUSTRY_TYPE_ID`,
//!   `CHANNEL_ID`, `TXN_AMOUNT` (rupees, two decimals), `WEBSITE`, `EMAIL`, `MOBILE_NO`,
//!   `CALLBACK_URL` and `CHECKSUMHASH`.
//! - **Checksum** (PaytmChecksum): the parameter values in key order joined with `|` (a missing
//!   value or the text `null` counts as empty), then `|` and a random 4-character salt;
//!   SHA-256 of that in lower-case hex, followed by the salt; encrypted with AES-CBC/PKCS#5 with
//!   the merchant key as key (16 bytes → AES-128) and the fixed IV `@@@@&&&&####$$$$`; Base64.
//!   Verifying decrypts, takes the last four characters as the salt and recomputes.
//! - **Status**: **always** server to server, whatever the callback says: POST JSON
//!   `{"MID", "ORDERID", "CHECKSUMHASH"}` (checksum over `MID` and `ORDERID`) to `status_url`
//!   (`…/merchant-status/getTxnStatus`). The answer has `STATUS` (`TXN_SUCCESS`, `TXN_FAILURE`,
//!   `PENDING`), `TXNAMOUNT`, `TXNID`, `PAYMENTMODE`, `RESPCODE`, `RESPMSG`, `ORDERID`.
//!
//! # Where kosh differs from DIGIT
//!
//! - The status request names the order `ORDERID`, as Paytm's Transaction Status API documents;
//!   DIGIT sends `ORDER_ID` (the checksum is the same, since only values are signed).
//! - Paytm answers problems with kosh's own request as `TXN_FAILURE` too: `RESPCODE` 330
//!   (checksum invalid) and 335 (MID invalid) are [`GatewayError::Rejected`], 334 (no such
//!   order) is PENDING with `found_at_gateway = false`, 501 (system error) is
//!   [`GatewayError::Unavailable`]. DIGIT takes all of them as FAILURE.
//! - `PENDING` and unknown statuses stay PENDING (DIGIT's gateway says PENDING too, but its
//!   `_update` then stores FAILURE).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::Rng;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http;
use super::{
    Gateway, GatewayError, GatewayStatus, GatewayTxn, Redirect, Secret, StatusSource, TxnStatus,
    positive_amount, require, require_url,
};
use crate::crypto::{AesError, aes_cbc_decrypt, aes_cbc_encrypt, ct_eq, sha256_hex};
use kosh_platform::money::wire;

/// Registry name.
pub const NAME: &str = "PAYTM";
/// Callback parameter carrying kosh's txn id.
pub const TXN_ID_KEY: &str = "ORDERID";
/// PaytmChecksum's fixed IV.
pub const IV: &[u8; 16] = b"@@@@&&&&####$$$$";
/// The parameter that carries the checksum.
pub const CHECKSUM_KEY: &str = "CHECKSUMHASH";

/// PAYTM configuration (DIGIT's `paytm.*` properties).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaytmConfig {
    /// `paytm.active` (default true here; DIGIT ships it false).
    pub active: bool,
    /// `MID` (`paytm.merchant.id`).
    pub merchant_id: String,
    /// The merchant key, 16 characters for AES-128 (`paytm.merchant.secret.key`).
    pub merchant_key: Secret,
    /// `INDUSTRY_TYPE_ID` (default `Retail`).
    pub industry_type_id: String,
    /// `CHANNEL_ID` (default `WEB`).
    pub channel_id: String,
    /// `WEBSITE` (default `WEBSTAGING`).
    pub website: String,
    /// Payment page (`paytm.url.debit`).
    pub debit_url: String,
    /// Status API (`paytm.url.status`).
    pub status_url: String,
    /// Timeout of one call, ms (default: the registry's).
    pub timeout_ms: Option<u64>,
}

impl Default for PaytmConfig {
    fn default() -> Self {
        PaytmConfig {
            active: true,
            merchant_id: String::new(),
            merchant_key: Secret::default(),
            industry_type_id: "Retail".to_string(),
            channel_id: "WEB".to_string(),
            website: "WEBSTAGING".to_string(),
            debit_url: "https://securegw-stage.paytm.in/theia/processTransaction".to_string(),
            status_url: "https://securegw-stage.paytm.in/merchant-status/getTxnStatus".to_string(),
            timeout_ms: None,
        }
    }
}

/// The text PaytmChecksum signs: values in key order joined with `|`, `null` as empty. The
/// `CHECKSUMHASH` parameter itself is left out.
pub fn params_string(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, _)| k.as_str() != CHECKSUM_KEY)
        .map(|(_, v)| if v == "null" { "" } else { v.as_str() })
        .collect::<Vec<_>>()
        .join("|")
}

/// PaytmChecksum with a given salt (tests and verification use this; signing uses a random one).
pub fn checksum_with_salt(
    params: &BTreeMap<String, String>,
    merchant_key: &str,
    salt: &str,
) -> Result<String, AesError> {
    let hash = format!(
        "{}{salt}",
        sha256_hex(format!("{}|{salt}", params_string(params)).as_bytes())
    );
    Ok(BASE64.encode(aes_cbc_encrypt(
        merchant_key.as_bytes(),
        IV,
        hash.as_bytes(),
    )?))
}

/// PaytmChecksum's `generateSignature`: a fresh random 4-character salt.
pub fn generate_checksum(
    params: &BTreeMap<String, String>,
    merchant_key: &str,
) -> Result<String, AesError> {
    const SALT_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let salt: String = (0..4)
        .map(|_| char::from(SALT_CHARS[rng.random_range(0..SALT_CHARS.len())]))
        .collect();
    checksum_with_salt(params, merchant_key, &salt)
}

/// PaytmChecksum's `verifySignature`: whether `checksum` signs `params` (its `CHECKSUMHASH`, if
/// any, is ignored) under `merchant_key`.
pub fn verify_checksum(
    params: &BTreeMap<String, String>,
    merchant_key: &str,
    checksum: &str,
) -> bool {
    let Ok(encrypted) = BASE64.decode(checksum.trim()) else {
        return false;
    };
    let Ok(decrypted) = aes_cbc_decrypt(merchant_key.as_bytes(), IV, &encrypted) else {
        return false;
    };
    let Ok(hash_and_salt) = String::from_utf8(decrypted) else {
        return false;
    };
    if hash_and_salt.len() < 4 || !hash_and_salt.is_char_boundary(hash_and_salt.len() - 4) {
        return false;
    }
    let salt = &hash_and_salt[hash_and_salt.len() - 4..];
    let expected = format!(
        "{}{salt}",
        sha256_hex(format!("{}|{salt}", params_string(params)).as_bytes())
    );
    ct_eq(expected.as_bytes(), hash_and_salt.as_bytes())
}

/// The PAYTM gateway.
pub struct PaytmGateway {
    config: PaytmConfig,
    debit_url: Url,
    status_url: Url,
    client: reqwest::Client,
}

impl fmt::Debug for PaytmGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaytmGateway")
            .field("merchant_id", &self.config.merchant_id)
            .field("active", &self.config.active)
            .field("debit_url", &self.config.debit_url)
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

impl PaytmGateway {
    /// Checks the configuration and builds the gateway.
    pub fn new(config: PaytmConfig, timeout: Duration) -> Result<Self, GatewayError> {
        require(NAME, "merchant_id", &config.merchant_id)?;
        require(NAME, "merchant_key", config.merchant_key.expose())?;
        let key_len = config.merchant_key.expose().len();
        if ![16, 24, 32].contains(&key_len) {
            return Err(GatewayError::Config {
                gateway: NAME,
                detail: format!("merchant_key must be 16, 24 or 32 bytes (AES), not {key_len}"),
            });
        }
        let debit_url = require_url(NAME, "debit_url", &config.debit_url)?;
        let status_url = require_url(NAME, "status_url", &config.status_url)?;
        Ok(PaytmGateway {
            debit_url,
            status_url,
            client: http::client(NAME, timeout)?,
            config,
        })
    }

    fn sign(&self, params: &BTreeMap<String, String>) -> Result<String, GatewayError> {
        generate_checksum(params, self.config.merchant_key.expose()).map_err(|e| {
            GatewayError::Config {
                gateway: NAME,
                detail: format!("CHECKSUM_GEN_FAILED: {e}"),
            }
        })
    }
}

#[async_trait]
impl Gateway for PaytmGateway {
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
        let mut params: BTreeMap<String, String> = [
            ("MID", self.config.merchant_id.clone()),
            ("ORDER_ID", txn.txn_id.clone()),
            ("CUST_ID", txn.payer_user_name.clone()),
            ("INDUSTRY_TYPE_ID", self.config.industry_type_id.clone()),
            ("CHANNEL_ID", self.config.channel_id.clone()),
            ("TXN_AMOUNT", wire::rupees_text(txn.amount_paise)),
            ("WEBSITE", self.config.website.clone()),
            ("EMAIL", txn.payer_email.clone().unwrap_or_default()),
            ("MOBILE_NO", txn.payer_mobile.clone()),
            ("CALLBACK_URL", txn.callback_url.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let checksum = self.sign(&params)?;
        params.insert(CHECKSUM_KEY.to_string(), checksum);
        let mut url = self.debit_url.clone();
        url.query_pairs_mut().extend_pairs(params.iter());
        Ok(Redirect { url: url.into() })
    }

    /// Always asks Paytm's status API; the callback's parameters are not used.
    async fn fetch_status(
        &self,
        txn: &GatewayTxn,
        _callback: &BTreeMap<String, String>,
    ) -> Result<GatewayStatus, GatewayError> {
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        params.insert("MID".into(), self.config.merchant_id.clone());
        params.insert("ORDERID".into(), txn.txn_id.clone());
        let checksum = self.sign(&params)?;
        let body = json!({
            "MID": self.config.merchant_id,
            "ORDERID": txn.txn_id,
            "CHECKSUMHASH": checksum,
        });
        let answer =
            http::send(NAME, self.client.post(self.status_url.clone()).json(&body)).await?;
        if !answer.status.is_success() {
            return Err(if answer.status.is_client_error() {
                http::rejected(NAME, &answer)
            } else {
                malformed(format!("status API answered HTTP {}", answer.status))
            });
        }
        let json: Value = serde_json::from_str(&answer.body)
            .map_err(|_| malformed(format!("status answer is not JSON: {}", answer.snippet())))?;
        map_status(txn, json)
    }
}

/// Reads Paytm's status answer (public so the fuzz targets reach it).
pub fn map_status(txn: &GatewayTxn, json: Value) -> Result<GatewayStatus, GatewayError> {
    let text = |name: &str| {
        json.get(name)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
    };
    let Some(gateway_status) = text("STATUS") else {
        return Err(malformed(format!("status answer has no STATUS: {json}")));
    };
    let code = text("RESPCODE");
    let message = text("RESPMSG");
    match code.as_deref() {
        Some("330") | Some("335") => {
            return Err(GatewayError::Rejected {
                gateway: NAME,
                detail: format!(
                    "RESPCODE {}: {}",
                    code.as_deref().unwrap_or_default(),
                    message.as_deref().unwrap_or_default()
                ),
            });
        }
        Some("501") => {
            return Err(GatewayError::Unavailable {
                gateway: NAME,
                detail: format!("RESPCODE 501: {}", message.as_deref().unwrap_or_default()),
            });
        }
        _ => {}
    }
    if let Some(order) = text("ORDERID")
        && order != txn.txn_id
    {
        return Err(malformed(format!(
            "status answered about {order}, not {}",
            txn.txn_id
        )));
    }
    let mut out = GatewayStatus::new(TxnStatus::Pending, StatusSource::StatusApi, json.clone());
    if code.as_deref() == Some("334") {
        out.found_at_gateway = false;
    } else {
        match gateway_status.to_ascii_uppercase().as_str() {
            "TXN_SUCCESS" => out.status = TxnStatus::Success,
            "TXN_FAILURE" => out.status = TxnStatus::Failure,
            _ => {}
        }
    }
    out.amount_paise = match text("TXNAMOUNT") {
        Some(a) => Some(
            wire::parse_rupees_text(&a)
                .map_err(|e| malformed(format!("TXNAMOUNT {a:?} is not a rupee amount: {e}")))?,
        ),
        None => None,
    };
    if out.status == TxnStatus::Success && out.amount_paise.is_none() {
        return Err(malformed("TXN_SUCCESS without TXNAMOUNT".to_string()));
    }
    out.gateway_txn_id = text("TXNID");
    out.payment_mode = text("PAYMENTMODE");
    out.status_code = code;
    out.status_msg = message;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kosh_platform::money::Paise;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn params_string_orders_by_key_and_blanks_null() {
        let p = params(&[
            ("ORDERID", "T1"),
            ("MID", "MERCH1"),
            ("EMAIL", "null"),
            ("CHECKSUMHASH", "ignored"),
        ]);
        assert_eq!(params_string(&p), "|MERCH1|T1");
    }

    // Expected value computed independently with the openssl command line:
    //   h=$(printf 'MERCH1|T1|aB3x' | sha256sum | cut -c1-64)aB3x
    //   printf %s "$h" | openssl enc -aes-128-cbc -K <hex of key> -iv <hex of IV> -base64 -A
    #[test]
    fn checksum_matches_an_independent_computation() {
        let p = params(&[("MID", "MERCH1"), ("ORDERID", "T1")]);
        let checksum = checksum_with_salt(&p, "kbzk1DSbJiV_O3p5", "aB3x").unwrap();
        assert_eq!(
            checksum,
            "LOYSnJWigsOFHZN8uZF1sI/E6ooH8tm//gsl5zLWxO38AEKzvTsBhj/r0RP5PM4P1/N0zrPn9Idn2NFzK6o6IPGAPdzYsHbwZCEbyPKHMnc="
        );
        assert!(verify_checksum(&p, "kbzk1DSbJiV_O3p5", &checksum));
    }

    #[test]
    fn verification_rejects_tampering_and_wrong_keys() {
        let p = params(&[
            ("MID", "MERCH1"),
            ("ORDERID", "T1"),
            ("TXN_AMOUNT", "10.00"),
        ]);
        let key = "kbzk1DSbJiV_O3p5";
        let checksum = generate_checksum(&p, key).unwrap();
        assert!(verify_checksum(&p, key, &checksum));
        let mut with_hash = p.clone();
        with_hash.insert(CHECKSUM_KEY.into(), checksum.clone());
        assert!(verify_checksum(&with_hash, key, &checksum));
        let mut tampered = p.clone();
        tampered.insert("TXN_AMOUNT".into(), "1.00".into());
        assert!(!verify_checksum(&tampered, key, &checksum));
        assert!(!verify_checksum(&p, "0000000000000000", &checksum));
        assert!(!verify_checksum(&p, key, "not base64!"));
        assert!(!verify_checksum(&p, key, ""));
        // Two signatures of the same data differ (random salt) and both verify.
        let again = generate_checksum(&p, key).unwrap();
        assert!(verify_checksum(&p, key, &again));
    }

    fn txn() -> GatewayTxn {
        GatewayTxn {
            txn_id: "T1".into(),
            amount_paise: Paise::new(1000),
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
        }
    }

    #[test]
    fn status_answers_map_without_inventing_failures() {
        let s = map_status(&txn(), json!({"STATUS": "TXN_SUCCESS", "ORDERID": "T1", "TXNAMOUNT": "10.00", "TXNID": "P1", "RESPCODE": "01"})).unwrap();
        assert_eq!(
            (s.status, s.amount_paise),
            (TxnStatus::Success, Some(Paise::new(1000)))
        );
        let s = map_status(
            &txn(),
            json!({"STATUS": "PENDING", "ORDERID": "T1", "RESPCODE": "402"}),
        )
        .unwrap();
        assert_eq!(s.status, TxnStatus::Pending);
        let s = map_status(&txn(), json!({"STATUS": "TXN_FAILURE", "ORDERID": "T1", "RESPCODE": "334", "RESPMSG": "Invalid Order Id."})).unwrap();
        assert_eq!((s.status, s.found_at_gateway), (TxnStatus::Pending, false));
        let e = map_status(
            &txn(),
            json!({"STATUS": "TXN_FAILURE", "ORDERID": "T1", "RESPCODE": "330"}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "GATEWAY_REJECTED_REQUEST");
        let e =
            map_status(&txn(), json!({"STATUS": "TXN_FAILURE", "RESPCODE": "501"})).unwrap_err();
        assert!(e.is_transient());
        assert!(map_status(&txn(), json!({"STATUS": "TXN_SUCCESS", "ORDERID": "T1"})).is_err());
        assert!(
            map_status(
                &txn(),
                json!({"STATUS": "TXN_SUCCESS", "ORDERID": "T2", "TXNAMOUNT": "10.00"})
            )
            .is_err()
        );
        assert!(map_status(&txn(), json!({"foo": 1})).is_err());
        let s = map_status(&txn(), json!({"STATUS": "TXN_FAILURE", "ORDERID": "T1", "RESPCODE": "227", "TXNAMOUNT": "10.00"})).unwrap();
        assert_eq!(s.status, TxnStatus::Failure);
    }
}
