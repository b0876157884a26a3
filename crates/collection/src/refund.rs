//! Refunds due (excess collections, `egcl_refund_due`).
//!
//! One bill has one collection, whatever the channel. Money that reaches kosh for a bill that
//! another channel has already paid (an online payment the gateway confirms after the bill
//! was paid at the counter or through BBPS, or by another payer's online payment) is never
//! dropped and never makes a second receipt: it is recorded here, once per channel reference,
//! in the same database transaction that learnt of it, with an outbox event. An authorised
//! employee settles it by paying it back (REFUNDED, with the bank or cash reference) or by
//! keeping it as the consumer code's advance (ADVANCED); both are final.

use kosh_mdms::Mdms;
use kosh_platform::money::Paise;
use kosh_platform::pii::table::REFUNDS_DUE;
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{DigitError, outbox};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::{IntoParams, ToSchema};

/// Outbox topics.
pub const TOPIC_DUE: &str = "kosh.collection.refund-due";
pub const TOPIC_SETTLED: &str = "kosh.collection.refund-settled";

pub const DUE: &str = "DUE";
pub const REFUNDED: &str = "REFUNDED";
pub const ADVANCED: &str = "ADVANCED";

/// Where the money came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Online,
    Bbps,
    Counter,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Online => "ONLINE",
            Source::Bbps => "BBPS",
            Source::Counter => "COUNTER",
        }
    }
}

/// Money to record as owed back.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefund<'a> {
    pub tenant_id: &'a str,
    pub source: Source,
    /// The channel's reference of the money (pg txnId, BBPS txnReferenceId).
    pub source_ref: &'a str,
    pub bill_id: &'a str,
    pub consumer_code: &'a str,
    pub business_service: &'a str,
    pub amount: Paise,
    pub reason: String,
    pub payer_name: Option<&'a str>,
    pub mobile_number: Option<&'a str>,
    pub created_by: &'a str,
}

/// A refund due as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundDue {
    pub id: String,
    pub tenant_id: String,
    pub channel: String,
    pub source_ref: String,
    pub bill_id: String,
    pub consumer_code: String,
    pub business_service: String,
    pub amount: Paise,
    pub reason: String,
    pub payer_name: Option<String>,
    pub mobile_number: Option<String>,
    pub status: String,
    pub settled_by: Option<String>,
    pub settled_ms: Option<i64>,
    pub settlement_reference: Option<String>,
    pub settlement_note: Option<String>,
    pub created_by: String,
    pub created_ms: i64,
    pub last_modified_ms: i64,
}

impl RefundDue {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "channel": self.channel,
            "sourceReference": self.source_ref,
            "billId": self.bill_id,
            "consumerCode": self.consumer_code,
            "businessService": self.business_service,
            "amount": self.amount.rupees_json(),
            "reason": self.reason,
            "payerName": self.payer_name,
            "mobileNumber": self.mobile_number,
            "status": self.status,
            "settlementReference": self.settlement_reference,
            "settlementNote": self.settlement_note,
            "auditDetails": {
                "createdBy": self.created_by,
                "createdTime": self.created_ms,
                "lastModifiedBy": self.settled_by.as_deref().unwrap_or(&self.created_by),
                "lastModifiedTime": self.last_modified_ms,
            },
            "settledTime": self.settled_ms,
        })
    }

    /// What a channel's own answer says of it (pg `txnStatusMsg`, BBPS status).
    pub fn notice(&self) -> String {
        format!(
            "refund due {} of {} ({})",
            self.id,
            self.amount,
            self.status.to_ascii_lowercase()
        )
    }
}

const COLUMNS: &str = "id, tenant_id, channel, source_ref, bill_id, consumer_code, business_service, amount, reason, \
     payer_name, mobile_number, status, settled_by, settled_ms, settlement_reference, settlement_note, created_by, \
     created_ms, last_modified_ms, pii";

fn of(row: &AnyRow) -> Result<RefundDue, sqlx::Error> {
    let mut personal = REFUNDS_DUE.open(&kosh_platform::pii::vault(), row)?;
    Ok(RefundDue {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        channel: row.try_get("channel")?,
        source_ref: row.try_get("source_ref")?,
        bill_id: row.try_get("bill_id")?,
        consumer_code: row.try_get("consumer_code")?,
        business_service: row.try_get("business_service")?,
        amount: Paise::new(row.try_get("amount")?),
        reason: row.try_get("reason")?,
        payer_name: personal.take("payer_name"),
        mobile_number: personal.take("mobile_number"),
        status: row.try_get("status")?,
        settled_by: row.try_get("settled_by")?,
        settled_ms: row.try_get("settled_ms")?,
        settlement_reference: row.try_get("settlement_reference")?,
        settlement_note: row.try_get("settlement_note")?,
        created_by: row.try_get("created_by")?,
        created_ms: row.try_get("created_ms")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
    })
}

/// Records money owed back, once per (channel, reference): a repeat returns the first
/// record unchanged. Inside the caller's transaction, with its outbox event.
pub async fn record(
    conn: &mut AnyConnection,
    refund: &NewRefund<'_>,
    now_ms: i64,
) -> Result<RefundDue, DigitError> {
    let amount = refund.amount.payable().map_err(|e| {
        DigitError::new(
            "REFUND_INVALID_AMOUNT",
            format!("A refund due cannot be recorded: {e}"),
        )
    })?;
    let id = uuid::Uuid::now_v7().to_string();
    let sealed = REFUNDS_DUE.seal(
        &kosh_platform::pii::vault(),
        &[refund.payer_name, refund.mobile_number],
        None,
    );
    let inserted = sqlx::query(
        "INSERT INTO egcl_refund_due (id, tenant_id, channel, source_ref, bill_id, consumer_code, business_service, amount, \
         reason, payer_name, mobile_number, status, created_by, created_ms, last_modified_ms, pii) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (tenant_id, channel, source_ref) DO NOTHING",
    )
    .bind(&id)
    .bind(refund.tenant_id)
    .bind(refund.source.as_str())
    .bind(refund.source_ref)
    .bind(refund.bill_id)
    .bind(refund.consumer_code)
    .bind(refund.business_service)
    .bind(amount.get())
    .bind(truncate(&refund.reason, 1024))
    .bind(sealed.column(0))
    .bind(sealed.column(1))
    .bind(DUE)
    .bind(refund.created_by)
    .bind(now_ms)
    .bind(now_ms)
    .bind(&sealed.pii)
    .execute(&mut *conn)
    .await?;
    let due = by_source(conn, refund.tenant_id, refund.source, refund.source_ref)
        .await?
        .ok_or_else(|| DigitError::unavailable("the refund due vanished; try again"))?;
    if inserted.rows_affected() == 1 {
        tracing::warn!(refund = %due.id, channel = %due.channel, source = %due.source_ref,
            amount = due.amount.get(), "money received for a bill already paid: refund due");
        metrics::counter!("kosh_refunds_due_total", "channel" => refund.source.as_str())
            .increment(1);
        outbox::record(
            conn,
            &due.tenant_id,
            TOPIC_DUE,
            &due.consumer_code,
            &json!({"RefundDue": due.to_json()}),
            now_ms,
        )
        .await?;
    }
    Ok(due)
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The refund due of a channel's reference, if any.
pub async fn by_source(
    conn: &mut AnyConnection,
    tenant_id: &str,
    source: Source,
    source_ref: &str,
) -> Result<Option<RefundDue>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM egcl_refund_due WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND channel = ")
        .bind(source.as_str())
        .push(" AND source_ref = ")
        .bind(source_ref);
    let row = q.build().fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(of).transpose()?)
}

/// Search criteria (`/collection-services/refunds/_search`, as query parameters).
#[derive(Debug, Clone, Default, Deserialize, ToSchema, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct RefundSearchCriteria {
    pub tenant_id: Option<String>,
    /// Comma-separated ids.
    pub ids: Option<String>,
    /// DUE, REFUNDED or ADVANCED.
    pub status: Option<String>,
    /// ONLINE, BBPS or COUNTER.
    pub channel: Option<String>,
    pub source_reference: Option<String>,
    pub consumer_code: Option<String>,
    pub bill_id: Option<String>,
    /// Created at or after (epoch ms).
    pub from_date: Option<i64>,
    /// Created at or before (epoch ms).
    pub to_date: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub const MAX_LIMIT: i64 = 1000;

/// The refunds due matching `criteria`, newest first.
pub async fn search(
    conn: &mut AnyConnection,
    criteria: &RefundSearchCriteria,
) -> Result<Vec<RefundDue>, DigitError> {
    let Some(tenant_id) = criteria
        .tenant_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(DigitError::new(
            "INVALID_SEARCH",
            "tenantId is mandatory to search refunds due",
        ));
    };
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM egcl_refund_due WHERE tenant_id = ")
        .bind(tenant_id);
    if let Some(ids) = &criteria.ids {
        let ids: Vec<String> = ids
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !ids.is_empty() {
            q.push(" AND id IN ").bind_list(&ids);
        }
    }
    // Status and channel are codes, matched in upper case; references as given.
    for (column, value, code) in [
        (" AND status = ", &criteria.status, true),
        (" AND channel = ", &criteria.channel, true),
        (" AND source_ref = ", &criteria.source_reference, false),
        (" AND consumer_code = ", &criteria.consumer_code, false),
        (" AND bill_id = ", &criteria.bill_id, false),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            q.push(column).bind(if code {
                v.to_ascii_uppercase()
            } else {
                v.to_string()
            });
        }
    }
    if let Some(from) = criteria.from_date {
        q.push(" AND created_ms >= ").bind(from);
    }
    if let Some(to) = criteria.to_date {
        q.push(" AND created_ms <= ").bind(to);
    }
    let limit = criteria.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let offset = criteria.offset.unwrap_or(0).max(0);
    q.push(" ORDER BY created_ms DESC, id LIMIT ")
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
    let rows = q.build().fetch_all(&mut *conn).await?;
    Ok(rows.iter().map(of).collect::<Result<Vec<_>, _>>()?)
}

/// How an employee settles a refund due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Paid back to the payer (bank transfer, cash): the reference says how.
    Refunded,
    /// Kept as the consumer code's advance, which its next bills carry as a credit.
    Advanced,
}

fn already_settled(refund: &RefundDue) -> DigitError {
    DigitError::new(
        "REFUND_ALREADY_SETTLED",
        format!(
            "The refund due {} is already {}",
            refund.id,
            refund.status.to_ascii_lowercase()
        ),
    )
}

/// Marks a DUE refund settled, once: a second settlement of a settled one is refused.
#[allow(clippy::too_many_arguments)]
pub async fn settle(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    tenant_id: &str,
    id: &str,
    settlement: Settlement,
    reference: Option<&str>,
    note: Option<&str>,
    by: &str,
    now_ms: i64,
) -> Result<RefundDue, DigitError> {
    let criteria = RefundSearchCriteria {
        tenant_id: Some(tenant_id.to_string()),
        ids: Some(id.to_string()),
        ..RefundSearchCriteria::default()
    };
    let Some(due) = search(conn, &criteria).await?.into_iter().next() else {
        return Err(DigitError::new(
            "REFUND_NOT_FOUND",
            format!("No refund due {id} in tenant {tenant_id}"),
        ));
    };
    if due.status != DUE {
        return Err(already_settled(&due));
    }
    let (status, reference) = match settlement {
        Settlement::Refunded => (REFUNDED, reference.map(str::to_string)),
        Settlement::Advanced => {
            let detail = kosh_billing::payment::keep_as_advance(
                conn,
                mdms,
                tenant_id,
                &due.business_service,
                &due.consumer_code,
                due.amount,
                by,
                now_ms,
            )
            .await?;
            (ADVANCED, Some(detail))
        }
    };
    let updated = sqlx::query(
        "UPDATE egcl_refund_due SET status = $1, settled_by = $2, settled_ms = $3, settlement_reference = $4, \
         settlement_note = $5, last_modified_ms = $6 WHERE tenant_id = $7 AND id = $8 AND status = $9",
    )
    .bind(status)
    .bind(by)
    .bind(now_ms)
    .bind(reference.as_deref())
    .bind(note.map(|n| truncate(n, 1024)))
    .bind(now_ms)
    .bind(tenant_id)
    .bind(id)
    .bind(DUE)
    .execute(&mut *conn)
    .await?;
    let Some(refund) = search(conn, &criteria).await?.into_iter().next() else {
        return Err(DigitError::unavailable(
            "the refund due vanished; try again",
        ));
    };
    if updated.rows_affected() == 0 {
        // Settled by someone else since it was read.
        return Err(already_settled(&refund));
    }
    outbox::record(
        conn,
        tenant_id,
        TOPIC_SETTLED,
        &refund.consumer_code,
        &json!({"RefundDue": refund.to_json()}),
        now_ms,
    )
    .await?;
    Ok(refund)
}

/// One day's refunds due of a tenant (India Standard Time), for the daily books: the day's
/// totals by channel and by status, and its refunds (newest first, at most [`MAX_LIMIT`]).
pub async fn daily(
    conn: &mut AnyConnection,
    tenant_id: &str,
    date: &str,
) -> Result<Value, DigitError> {
    let day = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
        DigitError::new(
            "INVALID_DATE",
            format!("date {date:?} is not a day written YYYY-MM-DD"),
        )
    })?;
    // Midnight IST is 18:30 UTC the day before.
    let start = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis() - IST_OFFSET_MS)
        .ok_or_else(|| DigitError::new("INVALID_DATE", format!("date {date:?} is out of range")))?;
    let criteria = RefundSearchCriteria {
        tenant_id: Some(tenant_id.to_string()),
        from_date: Some(start),
        to_date: Some(start + DAY_MS - 1),
        limit: Some(MAX_LIMIT),
        ..RefundSearchCriteria::default()
    };
    // The totals over every refund of the day, whatever the listing's limit.
    let rows = sqlx::query(
        "SELECT channel, status, COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total \
         FROM egcl_refund_due WHERE tenant_id = $1 AND created_ms >= $2 AND created_ms <= $3 \
         GROUP BY channel, status",
    )
    .bind(tenant_id)
    .bind(start)
    .bind(start + DAY_MS - 1)
    .fetch_all(&mut *conn)
    .await?;
    let refunds = search(conn, &criteria).await?;
    let money = |e: kosh_platform::money::MoneyError| {
        DigitError::new(
            "INVALID_AMOUNT",
            format!("the day's refunds cannot be added up: {e}"),
        )
    };
    let (mut count, mut total) = (0i64, Paise::ZERO);
    let mut by_channel: std::collections::BTreeMap<String, (i64, Paise)> = Default::default();
    let mut by_status: std::collections::BTreeMap<String, (i64, Paise)> = Default::default();
    for row in &rows {
        let (channel, status): (String, String) = (row.try_get("channel")?, row.try_get("status")?);
        let (n, amount): (i64, Paise) = (row.try_get("n")?, Paise::new(row.try_get("total")?));
        count += n;
        total = total.checked_add(amount).map_err(money)?;
        for (map, key) in [(&mut by_channel, channel), (&mut by_status, status)] {
            let entry = map.entry(key).or_insert((0, Paise::ZERO));
            entry.0 += n;
            entry.1 = entry.1.checked_add(amount).map_err(money)?;
        }
    }
    let sums = |map: &std::collections::BTreeMap<String, (i64, Paise)>| {
        map.iter()
            .map(|(k, (count, amount))| {
                (
                    k.clone(),
                    json!({"count": count, "amount": amount.rupees_json()}),
                )
            })
            .collect::<serde_json::Map<String, Value>>()
    };
    Ok(json!({
        "tenantId": tenant_id,
        "date": day.to_string(),
        "count": count,
        "amount": total.rupees_json(),
        "byChannel": sums(&by_channel),
        "byStatus": sums(&by_status),
        "refunds": refunds.iter().map(RefundDue::to_json).collect::<Vec<_>>(),
    }))
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const IST_OFFSET_MS: i64 = (5 * 60 + 30) * 60 * 1000;
