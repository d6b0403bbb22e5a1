//! Neutron's list parameters, applied to the views of every resource alike: filters on any
//! attribute (`name=a&name=b` matches either), `fields` (repeated) to keep some attributes,
//! `sort_key`/`sort_dir` (repeated, paired), and `limit`/`marker`/`page_reverse` with the
//! `<collection>_links` of the next and previous pages.

use nimbus_core::Error;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

/// Query keys that are not attribute filters.
const RESERVED: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "all_tenants",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// Whether an item's tags pass Neutron's tag filters: `tags` (all of them), `tags-any` (one
/// of them), `not-tags` (not all of them), `not-tags-any` (none of them); each value a
/// comma-separated list, repeated keys adding up.
fn tags_match(item: &Value, q: &[(String, String)]) -> bool {
    let have: Vec<&str> = item
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let wanted = |key: &str| -> Vec<&str> {
        values(q, key).iter().flat_map(|v| v.split(',')).filter(|t| !t.is_empty()).collect()
    };
    let (all, any, not_all, not_any) = (wanted("tags"), wanted("tags-any"), wanted("not-tags"), wanted("not-tags-any"));
    (all.is_empty() || all.iter().all(|t| have.contains(t)))
        && (any.is_empty() || any.iter().any(|t| have.contains(t)))
        && (not_all.is_empty() || !not_all.iter().all(|t| have.contains(t)))
        && (not_any.is_empty() || !not_any.iter().any(|t| have.contains(t)))
}

/// The query's pairs, in order, repeated keys kept.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// The values given for `key`.
pub fn values<'a>(q: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    q.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

/// Whether an attribute's value matches a filter value as Neutron compares them (booleans
/// in any case, numbers and strings by their text, lists by membership).
fn matches(v: &Value, want: &str) -> bool {
    match v {
        Value::Bool(b) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == want,
        Value::String(s) => s == want,
        Value::Null => want.is_empty() || want.eq_ignore_ascii_case("none") || want.eq_ignore_ascii_case("null"),
        Value::Array(a) => a.iter().any(|x| matches(x, want)),
        // `fixed_ips=ip_address=10.0.0.3` (or `subnet_id=`, `ip_address_substr=`): one
        // attribute of the object.
        Value::Object(o) => match want.split_once('=') {
            Some((k, v)) => match k.strip_suffix("_substr") {
                Some(base) => o.get(base).and_then(Value::as_str).is_some_and(|s| s.contains(v)),
                None => o.get(k).is_some_and(|x| matches(x, v)),
            },
            None => false,
        },
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Applies the query to `items` (full views with an `id`) and answers Neutron's list body
/// `{"<collection>": [...], "<collection>_links": [...]}`; `url` is the collection's URL
/// for the page links.
pub fn list(items: Vec<Value>, q: &[(String, String)], collection: &str, url: &str) -> Result<Value, Error> {
    // Filters: every non-reserved key naming an attribute.
    let mut filters: Vec<(&str, Vec<&str>)> = Vec::new();
    for (k, _) in q {
        if RESERVED.contains(&k.as_str()) || filters.iter().any(|(f, _)| f == k) {
            continue;
        }
        filters.push((k.as_str(), values(q, k)));
    }
    let mut rows: Vec<Value> = items
        .into_iter()
        .filter(|item| tags_match(item, q))
        .filter(|item| {
            filters.iter().all(|(k, wanted)| match item.get(*k) {
                Some(v) => wanted.iter().any(|w| matches(v, w)),
                // An attribute the resource does not have filters nothing (Neutron ignores it).
                None => true,
            })
        })
        .collect();
    // Sorting: paired sort_key / sort_dir; `id` breaks ties so pages are stable.
    let keys = values(q, "sort_key");
    let dirs = values(q, "sort_dir");
    if keys.len() < dirs.len() {
        return Err(Error::bad_request("The number of sort_keys and sort_dirs must be same."));
    }
    let mut order: Vec<(String, bool)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let desc = match dirs.get(i).copied().unwrap_or("asc") {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(Error::bad_request(format!(
                    "{other} is invalid value for sort_dir, valid values are 'asc' and 'desc'."
                )))
            }
        };
        if let Some(first) = rows.first() {
            if first.get(*k).is_none() {
                return Err(Error::bad_request(format!("{k} is an invalid attribute for sort_key.")));
            }
        }
        order.push((k.to_string(), desc));
    }
    if !order.iter().any(|(k, _)| k == "id") {
        let desc = order.first().is_some_and(|(_, d)| *d);
        order.push(("id".into(), desc));
    }
    rows.sort_by(|a, b| {
        for (k, desc) in &order {
            let o = compare(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    // Paging.
    let limit = match values(q, "limit").first() {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(Error::bad_request(format!("Invalid input for limit: '{l}' is not an integer."))),
        },
    };
    let reverse = values(q, "page_reverse").first().is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let marker = values(q, "marker").first().map(|m| m.to_string());
    let mut links = Vec::new();
    if let Some(limit) = limit {
        let at = match &marker {
            Some(m) => Some(
                rows.iter().position(|r| r["id"] == m.as_str()).ok_or_else(|| Error::not_found("marker", m.clone()))?,
            ),
            None => None,
        };
        let (page, more_after, more_before): (Vec<Value>, bool, bool) = if reverse {
            let end = at.unwrap_or(rows.len());
            let start = end.saturating_sub(limit);
            (rows[start..end].to_vec(), at.is_some(), start > 0)
        } else {
            let start = at.map_or(0, |i| i + 1);
            let end = (start + limit).min(rows.len());
            (rows[start..end].to_vec(), end < rows.len(), at.is_some())
        };
        let base: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k != "marker" && k != "page_reverse").cloned().collect();
        let link = |marker: &Value, reverse: bool| {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &base {
                ser.append_pair(k, v);
            }
            ser.append_pair("marker", marker.as_str().unwrap_or_default());
            if reverse {
                ser.append_pair("page_reverse", "True");
            }
            format!("{url}?{}", ser.finish())
        };
        if let (Some(last), true) = (page.last(), more_after) {
            links.push(json!({"rel": "next", "href": link(&last["id"], false)}));
        }
        if let (Some(first), true) = (page.first(), more_before) {
            links.push(json!({"rel": "previous", "href": link(&first["id"], true)}));
        }
        rows = page;
    }
    // Fields.
    let fields = values(q, "fields");
    if !fields.is_empty() {
        rows = rows
            .into_iter()
            .map(|r| {
                let o: Map<String, Value> = r
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| fields.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                Value::Object(o)
            })
            .collect();
    }
    let mut body = json!({ collection: rows });
    if !links.is_empty() {
        body[format!("{collection}_links")] = Value::Array(links);
    }
    Ok(body)
}

/// One resource with only the asked `fields`, if any.
pub fn project_fields(v: Value, q: &[(String, String)]) -> Value {
    let fields = values(q, "fields");
    if fields.is_empty() {
        return v;
    }
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(k, _)| fields.contains(&k.as_str())).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        pairs(Some(s))
    }

    #[test]
    fn filters_sorts_pages_and_projects() {
        let items: Vec<Value> = (1..=5)
            .map(
                |i| json!({"id": format!("id{i}"), "name": format!("n{}", 6 - i), "shared": i % 2 == 0, "tags": ["t"]}),
            )
            .collect();
        let b = list(items.clone(), &q("shared=True"), "networks", "u").unwrap();
        assert_eq!(b["networks"].as_array().unwrap().len(), 2);
        let b = list(items.clone(), &q("name=n1&name=n2"), "networks", "u").unwrap();
        assert_eq!(b["networks"].as_array().unwrap().len(), 2);
        let b = list(items.clone(), &q("sort_key=name&sort_dir=asc&fields=name"), "networks", "u").unwrap();
        assert_eq!(b["networks"][0], json!({"name": "n1"}));
        let b = list(items.clone(), &q("sort_key=name&sort_dir=asc&limit=2"), "networks", "u").unwrap();
        assert_eq!(b["networks"].as_array().unwrap().len(), 2);
        let next = b["networks_links"][0]["href"].as_str().unwrap();
        assert!(next.contains("marker=id4"), "{next}");
        let b = list(items.clone(), &q("sort_key=name&sort_dir=asc&limit=2&marker=id4"), "networks", "u").unwrap();
        assert_eq!(b["networks"][0]["name"], "n3");
        let b =
            list(items.clone(), &q("sort_key=name&sort_dir=asc&limit=2&marker=id2&page_reverse=True"), "networks", "u")
                .unwrap();
        let names: Vec<&str> = b["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["n2", "n3"]);
        assert!(list(items.clone(), &q("sort_key=bogus"), "networks", "u").is_err());
        assert!(list(items, &q("sort_key=name&sort_dir=sideways"), "networks", "u").is_err());
    }
}
