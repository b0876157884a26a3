//! The payment gateway (pg-service) over HTTP, on SQLite and on PostgreSQL, against the local
//! gateway simulators (`kosh_pg::sim`) and kosh's own SANDBOX pages: create with DIGIT's
//! checks; a callback's SUCCESS makes exactly one receipt dated at the transaction's creation,
//! however often and however concurrently it arrives; only the creator (or the gateway's
//! verified callback, or reconciliation) updates; a one-day bill is honoured after midnight; a
//! gateway timeout leaves PENDING and reconciliation settles it; FAILURE is never overwritten;
//! a zero amount settles at once.

use std::collections::BTreeMap;

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use kosh_pg::GatewaysConfig;
use kosh_pg::sim::{GatewaySim, SimCallback, SimGateway, SimMode, SimOutcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    callback_success_makes_one_receipt_dated_at_create,
    repeated_and_concurrent_callbacks_make_one_receipt,
    only_the_creator_may_update,
    one_day_bill_is_paid_by_a_callback_after_midnight,
    gateway_timeout_stays_pending_until_reconciliation_settles_it,
    failure_is_final,
    pending_answers_and_amount_mismatches_stay_pending,
    unknown_transactions_are_closed_not_failed_and_a_late_success_is_receipted,
    a_late_success_after_the_bill_was_paid_becomes_a_refund_due,
    another_payer_is_not_blocked_and_the_second_success_is_refunded,
    zero_amount_settles_at_once,
    several_bills_in_one_transaction,
    every_gateway_settles_through_its_callback,
    create_and_update_validation,
    search_follows_digits_criteria,
    sandbox_pages_take_a_payment_end_to_end,
    reconciliation_lease_admits_one_holder,
    concurrent_creates_for_one_bill_admit_one,
    a_refused_redirect_fails_the_transaction,
    a_counter_payment_waits_for_a_pending_online_one_unless_overridden,
    a_refund_due_kept_as_advance_credits_the_consumer_code,
    the_sandbox_is_off_by_default_beyond_loopback,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
/// 2019-06-15 23:59:59.999 IST: when a bill fetched on that day expires.
const END_OF_TODAY: i64 = 1_560_623_399_999;
const MINUTE: i64 = 60_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const OTHER_MOBILE: &str = "9876500000";
const PASSWORD: &str = "Secret@123";
const CALLBACK: &str = "https://ui.example/citizen/payment/success";
const UPDATE: &str = "/pg-service/transaction/v1/_update";

struct Env {
    kosh: Kosh,
    sim: Option<GatewaySim>,
    /// The paying citizen.
    citizen: String,
    citizen_uuid: String,
    /// Another citizen.
    other: String,
}

impl Env {
    fn sim(&self) -> &GatewaySim {
        self.sim.as_ref().expect("simulator")
    }

    async fn stop(self) {
        self.kosh.stop().await;
    }

    /// Fresh tokens, after the clock moved past their lifetime.
    async fn sign_in_again(&mut self) {
        self.kosh.admin_token = self
            .kosh
            .token(
                kosh_blackbox::ADMIN,
                kosh_blackbox::ADMIN_PASSWORD,
                "pb",
                "EMPLOYEE",
            )
            .await;
        self.citizen = self.kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
        self.other = self
            .kosh
            .token(OTHER_MOBILE, PASSWORD, "pb", "CITIZEN")
            .await;
    }
}

/// kosh with every gateway pointing at a fresh simulator (changed by `adjust`), background
/// reconciliation off (tests run passes themselves), the clock at NOW, and two citizens.
async fn start(backend: Backend, adjust: impl FnOnce(&mut GatewaysConfig)) -> Env {
    let sim = GatewaySim::start().await.expect("simulator");
    let mut config = sim.config();
    adjust(&mut config);
    start_with(backend, Some(config), Some(sim)).await
}

async fn start_with(
    backend: Backend,
    gateways: Option<GatewaysConfig>,
    sim: Option<GatewaySim>,
) -> Env {
    let kosh = Kosh::start_with(backend, |s| {
        s.pg_gateways = gateways;
        s.pg_reconcile_every_seconds = 0;
    })
    .await;
    kosh.set_clock(NOW).await;
    let mut tokens = Vec::new();
    for (mobile, name) in [(MOBILE, "Asha"), (OTHER_MOBILE, "Ravi")] {
        let user = kosh
            .create_user(
                json!({"userName": mobile, "name": name, "mobileNumber": mobile,
                "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
                "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
            )
            .await;
        let token = kosh.token(mobile, PASSWORD, "pb", "CITIZEN").await;
        tokens.push((token, user["uuid"].as_str().expect("uuid").to_string()));
    }
    let (other, _) = tokens.pop().expect("other");
    let (citizen, citizen_uuid) = tokens.pop().expect("citizen");
    Env {
        kosh,
        sim,
        citizen,
        citizen_uuid,
        other,
    }
}

/// A PT demand of `rupees` for `code`, and its bill (fetched now).
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

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

/// DIGIT's web UI's create request for one bill (txnAmount a JSON number, as the UI sends).
fn txn_request(bill: &Value, gateway: &str) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
        "billId": id(bill), "consumerCode": bill["consumerCode"],
        "productInfo": "Property Tax Payment", "gateway": gateway,
        "taxAndPayments": [{"billId": id(bill), "amountPaid": bill["totalAmount"]}],
        "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
        "callbackUrl": CALLBACK}})
}

async fn create(env: &Env, token: &str, request: Value) -> (StatusCode, Value) {
    env.kosh
        .post_as(token, "/pg-service/transaction/v1/_create", request)
        .await
}

/// Creates a transaction as the citizen; the Transaction object.
async fn create_ok(env: &Env, request: Value) -> Value {
    let (status, body) = create(env, &env.citizen, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "SUCCESSFUL", "{body}");
    assert!(
        body["Transaction"].is_object(),
        "_create answers an object: {body}"
    );
    body["Transaction"].clone()
}

fn txn_id(txn: &Value) -> String {
    txn["txnId"].as_str().expect("txnId").to_string()
}

/// The payer pays at the simulated gateway; its callback.
fn pay(env: &Env, txn: &Value, outcome: SimOutcome) -> SimCallback {
    let redirect = txn["redirectUrl"].as_str().expect("redirectUrl");
    env.sim()
        .pay(redirect, outcome)
        .unwrap_or_else(|e| panic!("the gateway refused the redirect: {e}"))
}

fn url_with(kosh: &Kosh, path: &str, params: &BTreeMap<String, String>) -> String {
    let mut url = reqwest::Url::parse(&kosh.url(path)).expect("url");
    url.query_pairs_mut().extend_pairs(params.iter());
    url.into()
}

/// The gateway's callback reaching `_update` without a token, by GET.
async fn callback(kosh: &Kosh, params: &BTreeMap<String, String>) -> (StatusCode, Value) {
    let response = kosh
        .client
        .get(url_with(kosh, UPDATE, params))
        .send()
        .await
        .expect("request");
    kosh_blackbox::read(response).await
}

/// The gateway's callback reaching `_update` without a token, as a form POST.
async fn callback_form(kosh: &Kosh, params: &BTreeMap<String, String>) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(kosh.url(UPDATE))
        .form(params)
        .send()
        .await
        .expect("request");
    kosh_blackbox::read(response).await
}

/// `_update` as DIGIT's UI calls it: the user's token in RequestInfo, the callback's
/// parameters in the query.
async fn update_as(
    kosh: &Kosh,
    token: &str,
    params: &BTreeMap<String, String>,
) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(url_with(kosh, UPDATE, params))
        .json(&json!({"RequestInfo": {"apiId": "Rainmaker", "authToken": token}}))
        .send()
        .await
        .expect("request");
    kosh_blackbox::read(response).await
}

fn only_id(txn: &Value) -> BTreeMap<String, String> {
    BTreeMap::from([("eg_pg_txnid".to_string(), txn_id(txn))])
}

/// The single transaction of an `_update` answer.
fn updated(status: StatusCode, body: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "SUCCESSFUL", "{body}");
    let list = body["Transaction"]
        .as_array()
        .unwrap_or_else(|| panic!("_update answers a list: {body}"));
    assert_eq!(list.len(), 1, "{body}");
    list[0].clone()
}

async fn search(env: &Env, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = env
        .kosh
        .post_as(
            token,
            &format!("/pg-service/transaction/v1/_search?{query}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Transaction"].as_array().expect("list").clone()
}

async fn txn_now(env: &Env, txn: &Value) -> Value {
    let found = search(
        env,
        &env.kosh.admin_token,
        &format!("txnId={}", txn_id(txn)),
    )
    .await;
    assert_eq!(found.len(), 1);
    found[0].clone()
}

/// The receipts collection holds for a transaction: (receipt number, receipt date, bill id,
/// payment's transaction date).
async fn receipts(kosh: &Kosh, txn_id: &str) -> Vec<(String, i64, String, i64)> {
    sqlx::query_as::<_, (String, i64, String, i64)>(
        "SELECT d.receipt_number, d.receipt_date, d.bill_id, p.transaction_date FROM egcl_paymentdetail d \
         JOIN egcl_payment p ON p.tenant_id = d.tenant_id AND p.id = d.payment_id \
         WHERE p.transaction_number = $1 ORDER BY d.receipt_number",
    )
    .bind(txn_id.to_string())
    .fetch_all(kosh.state().db.pool())
    .await
    .expect("receipts")
}

async fn bill_status(env: &Env, bill_id: &str) -> String {
    let (status, body) = env
        .kosh
        .post(
            &format!("/billing-service/bill/v2/_search?tenantId={TENANT}&billId={bill_id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Bill"][0]["status"].as_str().unwrap_or("").to_string()
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
    body
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

// ---------------------------------------------------------------------------------------------

async fn callback_success_makes_one_receipt_dated_at_create(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-201-001", 500).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let created = NOW;
    assert!(txn_id(&txn).starts_with("PB_PG_2019_06_15_"), "{txn}");
    assert_eq!(txn["txnStatus"], "PENDING");
    assert_eq!(txn["txnStatusMsg"], "Transaction initiated");
    assert_eq!(txn["txnAmount"], "500.00");
    assert_eq!(txn["receipt"], Value::Null);
    assert_eq!(
        txn["callbackUrl"],
        format!("{CALLBACK}?eg_pg_txnid={}", txn_id(&txn))
    );
    assert_eq!(txn["user"]["uuid"], env.citizen_uuid.as_str());
    assert_eq!(txn["user"]["name"], "Asha");
    assert_eq!(txn["auditDetails"]["createdTime"], created);
    assert_eq!(
        txn["additionalDetails"]["taxAndPayments"][0]["billId"],
        id(&bill).as_str()
    );
    assert!(
        txn["redirectUrl"]
            .as_str()
            .unwrap()
            .starts_with(env.sim().base_url())
    );

    // The payer takes a while; the gateway calls back.
    env.kosh.advance_clock(7 * MINUTE).await;
    let cb = pay(&env, &txn, SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let settled = updated(status, &body);
    let receipt = assert_success_with_receipt(&settled);
    assert_eq!(
        settled["gatewayTxnId"],
        env.sim()
            .txn(SimGateway::Sandbox, &txn_id(&txn))
            .unwrap()
            .gateway_ref
            .as_str()
    );
    assert_eq!(settled["auditDetails"]["createdTime"], created);

    // Exactly one receipt, dated at the transaction's creation, and the bill is paid.
    let rows = receipts(&env.kosh, &txn_id(&txn)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, receipt);
    assert_eq!(rows[0].1, created, "receipt date is the create date");
    assert_eq!(rows[0].3, created, "transaction date is the create date");
    assert_eq!(rows[0].2, id(&bill));
    assert_eq!(bill_status(&env, &id(&bill)).await, "PAID");

    // Search finds it by receipt; a new transaction for the paid bill is refused.
    let found = search(&env, &env.citizen, &format!("receipt={receipt}")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["txnStatus"], "SUCCESS");
    let (status, body) = create(&env, &env.citizen, txn_request(&bill, "SANDBOX")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_CREATE_BILL_ALREADY_PAID",
        Some("Bill has already been paid or is in pending state"),
    );

    // The outbox has the create and the settlement of the transaction.
    let events: Vec<String> = sqlx::query_scalar::<_, String>(
        "SELECT topic FROM kosh_outbox WHERE event_key = $1 ORDER BY created_ms, topic",
    )
    .bind(txn_id(&txn))
    .fetch_all(env.kosh.state().db.pool())
    .await
    .unwrap();
    assert_eq!(events, vec!["save-pg-txns", "update-pg-txns"]);
    env.stop().await;
}

async fn repeated_and_concurrent_callbacks_make_one_receipt(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-202-001", 750).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let cb = pay(&env, &txn, SimOutcome::Success);

    // Twelve at once: the gateway's callback, and the UI's update with the citizen's token.
    let calls = (0..12).map(|i| {
        let kosh = &env.kosh;
        let params = &cb.params;
        let token = env.citizen.clone();
        async move {
            if i % 2 == 0 {
                callback(kosh, params).await
            } else {
                update_as(kosh, &token, params).await
            }
        }
    });
    let answers = futures::future::join_all(calls).await;
    let mut receipts_seen = Vec::new();
    for (status, body) in &answers {
        let t = updated(*status, body);
        receipts_seen.push(assert_success_with_receipt(&t));
    }
    receipts_seen.dedup();
    assert_eq!(receipts_seen.len(), 1, "{receipts_seen:?}");
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);

    // Later repeats answer the settled transaction unchanged, without asking the gateway.
    let asked = env.sim().status_calls(SimGateway::Sandbox);
    let before = txn_now(&env, &txn).await;
    env.kosh.advance_clock(MINUTE).await;
    for _ in 0..3 {
        let (status, body) = callback(&env.kosh, &cb.params).await;
        assert_eq!(updated(status, &body), before);
        let (status, body) = update_as(&env.kosh, &env.citizen, &only_id(&txn)).await;
        assert_eq!(updated(status, &body), before);
    }
    assert_eq!(env.sim().status_calls(SimGateway::Sandbox), asked);
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
    let count: i64 =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM eg_pg_txn_payment WHERE txn_id = $1")
            .bind(txn_id(&txn))
            .fetch_one(env.kosh.state().db.pool())
            .await
            .unwrap();
    assert_eq!(count, 1);
    env.stop().await;
}

async fn only_the_creator_may_update(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-203-001", 300).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let cb = pay(&env, &txn, SimOutcome::Success);

    // Another citizen, and even the administrator, are refused, and nothing changes.
    for token in [env.other.clone(), env.kosh.admin_token.clone()] {
        let (status, body) = update_as(&env.kosh, &token, &cb.params).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "TXN_UPDATE_NOT_ALLOWED",
            Some("Only the user who created the transaction may update it"),
        );
    }
    assert_eq!(env.sim().status_calls(SimGateway::Sandbox), 0);
    assert_eq!(txn_now(&env, &txn).await["txnStatus"], "PENDING");

    // A bad token is not taken for a callback.
    let (status, _) = update_as(&env.kosh, "not-a-token", &cb.params).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The creator may.
    let (status, body) = update_as(&env.kosh, &env.citizen, &cb.params).await;
    let settled = updated(status, &body);
    assert_success_with_receipt(&settled);
    assert_eq!(
        settled["auditDetails"]["lastModifiedBy"],
        env.citizen_uuid.as_str()
    );
    // Settled, the other user is still refused rather than shown it.
    let (status, _) = update_as(&env.kosh, &env.other, &only_id(&txn)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    env.stop().await;
}

async fn one_day_bill_is_paid_by_a_callback_after_midnight(backend: Backend) {
    let mut env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-204-001", 1200).await;
    assert_eq!(
        bill["billDetails"][0]["expiryDate"], END_OF_TODAY,
        "the bill is valid for today only"
    );
    // The citizen starts paying at 23:50 and the gateway's answer comes after midnight.
    env.kosh.set_clock(END_OF_TODAY - 10 * MINUTE).await;
    env.sign_in_again().await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let created = txn["auditDetails"]["createdTime"].as_i64().unwrap();
    assert_eq!(created, END_OF_TODAY - 10 * MINUTE);
    let cb = pay(&env, &txn, SimOutcome::Success);
    env.kosh.set_clock(END_OF_TODAY + 25 * MINUTE).await;
    // Meanwhile the payer's page fetches the bill again: the old one expires, a new one is made.
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode=PT-204-001"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_ne!(id(&body["Bill"][0]), id(&bill));
    assert_eq!(bill_status(&env, &id(&bill)).await, "EXPIRED");

    let (status, body) = callback(&env.kosh, &cb.params).await;
    let settled = updated(status, &body);
    let receipt = assert_success_with_receipt(&settled);
    let rows = receipts(&env.kosh, &txn_id(&txn)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, receipt);
    assert_eq!(rows[0].1, created, "dated the day the payer paid");
    assert_eq!(bill_status(&env, &id(&bill)).await, "PAID");

    // A new transaction on an expired bill is still refused (collection's check at create).
    let stale = self::bill(&env, "PT-204-002", 100).await;
    env.kosh.advance_clock(2 * 24 * 60 * MINUTE).await;
    env.sign_in_again().await;
    let (status, body) = create(&env, &env.citizen, txn_request(&stale, "SANDBOX")).await;
    assert_digit_error(status, &body, StatusCode::BAD_REQUEST, "BILL_EXPIRED", None);
    env.stop().await;
}

async fn gateway_timeout_stays_pending_until_reconciliation_settles_it(backend: Backend) {
    let env = start(backend, |c| c.timeout_ms = 1_000).await;
    let bill = bill(&env, "PT-205-001", 400).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let cb = pay(&env, &txn, SimOutcome::Success);

    // The status query hangs: the callback leaves the transaction PENDING, without a receipt.
    env.sim().set_mode(SimGateway::Sandbox, SimMode::Hang);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let pending = updated(status, &body);
    assert_eq!(pending["txnStatus"], "PENDING", "{pending}");
    assert_eq!(pending["receipt"], Value::Null);
    assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());
    // The bill stays held by it.
    let (status, body) = create(&env, &env.citizen, txn_request(&bill, "SANDBOX")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_ABRUPTLY_DISCARDED",
        Some("A transaction for this bill has been abruptly discarded, please retry after 30 mins"),
    );

    // The gateway recovers. Reconciliation leaves young transactions alone...
    env.sim().set_mode(SimGateway::Sandbox, SimMode::Normal);
    let body = reconcile(&env).await;
    assert_eq!(body["Reconciliation"]["examined"], 0, "{body}");
    // ... and settles it once it is 15 minutes old, with the receipt dated at its creation.
    env.kosh.advance_clock(16 * MINUTE).await;
    let body = reconcile(&env).await;
    assert_eq!(body["Reconciliation"]["examined"], 1, "{body}");
    assert_eq!(body["Reconciliation"]["succeeded"], 1, "{body}");
    let settled = txn_now(&env, &txn).await;
    let receipt = assert_success_with_receipt(&settled);
    let rows = receipts(&env.kosh, &txn_id(&txn)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, receipt);
    assert_eq!(rows[0].1, NOW);
    let settled_by: String = sqlx::query_scalar::<_, String>(
        "SELECT settled_by FROM eg_pg_transactions WHERE txn_id = $1",
    )
    .bind(txn_id(&txn))
    .fetch_one(env.kosh.state().db.pool())
    .await
    .unwrap();
    assert_eq!(settled_by, "RECONCILIATION");

    // The late callback changes nothing.
    let (status, body) = callback(&env.kosh, &cb.params).await;
    assert_eq!(updated(status, &body), settled);
    // Nothing is left to reconcile.
    env.kosh.advance_clock(60 * MINUTE).await;
    assert_eq!(reconcile(&env).await["Reconciliation"]["examined"], 0);
    env.stop().await;
}

async fn failure_is_final(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-206-001", 250).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let cb = pay(&env, &txn, SimOutcome::Failure);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let failed = updated(status, &body);
    assert_eq!(failed["txnStatus"], "FAILURE");
    assert_eq!(failed["txnStatusMsg"], "Transaction failed at gateway");
    assert_eq!(failed["receipt"], Value::Null);

    // The gateway changes its mind: the failure stands, by callback, by the creator and by
    // reconciliation.
    env.sim()
        .set_outcome(SimGateway::Sandbox, &txn_id(&txn), SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &only_id(&txn)).await;
    assert_eq!(updated(status, &body), failed);
    let (status, body) = update_as(&env.kosh, &env.citizen, &only_id(&txn)).await;
    assert_eq!(updated(status, &body), failed);
    env.kosh.advance_clock(20 * MINUTE).await;
    assert_eq!(reconcile(&env).await["Reconciliation"]["examined"], 0);
    assert_eq!(txn_now(&env, &txn).await, failed);
    assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());

    // A failed transaction does not hold its bill.
    env.kosh.set_clock(NOW + 30 * MINUTE).await;
    let retry = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    assert_ne!(txn_id(&retry), txn_id(&txn));
    env.stop().await;
}

async fn pending_answers_and_amount_mismatches_stay_pending(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-207-001", 600).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let cb = pay(&env, &txn, SimOutcome::Pending);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let pending = updated(status, &body);
    assert_eq!(pending["txnStatus"], "PENDING");
    assert_eq!(pending["txnStatusMsg"], "Transaction pending at gateway");

    // The gateway now says it took another amount: still PENDING, flagged, no receipt.
    env.sim()
        .set_outcome(SimGateway::Sandbox, &txn_id(&txn), SimOutcome::Success);
    env.sim()
        .set_reported_amount(SimGateway::Sandbox, &txn_id(&txn), 599_00);
    let (status, body) = update_as(&env.kosh, &env.citizen, &only_id(&txn)).await;
    let held = updated(status, &body);
    assert_eq!(held["txnStatus"], "PENDING", "{held}");
    assert_eq!(
        held["txnStatusMsg"],
        "Transaction amount mismatch, held for review: the gateway reported 599.00"
    );
    assert!(receipts(&env.kosh, &txn_id(&txn)).await.is_empty());

    // Once the gateway reports the right amount, it settles.
    env.sim()
        .set_reported_amount(SimGateway::Sandbox, &txn_id(&txn), 600_00);
    let (status, body) = update_as(&env.kosh, &env.citizen, &only_id(&txn)).await;
    assert_success_with_receipt(&updated(status, &body));
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
    env.stop().await;
}

const CLOSED_MSG: &str = "Transaction closed, the gateway has no record of it; a payment the gateway confirms later will still be receipted or refunded";

/// A transaction the payer never paid, closed by reconciliation at twice the reconcile age.
async fn closed_transaction(env: &Env, bill: &Value) -> Value {
    let txn = create_ok(env, txn_request(bill, "SANDBOX")).await;
    env.kosh.advance_clock(16 * MINUTE).await;
    let body = reconcile(env).await;
    assert_eq!(body["Reconciliation"]["examined"], 1, "{body}");
    assert_eq!(body["Transaction"][0]["txnStatus"], "PENDING", "{body}");
    // Asked again only after another 15 minutes; by then it is 31 minutes old.
    env.kosh.advance_clock(5 * MINUTE).await;
    assert_eq!(reconcile(env).await["Reconciliation"]["examined"], 0);
    env.kosh.advance_clock(10 * MINUTE).await;
    let body = reconcile(env).await;
    assert_eq!(body["Reconciliation"]["examined"], 1, "{body}");
    assert_eq!(body["Reconciliation"]["failed"], 0, "{body}");
    assert_eq!(body["Reconciliation"]["closed"], 1, "{body}");
    let closed = txn_now(env, &txn).await;
    assert_eq!(closed["txnStatus"], "PENDING", "never FAILURE: {closed}");
    assert_eq!(closed["txnStatusMsg"], CLOSED_MSG);
    txn
}

async fn unknown_transactions_are_closed_not_failed_and_a_late_success_is_receipted(
    backend: Backend,
) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-208-001", 350).await;
    let txn = closed_transaction(&env, &bill).await;
    // Its bill is free again: the payer may start over (the bill still unpaid).
    let again = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    assert_eq!(again["txnStatus"], "PENDING");
    // The payer had paid on the first transaction's still-open page after all: the gateway
    // confirms it late, and it is receipted (the bill was still payable).
    let cb = pay(&env, &txn, SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let settled = updated(status, &body);
    assert_success_with_receipt(&settled);
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
    assert_eq!(bill_status(&env, &id(&bill)).await, "PAID");
    // The second transaction, confirmed too, finds the bill paid: its money is a refund due.
    let cb = pay(&env, &again, SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let refunded = updated(status, &body);
    assert_refund_due(&env, &refunded, 350).await;
    // Reconciliation keeps asking about a closed transaction only within the late window.
    let other = bill_of_other(&env, "PT-208-002", 120).await;
    let stale = closed_transaction(&env, &other).await;
    env.kosh.advance_clock(3 * 24 * 60 * MINUTE).await;
    let body = reconcile(&env).await;
    assert_eq!(body["Reconciliation"]["examined"], 0, "{body}");
    assert_eq!(txn_now(&env, &stale).await["txnStatus"], "PENDING");
    env.stop().await;
}

/// A second PT bill (another consumer code) for the same citizen.
async fn bill_of_other(env: &Env, code: &str, rupees: i64) -> Value {
    bill(env, code, rupees).await
}

/// The transaction is SUCCESS (the gateway took the money) with no receipt, and names the
/// refund due of `rupees` that its money became; the refund is searchable.
async fn assert_refund_due(env: &Env, txn: &Value, rupees: i64) -> Value {
    assert_eq!(txn["txnStatus"], "SUCCESS", "{txn}");
    assert_eq!(txn["receipt"], Value::Null, "{txn}");
    let msg = txn["txnStatusMsg"].as_str().unwrap_or_default();
    assert!(msg.contains("refund due"), "{txn}");
    assert!(receipts(&env.kosh, &txn_id(txn)).await.is_empty());
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/collection-services/refunds/_search?tenantId={TENANT}&channel=ONLINE&sourceReference={}",
                txn_id(txn)
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refunds = body["Refunds"].as_array().expect("Refunds");
    assert_eq!(refunds.len(), 1, "{body}");
    let refund = refunds[0].clone();
    assert_eq!(refund["amount"], json!(rupees), "{refund}");
    assert_eq!(refund["status"], "DUE");
    assert!(
        msg.contains(refund["id"].as_str().expect("id")),
        "the status message names the refund: {msg}"
    );
    // The same answer from a search.
    let found = txn_now(env, txn).await;
    assert_eq!(found["txnStatusMsg"], txn["txnStatusMsg"]);
    refund
}

async fn a_late_success_after_the_bill_was_paid_becomes_a_refund_due(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-218-001", 420).await;
    let txn = closed_transaction(&env, &bill).await;
    // Closed, the transaction no longer holds the bill: the counter collects it.
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/payments/_create",
            json!({"RequestInfo": {}, "Payment": {"tenantId": TENANT, "totalAmountPaid": 420,
                "paymentMode": "CASH", "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
                "paymentDetails": [{"billId": id(&bill), "totalAmountPaid": 420}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The gateway then reports the money taken: no second receipt, never FAILURE, and the
    // money is owed back.
    let cb = pay(&env, &txn, SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let settled = updated(status, &body);
    let refund = assert_refund_due(&env, &settled, 420).await;
    // A repeated callback changes nothing.
    let (status, body) = callback(&env.kosh, &cb.params).await;
    assert_eq!(updated(status, &body), settled);
    // An employee settles it once.
    let settle = |action: &str, reference: Option<&str>| {
        json!({"RequestInfo": {}, "Refund": {"tenantId": TENANT, "id": refund["id"],
            "action": action, "reference": reference}})
    };
    let (status, body) = env
        .kosh
        .post_as(
            &env.citizen,
            "/collection-services/refunds/_settle",
            settle("REFUNDED", Some("NEFT-1")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/refunds/_settle",
            settle("REFUNDED", None),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "REFUND_REFERENCE_REQUIRED",
        None,
    );
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/refunds/_settle",
            settle("REFUNDED", Some("NEFT-1")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Refunds"][0]["status"], "REFUNDED", "{body}");
    assert_eq!(body["Refunds"][0]["settlementReference"], "NEFT-1");
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/refunds/_settle",
            settle("ADVANCED", None),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "REFUND_ALREADY_SETTLED",
        None,
    );
    // The day's books list it, with its totals.
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/collection-services/refunds/reports/daily?tenantId={TENANT}&date=2019-06-15"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["Report"];
    assert_eq!(report["count"], 1, "{body}");
    assert_eq!(report["amount"], json!(420));
    assert_eq!(report["byChannel"]["ONLINE"]["amount"], json!(420));
    assert_eq!(report["byStatus"]["REFUNDED"]["count"], 1);
    assert_eq!(report["refunds"][0]["id"], refund["id"]);
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/collection-services/refunds/reports/daily?tenantId={TENANT}&date=2019-06-16"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Report"]["count"], 0, "another day: {body}");
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/collection-services/refunds/reports/daily?tenantId={TENANT}&date=15-06-2019"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_digit_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_DATE", None);
    let events: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM kosh_outbox WHERE topic IN ('kosh.collection.refund-due', 'kosh.collection.refund-settled')",
    )
    .fetch_one(env.kosh.state().db.pool())
    .await
    .unwrap();
    assert_eq!(events, 2);
    env.stop().await;
}

async fn another_payer_is_not_blocked_and_the_second_success_is_refunded(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-219-001", 510).await;
    let first = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    // The same payer's retry waits for their own pending transaction (DIGIT's rule)...
    let (status, body) = create(&env, &env.citizen, txn_request(&bill, "SANDBOX")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_ABRUPTLY_DISCARDED",
        None,
    );
    // ... but another payer is not blocked by it.
    let (status, body) = create(&env, &env.other, txn_request(&bill, "SANDBOX")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["Transaction"].clone();
    // Both pay; the first confirmed is receipted, the second becomes a refund due.
    let cb_second = pay(&env, &second, SimOutcome::Success);
    let cb_first = pay(&env, &first, SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &cb_second.params).await;
    assert_success_with_receipt(&updated(status, &body));
    let (status, body) = callback(&env.kosh, &cb_first.params).await;
    assert_refund_due(&env, &updated(status, &body), 510).await;
    let live: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM egcl_paymentdetail WHERE bill_id = $1 AND live = 1",
    )
    .bind(id(&bill))
    .fetch_one(env.kosh.state().db.pool())
    .await
    .unwrap();
    assert_eq!(live, 1, "one bill, one receipt");
    env.stop().await;
}

async fn zero_amount_settles_at_once(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-209-001", 0).await;
    assert_eq!(bill["totalAmount"], 0, "{bill}");
    let mut request = txn_request(&bill, "SANDBOX");
    request["Transaction"]["txnAmount"] = json!("0");
    request["Transaction"]["taxAndPayments"][0]["amountPaid"] = json!(0);
    let txn = create_ok(&env, request).await;
    let receipt = assert_success_with_receipt(&txn);
    assert_eq!(txn["redirectUrl"], Value::Null);
    assert!(env.sim().calls().is_empty(), "the gateway is not involved");
    let rows = receipts(&env.kosh, &txn_id(&txn)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, receipt);
    assert_eq!(rows[0].1, NOW);
    // An update answers it unchanged.
    let (status, body) = update_as(&env.kosh, &env.citizen, &only_id(&txn)).await;
    assert_eq!(updated(status, &body), txn_now(&env, &txn).await);
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
    env.stop().await;
}

async fn several_bills_in_one_transaction(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let first = bill(&env, "PT-210-001", 300).await;
    let second = bill(&env, "PT-210-002", 200).await;
    let mut request = txn_request(&first, "SANDBOX");
    request["Transaction"]["txnAmount"] = json!("500.00");
    request["Transaction"]["taxAndPayments"] = json!([
        {"billId": id(&first), "amountPaid": "300"},
        {"billId": id(&second), "amountPaid": 200},
    ]);
    // Amounts that do not add up are refused first.
    let mut wrong = request.clone();
    wrong["Transaction"]["txnAmount"] = json!(499);
    let (status, body) = create(&env, &env.citizen, wrong).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_CREATE_INVALID_TXN_AMT",
        Some("Transaction amount should be equal to sum of all  amountPaids in taxAndPayments"),
    );
    let txn = create_ok(&env, request).await;
    assert_eq!(txn["taxAndPayments"].as_array().unwrap().len(), 2);
    // The second bill is held by it too.
    let (status, body) = create(&env, &env.citizen, txn_request(&second, "SANDBOX")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_ABRUPTLY_DISCARDED",
        None,
    );
    let cb = pay(&env, &txn, SimOutcome::Success);
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let settled = updated(status, &body);
    let receipt = assert_success_with_receipt(&settled);
    let rows = receipts(&env.kosh, &txn_id(&txn)).await;
    assert_eq!(rows.len(), 2, "one receipt per bill: {rows:?}");
    assert_ne!(rows[0].0, rows[1].0);
    assert!(rows.iter().any(|r| r.0 == receipt));
    assert!(rows.iter().all(|r| r.1 == NOW));
    assert_eq!(bill_status(&env, &id(&first)).await, "PAID");
    assert_eq!(bill_status(&env, &id(&second)).await, "PAID");
    // Search by the second bill finds it.
    let found = search(&env, &env.citizen, &format!("billId={}", id(&second))).await;
    assert_eq!(found.len(), 1);
    assert_eq!(txn_id(&found[0]), txn_id(&txn));
    env.stop().await;
}

async fn every_gateway_settles_through_its_callback(backend: Backend) {
    let env = start(backend, |_| {}).await;
    for (i, gateway) in [
        SimGateway::Axis,
        SimGateway::Paytm,
        SimGateway::Payu,
        SimGateway::Phonepe,
    ]
    .into_iter()
    .enumerate()
    {
        let bill = bill(&env, &format!("PT-211-00{i}"), 100 + i as i64).await;
        let txn = create_ok(&env, txn_request(&bill, gateway.name())).await;
        let cb = pay(&env, &txn, SimOutcome::Success);
        // Each gateway's own callback parameters, posted as a form, without a token.
        let mut params = cb.params.clone();
        params.remove("eg_pg_txnid");
        let (status, body) = callback_form(&env.kosh, &params).await;
        let settled = updated(status, &body);
        assert_eq!(settled["gateway"], gateway.name());
        assert_success_with_receipt(&settled);
        assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);
        assert!(
            env.sim().status_calls(gateway) >= 1,
            "{}: SUCCESS is confirmed by the status API",
            gateway.name()
        );
    }
    env.stop().await;
}

async fn create_and_update_validation(backend: Backend) {
    let env = start(backend, |c| {
        if let Some(p) = c.phonepe.as_mut() {
            p.active = false;
        }
    })
    .await;
    let bill = bill(&env, "PT-212-001", 500).await;

    // The gateway list is open and names inactive gateways too.
    let (status, body) = env
        .kosh
        .post_anonymous("/pg-service/gateway/v1/_search", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!(["AXIS", "PAYTM", "PAYU", "PHONEPE", "RAZORPAY", "SANDBOX"])
    );
    let (status, body) = env.kosh.get("/pg-service/gateway/v1/_search").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_array());

    // A token is needed to create.
    let (status, _) = env
        .kosh
        .post_anonymous(
            "/pg-service/transaction/v1/_create",
            txn_request(&bill, "SANDBOX"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for gateway in ["PHONEPE", "PAYPAL", "sandbox"] {
        let (status, body) = create(&env, &env.citizen, txn_request(&bill, gateway)).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "INVALID_PAYMENT_GATEWAY",
            Some("Invalid or inactive payment gateway provided"),
        );
    }
    let (status, body) = create(
        &env,
        &env.citizen,
        json!({"RequestInfo": {}, "Transaction": {"txnAmount": "12.345", "taxAndPayments": [], "user": {}}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let codes: Vec<&str> = body["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "NotNull.transactionRequest.transaction.tenantId",
        "NotNull.transactionRequest.transaction.billId",
        "NotNull.transactionRequest.transaction.gateway",
        "NotNull.transactionRequest.transaction.callbackUrl",
        "NotNull.transactionRequest.transaction.user.name",
        "INVALID_TXN_AMOUNT",
    ] {
        assert!(codes.contains(&code), "{code} missing: {body}");
    }
    let (status, body) = create(&env, &env.citizen, json!({"RequestInfo": {}})).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.transactionRequest.transaction",
        Some("must not be null"),
    );

    // Collection's provisional validation speaks for itself.
    let mut unknown = txn_request(&bill, "SANDBOX");
    unknown["Transaction"]["taxAndPayments"][0]["billId"] = json!("no-such-bill");
    let (status, body) = create(&env, &env.citizen, unknown).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_BILL_ID",
        None,
    );
    let mut bad_url = txn_request(&bill, "SANDBOX");
    bad_url["Transaction"]["callbackUrl"] = json!("not a url");
    let (status, body) = create(&env, &env.citizen, bad_url).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_CALLBACK_URL",
        None,
    );
    // Nothing was written by the refusals.
    let count: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM eg_pg_transactions")
        .fetch_one(env.kosh.state().db.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);

    // Update: the id is needed and must exist.
    let (status, body) = callback(&env.kosh, &BTreeMap::new()).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "MISSING_UPDATE_TXN_ID",
        Some("Cannot process request, missing transaction id"),
    );
    let unknown = BTreeMap::from([("eg_pg_txnid".to_string(), "PB_PG_NOPE".to_string())]);
    let (status, body) = update_as(&env.kosh, &env.citizen, &unknown).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_UPDATE_NOT_FOUND",
        Some("Transaction not found"),
    );
    // PHONEPE's key in the query (DIGIT's web UI), in another letter case.
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let by_key = BTreeMap::from([("TransactionID".to_string(), txn_id(&txn))]);
    let (status, body) = update_as(&env.kosh, &env.citizen, &by_key).await;
    assert_eq!(updated(status, &body)["txnId"], txn["txnId"]);
    env.stop().await;
}

async fn search_follows_digits_criteria(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let bill = bill(&env, &format!("PT-213-00{i}"), 100).await;
        let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
        ids.push(txn_id(&txn));
        env.kosh.advance_clock(MINUTE).await;
    }
    // Newest first, at most five (DIGIT).
    let found = search(&env, &env.kosh.admin_token, &format!("tenantId={TENANT}")).await;
    assert_eq!(found.len(), 5);
    assert_eq!(txn_id(&found[0]), ids[5]);
    let found = search(
        &env,
        &env.citizen,
        "consumerCode=PT-213-002&txnStatus=PENDING",
    )
    .await;
    assert_eq!(found.len(), 1);
    assert_eq!(txn_id(&found[0]), ids[2]);
    assert!(
        search(&env, &env.citizen, "txnStatus=SUCCESS")
            .await
            .is_empty()
    );
    // A citizen sees only their own transactions.
    assert!(
        search(&env, &env.other, &format!("txnId={}", ids[0]))
            .await
            .is_empty()
    );
    assert_eq!(
        search(&env, &env.citizen, &format!("txnId={}", ids[0]))
            .await
            .len(),
        1
    );
    env.stop().await;
}

async fn sandbox_pages_take_a_payment_end_to_end(backend: Backend) {
    // No configuration at all: kosh's own SANDBOX is the one gateway.
    let env = start_with(backend, None, None).await;
    let (_, names) = env.kosh.get("/pg-service/gateway/v1/_search").await;
    assert_eq!(names, json!(["SANDBOX"]));
    let bill = bill(&env, "PT-214-001", 800).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let redirect = txn["redirectUrl"].as_str().unwrap().to_string();
    assert!(
        env.kosh.serves(&redirect, "/pg-service/sandbox/pay?"),
        "{redirect}"
    );

    // The payer's page.
    let page = env.kosh.client.get(&redirect).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&txn_id(&txn)) && html.contains("800.00"),
        "{html}"
    );

    // A tampered amount is refused.
    let tampered = redirect.replace("amount=800.00", "amount=1.00");
    let page = env.kosh.client.get(&tampered).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);

    // The status API refuses an unsigned query, and knows nothing yet.
    let response = env
        .kosh
        .client
        .post(env.kosh.url("/pg-service/sandbox/status"))
        .json(&json!({"txnId": txn_id(&txn)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The payer pays: 303 to the callback with the signed parameters.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut form: BTreeMap<String, String> = reqwest::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    form.insert("outcome".into(), "SUCCESS".into());
    let response = no_redirects
        .post(env.kosh.url("/pg-service/sandbox/pay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(CALLBACK), "{location}");
    let params: BTreeMap<String, String> = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(params["eg_pg_txnid"], txn_id(&txn));
    assert_eq!(params["status"], "SUCCESS");

    // The callback settles it through the sandbox's status API.
    let (status, body) = callback(&env.kosh, &params).await;
    let settled = updated(status, &body);
    assert_success_with_receipt(&settled);
    assert_eq!(settled["gatewayTxnId"], params["sandbox_ref"].as_str());
    assert_eq!(receipts(&env.kosh, &txn_id(&txn)).await.len(), 1);

    // Paying again does not change the sandbox's record.
    form.insert("outcome".into(), "FAILURE".into());
    let response = no_redirects
        .post(env.kosh.url("/pg-service/sandbox/pay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("status=SUCCESS"), "{location}");
    env.stop().await;
}

async fn reconciliation_lease_admits_one_holder(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let db = &env.kosh.state().db;
    let job = "test-job";
    use kosh_pg::reconcile::{release, renew, try_lease};
    assert!(try_lease(db, job, "a").await.unwrap());
    assert!(
        try_lease(db, job, "a").await.unwrap(),
        "the holder may take it again"
    );
    assert!(!try_lease(db, job, "b").await.unwrap());
    assert!(!renew(db, job, "b").await.unwrap());
    assert!(renew(db, job, "a").await.unwrap());
    release(db, job, "a").await.unwrap();
    assert!(try_lease(db, job, "b").await.unwrap());
    // An expired lease is free for the taking.
    sqlx::query("UPDATE kosh_job_lease SET expires_ms = 1 WHERE job_name = $1")
        .bind(job)
        .execute(db.pool())
        .await
        .unwrap();
    assert!(try_lease(db, job, "c").await.unwrap());
    assert!(!renew(db, job, "b").await.unwrap(), "b lost it");
    env.stop().await;
}

async fn concurrent_creates_for_one_bill_admit_one(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-215-001", 450).await;
    let calls = (0..8).map(|_| create(&env, &env.citizen, txn_request(&bill, "SANDBOX")));
    let answers = futures::future::join_all(calls).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_digit_error(
            *status,
            body,
            StatusCode::BAD_REQUEST,
            "TXN_ABRUPTLY_DISCARDED",
            None,
        );
    }
    let live: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM eg_pg_txn_bills WHERE bill_id = $1 AND live = 1",
    )
    .bind(id(&bill))
    .fetch_one(env.kosh.state().db.pool())
    .await
    .unwrap();
    assert_eq!(live, 1);
    env.stop().await;
}

async fn a_refused_redirect_fails_the_transaction(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-216-001", 650).await;
    // PayU hands out the payer's page from a server call; it answers 500.
    env.sim().set_mode(SimGateway::Payu, SimMode::ServerError);
    let (status, body) = create(&env, &env.citizen, txn_request(&bill, "PAYU")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["Errors"][0]["message"].is_string(), "{body}");
    // The payer never reached a payment page, so the transaction failed and holds nothing.
    let found = search(&env, &env.citizen, &format!("billId={}", id(&bill))).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["txnStatus"], "FAILURE");
    assert_eq!(
        found[0]["txnStatusMsg"],
        "Transaction failed, the gateway could not be reached"
    );
    env.sim().set_mode(SimGateway::Payu, SimMode::Normal);
    let txn = create_ok(&env, txn_request(&bill, "PAYU")).await;
    assert_eq!(txn["txnStatus"], "PENDING");
    assert!(txn["redirectUrl"].as_str().is_some());
    env.stop().await;
}

async fn a_counter_payment_waits_for_a_pending_online_one_unless_overridden(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-217-001", 900).await;
    let txn = create_ok(&env, txn_request(&bill, "SANDBOX")).await;
    let cb = pay(&env, &txn, SimOutcome::Success);
    let cash = |extra: Value| {
        json!({"RequestInfo": {}, "Payment": {"tenantId": TENANT, "totalAmountPaid": 900,
            "paymentMode": "CASH", "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
            "additionalDetails": extra,
            "paymentDetails": [{"billId": id(&bill), "totalAmountPaid": 900}]}})
    };
    // The counter is told the bill is being paid online, by which transaction, and until when.
    let (status, body) = env
        .kosh
        .post("/collection-services/payments/_create", cash(json!({})))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BILL_ONLINE_PAYMENT_PENDING",
        None,
    );
    let message = body["Errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&txn_id(&txn)), "{message}");
    assert!(message.contains("IST"), "{message}");
    // A citizen cannot override the hold; an employee can, and the override is audited.
    let (status, body) = env
        .kosh
        .post_as(
            &env.citizen,
            "/collection-services/payments/_create",
            cash(json!({"overridePendingOnlinePayment": true})),
        )
        .await;
    assert_ne!(status, StatusCode::OK, "{body}");
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/payments/_create",
            cash(json!({"overridePendingOnlinePayment": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["Payments"][0]["additionalDetails"]["overriddenOnlineTransactions"][0],
        json!(txn_id(&txn))
    );
    let audited: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM egcl_payment_audit WHERE action = 'OVERRIDE_ONLINE_HOLD'",
    )
    .fetch_one(env.kosh.state().db.pool())
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // The gateway took the money too: no second receipt, never FAILURE, a refund due.
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let settled = updated(status, &body);
    assert_refund_due(&env, &settled, 900).await;
    assert!(settled["gatewayTxnId"].is_string(), "{settled}");
    env.stop().await;
}

async fn a_refund_due_kept_as_advance_credits_the_consumer_code(backend: Backend) {
    let env = start(backend, |_| {}).await;
    // Water charges take advance.
    let (status, body) = env
        .kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": [{
                "tenantId": TENANT, "consumerCode": "WS-220", "consumerType": "BUILTUP",
                "businessService": "WS", "payer": {"uuid": env.citizen_uuid},
                "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO, "minimumAmountPayable": 0,
                "demandDetails": [{"taxHeadMasterCode": "WS_CHARGE", "taxAmount": 300, "collectionAmount": 0}]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = env
        .kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=WS&consumerCode=WS-220"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bill = body["Bill"][0].clone();
    let mut request = txn_request(&bill, "SANDBOX");
    request["Transaction"]["module"] = json!("WS");
    let txn = create_ok(&env, request).await;
    let cb = pay(&env, &txn, SimOutcome::Success);
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/payments/_create",
            json!({"RequestInfo": {}, "Payment": {"tenantId": TENANT, "totalAmountPaid": 300,
                "paymentMode": "CASH", "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
                "additionalDetails": {"overridePendingOnlinePayment": true},
                "paymentDetails": [{"billId": id(&bill), "totalAmountPaid": 300}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = callback(&env.kosh, &cb.params).await;
    let refund = assert_refund_due(&env, &updated(status, &body), 300).await;
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/refunds/_settle",
            json!({"RequestInfo": {}, "Refund": {"tenantId": TENANT, "id": refund["id"], "action": "ADVANCED",
                "note": "kept for the next bill at the payer's request"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settled = &body["Refunds"][0];
    assert_eq!(settled["status"], "ADVANCED", "{body}");
    let detail_id = settled["settlementReference"]
        .as_str()
        .expect("advance detail");
    let (status, body) = env
        .kosh
        .post(
            &format!("/billing-service/demand/_search?tenantId={TENANT}&businessService=WS&consumerCode=WS-220"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let advance: Vec<&Value> = body["Demands"][0]["demandDetails"]
        .as_array()
        .expect("details")
        .iter()
        .filter(|d| d["id"] == json!(detail_id))
        .collect();
    assert_eq!(advance.len(), 1, "{body}");
    assert_eq!(advance[0]["taxHeadMasterCode"], "WS_ADVANCE_CARRYFORWARD");
    assert_eq!(advance[0]["taxAmount"], json!(-300));
    env.stop().await;
}

/// SANDBOX settles bills without taking money: with no gateways file it is on only while
/// kosh listens on a loopback address, unless the operator turns it on.
async fn the_sandbox_is_off_by_default_beyond_loopback(backend: Backend) {
    for (mode, expected) in [
        (kosh_server::cli::SandboxMode::Auto, json!([])),
        (kosh_server::cli::SandboxMode::Off, json!([])),
        (kosh_server::cli::SandboxMode::On, json!(["SANDBOX"])),
    ] {
        let kosh = Kosh::start_with(backend, |s| {
            s.listen = "0.0.0.0:0".parse().unwrap();
            s.pg_sandbox = mode;
        })
        .await;
        let (status, names) = kosh.get("/pg-service/gateway/v1/_search").await;
        assert_eq!(status, StatusCode::OK, "{names}");
        assert_eq!(names, expected, "{mode:?}");
        kosh.stop().await;
    }
    // On loopback (as every other test here runs) `auto` keeps it on.
    let kosh = Kosh::start(backend).await;
    let (_, names) = kosh.get("/pg-service/gateway/v1/_search").await;
    assert_eq!(names, json!(["SANDBOX"]));
    kosh.stop().await;
}
