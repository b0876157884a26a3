//! Login throttling by client address and by user name, on top of DIGIT's per-account
//! lockout ([`crate::login`]). The lockout guards an account that exists; it does nothing
//! against one address trying many user names (credential stuffing, probing for accounts),
//! nor against guesses at names that do not exist. Here every refused sign-in counts against
//! the address it came from and the user name it named; once either has
//! `max_per_address` / `max_per_user` refusals in the window, further sign-ins from it are
//! answered 429 without checking any password (and so without the cost of a hash) until the
//! window that began with its first counted refusal ends.
//!
//! The state is in memory: right for a single kosh instance, and lost on restart (the
//! database lockout is not). Several instances behind a load balancer each count on their
//! own, so an address gets at most `instances x max` tries per window. Each table holds at
//! most `capacity` keys, so spoofed user names or addresses cannot grow it without bound:
//! when full, expired windows are dropped first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The limits in force. A maximum of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    pub max_per_address: u32,
    pub max_per_user: u32,
    pub window_ms: i64,
    /// Most keys kept in each table (addresses, user names). 10,000 by default: each key
    /// costs under 300 bytes (a user name key is at most 180 characters), so a full table is
    /// about 3 MB, and 10,000 addresses or names failing within one window is already an
    /// attack the per-key limits are not for.
    pub capacity: usize,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            max_per_address: 20,
            max_per_user: 10,
            window_ms: 15 * 60 * 1000,
            capacity: 10_000,
        }
    }
}

/// Why a sign-in was refused before its credentials were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    Address { retry_after_ms: i64 },
    User { retry_after_ms: i64 },
}

impl Throttled {
    pub fn retry_after_ms(self) -> i64 {
        match self {
            Throttled::Address { retry_after_ms } | Throttled::User { retry_after_ms } => {
                retry_after_ms
            }
        }
    }

    /// Whole seconds until the window ends, at least 1 (for `Retry-After`).
    pub fn retry_after_seconds(self) -> i64 {
        ((self.retry_after_ms() + 999) / 1000).max(1)
    }

    pub fn reason(self) -> &'static str {
        match self {
            Throttled::Address { .. } => "throttled_address",
            Throttled::User { .. } => "throttled_user",
        }
    }

    pub fn description(self) -> String {
        let what = match self {
            Throttled::Address { .. } => "from this address",
            Throttled::User { .. } => "for this user",
        };
        format!(
            "Too many failed login attempts {what}; try again in {} seconds",
            self.retry_after_seconds()
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started_ms: i64,
    failures: u32,
}

/// A bounded table of failure counts per key.
#[derive(Debug)]
struct Counts<K> {
    map: HashMap<K, Window>,
}

impl<K: std::hash::Hash + Eq + Clone> Counts<K> {
    fn new() -> Self {
        Counts {
            map: HashMap::new(),
        }
    }

    /// Milliseconds until `key`'s window ends, when it holds `max` failures or more.
    fn blocked(&mut self, key: &K, max: u32, window_ms: i64, now: i64) -> Option<i64> {
        let window = self.map.get(key).copied()?;
        let ends = window.started_ms + window_ms;
        if ends <= now {
            self.map.remove(key);
            return None;
        }
        (max > 0 && window.failures >= max).then_some(ends - now)
    }

    fn record(&mut self, key: &K, window_ms: i64, capacity: usize, now: i64) {
        if let Some(window) = self.map.get_mut(key) {
            if window.started_ms + window_ms > now {
                window.failures = window.failures.saturating_add(1);
                return;
            }
            *window = Window {
                started_ms: now,
                failures: 1,
            };
            return;
        }
        if self.map.len() >= capacity.max(1) {
            self.map.retain(|_, w| w.started_ms + window_ms > now);
        }
        if self.map.len() >= capacity.max(1)
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, w)| w.started_ms)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        self.map.insert(
            key.clone(),
            Window {
                started_ms: now,
                failures: 1,
            },
        );
    }

    fn forget(&mut self, key: &K) {
        self.map.remove(key);
    }
}

#[derive(Debug)]
struct Tables {
    addresses: Counts<IpAddr>,
    users: Counts<String>,
}

/// The failure counts of this instance.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    tables: Mutex<Tables>,
}

/// The longest user name key kept: `eg_user.user_name`'s width, so no stored user name is
/// cut. The name comes from the client, up to a whole request body long; without the cut,
/// `capacity` names of a megabyte each would hold gigabytes.
const MAX_USER_KEY_CHARS: usize = 180;

/// User names compare without regard to case or surrounding blanks, as logins do. A name
/// longer than any user's counts by its first [`MAX_USER_KEY_CHARS`] characters.
fn user_key(user_name: &str) -> String {
    user_name
        .trim()
        .chars()
        .take(MAX_USER_KEY_CHARS)
        .collect::<String>()
        .to_lowercase()
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        LoginThrottle {
            limits,
            tables: Mutex::new(Tables {
                addresses: Counts::new(),
                users: Counts::new(),
            }),
        }
    }

    pub fn limits(&self) -> ThrottleLimits {
        self.limits
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves only counts behind; they stay usable.
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a sign-in from `address` naming `user_name` (empty for a refresh) must be
    /// refused now. The address is checked first: it is what an attacker cannot vary
    /// cheaply behind a trusted proxy.
    pub fn check(&self, address: IpAddr, user_name: &str, now: i64) -> Option<Throttled> {
        let ThrottleLimits {
            max_per_address,
            max_per_user,
            window_ms,
            ..
        } = self.limits;
        let mut tables = self.tables();
        if let Some(retry_after_ms) =
            tables
                .addresses
                .blocked(&address, max_per_address, window_ms, now)
        {
            return Some(Throttled::Address { retry_after_ms });
        }
        let user = user_key(user_name);
        if user.is_empty() {
            return None;
        }
        tables
            .users
            .blocked(&user, max_per_user, window_ms, now)
            .map(|retry_after_ms| Throttled::User { retry_after_ms })
    }

    /// Counts a refused sign-in against its address and user name.
    pub fn record_failure(&self, address: IpAddr, user_name: &str, now: i64) {
        let ThrottleLimits {
            max_per_address,
            max_per_user,
            window_ms,
            capacity,
        } = self.limits;
        let mut tables = self.tables();
        if max_per_address > 0 {
            tables.addresses.record(&address, window_ms, capacity, now);
        }
        let user = user_key(user_name);
        if max_per_user > 0 && !user.is_empty() {
            tables.users.record(&user, window_ms, capacity, now);
        }
    }

    /// A successful sign-in clears its user name's count. The address keeps its count: one
    /// valid account must not let an address go on guessing at others.
    pub fn record_success(&self, user_name: &str) {
        self.tables().users.forget(&user_key(user_name));
    }

    /// Keys held (addresses, user names), for tests and metrics.
    pub fn sizes(&self) -> (usize, usize) {
        let tables = self.tables();
        (tables.addresses.map.len(), tables.users.map.len())
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new(ThrottleLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            max_per_address: 3,
            max_per_user: 2,
            window_ms: 10 * MIN,
            capacity: 4,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        let t = LoginThrottle::new(limits());
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(t.check(ip(1), name, i as i64), None);
            t.record_failure(ip(1), name, i as i64);
        }
        let refused = t.check(ip(1), "d", 5 * MIN).unwrap();
        assert_eq!(
            refused,
            Throttled::Address {
                retry_after_ms: 5 * MIN
            }
        );
        assert_eq!(refused.retry_after_seconds(), 300);
        assert_eq!(t.check(ip(2), "d", 5 * MIN), None, "other addresses go on");
        assert_eq!(t.check(ip(1), "d", 10 * MIN), None, "the window is over");
    }

    #[test]
    fn a_user_name_is_refused_from_any_address() {
        let t = LoginThrottle::new(limits());
        t.record_failure(ip(1), "Ravi", 0);
        t.record_failure(ip(2), " ravi ", 1);
        assert!(matches!(
            t.check(ip(3), "RAVI", 2),
            Some(Throttled::User { .. })
        ));
        assert_eq!(t.check(ip(3), "asha", 2), None);
        t.record_success("ravi");
        assert_eq!(t.check(ip(3), "ravi", 3), None);
    }

    #[test]
    fn tables_stay_within_capacity() {
        let t = LoginThrottle::new(limits());
        for i in 0..200u8 {
            t.record_failure(ip(i), &format!("user-{i}"), i64::from(i));
        }
        let (addresses, users) = t.sizes();
        assert!(addresses <= 4 && users <= 4, "{addresses} {users}");
        // The newest keys are the ones kept.
        t.record_failure(ip(199), "x", 300);
        t.record_failure(ip(199), "y", 301);
        assert!(t.check(ip(199), "z", 302).is_some());
    }

    #[test]
    fn a_long_user_name_is_kept_cut_to_the_longest_stored_one() {
        let t = LoginThrottle::new(limits());
        let huge = "x".repeat(1 << 20);
        t.record_failure(ip(1), &huge, 0);
        let kept: usize = t.tables().users.map.keys().map(|k| k.chars().count()).sum();
        assert_eq!(kept, MAX_USER_KEY_CHARS);
        // Names that differ only past the cut count together.
        t.record_failure(ip(2), &format!("{huge}y"), 1);
        assert!(matches!(
            t.check(ip(3), &huge, 2),
            Some(Throttled::User { .. })
        ));
        assert_eq!(t.sizes().1, 1);
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let t = LoginThrottle::new(ThrottleLimits {
            max_per_address: 0,
            max_per_user: 0,
            ..limits()
        });
        for i in 0..50 {
            t.record_failure(ip(1), "ravi", i);
        }
        assert_eq!(t.check(ip(1), "ravi", 51), None);
        assert_eq!(t.sizes(), (0, 0));
    }
}
