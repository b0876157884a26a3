//! A closed-loop load generator: `concurrency` workers, each sending its next request as soon
//! as the previous one is answered, for a fixed time. Latencies go into an HDR histogram in
//! microseconds; a request counts as an error when the operation says so (wrong status or
//! body), and the first few error messages are kept for the report.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Mutex;

/// What one timed phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub name: String,
    pub concurrency: usize,
    /// Wall time from the first request to the last answer, in seconds.
    pub seconds: f64,
    pub ok: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Whether the phase stopped early because its prepared work (bills) ran out.
    pub ran_out: bool,
    pub sample_errors: Vec<String>,
    /// Peak resident memory of the kosh process sampled during the phase, in MiB.
    pub peak_rss_mib: Option<f64>,
    /// Work items per second when one operation carries many (demands per call).
    pub items_per_second: Option<f64>,
    /// The kosh process measured, and the whole-machine profile of the phase, if recorded.
    pub kosh_pid: Option<u32>,
    pub perf_data: Option<String>,
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

impl Stats {
    pub fn from_histogram(
        name: &str,
        concurrency: usize,
        seconds: f64,
        hist: &Histogram<u64>,
        errors: u64,
        ran_out: bool,
        sample_errors: Vec<String>,
    ) -> Stats {
        let ms = |us: u64| us as f64 / 1000.0;
        let ok = hist.len();
        Stats {
            name: name.to_string(),
            concurrency,
            seconds,
            ok,
            errors,
            per_second: if seconds > 0.0 {
                ok as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(hist.value_at_quantile(0.50)),
            p90_ms: ms(hist.value_at_quantile(0.90)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
            mean_ms: hist.mean() / 1000.0,
            ran_out,
            sample_errors,
            peak_rss_mib: None,
            items_per_second: None,
            kosh_pid: None,
            perf_data: None,
        }
    }
}

/// The outcome of one operation: `Ok(true)` done, `Ok(false)` no more work (the worker stops),
/// `Err` a failed request.
pub type OpResult = Result<bool, String>;

/// Runs `op(worker, seq)` from `concurrency` workers until `duration` has passed or every
/// worker has run out of work. `seq` is a global sequence number, unique per call.
pub async fn run<F, Fut>(name: &str, concurrency: usize, duration: Duration, op: F) -> Stats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = OpResult> + Send,
{
    let op = Arc::new(op);
    let seq = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::<String>::new()));
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::new();
    for worker in 0..concurrency {
        let (op, seq, errors, samples) = (op.clone(), seq.clone(), errors.clone(), samples.clone());
        handles.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let mut ran_out = false;
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match op(worker, n).await {
                    Ok(true) => {
                        let us = t.elapsed().as_micros().max(1) as u64;
                        hist.record(us.min(60_000_000)).ok();
                    }
                    Ok(false) => {
                        ran_out = true;
                        break;
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut s = samples.lock().await;
                        if s.len() < 5 {
                            s.push(e);
                        }
                    }
                }
            }
            (hist, ran_out, Instant::now())
        }));
    }
    let mut hist = new_histogram();
    let mut ran_out = false;
    let mut last = start;
    for h in handles {
        let (h, out, end) = h.await.expect("load worker panicked");
        hist.add(&h).expect("histogram merge");
        ran_out |= out;
        last = last.max(end);
    }
    let seconds = (last - start).as_secs_f64();
    let sample_errors = samples.lock().await.clone();
    Stats::from_histogram(
        name,
        concurrency,
        seconds,
        &hist,
        errors.load(Ordering::Relaxed),
        ran_out,
        sample_errors,
    )
}
