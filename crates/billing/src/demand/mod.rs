//! Demands: what a payer owes for one consumer code, business service and tax period, as
//! amounts per tax head (demand details). A demand detail's `collection_amount` only moves
//! with payments ([`crate::payment`]); its `tax_amount` with demand updates.

pub mod api;
pub mod audit;
pub mod input;
pub mod store;
pub mod validate;

use kosh_identity::users::User;
use kosh_platform::money::rupees_json;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemandStatus {
    Active,
    Cancelled,
    Adjusted,
}

impl DemandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DemandStatus::Active => "ACTIVE",
            DemandStatus::Cancelled => "CANCELLED",
            DemandStatus::Adjusted => "ADJUSTED",
        }
    }

    /// DIGIT reads the status in any letter case.
    pub fn parse(text: &str) -> Option<DemandStatus> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(DemandStatus::Active),
            "CANCELLED" => Some(DemandStatus::Cancelled),
            "ADJUSTED" => Some(DemandStatus::Adjusted),
            _ => None,
        }
    }
}

/// Who created a record and who changed it last, and when (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub created_by: String,
    pub created_ms: i64,
    pub last_modified_by: String,
    pub last_modified_ms: i64,
}

impl Audit {
    pub fn new(by: &str, now_ms: i64) -> Audit {
        Audit {
            created_by: by.to_string(),
            created_ms: now_ms,
            last_modified_by: by.to_string(),
            last_modified_ms: now_ms,
        }
    }

    pub fn touched(&self, by: &str, now_ms: i64) -> Audit {
        Audit {
            last_modified_by: by.to_string(),
            last_modified_ms: now_ms,
            ..self.clone()
        }
    }

    /// DIGIT's `AuditDetails`.
    pub fn json(&self) -> Value {
        json!({
            "createdBy": self.created_by,
            "lastModifiedBy": self.last_modified_by,
            "createdTime": self.created_ms,
            "lastModifiedTime": self.last_modified_ms,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub id: String,
    pub tenant_id: String,
    pub consumer_code: String,
    pub consumer_type: String,
    pub business_service: String,
    /// The payer's user uuid.
    pub payer: Option<String>,
    pub tax_period_from: i64,
    pub tax_period_to: i64,
    /// Paise.
    pub minimum_amount_payable: i64,
    pub bill_expiry_time: Option<i64>,
    pub fixed_bill_expiry_date: Option<i64>,
    pub status: DemandStatus,
    pub is_payment_completed: bool,
    pub additional_details: Option<Value>,
    pub audit: Audit,
    pub details: Vec<DemandDetail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemandDetail {
    pub id: String,
    pub demand_id: String,
    pub tenant_id: String,
    pub tax_head_code: String,
    /// Paise; negative for rebates, exemptions and advance.
    pub tax_amount: i64,
    /// Paise collected against `tax_amount` by payments.
    pub collection_amount: i64,
    pub additional_details: Option<Value>,
    pub audit: Audit,
}

impl Demand {
    /// Paise still owed: Σ(tax − collection).
    pub fn outstanding(&self) -> i64 {
        self.details
            .iter()
            .map(|d| d.tax_amount - d.collection_amount)
            .sum()
    }

    /// Whether payments have collected every tax head (DIGIT: Σtax == Σcollection).
    pub fn fully_collected(&self) -> bool {
        self.outstanding() == 0
    }

    /// The demand in DIGIT's JSON, with the payer's user when known.
    pub fn to_json(&self, payer: Option<&User>) -> Value {
        let payer = match (payer, &self.payer) {
            (Some(user), _) => crate::payer::demand_json(user),
            (None, Some(uuid)) => json!({ "uuid": uuid }),
            (None, None) => Value::Null,
        };
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "consumerCode": self.consumer_code,
            "consumerType": self.consumer_type,
            "businessService": self.business_service,
            "payer": payer,
            "taxPeriodFrom": self.tax_period_from,
            "taxPeriodTo": self.tax_period_to,
            "demandDetails": self.details.iter().map(DemandDetail::to_json).collect::<Vec<_>>(),
            "auditDetails": self.audit.json(),
            "fixedBillExpiryDate": self.fixed_bill_expiry_date,
            "billExpiryTime": self.bill_expiry_time,
            "additionalDetails": self.additional_details,
            "minimumAmountPayable": rupees_json(self.minimum_amount_payable),
            "isPaymentCompleted": self.is_payment_completed,
            "status": self.status.as_str(),
        })
    }
}

impl DemandDetail {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "demandId": self.demand_id,
            "taxHeadMasterCode": self.tax_head_code,
            "taxAmount": rupees_json(self.tax_amount),
            "collectionAmount": rupees_json(self.collection_amount),
            "additionalDetails": self.additional_details,
            "auditDetails": self.audit.json(),
            "tenantId": self.tenant_id,
        })
    }
}

/// A fresh id for a demand, detail, bill or audit row: a time-ordered UUID (version 7), so
/// new rows land at the end of the primary-key indexes instead of at random pages, which
/// keeps inserts cheap when the tables hold millions of rows (a random UUID made a
/// 1,000,000-demand import spend most of its time splitting pages). Ids are not secrets.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
