//! Where the vault's keys come from.
//!
//! - `KOSH_PII_KEYS="kid:base64key,kid2:base64key"`: AES-256 keys (32 bytes, standard or
//!   URL-safe base64), the first seals, all open.
//! - `KOSH_PII_INDEX_KEY=base64key`: the blind-index key (at least 32 bytes). It never
//!   rotates: the indexes of every row were made with it.
//! - `KOSH_PII_KEY_FILE` (default `<data dir>/kosh.keys`): when the keys are not configured,
//!   kosh reads them from this file, or on first start writes fresh ones into it (mode 0600)
//!   and warns, so `kosh serve` with no configuration just works. The file holds the same two
//!   settings as `NAME=value` lines. Lose it and the personal data in the database is lost
//!   with it: back it up apart from the database.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};

use super::Vault;

/// The keys' configuration.
#[derive(Debug, Clone, Default)]
pub struct KeyConfig {
    /// `KOSH_PII_KEYS`.
    pub keys: Option<String>,
    /// `KOSH_PII_INDEX_KEY`.
    pub index_key: Option<String>,
    /// `KOSH_PII_KEY_FILE`.
    pub key_file: PathBuf,
}

/// A vault and how its keys were found.
#[derive(Debug)]
pub struct Loaded {
    pub vault: Vault,
    /// Set when kosh generated the keys (the operator should know and keep the file).
    pub generated: Option<PathBuf>,
    /// Set when the keys came from the key file.
    pub from_file: Option<PathBuf>,
}

/// Key ids: letters, digits, `-` and `_`, 1 to 32 of them (they are written in every sealed
/// value).
pub fn check_key_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "key id \"{id}\": use 1 to 32 letters, digits, '-' or '_'"
        ));
    }
    Ok(())
}

fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    STANDARD
        .decode(t)
        .or_else(|_| URL_SAFE.decode(t))
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .map_err(|_| "not base64".to_string())
}

/// Parses `kid:base64key,kid2:base64key`.
pub fn parse_keys(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, key) = item.split_once(':').ok_or_else(|| {
            format!(
                "\"{id}…\": expected kid:base64key",
                id = item.chars().take(8).collect::<String>()
            )
        })?;
        let bytes = decode_key(key).map_err(|e| format!("key \"{}\": {e}", id.trim()))?;
        out.push((id.trim().to_string(), bytes));
    }
    if out.is_empty() {
        return Err("no key given".into());
    }
    Ok(out)
}

/// 32 random bytes, base64.
pub fn fresh_key() -> String {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .expect("the system's random number generator failed");
    STANDARD.encode(key)
}

/// A fresh key id: `k` and the UTC time to the second (`k20261207051500`).
pub fn fresh_key_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("k{}", now.format("%Y%m%d%H%M%S"))
}

/// The two settings a key file holds.
fn read_key_file(path: &Path) -> Result<(Option<String>, Option<String>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading key file {}: {e}", path.display()))?;
    let (mut keys, mut index) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some(("KOSH_PII_KEYS", v)) => keys = Some(v.trim().trim_matches('"').to_string()),
            Some(("KOSH_PII_INDEX_KEY", v)) => index = Some(v.trim().trim_matches('"').to_string()),
            _ => {
                return Err(format!(
                    "key file {}: unexpected line (expected KOSH_PII_KEYS=... and KOSH_PII_INDEX_KEY=...)",
                    path.display()
                ));
            }
        }
    }
    Ok((keys, index))
}

fn write_key_file(path: &Path, keys: &str, index: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(
        file,
        "# kosh's personal-data keys, generated because KOSH_PII_KEYS was not set.\n\
         # Without this file the personal data in kosh's database cannot be read: back it up,\n\
         # apart from the database. To manage the keys yourself, set KOSH_PII_KEYS and\n\
         # KOSH_PII_INDEX_KEY to these values (then `kosh keys rotate` to change the key)."
    )?;
    writeln!(file, "KOSH_PII_KEYS={keys}")?;
    writeln!(file, "KOSH_PII_INDEX_KEY={index}")?;
    file.sync_all()
}

impl KeyConfig {
    /// The vault this configuration describes: the configured keys, else the key file's,
    /// else fresh keys written to the key file.
    pub fn load(&self) -> Result<Loaded, String> {
        let given = |v: &Option<String>| v.as_ref().filter(|s| !s.trim().is_empty()).cloned();
        let (mut keys, mut index) = (given(&self.keys), given(&self.index_key));
        let mut from_file = None;
        let mut generated = None;
        if (keys.is_none() || index.is_none()) && self.key_file.exists() {
            let (file_keys, file_index) = read_key_file(&self.key_file)?;
            if keys.is_none() {
                keys = file_keys;
            }
            if index.is_none() {
                index = file_index;
            }
            from_file = Some(self.key_file.clone());
        }
        match (&keys, &index) {
            (None, None) => {
                let id = fresh_key_id(chrono::Utc::now());
                let k = format!("{id}:{}", fresh_key());
                let i = fresh_key();
                write_key_file(&self.key_file, &k, &i).map_err(|e| {
                    format!(
                        "KOSH_PII_KEYS is not set and the key file {} could not be written: {e}",
                        self.key_file.display()
                    )
                })?;
                generated = Some(self.key_file.clone());
                keys = Some(k);
                index = Some(i);
            }
            (Some(_), None) => {
                return Err(
                    "KOSH_PII_INDEX_KEY must be set with KOSH_PII_KEYS (the key of the blind indexes that mobile numbers, emails and user names are searched by)"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err("KOSH_PII_KEYS must be set with KOSH_PII_INDEX_KEY".into());
            }
            _ => {}
        }
        let parsed = parse_keys(keys.as_deref().unwrap_or_default())
            .map_err(|e| format!("KOSH_PII_KEYS: {e}"))?;
        let index_bytes = decode_key(index.as_deref().unwrap_or_default())
            .map_err(|e| format!("KOSH_PII_INDEX_KEY: {e}"))?;
        let vault = Vault::new(&parsed, &index_bytes)?;
        Ok(Loaded {
            vault,
            generated,
            from_file,
        })
    }
}
