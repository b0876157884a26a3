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

use kosh_platform::AuthUser;
use kosh_platform::auth::roles_reach;
use kosh_platform::envelope::Role;

use crate::complaint::Complaint;
use crate::master::Billers;
use crate::store::TxnRow;

/// What one caller may see.
#[derive(Debug, Clone, PartialEq)]
pub enum Visibility {
    /// An operating unit: what this user posted or registered.
    Unit(String),
    /// The tenants the caller's roles reach ([`AuthUser::reaches`]).
    Tenants(Vec<Role>),
}

impl Visibility {
    pub fn of(user: &AuthUser) -> Visibility {
        if user.is_bbps_unit() {
            return Visibility::Unit(user.uuid.clone());
        }
        Visibility::Tenants(user.roles.clone())
    }

    fn reaches(&self, tenant_id: &str) -> bool {
        match self {
            Visibility::Unit(_) => false,
            Visibility::Tenants(roles) => roles_reach(roles, tenant_id),
        }
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
