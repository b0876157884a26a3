//! The HTTP plumbing every gateway shares: one client per gateway with a timeout and no
//! automatic redirects, and one function that turns transport failures, timeouts and 5xx
//! answers into [`GatewayError::Unavailable`], so that no gateway module can mistake them for a
//! payment status.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, StatusCode, redirect};

use super::GatewayError;

/// Largest gateway answer kosh reads; anything longer is not a status answer.
const MAX_BODY_BYTES: usize = 1 << 20;

/// A gateway's HTTP answer that was not a transport failure or a 5xx.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Answer {
    /// The first part of the body, for error messages and logs.
    pub fn snippet(&self) -> String {
        snippet(&self.body)
    }
}

/// Cuts text to a short, single-line excerpt for error messages.
pub(crate) fn snippet(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    flat.trim().to_string()
}

/// A client for one gateway: overall timeout, connect timeout, no redirect following (PayU and
/// PhonePe answer their debit call with a redirect whose `Location` is the payer's page).
pub(crate) fn client(gateway: &'static str, timeout: Duration) -> Result<Client, GatewayError> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(redirect::Policy::none())
        .user_agent(concat!("kosh-pg/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GatewayError::Config {
            gateway,
            detail: format!("cannot build the HTTP client: {e}"),
        })
}

/// Sends a request and reads the answer. Transport errors, timeouts, 5xx, 408 and 429 are
/// [`GatewayError::Unavailable`]; a body that is too long or not UTF-8 is
/// [`GatewayError::Malformed`]. Every other status is returned for the gateway to interpret.
pub(crate) async fn send(
    gateway: &'static str,
    request: RequestBuilder,
) -> Result<Answer, GatewayError> {
    let mut response = request.send().await.map_err(|e| transport(gateway, &e))?;
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(gateway, &e))? {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(GatewayError::Malformed {
                gateway,
                detail: format!("answer longer than {MAX_BODY_BYTES} bytes"),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(bytes).map_err(|_| GatewayError::Malformed {
        gateway,
        detail: "answer is not UTF-8 text".to_string(),
    })?;
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        tracing::warn!(gateway, %status, body = %snippet(&body), "payment gateway unavailable");
        return Err(GatewayError::Unavailable {
            gateway,
            detail: format!("HTTP {status}"),
        });
    }
    Ok(Answer {
        status,
        location,
        body,
    })
}

fn transport(gateway: &'static str, error: &reqwest::Error) -> GatewayError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    tracing::warn!(gateway, error = %error, "payment gateway {what}");
    GatewayError::Unavailable {
        gateway,
        detail: format!("{what}: {error}"),
    }
}

/// The error for a 4xx (or other unexpected non-success) answer: the gateway refused what kosh
/// sent, which is a configuration or request problem, never a payment status.
pub(crate) fn rejected(gateway: &'static str, answer: &Answer) -> GatewayError {
    GatewayError::Rejected {
        gateway,
        detail: format!("HTTP {}: {}", answer.status, answer.snippet()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A gateway that answers any request with `size` bytes of body.
    async fn answering(size: usize) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/status", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&vec![b'a'; size]).await;
        });
        (url, task)
    }

    #[tokio::test]
    async fn an_answer_past_the_bound_is_refused_not_kept() {
        let client = client("TEST", Duration::from_secs(10)).unwrap();
        let (url, gateway) = answering(MAX_BODY_BYTES + 1).await;
        let err = send("TEST", client.get(&url)).await.unwrap_err();
        assert!(
            matches!(&err, GatewayError::Malformed { detail, .. } if detail.contains("longer than")),
            "{err}"
        );
        gateway.abort();
        let (url, gateway) = answering(MAX_BODY_BYTES).await;
        let answer = send("TEST", client.get(&url)).await.unwrap();
        assert_eq!(answer.body.len(), MAX_BODY_BYTES);
        gateway.abort();
    }
}
