//! `kosh import demands <file>`: the command-line side of [`kosh_billing::import`] — the
//! progress bar, the list of refused demands, and the summary.

use std::io::Write;

use anyhow::Context;
use kosh_billing::import::{self, BadRow, Format, Options, Report};
use kosh_platform::Clock;

use crate::cli::ImportDemands;

pub async fn demands(args: ImportDemands) -> anyhow::Result<()> {
    let settings = args.settings.to_settings();
    crate::init_logging(&settings);
    let format = match args.format.as_deref() {
        None => Format::from_path(&args.file),
        Some(f) if f.eq_ignore_ascii_case("csv") => Format::Csv,
        Some(f) if f.eq_ignore_ascii_case("jsonl") || f.eq_ignore_ascii_case("json") => {
            Format::JsonLines
        }
        Some(other) => anyhow::bail!("--format {other}: expected csv or jsonl"),
    };
    // The same ceilings on amounts as `kosh serve`: an imported demand is refused as one
    // sent over HTTP would be.
    crate::apply_money_limits(&settings)?;
    let mdms = crate::load_mdms(&settings)?;
    let db = crate::open_database(&settings).await?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // The bar follows bytes read, so it knows its end without a first pass over the file.
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(size)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {elapsed_precise} eta {eta} {msg}",
        )
        .expect("a valid template"),
    );
    let records = import::read::records(bar.wrap_read(file), format);
    let mut errors: Box<dyn Write> = match &args.errors {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stderr()),
    };
    let mut write_failed = None;
    let on_bad = |bad: &BadRow| {
        let line = format!("line {}: {}\n", bad.line, bad.reasons.join("; "));
        let written = if args.errors.is_some() {
            errors.write_all(line.as_bytes())
        } else {
            bar.suspend(|| errors.write_all(line.as_bytes()))
        };
        if let Err(e) = written {
            write_failed.get_or_insert(e);
        }
    };
    let progress = |r: &Report| {
        bar.set_message(format!(
            "{} loaded, {} already present, {} refused",
            r.loaded, r.already_present, r.bad
        ));
    };
    let options = Options {
        batch_size: args.batch_size,
        actor: args.actor.clone(),
    };
    let started = std::time::Instant::now();
    let clock = Clock::System;
    let report = import::run(
        &db,
        &mdms,
        records,
        &options,
        || clock.now_ms(),
        on_bad,
        progress,
    )
    .await;
    bar.finish_and_clear();
    let report = report
        .map_err(|e| anyhow::anyhow!("{}", serde_json::to_string(&e.body()).unwrap_or_default()))?;
    errors.flush()?;
    drop(errors);
    if let Some(e) = write_failed {
        return Err(e).context("writing the refused demands");
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}: {} demands read, {} loaded ({} tax heads), {} already present, {} refused, in {:.1} s ({:.0} demands/s)",
        args.file.display(),
        report.read,
        report.loaded,
        report.details_loaded,
        report.already_present,
        report.bad,
        seconds,
        report.loaded as f64 / seconds.max(1e-9),
    );
    anyhow::ensure!(
        report.bad == 0,
        "{} demand(s) were refused (listed {})",
        report.bad,
        match &args.errors {
            Some(p) => format!("in {}", p.display()),
            None => "above".to_string(),
        }
    );
    Ok(())
}
