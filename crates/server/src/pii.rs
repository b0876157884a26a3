//! Personal data at start-up and from the command line: the vault from the settings, the
//! masking policies from master data, sealing rows written before sealing began, and `kosh
//! keys rotate` / `kosh keys new`.

use std::collections::HashMap;

use anyhow::Context;
use kosh_mdms::Mdms;
use kosh_platform::Db;
use kosh_platform::pii::{self, KeyConfig, Policy, Vault, table};

use crate::cli::{KeysNew, KeysRotate, Settings};

/// Rows sealed or re-sealed per transaction.
const BATCH: i64 = 500;

/// The key configuration the settings describe.
pub fn key_config(settings: &Settings) -> KeyConfig {
    KeyConfig {
        keys: settings.pii_keys.clone(),
        index_key: settings.pii_index_key.clone(),
        key_file: settings
            .pii_key_file
            .clone()
            .unwrap_or_else(|| settings.data_dir.join(KEY_FILE)),
    }
}

/// The key file's name in the data folder, when KOSH_PII_KEY_FILE does not name one.
pub const KEY_FILE: &str = "kosh.keys";

/// Loads the keys and makes them the process's vault.
pub fn install_vault(settings: &Settings) -> anyhow::Result<()> {
    let loaded = key_config(settings).load().map_err(anyhow::Error::msg)?;
    if let Some(file) = &loaded.generated {
        tracing::warn!(
            key_file = %file.display(),
            "KOSH_PII_KEYS is not set: generated the keys that seal personal data into the key file; back it up apart from the database (without it the personal data cannot be read), or set KOSH_PII_KEYS and KOSH_PII_INDEX_KEY"
        );
        eprintln!(
            "kosh: warning: KOSH_PII_KEYS is not set; generated personal-data keys in {} (back it up apart from the database)",
            file.display()
        );
    } else if let Some(file) = &loaded.from_file {
        tracing::info!(key_file = %file.display(), "personal-data keys read from the key file");
    }
    pii::install(loaded.vault);
    Ok(())
}

/// Puts each state's `DataSecurity.SecurityPolicy` master in force (the shipped policy for a
/// state without one).
pub fn install_policies(mdms: &Mdms) {
    let mut by_state = HashMap::new();
    for state in mdms.states() {
        let policy = match mdms.master(state, "DataSecurity", "SecurityPolicy") {
            Some(entries) => Policy::from_master(entries),
            None => Policy::shipped(),
        };
        by_state.insert(state.to_string(), policy);
    }
    pii::install_policies(by_state);
}

/// Seals the personal data of rows written before sealing began (their `pii` is NULL), in
/// transactions of [`BATCH`] rows: idempotent, and resumable after a crash (a row is either
/// still NULL or sealed with its columns cleared, in one transaction). Returns how many rows.
pub async fn seal_existing(db: &Db) -> anyhow::Result<u64> {
    let vault = pii::vault();
    // Once a start found nothing left, later starts do not scan the tables again.
    if table::sealing_done(&mut *db.pool().acquire().await?).await? {
        return Ok(0);
    }
    let mut total = 0;
    for t in table::ALL {
        loop {
            let mut tx = db.begin_write().await?;
            let n = if std::ptr::eq(*t, &table::PAYMENTS) {
                kosh_collection::store::seal_existing(&mut tx, &vault, BATCH).await?
            } else {
                t.seal_batch(&mut tx, &vault, BATCH).await?
            };
            tx.commit().await.context("sealing personal data")?;
            total += n;
            if n == 0 {
                break;
            }
        }
    }
    for (name, key, column) in table::SEALED_COLUMNS {
        loop {
            let mut tx = db.begin_write().await?;
            let n = table::seal_column_batch(&mut tx, &vault, name, key, column, BATCH).await?;
            tx.commit().await.context("sealing personal data")?;
            total += n;
            if n == 0 {
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(
            rows = total,
            "sealed the personal data of rows written before sealing began"
        );
    }
    let mut tx = db.begin_write().await?;
    table::mark_sealing_done(&mut tx, chrono::Utc::now().timestamp_millis()).await?;
    tx.commit().await.context("sealing personal data")?;
    Ok(total)
}

/// Refuses to go on with keys that do not fit the database: one sealed row of each table
/// must open, and a user's mobile number must have the blind index its row keeps. Two kosh
/// instances sharing a database with keys generated apart (each its own key file), or a
/// lost key file, are stopped here instead of writing data the others cannot read.
pub async fn check_keys(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.pool().acquire().await?;
    table::check_keys(&mut conn, &pii::vault())
        .await
        .map_err(anyhow::Error::msg)
}

/// Re-seals under the current key every value an older key sealed. Returns how many.
pub async fn rotate(db: &Db, vault: &Vault) -> anyhow::Result<u64> {
    let mut total = 0;
    let columns = table::ALL
        .iter()
        .map(|t| (t.name, t.key, "pii"))
        .chain(table::SEALED_COLUMNS.iter().copied());
    for (name, key, column) in columns {
        loop {
            let mut tx = db.begin_write().await?;
            let n = table::reseal_batch(&mut tx, vault, name, key, column, BATCH).await?;
            tx.commit().await.context("re-sealing personal data")?;
            total += n;
            if n == 0 {
                break;
            }
        }
    }
    Ok(total)
}

/// `kosh keys rotate`.
pub async fn keys_rotate(args: KeysRotate) -> anyhow::Result<()> {
    let settings = args.settings.to_settings();
    crate::init_logging(&settings);
    let db = crate::open_database(&settings).await?;
    let vault = pii::vault();
    let n = rotate(&db, &vault).await?;
    println!(
        "re-sealed {n} value(s) under key \"{}\"; the other keys ({}) may now be removed from KOSH_PII_KEYS",
        vault.current_key_id(),
        vault.key_ids()[1..].join(", ")
    );
    Ok(())
}

/// `kosh keys new`.
pub fn keys_new(args: KeysNew) -> anyhow::Result<()> {
    let id = args
        .id
        .unwrap_or_else(|| pii::keys::fresh_key_id(chrono::Utc::now()));
    pii::keys::check_key_id(&id).map_err(anyhow::Error::msg)?;
    if args.index {
        println!("{}", pii::keys::fresh_key());
    } else {
        println!("{id}:{}", pii::keys::fresh_key());
    }
    Ok(())
}
