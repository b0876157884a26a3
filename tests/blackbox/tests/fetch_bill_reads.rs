//! Fetch-bill's reads, on SQLite and on PostgreSQL, with the in-process copy of answers off
//! (`bill_cache_seconds = 0`), so every fetch reads the database:
//!
//! - a fetch by consumer code of a bill that exists is ONE statement, and making a bill
//!   (the first fetch of a code with demands) twelve at most besides the transaction's own
//!   (it was twenty with three tax heads, more with each head), counted from sqlx's own
//!   statement log (`KOSH_LOG_SQL`), which this test binary captures process-wide;
//! - the one-statement read never answers a bill that has changed: after a demand update, a
//!   cancellation, a payment, a partial payment, a payment's reversal and the bill's expiry
//!   by the clock, every fetch answers what the database holds (the bill search's answer
//!   and the bill row's own status).

use kosh_billing::{AccountDetailPayment, Bill, BillPayment};
use kosh_blackbox::statements::{
    capture as capture_statements, is_transaction_control, statements_of,
};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_platform::DigitError;
use kosh_platform::money::Paise;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    fetching_a_bill_is_one_statement_and_making_one_a_handful,
    the_one_statement_read_never_answers_a_changed_bill,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
/// 2019-06-15 23:59:59.999 IST: when a bill fetched at NOW expires.
const END_OF_TODAY: i64 = 1_560_623_399_999;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";

// --- requests ---------------------------------------------------------------------------

async fn start(backend: Backend, log_sql: bool) -> (Kosh, String) {
    let kosh = Kosh::start_with(backend, |s| {
        s.bill_cache_seconds = 0;
        s.log_sql = log_sql;
    })
    .await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(
            json!({"userName": "9876500001", "name": "Asha", "mobileNumber": "9876500001", "type": "CITIZEN",
            "active": true, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let uuid = citizen["uuid"].as_str().expect("uuid").to_string();
    (kosh, uuid)
}

fn pt_demand(code: &str, payer: &str, details: Value) -> Value {
    json!({"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP", "businessService": "PT",
        "payer": {"uuid": payer}, "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO,
        "demandDetails": details, "minimumAmountPayable": 0})
}

fn tax(head: &str, amount: Value) -> Value {
    json!({"taxHeadMasterCode": head, "taxAmount": amount, "collectionAmount": 0})
}

async fn create_demand(kosh: &Kosh, demand: Value) -> Value {
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": [demand]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Demands"][0].clone()
}

async fn fetch(kosh: &Kosh, code: &str) -> (StatusCode, Value) {
    kosh.post(
        &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"),
        json!({"RequestInfo": {"apiId": "Rainmaker"}}),
    )
    .await
}

/// The one bill a fetch of `code` answers.
async fn fetch_one(kosh: &Kosh, code: &str) -> Value {
    let (status, body) = fetch(kosh, code).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"].as_array().map(Vec::len), Some(1), "{body}");
    body["Bill"][0].clone()
}

/// The bill as bill search finds it (read apart from fetch-bill).
async fn searched(kosh: &Kosh, id: &str) -> Value {
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_search?tenantId={TENANT}&billId={id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Bill"][0].clone()
}

/// The bill row's status, read with plain SQL.
async fn status_in_database(kosh: &Kosh, id: &str) -> String {
    sqlx::query_scalar::<_, String>("SELECT status FROM egbs_bill WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("status")
}

/// A fetch of `code` answers exactly what the database holds for that bill, and the bill is
/// the code's one ACTIVE bill.
async fn fetch_is_current(kosh: &Kosh, code: &str) -> Value {
    let fetched = fetch_one(kosh, code).await;
    let id = fetched["id"].as_str().expect("id").to_string();
    assert_eq!(status_in_database(kosh, &id).await, "ACTIVE", "{fetched}");
    assert_eq!(fetched, searched(kosh, &id).await, "fetch and search agree");
    fetched
}

fn id(bill: &Value) -> String {
    bill["id"].as_str().expect("id").to_string()
}

fn payment(bill: &Value, payment_id: &str, paid: &[(&str, i64)]) -> BillPayment {
    let accounts = bill["billDetails"][0]["billAccountDetails"]
        .as_array()
        .expect("account details");
    BillPayment {
        tenant_id: TENANT.into(),
        bill_id: id(bill),
        payment_id: payment_id.into(),
        account_details: paid
            .iter()
            .map(|(head, paise)| AccountDetailPayment {
                bill_account_detail_id: accounts
                    .iter()
                    .find(|a| a["taxHeadCode"] == *head)
                    .map(id)
                    .expect("head on the bill"),
                amount: Paise::new(*paise),
            })
            .collect(),
        advance: None,
    }
}

/// `apply_payment` in its own transaction, as collection runs it inside its own.
async fn apply(kosh: &Kosh, payment: &BillPayment) -> Result<Bill, DigitError> {
    let state = kosh.state();
    let mut tx = state.db.begin_write().await.expect("transaction");
    let result = kosh_billing::apply_payment(
        &mut tx,
        &state.mdms,
        payment,
        "collector",
        state.clock.now_ms(),
    )
    .await;
    if result.is_ok() {
        tx.commit().await.expect("commit");
    }
    result
}

async fn reverse(kosh: &Kosh, bill_id: &str, payment_id: &str) -> Result<Bill, DigitError> {
    let state = kosh.state();
    let mut tx = state.db.begin_write().await.expect("transaction");
    let result = kosh_billing::reverse_payment(
        &mut tx,
        TENANT,
        bill_id,
        payment_id,
        "collector",
        state.clock.now_ms(),
    )
    .await;
    if result.is_ok() {
        tx.commit().await.expect("commit");
    }
    result
}

// --- tests --------------------------------------------------------------------------------

/// The statements of one fetch-bill, from sqlx's log: ONE for a bill that exists (the bill
/// joined to its details and account details by the ACTIVE-bill index), and for making a
/// bill the read on the read pool plus, in the write transaction, the demand locks, the look
/// under them, the demands and their details, the payer (identity's user and roles), the
/// bill, its number (counter and bill) and one multi-row insert each for its details and
/// account details: twelve.
async fn fetching_a_bill_is_one_statement_and_making_one_a_handful(backend: Backend) {
    capture_statements();
    let (kosh, payer) = start(backend, true).await;
    create_demand(
        &kosh,
        pt_demand(
            "PT-S-1",
            &payer,
            json!([
                tax("PT_TAX", json!(700)),
                tax("PT_CANCER_CESS", json!(7.25)),
                tax("PT_FIRE_CESS", json!(10))
            ]),
        ),
    )
    .await;

    let (made, making) = statements_of(fetch_one(&kosh, "PT-S-1")).await;
    let work: Vec<&String> = making
        .iter()
        .filter(|s| !is_transaction_control(s))
        .collect();
    assert!(
        work.len() <= 12,
        "making a bill: {} statements besides the transaction's own:\n{}",
        work.len(),
        making.join("\n")
    );
    let inserts = |table: &str| {
        making
            .iter()
            .filter(|s| s.starts_with(&format!("INSERT INTO {table} ")))
            .count()
    };
    assert_eq!(inserts("egbs_bill_detail"), 1, "{making:#?}");
    assert_eq!(
        inserts("egbs_bill_account_detail"),
        1,
        "three heads, one statement: {making:#?}"
    );

    let (again, reading) = statements_of(fetch_one(&kosh, "PT-S-1")).await;
    assert_eq!(again, made);
    assert_eq!(
        reading.len(),
        1,
        "a fetch of an existing bill is one statement: {reading:#?}"
    );
    assert!(reading[0].contains("FROM egbs_bill b"), "{reading:#?}");
    kosh.stop().await;
}

/// With the copy off, each fetch reads the bill anew; after every kind of write that changes
/// a bill it answers the bill as it now is, never the one before.
async fn the_one_statement_read_never_answers_a_changed_bill(backend: Backend) {
    let (kosh, payer) = start(backend, false).await;
    let demand = create_demand(
        &kosh,
        pt_demand(
            "PT-N-1",
            &payer,
            json!([
                tax("PT_TAX", json!(700)),
                tax("PT_CANCER_CESS", json!(7.25))
            ]),
        ),
    )
    .await;
    let first = fetch_is_current(&kosh, "PT-N-1").await;
    assert_eq!(fetch_is_current(&kosh, "PT-N-1").await, first);

    // A demand update expires the bill; the next fetch bills the new amount.
    let mut changed = demand.clone();
    changed["demandDetails"][0]["taxAmount"] = json!(900);
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_update",
            json!({"RequestInfo": {}, "Demands": [changed]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(status_in_database(&kosh, &id(&first)).await, "EXPIRED");
    let updated = fetch_is_current(&kosh, "PT-N-1").await;
    assert_ne!(id(&updated), id(&first));
    assert_eq!(updated["totalAmount"], json!(907.25), "{updated}");

    // A cancellation: the next fetch makes another bill.
    let (status, body) = kosh
        .post(
            "/billing-service/bill/v2/_cancelbill",
            json!({"RequestInfo": {"msgId": "c-1"}, "UpdateBillCriteria": {"tenantId": TENANT,
                "businessService": "PT", "consumerCodes": ["PT-N-1"],
                "additionalDetails": {"reason": "test", "reasonMessage": "test"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_in_database(&kosh, &id(&updated)).await, "CANCELLED");
    let after_cancel = fetch_is_current(&kosh, "PT-N-1").await;
    assert_ne!(id(&after_cancel), id(&updated));

    // A partial payment: the bill is PARTIALLY_PAID and no fetch answers it as ACTIVE; the
    // next bill is of what remains.
    let part = payment(&after_cancel, "pay-n-1", &[("PT_TAX", 400_00)]);
    apply(&kosh, &part).await.expect("partial payment");
    assert_eq!(
        status_in_database(&kosh, &id(&after_cancel)).await,
        "PARTIALLY_PAID"
    );
    let remaining = fetch_is_current(&kosh, "PT-N-1").await;
    assert_ne!(id(&remaining), id(&after_cancel), "{remaining}");
    assert_eq!(remaining["totalAmount"], json!(507.25), "{remaining}");

    // The reversal of that payment: the remaining bill no longer matches the demands; the
    // next fetch bills the whole amount again.
    reverse(&kosh, &id(&after_cancel), "pay-n-1")
        .await
        .expect("reversal");
    let reversed = fetch_is_current(&kosh, "PT-N-1").await;
    assert_eq!(reversed["totalAmount"], json!(907.25), "{reversed}");
    assert_eq!(reversed["amountPaid"], json!(0), "{reversed}");

    // A payment reversed before any fetch: the same bill is ACTIVE again, with nothing
    // paid, and the fetch answers it so.
    let again = payment(&reversed, "pay-n-3", &[("PT_TAX", 100_00)]);
    apply(&kosh, &again).await.expect("partial payment");
    reverse(&kosh, &id(&reversed), "pay-n-3")
        .await
        .expect("reversal");
    let back = fetch_is_current(&kosh, "PT-N-1").await;
    assert_eq!(id(&back), id(&reversed), "{back}");
    assert_eq!(back["amountPaid"], reversed["amountPaid"], "{back}");
    assert_eq!(
        back["billDetails"][0]["billAccountDetails"],
        reversed["billDetails"][0]["billAccountDetails"]
    );

    // Paid in full: nothing is due, and the paid bill is never answered.
    let full = payment(
        &reversed,
        "pay-n-2",
        &[("PT_TAX", 900_00), ("PT_CANCER_CESS", 7_25)],
    );
    apply(&kosh, &full).await.expect("full payment");
    assert_eq!(status_in_database(&kosh, &id(&reversed)).await, "PAID");
    let (status, body) = fetch(&kosh, "PT-N-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.to_string().contains("EG_BS_BILL_NO_DEMANDS_FOUND"),
        "{body}"
    );

    // Expiry by the clock: a new demand, its bill, then past the end of the day.
    let mut next_year = pt_demand("PT-N-1", &payer, json!([tax("PT_TAX", json!(100))]));
    next_year["taxPeriodFrom"] = json!(1_522_540_800_000i64);
    next_year["taxPeriodTo"] = json!(1_554_076_799_000i64);
    create_demand(&kosh, next_year).await;
    let today = fetch_is_current(&kosh, "PT-N-1").await;
    kosh.set_clock(END_OF_TODAY).await;
    assert_eq!(
        fetch_is_current(&kosh, "PT-N-1").await,
        today,
        "valid through the day's last millisecond"
    );
    kosh.set_clock(END_OF_TODAY + 1).await;
    let tomorrow = fetch_is_current(&kosh, "PT-N-1").await;
    assert_ne!(id(&tomorrow), id(&today));
    assert_eq!(status_in_database(&kosh, &id(&today)).await, "EXPIRED");
    kosh.stop().await;
}
