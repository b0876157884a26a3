//! Group commit for SQLite's single writer: the write transactions that arrive while one is
//! running share one database transaction and one COMMIT (one fsync), each in a savepoint
//! of its own, and each is answered only after that COMMIT.
//!
//! SQLite has one writer connection, so its writes run one after another anyway; what a
//! write costs there is its statements plus a commit with `synchronous=FULL`. Sharing the
//! commit spreads that fsync over every write that was waiting, without weakening it: no
//! write is acknowledged before the COMMIT that makes it durable has returned.
//!
//! How a batch forms: a write takes the batch lock (FIFO), begins the shared transaction if
//! none is open, and runs its body inside `SAVEPOINT`. A body that fails is rolled back to
//! its savepoint alone; the others' work stays. When it is done, a write commits the batch
//! if nobody is queued behind it (or the batch is full); otherwise it leaves the batch open
//! for the next and waits for the outcome. The COMMIT runs in a task of its own, so it
//! completes even if the request that started it goes away.
//!
//! What can go wrong, and what happens:
//! - A request dropped in the middle of its body (the client went away) leaves its savepoint
//!   open: the batch is marked poisoned, the next write rolls the whole batch back, and every
//!   write of it gets a retryable error, which [`crate::write_tx!`] retries from the start.
//! - The write that should have committed goes away before doing so: the waiting writes
//!   notice after [`STALLED`] and commit the batch themselves.
//! - The COMMIT fails: every write of the batch gets its error (retried when retryable).
//!
//! PostgreSQL keeps a transaction per write (its WAL flush is already shared between
//! concurrent commits, and one shared connection would serialise its backends).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::error::DigitError;

/// Writes per shared transaction at most: more would hold the first ones' answers longer
/// for little gain (the commit is already spread over this many).
const MAX_BATCH: usize = 32;

/// How long a waiting write trusts the batch to be committed by another before it commits it
/// itself. Only a write that vanished mid-batch makes anyone wait this long.
const STALLED: Duration = Duration::from_millis(50);

type Outcome = Option<Result<(), DigitError>>;

pub(crate) struct Group {
    pool: AnyPool,
    batch: Arc<Mutex<Batch>>,
    /// Writes queued for the batch lock.
    waiting: AtomicUsize,
    /// Batches committed so far.
    commits: Arc<AtomicU64>,
}

#[derive(Default)]
struct Batch {
    tx: Option<Transaction<'static, Any>>,
    members: usize,
    /// Where the open batch's outcome will be published.
    outcome: Option<Arc<watch::Sender<Outcome>>>,
    /// A write went away with its savepoint open: the batch must be rolled back.
    poisoned: bool,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish()
    }
}

impl Group {
    pub(crate) fn new(pool: AnyPool) -> Group {
        Group {
            pool,
            batch: Arc::default(),
            waiting: AtomicUsize::new(0),
            commits: Arc::default(),
        }
    }

    pub(crate) fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }
}

/// Counts a write as queued until it holds the batch lock (or is dropped waiting).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Queued(counter)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One write transaction's place: its own transaction (PostgreSQL) or a member's place in
/// the shared one (SQLite). Made by [`crate::Db::write_slot`], used by [`crate::write_tx!`].
pub struct WriteSlot {
    kind: Kind,
}

enum Kind {
    Own(Transaction<'static, Any>),
    Member(Member),
}

struct Member {
    group: Arc<Group>,
    guard: Option<OwnedMutexGuard<Batch>>,
    outcome: Arc<watch::Sender<Outcome>>,
    /// Between the start of its body and the end of its savepoint.
    in_body: bool,
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.in_body
            && let Some(guard) = self.guard.as_mut()
        {
            guard.poisoned = true;
        }
    }
}

/// A write's body runs on this: a savepoint in the shared transaction, or the write's own
/// transaction.
pub enum Work<'a> {
    Savepoint(Transaction<'a, Any>),
    Plain(&'a mut AnyConnection),
}

impl Work<'_> {
    pub fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Work::Savepoint(tx) => tx,
            Work::Plain(conn) => conn,
        }
    }

    /// Keeps the body's work (RELEASE) or undoes it alone (ROLLBACK TO).
    pub async fn end(self, keep: bool) -> Result<(), DigitError> {
        match self {
            Work::Savepoint(tx) if keep => Ok(tx.commit().await?),
            Work::Savepoint(tx) => Ok(tx.rollback().await?),
            Work::Plain(_) => Ok(()),
        }
    }
}

fn lost() -> DigitError {
    let mut e = DigitError::unavailable("a write batch was rolled back; try again");
    e.retryable = true;
    e
}

impl WriteSlot {
    pub(crate) async fn own(pool: &AnyPool) -> Result<WriteSlot, DigitError> {
        Ok(WriteSlot {
            kind: Kind::Own(pool.begin().await?),
        })
    }

    pub(crate) async fn join(group: &Arc<Group>) -> Result<WriteSlot, DigitError> {
        let mut guard = {
            let _queued = Queued::new(&group.waiting);
            group.batch.clone().lock_owned().await
        };
        if guard.poisoned {
            abort(&mut guard).await;
        }
        if guard.tx.is_none() {
            guard.tx = Some(group.pool.begin().await?);
            guard.members = 0;
            guard.outcome = Some(Arc::new(watch::channel(None).0));
        }
        guard.members += 1;
        let outcome = guard.outcome.clone().expect("an open batch has an outcome");
        Ok(WriteSlot {
            kind: Kind::Member(Member {
                group: group.clone(),
                guard: Some(guard),
                outcome,
                in_body: true,
            }),
        })
    }

    /// Where the body runs.
    pub async fn work(&mut self) -> Result<Work<'_>, DigitError> {
        match &mut self.kind {
            Kind::Own(tx) => Ok(Work::Plain(tx)),
            Kind::Member(member) => {
                let tx = member
                    .guard
                    .as_mut()
                    .and_then(|g| g.tx.as_mut())
                    .expect("a member holds the open batch");
                Ok(Work::Savepoint(tx.begin().await?))
            }
        }
    }

    /// Commits (or has the batch commit) and answers the body's value once durable; a body
    /// error is answered as it is, after the rest of the batch is seen to.
    pub async fn finish<T>(self, value: Result<T, DigitError>) -> Result<T, DigitError> {
        match self.kind {
            Kind::Own(tx) => {
                let value = value?;
                tx.commit().await?;
                Ok(value)
            }
            Kind::Member(mut member) => {
                member.in_body = false;
                let guard = member.guard.take().expect("a member holds the open batch");
                let last =
                    member.group.waiting.load(Ordering::Acquire) == 0 || guard.members >= MAX_BATCH;
                if last {
                    commit(guard, &member.group);
                } else {
                    drop(guard);
                }
                let value = value?;
                wait(&member.group, &member.outcome).await?;
                Ok(value)
            }
        }
    }
}

/// Commits the open batch in a task of its own, holding the batch lock until it is done.
fn commit(mut guard: OwnedMutexGuard<Batch>, group: &Group) {
    let tx = guard.tx.take();
    let outcome = guard.outcome.take();
    metrics::histogram!("kosh_db_group_commit_size").record(guard.members as f64);
    guard.members = 0;
    let commits = group.commits.clone();
    tokio::spawn(async move {
        let result = match tx {
            Some(tx) => tx.commit().await.map_err(DigitError::from),
            None => Ok(()),
        };
        if result.is_ok() {
            commits.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(outcome) = outcome {
            outcome.send_replace(Some(result));
        }
        drop(guard);
    });
}

/// Rolls back a poisoned batch and tells its members to try again.
async fn abort(guard: &mut OwnedMutexGuard<Batch>) {
    if let Some(tx) = guard.tx.take() {
        let _ = tx.rollback().await;
    }
    if let Some(outcome) = guard.outcome.take() {
        outcome.send_replace(Some(Err(lost())));
    }
    guard.members = 0;
    guard.poisoned = false;
}

/// Waits for the outcome of a batch; commits it when the write that should have is gone.
async fn wait(group: &Arc<Group>, outcome: &Arc<watch::Sender<Outcome>>) -> Result<(), DigitError> {
    let mut rx = outcome.subscribe();
    loop {
        // Owned before any other await: the channel's read guard must not be held across one.
        let seen: Option<Outcome> =
            match tokio::time::timeout(STALLED, rx.wait_for(Option::is_some)).await {
                Ok(Ok(result)) => Some(result.clone()),
                Ok(Err(_)) => Some(Some(Err(lost()))),
                Err(_) => None,
            };
        match seen {
            Some(result) => return result.expect("waited for Some"),
            None => {
                let mut guard = group.batch.clone().lock_owned().await;
                let still_open = guard
                    .outcome
                    .as_ref()
                    .is_some_and(|open| Arc::ptr_eq(open, outcome));
                if still_open {
                    if guard.poisoned {
                        abort(&mut guard).await;
                    } else {
                        commit(guard, group);
                    }
                }
            }
        }
    }
}
