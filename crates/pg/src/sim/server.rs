//! The simulators' HTTP side: one handler per gateway endpoint, each checking kosh's request as
//! the gateway does and answering in the gateway's format.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::{Shared, SimCall, SimCallKind, SimGateway, SimMode, SimOutcome, SimTxn, creds};
use crate::crypto::{hex_eq_ignore_case, sha256_hex};
use crate::gateways::{TxnStatus, paytm, payu, sandbox};
use kosh_platform::money::{Paise, wire};

type Shared_ = Arc<Shared>;

pub(super) fn router(shared: Shared_) -> Router {
    Router::new()
        .route("/axis/vpcdps", post(axis_query_dr))
        .route("/paytm/merchant-status/getTxnStatus", post(paytm_status))
        .route("/payu/_payment", post(payu_payment))
        .route("/payu/merchant/postservice.php", post(payu_postservice))
        .route("/phonepe/v3/debit", post(phonepe_debit))
        .route(
            "/phonepe/v3/transaction/{merchant_id}/{txn_id}/status",
            get(phonepe_status),
        )
        .route(
            "/razorpay/v1/orders",
            post(razorpay_create_order).get(razorpay_orders),
        )
        .route(
            "/razorpay/v1/orders/{order_id}/payments",
            get(razorpay_order_payments),
        )
        .route(
            "/razorpay/v1/payments/{payment_id}",
            get(razorpay_payment_by_id),
        )
        .route("/sandbox/status", post(sandbox_status))
        .with_state(shared)
}

/// Records the call, then applies the gateway's mode: `Some(response)` when the mode answers
/// instead of the protocol.
async fn gate(
    shared: &Shared,
    gateway: SimGateway,
    kind: SimCallKind,
    txn_id: Option<&str>,
) -> Option<Response> {
    let mode = {
        let mut inner = shared.lock();
        inner.calls.push(SimCall {
            gateway,
            kind,
            txn_id: txn_id.map(str::to_string),
        });
        inner.modes.get(&gateway).copied().unwrap_or_default()
    };
    match mode {
        SimMode::Normal => None,
        SimMode::ServerError => {
            Some((StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response())
        }
        SimMode::Garbage => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>502 Bad Gateway</h1>{\"status\": tru",
            )
                .into_response(),
        ),
        SimMode::Hang => {
            shared.shutdown.notified().await;
            Some(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

fn form(text: &str) -> BTreeMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(text)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn find(shared: &Shared, gateway: SimGateway, txn_id: &str) -> Option<SimTxn> {
    shared
        .lock()
        .txns
        .get(&(gateway, txn_id.to_string()))
        .cloned()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------
// AXIS (MIGS)

fn axis_code(outcome: Option<SimOutcome>) -> (&'static str, &'static str, &'static str) {
    match outcome {
        Some(SimOutcome::Success) => ("0", "Approved", "00"),
        Some(SimOutcome::Failure) => ("2", "Declined", "05"),
        Some(SimOutcome::Pending) => ("P", "Pending", ""),
        None => ("?", "Unknown", ""),
    }
}

/// The response fields MIGS returns about a transaction (callback or queryDR), unsigned.
pub(super) fn axis_fields(txn: &SimTxn, command: &str) -> BTreeMap<String, String> {
    let (code, message, acq) = axis_code(txn.outcome);
    [
        ("vpc_AcqResponseCode", acq.to_string()),
        ("vpc_Amount", txn.reported_amount_paise.to_string()),
        (
            "vpc_AuthorizeId",
            if code == "0" { "123456" } else { "" }.to_string(),
        ),
        ("vpc_BatchNo", "20261121".to_string()),
        ("vpc_Card", "VC".to_string()),
        ("vpc_Command", command.to_string()),
        ("vpc_Locale", "en_IN".to_string()),
        ("vpc_MerchTxnRef", txn.txn_id.clone()),
        ("vpc_Merchant", creds::AXIS_MERCHANT.to_string()),
        ("vpc_Message", message.to_string()),
        ("vpc_ReceiptNo", format!("6325{}", txn.gateway_ref)),
        ("vpc_TransactionNo", txn.gateway_ref.clone()),
        ("vpc_TxnResponseCode", code.to_string()),
        ("vpc_Version", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn axis_query_dr(
    State(shared): State<Shared_>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let mut fields = form(query.as_deref().unwrap_or(""));
    fields.extend(form(&body));
    let txn_id = fields.get("vpc_MerchTxnRef").cloned();
    if let Some(r) = gate(
        &shared,
        SimGateway::Axis,
        SimCallKind::Status,
        txn_id.as_deref(),
    )
    .await
    {
        return r;
    }
    let urlencoded = |pairs: Vec<(String, String)>| {
        (
            [(header::CONTENT_TYPE, "text/plain")],
            serde_urlencoded::to_string(pairs).unwrap_or_default(),
        )
            .into_response()
    };
    let credentials_ok = fields.get("vpc_Command").map(String::as_str) == Some("queryDR")
        && fields.get("vpc_Merchant").map(String::as_str) == Some(creds::AXIS_MERCHANT)
        && fields.get("vpc_AccessCode").map(String::as_str) == Some(creds::AXIS_ACCESS_CODE)
        && fields.get("vpc_User").map(String::as_str) == Some(creds::AXIS_USER)
        && fields.get("vpc_Password").map(String::as_str) == Some(creds::AXIS_PASSWORD);
    if !credentials_ok {
        return urlencoded(vec![
            ("vpc_Message".into(), "E5004: Invalid Permissions".into()),
            ("vpc_TxnResponseCode".into(), "7".into()),
        ]);
    }
    let txn_id = txn_id.unwrap_or_default();
    match find(&shared, SimGateway::Axis, &txn_id) {
        None => urlencoded(vec![
            ("vpc_Command".into(), "queryDR".into()),
            ("vpc_DRExists".into(), "N".into()),
            ("vpc_FoundMultipleDRs".into(), "N".into()),
            ("vpc_MerchTxnRef".into(), txn_id),
            ("vpc_Merchant".into(), creds::AXIS_MERCHANT.into()),
            // MIGS reports "0" here: the *query* worked. Only vpc_DRExists says there is no
            // payment, which is why kosh reads it first.
            ("vpc_TxnResponseCode".into(), "0".into()),
            ("vpc_Version".into(), "1".into()),
        ]),
        Some(txn) => {
            let mut fields = axis_fields(&txn, "queryDR");
            fields.insert("vpc_DRExists".into(), "Y".into());
            fields.insert("vpc_FoundMultipleDRs".into(), "N".into());
            urlencoded(fields.into_iter().collect())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PAYTM

fn paytm_status_text(outcome: Option<SimOutcome>) -> (&'static str, &'static str, &'static str) {
    match outcome {
        Some(SimOutcome::Success) => ("TXN_SUCCESS", "01", "Txn Success"),
        Some(SimOutcome::Failure) => (
            "TXN_FAILURE",
            "227",
            "Your payment has been declined by your bank.",
        ),
        Some(SimOutcome::Pending) | None => {
            ("PENDING", "402", "Looks like the payment is not complete.")
        }
    }
}

/// The fields Paytm reports about a transaction (callback or status answer), unsigned.
pub(super) fn paytm_fields(txn: &SimTxn) -> BTreeMap<String, String> {
    let (status, code, message) = paytm_status_text(txn.outcome);
    [
        ("BANKNAME", "State Bank of India"),
        ("BANKTXNID", "777001087423130"),
        ("CURRENCY", "INR"),
        ("GATEWAYNAME", "SBI"),
        ("MID", creds::PAYTM_MID),
        ("PAYMENTMODE", "NB"),
        ("RESPCODE", code),
        ("RESPMSG", message),
        ("STATUS", status),
        ("TXNDATE", "2026-11-21 11:12:13.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([
        ("ORDERID".to_string(), txn.txn_id.clone()),
        (
            "TXNAMOUNT".to_string(),
            wire::rupees_text(Paise::new(txn.reported_amount_paise)),
        ),
        ("TXNID".to_string(), txn.gateway_ref.clone()),
    ])
    .collect()
}

async fn paytm_status(State(shared): State<Shared_>, body: String) -> Response {
    let request: Option<Value> = serde_json::from_str(&body).ok();
    let text = |name: &str| {
        request
            .as_ref()
            .and_then(|r| r.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (mid, order_id, checksum) = (text("MID"), text("ORDERID"), text("CHECKSUMHASH"));
    if let Some(r) = gate(
        &shared,
        SimGateway::Paytm,
        SimCallKind::Status,
        Some(&order_id),
    )
    .await
    {
        return r;
    }
    if request.is_none() {
        return (StatusCode::BAD_REQUEST, "Bad Request").into_response();
    }
    let failure = |code: &str, message: &str| {
        json_response(
            StatusCode::OK,
            json!({"ORDERID": order_id, "MID": mid, "TXNAMOUNT": "0.00", "STATUS": "TXN_FAILURE",
                   "RESPCODE": code, "RESPMSG": message, "BANKTXNID": "", "TXNID": ""}),
        )
    };
    if mid != creds::PAYTM_MID {
        return failure("335", "Mid is invalid");
    }
    let signed: BTreeMap<String, String> = [("MID", &mid), ("ORDERID", &order_id)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if !paytm::verify_checksum(&signed, creds::PAYTM_KEY, &checksum) {
        return failure("330", "Paytm checksum mismatch.");
    }
    match find(&shared, SimGateway::Paytm, &order_id) {
        None => failure("334", "Invalid Order Id."),
        Some(txn) => {
            let mut fields = paytm_fields(&txn);
            fields.insert("TXNTYPE".into(), "SALE".into());
            fields.insert("REFUNDAMT".into(), "0.00".into());
            json_response(StatusCode::OK, json!(fields))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PAYU

fn payu_status_text(
    outcome: Option<SimOutcome>,
) -> (&'static str, &'static str, &'static str, &'static str) {
    match outcome {
        Some(SimOutcome::Success) => ("success", "captured", "E000", "No Error"),
        Some(SimOutcome::Failure) => ("failure", "failed", "E308", "Transaction Failed"),
        Some(SimOutcome::Pending) | None => ("pending", "pending", "E000", "No Error"),
    }
}

/// The fields PayU reports about a transaction (callback body or `transaction_details`).
pub(super) fn payu_details(txn: &SimTxn) -> BTreeMap<String, String> {
    let (status, unmapped, error_code, error_message) = payu_status_text(txn.outcome);
    let amount = wire::rupees_text(Paise::new(txn.reported_amount_paise));
    let mut fields: BTreeMap<String, String> = [
        ("additional_charges", "0.00"),
        ("addedon", "2026-11-21 11:12:13"),
        ("bank_ref_num", "87d3b2a1-5cb5-4c1b"),
        ("bankcode", "CC"),
        ("card_type", "VISA"),
        ("disc", "0.00"),
        ("PG_TYPE", "HDFCPG"),
        ("mode", "CC"),
        ("payment_source", "payu"),
        ("request_id", ""),
        ("udf1", ""),
        ("udf2", ""),
        ("udf3", ""),
        ("udf4", ""),
        ("udf5", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.insert("amt".into(), amount.clone());
    fields.insert("transaction_amount".into(), amount.clone());
    fields.insert("net_amount_debit".into(), amount);
    fields.insert("mihpayid".into(), txn.gateway_ref.clone());
    fields.insert("txnid".into(), txn.txn_id.clone());
    fields.insert("status".into(), status.into());
    fields.insert("unmappedstatus".into(), unmapped.into());
    fields.insert("error_code".into(), error_code.into());
    fields.insert("error_Message".into(), error_message.into());
    for name in ["productinfo", "firstname", "email"] {
        fields.insert(
            name.into(),
            txn.request.get(name).cloned().unwrap_or_default(),
        );
    }
    fields
}

async fn payu_payment(State(shared): State<Shared_>, body: String) -> Response {
    let fields = form(&body);
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    if let Some(r) = gate(
        &shared,
        SimGateway::Payu,
        SimCallKind::Debit,
        Some(get("txnid")),
    )
    .await
    {
        return r;
    }
    let error_page = |reason: &str| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            format!("<html><body>Error Reason: {reason}</body></html>"),
        )
            .into_response()
    };
    if get("key") != creds::PAYU_KEY {
        return error_page("Invalid key");
    }
    let expected = payu::request_hash(
        get("key"),
        get("txnid"),
        get("amount"),
        get("productinfo"),
        get("firstname"),
        get("email"),
        creds::PAYU_SALT,
    );
    if !hex_eq_ignore_case(get("hash"), &expected) {
        return error_page("Transaction failed due to incorrectly calculated hash parameter.");
    }
    let Some(amount) = wire::parse_rupees_text(get("amount")).ok().map(Paise::get) else {
        return error_page("Invalid amount");
    };
    if get("txnid").is_empty()
        || get("surl").is_empty()
        || get("furl").is_empty()
        || get("phone").is_empty()
    {
        return error_page("Mandatory parameter missing");
    }
    let token = uuid_like(&shared);
    let gateway_ref = shared.next_ref(super::ref_prefix(SimGateway::Payu));
    {
        let mut inner = shared.lock();
        inner.txns.insert(
            (SimGateway::Payu, get("txnid").to_string()),
            SimTxn {
                gateway: SimGateway::Payu,
                txn_id: get("txnid").to_string(),
                amount_paise: amount,
                reported_amount_paise: amount,
                outcome: None,
                gateway_ref,
                callback_url: get("surl").to_string(),
                request: fields.clone(),
            },
        );
        inner
            .tokens
            .insert(token.clone(), (SimGateway::Payu, get("txnid").to_string()));
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/payu/pay/{token}"))],
    )
        .into_response()
}

async fn payu_postservice(
    State(shared): State<Shared_>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let fields = form(&body);
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    if let Some(r) = gate(
        &shared,
        SimGateway::Payu,
        SimCallKind::Status,
        Some(get("var1")),
    )
    .await
    {
        return r;
    }
    if query.as_deref() != Some("form=2") {
        return (StatusCode::OK, "status=0&msg=Invalid form").into_response();
    }
    let expected = payu::command_hash(get("key"), get("command"), get("var1"), creds::PAYU_SALT);
    if get("key") != creds::PAYU_KEY
        || get("command") != "verify_payment"
        || !hex_eq_ignore_case(get("hash"), &expected)
    {
        return json_response(StatusCode::OK, json!({"status": 0, "msg": "Invalid Hash."}));
    }
    let txn_id = get("var1").to_string();
    match find(&shared, SimGateway::Payu, &txn_id) {
        None => json_response(
            StatusCode::OK,
            json!({"status": 0, "msg": "0 out of 1 Transactions Fetched Successfully",
                   "transaction_details": {txn_id: {"mihpayid": "Not Found", "status": "Not Found"}}}),
        ),
        Some(txn) => json_response(
            StatusCode::OK,
            json!({"status": 1, "msg": "1 out of 1 Transactions Fetched Successfully",
                   "transaction_details": {txn_id: payu_details(&txn)}}),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// PHONEPE

/// `(code, paymentState, message)` for an outcome.
pub(super) fn phonepe_code(
    outcome: Option<SimOutcome>,
) -> (&'static str, &'static str, &'static str) {
    match outcome {
        Some(SimOutcome::Success) => (
            "PAYMENT_SUCCESS",
            "COMPLETED",
            "Your payment is successful.",
        ),
        Some(SimOutcome::Failure) => ("PAYMENT_ERROR", "FAILED", "Payment Failed"),
        Some(SimOutcome::Pending) | None => ("PAYMENT_PENDING", "PENDING", "Payment is pending"),
    }
}

fn phonepe_verify_ok(headers: &HeaderMap, signed: &str) -> bool {
    let Some(given) = headers.get("X-VERIFY").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((hash, index)) = given.split_once("###") else {
        return false;
    };
    index == creds::PHONEPE_SALT_INDEX
        && hex_eq_ignore_case(
            hash,
            &sha256_hex(format!("{signed}{}", creds::PHONEPE_SALT).as_bytes()),
        )
}

fn phonepe_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"success": false, "code": code, "message": message, "data": {}}),
    )
}

async fn phonepe_debit(
    State(shared): State<Shared_>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let request: Option<Value> = serde_json::from_str(&body).ok();
    let encoded = request
        .as_ref()
        .and_then(|r| r.get("request"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let payload: Option<Value> = BASE64
        .decode(&encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let txn_id = payload
        .as_ref()
        .and_then(|p| p.get("transactionId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(r) = gate(
        &shared,
        SimGateway::Phonepe,
        SimCallKind::Debit,
        txn_id.as_deref(),
    )
    .await
    {
        return r;
    }
    if !phonepe_verify_ok(&headers, &format!("{encoded}/v3/debit")) {
        return phonepe_error(
            StatusCode::UNAUTHORIZED,
            "AUTHORIZATION_FAILED",
            "X-VERIFY header is incorrect",
        );
    }
    let (Some(payload), Some(txn_id)) = (payload, txn_id) else {
        return phonepe_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Invalid request payload",
        );
    };
    let Some(amount) = payload
        .get("amount")
        .and_then(Value::as_i64)
        .filter(|a| *a > 0)
    else {
        return phonepe_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "amount must be paise",
        );
    };
    if payload.get("merchantId").and_then(Value::as_str) != Some(creds::PHONEPE_MERCHANT) {
        return phonepe_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Invalid merchantId");
    }
    let Some(redirect_url) = headers.get("X-REDIRECT-URL").and_then(|v| v.to_str().ok()) else {
        return phonepe_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "X-REDIRECT-URL missing",
        );
    };
    let request_fields: BTreeMap<String, String> = payload
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    let token = uuid_like(&shared);
    let gateway_ref = shared.next_ref(super::ref_prefix(SimGateway::Phonepe));
    {
        let mut inner = shared.lock();
        inner.txns.insert(
            (SimGateway::Phonepe, txn_id.clone()),
            SimTxn {
                gateway: SimGateway::Phonepe,
                txn_id: txn_id.clone(),
                amount_paise: amount,
                reported_amount_paise: amount,
                outcome: None,
                gateway_ref,
                callback_url: redirect_url.to_string(),
                request: request_fields,
            },
        );
        inner
            .tokens
            .insert(token.clone(), (SimGateway::Phonepe, txn_id));
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/phonepe/transact?token={token}"))],
    )
        .into_response()
}

async fn phonepe_status(
    State(shared): State<Shared_>,
    Path((merchant_id, txn_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = gate(
        &shared,
        SimGateway::Phonepe,
        SimCallKind::Status,
        Some(&txn_id),
    )
    .await
    {
        return r;
    }
    let path = format!("/v3/transaction/{merchant_id}/{txn_id}/status");
    if !phonepe_verify_ok(&headers, &path) {
        return phonepe_error(
            StatusCode::UNAUTHORIZED,
            "AUTHORIZATION_FAILED",
            "X-VERIFY header is incorrect",
        );
    }
    if merchant_id != creds::PHONEPE_MERCHANT {
        return phonepe_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Invalid merchantId");
    }
    match find(&shared, SimGateway::Phonepe, &txn_id) {
        None => phonepe_error(
            StatusCode::OK,
            "TRANSACTION_NOT_FOUND",
            "No Transaction found with the given details",
        ),
        Some(txn) => {
            let (code, state, message) = phonepe_code(txn.outcome);
            json_response(
                StatusCode::OK,
                json!({
                    "success": code == "PAYMENT_SUCCESS",
                    "code": code,
                    "message": message,
                    "data": {
                        "transactionId": txn.txn_id,
                        "merchantId": creds::PHONEPE_MERCHANT,
                        "amount": txn.reported_amount_paise,
                        "providerReferenceId": txn.gateway_ref,
                        "paymentState": state,
                        "payResponseCode": if code == "PAYMENT_SUCCESS" { "SUCCESS" } else { "PENDING" },
                        "paymentInstrument": {"type": "UPI"}
                    }
                }),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RAZORPAY

/// Razorpay's error body.
fn razorpay_error(status: StatusCode, description: &str, field: Option<&str>) -> Response {
    let mut error = json!({"code": "BAD_REQUEST_ERROR", "description": description,
        "source": "NA", "step": "NA", "reason": "NA", "metadata": {}});
    if let Some(field) = field {
        error["field"] = json!(field);
        error["source"] = json!("business");
        error["reason"] = json!("input_validation_failed");
    }
    json_response(status, json!({ "error": error }))
}

/// Whether the request carries the simulator's key id and secret as HTTP Basic auth.
fn razorpay_auth_ok(headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let expected = BASE64.encode(format!(
        "{}:{}",
        creds::RAZORPAY_KEY_ID,
        creds::RAZORPAY_KEY_SECRET
    ));
    crate::crypto::ct_eq(given.trim().as_bytes(), expected.as_bytes())
}

fn razorpay_unauthorized() -> Response {
    razorpay_error(StatusCode::UNAUTHORIZED, "Authentication failed", None)
}

/// The order id of a transaction the simulator knows (seeded ones get one from their ref).
fn razorpay_order_id(txn: &SimTxn) -> String {
    txn.request
        .get("order_id")
        .cloned()
        .unwrap_or_else(|| format!("order_{}", txn.gateway_ref.trim_start_matches("pay_")))
}

fn razorpay_order(txn: &SimTxn) -> Value {
    let paid = txn.outcome == Some(SimOutcome::Success);
    let status = match txn.outcome {
        None => "created",
        Some(_) if paid => "paid",
        Some(_) => "attempted",
    };
    let notes: Value = txn
        .request
        .get("notes")
        .and_then(|n| serde_json::from_str(n).ok())
        .unwrap_or_else(|| json!([]));
    json!({
        "id": razorpay_order_id(txn), "entity": "order",
        "amount": txn.amount_paise,
        "amount_paid": if paid { txn.reported_amount_paise } else { 0 },
        "amount_due": if paid { 0 } else { txn.amount_paise },
        "currency": "INR", "receipt": txn.txn_id, "offer_id": null, "status": status,
        "attempts": i64::from(txn.outcome.is_some()), "notes": notes, "created_at": 1_763_700_000
    })
}

/// The payment entity of a transaction the payer paid (by its current outcome: `captured`,
/// `failed`, or `authorized` while pending).
pub(super) fn razorpay_payment(txn: &SimTxn) -> Value {
    let status = match txn.outcome {
        Some(SimOutcome::Success) => "captured",
        Some(SimOutcome::Failure) => "failed",
        Some(SimOutcome::Pending) | None => "authorized",
    };
    let failed = status == "failed";
    let notes = json!({ "eg_pg_txnid": txn.txn_id });
    json!({
        "id": txn.gateway_ref, "entity": "payment", "amount": txn.reported_amount_paise,
        "currency": "INR", "status": status, "order_id": razorpay_order_id(txn),
        "invoice_id": null, "international": false, "method": "upi", "amount_refunded": 0,
        "refund_status": null, "captured": status == "captured",
        "description": txn.request.get("checkout:description").cloned().unwrap_or_default(),
        "card_id": null, "bank": null, "wallet": null, "vpa": "success@razorpay",
        "email": txn.request.get("checkout:prefill[email]").cloned().unwrap_or_default(),
        "contact": txn.request.get("checkout:prefill[contact]").cloned().unwrap_or_default(),
        "notes": notes, "fee": if status == "captured" { json!(236) } else { Value::Null },
        "tax": if status == "captured" { json!(36) } else { Value::Null },
        "error_code": if failed { json!("BAD_REQUEST_ERROR") } else { Value::Null },
        "error_description": if failed { json!("Payment failed") } else { Value::Null },
        "error_source": if failed { json!("customer") } else { Value::Null },
        "error_step": if failed { json!("payment_authorization") } else { Value::Null },
        "error_reason": if failed { json!("payment_failed") } else { Value::Null },
        "acquirer_data": {"rrn": "633012345678"}, "created_at": 1_763_700_100
    })
}

fn collection(items: Vec<Value>) -> Value {
    json!({"entity": "collection", "count": items.len(), "items": items})
}

async fn razorpay_create_order(
    State(shared): State<Shared_>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let request: Option<Value> = serde_json::from_str(&body).ok();
    let receipt = request
        .as_ref()
        .and_then(|r| r.get("receipt"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(r) = gate(
        &shared,
        SimGateway::Razorpay,
        SimCallKind::Debit,
        receipt.as_deref(),
    )
    .await
    {
        return r;
    }
    if !razorpay_auth_ok(&headers) {
        return razorpay_unauthorized();
    }
    let Some(request) = request else {
        return razorpay_error(StatusCode::BAD_REQUEST, "The request body is invalid", None);
    };
    let Some(amount) = request.get("amount").and_then(Value::as_i64) else {
        return razorpay_error(
            StatusCode::BAD_REQUEST,
            "The amount must be an integer.",
            Some("amount"),
        );
    };
    if amount < 100 {
        return razorpay_error(
            StatusCode::BAD_REQUEST,
            "The amount must be atleast INR 1.00",
            Some("amount"),
        );
    }
    if request.get("currency").and_then(Value::as_str) != Some("INR") {
        return razorpay_error(
            StatusCode::BAD_REQUEST,
            "The currency field is required.",
            Some("currency"),
        );
    }
    let receipt = receipt.unwrap_or_default();
    if receipt.chars().count() > 40 {
        return razorpay_error(
            StatusCode::BAD_REQUEST,
            "The receipt may not be greater than 40 characters.",
            Some("receipt"),
        );
    }
    let order_id = format!(
        "order_{}",
        shared.next_ref("KoshSim").trim_start_matches('_')
    );
    let mut fields = BTreeMap::new();
    fields.insert("order_id".to_string(), order_id.clone());
    fields.insert(
        "notes".to_string(),
        request
            .get("notes")
            .cloned()
            .unwrap_or(json!([]))
            .to_string(),
    );
    let txn = SimTxn {
        gateway: SimGateway::Razorpay,
        txn_id: receipt.clone(),
        amount_paise: amount,
        reported_amount_paise: amount,
        outcome: None,
        gateway_ref: String::new(),
        callback_url: String::new(),
        request: fields,
    };
    let order = razorpay_order(&txn);
    {
        let mut inner = shared.lock();
        inner
            .txns
            .insert((SimGateway::Razorpay, receipt.clone()), txn);
        inner
            .tokens
            .insert(order_id, (SimGateway::Razorpay, receipt));
    }
    json_response(StatusCode::OK, order)
}

async fn razorpay_orders(
    State(shared): State<Shared_>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let fields = form(query.as_deref().unwrap_or(""));
    let receipt = fields.get("receipt").cloned().unwrap_or_default();
    let expand = fields.get("expand[]").map(String::as_str) == Some("payments");
    if let Some(r) = gate(
        &shared,
        SimGateway::Razorpay,
        SimCallKind::Status,
        Some(&receipt),
    )
    .await
    {
        return r;
    }
    if !razorpay_auth_ok(&headers) {
        return razorpay_unauthorized();
    }
    let items = find(&shared, SimGateway::Razorpay, &receipt)
        .map(|txn| {
            let mut order = razorpay_order(&txn);
            if expand {
                let payments = match txn.outcome {
                    None => vec![],
                    Some(_) => vec![razorpay_payment(&txn)],
                };
                order["payments"] = collection(payments);
            }
            vec![order]
        })
        .unwrap_or_default();
    json_response(StatusCode::OK, collection(items))
}

fn razorpay_by_order(shared: &Shared, order_id: &str) -> Option<SimTxn> {
    let inner = shared.lock();
    if let Some(key) = inner.tokens.get(order_id) {
        return inner.txns.get(key).cloned();
    }
    inner
        .txns
        .values()
        .find(|t| t.gateway == SimGateway::Razorpay && razorpay_order_id(t) == order_id)
        .cloned()
}

async fn razorpay_order_payments(
    State(shared): State<Shared_>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let txn = razorpay_by_order(&shared, &order_id);
    if let Some(r) = gate(
        &shared,
        SimGateway::Razorpay,
        SimCallKind::Status,
        txn.as_ref().map(|t| t.txn_id.as_str()),
    )
    .await
    {
        return r;
    }
    if !razorpay_auth_ok(&headers) {
        return razorpay_unauthorized();
    }
    match txn {
        None => razorpay_error(
            StatusCode::BAD_REQUEST,
            "The id provided does not exist",
            None,
        ),
        Some(txn) if txn.outcome.is_none() => json_response(StatusCode::OK, collection(vec![])),
        Some(txn) => json_response(StatusCode::OK, collection(vec![razorpay_payment(&txn)])),
    }
}

async fn razorpay_payment_by_id(
    State(shared): State<Shared_>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let txn = shared
        .lock()
        .txns
        .values()
        .find(|t| {
            t.gateway == SimGateway::Razorpay && t.outcome.is_some() && t.gateway_ref == payment_id
        })
        .cloned();
    if let Some(r) = gate(
        &shared,
        SimGateway::Razorpay,
        SimCallKind::Status,
        txn.as_ref().map(|t| t.txn_id.as_str()),
    )
    .await
    {
        return r;
    }
    if !razorpay_auth_ok(&headers) {
        return razorpay_unauthorized();
    }
    match txn {
        None => razorpay_error(
            StatusCode::BAD_REQUEST,
            "The id provided does not exist",
            None,
        ),
        Some(txn) => json_response(StatusCode::OK, razorpay_payment(&txn)),
    }
}

// ---------------------------------------------------------------------------------------------
// SANDBOX

async fn sandbox_status(
    State(shared): State<Shared_>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let txn_id = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("txnId").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    if let Some(r) = gate(
        &shared,
        SimGateway::Sandbox,
        SimCallKind::Status,
        Some(&txn_id),
    )
    .await
    {
        return r;
    }
    let signature = headers
        .get(sandbox::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if txn_id.is_empty()
        || !hex_eq_ignore_case(
            signature,
            &sandbox::status_request_signature(creds::SANDBOX_SECRET, &txn_id),
        )
    {
        return json_response(StatusCode::UNAUTHORIZED, json!({"error": "bad signature"}));
    }
    let answer = match find(&shared, SimGateway::Sandbox, &txn_id) {
        None => sandbox::status_answer(creds::SANDBOX_SECRET, &txn_id, None, "", ""),
        Some(txn) => sandbox::status_answer(
            creds::SANDBOX_SECRET,
            &txn_id,
            Some(txn.outcome.map_or(TxnStatus::Pending, SimOutcome::status)),
            &wire::rupees_text(Paise::new(txn.reported_amount_paise)),
            &txn.gateway_ref,
        ),
    };
    json_response(StatusCode::OK, answer)
}

fn uuid_like(shared: &Shared) -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}{}", shared.next_ref(""))
}
