//! Bill search (DIGIT's `/bill/v2/_search`): the matching bills, the latest one per consumer
//! code of a service (the oldest uncancelled one with `retrieveOldest`), then a page of them.
//! A mobile number or email finds the bills of every service whose payer has it.

use std::collections::HashMap;

use kosh_platform::sql::SqlBuilder;
use kosh_platform::{AuthUser, DigitError, ErrorItem};
use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::IntoParams;

use super::{Bill, BillStatus, store};
use crate::payer;
use crate::query::push_tenant;
use crate::rules::check_state_level_tenant;
use crate::visibility::{self, Scope};
use crate::wire::{self, not_null};

/// The most bills one search considers before keeping the latest per consumer code.
const MAX_MATCHES: i64 = 10_000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct BillSearchCriteria {
    pub tenant_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub bill_id: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "kosh_platform::extract::comma_list::deserialize"
    )]
    #[param(value_type = Option<String>)]
    pub consumer_code: Option<Vec<String>>,
    pub service: Option<String>,
    pub bill_number: Option<String>,
    pub status: Option<String>,
    pub mobile_number: Option<String>,
    pub email: Option<String>,
    pub from_period: Option<i64>,
    pub to_period: Option<i64>,
    pub retrieve_oldest: Option<bool>,
    pub is_active: Option<bool>,
    pub is_cancelled: Option<bool>,
    pub is_order_by: Option<bool>,
    pub size: Option<i64>,
    pub offset: Option<i64>,
}

/// DIGIT's `BillValidator.validateBillSearchCriteria`; the tenant id on success.
pub fn validate(criteria: &BillSearchCriteria, user: &AuthUser) -> Result<String, DigitError> {
    let Some(tenant_id) = wire::text(&criteria.tenant_id) else {
        return Err(DigitError::item(not_null("billSearchCriteria.tenantId")));
    };
    check_state_level_tenant(user, &tenant_id)?;
    if criteria.bill_id.is_none()
        && criteria.consumer_code.is_none()
        && wire::blank(&criteria.mobile_number)
        && wire::blank(&criteria.email)
    {
        return Err(DigitError::new(
            "EGBS_MANDATORY_FIELDS_ERROR",
            "BILL_SEARCH_MANDATORY_FIELDS_MISSING Any one of the fields additional to tenantId is mandatory like consumerCode,billId, mobileNumber or email",
        ));
    }
    if criteria.consumer_code.is_some() && wire::blank(&criteria.service) {
        return Err(DigitError::new(
            "BILL_SEARCH_CONSUMERCODE_BUSINESSSERVICE",
            "the consumerCode & Service values should be given together or mobilenumber/email can be given",
        ));
    }
    if let Some(status) = wire::text(&criteria.status)
        && BillStatus::parse(&status).is_none()
    {
        return Err(DigitError::item(
            ErrorItem::new("INVALID_QUERY_PARAMETER", "Invalid query parameter")
                .with_description(format!("status: \"{status}\" is not a bill status")),
        ));
    }
    Ok(tenant_id)
}

/// Runs a validated search.
pub async fn search(
    conn: &mut AnyConnection,
    tenant_id: &str,
    criteria: &BillSearchCriteria,
    scope: &Scope,
) -> Result<Vec<Bill>, DigitError> {
    let by_account = criteria.bill_id.is_some()
        || criteria.consumer_code.is_some()
        || !wire::blank(&criteria.bill_number);
    let by_contact = !wire::blank(&criteria.mobile_number) || !wire::blank(&criteria.email);
    if !scope.may_search(by_account, by_contact) {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new(
        "SELECT b.id, b.tenant_id, b.business_service, b.consumer_code, b.seq, b.created_ms FROM egbs_bill b WHERE ",
    );
    push_tenant(&mut q, "b.tenant_id", tenant_id);
    if let Some(ids) = &criteria.bill_id {
        q.push(" AND b.id IN ").bind_list(ids);
    }
    let oldest = criteria.retrieve_oldest.unwrap_or(false);
    if oldest {
        q.push(" AND b.status <> 'CANCELLED'");
    } else if let Some(status) = wire::text(&criteria.status).and_then(|s| BillStatus::parse(&s)) {
        q.push(" AND b.status = ").bind(status.as_str());
    }
    match criteria.is_active {
        Some(true) => q.push(" AND b.status = 'ACTIVE'"),
        Some(false) => q.push(" AND b.status <> 'ACTIVE'"),
        None => &mut q,
    };
    match criteria.is_cancelled {
        Some(true) => q.push(" AND b.status = 'CANCELLED'"),
        Some(false) => q.push(" AND b.status <> 'CANCELLED'"),
        None => &mut q,
    };
    if let Some(mobile) = wire::text(&criteria.mobile_number) {
        let users = payer::uuids_with_contact(conn, tenant_id, Some(&mobile), None).await?;
        visibility::push_payer_is(&mut q, "b.", &users, Some(&mobile));
    }
    if let Some(email) = wire::text(&criteria.email) {
        let users = payer::uuids_with_contact(conn, tenant_id, None, Some(&email)).await?;
        q.push(" AND (b.payer_email = ")
            .bind(kosh_platform::pii::vault().index(&email))
            .push(" OR b.user_id IN ")
            .bind_list(&users)
            .push(")");
    }
    if let Some(service) = wire::text(&criteria.service) {
        q.push(" AND b.business_service = ").bind(service);
    }
    if let Some(from) = criteria.from_period {
        q.push(
            " AND EXISTS (SELECT 1 FROM egbs_bill_detail d WHERE d.tenant_id = b.tenant_id AND d.bill_id = b.id AND d.from_period = ",
        )
        .bind(from)
        .push(")");
    }
    if let Some(to) = criteria.to_period {
        q.push(
            " AND EXISTS (SELECT 1 FROM egbs_bill_detail d WHERE d.tenant_id = b.tenant_id AND d.bill_id = b.id AND d.to_period = ",
        )
        .bind(to)
        .push(")");
    }
    if let Some(number) = wire::text(&criteria.bill_number) {
        q.push(" AND b.bill_number = ").bind(number);
    }
    if let Some(codes) = &criteria.consumer_code {
        q.push(" AND b.consumer_code IN ").bind_list(codes);
    }
    scope.push_bill_filter(&mut q, "b.");
    q.push(" ORDER BY b.created_ms DESC, b.id DESC LIMIT ")
        .bind(MAX_MATCHES);
    let heads = store::heads(conn, &q).await?;

    // Keep one bill per consumer code of a service: the latest (or the oldest).
    let mut chosen: HashMap<(String, String, String), store::BillHead> = HashMap::new();
    for head in heads {
        let key = (
            head.tenant_id.clone(),
            head.business_service.clone(),
            head.consumer_code.clone(),
        );
        match chosen.get(&key) {
            Some(kept) if (oldest && kept.seq <= head.seq) || (!oldest && kept.seq >= head.seq) => {
            }
            _ => {
                chosen.insert(key, head);
            }
        }
    }
    let mut kept: Vec<store::BillHead> = chosen.into_values().collect();
    if criteria.is_order_by.unwrap_or(false) {
        kept.sort_by(|a, b| (&a.consumer_code, &a.id).cmp(&(&b.consumer_code, &b.id)));
    } else {
        kept.sort_by(|a, b| (b.created_ms, &b.id).cmp(&(a.created_ms, &a.id)));
    }
    let offset = criteria.offset.unwrap_or(0).max(0) as usize;
    let size = criteria
        .size
        .filter(|s| *s > 0)
        .map(|s| s as usize)
        .unwrap_or(usize::MAX);
    let ids: Vec<String> = kept
        .into_iter()
        .skip(offset)
        .take(size)
        .map(|h| h.id)
        .collect();
    store::load(conn, tenant_id, &ids).await
}
