//! Change marks: how a read cache on this instance learns that rows it copied have changed.
//!
//! A writer names what it changes with [`touched`] (billing names a bill's id and its
//! consumer code, see `kosh_billing::bill::cache`). Inside [`crate::write_tx!`] the names
//! are kept with the transaction and marked only after its COMMIT; a rolled-back attempt
//! marks nothing. Outside a transaction they are marked at once.
//!
//! A reader takes [`stamp`] of the names it depends on *before* it reads the database, and a
//! cache entry made from that read is good while [`still_current`] says so. Because the
//! writer marks after its commit, a read that began before the commit always carries an
//! older stamp, so its copy can never outlive the change; the worst case is a copy read
//! just after the commit being dropped at once (one extra database read).
//!
//! Names are hashed into a fixed table of counters, so two names may share one: that only
//! drops an entry early, never keeps a stale one. The table is per process; another
//! instance's writes reach a cache here only through the cache's own lifetime.

use std::cell::RefCell;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters in the table: enough that unrelated consumer codes rarely share one.
const SLOTS: usize = 4096;

static MARKS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

tokio::task_local! {
    /// The slots the current write transaction has touched, marked after it commits.
    static PENDING: RefCell<Vec<usize>>;
}

/// The slot of a name (any hashable value, such as `("PT", "PT-1001")`).
pub fn slot<T: Hash + ?Sized>(name: &T) -> usize {
    // A fixed-key hasher: every part of the process must agree on a name's slot.
    let hash =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(name);
    (hash % SLOTS as u64) as usize
}

/// Records that the rows a name stands for are changing: marked after the enclosing
/// [`crate::write_tx!`] commits, or at once outside one.
pub fn touched(slot: usize) {
    let kept = PENDING.try_with(|pending| pending.borrow_mut().push(slot));
    if kept.is_err() {
        mark(&[slot]);
    }
}

fn mark(slots: &[usize]) {
    for &s in slots {
        MARKS[s].fetch_add(1, Ordering::Release);
    }
}

/// What a reader depends on, as of now: take it before reading the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(Vec<(usize, u64)>);

pub fn stamp(slots: impl IntoIterator<Item = usize>) -> Stamp {
    let mut marks: Vec<(usize, u64)> = slots
        .into_iter()
        .map(|s| (s, MARKS[s].load(Ordering::Acquire)))
        .collect();
    marks.sort_unstable();
    marks.dedup();
    Stamp(marks)
}

/// Whether nothing a stamp depends on has been marked since it was taken.
pub fn still_current(stamp: &Stamp) -> bool {
    stamp
        .0
        .iter()
        .all(|&(s, mark)| MARKS[s].load(Ordering::Acquire) == mark)
}

/// Runs one attempt of a write transaction with its own list of touched slots, and returns
/// the list with the attempt's result. Used by [`crate::write_tx!`].
pub async fn collect<F: Future>(attempt: F) -> (F::Output, Vec<usize>) {
    PENDING
        .scope(RefCell::new(Vec::new()), async move {
            let output = attempt.await;
            let slots = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
            (output, slots)
        })
        .await
}

/// Marks the slots a committed transaction touched. Used by [`crate::write_tx!`].
pub fn committed(slots: &[usize]) {
    mark(slots);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stamp_goes_stale_only_after_the_commit_is_marked() {
        let s = slot(&("PT", "changes-test-1"));
        let before = stamp([s]);
        let (_, pending) = collect(async { touched(s) }).await;
        // Touched inside the transaction: nothing is marked until it commits.
        assert!(still_current(&before));
        assert_eq!(pending, vec![s]);
        committed(&pending);
        assert!(!still_current(&before));
        assert!(still_current(&stamp([s])));
    }

    #[tokio::test]
    async fn outside_a_transaction_a_touch_marks_at_once() {
        let s = slot(&("PT", "changes-test-2"));
        let before = stamp([s]);
        touched(s);
        assert!(!still_current(&before));
    }

    #[test]
    fn a_name_always_has_the_same_slot() {
        assert_eq!(slot(&("WS", "A-1")), slot(&("WS", "A-1")));
        assert!(slot(&("WS", "A-1")) < SLOTS);
    }
}
