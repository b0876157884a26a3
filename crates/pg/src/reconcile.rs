//! Reconciliation: PENDING transactions whose callback never came (the payer closed the
//! browser, the gateway timed out, the gateway said "pending") are asked about again through
//! the gateway's status API and settled by the same code as `_update`
//! ([`PgService::refresh`]).
//!
//! Which transactions (DIGIT: an early job every 15 minutes for transactions 15–30 minutes
//! old, and a twice-daily sweep of older ones): PENDING, at least `reconcile_after` old, and
//! not asked about within the last `reconcile_after` during their first day, or within
//! `reconcile_sweep` after it. Ages use kosh's clock, so tests move time instead of waiting.
//!
//! One instance at a time: a pass first takes the `kosh_job_lease` row of [`JOB_NAME`] (free,
//! or expired), renews it before each transaction, and frees it at the end. The lease is
//! timed by the wall clock, not kosh's (possibly manual) clock, because it guards processes,
//! not business time. No advisory locks, no `SKIP LOCKED`: two instances that raced anyway
//! would still settle each transaction once, because settling is the database's
//! `WHERE txn_status = 'PENDING'`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use kosh_mdms::Mdms;
use kosh_platform::db::lease;
use kosh_platform::{Clock, Db, DigitError, write_tx};

use crate::gateways::TxnStatus;
use crate::service::{Actor, PgService};
use crate::txn::{Transaction, store};

/// The lease row's name.
pub const JOB_NAME: &str = "pg-reconciliation";
/// How long a lease lasts unless renewed.
pub const LEASE_MS: i64 = 5 * 60 * 1000;
/// The most transactions one pass asks about.
pub const BATCH: i64 = 200;

/// What one pass did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub examined: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub pending: usize,
    /// Of the pending ones, those closed because the gateway has no record of them.
    pub closed: usize,
    pub errors: usize,
    /// The transactions asked about, as they are after the pass.
    pub transactions: Vec<Transaction>,
}

/// Takes the lease of `job` for `holder` if it is free, expired, or already `holder`'s.
pub async fn try_lease(db: &Db, job: &str, holder: &str) -> Result<bool, DigitError> {
    lease::try_take(db, job, holder, LEASE_MS).await
}

/// Extends `holder`'s lease; `false` if it lost it (it expired and another instance took it).
pub async fn renew(db: &Db, job: &str, holder: &str) -> Result<bool, DigitError> {
    lease::renew(db, job, holder, LEASE_MS).await
}

/// Frees `holder`'s lease.
pub async fn release(db: &Db, job: &str, holder: &str) -> Result<(), DigitError> {
    lease::release(db, job, holder).await
}

/// One pass, if this process can take the lease; `None` when another pass holds it.
pub async fn run_pass(
    pg: &PgService,
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
) -> Result<Option<Report>, DigitError> {
    // Each pass is its own holder, so two passes in one process exclude each other too.
    let holder = format!("{}:{}", pg.instance_id(), uuid::Uuid::new_v4().simple());
    if !try_lease(db, JOB_NAME, &holder).await? {
        return Ok(None);
    }
    let result = pass(pg, db, mdms, clock, &holder).await;
    let released = release(db, JOB_NAME, &holder).await;
    let report = result?;
    released?;
    Ok(Some(report))
}

async fn pass(
    pg: &PgService,
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    holder: &str,
) -> Result<Report, DigitError> {
    let config = pg.config();
    let due = {
        let mut conn = db.pool().acquire().await?;
        store::due_for_reconciliation(
            &mut conn,
            clock.now_ms(),
            config.reconcile_after_ms,
            config.reconcile_sweep_ms,
            config.late_success_ms,
            BATCH,
        )
        .await?
    };
    let mut report = Report::default();
    let no_params = BTreeMap::new();
    for txn in due {
        if !renew(db, JOB_NAME, holder).await? {
            tracing::warn!("reconciliation lost its lease; stopping this pass");
            break;
        }
        let now = clock.now_ms();
        write_tx!(*db, |conn| {
            store::mark_reconciled(conn, &txn.tenant_id, &txn.txn_id, now).await
        })?;
        report.examined += 1;
        let txn_id = txn.txn_id.clone();
        match pg
            .refresh(
                db,
                mdms,
                clock,
                txn.clone(),
                &no_params,
                Actor::Reconciliation,
            )
            .await
        {
            Ok(settled) => {
                match settled.status {
                    TxnStatus::Success => report.succeeded += 1,
                    TxnStatus::Failure => report.failed += 1,
                    TxnStatus::Pending => {
                        report.pending += 1;
                        report.closed += usize::from(settled.closed_time.is_some());
                    }
                }
                report.transactions.push(settled);
            }
            Err(e) => {
                tracing::warn!(%txn_id, error = %e, "reconciliation could not settle the transaction");
                report.errors += 1;
                report.pending += 1;
                let mut conn = db.pool().acquire().await?;
                report
                    .transactions
                    .push(store::load(&mut conn, &txn_id).await?.unwrap_or(txn));
            }
        }
    }
    if report.examined > 0 {
        tracing::info!(
            examined = report.examined,
            succeeded = report.succeeded,
            failed = report.failed,
            pending = report.pending,
            errors = report.errors,
            "reconciliation pass"
        );
    }
    Ok(report)
}

/// One pass now, waiting up to `wait` for a pass that holds the lease to finish (the admin
/// endpoint).
pub async fn run_pass_now(
    pg: &PgService,
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    wait: Duration,
) -> Result<Report, DigitError> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(report) = run_pass(pg, db, mdms, clock).await? {
            return Ok(report);
        }
        if Instant::now() >= deadline {
            return Err(DigitError::new(
                "RECONCILIATION_BUSY",
                "A reconciliation pass is running on another kosh instance, please retry",
            )
            .with_status(StatusCode::CONFLICT));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The background job: a pass every `every`, on whichever instance gets the lease.
pub fn spawn(
    pg: Arc<PgService>,
    db: Db,
    mdms: Arc<Mdms>,
    clock: Clock,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = run_pass(&pg, &db, &mdms, &clock).await {
                tracing::warn!(error = %e, "reconciliation pass failed");
            }
        }
    })
}
