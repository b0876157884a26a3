//! Table statistics (kosh_platform::db::analyze), on both databases: a fresh kosh has had its
//! tables analysed by the time it answers; an import leaves the planner knowing the rows it
//! loaded; and `kosh serve`'s growth check analyses a table that grew by many writes, on its
//! own, within a deadline.

use std::time::{Duration, Instant};

use kosh_billing::import::{self, Format, Options};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_platform::Db;

on_both_databases!(
    a_fresh_kosh_has_statistics_and_an_import_refreshes_them,
    the_growth_check_analyses_a_table_that_grew,
);

const PT_2018: (i64, i64) = (1522540800000, 1554076799000);
/// How long the database may take to show what was written (PostgreSQL's statistics of
/// writes reach `pg_stat_user_tables` within seconds of a backend going idle).
const DEADLINE: Duration = Duration::from_secs(90);

/// The rows the planner believes `table` has: PostgreSQL's `reltuples` (-1: never analysed),
/// SQLite's row count in `sqlite_stat1` (`None`: no statistics for it).
async fn planner_rows(db: &Db, backend: Backend, table: &str) -> Option<i64> {
    match backend {
        Backend::Postgres => {
            sqlx::query_scalar("SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE relname = $1")
                .bind(table)
                .fetch_optional(db.pool())
                .await
                .expect("reltuples")
        }
        Backend::Sqlite => {
            sqlx::query_scalar("SELECT MAX(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = $1")
                .bind(table)
                .fetch_one(db.pool())
                .await
                .expect("sqlite_stat1")
        }
    }
}

/// PostgreSQL: how many times `table` was analysed by hand (ANALYZE); 0 when never.
async fn analyze_count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = $1 AND last_analyze IS NOT NULL",
    )
    .bind(table)
    .fetch_optional(db.pool())
    .await
    .expect("pg_stat_user_tables")
    .unwrap_or(0)
}

/// `count` demands of PT for 2018-19 in pb.amritsar, one tax head each, as CSV.
fn demands_csv(count: usize) -> String {
    let (from, to) = PT_2018;
    let mut csv = String::from(
        "tenantId,consumerCode,consumerType,businessService,taxPeriodFrom,taxPeriodTo,taxHeadMasterCode,taxAmount\n",
    );
    for i in 0..count {
        csv.push_str(&format!(
            "pb.amritsar,STAT-{i},BUILTUP,PT,{from},{to},PT_TAX,100\n"
        ));
    }
    csv
}

async fn a_fresh_kosh_has_statistics_and_an_import_refreshes_them(backend: Backend) {
    // Without the periodic check, only the analysis after the migrations has run.
    let kosh = Kosh::start_with(backend, |s| s.analyze_every_seconds = 0).await;
    let db = &kosh.state().db;
    match backend {
        Backend::Postgres => {
            for table in [
                "egbs_bill",
                "egbs_demand",
                "egcl_payment",
                "eg_pg_transactions",
            ] {
                let rows = planner_rows(db, backend, table).await;
                assert!(
                    rows.is_some_and(|r| r >= 0),
                    "{table} was never analysed: reltuples {rows:?}"
                );
                assert!(
                    analyze_count(db, table).await >= 1,
                    "{table} has no last_analyze"
                );
            }
        }
        Backend::Sqlite => {
            // The tables are empty at the migrations, so ANALYZE records no row for them; its
            // table exists once it has run.
            let stat: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'",
            )
            .fetch_one(db.pool())
            .await
            .expect("sqlite_schema");
            assert_eq!(stat, 1, "no ANALYZE ran after the migrations");
        }
    }

    let loaded = 1_500;
    let text = demands_csv(loaded);
    let records = import::read::records(std::io::Cursor::new(text.into_bytes()), Format::Csv);
    let now = kosh.state().clock.now_ms();
    let report = import::run(
        db,
        &kosh.state().mdms,
        records,
        &Options {
            batch_size: 500,
            actor: "statistics-test".into(),
        },
        || now,
        |bad| panic!("refused: {bad:?}"),
        |_| {},
    )
    .await
    .expect("import runs");
    assert_eq!(report.loaded, loaded as u64, "{report:?}");

    // SQLite sees the rows at once, so the import's own last analysis has counted them.
    // PostgreSQL's count of changed rows lags the writes by seconds: the growth check, which
    // the import ran too, is run again until it has seen them.
    let started = Instant::now();
    loop {
        let rows = planner_rows(db, backend, "egbs_demand").await.unwrap_or(0);
        if rows >= loaded as i64 {
            break;
        }
        assert!(
            backend == Backend::Postgres && started.elapsed() < DEADLINE,
            "egbs_demand holds {loaded} demands, the planner believes {rows}"
        );
        let analysed = db.analyze_grown().await.expect("growth check");
        assert!(
            analysed.iter().all(|t| !t.starts_with("sqlite_")),
            "{analysed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    kosh.stop().await;
}

async fn the_growth_check_analyses_a_table_that_grew(backend: Backend) {
    let kosh = Kosh::start_with(backend, |s| s.analyze_every_seconds = 1).await;
    let db = &kosh.state().db;
    let before = match backend {
        Backend::Postgres => analyze_count(db, "kosh_outbox").await,
        Backend::Sqlite => 0,
    };
    assert_eq!(
        planner_rows(db, backend, "kosh_outbox").await.unwrap_or(0),
        0
    );

    // Many writes: 2,000 events, well past the threshold of 1,000 rows plus 10%.
    let written = 2_000;
    let mut tx = db.begin_write().await.expect("a write transaction");
    for chunk in 0..written / 100 {
        let mut sql = String::from(
            "INSERT INTO kosh_outbox (id, tenant_id, topic, event_key, payload, created_ms) VALUES ",
        );
        let values: Vec<String> = (0..100)
            .map(|i| {
                format!("('stat-{chunk}-{i}', 'pb.amritsar', 'statistics-test', 'k', '{{}}', 0)")
            })
            .collect();
        sql.push_str(&values.join(", "));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .expect("insert events");
    }
    tx.commit().await.expect("commit");

    // No call here: kosh serve's own check, every second, finds the table grown.
    let started = Instant::now();
    loop {
        let rows = planner_rows(db, backend, "kosh_outbox").await.unwrap_or(0);
        let analysed = match backend {
            Backend::Postgres => analyze_count(db, "kosh_outbox").await > before,
            Backend::Sqlite => true,
        };
        if analysed && rows >= written {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "kosh_outbox holds {written} rows; after {:?} the planner believes {rows}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A table that did not grow is left alone: the check right after finds nothing to do
    // in the tables it just analysed.
    let mut watch = kosh_platform::db::analyze::GrowthWatch::default();
    let first = watch.analyze_grown(db).await.expect("growth check");
    assert!(!first.contains(&"kosh_outbox".to_string()), "{first:?}");
    kosh.stop().await;
}
