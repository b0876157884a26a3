//! `kosh bbps reconcile <file>`: matches an operating unit's settlement file against kosh's
//! BBPS transactions and reports every mismatch (the daily reconciliation BBPS billers make
//! of their operating unit's remittances).
//!
//! The file is CSV with a header line. kosh reads these columns, by name in any letter case
//! (`_`, `-` and spaces ignored), and ignores the others:
//!
//! | column | aliases | meaning |
//! |---|---|---|
//! | `txnReferenceId` | `bbpsTxnRef`, `txnRef`, `transactionReference` | the BBPS transaction reference (required) |
//! | `amount` | `amountPaise`, `txnAmount` | the amount settled, in paise (required) |
//! | `status` | `txnStatus` | SUCCESS / SUCCESSFUL / 000 / SETTLED; FAILED / FAILURE / 200; REVERSED / REFUNDED (default SUCCESS) |
//! | `businessDate` | `date`, `txnDate`, `settlementDate` | `YYYY-MM-DD` |
//!
//! kosh's own daily report CSV has these columns, so it reads as a settlement file.
//!
//! Mismatches:
//!
//! | kind | meaning |
//! |---|---|
//! | `MISSING_IN_KOSH` | the unit settled a payment kosh never received: post it or refund it |
//! | `NOT_POSTED` | the unit settled a payment kosh refused (FAILED): refund or post by hand |
//! | `AMOUNT_MISMATCH` | the amounts differ |
//! | `STATUS_MISMATCH` | kosh holds a live receipt the unit did not settle, or kosh reversed (or owes a refund for) a payment the unit settled |
//! | `MISSING_IN_FILE` | kosh receipted a payment on a day the file covers, but the file does not list it |
//! | `DUPLICATE_IN_FILE` | the file lists a reference twice |
//! | `BAD_LINE` | a line kosh cannot read |
//!
//! The days the file covers are the `--date` options, else the dates in its date column;
//! `MISSING_IN_FILE` is checked for those days only.

use std::collections::{BTreeSet, HashMap};

use kosh_platform::money::{Paise, wire};
use kosh_platform::{Db, DigitError};
use serde_json::{Value, json};

use crate::store::{self, TxnRow, TxnStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Success,
    Failed,
    Reversed,
}

impl Settled {
    fn parse(text: &str) -> Option<Settled> {
        match text.trim().to_ascii_uppercase().as_str() {
            "" | "SUCCESS" | "SUCCESSFUL" | "000" | "SETTLED" | "PAID" => Some(Settled::Success),
            "FAILED" | "FAILURE" | "200" | "DECLINED" => Some(Settled::Failed),
            "REVERSED" | "REFUNDED" | "REVERSAL" | "REFUND_PENDING" => Some(Settled::Reversed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Settled::Success => "SUCCESS",
            Settled::Failed => "FAILED",
            Settled::Reversed => "REVERSED",
        }
    }
}

/// One line of a settlement file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the file.
    pub line: usize,
    pub txn_reference_id: String,
    pub amount: Paise,
    pub status: Settled,
    pub date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub kind: &'static str,
    pub txn_reference_id: String,
    pub line: Option<usize>,
    pub file_amount: Option<Paise>,
    pub kosh_amount: Option<Paise>,
    pub file_status: Option<&'static str>,
    pub kosh_status: Option<&'static str>,
    pub detail: String,
}

impl Mismatch {
    pub fn to_json(&self) -> Value {
        json!({
            "kind": self.kind,
            "txnReferenceId": self.txn_reference_id,
            "line": self.line,
            "fileAmount": self.file_amount,
            "koshAmount": self.kosh_amount,
            "fileStatus": self.file_status,
            "koshStatus": self.kosh_status,
            "detail": self.detail,
        })
    }
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub tenant_id: String,
    pub dates: Vec<String>,
    pub lines: usize,
    pub matched: usize,
    pub mismatches: Vec<Mismatch>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        json!({
            "tenantId": self.tenant_id,
            "businessDates": self.dates,
            "lines": self.lines,
            "matched": self.matched,
            "mismatchCount": self.mismatches.len(),
            "mismatches": self.mismatches.iter().map(Mismatch::to_json).collect::<Vec<_>>(),
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "BBPS reconciliation of {} for {}: {} line(s), {} matched, {} mismatch(es)\n",
            self.tenant_id,
            if self.dates.is_empty() {
                "the references in the file".to_string()
            } else {
                self.dates.join(", ")
            },
            self.lines,
            self.matched,
            self.mismatches.len()
        );
        for m in &self.mismatches {
            out.push_str(&format!(
                "{:<18} {:<36} {}{}\n",
                m.kind,
                m.txn_reference_id,
                m.line.map(|l| format!("line {l}: ")).unwrap_or_default(),
                m.detail
            ));
        }
        out
    }
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes written
/// twice, and line ends).
fn records(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    out.push((start, std::mem::take(&mut record)));
                } else {
                    record.clear();
                }
                line += 1;
                start = line;
            }
            _ => field.push(c),
        }
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        out.push((start, record));
    }
    out
}

fn key(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&key(h).as_str()))
}

/// Reads a settlement file; lines it cannot read come back as `BAD_LINE` mismatches.
pub fn parse(text: &str) -> Result<(Vec<Line>, Vec<Mismatch>), String> {
    let mut all = records(text).into_iter();
    let Some((_, header)) = all.next() else {
        return Err("the settlement file is empty".into());
    };
    let reference = column(
        &header,
        &[
            "txnreferenceid",
            "bbpstxnref",
            "txnref",
            "transactionreference",
        ],
    )
    .ok_or("the settlement file has no txnReferenceId column")?;
    let amount = column(&header, &["amount", "amountpaise", "txnamount"])
        .ok_or("the settlement file has no amount column (paise)")?;
    let status = column(&header, &["status", "txnstatus"]);
    let date = column(
        &header,
        &["businessdate", "date", "txndate", "settlementdate"],
    );
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for (number, record) in all {
        let get = |i: usize| record.get(i).map(|s| s.trim()).unwrap_or_default();
        let reference = get(reference).to_string();
        let fail = |detail: String| Mismatch {
            kind: "BAD_LINE",
            txn_reference_id: reference.clone(),
            line: Some(number),
            file_amount: None,
            kosh_amount: None,
            file_status: None,
            kosh_status: None,
            detail,
        };
        if reference.is_empty() {
            bad.push(fail("no transaction reference".into()));
            continue;
        }
        let amount = match wire::parse_paise_digits(get(amount)) {
            Ok(p) => p,
            Err(e) => {
                bad.push(fail(format!("amount: {e}")));
                continue;
            }
        };
        let settled = match status.map(get) {
            None => Settled::Success,
            Some(s) => match Settled::parse(s) {
                Some(s) => s,
                None => {
                    bad.push(fail(format!("status {s:?} is not one kosh knows")));
                    continue;
                }
            },
        };
        let day = match date.map(get).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => match crate::report::parse_date(d) {
                Some(d) => Some(d),
                None => {
                    bad.push(fail(format!("date {d:?} is not YYYY-MM-DD")));
                    continue;
                }
            },
        };
        lines.push(Line {
            line: number,
            txn_reference_id: reference,
            amount,
            status: settled,
            date: day,
        });
    }
    Ok((lines, bad))
}

/// Matches the file's lines against kosh's transactions: `kosh` holds the transactions
/// with the file's references and those of `dates`.
pub fn compare(lines: &[Line], kosh: &[TxnRow], dates: &[String]) -> (usize, Vec<Mismatch>) {
    let by_ref: HashMap<&str, &TxnRow> = kosh
        .iter()
        .map(|t| (t.txn_reference_id.as_str(), t))
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut matched = 0;
    let mut out = Vec::new();
    for l in lines {
        let mismatch = |kind: &'static str, t: Option<&TxnRow>, detail: String| Mismatch {
            kind,
            txn_reference_id: l.txn_reference_id.clone(),
            line: Some(l.line),
            file_amount: Some(l.amount),
            kosh_amount: t.map(|t| t.amount),
            file_status: Some(l.status.as_str()),
            kosh_status: t.map(|t| t.status.as_str()),
            detail,
        };
        if let Some(first) = seen.insert(&l.txn_reference_id, l.line) {
            out.push(mismatch(
                "DUPLICATE_IN_FILE",
                None,
                format!("also on line {first}"),
            ));
            continue;
        }
        let Some(t) = by_ref.get(l.txn_reference_id.as_str()).copied() else {
            if l.status == Settled::Success {
                out.push(mismatch(
                    "MISSING_IN_KOSH",
                    None,
                    "settled by the unit, never received by kosh: post it or refund it".into(),
                ));
            } else {
                matched += 1;
            }
            continue;
        };
        let posted = t.payment_id.is_some();
        let mut found = Vec::new();
        if l.status == Settled::Success {
            match t.status {
                TxnStatus::Success | TxnStatus::Posting => {}
                TxnStatus::Failed => found.push(mismatch(
                    "NOT_POSTED",
                    Some(t),
                    format!(
                        "settled by the unit, refused by kosh ({}): refund it or post it by hand",
                        t.compliance_code.as_deref().unwrap_or("-")
                    ),
                )),
                TxnStatus::Reversed | TxnStatus::RefundPending => found.push(mismatch(
                    "STATUS_MISMATCH",
                    Some(t),
                    format!("settled by the unit, but kosh has it {}", t.status.as_str()),
                )),
            }
        } else if t.status == TxnStatus::Success {
            found.push(mismatch(
                "STATUS_MISMATCH",
                Some(t),
                format!(
                    "{} by the unit, but kosh holds live receipt(s) {}: reverse it",
                    l.status.as_str(),
                    t.receipt_numbers().join(";")
                ),
            ));
        }
        if posted && l.amount != t.amount {
            found.push(mismatch(
                "AMOUNT_MISMATCH",
                Some(t),
                format!(
                    "the unit has {} paise, kosh {} paise",
                    l.amount.get(),
                    t.amount.get()
                ),
            ));
        }
        if found.is_empty() {
            matched += 1;
        }
        out.extend(found);
    }
    let listed: BTreeSet<&str> = lines.iter().map(|l| l.txn_reference_id.as_str()).collect();
    for t in kosh {
        if dates.contains(&t.business_date)
            && t.status == TxnStatus::Success
            && !listed.contains(t.txn_reference_id.as_str())
        {
            out.push(Mismatch {
                kind: "MISSING_IN_FILE",
                txn_reference_id: t.txn_reference_id.clone(),
                line: None,
                file_amount: None,
                kosh_amount: Some(t.amount),
                file_status: None,
                kosh_status: Some(t.status.as_str()),
                detail: format!(
                    "kosh receipted it on {} ({}), the file does not list it",
                    t.business_date,
                    t.receipt_numbers().join(";")
                ),
            });
        }
    }
    (matched, out)
}

/// Reconciles the settlement file `text` for `tenant_id` (a state); `dates` are the
/// business days it covers (empty: the dates in the file).
pub async fn run(
    db: &Db,
    tenant_id: &str,
    text: &str,
    dates: &[String],
) -> Result<Report, anyhow::Error> {
    let (lines, bad) = parse(text).map_err(anyhow::Error::msg)?;
    let mut days: Vec<String> = dates.to_vec();
    if days.is_empty() {
        days = lines
            .iter()
            .filter_map(|l| l.date.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
    }
    let load = async {
        let mut conn = db.pool().acquire().await?;
        let references: Vec<String> = lines.iter().map(|l| l.txn_reference_id.clone()).collect();
        let mut kosh = store::with_references(&mut conn, tenant_id, &references).await?;
        for day in &days {
            for t in store::of_day(&mut conn, tenant_id, day).await? {
                if !kosh
                    .iter()
                    .any(|k| k.txn_reference_id == t.txn_reference_id)
                {
                    kosh.push(t);
                }
            }
        }
        Ok::<_, DigitError>(kosh)
    };
    let kosh = load
        .await
        .map_err(|e| anyhow::anyhow!("reading kosh's BBPS transactions: {e}"))?;
    let (matched, mut mismatches) = compare(&lines, &kosh, &days);
    let mut all = bad;
    all.append(&mut mismatches);
    Ok(Report {
        tenant_id: tenant_id.to_string(),
        dates: days,
        lines: lines.len() + all.iter().filter(|m| m.kind == "BAD_LINE").count(),
        matched,
        mismatches: all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes() {
        let text = "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n\n2,\"multi\nline\",z\n";
        let r = records(text);
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].1, vec!["1", "x, y", "say \"hi\""]);
        assert_eq!(r[2].0, 4);
        assert_eq!(r[2].1, vec!["2", "multi\nline", "z"]);
    }

    #[test]
    fn lines_are_read_by_column_name() {
        let (lines, bad) = parse(
            "Txn_Reference_Id,Amount,Status,Date,other\n\
             AU01A,100000,SUCCESS,2019-06-15,x\n\
             AU01B,12.5,SUCCESS,2019-06-15,x\n\
             AU01C,500,REFUNDED,,x\n\
             AU01D,500,MAYBE,,x\n",
        )
        .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].amount, Paise::new(100000));
        assert_eq!(lines[0].date.as_deref(), Some("2019-06-15"));
        assert_eq!(lines[1].status, Settled::Reversed);
        assert_eq!(bad.len(), 2);
        assert!(bad.iter().all(|m| m.kind == "BAD_LINE"));
        assert!(parse("x,y\n").is_err());
    }
}
