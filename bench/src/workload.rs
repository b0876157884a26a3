//! The requests the benchmark sends, in DIGIT's shapes: fetch-bill, a CASH payment of one
//! bill, the online flow (pg-service `_create`, the SANDBOX payer page, `_update`), and
//! demand `_create` with many demands in one call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kosh_bench::loader::{SERVICES, consumer_code, tenant_of};
use serde_json::{Value, json};

/// One bill fetched before a timed phase.
#[derive(Debug, Clone)]
pub struct Bill {
    pub tenant: String,
    pub service: String,
    pub code: String,
    pub id: String,
    pub amount: Value,
}

#[derive(Clone)]
pub struct Ctx {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub cities: Arc<Vec<String>>,
    /// The loader's tax period (from, to) of each of [`SERVICES`].
    pub periods: Arc<Vec<(i64, i64)>>,
}

/// The loaded demand number `n`: (tenant, service, consumer code).
pub fn demand(cities: &[String], n: u64) -> (String, String, String) {
    let (code, service) = consumer_code(n);
    (tenant_of(cities, n).to_string(), service.to_string(), code)
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

impl Ctx {
    /// Fetch-bill for the loaded demand `n`; answers its first bill.
    pub async fn fetch_bill(&self, n: u64) -> Result<Bill, String> {
        let (tenant, service, code) = demand(&self.cities, n);
        let r = self
            .http
            .post(format!(
                "{}/billing-service/bill/v2/_fetchbill?tenantId={tenant}&businessService={service}&consumerCode={code}",
                self.base
            ))
            .json(&json!({"RequestInfo": {"authToken": self.token}}))
            .send()
            .await
            .map_err(|e| format!("fetch-bill: {e}"))?;
        let status = r.status();
        let text = r
            .text()
            .await
            .map_err(|e| format!("fetch-bill body: {e}"))?;
        if status.as_u16() != 201 {
            return Err(format!("fetch-bill {code}: {status} {}", short(&text)));
        }
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("fetch-bill: {e}"))?;
        let bill = &body["Bill"][0];
        let id = bill["id"]
            .as_str()
            .ok_or_else(|| format!("fetch-bill {code}: no bill"))?;
        Ok(Bill {
            tenant,
            service,
            code,
            id: id.to_string(),
            amount: bill["totalAmount"].clone(),
        })
    }

    /// payments/_create in CASH for the whole of one bill.
    pub async fn pay_cash(&self, bill: &Bill) -> Result<(), String> {
        let body = json!({
            "RequestInfo": {"authToken": self.token},
            "Payment": {
                "tenantId": bill.tenant, "totalAmountPaid": bill.amount, "paymentMode": "CASH",
                "paidBy": "Bench", "payerName": "Bench Payer", "mobileNumber": "9876543210",
                "paymentDetails": [{"billId": bill.id, "totalAmountPaid": bill.amount}]
            }
        });
        let r = self
            .http
            .post(format!(
                "{}/collection-services/payments/_create",
                self.base
            ))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("payment: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| format!("payment body: {e}"))?;
        if !status.is_success() {
            return Err(format!("payment {}: {status} {}", bill.code, short(&text)));
        }
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("payment: {e}"))?;
        if body["Payments"][0]["paymentDetails"][0]["receiptNumber"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            return Err(format!(
                "payment {}: no receipt number: {}",
                bill.code,
                short(&text)
            ));
        }
        Ok(())
    }

    /// The online flow for one bill: pg `_create` (SANDBOX), the payer pays on the sandbox
    /// page, the browser's redirect to `_update` settles it; SUCCESS with a receipt number.
    pub async fn online_flow(&self, bill: &Bill) -> Result<(), String> {
        let callback = format!("{}/pg-service/transaction/v1/_update", self.base);
        let body = json!({
            "RequestInfo": {"authToken": self.token},
            "Transaction": {
                "tenantId": bill.tenant, "txnAmount": bill.amount, "module": bill.service,
                "billId": bill.id, "consumerCode": bill.code, "productInfo": "Bench payment",
                "gateway": "SANDBOX", "callbackUrl": callback,
                "taxAndPayments": [{"billId": bill.id, "amountPaid": bill.amount}],
                "user": {"name": "Bench Payer", "mobileNumber": "9876543210", "tenantId": "pb"}
            }
        });
        let r = self
            .http
            .post(format!("{}/pg-service/transaction/v1/_create", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("pg create: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| format!("pg create body: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "pg create {}: {status} {}",
                bill.code,
                short(&text)
            ));
        }
        let created: Value = serde_json::from_str(&text).map_err(|e| format!("pg create: {e}"))?;
        let redirect = created["Transaction"]["redirectUrl"]
            .as_str()
            .ok_or_else(|| format!("pg create {}: no redirectUrl: {}", bill.code, short(&text)))?;
        let query = redirect.split_once('?').map(|(_, q)| q).unwrap_or("");
        // The payer presses "Pay": the page's form posts its hidden fields and the choice.
        let r = self
            .http
            .post(format!("{}/pg-service/sandbox/pay", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("{query}&outcome=SUCCESS"))
            .send()
            .await
            .map_err(|e| format!("sandbox pay: {e}"))?;
        if r.status().as_u16() != 303 {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            return Err(format!(
                "sandbox pay {}: {status} {}",
                bill.code,
                short(&text)
            ));
        }
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("sandbox pay: no Location")?
            .to_string();
        // The browser follows the redirect to the callback: _update settles the transaction.
        let r = self
            .http
            .post(location)
            .json(&json!({"RequestInfo": {"authToken": self.token}}))
            .send()
            .await
            .map_err(|e| format!("pg update: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| format!("pg update body: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "pg update {}: {status} {}",
                bill.code,
                short(&text)
            ));
        }
        let updated: Value = serde_json::from_str(&text).map_err(|e| format!("pg update: {e}"))?;
        let txn = &updated["Transaction"][0];
        if txn["txnStatus"] != "SUCCESS" || txn["receipt"].as_str().is_none_or(str::is_empty) {
            return Err(format!(
                "pg update {}: not receipted: {}",
                bill.code,
                short(&text)
            ));
        }
        Ok(())
    }
}

impl Ctx {
    /// demand `_create` of `count` new demands in one call (call number `call`): one city per
    /// call, the services in turn, consumer codes `<service>-API-<number>` that no other call
    /// uses. Answers the number of demands created.
    pub async fn create_demands(&self, call: u64, count: u64) -> Result<u64, String> {
        let tenant = &self.cities[(call % self.cities.len() as u64) as usize];
        let demands: Vec<Value> = (0..count)
            .map(|i| {
                let n = call * count + i;
                let k = (n % SERVICES.len() as u64) as usize;
                let kind = &SERVICES[k];
                let (from, to) = self.periods[k];
                let details: Vec<Value> = kind
                    .heads
                    .iter()
                    .map(|(head, rupees)| {
                        json!({"taxHeadMasterCode": head, "taxAmount": rupees, "collectionAmount": 0})
                    })
                    .collect();
                json!({
                    "tenantId": tenant, "consumerCode": format!("{}-API-{n:09}", kind.service),
                    "consumerType": kind.consumer_type, "businessService": kind.service,
                    "taxPeriodFrom": from, "taxPeriodTo": to, "minimumAmountPayable": 0,
                    "demandDetails": details
                })
            })
            .collect();
        let r = self
            .http
            .post(format!("{}/billing-service/demand/_create", self.base))
            .json(&json!({"RequestInfo": {"authToken": self.token}, "Demands": demands}))
            .send()
            .await
            .map_err(|e| format!("demand create: {e}"))?;
        let status = r.status();
        let text = r
            .text()
            .await
            .map_err(|e| format!("demand create body: {e}"))?;
        if status.as_u16() != 201 {
            return Err(format!("demand create: {status} {}", short(&text)));
        }
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("demand create: {e}"))?;
        let made = body["Demands"].as_array().map_or(0, |d| d.len() as u64);
        if made != count {
            return Err(format!(
                "demand create: {made} demands answered for {count}: {}",
                short(&text)
            ));
        }
        Ok(made)
    }
}

/// Bills handed out once each, in order, to the workers of a phase.
pub struct BillQueue {
    bills: Vec<Bill>,
    next: AtomicUsize,
}

impl BillQueue {
    pub fn new(bills: Vec<Bill>) -> BillQueue {
        BillQueue {
            bills,
            next: AtomicUsize::new(0),
        }
    }

    pub fn take(&self) -> Option<&Bill> {
        self.bills.get(self.next.fetch_add(1, Ordering::Relaxed))
    }
}
