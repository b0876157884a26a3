//! Identity (egov-user): users of type CITIZEN, EMPLOYEE and SYSTEM, password logins that
//! issue opaque OAuth tokens, DIGIT's lockout after repeated failures, and the IP allow-lists
//! that bind a SYSTEM user (an integrator's server) and its tokens to known addresses.

pub mod api;
pub mod bootstrap;
pub mod ip;
pub mod login;
pub mod password;
pub mod rules;
pub mod throttle;
pub mod token_cache;
pub mod tokens;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

use kosh_platform::{Db, DigitError, ErrorItem};

pub use users::User;

/// DIGIT's egov-user reports domain failures through its tracer: the exception's class name
/// as the code, a generic message, and the reason in the description.
pub(crate) fn user_error(code: &str, description: impl Into<String>) -> DigitError {
    DigitError::item(
        ErrorItem::new(code, "An unhandled exception occurred on the server")
            .with_description(description),
    )
}

/// The identity settings in force.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub access_ttl_ms: i64,
    pub refresh_ttl_ms: i64,
    /// Whether a refresh spends its refresh token and issues a new one. Off by default: DIGIT
    /// reuses the refresh token (a client refreshes with the login's refresh token until it
    /// expires).
    pub rotate_refresh_tokens: bool,
    /// Peers whose forwarding headers are believed, and which header names the client.
    pub trusted_proxies: ip::Proxies,
    /// DIGIT: 5 failed logins within 30 minutes lock the account for 60 minutes.
    pub max_failed_logins: i64,
    pub failure_window_ms: i64,
    pub lock_ms: i64,
    /// Failed sign-ins by address and by user name, refused with 429 past their limits (this
    /// instance's memory; see [`throttle`]).
    pub throttle: Arc<throttle::LoginThrottle>,
    /// Access token → user, remembered for a few seconds (see [`token_cache`] for what may
    /// be stale and for how long).
    pub token_cache: Arc<token_cache::TokenCache>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            access_ttl_ms: 12 * 60 * 60 * 1000,
            refresh_ttl_ms: 7 * 24 * 60 * 60 * 1000,
            rotate_refresh_tokens: false,
            trusted_proxies: ip::Proxies::default(),
            max_failed_logins: 5,
            failure_window_ms: 30 * 60 * 1000,
            lock_ms: 60 * 60 * 1000,
            throttle: Arc::default(),
            token_cache: Arc::default(),
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, expired or revoked.
    InvalidToken,
    /// A SYSTEM user's token used from an address outside its allow-list.
    AddressNotAllowed,
    /// The user was deactivated after the token was issued.
    Inactive,
}

/// The user behind an access token presented from `client_ip`: from `cache` while it
/// remembers the token, else from the database (one connection, the token and the user
/// read once each), remembered then if the token is good.
pub async fn authenticate(
    db: &Db,
    cache: &token_cache::TokenCache,
    mdms: &kosh_mdms::Mdms,
    token: &str,
    client_ip: IpAddr,
    now_ms: i64,
) -> Result<Result<User, Refusal>, DigitError> {
    let token_hash = tokens::hash(token);
    let mut user = match cache.get(&token_hash, now_ms) {
        Some(user) => user,
        None => {
            let ticket = cache.ticket();
            let mut conn = db.pool().acquire().await?;
            let Some((user_id, expires_ms)) =
                tokens::live(&mut conn, &token_hash, "access", now_ms).await?
            else {
                return Ok(Err(Refusal::InvalidToken));
            };
            let Some(user) = users::find_by_id(&mut conn, user_id).await? else {
                return Ok(Err(Refusal::InvalidToken));
            };
            if !user.active {
                return Ok(Err(Refusal::Inactive));
            }
            cache.put(ticket, &token_hash, &user, expires_ms, now_ms);
            user
        }
    };
    // Per request, cached or not: the address differs between requests, and role names
    // come from MDMS as it is now.
    if !address_allowed(&user, client_ip) {
        return Ok(Err(Refusal::AddressNotAllowed));
    }
    users::name_roles(mdms, std::slice::from_mut(&mut user));
    Ok(Ok(user))
}

/// SYSTEM users may act only from their allow-list; other users from anywhere.
pub fn address_allowed(user: &User, client_ip: IpAddr) -> bool {
    if user.user_type != "SYSTEM" {
        return true;
    }
    let list = ip::parse_list(&user.allowed_ips).unwrap_or_default();
    ip::allows(&list, client_ip)
}
