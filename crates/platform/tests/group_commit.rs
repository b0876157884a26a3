//! SQLite's group commit (crates/platform/src/db/group.rs) on a real database file: writes
//! that arrive together share commits; a failing write is undone alone; a write dropped in
//! the middle of its body leaves nothing behind and the others still land; a batch whose
//! committer vanished is committed by the write waiting on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kosh_platform::{Db, DigitError, write_tx};

async fn open() -> (Db, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("kosh-group-{}", uuid::Uuid::new_v4()));
    let db = Db::connect(&format!("sqlite://{}/kosh.db", dir.display()), 4)
        .await
        .expect("open");
    sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY)")
        .execute(db.pool())
        .await
        .expect("table");
    (db, dir)
}

async fn insert(db: &Db, key: &str, fail: bool) -> Result<(), DigitError> {
    let key = key.to_string();
    write_tx!(db, |conn| {
        sqlx::query("INSERT INTO t (k) VALUES ($1)")
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        if fail {
            Err(DigitError::new("REFUSED", "this write refuses"))
        } else {
            Ok(())
        }
    })
}

async fn keys(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT k FROM t ORDER BY k")
        .fetch_all(db.pool())
        .await
        .expect("keys")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_a_failing_one_is_undone_alone() {
    let (db, dir) = open().await;
    let writes = 40;
    let tasks: Vec<_> = (0..writes)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { insert(&db, &format!("k{i:02}"), i == 7).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let result = task.await.expect("task");
        if i == 7 {
            assert_eq!(result.unwrap_err().first_code(), Some("REFUSED"));
        } else {
            result.expect("write");
        }
    }
    let stored = keys(&db).await;
    assert_eq!(stored.len(), writes - 1);
    assert!(!stored.contains(&"k07".to_string()));
    // Every write was answered after a commit, and they did not each need their own.
    let commits = db.group_commits();
    assert!(
        (1..writes as u64).contains(&commits),
        "{commits} commits for {writes} concurrent writes"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_dropped_mid_body_leaves_nothing_and_the_next_write_lands() {
    let (db, dir) = open().await;
    let (inside_tx, inside) = tokio::sync::oneshot::channel::<()>();
    let stuck = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut inside_tx = Some(inside_tx);
            let _ = write_tx!(db, |conn| {
                sqlx::query("INSERT INTO t (k) VALUES ('dropped')")
                    .execute(&mut *conn)
                    .await?;
                if let Some(tx) = inside_tx.take() {
                    let _ = tx.send(());
                }
                std::future::pending::<()>().await;
                Ok::<_, DigitError>(())
            });
        })
    };
    inside.await.expect("the write is inside its body");
    let next = {
        let db = db.clone();
        tokio::spawn(async move { insert(&db, "after", false).await })
    };
    stuck.abort();
    next.await.expect("task").expect("the next write lands");
    assert_eq!(keys(&db).await, vec!["after".to_string()]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_left_open_by_a_vanished_write_is_committed_by_its_member() {
    let (db, dir) = open().await;
    let (release_tx, release) = tokio::sync::oneshot::channel::<()>();
    let (inside_tx, inside) = tokio::sync::oneshot::channel::<()>();
    let first = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut gates = Some((inside_tx, release));
            write_tx!(db, |conn| {
                sqlx::query("INSERT INTO t (k) VALUES ('first')")
                    .execute(&mut *conn)
                    .await?;
                if let Some((inside_tx, release)) = gates.take() {
                    let _ = inside_tx.send(());
                    let _ = release.await;
                }
                Ok::<_, DigitError>(())
            })
        })
    };
    inside.await.expect("the first write is inside its body");
    // A second write queues behind it, so the first leaves the batch open for it...
    let started = Arc::new(AtomicUsize::new(0));
    let second = {
        let db = db.clone();
        let started = started.clone();
        tokio::spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            insert(&db, "second", false).await
        })
    };
    while db.queued_writes() == 0 {
        tokio::task::yield_now().await;
    }
    let _ = release_tx.send(());
    // ...and then vanishes (or is dropped in its body, if it got the lock first).
    second.abort();
    first.await.expect("task").expect("the first write commits");
    let stored = keys(&db).await;
    assert!(stored.contains(&"first".to_string()), "{stored:?}");
    assert_eq!(started.load(Ordering::SeqCst), 1);
    let _ = std::fs::remove_dir_all(dir);
}
