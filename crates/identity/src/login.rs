//! `grant_type=password` and `grant_type=refresh_token`, with DIGIT's checks in DIGIT's
//! order and messages, and its lockout: the failure that makes 5 within 30 minutes locks the
//! account, which unlocks by itself 60 minutes later.

use std::net::IpAddr;

use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db, DigitError, write_tx};
use sqlx::Row;

use crate::tokens::{self, Issued};
use crate::users::{self, User};
use crate::{IdentityConfig, address_allowed, password};

/// A refused login, answered in Spring OAuth2's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRefused {
    pub error: &'static str,
    pub description: String,
    /// Reason label for logs and metrics.
    pub reason: &'static str,
}

impl LoginRefused {
    fn invalid_request(description: &str, reason: &'static str) -> Self {
        LoginRefused {
            error: "invalid_request",
            description: description.to_string(),
            reason,
        }
    }
}

pub const INVALID_CREDENTIALS: &str = "Invalid login credentials";
pub const ACCOUNT_LOCKED: &str = "Account locked";

pub enum LoginOutcome {
    Granted(Box<User>, Issued),
    Refused(LoginRefused),
}

const USER_TYPES: &[&str] = &["CITIZEN", "EMPLOYEE", "SYSTEM", "BUSINESS"];

pub struct PasswordLogin<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub tenant_id: &'a str,
    pub user_type: &'a str,
    pub client_ip: IpAddr,
}

pub async fn password_grant(
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    config: &IdentityConfig,
    login: &PasswordLogin<'_>,
) -> Result<LoginOutcome, DigitError> {
    let refuse = |d: &str, reason| {
        Ok(LoginOutcome::Refused(LoginRefused::invalid_request(
            d, reason,
        )))
    };
    let tenant_id = login.tenant_id.trim();
    if tenant_id.is_empty() {
        return refuse("TenantId is mandatory", "no_tenant");
    }
    let user_type = login.user_type.trim().to_ascii_uppercase();
    if !USER_TYPES.contains(&user_type.as_str()) {
        return refuse(
            "User Type is mandatory and has to be a valid type",
            "bad_user_type",
        );
    }
    // Citizens live at the state tenant.
    let lookup_tenant = if user_type == "CITIZEN" {
        kosh_platform::tenant::state_of(tenant_id)
    } else {
        tenant_id
    };
    let found = if login.username.trim().is_empty() {
        Vec::new()
    } else {
        let mut conn = db.pool().acquire().await?;
        users::find_by_login(&mut conn, lookup_tenant, login.username.trim(), &user_type).await?
    };
    let [user] = found.as_slice() else {
        // Spend the same time as a real check, so user names cannot be probed by timing.
        password::verify(login.password, password::decoy_hash()).await;
        return refuse(INVALID_CREDENTIALS, "unknown_user");
    };
    let mut user = user.clone();
    if !user.active {
        return refuse("Please activate your account", "inactive");
    }
    let now = clock.now_ms();
    if user.account_locked {
        if user.account_locked_ms.unwrap_or(0) + config.lock_ms > now {
            return refuse(ACCOUNT_LOCKED, "locked");
        }
        unlock(db, &mut user, now).await?;
    }
    let matches = match &user.password_hash {
        Some(stored) => password::verify(login.password, stored).await,
        None => false,
    };
    if !address_allowed(&user, login.client_ip) {
        // Told as a wrong password, after the same password check, so that no one can learn
        // from an answer or its timing that a SYSTEM user of this name exists; logged (the
        // refusal's reason) for the operator. Not counted towards the lock: a stranger's
        // address could otherwise lock the integrator out.
        return refuse(INVALID_CREDENTIALS, "address_not_allowed");
    }
    if !matches {
        let locked = record_failure(db, config, &user, login.client_ip, now).await?;
        return refuse(
            if locked {
                ACCOUNT_LOCKED
            } else {
                INVALID_CREDENTIALS
            },
            "bad_password",
        );
    }
    let user_id = user.id;
    let issued = write_tx!(db, |conn| {
        sqlx::query("UPDATE eg_login_failure SET active = 0 WHERE user_id = $1 AND active = 1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        tokens::issue(
            conn,
            user_id,
            now,
            config.access_ttl_ms,
            config.refresh_ttl_ms,
        )
        .await
    })?;
    users::name_roles(mdms, std::slice::from_mut(&mut user));
    Ok(LoginOutcome::Granted(Box::new(user), issued))
}

/// Records a failed login; locks the account when it makes `max_failed_logins` within the
/// window. Whether the account is now locked.
async fn record_failure(
    db: &Db,
    config: &IdentityConfig,
    user: &User,
    ip: IpAddr,
    now: i64,
) -> Result<bool, DigitError> {
    let (user_id, ip) = (user.id, ip.to_string());
    write_tx!(db, |conn| {
        sqlx::query(
            "INSERT INTO eg_login_failure (user_id, ip, at_ms, active) VALUES ($1, $2, $3, 1)",
        )
        .bind(user_id)
        .bind(&ip)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let row = sqlx::query("SELECT COUNT(*) FROM eg_login_failure WHERE user_id = $1 AND active = 1 AND at_ms > $2")
            .bind(user_id)
            .bind(now - config.failure_window_ms)
            .fetch_one(&mut *conn)
            .await?;
        let failures: i64 = row.try_get(0)?;
        let lock = failures >= config.max_failed_logins;
        if lock {
            users::lock(conn, user_id, now).await?;
        }
        Ok::<_, DigitError>(lock)
    })
}

async fn unlock(db: &Db, user: &mut User, now: i64) -> Result<(), DigitError> {
    let user_id = user.id;
    write_tx!(db, |conn| {
        users::unlock(conn, user_id, now).await?;
        sqlx::query("UPDATE eg_login_failure SET active = 0 WHERE user_id = $1 AND active = 1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        Ok::<_, DigitError>(())
    })?;
    user.account_locked = false;
    user.account_locked_ms = None;
    Ok(())
}

/// `grant_type=refresh_token`: a live refresh token gives a new access token, and the
/// access tokens issued under it before are revoked (DIGIT: `removeAccessTokenUsingRefreshToken`).
/// By default the refresh token is answered again and stays good until its own expiry, as
/// DIGIT's `reuseRefreshToken`; with [`IdentityConfig::rotate_refresh_tokens`] it is spent and
/// a new one issued with the access token.
pub async fn refresh_grant(
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    config: &IdentityConfig,
    refresh_token: &str,
    client_ip: IpAddr,
) -> Result<LoginOutcome, DigitError> {
    let now = clock.now_ms();
    let invalid = || {
        Ok(LoginOutcome::Refused(LoginRefused {
            error: "invalid_grant",
            description: "Invalid refresh token".to_string(),
            reason: "bad_refresh_token",
        }))
    };
    let outcome = write_tx!(db, |conn| {
        let user = match tokens::user_of(conn, refresh_token, "refresh", now).await? {
            Some(user_id) => users::find_by_id(conn, user_id).await?,
            None => None,
        };
        match user {
            Some(user)
                if user.active && !user.account_locked && address_allowed(&user, client_ip) =>
            {
                let issued = if config.rotate_refresh_tokens {
                    tokens::revoke_pair(conn, refresh_token, now).await?;
                    tokens::issue(
                        conn,
                        user.id,
                        now,
                        config.access_ttl_ms,
                        config.refresh_ttl_ms,
                    )
                    .await?
                } else {
                    tokens::reissue_access(conn, user.id, refresh_token, now, config.access_ttl_ms)
                        .await?
                };
                Ok::<_, DigitError>(Some((user, issued)))
            }
            _ => Ok(None),
        }
    })?;
    if outcome.is_some() {
        // The access token issued before is revoked: no cached copy may outlive the commit.
        config.token_cache.forget_all();
    }
    match outcome {
        Some((mut user, issued)) => {
            users::name_roles(mdms, std::slice::from_mut(&mut user));
            Ok(LoginOutcome::Granted(Box::new(user), issued))
        }
        None => invalid(),
    }
}
