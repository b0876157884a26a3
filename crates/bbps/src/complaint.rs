//! Complaints an operating unit registers with the biller (BBPS complaint management,
//! NPCI's `TxnStatusComplainRequest`): a TRANSACTION complaint names the BBPS transaction
//! reference (the reference need not be known to kosh — "paid, account not updated" is
//! exactly the case of a posting kosh never received), a SERVICE complaint names the biller.
//! Each is kept with its status and its turnaround deadline: registration time plus the
//! biller's `complaintTatDays`. A complaint still open after its deadline shows `tatBreached`.
//!
//! Statuses follow BBPS's: ASSIGNED on registration (assigned to the biller), then
//! RE_ASSIGNED, ESCALATED, RESOLVED, REJECTED or UNRESOLVED; RESOLVED and REJECTED close
//! it, RE_ASSIGNED reopens a closed one with a new deadline.
//!
//! An operating unit may send its own complaint id (the central unit's); a repeat of one
//! registration with that id returns the complaint as registered.

use kosh_platform::pii::table::BBPS_COMPLAINTS;
use kosh_platform::sql::SqlBuilder;
use kosh_platform::{DigitError, write_tx};
use rand::Rng;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::lookup::ist_date;
use crate::master::DEFAULT_COMPLAINT_TAT_DAYS;
use crate::service::Ctx;
use crate::store;
use crate::visibility::Visibility;

pub const DAY_MS: i64 = 86_400_000;

pub const OPEN: &[&str] = &["ASSIGNED", "RE_ASSIGNED", "ESCALATED", "UNRESOLVED"];
pub const CLOSED: &[&str] = &["RESOLVED", "REJECTED"];

#[derive(Debug, Clone, PartialEq)]
pub struct Complaint {
    pub tenant_id: String,
    pub complaint_id: String,
    pub complaint_type: String,
    pub txn_reference_id: Option<String>,
    pub biller_id: Option<String>,
    pub disposition: String,
    pub description: Option<String>,
    pub customer_mobile: Option<String>,
    pub participation_type: Option<String>,
    pub status: String,
    pub remarks: Option<String>,
    pub tat_deadline_ms: i64,
    pub resolved_ms: Option<i64>,
    pub created_by: String,
    pub created_ms: i64,
    pub last_modified_by: String,
    pub last_modified_ms: i64,
}

impl Complaint {
    pub fn is_open(&self) -> bool {
        OPEN.contains(&self.status.as_str())
    }

    pub fn to_json(&self, now_ms: i64, txn_status: Option<&str>) -> Value {
        json!({
            "complaintId": self.complaint_id,
            "complaintType": self.complaint_type,
            "txnReferenceId": self.txn_reference_id,
            "billerId": self.biller_id,
            "disposition": self.disposition,
            "description": self.description,
            "customerMobile": self.customer_mobile,
            "participationType": self.participation_type,
            "status": self.status,
            "remarks": self.remarks,
            "tatDeadline": self.tat_deadline_ms,
            "tatDeadlineDate": ist_date(self.tat_deadline_ms),
            "tatBreached": self.is_open() && now_ms > self.tat_deadline_ms,
            "resolvedTime": self.resolved_ms,
            "createdTime": self.created_ms,
            "lastModifiedTime": self.last_modified_ms,
            "transactionStatus": txn_status,
        })
    }
}

/// A complaint to register.
#[derive(Debug, Clone, Default)]
pub struct NewComplaint {
    pub complaint_id: Option<String>,
    pub complaint_type: String,
    pub txn_reference_id: Option<String>,
    pub biller_id: Option<String>,
    pub disposition: String,
    pub description: Option<String>,
    pub customer_mobile: Option<String>,
    pub participation_type: Option<String>,
}

fn bad(message: impl Into<String>) -> DigitError {
    DigitError::new("BBPS_INVALID_COMPLAINT", message)
}

fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new complaint id: `KC`, the IST year digit and day of the year, and 12 random letters
/// and digits (the shape of BBPS's own references).
fn new_id(now_ms: i64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let day = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&crate::lookup::ist())
        .format("%y%j")
        .to_string();
    let mut rng = rand::rng();
    let tail: String = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("KC{}{tail}", &day[1..])
}

const COLUMNS: &str = "tenant_id, complaint_id, complaint_type, txn_reference_id, biller_id, disposition, description, \
     customer_mobile, participation_type, status, remarks, tat_deadline_ms, resolved_ms, created_by, created_ms, \
     last_modified_by, last_modified_ms, pii";

fn complaint_of(row: &AnyRow) -> Result<Complaint, sqlx::Error> {
    let mut personal = BBPS_COMPLAINTS.open(&kosh_platform::pii::vault(), row)?;
    Ok(Complaint {
        tenant_id: row.try_get("tenant_id")?,
        complaint_id: row.try_get("complaint_id")?,
        complaint_type: row.try_get("complaint_type")?,
        txn_reference_id: row.try_get("txn_reference_id")?,
        biller_id: row.try_get("biller_id")?,
        disposition: row.try_get("disposition")?,
        description: row.try_get("description")?,
        customer_mobile: personal.take("customer_mobile"),
        participation_type: row.try_get("participation_type")?,
        status: row.try_get("status")?,
        remarks: row.try_get("remarks")?,
        tat_deadline_ms: row.try_get("tat_deadline_ms")?,
        resolved_ms: row.try_get("resolved_ms")?,
        created_by: row.try_get("created_by")?,
        created_ms: row.try_get("created_ms")?,
        last_modified_by: row.try_get("last_modified_by")?,
        last_modified_ms: row.try_get("last_modified_ms")?,
    })
}

async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    complaint_id: &str,
) -> Result<Option<Complaint>, DigitError> {
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM bbps_complaint WHERE tenant_id = ")
        .bind(tenant_id)
        .push(" AND complaint_id = ")
        .bind(complaint_id);
    Ok(match q.build().fetch_optional(&mut *conn).await? {
        Some(row) => Some(complaint_of(&row)?),
        None => None,
    })
}

/// Registers a complaint (or returns the one registered under the same id).
pub async fn register(ctx: Ctx<'_>, new: &NewComplaint) -> Result<Complaint, DigitError> {
    let kind = new.complaint_type.trim().to_ascii_uppercase();
    if kind != "TRANSACTION" && kind != "SERVICE" {
        return Err(bad("complaintType must be Transaction or Service"));
    }
    let reference = new
        .txn_reference_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if kind == "TRANSACTION" && reference.is_none() {
        return Err(bad("a Transaction complaint needs txnReferenceId"));
    }
    if let Some(r) = reference
        && (r.len() > 35 || !is_id(r))
    {
        return Err(bad("txnReferenceId must be 1-35 letters or digits"));
    }
    if new.disposition.trim().is_empty() || new.disposition.len() > 256 {
        return Err(bad("disposition is required (at most 256 characters)"));
    }
    if new.description.as_deref().is_some_and(|d| d.len() > 2048) {
        return Err(bad("description is longer than 2048 characters"));
    }
    if let Some(id) = &new.complaint_id
        && !is_id(id.trim())
    {
        return Err(bad("complaintId must be 1-64 letters or digits"));
    }
    let state = ctx.state().to_string();
    let now = ctx.clock.now_ms();
    let mut conn = ctx.db.pool().acquire().await?;
    let txn = match reference {
        Some(r) => store::load(&mut conn, &state, r).await?,
        None => None,
    };
    drop(conn);
    // The biller: named, else the transaction's.
    let biller_id = new
        .biller_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| {
            txn.as_ref()
                .map(|t| t.biller_id.clone())
                .filter(|b| !b.is_empty())
        });
    if kind == "SERVICE" && biller_id.is_none() {
        return Err(bad("a Service complaint needs billerId"));
    }
    let tat_days = match &biller_id {
        Some(id) => ctx.biller(id)?.complaint_tat_days,
        None => DEFAULT_COMPLAINT_TAT_DAYS,
    };
    let complaint = Complaint {
        tenant_id: state,
        complaint_id: new
            .complaint_id
            .as_deref()
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| new_id(now)),
        complaint_type: kind,
        txn_reference_id: reference.map(str::to_string),
        biller_id,
        disposition: new.disposition.trim().to_string(),
        description: new.description.clone(),
        customer_mobile: new.customer_mobile.clone(),
        participation_type: new.participation_type.clone(),
        status: "ASSIGNED".into(),
        remarks: None,
        tat_deadline_ms: now + tat_days * DAY_MS,
        resolved_ms: None,
        created_by: ctx.user.uuid.clone(),
        created_ms: now,
        last_modified_by: ctx.user.uuid.clone(),
        last_modified_ms: now,
    };
    write_tx!(*ctx.db, |conn| { insert(conn, ctx, &complaint).await })
}

async fn insert(
    conn: &mut AnyConnection,
    ctx: Ctx<'_>,
    c: &Complaint,
) -> Result<Complaint, DigitError> {
    let sealed = BBPS_COMPLAINTS.seal(
        &kosh_platform::pii::vault(),
        &[c.customer_mobile.as_deref()],
        None,
    );
    sqlx::query(
        "INSERT INTO bbps_complaint (tenant_id, complaint_id, complaint_type, txn_reference_id, biller_id, disposition, \
         description, customer_mobile, participation_type, status, remarks, tat_deadline_ms, resolved_ms, created_by, \
         created_ms, last_modified_by, last_modified_ms, pii) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (tenant_id, complaint_id) DO NOTHING",
    )
    .bind(&c.tenant_id)
    .bind(&c.complaint_id)
    .bind(&c.complaint_type)
    .bind(&c.txn_reference_id)
    .bind(&c.biller_id)
    .bind(&c.disposition)
    .bind(&c.description)
    .bind(sealed.column(0))
    .bind(&c.participation_type)
    .bind(&c.status)
    .bind(&c.remarks)
    .bind(c.tat_deadline_ms)
    .bind(c.resolved_ms)
    .bind(&c.created_by)
    .bind(c.created_ms)
    .bind(&c.last_modified_by)
    .bind(c.last_modified_ms)
    .bind(&sealed.pii)
    .execute(&mut *conn)
    .await?;
    let stored = load(conn, &c.tenant_id, &c.complaint_id)
        .await?
        .ok_or_else(|| DigitError::unavailable("the complaint vanished; try again"))?;
    // Another unit's complaint under this id is, to this unit, another matter.
    let same = stored.complaint_type == c.complaint_type
        && stored.txn_reference_id == c.txn_reference_id
        && stored.disposition == c.disposition
        && Visibility::of(ctx.user).sees_complaint(&stored, None, &ctx.bbps.billers);
    if !same {
        return Err(DigitError::new(
            "BBPS_DUPLICATE_COMPLAINT",
            format!(
                "Complaint {} is already registered for another matter",
                c.complaint_id
            ),
        ));
    }
    Ok(stored)
}

/// The complaints with this id, or about this transaction reference, newest first.
pub async fn find(
    ctx: Ctx<'_>,
    complaint_id: Option<&str>,
    txn_reference_id: Option<&str>,
) -> Result<Vec<(Complaint, Option<String>)>, DigitError> {
    if complaint_id.is_none() && txn_reference_id.is_none() {
        return Err(bad("give complaintId or txnReferenceId"));
    }
    let state = ctx.state();
    let mut conn = ctx.db.pool().acquire().await?;
    let mut q = SqlBuilder::new("SELECT ");
    q.push(COLUMNS)
        .push(" FROM bbps_complaint WHERE tenant_id = ")
        .bind(state);
    if let Some(id) = complaint_id {
        q.push(" AND complaint_id = ").bind(id.trim());
    }
    if let Some(r) = txn_reference_id {
        q.push(" AND txn_reference_id = ").bind(r.trim());
    }
    q.push(" ORDER BY created_ms DESC, complaint_id LIMIT 100");
    let rows = q.build().fetch_all(&mut *conn).await?;
    let visibility = Visibility::of(ctx.user);
    let mut out = Vec::new();
    for row in &rows {
        let complaint = complaint_of(row)?;
        let txn = match &complaint.txn_reference_id {
            Some(r) => store::load(&mut conn, state, r).await?,
            None => None,
        };
        if !visibility.sees_complaint(&complaint, txn.as_ref(), &ctx.bbps.billers) {
            continue;
        }
        let txn_status = txn
            .filter(|t| visibility.sees_txn(t))
            .map(|t| t.status.as_str().to_string());
        out.push((complaint, txn_status));
    }
    Ok(out)
}

/// Moves a complaint to `status` with `remarks`.
pub async fn update(
    ctx: Ctx<'_>,
    complaint_id: &str,
    status: &str,
    remarks: Option<&str>,
) -> Result<Complaint, DigitError> {
    let status = status.trim().to_ascii_uppercase();
    let allowed = [
        "RE_ASSIGNED",
        "ESCALATED",
        "RESOLVED",
        "REJECTED",
        "UNRESOLVED",
    ];
    if !allowed.contains(&status.as_str()) {
        return Err(bad(format!("status must be one of {}", allowed.join(", "))));
    }
    let now = ctx.clock.now_ms();
    let state = ctx.state().to_string();
    let by = ctx.user.uuid.clone();
    let id = complaint_id.trim().to_string();
    write_tx!(*ctx.db, |conn| {
        apply_update(conn, ctx, &state, &id, &status, remarks, &by, now).await
    })
}

#[allow(clippy::too_many_arguments)]
async fn apply_update(
    conn: &mut AnyConnection,
    ctx: Ctx<'_>,
    state: &str,
    id: &str,
    status: &str,
    remarks: Option<&str>,
    by: &str,
    now: i64,
) -> Result<Complaint, DigitError> {
    // Lock the row first, so two updates of one complaint run one after the other.
    sqlx::query(
        "UPDATE bbps_complaint SET last_modified_ms = last_modified_ms WHERE tenant_id = $1 AND complaint_id = $2",
    )
    .bind(state)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let current = match load(conn, state, id).await? {
        Some(c) => {
            let txn = match &c.txn_reference_id {
                Some(r) => store::load(conn, state, r).await?,
                None => None,
            };
            let visibility = Visibility::of(ctx.user);
            visibility
                .sees_complaint(&c, txn.as_ref(), &ctx.bbps.billers)
                .then_some(c)
        }
        None => None,
    };
    let Some(current) = current else {
        return Err(DigitError::new(
            "BBPS_COMPLAINT_NOT_FOUND",
            format!("No complaint {id}"),
        ));
    };
    let reopening = CLOSED.contains(&current.status.as_str());
    if reopening && status != "RE_ASSIGNED" {
        return Err(bad(format!(
            "complaint {id} is {}; only RE_ASSIGNED reopens it",
            current.status
        )));
    }
    let deadline = if reopening {
        let days = match &current.biller_id {
            Some(b) => ctx
                .bbps
                .billers
                .find(state, b)
                .map(|b| b.complaint_tat_days)
                .unwrap_or(DEFAULT_COMPLAINT_TAT_DAYS),
            None => DEFAULT_COMPLAINT_TAT_DAYS,
        };
        now + days * DAY_MS
    } else {
        current.tat_deadline_ms
    };
    let resolved = CLOSED.contains(&status).then_some(now);
    sqlx::query(
        "UPDATE bbps_complaint SET status = $1, remarks = $2, tat_deadline_ms = $3, resolved_ms = $4, last_modified_by = $5, \
         last_modified_ms = $6 WHERE tenant_id = $7 AND complaint_id = $8",
    )
    .bind(status)
    .bind(remarks.or(current.remarks.as_deref()))
    .bind(deadline)
    .bind(resolved)
    .bind(by)
    .bind(now)
    .bind(state)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    load(conn, state, id)
        .await?
        .ok_or_else(|| DigitError::unavailable("the complaint vanished; try again"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_the_bbps_shape() {
        // 2019-06-15 10:00 IST is day 166 of 2019.
        let id = super::new_id(1_560_573_000_000);
        assert_eq!(id.len(), 2 + 4 + 12);
        assert!(id.starts_with("KC9166"), "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
