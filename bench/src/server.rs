//! The kosh process under test: started from the release binary on a free port, waited for
//! until `/ready` answers, signed into as the administrator, and watched for its memory.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::process::{Child, Command};

pub const ADMIN_PASSWORD: &str = "Bench@2026kosh";

pub struct Kosh {
    pub child: Child,
    pub pid: u32,
    pub base: String,
    pub ready_after: Duration,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency * 2)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Starts `binary serve` against `database_url`, logging to `log_file`, and waits for `/ready`.
pub async fn start(
    binary: &Path,
    database_url: &str,
    data_dir: &Path,
    log_file: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Kosh> {
    if !binary.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p kosh-server`",
            binary.display()
        );
    }
    let port = free_port()?;
    let log = std::fs::File::create(log_file)
        .with_context(|| format!("creating {}", log_file.display()))?;
    let started = Instant::now();
    let child = Command::new(binary)
        .arg("serve")
        .env("KOSH_LISTEN", format!("127.0.0.1:{port}"))
        .env("KOSH_DATABASE_URL", database_url)
        .env("KOSH_DATA_DIR", data_dir)
        .env("KOSH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env(
            "KOSH_LOG",
            std::env::var("BENCH_KOSH_LOG").unwrap_or("warn".into()),
        )
        .env("KOSH_PG_RECONCILE_EVERY_SECONDS", "0")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().context("kosh exited at once")?;
    let base = format!("http://127.0.0.1:{port}");
    let mut kosh = Kosh {
        child,
        pid,
        base,
        ready_after: Duration::ZERO,
    };
    loop {
        if let Ok(r) = http.get(format!("{}/ready", kosh.base)).send().await
            && r.status().is_success()
        {
            kosh.ready_after = started.elapsed();
            return Ok(kosh);
        }
        if let Some(status) = kosh.child.try_wait()? {
            bail!(
                "kosh exited with {status} before it was ready; see {}",
                log_file.display()
            );
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("kosh was not ready within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl Kosh {
    /// Signs in as the administrator and returns the access token.
    pub async fn admin_token(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let r = http
            .post(format!("{}/user/oauth/token", self.base))
            .header("Authorization", "Basic ZWdvdi11c2VyLWNsaWVudDo=")
            .form(&[
                ("grant_type", "password"),
                ("scope", "read"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("tenantId", "pb"),
                ("userType", "EMPLOYEE"),
            ])
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        body["access_token"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("login answered {status}: {body}"))
    }

    /// Stops kosh (SIGTERM, then kill after 10 s).
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A field of /proc/<pid>/status in kB (VmRSS, VmHWM).
pub fn proc_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Samples a process's VmRSS every 50 ms, keeping the maximum, until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak_kb: Arc<AtomicU64>,
    handle: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kb = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak_kb.clone());
        let handle = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(kb) = proc_kb(pid, "VmRSS:") {
                    p.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        RssSampler {
            stop,
            peak_kb,
            handle,
        }
    }

    /// Stops sampling and returns the peak in MiB.
    pub async fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.await;
        self.peak_kb.load(Ordering::Relaxed) as f64 / 1024.0
    }
}
