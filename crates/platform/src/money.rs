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

impl MoneyError {
    /// The error code a refusal for this reason carries where the route has no code of its
    /// own (DIGIT's routes name theirs: `INVALID_PAYMENTDETAIL`, `TXN_CREATE_INVALID_TXN_AMT`).
    pub const fn code(&self) -> &'static str {
        match self {
            MoneyError::Overflow
            | MoneyError::OverCeiling { .. }
            | MoneyError::TotalOverCeiling { .. } => "AMOUNT_ABOVE_CEILING",
            MoneyError::Negative(_) => "NEGATIVE_AMOUNT",
            MoneyError::NotAnAmount(_) | MoneyError::SubPaise(_) => "INVALID_AMOUNT",
        }
    }

    /// Whether the amount was written well but is out of range (negative, too large), as
    /// opposed to not being an amount at all.
    pub const fn is_out_of_range(&self) -> bool {
        matches!(
            self,
            MoneyError::Overflow
                | MoneyError::Negative(_)
                | MoneyError::OverCeiling { .. }
                | MoneyError::TotalOverCeiling { .. }
        )
    }
}

/// A refusal in DIGIT's error body (HTTP 400), nothing written.
impl From<MoneyError> for crate::DigitError {
    fn from(e: MoneyError) -> Self {
        crate::DigitError::new(e.code(), e.to_string())
    }
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
        parse_signed_rupees(text).map(Paise)
    }

    /// Reads a rupee amount from JSON, given as a number (DIGIT's web UI) or a string (the
    /// Swagger contracts), exactly. A JSON number is read through its shortest decimal form,
    /// which is the text the client sent for any realistic amount.
    pub fn from_json(value: &Value) -> Result<Paise, MoneyError> {
        match value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return Paise::from_rupees(i);
                }
                if n.is_u64() {
                    return Err(MoneyError::Overflow);
                }
                match n.as_f64() {
                    Some(f) if f.is_finite() => Paise::parse_rupees(&f.to_string()),
                    _ => Err(MoneyError::NotAnAmount(n.to_string())),
                }
            }
            Value::String(s) => Paise::parse_rupees(s),
            other => Err(MoneyError::NotAnAmount(other.to_string())),
        }
    }

    /// The amount in whole rupees, or `None` when it has a paise part.
    pub const fn whole_rupees(self) -> Option<i64> {
        if self.0 % 100 == 0 {
            Some(self.0 / 100)
        } else {
            None
        }
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
            return Err(format!(
                "the total ceiling ({max_total} rupees) is too large"
            ));
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
    parse_signed_rupees(text).ok()
}

/// A decimal rupee amount with an optional sign: digits, at most one point, digits; more
/// than two places only when the extra ones are zeros ("10.500").
fn parse_signed_rupees(text: &str) -> Result<i64, MoneyError> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let paise = unsigned_rupees(digits).map_err(|e| match e {
        MoneyError::NotAnAmount(_) => MoneyError::NotAnAmount(t.to_string()),
        MoneyError::SubPaise(_) => MoneyError::SubPaise(t.to_string()),
        other => other,
    })?;
    // Negating a non-negative i64 cannot overflow.
    Ok(if negative { -paise } else { paise })
}

/// Digits, at most one point, digits (either side may be empty, not both).
fn unsigned_rupees(text: &str) -> Result<i64, MoneyError> {
    let not_an_amount = || MoneyError::NotAnAmount(text.to_string());
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(not_an_amount());
    }
    if !all_digits(whole) || !all_digits(fraction) {
        return Err(not_an_amount());
    }
    // Trailing zeros beyond the paise are harmless ("10.500"); other digits are not.
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return Err(MoneyError::SubPaise(text.to_string()));
    }
    let rupees = digits_value(whole)?;
    let paise = fraction
        .bytes()
        .zip([10, 1])
        .map(|(d, weight)| i64::from(d - b'0') * weight)
        .sum::<i64>();
    rupees
        .checked_mul(100)
        .and_then(|p| p.checked_add(paise))
        .ok_or(MoneyError::Overflow)
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// The integer ASCII digits spell (empty is 0); leading zeros are read as the integer
/// they spell.
fn digits_value(digits: &str) -> Result<i64, MoneyError> {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    significant.parse().map_err(|_| MoneyError::Overflow)
}

/// Reads an amount from JSON, given as a number or a string. A JSON number is read through
/// its shortest decimal form, which is the text the client sent for any realistic amount.
pub fn paise_from_json(value: &Value) -> Option<i64> {
    Paise::from_json(value).ok().map(Paise::get)
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

/// Amounts as payment gateways and BBPS write them. Gateways speak either rupees as decimal
/// text with two places (PayU `amount`, Paytm `TXN_AMOUNT`, the SANDBOX) or paise as an
/// integer (MIGS `vpc_Amount`, PhonePe `amount`, every BBPS amount). These forms are
/// unsigned: a sign, an exponent, grouping or spaces inside the number make the text not an
/// amount. No floating point is involved: DIGIT formats with `DecimalFormat` over doubles
/// (`formatAmtAsPaise` multiplies a double by 100); kosh reads and writes the digits, so 0.29
/// rupees is 29 paise and never 28.
pub mod wire {
    use serde_json::Value;

    use super::{MoneyError, Paise, all_digits, digits_value, unsigned_rupees};

    /// Rupees with exactly two places: 1250 paise is `"12.50"`, 5 is `"0.05"`.
    pub fn rupees_text(amount: Paise) -> String {
        amount.rupees()
    }

    /// Paise as integer text: `"1250"`.
    pub fn paise_text(amount: Paise) -> String {
        amount.get().to_string()
    }

    /// Rupees written as unsigned decimal text (`"12"`, `"12.5"`, `"12.50"`, `"12.500"`,
    /// `"12."`). More than two significant places, a sign, an exponent, spaces inside the
    /// number, a number without whole rupees (`".5"`) or an empty string are refused: an
    /// amount a gateway reports is read exactly or not at all. ASCII whitespace around the
    /// number is ignored.
    pub fn parse_rupees_text(text: &str) -> Result<Paise, MoneyError> {
        let t = text.trim();
        let whole = t.split_once('.').map_or(t, |(w, _)| w);
        if whole.is_empty() {
            return Err(MoneyError::NotAnAmount(t.to_string()));
        }
        unsigned_rupees(t).map(Paise)
    }

    /// Paise written as ASCII digits and nothing else (BBPS's form: no sign, point, exponent,
    /// space or grouping). Leading zeros are read as the integer they spell (`"0100"` is 100
    /// paise). The amount is non-negative by construction; its ceiling is the caller's to
    /// check ([`Paise::payable`]).
    pub fn parse_paise_digits(text: &str) -> Result<Paise, MoneyError> {
        if text.is_empty() || !all_digits(text) {
            return Err(MoneyError::NotAnAmount(text.to_string()));
        }
        digits_value(text).map(Paise)
    }

    /// Paise as integer text with ASCII whitespace around it ignored (`" 1250 "`).
    pub fn parse_paise_text(text: &str) -> Result<Paise, MoneyError> {
        parse_paise_digits(text.trim())
    }

    /// Paise from JSON: a non-negative integer number, or a string of digits.
    pub fn paise_from_json(value: &Value) -> Result<Paise, MoneyError> {
        match value {
            Value::Number(n) => match n.as_i64() {
                Some(p) if p < 0 => Err(MoneyError::Negative(Paise(p))),
                Some(p) => Ok(Paise(p)),
                None if n.is_u64() => Err(MoneyError::Overflow),
                None => Err(MoneyError::NotAnAmount(n.to_string())),
            },
            Value::String(s) => parse_paise_text(s),
            other => Err(MoneyError::NotAnAmount(other.to_string())),
        }
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
        assert_eq!(
            Paise::new(i64::MIN).checked_neg(),
            Err(MoneyError::Overflow)
        );
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

    #[test]
    fn signed_text_is_read_exactly_or_refused_with_a_reason() {
        assert_eq!(Paise::parse_rupees("+5"), Ok(Paise::new(500)));
        assert_eq!(Paise::parse_rupees("-0.16"), Ok(Paise::new(-16)));
        assert_eq!(Paise::parse_rupees(" 7.10 "), Ok(Paise::new(710)));
        assert_eq!(
            Paise::parse_rupees("92233720368547758"),
            Ok(Paise::new(9_223_372_036_854_775_800))
        );
        assert_eq!(
            Paise::parse_rupees("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Paise::parse_rupees("-92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        for bad in [
            "--5", "+-5", "-", ".", "1e30", "1,000", "1 000", "0x10", "NaN", "",
        ] {
            assert!(
                matches!(Paise::parse_rupees(bad), Err(MoneyError::NotAnAmount(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Paise::parse_rupees("0.001"),
            Err(MoneyError::SubPaise(_))
        ));
    }

    #[test]
    fn json_amounts_say_why_they_are_refused() {
        assert_eq!(Paise::from_json(&json!(100)), Ok(Paise::new(100_00)));
        assert_eq!(Paise::from_json(&json!(99.84)), Ok(Paise::new(99_84)));
        assert_eq!(Paise::from_json(&json!("-0.16")), Ok(Paise::new(-16)));
        assert_eq!(Paise::from_json(&json!(-1)), Ok(Paise::new(-100)));
        assert_eq!(
            Paise::from_json(&json!(i64::MAX)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Paise::from_json(&json!(i64::MIN)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Paise::from_json(&json!(u64::MAX)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Paise::from_json(&json!(1e30)), Err(MoneyError::Overflow));
        assert_eq!(Paise::from_json(&json!(-1e30)), Err(MoneyError::Overflow));
        assert!(matches!(
            Paise::from_json(&json!(0.001)),
            Err(MoneyError::SubPaise(_))
        ));
        assert!(matches!(
            Paise::from_json(&json!("1e30")),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert!(matches!(
            Paise::from_json(&json!(true)),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert_eq!(paise_from_json(&json!(i64::MAX)), None);
    }

    #[test]
    fn errors_carry_a_code_and_become_digit_refusals() {
        let over = Paise::new(Limits::default().max_amount.get() + 1)
            .payable()
            .unwrap_err();
        assert_eq!(over.code(), "AMOUNT_ABOVE_CEILING");
        assert!(over.is_out_of_range());
        let e: crate::DigitError = over.into();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(e.first_code(), Some("AMOUNT_ABOVE_CEILING"));
        assert_eq!(
            MoneyError::Negative(Paise::new(-1)).code(),
            "NEGATIVE_AMOUNT"
        );
        assert!(!MoneyError::NotAnAmount("x".into()).is_out_of_range());
        assert_eq!(Paise::new(1000_00).whole_rupees(), Some(1000));
        assert_eq!(Paise::new(1000_50).whole_rupees(), None);
    }

    /// Amounts at and around the limits: the sum of any two is exact or refused, and never
    /// lands on an amount the ceilings would let through.
    #[test]
    fn sums_around_the_limits_never_wrap() {
        let ceiling = Limits::default().max_amount.get();
        let edges = [
            i64::MIN,
            i64::MIN + 1,
            i64::MIN / 100,
            -ceiling - 1,
            -ceiling,
            -16,
            -1,
            0,
            1,
            ceiling,
            ceiling + 1,
            i64::MAX / 100,
            i64::MAX - 1,
            i64::MAX,
        ];
        for a in edges {
            for b in edges {
                let exact = i128::from(a) + i128::from(b);
                match Paise::new(a).checked_add(Paise::new(b)) {
                    Ok(sum) => assert_eq!(i128::from(sum.get()), exact),
                    Err(e) => {
                        assert_eq!(e, MoneyError::Overflow);
                        assert!(exact > i128::from(i64::MAX) || exact < i128::from(i64::MIN));
                    }
                }
                let payable = Paise::payable_total([Paise::new(a), Paise::new(b)]);
                let fits = |x: i64| (0..=ceiling).contains(&x);
                assert_eq!(payable.is_ok(), fits(a) && fits(b), "{a} + {b}");
                if let Ok(total) = payable {
                    assert_eq!(i128::from(total.get()), exact);
                }
            }
        }
    }

    mod wire_forms {
        use super::super::wire::*;
        use super::super::{MoneyError, Paise};
        use serde_json::json;

        fn p(paise: i64) -> Paise {
            Paise::new(paise)
        }

        #[test]
        fn formats_paise_as_rupees_with_two_places() {
            assert_eq!(rupees_text(p(0)), "0.00");
            assert_eq!(rupees_text(p(5)), "0.05");
            assert_eq!(rupees_text(p(29)), "0.29");
            assert_eq!(rupees_text(p(1250)), "12.50");
            assert_eq!(rupees_text(p(100_000_000_01)), "100000000.01");
            assert_eq!(rupees_text(p(-5)), "-0.05");
            assert_eq!(paise_text(p(100_000)), "100000");
        }

        #[test]
        fn parses_unsigned_rupees_exactly() {
            let ok = |t: &str| parse_rupees_text(t).ok().map(Paise::get);
            assert_eq!(ok("12"), Some(1200));
            assert_eq!(ok("12.5"), Some(1250));
            assert_eq!(ok("12.50"), Some(1250));
            assert_eq!(ok("12.500"), Some(1250));
            assert_eq!(ok("12."), Some(1200));
            assert_eq!(ok("0.29"), Some(29));
            assert_eq!(ok("0.05"), Some(5));
            assert_eq!(ok(" 7.10 "), Some(710));
            assert!(matches!(
                parse_rupees_text("12.505"),
                Err(MoneyError::SubPaise(_))
            ));
            for bad in [".5", "-1.00", "+1", "1e3", "1,000.00", "", "1 000", "१००"] {
                assert!(
                    matches!(parse_rupees_text(bad), Err(MoneyError::NotAnAmount(_))),
                    "{bad:?}"
                );
            }
            assert_eq!(
                parse_rupees_text("99999999999999999999"),
                Err(MoneyError::Overflow)
            );
        }

        #[test]
        fn round_trips_every_paise_value_in_a_range() {
            for paise in 0..20_000 {
                assert_eq!(parse_rupees_text(&rupees_text(p(paise))), Ok(p(paise)));
            }
            assert_eq!(parse_rupees_text(&rupees_text(Paise::MAX)), Ok(Paise::MAX));
        }

        #[test]
        fn parses_integers_of_paise_exactly() {
            assert_eq!(parse_paise_digits("100000"), Ok(p(100_000)));
            assert_eq!(parse_paise_digits("0"), Ok(Paise::ZERO));
            assert_eq!(parse_paise_digits("000"), Ok(Paise::ZERO));
            assert_eq!(parse_paise_digits("0100"), Ok(p(100)));
            assert_eq!(parse_paise_digits("9223372036854775807"), Ok(Paise::MAX));
            assert_eq!(
                parse_paise_digits("9223372036854775808"),
                Err(MoneyError::Overflow)
            );
            assert_eq!(
                parse_paise_digits("00009223372036854775807"),
                Ok(Paise::MAX)
            );
            for bad in [
                "",
                "-1",
                "+1",
                "1.00",
                "1.5",
                "10.",
                ".5",
                "1e3",
                " 1",
                "1 ",
                "1,000",
                "१००",
                "0x10",
                "1_000",
                "NaN",
                "abc",
            ] {
                assert!(
                    matches!(parse_paise_digits(bad), Err(MoneyError::NotAnAmount(_))),
                    "{bad:?} must be refused"
                );
            }
            assert_eq!(parse_paise_text(" 1250 "), Ok(p(1250)));
            assert!(parse_paise_text("12.50").is_err());
        }

        #[test]
        fn reads_paise_from_json() {
            assert_eq!(paise_from_json(&json!(1250)), Ok(p(1250)));
            assert_eq!(paise_from_json(&json!("1250")), Ok(p(1250)));
            assert!(matches!(
                paise_from_json(&json!(12.5)),
                Err(MoneyError::NotAnAmount(_))
            ));
            assert_eq!(
                paise_from_json(&json!(-3)),
                Err(MoneyError::Negative(p(-3)))
            );
            assert_eq!(paise_from_json(&json!(u64::MAX)), Err(MoneyError::Overflow));
            assert!(paise_from_json(&json!(null)).is_err());
        }
    }
}
