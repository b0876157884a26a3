//! A bulk loader of demo demands for benchmarks and load tests: `count` consumer codes
//! spread over the state's cities and over property tax, water and trade licence, each with
//! one ACTIVE demand for the service's first tax period in MDMS. Rows go in with multi-row
//! inserts in large transactions (it is an import, not a request); no audit rows are written
//! and nothing is checked, which is why it lives here, beside the benchmark, and not in
//! kosh's billing crate (`kosh import demands` is the production loader).

use kosh_billing::masters;
use kosh_mdms::Mdms;
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{Db, DigitError, write_tx};

/// A kind of demand the loader makes.
pub struct Kind {
    pub service: &'static str,
    pub consumer_type: &'static str,
    /// Tax heads with their amounts in rupees.
    pub heads: &'static [(&'static str, i64)],
}

/// The kinds of demand, in the order consumer codes cycle through them.
pub const SERVICES: &[Kind] = &[
    Kind {
        service: "PT",
        consumer_type: "BUILTUP",
        heads: &[("PT_TAX", 1_200), ("PT_FIRE_CESS", 60)],
    },
    Kind {
        service: "WS",
        consumer_type: "waterConnection",
        heads: &[("WS_CHARGE", 450)],
    },
    Kind {
        service: "TL",
        consumer_type: "BUILTUP",
        heads: &[("TL_TAX", 800)],
    },
];

const ROWS_PER_STATEMENT: usize = 400;
const ROWS_PER_TRANSACTION: usize = 10_000;

/// The consumer code the loader gives demand number `n` (0-based): what benchmarks fetch.
pub fn consumer_code(n: u64) -> (String, &'static str) {
    let service = SERVICES[(n % SERVICES.len() as u64) as usize].service;
    (format!("{service}-LOAD-{n:08}"), service)
}

/// The city of demand number `n`.
pub fn tenant_of(cities: &[String], n: u64) -> &str {
    &cities[((n / SERVICES.len() as u64) % cities.len() as u64) as usize]
}

/// The cities of the first state in master data.
pub fn cities(mdms: &Mdms) -> Vec<String> {
    let state = mdms
        .states()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut out: Vec<String> = mdms
        .master(&state, "tenant", "tenants")
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.get("code").and_then(|c| c.as_str()))
        .filter(|c| c.contains('.'))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// The first tax period in master data (from, to) of each of [`SERVICES`] in `city`: the
/// period of every demand the loader makes.
pub fn first_periods(mdms: &Mdms, city: &str) -> Result<Vec<(i64, i64)>, DigitError> {
    let mut periods = Vec::new();
    for Kind { service, .. } in SERVICES {
        let mut p = masters::tax_periods(mdms, city, service);
        p.sort_by_key(|p| p.from_date);
        let first = p.first().ok_or_else(|| {
            DigitError::new(
                "NO_TAX_PERIOD",
                format!("{service} has no tax period in MDMS"),
            )
        })?;
        periods.push((first.from_date, first.to_date));
    }
    Ok(periods)
}

/// Loads demands `start..start + count`, calling `progress` with the number done so far.
pub async fn load(
    db: &Db,
    mdms: &Mdms,
    start: u64,
    count: u64,
    now_ms: i64,
    mut progress: impl FnMut(u64),
) -> Result<(), DigitError> {
    let cities = cities(mdms);
    if cities.is_empty() {
        return Err(DigitError::new(
            "NO_CITIES",
            "The master data has no city to load demands for",
        ));
    }
    let periods = first_periods(mdms, &cities[0])?;
    let end = start + count;
    let mut next = start;
    // As the importer does: fresh statistics each time the tables have grown fourfold, or
    // PostgreSQL's foreign-key checks scan a whole tenant per detail row.
    let mut analyze_at = next + 1;
    while next < end {
        let batch_end = (next + ROWS_PER_TRANSACTION as u64).min(end);
        let (cities, periods) = (&cities, &periods);
        write_tx!(db, |conn| {
            let mut n = next;
            while n < batch_end {
                let chunk_end = (n + ROWS_PER_STATEMENT as u64).min(batch_end);
                let mut demands = SqlBuilder::new(
                    "INSERT INTO egbs_demand (id, tenant_id, consumer_code, consumer_type, business_service, payer, tax_period_from, \
                     tax_period_to, minimum_amount_payable, bill_expiry_time, fixed_bill_expiry_date, status, is_payment_completed, \
                     additional_details, created_by, created_ms, last_modified_by, last_modified_ms) VALUES ",
                );
                let mut details = SqlBuilder::new(
                    "INSERT INTO egbs_demand_detail (id, tenant_id, demand_id, tax_head_code, tax_amount, collection_amount, \
                     additional_details, created_by, created_ms, last_modified_by, last_modified_ms) VALUES ",
                );
                let mut first_detail = true;
                for i in n..chunk_end {
                    let kind = (i % SERVICES.len() as u64) as usize;
                    let Kind {
                        service,
                        consumer_type,
                        heads,
                    } = &SERVICES[kind];
                    let (from, to) = periods[kind];
                    let (code, _) = consumer_code(i);
                    let tenant = tenant_of(cities, i).to_string();
                    let id = format!("load-{i:010}");
                    if i > n {
                        demands.push(", ");
                    }
                    demands
                        .push("(")
                        .bind(id.as_str())
                        .push(", ")
                        .bind(tenant.as_str())
                        .push(", ")
                        .bind(code.as_str())
                        .push(", ");
                    demands
                        .bind(*consumer_type)
                        .push(", ")
                        .bind(*service)
                        .push(", NULL, ")
                        .bind(from)
                        .push(", ")
                        .bind(to);
                    demands
                        .push(", 0, NULL, NULL, 'ACTIVE', 0, NULL, 'loader', ")
                        .bind(now_ms)
                        .push(", 'loader', ")
                        .bind(now_ms)
                        .push(")");
                    for (h, (head, rupees)) in heads.iter().enumerate() {
                        if !first_detail {
                            details.push(", ");
                        }
                        first_detail = false;
                        details
                            .push("(")
                            .bind(format!("{id}-{h}"))
                            .push(", ")
                            .bind(tenant.as_str())
                            .push(", ")
                            .bind(id.as_str());
                        details
                            .push(", ")
                            .bind(*head)
                            .push(", ")
                            .bind(rupees * 100)
                            .push(", 0, NULL, 'loader', ")
                            .bind(now_ms);
                        details.push(", 'loader', ").bind(now_ms).push(")");
                    }
                }
                demands.build().execute(&mut *conn).await?;
                details.build().execute(&mut *conn).await?;
                n = chunk_end;
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
    Ok(())
}

/// Fresh planner statistics for the tables grown since their last analysis, with kosh's own
/// [`Db::analyze_grown`] (as `kosh import demands` takes them while it grows the tables).
pub async fn refresh_statistics(db: &Db) -> Result<(), DigitError> {
    db.analyze_grown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_cycle_through_the_services() {
        assert_eq!(consumer_code(0), ("PT-LOAD-00000000".to_string(), "PT"));
        assert_eq!(consumer_code(1).1, "WS");
        assert_eq!(consumer_code(2).1, "TL");
        assert_eq!(consumer_code(3).1, "PT");
        let cities = vec!["pb.a".to_string(), "pb.b".to_string()];
        assert_eq!(tenant_of(&cities, 0), "pb.a");
        assert_eq!(tenant_of(&cities, 3), "pb.b");
    }
}
