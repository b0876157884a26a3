//! End-to-end tests of every gateway against its local simulator: redirect, the payer paying,
//! the signed callback, the server-to-server status query, and the failure modes (500,
//! garbage, hang) that must never turn into FAILURE.
//!
//! The same scenarios run for each gateway (`mod axis`, `mod paytm`, ...); a few
//! gateway-specific checks follow.

use std::collections::BTreeMap;
use std::sync::Arc;

use kosh_pg::gateways::PG_TXN_ID_KEY;
use kosh_pg::sim::{GatewaySim, SimCallback, SimGateway, SimMode, SimOutcome, creds};
use kosh_pg::{
    Gateway, GatewayError, GatewayRegistry, GatewayStatus, GatewayTxn, GatewaysConfig, Secret,
    StatusSource, TxnStatus,
};
use kosh_platform::money::Paise;

const AMOUNT: i64 = 125_050; // ₹1250.50

struct Env {
    sim: GatewaySim,
    registry: GatewayRegistry,
}

impl Env {
    async fn new() -> Env {
        Env::with(|_| {}).await
    }

    async fn with(change: impl FnOnce(&mut GatewaysConfig)) -> Env {
        let sim = GatewaySim::start().await.expect("simulator starts");
        let mut config = sim.config();
        change(&mut config);
        let registry = GatewayRegistry::from_config(&config).expect("configuration is valid");
        Env { sim, registry }
    }

    fn gateway(&self, gateway: SimGateway) -> Arc<dyn Gateway> {
        self.registry.get(gateway.name()).expect("registered")
    }

    /// kosh asks for the redirect, the payer pays with `outcome`, the gateway calls back.
    async fn pay(&self, gateway: SimGateway, txn: &GatewayTxn, outcome: SimOutcome) -> SimCallback {
        let redirect = self.gateway(gateway).redirect(txn).await.expect("redirect");
        self.sim
            .pay(&redirect.url, outcome)
            .unwrap_or_else(|e| panic!("{} refused the redirect: {e}", gateway.name()))
    }

    async fn status(
        &self,
        gateway: SimGateway,
        txn: &GatewayTxn,
        callback: &BTreeMap<String, String>,
    ) -> Result<GatewayStatus, GatewayError> {
        self.gateway(gateway).fetch_status(txn, callback).await
    }
}

fn txn(id: &str, amount_paise: i64) -> GatewayTxn {
    GatewayTxn {
        txn_id: id.to_string(),
        amount_paise: Paise::new(amount_paise),
        bill_id: format!("bill-{id}"),
        consumer_code: "PT-107-000123".into(),
        product_info: "Property Tax Payment".into(),
        payer_name: "Asha Devi".into(),
        payer_user_name: "9876543210".into(),
        payer_mobile: "9876543210".into(),
        payer_email: Some("asha@example.com".into()),
        callback_url: format!("https://kosh.example/citizen/payment?{PG_TXN_ID_KEY}={id}"),
        tenant_id: "pb.amritsar".into(),
        created_time: 1_795_000_000_000,
        bank_account_number: Some("1234567890".into()),
    }
}

/// AXIS, PAYU and SANDBOX trust a verified FAILURE/PENDING callback; PAYTM and PHONEPE always
/// ask their status API.
fn trusts_callbacks(gateway: SimGateway) -> bool {
    matches!(
        gateway,
        SimGateway::Axis | SimGateway::Payu | SimGateway::Sandbox
    )
}

/// Rewrites a callback's status without re-signing it, as a forger would.
fn forge(gateway: SimGateway, params: &mut BTreeMap<String, String>, to: SimOutcome) {
    let success = to == SimOutcome::Success;
    if gateway == SimGateway::Razorpay {
        // Razorpay's success callback is its signed ids; its failure callback is `error[...]`.
        if success {
            params.retain(|k, _| !k.starts_with("error["));
            params.insert("razorpay_payment_id".into(), "pay_Forged0000001".into());
            params.insert("razorpay_order_id".into(), "order_Forged000001".into());
            params.insert("razorpay_signature".into(), "0".repeat(64));
        } else {
            assert!(params.contains_key("razorpay_signature"));
            params.retain(|k, _| !k.starts_with("razorpay_"));
            params.insert("error[code]".into(), "BAD_REQUEST_ERROR".into());
            params.insert("error[description]".into(), "Payment failed".into());
        }
        return;
    }
    let (field, value) = match gateway {
        SimGateway::Axis => ("vpc_TxnResponseCode", if success { "0" } else { "2" }),
        SimGateway::Payu => ("status", if success { "success" } else { "failure" }),
        SimGateway::Sandbox => ("status", if success { "SUCCESS" } else { "FAILURE" }),
        SimGateway::Paytm => (
            "STATUS",
            if success {
                "TXN_SUCCESS"
            } else {
                "TXN_FAILURE"
            },
        ),
        SimGateway::Phonepe => (
            "code",
            if success {
                "PAYMENT_SUCCESS"
            } else {
                "PAYMENT_ERROR"
            },
        ),
        SimGateway::Razorpay => unreachable!("handled above"),
    };
    assert!(params.contains_key(field), "{field} in the callback");
    params.insert(field.to_string(), value.to_string());
}

fn id(gateway: SimGateway, n: u32) -> String {
    format!("PB_PG_2026_11_21_{}_{n:04}", gateway.name())
}

fn assert_never_failure(result: &Result<GatewayStatus, GatewayError>, what: &str) {
    if let Ok(status) = result {
        assert_ne!(
            status.status,
            TxnStatus::Failure,
            "{what} must never be FAILURE"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios, run for every gateway.

async fn redirect_is_accepted_by_the_gateway(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 1), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Success).await;
    let known = env
        .sim
        .txn(gateway, &t.txn_id)
        .expect("the gateway knows the txn");
    assert_eq!(
        known.amount_paise, AMOUNT,
        "the gateway was asked for the exact amount"
    );
    assert!(
        callback
            .url
            .starts_with("https://kosh.example/citizen/payment")
    );
    // PAYU and PHONEPE obtain the payer's page, RAZORPAY creates its order.
    let expected_debits = usize::from(matches!(
        gateway,
        SimGateway::Payu | SimGateway::Phonepe | SimGateway::Razorpay
    ));
    assert_eq!(env.sim.debit_calls(gateway), expected_debits);
    assert_eq!(env.sim.status_calls(gateway), 0);
}

async fn verified_failure_callback(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 2), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Failure).await;
    let status = env.status(gateway, &t, &callback.params).await.unwrap();
    assert_eq!(status.status, TxnStatus::Failure);
    assert_eq!(status.amount_paise, Some(Paise::new(AMOUNT)));
    if trusts_callbacks(gateway) {
        assert_eq!(status.source, StatusSource::Callback);
        assert_eq!(
            env.sim.status_calls(gateway),
            0,
            "no server call for a verified FAILURE"
        );
    } else {
        assert_eq!(status.source, StatusSource::StatusApi);
        assert_eq!(env.sim.status_calls(gateway), 1, "always server to server");
    }
}

async fn success_callback_is_confirmed_server_to_server(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 3), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Success).await;
    let status = env.status(gateway, &t, &callback.params).await.unwrap();
    assert_eq!(status.status, TxnStatus::Success);
    assert_eq!(status.source, StatusSource::StatusApi);
    assert_eq!(env.sim.status_calls(gateway), 1);
    assert!(status.amount_matches(&t));
    assert!(status.found_at_gateway);
    let known = env.sim.txn(gateway, &t.txn_id).unwrap();
    assert_eq!(
        status.gateway_txn_id.as_deref(),
        Some(known.gateway_ref.as_str())
    );
    assert!(status.payment_mode.is_some());
    assert!(status.raw.is_object());
}

async fn pending_stays_pending_until_the_gateway_settles(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 4), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Pending).await;
    let status = env.status(gateway, &t, &callback.params).await.unwrap();
    assert_eq!(
        status.status,
        TxnStatus::Pending,
        "PENDING is kept, not turned into FAILURE"
    );
    // Reconciliation asks later with nothing but the txn id.
    assert!(env.sim.set_outcome(gateway, &t.txn_id, SimOutcome::Success));
    let only_id = BTreeMap::from([(PG_TXN_ID_KEY.to_string(), t.txn_id.clone())]);
    let status = env.status(gateway, &t, &only_id).await.unwrap();
    assert_eq!(status.status, TxnStatus::Success);
    assert!(status.amount_matches(&t));
}

async fn forged_success_callback_is_not_trusted(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 5), AMOUNT);
    let mut callback = env.pay(gateway, &t, SimOutcome::Failure).await;
    forge(gateway, &mut callback.params, SimOutcome::Success);
    let status = env.status(gateway, &t, &callback.params).await.unwrap();
    assert_eq!(
        status.status,
        TxnStatus::Failure,
        "the gateway's own answer wins"
    );
    assert_eq!(status.source, StatusSource::StatusApi);
    assert_eq!(env.sim.status_calls(gateway), 1);
}

async fn forged_failure_callback_of_a_paid_txn_is_not_trusted(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 6), AMOUNT);
    let mut callback = env.pay(gateway, &t, SimOutcome::Success).await;
    forge(gateway, &mut callback.params, SimOutcome::Failure);
    let status = env.status(gateway, &t, &callback.params).await.unwrap();
    assert_eq!(
        status.status,
        TxnStatus::Success,
        "money taken is never marked FAILURE"
    );
    assert_eq!(env.sim.status_calls(gateway), 1);
}

async fn signed_callback_of_another_txn_is_not_trusted(gateway: SimGateway) {
    let env = Env::new().await;
    let declined = txn(&id(gateway, 7), AMOUNT);
    let paid = txn(&id(gateway, 8), AMOUNT);
    let declined_callback = env.pay(gateway, &declined, SimOutcome::Failure).await;
    env.pay(gateway, &paid, SimOutcome::Success).await;
    let status = env
        .status(gateway, &paid, &declined_callback.params)
        .await
        .unwrap();
    assert_eq!(status.status, TxnStatus::Success);
    assert_eq!(status.source, StatusSource::StatusApi);
}

async fn amount_mismatch_is_reported_faithfully(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 9), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Success).await;
    assert!(
        env.sim
            .set_reported_amount(gateway, &t.txn_id, AMOUNT - 5_000)
    );
    let status = env.status(gateway, &t, &callback.params).await.unwrap();
    assert_eq!(status.status, TxnStatus::Success);
    assert_eq!(status.amount_paise, Some(Paise::new(AMOUNT - 5_000)));
    assert!(
        !status.amount_matches(&t),
        "the caller decides what a mismatch means"
    );
}

async fn unknown_txn_is_pending_not_failure(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 10), AMOUNT);
    let status = env.status(gateway, &t, &BTreeMap::new()).await.unwrap();
    assert_eq!(status.status, TxnStatus::Pending);
    assert!(!status.found_at_gateway);
    assert_eq!(env.sim.status_calls(gateway), 1);
}

async fn lost_callback_is_recovered_by_reconciliation(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 11), AMOUNT);
    env.sim
        .seed(gateway, &t.txn_id, AMOUNT, SimOutcome::Success);
    let params = BTreeMap::from([(PG_TXN_ID_KEY.to_string(), t.txn_id.clone())]);
    assert_eq!(env.registry.find_txn_id(&params), Some(t.txn_id.clone()));
    let status = env.status(gateway, &t, &params).await.unwrap();
    assert_eq!(status.status, TxnStatus::Success);
    assert!(status.amount_matches(&t));
}

async fn server_error_is_never_failure(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 12), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Success).await;
    env.sim.set_mode(gateway, SimMode::ServerError);
    let result = env.status(gateway, &t, &callback.params).await;
    assert!(
        matches!(result, Err(GatewayError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(result.unwrap_err().is_transient());
    let mut forged = callback.params.clone();
    forge(gateway, &mut forged, SimOutcome::Failure);
    let result = env.status(gateway, &t, &forged).await;
    assert_never_failure(&result, "a 500 with a forged FAILURE callback");
    assert!(result.is_err());
}

async fn garbage_is_never_failure(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 13), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Success).await;
    env.sim.set_mode(gateway, SimMode::Garbage);
    let result = env.status(gateway, &t, &callback.params).await;
    assert!(
        matches!(result, Err(GatewayError::Malformed { .. })),
        "{result:?}"
    );
    let result = env.status(gateway, &t, &BTreeMap::new()).await;
    assert_never_failure(&result, "garbage");
    assert!(result.is_err());
}

async fn hang_is_cut_by_the_timeout(gateway: SimGateway) {
    let env = Env::with(|c| c.timeout_ms = 300).await;
    let t = txn(&id(gateway, 14), AMOUNT);
    let callback = env.pay(gateway, &t, SimOutcome::Success).await;
    env.sim.set_mode(gateway, SimMode::Hang);
    let result = env.status(gateway, &t, &callback.params).await;
    assert!(
        matches!(&result, Err(GatewayError::Unavailable { detail, .. }) if detail.contains("timed out")),
        "{result:?}"
    );
}

async fn redirect_survives_or_fails_cleanly_when_the_gateway_is_down(gateway: SimGateway) {
    let calls_gateway = matches!(
        gateway,
        SimGateway::Payu | SimGateway::Phonepe | SimGateway::Razorpay
    );
    for (mode, expect_code) in [
        (SimMode::ServerError, "GATEWAY_UNAVAILABLE"),
        (SimMode::Garbage, "GATEWAY_MALFORMED_RESPONSE"),
        (SimMode::Hang, "GATEWAY_UNAVAILABLE"),
    ] {
        let env = Env::with(|c| c.timeout_ms = 300).await;
        env.sim.set_mode(gateway, mode);
        let t = txn(&id(gateway, 15), AMOUNT);
        let result = env.gateway(gateway).redirect(&t).await;
        if calls_gateway {
            assert_eq!(result.unwrap_err().code(), expect_code, "{mode:?}");
        } else {
            assert!(
                result.is_ok(),
                "{mode:?}: AXIS, PAYTM and SANDBOX build the URL locally"
            );
            assert_eq!(env.sim.calls(), vec![]);
        }
    }
}

async fn wrong_credentials_are_rejected_not_failed(gateway: SimGateway) {
    let env = Env::with(|c| match gateway {
        SimGateway::Axis => c.axis.as_mut().unwrap().password = Secret::new("wrong"),
        SimGateway::Paytm => {
            c.paytm.as_mut().unwrap().merchant_key = Secret::new("0000000000000000")
        }
        SimGateway::Payu => c.payu.as_mut().unwrap().salt = Secret::new("wrong"),
        SimGateway::Phonepe => c.phonepe.as_mut().unwrap().salt_key = Secret::new("wrong"),
        SimGateway::Sandbox => c.sandbox.as_mut().unwrap().secret = Secret::new("wrong"),
        SimGateway::Razorpay => c.razorpay.as_mut().unwrap().key_secret = Secret::new("wrong"),
    })
    .await;
    let t = txn(&id(gateway, 16), AMOUNT);
    env.sim
        .seed(gateway, &t.txn_id, AMOUNT, SimOutcome::Success);
    let result = env.status(gateway, &t, &BTreeMap::new()).await;
    assert!(
        matches!(result, Err(GatewayError::Rejected { .. })),
        "{result:?}"
    );
}

async fn callbacks_name_the_txn_under_the_gateways_key(gateway: SimGateway) {
    let env = Env::new().await;
    let t = txn(&id(gateway, 17), AMOUNT);
    let mut callback = env.pay(gateway, &t, SimOutcome::Failure).await;
    assert_eq!(
        env.registry.find_txn_id(&callback.params),
        Some(t.txn_id.clone())
    );
    let key = env.gateway(gateway).txn_id_key();
    if key == PG_TXN_ID_KEY {
        // RAZORPAY: the callback carries only Razorpay's ids; kosh's comes back in the
        // callback URL's own eg_pg_txnid.
        assert!(
            callback
                .url
                .contains(&format!("{PG_TXN_ID_KEY}={}", t.txn_id))
        );
        return;
    }
    callback.params.remove(PG_TXN_ID_KEY);
    assert_eq!(callback.params.get(key), Some(&t.txn_id), "{key}");
    assert_eq!(
        env.registry.find_txn_id(&callback.params),
        Some(t.txn_id.clone())
    );
}

async fn paise_survive_the_round_trip_exactly(gateway: SimGateway) {
    let env = Env::new().await;
    // Razorpay takes no order under ₹1.00 (100 paise).
    let smallest = if gateway == SimGateway::Razorpay {
        100
    } else {
        1
    };
    for (n, paise) in [(18, 100_029), (19, smallest), (20, 999_999_99)] {
        let t = txn(&id(gateway, n), paise);
        let callback = env.pay(gateway, &t, SimOutcome::Success).await;
        let status = env.status(gateway, &t, &callback.params).await.unwrap();
        assert_eq!(status.amount_paise, Some(Paise::new(paise)));
    }
}

async fn non_positive_amounts_are_not_sent(gateway: SimGateway) {
    let env = Env::new().await;
    for paise in [0, -100] {
        let result = env
            .gateway(gateway)
            .redirect(&txn(&id(gateway, 21), paise))
            .await;
        assert_eq!(result.unwrap_err().code(), "GATEWAY_INVALID_TXN");
    }
    assert_eq!(env.sim.calls(), vec![]);
}

macro_rules! suite {
    ($module:ident, $gateway:expr) => {
        mod $module {
            use super::SimGateway;
            suite!(@tests $gateway;
                redirect_is_accepted_by_the_gateway,
                verified_failure_callback,
                success_callback_is_confirmed_server_to_server,
                pending_stays_pending_until_the_gateway_settles,
                forged_success_callback_is_not_trusted,
                forged_failure_callback_of_a_paid_txn_is_not_trusted,
                signed_callback_of_another_txn_is_not_trusted,
                amount_mismatch_is_reported_faithfully,
                unknown_txn_is_pending_not_failure,
                lost_callback_is_recovered_by_reconciliation,
                server_error_is_never_failure,
                garbage_is_never_failure,
                hang_is_cut_by_the_timeout,
                redirect_survives_or_fails_cleanly_when_the_gateway_is_down,
                wrong_credentials_are_rejected_not_failed,
                callbacks_name_the_txn_under_the_gateways_key,
                paise_survive_the_round_trip_exactly,
                non_positive_amounts_are_not_sent
            );
        }
    };
    (@tests $gateway:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::$name($gateway).await;
            }
        )*
    };
}

suite!(axis, SimGateway::Axis);
suite!(paytm, SimGateway::Paytm);
suite!(payu, SimGateway::Payu);
suite!(phonepe, SimGateway::Phonepe);
suite!(razorpay, SimGateway::Razorpay);
suite!(sandbox, SimGateway::Sandbox);

// ---------------------------------------------------------------------------------------------
// Gateway-specific checks.

fn query(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn registry_from_config_lists_every_gateway_and_key() {
    let env = Env::new().await;
    assert_eq!(
        env.registry.names(),
        vec!["AXIS", "PAYTM", "PAYU", "PHONEPE", "RAZORPAY", "SANDBOX"]
    );
    assert!(
        env.registry
            .names()
            .iter()
            .all(|n| env.registry.is_active(n))
    );
    assert_eq!(
        env.registry.txn_id_keys(),
        vec![
            "eg_pg_txnid",
            "vpc_MerchTxnRef",
            "ORDERID",
            "txnid",
            "transactionId",
            "sandbox_txnid"
        ]
    );
}

#[tokio::test]
async fn axis_redirect_carries_the_migs_fields_and_an_independently_computed_hash() {
    let env = Env::new().await;
    let t = txn("PB_PG_AXIS_URL", AMOUNT);
    let redirect = env.gateway(SimGateway::Axis).redirect(&t).await.unwrap();
    assert!(
        redirect
            .url
            .starts_with(&format!("{}/axis/vpcpay?", env.sim.base_url()))
    );
    let q = query(&redirect.url);
    assert_eq!(q["vpc_Amount"], "125050");
    assert_eq!(q["vpc_Command"], "pay");
    assert_eq!(q["vpc_MerchTxnRef"], "PB_PG_AXIS_URL");
    assert_eq!(q["vpc_OrderInfo"], "1234567890");
    assert_eq!(q["vpc_ReturnURL"], t.callback_url);
    assert_eq!(q["vpc_SecureHashType"], "SHA256");
    // Rebuild the hash input by hand: sorted vpc_ fields, name=value joined with '&'.
    let mut names: Vec<&String> = q
        .keys()
        .filter(|k| k.as_str() != "vpc_SecureHash" && k.as_str() != "vpc_SecureHashType")
        .collect();
    names.sort();
    let input = names
        .iter()
        .map(|k| format!("{k}={}", q[*k]))
        .collect::<Vec<_>>()
        .join("&");
    let key = hex::decode(creds::AXIS_SECRET_HEX).unwrap();
    let expected = hex::encode_upper(kosh_pg::crypto::hmac_sha256(&key, input.as_bytes()));
    assert_eq!(q["vpc_SecureHash"], expected);
}

#[tokio::test]
async fn axis_callback_verifies_although_kosh_added_eg_pg_txnid_to_the_return_url() {
    // DIGIT hashes every callback parameter, including eg_pg_txnid, so a genuine MIGS callback
    // never verifies there. kosh hashes only what MIGS signs.
    let env = Env::new().await;
    let t = txn("PB_PG_AXIS_CB", AMOUNT);
    let callback = env.pay(SimGateway::Axis, &t, SimOutcome::Failure).await;
    assert!(callback.params.contains_key(PG_TXN_ID_KEY));
    assert!(callback.url.contains("eg_pg_txnid=PB_PG_AXIS_CB"));
    assert!(callback.url.contains("vpc_SecureHash="));
    let status = env
        .status(SimGateway::Axis, &t, &callback.params)
        .await
        .unwrap();
    assert_eq!(
        (status.status, status.source),
        (TxnStatus::Failure, StatusSource::Callback)
    );
    assert_eq!(status.status_code.as_deref(), Some("2"));
    assert_eq!(
        status.status_msg.as_deref(),
        Some("Bank Declined Transaction")
    );
}

#[tokio::test]
async fn axis_query_dr_sends_the_ama_credentials_in_the_body() {
    let env = Env::new().await;
    let t = txn("PB_PG_AXIS_DR", AMOUNT);
    env.sim
        .seed(SimGateway::Axis, &t.txn_id, AMOUNT, SimOutcome::Failure);
    let status = env
        .status(SimGateway::Axis, &t, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(status.status, TxnStatus::Failure);
    assert_eq!(status.source, StatusSource::StatusApi);
    assert_eq!(status.raw["vpc_DRExists"], "Y");
}

#[tokio::test]
async fn paytm_redirect_is_signed_with_paytm_checksum() {
    let env = Env::new().await;
    let t = txn("PB_PG_PAYTM_URL", AMOUNT);
    let redirect = env.gateway(SimGateway::Paytm).redirect(&t).await.unwrap();
    let q = query(&redirect.url);
    assert_eq!(q["TXN_AMOUNT"], "1250.50");
    assert_eq!(q["ORDER_ID"], "PB_PG_PAYTM_URL");
    assert_eq!(q["MID"], creds::PAYTM_MID);
    assert_eq!(q["CUST_ID"], "9876543210");
    assert_eq!(q["CALLBACK_URL"], t.callback_url);
    assert!(kosh_pg::gateways::paytm::verify_checksum(
        &q,
        creds::PAYTM_KEY,
        &q["CHECKSUMHASH"]
    ));
    let mut tampered = q.clone();
    tampered.insert("TXN_AMOUNT".into(), "1.00".into());
    let tampered_url = {
        let mut u = reqwest::Url::parse(&redirect.url).unwrap();
        u.query_pairs_mut().clear().extend_pairs(tampered.iter());
        u.to_string()
    };
    assert!(env.sim.pay(&tampered_url, SimOutcome::Success).is_err());
}

#[tokio::test]
async fn payu_receives_the_documented_form_and_answers_with_the_payers_page() {
    let env = Env::new().await;
    let t = txn("PB_PG_PAYU_URL", AMOUNT);
    let redirect = env.gateway(SimGateway::Payu).redirect(&t).await.unwrap();
    assert!(
        redirect
            .url
            .starts_with(&format!("{}/payu/pay/", env.sim.base_url()))
    );
    let known = env.sim.txn(SimGateway::Payu, &t.txn_id).unwrap();
    let r = &known.request;
    assert_eq!(r["amount"], "1250.50");
    assert_eq!(r["productinfo"], "Property Tax Payment");
    assert_eq!(r["firstname"], "Asha Devi");
    assert_eq!(r["email"], "asha@example.com");
    assert_eq!(r["phone"], "9876543210");
    assert_eq!(r["surl"], t.callback_url);
    assert_eq!(r["furl"], t.callback_url);
    let input = format!(
        "{}|{}|1250.50|Property Tax Payment|Asha Devi|asha@example.com|||||||||||{}",
        creds::PAYU_KEY,
        t.txn_id,
        creds::PAYU_SALT
    );
    assert_eq!(r["hash"], kosh_pg::crypto::sha512_hex(input.as_bytes()));
}

#[tokio::test]
async fn payu_refuses_a_wrong_request_hash_and_kosh_reports_no_redirect() {
    let env = Env::with(|c| c.payu.as_mut().unwrap().salt = Secret::new("wrong")).await;
    let result = env
        .gateway(SimGateway::Payu)
        .redirect(&txn("PB_PG_PAYU_BAD", AMOUNT))
        .await;
    let err = result.unwrap_err();
    assert_eq!(err.code(), "GATEWAY_MALFORMED_RESPONSE");
    assert!(
        err.to_string().contains("PAYU_REDIRECT_URI_GEN_FAILED"),
        "{err}"
    );
}

#[tokio::test]
async fn payu_pending_callback_is_trusted_as_pending() {
    let env = Env::new().await;
    let t = txn("PB_PG_PAYU_PENDING", AMOUNT);
    let callback = env.pay(SimGateway::Payu, &t, SimOutcome::Pending).await;
    let status = env
        .status(SimGateway::Payu, &t, &callback.params)
        .await
        .unwrap();
    assert_eq!(
        (status.status, status.source),
        (TxnStatus::Pending, StatusSource::Callback)
    );
    assert_eq!(env.sim.status_calls(SimGateway::Payu), 0);
}

#[tokio::test]
async fn phonepe_debit_carries_the_signed_payload() {
    let env = Env::new().await;
    let t = txn("PB_PG_PHONEPE_URL", AMOUNT);
    let redirect = env.gateway(SimGateway::Phonepe).redirect(&t).await.unwrap();
    assert!(
        redirect
            .url
            .starts_with(&format!("{}/phonepe/transact?token=", env.sim.base_url()))
    );
    let known = env.sim.txn(SimGateway::Phonepe, &t.txn_id).unwrap();
    assert_eq!(known.request["amount"], "125050");
    assert_eq!(known.request["merchantOrderId"], t.bill_id);
    assert_eq!(known.request["merchantUserId"], "9876543210");
    assert_eq!(known.request["message"], "Property Tax Payment");
    assert_eq!(known.callback_url, t.callback_url);
}

#[tokio::test]
async fn phonepe_wrong_salt_is_rejected_at_redirect() {
    let env = Env::with(|c| c.phonepe.as_mut().unwrap().salt_key = Secret::new("wrong")).await;
    let err = env
        .gateway(SimGateway::Phonepe)
        .redirect(&txn("PB_PG_PHONEPE_BAD", AMOUNT))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "GATEWAY_REJECTED_REQUEST");
    assert!(err.to_string().contains("AUTHORIZATION_FAILED"), "{err}");
}

#[tokio::test]
async fn phonepe_pending_answer_is_pending() {
    let env = Env::new().await;
    let t = txn("PB_PG_PHONEPE_PENDING", AMOUNT);
    let callback = env.pay(SimGateway::Phonepe, &t, SimOutcome::Pending).await;
    let status = env
        .status(SimGateway::Phonepe, &t, &callback.params)
        .await
        .unwrap();
    assert_eq!(status.status, TxnStatus::Pending);
    assert_eq!(status.status_code.as_deref(), Some("PAYMENT_PENDING"));
}

#[tokio::test]
async fn sandbox_redirect_points_at_the_sandbox_page() {
    let env = Env::new().await;
    let t = txn("PB_PG_SANDBOX_URL", AMOUNT);
    let redirect = env.gateway(SimGateway::Sandbox).redirect(&t).await.unwrap();
    assert!(
        redirect
            .url
            .starts_with(&format!("{}/sandbox/pay?", env.sim.base_url()))
    );
    let q = query(&redirect.url);
    assert_eq!(q["txnId"], t.txn_id);
    assert_eq!(q["amount"], "1250.50");
    assert_eq!(q["callbackUrl"], t.callback_url);
    assert_eq!(
        q["signature"],
        kosh_pg::gateways::sandbox::pay_signature(
            creds::SANDBOX_SECRET,
            &t.txn_id,
            "1250.50",
            &t.callback_url
        )
    );
}

#[tokio::test]
async fn a_redirect_signed_with_the_wrong_secret_is_refused_by_the_gateway() {
    for gateway in [SimGateway::Axis, SimGateway::Paytm, SimGateway::Sandbox] {
        let env = Env::with(|c| match gateway {
            SimGateway::Axis => c.axis.as_mut().unwrap().secret_key = Secret::new("00112233"),
            SimGateway::Paytm => {
                c.paytm.as_mut().unwrap().merchant_key = Secret::new("0000000000000000")
            }
            _ => c.sandbox.as_mut().unwrap().secret = Secret::new("wrong"),
        })
        .await;
        let redirect = env
            .gateway(gateway)
            .redirect(&txn("PB_PG_WRONG_SECRET", AMOUNT))
            .await
            .unwrap();
        assert!(
            env.sim.pay(&redirect.url, SimOutcome::Success).is_err(),
            "{gateway:?}"
        );
    }
}

#[tokio::test]
async fn a_gateway_that_recovers_settles_the_txn() {
    // The gateway is down when the payer comes back; reconciliation asks again later.
    let env = Env::new().await;
    let t = txn("PB_PG_RECOVER", AMOUNT);
    let callback = env.pay(SimGateway::Payu, &t, SimOutcome::Success).await;
    env.sim.set_mode(SimGateway::Payu, SimMode::ServerError);
    assert!(
        env.status(SimGateway::Payu, &t, &callback.params)
            .await
            .is_err()
    );
    env.sim.set_mode(SimGateway::Payu, SimMode::Normal);
    let status = env
        .status(SimGateway::Payu, &t, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(status.status, TxnStatus::Success);
    assert_eq!(env.sim.status_calls(SimGateway::Payu), 2);
}

#[tokio::test]
async fn razorpay_order_is_created_with_basic_auth_and_the_callback_is_signed() {
    let env = Env::new().await;
    let t = txn("PB_PG_RAZORPAY_ORDER", AMOUNT);
    let redirect = env
        .gateway(SimGateway::Razorpay)
        .redirect(&t)
        .await
        .unwrap();
    // The redirect is kosh's checkout page, its link signed.
    assert!(
        redirect.url.starts_with(&format!(
            "{}/kosh/pg-service/gateway/razorpay/checkout?",
            env.sim.base_url()
        )),
        "{}",
        redirect.url
    );
    let q = query(&redirect.url);
    assert_eq!(q["txnId"], t.txn_id);
    assert!(q["order_id"].starts_with("order_"));
    assert_eq!(q["callback_url"], t.callback_url);
    let known = env.sim.txn(SimGateway::Razorpay, &t.txn_id).unwrap();
    assert_eq!(known.amount_paise, AMOUNT);
    assert_eq!(known.request["order_id"], q["order_id"]);
    let notes: serde_json::Value = serde_json::from_str(&known.request["notes"]).unwrap();
    assert_eq!(notes["eg_pg_txnid"], t.txn_id.as_str());
    // The payer pays; Razorpay's callback signs order_id|payment_id with the key secret.
    let callback = env.sim.pay(&redirect.url, SimOutcome::Success).unwrap();
    let p = &callback.params;
    assert_eq!(p["razorpay_order_id"], q["order_id"]);
    assert!(kosh_pg::gateways::razorpay::verify_payment_signature(
        creds::RAZORPAY_KEY_SECRET,
        &p["razorpay_order_id"],
        &p["razorpay_payment_id"],
        &p["razorpay_signature"]
    ));
    // A changed link is refused by the page.
    let mut tampered = reqwest::Url::parse(&redirect.url).unwrap();
    let changed: Vec<(String, String)> = q
        .iter()
        .map(|(k, v)| {
            let v = if k == "callback_url" {
                "https://evil.example/".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(changed);
    assert!(env.sim.pay(tampered.as_str(), SimOutcome::Success).is_err());
}

#[tokio::test]
async fn razorpay_authorized_is_pending_and_a_failed_attempt_then_a_capture_is_success() {
    let env = Env::new().await;
    let t = txn("PB_PG_RAZORPAY_AUTH", AMOUNT);
    let callback = env.pay(SimGateway::Razorpay, &t, SimOutcome::Pending).await;
    let status = env
        .status(SimGateway::Razorpay, &t, &callback.params)
        .await
        .unwrap();
    assert_eq!(status.status, TxnStatus::Pending);
    assert_eq!(status.status_code.as_deref(), Some("authorized"));
    // Money authorized and then captured: SUCCESS from the status API only.
    assert!(
        env.sim
            .set_outcome(SimGateway::Razorpay, &t.txn_id, SimOutcome::Success)
    );
    let status = env
        .status(SimGateway::Razorpay, &t, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(
        (status.status, status.source),
        (TxnStatus::Success, StatusSource::StatusApi)
    );
    assert_eq!(status.status_code.as_deref(), Some("captured"));
}
