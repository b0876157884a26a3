//! Money at the limits, over HTTP, on SQLite and on PostgreSQL. Amounts at and around `i64`'s
//! limits, negative, zero, at and just past kosh's ceilings, fractions of a paisa and text no
//! amount can be go through the counter (`payments/_create`), the payment gateway
//! (`transaction/v1/_create`) and BBPS postings (`/bbps/v1/payments`): never a 5xx, never a
//! wrapped sum, and on every refusal nothing written — the same rows in every table, the
//! same demand collections and bill statuses, nothing found by payment or transaction
//! search. DIGIT's routes refuse with DIGIT's 400 error body, BBPS with its amount code;
//! BBPS keeps its refusal (one `bbps_txn` row, FAILED, so a repeat and a status query
//! answer it) and writes nothing else.

use std::collections::BTreeMap;

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_platform::money::{Limits, Paise};
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    the_reported_wrapping_payments_are_refused,
    amounts_around_the_limits_are_refused_on_every_channel,
    random_wrapping_splits_are_refused_on_every_channel,
    the_ceiling_is_accepted_and_one_rupee_more_is_not,
);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";
const UNIT: &str = "bbps-hdfc";
const UNIT_PASSWORD: &str = "Bbps@2026x";
const PT_BILLER: &str = "PBMT00000PUN01";
const WS_BILLER: &str = "PBWS00000PUN01";
const CALLBACK: &str = "https://ui.example/citizen/payment/success";

/// The default ceilings, in paise (the tests run with the default settings).
fn ceiling() -> i64 {
    Limits::default().max_amount.get()
}

fn total_ceiling() -> i64 {
    Limits::default().max_total.get()
}

/// Paise as signed rupee text with two places ("-0.16", "92233720368547758.07").
fn rupees(paise: i64) -> String {
    Paise::new(paise).rupees()
}

struct Env {
    kosh: Kosh,
    citizen: String,
    citizen_uuid: String,
    unit: String,
}

/// kosh with the SANDBOX gateway and reconciliation off, the clock at [`NOW`], a citizen who
/// pays online, and a BBPS operating unit.
async fn start(backend: Backend) -> Env {
    let kosh = Kosh::start_with(backend, |s| s.pg_reconcile_every_seconds = 0).await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
            "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    kosh.create_user(
        json!({"userName": UNIT, "name": "HDFC BBPS unit", "type": "SYSTEM", "active": true,
        "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    let token = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
    let unit = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    Env {
        kosh,
        citizen: token,
        citizen_uuid: citizen["uuid"].as_str().expect("uuid").to_string(),
        unit,
    }
}

impl Env {
    /// A demand of `service` for `code` (one head of `rupees`) and its bill, fetched now.
    async fn bill(&self, service: &str, code: &str, rupees: i64) -> Value {
        let head = if service == "PT" {
            "PT_TAX"
        } else {
            "WS_CHARGE"
        };
        let (status, body) = self
            .kosh
            .post(
                "/billing-service/demand/_create",
                json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code,
                "consumerType": "BUILTUP", "businessService": service, "payer": {"uuid": self.citizen_uuid},
                "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
                "demandDetails": [{"taxHeadMasterCode": head, "taxAmount": rupees, "collectionAmount": 0}]}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self
            .kosh
            .post(
                &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService={service}&consumerCode={code}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["Bill"][0].clone()
    }

    async fn counter(&self, body: Value) -> (StatusCode, Value) {
        self.kosh
            .post("/collection-services/payments/_create", body)
            .await
    }

    async fn online(&self, body: Value) -> (StatusCode, Value) {
        self.kosh
            .post_as(&self.citizen, "/pg-service/transaction/v1/_create", body)
            .await
    }

    async fn bbps(&self, body: Value) -> (StatusCode, Value) {
        self.kosh
            .post_as(&self.unit, "/bbps/v1/payments", body)
            .await
    }

    /// The payer's PT bills as BBPS fetches them by mobile number.
    async fn bbps_bills(&self) -> Vec<Value> {
        let (status, body) = self
            .kosh
            .post_as(
                &self.unit,
                "/bbps/v1/bills/fetch",
                json!({"billerId": PT_BILLER, "customerParams": by_mobile()}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["bills"].as_array().expect("bills").clone()
    }

    async fn payments_of(&self, bill: &Value) -> Vec<Value> {
        let (status, body) = self
            .kosh
            .post(
                &format!(
                    "/collection-services/payments/_search?tenantId={TENANT}&billIds={}",
                    id(bill)
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["Payments"].as_array().expect("Payments").clone()
    }

    async fn transactions_of(&self, bill: &Value) -> Vec<Value> {
        let (status, body) = self
            .kosh
            .post_as(
                &self.citizen,
                &format!(
                    "/pg-service/transaction/v1/_search?tenantId={TENANT}&billId={}",
                    id(bill)
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["Transaction"].as_array().expect("Transaction").clone()
    }

    async fn bill_status(&self, bill: &Value) -> String {
        let (status, body) = self
            .kosh
            .post(
                &format!(
                    "/billing-service/bill/v2/_search?tenantId={TENANT}&billId={}",
                    id(bill)
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["Bill"][0]["status"]
            .as_str()
            .expect("status")
            .to_string()
    }

    /// Σ collectionAmount of the bill's demand, as demand search answers it (rupees).
    async fn collected(&self, bill: &Value) -> f64 {
        let (status, body) = self
            .kosh
            .post(
                &format!(
                    "/billing-service/demand/_search?tenantId={TENANT}&businessService={}&consumerCode={}",
                    bill["businessService"].as_str().expect("service"),
                    bill["consumerCode"].as_str().expect("code")
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["Demands"]
            .as_array()
            .expect("Demands")
            .iter()
            .flat_map(|d| d["demandDetails"].as_array().expect("details").clone())
            .map(|d| d["collectionAmount"].as_f64().expect("collectionAmount"))
            .sum()
    }

    /// What DIGIT's clients see of `bills`: no payment, no transaction, ACTIVE, nothing
    /// collected.
    async fn assert_untouched(&self, bills: &[&Value], what: &str) {
        for bill in bills {
            assert_eq!(self.payments_of(bill).await, Vec::<Value>::new(), "{what}");
            assert_eq!(
                self.transactions_of(bill).await,
                Vec::<Value>::new(),
                "{what}"
            );
            assert_eq!(self.bill_status(bill).await, "ACTIVE", "{what}");
            assert_eq!(self.collected(bill).await, 0.0, "{what}");
        }
    }

    async fn books(&self) -> Books {
        books(&self.kosh).await
    }
}

fn id(bill: &Value) -> String {
    bill["id"].as_str().expect("bill id").to_string()
}

fn by_mobile() -> Value {
    json!([{"name": "City", "value": "Amritsar"}, {"name": "Registered Mobile Number", "value": MOBILE}])
}

/// A CASH payment at the counter: `total` over `(bill, amount)` details.
fn cash(total: Value, details: &[(&Value, Value)]) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": TENANT, "totalAmountPaid": total, "paymentMode": "CASH", "paidBy": "Asha",
        "payerName": "Asha", "mobileNumber": MOBILE,
        "paymentDetails": details.iter().map(|(b, a)| json!({"billId": id(b), "totalAmountPaid": a,
            "businessService": b["businessService"]})).collect::<Vec<_>>()}})
}

/// A pg `_create` for the first bill, `amount` over `(bill, amountPaid)` parts, SANDBOX.
fn txn(amount: Value, parts: &[(&Value, Value)]) -> Value {
    let first = parts[0].0;
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": TENANT, "txnAmount": amount, "module": first["businessService"],
        "billId": id(first), "consumerCode": first["consumerCode"],
        "productInfo": "Property Tax Payment", "gateway": "SANDBOX",
        "taxAndPayments": parts.iter().map(|(b, a)| json!({"billId": id(b), "amountPaid": a})).collect::<Vec<_>>(),
        "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
        "callbackUrl": CALLBACK}})
}

/// A BBPS posting of `amount` paise, split over `(billerBillId, amount)` shares when given.
fn posting(
    reference: &str,
    biller: &str,
    params: Value,
    amount: Value,
    shares: &[(Value, Value)],
) -> Value {
    let mut body = json!({"RequestInfo": {"apiId": "bbps"}, "billerId": biller,
        "txnReferenceId": reference, "refId": "FETCH1", "paymentRefId": "UPI0000123456",
        "customerParams": params, "customerMobile": MOBILE, "amount": amount,
        "paymentMode": "UPI", "paymentChannel": "MOB", "agentId": "AU01AU02INT529468291",
        "txnTimestamp": "2019-06-15T10:00:00+05:30"});
    if !shares.is_empty() {
        body["bills"] = shares
            .iter()
            .map(|(number, a)| json!({"billerBillId": number, "amount": a}))
            .collect();
    }
    body
}

/// Every table's row count, the demands' collections, the bills' statuses and the id
/// counters: what any write would change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Books(BTreeMap<String, String>);

/// Tables that change without any payment (sign-in, throttling).
const NOT_BOOKS: &[&str] = &["eg_user_token", "eg_login_failure"];

/// Tables a recorded BBPS refusal may write (the refusal is kept, so a repeat gets it).
const BBPS_RECORD: &[&str] = &[
    "bbps_txn",
    "bbps_txn_bill",
    "kosh_audit_chain",
    "kosh_audit_head",
    "kosh_outbox",
    "id_counter",
];

async fn books(kosh: &Kosh) -> Books {
    let pool = kosh.state().db.pool();
    let list = match kosh.backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'"
        }
        Backend::Postgres => {
            "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '_sqlx%'"
        }
    };
    let tables: Vec<String> = sqlx::query_scalar(list)
        .fetch_all(pool)
        .await
        .expect("tables");
    let mut out = BTreeMap::new();
    for table in tables
        .into_iter()
        .filter(|t| !NOT_BOOKS.contains(&t.as_str()))
    {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .expect("count");
        out.insert(table, count.to_string());
    }
    let collected: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(collection_amount), 0) AS BIGINT) FROM egbs_demand_detail",
    )
    .fetch_one(pool)
    .await
    .expect("collected");
    out.insert("Σ collection_amount".into(), collected.to_string());
    let bills: Vec<(String, String)> =
        sqlx::query_as("SELECT id, status FROM egbs_bill ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("bills");
    out.insert("egbs_bill statuses".into(), format!("{bills:?}"));
    let counters: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT tenant_id, seq_name, last_value FROM id_counter ORDER BY tenant_id, seq_name",
    )
    .fetch_all(pool)
    .await
    .expect("id counters");
    out.insert("id_counter values".into(), format!("{counters:?}"));
    Books(out)
}

impl Books {
    /// These books after `n` BBPS postings refused before any bill is read: one FAILED
    /// `bbps_txn` row each, and nothing else — every other table, the collections, the
    /// bills' statuses and the id counters as they were.
    fn with_refusals(&self, n: usize) -> Books {
        let mut books = self.clone();
        let rows = books.0.get_mut("bbps_txn").expect("bbps_txn counted");
        *rows = (rows.parse::<usize>().expect("a count") + n).to_string();
        books
    }

    /// The books without what a recorded BBPS refusal writes.
    fn money(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter(|(k, _)| {
                !BBPS_RECORD.contains(&k.as_str()) && k.as_str() != "id_counter values"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A refusal in DIGIT's error body: HTTP 400, `ResponseInfo`, and errors with a code and a
/// message each.
fn assert_digit_refusal(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{what}: expected DIGIT's 400, got {body}"
    );
    assert!(body.get("ResponseInfo").is_some(), "{what}: {body}");
    let errors = body["Errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no Errors in {body}"));
    assert!(!errors.is_empty(), "{what}: {body}");
    for e in errors {
        assert!(
            e["code"].as_str().is_some_and(|c| !c.is_empty()) && e["message"].is_string(),
            "{what}: {body}"
        );
    }
}

fn codes(body: &Value) -> Vec<String> {
    body["Errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A BBPS refusal: the amount code (BPR011), recorded (FAILED, no receipt), or a 400 for a
/// request that is not well-formed. `true` when it was a BBPS answer (so recorded).
fn assert_bbps_refusal(status: StatusCode, body: &Value, what: &str) -> bool {
    assert!(
        !status.is_server_error(),
        "{what}: {status} is a server error: {body}"
    );
    if status == StatusCode::BAD_REQUEST {
        assert_eq!(codes(body), vec!["BBPS_INVALID_REQUEST"], "{what}: {body}");
        return false;
    }
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    assert_eq!(body["reason"]["responseCode"], "200", "{what}: {body}");
    assert_eq!(
        body["reason"]["complianceRespCd"], "BPR011",
        "{what}: {body}"
    );
    assert_eq!(body["status"], "FAILED", "{what}: {body}");
    assert_eq!(body["transaction"]["receipts"], json!([]), "{what}: {body}");
    true
}

/// Amounts as DIGIT's routes take them (rupees, as JSON numbers or strings): at and around
/// `i64`'s limits, negative, zero, the ceiling and just past it, fractions of a paisa, and
/// text that is no amount. None can pay a ₹1000 bill with no advance.
fn rupee_cases() -> Vec<Value> {
    let c = ceiling();
    vec![
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(rupees(i64::MAX)),
        json!(rupees(i64::MAX / 100)),
        json!(rupees(i64::MIN + 1)),
        json!(i64::MAX / 100),
        json!("-0.01"),
        json!(-0.01),
        json!("-0.16"),
        json!(-1),
        json!(0),
        json!("0.00"),
        json!(rupees(c)),
        json!(c / 100),
        json!(rupees(c + 1)),
        json!(c / 100 + 1),
        json!("92233720368547758"),
        json!("9223372036854775807"),
        json!("1e30"),
        json!(1e30),
        json!(-1e30),
        json!("0.001"),
        json!(0.001),
        json!("1000.005"),
        json!("abc"),
    ]
}

/// Amounts as BBPS takes them (paise), each with whether it is within kosh's range (then
/// refused by the bill's own rules, which keep the refusal) or not (refused before any
/// bill is read; only the refusal is kept).
fn paise_cases() -> Vec<(Value, bool)> {
    let c = ceiling();
    vec![
        (json!(i64::MAX), false),
        (json!(i64::MIN), false),
        (json!(u64::MAX), false),
        (json!(i64::MAX / 100), false),
        (json!(-1), false),
        (json!("-1"), false),
        (json!("-9223372036854775808"), false),
        (json!(0), true),
        (json!(c), true),
        (json!(c + 1), false),
        (json!(c.to_string()), true),
        (json!((c + 1).to_string()), false),
        (json!("92233720368547758"), false),
        (json!("9223372036854775807"), false),
        (json!("9223372036854775808"), false),
        (json!("92233720368547758080"), false),
        (json!(1e30), false),
        (json!(-1e30), false),
        (json!("1e30"), false),
        (json!(0.5), false),
        (json!("12.34"), false),
        (json!("abc"), false),
    ]
}

async fn the_reported_wrapping_payments_are_refused(backend: Backend) {
    let env = start(backend).await;

    // pg: txnAmount 99.84 over parts whose i64 sum of paise wraps to 99.84 rupees.
    let p1 = env.bill("PT", "PT-P1", 1000).await;
    let p2 = env.bill("PT", "PT-P2", 500).await;
    let p3 = env.bill("PT", "PT-P3", 100).await;
    let before = env.books().await;
    let (status, body) = env
        .online(txn(
            json!("99.84"),
            &[
                (&p1, json!("92233720368547758")),
                (&p2, json!("92233720368547758")),
                (&p3, json!("100")),
            ],
        ))
        .await;
    assert_digit_refusal(status, &body, "pg wrap");
    assert!(
        codes(&body).iter().all(|c| c == "INVALID_TXN_AMOUNT"),
        "{body}"
    );
    assert_eq!(env.books().await, before, "pg wrap wrote something");
    env.assert_untouched(&[&p1, &p2, &p3], "pg wrap").await;

    // Counter: CASH -0.16 over two advance-allowed bills paid 92233720368547758 each.
    let w1 = env.bill("WS", "WS-C1", 250).await;
    let w2 = env.bill("WS", "WS-C2", 250).await;
    let before = env.books().await;
    let (status, body) = env
        .counter(cash(
            json!("-0.16"),
            &[
                (&w1, json!("92233720368547758")),
                (&w2, json!("92233720368547758")),
            ],
        ))
        .await;
    assert_digit_refusal(status, &body, "CASH -0.16");
    let found = codes(&body);
    assert!(
        found.contains(&"INVALID_PAYMENT_AMOUNT".to_string())
            && found.contains(&"INVALID_PAYMENTDETAIL".to_string()),
        "{body}"
    );
    // The plain negative CASH payment too, on one bill.
    let (status, body) = env
        .counter(cash(json!("-0.16"), &[(&w1, json!("-0.16"))]))
        .await;
    assert_digit_refusal(status, &body, "CASH -0.16 on one bill");
    assert!(
        codes(&body).contains(&"INVALID_PAYMENT_AMOUNT".to_string()),
        "{body}"
    );
    assert_eq!(env.books().await, before, "CASH -0.16 wrote something");
    env.assert_untouched(&[&w1, &w2], "CASH -0.16").await;

    // BBPS: 9984 paise over a split whose i64 sum wraps to 9984, as reported (the shares
    // as written) and in paise that wrap exactly.
    let fetched = env.bbps_bills().await;
    assert!(fetched.len() >= 3, "{fetched:?}");
    let numbers: Vec<Value> = fetched[..3]
        .iter()
        .map(|b| b["billerBillId"].clone())
        .collect();
    let before = env.books().await;
    for (i, split) in [
        [
            json!("92233720368547758"),
            json!("92233720368547758"),
            json!("100"),
        ],
        [
            json!("9223372036854775800"),
            json!("9223372036854775800"),
            json!(10000),
        ],
    ]
    .into_iter()
    .enumerate()
    {
        let reference = format!("AU01KOSHWRAP{i:04}");
        let shares: Vec<(Value, Value)> = numbers.iter().cloned().zip(split).collect();
        let (status, body) = env
            .bbps(posting(
                &reference,
                PT_BILLER,
                by_mobile(),
                json!(9984),
                &shares,
            ))
            .await;
        assert!(assert_bbps_refusal(status, &body, "BBPS wrap"));
        let (status, answer) = env
            .kosh
            .post_as(
                &env.unit,
                "/bbps/v1/payments/status",
                json!({"txnReferenceId": reference}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            answer["status"], "FAILED",
            "the refusal is recorded: {answer}"
        );
        assert_eq!(answer["reason"]["complianceRespCd"], "BPR011", "{answer}");
    }
    assert_eq!(
        env.books().await,
        before.with_refusals(2),
        "BBPS wrap wrote more than its two refusals"
    );
    env.kosh.stop().await;
}

async fn amounts_around_the_limits_are_refused_on_every_channel(backend: Backend) {
    let env = start(backend).await;
    let counter_bill = env.bill("PT", "PT-C1", 1000).await;
    let online_bill = env.bill("PT", "PT-O1", 1000).await;
    let bbps_code = "PT-B1";
    env.bill("PT", bbps_code, 1000).await;
    let bbps_params =
        json!([{"name": "City", "value": "Amritsar"}, {"name": "Property ID", "value": bbps_code}]);
    let before = env.books().await;

    for (i, amount) in rupee_cases().into_iter().enumerate() {
        // The counter: the amount as the payment's total and its one detail, and as the
        // detail under a valid total.
        for body in [
            cash(amount.clone(), &[(&counter_bill, amount.clone())]),
            cash(json!(1000), &[(&counter_bill, amount.clone())]),
            cash(amount.clone(), &[(&counter_bill, json!(1000))]),
        ] {
            let (status, answer) = env.counter(body).await;
            assert_digit_refusal(status, &answer, &format!("counter {amount}"));
        }
        // The gateway: as txnAmount and amountPaid, and each under a valid other.
        for body in [
            txn(amount.clone(), &[(&online_bill, amount.clone())]),
            txn(json!(1000), &[(&online_bill, amount.clone())]),
            txn(amount.clone(), &[(&online_bill, json!(1000))]),
        ] {
            let (status, answer) = env.online(body).await;
            assert_digit_refusal(status, &answer, &format!("pg {amount}"));
        }
        assert_eq!(
            env.books().await,
            before,
            "case {i} ({amount}) wrote something"
        );
    }
    // Each part within the ceiling, the sum past the total ceiling (bills need not exist:
    // the amounts are refused first).
    let parts: Vec<Value> = (0..11)
        .map(|i| json!({"id": format!("no-such-bill-{i}"), "businessService": "PT", "consumerCode": "X"}))
        .collect();
    let each = json!(ceiling() / 100);
    let all: Vec<(&Value, Value)> = parts.iter().map(|b| (b, each.clone())).collect();
    let (status, answer) = env
        .online(txn(json!(total_ceiling() / 100 + ceiling() / 100), &all))
        .await;
    assert_digit_refusal(status, &answer, "pg sum past the total ceiling");
    let (status, answer) = env.counter(cash(json!(11 * (ceiling() / 100)), &all)).await;
    assert_digit_refusal(status, &answer, "counter sum past the total ceiling");
    assert_eq!(codes(&answer), vec!["INVALID_PAYMENT_AMOUNT"], "{answer}");
    assert_eq!(
        env.books().await,
        before,
        "sums past the ceiling wrote something"
    );
    env.assert_untouched(&[&counter_bill, &online_bill], "the sweep")
        .await;

    // BBPS: the amount alone, and as one of two shares.
    let numbers: Vec<Value> = env
        .bbps_bills()
        .await
        .iter()
        .map(|b| b["billerBillId"].clone())
        .collect();
    let mut books = env.books().await;
    for (i, (amount, in_range)) in paise_cases().into_iter().enumerate() {
        let reference = format!("AU01KOSHLIM{i:05}");
        let (status, answer) = env
            .bbps(posting(
                &reference,
                PT_BILLER,
                bbps_params.clone(),
                amount.clone(),
                &[],
            ))
            .await;
        let mut recorded = usize::from(assert_bbps_refusal(
            status,
            &answer,
            &format!("BBPS {amount}"),
        ));
        let (status, answer) = env
            .bbps(posting(
                &format!("{reference}S"),
                PT_BILLER,
                by_mobile(),
                json!(100000),
                &[
                    (numbers[0].clone(), amount.clone()),
                    (numbers[1].clone(), json!(100000)),
                ],
            ))
            .await;
        recorded += usize::from(assert_bbps_refusal(
            status,
            &answer,
            &format!("BBPS share {amount}"),
        ));
        let now = env.books().await;
        if in_range {
            // Within range, the bill's own rules refuse it and the refusal is kept; no money
            // moves.
            assert_eq!(now.money(), books.money(), "BBPS {amount} moved money");
            books = now;
        } else {
            // Refused before any bill is read: the refusals recorded, nothing else.
            assert_eq!(
                now,
                books.with_refusals(recorded),
                "BBPS {amount} wrote more than its refusals"
            );
            books = now;
        }
    }
    // A control: the bills' own amounts go through on each channel, exactly, and the books
    // see it.
    let (status, paid) = env
        .counter(cash(json!(1000), &[(&counter_bill, json!(1000))]))
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["Payments"][0]["totalAmountPaid"], json!(1000));
    let (status, created) = env
        .online(txn(json!("1000.00"), &[(&online_bill, json!(1000))]))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["Transaction"]["txnAmount"], "1000.00");
    let (status, posted) = env
        .bbps(posting(
            "AU01KOSHLIMOK",
            PT_BILLER,
            bbps_params,
            json!(100000),
            &[],
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_eq!(posted["status"], "SUCCESS", "{posted}");
    assert_eq!(posted["transaction"]["amount"], 100000, "{posted}");
    let after = env.books().await;
    for table in [
        "egcl_payment",
        "egcl_paymentdetail",
        "eg_pg_transactions",
        "bbps_txn",
    ] {
        assert_ne!(after.0.get(table), books.0.get(table), "{table} counted");
    }
    assert_ne!(after, books);
    env.kosh.stop().await;
}

/// A part that a wrapping sum would make whole: outside `0..=total`, from the ends of i64,
/// around the ceiling, or anywhere.
fn adversarial(rng: &mut impl Rng, total: i64) -> i64 {
    let c = ceiling();
    let a = match rng.random_range(0..6) {
        0 => rng.random::<i64>(),
        1 => i64::MAX - rng.random_range(0..1_000_000),
        2 => i64::MIN + rng.random_range(0..1_000_000),
        3 => c + rng.random_range(-1_000..1_000),
        4 => -rng.random_range(1..1_000_000),
        _ => total + rng.random_range(1..c),
    };
    if (0..=total).contains(&a) { -a - 1 } else { a }
}

/// Paise as DIGIT's routes may write them: rupee text, or a JSON number when whole.
fn as_rupees(rng: &mut impl Rng, paise: i64) -> Value {
    if paise % 100 == 0 && rng.random_bool(0.5) {
        json!(paise / 100)
    } else {
        json!(rupees(paise))
    }
}

/// Paise as BBPS may write them: a JSON number or a string of digits (with a sign).
fn as_paise(rng: &mut impl Rng, paise: i64) -> Value {
    if rng.random_bool(0.5) {
        json!(paise)
    } else {
        json!(paise.to_string())
    }
}

async fn random_wrapping_splits_are_refused_on_every_channel(backend: Backend) {
    let env = start(backend).await;
    let c1 = env.bill("PT", "PT-C1", 1000).await;
    let c2 = env.bill("PT", "PT-C2", 500).await;
    let o1 = env.bill("PT", "PT-O1", 1000).await;
    let o2 = env.bill("PT", "PT-O2", 500).await;
    let numbers: Vec<Value> = env
        .bbps_bills()
        .await
        .iter()
        .map(|b| b["billerBillId"].clone())
        .collect();
    let total: i64 = 1500_00;
    let before = env.books().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b6f7368);
    for i in 0..24 {
        // a + b (+ c) wraps to exactly the total, so only checked arithmetic sees it.
        let a = adversarial(&mut rng, total);
        let three = rng.random_bool(0.3);
        let c = if three {
            adversarial(&mut rng, total)
        } else {
            0
        };
        let b = total.wrapping_sub(a).wrapping_sub(c);
        let what = format!("case {i}: {a} + {b} + {c} wraps to {total}");

        let mut details = vec![(&c1, as_rupees(&mut rng, a)), (&c2, as_rupees(&mut rng, b))];
        if three {
            details.push((&o1, as_rupees(&mut rng, c)));
        }
        let (status, answer) = env.counter(cash(json!(total / 100), &details)).await;
        assert_digit_refusal(status, &answer, &format!("counter {what}"));

        let mut parts = vec![(&o1, as_rupees(&mut rng, a)), (&o2, as_rupees(&mut rng, b))];
        if three {
            parts.push((&c1, as_rupees(&mut rng, c)));
        }
        let (status, answer) = env.online(txn(json!(total / 100), &parts)).await;
        assert_digit_refusal(status, &answer, &format!("pg {what}"));

        let mut shares = vec![
            (numbers[0].clone(), as_paise(&mut rng, a)),
            (numbers[1].clone(), as_paise(&mut rng, b)),
        ];
        if three {
            shares.push((numbers[2].clone(), as_paise(&mut rng, c)));
        }
        let (status, answer) = env
            .bbps(posting(
                &format!("AU01KOSHRND{i:05}"),
                PT_BILLER,
                by_mobile(),
                json!(total),
                &shares,
            ))
            .await;
        assert!(assert_bbps_refusal(
            status,
            &answer,
            &format!("BBPS {what}")
        ));

        assert_eq!(
            env.books().await,
            before.with_refusals(i + 1),
            "{what} wrote more than the BBPS refusals"
        );
    }
    env.assert_untouched(&[&c1, &c2, &o1, &o2], "random splits")
        .await;
    env.kosh.stop().await;
}

async fn the_ceiling_is_accepted_and_one_rupee_more_is_not(backend: Backend) {
    let env = start(backend).await;
    let c = ceiling() / 100;
    // WS takes advance, so a payment of the whole ceiling on a small bill is accepted,
    // exactly; a rupee more is refused with nothing written.
    let at = env.bill("WS", "WS-AT", 250).await;
    let over = env.bill("WS", "WS-OVER", 250).await;
    let before = env.books().await;
    let (status, body) = env
        .counter(cash(json!(c + 1), &[(&over, json!(c + 1))]))
        .await;
    assert_digit_refusal(status, &body, "counter ceiling + ₹1");
    assert_eq!(codes(&body), vec!["INVALID_PAYMENTDETAIL"], "{body}");
    assert!(
        body["Errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("above the largest amount kosh accepts"),
        "{body}"
    );
    let (status, body) = env
        .online(txn(
            json!(rupees(ceiling() + 100)),
            &[(&over, json!(c + 1))],
        ))
        .await;
    assert_digit_refusal(status, &body, "pg ceiling + ₹1");
    assert_eq!(codes(&body), vec!["INVALID_TXN_AMOUNT"], "{body}");
    let (status, body) = env
        .bbps(posting(
            "AU01KOSHCEILOVER",
            WS_BILLER,
            json!([{"name": "City", "value": "Amritsar"}, {"name": "Connection Number", "value": "WS-OVER"}]),
            json!(ceiling() + 100),
            &[],
        ))
        .await;
    assert!(assert_bbps_refusal(status, &body, "BBPS ceiling + ₹1"));
    assert_eq!(
        env.books().await,
        before.with_refusals(1),
        "ceiling + ₹1 wrote more than the BBPS refusal"
    );
    env.assert_untouched(&[&over], "ceiling + ₹1").await;

    let (status, body) = env.counter(cash(json!(c), &[(&at, json!(c))])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payment = &body["Payments"][0];
    assert_eq!(payment["totalAmountPaid"], json!(c), "{body}");
    assert_eq!(
        payment["paymentDetails"][0]["totalAmountPaid"],
        json!(c),
        "{body}"
    );
    assert_eq!(env.payments_of(&at).await.len(), 1);
    // ₹250 of it settles the bill; the rest is the consumer code's advance, exactly.
    let advance: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(tax_amount), 0) AS BIGINT) FROM egbs_demand_detail WHERE tax_head_code LIKE '%ADVANCE%'",
    )
    .fetch_one(env.kosh.state().db.pool())
    .await
    .expect("advance");
    assert_eq!(advance, -(ceiling() - 250_00));
    env.kosh.stop().await;
}

/// kosh refuses to start with ceilings it cannot honour.
#[tokio::test]
async fn bad_ceilings_stop_kosh_from_starting() {
    for (amount, total) in [
        (0, 10),
        (-5, 10),
        (1_000, 999),
        (1_000, i64::MAX / 100),
        (i64::MAX, i64::MAX),
    ] {
        let mut settings = kosh_server::cli::Settings::defaults();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        settings.data_dir = std::env::temp_dir().join("kosh-test-never-created");
        settings.max_amount_rupees = amount;
        settings.max_total_rupees = total;
        let error = match kosh_server::start(&settings).await {
            Ok(_) => panic!("kosh started with ceilings {amount} / {total}"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains("KOSH_MAX_AMOUNT_RUPEES / KOSH_MAX_TOTAL_RUPEES"),
            "{error}"
        );
    }
}
