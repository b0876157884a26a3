//! The BBPS XSDs' content models for the messages kosh accepts and sends, written out by
//! hand, and a validator that checks a parsed document against them.
//!
//! Every type below corresponds to a named or anonymous type of `BBPS-Common.xsd` or of the
//! message's own schema (the XSD names are in the comments), with the same element order,
//! `minOccurs`/`maxOccurs`, attribute `use`, and the same enumerations. The XSD constructs
//! these schemas use are few, and all of them are covered:
//!
//! - `xs:sequence` of elements with distinct names (`amountType`'s nested sequence is
//!   flattened, which accepts the same documents);
//! - attributes of type `xs:string`, an enumeration of strings, or `xs:boolean`;
//! - empty content (attributes only), element-only content, simple content (`xs:string`
//!   extended with attributes, e.g. `reasonType`), and elements of type `xs:string`;
//! - `elementFormDefault="unqualified"`: the root element is in `http://bbps.org/schema`,
//!   every element under it is in no namespace, and so are the attributes.
//!
//! As in any XSD validator, whitespace between elements, comments and processing
//! instructions are ignored in element-only content, and an attribute not declared for an
//! element is an error. `xsi:schemaLocation`/`xsi:noNamespaceSchemaLocation` are ignored as
//! schema hints. The one element outside the XSDs is the enveloped XML signature: it is
//! verified and removed by [`crate::sig`] before validation.
//!
//! The tests check these tables against the real XSDs with `xmllint` (libxml2): the same
//! documents — every sample, every message kosh writes, and a set of broken ones — must be
//! accepted or refused by both.

use std::fmt;

use crate::dom::{Element, Node, is_xml_space};

/// The BBPS namespace.
pub const BBPS_NS: &str = "http://bbps.org/schema";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The value space of an attribute.
#[derive(Debug)]
pub(crate) enum Simple {
    String,
    Boolean,
    Enum(&'static [&'static str]),
}

#[derive(Debug)]
pub(crate) struct AttrDecl {
    name: &'static str,
    required: bool,
    ty: Simple,
}

#[derive(Debug)]
pub(crate) enum Content {
    /// Attributes only.
    Empty,
    /// Character data only (`xs:string`, or `simpleContent` extending it).
    Text,
    /// A sequence of child elements.
    Elements(&'static [Particle]),
}

/// A complex type.
#[derive(Debug)]
pub(crate) struct Type {
    attrs: &'static [AttrDecl],
    content: Content,
}

/// One element of a sequence. `max: None` is `unbounded`.
#[derive(Debug)]
pub(crate) struct Particle {
    name: &'static str,
    min: u32,
    max: Option<u32>,
    ty: &'static Type,
}

const fn req(name: &'static str) -> AttrDecl {
    AttrDecl {
        name,
        required: true,
        ty: Simple::String,
    }
}
const fn opt(name: &'static str) -> AttrDecl {
    AttrDecl {
        name,
        required: false,
        ty: Simple::String,
    }
}
const fn opt_enum(name: &'static str, values: &'static [&'static str]) -> AttrDecl {
    AttrDecl {
        name,
        required: false,
        ty: Simple::Enum(values),
    }
}
const fn req_enum(name: &'static str, values: &'static [&'static str]) -> AttrDecl {
    AttrDecl {
        name,
        required: true,
        ty: Simple::Enum(values),
    }
}
/// Exactly one.
const fn one(name: &'static str, ty: &'static Type) -> Particle {
    Particle {
        name,
        min: 1,
        max: Some(1),
        ty,
    }
}
/// Zero or one.
const fn maybe(name: &'static str, ty: &'static Type) -> Particle {
    Particle {
        name,
        min: 0,
        max: Some(1),
        ty,
    }
}
/// `min` or more.
const fn many(name: &'static str, min: u32, ty: &'static Type) -> Particle {
    Particle {
        name,
        min,
        max: None,
        ty,
    }
}
const fn empty(attrs: &'static [AttrDecl]) -> Type {
    Type {
        attrs,
        content: Content::Empty,
    }
}
const fn seq(attrs: &'static [AttrDecl], particles: &'static [Particle]) -> Type {
    Type {
        attrs,
        content: Content::Elements(particles),
    }
}

// ---- simple types (BBPS-Common.xsd) ----
const YES_NO: &[&str] = &["Yes", "No"]; // siTxnType, qckPayType, spltPayType, offUsPayType
const DEVICE_TAG_NAMES: &[&str] = &[
    "MOBILE",
    "GEOCODE",
    "POSTAL_CODE",
    "IP",
    "INITIATING_CHANNEL",
    "TERMINAL_ID",
    "IMEI",
    "IFSC",
    "MAC",
    "OS",
    "APP",
]; // deviceTagNameType
const DIRECT_BILL_CHANNELS: &[&str] = &["L1QR", "L2QR", "L3QR", "L1PL", "L2PL", "L3PL"];
const PLAN_TYPES: &[&str] = &["NEW", "EXISTING", "RECOMMENDED", "CURATED", "ACTIVATED"];
const UPMS_TXN_TYPES: &[&str] = &[
    "PRESENTMENT_REGISTRATION",
    "BILL_PRESENTMENT",
    "BILL_PAYMENT",
];

// ---- complex types (BBPS-Common.xsd) ----
/// An element of type `xs:string`.
static STRING: Type = Type {
    attrs: &[],
    content: Content::Text,
};
/// headType
static HEAD: Type = empty(&[
    req("ver"),
    req("ts"),
    req("origInst"),
    req("refId"),
    opt("origRefId"),
    opt("orderConfirmationId"),
    opt_enum("siTxn", YES_NO),
    opt("callbackEndpointIP"),
    opt("response"),
]);
/// The anonymous `Tag` with required name and value (analytics, customer, params, …).
static NAME_VALUE: Type = empty(&[req("name"), req("value")]);
/// analyticsType
static ANALYTICS: Type = seq(
    &[],
    &[Particle {
        name: "Tag",
        min: 2,
        max: Some(2),
        ty: &NAME_VALUE,
    }],
);
/// riskScoresType/Score
static SCORE: Type = empty(&[req("provider"), req("type"), req("value")]);
/// riskScoresType
static RISK_SCORES: Type = seq(&[], &[many("Score", 0, &SCORE)]);
/// txnType
static TXN: Type = seq(
    &[
        req("ts"),
        opt("type"),
        opt("msgId"),
        opt("txnReferenceId"),
        opt("xchangeId"),
        opt_enum("directBillChannel", DIRECT_BILL_CHANNELS),
        opt("directBillContentId"),
        opt("paymentRefId"),
        opt("tId"),
    ],
    &[maybe("RiskScores", &RISK_SCORES)],
);
/// customerDtlsType
static CUSTOMER: Type = seq(&[req("mobile")], &[many("Tag", 0, &NAME_VALUE)]);
/// deviceType/Tag
static DEVICE_TAG: Type = empty(&[req_enum("name", DEVICE_TAG_NAMES), req("value")]);
/// deviceType
static DEVICE: Type = seq(&[], &[many("Tag", 1, &DEVICE_TAG)]);
/// agentType
static AGENT: Type = seq(&[req("id")], &[one("Device", &DEVICE)]);
/// billerType
static BILLER: Type = empty(&[req("id")]);
/// customerParamsType
static CUSTOMER_PARAMS: Type = seq(&[], &[many("Tag", 1, &NAME_VALUE)]);
/// billDetailsType
static BILL_DETAILS: Type = seq(
    &[],
    &[
        one("Biller", &BILLER),
        one("CustomerParams", &CUSTOMER_PARAMS),
    ],
);
/// The `Tag` of billerResponseType and amountType (an amount option).
static AMOUNT_TAG: Type = empty(&[
    req("name"),
    req("value"),
    opt("minAmount"),
    opt("maxAmount"),
    opt("amountMultiple"),
]);
/// BillerSpecificInfoType
static BILLER_SPECIFIC_INFO: Type = seq(&[], &[many("Tag", 0, &NAME_VALUE)]);
/// billerResponseType/CCF1
static CCF1: Type = empty(&[
    req("type"),
    req("charges"),
    req("GST"),
    req("totalCharges"),
    opt("remarks"),
]);
/// billerResponseType
static BILLER_RESPONSE: Type = seq(
    &[
        opt("customerName"),
        req("amount"),
        opt("dueDate"),
        opt("custConvFee"),
        opt("label"),
        opt("amountMultiple"),
        opt("minAmount"),
        opt("maxAmount"),
        opt("billDate"),
        opt("billNumber"),
        opt("billPeriod"),
        opt("billExpiry"),
    ],
    &[
        many("Tag", 0, &AMOUNT_TAG),
        Particle {
            name: "BillerSpecificInfo",
            min: 0,
            max: Some(1000),
            ty: &BILLER_SPECIFIC_INFO,
        },
        maybe("CCF1", &CCF1),
    ],
);
/// planInfoType
static PLAN_INFO: Type = seq(
    &[req_enum("type", PLAN_TYPES)],
    &[many("Tag", 1, &NAME_VALUE)],
);
/// billerPlanResponseType
static BILLER_PLAN_RESPONSE: Type = seq(
    &[],
    &[Particle {
        name: "PlanInfo",
        min: 0,
        max: Some(15),
        ty: &PLAN_INFO,
    }],
);
/// reasonType (simple content)
static REASON: Type = Type {
    attrs: &[
        req("approvalRefNum"),
        req("responseCode"),
        req("responseReason"),
        opt("complianceRespCd"),
        opt("complianceReason"),
    ],
    content: Content::Text,
};
/// additionalInfoType
static ADDITIONAL_INFO: Type = seq(&[], &[many("Tag", 0, &NAME_VALUE)]);
/// pmtMtdType
static PAYMENT_METHOD: Type = empty(&[
    opt_enum("quickPay", YES_NO),
    opt_enum("splitPay", YES_NO),
    opt_enum("OFFUSPay", YES_NO),
    opt("paymentMode"),
]);
/// amtType
static AMT: Type = empty(&[
    opt("amount"),
    opt("custConvFee"),
    opt("currency"),
    opt("COUcustConvFee"),
    opt("billNumber"),
]);
/// billAmountType, TDSDeductedAmountType
static BILL_AMOUNT: Type = empty(&[opt("billNumber"), opt("Amount")]);
/// amtBreakUpType
static AMOUNT_BREAK_UP: Type = seq(
    &[],
    &[
        many("BillAmt", 0, &BILL_AMOUNT),
        many("TDSDeductedAmt", 0, &BILL_AMOUNT),
    ],
);
/// amountType
static AMOUNT: Type = seq(
    &[],
    &[
        one("Amt", &AMT),
        one("AmountBreakUp", &AMOUNT_BREAK_UP),
        one("SplitPayAmount", &STRING),
        many("Tag", 0, &AMOUNT_TAG),
    ],
);
/// pymntInfType
static PAYMENT_INFORMATION: Type = seq(&[], &[many("Tag", 1, &NAME_VALUE)]);
/// billerCategoryType
static BILLER_CATEGORY: Type = empty(&[req("category")]);
/// planDetailType
static PLAN_DETAIL: Type = seq(
    &[req_enum("type", PLAN_TYPES), req("Id")],
    &[many("Tag", 1, &NAME_VALUE)],
);
/// planDetailsType
static PLAN_DETAILS: Type = seq(&[], &[many("PlanDetail", 1, &PLAN_DETAIL)]);
/// upmsType
static UPMS: Type = empty(&[
    opt_enum("txnType", UPMS_TXN_TYPES),
    opt("cprn"),
    opt("bprn"),
    AttrDecl {
        name: "isBulk",
        required: false,
        ty: Simple::Boolean,
    },
]);
/// errorMessage
static ERROR_MESSAGE: Type = seq(&[], &[one("errorCd", &STRING), one("errorDtl", &STRING)]);
/// TxnStatusReq (402Request.xsd, simple content)
static TXN_STATUS_REQ: Type = Type {
    attrs: &[opt("msgId"), req("txnReferenceId")],
    content: Content::Text,
};

// ---- message types ----
/// BillFetchRequestType (BillFetchRequest.xsd)
pub(crate) static BILL_FETCH_REQUEST: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        maybe("Analytics", &ANALYTICS),
        one("Txn", &TXN),
        one("Customer", &CUSTOMER),
        one("Agent", &AGENT),
        one("BillDetails", &BILL_DETAILS),
        maybe("Upms", &UPMS),
    ],
);
/// BillFetchResponseType (BillFetchResponse.xsd)
pub(crate) static BILL_FETCH_RESPONSE: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Reason", &REASON),
        one("Txn", &TXN),
        one("BillDetails", &BILL_DETAILS),
        many("BillerResponse", 0, &BILLER_RESPONSE),
        maybe("BillerPlanResponse", &BILLER_PLAN_RESPONSE),
        maybe("AdditionalInfo", &ADDITIONAL_INFO),
        maybe("Upms", &UPMS),
    ],
);
/// BillPaymentRequestType (BillPaymentRequest.xsd)
pub(crate) static BILL_PAYMENT_REQUEST: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        maybe("Analytics", &ANALYTICS),
        one("Txn", &TXN),
        one("Customer", &CUSTOMER),
        one("Agent", &AGENT),
        one("BillDetails", &BILL_DETAILS),
        one("BillerCategory", &BILLER_CATEGORY),
        maybe("PlanDetails", &PLAN_DETAILS),
        many("BillerResponse", 0, &BILLER_RESPONSE),
        maybe("AdditionalInfo", &ADDITIONAL_INFO),
        one("PaymentMethod", &PAYMENT_METHOD),
        one("Amount", &AMOUNT),
        one("PaymentInformation", &PAYMENT_INFORMATION),
        maybe("Upms", &UPMS),
    ],
);
/// BillPaymentResponseType (BillPaymentResponse.xsd)
pub(crate) static BILL_PAYMENT_RESPONSE: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Reason", &REASON),
        one("Txn", &TXN),
        one("BillDetails", &BILL_DETAILS),
        many("BillerResponse", 0, &BILLER_RESPONSE),
        maybe("BillerPlanResponse", &BILLER_PLAN_RESPONSE),
        maybe("AdditionalInfo", &ADDITIONAL_INFO),
        maybe("Upms", &UPMS),
    ],
);
/// TxnStatusRequest (402Request.xsd)
pub(crate) static TXN_STATUS_REQUEST: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Txn", &TXN),
        one("TxnStatusReq", &TXN_STATUS_REQ),
        maybe("Upms", &UPMS),
    ],
);
/// TxnStatusResponse (402Response.xsd)
pub(crate) static TXN_STATUS_RESPONSE: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Reason", &REASON),
        one("Txn", &TXN),
        one("BillDetails", &BILL_DETAILS),
        many("BillerResponse", 1, &BILLER_RESPONSE),
        maybe("BillerPlanResponse", &BILLER_PLAN_RESPONSE),
        maybe("AdditionalInfo", &ADDITIONAL_INFO),
        maybe("Upms", &UPMS),
    ],
);
/// ReqDiagnosticType (ReqDiagnostic.xsd)
pub(crate) static REQ_DIAGNOSTIC: Type =
    seq(&[], &[one("Head", &HEAD), maybe("mediaType", &STRING)]);
/// ResDiagnosticType (ResDiagnostic.xsd)
pub(crate) static RES_DIAGNOSTIC: Type = seq(
    &[opt("responseReason")],
    &[one("Head", &HEAD), many("errorMessages", 0, &ERROR_MESSAGE)],
);
/// amt (BBPS-Common.xsd): BillValidationRequest's Amount
static AMT_VALIDATION: Type = empty(&[opt("amount")]);
/// CCF1Type (BBPS-Common.xsd, simple content)
static CCF1_TEXT: Type = Type {
    attrs: &[
        req("type"),
        req("charges"),
        req("GST"),
        req("totalCharges"),
        opt("remarks"),
    ],
    content: Content::Text,
};
/// BillValidationRequestType (BillValidationRequest.xsd)
pub(crate) static BILL_VALIDATION_REQUEST: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Agent", &AGENT),
        one("BillDetails", &BILL_DETAILS),
        maybe("Amount", &AMT_VALIDATION),
        maybe("Upms", &UPMS),
    ],
);
/// BillValidationResponseType (BillValidationResponse.xsd)
pub(crate) static BILL_VALIDATION_RESPONSE: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Reason", &REASON),
        maybe("BillerPlanResponse", &BILLER_PLAN_RESPONSE),
        maybe("AdditionalInfo", &ADDITIONAL_INFO),
        maybe("Upms", &UPMS),
        maybe("CCF1", &CCF1_TEXT),
    ],
);
/// TxnStatusComplainReq (TxnStatusComplainRequest.xsd, simple content)
static TXN_STATUS_COMPLAIN_REQ: Type = Type {
    attrs: &[
        req("msgId"),
        opt("complaintId"),
        opt("servReason"),
        opt("participationType"),
        opt("agentId"),
        opt("billerId"),
        opt("mobile"),
        opt("txnReferenceId"),
        opt("ticketId"),
        opt("category"),
        opt("disposition"),
        opt("description"),
        opt("complaintType"),
        opt("complaintStatus"),
        opt("assigned"),
        opt("superLevelEsc"),
        opt("estimatedTAT"),
        opt("reopenComplaint"),
    ],
    content: Content::Text,
};
/// TxnSearchDateCriteria (TxnStatusComplainRequest.xsd, simple content)
static TXN_SEARCH_DATE_CRITERIA: Type = Type {
    attrs: &[req("fromDate"), req("toDate")],
    content: Content::Text,
};
/// TxnStatusComplainRequest (TxnStatusComplainRequest.xsd)
pub(crate) static TXN_STATUS_COMPLAIN_REQUEST: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Txn", &TXN),
        one("TxnStatusComplainReq", &TXN_STATUS_COMPLAIN_REQ),
        maybe("TxnSearchDateCriteria", &TXN_SEARCH_DATE_CRITERIA),
    ],
);
/// TxnDetail (TxnStatusComplainResponse.xsd)
static TXN_DETAIL: Type = seq(
    &[
        opt("agentId"),
        opt("billerId"),
        opt("refId"),
        opt("approvalRefNum"),
        req("txnReferenceId"),
        opt("mti"),
        req("txnDate"),
        req("amount"),
        req("txnStatus"),
        opt("complianceRespCd"),
        opt("complianceReason"),
        opt("disputeId"),
        opt("disputeDate"),
        opt("disputeType"),
        opt("disputeStatus"),
        opt("disputeAmount"),
        opt("caId"),
        opt("caDate"),
        opt("caStatus"),
        opt("caAmount"),
        opt("caPenalty"),
        opt("fpId"),
        opt("fpInitiatedDate"),
        opt("fpStatus"),
        opt("fpClosureDate"),
        opt("refundedTxnAmount"),
        opt("paymentRefId"),
        opt("billNumber"),
    ],
    &[maybe("AdditionalInfo", &ADDITIONAL_INFO)],
);
/// TxnList (TxnStatusComplainResponse.xsd)
static TXN_LIST: Type = seq(&[], &[many("TxnDetail", 0, &TXN_DETAIL)]);
/// TicketDetails (TxnStatusComplainResponse.xsd)
static TICKET_DETAILS: Type = empty(&[
    opt("ticketId"),
    opt("ticketType"),
    opt("description"),
    opt("ticketStatus"),
    opt("ticketInitiatedDate"),
    opt("ticketClosureDate"),
    opt("ticketEstimatedTat"),
    opt("refundedTxnAmount"),
    opt("refundedPenaltyAmount"),
]);
/// Tickets (TxnStatusComplainResponse.xsd)
static TICKETS: Type = seq(&[], &[many("TicketDetails", 0, &TICKET_DETAILS)]);
/// CreditAdjustments (TxnStatusComplainResponse.xsd)
static CREDIT_ADJUSTMENTS: Type = empty(&[
    opt("caId"),
    opt("caInitiatedDate"),
    opt("caStatus"),
    opt("caClosureDate"),
    opt("refundedTxnAmount"),
    opt("refundedPenaltyAmount"),
]);
/// ForcePaymentDetails (TxnStatusComplainResponse.xsd)
static FORCE_PAYMENT_DETAILS: Type = empty(&[
    opt("fpId"),
    opt("fpInitiatedDate"),
    opt("fpStatus"),
    opt("fpClosureDate"),
    opt("refundedTxnAmount"),
]);
/// CustomerDetails (TxnStatusComplainResponse.xsd)
static CUSTOMER_DETAILS: Type = empty(&[req("mobile")]);
/// TxnStatusComplainResp (TxnStatusComplainResponse.xsd). The XSD declares `description`
/// twice (libxml2 refuses such a schema); it is one attribute here.
static TXN_STATUS_COMPLAIN_RESP: Type = seq(
    &[
        req("msgId"),
        opt("complaintId"),
        opt("description"),
        opt("openComplaint"),
        opt("reopenComplaint"),
        opt("complaintStatus"),
        opt("assigned"),
        opt("responseCode"),
        opt("responseReason"),
        opt("remarks"),
        opt("txnReferenceId"),
        opt("disposition"),
        opt("billNumber"),
    ],
    &[
        one("TxnList", &TXN_LIST),
        maybe("Tickets", &TICKETS),
        maybe("CreditAdjustments", &CREDIT_ADJUSTMENTS),
        maybe("ForcePaymentDetails", &FORCE_PAYMENT_DETAILS),
        maybe("CustomerDetails", &CUSTOMER_DETAILS),
    ],
);
/// TxnStatusComplainResponse (TxnStatusComplainResponse.xsd)
pub(crate) static TXN_STATUS_COMPLAIN_RESPONSE: Type = seq(
    &[],
    &[
        one("Head", &HEAD),
        one("Txn", &TXN),
        one("TxnStatusComplainResp", &TXN_STATUS_COMPLAIN_RESP),
    ],
);
/// Ack (Ack.xsd)
pub(crate) static ACK: Type = seq(
    &[
        opt("api"),
        opt("refId"),
        opt("msgId"),
        opt("RspCd"),
        opt("ts"),
        opt("id"),
    ],
    &[many("errorMessages", 0, &ERROR_MESSAGE)],
);

/// One way a document breaks the schema, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where: `/BillPaymentRequest/Amount/Amt/@amount`, with `[n]` (1-based) on elements
    /// that may repeat.
    pub path: String,
    pub fault: Fault,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The root element is not the message expected.
    WrongRoot { expected: String, found: String },
    /// The root element is not in the BBPS namespace.
    RootNamespace { found: Option<String> },
    /// A child element is in a namespace; BBPS children are unqualified.
    QualifiedElement { ns: String },
    /// An element that the content model does not allow here.
    UnexpectedElement { found: String, model: String },
    /// A required element is absent.
    MissingElement {
        name: &'static str,
        found: Option<String>,
    },
    /// An element occurs more often than `maxOccurs`.
    TooMany { name: &'static str, max: u32 },
    /// A required attribute is absent.
    MissingAttribute { name: &'static str },
    /// An attribute that is not declared for the element.
    UnknownAttribute { name: String },
    /// A value outside an enumeration.
    NotInEnumeration {
        attribute: &'static str,
        value: String,
        allowed: &'static [&'static str],
    },
    /// Not an `xs:boolean`.
    NotBoolean {
        attribute: &'static str,
        value: String,
    },
    /// Character data where only elements (or nothing) may be.
    TextNotAllowed { text: String },
    /// A child element in an element whose content is text.
    ElementNotAllowed { name: String },
    /// A rule of kosh's profile (see [`crate::xml::profile`]) rather than of the XSD.
    Profile(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::WrongRoot { expected, found } => {
                write!(f, "root element is {found}, expected {expected}")
            }
            Fault::RootNamespace { found: None } => {
                write!(f, "root element is in no namespace, expected {BBPS_NS}")
            }
            Fault::RootNamespace { found: Some(ns) } => {
                write!(f, "root element is in namespace {ns}, expected {BBPS_NS}")
            }
            Fault::QualifiedElement { ns } => write!(
                f,
                "element is in namespace {ns}; elements inside a BBPS message are unqualified (no namespace, no default xmlns)"
            ),
            Fault::UnexpectedElement { found, model } => {
                write!(f, "element {found} is not allowed here (expected: {model})")
            }
            Fault::MissingElement { name, found: None } => {
                write!(f, "required element {name} is missing")
            }
            Fault::MissingElement {
                name,
                found: Some(found),
            } => write!(
                f,
                "required element {name} is missing (found {found} instead)"
            ),
            Fault::TooMany { name, max } => {
                write!(f, "element {name} occurs more than {max} time(s)")
            }
            Fault::MissingAttribute { name } => write!(f, "required attribute {name} is missing"),
            Fault::UnknownAttribute { name } => write!(f, "attribute {name} is not allowed"),
            Fault::NotInEnumeration {
                attribute,
                value,
                allowed,
            } => write!(
                f,
                "attribute {attribute} = {value:?} is not one of {}",
                allowed.join(", ")
            ),
            Fault::NotBoolean { attribute, value } => {
                write!(f, "attribute {attribute} = {value:?} is not a boolean")
            }
            Fault::TextNotAllowed { text } => {
                write!(f, "text {text:?} is not allowed in this element")
            }
            Fault::ElementNotAllowed { name } => {
                write!(
                    f,
                    "element {name} is not allowed: this element holds text only"
                )
            }
            Fault::Profile(msg) => f.write_str(msg),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.fault)
    }
}

/// Validates `root` as the message `name` of type `ty`. Returns every violation found
/// (content-model checking of an element stops at its first fault, as the rest would
/// only be consequences).
pub(crate) fn validate_root(root: &Element, name: &str, ty: &Type) -> Vec<Violation> {
    let mut out = Vec::new();
    let path = format!("/{}", root.local);
    if root.local != name {
        out.push(Violation {
            path,
            fault: Fault::WrongRoot {
                expected: name.to_string(),
                found: root.qname(),
            },
        });
        return out;
    }
    if root.ns.as_deref() != Some(BBPS_NS) {
        out.push(Violation {
            path: path.clone(),
            fault: Fault::RootNamespace {
                found: root.ns.clone(),
            },
        });
        return out;
    }
    validate_element(root, ty, &path, &mut out);
    out
}

fn validate_element(el: &Element, ty: &Type, path: &str, out: &mut Vec<Violation>) {
    // Attributes.
    for a in &el.attrs {
        match a.ns.as_deref() {
            None => {
                if !ty.attrs.iter().any(|d| d.name == a.local) {
                    out.push(Violation {
                        path: format!("{path}/@{}", a.local),
                        fault: Fault::UnknownAttribute {
                            name: a.local.clone(),
                        },
                    });
                }
            }
            Some(XSI_NS)
                if matches!(
                    a.local.as_str(),
                    "schemaLocation" | "noNamespaceSchemaLocation"
                ) => {}
            Some(_) => out.push(Violation {
                path: format!("{path}/@{}", a.qname()),
                fault: Fault::UnknownAttribute { name: a.qname() },
            }),
        }
    }
    for d in ty.attrs {
        let value = el.attr(d.name);
        let Some(value) = value else {
            if d.required {
                out.push(Violation {
                    path: format!("{path}/@{}", d.name),
                    fault: Fault::MissingAttribute { name: d.name },
                });
            }
            continue;
        };
        match d.ty {
            Simple::String => {}
            Simple::Enum(allowed) => {
                if !allowed.contains(&value) {
                    out.push(Violation {
                        path: format!("{path}/@{}", d.name),
                        fault: Fault::NotInEnumeration {
                            attribute: d.name,
                            value: value.to_string(),
                            allowed,
                        },
                    });
                }
            }
            Simple::Boolean => {
                if !matches!(
                    value.trim_matches(is_xml_space),
                    "true" | "false" | "1" | "0"
                ) {
                    out.push(Violation {
                        path: format!("{path}/@{}", d.name),
                        fault: Fault::NotBoolean {
                            attribute: d.name,
                            value: value.to_string(),
                        },
                    });
                }
            }
        }
    }

    // Content.
    match &ty.content {
        Content::Empty | Content::Elements(_) => {
            for n in &el.children {
                if let Node::Text(t) = n
                    && !t.chars().all(is_xml_space)
                {
                    out.push(Violation {
                        path: path.to_string(),
                        fault: Fault::TextNotAllowed {
                            text: t.trim().to_string(),
                        },
                    });
                    break;
                }
            }
        }
        Content::Text => {}
    }
    let kids: Vec<&Element> = el.child_elements().collect();
    match &ty.content {
        Content::Empty => {
            if let Some(k) = kids.first() {
                out.push(Violation {
                    path: path.to_string(),
                    fault: Fault::UnexpectedElement {
                        found: k.qname(),
                        model: "no child elements".into(),
                    },
                });
            }
        }
        Content::Text => {
            if let Some(k) = kids.first() {
                out.push(Violation {
                    path: path.to_string(),
                    fault: Fault::ElementNotAllowed { name: k.qname() },
                });
            }
        }
        Content::Elements(particles) => validate_sequence(&kids, particles, path, out),
    }
}

fn describe(particles: &[Particle]) -> String {
    particles
        .iter()
        .map(|p| {
            let suffix = match (p.min, p.max) {
                (1, Some(1)) => String::new(),
                (0, Some(1)) => "?".into(),
                (0, None) => "*".into(),
                (1, None) => "+".into(),
                (min, None) => format!("{{{min},}}"),
                (min, Some(max)) => format!("{{{min},{max}}}"),
            };
            format!("{}{suffix}", p.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn validate_sequence(
    kids: &[&Element],
    particles: &[Particle],
    path: &str,
    out: &mut Vec<Violation>,
) {
    let mut i = 0;
    for p in particles {
        let mut count = 0u32;
        while i < kids.len() && kids[i].local == p.name && kids[i].ns.is_none() {
            if p.max.is_some_and(|max| count >= max) {
                out.push(Violation {
                    path: path.to_string(),
                    fault: Fault::TooMany {
                        name: p.name,
                        max: p.max.unwrap_or_default(),
                    },
                });
                return;
            }
            count += 1;
            let child_path = if p.max == Some(1) {
                format!("{path}/{}", p.name)
            } else {
                format!("{path}/{}[{count}]", p.name)
            };
            validate_element(kids[i], p.ty, &child_path, out);
            i += 1;
        }
        if i < kids.len() && kids[i].local == p.name && kids[i].ns.is_some() {
            out.push(Violation {
                path: format!("{path}/{}", kids[i].qname()),
                fault: Fault::QualifiedElement {
                    ns: kids[i].ns.clone().unwrap_or_default(),
                },
            });
            return;
        }
        if count < p.min {
            out.push(Violation {
                path: path.to_string(),
                fault: Fault::MissingElement {
                    name: p.name,
                    found: kids.get(i).map(|k| k.qname()),
                },
            });
            return;
        }
    }
    if let Some(k) = kids.get(i) {
        let fault = match &k.ns {
            Some(ns) if particles.iter().any(|p| p.name == k.local) => {
                Fault::QualifiedElement { ns: ns.clone() }
            }
            _ => Fault::UnexpectedElement {
                found: k.qname(),
                model: describe(particles),
            },
        };
        out.push(Violation {
            path: format!("{path}/{}", k.qname()),
            fault,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::parse;

    fn check(xml: &str) -> Vec<String> {
        let doc = parse(xml).unwrap();
        validate_root(&doc.root, "ReqDiagnostic", &REQ_DIAGNOSTIC)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn names_the_element_and_the_fault() {
        let ok = r#"<b:ReqDiagnostic xmlns:b="http://bbps.org/schema"><Head ver="1.0" ts="t" origInst="BBCU" refId="R"/></b:ReqDiagnostic>"#;
        assert!(check(ok).is_empty());
        assert_eq!(
            check(
                r#"<ReqDiagnostic xmlns="http://bbps.org/schema"><Head ver="1.0" ts="t" origInst="BBCU" refId="R"/></ReqDiagnostic>"#
            ),
            [
                "/ReqDiagnostic/Head: element is in namespace http://bbps.org/schema; elements inside a BBPS message are unqualified (no namespace, no default xmlns)"
            ]
        );
        assert_eq!(
            check(
                r#"<b:ReqDiagnostic xmlns:b="http://bbps.org/schema"><Head ver="1.0" ts="t" refId="R" siTxn="Maybe" x="1"/></b:ReqDiagnostic>"#
            ),
            [
                "/ReqDiagnostic/Head/@x: attribute x is not allowed",
                "/ReqDiagnostic/Head/@origInst: required attribute origInst is missing",
                "/ReqDiagnostic/Head/@siTxn: attribute siTxn = \"Maybe\" is not one of Yes, No",
            ]
        );
        assert_eq!(
            check(
                r#"<b:ReqDiagnostic xmlns:b="http://bbps.org/schema"><mediaType/></b:ReqDiagnostic>"#
            ),
            ["/ReqDiagnostic: required element Head is missing (found mediaType instead)"]
        );
        assert_eq!(
            check(
                r#"<b:ReqDiagnostic xmlns:b="http://bbps.org/schema"><Head ver="1.0" ts="t" origInst="BBCU" refId="R"/><mediaType>xml</mediaType><mediaType/></b:ReqDiagnostic>"#
            ),
            ["/ReqDiagnostic: element mediaType occurs more than 1 time(s)"]
        );
        assert_eq!(
            check(
                r#"<b:ReqDiagnostic xmlns:b="http://bbps.org/schema"><Head ver="1.0" ts="t" origInst="BBCU" refId="R">x</Head><Txn/></b:ReqDiagnostic>"#
            ),
            [
                "/ReqDiagnostic/Head: text \"x\" is not allowed in this element",
                "/ReqDiagnostic/Txn: element Txn is not allowed here (expected: Head, mediaType?)",
            ]
        );
        assert_eq!(
            check(r#"<ReqDiagnostic><Head/></ReqDiagnostic>"#),
            ["/ReqDiagnostic: root element is in no namespace, expected http://bbps.org/schema"]
        );
        assert_eq!(
            check(r#"<b:Ack xmlns:b="http://bbps.org/schema"/>"#),
            ["/Ack: root element is b:Ack, expected ReqDiagnostic"]
        );
    }
}
