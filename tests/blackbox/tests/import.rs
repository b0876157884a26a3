//! `kosh import demands`: the bulk loader of demands from CSV and JSON lines, on both
//! databases — bad rows reported by line with the API's reasons, good rows loaded with their
//! audit rows and billable through the API, and a re-run that loads nothing twice.

use kosh_billing::import::{self, BadRow, Format, Options, Report};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    csv_loads_good_rows_reports_bad_ones_and_reruns_cleanly,
    json_lines_check_payers_and_expire_stale_bills,
);

const PT_2018: (i64, i64) = (1522540800000, 1554076799000);

/// Imports `text` as a file of `format` into the server's database.
async fn import_text(
    kosh: &Kosh,
    text: &str,
    format: Format,
    batch: usize,
) -> (Report, Vec<BadRow>) {
    let state = kosh.state();
    let records =
        import::read::records(std::io::Cursor::new(text.to_string().into_bytes()), format);
    let mut bad = Vec::new();
    let now = state.clock.now_ms();
    let report = import::run(
        &state.db,
        &state.mdms,
        records,
        &Options {
            batch_size: batch,
            actor: "import-test".into(),
        },
        || now,
        |b| bad.push(b.clone()),
        |_| {},
    )
    .await
    .expect("import runs");
    (report, bad)
}

async fn count(kosh: &Kosh, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("count")
}

async fn demands_of(kosh: &Kosh, tenant: &str, code: &str) -> Vec<Value> {
    let (status, body) = kosh
        .post(
            &format!("/billing-service/demand/_search?tenantId={tenant}&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Demands"].as_array().cloned().unwrap_or_default()
}

/// `kosh audit verify` finds every tenant's chain whole, `rows` entries in all.
async fn assert_chain_whole(kosh: &Kosh, rows: i64) {
    let reports = kosh_server::audit::verify_db(&kosh.state().db)
        .await
        .expect("verify runs");
    assert!(
        reports.iter().all(|r| r.violation_count == 0),
        "{reports:?}"
    );
    assert_eq!(
        reports.iter().map(|r| r.rows).sum::<i64>(),
        rows,
        "{reports:?}"
    );
}

async fn csv_loads_good_rows_reports_bad_ones_and_reruns_cleanly(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (from, to) = PT_2018;
    let csv = format!(
        "tenantId,consumerCode,consumerType,businessService,taxPeriodFrom,taxPeriodTo,taxHeadMasterCode,taxAmount\n\
         pb.amritsar,IMP-1,BUILTUP,PT,{from},{to},PT_TAX,1200\n\
         pb.amritsar,IMP-1,BUILTUP,PT,{from},{to},PT_FIRE_CESS,60.50\n\
         pb.amritsar,IMP-2,BUILTUP,PT,{from},{to},PT_TAX,12.345\n\
         pb.amritsar,IMP-3,BUILTUP,NOPE,{from},{to},PT_TAX,10\n\
         pb.nowhere,IMP-4,BUILTUP,PT,{from},{to},PT_TAX,10\n\
         pb.amritsar,IMP-5,BUILTUP,PT,1,2,PT_TAX,10\n\
         \n\
         pb.amritsar,IMP-6,,PT,{from},{to},PT_TAX,10\n\
         pb.amritsar,IMP-7,BUILTUP,PT,{from},{to},NOT_A_HEAD,10\n\
         pb.jalandhar,IMP-8,BUILTUP,PT,{from},{to},PT_TAX,99.99\n\
         pb.amritsar,IMP-9,BUILTUP,PT,{from},{to},PT_TAX,5\n\
         pb.amritsar,IMP-10,BUILTUP,PT,{from},{to},PT_TAX,abc\n"
    );
    // Batches of 2 make demands of one file span transactions.
    let (report, bad) = import_text(&kosh, &csv, Format::Csv, 2).await;
    assert_eq!(
        (
            report.read,
            report.loaded,
            report.details_loaded,
            report.already_present,
            report.bad
        ),
        (10, 3, 4, 0, 7),
        "{report:?} {bad:?}"
    );
    let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 9, 10, 13], "{bad:?}");
    let reason = |line: u64| {
        bad.iter()
            .find(|b| b.line == line)
            .unwrap()
            .reasons
            .join("; ")
    };
    assert!(reason(4).contains("EG_BS_INVALID_AMOUNT"), "{}", reason(4));
    assert!(
        reason(4).contains("at most two decimal places"),
        "{}",
        reason(4)
    );
    assert!(reason(5).contains("EG_BS_BUSINESSSERVICE_NOTFOUND: No Business Service masters found for give codes [NOPE]"), "{}", reason(5));
    assert!(reason(6).contains("INVALID TENANTID"), "{}", reason(6));
    assert!(reason(7).contains("EG_BS_TAXPERIODS_DEMAND: No Tax Periods Found for the given demand with fromDate : 1 and toDate : 2"), "{}", reason(7));
    assert!(reason(9).contains("consumerType"), "{}", reason(9));
    assert!(
        reason(10).contains("EG_BS_TAXHEADS_NOTFOUND"),
        "{}",
        reason(10)
    );
    assert!(
        reason(13).contains("is not a decimal amount"),
        "{}",
        reason(13)
    );

    // Loaded exactly, in paise, as the API shows demands.
    let imp1 = demands_of(&kosh, "pb.amritsar", "IMP-1").await;
    assert_eq!(imp1.len(), 1);
    let mut amounts: Vec<(String, String)> = imp1[0]["demandDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["taxHeadMasterCode"].as_str().unwrap().to_string(),
                d["taxAmount"].to_string(),
            )
        })
        .collect();
    amounts.sort();
    assert_eq!(
        amounts,
        vec![
            ("PT_FIRE_CESS".into(), "60.5".into()),
            ("PT_TAX".into(), "1200".into())
        ],
        "{imp1:?}"
    );
    assert_eq!(imp1[0]["auditDetails"]["createdBy"], "import-test");
    assert_eq!(demands_of(&kosh, "pb.jalandhar", "IMP-8").await.len(), 1);
    assert!(demands_of(&kosh, "pb.amritsar", "IMP-2").await.is_empty());
    // One audit row per loaded demand, one detail audit row per tax head.
    assert_eq!(
        count(&kosh, "SELECT COUNT(*) FROM egbs_demand_audit").await,
        3
    );
    assert_eq!(
        count(&kosh, "SELECT COUNT(*) FROM egbs_demand_detail_audit").await,
        4
    );

    // The loaded demand bills like any other.
    let (status, body) = kosh
        .post(
            "/billing-service/bill/v2/_fetchbill?tenantId=pb.amritsar&businessService=PT&consumerCode=IMP-1",
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["Bill"][0]["totalAmount"].to_string(),
        "1260.5",
        "{body}"
    );

    // The same file again: nothing new, the good rows already present, the bad ones again.
    let (again, bad_again) = import_text(&kosh, &csv, Format::Csv, 1000).await;
    assert_eq!(
        (again.read, again.loaded, again.already_present, again.bad),
        (10, 0, 3, 7),
        "{again:?}"
    );
    assert_eq!(bad_again.iter().map(|b| b.line).collect::<Vec<_>>(), lines);
    assert_eq!(count(&kosh, "SELECT COUNT(*) FROM egbs_demand").await, 3);
    assert_eq!(
        count(&kosh, "SELECT COUNT(*) FROM egbs_demand_detail").await,
        4
    );
    // The bill made above is still the ACTIVE one: a re-run changes nothing.
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_bill WHERE status = 'ACTIVE'"
        )
        .await,
        1
    );

    // A file that repeats a demand within a batch: the first stays, the repeat is refused.
    let repeat = format!(
        "tenantId,consumerCode,consumerType,businessService,taxPeriodFrom,taxPeriodTo,taxHeadMasterCode,taxAmount\n\
         pb.amritsar,IMP-20,BUILTUP,PT,{from},{to},PT_TAX,10\n\
         pb.amritsar,IMP-21,BUILTUP,PT,{from},{to},PT_TAX,10\n\
         pb.amritsar,IMP-20,BUILTUP,PT,{from},{to},PT_TAX,10\n"
    );
    let (r, bad) = import_text(&kosh, &repeat, Format::Csv, 1000).await;
    assert_eq!((r.loaded, r.bad), (2, 1), "{r:?}");
    assert_eq!(bad[0].line, 4);
    assert!(bad[0].reasons[0].contains("as line 2"), "{bad:?}");

    // A CSV without the columns a demand needs is refused as a whole, at line 1.
    let (r, bad) = import_text(
        &kosh,
        "tenantId,consumerCode\npb.amritsar,X\n",
        Format::Csv,
        10,
    )
    .await;
    assert_eq!((r.loaded, r.bad), (0, 1));
    assert_eq!(bad[0].line, 1);
    assert!(bad[0].reasons[0].contains("lacks the column(s)"), "{bad:?}");
    kosh.stop().await;
}

async fn json_lines_check_payers_and_expire_stale_bills(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let citizen = kosh
        .create_user(json!({
            "userName": "9876500001", "name": "Asha", "mobileNumber": "9876500001",
            "type": "CITIZEN", "active": true, "tenantId": "pb", "password": "Citizen@123",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]
        }))
        .await;
    let employee = kosh
        .create_user(json!({
            "userName": "clerk1", "name": "Clerk", "mobileNumber": "9876500002",
            "type": "EMPLOYEE", "active": true, "tenantId": "pb.amritsar", "password": "Clerk@1234",
            "roles": [{"code": "EMPLOYEE", "tenantId": "pb.amritsar"}]
        }))
        .await;
    let (citizen, employee) = (
        citizen["uuid"].as_str().unwrap().to_string(),
        employee["uuid"].as_str().unwrap().to_string(),
    );

    // A 2017-18 demand made through the API, and its bill.
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": [{
                "tenantId": "pb.amritsar", "consumerCode": "JL-1", "consumerType": "BUILTUP",
                "businessService": "PT", "taxPeriodFrom": 1491004800000i64, "taxPeriodTo": 1522540798000i64,
                "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 100}]
            }]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, first) = kosh
        .post(
            "/billing-service/bill/v2/_fetchbill?tenantId=pb.amritsar&businessService=PT&consumerCode=JL-1",
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    let (from, to) = PT_2018;
    let line = |code: &str, payer: Option<&str>, amount: &str| {
        let mut d = json!({
            "TENANTID": "pb.amritsar", "consumerCode": code, "consumerType": "BUILTUP",
            "businessService": "PT", "taxPeriodFrom": from, "taxPeriodTo": to,
            "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": amount}]
        });
        if let Some(p) = payer {
            d["payer"] = json!({"uuid": p});
        }
        d.to_string()
    };
    let text = [
        line("JL-1", Some(&citizen), "250"),
        line("JL-2", Some(&employee), "10"),
        line("JL-3", Some("no-such-user"), "10"),
        "{not json".to_string(),
        "[1, 2]".to_string(),
        line("JL-4", Some(&citizen), "10"),
    ]
    .join("\n");
    let (report, bad) = import_text(&kosh, &text, Format::JsonLines, 1000).await;
    assert_eq!((report.loaded, report.bad), (2, 4), "{report:?} {bad:?}");
    let reason = |n: u64| bad.iter().find(|b| b.line == n).unwrap().reasons.join("; ");
    assert!(
        reason(2).contains("EG_BS_EMPLOYEE_UUID_NOTALLOWED"),
        "{}",
        reason(2)
    );
    assert!(
        reason(3).contains("EG_BS_USER_UUID_NOTFOUND"),
        "{}",
        reason(3)
    );
    assert!(reason(4).contains("not valid JSON"), "{}", reason(4));
    assert!(
        reason(5).contains("expected a JSON object"),
        "{}",
        reason(5)
    );

    // JL-1 now owes two periods: its old bill expired and the next one covers both.
    let stale: String =
        sqlx::query_scalar("SELECT status FROM egbs_bill WHERE consumer_code = 'JL-1'")
            .fetch_one(kosh.state().db.pool())
            .await
            .unwrap();
    assert_eq!(stale, "EXPIRED");
    let (status, second) = kosh
        .post(
            "/billing-service/bill/v2/_fetchbill?tenantId=pb.amritsar&businessService=PT&consumerCode=JL-1",
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_ne!(
        second["Bill"][0]["billNumber"],
        first["Bill"][0]["billNumber"]
    );
    assert_eq!(
        second["Bill"][0]["totalAmount"].to_string(),
        "350",
        "{second}"
    );
    // The API's demand and the two imported ones, each with one detail, all chained.
    assert_chain_whole(&kosh, 6).await;
    let jl4 = demands_of(&kosh, "pb.amritsar", "JL-4").await;
    assert_eq!(jl4[0]["payer"]["uuid"], citizen.as_str(), "{jl4:?}");
    kosh.stop().await;
}
