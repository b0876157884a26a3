//! The parts BBPS messages share (`BBPS-Common.xsd`), as typed values.
//!
//! Names follow the XSD exactly on the wire (serde renames); in Rust they are snake case.
//! Attributes are `String` when the XSD makes them `required`, `Option<String>` when
//! `optional`. Amounts stay strings here, as on the wire, and are read through
//! `kosh_platform::money::Paise`; [`crate::xml::profile`] checks every amount kosh relies on.
//! Field order is the XSD's sequence order, which is the order serialization writes.

use kosh_platform::money::{Paise, wire};
use serde::{Deserialize, Serialize};

use crate::codes::{ComplianceCode, ResponseCode};

/// `Yes` / `No` (`siTxnType`, `qckPayType`, `spltPayType`, `offUsPayType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum YesNo {
    Yes,
    No,
}

/// `headType`: on every message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Head {
    /// API version, `"1.0"`.
    #[serde(rename = "@ver")]
    pub ver: String,
    /// ISO-8601 time with offset (`2026-05-04T10:15:30+05:30`).
    #[serde(rename = "@ts")]
    pub ts: String,
    /// The originating institution: a 4-character OU id, or `BBCU` for the central unit.
    #[serde(rename = "@origInst")]
    pub orig_inst: String,
    /// The 35-character reference that binds a fetch to its payment end to end.
    #[serde(rename = "@refId")]
    pub ref_id: String,
    #[serde(
        rename = "@origRefId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub orig_ref_id: Option<String>,
    #[serde(
        rename = "@orderConfirmationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub order_confirmation_id: Option<String>,
    /// Fetch re-utilisation.
    #[serde(rename = "@siTxn", default, skip_serializing_if = "Option::is_none")]
    pub si_txn: Option<YesNo>,
    #[serde(
        rename = "@callbackEndpointIP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub callback_endpoint_ip: Option<String>,
    #[serde(rename = "@response", default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// A `Tag name=… value=…` pair (customer params, device, additional info, analytics, …).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@value")]
    pub value: String,
}

impl Tag {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A `Tag` that names an amount option in paise (in `BillerResponse` and `Amount`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AmountTag {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@value")]
    pub value: String,
    #[serde(
        rename = "@minAmount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_amount: Option<String>,
    #[serde(
        rename = "@maxAmount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_amount: Option<String>,
    #[serde(
        rename = "@amountMultiple",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_multiple: Option<String>,
}

/// `analyticsType`: exactly two tags (`FETCHREQUESTSTART`/`END` or `PAYREQUESTSTART`/`END`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Analytics {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

/// `riskScoresType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RiskScores {
    #[serde(rename = "Score", default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<Score>,
}

/// One risk score (`type` is `TXNRISK` in NPCI's samples).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Score {
    #[serde(rename = "@provider")]
    pub provider: String,
    #[serde(rename = "@type")]
    pub kind: String,
    #[serde(rename = "@value")]
    pub value: String,
}

/// `directBillChannelType` (BBPS QR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum DirectBillChannel {
    L1QR,
    L2QR,
    L3QR,
    L1PL,
    L2PL,
    L3PL,
}

/// `Txn@type` values (`transactionType`; the XSD types the attribute as a plain string).
pub mod txn_type {
    pub const FORWARD_REQUEST: &str = "FORWARD TYPE REQUEST";
    pub const REVERSAL_REQUEST: &str = "REVERSAL TYPE REQUEST";
    pub const FORWARD_RESPONSE: &str = "FORWARD TYPE RESPONSE";
    pub const REVERSAL_RESPONSE: &str = "REVERSAL TYPE RESPONSE";
    /// All four, as the XSD's `transactionType` enumerates them.
    pub const ALL: [&str; 4] = [
        FORWARD_REQUEST,
        REVERSAL_REQUEST,
        FORWARD_RESPONSE,
        REVERSAL_RESPONSE,
    ];
}

/// `txnType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Txn {
    #[serde(rename = "@ts")]
    pub ts: String,
    /// [`txn_type`]; mandatory on payments.
    #[serde(rename = "@type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Pairs a request with its response; mandatory for fetch and payment.
    #[serde(rename = "@msgId", default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// The BBPS transaction reference (payments): kosh's idempotency key.
    #[serde(
        rename = "@txnReferenceId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub txn_reference_id: Option<String>,
    /// CMS exchange type.
    #[serde(
        rename = "@xchangeId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xchange_id: Option<String>,
    #[serde(
        rename = "@directBillChannel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub direct_bill_channel: Option<DirectBillChannel>,
    #[serde(
        rename = "@directBillContentId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub direct_bill_content_id: Option<String>,
    /// The payment instrument's reference (e.g. UPI RRN).
    #[serde(
        rename = "@paymentRefId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_ref_id: Option<String>,
    #[serde(rename = "@tId", default, skip_serializing_if = "Option::is_none")]
    pub t_id: Option<String>,
    #[serde(
        rename = "RiskScores",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub risk_scores: Option<RiskScores>,
}

/// `customerDtlsType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    #[serde(rename = "@mobile")]
    pub mobile: String,
    /// Names from `custIdentityConstant` (EMAIL, PAN, …) by convention; the XSD does not
    /// restrict them.
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `deviceTagNameType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeviceTagName {
    Mobile,
    Geocode,
    PostalCode,
    Ip,
    InitiatingChannel,
    TerminalId,
    Imei,
    Ifsc,
    Mac,
    Os,
    App,
}

/// A device tag: the name is one of [`DeviceTagName`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTag {
    #[serde(rename = "@name")]
    pub name: DeviceTagName,
    #[serde(rename = "@value")]
    pub value: String,
}

/// `deviceType`: at least one tag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Device {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<DeviceTag>,
}

/// `agentType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Agent {
    #[serde(rename = "@id")]
    pub id: String,
    #[serde(rename = "Device")]
    pub device: Device,
}

/// `billerType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Biller {
    /// The 14-character BBPS biller id.
    #[serde(rename = "@id")]
    pub id: String,
}

/// `customerParamsType`: at least one tag; the names are the labels registered for the
/// biller ("Property ID", "Connection Number").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerParams {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

/// `billDetailsType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillDetails {
    #[serde(rename = "Biller")]
    pub biller: Biller,
    #[serde(rename = "CustomerParams")]
    pub customer_params: CustomerParams,
}

impl BillDetails {
    /// The value of the customer parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.customer_params
            .tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value.as_str())
    }
}

/// `BillerSpecificInfoType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillerSpecificInfo {
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// The customer convenience fee block of a `BillerResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ccf1 {
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
}

/// `billerResponseType`: one bill. Amounts are paise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillerResponse {
    #[serde(
        rename = "@customerName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_name: Option<String>,
    /// The bill amount in paise.
    #[serde(rename = "@amount")]
    pub amount: String,
    /// `YYYY-MM-DD`.
    #[serde(rename = "@dueDate", default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(
        rename = "@custConvFee",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cust_conv_fee: Option<String>,
    #[serde(rename = "@label", default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(
        rename = "@amountMultiple",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_multiple: Option<String>,
    #[serde(
        rename = "@minAmount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_amount: Option<String>,
    #[serde(
        rename = "@maxAmount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_amount: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(rename = "@billDate", default, skip_serializing_if = "Option::is_none")]
    pub bill_date: Option<String>,
    #[serde(
        rename = "@billNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_number: Option<String>,
    #[serde(
        rename = "@billPeriod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_period: Option<String>,
    #[serde(
        rename = "@billExpiry",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_expiry: Option<String>,
    /// Named amount options in paise ("Early Payment Amount", …).
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<AmountTag>,
    #[serde(
        rename = "BillerSpecificInfo",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub biller_specific_info: Vec<BillerSpecificInfo>,
    #[serde(rename = "CCF1", default, skip_serializing_if = "Option::is_none")]
    pub ccf1: Option<Ccf1>,
}

impl BillerResponse {
    /// A bill of `amount` paise.
    pub fn new(amount: Paise) -> BillerResponse {
        BillerResponse {
            amount: wire::paise_text(amount),
            ..BillerResponse::default()
        }
    }
}

/// `planType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanType {
    New,
    Existing,
    Recommended,
    Curated,
    Activated,
}

/// `planInfoType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInfo {
    #[serde(rename = "@type")]
    pub kind: PlanType,
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

/// `billerPlanResponseType` (prepaid plans; not used by municipal billers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillerPlanResponse {
    #[serde(rename = "PlanInfo", default, skip_serializing_if = "Vec::is_empty")]
    pub plan_info: Vec<PlanInfo>,
}

/// `reasonType`: the outcome of a fetch, payment or status request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reason {
    /// The biller's approval reference; printed on the customer's receipt.
    #[serde(rename = "@approvalRefNum")]
    pub approval_ref_num: String,
    /// `000` success, `200` failure ([`ResponseCode`]).
    #[serde(rename = "@responseCode")]
    pub response_code: String,
    #[serde(rename = "@responseReason")]
    pub response_reason: String,
    /// A [`ComplianceCode`] on failure.
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
    /// Character content (the XSD allows it; BBPS leaves it empty).
    #[serde(rename = "$text", default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

impl Reason {
    /// Success with the biller's approval reference.
    pub fn success(approval_ref_num: impl Into<String>) -> Reason {
        Reason {
            approval_ref_num: approval_ref_num.into(),
            response_code: ResponseCode::Success.code().into(),
            response_reason: ResponseCode::Success.reason().into(),
            ..Reason::default()
        }
    }

    /// Failure for `code`; the approval reference is empty (the attribute is required but
    /// there is nothing to approve).
    pub fn failure(code: ComplianceCode) -> Reason {
        Reason {
            approval_ref_num: String::new(),
            response_code: ResponseCode::Failure.code().into(),
            response_reason: ResponseCode::Failure.reason().into(),
            compliance_resp_cd: Some(code.code().into()),
            compliance_reason: Some(code.reason().into()),
            text: String::new(),
        }
    }

    /// The response code, if it is one BBPS defines.
    pub fn code(&self) -> Option<ResponseCode> {
        ResponseCode::from_code(&self.response_code)
    }

    /// The compliance code, if present and known.
    pub fn compliance(&self) -> Option<ComplianceCode> {
        self.compliance_resp_cd
            .as_deref()
            .and_then(ComplianceCode::from_code)
    }
}

/// `additionalInfoType`: free name/value pairs shown by the customer's app.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdditionalInfo {
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `pmtMtdType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// `Yes` when paid without a prior fetch.
    #[serde(rename = "@quickPay", default, skip_serializing_if = "Option::is_none")]
    pub quick_pay: Option<YesNo>,
    #[serde(rename = "@splitPay", default, skip_serializing_if = "Option::is_none")]
    pub split_pay: Option<YesNo>,
    #[serde(rename = "@OFFUSPay", default, skip_serializing_if = "Option::is_none")]
    pub off_us_pay: Option<YesNo>,
    /// BBPS's payment mode names, as its biller master data spells them: "Internet Banking",
    /// "Debit Card", "Credit Card", "Prepaid Card", "IMPS", "Cash", "UPI", "Wallet", "NEFT",
    /// "AEPS", "Account Transfer", "Bharat QR", "USSD".
    #[serde(
        rename = "@paymentMode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_mode: Option<String>,
}

/// `amtType`. Amounts are paise; the currency is `356` (INR).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Amt {
    #[serde(rename = "@amount", default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(
        rename = "@custConvFee",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cust_conv_fee: Option<String>,
    #[serde(rename = "@currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(
        rename = "@COUcustConvFee",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cou_cust_conv_fee: Option<String>,
    #[serde(
        rename = "@billNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_number: Option<String>,
}

/// `billAmountType` / `TDSDeductedAmountType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillAmount {
    #[serde(
        rename = "@billNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_number: Option<String>,
    #[serde(rename = "@Amount", default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// `amtBreakUpType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AmountBreakUp {
    #[serde(rename = "BillAmt", default, skip_serializing_if = "Vec::is_empty")]
    pub bill_amounts: Vec<BillAmount>,
    #[serde(
        rename = "TDSDeductedAmt",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tds_deducted: Vec<BillAmount>,
}

/// `amountType`: what the customer paid.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Amount {
    #[serde(rename = "Amt")]
    pub amt: Amt,
    #[serde(rename = "AmountBreakUp", default)]
    pub amount_break_up: AmountBreakUp,
    #[serde(rename = "SplitPayAmount", default)]
    pub split_pay_amount: String,
    /// The amount-option components the payer chose (names match `BillerResponse` tags).
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<AmountTag>,
}

/// `pymntInfType`: instrument details; tag names depend on the mode (`VPA`, `IFSC`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentInformation {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

/// `billerCategoryType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillerCategory {
    #[serde(rename = "@category")]
    pub category: String,
}

/// `planDetailType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDetail {
    #[serde(rename = "@type")]
    pub kind: PlanType,
    #[serde(rename = "@Id")]
    pub id: String,
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

/// `planDetailsType` (prepaid plans).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlanDetails {
    #[serde(rename = "PlanDetail", default)]
    pub plan_details: Vec<PlanDetail>,
}

/// `upmsTxnType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpmsTxnType {
    PresentmentRegistration,
    BillPresentment,
    BillPayment,
}

/// `upmsType` (bill presentment; not used by municipal billers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Upms {
    #[serde(rename = "@txnType", default, skip_serializing_if = "Option::is_none")]
    pub txn_type: Option<UpmsTxnType>,
    #[serde(rename = "@cprn", default, skip_serializing_if = "Option::is_none")]
    pub cprn: Option<String>,
    #[serde(rename = "@bprn", default, skip_serializing_if = "Option::is_none")]
    pub bprn: Option<String>,
    /// `xs:boolean` as written (`true`, `false`, `1`, `0`).
    #[serde(rename = "@isBulk", default, skip_serializing_if = "Option::is_none")]
    pub is_bulk: Option<String>,
}

/// `errorMessage` (in `Ack` and `ResDiagnostic`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorMessage {
    #[serde(rename = "errorCd")]
    pub error_cd: String,
    #[serde(rename = "errorDtl")]
    pub error_dtl: String,
}

/// `TxnStatusReq` (402 request): which transaction the central unit asks about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnStatusReq {
    #[serde(rename = "@msgId", default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    #[serde(rename = "@txnReferenceId")]
    pub txn_reference_id: String,
    #[serde(rename = "$text", default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}
