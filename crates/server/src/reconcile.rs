//! `kosh reconcile --now`: one pass of the payment reconciliation job from the command line,
//! with the database, master data and gateways `kosh serve` uses. The pass itself is
//! [`kosh_pg::reconcile::run_pass_now`], the code the background job and the `_reconcile`
//! route run; this module prints what it did.

use std::sync::Arc;
use std::time::Duration;

use kosh_pg::TxnStatus;
use kosh_pg::reconcile::Report;
use kosh_pg::txn::Transaction;
use kosh_platform::Clock;
use kosh_platform::money::wire;

use crate::cli::Reconcile;

/// Runs the pass and prints it; an error when a transaction could not be settled.
pub async fn now(args: Reconcile) -> anyhow::Result<()> {
    let settings = args.settings();
    crate::init_logging(&settings);
    crate::apply_money_limits(&settings)?;
    let mdms = Arc::new(crate::load_mdms(&settings)?);
    crate::pii::install_policies(&mdms);
    let db = crate::open_database(&settings).await?;
    let pg = crate::pg_service(&settings, settings.listen)?;
    let clock = Clock::System;
    let report = kosh_pg::reconcile::run_pass_now(
        &pg,
        &db,
        &mdms,
        &clock,
        Duration::from_secs(args.wait_seconds),
    )
    .await
    .map_err(|e| anyhow::anyhow!("reconciliation pass: {e}"))?;
    print!("{}", text(&report));
    anyhow::ensure!(
        report.errors == 0,
        "{} transaction(s) could not be settled (see the log above)",
        report.errors
    );
    Ok(())
}

/// One line per transaction examined, then the summary.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for txn in &report.transactions {
        out.push_str(&line(txn));
        out.push('\n');
    }
    out.push_str(&format!(
        "reconciliation: examined {}, settled {} (succeeded {}, failed {}), still pending {} (closed {}), errors {}\n",
        report.examined,
        report.succeeded + report.failed,
        report.succeeded,
        report.failed,
        report.pending,
        report.closed,
        report.errors
    ));
    out
}

fn line(txn: &Transaction) -> String {
    let outcome = match txn.status {
        TxnStatus::Success | TxnStatus::Failure => "settled",
        TxnStatus::Pending if txn.closed_time.is_some() => "closed",
        TxnStatus::Pending => "pending",
    };
    let mut line = format!(
        "{outcome} {} {} {} {} {}",
        txn.txn_id,
        txn.tenant_id,
        txn.gateway,
        txn.status,
        wire::rupees_text(txn.amount),
    );
    if let Some(receipt) = txn.receipt.as_deref().filter(|r| !r.is_empty()) {
        line.push_str(&format!(" receipt {receipt}"));
    }
    if let Some(msg) = txn.status_msg.as_deref().filter(|m| !m.is_empty()) {
        line.push_str(&format!(" \"{msg}\""));
    }
    line
}
