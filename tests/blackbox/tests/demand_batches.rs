//! `demand/_create` in calls of hundreds, as a city's property-tax module sends them, on
//! SQLite and PostgreSQL. The call is written with set-based statements (locks, the
//! duplicate look-up, the inserts and the audit append take a few statements per few hundred
//! demands), and still answers as one demand at a time did: every demand written and
//! audited, a duplicate named exactly (and the call leaving nothing behind), a bill of a
//! consumer code with a new demand expired, and two calls racing for one new consumer code
//! ending with one demand and DIGIT's duplicate error for the other.

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_call_of_five_hundred_demands_is_written_and_audited_whole,
    a_duplicate_in_a_large_call_is_named_and_nothing_is_written,
    a_new_demand_expires_the_consumer_codes_active_bill,
    two_calls_racing_for_one_new_consumer_code_make_one_demand,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period (MDMS PTAN2019).
const NOW: i64 = 1_560_573_000_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";

async fn start(backend: Backend) -> Kosh {
    let kosh = Kosh::start(backend).await;
    kosh.set_clock(NOW).await;
    kosh
}

fn demand(code: &str) -> Value {
    json!({"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP", "businessService": "PT",
    "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO, "minimumAmountPayable": 0,
    "demandDetails": [
        {"taxHeadMasterCode": "PT_TAX", "taxAmount": 1000, "collectionAmount": 0},
        {"taxHeadMasterCode": "PT_FIRE_CESS", "taxAmount": 25, "collectionAmount": 0}
    ]})
}

/// The demand of `code` for 2018-19 (MDMS PTAN2018).
fn last_year(code: &str) -> Value {
    let mut d = demand(code);
    d["taxPeriodFrom"] = json!(1_522_540_800_000_i64);
    d["taxPeriodTo"] = json!(1_554_076_799_000_i64);
    d
}

fn codes(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

async fn create(kosh: &Kosh, demands: Vec<Value>) -> (StatusCode, Value) {
    kosh.post(
        "/billing-service/demand/_create",
        json!({"RequestInfo": {"apiId": "Rainmaker", "msgId": "m-1"}, "Demands": demands}),
    )
    .await
}

/// The demands of PT in the city whose consumer codes start with `prefix`, as search
/// answers them.
async fn stored(kosh: &Kosh, codes: &[String]) -> Vec<Value> {
    let (status, body) = kosh
        .post(
            &format!(
                "/billing-service/demand/_search?tenantId={TENANT}&businessService=PT&consumerCode={}",
                codes.join(",")
            ),
            json!({"RequestInfo": {"apiId": "Rainmaker"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Demands"].as_array().cloned().unwrap_or_default()
}

async fn a_call_of_five_hundred_demands_is_written_and_audited_whole(backend: Backend) {
    let kosh = start(backend).await;
    let all = codes("PT-B", 500);
    let (status, body) = create(&kosh, all.iter().map(|c| demand(c)).collect()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let answered = body["Demands"].as_array().expect("Demands");
    assert_eq!(answered.len(), 500);
    for (sent, got) in all.iter().zip(answered) {
        assert_eq!(
            got["consumerCode"],
            json!(sent),
            "answered in the order sent"
        );
        assert_eq!(got["demandDetails"].as_array().map(Vec::len), Some(2));
    }
    // Every demand and detail is stored, with its amounts.
    for chunk in all.chunks(100) {
        let found = stored(&kosh, chunk).await;
        assert_eq!(found.len(), chunk.len());
        for d in &found {
            let total: f64 = d["demandDetails"]
                .as_array()
                .expect("details")
                .iter()
                .map(|x| x["taxAmount"].as_f64().expect("taxAmount"))
                .sum();
            assert_eq!(total, 1025.0, "{d}");
        }
    }
    // And the audit chain holds every demand and detail, and verifies whole.
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM egbs_demand_audit WHERE tenant_id = 'pb.amritsar'",
    )
    .fetch_one(kosh.state().db.pool())
    .await
    .expect("count");
    assert_eq!(audited, 500);
    let audited_details: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM egbs_demand_detail_audit WHERE tenant_id = 'pb.amritsar'",
    )
    .fetch_one(kosh.state().db.pool())
    .await
    .expect("count");
    assert_eq!(audited_details, 1000);
    let reports = kosh_server::audit::verify_db(&kosh.state().db)
        .await
        .expect("verify runs");
    assert!(reports.iter().all(|r| r.ok()), "the chain verifies");
}

async fn a_duplicate_in_a_large_call_is_named_and_nothing_is_written(backend: Backend) {
    let kosh = start(backend).await;
    let (status, body) = create(&kosh, vec![demand("PT-B-0007"), demand("PT-B-0311")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let all = codes("PT-B", 400);
    let (status, body) = create(&kosh, all.iter().map(|c| demand(c)).collect()).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DUPLICATE_CONSUMERCODE",
        Some(
            "Demand already exists in the same period with the same businessService for the given consumercodes : [PT-B-0007, PT-B-0311]",
        ),
    );
    // The refused call wrote none of its 398 new demands.
    let found = stored(&kosh, &all).await;
    let mut found_codes: Vec<&str> = found
        .iter()
        .map(|d| d["consumerCode"].as_str().expect("code"))
        .collect();
    found_codes.sort();
    assert_eq!(found_codes, vec!["PT-B-0007", "PT-B-0311"]);

    // A demand of another period for a stored code is not a duplicate.
    let (status, body) = create(&kosh, vec![last_year("PT-B-0007"), demand("PT-B-0400")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_new_demand_expires_the_consumer_codes_active_bill(backend: Backend) {
    let kosh = start(backend).await;
    let (status, body) = create(&kosh, vec![demand("PT-E-1"), demand("PT-E-2")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let fetch = |code: &'static str| {
        let kosh = &kosh;
        async move {
            let (status, body) = kosh
                .post(
                    &format!(
                        "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"
                    ),
                    json!({"RequestInfo": {"apiId": "Rainmaker"}}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["Bill"][0].clone()
        }
    };
    let first = fetch("PT-E-1").await;
    let untouched = fetch("PT-E-2").await;
    assert_eq!(first["totalAmount"].as_f64(), Some(1025.0));

    // Last year's arrears for PT-E-1 (and a new code) in one call.
    let (status, body) = create(&kosh, vec![last_year("PT-E-1"), demand("PT-E-3")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let again = fetch("PT-E-1").await;
    assert_ne!(again["id"], first["id"], "the old bill no longer answers");
    assert_eq!(again["totalAmount"].as_f64(), Some(2050.0));
    let (status, body) = kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_search?tenantId={TENANT}&service=PT&billId={}",
                first["id"].as_str().expect("id")
            ),
            json!({"RequestInfo": {"apiId": "Rainmaker"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Bill"][0]["status"], json!("EXPIRED"), "{body}");
    // The other code's bill stays as it was.
    assert_eq!(fetch("PT-E-2").await["id"], untouched["id"]);
}

async fn two_calls_racing_for_one_new_consumer_code_make_one_demand(backend: Backend) {
    let kosh = start(backend).await;
    for round in 0..5 {
        let code = format!("PT-R-{round}");
        // Each call also carries codes of its own, so a loser's refusal must undo them too.
        let a: Vec<Value> = std::iter::once(demand(&code))
            .chain(
                codes(&format!("PT-RA{round}"), 50)
                    .iter()
                    .map(|c| demand(c)),
            )
            .collect();
        let b: Vec<Value> = std::iter::once(demand(&code))
            .chain(
                codes(&format!("PT-RB{round}"), 50)
                    .iter()
                    .map(|c| demand(c)),
            )
            .collect();
        let ((sa, ba), (sb, bb)) = tokio::join!(create(&kosh, a), create(&kosh, b));
        let created = [sa, sb]
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "exactly one call wins: {sa} {ba} / {sb} {bb}");
        let (status, loser) = if sa == StatusCode::CREATED {
            (sb, bb)
        } else {
            (sa, ba)
        };
        assert_digit_error(
            status,
            &loser,
            StatusCode::BAD_REQUEST,
            "EG_BS_DUPLICATE_CONSUMERCODE",
            Some(&format!(
                "Demand already exists in the same period with the same businessService for the given consumercodes : [{code}]"
            )),
        );
        assert_eq!(stored(&kosh, std::slice::from_ref(&code)).await.len(), 1);
        let theirs = codes(
            &format!(
                "PT-R{}{round}",
                if sa == StatusCode::CREATED { "B" } else { "A" }
            ),
            50,
        );
        assert!(
            stored(&kosh, &theirs).await.is_empty(),
            "the loser wrote nothing"
        );
    }
}
