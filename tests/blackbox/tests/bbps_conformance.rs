//! BBPS conformance (issue 16, items 9-11), on SQLite and on PostgreSQL: a biller
//! advertises only the amounts collection will take, and every well-formed posting gets a
//! BBPS answer and a record; a reversed transaction is final, so a re-post answers the
//! reversal.

use std::path::PathBuf;
use std::sync::LazyLock;

use kosh_bbps::sig::{SigningKey, VerifyingKey};
use kosh_bbps::xml::{AnyMessage, txn_type};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    exactness_follows_what_collection_takes_and_every_posting_is_answered_and_recorded,
    a_reversed_reference_reposted_answers_the_reversal_in_json_and_xml,
    a_posting_links_to_its_fetch_by_ref_id_and_the_unit_monitors_health,
    xml_bill_validation_and_complaints_per_the_xsd,
    the_asynchronous_exchange_acks_then_posts_the_signed_response_with_retries,
    every_well_formed_posting_is_answered_in_bbps_shape_and_recorded,
);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const TODAY: &str = "2019-06-15";
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PT: &str = "PBMT00000PUN01";
const TL: &str = "PBTL00000PUN01";
const WS: &str = "PBWS00000PUN01";
const HOARDINGS: &str = "PBAH00000PUN01";
const UNIT: &str = "bbps-conformance";
const UNIT_PASSWORD: &str = "Bbps@2026c";

struct Keys {
    kosh_private: String,
    kosh_public: String,
    unit_private: String,
    unit_public: String,
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
    Keys {
        kosh_private,
        kosh_public,
        unit_private,
        unit_public,
    }
});

struct Env {
    kosh: Kosh,
    token: String,
    payer: String,
    dir: PathBuf,
}

/// kosh with the XML profile on, the clock at [`NOW`], a citizen who pays and the
/// operating unit's SYSTEM user, signed in; `adjust` changes the settings further.
async fn start_with(backend: Backend, adjust: impl FnOnce(&mut kosh_server::cli::Settings)) -> Env {
    let dir =
        std::env::temp_dir().join(format!("kosh-bbps-conf-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kosh-key.pem"), &KEYS.kosh_private).unwrap();
    std::fs::write(dir.join("unit-cert.pem"), &KEYS.unit_public).unwrap();
    let kosh = Kosh::start_with(backend, |s| {
        s.bbps_signing_key = Some(dir.join("kosh-key.pem"));
        s.bbps_peer_certs = vec![dir.join("unit-cert.pem")];
        s.bbps_institution_id = "KS01".into();
        adjust(s);
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
        json!({"userName": UNIT, "name": "Conformance BBPS unit", "type": "SYSTEM", "active": true,
        "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    let token = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    Env {
        kosh,
        token,
        payer: citizen["uuid"].as_str().unwrap().to_string(),
        dir,
    }
}

async fn start(backend: Backend) -> Env {
    start_with(backend, |_| {}).await
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
        let details: Vec<Value> = heads
            .iter()
            .map(|(h, a)| json!({"taxHeadMasterCode": h, "taxAmount": a, "collectionAmount": 0}))
            .collect();
        let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
            "businessService": service, "payer": {"uuid": self.payer}, "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
            "demandDetails": details}]});
        let (status, answer) = self
            .kosh
            .post("/billing-service/demand/_create", body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }

    async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    async fn status_of(&self, txn: &str) -> Value {
        self.ok("/bbps/v1/payments/status", json!({"txnReferenceId": txn}))
            .await
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

fn params(biller: &str, code: &str) -> Value {
    let name = match biller {
        PT => "Property ID",
        TL => "Trade Licence Number",
        WS => "Connection Number",
        HOARDINGS => "Hoarding Number",
        _ => unreachable!(),
    };
    json!([{"name": "City", "value": "Amritsar"}, {"name": name, "value": code}])
}

fn posting(txn: &str, biller: &str, code: &str, amount: i64) -> Value {
    json!({"RequestInfo": {"apiId": "bbps"}, "billerId": biller, "txnReferenceId": txn, "refId": "FETCH1",
        "paymentRefId": "UPI0000123456", "customerParams": params(biller, code), "customerMobile": MOBILE,
        "amount": amount, "paymentMode": "UPI", "paymentChannel": "MOB", "agentId": "AU01AU02INT529468291",
        "txnTimestamp": "2019-06-15T10:00:00+05:30"})
}

fn rid(kind: &str, n: u32) -> String {
    format!("{kind}{n:0>width$}", width = 35 - kind.len())
}

fn head(ref_id: &str) -> String {
    format!(r#"<Head ver="1.0" ts="2019-06-15T10:00:00+05:30" origInst="AU01" refId="{ref_id}"/>"#)
}

const AGENT: &str = r#"<Agent id="AU01AU02INT529468291"><Device><Tag name="INITIATING_CHANNEL" value="MOB"/><Tag name="IP" value="124.170.23.22"/><Tag name="IMEI" value="490154203237518"/><Tag name="OS" value="Android"/><Tag name="APP" value="CitizenPay"/></Device></Agent>"#;

fn bill_details(biller: &str, code: &str) -> String {
    bill_details_as(biller, biller, code)
}

/// `Biller@id` `id`, with the customer parameters of `biller`.
fn bill_details_as(id: &str, biller: &str, code: &str) -> String {
    let tags: String = params(biller, code)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                r#"<Tag name="{}" value="{}"/>"#,
                p["name"].as_str().unwrap(),
                p["value"].as_str().unwrap()
            )
        })
        .collect();
    format!(
        r#"<BillDetails><Biller id="{id}"/><CustomerParams>{tags}</CustomerParams></BillDetails>"#
    )
}

fn payment_xml(ref_id: &str, kind: &str, txn: &str, code: &str, amount: i64) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:BillPaymentRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T10:00:05+05:30" type="{kind}" msgId="{}" txnReferenceId="{txn}" paymentRefId="45f7c2fbeadc4e0c9fe9586735e9448f"/><Customer mobile="{MOBILE}"/>{AGENT}{}<BillerCategory category="Municipal Services"/><PaymentMethod quickPay="No" splitPay="No" OFFUSPay="Yes" paymentMode="UPI"/><Amount><Amt amount="{amount}" custConvFee="0" currency="356" COUcustConvFee="0"/><AmountBreakUp/><SplitPayAmount/></Amount><PaymentInformation><Tag name="VPA" value="asha@upi"/></PaymentInformation></ns2:BillPaymentRequest>"#,
        head(ref_id),
        rid("PAY", 1),
        bill_details(TL, code)
    )
}

/// A forward payment of `amount` paise to `Biller@id` `id` with `biller`'s parameters.
fn payment_xml_to(
    ref_id: &str,
    id: &str,
    biller: &str,
    txn: &str,
    code: &str,
    amount: &str,
) -> String {
    payment_xml(ref_id, txn_type::FORWARD_REQUEST, txn, code, 0)
        .replace(&bill_details(TL, code), &bill_details_as(id, biller, code))
        .replace(r#"<Amt amount="0""#, &format!(r#"<Amt amount="{amount}""#))
}

fn status_xml(ref_id: &str, txn: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:TxnStatusRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T11:00:00+05:30" msgId="{}"/><TxnStatusReq msgId="{}" txnReferenceId="{txn}"/></ns2:TxnStatusRequest>"#,
        head(ref_id),
        rid("STM", 1),
        rid("PAY", 1)
    )
}

fn signed(xml: &str) -> String {
    kosh_bbps::sig::sign(xml, &SigningKey::from_pem(&KEYS.unit_private).unwrap()).unwrap()
}

/// kosh's answer, its signature verified with kosh's public key.
fn verified(body: &str) -> AnyMessage {
    let kosh = VerifyingKey::from_pem(&KEYS.kosh_public).unwrap();
    kosh_bbps::codec::decode_signed_any(body, std::slice::from_ref(&kosh))
        .unwrap_or_else(|e| panic!("kosh's answer does not verify: {e}\n{body}"))
}

fn info_tag(info: &Option<kosh_bbps::xml::AdditionalInfo>, name: &str) -> Option<String> {
    info.as_ref()?
        .tags
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.value.clone())
}

/// Item 9. Hoardings allow advance in master data but have no ADVANCE_COLLECTION tax
/// head, so collection takes no more than the bill: the biller says EXACT, validation and
/// posting refuse 70000 paise over a 60000 bill alike, and the posting's refusal is a BBPS
/// answer (BPR011) with a record that status and the report show. Water has both, so it
/// says ANY, and an amount above the bill validates and posts (as advance).
async fn exactness_follows_what_collection_takes_and_every_posting_is_answered_and_recorded(
    backend: Backend,
) {
    let env = start(backend).await;
    env.demand("ADVT.Hoardings", "AH-1", &[("ADVT.HOARDINGS_TAX", 600)])
        .await;
    env.demand("WS", "WS-1", &[("WS_CHARGE", 600)]).await;

    let fetched = env
        .ok(
            "/bbps/v1/bills/fetch",
            json!({"billerId": HOARDINGS, "refId": "FETCH1", "customerParams": params(HOARDINGS, "AH-1")}),
        )
        .await;
    let bill = &fetched["bills"][0];
    assert_eq!(bill["amount"], 60000, "{fetched}");
    assert_eq!(
        bill["amountExactness"], "EXACT",
        "no advance tax head, so no EXACT_UP: {fetched}"
    );
    assert_eq!(bill["maxAmount"], 60000);

    let validated = env
        .ok(
            "/bbps/v1/bills/validate",
            json!({"billerId": HOARDINGS, "customerParams": params(HOARDINGS, "AH-1"), "amount": 70000}),
        )
        .await;
    assert_eq!(
        validated["reason"]["complianceRespCd"], "BVR005",
        "{validated}"
    );

    let paid = env
        .ok(
            "/bbps/v1/payments",
            posting("AU019166CONF00000001", HOARDINGS, "AH-1", 70000),
        )
        .await;
    assert_eq!(paid["reason"]["responseCode"], "200", "{paid}");
    assert_eq!(paid["reason"]["complianceRespCd"], "BPR011", "{paid}");
    assert_eq!(paid["status"], "FAILED", "recorded: {paid}");
    let recorded = env.status_of("AU019166CONF00000001").await;
    assert_eq!(recorded["status"], "FAILED", "{recorded}");
    assert_eq!(recorded["reason"]["complianceRespCd"], "BPR011");

    // The exact amount is taken.
    let exact = env
        .ok(
            "/bbps/v1/payments",
            posting("AU019166CONF00000002", HOARDINGS, "AH-1", 60000),
        )
        .await;
    assert_eq!(exact["status"], "SUCCESS", "{exact}");

    // Water: part payment and advance, with an advance head: ANY, and more than the bill
    // validates and posts.
    let water = env
        .ok(
            "/bbps/v1/bills/fetch",
            json!({"billerId": WS, "refId": "FETCH2", "customerParams": params(WS, "WS-1")}),
        )
        .await;
    assert_eq!(water["bills"][0]["amountExactness"], "ANY", "{water}");
    assert_eq!(water["bills"][0]["maxAmount"], Value::Null);
    let validated = env
        .ok(
            "/bbps/v1/bills/validate",
            json!({"billerId": WS, "customerParams": params(WS, "WS-1"), "amount": 70000}),
        )
        .await;
    assert_eq!(validated["reason"]["responseCode"], "000", "{validated}");
    let advance = env
        .ok(
            "/bbps/v1/payments",
            posting("AU019166CONF00000003", WS, "WS-1", 70000),
        )
        .await;
    assert_eq!(advance["status"], "SUCCESS", "{advance}");
    assert_eq!(advance["transaction"]["receipts"][0]["amountPaid"], 70000);

    // The day's report has every posting, the refused one too.
    let (status, report) = env
        .post(&format!("/bbps/v1/reports/daily?date={TODAY}"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let listed: Vec<(String, String)> = report["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["txnReferenceId"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("AU019166CONF00000001", "FAILED"),
        ("AU019166CONF00000002", "SUCCESS"),
        ("AU019166CONF00000003", "SUCCESS"),
    ] {
        assert!(
            listed.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {listed:?}"
        );
    }
    env.stop().await;
}

/// Item 10. A reversal is final: the same posting sent again (JSON or XML) is a status
/// query and answers the reversal (a failure, status REVERSED), never `000` with the
/// cancelled receipt; so do the status queries.
async fn a_reversed_reference_reposted_answers_the_reversal_in_json_and_xml(backend: Backend) {
    let env = start(backend).await;
    env.demand("PT", "PT-1", &[("PT_TAX", 1000)]).await;
    env.demand("TL", "TL-1", &[("TL_TAX", 400)]).await;

    // JSON.
    let body = posting("AU019166CONF00000010", PT, "PT-1", 100000);
    let paid = env.ok("/bbps/v1/payments", body.clone()).await;
    assert_eq!(paid["status"], "SUCCESS", "{paid}");
    let receipt = paid["reason"]["approvalRefNum"]
        .as_str()
        .unwrap()
        .to_string();
    let reversed = env
        .ok(
            "/bbps/v1/payments/reverse",
            json!({"txnReferenceId": "AU019166CONF00000010", "reason": "debit failed"}),
        )
        .await;
    assert_eq!(reversed["status"], "REVERSED", "{reversed}");
    for again in [
        env.ok("/bbps/v1/payments", body.clone()).await,
        env.status_of("AU019166CONF00000010").await,
    ] {
        assert_eq!(again["status"], "REVERSED", "{again}");
        assert_eq!(
            again["reason"]["responseCode"], "200",
            "never success: {again}"
        );
        assert_ne!(again["reason"]["responseReason"], "Successful");
        assert_eq!(again["reason"]["approvalRefNum"], Value::Null, "{again}");
        assert_eq!(again["reason"]["complianceRespCd"], "BPR007");
        assert!(
            again["detail"].as_str().unwrap().contains("reversed"),
            "{again}"
        );
        assert!(again["detail"].as_str().unwrap().contains(&receipt));
    }
    // Nothing was paid again: the bill is due.
    let due = env
        .ok(
            "/bbps/v1/bills/fetch",
            json!({"billerId": PT, "refId": "FETCH3", "customerParams": params(PT, "PT-1")}),
        )
        .await;
    assert_eq!(due["bills"][0]["amount"], 100000, "{due}");

    // XML.
    let txn = "AU019166CONF00000011";
    let ref_id = rid("REF", 11);
    let payment = payment_xml(&ref_id, txn_type::FORWARD_REQUEST, txn, "TL-1", 40000);
    let (status, body) = env
        .post_xml("BillPaymentRequest", &ref_id, signed(&payment))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::BillPaymentResponse(paid) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(paid.reason.response_code, "000", "{body}");
    let reversal = payment_xml(&ref_id, txn_type::REVERSAL_REQUEST, txn, "TL-1", 40000);
    let (_, body) = env
        .post_xml("BillPaymentRequest", &ref_id, signed(&reversal))
        .await;
    let AnyMessage::BillPaymentResponse(reversed) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(
        info_tag(&reversed.additional_info, "Transaction Status").as_deref(),
        Some("REVERSED")
    );
    let (status, body) = env
        .post_xml("BillPaymentRequest", &ref_id, signed(&payment))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let AnyMessage::BillPaymentResponse(again) = verified(&body) else {
        panic!("{body}")
    };
    assert_eq!(again.reason.response_code, "200", "never success: {body}");
    assert_eq!(again.reason.compliance_resp_cd.as_deref(), Some("BPR007"));
    assert_eq!(again.reason.approval_ref_num, "");
    assert_eq!(again.txn.kind.as_deref(), Some(txn_type::FORWARD_RESPONSE));
    assert_eq!(
        info_tag(&again.additional_info, "Transaction Status").as_deref(),
        Some("REVERSED")
    );
    let status_ref = rid("STS", 11);
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
    assert_eq!(state.reason.response_code, "200", "{body}");
    assert_eq!(
        info_tag(&state.additional_info, "Transaction Status").as_deref(),
        Some("REVERSED")
    );
    env.stop().await;
}

/// Item 11: a posting carries the fetch's `refId` and links to that fetch (the unit's own,
/// JSON or XML), shown in status and the report; the unit's monitoring asks
/// `GET /bbps/v1/health` with its own token.
async fn a_posting_links_to_its_fetch_by_ref_id_and_the_unit_monitors_health(backend: Backend) {
    let env = start(backend).await;
    env.demand("TL", "TL-5", &[("TL_TAX", 400)]).await;
    env.demand("TL", "TL-6", &[("TL_TAX", 400)]).await;
    let ref_id = "HENSVVR4QOS7X1UGPY7JGUV444P61241015";
    let fetched = env
        .ok(
            "/bbps/v1/bills/fetch",
            json!({"billerId": TL, "refId": ref_id, "customerParams": params(TL, "TL-5")}),
        )
        .await;
    let number = fetched["bills"][0]["billerBillId"].clone();
    env.kosh.advance_clock(30_000).await;
    let mut body = posting("AU019166CONF00000020", TL, "TL-5", 40000);
    body["refId"] = json!(ref_id);
    let paid = env.ok("/bbps/v1/payments", body).await;
    assert_eq!(paid["status"], "SUCCESS", "{paid}");
    let link = &paid["transaction"]["fetch"];
    assert_eq!(link["refId"], ref_id, "{paid}");
    assert_eq!(link["fetchedTime"], NOW, "{paid}");
    assert_eq!(link["profile"], "JSON");
    assert_eq!(link["responseCode"], "000");
    assert_eq!(link["bills"][0]["billerBillId"], number);
    assert_eq!(link["bills"][0]["amount"], 40000);
    let status = env.status_of("AU019166CONF00000020").await;
    assert_eq!(status["transaction"]["refId"], ref_id);
    assert_eq!(status["transaction"]["fetch"], *link);
    let (_, report) = env
        .post(&format!("/bbps/v1/reports/daily?date={TODAY}"), json!({}))
        .await;
    let listed = report["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["txnReferenceId"] == "AU019166CONF00000020")
        .unwrap()
        .clone();
    assert_eq!(listed["fetch"]["refId"], ref_id, "{listed}");

    // An XML fetch is linked the same way; a refId no fetch was made under links nothing.
    let xml_ref = rid("REF", 20);
    let fetch = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:BillFetchRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T10:00:00+05:30" msgId="{}"/><Customer mobile="{MOBILE}"/>{AGENT}{}</ns2:BillFetchRequest>"#,
        head(&xml_ref),
        rid("MSG", 20),
        bill_details(TL, "TL-6")
    );
    let (status, body) = env
        .post_xml("BillFetchRequest", &xml_ref, signed(&fetch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payment = payment_xml(
        &xml_ref,
        txn_type::FORWARD_REQUEST,
        "AU019166CONF00000021",
        "TL-6",
        40000,
    );
    let (status, body) = env
        .post_xml("BillPaymentRequest", &xml_ref, signed(&payment))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let xml_status = env.status_of("AU019166CONF00000021").await;
    assert_eq!(
        xml_status["transaction"]["fetch"]["refId"],
        xml_ref.as_str(),
        "{xml_status}"
    );
    assert_eq!(xml_status["transaction"]["fetch"]["profile"], "XML");
    let mut unlinked = posting("AU019166CONF00000022", TL, "TL-5", 40000);
    unlinked["refId"] = json!("NOFETCHEVERMADE");
    let unlinked = env.ok("/bbps/v1/payments", unlinked).await;
    assert_eq!(unlinked["transaction"]["fetch"], Value::Null, "{unlinked}");

    // Health, for the unit's monitoring: with its token, not without one.
    let get = |token: Option<String>| {
        let mut request = env.kosh.client.get(env.kosh.url("/bbps/v1/health"));
        if let Some(token) = token {
            request = request.header("auth-token", token);
        }
        async move { kosh_blackbox::read(request.send().await.unwrap()).await }
    };
    let (status, health) = get(Some(env.token.clone())).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "UP");
    assert_eq!(health["database"], "UP");
    assert_eq!(health["xmlProfile"], "ON");
    assert_eq!(health["institutionId"], "KS01");
    assert!(
        health["billers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["billerId"] == PT && b["active"] == true),
        "{health}"
    );
    let (status, _) = get(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(Some(env.kosh.admin_token.clone())).await;
    assert_eq!(status, StatusCode::OK, "the municipality's SUPERUSER too");
    env.stop().await;
}

fn validation_xml(ref_id: &str, biller: &str, code: &str, amount: Option<i64>) -> String {
    let amount = amount
        .map(|a| format!(r#"<Amount amount="{a}"/>"#))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:BillValidationRequest xmlns:ns2="http://bbps.org/schema">{}{AGENT}{}{amount}</ns2:BillValidationRequest>"#,
        head(ref_id),
        bill_details(biller, code)
    )
}

fn complaint_xml(ref_id: &str, attributes: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:TxnStatusComplainRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T12:00:00+05:30" msgId="{}" xchangeId="401"/><TxnStatusComplainReq msgId="{}" {attributes}/></ns2:TxnStatusComplainRequest>"#,
        head(ref_id),
        rid("CMS", 1),
        rid("CMQ", 1)
    )
}

fn validation_answer(body: &str) -> kosh_bbps::xml::BillValidationResponse {
    match verified(body) {
        AnyMessage::BillValidationResponse(r) => r,
        _ => panic!("{body}"),
    }
}

fn complaint_answer(body: &str) -> kosh_bbps::xml::TxnStatusComplainResponse {
    match verified(body) {
        AnyMessage::TxnStatusComplainResponse(r) => r,
        _ => panic!("{body}"),
    }
}

/// Item 11: `BillValidationRequest` → `BillValidationResponse` (the JSON validation's
/// verdicts: BVR005 for an amount the bill does not take, BVR001 for an unknown account),
/// and `TxnStatusComplainRequest` → `TxnStatusComplainResponse`: a complaint registered,
/// tracked by its id, shown in the JSON tracking too, with the transaction it is about;
/// another unit tracks nothing of it.
async fn xml_bill_validation_and_complaints_per_the_xsd(backend: Backend) {
    let env = start(backend).await;
    env.demand("ADVT.Hoardings", "AH-2", &[("ADVT.HOARDINGS_TAX", 600)])
        .await;
    env.demand("TL", "TL-9", &[("TL_TAX", 400)]).await;

    let ref_id = rid("VAL", 1);
    let (status, body) = env
        .post_xml(
            "BillValidationRequest",
            &ref_id,
            signed(&validation_xml(&ref_id, HOARDINGS, "AH-2", None)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let valid = validation_answer(&body);
    assert_eq!(valid.reason.response_code, "000", "{body}");
    assert_eq!(valid.head.ref_id, ref_id);
    assert_eq!(
        info_tag(&valid.additional_info, "Amount Exactness").as_deref(),
        Some("EXACT")
    );
    assert_eq!(
        info_tag(&valid.additional_info, "Bill Amount").as_deref(),
        Some("60000")
    );
    let (_, body) = env
        .post_xml(
            "BillValidationRequest",
            &ref_id,
            signed(&validation_xml(&ref_id, HOARDINGS, "AH-2", Some(70000))),
        )
        .await;
    let over = validation_answer(&body);
    assert_eq!(
        over.reason.compliance_resp_cd.as_deref(),
        Some("BVR005"),
        "{body}"
    );
    let (_, body) = env
        .post_xml(
            "BillValidationRequest",
            &ref_id,
            signed(&validation_xml(&ref_id, HOARDINGS, "AH-404", None)),
        )
        .await;
    let unknown = validation_answer(&body);
    assert_eq!(
        unknown.reason.compliance_resp_cd.as_deref(),
        Some("BVR001"),
        "{body}"
    );

    // A complaint about a posting, registered in XML.
    let paid = env
        .ok(
            "/bbps/v1/payments",
            posting("AU019166CONF00000030", TL, "TL-9", 40000),
        )
        .await;
    assert_eq!(paid["status"], "SUCCESS", "{paid}");
    let cms = rid("CMP", 1);
    let (status, body) = env
        .post_xml(
            "TxnStatusComplainRequest",
            &cms,
            signed(&complaint_xml(
                &cms,
                r#"complaintType="Transaction" txnReferenceId="AU019166CONF00000030" disposition="Transaction Successful, account not updated" description="no receipt" participationType="AGENT""#,
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let registered = complaint_answer(&body);
    assert_eq!(
        registered.resp.response_code.as_deref(),
        Some("000"),
        "{body}"
    );
    assert_eq!(
        registered.resp.complaint_status.as_deref(),
        Some("ASSIGNED")
    );
    assert_eq!(registered.resp.msg_id, rid("CMQ", 1));
    assert_eq!(registered.txn.xchange_id.as_deref(), Some("401"));
    let id = registered.resp.complaint_id.clone().unwrap();
    let listed = &registered.resp.txn_list.details;
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0].txn_reference_id, "AU019166CONF00000030");
    assert_eq!(listed[0].txn_status, "SUCCESS");
    assert_eq!(listed[0].amount, "40000");

    // Tracked by its id, in XML and in JSON.
    let (_, body) = env
        .post_xml(
            "TxnStatusComplainRequest",
            &cms,
            signed(&complaint_xml(&cms, &format!(r#"complaintId="{id}""#))),
        )
        .await;
    let tracked = complaint_answer(&body);
    assert_eq!(
        tracked.resp.complaint_id.as_deref(),
        Some(id.as_str()),
        "{body}"
    );
    assert_eq!(tracked.resp.complaint_status.as_deref(), Some("ASSIGNED"));
    assert_eq!(tracked.resp.open_complaint.as_deref(), Some("Y"));
    let json_tracked = env
        .ok("/bbps/v1/complaints/status", json!({"complaintId": id}))
        .await;
    assert_eq!(json_tracked["Complaints"][0]["complaintId"], id.as_str());
    assert_eq!(
        json_tracked["Complaints"][0]["disposition"],
        "Transaction Successful, account not updated"
    );

    // Nothing to register or track: a signed refusal, not a DIGIT error.
    let (status, body) = env
        .post_xml(
            "TxnStatusComplainRequest",
            &cms,
            signed(&complaint_xml(&cms, "")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = complaint_answer(&body);
    assert_eq!(refused.resp.response_code.as_deref(), Some("200"), "{body}");
    assert!(
        refused
            .resp
            .remarks
            .as_deref()
            .unwrap_or_default()
            .contains("complaintId")
    );

    // Another operating unit sees none of it.
    env.kosh
        .create_user(json!({"userName": "bbps-other", "name": "Other BBPS unit", "type": "SYSTEM", "active": true,
            "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
            "roles": [{"code": "BBPS", "tenantId": "pb"}]}))
        .await;
    let other = env
        .kosh
        .token("bbps-other", UNIT_PASSWORD, "pb", "SYSTEM")
        .await;
    let response = env
        .kosh
        .client
        .post(env.kosh.url(&format!(
            "/bbps/v1/npci/TxnStatusComplainRequest/1.0/urn:referenceId:{cms}"
        )))
        .header("auth-token", &other)
        .header("content-type", "application/xml")
        .body(signed(&complaint_xml(
            &cms,
            &format!(r#"complaintId="{id}""#),
        )))
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    let foreign = complaint_answer(&body);
    assert_eq!(foreign.resp.response_code.as_deref(), Some("200"), "{body}");
    assert_eq!(foreign.resp.complaint_id, None);
    assert!(foreign.resp.txn_list.details.is_empty());
    env.stop().await;
}

/// What the unit's endpoint saw: (path, body, the status it answered).
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, u16)>>>;

/// The operating unit's endpoint, on a free local port: it refuses the first delivery of
/// each response (503) and acknowledges the next.
async fn unit_endpoint() -> (String, Seen) {
    use axum::http::{StatusCode as Http, Uri};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Default::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, body: String| {
        let log = log.clone();
        async move {
            let path = uri.path().to_string();
            let mut log = log.lock().unwrap();
            let first = !log.iter().any(|(p, _, _)| *p == path);
            let status = if first { 503 } else { 200 };
            log.push((path.clone(), body, status));
            if first {
                return (Http::SERVICE_UNAVAILABLE, "busy".to_string());
            }
            let reference = path.rsplit(':').next().unwrap_or_default().to_string();
            let ack = kosh_bbps::xml::Ack::accepted(
                "FETCH_RESPONSE",
                &reference,
                None,
                "2019-06-15T10:00:01+05:30",
            );
            (Http::OK, kosh_bbps::codec::encode_ack(&ack).unwrap())
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// The body the unit took (answered 200) at `path`, waiting for the retries.
async fn delivered(seen: &Seen, path: &str) -> (String, usize) {
    for _ in 0..100 {
        {
            let log = seen.lock().unwrap();
            if let Some((_, body, _)) = log.iter().find(|(p, _, s)| p == path && *s == 200) {
                let attempts = log.iter().filter(|(p, _, _)| p == path).count();
                return (body.clone(), attempts);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nothing delivered to {path}: {:?}", seen.lock().unwrap());
}

/// Item 11: with `KOSH_BBPS_CALLBACK_URL`, an XML request gets an Ack at once and kosh's
/// signed response is POSTed to the unit (NPCI's path), again after a refusal until
/// acknowledged; a request kosh refuses gets its refusing Ack and no callback; the posting
/// is recorded before the Ack, and health shows the deliveries.
async fn the_asynchronous_exchange_acks_then_posts_the_signed_response_with_retries(
    backend: Backend,
) {
    kosh_blackbox::one_instance("health counts the deliveries of the instance it asks");
    let (base, seen) = unit_endpoint().await;
    let url = base.clone();
    let env = start_with(backend, move |s| s.bbps_callback_url = Some(url)).await;
    env.demand("TL", "TL-11", &[("TL_TAX", 400)]).await;

    let ref_id = rid("ASY", 1);
    let fetch = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:BillFetchRequest xmlns:ns2="http://bbps.org/schema">{}<Txn ts="2019-06-15T10:00:00+05:30" msgId="{}"/><Customer mobile="{MOBILE}"/>{AGENT}{}</ns2:BillFetchRequest>"#,
        head(&ref_id),
        rid("MSG", 31),
        bill_details(TL, "TL-11")
    );
    let (status, body) = env
        .post_xml("BillFetchRequest", &ref_id, signed(&fetch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ack = kosh_bbps::codec::decode_ack(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(ack.is_accepted(), "{body}");
    assert_eq!(ack.api.as_deref(), Some("FETCH_REQUEST"));
    assert_eq!(ack.ref_id.as_deref(), Some(ref_id.as_str()));
    let (answer, attempts) = delivered(
        &seen,
        &format!("/bbps/BillFetchResponse/1.0/urn:referenceId:{ref_id}"),
    )
    .await;
    assert!(attempts >= 2, "refused once, then taken: {attempts}");
    let AnyMessage::BillFetchResponse(fetched) = verified(&answer) else {
        panic!("{answer}")
    };
    assert_eq!(fetched.head.ref_id, ref_id);
    assert_eq!(fetched.reason.response_code, "000", "{answer}");
    assert_eq!(fetched.biller_responses[0].amount, "40000");

    // The payment: an Ack, the posting already recorded, then the signed response.
    let txn = "AU019166CONF00000040";
    let payment = payment_xml(&ref_id, txn_type::FORWARD_REQUEST, txn, "TL-11", 40000);
    let (status, body) = env
        .post_xml("BillPaymentRequest", &ref_id, signed(&payment))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ack = kosh_bbps::codec::decode_ack(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(ack.is_accepted(), "{body}");
    assert_eq!(ack.api.as_deref(), Some("PAYMENT_REQUEST"));
    assert_eq!(env.status_of(txn).await["status"], "SUCCESS");
    let (answer, _) = delivered(
        &seen,
        &format!("/bbps/BillPaymentResponse/1.0/urn:referenceId:{ref_id}"),
    )
    .await;
    let AnyMessage::BillPaymentResponse(paid) = verified(&answer) else {
        panic!("{answer}")
    };
    assert_eq!(paid.reason.response_code, "000", "{answer}");
    assert_eq!(paid.txn.txn_reference_id.as_deref(), Some(txn));

    // Refused at once, no callback: an unsigned request.
    let other = rid("ASY", 2);
    let (status, body) = env
        .post_xml("BillFetchRequest", &other, fetch.replace(&ref_id, &other))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let refusal = kosh_bbps::codec::decode_ack(&body).unwrap();
    assert!(!refusal.is_accepted());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|(p, _, _)| p.ends_with(&other)),
        "no callback for a refusal"
    );

    // The heartbeat stays synchronous; health counts the deliveries.
    let hbt = rid("HBT", 3);
    let diag = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ns2:ReqDiagnostic xmlns:ns2="http://bbps.org/schema">{}</ns2:ReqDiagnostic>"#,
        head(&hbt)
    );
    let (status, body) = env.post_xml("ReqHbt", &hbt, signed(&diag)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(matches!(verified(&body), AnyMessage::ResDiagnostic(_)));
    let response = env
        .kosh
        .client
        .get(env.kosh.url("/bbps/v1/health"))
        .header("auth-token", &env.token)
        .send()
        .await
        .unwrap();
    let (_, health) = kosh_blackbox::read(response).await;
    assert_eq!(health["exchange"], "ASYNC", "{health}");
    assert_eq!(health["callbacks"]["url"], base.as_str());
    assert_eq!(health["callbacks"]["delivered"], 2, "{health}");
    env.stop().await;
}

/// Item 9, every posting answered: a posting that is well-formed whatever its values — to
/// a biller id kosh does not have (BPR002), above kosh's ceilings or beyond any amount
/// (BPR011), not whole rupees (BPR011), to a biller master data switches off (BPR009) —
/// gets a BBPS answer (never a DIGIT error body) and a FAILED record: a repeat answers the
/// same, status finds it, the report lists it, and nothing is collected. The same in the
/// NPCI XML profile, as signed responses.
async fn every_well_formed_posting_is_answered_in_bbps_shape_and_recorded(backend: Backend) {
    // The demo master data with the hoardings biller switched off.
    let mdms =
        std::env::temp_dir().join(format!("kosh-bbps-mdms-{}", uuid::Uuid::new_v4().simple()));
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mdms");
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    copy(&source, &mdms);
    let billers_file = mdms.join("pb/BBPS/Billers.json");
    let mut billers: Value =
        serde_json::from_str(&std::fs::read_to_string(&billers_file).unwrap()).unwrap();
    for b in billers["Billers"].as_array_mut().unwrap() {
        if b["billerId"] == HOARDINGS {
            b["active"] = json!(false);
        }
    }
    std::fs::write(&billers_file, billers.to_string()).unwrap();
    let dir = mdms.clone();
    let env = start_with(backend, move |s| s.mdms_dir = Some(dir)).await;
    env.demand("PT", "PT-1", &[("PT_TAX", 1000)]).await;
    env.demand("TL", "TL-1", &[("TL_TAX", 400)]).await;
    env.demand("ADVT.Hoardings", "AH-1", &[("ADVT.HOARDINGS_TAX", 600)])
        .await;
    let ceiling = kosh_platform::money::Limits::default().max_amount.get();

    let mut unknown = posting("AU019166CONF00000040", PT, "PT-1", 100000);
    unknown["billerId"] = json!("PBXX00000PUN99");
    let mut beyond = posting("AU019166CONF00000042", PT, "PT-1", 0);
    beyond["amount"] = json!("92233720368547758080");
    let cases = [
        ("unknown biller", unknown, "BPR002", "PBXX00000PUN99"),
        (
            "ceiling + ₹1",
            posting("AU019166CONF00000041", PT, "PT-1", ceiling + 100),
            "BPR011",
            PT,
        ),
        ("beyond any amount", beyond, "BPR011", PT),
        (
            "fractional rupees",
            posting("AU019166CONF00000043", PT, "PT-1", 100050),
            "BPR011",
            PT,
        ),
        (
            "inactive biller",
            posting("AU019166CONF00000044", HOARDINGS, "AH-1", 60000),
            "BPR009",
            HOARDINGS,
        ),
    ];
    let mut refused = Vec::new();
    for (what, body, code, biller) in &cases {
        let txn = body["txnReferenceId"].as_str().unwrap().to_string();
        let (status, answer) = env.post("/bbps/v1/payments", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{what}: a BBPS answer, not {answer}"
        );
        assert!(answer.get("Errors").is_none(), "{what}: {answer}");
        assert!(answer.get("ResponseInfo").is_some(), "{what}: {answer}");
        assert_eq!(answer["reason"]["responseCode"], "200", "{what}: {answer}");
        assert_eq!(
            answer["reason"]["complianceRespCd"], *code,
            "{what}: {answer}"
        );
        assert_eq!(answer["reason"]["approvalRefNum"], Value::Null, "{what}");
        assert!(
            answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {answer}"
        );
        assert_eq!(answer["txnReferenceId"], txn.as_str(), "{what}");
        assert_eq!(answer["status"], "FAILED", "{what}: recorded: {answer}");
        assert_eq!(
            answer["transaction"]["billerId"], *biller,
            "{what}: {answer}"
        );
        assert_eq!(
            answer["transaction"]["receipts"],
            json!([]),
            "{what}: {answer}"
        );
        // A repeat answers the same; status finds it.
        let again = env.ok("/bbps/v1/payments", body.clone()).await;
        assert_eq!(again["reason"], answer["reason"], "{what}: {again}");
        assert_eq!(again["status"], "FAILED", "{what}: {again}");
        assert_eq!(again["detail"], answer["detail"], "{what}");
        let found = env.status_of(&txn).await;
        assert_eq!(found["status"], "FAILED", "{what}: {found}");
        assert_eq!(
            found["reason"]["complianceRespCd"], *code,
            "{what}: {found}"
        );
        refused.push(txn);
    }
    // The same reference with another amount is another payment: BPR007, unrecorded.
    let mut other = cases[1].1.clone();
    other["amount"] = json!(ceiling + 200);
    let reused = env.ok("/bbps/v1/payments", other).await;
    assert_eq!(reused["reason"]["complianceRespCd"], "BPR007", "{reused}");
    assert_eq!(
        env.status_of("AU019166CONF00000041").await["reason"]["complianceRespCd"],
        "BPR011"
    );

    // Malformed requests stay DIGIT 400s: bad JSON, a missing required field.
    let response = env
        .kosh
        .client
        .post(env.kosh.url("/bbps/v1/payments"))
        .header("auth-token", &env.token)
        .header("content-type", "application/json")
        .body("{\"billerId\": ")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let mut missing = posting("AU019166CONF00000045", PT, "PT-1", 100000);
    missing.as_object_mut().unwrap().remove("amount");
    let (status, body) = env.post("/bbps/v1/payments", missing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["Errors"][0]["code"], "BBPS_INVALID_REQUEST", "{body}");
    assert_eq!(
        env.status_of("AU019166CONF00000045").await["status"],
        "NOT_FOUND"
    );

    // XML: the same cases, each a signed BillPaymentResponse with the code, recorded.
    let xml_cases = [
        (
            "XML unknown biller",
            "PBXX00000PUN99",
            TL,
            "TL-1",
            "40000".to_string(),
            "BPR002",
        ),
        (
            "XML ceiling + ₹1",
            TL,
            TL,
            "TL-1",
            (ceiling + 100).to_string(),
            "BPR011",
        ),
        (
            "XML fractional rupees",
            TL,
            TL,
            "TL-1",
            "40050".to_string(),
            "BPR011",
        ),
        (
            "XML inactive biller",
            HOARDINGS,
            HOARDINGS,
            "AH-1",
            "60000".to_string(),
            "BPR009",
        ),
    ];
    for (i, (what, id, biller, code, amount, expected)) in xml_cases.iter().enumerate() {
        let txn = format!("AU019166CONF0000005{i}");
        let ref_id = rid("REJ", i as u32);
        let request = signed(&payment_xml_to(&ref_id, id, biller, &txn, code, amount));
        for round in ["first", "repeat"] {
            let (status, body) = env
                .post_xml("BillPaymentRequest", &ref_id, request.clone())
                .await;
            assert_eq!(status, StatusCode::OK, "{what} ({round}): {body}");
            let AnyMessage::BillPaymentResponse(answer) = verified(&body) else {
                panic!("{what} ({round}): {body}")
            };
            assert_eq!(answer.reason.response_code, "200", "{what}: {body}");
            assert_eq!(
                answer.reason.compliance_resp_cd.as_deref(),
                Some(*expected),
                "{what} ({round}): {body}"
            );
            assert_eq!(
                info_tag(&answer.additional_info, "Transaction Status").as_deref(),
                Some("FAILED"),
                "{what} ({round}): recorded: {body}"
            );
        }
        let status_ref = rid("STR", i as u32);
        let (status, body) = env
            .post_xml(
                "TxnStatusRequest",
                &status_ref,
                signed(&status_xml(&status_ref, &txn)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        let AnyMessage::TxnStatusResponse(state) = verified(&body) else {
            panic!("{what}: {body}")
        };
        assert_eq!(
            state.reason.compliance_resp_cd.as_deref(),
            Some(*expected),
            "{what}: {body}"
        );
        // The JSON status query of the XML posting says the same.
        let found = env.status_of(&txn).await;
        assert_eq!(found["status"], "FAILED", "{what}: {found}");
        assert_eq!(
            found["reason"]["complianceRespCd"], *expected,
            "{what}: {found}"
        );
        refused.push(txn);
    }

    // The report lists every refusal; nothing was collected, and the bills are still due.
    let (status, report) = env
        .post(&format!("/bbps/v1/reports/daily?date={TODAY}"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    for txn in &refused {
        assert!(
            report["transactions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["txnReferenceId"] == txn.as_str() && t["status"] == "FAILED"),
            "{txn} in {report}"
        );
    }
    assert_eq!(report["summary"]["successCount"], 0, "{report}");
    assert_eq!(report["summary"]["failedCount"], refused.len(), "{report}");
    let pool = env.kosh.state().db.pool();
    for table in ["egcl_payment", "egcl_paymentdetail", "bbps_txn_bill"] {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(count, 0, "{table}: nothing collected");
    }
    for (biller, code, due) in [(PT, "PT-1", 100000), (TL, "TL-1", 40000)] {
        let fetched = env
            .ok(
                "/bbps/v1/bills/fetch",
                json!({"billerId": biller, "customerParams": params(biller, code)}),
            )
            .await;
        assert_eq!(fetched["bills"][0]["amount"], due, "{fetched}");
    }
    env.stop().await;
    let _ = std::fs::remove_dir_all(&mdms);
}
