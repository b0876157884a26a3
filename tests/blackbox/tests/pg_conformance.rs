//! The payment gateway's conformance items (issue 16, items 1, 3, 14 and 16), over HTTP on
//! SQLite and on PostgreSQL, with kosh's own SANDBOX as the one gateway (no configuration):
//!
//! - `POST /pg-service/gateway/sandbox/_complete`: the sandbox page's choice for automated
//!   clients, the transaction's creator only, SUCCESS and FAILURE final, a known SANDBOX
//!   transaction only, and only while SANDBOX is on; the transaction settles at the next
//!   `_update`; another amount leaves it PENDING for review;
//! - the same API under `/egov-pg-service` (DIGIT's documented base path), with the search
//!   criteria of its API reference (`user_uuid`, `module`, `moduleId`), each really filtering;
//! - the SANDBOX secret kept with the data (or configured): a restart keeps the open pages
//!   valid;
//! - `_update` finds the transaction under the key of every gateway kosh knows, configured or
//!   not, and an unknown id is `TXN_UPDATE_NOT_FOUND`.

use std::collections::BTreeMap;

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    complete_records_the_outcome_and_the_next_update_settles_it,
    complete_failure_pending_and_another_amount,
    complete_answers_only_while_the_sandbox_is_on,
    egov_pg_service_serves_the_same_api,
    every_search_criterion_filters_on_both_prefixes,
    update_finds_the_id_under_every_gateways_key,
    the_sandbox_secret_survives_a_restart,
    a_configured_sandbox_secret_signs_the_pages,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const MINUTE: i64 = 60_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const OTHER_MOBILE: &str = "9876500000";
const PASSWORD: &str = "Secret@123";
const CALLBACK: &str = "https://ui.example/citizen/payment/success";
const COMPLETE: &str = "/pg-service/gateway/sandbox/_complete";
const PG: &str = "/pg-service";
const EGOV: &str = "/egov-pg-service";

struct Env {
    kosh: Kosh,
    /// The paying citizen, Asha.
    citizen: String,
    citizen_uuid: String,
    /// Another citizen, Ravi.
    other: String,
    other_uuid: String,
}

/// kosh as it starts with no gateway configuration (only its own SANDBOX), background
/// reconciliation off, the clock at NOW, and two citizens.
async fn start(backend: Backend, adjust: impl FnOnce(&mut kosh_server::cli::Settings)) -> Env {
    let kosh = Kosh::start_with(backend, |s| {
        s.pg_reconcile_every_seconds = 0;
        adjust(s);
    })
    .await;
    kosh.set_clock(NOW).await;
    let mut users = Vec::new();
    for (mobile, name) in [(MOBILE, "Asha"), (OTHER_MOBILE, "Ravi")] {
        let user = kosh
            .create_user(
                json!({"userName": mobile, "name": name, "mobileNumber": mobile,
                "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
                "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
            )
            .await;
        let token = kosh.token(mobile, PASSWORD, "pb", "CITIZEN").await;
        users.push((token, user["uuid"].as_str().expect("uuid").to_string()));
    }
    let (other, other_uuid) = users.pop().expect("other");
    let (citizen, citizen_uuid) = users.pop().expect("citizen");
    Env {
        kosh,
        citizen,
        citizen_uuid,
        other,
        other_uuid,
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

fn txn_id(txn: &Value) -> String {
    txn["txnId"].as_str().expect("txnId").to_string()
}

/// DIGIT's web UI's create request for one bill, through SANDBOX, for `module`.
fn txn_request(bill: &Value, module: &str) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": module,
        "billId": id(bill), "consumerCode": bill["consumerCode"],
        "productInfo": "Property Tax Payment", "gateway": "SANDBOX",
        "taxAndPayments": [{"billId": id(bill), "amountPaid": bill["totalAmount"]}],
        "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
        "callbackUrl": CALLBACK}})
}

/// Creates a transaction through `prefix` as `token`'s user; the Transaction object.
async fn create_at(env: &Env, prefix: &str, token: &str, bill: &Value, module: &str) -> Value {
    let (status, body) = env
        .kosh
        .post_as(
            token,
            &format!("{prefix}/transaction/v1/_create"),
            txn_request(bill, module),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "SUCCESSFUL", "{body}");
    assert!(body["Transaction"].is_object(), "{body}");
    assert_eq!(body["Transaction"]["txnStatus"], "PENDING", "{body}");
    body["Transaction"].clone()
}

async fn complete(env: &Env, token: &str, body: Value) -> (StatusCode, Value) {
    env.kosh.post_as(token, COMPLETE, body).await
}

/// `_update` as DIGIT's UI calls it: the user's token in RequestInfo, the ids in the query.
async fn update_at(
    env: &Env,
    prefix: &str,
    token: Option<&str>,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut url = reqwest::Url::parse(&env.kosh.url(&format!("{prefix}/transaction/v1/_update")))
        .expect("url");
    url.query_pairs_mut().extend_pairs(params.iter());
    let mut request_info = json!({"apiId": "Rainmaker"});
    if let Some(token) = token {
        request_info["authToken"] = json!(token);
    }
    let response = env
        .kosh
        .client
        .post(url)
        .json(&json!({"RequestInfo": request_info}))
        .send()
        .await
        .expect("request");
    kosh_blackbox::read(response).await
}

/// The one transaction `_update` answers.
fn updated(status: StatusCode, body: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["Transaction"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{body}");
    list[0].clone()
}

async fn search_at(env: &Env, prefix: &str, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = env
        .kosh
        .post_as(
            token,
            &format!("{prefix}/transaction/v1/_search?{query}"),
            json!({"RequestInfo": {"apiId": "Rainmaker"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["Transaction"].as_array().expect("list").clone()
}

async fn ids_found(env: &Env, prefix: &str, token: &str, query: &str) -> Vec<String> {
    search_at(env, prefix, token, query)
        .await
        .iter()
        .map(txn_id)
        .collect()
}

async fn txn_now(env: &Env, txn: &str) -> Value {
    let found = search_at(env, PG, &env.kosh.admin_token, &format!("txnId={txn}")).await;
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

async fn receipts(kosh: &Kosh, txn_id: &str) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM egcl_payment WHERE transaction_number = $1")
        .bind(txn_id.to_string())
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("receipts") as usize
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

fn query_of(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

// ---------------------------------------------------------------------------------------------

async fn complete_records_the_outcome_and_the_next_update_settles_it(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-401-001", 800).await;
    let txn = create_at(&env, PG, &env.citizen, &bill, "PT").await;
    let id = txn_id(&txn);

    // A token is needed, and only the transaction's creator may choose (the page's signed
    // link is given to the creator alone); to anyone else the transaction is unknown, as an
    // id that does not exist (no telling which ids exist).
    let (status, _) = env
        .kosh
        .post_anonymous(COMPLETE, json!({"txnId": id, "status": "SUCCESS"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        complete(&env, &env.other, json!({"txnId": id, "status": "SUCCESS"})).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_TXN_NOT_FOUND",
        Some("Transaction not found"),
    );
    let (status, body) = complete(
        &env,
        &env.kosh.admin_token,
        json!({"txnId": id, "status": "SUCCESS"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_TXN_NOT_FOUND",
        Some("Transaction not found"),
    );
    // A known transaction only, a status the page offers, an amount in rupees.
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": "PB_PG_2019_06_15_999999_00", "status": "SUCCESS"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_TXN_NOT_FOUND",
        Some("Transaction not found"),
    );
    let (status, body) = complete(&env, &env.citizen, json!({"status": "SUCCESS"})).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_TXN_ID_MISSING",
        None,
    );
    let (status, body) = complete(&env, &env.citizen, json!({"txnId": id, "status": "PAID"})).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_INVALID_STATUS",
        None,
    );
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS", "amount": "eight hundred"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_INVALID_AMOUNT",
        None,
    );

    // Wrapped in RequestInfo as DIGIT's requests are (the token in it).
    let (status, body) = env
        .kosh
        .post_anonymous(
            COMPLETE,
            json!({"RequestInfo": {"apiId": "Rainmaker", "msgId": "m-1", "authToken": env.citizen},
                "txnId": id, "status": "SUCCESS"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "SUCCESSFUL", "{body}");
    assert_eq!(body["ResponseInfo"]["msgId"], "m-1", "{body}");
    let payment = body["SandboxPayment"].clone();
    assert_eq!(payment["txnId"], id.as_str());
    assert_eq!(payment["tenantId"], TENANT);
    assert_eq!(payment["status"], "SUCCESS");
    assert_eq!(payment["amount"], "800.00");
    let reference = payment["sandboxRef"]
        .as_str()
        .expect("sandboxRef")
        .to_string();
    assert!(reference.starts_with("SBX"), "{payment}");
    // Where the page would have sent the payer: the callback with the signed parameters.
    let callback = payment["callbackUrl"].as_str().expect("callbackUrl");
    assert!(callback.starts_with(CALLBACK), "{callback}");
    let params = query_of(callback);
    assert_eq!(params["eg_pg_txnid"], id);
    assert_eq!(params["status"], "SUCCESS");
    assert_eq!(params["sandbox_ref"], reference);
    assert!(params["signature"].len() == 64, "{params:?}");

    // Recorded in the sandbox's books, where the page reads: it shows the payment settled.
    let page = env
        .kosh
        .client
        .get(txn["redirectUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sandbox status: <b>SUCCESS</b>") && html.contains(&reference),
        "{html}"
    );

    // The same outcome again is answered as recorded; another is refused: SUCCESS is final.
    let (status, again) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "success"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["SandboxPayment"]["sandboxRef"], reference.as_str());
    for other in ["FAILURE", "PENDING"] {
        let (status, body) =
            complete(&env, &env.citizen, json!({"txnId": id, "status": other})).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::CONFLICT,
            "SANDBOX_PAYMENT_SETTLED",
            None,
        );
    }

    // Nothing settled yet: the transaction settles through the normal path.
    let now = txn_now(&env, &id).await;
    assert_eq!(now["txnStatus"], "PENDING", "{now}");
    assert_eq!(receipts(&env.kosh, &id).await, 0);
    let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
    let settled = updated(status, &body);
    assert_success_with_receipt(&settled);
    assert_eq!(settled["gatewayTxnId"], reference.as_str());
    assert_eq!(receipts(&env.kosh, &id).await, 1);
    // The page's own callback (the signed parameters) answers the settled transaction.
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = update_at(&env, PG, None, &pairs).await;
    assert_success_with_receipt(&updated(status, &body));
    assert_eq!(receipts(&env.kosh, &id).await, 1);
    env.kosh.stop().await;
}

async fn complete_failure_pending_and_another_amount(backend: Backend) {
    let env = start(backend, |_| {}).await;

    // "Leave pending", then "Decline": a PENDING record moves on; FAILURE is final.
    let first = bill(&env, "PT-402-001", 500).await;
    let txn = create_at(&env, PG, &env.citizen, &first, "PT").await;
    let id = txn_id(&txn);
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "PENDING"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["SandboxPayment"]["status"], "PENDING");
    let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
    let pending = updated(status, &body);
    assert_eq!(pending["txnStatus"], "PENDING", "{pending}");
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "FAILURE"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["SandboxPayment"]["status"], "FAILURE");
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "SANDBOX_PAYMENT_SETTLED",
        None,
    );
    let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
    let failed = updated(status, &body);
    assert_eq!(failed["txnStatus"], "FAILURE", "{failed}");
    assert_eq!(failed["txnStatusMsg"], "Transaction failed at gateway");
    assert_eq!(receipts(&env.kosh, &id).await, 0);

    // Another amount than the transaction's: the sandbox says it took ₹1, the gateway's
    // answer does not match, and the transaction stays PENDING for review, unreceipted
    // (DIGIT would mark it FAILURE "Transaction failed, amount mismatch").
    let second = bill(&env, "PT-402-002", 500).await;
    let txn = create_at(&env, PG, &env.citizen, &second, "PT").await;
    let id = txn_id(&txn);
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS", "amount": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["SandboxPayment"]["amount"], "1.00");
    let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
    let held = updated(status, &body);
    assert_eq!(held["txnStatus"], "PENDING", "{held}");
    let message = held["txnStatusMsg"].as_str().unwrap_or("");
    assert!(
        message.starts_with("Transaction amount mismatch, held for review")
            && message.contains("1.00"),
        "{held}"
    );
    assert_eq!(receipts(&env.kosh, &id).await, 0);
    // The same outcome without an amount is the recorded one; with another amount, refused.
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["SandboxPayment"]["amount"], "1.00");
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS", "amount": "500.00"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "SANDBOX_PAYMENT_SETTLED",
        None,
    );

    // The amount as a string, equal to the transaction's: settles with its receipt.
    let third = bill(&env, "PT-402-003", 250).await;
    let txn = create_at(&env, PG, &env.citizen, &third, "PT").await;
    let id = txn_id(&txn);
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS", "amount": "250"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
    assert_success_with_receipt(&updated(status, &body));
    env.kosh.stop().await;
}

async fn complete_answers_only_while_the_sandbox_is_on(backend: Backend) {
    // A gateways file without SANDBOX (here: no gateway at all).
    let env = start(backend, |s| {
        s.pg_gateways = Some(kosh_pg::GatewaysConfig::default());
    })
    .await;
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": "PB_PG_2019_06_15_000001_00", "status": "SUCCESS"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "SANDBOX_NOT_CONFIGURED",
        None,
    );
    env.kosh.stop().await;

    // SANDBOX off by KOSH_PG_SANDBOX.
    let env = start(backend, |s| {
        s.pg_sandbox = kosh_server::cli::SandboxMode::Off;
    })
    .await;
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": "PB_PG_2019_06_15_000001_00", "status": "SUCCESS"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "SANDBOX_NOT_CONFIGURED",
        None,
    );
    env.kosh.stop().await;

    // A transaction made through another gateway is not the sandbox's to complete.
    let sim = kosh_pg::sim::GatewaySim::start().await.expect("simulator");
    let config = sim.config();
    let env = start(backend, move |s| s.pg_gateways = Some(config)).await;
    let bill = bill(&env, "PT-403-001", 300).await;
    let mut request = txn_request(&bill, "PT");
    request["Transaction"]["gateway"] = json!("PAYU");
    let (status, body) = env
        .kosh
        .post_as(&env.citizen, "/pg-service/transaction/v1/_create", request)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = txn_id(&body["Transaction"]);
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS"}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SANDBOX_NOT_THE_GATEWAY",
        None,
    );
    env.kosh.stop().await;
    drop(sim);
}

async fn egov_pg_service_serves_the_same_api(backend: Backend) {
    let env = start(backend, |_| {}).await;
    // The gateways, open, as under /pg-service.
    let (status, names) = env.kosh.get(&format!("{EGOV}/gateway/v1/_search")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names, json!(["SANDBOX"]));
    let (status, names) = env
        .kosh
        .post_anonymous(&format!("{EGOV}/gateway/v1/_search"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names, json!(["SANDBOX"]));

    // _create: the same checks and answer.
    let bill = bill(&env, "PT-404-001", 600).await;
    let txn = create_at(&env, EGOV, &env.citizen, &bill, "PT").await;
    let id = txn_id(&txn);
    assert!(id.starts_with("PB_PG_2019_06_15_"), "{txn}");
    assert_eq!(txn["txnAmount"], "600.00");
    assert_eq!(txn["callbackUrl"], format!("{CALLBACK}?eg_pg_txnid={id}"));
    let (status, body) = env
        .kosh
        .post_as(
            &env.citizen,
            &format!("{EGOV}/transaction/v1/_create"),
            txn_request(&bill, "PT"),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_ABRUPTLY_DISCARDED",
        None,
    );
    let (status, _) = env
        .kosh
        .post_anonymous(
            &format!("{EGOV}/transaction/v1/_create"),
            txn_request(&bill, "PT"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // _search: the same visibility (a citizen sees only their own).
    assert_eq!(
        ids_found(&env, EGOV, &env.citizen, &format!("txnId={id}")).await,
        vec![id.clone()]
    );
    assert!(
        ids_found(&env, EGOV, &env.other, &format!("txnId={id}"))
            .await
            .is_empty()
    );
    assert!(
        ids_found(&env, EGOV, &env.other, &format!("billId={}", id_of(&bill)))
            .await
            .is_empty()
    );
    assert_eq!(
        ids_found(
            &env,
            EGOV,
            &env.kosh.admin_token,
            &format!("tenantId={TENANT}")
        )
        .await,
        vec![id.clone()]
    );
    let (status, _) = env
        .kosh
        .post_anonymous(
            &format!("{EGOV}/transaction/v1/_search?txnId={id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // _update: only the creator, or a gateway's callback without a token.
    let (status, body) = update_at(&env, EGOV, Some(&env.other), &[("eg_pg_txnid", &id)]).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "TXN_UPDATE_NOT_ALLOWED",
        None,
    );
    let (status, body) = update_at(&env, EGOV, None, &[("eg_pg_txnid", "PB_PG_NOPE")]).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "TXN_UPDATE_NOT_FOUND",
        Some("Transaction not found"),
    );
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = update_at(&env, EGOV, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
    let receipt = assert_success_with_receipt(&updated(status, &body));
    // By GET too, answered unchanged once settled.
    let response = env
        .kosh
        .client
        .get(
            env.kosh
                .url(&format!("{EGOV}/transaction/v1/_update?eg_pg_txnid={id}")),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = kosh_blackbox::read(response).await;
    assert_eq!(
        assert_success_with_receipt(&updated(status, &body)),
        receipt
    );
    assert_eq!(receipts(&env.kosh, &id).await, 1);
    // Both prefixes see the one transaction.
    let under_pg = search_at(&env, PG, &env.citizen, &format!("txnId={id}")).await;
    let under_egov = search_at(&env, EGOV, &env.citizen, &format!("txnId={id}")).await;
    assert_eq!(under_pg, under_egov);
    assert_eq!(under_egov[0]["receipt"], receipt.as_str());
    env.kosh.stop().await;
}

fn id_of(bill: &Value) -> String {
    id(bill)
}

async fn every_search_criterion_filters_on_both_prefixes(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let admin = env.kosh.admin_token.clone();
    let one = bill(&env, "PT-405-001", 100).await;
    let two = bill(&env, "PT-405-002", 100).await;
    let (bill_one, bill_two) = (id(&one), id(&two));

    // Asha's two failed attempts on bill one, differing only in their module.
    let mut failed = Vec::new();
    for module in ["PT", "TL"] {
        let txn = create_at(&env, PG, &env.citizen, &one, module).await;
        let id = txn_id(&txn);
        let (status, body) = complete(
            &env,
            &env.citizen,
            json!({"txnId": id, "status": "FAILURE"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("eg_pg_txnid", &id)]).await;
        assert_eq!(updated(status, &body)["txnStatus"], "FAILURE");
        failed.push(id);
        env.kosh.advance_clock(MINUTE).await;
    }
    let (pt_failed, tl_failed) = (failed[0].clone(), failed[1].clone());
    // Asha's PENDING attempt for PT on bill one: differs from pt_failed only in its status.
    let asha_pending = txn_id(&create_at(&env, PG, &env.citizen, &one, "PT").await);
    env.kosh.advance_clock(MINUTE).await;
    // Ravi's PENDING attempt for PT on bill one: differs from asha_pending only in its user.
    let ravi_pending = txn_id(&create_at(&env, PG, &env.other, &one, "PT").await);
    env.kosh.advance_clock(MINUTE).await;
    // Asha's PENDING attempt for PT on bill two: differs from asha_pending only in its bill
    // and consumer code (moduleId).
    let asha_two = txn_id(&create_at(&env, PG, &env.citizen, &two, "PT").await);
    env.kosh.advance_clock(MINUTE).await;

    let asha = env.citizen_uuid.clone();
    let ravi = env.other_uuid.clone();
    for prefix in [PG, EGOV] {
        let found = |token: &str, query: String| {
            let token = token.to_string();
            let env = &env;
            async move { ids_found(env, prefix, &token, &query).await }
        };
        // module (with billId, as the API reference pairs them).
        assert_eq!(
            found(&env.citizen, format!("billId={bill_one}&txnStatus=FAILURE")).await,
            vec![tl_failed.clone(), pt_failed.clone()]
        );
        assert_eq!(
            found(
                &env.citizen,
                format!("billId={bill_one}&module=PT&txnStatus=FAILURE")
            )
            .await,
            vec![pt_failed.clone()]
        );
        assert_eq!(
            found(
                &env.citizen,
                format!("billId={bill_one}&module=TL&txnStatus=FAILURE")
            )
            .await,
            vec![tl_failed.clone()]
        );
        assert!(
            found(&env.citizen, format!("billId={bill_one}&module=WS"))
                .await
                .is_empty()
        );
        // txnStatus.
        assert_eq!(
            found(
                &env.citizen,
                format!("billId={bill_one}&module=PT&txnStatus=PENDING")
            )
            .await,
            vec![asha_pending.clone()]
        );
        assert_eq!(
            found(
                &env.citizen,
                format!("billId={bill_one}&module=PT&txnStatus=FAILURE")
            )
            .await,
            vec![pt_failed.clone()]
        );
        // user_uuid (as the API reference spells it) and userUuid (DIGIT's TransactionCriteria).
        let pending_on_one = format!("billId={bill_one}&module=PT&txnStatus=PENDING");
        assert_eq!(
            found(&admin, pending_on_one.clone()).await,
            vec![ravi_pending.clone(), asha_pending.clone()]
        );
        assert_eq!(
            found(&admin, format!("{pending_on_one}&user_uuid={asha}")).await,
            vec![asha_pending.clone()]
        );
        assert_eq!(
            found(&admin, format!("{pending_on_one}&user_uuid={ravi}")).await,
            vec![ravi_pending.clone()]
        );
        assert_eq!(
            found(&admin, format!("{pending_on_one}&userUuid={ravi}")).await,
            vec![ravi_pending.clone()]
        );
        assert!(
            found(
                &admin,
                format!("{pending_on_one}&userUuid={ravi}&user_uuid={asha}")
            )
            .await
            .is_empty()
        );
        // A citizen naming someone else's uuid still sees only their own: nothing.
        assert!(
            found(&env.citizen, format!("{pending_on_one}&user_uuid={ravi}"))
                .await
                .is_empty()
        );
        // billId, and moduleId (the consumer code).
        let asha_pending_pt = format!("module=PT&txnStatus=PENDING&user_uuid={asha}");
        assert_eq!(
            found(&admin, asha_pending_pt.clone()).await,
            vec![asha_two.clone(), asha_pending.clone()]
        );
        assert_eq!(
            found(&admin, format!("{asha_pending_pt}&billId={bill_two}")).await,
            vec![asha_two.clone()]
        );
        assert_eq!(
            found(&admin, format!("{asha_pending_pt}&moduleId=PT-405-001")).await,
            vec![asha_pending.clone()]
        );
        assert_eq!(
            found(&admin, format!("{asha_pending_pt}&moduleId=PT-405-002")).await,
            vec![asha_two.clone()]
        );
        assert_eq!(
            found(&admin, format!("{asha_pending_pt}&consumerCode=PT-405-002")).await,
            vec![asha_two.clone()]
        );
        assert!(
            found(
                &admin,
                format!("{asha_pending_pt}&consumerCode=PT-405-002&moduleId=PT-405-001")
            )
            .await
            .is_empty()
        );
        // txnId.
        assert_eq!(
            found(&admin, format!("{asha_pending_pt}&txnId={asha_pending}")).await,
            vec![asha_pending.clone()]
        );
    }

    // receipt: two SUCCESS transactions, differing in their receipt.
    let mut receipts_of = BTreeMap::new();
    for (token, id) in [(&env.other, &ravi_pending), (&env.citizen, &asha_two)] {
        let (status, body) = complete(&env, token, json!({"txnId": id, "status": "SUCCESS"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = update_at(&env, PG, Some(token), &[("eg_pg_txnid", id)]).await;
        receipts_of.insert(
            id.clone(),
            assert_success_with_receipt(&updated(status, &body)),
        );
    }
    for prefix in [PG, EGOV] {
        assert_eq!(
            ids_found(&env, prefix, &admin, "txnStatus=SUCCESS").await,
            vec![asha_two.clone(), ravi_pending.clone()]
        );
        for (id, receipt) in &receipts_of {
            assert_eq!(
                ids_found(
                    &env,
                    prefix,
                    &admin,
                    &format!("txnStatus=SUCCESS&receipt={receipt}")
                )
                .await,
                vec![id.clone()]
            );
        }
    }
    env.kosh.stop().await;
}

async fn update_finds_the_id_under_every_gateways_key(backend: Backend) {
    // Only SANDBOX is configured; the other gateways' keys are still DIGIT's keys.
    let env = start(backend, |_| {}).await;
    let keys = [
        "eg_pg_txnid",
        "transactionId",
        "txnid",
        "ORDERID",
        "vpc_MerchTxnRef",
        "sandbox_txnid",
    ];
    for key in keys {
        for prefix in [PG, EGOV] {
            let (status, body) =
                update_at(&env, prefix, None, &[(key, "PB_PG_2019_06_15_000999_00")]).await;
            assert_digit_error(
                status,
                &body,
                StatusCode::BAD_REQUEST,
                "TXN_UPDATE_NOT_FOUND",
                Some("Transaction not found"),
            );
        }
    }
    // No key at all: DIGIT's MISSING_UPDATE_TXN_ID.
    let (status, body) = update_at(&env, PG, None, &[("status", "SUCCESS")]).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "MISSING_UPDATE_TXN_ID",
        Some("Cannot process request, missing transaction id"),
    );

    // DIGIT's UI and Postman collection send PHONEPE's key: the SANDBOX transaction is found
    // and settled through the sandbox's status API.
    let bill = bill(&env, "PT-406-001", 700).await;
    let id = txn_id(&create_at(&env, PG, &env.citizen, &bill, "PT").await);
    let (status, body) = complete(
        &env,
        &env.citizen,
        json!({"txnId": id, "status": "SUCCESS"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = update_at(&env, PG, Some(&env.citizen), &[("transactionId", &id)]).await;
    let receipt = assert_success_with_receipt(&updated(status, &body));
    for key in ["txnid", "ORDERID", "vpc_MerchTxnRef", "TRANSACTIONID"] {
        let (status, body) = update_at(&env, EGOV, Some(&env.citizen), &[(key, &id)]).await;
        assert_eq!(
            assert_success_with_receipt(&updated(status, &body)),
            receipt,
            "{key}"
        );
    }
    assert_eq!(receipts(&env.kosh, &id).await, 1);
    env.kosh.stop().await;
}

async fn the_sandbox_secret_survives_a_restart(backend: Backend) {
    let env = start(backend, |_| {}).await;
    let bill = bill(&env, "PT-407-001", 900).await;
    let txn = create_at(&env, PG, &env.citizen, &bill, "PT").await;
    let id = txn_id(&txn);
    let redirect = txn["redirectUrl"]
        .as_str()
        .expect("redirectUrl")
        .to_string();
    // Kept with the data, readable by its owner only.
    let file = env.kosh.settings().data_dir.join("pg-sandbox-secret");
    let kept = std::fs::read_to_string(&file).expect("the secret is kept with the data");
    assert!(kept.trim().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    // Stop, start again on the same database and data folder.
    let Env {
        kosh,
        citizen,
        citizen_uuid,
        other,
        other_uuid,
    } = env;
    let kosh = kosh.restart_with(|_| {}).await;
    kosh.set_clock(NOW + MINUTE).await;
    let env = Env {
        kosh,
        citizen,
        citizen_uuid,
        other,
        other_uuid,
    };
    assert_eq!(std::fs::read_to_string(&file).unwrap(), kept);

    // The open page, on the restarted server, still verifies, and its signed completion too.
    let form = query_of(&redirect);
    let mut page_url = reqwest::Url::parse(&env.kosh.url("/pg-service/sandbox/pay")).unwrap();
    page_url.query_pairs_mut().extend_pairs(form.iter());
    let page = env.kosh.client.get(page_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&id) && html.contains("900.00"), "{html}");
    let mut choice = form.clone();
    choice.insert("outcome".into(), "SUCCESS".into());
    let response = no_redirects()
        .post(env.kosh.url("/pg-service/sandbox/pay"))
        .form(&choice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let params = query_of(&location);
    assert_eq!(params["status"], "SUCCESS");
    // The callback settles it (the status API answers signed with the same secret).
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = update_at(&env, PG, None, &pairs).await;
    assert_success_with_receipt(&updated(status, &body));
    env.kosh.stop().await;
}

async fn a_configured_sandbox_secret_signs_the_pages(backend: Backend) {
    let secret = "a-secret-the-operator-chose-0123456789";
    let env = start(backend, |s| s.pg_sandbox_secret = Some(secret.into())).await;
    let bill = bill(&env, "PT-408-001", 400).await;
    let txn = create_at(&env, PG, &env.citizen, &bill, "PT").await;
    let params = query_of(txn["redirectUrl"].as_str().unwrap());
    assert_eq!(
        params["signature"],
        kosh_pg::gateways::sandbox::pay_signature(
            secret,
            &txn_id(&txn),
            "400.00",
            &params["callbackUrl"]
        )
    );
    // Configured, it is not written to the data folder.
    assert!(
        !env.kosh
            .settings()
            .data_dir
            .join("pg-sandbox-secret")
            .exists()
    );
    env.kosh.stop().await;
}
