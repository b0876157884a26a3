//! DIGIT's default apportionment (egov-apportion-service, `OrderByPriority`), in paise.
//!
//! A payment on a bill is spread over the bill's details (one per demand, i.e. per tax
//! period) and, within a detail, over its account details (one per tax head):
//! - details oldest period first;
//! - within a detail, account details by amount ascending, then by their tax-head order, so
//!   rebates and exemptions (negative amounts) come first;
//! - a positive head takes what is still due on it (amount − already adjusted) while money
//!   remains; a negative head (rebate) is adjusted in full and adds its size to the money
//!   available. kosh applies every rebate before any positive head, where DIGIT meets a later
//!   period's rebate only when it reaches that period: DIGIT can then be left holding money a
//!   bill of net amount X cannot absorb even though exactly X was paid; kosh cannot;
//! - with advance allowed, unconsumed advance (negative ADVANCE heads) is used first, up to
//!   what the positive heads owe, and money left at the end becomes a new advance on the
//!   latest detail. Without it, money left over is an error: validation must have refused an
//!   overpayment.
//!
//! DIGIT does this over BigDecimal in a separate service; kosh does it in integers inside the
//! payment's transaction, every sum and difference checked: an amount that cannot be
//! computed is [`ApportionError::Money`], a refusal of the payment, never a wrap.

use kosh_platform::money::{MoneyError, Paise};

/// One account detail of a bill: a tax head's amount within one bill detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The caller's handle for this head (e.g. the bill account detail id).
    pub id: String,
    pub tax_head_code: String,
    /// Negative for rebates, exemptions and advance.
    pub amount: Paise,
    /// What earlier payments already adjusted.
    pub adjusted: Paise,
    /// The tax head's `order` from master data.
    pub order: i64,
    /// An advance carried forward (DIGIT: the tax-head code contains "ADVANCE").
    pub is_advance: bool,
}

/// One bill detail: the heads of one demand (one tax period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub id: String,
    pub from_period: i64,
    pub heads: Vec<Head>,
}

/// What a payment does to each head: how much of the payment it takes (positive heads), or
/// how much of a rebate or advance it consumes (negative values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub period_id: String,
    pub head_id: String,
    pub tax_head_code: String,
    /// What this payment adds to the head's adjusted amount.
    pub adjusted_now: Paise,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apportionment {
    pub adjustments: Vec<Adjustment>,
    /// Paid per period (what DIGIT writes to billDetail.amountPaid), in input order.
    pub paid_per_period: Vec<(String, Paise)>,
    /// Money left over that becomes advance on the latest period: (period id, amount > 0).
    pub new_advance: Option<(String, Paise)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApportionError {
    #[error(
        "the payment of {} paise is more than the {} paise due, and the service takes no advance",
        .paid.get(),
        .owed.get()
    )]
    Overpaid { paid: Paise, owed: Paise },
    #[error("a payment cannot be negative")]
    Negative,
    #[error("an advance needs a bill detail to sit on")]
    NoPeriod,
    #[error("{0}")]
    Money(#[from] MoneyError),
}

/// What is still due on a head (negative for an unconsumed rebate or advance).
fn due(head: &Head) -> Result<Paise, MoneyError> {
    head.amount.checked_sub(head.adjusted)
}

/// Spreads `paid` over `periods`.
pub fn apportion(
    periods: &[Period],
    paid: Paise,
    advance_allowed: bool,
) -> Result<Apportionment, ApportionError> {
    if paid.is_negative() {
        return Err(ApportionError::Negative);
    }
    let mut adjustments: Vec<Adjustment> = Vec::new();
    let mut paid_now: Vec<(String, Paise)> = periods
        .iter()
        .map(|p| (p.id.clone(), Paise::ZERO))
        .collect();
    let mut remaining = paid;

    // DIGIT's special case: nothing paid on a bill of nothing settles every head as it stands.
    let heads = || periods.iter().flat_map(|p| &p.heads);
    let total_due = Paise::sum(heads().map(due).collect::<Result<Vec<_>, _>>()?)?;
    if paid.is_zero() && total_due.is_zero() {
        for period in periods {
            for head in &period.heads {
                adjustments.push(adjust(period, head, due(head)?));
            }
        }
        return Ok(Apportionment {
            adjustments,
            paid_per_period: paid_now,
            new_advance: None,
        });
    }

    if advance_allowed {
        let positive_due = Paise::sum(
            heads()
                .filter(|h| !h.is_advance)
                .map(|h| due(h).map(|d| d.max(Paise::ZERO)))
                .collect::<Result<Vec<_>, _>>()?,
        )?;
        let mut usable = positive_due;
        for period in periods {
            for head in period.heads.iter().filter(|h| h.is_advance) {
                let unconsumed = due(head)?.min(Paise::ZERO).checked_neg()?;
                let take = unconsumed.min(usable);
                if take > Paise::ZERO {
                    usable = usable.checked_sub(take)?;
                    remaining = remaining.checked_add(take)?;
                    adjustments.push(adjust(period, head, take.checked_neg()?));
                }
            }
        }
    }

    // Rebates and exemptions first: each is adjusted in full and adds to the money available.
    for period in periods {
        for head in period.heads.iter().filter(|h| !h.is_advance) {
            let due = due(head)?;
            if due.is_negative() {
                remaining = remaining.checked_sub(due)?;
                adjustments.push(adjust(period, head, due));
            }
        }
    }
    let mut order: Vec<usize> = (0..periods.len()).collect();
    order.sort_by_key(|&i| periods[i].from_period);
    for &pi in &order {
        let period = &periods[pi];
        let mut heads: Vec<(&Head, Paise)> = Vec::new();
        for head in period.heads.iter().filter(|h| !h.is_advance) {
            let due = due(head)?;
            if !due.is_negative() {
                heads.push((head, due));
            }
        }
        heads.sort_by_key(|(h, _)| (h.amount, h.order));
        for (head, due) in heads {
            let take = due.min(remaining);
            remaining = remaining.checked_sub(take)?;
            paid_now[pi].1 = paid_now[pi].1.checked_add(take)?;
            adjustments.push(adjust(period, head, take));
        }
    }

    let new_advance = if remaining > Paise::ZERO {
        if !advance_allowed {
            return Err(ApportionError::Overpaid {
                paid,
                owed: paid.checked_sub(remaining)?,
            });
        }
        let latest = order.last().ok_or(ApportionError::NoPeriod)?;
        Some((periods[*latest].id.clone(), remaining))
    } else {
        None
    };
    Ok(Apportionment {
        adjustments,
        paid_per_period: paid_now,
        new_advance,
    })
}

fn adjust(period: &Period, head: &Head, adjusted_now: Paise) -> Adjustment {
    Adjustment {
        period_id: period.id.clone(),
        head_id: head.id.clone(),
        tax_head_code: head.tax_head_code.clone(),
        adjusted_now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(id: &str, code: &str, amount: i64, order: i64) -> Head {
        Head {
            id: id.into(),
            tax_head_code: code.into(),
            amount: Paise::new(amount),
            adjusted: Paise::ZERO,
            order,
            is_advance: code.contains("ADVANCE"),
        }
    }

    fn period(id: &str, from: i64, heads: Vec<Head>) -> Period {
        Period {
            id: id.into(),
            from_period: from,
            heads,
        }
    }

    fn taken(a: &Apportionment, head_id: &str) -> i64 {
        a.adjustments
            .iter()
            .filter(|x| x.head_id == head_id)
            .map(|x| x.adjusted_now.get())
            .sum()
    }

    #[test]
    fn oldest_period_first_then_smallest_head() {
        let bill = vec![
            period("2026", 2026, vec![head("tax26", "PT_TAX", 100_00, 1)]),
            period(
                "2025",
                2025,
                vec![
                    head("tax25", "PT_TAX", 300_00, 1),
                    head("cess25", "PT_FIRE_CESS", 50_00, 2),
                ],
            ),
        ];
        let a = apportion(&bill, Paise::new(200_00), false).unwrap();
        // 2025 first; within it the smaller head (cess) first.
        assert_eq!(taken(&a, "cess25"), 50_00);
        assert_eq!(taken(&a, "tax25"), 150_00);
        assert_eq!(taken(&a, "tax26"), 0);
        assert_eq!(
            a.paid_per_period,
            vec![
                ("2026".into(), Paise::ZERO),
                ("2025".into(), Paise::new(200_00))
            ]
        );
        assert_eq!(a.new_advance, None);
    }

    #[test]
    fn a_rebate_adds_to_the_money_available() {
        let bill = vec![period(
            "p",
            1,
            vec![
                head("tax", "PT_TAX", 1000_00, 1),
                head("rebate", "PT_TIME_REBATE", -100_00, 3),
            ],
        )];
        let a = apportion(&bill, Paise::new(900_00), false).unwrap();
        assert_eq!(taken(&a, "rebate"), -100_00);
        assert_eq!(taken(&a, "tax"), 1000_00);
    }

    #[test]
    fn leftover_becomes_advance_only_where_allowed() {
        let bill = vec![
            period("old", 1, vec![head("a", "WS_CHARGE", 100_00, 1)]),
            period("new", 2, vec![head("b", "WS_CHARGE", 100_00, 1)]),
        ];
        let a = apportion(&bill, Paise::new(250_00), true).unwrap();
        assert_eq!(a.new_advance, Some(("new".into(), Paise::new(50_00))));
        assert_eq!(
            apportion(&bill, Paise::new(250_00), false),
            Err(ApportionError::Overpaid {
                paid: Paise::new(250_00),
                owed: Paise::new(200_00)
            })
        );
    }

    #[test]
    fn existing_advance_is_used_first() {
        let bill = vec![period(
            "p",
            1,
            vec![
                head("charge", "WS_CHARGE", 500_00, 1),
                head("adv", "WS_ADVANCE_CARRYFORWARD", -200_00, 0),
            ],
        )];
        let a = apportion(&bill, Paise::new(300_00), true).unwrap();
        assert_eq!(taken(&a, "adv"), -200_00);
        assert_eq!(taken(&a, "charge"), 500_00);
        assert_eq!(a.new_advance, None);
    }

    #[test]
    fn nothing_paid_on_nothing_due_settles_the_heads() {
        let bill = vec![period(
            "p",
            1,
            vec![
                head("tax", "PT_TAX", 100_00, 1),
                head("rebate", "PT_TIME_REBATE", -100_00, 2),
            ],
        )];
        let a = apportion(&bill, Paise::ZERO, false).unwrap();
        assert_eq!(taken(&a, "tax"), 100_00);
        assert_eq!(taken(&a, "rebate"), -100_00);
    }

    #[test]
    fn amounts_at_the_ends_of_i64_are_refused_not_wrapped() {
        let bill = vec![period(
            "p",
            1,
            vec![
                head("tax", "PT_TAX", i64::MAX, 1),
                head("cess", "PT_FIRE_CESS", i64::MAX, 2),
            ],
        )];
        assert!(matches!(
            apportion(&bill, Paise::new(100), false),
            Err(ApportionError::Money(MoneyError::Overflow))
        ));
        let mut odd = head("tax", "PT_TAX", i64::MIN, 1);
        odd.adjusted = Paise::new(1);
        assert!(matches!(
            apportion(&[period("p", 1, vec![odd])], Paise::ZERO, true),
            Err(ApportionError::Money(MoneyError::Overflow))
        ));
        let rebate = vec![period(
            "p",
            1,
            vec![
                head("tax", "PT_TAX", 100, 1),
                head("rebate", "PT_TIME_REBATE", -i64::MAX, 2),
            ],
        )];
        assert!(matches!(
            apportion(&rebate, Paise::MAX, true),
            Err(ApportionError::Money(MoneyError::Overflow))
        ));
    }

    proptest! {
        /// The books balance: every paisa paid lands on a head or in the new advance, rebates
        /// included; no positive head takes more than it owes; a later period gets money only
        /// when every earlier one is settled; paying at most the net amount due never leaves
        /// money over.
        #[test]
        fn money_is_conserved(
            amounts in prop::collection::vec(prop::collection::vec(-50_00i64..5_000_00, 1..4), 1..4),
            percent in 0i64..=130,
            advance_allowed: bool,
        ) {
            let periods: Vec<Period> = amounts.iter().enumerate().map(|(i, heads)| {
                period(&format!("p{i}"), i as i64, heads.iter().enumerate().map(|(j, a)| head(&format!("h{i}-{j}"), "TAX", *a, j as i64)).collect())
            }).collect();
            let raw_net: i64 = amounts.iter().flatten().sum();
            let net = raw_net.max(0);
            let paid = net * percent / 100;
            let rebates: i64 = amounts.iter().flatten().filter(|a| **a < 0).map(|a| -a).sum();
            match apportion(&periods, Paise::new(paid), advance_allowed) {
                Ok(a) => {
                    let onto_positive: i64 = a.adjustments.iter().map(|x| x.adjusted_now.get()).filter(|x| *x > 0).sum();
                    let advance = a.new_advance.as_ref().map(|x| x.1.get()).unwrap_or(0);
                    if !(paid == 0 && net == 0) {
                        prop_assert_eq!(onto_positive + advance, paid + rebates);
                    }
                    if paid <= net && raw_net >= 0 { prop_assert_eq!(advance, 0); }
                    for p in &periods {
                        for h in &p.heads {
                            let t = taken(&a, &h.id);
                            let amount = h.amount.get();
                            if amount >= 0 { prop_assert!(t >= 0 && t <= amount); } else { prop_assert_eq!(t, amount); }
                        }
                    }
                    for (i, p) in periods.iter().enumerate() {
                        let got: i64 = p.heads.iter().map(|h| taken(&a, &h.id).max(0)).sum();
                        if got > 0 {
                            for earlier in &periods[..i] {
                                for h in earlier.heads.iter().filter(|h| h.amount > Paise::ZERO) {
                                    prop_assert_eq!(taken(&a, &h.id), h.amount.get());
                                }
                            }
                        }
                    }
                }
                // A bill whose rebates exceed its taxes leaves money over even when nothing is
                // paid; validation refuses such a bill unless the service takes advance.
                Err(ApportionError::Overpaid { .. }) => prop_assert!(!advance_allowed && (paid > net || raw_net < 0)),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
