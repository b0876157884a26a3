//! DIGIT's id format language: literal text and `[token]`s.
//!
//! | token | becomes |
//! |---|---|
//! | `[tenantid]`, `[tenant_id]`, `[TENANT_ID]` | the tenant id; with `.` → `_`; and upper-cased (replaced first, so they may sit inside a SEQ name) |
//! | `[SEQ_x]` | the next number of counter `SEQ_x`, zero-padded to 6 digits |
//! | `[fy:yyyy-yy]` | the financial year (April to March), e.g. `2026-27` |
//! | `[cy:<SimpleDateFormat>]` | today's date in the tenant's time zone |
//! | `[city...]` (e.g. `[CITY.CODE]`) | `city.code` of the tenant in `tenant.tenants` |
//! | anything else, e.g. `[d{4}]` | that many random digits (2 when no `{n}`) |

use chrono::{DateTime, Datelike};
use chrono_tz::Tz;
use rand::Rng;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    Seq(String),
    FinancialYear(String),
    CurrentDate(String),
    CityCode,
    Random(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

pub(crate) fn replace_tenant_tokens(format: &str, tenant_id: &str) -> String {
    let underscored = tenant_id.replace('.', "_");
    format
        .replace("[tenantid]", tenant_id)
        .replace("[tenant_id]", &underscored)
        .replace("[TENANT_ID]", &underscored.to_uppercase())
}

/// Splits a format into literal text and tokens.
pub fn tokens(format: &str) -> Result<Vec<Token>, FormatError> {
    let mut out = Vec::new();
    let mut rest = format;
    while let Some(open) = rest.find('[') {
        if open > 0 {
            out.push(Token::Literal(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find(']')
            .ok_or_else(|| FormatError(format!("unclosed '[' in id format {format}")))?;
        out.push(token(&after[..close]));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Token::Literal(rest.to_string()));
    }
    Ok(out)
}

fn token(name: &str) -> Token {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("seq") {
        Token::Seq(name.to_string())
    } else if let Some(pattern) = lower.strip_prefix("fy:") {
        Token::FinancialYear(pattern.to_string())
    } else if lower.starts_with("cy:") {
        Token::CurrentDate(name[3..].to_string())
    } else if lower.starts_with("city") {
        Token::CityCode
    } else {
        let digits = name
            .split_once('{')
            .and_then(|(_, n)| n.trim_end_matches('}').parse::<usize>().ok())
            .unwrap_or(2);
        Token::Random(digits.min(64))
    }
}

/// The financial year (April–March) of `now`: `yyyy-yy` gives `2026-27` from April 2026 to
/// March 2027.
pub fn financial_year(now: &DateTime<Tz>, pattern: &str) -> String {
    let start = if now.month() > 3 {
        now.year()
    } else {
        now.year() - 1
    };
    let mut halves = pattern.splitn(2, '-');
    let first = halves.next().unwrap_or("yyyy");
    let second = halves.next();
    let year_text = |part: &str, year: i32| -> String {
        let ys = part.chars().filter(|c| *c == 'y').count();
        let digits = if ys >= 3 || ys == 0 {
            format!("{year:04}")
        } else {
            format!("{:02}", year.rem_euclid(100))
        };
        let literal: String = part.chars().filter(|c| *c != 'y').collect();
        format!("{digits}{literal}")
    };
    match second {
        Some(second) => format!(
            "{}-{}",
            year_text(first, start),
            year_text(second, start + 1)
        ),
        None => year_text(first, start),
    }
}

/// Formats `now` with a Java SimpleDateFormat pattern (`yyyy_MM_dd`, `dd-MM-yyyy HH:mm`...).
pub fn current_date(now: &DateTime<Tz>, pattern: &str) -> String {
    now.format(&java_to_chrono(pattern)).to_string()
}

fn java_to_chrono(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a single quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                push_literal(&mut out, chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let spec = match (c, run) {
            ('y', 2) => Some("%y"),
            ('y', _) => Some("%Y"),
            ('M', 1) => Some("%-m"),
            ('M', 2) => Some("%m"),
            ('M', 3) => Some("%b"),
            ('M', _) => Some("%B"),
            ('d', 1) => Some("%-d"),
            ('d', _) => Some("%d"),
            ('H', 1) => Some("%-H"),
            ('H', _) => Some("%H"),
            ('h', 1) => Some("%-I"),
            ('h', _) => Some("%I"),
            ('m', 1) => Some("%-M"),
            ('m', _) => Some("%M"),
            ('s', 1) => Some("%-S"),
            ('s', _) => Some("%S"),
            ('S', _) => Some("%3f"),
            ('E', 1..=3) => Some("%a"),
            ('E', _) => Some("%A"),
            ('a', _) => Some("%p"),
            _ => None,
        };
        match spec {
            Some(spec) => out.push_str(spec),
            None => (0..run).for_each(|_| push_literal(&mut out, c)),
        }
        i += run;
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Tz> {
        chrono_tz::Asia::Kolkata
            .with_ymd_and_hms(y, m, d, 10, 5, 9)
            .unwrap()
    }

    #[test]
    fn splits_tokens() {
        let t = tokens("PB_PG_[cy:yyyy_MM_dd]_[SEQ_EG_PG_TXN]_[d{2}]").unwrap();
        assert_eq!(
            t,
            vec![
                Token::Literal("PB_PG_".into()),
                Token::CurrentDate("yyyy_MM_dd".into()),
                Token::Literal("_".into()),
                Token::Seq("SEQ_EG_PG_TXN".into()),
                Token::Literal("_".into()),
                Token::Random(2),
            ]
        );
        assert_eq!(tokens("[CITY.CODE]").unwrap(), vec![Token::CityCode]);
        assert!(tokens("AB[SEQ").is_err());
    }

    #[test]
    fn tenant_tokens_replace_first() {
        assert_eq!(
            replace_tenant_tokens(
                "WS/[SEQ_WS_[TENANT_ID]]/[tenantid]/[tenant_id]",
                "pb.amritsar"
            ),
            "WS/[SEQ_WS_PB_AMRITSAR]/pb.amritsar/pb_amritsar"
        );
    }

    #[test]
    fn financial_year_turns_in_april() {
        assert_eq!(financial_year(&at(2026, 3, 31), "yyyy-yy"), "2025-26");
        assert_eq!(financial_year(&at(2026, 4, 1), "yyyy-yy"), "2026-27");
        assert_eq!(financial_year(&at(2026, 11, 21), "yy-yy"), "26-27");
        assert_eq!(financial_year(&at(2026, 11, 21), "yyyy-yyyy"), "2026-2027");
    }

    #[test]
    fn java_date_patterns() {
        assert_eq!(current_date(&at(2026, 1, 7), "yyyy_MM_dd"), "2026_01_07");
        assert_eq!(
            current_date(&at(2026, 1, 7), "dd-MM-yyyy HH:mm:ss"),
            "07-01-2026 10:05:09"
        );
        assert_eq!(current_date(&at(2026, 1, 7), "MM"), "01");
        assert_eq!(current_date(&at(2026, 1, 7), "yy'T'"), "26T");
    }

    #[test]
    fn random_tokens() {
        assert_eq!(tokens("[d{4}]").unwrap(), vec![Token::Random(4)]);
        assert_eq!(tokens("[xyz]").unwrap(), vec![Token::Random(2)]);
        let r = random_digits(10);
        assert_eq!(r.len(), 10);
        assert!(r.bytes().all(|b| b.is_ascii_digit()));
    }
}
