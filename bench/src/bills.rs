//! Bills for the loaded demands, without 1,000,000 HTTP requests, two ways:
//!
//! - [`make`]: kosh's own fetch-bill ([`kosh_billing::bill::fetch::fetch`]) in-process,
//!   inside kosh's write transactions, so the rows are exactly the ones a first fetch-bill
//!   through the API makes (bill, details, account details, bill number from the state's
//!   counter). Codes go to `fetch` a few hundred at a time per city and service (its criteria
//!   are one tenant and one service), and many of those calls share one transaction. About
//!   ten statements per bill: some 1,000 bills a second on this machine.
//! - [`clone_made`]: copies of bills [`make`] made, set-based: each new bill is the bill kosh
//!   made for a demand of the same city and service (the loader gives those the same amounts
//!   and tax heads), every column copied as kosh wrote it, except the bill's own identity: new
//!   time-ordered ids (as kosh's), the consumer code, the demand and demand detail it bills,
//!   and a bill number from kosh's id generator (which advances the counter as fetch-bill
//!   would). The columns are read from the database, so a column kosh adds is copied too.

use std::collections::BTreeMap;

use kosh_billing::bill::fetch::{self, FetchCriteria};
use kosh_billing::visibility::Scope;
use kosh_idgen::IdRequest;
use kosh_mdms::Mdms;
use kosh_platform::db::Backend;
use kosh_platform::sql::{PARAMS_PER_STATEMENT, SqlBuilder};
use kosh_platform::{Clock, Db, DigitError, write_tx};
use sqlx::Row;

use crate::loader::{SERVICES, cities, consumer_code, refresh_statistics, tenant_of};

/// Who the benchmark's bills are made by (their `created_by`): counted to resume a load.
pub const ACTOR: &str = "bench-loader";

/// Demands whose bills one write transaction makes.
const BILLS_PER_TRANSACTION: u64 = 2_100;

/// Bills the loader made that are in the database (any status).
pub async fn existing(db: &Db) -> Result<u64, DigitError> {
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM egbs_bill WHERE created_by = $1")
        .bind(ACTOR)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    Ok(n as u64)
}

/// Makes the bills of loaded demands `start..start + count` (every one must be loaded and
/// have no bill yet), calling `progress` with the number made so far.
pub async fn make(
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    start: u64,
    count: u64,
    mut progress: impl FnMut(u64),
) -> Result<(), DigitError> {
    let cities = cities(mdms);
    let end = start + count;
    let mut next = start;
    // As the demand loader does: fresh statistics each time the bill tables have grown
    // fourfold, or PostgreSQL plans fetch-bill's lookups on an empty table's statistics.
    let mut analyze_at = next + 1;
    while next < end {
        let batch_end = (next + BILLS_PER_TRANSACTION).min(end);
        // One fetch per city and service: fetch-bill's criteria name one of each.
        let mut groups: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for n in next..batch_end {
            let (code, service) = consumer_code(n);
            groups
                .entry((tenant_of(&cities, n), service))
                .or_default()
                .push(code);
        }
        let made = write_tx!(db, |conn| {
            let mut made = 0u64;
            for ((tenant, service), codes) in &groups {
                let criteria = FetchCriteria {
                    tenant_id: tenant.to_string(),
                    business_service: service.to_string(),
                    consumer_codes: codes.clone(),
                    scope: Scope::Tenant,
                    ..FetchCriteria::default()
                };
                made += fetch::fetch(conn, mdms, clock, &criteria, ACTOR)
                    .await?
                    .len() as u64;
            }
            Ok::<_, DigitError>(made)
        })?;
        if made != batch_end - next {
            return Err(DigitError::new(
                "BENCH_BILLS_MISSING",
                format!(
                    "fetch-bill made {made} bills for demands {next}..{batch_end}: \
                     some are not loaded"
                ),
            ));
        }
        next = batch_end;
        if next >= analyze_at {
            refresh_statistics(db).await?;
            analyze_at = next.saturating_mul(4);
        }
        progress(next - start);
    }
    Ok(())
}

/// Bills one transaction of [`clone_made`] copies.
const CLONES_PER_TRANSACTION: u64 = 5_000;

/// A bill [`make`] made, copied for the demands of its city and service.
struct Template {
    bill_id: String,
    detail_id: String,
    demand_id: String,
}

/// The columns of `table`, in order.
async fn columns(db: &Db, table: &str) -> Result<Vec<String>, DigitError> {
    let q = match db.backend() {
        Backend::Sqlite => sqlx::query("SELECT name FROM pragma_table_info($1) ORDER BY cid"),
        Backend::Postgres => sqlx::query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        ),
    };
    let rows = q.bind(table).fetch_all(db.pool()).await?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    if names.is_empty() {
        return Err(DigitError::new(
            "BENCH_NO_TABLE",
            format!("{table} has no columns"),
        ));
    }
    Ok(names)
}

/// `INSERT INTO table (every column) SELECT <the bill's own columns from the map, every
/// other column from t, the row copied>`.
fn copy_statement(table: &str, columns: &[String], own: &[(&str, &str)], from: &str) -> String {
    let exprs: Vec<String> = columns
        .iter()
        .map(|c| match own.iter().find(|(name, _)| *name == c.as_str()) {
            Some((_, expr)) => expr.to_string(),
            None => format!("t.{c}"),
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {from}",
        columns.join(", "),
        exprs.join(", ")
    )
}

/// The bill [`make`] made for demand `t` (ACTIVE and unpaid, as the copies must be).
async fn template(db: &Db, cities: &[String], t: u64) -> Result<Template, DigitError> {
    let (code, service) = consumer_code(t);
    let row = sqlx::query(
        "SELECT b.id, d.id AS detail_id, d.demand_id FROM egbs_bill b \
         JOIN egbs_bill_detail d ON d.tenant_id = b.tenant_id AND d.bill_id = b.id \
         WHERE b.tenant_id = $1 AND b.business_service = $2 AND b.consumer_code = $3 \
         AND b.status = 'ACTIVE' AND b.amount_paid = 0 AND b.created_by = $4",
    )
    .bind(tenant_of(cities, t))
    .bind(service)
    .bind(&code)
    .bind(ACTOR)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| {
        DigitError::new(
            "BENCH_NO_TEMPLATE",
            format!("no unpaid ACTIVE bill made by the bench for {code} to copy"),
        )
    })?;
    Ok(Template {
        bill_id: row.try_get("id")?,
        detail_id: row.try_get("detail_id")?,
        demand_id: row.try_get("demand_id")?,
    })
}

/// Bills for loaded demands `start..start + count`, copied from the bills [`make`] made
/// for demands of the same city and service (the first `3 × cities` demands must have
/// them: `start` at least that). Calls `progress` with the number made so far.
pub async fn clone_made(
    db: &Db,
    mdms: &Mdms,
    clock: &Clock,
    start: u64,
    count: u64,
    mut progress: impl FnMut(u64),
) -> Result<(), DigitError> {
    let cities = cities(mdms);
    let period = (SERVICES.len() * cities.len()) as u64;
    if start < period {
        return Err(DigitError::new(
            "BENCH_NO_TEMPLATE",
            format!("copies need the first {period} bills made by fetch-bill"),
        ));
    }
    let mut templates = Vec::new();
    for t in 0..period {
        templates.push(template(db, &cities, t).await?);
    }
    let copy_bill = copy_statement(
        "egbs_bill",
        &columns(db, "egbs_bill").await?,
        &[
            ("id", "m.bill_id"),
            ("consumer_code", "m.consumer_code"),
            ("bill_number", "m.bill_number"),
        ],
        "bench_bill_map m JOIN egbs_bill t ON t.tenant_id = m.tenant_id AND t.id = m.template_id",
    );
    let copy_detail = copy_statement(
        "egbs_bill_detail",
        &columns(db, "egbs_bill_detail").await?,
        &[
            ("id", "m.detail_id"),
            ("bill_id", "m.bill_id"),
            ("demand_id", "m.demand_id"),
        ],
        "bench_bill_map m JOIN egbs_bill_detail t ON t.tenant_id = m.tenant_id \
         AND t.id = m.template_detail_id",
    );
    // An account detail's id: its bill detail's, with its tax head (unique in the detail);
    // its demand detail: the loader's id of the new demand's detail for the same head.
    let copy_account = copy_statement(
        "egbs_bill_account_detail",
        &columns(db, "egbs_bill_account_detail").await?,
        &[
            ("id", "m.detail_id || '-' || t.tax_head_code"),
            ("bill_detail_id", "m.detail_id"),
            (
                "demand_detail_id",
                "m.demand_id || SUBSTR(t.demand_detail_id, LENGTH(m.template_demand_id) + 1)",
            ),
        ],
        "bench_bill_map m JOIN egbs_bill_account_detail t ON t.tenant_id = m.tenant_id \
         AND t.bill_detail_id = m.template_detail_id",
    );
    for sql in [
        "DROP TABLE IF EXISTS bench_bill_map",
        "CREATE TABLE bench_bill_map (n BIGINT NOT NULL PRIMARY KEY, tenant_id VARCHAR(256) NOT NULL, \
         consumer_code VARCHAR(256) NOT NULL, template_id VARCHAR(64) NOT NULL, \
         template_detail_id VARCHAR(64) NOT NULL, template_demand_id VARCHAR(64) NOT NULL, \
         bill_id VARCHAR(64) NOT NULL, detail_id VARCHAR(64) NOT NULL, \
         bill_number VARCHAR(256) NOT NULL, demand_id VARCHAR(64) NOT NULL)",
    ] {
        sqlx::raw_sql(sql).execute(db.pool()).await?;
    }
    let end = start + count;
    let mut next = start;
    let mut analyze_at = next + 1;
    while next < end {
        let batch_end = (next + CLONES_PER_TRANSACTION).min(end);
        let (cities, templates) = (&cities, &templates);
        let (copy_bill, copy_detail, copy_account) = (&copy_bill, &copy_detail, &copy_account);
        write_tx!(db, |conn| {
            sqlx::query("DELETE FROM bench_bill_map")
                .execute(&mut *conn)
                .await?;
            // Bill numbers as fetch-bill takes them, one request per city and service.
            let mut groups: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
            for n in next..batch_end {
                groups
                    .entry((tenant_of(cities, n), consumer_code(n).1))
                    .or_default()
                    .push(n);
            }
            let mut rows = Vec::with_capacity((batch_end - next) as usize);
            for ((tenant, service), ns) in &groups {
                // The format fetch-bill gives idgen when master data has none for bills.
                let format = format!("BILLNO-{service}-[SEQ_egbs_billnumber]");
                let numbers = kosh_idgen::generate(
                    conn,
                    mdms,
                    clock,
                    &IdRequest {
                        id_name: "billnumberid",
                        tenant_id: tenant,
                        format: Some(&format),
                        count: ns.len() as u32,
                    },
                )
                .await?;
                for (n, number) in ns.iter().zip(numbers) {
                    rows.push((*n, *tenant, number));
                }
            }
            let per_statement = PARAMS_PER_STATEMENT / 10;
            for chunk in rows.chunks(per_statement) {
                let mut q = SqlBuilder::new(
                    "INSERT INTO bench_bill_map (n, tenant_id, consumer_code, template_id, template_detail_id, \
                     template_demand_id, bill_id, detail_id, bill_number, demand_id) VALUES ",
                );
                for (i, (n, tenant, number)) in chunk.iter().enumerate() {
                    let t = &templates[(n % period) as usize];
                    if i > 0 {
                        q.push(", ");
                    }
                    q.push("(")
                        .bind(*n as i64)
                        .push(", ")
                        .bind(*tenant)
                        .push(", ")
                        .bind(consumer_code(*n).0)
                        .push(", ")
                        .bind(t.bill_id.as_str());
                    q.push(", ")
                        .bind(t.detail_id.as_str())
                        .push(", ")
                        .bind(t.demand_id.as_str())
                        .push(", ")
                        .bind(uuid::Uuid::now_v7().to_string())
                        .push(", ")
                        .bind(uuid::Uuid::now_v7().to_string());
                    q.push(", ")
                        .bind(number.as_str())
                        .push(", ")
                        .bind(format!("load-{n:010}"))
                        .push(")");
                }
                q.build().execute(&mut *conn).await?;
            }
            let expected = batch_end - next;
            for sql in [copy_bill, copy_detail, copy_account] {
                // Built above from the database's own column names, not from input.
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if done < expected {
                    return Err(DigitError::new(
                        "BENCH_COPY_SHORT",
                        format!("{done} rows for {expected} bills: {sql}"),
                    ));
                }
            }
            Ok::<_, DigitError>(())
        })?;
        next = batch_end;
        if next >= analyze_at {
            refresh_statistics(db).await?;
            analyze_at = next.saturating_mul(4);
        }
        progress(next - start);
    }
    sqlx::raw_sql("DROP TABLE IF EXISTS bench_bill_map")
        .execute(db.pool())
        .await?;
    Ok(())
}
