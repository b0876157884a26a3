//! Demands in the database: insert, update, their audit copies, search, and the row locks
//! that serialize everything that reads or writes a consumer code's money.
//!
//! Every write asserts the demand's books first ([`Demand::check_books`]): the API's
//! creates and updates, the importer's inserts, and the payments and reversals that
//! collection makes through [`update`]. Validation refuses bad requests before they get
//! here, so a demand that fails the check at this point is a fault in kosh: the write is
//! refused with an HTTP 500 (`EG_BS_BOOKS_VIOLATED`, logged with the demand), and the
//! error rolls the caller's whole transaction back (`write_tx!` never commits an error;
//! collection, pg and BBPS pass it up), so nothing of the request is written.

use std::collections::HashMap;

use kosh_platform::DigitError;
use kosh_platform::db::is_unique_violation;
use kosh_platform::money::Paise;
use kosh_platform::sql::{Arg, SqlBuilder, rows_per_statement};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Audit, Demand, DemandDetail, DemandStatus};
use crate::query::{json_column, json_text, push_tenant};

/// DIGIT's demand search returns at most 500 rows.
pub const SEARCH_LIMIT: i64 = 500;

const DEMAND_COLUMNS: &str = "id, tenant_id, consumer_code, consumer_type, business_service, payer, \
     tax_period_from, tax_period_to, minimum_amount_payable, bill_expiry_time, fixed_bill_expiry_date, \
     status, is_payment_completed, additional_details, created_by, created_ms, last_modified_by, last_modified_ms";

const DETAIL_COLUMNS: &str = "id, tenant_id, demand_id, tax_head_code, tax_amount, collection_amount, \
     additional_details, created_by, created_ms, last_modified_by, last_modified_ms";

/// Why a demand changed, as its audit row records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Payment,
    PaymentReversal,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Create => "CREATE",
            Change::Update => "UPDATE",
            Change::Payment => "PAYMENT",
            Change::PaymentReversal => "PAYMENT_REVERSAL",
        }
    }
}

/// What a demand search asks for; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct DemandFilter {
    pub tenant_id: String,
    pub ids: Option<Vec<String>>,
    pub payers: Option<Vec<String>>,
    pub consumer_codes: Option<Vec<String>>,
    pub business_service: Option<String>,
    pub status: Option<DemandStatus>,
    pub is_payment_completed: Option<bool>,
    /// Demands whose tax period starts at or after this.
    pub period_from: Option<i64>,
    /// Demands whose tax period ends at or before this.
    pub period_to: Option<i64>,
    /// Demands created in this range (DIGIT's demandFrom / demandTo).
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

fn audit_from(row: &AnyRow) -> Result<Audit, sqlx::Error> {
    Ok(Audit {
        created_by: row.try_get("created_by")?,
        created_ms: row.try_get("created_ms")?,
        last_modified_by: row.try_get("last_modified_by")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
    })
}

fn demand_from(row: &AnyRow) -> Result<Demand, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Demand {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        consumer_code: row.try_get("consumer_code")?,
        consumer_type: row.try_get("consumer_type")?,
        business_service: row.try_get("business_service")?,
        payer: row.try_get("payer")?,
        tax_period_from: row.try_get("tax_period_from")?,
        tax_period_to: row.try_get("tax_period_to")?,
        minimum_amount_payable: Paise::new(row.try_get("minimum_amount_payable")?),
        bill_expiry_time: row.try_get("bill_expiry_time")?,
        fixed_bill_expiry_date: row.try_get("fixed_bill_expiry_date")?,
        status: DemandStatus::parse(&status).unwrap_or(DemandStatus::Active),
        is_payment_completed: row.try_get::<i64, _>("is_payment_completed")? != 0,
        additional_details: json_column(row.try_get("additional_details")?),
        audit: audit_from(row)?,
        details: Vec::new(),
    })
}

fn detail_from(row: &AnyRow) -> Result<DemandDetail, sqlx::Error> {
    Ok(DemandDetail {
        id: row.try_get("id")?,
        demand_id: row.try_get("demand_id")?,
        tenant_id: row.try_get("tenant_id")?,
        tax_head_code: row.try_get("tax_head_code")?,
        tax_amount: Paise::new(row.try_get("tax_amount")?),
        collection_amount: Paise::new(row.try_get("collection_amount")?),
        additional_details: json_column(row.try_get("additional_details")?),
        audit: audit_from(row)?,
    })
}

/// DIGIT's answer when a demand would be a second ACTIVE demand for the same consumer code,
/// service and tax period.
pub fn duplicate_error<'a>(consumer_codes: impl IntoIterator<Item = &'a String>) -> DigitError {
    DigitError::new(
        "EG_BS_DUPLICATE_CONSUMERCODE",
        format!(
            "Demand already exists in the same period with the same businessService for the given consumercodes : {}",
            crate::wire::java_set(consumer_codes)
        ),
    )
}

/// Refuses to write a demand whose books do not balance (see the module's note).
fn assert_books(d: &Demand) -> Result<(), DigitError> {
    d.check_books().map_err(|e| e.fault())
}

/// A demand's change may change its consumer code's fetch-bill answer (bill::cache).
fn touch_cache(d: &Demand) {
    crate::bill::cache::touch_consumer(&d.business_service, &d.consumer_code);
}

async fn insert_detail(conn: &mut AnyConnection, detail: &DemandDetail) -> Result<(), DigitError> {
    sqlx::query(
        "INSERT INTO egbs_demand_detail (id, tenant_id, demand_id, tax_head_code, tax_amount, collection_amount, \
         additional_details, created_by, created_ms, last_modified_by, last_modified_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&detail.id)
    .bind(&detail.tenant_id)
    .bind(&detail.demand_id)
    .bind(&detail.tax_head_code)
    .bind(detail.tax_amount.get())
    .bind(detail.collection_amount.get())
    .bind(json_text(&detail.additional_details))
    .bind(&detail.audit.created_by)
    .bind(detail.audit.created_ms)
    .bind(&detail.audit.last_modified_by)
    .bind(detail.audit.last_modified_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes every changeable field of a stored demand, updates its details and inserts the
/// new ones. Consumer code, type, service and tenant never change.
pub async fn update(conn: &mut AnyConnection, d: &Demand) -> Result<(), DigitError> {
    assert_books(d)?;
    touch_cache(d);
    let updated = sqlx::query(
        "UPDATE egbs_demand SET payer = $1, tax_period_from = $2, tax_period_to = $3, minimum_amount_payable = $4, \
         bill_expiry_time = $5, fixed_bill_expiry_date = $6, status = $7, is_payment_completed = $8, \
         additional_details = $9, last_modified_by = $10, last_modified_ms = $11 WHERE tenant_id = $12 AND id = $13",
    )
    .bind(&d.payer)
    .bind(d.tax_period_from)
    .bind(d.tax_period_to)
    .bind(d.minimum_amount_payable.get())
    .bind(d.bill_expiry_time)
    .bind(d.fixed_bill_expiry_date)
    .bind(d.status.as_str())
    .bind(i64::from(d.is_payment_completed))
    .bind(json_text(&d.additional_details))
    .bind(&d.audit.last_modified_by)
    .bind(d.audit.last_modified_ms)
    .bind(&d.tenant_id)
    .bind(&d.id)
    .execute(&mut *conn)
    .await;
    match updated {
        Err(e) if is_unique_violation(&e) => return Err(duplicate_error([&d.consumer_code])),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    update_details(conn, d).await
}

/// Writes every detail of `d` that is stored and inserts those that are not (see
/// [`update_detail_rows`]).
async fn update_details(conn: &mut AnyConnection, d: &Demand) -> Result<(), DigitError> {
    let details: Vec<&DemandDetail> = d.details.iter().collect();
    update_detail_rows(conn, &d.tenant_id, &details).await
}

/// Writes every detail given that is stored, a few dozen per statement (one `CASE` per
/// column, keyed by the detail's id), and inserts those that are not (an update's new tax
/// heads, a payment's advance). A payment changes a detail per tax head it pays; one
/// statement per head was a round trip each on PostgreSQL and a hop each to SQLite's worker.
async fn update_detail_rows(
    conn: &mut AnyConnection,
    tenant_id: &str,
    details: &[&DemandDetail],
) -> Result<(), DigitError> {
    // Two parameters per detail in each of five CASEs, and its id in the IN list.
    for chunk in details.chunks(rows_per_statement(11)) {
        let by_id =
            |value: fn(&DemandDetail) -> Arg| chunk.iter().map(move |x| (x.id.as_str(), value(x)));
        let mut q = SqlBuilder::new("UPDATE egbs_demand_detail SET ");
        q.set_by_id("tax_amount", by_id(|x| x.tax_amount.get().into()))
            .push(", ")
            .set_by_id(
                "collection_amount",
                by_id(|x| x.collection_amount.get().into()),
            )
            .push(", ")
            .set_by_id(
                "additional_details",
                by_id(|x| json_text(&x.additional_details).into()),
            )
            .push(", ")
            .set_by_id(
                "last_modified_by",
                by_id(|x| x.audit.last_modified_by.as_str().into()),
            )
            .push(", ")
            .set_by_id(
                "last_modified_ms",
                by_id(|x| x.audit.last_modified_ms.into()),
            );
        let ids: Vec<&str> = chunk.iter().map(|x| x.id.as_str()).collect();
        q.push(" WHERE tenant_id = ")
            .bind(tenant_id)
            .push(" AND id IN ")
            .bind_list(&ids)
            .push(" RETURNING id");
        let rows = q.build().fetch_all(&mut *conn).await?;
        let stored: std::collections::HashSet<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        for x in chunk.iter().filter(|x| !stored.contains(&x.id)) {
            insert_detail(conn, x).await?;
        }
    }
    Ok(())
}

/// [`update`] for many demands (a batch of payments): every changeable field of each, by
/// id, with one statement per few dozen demands, then their details likewise. The demands'
/// consumer codes must be locked by the caller.
pub async fn update_many(conn: &mut AnyConnection, demands: &[Demand]) -> Result<(), DigitError> {
    for d in demands {
        assert_books(d)?;
        touch_cache(d);
    }
    let mut tenants: Vec<&str> = demands.iter().map(|d| d.tenant_id.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let of_tenant: Vec<&Demand> = demands.iter().filter(|d| d.tenant_id == tenant).collect();
        // Eleven CASEs of two parameters, and the id in the IN list.
        for chunk in of_tenant.chunks(rows_per_statement(23)) {
            update_rows(conn, tenant, chunk).await?;
        }
        let details: Vec<&DemandDetail> = of_tenant.iter().flat_map(|d| &d.details).collect();
        update_detail_rows(conn, tenant, &details).await?;
    }
    Ok(())
}

async fn update_rows(
    conn: &mut AnyConnection,
    tenant_id: &str,
    chunk: &[&Demand],
) -> Result<(), DigitError> {
    let ids: Vec<&str> = chunk.iter().map(|d| d.id.as_str()).collect();
    let by_id = |value: fn(&Demand) -> Arg| chunk.iter().map(move |d| (d.id.as_str(), value(d)));
    let mut q = SqlBuilder::new("UPDATE egbs_demand SET ");
    q.set_by_id("payer", by_id(|d| d.payer.clone().into()))
        .push(", ")
        .set_by_id("tax_period_from", by_id(|d| d.tax_period_from.into()))
        .push(", ")
        .set_by_id("tax_period_to", by_id(|d| d.tax_period_to.into()))
        .push(", ")
        .set_by_id(
            "minimum_amount_payable",
            by_id(|d| d.minimum_amount_payable.get().into()),
        )
        .push(", ")
        .set_by_id("bill_expiry_time", by_id(|d| d.bill_expiry_time.into()))
        .push(", ")
        .set_by_id(
            "fixed_bill_expiry_date",
            by_id(|d| d.fixed_bill_expiry_date.into()),
        )
        .push(", ")
        .set_by_id("status", by_id(|d| d.status.as_str().into()))
        .push(", ")
        .set_by_id(
            "is_payment_completed",
            by_id(|d| i64::from(d.is_payment_completed).into()),
        )
        .push(", ")
        .set_by_id(
            "additional_details",
            by_id(|d| json_text(&d.additional_details).into()),
        )
        .push(", ")
        .set_by_id(
            "last_modified_by",
            by_id(|d| d.audit.last_modified_by.as_str().into()),
        )
        .push(", ")
        .set_by_id(
            "last_modified_ms",
            by_id(|d| d.audit.last_modified_ms.into()),
        )
        .push(" WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND id IN ")
        .bind_list(&ids);
    match q.build().execute(&mut *conn).await {
        Err(e) if is_unique_violation(&e) => {
            Err(duplicate_error(chunk.iter().map(|d| &d.consumer_code)))
        }
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}

/// Records the demand as it now is, with its details, in the audit tables, chained for
/// `kosh audit verify` (see [`super::audit`]).
pub async fn audit(conn: &mut AnyConnection, d: &Demand, change: Change) -> Result<(), DigitError> {
    super::audit::record(conn, d, change.as_str()).await
}

/// The audit rows [`audit`] would insert, for a caller that inserts them with others in one
/// chain append (`kosh_platform::audit_chain::insert_batch`).
pub fn audit_rows(d: &Demand, change: Change) -> Vec<kosh_platform::audit_chain::AuditRow> {
    super::audit::rows_of(d, change.as_str())
}

/// [`audit`] for many demands with one change (the bulk importer's path).
pub async fn audit_many(
    conn: &mut AnyConnection,
    demands: &[Demand],
    change: Change,
) -> Result<(), DigitError> {
    super::audit::record_many(conn, demands, change.as_str()).await
}

/// Takes the row locks of the ACTIVE demands of one consumer code of a service, until the
/// transaction ends. Demand writes, bill generation and payments all take them first, so a
/// bill is never made from amounts that a concurrent payment or demand change is altering.
/// (A no-op UPDATE locks rows on PostgreSQL and SQLite alike, where `FOR UPDATE` would not
/// be portable; SQLite has a single writer anyway.)
pub async fn lock_consumer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
) -> Result<(), DigitError> {
    sqlx::query(
        "UPDATE egbs_demand SET status = status WHERE tenant_id = $1 AND business_service = $2 \
         AND consumer_code = $3 AND status = 'ACTIVE'",
    )
    .bind(tenant_id)
    .bind(business_service)
    .bind(consumer_code)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// [`lock_consumer`] for the consumer code of each of these bills, a few hundred bills per
/// statement, with no read: the bills' services and codes are looked up inside the UPDATE,
/// so the caller can read the bills afterwards, under the locks, once. (A batch of payments
/// locks all its bills this way. Two batches over overlapping consumer codes may lock in
/// different orders; PostgreSQL then reports a deadlock, which `write_tx!` retries.)
pub async fn lock_consumers_of_bills(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bill_ids: &[String],
) -> Result<(), DigitError> {
    for chunk in bill_ids.chunks(rows_per_statement(1)) {
        let mut q = SqlBuilder::new("UPDATE egbs_demand SET status = status WHERE tenant_id = ");
        q.bind(tenant_id)
            .push(
                " AND status = 'ACTIVE' AND (business_service, consumer_code) IN \
                 (SELECT business_service, consumer_code FROM egbs_bill WHERE tenant_id = ",
            )
            .bind(tenant_id)
            .push(" AND id IN ")
            .bind_list(chunk)
            .push(")");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`lock_consumer`] for many consumer codes of one tenant and service, a few hundred per
/// statement (the bulk importer's path).
pub async fn lock_consumers(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_codes: &[String],
) -> Result<(), DigitError> {
    for chunk in consumer_codes.chunks(rows_per_statement(1)) {
        let mut q = SqlBuilder::new("UPDATE egbs_demand SET status = status WHERE tenant_id = ");
        q.bind(tenant_id)
            .push(" AND business_service = ")
            .bind(business_service)
            .push(" AND status = 'ACTIVE' AND consumer_code IN ")
            .bind_list(chunk);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The demands with these ids in `tenant_id`, with their details.
pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<Demand>, DigitError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    search(
        conn,
        &DemandFilter {
            tenant_id: tenant_id.to_string(),
            ids: Some(ids.to_vec()),
            ..DemandFilter::default()
        },
    )
    .await
}

/// Demands matching `filter`, oldest tax period first, at most [`SEARCH_LIMIT`].
pub async fn search(
    conn: &mut AnyConnection,
    filter: &DemandFilter,
) -> Result<Vec<Demand>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(DEMAND_COLUMNS).push(" FROM egbs_demand WHERE ");
    push_filter(&mut q, filter);
    let rows = q.build().fetch_all(&mut *conn).await?;
    let mut demands = rows
        .iter()
        .map(demand_from)
        .collect::<Result<Vec<_>, _>>()?;
    attach_details(conn, &filter.tenant_id, &mut demands).await?;
    Ok(demands)
}

/// The (tenant, consumer code) of each demand [`search`] would return for `filter` (the same
/// conditions, order and limit), without reading the demands' other columns or details:
/// fetch-bill needs only these to know which codes to bill.
pub async fn consumer_keys(
    conn: &mut AnyConnection,
    filter: &DemandFilter,
) -> Result<Vec<(String, String)>, DigitError> {
    let mut q = SqlBuilder::new("SELECT tenant_id, consumer_code FROM egbs_demand WHERE ");
    push_filter(&mut q, filter);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("tenant_id")?, r.try_get("consumer_code")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DigitError::from)
}

/// The WHERE conditions, order and limit of a demand search.
fn push_filter(q: &mut SqlBuilder, filter: &DemandFilter) {
    push_tenant(q, "tenant_id", &filter.tenant_id);
    if let Some(ids) = &filter.ids {
        q.push(" AND id IN ").bind_list(ids);
    }
    if let Some(payers) = &filter.payers {
        q.push(" AND payer IN ").bind_list(payers);
    }
    if let Some(codes) = &filter.consumer_codes {
        q.push(" AND consumer_code IN ").bind_list(codes);
    }
    if let Some(service) = &filter.business_service {
        q.push(" AND business_service = ").bind(service);
    }
    if let Some(status) = filter.status {
        q.push(" AND status = ").bind(status.as_str());
    }
    if let Some(done) = filter.is_payment_completed {
        q.push(" AND is_payment_completed = ").bind(i64::from(done));
    }
    if let Some(from) = filter.period_from {
        q.push(" AND tax_period_from >= ").bind(from);
    }
    if let Some(to) = filter.period_to {
        q.push(" AND tax_period_to <= ").bind(to);
    }
    if let Some(from) = filter.created_from {
        q.push(" AND created_ms >= ").bind(from);
    }
    if let Some(to) = filter.created_to {
        q.push(" AND created_ms <= ").bind(to);
    }
    q.push(" ORDER BY tax_period_from, consumer_code, id LIMIT ")
        .bind(SEARCH_LIMIT);
}

async fn attach_details(
    conn: &mut AnyConnection,
    tenant_id: &str,
    demands: &mut [Demand],
) -> Result<(), DigitError> {
    if demands.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = demands.iter().map(|d| d.id.clone()).collect();
    let mut q = SqlBuilder::new("SELECT ");
    q.push(DETAIL_COLUMNS)
        .push(" FROM egbs_demand_detail WHERE ");
    push_tenant(&mut q, "tenant_id", tenant_id);
    q.push(" AND demand_id IN ")
        .bind_list(&ids)
        .push(" ORDER BY created_ms, id");
    let rows = q.build().fetch_all(&mut *conn).await?;
    let mut by_demand: HashMap<(String, String), Vec<DemandDetail>> = HashMap::new();
    for row in &rows {
        let detail = detail_from(row)?;
        by_demand
            .entry((detail.tenant_id.clone(), detail.demand_id.clone()))
            .or_default()
            .push(detail);
    }
    for demand in demands.iter_mut() {
        demand.details = by_demand
            .remove(&(demand.tenant_id.clone(), demand.id.clone()))
            .unwrap_or_default();
    }
    Ok(())
}

/// Inserts new demands and their details with multi-row statements, a few hundred rows per
/// statement (`demand/_create` and the bulk importer). A clash with an ACTIVE demand of the
/// same period is DIGIT's duplicate error.
pub async fn insert_many(conn: &mut AnyConnection, demands: &[Demand]) -> Result<(), DigitError> {
    demands.iter().try_for_each(assert_books)?;
    demands.iter().for_each(touch_cache);
    for chunk in demands.chunks(rows_per_statement(18)) {
        let mut q = SqlBuilder::new(
            "INSERT INTO egbs_demand (id, tenant_id, consumer_code, consumer_type, business_service, payer, \
             tax_period_from, tax_period_to, minimum_amount_payable, bill_expiry_time, fixed_bill_expiry_date, \
             status, is_payment_completed, additional_details, created_by, created_ms, last_modified_by, last_modified_ms) VALUES ",
        );
        for (i, d) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(d.id.as_str())
                .push(", ")
                .bind(d.tenant_id.as_str())
                .push(", ");
            q.bind(d.consumer_code.as_str())
                .push(", ")
                .bind(d.consumer_type.as_str())
                .push(", ");
            q.bind(d.business_service.as_str())
                .push(", ")
                .bind(d.payer.clone())
                .push(", ");
            q.bind(d.tax_period_from)
                .push(", ")
                .bind(d.tax_period_to)
                .push(", ");
            q.bind(d.minimum_amount_payable.get())
                .push(", ")
                .bind(d.bill_expiry_time)
                .push(", ");
            q.bind(d.fixed_bill_expiry_date)
                .push(", ")
                .bind(d.status.as_str())
                .push(", ");
            q.bind(i64::from(d.is_payment_completed))
                .push(", ")
                .bind(json_text(&d.additional_details))
                .push(", ");
            q.bind(d.audit.created_by.as_str())
                .push(", ")
                .bind(d.audit.created_ms)
                .push(", ");
            q.bind(d.audit.last_modified_by.as_str())
                .push(", ")
                .bind(d.audit.last_modified_ms)
                .push(")");
        }
        match q.build().execute(&mut *conn).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(duplicate_error(chunk.iter().map(|d| &d.consumer_code)));
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
    }
    let details: Vec<&DemandDetail> = demands.iter().flat_map(|d| &d.details).collect();
    for chunk in details.chunks(rows_per_statement(11)) {
        let mut q = SqlBuilder::new(
            "INSERT INTO egbs_demand_detail (id, tenant_id, demand_id, tax_head_code, tax_amount, collection_amount, \
             additional_details, created_by, created_ms, last_modified_by, last_modified_ms) VALUES ",
        );
        for (i, x) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(x.id.as_str())
                .push(", ")
                .bind(x.tenant_id.as_str())
                .push(", ");
            q.bind(x.demand_id.as_str())
                .push(", ")
                .bind(x.tax_head_code.as_str())
                .push(", ");
            q.bind(x.tax_amount.get())
                .push(", ")
                .bind(x.collection_amount.get())
                .push(", ");
            q.bind(json_text(&x.additional_details))
                .push(", ")
                .bind(x.audit.created_by.as_str())
                .push(", ");
            q.bind(x.audit.created_ms)
                .push(", ")
                .bind(x.audit.last_modified_by.as_str())
                .push(", ");
            q.bind(x.audit.last_modified_ms).push(")");
        }
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// A demand as the bulk importer tells demands apart: tenant, service, consumer code, tax
/// period from and to, and status.
pub type ImportKey = (String, String, String, i64, i64, String);

/// Which of `keys` (all of one tenant and service) are already stored, looked up through
/// the consumer-code index a few hundred codes at a time.
pub async fn existing_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    keys: &[ImportKey],
) -> Result<std::collections::HashSet<ImportKey>, DigitError> {
    let wanted: std::collections::HashSet<&ImportKey> = keys.iter().collect();
    let mut codes: Vec<String> = keys.iter().map(|k| k.2.clone()).collect();
    codes.sort();
    codes.dedup();
    let mut found = std::collections::HashSet::new();
    for chunk in codes.chunks(rows_per_statement(1)) {
        let mut q = SqlBuilder::new(
            "SELECT tenant_id, business_service, consumer_code, tax_period_from, tax_period_to, status \
             FROM egbs_demand WHERE tenant_id = ",
        );
        q.bind(tenant_id)
            .push(" AND business_service = ")
            .bind(business_service)
            .push(" AND consumer_code IN ")
            .bind_list(chunk);
        for row in q.build().fetch_all(&mut *conn).await? {
            let key: ImportKey = (
                row.try_get("tenant_id")?,
                row.try_get("business_service")?,
                row.try_get("consumer_code")?,
                row.try_get("tax_period_from")?,
                row.try_get("tax_period_to")?,
                row.try_get("status")?,
            );
            if wanted.contains(&key) {
                found.insert(key);
            }
        }
    }
    Ok(found)
}

/// The consumer codes among `keys` (consumer code, tax period from, tax period to) that
/// already have an ACTIVE demand of `business_service` for exactly that period: the ACTIVE
/// demands of the codes are read through the consumer-code index, a few hundred codes per
/// statement, and matched here.
pub async fn active_duplicates(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    keys: &[(String, i64, i64)],
) -> Result<Vec<String>, DigitError> {
    let wanted: std::collections::HashSet<(&str, i64, i64)> = keys
        .iter()
        .map(|(code, from, to)| (code.as_str(), *from, *to))
        .collect();
    let mut codes: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    codes.sort();
    codes.dedup();
    let mut found = std::collections::BTreeSet::new();
    for chunk in codes.chunks(rows_per_statement(1)) {
        let mut q = SqlBuilder::new(
            "SELECT consumer_code, tax_period_from, tax_period_to FROM egbs_demand WHERE tenant_id = ",
        );
        q.bind(tenant_id)
            .push(" AND business_service = ")
            .bind(business_service)
            .push(" AND consumer_code IN ")
            .bind_list(chunk)
            .push(" AND status = 'ACTIVE'");
        for row in q.build().fetch_all(&mut *conn).await? {
            let code: String = row.try_get("consumer_code")?;
            let from: i64 = row.try_get("tax_period_from")?;
            let to: i64 = row.try_get("tax_period_to")?;
            if wanted.contains(&(code.as_str(), from, to)) {
                found.insert(code);
            }
        }
    }
    Ok(found.into_iter().collect())
}
