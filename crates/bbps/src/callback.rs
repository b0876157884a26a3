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
//! At most [`MAX_PENDING`] deliveries are held at once: past it a new response is not
//! queued but counted as failed and logged (the status query answers it all the same), so a
//! unit that stops answering cannot make kosh hold every response it sends meanwhile.
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
/// Deliveries held at once at most. One holds its signed response (a few kilobytes) for up
/// to five attempts of 30 s and 15 s of waits; 1,000 is a few megabytes, and ten times what a
/// unit answering within a second needs at 100 postings a second.
pub const MAX_PENDING: u64 = 1_000;
/// The longest answer from the unit kosh reads: an Ack is well under a kilobyte.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where and how kosh delivers its asynchronous responses.
#[derive(Debug)]
pub struct Callback {
    /// The unit's base URL, without a trailing `/`.
    pub base_url: String,
    client: reqwest::Client,
    max_pending: u64,
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
            max_pending: MAX_PENDING,
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

    /// Delivers `body` (a signed response) to `url` in the background, with retries; when
    /// [`MAX_PENDING`] deliveries are already held, counts it as failed instead.
    pub fn deliver(self: &std::sync::Arc<Self>, url: String, body: String) {
        let held = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                (p < self.max_pending).then_some(p + 1)
            })
            .is_ok();
        if !held {
            self.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                url,
                pending = self.max_pending,
                "BBPS response not delivered: too many deliveries pending; the unit's status query still answers it"
            );
            return;
        }
        let this = self.clone();
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
        let text = answer_text(response).await?;
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

/// The unit's answer, at most [`MAX_ANSWER_BYTES`] of it read.
async fn answer_text(mut response: reqwest::Response) -> Result<String, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("no answer: {e}"))?
    {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("an answer longer than {MAX_ANSWER_BYTES} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| "an answer that is not UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A unit that takes connections and never answers: every delivery stays pending.
    async fn silent_unit() -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn pending_deliveries_stay_within_the_bound() {
        let (url, unit) = silent_unit().await;
        let mut callback = Callback::new(&url).unwrap();
        callback.max_pending = 3;
        let callback = Arc::new(callback);
        for i in 0..10 {
            callback.deliver(
                callback.url("BillFetchResponse", &format!("r{i}")),
                "<x/>".into(),
            );
        }
        let stats = callback.stats();
        assert_eq!((stats.pending, stats.failed, stats.delivered), (3, 7, 0));
        unit.abort();
    }

    #[tokio::test]
    async fn a_long_answer_is_refused_without_being_read_whole() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bbps", listener.local_addr().unwrap());
        let unit = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let size = 16 << 20;
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&vec![b'a'; size]).await;
        });
        let callback = Callback::new(&url).unwrap();
        let why = callback.offer(&url, "<x/>").await.unwrap_err();
        assert!(why.contains("longer than"), "{why}");
        unit.abort();
    }
}
