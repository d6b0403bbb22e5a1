//! Cinder's list parameters beyond `limit` and `marker`: `sort` (`key:dir,...`) or
//! `sort_key` + `sort_dir`, `offset`, and `limit=0` (an empty page).
//!
//! The store pages by creation time; a Cinder list that asks for another order or an offset
//! is ordered here over every matching row (a project's volumes or snapshots, at most
//! [`MAX_LIMIT`](nimbus_core::page::MAX_LIMIT) of them), then cut by marker, offset and limit.

use nimbus_core::page::PageRequest;
use nimbus_core::Error;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Whether an operator asks for every project's rows (`all_tenants`, a Python-spelled
/// boolean: `True`, `1`, `yes`...).
pub fn all_tenants(q: &HashMap<String, String>) -> bool {
    q.get("all_tenants").is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "t"))
}

/// A value a list is sorted by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue {
    Null,
    Int(i64),
    Text(String),
}

impl From<Option<String>> for SortValue {
    fn from(v: Option<String>) -> Self {
        v.map_or(SortValue::Null, SortValue::Text)
    }
}

/// How a Cinder list call asks for its rows.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// Sort keys with `true` for descending; empty: the store's order.
    pub sort: Vec<(String, bool)>,
    pub offset: usize,
    /// `limit=0`: nothing to return.
    pub empty: bool,
    pub page: PageRequest,
}

impl ListParams {
    /// Reads the parameters; sort keys must be among `keys` (`display_name` means `name`).
    pub fn parse(q: &HashMap<String, String>, keys: &[&str]) -> Result<Self, Error> {
        let mut sort = Vec::new();
        let pairs: Vec<(String, Option<String>)> = match (q.get("sort"), q.get("sort_key")) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_request("Invalid input received: give sort or sort_key, not both."));
            }
            (Some(s), None) => s
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| match p.split_once(':') {
                    Some((k, d)) => (k.trim().to_string(), Some(d.trim().to_string())),
                    None => (p.trim().to_string(), None),
                })
                .collect(),
            (None, Some(k)) => vec![(k.clone(), q.get("sort_dir").cloned())],
            (None, None) => vec![],
        };
        for (key, dir) in pairs {
            let key = if key == "display_name" { "name".to_string() } else { key };
            if !keys.contains(&key.as_str()) {
                return Err(Error::bad_request(format!("Invalid input received: invalid sort key {key:?}.")));
            }
            let desc = match dir.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("desc") => true,
                Some("asc") => false,
                Some(d) => return Err(Error::bad_request(format!("Invalid input received: invalid sort dir {d:?}."))),
            };
            sort.push((key, desc));
        }
        let offset = match q.get("offset") {
            None => 0,
            Some(o) => o
                .parse::<usize>()
                .map_err(|_| Error::bad_request(format!("Invalid input received: offset {o:?} is not a number.")))?,
        };
        let empty = q.get("limit").is_some_and(|l| l.trim() == "0");
        let limit = q.get("limit").map(String::as_str).filter(|_| !empty);
        let page = PageRequest::parse(limit, q.get("marker").map(String::as_str))?;
        Ok(ListParams { sort, offset, empty, page })
    }

    /// Whether the rows must be ordered and cut here rather than by the store.
    pub fn in_memory(&self) -> bool {
        !self.sort.is_empty() || self.offset > 0
    }

    /// Orders `rows` (all matching ones) and cuts the page: after the marker (which must be
    /// among them), skipping `offset`, at most `limit`.
    pub fn cut<T>(
        &self,
        mut rows: Vec<T>,
        id: impl Fn(&T) -> &str,
        value: impl Fn(&T, &str) -> SortValue,
    ) -> Result<Vec<T>, Error> {
        if self.empty {
            return Ok(Vec::new());
        }
        if !self.sort.is_empty() {
            rows.sort_by(|a, b| {
                for (key, desc) in &self.sort {
                    let o = value(a, key).cmp(&value(b, key));
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                id(b).cmp(id(a))
            });
        }
        let start = match &self.page.marker {
            Some(m) => {
                rows.iter().position(|r| id(r) == m).map(|p| p + 1).ok_or_else(|| Error::not_found("marker", m))?
            }
            None => 0,
        };
        let limit = self.page.effective_limit() as usize;
        Ok(rows.into_iter().skip(start + self.offset).take(limit).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sorts_cuts_and_refuses_unknown_keys() {
        let rows = vec![("a", 3), ("b", 1), ("c", 2), ("d", 5)];
        let p = ListParams::parse(&q(&[("sort", "size:asc"), ("offset", "1"), ("limit", "2")]), &["size"]).unwrap();
        let page = p.cut(rows.clone(), |r| r.0, |r, _| SortValue::Int(r.1)).unwrap();
        assert_eq!(page, vec![("c", 2), ("a", 3)]);
        let p =
            ListParams::parse(&q(&[("sort_key", "size"), ("sort_dir", "desc"), ("marker", "d")]), &["size"]).unwrap();
        assert_eq!(
            p.cut(rows.clone(), |r| r.0, |r, _| SortValue::Int(r.1)).unwrap(),
            vec![("a", 3), ("c", 2), ("b", 1)]
        );
        let p = ListParams::parse(&q(&[("limit", "0")]), &[]).unwrap();
        assert!(p.cut(rows, |r| r.0, |r, _| SortValue::Int(r.1)).unwrap().is_empty());
        assert!(ListParams::parse(&q(&[("sort_key", "invalid")]), &["size"]).is_err());
        assert!(ListParams::parse(&q(&[("sort", "size:sideways")]), &["size"]).is_err());
        assert!(ListParams::parse(&q(&[("offset", "-1")]), &["size"]).is_err());
    }
}
