//! The messages of the biller side of BBPS, one struct per root element.
//!
//! | message | XSD | direction for kosh (biller) |
//! |---|---|---|
//! | [`BillFetchRequest`] | `BillFetchRequest.xsd` | received (signed) |
//! | [`BillFetchResponse`] | `BillFetchResponse.xsd` | sent (signed) |
//! | [`BillPaymentRequest`] | `BillPaymentRequest.xsd` | received (signed) |
//! | [`BillPaymentResponse`] | `BillPaymentResponse.xsd` | sent (signed) |
//! | [`TxnStatusRequest`] | `402Request.xsd` | received (signed) |
//! | [`TxnStatusResponse`] | `402Response.xsd` | sent (signed) |
//! | [`ReqDiagnostic`] | `ReqDiagnostic.xsd` | received (signed) |
//! | [`ResDiagnostic`] | `ResDiagnostic.xsd` | sent (signed) |
//! | [`Ack`] | `Ack.xsd` | both, unsigned |
//!
//! The transaction-status pair is NPCI's "402" API (`TxnStatusRequest` /
//! `TxnStatusResponse`, in `402Request.xsd` and `402Response.xsd`): the central unit asks
//! the biller for the outcome of a payment. `TxnStatusComplainRequest.xsd` is a different
//! API — the "401" complaint-management exchange between a customer's operating unit and
//! the central unit — which a biller neither receives nor sends.

use serde::{Deserialize, Serialize};

use super::model::*;
use crate::codes::ResponseCode;

/// A bill fetch: who is asking, and which customer's bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillFetchRequest {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Analytics", default, skip_serializing_if = "Option::is_none")]
    pub analytics: Option<Analytics>,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "Customer")]
    pub customer: Customer,
    #[serde(rename = "Agent")]
    pub agent: Agent,
    #[serde(rename = "BillDetails")]
    pub bill_details: BillDetails,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

/// The biller's answer to a fetch: the bills (`000`) or why there are none (`200` + BFR…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillFetchResponse {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Reason")]
    pub reason: Reason,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "BillDetails")]
    pub bill_details: BillDetails,
    #[serde(
        rename = "BillerResponse",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub biller_responses: Vec<BillerResponse>,
    #[serde(
        rename = "BillerPlanResponse",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub biller_plan_response: Option<BillerPlanResponse>,
    #[serde(
        rename = "AdditionalInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_info: Option<AdditionalInfo>,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

/// A payment to post against a customer's bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillPaymentRequest {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Analytics", default, skip_serializing_if = "Option::is_none")]
    pub analytics: Option<Analytics>,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "Customer")]
    pub customer: Customer,
    #[serde(rename = "Agent")]
    pub agent: Agent,
    #[serde(rename = "BillDetails")]
    pub bill_details: BillDetails,
    #[serde(rename = "BillerCategory")]
    pub biller_category: BillerCategory,
    #[serde(
        rename = "PlanDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub plan_details: Option<PlanDetails>,
    /// The fetched bill, echoed.
    #[serde(
        rename = "BillerResponse",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub biller_responses: Vec<BillerResponse>,
    #[serde(
        rename = "AdditionalInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_info: Option<AdditionalInfo>,
    #[serde(rename = "PaymentMethod")]
    pub payment_method: PaymentMethod,
    #[serde(rename = "Amount")]
    pub amount: Amount,
    #[serde(rename = "PaymentInformation")]
    pub payment_information: PaymentInformation,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

impl BillPaymentRequest {
    /// The BBPS transaction reference (checked present by the profile).
    pub fn txn_reference_id(&self) -> &str {
        self.txn.txn_reference_id.as_deref().unwrap_or_default()
    }

    /// `true` for a `REVERSAL TYPE REQUEST`.
    pub fn is_reversal(&self) -> bool {
        self.txn.kind.as_deref() == Some(txn_type::REVERSAL_REQUEST)
    }
}

/// The biller's answer to a payment: posted (`000` + approval reference) or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillPaymentResponse {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Reason")]
    pub reason: Reason,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "BillDetails")]
    pub bill_details: BillDetails,
    #[serde(
        rename = "BillerResponse",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub biller_responses: Vec<BillerResponse>,
    #[serde(
        rename = "BillerPlanResponse",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub biller_plan_response: Option<BillerPlanResponse>,
    #[serde(
        rename = "AdditionalInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_info: Option<AdditionalInfo>,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

/// "402": the outcome of a payment, asked by transaction reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnStatusRequest {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "TxnStatusReq")]
    pub txn_status_req: TxnStatusReq,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

/// "402" answer: the payment's outcome, with the bill it was for (at least one
/// `BillerResponse`, as the XSD requires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnStatusResponse {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Reason")]
    pub reason: Reason,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "BillDetails")]
    pub bill_details: BillDetails,
    #[serde(rename = "BillerResponse", default)]
    pub biller_responses: Vec<BillerResponse>,
    #[serde(
        rename = "BillerPlanResponse",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub biller_plan_response: Option<BillerPlanResponse>,
    #[serde(
        rename = "AdditionalInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_info: Option<AdditionalInfo>,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

/// Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReqDiagnostic {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// Heartbeat answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResDiagnostic {
    #[serde(
        rename = "@responseReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub response_reason: Option<String>,
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(
        rename = "errorMessages",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub error_messages: Vec<ErrorMessage>,
}

/// `Ack@RspCd` when the message was taken in (the value NPCI's simulators send).
pub const ACK_ACCEPTED: &str = "Successful";
/// `Ack@RspCd` when it was refused; `errorMessages` say why.
pub const ACK_REJECTED: &str = "Failure";

/// `Ack@api` for each message that is acknowledged.
pub mod api {
    pub const FETCH_REQUEST: &str = "FETCH_REQUEST";
    pub const FETCH_RESPONSE: &str = "FETCH_RESPONSE";
    pub const PAYMENT_REQUEST: &str = "PAYMENT_REQUEST";
    pub const PAYMENT_RESPONSE: &str = "PAYMENT_RESPONSE";
    /// Not in the public samples; kosh's name for the 402 request, by the same pattern.
    pub const TXN_STATUS_REQUEST: &str = "TXN_STATUS_REQUEST";
    /// Not in the public samples; kosh's name for the 402 response, by the same pattern.
    pub const TXN_STATUS_RESPONSE: &str = "TXN_STATUS_RESPONSE";
}

/// The synchronous receipt for every asynchronous BBPS message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ack {
    /// Which message is acknowledged ([`api`]).
    #[serde(rename = "@api", default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    #[serde(rename = "@refId", default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(rename = "@msgId", default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// [`ACK_ACCEPTED`] or [`ACK_REJECTED`].
    #[serde(rename = "@RspCd", default, skip_serializing_if = "Option::is_none")]
    pub rsp_cd: Option<String>,
    #[serde(rename = "@ts", default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        rename = "errorMessages",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub error_messages: Vec<ErrorMessage>,
}

impl Ack {
    /// The message `api` with `ref_id`/`msg_id` was taken in at `ts`.
    pub fn accepted(api: &str, ref_id: &str, msg_id: Option<&str>, ts: &str) -> Ack {
        Ack {
            api: Some(api.into()),
            ref_id: Some(ref_id.into()),
            msg_id: msg_id.map(Into::into),
            rsp_cd: Some(ACK_ACCEPTED.into()),
            ts: Some(ts.into()),
            id: None,
            error_messages: Vec::new(),
        }
    }

    /// The message was refused, for the reasons in `errors`.
    pub fn rejected(
        api: &str,
        ref_id: &str,
        msg_id: Option<&str>,
        ts: &str,
        errors: Vec<ErrorMessage>,
    ) -> Ack {
        Ack {
            rsp_cd: Some(ACK_REJECTED.into()),
            error_messages: errors,
            ..Ack::accepted(api, ref_id, msg_id, ts)
        }
    }

    /// `true` when the peer took the message in.
    pub fn is_accepted(&self) -> bool {
        self.rsp_cd.as_deref() == Some(ACK_ACCEPTED) && self.error_messages.is_empty()
    }
}

impl BillFetchResponse {
    /// The response to `req`, echoing its refId, msgId and bill details, with kosh's
    /// `head` (kosh's `origInst`, the time now).
    pub fn for_request(req: &BillFetchRequest, head: Head, txn_ts: &str, reason: Reason) -> Self {
        BillFetchResponse {
            head: Head {
                ref_id: req.head.ref_id.clone(),
                ..head
            },
            reason,
            txn: Txn {
                ts: txn_ts.into(),
                msg_id: req.txn.msg_id.clone(),
                ..Txn::default()
            },
            bill_details: req.bill_details.clone(),
            biller_responses: Vec::new(),
            biller_plan_response: None,
            additional_info: None,
            upms: None,
        }
    }
}

impl BillPaymentResponse {
    /// The response to `req`: echoes refId, msgId, txnReferenceId, paymentRefId and the
    /// bill details, with `Txn@type` the response of the request's type.
    pub fn for_request(req: &BillPaymentRequest, head: Head, txn_ts: &str, reason: Reason) -> Self {
        let kind = if req.is_reversal() {
            txn_type::REVERSAL_RESPONSE
        } else {
            txn_type::FORWARD_RESPONSE
        };
        BillPaymentResponse {
            head: Head {
                ref_id: req.head.ref_id.clone(),
                ..head
            },
            reason,
            txn: Txn {
                ts: txn_ts.into(),
                kind: Some(kind.into()),
                msg_id: req.txn.msg_id.clone(),
                txn_reference_id: req.txn.txn_reference_id.clone(),
                payment_ref_id: req.txn.payment_ref_id.clone(),
                ..Txn::default()
            },
            bill_details: req.bill_details.clone(),
            biller_responses: Vec::new(),
            biller_plan_response: None,
            additional_info: None,
            upms: None,
        }
    }
}

impl TxnStatusResponse {
    /// The answer to a 402 request: echoes refId, the asked transaction reference and
    /// msgId; `bill_details` and `biller_responses` describe the payment found.
    pub fn for_request(
        req: &TxnStatusRequest,
        head: Head,
        txn_ts: &str,
        reason: Reason,
        bill_details: BillDetails,
        biller_responses: Vec<BillerResponse>,
    ) -> Self {
        TxnStatusResponse {
            head: Head {
                ref_id: req.head.ref_id.clone(),
                ..head
            },
            reason,
            txn: Txn {
                ts: txn_ts.into(),
                msg_id: req
                    .txn_status_req
                    .msg_id
                    .clone()
                    .or_else(|| req.txn.msg_id.clone()),
                txn_reference_id: Some(req.txn_status_req.txn_reference_id.clone()),
                ..Txn::default()
            },
            bill_details,
            biller_responses,
            biller_plan_response: None,
            additional_info: None,
            upms: None,
        }
    }
}

impl ResDiagnostic {
    /// The heartbeat answer to `req`: same refId, `responseReason` "Successful".
    pub fn for_request(req: &ReqDiagnostic, head: Head) -> Self {
        ResDiagnostic {
            response_reason: Some(ResponseCode::Success.reason().into()),
            head: Head {
                ref_id: req.head.ref_id.clone(),
                ..head
            },
            error_messages: Vec::new(),
        }
    }
}
