//! The chain on a real SQLite file: appends link up, concurrent writers neither fork nor
//! leave gaps, and each kind of tampering is reported where it happened.

use sqlx::Executor;

use super::*;
use crate::Db;
use crate::write_tx;

static NOTE: AuditTable = AuditTable {
    name: "t_note_audit",
    key: "audit_id",
    columns: &[
        ("audit_id", Kind::Text),
        ("tenant_id", Kind::Text),
        ("body", Kind::Text),
        ("amount", Kind::Int),
    ],
};

fn note(tenant: &str, id: &str, amount: Option<i64>) -> AuditRow {
    AuditRow::new(
        &NOTE,
        vec![id.into(), tenant.into(), Value::Text(None), amount.into()],
    )
}

async fn db() -> Db {
    let path =
        std::env::temp_dir().join(format!("kosh-chain-{}.db", uuid::Uuid::new_v4().simple()));
    let db = Db::connect(&format!("sqlite://{}", path.display()), 4)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.pool()
        .execute(
            "CREATE TABLE t_note_audit (audit_id VARCHAR(64) NOT NULL, tenant_id VARCHAR(256) NOT NULL, \
             body TEXT, amount BIGINT, PRIMARY KEY (tenant_id, audit_id))",
        )
        .await
        .unwrap();
    db
}

async fn write(db: &Db, rows: Vec<AuditRow>) {
    write_tx!(db, |conn| { insert(conn, &rows).await }).unwrap();
}

async fn reports(db: &Db) -> Vec<TenantReport> {
    verify(db, &[&NOTE]).await.unwrap()
}

async fn exec(db: &Db, sql: &'static str) {
    db.pool().execute(sql).await.unwrap();
}

#[test]
fn canonical_bytes_name_the_table_the_place_and_every_column() {
    let row = note("pb.a", "n1", Some(500_00));
    let bytes = canonical(&NOTE, 7, &row.values);
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r#"["t_note_audit",7,[["audit_id","n1"],["tenant_id","pb.a"],["body",null],["amount",50000]]]"#
    );
    // The place in the chain is part of the hash: a renumbered entry does not verify.
    assert_ne!(
        link(GENESIS, &canonical(&NOTE, 7, &row.values)),
        link(GENESIS, &canonical(&NOTE, 8, &row.values))
    );
    assert_eq!(
        link(GENESIS, b"x"),
        crate::digest::sha256_hex(format!("{GENESIS}x").as_bytes())
    );
}

#[test]
#[should_panic(expected = "t_note_audit.amount")]
fn a_row_of_the_wrong_shape_is_a_bug() {
    AuditRow::new(
        &NOTE,
        vec!["n".into(), "pb.a".into(), Value::Text(None), "5".into()],
    );
}

#[tokio::test]
async fn appends_link_up_per_tenant() {
    let db = db().await;
    write(
        &db,
        vec![note("pb.a", "n1", Some(1)), note("pb.a", "n2", None)],
    )
    .await;
    write(&db, vec![note("pb.b", "n1", Some(2))]).await;
    write(&db, vec![note("pb.a", "n3", Some(3))]).await;

    let chain: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT seq, row_key, prev_hash, row_hash FROM kosh_audit_chain WHERE tenant_id = 'pb.a' ORDER BY seq",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(chain.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(chain[0].2, GENESIS);
    assert_eq!(chain[1].2, chain[0].3);
    assert_eq!(chain[2].2, chain[1].3);

    let r = reports(&db).await;
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(TenantReport::ok), "{r:?}");
    assert_eq!((r[0].tenant_id.as_str(), r[0].rows), ("pb.a", 3));
    assert_eq!(r[0].last_hash.as_deref(), Some(chain[2].3.as_str()));
    assert_eq!((r[1].tenant_id.as_str(), r[1].rows), ("pb.b", 1));
}

#[tokio::test]
async fn a_rolled_back_write_leaves_no_gap() {
    let db = db().await;
    write(&db, vec![note("pb.a", "n1", Some(1))]).await;
    let failed: Result<(), DigitError> = write_tx!(db, |conn| {
        insert(conn, &[note("pb.a", "n2", Some(2))]).await?;
        Err::<(), _>(DigitError::new("X", "rolled back"))
    });
    assert!(failed.is_err());
    write(&db, vec![note("pb.a", "n3", Some(3))]).await;
    let r = reports(&db).await;
    assert!(r[0].ok(), "{r:?}");
    assert_eq!((r[0].rows, r[0].last_seq), (2, Some(2)));
}

#[tokio::test]
async fn concurrent_writers_neither_fork_nor_gap() {
    let db = db().await;
    let writers = (0..20).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            write(
                &db,
                vec![
                    note("pb.a", &format!("n{i}"), Some(i)),
                    note("pb.a", &format!("m{i}"), None),
                ],
            )
            .await;
        })
    });
    for w in writers {
        w.await.unwrap();
    }
    let r = reports(&db).await;
    assert!(r[0].ok(), "{r:?}");
    assert_eq!((r[0].rows, r[0].last_seq), (40, Some(40)));
}

#[tokio::test]
async fn each_kind_of_tampering_is_named_where_it_happened() {
    let db = db().await;
    for i in 1..=6 {
        write(&db, vec![note("pb.a", &format!("n{i}"), Some(i))]).await;
    }
    write(&db, vec![note("pb.b", "n1", Some(1))]).await;

    exec(
        &db,
        "UPDATE t_note_audit SET amount = 999 WHERE audit_id = 'n2' AND tenant_id = 'pb.a'",
    )
    .await;
    exec(
        &db,
        "DELETE FROM t_note_audit WHERE audit_id = 'n3' AND tenant_id = 'pb.a'",
    )
    .await;
    exec(
        &db,
        "DELETE FROM kosh_audit_chain WHERE tenant_id = 'pb.a' AND seq = 5",
    )
    .await;
    exec(
        &db,
        "INSERT INTO t_note_audit VALUES ('forged', 'pb.a', NULL, 100)",
    )
    .await;
    // Text in a BIGINT column: SQLite stores it; the verifier reports it rather than failing.
    exec(
        &db,
        "UPDATE t_note_audit SET amount = 'lots' WHERE audit_id = 'n6'",
    )
    .await;

    let r = reports(&db).await;
    let a = &r[0];
    let table = || "t_note_audit".to_string();
    assert_eq!(a.violation_count, 6, "{a:#?}");
    assert_eq!(
        a.violations[..3],
        [
            Violation::Changed {
                seq: 2,
                table: table(),
                key: "n2".into(),
                detail: "hash mismatch".into()
            },
            Violation::Deleted {
                seq: 3,
                table: table(),
                key: "n3".into()
            },
            Violation::Missing { from: 5, to: 5 },
        ],
        "{a:#?}"
    );
    assert!(
        matches!(&a.violations[3], Violation::Changed { seq: 6, key, .. } if key == "n6"),
        "{a:#?}"
    );
    assert_eq!(
        a.violations[4..],
        [
            Violation::Unchained {
                table: table(),
                key: "forged".into()
            },
            Violation::Unchained {
                table: table(),
                key: "n5".into()
            },
        ]
    );
    assert_eq!(
        a.violations[0].to_string(),
        "seq 2: changed row t_note_audit n2 (hash mismatch)"
    );
    assert_eq!(
        a.violations[1].to_string(),
        "seq 3: deleted row t_note_audit n3"
    );
    assert_eq!(a.violations[2].to_string(), "seq 5: chain entry deleted");
    assert_eq!(
        a.violations[4].to_string(),
        "inserted row t_note_audit forged: no chain entry"
    );
    // The other tenant's chain is untouched.
    assert!(r[1].ok(), "{:?}", r[1]);
}

#[tokio::test]
async fn a_truncated_or_rewritten_tail_disagrees_with_the_head() {
    let db = db().await;
    for i in 1..=3 {
        write(&db, vec![note("pb.a", &format!("n{i}"), Some(i))]).await;
    }
    exec(&db, "DELETE FROM kosh_audit_chain WHERE seq = 3").await;
    exec(&db, "DELETE FROM t_note_audit WHERE audit_id = 'n3'").await;
    let r = reports(&db).await;
    assert_eq!(r[0].violations, [Violation::Missing { from: 3, to: 3 }]);

    // An entry whose prev_hash was rewritten no longer follows the one before it.
    exec(
        &db,
        "UPDATE kosh_audit_chain SET prev_hash = row_hash WHERE seq = 2",
    )
    .await;
    let r = reports(&db).await;
    assert_eq!(r[0].violations[0], Violation::Relinked { seq: 2 });
    assert!(matches!(
        r[0].violations[1],
        Violation::Changed { seq: 2, .. }
    ));
}
