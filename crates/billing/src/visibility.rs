//! Who sees which demands and bills: the one place billing decides it. Every search
//! (`demand/_search`, `bill/v2/_search`, `bill/v2/_fetchbill`) turns the signed-in caller
//! into a [`Scope`] and lets it narrow the criteria; a record outside the scope is simply
//! not found, so asking about someone else's consumer code, mobile number or uuid answers
//! exactly what asking about one that does not exist answers.
//!
//! - A citizen (user type CITIZEN) sees the demands and bills whose payer is them: the
//!   payer's uuid is theirs, or the payer (the demand's user, or the mobile number written
//!   on the bill) has their registered mobile number. DIGIT's "My bills" (fetch-bill by
//!   `mobileNumber` alone) keeps working for their own number.
//! - A BBPS operating unit (a SYSTEM user with the BBPS role) is an agent with a customer's
//!   account number in hand: it finds bills by consumer code or bill id, never by a
//!   person's mobile number or email.
//! - Everyone else (employees, integrators' SYSTEM users) sees every record of the tenant
//!   the request names; the gateway has already refused a tenant the caller's roles do not
//!   reach (DIGIT's 403), and [`crate::rules::check_state_level_tenant`] keeps employees
//!   to cities.

use kosh_platform::sql::SqlBuilder;
use kosh_platform::{AuthUser, Db, DigitError};

use crate::payer;

/// What one caller may see, resolved for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every demand and bill of the tenant asked about.
    #[default]
    Tenant,
    /// A citizen's own: the payers they are.
    Own(Owner),
    /// A BBPS operating unit: by consumer code, bill id or demand id only.
    Agent,
}

/// The payers a citizen is: their own uuid and every user with their registered mobile
/// number (in the state of the tenant asked about), and that mobile number, which a bill
/// also carries as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uuids: Vec<String>,
    pub mobile: Option<String>,
}

impl Scope {
    /// The caller's scope for a search at `tenant_id`.
    pub async fn of(db: &Db, user: &AuthUser, tenant_id: &str) -> Result<Scope, DigitError> {
        if user.is_citizen() {
            let mobile = user
                .mobile_number
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string);
            let mut uuids = vec![user.uuid.clone()];
            if let Some(mobile) = &mobile {
                let mut conn = db.pool().acquire().await?;
                let found = payer::uuids_with_contact(&mut conn, tenant_id, Some(mobile), None);
                for uuid in found.await? {
                    if !uuids.contains(&uuid) {
                        uuids.push(uuid);
                    }
                }
            }
            return Ok(Scope::Own(Owner { uuids, mobile }));
        }
        if user.is_bbps_unit() {
            return Ok(Scope::Agent);
        }
        Ok(Scope::Tenant)
    }

    /// Whether a search may find anything at all: a BBPS unit's must name an account
    /// (`by_account`: a consumer code, bill id or demand id) and no person's mobile number
    /// or email (`by_contact`).
    pub fn may_search(&self, by_account: bool, by_contact: bool) -> bool {
        match self {
            Scope::Agent => by_account && !by_contact,
            Scope::Tenant | Scope::Own(_) => true,
        }
    }

    /// The demand payers a search may match: those asked about (or any), kept to the
    /// caller's own for a citizen.
    pub fn payers(&self, asked: Option<Vec<String>>) -> Option<Vec<String>> {
        match self {
            Scope::Own(owner) => Some(match asked {
                Some(asked) => asked
                    .into_iter()
                    .filter(|p| owner.uuids.contains(p))
                    .collect(),
                None => owner.uuids.clone(),
            }),
            Scope::Tenant | Scope::Agent => asked,
        }
    }

    /// ` AND (...)`: the bill rows (columns prefixed with `alias`, e.g. `b.`) the caller may
    /// see; nothing for [`Scope::Tenant`] and [`Scope::Agent`].
    pub fn push_bill_filter(&self, q: &mut SqlBuilder, alias: &'static str) {
        if let Scope::Own(owner) = self {
            push_payer_is(q, alias, &owner.uuids, owner.mobile.as_deref());
        }
    }
}

/// ` AND (<alias>user_id IN uuids OR <alias>mobile_number = mobile)`: a bill whose payer is
/// one of `uuids` or carries `mobile`. Bill search by a mobile number and a citizen's own
/// bills both go through here, the one place a bill's mobile number is matched.
pub fn push_payer_is(
    q: &mut SqlBuilder,
    alias: &'static str,
    uuids: &[String],
    mobile: Option<&str>,
) {
    q.push(" AND (")
        .push(alias)
        .push("user_id IN ")
        .bind_list(uuids);
    if let Some(mobile) = mobile {
        q.push(" OR ");
        push_mobile_is(q, alias, mobile);
    }
    q.push(")");
}

/// `<alias>mobile_number = mobile`: a bill row carrying this mobile number.
pub fn push_mobile_is(q: &mut SqlBuilder, alias: &'static str, mobile: &str) {
    // The column keeps the mobile's blind index (kosh_platform::pii).
    q.push(alias)
        .push("mobile_number = ")
        .bind(kosh_platform::pii::vault().index(mobile));
}
