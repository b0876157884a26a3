//! kosh-bench: loads demands and makes their bills (in-process, with kosh's own fetch-bill),
//! starts the release `kosh`, and drives each hot path at a fixed concurrency for a fixed
//! time: fetch-bill at random over every bill (first at a small size, then at the full one,
//! for the scaling ratio), bill making, CASH payments, the online flow and demand `_create`
//! in large calls; then measures the database's own floor for a payment's writes.
//! `bench/run.sh` runs it on both databases; BENCHMARKS.md holds the results.

mod drive;
mod floor;
mod load;
mod perf;
mod report;
mod server;
mod workload;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kosh_mdms::Mdms;
use kosh_platform::Db;
use rand::Rng;
use serde_json::json;

use crate::drive::Stats;
use crate::load::LoadStats;
use crate::report::{Report, Scaling};
use crate::server::{Kosh, RssSampler};
use crate::workload::{Bill, BillQueue, Ctx};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks kosh against the database's own floor")]
struct Args {
    /// Database to benchmark: postgres://... or sqlite://path (a scratch database: it is
    /// loaded with demands and bills and written to).
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: String,
    /// kosh's data folder (its admin password file, its personal-data key file).
    #[arg(long, env = "BENCH_DATA_DIR")]
    data_dir: PathBuf,
    /// The kosh binary to run.
    #[arg(long, env = "BENCH_KOSH", default_value = "target/release/kosh")]
    kosh: PathBuf,
    /// Bills made before measuring (one per loaded demand; the load resumes after those
    /// already there). fetch-bill picks among all of them.
    #[arg(long, env = "BENCH_BILLS", default_value_t = 1_000_000)]
    bills: u64,
    /// fetch-bill is first measured with this many bills, for the scaling ratio (0: not).
    #[arg(long, env = "BENCH_SCALE_BILLS", default_value_t = 10_000)]
    scale_bills: u64,
    /// Bills made by kosh's own fetch-bill in-process; the rest are copied from them,
    /// set-based (see `kosh_bench::bills`). At least 3 × the cities (21).
    #[arg(long, env = "BENCH_TYPED_BILLS", default_value_t = 10_000)]
    typed_bills: u64,
    /// Demands without a bill, loaded for the bill-making phase. Default: 2,500 per second
    /// of the phase (the phase reports it if they run out).
    #[arg(long, env = "BENCH_MAKE_DEMANDS")]
    make_demands: Option<u64>,
    /// Clients of the bill-making phase.
    #[arg(long, env = "BENCH_MAKE_CONCURRENCY", default_value_t = 8)]
    make_concurrency: usize,
    /// Demands in each demand `_create` call.
    #[arg(long, env = "BENCH_DEMAND_BATCH", default_value_t = 500)]
    demand_batch: u64,
    /// Clients of the demand `_create` phase.
    #[arg(long, env = "BENCH_DEMAND_CONCURRENCY", default_value_t = 8)]
    demand_concurrency: usize,
    /// Concurrent clients in the fetch-bill, payment and online-flow phases, and of the floor.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// Seconds each timed phase runs.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 20)]
    duration: u64,
    /// Bills taken for the payment phase; each payment needs its own. Default: 3,000 per
    /// second of the phase (the phase reports it if they run out).
    #[arg(long, env = "BENCH_PAY_BILLS")]
    pay_bills: Option<u64>,
    /// Bills taken for the online-flow phase. Default: 1,200 per second of the phase.
    #[arg(long, env = "BENCH_FLOW_BILLS")]
    flow_bills: Option<u64>,
    /// Skip the online flow (pg-service).
    #[arg(long, env = "BENCH_NO_FLOW")]
    no_flow: bool,
    /// Record a whole-machine `perf record` of every timed phase into this folder.
    #[arg(long, env = "BENCH_PERF_DIR")]
    perf_dir: Option<PathBuf>,
    /// Where the raw results go (JSON).
    #[arg(long, env = "BENCH_OUT")]
    out: PathBuf,
    /// A label for the results (e.g. "postgres").
    #[arg(long, env = "BENCH_LABEL", default_value = "")]
    label: String,
    /// The phases to run, comma-separated, of fetch, make, pay, flow, demands and floor
    /// (all by default). The scaling phase runs with fetch. One phase alone is how a change
    /// to it is measured without the minutes the others take.
    #[arg(
        long,
        env = "BENCH_PHASES",
        value_delimiter = ',',
        default_value = "fetch,make,pay,flow,demands,floor"
    )]
    phases: Vec<String>,
}

impl Args {
    fn runs(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p.trim() == phase)
    }
}

/// kosh's settings for `database_url` and `data_dir` (the environment supplies the rest), as
/// `kosh serve` will read them: the bench opens the database as kosh does, with the same
/// personal-data keys.
fn kosh_settings(
    database_url: &str,
    data_dir: &Path,
) -> anyhow::Result<kosh_server::cli::Settings> {
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: kosh_server::cli::Settings,
    }
    let data_dir = data_dir.to_str().context("data folder is not UTF-8")?;
    Ok(Wrapper::try_parse_from([
        "kosh",
        "--database-url",
        database_url,
        "--data-dir",
        data_dir,
    ])?
    .settings)
}

/// The machine, and how busy it is now.
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
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_mib": mem_kb / 1024,
        "loadavg_at_start": loadavg(),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// One timed phase against `kosh`: its peak RSS sampled, and its profile recorded when
/// asked.
async fn phase<F: Future<Output = Stats>>(
    args: &Args,
    kosh: &Kosh,
    slug: &str,
    run: F,
) -> anyhow::Result<Stats> {
    let label = if args.label.is_empty() {
        "run"
    } else {
        &args.label
    };
    let recording = match &args.perf_dir {
        Some(dir) => Some(perf::Recording::start(
            &dir.join(format!("{label}-{slug}.perf.data")),
        )?),
        None => None,
    };
    let sampler = RssSampler::start(kosh.pid);
    let mut stats = run.await;
    stats.peak_rss_mib = Some(sampler.finish().await);
    stats.kosh_pid = Some(kosh.pid);
    if let Some(r) = recording {
        stats.perf_data = Some(r.stop().display().to_string());
    }
    eprintln!(
        "    {:.0}/s{} p50 {:.2} ms p99 {:.2} ms errors {}{} peak RSS {:.1} MiB",
        stats.per_second,
        stats
            .items_per_second
            .map(|x| format!(" ({x:.0} items/s)"))
            .unwrap_or_default(),
        stats.p50_ms,
        stats.p99_ms,
        stats.errors,
        if stats.ran_out { ", RAN OUT" } else { "" },
        stats.peak_rss_mib.unwrap_or(0.0)
    );
    for e in stats.sample_errors.iter().take(2) {
        eprintln!("    error: {e}");
    }
    Ok(stats)
}

/// A started kosh with an administrator's session: what the phases send requests through.
async fn start_kosh(
    args: &Args,
    mdms: &Mdms,
    http: &reqwest::Client,
    log_name: &str,
) -> anyhow::Result<(Kosh, Ctx)> {
    let log_file = args.data_dir.join(log_name);
    let kosh = server::start(
        &args.kosh,
        &args.database_url,
        &args.data_dir,
        &log_file,
        http,
    )
    .await?;
    eprintln!(
        "kosh (pid {}) ready in {:.0} ms",
        kosh.pid,
        kosh.ready_after.as_secs_f64() * 1000.0
    );
    let token = kosh.admin_token(http).await?;
    let cities = kosh_bench::loader::cities(mdms);
    let periods = kosh_bench::loader::first_periods(mdms, &cities[0])
        .map_err(|e| anyhow::anyhow!("tax periods: {e:?}"))?;
    let ctx = Ctx {
        http: http.clone(),
        base: kosh.base.clone(),
        token,
        cities: Arc::new(cities),
        periods: Arc::new(periods),
    };
    Ok((kosh, ctx))
}

/// fetch-bill of existing bills, consumer codes uniformly at random over demands `0..bills`
/// (every one has its bill).
async fn fetch_existing(args: &Args, kosh: &Kosh, ctx: &Ctx, bills: u64) -> anyhow::Result<Stats> {
    let cx = ctx.clone();
    phase(
        args,
        kosh,
        &format!("fetch-{bills}"),
        drive::run(
            &format!("fetch-bill (existing bill, random over {bills})"),
            args.concurrency,
            Duration::from_secs(args.duration),
            move |_, _| {
                let cx = cx.clone();
                async move {
                    let n = rand::rng().random_range(0..bills);
                    cx.fetch_bill(n).await.map(|_| true)
                }
            },
        ),
    )
    .await
}

/// Fetches the existing bills of demands `0..count` (untimed as a result: the payment
/// phases need each bill's id and amount).
async fn take_bills(
    ctx: &Ctx,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<(Vec<Bill>, Stats)> {
    let bar = ProgressBar::new(count);
    bar.set_style(ProgressStyle::with_template(
        "fetching the bills the payment phases pay {bar:40} {pos}/{len} {per_sec}",
    )?);
    let slots: Arc<Vec<std::sync::Mutex<Option<Bill>>>> =
        Arc::new((0..count).map(|_| std::sync::Mutex::new(None)).collect());
    let (c, s, b) = (ctx.clone(), slots.clone(), bar.clone());
    let stats = drive::run(
        "fetch-bill (existing bills for the payment phases; preparation)",
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
    // Its workers stop when every bill is fetched: the end of the work, not a shortage.
    let mut stats = stats;
    stats.ran_out = false;
    anyhow::ensure!(
        stats.errors == 0,
        "fetching bills failed: {:?}",
        stats.sample_errors
    );
    let bills = slots
        .iter()
        .filter_map(|m| m.lock().unwrap().take())
        .collect();
    Ok((bills, stats))
}

/// Demands and bills up to the given counts, then fresh statistics.
async fn fill(
    args: &Args,
    mdms: &Mdms,
    demands: u64,
    bills: u64,
    loads: &mut Vec<LoadStats>,
) -> anyhow::Result<()> {
    let settings = kosh_settings(&args.database_url, &args.data_dir)?;
    let db: Db = kosh_server::open_database(&settings)
        .await
        .context("opening the database")?;
    let mut steps = vec![load::demands(&db, mdms, demands).await?];
    steps.extend(load::bills(&db, mdms, bills, args.typed_bills).await?);
    steps.push(load::analyze(&db).await?);
    for step in steps {
        eprintln!(
            "{}: {} in {:.1} s ({:.0}/s; {} were already there)",
            step.what, step.loaded, step.seconds, step.per_second, step.existing
        );
        loads.push(step);
    }
    db.pool().close().await;
    Ok(())
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
    let make_n = args.make_demands.unwrap_or(args.duration * 2_500);
    eprintln!(
        "== kosh-bench on {backend}: {} bills (+{make_n} demands to bill), {c} clients, {} s per phase",
        args.bills, args.duration
    );
    std::fs::create_dir_all(&args.data_dir)?;
    let settings = kosh_settings(&args.database_url, &args.data_dir)?;
    let mdms = kosh_server::load_mdms(&settings)?;
    let http = server::client(c)?;
    let mut loads = Vec::new();

    // 1. The scaling phase's small size: fetch-bill over the first bills only.
    let scale_small = if args.runs("fetch") && args.scale_bills > 0 && args.scale_bills < args.bills
    {
        fill(&args, &mdms, args.scale_bills, args.scale_bills, &mut loads).await?;
        let (kosh, ctx) = start_kosh(&args, &mdms, &http, "kosh-small.log").await?;
        eprintln!(
            "(scaling) fetch-bill over {} bills for {} s",
            args.scale_bills, args.duration
        );
        let stats = fetch_existing(&args, &kosh, &ctx, args.scale_bills).await?;
        let ready_ms = kosh.ready_after.as_secs_f64() * 1000.0;
        kosh.stop().await;
        Some((stats, ready_ms))
    } else {
        None
    };

    // 2. The full size: every bill, and demands without one for the bill-making phase.
    fill(&args, &mdms, args.bills + make_n, args.bills, &mut loads).await?;
    let (kosh, ctx) = start_kosh(&args, &mdms, &http, "kosh.log").await?;
    let ready_ms = kosh.ready_after.as_secs_f64() * 1000.0;
    let flow_skipped = if args.no_flow || !args.runs("flow") {
        Some("turned off (--no-flow or BENCH_PHASES)".to_string())
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
    let mut phases = Vec::new();

    // (a) fetch-bill of an existing ACTIVE bill, uniformly at random over all of them.
    if args.runs("fetch") {
        eprintln!(
            "(a) fetch-bill over {} existing bills for {} s",
            args.bills, args.duration
        );
        phases.push(fetch_existing(&args, &kosh, &ctx, args.bills).await?);
    }

    if args.runs("make") {
        // (b) Bill making: the first fetch of a demand that has no bill yet.
        eprintln!(
            "(b) bill making (first fetch-bill) over {make_n} demands, {} clients, {} s",
            args.make_concurrency, args.duration
        );
        let (cx, first, end) = (ctx.clone(), args.bills, args.bills + make_n);
        let next = Arc::new(AtomicU64::new(first));
        phases.push(
            phase(
                &args,
                &kosh,
                "make",
                drive::run(
                    "bill making (first fetch-bill)",
                    args.make_concurrency,
                    duration,
                    move |_, _| {
                        let (cx, next) = (cx.clone(), next.clone());
                        async move {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            if n >= end {
                                return Ok(false);
                            }
                            cx.fetch_bill(n).await.map(|_| true)
                        }
                    },
                ),
            )
            .await?,
        );
    }

    // Bills for the payment phases: existing ones, fetched (untimed).
    let pay_n = if args.runs("pay") {
        args.pay_bills.unwrap_or(args.duration * 3_000)
    } else {
        0
    };
    let flow_n = if flow_skipped.is_some() {
        0
    } else {
        args.flow_bills.unwrap_or(args.duration * 1_200)
    };
    let want = (pay_n + flow_n).min(args.bills);
    let (bills, prepare) = take_bills(&ctx, want, c).await?;
    let (pay_bills, flow_bills) = {
        let mut all = bills;
        let rest = all.split_off((pay_n as usize).min(all.len()));
        (all, rest)
    };

    if args.runs("pay") {
        // (c) CASH payments, one bill each.
        eprintln!(
            "(c) payments/_create CASH over {} bills for {} s",
            pay_bills.len(),
            args.duration
        );
        let queue = Arc::new(BillQueue::new(pay_bills));
        let (cx, q) = (ctx.clone(), queue.clone());
        phases.push(
            phase(
                &args,
                &kosh,
                "pay",
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
            .await?,
        );
    }

    // (d) The online flow.
    if flow_skipped.is_none() {
        eprintln!(
            "(d) online flow over {} bills for {} s",
            flow_bills.len(),
            args.duration
        );
        let queue = Arc::new(BillQueue::new(flow_bills));
        let (cx, q) = (ctx.clone(), queue.clone());
        phases.push(
            phase(
                &args,
                &kosh,
                "flow",
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
            .await?,
        );
    }

    if args.runs("demands") {
        // (e) demand _create through the API, many demands per call.
        let batch = args.demand_batch;
        eprintln!(
            "(e) demand _create in calls of {batch}, {} clients, {} s",
            args.demand_concurrency, args.duration
        );
        let cx = ctx.clone();
        let mut stats = phase(
            &args,
            &kosh,
            "demands",
            drive::run(
                &format!("demand _create (calls of {batch})"),
                args.demand_concurrency,
                duration,
                move |_, call| {
                    let cx = cx.clone();
                    async move { cx.create_demands(call, batch).await.map(|_| true) }
                },
            ),
        )
        .await?;
        stats.items_per_second = Some(stats.per_second * batch as f64);
        phases.push(stats);
    }

    let kosh_pid = kosh.pid;
    let peak_rss_mib = server::proc_kb(kosh.pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0;
    kosh.stop().await;

    // 3. The floor.
    let started = Instant::now();
    let (floor, floor_error) = if !args.runs("floor") {
        (None, Some("not run (BENCH_PHASES)".to_string()))
    } else {
        eprintln!("floor: a payment's six writes, one transaction each, {c} clients");
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
        }
    };

    let scaling = scale_small.map(|(small, small_ready_ms)| {
        let large = phases[0].per_second;
        Scaling::new(args.scale_bills, small, small_ready_ms, args.bills, large)
    });
    let report = Report {
        label: args.label.clone(),
        database: backend.to_string(),
        kosh_pid,
        bench_pid: std::process::id(),
        machine,
        loadavg_at_end: loadavg(),
        concurrency: c,
        duration_s: args.duration,
        bills: args.bills,
        loads,
        ready_ms,
        scaling,
        prepare,
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
    println!("{}", report.markdown());
    eprintln!("raw results: {}", args.out.display());
    Ok(())
}
