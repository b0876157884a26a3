//! kosh's hand-written content models against the real NPCI XSDs, through xmllint
//! (libxml2's XSD validator): both must accept the same valid documents and refuse the
//! same broken ones. Skipped, with the reason printed, when xmllint or the XSDs are absent.

mod common;

use common::{fixture, xmllint, xmllint_unavailable};
use kosh_bbps::xml::*;

fn skip() -> bool {
    if let Some(reason) = xmllint_unavailable() {
        println!("SKIPPED: {reason}");
        eprintln!("SKIPPED: {reason}");
        return true;
    }
    false
}

/// The XSD file and kosh's verdict (XSD rules only) for a document, by its root element.
fn kosh_xsd_verdict(xml: &str) -> (&'static str, Result<(), String>) {
    let root = xml
        .split('<')
        .find_map(|s| {
            let name = s.split([' ', '>', '/']).next()?;
            let local = name.rsplit(':').next()?;
            local
                .chars()
                .next()
                .filter(|c| c.is_ascii_uppercase())
                .map(|_| local.to_string())
        })
        .expect("a root element");
    fn check<M: BbpsMessage + std::fmt::Debug>(xml: &str) -> (&'static str, Result<(), String>) {
        let verdict = match from_xml::<M>(xml) {
            Ok(_) => Ok(()),
            // A profile fault is kosh's own rule, not the XSD's: for this comparison the
            // document passed the XSD part.
            Err(XmlError::Invalid(v))
                if v.violations
                    .iter()
                    .all(|v| matches!(v.fault, Fault::Profile(_))) =>
            {
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };
        (M::XSD, verdict)
    }
    match root.as_str() {
        "BillFetchRequest" => check::<BillFetchRequest>(xml),
        "BillFetchResponse" => check::<BillFetchResponse>(xml),
        "BillPaymentRequest" => check::<BillPaymentRequest>(xml),
        "BillPaymentResponse" => check::<BillPaymentResponse>(xml),
        "TxnStatusRequest" => check::<TxnStatusRequest>(xml),
        "TxnStatusResponse" => check::<TxnStatusResponse>(xml),
        "ReqDiagnostic" => check::<ReqDiagnostic>(xml),
        "ResDiagnostic" => check::<ResDiagnostic>(xml),
        "Ack" => check::<Ack>(xml),
        "BillValidationRequest" => check::<BillValidationRequest>(xml),
        "BillValidationResponse" => check::<BillValidationResponse>(xml),
        "TxnStatusComplainRequest" => check::<TxnStatusComplainRequest>(xml),
        "TxnStatusComplainResponse" => check::<TxnStatusComplainResponse>(xml),
        other => panic!("no message {other}"),
    }
}

const SAMPLES: &[&str] = &[
    "BillFetchRequest.xml",
    "BillFetchResponse.xml",
    "BillFetchResponse-failure.xml",
    "BillPaymentRequest.xml",
    "BillPaymentResponse.xml",
    "TxnStatusRequest.xml",
    "TxnStatusResponse.xml",
    "ReqDiagnostic.xml",
    "ResDiagnostic.xml",
    "Ack.xml",
    "Ack-rejected.xml",
    "BillValidationRequest.xml",
    "BillValidationResponse.xml",
    "TxnStatusComplainRequest.xml",
    // TxnStatusComplainResponse.xml is not here: its XSD declares the attribute
    // `description` twice, which libxml2 refuses as a schema (kosh's model has it once);
    // messages.rs reads and writes the sample.
];

#[test]
fn every_sample_and_every_message_kosh_writes_validates_with_xmllint() {
    let mut docs: Vec<(String, String)> = Vec::new();
    for s in SAMPLES {
        let text = fixture(&format!("messages/{s}"));
        // kosh's own serialization of the sample, and the sample as written.
        let written = match parse_any(&text).unwrap() {
            AnyMessage::BillFetchRequest(m) => to_xml(&m),
            AnyMessage::BillFetchResponse(m) => to_xml(&m),
            AnyMessage::BillPaymentRequest(m) => to_xml(&m),
            AnyMessage::BillPaymentResponse(m) => to_xml(&m),
            AnyMessage::TxnStatusRequest(m) => to_xml(&m),
            AnyMessage::TxnStatusResponse(m) => to_xml(&m),
            AnyMessage::ReqDiagnostic(m) => to_xml(&m),
            AnyMessage::ResDiagnostic(m) => to_xml(&m),
            AnyMessage::Ack(m) => to_xml(&m),
            AnyMessage::BillValidationRequest(m) => to_xml(&m),
            AnyMessage::BillValidationResponse(m) => to_xml(&m),
            AnyMessage::TxnStatusComplainRequest(m) => to_xml(&m),
            AnyMessage::TxnStatusComplainResponse(m) => to_xml(&m),
        }
        .unwrap();
        docs.push((format!("sample {s}"), text));
        docs.push((format!("kosh's writing of {s}"), written));
    }
    // Signed messages validate once the enveloped signature is taken off (the XSDs have
    // no place for it): what kosh signs is its own valid serialization.
    let key = common::kosh_key();
    let signed = kosh_bbps::codec::encode_signed(
        &from_xml::<BillPaymentResponse>(&fixture("messages/BillPaymentResponse.xml")).unwrap(),
        &key,
    )
    .unwrap();
    let verified = kosh_bbps::sig::verify(&signed, &key.verifying_key()).unwrap();
    docs.push((
        "signed content of a kosh response".into(),
        verified.signed_xml().to_string(),
    ));

    let skip_xmllint = skip();
    for (what, xml) in &docs {
        let (xsd, verdict) = kosh_xsd_verdict(xml);
        assert_eq!(verdict, Ok(()), "kosh refuses {what}");
        if !skip_xmllint && let Err(e) = xmllint(xml, xsd) {
            panic!("xmllint refuses {what}: {e}");
        }
    }
}

/// (sample, what is changed, from, to): each change breaks the XSD, or (`valid`) keeps it.
struct Case {
    sample: &'static str,
    what: &'static str,
    from: &'static str,
    to: &'static str,
    valid: bool,
}

const fn broken(
    sample: &'static str,
    what: &'static str,
    from: &'static str,
    to: &'static str,
) -> Case {
    Case {
        sample,
        what,
        from,
        to,
        valid: false,
    }
}

const fn fine(
    sample: &'static str,
    what: &'static str,
    from: &'static str,
    to: &'static str,
) -> Case {
    Case {
        sample,
        what,
        from,
        to,
        valid: true,
    }
}

const FETCH: &str = "BillFetchRequest.xml";
const PAY: &str = "BillPaymentRequest.xml";

const CASES: &[Case] = &[
    broken(
        FETCH,
        "required element missing",
        "<Agent id=\"AU01AU02INT529468291\">\n    <Device>\n      <Tag name=\"INITIATING_CHANNEL\" value=\"INT\"/>\n      <Tag name=\"IP\" value=\"124.170.23.22\"/>\n      <Tag name=\"MAC\" value=\"48-4D-7E-CB-DB-6F\"/>\n    </Device>\n  </Agent>",
        "",
    ),
    broken(
        FETCH,
        "required element missing",
        "<Txn ts=\"2026-05-04T10:15:30+05:30\" msgId=\"8ENSVVR4QOS7X1UGPY7JGUV444P61241015\"/>\n  <Customer",
        "<Customer",
    ),
    broken(
        FETCH,
        "elements out of order",
        "<Txn ts=\"2026-05-04T10:15:30+05:30\" msgId=\"8ENSVVR4QOS7X1UGPY7JGUV444P61241015\"/>\n  <Customer mobile=\"9876543210\">\n    <Tag name=\"EMAIL\" value=\"citizen@example.in\"/>\n  </Customer>",
        "<Customer mobile=\"9876543210\"/><Txn ts=\"2026-05-04T10:15:30+05:30\" msgId=\"8ENSVVR4QOS7X1UGPY7JGUV444P61241015\"/>",
    ),
    broken(
        FETCH,
        "required attribute missing",
        " refId=\"HENSVVR4QOS7X1UGPY7JGUV444P61241015\"",
        "",
    ),
    broken(
        FETCH,
        "undeclared attribute",
        "<Head ver=\"1.0\"",
        "<Head foo=\"1\" ver=\"1.0\"",
    ),
    broken(FETCH, "enumeration", "name=\"MAC\"", "name=\"WIFI\""),
    broken(
        FETCH,
        "enumeration is case-sensitive",
        "origInst=\"BBCU\"",
        "origInst=\"BBCU\" siTxn=\"yes\"",
    ),
    broken(
        FETCH,
        "enumeration keeps whitespace",
        "origInst=\"BBCU\"",
        "origInst=\"BBCU\" siTxn=\" Yes\"",
    ),
    broken(
        FETCH,
        "default namespace qualifies the children",
        "<ns2:BillFetchRequest xmlns:ns2=\"http://bbps.org/schema\">",
        "<BillFetchRequest xmlns=\"http://bbps.org/schema\">",
    ),
    broken(FETCH, "prefixed child element", "<Head ", "<ns2:Head "),
    broken(
        FETCH,
        "wrong root namespace",
        "xmlns:ns2=\"http://bbps.org/schema\"",
        "xmlns:ns2=\"http://bbps.org/schema/v2\"",
    ),
    broken(
        FETCH,
        "too many analytics tags",
        "<Tag name=\"FETCHREQUESTEND\"",
        "<Tag name=\"X\" value=\"1\"/><Tag name=\"FETCHREQUESTEND\"",
    ),
    broken(
        FETCH,
        "too few analytics tags",
        "<Tag name=\"FETCHREQUESTSTART\" value=\"2026-05-04T10:15:29+05:30\"/>",
        "",
    ),
    broken(
        FETCH,
        "customer params need a tag",
        "<Tag name=\"Property ID\" value=\"PB-PT-2025-04-01-000123\"/>",
        "",
    ),
    broken(
        FETCH,
        "text in an empty element",
        "<Biller id=\"PBMUNIPT0AMR01\"/>",
        "<Biller id=\"PBMUNIPT0AMR01\">x</Biller>",
    ),
    broken(
        FETCH,
        "text in element-only content",
        "<CustomerParams>",
        "<CustomerParams>text",
    ),
    broken(
        FETCH,
        "a second Txn",
        "<Customer mobile",
        "<Txn ts=\"t\"/><Customer mobile",
    ),
    broken(
        FETCH,
        "upms boolean",
        "</BillDetails>",
        "</BillDetails><Upms isBulk=\"yes\"/>",
    ),
    broken(
        FETCH,
        "unknown trailing element",
        "</BillDetails>",
        "</BillDetails><Extra/>",
    ),
    broken(
        FETCH,
        "device needs a tag",
        "<Device>\n      <Tag name=\"INITIATING_CHANNEL\" value=\"INT\"/>\n      <Tag name=\"IP\" value=\"124.170.23.22\"/>\n      <Tag name=\"MAC\" value=\"48-4D-7E-CB-DB-6F\"/>\n    </Device>",
        "<Device/>",
    ),
    fine(
        FETCH,
        "optional element left out",
        "<Analytics>\n    <Tag name=\"FETCHREQUESTSTART\" value=\"2026-05-04T10:15:29+05:30\"/>\n    <Tag name=\"FETCHREQUESTEND\" value=\"2026-05-04T10:15:30+05:30\"/>\n  </Analytics>",
        "",
    ),
    fine(
        FETCH,
        "comments and processing instructions",
        "<Customer mobile",
        "<!-- c --><?pi x?><Customer mobile",
    ),
    fine(
        FETCH,
        "upms boolean with spaces",
        "</BillDetails>",
        "</BillDetails><Upms isBulk=\" true \" txnType=\"BILL_PAYMENT\"/>",
    ),
    fine(
        FETCH,
        "schema location hint",
        "xmlns:ns2=\"http://bbps.org/schema\"",
        "xmlns:ns2=\"http://bbps.org/schema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://bbps.org/schema BillFetchRequest.xsd\"",
    ),
    broken(PAY, "amount break-up missing", "<AmountBreakUp/>", ""),
    broken(PAY, "split-pay amount missing", "<SplitPayAmount/>", ""),
    broken(
        PAY,
        "biller category missing",
        "<BillerCategory category=\"Municipal Taxes\"/>",
        "",
    ),
    broken(
        PAY,
        "biller response without amount",
        "amount=\"1234500\" dueDate",
        "dueDate",
    ),
    broken(
        PAY,
        "yes/no enumeration",
        "OFFUSPay=\"Yes\"",
        "OFFUSPay=\"Y\"",
    ),
    broken(
        PAY,
        "payment information needs a tag",
        "<Tag name=\"VPA\" value=\"harpreet@upi\"/>",
        "",
    ),
    broken(
        PAY,
        "element in a text-only element",
        "<SplitPayAmount/>",
        "<SplitPayAmount><x/></SplitPayAmount>",
    ),
    broken(
        PAY,
        "risk score without provider",
        "<Score provider=\"AU01\" ",
        "<Score ",
    ),
    broken(
        PAY,
        "CCF1 without GST",
        "<Tag name=\"Late Payment Amount\" value=\"1296200\"/>",
        "<Tag name=\"Late Payment Amount\" value=\"1296200\"/><CCF1 type=\"x\" charges=\"0\" totalCharges=\"0\"/>",
    ),
    broken(
        PAY,
        "CCF1 before the tags",
        "<Tag name=\"Early Payment Amount\" value=\"1172800\"/>\n    <Tag name=\"Late",
        "<CCF1 type=\"x\" charges=\"0\" GST=\"0\" totalCharges=\"0\"/><Tag name=\"Early Payment Amount\" value=\"1172800\"/>\n    <Tag name=\"Late",
    ),
    fine(
        PAY,
        "text in SplitPayAmount",
        "<SplitPayAmount/>",
        "<SplitPayAmount>0</SplitPayAmount>",
    ),
    fine(
        PAY,
        "CCF1 after the tags",
        "<Tag name=\"Late Payment Amount\" value=\"1296200\"/>",
        "<Tag name=\"Late Payment Amount\" value=\"1296200\"/><BillerSpecificInfo/><CCF1 type=\"x\" charges=\"0\" GST=\"0\" totalCharges=\"0\"/>",
    ),
    broken(
        "TxnStatusResponse.xml",
        "402 response needs a bill",
        "<BillerResponse customerName=\"Harpreet Kaur &amp; Sons\" amount=\"1172800\" dueDate=\"2026-05-31\" billDate=\"2026-04-01\" billNumber=\"BILL-AMR-2026-000456\" billPeriod=\"YEARLY\"/>",
        "",
    ),
    broken(
        "TxnStatusRequest.xml",
        "402 request needs the reference",
        " txnReferenceId=\"AU016124KOSHTXN00017\"",
        "",
    ),
    broken(
        "BillFetchResponse.xml",
        "element in simple content",
        "responseReason=\"Successful\"/>",
        "responseReason=\"Successful\"><x/></Reason>",
    ),
    fine(
        "BillFetchResponse.xml",
        "text in simple content",
        "responseReason=\"Successful\"/>",
        "responseReason=\"Successful\">ok</Reason>",
    ),
    broken(
        "ResDiagnostic.xml",
        "error message without detail",
        "</ns2:ResDiagnostic>",
        "<errorMessages><errorCd>E1</errorCd></errorMessages></ns2:ResDiagnostic>",
    ),
    fine(
        "ResDiagnostic.xml",
        "error message",
        "</ns2:ResDiagnostic>",
        "<errorMessages><errorCd>E1</errorCd><errorDtl>d</errorDtl></errorMessages></ns2:ResDiagnostic>",
    ),
    broken(
        "ReqDiagnostic.xml",
        "media type twice",
        "</ns2:ReqDiagnostic>",
        "<mediaType>xml</mediaType><mediaType>xml</mediaType></ns2:ReqDiagnostic>",
    ),
    broken(
        "Ack.xml",
        "child element of Ack",
        "/>",
        "><Head/></ns2:Ack>",
    ),
    broken(
        "Ack.xml",
        "undeclared Ack attribute",
        "api=",
        "status=\"x\" api=",
    ),
];

#[test]
fn kosh_and_xmllint_agree_on_broken_and_valid_variations() {
    let skip_xmllint = skip();
    for case in CASES {
        let text = fixture(&format!("messages/{}", case.sample));
        assert!(
            text.contains(case.from),
            "{}: the text to change is not in the sample",
            case.what
        );
        let changed = text.replacen(case.from, case.to, 1);
        let (xsd, kosh) = kosh_xsd_verdict(&changed);
        assert_eq!(
            kosh.is_ok(),
            case.valid,
            "kosh on {} ({}): {kosh:?}",
            case.what,
            case.sample
        );
        if !skip_xmllint {
            let lint = xmllint(&changed, xsd);
            assert_eq!(
                lint.is_ok(),
                case.valid,
                "xmllint on {} ({}): {lint:?}",
                case.what,
                case.sample
            );
        }
    }
}
