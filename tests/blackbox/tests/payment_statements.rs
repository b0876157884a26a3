//! The statements of a counter's CASH payment of one bill, on SQLite and on PostgreSQL,
//! counted from sqlx's own statement log (`KOSH_LOG_SQL`), which this test binary captures
//! process-wide. A payment's cost on both databases is mostly its statements, so their
//! number is held here: each table changed row by row is written with one statement
//! whatever the bill's number of tax heads, and the whole payment stays within the count
//! listed at the assertion.

use kosh_blackbox::statements::{
    capture as capture_statements, is_transaction_control, statements_of,
};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(a_cash_payment_of_one_bill_runs_a_bounded_number_of_statements);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";

async fn a_cash_payment_of_one_bill_runs_a_bounded_number_of_statements(backend: Backend) {
    capture_statements();
    let kosh = Kosh::start_with(backend, |s| s.log_sql = true).await;
    kosh.set_clock(NOW).await;
    let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": "PT-S-1",
        "consumerType": "BUILTUP", "businessService": "PT", "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO,
        "demandDetails": [
            {"taxHeadMasterCode": "PT_TAX", "taxAmount": 1000, "collectionAmount": 0},
            {"taxHeadMasterCode": "PT_FIRE_CESS", "taxAmount": 25, "collectionAmount": 0},
            {"taxHeadMasterCode": "PT_CANCER_CESS", "taxAmount": 10, "collectionAmount": 0}]}]});
    let (status, answer) = kosh.post("/billing-service/demand/_create", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, fetched) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode=PT-S-1"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fetched}");
    let bill = &fetched["Bill"][0];
    let payment = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": TENANT, "totalAmountPaid": 1035, "paymentMode": "CASH", "paidBy": "Asha",
        "payerName": "Asha", "mobileNumber": "9876500001",
        "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"], "totalAmountPaid": 1035,
            "businessService": "PT"}]}});
    let ((status, answer), statements) =
        statements_of(kosh.post("/collection-services/payments/_create", payment)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let listing = statements
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{i:2} {}", s.chars().take(120).collect::<String>()))
        .collect::<Vec<_>>()
        .join("\n");
    // Each table a payment changes row by row is written with one statement, whatever the
    // number of tax heads (three here).
    for table in [
        "egbs_demand_detail",
        "egbs_bill_detail",
        "egbs_bill_account_detail",
    ] {
        let writes = statements
            .iter()
            .filter(|s| s.starts_with(&format!("UPDATE {table} ")))
            .count();
        assert_eq!(writes, 1, "UPDATE {table}:\n{listing}");
    }
    // Besides BEGIN and COMMIT: the bill's lock and read (2), the paid and hold checks (2),
    // the demands' read and writes (4), the bill's writes (3), the receipt number (1), the
    // payment and its details (2), the audit rows and their chain (6), the event (1).
    let work = statements
        .iter()
        .filter(|s| !is_transaction_control(s))
        .count();
    assert!(work <= 21, "{work} statements:\n{listing}");
    kosh.stop().await;
}
