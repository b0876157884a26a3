//! What wraps every request: a request id (the `x-request-id` header, made when absent) on
//! every log line of the request, Prometheus metrics by route and status, DIGIT's error body
//! for unknown routes, and a 500 with a correlation id instead of a dropped connection when
//! a handler panics.

use std::any::Any;
use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use kosh_platform::DigitError;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The process-wide metrics recorder (installed once, shared by every server in a process).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .expect("histogram buckets");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // A recorder installed earlier (by an embedding program) keeps working; ours then
        // only renders what it sees.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn wrap(router: Router) -> Router {
    metrics_handle();
    router
        .fallback(|req: Request| async move { DigitError::not_found_route(req.uri().path()) })
        .method_not_allowed_fallback(|req: Request| async move {
            DigitError::method_not_allowed(req.method().as_str(), req.uri().path())
        })
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(refuse_nul_in_uri))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!(
                "request",
                id = %id,
                method = %req.method(),
                path = %req.uri().path(),
                user = tracing::field::Empty
            )
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A NUL character in the path or the query (`%00`) is refused on every route, open ones
/// included, before any handler or database sees it. (Bodies are checked where they are
/// parsed: `kosh_platform::extract`.)
async fn refuse_nul_in_uri(req: Request, next: Next) -> axum::response::Response {
    let uri = req.uri();
    let carries_nul = |text: &str| text.to_ascii_lowercase().contains("%00");
    if carries_nul(uri.path()) || uri.query().is_some_and(carries_nul) {
        return kosh_platform::extract::nul_refused().into_response();
    }
    next.run(req).await
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<axum::body::Body> {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let correlation_id = uuid::Uuid::new_v4().to_string();
    tracing::error!(%correlation_id, panic = %message, "handler panicked");
    metrics::counter!("kosh_panics_total").increment(1);
    DigitError::internal(&correlation_id).into_response()
}

/// Headers that keep browsers from sniffing, framing or caching what kosh answers. The API
/// answers carry personal and payment data, so they are never stored by a cache; the docs
/// page may load its own scripts and styles only.
async fn security_headers(req: Request, next: Next) -> axum::response::Response {
    use axum::http::HeaderValue;
    let docs = req.uri().path().starts_with("/docs");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "no-referrer");
    set(
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    );
    if docs {
        set(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        );
    } else {
        set(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        );
        set("cache-control", "no-store");
    }
    response
}

async fn track(req: Request, next: Next) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("route", route),
        ("method", method.to_string()),
        ("status", status),
    ];
    metrics::counter!("kosh_http_requests_total", &labels).increment(1);
    metrics::histogram!("kosh_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a metrics label: HTTP's own methods by name, any other as `OTHER`. A client
/// may send any token as a method, and each label value is a series kept for the life of the
/// process; with routes (the matched ones, or `unmatched`) and status codes, which are bounded
/// too, the series stay a few thousand whatever clients send.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_becomes_a_500_with_a_correlation_id() {
        async fn boom() -> &'static str {
            panic!("kaboom")
        }
        let app = wrap(Router::new().route("/boom", get(boom)));
        let response = app
            .oneshot(HttpRequest::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get("x-request-id").is_some());
        assert_eq!(
            response.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["Errors"][0]["code"], "INTERNAL_SERVER_ERROR");
        assert_eq!(
            body["Errors"][0]["message"],
            "An unhandled exception occurred on the server"
        );
        assert!(
            body["Errors"][0]["description"]
                .as_str()
                .unwrap()
                .starts_with("correlation id ")
        );
        assert_eq!(body["ResponseInfo"], serde_json::Value::Null);
    }

    /// Requests with a thousand made-up methods add no series of their own.
    #[tokio::test]
    async fn made_up_methods_share_one_metrics_label() {
        let app = wrap(Router::new().route("/x", get(|| async { "x" })));
        for i in 0..1_000 {
            let method = axum::http::Method::from_bytes(format!("PROBE{i}").as_bytes()).unwrap();
            let request = HttpRequest::builder()
                .method(method)
                .uri("/x")
                .body(Body::empty())
                .unwrap();
            let _ = app.clone().oneshot(request).await.unwrap();
        }
        let rendered = metrics_handle().render();
        assert!(!rendered.contains("method=\"PROBE"), "{rendered}");
        assert!(rendered.contains("method=\"OTHER\""), "{rendered}");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
    }

    #[tokio::test]
    async fn unknown_routes_get_digits_404() {
        let app = wrap(Router::new().route("/x", get(|| async { "x" })));
        let response = app
            .oneshot(HttpRequest::get("/nope").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
