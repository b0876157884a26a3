//! SQLite's table statistics (crates/platform/src/db/analyze.rs) on a real database file: the
//! growth check analyses a table that grew and leaves it alone once analysed, and a reader
//! connection opened before the analysis plans with the new statistics afterwards.

use kosh_platform::Db;
use kosh_platform::db::analyze::GrowthWatch;
use sqlx::Row;

async fn open() -> (Db, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("kosh-statistics-{}", uuid::Uuid::new_v4()));
    let db = Db::connect(&format!("sqlite://{}/kosh.db", dir.display()), 2)
        .await
        .expect("open");
    // x is one value per row, y one of two: with statistics, x = ? is the index to use.
    for sql in [
        "CREATE TABLE t (id TEXT PRIMARY KEY, x BIGINT NOT NULL, y BIGINT NOT NULL)",
        "CREATE INDEX t_x ON t (x)",
        "CREATE INDEX t_y ON t (y)",
    ] {
        sqlx::query(sql).execute(db.pool()).await.expect("schema");
    }
    (db, dir)
}

/// Rows `from..from + rows` of `t`.
async fn fill(db: &Db, from: i64, rows: i64) {
    let mut tx = db.begin_write().await.expect("write");
    for i in from..from + rows {
        sqlx::query("INSERT INTO t (id, x, y) VALUES ($1, $2, $3)")
            .bind(format!("r{i}"))
            .bind(i)
            .bind(i % 2)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
}

/// The plan of the query, as `conn` makes it now. `tag` makes the EXPLAIN's text new, so it
/// is prepared now rather than taken from the connection's statement cache (an EXPLAIN does
/// not look at the schema's version, so a cached one would show the plan of its preparing).
async fn plan(conn: &mut sqlx::AnyConnection, tag: &str) -> String {
    // A statement that runs, as the readers' statements do (their cached ones are prepared
    // again when the schema's version has moved).
    sqlx::query("SELECT COUNT(*) FROM t WHERE x = 1 AND y = 0")
        .fetch_one(&mut *conn)
        .await
        .expect("select");
    let explain = format!("EXPLAIN QUERY PLAN SELECT * FROM t WHERE x = 1 AND y = 0 -- {tag}");
    let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .expect("plan");
    rows.iter()
        .map(|r| r.get::<String, _>(3))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grown_tables_are_analysed_and_readers_plan_with_the_new_statistics() {
    let (db, dir) = open().await;
    // As after the migrations: analysed while empty (which records no statistics for t, but
    // creates sqlite_stat1, so the next analysis changes no schema by itself).
    assert_eq!(
        db.analyze_all().await.expect("analyse"),
        vec!["t".to_string()]
    );
    let mut reader = db.pool().acquire().await.expect("a reader");
    let reader: &mut sqlx::AnyConnection = &mut reader;

    fill(&db, 0, 3_000).await;
    // Without statistics SQLite rates both indexes alike and takes the later one.
    let before = plan(reader, "before").await;
    assert!(before.contains("t_y"), "{before}");

    let mut watch = GrowthWatch::default();
    let analysed = watch.analyze_grown(&db).await.expect("growth check");
    assert_eq!(analysed, vec!["t".to_string()]);
    let rows: i64 =
        sqlx::query_scalar("SELECT MAX(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = 't'")
            .fetch_one(db.pool())
            .await
            .expect("sqlite_stat1");
    assert_eq!(rows, 3_000);

    // The reader opened before the analysis now knows x = ? finds one row.
    let after = plan(reader, "after").await;
    assert!(after.contains("t_x"), "{after}");

    // Nothing grew since: nothing to do, for this watch and for a fresh one.
    assert!(watch.analyze_grown(&db).await.expect("again").is_empty());
    assert!(db.analyze_grown().await.expect("fresh").is_empty());
    // 1,000 rows plus 10% of 3,000 may be written before it counts as grown again.
    fill(&db, 3_000, 1_300).await;
    assert!(watch.analyze_grown(&db).await.expect("not yet").is_empty());
    fill(&db, 4_300, 1).await;
    assert_eq!(
        watch.analyze_grown(&db).await.expect("grown"),
        vec!["t".to_string()]
    );
    let _ = std::fs::remove_dir_all(dir);
}
