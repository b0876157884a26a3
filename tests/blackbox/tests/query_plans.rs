//! Reads that never scan (issue 17 item 3), on SQLite and on PostgreSQL: kosh runs with its
//! statement log on, every SQL text the fetch-bill, payment, settlement and search paths run
//! is captured from that log, the tables are grown to 100,000 rows and more over the pb
//! cities and services, and each statement is EXPLAINed. A full scan of a table that grows,
//! or an index search whose only terms are the city (and the service, a status, ...), fails
//! the test with the statement and its plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_pg::sim::{GatewaySim, SimOutcome};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AnyConnection, ConnectOptions, Connection, Row};
use tracing_subscriber::Layer;
use tracing_subscriber::field::Visit;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

on_both_databases!(no_query_of_the_hot_paths_scans);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";
const UNIT: &str = "bbps-hdfc";
const UNIT_PASSWORD: &str = "Bbps@2026x";
const PT_BILLER: &str = "PBMT00000PUN01";
/// How many rows every table that grows with use is grown to, at least.
const ROWS: i64 = 100_000;

/// Tables that stay small whatever the traffic: counters and heads (one row per city and
/// series), job leases, one-off markers, and the test gateway's own book. A scan of one of
/// these is a few rows. Every other table of the schema is grown by this test.
const SMALL_TABLES: &[&str] = &[
    // One row per (city, number series): receipt, bill and transaction numbers.
    "id_counter",
    // One row per city: the head of its audit chain.
    "kosh_audit_head",
    // One row per background job.
    "kosh_job_lease",
    // One row per one-off data migration.
    "kosh_pii_state",
    // kosh's own SANDBOX gateway's payments, for trials and tests only.
    "pg_sandbox_payments",
    // sqlx's record of applied migrations.
    "_sqlx_migrations",
];

/// Statements known to read more than their key's rows, each with why it is not fixed yet:
/// (database, fragments the statement holds, why). The test fails when one of them no longer
/// scans, so that the list only shrinks.
const KNOWN_SCANS: &[(Backend, &[&str], &str)] = &[
    // The SQLite entries below: through sqlx's connection, SQLite 3.51.3 picks the index
    // with the most equality terms (the city, the service) or the one that gives the ORDER
    // BY, as it does with no statistics, although sqlite_stat1 (full ANALYZE, read back on
    // the same connection) rates the key's own index at 1-6 rows a value; the same SQLite
    // built from the same source, on the same file, through its C API, picks the selective
    // index for every one of them. Not understood yet: a shape that leaves no choice (a
    // key criterion's ORDER BY on `+column`, one query per criterion as fetch-bill does)
    // would settle them whatever the planner knows.
    (
        Backend::Sqlite,
        &[
            "FROM egcl_payment p JOIN egcl_paymentdetail d",
            "d.bill_id IN",
        ],
        "payments/_search by billIds: ordered on egcl_payment_date",
    ),
    (
        Backend::Sqlite,
        &[
            "FROM egcl_payment p JOIN egcl_paymentdetail d",
            "d.consumer_code IN",
        ],
        "payments/_search by consumerCodes: ordered on egcl_payment_date",
    ),
    (
        Backend::Sqlite,
        &[
            "FROM egbs_bill b WHERE",
            "b.user_id IN",
            "OR b.mobile_number =",
        ],
        "bill/_search by mobileNumber: on the bill's key prefix",
    ),
    (
        Backend::Sqlite,
        &["FROM egbs_demand WHERE (tenant_id = $1) AND payer IN"],
        "demand/_search and fetch-bill by payer: on (tenant_id, business_service)",
    ),
    (
        Backend::Sqlite,
        &[
            "FROM egbs_bill WHERE status = 'ACTIVE' AND business_service = $1",
            "mobile_number =",
        ],
        "fetch-bill by mobile number (bill/fetch.rs): on egbs_bill_one_active",
    ),
    (
        Backend::Sqlite,
        &[
            "FROM egbs_bill WHERE status = 'ACTIVE' AND business_service = $1",
            "user_id IN",
        ],
        "fetch-bill by payer (bill/fetch.rs): on egbs_bill_one_active",
    ),
    (
        Backend::Sqlite,
        &[
            "FROM eg_pg_transactions WHERE",
            "consumer_code = $2 AND txn_status = $3",
        ],
        "pg _search by consumerCode and txnStatus: on eg_pg_transactions_pending",
    ),
];

/// Index terms that narrow a search no further than a city: the city itself and the
/// qualifiers that most of its rows share (a service, a status, a live flag).
const CITY_WIDE_TERMS: &[&str] = &[
    "tenant_id",
    "bill_tenant_id",
    "business_service",
    "status",
    "txn_status",
    "payment_status",
    "instrument_status",
    "live",
    "user_type",
    "active",
    "channel",
];

const CITIES: &[&str] = &[
    "pb.amritsar",
    "pb.jalandhar",
    "pb.ludhiana",
    "pb.patiala",
    "pb.bathinda",
    "pb.mohali",
    "pb.phagwara",
];
const SERVICES: &[&str] = &["PT", "WS", "SW", "TL", "FIRENOC"];

// ---------------------------------------------------------------------------------------------
// Capturing the statements

/// Every distinct statement text seen while a path was named, with the paths that ran it.
#[derive(Default)]
struct Captured {
    path: Option<String>,
    statements: BTreeMap<String, BTreeSet<String>>,
}

fn captured() -> &'static Mutex<Captured> {
    static CAPTURED: OnceLock<Mutex<Captured>> = OnceLock::new();
    CAPTURED.get_or_init(Default::default)
}

/// A tracing layer that keeps the SQL text of sqlx's statement events (target
/// `sqlx::query`): the whole text is in `db.statement` (after two newlines), or, for a
/// statement of four words or fewer, in `summary`.
struct SqlCapture;

#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
}

impl Visit for StatementFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.statement = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "summary" => self.summary = format!("{value:?}").trim_matches('"').to_string(),
            "db.statement" if self.statement.is_empty() => {
                self.statement = format!("{value:?}").trim_matches('"').to_string()
            }
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for SqlCapture {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        let sql = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        let sql = sql.trim().to_string();
        let mut captured = captured().lock().unwrap();
        if let Some(path) = captured.path.clone() {
            captured.statements.entry(sql).or_default().insert(path);
        }
    }
}

fn install_capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let only_sql = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG);
        // kosh's own warnings still reach standard error, to say why a request failed.
        let warnings = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::WARN)
            .with_target("sqlx::query", tracing_subscriber::filter::LevelFilter::OFF);
        tracing_subscriber::registry()
            .with(SqlCapture.with_filter(only_sql))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(warnings),
            )
            .try_init()
            .expect("the test's subscriber is the first");
    });
}

/// Names the path whose statements are captured from now on (None: capture nothing).
fn on_path(path: Option<&str>) {
    captured().lock().unwrap().path = path.map(str::to_string);
}

/// The two runs of this test in one process (`cargo test`) take turns: the capture is global.
static ONE_AT_A_TIME: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(Default::default);

// ---------------------------------------------------------------------------------------------
// The test

async fn no_query_of_the_hot_paths_scans(backend: Backend) {
    let _turn = ONE_AT_A_TIME.lock().await;
    install_capture();
    {
        let mut c = captured().lock().unwrap();
        c.path = None;
        c.statements.clear();
    }
    let started = Instant::now();
    let sim = GatewaySim::start().await.expect("simulator");
    let gateways = sim.config();
    let kosh = Kosh::start_with(backend, |s| {
        s.log_sql = true;
        s.pg_gateways = Some(gateways);
        s.pg_reconcile_every_seconds = 0;
        // The test analyses the grown tables itself, once and in full, before it explains:
        // kosh's own sampled analysis running meanwhile would change plans under it.
        s.analyze_every_seconds = 0;
        // Every fetch reads the database: the copy kept in memory would hide its reads.
        s.bill_cache_seconds = 0;
    })
    .await;
    kosh.set_clock(NOW).await;
    let env = Env::new(kosh, sim).await;

    // Every table gets rows of every kind the paths write, then is grown from them.
    env.seed().await;
    let mut db = Explainer::connect(&env.kosh).await;
    let grown = db.grow_tables().await;
    db.analyze().await;
    // A connection opened after ANALYZE plans with its statistics, as kosh's do once they
    // reload them.
    let mut db = db.reopen(&env.kosh).await;
    let seeded = started.elapsed();

    env.run_paths().await;
    on_path(None);
    let statements = std::mem::take(&mut captured().lock().unwrap().statements);
    let paths: BTreeSet<&String> = statements.values().flatten().collect();
    for path in PATHS {
        assert!(
            paths.iter().any(|p| p.as_str() == *path),
            "no statement captured on path {path}: is the statement log on (KOSH_LOG_SQL)?"
        );
    }

    let mut offences = Vec::new();
    let mut explained = 0;
    for (sql, paths) in &statements {
        if !worth_explaining(sql) {
            continue;
        }
        explained += 1;
        let plan = db.explain(sql).await;
        let problems = db.problems(sql, &plan, &grown);
        let known = KNOWN_SCANS
            .iter()
            .find(|(on, fragments, _)| *on == backend && fragments.iter().all(|f| sql.contains(f)));
        if let Some((_, _, why)) = known {
            if problems.is_empty() {
                offences.push(format!(
                    "known scan ({why}) no longer scans: take it off KNOWN_SCANS\n  statement: {sql}\n  plan:\n    {}\n",
                    plan.join("\n    ")
                ));
            } else {
                eprintln!("known scan, not fixed yet ({why}): {}", problems.join("; "));
            }
            continue;
        }
        if !problems.is_empty() {
            offences.push(format!(
                "{}\n  paths: {}\n  statement: {sql}\n  plan:\n    {}\n",
                problems.join("; "),
                paths.iter().cloned().collect::<Vec<_>>().join(", "),
                plan.join("\n    ")
            ));
        }
    }
    eprintln!(
        "{backend:?}: grown {} tables in {:.1} s; {explained} statements of {} paths explained in {:.1} s in all",
        grown.len(),
        seeded.as_secs_f64(),
        paths.len(),
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    env.kosh.stop().await;
    assert!(
        offences.is_empty(),
        "{} statement(s) scan on {backend:?}:\n\n{}",
        offences.len(),
        offences.join("\n")
    );
}

/// Statements whose plan can read more than a key's rows: reads, updates, deletes and
/// inserts from a query. Plain inserts, transaction control and settings cannot.
fn worth_explaining(sql: &str) -> bool {
    let head = sql.trim_start().to_ascii_uppercase();
    if head.starts_with("SELECT") || head.starts_with("WITH") {
        return words(&head).iter().any(|w| w == "FROM");
    }
    if head.starts_with("UPDATE") || head.starts_with("DELETE") {
        return true;
    }
    head.starts_with("INSERT") && words(&head).iter().any(|w| w == "SELECT")
}

fn words(sql: &str) -> Vec<String> {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Driving the paths over HTTP

const PATHS: &[&str] = &[
    "fetch-bill: bill making",
    "fetch-bill: existing bill",
    "fetch-bill: several consumer codes",
    "fetch-bill: by mobile number",
    "bill/_search",
    "demand/_search",
    "payments/_create CASH",
    "payments/_search",
    "payments/_workflow CANCEL",
    "pg transaction _create",
    "pg transaction _update",
    "pg transaction _search",
    "bbps fetch",
    "bbps payment",
    "bbps status",
    "user _search",
];

struct Env {
    kosh: Kosh,
    sim: GatewaySim,
    citizen_uuid: String,
    citizen_token: String,
    unit_token: String,
}

impl Env {
    async fn new(kosh: Kosh, sim: GatewaySim) -> Env {
        let citizen = kosh
            .create_user(
                json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
                "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
                "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
            )
            .await;
        kosh.create_user(json!({"userName": UNIT, "name": "HDFC BBPS unit", "type": "SYSTEM",
            "active": true, "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
            "roles": [{"code": "BBPS", "tenantId": "pb"}]}))
            .await;
        let citizen_token = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
        let unit_token = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
        Env {
            citizen_uuid: citizen["uuid"].as_str().expect("uuid").to_string(),
            kosh,
            sim,
            citizen_token,
            unit_token,
        }
    }

    async fn ok(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.kosh.post_as(token, path, body).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::CREATED,
            "{path}: {status} {answer}"
        );
        answer
    }

    async fn demand(&self, service: &str, code: &str, rupees: i64) {
        let head = if service == "PT" {
            "PT_TAX"
        } else {
            "WS_CHARGE"
        };
        self.ok(
            &self.kosh.admin_token,
            "/billing-service/demand/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": [{
                "tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
                "businessService": service, "payer": {"uuid": self.citizen_uuid},
                "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO, "minimumAmountPayable": 0,
                "demandDetails": [{"taxHeadMasterCode": head, "taxAmount": rupees, "collectionAmount": 0}]}]}),
        )
        .await;
    }

    async fn fetch(&self, query: &str) -> Vec<Value> {
        let answer = self
            .ok(
                &self.kosh.admin_token,
                &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&{query}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        answer["Bill"].as_array().expect("bills").clone()
    }

    async fn fetch_one(&self, service: &str, code: &str) -> Value {
        let bills = self
            .fetch(&format!("businessService={service}&consumerCode={code}"))
            .await;
        bills.first().cloned().expect("a bill")
    }

    async fn pay_cash(&self, bill: &Value) -> Value {
        let answer = self
            .ok(
                &self.kosh.admin_token,
                "/collection-services/payments/_create",
                json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
                    "tenantId": TENANT, "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH",
                    "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
                    "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
                        "totalAmountPaid": bill["totalAmount"], "businessService": bill["businessService"]}]}}),
            )
            .await;
        answer["Payments"][0].clone()
    }

    async fn cancel(&self, payment: &Value) {
        self.ok(
            &self.kosh.admin_token,
            "/collection-services/payments/_workflow",
            json!({"RequestInfo": {}, "PaymentWorkflows": [{"paymentId": payment["id"],
                "action": "CANCEL", "tenantId": TENANT, "reason": "query plans"}]}),
        )
        .await;
    }

    /// An online payment of `bill` through the simulated gateway: created, paid, called back.
    async fn pay_online(&self, bill: &Value, labels: [Option<&str>; 2]) -> Value {
        on_path(labels[0]);
        let answer = self
            .ok(
                &self.citizen_token,
                "/pg-service/transaction/v1/_create",
                json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
                    "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
                    "billId": bill["id"], "consumerCode": bill["consumerCode"],
                    "productInfo": "Property Tax Payment", "gateway": "SANDBOX",
                    "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
                    "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
                    "callbackUrl": "https://ui.example/citizen/payment/success"}}),
            )
            .await;
        on_path(None);
        let txn = answer["Transaction"].clone();
        let callback = self
            .sim
            .pay(
                txn["redirectUrl"].as_str().expect("redirectUrl"),
                SimOutcome::Success,
            )
            .expect("the simulator takes the payment");
        let mut url =
            reqwest::Url::parse(&self.kosh.url("/pg-service/transaction/v1/_update")).unwrap();
        url.query_pairs_mut().extend_pairs(callback.params.iter());
        on_path(labels[1]);
        let response = self.kosh.client.get(url).send().await.expect("callback");
        let (status, body) = kosh_blackbox::read(response).await;
        on_path(None);
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["Transaction"][0]["txnStatus"], "SUCCESS", "{body}");
        txn
    }

    async fn bbps(&self, path: &str, body: Value) -> Value {
        self.ok(&self.unit_token, path, body).await
    }

    fn pt_params(code: &str) -> Value {
        json!([{"name": "City", "value": "Amritsar"}, {"name": "Property ID", "value": code}])
    }

    /// A BBPS fetch of `code` and a posting that pays it in full.
    async fn pay_bbps(&self, code: &str, txn: &str, labels: [Option<&str>; 3]) {
        on_path(labels[0]);
        let fetched = self
            .bbps(
                "/bbps/v1/bills/fetch",
                json!({"billerId": PT_BILLER, "refId": format!("F{txn}"), "customerParams": Self::pt_params(code)}),
            )
            .await;
        self.bbps(
            "/bbps/v1/bills/fetch",
            json!({"billerId": PT_BILLER, "refId": format!("M{txn}"), "customerParams":
                [{"name": "City", "value": "Amritsar"}, {"name": "Registered Mobile Number", "value": MOBILE}]}),
        )
        .await;
        let amount = fetched["bills"][0]["amount"].clone();
        on_path(labels[1]);
        let paid = self
            .bbps(
                "/bbps/v1/payments",
                json!({"RequestInfo": {"apiId": "bbps"}, "billerId": PT_BILLER, "txnReferenceId": txn,
                    "refId": format!("F{txn}"), "paymentRefId": format!("UPI{txn}"),
                    "customerParams": Self::pt_params(code), "customerMobile": MOBILE, "amount": amount,
                    "paymentMode": "UPI", "paymentChannel": "MOB", "agentId": "AU01AU02INT529468291",
                    "txnTimestamp": "2019-06-15T10:00:00+05:30"}),
            )
            .await;
        assert_eq!(paid["status"], "SUCCESS", "{paid}");
        on_path(labels[2]);
        let status = self
            .bbps("/bbps/v1/payments/status", json!({"txnReferenceId": txn}))
            .await;
        assert_eq!(status["status"], "SUCCESS", "{status}");
        on_path(None);
    }

    /// Rows of every kind in every table that grows: bills made, paid in cash, cancelled,
    /// paid online and through BBPS, an idempotent payment, a failed sign-in.
    async fn seed(&self) {
        for i in 1..=4 {
            self.demand("PT", &format!("PT-S-{i}"), 1000 + i).await;
            self.demand("WS", &format!("WS-S-{i}"), 300 + i).await;
        }
        let paid = self.fetch_one("PT", "PT-S-1").await;
        let payment = self.pay_cash(&paid).await;
        self.cancel(&payment).await;
        let again = self.fetch_one("PT", "PT-S-1").await;
        self.pay_cash(&again).await;
        let ws = self.fetch_one("WS", "WS-S-1").await;
        let response = self
            .kosh
            .client
            .post(self.kosh.url("/collection-services/payments/_create"))
            .header("Idempotency-Key", "query-plans-1")
            .json(&json!({"RequestInfo": {"apiId": "Rainmaker", "authToken": self.kosh.admin_token}, "Payment": {
                "tenantId": TENANT, "totalAmountPaid": ws["totalAmount"], "paymentMode": "CASH",
                "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
                "paymentDetails": [{"billId": ws["id"], "totalDue": ws["totalAmount"],
                    "totalAmountPaid": ws["totalAmount"], "businessService": "WS"}]}}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let online = self.fetch_one("PT", "PT-S-2").await;
        self.pay_online(&online, [None, None]).await;
        self.pay_bbps("PT-S-3", "AU019166KOSH00000001", [None, None, None])
            .await;
        self.fetch_one("PT", "PT-S-4").await;
        self.fetch_one("WS", "WS-S-2").await;
        let (status, _) = self.kosh.login(MOBILE, "Wrong@123", "pb", "CITIZEN").await;
        assert_ne!(status, StatusCode::OK);
    }

    /// Every path, once or more, each under its name.
    async fn run_paths(&self) {
        for i in 1..=6 {
            self.demand("PT", &format!("PT-M-{i}"), 2000 + i).await;
        }
        self.demand("WS", "WS-M-1", 500).await;

        on_path(Some("fetch-bill: bill making"));
        let made = self.fetch_one("PT", "PT-M-1").await;
        on_path(Some("fetch-bill: existing bill"));
        let existing = self.fetch_one("PT", "PT-M-1").await;
        assert_eq!(made["id"], existing["id"]);
        on_path(Some("fetch-bill: several consumer codes"));
        self.fetch("businessService=PT&consumerCode=PT-M-1,PT-M-2")
            .await;
        on_path(Some("fetch-bill: by mobile number"));
        self.fetch(&format!("businessService=WS&mobileNumber={MOBILE}"))
            .await;
        on_path(None);

        on_path(Some("bill/_search"));
        let bill_id = made["id"].as_str().unwrap();
        for query in [
            format!("billId={bill_id}"),
            "consumerCode=PT-M-1&service=PT".into(),
            format!("mobileNumber={MOBILE}"),
        ] {
            self.ok(
                &self.kosh.admin_token,
                &format!("/billing-service/bill/v2/_search?tenantId={TENANT}&{query}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        }
        on_path(Some("demand/_search"));
        for query in [
            "consumerCode=PT-M-1&businessService=PT".to_string(),
            format!("mobileNumber={MOBILE}"),
            "consumerCode=PT-M-2".into(),
        ] {
            self.ok(
                &self.kosh.admin_token,
                &format!("/billing-service/demand/_search?tenantId={TENANT}&{query}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        }
        on_path(None);

        on_path(Some("payments/_create CASH"));
        let payment = self.pay_cash(&made).await;
        on_path(Some("payments/_search"));
        let receipt = payment["paymentDetails"][0]["receiptNumber"]
            .as_str()
            .unwrap();
        let payment_id = payment["id"].as_str().unwrap();
        for query in [
            format!("receiptNumbers={receipt}"),
            "consumerCodes=PT-M-1".into(),
            format!("ids={payment_id}"),
            format!("billIds={bill_id}"),
            format!("mobileNumber={MOBILE}"),
            format!("fromDate={}&toDate={}", NOW - 3_600_000, NOW + 3_600_000),
            "transactionNumber=AU019166KOSH00000001".into(),
        ] {
            self.ok(
                &self.kosh.admin_token,
                &format!("/collection-services/payments/_search?tenantId={TENANT}&{query}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        }
        on_path(Some("payments/_workflow CANCEL"));
        self.cancel(&payment).await;
        on_path(None);

        let online = self.fetch_one("PT", "PT-M-3").await;
        let txn = self
            .pay_online(
                &online,
                [
                    Some("pg transaction _create"),
                    Some("pg transaction _update"),
                ],
            )
            .await;
        on_path(Some("pg transaction _search"));
        let txn_id = txn["txnId"].as_str().unwrap();
        for (token, query) in [
            (&self.kosh.admin_token, format!("txnId={txn_id}")),
            (&self.citizen_token, "consumerCode=PT-M-3".to_string()),
            (
                &self.kosh.admin_token,
                format!("tenantId={TENANT}&consumerCode=PT-M-3&txnStatus=SUCCESS"),
            ),
        ] {
            self.ok(
                token,
                &format!("/pg-service/transaction/v1/_search?{query}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        }
        on_path(None);

        self.pay_bbps(
            "PT-M-4",
            "AU019166KOSH00000002",
            [
                Some("bbps fetch"),
                Some("bbps payment"),
                Some("bbps status"),
            ],
        )
        .await;

        on_path(Some("user _search"));
        for body in [
            json!({"userName": MOBILE, "tenantId": "pb"}),
            json!({"mobileNumber": MOBILE, "tenantId": "pb"}),
            json!({"uuid": [self.citizen_uuid], "tenantId": "pb"}),
        ] {
            self.ok(&self.kosh.admin_token, "/user/_search", body).await;
        }
        on_path(None);
    }
}

// ---------------------------------------------------------------------------------------------
// Growing the tables and explaining the statements

struct Explainer {
    conn: AnyConnection,
    backend: Backend,
    /// Every table of the schema and its columns (name, whether an integer).
    tables: BTreeMap<String, Vec<(String, bool)>>,
    /// PostgreSQL: each index's table and first column.
    indexes: BTreeMap<String, (String, String)>,
    prepared: usize,
}

/// Foreign keys the copies must keep: (child, parent). A child's copies reach no further than
/// its parent's.
const PARENTS: &[(&str, &str)] = &[
    ("egbs_demand_detail", "egbs_demand"),
    ("egbs_bill_detail", "egbs_bill"),
    ("egbs_bill_account_detail", "egbs_bill_detail"),
    ("egcl_paymentdetail", "egcl_payment"),
    ("eg_pg_txn_bills", "eg_pg_transactions"),
    ("eg_pg_txn_payment", "eg_pg_transactions"),
    ("eg_pg_transactions_dump", "eg_pg_transactions"),
    ("bbps_txn_bill", "bbps_txn"),
    ("bbps_refund", "bbps_txn"),
];

/// Columns named like keys that are not one row's own: copied as they are.
const SHARED_VALUES: &[&str] = &[
    "user_tenant_id",
    "role_tenant_id",
    "biller_id",
    "agent_id",
    "created_by",
    "last_modified_by",
    "changed_by",
    "held_by",
    "settled_by",
];

/// Documents no query looks into (bills' snapshots, answers kept for repeats, audit copies):
/// the copies get `{}`, which keeps growing the tables quick.
const BULKY: &[&str] = &[
    "additional_details",
    "bill",
    "bills",
    "payment",
    "payload",
    "response_body",
    "tax_and_payments",
    "txn_request",
    "txn_response",
    "customer_params",
];

/// Columns that are keys or personal identifiers although not named `id` or `*_id`.
const KEY_VALUES: &[&str] = &[
    "consumer_code",
    "payer",
    "user_uuid",
    "receipt_number",
    "bill_number",
    "txn_reference_id",
    "uuid",
    "user_name",
    "mobile_number",
    "customer_mobile",
    "token_hash",
    "pair_hash",
    "holder_ref",
    "source_ref",
    "transaction_number",
    "row_key",
    "idem_key",
    "event_key",
    "msg_id",
    "payment_ref_id",
    "approval_ref_num",
    "receipt_numbers",
];

impl Explainer {
    async fn connect(kosh: &Kosh) -> Explainer {
        let url = kosh.settings().database_url();
        let options: sqlx::any::AnyConnectOptions = url.parse().expect("database url");
        // Its own statements are not the paths'.
        let conn = options
            .disable_statement_logging()
            .connect()
            .await
            .expect("connect");
        let mut explainer = Explainer {
            conn,
            backend: kosh.backend,
            tables: BTreeMap::new(),
            indexes: BTreeMap::new(),
            prepared: 0,
        };
        // The test's own copies need not survive a crash of the machine, and keep their
        // foreign keys by construction (SQLite checks none on this connection; PostgreSQL's
        // row-by-row checks would take most of the time).
        let quick = match explainer.backend {
            Backend::Sqlite => "PRAGMA synchronous = OFF; PRAGMA cache_size = -65536",
            Backend::Postgres => {
                "SET synchronous_commit = off; SET session_replication_role = replica"
            }
        };
        sqlx::raw_sql(quick)
            .execute(&mut explainer.conn)
            .await
            .expect("settings for copying");
        explainer.read_schema().await;
        explainer
    }

    async fn reopen(self, kosh: &Kosh) -> Explainer {
        self.close().await;
        Explainer::connect(kosh).await
    }

    async fn close(self) {
        let _ = self.conn.close().await;
    }

    async fn read_schema(&mut self) {
        let (tables_sql, columns_sql) = match self.backend {
            Backend::Sqlite => (
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                "SELECT name, type FROM pragma_table_info($1)",
            ),
            Backend::Postgres => (
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            ),
        };
        let names: Vec<String> = sqlx::query_scalar(tables_sql)
            .fetch_all(&mut self.conn)
            .await
            .expect("tables");
        for name in names {
            let columns: Vec<(String, String)> = sqlx::query_as(columns_sql)
                .bind(name.clone())
                .fetch_all(&mut self.conn)
                .await
                .expect("columns");
            let columns = columns
                .into_iter()
                .map(|(c, t)| {
                    let t = t.to_ascii_lowercase();
                    (c, t.contains("int"))
                })
                .collect();
            self.tables.insert(name, columns);
        }
        if self.backend == Backend::Postgres {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT CAST(indexname AS TEXT), CAST(tablename AS TEXT), CAST(indexdef AS TEXT) FROM pg_indexes \
                 WHERE schemaname = current_schema()",
            )
            .fetch_all(&mut self.conn)
            .await
            .expect("indexes");
            // "CREATE INDEX i ON public.t USING btree (first, second)"
            self.indexes = rows
                .into_iter()
                .map(|(index, table, def)| {
                    let first = def
                        .split_once(" (")
                        .map(|(_, cols)| words(cols).into_iter().next().unwrap_or_default())
                        .unwrap_or_default();
                    (index, (table, first))
                })
                .collect();
        }
    }

    async fn count(&mut self, table: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&mut self.conn)
            .await
            .expect("count")
    }

    /// Grows every table but the small ones to [`ROWS`] rows or more, from copies of the rows
    /// the paths wrote: each copy `i` of a row is in city `i mod 7` and service `i mod 5`, its
    /// keys and personal identifiers get the suffix `-i` (integers: `+ i * 10^6`), its times
    /// are `i` minutes earlier, everything else is the original's (the audit chain keeps its
    /// city: its sequence numbers are per city). Foreign keys hold: a
    /// child's copy `i` names its parent's copy `i`. The tables that grew, with their rows.
    async fn grow_tables(&mut self) -> BTreeMap<String, i64> {
        let tables: Vec<String> = self
            .tables
            .keys()
            .filter(|t| !SMALL_TABLES.contains(&t.as_str()))
            .cloned()
            .collect();
        let mut copies: BTreeMap<String, i64> = BTreeMap::new();
        let mut grown = BTreeMap::new();
        // Parents first.
        let depth = |mut table: &str| {
            let mut depth = 0;
            while let Some((_, parent)) = PARENTS.iter().find(|(c, _)| *c == table) {
                depth += 1;
                table = parent;
            }
            depth
        };
        let mut order = tables.clone();
        order.sort_by_key(|t| depth(t));
        for table in &order {
            let templates = self.count(table).await;
            if templates == 0 {
                eprintln!("{table}: no rows written by the paths, not grown");
                continue;
            }
            let mut n = (ROWS + templates - 1) / templates;
            if let Some((_, parent)) = PARENTS.iter().find(|(c, _)| c == table) {
                n = n.min(copies.get(*parent).copied().unwrap_or(0));
            }
            if n == 0 {
                continue;
            }
            copies.insert(table.clone(), n);
            let sql = self.copy_statement(table, n);
            let t0 = Instant::now();
            let mut tx = self.conn.begin().await.expect("begin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("growing {table}: {e}\n{sql}"));
            tx.commit().await.expect("commit");
            let rows = self.count(table).await;
            eprintln!(
                "{table}: {templates} x {n} in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            grown.insert(table.clone(), rows);
        }
        grown
    }

    fn copy_statement(&self, table: &str, n: i64) -> String {
        let columns = &self.tables[table];
        let city = case_of("n.i % 7", CITIES);
        let service = case_of("n.i % 5", SERVICES);
        let exprs: Vec<String> = columns
            .iter()
            .map(|(c, integer)| {
                let c = c.as_str();
                let key = c == "id"
                    || (c.ends_with("_id") && !SHARED_VALUES.contains(&c))
                    || KEY_VALUES.contains(&c)
                    || (table == "kosh_audit_chain" && c == "seq");
                if table == "eg_pg_transactions" && c == "txn_status" {
                    // Some transactions of every city are still open or have failed.
                    "CASE n.i % 20 WHEN 0 THEN 'PENDING' WHEN 1 THEN 'FAILURE' ELSE t.txn_status END"
                        .to_string()
                } else if (c == "tenant_id" && table != "kosh_audit_chain") || c == "bill_tenant_id" {
                    city.clone()
                } else if c == "business_service" {
                    service.clone()
                } else if key && *integer {
                    format!("t.{c} + n.i * 1000000")
                } else if key {
                    // At most the last 24 characters of the original (time-ordered ids differ
                    // at their end), so that the copy fits the
                    // narrowest key column (VARCHAR(32)); the same for a key and the columns
                    // naming it.
                    format!(
                        "CASE WHEN LENGTH(t.{c}) > 24 THEN SUBSTR(t.{c}, LENGTH(t.{c}) - 23) ELSE t.{c} END || '-' || CAST(n.i AS VARCHAR(8))"
                    )
                } else if *integer && is_time(c) {
                    // A day before the paths' own rows and a minute apart: a search of
                    // the paths' day finds the paths' rows.
                    format!("t.{c} - 86400000 - n.i * 60000")
                } else if BULKY.contains(&c) {
                    "'{}'".to_string()
                } else {
                    format!("t.{c}")
                }
            })
            .collect();
        let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
        let numbers = match self.backend {
            Backend::Sqlite => format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "
            ),
            Backend::Postgres => String::new(),
        };
        let source = match self.backend {
            Backend::Sqlite => "n".to_string(),
            Backend::Postgres => format!("generate_series(CAST(1 AS BIGINT), {n}) AS n(i)"),
        };
        format!(
            "{numbers}INSERT INTO {table} ({}) SELECT {} FROM (SELECT * FROM {table}) t CROSS JOIN {source}",
            names.join(", "),
            exprs.join(", ")
        )
    }

    async fn analyze(&mut self) {
        sqlx::raw_sql("ANALYZE")
            .execute(&mut self.conn)
            .await
            .expect("ANALYZE");
    }

    /// The plan of `sql`, one line per node. PostgreSQL: the generic plan (any parameter
    /// values), as a prepared statement gets it.
    async fn explain(&mut self, sql: &str) -> Vec<String> {
        match self.backend {
            Backend::Sqlite => {
                let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&mut self.conn)
                    .await
                    .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN {sql}: {e}"));
                rows.iter()
                    .map(|r| r.try_get::<String, _>(3).expect("detail"))
                    .collect()
            }
            Backend::Postgres => {
                self.prepared += 1;
                let name = format!("qp{}", self.prepared);
                let mut params = parameter_count(sql);
                let prepared =
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE {name} AS {sql}")))
                        .execute(&mut self.conn)
                        .await;
                if let Err(e) = prepared {
                    // kosh sends each parameter's type; PREPARE infers them, and cannot for
                    // an untyped parameter assigned through CASE. The rows such an UPDATE
                    // changes are the rows its WHERE finds: that is explained instead.
                    let probe = where_probe(sql).unwrap_or_else(|| panic!("PREPARE {sql}: {e}"));
                    params = parameter_count(&probe);
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE {name} AS {probe}")))
                        .execute(&mut self.conn)
                        .await
                        .unwrap_or_else(|e2| panic!("PREPARE {sql}: {e}; and of {probe}: {e2}"));
                }
                sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
                    .execute(&mut self.conn)
                    .await
                    .expect("generic plans");
                let args = if params == 0 {
                    String::new()
                } else {
                    format!("({})", vec!["NULL"; params].join(", "))
                };
                let rows =
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("EXPLAIN EXECUTE {name}{args}")))
                        .fetch_all(&mut self.conn)
                        .await
                        .unwrap_or_else(|e| panic!("EXPLAIN EXECUTE of {sql}: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DEALLOCATE {name}")))
                    .execute(&mut self.conn)
                    .await
                    .expect("deallocate");
                rows.iter()
                    .map(|r| r.try_get::<String, _>(0).expect("plan line"))
                    .collect()
            }
        }
    }

    /// What is wrong with `plan`: full scans of a grown table, and index searches of one
    /// whose terms narrow no further than a city.
    fn problems(&self, sql: &str, plan: &[String], grown: &BTreeMap<String, i64>) -> Vec<String> {
        let aliases = aliases(sql, &self.tables);
        let mut problems = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                for line in plan {
                    let line = line.trim();
                    let (kind, rest) = match line.split_once(' ') {
                        Some(("SCAN", rest)) => ("SCAN", rest),
                        Some(("SEARCH", rest)) => ("SEARCH", rest),
                        _ => continue,
                    };
                    let name = rest.split_whitespace().next().unwrap_or("");
                    let Some(table) = aliases.get(name) else {
                        continue;
                    };
                    if SMALL_TABLES.contains(&table.as_str()) {
                        continue;
                    }
                    if kind == "SCAN" {
                        problems.push(format!("full scan of {table}"));
                        continue;
                    }
                    let terms = rest
                        .split_once('(')
                        .map(|(_, t)| t.trim_end_matches(')'))
                        .unwrap_or("");
                    if self.city_wide(table, terms) {
                        problems.push(format!("{table} searched by city only ({terms})"));
                    }
                }
            }
            Backend::Postgres => {
                for (k, line) in plan.iter().enumerate() {
                    let node = line.trim_start().trim_start_matches("->").trim();
                    let index = if let Some(rest) = node.strip_prefix("Seq Scan on ") {
                        let table = rest.split_whitespace().next().unwrap_or("").to_string();
                        if grown.contains_key(&table) {
                            problems.push(format!("sequential scan of {table}"));
                        }
                        continue;
                    } else if let Some((_, rest)) = node.split_once(" using ")
                        && node.contains("Index")
                    {
                        // "Index Scan using <index> on <table> <alias>"
                        rest.split_whitespace().next().unwrap_or("")
                    } else if let Some(rest) = node.strip_prefix("Bitmap Index Scan on ") {
                        rest.split_whitespace().next().unwrap_or("")
                    } else {
                        continue;
                    };
                    let Some((table, first)) = self.indexes.get(index) else {
                        continue;
                    };
                    if !grown.contains_key(table) {
                        continue;
                    }
                    let condition = plan[k + 1..]
                        .iter()
                        .take_while(|l| !l.contains("->"))
                        .find_map(|l| l.trim().strip_prefix("Index Cond: "));
                    match condition {
                        None => problems.push(format!("all of index {index} of {table} read")),
                        Some(condition) if !words(condition).contains(first) => problems.push(
                            format!("all of index {index} of {table} read: its first column {first} is not in {condition}"),
                        ),
                        Some(condition) if self.city_wide(table, condition) => {
                            problems.push(format!("{table} searched by city only ({condition})"))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        problems
    }

    /// Whether the columns an index condition names are all city-wide terms.
    fn city_wide(&self, table: &str, condition: &str) -> bool {
        let Some(columns) = self.tables.get(table) else {
            return false;
        };
        let named: BTreeSet<String> = words(condition)
            .into_iter()
            .filter(|w| columns.iter().any(|(c, _)| c == w))
            .collect();
        !named.is_empty() && named.iter().all(|c| CITY_WIDE_TERMS.contains(&c.as_str()))
    }
}

fn case_of(selector: &str, values: &[&str]) -> String {
    let arms: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(k, v)| format!("WHEN {k} THEN '{v}'"))
        .collect();
    format!("CASE {selector} {} END", arms.join(" "))
}

fn is_time(column: &str) -> bool {
    ["_ms", "_time", "_date", "_ts"]
        .iter()
        .any(|s| column.ends_with(s))
        && !column.starts_with("tax_period")
}

/// `UPDATE t SET ... WHERE c [RETURNING ...]` as `SELECT 1 FROM t WHERE c`, its parameters
/// numbered from `$1` in their order.
fn where_probe(sql: &str) -> Option<String> {
    let rest = sql.trim_start().strip_prefix("UPDATE ")?;
    let table = rest.split_whitespace().next()?;
    let condition = &rest[rest.find(" WHERE ")? + " WHERE ".len()..];
    let condition = condition
        .split_once(" RETURNING ")
        .map_or(condition, |(c, _)| c);
    let mut numbers: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut chars = condition.char_indices().peekable();
    while let Some((k, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let digits: String = condition[k + 1..]
            .chars()
            .take_while(|d| d.is_ascii_digit())
            .collect();
        for _ in 0..digits.len() {
            chars.next();
        }
        let position = match numbers.iter().position(|n| *n == digits) {
            Some(p) => p,
            None => {
                numbers.push(digits);
                numbers.len() - 1
            }
        };
        out.push_str(&format!("${}", position + 1));
    }
    Some(format!("SELECT 1 FROM {table} WHERE {out}"))
}

/// The highest `$n` in `sql`.
fn parameter_count(sql: &str) -> usize {
    let mut highest = 0;
    let bytes = sql.as_bytes();
    for (k, b) in bytes.iter().enumerate() {
        if *b == b'$' {
            let digits: String = sql[k + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                highest = highest.max(n);
            }
        }
    }
    highest
}

/// The names a statement's plan calls its tables by: each table after FROM, JOIN, UPDATE or
/// INTO, under its own name and its alias.
fn aliases(sql: &str, tables: &BTreeMap<String, Vec<(String, bool)>>) -> BTreeMap<String, String> {
    const NOT_ALIASES: &[&str] = &[
        "WHERE",
        "JOIN",
        "LEFT",
        "INNER",
        "CROSS",
        "ON",
        "SET",
        "ORDER",
        "GROUP",
        "LIMIT",
        "USING",
        "VALUES",
        "AND",
        "OR",
        "UNION",
        "AS",
        "FOR",
        "OFFSET",
        "DEFAULT",
        "SELECT",
        "RETURNING",
    ];
    let words = words(sql);
    let mut map = BTreeMap::new();
    for k in 0..words.len() {
        let w = words[k].to_ascii_uppercase();
        if !["FROM", "JOIN", "UPDATE", "INTO"].contains(&w.as_str()) {
            continue;
        }
        let Some(table) = words.get(k + 1) else {
            continue;
        };
        let table = table.to_ascii_lowercase();
        if !tables.contains_key(&table) {
            continue;
        }
        map.insert(table.clone(), table.clone());
        let mut next = k + 2;
        if words
            .get(next)
            .is_some_and(|a| a.eq_ignore_ascii_case("AS"))
        {
            next += 1;
        }
        if let Some(alias) = words.get(next)
            && !NOT_ALIASES.contains(&alias.to_ascii_uppercase().as_str())
        {
            map.insert(alias.clone(), table.clone());
        }
    }
    map
}
