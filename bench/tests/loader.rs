//! The benchmark's bulk demand loader ([`kosh_bench::loader`]), on both databases: loaded
//! consumer codes are billable through the ordinary API.

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(loaded_demands_are_billable);

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
