//! The tamper-evident audit trail, on SQLite and on PostgreSQL: demands and payments made
//! over HTTP chain their audit rows; `kosh audit verify` finds the chain whole, then names
//! each row changed, deleted or inserted by hand in the database; parallel writers leave one
//! chain without forks or gaps.

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_platform::audit_chain::{TenantReport, Violation};
use kosh_server::cli::{AuditVerify, Settings};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    verify_names_every_changed_deleted_and_inserted_row,
    twenty_parallel_writers_leave_one_chain,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";

/// kosh, its settings (for running the command against the same database) and a citizen.
async fn start(backend: Backend) -> (Kosh, Settings, String) {
    let mut settings = None;
    let kosh = Kosh::start_with(backend, |s| settings = Some(s.clone())).await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE, "type": "CITIZEN",
            "active": true, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let uuid = citizen["uuid"].as_str().unwrap().to_string();
    (kosh, settings.unwrap(), uuid)
}

async fn demand(kosh: &Kosh, code: &str, payer: &str, rupees: i64) {
    let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code,
        "consumerType": "BUILTUP", "businessService": "PT", "payer": {"uuid": payer},
        "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": rupees, "collectionAmount": 0}]}]});
    let (status, answer) = kosh.post("/billing-service/demand/_create", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Fetches the consumer code's bill and pays it in cash.
async fn pay(kosh: &Kosh, code: &str) {
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bill = &body["Bill"][0];
    let payment = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": TENANT, "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH", "paidBy": "Asha",
        "payerName": "Asha", "mobileNumber": MOBILE,
        "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
            "totalAmountPaid": bill["totalAmount"], "businessService": "PT"}]}});
    let (status, answer) = kosh
        .post("/collection-services/payments/_create", payment)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn verify(kosh: &Kosh) -> Vec<TenantReport> {
    kosh_server::audit::verify_db(&kosh.state().db)
        .await
        .expect("verify runs")
}

/// `kosh audit verify` itself (what its exit status comes from).
async fn command(settings: &Settings) -> anyhow::Result<()> {
    kosh_server::audit::verify(AuditVerify {
        json: false,
        settings: settings.into(),
    })
    .await
}

async fn scalar(kosh: &Kosh, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("query")
}

async fn text(kosh: &Kosh, sql: &'static str) -> String {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("query")
}

async fn exec(kosh: &Kosh, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(kosh.state().db.pool())
        .await
        .expect("tamper");
}

/// Audit rows of every audited table.
async fn audit_rows(kosh: &Kosh) -> i64 {
    scalar(kosh, "SELECT COUNT(*) FROM egbs_demand_audit").await
        + scalar(kosh, "SELECT COUNT(*) FROM egbs_demand_detail_audit").await
        + scalar(kosh, "SELECT COUNT(*) FROM egcl_payment_audit").await
}

async fn verify_names_every_changed_deleted_and_inserted_row(backend: Backend) {
    let (kosh, settings, payer) = start(backend).await;
    for (code, rupees) in [("PT-A1", 500), ("PT-A2", 700), ("PT-A3", 900)] {
        demand(&kosh, code, &payer, rupees).await;
        pay(&kosh, code).await;
    }
    let reports = verify(&kosh).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert!(r.ok(), "{r:?}");
    // Per demand: CREATE and PAYMENT copies of the demand and its one detail, and the payment.
    assert_eq!((r.tenant_id.as_str(), r.rows), (TENANT, 15));
    assert_eq!(r.rows, audit_rows(&kosh).await);
    assert_eq!(r.last_seq, Some(15));
    let shown = kosh_server::audit::to_text(&reports);
    assert!(
        shown.starts_with("pb.amritsar: OK, 15 rows, head 15 "),
        "{shown}"
    );
    command(&settings).await.expect("an intact chain verifies");

    // A detail's collected amount raised by hand.
    let changed = text(
        &kosh,
        "SELECT audit_id FROM egbs_demand_detail_audit WHERE collection_amount > 0 ORDER BY audit_id LIMIT 1",
    )
    .await;
    exec(
        &kosh,
        &format!("UPDATE egbs_demand_detail_audit SET collection_amount = collection_amount + 10000 WHERE audit_id = '{changed}'"),
    )
    .await;
    // A payment's audit row removed.
    let deleted = text(
        &kosh,
        "SELECT audit_id FROM egcl_payment_audit ORDER BY audit_id LIMIT 1",
    )
    .await;
    exec(
        &kosh,
        &format!("DELETE FROM egcl_payment_audit WHERE audit_id = '{deleted}'"),
    )
    .await;
    // A payment's audit row that kosh never wrote.
    exec(
        &kosh,
        "INSERT INTO egcl_payment_audit (audit_id, tenant_id, payment_id, action, payment, changed_by, changed_ms) \
         VALUES ('forged-1', 'pb.amritsar', 'p-forged', 'CREATE', '{}', 'intruder', 1560573000000)",
    )
    .await;

    let seq_of = |key: String| {
        let kosh = &kosh;
        async move {
            sqlx::query_scalar::<_, i64>("SELECT seq FROM kosh_audit_chain WHERE row_key = $1")
                .bind(key)
                .fetch_one(kosh.state().db.pool())
                .await
                .expect("chain entry")
        }
    };
    let changed_seq = seq_of(changed.clone()).await;
    let deleted_seq = seq_of(deleted.clone()).await;

    let reports = verify(&kosh).await;
    let r = &reports[0];
    let mut expected = vec![
        Violation::Changed {
            seq: changed_seq,
            table: "egbs_demand_detail_audit".into(),
            key: changed.clone(),
            detail: "hash mismatch".into(),
        },
        Violation::Deleted {
            seq: deleted_seq,
            table: "egcl_payment_audit".into(),
            key: deleted.clone(),
        },
    ];
    expected.sort_by_key(|v| match v {
        Violation::Changed { seq, .. } | Violation::Deleted { seq, .. } => *seq,
        _ => 0,
    });
    expected.push(Violation::Unchained {
        table: "egcl_payment_audit".into(),
        key: "forged-1".into(),
    });
    assert_eq!(r.violations, expected, "{r:#?}");
    assert_eq!(r.violation_count, 3);
    let shown = kosh_server::audit::to_text(&reports);
    assert!(
        shown.starts_with("pb.amritsar: BROKEN, 3 violation(s) in 15 rows"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "seq {changed_seq}: changed row egbs_demand_detail_audit {changed} (hash mismatch)"
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "seq {deleted_seq}: deleted row egcl_payment_audit {deleted}"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("inserted row egcl_payment_audit forged-1: no chain entry"),
        "{shown}"
    );
    let failed = command(&settings)
        .await
        .expect_err("a broken chain fails the command");
    assert!(failed.to_string().contains("1 tenant(s)"), "{failed}");

    // kosh goes on chaining after the tampering: new rows link to the head, and the report
    // still names the same three places and nothing else.
    demand(&kosh, "PT-A4", &payer, 100).await;
    let r = &verify(&kosh).await[0];
    assert_eq!((r.rows, r.violations.clone()), (17, expected), "{r:#?}");
    kosh.stop().await;
}

async fn twenty_parallel_writers_leave_one_chain(backend: Backend) {
    let (kosh, _settings, payer) = start(backend).await;
    let codes: Vec<String> = (0..20).map(|i| format!("PT-P{i}")).collect();
    futures::future::join_all(codes.iter().map(|c| demand(&kosh, c, &payer, 300))).await;
    futures::future::join_all(codes.iter().map(|c| pay(&kosh, c))).await;

    let reports = verify(&kosh).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert!(r.ok(), "{r:#?}");
    // 20 demands (demand + detail), 20 payments (demand + detail again, and the payment).
    assert_eq!(r.rows, 100);
    assert_eq!(r.rows, audit_rows(&kosh).await);
    assert_eq!(r.last_seq, Some(100));
    // No fork: one entry per place in the chain, each naming its own row.
    assert_eq!(
        scalar(&kosh, "SELECT COUNT(DISTINCT seq) FROM kosh_audit_chain").await,
        100
    );
    assert_eq!(
        scalar(
            &kosh,
            "SELECT COUNT(DISTINCT prev_hash) FROM kosh_audit_chain"
        )
        .await,
        100
    );
    kosh.stop().await;
}
