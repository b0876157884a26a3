//! Lease rows (`kosh_job_lease`): a job that must run on one kosh instance at a time takes its
//! row when it is free or expired, and frees it when done. Timed by the wall clock, not
//! kosh's (possibly manual) clock, because a lease guards processes, not business time. No
//! advisory locks (the portable-SQL rule at the head of `db.rs`): taking a lease is one
//! conditional UPDATE, which the database serialises on the row.

use crate::{Clock, Db, DigitError, write_tx};

fn wall_ms() -> i64 {
    Clock::System.now_ms()
}

/// Takes `job`'s lease for `holder` for `lease_ms` if it is free, expired or already
/// `holder`'s; `false` when another holder has it.
pub async fn try_take(db: &Db, job: &str, holder: &str, lease_ms: i64) -> Result<bool, DigitError> {
    let now = wall_ms();
    write_tx!(*db, |conn| {
        sqlx::query(
            "INSERT INTO kosh_job_lease (job_name, holder, expires_ms, last_run_ms) VALUES ($1, NULL, 0, NULL) \
             ON CONFLICT (job_name) DO NOTHING",
        )
        .bind(job)
        .execute(&mut *conn)
        .await?;
        let taken = sqlx::query(
            "UPDATE kosh_job_lease SET holder = $1, expires_ms = $2 \
             WHERE job_name = $3 AND (holder IS NULL OR holder = $1 OR expires_ms <= $4)",
        )
        .bind(holder)
        .bind(now.saturating_add(lease_ms))
        .bind(job)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok::<_, DigitError>(taken.rows_affected() == 1)
    })
}

/// Extends `holder`'s lease of `job` by `lease_ms` from now; `false` if it lost it (it
/// expired and another holder took it).
pub async fn renew(db: &Db, job: &str, holder: &str, lease_ms: i64) -> Result<bool, DigitError> {
    let now = wall_ms();
    write_tx!(*db, |conn| {
        let renewed = sqlx::query(
            "UPDATE kosh_job_lease SET expires_ms = $1 WHERE job_name = $2 AND holder = $3",
        )
        .bind(now.saturating_add(lease_ms))
        .bind(job)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
        Ok::<_, DigitError>(renewed.rows_affected() == 1)
    })
}

/// Frees `holder`'s lease of `job` and notes when the job last ran.
pub async fn release(db: &Db, job: &str, holder: &str) -> Result<(), DigitError> {
    let now = wall_ms();
    write_tx!(*db, |conn| {
        sqlx::query(
            "UPDATE kosh_job_lease SET holder = NULL, expires_ms = 0, last_run_ms = $1 \
             WHERE job_name = $2 AND holder = $3",
        )
        .bind(now)
        .bind(job)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
        Ok::<_, DigitError>(())
    })
}
