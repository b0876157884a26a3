//! The authorization matrix's data dimension (issue 15 item 2): who sees whose records.
//! `authorization.rs` checks route × role against the shipped role-actions; here two
//! citizens each have demands, bills, counter payments, pg transactions and BBPS postings
//! in two cities, two BBPS operating units each have postings and complaints, and every
//! search route is asked about someone else's data (and, as positive controls, the
//! viewer's own) as a user of every shipped role:
//!
//! - CITIZEN (citizen A): only A's own records; asking about B's consumer code, mobile
//!   number or uuid finds nothing (DIGIT's normal answer for nothing found), and no answer
//!   carries B's mobile number or uuid.
//! - BBPS (operating unit 1, a SYSTEM user): bills by consumer code (an agent with the
//!   customer's account number), never by a person's mobile; only its own postings,
//!   complaints and report lines; no citizen's pg transaction and no city's payments.
//! - every other role, held at pb.amritsar by an employee: every record of Amritsar, a
//!   403 in DIGIT's format for Jalandhar, nothing of Jalandhar where a route names no
//!   tenant; a role the route's role-actions do not list: 403.
//!
//! The write dimension tries every route that changes records on records that are not the
//! writer's, as a user of every shipped role, and checks they are refused and unchanged.

use std::collections::{BTreeMap, BTreeSet};

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    every_search_route_with_every_role_and_someone_elses_data,
    every_update_route_with_every_role_and_someone_elses_data,
    citizens_find_only_their_own_records,
    bbps_units_see_and_touch_only_their_own_postings_and_complaints,
    a_city_employee_sees_its_city_and_is_refused_another,
);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const TODAY: &str = "2019-06-15";
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const AMR: &str = "pb.amritsar";
const JAL: &str = "pb.jalandhar";
const A_MOBILE: &str = "9876543210";
const B_MOBILE: &str = "9876500000";
const PASSWORD: &str = "Secret@123";
const UNIT_PASSWORD: &str = "Bbps@2026x";
const PT_BILLER: &str = "PBMT00000PUN01";
const U1_REF: &str = "AU019166DATA00000001";
const U2_REF: &str = "AU029166DATA00000002";
const U1_COMPLAINT: &str = "CC1000000001";
const U2_COMPLAINT: &str = "CC2000000002";

struct Citizen {
    token: String,
    uuid: String,
}

/// The records every test looks at.
///
/// | code | city | payer | state |
/// |---|---|---|---|
/// | PT-A-1 | Amritsar | A | unpaid, A's pg transaction pending |
/// | PT-A-2 | Amritsar | A | paid at the counter (A's mobile) |
/// | PT-A-3 | Amritsar | A | paid through BBPS unit 1 ([`U1_REF`]) |
/// | PT-B-1 | Amritsar | B | unpaid, B's pg transaction pending |
/// | PT-B-2 | Amritsar | B | paid at the counter (B's mobile) |
/// | PT-B-3 | Jalandhar | B | paid through BBPS unit 2 ([`U2_REF`]) |
/// | PT-B-4 | Jalandhar | B | unpaid, B's pg transaction pending |
struct World {
    kosh: Kosh,
    a: Citizen,
    b: Citizen,
    unit1: String,
    unit2: String,
    /// pg transaction ids by consumer code.
    txns: BTreeMap<&'static str, String>,
    /// BBPS approval references (receipt numbers) by transaction reference.
    approvals: BTreeMap<&'static str, String>,
    /// PT-B-1's bill.
    b1: Value,
}

async fn citizen(kosh: &Kosh, mobile: &str, name: &str) -> Citizen {
    let user = kosh
        .create_user(json!({"userName": mobile, "name": name, "mobileNumber": mobile, "type": "CITIZEN",
            "active": true, "password": PASSWORD, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}))
        .await;
    Citizen {
        token: kosh.token(mobile, PASSWORD, "pb", "CITIZEN").await,
        uuid: user["uuid"].as_str().expect("uuid").to_string(),
    }
}

async fn unit(kosh: &Kosh, name: &str) -> String {
    kosh.create_user(
        json!({"userName": name, "name": name, "type": "SYSTEM", "active": true,
        "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    kosh.token(name, UNIT_PASSWORD, "pb", "SYSTEM").await
}

/// An employee of `tenant` holding `roles` there.
async fn employee(kosh: &Kosh, user_name: &str, tenant: &str, roles: &[&str]) -> String {
    let roles: Vec<Value> = roles
        .iter()
        .map(|code| json!({"code": code, "tenantId": tenant}))
        .collect();
    kosh.create_user(
        json!({"userName": user_name, "name": "Employee", "type": "EMPLOYEE", "active": true,
        "password": PASSWORD, "tenantId": tenant, "roles": roles}),
    )
    .await;
    kosh.token(user_name, PASSWORD, tenant, "EMPLOYEE").await
}

async fn demand(kosh: &Kosh, tenant: &str, code: &str, payer: &str) -> Value {
    let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": tenant, "consumerCode": code, "consumerType": "BUILTUP",
        "businessService": "PT", "payer": {"uuid": payer}, "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
        "minimumAmountPayable": 0,
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 1000, "collectionAmount": 0}]}]});
    let (status, answer) = kosh.post("/billing-service/demand/_create", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

async fn counter_payment(kosh: &Kosh, bill: &Value, name: &str, mobile: &str) {
    let body = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": bill["tenantId"], "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH",
        "paidBy": name, "payerName": name, "mobileNumber": mobile,
        "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
            "totalAmountPaid": bill["totalAmount"], "businessService": "PT"}]}});
    let (status, answer) = kosh
        .post("/collection-services/payments/_create", body)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn pg_transaction(
    kosh: &Kosh,
    who: &Citizen,
    bill: &Value,
    name: &str,
    mobile: &str,
) -> String {
    let request = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": bill["tenantId"], "txnAmount": bill["totalAmount"], "module": "PT",
        "billId": bill["id"], "consumerCode": bill["consumerCode"],
        "productInfo": "Property Tax Payment", "gateway": "SANDBOX",
        "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
        "user": {"name": name, "mobileNumber": mobile, "tenantId": "pb"},
        "callbackUrl": "https://ui.example/citizen/payment/success"}});
    let (status, body) = kosh
        .post_as(&who.token, "/pg-service/transaction/v1/_create", request)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Transaction"]["txnId"]
        .as_str()
        .expect("txnId")
        .to_string()
}

fn posting(reference: &str, city: &str, code: &str, mobile: &str) -> Value {
    json!({"RequestInfo": {"apiId": "bbps"}, "billerId": PT_BILLER, "txnReferenceId": reference, "refId": "FETCH1",
        "paymentRefId": "UPI0000123456",
        "customerParams": [{"name": "City", "value": city}, {"name": "Property ID", "value": code}],
        "customerMobile": mobile, "amount": 100000, "paymentMode": "UPI", "paymentChannel": "MOB",
        "agentId": "AU01AU02INT529468291", "txnTimestamp": "2019-06-15T10:00:00+05:30"})
}

async fn bbps_posting(kosh: &Kosh, unit: &str, body: Value) -> String {
    let (status, answer) = kosh.post_as(unit, "/bbps/v1/payments", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "SUCCESS", "{answer}");
    answer["reason"]["approvalRefNum"]
        .as_str()
        .expect("approvalRefNum")
        .to_string()
}

async fn complaint(kosh: &Kosh, unit: &str, id: &str, reference: &str) {
    let (status, answer) = kosh
        .post_as(
            unit,
            "/bbps/v1/complaints",
            json!({"complaintType": "Transaction", "complaintId": id, "txnReferenceId": reference,
                "disposition": "Transaction Successful, account not updated"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn world(backend: Backend) -> World {
    let kosh = Kosh::start_with(backend, |s| s.pg_reconcile_every_seconds = 0).await;
    kosh.set_clock(NOW).await;
    let a = citizen(&kosh, A_MOBILE, "Asha").await;
    let b = citizen(&kosh, B_MOBILE, "Ravi").await;
    let unit1 = unit(&kosh, "bbps-unit-one").await;
    let unit2 = unit(&kosh, "bbps-unit-two").await;

    let a1 = demand(&kosh, AMR, "PT-A-1", &a.uuid).await;
    let a2 = demand(&kosh, AMR, "PT-A-2", &a.uuid).await;
    demand(&kosh, AMR, "PT-A-3", &a.uuid).await;
    let b1 = demand(&kosh, AMR, "PT-B-1", &b.uuid).await;
    let b2 = demand(&kosh, AMR, "PT-B-2", &b.uuid).await;
    demand(&kosh, JAL, "PT-B-3", &b.uuid).await;
    let b4 = demand(&kosh, JAL, "PT-B-4", &b.uuid).await;

    counter_payment(&kosh, &a2, "Asha", A_MOBILE).await;
    counter_payment(&kosh, &b2, "Ravi", B_MOBILE).await;
    let mut txns = BTreeMap::new();
    txns.insert(
        "PT-A-1",
        pg_transaction(&kosh, &a, &a1, "Asha", A_MOBILE).await,
    );
    txns.insert(
        "PT-B-1",
        pg_transaction(&kosh, &b, &b1, "Ravi", B_MOBILE).await,
    );
    txns.insert(
        "PT-B-4",
        pg_transaction(&kosh, &b, &b4, "Ravi", B_MOBILE).await,
    );
    let mut approvals = BTreeMap::new();
    approvals.insert(
        U1_REF,
        bbps_posting(
            &kosh,
            &unit1,
            posting(U1_REF, "Amritsar", "PT-A-3", A_MOBILE),
        )
        .await,
    );
    approvals.insert(
        U2_REF,
        bbps_posting(&kosh, &unit2, posting(U2_REF, JAL, "PT-B-3", B_MOBILE)).await,
    );
    complaint(&kosh, &unit1, U1_COMPLAINT, U1_REF).await;
    complaint(&kosh, &unit2, U2_COMPLAINT, U2_REF).await;
    World {
        kosh,
        a,
        b,
        unit1,
        unit2,
        txns,
        approvals,
        b1,
    }
}

/// What a viewer should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// An answer holding the record.
    Visible,
    /// DIGIT's answer for nothing found (a 200 or 201 without it; fetch-bill's 400
    /// `EG_BS_BILL_NO_DEMANDS_FOUND`): the record is not there for this viewer.
    Hidden,
    /// 403 in DIGIT's error format.
    Refused,
}
use Expect::{Hidden, Refused, Visible};

/// One question about one record, and what a citizen (A), a BBPS unit (unit 1) and an
/// Amritsar employee holding a role the route's role-actions list should get.
struct Probe {
    /// The role-action url the route is mapped under.
    action: &'static str,
    path: String,
    body: Value,
    /// Text only the record's presence puts in the answer.
    marker: String,
    citizen: Expect,
    unit: Expect,
    employee: Expect,
}

fn probe(
    action: &'static str,
    path: String,
    marker: impl Into<String>,
    [citizen, unit, employee]: [Expect; 3],
) -> Probe {
    Probe {
        action,
        path,
        body: json!({"RequestInfo": {}}),
        marker: marker.into(),
        citizen,
        unit,
        employee,
    }
}

fn probes(w: &World) -> Vec<Probe> {
    let b = &w.b.uuid;
    let b1_bill = w.b1["id"].as_str().expect("bill id");
    let b1_demand = w.b1["billDetails"][0]["demandId"]
        .as_str()
        .expect("demand id");
    let txn = |code: &str| w.txns[code].clone();
    let demand = "/billing-service/demand/_search";
    let search = "/billing-service/bill/v2/_search";
    let fetch = "/billing-service/bill/v2/_fetchbill";
    let payments = "/collection-services/payments/_search";
    let pt_payments = "/collection-services/payments/PT/_search";
    let pg = "/pg-service/transaction/v1/_search";
    let egov_pg = "/egov-pg-service/transaction/v1/_search";
    let mut out = vec![
        // Demands: the citizen's whole-city search returns their own only.
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&businessService=PT"),
            "PT-B-1",
            [Hidden, Refused, Visible],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&businessService=PT"),
            "PT-A-1",
            [Visible, Refused, Visible],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&businessService=PT&consumerCode=PT-B-1"),
            "PT-B-1",
            [Hidden, Refused, Visible],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&mobileNumber={B_MOBILE}"),
            "PT-B-1",
            [Hidden, Refused, Visible],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&businessService=PT&payer={b}"),
            "PT-B-1",
            [Hidden, Refused, Visible],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&mobileNumber={A_MOBILE}"),
            "PT-A-1",
            [Visible, Refused, Visible],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={JAL}&businessService=PT"),
            "PT-B-4",
            [Hidden, Refused, Refused],
        ),
        probe(
            demand,
            format!("{demand}?tenantId={AMR}&demandId={b1_demand}"),
            "PT-B-1",
            [Hidden, Refused, Visible],
        ),
        // Bills.
        probe(
            search,
            format!("{search}?tenantId={AMR}&billId={b1_bill}"),
            "PT-B-1",
            [Hidden, Visible, Visible],
        ),
        probe(
            search,
            format!("{search}?tenantId={AMR}&service=PT&consumerCode=PT-B-1"),
            "PT-B-1",
            [Hidden, Visible, Visible],
        ),
        probe(
            search,
            format!("{search}?tenantId={AMR}&mobileNumber={B_MOBILE}"),
            "PT-B-1",
            [Hidden, Hidden, Visible],
        ),
        probe(
            search,
            format!("{search}?tenantId={AMR}&mobileNumber={A_MOBILE}"),
            "PT-A-1",
            [Visible, Hidden, Visible],
        ),
        probe(
            search,
            format!("{search}?tenantId={AMR}&service=PT&consumerCode=PT-A-1"),
            "PT-A-1",
            [Visible, Visible, Visible],
        ),
        probe(
            search,
            format!("{search}?tenantId={JAL}&service=PT&consumerCode=PT-B-4"),
            "PT-B-4",
            [Hidden, Visible, Refused],
        ),
        probe(
            fetch,
            format!("{fetch}?tenantId={AMR}&businessService=PT&consumerCode=PT-B-1"),
            "PT-B-1",
            [Hidden, Visible, Visible],
        ),
        probe(
            fetch,
            format!("{fetch}?tenantId={AMR}&businessService=PT&mobileNumber={B_MOBILE}"),
            "PT-B-1",
            [Hidden, Hidden, Visible],
        ),
        // DIGIT's "My bills": fetch-bill by the citizen's own mobile number alone.
        probe(
            fetch,
            format!("{fetch}?tenantId={AMR}&businessService=PT&mobileNumber={A_MOBILE}"),
            "PT-A-1",
            [Visible, Hidden, Visible],
        ),
        probe(
            fetch,
            format!("{fetch}?tenantId={JAL}&businessService=PT&consumerCode=PT-B-4"),
            "PT-B-4",
            [Hidden, Visible, Refused],
        ),
        // Pg transactions: the creator's, or the tenants an employee reaches.
        probe(
            pg,
            format!("{pg}?tenantId={AMR}"),
            txn("PT-B-1"),
            [Hidden, Hidden, Visible],
        ),
        probe(
            pg,
            format!("{pg}?userUuid={b}"),
            txn("PT-B-1"),
            [Hidden, Hidden, Visible],
        ),
        probe(
            pg,
            format!("{pg}?tenantId={AMR}&consumerCode=PT-B-1"),
            txn("PT-B-1"),
            [Hidden, Hidden, Visible],
        ),
        probe(
            pg,
            format!("{pg}?txnId={}", txn("PT-B-4")),
            txn("PT-B-4"),
            [Hidden, Hidden, Hidden],
        ),
        probe(
            pg,
            format!("{pg}?tenantId={JAL}"),
            txn("PT-B-4"),
            [Hidden, Hidden, Refused],
        ),
        probe(
            pg,
            format!("{pg}?tenantId={AMR}&txnId={}", txn("PT-A-1")),
            txn("PT-A-1"),
            [Visible, Hidden, Visible],
        ),
        // The same API under the API reference's prefix, with its `user_uuid` spelling.
        probe(
            egov_pg,
            format!("{egov_pg}?tenantId={AMR}"),
            txn("PT-B-1"),
            [Hidden, Hidden, Visible],
        ),
        probe(
            egov_pg,
            format!("{egov_pg}?user_uuid={b}"),
            txn("PT-B-1"),
            [Hidden, Hidden, Visible],
        ),
        probe(
            egov_pg,
            format!("{egov_pg}?tenantId={AMR}&txnId={}", txn("PT-A-1")),
            txn("PT-A-1"),
            [Visible, Hidden, Visible],
        ),
    ];
    // Payments, through both search routes.
    for route in [payments, pt_payments] {
        out.extend([
            probe(
                route,
                format!("{route}?tenantId={AMR}"),
                "PT-B-2",
                [Hidden, Hidden, Visible],
            ),
            probe(
                route,
                format!("{route}?tenantId={AMR}&mobileNumber={B_MOBILE}"),
                "PT-B-2",
                [Hidden, Hidden, Visible],
            ),
            probe(
                route,
                format!("{route}?tenantId={AMR}&consumerCodes=PT-B-2"),
                "PT-B-2",
                [Hidden, Hidden, Visible],
            ),
            probe(
                route,
                format!("{route}?tenantId={AMR}&consumerCodes=PT-A-2"),
                "PT-A-2",
                [Visible, Hidden, Visible],
            ),
            // Unit 1's posting for A: A's payment and the unit's own.
            probe(
                route,
                format!("{route}?tenantId={AMR}&consumerCodes=PT-A-3"),
                "PT-A-3",
                [Visible, Visible, Visible],
            ),
            probe(
                route,
                format!("{route}?tenantId={JAL}"),
                "PT-B-3",
                [Hidden, Hidden, Refused],
            ),
        ]);
    }
    // BBPS: a unit's own postings, complaints and report lines; the city SUPERUSER's city's.
    let status = "/bbps/v1/payments/status";
    let complaints = "/bbps/v1/complaints/status";
    let report = "/bbps/v1/reports/daily";
    for (reference, complaint, seen) in [
        (U2_REF, U2_COMPLAINT, Hidden),
        (U1_REF, U1_COMPLAINT, Visible),
    ] {
        let approval = w.approvals[reference].clone();
        out.extend([
            Probe {
                body: json!({"RequestInfo": {}, "txnReferenceId": reference}),
                ..probe(status, status.into(), approval, [Refused, seen, seen])
            },
            Probe {
                body: json!({"RequestInfo": {}, "complaintId": complaint}),
                ..probe(
                    complaints,
                    complaints.into(),
                    complaint,
                    [Refused, seen, seen],
                )
            },
            Probe {
                body: json!({"RequestInfo": {}, "txnReferenceId": reference}),
                ..probe(
                    complaints,
                    complaints.into(),
                    complaint,
                    [Refused, seen, seen],
                )
            },
            probe(
                report,
                format!("{report}?date={TODAY}"),
                reference,
                [Refused, seen, seen],
            ),
        ]);
    }
    // Refunds due: a city's books, for employees of that city.
    let refunds = "/collection-services/refunds/_search";
    let daily = "/collection-services/refunds/reports/daily";
    out.extend([
        probe(
            refunds,
            format!("{refunds}?tenantId={JAL}"),
            "-",
            [Refused, Refused, Refused],
        ),
        probe(
            daily,
            format!("{daily}?tenantId={JAL}&date={TODAY}"),
            "-",
            [Refused, Refused, Refused],
        ),
    ]);
    out
}

fn data(path: &str) -> Value {
    let file = format!("{}/../../data/mdms/pb/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")))
        .unwrap()
}

/// role code → the action urls the shipped data maps to it (as authorization.rs reads it).
fn role_urls() -> BTreeMap<String, BTreeSet<String>> {
    let actions = data("ACCESSCONTROL-ACTIONS-TEST/actions-test.revenue-subset.json");
    let url_of: BTreeMap<i64, String> = actions["actions-test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                a["url"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mappings = data("ACCESSCONTROL-ROLEACTIONS/roleactions.revenue-subset.json");
    for mapping in mappings["roleactions"].as_array().unwrap() {
        let role = mapping["rolecode"].as_str().unwrap_or_default();
        if let Some(url) = mapping["actionid"].as_i64().and_then(|id| url_of.get(&id)) {
            out.entry(role.to_string()).or_default().insert(url.clone());
        }
    }
    out
}

/// Asks `probe` with `token` and checks the answer is `expected`; the description of a
/// mismatch.
async fn check(
    w: &World,
    who: &str,
    token: &str,
    probe: &Probe,
    expected: Expect,
) -> Option<String> {
    let (status, body) = w.kosh.post_as(token, &probe.path, probe.body.clone()).await;
    let text = body.to_string();
    let where_ = format!("{who} {} {}", probe.path, probe.body);
    if status.is_server_error() {
        return Some(format!("{where_}: {status} {text}"));
    }
    let found = status.is_success() && text.contains(&probe.marker);
    let ok = match expected {
        Visible => found,
        Hidden => {
            let nothing_found = status.is_success()
                || (status == StatusCode::BAD_REQUEST
                    && body["Errors"][0]["code"] == "EG_BS_BILL_NO_DEMANDS_FOUND");
            nothing_found && !text.contains(&probe.marker)
        }
        Refused => {
            status == StatusCode::FORBIDDEN
                && body["Errors"][0]["code"].is_string()
                && body["Errors"][0]["message"].is_string()
        }
    };
    // A citizen's answers never carry the other citizen's identity.
    let leaks = who == "CITIZEN" && (text.contains(B_MOBILE) || text.contains(&w.b.uuid));
    if !ok || leaks {
        return Some(format!(
            "{where_}: expected {expected:?} of {}, got {status} {text}",
            probe.marker
        ));
    }
    None
}

async fn every_search_route_with_every_role_and_someone_elses_data(backend: Backend) {
    let w = world(backend).await;
    let probes = probes(&w);
    let role_urls = role_urls();
    let roles = data("ACCESSCONTROL-ROLES/roles.json");
    let codes: Vec<String> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.len() > 100);
    // Every route the probes cover is served, and every search route is probed.
    let (_, doc) = w.kosh.get("/openapi.json").await;
    let served: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    for probe in &probes {
        let path = probe.path.split('?').next().unwrap();
        let templated = path.replace("/payments/PT/", "/payments/{moduleName}/");
        assert!(
            served.contains(path) || served.contains(&templated),
            "{path} is not served"
        );
    }
    for path in &served {
        let search =
            path.ends_with("_search") || path.contains("/reports/") || path.ends_with("/status");
        let open = kosh_server::gateway::is_open(path)
            || path.starts_with("/user/")
            || path.starts_with("/access/");
        if search
            && !open
            && !path.contains("taxheads")
            && !path.contains("businessservices")
            && !path.contains("taxperiods")
        {
            let probed = probes.iter().any(|p| {
                let p = p.path.split('?').next().unwrap();
                p == path || p.replace("/payments/PT/", "/payments/{moduleName}/") == *path
            });
            assert!(probed, "search route {path} has no data probe");
        }
    }

    let mut failures = Vec::new();
    let mut checked = 0;
    for (chunk_no, chunk) in codes.chunks(8).enumerate() {
        let runs = chunk.iter().enumerate().map(|(i, code)| {
            let (w, probes, role_urls) = (&w, &probes, &role_urls);
            async move {
                let token = match code.as_str() {
                    "CITIZEN" => w.a.token.clone(),
                    "BBPS" => w.unit1.clone(),
                    _ => {
                        let name = format!(
                            "data-{chunk_no}-{i}-{}",
                            code.to_lowercase()
                                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                        );
                        employee(&w.kosh, &name, AMR, &[code]).await
                    }
                };
                let allowed = role_urls.get(code).cloned().unwrap_or_default();
                let mut out = Vec::new();
                for probe in probes {
                    let expected = if !allowed.contains(probe.action) {
                        Refused
                    } else {
                        match code.as_str() {
                            "CITIZEN" => probe.citizen,
                            "BBPS" => probe.unit,
                            _ => probe.employee,
                        }
                    };
                    if let Some(failure) = check(w, code, &token, probe, expected).await {
                        out.push(failure);
                    }
                }
                out
            }
        });
        for found in futures::future::join_all(runs).await {
            failures.extend(found);
        }
        checked += chunk.len();
    }
    assert_eq!(checked, codes.len());
    assert!(
        failures.is_empty(),
        "{} of the role × route × data cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    w.kosh.stop().await;
}

fn consumer_codes(body: &Value, key: &str) -> BTreeSet<String> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .iter()
        .map(|r| r["consumerCode"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| c.to_string()).collect()
}

/// The citizen's own records, exactly, wherever they ask; nothing of anyone else's.
async fn citizens_find_only_their_own_records(backend: Backend) {
    let w = world(backend).await;
    let a = &w.a.token;
    let (status, body) = w
        .kosh
        .post_as(
            a,
            &format!("/billing-service/demand/_search?tenantId={AMR}&businessService=PT"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        consumer_codes(&body, "Demands"),
        set(&["PT-A-1", "PT-A-2", "PT-A-3"]),
        "{body}"
    );
    // A state-wide search too.
    let (_, body) = w
        .kosh
        .post_as(
            a,
            "/billing-service/demand/_search?tenantId=pb&businessService=PT",
            json!({}),
        )
        .await;
    assert_eq!(
        consumer_codes(&body, "Demands"),
        set(&["PT-A-1", "PT-A-2", "PT-A-3"]),
        "{body}"
    );
    // Someone else's mobile number: nothing, in DIGIT's normal shape.
    let (status, body) = w
        .kosh
        .post_as(
            a,
            &format!("/billing-service/bill/v2/_search?tenantId={AMR}&mobileNumber={B_MOBILE}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Bill"], json!([]), "{body}");
    assert!(body["ResposneInfo"].is_object(), "{body}");
    // "My bills": every unpaid bill of the citizen's own mobile number.
    let (status, body) = w
        .kosh
        .post_as(
            a,
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&mobileNumber={A_MOBILE}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(consumer_codes(&body, "Bill"), set(&["PT-A-1"]), "{body}");
    // Someone else's consumer code answers as a code with nothing due does.
    let (status, other) = w
        .kosh
        .post_as(
            a,
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&consumerCode=PT-B-1"),
            json!({}),
        )
        .await;
    let (_, unknown) = w
        .kosh
        .post_as(
            a,
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&consumerCode=PT-NONE"),
            json!({}),
        )
        .await;
    assert_digit_error(
        status,
        &other,
        StatusCode::BAD_REQUEST,
        "EG_BS_BILL_NO_DEMANDS_FOUND",
        None,
    );
    assert_eq!(other["Errors"], unknown["Errors"]);
    // Payments: A's counter payment and the BBPS posting for A.
    let (status, body) = w
        .kosh
        .post_as(
            a,
            &format!("/collection-services/payments/_search?tenantId={AMR}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let paid: BTreeSet<String> = body["Payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["paymentDetails"][0]["bill"]["consumerCode"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(paid, set(&["PT-A-2", "PT-A-3"]), "{body}");
    // Someone else's uuid names nothing; the citizen's own transactions only.
    let (_, body) = w
        .kosh
        .post_as(
            a,
            &format!("/pg-service/transaction/v1/_search?userUuid={}", w.b.uuid),
            json!({}),
        )
        .await;
    assert_eq!(body["Transaction"], json!([]), "{body}");
    let (_, body) = w
        .kosh
        .post_as(
            a,
            &format!("/pg-service/transaction/v1/_search?tenantId={AMR}"),
            json!({}),
        )
        .await;
    let ids: Vec<&str> = body["Transaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txnId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![w.txns["PT-A-1"].as_str()], "{body}");
    // And B, likewise, sees B's and not A's.
    let (_, body) = w
        .kosh
        .post_as(
            &w.b.token,
            "/billing-service/demand/_search?tenantId=pb&businessService=PT",
            json!({}),
        )
        .await;
    assert_eq!(
        consumer_codes(&body, "Demands"),
        set(&["PT-B-1", "PT-B-2", "PT-B-3", "PT-B-4"]),
        "{body}"
    );
    w.kosh.stop().await;
}

/// Unit 1 sees its own posting, complaint and report line and none of unit 2's; it can
/// neither repeat, reverse nor move unit 2's; it sees no citizen's pg transaction and no
/// counter payment of the city.
async fn bbps_units_see_and_touch_only_their_own_postings_and_complaints(backend: Backend) {
    let w = world(backend).await;
    let (u1, u2) = (&w.unit1, &w.unit2);
    let (status, body) = w
        .kosh
        .post_as(
            u1,
            &format!("/bbps/v1/reports/daily?date={TODAY}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refs: Vec<&str> = body["transactions"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|t| t["txnReferenceId"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec![U1_REF], "{body}");
    let (_, body) = w
        .kosh
        .post_as(
            u1,
            "/bbps/v1/payments/status",
            json!({"txnReferenceId": U2_REF}),
        )
        .await;
    assert_eq!(body["status"], "NOT_FOUND", "{body}");
    let (_, body) = w
        .kosh
        .post_as(
            u1,
            "/bbps/v1/complaints/status",
            json!({"txnReferenceId": U2_REF}),
        )
        .await;
    assert_eq!(body["Complaints"], json!([]), "{body}");
    // Unit 2's very request, repeated by unit 1, is not answered with unit 2's receipt.
    let (status, body) = w
        .kosh
        .post_as(
            u1,
            "/bbps/v1/payments",
            posting(U2_REF, JAL, "PT-B-3", B_MOBILE),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reason"]["complianceRespCd"], "BPR007", "{body}");
    assert!(!body.to_string().contains(&w.approvals[U2_REF]), "{body}");
    // Nor can it reverse unit 2's posting or move unit 2's complaint.
    let (status, body) = w
        .kosh
        .post_as(
            u1,
            "/bbps/v1/payments/reverse",
            json!({"txnReferenceId": U2_REF, "reason": "x"}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BBPS_REPEATED_REFERENCE",
        None,
    );
    let (_, body) = w
        .kosh
        .post_as(
            u2,
            "/bbps/v1/payments/status",
            json!({"txnReferenceId": U2_REF}),
        )
        .await;
    assert_eq!(body["status"], "SUCCESS", "unit 2's posting stands: {body}");
    let (status, body) = w
        .kosh
        .post_as(
            u1,
            "/bbps/v1/complaints/update",
            json!({"complaintId": U2_COMPLAINT, "status": "RESOLVED"}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BBPS_COMPLAINT_NOT_FOUND",
        None,
    );
    let (status, body) = w
        .kosh
        .post_as(
            u2,
            "/bbps/v1/complaints/update",
            json!({"complaintId": U2_COMPLAINT, "status": "RESOLVED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "unit 2 moves its own: {body}");
    // No citizen's pg transaction, no counter payment; its own posting's payment.
    let (status, body) = w
        .kosh
        .post_as(
            u1,
            &format!("/pg-service/transaction/v1/_search?tenantId={AMR}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Transaction"], json!([]), "{body}");
    let (status, body) = w
        .kosh
        .post_as(
            u1,
            &format!("/collection-services/payments/_search?tenantId={AMR}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let numbers: Vec<&str> = body["Payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["transactionNumber"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, vec![U1_REF], "{body}");
    w.kosh.stop().await;
}

/// An employee of Jalandhar (EMPLOYEE and SUPERUSER held there) sees Jalandhar's records,
/// is refused Amritsar in DIGIT's format, and sees only Jalandhar's where a route names no
/// tenant (pg by a user's uuid, the BBPS report).
async fn a_city_employee_sees_its_city_and_is_refused_another(backend: Backend) {
    let w = world(backend).await;
    let jal = employee(&w.kosh, "jalandhar-clerk", JAL, &["EMPLOYEE", "SUPERUSER"]).await;
    let (status, body) = w
        .kosh
        .post_as(
            &jal,
            &format!("/billing-service/demand/_search?tenantId={JAL}&businessService=PT"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        consumer_codes(&body, "Demands"),
        set(&["PT-B-3", "PT-B-4"]),
        "{body}"
    );
    for path in [
        format!("/billing-service/demand/_search?tenantId={AMR}&businessService=PT"),
        format!("/billing-service/bill/v2/_search?tenantId={AMR}&mobileNumber={A_MOBILE}"),
        format!("/collection-services/payments/_search?tenantId={AMR}"),
        format!("/pg-service/transaction/v1/_search?tenantId={AMR}"),
        format!("/collection-services/refunds/_search?tenantId={AMR}"),
    ] {
        let (status, body) = w.kosh.post_as(&jal, &path, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body["Errors"][0]["message"].is_string(), "{path}: {body}");
    }
    let (_, body) = w
        .kosh
        .post_as(
            &jal,
            &format!("/pg-service/transaction/v1/_search?userUuid={}", w.b.uuid),
            json!({}),
        )
        .await;
    let ids: Vec<&str> = body["Transaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txnId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![w.txns["PT-B-4"].as_str()], "{body}");
    let (_, body) = w
        .kosh
        .post_as(
            &jal,
            &format!("/bbps/v1/reports/daily?date={TODAY}"),
            json!({}),
        )
        .await;
    let refs: Vec<&str> = body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["txnReferenceId"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec![U2_REF], "{body}");
    // The state administrator sees both cities.
    let (_, body) = w
        .kosh
        .post(&format!("/bbps/v1/reports/daily?date={TODAY}"), json!({}))
        .await;
    assert_eq!(body["transactions"].as_array().unwrap().len(), 2, "{body}");
    w.kosh.stop().await;
}

/// What a writer trying to change someone else's record should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deny {
    /// The gateway's 403 in DIGIT's format: a role the route's role-actions do not list.
    Forbidden,
    /// A refusal: 403, or DIGIT's 400 (an `Errors` list, or billing's `Message`) for a
    /// record the caller cannot see: not found, not its own.
    No,
    /// A 200 that turns the request down (BBPS answers a repeated reference with
    /// `BPR007`): the text the answer must carry.
    Declined(&'static str),
    /// The role may legitimately do this (paying another person's bill, a city
    /// administrator on its city's citizen): not tried in the matrix, where it would change
    /// the records; the positive controls at the end do it once.
    Legit,
}
use Deny::{Declined, Forbidden, Legit, No};

/// One attempt to change a record that is not the writer's, and what a citizen (A), a
/// BBPS unit (unit 1) and an Amritsar employee holding a role the route's role-actions list
/// should get. A role the role-actions do not list gets a 403.
struct Write {
    action: &'static str,
    path: String,
    body: Value,
    expect: [Deny; 3],
}

fn write(action: &'static str, path: impl Into<String>, body: Value, expect: [Deny; 3]) -> Write {
    Write {
        action,
        path: path.into(),
        body,
        expect,
    }
}

/// Served routes that are not searches and have no write probe, and why.
const WRITE_EXEMPT: &[(&str, &str)] = &[
    // Reads: they change nothing.
    (
        "/access/v1/actions/_get",
        "reads master data (role-actions)",
    ),
    (
        "/access/v1/actions/mdms/_get",
        "reads master data (role-actions)",
    ),
    ("/bbps/v1/billers", "reads master data (billers)"),
    ("/bbps/v1/health", "reads nothing but the adapter's health"),
    (
        "/bbps/v1/bills/fetch",
        "an agent's read of a bill by account number (BBPS units only): it records only the unit's own fetch reference (bbps_fetch, created_by the unit), no one else's record",
    ),
    (
        "/bbps/v1/bills/validate",
        "an agent's read of a bill by account number, as bills/fetch",
    ),
    (
        "/billing-service/bill/v2/_fetchbill",
        "generates only bills of demands the caller sees: probed by the search matrix (someone else's code answers EG_BS_BILL_NO_DEMANDS_FOUND)",
    ),
    (
        "/egov-idgen/id/_generate",
        "hands out the next number of a sequence: changes no one's record",
    ),
    (
        "/pg-service/transaction/v1/_reconcile",
        "takes no record from the caller: moves PENDING transactions only to what their gateway reports on re-verification (the scheduled pass does the same)",
    ),
    (
        "/bbps/v1/npci/{message}/1.0/{reference}",
        "NPCI's signed XML exchange (off unless a signing key and NPCI's certificates are set): the same postings, reversals and complaints as the JSON routes probed here, through the same BBPS visibility",
    ),
];

/// The attempts on someone else's records ([`Extra`]: the ids and bodies they aim at).
fn writes(w: &World, x: &Extra) -> Vec<Write> {
    let b1_bill = w.b1["id"].as_str().expect("bill id");
    let b4_bill = x.b4_bill["id"].as_str().expect("bill id");
    let mut out = Vec::new();
    // Demands: the other city's (named honestly, or under the writer's own city).
    let update = "/billing-service/demand/_update";
    // The payer as a uuid alone: the searched payer's tenant (the state) would be refused by
    // the gateway before the service is asked.
    let mut lying = x.b4_demand.clone();
    lying["tenantId"] = json!(AMR);
    for d in lying["demandDetails"].as_array_mut().unwrap() {
        d["tenantId"] = json!(AMR);
    }
    let mut changed = x.b4_demand.clone();
    changed["demandDetails"][0]["taxAmount"] = json!(1);
    lying["demandDetails"][0]["taxAmount"] = json!(1);
    let mut b1_changed = x.b1_demand.clone();
    b1_changed["demandDetails"][0]["taxAmount"] = json!(1);
    out.extend([
        write(
            update,
            update,
            json!({"RequestInfo": {}, "Demands": [changed]}),
            [No, No, No],
        ),
        write(
            update,
            update,
            json!({"RequestInfo": {}, "Demands": [lying]}),
            [No, No, No],
        ),
        // The other citizen's demand in the employee's own city: the employee's to change.
        write(
            update,
            update,
            json!({"RequestInfo": {}, "Demands": [b1_changed]}),
            [No, No, Legit],
        ),
    ]);
    let create = "/billing-service/demand/_create";
    out.push(write(
        create,
        create,
        json!({"RequestInfo": {}, "Demands": [{"tenantId": JAL, "consumerCode": "PT-X-NEW", "consumerType": "BUILTUP",
            "businessService": "PT", "payer": {"uuid": w.b.uuid}, "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
            "minimumAmountPayable": 0,
            "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 1, "collectionAmount": 0}]}]}),
        [No, No, No],
    ));
    // Bills.
    let cancel = "/billing-service/bill/v2/_cancelbill";
    let criteria = |tenant: &str, code: &str, bill: &str| {
        json!({"RequestInfo": {}, "UpdateBillCriteria": {"tenantId": tenant, "consumerCodes": [code],
            "businessService": "PT", "billIds": [bill],
            "additionalDetails": {"reason": "OTHER", "reasonMessage": "not mine"}}})
    };
    out.extend([
        write(
            cancel,
            cancel,
            criteria(JAL, "PT-B-4", b4_bill),
            [No, No, No],
        ),
        write(
            cancel,
            cancel,
            criteria(AMR, "PT-B-4", b4_bill),
            [No, No, No],
        ),
        write(
            cancel,
            cancel,
            criteria(AMR, "PT-B-1", b1_bill),
            [No, No, Legit],
        ),
    ]);
    // Payments: paying the other city's bill; cancelling the other city's receipt.
    let pay = |tenant: &str| {
        json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
            "tenantId": tenant, "totalAmountPaid": x.b4_bill["totalAmount"], "paymentMode": "CASH",
            "paidBy": "Intruder", "payerName": "Intruder", "mobileNumber": "9000000009",
            "paymentDetails": [{"billId": b4_bill, "totalDue": x.b4_bill["totalAmount"],
                "totalAmountPaid": x.b4_bill["totalAmount"], "businessService": "PT"}]}})
    };
    let payments = "/collection-services/payments/_create";
    let validate = "/collection-services/payments/_validate";
    out.extend([
        // A BBPS unit pays any bill of the state it is handed the account of.
        write(payments, payments, pay(JAL), [No, Legit, No]),
        write(payments, payments, pay(AMR), [No, No, No]),
        write(validate, validate, pay(JAL), [No, No, No]),
        write(validate, validate, pay(AMR), [No, No, No]),
    ]);
    let workflow = |tenant: &str, id: &str| {
        json!({"RequestInfo": {}, "PaymentWorkflows": [{"paymentId": id, "action": "CANCEL",
            "tenantId": tenant, "reason": "not mine"}]})
    };
    for action in [
        "/collection-services/payments/_workflow",
        "/collection-services/payments/PT/_workflow",
    ] {
        out.extend([
            write(action, action, workflow(JAL, &x.b3_payment), [No, No, No]),
            write(action, action, workflow(AMR, &x.b3_payment), [No, No, No]),
            write(
                action,
                action,
                workflow(AMR, &x.b2_payment),
                [No, No, Legit],
            ),
        ]);
    }
    // Refunds due are found by (tenant, id): the other city's, or under the writer's city.
    let settle = "/collection-services/refunds/_settle";
    for tenant in [JAL, AMR] {
        out.push(write(
            settle,
            settle,
            json!({"RequestInfo": {}, "Refund": {"tenantId": tenant, "id": "RF-OF-ANOTHER-CITY",
                "action": "REFUNDED", "reference": "NEFT-1"}}),
            [No, No, No],
        ));
    }
    // Pg transactions: only their creator updates or completes them; paying the other
    // city's bill online is refused to a city's employee (anyone may pay a bill they hold).
    for prefix in ["/pg-service", "/egov-pg-service"] {
        let (create, update): (&'static str, &'static str) = if prefix == "/pg-service" {
            (
                "/pg-service/transaction/v1/_create",
                "/pg-service/transaction/v1/_update",
            )
        } else {
            (
                "/egov-pg-service/transaction/v1/_create",
                "/egov-pg-service/transaction/v1/_update",
            )
        };
        out.push(write(
            create,
            create,
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
                "tenantId": JAL, "txnAmount": x.b4_bill["totalAmount"], "module": "PT",
                "billId": b4_bill, "consumerCode": "PT-B-4", "productInfo": "Property Tax Payment",
                "gateway": "SANDBOX",
                "taxAndPayments": [{"billId": b4_bill, "amountPaid": x.b4_bill["totalAmount"]}],
                "user": {"name": "Intruder", "mobileNumber": "9000000009"},
                "callbackUrl": "https://ui.example/citizen/payment/success"}}),
            [Legit, Legit, No],
        ));
        for code in ["PT-B-1", "PT-B-4"] {
            out.push(write(
                update,
                format!("{update}?eg_pg_txnid={}", w.txns[code]),
                json!({"RequestInfo": {}}),
                [No, No, No],
            ));
        }
    }
    let complete = "/pg-service/gateway/sandbox/_complete";
    for code in ["PT-B-1", "PT-B-4"] {
        out.push(write(
            complete,
            complete,
            json!({"RequestInfo": {}, "txnId": w.txns[code], "status": "SUCCESS"}),
            [No, No, No],
        ));
    }
    // Users: a state administrator made by a city account, the state administrator and
    // another city's employee changed by one; someone else's password.
    let create = "/user/users/_createnovalidate";
    for tenant in ["pb", AMR] {
        out.push(write(
            create,
            create,
            json!({"RequestInfo": {}, "user": {"userName": "write-intruder", "name": "Intruder",
                "type": "EMPLOYEE", "active": true, "password": PASSWORD, "tenantId": tenant,
                "roles": [{"code": "SUPERUSER", "tenantId": "pb"}]}}),
            [No, No, No],
        ));
    }
    let update = "/user/users/_updatenovalidate";
    for uuid in [&x.admin_uuid, &x.jal_clerk_uuid] {
        out.push(write(
            update,
            update,
            json!({"RequestInfo": {}, "user": {"uuid": uuid, "active": false, "mobileNumber": "9000000009"}}),
            [No, No, No],
        ));
        out.push(write(
            update,
            update,
            json!({"RequestInfo": {}, "user": {"uuid": uuid, "tenantId": AMR, "active": false}}),
            [No, No, No],
        ));
    }
    // A city's citizens are its administrator's to manage.
    out.push(write(
        update,
        update,
        json!({"RequestInfo": {}, "user": {"uuid": w.b.uuid, "active": false}}),
        [No, No, Legit],
    ));
    // The password route changes the signed-in user's own only, whatever the body names:
    // B's current password is no one else's, so it is a mismatch.
    let password = "/user/password/_update";
    out.push(write(
        password,
        password,
        json!({"RequestInfo": {}, "userName": B_MOBILE, "uuid": w.b.uuid,
            "type": "CITIZEN", "existingPassword": B_PASSWORD, "newPassword": "Stolen@9876"}),
        [No, No, No],
    ));
    // BBPS: unit 2's posting and complaint, from unit 1 (and anyone else the routes admit).
    let posting_route = "/bbps/v1/payments";
    let reverse = "/bbps/v1/payments/reverse";
    let complaints = "/bbps/v1/complaints";
    let complaint_update = "/bbps/v1/complaints/update";
    out.extend([
        write(
            posting_route,
            posting_route,
            posting(U2_REF, JAL, "PT-B-3", B_MOBILE),
            [No, Declined("BPR007"), No],
        ),
        write(
            reverse,
            reverse,
            json!({"txnReferenceId": U2_REF, "reason": "not mine"}),
            [No, No, No],
        ),
        write(
            complaints,
            complaints,
            json!({"complaintType": "Transaction", "complaintId": U2_COMPLAINT, "txnReferenceId": U2_REF,
                "disposition": "Transaction Successful, account not updated"}),
            [No, No, No],
        ),
        write(
            complaint_update,
            complaint_update,
            json!({"complaintId": U2_COMPLAINT, "status": "RESOLVED"}),
            [No, No, No],
        ),
    ]);
    out
}

const B_PASSWORD: &str = "Ravi@2468x";

/// The records the write matrix adds to the [`World`] (in this test only, so the search
/// tests' exact answers stand).
struct Extra {
    b1_demand: Value,
    b4_demand: Value,
    b4_bill: Value,
    /// The counter receipt of PT-B-2 (Amritsar) and unit 2's posting's receipt (PT-B-3,
    /// Jalandhar).
    b2_payment: String,
    b3_payment: String,
    admin_uuid: String,
    jal_clerk_uuid: String,
}

async fn admin_read(w: &World, path: &str, body: Value) -> Value {
    let (status, mut body) = w.kosh.post(path, body).await;
    assert!(status.is_success(), "{path}: {status} {body}");
    if let Some(o) = body.as_object_mut() {
        o.retain(|k, _| !k.eq_ignore_ascii_case("ResponseInfo"));
    }
    body
}

async fn extra(w: &World) -> Extra {
    let demand = |tenant: &'static str, code: &'static str| async move {
        let body = admin_read(
            w,
            &format!("/billing-service/demand/_search?tenantId={tenant}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
        let mut demand = body["Demands"][0].clone();
        demand["payer"] = json!({"uuid": demand["payer"]["uuid"]});
        demand
    };
    let bill = admin_read(
        w,
        &format!("/billing-service/bill/v2/_search?tenantId={JAL}&service=PT&consumerCode=PT-B-4"),
        json!({"RequestInfo": {}}),
    )
    .await["Bill"][0]
        .clone();
    let payment = |tenant: &'static str, code: &'static str| async move {
        let body = admin_read(
            w,
            &format!(
                "/collection-services/payments/_search?tenantId={tenant}&consumerCodes={code}"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
        body["Payments"][0]["id"]
            .as_str()
            .expect("payment id")
            .to_string()
    };
    let admin = admin_read(
        w,
        "/user/_search",
        json!({"RequestInfo": {}, "userName": kosh_blackbox::ADMIN, "tenantId": "pb"}),
    )
    .await;
    let clerk = w
        .kosh
        .create_user(
            json!({"userName": "write-jal-clerk", "name": "Clerk", "type": "EMPLOYEE",
            "active": true, "password": PASSWORD, "tenantId": JAL,
            "roles": [{"code": "EMPLOYEE", "tenantId": JAL}]}),
        )
        .await;
    // B's password becomes B's own, so the password probe cannot be the writer's own.
    let (status, body) = w
        .kosh
        .post_as(
            &w.b.token,
            "/user/password/_update",
            json!({"existingPassword": PASSWORD, "newPassword": B_PASSWORD, "tenantId": "pb", "type": "CITIZEN"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Extra {
        b1_demand: demand(AMR, "PT-B-1").await,
        b4_demand: demand(JAL, "PT-B-4").await,
        b4_bill: bill,
        b2_payment: payment(AMR, "PT-B-2").await,
        b3_payment: payment(JAL, "PT-B-3").await,
        admin_uuid: admin["user"][0]["uuid"]
            .as_str()
            .expect("admin uuid")
            .to_string(),
        jal_clerk_uuid: clerk["uuid"].as_str().expect("uuid").to_string(),
    }
}

/// Everything the write probes aim at, as the state administrator reads it.
async fn records(w: &World, x: &Extra) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!(
            "/billing-service/demand/_search?tenantId={AMR}&businessService=PT&consumerCode=PT-B-1"
        ),
        format!("/billing-service/demand/_search?tenantId={JAL}&businessService=PT"),
        format!("/billing-service/bill/v2/_search?tenantId={AMR}&service=PT&consumerCode=PT-B-1"),
        format!("/billing-service/bill/v2/_search?tenantId={JAL}&service=PT&consumerCode=PT-B-4"),
        format!("/collection-services/payments/_search?tenantId={AMR}"),
        format!("/collection-services/payments/_search?tenantId={JAL}"),
        format!("/collection-services/refunds/_search?tenantId={JAL}"),
        format!("/pg-service/transaction/v1/_search?tenantId={AMR}"),
        format!("/pg-service/transaction/v1/_search?tenantId={JAL}"),
    ] {
        out.push(admin_read(w, &path, json!({"RequestInfo": {}})).await);
    }
    out.push(
        admin_read(
            w,
            "/user/_search",
            json!({"RequestInfo": {}, "uuid": [x.admin_uuid, x.jal_clerk_uuid, w.b.uuid]}),
        )
        .await,
    );
    out.push(
        admin_read(
            w,
            "/user/_search",
            json!({"RequestInfo": {}, "userName": "write-intruder", "tenantId": "pb"}),
        )
        .await,
    );
    for body in [
        json!({"txnReferenceId": U2_REF}),
        json!({"complaintId": U2_COMPLAINT}),
    ] {
        let route = if body.get("complaintId").is_some() {
            "/bbps/v1/complaints/status"
        } else {
            "/bbps/v1/payments/status"
        };
        let (status, answer) = w.kosh.post_as(&w.unit2, route, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        out.push(answer);
    }
    out
}

/// Tries `write` with `token`; the description of a mismatch with `expected`.
async fn attempt(
    w: &World,
    who: &str,
    token: &str,
    write: &Write,
    expected: Deny,
) -> Option<String> {
    let (status, body) = w.kosh.post_as(token, &write.path, write.body.clone()).await;
    let text = body.to_string();
    let errors = body["Errors"][0]["code"].is_string() && body["Errors"][0]["message"].is_string();
    let ok = match expected {
        Legit => true,
        Declined(marker) => status == StatusCode::OK && text.contains(marker),
        Forbidden => status == StatusCode::FORBIDDEN && errors,
        No => {
            status == StatusCode::FORBIDDEN && errors
                || status == StatusCode::BAD_REQUEST && (errors || body["Message"].is_string())
        }
    };
    (!ok).then(|| {
        format!(
            "{who} {} {}: expected {expected:?}, got {status} {text}",
            write.path, write.body
        )
    })
}

/// The write dimension of the matrix: every route that changes records, as a user of every
/// shipped role, aimed at records that are not the writer's (the other citizen's, the other
/// city's, the other BBPS unit's, the state administrator and another city's employee).
/// Every attempt is refused (a role the role-actions do not list: 403; one they list: 403 or
/// DIGIT's 400 for a record it cannot reach) and, read back by the state administrator,
/// nothing changed; then the positive controls: the roles that may change those records do.
async fn every_update_route_with_every_role_and_someone_elses_data(backend: Backend) {
    let w = world(backend).await;
    let x = extra(&w).await;
    let writes = writes(&w, &x);
    let role_urls = role_urls();
    let roles = data("ACCESSCONTROL-ROLES/roles.json");
    let codes: Vec<String> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.len() > 100);
    // Every served route that is not a search is probed here or exempted above.
    let (_, doc) = w.kosh.get("/openapi.json").await;
    let served: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let route_of = |path: &str| {
        path.split('?')
            .next()
            .unwrap()
            .replace("/payments/PT/", "/payments/{moduleName}/")
    };
    for write in &writes {
        assert!(
            served.contains(&route_of(&write.path)),
            "{} is not served",
            write.path
        );
    }
    for (path, _) in WRITE_EXEMPT {
        assert!(served.contains(*path), "exempted {path} is not served");
    }
    for path in &served {
        let search =
            path.ends_with("_search") || path.contains("/reports/") || path.ends_with("/status");
        if search || kosh_server::gateway::is_open(path) {
            continue;
        }
        let probed = writes.iter().any(|w| route_of(&w.path) == *path);
        let exempt = WRITE_EXEMPT.iter().any(|(p, _)| p == path);
        assert!(
            probed || exempt,
            "write route {path} has neither a probe nor an exemption"
        );
    }

    let before = records(&w, &x).await;
    let (mut failures, mut attempts, mut roles_done) = (Vec::new(), 0usize, 0usize);
    for (chunk_no, chunk) in codes.chunks(8).enumerate() {
        let runs = chunk.iter().enumerate().map(|(i, code)| {
            let (w, writes, role_urls) = (&w, &writes, &role_urls);
            async move {
                let token = match code.as_str() {
                    "CITIZEN" => w.a.token.clone(),
                    "BBPS" => w.unit1.clone(),
                    _ => {
                        let name = format!(
                            "write-{chunk_no}-{i}-{}",
                            code.to_lowercase()
                                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                        );
                        employee(&w.kosh, &name, AMR, &[code]).await
                    }
                };
                let allowed = role_urls.get(code).cloned().unwrap_or_default();
                let (mut out, mut checked) = (Vec::new(), 0usize);
                for write in writes {
                    let [citizen, unit, employee] = write.expect;
                    let expected = if !allowed.contains(write.action) {
                        Forbidden
                    } else {
                        match code.as_str() {
                            "CITIZEN" => citizen,
                            "BBPS" => unit,
                            _ => employee,
                        }
                    };
                    if expected == Legit {
                        continue;
                    }
                    checked += 1;
                    if let Some(failure) = attempt(w, code, &token, write, expected).await {
                        out.push(failure);
                    }
                }
                (out, checked)
            }
        });
        for (found, count) in futures::future::join_all(runs).await {
            failures.extend(found);
            attempts += count;
            roles_done += 1;
        }
    }
    assert_eq!(roles_done, codes.len());
    assert!(attempts > codes.len() * 30, "{attempts} attempts");
    assert!(
        failures.is_empty(),
        "{} of the role × update route × data cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let after = records(&w, &x).await;
    for (was, is) in before.iter().zip(&after) {
        assert_eq!(was, is, "a refused write changed a record");
    }
    // B's password is still B's own.
    w.kosh.token(B_MOBILE, B_PASSWORD, "pb", "CITIZEN").await;

    // Positive controls, each on a record no later step needs.
    let amr_admin = employee(&w.kosh, "write-amr-admin", AMR, &["SUPERUSER", "EMPLOYEE"]).await;
    let mut d = x.b1_demand.clone();
    d["demandDetails"][0]["taxAmount"] = json!(900);
    let (status, body) = w
        .kosh
        .post_as(
            &amr_admin,
            "/billing-service/demand/_update",
            json!({"Demands": [d]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let now = admin_read(
        &w,
        &format!(
            "/billing-service/demand/_search?tenantId={AMR}&businessService=PT&consumerCode=PT-B-1"
        ),
        json!({"RequestInfo": {}}),
    )
    .await;
    assert_eq!(
        now["Demands"][0]["demandDetails"][0]["taxAmount"],
        json!(900),
        "{now}"
    );
    let (status, body) = w
        .kosh
        .post_as(
            &amr_admin,
            "/collection-services/payments/_workflow",
            json!({"PaymentWorkflows": [{"paymentId": x.b2_payment, "action": "CANCEL", "tenantId": AMR, "reason": "wrong"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = admin_read(
        &w,
        &format!("/collection-services/payments/_search?tenantId={AMR}&consumerCodes=PT-B-2"),
        json!({"RequestInfo": {}}),
    )
    .await;
    assert_eq!(now["Payments"][0]["paymentStatus"], "CANCELLED", "{now}");
    // The state administrator reaches the other city.
    let (status, body) = w
        .kosh
        .post(
            "/billing-service/bill/v2/_cancelbill",
            json!({"RequestInfo": {}, "UpdateBillCriteria": {"tenantId": JAL, "consumerCodes": ["PT-B-4"],
                "businessService": "PT", "additionalDetails": {"reason": "OTHER", "reasonMessage": "reissue"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = admin_read(
        &w,
        &format!("/billing-service/bill/v2/_search?tenantId={JAL}&service=PT&consumerCode=PT-B-4"),
        json!({"RequestInfo": {}}),
    )
    .await;
    assert_eq!(now["Bill"][0]["status"], "CANCELLED", "{now}");
    let (status, body) = w
        .kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"RequestInfo": {}, "user": {"uuid": x.jal_clerk_uuid, "active": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"][0]["active"], json!(false), "{body}");
    // Unit 2 moves its own complaint; the city administrator deactivates its citizen B.
    let (status, body) = w
        .kosh
        .post_as(
            &w.unit2,
            "/bbps/v1/complaints/update",
            json!({"complaintId": U2_COMPLAINT, "status": "RESOLVED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = w
        .kosh
        .post_as(
            &amr_admin,
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": w.b.uuid, "active": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = w.kosh.login(B_MOBILE, B_PASSWORD, "pb", "CITIZEN").await;
    assert_ne!(status, StatusCode::OK, "a deactivated citizen signs in");
    w.kosh.stop().await;
}
