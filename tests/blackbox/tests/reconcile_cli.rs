//! `kosh reconcile --now`: the built `kosh` binary runs one reconciliation pass against a
//! serving kosh's database (SQLite and PostgreSQL) and gateways (PHONEPE's simulator), prints
//! one line per transaction and a summary, settles as the job does (a receipt for the
//! success), and exits non-zero when the database cannot be opened or a pass elsewhere holds
//! the job. `--help` lists only the settings it uses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_pg::sim::{GatewaySim, SimGateway, SimOutcome, creds};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(one_pass_from_the_command_line);

/// 2019-06-15 10:00 IST: the transactions are years old to the command's system clock, so
/// every PENDING one is due.
const NOW: i64 = 1_560_573_000_000;
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const TENANT: &str = "pb.amritsar";
const MOBILE: &str = "9876543210";
const PASSWORD: &str = "Secret@123";

/// The `kosh` binary of this workspace, built (or brought up to date) by cargo first.
fn kosh_binary() -> PathBuf {
    if let Ok(path) = std::env::var("KOSH_BIN") {
        return PathBuf::from(path);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "kosh-server", "--bin", "kosh"])
        .current_dir(manifest)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the kosh binary failed");
    // target/<profile>/deps/<this test> -> target/<profile>/kosh
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile folder");
    let bin = profile_dir.join(format!("kosh{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// Runs `kosh reconcile` with `args`, with no KOSH_* setting inherited from the test's
/// environment.
fn run(bin: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("KOSH_") {
            command.env_remove(key);
        }
    }
    command
        .arg("reconcile")
        .args(args)
        .output()
        .expect("kosh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn bill(kosh: &Kosh, payer: &str, code: &str, rupees: i64) -> Value {
    let (status, body) = kosh
        .post(
            "/billing-service/demand/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Demands": [{
                "tenantId": TENANT, "consumerCode": code, "consumerType": "BUILTUP",
                "businessService": "PT", "payer": {"uuid": payer},
                "taxPeriodFrom": PT_FROM, "taxPeriodTo": PT_TO, "minimumAmountPayable": 0,
                "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": rupees, "collectionAmount": 0}]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = kosh
        .post(
            &format!(
                "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService=PT&consumerCode={code}"
            ),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

async fn create(kosh: &Kosh, token: &str, bill: &Value) -> String {
    let (status, body) = kosh
        .post_as(
            token,
            "/pg-service/transaction/v1/_create",
            json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
                "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": "PT",
                "billId": bill["id"], "consumerCode": bill["consumerCode"],
                "productInfo": "Property Tax Payment", "gateway": "PHONEPE",
                "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
                "user": {"name": "Asha", "mobileNumber": MOBILE, "tenantId": "pb"},
                "callbackUrl": "https://ui.example/citizen/payment/success"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Transaction"]["txnId"]
        .as_str()
        .expect("txnId")
        .to_string()
}

async fn txn(kosh: &Kosh, txn_id: &str) -> Value {
    let (status, body) = kosh
        .post(
            &format!("/pg-service/transaction/v1/_search?txnId={txn_id}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Transaction"][0].clone()
}

async fn one_pass_from_the_command_line(backend: Backend) {
    let bin = kosh_binary();
    let sim = GatewaySim::start().await.expect("simulator");
    let dir = std::env::temp_dir().join(format!(
        "kosh-reconcile-cli-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let gateways = dir.join("gateways.json");
    std::fs::write(
        &gateways,
        json!({"timeout_ms": 2000, "phonepe": {
            "merchant_id": creds::PHONEPE_MERCHANT, "salt_key": creds::PHONEPE_SALT,
            "salt_index": creds::PHONEPE_SALT_INDEX,
            "base_url": format!("{}/phonepe", sim.base_url())}})
        .to_string(),
    )
    .unwrap();
    let file = gateways.clone();
    let kosh = Kosh::start_with(backend, move |s| {
        s.pg_gateways_file = Some(file);
        s.pg_reconcile_every_seconds = 0;
    })
    .await;
    kosh.set_clock(NOW).await;
    let user = kosh
        .create_user(
            json!({"userName": MOBILE, "name": "Asha", "mobileNumber": MOBILE,
            "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
        )
        .await;
    let payer = user["uuid"].as_str().expect("uuid").to_string();
    let token = kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await;
    let paid = create(&kosh, &token, &bill(&kosh, &payer, "PT-901-001", 500).await).await;
    let declined = create(&kosh, &token, &bill(&kosh, &payer, "PT-901-002", 300).await).await;
    let waiting = create(&kosh, &token, &bill(&kosh, &payer, "PT-901-003", 200).await).await;
    // The payers' callbacks never came; PhonePe knows how each payment ended.
    assert!(sim.set_outcome(SimGateway::Phonepe, &paid, SimOutcome::Success));
    assert!(sim.set_outcome(SimGateway::Phonepe, &declined, SimOutcome::Failure));
    assert!(sim.set_outcome(SimGateway::Phonepe, &waiting, SimOutcome::Pending));

    let settings = kosh.settings().clone();
    let data_dir = settings.data_dir.display().to_string();
    let database_url = settings.database_url();
    let gateways_file = gateways.display().to_string();
    let common = [
        "--data-dir",
        &data_dir,
        "--database-url",
        &database_url,
        "--pg-gateways-file",
        &gateways_file,
    ];

    // One pass: a line per transaction and the summary; exit status 0.
    let mut args = vec!["--now"];
    args.extend_from_slice(&common);
    let out = run(&bin, &args);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let line_of = |id: &str| {
        lines
            .iter()
            .find(|l| l.split(' ').nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}: {stdout}"))
            .to_string()
    };
    let settled = txn(&kosh, &paid).await;
    assert_eq!(settled["txnStatus"], "SUCCESS", "{settled}");
    let receipt = settled["receipt"].as_str().expect("receipt").to_string();
    assert!(
        line_of(&paid).starts_with(&format!(
            "settled {paid} {TENANT} PHONEPE SUCCESS 500.00 receipt {receipt}"
        )),
        "{stdout}"
    );
    assert!(
        line_of(&declined).starts_with(&format!(
            "settled {declined} {TENANT} PHONEPE FAILURE 300.00"
        )),
        "{stdout}"
    );
    assert!(
        line_of(&waiting).starts_with(&format!(
            "pending {waiting} {TENANT} PHONEPE PENDING 200.00"
        )),
        "{stdout}"
    );
    assert_eq!(
        lines[3],
        "reconciliation: examined 3, settled 2 (succeeded 1, failed 1), still pending 1 (closed 0), errors 0"
    );
    assert_eq!(txn(&kosh, &declined).await["txnStatus"], "FAILURE");
    assert_eq!(txn(&kosh, &waiting).await["txnStatus"], "PENDING");
    assert_eq!(sim.status_calls(SimGateway::Phonepe), 3);

    // The transaction just asked about is not asked again at once.
    let out = run(&bin, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "reconciliation: examined 0, settled 0 (succeeded 0, failed 0), still pending 0 (closed 0), errors 0\n"
    );
    assert_eq!(sim.status_calls(SimGateway::Phonepe), 3);

    // A pass that holds the job elsewhere: non-zero once the wait is over, nothing asked.
    let db = &kosh.state().db;
    assert!(
        kosh_pg::reconcile::try_lease(db, kosh_pg::reconcile::JOB_NAME, "elsewhere")
            .await
            .unwrap()
    );
    let mut busy = args.clone();
    busy.extend_from_slice(&["--wait-seconds", "0"]);
    let out = run(&bin, &busy);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("RECONCILIATION_BUSY"),
        "{}",
        text(&out.stderr)
    );
    kosh_pg::reconcile::release(db, kosh_pg::reconcile::JOB_NAME, "elsewhere")
        .await
        .unwrap();

    // A database that cannot be opened: non-zero, and said so.
    let unreachable = match backend {
        Backend::Sqlite => "sqlite:///dev/null/kosh.db".to_string(),
        Backend::Postgres => "postgres://kosh@127.0.0.1:1/kosh".to_string(),
    };
    let out = run(
        &bin,
        &[
            "--now",
            "--data-dir",
            &data_dir,
            "--database-url",
            &unreachable,
            "--pg-gateways-file",
            &gateways_file,
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("opening database"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    // Without --now it runs nothing.
    let out = run(&bin, &common);
    assert!(!out.status.success());

    // --help names the settings the pass uses, and no server-only ones.
    let out = run(&bin, &["--help"]);
    let help = text(&out.stdout);
    assert!(out.status.success());
    for used in [
        "--now",
        "--database-url",
        "--data-dir",
        "--pg-gateways-file",
        "--pg-reconcile-after-minutes",
        "--pii-keys",
    ] {
        assert!(help.contains(used), "{used} missing from:\n{help}");
    }
    for unused in [
        "--admin-password",
        "--max-body-bytes",
        "--bill-cache-seconds",
        "--bbps-signing-key",
        "--access-token-minutes",
        "--pg-reconcile-every-seconds",
        "--clock",
    ] {
        assert!(!help.contains(unused), "{unused} in:\n{help}");
    }
    kosh.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
