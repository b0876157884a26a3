//! What the HTTP layer calls: signed requests in, signed responses out, Acks both ways.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use rand::Rng;

use crate::dom;
use crate::sig::{self, SignError, SigningKey, VerifyError, VerifyingKey};
use crate::xml::{
    self, AnyMessage, BbpsMessage, BillFetchRequest, BillFetchResponse, BillPaymentRequest,
    BillPaymentResponse, BillValidationRequest, BillValidationResponse, ErrorMessage, Head,
    ReqDiagnostic, ResDiagnostic, TxnStatusComplainRequest, TxnStatusComplainResponse,
    TxnStatusRequest, TxnStatusResponse, XmlError, api,
};

/// A request the central unit (or the BOU) sends to kosh as biller.
// One value per HTTP request, moved once: boxing the large variants buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    BillFetch(BillFetchRequest),
    BillPayment(BillPaymentRequest),
    TxnStatus(TxnStatusRequest),
    Diagnostic(ReqDiagnostic),
    BillValidation(BillValidationRequest),
    Complaint(TxnStatusComplainRequest),
}

impl Request {
    /// The request's `Head`.
    pub fn head(&self) -> &Head {
        match self {
            Request::BillFetch(r) => &r.head,
            Request::BillPayment(r) => &r.head,
            Request::TxnStatus(r) => &r.head,
            Request::Diagnostic(r) => &r.head,
            Request::BillValidation(r) => &r.head,
            Request::Complaint(r) => &r.head,
        }
    }

    /// `Head@refId`; the HTTP layer checks it equals the `urn:referenceId:` of the URL.
    pub fn ref_id(&self) -> &str {
        &self.head().ref_id
    }

    /// `Txn@msgId`, when the message has one.
    pub fn msg_id(&self) -> Option<&str> {
        match self {
            Request::BillFetch(r) => r.txn.msg_id.as_deref(),
            Request::BillPayment(r) => r.txn.msg_id.as_deref(),
            Request::TxnStatus(r) => r.txn.msg_id.as_deref(),
            Request::Diagnostic(_) | Request::BillValidation(_) => None,
            Request::Complaint(r) => r.txn.msg_id.as_deref().or(Some(r.req.msg_id.as_str())),
        }
    }

    /// The root element name.
    pub fn root(&self) -> &'static str {
        match self {
            Request::BillFetch(_) => BillFetchRequest::ROOT,
            Request::BillPayment(_) => BillPaymentRequest::ROOT,
            Request::TxnStatus(_) => TxnStatusRequest::ROOT,
            Request::Diagnostic(_) => ReqDiagnostic::ROOT,
            Request::BillValidation(_) => BillValidationRequest::ROOT,
            Request::Complaint(_) => TxnStatusComplainRequest::ROOT,
        }
    }

    /// `Ack@api` for this request; `None` for the heartbeat, which is answered in the
    /// HTTP response itself.
    pub fn ack_api(&self) -> Option<&'static str> {
        match self {
            Request::BillFetch(_) => Some(api::FETCH_REQUEST),
            Request::BillPayment(_) => Some(api::PAYMENT_REQUEST),
            Request::TxnStatus(_) => Some(api::TXN_STATUS_REQUEST),
            Request::BillValidation(_) => Some(api::VALIDATION_REQUEST),
            Request::Complaint(_) => Some(api::COMPLAINT_REQUEST),
            Request::Diagnostic(_) => None,
        }
    }
}

/// A response kosh sends.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    BillFetch(BillFetchResponse),
    BillPayment(BillPaymentResponse),
    TxnStatus(TxnStatusResponse),
    Diagnostic(ResDiagnostic),
    BillValidation(BillValidationResponse),
    Complaint(TxnStatusComplainResponse),
}

impl Response {
    /// The root element name.
    pub fn root(&self) -> &'static str {
        match self {
            Response::BillFetch(_) => BillFetchResponse::ROOT,
            Response::BillPayment(_) => BillPaymentResponse::ROOT,
            Response::TxnStatus(_) => TxnStatusResponse::ROOT,
            Response::Diagnostic(_) => ResDiagnostic::ROOT,
            Response::BillValidation(_) => BillValidationResponse::ROOT,
            Response::Complaint(_) => TxnStatusComplainResponse::ROOT,
        }
    }

    /// The response's `Head`.
    pub fn head(&self) -> &Head {
        match self {
            Response::BillFetch(r) => &r.head,
            Response::BillPayment(r) => &r.head,
            Response::TxnStatus(r) => &r.head,
            Response::Diagnostic(r) => &r.head,
            Response::BillValidation(r) => &r.head,
            Response::Complaint(r) => &r.head,
        }
    }

    /// The path the response is POSTed to on the peer (asynchronous responses), e.g.
    /// `/bbps/BillFetchResponse/1.0/urn:referenceId:<refId>`.
    pub fn path(&self) -> String {
        endpoint_path(self.root(), &self.head().ref_id)
    }
}

/// The BBPS endpoint path for `message` and `ref_id`:
/// `/bbps/<message>/1.0/urn:referenceId:<refId>` (NPCI's convention: one URL per message
/// type, the `Head@refId` in the path). The heartbeat's
/// message segment is `ReqHbt`.
pub fn endpoint_path(message: &str, ref_id: &str) -> String {
    format!("/bbps/{message}/1.0/urn:referenceId:{ref_id}")
}

/// Why an inbound request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// The signature is missing, malformed, or does not verify.
    #[error("signature: {0}")]
    Signature(VerifyError),
    /// The signed content is not a valid message.
    #[error(transparent)]
    Message(#[from] XmlError),
    /// A valid message, but not one a biller receives.
    #[error("{0} is not a request kosh accepts")]
    NotARequest(&'static str),
}

impl From<VerifyError> for InboundError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Parse(p) => InboundError::Message(XmlError::Parse(p)),
            other => InboundError::Signature(other),
        }
    }
}

impl InboundError {
    /// The `errorMessages` of the refusing [`xml::Ack`]. NPCI's Ack error catalogue is not
    /// public, so the codes are kosh's own: `MALFORMED_XML`, `SIGNATURE_INVALID`,
    /// `SCHEMA_INVALID`, `UNSUPPORTED_MESSAGE`.
    pub fn ack_errors(&self) -> Vec<ErrorMessage> {
        let code = match self {
            InboundError::Signature(_) => "SIGNATURE_INVALID",
            InboundError::Message(XmlError::Parse(_)) => "MALFORMED_XML",
            InboundError::Message(XmlError::Invalid(_)) => "SCHEMA_INVALID",
            InboundError::Message(XmlError::UnknownMessage(_)) | InboundError::NotARequest(_) => {
                "UNSUPPORTED_MESSAGE"
            }
            InboundError::Message(XmlError::Decode { .. } | XmlError::Encode { .. }) => {
                "SCHEMA_INVALID"
            }
        };
        vec![ErrorMessage {
            error_cd: code.into(),
            error_dtl: self.to_string(),
        }]
    }
}

/// Why an outbound response could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error(transparent)]
    Message(#[from] XmlError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Reads a signed request: verifies the enveloped signature with the counterparty's
/// key(s) from configuration, then validates (XSD + profile) and decodes what was signed.
pub fn decode_request(body: &str, peers: &[VerifyingKey]) -> Result<Request, InboundError> {
    match decode_signed_any(body, peers)? {
        AnyMessage::BillFetchRequest(r) => Ok(Request::BillFetch(r)),
        AnyMessage::BillPaymentRequest(r) => Ok(Request::BillPayment(r)),
        AnyMessage::TxnStatusRequest(r) => Ok(Request::TxnStatus(r)),
        AnyMessage::ReqDiagnostic(r) => Ok(Request::Diagnostic(r)),
        AnyMessage::BillValidationRequest(r) => Ok(Request::BillValidation(r)),
        AnyMessage::TxnStatusComplainRequest(r) => Ok(Request::Complaint(r)),
        other => Err(InboundError::NotARequest(other.root())),
    }
}

/// Reads any signed message, by its root element.
pub fn decode_signed_any(body: &str, peers: &[VerifyingKey]) -> Result<AnyMessage, InboundError> {
    let doc = dom::parse(body).map_err(XmlError::Parse)?;
    let verified = sig::verify_document(&doc, peers)?;
    let signed = dom::parse(verified.signed_xml()).map_err(XmlError::Parse)?;
    Ok(xml::decode_any(&signed)?)
}

/// Reads a signed message of a known type.
pub fn decode_signed<M: BbpsMessage>(
    body: &str,
    peers: &[VerifyingKey],
) -> Result<M, InboundError> {
    let verified = sig::verify_with_any(body, peers)?;
    Ok(xml::from_xml(verified.signed_xml())?)
}

/// Writes a response: validated against its XSD and kosh's profile, then signed.
pub fn encode_response(response: &Response, key: &SigningKey) -> Result<String, OutboundError> {
    match response {
        Response::BillFetch(r) => encode_signed(r, key),
        Response::BillPayment(r) => encode_signed(r, key),
        Response::TxnStatus(r) => encode_signed(r, key),
        Response::Diagnostic(r) => encode_signed(r, key),
        Response::BillValidation(r) => encode_signed(r, key),
        Response::Complaint(r) => encode_signed(r, key),
    }
}

/// Writes any message, validated and signed.
pub fn encode_signed<M: BbpsMessage>(msg: &M, key: &SigningKey) -> Result<String, OutboundError> {
    let xml = xml::to_xml(msg)?;
    Ok(sig::sign(&xml, key)?)
}

/// Writes an Ack (unsigned).
pub fn encode_ack(ack: &xml::Ack) -> Result<String, XmlError> {
    xml::to_xml(ack)
}

/// Reads the Ack a peer answered with (unsigned).
pub fn decode_ack(body: &str) -> Result<xml::Ack, XmlError> {
    xml::from_xml(body)
}

/// India Standard Time, the zone BBPS timestamps are written in.
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("+05:30 is a valid offset")
}

fn ist_datetime(epoch_ms: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .with_timezone(&ist())
}

/// A BBPS timestamp (`Head@ts`, `Txn@ts`, `Ack@ts`) for a time in epoch milliseconds:
/// `2026-05-04T10:15:30+05:30`.
pub fn timestamp(epoch_ms: i64) -> String {
    ist_datetime(epoch_ms)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A new 35-character reference id (`Head@refId`, `Txn@msgId`, an approval reference) in
/// the shape NPCI's ids have: 27 random upper-case letters and digits, then the last digit
/// of the year, the day of the year (3 digits) and the time HHmm, in IST (read from NPCI's
/// sample refId `HGPDAAH6GVYD773CWT9RXNHVDUH22842345`: 2022, day 284, 23:45).
pub fn new_ref_id(epoch_ms: i64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut id: String = (0..27)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let t = ist_datetime(epoch_ms);
    id.push_str(&format!(
        "{}{:03}{:02}{:02}",
        t.year().rem_euclid(10),
        t.ordinal(),
        t.hour(),
        t.minute()
    ));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_ids_are_in_ist() {
        // 2026-05-04T04:45:30Z is 10:15:30 in India.
        let ms = 1_777_869_930_000;
        assert_eq!(timestamp(ms), "2026-05-04T10:15:30+05:30");
        let id = new_ref_id(ms);
        assert_eq!(id.len(), 35);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert!(id.ends_with("61241015"), "{id}");
        assert_ne!(new_ref_id(ms), id);
        assert_eq!(
            endpoint_path("BillFetchResponse", "R1"),
            "/bbps/BillFetchResponse/1.0/urn:referenceId:R1"
        );
    }
}
