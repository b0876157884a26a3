//! DIGIT's exact behaviour where kosh had its own (issue 16, items 5 to 8), on SQLite and on
//! PostgreSQL:
//! - a negative amount paid for a payment detail names the detail's billId, as DIGIT's own
//!   API tests expect;
//! - `demand/_update` of an unknown demand reports its detail ids as unknown too;
//! - `RequestInfo` is required where DIGIT's request classes require it, whether the token
//!   comes in the body or in the `auth-token` header;
//! - text longer than DIGIT's `@Size` or column width is refused with DIGIT's bean-validation
//!   error, and nothing is written.

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_negative_detail_amount_names_the_bill_id,
    an_unknown_demands_details_are_unknown_too,
    request_info_is_required_where_digit_requires_it,
    over_long_demand_fields_are_refused_and_not_stored,
    over_long_payment_fields_are_refused_and_not_stored,
    over_long_transaction_fields_are_refused,
    over_long_user_fields_are_refused_and_not_stored,
);

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";

struct Env {
    kosh: Kosh,
    citizen_uuid: String,
    citizen_token: String,
}

async fn start(backend: Backend) -> Env {
    let kosh = Kosh::start_with(backend, |s| s.pg_reconcile_every_seconds = 0).await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
            "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let citizen_token = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
    Env {
        citizen_uuid: citizen["uuid"].as_str().expect("uuid").to_string(),
        citizen_token,
        kosh,
    }
}

fn demand_json(code: &str, payer: &str, rupees: i64) -> Value {
    json!({"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
        "businessService": "PT", "payer": {"uuid": payer},
        "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": rupees, "collectionAmount": 0}]})
}

async fn create_demand(env: &Env, code: &str, rupees: i64) -> Value {
    let (status, body) = env
        .kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"},
                "Demands": [demand_json(code, &env.citizen_uuid, rupees)]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Demands"][0].clone()
}

async fn fetch_bill(env: &Env, code: &str) -> Value {
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

/// How many demands kosh holds for a consumer code (as the administrator sees them).
async fn demands_of(env: &Env, code: &str) -> usize {
    let (status, body) = env
        .kosh
        .post(
            &format!("/billing-service/demand/_search?tenantId={TENANT}&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Demands"].as_array().map_or(0, Vec::len)
}

/// How many payments kosh holds for a bill.
async fn payments_of(env: &Env, bill_id: &str) -> usize {
    let (status, body) = env
        .kosh
        .post(
            &format!(
                "/collection-services/payments/PT/_search?tenantId={TENANT}&billIds={bill_id}"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Payments"].as_array().map_or(0, Vec::len)
}

/// POSTs `body` as it is, with `token` in the `auth-token` header only.
async fn post_with_header(
    kosh: &Kosh,
    token: &str,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(kosh.url(path))
        .header("auth-token", token)
        .json(body)
        .send()
        .await
        .expect("request");
    read(response).await
}

fn cash(bill: &Value, total: Value, detail: Value) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": TENANT, "totalDue": bill["totalAmount"], "totalAmountPaid": total,
        "paymentMode": "CASH", "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
        "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
            "totalAmountPaid": detail, "businessService": "PT"}]}})
}

fn txn_request(bill: &Value) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
        "billId": bill["id"], "consumerCode": bill["consumerCode"],
        "productInfo": "Property Tax Payment", "gateway": "SANDBOX",
        "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
        "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
        "callbackUrl": "https://ui.example/citizen/payment/success"}})
}

/// DIGIT's own API test (collection-services, "Make payment with negative total amount
/// paid"): the detail pays a negative amount, the payment the bill's total; the first error's
/// message names the detail's billId.
async fn a_negative_detail_amount_names_the_bill_id(backend: Backend) {
    let env = start(backend).await;
    create_demand(&env, "PT-WORD-5", 1000).await;
    let bill = fetch_bill(&env, "PT-WORD-5").await;
    let bill_id = bill["id"].as_str().expect("bill id").to_string();
    assert_ne!(bill["billNumber"], bill["id"], "the test tells them apart");
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/payments/_create",
            cash(&bill, json!(1000), json!(-1000)),
        )
        .await;
    let expected = format!("The amount paid for the paymentDetail with bill number: {bill_id}");
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYMENTDETAIL",
        Some(&expected),
    );
    assert_eq!(body["Errors"][0]["message"], json!(expected), "{body}");
    // Zero paid against a positive bill: the same message, with the billId.
    let (status, body) = env
        .kosh
        .post(
            "/collection-services/payments/_create",
            cash(&bill, json!(0), json!(0)),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_PAYMENTDETAIL",
        Some(&expected),
    );
    assert_eq!(payments_of(&env, &bill_id).await, 0);
    env.kosh.stop().await;
}

/// DIGIT's DemandValidatorV1.validateDemandUpdate looks every detail id up among the stored
/// details of the demands it found: an unknown demand's detail ids are unknown as well.
async fn an_unknown_demands_details_are_unknown_too(backend: Backend) {
    let env = start(backend).await;
    let stored = create_demand(&env, "PT-WORD-6", 500).await;
    let mut unknown = demand_json("PT-WORD-6", &env.citizen_uuid, 700);
    unknown["id"] = json!("no-such-demand");
    unknown["demandDetails"][0]["id"] = json!("no-such-detail");
    let (status, body) = env
        .kosh
        .post(
            "/billing-service/demand/_update",
            json!({"RequestInfo": {}, "Demands": [unknown]}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DEMANDS_NOT_FOUND",
        Some("No Demands not found in db for following ids : [no-such-demand]"),
    );
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DEMAND_DETAIL_NOTFOUND",
        Some("No Demand details found for the given ids :  [no-such-detail]"),
    );
    // A known demand with an unknown detail id: only the detail is reported.
    let mut known = stored.clone();
    known["demandDetails"][0]["id"] = json!("other-detail");
    let (status, body) = env
        .kosh
        .post(
            "/billing-service/demand/_update",
            json!({"RequestInfo": {}, "Demands": [known]}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "EG_BS_DEMAND_DETAIL_NOTFOUND",
        Some("No Demand details found for the given ids :  [other-detail]"),
    );
    let codes: Vec<&Value> = body["Errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["code"])
        .collect();
    assert!(
        !codes.contains(&&json!("EG_BS_DEMANDS_NOT_FOUND")),
        "{body}"
    );
    env.kosh.stop().await;
}

/// `@NotNull` on `requestInfo` in billing's DemandRequest and UpdateBillRequest and in
/// collection's PaymentRequest; pg's TransactionRequest has none, but its service reads the
/// RequestInfo's userInfo first and DIGIT answers the NullPointerException. A token in the
/// `auth-token` header is not a RequestInfo: DIGIT's gateway adds userInfo only to one the
/// body already has.
async fn request_info_is_required_where_digit_requires_it(backend: Backend) {
    let env = start(backend).await;
    let kosh = &env.kosh;
    let token = kosh.admin_token.clone();

    // demand/_create: refused, nothing stored.
    let body = json!({"Demands": [demand_json("PT-WORD-7", &env.citizen_uuid, 300)]});
    let (status, answer) =
        post_with_header(kosh, &token, "/billing-service/demand/_create", &body).await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NotNull.demandRequest.requestInfo",
        Some("must not be null"),
    );
    // Reported with the request's other bean-validation failures, as Spring does.
    let mut no_code = demand_json("PT-WORD-7", &env.citizen_uuid, 300);
    no_code["consumerCode"] = Value::Null;
    let (status, answer) = post_with_header(
        kosh,
        &token,
        "/billing-service/demand/_create",
        &json!({"Demands": [no_code]}),
    )
    .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NotNull.demandRequest.requestInfo",
        Some("must not be null"),
    );
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NotNull.demandRequest.demands[0].consumerCode",
        Some("must not be null"),
    );
    // A null RequestInfo is no RequestInfo either.
    let (status, answer) = post_with_header(
        kosh,
        &token,
        "/billing-service/demand/_create",
        &json!({"RequestInfo": null, "Demands": [demand_json("PT-WORD-7", &env.citizen_uuid, 300)]}),
    )
    .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NotNull.demandRequest.requestInfo",
        None,
    );
    assert_eq!(demands_of(&env, "PT-WORD-7").await, 0);

    // demand/_update: refused, the demand unchanged.
    let stored = create_demand(&env, "PT-WORD-7", 300).await;
    let mut changed = stored.clone();
    changed["demandDetails"][0]["taxAmount"] = json!(900);
    let (status, answer) = post_with_header(
        kosh,
        &token,
        "/billing-service/demand/_update",
        &json!({"Demands": [changed]}),
    )
    .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NotNull.demandRequest.requestInfo",
        Some("must not be null"),
    );
    let bill = fetch_bill(&env, "PT-WORD-7").await;
    assert_eq!(bill["totalAmount"], json!(300), "{bill}");

    // payments/_create and _validate: refused, nothing paid.
    let mut payment = cash(&bill, json!(300), json!(300));
    payment
        .as_object_mut()
        .expect("object")
        .remove("RequestInfo");
    for path in [
        "/collection-services/payments/_validate",
        "/collection-services/payments/_create",
    ] {
        let (status, answer) = post_with_header(kosh, &token, path, &payment).await;
        assert_digit_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            "NotNull.paymentRequest.requestInfo",
            Some("must not be null"),
        );
    }
    let bill_id = bill["id"].as_str().expect("bill id").to_string();
    assert_eq!(payments_of(&env, &bill_id).await, 0);

    // pg transaction/v1/_create: DIGIT's NullPointerException, no transaction.
    let mut txn = txn_request(&bill);
    txn.as_object_mut().expect("object").remove("RequestInfo");
    let (status, answer) = post_with_header(
        kosh,
        &env.citizen_token,
        "/pg-service/transaction/v1/_create",
        &txn,
    )
    .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NullPointerException",
        Some("An unhandled exception occurred on the server"),
    );
    let (status, answer) = kosh
        .post_as(
            &env.citizen_token,
            &format!("/pg-service/transaction/v1/_search?tenantId={TENANT}&billId={bill_id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["Transaction"], json!([]), "{answer}");

    // bill/v2/_cancelbill: UpdateBillRequest's field is spelled RequestInfo.
    let (status, answer) = post_with_header(
        kosh,
        &token,
        "/billing-service/bill/v2/_cancelbill",
        &json!({"UpdateBillCriteria": {"tenantId": TENANT, "consumerCodes": ["PT-WORD-7"],
            "businessService": "PT",
            "additionalDetails": {"reason": "wrong", "reasonMessage": "wrong amount"}}}),
    )
    .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "NotNull.updateBillRequest.RequestInfo",
        Some("must not be null"),
    );
    let again = fetch_bill(&env, "PT-WORD-7").await;
    assert_eq!(again["id"], bill["id"], "the bill is still ACTIVE: {again}");
    // The header token is still read: with a RequestInfo (even an empty one) the same
    // requests are served.
    let (status, answer) = post_with_header(
        kosh,
        &token,
        "/billing-service/demand/_create",
        &json!({"RequestInfo": {}, "Demands": [demand_json("PT-WORD-7H", &env.citizen_uuid, 300)]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let bill = fetch_bill(&env, "PT-WORD-7H").await;
    let mut payment = cash(&bill, json!(300), json!(300));
    payment["RequestInfo"] = json!({});
    let (status, answer) = post_with_header(
        kosh,
        &token,
        "/collection-services/payments/_create",
        &payment,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Search routes never required one.
    let (status, answer) = post_with_header(
        kosh,
        &token,
        &format!("/billing-service/demand/_search?tenantId={TENANT}&consumerCode=PT-WORD-7H"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    env.kosh.stop().await;
}

/// billing-service stores demands in `character varying(250)` columns: a 260-character
/// consumer code (or business service, consumer type, tenant, tax head) is refused as a
/// bean-validation failure, on create and on update, and nothing is stored.
async fn over_long_demand_fields_are_refused_and_not_stored(backend: Backend) {
    let env = start(backend).await;
    let long = "C".repeat(260);
    let mut demand = demand_json(&long, &env.citizen_uuid, 300);
    let (status, answer) = env
        .kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": [demand.clone()]}),
        )
        .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.demandRequest.demands[0].consumerCode",
        Some("size must be between 0 and 250"),
    );
    assert_eq!(demands_of(&env, &long).await, 0);
    // 250 characters fit.
    let fits = "C".repeat(250);
    demand["consumerCode"] = json!(fits);
    let (status, answer) = env
        .kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": [demand.clone()]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(demands_of(&env, &fits).await, 1);

    let mut other = demand_json("PT-WORD-8", &env.citizen_uuid, 300);
    other["consumerType"] = json!("T".repeat(251));
    other["demandDetails"][0]["taxHeadMasterCode"] = json!("H".repeat(300));
    let (status, answer) = env
        .kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": [other]}),
        )
        .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.demandRequest.demands[0].consumerType",
        Some("size must be between 0 and 250"),
    );
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.demandRequest.demands[0].demandDetails[0].taxHeadMasterCode",
        Some("size must be between 0 and 250"),
    );

    // An update may not carry one either.
    let stored = answer_demand(&env, &fits).await;
    let mut changed = stored.clone();
    changed["businessService"] = json!("B".repeat(251));
    let (status, answer) = env
        .kosh
        .post(
            "/billing-service/demand/_update",
            json!({"RequestInfo": {}, "Demands": [changed]}),
        )
        .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.demandRequest.demands[0].businessService",
        Some("size must be between 0 and 250"),
    );
    env.kosh.stop().await;
}

async fn answer_demand(env: &Env, code: &str) -> Value {
    let (status, body) = env
        .kosh
        .post(
            &format!("/billing-service/demand/_search?tenantId={TENANT}&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Demands"][0].clone()
}

/// collection's `@Size` on Payment and PaymentDetail: refused before the bill is read, and
/// nothing paid.
async fn over_long_payment_fields_are_refused_and_not_stored(backend: Backend) {
    let env = start(backend).await;
    create_demand(&env, "PT-WORD-8P", 400).await;
    let bill = fetch_bill(&env, "PT-WORD-8P").await;
    let bill_id = bill["id"].as_str().expect("bill id").to_string();
    let cases = [
        (
            "payerName",
            json!("A".repeat(129)),
            "Size.paymentRequest.payment.payerName",
            128,
        ),
        (
            "payerEmail",
            json!(format!("{}@example.com", "a".repeat(60))),
            "Size.paymentRequest.payment.payerEmail",
            64,
        ),
        (
            "payerId",
            json!("P".repeat(65)),
            "Size.paymentRequest.payment.payerId",
            64,
        ),
        (
            "paidBy",
            json!("A".repeat(129)),
            "Size.paymentRequest.payment.paidBy",
            128,
        ),
        (
            "payerAddress",
            json!("x".repeat(1025)),
            "Size.paymentRequest.payment.payerAddress",
            1024,
        ),
        (
            "transactionNumber",
            json!("9".repeat(129)),
            "Size.paymentRequest.payment.transactionNumber",
            128,
        ),
    ];
    for (field, value, code, max) in cases {
        let mut payment = cash(&bill, json!(400), json!(400));
        payment["Payment"][field] = value;
        let (status, answer) = env
            .kosh
            .post("/collection-services/payments/_create", payment)
            .await;
        let message = format!("size must be between 0 and {max}");
        assert_digit_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            code,
            Some(&message),
        );
    }
    let mut payment = cash(&bill, json!(400), json!(400));
    payment["Payment"]["paymentDetails"][0]["manualReceiptNumber"] = json!("M".repeat(65));
    let (status, answer) = env
        .kosh
        .post("/collection-services/payments/_create", payment)
        .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.paymentRequest.payment.paymentDetails[0].manualReceiptNumber",
        Some("size must be between 0 and 64"),
    );
    assert_eq!(payments_of(&env, &bill_id).await, 0);
    // Within the limits the same payment goes through.
    let (status, answer) = env
        .kosh
        .post(
            "/collection-services/payments/_create",
            cash(&bill, json!(400), json!(400)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    env.kosh.stop().await;
}

/// egov-pg-service's `@Size` on Transaction and its `eg_pg_transactions` columns.
async fn over_long_transaction_fields_are_refused(backend: Backend) {
    let env = start(backend).await;
    create_demand(&env, "PT-WORD-8T", 400).await;
    let bill = fetch_bill(&env, "PT-WORD-8T").await;
    let bill_id = bill["id"].as_str().expect("bill id").to_string();
    let cases: [(&str, Value, &str, &str); 3] = [
        (
            "productInfo",
            json!("p".repeat(513)),
            "Size.transactionRequest.transaction.productInfo",
            "size must be between 1 and 512",
        ),
        (
            "consumerCode",
            json!("c".repeat(129)),
            "Size.transactionRequest.transaction.consumerCode",
            "size must be between 1 and 128",
        ),
        (
            "module",
            json!("m".repeat(65)),
            "Size.transactionRequest.transaction.module",
            "size must be between 1 and 64",
        ),
    ];
    for (field, value, code, message) in cases {
        let mut txn = txn_request(&bill);
        txn["Transaction"][field] = value;
        let (status, answer) = env
            .kosh
            .post_as(
                &env.citizen_token,
                "/pg-service/transaction/v1/_create",
                txn,
            )
            .await;
        assert_digit_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            code,
            Some(message),
        );
    }
    let mut txn = txn_request(&bill);
    txn["Transaction"]["user"]["name"] = json!("N".repeat(129));
    let (status, answer) = env
        .kosh
        .post_as(
            &env.citizen_token,
            "/pg-service/transaction/v1/_create",
            txn,
        )
        .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.transactionRequest.transaction.user.name",
        Some("size must be between 0 and 128"),
    );
    let (status, answer) = env
        .kosh
        .post_as(
            &env.citizen_token,
            &format!("/pg-service/transaction/v1/_search?tenantId={TENANT}&billId={bill_id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["Transaction"], json!([]), "{answer}");
    env.kosh.stop().await;
}

/// egov-user's `@Size` on UserRequest, on `_createnovalidate` and `_updatenovalidate`.
async fn over_long_user_fields_are_refused_and_not_stored(backend: Backend) {
    let env = start(backend).await;
    let user = |mobile: &str| {
        json!({"userName": mobile, "name": "Ravi", "mobileNumber": mobile, "type": "CITIZEN",
            "active": true, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]})
    };
    let cases = [
        ("userName", json!("u".repeat(65)), 64),
        ("pan", json!("ABCDE12345X"), 10),
        ("permanentAddress", json!("a".repeat(301)), 300),
        ("locale", json!("l".repeat(17)), 16),
        ("fatherOrHusbandName", json!("F".repeat(51)), 50),
    ];
    for (field, value, max) in cases {
        let mut body = user("9876511111");
        body[field] = value;
        let (status, answer) = env.kosh.create_user_raw(body).await;
        let code = format!("Size.createUserRequest.user.{field}");
        let message = format!("size must be between 0 and {max}");
        assert_digit_error(
            status,
            &answer,
            StatusCode::BAD_REQUEST,
            &code,
            Some(&message),
        );
    }
    let (status, answer) = env
        .kosh
        .post(
            "/user/_search",
            json!({"RequestInfo": {}, "userName": "9876511111", "tenantId": "pb"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["user"], json!([]), "nothing stored: {answer}");
    // An update may not carry one either.
    let created = env.kosh.create_user(user("9876522222")).await;
    let mut changed = created.clone();
    changed["correspondenceAddress"] = json!("c".repeat(301));
    let (status, answer) = env
        .kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"RequestInfo": {}, "user": changed}),
        )
        .await;
    assert_digit_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "Size.createUserRequest.user.correspondenceAddress",
        Some("size must be between 0 and 300"),
    );
    env.kosh.stop().await;
}
