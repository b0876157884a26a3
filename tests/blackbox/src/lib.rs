//! Black-box test harness: each test starts a real kosh server on a free port, on a fresh
//! SQLite file or a fresh PostgreSQL database, and talks to it over real HTTP.
//!
//! PostgreSQL comes from `KOSH_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test creates its own database there and drops it afterwards. A test on PostgreSQL
//! fails, never skips, when PostgreSQL cannot be reached: `scripts/test` starts it.
//!
//! The scale-out mode (SCALE-OUT.md), for the PostgreSQL tests only, is chosen by the
//! environment:
//! - `KOSH_TEST_PG_SERIALIZABLE=1`: every test database is created with
//!   `default_transaction_isolation = 'serializable'`, so every transaction of kosh and of the
//!   test runs at SERIALIZABLE, as on CockroachDB (and as Citus or YugabyteDB may be set up).
//! - `KOSH_TEST_INSTANCES=2` (or more): [`Kosh`] starts that many kosh servers on the same
//!   database and data folder (one key file, one sandbox secret) and spreads the requests made
//!   through [`Kosh::url`] over them in turn. Their manual clocks move together
//!   ([`Kosh::set_clock`], [`Kosh::advance_clock`]); [`Kosh::state`] and [`Kosh::base`] are
//!   the first's; [`Kosh::restart_with`] restarts them all. Each starts with its in-memory
//!   copies off (`token_cache_seconds` and `bill_cache_seconds` 0), since another instance's
//!   writes reach them only when a copy expires; a test's own settings may turn them on again.
//!   A test that needs one process by design (it reads an instance's in-memory copy or
//!   counter) calls [`one_instance`] first, with why.

pub mod books;
pub mod statements;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Whether PostgreSQL test databases run every transaction at SERIALIZABLE
/// (`KOSH_TEST_PG_SERIALIZABLE=1`).
pub fn pg_serializable() -> bool {
    std::env::var("KOSH_TEST_PG_SERIALIZABLE").is_ok_and(|v| v == "1" || v == "true")
}

/// How many kosh instances a PostgreSQL test starts on its database (`KOSH_TEST_INSTANCES`,
/// 1 when unset). SQLite tests always start one: its file has one writer per process.
pub fn pg_instances() -> usize {
    std::env::var("KOSH_TEST_INSTANCES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

thread_local! {
    /// Why the test on this thread needs one kosh process ([`one_instance`]).
    static ONE_INSTANCE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Marks the calling test as one that needs a single kosh process by design (it reads an
/// instance's in-memory copy or counter): in the scale-out mode, the servers it starts are
/// one, not `KOSH_TEST_INSTANCES`, and `why` is printed. Call it first in the test, on the
/// test's own task (each test has its thread).
pub fn one_instance(why: &str) {
    ONE_INSTANCE.with(|reason| *reason.borrow_mut() = Some(why.to_string()));
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

/// A kosh server under test (in the scale-out mode, several on one database; see the
/// crate's header).
pub struct Kosh {
    /// The first instance's address.
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// The administrator's access token (SUPERUSER and EMPLOYEE at the state tenant `pb`).
    pub admin_token: String,
    running: Option<Running>,
    /// The other instances on the same database, and every instance's address (the first's
    /// first).
    others: Vec<Running>,
    bases: Vec<String>,
    /// Which instance the next request goes to.
    turn: AtomicUsize,
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
        let instances = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => match ONE_INSTANCE.with(|why| why.borrow().clone()) {
                Some(why) if pg_instances() > 1 => {
                    eprintln!("one kosh instance, not {}: {why}", pg_instances());
                    1
                }
                _ => pg_instances(),
            },
        };
        Self::start_instances(backend, instances, adjust).await
    }

    async fn start_instances(
        backend: Backend,
        instances: usize,
        adjust: impl FnOnce(&mut Settings),
    ) -> Kosh {
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
            if pg_serializable() {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "ALTER DATABASE {name} SET default_transaction_isolation = 'serializable'"
                )))
                .execute(&mut conn)
                .await
                .expect("serializable test database");
            }
            let _ = conn.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            settings.database_url = Some(format!("{base}/{name}"));
            pg_database = Some(name);
        }
        if instances > 1 {
            // Another instance's writes would reach these copies only when they expire.
            settings.token_cache_seconds = 0;
            settings.bill_cache_seconds = 0;
        }
        adjust(&mut settings);
        let (running, others) = start_servers(&settings, instances, "kosh starts").await;
        let mut kosh = Kosh {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            backend,
            admin_token: String::new(),
            bases: addresses(&running, &others),
            running: Some(running),
            others,
            turn: AtomicUsize::new(0),
            dir,
            pg_database,
            settings,
        };
        kosh.align_clocks().await;
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

    /// The URL of `path` on the next instance in turn (always the one instance outside the
    /// scale-out mode).
    pub fn url(&self, path: &str) -> String {
        let base = match self.bases.len() {
            0 | 1 => &self.base,
            n => &self.bases[self.turn.fetch_add(1, Ordering::Relaxed) % n],
        };
        format!("{base}{path}")
    }

    /// Whether `url` is `path` (and whatever follows it) on one of this test's instances: an
    /// address kosh answered with (a redirect to its own page) may name any of them.
    pub fn serves(&self, url: &str, path: &str) -> bool {
        self.bases
            .iter()
            .any(|base| url.starts_with(&format!("{base}{path}")))
    }

    /// How many kosh instances serve this test's database.
    pub fn instances(&self) -> usize {
        self.bases.len().max(1)
    }

    /// The PostgreSQL database this server runs on (`None` on SQLite).
    pub fn pg_database(&self) -> Option<&str> {
        self.pg_database.as_deref()
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

    /// Moves the servers' manual clock forward (the first's, and the others to the same time).
    pub async fn advance_clock(&self, ms: i64) -> i64 {
        let (status, body) = self
            .post_to(&self.base, "/_kosh/clock", json!({"advanceMs": ms}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let now = body["nowMs"].as_i64().expect("nowMs");
        self.set_other_clocks(now).await;
        now
    }

    pub async fn set_clock(&self, ms: i64) {
        let (status, body) = self
            .post_to(&self.base, "/_kosh/clock", json!({"nowMs": ms}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.set_other_clocks(ms).await;
    }

    async fn set_other_clocks(&self, ms: i64) {
        for base in self.bases.iter().skip(1) {
            let (status, body) = self
                .post_to(base, "/_kosh/clock", json!({"nowMs": ms}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }

    /// Each instance's manual clock starts at its own start time: the others take the
    /// first's.
    async fn align_clocks(&self) {
        if self.bases.len() > 1 {
            self.advance_clock(0).await;
        }
    }

    /// POSTs to one instance as the administrator (before sign-in: the clock route is open).
    async fn post_to(&self, base: &str, path: &str, mut body: Value) -> (StatusCode, Value) {
        if let Some(object) = body.as_object_mut() {
            let request_info = object.entry("RequestInfo").or_insert_with(|| json!({}));
            request_info["authToken"] = json!(self.admin_token);
        }
        let response = self
            .client
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// The settings this server was started with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Stops the server and starts it again on the same database and data folder, after
    /// `adjust` has changed the settings (a restart, an upgrade, new keys). The administrator's
    /// token stays valid.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Settings)) -> Kosh {
        let instances = self.instances();
        self.stop_servers().await;
        adjust(&mut self.settings);
        let (running, others) = start_servers(&self.settings, instances, "kosh starts again").await;
        self.base = format!("http://{}", running.addr);
        self.bases = addresses(&running, &others);
        self.running = Some(running);
        self.others = others;
        self.align_clocks().await;
        self
    }

    async fn stop_servers(&mut self) {
        for other in self.others.drain(..) {
            other.stop().await;
        }
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    pub async fn stop(mut self) {
        self.stop_servers().await;
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

/// Starts `instances` kosh servers with `settings`, one after another (the first migrates the
/// database); the first and the others. Only the first listens where the settings say: the
/// others take free ports.
async fn start_servers(
    settings: &Settings,
    instances: usize,
    context: &str,
) -> (Running, Vec<Running>) {
    let first = kosh_server::start(settings).await.expect(context);
    let mut others = Vec::new();
    let mut other_settings = settings.clone();
    other_settings.listen.set_port(0);
    for _ in 1..instances {
        others.push(kosh_server::start(&other_settings).await.expect(context));
    }
    (first, others)
}

fn addresses(first: &Running, others: &[Running]) -> Vec<String> {
    std::iter::once(first)
        .chain(others)
        .map(|r| format!("http://{}", r.addr))
        .collect()
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
