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

use std::collections::{BTreeMap, BTreeSet};

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    every_search_route_with_every_role_and_someone_elses_data,
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
