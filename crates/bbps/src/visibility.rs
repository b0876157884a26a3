//! Who sees which BBPS postings and complaints: the one place the adapter decides it.
//! Transaction status (JSON and XML), the daily report, complaint tracking and updates, a
//! repeated posting and a reversal all ask [`Visibility`] before they show or touch a
//! posting or a complaint; one outside it is not found.
//!
//! - An operating unit (a SYSTEM user with the BBPS role) sees the postings it made and the
//!   complaints it registered: never another unit's. (A BBPS transaction reference is
//!   unique across BBPS, so another unit's reference is one this unit never used.)
//! - Anyone else the routes admit (the municipality's SUPERUSER) sees the postings and
//!   complaints of the tenants it reaches: all of them with a role at the state, at a city
//!   only the postings whose bills are all that city's (and the complaints about those, or
//!   about a biller serving that city alone).

use kosh_platform::{AuthUser, tenant};

use crate::complaint::Complaint;
use crate::master::Billers;
use crate::store::TxnRow;

/// What one caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// An operating unit: what this user posted or registered.
    Unit(String),
    /// The tenants the caller holds a role at (a state stands for its cities too).
    Tenants(Vec<String>),
}

impl Visibility {
    pub fn of(user: &AuthUser) -> Visibility {
        if user.user_type.eq_ignore_ascii_case("SYSTEM") && user.has_role("BBPS") {
            return Visibility::Unit(user.uuid.clone());
        }
        let mut tenants: Vec<String> = Vec::new();
        for role in &user.roles {
            if let Some(t) = role.tenant_id.as_deref().map(str::trim)
                && !t.is_empty()
                && !tenants.iter().any(|o| o == t)
            {
                tenants.push(t.to_string());
            }
        }
        Visibility::Tenants(tenants)
    }

    /// Whether a role is held at `tenant_id` or at its state.
    fn reaches(&self, tenant_id: &str) -> bool {
        let Visibility::Tenants(tenants) = self else {
            return false;
        };
        let state = tenant::state_of(tenant_id);
        tenants
            .iter()
            .any(|t| t == tenant_id || t.eq_ignore_ascii_case(state))
    }

    pub fn sees_txn(&self, t: &TxnRow) -> bool {
        match self {
            Visibility::Unit(uuid) => &t.created_by == uuid,
            Visibility::Tenants(_) => {
                self.reaches(&t.tenant_id)
                    || (!t.bills.is_empty()
                        && t.bills.iter().all(|b| self.reaches(&b.bill_tenant_id)))
            }
        }
    }

    /// `txn` is the posting the complaint is about, when kosh has it.
    pub fn sees_complaint(&self, c: &Complaint, txn: Option<&TxnRow>, billers: &Billers) -> bool {
        match self {
            Visibility::Unit(uuid) => &c.created_by == uuid,
            Visibility::Tenants(_) => {
                let biller_city = c
                    .biller_id
                    .as_deref()
                    .and_then(|b| billers.find(&c.tenant_id, b))
                    .and_then(|b| b.tenant_id.as_deref());
                self.reaches(&c.tenant_id)
                    || txn.is_some_and(|t| self.sees_txn(t))
                    || biller_city.is_some_and(|city| self.reaches(city))
            }
        }
    }
}
