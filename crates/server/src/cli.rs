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
        }
    }
}
