//! A short-lived, in-process copy of fetch-bill answers, so that fetching a bill that is
//! already valid reads nothing from the database and builds no JSON. A miss costs one
//! indexed statement ([`super::store::active_for_codes`]: the bill joined to its details and
//! account details) plus building the JSON, whatever the number of bills; the copy spares
//! that for the codes fetched again within its lifetime. Its memory is bounded by
//! `KOSH_BILL_CACHE_MIB` ([`BillCache::new`]'s budget, weighed in bytes per answer) whatever
//! the number of bills fetched: the least used answers go first.
//!
//! It is a read cache, never an authority: a payment reads its bill from the database in its
//! own transaction and checks it there, so a copy can at worst show a bill that has just
//! been paid or replaced, as a database replica would (the rule: fetch reads may be served
//! where staleness is acceptable; a payment must read its bill from the primary).
//!
//! What it may get wrong, and for how long:
//! - On THIS instance nothing: every write to a bill or a demand names its consumer code
//!   ([`touch_consumer`], called by the stores), and a copy whose names were marked after
//!   it was read is dropped (`kosh_platform::changes`).
//! - Another kosh instance on the same database (PostgreSQL), or `kosh import` into a
//!   running instance's database, changes bills this instance has copied without telling
//!   it: such a copy lives at most the cache's lifetime (`KOSH_BILL_CACHE_SECONDS`, 30 s by
//!   default; 0 turns the cache off). A payment of such a bill is refused by the payment's
//!   own checks, so the worst is a bill shown as payable that no longer is.
//! - A bill's own expiry is never stretched: a copy is used only while none of its bill
//!   details has expired by kosh's clock (the injectable one), as the database path checks.
//!
//! Only the common fetch is kept: by consumer codes alone (not by demand id, mobile number
//! or email), answered entirely by bills that already existed. The copy is the bills' JSON,
//! already serialised, so a hit builds no JSON tree either.

use std::sync::Arc;
use std::time::Duration;

use kosh_platform::changes::{self, Stamp};

use super::Bill;
use super::fetch::FetchCriteria;

/// What a cached answer is keyed by: the criteria as asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    tenant_id: String,
    business_service: String,
    /// Sorted and without repeats: the answer does not depend on their order.
    consumer_codes: Vec<String>,
}

impl Key {
    /// The key of a fetch the copy may answer: by consumer codes alone. `None` for a fetch by
    /// demand id, mobile number or email, which always reads the database.
    pub fn for_fetch(criteria: &FetchCriteria) -> Option<Key> {
        // A citizen's answer depends on who asks, not only on the codes (a BBPS unit's by
        // codes alone is the tenant's).
        let by_codes_alone = criteria.demand_id.is_none()
            && criteria.mobile_number.is_none()
            && criteria.email.is_none()
            && !matches!(criteria.scope, crate::visibility::Scope::Own(_));
        if !by_codes_alone {
            return None;
        }
        let mut codes = criteria.consumer_codes.clone();
        codes.sort();
        codes.dedup();
        Some(Key {
            tenant_id: criteria.tenant_id.clone(),
            business_service: criteria.business_service.clone(),
            consumer_codes: codes,
        })
    }

    /// The change names a read for this key depends on, before it knows the bills.
    fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.consumer_codes
            .iter()
            .map(|code| consumer_slot(&self.business_service, code))
    }
}

fn consumer_slot(business_service: &str, consumer_code: &str) -> usize {
    // Not keyed by tenant: a state-level fetch answers with bills of several cities.
    changes::slot(&("consumer", business_service, consumer_code))
}

/// Call when a consumer code's demands or bills change, inside the write transaction.
/// Every store function that writes a bill or a demand calls it, so that no copy outlives
/// a change made on this instance.
pub fn touch_consumer(business_service: &str, consumer_code: &str) {
    changes::touched(consumer_slot(business_service, consumer_code));
}

#[derive(Clone)]
struct Entry {
    /// `[bill, ...]` as DIGIT's JSON.
    bills_json: Arc<str>,
    /// The earliest expiry of the bills' details: the copy is good up to and including it.
    valid_until_ms: i64,
    stamp: Stamp,
    /// kosh's clock when it was read.
    cached_ms: i64,
}

/// The cache's state for one read: taken before reading the database.
pub struct Ticket {
    key: Key,
    stamp: Stamp,
}

pub struct BillCache {
    lifetime_ms: i64,
    entries: Option<quick_cache::sync::Cache<Key, Entry, Size>>,
}

/// An answer's weight: its bytes, roughly (the JSON, the key, and the bookkeeping around
/// them), so that the budget bounds the memory the copy takes, whatever the bills' size.
#[derive(Clone)]
struct Size;

impl quick_cache::Weighter<Key, Entry> for Size {
    fn weight(&self, key: &Key, entry: &Entry) -> u64 {
        let key_bytes: usize = key.tenant_id.len()
            + key.business_service.len()
            + key
                .consumer_codes
                .iter()
                .map(|c| c.len() + 24)
                .sum::<usize>();
        (entry.bills_json.len() + key_bytes + ENTRY_OVERHEAD) as u64
    }
}

/// What an entry costs beyond its strings: the entry, the stamp, the cache's own slot.
const ENTRY_OVERHEAD: usize = 256;

impl std::fmt::Debug for BillCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillCache")
            .field("lifetime_ms", &self.lifetime_ms)
            .field("entries", &self.entries.as_ref().map(|c| c.len()))
            .finish()
    }
}

impl Default for BillCache {
    fn default() -> Self {
        BillCache::new(Duration::from_secs(30), 16 << 20)
    }
}

impl BillCache {
    /// A cache of answers weighing `budget_bytes` at most (the least used go first), each
    /// kept `lifetime` (zero: nothing is kept).
    pub fn new(lifetime: Duration, budget_bytes: u64) -> BillCache {
        let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        let on = lifetime_ms > 0 && budget_bytes > 0;
        // A one-bill answer weighs about 2 kB.
        let estimated = usize::try_from(budget_bytes / 2048)
            .unwrap_or(usize::MAX)
            .max(16);
        BillCache {
            lifetime_ms,
            entries: on
                .then(|| quick_cache::sync::Cache::with_weighter(estimated, budget_bytes, Size)),
        }
    }

    /// The cached bills' JSON array for `key`, when still good at `now_ms`.
    pub fn get(&self, key: &Key, now_ms: i64) -> Option<Arc<str>> {
        let entry = self.entries.as_ref()?.get(key)?;
        let age = now_ms.saturating_sub(entry.cached_ms);
        let good = (0..self.lifetime_ms).contains(&age)
            && now_ms <= entry.valid_until_ms
            && changes::still_current(&entry.stamp);
        good.then_some(entry.bills_json)
    }

    /// Taken before reading the bills of `key` from the database.
    pub fn ticket(&self, key: Key) -> Ticket {
        let stamp = changes::stamp(key.slots());
        Ticket { key, stamp }
    }

    /// Keeps the bills read under `ticket`, serialised, and returns that JSON array. Not
    /// kept when a consumer code was marked since the ticket: the read may predate a commit.
    pub fn put(&self, ticket: Ticket, bills: &[Bill], now_ms: i64) -> Arc<str> {
        let bills_json = json_array(bills);
        let Some(entries) = &self.entries else {
            return bills_json;
        };
        let Ticket { key, stamp } = ticket;
        if !changes::still_current(&stamp) {
            return bills_json;
        }
        let valid_until_ms = bills
            .iter()
            .flat_map(|b| b.details.iter().map(|d| d.expiry_date))
            .min()
            .unwrap_or(i64::MIN);
        entries.insert(
            key,
            Entry {
                bills_json: bills_json.clone(),
                valid_until_ms,
                stamp,
                cached_ms: now_ms,
            },
        );
        bills_json
    }
}

/// Bills as the JSON array of fetch-bill's `Bill`.
pub fn json_array(bills: &[Bill]) -> Arc<str> {
    let json: Vec<serde_json::Value> = bills.iter().map(Bill::to_json).collect();
    serde_json::Value::Array(json).to_string().into()
}
