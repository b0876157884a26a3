//! The kosh server: wires the services' routers into one HTTP application, with DIGIT's
//! error bodies for unknown routes and panics, request ids on every log line, Prometheus
//! metrics, and the OpenAPI document of every route.

pub mod cli;
pub mod config;
pub mod gateway;
mod middleware;
mod ops;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use kosh_access::AccessIndex;
use kosh_identity::IdentityConfig;
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::cli::{ClockMode, LogFormat, Settings, UserCreate};

/// What every handler may ask for.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub mdms: Arc<Mdms>,
    pub clock: Clock,
    pub identity: Arc<IdentityConfig>,
    pub access: Arc<AccessIndex>,
    pub max_body_bytes: usize,
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

/// Opens the database and applies pending migrations.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let url = settings.database_url();
    let db = Db::connect(&url, settings.db_max_connections)
        .await
        .with_context(|| format!("opening database {}", redact(&url)))?;
    db.migrate().await.context("applying migrations")?;
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
    middleware::wrap(router.with_state(state)).layer(DefaultBodyLimit::max(settings.max_body_bytes))
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Opens the database, loads master data and starts serving on `settings.listen` (port 0
/// picks a free port). Used by `kosh serve` and by the black-box tests.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    let mdms = Arc::new(load_mdms(settings)?);
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
    let state = AppState {
        db,
        mdms,
        clock,
        identity: Arc::new(identity_config(settings)?),
        access,
        max_body_bytes: settings.max_body_bytes,
    };
    let router = app(state.clone(), settings);
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
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
    })
}

/// `kosh serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings);
    let running = start(&settings).await?;
    tracing::info!(
        listen = %running.addr,
        database = %redact(&settings.database_url()),
        "kosh is ready"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

/// `kosh migrate`.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
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
    init_logging(&spec.settings);
    let mdms = load_mdms(&spec.settings)?;
    let db = open_database(&spec.settings).await?;
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
    let trusted_proxies = kosh_identity::ip::parse_list(&settings.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("KOSH_TRUSTED_PROXIES: {e}"))?;
    anyhow::ensure!(
        settings.access_token_minutes > 0,
        "KOSH_ACCESS_TOKEN_MINUTES must be positive"
    );
    anyhow::ensure!(
        settings.refresh_token_minutes > 0,
        "KOSH_REFRESH_TOKEN_MINUTES must be positive"
    );
    Ok(IdentityConfig {
        access_ttl_ms: settings.access_token_minutes * 60_000,
        refresh_ttl_ms: settings.refresh_token_minutes * 60_000,
        trusted_proxies,
        ..IdentityConfig::default()
    })
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
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
