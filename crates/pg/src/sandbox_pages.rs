//! The SANDBOX gateway's side, hosted by kosh itself under `/pg-service/sandbox/...`, so that
//! `kosh serve` takes online payments end to end with no bank and no configuration. It plays
//! an outside bank and speaks the protocol of [`crate::gateways::sandbox`]:
//!
//! - `GET /pg-service/sandbox/pay?...` (the redirect kosh hands the payer): a page showing the
//!   payment, with buttons to pay, decline, or leave it pending. The request's signature is
//!   checked, so the amount and callback cannot be changed.
//! - `POST /pg-service/sandbox/pay` (the page's form): records the payer's choice in the
//!   sandbox's own books (`pg_sandbox_payments`; SUCCESS and FAILURE are final there too) and
//!   answers 303 to the callback URL with the signed callback parameters.
//! - `POST /pg-service/sandbox/status` (the SANDBOX gateway's server-to-server query): the
//!   recorded outcome, signed; `NOT_FOUND` when the payer never chose.
//! - `POST /pg-service/gateway/sandbox/_complete` `{"RequestInfo"?, "txnId", "status",
//!   "amount"?}`: the page's choice for automated clients (integrators' test suites, load
//!   tests, UI flows). The page is authorised by its signed link, which only the transaction's
//!   creator is given; `_complete` by the creator's token (and a role-action). It records the
//!   outcome in the same books as the page, for a known SANDBOX transaction only: SUCCESS and
//!   FAILURE are final (the same outcome again is answered as recorded, another is refused
//!   with `SANDBOX_PAYMENT_SETTLED`). `amount`, when given, is what the sandbox says it took:
//!   another amount than the transaction's makes the gateway report a mismatch, which leaves
//!   the transaction PENDING. It settles nothing itself: the next `_update` (or
//!   reconciliation) asks the status API, as after the page; its answer names the callback
//!   URL the page would have sent the payer to.
//!
//! The sandbox takes no money: a deployment that handles real payments turns it off.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use kosh_platform::{
    AuthUser, Clock, Db, DigitError, DigitJson, ErrorItem, RequestInfo, ResponseInfo, write_tx,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateways::TxnStatus;
use crate::gateways::sandbox::{self, PayRequest};
use crate::service::PgService;
use crate::txn::parse_status;
use kosh_platform::money::{Paise, wire};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<PgService>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(pay_page, pay))
        .routes(routes!(status))
        .routes(routes!(complete))
}

fn secret(pg: &PgService) -> Result<&str, DigitError> {
    pg.sandbox_secret().ok_or_else(|| {
        DigitError::new(
            "SANDBOX_NOT_CONFIGURED",
            "The SANDBOX payment gateway is not configured",
        )
        .with_status(StatusCode::NOT_FOUND)
    })
}

fn pairs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(text).unwrap_or_default() {
        out.entry(k).or_insert(v);
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn refused(reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>kosh sandbox</title>\
             <h1>Payment request refused</h1><p>{}</p>",
            escape(reason)
        )),
    )
        .into_response()
}

/// The sandbox's record of a transaction: (status, amount, sandbox reference).
async fn recorded(
    conn: &mut AnyConnection,
    txn_id: &str,
) -> Result<Option<(TxnStatus, Paise, String)>, DigitError> {
    let row = sqlx::query(
        "SELECT status, amount, sandbox_ref FROM pg_sandbox_payments WHERE txn_id = $1",
    )
    .bind(txn_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(row) => {
            let status: String = row.try_get(0)?;
            Some((
                parse_status(&status),
                Paise::new(row.try_get(1)?),
                row.try_get(2)?,
            ))
        }
        None => None,
    })
}

/// The payer's page.
#[utoipa::path(get, path = "/pg-service/sandbox/pay", tag = "pg-service sandbox",
    responses((status = 200, description = "HTML page to complete, decline or leave pending a sandbox payment"),
        (status = 400, description = "the request's signature does not verify")))]
async fn pay_page(
    State(pg): State<Arc<PgService>>,
    State(db): State<Db>,
    RawQuery(query): RawQuery,
) -> Result<Response, DigitError> {
    let secret = secret(&pg)?;
    let params = pairs(query.as_deref().unwrap_or(""));
    let request = match sandbox::parse_pay_request(secret, &params) {
        Ok(r) => r,
        Err(reason) => return Ok(refused(&reason)),
    };
    let existing = {
        let mut conn = db.pool().acquire().await?;
        recorded(&mut conn, &request.txn_id).await?
    };
    let hidden: String = [
        "txnId",
        "amount",
        "billId",
        "consumerCode",
        "productInfo",
        "tenantId",
        "callbackUrl",
        "signature",
    ]
    .iter()
    .map(|name| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(params.get(*name).map(String::as_str).unwrap_or(""))
        )
    })
    .collect();
    let settled = existing
        .as_ref()
        .is_some_and(|(status, _, _)| *status != TxnStatus::Pending);
    let choices = if settled {
        "<p>This payment is already settled; continue to return to the merchant.</p>\
         <button name=\"outcome\" value=\"SUCCESS\">Continue</button>"
            .to_string()
    } else {
        "<button name=\"outcome\" value=\"SUCCESS\">Pay</button> \
         <button name=\"outcome\" value=\"FAILURE\">Decline</button> \
         <button name=\"outcome\" value=\"PENDING\">Leave pending</button>"
            .to_string()
    };
    let status_line = existing
        .map(|(status, _, reference)| {
            format!(
                "<p>Sandbox status: <b>{}</b> (reference {})</p>",
                status.as_str(),
                escape(&reference)
            )
        })
        .unwrap_or_default();
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>kosh sandbox payment</title>\
         <style>body{{font-family:sans-serif;max-width:36em;margin:2em auto}}td{{padding:.2em 1em}}\
         button{{font-size:1.1em;margin:.3em}}</style></head><body>\
         <h1>kosh sandbox payment</h1>\
         <p>A test gateway: no money moves.</p>\
         <table><tr><td>Transaction</td><td>{txn}</td></tr>\
         <tr><td>Amount</td><td>&#8377; {amount}</td></tr>\
         <tr><td>Bill</td><td>{bill}</td></tr>\
         <tr><td>Consumer code</td><td>{consumer}</td></tr>\
         <tr><td>For</td><td>{product}</td></tr>\
         <tr><td>Tenant</td><td>{tenant}</td></tr></table>{status_line}\
         <form method=\"post\" action=\"pay\">{hidden}{choices}</form></body></html>",
        txn = escape(&request.txn_id),
        amount = escape(&request.amount),
        bill = escape(&request.bill_id),
        consumer = escape(&request.consumer_code),
        product = escape(&request.product_info),
        tenant = escape(&request.tenant_id),
    );
    Ok(Html(page).into_response())
}

async fn record(
    conn: &mut AnyConnection,
    request: &PayRequest,
    outcome: TxnStatus,
    now: i64,
) -> Result<(TxnStatus, Paise, String), DigitError> {
    let reference = format!(
        "SBX{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12].to_ascii_uppercase()
    );
    sqlx::query(
        "INSERT INTO pg_sandbox_payments (txn_id, tenant_id, amount, status, sandbox_ref, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (txn_id) DO NOTHING",
    )
    .bind(&request.txn_id)
    .bind(&request.tenant_id)
    .bind(request.amount_paise.get())
    .bind(outcome.as_str())
    .bind(&reference)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // A pending payment may still be completed or declined; a settled one stays settled.
    sqlx::query(
        "UPDATE pg_sandbox_payments SET status = $1, updated_ms = $2 WHERE txn_id = $3 AND status = 'PENDING'",
    )
    .bind(outcome.as_str())
    .bind(now)
    .bind(&request.txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(recorded(conn, &request.txn_id)
        .await?
        .unwrap_or((outcome, request.amount_paise, reference)))
}

/// The payer's choice: recorded, then 303 to the callback with the signed parameters.
#[utoipa::path(post, path = "/pg-service/sandbox/pay", tag = "pg-service sandbox",
    responses((status = 303, description = "to callbackUrl with sandbox_txnid, status, amount, sandbox_ref, mode, message, signature"),
        (status = 400, description = "the request's signature does not verify")))]
async fn pay(
    State(pg): State<Arc<PgService>>,
    State(db): State<Db>,
    State(clock): State<Clock>,
    body: String,
) -> Result<Response, DigitError> {
    let secret = secret(&pg)?;
    let params = pairs(&body);
    kosh_platform::extract::check_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let request = match sandbox::parse_pay_request(secret, &params) {
        Ok(r) => r,
        Err(reason) => return Ok(refused(&reason)),
    };
    let outcome = match params.get("outcome").map(String::as_str) {
        Some("SUCCESS") => TxnStatus::Success,
        Some("FAILURE") => TxnStatus::Failure,
        Some("PENDING") => TxnStatus::Pending,
        _ => return Ok(refused("outcome must be SUCCESS, FAILURE or PENDING")),
    };
    let now = clock.now_ms();
    let (status, amount, reference) =
        write_tx!(db, |conn| { record(conn, &request, outcome, now).await })?;
    let fields = sandbox::callback_params(
        secret,
        &request.txn_id,
        status,
        &wire::rupees_text(amount),
        &reference,
    );
    let Ok(mut url) = reqwest::Url::parse(&request.callback_url) else {
        return Ok(refused("callbackUrl is not a URL"));
    };
    url.query_pairs_mut().extend_pairs(fields.iter());
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, url.to_string())],
        "",
    )
        .into_response())
}

/// The SANDBOX gateway's status query.
#[utoipa::path(post, path = "/pg-service/sandbox/status", tag = "pg-service sandbox",
    responses((status = 200, description = "{txnId, status, amount, sandboxRef, mode, message, signature}"),
        (status = 401, description = "the request's signature does not verify")))]
async fn status(
    State(pg): State<Arc<PgService>>,
    State(db): State<Db>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, DigitError> {
    let secret = secret(&pg)?;
    let txn_id = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("txnId").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let signature = headers
        .get(sandbox::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = sandbox::status_request_signature(secret, &txn_id);
    if txn_id.is_empty() || !crate::crypto::hex_eq_ignore_case(signature, &expected) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "signature does not verify"})),
        )
            .into_response());
    }
    let found = {
        let mut conn = db.pool().acquire().await?;
        recorded(&mut conn, &txn_id).await?
    };
    let answer = match found {
        Some((status, amount, reference)) => sandbox::status_answer(
            secret,
            &txn_id,
            Some(status),
            &wire::rupees_text(amount),
            &reference,
        ),
        None => sandbox::status_answer(secret, &txn_id, None, "", ""),
    };
    Ok(Json(answer).into_response())
}

/// `_complete`'s request.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    /// kosh's transaction id.
    pub txn_id: Option<String>,
    /// SUCCESS, FAILURE or PENDING (the page's "Pay", "Decline", "Leave pending").
    pub status: Option<String>,
    /// Rupees, as a string or a number; the transaction's amount when absent.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Value>,
}

fn bad_request(code: &str, message: &str) -> DigitError {
    DigitError::new(code, message)
}

fn requested_amount(amount: &Option<Value>) -> Result<Option<Paise>, DigitError> {
    let text = match amount {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => String::new(),
    };
    wire::parse_rupees_text(&text)
        .ok()
        .filter(|p| p.get() >= 0)
        .map(Some)
        .ok_or_else(|| {
            bad_request(
                "SANDBOX_INVALID_AMOUNT",
                "amount must be rupees, at most two decimals",
            )
        })
}

/// Records `outcome` (for `amount`) in the sandbox's books, as the page does: a new record, or
/// a PENDING one moved on. The record as it stands after.
async fn record_outcome(
    conn: &mut AnyConnection,
    txn_id: &str,
    tenant_id: &str,
    outcome: TxnStatus,
    amount: Paise,
    now: i64,
) -> Result<(TxnStatus, Paise, String), DigitError> {
    let reference = format!(
        "SBX{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12].to_ascii_uppercase()
    );
    sqlx::query(
        "INSERT INTO pg_sandbox_payments (txn_id, tenant_id, amount, status, sandbox_ref, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (txn_id) DO NOTHING",
    )
    .bind(txn_id)
    .bind(tenant_id)
    .bind(amount.get())
    .bind(outcome.as_str())
    .bind(&reference)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE pg_sandbox_payments SET status = $1, amount = $2, updated_ms = $3 \
         WHERE txn_id = $4 AND status = 'PENDING'",
    )
    .bind(outcome.as_str())
    .bind(amount.get())
    .bind(now)
    .bind(txn_id)
    .execute(&mut *conn)
    .await?;
    Ok(recorded(conn, txn_id)
        .await?
        .unwrap_or((outcome, amount, reference)))
}

/// The payer's choice, for automated clients: recorded in the sandbox's books as the page
/// records it. The transaction settles at its next `_update` or reconciliation.
#[utoipa::path(post, path = "/pg-service/gateway/sandbox/_complete", tag = "pg-service sandbox",
    request_body = CompleteRequest,
    responses((status = 200, description = "ResponseInfo and SandboxPayment {txnId, tenantId, status, amount, sandboxRef, callbackUrl}"),
        (status = 400, description = "no or unknown txnId, not a SANDBOX transaction, bad status or amount"),
        (status = 403, description = "another user's transaction"),
        (status = 404, description = "SANDBOX_NOT_CONFIGURED: the SANDBOX gateway is off"),
        (status = 409, description = "SANDBOX_PAYMENT_SETTLED: already SUCCESS or FAILURE with another outcome")))]
async fn complete(
    State(pg): State<Arc<PgService>>,
    State(db): State<Db>,
    State(clock): State<Clock>,
    user: AuthUser,
    DigitJson(request): DigitJson<CompleteRequest>,
) -> Result<Json<Value>, DigitError> {
    let secret = secret(&pg)?;
    let txn_id = request
        .txn_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("SANDBOX_TXN_ID_MISSING", "txnId is mandatory"))?
        .to_string();
    let outcome = match request
        .status
        .as_deref()
        .map(|s| s.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("SUCCESS") => TxnStatus::Success,
        Some("FAILURE") => TxnStatus::Failure,
        Some("PENDING") => TxnStatus::Pending,
        _ => {
            return Err(bad_request(
                "SANDBOX_INVALID_STATUS",
                "status must be SUCCESS, FAILURE or PENDING",
            ));
        }
    };
    let amount = requested_amount(&request.amount)?;
    let txn = {
        let mut conn = db.pool().acquire().await?;
        crate::txn::store::load(&mut conn, &txn_id).await?
    }
    .ok_or_else(|| bad_request("SANDBOX_TXN_NOT_FOUND", "Transaction not found"))?;
    if txn.user.uuid != user.uuid {
        // Answered as an unknown id, so that a caller cannot learn which transaction ids
        // exist; the real reason is logged.
        tracing::warn!(%txn_id, user = %user.user_name, "sandbox completion of another user's transaction refused");
        return Err(bad_request(
            "SANDBOX_TXN_NOT_FOUND",
            "Transaction not found",
        ));
    }
    if txn.gateway != sandbox::NAME {
        return Err(bad_request(
            "SANDBOX_NOT_THE_GATEWAY",
            "The transaction was not made through the SANDBOX gateway",
        ));
    }
    let wanted = amount.unwrap_or(txn.amount);
    let now = clock.now_ms();
    let (status, recorded_amount, reference) = write_tx!(db, |conn| {
        record_outcome(conn, &txn.txn_id, &txn.tenant_id, outcome, wanted, now).await
    })?;
    // Idempotent for the same outcome (and amount, when one is named); final otherwise.
    if status != outcome || amount.is_some_and(|a| a != recorded_amount) {
        return Err(DigitError::item(
            ErrorItem::new(
                "SANDBOX_PAYMENT_SETTLED",
                "The sandbox payment is already settled; SUCCESS and FAILURE are final",
            )
            .with_description(format!(
                "Transaction {txn_id} is {} for {} at the sandbox",
                status.as_str(),
                wire::rupees_text(recorded_amount)
            )),
        )
        .with_status(StatusCode::CONFLICT));
    }
    let amount_text = wire::rupees_text(recorded_amount);
    let fields = sandbox::callback_params(secret, &txn.txn_id, status, &amount_text, &reference);
    let callback_url = reqwest::Url::parse(&txn.callback_url)
        .map(|mut url| {
            url.query_pairs_mut().extend_pairs(fields.iter());
            url.to_string()
        })
        .unwrap_or_default();
    tracing::info!(%txn_id, status = status.as_str(), amount = %amount_text, by = %user.user_name, "sandbox payment completed");
    Ok(Json(json!({
        "ResponseInfo": ResponseInfo::from_request(request.request_info.as_ref(), "SUCCESSFUL", clock.now_ms()),
        "SandboxPayment": {
            "txnId": txn.txn_id,
            "tenantId": txn.tenant_id,
            "status": status.as_str(),
            "amount": amount_text,
            "sandboxRef": reference,
            "callbackUrl": callback_url,
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn first_value_of_a_repeated_key_wins() {
        let p = pairs("a=1&b=2&a=3");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
    }
}
