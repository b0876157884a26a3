//! BBPS: the NPCI XML an operating unit POSTs (UTF-8 text, as the handler refuses anything
//! else first), through the same layers the handler uses: the restricted XML tree
//! (`dom`), exclusive-less C14N 1.0 (`c14n`), the enveloped signature (`sig`), the typed
//! messages with their XSD and profile checks (`xml`), and the request decoder (`codec`).
//! Besides "no panic", the targets check properties a signature depends on: canonical form
//! is a fixed point, a decoded message writes back to the same message, and what kosh signs
//! verifies.
#![allow(dead_code)]

use std::sync::OnceLock;

use kosh_bbps::c14n::{canonicalize_document, canonicalize_subtree};
use kosh_bbps::codec;
use kosh_bbps::dom;
use kosh_bbps::sig::{self, SigningKey, VerifyingKey};
use kosh_bbps::xml::{self, AnyMessage};

struct Keys {
    kosh: SigningKey,
    kosh_cert: VerifyingKey,
    peer_cert: VerifyingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        kosh: SigningKey::from_pem(include_str!(
            "../../crates/bbps/tests/fixtures/keys/kosh-key.pem"
        ))
        .expect("fixture key"),
        kosh_cert: VerifyingKey::from_pem(include_str!(
            "../../crates/bbps/tests/fixtures/keys/kosh-cert.pem"
        ))
        .expect("fixture certificate"),
        peer_cert: VerifyingKey::from_pem(include_str!(
            "../../crates/bbps/tests/fixtures/keys/peer-cert.pem"
        ))
        .expect("fixture certificate"),
    })
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// `dom::parse`, then C14N of the document and of each element below the root: the
/// canonical form parses again and canonicalizes to itself.
pub fn dom(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let Ok(doc) = dom::parse(text) else { return };
    for with_comments in [false, true] {
        let canonical = canonicalize_document(&doc, None, with_comments);
        let again = dom::parse(&canonical)
            .unwrap_or_else(|e| panic!("canonical form does not parse ({e}): {canonical}"));
        assert_eq!(
            canonicalize_document(&again, None, with_comments),
            canonical,
            "C14N is not a fixed point"
        );
    }
    for child in doc.root.child_elements().take(8) {
        let subtree = canonicalize_subtree(&doc, child, false).expect("a child of the root");
        dom::parse(&subtree)
            .unwrap_or_else(|e| panic!("canonical subtree does not parse ({e}): {subtree}"));
    }
}

/// Typed messages: whatever `parse_any` accepts, kosh writes back, and that reads back the
/// same.
pub fn messages(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = codec::decode_ack(text);
    let Ok(message) = xml::parse_any(text) else {
        return;
    };
    let written = match &message {
        AnyMessage::BillFetchRequest(m) => xml::to_xml(m),
        AnyMessage::BillFetchResponse(m) => xml::to_xml(m),
        AnyMessage::BillPaymentRequest(m) => xml::to_xml(m),
        AnyMessage::BillPaymentResponse(m) => xml::to_xml(m),
        AnyMessage::TxnStatusRequest(m) => xml::to_xml(m),
        AnyMessage::TxnStatusResponse(m) => xml::to_xml(m),
        AnyMessage::ReqDiagnostic(m) => xml::to_xml(m),
        AnyMessage::ResDiagnostic(m) => xml::to_xml(m),
        AnyMessage::Ack(m) => xml::to_xml(m),
        AnyMessage::BillValidationRequest(m) => xml::to_xml(m),
        AnyMessage::BillValidationResponse(m) => xml::to_xml(m),
        AnyMessage::TxnStatusComplainRequest(m) => xml::to_xml(m),
        AnyMessage::TxnStatusComplainResponse(m) => xml::to_xml(m),
    };
    let written =
        written.unwrap_or_else(|e| panic!("accepted {} does not write: {e}", message.root()));
    let reread = xml::parse_any(&written).unwrap_or_else(|e| {
        panic!(
            "kosh's own {} does not read back: {e}\n{written}",
            message.root()
        )
    });
    assert_eq!(
        reread,
        message,
        "{} changed on a round trip",
        message.root()
    );
}

/// Signatures: verification and the request decoder with the peers' keys; and for a share
/// of the inputs (RSA signing is slow) kosh's own signature over the input verifies.
pub fn signatures(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let keys = keys();
    let peers = [keys.peer_cert.clone(), keys.kosh_cert.clone()];
    let _ = sig::verify_with_any(text, &peers);
    if let Err(e) = codec::decode_request(text, &peers[..1]) {
        assert!(!e.ack_errors().is_empty());
    }
    if data.len().is_multiple_of(8)
        && let Ok(signed) = sig::sign(text, &keys.kosh)
    {
        sig::verify(&signed, &keys.kosh_cert)
            .unwrap_or_else(|e| panic!("kosh's own signature does not verify: {e}\n{signed}"));
    }
}
