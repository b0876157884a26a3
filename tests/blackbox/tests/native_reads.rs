//! The native read path (`kosh_platform::db::native`: rusqlite on SQLite, tokio-postgres on
//! PostgreSQL), on both databases:
//!
//! - a bill (and a pg transaction) read through it is the one sqlx reads (details, account details, the payer's
//!   sealed data, nulls and integers), and fetch-bill's answer from it is bill search's;
//! - every kind of parameter binds (text, integer, a NULL of each), and a `$1` inside
//!   quotes stays text;
//! - a statement the database refuses is a 500 in DIGIT's shape without the driver's words;
//! - with `KOSH_NATIVE_READS=false`, or a database URL only sqlx can read, the same reads go
//!   through sqlx;
//! - on PostgreSQL, reads go on after the server ends the native connections (as a restart
//!   does).

use kosh_billing::bill::store;
use kosh_billing::visibility::Scope;
use kosh_blackbox::{Backend, Kosh, admin_pg_url, on_both_databases};
use kosh_platform::db::native::Cells;
use kosh_platform::sql::SqlBuilder;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_bill_read_natively_is_the_bill_sqlx_reads,
    every_kind_of_parameter_binds_and_quotes_stay_text,
    a_refused_statement_is_a_500_without_the_drivers_words,
    with_native_reads_off_fetch_bill_reads_through_sqlx,
    a_pg_transaction_read_natively_is_the_one_sqlx_reads,
);

const TENANT: &str = "pb.amritsar";
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;

async fn start(backend: Backend) -> Kosh {
    let kosh = Kosh::start_with(backend, |s| s.bill_cache_seconds = 0).await;
    kosh.set_clock(NOW).await;
    kosh
}

/// A PT demand of ₹1,200 tax and `cess` rupees of fire cess for `code`, and its bill.
async fn demand_and_bill(kosh: &Kosh, code: &str, payer: Option<Value>, cess: f64) -> Value {
    let mut demand = json!({"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
        "businessService": "PT", "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO,
        "minimumAmountPayable": 0, "demandDetails": [
            {"taxHeadMasterCode": "PT_TAX", "taxAmount": 1200, "collectionAmount": 0},
            {"taxHeadMasterCode": "PT_FIRE_CESS", "taxAmount": cess, "collectionAmount": 0}]});
    if let Some(payer) = payer {
        demand["payer"] = payer;
    }
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": [demand]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = fetch(kosh, code).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

async fn fetch(kosh: &Kosh, code: &str) -> (StatusCode, Value) {
    kosh.post(
        &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"),
        json!({"RequestInfo": {"apiId": "Rainmaker"}}),
    )
    .await
}

async fn a_bill_read_natively_is_the_bill_sqlx_reads(backend: Backend) {
    let kosh = start(backend).await;
    let payer = kosh
        .create_user(
            json!({"userName": "9876500011", "name": "Asha Rani", "mobileNumber": "9876500011",
            "emailId": "asha@example.com", "type": "CITIZEN", "active": true, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let made = demand_and_bill(&kosh, "NR-1", Some(json!({"uuid": payer["uuid"]})), 37.5).await;
    demand_and_bill(&kosh, "NR-2", None, 37.5).await;
    let db = &kosh.state().db;
    let codes = vec![
        "NR-1".to_string(),
        "NR-2".to_string(),
        "NR-NONE".to_string(),
    ];

    let mut conn = db.pool().acquire().await.expect("connection");
    let by_sqlx = store::active_for_codes(&mut conn, TENANT, "PT", &codes, &Scope::Tenant)
        .await
        .expect("sqlx read");
    drop(conn);
    let native = store::active_for_codes_outside(db, TENANT, "PT", &codes, &Scope::Tenant)
        .await
        .expect("native read");
    assert_eq!(native.len(), 2, "two codes have bills, one has none");
    assert_eq!(native, by_sqlx, "the same bills, field for field");
    let first = &native[0];
    assert_eq!(
        first.payer_name.as_deref(),
        Some("Asha Rani"),
        "sealed payer opened"
    );
    assert_eq!(first.details.len(), 1);
    assert_eq!(first.details[0].account_details.len(), 2);
    assert_eq!(native[1].payer_name, None, "a bill without a payer");

    // Fetch-bill's answer (read natively once the bill exists) is bill search's (sqlx).
    let (status, fetched) = fetch(&kosh, "NR-1").await;
    assert_eq!(status, StatusCode::CREATED, "{fetched}");
    assert_eq!(
        fetched["Bill"][0]["id"], made["id"],
        "the bill made is reused"
    );
    let (status, searched) = kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_search?tenantId={TENANT}&billId={}",
                made["id"].as_str().expect("id")
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{searched}");
    assert_eq!(fetched["Bill"][0], searched["Bill"][0]);
    kosh.stop().await;
}

async fn every_kind_of_parameter_binds_and_quotes_stay_text(backend: Backend) {
    let kosh = start(backend).await;
    demand_and_bill(&kosh, "NR-3", None, 37.5).await;
    let db = &kosh.state().db;

    // Text and integers, a typed NULL of each kind, and a '$1' that is text.
    let mut q = SqlBuilder::new("SELECT consumer_code, total_amount, '$1' AS literal, ");
    q.push("CAST(NULL AS TEXT) AS absent FROM egbs_bill WHERE status = 'ACTIVE' AND tenant_id = ")
        .bind(TENANT)
        .push(" AND consumer_code = ")
        .bind("NR-3")
        .push(" AND (")
        .bind(None::<String>)
        .push(" IS NULL) AND (")
        .bind(None::<i64>)
        .push(" IS NULL) AND total_amount > ")
        .bind(0i64);
    let rows = db
        .read_native(&q)
        .await
        .expect("native reads on")
        .expect("read");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.cell::<String>("consumer_code").unwrap(), "NR-3");
    assert_eq!(row.cell::<i64>("total_amount").unwrap(), 1237_50);
    assert_eq!(row.cell::<String>("literal").unwrap(), "$1");
    assert_eq!(row.cell::<Option<String>>("absent").unwrap(), None);

    kosh.stop().await;
}

async fn a_refused_statement_is_a_500_without_the_drivers_words(backend: Backend) {
    let kosh = start(backend).await;
    let db = &kosh.state().db;
    let mut q = SqlBuilder::new("SELECT no_such_column FROM egbs_bill WHERE tenant_id = ");
    q.bind(TENANT);
    let err = db
        .read_native(&q)
        .await
        .expect("native reads on")
        .expect_err("refused");
    assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(err.first_code(), Some("QUERY_EXECUTION_ERROR"));
    let body = err.body().to_string();
    assert!(!body.contains("no_such_column"), "{body}");
    // The readers are still good after a refused statement.
    let mut q = SqlBuilder::new("SELECT COUNT(*) AS n FROM egbs_bill WHERE tenant_id = ");
    q.bind(TENANT);
    let rows = db
        .read_native(&q)
        .await
        .expect("native reads on")
        .expect("read after a refusal");
    assert_eq!(rows[0].cell::<i64>("n").unwrap(), 0);
    kosh.stop().await;
}

async fn with_native_reads_off_fetch_bill_reads_through_sqlx(backend: Backend) {
    let kosh = Kosh::start_with(backend, |s| {
        s.bill_cache_seconds = 0;
        s.native_reads = false;
    })
    .await;
    kosh.set_clock(NOW).await;
    let made = demand_and_bill(&kosh, "NR-5", None, 37.5).await;
    let q = SqlBuilder::new("SELECT 1 AS one");
    assert!(kosh.state().db.read_native(&q).await.is_none(), "off");
    let (status, again) = fetch(&kosh, "NR-5").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(
        again["Bill"][0], made,
        "the valid bill reused, read through sqlx"
    );
    kosh.stop().await;
}

async fn a_pg_transaction_read_natively_is_the_one_sqlx_reads(backend: Backend) {
    let kosh = start(backend).await;
    let payer = kosh
        .create_user(
            json!({"userName": "9876500012", "name": "Ravi Kumar", "mobileNumber": "9876500012",
            "password": "Citizen@123", "type": "CITIZEN", "active": true, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let citizen = kosh
        .token("9876500012", "Citizen@123", "pb", "CITIZEN")
        .await;
    let bill = demand_and_bill(&kosh, "NR-6", Some(json!({"uuid": payer["uuid"]})), 40.0).await;
    let (status, created) = kosh
        .post_as(
            &citizen,
            "/pg-service/transaction/v1/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
                "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
                "billId": bill["id"], "consumerCode": "NR-6", "productInfo": "Property Tax Payment",
                "gateway": "SANDBOX", "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
                "user": {"name": "Ravi Kumar", "mobileNumber": "9876500012", "tenantId": "pb"},
                "callbackUrl": "https://citizen.example/pay/done"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let txn_id = created["Transaction"]["txnId"].as_str().expect("txnId");
    let db = &kosh.state().db;
    let mut conn = db.pool().acquire().await.expect("connection");
    let by_sqlx = kosh_pg::txn::store::load(&mut conn, txn_id)
        .await
        .expect("sqlx read")
        .expect("the transaction");
    drop(conn);
    let native = kosh_pg::txn::store::load_outside(db, txn_id)
        .await
        .expect("native read")
        .expect("the transaction");
    assert_eq!(native, by_sqlx, "the same transaction, field for field");
    assert_eq!(native.user.name, "Ravi Kumar", "sealed payer opened");
    assert!(native.redirect_url.is_some(), "sealed redirect opened");
    assert!(
        kosh_pg::txn::store::load_outside(db, "PB_PG_NO_SUCH")
            .await
            .expect("read")
            .is_none()
    );
    kosh.stop().await;
}

/// A URL option that sqlx reads and tokio-postgres does not: kosh still serves, with the
/// hot reads through sqlx.
#[tokio::test]
async fn a_url_the_native_driver_cannot_read_leaves_the_reads_on_sqlx() {
    let kosh = Kosh::start_with(Backend::Postgres, |s| {
        s.bill_cache_seconds = 0;
        let url = s.database_url.take().expect("a PostgreSQL URL");
        s.database_url = Some(format!("{url}?statement-cache-capacity=50"));
    })
    .await;
    kosh.set_clock(NOW).await;
    let made = demand_and_bill(&kosh, "NR-7", None, 37.5).await;
    let q = SqlBuilder::new("SELECT 1 AS one");
    assert!(kosh.state().db.read_native(&q).await.is_none(), "off");
    let (status, again) = fetch(&kosh, "NR-7").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["Bill"][0], made);
    kosh.stop().await;
}

#[tokio::test]
async fn postgres_reads_go_on_after_the_server_ends_their_connections() {
    let kosh = start(Backend::Postgres).await;
    demand_and_bill(&kosh, "NR-4", None, 37.5).await;
    let db = &kosh.state().db;
    let read = || async {
        store::active_for_codes_outside(db, TENANT, "PT", &["NR-4".to_string()], &Scope::Tenant)
            .await
    };
    // Every native connection opened and used.
    for _ in 0..8 {
        assert_eq!(read().await.expect("read").len(), 1);
    }
    let admin = sqlx::PgPool::connect(&admin_pg_url()).await.expect("admin");
    let ended: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'kosh-native-reads' AND datname = $1) t",
    )
    .bind(kosh.pg_database().expect("a PostgreSQL test database"))
    .fetch_one(&admin)
    .await
    .expect("terminate");
    assert!(ended >= 1, "the native connections were found by name");
    for _ in 0..8 {
        assert_eq!(
            read()
                .await
                .expect("a read after its connection ended")
                .len(),
            1
        );
    }
    kosh.stop().await;
}
