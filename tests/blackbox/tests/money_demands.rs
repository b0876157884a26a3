//! Demands that make sense, over HTTP on SQLite and on PostgreSQL: citizens cannot write
//! demands; a negative taxAmount only on heads whose master data makes them credits; no tax
//! lowered below what has been collected on it, no collection beyond its tax, no credit added
//! to a paid demand; amounts within the ceilings and never a 5xx for an absurd one; and a
//! demand whose books do not balance is never written, even by a payment (a planted
//! violation makes the payment fail with a 500 and roll back).

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    citizens_cannot_create_or_update_demands,
    negative_tax_on_a_charge_head_is_refused_and_nothing_is_written,
    negative_amounts_on_credit_heads_are_accepted,
    a_negative_line_on_a_paid_demand_is_refused,
    tax_cannot_be_lowered_below_what_was_collected,
    collection_amounts_stay_within_their_tax,
    amounts_beyond_the_ceiling_and_i64_extremes_are_400s,
    a_planted_violation_fails_the_payment_and_rolls_it_back,
);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods of PT and TL.
const NOW: i64 = 1_560_573_000_000;
const FROM: i64 = 1_554_076_800_000;
const TO: i64 = 1_585_679_399_000;
/// The 2018-19 periods.
const FROM_2018: i64 = 1_522_540_800_000;
const TO_2018: i64 = 1_554_076_799_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";

/// A started kosh on the test clock, and a citizen (with a password, to sign in) who owes.
async fn start(backend: Backend) -> (Kosh, String) {
    let kosh = Kosh::start(backend).await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE, "type": "CITIZEN",
            "active": true, "password": PASSWORD, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}))
        .await;
    (kosh, citizen["uuid"].as_str().expect("uuid").to_string())
}

fn demand_of(service: &str, code: &str, payer: &str, details: Value) -> Value {
    json!({"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP", "businessService": service,
        "payer": {"uuid": payer}, "taxPeriodFrom": FROM, "taxPeriodTo": TO, "demandDetails": details})
}

fn tax(head: &str, amount: Value) -> Value {
    json!({"taxHeadMasterCode": head, "taxAmount": amount, "collectionAmount": 0})
}

fn taxed(head: &str, amount: Value, collected: Value) -> Value {
    json!({"taxHeadMasterCode": head, "taxAmount": amount, "collectionAmount": collected})
}

async fn create_as(kosh: &Kosh, token: &str, demands: Value) -> (StatusCode, Value) {
    kosh.post_as(
        token,
        "/billing-service/demand/_create",
        json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": demands}),
    )
    .await
}

async fn create(kosh: &Kosh, demand: Value) -> (StatusCode, Value) {
    create_as(kosh, &kosh.admin_token, json!([demand])).await
}

async fn create_ok(kosh: &Kosh, demand: Value) -> Value {
    let (status, body) = create(kosh, demand).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Demands"][0].clone()
}

async fn update_as(kosh: &Kosh, token: &str, demand: Value) -> (StatusCode, Value) {
    kosh.post_as(
        token,
        "/billing-service/demand/_update",
        json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": [demand]}),
    )
    .await
}

async fn update(kosh: &Kosh, demand: Value) -> (StatusCode, Value) {
    update_as(kosh, &kosh.admin_token, demand).await
}

/// The stored demand with this id, as `_search` answers it.
async fn stored(kosh: &Kosh, id: &str) -> Value {
    let (status, body) = kosh
        .post(
            &format!("/billing-service/demand/_search?tenantId={TENANT}&demandId={id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Demands"].as_array().map(Vec::len), Some(1), "{body}");
    body["Demands"][0].clone()
}

async fn count(kosh: &Kosh, sql: &'static str, arg: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(arg.to_string())
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("count")
}

async fn demands_of(kosh: &Kosh, code: &str) -> i64 {
    count(
        kosh,
        "SELECT COUNT(*) FROM egbs_demand WHERE consumer_code = $1",
        code,
    )
    .await
}

async fn audits_of(kosh: &Kosh, demand_id: &str) -> i64 {
    count(
        kosh,
        "SELECT COUNT(*) FROM egbs_demand_audit WHERE demand_id = $1",
        demand_id,
    )
    .await
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

/// The details of a demand by tax head: (taxAmount, collectionAmount) of each.
fn amounts(demand: &Value, head: &str) -> Vec<(Value, Value)> {
    demand["demandDetails"]
        .as_array()
        .expect("details")
        .iter()
        .filter(|d| d["taxHeadMasterCode"] == head)
        .map(|d| (d["taxAmount"].clone(), d["collectionAmount"].clone()))
        .collect()
}

async fn fetch_bill(kosh: &Kosh, service: &str, code: &str) -> Value {
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService={service}&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

/// Pays `amount` rupees of `bill` in cash at the counter, as the administrator.
async fn pay(kosh: &Kosh, bill: &Value, amount: i64) -> (StatusCode, Value) {
    kosh.post(
        "/collection-services/payments/_create",
        json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
            "tenantId": TENANT, "totalAmountPaid": amount, "paymentMode": "CASH", "paidBy": "Asha",
            "payerName": "Asha", "mobileNumber": MOBILE,
            "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"], "totalAmountPaid": amount,
                "businessService": bill["businessService"]}]}}),
    )
    .await
}

/// An error's message in a DIGIT error body, by code.
fn message<'a>(body: &'a Value, code: &str) -> &'a str {
    body["Errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["code"] == code))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no {code} in {body}"))
}

// ---------------------------------------------------------------------------------------

/// The attack of the report: a citizen adds a −5000 demand to someone else's consumer code.
/// The shipped role-actions no longer let a citizen create or update demands at all.
async fn citizens_cannot_create_or_update_demands(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let victim = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-CIT-1",
            &payer,
            json!([tax("PT_TAX", json!(5000))]),
        ),
    )
    .await;
    let citizen = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;

    let mut attack = demand_of(
        "PT",
        "PT-CIT-1",
        &payer,
        json!([tax("PT_TAX", json!(-5000))]),
    );
    attack["taxPeriodFrom"] = json!(FROM_2018);
    attack["taxPeriodTo"] = json!(TO_2018);
    let (status, body) = create_as(&kosh, &citizen, json!([attack])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["Errors"][0]["code"].is_string(), "{body}");
    // Not even a demand that would be valid.
    let (status, body) = create_as(
        &kosh,
        &citizen,
        json!([demand_of(
            "PT",
            "PT-CIT-2",
            &payer,
            json!([tax("PT_TAX", json!(10))])
        )]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let mut lowered = victim.clone();
    lowered["demandDetails"][0]["taxAmount"] = json!(0);
    let (status, body) = update_as(&kosh, &citizen, lowered).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Nothing was written; the citizen can still see and fetch what they owe.
    assert_eq!(demands_of(&kosh, "PT-CIT-1").await, 1);
    assert_eq!(demands_of(&kosh, "PT-CIT-2").await, 0);
    assert_eq!(audits_of(&kosh, &id(&victim)).await, 1);
    assert_eq!(
        amounts(&stored(&kosh, &id(&victim)).await, "PT_TAX"),
        vec![(json!(5000), json!(0))]
    );
    let (status, body) = kosh
        .post_as(
            &citizen,
            &format!("/billing-service/demand/_search?tenantId={TENANT}&consumerCode=PT-CIT-1"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .post_as(
            &citizen,
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode=PT-CIT-1"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"][0]["totalAmount"], json!(5000), "{body}");

    // An employee who makes demands still can.
    let (status, body) = create(
        &kosh,
        demand_of("PT", "PT-CIT-3", &payer, json!([tax("PT_TAX", json!(10))])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    kosh.stop().await;
}

async fn negative_tax_on_a_charge_head_is_refused_and_nothing_is_written(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let expected = "Only rebate, exemption, advance and credit tax heads (TaxHeadMaster category REBATE, EXEMPTION or ADVANCE_COLLECTION, or isDebit true) may have a negative taxAmount, and round-off heads by less than 1 : [PT_TAX : -5000]";

    // On create.
    let (status, body) = create(
        &kosh,
        demand_of(
            "PT",
            "PT-NEG-1",
            &payer,
            json!([tax("PT_TAX", json!(-5000))]),
        ),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        Some(expected),
    );
    // Beside a positive head too, and on a penalty.
    let (status, body) = create(
        &kosh,
        demand_of(
            "PT",
            "PT-NEG-1",
            &payer,
            json!([
                tax("PT_TAX", json!(6000)),
                tax("PT_TIME_PENALTY", json!(-1))
            ]),
        ),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        None,
    );
    assert!(message(&body, "EG_BS_NEGATIVE_TAX_NOT_ALLOWED").ends_with("[PT_TIME_PENALTY : -1]"));
    assert_eq!(demands_of(&kosh, "PT-NEG-1").await, 0);
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_demand_audit WHERE consumer_code = $1",
            "PT-NEG-1"
        )
        .await,
        0
    );

    // On update: changing the tax, adding a line, or naming the PT_TAX line's id with a
    // credit head's code (the stored line keeps its head: DIGIT never changes it).
    let demand = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-NEG-2",
            &payer,
            json!([tax("PT_TAX", json!(1000))]),
        ),
    )
    .await;
    let mut changed = demand.clone();
    changed["demandDetails"][0]["taxAmount"] = json!(-5000);
    let (status, body) = update(&kosh, changed).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        Some(expected),
    );
    let mut added = demand.clone();
    added["demandDetails"]
        .as_array_mut()
        .unwrap()
        .push(tax("PT_TAX", json!(-5000)));
    let (status, body) = update(&kosh, added).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        Some(expected),
    );
    let mut disguised = demand.clone();
    disguised["demandDetails"][0]["taxHeadMasterCode"] = json!("PT_TIME_REBATE");
    disguised["demandDetails"][0]["taxAmount"] = json!(-5000);
    let (status, body) = update(&kosh, disguised).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        Some(expected),
    );
    let after = stored(&kosh, &id(&demand)).await;
    assert_eq!(amounts(&after, "PT_TAX"), vec![(json!(1000), json!(0))]);
    assert_eq!(after["demandDetails"].as_array().unwrap().len(), 1);
    assert_eq!(audits_of(&kosh, &id(&demand)).await, 1);
    kosh.stop().await;
}

async fn negative_amounts_on_credit_heads_are_accepted(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    // Rebates and exemptions (isDebit true), advance (ADVANCE_COLLECTION) and a round-off
    // under one rupee.
    let demand = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-CR-1",
            &payer,
            json!([
                tax("PT_TAX", json!(1000)),
                tax("PT_TIME_REBATE", json!(-50)),
                tax("PT_OWNER_EXEMPTION", json!(-100)),
                tax("PT_ADVANCE_CARRYFORWARD", json!(-200)),
                tax("PT_ROUNDOFF", json!(-0.4))
            ]),
        ),
    )
    .await;
    assert_eq!(
        amounts(&demand, "PT_TIME_REBATE"),
        vec![(json!(-50), json!(0))]
    );
    assert_eq!(
        fetch_bill(&kosh, "PT", "PT-CR-1").await["totalAmount"],
        json!(649.6)
    );
    // A credit of the category REBATE (TL) and a rebate added by an update.
    create_ok(
        &kosh,
        demand_of(
            "TL",
            "TL-CR-1",
            &payer,
            json!([
                tax("TL_TAX", json!(400)),
                tax("TL_ADHOC_REBATE", json!(-30))
            ]),
        ),
    )
    .await;
    let mut more = demand.clone();
    more["demandDetails"]
        .as_array_mut()
        .unwrap()
        .push(tax("PT_ADHOC_REBATE", json!(-25)));
    let (status, body) = update(&kosh, more).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        amounts(&body["Demands"][0], "PT_ADHOC_REBATE"),
        vec![(json!(-25), json!(0))]
    );
    // A round-off of a rupee or more is not a round-off.
    let (status, body) = create(
        &kosh,
        demand_of(
            "PT",
            "PT-CR-2",
            &payer,
            json!([tax("PT_TAX", json!(1000)), tax("PT_ROUNDOFF", json!(-1))]),
        ),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        None,
    );
    kosh.stop().await;
}

/// The reported update: a TL demand paid in full (400), then an employee adds a negative
/// TL_TAX line of 300, which would leave 400 collected against 100 of tax with no advance
/// or refund. Refused, and so is the same credit on a rebate head.
async fn a_negative_line_on_a_paid_demand_is_refused(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let demand = create_ok(
        &kosh,
        demand_of(
            "TL",
            "TL-PAID-1",
            &payer,
            json!([tax("TL_TAX", json!(400))]),
        ),
    )
    .await;
    let bill = fetch_bill(&kosh, "TL", "TL-PAID-1").await;
    let (status, body) = pay(&kosh, &bill, 400).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let paid = stored(&kosh, &id(&demand)).await;
    assert_eq!(paid["isPaymentCompleted"], true);
    assert_eq!(amounts(&paid, "TL_TAX"), vec![(json!(400), json!(400))]);
    let audits = audits_of(&kosh, &id(&demand)).await;

    let mut reported = paid.clone();
    reported["demandDetails"]
        .as_array_mut()
        .unwrap()
        .push(tax("TL_TAX", json!(-300)));
    let (status, body) = update(&kosh, reported).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_NEGATIVE_TAX_NOT_ALLOWED",
        None,
    );
    assert!(message(&body, "EG_BS_NEGATIVE_TAX_NOT_ALLOWED").ends_with("[TL_TAX : -300]"));

    let mut rebate = paid.clone();
    rebate["demandDetails"]
        .as_array_mut()
        .unwrap()
        .push(tax("TL_ADHOC_REBATE", json!(-300)));
    let (status, body) = update(&kosh, rebate).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_COLLECTION_EXCEEDS_DEMAND",
        None,
    );
    let text = message(&body, "EG_BS_COLLECTION_EXCEEDS_DEMAND");
    assert!(text.contains(&format!("demand {}", id(&demand))), "{text}");
    assert!(text.contains("400 is collected against 100 due"), "{text}");

    // The demand is as the payment left it.
    let after = stored(&kosh, &id(&demand)).await;
    assert_eq!(after["demandDetails"], paid["demandDetails"]);
    assert_eq!(after["isPaymentCompleted"], true);
    assert_eq!(audits_of(&kosh, &id(&demand)).await, audits);
    kosh.stop().await;
}

async fn tax_cannot_be_lowered_below_what_was_collected(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let demand = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-LOW-1",
            &payer,
            json!([tax("PT_TAX", json!(1000))]),
        ),
    )
    .await;
    let bill = fetch_bill(&kosh, "PT", "PT-LOW-1").await;
    let (status, body) = pay(&kosh, &bill, 600).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let part_paid = stored(&kosh, &id(&demand)).await;
    assert_eq!(
        amounts(&part_paid, "PT_TAX"),
        vec![(json!(1000), json!(600))]
    );

    let mut lowered = part_paid.clone();
    lowered["demandDetails"][0]["taxAmount"] = json!(500);
    let (status, body) = update(&kosh, lowered.clone()).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_TAX_BELOW_COLLECTED",
        Some(&format!(
            "A demand's taxAmount cannot be lowered below what has been collected on it : [demand {}, tax head PT_TAX : the taxAmount cannot be 500 when 600 has been collected on it]",
            id(&demand)
        )),
    );
    // Sending a matching collectionAmount, or none, changes nothing: only payments move it.
    for collected in [json!(500), json!(0), Value::Null] {
        lowered["demandDetails"][0]["collectionAmount"] = collected;
        let (status, body) = update(&kosh, lowered.clone()).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "EG_BS_TAX_BELOW_COLLECTED",
            None,
        );
    }
    assert_eq!(
        amounts(&stored(&kosh, &id(&demand)).await, "PT_TAX"),
        vec![(json!(1000), json!(600))]
    );

    // Down to exactly what was collected is fine: the demand is then paid.
    let mut settled = part_paid.clone();
    settled["demandDetails"][0]["taxAmount"] = json!(600);
    let (status, body) = update(&kosh, settled).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        amounts(&body["Demands"][0], "PT_TAX"),
        vec![(json!(600), json!(600))]
    );
    kosh.stop().await;
}

async fn collection_amounts_stay_within_their_tax(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let mut n = 0;
    let mut refuse = async |details: Value, code: &str| {
        n += 1;
        let consumer = format!("PT-COL-{n}");
        let (status, body) = create(&kosh, demand_of("PT", &consumer, &payer, details)).await;
        assert_digit_error(status, &body, StatusCode::BAD_REQUEST, code, None);
        assert_eq!(demands_of(&kosh, &consumer).await, 0);
    };
    refuse(
        json!([taxed("PT_TAX", json!(100), json!(200))]),
        "EG_DEMAND_DEATIL_INVALID",
    )
    .await;
    refuse(
        json!([taxed("PT_TAX", json!(100), json!(-1))]),
        "EG_DEMAND_DEATIL_INVALID",
    )
    .await;
    refuse(
        json!([
            tax("PT_TAX", json!(100)),
            taxed("PT_TIME_REBATE", json!(-50), json!(-60))
        ]),
        "EG_DEMAND_DEATIL_INVALID",
    )
    .await;
    refuse(
        json!([
            tax("PT_TAX", json!(100)),
            taxed("PT_TIME_REBATE", json!(-50), json!(10))
        ]),
        "EG_DEMAND_DEATIL_INVALID",
    )
    .await;
    // Each line within its tax, but the demand collected beyond what it makes due: the
    // rebate was never used, yet the whole tax was taken.
    refuse(
        json!([
            taxed("PT_TAX", json!(100), json!(100)),
            tax("PT_TIME_REBATE", json!(-20))
        ]),
        "EG_BS_COLLECTION_EXCEEDS_DEMAND",
    )
    .await;
    // Within: accepted, and the bill is for what is left.
    let demand = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-COL-OK",
            &payer,
            json!([
                taxed("PT_TAX", json!(100), json!(40)),
                taxed("PT_TIME_REBATE", json!(-20), json!(-20))
            ]),
        ),
    )
    .await;
    assert_eq!(amounts(&demand, "PT_TAX"), vec![(json!(100), json!(40))]);
    assert_eq!(
        fetch_bill(&kosh, "PT", "PT-COL-OK").await["totalAmount"],
        json!(60)
    );
    // An update's collectionAmount is still checked against its own tax.
    let mut beyond = demand.clone();
    beyond["demandDetails"][0]["collectionAmount"] = json!(101);
    let (status, body) = update(&kosh, beyond).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_DEMAND_DEATIL_INVALID",
        None,
    );
    kosh.stop().await;
}

async fn amounts_beyond_the_ceiling_and_i64_extremes_are_400s(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    // The default ceiling: ₹100 crore for one amount, ₹1,000 crore for a total.
    let mut n = 0;
    let mut refuse = async |details: Value, minimum: Value| {
        n += 1;
        let consumer = format!("PT-BIG-{n}");
        let mut demand = demand_of("PT", &consumer, &payer, details.clone());
        demand["minimumAmountPayable"] = minimum;
        let (status, body) = create(&kosh, demand).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "EG_BS_INVALID_AMOUNT",
            None,
        );
        assert_eq!(demands_of(&kosh, &consumer).await, 0, "{details}");
    };
    for amount in [
        json!(1_000_000_000.01),
        json!("1000000000.01"),
        json!(5_000_000_000_i64),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!("92233720368547758.07"),
        json!("-92233720368547758.08"),
        json!("99999999999999999999999999999"),
        json!(1e300),
        json!(-1e300),
    ] {
        refuse(json!([tax("PT_TAX", amount.clone())]), json!(0)).await;
        refuse(
            json!([
                tax("PT_TAX", json!(100)),
                tax("PT_TIME_REBATE", amount.clone())
            ]),
            json!(0),
        )
        .await;
        refuse(
            json!([taxed("PT_TAX", json!(100), amount.clone())]),
            json!(0),
        )
        .await;
        refuse(json!([tax("PT_TAX", json!(100))]), amount).await;
    }
    let (status, body) = create(
        &kosh,
        demand_of(
            "PT",
            "PT-BIG-X",
            &payer,
            json!([tax("PT_TAX", json!(1_000_000_000.01))]),
        ),
    )
    .await;
    assert_eq!(
        message(&body, "EG_BS_INVALID_AMOUNT"),
        "Demands[0].demandDetails[0].taxAmount: the amount ₹1000000000.01 is above the largest amount kosh accepts (₹1000000000.00)",
        "{status}"
    );
    // Eleven amounts at the ceiling add up past the total ceiling.
    let lines: Vec<Value> = (0..11)
        .map(|_| tax("PT_TAX", json!(1_000_000_000)))
        .collect();
    refuse(json!(lines), json!(0)).await;

    // At the ceiling is accepted; an update past it is refused and changes nothing.
    let demand = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-BIG-OK",
            &payer,
            json!([tax("PT_TAX", json!(1_000_000_000))]),
        ),
    )
    .await;
    for amount in [json!(1_000_000_000.01), json!(i64::MAX), json!(1e300)] {
        let mut changed = demand.clone();
        changed["demandDetails"][0]["taxAmount"] = amount;
        let (status, body) = update(&kosh, changed).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "EG_BS_INVALID_AMOUNT",
            None,
        );
    }
    let mut eleven = demand.clone();
    for _ in 0..10 {
        eleven["demandDetails"]
            .as_array_mut()
            .unwrap()
            .push(tax("PT_FIRE_CESS", json!(1_000_000_000)));
    }
    let (status, body) = update(&kosh, eleven).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_INVALID_AMOUNT",
        None,
    );
    let after = stored(&kosh, &id(&demand)).await;
    assert_eq!(after["demandDetails"].as_array().unwrap().len(), 1);
    assert_eq!(
        amounts(&after, "PT_TAX"),
        vec![(json!(1_000_000_000), json!(0))]
    );
    kosh.stop().await;
}

/// Item 7: the store asserts the books on every demand write, payments included. A demand
/// whose books were broken behind kosh's back (planted here with SQL) makes the payment
/// that would write it fail with a 500 (a fault, not the payer's mistake), and the whole
/// payment rolls back: no payment, no receipt, the bill still ACTIVE, the demand unchanged.
async fn a_planted_violation_fails_the_payment_and_rolls_it_back(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let demand = create_ok(
        &kosh,
        demand_of(
            "PT",
            "PT-PLANT-1",
            &payer,
            json!([
                tax("PT_TAX", json!(1000)),
                taxed("PT_CANCER_CESS", json!(50), json!(50))
            ]),
        ),
    )
    .await;
    let bill = fetch_bill(&kosh, "PT", "PT-PLANT-1").await;
    assert_eq!(bill["totalAmount"], json!(1000));
    let planted = sqlx::query(
        "UPDATE egbs_demand_detail SET collection_amount = 8000 WHERE demand_id = $1 AND tax_head_code = 'PT_CANCER_CESS'",
    )
    .bind(id(&demand))
    .execute(kosh.state().db.pool())
    .await
    .expect("plant");
    assert_eq!(planted.rows_affected(), 1);
    let audits = audits_of(&kosh, &id(&demand)).await;

    let (status, body) = pay(&kosh, &bill, 1000).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        "EG_BS_BOOKS_VIOLATED",
        None,
    );
    let text = message(&body, "EG_BS_BOOKS_VIOLATED");
    assert!(
        text.contains("tax head PT_CANCER_CESS has 80 collected against a taxAmount of 50"),
        "{text}"
    );
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egcl_payment WHERE tenant_id = $1",
            TENANT
        )
        .await,
        0
    );
    let (status, shown) = kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_search?tenantId={TENANT}&billId={}",
                id(&bill)
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["Bill"][0]["status"], "ACTIVE");
    let after = stored(&kosh, &id(&demand)).await;
    assert_eq!(amounts(&after, "PT_TAX"), vec![(json!(1000), json!(0))]);
    assert_eq!(audits_of(&kosh, &id(&demand)).await, audits);

    // Put right, the same payment goes through.
    sqlx::query(
        "UPDATE egbs_demand_detail SET collection_amount = 5000 WHERE demand_id = $1 AND tax_head_code = 'PT_CANCER_CESS'",
    )
    .bind(id(&demand))
    .execute(kosh.state().db.pool())
    .await
    .expect("repair");
    let (status, body) = pay(&kosh, &bill, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stored(&kosh, &id(&demand)).await["isPaymentCompleted"],
        true
    );
    kosh.stop().await;
}
