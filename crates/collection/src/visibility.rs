//! Who sees which payments and refunds due: the one place collection decides it. The
//! payment searches (`payments/_search`, `payments/{module}/_search`, counts included) add
//! the caller's [`Visibility`] to their criteria; a payment outside it is not found.
//!
//! - A citizen (user type CITIZEN) sees the payments made by or for them: the payment's
//!   `payerId` is their uuid (DIGIT sets `payerIds` to a CITIZEN requester's uuid), or its
//!   mobile number is their registered one.
//! - A BBPS operating unit (a SYSTEM user with the BBPS role) sees the payments it posted
//!   itself, never the city's other payments.
//! - Everyone else (employees, integrators' SYSTEM users) sees every payment of the tenant
//!   the request names; the gateway has already refused a tenant the caller's roles do not
//!   reach (DIGIT's 403).
//!
//! Refunds due (`refunds/_search` and the daily refunds report) are the city's books: only
//! callers who see a tenant's payments see its refunds.

use kosh_platform::AuthUser;
use kosh_platform::sql::SqlBuilder;

/// What one caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every payment of the tenant asked about.
    Tenant,
    /// A citizen's: by payer uuid or registered mobile number.
    Payer {
        uuid: String,
        mobile: Option<String>,
    },
    /// A BBPS operating unit's own postings.
    Poster { uuid: String },
}

impl Visibility {
    pub fn of(user: &AuthUser) -> Visibility {
        if user.is_citizen() {
            return Visibility::Payer {
                uuid: user.uuid.clone(),
                mobile: user
                    .mobile_number
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string),
            };
        }
        if user.is_bbps_unit() {
            return Visibility::Poster {
                uuid: user.uuid.clone(),
            };
        }
        Visibility::Tenant
    }

    /// ` AND (...)` over `egcl_payment p`: the payments the caller may see.
    pub fn push_payment_filter(&self, q: &mut SqlBuilder) {
        match self {
            Visibility::Tenant => {}
            Visibility::Payer { uuid, mobile } => {
                q.push(" AND (p.payer_id = ").bind(uuid.as_str());
                if let Some(mobile) = mobile {
                    q.push(" OR ");
                    push_mobile_is(q, mobile);
                }
                q.push(")");
            }
            Visibility::Poster { uuid } => {
                q.push(" AND p.created_by = ").bind(uuid.as_str());
            }
        }
    }

    /// Whether the caller sees a tenant's refunds due.
    pub fn sees_refunds(&self) -> bool {
        matches!(self, Visibility::Tenant)
    }
}

/// `p.mobile_number = mobile`: a payment carrying this mobile number. The search criterion
/// `mobileNumber` and a citizen's own payments both go through here, the one place a
/// payment's mobile number is matched.
pub fn push_mobile_is(q: &mut SqlBuilder, mobile: &str) {
    // The column keeps the mobile's blind index (kosh_platform::pii).
    q.push("p.mobile_number = ")
        .bind(kosh_platform::pii::vault().index(mobile));
}
