//! A full disk and an unwritable SQLite file (RELIABILITY.md, "Faults"): writes answer a clear
//! DIGIT error (507 DATABASE_FULL, 503 DATABASE_READ_ONLY), never a panic or a bare 500; reads
//! keep working; nothing half-written is left; when the condition clears, writes work again
//! without a restart and `PRAGMA integrity_check` says ok. kosh started on a path it cannot
//! write exits with a message that names the path.
//!
//! The tests run as root, which chmod cannot stop, so the faults are made inside SQLite on
//! kosh's own writer connection (every write goes through that one connection):
//! `PRAGMA max_page_count` pinned to the current size makes the next new page fail with
//! SQLITE_FULL, exactly what SQLite reports when the file system says ENOSPC; `PRAGMA
//! query_only` makes every write fail with SQLITE_READONLY, as a read-only file does.

use std::path::{Path, PathBuf};

use kosh_blackbox::{Backend, Kosh, assert_digit_error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

// SQLite's own faults: these run on SQLite only (PostgreSQL's are in faults_postgres.rs).
mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_refuses_writes_clearly_and_recovers() {
        super::a_full_disk_refuses_writes_clearly_and_recovers().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unwritable_file_refuses_writes_clearly_and_recovers() {
        super::an_unwritable_file_refuses_writes_clearly_and_recovers().await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn starting_on_an_unwritable_path_is_a_clear_error() {
        super::starting_on_an_unwritable_path_is_a_clear_error().await
    }
    /// The long version with a real ENOSPC: needs root and `mount` (RELIABILITY.md).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "mounts a tmpfs: needs root; run with --run-ignored only"]
    async fn a_really_full_file_system_refuses_writes_clearly_and_recovers() {
        super::a_really_full_file_system_refuses_writes_clearly_and_recovers().await
    }
}

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";

struct Env {
    kosh: Kosh,
    payer: String,
    file: PathBuf,
    dir: PathBuf,
}

async fn start() -> Env {
    let dir = std::env::temp_dir().join(format!("kosh-sqlfault-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    start_in(dir).await
}

/// kosh on a SQLite file in `dir`, with one citizen to bill.
async fn start_in(dir: PathBuf) -> Env {
    let file = dir.join("kosh.db");
    let url = format!("sqlite://{}", file.display());
    let kosh = Kosh::start_with(Backend::Sqlite, |s| s.database_url = Some(url)).await;
    kosh.set_clock(NOW).await;
    let payer = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
            "type": "CITIZEN", "active": true, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    Env {
        kosh,
        payer: payer["uuid"].as_str().expect("uuid").to_string(),
        file,
        dir,
    }
}

impl Env {
    async fn demand(&self, code: &str) -> (StatusCode, Value) {
        self.kosh
            .post(
                "/billing-service/demand/_create",
                json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code,
                    "consumerType": "BUILTUP", "businessService": "PT", "payer": {"uuid": self.payer},
                    "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
                    "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 250, "collectionAmount": 0}]}]}),
            )
            .await
    }

    async fn fetch_bill(&self, code: &str) -> (StatusCode, Value) {
        self.kosh
            .post(
                &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"),
                json!({"RequestInfo": {}}),
            )
            .await
    }

    async fn pay(&self, bill: &Value) -> (StatusCode, Value) {
        self.kosh
            .post(
                "/collection-services/payments/_create",
                json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
                    "tenantId": TENANT, "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH",
                    "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
                    "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
                        "totalAmountPaid": bill["totalAmount"], "businessService": "PT"}]}}),
            )
            .await
    }

    async fn search_bill(&self, code: &str) -> (StatusCode, Value) {
        self.kosh
            .post(
                &format!("/billing-service/bill/v2/_search?tenantId={TENANT}&service=PT&consumerCode={code}"),
                json!({"RequestInfo": {}}),
            )
            .await
    }

    async fn demands_of(&self, code: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM egbs_demand WHERE tenant_id = $1 AND consumer_code = $2",
        )
        .bind(TENANT)
        .bind(code.to_string())
        .fetch_one(self.kosh.state().db.pool())
        .await
        .expect("count")
    }

    /// Runs `sql` on kosh's single writer connection (the fault is a property of it).
    async fn on_writer(&self, sql: &'static str) {
        let mut tx = self.kosh.state().db.begin_write().await.expect("writer");
        sqlx::raw_sql(sql).execute(&mut *tx).await.expect(sql);
        tx.commit().await.expect("commit");
    }

    /// Stops kosh and checks the file as a fresh process would open it.
    async fn stop_and_check(self) {
        self.kosh.stop().await;
        assert_integrity(&self.file).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn assert_integrity(file: &Path) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("open");
    let result: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .expect("integrity_check");
    assert_eq!(result, "ok");
    let _ = conn.close().await;
}

async fn a_full_disk_refuses_writes_clearly_and_recovers() {
    let env = start().await;
    assert_eq!(env.demand("PT-FS-0").await.0, StatusCode::CREATED);
    let (status, bill) = env.fetch_bill("PT-FS-0").await;
    assert_eq!(status, StatusCode::CREATED, "{bill}");
    let bill = bill["Bill"][0].clone();

    // The disk fills up: no page beyond the file's current size.
    env.on_writer("PRAGMA max_page_count = 1").await;
    let mut written = 0;
    let (full_code, answer) = loop {
        let code = format!("PT-FS-{}", written + 1);
        let (status, body) = env.demand(&code).await;
        if status != StatusCode::CREATED {
            break (code, (status, body));
        }
        written += 1;
        assert!(written < 500, "the database never filled up");
    };
    let (status, body) = answer;
    assert_digit_error(
        status,
        &body,
        StatusCode::INSUFFICIENT_STORAGE,
        "DATABASE_FULL",
        Some("The database has no space left; nothing was written, please retry later"),
    );
    assert_eq!(env.demands_of(&full_code).await, 0, "nothing half-written");
    // A payment is refused the same way, and pays nothing.
    let (status, body) = env.pay(&bill).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::INSUFFICIENT_STORAGE,
        "DATABASE_FULL",
        None,
    );
    // Reads keep working.
    let (status, body) = env.search_bill("PT-FS-0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Bill"][0]["status"], "ACTIVE", "{body}");
    assert_eq!(env.kosh.get("/ready").await.0, StatusCode::OK);

    // Space again: writes work without a restart.
    env.on_writer("PRAGMA max_page_count = 1073741823").await;
    assert_eq!(env.demand(&full_code).await.0, StatusCode::CREATED);
    let (status, body) = env.pay(&bill).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = env.search_bill("PT-FS-0").await;
    assert_eq!(body["Bill"][0]["status"], "PAID", "{body}");
    eprintln!("faults_sqlite: {written} demands written before the disk was full");
    env.stop_and_check().await;
}

async fn an_unwritable_file_refuses_writes_clearly_and_recovers() {
    let env = start().await;
    assert_eq!(env.demand("PT-FR-0").await.0, StatusCode::CREATED);
    let (_, bill) = env.fetch_bill("PT-FR-0").await;
    let bill = bill["Bill"][0].clone();

    env.on_writer("PRAGMA query_only = 1").await;
    let (status, body) = env.demand("PT-FR-1").await;
    let message =
        "The database cannot be written at the moment; nothing was written, please retry later";
    assert_digit_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_READ_ONLY",
        Some(message),
    );
    assert_eq!(env.demands_of("PT-FR-1").await, 0);
    let (status, body) = env.pay(&bill).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_READ_ONLY",
        Some(message),
    );
    let (status, body) = env.search_bill("PT-FR-0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Bill"][0]["status"], "ACTIVE", "{body}");

    env.on_writer("PRAGMA query_only = 0").await;
    assert_eq!(env.demand("PT-FR-1").await.0, StatusCode::CREATED);
    let (status, body) = env.pay(&bill).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    env.stop_and_check().await;
}

async fn starting_on_an_unwritable_path_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("kosh-sqlfault-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    // A folder under a regular file cannot be made, whoever asks (root included).
    let blocker = dir.join("not-a-folder");
    std::fs::write(&blocker, "x").expect("file");
    let data = blocker.join("kosh-data");
    let mut settings = kosh_server::cli::Settings::defaults();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.data_dir = data.clone();
    settings.database_url = None;
    settings.admin_password = Some("Admin@1234".into());
    let err = match kosh_server::start(&settings).await {
        Ok(_) => panic!("kosh started on {}", data.display()),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&data.display().to_string()),
        "the message names the path: {err}"
    );
    assert!(err.contains("Not a directory"), "and says why: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small tmpfs holds the database; a filler file takes the rest of its space, so SQLite's
/// next write meets a real ENOSPC.
async fn a_really_full_file_system_refuses_writes_clearly_and_recovers() {
    let dir = std::env::temp_dir().join(format!("kosh-sqlfull-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&dir)
        .status()
        .expect("mount");
    assert!(mounted.success(), "mount -t tmpfs needs root");
    let _unmount = Unmount(dir.clone());
    let env = start_in(dir.clone()).await;
    assert_eq!(env.demand("PT-FT-0").await.0, StatusCode::CREATED);
    let (_, bill) = env.fetch_bill("PT-FT-0").await;
    let bill = bill["Bill"][0].clone();

    let filler = dir.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let mut written = 0;
    let (code, status, body) = loop {
        let code = format!("PT-FT-{}", written + 1);
        let (status, body) = env.demand(&code).await;
        if status != StatusCode::CREATED {
            break (code, status, body);
        }
        written += 1;
        assert!(written < 2000, "the file system never filled up");
    };
    assert_digit_error(
        status,
        &body,
        StatusCode::INSUFFICIENT_STORAGE,
        "DATABASE_FULL",
        None,
    );
    assert_eq!(env.demands_of(&code).await, 0, "nothing half-written");
    let (status, body) = env.search_bill("PT-FT-0").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    std::fs::remove_file(&filler).expect("free the space");
    assert_eq!(env.demand(&code).await.0, StatusCode::CREATED);
    let (status, body) = env.pay(&bill).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eprintln!("faults_sqlite: {written} demands written on the full tmpfs before ENOSPC");
    env.kosh.stop().await;
    assert_integrity(&env.file).await;
}

/// Unmounts the tmpfs however the test ends (lazily: a failed test may still hold files).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
