//! Foundation: MDMS, idgen, DIGIT's error bodies and the operations endpoints, over HTTP, on
//! SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    mdms_search_returns_the_asked_masters,
    mdms_filters_with_jsonpath,
    mdms_city_falls_back_to_state_and_overrides_it,
    mdms_rejects_unknown_tenants_and_missing_fields,
    mdms_get_by_query,
    idgen_fills_every_token,
    idgen_count_gives_consecutive_ids,
    idgen_mdms_format_overrides_the_request,
    idgen_unknown_name_without_format_is_id_not_found,
    idgen_failed_request_leaves_no_gap,
    idgen_parallel_requests_get_distinct_consecutive_numbers,
    malformed_json_gets_digit_400,
    unknown_route_gets_digit_404,
    operations_endpoints_answer,
);

fn search(tenant: &str, module: &str, master: &str, filter: Option<&str>) -> Value {
    let mut detail = json!({"name": master});
    if let Some(f) = filter {
        detail["filter"] = json!(f);
    }
    json!({
        "RequestInfo": {"apiId": "Rainmaker", "msgId": "m-1"},
        "MdmsCriteria": {"tenantId": tenant, "moduleDetails": [{"moduleName": module, "masterDetails": [detail]}]}
    })
}

async fn mdms_search_returns_the_asked_masters(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search("pb", "BillingService", "BusinessService", None),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let services = body["MdmsRes"]["BillingService"]["BusinessService"]
        .as_array()
        .expect("array");
    assert_eq!(services.len(), 99);
    assert!(services.iter().any(|s| s["code"] == "PT"));
    assert_eq!(
        body["ResponseInfo"],
        Value::Null,
        "DIGIT's MDMS answers ResponseInfo null"
    );
    // An unknown module is present and empty; an unknown master is absent.
    let (status, body) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search("pb", "NoSuchModule", "x", None),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["MdmsRes"], json!({"NoSuchModule": {}}));
    // Keys in another letter case are read too.
    let (status, body) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            json!({"requestInfo": {}, "mdmsCriteria": {"TENANTID": "pb", "moduledetails": [{"modulename": "tenant", "masterdetails": [{"NAME": "tenants"}]}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["MdmsRes"]["tenant"]["tenants"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    kosh.stop().await;
}

async fn mdms_filters_with_jsonpath(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search(
                "pb.amritsar",
                "BillingService",
                "BusinessService",
                Some("[?(@.code=='PT')]"),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = body["MdmsRes"]["BillingService"]["BusinessService"]
        .as_array()
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["businessService"], "PropertyTax");

    let (_, body) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search("pb", "tenant", "tenants", Some("$.*.code")),
        )
        .await;
    let codes = body["MdmsRes"]["tenant"]["tenants"].as_array().unwrap();
    assert!(codes.contains(&json!("pb.amritsar")));
    assert!(codes.iter().all(Value::is_string));

    let (status, body) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search("pb", "tenant", "tenants", Some("[?(@.code==")),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_FILTER",
        None,
    );
    kosh.stop().await;
}

async fn mdms_city_falls_back_to_state_and_overrides_it(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("kosh-mdms-{}", uuid::Uuid::new_v4().simple()));
    let write = |path: &str, body: Value| {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body.to_string()).unwrap();
    };
    write(
        "xs/tenant/tenants.json",
        json!({"tenantId": "xs", "moduleName": "tenant", "tenants": [
            {"code": "xs", "city": {"code": "1"}},
            {"code": "xs.north", "city": {"code": "2"}},
            {"code": "xs.south", "city": {"code": "3"}}
        ]}),
    );
    write(
        "xs/ACCESSCONTROL-ROLES/roles.json",
        json!({"tenantId": "xs", "moduleName": "ACCESSCONTROL-ROLES", "roles": [
            {"code": "SUPERUSER", "name": "Super User"}, {"code": "EMPLOYEE", "name": "Employee"}
        ]}),
    );
    write(
        "xs/Fees/Rates.json",
        json!({"tenantId": "xs", "moduleName": "Fees", "Rates": [{"v": "state"}, {"v": "state2"}]}),
    );
    write(
        "xs/north/Fees/Rates.json",
        json!({"tenantId": "xs.north", "moduleName": "Fees", "Rates": [{"v": "north"}]}),
    );
    let mdms_dir = dir.clone();
    let kosh = Kosh::start_with(backend, move |s| s.mdms_dir = Some(mdms_dir)).await;
    let (_, north) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search("xs.north", "Fees", "Rates", None),
        )
        .await;
    assert_eq!(north["MdmsRes"]["Fees"]["Rates"], json!([{"v": "north"}]));
    let (_, south) = kosh
        .post(
            "/egov-mdms-service/v1/_search",
            search("xs.south", "Fees", "Rates", None),
        )
        .await;
    assert_eq!(
        south["MdmsRes"]["Fees"]["Rates"],
        json!([{"v": "state"}, {"v": "state2"}])
    );
    kosh.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn mdms_rejects_unknown_tenants_and_missing_fields(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    for tenant in ["xx", "pb.nowhere"] {
        let (status, body) = kosh
            .post(
                "/egov-mdms-service/v1/_search",
                search(tenant, "tenant", "tenants", None),
            )
            .await;
        assert_digit_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "Invalid_tenantId.MdmsCriteria.tenantId",
            Some("Invalid Tenant Id"),
        );
    }
    let (status, body) = kosh
        .post("/egov-mdms-service/v1/_search", json!({"RequestInfo": {}, "MdmsCriteria": {"moduleDetails": [{"moduleName": "tenant", "masterDetails": [{"name": "tenants"}]}]}}))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NotNull.mdmsCriteriaReq.mdmsCriteria.tenantId",
        Some("must not be null"),
    );
    let (status, body) = kosh.post("/egov-mdms-service/v1/_search", json!({"RequestInfo": {}, "MdmsCriteria": {"tenantId": "pb", "moduleDetails": [{"moduleName": "tenant"}]}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    kosh.stop().await;
}

async fn mdms_get_by_query(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post("/egov-mdms-service/v1/_get?moduleName=common-masters&masterName=ReceiptStatus&tenantId=pb.amritsar", json!({"RequestInfo": {}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["MdmsRes"]["common-masters"]["ReceiptStatus"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (status, body) = kosh
        .post(
            "/egov-mdms-service/v1/_get?masterName=ReceiptStatus&tenantId=pb",
            json!({}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "",
        Some("Required String parameter 'moduleName' is not present"),
    );
    assert_eq!(body["Errors"][0]["params"], json!(["moduleName"]));
    kosh.stop().await;
}

fn idgen(tenant: &str, name: &str, format: Option<&str>, count: Option<i64>) -> Value {
    let mut request = json!({"idName": name, "tenantId": tenant});
    if let Some(f) = format {
        request["format"] = json!(f);
    }
    if let Some(c) = count {
        request["count"] = json!(c);
    }
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "idRequests": [request]})
}

fn ids(body: &Value) -> Vec<String> {
    body["idResponses"]
        .as_array()
        .unwrap_or_else(|| panic!("no idResponses in {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn idgen_fills_every_token(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    // 2026-05-10 12:00 IST: financial year 2026-27.
    kosh.set_clock(1_778_394_600_000).await;
    let format = "K-[SEQ_KT_[TENANT_ID]]-[fy:yyyy-yy]-[cy:yyyy_MM_dd]-[CITY.CODE]-[tenantid]-[tenant_id]-[d{4}]";
    let (status, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("pb.amritsar", "kosh.test.all", Some(format), None),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["responseInfo"]["apiId"], "Rainmaker");
    let id = &ids(&body)[0];
    let prefix = "K-000001-2026-27-2026_05_10-107-pb.amritsar-pb_amritsar-";
    assert!(id.starts_with(prefix), "{id}");
    let random = &id[prefix.len()..];
    assert_eq!(random.len(), 4, "{id}");
    assert!(random.bytes().all(|b| b.is_ascii_digit()), "{id}");
    kosh.stop().await;
}

async fn idgen_count_gives_consecutive_ids(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("pb.amritsar", "kosh.count", Some("C-[SEQ_COUNT]"), Some(3)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), vec!["C-000001", "C-000002", "C-000003"]);
    let (_, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("pb.jalandhar", "kosh.count", Some("C-[SEQ_COUNT]"), None),
        )
        .await;
    assert_eq!(
        ids(&body),
        vec!["C-000004"],
        "a sequence is shared by the cities of a state"
    );
    kosh.stop().await;
}

async fn idgen_mdms_format_overrides_the_request(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    // pb's IdFormat has billnumberid = BILL-[SEQ_EGOV_COMMON_TEST_AUTOCRE].
    let (status, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("pb.amritsar", "billnumberid", Some("MINE-[SEQ_X]"), None),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), vec!["BILL-000001"]);
    kosh.stop().await;
}

async fn idgen_unknown_name_without_format_is_id_not_found(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("pb.amritsar", "no.such.id", None, None),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "ID_NOT_FOUND",
        Some("No Format is available in the MDMS for the given name and tenant"),
    );
    assert_eq!(
        body["ResponseInfo"]["status"], "FAILED",
        "idgen's error body carries a ResponseInfo"
    );
    let (status, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            json!({"RequestInfo": {}, "idRequests": [{"idName": "x"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("zz.none", "billnumberid", None, None),
        )
        .await;
    // The gateway refuses a tenant no role of the caller covers, as DIGIT's does.
    assert_digit_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "CustomException",
        Some("Not authorized to access this resource"),
    );
    kosh.stop().await;
}

async fn idgen_failed_request_leaves_no_gap(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let body = json!({"RequestInfo": {}, "idRequests": [
        {"idName": "kosh.gap", "tenantId": "pb.amritsar", "format": "G-[SEQ_GAP]"},
        {"idName": "no.such.id", "tenantId": "pb.amritsar"}
    ]});
    let (status, _) = kosh.post("/egov-idgen/id/_generate", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, body) = kosh
        .post(
            "/egov-idgen/id/_generate",
            idgen("pb.amritsar", "kosh.gap", Some("G-[SEQ_GAP]"), None),
        )
        .await;
    assert_eq!(
        ids(&body),
        vec!["G-000001"],
        "the rolled-back number is used again"
    );
    kosh.stop().await;
}

async fn idgen_parallel_requests_get_distinct_consecutive_numbers(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let requests = (0..200).map(|_| {
        kosh.post(
            "/egov-idgen/id/_generate",
            idgen("pb.amritsar", "kosh.parallel", Some("[SEQ_PARALLEL]"), None),
        )
    });
    let answers = futures::future::join_all(requests).await;
    let mut numbers = BTreeSet::new();
    for (status, body) in answers {
        assert_eq!(status, StatusCode::OK, "{body}");
        numbers.insert(ids(&body)[0].parse::<u32>().unwrap());
    }
    assert_eq!(numbers, (1..=200).collect::<BTreeSet<u32>>());
    kosh.stop().await;
}

async fn malformed_json_gets_digit_400(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post_raw("/egov-idgen/id/_generate", "{\"RequestInfo\": {,,}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["Errors"][0]["message"], "Failed to deserialize certain JSON fields",
        "{body}"
    );
    // Valid JSON, wrong type for a field.
    let (status, body) = kosh
        .post_raw(
            "/egov-idgen/id/_generate",
            "{\"idRequests\": {\"idName\": 5}}",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["Errors"][0]["message"], "Failed to deserialize certain JSON fields",
        "{body}"
    );
    let (status, body) = kosh.post_raw("/egov-idgen/id/_generate", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["Errors"][0]["code"], "MissingJsonException", "{body}");
    assert_eq!(
        body["Errors"][0]["message"], "JSON body has errors or is missing",
        "{body}"
    );
    kosh.stop().await;
}

async fn unknown_route_gets_digit_404(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh.post("/no/such/route", json!({})).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        Some("The resource - /no/such/route not found"),
    );
    let (status, body) = kosh.get("/egov-idgen/id/_generate").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(body["Errors"][0]["message"].is_string());
    kosh.stop().await;
}

async fn operations_endpoints_answer(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh.get("/health").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "UP"})));
    let (status, body) = kosh.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    kosh.post(
        "/egov-mdms-service/v1/_search",
        search("pb", "tenant", "tenants", None),
    )
    .await;
    let (status, text) = kosh.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("kosh_http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/egov-mdms-service/v1/_search\""),
        "{text}"
    );
    assert!(
        text.contains("kosh_http_request_duration_seconds_bucket"),
        "{text}"
    );
    let (status, doc) = kosh.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/egov-mdms-service/v1/_search",
        "/egov-mdms-service/v1/_get",
        "/egov-idgen/id/_generate",
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from /openapi.json"
        );
    }
    let (status, html) = kosh.get_text("/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("swagger"), "{html}");
    // Every answer carries a request id.
    let response = kosh.client.get(kosh.url("/health")).send().await.unwrap();
    assert!(response.headers().get("x-request-id").is_some());
    kosh.stop().await;
}
