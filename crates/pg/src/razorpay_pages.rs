//! RAZORPAY's two routes on kosh's side (open: the payer's browser and Razorpay call them
//! without a token):
//!
//! - `GET /pg-service/gateway/razorpay/checkout?...` (the transaction's `redirectUrl`): checks
//!   the link's signature and answers a page whose form posts the order to Razorpay's Hosted
//!   Checkout (at once with JavaScript, by its button without). Razorpay's checkout is a form
//!   POST; DIGIT's `redirectUrl` is a GET, hence this page.
//! - `POST /pg-service/gateway/razorpay/_webhook`: Razorpay's webhook. The raw body's
//!   `X-Razorpay-Signature` (HMAC-SHA256 under the webhook secret) must verify (400
//!   `RAZORPAY_WEBHOOK_SIGNATURE_INVALID` otherwise; 404 `RAZORPAY_WEBHOOK_NOT_CONFIGURED`
//!   without a webhook secret). A verified webhook about a kosh transaction makes kosh ask
//!   Razorpay's status API about it and settle it as a callback would; the webhook's own
//!   fields decide nothing. The answer is 200 `{"status": <txnStatus or "IGNORED">}`, so that
//!   Razorpay does not retry a notice kosh has taken.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db, DigitError};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateways::razorpay::{self, WEBHOOK_SIGNATURE_HEADER};
use crate::gateways::{Gateway, GatewayError};
use crate::service::{Actor, PgService};
use crate::txn::store;

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<PgService>: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(checkout_page))
        .routes(routes!(webhook))
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

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title></head><body>{body}</body></html>",
            escape(title)
        )),
    )
        .into_response()
}

fn gateway(pg: &PgService) -> Option<Arc<dyn Gateway>> {
    pg.registry().get(razorpay::NAME)
}

/// The payer's page: a form posting the transaction's order to Razorpay's Hosted Checkout.
#[utoipa::path(get, path = "/pg-service/gateway/razorpay/checkout", tag = "pg-service razorpay",
    responses((status = 200, description = "HTML page whose form posts the order to Razorpay's Hosted Checkout"),
        (status = 400, description = "the link's signature does not verify"),
        (status = 404, description = "RAZORPAY is not configured")))]
async fn checkout_page(State(pg): State<Arc<PgService>>, RawQuery(query): RawQuery) -> Response {
    let mut params = BTreeMap::new();
    for (k, v) in
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
            .unwrap_or_default()
    {
        params.entry(k).or_insert(v);
    }
    let Some(Some(form)) = gateway(&pg).map(|g| g.hosted_form(&params)) else {
        return page(
            StatusCode::NOT_FOUND,
            "Razorpay",
            "<h1>Razorpay is not configured</h1>",
        );
    };
    let form = match form {
        Ok(form) => form,
        Err(e) => {
            tracing::warn!(error = %e, "Razorpay checkout link refused");
            return page(
                StatusCode::BAD_REQUEST,
                "Payment request refused",
                "<h1>Payment request refused</h1><p>This payment link is not valid. Please start the payment again.</p>",
            );
        }
    };
    let mut inputs = String::new();
    for (name, value) in &form.fields {
        inputs.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    page(
        StatusCode::OK,
        "Pay with Razorpay",
        &format!(
            "<form id=\"razorpay\" method=\"post\" action=\"{}\">\n{inputs}\
             <p>You are being taken to Razorpay to pay.</p>\
             <button type=\"submit\">Continue to Razorpay</button></form>\
             <script>document.getElementById(\"razorpay\").submit();</script>",
            escape(&form.action)
        ),
    )
}

/// Razorpay's webhook: verified, then the transaction it names is asked about.
#[utoipa::path(post, path = "/pg-service/gateway/razorpay/_webhook", tag = "pg-service razorpay",
    request_body(content = String, content_type = "application/json", description = "Razorpay's webhook event, its raw body signed in X-Razorpay-Signature"),
    responses((status = 200, description = "{\"status\": the transaction's status after asking Razorpay, or IGNORED}"),
        (status = 400, description = "RAZORPAY_WEBHOOK_SIGNATURE_INVALID"),
        (status = 404, description = "RAZORPAY_WEBHOOK_NOT_CONFIGURED")))]
async fn webhook(
    State(pg): State<Arc<PgService>>,
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, DigitError> {
    let not_configured = || {
        DigitError::new(
            "RAZORPAY_WEBHOOK_NOT_CONFIGURED",
            "Razorpay webhooks are not configured",
        )
        .with_status(StatusCode::NOT_FOUND)
    };
    let signature = headers
        .get(WEBHOOK_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let notice = match gateway(&pg).and_then(|g| g.verify_webhook(signature, &body)) {
        None | Some(Err(GatewayError::Config { .. })) => return Err(not_configured()),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "Razorpay webhook refused");
            return Err(DigitError::new(
                "RAZORPAY_WEBHOOK_SIGNATURE_INVALID",
                "The webhook's X-Razorpay-Signature does not verify",
            ));
        }
        Some(Ok(notice)) => notice,
    };
    let ignored = || Ok(Json(json!({"status": "IGNORED"})));
    let Some(txn_id) = notice.txn_id else {
        tracing::info!(event = %notice.event, "Razorpay webhook names no kosh transaction; ignored");
        return ignored();
    };
    let txn = {
        let mut conn = db.pool().acquire().await?;
        store::load(&mut conn, &txn_id).await?
    };
    let Some(txn) = txn.filter(|t| t.gateway == razorpay::NAME) else {
        tracing::info!(event = %notice.event, %txn_id, "Razorpay webhook names no RAZORPAY transaction of kosh; ignored");
        return ignored();
    };
    let txn = pg
        .refresh(&db, &mdms, &clock, txn, &BTreeMap::new(), Actor::Callback)
        .await?;
    tracing::info!(event = %notice.event, %txn_id, status = %txn.status, "Razorpay webhook");
    Ok(Json(json!({"status": txn.status.as_str()})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
