//! `kosh audit verify`: checks every tenant's audit hash chain (kosh_platform::audit_chain)
//! and fails when any audit row was changed, deleted or inserted behind kosh's back.

use anyhow::Context;
use kosh_platform::Db;
use kosh_platform::audit_chain::{self, AuditTable, TenantReport};

use crate::cli::AuditVerify;

/// Every audit table kosh writes. A new audit table is chained by writing it through
/// `audit_chain::insert` and listing it here.
pub fn tables() -> Vec<&'static AuditTable> {
    let mut tables: Vec<&'static AuditTable> = kosh_billing::demand::audit::TABLES.to_vec();
    tables.push(&kosh_collection::store::PAYMENT_AUDIT);
    tables
}

/// Verifies every chain of the database; the reports, one per tenant.
pub async fn verify_db(db: &Db) -> anyhow::Result<Vec<TenantReport>> {
    audit_chain::verify(db, &tables()).await
}

/// The reports as the command prints them: one line per tenant, then its violations.
pub fn to_text(reports: &[TenantReport]) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("no audit rows\n");
    }
    for r in reports {
        let head = match (&r.last_seq, &r.last_hash) {
            (Some(s), Some(h)) => format!("head {s} {h}"),
            _ => "no head".to_string(),
        };
        if r.ok() {
            out.push_str(&format!("{}: OK, {} rows, {head}\n", r.tenant_id, r.rows));
            continue;
        }
        out.push_str(&format!(
            "{}: BROKEN, {} violation(s) in {} rows, {head}\n",
            r.tenant_id, r.violation_count, r.rows
        ));
        for v in &r.violations {
            out.push_str(&format!("  {v}\n"));
        }
        if r.violation_count > r.violations.len() {
            out.push_str(&format!(
                "  ... and {} more\n",
                r.violation_count - r.violations.len()
            ));
        }
    }
    out
}

/// `kosh audit verify`. Opens the database without migrating it: verifying never writes.
pub async fn verify(args: AuditVerify) -> anyhow::Result<()> {
    let settings = args.settings.to_settings();
    crate::init_logging(&settings);
    let url = settings.database_url();
    let db = Db::connect(&url, settings.db_max_connections)
        .await
        .with_context(|| format!("opening database {}", crate::redact(&url)))?;
    let reports = verify_db(&db)
        .await
        .context("reading the audit chain (has `kosh migrate` run?)")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print!("{}", to_text(&reports));
    }
    let broken = reports.iter().filter(|r| !r.ok()).count();
    anyhow::ensure!(
        broken == 0,
        "the audit chain of {broken} tenant(s) is broken"
    );
    Ok(())
}
