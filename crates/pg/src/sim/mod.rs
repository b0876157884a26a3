//! Local simulators of every gateway (cargo feature `sim`), so that the whole flow runs here
//! without the internet: redirect, the payer paying, the gateway's callback, and the
//! server-to-server status query.
//!
//! One [`GatewaySim`] is an axum server on `127.0.0.1:0` that speaks, with the real formats and
//! signatures:
//!
//! | gateway | what it serves |
//! |---|---|
//! | AXIS | `POST /axis/vpcdps` (MIGS queryDR, urlencoded answer) |
//! | PAYTM | `POST /paytm/merchant-status/getTxnStatus` (JSON, PaytmChecksum) |
//! | PAYU | `POST /payu/_payment` (form, answers 302 to the payer's page), `POST /payu/merchant/postservice.php?form=2` (`verify_payment`) |
//! | PHONEPE | `POST /phonepe/v3/debit` (X-VERIFY, answers 302), `GET /phonepe/v3/transaction/{merchantId}/{txnId}/status` |
//! | RAZORPAY | `POST /razorpay/v1/orders`, `GET /razorpay/v1/orders?receipt=[&expand[]=payments]`, `GET /razorpay/v1/orders/{id}/payments`, `GET /razorpay/v1/payments/{id}` (Basic auth, Razorpay's JSON and error bodies); the Hosted Checkout form is [`GatewaySim::pay_form`] |
//! | SANDBOX | `POST /sandbox/status` (kosh's sandbox protocol) |
//!
//! The payer's side is [`GatewaySim::pay`]: given the redirect URL kosh produced and the
//! outcome the payer gets, it checks the URL as the gateway would (signature, merchant,
//! amount), records the transaction, and returns the callback the gateway would send, signed as
//! the gateway signs it. Each gateway can be told to answer normally, with a 500, with garbage,
//! or to hang ([`SimMode`]); each transaction's outcome and reported amount can be changed
//! afterwards ([`GatewaySim::set_outcome`], [`GatewaySim::set_reported_amount`]), and every
//! server call is recorded ([`GatewaySim::calls`]).
//!
//! The simulators check what kosh sends as strictly as the gateways do, so a wrong signature
//! shows up as a refused request, not as a passing test.

mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use reqwest::Url;
use tokio::sync::Notify;

use crate::gateways::{
    AxisConfig, GatewaysConfig, PaytmConfig, PayuConfig, PhonepeConfig, RazorpayConfig,
    SandboxConfig, Secret, TxnStatus, axis, paytm, payu, razorpay, sandbox,
};
use kosh_platform::money::{Paise, wire};

/// The credentials the simulators expect; [`GatewaySim::config`] hands them to kosh.
pub mod creds {
    /// MIGS merchant id.
    pub const AXIS_MERCHANT: &str = "TESTAXIS01";
    /// MIGS access code.
    pub const AXIS_ACCESS_CODE: &str = "ACC0DE42";
    /// MIGS secure hash secret (hex).
    pub const AXIS_SECRET_HEX: &str = "0123456789ABCDEF0123456789ABCDEF";
    /// MIGS AMA user for queryDR.
    pub const AXIS_USER: &str = "amauser";
    /// MIGS AMA password for queryDR.
    pub const AXIS_PASSWORD: &str = "amapass1";
    /// Paytm MID.
    pub const PAYTM_MID: &str = "KOSHSI12345678901234";
    /// Paytm merchant key (16 bytes: AES-128).
    pub const PAYTM_KEY: &str = "kbzk1DSbJiV_O3p5";
    /// PayU merchant key (PayU's public test key).
    pub const PAYU_KEY: &str = "gtKFFx";
    /// PayU salt (PayU's public test salt).
    pub const PAYU_SALT: &str = "eCwWELxi";
    /// PhonePe merchant id.
    pub const PHONEPE_MERCHANT: &str = "KOSHUAT";
    /// PhonePe salt key.
    pub const PHONEPE_SALT: &str = "8289e078-be0b-484d-ae60-052f117f8deb";
    /// PhonePe salt index.
    pub const PHONEPE_SALT_INDEX: &str = "1";
    /// Sandbox HMAC secret.
    pub const SANDBOX_SECRET: &str = "kosh-sandbox-secret";
    /// Razorpay API key id (test mode).
    pub const RAZORPAY_KEY_ID: &str = "rzp_test_KoshSim00000001";
    /// Razorpay API key secret.
    pub const RAZORPAY_KEY_SECRET: &str = "kosh_sim_razorpay_key_secret";
    /// Razorpay webhook secret.
    pub const RAZORPAY_WEBHOOK_SECRET: &str = "kosh_sim_webhook_secret";
}

/// Which simulated gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimGateway {
    /// MIGS.
    Axis,
    /// Paytm.
    Paytm,
    /// PayU.
    Payu,
    /// PhonePe.
    Phonepe,
    /// Razorpay.
    Razorpay,
    /// kosh's sandbox.
    Sandbox,
}

impl SimGateway {
    /// All of them.
    pub const ALL: [SimGateway; 6] = [
        SimGateway::Axis,
        SimGateway::Paytm,
        SimGateway::Payu,
        SimGateway::Phonepe,
        SimGateway::Razorpay,
        SimGateway::Sandbox,
    ];

    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            SimGateway::Axis => "AXIS",
            SimGateway::Paytm => "PAYTM",
            SimGateway::Payu => "PAYU",
            SimGateway::Phonepe => "PHONEPE",
            SimGateway::Razorpay => "RAZORPAY",
            SimGateway::Sandbox => "SANDBOX",
        }
    }
}

/// How a simulated gateway answers its server calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimMode {
    /// Speaks its protocol.
    #[default]
    Normal,
    /// HTTP 500.
    ServerError,
    /// HTTP 200 with an HTML page that is no answer at all.
    Garbage,
    /// Never answers (until the simulator is dropped); the client's timeout cuts it.
    Hang,
}

/// What happened to the payer's payment, as the gateway knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimOutcome {
    /// Money taken.
    Success,
    /// Declined.
    Failure,
    /// Not settled yet.
    Pending,
}

impl SimOutcome {
    /// The kosh status this outcome should end as.
    pub fn status(self) -> TxnStatus {
        match self {
            SimOutcome::Success => TxnStatus::Success,
            SimOutcome::Failure => TxnStatus::Failure,
            SimOutcome::Pending => TxnStatus::Pending,
        }
    }
}

/// A transaction as a simulated gateway knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTxn {
    /// The gateway.
    pub gateway: SimGateway,
    /// kosh's txn id.
    pub txn_id: String,
    /// The amount kosh asked for, paise.
    pub amount_paise: i64,
    /// The amount the gateway reports, paise (normally the same).
    pub reported_amount_paise: i64,
    /// `None` while the payer has not paid (PayU and PhonePe know a transaction from the debit
    /// call on).
    pub outcome: Option<SimOutcome>,
    /// The gateway's own transaction id.
    pub gateway_ref: String,
    /// Where the payer is sent back.
    pub callback_url: String,
    /// The fields of kosh's request, as the gateway received them.
    pub request: BTreeMap<String, String>,
}

/// The callback a gateway sends after [`GatewaySim::pay`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCallback {
    /// The gateway.
    pub gateway: SimGateway,
    /// The callback URL the payer's browser is sent to (for GET-style callbacks, with the
    /// gateway's parameters in the query).
    pub url: String,
    /// Every parameter kosh's `_update` receives: the callback URL's own query
    /// (`eg_pg_txnid`) and the gateway's parameters.
    pub params: BTreeMap<String, String>,
}

/// A server call a simulated gateway received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCallKind {
    /// The PayU/PhonePe call that obtains the payer's page.
    Debit,
    /// A status query.
    Status,
}

/// One recorded server call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// The gateway.
    pub gateway: SimGateway,
    /// What was asked.
    pub kind: SimCallKind,
    /// The transaction asked about, when the request named one.
    pub txn_id: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    modes: HashMap<SimGateway, SimMode>,
    txns: HashMap<(SimGateway, String), SimTxn>,
    tokens: HashMap<String, (SimGateway, String)>,
    calls: Vec<SimCall>,
    next_ref: u64,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    shutdown: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the simulator's state from the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_ref(&self, prefix: &str) -> String {
        let mut inner = self.lock();
        inner.next_ref += 1;
        format!("{prefix}{:08}", inner.next_ref)
    }
}

/// A running set of gateway simulators.
#[derive(Debug)]
pub struct GatewaySim {
    base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GatewaySim {
    fn drop(&mut self) {
        self.shared.shutdown.notify_waiters();
        self.task.abort();
    }
}

impl GatewaySim {
    /// Starts the simulators on `127.0.0.1` at a free port.
    pub async fn start() -> std::io::Result<GatewaySim> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            shutdown: Notify::new(),
        });
        let app = server::router(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "gateway simulator stopped");
            }
        });
        Ok(GatewaySim {
            base_url,
            shared,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A configuration of all six gateways pointing at this simulator, with its credentials,
    /// all active, timeout 2 s. RAZORPAY's `page_url` (kosh's checkout page) points at this
    /// simulator, which reads the link as kosh's page does; blank it to have `kosh serve` send
    /// payers to its own page.
    pub fn config(&self) -> GatewaysConfig {
        let base = &self.base_url;
        GatewaysConfig {
            timeout_ms: 2_000,
            axis: Some(AxisConfig {
                merchant_id: creds::AXIS_MERCHANT.into(),
                access_code: creds::AXIS_ACCESS_CODE.into(),
                secret_key: Secret::new(creds::AXIS_SECRET_HEX),
                user: creds::AXIS_USER.into(),
                password: Secret::new(creds::AXIS_PASSWORD),
                pay_url: format!("{base}/axis/vpcpay"),
                status_url: format!("{base}/axis/vpcdps"),
                ..AxisConfig::default()
            }),
            paytm: Some(PaytmConfig {
                merchant_id: creds::PAYTM_MID.into(),
                merchant_key: Secret::new(creds::PAYTM_KEY),
                debit_url: format!("{base}/paytm/theia/processTransaction"),
                status_url: format!("{base}/paytm/merchant-status/getTxnStatus"),
                ..PaytmConfig::default()
            }),
            payu: Some(PayuConfig {
                merchant_key: creds::PAYU_KEY.into(),
                salt: Secret::new(creds::PAYU_SALT),
                pay_url: format!("{base}/payu/_payment"),
                status_url: format!("{base}/payu/merchant/postservice.php?form=2"),
                ..PayuConfig::default()
            }),
            phonepe: Some(PhonepeConfig {
                merchant_id: creds::PHONEPE_MERCHANT.into(),
                salt_key: Secret::new(creds::PHONEPE_SALT),
                salt_index: creds::PHONEPE_SALT_INDEX.into(),
                base_url: format!("{base}/phonepe"),
                ..PhonepeConfig::default()
            }),
            razorpay: Some(RazorpayConfig {
                key_id: creds::RAZORPAY_KEY_ID.into(),
                key_secret: Secret::new(creds::RAZORPAY_KEY_SECRET),
                webhook_secret: Secret::new(creds::RAZORPAY_WEBHOOK_SECRET),
                api_url: format!("{base}/razorpay"),
                checkout_url: format!("{base}/razorpay/v1/checkout/embedded"),
                page_url: format!("{base}/kosh{}", razorpay::PAGE_PATH),
                ..RazorpayConfig::default()
            }),
            sandbox: Some(SandboxConfig {
                secret: Secret::new(creds::SANDBOX_SECRET),
                base_url: format!("{base}/sandbox"),
                ..SandboxConfig::default()
            }),
        }
    }

    /// Makes a gateway answer its server calls in `mode` from now on.
    pub fn set_mode(&self, gateway: SimGateway, mode: SimMode) {
        self.shared.lock().modes.insert(gateway, mode);
    }

    /// The transaction as the gateway knows it.
    pub fn txn(&self, gateway: SimGateway, txn_id: &str) -> Option<SimTxn> {
        self.shared
            .lock()
            .txns
            .get(&(gateway, txn_id.to_string()))
            .cloned()
    }

    /// Records a transaction directly, as if the payer had paid with `outcome` and the callback
    /// had been lost (reconciliation tests).
    pub fn seed(&self, gateway: SimGateway, txn_id: &str, amount_paise: i64, outcome: SimOutcome) {
        let gateway_ref = self.shared.next_ref(ref_prefix(gateway));
        self.shared.lock().txns.insert(
            (gateway, txn_id.to_string()),
            SimTxn {
                gateway,
                txn_id: txn_id.to_string(),
                amount_paise,
                reported_amount_paise: amount_paise,
                outcome: Some(outcome),
                gateway_ref,
                callback_url: String::new(),
                request: BTreeMap::new(),
            },
        );
    }

    /// Changes what the gateway says about a transaction it knows; false if it knows none.
    pub fn set_outcome(&self, gateway: SimGateway, txn_id: &str, outcome: SimOutcome) -> bool {
        self.update(gateway, txn_id, |t| t.outcome = Some(outcome))
    }

    /// Changes the amount the gateway reports for a transaction; false if it knows none.
    pub fn set_reported_amount(&self, gateway: SimGateway, txn_id: &str, paise: i64) -> bool {
        self.update(gateway, txn_id, |t| t.reported_amount_paise = paise)
    }

    fn update(&self, gateway: SimGateway, txn_id: &str, change: impl FnOnce(&mut SimTxn)) -> bool {
        match self
            .shared
            .lock()
            .txns
            .get_mut(&(gateway, txn_id.to_string()))
        {
            Some(txn) => {
                change(txn);
                true
            }
            None => false,
        }
    }

    /// Every server call received so far.
    pub fn calls(&self) -> Vec<SimCall> {
        self.shared.lock().calls.clone()
    }

    /// How many status queries a gateway received.
    pub fn status_calls(&self, gateway: SimGateway) -> usize {
        self.count(gateway, SimCallKind::Status)
    }

    /// How many debit calls (PayU/PhonePe redirects) a gateway received.
    pub fn debit_calls(&self, gateway: SimGateway) -> usize {
        self.count(gateway, SimCallKind::Debit)
    }

    fn count(&self, gateway: SimGateway, kind: SimCallKind) -> usize {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.gateway == gateway && c.kind == kind)
            .count()
    }

    /// The payer opens `redirect_url` (from [`crate::Gateway::redirect`]) and pays with
    /// `outcome`. The URL is checked as the gateway checks it (an error says why it would be
    /// refused); the transaction is recorded; the gateway's callback is returned.
    pub fn pay(&self, redirect_url: &str, outcome: SimOutcome) -> Result<SimCallback, String> {
        let url = Url::parse(redirect_url).map_err(|e| format!("not a URL: {e}"))?;
        if url.path().ends_with(razorpay::PAGE_PATH) {
            return self.pay_razorpay_page(&url, outcome);
        }
        if !redirect_url.starts_with(&self.base_url) {
            return Err(format!("{redirect_url} is not this simulator"));
        }
        let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let path = url.path();
        match path {
            "/axis/vpcpay" => self.pay_axis(query, outcome),
            "/paytm/theia/processTransaction" => self.pay_paytm(query, outcome),
            "/phonepe/transact" => {
                let token = query.get("token").ok_or("no token")?;
                self.pay_by_token(SimGateway::Phonepe, token, outcome)
            }
            "/sandbox/pay" => self.pay_sandbox(query, outcome),
            _ => match path.strip_prefix("/payu/pay/") {
                Some(token) => self.pay_by_token(SimGateway::Payu, token, outcome),
                None => Err(format!("no payment page at {path}")),
            },
        }
    }

    /// RAZORPAY's redirect is kosh's checkout page (at kosh, or at this simulator when the
    /// configuration's `page_url` points here): its signed link is read as the page reads it,
    /// and the form the page would post is paid with [`GatewaySim::pay_form`].
    fn pay_razorpay_page(&self, url: &Url, outcome: SimOutcome) -> Result<SimCallback, String> {
        let mut config = self.config().razorpay.ok_or("no RAZORPAY configuration")?;
        config.page_url = url
            .as_str()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let page = razorpay::RazorpayGateway::new(config, std::time::Duration::from_secs(1))
            .map_err(|e| e.to_string())?;
        let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let form = page.checkout_form(&query).map_err(|e| e.to_string())?;
        self.pay_form(&form.action, &form.fields, outcome)
    }

    /// The payer's browser posts a Hosted Checkout form (Razorpay) to `action` with `fields`
    /// and pays with `outcome`: the form is checked as Razorpay checks it (key id, a known
    /// order, a callback URL), the payment is recorded (`captured`, `failed`, or `authorized`
    /// for [`SimOutcome::Pending`]), and the callback Razorpay POSTs to `callback_url` is
    /// returned: `razorpay_payment_id`, `razorpay_order_id` and `razorpay_signature` after a
    /// payment, Razorpay's `error[...]` fields after a failure.
    pub fn pay_form(
        &self,
        action: &str,
        fields: &[(String, String)],
        outcome: SimOutcome,
    ) -> Result<SimCallback, String> {
        if action != format!("{}/razorpay/v1/checkout/embedded", self.base_url) {
            return Err(format!("no checkout at {action}"));
        }
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        if get("key_id") != creds::RAZORPAY_KEY_ID {
            return Err("BAD_REQUEST_ERROR: The api key provided is invalid".into());
        }
        let order_id = get("order_id");
        let callback_url = get("callback_url");
        if callback_url.is_empty() {
            return Err("BAD_REQUEST_ERROR: callback_url is required".into());
        }
        let payment_id = self.shared.next_ref("pay_KoshSim");
        {
            let mut inner = self.shared.lock();
            let key = inner
                .tokens
                .get(&order_id)
                .cloned()
                .filter(|(g, _)| *g == SimGateway::Razorpay)
                .ok_or("BAD_REQUEST_ERROR: The id provided does not exist")?;
            let txn = inner.txns.get_mut(&key).ok_or("unknown order")?;
            txn.outcome = Some(outcome);
            txn.gateway_ref = payment_id.clone();
            for (k, v) in fields {
                txn.request
                    .entry(format!("checkout:{k}"))
                    .or_insert(v.clone());
            }
        }
        let params: BTreeMap<String, String> = match outcome {
            SimOutcome::Failure => [
                ("error[code]", "BAD_REQUEST_ERROR".to_string()),
                ("error[description]", "Payment failed".to_string()),
                ("error[source]", "customer".to_string()),
                ("error[step]", "payment_authorization".to_string()),
                ("error[reason]", "payment_failed".to_string()),
                (
                    "error[metadata]",
                    serde_json::json!({"payment_id": payment_id, "order_id": order_id}).to_string(),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            _ => [
                ("razorpay_payment_id", payment_id.clone()),
                ("razorpay_order_id", order_id.clone()),
                (
                    "razorpay_signature",
                    razorpay::payment_signature(creds::RAZORPAY_KEY_SECRET, &order_id, &payment_id),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        callback_post(SimGateway::Razorpay, &callback_url, params)
    }

    /// A webhook Razorpay would send about a transaction's payment (`payment.captured`,
    /// `payment.failed`, `payment.authorized` by its current outcome): the raw body and its
    /// `X-Razorpay-Signature` under the webhook secret.
    pub fn razorpay_webhook(&self, txn_id: &str) -> Option<(Vec<u8>, String)> {
        let txn = self.txn(SimGateway::Razorpay, txn_id)?;
        let payment = server::razorpay_payment(&txn);
        let event = match txn.outcome {
            Some(SimOutcome::Success) => "payment.captured",
            Some(SimOutcome::Failure) => "payment.failed",
            _ => "payment.authorized",
        };
        let body = serde_json::json!({
            "entity": "event", "account_id": "acc_KoshSim0000001", "event": event,
            "contains": ["payment"],
            "payload": {"payment": {"entity": payment}},
            "created_at": 1_763_700_000
        })
        .to_string()
        .into_bytes();
        let signature = razorpay::webhook_signature(creds::RAZORPAY_WEBHOOK_SECRET, &body);
        Some((body, signature))
    }

    fn record_paid(
        &self,
        gateway: SimGateway,
        txn_id: &str,
        amount_paise: i64,
        callback_url: &str,
        request: BTreeMap<String, String>,
        outcome: SimOutcome,
    ) -> SimTxn {
        let gateway_ref = self.shared.next_ref(ref_prefix(gateway));
        let txn = SimTxn {
            gateway,
            txn_id: txn_id.to_string(),
            amount_paise,
            reported_amount_paise: amount_paise,
            outcome: Some(outcome),
            gateway_ref,
            callback_url: callback_url.to_string(),
            request,
        };
        self.shared
            .lock()
            .txns
            .insert((gateway, txn_id.to_string()), txn.clone());
        txn
    }

    fn pay_axis(
        &self,
        query: BTreeMap<String, String>,
        outcome: SimOutcome,
    ) -> Result<SimCallback, String> {
        let key = hex::decode(creds::AXIS_SECRET_HEX).map_err(|e| e.to_string())?;
        let hash = query.get("vpc_SecureHash").ok_or("no vpc_SecureHash")?;
        if query.get("vpc_SecureHashType").map(String::as_str) != Some("SHA256") {
            return Err("vpc_SecureHashType is not SHA256".into());
        }
        let signed = axis::signed_fields(&query);
        if hash != &axis::secure_hash(&signed, &key) {
            return Err("E5000: secure hash does not match".into());
        }
        expect(&query, "vpc_Command", "pay")?;
        expect(&query, "vpc_Merchant", creds::AXIS_MERCHANT)?;
        expect(&query, "vpc_AccessCode", creds::AXIS_ACCESS_CODE)?;
        expect(&query, "vpc_Currency", "INR")?;
        let txn_id = query.get("vpc_MerchTxnRef").ok_or("no vpc_MerchTxnRef")?;
        let amount = query
            .get("vpc_Amount")
            .and_then(|a| wire::parse_paise_text(a).ok())
            .map(Paise::get)
            .ok_or("vpc_Amount is not paise")?;
        let return_url = query.get("vpc_ReturnURL").ok_or("no vpc_ReturnURL")?;
        let txn = self.record_paid(
            SimGateway::Axis,
            txn_id,
            amount,
            return_url,
            query.clone(),
            outcome,
        );
        let mut fields = server::axis_fields(&txn, "pay");
        fields.insert(
            "vpc_OrderInfo".into(),
            query.get("vpc_OrderInfo").cloned().unwrap_or_default(),
        );
        let hash = axis::secure_hash(&fields, &key);
        fields.insert("vpc_SecureHash".into(), hash);
        fields.insert("vpc_SecureHashType".into(), "SHA256".into());
        callback_get(SimGateway::Axis, return_url, fields)
    }

    fn pay_paytm(
        &self,
        query: BTreeMap<String, String>,
        outcome: SimOutcome,
    ) -> Result<SimCallback, String> {
        let checksum = query.get(paytm::CHECKSUM_KEY).ok_or("no CHECKSUMHASH")?;
        if !paytm::verify_checksum(&query, creds::PAYTM_KEY, checksum) {
            return Err("checksum mismatch".into());
        }
        expect(&query, "MID", creds::PAYTM_MID)?;
        for field in [
            "CUST_ID",
            "INDUSTRY_TYPE_ID",
            "CHANNEL_ID",
            "WEBSITE",
            "MOBILE_NO",
        ] {
            if query.get(field).is_none_or(|v| v.is_empty()) {
                return Err(format!("{field} is missing"));
            }
        }
        let txn_id = query.get("ORDER_ID").ok_or("no ORDER_ID")?;
        let amount = query
            .get("TXN_AMOUNT")
            .and_then(|a| wire::parse_rupees_text(a).ok())
            .map(Paise::get)
            .ok_or("TXN_AMOUNT is not rupees")?;
        let callback_url = query.get("CALLBACK_URL").ok_or("no CALLBACK_URL")?;
        let txn = self.record_paid(
            SimGateway::Paytm,
            txn_id,
            amount,
            callback_url,
            query.clone(),
            outcome,
        );
        let mut fields = server::paytm_fields(&txn);
        let checksum =
            paytm::generate_checksum(&fields, creds::PAYTM_KEY).map_err(|e| e.to_string())?;
        fields.insert(paytm::CHECKSUM_KEY.into(), checksum);
        callback_post(SimGateway::Paytm, callback_url, fields)
    }

    fn pay_sandbox(
        &self,
        query: BTreeMap<String, String>,
        outcome: SimOutcome,
    ) -> Result<SimCallback, String> {
        let request = sandbox::parse_pay_request(creds::SANDBOX_SECRET, &query)?;
        let txn = self.record_paid(
            SimGateway::Sandbox,
            &request.txn_id,
            request.amount_paise.get(),
            &request.callback_url,
            query.clone(),
            outcome,
        );
        let fields = sandbox::callback_params(
            creds::SANDBOX_SECRET,
            &txn.txn_id,
            outcome.status(),
            &wire::rupees_text(Paise::new(txn.reported_amount_paise)),
            &txn.gateway_ref,
        );
        callback_get(SimGateway::Sandbox, &request.callback_url, fields)
    }

    /// PayU and PhonePe: the transaction was recorded by the debit call; the page token finds it.
    fn pay_by_token(
        &self,
        gateway: SimGateway,
        token: &str,
        outcome: SimOutcome,
    ) -> Result<SimCallback, String> {
        let txn = {
            let mut inner = self.shared.lock();
            let key = inner
                .tokens
                .get(token)
                .cloned()
                .filter(|(g, _)| *g == gateway)
                .ok_or("unknown payment page")?;
            let txn = inner.txns.get_mut(&key).ok_or("unknown transaction")?;
            txn.outcome = Some(outcome);
            txn.clone()
        };
        match gateway {
            SimGateway::Payu => {
                let mut fields = server::payu_details(&txn);
                let r = &txn.request;
                let get = |name: &str| r.get(name).map(String::as_str).unwrap_or("");
                for name in ["key", "productinfo", "firstname", "email", "phone"] {
                    fields.insert(name.into(), get(name).into());
                }
                fields.insert("amount".into(), get("amount").into());
                let hash = payu::response_hash(
                    &payu::ResponseHashFields {
                        additional_charges: None,
                        status: &fields["status"],
                        udf: [""; 5],
                        email: get("email"),
                        firstname: get("firstname"),
                        productinfo: get("productinfo"),
                        amount: get("amount"),
                        txnid: &txn.txn_id,
                        key: get("key"),
                    },
                    creds::PAYU_SALT,
                );
                fields.insert("hash".into(), hash);
                callback_post(gateway, &txn.callback_url, fields)
            }
            _ => {
                let (code, _, _) = server::phonepe_code(txn.outcome);
                let fields: BTreeMap<String, String> = [
                    ("code", code.to_string()),
                    ("merchantId", creds::PHONEPE_MERCHANT.to_string()),
                    ("transactionId", txn.txn_id.clone()),
                    ("amount", txn.reported_amount_paise.to_string()),
                    ("providerReferenceId", txn.gateway_ref.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                callback_post(gateway, &txn.callback_url, fields)
            }
        }
    }
}

fn ref_prefix(gateway: SimGateway) -> &'static str {
    match gateway {
        SimGateway::Axis => "",
        SimGateway::Paytm => "2026112111121280",
        SimGateway::Payu => "40300",
        SimGateway::Phonepe => "T2611",
        SimGateway::Razorpay => "pay_KoshSim",
        SimGateway::Sandbox => "SBX",
    }
}

fn expect(query: &BTreeMap<String, String>, name: &str, value: &str) -> Result<(), String> {
    match query.get(name) {
        Some(v) if v == value => Ok(()),
        other => Err(format!("{name} is {other:?}, expected {value:?}")),
    }
}

fn callback_url_params(callback_url: &str) -> Result<(Url, BTreeMap<String, String>), String> {
    let url = Url::parse(callback_url).map_err(|e| format!("callback URL: {e}"))?;
    let params = url.query_pairs().into_owned().collect();
    Ok((url, params))
}

/// A callback by GET: the gateway's fields appended to the callback URL's query.
fn callback_get(
    gateway: SimGateway,
    callback_url: &str,
    fields: BTreeMap<String, String>,
) -> Result<SimCallback, String> {
    let (mut url, mut params) = callback_url_params(callback_url)?;
    url.query_pairs_mut().extend_pairs(fields.iter());
    params.extend(fields);
    Ok(SimCallback {
        gateway,
        url: url.into(),
        params,
    })
}

/// A callback by form POST to the callback URL (whose own query kosh reads too).
fn callback_post(
    gateway: SimGateway,
    callback_url: &str,
    fields: BTreeMap<String, String>,
) -> Result<SimCallback, String> {
    let (url, mut params) = callback_url_params(callback_url)?;
    params.extend(fields);
    Ok(SimCallback {
        gateway,
        url: url.into(),
        params,
    })
}
