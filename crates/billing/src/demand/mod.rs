//! Demands: what a payer owes for one consumer code, business service and tax period, as
//! amounts per tax head (demand details). A demand detail's `collection_amount` only moves
//! with payments ([`crate::payment`]); its `tax_amount` with demand updates.

pub mod api;
pub mod audit;
pub mod input;
pub mod store;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;

use axum::http::StatusCode;
use kosh_identity::users::User;
use kosh_platform::DigitError;
use kosh_platform::money::{MoneyError, Paise};
use serde_json::{Value, json};

use crate::wire::plain;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemandStatus {
    Active,
    Cancelled,
    Adjusted,
}

impl DemandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DemandStatus::Active => "ACTIVE",
            DemandStatus::Cancelled => "CANCELLED",
            DemandStatus::Adjusted => "ADJUSTED",
        }
    }

    /// DIGIT reads the status in any letter case.
    pub fn parse(text: &str) -> Option<DemandStatus> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(DemandStatus::Active),
            "CANCELLED" => Some(DemandStatus::Cancelled),
            "ADJUSTED" => Some(DemandStatus::Adjusted),
            _ => None,
        }
    }
}

/// Who created a record and who changed it last, and when (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub created_by: String,
    pub created_ms: i64,
    pub last_modified_by: String,
    pub last_modified_ms: i64,
}

impl Audit {
    pub fn new(by: &str, now_ms: i64) -> Audit {
        Audit {
            created_by: by.to_string(),
            created_ms: now_ms,
            last_modified_by: by.to_string(),
            last_modified_ms: now_ms,
        }
    }

    pub fn touched(&self, by: &str, now_ms: i64) -> Audit {
        Audit {
            last_modified_by: by.to_string(),
            last_modified_ms: now_ms,
            ..self.clone()
        }
    }

    /// DIGIT's `AuditDetails`.
    pub fn json(&self) -> Value {
        json!({
            "createdBy": self.created_by,
            "lastModifiedBy": self.last_modified_by,
            "createdTime": self.created_ms,
            "lastModifiedTime": self.last_modified_ms,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub id: String,
    pub tenant_id: String,
    pub consumer_code: String,
    pub consumer_type: String,
    pub business_service: String,
    /// The payer's user uuid.
    pub payer: Option<String>,
    pub tax_period_from: i64,
    pub tax_period_to: i64,
    pub minimum_amount_payable: Paise,
    pub bill_expiry_time: Option<i64>,
    pub fixed_bill_expiry_date: Option<i64>,
    pub status: DemandStatus,
    pub is_payment_completed: bool,
    pub additional_details: Option<Value>,
    pub audit: Audit,
    pub details: Vec<DemandDetail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemandDetail {
    pub id: String,
    pub demand_id: String,
    pub tenant_id: String,
    pub tax_head_code: String,
    /// Negative for rebates, exemptions and advance.
    pub tax_amount: Paise,
    /// What payments collected against `tax_amount`.
    pub collection_amount: Paise,
    pub additional_details: Option<Value>,
    pub audit: Audit,
}

impl Demand {
    /// What is still owed: Σ(tax − collection), with checked arithmetic.
    pub fn checked_outstanding(&self) -> Result<Paise, MoneyError> {
        let mut owed = Paise::ZERO;
        for d in &self.details {
            owed = owed.checked_add(d.tax_amount.checked_sub(d.collection_amount)?)?;
        }
        Ok(owed)
    }

    /// What is still owed: Σ(tax − collection). Every demand kosh writes has passed
    /// [`Demand::check_books`], which computes this sum with checked arithmetic, so it cannot
    /// overflow for a stored demand; should it (a row changed behind kosh's back), the error
    /// is logged and the amount saturates rather than wraps.
    pub fn outstanding(&self) -> Paise {
        self.checked_outstanding().unwrap_or_else(|e| {
            tracing::error!(demand_id = %self.id, tenant_id = %self.tenant_id, error = %e,
                "a demand's outstanding amount does not fit in paise");
            Paise::MAX
        })
    }

    /// Whether payments have collected every tax head (DIGIT: Σtax == Σcollection).
    pub fn fully_collected(&self) -> bool {
        self.checked_outstanding() == Ok(Paise::ZERO)
    }

    /// The invariants every stored demand keeps, asserted on every write
    /// ([`store::insert_many`], [`store::update`], so payments and their
    /// reversals too):
    /// - each detail: 0 ≤ collected ≤ tax when the tax is positive, tax ≤ collected ≤ 0 when
    ///   it is negative (a rebate, exemption or advance is "collected" as it is used), nothing
    ///   collected on a zero tax;
    /// - each tax head, its details summed: the same bounds on the sums, so a negative line
    ///   added to a collected head cannot leave more collected than the head's tax;
    /// - the demand: what is collected on its charges, net of the credits used (every head
    ///   but advance), never exceeds what they make due, net of rebates and exemptions (or
    ///   zero, for a demand whose credits outweigh its charges). Money paid beyond that is
    ///   advance, kept on ADVANCE heads (tax = −advance held, collection = −advance used,
    ///   bounded by the per-head rule), so net collected ≤ net due + advance held;
    /// - every sum fits in paise (checked, never wrapped).
    pub fn check_books(&self) -> Result<(), BooksError> {
        let mut violations = Vec::new();
        for d in &self.details {
            if !within_sign_bounds(d.tax_amount, d.collection_amount) {
                violations.push(Violation::Detail {
                    detail_id: d.id.clone(),
                    head: d.tax_head_code.clone(),
                    tax: d.tax_amount,
                    collected: d.collection_amount,
                });
            }
        }
        let mut heads: BTreeMap<&str, (Paise, Paise)> = BTreeMap::new();
        let mut charges = (Paise::ZERO, Paise::ZERO);
        let mut overflow = false;
        let mut add = |sum: &mut (Paise, Paise), tax: Paise, collected: Paise| match (
            sum.0.checked_add(tax),
            sum.1.checked_add(collected),
        ) {
            (Ok(t), Ok(c)) => *sum = (t, c),
            _ => overflow = true,
        };
        for d in &self.details {
            add(
                heads.entry(d.tax_head_code.as_str()).or_default(),
                d.tax_amount,
                d.collection_amount,
            );
            if !is_advance_head(&d.tax_head_code) {
                add(&mut charges, d.tax_amount, d.collection_amount);
            }
        }
        if overflow || self.checked_outstanding().is_err() {
            violations.push(Violation::Overflow);
        } else {
            for (head, (tax, collected)) in heads {
                if !within_sign_bounds(tax, collected) {
                    violations.push(Violation::Head {
                        head: head.to_string(),
                        tax,
                        collected,
                    });
                }
            }
            let (due, collected) = charges;
            if collected > due.max(Paise::ZERO) {
                violations.push(Violation::Net { due, collected });
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(BooksError {
                demand_id: self.id.clone(),
                consumer_code: self.consumer_code.clone(),
                violations,
            })
        }
    }

    /// The demand in DIGIT's JSON, with the payer's user when known.
    pub fn to_json(&self, payer: Option<&User>) -> Value {
        let payer = match (payer, &self.payer) {
            (Some(user), _) => crate::payer::demand_json(user),
            (None, Some(uuid)) => json!({ "uuid": uuid }),
            (None, None) => Value::Null,
        };
        json!({
            "id": self.id,
            "tenantId": self.tenant_id,
            "consumerCode": self.consumer_code,
            "consumerType": self.consumer_type,
            "businessService": self.business_service,
            "payer": payer,
            "taxPeriodFrom": self.tax_period_from,
            "taxPeriodTo": self.tax_period_to,
            "demandDetails": self.details.iter().map(DemandDetail::to_json).collect::<Vec<_>>(),
            "auditDetails": self.audit.json(),
            "fixedBillExpiryDate": self.fixed_bill_expiry_date,
            "billExpiryTime": self.bill_expiry_time,
            "additionalDetails": self.additional_details,
            "minimumAmountPayable": self.minimum_amount_payable.rupees_json(),
            "isPaymentCompleted": self.is_payment_completed,
            "status": self.status.as_str(),
        })
    }
}

impl DemandDetail {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "demandId": self.demand_id,
            "taxHeadMasterCode": self.tax_head_code,
            "taxAmount": self.tax_amount.rupees_json(),
            "collectionAmount": self.collection_amount.rupees_json(),
            "additionalDetails": self.additional_details,
            "auditDetails": self.audit.json(),
            "tenantId": self.tenant_id,
        })
    }
}

/// Whether a tax head holds advance (money paid beyond what was due). DIGIT's rule, which
/// collection's apportionment follows too: the head's code contains "ADVANCE". The
/// ADVANCE_COLLECTION heads that payments put advance on (`PT_ADVANCE_CARRYFORWARD`,
/// `WS_ADVANCE_CARRYFORWARD`, `SW_ADVANCE_CARRYFORWARD`) all do, and the books are checked
/// where no master data is at hand (payments write demands through the store).
pub fn is_advance_head(code: &str) -> bool {
    code.to_ascii_uppercase().contains("ADVANCE")
}

/// Whether `collected` lies between zero and `tax`: 0 ≤ collected ≤ tax for a positive tax,
/// tax ≤ collected ≤ 0 for a negative one (a credit is collected as it is used).
pub fn within_sign_bounds(tax: Paise, collected: Paise) -> bool {
    if tax.is_negative() {
        (tax..=Paise::ZERO).contains(&collected)
    } else {
        (Paise::ZERO..=tax).contains(&collected)
    }
}

/// One broken invariant of a demand's books ([`Demand::check_books`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A detail has collected more than its tax, or the wrong sign.
    Detail {
        detail_id: String,
        head: String,
        tax: Paise,
        collected: Paise,
    },
    /// A tax head, its details summed, has collected more than its tax, or the wrong sign.
    Head {
        head: String,
        tax: Paise,
        collected: Paise,
    },
    /// The demand's charges, net of credits used, have collected more than they make due.
    Net { due: Paise, collected: Paise },
    /// A sum of the demand's amounts does not fit in paise.
    Overflow,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Detail {
                detail_id,
                head,
                tax,
                collected,
            } => write!(
                f,
                "the detail {detail_id} of tax head {head} has {} collected against a taxAmount of {}",
                plain(*collected),
                plain(*tax)
            ),
            Violation::Head {
                head,
                tax,
                collected,
            } => write!(
                f,
                "tax head {head} has {} collected against a taxAmount of {}",
                plain(*collected),
                plain(*tax)
            ),
            Violation::Net { due, collected } => write!(
                f,
                "{} is collected against {} due (net of rebates and exemptions); money beyond what is due is kept only as advance",
                plain(*collected),
                plain(*due)
            ),
            Violation::Overflow => write!(f, "its amounts add up beyond what kosh can count"),
        }
    }
}

/// The books of one demand do not balance: what [`Demand::check_books`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BooksError {
    pub demand_id: String,
    pub consumer_code: String,
    pub violations: Vec<Violation>,
}

/// A demand request that would unbalance a demand's books: the client's mistake, HTTP 400
/// (`validate::written`).
pub const OVERCOLLECTED: &str = "EG_BS_COLLECTION_EXCEEDS_DEMAND";
/// A write of an unbalanced demand that validation let through: a fault in kosh, HTTP 500.
pub const BOOKS_VIOLATED: &str = "EG_BS_BOOKS_VIOLATED";

impl fmt::Display for BooksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demand {} (consumer code {}) : {}",
            self.demand_id,
            self.consumer_code,
            self.violations_text()
        )
    }
}

impl BooksError {
    /// The violations, one after another.
    pub fn violations_text(&self) -> String {
        self.violations
            .iter()
            .map(Violation::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The violations of a demand that a request would create (its id is not yet anyone's).
    pub fn for_new_demand(&self) -> String {
        format!(
            "the new demand of consumer code {} : {}",
            self.consumer_code,
            self.violations_text()
        )
    }

    /// The refusal of a write that reached the store with these books: validation should
    /// have stopped it, so it is kosh's fault (HTTP 500), logged with the demand.
    pub fn fault(&self) -> DigitError {
        tracing::error!(demand_id = %self.demand_id, consumer_code = %self.consumer_code,
            violation = %self, "refused to write a demand whose books do not balance");
        DigitError::new(
            BOOKS_VIOLATED,
            format!("kosh refused to write a demand whose books do not balance, and changed nothing: {self}"),
        )
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A fresh id for a demand, detail, bill or audit row: a time-ordered UUID (version 7), so
/// new rows land at the end of the primary-key indexes instead of at random pages, which
/// keeps inserts cheap when the tables hold millions of rows (a random UUID made a
/// 1,000,000-demand import spend most of its time splitting pages). Ids are not secrets.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(id: &str, head: &str, tax: i64, collected: i64) -> DemandDetail {
        DemandDetail {
            id: id.into(),
            demand_id: "d-1".into(),
            tenant_id: "pb.amritsar".into(),
            tax_head_code: head.into(),
            tax_amount: Paise::new(tax),
            collection_amount: Paise::new(collected),
            additional_details: None,
            audit: Audit::new("x", 0),
        }
    }

    fn demand(details: Vec<DemandDetail>) -> Demand {
        Demand {
            id: "d-1".into(),
            tenant_id: "pb.amritsar".into(),
            consumer_code: "PT-1".into(),
            consumer_type: "BUILTUP".into(),
            business_service: "PT".into(),
            payer: None,
            tax_period_from: 0,
            tax_period_to: 1,
            minimum_amount_payable: Paise::ZERO,
            bill_expiry_time: None,
            fixed_bill_expiry_date: None,
            status: DemandStatus::Active,
            is_payment_completed: false,
            additional_details: None,
            audit: Audit::new("x", 0),
            details,
        }
    }

    fn violations(d: &Demand) -> Vec<Violation> {
        d.check_books()
            .err()
            .map(|e| e.violations)
            .unwrap_or_default()
    }

    #[test]
    fn balanced_books_pass() {
        for details in [
            // Nothing paid yet; a rebate not yet used.
            vec![
                detail("a", "PT_TAX", 1000_00, 0),
                detail("b", "PT_TIME_REBATE", -20_00, 0),
            ],
            // Part paid; the rebate used first, as apportionment does.
            vec![
                detail("a", "PT_TAX", 1000_00, 400_00),
                detail("b", "PT_TIME_REBATE", -20_00, -20_00),
            ],
            // Paid in full with 100 beyond: the 100 is advance, held on an ADVANCE head.
            vec![
                detail("a", "WS_CHARGE", 500_00, 500_00),
                detail("b", "WS_ADVANCE_CARRYFORWARD", -100_00, 0),
            ],
            // That advance used up by a later bill, then another one partly used.
            vec![
                detail("a", "WS_CHARGE", 500_00, 500_00),
                detail("b", "WS_ADVANCE_CARRYFORWARD", -100_00, -100_00),
                detail("c", "WS_ADVANCE_CARRYFORWARD", -50_00, -20_00),
            ],
            // An advance taken back by a payment reversal.
            vec![
                detail("a", "WS_CHARGE", 500_00, 0),
                detail("b", "WS_ADVANCE_CARRYFORWARD", 0, 0),
            ],
            // Credits that outweigh the charges, nothing collected.
            vec![
                detail("a", "PT_TAX", 100_00, 0),
                detail("b", "PT_OWNER_EXEMPTION", -300_00, 0),
            ],
            // Two details of one head, the smaller one paid.
            vec![
                detail("a", "PT_TAX", 5000, 0),
                detail("b", "PT_TAX", 1000, 1000),
            ],
        ] {
            let d = demand(details);
            assert_eq!(d.check_books(), Ok(()), "{d:?}");
        }
    }

    #[test]
    fn each_detail_stays_between_zero_and_its_tax() {
        let d = demand(vec![detail("a", "PT_TAX", 100_00, 100_01)]);
        assert!(violations(&d).contains(&Violation::Detail {
            detail_id: "a".into(),
            head: "PT_TAX".into(),
            tax: Paise::new(100_00),
            collected: Paise::new(100_01),
        }));
        for (tax, collected) in [(100_00, -1), (-100_00, 1), (-100_00, -100_01), (0, 1)] {
            let d = demand(vec![detail("a", "PT_TIME_REBATE", tax, collected)]);
            assert!(
                matches!(violations(&d).first(), Some(Violation::Detail { .. })),
                "tax {tax}, collected {collected}"
            );
        }
    }

    /// The reported update: a fully paid TL_TAX of 400, then a TL_TAX line of −300. Each
    /// detail is within its own bounds; the head and the demand are not.
    #[test]
    fn a_negative_line_on_a_collected_head_is_caught() {
        let d = demand(vec![
            detail("a", "TL_TAX", 400_00, 400_00),
            detail("b", "TL_TAX", -300_00, 0),
        ]);
        let found = violations(&d);
        assert!(
            found.contains(&Violation::Head {
                head: "TL_TAX".into(),
                tax: Paise::new(100_00),
                collected: Paise::new(400_00)
            }),
            "{found:?}"
        );
        assert!(found.contains(&Violation::Net {
            due: Paise::new(100_00),
            collected: Paise::new(400_00)
        }));
        assert!(!found.iter().any(|v| matches!(v, Violation::Detail { .. })));
        let message = d.check_books().unwrap_err().to_string();
        assert!(
            message.contains("tax head TL_TAX has 400 collected against a taxAmount of 100"),
            "{message}"
        );
    }

    /// A rebate added to a demand that was already paid in full leaves money collected
    /// beyond what is due, with no advance or refund to show for it.
    #[test]
    fn a_rebate_after_payment_overcollects_the_demand() {
        let d = demand(vec![
            detail("a", "PT_TAX", 1000_00, 1000_00),
            detail("b", "PT_ADHOC_REBATE", -100_00, 0),
        ]);
        assert_eq!(
            violations(&d),
            vec![Violation::Net {
                due: Paise::new(900_00),
                collected: Paise::new(1000_00)
            }]
        );
    }

    #[test]
    fn sums_never_wrap() {
        let d = demand(vec![
            detail("a", "PT_TAX", i64::MAX, 0),
            detail("b", "PT_FIRE_CESS", i64::MAX, 0),
        ]);
        assert_eq!(violations(&d), vec![Violation::Overflow]);
        assert!(d.checked_outstanding().is_err());
        assert!(!d.fully_collected());
        let d = demand(vec![
            detail("a", "PT_TIME_REBATE", i64::MIN, 0),
            detail("b", "PT_OWNER_EXEMPTION", -1, 0),
        ]);
        assert_eq!(violations(&d), vec![Violation::Overflow]);
    }

    /// A planted violation is caught whatever else the demand holds, and the store's answer
    /// to it is a 500 (kosh's fault).
    #[test]
    fn a_planted_violation_is_caught() {
        let mut d = demand(vec![
            detail("a", "PT_TAX", 1000_00, 1000_00),
            detail("b", "PT_CANCER_CESS", 50_00, 50_00),
            detail("c", "PT_TIME_REBATE", -20_00, -20_00),
            detail("d", "PT_ADVANCE_CARRYFORWARD", -70_00, -30_00),
        ]);
        assert_eq!(d.check_books(), Ok(()));
        d.details[1].collection_amount = Paise::new(50_01);
        let err = d.check_books().unwrap_err();
        assert_eq!(err.demand_id, "d-1");
        assert!(err.violations.contains(&Violation::Detail {
            detail_id: "b".into(),
            head: "PT_CANCER_CESS".into(),
            tax: Paise::new(50_00),
            collected: Paise::new(50_01)
        }));
        assert_eq!(err.fault().status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.fault().first_code(), Some(BOOKS_VIOLATED));
        assert!(
            err.to_string()
                .starts_with("demand d-1 (consumer code PT-1) : the detail b of tax head PT_CANCER_CESS has 50.01 collected against a taxAmount of 50"),
            "{err}"
        );
    }

    #[test]
    fn advance_heads_follow_digits_rule() {
        assert!(is_advance_head("PT_ADVANCE_CARRYFORWARD"));
        assert!(is_advance_head("ws_advance_carryforward"));
        assert!(!is_advance_head("PT_TAX"));
        assert!(!is_advance_head("PT_TIME_REBATE"));
    }
}
