//! Black-box test harness: each test starts a real kosh server on a free port, on a fresh
//! SQLite file or a fresh PostgreSQL database, and talks to it over real HTTP.
//!
//! PostgreSQL comes from `KOSH_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test creates its own database there and drops it afterwards. A test on PostgreSQL
//! fails, never skips, when PostgreSQL cannot be reached: `scripts/test` starts it.

pub mod books;

use std::path::PathBuf;

use kosh_server::Running;
use kosh_server::cli::{ClockMode, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

pub fn admin_pg_url() -> String {
    std::env::var("KOSH_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The administrator every test server starts with.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "Admin@1234";
/// DIGIT's OAuth client header.
pub const BASIC_CLIENT: &str = "Basic ZWdvdi11c2VyLWNsaWVudDo=";

/// A kosh server under test.
pub struct Kosh {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// The administrator's access token (SUPERUSER and EMPLOYEE at the state tenant `pb`).
    pub admin_token: String,
    running: Option<Running>,
    dir: PathBuf,
    pg_database: Option<String>,
    settings: Settings,
}

/// The personal-data keys of every test instance, in the key file kosh reads from its data
/// folder when `KOSH_PII_KEYS` is not set (`<data dir>/kosh.keys`). The key ring is one per
/// process, as in production; a test that runs several instances, or `kosh` subcommands on
/// an instance's data folder, needs them all to share one pair of keys. Tests of the keys
/// themselves (pii.rs) set other keys through the settings.
fn write_test_key_file(dir: &std::path::Path) {
    let path = dir.join("kosh.keys");
    std::fs::write(
        &path,
        "KOSH_PII_KEYS=test:a29zaC10ZXN0LXNlYWxpbmcta2V5LTMyLWJ5dGVzISE=\n\
         KOSH_PII_INDEX_KEY=a29zaC10ZXN0LWJsaW5kLWluZGV4LWtleS0zMmJ5ISE=\n",
    )
    .expect("test key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("key file mode");
    }
}

impl Kosh {
    pub async fn start(backend: Backend) -> Kosh {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts kosh with the manual test clock, after `adjust` has changed the settings.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Kosh {
        let dir = std::env::temp_dir().join(format!("kosh-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        write_test_key_file(&dir);
        let mut settings = Settings::defaults();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        settings.data_dir = dir.clone();
        settings.database_url = None;
        settings.mdms_dir = None;
        settings.clock = ClockMode::Manual;
        settings.db_max_connections = 8;
        settings.admin_username = ADMIN.into();
        settings.admin_password = Some(ADMIN_PASSWORD.into());
        let mut pg_database = None;
        if backend == Backend::Postgres {
            let name = format!("kosh_t_{}", uuid::Uuid::new_v4().simple());
            let admin = admin_pg_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin} is needed for this test (run scripts/test): {e}")
                });
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let _ = conn.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            settings.database_url = Some(format!("{base}/{name}"));
            pg_database = Some(name);
        }
        adjust(&mut settings);
        let running = kosh_server::start(&settings).await.expect("kosh starts");
        let mut kosh = Kosh {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            backend,
            admin_token: String::new(),
            running: Some(running),
            dir,
            pg_database,
            settings,
        };
        let state = kosh
            .state()
            .mdms
            .states()
            .first()
            .map(|s| s.to_string())
            .expect("a state");
        kosh.admin_token = kosh.token(ADMIN, ADMIN_PASSWORD, &state, "EMPLOYEE").await;
        kosh
    }

    /// Signs in with DIGIT's form post; the status and the JSON answer.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        tenant: &str,
        user_type: &str,
    ) -> (StatusCode, Value) {
        self.login_from(&self.client, username, password, tenant, user_type)
            .await
    }

    pub async fn login_from(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
        tenant: &str,
        user_type: &str,
    ) -> (StatusCode, Value) {
        let form = [
            ("username", username),
            ("password", password),
            ("grant_type", "password"),
            ("scope", "read"),
            ("tenantId", tenant),
            ("userType", user_type),
        ];
        let response = client
            .post(self.url("/user/oauth/token"))
            .header("authorization", BASIC_CLIENT)
            .form(&form)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// Signs in and returns the access token (panics on refusal).
    pub async fn token(
        &self,
        username: &str,
        password: &str,
        tenant: &str,
        user_type: &str,
    ) -> String {
        let (status, body) = self.login(username, password, tenant, user_type).await;
        assert_eq!(status, StatusCode::OK, "login of {username} failed: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Creates a user as the administrator; the answer's user.
    pub async fn create_user(&self, user: Value) -> Value {
        let (status, body) = self.create_user_raw(user).await;
        assert_eq!(status, StatusCode::OK, "user creation failed: {body}");
        body["user"][0].clone()
    }

    pub async fn create_user_raw(&self, user: Value) -> (StatusCode, Value) {
        self.post(
            "/user/users/_createnovalidate",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "user": user}),
        )
        .await
    }

    /// A client whose connections come from `source` (e.g. 127.0.0.2).
    pub fn client_from(source: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(source.parse::<std::net::IpAddr>().ok())
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn state(&self) -> &kosh_server::AppState {
        &self.running.as_ref().expect("running").state
    }

    /// POSTs JSON as the administrator (token in `RequestInfo.authToken`); returns the status
    /// and the body parsed as JSON (Null when empty).
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(&self.admin_token, path, body).await
    }

    /// POSTs JSON with `token` in `RequestInfo.authToken`, as DIGIT's clients do.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as_from(&self.client, token, path, body).await
    }

    pub async fn post_as_from(
        &self,
        client: &reqwest::Client,
        token: &str,
        path: &str,
        mut body: Value,
    ) -> (StatusCode, Value) {
        if let Some(object) = body.as_object_mut() {
            let request_info = object.entry("RequestInfo").or_insert_with(|| json!({}));
            request_info["authToken"] = json!(token);
        }
        let response = client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// POSTs JSON with no token at all.
    pub async fn post_anonymous(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// POSTs raw bytes as JSON.
    pub async fn post_raw(&self, path: &str, body: &'static str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("auth-token", &self.admin_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// Moves the server's manual clock forward.
    pub async fn advance_clock(&self, ms: i64) -> i64 {
        let (status, body) = self.post("/_kosh/clock", json!({"advanceMs": ms})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["nowMs"].as_i64().expect("nowMs")
    }

    pub async fn set_clock(&self, ms: i64) {
        let (status, body) = self.post("/_kosh/clock", json!({"nowMs": ms})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The settings this server was started with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Stops the server and starts it again on the same database and data folder, after
    /// `adjust` has changed the settings (a restart, an upgrade, new keys). The administrator's
    /// token stays valid.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Settings)) -> Kosh {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        adjust(&mut self.settings);
        let running = kosh_server::start(&self.settings)
            .await
            .expect("kosh starts again");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
        self
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        // The server's pools close when the state is dropped with the server.
        if let Some(name) = self.pg_database.take()
            && let Ok(mut conn) = sqlx::PgConnection::connect(&admin_pg_url()).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts a DIGIT error body with `status` whose errors include `code` (and `message`
/// when given).
pub fn assert_digit_error(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    code: &str,
    message: Option<&str>,
) {
    assert_eq!(status, expected, "unexpected status; body: {body}");
    let errors = body["Errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no Errors array in {body}"));
    let found = errors
        .iter()
        .find(|e| e["code"] == code)
        .unwrap_or_else(|| panic!("no error {code} in {body}"));
    assert!(
        found["message"].is_string(),
        "every error has a message string: {body}"
    );
    if let Some(message) = message {
        assert_eq!(found["message"], message, "{body}");
    }
    assert!(
        body.get("ResponseInfo").is_some(),
        "error body has ResponseInfo: {body}"
    );
}
