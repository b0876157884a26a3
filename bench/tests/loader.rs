//! The benchmark's bulk demand loader ([`kosh_bench::loader`]) and bill maker
//! ([`kosh_bench::bills`]), on both databases: loaded consumer codes are billable through the
//! ordinary API, and the bills made in-process are the ones fetch-bill then answers.

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    loaded_demands_are_billable,
    bills_made_in_process_are_the_ones_fetch_bill_answers
);

async fn loaded_demands_are_billable(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let state = kosh.state();
    let mut seen = Vec::new();
    kosh_bench::loader::load(
        &state.db,
        &state.mdms,
        0,
        2_500,
        state.clock.now_ms(),
        |done| seen.push(done),
    )
    .await
    .expect("load");
    assert_eq!(seen.last(), Some(&2_500));
    let demands: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM egbs_demand")
        .fetch_one(state.db.pool())
        .await
        .unwrap();
    assert_eq!(demands, 2_500);
    let cities = kosh_bench::loader::cities(&state.mdms);
    for n in [0u64, 1, 2, 2_499] {
        let (code, service) = kosh_bench::loader::consumer_code(n);
        let tenant = kosh_bench::loader::tenant_of(&cities, n);
        let (status, body) = kosh
            .post(&format!("/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService={service}&consumerCode={code}"), json!({"RequestInfo": {}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(
            body["Bill"][0]["totalAmount"].as_f64().unwrap() > 0.0,
            "{body}"
        );
    }
    kosh.stop().await;
}

async fn fetch_bill(kosh: &Kosh, cities: &[String], n: u64) -> serde_json::Value {
    let (code, service) = kosh_bench::loader::consumer_code(n);
    let tenant = kosh_bench::loader::tenant_of(cities, n);
    let (status, body) = kosh
        .post(&format!("/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService={service}&consumerCode={code}"), json!({"RequestInfo": {}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"].as_array().map(Vec::len), Some(1), "{body}");
    body["Bill"][0].clone()
}

/// A bill's answer without what is its own (ids, number, consumer code, the demand it bills).
fn without_identity(value: &mut serde_json::Value) {
    const OWN: &[&str] = &[
        "id",
        "billId",
        "billNumber",
        "consumerCode",
        "demandId",
        "billDetailId",
        "demandDetailId",
    ];
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !OWN.contains(&k.as_str()));
            map.values_mut().for_each(without_identity);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_identity),
        _ => {}
    }
}

async fn bills_made_in_process_are_the_ones_fetch_bill_answers(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let state = kosh.state();
    let now = state.clock.now_ms();
    kosh_bench::loader::load(&state.db, &state.mdms, 0, 2_300, now, |_| {})
        .await
        .expect("load");
    // Made by fetch-bill in two steps (as the benchmark resumes), then copied from those.
    kosh_bench::bills::make(&state.db, &state.mdms, &state.clock, 0, 40, |_| {})
        .await
        .expect("bills");
    kosh_bench::bills::make(&state.db, &state.mdms, &state.clock, 40, 60, |_| {})
        .await
        .expect("bills");
    let mut seen = Vec::new();
    kosh_bench::bills::clone_made(&state.db, &state.mdms, &state.clock, 100, 2_100, |done| {
        seen.push(done)
    })
    .await
    .expect("copies");
    assert_eq!(seen.last(), Some(&2_100));
    assert_eq!(kosh_bench::bills::existing(&state.db).await.unwrap(), 2_200);
    let numbered: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT bill_number) FROM egbs_bill WHERE status = 'ACTIVE' \
         AND total_amount > 0",
    )
    .fetch_one(state.db.pool())
    .await
    .unwrap();
    assert_eq!(numbered, 2_200);

    let cities = kosh_bench::loader::cities(&state.mdms);
    let period = 3 * cities.len() as u64;
    for n in [0u64, 1, 2, 99, 100, 1_000, 1_001, 1_002, 2_199] {
        let (code, _) = kosh_bench::loader::consumer_code(n);
        let made: String = sqlx::query_scalar(
            "SELECT id FROM egbs_bill WHERE consumer_code = $1 AND status = 'ACTIVE'",
        )
        .bind(&code)
        .fetch_one(state.db.pool())
        .await
        .unwrap();
        let mut bill = fetch_bill(&kosh, &cities, n).await;
        assert_eq!(bill["id"], made, "{bill}");
        assert_eq!(bill["consumerCode"], code.as_str(), "{bill}");
        assert!(
            bill["billNumber"].as_str().is_some_and(|b| !b.is_empty()),
            "{bill}"
        );
        let demand = format!("load-{n:010}");
        assert_eq!(
            bill["billDetails"][0]["demandId"],
            demand.as_str(),
            "{bill}"
        );
        for account in bill["billDetails"][0]["billAccountDetails"]
            .as_array()
            .unwrap()
        {
            assert!(
                account["demandDetailId"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{demand}-")),
                "{bill}"
            );
        }
        // A copy answers as the bill fetch-bill made for the same city and service.
        let mut original = fetch_bill(&kosh, &cities, n % period).await;
        without_identity(&mut bill);
        without_identity(&mut original);
        assert_eq!(bill, original);
    }
    // A demand past the made ones has no bill until its first fetch.
    let bill = fetch_bill(&kosh, &cities, 2_250).await;
    let bills: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM egbs_bill")
        .fetch_one(state.db.pool())
        .await
        .unwrap();
    assert_eq!(bills, 2_201, "{bill}");
    kosh.stop().await;
}
