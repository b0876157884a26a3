//! Request size and nesting limits, over HTTP, on SQLite and on PostgreSQL: a body over
//! `KOSH_MAX_BODY_BYTES` is a 413 in DIGIT's error format whether or not the route needs a
//! token, JSON nested 10,000 deep is a 400 (serde_json stops at 128 levels, before any
//! recursion can overflow the stack), a string field of nearly a megabyte and a payment over
//! thousands of bills are 400s — and after each the server still answers.

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_body_over_the_limit_is_a_digit_413,
    deeply_nested_json_is_a_digit_400,
    a_very_long_string_field_is_a_digit_400,
    a_payment_over_thousands_of_bills_is_a_digit_400,
    input_the_database_cannot_store_is_a_digit_400,
);

/// The limit the tests configure: small, so that "over the limit" stays cheap.
const LIMIT: usize = 16 * 1024;

const IDGEN: &str = "/egov-idgen/id/_generate";
/// Open (no token needed): the body limit must hold before and without authentication.
const MDMS: &str = "/egov-mdms-service/v1/_search";

async fn send(kosh: &Kosh, path: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = kosh
        .client
        .post(kosh.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header("auth-token", token);
    }
    read(request.send().await.expect("request")).await
}

/// POSTs `chunks` chunks of `size` spaces with `Transfer-Encoding: chunked` over a raw
/// socket (so no Content-Length tells kosh the size in advance); the answer's status and
/// body. kosh may answer and close before all chunks are sent: write errors are ignored.
async fn send_chunked(
    kosh: &Kosh,
    path: &str,
    token: &str,
    chunks: usize,
    size: usize,
) -> (StatusCode, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = kosh.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nauth-token: {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("headers");
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..chunks {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:.300}"));
    let (_, rest) = text.split_once("\r\n\r\n").expect("headers end");
    // The body may itself be chunked: take the JSON object out of it.
    let json = rest
        .find('{')
        .zip(rest.rfind('}'))
        .map(|(a, b)| &rest[a..=b])
        .unwrap_or("null");
    (
        StatusCode::from_u16(status).expect("status"),
        serde_json::from_str(json).unwrap_or(Value::Null),
    )
}

/// The server still answers, and still does real work.
async fn still_up(kosh: &Kosh) {
    let (status, body) = kosh.get("/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .post(
            IDGEN,
            json!({"idRequests": [{"idName": "x", "tenantId": "pb.amritsar", "format": "X-[SEQ_X]"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A valid idgen request padded with a long `RequestInfo.msgId` to exactly `len` bytes.
fn idgen_body_of(len: usize) -> Vec<u8> {
    let head = r#"{"RequestInfo":{"msgId":""#;
    let tail = r#""},"idRequests":[{"idName":"x","tenantId":"pb.amritsar","format":"X-[SEQ_X]"}]}"#;
    let pad = len - head.len() - tail.len();
    format!("{head}{}{tail}", "m".repeat(pad)).into_bytes()
}

async fn a_body_over_the_limit_is_a_digit_413(backend: Backend) {
    let kosh = Kosh::start_with(backend, |s| s.max_body_bytes = LIMIT).await;
    let token = kosh.admin_token.clone();

    // Exactly at the limit is accepted.
    let (status, body) = send(&kosh, IDGEN, Some(&token), idgen_body_of(LIMIT)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // One byte over: refused, with a token, without one, and on an open route.
    let over = idgen_body_of(LIMIT + 1);
    for (path, token) in [(IDGEN, Some(token.as_str())), (IDGEN, None), (MDMS, None)] {
        let (status, body) = send(&kosh, path, token, over.clone()).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            Some("The request body is too large"),
        );
    }

    // Far over (64 times the limit), sent chunked without a Content-Length: still a 413,
    // and kosh stops reading at the limit instead of buffering it all.
    let (status, body) = send_chunked(&kosh, IDGEN, &token, 64, LIMIT).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        None,
    );
    still_up(&kosh).await;
    kosh.stop().await;
}

async fn deeply_nested_json_is_a_digit_400(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let token = kosh.admin_token.clone();
    const DEPTH: usize = 10_000;
    let arrays = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(DEPTH), "}".repeat(DEPTH));
    // Nested inside an otherwise valid request, where the token would be read from.
    let inside = format!(
        r#"{{"RequestInfo":{{"authToken":"{token}","plainAccessRequest":{arrays}}},"idRequests":[]}}"#
    );
    // Unclosed: the parser must give up at its depth limit, not at the end of input.
    let unclosed = "[".repeat(DEPTH);
    for body in [&arrays, &objects, &inside, &unclosed] {
        for (path, token) in [(IDGEN, Some(token.as_str())), (MDMS, None)] {
            let (status, answer) = send(&kosh, path, token, body.clone().into_bytes()).await;
            assert_digit_error(
                status,
                &answer,
                StatusCode::BAD_REQUEST,
                "JsonParseException",
                Some("Failed to deserialize certain JSON fields"),
            );
            let description = answer["Errors"][0]["description"].as_str().unwrap_or("");
            assert!(
                description.contains("recursion limit"),
                "the answer says why: {answer}"
            );
        }
    }
    // Nesting well within the limit, in a free-form field, is fine.
    let modest = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let (status, answer) = send(
        &kosh,
        IDGEN,
        Some(&token),
        format!(
            r#"{{"RequestInfo":{{"plainAccessRequest":{modest}}},"idRequests":[{{"idName":"x","tenantId":"pb.amritsar","format":"X-[SEQ_X]"}}]}}"#
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    still_up(&kosh).await;
    kosh.stop().await;
}

async fn a_very_long_string_field_is_a_digit_400(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    // Just under the default 1 MiB limit.
    let long = "p".repeat(1000 * 1000);
    let (status, body) = kosh
        .post(
            MDMS,
            json!({"MdmsCriteria": {"tenantId": long, "moduleDetails": [
                {"moduleName": "tenant", "masterDetails": [{"name": "tenants"}]}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.300}");
    assert!(body["Errors"][0]["code"].is_string(), "{body:.300}");
    let (status, body) = kosh
        .post(
            IDGEN,
            json!({"idRequests": [{"idName": long, "tenantId": "pb.amritsar"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.300}");
    assert!(body["Errors"][0]["code"].is_string(), "{body:.300}");
    // A JSONPath filter nested 20,000 deep is a filter error, not a crash.
    let filter = format!(
        "[?({}@.code=='PT'{})]",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let (status, body) = kosh
        .post(
            MDMS,
            json!({"MdmsCriteria": {"tenantId": "pb", "moduleDetails": [
                {"moduleName": "BillingService", "masterDetails": [{"name": "BusinessService", "filter": filter}]}]}}),
        )
        .await;
    // (Before the nesting limit in crates/mdms/src/filter.rs this aborted kosh with a stack
    // overflow in the JSONPath parser.)
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.300}");
    assert!(body["Errors"][0]["code"].is_string(), "{body:.300}");
    still_up(&kosh).await;
    kosh.stop().await;
}

async fn a_payment_over_thousands_of_bills_is_a_digit_400(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    const BILLS: usize = 10_000;
    let details: Vec<Value> = (0..BILLS)
        .map(|i| json!({"billId": format!("bill-{i}"), "totalDue": 100, "totalAmountPaid": 100, "businessService": "PT"}))
        .collect();
    let body = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": "pb.amritsar", "totalAmountPaid": 100 * BILLS, "paymentMode": "CASH",
        "paidBy": "Asha", "payerName": "Asha", "mobileNumber": "9876543210",
        "paymentDetails": details}});
    assert!(
        body.to_string().len() < 1024 * 1024,
        "within the default limit"
    );
    let (status, answer) = kosh
        .post("/collection-services/payments/_create", body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer:.500}");
    assert!(answer["Errors"][0]["code"].is_string(), "{answer:.500}");
    // Nothing was written.
    let (status, found) = kosh
        .post(
            "/collection-services/payments/_search?tenantId=pb.amritsar",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found:.300}");
    assert_eq!(
        found["Payments"].as_array().map(Vec::len),
        Some(0),
        "{found:.300}"
    );
    still_up(&kosh).await;
    kosh.stop().await;
}

/// A NUL character (which PostgreSQL cannot store in text) is refused as DIGIT's 400 before
/// it reaches the database, on open routes and token routes, in a form, a query or a JSON
/// body; a value too long for its column is never a 5xx; no answer carries a driver's words.
async fn input_the_database_cannot_store_is_a_digit_400(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let leaks = |body: &Value| {
        let text = body.to_string().to_ascii_lowercase();
        [
            "sqlx",
            "sqlstate",
            "postgres",
            "sqlite",
            "byte sequence",
            "value too long",
        ]
        .iter()
        .any(|w| text.contains(w))
    };
    // Sign-in, open, as a form.
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", kosh_blackbox::BASIC_CLIENT)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&scope=read&username=adm%00in&password=x&tenantId=pb&userType=EMPLOYEE")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_INPUT",
        None,
    );
    // A query criterion, and a gateway's callback parameter.
    for path in [
        "/billing-service/bill/v2/_fetchbill?tenantId=pb.amritsar&businessService=PT&consumerCode=PT%001",
        "/pg-service/transaction/v1/_update?eg_pg_txnid=PB%00PG",
    ] {
        let (status, body) = kosh.post(path, json!({"RequestInfo": {}})).await;
        assert_digit_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            None,
        );
    }
    // A JSON body.
    let demand = |code: &str| {
        json!({"RequestInfo": {}, "Demands": [{"tenantId": "pb.amritsar", "consumerCode": code,
            "consumerType": "BUILTUP", "businessService": "PT", "taxPeriodFrom": 1_554_076_800_000i64,
            "taxPeriodTo": 1_585_679_399_000i64,
            "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 100, "collectionAmount": 0}]}]})
    };
    let (status, body) = kosh
        .post("/billing-service/demand/_create", demand("PT\u{0}1"))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_INPUT",
        None,
    );
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_search?tenantId=pb.amritsar&businessService=PT",
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Demands"], json!([]), "nothing was written: {body}");
    // Too long for its column: refused or stored, never a 5xx, never the driver's words.
    let (status, body) = kosh
        .post("/billing-service/demand/_create", demand(&"P".repeat(300)))
        .await;
    assert!(status.as_u16() < 500, "{status} {body}");
    assert!(!leaks(&body), "{body}");
    kosh.stop().await;
}
