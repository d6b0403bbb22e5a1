//! Reading JSON request bodies field by field: known fields typed strictly (a wrong type is a
//! 400 naming the field), the rest left in the map (Keystone extras, Glance properties).

use nimbus_core::Error;
use serde_json::{Map, Value};

/// Attributes a client may send but that are never stored as extras.
const IGNORED: &[&str] = &["id", "links", "options"];

/// The object under `key` in a JSON body.
pub fn entity(body: &[u8], key: &str) -> Result<Map<String, Value>, Error> {
    let v: Value = crate::error::parse_json(body)?;
    match v.get(key) {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Error::bad_request(format!("'{key}' must be a JSON object."))),
        None => Err(Error::bad_request(format!("The request body must contain a '{key}' object."))),
    }
}

/// Removes and returns a string field (absent or null: `None`; another type: 400).
pub fn take_str(m: &mut Map<String, Value>, field: &str) -> Result<Option<String>, Error> {
    match m.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::bad_request(format!("'{field}' must be a string."))),
    }
}

/// Like [`take_str`] but the field must be present.
pub fn require_str(m: &mut Map<String, Value>, field: &str) -> Result<String, Error> {
    take_str(m, field)?.ok_or_else(|| Error::bad_request(format!("'{field}' is required.")))
}

/// Removes and returns a boolean field.
pub fn take_bool(m: &mut Map<String, Value>, field: &str) -> Result<Option<bool>, Error> {
    match m.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(Error::bad_request(format!("'{field}' must be a boolean."))),
    }
}

/// Removes and returns a list of strings.
pub fn take_str_list(m: &mut Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, Error> {
    match m.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(Error::bad_request(format!("'{field}' must be a list of strings."))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::bad_request(format!("'{field}' must be a list of strings."))),
    }
}

/// What remains after the known fields were taken: the extra attributes.
pub fn extras(mut m: Map<String, Value>) -> Map<String, Value> {
    for k in IGNORED {
        m.remove(*k);
    }
    m
}

/// Keystone's boolean query values: `0`/`false` (any case) are false, everything else true.
pub fn query_bool(v: Option<&String>) -> Option<bool> {
    v.map(|s| !(s == "0" || s.eq_ignore_ascii_case("false")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_typed_and_extras_kept() {
        let mut m = entity(br#"{"user": {"name": "a", "enabled": false, "color": "red", "id": "x"}}"#, "user").unwrap();
        assert_eq!(require_str(&mut m, "name").unwrap(), "a");
        assert_eq!(take_bool(&mut m, "enabled").unwrap(), Some(false));
        let extra = extras(m);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra["color"], "red");
        let mut bad = entity(br#"{"user": {"name": 5}}"#, "user").unwrap();
        assert_eq!(require_str(&mut bad, "name").unwrap_err().status(), 400);
        assert!(entity(br#"{"users": {}}"#, "user").is_err());
        assert_eq!(query_bool(Some(&"False".to_string())), Some(false));
    }
}
