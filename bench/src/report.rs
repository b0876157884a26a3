//! One database's results: the raw JSON, and a Markdown table that sets each figure beside
//! issue 17's target for it and says whether it was met.

use serde::Serialize;

use crate::drive::Stats;
use crate::floor::FloorStats;
use crate::load::LoadStats;

/// fetch-bill's rate at a small and at the full number of bills.
#[derive(Debug, Serialize)]
pub struct Scaling {
    pub small_bills: u64,
    pub small: Stats,
    pub small_ready_ms: f64,
    pub large_bills: u64,
    pub large_per_second: f64,
    /// large / small.
    pub ratio: f64,
}

/// The most fetch-bill's rate may fall from the small size to the full one.
const MAX_FALL: f64 = 0.20;

impl Scaling {
    pub fn new(
        small_bills: u64,
        small: Stats,
        small_ready_ms: f64,
        large_bills: u64,
        large_per_second: f64,
    ) -> Scaling {
        let ratio = if small.per_second > 0.0 {
            large_per_second / small.per_second
        } else {
            0.0
        };
        Scaling {
            small_bills,
            small,
            small_ready_ms,
            large_bills,
            large_per_second,
            ratio,
        }
    }

    pub fn holds(&self) -> bool {
        self.ratio >= 1.0 - MAX_FALL
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub label: String,
    pub database: String,
    pub kosh_pid: u32,
    pub bench_pid: u32,
    pub machine: serde_json::Value,
    pub loadavg_at_end: String,
    pub concurrency: usize,
    pub duration_s: u64,
    pub bills: u64,
    pub loads: Vec<LoadStats>,
    /// kosh's start with every bill loaded, until `/ready` answered.
    pub ready_ms: f64,
    pub scaling: Option<Scaling>,
    pub prepare: Stats,
    pub phases: Vec<Stats>,
    pub flow_skipped: Option<String>,
    /// The full-size kosh process's VmHWM.
    pub peak_rss_mib: f64,
    pub floor: Option<FloorStats>,
    pub floor_error: Option<String>,
}

/// 100 MB, the RSS target, in MiB (RSS is reported in MiB).
const RSS_TARGET_MIB: f64 = 100.0 * 1000.0 * 1000.0 / (1024.0 * 1024.0);

fn met(ok: bool) -> &'static str {
    if ok { "**met**" } else { "not met" }
}

fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

impl Report {
    fn postgres(&self) -> bool {
        self.database == "postgres"
    }

    /// Issue 17's target for a phase, and whether this run met it.
    fn target(&self, s: &Stats) -> Option<(String, bool)> {
        let pg = self.postgres();
        let floor = self.floor.as_ref().map(|f| f.stats.per_second);
        let name = s.name.as_str();
        if name.starts_with("fetch-bill (existing bill") {
            Some((
                "≥ 10,000/s, p99 ≤ 10 ms".into(),
                s.per_second >= 10_000.0 && s.p99_ms <= 10.0,
            ))
        } else if name.starts_with("bill making") {
            Some(("≥ 2,000/s".into(), s.per_second >= 2_000.0))
        } else if name.starts_with("payments") {
            let (p99, ratio) = if pg { (25.0, 1.35) } else { (40.0, 1.1) };
            let r = floor.map(|f| s.per_second / f);
            Some((
                format!("≥ 2,500/s, p99 ≤ {p99} ms, ≥ {ratio} × floor"),
                s.per_second >= 2_500.0 && s.p99_ms <= p99 && r.is_some_and(|r| r >= ratio),
            ))
        } else if name.starts_with("online flow") {
            let want = if pg { 800.0 } else { 1_000.0 };
            Some((format!("≥ {}/s", thousands(want)), s.per_second >= want))
        } else if name.starts_with("demand _create") {
            Some((
                "≥ 10,000 demands/s".into(),
                s.items_per_second.unwrap_or(0.0) >= 10_000.0,
            ))
        } else {
            None
        }
    }

    pub fn markdown(&self) -> String {
        let floor = self.floor.as_ref().map(|f| f.stats.per_second);
        let mut out = format!(
            "### {} ({} bills, {} clients unless named, {} s per phase)\n\n\
             | operation | clients | per second | p50 ms | p99 ms | errors | kosh peak RSS MiB | ratio to floor | target | |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
            self.database,
            thousands(self.bills as f64),
            self.concurrency,
            self.duration_s
        );
        let mut row = |s: &Stats, ratio: Option<f64>, target: Option<(String, bool)>| {
            let rate = match s.items_per_second {
                Some(items) => format!("{} ({} items)", thousands(s.per_second), thousands(items)),
                None => thousands(s.per_second),
            };
            out.push_str(&format!(
                "| {} | {} | {}{} | {:.2} | {:.2} | {} | {} | {} | {} | {} |\n",
                s.name,
                s.concurrency,
                rate,
                if s.ran_out { " (ran out)" } else { "" },
                s.p50_ms,
                s.p99_ms,
                s.errors,
                s.peak_rss_mib
                    .map(|m| format!("{m:.1}"))
                    .unwrap_or("-".into()),
                ratio.map(|x| format!("{x:.2}")).unwrap_or("-".into()),
                target.as_ref().map(|t| t.0.as_str()).unwrap_or(""),
                target.as_ref().map(|t| met(t.1)).unwrap_or(""),
            ));
        };
        if let Some(sc) = &self.scaling {
            row(&sc.small, None, None);
        }
        for s in &self.phases {
            let ratio = if s.name.starts_with("payments") {
                floor.map(|f| s.per_second / f)
            } else {
                None
            };
            row(s, ratio, self.target(s));
        }
        if let Some(f) = &self.floor {
            row(&f.stats, Some(1.0), None);
        }
        row(&self.prepare, None, None);
        if let Some(reason) = &self.flow_skipped {
            out.push_str(&format!(
                "| online flow | not measured: {reason} | | | | | | | | |\n"
            ));
        }
        out.push('\n');
        if let Some(sc) = &self.scaling {
            out.push_str(&format!(
                "- fetch-bill from {} to {} bills: {} → {}/s, ratio {:.2} (a fall of at most 20%: {})\n",
                thousands(sc.small_bills as f64),
                thousands(sc.large_bills as f64),
                thousands(sc.small.per_second),
                thousands(sc.large_per_second),
                sc.ratio,
                met(sc.holds())
            ));
        }
        let errors: u64 = self.phases.iter().map(|s| s.errors).sum::<u64>() + self.prepare.errors;
        out.push_str(&format!(
            "- ready {:.0} ms after start with {} bills (≤ 1 s: {})\n\
             - kosh peak RSS (VmHWM of the full-size process) {:.1} MiB (≤ 100 MB = {:.1} MiB: {})\n\
             - errors in all phases: {} ({})\n",
            self.ready_ms,
            thousands(self.bills as f64),
            met(self.ready_ms <= 1_000.0),
            self.peak_rss_mib,
            RSS_TARGET_MIB,
            met(self.peak_rss_mib <= RSS_TARGET_MIB),
            errors,
            met(errors == 0)
        ));
        for l in &self.loads {
            out.push_str(&format!(
                "- load: {} {} in {:.1} s ({}/s; {} already there)\n",
                l.what,
                thousands(l.loaded as f64),
                l.seconds,
                thousands(l.per_second),
                thousands(l.existing as f64)
            ));
        }
        out.push_str(&format!(
            "- load average at start {}, at end {}\n",
            self.machine["loadavg_at_start"].as_str().unwrap_or("?"),
            self.loadavg_at_end
        ));
        if let Some(f) = &self.floor {
            out.push_str(&format!(
                "- floor: {} ({} writes per payment, each its own transaction)\n",
                f.tool, f.statements_per_payment
            ));
        }
        if let Some(e) = &self.floor_error {
            out.push_str(&format!("- floor not measured: {e}\n"));
        }
        out
    }
}
