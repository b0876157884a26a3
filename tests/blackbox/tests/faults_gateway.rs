//! Gateways that time out, answer 500 or answer garbage on their status API (RELIABILITY.md,
//! "Faults"), for every gateway kind, on SQLite and on PostgreSQL: the payer paid, the callback
//! arrives, kosh cannot confirm it, so the transaction stays PENDING with no receipt; a
//! reconciliation pass while the gateway is still sick changes nothing; once the gateway heals,
//! the next pass settles it SUCCESS with exactly one receipt dated at the transaction's
//! creation, and the late callback changes nothing more. A callback that is itself garbage is
//! refused with a DIGIT error and changes nothing.
//!
//! Time is kosh's manual clock; the only real waiting is the configured gateway timeout
//! (300 ms) against a simulator that never answers.

use std::collections::BTreeMap;

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_pg::sim::{GatewaySim, SimCallback, SimGateway, SimMode, SimOutcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_status_query_that_times_out_leaves_pending_until_healed,
    a_status_query_answering_500_leaves_pending_until_healed,
    a_status_query_answering_garbage_leaves_pending_until_healed,
    a_garbage_callback_changes_nothing,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const MINUTE: i64 = 60_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";
const UPDATE: &str = "/pg-service/transaction/v1/_update";
/// The gateways' HTTP timeout in these tests: short, because `Hang` is waited out for real.
const TIMEOUT_MS: u64 = 300;

struct Env {
    kosh: Kosh,
    sim: GatewaySim,
    citizen: String,
    citizen_uuid: String,
}

/// kosh with every gateway on a fresh simulator, background reconciliation off (the test runs
/// the passes), and one citizen.
async fn start(backend: Backend) -> Env {
    let sim = GatewaySim::start().await.expect("simulator");
    let mut gateways = sim.config();
    gateways.timeout_ms = TIMEOUT_MS;
    let kosh = Kosh::start_with(backend, |s| {
        s.pg_gateways = Some(gateways);
        s.pg_reconcile_every_seconds = 0;
    })
    .await;
    kosh.set_clock(NOW).await;
    let user = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
            "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let citizen = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
    Env {
        kosh,
        sim,
        citizen,
        citizen_uuid: user["uuid"].as_str().expect("uuid").to_string(),
    }
}

/// A PT demand of `rupees` for `code` and its bill.
async fn bill(env: &Env, code: &str, rupees: i64) -> Value {
    let (status, body) = env
        .kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": [{
                "tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
                "businessService": "PT", "payer": {"uuid": env.citizen_uuid},
                "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO, "minimumAmountPayable": 0,
                "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": rupees, "collectionAmount": 0}]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = env
        .kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

/// Creates a transaction for `bill` at `gateway` as the citizen.
async fn create(env: &Env, bill: &Value, gateway: SimGateway) -> Value {
    let (status, body) = env
        .kosh
        .post_as(
            &env.citizen,
            "/pg-service/transaction/v1/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
                "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
                "billId": bill["id"], "consumerCode": bill["consumerCode"],
                "productInfo": "Property Tax Payment", "gateway": gateway.name(),
                "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
                "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
                "callbackUrl": "https://ui.example/citizen/payment/success"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Transaction"].clone()
}

fn txn_id(txn: &Value) -> String {
    txn["txnId"].as_str().expect("txnId").to_string()
}

/// The gateway's callback reaching `_update` without a token: by GET for the gateways that
/// redirect the payer's browser with a query (AXIS, SANDBOX), as a form POST for the others.
async fn callback(kosh: &Kosh, cb: &SimCallback) -> (StatusCode, Value) {
    let request = match cb.gateway {
        SimGateway::Axis | SimGateway::Sandbox => {
            let mut url = reqwest::Url::parse(&kosh.url(UPDATE)).expect("url");
            url.query_pairs_mut().extend_pairs(cb.params.iter());
            kosh.client.get(url)
        }
        _ => kosh.client.post(kosh.url(UPDATE)).form(&cb.params),
    };
    kosh_blackbox::read(request.send().await.expect("request")).await
}

/// The one transaction of an `_update` answer.
fn updated(status: StatusCode, body: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["Transaction"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{body}");
    list[0].clone()
}

async fn txn_now(env: &Env, txn: &Value) -> Value {
    let (status, body) = env
        .kosh
        .post(
            &format!("/pg-service/transaction/v1/_search?txnId={}", txn_id(txn)),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Transaction"][0].clone()
}

/// (receipt number, receipt date) of every receipt collection holds for a transaction.
async fn receipts(kosh: &Kosh, txn_id: &str) -> Vec<(String, i64)> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT d.receipt_number, d.receipt_date FROM egcl_paymentdetail d \
         JOIN egcl_payment p ON p.tenant_id = d.tenant_id AND p.id = d.payment_id \
         WHERE p.transaction_number = $1",
    )
    .bind(txn_id.to_string())
    .fetch_all(kosh.state().db.pool())
    .await
    .expect("receipts")
}

async fn reconcile(env: &Env) -> Value {
    let (status, body) = env
        .kosh
        .post(
            "/pg-service/transaction/v1/_reconcile",
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Reconciliation"].clone()
}

async fn a_status_query_that_times_out_leaves_pending_until_healed(backend: Backend) {
    sick_then_healed(backend, SimMode::Hang).await;
}

async fn a_status_query_answering_500_leaves_pending_until_healed(backend: Backend) {
    sick_then_healed(backend, SimMode::ServerError).await;
}

async fn a_status_query_answering_garbage_leaves_pending_until_healed(backend: Backend) {
    sick_then_healed(backend, SimMode::Garbage).await;
}

/// For each gateway in turn: paid, the status API sick in `mode`, PENDING through the callback
/// and a reconciliation pass, then healed and settled by the next pass with one receipt.
async fn sick_then_healed(backend: Backend, mode: SimMode) {
    let env = start(backend).await;
    for (i, gateway) in SimGateway::ALL.into_iter().enumerate() {
        let name = gateway.name();
        let created_at = NOW + i as i64 * 60 * MINUTE;
        env.kosh.set_clock(created_at).await;
        let bill = bill(&env, &format!("PT-FG-{i}"), 300 + i as i64).await;
        let txn = create(&env, &bill, gateway).await;
        let cb = env
            .sim
            .pay(
                txn["redirectUrl"].as_str().expect("redirectUrl"),
                SimOutcome::Success,
            )
            .unwrap_or_else(|e| panic!("{name} refused the redirect: {e}"));

        // The money is taken, but the status API is sick: the callback cannot be confirmed.
        env.sim.set_mode(gateway, mode);
        let asked = env.sim.status_calls(gateway);
        let (status, body) = callback(&env.kosh, &cb).await;
        let pending = updated(status, &body);
        assert_eq!(
            pending["txnStatus"], "PENDING",
            "{name} {mode:?}: {pending}"
        );
        assert_eq!(
            pending["receipt"],
            Value::Null,
            "{name} {mode:?}: {pending}"
        );
        assert!(
            env.sim.status_calls(gateway) > asked,
            "{name}: kosh asked the status API"
        );
        assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());

        // Reconciliation while the gateway is still sick: asked, still PENDING, no receipt.
        env.kosh.advance_clock(16 * MINUTE).await;
        let pass = reconcile(&env).await;
        assert_eq!(pass["examined"], 1, "{name} {mode:?}: {pass}");
        assert_eq!(pass["succeeded"], 0, "{name} {mode:?}: {pass}");
        assert_eq!(pass["failed"], 0, "{name} {mode:?}: {pass}");
        let still = txn_now(&env, &txn).await;
        assert_eq!(still["txnStatus"], "PENDING", "{name} {mode:?}: {still}");
        assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());

        // Healed: the next pass settles it, with one receipt dated at the creation.
        env.sim.set_mode(gateway, SimMode::Normal);
        env.kosh.advance_clock(16 * MINUTE).await;
        let pass = reconcile(&env).await;
        assert_eq!(pass["examined"], 1, "{name} {mode:?}: {pass}");
        assert_eq!(pass["succeeded"], 1, "{name} {mode:?}: {pass}");
        let settled = txn_now(&env, &txn).await;
        assert_eq!(
            settled["txnStatus"], "SUCCESS",
            "{name} {mode:?}: {settled}"
        );
        let rows = receipts(&env.kosh, &txn_id(&txn)).await;
        assert_eq!(rows.len(), 1, "{name} {mode:?}: exactly one receipt");
        assert_eq!(settled["receipt"], rows[0].0.as_str(), "{settled}");
        assert_eq!(
            rows[0].1, created_at,
            "{name}: receipt dated at the creation"
        );

        // The late callback, and another pass, change nothing.
        let (status, body) = callback(&env.kosh, &cb).await;
        assert_eq!(updated(status, &body), settled, "{name} {mode:?}");
        env.kosh.advance_clock(60 * MINUTE).await;
        assert_eq!(reconcile(&env).await["examined"], 0);
        assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
    }
    env.kosh.stop().await;
}

/// A callback whose body is garbage (what a broken gateway or a stranger might send): a DIGIT
/// error, never a 5xx, and the transaction is as it was.
async fn a_garbage_callback_changes_nothing(backend: Backend) {
    let env = start(backend).await;
    for (i, gateway) in SimGateway::ALL.into_iter().enumerate() {
        let name = gateway.name();
        let bill = bill(&env, &format!("PT-FGC-{i}"), 200 + i as i64).await;
        let txn = create(&env, &bill, gateway).await;
        let before = txn_now(&env, &txn).await;
        let garbage: Vec<BTreeMap<String, String>> = vec![
            BTreeMap::new(),
            BTreeMap::from([("eg_pg_txnid".into(), "PB_PG_NO_SUCH_TXN".into())]),
            BTreeMap::from([("<html>".into(), "{\"status\": tru".into())]),
        ];
        for params in garbage {
            let cb = SimCallback {
                gateway,
                url: String::new(),
                params,
            };
            let (status, body) = callback(&env.kosh, &cb).await;
            assert!(
                status.is_client_error(),
                "{name}: garbage callback answered {status}: {body}"
            );
            assert!(body["Errors"][0]["code"].is_string(), "{name}: {body}");
        }
        assert_eq!(txn_now(&env, &txn).await, before, "{name}");
        assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());
    }
    env.kosh.stop().await;
}
