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
//! | [`BillValidationRequest`] | `BillValidationRequest.xsd` | received (signed) |
//! | [`BillValidationResponse`] | `BillValidationResponse.xsd` | sent (signed) |
//! | [`TxnStatusComplainRequest`] | `TxnStatusComplainRequest.xsd` | received (signed) |
//! | [`TxnStatusComplainResponse`] | `TxnStatusComplainResponse.xsd` | sent (signed) |
//! | [`Ack`] | `Ack.xsd` | both, unsigned |
//!
//! The transaction-status pair is NPCI's "402" API (`TxnStatusRequest` /
//! `TxnStatusResponse`, in `402Request.xsd` and `402Response.xsd`): the central unit asks
//! the biller for the outcome of a payment. `TxnStatusComplainRequest` is the "401"
//! complaint-management exchange: between a customer's operating unit and the central
//! unit in NPCI's design, and forwarded to the biller by an operating unit that hands
//! complaints on (kosh registers, tracks and answers them as the biller).

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
    /// Bill validation, by the same pattern.
    pub const VALIDATION_REQUEST: &str = "VALIDATION_REQUEST";
    pub const VALIDATION_RESPONSE: &str = "VALIDATION_RESPONSE";
    /// Complaint management ("401"), by the same pattern.
    pub const COMPLAINT_REQUEST: &str = "COMPLAINT_REQUEST";
    pub const COMPLAINT_RESPONSE: &str = "COMPLAINT_RESPONSE";
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

/// `amt` (BillValidationRequest's `Amount`): the amount the customer means to pay, paise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValidationAmount {
    #[serde(rename = "@amount", default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// Bill validation (validate-and-pay billers): does the account exist, and (with an
/// amount) may it be paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillValidationRequest {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Agent")]
    pub agent: Agent,
    #[serde(rename = "BillDetails")]
    pub bill_details: BillDetails,
    #[serde(rename = "Amount", default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<ValidationAmount>,
    #[serde(rename = "Upms", default, skip_serializing_if = "Option::is_none")]
    pub upms: Option<Upms>,
}

/// `CCF1Type` (simple content with attributes): the customer convenience fee.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ccf1Text {
    #[serde(rename = "@type")]
    pub kind: String,
    #[serde(rename = "@charges")]
    pub charges: String,
    #[serde(rename = "@GST")]
    pub gst: String,
    #[serde(rename = "@totalCharges")]
    pub total_charges: String,
    #[serde(rename = "@remarks", default, skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
    #[serde(rename = "$text", default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// The biller's answer to a validation: `000` (the account, in `AdditionalInfo`) or `200`
/// with a BVR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillValidationResponse {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Reason")]
    pub reason: Reason,
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
    #[serde(rename = "CCF1", default, skip_serializing_if = "Option::is_none")]
    pub ccf1: Option<Ccf1Text>,
}

impl BillValidationResponse {
    /// The answer to `req` (same refId), with kosh's `head`.
    pub fn for_request(req: &BillValidationRequest, head: Head, reason: Reason) -> Self {
        BillValidationResponse {
            head: Head {
                ref_id: req.head.ref_id.clone(),
                ..head
            },
            reason,
            biller_plan_response: None,
            additional_info: None,
            upms: None,
            ccf1: None,
        }
    }
}

/// `TxnStatusComplainReq`: a complaint to register (`complaintType`, `disposition`), one
/// to track (`complaintId`), or a transaction to look up (`txnReferenceId`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnStatusComplainReq {
    #[serde(rename = "@msgId")]
    pub msg_id: String,
    #[serde(
        rename = "@complaintId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub complaint_id: Option<String>,
    #[serde(
        rename = "@servReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub serv_reason: Option<String>,
    #[serde(
        rename = "@participationType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub participation_type: Option<String>,
    #[serde(rename = "@agentId", default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(rename = "@billerId", default, skip_serializing_if = "Option::is_none")]
    pub biller_id: Option<String>,
    #[serde(rename = "@mobile", default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(
        rename = "@txnReferenceId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub txn_reference_id: Option<String>,
    #[serde(rename = "@ticketId", default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(rename = "@category", default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(
        rename = "@disposition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disposition: Option<String>,
    #[serde(
        rename = "@description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "@complaintType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub complaint_type: Option<String>,
    #[serde(
        rename = "@complaintStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub complaint_status: Option<String>,
    #[serde(rename = "@assigned", default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<String>,
    #[serde(
        rename = "@superLevelEsc",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub super_level_esc: Option<String>,
    #[serde(
        rename = "@estimatedTAT",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub estimated_tat: Option<String>,
    #[serde(
        rename = "@reopenComplaint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reopen_complaint: Option<String>,
    #[serde(rename = "$text", default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// `TxnSearchDateCriteria`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnSearchDateCriteria {
    #[serde(rename = "@fromDate")]
    pub from_date: String,
    #[serde(rename = "@toDate")]
    pub to_date: String,
    #[serde(rename = "$text", default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// NPCI's complaint-management exchange ("401", CMS): complaint registration and
/// tracking, and transaction look-up, in one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnStatusComplainRequest {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "TxnStatusComplainReq")]
    pub req: TxnStatusComplainReq,
    #[serde(
        rename = "TxnSearchDateCriteria",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub date_criteria: Option<TxnSearchDateCriteria>,
}

/// One transaction of a complaint answer (`TxnDetail`; amounts in paise).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnDetail {
    #[serde(rename = "@agentId", default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(rename = "@billerId", default, skip_serializing_if = "Option::is_none")]
    pub biller_id: Option<String>,
    #[serde(rename = "@refId", default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(
        rename = "@approvalRefNum",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub approval_ref_num: Option<String>,
    #[serde(rename = "@txnReferenceId")]
    pub txn_reference_id: String,
    #[serde(rename = "@txnDate")]
    pub txn_date: String,
    #[serde(rename = "@amount")]
    pub amount: String,
    #[serde(rename = "@txnStatus")]
    pub txn_status: String,
    #[serde(
        rename = "@complianceRespCd",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compliance_resp_cd: Option<String>,
    #[serde(
        rename = "@complianceReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compliance_reason: Option<String>,
    #[serde(
        rename = "@refundedTxnAmount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub refunded_txn_amount: Option<String>,
    #[serde(
        rename = "@paymentRefId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_ref_id: Option<String>,
    #[serde(
        rename = "@billNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_number: Option<String>,
    #[serde(
        rename = "AdditionalInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_info: Option<AdditionalInfo>,
}

/// `TxnList`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnList {
    #[serde(rename = "TxnDetail", default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<TxnDetail>,
}

/// `TxnStatusComplainResp`: the complaint as it stands (or why it was not taken), and the
/// transactions it is about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnStatusComplainResp {
    #[serde(rename = "@msgId")]
    pub msg_id: String,
    #[serde(
        rename = "@complaintId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub complaint_id: Option<String>,
    #[serde(
        rename = "@description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "@openComplaint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub open_complaint: Option<String>,
    #[serde(
        rename = "@complaintStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub complaint_status: Option<String>,
    #[serde(rename = "@assigned", default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<String>,
    #[serde(
        rename = "@responseCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub response_code: Option<String>,
    #[serde(
        rename = "@responseReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub response_reason: Option<String>,
    #[serde(rename = "@remarks", default, skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
    #[serde(
        rename = "@txnReferenceId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub txn_reference_id: Option<String>,
    #[serde(
        rename = "@disposition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disposition: Option<String>,
    #[serde(rename = "TxnList", default)]
    pub txn_list: TxnList,
}

/// The answer to a [`TxnStatusComplainRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnStatusComplainResponse {
    #[serde(rename = "Head")]
    pub head: Head,
    #[serde(rename = "Txn")]
    pub txn: Txn,
    #[serde(rename = "TxnStatusComplainResp")]
    pub resp: TxnStatusComplainResp,
}

impl TxnStatusComplainResponse {
    /// The answer to `req`: same refId, msgId and exchange id; `resp` says the rest.
    pub fn for_request(
        req: &TxnStatusComplainRequest,
        head: Head,
        txn_ts: &str,
        resp: TxnStatusComplainResp,
    ) -> Self {
        TxnStatusComplainResponse {
            head: Head {
                ref_id: req.head.ref_id.clone(),
                ..head
            },
            txn: Txn {
                ts: txn_ts.into(),
                msg_id: req.txn.msg_id.clone(),
                xchange_id: req.txn.xchange_id.clone(),
                ..Txn::default()
            },
            resp,
        }
    }
}
