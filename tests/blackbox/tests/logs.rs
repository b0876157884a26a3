//! Secrets never reach the log, on SQLite and on PostgreSQL: with every target logging at
//! debug, in kosh's text and JSON formats, a user is created, signs in, calls with the token
//! in each place DIGIT's clients put it, refreshes, changes the password, fails a sign-in
//! and sends broken JSON with a password in it, and the captured log contains none of the
//! passwords nor any access or refresh token.
//!
//! The kosh server runs in this test process, so a process-wide subscriber sees everything
//! it logs (this file is its own test binary, so no other test shares the capture).

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use kosh_blackbox::{ADMIN_PASSWORD, BASIC_CLIENT, Backend, Kosh, on_both_databases, read};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

on_both_databases!(no_password_or_token_is_ever_logged);

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every event at debug, as `KOSH_LOG=debug` does, in both of kosh's formats.
fn capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("debug"))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(|| Capture)
                    .with_ansi(false),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(|| Capture),
            )
            .init();
    });
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

async fn form(kosh: &Kosh, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .form(pairs)
        .send()
        .await
        .unwrap();
    read(response).await
}

async fn raw(kosh: &Kosh, path: &str, headers: &[(&str, &str)], body: String) -> StatusCode {
    let mut request = kosh
        .client
        .post(kosh.url(path))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

async fn no_password_or_token_is_ever_logged(backend: Backend) {
    capture();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    // Distinct, greppable secrets for this run.
    let first = format!("Pw@{}", &tag[..8]);
    let second = format!("Nw@{}", &tag[8..16]);
    let wrong = format!("Wr@{}", &tag[16..24]);
    let in_broken_json = format!("Bj@{}", &tag[24..32]);
    let kosh = Kosh::start(backend).await;
    let mut secrets = vec![
        ADMIN_PASSWORD.to_string(),
        kosh.admin_token.clone(),
        first.clone(),
        second.clone(),
        wrong.clone(),
        in_broken_json.clone(),
    ];
    let user = format!("clerk-{}", &tag[..6]);
    kosh.create_user(json!({"userName": user, "name": "Clerk", "type": "EMPLOYEE", "active": true,
        "password": first, "tenantId": "pb.amritsar", "roles": [{"code": "EMPLOYEE", "tenantId": "pb.amritsar"}]}))
        .await;

    let sign_in = |password: String| {
        let kosh = &kosh;
        let user = user.clone();
        async move {
            form(
                kosh,
                &[
                    ("username", &user),
                    ("password", &password),
                    ("grant_type", "password"),
                    ("scope", "read"),
                    ("tenantId", "pb.amritsar"),
                    ("userType", "EMPLOYEE"),
                ],
            )
            .await
        }
    };
    let (status, body) = sign_in(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    secrets.extend([access.clone(), refresh.clone()]);

    // The token in the body, in the auth-token header, as a bearer, and in a query string.
    let idgen = json!({"RequestInfo": {"authToken": access}, "idRequests": [{"idName": "pt.receipt.id", "tenantId": "pb.amritsar"}]});
    let (status, body) = kosh
        .post_as(&access, "/egov-idgen/id/_generate", idgen.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plain = r#"{"RequestInfo": {}, "idRequests": [{"idName": "pt.receipt.id", "tenantId": "pb.amritsar"}]}"#;
    assert_eq!(
        raw(
            &kosh,
            "/egov-idgen/id/_generate",
            &[("auth-token", &access)],
            plain.into()
        )
        .await,
        StatusCode::OK
    );
    let bearer = format!("Bearer {access}");
    assert_eq!(
        raw(
            &kosh,
            "/egov-idgen/id/_generate",
            &[("authorization", &bearer)],
            plain.into()
        )
        .await,
        StatusCode::OK
    );
    let response = kosh
        .client
        .post(kosh.url(&format!("/user/_details?access_token={access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A refused call with the token (no action for it) and a made-up one.
    let (status, _) = kosh
        .post_as(
            &access,
            "/user/users/_createnovalidate",
            json!({"user": {"password": first}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let forged = format!("forged-{tag}");
    secrets.push(forged.clone());
    let (status, _) = kosh
        .post_as(&forged, "/egov-idgen/id/_generate", idgen.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Refresh twice with the sign-in's refresh token (DIGIT reuses it): a new access token
    // each time, the refresh token answered again.
    let mut access = access;
    for _ in 0..2 {
        let (status, body) = form(
            &kosh,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["refresh_token"], refresh.as_str(), "{body}");
        access = body["access_token"].as_str().unwrap().to_string();
        secrets.push(access.clone());
    }
    // A refresh token that was never issued.
    let made_up = format!("made-up-refresh-{tag}");
    secrets.push(made_up.clone());
    let (status, _) = form(
        &kosh,
        &[("grant_type", "refresh_token"), ("refresh_token", &made_up)],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown refresh token is refused"
    );

    // The password changes; a wrong one fails; the new one signs in.
    let (status, body) = kosh
        .post_as(
            &access,
            "/user/password/_update",
            json!({"existingPassword": first, "newPassword": second,
            "tenantId": "pb.amritsar", "type": "EMPLOYEE"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .post_as(
            &kosh.admin_token,
            "/user/password/_update",
            json!({"existingPassword": wrong, "newPassword": second,
            "tenantId": "pb", "type": "EMPLOYEE"}),
        )
        .await;
    assert!(status.is_client_error(), "{body}");
    let (status, body) = sign_in(wrong.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = sign_in(second.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    secrets.extend([
        access.clone(),
        body["refresh_token"].as_str().unwrap().to_string(),
    ]);

    // Broken JSON with a password in it, and JSON of the wrong shape around one.
    for (path, body) in [
        (
            "/user/users/_createnovalidate",
            format!(
                r#"{{"RequestInfo": {{"authToken": "{}"}}, "user": {{"userName": "x", "password": "{in_broken_json}""#,
                kosh.admin_token
            ),
        ),
        (
            "/user/password/_update",
            format!(
                r#"{{"RequestInfo": {{"authToken": "{access}"}}, "existingPassword": "{second}", "newPassword": {in_broken_json}}}"#
            ),
        ),
        (
            "/user/password/_update",
            format!(
                r#"{{"RequestInfo": {{"authToken": "{access}"}}, "existingPassword": ["{second}"], "newPassword": {{"x": "{in_broken_json}"}}}}"#
            ),
        ),
        (
            "/user/users/_createnovalidate",
            format!(
                r#"{{"RequestInfo": {{"authToken": "{}"}}, "user": {{"userName": "y", "password": ["{in_broken_json}"], "type": 7}}}}"#,
                kosh.admin_token
            ),
        ),
    ] {
        // The token goes in the header too: a body that does not parse cannot carry it.
        let token = if path.starts_with("/user/users") {
            &kosh.admin_token
        } else {
            &access
        };
        let status = raw(&kosh, path, &[("auth-token", token)], body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    // A sign-in form that is not a form, with a password in it.
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .body(format!(
            "grant_type=password&username={user}&password={in_broken_json}%ZZ&tenantId="
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = kosh.post_as(&access, "/user/_logout", json!({})).await;
    assert!(status.is_success() || status.is_client_error());
    let response = kosh
        .client
        .post(kosh.url(&format!("/user/_logout?access_token={access}")))
        .send()
        .await
        .unwrap();
    assert!(!response.status().is_server_error());
    kosh.stop().await;

    let log = log_text();
    assert!(
        log.contains("login refused"),
        "the capture works: {} bytes",
        log.len()
    );
    assert!(
        log.contains("/user/oauth/token") && log.contains("/user/password/_update"),
        "requests are logged"
    );
    for secret in &secrets {
        assert!(!secret.is_empty());
        if let Some(at) = log.find(secret.as_str()) {
            let line_start = log[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let line_end = log[at..].find('\n').map(|i| at + i).unwrap_or(log.len());
            panic!("a secret is in the log: {}", &log[line_start..line_end]);
        }
    }
}
