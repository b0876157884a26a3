//! Reading an import file into demands, each with the line it starts on.
//!
//! Two formats:
//! - JSON lines: one demand per line, in the shape of an element of `Demands` in
//!   `/billing-service/demand/_create` (field names in any letter case, as the API binds them).
//! - CSV with a header row: one row per tax head. Consecutive rows with the same tenantId,
//!   consumerCode, businessService, taxPeriodFrom and taxPeriodTo are one demand; the demand's
//!   own fields are read from its first row. Columns (any letter case, any order):
//!   `tenantId, consumerCode, consumerType, businessService, payer, taxPeriodFrom,
//!   taxPeriodTo, minimumAmountPayable, billExpiryTime, fixedBillExpiryDate,
//!   taxHeadMasterCode, taxAmount, collectionAmount`. Amounts are rupees, as on the API.

use std::io::{BufRead, Read};

use serde_json::{Map, Value};

use crate::demand::input::DemandInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// The format a file name implies: `.csv` is CSV, anything else JSON lines.
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::JsonLines,
        }
    }
}

/// One demand of the file, or why its lines could not be read as one.
#[derive(Debug)]
pub struct Record {
    /// 1-based line number of the demand's first line.
    pub line: u64,
    pub demand: Result<DemandInput, String>,
}

/// The demands of a file, in file order. A file that cannot be read at all (no CSV header, an
/// I/O error) ends the iteration with one record saying so.
pub fn records(input: impl Read + 'static, format: Format) -> Box<dyn Iterator<Item = Record>> {
    match format {
        Format::JsonLines => Box::new(json_lines(std::io::BufReader::new(input))),
        Format::Csv => Box::new(CsvDemands::new(input)),
    }
}

fn json_lines(input: impl BufRead) -> impl Iterator<Item = Record> {
    input.lines().enumerate().filter_map(|(i, line)| {
        let line_no = i as u64 + 1;
        let text = match line {
            Ok(text) => text,
            Err(e) => {
                return Some(Record {
                    line: line_no,
                    demand: Err(format!("cannot read the line: {e}")),
                });
            }
        };
        if text.trim().is_empty() {
            return None;
        }
        let demand = serde_json::from_str::<Value>(&text)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| {
                if v.is_object() {
                    kosh_platform::ci_json::from_value::<DemandInput>(v)
                        .map_err(|e| format!("not a demand: {e}"))
                } else {
                    Err("not a demand: expected a JSON object".to_string())
                }
            });
        Some(Record {
            line: line_no,
            demand,
        })
    })
}

/// The CSV columns, as the header names them (compared without letter case).
const DEMAND_COLUMNS: &[&str] = &[
    "tenantId",
    "consumerCode",
    "consumerType",
    "businessService",
    "taxPeriodFrom",
    "taxPeriodTo",
    "minimumAmountPayable",
    "billExpiryTime",
    "fixedBillExpiryDate",
];
const DETAIL_COLUMNS: &[&str] = &["taxHeadMasterCode", "taxAmount", "collectionAmount"];
const KEY_COLUMNS: &[&str] = &[
    "tenantId",
    "consumerCode",
    "businessService",
    "taxPeriodFrom",
    "taxPeriodTo",
];

struct CsvDemands {
    rows: csv::StringRecordsIntoIter<Box<dyn Read>>,
    /// Column name (as in DEMAND_COLUMNS / DETAIL_COLUMNS, or "payer") → index.
    columns: Result<Vec<(&'static str, usize)>, String>,
    /// The demand being gathered: its first line, key, fields and details.
    open: Option<Gathered>,
    /// A bad row met while a demand was open: returned after that demand.
    pending_bad: Option<Record>,
    finished: bool,
}

struct Gathered {
    line: u64,
    key: Vec<String>,
    demand: Map<String, Value>,
    details: Vec<Value>,
}

impl CsvDemands {
    fn new(input: impl Read + 'static) -> CsvDemands {
        let boxed: Box<dyn Read> = Box::new(BlankLinesKept::new(input));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(boxed);
        let columns = match reader.headers() {
            Ok(header) => column_map(header),
            Err(e) => Err(format!("cannot read the CSV header: {e}")),
        };
        CsvDemands {
            rows: reader.into_records(),
            columns,
            open: None,
            pending_bad: None,
            finished: false,
        }
    }
}

/// The csv crate skips blank lines and then dates the next record from the blank line, and
/// dates a record after a `\r\n` from the `\n`, so line numbers would come out too small.
/// This reader drops carriage returns outside quoted fields and turns each blank line into a
/// line holding one comma: an empty record that keeps its own line, which the importer skips.
struct BlankLinesKept<R> {
    inner: R,
    at_line_start: bool,
    in_quotes: bool,
    /// Bytes read from `inner` and not yet handed out.
    pending: Vec<u8>,
}

impl<R: Read> BlankLinesKept<R> {
    fn new(inner: R) -> Self {
        BlankLinesKept {
            inner,
            at_line_start: true,
            in_quotes: false,
            pending: Vec::new(),
        }
    }
}

impl<R: Read> Read for BlankLinesKept<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            let mut buf = [0u8; 8192];
            let n = self.inner.read(&mut buf)?;
            if n == 0 {
                return Ok(0);
            }
            for &b in &buf[..n] {
                match b {
                    b'\r' if !self.in_quotes => continue,
                    b'"' => self.in_quotes = !self.in_quotes,
                    b'\n' if self.at_line_start && !self.in_quotes => self.pending.push(b','),
                    _ => {}
                }
                self.pending.push(b);
                self.at_line_start = b == b'\n';
            }
        }
        let n = out.len().min(self.pending.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn column_map(header: &csv::StringRecord) -> Result<Vec<(&'static str, usize)>, String> {
    let mut out = Vec::new();
    let known = DEMAND_COLUMNS
        .iter()
        .chain(DETAIL_COLUMNS)
        .chain(std::iter::once(&"payer"));
    for &name in known {
        if let Some(i) = header.iter().position(|h| h.eq_ignore_ascii_case(name)) {
            out.push((name, i));
        }
    }
    let missing: Vec<&str> = KEY_COLUMNS
        .iter()
        .chain(["consumerType", "taxHeadMasterCode", "taxAmount"].iter())
        .filter(|c| !out.iter().any(|(n, _)| n == *c))
        .copied()
        .collect();
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "the CSV header lacks the column(s) {}",
            missing.join(", ")
        ))
    }
}

/// A CSV cell as the JSON value the API would have been sent: numbers stay numbers (so
/// `taxPeriodFrom` binds as epoch ms), anything else a string, an empty cell absent.
fn cell_value(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    match text.parse::<serde_json::Number>() {
        Ok(n) => Some(Value::Number(n)),
        Err(_) => Some(Value::String(text.to_string())),
    }
}

impl CsvDemands {
    fn field<'r>(&self, row: &'r csv::StringRecord, name: &str) -> &'r str {
        let columns = self.columns.as_ref().expect("checked before rows are read");
        columns
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, i)| row.get(*i))
            .unwrap_or("")
    }

    fn start(&self, line: u64, row: &csv::StringRecord) -> Gathered {
        let mut demand = Map::new();
        for &name in DEMAND_COLUMNS {
            if let Some(v) = cell_value(self.field(row, name)) {
                // Codes stay text even when they look like numbers.
                let v = match (name, v) {
                    ("tenantId" | "consumerCode" | "consumerType" | "businessService", v) => {
                        Value::String(value_text(&v))
                    }
                    (_, v) => v,
                };
                demand.insert(name.to_string(), v);
            }
        }
        let payer = self.field(row, "payer");
        if !payer.is_empty() {
            demand.insert("payer".into(), serde_json::json!({ "uuid": payer }));
        }
        Gathered {
            line,
            key: KEY_COLUMNS
                .iter()
                .map(|c| self.field(row, c).to_string())
                .collect(),
            demand,
            details: Vec::new(),
        }
    }

    fn detail(&self, row: &csv::StringRecord) -> Value {
        let mut detail = Map::new();
        for &name in DETAIL_COLUMNS {
            let text = self.field(row, name);
            let value = match name {
                "taxHeadMasterCode" if !text.is_empty() => Some(Value::String(text.to_string())),
                // Amounts go in as text, so a malformed one gets the API's amount message.
                _ if !text.is_empty() => Some(Value::String(text.to_string())),
                _ => None,
            };
            if let Some(v) = value {
                detail.insert(name.to_string(), v);
            }
        }
        Value::Object(detail)
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn finish(g: Gathered) -> Record {
    let mut demand = g.demand;
    demand.insert("demandDetails".into(), Value::Array(g.details));
    Record {
        line: g.line,
        demand: kosh_platform::ci_json::from_value::<DemandInput>(Value::Object(demand))
            .map_err(|e| format!("not a demand: {e}")),
    }
}

impl Iterator for CsvDemands {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if let Some(bad) = self.pending_bad.take() {
            return Some(bad);
        }
        if self.finished {
            return None;
        }
        if let Err(why) = &self.columns {
            self.finished = true;
            return Some(Record {
                line: 1,
                demand: Err(why.clone()),
            });
        }
        loop {
            let row = match self.rows.next() {
                None => {
                    self.finished = true;
                    return self.open.take().map(finish);
                }
                Some(Err(e)) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    let bad = Record {
                        line,
                        demand: Err(format!("cannot read the CSV row: {e}")),
                    };
                    return Some(match self.open.take() {
                        // The demand gathered so far ends here; the bad row comes next.
                        Some(g) => {
                            self.pending_bad = Some(bad);
                            finish(g)
                        }
                        None => bad,
                    });
                }
                Some(Ok(row)) => row,
            };
            if row.iter().all(str::is_empty) {
                continue;
            }
            let line = row.position().map(|p| p.line()).unwrap_or(0);
            let key: Vec<String> = KEY_COLUMNS
                .iter()
                .map(|c| self.field(&row, c).to_string())
                .collect();
            match self.open.take() {
                Some(mut g) if g.key == key => {
                    g.details.push(self.detail(&row));
                    self.open = Some(g);
                }
                previous => {
                    let mut g = self.start(line, &row);
                    g.details.push(self.detail(&row));
                    self.open = Some(g);
                    if let Some(done) = previous {
                        return Some(finish(done));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(u64, bool)> {
        records(std::io::Cursor::new(text.as_bytes().to_vec()), Format::Csv)
            .map(|r| (r.line, r.demand.is_ok()))
            .collect()
    }

    const HEADER: &str = "tenantId,consumerCode,consumerType,businessService,taxPeriodFrom,taxPeriodTo,taxHeadMasterCode,taxAmount";

    #[test]
    fn csv_line_numbers_survive_blank_lines_crlf_and_quoted_newlines() {
        let text = format!(
            "{HEADER}\r\na,C1,T,PT,1,2,H,1\r\n\r\n\r\na,C2,T,PT,1,2,H,1\n\na,\"C\n3\",T,PT,1,2,H,1\na,C4,T,PT,1,2,H,1\n"
        );
        assert_eq!(
            lines(&text),
            vec![(2, true), (5, true), (7, true), (9, true)]
        );
    }

    #[test]
    fn csv_rows_of_one_demand_gather_and_the_header_is_checked() {
        let text =
            format!("{HEADER}\na,C1,T,PT,1,2,H1,1\na,C1,T,PT,1,2,H2,2\na,C2,T,PT,1,2,H1,1\n");
        let all: Vec<Record> =
            records(std::io::Cursor::new(text.into_bytes()), Format::Csv).collect();
        assert_eq!(all.len(), 2);
        let first = all[0].demand.as_ref().unwrap();
        assert_eq!(first.demand_details.as_ref().unwrap().len(), 2);
        assert_eq!(first.tax_period_from, Some(1));
        let bad = lines("tenantId,consumerCode\na,b\n");
        assert_eq!(bad, vec![(1, false)]);
    }

    #[test]
    fn json_lines_skip_blank_lines_and_number_the_rest() {
        let text = "{\"tenantId\":\"a\"}\n\n  \nnot json\n{\"CONSUMERCODE\":\"x\"}\n";
        let all: Vec<(u64, bool)> = records(
            std::io::Cursor::new(text.as_bytes().to_vec()),
            Format::JsonLines,
        )
        .map(|r| (r.line, r.demand.is_ok()))
        .collect();
        assert_eq!(all, vec![(1, true), (4, false), (5, true)]);
    }
}
