//! Start-up and the command line, from outside: the built `kosh` binary's logs carry no
//! colour codes when they do not go to a terminal (nor with NO_COLOR on one); `kosh serve`'s
//! start-up lines name the URL of the API docs and the optional profiles that are on and off;
//! a database that cannot be opened is one error said once; each command's `--help` lists only
//! the settings it uses, the database's where it opens the database; and one config file,
//! holding settings only `kosh serve` reads, serves the other commands too.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kosh_blackbox::{Backend, admin_pg_url, on_both_databases};
use sqlx::Connection;

on_both_databases!(
    start_up_lines_name_the_docs_and_the_profiles,
    a_database_that_does_not_open_is_said_once
);

/// The `kosh` binary of this workspace, built (or brought up to date) by cargo first.
fn kosh_binary() -> PathBuf {
    if let Ok(path) = std::env::var("KOSH_BIN") {
        return PathBuf::from(path);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "kosh-server", "--bin", "kosh"])
        .current_dir(manifest)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the kosh binary failed");
    // target/<profile>/deps/<this test> -> target/<profile>/kosh
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile folder");
    let bin = profile_dir.join(format!("kosh{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// `kosh <args>` with no KOSH_* setting (nor NO_COLOR) inherited from the test's environment,
/// run in `dir`.
fn kosh(bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("KOSH_") || key == "NO_COLOR" {
            command.env_remove(key);
        }
    }
    command.current_dir(dir).args(args);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const ESC: u8 = 0x1b;

fn assert_no_colour(what: &str, bytes: &[u8]) {
    assert!(
        !bytes.contains(&ESC),
        "{what} carries ANSI escape codes:\n{}",
        text(bytes)
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kosh-startup-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh database for `backend`: its URL (None: SQLite in the data folder) and, on
/// PostgreSQL, its name to drop.
async fn fresh_database(backend: Backend) -> (Option<String>, Option<String>) {
    if backend == Backend::Sqlite {
        return (None, None);
    }
    let name = format!("kosh_t_{}", uuid::Uuid::new_v4().simple());
    let admin = admin_pg_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed (run scripts/test): {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    (Some(format!("{base}/{name}")), Some(name))
}

async fn drop_database(name: Option<String>) {
    if let Some(name) = name {
        let mut conn = sqlx::PgConnection::connect(&admin_pg_url())
            .await
            .expect("PostgreSQL");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// `kosh serve` with its output piped: no colour codes; the start-up lines say where kosh
/// listens, the URL of its API docs (which answers), and which optional profiles are on and
/// which off.
async fn start_up_lines_name_the_docs_and_the_profiles(backend: Backend) {
    let bin = kosh_binary();
    let dir = temp_dir("serve");
    let (url, pg_name) = fresh_database(backend).await;
    let mut command = kosh(&bin, &dir, &["serve"]);
    command
        .env("KOSH_LISTEN", "127.0.0.1:0")
        .env("KOSH_DATA_DIR", dir.join("data"))
        .env("KOSH_ADMIN_PASSWORD", "Admin@1234")
        .env("KOSH_DB_MAX_CONNECTIONS", "4")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = &url {
        command.env("KOSH_DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("kosh serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr);
        loop {
            let mut line = Vec::new();
            match lines.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !seen
        .iter()
        .any(|l| String::from_utf8_lossy(l).contains("off: "))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("no start-up lines within 120 s:\n{}", text(&seen.concat()));
            }
        }
    }
    let log = text(&seen.concat());
    let line = |prefix: &str| {
        log.lines()
            .find(|l| l.contains(prefix))
            .unwrap_or_else(|| panic!("no line with {prefix:?} in:\n{log}"))
            .to_string()
    };

    // Where kosh listens and the docs' URL, which answers.
    let ready = line("kosh is ready on http://127.0.0.1:");
    let docs = ready
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.contains("/docs/"))
        .unwrap_or_else(|| panic!("no docs URL in {ready:?}"))
        .trim_end_matches(')')
        .to_string();
    assert!(docs.ends_with("/docs/"), "{ready}");
    assert!(ready.contains("listen=127.0.0.1:"), "{ready}");
    let database = if backend == Backend::Sqlite {
        "database=sqlite://"
    } else {
        "database=postgres://"
    };
    assert!(ready.contains(database), "{ready}");
    let answer = reqwest::get(&docs).await.expect("the docs answer");
    assert_eq!(answer.status(), reqwest::StatusCode::OK, "{docs}");

    // What is on, what is off, and how to change it.
    let on = line(" on: ");
    for profile in [
        "payment gateways SANDBOX",
        "payment reconciliation every 60 s",
        "BBPS JSON API",
        "personal data sealed at rest (keys from the key file",
        "kosh_outbox",
        "login throttle (20 failures per address, 10 failures per user name, in 15 min)",
        "token cache (5 s)",
        "fetch-bill cache (30 s, 16 MiB)",
    ] {
        assert!(on.contains(profile), "{profile:?} is not on in {on:?}");
    }
    let off = line(" off: ");
    for profile in [
        "BBPS NPCI XML profile (KOSH_BBPS_SIGNING_KEY and KOSH_BBPS_PEER_CERTS",
        "BBPS NPCI asynchronous exchange (KOSH_BBPS_CALLBACK_URL",
        "refresh-token rotation",
        "trusted proxies (KOSH_TRUSTED_PROXIES",
    ] {
        assert!(off.contains(profile), "{profile:?} is not off in {off:?}");
    }
    assert!(
        !on.contains("XML profile") && !off.contains("SANDBOX"),
        "{log}"
    );

    let _ = child.kill();
    let _ = child.wait();
    drop(rx);
    let _ = reader.join();
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_end(&mut out, &mut stdout);
    }
    assert_no_colour("kosh serve's standard error", &seen.concat());
    assert_no_colour("kosh serve's standard output", &stdout);
    drop_database(pg_name).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The error of a database that does not open names the database and says its cause once
/// (sqlx writes its cause into its own text, which the chain of causes said again), from
/// `serve` and from the other commands.
async fn a_database_that_does_not_open_is_said_once(backend: Backend) {
    let bin = kosh_binary();
    let dir = temp_dir("unreachable");
    let (url, cause) = match backend {
        // A folder that cannot be created.
        Backend::Sqlite => (
            "sqlite:///proc/kosh-no-such-folder/kosh.db".to_string(),
            "No such file or directory",
        ),
        // A database the server does not have.
        Backend::Postgres => {
            let admin = admin_pg_url();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            (
                format!("{base}/kosh_no_such_database"),
                "database \"kosh_no_such_database\" does not exist",
            )
        }
    };
    for args in [
        &["serve"][..],
        &["migrate"],
        &["audit", "verify"],
        &["import", "demands", "demands.csv"],
    ] {
        let out = kosh(&bin, &dir, args)
            .env("KOSH_DATABASE_URL", &url)
            .env("KOSH_LISTEN", "127.0.0.1:0")
            .env("KOSH_DATA_DIR", dir.join("data"))
            .output()
            .expect("kosh runs");
        let err = text(&out.stderr);
        assert!(!out.status.success(), "kosh {args:?} succeeded: {err}");
        assert_no_colour("the error", &out.stderr);
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("kosh: opening database "),
            "kosh {args:?}: {err}"
        );
        assert_eq!(last.matches(cause).count(), 1, "kosh {args:?}: {last}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nothing listens on port 1: the refusal itself is said, once, rather than the pool's
/// timing out.
#[test]
fn a_refused_connection_is_said_once() {
    let bin = kosh_binary();
    let dir = temp_dir("refused");
    for args in [&["serve"][..], &["migrate"], &["reconcile", "--now"]] {
        let out = kosh(&bin, &dir, args)
            .env("KOSH_DATABASE_URL", "postgres://postgres@127.0.0.1:1/x")
            .env("KOSH_DATA_DIR", dir.join("data"))
            .output()
            .expect("kosh runs");
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert_no_colour("the error", &out.stderr);
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("kosh: opening database postgres://postgres@127.0.0.1:1/x: "),
            "kosh {args:?}: {err}"
        );
        assert_eq!(
            last.matches("Connection refused").count(),
            1,
            "kosh {args:?}: {last}"
        );
        assert!(!last.contains("timed out"), "kosh {args:?}: {last}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The flags `kosh <args> --help` lists (with its output piped: no colour codes).
fn flags(bin: &Path, args: &[&str]) -> BTreeSet<String> {
    let dir = std::env::temp_dir();
    let out: Output = kosh(bin, &dir, args)
        .arg("--help")
        .output()
        .expect("kosh runs");
    assert!(out.status.success(), "kosh {args:?} --help: {out:?}");
    assert_no_colour("--help", &out.stdout);
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            let l = l.strip_prefix("-V, ").unwrap_or(l);
            l.starts_with("--").then(|| {
                l.split(|c: char| c.is_whitespace() || c == '<' || c == '[' || c == '=')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
        .collect()
}

/// The settings only `kosh serve` reads.
const SERVE_ONLY: &[&str] = &[
    "--listen",
    "--max-body-bytes",
    "--admin-username",
    "--admin-password",
    "--access-token-minutes",
    "--refresh-token-minutes",
    "--rotate-refresh-tokens",
    "--token-cache-seconds",
    "--bill-cache-seconds",
    "--bill-cache-mib",
    "--trusted-proxies",
    "--client-ip-header",
    "--login-max-failures-per-address",
    "--login-max-failures-per-user",
    "--login-throttle-minutes",
    "--clock",
    "--pg-gateways-file",
    "--pg-sandbox",
    "--pg-sandbox-secret",
    "--pg-reconcile-every-seconds",
    "--pg-reconcile-after-minutes",
    "--pg-reconcile-sweep-minutes",
    "--pg-late-success-hours",
    "--bbps-signing-key",
    "--bbps-peer-certs",
    "--bbps-institution-id",
    "--bbps-callback-url",
];

/// The database's settings, which every command that opens it lists.
const DATABASE: &[&str] = &[
    "--config",
    "--data-dir",
    "--database-url",
    "--db-max-connections",
    "--log",
    "--log-format",
];
const PII_KEYS: &[&str] = &["--pii-keys", "--pii-index-key", "--pii-key-file"];
const AMOUNTS: &[&str] = &["--max-amount-rupees", "--max-total-rupees"];

#[test]
fn each_help_lists_only_the_settings_its_command_uses() {
    let bin = kosh_binary();
    let has = |flags: &BTreeSet<String>, wanted: &[&str], what: &str| {
        for flag in wanted {
            assert!(
                flags.contains(*flag),
                "{what} --help lacks {flag}: {flags:?}"
            );
        }
    };
    let lacks = |flags: &BTreeSet<String>, unwanted: &[&str], what: &str| {
        for flag in unwanted {
            assert!(!flags.contains(*flag), "{what} --help lists {flag}");
        }
    };

    // serve: every setting.
    let serve = flags(&bin, &["serve"]);
    for group in [SERVE_ONLY, DATABASE, PII_KEYS, AMOUNTS, &["--mdms-dir"]] {
        has(&serve, group, "serve");
    }

    // The others: the database's settings, and what else each one uses.
    // (the command, the groups of flags it lists, flags it does not list)
    type Case<'a> = (&'a [&'a str], &'a [&'a [&'a str]], &'a [&'a str]);
    let cases: &[Case] = &[
        (&["migrate"], &[DATABASE, PII_KEYS], &["--mdms-dir"]),
        (
            &["import", "demands"],
            &[DATABASE, PII_KEYS, AMOUNTS, &["--mdms-dir", "--batch-size"]],
            &[],
        ),
        (&["audit", "verify"], &[DATABASE, &["--json"]], PII_KEYS),
        (&["keys", "rotate"], &[DATABASE, PII_KEYS], &["--mdms-dir"]),
        (
            &["user", "create"],
            &[
                DATABASE,
                PII_KEYS,
                &["--mdms-dir", "--tenant", "--password"],
            ],
            AMOUNTS,
        ),
        (
            &["bbps", "reconcile"],
            &[DATABASE, PII_KEYS, &["--mdms-dir", "--date"]],
            AMOUNTS,
        ),
    ];
    for (args, wanted, unwanted) in cases {
        let what = args.join(" ");
        let listed = flags(&bin, args);
        for group in *wanted {
            has(&listed, group, &what);
        }
        lacks(&listed, unwanted, &what);
        lacks(&listed, SERVE_ONLY, &what);
    }

    // `reconcile --now` asks the gateways `kosh serve` uses, at its address; nothing else of
    // the server's.
    let reconcile = flags(&bin, &["reconcile"]);
    has(&reconcile, DATABASE, "reconcile");
    has(
        &reconcile,
        &["--now", "--listen", "--pg-gateways-file", "--mdms-dir"],
        "reconcile",
    );
    lacks(
        &reconcile,
        &[
            "--access-token-minutes",
            "--bill-cache-seconds",
            "--login-throttle-minutes",
            "--bbps-signing-key",
            "--admin-username",
            "--max-body-bytes",
        ],
        "reconcile",
    );

    // `keys new` opens nothing.
    let keys_new = flags(&bin, &["keys", "new"]);
    lacks(&keys_new, DATABASE, "keys new");
    lacks(&keys_new, SERVE_ONLY, "keys new");
}

/// One config file for every command: settings only `kosh serve` reads are ignored by the
/// others, the ones they take are applied.
#[test]
fn one_config_file_serves_every_command() {
    let bin = kosh_binary();
    let dir = temp_dir("config");
    let data = dir.join("data");
    let file = dir.join("kosh.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"0.0.0.0:9999\"\nbill_cache_seconds = 3\nlogin_throttle_minutes = 5\n\
             bbps_institution_id = \"KOSH\"\npg_sandbox = \"off\"\nmax_body_bytes = 4096\n\
             data_dir = {:?}\nlog = \"info\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let config = file.display().to_string();
    let migrate = kosh(&bin, &dir, &["migrate", "--config", &config])
        .output()
        .expect("kosh runs");
    assert!(migrate.status.success(), "{migrate:?}");
    assert!(data.join("kosh.db").exists(), "the file's data_dir is used");
    assert!(
        text(&migrate.stderr).contains("migrations applied"),
        "{}",
        text(&migrate.stderr)
    );
    assert_no_colour("kosh migrate", &migrate.stderr);
    let verify = kosh(&bin, &dir, &["audit", "verify"])
        .env("KOSH_CONFIG", &config)
        .output()
        .expect("kosh runs");
    assert!(verify.status.success(), "{verify:?}");
    assert!(text(&verify.stdout).contains("no audit rows"), "{verify:?}");
    let csv = dir.join("none.csv");
    std::fs::write(
        &csv,
        "tenantId,consumerCode,consumerType,businessService,payer,taxPeriodFrom,taxPeriodTo,minimumAmountPayable,billExpiryTime,fixedBillExpiryDate,taxHeadMasterCode,taxAmount,collectionAmount\n",
    )
    .unwrap();
    let import = kosh(
        &bin,
        &dir,
        &[
            "import",
            "demands",
            "--quiet",
            "--config",
            &config,
            &csv.display().to_string(),
        ],
    )
    .output()
    .expect("kosh runs");
    assert!(import.status.success(), "{import:?}");
    // A key no command knows is still refused.
    std::fs::write(&file, "no_such_setting = 1\n").unwrap();
    let refused = kosh(&bin, &dir, &["migrate", "--config", &config])
        .output()
        .expect("kosh runs");
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("unknown setting \"no_such_setting\""));
    let _ = std::fs::remove_dir_all(&dir);
}

/// On a terminal, the text logs are coloured, unless NO_COLOR is set (no-color.org). Run
/// under a pseudo-terminal by `script` (util-linux); skipped without it.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let bin = kosh_binary();
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here: the terminal case is not checked");
        return;
    }
    let dir = temp_dir("tty");
    let run = |no_color: Option<&str>| {
        let mut command = Command::new("script");
        for (key, _) in std::env::vars() {
            if key.starts_with("KOSH_") || key == "NO_COLOR" {
                command.env_remove(key);
            }
        }
        command
            .current_dir(&dir)
            .env("KOSH_DATA_DIR", dir.join("data"))
            .args(["-qec", &format!("{} migrate", bin.display()), "/dev/null"]);
        if let Some(v) = no_color {
            command.env("NO_COLOR", v);
        }
        let out = command.output().expect("script runs");
        assert!(out.status.success(), "{out:?}");
        let all = [out.stdout, out.stderr].concat();
        assert!(text(&all).contains("migrations applied"), "{}", text(&all));
        all
    };
    assert!(
        run(None).contains(&ESC),
        "the logs on a terminal are coloured"
    );
    assert_no_colour("the logs with NO_COLOR=1", &run(Some("1")));
    // An empty NO_COLOR does not count (no-color.org).
    assert!(run(Some("")).contains(&ESC));
    let _ = std::fs::remove_dir_all(&dir);
}
