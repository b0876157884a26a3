//! The BBPS biller adapter over HTTP, on SQLite and on PostgreSQL: an operating unit (a
//! SYSTEM user with the BBPS role) fetches bills, posts payments, asks their status,
//! repeats them, reverses them, registers complaints and reads the daily report — in the
//! JSON profile and in the NPCI XML profile, whose messages the test signs with a key pair
//! it generates; kosh's signed answers are verified with kosh's key.

use std::path::PathBuf;
use std::sync::LazyLock;

use kosh_bbps::sig::{SigningKey, VerifyingKey};
use kosh_bbps::xml::{AnyMessage, txn_type};
use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use kosh_server::cli::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    json_profile_fetch_pay_status_repeat_reverse_complaint_report,
    xml_profile_signed_fetch_pay_status_reverse_and_tampering,
    fifty_parallel_postings_of_one_reference_give_one_receipt,
    only_a_bbps_system_user_from_its_addresses_gets_in,
    reconciliation_reports_every_mismatch,
    one_posting_pays_several_bills_found_by_mobile_number,
    a_posting_while_an_online_payment_is_pending_is_receipted_and_the_online_money_refunded,
);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const TODAY: &str = "2019-06-15";
const DAY: i64 = 86_400_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PT: &str = "PBMT00000PUN01";
const TL: &str = "PBTL00000PUN01";
const UNIT: &str = "bbps-hdfc";
const UNIT_PASSWORD: &str = "Bbps@2026x";

/// Key pairs made for this test run: kosh's, the operating unit's, and a stranger's.
struct Keys {
    kosh_private: String,
    kosh_public: String,
    unit_private: String,
    unit_public: String,
    stranger_private: String,
}

fn key_pair() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
    let private = key.to_pkcs8_pem(LineEnding::LF).expect("PEM").to_string();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    (private, public)
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let (kosh_private, kosh_public) = key_pair();
    let (unit_private, unit_public) = key_pair();
    let (stranger_private, _) = key_pair();
    Keys {
        kosh_private,
        kosh_public,
        unit_private,
        unit_public,
        stranger_private,
    }
});

struct Env {
    kosh: Kosh,
    token: String,
    payer: String,
    settings: Settings,
    dir: PathBuf,
}

/// kosh with the XML profile on (when `xml`), the clock at [`NOW`], a citizen who pays and
/// the operating unit's SYSTEM user, signed in.
async fn start(backend: Backend, xml: bool) -> Env {
    let dir = std::env::temp_dir().join(format!("kosh-bbps-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    if xml {
        std::fs::write(dir.join("kosh-key.pem"), &KEYS.kosh_private).unwrap();
        std::fs::write(dir.join("unit-cert.pem"), &KEYS.unit_public).unwrap();
    }
    let mut captured = None;
    let kosh = Kosh::start_with(backend, |s| {
        if xml {
            s.bbps_signing_key = Some(dir.join("kosh-key.pem"));
            s.bbps_peer_certs = vec![dir.join("unit-cert.pem")];
            s.bbps_institution_id = "KS01".into();
        }
        captured = Some(s.clone());
    })
    .await;
    kosh.set_clock(NOW).await;
    let citizen = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE, "type": "CITIZEN",
        "active": true, "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    kosh.create_user(
        json!({"userName": UNIT, "name": "HDFC BBPS unit", "type": "SYSTEM", "active": true,
        "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    let token = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    Env {
        kosh,
        token,
        payer: citizen["uuid"].as_str().unwrap().to_string(),
        settings: captured.expect("settings"),
        dir,
    }
}

impl Env {
    async fn stop(self) {
        self.kosh.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.kosh.post_as(&self.token, path, body).await
    }

    /// A demand of `service` for `code`, the given (tax head, rupees) details.
    async fn demand(&self, service: &str, code: &str, heads: &[(&str, i64)]) {
        let payer = &self.payer;
        let details: Vec<Value> = heads
            .iter()
            .map(|(h, a)| json!({"taxHeadMasterCode": h, "taxAmount": a, "collectionAmount": 0}))
            .collect();
        let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
            "businessService": service, "payer": {"uuid": payer}, "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
            "demandDetails": details}]});
        let (status, answer) = self
            .kosh
            .post("/billing-service/demand/_create", body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }

    async fn fetch(&self, biller: &str, params: Value) -> Value {
        let (status, body) = self
            .post(
                "/bbps/v1/bills/fetch",
                json!({"billerId": biller, "refId": "FETCH1", "customerParams": params}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn pay(&self, body: Value) -> Value {
        let (status, answer) = self.post("/bbps/v1/payments", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    /// DIGIT's payments with this transaction number (as the administrator sees them).
    async fn digit_payments(&self, txn: &str) -> Vec<Value> {
        let (status, body) = self
            .kosh
            .post(
                &format!(
                    "/collection-services/payments/_search?tenantId={TENANT}&transactionNumber={txn}"
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["Payments"].as_array().unwrap().clone()
    }

    async fn post_xml(&self, message: &str, ref_id: &str, body: String) -> (StatusCode, String) {
        let response = self
            .kosh
            .client
            .post(self.kosh.url(&format!(
                "/bbps/v1/npci/{message}/1.0/urn:referenceId:{ref_id}"
            )))
            .header("auth-token", &self.token)
            .header("content-type", "application/xml")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }
}

fn pt_params(code: &str) -> Value {
    json!([{"name": "City", "value": "Amritsar"}, {"name": "Property ID", "value": code}])
}

fn tl_params(code: &str) -> Value {
    json!([{"name": "City", "value": "pb.amritsar"}, {"name": "Trade Licence Number", "value": code}])
}

fn posting(txn: &str, biller: &str, params: Value, amount: i64) -> Value {
    json!({"RequestInfo": {"apiId": "bbps"}, "billerId": biller, "txnReferenceId": txn, "refId": "FETCH1",
        "paymentRefId": "UPI0000123456", "customerParams": params, "customerMobile": MOBILE, "amount": amount,
        "paymentMode": "UPI", "paymentChannel": "MOB", "agentId": "AU01AU02INT529468291",
        "txnTimestamp": "2019-06-15T10:00:00+05:30"})
}

/// The body without its ResponseInfo.
fn answer(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("ResponseInfo");
    }
    v
}

async fn json_profile_fetch_pay_status_repeat_reverse_complaint_report(backend: Backend) {
    let mut env = start(backend, false).await;
    env.demand("PT", "PT-1", &[("PT_TAX", 900), ("PT_FIRE_CESS", 100)])
        .await;

    // The billers and their parameters.
    let (status, billers) = env
        .post("/bbps/v1/billers", json!({"RequestInfo": {}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{billers}");
    let pt = billers["Billers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["billerId"] == PT)
        .unwrap();
    assert_eq!(pt["category"], "Municipal Taxes");
    assert_eq!(pt["customerParams"][1]["name"], "Property ID");

    // Fetch: ₹1,000 in paise, part payment from ₹100 (EXACT_DOWN), whole rupees.
    let fetched = env.fetch(PT, pt_params("PT-1")).await;
    assert_eq!(fetched["reason"]["responseCode"], "000", "{fetched}");
    assert_eq!(fetched["billFetchStatus"], "AVAILABLE");
    assert_eq!(fetched["refId"], "FETCH1");
    assert_eq!(fetched["customer"]["name"], "Asha");
    let bill = &fetched["bills"][0];
    assert_eq!(bill["amount"], 100000);
    assert_eq!(bill["amountExactness"], "EXACT_DOWN");
    assert_eq!(bill["minAmount"], 10000);
    assert_eq!(bill["maxAmount"], 100000);
    assert_eq!(bill["amountMultiple"], 100);
    assert_eq!(bill["billDate"], TODAY);
    assert_eq!(bill["billPeriod"], "YEARLY");
    assert_eq!(bill["consumerCode"], "PT-1");
    assert_eq!(
        fetched["reason"]["approvalRefNum"], bill["billerBillId"],
        "a fetch is approved with the bill's number"
    );
    let items: i64 = bill["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(items, 100000);

    // By mobile number, the same bill.
    let by_mobile = env
        .fetch(
            PT,
            json!([{"name": "City", "value": "Amritsar"}, {"name": "Registered Mobile Number", "value": MOBILE}]),
        )
        .await;
    assert_eq!(by_mobile["bills"][0]["billId"], bill["billId"]);

    // Unknown account, bad parameters, unknown biller.
    let unknown = env.fetch(PT, pt_params("PT-404")).await;
    assert_eq!(unknown["reason"]["responseCode"], "200");
    assert_eq!(unknown["reason"]["complianceRespCd"], "BFR001");
    let bad = env
        .fetch(PT, json!([{"name": "Property ID", "value": "PT-1"}]))
        .await;
    assert_eq!(bad["reason"]["complianceRespCd"], "BFR002");
    assert!(bad["detail"].as_str().unwrap().contains("City"), "{bad}");
    let (status, body) = env
        .post(
            "/bbps/v1/bills/fetch",
            json!({"billerId": "NOSUCHBILLER", "customerParams": pt_params("PT-1")}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BBPS_UNKNOWN_BILLER",
        None,
    );

    // Validation: ₹50 is below the minimum.
    let (status, validated) = env
        .post(
            "/bbps/v1/bills/validate",
            json!({"billerId": PT, "customerParams": pt_params("PT-1"), "amount": 5000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{validated}");
    assert_eq!(validated["reason"]["complianceRespCd"], "BVR005");
    let (_, validated) = env
        .post(
            "/bbps/v1/bills/validate",
            json!({"billerId": PT, "customerParams": pt_params("PT-1"), "amount": "50000"}),
        )
        .await;
    assert_eq!(validated["reason"]["responseCode"], "000", "{validated}");

    // A non-whole-rupee amount is refused with the amount code, and the refusal is kept.
    let paise = env
        .pay(posting(
            "AU019166KOSH00000001",
            PT,
            pt_params("PT-1"),
            50050,
        ))
        .await;
    assert_eq!(paise["reason"]["complianceRespCd"], "BPR011", "{paise}");
    assert_eq!(paise["status"], "FAILED");
    assert!(
        paise["detail"]
            .as_str()
            .unwrap()
            .contains("whole number of rupees")
    );

    // The payment: a DIGIT payment, mode ONLINE, the receipt number as approval reference.
    let paid = env
        .pay(posting(
            "AU019166KOSH00000002",
            PT,
            pt_params("PT-1"),
            100000,
        ))
        .await;
    assert_eq!(paid["reason"]["responseCode"], "000", "{paid}");
    assert_eq!(paid["status"], "SUCCESS");
    let approval = paid["reason"]["approvalRefNum"]
        .as_str()
        .unwrap()
        .to_string();
    let t = &paid["transaction"];
    assert_eq!(t["amount"], 100000);
    assert_eq!(t["receipts"][0]["receiptNumber"], approval);
    assert_eq!(t["receipts"][0]["amountPaid"], 100000);
    assert_eq!(t["receipts"][0]["billerBillId"], bill["billerBillId"]);
    assert_eq!(t["receiptDate"], TODAY);
    let digit = env.digit_payments("AU019166KOSH00000002").await;
    assert_eq!(digit.len(), 1);
    assert_eq!(digit[0]["paymentMode"], "ONLINE");
    assert_eq!(digit[0]["instrumentNumber"], "AU019166KOSH00000002");
    assert_eq!(digit[0]["totalAmountPaid"], json!(1000));
    assert_eq!(digit[0]["paymentDetails"][0]["receiptNumber"], approval);
    assert_eq!(digit[0]["paidBy"], "Asha");
    assert_eq!(
        digit[0]["additionalDetails"]["bbps"]["paymentMode"], "UPI",
        "the BBPS mode is kept with the payment"
    );
    assert!(
        approval.starts_with("PT/"),
        "PT's own receipt format: {approval}"
    );

    // Status, and the same posting repeated: the original answer, nothing paid twice.
    let (_, status_answer) = env
        .post(
            "/bbps/v1/payments/status",
            json!({"txnReferenceId": "AU019166KOSH00000002"}),
        )
        .await;
    assert_eq!(status_answer["status"], "SUCCESS");
    assert_eq!(status_answer["reason"]["approvalRefNum"], approval);
    let repeat = env
        .pay(posting(
            "AU019166KOSH00000002",
            PT,
            pt_params("PT-1"),
            100000,
        ))
        .await;
    assert_eq!(answer(repeat), answer(paid.clone()));
    assert_eq!(env.digit_payments("AU019166KOSH00000002").await.len(), 1);
    let (_, unknown_status) = env
        .post(
            "/bbps/v1/payments/status",
            json!({"txnReferenceId": "AU019166KOSH99999999"}),
        )
        .await;
    assert_eq!(unknown_status["status"], "NOT_FOUND");

    // The same reference with another amount: BPR007. Another reference for the paid
    // bill: refused (nothing is due), and fetch says so.
    let other_amount = env
        .pay(posting(
            "AU019166KOSH00000002",
            PT,
            pt_params("PT-1"),
            50000,
        ))
        .await;
    assert_eq!(other_amount["reason"]["complianceRespCd"], "BPR007");
    let twice = env
        .pay(posting(
            "AU019166KOSH00000003",
            PT,
            pt_params("PT-1"),
            100000,
        ))
        .await;
    assert_eq!(twice["reason"]["complianceRespCd"], "BPR011", "{twice}");
    let mut named = posting("AU019166KOSH00000004", PT, pt_params("PT-1"), 100000);
    named["billerBillId"] = bill["billerBillId"].clone();
    let named = env.pay(named).await;
    assert_eq!(named["reason"]["complianceRespCd"], "BPR011", "{named}");
    assert!(
        named["detail"].as_str().unwrap().contains("paid"),
        "{named}"
    );
    let nothing_due = env.fetch(PT, pt_params("PT-1")).await;
    assert_eq!(nothing_due["reason"]["complianceRespCd"], "BFR004");
    assert_eq!(nothing_due["billFetchStatus"], "NO_OUTSTANDING");

    // Reversal of the latest receipt: cancelled, the bill is due again.
    let (status, reversed) = env
        .post(
            "/bbps/v1/payments/reverse",
            json!({"txnReferenceId": "AU019166KOSH00000002", "reason": "debit failed at the bank"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reversed}");
    assert_eq!(reversed["status"], "REVERSED");
    assert_eq!(reversed["reason"]["approvalRefNum"], approval);
    assert_eq!(
        env.digit_payments("AU019166KOSH00000002").await[0]["paymentStatus"],
        "CANCELLED"
    );
    let (_, again) = env
        .post(
            "/bbps/v1/payments/reverse",
            json!({"txnReferenceId": "AU019166KOSH00000002"}),
        )
        .await;
    assert_eq!(
        answer(again.clone())["transaction"],
        reversed["transaction"]
    );
    let due_again = env.fetch(PT, pt_params("PT-1")).await;
    assert_eq!(due_again["bills"][0]["amount"], 100000, "{due_again}");
    // A repeat of the reversed posting answers the reversal, never the cancelled receipt.
    let replay = env
        .pay(posting(
            "AU019166KOSH00000002",
            PT,
            pt_params("PT-1"),
            100000,
        ))
        .await;
    assert_eq!(replay["reason"]["responseCode"], "200", "{replay}");
    assert_eq!(replay["reason"]["approvalRefNum"], Value::Null);
    assert_eq!(replay["status"], "REVERSED");

    // A reversal of a reference kosh never received is kept; its late posting is refused.
    let (_, early) = env
        .post(
            "/bbps/v1/payments/reverse",
            json!({"txnReferenceId": "AU019166KOSH00000009", "billerId": PT, "amount": 100000}),
        )
        .await;
    assert_eq!(early["status"], "REVERSED");
    let late = env
        .pay(posting(
            "AU019166KOSH00000009",
            PT,
            pt_params("PT-1"),
            100000,
        ))
        .await;
    assert_eq!(late["reason"]["complianceRespCd"], "BPR007");

    // A part payment, then the rest: reversing the first is not allowed by DIGIT (not the
    // latest receipt), so it stands and a refund is due.
    let first = env
        .pay(posting(
            "AU019166KOSH00000010",
            PT,
            pt_params("PT-1"),
            40000,
        ))
        .await;
    assert_eq!(first["status"], "SUCCESS", "{first}");
    // A minute later, so that the second receipt is the latest.
    env.kosh.advance_clock(60_000).await;
    let rest = env.fetch(PT, pt_params("PT-1")).await;
    assert_eq!(rest["bills"][0]["amount"], 60000);
    let second = env
        .pay(posting(
            "AU019166KOSH00000011",
            PT,
            pt_params("PT-1"),
            60000,
        ))
        .await;
    assert_eq!(second["status"], "SUCCESS", "{second}");
    let (_, refund) = env
        .post(
            "/bbps/v1/payments/reverse",
            json!({"txnReferenceId": "AU019166KOSH00000010", "reason": "customer disputed"}),
        )
        .await;
    assert_eq!(refund["status"], "REFUND_PENDING", "{refund}");
    assert_eq!(refund["transaction"]["refund"]["amount"], 40000);
    assert_eq!(refund["transaction"]["refund"]["status"], "DUE");
    assert_eq!(
        env.digit_payments("AU019166KOSH00000010").await[0]["paymentStatus"],
        "DEPOSITED",
        "the receipt stands"
    );

    // Complaints, with their turnaround deadline.
    let (status, complaint) = env
        .post(
            "/bbps/v1/complaints",
            json!({"complaintType": "Transaction", "txnReferenceId": "AU019166KOSH00000011",
                   "disposition": "Transaction Successful, account not updated", "description": "receipt not received",
                   "customerMobile": MOBILE}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{complaint}");
    let c = &complaint["Complaint"];
    assert_eq!(c["status"], "ASSIGNED");
    assert_eq!(c["billerId"], PT);
    assert_eq!(c["tatDeadline"], NOW + 60_000 + 5 * DAY);
    assert_eq!(c["tatBreached"], false);
    assert_eq!(c["transactionStatus"], "SUCCESS");
    let id = c["complaintId"].as_str().unwrap().to_string();
    let (status, service) = env
        .post(
            "/bbps/v1/complaints",
            json!({"complaintType": "Service", "billerId": TL, "complaintId": "CC0123456789",
                   "disposition": "Biller not reachable"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{service}");
    let (_, service_again) = env
        .post(
            "/bbps/v1/complaints",
            json!({"complaintType": "Service", "billerId": TL, "complaintId": "CC0123456789",
                   "disposition": "Biller not reachable"}),
        )
        .await;
    assert_eq!(service_again["Complaint"], service["Complaint"]);
    let (status, body) = env
        .post(
            "/bbps/v1/complaints",
            json!({"complaintType": "Transaction", "disposition": "x"}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BBPS_INVALID_COMPLAINT",
        None,
    );
    env.kosh.advance_clock(6 * DAY).await;
    // Tokens do not last six days.
    env.token = env.kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    env.kosh.admin_token = env
        .kosh
        .token(
            kosh_blackbox::ADMIN,
            kosh_blackbox::ADMIN_PASSWORD,
            "pb",
            "EMPLOYEE",
        )
        .await;
    let (_, tracked) = env
        .post(
            "/bbps/v1/complaints/status",
            json!({"txnReferenceId": "AU019166KOSH00000011"}),
        )
        .await;
    assert_eq!(tracked["Complaints"][0]["complaintId"], id);
    assert_eq!(
        tracked["Complaints"][0]["tatBreached"], true,
        "open past its deadline"
    );
    // The municipal side resolves it.
    let (status, resolved) = env
        .kosh
        .post(
            "/bbps/v1/complaints/update",
            json!({"RequestInfo": {}, "complaintId": id, "status": "RESOLVED", "remarks": "receipt sent by SMS"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["Complaint"]["status"], "RESOLVED");
    assert_eq!(resolved["Complaint"]["tatBreached"], false);
    let (status, body) = env
        .post(
            "/bbps/v1/complaints/update",
            json!({"complaintId": id, "status": "ESCALATED"}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BBPS_INVALID_COMPLAINT",
        None,
    );

    // The day's report: every transaction, JSON and CSV.
    let (status, report) = env
        .kosh
        .get_text(&format!("/bbps/v1/reports/daily?date={TODAY}"))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the report needs a token: {report}"
    );
    let response = env
        .kosh
        .client
        .get(
            env.kosh
                .url(&format!("/bbps/v1/reports/daily?date={TODAY}")),
        )
        .header("auth-token", &env.token)
        .send()
        .await
        .unwrap();
    let (status, report) = kosh_blackbox::read(response).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["businessDate"], TODAY);
    let txns = report["transactions"].as_array().unwrap();
    let status_of = |r: &str| {
        txns.iter()
            .find(|t| t["txnReferenceId"] == r)
            .map(|t| t["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of("AU019166KOSH00000001").as_deref(), Some("FAILED"));
    assert_eq!(
        status_of("AU019166KOSH00000002").as_deref(),
        Some("REVERSED")
    );
    assert_eq!(status_of("AU019166KOSH00000003").as_deref(), Some("FAILED"));
    assert_eq!(
        status_of("AU019166KOSH00000009").as_deref(),
        Some("REVERSED")
    );
    assert_eq!(
        status_of("AU019166KOSH00000010").as_deref(),
        Some("REFUND_PENDING")
    );
    assert_eq!(
        status_of("AU019166KOSH00000011").as_deref(),
        Some("SUCCESS")
    );
    assert_eq!(report["summary"]["count"], txns.len());
    assert_eq!(report["summary"]["successAmount"], 60000);
    assert_eq!(report["summary"]["refundDueAmount"], 40000);
    let response = env
        .kosh
        .client
        .post(
            env.kosh
                .url(&format!("/bbps/v1/reports/daily?date={TODAY}&format=csv")),
        )
        .header("auth-token", &env.kosh.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("businessDate,txnReferenceId,status,amount,"));
    assert_eq!(lines.len(), txns.len() + 1);
    let line = lines
        .iter()
        .find(|l| l.contains("AU019166KOSH00000011"))
        .unwrap();
    let receipt = second["reason"]["approvalRefNum"].as_str().unwrap();
    assert!(line.contains(receipt), "{line}");
    assert!(line.contains(",SUCCESS,60000,"), "{line}");
    let (_, other_day) = env
        .post("/bbps/v1/reports/daily?date=2019-06-14", json!({}))
        .await;
    assert_eq!(other_day["transactions"], json!([]));
    env.stop().await;
}

fn rid(kind: &str, n: u32) -> String {
    format!("{kind}{n:0>width$}", width = 35 - kind.len())
}

fn head(ref_id: &str) -> String {
    format!(r#"<Head ver="1.0" ts="2019-06-15T10:00:00+05:30" origInst="AU01" refId="{ref_id}"/>"#)
}

const AGENT: &str = r#"<Agent id="AU01AU02INT529468291"><Device><Tag name="INITIATING_CHANNEL" value="MOB"/><Tag name="IP" value="124.170.23.22"/><Tag name="IMEI" value="490154203237518"/><Tag name="OS" value="Android"/><Tag name="APP" value="CitizenPay"/></Device></Agent>"#;

fn bill_details(code: &str) -> String {
    format!(
        r#"<BillDetails><Biller id="{TL}"/><CustomerParams><Tag name="City" value="Amritsar"/><Tag name="Trade Licence Number" value="{code}"/></CustomerParams></BillDetails>"#
    )
}

fn fetch_xml(ref_id: &str, code: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:BillFetchRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T10:00:00+05:30" msgId="{}"/><Customer mobile="{MOBILE}"/>{AGENT}{}</ns2:BillFetchRequest>"#,
        head(ref_id),
        rid("MSG", 1),
        bill_details(code)
    )
}

fn payment_xml(
    ref_id: &str,
    kind: &str,
    txn: &str,
    code: &str,
    bill_number: &str,
    amount: i64,
) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:BillPaymentRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T10:00:05+05:30" type="{kind}" msgId="{}" txnReferenceId="{txn}" paymentRefId="45f7c2fbeadc4e0c9fe9586735e9448f"/><Customer mobile="{MOBILE}"/>{AGENT}{}<BillerCategory category="Municipal Services"/><BillerResponse amount="{amount}" billNumber="{bill_number}"/><PaymentMethod quickPay="No" splitPay="No" OFFUSPay="Yes" paymentMode="UPI"/><Amount><Amt amount="{amount}" custConvFee="0" currency="356" COUcustConvFee="0"/><AmountBreakUp/><SplitPayAmount/></Amount><PaymentInformation><Tag name="VPA" value="asha@upi"/></PaymentInformation></ns2:BillPaymentRequest>"#,
        head(ref_id),
        rid("PAY", 1),
        bill_details(code)
    )
}

fn status_xml(ref_id: &str, txn: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:TxnStatusRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T11:00:00+05:30" msgId="{}"/><TxnStatusReq msgId="{}" txnReferenceId="{txn}"/></ns2:TxnStatusRequest>"#,
        head(ref_id),
        rid("STM", 1),
        rid("PAY", 1)
    )
}

fn sign_as(xml: &str, private: &str) -> String {
    kosh_bbps::sig::sign(xml, &SigningKey::from_pem(private).unwrap()).unwrap()
}

fn signed(xml: &str) -> String {
    sign_as(xml, &KEYS.unit_private)
}

/// kosh's answer, its signature verified with kosh's public key; what was signed also
/// passes `xmllint` against NPCI's XSD when xmllint and the XSDs are at hand.
fn verified(body: &str) -> AnyMessage {
    let kosh = VerifyingKey::from_pem(&KEYS.kosh_public).unwrap();
    let message = kosh_bbps::codec::decode_signed_any(body, std::slice::from_ref(&kosh))
        .unwrap_or_else(|e| panic!("kosh's answer does not verify: {e}\n{body}"));
    let signed = kosh_bbps::sig::verify(body, &kosh).unwrap();
    xmllint(signed.signed_xml(), message.root());
    message
}

/// The NPCI XSD folder (`KOSH_BBPS_XSD_DIR`, default `shared/bbps/xsd` beside the checkout).
fn xsd_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KOSH_BBPS_XSD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bbps/xsd")
        });
    dir.join("BBPS-Common.xsd").is_file().then_some(dir)
}

fn xmllint(xml: &str, root: &str) {
    let Some(dir) = xsd_dir() else {
        eprintln!("skipping the xmllint check: the NPCI XSDs are not found");
        return;
    };
    let xsd = match root {
        "TxnStatusResponse" => "402Response.xsd".to_string(),
        other => format!("{other}.xsd"),
    };
    let file =
        std::env::temp_dir().join(format!("kosh-bbps-{}.xml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(dir.join(xsd))
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    match out {
        Ok(out) => assert!(
            out.status.success(),
            "xmllint refuses kosh's {root}: {}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("skipping the xmllint check: xmllint is not installed"),
    }
}

fn ack_error(body: &str) -> String {
    let ack = kosh_bbps::codec::decode_ack(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(!ack.is_accepted(), "{body}");
    ack.error_messages[0].error_cd.clone()
}

async fn xml_profile_signed_fetch_pay_status_reverse_and_tampering(backend: Backend) {
    let env = start(backend, true).await;
    env.demand("TL", "TL-1", &[("TL_TAX", 400)]).await;

    // Heartbeat.
    let hbt = rid("HBT", 1);
    let diag = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:ReqDiagnostic xmlns:ns2="http://bbps.org/schema">{}</ns2:ReqDiagnostic>"#,
        head(&hbt)
    );
    let (status, body) = env.post_xml("ReqHbt", &hbt, signed(&diag)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::ResDiagnostic(res) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(res.head.ref_id, hbt);
    assert_eq!(res.head.orig_inst, "KS01");
    assert_eq!(res.response_reason.as_deref(), Some("Successful"));

    // Fetch.
    let fetch_ref = rid("REF", 1);
    let (status, body) = env
        .post_xml(
            "BillFetchRequest",
            &fetch_ref,
            signed(&fetch_xml(&fetch_ref, "TL-1")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::BillFetchResponse(fetched) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(fetched.reason.response_code, "000", "{body}");
    assert_eq!(fetched.head.ref_id, fetch_ref);
    assert_eq!(fetched.txn.msg_id.as_deref(), Some(rid("MSG", 1).as_str()));
    let bill = &fetched.biller_responses[0];
    assert_eq!(bill.amount, "40000");
    assert_eq!(bill.min_amount.as_deref(), Some("40000"), "TL is EXACT");
    assert_eq!(bill.max_amount.as_deref(), Some("40000"));
    assert_eq!(bill.customer_name.as_deref(), Some("Asha"));
    let bill_number = bill.bill_number.clone().unwrap();

    // Fetch of an unknown licence: BFR001 in a signed answer.
    let (_, body) = env
        .post_xml(
            "BillFetchRequest",
            &rid("REF", 2),
            signed(&fetch_xml(&rid("REF", 2), "TL-404")),
        )
        .await;
    let AnyMessage::BillFetchResponse(unknown) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(unknown.reason.compliance_resp_cd.as_deref(), Some("BFR001"));

    // Tampered, unsigned, signed by a stranger, or posted under another refId: refused.
    let txn = "AU019166KOSHXML00001";
    let payment = payment_xml(
        &fetch_ref,
        txn_type::FORWARD_REQUEST,
        txn,
        "TL-1",
        &bill_number,
        40000,
    );
    // The amount paid (Amt, the last amount in the document) changed after signing.
    let mut tampered = signed(&payment);
    let at = tampered.rfind(r#"amount="40000""#).unwrap();
    tampered.replace_range(at..at + r#"amount="40000""#.len(), r#"amount="100""#);
    let (status, body) = env
        .post_xml("BillPaymentRequest", &fetch_ref, tampered)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(ack_error(&body), "SIGNATURE_INVALID");
    let (status, body) = env
        .post_xml("BillPaymentRequest", &fetch_ref, payment.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(ack_error(&body), "SIGNATURE_INVALID");
    let (status, body) = env
        .post_xml(
            "BillPaymentRequest",
            &fetch_ref,
            sign_as(&payment, &KEYS.stranger_private),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(ack_error(&body), "SIGNATURE_INVALID");
    let (status, body) = env
        .post_xml("BillPaymentRequest", &rid("REF", 9), signed(&payment))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(ack_error(&body), "URL_MISMATCH");
    let (status, body) = env
        .post_xml("BillPaymentRequest", &fetch_ref, signed("<not-bbps/>"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(env.digit_payments(txn).await.is_empty(), "nothing was paid");

    // The payment.
    let (status, body) = env
        .post_xml("BillPaymentRequest", &fetch_ref, signed(&payment))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::BillPaymentResponse(paid) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(paid.reason.response_code, "000", "{body}");
    assert_eq!(paid.txn.txn_reference_id.as_deref(), Some(txn));
    assert_eq!(paid.txn.kind.as_deref(), Some(txn_type::FORWARD_RESPONSE));
    let approval = paid.reason.approval_ref_num.clone();
    let digit = env.digit_payments(txn).await;
    assert_eq!(digit.len(), 1);
    assert_eq!(digit[0]["paymentMode"], "ONLINE");
    assert_eq!(digit[0]["paymentDetails"][0]["receiptNumber"], approval);
    assert_eq!(
        paid.biller_responses[0].bill_number.as_deref(),
        Some(bill_number.as_str())
    );

    // Repeated: the original approval reference, one DIGIT payment.
    let (_, body) = env
        .post_xml("BillPaymentRequest", &fetch_ref, signed(&payment))
        .await;
    let AnyMessage::BillPaymentResponse(repeat) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(repeat.reason.approval_ref_num, approval);
    assert_eq!(env.digit_payments(txn).await.len(), 1);
    // The same reference with another amount: BPR007.
    let (_, body) = env
        .post_xml(
            "BillPaymentRequest",
            &fetch_ref,
            signed(&payment_xml(
                &fetch_ref,
                txn_type::FORWARD_REQUEST,
                txn,
                "TL-1",
                &bill_number,
                30000,
            )),
        )
        .await;
    let AnyMessage::BillPaymentResponse(other) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(other.reason.compliance_resp_cd.as_deref(), Some("BPR007"));

    // Status ("402"), also seen from the JSON profile.
    let status_ref = rid("STS", 1);
    let (status, body) = env
        .post_xml(
            "TxnStatusRequest",
            &status_ref,
            signed(&status_xml(&status_ref, txn)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::TxnStatusResponse(state) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(state.reason.approval_ref_num, approval);
    assert_eq!(state.bill_details.biller.id, TL);
    assert_eq!(state.biller_responses[0].amount, "40000");
    let (_, json_status) = env
        .post("/bbps/v1/payments/status", json!({"txnReferenceId": txn}))
        .await;
    assert_eq!(json_status["status"], "SUCCESS");
    assert_eq!(json_status["transaction"]["paymentChannel"], "MOB");
    let (status, body) = env
        .post_xml(
            "TxnStatusRequest",
            &status_ref,
            signed(&status_xml(&status_ref, "AU019166KOSHXML99999")),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(ack_error(&body), "TXN_NOT_FOUND");

    // Reversal: REVERSAL TYPE REQUEST cancels the receipt.
    let reversal = payment_xml(
        &fetch_ref,
        txn_type::REVERSAL_REQUEST,
        txn,
        "TL-1",
        &bill_number,
        40000,
    );
    let (status, body) = env
        .post_xml("BillPaymentRequest", &fetch_ref, signed(&reversal))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::BillPaymentResponse(reversed) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(
        reversed.txn.kind.as_deref(),
        Some(txn_type::REVERSAL_RESPONSE)
    );
    assert_eq!(reversed.reason.response_code, "000");
    let status_tag = reversed
        .additional_info
        .unwrap()
        .tags
        .into_iter()
        .find(|t| t.name == "Transaction Status")
        .unwrap();
    assert_eq!(status_tag.value, "REVERSED");
    assert_eq!(
        env.digit_payments(txn).await[0]["paymentStatus"],
        "CANCELLED"
    );

    // A complaint about it, in the JSON API; the report lists the XML transaction.
    let (status, complaint) = env
        .post(
            "/bbps/v1/complaints",
            json!({"complaintType": "Transaction", "txnReferenceId": txn, "disposition": "Amount deducted, biller account not credited"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{complaint}");
    assert_eq!(complaint["Complaint"]["transactionStatus"], "REVERSED");
    assert_eq!(complaint["Complaint"]["billerId"], TL);
    let (_, report) = env
        .post(&format!("/bbps/v1/reports/daily?date={TODAY}"), json!({}))
        .await;
    let t = report["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["txnReferenceId"] == txn)
        .unwrap()
        .clone();
    assert_eq!(t["status"], "REVERSED");
    assert_eq!(t["receipts"][0]["receiptNumber"], approval);
    env.stop().await;
}

async fn fifty_parallel_postings_of_one_reference_give_one_receipt(backend: Backend) {
    let env = start(backend, false).await;
    env.demand("TL", "TL-7", &[("TL_TAX", 400)]).await;
    env.demand("TL", "TL-8", &[("TL_TAX", 400)]).await;
    let body = posting("AU019166KOSHPAR00001", TL, tl_params("TL-7"), 40000);
    let answers =
        futures::future::join_all((0..50).map(|_| env.post("/bbps/v1/payments", body.clone())))
            .await;
    let first = answers[0].1.clone();
    assert_eq!(first["status"], "SUCCESS", "{first}");
    for (status, a) in &answers {
        assert_eq!(*status, StatusCode::OK, "{a}");
        assert_eq!(*a, first, "every answer is the first one");
    }
    let digit = env.digit_payments("AU019166KOSHPAR00001").await;
    assert_eq!(digit.len(), 1, "one DIGIT payment");
    assert_eq!(
        digit[0]["paymentDetails"][0]["receiptNumber"],
        first["reason"]["approvalRefNum"]
    );

    // Fifty different references for one bill: one receipt, 49 refusals.
    let answers = futures::future::join_all((0..50).map(|i| {
        env.post(
            "/bbps/v1/payments",
            posting(
                &format!("AU019166KOSHPAR1{i:04}"),
                TL,
                tl_params("TL-8"),
                40000,
            ),
        )
    }))
    .await;
    let succeeded = answers
        .iter()
        .filter(|(_, a)| a["status"] == "SUCCESS")
        .count();
    assert_eq!(succeeded, 1, "{answers:?}");
    for (status, a) in &answers {
        assert_eq!(*status, StatusCode::OK, "{a}");
        if a["status"] != "SUCCESS" {
            assert_eq!(a["reason"]["complianceRespCd"], "BPR011", "{a}");
        }
    }
    env.stop().await;
}

async fn only_a_bbps_system_user_from_its_addresses_gets_in(backend: Backend) {
    let env = start(backend, false).await;
    env.demand("TL", "TL-1", &[("TL_TAX", 400)]).await;
    let fetch = json!({"RequestInfo": {}, "billerId": TL, "customerParams": tl_params("TL-1")});

    // No token; a citizen; an employee given the BBPS role; the administrator.
    let (status, _) = env
        .kosh
        .post_anonymous("/bbps/v1/bills/fetch", fetch.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    env.kosh
        .create_user(json!({"userName": "9811111111", "name": "Ravi", "mobileNumber": "9811111111", "type": "CITIZEN",
            "active": true, "password": "Citizen@123", "tenantId": "pb", "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}))
        .await;
    let citizen = env
        .kosh
        .token("9811111111", "Citizen@123", "pb", "CITIZEN")
        .await;
    let (status, body) = env
        .kosh
        .post_as(&citizen, "/bbps/v1/bills/fetch", fetch.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    env.kosh
        .create_user(json!({"userName": "clerk", "name": "Clerk", "type": "EMPLOYEE", "active": true,
            "password": "Clerk@1234", "tenantId": "pb.amritsar", "roles": [{"code": "BBPS", "tenantId": "pb"}]}))
        .await;
    let clerk = env
        .kosh
        .token("clerk", "Clerk@1234", "pb.amritsar", "EMPLOYEE")
        .await;
    let (status, body) = env
        .kosh
        .post_as(&clerk, "/bbps/v1/bills/fetch", fetch.clone())
        .await;
    assert_digit_error(status, &body, StatusCode::FORBIDDEN, "BBPS_UNIT_ONLY", None);
    let (status, _) = env
        .kosh
        .post(
            "/bbps/v1/payments",
            posting("AU019166KOSHAUTH0001", TL, tl_params("TL-1"), 40000),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "not the administrator either"
    );

    // The unit itself, from its address; and from another one.
    let (status, body) = env.post("/bbps/v1/bills/fetch", fetch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let elsewhere = Kosh::client_from("127.0.0.2");
    let (status, body) = env
        .kosh
        .post_as_from(&elsewhere, &env.token, "/bbps/v1/bills/fetch", fetch)
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "IP_NOT_ALLOWED",
        None,
    );

    // Without keys the XML profile is off, and says how to turn it on.
    let ref_id = rid("REF", 1);
    let (status, body) = env
        .post_xml("BillFetchRequest", &ref_id, fetch_xml(&ref_id, "TL-1"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(ack_error(&body), "XML_PROFILE_OFF");
    assert!(body.contains("KOSH_BBPS_SIGNING_KEY"), "{body}");
    env.stop().await;
}

async fn reconciliation_reports_every_mismatch(backend: Backend) {
    let env = start(backend, false).await;
    for code in ["TL-1", "TL-2", "TL-3", "TL-4"] {
        env.demand("TL", code, &[("TL_TAX", 400)]).await;
    }
    for (txn, code, amount) in [
        ("AU019166KOSHREC00001", "TL-1", 40000),
        ("AU019166KOSHREC00002", "TL-2", 40000),
        ("AU019166KOSHREC00003", "TL-3", 40050),
        ("AU019166KOSHREC00004", "TL-4", 40000),
    ] {
        env.pay(posting(txn, TL, tl_params(code), amount)).await;
    }
    // kosh's own report reads back as a settlement file with nothing to report.
    let response = env
        .kosh
        .client
        .get(
            env.kosh
                .url(&format!("/bbps/v1/reports/daily?date={TODAY}&format=csv")),
        )
        .header("auth-token", &env.token)
        .send()
        .await
        .unwrap();
    let own = response.text().await.unwrap();
    let db = &env.kosh.state().db;
    let clean = kosh_bbps::reconcile::run(db, "pb", &own, &[])
        .await
        .unwrap();
    assert!(clean.mismatches.is_empty(), "{}", clean.to_text());
    assert_eq!(clean.matched, 4);
    assert_eq!(clean.dates, vec![TODAY.to_string()]);

    // The unit's file: REC1 matches, REC2 with another amount, REC3 (refused by kosh)
    // settled, REC4 missing, REC5 unknown to kosh, REC1 twice, a bad line.
    let file = "Txn Reference Id,Amount,Status,Settlement Date\n\
        AU019166KOSHREC00001,40000,SUCCESS,2019-06-15\n\
        AU019166KOSHREC00002,45000,SUCCESS,2019-06-15\n\
        AU019166KOSHREC00003,40050,SUCCESS,2019-06-15\n\
        AU019166KOSHREC00005,10000,SUCCESS,2019-06-15\n\
        AU019166KOSHREC00001,40000,SUCCESS,2019-06-15\n\
        AU019166KOSHREC00006,ten,SUCCESS,2019-06-15\n";
    let report = kosh_bbps::reconcile::run(db, "pb", file, &[])
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = report
        .mismatches
        .iter()
        .map(|m| (m.kind, m.txn_reference_id.as_str()))
        .collect();
    for expected in [
        ("BAD_LINE", "AU019166KOSHREC00006"),
        ("AMOUNT_MISMATCH", "AU019166KOSHREC00002"),
        ("NOT_POSTED", "AU019166KOSHREC00003"),
        ("MISSING_IN_KOSH", "AU019166KOSHREC00005"),
        ("DUPLICATE_IN_FILE", "AU019166KOSHREC00001"),
        ("MISSING_IN_FILE", "AU019166KOSHREC00004"),
    ] {
        assert!(kinds.contains(&expected), "{expected:?} in {kinds:?}");
    }
    assert_eq!(report.mismatches.len(), 6, "{}", report.to_text());
    assert_eq!(report.matched, 1);

    // The command: `kosh bbps reconcile <file>` fails when anything does not match.
    let path = env.dir.join("settlement.csv");
    std::fs::write(&path, file).unwrap();
    let args = |file: PathBuf| kosh_server::cli::BbpsReconcile {
        file,
        dates: vec![TODAY.into()],
        tenant: Some("pb".into()),
        json: false,
        settings: (&env.settings).into(),
    };
    let err = kosh_server::bbps_reconcile(args(path)).await.unwrap_err();
    assert!(err.to_string().contains("6 mismatch"), "{err}");
    let own_path = env.dir.join("own.csv");
    std::fs::write(&own_path, &own).unwrap();
    kosh_server::bbps_reconcile(args(own_path))
        .await
        .expect("kosh's own report reconciles");
    env.stop().await;
}

async fn one_posting_pays_several_bills_found_by_mobile_number(backend: Backend) {
    let env = start(backend, false).await;
    env.demand("PT", "PT-21", &[("PT_TAX", 500)]).await;
    env.demand("PT", "PT-22", &[("PT_TAX", 700)]).await;
    let by_mobile = json!([{"name": "City", "value": "Amritsar"}, {"name": "Registered Mobile Number", "value": MOBILE}]);
    let fetched = env.fetch(PT, by_mobile.clone()).await;
    let bills = fetched["bills"].as_array().unwrap();
    assert_eq!(bills.len(), 2, "{fetched}");
    let number = |code: &str| {
        bills.iter().find(|b| b["consumerCode"] == code).unwrap()["billerBillId"].clone()
    };

    // Two bills and no say which: refused (BPR002), and kept as refused.
    let vague = env
        .pay(posting(
            "AU019166KOSHMOB00001",
            PT,
            by_mobile.clone(),
            120000,
        ))
        .await;
    assert_eq!(vague["reason"]["complianceRespCd"], "BPR002", "{vague}");
    assert_eq!(vague["status"], "FAILED");

    // With the amount per bill: one DIGIT payment, a receipt per bill.
    let mut both = posting("AU019166KOSHMOB00002", PT, by_mobile.clone(), 120000);
    both["bills"] = json!([{"billerBillId": number("PT-21"), "amount": 50000},
                           {"billerBillId": number("PT-22"), "amount": 70000}]);
    let paid = env.pay(both).await;
    assert_eq!(paid["status"], "SUCCESS", "{paid}");
    let receipts = paid["transaction"]["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0]["consumerCode"], "PT-21");
    assert_eq!(receipts[1]["amountPaid"], 70000);
    assert_ne!(receipts[0]["receiptNumber"], receipts[1]["receiptNumber"]);
    assert_eq!(
        paid["reason"]["approvalRefNum"],
        receipts[0]["receiptNumber"]
    );
    let digit = env.digit_payments("AU019166KOSHMOB00002").await;
    assert_eq!(digit.len(), 1);
    assert_eq!(digit[0]["paymentDetails"].as_array().unwrap().len(), 2);

    // A breakup that does not add up is an amount refusal.
    let mut wrong = posting("AU019166KOSHMOB00003", PT, by_mobile, 100000);
    wrong["bills"] = json!([{"billerBillId": number("PT-21"), "amount": 50000}]);
    let wrong = env.pay(wrong).await;
    assert_eq!(wrong["reason"]["complianceRespCd"], "BPR011", "{wrong}");
    env.stop().await;
}

/// One bill, one collection across channels: BBPS money is already taken by the operating
/// unit, so its posting is receipted even while the bill's online payment is PENDING; when
/// the gateway then confirms the online payment, its money becomes a refund due, named in
/// the transaction, and the bill keeps one receipt.
async fn a_posting_while_an_online_payment_is_pending_is_receipted_and_the_online_money_refunded(
    backend: Backend,
) {
    let env = start(backend, false).await;
    env.demand("PT", "PT-31", &[("PT_TAX", 1000)]).await;
    let (status, fetched) = env
        .kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode=PT-31"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fetched}");
    let bill = fetched["Bill"][0].clone();
    // The payer starts paying online (kosh's SANDBOX gateway) and is on the gateway's page.
    let callback = "https://ui.example/citizen/payment/success";
    let (status, created) = env
        .kosh
        .post(
            "/pg-service/transaction/v1/_create",
            json!({"RequestInfo": {}, "Transaction": {"tenantId": TENANT, "txnAmount": 1000,
                "module": "PT", "billId": bill["id"], "consumerCode": "PT-31",
                "productInfo": "Property Tax Payment", "gateway": "SANDBOX", "callbackUrl": callback,
                "taxAndPayments": [{"billId": bill["id"], "amountPaid": 1000}],
                "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let txn = created["Transaction"].clone();
    let txn_id = txn["txnId"].as_str().unwrap().to_string();
    // Meanwhile the same bill is paid at a bank's BBPS counter: accepted and receipted.
    env.fetch(PT, pt_params("PT-31")).await;
    let paid = env
        .pay(posting("BBPSCROSS1", PT, pt_params("PT-31"), 100000))
        .await;
    assert_eq!(paid["status"], "SUCCESS", "{paid}");
    assert_eq!(paid["reason"]["responseCode"], "000", "{paid}");
    // The payer completes the online payment; the gateway confirms it.
    let redirect = reqwest::Url::parse(txn["redirectUrl"].as_str().unwrap()).unwrap();
    let mut form: std::collections::BTreeMap<String, String> =
        redirect.query_pairs().into_owned().collect();
    form.insert("outcome".into(), "SUCCESS".into());
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(env.kosh.url("/pg-service/sandbox/pay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let back = reqwest::Url::parse(&location).unwrap();
    let mut update =
        reqwest::Url::parse(&env.kosh.url("/pg-service/transaction/v1/_update")).unwrap();
    update.query_pairs_mut().extend_pairs(back.query_pairs());
    let (status, body) =
        kosh_blackbox::read(env.kosh.client.get(update).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settled = &body["Transaction"][0];
    assert_eq!(settled["txnStatus"], "SUCCESS", "never FAILURE: {settled}");
    assert_eq!(
        settled["receipt"],
        Value::Null,
        "no second receipt: {settled}"
    );
    let msg = settled["txnStatusMsg"].as_str().unwrap_or_default();
    assert!(msg.contains("refund due"), "{settled}");
    let (status, refunds) = env
        .kosh
        .post(
            &format!(
                "/collection-services/refunds/_search?tenantId={TENANT}&sourceReference={txn_id}"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refunds}");
    assert_eq!(refunds["Refunds"][0]["channel"], "ONLINE", "{refunds}");
    assert_eq!(refunds["Refunds"][0]["amount"], 1000, "{refunds}");
    assert!(msg.contains(refunds["Refunds"][0]["id"].as_str().unwrap()));
    let (status, payments) = env
        .kosh
        .post(
            &format!("/collection-services/payments/_search?tenantId={TENANT}&consumerCodes=PT-31"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{payments}");
    let payments = payments["Payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1, "one bill, one receipt: {payments:?}");
    assert_eq!(payments[0]["transactionNumber"], "BBPSCROSS1");
    env.stop().await;
}
