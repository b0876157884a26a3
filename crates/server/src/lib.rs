//! The kosh server: wires the services' routers into one HTTP application, with DIGIT's
//! error bodies for unknown routes and panics, request ids on every log line, Prometheus
//! metrics, and the OpenAPI document of every route.

pub mod audit;
pub mod body_budget;
pub mod cli;
pub mod config;
pub mod gateway;
pub mod import;
pub mod listener;
mod middleware;
mod ops;
pub mod pii;
pub mod reconcile;
pub mod startup;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use kosh_access::AccessIndex;
use kosh_identity::IdentityConfig;
use kosh_mdms::Mdms;
use kosh_pg::PgService;
use kosh_platform::{Clock, Db};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::cli::{ClockMode, LogFormat, SandboxMode, Settings, UserCreate};

/// What every handler may ask for.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub mdms: Arc<Mdms>,
    pub clock: Clock,
    pub identity: Arc<IdentityConfig>,
    pub access: Arc<AccessIndex>,
    pub pg: Arc<PgService>,
    pub bbps: Arc<kosh_bbps::Bbps>,
    pub bill_cache: Arc<kosh_billing::bill::cache::BillCache>,
    pub max_body_bytes: usize,
    /// The request-body bytes all requests in flight may hold at once.
    pub body_budget: Arc<body_budget::BodyBudget>,
    /// `payments/_create` calls, gathered into batches.
    pub payments: kosh_collection::queue::PaymentQueue,
}

#[derive(OpenApi)]
#[openapi(info(
    title = "kosh",
    description = "DIGIT's revenue APIs: master data, id generation, users, billing, collection, payment gateway, BBPS"
))]
struct ApiDoc;

/// Loads master data from the configured folder, or the built-in demo data.
pub fn load_mdms(settings: &Settings) -> anyhow::Result<Mdms> {
    let files = match &settings.mdms_dir {
        Some(dir) => kosh_mdms::files_in_dir(dir)?,
        None => kosh_mdms::embedded_demo_files(),
    };
    Ok(Mdms::from_files(&files)?)
}

/// Puts the settings' ceilings on amounts in force for this process; refuses a ceiling
/// that is not positive, a total ceiling below the single one, or one so large that sums of
/// accepted amounts could leave `i64`.
pub fn apply_money_limits(settings: &Settings) -> anyhow::Result<()> {
    let limits = kosh_platform::money::Limits::from_rupees(
        settings.max_amount_rupees,
        settings.max_total_rupees,
    )
    .map_err(|e| anyhow::anyhow!("KOSH_MAX_AMOUNT_RUPEES / KOSH_MAX_TOTAL_RUPEES: {e}"))?;
    kosh_platform::money::set_limits(limits);
    Ok(())
}

/// Opens the database and applies pending migrations; puts the personal-data keys in force
/// and seals the personal data of rows written before sealing began.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    pii::install_vault(settings)?;
    let url = settings.database_url();
    let mut db = Db::connect_logging(&url, settings.db_max_connections, settings.log_sql)
        .await
        .with_context(|| format!("opening database {}", redact(&url)))?;
    if !settings.native_reads {
        db = db.without_native_reads();
    }
    db.migrate().await.context("applying migrations")?;
    pii::check_keys(&db).await?;
    pii::seal_existing(&db)
        .await
        .context("sealing existing personal data")?;
    Ok(db)
}

/// The whole HTTP application.
pub fn app(state: AppState, settings: &Settings) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::router())
        .merge(kosh_mdms::api::router())
        .merge(kosh_idgen::api::router())
        .merge(kosh_identity::api::router())
        .merge(kosh_access::api::router())
        .merge(kosh_billing::api::router())
        .merge(kosh_collection::api::router())
        .merge(kosh_pg::api::router())
        .merge(kosh_pg::sandbox_pages::router())
        .merge(kosh_pg::razorpay_pages::router())
        .merge(kosh_bbps::api::router())
        .split_for_parts();
    let mut router = router.merge(SwaggerUi::new("/docs").url("/openapi.json", openapi));
    if state.clock.is_manual() {
        router = router.merge(ops::test_clock_router());
    }
    // The gateway runs for matched routes only, so an unknown route is a 404 for anyone.
    let router = router.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        gateway::gate,
    ));
    // The gateway enforces KOSH_MAX_BODY_BYTES on what the client sent, for every route; the
    // extractors' own limit leaves room for the `userInfo` the gateway writes into the body,
    // so a request just under the limit is not refused because of kosh's own addition.
    let extractor_limit = settings.max_body_bytes.saturating_add(USER_INFO_HEADROOM);
    middleware::wrap(router.with_state(state)).layer(DefaultBodyLimit::max(extractor_limit))
}

/// Room for the authenticated user's `userInfo` (roles included) that the gateway adds to a
/// request body.
const USER_INFO_HEADROOM: usize = 256 * 1024;

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    reconciler: Option<tokio::task::JoinHandle<()>>,
    analyzer: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and returns.
    pub async fn stop(mut self) {
        for job in [self.reconciler.take(), self.analyzer.take()]
            .into_iter()
            .flatten()
        {
            job.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Opens the database, loads master data and starts serving on `settings.listen` (port 0
/// picks a free port). Used by `kosh serve` and by the black-box tests.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    anyhow::ensure!(
        settings.max_connections > 0,
        "KOSH_MAX_CONNECTIONS must be at least 1 (with 0 no client would ever be served)"
    );
    apply_money_limits(settings)?;
    let mdms = Arc::new(load_mdms(settings)?);
    pii::install_policies(&mdms);
    let db = open_database(settings).await?;
    let clock = match settings.clock {
        ClockMode::System => Clock::System,
        ClockMode::Manual => Clock::manual(Clock::System.now_ms()),
    };
    if let Some(password) = kosh_identity::bootstrap::ensure_admin(
        &db,
        &mdms,
        &clock,
        &settings.admin_username,
        settings.admin_password.as_deref(),
    )
    .await?
    {
        // Printed once, when the administrator is created, and kept in a file only its owner
        // can read so scripts can sign in; never logged.
        let file = settings.data_dir.join(ADMIN_PASSWORD_FILE);
        let saved = save_secret(&file, &password);
        eprintln!(
            "kosh: created administrator \"{}\" (EMPLOYEE, roles SUPERUSER and EMPLOYEE, tenant {}) with password: {password}{}",
            settings.admin_username,
            mdms.states().first().copied().unwrap_or("-"),
            match saved {
                Ok(()) => format!(
                    " (also in {}; delete it once you have changed the password)",
                    file.display()
                ),
                Err(e) => format!(" (could not write {}: {e})", file.display()),
            }
        );
    }
    let access = Arc::new(AccessIndex::build(&mdms));
    // Bound before the gateways are built: kosh's own SANDBOX lives at this address.
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let pg = Arc::new(pg_service(settings, addr)?);
    let bbps = Arc::new(bbps_config(settings, &mdms)?);
    // SQLite has one writer: a second worker would only queue behind the first. On
    // PostgreSQL a second worker prepares its batch while the first one's commit is flushed.
    let payment_workers = match db.backend() {
        kosh_platform::db::Backend::Sqlite => 1,
        _ => 2,
    };
    let payments = kosh_collection::queue::PaymentQueue::start(
        db.clone(),
        mdms.clone(),
        clock.clone(),
        payment_workers,
    );
    let state = AppState {
        db,
        mdms,
        clock,
        identity: Arc::new(identity_config(settings)?),
        access,
        pg,
        bbps,
        bill_cache: Arc::new(kosh_billing::bill::cache::BillCache::new(
            std::time::Duration::from_secs(settings.bill_cache_seconds),
            settings.bill_cache_mib << 20,
        )),
        max_body_bytes: settings.max_body_bytes,
        body_budget: Arc::new(body_budget::BodyBudget::new(settings.max_body_bytes)),
        payments,
    };
    let router = app(state.clone(), settings);
    let reconciler = (settings.pg_reconcile_every_seconds > 0).then(|| {
        kosh_pg::reconcile::spawn(
            state.pg.clone(),
            state.db.clone(),
            state.mdms.clone(),
            state.clock.clone(),
            std::time::Duration::from_secs(settings.pg_reconcile_every_seconds),
        )
    });
    // Tables that grow get fresh statistics without waiting for the database's housekeeping.
    let analyzer = (settings.analyze_every_seconds > 0).then(|| {
        kosh_platform::db::analyze::spawn(
            state.db.clone(),
            std::time::Duration::from_secs(settings.analyze_every_seconds),
            kosh_platform::db::analyze::Threshold::default(),
        )
    });
    let (tx, rx) = oneshot::channel::<()>();
    // `tap_io` adds nothing; through it axum hands the peer's address (`ConnectInfo`) from
    // a listener of kosh's own.
    let listener = axum::serve::ListenerExt::tap_io(
        listener::CappedListener::new(listener, settings.max_connections),
        |_| {},
    );
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        state,
        shutdown: Some(tx),
        task,
        reconciler,
        analyzer,
    })
}

/// The payment gateways in force: given in code, else the file, else only SANDBOX at this
/// server's own address with a secret made for this process. A RAZORPAY section without its
/// `page_url` gets kosh's checkout page at this server's own address.
pub fn gateways_config(
    settings: &Settings,
    addr: SocketAddr,
) -> anyhow::Result<kosh_pg::GatewaysConfig> {
    let mut config = configured_gateways(settings, addr)?;
    if let Some(razorpay) = &mut config.razorpay
        && razorpay.page_url.trim().is_empty()
    {
        razorpay.page_url = format!(
            "http://{}{}",
            own_host(addr),
            kosh_pg::gateways::razorpay::PAGE_PATH
        );
    }
    Ok(config)
}

/// `addr`, with an unspecified address (0.0.0.0) read as loopback.
fn own_host(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    }
}

fn configured_gateways(
    settings: &Settings,
    addr: SocketAddr,
) -> anyhow::Result<kosh_pg::GatewaysConfig> {
    if let Some(config) = &settings.pg_gateways {
        return Ok(config.clone());
    }
    if let Some(path) = &settings.pg_gateways_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading KOSH_PG_GATEWAYS_FILE {}", path.display()))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let config = if is_json {
            serde_json::from_str(&text).map_err(anyhow::Error::from)
        } else {
            toml::from_str(&text).map_err(anyhow::Error::from)
        };
        return config.with_context(|| format!("KOSH_PG_GATEWAYS_FILE {}", path.display()));
    }
    let sandbox_on = match settings.pg_sandbox {
        SandboxMode::On => true,
        SandboxMode::Off => false,
        // A citizen of a public deployment could otherwise settle bills without paying.
        SandboxMode::Auto => addr.ip().is_loopback(),
    };
    if !sandbox_on {
        if settings.pg_sandbox == SandboxMode::Auto {
            tracing::info!(
                "the SANDBOX payment gateway is off: kosh listens beyond loopback (KOSH_PG_SANDBOX=on turns it on)"
            );
        }
        return Ok(kosh_pg::GatewaysConfig::default());
    }
    let host = own_host(addr);
    Ok(kosh_pg::GatewaysConfig {
        sandbox: Some(kosh_pg::gateways::SandboxConfig {
            secret: kosh_pg::Secret::new(sandbox_secret(settings)),
            base_url: format!("http://{host}/pg-service/sandbox"),
            ..kosh_pg::gateways::SandboxConfig::default()
        }),
        ..kosh_pg::GatewaysConfig::default()
    })
}

/// The name of the file in the data folder that keeps kosh's SANDBOX secret.
pub const SANDBOX_SECRET_FILE: &str = "pg-sandbox-secret";

/// The secret kosh's own SANDBOX signs with: `KOSH_PG_SANDBOX_SECRET`, else the one kept in
/// the data folder (as the generated administrator password is kept), else a new one, kept
/// there for the next start. The open transactions' payment pages, signed with it, still
/// verify after a restart. Should the file not be writable, the secret lasts this process.
fn sandbox_secret(settings: &Settings) -> String {
    if let Some(secret) = settings
        .pg_sandbox_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return secret.to_string();
    }
    let file = settings.data_dir.join(SANDBOX_SECRET_FILE);
    if let Ok(text) = std::fs::read_to_string(&file)
        && !text.trim().is_empty()
    {
        return text.trim().to_string();
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    if let Err(e) = save_secret(&file, &secret) {
        tracing::warn!(file = %file.display(), error = %e,
            "could not keep the SANDBOX secret; its payment pages stop verifying at the next start (set KOSH_PG_SANDBOX_SECRET)");
    }
    secret
}

pub(crate) fn pg_service(settings: &Settings, addr: SocketAddr) -> anyhow::Result<PgService> {
    anyhow::ensure!(
        settings.pg_reconcile_after_minutes > 0,
        "KOSH_PG_RECONCILE_AFTER_MINUTES must be positive"
    );
    anyhow::ensure!(
        settings.pg_reconcile_sweep_minutes > 0,
        "KOSH_PG_RECONCILE_SWEEP_MINUTES must be positive"
    );
    anyhow::ensure!(
        settings.pg_late_success_hours > 0,
        "KOSH_PG_LATE_SUCCESS_HOURS must be positive"
    );
    let gateways = gateways_config(settings, addr)?;
    let service = PgService::new(
        &gateways,
        kosh_pg::PgConfig {
            reconcile_after_ms: settings.pg_reconcile_after_minutes * 60_000,
            reconcile_sweep_ms: settings.pg_reconcile_sweep_minutes * 60_000,
            late_success_ms: settings.pg_late_success_hours.saturating_mul(3_600_000),
        },
    )
    .map_err(|e| anyhow::anyhow!("payment gateways: {e}"))?;
    if service
        .registry()
        .is_active(kosh_pg::gateways::sandbox::NAME)
    {
        tracing::warn!(
            "the SANDBOX payment gateway is active: it takes no money; turn it off (KOSH_PG_GATEWAYS_FILE) where real payments are taken"
        );
    }
    Ok(service)
}

/// The BBPS adapter: billers from master data, and the XML profile's keys when configured.
fn bbps_config(settings: &Settings, mdms: &Mdms) -> anyhow::Result<kosh_bbps::Bbps> {
    let bbps = kosh_bbps::Bbps::new(
        mdms,
        &kosh_bbps::BbpsSettings {
            signing_key: settings.bbps_signing_key.clone(),
            peer_certs: settings.bbps_peer_certs.clone(),
            institution_id: settings.bbps_institution_id.clone(),
            callback_url: settings.bbps_callback_url.clone(),
        },
    )?;
    Ok(bbps)
}

/// `kosh bbps reconcile <file>`: prints every mismatch between an operating unit's
/// settlement file and kosh's BBPS transactions; fails when there is one.
pub async fn bbps_reconcile(args: cli::BbpsReconcile) -> anyhow::Result<()> {
    let settings = args.settings.to_settings();
    init_logging(&settings);
    let mdms = load_mdms(&settings)?;
    let tenant = match &args.tenant {
        Some(t) => t.clone(),
        None => mdms
            .states()
            .first()
            .map(|s| s.to_string())
            .context("no state in master data")?,
    };
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut dates = Vec::new();
    for d in &args.dates {
        dates.push(
            kosh_bbps::report::parse_date(d)
                .with_context(|| format!("--date {d} is not YYYY-MM-DD"))?,
        );
    }
    let db = open_database(&settings).await?;
    let report = kosh_bbps::reconcile::run(&db, &tenant, &text, &dates).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    anyhow::ensure!(
        report.mismatches.is_empty(),
        "{} mismatch(es) between {} and kosh's BBPS transactions",
        report.mismatches.len(),
        args.file.display()
    );
    Ok(())
}

/// `kosh serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings);
    let running = start(&settings).await?;
    startup::log(&settings, running.addr, &running.state);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

/// `kosh migrate`.
pub async fn migrate(settings: cli::DataSettings) -> anyhow::Result<()> {
    let settings = settings.to_settings();
    init_logging(&settings);
    open_database(&settings).await?;
    tracing::info!(database = %redact(&settings.database_url()), "migrations applied");
    Ok(())
}

/// Where a generated administrator password is kept, in the data folder.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

fn save_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{secret}")
}

/// `kosh user create`.
pub async fn create_user(spec: UserCreate) -> anyhow::Result<()> {
    let settings = spec.settings.to_settings();
    init_logging(&settings);
    let mdms = load_mdms(&settings)?;
    let db = open_database(&settings).await?;
    let new_user = kosh_identity::bootstrap::NewUser {
        tenant_id: spec.tenant.clone(),
        user_name: spec.username.clone(),
        name: spec.name.clone().unwrap_or_else(|| spec.username.clone()),
        user_type: spec.user_type.to_ascii_uppercase(),
        password: spec.password.clone(),
        roles: spec.roles.clone(),
        mobile_number: spec.mobile.clone(),
        allowed_ips: spec.allowed_ips.clone(),
    };
    let user = kosh_identity::bootstrap::create(&db, &mdms, &Clock::System, &new_user)
        .await
        .map_err(|e| anyhow::anyhow!("{}", serde_json::to_string(&e.body()).unwrap_or_default()))?;
    println!("{}", serde_json::to_string_pretty(&user.request_json())?);
    Ok(())
}

fn identity_config(settings: &Settings) -> anyhow::Result<IdentityConfig> {
    let trusted_proxies = kosh_identity::ip::Proxies {
        trusted: kosh_identity::ip::parse_list(&settings.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("KOSH_TRUSTED_PROXIES: {e}"))?,
        header: settings
            .client_ip_header
            .parse()
            .map_err(|e| anyhow::anyhow!("KOSH_CLIENT_IP_HEADER: {e}"))?,
    };
    anyhow::ensure!(
        settings.access_token_minutes > 0,
        "KOSH_ACCESS_TOKEN_MINUTES must be positive"
    );
    anyhow::ensure!(
        settings.refresh_token_minutes > 0,
        "KOSH_REFRESH_TOKEN_MINUTES must be positive"
    );
    anyhow::ensure!(
        settings.login_throttle_minutes > 0,
        "KOSH_LOGIN_THROTTLE_MINUTES must be positive"
    );
    let throttle =
        kosh_identity::throttle::LoginThrottle::new(kosh_identity::throttle::ThrottleLimits {
            max_per_address: settings.login_max_failures_per_address,
            max_per_user: settings.login_max_failures_per_user,
            window_ms: settings.login_throttle_minutes * 60_000,
            ..kosh_identity::throttle::ThrottleLimits::default()
        });
    Ok(IdentityConfig {
        access_ttl_ms: settings.access_token_minutes * 60_000,
        refresh_ttl_ms: settings.refresh_token_minutes * 60_000,
        rotate_refresh_tokens: settings.rotate_refresh_tokens,
        trusted_proxies,
        throttle: Arc::new(throttle),
        token_cache: Arc::new(kosh_identity::token_cache::TokenCache::new(
            std::time::Duration::from_secs(settings.token_cache_seconds),
        )),
        ..IdentityConfig::default()
    })
}

pub(crate) fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Text => builder.with_ansi(colour(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Whether text written to `stream` may carry colour codes: only to a terminal, and not when
/// NO_COLOR is set to anything but the empty string (no-color.org).
pub fn colour(stream: &impl std::io::IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// An error and its causes, each once, for the command line: `outer: cause: cause`. Where an
/// error's text already holds its cause's (sqlx writes its source into its own text), the
/// cause is not said again.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|before| before.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateways_come_from_the_file_or_default_to_kosh_own_sandbox() {
        let addr: SocketAddr = "0.0.0.0:9090".parse().unwrap();
        let mut settings = Settings::defaults();
        let dir = std::env::temp_dir().join(format!("kosh-pg-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        settings.data_dir = dir.clone();
        // Listening beyond loopback, SANDBOX is off unless the operator turns it on.
        let default = gateways_config(&settings, addr).unwrap();
        assert!(default.sandbox.is_none() && default.payu.is_none());
        let loopback = gateways_config(&settings, "127.0.0.1:9090".parse().unwrap()).unwrap();
        assert!(loopback.sandbox.as_ref().expect("sandbox").active);
        settings.pg_sandbox = crate::cli::SandboxMode::On;
        let default = gateways_config(&settings, addr).unwrap();
        let sandbox = default.sandbox.as_ref().expect("sandbox");
        assert!(sandbox.active);
        assert_eq!(sandbox.base_url, "http://127.0.0.1:9090/pg-service/sandbox");
        assert!(sandbox.secret.expose().len() >= 32);
        assert!(default.payu.is_none() && default.axis.is_none());
        // The generated secret is kept with the data: the next start signs with it too.
        let again = gateways_config(&settings, addr).unwrap();
        assert_eq!(
            again.sandbox.as_ref().unwrap().secret.expose(),
            sandbox.secret.expose()
        );
        settings.pg_sandbox_secret = Some("configured".into());
        let configured = gateways_config(&settings, addr).unwrap();
        assert_eq!(configured.sandbox.unwrap().secret.expose(), "configured");
        settings.pg_sandbox_secret = None;
        let toml_file = dir.join("gateways.toml");
        std::fs::write(
            &toml_file,
            "timeout_ms = 1500\n[payu]\nmerchant_key = \"gtKFFx\"\nsalt = \"eCwWELxi\"\n[sandbox]\nactive = false\nsecret = \"s\"\n",
        )
        .unwrap();
        settings.pg_gateways_file = Some(toml_file);
        let config = gateways_config(&settings, addr).unwrap();
        assert_eq!(config.timeout_ms, 1500);
        assert_eq!(config.payu.as_ref().unwrap().merchant_key, "gtKFFx");
        assert!(!config.sandbox.as_ref().unwrap().active);
        let service = pg_service(&settings, addr).unwrap();
        assert_eq!(service.registry().names(), vec!["PAYU", "SANDBOX"]);
        assert!(!service.registry().is_active("SANDBOX"));

        let json_file = dir.join("gateways.json");
        std::fs::write(
            &json_file,
            r#"{"payu": {"merchant_key": "k", "salt": "s"}}"#,
        )
        .unwrap();
        settings.pg_gateways_file = Some(json_file);
        assert!(gateways_config(&settings, addr).unwrap().sandbox.is_none());

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[paypal]\nkey = 1\n").unwrap();
        settings.pg_gateways_file = Some(bad);
        assert!(gateways_config(&settings, addr).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A cause whose text its error already holds is said once; distinct causes all are.
    #[test]
    fn error_causes_are_said_once() {
        #[derive(Debug)]
        struct Repeats(std::io::Error);
        impl std::fmt::Display for Repeats {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "error communicating with database: {}", self.0)
            }
        }
        impl std::error::Error for Repeats {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err = anyhow::Error::new(Repeats(io)).context("opening database postgres://db/x");
        assert_eq!(
            error_text(&err),
            "opening database postgres://db/x: error communicating with database: Connection refused"
        );
        let err = anyhow::anyhow!("no such file").context("reading kosh.toml");
        assert_eq!(error_text(&err), "reading kosh.toml: no such file");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://kosh:secret@db/kosh"),
            "postgres://kosh:***@db/kosh"
        );
        assert_eq!(redact("postgres://kosh@db/kosh"), "postgres://kosh@db/kosh");
        assert_eq!(
            redact("sqlite://./kosh-data/kosh.db"),
            "sqlite://./kosh-data/kosh.db"
        );
    }
}
