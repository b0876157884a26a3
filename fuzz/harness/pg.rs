//! Payment gateways: what a gateway (or someone pretending to be one) sends kosh — the
//! callback parameters of `_update` (query or form, urlencoded) and the body of each status
//! API's answer — through each gateway module's verification and reading.
//!
//! Input: the callback's urlencoded parameters, a newline, then the status answer's body.
//! When the input starts with `!`, the harness signs the callback with the configured key
//! first, so that the code behind the signature check is reached too.
//!
//! The properties are the trait's rules (crates/pg/src/gateways/mod.rs): a callback never
//! yields SUCCESS, a SUCCESS from a status answer always carries its amount, and nothing
//! outside bytes send panics.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use kosh_pg::gateways::{AxisConfig, AxisGateway, PayuConfig, PayuGateway};
use kosh_pg::gateways::{
    GatewayError, GatewayStatus, GatewayTxn, StatusSource, TxnStatus, axis, paytm, payu, phonepe,
    sandbox,
};
use kosh_pg::gateways::{SandboxConfig, SandboxGateway};

pub const TXN_ID: &str = "PB_PG_2026_11_21_000001_42";
const AXIS_KEY_HEX: &str = "00112233445566778899AABBCCDDEEFF";
const PAYU_KEY: &str = "gtKFFx";
const PAYU_SALT: &str = "eCwWELxi";
const PAYTM_KEY: &str = "kbzk1DSbJiV_O3p5";
const SANDBOX_SECRET: &str = "sandbox-secret";

pub fn txn() -> GatewayTxn {
    GatewayTxn {
        txn_id: TXN_ID.into(),
        amount_paise: kosh_platform::money::Paise::new(125_050),
        bill_id: "b-1".into(),
        consumer_code: "PT-107-001".into(),
        product_info: "Property Tax".into(),
        payer_name: "Asha".into(),
        payer_user_name: "9999999999".into(),
        payer_mobile: "9999999999".into(),
        payer_email: None,
        callback_url: format!("https://kosh.example/pg?eg_pg_txnid={TXN_ID}"),
        tenant_id: "pb.amritsar".into(),
        created_time: 1_700_000_000_000,
        bank_account_number: None,
    }
}

struct Gateways {
    axis: AxisGateway,
    payu: PayuGateway,
    sandbox: SandboxGateway,
}

fn gateways() -> &'static Gateways {
    static G: OnceLock<Gateways> = OnceLock::new();
    G.get_or_init(|| {
        let timeout = Duration::from_millis(10);
        Gateways {
            axis: AxisGateway::new(
                AxisConfig {
                    merchant_id: "TESTMERCHANT".into(),
                    access_code: "ACCESS".into(),
                    secret_key: AXIS_KEY_HEX.into(),
                    user: "ama".into(),
                    password: "secret".into(),
                    pay_url: "https://migs.example/vpcpay".into(),
                    status_url: "https://migs.example/vpcdps".into(),
                    ..AxisConfig::default()
                },
                timeout,
            )
            .expect("AXIS configuration"),
            payu: PayuGateway::new(
                PayuConfig {
                    merchant_key: PAYU_KEY.into(),
                    salt: PAYU_SALT.into(),
                    pay_url: "https://payu.example/_payment".into(),
                    status_url: "https://payu.example/merchant/postservice".into(),
                    ..PayuConfig::default()
                },
                timeout,
            )
            .expect("PAYU configuration"),
            sandbox: SandboxGateway::new(
                SandboxConfig {
                    secret: SANDBOX_SECRET.into(),
                    ..SandboxConfig::default()
                },
                timeout,
            )
            .expect("SANDBOX configuration"),
        }
    })
}

/// Splits the input into the callback parameters (as `_update` reads them: first value of a
/// repeated key wins) and the status answer's body.
fn split(data: &[u8]) -> (bool, BTreeMap<String, String>, String) {
    let text = String::from_utf8_lossy(data);
    let (sign, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, &*text),
    };
    let (query, body) = text.split_once('\n').unwrap_or((text, ""));
    let mut params = BTreeMap::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default() {
        params.entry(k).or_insert(v);
    }
    (sign, params, body.to_string())
}

/// A verified callback may say FAILURE or PENDING, never SUCCESS.
fn check_callback(status: Option<GatewayStatus>) {
    if let Some(s) = status {
        assert_ne!(s.status, TxnStatus::Success, "SUCCESS from a callback");
        assert_eq!(s.source, StatusSource::Callback);
    }
}

/// A status answer's SUCCESS always carries the amount the gateway reports.
fn check_answer(result: Result<GatewayStatus, GatewayError>) {
    match result {
        Ok(s) => {
            assert_eq!(s.source, StatusSource::StatusApi);
            if s.status == TxnStatus::Success {
                assert!(s.amount_paise.is_some(), "SUCCESS without an amount");
            }
        }
        Err(e) => assert!(!e.code().is_empty()),
    }
}

pub fn axis(data: &[u8]) {
    let (sign, mut params, body) = split(data);
    let txn = txn();
    if sign {
        let key = hex::decode(AXIS_KEY_HEX).expect("hex key");
        let hash = axis::secure_hash(&axis::signed_fields(&params), &key);
        params.insert("vpc_SecureHash".into(), hash);
    }
    check_callback(gateways().axis.trusted_callback(&txn, &params));
    check_answer(axis::read_query_dr(&txn, &body));
}

pub fn payu(data: &[u8]) {
    let (sign, mut params, body) = split(data);
    let txn = txn();
    if sign {
        let get = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
        let fields = payu::ResponseHashFields {
            additional_charges: params
                .get("additionalCharges")
                .map(String::as_str)
                .filter(|c| !c.is_empty()),
            status: get("status"),
            udf: [
                get("udf1"),
                get("udf2"),
                get("udf3"),
                get("udf4"),
                get("udf5"),
            ],
            email: get("email"),
            firstname: get("firstname"),
            productinfo: get("productinfo"),
            amount: get("amount"),
            txnid: get("txnid"),
            key: params.get("key").map(String::as_str).unwrap_or(PAYU_KEY),
        };
        let hash = payu::response_hash(&fields, PAYU_SALT);
        params.insert("hash".into(), hash);
    }
    check_callback(gateways().payu.trusted_callback(&txn, &params));
    check_answer(payu::read_verify_payment(&txn, &body));
}

pub fn paytm(data: &[u8]) {
    let (sign, mut params, body) = split(data);
    if sign {
        let checksum = paytm::checksum_with_salt(&params, PAYTM_KEY, "abcd").expect("AES key");
        params.insert("CHECKSUMHASH".into(), checksum);
    }
    // Paytm's callback is never trusted (the status API is always asked), but its checksum
    // is still outside bytes: base64, AES-CBC, then UTF-8.
    let checksum = params.get("CHECKSUMHASH").cloned().unwrap_or_default();
    let verified = paytm::verify_checksum(&params, PAYTM_KEY, &checksum);
    assert!(
        !sign || verified,
        "a checksum kosh computed does not verify"
    );
    if let Ok(json) = serde_json::from_str(&body) {
        check_answer(paytm::map_status(&txn(), json));
    }
}

pub fn phonepe(data: &[u8]) {
    let (_, _, body) = split(data);
    if let Ok(json) = serde_json::from_str(&body) {
        check_answer(phonepe::map_status(&txn(), json));
    }
}

pub fn sandbox(data: &[u8]) {
    let (sign, mut params, body) = split(data);
    let txn = txn();
    if sign {
        let get = |name: &str| params.get(name).cloned().unwrap_or_default();
        let signature = sandbox::result_signature(
            SANDBOX_SECRET,
            &get("sandbox_txnid"),
            &get("status"),
            &get("amount"),
        );
        params.insert("signature".into(), signature);
    }
    check_callback(gateways().sandbox.trusted_callback(&txn, &params));
    check_answer(gateways().sandbox.read_status_answer(&txn, &body));
    // The sandbox's own payment page reads the redirect's query (host side).
    if let Ok(request) = sandbox::parse_pay_request(SANDBOX_SECRET, &params) {
        assert!(!request.amount_paise.is_negative());
    }
}
