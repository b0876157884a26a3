//! A BBPS bill fetch of an account whose bill is already made and still valid reads it with
//! ONE statement outside any write transaction, as fetch-bill does (on SQLite, the single
//! writer is then not taken to look at a bill); the fetch that makes the bill, and a fetch
//! after the bill has expired, still go through the write path and answer a new bill.
//! Statements are counted from the statement log (`KOSH_LOG_SQL`), on both databases.

use kosh_blackbox::statements::{
    capture as capture_statements, is_transaction_control, statements_by_driver_of, statements_of,
};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(a_fetch_of_a_valid_bill_is_one_read_and_no_lock,);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
/// The pb demo data's BBPS biller of Amritsar's property tax.
const PT: &str = "PBMT00000PUN01";
const UNIT: &str = "bbps-reads-unit";
const UNIT_PASSWORD: &str = "Bbps@2026x";

async fn demand(kosh: &Kosh, code: &str, rupees: i64) {
    let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code,
        "consumerType": "BUILTUP", "businessService": "PT", "taxPeriodFrom": PERIOD_FROM,
        "taxPeriodTo": PERIOD_TO, "demandDetails": [
            {"taxHeadMasterCode": "PT_TAX", "taxAmount": rupees, "collectionAmount": 0}]}]});
    let (status, answer) = kosh.post("/billing-service/demand/_create", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

async fn fetch(kosh: &Kosh, token: &str, code: &str) -> Value {
    let (status, body) = kosh
        .post_as(
            token,
            "/bbps/v1/bills/fetch",
            json!({"billerId": PT, "refId": "READS1", "customerParams": [
                {"name": "City", "value": "Amritsar"}, {"name": "Property ID", "value": code}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn a_fetch_of_a_valid_bill_is_one_read_and_no_lock(backend: Backend) {
    capture_statements();
    let kosh = Kosh::start_with(backend, |s| {
        s.log_sql = true;
        s.bill_cache_seconds = 0;
    })
    .await;
    kosh.set_clock(NOW).await;
    kosh.create_user(
        json!({"userName": UNIT, "name": "A BBPS unit", "type": "SYSTEM",
        "active": true, "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    let token = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    demand(&kosh, "PT-R1", 1500).await;

    // The first fetch makes the bill (the write path: the demands' locks).
    let (made, statements) = statements_of(fetch(&kosh, &token, "PT-R1")).await;
    let bill_id = made["bills"][0]["billId"].clone();
    assert!(bill_id.is_string(), "{made}");
    assert!(
        statements.iter().any(|s| s.contains("egbs_demand")),
        "making a bill reads the demands under their locks: {statements:#?}"
    );

    // Again: the same bill, read once, and nothing of the demands touched.
    let (again, statements) = statements_of(fetch(&kosh, &token, "PT-R1")).await;
    assert_eq!(again["bills"][0]["billId"], bill_id, "{again}");
    assert_eq!(again["bills"][0]["amount"], made["bills"][0]["amount"]);
    let work: Vec<&String> = statements
        .iter()
        .filter(|s| !is_transaction_control(s))
        .collect();
    let bill_reads = work
        .iter()
        .filter(|s| s.starts_with("SELECT") && s.contains("FROM egbs_bill b"))
        .count();
    assert_eq!(bill_reads, 1, "one read of the bill: {work:#?}");
    assert!(
        !work.iter().any(|s| s.contains("egbs_demand")),
        "no demand read or lock: {work:#?}"
    );
    // ... outside any transaction: through the native read path, which reads only outside
    // transactions (sqlx runs every statement of a write transaction).
    let (_, logged) = statements_by_driver_of(fetch(&kosh, &token, "PT-R1")).await;
    let bill_read = logged
        .iter()
        .find(|s| s.sql.starts_with("SELECT") && s.sql.contains("FROM egbs_bill b"))
        .expect("the bill read");
    assert!(bill_read.native, "read outside the write path: {logged:#?}");

    // The next day the bill has expired: the read finds no valid bill and the write path
    // makes a new one.
    kosh.advance_clock(86_400_000).await;
    let token = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    let next_day = fetch(&kosh, &token, "PT-R1").await;
    assert!(next_day["bills"][0]["billId"].is_string(), "{next_day}");
    assert_ne!(next_day["bills"][0]["billId"], bill_id, "{next_day}");
    kosh.stop().await;
}
