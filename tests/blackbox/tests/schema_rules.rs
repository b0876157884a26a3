//! The schema stays ready for several kosh instances over a distributed PostgreSQL-compatible
//! engine (SCALE-OUT.md): Citus distributes a table by one column and can only enforce a
//! unique key that contains it; CockroachDB and YugabyteDB turn a database sequence into one
//! hot range and have no advisory locks or LISTEN/NOTIFY. So:
//!
//! - every unique key (primary key, unique constraint or unique index) of a table that has a
//!   `tenant_id` column includes `tenant_id`;
//! - every table has a `tenant_id` column, or is one of [`GLOBAL_TABLES`];
//! - no sequence, SERIAL, IDENTITY or AUTOINCREMENT column (counter rows hand out numbers);
//! - no advisory lock, LISTEN/NOTIFY or SKIP LOCKED in the migrations or in any SQL string of
//!   the crates.
//!
//! The keys are read from the live catalog of a freshly migrated database (PostgreSQL's
//! pg_index, SQLite's pragmas), so a key added by any migration, however it is spelled, is
//! seen; the statements are read from the migrations' text and the crates' string literals.
//! Each check is also run on a planted violation, to show that it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use sqlx::{AnyPool, Row};

/// Tables without a `tenant_id` column, each with why it is global. In a Citus deployment
/// these are reference tables or tables distributed by their own key (SCALE-OUT.md).
const GLOBAL_TABLES: &[(&str, &str)] = &[
    (
        "eg_user_role",
        "a user's roles, keyed by the user's global id; the role's tenant is role_tenant_id",
    ),
    (
        "eg_user_token",
        "tokens are found by their hash alone: a request names no tenant before its token is read",
    ),
    (
        "eg_login_failure",
        "failed sign-ins of one user, keyed by the user's global id",
    ),
    (
        "kosh_idempotency",
        "an Idempotency-Key is scoped by the caller (its uuid), who may act in several cities",
    ),
    (
        "kosh_job_lease",
        "one row per background job, shared by all instances",
    ),
    (
        "kosh_pii_state",
        "one row per one-off data task of the whole database",
    ),
];

/// Unique keys of tenant-scoped tables that deliberately leave `tenant_id` out, by table and
/// columns, each with why.
const GLOBAL_KEYS: &[(&str, &[&str], &str)] = &[
    (
        "eg_user",
        &["id"],
        "DIGIT's numeric user id is global: tokens, roles and login failures refer to it alone",
    ),
    (
        "eg_user",
        &["uuid"],
        "DIGIT's user uuid is global: a citizen at the state pays in every city by it",
    ),
    (
        "eg_pg_transactions",
        &["txn_id"],
        "gateways call back and answer status queries with the transaction id alone",
    ),
    (
        "pg_sandbox_payments",
        &["txn_id"],
        "the SANDBOX plays an outside bank, which knows a transaction by its id alone",
    ),
    (
        "kosh_outbox",
        &["id"],
        "the relay reads and marks events of every tenant by their id",
    ),
];

/// Tables of the tools themselves, not of kosh.
const TOOL_TABLES: &[&str] = &["_sqlx_migrations"];

/// A database schema as the rules see it.
#[derive(Debug, Default)]
struct Schema {
    /// Each table's columns.
    tables: BTreeMap<String, BTreeSet<String>>,
    /// Unique keys: table, key name, columns in key order.
    unique_keys: Vec<(String, String, Vec<String>)>,
    /// Database sequences and self-numbering columns, by name.
    numbering: Vec<String>,
}

/// Every rule the schema breaks, in words.
fn violations(schema: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    for name in &schema.numbering {
        found.push(format!(
            "{name}: a database sequence or self-numbering column (use a counter row)"
        ));
    }
    for (table, columns) in &schema.tables {
        if TOOL_TABLES.contains(&table.as_str()) {
            continue;
        }
        let global = GLOBAL_TABLES.iter().any(|(t, _)| t == table);
        if !columns.contains("tenant_id") && !global {
            found.push(format!(
                "table {table} has no tenant_id column (add it, or list the table in GLOBAL_TABLES with why it is global)"
            ));
        }
    }
    for (table, key, columns) in &schema.unique_keys {
        let Some(table_columns) = schema.tables.get(table) else {
            continue;
        };
        if !table_columns.contains("tenant_id") || columns.iter().any(|c| c == "tenant_id") {
            continue;
        }
        let allowed = GLOBAL_KEYS
            .iter()
            .any(|(t, cols, _)| t == table && cols.iter().eq(columns.iter()));
        if !allowed {
            found.push(format!(
                "unique key {key} of {table} ({}) does not include tenant_id",
                columns.join(", ")
            ));
        }
    }
    found
}

/// Allow-list entries that name nothing in `schema`: a stale entry would let a later table
/// or key of that name through unexamined.
fn stale_allowances(schema: &Schema) -> Vec<String> {
    let mut stale = Vec::new();
    for (table, _) in GLOBAL_TABLES {
        if !schema.tables.contains_key(*table) {
            stale.push(format!("GLOBAL_TABLES names {table}, which does not exist"));
        }
    }
    for (table, cols, _) in GLOBAL_KEYS {
        let exists = schema
            .unique_keys
            .iter()
            .any(|(t, _, c)| t == table && cols.iter().eq(c.iter()));
        if !exists {
            stale.push(format!(
                "GLOBAL_KEYS names {table} ({}), which is not a unique key",
                cols.join(", ")
            ));
        }
    }
    stale
}

async fn read_schema(backend: Backend, pool: &AnyPool) -> Schema {
    match backend {
        Backend::Postgres => read_postgres_schema(pool).await,
        Backend::Sqlite => read_sqlite_schema(pool).await,
    }
}

async fn read_postgres_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::default();
    let columns = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .expect("columns");
    for row in columns {
        schema
            .tables
            .entry(row.get::<String, _>(0))
            .or_default()
            .insert(row.get::<String, _>(1));
    }
    // Every unique index, the primary keys' and unique constraints' included, with its key
    // columns in order (an expression has no column: it shows as none).
    let keys = sqlx::query(
        "SELECT t.relname::text, i.relname::text, \
           COALESCE((SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
              FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum), '') \
         FROM pg_index x \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE x.indisunique AND n.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await
    .expect("unique indexes");
    for row in keys {
        let columns: String = row.get(2);
        schema.unique_keys.push((
            row.get(0),
            row.get(1),
            columns
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        ));
    }
    // SERIAL and IDENTITY columns own a sequence, so the sequences are all of them.
    let sequences = sqlx::query(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'S' AND n.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await
    .expect("sequences");
    schema.numbering = sequences.iter().map(|r| r.get::<String, _>(0)).collect();
    schema
}

async fn read_sqlite_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(pool)
    .await
    .expect("tables")
    .iter()
    .map(|r| r.get(0))
    .collect();
    for table in tables {
        let quoted = table.replace('\'', "''");
        let columns = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, pk FROM pragma_table_info('{quoted}')"
        )))
        .fetch_all(pool)
        .await
        .expect("table columns");
        let mut primary: Vec<(i64, String)> = Vec::new();
        let entry = schema.tables.entry(table.clone()).or_default();
        for row in columns {
            let name: String = row.get(0);
            let pk: i64 = row.get(1);
            if pk > 0 {
                primary.push((pk, name.clone()));
            }
            entry.insert(name);
        }
        // The primary key from the columns (a rowid alias has no index of its own).
        if !primary.is_empty() {
            primary.sort();
            schema.unique_keys.push((
                table.clone(),
                format!("{table} primary key"),
                primary.into_iter().map(|(_, c)| c).collect(),
            ));
        }
        let indexes = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_index_list('{quoted}') WHERE \"unique\" = 1 AND origin <> 'pk'"
        )))
        .fetch_all(pool)
        .await
        .expect("index list");
        for index in indexes {
            let name: String = index.get(0);
            let columns = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COALESCE(name, '') FROM pragma_index_info('{}') ORDER BY seqno",
                name.replace('\'', "''")
            )))
            .fetch_all(pool)
            .await
            .expect("index columns");
            schema.unique_keys.push((
                table.clone(),
                name,
                columns
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .filter(|c| !c.is_empty())
                    .collect(),
            ));
        }
    }
    // AUTOINCREMENT keeps its counters in sqlite_sequence, which exists only then.
    let autoincrement =
        sqlx::query("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
            .fetch_all(pool)
            .await
            .expect("sqlite_sequence");
    if !autoincrement.is_empty() {
        schema
            .numbering
            .push("sqlite_sequence (an AUTOINCREMENT column)".into());
    }
    schema
}

on_both_databases!(the_migrated_schema_keeps_the_scale_out_rules);

async fn the_migrated_schema_keeps_the_scale_out_rules(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let pool = kosh.state().db.pool().clone();
    let schema = read_schema(backend, &pool).await;
    assert!(
        schema.tables.contains_key("egcl_payment") && !schema.unique_keys.is_empty(),
        "the catalog was read: {schema:?}"
    );
    assert_eq!(violations(&schema), Vec::<String>::new());
    assert_eq!(stale_allowances(&schema), Vec::<String>::new());

    // Planted violations in the same database: each is reported.
    let planted: &[&str] = match backend {
        Backend::Postgres => &[
            "CREATE TABLE planted_city_code (tenant_id VARCHAR(64) NOT NULL, code VARCHAR(64) NOT NULL, PRIMARY KEY (code))",
            "CREATE TABLE planted_no_tenant (code VARCHAR(64) NOT NULL PRIMARY KEY)",
            "CREATE UNIQUE INDEX planted_receipt_alone ON egcl_paymentdetail (receipt_number)",
            "CREATE TABLE planted_serial (id BIGSERIAL PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL)",
        ],
        Backend::Sqlite => &[
            "CREATE TABLE planted_city_code (tenant_id VARCHAR(64) NOT NULL, code VARCHAR(64) NOT NULL, PRIMARY KEY (code))",
            "CREATE TABLE planted_no_tenant (code VARCHAR(64) NOT NULL PRIMARY KEY)",
            "CREATE UNIQUE INDEX planted_receipt_alone ON egcl_paymentdetail (receipt_number)",
            "CREATE TABLE planted_serial (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id VARCHAR(64) NOT NULL)",
        ],
    };
    for statement in planted {
        sqlx::query(*statement)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let found = violations(&read_schema(backend, &pool).await).join("\n");
    for expected in [
        "of planted_city_code (code) does not include tenant_id",
        "table planted_no_tenant has no tenant_id column",
        "of egcl_paymentdetail (receipt_number) does not include tenant_id",
        match backend {
            Backend::Postgres => "planted_serial_id_seq: a database sequence",
            Backend::Sqlite => "sqlite_sequence (an AUTOINCREMENT column)",
        },
    ] {
        assert!(found.contains(expected), "{expected:?} not in:\n{found}");
    }
    kosh.stop().await;
}

#[test]
fn the_allow_lists_are_checked_against_the_schema() {
    let mut schema = Schema::default();
    schema.tables.insert(
        "eg_user".into(),
        ["id", "uuid", "tenant_id"].map(String::from).into(),
    );
    let stale = stale_allowances(&schema).join("\n");
    assert!(
        stale.contains("GLOBAL_TABLES names eg_user_token"),
        "{stale}"
    );
    assert!(
        stale.contains("GLOBAL_KEYS names eg_user (uuid)"),
        "{stale}"
    );
    schema.unique_keys.push((
        "eg_user".into(),
        "eg_user_uuid_key".into(),
        vec!["uuid".into()],
    ));
    schema.unique_keys.push((
        "eg_user".into(),
        "eg_user_uuid_name".into(),
        vec!["uuid".into(), "user_name".into()],
    ));
    // An allowed key is allowed with exactly its columns, no more.
    assert_eq!(
        violations(&schema),
        vec![
            "unique key eg_user_uuid_name of eg_user (uuid, user_name) does not include tenant_id"
        ]
    );
}

/// Statements no migration and no SQL of kosh may use, as words of SQL: database-side
/// numbering, advisory locks, LISTEN/NOTIFY, SKIP LOCKED. Keywords match in upper case, as
/// kosh writes SQL (so that "listen" in a message is not one); functions in any case.
const FORBIDDEN: &[&str] = &[
    "SERIAL",
    "BIGSERIAL",
    "SMALLSERIAL",
    "AUTOINCREMENT",
    "AS IDENTITY",
    "CREATE SEQUENCE",
    "NEXTVAL",
    "PG_ADVISORY_LOCK",
    "PG_ADVISORY_XACT_LOCK",
    "PG_TRY_ADVISORY_LOCK",
    "PG_TRY_ADVISORY_XACT_LOCK",
    "LISTEN",
    "NOTIFY",
    "PG_NOTIFY",
    "SKIP LOCKED",
];

/// The forbidden words in `sql` (whole words, any spacing between a phrase's words).
fn forbidden_in(sql: &str) -> Vec<&'static str> {
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let same = |word: &str, forbidden: &str| {
        let function = forbidden.starts_with("PG_") || forbidden == "NEXTVAL";
        word == forbidden || (function && word.eq_ignore_ascii_case(forbidden))
    };
    FORBIDDEN
        .iter()
        .copied()
        .filter(|phrase| {
            let phrase: Vec<&str> = phrase.split(' ').collect();
            words
                .windows(phrase.len())
                .any(|w| w.iter().zip(&phrase).all(|(w, p)| same(w, p)))
        })
        .collect()
}

/// `sql` without its `--` line comments and `/* */` block comments.
fn sql_without_comments(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else if let Some(after) = rest.strip_prefix('\'') {
            // A string literal: skipped, so that text in it is not taken for SQL.
            let end = after.find('\'').map_or(after.len(), |i| i + 1);
            out.push(' ');
            rest = &after[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The contents of the string literals of Rust source `code` (plain, byte and raw strings),
/// where kosh's SQL is; comments and the rest of the code are left out.
fn rust_string_literals(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(raw) = rest
            .strip_prefix("br")
            .or_else(|| rest.strip_prefix('r'))
            .filter(|r| r.starts_with('#') || r.starts_with('"'))
            .filter(|_| i == 0 || !is_ident_byte(bytes[i - 1]))
        {
            let hashes = raw.len() - raw.trim_start_matches('#').len();
            let open = rest.len() - raw.len() + hashes;
            if rest[open..].starts_with('"') {
                let close = format!("\"{}", "#".repeat(hashes));
                let body = &rest[open + 1..];
                let end = body.find(&close).unwrap_or(body.len());
                literals.push(body[..end].to_string());
                i += open + 1 + end + close.len();
            } else {
                i += 1;
            }
        } else if rest.starts_with('"') {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            literals.push(code[i + 1..j.min(bytes.len())].to_string());
            i = j + 1;
        } else if let Some(after) = rest.strip_prefix('\'') {
            // A character literal ('"', '\'', 'x'), or a lifetime, which has no closing quote.
            let len = if after.starts_with('\\') {
                after[2..].find('\'').map_or(1, |e| e + 4)
            } else {
                match after.char_indices().nth(1) {
                    Some((at, '\'')) => at + 2,
                    _ => 1,
                }
            };
            i += len;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    literals
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_ending(dir: &Path, ending: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "target" {
                files_ending(&path, ending, out);
            }
        } else if path.to_string_lossy().ends_with(ending) {
            out.push(path);
        }
    }
}

#[test]
fn no_migration_numbers_rows_or_locks_outside_rows() {
    let mut migrations = Vec::new();
    files_ending(&root().join("migrations"), ".sql", &mut migrations);
    assert!(migrations.len() >= 11, "migrations found: {migrations:?}");
    let mut found = Vec::new();
    for path in migrations {
        let text = std::fs::read_to_string(&path).expect("migration");
        for word in forbidden_in(&sql_without_comments(&text)) {
            found.push(format!("{}: {word}", path.display()));
        }
    }
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn no_sql_of_the_crates_numbers_rows_or_locks_outside_rows() {
    let mut sources = Vec::new();
    files_ending(&root().join("crates"), ".rs", &mut sources);
    assert!(sources.len() > 50, "sources found: {}", sources.len());
    let mut found = Vec::new();
    let mut statements = 0;
    for path in sources {
        let code = std::fs::read_to_string(&path).expect("source");
        for literal in rust_string_literals(&code) {
            statements += usize::from(literal.contains("SELECT ") || literal.contains("UPDATE "));
            for word in forbidden_in(&literal) {
                found.push(format!("{}: {word} in {literal:?}", path.display()));
            }
        }
    }
    assert!(
        statements > 100,
        "the SQL of the crates was read: {statements} statements"
    );
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn the_statement_checks_find_what_they_forbid() {
    let migration = "-- no SERIAL here, only in a comment\n\
        CREATE TABLE t (id BIGSERIAL PRIMARY KEY, note TEXT DEFAULT 'LISTEN');\n\
        /* NOTIFY in a block comment */ SELECT pg_advisory_xact_lock(1);\n";
    assert_eq!(
        forbidden_in(&sql_without_comments(migration)),
        vec!["BIGSERIAL", "PG_ADVISORY_XACT_LOCK"]
    );
    let code = r####"
        // "SELECT nextval('x')" in a comment is not SQL
        let a = "SELECT id FROM t FOR UPDATE SKIP   LOCKED";
        let b = r#"LISTEN "kosh""#;
        let c = '"'; let d = "KOSH_LISTEN is a setting; to listen on a port is not a statement";
        fn f<'a>(x: &'a str) -> &'a str { x }
        let e = "INSERT INTO t (id) VALUES (nextval('s'))";
    "####;
    let literals = rust_string_literals(code);
    let words: Vec<_> = literals.iter().flat_map(|l| forbidden_in(l)).collect();
    assert_eq!(
        words,
        vec!["SKIP LOCKED", "LISTEN", "NEXTVAL"],
        "{literals:?}"
    );
}
