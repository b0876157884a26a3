//! Personal data at rest and in answers.
//!
//! Mobile numbers, emails, PAN, Aadhaar, names and addresses of users and payers are kept
//! sealed (AES-256-GCM, a random 96-bit nonce per value) in one `pii` TEXT column per row,
//! as the sealed JSON of that row's personal fields. A sealed value reads
//! `v1.<key id>.<base64url(nonce | ciphertext | tag)>`: the key id travels with the value, so
//! several keys can open while the first one seals ([`Vault`], a key ring), and `kosh keys
//! rotate` re-seals what an older key sealed.
//!
//! The columns that were searched by equality (mobile numbers, emails, a citizen's user name,
//! which is their mobile) keep a blind index instead of the value: a keyed hash
//! (HMAC-SHA256 under a separate index key) of the value, `h:` and 30 hex characters, short
//! enough for every such column and never equal to a plain value. Equal values have equal
//! indexes, so `WHERE mobile_number = $index` and the unique keys keep working.
//!
//! Who sees the plain values in answers is master data ([`mask`]): DIGIT's
//! `DataSecurity.SecurityPolicy`.
//!
//! The process has one vault, installed at start-up ([`install`]) from the configuration
//! ([`keys`]); store code reaches it with [`vault`].

pub mod keys;
pub mod mask;
pub mod table;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use keys::{KeyConfig, Loaded};
pub use mask::{Attr, Masking, Model, Policy, install_policies, masking_for};

/// The prefix of every sealed value (format version 1).
pub const SEALED_PREFIX: &str = "v1.";
/// The prefix of every blind index.
pub const INDEX_PREFIX: &str = "h:";
/// Hex characters of a blind index after its prefix (15 bytes of the HMAC).
const INDEX_HEX: usize = 30;
const TAG_LEN: usize = 16;

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    #[error("not a sealed value")]
    NotSealed,
    #[error("sealed under key \"{0}\", which is not configured (KOSH_PII_KEYS)")]
    UnknownKey(String),
    #[error("sealed value does not open (tampered, or the wrong key)")]
    Refused,
    #[error("sealed value holds no valid JSON: {0}")]
    BadJson(String),
}

/// One key of the ring.
struct SealKey {
    id: String,
    key: LessSafeKey,
}

/// The key ring: the first key seals, every key opens; and the blind-index key.
pub struct Vault {
    keys: Vec<SealKey>,
    index: hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("keys", &self.key_ids())
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// A vault from raw keys: `(id, 32 bytes)` with the sealing key first, and the 32-byte
    /// index key.
    pub fn new(keys: &[(String, Vec<u8>)], index_key: &[u8]) -> Result<Vault, String> {
        if keys.is_empty() {
            return Err("no encryption key".into());
        }
        let mut ring = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            keys::check_key_id(id)?;
            if ring.iter().any(|k: &SealKey| &k.id == id) {
                return Err(format!("key id \"{id}\" is given twice"));
            }
            if bytes.len() != 32 {
                return Err(format!(
                    "key \"{id}\" is {} bytes; AES-256 needs 32",
                    bytes.len()
                ));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                .map_err(|_| format!("key \"{id}\" is not an AES-256 key"))?;
            ring.push(SealKey {
                id: id.clone(),
                key: LessSafeKey::new(unbound),
            });
        }
        if index_key.len() < 32 {
            return Err(format!(
                "the index key is {} bytes; at least 32 are needed",
                index_key.len()
            ));
        }
        Ok(Vault {
            keys: ring,
            index: hmac::Key::new(hmac::HMAC_SHA256, index_key),
            rng: SystemRandom::new(),
        })
    }

    /// The ids of the keys, the sealing key first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plain` under the current key.
    pub fn seal(&self, plain: &[u8]) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random number generator failed");
        let mut buf = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plain);
        let tag = key
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.id.as_bytes()),
                &mut buf[NONCE_LEN..],
            )
            .expect("AES-GCM seals any length kosh stores");
        buf.extend_from_slice(tag.as_ref());
        let mut out = String::with_capacity(4 + key.id.len() + buf.len() * 4 / 3 + 4);
        out.push_str(SEALED_PREFIX);
        out.push_str(&key.id);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&buf, &mut out);
        out
    }

    /// Opens a value [`seal`](Self::seal) made, under whichever configured key it names.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, PiiError> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(PiiError::NotSealed)?;
        let (id, body) = rest.split_once('.').ok_or(PiiError::NotSealed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| PiiError::UnknownKey(id.to_string()))?;
        let mut buf = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| PiiError::Refused)?;
        if buf.len() < NONCE_LEN + TAG_LEN {
            return Err(PiiError::Refused);
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&buf[..NONCE_LEN]).map_err(|_| PiiError::Refused)?;
        let plain_len = key
            .key
            .open_in_place(nonce, Aad::from(key.id.as_bytes()), &mut buf[NONCE_LEN..])
            .map_err(|_| PiiError::Refused)?
            .len();
        buf.copy_within(NONCE_LEN..NONCE_LEN + plain_len, 0);
        buf.truncate(plain_len);
        Ok(buf)
    }

    /// Seals a value's JSON.
    pub fn seal_json<T: Serialize + ?Sized>(&self, value: &T) -> String {
        self.seal(&serde_json::to_vec(value).expect("personal fields serialize"))
    }

    /// Opens a sealed JSON value.
    pub fn open_json<T: DeserializeOwned>(&self, sealed: &str) -> Result<T, PiiError> {
        let bytes = self.open(sealed)?;
        serde_json::from_slice(&bytes).map_err(|e| PiiError::BadJson(e.to_string()))
    }

    /// Seals a text.
    pub fn seal_str(&self, plain: &str) -> String {
        self.seal(plain.as_bytes())
    }

    /// Opens a sealed text.
    pub fn open_str(&self, sealed: &str) -> Result<String, PiiError> {
        String::from_utf8(self.open(sealed)?).map_err(|e| PiiError::BadJson(e.to_string()))
    }

    /// The text as stored: sealed values are opened, anything else (a value written before
    /// sealing began) is returned as it is.
    pub fn open_or_plain(&self, stored: &str) -> Result<String, PiiError> {
        if is_sealed(stored) {
            self.open_str(stored)
        } else {
            Ok(stored.to_string())
        }
    }

    /// Whether a sealed value is sealed under the current key (`kosh keys rotate` re-seals
    /// the others).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(id, _)| id == self.keys[0].id)
    }

    /// Re-seals a value under the current key (unchanged when it already is).
    pub fn reseal(&self, sealed: &str) -> Result<String, PiiError> {
        if self.is_current(sealed) {
            return Ok(sealed.to_string());
        }
        Ok(self.seal(&self.open(sealed)?))
    }

    /// The blind index of a value: `h:` and 30 lower-case hex characters of
    /// HMAC-SHA256(index key, value). Equal values, equal indexes; the value cannot be
    /// read back from it without the index key.
    pub fn index(&self, value: &str) -> String {
        let tag = hmac::sign(&self.index, value.as_bytes());
        let mut out = String::with_capacity(INDEX_PREFIX.len() + INDEX_HEX);
        out.push_str(INDEX_PREFIX);
        for b in &tag.as_ref()[..INDEX_HEX / 2] {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// The blind index of an optional value (an empty value stays as it is).
    pub fn index_opt(&self, value: Option<&str>) -> Option<String> {
        value.map(|v| {
            if v.is_empty() {
                String::new()
            } else {
                self.index(v)
            }
        })
    }

    /// A user name as the user table keeps it: a citizen's user name is their mobile number
    /// (DIGIT), so a user name made of digits is kept as its blind index; other user names
    /// (an employee's `EMP-42`, an integrator's) are not personal data and stay as they are.
    pub fn stored_user_name(&self, user_name: &str) -> String {
        if is_mobile_like(user_name) {
            self.index(user_name)
        } else {
            user_name.to_string()
        }
    }
}

/// A user name or value that looks like a phone number: 6 to 15 digits, maybe after a `+`.
pub fn is_mobile_like(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a stored text is a sealed value.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// Whether a stored text is a blind index.
pub fn is_index(stored: &str) -> bool {
    stored.len() == INDEX_PREFIX.len() + INDEX_HEX && stored.starts_with(INDEX_PREFIX)
}

static VAULT: RwLock<Option<Arc<Vault>>> = RwLock::new(None);

/// Makes `vault` the process's vault (start-up; a test that restarts kosh installs again).
pub fn install(vault: Vault) {
    *VAULT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(vault));
}

/// The process's vault.
///
/// # Panics
/// When none was installed: every entry point that opens the database installs one first
/// (`kosh_server::open_database`), so this is a programming error, never a runtime state.
pub fn vault() -> Arc<Vault> {
    VAULT
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("kosh_platform::pii::install was not called before personal data was read")
}

/// Whether a vault is installed.
pub fn installed() -> bool {
    VAULT.read().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Opens the sealed JSON of a row's `pii` column; a NULL column (a row written before sealing
/// began, not yet migrated) gives `None`. A value that does not open is a database error:
/// the row exists, and answering without its personal data would be silently wrong.
pub fn open_row<T: DeserializeOwned>(
    vault: &Vault,
    table: &str,
    stored: Option<&str>,
) -> Result<Option<T>, sqlx::Error> {
    match stored {
        None => Ok(None),
        Some(s) => vault
            .open_json(s)
            .map(Some)
            .map_err(|e| sqlx::Error::Decode(format!("{table}.pii: {e}").into())),
    }
}
