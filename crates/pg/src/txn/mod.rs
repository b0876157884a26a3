//! A payment-gateway transaction (DIGIT's `Transaction`): what a payer is about to pay through
//! a gateway, for which bills, and what became of it.
//!
//! Its status is PENDING until it settles, once, as SUCCESS (with exactly one receipt) or
//! FAILURE; a settled transaction never changes again ([`crate::service`]).

pub mod store;
pub mod wire;

use kosh_platform::money::Paise;
use kosh_platform::{AuthUser, Role};
use serde_json::{Map, Value, json};

use crate::gateways::{GatewayTxn, TxnStatus};

/// DIGIT's `txnStatusMsg` texts (PgConstants), and kosh's own for what DIGIT does not do.
pub mod msg {
    pub const INITIATED: &str = "Transaction initiated";
    pub const SUCCESSFUL: &str = "Transaction successful";
    pub const FAILED_AT_GATEWAY: &str = "Transaction failed at gateway";
    /// kosh: the gateway has no record of a transaction old enough to have reached it. It is
    /// closed (its bills freed) but not failed: a later confirmation still settles it.
    pub const CLOSED_NO_RECORD: &str = "Transaction closed, the gateway has no record of it; a payment the gateway confirms later will still be receipted or refunded";
    /// kosh: the gateway confirmed the money after the bills had been paid by another
    /// channel; followed by the refund due's notice.
    pub const REFUND_DUE: &str = "Transaction successful, but the bill had already been paid by another channel: the money is a";
    /// kosh: no redirect could be obtained, so the payer never reached the gateway.
    pub const REDIRECT_FAILED: &str = "Transaction failed, the gateway could not be reached";
    /// kosh: the gateway says it took a different amount; kept PENDING for review.
    pub const AMOUNT_MISMATCH: &str = "Transaction amount mismatch, held for review";
    /// kosh: the gateway says the payment is not settled yet.
    pub const PENDING_AT_GATEWAY: &str = "Transaction pending at gateway";
}

/// `txn_status` as stored.
pub fn parse_status(text: &str) -> TxnStatus {
    match text {
        "SUCCESS" => TxnStatus::Success,
        "FAILURE" => TxnStatus::Failure,
        _ => TxnStatus::Pending,
    }
}

/// One bill the transaction pays (DIGIT's `TaxAndPayment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxAndPayment {
    pub bill_id: String,
    pub tax_amount: Option<Paise>,
    pub amount_paid: Paise,
}

impl TaxAndPayment {
    pub fn to_json(&self) -> Value {
        json!({
            "taxAmount": self.tax_amount.map(Paise::rupees_json),
            "amountPaid": self.amount_paid.rupees_json(),
            "billId": self.bill_id,
        })
    }

    /// The stored form: paise, not rupees.
    fn to_stored(&self) -> Value {
        json!({"billId": self.bill_id, "taxAmount": self.tax_amount, "amountPaid": self.amount_paid})
    }

    fn from_stored(value: &Value) -> Option<TaxAndPayment> {
        Some(TaxAndPayment {
            bill_id: value.get("billId")?.as_str()?.to_string(),
            tax_amount: value
                .get("taxAmount")
                .and_then(Value::as_i64)
                .map(Paise::new),
            amount_paid: Paise::new(value.get("amountPaid")?.as_i64()?),
        })
    }
}

/// Who created the transaction (from the token) and the payer they named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnUser {
    pub id: i64,
    pub uuid: String,
    pub user_type: String,
    pub user_name: String,
    pub tenant_id: String,
    /// The payer's name, as the request gave it (the receipt's paidBy).
    pub name: String,
    pub mobile_number: String,
    pub email_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub txn_id: String,
    pub tenant_id: String,
    pub amount: Paise,
    pub status: TxnStatus,
    pub status_msg: Option<String>,
    pub gateway: String,
    pub bill_id: String,
    pub module: Option<String>,
    pub consumer_code: String,
    pub product_info: String,
    /// The client's callback URL with `eg_pg_txnid=<txnId>` appended.
    pub callback_url: String,
    pub redirect_url: Option<String>,
    pub user: TxnUser,
    pub gateway_txn_id: Option<String>,
    pub gateway_payment_mode: Option<String>,
    pub gateway_status_code: Option<String>,
    pub gateway_status_msg: Option<String>,
    /// The receipt number of the payment a SUCCESS made (of the first bill when it paid several).
    pub receipt: Option<String>,
    pub payment_id: Option<String>,
    pub tax_and_payments: Vec<TaxAndPayment>,
    /// The client's additionalDetails (an object or nothing), without kosh's additions.
    pub additional_details: Option<Value>,
    pub created_by: String,
    pub created_time: i64,
    pub last_modified_by: Option<String>,
    pub last_modified_time: i64,
    pub settled_by: Option<String>,
    pub settled_time: Option<i64>,
    /// When it was closed because the gateway had no record of it: still PENDING on the
    /// wire, its bills freed, and still settled by a later SUCCESS or FAILURE.
    pub closed_time: Option<i64>,
    /// The refund due its money became (a SUCCESS whose bills had been paid meanwhile).
    pub refund_id: Option<String>,
}

impl Transaction {
    pub fn is_settled(&self) -> bool {
        self.status != TxnStatus::Pending
    }

    /// `additionalDetails` as DIGIT answers it: the client's object with `taxAndPayments`
    /// added.
    pub fn additional_details_json(&self) -> Value {
        let mut object = match &self.additional_details {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        object.insert(
            "taxAndPayments".into(),
            Value::Array(
                self.tax_and_payments
                    .iter()
                    .map(TaxAndPayment::to_json)
                    .collect(),
            ),
        );
        Value::Object(object)
    }

    /// DIGIT's Transaction JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "tenantId": self.tenant_id,
            "txnAmount": self.amount.rupees(),
            "billId": self.bill_id,
            "module": self.module,
            "consumerCode": self.consumer_code,
            "taxAndPayments": self.tax_and_payments.iter().map(TaxAndPayment::to_json).collect::<Vec<_>>(),
            "productInfo": self.product_info,
            "gateway": self.gateway,
            "callbackUrl": self.callback_url,
            "redirectUrl": self.redirect_url,
            "txnId": self.txn_id,
            "user": {
                "uuid": self.user.uuid,
                "name": self.user.name,
                "userName": self.user.user_name,
                "mobileNumber": self.user.mobile_number,
                "emailId": self.user.email_id,
                "tenantId": self.user.tenant_id,
            },
            "txnStatus": self.status.as_str(),
            "txnStatusMsg": self.status_msg,
            "gatewayTxnId": self.gateway_txn_id,
            "gatewayPaymentMode": self.gateway_payment_mode,
            "gatewayStatusCode": self.gateway_status_code,
            "gatewayStatusMsg": self.gateway_status_msg,
            "receipt": self.receipt,
            "auditDetails": {
                "createdBy": self.created_by,
                "createdTime": self.created_time,
                "lastModifiedBy": self.last_modified_by,
                "lastModifiedTime": self.last_modified_time,
            },
            "additionalDetails": self.additional_details_json(),
        })
    }

    /// What the gateway plugins need to know.
    pub fn gateway_txn(&self) -> GatewayTxn {
        GatewayTxn {
            txn_id: self.txn_id.clone(),
            amount_paise: self.amount,
            bill_id: self.bill_id.clone(),
            consumer_code: self.consumer_code.clone(),
            product_info: self.product_info.clone(),
            payer_name: self.user.name.clone(),
            payer_user_name: self.user.user_name.clone(),
            payer_mobile: self.user.mobile_number.clone(),
            payer_email: self.user.email_id.clone(),
            callback_url: self.callback_url.clone(),
            tenant_id: self.tenant_id.clone(),
            created_time: self.created_time,
            bank_account_number: None,
        }
    }

    /// The creator, as the requester of the payment a SUCCESS makes (whoever triggered the
    /// settlement: the creator, the gateway's callback or reconciliation).
    pub fn creator(&self) -> AuthUser {
        AuthUser {
            id: self.user.id,
            uuid: self.user.uuid.clone(),
            user_name: self.user.user_name.clone(),
            name: Some(self.user.name.clone()),
            user_type: self.user.user_type.clone(),
            mobile_number: Some(self.user.mobile_number.clone()),
            email_id: self.user.email_id.clone(),
            tenant_id: self.user.tenant_id.clone(),
            roles: Vec::<Role>::new(),
        }
    }

    pub(crate) fn tax_and_payments_stored(&self) -> String {
        Value::Array(
            self.tax_and_payments
                .iter()
                .map(TaxAndPayment::to_stored)
                .collect(),
        )
        .to_string()
    }

    pub(crate) fn tax_and_payments_from_stored(text: &str) -> Vec<TaxAndPayment> {
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(TaxAndPayment::from_stored)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn() -> Transaction {
        Transaction {
            txn_id: "PB_PG_2019_06_15_000001_42".into(),
            tenant_id: "pb.amritsar".into(),
            amount: Paise::new(500_50),
            status: TxnStatus::Pending,
            status_msg: Some(msg::INITIATED.into()),
            gateway: "PAYU".into(),
            bill_id: "b1".into(),
            module: Some("PT".into()),
            consumer_code: "PT-1".into(),
            product_info: "Property tax".into(),
            callback_url: "https://ui.example/cb?eg_pg_txnid=PB_PG_2019_06_15_000001_42".into(),
            redirect_url: None,
            user: TxnUser {
                id: 7,
                uuid: "u-7".into(),
                user_type: "CITIZEN".into(),
                user_name: "9876543210".into(),
                tenant_id: "pb".into(),
                name: "Asha".into(),
                mobile_number: "9876543210".into(),
                email_id: None,
            },
            gateway_txn_id: None,
            gateway_payment_mode: None,
            gateway_status_code: None,
            gateway_status_msg: None,
            receipt: None,
            payment_id: None,
            tax_and_payments: vec![
                TaxAndPayment {
                    bill_id: "b1".into(),
                    tax_amount: Some(Paise::new(500_50)),
                    amount_paid: Paise::new(300_00),
                },
                TaxAndPayment {
                    bill_id: "b2".into(),
                    tax_amount: None,
                    amount_paid: Paise::new(200_50),
                },
            ],
            additional_details: Some(json!({"source": "ui"})),
            created_by: "u-7".into(),
            created_time: 1,
            last_modified_by: None,
            last_modified_time: 1,
            settled_by: None,
            settled_time: None,
            closed_time: None,
            refund_id: None,
        }
    }

    #[test]
    fn json_has_digits_shape() {
        let j = txn().to_json();
        assert_eq!(j["txnAmount"], "500.50");
        assert_eq!(j["taxAndPayments"][0]["amountPaid"], json!(300));
        assert_eq!(j["taxAndPayments"][1]["amountPaid"], json!(200.5));
        assert_eq!(j["taxAndPayments"][1]["taxAmount"], Value::Null);
        assert_eq!(j["additionalDetails"]["source"], "ui");
        assert_eq!(j["additionalDetails"]["taxAndPayments"][0]["billId"], "b1");
        assert_eq!(j["txnStatus"], "PENDING");
        assert_eq!(j["auditDetails"]["createdBy"], "u-7");
    }

    #[test]
    fn tax_and_payments_round_trip_in_paise() {
        let t = txn();
        let stored = t.tax_and_payments_stored();
        assert_eq!(
            Transaction::tax_and_payments_from_stored(&stored),
            t.tax_and_payments
        );
    }
}
