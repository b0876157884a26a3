//! Abuse and access, on SQLite and on PostgreSQL: sign-ins throttled by address and by user
//! name, security headers on every page kosh serves, one city's employee kept out of another
//! city's payments, bills, demands and transactions, and SQL injection attempts through every
//! criterion of every search route (the list comes from /openapi.json).

use std::collections::BTreeSet;

use kosh_blackbox::{BASIC_CLIENT, Backend, Kosh, on_both_databases, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    sign_ins_are_throttled_by_address_and_by_user_name,
    every_page_carries_the_security_headers,
    a_cities_employee_cannot_read_or_write_another_city,
    sql_injection_through_every_search_criterion_changes_nothing,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const MINUTE: i64 = 60_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const AMRITSAR: &str = "pb.amritsar";
const JALANDHAR: &str = "pb.jalandhar";
const PASSWORD: &str = "Secret@123";
const MOBILE: &str = "9876543210";

// ---------------------------------------------------------------------------------------
// Sign-in throttling
// ---------------------------------------------------------------------------------------

/// A password sign-in from `client` (with extra headers); status, Retry-After, body.
async fn sign_in(
    kosh: &Kosh,
    client: &reqwest::Client,
    headers: &[(&str, &str)],
    username: &str,
    password: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut request = client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .form(&[
            ("username", username),
            ("password", password),
            ("grant_type", "password"),
            ("scope", "read"),
            ("tenantId", AMRITSAR),
            ("userType", "EMPLOYEE"),
        ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = read(response).await;
    (status, retry_after, body)
}

fn assert_throttled(
    (status, retry_after, body): &(StatusCode, Option<String>, Value),
    what: &str,
) -> i64 {
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_requests", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("Too many failed login attempts {what}")),
        "{description}"
    );
    let seconds: i64 = retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(seconds > 0, "{seconds}");
    seconds
}

fn assert_invalid(result: &(StatusCode, Option<String>, Value)) {
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.2);
    assert_eq!(result.2["error_description"], "Invalid login credentials");
}

async fn sign_ins_are_throttled_by_address_and_by_user_name(backend: Backend) {
    kosh_blackbox::one_instance("the login throttle counts in each instance's memory");
    let kosh = Kosh::start_with(backend, |s| {
        s.login_max_failures_per_address = 5;
        s.login_max_failures_per_user = 3;
        s.login_throttle_minutes = 10;
        // Loopback's .1 is the load balancer: its forwarded-for headers name the client.
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    kosh.set_clock(NOW).await;
    kosh.create_user(json!({"userName": "ravi", "name": "Ravi", "type": "EMPLOYEE", "active": true,
        "password": PASSWORD, "tenantId": AMRITSAR, "roles": [{"code": "EMPLOYEE", "tenantId": AMRITSAR}]}))
        .await;

    // One address tries five user names that do not exist: each an ordinary refusal.
    let sprayer = Kosh::client_from("127.0.0.2");
    for i in 0..5 {
        let result = sign_in(&kosh, &sprayer, &[], &format!("ghost-{i}"), "Guess@123").await;
        assert_invalid(&result);
    }
    // The sixth is refused before any password is looked at, even the right one for a
    // real user; a header naming another client changes nothing from an untrusted peer.
    let refused = sign_in(&kosh, &sprayer, &[], "ravi", PASSWORD).await;
    assert_eq!(assert_throttled(&refused, "from this address"), 600);
    let spoofed = sign_in(
        &kosh,
        &sprayer,
        &[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-real-ip", "198.51.100.7"),
        ],
        "ravi",
        PASSWORD,
    )
    .await;
    assert_throttled(&spoofed, "from this address");
    // Refresh tokens from that address are refused too.
    let response = sprayer
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Other addresses are not affected, and the real user is not locked.
    let (status, _, body) = sign_in(
        &kosh,
        &Kosh::client_from("127.0.0.3"),
        &[],
        "ravi",
        PASSWORD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nine minutes later still refused, with the rest of the window as Retry-After.
    kosh.advance_clock(9 * MINUTE).await;
    let refused = sign_in(&kosh, &sprayer, &[], "ravi", PASSWORD).await;
    assert_eq!(assert_throttled(&refused, "from this address"), 60);
    // Once the window (from the first failure) is over, the address signs in again.
    kosh.advance_clock(MINUTE).await;
    let (status, _, body) = sign_in(&kosh, &sprayer, &[], "ravi", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // One user name tried from three addresses: the fourth address is refused for it,
    // while other names from that address go on.
    for last in 4..=6 {
        let result = sign_in(
            &kosh,
            &Kosh::client_from(&format!("127.0.0.{last}")),
            &[],
            "ghost-x",
            "Guess@123",
        )
        .await;
        assert_invalid(&result);
    }
    let seventh = Kosh::client_from("127.0.0.7");
    let refused = sign_in(&kosh, &seventh, &[], "GHOST-X ", "Guess@123").await;
    assert_throttled(&refused, "for this user");
    let (status, _, body) = sign_in(&kosh, &seventh, &[], "ravi", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Behind the trusted proxy each forwarded client counts on its own.
    let proxy = &kosh.client;
    for i in 0..5 {
        let result = sign_in(
            &kosh,
            proxy,
            &[("x-forwarded-for", "203.0.113.9")],
            &format!("nobody-{i}"),
            "Guess@123",
        )
        .await;
        assert_invalid(&result);
    }
    let refused = sign_in(
        &kosh,
        proxy,
        &[("x-forwarded-for", "203.0.113.9")],
        "ravi",
        PASSWORD,
    )
    .await;
    assert_throttled(&refused, "from this address");
    let (status, _, body) = sign_in(
        &kosh,
        proxy,
        &[("x-forwarded-for", "203.0.113.10")],
        "ravi",
        PASSWORD,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, metrics) = kosh.get_text("/metrics").await;
    assert!(
        metrics.contains("reason=\"throttled_address\"")
            && metrics.contains("reason=\"throttled_user\""),
        "throttled sign-ins are counted"
    );
    kosh.stop().await;
}

// ---------------------------------------------------------------------------------------
// Security headers
// ---------------------------------------------------------------------------------------

async fn every_page_carries_the_security_headers(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let pages = [
        ("GET", "/docs/", true),
        ("GET", "/docs/index.html", true),
        ("GET", "/openapi.json", false),
        ("GET", "/health", false),
        ("GET", "/metrics", false),
        // The SANDBOX payer's page, even when it has nothing to show.
        ("GET", "/pg-service/sandbox/pay?txnId=none", false),
        ("POST", "/pg-service/sandbox/pay", false),
        ("POST", "/egov-mdms-service/v1/_search", false),
        ("POST", "/collection-services/payments/_search", false),
        ("GET", "/no/such/page", false),
    ];
    for (method, path, docs) in pages {
        let response = kosh
            .client
            .request(method.parse().unwrap(), kosh.url(path))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{method} {path} ({status}) has no {name}"))
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert!(
            header("strict-transport-security").starts_with("max-age="),
            "{path}"
        );
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if docs {
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
            assert!(
                !csp.contains("http:") && !csp.contains("https:") && !csp.contains('*'),
                "{path}: {csp}"
            );
        } else {
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
            assert_eq!(header("cache-control"), "no-store", "{path}");
        }
    }
    // The docs page loads nothing from elsewhere.
    let (_, html) = kosh.get_text("/docs/").await;
    assert!(!html.contains("src=\"http"), "{html}");
    kosh.stop().await;
}

// ---------------------------------------------------------------------------------------
// Two cities
// ---------------------------------------------------------------------------------------

/// What one city holds: a paid demand with its payment, an unpaid demand with its bill, and
/// an online transaction.
struct City {
    tenant: &'static str,
    paid_code: String,
    unpaid_code: String,
    unpaid_bill: Value,
    payment_id: String,
    receipt: String,
    txn_id: String,
}

async fn demand(
    kosh: &Kosh,
    token: &str,
    tenant: &str,
    code: &str,
    payer: &str,
) -> (StatusCode, Value) {
    let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": tenant, "consumerCode": code, "consumerType": "BUILTUP",
        "businessService": "PT", "payer": {"uuid": payer}, "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 500, "collectionAmount": 0}]}]});
    kosh.post_as(token, "/billing-service/demand/_create", body)
        .await
}

async fn fetch_bill(kosh: &Kosh, tenant: &str, code: &str) -> Value {
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

fn cash(tenant: &str, bill: &Value) -> Value {
    json!({"RequestInfo": {}, "Payment": {"tenantId": tenant, "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH",
        "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
        "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"], "totalAmountPaid": bill["totalAmount"],
            "businessService": "PT"}]}})
}

fn online(tenant: &str, bill: &Value) -> Value {
    json!({"RequestInfo": {}, "Transaction": {"tenantId": tenant, "txnAmount": bill["totalAmount"], "module": "PT",
        "billId": bill["id"], "consumerCode": bill["consumerCode"], "productInfo": "Property Tax Payment",
        "gateway": "SANDBOX", "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
        "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
        "callbackUrl": "https://ui.example/citizen/payment/success"}})
}

/// Seeds `tenant` as the administrator; the online transaction is the citizen's.
async fn seed_city(
    kosh: &Kosh,
    citizen: &str,
    payer: &str,
    tenant: &'static str,
    tag: &str,
) -> City {
    let paid_code = format!("PT-{tag}-PAID");
    let unpaid_code = format!("PT-{tag}-DUE");
    let online_code = format!("PT-{tag}-ONLINE");
    for code in [&paid_code, &unpaid_code, &online_code] {
        let (status, body) = demand(kosh, &kosh.admin_token, tenant, code, payer).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let paid_bill = fetch_bill(kosh, tenant, &paid_code).await;
    let (status, body) = kosh
        .post(
            "/collection-services/payments/_create",
            cash(tenant, &paid_bill),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payment = &body["Payments"][0];
    let unpaid_bill = fetch_bill(kosh, tenant, &unpaid_code).await;
    let online_bill = fetch_bill(kosh, tenant, &online_code).await;
    let (status, body) = kosh
        .post_as(
            citizen,
            "/pg-service/transaction/v1/_create",
            online(tenant, &online_bill),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    City {
        tenant,
        paid_code,
        unpaid_code,
        unpaid_bill,
        payment_id: payment["id"].as_str().unwrap().to_string(),
        receipt: payment["paymentDetails"][0]["receiptNumber"]
            .as_str()
            .unwrap()
            .to_string(),
        txn_id: body["Transaction"]["txnId"].as_str().unwrap().to_string(),
    }
}

/// Two seeded cities and a citizen's token and uuid.
async fn two_cities(kosh: &Kosh) -> (City, City, String) {
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE, "type": "CITIZEN",
            "active": true, "password": PASSWORD, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}))
        .await;
    let payer = citizen["uuid"].as_str().unwrap().to_string();
    let token = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
    let amritsar = seed_city(kosh, &token, &payer, AMRITSAR, "A").await;
    let jalandhar = seed_city(kosh, &token, &payer, JALANDHAR, "J").await;
    (amritsar, jalandhar, payer)
}

/// Every string in `body`, flattened, for "does this answer mention X".
fn mentions(body: &Value, needle: &str) -> bool {
    body.to_string().contains(needle)
}

fn assert_refused_or_empty(status: StatusCode, body: &Value, foreign: &City, what: &str) {
    assert!(!status.is_server_error(), "{what}: {status} {body}");
    if status.is_success() {
        for needle in [
            foreign.tenant,
            &foreign.paid_code,
            &foreign.unpaid_code,
            &foreign.payment_id,
            &foreign.receipt,
            &foreign.txn_id,
        ] {
            assert!(!mentions(body, needle), "{what} shows {needle}: {body}");
        }
    } else {
        assert!(
            body["Errors"][0]["code"].is_string(),
            "{what}: a refusal in DIGIT's format: {status} {body}"
        );
    }
}

async fn a_cities_employee_cannot_read_or_write_another_city(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (amritsar, jalandhar, payer) = two_cities(&kosh).await;
    let roles: Vec<Value> = ["EMPLOYEE", "UC_EMP", "SUPERUSER"]
        .iter()
        .map(|r| json!({"code": r, "tenantId": AMRITSAR}))
        .collect();
    kosh.create_user(
        json!({"userName": "amritsar-clerk", "name": "Clerk", "type": "EMPLOYEE", "active": true,
        "password": PASSWORD, "tenantId": AMRITSAR, "roles": roles}),
    )
    .await;
    let clerk = kosh
        .token("amritsar-clerk", PASSWORD, AMRITSAR, "EMPLOYEE")
        .await;
    let post = |path: String, body: Value| {
        let kosh = &kosh;
        let clerk = &clerk;
        async move { kosh.post_as(clerk, &path, body).await }
    };
    let ri = || json!({"RequestInfo": {}});

    // Searches as DIGIT's clients send them, first at the clerk's own city (each finds its
    // rows: the refusals below are about the city, not the search), then at the other.
    let searches = |tenant: &str, city: &City| {
        vec![
            format!(
                "/billing-service/demand/_search?tenantId={tenant}&businessService=PT&consumerCode={}",
                city.paid_code
            ),
            format!(
                "/billing-service/bill/v2/_search?tenantId={tenant}&consumerCode={}&service=PT",
                city.unpaid_code
            ),
            format!(
                "/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService=PT&consumerCode={}",
                city.unpaid_code
            ),
            format!(
                "/collection-services/payments/_search?tenantId={tenant}&receiptNumbers={}",
                city.receipt
            ),
            format!(
                "/collection-services/payments/PT/_search?tenantId={tenant}&consumerCodes={}",
                city.paid_code
            ),
            format!(
                "/pg-service/transaction/v1/_search?tenantId={tenant}&txnId={}",
                city.txn_id
            ),
        ]
    };
    for path in searches(AMRITSAR, &amritsar) {
        let (status, body) = post(path.clone(), ri()).await;
        assert!(status.is_success(), "{path}: {status} {body}");
        assert!(
            mentions(&body, AMRITSAR),
            "{path} finds the clerk's own city: {body}"
        );
    }
    for tenant in [
        JALANDHAR,
        "pb",
        "PB.JALANDHAR",
        "pb.jalandhar ",
        "pb.amritsar,pb.jalandhar",
        "pb.jalandhar,pb.amritsar",
    ] {
        for path in searches(tenant, &jalandhar) {
            let (status, body) = post(path.clone(), ri()).await;
            assert_refused_or_empty(status, &body, &jalandhar, &path);
        }
    }
    // The other city's ids under the clerk's own tenant find nothing.
    for path in [
        format!(
            "/billing-service/bill/v2/_search?tenantId={AMRITSAR}&billId={}",
            jalandhar.unpaid_bill["id"].as_str().unwrap()
        ),
        format!(
            "/billing-service/demand/_search?tenantId={AMRITSAR}&consumerCode={}",
            jalandhar.paid_code
        ),
        format!(
            "/collection-services/payments/_search?tenantId={AMRITSAR}&ids={}",
            jalandhar.payment_id
        ),
        format!(
            "/pg-service/transaction/v1/_search?tenantId={AMRITSAR}&txnId={}",
            jalandhar.txn_id
        ),
    ] {
        let (status, body) = post(path.clone(), ri()).await;
        assert_refused_or_empty(status, &body, &jalandhar, &path);
    }
    // No tenant at all: the clerk's own city is all there is.
    for path in [
        format!(
            "/pg-service/transaction/v1/_search?txnId={}",
            jalandhar.txn_id
        ),
        "/pg-service/transaction/v1/_search".to_string(),
        format!(
            "/pg-service/transaction/v1/_search?consumerCode={}",
            jalandhar.unpaid_code.replace("DUE", "ONLINE")
        ),
        format!(
            "/collection-services/payments/_search?ids={}",
            jalandhar.payment_id
        ),
        format!(
            "/billing-service/bill/v2/_search?billId={}",
            jalandhar.unpaid_bill["id"].as_str().unwrap()
        ),
        format!(
            "/billing-service/demand/_search?consumerCode={}",
            jalandhar.paid_code
        ),
    ] {
        let (status, body) = post(path.clone(), ri()).await;
        assert_refused_or_empty(status, &body, &jalandhar, &path);
    }
    // The body names the clerk's city, the query (which the search reads) the other one.
    for path in searches(JALANDHAR, &jalandhar) {
        let body =
            json!({"RequestInfo": {}, "Criteria": {"tenantId": AMRITSAR}, "tenantId": AMRITSAR});
        let (status, answer) = post(path.clone(), body).await;
        assert_refused_or_empty(
            status,
            &answer,
            &jalandhar,
            &format!("{path} with an amritsar body"),
        );
    }

    // Writes in the other city, alone or next to one in the clerk's own.
    let before = counts(&kosh).await;
    let (status, body) = demand(&kosh, &clerk, JALANDHAR, "PT-J-NEW", &payer).await;
    assert_refused_or_empty(status, &body, &jalandhar, "demand at jalandhar");
    assert!(!status.is_success(), "{body}");
    let both: Vec<Value> = [AMRITSAR, JALANDHAR].iter().map(|t| json!({"tenantId": t,
        "consumerCode": "PT-BOTH", "consumerType": "BUILTUP", "businessService": "PT", "payer": {"uuid": payer},
        "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 500, "collectionAmount": 0}]})).collect();
    let two = json!({"RequestInfo": {}, "Demands": both});
    let (status, body) = post("/billing-service/demand/_create".into(), two).await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "demands in two cities: {status} {body}"
    );
    let (status, body) = post(
        "/collection-services/payments/_create".into(),
        cash(JALANDHAR, &jalandhar.unpaid_bill),
    )
    .await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "payment at jalandhar: {status} {body}"
    );
    // A payment that names the clerk's city but the other city's bill.
    let (status, body) = post(
        "/collection-services/payments/_create".into(),
        cash(AMRITSAR, &jalandhar.unpaid_bill),
    )
    .await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "amritsar payment of a jalandhar bill: {status} {body}"
    );
    let (status, body) = post(
        "/pg-service/transaction/v1/_create".into(),
        online(JALANDHAR, &jalandhar.unpaid_bill),
    )
    .await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "transaction at jalandhar: {status} {body}"
    );
    let (status, body) = post(
        "/pg-service/transaction/v1/_create".into(),
        online(AMRITSAR, &jalandhar.unpaid_bill),
    )
    .await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "amritsar transaction of a jalandhar bill: {status} {body}"
    );
    let cancel = json!({"RequestInfo": {}, "PaymentWorkflows": [{"paymentId": jalandhar.payment_id, "action": "CANCEL",
        "tenantId": AMRITSAR, "reason": "test"}]});
    let (status, body) = post("/collection-services/payments/_workflow".into(), cancel).await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "cancel of a jalandhar payment: {status} {body}"
    );
    let cancel_bill = json!({"RequestInfo": {}, "UpdateBillCriteria": {"tenantId": JALANDHAR,
        "consumerCodes": [jalandhar.unpaid_code], "businessService": "PT", "additionalDetails": {"reason": "test"}}});
    let (status, body) = post("/billing-service/bill/v2/_cancelbill".into(), cancel_bill).await;
    assert!(
        !status.is_success() && !status.is_server_error(),
        "cancel of a jalandhar bill: {status} {body}"
    );
    assert_eq!(counts(&kosh).await, before, "nothing was written");
    let (status, body) = kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_search?tenantId={JALANDHAR}&billId={}",
                jalandhar.unpaid_bill["id"].as_str().unwrap()
            ),
            ri(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["Bill"][0]["status"], "ACTIVE",
        "the other city's bill is untouched: {body}"
    );
    kosh.stop().await;
}

/// Row counts of the revenue tables.
async fn counts(kosh: &Kosh) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "egbs_demand",
        "egbs_demand_detail",
        "egbs_bill",
        "egcl_payment",
        "egcl_paymentdetail",
        "eg_pg_transactions",
        "eg_user",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(kosh.state().db.pool())
                .await
                .unwrap_or_else(|e| panic!("{table}: {e}"));
        out.push((table, n));
    }
    out
}

async fn table_names(kosh: &Kosh) -> BTreeSet<String> {
    let sql = match kosh.backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = 'public'"
        }
    };
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(kosh.state().db.pool())
        .await
        .expect("tables")
        .into_iter()
        .collect()
}

// ---------------------------------------------------------------------------------------
// SQL injection
// ---------------------------------------------------------------------------------------

const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "x' OR 1=1 --",
    "'; DROP TABLE egcl_payment; --",
    "' UNION SELECT txn_id, tenant_id, txn_amount FROM eg_pg_transactions --",
    "%' OR tenant_id LIKE '%",
    "1) OR (1=1",
    "pb.amritsar' OR tenant_id = 'pb.jalandhar",
];

/// One attack: what was changed, the query, the body, the path's module.
type Attempt = (String, Vec<(String, String)>, Value, String);

/// A search route as an honest client calls it: its query, body and who asks.
struct Base {
    query: Vec<(&'static str, String)>,
    body: Value,
    /// The BBPS unit's token instead of the administrator's.
    bbps: bool,
    /// Master data is public and names every city: no foreign-row check.
    public: bool,
}

fn base(path: &str, amritsar: &City) -> Option<Base> {
    let q = |pairs: &[(&'static str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect::<Vec<_>>()
    };
    let ri = json!({"RequestInfo": {}});
    let b = |query, body, bbps, public| {
        Some(Base {
            query,
            body,
            bbps,
            public,
        })
    };
    match path {
        "/billing-service/demand/_search" => b(
            q(&[("tenantId", AMRITSAR), ("businessService", "PT")]),
            ri,
            false,
            false,
        ),
        "/billing-service/bill/v2/_search" => b(
            q(&[("tenantId", AMRITSAR), ("service", "PT")]),
            ri,
            false,
            false,
        ),
        "/billing-service/bill/v2/_fetchbill" => b(
            q(&[
                ("tenantId", AMRITSAR),
                ("businessService", "PT"),
                ("consumerCode", &amritsar.unpaid_code),
            ]),
            ri,
            false,
            false,
        ),
        "/collection-services/payments/_search"
        | "/collection-services/payments/{moduleName}/_search" => {
            b(q(&[("tenantId", AMRITSAR)]), ri, false, false)
        }
        "/pg-service/transaction/v1/_search" | "/egov-pg-service/transaction/v1/_search" => {
            b(q(&[("tenantId", AMRITSAR)]), ri, false, false)
        }
        "/collection-services/refunds/_search" => b(q(&[("tenantId", AMRITSAR)]), ri, false, false),
        "/collection-services/refunds/reports/daily" => b(
            q(&[("tenantId", AMRITSAR), ("date", "2019-06-15")]),
            ri,
            false,
            false,
        ),
        "/billing-service/taxheads/_search"
        | "/billing-service/taxperiods/_search"
        | "/billing-service/businessservices/_search" => b(
            q(&[("tenantId", AMRITSAR), ("service", "PT")]),
            ri,
            false,
            false,
        ),
        "/pg-service/gateway/v1/_search" | "/egov-pg-service/gateway/v1/_search" => {
            b(vec![], ri, false, true)
        }
        "/pg-service/sandbox/status" => b(vec![], json!({"txnId": amritsar.txn_id}), false, false),
        "/user/_search" | "/user/v1/_search" => b(
            vec![],
            json!({"RequestInfo": {}, "tenantId": AMRITSAR, "userName": MOBILE}),
            false,
            false,
        ),
        "/egov-mdms-service/v1/_search" => b(
            vec![],
            json!({"RequestInfo": {}, "MdmsCriteria": {"tenantId": AMRITSAR, "moduleDetails": [
                {"moduleName": "BillingService", "masterDetails": [{"name": "BusinessService", "filter": "[?(@.code==\"PT\")]"}]}]}}),
            false,
            true,
        ),
        "/egov-mdms-service/v1/_get" => b(
            q(&[
                ("tenantId", AMRITSAR),
                ("moduleName", "BillingService"),
                ("masterName", "BusinessService"),
            ]),
            ri,
            false,
            true,
        ),
        "/bbps/v1/billers" => b(vec![], ri, true, true),
        "/bbps/v1/bills/fetch" | "/bbps/v1/bills/validate" => b(
            vec![],
            json!({"RequestInfo": {}, "billerId": "PBMT00000PUN01", "refId": "FETCH1",
                "customerParams": [{"name": "City", "value": "Amritsar"}, {"name": "Property ID", "value": amritsar.unpaid_code}]}),
            true,
            false,
        ),
        "/bbps/v1/payments/status" => b(
            vec![],
            json!({"RequestInfo": {}, "txnReferenceId": "NONE"}),
            true,
            false,
        ),
        "/bbps/v1/complaints/status" => b(
            vec![],
            json!({"RequestInfo": {}, "complaintId": "NONE"}),
            true,
            false,
        ),
        "/bbps/v1/reports/daily" => b(q(&[("date", "2019-06-15")]), ri, true, false),
        "/access/v1/roles/_search" => b(
            q(&[("tenantId", AMRITSAR), ("code", "EMPLOYEE,CITIZEN")]),
            ri,
            false,
            false,
        ),
        "/access/v1/actions/_get" | "/access/v1/actions/mdms/_get" => b(
            vec![],
            json!({"RequestInfo": {}, "tenantId": AMRITSAR, "roleCodes": ["EMPLOYEE"],
                "actionMaster": "actions-test"}),
            false,
            false,
        ),
        _ => None,
    }
}

/// Whether `path` only reads: searches, fetches, status and reports.
fn is_search(path: &str) -> bool {
    [
        "_search",
        "_fetchbill",
        "_get",
        "/bills/fetch",
        "/bills/validate",
        "/status",
        "/reports/",
        "/billers",
    ]
    .iter()
    .any(|s| path.contains(s))
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

fn is_textual(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    let kind = |s: &Value| match &s["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    };
    let kinds = kind(schema);
    kinds.iter().any(|t| t == "string")
        || (kinds.iter().any(|t| t == "array")
            && kind(resolve(doc, &schema["items"]))
                .iter()
                .any(|t| t == "string"))
        || schema["oneOf"]
            .as_array()
            .is_some_and(|v| v.iter().any(|s| is_textual(doc, s)))
}

/// The JSON paths (object keys) of every textual property of a request body schema, one
/// nested object level deep, with the value to put there (arrays get a one-item array).
fn body_criteria(
    doc: &Value,
    schema: &Value,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, bool)>,
) {
    let schema = resolve(doc, schema);
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    for (name, property) in properties {
        if name.eq_ignore_ascii_case("RequestInfo") {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(name.clone());
        let resolved = resolve(doc, property);
        if is_textual(doc, property) {
            let array = resolved["type"] == "array";
            out.push((path, array));
        } else if resolved["properties"].is_object() && prefix.len() < 2 {
            body_criteria(doc, property, &path, out);
        }
    }
}

fn set_path(body: &mut Value, path: &[String], value: Value) {
    let mut at = body;
    for key in &path[..path.len() - 1] {
        if !at[key.as_str()].is_object() {
            at[key.as_str()] = json!({});
        }
        at = &mut at[key.as_str()];
    }
    at[path[path.len() - 1].as_str()] = value;
}

async fn sql_injection_through_every_search_criterion_changes_nothing(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (amritsar, jalandhar, _) = two_cities(&kosh).await;
    // MDMS criteria nest in arrays the schema walk does not enter: named here.
    let mdms_paths: Vec<Vec<&str>> = vec![
        vec!["MdmsCriteria", "tenantId"],
        vec!["MdmsCriteria", "moduleDetails", "0", "moduleName"],
        vec![
            "MdmsCriteria",
            "moduleDetails",
            "0",
            "masterDetails",
            "0",
            "name",
        ],
        vec![
            "MdmsCriteria",
            "moduleDetails",
            "0",
            "masterDetails",
            "0",
            "filter",
        ],
    ];
    kosh.create_user(json!({"userName": "bbps-unit", "name": "BBPS unit", "type": "SYSTEM", "active": true,
        "password": PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"], "roles": [{"code": "BBPS", "tenantId": "pb"}]}))
        .await;
    let bbps = kosh.token("bbps-unit", PASSWORD, "pb", "SYSTEM").await;
    let tables = table_names(&kosh).await;
    let before = counts(&kosh).await;

    let (_, doc) = kosh.get("/openapi.json").await;
    let mut routes = 0;
    let mut requests = 0;
    let mut statuses: BTreeSet<u16> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !is_search(path) {
            continue;
        }
        let Some(base) = base(path, &amritsar) else {
            panic!(
                "{path} reads data: give it a base request in base() so its criteria are attacked"
            );
        };
        routes += 1;
        for (method, operation) in item.as_object().unwrap() {
            // Every criterion: query and path parameters, and the body's textual properties.
            let mut query_names: Vec<String> = Vec::new();
            let mut path_names: Vec<String> = Vec::new();
            for p in operation["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap().to_string();
                if !is_textual(&doc, &p["schema"]) {
                    continue;
                }
                match p["in"].as_str() {
                    Some("path") if path.contains(&format!("{{{name}}}")) => path_names.push(name),
                    // A "path" parameter missing from the path is a query parameter
                    // documented in the wrong place (BBPS's report): attacked as one.
                    Some("query") | Some("path") => query_names.push(name),
                    _ => {}
                }
            }
            let mut body_paths = Vec::new();
            if let Some(schema) =
                operation["requestBody"]["content"]["application/json"]["schema"].as_object()
            {
                body_criteria(&doc, &Value::Object(schema.clone()), &[], &mut body_paths);
            }
            let mut body_targets: Vec<(Vec<String>, bool)> = body_paths;
            if path.starts_with("/egov-mdms-service/v1/_search") {
                body_targets.extend(
                    mdms_paths
                        .iter()
                        .map(|p| (p.iter().map(|s| s.to_string()).collect(), false)),
                );
            }
            if path == "/pg-service/sandbox/status" {
                // Signed by the gateway: read without a schema, refused unless signed.
                body_targets.push((vec!["txnId".to_string()], false));
            }
            assert!(
                !query_names.is_empty()
                    || !body_targets.is_empty()
                    || path == "/pg-service/gateway/v1/_search"
                    || path == "/egov-pg-service/gateway/v1/_search"
                    || path == "/bbps/v1/billers",
                "{method} {path}: no criteria found in the OpenAPI document: {operation}"
            );
            let token = if base.bbps { &bbps } else { &kosh.admin_token };
            let send = |query: Vec<(String, String)>, body: Value, module: &str| {
                let mut url = reqwest::Url::parse(&kosh.url(path)).expect("url");
                url.path_segments_mut().expect("path").clear().extend(
                    path.trim_start_matches('/')
                        .split('/')
                        .map(|s| if s == "{moduleName}" { module } else { s }),
                );
                url.query_pairs_mut().extend_pairs(query.iter());
                if query.is_empty() {
                    url.set_query(None);
                }
                let mut request = kosh
                    .client
                    .request(method.to_uppercase().parse().unwrap(), url)
                    .header("auth-token", token);
                if method == "post" {
                    request = request.json(&body);
                }
                async move { read(request.send().await.expect("request")).await }
            };
            let base_query: Vec<(String, String)> = base
                .query
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            for payload in PAYLOADS {
                let mut attempts: Vec<Attempt> = Vec::new();
                for name in &query_names {
                    let mut query: Vec<(String, String)> = base_query
                        .iter()
                        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
                        .cloned()
                        .collect();
                    query.push((name.clone(), payload.to_string()));
                    attempts.push((
                        format!("query {name}"),
                        query,
                        base.body.clone(),
                        "PT".into(),
                    ));
                }
                for (target, array) in &body_targets {
                    let mut body = base.body.clone();
                    let value = if *array {
                        json!([payload])
                    } else {
                        json!(payload)
                    };
                    if target.iter().any(|k| k.parse::<usize>().is_ok()) {
                        // An explicit path into arrays (MDMS): walk it.
                        let mut at = &mut body;
                        for key in &target[..target.len() - 1] {
                            at = match key.parse::<usize>() {
                                Ok(i) => &mut at[i],
                                Err(_) => &mut at[key.as_str()],
                            };
                        }
                        at[target[target.len() - 1].as_str()] = value;
                    } else {
                        set_path(&mut body, target, value);
                    }
                    attempts.push((
                        format!("body {}", target.join(".")),
                        base_query.clone(),
                        body,
                        "PT".into(),
                    ));
                }
                for name in &path_names {
                    attempts.push((
                        format!("path {name}"),
                        base_query.clone(),
                        base.body.clone(),
                        payload.to_string(),
                    ));
                }
                let answers = futures::future::join_all(
                    attempts
                        .iter()
                        .map(|(_, query, body, module)| send(query.clone(), body.clone(), module)),
                )
                .await;
                for ((what, _, _, _), (status, body)) in attempts.iter().zip(answers) {
                    requests += 1;
                    statuses.insert(status.as_u16());
                    let context = format!("{method} {path} {what} = {payload}");
                    assert!(!status.is_server_error(), "{context}: {status} {body}");
                    if status.is_success() {
                        if !base.public {
                            assert_refused_or_empty(status, &body, &jalandhar, &context);
                        }
                    } else {
                        assert!(
                            body["Errors"][0]["code"].is_string() || body["error"].is_string(),
                            "{context}: a refusal in DIGIT's format: {status} {body}"
                        );
                    }
                }
            }
        }
    }
    assert!(routes >= 14, "search routes attacked: {routes}");
    assert!(requests > 300, "requests sent: {requests}");
    assert_eq!(table_names(&kosh).await, tables, "no table dropped or made");
    assert_eq!(counts(&kosh).await, before, "no rows added or removed");
    // The seeded rows are still found by honest searches.
    let (status, body) = kosh
        .post(
            &format!(
                "/collection-services/payments/_search?tenantId={JALANDHAR}&ids={}",
                jalandhar.payment_id
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Payments"].as_array().unwrap().len(), 1, "{body}");
    eprintln!("sql injection: {routes} routes, {requests} requests, statuses {statuses:?}");
    kosh.stop().await;
}
