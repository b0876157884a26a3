//! Opaque tokens: random UUIDs handed to the client, stored only as their SHA-256. A login
//! issues an access token and a refresh token as a pair. A refresh, as DIGIT's egov-user
//! does it (Spring OAuth2's `DefaultTokenServices` with `reuseRefreshToken` true), revokes
//! the access tokens issued with the refresh token and issues a new access token under the
//! same refresh token, which stays good until its own expiry; with rotation on
//! (`KOSH_ROTATE_REFRESH_TOKENS`) the refresh token is spent and a new pair issued. A logout
//! revokes the access token and its refresh token.

use kosh_platform::DigitError;
use sqlx::{AnyConnection, Row};

pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

pub fn hash(token: &str) -> String {
    kosh_platform::digest::sha256_hex(token.trim().as_bytes())
}

/// Issues a new access/refresh pair for `user_id`.
pub async fn issue(
    conn: &mut AnyConnection,
    user_id: i64,
    now_ms: i64,
    access_ttl_ms: i64,
    refresh_ttl_ms: i64,
) -> Result<Issued, DigitError> {
    let access = uuid::Uuid::new_v4().to_string();
    let refresh = uuid::Uuid::new_v4().to_string();
    let (access_hash, refresh_hash) = (hash(&access), hash(&refresh));
    for (token_hash, kind, pair, ttl) in [
        (&access_hash, "access", &refresh_hash, access_ttl_ms),
        (&refresh_hash, "refresh", &access_hash, refresh_ttl_ms),
    ] {
        sqlx::query(
            "INSERT INTO eg_user_token (token_hash, kind, user_id, pair_hash, created_ms, expires_ms, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(token_hash)
        .bind(kind)
        .bind(user_id)
        .bind(pair)
        .bind(now_ms)
        .bind(now_ms + ttl)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Issued {
        access_token: access,
        refresh_token: refresh,
        expires_in: (access_ttl_ms - 1) / 1000,
    })
}

/// Issues a new access token for `user_id` under the live refresh token `refresh_token`
/// (kept as it is), after revoking the access tokens issued under it before.
pub async fn reissue_access(
    conn: &mut AnyConnection,
    user_id: i64,
    refresh_token: &str,
    now_ms: i64,
    access_ttl_ms: i64,
) -> Result<Issued, DigitError> {
    let refresh_hash = hash(refresh_token);
    sqlx::query(
        "UPDATE eg_user_token SET revoked = 1 WHERE kind = 'access' AND pair_hash = $1 AND revoked = 0",
    )
    .bind(&refresh_hash)
    .execute(&mut *conn)
    .await?;
    let access = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO eg_user_token (token_hash, kind, user_id, pair_hash, created_ms, expires_ms, revoked) \
         VALUES ($1, 'access', $2, $3, $4, $5, 0)",
    )
    .bind(hash(&access))
    .bind(user_id)
    .bind(&refresh_hash)
    .bind(now_ms)
    .bind(now_ms + access_ttl_ms)
    .execute(&mut *conn)
    .await?;
    Ok(Issued {
        access_token: access,
        refresh_token: refresh_token.trim().to_string(),
        expires_in: (access_ttl_ms - 1) / 1000,
    })
}

/// The user a live token of `kind` belongs to.
pub async fn user_of(
    conn: &mut AnyConnection,
    token: &str,
    kind: &str,
    now_ms: i64,
) -> Result<Option<i64>, DigitError> {
    Ok(live(conn, &hash(token), kind, now_ms)
        .await?
        .map(|(user_id, _)| user_id))
}

/// The user and expiry (epoch ms) of a live token of `kind`, by the token's hash.
pub async fn live(
    conn: &mut AnyConnection,
    token_hash: &str,
    kind: &str,
    now_ms: i64,
) -> Result<Option<(i64, i64)>, DigitError> {
    if token_hash == hash("") {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT user_id, expires_ms FROM eg_user_token WHERE token_hash = $1 AND kind = $2 AND revoked = 0 \
         AND expires_ms > $3",
    )
    .bind(token_hash)
    .bind(kind)
    .bind(now_ms)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(row) => Some((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?)),
        None => None,
    })
}

/// Revokes `token`, the other token of its pair, and the access tokens issued under either
/// (a refresh token reused by refreshes has several). Whether a live token was revoked.
pub async fn revoke_pair(
    conn: &mut AnyConnection,
    token: &str,
    now_ms: i64,
) -> Result<bool, DigitError> {
    let token_hash = hash(token);
    let row = sqlx::query("SELECT pair_hash FROM eg_user_token WHERE token_hash = $1 AND revoked = 0 AND expires_ms > $2")
        .bind(&token_hash)
        .bind(now_ms)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let pair: String = row.try_get(0)?;
    sqlx::query(
        "UPDATE eg_user_token SET revoked = 1 WHERE token_hash IN ($1, $2) OR pair_hash IN ($3, $4)",
    )
    .bind(&token_hash)
    .bind(&pair)
    .bind(&token_hash)
    .bind(&pair)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Revokes every token of a user (after a password change).
pub async fn revoke_all(conn: &mut AnyConnection, user_id: i64) -> Result<(), DigitError> {
    sqlx::query("UPDATE eg_user_token SET revoked = 1 WHERE user_id = $1 AND revoked = 0")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_is_hex_sha256() {
        let h = super::hash("abc");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
