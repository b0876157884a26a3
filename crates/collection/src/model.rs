//! A payment and its details (one per bill, each with its receipt) as kosh keeps them, and
//! their JSON in DIGIT's shape (collection-services `Payment`, `PaymentDetail`).

use kosh_platform::money::Paise;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    pub created_by: String,
    pub created_ms: i64,
    pub last_modified_by: String,
    pub last_modified_ms: i64,
}

impl Audit {
    pub fn new(by: &str, now_ms: i64) -> Audit {
        Audit {
            created_by: by.into(),
            created_ms: now_ms,
            last_modified_by: by.into(),
            last_modified_ms: now_ms,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "createdBy": self.created_by,
            "createdTime": self.created_ms,
            "lastModifiedBy": self.last_modified_by,
            "lastModifiedTime": self.last_modified_ms,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: String,
    pub tenant_id: String,
    pub total_due: Paise,
    pub total_amount_paid: Paise,
    pub transaction_number: Option<String>,
    pub transaction_date: i64,
    pub payment_mode: String,
    pub instrument_date: Option<i64>,
    pub instrument_number: Option<String>,
    pub instrument_status: String,
    pub ifsc_code: Option<String>,
    pub additional_details: Option<Value>,
    pub paid_by: Option<String>,
    pub mobile_number: Option<String>,
    pub payer_name: Option<String>,
    pub payer_address: Option<String>,
    pub payer_email: Option<String>,
    pub payer_id: Option<String>,
    pub payment_status: String,
    pub file_store_id: Option<String>,
    pub audit: Audit,
    pub details: Vec<PaymentDetail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentDetail {
    pub id: String,
    pub tenant_id: String,
    pub payment_id: String,
    pub due: Paise,
    pub amount_paid: Paise,
    pub receipt_number: String,
    pub receipt_date: i64,
    pub receipt_type: String,
    pub business_service: String,
    pub bill_id: String,
    pub consumer_code: String,
    pub manual_receipt_number: Option<String>,
    pub manual_receipt_date: Option<i64>,
    pub additional_details: Option<Value>,
    /// The bill as it was paid (DIGIT's Bill of collection), JSON.
    pub bill: Value,
    /// The payment stands (not cancelled or dishonoured).
    pub live: bool,
    pub audit: Audit,
}

impl Payment {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "totalDue": self.total_due.rupees_json(),
            "totalAmountPaid": self.total_amount_paid.rupees_json(),
            "transactionNumber": self.transaction_number,
            "transactionDate": self.transaction_date,
            "paymentMode": self.payment_mode,
            "instrumentDate": self.instrument_date,
            "instrumentNumber": self.instrument_number,
            "instrumentStatus": self.instrument_status,
            "ifscCode": self.ifsc_code,
            "auditDetails": self.audit.json(),
            "additionalDetails": self.additional_details,
            "paymentDetails": self.details.iter().map(PaymentDetail::to_json).collect::<Vec<_>>(),
            "paidBy": self.paid_by,
            "mobileNumber": self.mobile_number,
            "payerName": self.payer_name,
            "payerAddress": self.payer_address,
            "payerEmail": self.payer_email,
            "payerId": self.payer_id,
            "paymentStatus": self.payment_status,
            "fileStoreId": self.file_store_id,
        })
    }
}

impl PaymentDetail {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "paymentId": self.payment_id,
            "tenantId": self.tenant_id,
            "totalDue": self.due.rupees_json(),
            "totalAmountPaid": self.amount_paid.rupees_json(),
            "receiptNumber": self.receipt_number,
            "manualReceiptNumber": self.manual_receipt_number,
            "manualReceiptDate": self.manual_receipt_date,
            "receiptDate": self.receipt_date,
            "receiptType": self.receipt_type,
            "businessService": self.business_service,
            "billId": self.bill_id,
            "bill": self.bill,
            "additionalDetails": self.additional_details,
            "auditDetails": self.audit.json(),
        })
    }
}
