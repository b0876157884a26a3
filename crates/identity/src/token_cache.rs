//! A short-lived, in-process memory of access token → user, so that an authenticated request
//! does not read `eg_user_token`, `eg_user` and `eg_user_role` every time (three statements
//! per request, the largest share of a fetch-bill once its bill is read from the read pool).
//!
//! What it may get wrong, and for how long:
//! - On THIS instance nothing: logout, refresh (which revokes the old pair), a password
//!   change and a user update call [`TokenCache::forget_all`] after their commit, and a
//!   lookup that read the database before that call never lands in the cache (the
//!   generation check in [`TokenCache::put`]).
//! - Another kosh instance on the same database keeps a token it has cached for at most the
//!   cache's lifetime, by kosh's clock (`KOSH_TOKEN_CACHE_SECONDS`, 5 s by default) after it was revoked, or
//!   after the user was deactivated or lost a role, there. Set it to 0 to read the
//!   database on every request.
//! - A token's own expiry is never stretched: an entry is used only while the token's
//!   `expires_ms` is ahead of kosh's clock (the injectable one), as the database check does.
//!
//! Only tokens that were valid for an active user are cached; refusals always go to the
//! database, so a new token or a reactivated user works at once. The SYSTEM users' address
//! check runs on every request, cached or not.
//!
//! A plain `Mutex<HashMap>`: the critical sections are a lookup or an insert, invalidations
//! are rare and clear everything, and a caching crate would not give the generation check.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::User;

/// Entries kept at most; past it the stale ones go, and if none is stale, all of them. An
/// entry is a user with roles, about a kilobyte, so a full cache is about 10 MB; 10,000
/// tokens used within one lifetime (5 s by default) is 2,000 signed-in callers a second,
/// beyond what one instance serves, so a full cache means a flood, not a working set.
const CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct TokenCache {
    lifetime: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Moves on at every [`TokenCache::forget_all`].
    generation: u64,
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    user: User,
    token_expires_ms: i64,
    /// kosh's clock (the injectable one) when it was read from the database.
    cached_ms: i64,
}

/// The cache's generation when a database lookup began; see [`TokenCache::put`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Duration::from_secs(5))
    }
}

impl TokenCache {
    /// A cache whose entries live `lifetime` (zero: nothing is cached).
    pub fn new(lifetime: Duration) -> TokenCache {
        TokenCache {
            lifetime,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-changed in a way that
        // matters (the worst is a missing entry), so a poisoned lock is used as it is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user of a cached, unexpired token (by its hash), as of `now_ms`.
    pub fn get(&self, token_hash: &str, now_ms: i64) -> Option<User> {
        if self.lifetime.is_zero() {
            return None;
        }
        let inner = self.lock();
        let entry = inner.entries.get(token_hash)?;
        (self.fresh(entry, now_ms) && now_ms < entry.token_expires_ms).then(|| entry.user.clone())
    }

    /// Younger than the lifetime; a clock set back makes every entry stale.
    fn fresh(&self, entry: &Entry, now_ms: i64) -> bool {
        let age = now_ms.saturating_sub(entry.cached_ms);
        (0..self.lifetime_ms()).contains(&age)
    }

    fn lifetime_ms(&self) -> i64 {
        i64::try_from(self.lifetime.as_millis()).unwrap_or(i64::MAX)
    }

    /// Taken before reading the token from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Remembers a token read under `ticket`, unless something was revoked or changed since
    /// the ticket was taken (the read may predate that commit).
    pub fn put(
        &self,
        ticket: Ticket,
        token_hash: &str,
        user: &User,
        token_expires_ms: i64,
        now_ms: i64,
    ) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.entries.len() >= CAPACITY {
            let lifetime_ms = self.lifetime_ms();
            inner
                .entries
                .retain(|_, e| (0..lifetime_ms).contains(&now_ms.saturating_sub(e.cached_ms)));
            if inner.entries.len() >= CAPACITY {
                inner.entries.clear();
            }
        }
        inner.entries.insert(
            token_hash.to_string(),
            Entry {
                user: user.clone(),
                token_expires_ms,
                cached_ms: now_ms,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Forgets every entry, and refuses the entries of lookups still under way. Call it
    /// after committing anything that revokes a token or changes a user.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 7,
            uuid: "u-7".into(),
            tenant_id: "pb".into(),
            user_name: "clerk".into(),
            user_type: "EMPLOYEE".into(),
            name: None,
            mobile_number: None,
            email_id: None,
            locale: None,
            active: true,
            password_hash: None,
            account_locked: false,
            account_locked_ms: None,
            allowed_ips: Vec::new(),
            profile: serde_json::Map::new(),
            created_by: None,
            created_ms: 0,
            last_modified_by: None,
            last_modified_ms: 0,
            pwd_expiry_ms: None,
            roles: Vec::new(),
        }
    }

    #[test]
    fn remembers_until_the_token_expires() {
        let cache = TokenCache::new(Duration::from_secs(5));
        let ticket = cache.ticket();
        cache.put(ticket, "h", &user(), 1_000, 0);
        assert_eq!(cache.get("h", 999).map(|u| u.id), Some(7));
        assert!(cache.get("h", 1_000).is_none());
        assert!(cache.get("other", 0).is_none());
    }

    #[test]
    fn forget_all_drops_entries_and_lookups_under_way() {
        let cache = TokenCache::default();
        cache.put(cache.ticket(), "a", &user(), 1_000, 0);
        let before = cache.ticket();
        cache.forget_all();
        assert!(cache.get("a", 0).is_none());
        // A lookup that read the database before the revocation committed is not kept.
        cache.put(before, "b", &user(), 1_000, 0);
        assert!(cache.get("b", 0).is_none());
        cache.put(cache.ticket(), "b", &user(), 1_000, 0);
        assert!(cache.get("b", 0).is_some());
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = TokenCache::new(Duration::from_secs(5));
        let user = user();
        let total = CAPACITY * 2 + 7;
        for i in 0..total {
            // All fresh: nothing is stale when the cache fills.
            cache.put(cache.ticket(), &format!("t{i}"), &user, i64::MAX, 1_000);
            assert!(cache.len() <= CAPACITY, "{} entries", cache.len());
        }
        assert!(cache.get(&format!("t{}", total - 1), 1_000).is_some());
        // Filled with entries gone stale, the stale ones make room for new ones.
        let cache = TokenCache::new(Duration::from_secs(5));
        for i in 0..CAPACITY {
            cache.put(cache.ticket(), &format!("old{i}"), &user, i64::MAX, 0);
        }
        cache.put(cache.ticket(), "new", &user, i64::MAX, 10_000);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn zero_lifetime_caches_nothing() {
        let cache = TokenCache::new(Duration::ZERO);
        cache.put(cache.ticket(), "a", &user(), 1_000, 0);
        assert!(cache.get("a", 0).is_none());
    }

    #[test]
    fn entries_older_than_the_lifetime_are_not_used() {
        let cache = TokenCache::new(Duration::from_secs(5));
        cache.put(cache.ticket(), "a", &user(), i64::MAX, 10_000);
        assert!(cache.get("a", 14_999).is_some());
        assert!(cache.get("a", 15_000).is_none());
        // The clock set back: stale too.
        assert!(cache.get("a", 9_999).is_none());
    }
}
