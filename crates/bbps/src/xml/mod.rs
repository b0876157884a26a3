//! The NPCI BBPS XML messages: typed models, parsing, serialization and validation.
//!
//! Every message is read and written through the same three checks, in this order:
//!
//! 1. well-formedness of the restricted XML subset of [`crate::dom`] (UTF-8, no DTD);
//! 2. the message's XSD content model ([`schema`]);
//! 3. kosh's profile ([`profile`]): the values kosh relies on (ids, times, paise).
//!
//! [`from_xml`] decodes only a document that passes all three; [`to_xml`] re-reads what it
//! wrote and refuses to return a document that does not — so nothing kosh sends can break
//! the schema.
//!
//! On the wire the root element is in `http://bbps.org/schema` and everything below it is
//! unqualified (the XSDs say `elementFormDefault="unqualified"`). kosh writes the root with
//! the prefix `ns2` — `<ns2:BillFetchResponse xmlns:ns2="http://bbps.org/schema">` — as
//! NPCI's samples and the JAXB-based operating units do; it reads any prefix.

pub mod messages;
pub mod model;
pub mod profile;
pub mod schema;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use messages::*;
pub use model::*;
pub use schema::{BBPS_NS, Fault, Violation};

use crate::c14n;
use crate::dom::{self, Document, ParseError};

/// The namespace prefix kosh writes on the root element.
pub const PREFIX: &str = "ns2";

/// A message is not one kosh accepts or may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The message (root element) that was checked.
    pub message: &'static str,
    /// Every fault found, each naming its element or attribute.
    pub violations: Vec<Violation>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not valid: ", self.message)?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// Why a message could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed, or outside the XML subset BBPS uses.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Breaks the XSD or kosh's profile.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The root element names no message kosh knows.
    #[error("unknown BBPS message {0}")]
    UnknownMessage(String),
    /// Valid, but the typed model could not take it (a bug: the schema and the model
    /// disagree).
    #[error("cannot decode {message}: {detail}")]
    Decode {
        message: &'static str,
        detail: String,
    },
    /// The serializer failed (a bug).
    #[error("cannot encode {message}: {detail}")]
    Encode {
        message: &'static str,
        detail: String,
    },
}

mod sealed {
    pub trait Sealed {}
}

/// A BBPS message: its root element name, its XSD, and its checks.
pub trait BbpsMessage: Serialize + DeserializeOwned + sealed::Sealed {
    /// The root element's local name.
    const ROOT: &'static str;
    /// The schema file that defines it (in the NPCI XSD set).
    const XSD: &'static str;
    /// kosh's profile checks on a decoded message (see [`profile`]).
    fn profile_violations(&self) -> Vec<Violation>;
}

macro_rules! message {
    ($ty:ident, $root:literal, $xsd:literal) => {
        impl sealed::Sealed for $ty {}
        impl BbpsMessage for $ty {
            const ROOT: &'static str = $root;
            const XSD: &'static str = $xsd;
            fn profile_violations(&self) -> Vec<Violation> {
                let mut c = profile::Checker::new($root);
                profile::Profile::check(self, &mut c);
                c.out
            }
        }
    };
}

message!(BillFetchRequest, "BillFetchRequest", "BillFetchRequest.xsd");
message!(
    BillFetchResponse,
    "BillFetchResponse",
    "BillFetchResponse.xsd"
);
message!(
    BillPaymentRequest,
    "BillPaymentRequest",
    "BillPaymentRequest.xsd"
);
message!(
    BillPaymentResponse,
    "BillPaymentResponse",
    "BillPaymentResponse.xsd"
);
message!(TxnStatusRequest, "TxnStatusRequest", "402Request.xsd");
message!(TxnStatusResponse, "TxnStatusResponse", "402Response.xsd");
message!(ReqDiagnostic, "ReqDiagnostic", "ReqDiagnostic.xsd");
message!(ResDiagnostic, "ResDiagnostic", "ResDiagnostic.xsd");
message!(Ack, "Ack", "Ack.xsd");
message!(
    BillValidationRequest,
    "BillValidationRequest",
    "BillValidationRequest.xsd"
);
message!(
    BillValidationResponse,
    "BillValidationResponse",
    "BillValidationResponse.xsd"
);
message!(
    TxnStatusComplainRequest,
    "TxnStatusComplainRequest",
    "TxnStatusComplainRequest.xsd"
);
message!(
    TxnStatusComplainResponse,
    "TxnStatusComplainResponse",
    "TxnStatusComplainResponse.xsd"
);

/// The content model of a message, by root name.
fn schema_for(root: &str) -> Option<&'static schema::Type> {
    Some(match root {
        "BillFetchRequest" => &schema::BILL_FETCH_REQUEST,
        "BillFetchResponse" => &schema::BILL_FETCH_RESPONSE,
        "BillPaymentRequest" => &schema::BILL_PAYMENT_REQUEST,
        "BillPaymentResponse" => &schema::BILL_PAYMENT_RESPONSE,
        "TxnStatusRequest" => &schema::TXN_STATUS_REQUEST,
        "TxnStatusResponse" => &schema::TXN_STATUS_RESPONSE,
        "ReqDiagnostic" => &schema::REQ_DIAGNOSTIC,
        "ResDiagnostic" => &schema::RES_DIAGNOSTIC,
        "Ack" => &schema::ACK,
        "BillValidationRequest" => &schema::BILL_VALIDATION_REQUEST,
        "BillValidationResponse" => &schema::BILL_VALIDATION_RESPONSE,
        "TxnStatusComplainRequest" => &schema::TXN_STATUS_COMPLAIN_REQUEST,
        "TxnStatusComplainResponse" => &schema::TXN_STATUS_COMPLAIN_RESPONSE,
        _ => return None,
    })
}

/// Checks a parsed document against the XSD of `M` only (no profile).
pub(crate) fn validate_document<M: BbpsMessage>(doc: &Document) -> Result<(), ValidationError> {
    let ty = schema_for(M::ROOT).expect("every message has a schema");
    let violations = schema::validate_root(&doc.root, M::ROOT, ty);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError {
            message: M::ROOT,
            violations,
        })
    }
}

fn decode<M: BbpsMessage>(doc: &Document) -> Result<M, XmlError> {
    validate_document::<M>(doc)?;
    // Decode from the canonical form of what was validated: line ends and attribute values
    // normalized, comments gone, references expanded once — the same data the checks saw.
    let canonical = c14n::canonicalize_document(doc, None, false);
    let msg: M = quick_xml::de::from_str(&canonical).map_err(|e| XmlError::Decode {
        message: M::ROOT,
        detail: e.to_string(),
    })?;
    let violations = msg.profile_violations();
    if violations.is_empty() {
        Ok(msg)
    } else {
        Err(ValidationError {
            message: M::ROOT,
            violations,
        }
        .into())
    }
}

/// Reads an unsigned message `M` (an [`Ack`], or a message whose signature
/// [`crate::sig::verify`] has already checked and removed).
///
/// A document that still carries a `Signature` element is refused: the XSDs do not allow
/// it, and a signed message must go through [`crate::codec`].
pub fn from_xml<M: BbpsMessage>(xml: &str) -> Result<M, XmlError> {
    let doc = dom::parse(xml)?;
    decode(&doc)
}

/// Writes `msg` as a complete document (with an XML declaration), after checking it against
/// its XSD and kosh's profile.
pub fn to_xml<M: BbpsMessage>(msg: &M) -> Result<String, XmlError> {
    let violations = msg.profile_violations();
    if !violations.is_empty() {
        return Err(ValidationError {
            message: M::ROOT,
            violations,
        }
        .into());
    }
    let root = format!("{PREFIX}:{}", M::ROOT);
    let body = quick_xml::se::to_string_with_root(&root, msg).map_err(|e| XmlError::Encode {
        message: M::ROOT,
        detail: e.to_string(),
    })?;
    let open = format!("<{root}");
    let rest = body.strip_prefix(&open).ok_or_else(|| XmlError::Encode {
        message: M::ROOT,
        detail: format!("serializer output does not start with {open}"),
    })?;
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{open} xmlns:{PREFIX}=\"{BBPS_NS}\"{rest}"
    );
    // What is sent must read back as valid.
    let doc = dom::parse(&xml)?;
    decode::<M>(&doc)?;
    Ok(xml)
}

/// Any message this crate knows, for reading a document by its root element.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyMessage {
    BillFetchRequest(BillFetchRequest),
    BillFetchResponse(BillFetchResponse),
    BillPaymentRequest(BillPaymentRequest),
    BillPaymentResponse(BillPaymentResponse),
    TxnStatusRequest(TxnStatusRequest),
    TxnStatusResponse(TxnStatusResponse),
    ReqDiagnostic(ReqDiagnostic),
    ResDiagnostic(ResDiagnostic),
    Ack(Ack),
    BillValidationRequest(BillValidationRequest),
    BillValidationResponse(BillValidationResponse),
    TxnStatusComplainRequest(TxnStatusComplainRequest),
    TxnStatusComplainResponse(TxnStatusComplainResponse),
}

impl AnyMessage {
    /// The root element name.
    pub fn root(&self) -> &'static str {
        match self {
            AnyMessage::BillFetchRequest(_) => BillFetchRequest::ROOT,
            AnyMessage::BillFetchResponse(_) => BillFetchResponse::ROOT,
            AnyMessage::BillPaymentRequest(_) => BillPaymentRequest::ROOT,
            AnyMessage::BillPaymentResponse(_) => BillPaymentResponse::ROOT,
            AnyMessage::TxnStatusRequest(_) => TxnStatusRequest::ROOT,
            AnyMessage::TxnStatusResponse(_) => TxnStatusResponse::ROOT,
            AnyMessage::ReqDiagnostic(_) => ReqDiagnostic::ROOT,
            AnyMessage::ResDiagnostic(_) => ResDiagnostic::ROOT,
            AnyMessage::Ack(_) => Ack::ROOT,
            AnyMessage::BillValidationRequest(_) => BillValidationRequest::ROOT,
            AnyMessage::BillValidationResponse(_) => BillValidationResponse::ROOT,
            AnyMessage::TxnStatusComplainRequest(_) => TxnStatusComplainRequest::ROOT,
            AnyMessage::TxnStatusComplainResponse(_) => TxnStatusComplainResponse::ROOT,
        }
    }
}

/// Reads a parsed document as whichever message its root element names.
pub(crate) fn decode_any(doc: &Document) -> Result<AnyMessage, XmlError> {
    if doc.root.ns.as_deref() != Some(BBPS_NS) || schema_for(&doc.root.local).is_none() {
        return Err(XmlError::UnknownMessage(match &doc.root.ns {
            Some(ns) => format!("{{{ns}}}{}", doc.root.local),
            None => doc.root.local.clone(),
        }));
    }
    Ok(match doc.root.local.as_str() {
        "BillFetchRequest" => AnyMessage::BillFetchRequest(decode(doc)?),
        "BillFetchResponse" => AnyMessage::BillFetchResponse(decode(doc)?),
        "BillPaymentRequest" => AnyMessage::BillPaymentRequest(decode(doc)?),
        "BillPaymentResponse" => AnyMessage::BillPaymentResponse(decode(doc)?),
        "TxnStatusRequest" => AnyMessage::TxnStatusRequest(decode(doc)?),
        "TxnStatusResponse" => AnyMessage::TxnStatusResponse(decode(doc)?),
        "ReqDiagnostic" => AnyMessage::ReqDiagnostic(decode(doc)?),
        "ResDiagnostic" => AnyMessage::ResDiagnostic(decode(doc)?),
        "Ack" => AnyMessage::Ack(decode(doc)?),
        "BillValidationRequest" => AnyMessage::BillValidationRequest(decode(doc)?),
        "BillValidationResponse" => AnyMessage::BillValidationResponse(decode(doc)?),
        "TxnStatusComplainRequest" => AnyMessage::TxnStatusComplainRequest(decode(doc)?),
        "TxnStatusComplainResponse" => AnyMessage::TxnStatusComplainResponse(decode(doc)?),
        other => return Err(XmlError::UnknownMessage(other.to_string())),
    })
}

/// Reads an unsigned document as whichever message its root element names.
pub fn parse_any(xml: &str) -> Result<AnyMessage, XmlError> {
    decode_any(&dom::parse(xml)?)
}
