//! RAZORPAY end to end, on SQLite and on PostgreSQL, against the local Razorpay simulator
//! (`kosh_pg::sim`: Orders API with Basic auth, Hosted Checkout, signed callbacks, the orders
//! and payments status API, signed webhooks): kosh's own checkout page posts the order to
//! the Hosted Checkout; a captured payment makes one receipt; a failed one is FAILURE; an
//! authorized one stays PENDING until Razorpay captures it (reconciliation settles it); a
//! forged or replayed signature settles nothing Razorpay does not confirm; another amount is
//! held for review; a verified webhook settles a transaction whose callback was lost, a forged
//! one is refused.

use std::collections::BTreeMap;

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use kosh_pg::gateways::razorpay;
use kosh_pg::sim::{GatewaySim, SimCallback, SimGateway, SimOutcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    success_through_kosh_checkout_page_makes_one_receipt,
    failure_and_late_capture,
    forged_and_replayed_signatures_settle_nothing,
    another_amount_is_held_for_review,
    webhooks_are_verified_and_only_prompt_a_status_query,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const MINUTE: i64 = 60_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";
const CALLBACK: &str = "https://ui.example/citizen/payment/success";
const UPDATE: &str = "/pg-service/transaction/v1/_update";
const WEBHOOK: &str = "/pg-service/gateway/razorpay/_webhook";

struct Env {
    kosh: Kosh,
    sim: GatewaySim,
    citizen: String,
    citizen_uuid: String,
}

/// kosh with the simulators' gateways, RAZORPAY's checkout page served by kosh itself (its
/// `page_url` blank), background reconciliation off, the clock at NOW, and a citizen.
async fn start(backend: Backend) -> Env {
    let sim = GatewaySim::start().await.expect("simulator");
    let mut config = sim.config();
    config.razorpay.as_mut().expect("razorpay").page_url = String::new();
    let kosh = Kosh::start_with(backend, |s| {
        s.pg_gateways = Some(config);
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
            &format!(
                "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

/// Creates a RAZORPAY transaction for the bill as the citizen; the Transaction object.
async fn create(env: &Env, bill: &Value) -> Value {
    let (status, body) = env
        .kosh
        .post_as(
            &env.citizen,
            "/pg-service/transaction/v1/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
                "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
                "billId": bill["id"], "consumerCode": bill["consumerCode"],
                "productInfo": "Property Tax Payment", "gateway": "RAZORPAY",
                "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
                "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
                "callbackUrl": CALLBACK}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Transaction"]["txnStatus"], "PENDING", "{body}");
    body["Transaction"].clone()
}

fn txn_id(txn: &Value) -> String {
    txn["txnId"].as_str().expect("txnId").to_string()
}

/// Undoes the page's HTML escaping of attribute values.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `attribute="..."` in an HTML tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// The payer's browser opens the redirect (kosh's checkout page) and reads its form: the
/// action and the hidden fields, in order.
async fn checkout_form(env: &Env, txn: &Value) -> (String, Vec<(String, String)>) {
    let redirect = txn["redirectUrl"].as_str().expect("redirectUrl");
    assert!(
        env.kosh.serves(redirect, razorpay::PAGE_PATH),
        "the redirect is kosh's checkout page: {redirect}"
    );
    let response = env.kosh.client.get(redirect).send().await.expect("page");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    );
    let html = response.text().await.expect("html");
    let form_tag = &html[html.find("<form").expect("a form")..];
    let form_tag = &form_tag[..form_tag.find('>').expect("form tag")];
    assert_eq!(attribute(form_tag, "method").as_deref(), Some("post"));
    let action = attribute(form_tag, "action").expect("action");
    let mut fields = Vec::new();
    let mut rest = html.as_str();
    while let Some(at) = rest.find("<input") {
        let tag = &rest[at..at + rest[at..].find('>').expect("input tag")];
        fields.push((
            attribute(tag, "name").expect("name"),
            attribute(tag, "value").expect("value"),
        ));
        rest = &rest[at + tag.len()..];
    }
    (action, fields)
}

/// The payer pays at Razorpay's Hosted Checkout through kosh's page; Razorpay's callback.
async fn pay(env: &Env, txn: &Value, outcome: SimOutcome) -> SimCallback {
    let (action, fields) = checkout_form(env, txn).await;
    env.sim
        .pay_form(&action, &fields, outcome)
        .unwrap_or_else(|e| panic!("Razorpay refused the checkout form: {e}"))
}

/// Razorpay's callback reaching `_update` without a token: a form POST to the callback URL,
/// whose query (eg_pg_txnid) DIGIT's UI passes on with the form's fields.
async fn callback(kosh: &Kosh, params: &BTreeMap<String, String>) -> Value {
    let response = kosh
        .client
        .post(kosh.url(UPDATE))
        .form(params)
        .send()
        .await
        .expect("request");
    let (status, body) = kosh_blackbox::read(response).await;
    updated(status, &body)
}

fn updated(status: StatusCode, body: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["Transaction"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{body}");
    list[0].clone()
}

fn only_id(txn: &Value) -> BTreeMap<String, String> {
    BTreeMap::from([("eg_pg_txnid".to_string(), txn_id(txn))])
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

fn assert_success_with_receipt(txn: &Value) -> String {
    assert_eq!(txn["txnStatus"], "SUCCESS", "{txn}");
    assert_eq!(txn["txnStatusMsg"], "Transaction successful", "{txn}");
    txn["receipt"]
        .as_str()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| panic!("no receipt: {txn}"))
        .to_string()
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

async fn webhook(kosh: &Kosh, body: Vec<u8>, signature: &str) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(kosh.url(WEBHOOK))
        .header("content-type", "application/json")
        .header(razorpay::WEBHOOK_SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .expect("request");
    kosh_blackbox::read(response).await
}

// ---------------------------------------------------------------------------------------------

async fn success_through_kosh_checkout_page_makes_one_receipt(backend: Backend) {
    let env = start(backend).await;
    let (status, names) = env.kosh.get("/pg-service/gateway/v1/_search").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        names.as_array().unwrap().contains(&json!("RAZORPAY")),
        "{names}"
    );
    let bill = bill(&env, "PT-RZP-001", 500).await;
    let txn = create(&env, &bill).await;
    // _create made the order: amount in paise, receipt = txnId.
    assert_eq!(env.sim.debit_calls(SimGateway::Razorpay), 1);
    let order = env
        .sim
        .txn(SimGateway::Razorpay, &txn_id(&txn))
        .expect("Razorpay knows the order");
    assert_eq!(order.amount_paise, 500_00);

    // kosh's page posts the order to Razorpay's Hosted Checkout.
    let (action, fields) = checkout_form(&env, &txn).await;
    assert_eq!(
        action,
        format!("{}/razorpay/v1/checkout/embedded", env.sim.base_url())
    );
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
    };
    assert_eq!(
        field("key_id"),
        kosh_pg::sim::creds::RAZORPAY_KEY_ID.to_string()
    );
    assert_eq!(field("order_id"), order.request["order_id"]);
    assert_eq!(field("notes[eg_pg_txnid]"), txn_id(&txn));
    assert!(field("callback_url").starts_with(CALLBACK));
    assert!(
        !fields
            .iter()
            .any(|(_, v)| v.contains(kosh_pg::sim::creds::RAZORPAY_KEY_SECRET)),
        "the key secret never reaches the payer"
    );
    // A changed link is refused by the page.
    let redirect = txn["redirectUrl"].as_str().unwrap();
    let tampered = redirect.replace("order_id=order_", "order_id=order_X");
    let response = env.kosh.client.get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let cb = env
        .sim
        .pay_form(&action, &fields, SimOutcome::Success)
        .expect("paid");
    let settled = callback(&env.kosh, &cb.params).await;
    let receipt = assert_success_with_receipt(&settled);
    assert_eq!(
        settled["gatewayTxnId"],
        cb.params["razorpay_payment_id"].as_str()
    );
    let rows = receipts(&env.kosh, &txn_id(&txn)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0], (receipt, NOW));
    // SUCCESS came from the status API, and a repeated callback changes nothing.
    let asked = env.sim.status_calls(SimGateway::Razorpay);
    assert!(asked >= 1);
    assert_eq!(callback(&env.kosh, &cb.params).await, settled);
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
    env.kosh.stop().await;
}

async fn failure_and_late_capture(backend: Backend) {
    let env = start(backend).await;
    // Declined: Razorpay's failure callback (error[...], unsigned); the status API says failed.
    let declined = create(&env, &bill(&env, "PT-RZP-002", 300).await).await;
    let cb = pay(&env, &declined, SimOutcome::Failure).await;
    assert!(cb.params.contains_key("error[code]"));
    assert!(!cb.params.contains_key("razorpay_signature"));
    let failed = callback(&env.kosh, &cb.params).await;
    assert_eq!(failed["txnStatus"], "FAILURE", "{failed}");
    assert_eq!(failed["txnStatusMsg"], "Transaction failed at gateway");
    assert_eq!(failed["receipt"], Value::Null);
    assert!(receipts(&env.kosh, &txn_id(&declined)).await.is_empty());

    // Authorized, not captured: the signed callback leaves it PENDING ...
    let late = create(&env, &bill(&env, "PT-RZP-003", 400).await).await;
    let cb = pay(&env, &late, SimOutcome::Pending).await;
    let pending = callback(&env.kosh, &cb.params).await;
    assert_eq!(pending["txnStatus"], "PENDING", "{pending}");
    assert_eq!(pending["receipt"], Value::Null);
    assert!(receipts(&env.kosh, &txn_id(&late)).await.is_empty());
    // ... until Razorpay captures it: reconciliation asks and settles it, one receipt dated at
    // the creation.
    env.sim
        .set_outcome(SimGateway::Razorpay, &txn_id(&late), SimOutcome::Success);
    env.kosh.advance_clock(16 * MINUTE).await;
    let pass = reconcile(&env).await;
    assert_eq!(pass["succeeded"], 1, "{pass}");
    let settled = txn_now(&env, &late).await;
    let receipt = assert_success_with_receipt(&settled);
    assert_eq!(
        receipts(&env.kosh, &txn_id(&late)).await,
        vec![(receipt, NOW)]
    );
    // The failure stands whatever comes later.
    env.sim.set_outcome(
        SimGateway::Razorpay,
        &txn_id(&declined),
        SimOutcome::Success,
    );
    assert_eq!(callback(&env.kosh, &only_id(&declined)).await, failed);
    env.kosh.stop().await;
}

async fn forged_and_replayed_signatures_settle_nothing(backend: Backend) {
    let env = start(backend).await;
    // A payer who never paid forges a success callback: Razorpay has no payment, PENDING.
    let unpaid = create(&env, &bill(&env, "PT-RZP-004", 700).await).await;
    let mut forged = only_id(&unpaid);
    forged.insert("razorpay_payment_id".into(), "pay_Forged0000001".into());
    forged.insert("razorpay_order_id".into(), "order_Forged000001".into());
    forged.insert(
        "razorpay_signature".into(),
        razorpay::payment_signature(
            "not-the-key-secret",
            "order_Forged000001",
            "pay_Forged0000001",
        ),
    );
    let answer = callback(&env.kosh, &forged).await;
    assert_eq!(answer["txnStatus"], "PENDING", "{answer}");
    assert_eq!(answer["receipt"], Value::Null);

    // A declined payment with a forged success signature: Razorpay says failed, FAILURE.
    let declined = create(&env, &bill(&env, "PT-RZP-005", 800).await).await;
    let cb = pay(&env, &declined, SimOutcome::Failure).await;
    let mut forged = cb.params.clone();
    forged.retain(|k, _| !k.starts_with("error["));
    forged.insert("razorpay_payment_id".into(), "pay_Forged0000002".into());
    forged.insert("razorpay_order_id".into(), "order_Forged000002".into());
    forged.insert("razorpay_signature".into(), "0".repeat(64));
    let answer = callback(&env.kosh, &forged).await;
    assert_eq!(answer["txnStatus"], "FAILURE", "{answer}");
    assert!(receipts(&env.kosh, &txn_id(&declined)).await.is_empty());

    // Another transaction's genuine signed callback replayed against a third, unpaid one:
    // its own order decides (no payment yet), not the replayed one.
    let paid = create(&env, &bill(&env, "PT-RZP-006", 900).await).await;
    let paid_cb = pay(&env, &paid, SimOutcome::Success).await;
    let victim = create(&env, &bill(&env, "PT-RZP-007", 900).await).await;
    let mut replay = paid_cb.params.clone();
    replay.insert("eg_pg_txnid".into(), txn_id(&victim));
    let answer = callback(&env.kosh, &replay).await;
    assert_eq!(answer["txnStatus"], "PENDING", "{answer}");
    assert_eq!(answer["receipt"], Value::Null);
    assert!(receipts(&env.kosh, &txn_id(&victim)).await.is_empty());
    // The genuine one settles its own transaction.
    assert_success_with_receipt(&callback(&env.kosh, &paid_cb.params).await);
    env.kosh.stop().await;
}

async fn another_amount_is_held_for_review(backend: Backend) {
    let env = start(backend).await;
    let txn = create(&env, &bill(&env, "PT-RZP-008", 600).await).await;
    let cb = pay(&env, &txn, SimOutcome::Success).await;
    // Razorpay reports having captured ₹599.00 for a ₹600.00 transaction.
    assert!(
        env.sim
            .set_reported_amount(SimGateway::Razorpay, &txn_id(&txn), 599_00)
    );
    let held = callback(&env.kosh, &cb.params).await;
    assert_eq!(held["txnStatus"], "PENDING", "{held}");
    assert_eq!(
        held["txnStatusMsg"],
        "Transaction amount mismatch, held for review: the gateway reported 599.00"
    );
    assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());
    env.kosh.stop().await;
}

async fn webhooks_are_verified_and_only_prompt_a_status_query(backend: Backend) {
    let env = start(backend).await;
    let txn = create(&env, &bill(&env, "PT-RZP-009", 250).await).await;
    // The payer paid; the callback never came.
    pay(&env, &txn, SimOutcome::Success).await;
    let (body, signature) = env
        .sim
        .razorpay_webhook(&txn_id(&txn))
        .expect("a payment to tell about");

    // A forged signature, or a changed body: refused, nothing asked, nothing settled.
    let asked = env.sim.status_calls(SimGateway::Razorpay);
    let (status, answer) = webhook(&env.kosh, body.clone(), &"0".repeat(64)).await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "RAZORPAY_WEBHOOK_SIGNATURE_INVALID",
        None,
    );
    let mut changed = body.clone();
    let at = changed.len() - 2;
    changed[at] = b' ';
    let (status, _) = webhook(&env.kosh, changed, &signature).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(env.sim.status_calls(SimGateway::Razorpay), asked);
    assert_eq!(txn_now(&env, &txn).await["txnStatus"], "PENDING");

    // The genuine webhook: kosh asks Razorpay and settles the transaction.
    let (status, answer) = webhook(&env.kosh, body.clone(), &signature).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "SUCCESS", "{answer}");
    assert!(env.sim.status_calls(SimGateway::Razorpay) > asked);
    let settled = txn_now(&env, &txn).await;
    assert_success_with_receipt(&settled);
    // Delivered again (Razorpay retries): the same, one receipt.
    let (status, answer) = webhook(&env.kosh, body, &signature).await;
    assert_eq!(
        (status, &answer["status"]),
        (StatusCode::OK, &json!("SUCCESS"))
    );
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);

    // A verified webhook naming no kosh transaction is taken and ignored.
    let other = br#"{"event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_X","notes":{}}}}}"#.to_vec();
    let sig = razorpay::webhook_signature(kosh_pg::sim::creds::RAZORPAY_WEBHOOK_SECRET, &other);
    let (status, answer) = webhook(&env.kosh, other, &sig).await;
    assert_eq!(
        (status, &answer["status"]),
        (StatusCode::OK, &json!("IGNORED"))
    );
    env.kosh.stop().await;
}
