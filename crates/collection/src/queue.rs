//! The queue that gathers `payments/_create` calls into batches ([`crate::batch`]).
//!
//! A worker takes the first waiting payment and every other one already waiting (up to
//! [`MAX_BATCH`]) and makes them in one transaction. Nothing waits for a batch to fill: a
//! payment that finds the queue empty is made at once, alone. Under load the payments that
//! queued while a batch was being written form the next one, so the statements and the
//! commit of a batch are shared by all of its payments.
//!
//! Each payment is answered after the commit that makes it durable. A refused payment is
//! answered with its own error and leaves no trace; a payment deferred by the batch (an
//! earlier one took its bill or consumer code) goes into the worker's next batch. Should a
//! batch fail as a whole (a database error), its payments are made again one by one, so
//! each gets its own answer.

use std::sync::Arc;

use kosh_mdms::Mdms;
use kosh_platform::{AuthUser, Clock, Db, DigitError, write_tx};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::batch::{self, Order, Outcome};
use crate::command::NewPayment;
use crate::service::{CreatedPayment, PaymentOptions};

/// The most payments made in one transaction: enough to share a commit among all the
/// callers one instance serves at once (benchmarked with 64), few enough that a batch's
/// multi-row statements stay within a few hundred parameters.
pub const MAX_BATCH: usize = 64;

/// Payments waiting for a worker. Beyond this, a caller waits to queue: the queue holds
/// requests already parsed, so it is bounded like every other buffer.
const QUEUE_BOUND: usize = 1024;

type Answer = Result<CreatedPayment, DigitError>;

struct Job {
    requester: AuthUser,
    command: NewPayment,
    reply: oneshot::Sender<Answer>,
}

/// The handle the HTTP handler sends payments through.
#[derive(Clone)]
pub struct PaymentQueue {
    sender: mpsc::Sender<Job>,
}

impl PaymentQueue {
    /// Starts `workers` workers on the current tokio runtime. On SQLite one is enough (one
    /// writer); on PostgreSQL a second prepares its batch while the first commits.
    pub fn start(db: Db, mdms: Arc<Mdms>, clock: Clock, workers: usize) -> PaymentQueue {
        let (sender, receiver) = mpsc::channel(QUEUE_BOUND);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            let worker = Worker {
                db: db.clone(),
                mdms: mdms.clone(),
                clock: clock.clone(),
                receiver: receiver.clone(),
            };
            tokio::spawn(worker.run());
        }
        PaymentQueue { sender }
    }

    /// Makes a counter payment; answers once it is committed, or refused.
    pub async fn pay(&self, requester: AuthUser, command: NewPayment) -> Answer {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            requester,
            command,
            reply,
        };
        if self.sender.send(job).await.is_err() {
            return Err(DigitError::unavailable("the payment workers have stopped"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(DigitError::unavailable("the payment was not answered")))
    }
}

struct Worker {
    db: Db,
    mdms: Arc<Mdms>,
    clock: Clock,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
}

impl Worker {
    async fn run(self) {
        let mut carried: Vec<Job> = Vec::new();
        loop {
            let mut jobs = std::mem::take(&mut carried);
            if jobs.is_empty() {
                // Wait for the first payment; the worker that waits holds the receiver.
                let mut receiver = self.receiver.lock().await;
                match receiver.recv().await {
                    Some(job) => jobs.push(job),
                    None => return,
                }
                take_waiting(&mut receiver, &mut jobs);
            } else if let Ok(mut receiver) = self.receiver.try_lock() {
                // Deferred payments go first; those already waiting join them. Never wait
                // for the receiver here: another worker may hold it while it waits for
                // payments that will not come until these are answered.
                take_waiting(&mut receiver, &mut jobs);
            }
            metrics::histogram!("kosh_collection_payment_batch_size").record(jobs.len() as f64);
            carried = self.make(jobs).await;
        }
    }

    /// Makes `jobs` in one transaction and answers them; returns the deferred ones.
    async fn make(&self, jobs: Vec<Job>) -> Vec<Job> {
        let options = PaymentOptions::default();
        let orders: Vec<Order<'_>> = jobs
            .iter()
            .map(|j| Order {
                requester: &j.requester,
                command: &j.command,
                options: &options,
            })
            .collect();
        let (db, mdms, clock) = (&self.db, &*self.mdms, &self.clock);
        let made = write_tx!(db, |conn| {
            batch::make_payments(conn, mdms, clock, &orders).await
        });
        drop(orders);
        match made {
            Ok(outcomes) => answer(jobs, outcomes),
            Err(error) if jobs.len() == 1 => {
                answer(jobs, vec![Outcome::Refused(error)]);
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(payments = jobs.len(), error = ?error.first_code(),
                    "a batch of payments failed as a whole; making them one by one");
                let mut deferred = Vec::new();
                for job in jobs {
                    deferred.extend(Box::pin(self.make(vec![job])).await);
                }
                deferred
            }
        }
    }
}

/// Adds the payments already waiting to `jobs`, up to [`MAX_BATCH`].
fn take_waiting(receiver: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

/// Sends each job its outcome; returns the deferred jobs.
fn answer(jobs: Vec<Job>, outcomes: Vec<Outcome>) -> Vec<Job> {
    let mut deferred = Vec::new();
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        let answer = match outcome {
            Outcome::Made(created) => Ok(created),
            Outcome::Refused(error) => Err(error),
            Outcome::Deferred => {
                deferred.push(job);
                continue;
            }
        };
        // A caller that has gone away (its connection closed) still has its payment made.
        let _ = job.reply.send(answer);
    }
    deferred
}
