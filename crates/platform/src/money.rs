//! Money is one type in kosh: [`Paise`], an integer number of paise (₹1 = 100 paise) with
//! checked arithmetic only. On the wire it is a decimal number of rupees (DIGIT's
//! BigDecimal) or, for gateways and BBPS, an integer of paise; conversion is exact (more than
//! two decimal places is an error, never a rounding).
//!
//! Nothing wraps: every sum, difference and product is checked, and an overflow is a
//! [`MoneyError`] that the caller turns into a refusal. On top of that no single amount may
//! exceed [`Limits::max_amount`] and no total [`Limits::max_total`] (settings
//! `KOSH_MAX_AMOUNT_RUPEES` and `KOSH_MAX_TOTAL_RUPEES`): an amount far beyond any municipal
//! bill is a typing slip or an attack, and refusing it keeps every sum far from `i64`'s limits.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An amount of money in paise. Signed, because some tax heads are credits (rebates,
/// exemptions, advance) and carry negative amounts; a payment amount is never negative
/// ([`Paise::payable`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Paise(i64);

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is too large to be computed")]
    Overflow,
    #[error("the amount {0} is negative")]
    Negative(Paise),
    #[error("the amount {amount} is above the largest amount kosh accepts ({ceiling})")]
    OverCeiling { amount: Paise, ceiling: Paise },
    #[error("the total {amount} is above the largest total kosh accepts ({ceiling})")]
    TotalOverCeiling { amount: Paise, ceiling: Paise },
    #[error("{0:?} is not an amount of money")]
    NotAnAmount(String),
    #[error("{0:?} has a fraction of a paisa")]
    SubPaise(String),
}

impl Paise {
    pub const ZERO: Paise = Paise(0);
    pub const MAX: Paise = Paise(i64::MAX);

    /// Any integer of paise; limits are checked where an amount enters ([`Paise::payable`],
    /// [`Paise::within_ceiling`]).
    pub const fn new(paise: i64) -> Paise {
        Paise(paise)
    }

    /// The integer of paise (for storage and for wires that speak paise).
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whole rupees.
    pub fn from_rupees(rupees: i64) -> Result<Paise, MoneyError> {
        rupees
            .checked_mul(100)
            .map(Paise)
            .ok_or(MoneyError::Overflow)
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Paise) -> Result<Paise, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Paise)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Paise) -> Result<Paise, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Paise)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_neg(self) -> Result<Paise, MoneyError> {
        self.0.checked_neg().map(Paise).ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Paise, MoneyError> {
        self.0
            .checked_mul(factor)
            .map(Paise)
            .ok_or(MoneyError::Overflow)
    }

    /// The sum of `amounts`, or [`MoneyError::Overflow`].
    pub fn sum<I: IntoIterator<Item = Paise>>(amounts: I) -> Result<Paise, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Paise::ZERO, |total, a| total.checked_add(a))
    }

    /// The sum of integers of paise, or [`MoneyError::Overflow`].
    pub fn sum_i64<I: IntoIterator<Item = i64>>(amounts: I) -> Result<i64, MoneyError> {
        Paise::sum(amounts.into_iter().map(Paise)).map(Paise::get)
    }

    /// This amount if it is neither negative nor above the single-amount ceiling: what any
    /// amount paid must be.
    pub fn payable(self) -> Result<Paise, MoneyError> {
        if self.is_negative() {
            return Err(MoneyError::Negative(self));
        }
        self.within_ceiling()
    }

    /// This amount if its size (either sign) is within the single-amount ceiling.
    pub fn within_ceiling(self) -> Result<Paise, MoneyError> {
        let ceiling = limits().max_amount;
        if self.0.unsigned_abs() > ceiling.0.unsigned_abs() {
            return Err(MoneyError::OverCeiling {
                amount: self,
                ceiling,
            });
        }
        Ok(self)
    }

    /// This total if its size (either sign) is within the total ceiling.
    pub fn total_within_ceiling(self) -> Result<Paise, MoneyError> {
        let ceiling = limits().max_total;
        if self.0.unsigned_abs() > ceiling.0.unsigned_abs() {
            return Err(MoneyError::TotalOverCeiling {
                amount: self,
                ceiling,
            });
        }
        Ok(self)
    }

    /// The sum of amounts that are each payable, checked against the total ceiling.
    pub fn payable_total<I: IntoIterator<Item = Paise>>(amounts: I) -> Result<Paise, MoneyError> {
        let mut total = Paise::ZERO;
        for amount in amounts {
            total = total.checked_add(amount.payable()?)?;
        }
        total.total_within_ceiling()
    }

    /// Parses a decimal rupee amount ("12", "12.5", "12.50", "-3.25", ".5") exactly.
    pub fn parse_rupees(text: &str) -> Result<Paise, MoneyError> {
        parse_rupees(text).ok_or_else(|| {
            let t = text.trim();
            let digits = t.trim_start_matches(['-', '+']);
            if !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && digits.bytes().filter(|b| *b == b'.').count() <= 1
            {
                if digits
                    .split_once('.')
                    .is_some_and(|(_, f)| f.trim_end_matches('0').len() > 2)
                {
                    MoneyError::SubPaise(t.to_string())
                } else {
                    MoneyError::Overflow
                }
            } else {
                MoneyError::NotAnAmount(t.to_string())
            }
        })
    }

    /// Rupees with two decimals ("12.50", "-0.05").
    pub fn rupees(self) -> String {
        format_rupees(self.0)
    }

    /// Rupees as a JSON number, as DIGIT's BigDecimal fields serialize (12.5 → 12.5).
    pub fn rupees_json(self) -> Value {
        rupees_json(self.0)
    }
}

/// Shown as rupees ("₹12.50"), for messages.
impl fmt::Display for Paise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "₹{}", format_rupees(self.0))
    }
}

impl From<Paise> for i64 {
    fn from(p: Paise) -> i64 {
        p.0
    }
}

/// The ceilings on amounts. The defaults are far above any real municipal bill and far
/// below `i64::MAX` paise, so that any sum of accepted amounts is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest single amount (a tax amount, a payment, a bill's share of one).
    pub max_amount: Paise,
    /// The largest total (a payment over several bills, a demand, a posting).
    pub max_total: Paise,
}

/// ₹100 crore.
pub const DEFAULT_MAX_AMOUNT_RUPEES: i64 = 1_000_000_000;
/// ₹1,000 crore.
pub const DEFAULT_MAX_TOTAL_RUPEES: i64 = 10_000_000_000;

static MAX_AMOUNT: AtomicI64 = AtomicI64::new(DEFAULT_MAX_AMOUNT_RUPEES * 100);
static MAX_TOTAL: AtomicI64 = AtomicI64::new(DEFAULT_MAX_TOTAL_RUPEES * 100);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_amount: Paise(DEFAULT_MAX_AMOUNT_RUPEES * 100),
            max_total: Paise(DEFAULT_MAX_TOTAL_RUPEES * 100),
        }
    }
}

impl Limits {
    /// Ceilings in whole rupees; refused when not positive or when the total ceiling is
    /// below the single one.
    pub fn from_rupees(max_amount: i64, max_total: i64) -> Result<Limits, String> {
        let amount = Paise::from_rupees(max_amount).map_err(|e| e.to_string())?;
        let total = Paise::from_rupees(max_total).map_err(|e| e.to_string())?;
        if amount <= Paise::ZERO || total < amount {
            return Err(format!(
                "the amount ceiling ({max_amount}) must be positive and at most the total ceiling ({max_total})"
            ));
        }
        // Far enough from i64::MAX that a total of a million ceilings still adds up exactly.
        if total.get() > i64::MAX / 1_000_000 {
            return Err(format!("the total ceiling ({max_total} rupees) is too large"));
        }
        Ok(Limits {
            max_amount: amount,
            max_total: total,
        })
    }
}

/// The ceilings in force (process-wide: set once by `kosh serve` from its settings).
pub fn limits() -> Limits {
    Limits {
        max_amount: Paise(MAX_AMOUNT.load(Ordering::Relaxed)),
        max_total: Paise(MAX_TOTAL.load(Ordering::Relaxed)),
    }
}

/// Sets the ceilings in force.
pub fn set_limits(limits: Limits) {
    MAX_AMOUNT.store(limits.max_amount.0, Ordering::Relaxed);
    MAX_TOTAL.store(limits.max_total.0, Ordering::Relaxed);
}

/// Parses a decimal rupee amount ("12", "12.5", "12.50", "-3.25") into paise.
pub fn parse_rupees(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Trailing zeros beyond the paise are harmless ("10.500"); other digits are not.
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return None;
    }
    let rupees: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let paise: i64 = format!("{fraction:0<2}").parse().ok()?;
    let total = rupees.checked_mul(100)?.checked_add(paise)?;
    Some(if negative { -total } else { total })
}

/// Reads an amount from JSON, given as a number or a string. A JSON number is read through
/// its shortest decimal form, which is the text the client sent for any realistic amount.
pub fn paise_from_json(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return i.checked_mul(100);
            }
            parse_rupees(&n.as_f64()?.to_string())
        }
        Value::String(s) => parse_rupees(s),
        _ => None,
    }
}

/// Formats paise as a rupee decimal with two places ("12.50").
pub fn format_rupees(paise: i64) -> String {
    let sign = if paise < 0 { "-" } else { "" };
    let abs = paise.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Paise as a JSON number in rupees, as DIGIT's BigDecimal fields serialize (12.5 → 12.5).
pub fn rupees_json(paise: i64) -> Value {
    if paise % 100 == 0 {
        Value::from(paise / 100)
    } else {
        format_rupees(paise)
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_rupees("12"), Some(1200));
        assert_eq!(parse_rupees("12.5"), Some(1250));
        assert_eq!(parse_rupees("12.05"), Some(1205));
        assert_eq!(parse_rupees("-3.25"), Some(-325));
        assert_eq!(parse_rupees(".5"), Some(50));
        assert_eq!(parse_rupees("10.500"), Some(1050));
        assert_eq!(parse_rupees("10.005"), None);
        assert_eq!(parse_rupees("abc"), None);
        assert_eq!(parse_rupees(""), None);
        assert_eq!(parse_rupees("1e3"), None);
    }

    #[test]
    fn reads_json_numbers_and_strings() {
        assert_eq!(paise_from_json(&json!(100)), Some(10000));
        assert_eq!(paise_from_json(&json!(100.1)), Some(10010));
        assert_eq!(paise_from_json(&json!(0.29)), Some(29));
        assert_eq!(paise_from_json(&json!("99.99")), Some(9999));
        assert_eq!(paise_from_json(&json!(100.005)), None);
    }

    #[test]
    fn formats() {
        assert_eq!(format_rupees(1250), "12.50");
        assert_eq!(format_rupees(-5), "-0.05");
        assert_eq!(rupees_json(1200), json!(12));
        assert_eq!(rupees_json(1250), json!(12.5));
        assert_eq!(Paise::new(1250).to_string(), "₹12.50");
    }

    #[test]
    fn arithmetic_never_wraps() {
        let big = Paise::new(i64::MAX - 1);
        assert_eq!(big.checked_add(Paise::new(2)), Err(MoneyError::Overflow));
        assert_eq!(
            Paise::new(i64::MIN).checked_sub(Paise::new(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Paise::new(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(
            Paise::sum([Paise::new(i64::MAX / 2 + 1), Paise::new(i64::MAX / 2 + 1)]),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Paise::sum([Paise::new(1), Paise::new(2)]),
            Ok(Paise::new(3))
        );
    }

    #[test]
    fn payable_amounts_are_non_negative_and_within_the_ceiling() {
        let ceiling = Limits::default().max_amount;
        assert_eq!(Paise::new(0).payable(), Ok(Paise::ZERO));
        assert_eq!(ceiling.payable(), Ok(ceiling));
        assert!(matches!(
            Paise::new(ceiling.get() + 1).payable(),
            Err(MoneyError::OverCeiling { .. })
        ));
        assert_eq!(
            Paise::new(-16).payable(),
            Err(MoneyError::Negative(Paise::new(-16)))
        );
        assert!(Paise::new(i64::MIN).within_ceiling().is_err());
        assert!(
            Paise::payable_total([ceiling; 11]).is_err(),
            "eleven ceilings pass the total ceiling"
        );
        assert_eq!(
            Paise::payable_total([ceiling; 10]),
            Ok(Limits::default().max_total)
        );
    }

    #[test]
    fn limits_are_checked() {
        assert!(Limits::from_rupees(0, 10).is_err());
        assert!(Limits::from_rupees(10, 5).is_err());
        assert!(Limits::from_rupees(10, i64::MAX / 100).is_err());
        assert_eq!(
            Limits::from_rupees(DEFAULT_MAX_AMOUNT_RUPEES, DEFAULT_MAX_TOTAL_RUPEES),
            Ok(Limits::default())
        );
    }

    #[test]
    fn parse_errors_say_why() {
        assert_eq!(Paise::parse_rupees("12.5"), Ok(Paise::new(1250)));
        assert!(matches!(
            Paise::parse_rupees("12.505"),
            Err(MoneyError::SubPaise(_))
        ));
        assert!(matches!(
            Paise::parse_rupees("abc"),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert_eq!(
            Paise::parse_rupees("92233720368547758080"),
            Err(MoneyError::Overflow)
        );
    }
}
