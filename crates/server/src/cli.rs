//! The command line. Every setting is a flag and an environment variable (`kosh serve
//! --help` lists them), and may also come from a TOML config file (see [`crate::config`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kosh",
    version,
    about = "DIGIT's revenue stack (billing, collection, payment gateway) in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP APIs (migrating the database first).
    Serve(Settings),
    /// Apply pending database migrations and exit.
    Migrate(Settings),
    /// Manage users from the command line.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (any type), with the checks of /user/users/_createnovalidate.
    Create(UserCreate),
}

#[derive(Debug, Clone, Args)]
pub struct UserCreate {
    /// Tenant of the user (a citizen is kept at the state tenant).
    #[arg(long)]
    pub tenant: String,
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// Display name (defaults to the login name).
    #[arg(long)]
    pub name: Option<String>,
    /// CITIZEN, EMPLOYEE or SYSTEM.
    #[arg(long = "type", default_value = "EMPLOYEE")]
    pub user_type: String,
    /// Password (DIGIT's policy: 8-15 characters with a digit, upper and lower case, one of @#$%).
    #[arg(long, env = "KOSH_NEW_USER_PASSWORD")]
    pub password: String,
    /// Role codes from ACCESSCONTROL-ROLES (repeat, or comma-separate).
    #[arg(long = "role", value_delimiter = ',', required = true)]
    pub roles: Vec<String>,
    /// Mobile number (mandatory for a citizen).
    #[arg(long)]
    pub mobile: Option<String>,
    /// Addresses or CIDR ranges a SYSTEM user may log in and call from (repeat, or comma-separate).
    #[arg(long = "allowed-ip", value_delimiter = ',')]
    pub allowed_ips: Vec<String>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockMode {
    /// The system clock.
    System,
    /// A clock that stands still until moved through POST /_kosh/clock (for tests only).
    Manual,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// TOML file with settings: keys are the variable names below without `KOSH_`, in lower
    /// case (`listen = "0.0.0.0:8080"`). Flags and environment variables take precedence.
    #[arg(long, env = "KOSH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on.
    #[arg(long, env = "KOSH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder for the embedded SQLite database (kosh.db) when no database URL is given.
    #[arg(long, env = "KOSH_DATA_DIR", default_value = "./kosh-data")]
    pub data_dir: PathBuf,

    /// Database URL: postgres://user@host/db for PostgreSQL, or sqlite://path. Default:
    /// SQLite at <data dir>/kosh.db.
    #[arg(long, env = "KOSH_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Most database connections kept open.
    #[arg(long, env = "KOSH_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Folder of master data in DIGIT's MDMS layout (<state>/<Module>/<master>.json). Default:
    /// the pb demo data built into kosh.
    #[arg(long, env = "KOSH_MDMS_DIR")]
    pub mdms_dir: Option<PathBuf>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "KOSH_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Log filter (tracing EnvFilter syntax, e.g. `info` or `kosh=debug`).
    #[arg(long, env = "KOSH_LOG", default_value = "info")]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "KOSH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Login name of the administrator created on an empty database (EMPLOYEE at the state
    /// tenant, roles SUPERUSER and EMPLOYEE).
    #[arg(long, env = "KOSH_ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// Password of that administrator. When unset, kosh generates one and prints it once.
    #[arg(long, env = "KOSH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Lifetime of an access token, in minutes (DIGIT: 10080, 7 days).
    #[arg(long, env = "KOSH_ACCESS_TOKEN_MINUTES", default_value_t = 720)]
    pub access_token_minutes: i64,

    /// Lifetime of a refresh token, in minutes (DIGIT: 20160, 14 days).
    #[arg(long, env = "KOSH_REFRESH_TOKEN_MINUTES", default_value_t = 10080)]
    pub refresh_token_minutes: i64,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For and X-Real-IP
    /// headers name the client. From any other peer those headers are ignored.
    #[arg(long, env = "KOSH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Clock source. `manual` is for tests: time stands still until POST /_kosh/clock moves it.
    #[arg(long, env = "KOSH_CLOCK", value_enum, default_value = "system")]
    pub clock: ClockMode,
}

impl Settings {
    /// The database URL in force: the given one, or SQLite in the data folder.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_string(),
            _ => format!("sqlite://{}", self.data_dir.join("kosh.db").display()),
        }
    }

    /// Settings for tests and embedding: everything at its default.
    pub fn defaults() -> Settings {
        let cli = Cli::parse_from(["kosh", "serve"]);
        match cli.command {
            Command::Serve(s) | Command::Migrate(s) => s,
            Command::User(UserCommand::Create(c)) => c.settings,
        }
    }
}
