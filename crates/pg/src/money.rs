//! Amounts as gateways speak them, converted exactly to and from integer paise.
//!
//! kosh keeps money as an `i64` number of paise. Gateways speak either paise as an integer
//! (MIGS `vpc_Amount`, PhonePe `amount`) or rupees as decimal text with two places (PayU
//! `amount`, Paytm `TXN_AMOUNT`). No floating point is involved anywhere: DIGIT formats with
//! `DecimalFormat` over doubles (`formatAmtAsPaise` multiplies a double by 100); kosh does
//! integer arithmetic, so 0.29 rupees is 29 paise and never 28.

/// Formats paise as rupees with exactly two decimals: `1250` → `"12.50"`, `5` → `"0.05"`.
pub fn format_rupees(paise: i64) -> String {
    let sign = if paise < 0 { "-" } else { "" };
    let abs = paise.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses a rupee amount written as decimal text (`"12"`, `"12.5"`, `"12.50"`, `"12.500"`)
/// into paise. More than two significant decimal places, signs, exponents, spaces inside the
/// number or an empty string give `None`: an amount a gateway reports is either read exactly or
/// not at all. Leading and trailing ASCII whitespace is ignored.
pub fn parse_rupees(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return None;
    }
    let rupees: i64 = whole.parse().ok()?;
    let mut paise: i64 = 0;
    for (i, digit) in fraction.bytes().enumerate() {
        let value = i64::from(digit - b'0');
        paise += if i == 0 { value * 10 } else { value };
    }
    rupees.checked_mul(100)?.checked_add(paise)
}

/// Parses an integer number of paise written as text (`"1250"`). Only ASCII digits.
pub fn parse_paise(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || !all_digits(text) {
        return None;
    }
    text.parse().ok()
}

/// Reads paise from a JSON value that is an integer number or a string of digits.
pub fn paise_from_json(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64().filter(|p| *p >= 0),
        serde_json::Value::String(s) => parse_paise(s),
        _ => None,
    }
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_paise_as_rupees_with_two_places() {
        assert_eq!(format_rupees(0), "0.00");
        assert_eq!(format_rupees(5), "0.05");
        assert_eq!(format_rupees(29), "0.29");
        assert_eq!(format_rupees(1250), "12.50");
        assert_eq!(format_rupees(100_000_000_01), "100000000.01");
        assert_eq!(format_rupees(-5), "-0.05");
    }

    #[test]
    fn parses_rupees_exactly() {
        assert_eq!(parse_rupees("12"), Some(1200));
        assert_eq!(parse_rupees("12.5"), Some(1250));
        assert_eq!(parse_rupees("12.50"), Some(1250));
        assert_eq!(parse_rupees("12.500"), Some(1250));
        assert_eq!(parse_rupees("0.29"), Some(29));
        assert_eq!(parse_rupees("0.05"), Some(5));
        assert_eq!(parse_rupees(" 7.10 "), Some(710));
        assert_eq!(parse_rupees("12.505"), None);
        assert_eq!(parse_rupees(".5"), None);
        assert_eq!(parse_rupees("-1.00"), None);
        assert_eq!(parse_rupees("1e3"), None);
        assert_eq!(parse_rupees("1,000.00"), None);
        assert_eq!(parse_rupees(""), None);
        assert_eq!(parse_rupees("99999999999999999999"), None);
    }

    #[test]
    fn round_trips_every_paise_value_in_a_range() {
        for paise in 0..20_000 {
            assert_eq!(parse_rupees(&format_rupees(paise)), Some(paise));
        }
    }

    #[test]
    fn parses_paise() {
        assert_eq!(parse_paise("1250"), Some(1250));
        assert_eq!(parse_paise("12.50"), None);
        assert_eq!(parse_paise("-1"), None);
        assert_eq!(paise_from_json(&json!(1250)), Some(1250));
        assert_eq!(paise_from_json(&json!("1250")), Some(1250));
        assert_eq!(paise_from_json(&json!(12.5)), None);
        assert_eq!(paise_from_json(&json!(-3)), None);
    }
}
