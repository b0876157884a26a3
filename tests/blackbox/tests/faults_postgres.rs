//! PostgreSQL restarted under load (RELIABILITY.md, "Faults"): while the database is down,
//! every request answers quickly with a 503 in DIGIT's error format (never a 500, never a
//! hang); when it is back, kosh serves again by itself, without a restart, and no payment it
//! acknowledged is lost.
//!
//! The PostgreSQL at 127.0.0.1:5432 is shared by every other test, so this test never touches
//! it: it creates its own throwaway cluster with `initdb` in a temporary folder, on a free
//! port, and stops and starts that one. It fails (never skips) when `initdb` is missing:
//! the postgresql package that `scripts/test` installs brings it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kosh_blackbox::{Backend, Kosh, assert_digit_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 2019-06-15 10:00 IST, inside PT's 2019-20 tax period.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
/// How long an answer may take while the database is down: the pool's acquire timeout (5 s)
/// plus room for a slow machine. A hang would exceed it.
const FAIL_FAST: Duration = Duration::from_secs(10);
/// How long PostgreSQL and kosh get to come back after `pg_ctl start`.
const RECOVERY: Duration = Duration::from_secs(60);
/// Bills paid by the load.
const BILLS: usize = 60;
/// Concurrent paying clients.
const WORKERS: usize = 3;

/// A PostgreSQL cluster of this test's own: initdb'd into a temporary folder, on a free port.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn create() -> Cluster {
        let bin = postgres_bin();
        let dir =
            std::env::temp_dir().join(format!("kosh-pgfault-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        if is_root() {
            // initdb refuses to run as root; the cluster belongs to the postgres OS user.
            run(Command::new("chown").arg("postgres:postgres").arg(&dir));
        }
        let port = free_port();
        let cluster = Cluster { bin, dir, port };
        cluster.pg(&[
            "initdb",
            "-D",
            &cluster.data(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "start",
        ]);
    }

    /// A restart's first half: `fast` ends every session at once, as a service restart does.
    fn stop(&self) {
        self.pg(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Runs one of PostgreSQL's programs, as the postgres OS user when we are root.
    fn pg(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(&args[1..]);
        run(&mut command);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed PostgreSQL's programs (Debian's layout, or initdb on the PATH).
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .expect("sh");
    let path = String::from_utf8_lossy(&which.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "initdb is needed for this test (apt-get install postgresql; scripts/test does)"
    );
    Path::new(&path).parent().expect("bin folder").to_path_buf()
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One answer the load got.
#[derive(Debug, Clone)]
struct Outcome {
    code: String,
    status: StatusCode,
    body: Value,
    took: Duration,
}

#[derive(Default)]
struct Log {
    outcomes: Vec<Outcome>,
    next: usize,
    stop: bool,
}

fn payment(bill: &Value, token: &str) -> Value {
    json!({"RequestInfo": {"apiId": "Rainmaker", "authToken": token}, "Payment": {
        "tenantId": TENANT, "totalAmountPaid": bill["totalAmount"], "paymentMode": "CASH",
        "paidBy": "Asha", "payerName": "Asha", "mobileNumber": MOBILE,
        "paymentDetails": [{"billId": bill["id"], "totalDue": bill["totalAmount"],
            "totalAmountPaid": bill["totalAmount"], "businessService": "PT"}]}})
}

/// Pays `bill` with its own Idempotency-Key, so that a retry after an unclear answer cannot
/// pay twice.
async fn pay(kosh: &Kosh, client: &reqwest::Client, bill: &Value) -> Outcome {
    let code = bill["consumerCode"].as_str().expect("code").to_string();
    let started = Instant::now();
    let response = client
        .post(kosh.url("/collection-services/payments/_create"))
        .header("Idempotency-Key", format!("pay-{code}"))
        .json(&payment(bill, &kosh.admin_token))
        .send()
        .await
        .unwrap_or_else(|e| panic!("no answer for {code} (a hang or a dropped connection): {e}"));
    let (status, body) = kosh_blackbox::read(response).await;
    Outcome {
        code,
        status,
        body,
        took: started.elapsed(),
    }
}

/// A 503 in DIGIT's format that names the database.
fn assert_database_unavailable(o: &Outcome) {
    assert_digit_error(
        o.status,
        &o.body,
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
        Some("The database is unavailable, please retry shortly"),
    );
    assert_eq!(o.body["ResponseInfo"], Value::Null, "{}", o.body);
}

async fn bill_for(kosh: &Kosh, payer: &str, code: &str) -> Value {
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code,
                "consumerType": "BUILTUP", "businessService": "PT", "payer": {"uuid": payer},
                "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
                "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 250, "collectionAmount": 0}]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

/// Waits for a condition on the load's log (the load is another task; this waits for it, it
/// does not time anything), failing after `within`.
async fn wait_for(log: &Mutex<Log>, within: Duration, what: &str, done: impl Fn(&Log) -> bool) {
    let deadline = Instant::now() + within;
    loop {
        if done(&log.lock().unwrap()) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn acks(log: &Log) -> usize {
    log.outcomes
        .iter()
        .filter(|o| o.status == StatusCode::OK)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load_fails_fast_and_recovers_without_losing_payments() {
    let cluster = Cluster::create();
    cluster.start();
    // The harness's Backend::Postgres makes a database on the shared server; this test brings
    // its own server instead and only changes the URL.
    let kosh = Arc::new(
        Kosh::start_with(Backend::Sqlite, |s| {
            s.database_url = Some(cluster.url());
            s.db_max_connections = 4;
        })
        .await,
    );
    kosh.set_clock(NOW).await;
    let payer = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
            "type": "CITIZEN", "active": true, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let payer = payer["uuid"].as_str().expect("uuid").to_string();
    let mut bills = Vec::new();
    for i in 0..BILLS {
        bills.push(bill_for(&kosh, &payer, &format!("PT-F{i:03}")).await);
    }
    let bills = Arc::new(bills);

    // The load: WORKERS clients paying bill after bill, each answer logged.
    let log = Arc::new(Mutex::new(Log::default()));
    let client = reqwest::Client::builder()
        .timeout(FAIL_FAST * 3)
        .build()
        .expect("client");
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (kosh, log, bills, client) = (
                Arc::clone(&kosh),
                Arc::clone(&log),
                Arc::clone(&bills),
                client.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let index = {
                        let mut l = log.lock().unwrap();
                        if l.stop || l.next >= bills.len() {
                            return;
                        }
                        l.next += 1;
                        l.next - 1
                    };
                    let outcome = pay(&kosh, &client, &bills[index]).await;
                    log.lock().unwrap().outcomes.push(outcome);
                }
            })
        })
        .collect();

    wait_for(&log, RECOVERY, "payments before the restart", |l| {
        acks(l) >= 5
    })
    .await;
    let acked_before = acks(&log.lock().unwrap());

    // PostgreSQL goes down under the load.
    tokio::task::block_in_place(|| cluster.stop());
    let down_at = log.lock().unwrap().outcomes.len();

    // Reads, writes and sign-ins answer 503 in DIGIT's format, quickly.
    let probes = [
        (
            "/collection-services/payments/_search?tenantId=pb.amritsar",
            json!({"RequestInfo": {"authToken": kosh.admin_token}}),
        ),
        (
            "/billing-service/bill/v2/_search?tenantId=pb.amritsar&service=PT&consumerCode=PT-F000",
            json!({"RequestInfo": {"authToken": kosh.admin_token}}),
        ),
    ];
    for (path, body) in probes {
        let started = Instant::now();
        let (status, body) = kosh.post_anonymous(path, body).await;
        let took = started.elapsed();
        assert_database_unavailable(&Outcome {
            code: path.into(),
            status,
            body,
            took,
        });
        assert!(
            took < FAIL_FAST,
            "{path} took {took:?} while the database was down"
        );
    }
    let started = Instant::now();
    let (status, body) = kosh
        .login(
            kosh_blackbox::ADMIN,
            kosh_blackbox::ADMIN_PASSWORD,
            "pb",
            "EMPLOYEE",
        )
        .await;
    assert_database_unavailable(&Outcome {
        code: "login".into(),
        status,
        body,
        took: started.elapsed(),
    });
    let (status, body) = kosh.get("/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // The load sees the outage too.
    wait_for(&log, RECOVERY, "the load to meet the outage", |l| {
        l.outcomes[down_at..]
            .iter()
            .any(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
    })
    .await;

    // PostgreSQL comes back; kosh serves again by itself.
    tokio::task::block_in_place(|| cluster.start());
    let back = Instant::now();
    loop {
        let (status, body) = kosh.get("/ready").await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < RECOVERY,
            "kosh did not recover: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in = back.elapsed();
    let after = log.lock().unwrap().outcomes.len();
    wait_for(&log, RECOVERY, "payments after the restart", |l| {
        l.outcomes[after..]
            .iter()
            .filter(|o| o.status == StatusCode::OK)
            .count()
            >= 3
    })
    .await;
    log.lock().unwrap().stop = true;
    for w in workers {
        w.await.expect("worker");
    }

    // Every answer was an acknowledgement or a quick DIGIT 503.
    let outcomes = log.lock().unwrap().outcomes.clone();
    let mut unavailable = 0;
    for o in &outcomes {
        if o.status == StatusCode::OK {
            continue;
        }
        assert_database_unavailable(o);
        assert!(o.took < FAIL_FAST, "{} took {:?}", o.code, o.took);
        unavailable += 1;
    }
    assert!(unavailable >= 1);
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
    eprintln!(
        "faults_postgres: {} payments answered, {} acknowledged before the stop, {unavailable} \
         answered 503, slowest answer {slowest:?}, ready again {recovered_in:?} after pg_ctl start",
        outcomes.len(),
        acked_before
    );

    // Every acknowledged receipt is there; a 503'd payment resent with its key pays once.
    let plain = reqwest::Client::new();
    for o in &outcomes {
        let bill = bills
            .iter()
            .find(|b| b["consumerCode"] == o.code.as_str())
            .expect("bill");
        if o.status == StatusCode::OK {
            let receipt = o.body["Payments"][0]["paymentDetails"][0]["receiptNumber"]
                .as_str()
                .unwrap_or_else(|| panic!("no receipt in {}", o.body))
                .to_string();
            let stored: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM egcl_paymentdetail WHERE tenant_id = $1 AND receipt_number = $2",
            )
            .bind(TENANT)
            .bind(receipt.clone())
            .fetch_one(kosh.state().db.pool())
            .await
            .expect("count");
            assert_eq!(
                stored, 1,
                "acknowledged receipt {receipt} of {} is lost",
                o.code
            );
        } else {
            let again = pay(&kosh, &plain, bill).await;
            assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        }
    }
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT bill_id FROM egcl_paymentdetail WHERE tenant_id = $1 AND live = 1 \
         GROUP BY bill_id HAVING COUNT(*) > 1) t",
    )
    .bind(TENANT)
    .fetch_one(kosh.state().db.pool())
    .await
    .expect("count");
    assert_eq!(twice, 0, "a bill with two live payments");
    let paid: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT bill_id) FROM egcl_paymentdetail WHERE tenant_id = $1 AND live = 1",
    )
    .bind(TENANT)
    .fetch_one(kosh.state().db.pool())
    .await
    .expect("count");
    let attempted = outcomes
        .iter()
        .map(|o| o.code.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(
        paid as usize, attempted,
        "every bill the load tried is paid once"
    );

    Arc::into_inner(kosh).expect("workers done").stop().await;
    drop(cluster);
}
