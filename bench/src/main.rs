//! kosh-bench: loads demands, starts the release `kosh`, drives fetch-bill, CASH payments and
//! the online flow at a fixed concurrency for a fixed time, then measures the database's own
//! floor for one payment's statements (pgbench on PostgreSQL, an sqlx driver on SQLite).
//! `bench/run.sh` runs it on both databases; BENCHMARKS.md holds the results.

mod drive;
mod floor;
mod load;
mod server;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kosh_platform::Db;
use rand::Rng;
use serde::Serialize;
use serde_json::json;

use crate::drive::Stats;
use crate::server::RssSampler;
use crate::workload::{Bill, BillQueue, Ctx};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks kosh against the database's own floor")]
struct Args {
    /// Database to benchmark: postgres://... or sqlite://path (a scratch database: it is
    /// loaded with demands and written to).
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: String,
    /// kosh's data folder (its SQLite file when the URL names none, its admin password file).
    #[arg(long, env = "BENCH_DATA_DIR")]
    data_dir: PathBuf,
    /// The kosh binary to run.
    #[arg(long, env = "BENCH_KOSH", default_value = "target/release/kosh")]
    kosh: PathBuf,
    /// Demands loaded before measuring (the loader resumes after those already loaded).
    #[arg(long, env = "BENCH_DEMANDS", default_value_t = 1_000_000)]
    demands: u64,
    /// Concurrent clients in every timed phase, and of the floor.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// Seconds each timed phase runs.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 20)]
    duration: u64,
    /// Bills fetched (created) before the payment phase; each payment needs its own.
    /// Default: 1,000 per second of the phase (the phase reports it if they run out).
    #[arg(long, env = "BENCH_PAY_BILLS")]
    pay_bills: Option<u64>,
    /// Bills fetched before the online-flow phase. Default: 400 per second of the phase.
    #[arg(long, env = "BENCH_FLOW_BILLS")]
    flow_bills: Option<u64>,
    /// Skip the online flow (pg-service).
    #[arg(long, env = "BENCH_NO_FLOW")]
    no_flow: bool,
    /// Record a `perf record -a -g` profile of the machine during the payment phase into this file.
    #[arg(long, env = "BENCH_PERF_PAY")]
    perf_pay: Option<PathBuf>,
    /// Where the raw results go (JSON).
    #[arg(long, env = "BENCH_OUT")]
    out: PathBuf,
    /// A label for the results (e.g. "postgres").
    #[arg(long, env = "BENCH_LABEL", default_value = "")]
    label: String,
}

/// kosh's settings with no flags (the environment still applies), for `load_mdms`.
pub fn server_settings() -> anyhow::Result<kosh_server::cli::Settings> {
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: kosh_server::cli::Settings,
    }
    Ok(Wrapper::try_parse_from(["kosh"])?.settings)
}

#[derive(Debug, Serialize)]
struct Report {
    label: String,
    database: String,
    kosh_pid: u32,
    bench_pid: u32,
    machine: serde_json::Value,
    concurrency: usize,
    duration_s: u64,
    demands: u64,
    load: load::LoadStats,
    ready_ms: f64,
    prepare: Stats,
    phases: Vec<Stats>,
    flow_skipped: Option<String>,
    peak_rss_mib: f64,
    floor: Option<floor::FloorStats>,
    floor_error: Option<String>,
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_mib": mem_kb / 1024,
        "loadavg_at_start": load.trim(),
    })
}

/// Fetches bills for demands `range` at `concurrency` (not timed as a result; its rate is
/// reported as the cost of fetch-bill when it has to make a new bill).
async fn prepare(ctx: &Ctx, count: u64, concurrency: usize) -> anyhow::Result<(Vec<Bill>, Stats)> {
    let bar = ProgressBar::new(count);
    bar.set_style(ProgressStyle::with_template(
        "fetching bills for the payment phases {bar:40} {pos}/{len} {per_sec}",
    )?);
    let slots: Arc<Vec<std::sync::Mutex<Option<Bill>>>> =
        Arc::new((0..count).map(|_| std::sync::Mutex::new(None)).collect());
    let (c, s, b) = (ctx.clone(), slots.clone(), bar.clone());
    let stats = drive::run(
        "fetch-bill, new bill (preparation)",
        concurrency,
        Duration::from_secs(3600),
        move |_, n| {
            let (c, s, b) = (c.clone(), s.clone(), b.clone());
            async move {
                if n >= count {
                    return Ok(false);
                }
                let bill = c.fetch_bill(n).await?;
                *s[n as usize].lock().unwrap() = Some(bill);
                b.inc(1);
                Ok(true)
            }
        },
    )
    .await;
    bar.finish();
    let bills: Vec<Bill> = slots
        .iter()
        .filter_map(|m| m.lock().unwrap().take())
        .collect();
    Ok((bills, stats))
}

async fn with_rss<F: std::future::Future<Output = Stats>>(pid: u32, f: F) -> Stats {
    let sampler = RssSampler::start(pid);
    let mut stats = f.await;
    stats.peak_rss_mib = Some(sampler.finish().await);
    stats
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let machine = machine();
    let duration = Duration::from_secs(args.duration);
    let c = args.concurrency;
    let backend = if kosh_platform::db::is_sqlite(&args.database_url) {
        "sqlite"
    } else {
        "postgres"
    };
    eprintln!(
        "== kosh-bench on {backend}: {} demands, {c} clients, {} s per phase",
        args.demands, args.duration
    );

    // 1. Load.
    let db = Db::connect(&args.database_url, 4)
        .await
        .context("opening the database")?;
    db.migrate().await?;
    let load = load::load(&db, args.demands).await?;
    eprintln!(
        "loaded {} demands in {:.1} s ({:.0} demands/s, {:.0} rows/s); {} were already there",
        load.loaded, load.seconds, load.demands_per_second, load.rows_per_second, load.existing
    );
    db.pool().close().await;
    drop(db);

    // 2. Start kosh.
    let http = server::client(c)?;
    std::fs::create_dir_all(&args.data_dir)?;
    let log_file = args.data_dir.join("kosh.log");
    let kosh = server::start(
        &args.kosh,
        &args.database_url,
        &args.data_dir,
        &log_file,
        &http,
    )
    .await?;
    let ready_ms = kosh.ready_after.as_secs_f64() * 1000.0;
    eprintln!("kosh (pid {}) ready in {ready_ms:.0} ms", kosh.pid);
    let token = kosh.admin_token(&http).await?;
    let settings = server_settings()?;
    let mdms = kosh_server::load_mdms(&settings)?;
    let ctx = Ctx {
        http: http.clone(),
        base: kosh.base.clone(),
        token,
        cities: Arc::new(kosh_bench::loader::cities(&mdms)),
    };
    let flow_skipped = if args.no_flow {
        Some("turned off (--no-flow)".to_string())
    } else {
        let r = http
            .post(format!("{}/pg-service/gateway/v1/_search", ctx.base))
            .json(&json!({}))
            .send()
            .await?;
        if r.status().is_success() {
            None
        } else {
            Some(format!(
                "pg-service not present: gateway search answered {}",
                r.status()
            ))
        }
    };

    // 3. Bills for the payment phases (fetch-bill makes them; untimed preparation).
    let pay_n = args.pay_bills.unwrap_or(args.duration * 1000);
    let flow_n = if flow_skipped.is_some() {
        0
    } else {
        args.flow_bills.unwrap_or(args.duration * 400)
    };
    let want = (pay_n + flow_n).min(args.demands);
    let sampler = RssSampler::start(kosh.pid);
    let (bills, mut prepare_stats) = prepare(&ctx, want, c).await?;
    prepare_stats.peak_rss_mib = Some(sampler.finish().await);
    anyhow::ensure!(
        prepare_stats.errors == 0,
        "fetching bills failed: {:?}",
        prepare_stats.sample_errors
    );
    let fetch_pool = bills.len() as u64;
    let mut phases = Vec::new();

    // (a) fetch-bill of an existing ACTIVE bill, random over the prepared consumer codes.
    eprintln!(
        "(a) fetch-bill over {fetch_pool} existing bills for {} s",
        args.duration
    );
    let cx = ctx.clone();
    let stats = with_rss(
        kosh.pid,
        drive::run("fetch-bill (existing bill)", c, duration, move |_, _| {
            let cx = cx.clone();
            async move {
                let n = rand::rng().random_range(0..fetch_pool);
                cx.fetch_bill(n).await.map(|_| true)
            }
        }),
    )
    .await;
    eprintln!(
        "    {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {}",
        stats.per_second, stats.p50_ms, stats.p99_ms, stats.errors
    );
    phases.push(stats);

    // (b) CASH payments, one fresh bill each.
    let (pay_bills, flow_bills) = {
        let mut all = bills;
        let rest = all.split_off((pay_n as usize).min(all.len()));
        (all, rest)
    };
    eprintln!(
        "(b) payments/_create CASH over {} bills for {} s",
        pay_bills.len(),
        args.duration
    );
    let queue = Arc::new(BillQueue::new(pay_bills));
    let perf = match &args.perf_pay {
        Some(path) => Some(
            std::process::Command::new("perf")
                // The whole machine: kosh, the database and the load generator share it.
                .args([
                    "record",
                    "-e",
                    "cpu-clock",
                    "-F",
                    "199",
                    "-a",
                    "--call-graph",
                    "dwarf,8192",
                    "-o",
                ])
                .arg(path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("starting perf record")?,
        ),
        None => None,
    };
    let (cx, q) = (ctx.clone(), queue.clone());
    let stats = with_rss(
        kosh.pid,
        drive::run("payments/_create CASH", c, duration, move |_, _| {
            let (cx, q) = (cx.clone(), q.clone());
            async move {
                match q.take() {
                    Some(bill) => cx.pay_cash(bill).await.map(|_| true),
                    None => Ok(false),
                }
            }
        }),
    )
    .await;
    if let Some(child) = perf {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let _ = child.wait_with_output();
    }
    eprintln!(
        "    {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {} ({} bills used{})",
        stats.per_second,
        stats.p50_ms,
        stats.p99_ms,
        stats.errors,
        queue.used(),
        if stats.ran_out {
            ", RAN OUT of bills"
        } else {
            ""
        }
    );
    phases.push(stats);

    // (c) The online flow.
    if flow_skipped.is_none() {
        eprintln!(
            "(c) online flow over {} bills for {} s",
            flow_bills.len(),
            args.duration
        );
        let queue = Arc::new(BillQueue::new(flow_bills));
        let (cx, q) = (ctx.clone(), queue.clone());
        let stats = with_rss(
            kosh.pid,
            drive::run(
                "online flow (pg create, sandbox pay, pg update, receipt)",
                c,
                duration,
                move |_, _| {
                    let (cx, q) = (cx.clone(), q.clone());
                    async move {
                        match q.take() {
                            Some(bill) => cx.online_flow(bill).await.map(|_| true),
                            None => Ok(false),
                        }
                    }
                },
            ),
        )
        .await;
        eprintln!(
            "    {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {}{}",
            stats.per_second,
            stats.p50_ms,
            stats.p99_ms,
            stats.errors,
            if stats.ran_out {
                ", RAN OUT of bills"
            } else {
                ""
            }
        );
        phases.push(stats);
    }
    let kosh_pid = kosh.pid;
    let peak_rss_mib = server::proc_kb(kosh.pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0;
    kosh.stop().await;

    // 4. The floor.
    eprintln!("floor: one payment's statements, one transaction per payment, {c} clients");
    let started = Instant::now();
    let (floor, floor_error) =
        match floor::run(&args.database_url, c, duration, &args.data_dir).await {
            Ok(f) => {
                eprintln!(
                    "    {:.0}/s p50 {:.2} ms p99 {:.2} ms ({:.0} s)",
                    f.stats.per_second,
                    f.stats.p50_ms,
                    f.stats.p99_ms,
                    started.elapsed().as_secs_f64()
                );
                (Some(f), None)
            }
            Err(e) => {
                eprintln!("    floor failed: {e:#}");
                (None, Some(format!("{e:#}")))
            }
        };

    let report = Report {
        label: args.label.clone(),
        database: backend.to_string(),
        kosh_pid,
        bench_pid: std::process::id(),
        machine,
        concurrency: c,
        duration_s: args.duration,
        demands: args.demands,
        load,
        ready_ms,
        prepare: prepare_stats,
        phases,
        flow_skipped,
        peak_rss_mib,
        floor,
        floor_error,
    };
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;
    println!("{}", markdown(&report));
    eprintln!("raw results: {}", args.out.display());
    Ok(())
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "### {} ({} demands, {} clients, {} s per phase)\n\n\
         | operation | per second | p50 ms | p99 ms | errors | kosh peak RSS MiB | ratio to floor |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        r.database, r.demands, r.concurrency, r.duration_s
    );
    let floor = r.floor.as_ref().map(|f| f.stats.per_second);
    let mut row = |s: &Stats, ratio: Option<f64>| {
        out.push_str(&format!(
            "| {} | {:.0}{} | {:.2} | {:.2} | {} | {:.1} | {} |\n",
            s.name,
            s.per_second,
            if s.ran_out && !s.name.contains("preparation") {
                " (ran out of bills)"
            } else {
                ""
            },
            s.p50_ms,
            s.p99_ms,
            s.errors,
            s.peak_rss_mib.unwrap_or(0.0),
            ratio.map(|x| format!("{x:.2}")).unwrap_or("-".into())
        ));
    };
    row(&r.prepare, None);
    for s in &r.phases {
        let ratio = if s.name.starts_with("payments") {
            floor.map(|f| s.per_second / f)
        } else {
            None
        };
        row(s, ratio);
    }
    if let Some(f) = &r.floor {
        row(&f.stats, Some(1.0));
    }
    if let Some(reason) = &r.flow_skipped {
        out.push_str(&format!(
            "| online flow | not measured: {reason} | | | | | |\n"
        ));
    }
    out.push_str(&format!(
        "\nload: {} demands in {:.1} s ({:.0} demands/s, {:.0} rows/s; {} already there); \
         ready in {:.0} ms; kosh peak RSS (VmHWM) {:.1} MiB\n",
        r.load.loaded,
        r.load.seconds,
        r.load.demands_per_second,
        r.load.rows_per_second,
        r.load.existing,
        r.ready_ms,
        r.peak_rss_mib
    ));
    if let Some(e) = &r.floor_error {
        out.push_str(&format!("\nfloor not measured: {e}\n"));
    }
    out
}
