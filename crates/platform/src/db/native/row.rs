//! Rows read by either driver, decoded by one body of code: [`Cells`] is implemented for
//! sqlx's `AnyRow` (reads inside write transactions) and for [`NativeRow`] (the native hot
//! reads), so a table's row decoder is written once, generic over where its row came from.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{Column, Row};

/// One value of a native row. kosh's portable schema stores only BIGINT/INTEGER and TEXT
/// (money in paise, times in epoch milliseconds, JSON as text), so these are all a read
/// can give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// A row from a native read: its values, by the position of their column names (shared by
/// every row of one statement).
#[derive(Debug, Clone)]
pub struct NativeRow {
    pub(super) names: Arc<[Box<str>]>,
    pub(super) cells: Vec<Cell>,
}

impl NativeRow {
    /// sqlx's rows as native ones: for the reads [`crate::Db::read_outside`] sends through
    /// sqlx when the native readers are off. A value is read as an integer, else as text,
    /// else as a boolean (0/1), as the native drivers read them.
    pub(crate) fn from_any(rows: &[AnyRow]) -> Result<Vec<NativeRow>, sqlx::Error> {
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let names: Arc<[Box<str>]> = first
            .columns()
            .iter()
            .map(|c| Box::from(c.name()))
            .collect();
        rows.iter()
            .map(|row| {
                let cells = (0..names.len())
                    .map(|i| {
                        if let Ok(n) = row.try_get::<Option<i64>, _>(i) {
                            Ok(n.map_or(Cell::Null, Cell::Int))
                        } else if let Ok(t) = row.try_get::<Option<String>, _>(i) {
                            Ok(t.map_or(Cell::Null, Cell::Text))
                        } else {
                            let b: Option<bool> = row.try_get(i)?;
                            Ok(b.map_or(Cell::Null, |b| Cell::Int(b.into())))
                        }
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                Ok(NativeRow {
                    names: names.clone(),
                    cells,
                })
            })
            .collect()
    }

    fn cell_of(&self, column: &str) -> Result<&Cell, sqlx::Error> {
        self.names
            .iter()
            .position(|name| &**name == column)
            .map(|i| &self.cells[i])
            .ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_string()))
    }
}

/// A row whose columns are read by name, as a `T` ([`FromCell`]).
pub trait Cells {
    fn cell<T: FromCell>(&self, column: &str) -> Result<T, sqlx::Error>;
}

/// A Rust value one column gives: text, a 64-bit integer, or either optional.
pub trait FromCell: Sized {
    fn from_any(row: &AnyRow, column: &str) -> Result<Self, sqlx::Error>;
    fn from_cell(cell: &Cell, column: &str) -> Result<Self, sqlx::Error>;
}

impl Cells for AnyRow {
    fn cell<T: FromCell>(&self, column: &str) -> Result<T, sqlx::Error> {
        T::from_any(self, column)
    }
}

impl Cells for NativeRow {
    fn cell<T: FromCell>(&self, column: &str) -> Result<T, sqlx::Error> {
        T::from_cell(self.cell_of(column)?, column)
    }
}

fn mismatch(column: &str, wanted: &str, found: &Cell) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("wanted {wanted}, found {found:?}").into(),
    }
}

impl FromCell for Option<String> {
    fn from_any(row: &AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get(column)
    }
    fn from_cell(cell: &Cell, column: &str) -> Result<Self, sqlx::Error> {
        match cell {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s.clone())),
            other => Err(mismatch(column, "text", other)),
        }
    }
}

impl FromCell for String {
    fn from_any(row: &AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get(column)
    }
    fn from_cell(cell: &Cell, column: &str) -> Result<Self, sqlx::Error> {
        Option::<String>::from_cell(cell, column)?.ok_or_else(|| mismatch(column, "text", cell))
    }
}

impl FromCell for Option<i64> {
    fn from_any(row: &AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get(column)
    }
    fn from_cell(cell: &Cell, column: &str) -> Result<Self, sqlx::Error> {
        match cell {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(*i)),
            other => Err(mismatch(column, "an integer", other)),
        }
    }
}

impl FromCell for i64 {
    fn from_any(row: &AnyRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get(column)
    }
    fn from_cell(cell: &Cell, column: &str) -> Result<Self, sqlx::Error> {
        Option::<i64>::from_cell(cell, column)?.ok_or_else(|| mismatch(column, "an integer", cell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> NativeRow {
        NativeRow {
            names: vec!["a".into(), "b".into(), "c".into()].into(),
            cells: vec![Cell::Int(7), Cell::Text("x".into()), Cell::Null],
        }
    }

    #[test]
    fn reads_by_name_with_nulls_and_types_checked() {
        let row = row();
        assert_eq!(row.cell::<i64>("a").unwrap(), 7);
        assert_eq!(row.cell::<String>("b").unwrap(), "x");
        assert_eq!(row.cell::<Option<String>>("c").unwrap(), None);
        assert_eq!(row.cell::<Option<i64>>("c").unwrap(), None);
        assert!(matches!(
            row.cell::<String>("c"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        assert!(matches!(
            row.cell::<i64>("b"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        assert!(matches!(
            row.cell::<i64>("nope"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
    }
}
