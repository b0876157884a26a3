//! Enveloped XML signatures: keys from configuration, sign → verify, tampering, wrong keys,
//! and both directions against xmlsec1 (an independent XMLDSig implementation on libxml2).

mod common;

use std::process::Command;

use common::*;
use kosh_bbps::codec::{self, InboundError, Request, Response};
use kosh_bbps::sig::{self, KeyError, SignError, SigningKey, VerifyError, VerifyingKey};
use kosh_bbps::xml::*;

const SIGNED_BY_XMLSEC1: &str = "xmlsec/BillPaymentRequest.signed-by-xmlsec1.xml";

#[test]
fn keys_load_from_every_configured_form() {
    let pkcs8 = SigningKey::from_pem(&fixture("keys/kosh-key.pem")).unwrap();
    let pkcs1 = SigningKey::from_pem(&fixture("keys/kosh-key.pkcs1.pem")).unwrap();
    let public = pkcs8.verifying_key();
    assert_eq!(pkcs1.verifying_key(), public);
    for form in ["kosh-cert.pem", "kosh-pub.pem", "kosh-pub.pkcs1.pem"] {
        let key = VerifyingKey::from_pem_file(fixtures().join("keys").join(form)).unwrap();
        assert_eq!(key, public, "{form}");
    }
    let der = {
        use base64::Engine;
        let pem = fixture("keys/kosh-cert.pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    };
    assert_eq!(VerifyingKey::from_certificate_der(&der).unwrap(), public);
    assert_ne!(peer_cert(), public);
    assert_eq!(format!("{pkcs8:?}"), "SigningKey(RSA-2048)");

    assert_eq!(
        SigningKey::from_pem(&fixture("keys/weak-key.pem")).unwrap_err(),
        KeyError::TooShort(1024)
    );
    assert_eq!(
        VerifyingKey::from_pem(&fixture("keys/ec-cert.pem")).unwrap_err(),
        KeyError::NotRsa
    );
    assert_eq!(
        SigningKey::from_pem("not a key").unwrap_err(),
        KeyError::NotPem
    );
    assert!(matches!(
        SigningKey::from_pem(&fixture("keys/kosh-cert.pem")),
        Err(KeyError::UnsupportedPem(label, _)) if label == "CERTIFICATE"
    ));
    assert!(matches!(
        VerifyingKey::from_pem(&fixture("keys/kosh-key.pem")),
        Err(KeyError::UnsupportedPem(..))
    ));
    assert!(matches!(
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        Err(KeyError::Invalid { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem_file("/nonexistent/kosh.pem"),
        Err(KeyError::Io { .. })
    ));
}

fn sample_response<M: BbpsMessage>(name: &str) -> M {
    from_xml(&fixture(&format!("messages/{name}"))).unwrap()
}

fn all_responses() -> Vec<Response> {
    vec![
        Response::BillFetch(sample_response("BillFetchResponse.xml")),
        Response::BillFetch(sample_response("BillFetchResponse-failure.xml")),
        Response::BillPayment(sample_response("BillPaymentResponse.xml")),
        Response::TxnStatus(sample_response("TxnStatusResponse.xml")),
        Response::Diagnostic(sample_response("ResDiagnostic.xml")),
        Response::BillValidation(sample_response("BillValidationResponse.xml")),
        Response::Complaint(sample_response("TxnStatusComplainResponse.xml")),
    ]
}

#[test]
fn sign_then_verify_round_trips_every_response() {
    let key = kosh_key();
    let cert = kosh_cert();
    let certs = [cert.clone()];
    for response in all_responses() {
        let signed = codec::encode_response(&response, &key).unwrap();
        assert!(signed.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ns2:"));
        assert!(signed.contains(
            "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo><CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\">"
        ));
        assert!(signed.contains("<Exponent>AQAB</Exponent>"));
        let close = format!("</Signature></ns2:{}>", response.root());
        assert!(
            signed.ends_with(&close),
            "the signature is the root's last child"
        );

        let verified = sig::verify(&signed, &cert).unwrap();
        let unsigned = match &response {
            Response::BillFetch(m) => to_xml(m),
            Response::BillPayment(m) => to_xml(m),
            Response::TxnStatus(m) => to_xml(m),
            Response::Diagnostic(m) => to_xml(m),
            Response::BillValidation(m) => to_xml(m),
            Response::Complaint(m) => to_xml(m),
        }
        .unwrap();
        assert_eq!(verified.signed_xml(), normalize(&unsigned));

        match &response {
            Response::BillFetch(m) => {
                assert_eq!(
                    &codec::decode_signed::<BillFetchResponse>(&signed, &certs).unwrap(),
                    m
                )
            }
            Response::BillPayment(m) => assert_eq!(
                &codec::decode_signed::<BillPaymentResponse>(&signed, &certs).unwrap(),
                m
            ),
            Response::TxnStatus(m) => assert_eq!(
                &codec::decode_signed::<TxnStatusResponse>(&signed, &certs).unwrap(),
                m
            ),
            Response::Diagnostic(m) => assert_eq!(
                &codec::decode_signed::<ResDiagnostic>(&signed, &certs).unwrap(),
                m
            ),
            Response::BillValidation(m) => assert_eq!(
                &codec::decode_signed::<BillValidationResponse>(&signed, &certs).unwrap(),
                m
            ),
            Response::Complaint(m) => assert_eq!(
                &codec::decode_signed::<TxnStatusComplainResponse>(&signed, &certs).unwrap(),
                m
            ),
        }
    }
}

fn signed_request(sample: &str) -> String {
    let text = fixture(&format!("messages/{sample}"));
    sig::sign(&text, &peer_key()).unwrap()
}

#[test]
fn signed_requests_decode() {
    let peers = [peer_cert()];
    match codec::decode_request(&signed_request("BillFetchRequest.xml"), &peers).unwrap() {
        Request::BillFetch(r) => assert_eq!(r.bill_details.biller.id, "PBMUNIPT0AMR01"),
        other => panic!("{other:?}"),
    }
    let r = codec::decode_request(&signed_request("BillPaymentRequest.xml"), &peers).unwrap();
    assert_eq!(r.ref_id(), "HENSVVR4QOS7X1UGPY7JGUV444P61241015");
    assert_eq!(r.msg_id(), Some("PMT2VVR4QOS7X1UGPY7JGUV444P61241032"));
    assert_eq!(r.ack_api(), Some(api::PAYMENT_REQUEST));
    assert!(matches!(r, Request::BillPayment(_)));
    let r = codec::decode_request(&signed_request("TxnStatusRequest.xml"), &peers).unwrap();
    assert_eq!(r.root(), "TxnStatusRequest");
    let r = codec::decode_request(&signed_request("ReqDiagnostic.xml"), &peers).unwrap();
    assert_eq!(r.ack_api(), None);
    assert_eq!(r.head().ts, "2026-05-05T12:00:00+05:30");

    // A response is not a request, however well signed.
    let e = codec::decode_request(&signed_request("BillFetchResponse.xml"), &peers).unwrap_err();
    assert_eq!(e, InboundError::NotARequest("BillFetchResponse"));
    assert_eq!(e.ack_errors()[0].error_cd, "UNSUPPORTED_MESSAGE");
}

#[test]
fn a_tampered_element_fails() {
    let signed = signed_request("BillPaymentRequest.xml");
    let peers = [peer_cert()];
    for (what, from, to) in [
        (
            "the amount",
            "amount=\"1172800\" currency",
            "amount=\"1172900\" currency",
        ),
        (
            "an attribute added",
            "<Customer mobile=",
            "<Customer x=\"1\" mobile=",
        ),
        (
            "an element removed",
            "<Tag name=\"VPA\" value=\"harpreet@upi\"></Tag>",
            "",
        ),
        ("whitespace inside the root", "<Head ", " <Head "),
        (
            "a text node",
            "<SplitPayAmount></SplitPayAmount>",
            "<SplitPayAmount>0</SplitPayAmount>",
        ),
    ] {
        assert!(signed.contains(from), "{what}");
        let tampered = signed.replacen(from, to, 1);
        assert_eq!(
            sig::verify_with_any(&tampered, &peers).unwrap_err(),
            VerifyError::DigestMismatch,
            "{what}"
        );
        let e = codec::decode_request(&tampered, &peers).unwrap_err();
        assert_eq!(e.ack_errors()[0].error_cd, "SIGNATURE_INVALID");
    }
    // Outside the root element nothing is signed, and nothing is read.
    let padded = format!("{signed}\n<!-- trailing comment -->\n");
    sig::verify_with_any(&padded, &peers).unwrap();
}

#[test]
fn a_tampered_signature_fails() {
    let signed = signed_request("BillPaymentRequest.xml");
    let peers = [peer_cert()];
    let start = signed.find("<SignatureValue>").unwrap() + "<SignatureValue>".len();
    let mut bytes = signed.into_bytes();
    bytes[start + 10] = if bytes[start + 10] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        sig::verify_with_any(&tampered, &peers).unwrap_err(),
        VerifyError::BadSignature
    );

    // A digest swapped for the digest of other content breaks the signature over SignedInfo.
    let signed = signed_request("BillPaymentRequest.xml");
    let digest = |s: &str| {
        let a = s.find("<DigestValue>").unwrap() + "<DigestValue>".len();
        let b = s.find("</DigestValue>").unwrap();
        s[a..b].to_string()
    };
    let other = signed_request("BillFetchRequest.xml");
    let swapped = signed.replace(&digest(&signed), &digest(&other));
    assert_eq!(
        sig::verify_with_any(&swapped, &peers).unwrap_err(),
        VerifyError::BadSignature
    );
    // Not base64 at all.
    let garbage = signed.replacen("<SignatureValue>", "<SignatureValue>*", 1);
    assert!(matches!(
        sig::verify_with_any(&garbage, &peers).unwrap_err(),
        VerifyError::Malformed(_)
    ));
}

#[test]
fn a_wrong_key_fails_and_a_rolled_over_key_works() {
    let signed = signed_request("BillFetchRequest.xml");
    assert_eq!(
        sig::verify(&signed, &kosh_cert()).unwrap_err(),
        VerifyError::BadSignature
    );
    let e = codec::decode_request(&signed, &[kosh_cert()]).unwrap_err();
    assert_eq!(e, InboundError::Signature(VerifyError::BadSignature));
    // The key inside the message (KeyInfo) is never trusted: replacing it changes nothing.
    let own = sig::sign(&fixture("messages/BillFetchRequest.xml"), &kosh_key()).unwrap();
    let modulus = |s: &str| {
        let a = s.find("<Modulus>").unwrap();
        let b = s.find("</Modulus>").unwrap();
        s[a..b].to_string()
    };
    let forged = own.replace(&modulus(&own), &modulus(&signed));
    assert_eq!(
        sig::verify(&forged, &peer_cert()).unwrap_err(),
        VerifyError::BadSignature
    );
    sig::verify_with_any(&signed, &[kosh_cert(), peer_cert()]).unwrap();
}

#[test]
fn only_the_bbps_signature_profile_is_accepted() {
    let signed = signed_request("ReqDiagnostic.xml");
    let peers = [peer_cert()];
    let err = |xml: String| sig::verify_with_any(&xml, &peers).unwrap_err();

    assert_eq!(
        err(fixture("messages/ReqDiagnostic.xml")),
        VerifyError::Unsigned
    );
    let sig_start = signed.find("<Signature").unwrap();
    let sig_end = signed.find("</Signature>").unwrap() + "</Signature>".len();
    let signature = &signed[sig_start..sig_end];
    assert_eq!(
        err(signed.replacen(signature, &format!("{signature}{signature}"), 1)),
        VerifyError::MultipleSignatures
    );
    let unsigned = signed.replacen(signature, "", 1);
    let moved = unsigned.replacen("></Head>", &format!(">{signature}</Head>"), 1);
    assert_eq!(err(moved), VerifyError::Misplaced);

    for (from, to, what) in [
        (
            sig::RSA_SHA256,
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "SignatureMethod",
        ),
        (
            sig::SHA256,
            "http://www.w3.org/2000/09/xmldsig#sha1",
            "DigestMethod",
        ),
        (
            "CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"",
            "CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
            "CanonicalizationMethod",
        ),
        ("URI=\"\"", "URI=\"#head\"", "Reference URI"),
        (
            sig::ENVELOPED,
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
            "Transform",
        ),
    ] {
        match err(signed.replacen(from, to, 1)) {
            VerifyError::Unsupported { what: w, .. } => assert_eq!(w, what),
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(matches!(
        err(signed.replacen("<KeyInfo>", "<Object>x</Object><KeyInfo>", 1)),
        VerifyError::Malformed(_) | VerifyError::Unsupported { .. }
    ));
    assert_eq!(
        sig::sign(&signed, &peer_key()).unwrap_err(),
        SignError::AlreadySigned
    );
}

/// The fixture xmlsec1 signed (see tests/fixtures/README.md) verifies in kosh: kosh's
/// canonicalization gives libxml2's bytes for every variation in the template.
#[test]
fn a_message_signed_by_xmlsec1_verifies() {
    let signed = fixture(SIGNED_BY_XMLSEC1);
    let request = codec::decode_request(&signed, &[peer_cert()]).unwrap();
    let Request::BillPayment(p) = request else {
        panic!("not a payment")
    };
    assert_eq!(p.txn_reference_id(), "AU016124KOSHTXN00017");
    assert_eq!(
        p.biller_responses[0].customer_name.as_deref(),
        Some("Harpreet Kaur & Sons \"Amritsar\" <HK> it's")
    );
    assert_eq!(
        p.additional_info.as_ref().unwrap().tags[0].value,
        "१२, माल रोड\nअमृतसर\tपंजाब"
    );
    assert_eq!(p.amount.split_pay_amount, "0");
    assert_eq!(p.payment_method.payment_mode.as_deref(), Some("Cash"));
    assert_eq!(
        p.agent.device.tags[0].name,
        DeviceTagName::InitiatingChannel
    );

    assert_eq!(
        sig::verify(&signed, &kosh_cert()).unwrap_err(),
        VerifyError::BadSignature
    );
    let tampered = signed.replacen("Amt amount=\"1234500\"", "Amt amount=\"1234400\"", 1);
    assert_eq!(
        sig::verify(&tampered, &peer_cert()).unwrap_err(),
        VerifyError::DigestMismatch
    );
}

fn xmlsec1_verify(xml: &str, cert: &str) -> Result<(), String> {
    let file = temp_file("signed.xml", xml);
    let out = Command::new("xmlsec1")
        .arg("--verify")
        // Use only the configured certificate, not the key the document carries.
        .args(["--enabled-key-data", "x509", "--pubkey-cert-pem"])
        .arg(fixtures().join("keys").join(cert))
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// kosh's signatures verify with xmlsec1 (skipped when xmlsec1 is not installed).
#[test]
fn xmlsec1_verifies_what_kosh_signs() {
    if let Some(reason) = xmlsec1_unavailable() {
        println!("SKIPPED: {reason}");
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let key = kosh_key();
    for response in all_responses() {
        let signed = codec::encode_response(&response, &key).unwrap();
        xmlsec1_verify(&signed, "kosh-cert.pem")
            .unwrap_or_else(|e| panic!("{}: {e}", response.root()));
        assert!(
            xmlsec1_verify(&signed, "peer-cert.pem").is_err(),
            "xmlsec1 must refuse the wrong certificate"
        );
        let tampered = signed.replacen("ts=\"20", "ts=\"19", 1);
        assert!(xmlsec1_verify(&tampered, "kosh-cert.pem").is_err());
    }
    // And a document with the awkward variations, signed by kosh this time.
    let template = fixture("xmlsec/BillPaymentRequest.template.xml");
    let a = template.find("<Signature").unwrap();
    let b = template.find("</Signature>").unwrap() + "</Signature>".len();
    let unsigned = format!("{}{}", &template[..a], &template[b..]);
    let signed = sig::sign(&unsigned, &key).unwrap();
    xmlsec1_verify(&signed, "kosh-cert.pem").unwrap();
    codec::decode_request(&signed, &[kosh_cert()]).unwrap();
}

#[test]
fn acks_are_plain_xml() {
    let ack = Ack::accepted(
        api::FETCH_REQUEST,
        "HENSVVR4QOS7X1UGPY7JGUV444P61241015",
        Some("8ENSVVR4QOS7X1UGPY7JGUV444P61241015"),
        &codec::timestamp(1_777_869_930_000),
    );
    let text = codec::encode_ack(&ack).unwrap();
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ns2:Ack xmlns:ns2=\"http://bbps.org/schema\" api=\"FETCH_REQUEST\" refId=\"HENSVVR4QOS7X1UGPY7JGUV444P61241015\" msgId=\"8ENSVVR4QOS7X1UGPY7JGUV444P61241015\" RspCd=\"Successful\" ts=\"2026-05-04T10:15:30+05:30\"/>"
    );
    assert_eq!(codec::decode_ack(&text).unwrap(), ack);
    let e = codec::decode_request("<not xml", &[peer_cert()]).unwrap_err();
    assert_eq!(e.ack_errors()[0].error_cd, "MALFORMED_XML");
    let e = codec::decode_request(&fixture("messages/BillFetchRequest.xml"), &[peer_cert()])
        .unwrap_err();
    assert_eq!(e, InboundError::Signature(VerifyError::Unsigned));
    let bad = sig::sign(
        &fixture("messages/BillFetchRequest.xml").replace("<Agent ", "<Agent x=\"1\" "),
        &peer_key(),
    )
    .unwrap();
    let e = codec::decode_request(&bad, &[peer_cert()]).unwrap_err();
    assert_eq!(e.ack_errors()[0].error_cd, "SCHEMA_INVALID");
    assert!(e.to_string().contains("/BillFetchRequest/Agent/@x"), "{e}");
    assert_eq!(
        Response::BillFetch(sample_response("BillFetchResponse.xml")).path(),
        "/bbps/BillFetchResponse/1.0/urn:referenceId:HENSVVR4QOS7X1UGPY7JGUV444P61241015"
    );
}
