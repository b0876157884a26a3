//! Amounts on the BBPS wire: an integer number of paise written as a decimal string
//! (`BillerResponse@amount="100000"` is ₹1,000.00; NOTES.md §0.3, NPCI's own samples).
//!
//! The XSDs type every amount as `xs:string`; kosh accepts only what is unambiguously a
//! non-negative integer of paise: one or more ASCII digits, nothing else — no sign, no
//! decimal point, no exponent, no spaces, no grouping. Leading zeros are read as the
//! integer they spell (`"0100"` is 100 paise) and never written. The value must fit the
//! `BIGINT` columns kosh keeps money in (`i64`).
//!
//! Inside kosh money is an `i64` of paise (DESIGN.md "Storage"), so conversion is exact in
//! both directions. DIGIT's collection service takes only whole rupees (NOTES.md §6), which
//! is what [`Paise::whole_rupees`] checks.

use std::fmt;
use std::str::FromStr;

/// Why a wire string is not an amount in paise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("amount {0:?} is not a non-negative integer of paise (digits only)")]
    NotAnInteger(String),
    #[error("amount {0:?} is too large")]
    TooLarge(String),
    #[error("amount is negative")]
    Negative,
    #[error("{0} paise is not a whole number of rupees")]
    NotWholeRupees(i64),
}

/// A non-negative amount of money in paise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Paise(i64);

impl Paise {
    /// Zero paise.
    pub const ZERO: Paise = Paise(0);

    /// An amount from an integer of paise; `Err` if negative.
    pub const fn new(paise: i64) -> Result<Paise, AmountError> {
        if paise < 0 {
            Err(AmountError::Negative)
        } else {
            Ok(Paise(paise))
        }
    }

    /// An amount of whole rupees (`from_rupees(1000)` is 100000 paise).
    pub fn from_rupees(rupees: i64) -> Result<Paise, AmountError> {
        let paise = rupees
            .checked_mul(100)
            .ok_or_else(|| AmountError::TooLarge(format!("{rupees} rupees")))?;
        Paise::new(paise)
    }

    /// Parses the wire form: ASCII digits only.
    pub fn parse(wire: &str) -> Result<Paise, AmountError> {
        if wire.is_empty() {
            return Err(AmountError::Empty);
        }
        if !wire.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotAnInteger(wire.to_string()));
        }
        let digits = wire.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(Paise::ZERO);
        }
        digits
            .parse::<i64>()
            .map(Paise)
            .map_err(|_| AmountError::TooLarge(wire.to_string()))
    }

    /// The integer of paise.
    pub const fn as_i64(self) -> i64 {
        self.0
    }

    /// The wire form (`"100000"`).
    pub fn to_wire(self) -> String {
        self.0.to_string()
    }

    /// The amount in whole rupees, or `Err` when it has a paise part (DIGIT's collection
    /// service refuses fractional rupees).
    pub fn whole_rupees(self) -> Result<i64, AmountError> {
        if self.0 % 100 == 0 {
            Ok(self.0 / 100)
        } else {
            Err(AmountError::NotWholeRupees(self.0))
        }
    }

    /// Sum, or `None` on overflow.
    pub fn checked_add(self, other: Paise) -> Option<Paise> {
        self.0.checked_add(other.0).map(Paise)
    }

    /// Difference, or `None` when it would be negative.
    pub fn checked_sub(self, other: Paise) -> Option<Paise> {
        self.0.checked_sub(other.0).filter(|d| *d >= 0).map(Paise)
    }
}

impl FromStr for Paise {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Paise::parse(s)
    }
}

/// Writes the wire form.
impl fmt::Display for Paise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<i64> for Paise {
    type Error = AmountError;
    fn try_from(paise: i64) -> Result<Self, Self::Error> {
        Paise::new(paise)
    }
}

impl From<Paise> for i64 {
    fn from(p: Paise) -> i64 {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_of_paise_exactly() {
        assert_eq!(Paise::parse("100000").unwrap().as_i64(), 100_000);
        assert_eq!(Paise::parse("0").unwrap(), Paise::ZERO);
        assert_eq!(Paise::parse("000").unwrap(), Paise::ZERO);
        assert_eq!(Paise::parse("0100").unwrap().as_i64(), 100);
        assert_eq!(
            Paise::parse("9223372036854775807").unwrap().as_i64(),
            i64::MAX
        );
        assert_eq!("2550".parse::<Paise>().unwrap().to_wire(), "2550");
        assert_eq!(Paise::parse("0100").unwrap().to_string(), "100");
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
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
                matches!(Paise::parse(bad), Err(AmountError::NotAnInteger(_))),
                "{bad:?} must be refused"
            );
        }
        assert_eq!(Paise::parse(""), Err(AmountError::Empty));
        assert!(matches!(
            Paise::parse("9223372036854775808"),
            Err(AmountError::TooLarge(_))
        ));
        assert_eq!(Paise::new(-1), Err(AmountError::Negative));
        assert_eq!(Paise::try_from(-5), Err(AmountError::Negative));
    }

    #[test]
    fn converts_to_and_from_rupees_exactly() {
        assert_eq!(Paise::from_rupees(1000).unwrap().as_i64(), 100_000);
        assert_eq!(Paise::parse("100000").unwrap().whole_rupees(), Ok(1000));
        assert_eq!(
            Paise::parse("100050").unwrap().whole_rupees(),
            Err(AmountError::NotWholeRupees(100_050))
        );
        assert!(Paise::from_rupees(i64::MAX).is_err());
        assert!(Paise::from_rupees(-1).is_err());
        let a = Paise::new(250).unwrap();
        let b = Paise::new(100).unwrap();
        assert_eq!(a.checked_sub(b), Some(Paise::new(150).unwrap()));
        assert_eq!(b.checked_sub(a), None);
        assert_eq!(a.checked_add(b).map(i64::from), Some(350));
        assert_eq!(Paise::new(i64::MAX).unwrap().checked_add(b), None);
    }
}
