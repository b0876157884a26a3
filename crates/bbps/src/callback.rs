//! NPCI's asynchronous exchange: kosh acknowledges a request at once and POSTs its signed
//! response to the operating unit's endpoint, retrying until the unit acknowledges it.
//!
//! With `KOSH_BBPS_CALLBACK_URL` set (the unit's base URL, `https://unit.example`), every
//! NPCI XML request but the heartbeat is answered with an `Ack` (`RspCd` Successful) in the
//! HTTP response, and kosh's signed response goes by a separate POST to
//! `<base>/bbps/<Message>Response/1.0/urn:referenceId:<refId>` — NPCI's path convention
//! (one URL per message type, the `Head@refId` in the path) — `Content-Type:
//! application/xml`. The delivery counts as done when the unit answers 2xx with an `Ack`
//! whose `RspCd` is Successful; otherwise it is tried again after 1, 2, 4 and 8 seconds
//! (five attempts in all), then given up and logged. The work is done before the Ack — a
//! posting is recorded before kosh acknowledges it — so a response the unit never got is
//! still answered by the status query (`TxnStatusRequest`, or `/bbps/v1/payments/status`).
//! A request kosh refuses (unsigned, invalid, an unknown biller, ...) gets its refusing
//! `Ack` at once, as in the synchronous exchange, and no callback. Deliveries are kept in
//! memory: a restart drops the ones still being retried. Without the setting, the signed
//! response is the HTTP response itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::xml;

/// How many times a response is offered to the unit.
pub const ATTEMPTS: u32 = 5;
/// The wait before the second attempt; each later wait doubles.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Where and how kosh delivers its asynchronous responses.
#[derive(Debug)]
pub struct Callback {
    /// The unit's base URL, without a trailing `/`.
    pub base_url: String,
    client: reqwest::Client,
    delivered: AtomicU64,
    failed: AtomicU64,
    pending: AtomicU64,
}

/// Counts of deliveries since start-up (shown by `/bbps/v1/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub delivered: u64,
    pub failed: u64,
    pub pending: u64,
}

impl Callback {
    /// The unit's endpoint, `http://` or `https://`.
    pub fn new(base_url: &str) -> anyhow::Result<Callback> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| {
            anyhow::anyhow!("KOSH_BBPS_CALLBACK_URL {base_url:?} is not a URL: {e}")
        })?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https") && url.host().is_some(),
            "KOSH_BBPS_CALLBACK_URL {base_url:?} must be an http:// or https:// URL"
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Callback {
            base_url: base,
            client,
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        })
    }

    /// The URL a response of `message` (root name) for `ref_id` is POSTed to.
    pub fn url(&self, message: &str, ref_id: &str) -> String {
        format!(
            "{}{}",
            self.base_url,
            crate::codec::endpoint_path(message, ref_id)
        )
    }

    pub fn stats(&self) -> Stats {
        Stats {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }

    /// Delivers `body` (a signed response) to `url` in the background, with retries.
    pub fn deliver(self: &std::sync::Arc<Self>, url: String, body: String) {
        let this = self.clone();
        this.pending.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut wait = FIRST_RETRY;
            for attempt in 1..=ATTEMPTS {
                match this.offer(&url, &body).await {
                    Ok(()) => {
                        this.delivered.fetch_add(1, Ordering::Relaxed);
                        this.pending.fetch_sub(1, Ordering::Relaxed);
                        tracing::info!(url, attempt, "BBPS response delivered");
                        return;
                    }
                    Err(why) if attempt < ATTEMPTS => {
                        tracing::warn!(url, attempt, why, "BBPS response not taken; trying again");
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                    Err(why) => {
                        tracing::error!(
                            url,
                            attempt,
                            why,
                            "BBPS response not delivered; the unit's status query still answers it"
                        );
                    }
                }
            }
            this.failed.fetch_add(1, Ordering::Relaxed);
            this.pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// One attempt: taken when the unit answers 2xx with an accepting Ack.
    async fn offer(&self, url: &str, body: &str) -> Result<(), String> {
        let response = self
            .client
            .post(url)
            .header("content-type", "application/xml; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("not reached: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        match xml::from_xml::<xml::Ack>(&text) {
            Ok(ack) if ack.is_accepted() => Ok(()),
            Ok(ack) => Err(format!(
                "Ack {}: {}",
                ack.rsp_cd.unwrap_or_default(),
                ack.error_messages
                    .iter()
                    .map(|e| format!("{} {}", e.error_cd, e.error_dtl))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Err(e) => Err(format!("the answer is not an Ack: {e}")),
        }
    }
}
