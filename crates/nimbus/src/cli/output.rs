//! How the CLI prints: tables for people, JSON (`-f json`) for scripts.

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde_json::Value;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// A value as a table cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Reads `a.b.c` out of a JSON value.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

pub struct Out {
    pub format: Format,
}

impl Out {
    /// A list: one row per item, the given (header, field path) columns.
    pub fn list(&self, items: &Value, columns: &[(&str, &str)]) {
        if self.format == Format::Json {
            println!("{}", serde_json::to_string_pretty(items).unwrap_or_default());
            return;
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        t.set_header(columns.iter().map(|(h, _)| *h));
        for item in items.as_array().into_iter().flatten() {
            t.add_row(columns.iter().map(|(_, p)| cell(at(item, p))));
        }
        println!("{t}");
    }

    /// One object: a Field / Value table of the given fields (all of them when empty).
    pub fn object(&self, v: &Value, fields: &[&str]) {
        if self.format == Format::Json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
            return;
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        t.set_header(["Field", "Value"]);
        let keys: Vec<String> = if fields.is_empty() {
            v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
        } else {
            fields.iter().map(|f| f.to_string()).collect()
        };
        for k in keys {
            t.add_row([k.clone(), cell(at(v, &k))]);
        }
        println!("{t}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_and_paths() {
        let v = json!({"a": {"b": 3}, "l": ["x", "y"], "n": null});
        assert_eq!(cell(at(&v, "a.b")), "3");
        assert_eq!(cell(&v["l"]), "x, y");
        assert_eq!(cell(&v["n"]), "");
        assert_eq!(cell(at(&v, "a.missing")), "");
    }
}
