//! Money is an integer number of paise inside kosh and a decimal number of rupees on the
//! wire (DIGIT's BigDecimal). Conversion is exact: more than two decimal places is an error,
//! never a rounding.

use serde_json::Value;

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
    }
}
