//! `kosh import demands <file>`: a bulk load of demands from CSV or JSON lines ([`read`]).
//!
//! Every demand gets the checks `/billing-service/demand/_create` makes (bean validation,
//! tenant, business service, tax heads and period from MDMS, payer, amounts); a demand that
//! fails is reported with its line number and reasons and not loaded, and the good ones go
//! in, a batch per transaction, with their audit rows, as the API would write them.
//!
//! Re-running a file creates no duplicates: a demand whose tenant, service, consumer code,
//! tax period and status are already stored is skipped as already present. That is also
//! DIGIT's rule of one ACTIVE demand per consumer code, service and period, so a committed
//! batch of an interrupted run is simply skipped the next time.

pub mod read;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kosh_mdms::Mdms;
use kosh_platform::{Db, DigitError, write_tx};

use crate::bill::store as bill_store;
use crate::demand::input::{self, DemandDraft, DemandRequest};
use crate::demand::store::{self, Change, ImportKey};
use crate::demand::{Demand, DemandStatus, api::new_demand, validate};
pub use read::{Format, Record};

#[derive(Debug, Clone)]
pub struct Options {
    /// Demands per transaction.
    pub batch_size: usize,
    /// Recorded as the creator of the demands (a user uuid or a name).
    pub actor: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: 1_000,
            actor: "import".to_string(),
        }
    }
}

/// A demand that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The line its demand starts on (1-based).
    pub line: u64,
    pub reasons: Vec<String>,
}

/// How far an import got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Demands read from the file.
    pub read: u64,
    /// Demands loaded now.
    pub loaded: u64,
    /// Demand details (tax heads) loaded now.
    pub details_loaded: u64,
    /// Demands skipped because they were already stored.
    pub already_present: u64,
    /// Demands refused.
    pub bad: u64,
}

/// A demand read and bean-validated, with its line.
struct Candidate {
    line: u64,
    draft: DemandDraft,
}

/// Imports the demands of `records`; `on_bad` hears of each refused demand as it is found
/// and `progress` of the totals after each batch. Fails only when the database does (the
/// batches committed before stay, and a re-run skips them).
pub async fn run(
    db: &Db,
    mdms: &Mdms,
    records: impl Iterator<Item = Record>,
    options: &Options,
    now_ms: impl Fn() -> i64,
    mut on_bad: impl FnMut(&BadRow),
    mut progress: impl FnMut(&Report),
) -> Result<Report, DigitError> {
    let mut report = Report::default();
    let mut good_payers = BTreeSet::new();
    let mut records = records.peekable();
    let batch_size = options.batch_size.max(1);
    let mut analyze_at = 1;
    while records.peek().is_some() {
        let mut batch = Vec::with_capacity(batch_size);
        let mut refused = Vec::new();
        for record in records.by_ref().take(batch_size) {
            report.read += 1;
            match bean_checked(record) {
                Ok(c) => batch.push(c),
                Err(bad) => refused.push(bad),
            }
        }
        let (batch, repeats) = without_repeats(batch);
        refused.extend(repeats);
        let now = now_ms();
        let outcome = write_tx!(db, |conn| {
            load_batch(conn, mdms, &batch, &options.actor, now, &good_payers).await
        })?;
        good_payers.extend(outcome.good_payers);
        report.loaded += outcome.loaded;
        report.details_loaded += outcome.details_loaded;
        report.already_present += outcome.already_present;
        refused.extend(outcome.bad);
        // In file order, whichever check refused them.
        refused.sort_by_key(|bad| bad.line);
        for bad in &refused {
            report.bad += 1;
            on_bad(bad);
        }
        // The importer's lookups (and PostgreSQL's foreign-key checks of every detail row)
        // are planned from the tables' statistics; made while the tables were nearly empty,
        // those plans scan a whole tenant per lookup, and a 1,000,000-demand load slowed to
        // a crawl past 100,000. So the grown tables are analysed each time the import has
        // grown fourfold, and once at its end for the requests that follow.
        if report.loaded >= analyze_at {
            db.analyze_grown().await?;
            analyze_at = report.loaded.saturating_mul(4);
        }
        progress(&report);
    }
    db.analyze_grown().await?;
    Ok(report)
}

/// The API's bean validation of one demand.
fn bean_checked(record: Record) -> Result<Candidate, BadRow> {
    let line = record.line;
    let input = record.demand.map_err(|why| BadRow {
        line,
        reasons: vec![why],
    })?;
    let request = DemandRequest {
        request_info: None,
        demands: Some(vec![input]),
    };
    match input::drafts(&request) {
        Ok(mut drafts) => Ok(Candidate {
            line,
            draft: drafts.remove(0),
        }),
        Err(e) => Err(BadRow {
            line,
            reasons: reasons(&e),
        }),
    }
}

fn reasons(e: &DigitError) -> Vec<String> {
    e.errors
        .iter()
        .map(|item| match &item.description {
            // The binding errors say what was wrong only in the description.
            Some(d) if !d.is_empty() && d != &item.message => {
                format!("{}: {} ({d})", item.code, item.message)
            }
            _ => format!("{}: {}", item.code, item.message),
        })
        .collect()
}

fn key_of(d: &DemandDraft) -> ImportKey {
    (
        d.tenant_id.clone(),
        d.business_service.clone(),
        d.consumer_code.clone(),
        d.tax_period_from,
        d.tax_period_to,
        d.status
            .unwrap_or(DemandStatus::Active)
            .as_str()
            .to_string(),
    )
}

/// The first demand of a key within the batch stays; a later one is refused (a file that
/// repeats a demand). Repeats across batches are found in the database as already present.
fn without_repeats(batch: Vec<Candidate>) -> (Vec<Candidate>, Vec<BadRow>) {
    let mut first_line: HashMap<ImportKey, u64> = HashMap::new();
    let mut keep = Vec::new();
    let mut repeats = Vec::new();
    for c in batch {
        let key = key_of(&c.draft);
        match first_line.get(&key) {
            Some(first) => repeats.push(BadRow {
                line: c.line,
                reasons: vec![format!(
                    "the same demand (tenant, business service, consumer code, tax period and status) as line {first}"
                )],
            }),
            None => {
                first_line.insert(key, c.line);
                keep.push(c);
            }
        }
    }
    (keep, repeats)
}

/// What one batch's transaction did.
struct BatchOutcome {
    loaded: u64,
    details_loaded: u64,
    already_present: u64,
    bad: Vec<BadRow>,
    good_payers: BTreeSet<String>,
}

async fn load_batch(
    conn: &mut sqlx::AnyConnection,
    mdms: &Mdms,
    batch: &[Candidate],
    actor: &str,
    now: i64,
    known_payers: &BTreeSet<String>,
) -> Result<BatchOutcome, DigitError> {
    let mut good_payers = known_payers.clone();
    let mut bad = Vec::new();
    let mut valid: Vec<&Candidate> = Vec::new();
    for c in batch {
        match validate::for_import(conn, mdms, &c.draft, &mut good_payers).await {
            Ok(()) => valid.push(c),
            Err(e) => bad.push(BadRow {
                line: c.line,
                reasons: reasons(&e),
            }),
        }
    }
    // Grouped by tenant and service, the way the consumer-code indexes are keyed.
    let mut groups: BTreeMap<(String, String), Vec<&Candidate>> = BTreeMap::new();
    for c in valid {
        groups
            .entry((c.draft.tenant_id.clone(), c.draft.business_service.clone()))
            .or_default()
            .push(c);
    }
    let mut new_demands: Vec<Demand> = Vec::new();
    let mut already_present = 0;
    for ((tenant, service), members) in &groups {
        let keys: Vec<ImportKey> = members.iter().map(|c| key_of(&c.draft)).collect();
        let mut all_codes: Vec<String> = keys.iter().map(|k| k.2.clone()).collect();
        all_codes.sort();
        all_codes.dedup();
        // As a demand _create does: no bill is made from these codes' demands meanwhile.
        store::lock_consumers(conn, tenant, service, &all_codes).await?;
        let stored = store::existing_keys(conn, tenant, service, &keys).await?;
        let mut codes = Vec::new();
        for (c, key) in members.iter().zip(&keys) {
            if stored.contains(key) {
                already_present += 1;
            } else {
                new_demands.push(new_demand(&c.draft, actor, now));
                codes.push(c.draft.consumer_code.clone());
            }
        }
        // A new demand changes what the consumer owes: its ACTIVE bill is stale, as after
        // a demand _create.
        codes.sort();
        codes.dedup();
        for code in bill_store::with_active_bill(conn, tenant, service, &codes).await? {
            bill_store::expire_active(conn, tenant, service, &code, None, actor, now).await?;
        }
    }
    store::insert_many(conn, &new_demands).await?;
    store::audit_many(conn, &new_demands, Change::Create).await?;
    Ok(BatchOutcome {
        loaded: new_demands.len() as u64,
        details_loaded: new_demands.iter().map(|d| d.details.len() as u64).sum(),
        already_present,
        bad,
        good_payers,
    })
}
