//! The demand audit tables as the audit chain sees them (kosh_platform::audit_chain): one
//! description per table, shared by the writer below and by `kosh audit verify`.

use kosh_platform::DigitError;
use kosh_platform::audit_chain::{self, AuditRow, AuditTable, Kind};
use sqlx::AnyConnection;

use super::{Demand, new_id};
use crate::query::json_text;

pub static DEMAND_AUDIT: AuditTable = AuditTable {
    name: "egbs_demand_audit",
    key: "audit_id",
    columns: &[
        ("audit_id", Kind::Text),
        ("demand_id", Kind::Text),
        ("tenant_id", Kind::Text),
        ("consumer_code", Kind::Text),
        ("consumer_type", Kind::Text),
        ("business_service", Kind::Text),
        ("payer", Kind::Text),
        ("tax_period_from", Kind::Int),
        ("tax_period_to", Kind::Int),
        ("minimum_amount_payable", Kind::Int),
        ("bill_expiry_time", Kind::Int),
        ("fixed_bill_expiry_date", Kind::Int),
        ("status", Kind::Text),
        ("is_payment_completed", Kind::Int),
        ("additional_details", Kind::Text),
        ("reason", Kind::Text),
        ("changed_by", Kind::Text),
        ("changed_ms", Kind::Int),
    ],
};

pub static DEMAND_DETAIL_AUDIT: AuditTable = AuditTable {
    name: "egbs_demand_detail_audit",
    key: "audit_id",
    columns: &[
        ("audit_id", Kind::Text),
        ("demand_audit_id", Kind::Text),
        ("detail_id", Kind::Text),
        ("demand_id", Kind::Text),
        ("tenant_id", Kind::Text),
        ("tax_head_code", Kind::Text),
        ("tax_amount", Kind::Int),
        ("collection_amount", Kind::Int),
        ("additional_details", Kind::Text),
    ],
};

/// Billing's audit tables, for the verifier.
pub static TABLES: [&AuditTable; 2] = [&DEMAND_AUDIT, &DEMAND_DETAIL_AUDIT];

/// Records the demand as it now is, with its details, and chains the rows.
pub async fn record(conn: &mut AnyConnection, d: &Demand, reason: &str) -> Result<(), DigitError> {
    audit_chain::insert(conn, &rows_of(d, reason)).await
}

/// [`record`] for many demands at once (the bulk importer's path): multi-row statements and
/// one chain-head update per tenant.
pub async fn record_many(
    conn: &mut AnyConnection,
    demands: &[Demand],
    reason: &str,
) -> Result<(), DigitError> {
    let rows: Vec<AuditRow> = demands.iter().flat_map(|d| rows_of(d, reason)).collect();
    audit_chain::insert_batch(conn, &rows).await
}

/// The audit rows of a demand as it now is: the demand's, then one per detail.
pub(crate) fn rows_of(d: &Demand, reason: &str) -> Vec<AuditRow> {
    let audit_id = new_id();
    let mut rows = Vec::with_capacity(1 + d.details.len());
    rows.push(AuditRow::new(
        &DEMAND_AUDIT,
        vec![
            (&audit_id).into(),
            (&d.id).into(),
            (&d.tenant_id).into(),
            (&d.consumer_code).into(),
            (&d.consumer_type).into(),
            (&d.business_service).into(),
            (&d.payer).into(),
            d.tax_period_from.into(),
            d.tax_period_to.into(),
            d.minimum_amount_payable.get().into(),
            d.bill_expiry_time.into(),
            d.fixed_bill_expiry_date.into(),
            d.status.as_str().into(),
            i64::from(d.is_payment_completed).into(),
            json_text(&d.additional_details).into(),
            reason.into(),
            (&d.audit.last_modified_by).into(),
            d.audit.last_modified_ms.into(),
        ],
    ));
    for detail in &d.details {
        rows.push(AuditRow::new(
            &DEMAND_DETAIL_AUDIT,
            vec![
                new_id().into(),
                (&audit_id).into(),
                (&detail.id).into(),
                (&detail.demand_id).into(),
                (&detail.tenant_id).into(),
                (&detail.tax_head_code).into(),
                detail.tax_amount.get().into(),
                detail.collection_amount.get().into(),
                json_text(&detail.additional_details).into(),
            ],
        ));
    }
    rows
}
