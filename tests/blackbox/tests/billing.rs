//! Billing over HTTP, on SQLite and on PostgreSQL: demands with DIGIT's validation, codes and
//! messages; fetch-bill reuse and regeneration across expiry on the test clock; one ACTIVE
//! bill under 50 concurrent fetches; bill search across services by mobile number; bill
//! cancellation; the masters; and the payment functions collection calls, keeping demand
//! and bill consistent.

use kosh_billing::{AccountDetailPayment, AdvancePayment, Bill, BillPayment};
use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use kosh_platform::DigitError;
use kosh_platform::money::Paise;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    demands_are_created_updated_searched_and_audited,
    demand_validation_uses_digits_codes_and_messages,
    demand_update_and_search_validation,
    fetch_bill_makes_a_bill_with_its_part_payment_rules_and_reuses_it,
    fetch_bill_reuse_on_the_read_pool_answers_as_the_write_path_does,
    a_remembered_fetch_bill_follows_every_change_made_here_at_once,
    fetch_bill_regenerates_after_expiry_and_after_demand_changes,
    fetch_bill_validation,
    fifty_concurrent_fetches_leave_one_active_bill,
    search_by_mobile_number_spans_services,
    bill_search_validation_and_pagination,
    cancel_bill_follows_digits_rules,
    payments_keep_demand_and_bill_consistent,
    advance_becomes_a_credit_on_the_next_bill,
    masters_are_answered_from_mdms,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
/// 2019-06-15 23:59:59.999 IST: when a bill fetched at NOW expires.
const END_OF_TODAY: i64 = 1_560_623_399_999;
const DAY: i64 = 86_400_000;
/// PT's 2019-20 period (MDMS PTAN2019).
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
/// Two years of water charges (MDMS WC2018).
const WS_FROM: i64 = 1_554_076_800_000;
const WS_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";

async fn start(backend: Backend) -> (Kosh, String) {
    let kosh = Kosh::start(backend).await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE, "type": "CITIZEN",
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

async fn create_demands(kosh: &Kosh, demands: Value) -> (StatusCode, Value) {
    kosh.post(
        "/billing-service/demand/_create",
        json!({"RequestInfo": {"apiId": "Rainmaker", "msgId": "m-1"}, "Demands": demands}),
    )
    .await
}

async fn create_demand(kosh: &Kosh, demand: Value) -> Value {
    let (status, body) = create_demands(kosh, json!([demand])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Demands"][0].clone()
}

async fn update_demand(kosh: &Kosh, demand: Value) -> (StatusCode, Value) {
    kosh.post(
        "/billing-service/demand/_update",
        json!({"RequestInfo": {}, "Demands": [demand]}),
    )
    .await
}

async fn search_demands(kosh: &Kosh, query: &str) -> (StatusCode, Value) {
    kosh.post(
        &format!("/billing-service/demand/_search?{query}"),
        json!({"RequestInfo": {}}),
    )
    .await
}

async fn fetch(kosh: &Kosh, query: &str) -> (StatusCode, Value) {
    kosh.post(
        &format!("/billing-service/bill/v2/_fetchbill?{query}"),
        json!({"RequestInfo": {"apiId": "Rainmaker"}}),
    )
    .await
}

/// Fetches the PT bill of a consumer code and returns it.
async fn fetch_pt(kosh: &Kosh, code: &str) -> Value {
    let (status, body) = fetch(
        kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode={code}"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"].as_array().map(Vec::len), Some(1), "{body}");
    body["Bill"][0].clone()
}

async fn search_bills(kosh: &Kosh, query: &str) -> (StatusCode, Value) {
    kosh.post(
        &format!("/billing-service/bill/v2/_search?{query}"),
        json!({"RequestInfo": {}}),
    )
    .await
}

async fn bill_by_id(kosh: &Kosh, id: &str) -> Value {
    let (status, body) = search_bills(kosh, &format!("tenantId={TENANT}&billId={id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Bill"][0].clone()
}

async fn count(kosh: &Kosh, sql: &'static str, arg: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(arg.to_string())
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("count")
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

/// The account detail of `head` in the bill's first detail.
fn account(bill: &Value, head: &str) -> Value {
    bill["billDetails"][0]["billAccountDetails"]
        .as_array()
        .expect("account details")
        .iter()
        .find(|a| a["taxHeadCode"] == head)
        .unwrap_or_else(|| panic!("no {head} in {bill}"))
        .clone()
}

fn lines(bill: &Value, paid: &[(&str, i64)]) -> Vec<AccountDetailPayment> {
    paid.iter()
        .map(|(head, paise)| AccountDetailPayment {
            bill_account_detail_id: id(&account(bill, head)),
            amount: Paise::new(*paise),
        })
        .collect()
}

/// Runs `apply_payment` in its own transaction, as collection will inside its own.
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

fn payment(bill: &Value, payment_id: &str, paid: &[(&str, i64)]) -> BillPayment {
    BillPayment {
        tenant_id: TENANT.into(),
        bill_id: id(bill),
        payment_id: payment_id.into(),
        account_details: lines(bill, paid),
        advance: None,
    }
}

fn code_of(err: &DigitError) -> &str {
    err.first_code().unwrap_or_default()
}

/// The collection amounts of a demand's details by tax head.
fn collected(demand: &Value, head: &str) -> Value {
    demand["demandDetails"]
        .as_array()
        .expect("details")
        .iter()
        .find(|d| d["taxHeadMasterCode"] == head)
        .map(|d| d["collectionAmount"].clone())
        .unwrap_or(Value::Null)
}

async fn demand_of(kosh: &Kosh, code: &str) -> Value {
    let (status, body) = search_demands(
        kosh,
        &format!("tenantId={TENANT}&consumerCode={code}&businessService=PT"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Demands"][0].clone()
}

// ---------------------------------------------------------------------------------------

async fn demands_are_created_updated_searched_and_audited(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let demand = create_demand(
        &kosh,
        pt_demand(
            "PT-107-001",
            &payer,
            json!([
                tax("PT_TAX", json!(1000)),
                tax("PT_CANCER_CESS", json!("50.50"))
            ]),
        ),
    )
    .await;
    assert_eq!(demand["status"], "ACTIVE");
    assert_eq!(demand["isPaymentCompleted"], false);
    assert_eq!(demand["payer"]["uuid"], payer.as_str());
    assert_eq!(demand["payer"]["mobileNumber"], MOBILE);
    assert_eq!(demand["demandDetails"][1]["taxAmount"], json!(50.5));
    assert_eq!(demand["auditDetails"]["createdTime"], NOW);

    // Keys in another letter case bind too, and the envelope is DIGIT's.
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"requestInfo": {"msgId": "m-2", "authToken": kosh.admin_token}, "demands": [pt_demand("PT-107-002", &payer, json!([tax("PT_TAX", json!(10))]))]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "201 CREATED");
    assert_eq!(body["ResponseInfo"]["msgId"], "m-2");

    let (status, body) = search_demands(
        &kosh,
        &format!("tenantId={TENANT}&consumerCode=PT-107-001,PT-107-002&businessService=PT"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Demands"].as_array().unwrap().len(), 2);
    assert_eq!(body["ResponseInfo"]["status"], "200 OK");
    let (_, body) =
        search_demands(&kosh, &format!("tenantId={TENANT}&mobileNumber={MOBILE}")).await;
    assert_eq!(body["Demands"].as_array().unwrap().len(), 2, "{body}");
    let (_, body) =
        search_demands(&kosh, &format!("tenantId={TENANT}&mobileNumber=9000000000")).await;
    assert_eq!(body["Demands"], json!([]));

    // Update: a new tax amount and a new tax head. The collection amount in the request is
    // ignored: only payments move it.
    let mut changed = demand.clone();
    assert_eq!(changed["demandDetails"][0]["taxHeadMasterCode"], "PT_TAX");
    changed["demandDetails"][0]["taxAmount"] = json!(1200);
    changed["demandDetails"][0]["collectionAmount"] = json!(300);
    changed["demandDetails"]
        .as_array_mut()
        .unwrap()
        .push(tax("PT_FIRE_CESS", json!(25)));
    changed["minimumAmountPayable"] = json!(100);
    let (status, body) = update_demand(&kosh, changed).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let updated = &body["Demands"][0];
    let pt_tax = updated["demandDetails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["taxHeadMasterCode"] == "PT_TAX")
        .unwrap();
    assert_eq!(pt_tax["taxAmount"], json!(1200));
    assert_eq!(pt_tax["collectionAmount"], json!(0));
    assert_eq!(updated["demandDetails"].as_array().unwrap().len(), 3);
    assert_eq!(updated["minimumAmountPayable"], json!(100));
    assert_eq!(updated["id"], demand["id"]);

    // Every change leaves an audit copy of the demand and its details.
    let demand_id = id(&demand);
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_demand_audit WHERE demand_id = $1",
            &demand_id
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_demand_detail_audit WHERE demand_id = $1",
            &demand_id
        )
        .await,
        2 + 3
    );
    kosh.stop().await;
}

async fn demand_validation_uses_digits_codes_and_messages(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let ok = |code: &str| pt_demand(code, &payer, json!([tax("PT_TAX", json!(100))]));

    let mut d = ok("PT-V-1");
    d["businessService"] = json!("NOPE");
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_BUSINESSSERVICE_NOTFOUND",
        Some("No Business Service masters found for give codes [NOPE]"),
    );
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_TAXPERIODS_BUINESSSERVICE",
        Some("No Tax Periods Found for the given BusinessServices value of [NOPE]"),
    );

    let d = pt_demand("PT-V-2", &payer, json!([tax("PT_NOPE", json!(100))]));
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_TAXHEADS_NOTFOUND",
        Some("No TaxHead masters found for give codes [PT_NOPE]"),
    );

    let mut d = ok("PT-V-3");
    d["taxPeriodFrom"] = json!(0);
    d["taxPeriodTo"] = json!(0);
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_TAXPERIODS_DEMAND",
        Some("No Tax Periods Found for the given demand with fromDate : 0 and toDate : 0"),
    );

    let mut d = ok("RTI-1");
    d["businessService"] = json!("ADMN.RTI");
    d["demandDetails"] = json!([tax("ADMN_RTI_FEE", json!(10))]);
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_TAXPERIODS_BUINESSSERVICE",
        Some("No Tax Periods Found for the given BusinessServices value of [ADMN.RTI]"),
    );

    let d = pt_demand(
        "PT-V-4",
        &payer,
        json!([{"taxHeadMasterCode": "PT_TAX", "taxAmount": 100, "collectionAmount": 200}]),
    );
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_DEMAND_DEATIL_INVALID",
        Some(
            "Invalid demand details found with following Values : [collection amount : 200, cannot not be greater than taxAmount or Negative in case of positive tax : 100]",
        ),
    );

    create_demand(&kosh, ok("PT-DUP")).await;
    let (status, body) = create_demands(&kosh, json!([ok("PT-DUP")])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DUPLICATE_CONSUMERCODE",
        Some(
            "Demand already exists in the same period with the same businessService for the given consumercodes : [PT-DUP]",
        ),
    );

    let d = pt_demand("PT-V-5", "no-such-uuid", json!([tax("PT_TAX", json!(100))]));
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_USER_UUID_NOTFOUND",
        Some("No users found for following uuids  [no-such-uuid]"),
    );

    let clerk = kosh
        .create_user(json!({"userName": "clerk-payer", "name": "Clerk", "type": "EMPLOYEE", "active": true,
            "password": "Clerk@123", "tenantId": TENANT, "roles": [{"code": "EMPLOYEE", "tenantId": TENANT}]}))
        .await;
    let clerk_uuid = clerk["uuid"].as_str().unwrap();
    let d = pt_demand("PT-V-6", clerk_uuid, json!([tax("PT_TAX", json!(100))]));
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_EMPLOYEE_UUID_NOTALLOWED",
        Some(&format!(
            "Employees cannot own a demand in system. The following uuids belonging to employees are rejected : [{clerk_uuid}]"
        )),
    );

    let mut d = ok("PT-V-7");
    d["tenantId"] = json!("pb.nowhere");
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID TENANTID",
        Some("No data found for this tenentID"),
    );

    let d = json!({"consumerCode": "PT-V-8", "businessService": "PT", "taxPeriodFrom": PT_FROM, "demandDetails": []});
    let (status, body) = create_demands(&kosh, json!([d])).await;
    for code in [
        "NotNull.demandRequest.demands[0].tenantId",
        "NotNull.demandRequest.demands[0].consumerType",
        "NotNull.demandRequest.demands[0].taxPeriodTo",
        "Size.demandRequest.demands[0].demandDetails",
    ] {
        assert_digit_error(status, &body, StatusCode::BAD_REQUEST, code, None);
    }

    // Amounts are exact paise: a third decimal place is refused, not rounded.
    let d = pt_demand("PT-V-9", &payer, json!([tax("PT_TAX", json!(100.005))]));
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_INVALID_AMOUNT",
        Some(
            "Demands[0].demandDetails[0].taxAmount must have at most two decimal places (paise), got 100.005",
        ),
    );
    let d = pt_demand("PT-V-10", &payer, json!([tax("PT_TAX", json!("ten"))]));
    let (status, body) = create_demands(&kosh, json!([d])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "JsonMappingException",
        None,
    );

    // Nothing of the refused requests was written.
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_demand WHERE tenant_id = $1",
            TENANT
        )
        .await,
        1
    );
    kosh.stop().await;
}

async fn demand_update_and_search_validation(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let demand = create_demand(
        &kosh,
        pt_demand("PT-U-1", &payer, json!([tax("PT_TAX", json!(100))])),
    )
    .await;

    let mut no_id = demand.clone();
    no_id.as_object_mut().unwrap().remove("id");
    let (status, body) = update_demand(&kosh, no_id).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DEMANDS_UNDIDENTIFIABLE",
        Some("Demands, must contain ids in the update payload"),
    );

    let mut unknown = demand.clone();
    unknown["id"] = json!("no-such-demand");
    let (status, body) = update_demand(&kosh, unknown).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DEMANDS_NOT_FOUND",
        Some("No Demands not found in db for following ids : [no-such-demand]"),
    );

    let mut unknown_detail = demand.clone();
    unknown_detail["demandDetails"][0]["id"] = json!("no-such-detail");
    let (status, body) = update_demand(&kosh, unknown_detail).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DEMAND_DETAIL_NOTFOUND",
        Some("No Demand details found for the given ids :  [no-such-detail]"),
    );

    let mut too_much = demand.clone();
    too_much["demandDetails"][0]["collectionAmount"] = json!(150);
    let (status, body) = update_demand(&kosh, too_much).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_DEMAND_DEATIL_INVALID",
        None,
    );

    let (status, body) = search_demands(&kosh, &format!("tenantId={TENANT}")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "businessService",
        Some(" Any one of the fields additional to tenantId is mandatory"),
    );
    let (status, body) = search_demands(&kosh, "consumerCode=PT-U-1").await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.demandCriteria.tenantId",
        Some("must not be null"),
    );

    let (status, body) = update_demand(&kosh, demand.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "201 CREATED");
    kosh.stop().await;
}

/// A valid bill is answered from the read pool without the write transaction; the answer
/// must be the write path's, byte for byte. A fetch naming a code with a valid bill and a code
/// with none goes the write path and reuses the first bill there; fetching that code alone
/// then takes the read path.
async fn fetch_bill_reuse_on_the_read_pool_answers_as_the_write_path_does(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    create_demand(
        &kosh,
        pt_demand(
            "PT-R-1",
            &payer,
            json!([
                tax("PT_TAX", json!(700)),
                tax("PT_CANCER_CESS", json!(7.25))
            ]),
        ),
    )
    .await;
    create_demand(
        &kosh,
        pt_demand("PT-R-2", &payer, json!([tax("PT_TAX", json!(300))])),
    )
    .await;
    let made = fetch_pt(&kosh, "PT-R-1").await;

    // PT-R-2 has no bill yet: the whole fetch takes the write path, which reuses PT-R-1's.
    let (status, both) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode=PT-R-1,PT-R-2"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{both}");
    let bills = both["Bill"].as_array().expect("bills");
    assert_eq!(bills.len(), 2, "{both}");
    let write_path = bills
        .iter()
        .find(|b| b["consumerCode"] == "PT-R-1")
        .expect("PT-R-1's bill");
    assert_eq!(write_path["id"], made["id"]);

    // Every code has a valid bill now: the read path answers.
    let response = kosh
        .client
        .post(kosh.url(&format!(
            "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode=PT-R-1"
        )))
        .json(&json!({"RequestInfo": {"apiId": "Rainmaker", "authToken": kosh.admin_token}}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let bytes = response.bytes().await.expect("body");
    let read_path: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        read_path["Bill"][0].to_string(),
        write_path.to_string(),
        "the same bill, key for key and in the same order"
    );
    // And the whole answer is what the previous answer was, byte for byte (the test clock
    // stands still, so even ResposneInfo.ts agrees).
    let (_, again) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode=PT-R-1"),
    )
    .await;
    assert_eq!(again.to_string().as_bytes(), &bytes[..]);
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_bill WHERE consumer_code = $1",
            "PT-R-1"
        )
        .await,
        1
    );
}

/// Fetch-bill by consumer codes is answered from the instance's copy (bill::cache) while
/// the bill is valid. A change made behind kosh's back (plain SQL, as another instance would)
/// shows only after the copy's lifetime (30 s by kosh's clock, by default); a change made
/// through kosh (a payment, a demand update, a bill cancellation) shows at the next fetch.
async fn a_remembered_fetch_bill_follows_every_change_made_here_at_once(backend: Backend) {
    kosh_blackbox::one_instance("it reads the instance's own copy of fetch-bill answers");
    let (kosh, payer) = start(backend).await;
    let demand = create_demand(
        &kosh,
        pt_demand("PT-K-1", &payer, json!([tax("PT_TAX", json!(700))])),
    )
    .await;
    let first = fetch_pt(&kosh, "PT-K-1").await;
    // The second fetch reads it from the read pool and keeps it; the third is the copy.
    assert_eq!(fetch_pt(&kosh, "PT-K-1").await, first);
    // (The payer is sealed at rest, kosh_platform::pii: the change made elsewhere is to a
    // plain column.)
    let sql = "UPDATE egbs_bill SET file_store_id = 'Changed Elsewhere' WHERE consumer_code = $1";
    sqlx::query(sql)
        .bind("PT-K-1")
        .execute(kosh.state().db.pool())
        .await
        .expect("update behind kosh's back");
    let copy = fetch_pt(&kosh, "PT-K-1").await;
    assert_eq!(copy, first, "the copy answers within its lifetime");
    kosh.advance_clock(30_000).await;
    let fresh = fetch_pt(&kosh, "PT-K-1").await;
    assert_eq!(fresh["fileStoreId"], "Changed Elsewhere", "{fresh}");
    assert_eq!(fresh["id"], first["id"]);
    assert_eq!(fetch_pt(&kosh, "PT-K-1").await, fresh);

    // A demand update through kosh: the next fetch makes the new bill.
    let mut changed = demand.clone();
    changed["demandDetails"][0]["taxAmount"] = json!(900);
    let (status, body) = update_demand(&kosh, changed).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let after_update = fetch_pt(&kosh, "PT-K-1").await;
    assert_ne!(after_update["id"], first["id"], "{after_update}");
    assert_eq!(after_update["totalAmount"], json!(900), "{after_update}");
    assert_eq!(fetch_pt(&kosh, "PT-K-1").await, after_update);

    // A cancellation through kosh: the next fetch makes another bill.
    let (status, body) = cancel(
        &kosh,
        json!({"tenantId": TENANT, "businessService": "PT", "consumerCodes": ["PT-K-1"],
            "additionalDetails": {"reason": "test", "reasonMessage": "test"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after_cancel = fetch_pt(&kosh, "PT-K-1").await;
    assert_ne!(after_cancel["id"], after_update["id"], "{after_cancel}");

    // A payment through kosh (the collection back-update): the bill is no longer ACTIVE,
    // and no fetch answers with it.
    let paid = payment(&after_cancel, "pay-k-1", &[("PT_TAX", 900_00)]);
    apply(&kosh, &paid).await.expect("payment");
    let (_, after_payment) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode=PT-K-1"),
    )
    .await;
    let answered = after_payment["Bill"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        answered
            .iter()
            .all(|b| b["id"] != after_cancel["id"] || b["status"] != "ACTIVE"),
        "{after_payment}"
    );
    kosh.stop().await;
}

async fn fetch_bill_makes_a_bill_with_its_part_payment_rules_and_reuses_it(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let mut d = pt_demand(
        "PT-F-1",
        &payer,
        json!([
            tax("PT_CANCER_CESS", json!(50.5)),
            tax("PT_TAX", json!(1000)),
            tax("PT_TAX", json!(200))
        ]),
    );
    d["minimumAmountPayable"] = json!(150);
    let demand = create_demand(&kosh, d).await;

    let (status, body) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode=PT-F-1"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["ResposneInfo"]["status"], "201 CREATED", "{body}");
    assert_eq!(body["ResposneInfo"]["apiId"], "Rainmaker");
    assert!(
        body.get("ResponseInfo").is_none(),
        "DIGIT's key is misspelt: {body}"
    );
    let bill = &body["Bill"][0];
    assert_eq!(bill["status"], "ACTIVE");
    assert_eq!(bill["consumerCode"], "PT-F-1");
    assert_eq!(bill["businessService"], "PT");
    assert_eq!(bill["totalAmount"], json!(1250.5));
    assert!(
        bill["billNumber"].as_str().unwrap().starts_with("BILL-"),
        "{bill}"
    );
    assert_eq!(bill["billDate"], NOW);
    assert_eq!(bill["payerName"], "Asha");
    assert_eq!(bill["mobileNumber"], MOBILE);
    assert_eq!(bill["userId"], payer.as_str());
    // PT: part payment allowed, minAmountPayable 100 in MDMS; the demand asks 150.
    assert_eq!(bill["partPaymentAllowed"], true);
    assert_eq!(bill["isAdvanceAllowed"], false);
    assert_eq!(bill["minimumAmountToBePaid"], json!(150));
    assert_eq!(
        bill["collectionModesNotAllowed"],
        json!(["DD", "OFFLINE_NEFT", "OFFLINE_RTGS", "POSTAL_ORDER"])
    );
    let detail = &bill["billDetails"][0];
    assert_eq!(detail["demandId"], demand["id"]);
    assert_eq!(detail["expiryDate"], END_OF_TODAY);
    assert_eq!(detail["amount"], json!(1250.5));
    assert_eq!(detail["fromPeriod"], PT_FROM);
    // One account detail per tax head, in the tax heads' order (PT_TAX 0, PT_CANCER_CESS 1).
    let accounts = detail["billAccountDetails"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["taxHeadCode"], "PT_TAX");
    assert_eq!(accounts[0]["amount"], json!(1200));
    assert_eq!(accounts[1]["taxHeadCode"], "PT_CANCER_CESS");
    assert_eq!(accounts[1]["order"], 1);

    // The same bill while it is valid, however often it is fetched.
    kosh.advance_clock(5 * 60 * 60 * 1000).await;
    let again = fetch_pt(&kosh, "PT-F-1").await;
    assert_eq!(again["id"], bill["id"]);
    assert_eq!(again["billNumber"], bill["billNumber"]);
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_bill WHERE consumer_code = $1",
            "PT-F-1"
        )
        .await,
        1
    );

    // A service that allows no part payment must be paid whole.
    let mut tl = pt_demand("TL-F-1", &payer, json!([tax("TL_TAX", json!(300))]));
    tl["businessService"] = json!("TL");
    create_demand(&kosh, tl).await;
    let (_, body) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=TL&consumerCode=TL-F-1"),
    )
    .await;
    assert_eq!(body["Bill"][0]["partPaymentAllowed"], false, "{body}");
    assert_eq!(
        body["Bill"][0]["minimumAmountToBePaid"],
        json!(300),
        "{body}"
    );
    kosh.stop().await;
}

async fn fetch_bill_regenerates_after_expiry_and_after_demand_changes(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let demand = create_demand(
        &kosh,
        pt_demand("PT-E-1", &payer, json!([tax("PT_TAX", json!(500))])),
    )
    .await;
    let first = fetch_pt(&kosh, "PT-E-1").await;

    // Past the end of the day the bill is expired and a new one made.
    kosh.set_clock(END_OF_TODAY + 1).await;
    let second = fetch_pt(&kosh, "PT-E-1").await;
    assert_ne!(second["id"], first["id"]);
    assert_ne!(second["billNumber"], first["billNumber"]);
    assert_eq!(second["billDetails"][0]["expiryDate"], END_OF_TODAY + DAY);
    assert_eq!(bill_by_id(&kosh, &id(&first)).await["status"], "EXPIRED");

    // A demand change expires the ACTIVE bill; the next fetch bills the new amount.
    let mut changed = demand.clone();
    changed["demandDetails"][0]["taxAmount"] = json!(800);
    changed["billExpiryTime"] = json!(3 * DAY);
    let (status, body) = update_demand(&kosh, changed).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(bill_by_id(&kosh, &id(&second)).await["status"], "EXPIRED");
    let third = fetch_pt(&kosh, "PT-E-1").await;
    assert_eq!(third["totalAmount"], json!(800));
    assert_eq!(
        third["billDetails"][0]["expiryDate"],
        END_OF_TODAY + DAY + 3 * DAY
    );

    // A new demand for the consumer code does the same.
    let mut next_year = pt_demand("PT-E-1", &payer, json!([tax("PT_TAX", json!(100))]));
    next_year["taxPeriodFrom"] = json!(1_522_540_800_000i64);
    next_year["taxPeriodTo"] = json!(1_554_076_799_000i64);
    create_demand(&kosh, next_year).await;
    assert_eq!(bill_by_id(&kosh, &id(&third)).await["status"], "EXPIRED");
    let fourth = fetch_pt(&kosh, "PT-E-1").await;
    assert_eq!(fourth["totalAmount"], json!(900));
    assert_eq!(fourth["billDetails"].as_array().unwrap().len(), 2);
    // Oldest period first.
    assert_eq!(fourth["billDetails"][0]["fromPeriod"], 1_522_540_800_000i64);
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_bill WHERE consumer_code = $1 AND status = 'ACTIVE'",
            "PT-E-1"
        )
        .await,
        1
    );
    kosh.stop().await;
}

async fn fetch_bill_validation(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    create_demand(
        &kosh,
        pt_demand("PT-FV-1", &payer, json!([tax("PT_TAX", json!(100))])),
    )
    .await;

    let (status, body) = fetch(&kosh, "consumerCode=PT-FV-1").await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.generateBillCriteria.tenantId",
        Some("must not be null"),
    );
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.generateBillCriteria.businessService",
        Some("must not be null"),
    );

    let (status, body) = fetch(&kosh, &format!("tenantId={TENANT}&businessService=PT")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BILL_GEN_MANDATORY_FIELDS_MISSING",
        Some(
            "Valid search criteria fields missing, please give some valid criteria like mobileNumber/email OR 'businessService & consumerCode' OR demandId",
        ),
    );

    let (status, body) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode=NO-SUCH"),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_BILL_NO_DEMANDS_FOUND",
        Some("No Demands Found for the given bill generate criteria"),
    );

    // An employee may not fetch across the whole state; a SUPERUSER may.
    kosh.create_user(json!({"userName": "clerk", "name": "Clerk", "type": "EMPLOYEE", "active": true,
        "password": "Clerk@123", "tenantId": TENANT, "roles": [{"code": "EMPLOYEE", "tenantId": "pb"}]}))
        .await;
    let clerk = kosh.token("clerk", "Clerk@123", TENANT, "EMPLOYEE").await;
    let (status, body) = kosh
        .post_as(&clerk, "/billing-service/bill/v2/_fetchbill?tenantId=pb&businessService=PT&consumerCode=PT-FV-1", json!({"RequestInfo": {}}))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_INVALID_TENANTID",
        Some("Employees cannot search based on state level tenantid"),
    );
    let (status, body) = kosh
        .post_as(&clerk, &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode=PT-FV-1"), json!({"RequestInfo": {}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = fetch(&kosh, "tenantId=pb&businessService=PT&consumerCode=PT-FV-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"][0]["tenantId"], TENANT);

    // By demand id.
    let (status, body) =
        search_demands(&kosh, &format!("tenantId={TENANT}&consumerCode=PT-FV-1")).await;
    assert_eq!(status, StatusCode::OK);
    let demand_id = id(&body["Demands"][0]);
    let (status, body) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&demandId={demand_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"][0]["consumerCode"], "PT-FV-1");
    kosh.stop().await;
}

async fn fifty_concurrent_fetches_leave_one_active_bill(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    create_demand(
        &kosh,
        pt_demand("PT-C-1", &payer, json!([tax("PT_TAX", json!(700))])),
    )
    .await;
    for round in 0..2 {
        let answers = futures::future::join_all((0..50).map(|_| fetch_pt(&kosh, "PT-C-1"))).await;
        let ids: std::collections::BTreeSet<String> = answers.iter().map(id).collect();
        assert_eq!(
            ids.len(),
            1,
            "round {round}: every answer names the same bill: {ids:?}"
        );
        assert_eq!(
            count(
                &kosh,
                "SELECT COUNT(*) FROM egbs_bill WHERE consumer_code = $1 AND status = 'ACTIVE'",
                "PT-C-1"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &kosh,
                "SELECT COUNT(*) FROM egbs_bill WHERE consumer_code = $1",
                "PT-C-1"
            )
            .await,
            round + 1,
            "no bill was made and thrown away"
        );
        // The database itself refuses a second ACTIVE bill: an insert that loses reports it
        // (the fetch then answers with the winner).
        let state = kosh.state();
        let mut tx = state.db.begin_write().await.expect("transaction");
        let active = kosh_billing::bill::store::active_for(&mut tx, TENANT, "PT", "PT-C-1")
            .await
            .expect("read")
            .expect("an ACTIVE bill");
        let rival = Bill {
            id: "rival".into(),
            ..active
        };
        assert!(
            !kosh_billing::bill::store::claim(&mut tx, &rival)
                .await
                .expect("claim")
        );
        tx.commit().await.expect("commit");
        assert_eq!(
            count(
                &kosh,
                "SELECT COUNT(*) FROM egbs_bill WHERE id = $1",
                "rival"
            )
            .await,
            0
        );
        // Expire it for the second round, which races to replace it.
        kosh.advance_clock(DAY).await;
    }
    kosh.stop().await;
}

async fn search_by_mobile_number_spans_services(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    create_demand(
        &kosh,
        pt_demand("PT-M-1", &payer, json!([tax("PT_TAX", json!(400))])),
    )
    .await;
    let ws = json!({"tenantId": TENANT, "consumerCode": "WS/107/2019-20/0001", "consumerType": "waterConnection",
        "businessService": "WS", "payer": {"uuid": payer}, "taxPeriodFrom": WS_FROM, "taxPeriodTo": WS_TO,
        "demandDetails": [tax("WS_CHARGE", json!(250))]});
    create_demand(&kosh, ws).await;

    // Fetch by mobile number bills the payer's consumer codes of the service asked for.
    let (status, body) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=WS&mobileNumber={MOBILE}"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"].as_array().unwrap().len(), 1);
    assert_eq!(body["Bill"][0]["consumerCode"], "WS/107/2019-20/0001");
    assert_eq!(body["Bill"][0]["isAdvanceAllowed"], true);
    fetch_pt(&kosh, "PT-M-1").await;

    // Search by mobile number finds the bills of every service.
    let (status, body) =
        search_bills(&kosh, &format!("tenantId={TENANT}&mobileNumber={MOBILE}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut services: Vec<&str> = body["Bill"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["businessService"].as_str().unwrap())
        .collect();
    services.sort();
    assert_eq!(services, vec!["PT", "WS"]);
    assert_eq!(body["ResposneInfo"]["status"], "200 OK");
    let (_, body) =
        search_bills(&kosh, &format!("tenantId={TENANT}&mobileNumber=9000000001")).await;
    assert_eq!(body["Bill"], json!([]));

    // A state-level tenant (a SUPERUSER may use one) searches every city of the state.
    let (_, body) = search_bills(
        &kosh,
        &format!("tenantId=pb&mobileNumber={MOBILE}&service=WS"),
    )
    .await;
    assert_eq!(body["Bill"].as_array().unwrap().len(), 1, "{body}");
    kosh.stop().await;
}

async fn bill_search_validation_and_pagination(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    for i in 1..=3 {
        create_demand(
            &kosh,
            pt_demand(
                &format!("PT-S-{i}"),
                &payer,
                json!([tax("PT_TAX", json!(100 * i))]),
            ),
        )
        .await;
        fetch_pt(&kosh, &format!("PT-S-{i}")).await;
        kosh.advance_clock(1000).await;
    }
    let (status, body) = search_bills(&kosh, &format!("tenantId={TENANT}")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EGBS_MANDATORY_FIELDS_ERROR",
        Some(
            "BILL_SEARCH_MANDATORY_FIELDS_MISSING Any one of the fields additional to tenantId is mandatory like consumerCode,billId, mobileNumber or email",
        ),
    );
    let (status, body) =
        search_bills(&kosh, &format!("tenantId={TENANT}&consumerCode=PT-S-1")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BILL_SEARCH_CONSUMERCODE_BUSINESSSERVICE",
        Some(
            "the consumerCode & Service values should be given together or mobilenumber/email can be given",
        ),
    );
    let (status, body) = search_bills(&kosh, "consumerCode=PT-S-1&service=PT").await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.billSearchCriteria.tenantId",
        Some("must not be null"),
    );

    let all = format!("tenantId={TENANT}&service=PT&consumerCode=PT-S-1,PT-S-2,PT-S-3");
    let (_, body) = search_bills(&kosh, &all).await;
    assert_eq!(body["Bill"].as_array().unwrap().len(), 3);
    // Newest first; a page of one at a time walks all three.
    let mut seen = Vec::new();
    for offset in 0..3 {
        let (_, page) = search_bills(&kosh, &format!("{all}&size=1&offset={offset}")).await;
        assert_eq!(page["Bill"].as_array().unwrap().len(), 1);
        seen.push(
            page["Bill"][0]["consumerCode"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(seen, vec!["PT-S-3", "PT-S-2", "PT-S-1"]);
    let (_, page) = search_bills(&kosh, &format!("{all}&isOrderBy=true&size=2")).await;
    let codes: Vec<&str> = page["Bill"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["consumerCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["PT-S-1", "PT-S-2"]);

    // The latest bill per consumer code; by status; by bill number.
    kosh.advance_clock(DAY).await;
    let newer = fetch_pt(&kosh, "PT-S-1").await;
    let (_, body) = search_bills(
        &kosh,
        &format!("tenantId={TENANT}&service=PT&consumerCode=PT-S-1"),
    )
    .await;
    assert_eq!(body["Bill"].as_array().unwrap().len(), 1);
    assert_eq!(body["Bill"][0]["id"], newer["id"]);
    let (_, body) = search_bills(
        &kosh,
        &format!("tenantId={TENANT}&service=PT&consumerCode=PT-S-1&retrieveOldest=true"),
    )
    .await;
    assert_ne!(body["Bill"][0]["id"], newer["id"]);
    // A status filter comes before the latest-per-consumer-code rule (DIGIT's query); a bill
    // past its expiry stays ACTIVE until a fetch expires it.
    let (_, body) = search_bills(&kosh, &format!("{all}&status=EXPIRED")).await;
    assert_eq!(body["Bill"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["Bill"][0]["consumerCode"], "PT-S-1");
    assert_ne!(body["Bill"][0]["id"], newer["id"]);
    let (_, body) = search_bills(&kosh, &format!("{all}&status=ACTIVE")).await;
    assert_eq!(body["Bill"].as_array().unwrap().len(), 3, "{body}");
    let number = newer["billNumber"].as_str().unwrap();
    let (_, body) = search_bills(
        &kosh,
        &format!("tenantId={TENANT}&mobileNumber={MOBILE}&billNumber={number}"),
    )
    .await;
    assert_eq!(body["Bill"][0]["id"], newer["id"], "{body}");
    let (_, body) = search_bills(
        &kosh,
        &format!("tenantId={TENANT}&mobileNumber={MOBILE}&fromPeriod={PT_FROM}&isActive=false"),
    )
    .await;
    assert_eq!(body["Bill"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["Bill"][0]["status"], "EXPIRED");
    kosh.stop().await;
}

async fn cancel(kosh: &Kosh, criteria: Value) -> (StatusCode, Value) {
    kosh.post(
        "/billing-service/bill/v2/_cancelbill",
        json!({"RequestInfo": {"msgId": "c-1"}, "UpdateBillCriteria": criteria}),
    )
    .await
}

async fn cancel_bill_follows_digits_rules(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    create_demand(
        &kosh,
        pt_demand("PT-X-1", &payer, json!([tax("PT_TAX", json!(900))])),
    )
    .await;
    let criteria = |details: Value| json!({"tenantId": TENANT, "consumerCodes": ["PT-X-1"], "businessService": "PT", "additionalDetails": details});

    let (status, body) = cancel(&kosh, criteria(json!({}))).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_CANCELL_REASON_CODE_NOT",
        Some(
            "Cancellation Reason with key 'reason' is a madnatory Text field in additionalDetails of Bill cancell Request",
        ),
    );
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_CANCELL_REASON_MSG_NOT",
        Some(
            "Cancell Reason message with key 'reasonMessage' is madnatory Text field in additionalDetails of Bill cancell Request",
        ),
    );
    let (status, body) = cancel(&kosh, criteria(json!({"reason": "", "reasonMessage": ""}))).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_CANCELL_REASON_CODE_NOT",
        Some("Cancell Reason code cannot be empty"),
    );
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_CANCELL_REASON_MSG_NOT",
        Some("Cancell Reason message cannot be empty"),
    );
    let reason = json!({"reason": "WRONG_AMOUNT", "reasonMessage": "Assessed twice"});
    let mut two = criteria(reason.clone());
    two["consumerCodes"] = json!(["PT-X-1", "PT-X-2"]);
    let (status, body) = cancel(&kosh, two).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_CANCEL_BILL_ERROR",
        Some("Only one consumer code can be provided in the Cancel request"),
    );
    let (status, body) = cancel(
        &kosh,
        json!({"consumerCodes": ["PT-X-1"], "additionalDetails": reason}),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.updateBillRequest.updateBillCriteria.tenantId",
        None,
    );

    // Nothing billed yet.
    let (status, body) = cancel(&kosh, criteria(reason.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["Message"],
        "No Active bills found for cancellation for the given criteria"
    );
    assert_eq!(body["ResponseInfo"]["status"], "400 BAD_REQUEST");

    let bill = fetch_pt(&kosh, "PT-X-1").await;
    let (status, body) = cancel(&kosh, criteria(reason.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["Message"],
        "Successfully cancelled 1 Active bills for given consumer codes"
    );
    assert_eq!(body["ResponseInfo"]["status"], "200 OK");
    assert_eq!(body["ResponseInfo"]["msgId"], "c-1");
    let cancelled = bill_by_id(&kosh, &id(&bill)).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["additionalDetails"]["reason"], "WRONG_AMOUNT");
    let (status, body) = cancel(&kosh, criteria(reason.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["Message"],
        "No Active bills found for cancellation for the given criteria"
    );

    // A fresh bill after cancellation; once paid it cannot be cancelled.
    let fresh = fetch_pt(&kosh, "PT-X-1").await;
    assert_ne!(fresh["id"], bill["id"]);
    apply(&kosh, &payment(&fresh, "pay-1", &[("PT_TAX", 300_00)]))
        .await
        .expect("payment");
    let (status, body) = cancel(&kosh, criteria(reason)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["Message"],
        "You cannot cancel the bill in the workflow"
    );
    kosh.stop().await;
}

async fn payments_keep_demand_and_bill_consistent(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    create_demand(
        &kosh,
        pt_demand(
            "PT-P-1",
            &payer,
            json!([
                tax("PT_TAX", json!(1000)),
                tax("PT_CANCER_CESS", json!(50)),
                tax("PT_TIME_REBATE", json!(-20))
            ]),
        ),
    )
    .await;
    let audits = || {
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_demand_audit WHERE consumer_code = $1",
            "PT-P-1",
        )
    };
    let first = fetch_pt(&kosh, "PT-P-1").await;
    assert_eq!(first["totalAmount"], json!(1030));

    // Refused payments change nothing.
    let mut wrong = payment(&first, "pay-x", &[("PT_TAX", 1000_01)]);
    assert_eq!(
        code_of(&apply(&kosh, &wrong).await.unwrap_err()),
        "EG_BS_PAYMENT_INVALID"
    );
    wrong.account_details[0].bill_account_detail_id = "no-such-line".into();
    wrong.account_details[0].amount = Paise::new(1);
    assert_eq!(
        code_of(&apply(&kosh, &wrong).await.unwrap_err()),
        "EG_BS_PAYMENT_INVALID"
    );
    let zero = payment(&first, "pay-0", &[("PT_TAX", 0)]);
    assert_eq!(
        code_of(&apply(&kosh, &zero).await.unwrap_err()),
        "EG_BS_PAYMENT_INVALID"
    );
    assert_eq!(
        code_of(&reverse(&kosh, &id(&first), "pay-x").await.unwrap_err()),
        "EG_BS_BILL_NOT_PAID"
    );
    assert_eq!(audits().await, 1);

    // A part payment: PARTIALLY_PAID (kept, not flattened to PAID).
    let paid = apply(&kosh, &payment(&first, "pay-1", &[("PT_TAX", 400_00)]))
        .await
        .expect("payment");
    assert_eq!(paid.status.as_str(), "PARTIALLY_PAID");
    assert_eq!(paid.amount_paid, Paise::new(400_00));
    let shown = bill_by_id(&kosh, &id(&first)).await;
    assert_eq!(shown["status"], "PARTIALLY_PAID");
    assert_eq!(shown["amountPaid"], json!(400));
    assert_eq!(account(&shown, "PT_TAX")["adjustedAmount"], json!(400));
    let demand = demand_of(&kosh, "PT-P-1").await;
    assert_eq!(collected(&demand, "PT_TAX"), json!(400));
    assert_eq!(demand["isPaymentCompleted"], false);
    assert_eq!(audits().await, 2);
    // A bill carries at most one payment.
    let again = apply(&kosh, &payment(&first, "pay-2", &[("PT_TAX", 100_00)]))
        .await
        .unwrap_err();
    assert_eq!(code_of(&again), "BILL_ALREADY_PAID");

    // The next fetch bills what is left.
    let second = fetch_pt(&kosh, "PT-P-1").await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["totalAmount"], json!(630));

    // Reversing the first payment: only its own payment id; the demand is back where it was,
    // the first bill (no longer the latest) is EXPIRED and so is the second (it assumed the
    // payment).
    assert_eq!(
        code_of(&reverse(&kosh, &id(&first), "pay-9").await.unwrap_err()),
        "EG_BS_PAYMENT_MISMATCH"
    );
    let reversed = reverse(&kosh, &id(&first), "pay-1")
        .await
        .expect("reversal");
    assert_eq!(reversed.status.as_str(), "EXPIRED");
    assert_eq!(reversed.amount_paid, Paise::ZERO);
    assert_eq!(bill_by_id(&kosh, &id(&second)).await["status"], "EXPIRED");
    assert_eq!(
        collected(&demand_of(&kosh, "PT-P-1").await, "PT_TAX"),
        json!(0)
    );
    assert_eq!(audits().await, 3);

    // Paying in full, rebate included: PAID and the demand completed; nothing left to bill.
    let third = fetch_pt(&kosh, "PT-P-1").await;
    assert_eq!(third["totalAmount"], json!(1030));
    let full = payment(
        &third,
        "pay-3",
        &[
            ("PT_TAX", 1000_00),
            ("PT_CANCER_CESS", 50_00),
            ("PT_TIME_REBATE", -20_00),
        ],
    );
    let paid = apply(&kosh, &full).await.expect("payment");
    assert_eq!(paid.status.as_str(), "PAID");
    let demand = demand_of(&kosh, "PT-P-1").await;
    assert_eq!(demand["isPaymentCompleted"], true);
    assert_eq!(collected(&demand, "PT_TIME_REBATE"), json!(-20));
    let (status, body) = fetch(
        &kosh,
        &format!("tenantId={TENANT}&businessService=PT&consumerCode=PT-P-1"),
    )
    .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_BILL_NO_DEMANDS_FOUND",
        None,
    );

    // Reversing it: still the latest bill and unexpired, so ACTIVE again and fetched as is.
    let back = reverse(&kosh, &id(&third), "pay-3")
        .await
        .expect("reversal");
    assert_eq!(back.status.as_str(), "ACTIVE");
    let demand = demand_of(&kosh, "PT-P-1").await;
    assert_eq!(demand["isPaymentCompleted"], false);
    assert_eq!(collected(&demand, "PT_TAX"), json!(0));
    assert_eq!(collected(&demand, "PT_TIME_REBATE"), json!(0));
    assert_eq!(fetch_pt(&kosh, "PT-P-1").await["id"], third["id"]);

    // An expired bill whose payment was on the way is still paid; the fresh ACTIVE bill
    // made meanwhile is expired, since its amounts assumed the money was owed.
    kosh.set_clock(END_OF_TODAY + 1).await;
    let fourth = fetch_pt(&kosh, "PT-P-1").await;
    assert_ne!(fourth["id"], third["id"]);
    let late = apply(
        &kosh,
        &payment(
            &third,
            "pay-4",
            &[
                ("PT_TAX", 1000_00),
                ("PT_CANCER_CESS", 50_00),
                ("PT_TIME_REBATE", -20_00),
            ],
        ),
    )
    .await
    .expect("late payment");
    assert_eq!(late.status.as_str(), "PAID");
    assert_eq!(bill_by_id(&kosh, &id(&fourth)).await["status"], "EXPIRED");
    assert_eq!(
        count(
            &kosh,
            "SELECT COUNT(*) FROM egbs_bill WHERE consumer_code = $1 AND status = 'ACTIVE'",
            "PT-P-1"
        )
        .await,
        0
    );

    // The books balance: each demand detail has collected what the live payments put on it.
    let collected_total: i64 = sqlx::query_scalar("SELECT CAST(SUM(collection_amount) AS BIGINT) FROM egbs_demand_detail dd JOIN egbs_demand d ON d.tenant_id = dd.tenant_id AND d.id = dd.demand_id WHERE d.consumer_code = 'PT-P-1'")
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("sum");
    let adjusted_total: i64 = sqlx::query_scalar("SELECT CAST(SUM(a.adjusted_amount) AS BIGINT) FROM egbs_bill_account_detail a JOIN egbs_bill_detail bd ON bd.tenant_id = a.tenant_id AND bd.id = a.bill_detail_id JOIN egbs_bill b ON b.tenant_id = bd.tenant_id AND b.id = bd.bill_id WHERE b.consumer_code = 'PT-P-1' AND b.status IN ('PAID', 'PARTIALLY_PAID')")
        .fetch_one(kosh.state().db.pool())
        .await
        .expect("sum");
    assert_eq!(collected_total, adjusted_total);
    assert_eq!(collected_total, 1030_00);
    kosh.stop().await;
}

async fn advance_becomes_a_credit_on_the_next_bill(backend: Backend) {
    let (kosh, payer) = start(backend).await;
    let code = "WS/107/2019-20/0002";
    let ws = |from: i64, to: i64, amount: i64| {
        json!({"tenantId": TENANT, "consumerCode": code, "consumerType": "waterConnection",
            "businessService": "WS", "payer": {"uuid": payer}, "taxPeriodFrom": from, "taxPeriodTo": to,
            "demandDetails": [tax("WS_CHARGE", json!(amount))]})
    };
    create_demand(&kosh, ws(WS_FROM, WS_TO, 500)).await;
    let query = format!("tenantId={TENANT}&businessService=WS&consumerCode={code}");
    let (_, body) = fetch(&kosh, &query).await;
    let bill = body["Bill"][0].clone();
    let mut pay = payment(&bill, "pay-adv", &[("WS_CHARGE", 500_00)]);
    pay.advance = Some(AdvancePayment {
        bill_detail_id: id(&bill["billDetails"][0]),
        amount: Paise::new(100_00),
    });
    let paid = apply(&kosh, &pay).await.expect("payment with advance");
    assert_eq!(paid.status.as_str(), "PAID");
    assert_eq!(paid.advance_amount, Paise::new(100_00));

    // The next period's bill carries the advance as a credit.
    create_demand(&kosh, ws(1_585_699_200_000, 1_617_235_199_000, 300)).await;
    let (status, body) = fetch(&kosh, &query).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let next = &body["Bill"][0];
    assert_eq!(next["totalAmount"], json!(200), "{next}");
    let advance_line = next["billDetails"][0]["billAccountDetails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["taxHeadCode"] == "WS_ADVANCE_CARRYFORWARD")
        .cloned()
        .expect("advance line");
    assert_eq!(advance_line["amount"], json!(-100));

    // Reversing the payment takes the advance away with it.
    reverse(&kosh, &id(&bill), "pay-adv")
        .await
        .expect("reversal");
    let (_, body) = fetch(&kosh, &query).await;
    assert_eq!(body["Bill"][0]["totalAmount"], json!(800), "{body}");

    // A service without advance refuses one.
    create_demand(
        &kosh,
        pt_demand("PT-A-1", &payer, json!([tax("PT_TAX", json!(100))])),
    )
    .await;
    let pt = fetch_pt(&kosh, "PT-A-1").await;
    let mut over = payment(&pt, "pay-pt", &[("PT_TAX", 100_00)]);
    over.advance = Some(AdvancePayment {
        bill_detail_id: id(&pt["billDetails"][0]),
        amount: Paise::new(1),
    });
    assert_eq!(
        code_of(&apply(&kosh, &over).await.unwrap_err()),
        "EG_BS_PAYMENT_INVALID"
    );
    kosh.stop().await;
}

async fn masters_are_answered_from_mdms(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post(
            &format!("/billing-service/taxheads/_search?tenantId={TENANT}&service=PT"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ResponseInfo"]["status"], "200 OK");
    let heads = body["TaxHeadMasters"].as_array().unwrap();
    let tax = heads
        .iter()
        .find(|h| h["code"] == "PT_TAX")
        .expect("PT_TAX");
    assert_eq!(tax["order"], 0);
    assert_eq!(tax["isDebit"], false);
    assert!(heads.iter().all(|h| h["service"] == "PT"));
    let (_, body) = kosh
        .post(&format!("/billing-service/taxheads/_search?tenantId={TENANT}&service=PT&code=PT_TAX,PT_FIRE_CESS"), json!({"RequestInfo": {}}))
        .await;
    assert_eq!(body["TaxHeadMasters"].as_array().unwrap().len(), 2);

    let (status, body) = kosh
        .post(
            &format!(
                "/billing-service/businessservices/_search?tenantId={TENANT}&businessService=PT,WS"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let services = body["BusinessServiceDetails"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    let pt = services.iter().find(|s| s["code"] == "PT").unwrap();
    assert_eq!(pt["partPaymentAllowed"], true);
    assert_eq!(pt["minAmountPayable"], 100);

    let (status, body) = kosh
        .post(
            &format!("/billing-service/taxperiods/_search?tenantId={TENANT}&service=PT"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["TaxPeriods"].as_array().unwrap().len(), 4);
    let (_, body) = kosh
        .post(
            &format!("/billing-service/taxperiods/_search?tenantId={TENANT}&service=PT&date={NOW}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(body["TaxPeriods"][0]["code"], "PTAN2019", "{body}");

    let (status, body) = kosh
        .post(
            &format!("/billing-service/taxheads/_search?tenantId={TENANT}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.taxHeadMasterCriteria.service",
        Some("must not be null"),
    );
    let (status, body) = kosh
        .post(
            "/billing-service/taxperiods/_search?service=PT",
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.taxPeriodCriteria.tenantId",
        Some("must not be null"),
    );
    kosh.stop().await;
}
