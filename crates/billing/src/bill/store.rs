//! Bills in the database. The partial unique index `egbs_bill_one_active` lets one bill per
//! (tenant, service, consumer code) be ACTIVE; [`claim`] inserts a new bill only where it
//! wins that place, so two requests can never both leave an ACTIVE bill.

use std::collections::HashMap;

use kosh_platform::DigitError;
use kosh_platform::money::Paise;
use kosh_platform::pii::{self, Vault, table::BILLS};
use kosh_platform::sql::SqlBuilder;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Bill, BillAccountDetail, BillDetail, BillStatus};
use crate::demand::Audit;
use crate::query::{json_column, json_text, push_tenant};

const BILL_COLUMNS: &str = "id, tenant_id, consumer_code, business_service, bill_number, bill_date, seq, status, \
     total_amount, amount_paid, user_id, payer_name, payer_address, payer_email, mobile_number, \
     part_payment_allowed, is_advance_allowed, minimum_amount_to_be_paid, collection_modes_not_allowed, \
     additional_details, file_store_id, payment_id, advance_amount, advance_demand_detail_id, \
     created_by, created_ms, last_modified_by, last_modified_ms, pii";

fn bill_from(row: &AnyRow) -> Result<Bill, sqlx::Error> {
    bill_from_with(&pii::vault(), row)
}

/// A bill row; its payer comes out of the sealed `pii` column.
fn bill_from_with(vault: &Vault, row: &AnyRow) -> Result<Bill, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let mut payer = BILLS.open(vault, row)?;
    let modes: Option<String> = row.try_get("collection_modes_not_allowed")?;
    Ok(Bill {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        consumer_code: row.try_get("consumer_code")?,
        business_service: row.try_get("business_service")?,
        bill_number: row.try_get("bill_number")?,
        bill_date: row.try_get("bill_date")?,
        seq: row.try_get("seq")?,
        status: BillStatus::parse(&status).unwrap_or(BillStatus::Expired),
        total_amount: Paise::new(row.try_get("total_amount")?),
        amount_paid: Paise::new(row.try_get("amount_paid")?),
        user_id: row.try_get("user_id")?,
        payer_name: payer.take("payer_name"),
        payer_address: payer.take("payer_address"),
        payer_email: payer.take("payer_email"),
        mobile_number: payer.take("mobile_number"),
        part_payment_allowed: row.try_get::<i64, _>("part_payment_allowed")? != 0,
        is_advance_allowed: row.try_get::<i64, _>("is_advance_allowed")? != 0,
        minimum_amount_to_be_paid: Paise::new(row.try_get("minimum_amount_to_be_paid")?),
        collection_modes_not_allowed: modes
            .map(|m| {
                m.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        additional_details: json_column(row.try_get("additional_details")?),
        file_store_id: row.try_get("file_store_id")?,
        payment_id: row.try_get("payment_id")?,
        advance_amount: Paise::new(row.try_get("advance_amount")?),
        advance_demand_detail_id: row.try_get("advance_demand_detail_id")?,
        audit: Audit {
            created_by: row.try_get("created_by")?,
            created_ms: row.try_get("created_ms")?,
            last_modified_by: row.try_get("last_modified_by")?,
            last_modified_ms: row.try_get("last_modified_ms")?,
        },
        details: Vec::new(),
    })
}

fn detail_from(row: &AnyRow) -> Result<BillDetail, sqlx::Error> {
    Ok(BillDetail {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        bill_id: row.try_get("bill_id")?,
        demand_id: row.try_get("demand_id")?,
        from_period: row.try_get("from_period")?,
        to_period: row.try_get("to_period")?,
        expiry_date: row.try_get("expiry_date")?,
        amount: Paise::new(row.try_get("amount")?),
        amount_paid: Paise::new(row.try_get("amount_paid")?),
        additional_details: json_column(row.try_get("additional_details")?),
        account_details: Vec::new(),
    })
}

fn account_from(row: &AnyRow) -> Result<BillAccountDetail, sqlx::Error> {
    Ok(BillAccountDetail {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        bill_detail_id: row.try_get("bill_detail_id")?,
        demand_detail_id: row.try_get("demand_detail_id")?,
        tax_head_code: row.try_get("tax_head_code")?,
        order: row.try_get("order_no")?,
        amount: Paise::new(row.try_get("amount")?),
        adjusted_amount: Paise::new(row.try_get("adjusted_amount")?),
        additional_details: json_column(row.try_get("additional_details")?),
    })
}

/// Inserts `bill` (without its details) as the ACTIVE bill of its consumer code. `false`
/// when another ACTIVE bill holds that place: the caller reads the winner instead.
pub async fn claim(conn: &mut AnyConnection, bill: &Bill) -> Result<bool, DigitError> {
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
    let inserted = sqlx::query(
        "INSERT INTO egbs_bill (id, tenant_id, consumer_code, business_service, bill_number, bill_date, seq, status, \
         total_amount, amount_paid, user_id, payer_name, payer_address, payer_email, mobile_number, \
         part_payment_allowed, is_advance_allowed, minimum_amount_to_be_paid, collection_modes_not_allowed, \
         additional_details, file_store_id, payment_id, advance_amount, advance_demand_detail_id, \
         created_by, created_ms, last_modified_by, last_modified_ms, pii) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $27, $28, $29) \
         ON CONFLICT (tenant_id, business_service, consumer_code) WHERE status = 'ACTIVE' DO NOTHING",
    )
    .bind(&bill.id)
    .bind(&bill.tenant_id)
    .bind(&bill.consumer_code)
    .bind(&bill.business_service)
    .bind(&bill.bill_number)
    .bind(bill.bill_date)
    .bind(bill.seq)
    .bind(bill.status.as_str())
    .bind(bill.total_amount.get())
    .bind(bill.amount_paid.get())
    .bind(&bill.user_id)
    .bind(sealed.column(0))
    .bind(sealed.column(1))
    .bind(sealed.column(2))
    .bind(sealed.column(3))
    .bind(i64::from(bill.part_payment_allowed))
    .bind(i64::from(bill.is_advance_allowed))
    .bind(bill.minimum_amount_to_be_paid.get())
    .bind(if modes.is_empty() { None } else { Some(modes) })
    .bind(json_text(&bill.additional_details))
    .bind(&bill.file_store_id)
    .bind(&bill.payment_id)
    .bind(bill.advance_amount.get())
    .bind(&bill.advance_demand_detail_id)
    .bind(&bill.audit.created_by)
    .bind(bill.audit.created_ms)
    .bind(&bill.audit.last_modified_by)
    .bind(bill.audit.last_modified_ms)
    .bind(&sealed.pii)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The place the next bill of a consumer code takes. Read under the consumer code's demand
/// locks, so two new bills never take the same place.
pub async fn next_seq(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
) -> Result<i64, DigitError> {
    let row = sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM egbs_bill WHERE tenant_id = $1 AND business_service = $2 \
         AND consumer_code = $3",
    )
    .bind(tenant_id)
    .bind(business_service)
    .bind(consumer_code)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
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

/// Inserts the details and account details of a claimed bill.
pub async fn insert_details(conn: &mut AnyConnection, bill: &Bill) -> Result<(), DigitError> {
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    for detail in &bill.details {
        sqlx::query(
            "INSERT INTO egbs_bill_detail (id, tenant_id, bill_id, demand_id, from_period, to_period, expiry_date, \
             amount, amount_paid, additional_details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&detail.id)
        .bind(&detail.tenant_id)
        .bind(&detail.bill_id)
        .bind(&detail.demand_id)
        .bind(detail.from_period)
        .bind(detail.to_period)
        .bind(detail.expiry_date)
        .bind(detail.amount.get())
        .bind(detail.amount_paid.get())
        .bind(json_text(&detail.additional_details))
        .execute(&mut *conn)
        .await?;
        for account in &detail.account_details {
            sqlx::query(
                "INSERT INTO egbs_bill_account_detail (id, tenant_id, bill_detail_id, demand_detail_id, tax_head_code, \
                 order_no, amount, adjusted_amount, additional_details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&account.id)
            .bind(&account.tenant_id)
            .bind(&account.bill_detail_id)
            .bind(&account.demand_detail_id)
            .bind(&account.tax_head_code)
            .bind(account.order)
            .bind(account.amount.get())
            .bind(account.adjusted_amount.get())
            .bind(json_text(&account.additional_details))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The ACTIVE bill of a consumer code of a service, with its details: the bill row read
/// whole in one statement (not its id and then the row), as fetch-bill reads it per request.
pub async fn active_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    business_service: &str,
    consumer_code: &str,
) -> Result<Option<Bill>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(BILL_COLUMNS)
        .push(" FROM egbs_bill WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND business_service = ")
        .bind(business_service)
        .push(" AND consumer_code = ")
        .bind(consumer_code)
        .push(" AND status = 'ACTIVE'");
    let Some(row) = q.build().fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut bills = vec![bill_from(&row)?];
    attach_details(conn, tenant_id, &mut bills).await?;
    Ok(bills.pop())
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
/// in the order of `ids`.
pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<Bill>, DigitError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new("SELECT ");
    q.push(BILL_COLUMNS).push(" FROM egbs_bill WHERE ");
    push_tenant(&mut q, "tenant_id", tenant_id);
    q.push(" AND id IN ").bind_list(ids);
    let rows = q.build().fetch_all(&mut *conn).await?;
    let vault = pii::vault();
    let mut bills = rows
        .iter()
        .map(|r| bill_from_with(&vault, r))
        .collect::<Result<Vec<_>, _>>()?;
    attach_details(conn, tenant_id, &mut bills).await?;
    let mut by_id: HashMap<String, Bill> = bills.into_iter().map(|b| (b.id.clone(), b)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Reads the details and account details of `bills` (all of `tenant_id`, a state covering
/// its cities) into them.
async fn attach_details(
    conn: &mut AnyConnection,
    tenant_id: &str,
    bills: &mut [Bill],
) -> Result<(), DigitError> {
    if bills.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = bills.iter().map(|b| b.id.clone()).collect();
    let mut q = SqlBuilder::new(
        "SELECT id, tenant_id, bill_id, demand_id, from_period, to_period, expiry_date, amount, amount_paid, \
         additional_details FROM egbs_bill_detail WHERE ",
    );
    push_tenant(&mut q, "tenant_id", tenant_id);
    q.push(" AND bill_id IN ")
        .bind_list(&ids)
        .push(" ORDER BY from_period, id");
    let rows = q.build().fetch_all(&mut *conn).await?;
    let mut details: Vec<BillDetail> = rows.iter().map(detail_from).collect::<Result<_, _>>()?;

    let detail_ids: Vec<String> = details.iter().map(|d| d.id.clone()).collect();
    if !detail_ids.is_empty() {
        let mut q = SqlBuilder::new(
            "SELECT id, tenant_id, bill_detail_id, demand_detail_id, tax_head_code, order_no, amount, \
             adjusted_amount, additional_details FROM egbs_bill_account_detail WHERE ",
        );
        push_tenant(&mut q, "tenant_id", tenant_id);
        q.push(" AND bill_detail_id IN ")
            .bind_list(&detail_ids)
            .push(" ORDER BY order_no, tax_head_code, id");
        let rows = q.build().fetch_all(&mut *conn).await?;
        let mut by_detail: HashMap<String, Vec<BillAccountDetail>> = HashMap::new();
        for row in &rows {
            let account = account_from(row)?;
            by_detail
                .entry(account.bill_detail_id.clone())
                .or_default()
                .push(account);
        }
        for detail in &mut details {
            detail.account_details = by_detail.remove(&detail.id).unwrap_or_default();
        }
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, bill) in bills.iter().enumerate() {
        index.insert(bill.id.clone(), i);
    }
    for detail in details {
        if let Some(&i) = index.get(&detail.bill_id) {
            bills[i].details.push(detail);
        }
    }
    Ok(())
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
    super::cache::touch_consumer(&bill.business_service, &bill.consumer_code);
    sqlx::query(
        "UPDATE egbs_bill SET status = $1, amount_paid = $2, payment_id = $3, advance_amount = $4, \
         advance_demand_detail_id = $5, last_modified_by = $6, last_modified_ms = $7 \
         WHERE tenant_id = $8 AND id = $9",
    )
    .bind(bill.status.as_str())
    .bind(bill.amount_paid.get())
    .bind(&bill.payment_id)
    .bind(bill.advance_amount.get())
    .bind(&bill.advance_demand_detail_id)
    .bind(&bill.audit.last_modified_by)
    .bind(bill.audit.last_modified_ms)
    .bind(&bill.tenant_id)
    .bind(&bill.id)
    .execute(&mut *conn)
    .await?;
    for detail in &bill.details {
        sqlx::query(
            "UPDATE egbs_bill_detail SET amount_paid = $1 WHERE tenant_id = $2 AND id = $3",
        )
        .bind(detail.amount_paid.get())
        .bind(&detail.tenant_id)
        .bind(&detail.id)
        .execute(&mut *conn)
        .await?;
        for account in &detail.account_details {
            sqlx::query(
                "UPDATE egbs_bill_account_detail SET adjusted_amount = $1 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(account.adjusted_amount.get())
            .bind(&account.tenant_id)
            .bind(&account.id)
            .execute(&mut *conn)
            .await?;
        }
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
