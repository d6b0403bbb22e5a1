//! A small dynamic-filter builder that emits `$N` placeholders for both engines.
//!
//! `sqlx::QueryBuilder` renders `?` for the `Any` driver, which PostgreSQL rejects, so list
//! calls with optional filters build their `WHERE` clause here instead.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Arguments};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
}

/// SQL text plus its arguments, built clause by clause.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    /// Starts with a fixed prefix (e.g. `SELECT ... FROM t WHERE 1=1`).
    pub fn new(prefix: &str) -> Self {
        Sql { text: prefix.to_string(), args: Vec::new() }
    }

    /// Appends raw SQL.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends ` AND col = $N` when `value` is present.
    pub fn and_eq(&mut self, col: &str, value: Option<Arg>) -> &mut Self {
        if let Some(v) = value {
            self.push(" AND ").push(col).push(" = ").bind(v);
        }
        self
    }

    /// The bound arguments, for `query_as_with` / `query_scalar_with`.
    pub fn query_args(&self) -> AnyArguments<'static> {
        let mut args = AnyArguments::default();
        for a in &self.args {
            // Adding an owned scalar to `AnyArguments` cannot fail.
            let _ = match a {
                Arg::Text(s) => args.add(s.clone()),
                Arg::Int(i) => args.add(*i),
                Arg::Bool(b) => args.add(*b as i64),
                Arg::Null => args.add(Option::<String>::None),
            };
        }
        args
    }

    /// Builds the sqlx query with all arguments bound.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
                Arg::Bool(b) => q.bind(*b as i64),
                Arg::Null => q.bind(Option::<String>::None),
            };
        }
        q
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}

impl From<bool> for Arg {
    fn from(b: bool) -> Self {
        Arg::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT * FROM t WHERE 1=1");
        sql.and_eq("a", Some("x".into())).and_eq("b", None).and_eq("c", Some(3i64.into()));
        assert_eq!(sql.text, "SELECT * FROM t WHERE 1=1 AND a = $1 AND c = $2");
        assert_eq!(sql.args.len(), 2);
    }
}
