//! Building SQL whose shape depends on the request (search criteria), with every value bound
//! as a numbered parameter (`$1`, `$2`, ...) that SQLite and PostgreSQL both read. Only
//! `&'static str` fragments can be pushed, so no request text ever becomes SQL.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

/// About how many parameters one multi-row statement should bind. sqlx binds SQLite
/// parameters by name and finds each name by walking SQLite's list of the statement's
/// parameters, so binding costs grow with the square of their number: at 18,000 parameters a
/// bulk insert spent 83% of its time there. A few hundred keep that negligible and still
/// spare most round trips to PostgreSQL.
pub const PARAMS_PER_STATEMENT: usize = 500;

/// Rows of `columns` values each that fit in one statement of [`PARAMS_PER_STATEMENT`].
pub fn rows_per_statement(columns: usize) -> usize {
    (PARAMS_PER_STATEMENT / columns.max(1)).max(1)
}

#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
    /// NULL, typed: PostgreSQL refuses a NULL text parameter for a BIGINT column.
    NullText,
    NullInt,
}

#[derive(Debug, Default, Clone)]
pub struct SqlBuilder {
    sql: String,
    args: Vec<Arg>,
}

impl SqlBuilder {
    pub fn new(start: &'static str) -> Self {
        SqlBuilder {
            sql: start.to_string(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }

    /// Binds a value and writes its placeholder.
    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Writes `(p1, p2, ...)` binding each value; `(NULL)` for none, which matches nothing.
    pub fn bind_list<T: Into<Arg> + Clone>(&mut self, values: &[T]) -> &mut Self {
        if values.is_empty() {
            self.sql.push_str("(NULL)");
            return self;
        }
        self.sql.push('(');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(value.clone());
        }
        self.sql.push(')');
        self
    }

    /// Pushes `column = CASE id WHEN $a THEN $b ... END`: one column of an UPDATE that sets
    /// many rows, each to its own value, keyed by the row's `id` (the caller restricts the
    /// rows with `WHERE ... id IN (...)`). One statement instead of one per row.
    pub fn set_by_id<K, V>(
        &mut self,
        column: &'static str,
        rows: impl IntoIterator<Item = (K, V)>,
    ) -> &mut Self
    where
        K: Into<Arg>,
        V: Into<Arg>,
    {
        self.push(column).push(" = CASE id");
        for (id, value) in rows {
            self.push(" WHEN ").bind(id).push(" THEN ").bind(value);
        }
        self.push(" END")
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    pub fn build(&self) -> Query<'_, Any, AnyArguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql.clone()));
        for arg in &self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s.clone()),
                Arg::Int(i) => query.bind(*i),
                Arg::NullText => query.bind(None::<String>),
                Arg::NullInt => query.bind(None::<i64>),
            };
        }
        query
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Text(s.clone())
    }
}

impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        s.map_or(Arg::NullText, Arg::Text)
    }
}

impl From<Option<i64>> for Arg {
    fn from(i: Option<i64>) -> Self {
        i.map_or(Arg::NullInt, Arg::Int)
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders() {
        let mut b = SqlBuilder::new("SELECT * FROM t WHERE a = ");
        b.bind("x")
            .push(" AND b IN ")
            .bind_list(&[1i64, 2])
            .push(" AND c IN ")
            .bind_list::<i64>(&[]);
        assert_eq!(
            b.sql(),
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) AND c IN (NULL)"
        );
    }
}
