//! Passwords: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), and DIGIT's
//! password policy. Hashing runs on the blocking pool: it takes tens of milliseconds of CPU.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kosh_platform::DigitError;
use kosh_platform::error::ErrorMap;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// Whether `password` matches `stored`. A malformed stored hash never matches.
pub async fn verify(password: &str, stored: &str) -> bool {
    let password = password.to_string();
    let stored = stored.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so a wrong user name costs the
/// same time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(b"no such user", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

pub const LENGTH_MESSAGE: &str = "Password must be of minimum: 8 and maximum: 15 characters.";
pub const PATTERN_MESSAGE: &str = "Password MUST HAVE: Atleast one digit, one upper case, one lower case, one special character (@#$%) and MUST NOT contain any spaces";

/// DIGIT's password policy: 8 to 15 characters with a digit, an upper-case and a lower-case
/// letter, one of `@#$%`, and no white space.
pub fn check_policy(password: &str) -> Result<(), DigitError> {
    let mut errors = ErrorMap::new();
    let length = password.chars().count();
    if !(8..=15).contains(&length) {
        errors.put("INVALID_PWD_LENGTH", LENGTH_MESSAGE);
    }
    let ok = password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| c.is_lowercase())
        && password.chars().any(|c| c.is_uppercase())
        && password.chars().any(|c| "@#$%".contains(c))
        && !password.chars().any(char::is_whitespace);
    if !ok {
        errors.put("INVALID_PWD_PATTERN", PATTERN_MESSAGE);
    }
    errors.into_result()
}

/// A random password that meets the policy (for the generated administrator password).
pub fn generate() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let letters: String = (0..8)
        .map(|_| char::from(rng.random_range(b'a'..=b'z')))
        .collect();
    format!(
        "K{letters}{}#{}",
        rng.random_range(10..99),
        char::from(rng.random_range(b'A'..=b'Z'))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify() {
        let h = hash("Secret@123").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("Secret@123", &h).await);
        assert!(!verify("Secret@124", &h).await);
        assert!(!verify("Secret@123", decoy_hash()).await);
    }

    #[test]
    fn policy() {
        assert!(check_policy("Secret@123").is_ok());
        let err = check_policy("short").unwrap_err();
        let codes: Vec<_> = err.errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, vec!["INVALID_PWD_LENGTH", "INVALID_PWD_PATTERN"]);
        assert!(check_policy("Secret 123@").is_err());
        for _ in 0..20 {
            let p = generate();
            assert!(check_policy(&p).is_ok(), "{p}");
        }
    }
}
