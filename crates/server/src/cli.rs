//! The command line. Every setting is a flag and an environment variable (`kosh serve
//! --help` lists them), and may also come from a TOML config file (see [`crate::config`]).
//! `kosh serve` takes every setting ([`Settings`]); the other commands take only those they
//! use: the database's ([`DatabaseSettings`]), with the personal-data keys ([`DataSettings`]),
//! master data ([`MasterDataSettings`]) and the amount ceilings ([`ImportSettings`]) where they
//! need them, so their `--help` lists nothing they ignore. A config file may hold any setting: a command ignores the ones it
//! does not take.

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
    Serve(Box<Settings>),
    /// Apply pending database migrations and exit.
    Migrate(DataSettings),
    /// Manage users from the command line.
    #[command(subcommand)]
    User(UserCommand),
    /// BBPS biller adapter tools.
    #[command(subcommand)]
    Bbps(BbpsCommand),
    /// Bulk loads.
    #[command(subcommand)]
    Import(ImportCommand),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The keys that seal personal data (KOSH_PII_KEYS).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Payment reconciliation from the command line: `kosh reconcile --now` runs one pass.
    Reconcile(Box<Reconcile>),
}

/// `kosh reconcile --now`: one pass of the payment reconciliation job that `kosh serve` runs
/// every KOSH_PG_RECONCILE_EVERY_SECONDS, against the same database and gateways. Every
/// PENDING transaction that is due is asked about at its gateway and settled as `_update`
/// settles it (SUCCESS with its receipt, FAILURE, or left PENDING). Prints one line per
/// transaction examined and a summary; exits non-zero when a transaction could not be
/// settled, when a pass on another instance held the job past --wait-seconds, or when the
/// database cannot be opened. Safe to run while kosh serves: one pass at a time, through the
/// job's lease row.
#[derive(Debug, Clone, Args)]
pub struct Reconcile {
    /// Run one pass now (required: the periodic job runs inside `kosh serve`).
    #[arg(long, required = true)]
    pub now: bool,

    /// How long to wait, in seconds, for a pass that another instance is running.
    #[arg(long, default_value_t = 30)]
    pub wait_seconds: u64,

    /// TOML file with settings (the keys of `kosh serve --config`; those this command does not
    /// use are ignored). Flags and environment variables take precedence.
    #[arg(long, env = "KOSH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Folder of the embedded SQLite database (kosh.db) and of the keys kept with the data.
    #[arg(long, env = "KOSH_DATA_DIR", default_value = "./kosh-data")]
    pub data_dir: PathBuf,

    /// Database URL: postgres://user@host/db for PostgreSQL, or sqlite://path. Default:
    /// SQLite at <data dir>/kosh.db.
    #[arg(long, env = "KOSH_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Most database connections kept open.
    #[arg(long, env = "KOSH_DB_MAX_CONNECTIONS", default_value_t = 4)]
    pub db_max_connections: u32,

    /// Folder of master data in DIGIT's MDMS layout. Default: the pb demo data built into kosh.
    #[arg(long, env = "KOSH_MDMS_DIR")]
    pub mdms_dir: Option<PathBuf>,

    /// Log filter (tracing EnvFilter syntax); logs go to standard error.
    #[arg(long, env = "KOSH_LOG", default_value = "warn")]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "KOSH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Where `kosh serve` listens. Without a gateways file, kosh's own SANDBOX gateway
    /// answers its status queries there (and is on, with KOSH_PG_SANDBOX=auto, only when this
    /// is a loopback address).
    #[arg(long, env = "KOSH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Payment gateways: the file `kosh serve` reads (TOML, or JSON when named *.json).
    #[arg(long, env = "KOSH_PG_GATEWAYS_FILE")]
    pub pg_gateways_file: Option<PathBuf>,

    /// Without a gateways file: whether the SANDBOX gateway is on, as for `kosh serve`.
    #[arg(long, env = "KOSH_PG_SANDBOX", value_enum, default_value_t = SandboxMode::Auto)]
    pub pg_sandbox: SandboxMode,

    /// Without a gateways file: the SANDBOX gateway's secret (default: the one kept in
    /// <data dir>/pg-sandbox-secret).
    #[arg(long, env = "KOSH_PG_SANDBOX_SECRET", hide_env_values = true)]
    pub pg_sandbox_secret: Option<String>,

    /// A PENDING transaction is asked about once this old, and again at this interval during
    /// its first day; one the gateway has no record of is closed once twice this old.
    #[arg(long, env = "KOSH_PG_RECONCILE_AFTER_MINUTES", default_value_t = 15)]
    pub pg_reconcile_after_minutes: i64,

    /// After its first day, a PENDING transaction is asked about at this interval.
    #[arg(long, env = "KOSH_PG_RECONCILE_SWEEP_MINUTES", default_value_t = 720)]
    pub pg_reconcile_sweep_minutes: i64,

    /// A closed transaction is still asked about for this many hours after its creation.
    #[arg(long, env = "KOSH_PG_LATE_SUCCESS_HOURS", default_value_t = 72)]
    pub pg_late_success_hours: i64,

    /// The largest single amount kosh accepts, in whole rupees (as for `kosh serve`).
    #[arg(long, env = "KOSH_MAX_AMOUNT_RUPEES", default_value_t = kosh_platform::money::DEFAULT_MAX_AMOUNT_RUPEES)]
    pub max_amount_rupees: i64,

    /// The largest total kosh accepts, in whole rupees (as for `kosh serve`).
    #[arg(long, env = "KOSH_MAX_TOTAL_RUPEES", default_value_t = kosh_platform::money::DEFAULT_MAX_TOTAL_RUPEES)]
    pub max_total_rupees: i64,

    /// The keys that seal personal data, as for `kosh serve` (default: KOSH_PII_KEY_FILE).
    #[arg(long, env = "KOSH_PII_KEYS", hide_env_values = true)]
    pub pii_keys: Option<String>,

    /// The blind-index key, required with KOSH_PII_KEYS.
    #[arg(long, env = "KOSH_PII_INDEX_KEY", hide_env_values = true)]
    pub pii_index_key: Option<String>,

    /// Where the personal-data keys are kept when KOSH_PII_KEYS is unset. Default:
    /// <data dir>/kosh.keys.
    #[arg(long, env = "KOSH_PII_KEY_FILE")]
    pub pii_key_file: Option<PathBuf>,
}

impl Reconcile {
    /// The server settings these stand for; everything else at its default.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::defaults();
        s.config = self.config.clone();
        s.data_dir = self.data_dir.clone();
        s.database_url = self.database_url.clone();
        s.db_max_connections = self.db_max_connections;
        s.mdms_dir = self.mdms_dir.clone();
        s.log = self.log.clone();
        s.log_format = self.log_format;
        s.listen = self.listen;
        s.pg_gateways_file = self.pg_gateways_file.clone();
        s.pg_sandbox = self.pg_sandbox;
        s.pg_sandbox_secret = self.pg_sandbox_secret.clone();
        s.pg_reconcile_after_minutes = self.pg_reconcile_after_minutes;
        s.pg_reconcile_sweep_minutes = self.pg_reconcile_sweep_minutes;
        s.pg_late_success_hours = self.pg_late_success_hours;
        s.max_amount_rupees = self.max_amount_rupees;
        s.max_total_rupees = self.max_total_rupees;
        s.pii_keys = self.pii_keys.clone();
        s.pii_index_key = self.pii_index_key.clone();
        s.pii_key_file = self.pii_key_file.clone();
        s
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-seal, under the first key of KOSH_PII_KEYS, every personal value an older key of
    /// the list sealed. Rotation: put a new key first (`kosh keys new`), keep the old ones
    /// after it, run this, then drop the old keys. Safe to run again or while kosh serves.
    Rotate(Box<KeysRotate>),
    /// Print a fresh key line (`kid:base64key`) for KOSH_PII_KEYS, or with --index a fresh
    /// KOSH_PII_INDEX_KEY.
    New(KeysNew),
}

#[derive(Debug, Clone, Args)]
pub struct KeysRotate {
    #[command(flatten)]
    pub settings: DataSettings,
}

#[derive(Debug, Clone, Args)]
pub struct KeysNew {
    /// The key's id (letters, digits, '-', '_'; default: k and the UTC time).
    #[arg(long)]
    pub id: Option<String>,
    /// Print a blind-index key (KOSH_PII_INDEX_KEY) instead.
    #[arg(long)]
    pub index: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk every tenant's audit hash chain, re-hash every audit row, and report per tenant
    /// OK with the row count, or each changed, deleted or inserted row and where (table, key,
    /// chain position). Exits non-zero on any violation. Reads only.
    Verify(AuditVerify),
}

#[derive(Debug, Clone, Args)]
pub struct AuditVerify {
    /// Print the reports as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub settings: DatabaseSettings,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load demands from a CSV or JSON-lines file, with the checks of demand/_create. Bad
    /// demands are reported with their line numbers and reasons and not loaded; the rest go in
    /// a batch per transaction. Re-running the same file loads nothing twice. Exits non-zero
    /// when a demand was refused.
    ///
    /// JSON lines (any name not ending .csv): one demand per line, shaped like an element of
    /// `Demands` in demand/_create. CSV (name ending .csv): a header row, then one row per tax
    /// head; consecutive rows with the same tenantId, consumerCode, businessService,
    /// taxPeriodFrom and taxPeriodTo are one demand. Columns: tenantId, consumerCode,
    /// consumerType, businessService, payer (a user uuid), taxPeriodFrom, taxPeriodTo (epoch
    /// ms), minimumAmountPayable, billExpiryTime, fixedBillExpiryDate, taxHeadMasterCode,
    /// taxAmount, collectionAmount (rupees).
    Demands(ImportDemands),
}

#[derive(Debug, Clone, Args)]
pub struct ImportDemands {
    /// The file to load.
    pub file: PathBuf,
    /// csv or jsonl; default: from the file name.
    #[arg(long)]
    pub format: Option<String>,
    /// Demands per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Recorded as the creator of the demands.
    #[arg(long, default_value = "import")]
    pub actor: String,
    /// Write the refused demands (line and reasons) to this file instead of standard error.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// No progress bar (for scripts and logs).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub settings: ImportSettings,
}

#[derive(Debug, Subcommand)]
pub enum BbpsCommand {
    /// Match an operating unit's settlement file (CSV: txnReferenceId, amount in paise,
    /// optional status and businessDate) against kosh's BBPS transactions and report every
    /// mismatch; exits non-zero when there is one.
    Reconcile(BbpsReconcile),
}

#[derive(Debug, Clone, Args)]
pub struct BbpsReconcile {
    /// The settlement file.
    pub file: PathBuf,
    /// The business day(s) the file covers, YYYY-MM-DD (repeat); default: the dates in the
    /// file. kosh's transactions of these days missing from the file are reported.
    #[arg(long = "date")]
    pub dates: Vec<String>,
    /// The state whose BBPS transactions to match (default: the first state in master data).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub settings: MasterDataSettings,
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
    pub settings: MasterDataSettings,
}

/// Where the database is, and the log: the settings of `audit verify`, and part of every
/// other command's that opens the database. Each one is the `kosh serve` setting of the same
/// name.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// TOML file with settings (the keys of `kosh serve --config`; those this command does not
    /// use are ignored). Flags and environment variables take precedence.
    #[arg(long, env = "KOSH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Folder of the embedded SQLite database (kosh.db) when no database URL is given, and of
    /// the personal-data key file.
    #[arg(long, env = "KOSH_DATA_DIR", default_value = "./kosh-data")]
    pub data_dir: PathBuf,

    /// Database URL: postgres://user@host/db for PostgreSQL, or sqlite://path. Default:
    /// SQLite at <data dir>/kosh.db.
    #[arg(long, env = "KOSH_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Most database connections kept open.
    #[arg(long, env = "KOSH_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Log filter (tracing EnvFilter syntax); logs go to standard error.
    #[arg(long, env = "KOSH_LOG", default_value = "info")]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "KOSH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl DatabaseSettings {
    /// The server settings these stand for; everything else at its default.
    pub fn to_settings(&self) -> Settings {
        let mut s = Settings::defaults();
        self.apply(&mut s);
        s
    }

    fn apply(&self, s: &mut Settings) {
        s.config = self.config.clone();
        s.data_dir = self.data_dir.clone();
        s.database_url = self.database_url.clone();
        s.db_max_connections = self.db_max_connections;
        s.log = self.log.clone();
        s.log_format = self.log_format;
    }
}

impl From<&Settings> for DatabaseSettings {
    fn from(s: &Settings) -> Self {
        DatabaseSettings {
            config: s.config.clone(),
            data_dir: s.data_dir.clone(),
            database_url: s.database_url.clone(),
            db_max_connections: s.db_max_connections,
            log: s.log.clone(),
            log_format: s.log_format,
        }
    }
}

/// The database and the keys that open its personal data: the settings of `migrate` and
/// `keys rotate`, and part of the others' that open the database as `kosh serve` does.
#[derive(Debug, Clone, Args)]
pub struct DataSettings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// The keys that seal personal data, as for `kosh serve` (default: KOSH_PII_KEY_FILE).
    #[arg(long, env = "KOSH_PII_KEYS", hide_env_values = true)]
    pub pii_keys: Option<String>,

    /// The blind-index key, required with KOSH_PII_KEYS.
    #[arg(long, env = "KOSH_PII_INDEX_KEY", hide_env_values = true)]
    pub pii_index_key: Option<String>,

    /// Where the personal-data keys are kept when KOSH_PII_KEYS is unset. Default:
    /// <data dir>/kosh.keys.
    #[arg(long, env = "KOSH_PII_KEY_FILE")]
    pub pii_key_file: Option<PathBuf>,
}

impl DataSettings {
    /// The server settings these stand for; everything else at its default.
    pub fn to_settings(&self) -> Settings {
        let mut s = Settings::defaults();
        self.apply(&mut s);
        s
    }

    fn apply(&self, s: &mut Settings) {
        self.database.apply(s);
        s.pii_keys = self.pii_keys.clone();
        s.pii_index_key = self.pii_index_key.clone();
        s.pii_key_file = self.pii_key_file.clone();
    }
}

impl From<&Settings> for DataSettings {
    fn from(s: &Settings) -> Self {
        DataSettings {
            database: s.into(),
            pii_keys: s.pii_keys.clone(),
            pii_index_key: s.pii_index_key.clone(),
            pii_key_file: s.pii_key_file.clone(),
        }
    }
}

/// The database, its keys and master data: the settings of `user create` and `bbps
/// reconcile`.
#[derive(Debug, Clone, Args)]
pub struct MasterDataSettings {
    #[command(flatten)]
    pub data: DataSettings,

    /// Folder of master data in DIGIT's MDMS layout (<state>/<Module>/<master>.json). Default:
    /// the pb demo data built into kosh.
    #[arg(long, env = "KOSH_MDMS_DIR")]
    pub mdms_dir: Option<PathBuf>,
}

impl MasterDataSettings {
    /// The server settings these stand for; everything else at its default.
    pub fn to_settings(&self) -> Settings {
        let mut s = Settings::defaults();
        self.apply(&mut s);
        s
    }

    fn apply(&self, s: &mut Settings) {
        self.data.apply(s);
        s.mdms_dir = self.mdms_dir.clone();
    }
}

impl From<&Settings> for MasterDataSettings {
    fn from(s: &Settings) -> Self {
        MasterDataSettings {
            data: s.into(),
            mdms_dir: s.mdms_dir.clone(),
        }
    }
}

/// The settings of `import demands`: the database, master data and the ceilings on amounts
/// that demand/_create applies.
#[derive(Debug, Clone, Args)]
pub struct ImportSettings {
    #[command(flatten)]
    pub master_data: MasterDataSettings,

    /// The largest single amount kosh accepts, in whole rupees (as for `kosh serve`).
    #[arg(long, env = "KOSH_MAX_AMOUNT_RUPEES", default_value_t = kosh_platform::money::DEFAULT_MAX_AMOUNT_RUPEES)]
    pub max_amount_rupees: i64,

    /// The largest total kosh accepts, in whole rupees (as for `kosh serve`).
    #[arg(long, env = "KOSH_MAX_TOTAL_RUPEES", default_value_t = kosh_platform::money::DEFAULT_MAX_TOTAL_RUPEES)]
    pub max_total_rupees: i64,
}

impl ImportSettings {
    /// The server settings these stand for; everything else at its default.
    pub fn to_settings(&self) -> Settings {
        let mut s = Settings::defaults();
        self.master_data.apply(&mut s);
        s.max_amount_rupees = self.max_amount_rupees;
        s.max_total_rupees = self.max_total_rupees;
        s
    }
}

impl From<&Settings> for ImportSettings {
    fn from(s: &Settings) -> Self {
        ImportSettings {
            master_data: s.into(),
            max_amount_rupees: s.max_amount_rupees,
            max_total_rupees: s.max_total_rupees,
        }
    }
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

/// Whether kosh's SANDBOX gateway (which takes no money) is on when no gateways file is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxMode {
    /// On only while kosh listens on a loopback address (a developer's machine), where no
    /// citizen can reach it.
    Auto,
    /// On wherever kosh listens (a test or demo deployment the operator means to expose).
    On,
    /// Off.
    Off,
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

    /// Most client connections served at once. Each open connection holds its read and
    /// write buffers (tens of kilobytes, up to a few hundred under a large body) and a task;
    /// those beyond this many wait, unaccepted, in the kernel's listen backlog until one
    /// closes. The default serves far more clients than the two cores' worth of requests
    /// kosh answers at once, while keeping what idle connections can hold to some tens of
    /// megabytes at worst.
    #[arg(long, env = "KOSH_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Log filter (tracing EnvFilter syntax, e.g. `info` or `kosh=debug`).
    #[arg(long, env = "KOSH_LOG", default_value = "info")]
    pub log: String,

    /// Log line format.
    #[arg(long, env = "KOSH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Whether every SQL statement's text is logged (DEBUG, target `sqlx::query`; the log
    /// filter must let it through, e.g. KOSH_LOG=info,sqlx::query=debug).
    #[arg(
        long,
        env = "KOSH_LOG_SQL",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub log_sql: bool,

    /// Whether the hot reads (fetch-bill of a valid bill) go through the database's own
    /// driver (rusqlite, tokio-postgres) rather than sqlx's generic one; `false` sends them
    /// through sqlx like every other statement, to compare the two or to rule the native
    /// path out when diagnosing.
    #[arg(
        long,
        env = "KOSH_NATIVE_READS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub native_reads: bool,

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

    /// Whether a refresh (`grant_type=refresh_token`) spends its refresh token and answers a
    /// new one. Off by default, as in DIGIT: the refresh token is answered again and a client
    /// may refresh with it until it expires (each refresh revokes the access token issued
    /// before).
    #[arg(
        long,
        env = "KOSH_ROTATE_REFRESH_TOKENS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub rotate_refresh_tokens: bool,

    /// How long, in seconds, this instance remembers an access token's user instead of
    /// reading it from the database on every request; 0 turns the memory off. Logout,
    /// password changes and user updates on this instance take effect at once; made on
    /// another instance, they reach this one within this many seconds.
    #[arg(long, env = "KOSH_TOKEN_CACHE_SECONDS", default_value_t = 5)]
    pub token_cache_seconds: u64,

    /// How long, in seconds, this instance keeps a fetch-bill answer (by consumer codes) to
    /// answer the same fetch again without reading the database; 0 turns it off. Writes on
    /// this instance drop the copies they change at once; bills changed by another
    /// instance or by `kosh import` reach this one within this many seconds (lower it when
    /// several instances share a database). Payments always read their bill from the
    /// database.
    #[arg(long, env = "KOSH_BILL_CACHE_SECONDS", default_value_t = 30)]
    pub bill_cache_seconds: u64,

    /// How much memory, in MiB, that copy of fetch-bill answers takes at most (the least
    /// used go first; one bill's answer is about 2 kB).
    #[arg(long, env = "KOSH_BILL_CACHE_MIB", default_value_t = 16)]
    pub bill_cache_mib: u64,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose forwarding headers name the
    /// client. From any other peer those headers are ignored.
    #[arg(long, env = "KOSH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Which header a trusted proxy names the client in: x-forwarded-for (the right-most
    /// address of all its lines that is not a trusted proxy), x-real-ip, or forwarded (RFC
    /// 7239). Forwarding headers that disagree make the client's address unknown (a SYSTEM
    /// user is refused).
    #[arg(long, env = "KOSH_CLIENT_IP_HEADER", default_value = "x-forwarded-for")]
    pub client_ip_header: String,

    /// Failed sign-ins from one client address (after KOSH_TRUSTED_PROXIES) within the
    /// login throttle window after which its sign-ins are refused with 429 until the window
    /// ends; 0 turns it off. Counted in this instance's memory.
    #[arg(
        long,
        env = "KOSH_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value_t = 20
    )]
    pub login_max_failures_per_address: u32,

    /// Failed sign-ins naming one user name (existing or not, from any address) within the
    /// window after which sign-ins for it are refused with 429; 0 turns it off. DIGIT's
    /// account lockout (5 failures in 30 minutes) applies as well.
    #[arg(long, env = "KOSH_LOGIN_MAX_FAILURES_PER_USER", default_value_t = 10)]
    pub login_max_failures_per_user: u32,

    /// The login throttle's window, in minutes, from the first counted failure.
    #[arg(long, env = "KOSH_LOGIN_THROTTLE_MINUTES", default_value_t = 15)]
    pub login_throttle_minutes: i64,

    /// Clock source. `manual` is for tests: time stands still until POST /_kosh/clock moves it.
    #[arg(long, env = "KOSH_CLOCK", value_enum, default_value = "system")]
    pub clock: ClockMode,

    /// Payment gateways: a TOML (or, named *.json, JSON) file with one section per gateway
    /// (axis, paytm, payu, phonepe, razorpay, sandbox) and an optional timeout_ms. Default: only the
    /// SANDBOX test gateway, served by kosh itself (it takes no money), as KOSH_PG_SANDBOX says.
    #[arg(long, env = "KOSH_PG_GATEWAYS_FILE")]
    pub pg_gateways_file: Option<PathBuf>,

    /// Without a gateways file: whether the SANDBOX gateway, which settles bills without taking
    /// money, is on. `auto` turns it on only while kosh listens on a loopback address.
    #[arg(long, env = "KOSH_PG_SANDBOX", value_enum, default_value_t = SandboxMode::Auto)]
    pub pg_sandbox: SandboxMode,

    /// Without a gateways file: the secret kosh's SANDBOX gateway signs its payment pages,
    /// callbacks and status answers with. When unset, kosh generates one on first start and
    /// keeps it in `<data dir>/pg-sandbox-secret` (readable by its owner only), so a restart
    /// does not break the pages of open transactions. Instances serving one database need the
    /// same secret: set it.
    #[arg(long, env = "KOSH_PG_SANDBOX_SECRET", hide_env_values = true)]
    pub pg_sandbox_secret: Option<String>,

    /// How often the payment reconciliation job runs, in seconds; 0 turns it off.
    #[arg(long, env = "KOSH_PG_RECONCILE_EVERY_SECONDS", default_value_t = 60)]
    pub pg_reconcile_every_seconds: u64,

    /// A PENDING payment transaction is re-queried at its gateway once this old, and again
    /// at this interval during its first day; one the gateway has no record of is closed
    /// (its bills freed, still PENDING) once twice this old (DIGIT fails it then: 15).
    #[arg(long, env = "KOSH_PG_RECONCILE_AFTER_MINUTES", default_value_t = 15)]
    pub pg_reconcile_after_minutes: i64,

    /// After its first day, a PENDING payment transaction is re-queried at this interval
    /// (DIGIT: twice a day).
    #[arg(long, env = "KOSH_PG_RECONCILE_SWEEP_MINUTES", default_value_t = 720)]
    pub pg_reconcile_sweep_minutes: i64,

    /// A transaction closed because its gateway had no record of it is still asked about
    /// for this many hours after its creation: a payment the gateway confirms late is still
    /// receipted, or, when its bills were paid meanwhile, recorded as a refund due.
    #[arg(long, env = "KOSH_PG_LATE_SUCCESS_HOURS", default_value_t = 72)]
    pub pg_late_success_hours: i64,

    /// How often, in seconds, kosh checks which tables grew by more than 1,000 rows plus 10%
    /// since their last analysis and analyses them (the query planner's statistics); 0 turns
    /// the check off (then only migrations and imports analyse).
    #[arg(long, env = "KOSH_ANALYZE_EVERY_SECONDS", default_value_t = 60)]
    pub analyze_every_seconds: u64,

    /// The largest single amount kosh accepts, in whole rupees: a tax amount, a payment of
    /// one bill, one bill's share of a payment (₹100 crore by default). A larger amount is
    /// refused (DIGIT's 400 error body; BPR011 on BBPS), never wrapped.
    #[arg(long, env = "KOSH_MAX_AMOUNT_RUPEES", default_value_t = kosh_platform::money::DEFAULT_MAX_AMOUNT_RUPEES)]
    pub max_amount_rupees: i64,

    /// The largest total kosh accepts, in whole rupees: a payment over several bills, a
    /// bill's total, a BBPS posting (₹1,000 crore by default). At least the single-amount
    /// ceiling.
    #[arg(long, env = "KOSH_MAX_TOTAL_RUPEES", default_value_t = kosh_platform::money::DEFAULT_MAX_TOTAL_RUPEES)]
    pub max_total_rupees: i64,

    /// Gateways given in code (tests, embedding); when set, the file is not read.
    #[arg(skip)]
    pub pg_gateways: Option<kosh_pg::GatewaysConfig>,

    /// kosh's private key (PEM, PKCS#8 or PKCS#1 RSA, at least 2048 bits) that signs its
    /// NPCI BBPS XML responses. The XML profile is off while this or KOSH_BBPS_PEER_CERTS
    /// is unset.
    #[arg(long, env = "KOSH_BBPS_SIGNING_KEY")]
    pub bbps_signing_key: Option<PathBuf>,

    /// The BBPS operating units' certificates or public keys (PEM files, comma-separated)
    /// whose XML signatures kosh accepts.
    #[arg(long, env = "KOSH_BBPS_PEER_CERTS", value_delimiter = ',')]
    pub bbps_peer_certs: Vec<PathBuf>,

    /// The keys that seal personal data (mobile numbers, emails, PAN, Aadhaar, names,
    /// addresses) at rest: `kid:base64key,kid2:base64key`, AES-256 (32 bytes each); the first
    /// seals, all open (`kosh keys new` makes one, `kosh keys rotate` re-seals). When unset,
    /// the keys are read from KOSH_PII_KEY_FILE, or generated into it on first start.
    #[arg(long, env = "KOSH_PII_KEYS", hide_env_values = true)]
    pub pii_keys: Option<String>,

    /// The key (base64, 32 bytes) of the blind indexes that mobile numbers, emails and user
    /// names are searched by. Required with KOSH_PII_KEYS; it never changes.
    #[arg(long, env = "KOSH_PII_INDEX_KEY", hide_env_values = true)]
    pub pii_index_key: Option<String>,

    /// Where the personal-data keys are kept when KOSH_PII_KEYS is unset (generated on first
    /// start, mode 0600; back it up apart from the database). Default: <data dir>/kosh.keys.
    #[arg(long, env = "KOSH_PII_KEY_FILE")]
    pub pii_key_file: Option<PathBuf>,

    /// The institution id kosh writes as Head@origInst in its NPCI BBPS XML responses.
    #[arg(long, env = "KOSH_BBPS_INSTITUTION_ID", default_value = "KOSH")]
    pub bbps_institution_id: String,

    /// The BBPS operating unit's base URL for NPCI's asynchronous exchange: when set, kosh
    /// answers each NPCI XML request with an Ack at once and POSTs its signed response to
    /// <url>/bbps/<Message>Response/1.0/urn:referenceId:<refId>, retrying until the unit
    /// acknowledges it. Unset: the signed response is the HTTP answer. Needs the XML profile.
    #[arg(long, env = "KOSH_BBPS_CALLBACK_URL")]
    pub bbps_callback_url: Option<String>,
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
            Command::Serve(s) => *s,
            _ => unreachable!("parsed as serve"),
        }
    }
}
