//! Payments made together in one transaction (`kosh_collection::batch`), on SQLite and on
//! PostgreSQL: each is checked on its own and answered on its own; a refused one leaves no
//! trace and does not disturb the others; one that names a bill an earlier one of the batch
//! pays waits for the next batch and is then refused as already paid; receipt numbers are
//! handed out gapless in arrival order; the batch's statements do not grow with its size;
//! the audit chain stays whole. Over HTTP, concurrent payments (batched by the queue) and
//! two racing for one bill come out the same.

use kosh_blackbox::statements::{
    capture as capture_statements, is_transaction_control, statements_of,
};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_collection::batch::{Order, Outcome, make_payments};
use kosh_collection::command::NewPayment;
use kosh_collection::service::PaymentOptions;
use kosh_collection::wire::PaymentRequest;
use kosh_platform::AuthUser;
use kosh_platform::envelope::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_batch_answers_each_payment_on_its_own,
    concurrent_payments_over_http_each_get_their_own_answer
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";

/// `count` PT demands of 1,035 (three heads), one per consumer code `<prefix>-<i>`, and
/// their bills, in order.
async fn bills(kosh: &Kosh, prefix: &str, count: usize) -> Vec<Value> {
    let demands: Vec<Value> = (0..count)
        .map(|i| {
            json!({"tenantId": TENANT, "consumerCode": format!("{prefix}-{i}"),
            "consumerType": "BUILTUP", "businessService": "PT", "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO,
            "demandDetails": [
                {"taxHeadMasterCode": "PT_TAX", "taxAmount": 1000, "collectionAmount": 0},
                {"taxHeadMasterCode": "PT_FIRE_CESS", "taxAmount": 25, "collectionAmount": 0},
                {"taxHeadMasterCode": "PT_CANCER_CESS", "taxAmount": 10, "collectionAmount": 0}]})
        })
        .collect();
    let (status, answer) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": demands}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let mut bills = Vec::new();
    for i in 0..count {
        let (status, fetched) = kosh
            .post(
                &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={prefix}-{i}"),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{fetched}");
        bills.push(fetched["Bill"][0].clone());
    }
    bills
}

fn payment_body(bill_id: &str, amount: i64) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": TENANT, "totalAmountPaid": amount, "paymentMode": "CASH", "paidBy": "Asha",
        "payerName": "Asha", "mobileNumber": "9876500001",
        "paymentDetails": [{"billId": bill_id, "totalDue": 1035, "totalAmountPaid": amount,
            "businessService": "PT"}]}})
}

fn command(bill_id: &str, amount: i64) -> NewPayment {
    let request: PaymentRequest =
        serde_json::from_value(payment_body(bill_id, amount)).expect("a payment request");
    NewPayment::from_request(&request).expect("a well-formed payment")
}

fn clerk() -> AuthUser {
    AuthUser {
        id: 1,
        uuid: "batch-test-clerk".into(),
        user_name: "clerk".into(),
        name: None,
        user_type: "EMPLOYEE".into(),
        mobile_number: None,
        email_id: None,
        tenant_id: TENANT.into(),
        roles: vec![Role {
            code: "COLLECTION_OPERATOR".into(),
            tenant_id: Some(TENANT.into()),
            ..Role::default()
        }],
    }
}

/// The number a receipt number ends with (its counter's).
fn sequence(receipt: &str) -> i64 {
    let digits: String = receipt
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{receipt} ends with its number"))
}

async fn bill_status(kosh: &Kosh, consumer_code: &str) -> (String, Value) {
    let (status, found) = kosh
        .post(
            &format!("/billing-service/bill/v2/_search?tenantId={TENANT}&consumerCode={consumer_code}&service=PT"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let bill = found["Bill"][0].clone();
    (
        bill["status"].as_str().unwrap_or_default().to_string(),
        bill,
    )
}

async fn payments_of(kosh: &Kosh, bill_id: &str) -> Vec<Value> {
    let (status, found) = kosh
        .post(
            &format!("/collection-services/payments/_search?tenantId={TENANT}&billIds={bill_id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    found["Payments"].as_array().cloned().unwrap_or_default()
}

async fn make(kosh: &Kosh, commands: &[NewPayment]) -> Vec<Outcome> {
    let state = kosh.state();
    let (db, mdms, clock) = (&state.db, &*state.mdms, &state.clock);
    let requester = clerk();
    let options = PaymentOptions::default();
    let orders: Vec<Order<'_>> = commands
        .iter()
        .map(|command| Order {
            requester: &requester,
            command,
            options: &options,
        })
        .collect();
    kosh_platform::write_tx!(db, |conn| {
        make_payments(conn, mdms, clock, &orders).await
    })
    .expect("the batch commits")
}

fn refusal(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Refused(error) => error.first_code().unwrap_or_default(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn a_batch_answers_each_payment_on_its_own(backend: Backend) {
    kosh_blackbox::one_instance("calls the batch engine inside this process's kosh");
    capture_statements();
    let kosh = Kosh::start_with(backend, |s| s.log_sql = true).await;
    kosh.set_clock(NOW).await;
    let bills = bills(&kosh, "PT-BATCH", 13).await;
    let id = |i: usize| bills[i]["id"].as_str().expect("a bill id").to_string();
    // Bill 12 is paid before the batch, over HTTP.
    let (status, answer) = kosh
        .post(
            "/collection-services/payments/_create",
            payment_body(&id(12), 1035),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let mut commands: Vec<NewPayment> = (0..10).map(|i| command(&id(i), 1035)).collect();
    commands.push(command(&id(1), 1035)); // 10: bill 1 again
    commands.push(command(&id(11), 2_000_000)); // 11: far more than bill 11 owes
    commands.push(command("no-such-bill", 1035)); // 12
    commands.push(command(&id(12), 1035)); // 13: paid before the batch
    let (outcomes, statements) = statements_of(make(&kosh, &commands)).await;

    let mut numbers = Vec::new();
    for (i, outcome) in outcomes.iter().take(10).enumerate() {
        match outcome {
            Outcome::Made(created) => {
                assert_eq!(created.receipt_numbers.len(), 1);
                numbers.push(sequence(&created.receipt_numbers[0]));
            }
            other => panic!("payment {i}: expected it made, got {other:?}"),
        }
    }
    assert!(
        matches!(outcomes[10], Outcome::Deferred),
        "{:?}",
        outcomes[10]
    );
    assert!(!refusal(&outcomes[11]).is_empty());
    assert_eq!(refusal(&outcomes[12]), "INVALID_BILL_ID");
    assert_eq!(refusal(&outcomes[13]), "BILL_ALREADY_PAID");
    // Gapless, in arrival order, right after the receipt made before the batch.
    let first = numbers[0];
    assert_eq!(
        numbers,
        (first..first + 10).collect::<Vec<_>>(),
        "receipt numbers"
    );

    // The statements of the whole batch: a few per table, not a score per payment (one
    // payment alone runs 21).
    let work: Vec<&String> = statements
        .iter()
        .filter(|s| !is_transaction_control(s))
        .collect();
    assert!(
        work.len() <= 30,
        "{} statements for 10 payments:\n{}",
        work.len(),
        work.iter()
            .map(|s| s.chars().take(100).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Made payments are there; the refused one left nothing.
    for i in 0..10 {
        let (status, _) = bill_status(&kosh, &format!("PT-BATCH-{i}")).await;
        assert_eq!(status, "PAID", "bill {i}");
        assert_eq!(payments_of(&kosh, &id(i)).await.len(), 1, "bill {i}");
    }
    let (status, bill) = bill_status(&kosh, "PT-BATCH-11").await;
    assert_eq!(status, "ACTIVE", "{bill}");
    assert!(payments_of(&kosh, &id(11)).await.is_empty());
    let (status, demands) = kosh
        .post(
            &format!("/billing-service/demand/_search?tenantId={TENANT}&consumerCode=PT-BATCH-11&businessService=PT"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{demands}");
    for detail in demands["Demands"][0]["demandDetails"]
        .as_array()
        .expect("details")
    {
        assert_eq!(detail["collectionAmount"], json!(0), "{detail}");
    }

    // The deferred payment, in the next batch, sees the first one committed.
    let next = make(&kosh, &commands[10..11]).await;
    assert_eq!(refusal(&next[0]), "BILL_ALREADY_PAID");
    assert_eq!(payments_of(&kosh, &id(1)).await.len(), 1);

    let reports = kosh_server::audit::verify_db(&kosh.state().db)
        .await
        .expect("verify runs");
    assert!(reports.iter().all(|r| r.ok()), "{reports:?}");
    kosh.stop().await;
}

async fn concurrent_payments_over_http_each_get_their_own_answer(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.set_clock(NOW).await;
    let bills = bills(&kosh, "PT-QUEUE", 24).await;
    let mut calls = Vec::new();
    for bill in &bills {
        calls.push(kosh.post(
            "/collection-services/payments/_create",
            payment_body(bill["id"].as_str().expect("id"), 1035),
        ));
    }
    // Two more for bill 0, racing the first.
    for _ in 0..2 {
        calls.push(kosh.post(
            "/collection-services/payments/_create",
            payment_body(bills[0]["id"].as_str().expect("id"), 1035),
        ));
    }
    let answers = futures::future::join_all(calls).await;
    let mut receipts = Vec::new();
    let mut refused = 0;
    for (status, answer) in &answers {
        match *status {
            StatusCode::OK => receipts.push(
                answer["Payments"][0]["paymentDetails"][0]["receiptNumber"]
                    .as_str()
                    .expect("a receipt number")
                    .to_string(),
            ),
            StatusCode::BAD_REQUEST => {
                assert_eq!(answer["Errors"][0]["code"], "BILL_ALREADY_PAID", "{answer}");
                refused += 1;
            }
            other => panic!("{other}: {answer}"),
        }
    }
    assert_eq!(receipts.len(), 24, "one payment per bill");
    assert_eq!(refused, 2, "the two repeats of bill 0 are refused");
    let mut numbers: Vec<i64> = receipts.iter().map(|r| sequence(r)).collect();
    numbers.sort_unstable();
    let first = numbers[0];
    assert_eq!(
        numbers,
        (first..first + 24).collect::<Vec<_>>(),
        "unique and gapless"
    );
    assert_eq!(
        payments_of(&kosh, bills[0]["id"].as_str().expect("id"))
            .await
            .len(),
        1
    );
    kosh.stop().await;
}
