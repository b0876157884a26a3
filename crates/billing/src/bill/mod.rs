//! Bills: what a consumer code owes today in one business service, made from its unpaid
//! ACTIVE demands (one bill detail per demand, one account detail per tax head), valid until
//! an expiry, with the part-payment rules collection enforces.
//!
//! Status: ACTIVE when made; EXPIRED when fetch-bill finds it past its expiry or a demand
//! of its consumer code changes; CANCELLED by `_cancelbill`; PAID or PARTIALLY_PAID when
//! collection applies a payment, and back to ACTIVE or EXPIRED when the payment is reversed.

pub mod api;
pub mod cache;
pub mod cancel;
pub mod expiry;
pub mod fetch;
pub mod generate;
pub mod search;
pub mod store;

use kosh_platform::money::Paise;
use serde_json::{Value, json};

use crate::demand::Audit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillStatus {
    Active,
    Cancelled,
    Paid,
    PartiallyPaid,
    /// DIGIT defines it but never writes it; kept so stored data from DIGIT reads.
    PaymentCancelled,
    Expired,
}

impl BillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillStatus::Active => "ACTIVE",
            BillStatus::Cancelled => "CANCELLED",
            BillStatus::Paid => "PAID",
            BillStatus::PartiallyPaid => "PARTIALLY_PAID",
            BillStatus::PaymentCancelled => "PAYMENT_CANCELLED",
            BillStatus::Expired => "EXPIRED",
        }
    }

    pub fn parse(text: &str) -> Option<BillStatus> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(BillStatus::Active),
            "CANCELLED" => Some(BillStatus::Cancelled),
            "PAID" => Some(BillStatus::Paid),
            "PARTIALLY_PAID" => Some(BillStatus::PartiallyPaid),
            "PAYMENT_CANCELLED" => Some(BillStatus::PaymentCancelled),
            "EXPIRED" => Some(BillStatus::Expired),
            _ => None,
        }
    }

    /// A payment sits on the bill.
    pub fn is_paid(self) -> bool {
        matches!(self, BillStatus::Paid | BillStatus::PartiallyPaid)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub id: String,
    pub tenant_id: String,
    pub consumer_code: String,
    pub business_service: String,
    pub bill_number: Option<String>,
    pub bill_date: i64,
    /// The bill's place among its consumer code's bills: 1 for the first, and so on.
    pub seq: i64,
    pub status: BillStatus,
    /// Σ of the details' amounts.
    pub total_amount: Paise,
    /// What its payment put on the bill (advance excluded).
    pub amount_paid: Paise,
    pub user_id: Option<String>,
    pub payer_name: Option<String>,
    pub payer_address: Option<String>,
    pub payer_email: Option<String>,
    pub mobile_number: Option<String>,
    pub part_payment_allowed: bool,
    pub is_advance_allowed: bool,
    pub minimum_amount_to_be_paid: Paise,
    pub collection_modes_not_allowed: Vec<String>,
    pub additional_details: Option<Value>,
    pub file_store_id: Option<String>,
    pub payment_id: Option<String>,
    /// What was paid beyond the bill, held as advance on a demand detail.
    pub advance_amount: Paise,
    pub advance_demand_detail_id: Option<String>,
    pub audit: Audit,
    pub details: Vec<BillDetail>,
}

/// One demand's share of a bill.
#[derive(Debug, Clone, PartialEq)]
pub struct BillDetail {
    pub id: String,
    pub tenant_id: String,
    pub bill_id: String,
    pub demand_id: String,
    pub from_period: i64,
    pub to_period: i64,
    pub expiry_date: i64,
    pub amount: Paise,
    pub amount_paid: Paise,
    pub additional_details: Option<Value>,
    pub account_details: Vec<BillAccountDetail>,
}

/// One tax head of a bill detail.
#[derive(Debug, Clone, PartialEq)]
pub struct BillAccountDetail {
    pub id: String,
    pub tenant_id: String,
    pub bill_detail_id: String,
    /// The first demand detail of this tax head (DIGIT merges details of one head).
    pub demand_detail_id: String,
    pub tax_head_code: String,
    pub order: i64,
    pub amount: Paise,
    pub adjusted_amount: Paise,
    pub additional_details: Option<Value>,
}

impl Bill {
    /// Whether any detail is past its expiry at `now_ms` (DIGIT: `expiryDate < now`).
    pub fn has_expired(&self, now_ms: i64) -> bool {
        self.details.iter().any(|d| d.expiry_date < now_ms)
    }

    /// The bill in DIGIT's BillV2 JSON, with the part-payment fields collection reads.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "userId": self.user_id,
            "mobileNumber": self.mobile_number,
            "payerName": self.payer_name,
            "payerAddress": self.payer_address,
            "payerEmail": self.payer_email,
            "status": self.status.as_str(),
            "totalAmount": self.total_amount.rupees_json(),
            "amountPaid": self.amount_paid.rupees_json(),
            "businessService": self.business_service,
            "billNumber": self.bill_number,
            "billDate": self.bill_date,
            "consumerCode": self.consumer_code,
            "partPaymentAllowed": self.part_payment_allowed,
            "isAdvanceAllowed": self.is_advance_allowed,
            "minimumAmountToBePaid": self.minimum_amount_to_be_paid.rupees_json(),
            "collectionModesNotAllowed": self.collection_modes_not_allowed,
            "additionalDetails": self.additional_details,
            "billDetails": self.details.iter().map(BillDetail::to_json).collect::<Vec<_>>(),
            "tenantId": self.tenant_id,
            "fileStoreId": self.file_store_id,
            "auditDetails": self.audit.json(),
        })
    }
}

impl BillDetail {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "demandId": self.demand_id,
            "billId": self.bill_id,
            "expiryDate": self.expiry_date,
            "amount": self.amount.rupees_json(),
            "amountPaid": self.amount_paid.rupees_json(),
            "fromPeriod": self.from_period,
            "toPeriod": self.to_period,
            "additionalDetails": self.additional_details,
            "billAccountDetails": self.account_details.iter().map(BillAccountDetail::to_json).collect::<Vec<_>>(),
        })
    }
}

impl BillAccountDetail {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "billDetailId": self.bill_detail_id,
            "demandDetailId": self.demand_detail_id,
            "order": self.order,
            "amount": self.amount.rupees_json(),
            "adjustedAmount": self.adjusted_amount.rupees_json(),
            "taxHeadCode": self.tax_head_code,
            "additionalDetails": self.additional_details,
        })
    }
}
