//! The one source of "now". Production uses the system clock; tests start kosh with a
//! manual clock and move it through `/_kosh/clock`, so expiry, lockout and reconciliation
//! are tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Clone, Debug)]
pub enum Clock {
    System,
    /// Epoch milliseconds, moved only when a test says so.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start_ms: i64) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    /// Epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => Utc::now().timestamp_millis(),
            Clock::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.now_ms())
            .single()
            .unwrap_or_default()
    }

    pub fn now_in(&self, tz: Tz) -> DateTime<Tz> {
        self.now().with_timezone(&tz)
    }

    /// Sets a manual clock; returns false for the system clock, which cannot be moved.
    pub fn set_ms(&self, ms: i64) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(now) => {
                now.store(ms, Ordering::SeqCst);
                true
            }
        }
    }

    pub fn advance_ms(&self, delta: i64) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(now) => {
                now.fetch_add(delta, Ordering::SeqCst);
                true
            }
        }
    }
}

/// The time zone DIGIT's Indian deployments run in; tenants may name another.
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Kolkata;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(500);
        assert_eq!(clock.now_ms(), 1_500);
        assert!(clock.set_ms(42));
        assert_eq!(clock.now_ms(), 42);
        assert!(!Clock::System.set_ms(1));
    }
}
