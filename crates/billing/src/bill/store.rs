//! Bills in the database. The partial unique index `egbs_bill_one_active` lets one bill per
//! (tenant, service, consumer code) be ACTIVE; [`claim`] inserts a new bill only where it
//! wins that place, so two requests can never both leave an ACTIVE bill.
//!
//! Reads: a bill is read whole, with its details and their account details, in ONE
//! statement ([`JOINED`]: the bill row joined to its details and account details, each found
//! by its parent on the child's index), so fetch-bill of a consumer code is one indexed read
//! ([`active_for_codes`]) and a payment's bill one read by primary key ([`load`]).
//! Writes: a new bill's details and account details go in as multi-row inserts
//! ([`insert_details`]), one statement per table.

use std::collections::HashMap;

use kosh_platform::db::native::Cells;
use kosh_platform::money::Paise;
use kosh_platform::pii::{self, Vault, table::BILLS};
use kosh_platform::sql::{Arg, SqlBuilder, rows_per_statement};
use kosh_platform::{Db, DigitError};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use super::{Bill, BillAccountDetail, BillDetail, BillStatus};
use crate::demand::Audit;
use crate::query::{json_column, json_text, push_tenant};
use crate::visibility::Scope;

/// A bill row; its payer comes out of the sealed `pii` column.
fn bill_from_with<R: Cells>(vault: &Vault, row: &R) -> Result<Bill, sqlx::Error> {
    let status: String = row.cell("status")?;
    let mut payer = BILLS.open(vault, row)?;
    let modes: Option<String> = row.cell("collection_modes_not_allowed")?;
    Ok(Bill {
        id: row.cell("id")?,
        tenant_id: row.cell("tenant_id")?,
        consumer_code: row.cell("consumer_code")?,
        business_service: row.cell("business_service")?,
        bill_number: row.cell("bill_number")?,
        bill_date: row.cell("bill_date")?,
        seq: row.cell("seq")?,
        status: BillStatus::parse(&status).unwrap_or(BillStatus::Expired),
        total_amount: Paise::new(row.cell("total_amount")?),
        amount_paid: Paise::new(row.cell("amount_paid")?),
        user_id: row.cell("user_id")?,
        payer_name: payer.take("payer_name"),
        payer_address: payer.take("payer_address"),
        payer_email: payer.take("payer_email"),
        mobile_number: payer.take("mobile_number"),
        part_payment_allowed: row.cell::<i64>("part_payment_allowed")? != 0,
        is_advance_allowed: row.cell::<i64>("is_advance_allowed")? != 0,
        minimum_amount_to_be_paid: Paise::new(row.cell("minimum_amount_to_be_paid")?),
        collection_modes_not_allowed: modes
            .map(|m| {
                m.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        additional_details: json_column(row.cell("additional_details")?),
        file_store_id: row.cell("file_store_id")?,
        payment_id: row.cell("payment_id")?,
        advance_amount: Paise::new(row.cell("advance_amount")?),
        advance_demand_detail_id: row.cell("advance_demand_detail_id")?,
        audit: Audit {
            created_by: row.cell("created_by")?,
            created_ms: row.cell("created_ms")?,
            last_modified_by: row.cell("last_modified_by")?,
            last_modified_ms: row.cell("last_modified_ms")?,
        },
        details: Vec::new(),
    })
}

/// A bill with its details and their account details, one row per account detail (a bill
/// or detail without children still gives one row: the joins are LEFT). The bill's columns
/// keep their names, so [`bill_from_with`] reads them; a detail's are `d_...`, an account
/// detail's `a_...`. Each join follows the child's index on (tenant_id, parent id).
/// The caller appends the bill conditions after `WHERE `.
const JOINED: &str = "SELECT b.id AS id, b.tenant_id AS tenant_id, b.consumer_code AS consumer_code, \
     b.business_service AS business_service, b.bill_number AS bill_number, b.bill_date AS bill_date, b.seq AS seq, \
     b.status AS status, b.total_amount AS total_amount, b.amount_paid AS amount_paid, b.user_id AS user_id, \
     b.payer_name AS payer_name, b.payer_address AS payer_address, b.payer_email AS payer_email, \
     b.mobile_number AS mobile_number, b.part_payment_allowed AS part_payment_allowed, \
     b.is_advance_allowed AS is_advance_allowed, b.minimum_amount_to_be_paid AS minimum_amount_to_be_paid, \
     b.collection_modes_not_allowed AS collection_modes_not_allowed, b.additional_details AS additional_details, \
     b.file_store_id AS file_store_id, b.payment_id AS payment_id, b.advance_amount AS advance_amount, \
     b.advance_demand_detail_id AS advance_demand_detail_id, b.created_by AS created_by, b.created_ms AS created_ms, \
     b.last_modified_by AS last_modified_by, b.last_modified_ms AS last_modified_ms, b.pii AS pii, \
     d.id AS d_id, d.demand_id AS d_demand_id, d.from_period AS d_from_period, d.to_period AS d_to_period, \
     d.expiry_date AS d_expiry_date, d.amount AS d_amount, d.amount_paid AS d_amount_paid, \
     d.additional_details AS d_additional_details, \
     a.id AS a_id, a.demand_detail_id AS a_demand_detail_id, a.tax_head_code AS a_tax_head_code, \
     a.order_no AS a_order_no, a.amount AS a_amount, a.adjusted_amount AS a_adjusted_amount, \
     a.additional_details AS a_additional_details \
     FROM egbs_bill b \
     LEFT JOIN egbs_bill_detail d ON d.tenant_id = b.tenant_id AND d.bill_id = b.id \
     LEFT JOIN egbs_bill_account_detail a ON a.tenant_id = d.tenant_id AND a.bill_detail_id = d.id \
     WHERE ";

/// Runs a [`JOINED`] query and puts its rows back together: the bills in the order their
/// first rows came, each detail once under its bill (oldest period first, as DIGIT orders
/// them), each account detail under its detail (by order, tax head).
async fn read_joined(conn: &mut AnyConnection, q: &SqlBuilder) -> Result<Vec<Bill>, DigitError> {
    assemble(&q.build().fetch_all(&mut *conn).await?)
}

/// [`read_joined`] outside any transaction, through the database's own driver
/// (`kosh_platform::db::native`) unless it is turned off: for the hot reads.
async fn read_joined_outside(db: &Db, q: &SqlBuilder) -> Result<Vec<Bill>, DigitError> {
    assemble(&db.read_outside(q).await?)
}

/// The bills of [`JOINED`] rows, from either driver.
fn assemble<R: Cells>(rows: &[R]) -> Result<Vec<Bill>, DigitError> {
    let vault = pii::vault();
    let mut bills: Vec<Bill> = Vec::new();
    let mut bill_at: HashMap<String, usize> = HashMap::new();
    // (bill's place, detail's place in that bill), by detail id.
    let mut detail_at: HashMap<String, (usize, usize)> = HashMap::new();
    for row in rows {
        let bill_id: String = row.cell("id")?;
        let b = match bill_at.get(&bill_id) {
            Some(&b) => b,
            None => {
                bills.push(bill_from_with(&vault, row)?);
                bill_at.insert(bill_id, bills.len() - 1);
                bills.len() - 1
            }
        };
        let Some(detail_id) = row.cell::<Option<String>>("d_id")? else {
            continue;
        };
        let d = match detail_at.get(&detail_id) {
            Some(&(_, d)) => d,
            None => {
                let bill = &mut bills[b];
                bill.details
                    .push(joined_detail(row, bill, detail_id.clone())?);
                detail_at.insert(detail_id, (b, bill.details.len() - 1));
                bill.details.len() - 1
            }
        };
        if let Some(account_id) = row.cell::<Option<String>>("a_id")? {
            let detail = &mut bills[b].details[d];
            let account = joined_account(row, detail, account_id)?;
            detail.account_details.push(account);
        }
    }
    for bill in &mut bills {
        bill.details
            .sort_by(|x, y| (x.from_period, &x.id).cmp(&(y.from_period, &y.id)));
        for detail in &mut bill.details {
            detail.account_details.sort_by(|x, y| {
                (x.order, &x.tax_head_code, &x.id).cmp(&(y.order, &y.tax_head_code, &y.id))
            });
        }
    }
    Ok(bills)
}

/// The `d_...` columns of a [`JOINED`] row: a detail of `bill` (same tenant, by the join).
fn joined_detail<R: Cells>(row: &R, bill: &Bill, id: String) -> Result<BillDetail, sqlx::Error> {
    Ok(BillDetail {
        id,
        tenant_id: bill.tenant_id.clone(),
        bill_id: bill.id.clone(),
        demand_id: row.cell("d_demand_id")?,
        from_period: row.cell("d_from_period")?,
        to_period: row.cell("d_to_period")?,
        expiry_date: row.cell("d_expiry_date")?,
        amount: Paise::new(row.cell("d_amount")?),
        amount_paid: Paise::new(row.cell("d_amount_paid")?),
        additional_details: json_column(row.cell("d_additional_details")?),
        account_details: Vec::new(),
    })
}

/// The `a_...` columns of a [`JOINED`] row: an account detail of `detail`.
fn joined_account<R: Cells>(
    row: &R,
    detail: &BillDetail,
    id: String,
) -> Result<BillAccountDetail, sqlx::Error> {
    Ok(BillAccountDetail {
        id,
        tenant_id: detail.tenant_id.clone(),
        bill_detail_id: detail.id.clone(),
        demand_detail_id: row.cell("a_demand_detail_id")?,
        tax_head_code: row.cell("a_tax_head_code")?,
        order: row.cell("a_order_no")?,
        amount: Paise::new(row.cell("a_amount")?),
        adjusted_amount: Paise::new(row.cell("a_adjusted_amount")?),
        additional_details: json_column(row.cell("a_additional_details")?),
    })
}

/// Inserts `bill` (without its details) as the ACTIVE bill of its consumer code, in its
/// place `bill.seq`. `false` when another ACTIVE bill holds that place: the caller reads
/// the winner instead.
pub async fn claim(conn: &mut AnyConnection, bill: &Bill) -> Result<bool, DigitError> {
    Ok(insert_active(conn, bill, Place::Given).await?.is_some())
}

/// [`claim`], taking the next place among the consumer code's bills (one more than the
/// highest, read inside the insert) and writing it into `bill.seq`. Run under the consumer
/// code's demand locks, so two new bills never take the same place.
pub async fn claim_next(conn: &mut AnyConnection, bill: &mut Bill) -> Result<bool, DigitError> {
    match insert_active(conn, bill, Place::Next).await? {
        Some(seq) => {
            bill.seq = seq;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Where a new bill goes among its consumer code's bills.
enum Place {
    Given,
    Next,
}

/// The insert of [`claim`] and [`claim_next`]: the seq taken, or `None` when another ACTIVE
/// bill holds the place.
async fn insert_active(
    conn: &mut AnyConnection,
    bill: &Bill,
    place: Place,
) -> Result<Option<i64>, DigitError> {
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    let modes = bill.collection_modes_not_allowed.join(",");
    let sealed = BILLS.seal(
        &pii::vault(),
        &[
            bill.payer_name.as_deref(),
            bill.payer_address.as_deref(),
            bill.payer_email.as_deref(),
            bill.mobile_number.as_deref(),
        ],
        None,
    );
    let mut q = SqlBuilder::new(
        "INSERT INTO egbs_bill (id, tenant_id, consumer_code, business_service, bill_number, bill_date, seq, status, \
         total_amount, amount_paid, user_id, payer_name, payer_address, payer_email, mobile_number, \
         part_payment_allowed, is_advance_allowed, minimum_amount_to_be_paid, collection_modes_not_allowed, \
         additional_details, file_store_id, payment_id, advance_amount, advance_demand_detail_id, \
         created_by, created_ms, last_modified_by, last_modified_ms, pii) VALUES (",
    );
    q.bind(&bill.id).push(", ");
    q.bind(&bill.tenant_id).push(", ");
    q.bind(&bill.consumer_code).push(", ");
    q.bind(&bill.business_service).push(", ");
    q.bind(bill.bill_number.clone()).push(", ");
    q.bind(bill.bill_date).push(", ");
    match place {
        Place::Given => {
            q.bind(bill.seq);
        }
        Place::Next => {
            q.push("(SELECT COALESCE(MAX(seq), 0) + 1 FROM egbs_bill WHERE tenant_id = ")
                .bind(&bill.tenant_id)
                .push(" AND business_service = ")
                .bind(&bill.business_service)
                .push(" AND consumer_code = ")
                .bind(&bill.consumer_code)
                .push(")");
        }
    }
    q.push(", ");
    q.bind(bill.status.as_str()).push(", ");
    q.bind(bill.total_amount.get()).push(", ");
    q.bind(bill.amount_paid.get()).push(", ");
    q.bind(bill.user_id.clone()).push(", ");
    for i in 0..4 {
        q.bind(sealed.column(i).map(str::to_string)).push(", ");
    }
    q.bind(i64::from(bill.part_payment_allowed)).push(", ");
    q.bind(i64::from(bill.is_advance_allowed)).push(", ");
    q.bind(bill.minimum_amount_to_be_paid.get()).push(", ");
    q.bind((!modes.is_empty()).then_some(modes)).push(", ");
    q.bind(json_text(&bill.additional_details)).push(", ");
    q.bind(bill.file_store_id.clone()).push(", ");
    q.bind(bill.payment_id.clone()).push(", ");
    q.bind(bill.advance_amount.get()).push(", ");
    q.bind(bill.advance_demand_detail_id.clone()).push(", ");
    q.bind(&bill.audit.created_by).push(", ");
    q.bind(bill.audit.created_ms).push(", ");
    q.bind(&bill.audit.last_modified_by).push(", ");
    q.bind(bill.audit.last_modified_ms).push(", ");
    q.bind(sealed.pii).push(
        ") ON CONFLICT (tenant_id, business_service, consumer_code) WHERE status = 'ACTIVE' \
         DO NOTHING RETURNING seq",
    );
    let row = q.build().fetch_optional(&mut *conn).await?;
    Ok(match row {
        Some(row) => Some(row.try_get::<i64, _>("seq")?),
        None => None,
    })
}

pub async fn set_number(conn: &mut AnyConnection, bill: &Bill) -> Result<(), DigitError> {
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    sqlx::query("UPDATE egbs_bill SET bill_number = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(&bill.bill_number)
        .bind(&bill.tenant_id)
        .bind(&bill.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts the details and account details of a claimed bill: one multi-row statement per
/// table (more only past [`rows_per_statement`]'s bound on parameters).
pub async fn insert_details(conn: &mut AnyConnection, bill: &Bill) -> Result<(), DigitError> {
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    for chunk in bill.details.chunks(rows_per_statement(10)) {
        let mut q = SqlBuilder::new(
            "INSERT INTO egbs_bill_detail (id, tenant_id, bill_id, demand_id, from_period, to_period, expiry_date, \
             amount, amount_paid, additional_details) VALUES ",
        );
        for (i, detail) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(&detail.id).push(", ");
            q.bind(&detail.tenant_id).push(", ");
            q.bind(&detail.bill_id).push(", ");
            q.bind(&detail.demand_id).push(", ");
            q.bind(detail.from_period).push(", ");
            q.bind(detail.to_period).push(", ");
            q.bind(detail.expiry_date).push(", ");
            q.bind(detail.amount.get()).push(", ");
            q.bind(detail.amount_paid.get()).push(", ");
            q.bind(json_text(&detail.additional_details)).push(")");
        }
        q.build().execute(&mut *conn).await?;
    }
    let accounts: Vec<&BillAccountDetail> = bill
        .details
        .iter()
        .flat_map(|d| &d.account_details)
        .collect();
    for chunk in accounts.chunks(rows_per_statement(9)) {
        let mut q = SqlBuilder::new(
            "INSERT INTO egbs_bill_account_detail (id, tenant_id, bill_detail_id, demand_detail_id, tax_head_code, \
             order_no, amount, adjusted_amount, additional_details) VALUES ",
        );
        for (i, account) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(&account.id).push(", ");
            q.bind(&account.tenant_id).push(", ");
            q.bind(&account.bill_detail_id).push(", ");
            q.bind(&account.demand_detail_id).push(", ");
            q.bind(&account.tax_head_code).push(", ");
            q.bind(account.order).push(", ");
            q.bind(account.amount.get()).push(", ");
            q.bind(account.adjusted_amount.get()).push(", ");
            q.bind(json_text(&account.additional_details)).push(")");
        }
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The ACTIVE bill of a consumer code of a service (of exactly `tenant_id`), with its
/// details: one statement ([`active_for_codes`]).
pub async fn active_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
) -> Result<Option<Bill>, DigitError> {
    let codes = [consumer_code.to_string()];
    let bills = active_for_codes(conn, tenant_id, business_service, &codes, &Scope::Tenant).await?;
    Ok(bills.into_iter().next())
}

/// The ACTIVE bills of these consumer codes of a service, of exactly `tenant_id` (a city:
/// a bill belongs to one tenant), that `scope` lets the caller see, with their details,
/// sorted by consumer code. One statement: every term of the partial unique index
/// `egbs_bill_one_active` (tenant, service, consumer code, status 'ACTIVE' written as a
/// literal so both databases match the index's predicate) is an equality, then each bill's
/// details and account details by their parent's index.
pub async fn active_for_codes(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_codes: &[String],
    scope: &Scope,
) -> Result<Vec<Bill>, DigitError> {
    let mut bills = Vec::new();
    for q in active_queries(tenant_id, business_service, consumer_codes, scope) {
        bills.extend(read_joined(conn, &q).await?);
    }
    Ok(by_consumer_code(bills))
}

/// [`active_for_codes`] outside any transaction, through the database's own driver: the
/// read of fetch-bill's common case, a valid bill reused.
pub async fn active_for_codes_outside(
    db: &Db,
    tenant_id: &str,
    business_service: &str,
    consumer_codes: &[String],
    scope: &Scope,
) -> Result<Vec<Bill>, DigitError> {
    let mut bills = Vec::new();
    for q in active_queries(tenant_id, business_service, consumer_codes, scope) {
        bills.extend(read_joined_outside(db, &q).await?);
    }
    Ok(by_consumer_code(bills))
}

/// [`active_for_codes`]'s order: by consumer code.
fn by_consumer_code(mut bills: Vec<Bill>) -> Vec<Bill> {
    bills.sort_by(|x, y| x.consumer_code.cmp(&y.consumer_code));
    bills
}

/// [`active_for_codes`]'s statements: one per chunk of codes that fits a statement.
fn active_queries(
    tenant_id: &str,
    business_service: &str,
    consumer_codes: &[String],
    scope: &Scope,
) -> Vec<SqlBuilder> {
    consumer_codes
        .chunks(rows_per_statement(1))
        .map(|chunk| {
            let mut q = SqlBuilder::new(JOINED);
            q.push("b.tenant_id = ")
                .bind(tenant_id)
                .push(" AND b.business_service = ")
                .bind(business_service)
                .push(" AND b.status = 'ACTIVE' AND b.consumer_code IN ")
                .bind_list(chunk);
            scope.push_bill_filter(&mut q, "b.");
            q
        })
        .collect()
}

/// The most recently made bill of a consumer code of a service: (id, status).
pub async fn latest(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
) -> Result<Option<(String, BillStatus)>, DigitError> {
    let row = sqlx::query(
        "SELECT id, status FROM egbs_bill WHERE tenant_id = $1 AND business_service = $2 AND consumer_code = $3 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(tenant_id)
    .bind(business_service)
    .bind(consumer_code)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(row) => {
            let status: String = row.try_get("status")?;
            Some((
                row.try_get("id")?,
                BillStatus::parse(&status).unwrap_or(BillStatus::Expired),
            ))
        }
        None => None,
    })
}

pub async fn load_one(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Bill>, DigitError> {
    Ok(load(conn, tenant_id, &[id.to_string()])
        .await?
        .into_iter()
        .next())
}

/// The bills with these ids in `tenant_id` (a state covers its cities), with their details,
/// in the order of `ids`: one statement (by primary key, for a city).
pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<Bill>, DigitError> {
    let mut by_id: HashMap<String, Bill> = HashMap::new();
    for chunk in ids.chunks(rows_per_statement(1)) {
        let mut q = SqlBuilder::new(JOINED);
        push_tenant(&mut q, "b.tenant_id", tenant_id);
        q.push(" AND b.id IN ").bind_list(chunk);
        by_id.extend(
            read_joined(conn, &q)
                .await?
                .into_iter()
                .map(|b| (b.id.clone(), b)),
        );
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Moves a bill to `to` if it is in one of `from`; whether it moved.
pub async fn set_status(
    conn: &mut AnyConnection,
    bill: &Bill,
    from: &[BillStatus],
    to: BillStatus,
    actor: &str,
    now_ms: i64,
) -> Result<bool, DigitError> {
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let mut q = SqlBuilder::new("UPDATE egbs_bill SET status = ");
    q.bind(to.as_str())
        .push(", last_modified_by = ")
        .bind(actor)
        .push(", last_modified_ms = ")
        .bind(now_ms)
        .push(" WHERE tenant_id = ")
        .bind(&bill.tenant_id)
        .push(" AND id = ")
        .bind(&bill.id)
        .push(" AND status IN ")
        .bind_list(&from);
    Ok(q.build().execute(&mut *conn).await?.rows_affected() == 1)
}

/// Expires the ACTIVE bill of a consumer code of a service (other than `except`): its
/// amounts no longer match the demands.
pub async fn expire_active(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
    except: Option<&str>,
    actor: &str,
    now_ms: i64,
) -> Result<u64, DigitError> {
    super::cache::touch_consumer(business_service, consumer_code);
    let mut q = SqlBuilder::new("UPDATE egbs_bill SET status = 'EXPIRED', last_modified_by = ");
    q.bind(actor)
        .push(", last_modified_ms = ")
        .bind(now_ms)
        .push(" WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND business_service = ")
        .bind(business_service)
        .push(" AND consumer_code = ")
        .bind(consumer_code)
        .push(" AND status = 'ACTIVE'");
    if let Some(id) = except {
        q.push(" AND id <> ").bind(id);
    }
    Ok(q.build().execute(&mut *conn).await?.rows_affected())
}

/// Which of these consumer codes (of one tenant and service) have an ACTIVE bill.
pub async fn with_active_bill(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_codes: &[String],
) -> Result<Vec<String>, DigitError> {
    let mut out = Vec::new();
    for chunk in consumer_codes.chunks(kosh_platform::sql::rows_per_statement(1)) {
        let mut q = SqlBuilder::new("SELECT consumer_code FROM egbs_bill WHERE tenant_id = ");
        q.bind(tenant_id)
            .push(" AND business_service = ")
            .bind(business_service)
            .push(" AND status = 'ACTIVE' AND consumer_code IN ")
            .bind_list(chunk);
        for row in q.build().fetch_all(&mut *conn).await? {
            out.push(row.try_get("consumer_code")?);
        }
    }
    Ok(out)
}

/// Cancels an ACTIVE bill, writing `additional_details` over its own.
pub async fn cancel(
    conn: &mut AnyConnection,
    bill: &Bill,
    additional_details: &Value,
    actor: &str,
    now_ms: i64,
) -> Result<bool, DigitError> {
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    let done = sqlx::query(
        "UPDATE egbs_bill SET status = 'CANCELLED', additional_details = $1, last_modified_by = $2, \
         last_modified_ms = $3 WHERE tenant_id = $4 AND id = $5 AND status = 'ACTIVE'",
    )
    .bind(additional_details.to_string())
    .bind(actor)
    .bind(now_ms)
    .bind(&bill.tenant_id)
    .bind(&bill.id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes what a payment (or its reversal) did to a bill: status, amounts paid per detail
/// and per account detail, the payment and its advance.
pub async fn save_payment(conn: &mut AnyConnection, bill: &Bill) -> Result<(), DigitError> {
    save_payments(conn, &[bill]).await
}

/// [`save_payment`] for many bills (a batch of payments): one statement per table for a few
/// dozen bills (a `CASE` keyed by the row's id), not one per row: a bill of eight tax heads
/// was nine round trips here.
pub async fn save_payments(conn: &mut AnyConnection, bills: &[&Bill]) -> Result<(), DigitError> {
    let mut tenants: Vec<&str> = bills.iter().map(|b| b.tenant_id.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let of_tenant: Vec<&Bill> = bills
            .iter()
            .copied()
            .filter(|b| b.tenant_id == tenant)
            .collect();
        // Seven CASEs of two parameters, and the id in the IN list.
        for chunk in of_tenant.chunks(rows_per_statement(15)) {
            save_bill_rows(conn, tenant, chunk).await?;
        }
        let details: Vec<(&str, i64)> = of_tenant
            .iter()
            .flat_map(|b| &b.details)
            .map(|d| (d.id.as_str(), d.amount_paid.get()))
            .collect();
        set_amounts(conn, "egbs_bill_detail", "amount_paid", tenant, &details).await?;
        let accounts: Vec<(&str, i64)> = of_tenant
            .iter()
            .flat_map(|b| &b.details)
            .flat_map(|d| &d.account_details)
            .map(|a| (a.id.as_str(), a.adjusted_amount.get()))
            .collect();
        set_amounts(
            conn,
            "egbs_bill_account_detail",
            "adjusted_amount",
            tenant,
            &accounts,
        )
        .await?;
    }
    Ok(())
}

async fn save_bill_rows(
    conn: &mut AnyConnection,
    tenant_id: &str,
    chunk: &[&Bill],
) -> Result<(), DigitError> {
    for bill in chunk {
        super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    }
    let by_id = |value: fn(&Bill) -> Arg| chunk.iter().map(move |b| (b.id.as_str(), value(b)));
    let ids: Vec<&str> = chunk.iter().map(|b| b.id.as_str()).collect();
    let mut q = SqlBuilder::new("UPDATE egbs_bill SET ");
    q.set_by_id("status", by_id(|b| b.status.as_str().into()))
        .push(", ")
        .set_by_id("amount_paid", by_id(|b| b.amount_paid.get().into()))
        .push(", ")
        .set_by_id("payment_id", by_id(|b| b.payment_id.clone().into()))
        .push(", ")
        .set_by_id("advance_amount", by_id(|b| b.advance_amount.get().into()))
        .push(", ")
        .set_by_id(
            "advance_demand_detail_id",
            by_id(|b| b.advance_demand_detail_id.clone().into()),
        )
        .push(", ")
        .set_by_id(
            "last_modified_by",
            by_id(|b| b.audit.last_modified_by.as_str().into()),
        )
        .push(", ")
        .set_by_id(
            "last_modified_ms",
            by_id(|b| b.audit.last_modified_ms.into()),
        )
        .push(" WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND id IN ")
        .bind_list(&ids);
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// Sets `column` of each row of `table` (of `tenant_id`) by id, a few hundred rows per
/// statement.
async fn set_amounts(
    conn: &mut AnyConnection,
    table: &'static str,
    column: &'static str,
    tenant_id: &str,
    amounts: &[(&str, i64)],
) -> Result<(), DigitError> {
    for chunk in amounts.chunks(rows_per_statement(3)) {
        let mut q = SqlBuilder::new("UPDATE ");
        q.push(table)
            .push(" SET ")
            .set_by_id(column, chunk.iter().copied());
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| *id).collect();
        q.push(" WHERE tenant_id = ")
            .bind(tenant_id)
            .push(" AND id IN ")
            .bind_list(&ids);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One row of a bill search before the latest-per-consumer-code rule is applied.
#[derive(Debug, Clone)]
pub struct BillHead {
    pub id: String,
    pub tenant_id: String,
    pub business_service: String,
    pub consumer_code: String,
    pub seq: i64,
    pub created_ms: i64,
}

/// Runs a search query that selects `id, tenant_id, business_service, consumer_code, seq,
/// created_ms` of bills.
pub async fn heads(conn: &mut AnyConnection, q: &SqlBuilder) -> Result<Vec<BillHead>, DigitError> {
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(BillHead {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                business_service: r.try_get("business_service")?,
                consumer_code: r.try_get("consumer_code")?,
                seq: r.try_get("seq")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DigitError::from)
}
