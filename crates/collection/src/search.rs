//! `/payments/_search` and `/payments/{module}/_search` (collection-services
//! PaymentSearchCriteria): every criterion, newest first, paged by payment, or a count.

use std::collections::BTreeMap;

use kosh_platform::extract::comma_list;
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{AuthUser, DigitError};
use serde::Deserialize;
use sqlx::{AnyConnection, Row};
use utoipa::IntoParams;

use crate::model::Payment;
use crate::store;
use crate::visibility::{self, Visibility};

/// DIGIT's `collection.receipts.search.default.size`.
pub const DEFAULT_LIMIT: i64 = 30;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PaymentSearchCriteria {
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub bill_ids: Option<Vec<String>>,
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub receipt_numbers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub status: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub instrument_status: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub payment_modes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub payer_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub consumer_codes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "comma_list::deserialize")]
    pub business_services: Option<Vec<String>>,
    pub transaction_number: Option<String>,
    pub mobile_number: Option<String>,
    pub from_date: Option<i64>,
    pub to_date: Option<i64>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
    pub is_count_request: Option<bool>,
}

fn upper(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_ascii_uppercase()).collect()
}

/// The WHERE clause of a search (after `FROM egcl_payment p JOIN egcl_paymentdetail d`).
fn filter(
    q: &mut SqlBuilder,
    c: &PaymentSearchCriteria,
    requester: &AuthUser,
) -> Result<(), DigitError> {
    let tenant = c
        .tenant_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(tenant) = tenant else {
        return Err(DigitError::new(
            "NotNull.paymentSearchCriteria.tenantId",
            "must not be null",
        ));
    };
    // A state-level tenant searches all its cities (DIGIT: LIKE 'pb%').
    if kosh_platform::tenant::is_state_level(tenant) {
        q.push(" AND (p.tenant_id = ")
            .bind(tenant)
            .push(" OR p.tenant_id LIKE ")
            .bind(format!("{tenant}.%"))
            .push(")");
    } else {
        q.push(" AND p.tenant_id = ").bind(tenant);
    }
    if let Some(v) = &c.ids {
        q.push(" AND p.id IN ").bind_list(v);
    }
    if let Some(v) = &c.bill_ids {
        q.push(" AND d.bill_id IN ").bind_list(v);
    }
    if let Some(v) = &c.receipt_numbers {
        q.push(" AND d.receipt_number IN ").bind_list(v);
    }
    if let Some(v) = &c.status {
        q.push(" AND p.payment_status IN ").bind_list(&upper(v));
    }
    if let Some(v) = &c.instrument_status {
        q.push(" AND p.instrument_status IN ").bind_list(&upper(v));
    }
    if let Some(v) = &c.payment_modes {
        q.push(" AND p.payment_mode IN ").bind_list(&upper(v));
    }
    if let Some(v) = &c.payer_ids {
        q.push(" AND p.payer_id IN ").bind_list(v);
    }
    if let Some(v) = &c.consumer_codes {
        q.push(" AND d.consumer_code IN ").bind_list(v);
    }
    if let Some(v) = &c.business_services {
        q.push(" AND d.business_service IN ").bind_list(v);
    }
    if let Some(v) = c.transaction_number.as_deref().filter(|v| !v.is_empty()) {
        q.push(" AND p.transaction_number = ").bind(v);
    }
    if let Some(v) = c.mobile_number.as_deref().filter(|v| !v.is_empty()) {
        q.push(" AND ");
        visibility::push_mobile_is(q, v);
    }
    if let Some(v) = c.from_date {
        q.push(" AND p.transaction_date >= ").bind(v);
    }
    if let Some(v) = c.to_date {
        q.push(" AND p.transaction_date <= ").bind(v);
    }
    Visibility::of(requester).push_payment_filter(q);
    Ok(())
}

const FROM: &str = " FROM egcl_payment p JOIN egcl_paymentdetail d ON d.tenant_id = p.tenant_id AND d.payment_id = p.id WHERE 1 = 1";

pub async fn search(
    conn: &mut AnyConnection,
    c: &PaymentSearchCriteria,
    requester: &AuthUser,
) -> Result<Vec<Payment>, DigitError> {
    let mut q = SqlBuilder::new("SELECT DISTINCT p.id, p.transaction_date, p.tenant_id");
    q.push(FROM);
    filter(&mut q, c, requester)?;
    let limit = c
        .limit
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let offset = c.offset.filter(|o| *o > 0).unwrap_or(0);
    q.push(" ORDER BY p.transaction_date DESC, p.id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let rows = q.build().fetch_all(&mut *conn).await?;
    let found = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(2)?, r.try_get::<String, _>(0)?)))
        .collect::<Result<Vec<_>, DigitError>>()?;
    // A state's search finds payments of several cities: each city's are loaded by its key,
    // and the page keeps the search's order.
    let mut by_tenant: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (tenant, id) in &found {
        by_tenant.entry(tenant).or_default().push(id.clone());
    }
    let mut loaded = Vec::new();
    for (tenant, ids) in by_tenant {
        loaded.extend(store::load(conn, tenant, &ids).await?);
    }
    let mut page = Vec::with_capacity(loaded.len());
    for (tenant, id) in &found {
        if let Some(k) = loaded
            .iter()
            .position(|p| &p.id == id && &p.tenant_id == tenant)
        {
            page.push(loaded.swap_remove(k));
        }
    }
    Ok(page)
}

pub async fn count(
    conn: &mut AnyConnection,
    c: &PaymentSearchCriteria,
    requester: &AuthUser,
) -> Result<i64, DigitError> {
    if c.business_services.is_none() {
        return Err(DigitError::new(
            "INVALID_COUNT_REQUEST",
            "tenantId and businessServices are mandatory for a count request",
        ));
    }
    let mut q = SqlBuilder::new("SELECT COUNT(DISTINCT p.id)");
    q.push(FROM);
    filter(&mut q, c, requester)?;
    let row = q.build().fetch_one(&mut *conn).await?;
    Ok(row.try_get::<i64, _>(0)?)
}
