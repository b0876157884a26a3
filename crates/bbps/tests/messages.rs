//! The typed messages: every sample reads, writes back to the same data, and reads again;
//! invalid messages are refused with the element and the fault named.

mod common;

use common::{fixture, normalize};
use kosh_bbps::Paise;
use kosh_bbps::codes::{BillerFault, ComplianceCode, ResponseCode, Stage};
use kosh_bbps::xml::{self, *};
use kosh_platform::money::{MoneyError, wire};

/// Reads the sample, writes it, compares the data, reads the output again.
fn round_trip<M: BbpsMessage + PartialEq + std::fmt::Debug>(sample: &str) -> M {
    let text = fixture(&format!("messages/{sample}"));
    let msg: M = from_xml(&text).unwrap_or_else(|e| panic!("{sample}: {e}"));
    let written = to_xml(&msg).unwrap_or_else(|e| panic!("{sample}: {e}"));
    assert!(written.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ns2:{} xmlns:ns2=\"http://bbps.org/schema\"",
        M::ROOT
    )));
    assert_eq!(normalize(&written), normalize(&text), "{sample}");
    let again: M = from_xml(&written).unwrap();
    assert_eq!(again, msg, "{sample}");
    msg
}

#[test]
fn bill_fetch_request_round_trips() {
    let m: BillFetchRequest = round_trip("BillFetchRequest.xml");
    assert_eq!(m.head.ref_id, "HENSVVR4QOS7X1UGPY7JGUV444P61241015");
    assert_eq!(m.head.orig_inst, "BBCU");
    assert_eq!(
        m.txn.msg_id.as_deref(),
        Some("8ENSVVR4QOS7X1UGPY7JGUV444P61241015")
    );
    assert_eq!(m.customer.mobile, "9876543210");
    assert_eq!(
        m.agent.device.tags[0].name,
        DeviceTagName::InitiatingChannel
    );
    assert_eq!(m.bill_details.biller.id, "PBMUNIPT0AMR01");
    assert_eq!(
        m.bill_details.param("Property ID"),
        Some("PB-PT-2025-04-01-000123")
    );
    assert_eq!(m.analytics.unwrap().tags.len(), 2);
}

#[test]
fn bill_fetch_response_round_trips() {
    let m: BillFetchResponse = round_trip("BillFetchResponse.xml");
    assert_eq!(m.reason.code(), Some(ResponseCode::Success));
    let bill = &m.biller_responses[0];
    assert_eq!(bill.customer_name.as_deref(), Some("Harpreet Kaur & Sons"));
    assert_eq!(
        wire::parse_paise_digits(&bill.amount).unwrap().get(),
        1_234_500
    );
    assert_eq!(
        wire::parse_paise_digits(&bill.amount)
            .unwrap()
            .whole_rupees(),
        Some(12_345)
    );
    assert_eq!(bill.tags[0].name, "Early Payment Amount");
    assert_eq!(m.additional_info.unwrap().tags.len(), 3);

    let failed: BillFetchResponse = round_trip("BillFetchResponse-failure.xml");
    assert_eq!(failed.reason.code(), Some(ResponseCode::Failure));
    assert_eq!(
        failed.reason.compliance(),
        Some(ComplianceCode::Bfr001InvalidCustomer)
    );
    assert!(failed.biller_responses.is_empty());
}

#[test]
fn bill_payment_request_round_trips() {
    let m: BillPaymentRequest = round_trip("BillPaymentRequest.xml");
    assert_eq!(m.txn_reference_id(), "AU016124KOSHTXN00017");
    assert!(!m.is_reversal());
    assert_eq!(m.txn.kind.as_deref(), Some(txn_type::FORWARD_REQUEST));
    assert_eq!(
        m.txn.payment_ref_id.as_deref(),
        Some("45f7c2fbeadc4e0c9fe9586735e9448f")
    );
    assert_eq!(m.txn.risk_scores.as_ref().unwrap().scores.len(), 2);
    assert_eq!(m.biller_category.category, "Municipal Taxes");
    assert_eq!(m.payment_method.quick_pay, Some(YesNo::No));
    assert_eq!(m.payment_method.off_us_pay, Some(YesNo::Yes));
    assert_eq!(m.payment_method.payment_mode.as_deref(), Some("UPI"));
    let paid = wire::parse_paise_digits(m.amount.amt.amount.as_deref().unwrap()).unwrap();
    assert_eq!(paid.get(), 1_172_800);
    assert_eq!(m.amount.amt.currency.as_deref(), Some("356"));
    assert_eq!(m.amount.split_pay_amount, "");
    assert_eq!(m.amount.tags[0].value, "1172800");
    assert_eq!(m.payment_information.tags[0].name, "VPA");
    assert_eq!(m.customer.tags.len(), 0);
}

#[test]
fn bill_payment_response_round_trips() {
    let m: BillPaymentResponse = round_trip("BillPaymentResponse.xml");
    assert_eq!(m.reason.approval_ref_num, "PT/107/2026-27/000123");
    assert_eq!(m.txn.kind.as_deref(), Some(txn_type::FORWARD_RESPONSE));
}

#[test]
fn txn_status_request_round_trips() {
    let m: TxnStatusRequest = round_trip("TxnStatusRequest.xml");
    assert_eq!(m.txn_status_req.txn_reference_id, "AU016124KOSHTXN00017");
    assert_eq!(
        m.txn_status_req.msg_id.as_deref(),
        Some("PMT2VVR4QOS7X1UGPY7JGUV444P61241032")
    );
}

#[test]
fn txn_status_response_round_trips() {
    let m: TxnStatusResponse = round_trip("TxnStatusResponse.xml");
    assert_eq!(m.biller_responses.len(), 1);
    assert_eq!(
        m.txn.txn_reference_id.as_deref(),
        Some("AU016124KOSHTXN00017")
    );
}

#[test]
fn diagnostics_round_trip() {
    let req: ReqDiagnostic = round_trip("ReqDiagnostic.xml");
    assert_eq!(req.media_type, None);
    let res: ResDiagnostic = round_trip("ResDiagnostic.xml");
    assert_eq!(res.response_reason.as_deref(), Some("Successful"));
    assert_eq!(res.head.ref_id, req.head.ref_id);
}

#[test]
fn acks_round_trip() {
    let ok: Ack = round_trip("Ack.xml");
    assert!(ok.is_accepted());
    assert_eq!(ok.api.as_deref(), Some(api::FETCH_REQUEST));
    let refused: Ack = round_trip("Ack-rejected.xml");
    assert!(!refused.is_accepted());
    assert_eq!(refused.error_messages[0].error_cd, "SIGNATURE_INVALID");
}

#[test]
fn validation_and_complaint_messages_round_trip() {
    let req: BillValidationRequest = round_trip("BillValidationRequest.xml");
    assert_eq!(
        req.amount.as_ref().and_then(|a| a.amount.as_deref()),
        Some("60000")
    );
    let res: BillValidationResponse = round_trip("BillValidationResponse.xml");
    assert_eq!(res.reason.response_code, "000");
    let cms: TxnStatusComplainRequest = round_trip("TxnStatusComplainRequest.xml");
    assert_eq!(cms.req.complaint_type.as_deref(), Some("Transaction"));
    assert_eq!(cms.txn.xchange_id.as_deref(), Some("401"));
    let answer: TxnStatusComplainResponse = round_trip("TxnStatusComplainResponse.xml");
    assert_eq!(answer.resp.txn_list.details[0].txn_status, "SUCCESS");
    assert_eq!(answer.resp.complaint_status.as_deref(), Some("ASSIGNED"));
    // msgId is required on the complaint request.
    let broken = fixture("messages/TxnStatusComplainRequest.xml")
        .replace(r#"msgId="CMQ2VVR4QOS7X1UGPY7JGUV444P61251200" "#, "");
    assert!(from_xml::<TxnStatusComplainRequest>(&broken).is_err());
}

#[test]
fn parse_any_reads_by_root_element() {
    for (sample, root) in [
        ("BillFetchRequest.xml", "BillFetchRequest"),
        ("BillFetchResponse.xml", "BillFetchResponse"),
        ("BillPaymentRequest.xml", "BillPaymentRequest"),
        ("BillPaymentResponse.xml", "BillPaymentResponse"),
        ("TxnStatusRequest.xml", "TxnStatusRequest"),
        ("TxnStatusResponse.xml", "TxnStatusResponse"),
        ("ReqDiagnostic.xml", "ReqDiagnostic"),
        ("ResDiagnostic.xml", "ResDiagnostic"),
        ("Ack.xml", "Ack"),
        ("BillValidationRequest.xml", "BillValidationRequest"),
        ("BillValidationResponse.xml", "BillValidationResponse"),
        ("TxnStatusComplainRequest.xml", "TxnStatusComplainRequest"),
        ("TxnStatusComplainResponse.xml", "TxnStatusComplainResponse"),
    ] {
        let m = parse_any(&fixture(&format!("messages/{sample}"))).unwrap();
        assert_eq!(m.root(), root);
    }
    let e =
        parse_any(r#"<ns2:BillerFetchRequest xmlns:ns2="http://bbps.org/schema"/>"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown BBPS message {http://bbps.org/schema}BillerFetchRequest"
    );
    let e = parse_any(r#"<BillFetchRequest/>"#).unwrap_err();
    assert!(matches!(e, XmlError::UnknownMessage(_)));
}

#[test]
fn any_prefix_reads_but_a_default_namespace_does_not() {
    let text = fixture("messages/BillFetchRequest.xml");
    let expected: BillFetchRequest = from_xml(&text).unwrap();
    let other_prefix = text
        .replace("ns2:", "bbps:")
        .replace("xmlns:ns2", "xmlns:bbps");
    assert_eq!(
        from_xml::<BillFetchRequest>(&other_prefix).unwrap(),
        expected
    );

    // With a default namespace every child lands in the BBPS namespace: the XSDs want them
    // unqualified.
    let default_ns = text.replace("ns2:", "").replace("xmlns:ns2", "xmlns");
    let e = from_xml::<BillFetchRequest>(&default_ns).unwrap_err();
    assert_eq!(
        e.to_string(),
        "BillFetchRequest is not valid: /BillFetchRequest/Head: element is in namespace http://bbps.org/schema; elements inside a BBPS message are unqualified (no namespace, no default xmlns)"
    );
}

fn invalid<M: BbpsMessage + std::fmt::Debug>(xml: &str) -> ValidationError {
    match from_xml::<M>(xml) {
        Err(XmlError::Invalid(v)) => v,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn xsd_faults_name_the_element() {
    let text = fixture("messages/BillPaymentRequest.xml");
    let v = invalid::<BillPaymentRequest>(&text.replace("    <AmountBreakUp/>\n", ""));
    assert_eq!(
        v.to_string(),
        "BillPaymentRequest is not valid: /BillPaymentRequest/Amount: required element AmountBreakUp is missing (found SplitPayAmount instead)"
    );
    let v = invalid::<BillPaymentRequest>(&text.replace("quickPay=\"No\"", "quickPay=\"no\""));
    assert_eq!(
        v.violations[0].to_string(),
        "/BillPaymentRequest/PaymentMethod/@quickPay: attribute quickPay = \"no\" is not one of Yes, No"
    );
    let v = invalid::<BillPaymentRequest>(&text.replace("name=\"IMEI\"", "name=\"WIFI\""));
    assert_eq!(
        v.violations[0].path,
        "/BillPaymentRequest/Agent/Device/Tag[3]/@name"
    );
    let v = invalid::<BillPaymentRequest>(
        &text.replace("<BillerCategory category=\"Municipal Taxes\"/>", ""),
    );
    assert_eq!(
        v.violations[0].to_string(),
        "/BillPaymentRequest: required element BillerCategory is missing (found BillerResponse instead)"
    );
}

#[test]
fn profile_faults_name_the_attribute() {
    let text = fixture("messages/BillPaymentRequest.xml");
    let cases = [
        (
            text.replace(
                "amount=\"1172800\" custConvFee",
                "amount=\"11728.00\" custConvFee",
            ),
            "/BillPaymentRequest/Amount/Amt/@amount: amount \"11728.00\" is not a non-negative integer of paise (digits only)",
        ),
        (
            text.replace("amount=\"1172800\" custConvFee", "custConvFee"),
            "/BillPaymentRequest/Amount/Amt/@amount: required: the amount paid",
        ),
        (
            text.replace("currency=\"356\"", "currency=\"INR\""),
            "/BillPaymentRequest/Amount/Amt/@currency: \"INR\" is not 356 (INR)",
        ),
        (
            text.replace(" txnReferenceId=\"AU016124KOSHTXN00017\"", ""),
            "/BillPaymentRequest/Txn/@txnReferenceId: required by BBPS for this message",
        ),
        (
            text.replace(
                "type=\"FORWARD TYPE REQUEST\"",
                "type=\"FORWARD TYPE RESPONSE\"",
            ),
            "/BillPaymentRequest/Txn/@type: \"FORWARD TYPE RESPONSE\" is not FORWARD TYPE REQUEST or REVERSAL TYPE REQUEST",
        ),
        (
            text.replace(
                "ts=\"2026-05-04T10:32:06+05:30\" origInst",
                "ts=\"2026-05-04 10:32:06\" origInst",
            ),
            "/BillPaymentRequest/Head/@ts: \"2026-05-04 10:32:06\" is not a date-time with offset (2026-05-04T10:15:30+05:30)",
        ),
        (
            text.replace("dueDate=\"2026-05-31\"", "dueDate=\"31-05-2026\""),
            "/BillPaymentRequest/BillerResponse[1]/@dueDate: \"31-05-2026\" is not a date YYYY-MM-DD",
        ),
        (
            text.replace(
                "HENSVVR4QOS7X1UGPY7JGUV444P61241015",
                "HENSVVR4QOS7X1UGPY7JGUV444P61241015X",
            ),
            "/BillPaymentRequest/Head/@refId: \"HENSVVR4QOS7X1UGPY7JGUV444P61241015X\" is not 1-35 ASCII letters or digits",
        ),
        (
            text.replace("value=\"1296200\"", "value=\"-1\""),
            "/BillPaymentRequest/BillerResponse[1]/Tag[2]/@value: amount \"-1\" is not a non-negative integer of paise (digits only)",
        ),
    ];
    for (xml, expected) in cases {
        let v = invalid::<BillPaymentRequest>(&xml);
        assert_eq!(v.violations.len(), 1, "{v}");
        assert_eq!(v.violations[0].to_string(), expected);
        assert!(matches!(v.violations[0].fault, Fault::Profile(_)));
    }

    let fetch = fixture("messages/BillFetchResponse-failure.xml");
    let v = invalid::<BillFetchResponse>(&fetch.replace(" complianceRespCd=\"BFR001\"", ""));
    assert_eq!(
        v.violations[0].to_string(),
        "/BillFetchResponse/Reason/@complianceRespCd: a failure response needs a compliance code"
    );
    let v = invalid::<BillFetchResponse>(
        &fetch.replace("responseCode=\"200\"", "responseCode=\"000\""),
    );
    assert_eq!(v.violations.len(), 3, "{v}");
}

#[test]
fn a_signature_is_not_part_of_the_unsigned_schema() {
    let text = fixture("messages/ReqDiagnostic.xml").replace(
        "</ns2:ReqDiagnostic>",
        "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/></ns2:ReqDiagnostic>",
    );
    let v = invalid::<ReqDiagnostic>(&text);
    assert!(
        v.to_string()
            .contains("element Signature is not allowed here"),
        "{v}"
    );
}

#[test]
fn kosh_refuses_to_write_an_invalid_message() {
    let req: BillFetchRequest = from_xml(&fixture("messages/BillFetchRequest.xml")).unwrap();
    let head = Head {
        ver: "1.0".into(),
        ts: "2026-05-04T10:15:31+05:30".into(),
        orig_inst: "KS01".into(),
        ..Head::default()
    };
    let mut resp = BillFetchResponse::for_request(
        &req,
        head,
        "2026-05-04T10:15:31+05:30",
        Reason::success("FCH7D2K9Q4M1X8B3N6R0T5W2Y9A4C7E1"),
    );
    // A success without a bill.
    let e = to_xml(&resp).unwrap_err();
    assert_eq!(
        e.to_string(),
        "BillFetchResponse is not valid: /BillFetchResponse/BillerResponse: a successful fetch response carries at least one bill"
    );
    resp.biller_responses.push(BillerResponse {
        amount: "12.50".into(),
        ..BillerResponse::default()
    });
    assert!(to_xml(&resp).unwrap_err().to_string().contains("@amount"));
    resp.biller_responses[0] = BillerResponse::new(Paise::new(1_234_500));
    to_xml(&resp).unwrap();
}

#[test]
fn responses_are_built_from_their_requests() {
    let head = Head {
        ver: "1.0".into(),
        ts: "2026-05-04T10:32:08+05:30".into(),
        orig_inst: "KS01".into(),
        ..Head::default()
    };
    let fetch: BillFetchRequest = from_xml(&fixture("messages/BillFetchRequest.xml")).unwrap();
    let code = BillerFault::UnknownCustomer.code(Stage::Fetch).unwrap();
    let resp = BillFetchResponse::for_request(
        &fetch,
        head.clone(),
        "2026-05-04T10:15:31+05:30",
        Reason::failure(code),
    );
    let written = to_xml(&resp).unwrap();
    let back: BillFetchResponse = from_xml(&written).unwrap();
    assert_eq!(back.head.ref_id, fetch.head.ref_id);
    assert_eq!(back.txn.msg_id, fetch.txn.msg_id);
    assert_eq!(back.reason.compliance_resp_cd.as_deref(), Some("BFR001"));
    assert_eq!(back.bill_details, fetch.bill_details);

    let mut pay: BillPaymentRequest =
        from_xml(&fixture("messages/BillPaymentRequest.xml")).unwrap();
    pay.txn.kind = Some(txn_type::REVERSAL_REQUEST.into());
    assert!(pay.is_reversal());
    let mut resp = BillPaymentResponse::for_request(
        &pay,
        head.clone(),
        "2026-05-04T10:32:08+05:30",
        Reason::success("PT/107/2026-27/000123"),
    );
    resp.biller_responses = pay.biller_responses.clone();
    let back: BillPaymentResponse = from_xml(&to_xml(&resp).unwrap()).unwrap();
    assert_eq!(back.txn.kind.as_deref(), Some(txn_type::REVERSAL_RESPONSE));
    assert_eq!(
        back.txn.txn_reference_id.as_deref(),
        Some(pay.txn_reference_id())
    );
    assert_eq!(back.txn.payment_ref_id, pay.txn.payment_ref_id);

    let refused = BillPaymentResponse::for_request(
        &pay,
        head.clone(),
        "2026-05-04T10:32:08+05:30",
        Reason::failure(BillerFault::RepeatedReference.code(Stage::Payment).unwrap()),
    );
    let back: BillPaymentResponse = from_xml(&to_xml(&refused).unwrap()).unwrap();
    assert_eq!(
        back.reason.compliance(),
        Some(ComplianceCode::Bpr007RepeatPaymentRequest)
    );
    assert_eq!(back.reason.response_code, "200");

    let status: TxnStatusRequest = from_xml(&fixture("messages/TxnStatusRequest.xml")).unwrap();
    let resp = TxnStatusResponse::for_request(
        &status,
        head.clone(),
        "2026-05-05T11:20:02+05:30",
        Reason::success("PT/107/2026-27/000123"),
        pay.bill_details.clone(),
        vec![BillerResponse::new(Paise::new(1_172_800))],
    );
    let back: TxnStatusResponse = from_xml(&to_xml(&resp).unwrap()).unwrap();
    assert_eq!(
        back.txn.txn_reference_id.as_deref(),
        Some("AU016124KOSHTXN00017")
    );
    assert_eq!(
        back.txn.msg_id.as_deref(),
        Some("PMT2VVR4QOS7X1UGPY7JGUV444P61241032")
    );

    let hb: ReqDiagnostic = from_xml(&fixture("messages/ReqDiagnostic.xml")).unwrap();
    let back: ResDiagnostic =
        from_xml(&to_xml(&ResDiagnostic::for_request(&hb, head)).unwrap()).unwrap();
    assert_eq!(back.head.ref_id, hb.head.ref_id);

    let ack = Ack::rejected(
        api::PAYMENT_REQUEST,
        "HENSVVR4QOS7X1UGPY7JGUV444P61241015",
        None,
        "2026-05-04T10:32:06+05:30",
        vec![ErrorMessage {
            error_cd: "SCHEMA_INVALID".into(),
            error_dtl: "/BillPaymentRequest/Amount: <missing> & more".into(),
        }],
    );
    let back: Ack = from_xml(&to_xml(&ack).unwrap()).unwrap();
    assert_eq!(back, ack);
    let e = to_xml(&Ack::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("/Ack/@api: required by kosh on every Ack"),
        "{e}"
    );
}

#[test]
fn paise_errors_are_plain() {
    assert_eq!(
        wire::parse_paise_digits("1,000").unwrap_err(),
        MoneyError::NotAnAmount("1,000".into())
    );
    assert_eq!(xml::PREFIX, "ns2");
}
