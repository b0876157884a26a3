//! Making a bill from the unpaid ACTIVE demands of one consumer code (DIGIT's
//! `BillServicev2.prepareBill`), without touching the database.
//!
//! - one bill detail per demand, oldest tax period first, amount Σ(tax − collection);
//! - one account detail per tax head within a detail (demand details of one head merged,
//!   the first one's id kept), ordered by the tax head's `order`;
//! - no bill when the total is negative (more advance than dues), as DIGIT;
//! - the part-payment rules of the business service, and a minimum: the larger of the
//!   service's `minAmountPayable` and the demands' `minimumAmountPayable`, never more than
//!   the bill (the whole bill when part payment is not allowed);
//! - every sum checked, and the bill's total within kosh's total ceiling: an amount that
//!   cannot be computed, or a total above the ceiling, refuses the bill
//!   ([`kosh_platform::money::MoneyError`]) rather than making a wrong one.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use kosh_identity::users::User;
use kosh_platform::money::{MoneyError, Paise};

use super::expiry::expiry_date;
use super::{Bill, BillAccountDetail, BillDetail, BillStatus};
use crate::demand::{Audit, Demand, new_id};
use crate::masters::{BusinessService, TaxHead};

/// What a bill is made with besides its demands.
pub struct BillContext<'a> {
    pub tenant_id: &'a str,
    pub business: &'a BusinessService,
    pub tax_heads: &'a [TaxHead],
    pub payer: Option<&'a User>,
    pub now_ms: i64,
    pub tz: Tz,
    /// The uuid of the user the bill is made for (its audit).
    pub actor: &'a str,
}

/// The bill of one consumer code and service from `demands`; `None` when there are none or
/// they owe less than nothing; an error when an amount cannot be computed or the total is
/// above the total ceiling.
pub fn make(demands: &[Demand], ctx: &BillContext<'_>) -> Result<Option<Bill>, MoneyError> {
    let Some(first) = demands.first() else {
        return Ok(None);
    };
    let mut demands: Vec<&Demand> = demands.iter().collect();
    demands.sort_by(|a, b| {
        (a.tax_period_from, a.tax_period_to, &a.id).cmp(&(
            b.tax_period_from,
            b.tax_period_to,
            &b.id,
        ))
    });
    let bill_id = new_id();
    let details = demands
        .iter()
        .map(|d| detail_for(d, &bill_id, ctx))
        .collect::<Result<Vec<BillDetail>, MoneyError>>()?;
    let total = Paise::sum(details.iter().map(|d| d.amount))?;
    if total.is_negative() {
        return Ok(None);
    }
    total.total_within_ceiling()?;
    let demanded_minimum = Paise::sum(demands.iter().map(|d| d.minimum_amount_payable))?;
    let minimum = if ctx.business.part_payment_allowed {
        ctx.business
            .min_amount_payable
            .max(demanded_minimum)
            .clamp(Paise::ZERO, total)
    } else {
        total
    };
    let payer = ctx.payer;
    Ok(Some(Bill {
        id: bill_id,
        tenant_id: ctx.tenant_id.to_string(),
        consumer_code: first.consumer_code.clone(),
        business_service: first.business_service.clone(),
        bill_number: None,
        bill_date: ctx.now_ms,
        seq: 0,
        status: BillStatus::Active,
        total_amount: total,
        amount_paid: Paise::ZERO,
        user_id: payer.map(|u| u.uuid.clone()),
        payer_name: payer.and_then(|u| u.name.clone()),
        payer_address: payer.and_then(crate::payer::address),
        payer_email: payer.and_then(|u| u.email_id.clone()),
        mobile_number: payer.and_then(|u| u.mobile_number.clone()),
        part_payment_allowed: ctx.business.part_payment_allowed,
        is_advance_allowed: ctx.business.is_advance_allowed,
        minimum_amount_to_be_paid: minimum,
        collection_modes_not_allowed: ctx.business.collection_modes_not_allowed.clone(),
        additional_details: None,
        file_store_id: None,
        payment_id: None,
        advance_amount: Paise::ZERO,
        advance_demand_detail_id: None,
        audit: Audit::new(ctx.actor, ctx.now_ms),
        details,
    }))
}

fn detail_for(
    demand: &Demand,
    bill_id: &str,
    ctx: &BillContext<'_>,
) -> Result<BillDetail, MoneyError> {
    let detail_id = new_id();
    let mut by_head: BTreeMap<&str, BillAccountDetail> = BTreeMap::new();
    let mut outstanding = Paise::ZERO;
    for dd in &demand.details {
        let due = dd.tax_amount.checked_sub(dd.collection_amount)?;
        outstanding = outstanding.checked_add(due)?;
        if let Some(a) = by_head.get_mut(dd.tax_head_code.as_str()) {
            a.amount = a.amount.checked_add(due)?;
            continue;
        }
        by_head.insert(
            dd.tax_head_code.as_str(),
            BillAccountDetail {
                id: new_id(),
                tenant_id: demand.tenant_id.clone(),
                bill_detail_id: detail_id.clone(),
                demand_detail_id: dd.id.clone(),
                tax_head_code: dd.tax_head_code.clone(),
                order: ctx
                    .tax_heads
                    .iter()
                    .find(|h| h.code == dd.tax_head_code)
                    .map(|h| h.order)
                    .unwrap_or(0),
                amount: due,
                adjusted_amount: Paise::ZERO,
                additional_details: None,
            },
        );
    }
    let mut account_details: Vec<BillAccountDetail> = by_head.into_values().collect();
    account_details.sort_by(|a, b| (a.order, &a.tax_head_code).cmp(&(b.order, &b.tax_head_code)));
    Ok(BillDetail {
        id: detail_id,
        tenant_id: demand.tenant_id.clone(),
        bill_id: bill_id.to_string(),
        demand_id: demand.id.clone(),
        from_period: demand.tax_period_from,
        to_period: demand.tax_period_to,
        expiry_date: expiry_date(demand, ctx.now_ms, ctx.tz),
        amount: outstanding,
        amount_paid: Paise::ZERO,
        additional_details: demand.additional_details.clone(),
        account_details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demand::{DemandDetail, DemandStatus};

    fn detail(head: &str, tax: i64, collected: i64) -> DemandDetail {
        DemandDetail {
            id: new_id(),
            demand_id: "d".into(),
            tenant_id: "pb.amritsar".into(),
            tax_head_code: head.into(),
            tax_amount: Paise::new(tax),
            collection_amount: Paise::new(collected),
            additional_details: None,
            audit: Audit::new("x", 0),
        }
    }

    fn demand(from: i64, minimum: i64, details: Vec<DemandDetail>) -> Demand {
        Demand {
            id: new_id(),
            tenant_id: "pb.amritsar".into(),
            consumer_code: "PT-1".into(),
            consumer_type: "PROPERTY".into(),
            business_service: "PT".into(),
            payer: None,
            tax_period_from: from,
            tax_period_to: from + 1000,
            minimum_amount_payable: Paise::new(minimum),
            bill_expiry_time: None,
            fixed_bill_expiry_date: None,
            status: DemandStatus::Active,
            is_payment_completed: false,
            additional_details: None,
            audit: Audit::new("x", 0),
            details,
        }
    }

    fn service(part: bool, min: i64) -> BusinessService {
        BusinessService {
            code: "PT".into(),
            part_payment_allowed: part,
            is_advance_allowed: false,
            min_amount_payable: Paise::new(min),
            collection_modes_not_allowed: vec!["DD".into()],
        }
    }

    fn heads() -> Vec<TaxHead> {
        ["PT_TAX", "PT_CANCER_CESS", "PT_TIME_REBATE"]
            .iter()
            .enumerate()
            .map(|(i, code)| TaxHead {
                code: code.to_string(),
                service: "PT".into(),
                category: "TAX".into(),
                order: i as i64,
            })
            .collect()
    }

    fn ctx<'a>(business: &'a BusinessService, heads: &'a [TaxHead]) -> BillContext<'a> {
        BillContext {
            tenant_id: "pb.amritsar",
            business,
            tax_heads: heads,
            payer: None,
            now_ms: 1_560_573_000_000,
            tz: chrono_tz::Asia::Kolkata,
            actor: "u",
        }
    }

    #[test]
    fn merges_heads_and_sums_what_is_still_due() {
        let business = service(true, 10000);
        let heads = heads();
        let demands = vec![
            demand(
                2000,
                0,
                vec![
                    detail("PT_TAX", 50000, 0),
                    detail("PT_CANCER_CESS", 1000, 0),
                ],
            ),
            demand(
                1000,
                0,
                vec![
                    detail("PT_TAX", 30000, 10000),
                    detail("PT_TAX", 5000, 0),
                    detail("PT_TIME_REBATE", -2000, 0),
                ],
            ),
        ];
        let bill = make(&demands, &ctx(&business, &heads))
            .unwrap()
            .expect("a bill");
        assert_eq!(bill.total_amount.get(), 51000 + 23000);
        // Oldest period first.
        assert_eq!(bill.details[0].from_period, 1000);
        assert_eq!(bill.details[0].amount.get(), 23000);
        let first = &bill.details[0].account_details;
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].tax_head_code, "PT_TAX");
        assert_eq!(first[0].amount.get(), 25000);
        assert_eq!(first[0].demand_detail_id, demands[1].details[0].id);
        assert_eq!(first[1].amount.get(), -2000);
        assert_eq!(bill.minimum_amount_to_be_paid.get(), 10000);
        assert_eq!(bill.status, BillStatus::Active);
    }

    #[test]
    fn minimum_is_the_larger_rule_capped_at_the_bill() {
        let heads = heads();
        let business = service(true, 10000);
        let d = vec![demand(1000, 25000, vec![detail("PT_TAX", 50000, 0)])];
        assert_eq!(
            make(&d, &ctx(&business, &heads))
                .unwrap()
                .unwrap()
                .minimum_amount_to_be_paid
                .get(),
            25000
        );
        let d = vec![demand(1000, 0, vec![detail("PT_TAX", 5000, 0)])];
        assert_eq!(
            make(&d, &ctx(&business, &heads))
                .unwrap()
                .unwrap()
                .minimum_amount_to_be_paid
                .get(),
            5000
        );
        let whole = service(false, 0);
        let d = vec![demand(1000, 0, vec![detail("PT_TAX", 50000, 0)])];
        assert_eq!(
            make(&d, &ctx(&whole, &heads))
                .unwrap()
                .unwrap()
                .minimum_amount_to_be_paid
                .get(),
            50000
        );
    }

    #[test]
    fn no_bill_for_a_negative_total() {
        let heads = heads();
        let business = service(true, 0);
        let d = vec![demand(1000, 0, vec![detail("PT_TIME_REBATE", -100, 0)])];
        assert!(make(&d, &ctx(&business, &heads)).unwrap().is_none());
        assert!(make(&[], &ctx(&business, &heads)).unwrap().is_none());
    }

    #[test]
    fn totals_that_cannot_be_computed_or_pass_the_ceiling_make_no_bill() {
        let heads = heads();
        let business = service(true, 0);
        let two_huge = vec![demand(
            1000,
            0,
            vec![detail("PT_TAX", i64::MAX, 0), detail("PT_TAX", i64::MAX, 0)],
        )];
        assert_eq!(
            make(&two_huge, &ctx(&business, &heads)).unwrap_err(),
            MoneyError::Overflow
        );
        let underflow = vec![demand(1000, 0, vec![detail("PT_TAX", i64::MIN, 1)])];
        assert_eq!(
            make(&underflow, &ctx(&business, &heads)).unwrap_err(),
            MoneyError::Overflow
        );
        let ceiling = kosh_platform::money::limits().max_total.get();
        let at = vec![
            demand(1000, 0, vec![detail("PT_TAX", ceiling - 1, 0)]),
            demand(2000, 0, vec![detail("PT_TAX", 1, 0)]),
        ];
        assert_eq!(
            make(&at, &ctx(&business, &heads))
                .unwrap()
                .unwrap()
                .total_amount
                .get(),
            ceiling
        );
        let over = vec![
            demand(1000, 0, vec![detail("PT_TAX", ceiling, 0)]),
            demand(2000, 0, vec![detail("PT_TAX", 1, 0)]),
        ];
        assert!(matches!(
            make(&over, &ctx(&business, &heads)).unwrap_err(),
            MoneyError::TotalOverCeiling { .. }
        ));
        let minimums = vec![
            demand(1000, i64::MAX, vec![detail("PT_TAX", 100, 0)]),
            demand(2000, i64::MAX, vec![detail("PT_TAX", 100, 0)]),
        ];
        assert_eq!(
            make(&minimums, &ctx(&business, &heads)).unwrap_err(),
            MoneyError::Overflow
        );
    }
}
